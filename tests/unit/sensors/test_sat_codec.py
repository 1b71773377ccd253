"""Satellite imagery detections codec: round trips, field-named rejections, schema agreement."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.core.frame import LocalFrame
from fusion.ingest import Ingest
from sensors import sat
from sensors.reports import SatDetection, SatScene

T0 = 1_700_000_000.0
SCHEMA = json.loads((Path(sat.__file__).parent / "schemas" / "sat.schema.json").read_text())
SCENE = SatScene(source="s1a", sensor="sar", acq_time=T0 - 5400.0, detections=[
    SatDetection(lat=3.5, lon=-78.2, pos_err_m=60.0, length_m=48.5, confidence=0.91),
    SatDetection(lat=3.6, lon=-78.0, pos_err_m=60.0, length_m=None, confidence=0.6)])


def finite(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


detections = st.builds(SatDetection, lat=finite(-90, 90), lon=finite(-180, 180), pos_err_m=finite(1.0, 50_000.0),
                       length_m=st.none() | finite(1.0, 500.0), confidence=finite(0.0, 1.0))
scenes = st.builds(SatScene, source=st.just("s1a"), sensor=st.sampled_from(["sar", "viirs", "optical"]),
                   acq_time=finite(T0 - 21_600.0, T0 + 300.0), detections=st.lists(detections, max_size=20))


@settings(max_examples=200, deadline=None)
@given(scenes)
def test_round_trip(scene: SatScene) -> None:
    payload = sat.encode(scene)
    assert sat.SatDecoder().decode(payload, "s1a", T0) == ([scene], [])
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(payload))


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"sensor": "lidar"}, "sensor", "Invalid enum value 'lidar'"),
    ({"source": "s1b"}, "source", "must match the topic's source 's1a'"),
    ({"acq_time": T0 - 30_000.0}, "acq_time", "is more than 21600 s before the receive time"),
    ({"acq_time": "yesterday"}, "acq_time", "Expected `float`, got `str`"),
    ({"detections": [{"lat": 91.0, "lon": 0.0, "pos_err_m": 50.0}]}, "detections[0].lat", "must be a finite number in [-90, 90]"),
    ({"detections": [{"lat": 3.0, "lon": -78.0, "pos_err_m": 50.0},
                     {"lat": 3.0, "lon": -78.0, "pos_err_m": 0.0}]}, "detections[1].pos_err_m", "in [1, 50000]"),
    ({"detections": [{"lat": 3.0, "lon": -78.0}]}, "detections[0].pos_err_m", "missing required field"),
    ({"detections": [{"lat": 3.0, "lon": -78.0, "pos_err_m": 50.0, "length_m": -4}]}, "detections[0].length_m", "in [1, 500]"),
    ({"detections": [{"lat": 3.0, "lon": -78.0, "pos_err_m": 50.0, "confidence": 1.5}]}, "detections[0].confidence", "in [0, 1]"),
    ({"detections": [{"lat": 3.0, "lon": "west", "pos_err_m": 50.0}]}, "detections[0].lon", "Expected `float`, got `str`"),
])
def test_bad_input_is_rejected_whole_with_the_field_named(change: dict[str, object], field: str, reason: str) -> None:
    doc = {**json.loads(sat.encode(SCENE)), **change}
    reports, errors = sat.SatDecoder().decode(json.dumps(doc).encode(), "s1a", T0)
    assert reports == [] and len(errors) == 1
    assert errors[0].field == field and reason in errors[0].reason and str(errors[0]).startswith(f"sat/s1a: {field} = ")
    assert not jsonschema.Draft202012Validator(SCHEMA).is_valid(doc) or field in ("source", "acq_time")


def test_not_json_and_too_deep_are_rejected() -> None:
    dec = sat.SatDecoder()
    assert dec.decode(b"{not json", "s1a", T0)[1][0].field == "payload"
    assert "max_json_depth" in dec.decode(b"[" * 100 + b"]" * 100, "s1a", T0)[1][0].reason


def test_ingest_counts_a_bad_scene_under_its_field_and_a_detection_outside_the_area() -> None:
    ing = Ingest(LocalFrame(2.0, 4.0, -80.0, -78.0))
    assert ing.accept("jisf/v1/feeds/sat/s1a", sat.encode(SCENE), T0) == 1
    far = SatScene(source="s1a", sensor="optical", acq_time=T0, detections=[SatDetection(lat=30.0, lon=-78.0, pos_err_m=9.0)])
    assert ing.accept("jisf/v1/feeds/sat/s1a", sat.encode(far), T0) == 0
    assert ing.log.summary("sat")["by_field"] == {"detections[*].lat": 1}
