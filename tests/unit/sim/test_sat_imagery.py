"""The sat_imagery sensor and the dark_detection rule on a simulated satellite pass."""

from __future__ import annotations

import copy
import tomllib

import msgspec
import numpy as np
import pytest

from fusion.offline import fusion_for_area, run_messages
from fusion.satmatch import RULE
from sensors.reports import SatScene
from sim_feeds.play import iter_feed
from sim_feeds.sat_sim import detection_probability
from sim_feeds.scenario import SCENARIO_DIR, ScenarioError, scenario_from_dict
from sim_feeds.truth import Truth
from tests.unit.sim.conftest import base_doc

SHIPPED = tomllib.loads((SCENARIO_DIR / "sat_dark_pacific.toml").read_text())


class _Alerts:
    """JsonlWriter stand-in keeping the alerts (tracks are not needed)."""

    def __init__(self) -> None:
        self.alerts: list = []

    def write(self, tick: object) -> None:
        self.alerts += tick.alerts  # type: ignore[attr-defined]


def one_pass(latency_s: float) -> dict:
    """The shipped scenario with one certain pass (every vessel detected) delivered ``latency_s`` late."""
    doc = copy.deepcopy(SHIPPED)
    sensor = next(s for s in doc["sensors"] if s["kind"] == "sat_imagery")
    sensor.update(revisit_s=1e6, pd_max=1.0, length_50_m=1.0, length_scale_m=1.0,
                  latency_min_s=latency_s, latency_max_s=latency_s)
    return doc


def test_one_pass_two_hours_late_raises_exactly_for_the_dark_vessel() -> None:
    sc = scenario_from_dict(one_pass(7200.0), source="unit")
    messages = list(iter_feed(sc))
    (scene_msg,) = [m for m in messages if m.topic == "jisf/v1/feeds/sat/s1a"]
    scene = msgspec.json.decode(scene_msg.payload, type=SatScene)
    assert scene_msg.t == pytest.approx(scene.acq_time + 7200.0) and len(scene.detections) == len(sc.objects)
    fusion = fusion_for_area(sc.area, sc.zones_geojson(), "unit")
    out = _Alerts()
    run_messages(fusion, ((m.t, m.topic, m.payload) for m in messages), out)  # type: ignore[arg-type]
    dark = [a for a in out.alerts if a.rule == RULE]
    assert len(dark) == 1  # the four AIS vessels' detections were matched at acquisition time, two hours back
    truth = Truth.of(sc)
    s = truth.at(scene.acq_time)
    i = truth.ids.index("dark-logistics")
    dy = (dark[0].lat - s.lat[i]) * 111_320.0
    dx = (dark[0].lon - s.lon[i]) * 111_320.0 * np.cos(np.radians(s.lat[i]))
    assert np.hypot(dx, dy) < 5 * 60.0 and dark[0].evidence["acq_t"] == scene.acq_time
    assert fusion.ingest.sat_correlation_only == 1


def test_detection_probability_rises_with_length() -> None:
    sensor = scenario_from_dict(SHIPPED, source="unit").sensors[1]
    pd = detection_probability(np.array([5.0, 12.0, 20.0, 50.0, 180.0]), sensor)  # type: ignore[arg-type]
    assert np.all(np.diff(pd) > 0) and pd[0] < 0.1 and pd[2] == pytest.approx(0.475) and pd[-1] > 0.94


def test_detections_are_where_the_vessels_were_and_the_rate_follows_length() -> None:
    # 41 passes over 30 parked 12 m boats and 30 parked 50 m ships: Pd 0.20 vs 0.94 by the logistic
    objs = [{"id": f"b{i}", "kind": "pleasure_craft", "speed_kn": 1.0, "hold_at_end": True,
             "route": [{"lat": 9.9, "lon": -79.0 + 0.01 * i}] * 2} for i in range(30)]
    objs += [{"id": f"s{i}", "kind": "fishing", "length_m": 50.0, "speed_kn": 1.0, "hold_at_end": True,
              "route": [{"lat": 10.1, "lon": -79.0 + 0.01 * i}] * 2} for i in range(30)]
    sensor = {"kind": "sat_imagery", "id": "opt", "sensor": "optical", "swath": [[-79.5, 9.7], [-78.3, 9.7], [-78.3, 10.25], [-79.5, 10.25]],
              "revisit_s": 90.0, "pos_err_m": 30.0, "latency_min_s": 60.0, "latency_max_s": 600.0}
    sc = scenario_from_dict(base_doc(objects=objs, sensors=[sensor]), source="unit")
    scenes = [msgspec.json.decode(m.payload, type=SatScene) for m in iter_feed(sc)]
    assert len(scenes) == 41 and len({s.acq_time for s in scenes}) == 41  # t0, t0 + 90 s, ..., the end
    lat = np.array([d.lat for s in scenes for d in s.detections])
    small, large = np.sum(lat < 10.0) / (41 * 30), np.sum(lat > 10.0) / (41 * 30)
    assert 0.12 < small < 0.32 and large > 0.88
    assert all(abs(d.lat - (9.9 if d.lat < 10.0 else 10.1)) < 6 * 30.0 / 111_320.0 for s in scenes for d in s.detections)


def test_a_bad_swath_is_named() -> None:
    doc = base_doc(sensors=[{"kind": "sat_imagery", "id": "s", "swath": [[-79.0, 9.5], [-78.5, 9.5]]}])
    with pytest.raises(ScenarioError, match=r"sensors\[0\]\.swath = .*must be a valid polygon"):
        scenario_from_dict(doc, source="unit")
    doc = base_doc(sensors=[{"kind": "sat_imagery", "id": "s", "swath": [[-79.0, 9.5], [-78.5, 9.5], [-78.5, 10.0]],
                             "latency_min_s": 600.0, "latency_max_s": 60.0}])
    with pytest.raises(ScenarioError, match=r"sensors\[0\]\.latency_max_s = 60.0"):
        scenario_from_dict(doc, source="unit")
