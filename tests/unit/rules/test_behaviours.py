"""One test group per rule: TrackView arrays built directly, engine stepped tick by tick."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fusion.core.arrays import COASTING, TENTATIVE, TrackView
from fusion.rules.engine import AlertEvent, RuleEngine
from fusion.rules.reporting import AisReporting, ReportingArrays
from fusion.rules.synthetic import FRAME, KN, box, empty, engine, rules, view, zone_set
from sensors.reports import AisPosition

T0 = 1_700_013_600.0  # 2023-11-15 02:00 UTC: 21:00 local solar time at 75 W, night
DAY = 1_700_067_600.0  # 2023-11-15 17:00 UTC: about local noon at 75 W


def run(eng: RuleEngine, ticks: int, make: Callable[[int, float], dict[str, TrackView]], t0: float = T0,
        dt: float = 10.0, reporting: ReportingArrays | None = None) -> list[AlertEvent]:
    """Evaluate ticks and collect every event."""
    out: list[AlertEvent] = []
    for k in range(ticks):
        t = t0 + k * dt
        views = {"surface": empty("surface", t), "air": empty("air", t), **make(k, t)}
        out.extend(eng.evaluate(t, views, reporting=reporting))
    return out


def heard(mmsi: int, times: list[float], sog_mps: float, msg_type: int = 1) -> ReportingArrays:
    """The AIS reporting table after position reports of ``mmsi`` at ``times``, and of a class B neighbour heard every
    30 s until T0 + 2 h (the receiver keeps hearing someone: ``fusion.rules.reporting.silence``)."""
    table = AisReporting()
    reports = [AisPosition(t=t, source="rx", mmsi=mmsi, lat=15.0, lon=-75.0, sog_mps=sog_mps, msg_type=msg_type) for t in times]
    reports += [AisPosition(t=t, source="rx", mmsi=1, lat=15.0, lon=-75.0, sog_mps=5.0, msg_type=18)
                for t in np.arange(T0 - 600.0, T0 + 7200.0, 30.0).tolist()]
    table.add(sorted(reports, key=lambda r: r.t))
    return table.arrays()


# class A at 5 m/s (9.7 kn, reporting every 10 s) heard at every report for 200 s before T0: its silence limit is 60 s
UNDERWAY = heard(367000002, [T0 - 200.0 + 10.0 * i for i in range(21)], 5.0)


def states(events: list[AlertEvent], rule: str) -> list[str]:
    return [e.state for e in events if e.rule == rule]


def surface(t: float, lat: float, lon: float, vel: tuple[float, float], **kw: object) -> dict[str, TrackView]:
    return {"surface": view("surface", t, [lat], [lon], [vel], **kw)}


def along(t: float, vel: tuple[float, float], since: float = T0, lat: float = 15.0, lon: float = -75.0) -> tuple[float, float]:
    """(lat, lon) at t of a boat that left (lat, lon) at ``since`` at the true (east, north) velocity ``vel`` m/s."""
    e, n = FRAME.to_local(np.array([lat]), np.array([lon]))
    k = FRAME.scale(np.array([lat]), np.array([lon]))  # local-frame metres per true metre
    la, lo = FRAME.to_geodetic(e + vel[0] * k * (t - since), n + vel[1] * k * (t - since))
    return float(la[0]), float(lo[0])


def cruise(t: float, vel: tuple[float, float], since: float = T0, **kw: object) -> dict[str, TrackView]:
    """A surface track at ``vel`` m/s where it has come to since ``since`` from 15 N 75 W (go_fast vouches for a
    speed only when the track's positions bear it out)."""
    return surface(t, *along(t, vel, since), vel, **kw)


# go_fast -------------------------------------------------------------------------------------------------

def test_go_fast_raises_once_then_clears_below_clear_speed() -> None:
    eng = engine(cfg=rules({"rules": {"go_fast": {}}}))
    ev = run(eng, 40, lambda k, t: cruise(t, (35 * KN if k < 20 else 10 * KN, 0.0)))
    assert states(ev, "go_fast") == ["raised", "cleared"]
    raised = ev[0]
    assert raised.t == T0 + 20.0  # min_on_s = 20
    assert raised.mmsi is None and raised.track_id == 1 and raised.evidence["speed_kn"] == pytest.approx(35.0, abs=0.01)
    assert "35.0 kn" in raised.reason and "no AIS identity" in raised.reason
    assert ev[1].t == T0 + 200.0 + 120.0  # below clear speed from tick 20, min_off_s = 120


def test_go_fast_min_on_counts_evidence_time_not_prediction() -> None:
    # 1 s ticks; the track is measured every 3 s, at T0 - 0.5 + 3k: the hold starts at the measurement the
    # first tick saw (T0 - 0.5) and completes at the first measurement 20 s later (T0 + 20.5), seen at T0 + 21
    def measured(k: int, t: float) -> dict[str, TrackView]:
        return cruise(t, (35 * KN, 0.0), last_t=T0 - 0.5 + 3.0 * ((k + 0.5) // 3))

    ev = run(engine(cfg=rules({"rules": {"go_fast": {}}})), 30, measured, dt=1.0)
    assert [(e.state, e.t - T0, e.evidence["last_update_t"] - T0) for e in ev] == [("raised", 21.0, 20.5)]
    # a track coasting on its prediction (no measurement after the first tick) never completes the hold
    coasting = run(engine(cfg=rules({"rules": {"go_fast": {}}})), 60, lambda k, t: surface(t, 15.0, -75.0, (35 * KN, 0.0),
                                                                                          last_t=T0 - 0.5), dt=1.0)
    assert coasting == []


def _fragments(offset_deg: float) -> Callable[[int, float], dict[str, TrackView]]:
    """A 40 kn go-fast whose track 1 is lost after tick 2 and re-initiated as track 2 at tick 5 (5 s ticks),
    ``offset_deg`` north of where track 1 would be."""
    v = 40 * KN
    lon = lambda k: -75.0 + k * 5.0 * v / (111_320.0 * np.cos(np.radians(15.0)))

    def make(k: int, t: float) -> dict[str, TrackView]:
        if k <= 2:
            return surface(t, 15.0, lon(k), (v, 0.0), ids=[1], first_t=T0)
        if k < 5:
            return {}
        return surface(t, 15.0 + offset_deg, lon(k), (v, 0.0), ids=[2], first_t=T0 + 25.0)
    return make


def test_go_fast_min_on_counts_across_a_handed_over_fragment() -> None:
    eng = engine(cfg=rules({"rules": {"go_fast": {}}}))
    ev = run(eng, 12, _fragments(0.0), dt=5.0)
    # track 1 fast for 10 s (ticks 0-2), lost; track 2 starts at its predicted position: 10 s more is enough
    assert [(e.state, e.track_id, e.t - T0) for e in ev] == [("raised", 2, 35.0)]
    assert ev[0].evidence["handover_s"] == pytest.approx(10.0)


def test_go_fast_no_handover_from_a_track_lost_far_away() -> None:
    eng = engine(cfg=rules({"rules": {"go_fast": {}}}))
    ev = run(eng, 12, _fragments(0.05), dt=5.0)  # 5.5 km off the predicted position: a full 20 s on its own
    assert [(e.state, e.track_id, e.t - T0) for e in ev] == [("raised", 2, 45.0)]


def test_go_fast_with_fresh_ais_identity_is_quiet_by_day_and_in_the_open() -> None:
    eng = engine(cfg=rules({"rules": {"go_fast": {}}}))
    ev = run(eng, 20, lambda k, t: surface(t, 15.0, -75.0, (35 * KN, 0.0), mmsi=367000001, last_ais_t=t - 5.0))
    assert ev == []


@pytest.mark.parametrize(("ais_age_s", "raised"), [(590.0, False), (610.0, True), (3600.0, True)])
def test_go_fast_with_a_stale_ais_identity_raises(ais_age_s: float, raised: bool) -> None:
    # by day, in the open: only the identity's age (ais_stale_s = 600 s) decides
    eng = engine(cfg=rules({"rules": {"go_fast": {}}}))
    ev = run(eng, 20, lambda k, t: cruise(t, (35 * KN, 0.0), DAY, mmsi=367000001, last_ais_t=t - ais_age_s), t0=DAY)
    assert states(ev, "go_fast") == (["raised"] if raised else [])
    if raised:
        assert ev[0].mmsi == 367000001 and ev[0].evidence["no_ais_identity"] == 1.0
        assert ev[0].evidence["ais_age_s"] == pytest.approx(ais_age_s)


def test_go_fast_identified_in_corridor_at_night_raises_but_not_by_day() -> None:
    zones = zone_set(box("corr", "transit_corridor", -76.0, 14.0, -74.0, 16.0))
    make = lambda since: lambda k, t: cruise(t, (35 * KN, 0.0), since, mmsi=367000001, last_ais_t=t - 5.0)
    night = run(engine(zones, rules({"rules": {"go_fast": {}}})), 10, make(T0), t0=T0)
    day = run(engine(zones, rules({"rules": {"go_fast": {}}})), 10, make(DAY), t0=DAY)
    assert states(night, "go_fast") == ["raised"] and night[0].evidence["night"] == 1.0
    assert day == []


def test_go_fast_hovering_at_threshold_does_not_flap() -> None:
    eng = engine(cfg=rules({"rules": {"go_fast": {}}}))
    speeds = 33.0 + 2.0 * (np.arange(100) % 2)  # 33, 35, 33, ... kn around the 34 kn threshold, 34 kn over the ground
    ev = run(eng, 100, lambda k, t: surface(t, *along(t, (34 * KN, 0.0)), (speeds[k] * KN, 0.0)))
    assert states(ev, "go_fast") == ["raised"]


def test_tentative_tracks_raise_nothing_and_coasting_holds() -> None:
    cfg = rules({"rules": {"go_fast": {}}})
    assert run(engine(cfg=cfg), 10, lambda k, t: cruise(t, (35 * KN, 0.0), status=TENTATIVE)) == []
    ev = run(engine(cfg=cfg), 30, lambda k, t: cruise(t, (35 * KN, 0.0), status=COASTING if k > 5 else 1))
    assert states(ev, "go_fast") == ["raised"]


def test_deleted_track_clears_its_alert_when_no_track_continues_it() -> None:
    """Its alert waits [engine] handover_s (30 s) for a successor track (fusion.rules.lineage), then clears."""
    eng = engine(cfg=rules({"rules": {"go_fast": {}}}))
    ev = run(eng, 12, lambda k, t: cruise(t, (35 * KN, 0.0)) if k < 6 else {})
    assert states(ev, "go_fast") == ["raised", "cleared"]
    assert ev[1].t == T0 + 60.0 + 30.0 and ev[1].evidence["cleared_because"] == "track deleted"
    assert len(eng.books["go_fast"]) == 0  # state of deleted tracks dropped


# zones -------------------------------------------------------------------------------------------------

def test_zone_entry_with_direction_and_exit() -> None:
    zones = zone_set(box("nogo", "exclusion", -75.0, 15.0, -74.0, 16.0))
    eng = engine(zones, rules({"rules": {"zone_entry": {}}}))
    lons = np.concatenate([np.linspace(-75.1, -74.9, 20), np.linspace(-74.9, -75.2, 30)])
    ev = run(eng, 50, lambda k, t: surface(t, 15.5, lons[k], (10 * KN if k < 20 else -10 * KN, 0.0)))
    assert states(ev, "zone_entry") == ["raised", "cleared"]
    assert ev[0].zone == "nogo" and "course 90 deg" in ev[0].reason
    assert ev[1].reason.startswith("left zone nogo on course 270 deg")


def test_zone_dwell_uses_per_kind_override() -> None:
    zones = zone_set(box("beach", "landing_zone", -75.0, 15.0, -74.9, 15.1), box("nogo", "exclusion", -74.0, 15.0, -73.0, 16.0))
    cfg = rules({"rules": {"zone_dwell": {"dwell_s": 900.0, "by_kind": {"landing_zone": {"dwell_s": 120.0}}}}})
    ev = run(engine(zones, cfg), 30, lambda k, t: {"surface": view("surface", t, [15.05, 15.5], [-74.95, -73.5], [(0.5, 0.0)] * 2)})
    raised = [e for e in ev if e.state == "raised"]
    assert [(e.zone, e.t - T0) for e in raised] == [("beach", 120.0)]


def test_zone_schedule_gates_membership() -> None:
    zones = zone_set(box("night-only", "exclusion", -75.0, 15.0, -74.0, 16.0, schedule=[{"start": "20:00", "end": "04:00"}]))
    cfg = rules({"rules": {"zone_entry": {}}})
    assert states(run(engine(zones, cfg), 3, lambda k, t: surface(t, 15.5, -74.5, (1.0, 0.0)), t0=T0), "zone_entry") == ["raised"]
    assert run(engine(zones, cfg), 3, lambda k, t: surface(t, 15.5, -74.5, (1.0, 0.0)), t0=DAY) == []


# dark vessel, AIS gap, spoofing ---------------------------------------------------------------------------

CIRCLE = {"everywhere": False, "zones": [], "kinds": [], "circles": [{"lat": 15.0, "lon": -75.0, "radius_m": 50_000.0}],
          "satellite_dark_s": 0.0}


def _east(lat: float, k: int, start: float = -75.0) -> float:
    return start + k * 50.0 / (111_320.0 * np.cos(np.radians(lat)))  # 5 m/s east, 10 s ticks


def test_dark_vessel_after_dark_s_inside_receiver_circle_only() -> None:
    cfg = rules({"engine": {"ais_coverage": CIRCLE}, "rules": {"dark_vessel": {"dark_s": 600.0}}})
    # an old track (first_t an hour ago) counts only the time the engine saw it inside coverage
    inside = run(engine(cfg=cfg), 70, lambda k, t: surface(t, 15.1, _east(15.1, k), (5.0, 0.0)))
    outside = run(engine(cfg=cfg), 200, lambda k, t: surface(t, 16.0, _east(16.0, k), (5.0, 0.0)))
    assert [(e.state, e.t - T0) for e in inside] == [("raised", 600.0)]
    assert inside[0].evidence["dark_for_s"] == pytest.approx(600.0) and "after 10 min inside AIS coverage" in inside[0].reason
    assert outside == []


@pytest.mark.parametrize(("rcs_dbsm", "looks", "raised", "said"), [
    (7.0, 50, False, None),  # a yacht's RCS: a boat below the AIS carriage size
    (19.4, 50, False, None),  # a purse seiner's
    (22.0, 50, True, "radar cross-section 22.0 dBsm"),  # a 26 m hull: a fishing vessel that flag states expect to carry AIS
    (31.0, 50, True, "radar cross-section 31.0 dBsm"),  # a 40 m hull: SOLAS size
    (-5.0, 50, True, "radar cross-section -5.0 dBsm (a low-observable hull)"),  # a semi-submersible: raised on its size (below)
    (7.0, 9, False, None),  # too few looks: its size is being measured, it waits for rcs_min_looks
    (np.nan, 0, True, None),  # no estimate (a radar without SNR): the rule as before
])
def test_dark_vessel_size_evidence(rcs_dbsm: float, looks: int, raised: bool, said: str | None) -> None:
    cfg = rules({"engine": {"ais_coverage": CIRCLE}, "rules": {"dark_vessel": {"dark_s": 600.0}}})
    ev = run(engine(cfg=cfg), 70, lambda k, t: surface(t, 15.1, _east(15.1, k), (5.0, 0.0), rcs_dbsm=rcs_dbsm, rcs_looks=looks))
    hull = rcs_dbsm < 3.0 and looks >= 10  # a low-observable hull needs no dark_s: its net speed over 120 s (test_low_observable)
    assert [(e.state, e.t - T0) for e in ev] == ([("raised", 120.0 if hull else 600.0)] if raised else [])
    if raised:
        assert (said in ev[0].reason) if said else "radar cross-section" not in ev[0].reason
        assert ev[0].evidence["rcs_dbsm"] == (None if np.isnan(rcs_dbsm) else pytest.approx(rcs_dbsm))  # NaN: null


def test_dark_vessel_not_for_planing_speeds() -> None:
    cfg = rules({"engine": {"ais_coverage": CIRCLE}, "rules": {"dark_vessel": {"dark_s": 600.0}}})
    v = 26 * KN  # a pleasure craft planing at 26 kn: needs no AIS; faster boats are go_fast's
    lon = lambda k: -75.3 + k * 10.0 * v / (111_320.0 * np.cos(np.radians(15.1)))
    assert run(engine(cfg=cfg), 70, lambda k, t: surface(t, 15.1, lon(k), (v, 0.0))) == []


def test_dark_vessel_counts_only_time_inside_coverage_held_by_radar() -> None:
    cfg = rules({"engine": {"ais_coverage": CIRCLE}, "rules": {"dark_vessel": {"dark_s": 600.0}}})
    # from -75.3 (33 km west of the receiver, inside); ticks 0-29 coasting (no radar update for over
    # radar_fresh_s): not counted; from tick 30 radar holds it (the step into tick 30 counts): raised 590 s later.
    def make(k: int, t: float) -> dict[str, TrackView]:
        noncoop = T0 - 1000.0 if k < 30 else t
        return surface(t, 15.1, _east(15.1, k, -75.3), (5.0, 0.0), last_noncoop_t=noncoop)

    ev = run(engine(cfg=cfg), 100, make)
    assert [(e.state, e.t - T0) for e in ev] == [("raised", 300.0 + 590.0)]


def test_dark_vessel_time_outside_coverage_does_not_count() -> None:
    cfg = rules({"engine": {"ais_coverage": CIRCLE}, "rules": {"dark_vessel": {"dark_s": 600.0}}})
    # 400 s outside (16.0 N), then 400 s inside (15.1 N): 400 s in coverage < 600 s, no alert
    ev = run(engine(cfg=cfg), 80, lambda k, t: surface(t, 16.0 if k < 40 else 15.1, _east(15.1, k), (5.0, 0.0)))
    assert ev == []


def test_dark_vessel_anywhere_after_satellite_dark_s_when_satellite_ais_is_fused() -> None:
    sat = {**CIRCLE, "circles": [], "satellite_dark_s": 3000.0}
    cfg = rules({"engine": {"ais_coverage": sat}, "rules": {"dark_vessel": {"dark_s": 600.0}}})
    ev = run(engine(cfg=cfg), 20, lambda k, t: surface(t, 16.0, _east(16.0, k), (5.0, 0.0), first_t=T0 - 2950.0))
    assert [(e.state, e.t - T0) for e in ev] == [("raised", 50.0)]
    none = rules({"engine": {"ais_coverage": {**sat, "satellite_dark_s": 0.0}}, "rules": {"dark_vessel": {"dark_s": 600.0}}})
    assert run(engine(cfg=none), 20, lambda k, t: surface(t, 16.0, _east(16.0, k), (5.0, 0.0), first_t=T0 - 2950.0)) == []


def test_ais_coverage_of_a_sensor_set() -> None:
    from fusion.rules.config import ais_coverage

    cov = ais_coverage([(12.5, -81.7, 74_000.0)], [(2700.0, 600.0, 60.0, 900.0)], 30.0)
    assert not cov.everywhere and [(c.lat, c.lon, c.radius_m) for c in cov.circles] == [(12.5, -81.7, 74_000.0)]
    assert cov.satellite_dark_s == 0.0  # reports up to 900 s late never reach a track under a 30 s lag
    assert ais_coverage([], [(2700.0, 600.0, 5.0, 20.0), (5400.0, 600.0, 5.0, 20.0)], 30.0).satellite_dark_s == 3320.0


def test_ais_gap_only_inside_coverage() -> None:
    cfg = rules({"engine": {"ais_coverage": CIRCLE}, "rules": {"ais_gap": {}}})
    silent = lambda lat: lambda k, t: surface(t, lat, -75.0, (5.0, 0.0), mmsi=367000002, last_ais_t=T0)
    inside = run(engine(cfg=cfg), 30, silent(15.0), reporting=UNDERWAY)  # where UNDERWAY was heard (reception map)
    assert (inside[0].state, inside[0].t - T0) == ("raised", 60.0)
    assert {e.state for e in inside[1:]} <= {"updated"}  # the evidence strengthens as the silence grows
    assert run(engine(cfg=cfg), 100, silent(16.0), reporting=UNDERWAY) == []  # left coverage: silence is expected


def test_ais_gap_while_radar_holds_then_clears_when_ais_returns() -> None:
    eng = engine(cfg=rules({"rules": {"ais_gap": {}}}))
    last_ais = lambda k, t: T0 if k < 25 else t
    ev = run(eng, 45, lambda k, t: surface(t, 15.0, -75.0, (5.0, 0.0), mmsi=367000002, last_ais_t=last_ais(k, t)),
             reporting=UNDERWAY)
    got = states(ev, "ais_gap")
    assert got[0] == "raised" and got[-1] == "cleared" and set(got[1:-1]) <= {"updated"}
    assert ev[0].t == T0 + 60.0 and ev[0].mmsi == 367000002 and "AIS silent for 1.0 min (6 reports of 10 s missed" in ev[0].reason


def test_ais_gap_no_alert_when_radar_is_also_silent() -> None:
    eng = engine(cfg=rules({"rules": {"ais_gap": {}}}))
    ev = run(eng, 80, lambda k, t: surface(t, 15.0, -75.0, (5.0, 0.0), mmsi=367000002, last_ais_t=T0, last_noncoop_t=T0))
    assert ev == []


def test_ais_reappearing_out_of_reach_is_a_jump() -> None:
    eng = engine(cfg=rules({"rules": {"ais_gap": {"radar_fresh_s": 1.0}}}))

    def make(k: int, t: float) -> dict[str, TrackView]:
        if k < 3:
            return surface(t, 15.0, -75.0, (4.0, 0.0), mmsi=5, last_ais_t=t, last_noncoop_t=np.nan)
        if k < 70:  # coasting without AIS or radar for ~11 min
            return surface(t, 15.0, -75.0, (4.0, 0.0), mmsi=5, last_ais_t=T0 + 20.0, last_noncoop_t=np.nan)
        return surface(t, 15.5, -75.0, (4.0, 0.0), mmsi=5, last_ais_t=t, last_noncoop_t=np.nan)  # 55 km away

    ev = run(eng, 75, make, reporting=heard(5, [T0 - 100.0 + 10.0 * i for i in range(11)], 2.0))  # 3.9 kn: every 10 s; the track reads 7.8 kn (not stopped)
    assert states(ev, "ais_gap") == ["raised"]
    assert ev[0].evidence["jump_m"] > ev[0].evidence["reach_m"] and "reappeared" in ev[0].reason


def test_ais_spoofing_follows_the_tracker_flag() -> None:
    eng = engine(cfg=rules({"rules": {"ais_spoofing": {"min_off_s": 30.0}}}))
    ev = run(eng, 20, lambda k, t: surface(t, 15.0, -75.0, (5.0, 0.0), mmsi=9, last_ais_t=t, spoof=5 <= k < 10))
    assert [(e.state, e.t - T0) for e in ev] == [("raised", 50.0), ("cleared", 130.0)]


def test_ais_spoofing_needs_the_radar_track() -> None:
    """A flag on a track no radar holds (two transmitters sharing an MMSI) is no spoofing evidence."""
    eng = engine(cfg=rules({"rules": {"ais_spoofing": {}}}))
    ev = run(eng, 20, lambda k, t: surface(t, 15.0, -75.0, (5.0, 0.0), mmsi=9, last_ais_t=t, last_noncoop_t=np.nan, spoof=k >= 5))
    assert states(ev, "ais_spoofing") == []


def test_ais_spoofing_sticky_flag_holds_while_ais_is_silent_then_clears() -> None:
    """The tracker's flag never resets: the alert holds while the identity's AIS reports keep failing
    (no AIS update since the flag), and clears event_hold_s after the flag once consistent AIS resumes."""
    cfg = rules({"rules": {"ais_spoofing": {"min_off_s": 60.0, "event_hold_s": 300.0}}})
    eng = engine(cfg=cfg)

    def make(k: int, t: float) -> dict[str, TrackView]:
        ais_t = T0 + 40.0 if 5 <= k < 60 else t  # spoofed reports from tick 5 to 59 do not update the track
        return surface(t, 15.0, -75.0, (5.0, 0.0), mmsi=9, last_ais_t=ais_t, spoof=k >= 5)

    ev = [e for e in run(eng, 120, make) if e.rule == "ais_spoofing"]
    assert [(e.state, e.t - T0) for e in ev if e.state != "updated"] == [("raised", 50.0), ("cleared", 660.0)]
    assert "kinematically impossible against the radar track" in ev[0].reason
    # consistent again from tick 60 (600 s): already 550 s past the flag > event_hold_s, so off at 600 s, cleared 60 s later


# rendezvous, loitering ---------------------------------------------------------------------------------

def _pair(t: float, sep_deg: float, speed: float, mmsi: tuple[int, int] = (0, 367000003), lat: float = 15.0) -> dict[str, TrackView]:
    return {"surface": view("surface", t, [lat, lat + sep_deg], [-75.0, -75.0], [(speed, 0.0)] * 2, ids=[7, 3],
                            mmsi=list(mmsi), last_ais_t=[np.nan, t])}


def test_rendezvous_raises_after_duration_owned_by_the_dark_track() -> None:
    eng = engine(cfg=rules({"rules": {"rendezvous": {"min_on_s": 600.0}}}))
    ev = run(eng, 80, lambda k, t: _pair(t, 0.003, 0.5))  # ~330 m apart, 1 kn
    assert states(ev, "rendezvous") == ["raised"]
    assert ev[0].t == T0 + 600.0 and ev[0].track_id == 7 and ev[0].related_track_ids == [3]


def test_rendezvous_not_near_port_nor_between_two_identified_vessels() -> None:
    port = zone_set(box("harbour", "port", -75.01, 14.99, -74.99, 15.01))
    cfg = rules({"rules": {"rendezvous": {"min_on_s": 60.0}}})
    assert run(engine(port, cfg), 20, lambda k, t: _pair(t, 0.003, 0.5)) == []
    assert run(engine(cfg=cfg), 20, lambda k, t: _pair(t, 0.003, 0.5, mmsi=(5, 6))) == []
    assert run(engine(cfg=cfg), 20, lambda k, t: _pair(t, 0.02, 0.5)) == []  # 2.2 km apart


def test_loitering_in_corridor_far_from_shore() -> None:
    zones = zone_set(box("corr", "transit_corridor", -76.0, 14.0, -74.0, 16.0))
    cfg = rules({"rules": {"loitering": {"min_on_s": 300.0}}})
    inside = run(engine(zones, cfg), 40, lambda k, t: surface(t, 15.0, -75.0, (0.5, 0.0), mmsi=5, last_ais_t=t))
    outside = run(engine(zones, cfg), 40, lambda k, t: surface(t, 17.0, -75.0, (0.5, 0.0), mmsi=5, last_ais_t=t))
    assert states(inside, "loitering") == ["raised"] and outside == []


# aircraft, landing approach ------------------------------------------------------------------------------

def air(t: float, lat: float, lon: float, vel: tuple[float, float], **kw: object) -> dict[str, TrackView]:
    return {"air": view("air", t, [lat], [lon], [vel], ids=[1_000_000_001], **kw)}


def test_suspect_aircraft_low_slow_without_icao_but_not_airliner_or_identified() -> None:
    cfg = rules({"rules": {"suspect_aircraft": {}}})
    low = run(engine(cfg=cfg), 6, lambda k, t: air(t, 15.0, -75.0, (80.0, 0.0), alt_m=500.0))
    jet = run(engine(cfg=cfg), 6, lambda k, t: air(t, 15.0, -75.0, (230.0, 0.0), alt_m=11000.0))
    ident = run(engine(cfg=cfg), 6, lambda k, t: air(t, 15.0, -75.0, (80.0, 0.0), alt_m=500.0, icao24=0xABC123))
    assert states(low, "suspect_aircraft") == ["raised"] and low[0].track_id == 1_000_000_001
    assert jet == [] and ident == []


def test_suspect_aircraft_does_not_raise_on_a_vertical_rate_near_an_airstrip() -> None:
    """Above max_alt_m, 5 km from a strip, at a vertical rate of -4 m/s (the radar-only tracks' noise reads +-3-6 m/s):
    the vertical rate is evidence, not a test; low and slow there raises, with the strip named."""
    strip = zone_set(box("strip", "airstrip", -75.0, 15.0, -74.99, 15.01))
    cfg = rules({"rules": {"suspect_aircraft": {"max_alt_m": 500.0}}})
    high = run(engine(strip, cfg), 6, lambda k, t: air(t, 15.05, -75.0, (0.0, -70.0), alt_m=1500.0, vrate_mps=-4.0))
    assert high == []
    low = run(engine(strip, cfg), 6, lambda k, t: air(t, 15.005, -74.995, (0.0, -70.0), alt_m=300.0, vrate_mps=-4.0))
    assert states(low, "suspect_aircraft") == ["raised"] and low[0].zone == "strip" and low[0].evidence["vrate_mps"] == -4.0


def test_landing_approach_time_to_arrival_and_priority_rises() -> None:
    beach = zone_set(box("beach", "landing_zone", -74.9, 14.9, -74.8, 15.1))
    cfg = rules({"rules": {"landing_approach": {"min_on_s": 0.0}, "go_fast": {}}})
    # 20 m/s east from -75.1: ~21.5 km to the beach -> ~18 min, under the 30 min threshold
    ev = run(engine(beach, cfg), 5, lambda k, t: surface(t, 15.0, -75.1 + k * 0.002, (20.0, 0.0)))
    la = [e for e in ev if e.rule == "landing_approach"]
    assert la[0].state == "raised" and la[0].zone == "beach"
    assert 15 * 60 < la[0].evidence["time_to_arrival_s"] < 20 * 60
    fast = next(e for e in ev if e.rule == "go_fast")
    assert fast.priority > 1.0  # urgency from the near landing zone raises it above the weight
    away = run(engine(beach, cfg), 5, lambda k, t: surface(t, 15.0, -75.1, (-20.0, 0.0)))
    assert [e for e in away if e.rule == "landing_approach"] == []


def test_dark_vessel_working_one_spot_or_in_an_anchorage_does_not_raise() -> None:
    cfg = rules({"rules": {"dark_vessel": {"dark_s": 600.0}}})
    east = lambda k: -75.0 + k * 50.0 / (111_320.0 * np.cos(np.radians(15.0)))
    # speed 5 m/s (9.7 kn) but back and forth around one spot: net speed ~0 < min_net_speed_kn
    wobble = run(engine(cfg=cfg), 90, lambda k, t: surface(t, 15.0, east(k % 2), (5.0 * (-1) ** k, 0.0)))
    assert states(wobble, "dark_vessel") == []
    anch = zone_set(box("grounds", "anchorage", -75.1, 14.9, -74.9, 15.1))
    inside = run(engine(anch, cfg), 70, lambda k, t: surface(t, 15.0, east(k % 10), (5.0, 0.0)))
    assert states(inside, "dark_vessel") == []
    straight = run(engine(cfg=cfg), 70, lambda k, t: surface(t, 15.0, east(k), (5.0, 0.0)))
    assert states(straight, "dark_vessel") == ["raised"]
    assert straight[0].evidence["net_speed_kn"] == pytest.approx(5.0 / KN, rel=0.02)


def _noisy_pair(seed: int) -> Callable[[int, float], dict[str, TrackView]]:
    """A go-fast alongside a stopped fishing boat (5 m apart) seen through noisy tracks: each reads 1-7 kn of velocity
    noise and 300 m of position noise, so the raw tracks are 250-1000 m apart and faster than 2 kn (issue 14)."""
    rng = np.random.default_rng(seed)

    def make(k: int, t: float) -> dict[str, TrackView]:
        pos = rng.normal(0.0, 300.0 / 111_195.0, (2, 2))
        vel = rng.normal(0.0, 2.5, (2, 2))  # m/s: |v| mostly 1-7 kn
        return {"surface": view("surface", t, 15.0 + pos[:, 0], -75.0 + pos[:, 1], vel, ids=[7, 3], mmsi=[0, 367000003],
                                last_ais_t=[np.nan, t])}
    return make


def test_rendezvous_through_noisy_tracks_on_smoothed_positions_and_speeds() -> None:
    smoothed = run(engine(cfg=rules({"rules": {"rendezvous": {}}})), 260, _noisy_pair(1))
    assert states(smoothed, "rendezvous")[:1] == ["raised"] and smoothed[0].t - T0 <= 1800.0 + 300.0
    raw = run(engine(cfg=rules({"rules": {"rendezvous": {"smoothing_s": 0.0}}})), 260, _noisy_pair(1))
    assert states(raw, "rendezvous") == []  # the instantaneous test never holds 30 min
