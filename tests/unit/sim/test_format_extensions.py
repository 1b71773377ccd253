"""Optional scenario fields added for the corpus: harbour kinds, radar on-station windows, AIS reach by class."""

from __future__ import annotations

import numpy as np
import pytest

from sim_feeds.ais_sim import AisTerrestrialModel, reach_factor
from sim_feeds.geo import distance_m
from sim_feeds.observe import RadarModel
from sim_feeds.scenario import ScenarioError, scenario_from_dict
from sim_feeds.truth import Truth
from tests.unit.sim.conftest import RADAR_LAT, RADAR_LON, base_doc, parked, transit


@pytest.mark.parametrize("kind", ["tug", "pilot_boat", "ferry", "tour_boat", "patrol_vessel"])
def test_harbour_kinds_load_as_vessels(kind: str) -> None:
    sc = scenario_from_dict(base_doc(objects=[parked("v-1", 9.70, -78.70, kind=kind)]))
    assert Truth.of(sc).domain.tolist() == ["surface"]


def test_helicopter_is_an_aircraft_and_a_vessel_speed_limit_holds() -> None:
    heli = transit("h-1", (9.5, -79.5), (9.9, -78.5), 140.0, kind="helicopter")
    sc = scenario_from_dict(base_doc(objects=[heli]))
    assert Truth.of(sc).is_air.tolist() == [True]
    with pytest.raises(ScenarioError, match=r"objects\[0\].speed_kn = 20.0: must be <= 14 for tug"):
        scenario_from_dict(base_doc(objects=[transit("t-1", (9.8, -79.5), (9.8, -78.2), 20.0, kind="tug")]))


def test_radar_scans_only_on_station() -> None:
    radar = {"kind": "coastal_radar", "id": "r1", "lat": RADAR_LAT, "lon": RADAR_LON, "rotation_s": 10.0,
             "coverage": {"range_max_m": 50000.0}, "on_station": [{"start_s": 600.0, "end_s": 1500.0}]}
    sc = scenario_from_dict(base_doc(sensors=[radar]))
    t = np.array([s.t for s in RadarModel(sc, Truth.of(sc), sc.sensors[0]).scans()]) - sc.t0  # type: ignore[arg-type]
    assert t.size == pytest.approx(90, abs=1) and t.min() >= 600.0 and t.max() < 1500.0
    always = scenario_from_dict(base_doc(sensors=[{k: v for k, v in radar.items() if k != "on_station"}]))
    assert len(list(RadarModel(always, Truth.of(always), always.sensors[0]).scans())) >= 359  # type: ignore[arg-type]
    bad = {**radar, "on_station": [{"start_s": 900.0, "end_s": 600.0}]}
    with pytest.raises(ScenarioError, match=r"sensors\[0\].on_station\[0\].end_s"):
        scenario_from_dict(base_doc(sensors=[bad]))


def test_reach_factor_by_class_and_fade() -> None:
    rx = scenario_from_dict(base_doc(sensors=[{"kind": "ais_terrestrial", "id": "rx", "lat": RADAR_LAT, "lon": RADAR_LON,
                                               "range_m": 74000.0, "range_class_b_m": 37000.0, "fade_m": 10000.0}])).sensors[0]
    r = np.array([10000.0, 30000.0, 32000.0, 36000.0, 40000.0, 64000.0, 69000.0, 74000.0, 80000.0])
    a = reach_factor(r, np.zeros(r.size, dtype=bool), rx)  # type: ignore[arg-type]
    b = reach_factor(r, np.ones(r.size, dtype=bool), rx)  # type: ignore[arg-type]
    assert a.tolist() == pytest.approx([1, 1, 1, 1, 1, 1, 0.5, 0, 0])
    assert b.tolist() == pytest.approx([1, 0.7, 0.5, 0.1, 0, 0, 0, 0, 0])
    plain = scenario_from_dict(base_doc(sensors=[{"kind": "ais_terrestrial", "id": "rx", "lat": RADAR_LAT,
                                                  "lon": RADAR_LON, "range_m": 74000.0}])).sensors[0]
    assert reach_factor(r, np.ones(r.size, dtype=bool), plain).tolist() == [1, 1, 1, 1, 1, 1, 1, 1, 0]  # type: ignore[arg-type]
    too_wide = {"kind": "ais_terrestrial", "id": "rx", "lat": RADAR_LAT, "lon": RADAR_LON, "range_m": 74000.0,
                "range_class_b_m": 20000.0, "fade_m": 30000.0}
    with pytest.raises(ScenarioError, match=r"sensors\[0\].fade_m = 30000.0: must be <= the shortest range \(20000\)"):
        scenario_from_dict(base_doc(sensors=[too_wide]))


def test_class_b_is_heard_to_its_shorter_range_only() -> None:
    """A class B yacht and a class A ship on the same track away from the receiver: the yacht falls
    silent near range_class_b_m, the ship is heard to range_m."""
    rx = {"kind": "ais_terrestrial", "id": "rx", "lat": RADAR_LAT, "lon": RADAR_LON, "range_m": 74000.0,
          "range_class_b_m": 37000.0, "slot_loss": 0.0}
    ships = [transit("a-1", (9.55, -78.60), (10.25, -78.60), 14.0, ais={"mmsi": 311000001}),
             transit("b-1", (9.55, -78.61), (10.25, -78.61), 14.0, kind="pleasure_craft",
                     ais={"mmsi": 311000002, "transceiver": "B"})]
    sc = scenario_from_dict(base_doc(duration_s=14000.0, sensors=[rx], objects=ships))
    model = AisTerrestrialModel(sc, Truth.of(sc), sc.sensors[0])  # type: ignore[arg-type]
    heard = [x.take(~x.static) for _, x in model.batches()]
    vessel = np.concatenate([x.vessel for x in heard])
    far = distance_m(RADAR_LAT, RADAR_LON, np.concatenate([x.tx_lat for x in heard]), np.concatenate([x.tx_lon for x in heard]))
    assert 36000.0 < far[vessel == 1].max() <= 37000.0
    assert 73000.0 < far[vessel == 0].max() <= 74000.0
