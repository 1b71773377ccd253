"""Scenario validation over generated documents: valid ones load, any bad speed is refused by name."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim_feeds.scenario import OBJECT_CLASSES, ScenarioError, scenario_from_dict
from sim_feeds.truth import Truth
from tests.unit.sim.conftest import base_doc, transit

SEA_LATS = st.floats(9.75, 10.25)  # open sea north of the Guna Yala coast
SEA_LONS = st.floats(-79.7, -78.0)


@settings(max_examples=25, deadline=None)
@given(lat1=SEA_LATS, lon1=SEA_LONS, lat2=SEA_LATS, lon2=SEA_LONS, speed=st.floats(0.5, 25.0))
def test_valid_route_loads_and_stays_in_speed(lat1: float, lon1: float, lat2: float, lon2: float, speed: float) -> None:
    sc = scenario_from_dict(base_doc(objects=[transit("m-1", (lat1, lon1), (lat2, lon2), speed)]))
    s = Truth.of(sc).at(sc.t0 + 60.0)
    assert s.speed_mps[0] <= speed * 1852.0 / 3600.0 + 1e-9


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(sorted(OBJECT_CLASSES)), speed=st.one_of(st.floats(-1e6, -1e-3), st.floats(600.1, 1e6)))
def test_bad_speed_is_named(kind: str, speed: float) -> None:
    doc = base_doc(objects=[transit("x-1", (9.8, -79.5), (9.9, -78.5), 10.0, kind=kind)])
    doc["objects"][0]["speed_kn"] = speed
    try:
        scenario_from_dict(doc, source="p")
    except ScenarioError as err:
        assert err.field == "objects[0].speed_kn" and err.value == speed
    else:
        raise AssertionError(f"speed {speed} kn accepted for {kind}")
