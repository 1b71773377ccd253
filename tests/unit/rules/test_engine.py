"""Engine-level behaviour: merges, snapshot/restore, reload, priority, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.core.arrays import TrackView
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
    gone = eng.evaluate(T0 + 20, {"surface": empty("surface", T0 + 20), "air": empty("air", T0 + 20)})
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
                                   "icao24", "reason", "related_track_ids", "priority", "evidence")
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
