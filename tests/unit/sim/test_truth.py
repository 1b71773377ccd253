"""Ground truth: DESIGN.md rows, kinematics as configured, all vessels at sea, seeded per object."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.coastline import is_land
from sim_feeds.geo import GEOD, KNOT_MPS, distance_m
from sim_feeds.scenario import (
    OBJECT_CLASSES,
    ScenarioError,
    Waypoint,
    load_scenario,
    scenario_from_dict,
    scenario_library,
)
from sim_feeds.truth import (
    ARC_STEP_DEG,
    STANDARD_RATE_DPS,
    Truth,
    TruthRow,
    build_paths,
    iter_truth,
    standard_rate_turns,
)
from tests.unit.sim.conftest import base_doc, transit

TRUTH_FIELDS = ("t", "id", "domain", "lat", "lon", "alt_m", "speed_mps", "course_deg", "mmsi", "icao24", "role", "activity")


def test_row_fields_are_the_truth_jsonl_fields() -> None:
    assert TruthRow.__struct_fields__ == TRUTH_FIELDS


@pytest.mark.parametrize("name", sorted(scenario_library()))
def test_no_vessel_on_land(name: str) -> None:
    sc = load_scenario(scenario_library()[name])
    truth = Truth.of(sc)
    ticks = truth.ticks()
    if len(sc.objects) > 500:  # the large scenario: start, middle and end
        ticks = ticks[[0, len(ticks) // 2, -1]]
    surface = ~truth.is_air
    for t in ticks:
        s = truth.at(float(t))
        keep = s.alive & surface
        assert keep.any()
        on_land = is_land(s.lat[keep], s.lon[keep])
        assert not on_land.any(), (name, float(t), np.array(truth.ids)[keep][on_land])


def test_speed_course_and_rows_follow_the_route() -> None:
    sc = scenario_from_dict(base_doc(objects=[transit("m-1", (9.8, -79.5), (9.8, -78.5), 12.0,
                                                      ais={"mmsi": 311000001})]))
    rows = [r for tick in iter_truth(sc) for r in tick]
    assert {r.id for r in rows} == {"m-1"}
    assert all(abs(r.speed_mps - 12.0 * KNOT_MPS) < 1e-3 for r in rows)
    assert all(abs(r.course_deg - 90.0) < 0.2 for r in rows)
    assert rows[0].mmsi == 311000001 and rows[0].icao24 is None and rows[0].alt_m == 0.0
    step = distance_m(rows[0].lat, rows[0].lon, np.array([rows[1].lat]), np.array([rows[1].lon]))[0]
    assert step == pytest.approx(10.0 * 12.0 * KNOT_MPS, rel=1e-3)


def test_aircraft_descends_and_dwells() -> None:
    obj = {"id": "air-1", "kind": "light_aircraft", "speed_kn": 120.0, "adsb": {"icao24": "0d0c3d"},
           "route": [{"lat": 9.8, "lon": -79.5, "alt_m": 1000.0}, {"lat": 9.8, "lon": -79.0, "alt_m": 0.0, "dwell_s": 300.0}]}
    sc = scenario_from_dict(base_doc(objects=[obj]))
    truth = Truth.of(sc)
    leg_s = float(truth.paths.end_s()[0]) - 300.0  # arrival: the stop's start
    leg_m = float(distance_m(9.8, -79.5, np.array([9.8]), np.array([-79.0]))[0])
    v, a = 120.0 * KNOT_MPS, OBJECT_CLASSES["light_aircraft"].accel_mps2()
    assert leg_s == pytest.approx(leg_m / v + v / (2.0 * a), rel=1e-6)  # it slows down to the stop at a
    mid = truth.at(sc.t0 + leg_s / 2)
    gone = float(distance_m(9.8, -79.5, mid.lat, mid.lon)[0])
    assert mid.alt_m[0] == pytest.approx(1000.0 * (1.0 - gone / leg_m), abs=1.0)  # linear in distance
    assert mid.vrate_mps[0] == pytest.approx(-1000.0 / leg_m * v, rel=1e-6)
    stopped = truth.at(sc.t0 + leg_s + 100.0)
    assert stopped.alive[0] and stopped.speed_mps[0] == 0.0 and stopped.alt_m[0] == 0.0
    assert not truth.at(sc.t0 + leg_s + 400.0).alive[0]
    assert truth.rows(sc.t0)[0].icao24 == "0d0c3d"


def test_adding_an_object_does_not_change_the_others() -> None:
    fish = {"id": "f-1", "kind": "fishing", "loiter": {"lat": 9.9, "lon": -79.0, "radius_nm": 3.0}}
    one = scenario_from_dict(base_doc(objects=[fish]))
    two = scenario_from_dict(base_doc(objects=[transit("m-1", (9.8, -79.5), (9.8, -78.5), 12.0), fish]))
    rows_one = [r for tick in iter_truth(one) for r in tick]
    rows_two = [r for tick in iter_truth(two) for r in tick if r.id == "f-1"]
    assert rows_one == rows_two


@settings(max_examples=25, deadline=None)
@given(turn=st.floats(min_value=-180.0, max_value=180.0), speed_kn=st.floats(min_value=60.0, max_value=450.0))
def test_an_aircraft_turns_at_the_standard_rate(turn: float, speed_kn: float) -> None:
    # east, then towards a waypoint ``turn`` degrees off, then back: the route keeps its waypoints, the velocity
    # never steps by more than one arc chord's course change, and a turn of theta degrees takes at least
    # (theta - one chord) / rate seconds
    lon1, lat1, _ = GEOD.fwd(-76.0, 10.0, 90.0, 30_000.0)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, 90.0 + turn, 30_000.0)
    route = [Waypoint(lat=10.0, lon=-76.0, alt_m=1_000.0), Waypoint(lat=float(lat1), lon=float(lon1), alt_m=1_000.0),
             Waypoint(lat=float(lat2), lon=float(lon2), alt_m=1_000.0)]
    flown = standard_rate_turns(route, speed_kn)
    assert [w for w in flown if w in route] == route and flown[0] == route[0] and flown[-1] == route[-1]
    paths = build_paths(0.0, [flown], [0.0], [speed_kn], [False], ["transit"])
    t = np.arange(0.0, float(paths.end_s()[0]), 0.5)
    s = paths.sample(np.zeros(t.size, dtype=np.int64), t)
    v = speed_kn * KNOT_MPS * np.stack([np.sin(np.radians(s.course_deg)), np.cos(np.radians(s.course_deg))], axis=1)
    step = np.hypot(*np.diff(v, axis=0).T)
    assert step.max() <= 2.0 * speed_kn * KNOT_MPS * np.sin(np.radians(ARC_STEP_DEG)) + 1e-6
    heading = (s.course_deg - 90.0 + 180.0) % 360.0 - 180.0
    turning = np.abs(heading) > ARC_STEP_DEG  # (after the corner's first chord)
    if abs(turn) > 3.0 * ARC_STEP_DEG:
        first = t[np.argmax(turning)]
        settled = t[np.flatnonzero(np.abs((s.course_deg - 90.0 - turn + 180.0) % 360.0 - 180.0) <= ARC_STEP_DEG)[0]]
        assert settled - first >= (abs(turn) - 3.0 * ARC_STEP_DEG) / STANDARD_RATE_DPS - 1.0


def _departing(kind: str, leg_m: float, speed_kn: float, accel: float | None = None) -> Truth:
    """One ``kind`` stopped 100 s at 9.8 N 79.5 W, then ``leg_m`` east at ``speed_kn`` to a stop it holds."""
    lon1, lat1, _ = GEOD.fwd(-79.5, 9.8, 90.0, leg_m)
    obj = {"id": "v-1", "kind": kind, "speed_kn": speed_kn, "hold_at_end": True,
           "route": [{"lat": 9.8, "lon": -79.5, "dwell_s": 100.0}, {"lat": float(lat1), "lon": float(lon1)}],
           **({} if accel is None else {"accel_mps2": accel})}
    return Truth.of(scenario_from_dict(base_doc(objects=[obj])))


@pytest.mark.parametrize("kind", ["merchant", "fishing", "go_fast", "pilot_boat", "ferry"])
def test_a_vessel_changes_speed_at_its_bounded_acceleration(kind: str) -> None:
    # from a stop to 10 kn and back to a stop 20 km on: the speed changes by at most a per second, the distance
    # flown is the integral of the speed, and the leg takes D / v + v / a (v / (2a) more at each end)
    a, v = OBJECT_CLASSES[kind].accel_mps2(), 10.0 * KNOT_MPS
    truth = _departing(kind, 20_000.0, 10.0)
    end = float(truth.paths.knot_t[truth.paths.last[0]])
    assert end - 100.0 == pytest.approx(20_000.0 / v + v / a, rel=1e-6)
    t = np.arange(0.0, end + 50.0, 0.5)
    s = truth.paths.sample(np.zeros(t.size, dtype=np.int64), truth.paths.t0 + t)
    assert np.abs(np.diff(s.speed_mps)).max() <= a * 0.5 * (1.0 + 1e-9)
    assert s.speed_mps.max() == pytest.approx(v) and s.speed_mps[0] == 0.0 and s.speed_mps[-1] == 0.0
    gone = distance_m(9.8, -79.5, s.lat, s.lon)
    # trapezoid rule: exact but where a 0.5 s step spans a change of acceleration (a dt^2 / 8 each)
    flown = np.concatenate([[0.0], np.cumsum(0.25 * (s.speed_mps[1:] + s.speed_mps[:-1]))])
    assert np.abs(gone - flown).max() < 0.5


def test_a_leg_too_short_for_the_full_speed_peaks_below_it() -> None:
    # a merchant (0.03 m/s^2) told 20 kn over 500 m between two stops: it speeds up half way and brakes
    a = OBJECT_CLASSES["merchant"].accel_mps2()
    truth = _departing("merchant", 500.0, 20.0)
    end = float(truth.paths.knot_t[truth.paths.last[0]])
    assert end - 100.0 == pytest.approx(2.0 * np.sqrt(500.0 / a), rel=1e-6)
    t = np.arange(0.0, end, 1.0)
    peak = truth.paths.sample(np.zeros(t.size, dtype=np.int64), truth.paths.t0 + t).speed_mps.max()
    assert peak == pytest.approx(np.sqrt(500.0 * a), abs=a) and peak < 20.0 * KNOT_MPS  # sampled every 1 s


def test_the_acceleration_is_set_per_object_and_checked() -> None:
    fast = _departing("merchant", 20_000.0, 10.0, accel=1.0)
    assert float(fast.paths.knot_t[fast.paths.last[0]]) - 100.0 == pytest.approx(20_000.0 / (10.0 * KNOT_MPS) + 10.0 * KNOT_MPS, rel=1e-6)
    with pytest.raises(ScenarioError, match=r"accel_mps2"):
        _departing("merchant", 20_000.0, 10.0, accel=0.0)
