"""dark_vessel models what it accuses (issue 14, false dark_vessel alerts on purse seiners and patrol vessels): a vessel
that stopped at sea (a purse seine set, a patrol on station) is at work, not a dark transit; a track near which an AIS
identity carried by no track was heard within dark_s is a transponder that is on, weakly received."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.core.arrays import TrackView
from fusion.rules.catalog.dark_vessel import WorkMemory
from fusion.rules.config import default_rules
from fusion.rules.engine import AlertEvent
from fusion.rules.geo import NoShore
from fusion.rules.reporting import AisReporting, ReportingArrays
from fusion.rules.scene import Scene, ZoneGeometry
from fusion.rules.synthetic import FRAME, KN, box, empty, engine, rules, view, zone_set
from sensors.reports import AisPosition

T0 = 1_700_013_600.0
LAT = 15.1  # inside the receiver circle below
CIRCLE = {"everywhere": False, "zones": [], "kinds": [], "circles": [{"lat": 15.0, "lon": -75.0, "radius_m": 60_000.0}],
          "satellite_dark_s": 0.0}
DEG_E = 111_320.0 * np.cos(np.radians(LAT))  # metres per degree of longitude at LAT


def lon_at(east_m: float) -> float:
    return -75.3 + east_m / DEG_E


def dark_events(make: Callable[[int, float], dict[str, TrackView]], ticks: int, reporting: ReportingArrays | None = None,
                **fields: float) -> list[tuple[str, float]]:
    """(state, s after T0) of the dark_vessel raises over 10 s ticks (dark_s 600 s)."""
    eng = engine(cfg=rules({"engine": {"ais_coverage": CIRCLE}, "rules": {"dark_vessel": {"dark_s": 600.0, **fields}}}))
    out: list[AlertEvent] = []
    for k in range(ticks):
        t = T0 + 10.0 * k
        out.extend(eng.evaluate(t, {"surface": empty("surface", t), "air": empty("air", t), **make(k, t)}, reporting=reporting))
    return [(e.state, e.t - T0) for e in out if e.rule == "dark_vessel" and e.state == "raised"]


def set_then_steam(k: int, t: float) -> dict[str, TrackView]:
    """Stopped 1000 s at sea (its track reading +-1.5 m/s, 2.9 kn, of zero-mean velocity noise), then east at 5 m/s."""
    moving_s = max(10.0 * k - 1000.0, 0.0)
    vel = (1.5 * (-1) ** k, 0.0) if moving_s == 0.0 else (5.0, 0.0)
    return {"surface": view("surface", t, [LAT], [lon_at(5.0 * moving_s)], [vel], first_t=T0 - 3600.0)}


def test_a_vessel_that_stopped_at_sea_is_at_work_not_a_dark_transit() -> None:
    """Without the stop test it is raised once its net speed since first seen reaches 4 kn (at 1,710 s); stopped 1000 s
    (smoothed speed below 2 kn for longer than stop_s), it never is."""
    assert dark_events(set_then_steam, 300, stop_s=1e9) == [("raised", 1710.0)]
    assert dark_events(set_then_steam, 300) == []


def test_a_u_turn_at_semi_submersible_speed_is_not_a_stop() -> None:
    """At 6 kn an instantaneous U-turn's smoothed velocity stays below 2 kn for ln(2) x smoothing_s (208 s): less than
    stop_s."""
    r = default_rules().rules.params("dark_vessel")
    mem, geometry = WorkMemory(), ZoneGeometry(zone_set(), FRAME)
    v = 6.0 * KN
    for k in range(200):
        t = T0 + 10.0 * k
        sv = view("surface", t, [LAT], [lon_at(0.0)], [(v if k < 50 else -v, 0.0)], first_t=T0 - 3600.0)
        s = Scene.build(t, {"surface": sv}, FRAME, ["confirmed", "coasting"], geometry, NoShore(), 0.0)
        stopped, _, _ = mem.observe(s, r, np.ones(1, bool))
    assert 0.0 < stopped[0] < r.stop_s


def steaming(k: int, t: float) -> dict[str, TrackView]:
    return {"surface": view("surface", t, [LAT], [lon_at(50.0 * k)], [(5.0, 0.0)], first_t=T0 - 3600.0)}


def heard_at(mmsi: int, t: float, east_m: float, north_m: float = 0.0) -> ReportingArrays:
    """The reporting table after one class B report of ``mmsi`` at ``t`` from (east_m, north_m) of the track's start."""
    table = AisReporting()
    table.add([AisPosition(t=t, source="rx", mmsi=mmsi, lat=LAT + north_m / 111_320.0, lon=lon_at(east_m), sog_mps=5.0,
                           msg_type=18)])
    return table.arrays()


def test_an_identity_heard_near_within_dark_s_is_a_transponder_that_is_on() -> None:
    """Heard at 550 s where the track was: not raised at 600 s (dark_s) but once that report is older than dark_s,
    at 1,160 s (it stays within reach: 1.5 km plus the track's speed x the report's age)."""
    assert dark_events(steaming, 130) == [("raised", 600.0)]
    assert dark_events(steaming, 130, heard_at(367000009, T0 + 550.0, 5.0 * 550.0)) == [("raised", 1160.0)]


def test_an_identity_heard_out_of_reach_is_not_an_excuse() -> None:
    assert dark_events(steaming, 70, heard_at(367000009, T0 + 550.0, 5.0 * 550.0, north_m=10_000.0)) == [("raised", 600.0)]


def test_an_identity_carried_by_another_track_is_that_vessel() -> None:
    """The identity is on a live track 300 m north: that vessel sent it, not the dark one."""
    def pair(k: int, t: float) -> dict[str, TrackView]:
        return {"surface": view("surface", t, [LAT, LAT + 300.0 / 111_320.0], [lon_at(50.0 * k)] * 2, [(5.0, 0.0)] * 2,
                                ids=[1, 2], mmsi=[0, 367000009], last_ais_t=[np.nan, t], first_t=T0 - 3600.0)}
    got = dark_events(pair, 70, heard_at(367000009, T0 + 550.0, 5.0 * 550.0, north_m=300.0))
    assert got == [("raised", 600.0)]


@pytest.mark.parametrize("name", ["smoothing_s"])
def test_the_smoothing_must_be_positive(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        rules({"rules": {"dark_vessel": {name: 0.0}}})


def test_a_track_the_tracker_revives_keeps_its_first_fix() -> None:
    """First seen leaving a port (excluded: port_origin_m), gone from the views for 600 s (longer than handover_s), back
    under the same id: still the track first seen leaving port. A new track id there is a new object: raised."""
    harbour = zone_set(box("harbour", "port", lon_at(-1000.0), LAT - 0.01, lon_at(1000.0), LAT + 0.01))
    cfg = rules({"engine": {"ais_coverage": CIRCLE}, "rules": {"dark_vessel": {"dark_s": 600.0}}})

    def gone_and_back(new_id: int) -> Callable[[int, float], dict[str, TrackView]]:
        def make(k: int, t: float) -> dict[str, TrackView]:
            if 60 <= k < 120:
                return {}
            return {"surface": view("surface", t, [LAT], [lon_at(50.0 * k)], [(5.0, 0.0)], ids=[1 if k < 60 else new_id],
                                    first_t=T0 - 3600.0)}
        return make

    def raises(make: Callable[[int, float], dict[str, TrackView]]) -> list[float]:
        eng, out = engine(harbour, cfg), []
        for k in range(250):
            t = T0 + 10.0 * k
            out += [e.t - T0 for e in eng.evaluate(t, {"surface": empty("surface", t), "air": empty("air", t), **make(k, t)})
                    if e.rule == "dark_vessel" and e.state == "raised"]
        return out

    assert raises(gone_and_back(1)) == []
    assert raises(gone_and_back(2)) == [1800.0]


def test_silence_alone_is_at_most_half_the_evidence_of_a_low_observable_hull() -> None:
    eng = engine(cfg=rules({"engine": {"ais_coverage": CIRCLE}, "rules": {"dark_vessel": {"dark_s": 600.0}}}))
    strengths = []
    for k in range(400):
        t = T0 + 10.0 * k
        strengths += [e.evidence["strength"] for e in eng.evaluate(t, {"air": empty("air", t), **steaming(k, t)})
                      if e.rule == "dark_vessel"]
    assert strengths[0] == pytest.approx(0.5 / 3.0, abs=0.01) and 0.4 < max(strengths) <= 0.5


def test_a_revived_low_observable_track_is_sized_again_before_it_is_raised_on_its_size() -> None:
    """A semi-submersible's track (-5 dBsm from 50 looks) raised on its size at 180 s, gone from the views for 300 s,
    revived under its id with a new RCS estimate of 10 looks: raised again only once that estimate is
    low_observable_watch_s (120 s) old, at 720 s, not at once (its first fix and net speed are carried)."""
    def make(k: int, t: float) -> dict[str, TrackView]:
        if 30 <= k < 60:
            return {}
        looks = 50 if k < 30 else 10 + (k - 60)
        return {"surface": view("surface", t, [16.0], [lon_at(40.0 * k)], [(4.0, 0.0)], first_t=T0, rcs_dbsm=-5.0,
                                rcs_looks=looks)}
    assert dark_events(make, 100) == [("raised", 180.0), ("raised", 720.0)]


def test_a_revived_small_craft_waits_for_its_size_again() -> None:
    """A 12 m yacht (7 dBsm from 50 looks: a small craft, never raised) revived under its id with a new estimate that
    starts at one low look (2 dBsm) and settles back to 7 dBsm: its carried time in coverage does not raise it while
    its size is being measured (fewer than rcs_min_looks looks)."""
    def make(k: int, t: float) -> dict[str, TrackView]:
        if 100 <= k < 130:
            return {}
        looks, rcs = (50, 7.0) if k < 100 else (1 + (k - 130), 2.0 if k == 130 else 7.0)
        return {"surface": view("surface", t, [LAT], [lon_at(50.0 * k)], [(5.0, 0.0)], first_t=T0 - 3600.0,
                                rcs_dbsm=rcs, rcs_looks=looks)}
    assert dark_events(make, 200) == []


def test_a_track_that_jumped_onto_a_trawler_is_not_going_somewhere() -> None:
    """Born on clutter 8 km west (300 s, its velocity a clutter track's 3 m/s guess), gone 300 s, revived under its id on a trawler at 3.1 kn: since its first fix it
    reads 10 m/s net (the jump), but its velocity averaged over smoothing_s reads the trawler's 3.1 kn, below
    min_net_speed_kn: not raised. The same revival steaming at 9.7 kn is, once 600 s in coverage (240 s before the gap)."""
    def revived(v: float) -> Callable[[int, float], dict[str, TrackView]]:
        def make(k: int, t: float) -> dict[str, TrackView]:
            if 30 <= k < 60:
                return {}
            east, vel = (-8000.0, (0.0, 3.0)) if k < 30 else (v * 10.0 * (k - 60), (v, 0.0))
            return {"surface": view("surface", t, [LAT], [lon_at(east)], [vel], first_t=T0)}
        return make
    assert dark_events(revived(5.0), 150) == [("raised", 970.0)]
    assert dark_events(revived(3.1 * KN), 150) == []


def test_a_trawler_towing_straight_is_not_going_somewhere() -> None:
    """A straight tow at 4.5 kn nets 4.5 kn since first seen (above min_net_speed_kn 4): below going_speed_kn 5 kn its
    smoothed speed does not raise it; with going_speed_kn 0 it is raised at dark_s."""
    def towing(k: int, t: float) -> dict[str, TrackView]:
        v = 4.5 * KN
        return {"surface": view("surface", t, [LAT], [lon_at(v * 10.0 * k)], [(v, 0.0)], first_t=T0 - 3600.0)}
    assert dark_events(towing, 130, going_speed_kn=0.0) == [("raised", 600.0)]
    assert dark_events(towing, 130) == []


@settings(max_examples=30, deadline=None)
@given(speed=st.floats(0.0, 12.0), course=st.floats(0.0, 2.0 * np.pi), start=st.floats(-12.0, 12.0),
       jump_m=st.floats(0.0, 20_000.0))
def test_the_smoothed_speed_is_the_speed_made_good_whatever_the_positions(speed: float, course: float, start: float,
                                                                          jump_m: float) -> None:
    """After 5 smoothing_s at a constant velocity the smoothed speed is that speed within 1 % of the start's difference,
    whatever the track's first velocity and wherever its positions jump (only velocities enter it)."""
    r = default_rules().rules.params("dark_vessel")
    mem, geometry = WorkMemory(), ZoneGeometry(zone_set(), FRAME)
    vel = (speed * np.sin(course), speed * np.cos(course))
    n = int(5.0 * r.smoothing_s / 10.0) + 1
    for k in range(n):
        t = T0 + 10.0 * k
        sv = view("surface", t, [LAT], [lon_at(jump_m * (k % 2))], [(start, 0.0) if k == 0 else vel], first_t=T0 - 3600.0)
        s = Scene.build(t, {"surface": sv}, FRAME, ["confirmed", "coasting"], geometry, NoShore(), 0.0)
        _, _, smoothed = mem.observe(s, r, np.ones(1, bool))
    assert smoothed[0] == pytest.approx(speed, abs=0.01 * (abs(start) + speed) + 1e-9)
