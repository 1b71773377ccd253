"""Engine-level behaviour: merges, snapshot/restore, reload, priority, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.core.arrays import TrackView, fixed_covariance
from fusion.rules.engine import RuleEngine
from fusion.rules.synthetic import FRAME, KN, empty, engine, rules, view, zone_set

T0 = 1_700_013_600.0


def fast(t: float, ids: list[int]) -> dict[str, TrackView]:
    n = len(ids)
    return {"surface": view("surface", t, [15.0 + 0.1 * i for i in range(n)], [-75.0] * n, [(35 * KN, 0.0)] * n, ids=ids),
            "air": empty("air", t)}


def test_alert_follows_surviving_track_through_merge_and_keeps_its_id() -> None:
    eng = engine(cfg=rules({"rules": {"go_fast": {"min_on_s": 0.0}}}))
    raised = eng.evaluate(T0, fast(T0, [4]))
    assert [a.alert_id for a in raised] == ["go_fast-4-0"]
    eng.on_merge(np.array([[4, 9]]))
    after = eng.evaluate(T0 + 10, fast(T0 + 10, [9]))
    assert after == []  # same alert continues on track 9, no new raise, no clear
    assert eng.evaluate(T0 + 20, {"surface": empty("surface", T0 + 20), "air": empty("air", T0 + 20)}) == []  # waits handover_s
    gone = eng.evaluate(T0 + 50, {"surface": empty("surface", T0 + 50), "air": empty("air", T0 + 50)})
    assert [(a.alert_id, a.state, a.track_id) for a in gone] == [("go_fast-4-0", "cleared", 9)]


def test_merge_into_already_alerted_track_clears_the_duplicate() -> None:
    eng = engine(cfg=rules({"rules": {"go_fast": {"min_on_s": 0.0}}}))
    eng.evaluate(T0, fast(T0, [4, 9]))
    eng.on_merge(np.array([[4, 9]]))
    out = eng.evaluate(T0 + 10, fast(T0 + 10, [9]))
    assert [(a.alert_id, a.state, a.t) for a in out] == [("go_fast-9-1", "cleared", T0 + 10)]
    assert out[0].evidence["cleared_because"] == "merged into a track already alerted"


def test_snapshot_restore_continues_identically() -> None:
    cfg = rules({"rules": {"go_fast": {}}})
    a, b = engine(cfg=cfg), engine(cfg=cfg)
    for k in range(2):
        a.evaluate(T0 + 10 * k, fast(T0 + 10 * k, [1, 2]))
        b.evaluate(T0 + 10 * k, fast(T0 + 10 * k, [1, 2]))
    c = RuleEngine.restore(b.zones, cfg, FRAME, b.snapshot())
    for k in range(2, 6):
        t = T0 + 10 * k
        assert a.evaluate(t, fast(t, [1, 2])) == c.evaluate(t, fast(t, [1, 2]))


def test_snapshot_restore_keeps_handover_and_time_in_coverage() -> None:
    circle = {"everywhere": False, "zones": [], "kinds": [], "circles": [{"lat": 15.0, "lon": -75.0, "radius_m": 50_000.0}],
              "satellite_dark_s": 0.0}
    cfg = rules({"engine": {"ais_coverage": circle}, "rules": {"go_fast": {}, "dark_vessel": {"dark_s": 60.0}}})
    v = 40 * KN
    lon = lambda k: -75.0 + k * 5.0 * v / (111_320.0 * np.cos(np.radians(15.0)))

    def views(k: int, t: float) -> dict[str, TrackView]:
        slow = view("surface", t, [15.2], [-75.0 + k * 5e-4], [(5.0, 0.0)], ids=[50])  # dark, 9.7 kn
        go = ([] if 3 <= k < 5 else [view("surface", t, [15.0], [lon(k)], [(v, 0.0)], ids=[1 if k < 3 else 2],
                                          first_t=T0 if k < 3 else T0 + 25.0)])
        vs = [slow, *go]
        cols = {f: (np.concatenate([getattr(x, f) for x in vs]) if isinstance(getattr(vs[0], f), np.ndarray) else getattr(vs[0], f))
                for f in TrackView.__dataclass_fields__}
        cols["covariance"] = fixed_covariance(np.concatenate([x.P for x in vs]))
        return {"surface": TrackView(**cols),
                "air": empty("air", t)}

    a, b = engine(cfg=cfg), engine(cfg=cfg)
    for k in range(4):  # track 1 fast for 10 s, lost at tick 3: the snapshot holds its run and track 50's time
        a.evaluate(T0 + 5 * k, views(k, T0 + 5 * k))
        b.evaluate(T0 + 5 * k, views(k, T0 + 5 * k))
    c = RuleEngine.restore(b.zones, cfg, FRAME, b.snapshot())
    out_a, out_c = [], []
    for k in range(4, 16):
        t = T0 + 5 * k
        out_a += a.evaluate(t, views(k, t))
        out_c += c.evaluate(t, views(k, t))
    assert out_a == out_c
    assert [(e.rule, e.track_id, e.t - T0) for e in out_c] == [("go_fast", 2, 35.0), ("dark_vessel", 50, 60.0)]
    # a snapshot from before these memories restores with none accumulated
    old = {k: v for k, v in b.snapshot().items() if not k.startswith("fast.") and k not in ("first_fix.seen_t", "first_fix.covered_s")}
    d = RuleEngine.restore(b.zones, cfg, FRAME, old)
    assert d.evaluate(T0 + 20, views(4, T0 + 20)) == []


def test_snapshot_restore_keeps_queued_merge_events() -> None:
    """A merge queues the duplicate's clear for the next tick; a checkpoint taken in between must keep it."""
    import json

    cfg = rules({"rules": {"go_fast": {"min_on_s": 0.0}}})
    a, b = engine(cfg=cfg), engine(cfg=cfg)
    for e in (a, b):
        e.evaluate(T0, fast(T0, [4, 9]))
        e.on_merge(np.array([[4, 9]]))
    snap = b.snapshot()
    meta = json.loads(json.dumps({k: v for k, v in snap.items() if not isinstance(v, np.ndarray)}))  # as fusion/checkpoint.py
    c = RuleEngine.restore(b.zones, cfg, FRAME, {**{k: v for k, v in snap.items() if isinstance(v, np.ndarray)}, **meta})
    out_a, out_c = a.evaluate(T0 + 10, fast(T0 + 10, [9])), c.evaluate(T0 + 10, fast(T0 + 10, [9]))
    assert out_a == out_c
    assert [(x.alert_id, x.state, x.track_id, x.t) for x in out_c] == [("go_fast-9-1", "cleared", 9, T0 + 10)]
    assert out_c[0].evidence == {"duration_s": 10.0, "cleared_because": "merged into a track already alerted"}
    # the surviving alert keeps following track 9 after the restart: no new raise, cleared when it goes
    assert c.evaluate(T0 + 20, {"surface": empty("surface", T0 + 20), "air": empty("air", T0 + 20)}) == []  # waits handover_s
    gone = c.evaluate(T0 + 50, {"surface": empty("surface", T0 + 50), "air": empty("air", T0 + 50)})
    assert [(x.alert_id, x.state, x.track_id) for x in gone] == [("go_fast-4-0", "cleared", 9)]
    # snapshots from before the queue restore with nothing queued
    old = {k: v for k, v in snap.items() if k != "queued"}
    assert RuleEngine.restore(b.zones, cfg, FRAME, old).evaluate(T0 + 10, fast(T0 + 10, [9])) == []


def test_reload_takes_only_a_validated_config_and_disabling_clears() -> None:
    eng = engine(cfg=rules({"rules": {"go_fast": {"min_on_s": 0.0}}}))
    assert len(eng.evaluate(T0, fast(T0, [1]))) == 1
    with pytest.raises(TypeError, match="RulesConfig"):
        eng.reload({"rules": {}})  # type: ignore[arg-type]
    eng.reload(rules({"rules": {"go_fast": {"min_on_s": 0.0, "min_off_s": 0.0, "enabled": False}}}))
    out = eng.evaluate(T0 + 10, fast(T0 + 10, [1]))
    assert [(a.rule, a.state) for a in out] == [("go_fast", "cleared")]


def test_event_fields_in_design_order_and_json_types() -> None:
    eng = engine(cfg=rules({"rules": {"go_fast": {"min_on_s": 0.0}}}))
    a = eng.evaluate(T0, fast(T0, [1]))[0]
    assert a.__struct_fields__ == ("t", "alert_id", "rule", "severity", "state", "track_id", "lat", "lon", "zone", "mmsi",
                                   "icao24", "reason", "related_track_ids", "priority", "evidence",
                                   # identity (stamped by the pipeline) and operator actions: added at the end
                                   "name", "callsign", "ship_type", "ship_type_text", "flag", "country", "ops",
                                   # the calibrated score (fusion.rules.calibration): added at the end
                                   "score", "low_score")
    import msgspec

    assert b"NaN" not in msgspec.json.encode(a)


def test_bad_track_ids_and_merge_shape_are_refused() -> None:
    eng = engine(cfg=rules({"rules": {"go_fast": {}}}))
    with pytest.raises(ValueError, match=r"track_id must be in \[0, "):
        eng.evaluate(T0, {"surface": view("surface", T0, [15.0], [-75.0], [(1.0, 0.0)], ids=[-3])})
    with pytest.raises(ValueError, match=r"merged must be \(K, 2\)"):
        eng.on_merge(np.array([1, 2, 3]))


def test_zone_set_membership_edge_counts_as_inside() -> None:
    from fusion.rules.synthetic import box

    zs = zone_set(box("b", "eez", -75.0, 15.0, -74.0, 16.0))
    rows, zones = zs.covering(np.array([15.0, 15.5, 14.999]), np.array([-74.5, -75.0, -74.5]))
    assert rows.tolist() == [0, 1] and zones.tolist() == [0, 0]
