"""One alert per object through track fragmentation (fusion/rules/lineage.py), and identity history across fragments."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fusion.core.arrays import TrackView
from fusion.rules.behaviours import FirstFix
from fusion.rules.engine import AlertEvent, RuleEngine
from fusion.rules.scene import Scene
from fusion.rules.synthetic import FRAME, KN, empty, engine, rules, view

T0 = 1_700_013_600.0  # night at 75 W
M_PER_DEG = 111_195.0  # metres per degree of latitude on the mean sphere (enough for these tests)
CIRCLE = {"everywhere": False, "zones": [], "kinds": [], "circles": [{"lat": 15.0, "lon": -75.0, "radius_m": 20_000.0}],
          "satellite_dark_s": 0.0}


def fragments(n: int, life_s: float, gap_s: float, speed_mps: float, jump_m: float = 0.0, mmsi: list[int] | None = None,
              lat0: float = 15.0, end_s: float | None = None) -> tuple[float, Callable[[float], dict[str, TrackView]]]:
    """An object heading north at ``speed_mps`` whose track is deleted after ``life_s`` and re-initiated ``gap_s`` later
    (track ids 1..n), each new fragment ``jump_m`` north of where the object is. Returns (duration s, tick -> views)."""
    period = life_s + gap_s
    duration = n * period if end_s is None else end_s

    def make(t: float) -> dict[str, TrackView]:
        k, into = divmod(t - T0, period)
        if k >= n or into >= life_s:
            return {}
        lat = lat0 + (speed_mps * (t - T0) + jump_m * k) / M_PER_DEG
        ident = 0 if mmsi is None else mmsi[int(k)]
        born = T0 + k * period
        return {"surface": view("surface", t, [lat], [-75.0], [(0.0, speed_mps)], ids=[int(k) + 1], first_t=born,
                                mmsi=ident, last_ais_t=t if ident else np.nan)}
    return duration, make


def run(eng: RuleEngine, duration_s: float, make: Callable[[float], dict[str, TrackView]], dt: float = 5.0) -> list[AlertEvent]:
    out: list[AlertEvent] = []
    for k in range(int(duration_s / dt) + 1):
        t = T0 + k * dt
        out.extend(eng.evaluate(t, {"surface": empty("surface", t), "air": empty("air", t), **make(t)}))
    return out


def test_go_fast_fragmenting_into_five_tracks_raises_one_alert() -> None:
    duration, make = fragments(5, life_s=60.0, gap_s=10.0, speed_mps=40 * KN)
    ev = [e for e in run(engine(cfg=rules({"rules": {"go_fast": {}}})), duration + 60.0, make) if e.rule == "go_fast"]
    assert [e.state for e in ev if e.state != "updated"] == ["raised", "cleared"]
    assert len({e.alert_id for e in ev}) == 1
    assert ev[0].track_id == 1 and ev[-1].track_id == 5  # the alert moved along the fragments
    assert ev[-1].t >= T0 + duration - 10.0  # cleared only after the last fragment is lost


def test_a_new_track_far_from_the_lost_one_is_another_object() -> None:
    duration, make = fragments(2, life_s=60.0, gap_s=10.0, speed_mps=40 * KN, jump_m=5000.0)
    ev = [e for e in run(engine(cfg=rules({"rules": {"go_fast": {}}})), duration + 60.0, make) if e.rule == "go_fast"]
    raised = [e for e in ev if e.state == "raised"]
    assert [e.track_id for e in raised] == [1, 2] and len({e.alert_id for e in raised}) == 2


def test_identity_continues_far_away_and_a_different_identity_never_does() -> None:
    eng = engine(cfg=rules({"rules": {"go_fast": {}}}))
    pairs = []
    for k, (lat, ids, mmsi) in enumerate([(15.0, [1, 2], [366000001, 366000002]), (15.0, [], []),
                                          (15.3, [3, 4], [366000001, 366000003])]):
        t = T0 + 5.0 * k
        v = view("surface", t, [lat] * len(ids), [-75.0, -74.999][:len(ids)], [(0.0, 1.0)] * len(ids), ids=ids,
                 mmsi=mmsi, first_t=t, last_ais_t=t) if ids else empty("surface", t)
        eng.evaluate(t, {"surface": v, "air": empty("air", t)})
        pairs.append(eng.lineage.cols["track_id"].tolist())
    # 3 carries 1's MMSI 33 km away: it continues 1; 4 starts where 2 was but has another MMSI: 2 stays lost
    assert pairs[-1] == [2, 3, 4]


def test_noncoop_transit_quiet_on_a_fragment_of_an_ais_ship() -> None:
    """Issue 14 cause (b): an AIS ship beyond the shore receiver's range, its radar track re-initiated without AIS."""
    cfg = rules({"engine": {"ais_coverage": CIRCLE}, "rules": {"noncoop_transit": {"await_satellite": False}}})  # no satellite AIS
    lat0 = 15.5  # 55 km from the receiver: outside its coverage
    duration, with_ais = fragments(2, life_s=1200.0, gap_s=10.0, speed_mps=8 * KN, mmsi=[366000001, 0], lat0=lat0)
    assert [e for e in run(engine(cfg=cfg), duration, with_ais, dt=10.0) if e.rule == "noncoop_transit"] == []
    _, without = fragments(2, life_s=1200.0, gap_s=10.0, speed_mps=8 * KN, lat0=lat0)
    assert "raised" in [e.state for e in run(engine(cfg=cfg), duration, without, dt=10.0) if e.rule == "noncoop_transit"]


def test_net_speed_counts_from_the_settled_track() -> None:
    """The first fix is taken settle_s after the track's first measurement, not at its (tentative) birth."""
    first = FirstFix()
    out = []
    for k in range(10):
        t = T0 + 10.0 * k
        lat = 15.0 + (5000.0 if k == 0 else 10.0 * k * 5.0) / M_PER_DEG  # a 5 km initiation error at birth, then 5 m/s north
        v = view("surface", t, [lat], [-75.0], [(0.0, 5.0)], first_t=T0)
        out.append(first.observe(Scene.build(t, {"surface": v}, FRAME, ["confirmed", "coasting"],
                                             engine().geometry, engine().shore, 3600.0), settle_s=60.0)[0])
    assert np.isnan(out[:6]).all()  # not settled: no net speed
    assert np.isnan(out[6]) and np.allclose(out[7:], 5.0, rtol=0.02)  # from the fix at 60 s: 5 m/s, not the 5 km jump


def test_dark_vessel_time_in_coverage_carries_across_fragments() -> None:
    """Issue 14: a dark boat whose radar track fragments every 400 s never spent dark_s (900 s) on one track."""
    cfg = rules({"engine": {"ais_coverage": CIRCLE}, "rules": {"dark_vessel": {}}})
    duration, make = fragments(4, life_s=400.0, gap_s=10.0, speed_mps=8 * KN)
    ev = [e for e in run(engine(cfg=cfg), duration, make, dt=10.0) if e.rule == "dark_vessel"]
    raised = [e for e in ev if e.state == "raised"]
    assert len(raised) == 1 and raised[0].track_id == 3 and raised[0].evidence["dark_for_s"] >= 900.0
    # without the lineage (no handover) no single fragment reaches 900 s
    cut = rules({"engine": {"ais_coverage": CIRCLE, "handover_s": 0.0}, "rules": {"dark_vessel": {}}})
    assert [e for e in run(engine(cfg=cut), duration, make, dt=10.0) if e.rule == "dark_vessel"] == []
