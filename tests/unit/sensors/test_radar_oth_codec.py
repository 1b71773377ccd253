"""Radar and OTH JSON codecs: field-named rejections, partial scans, schema agreement."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import msgspec
import numpy as np
import pytest

from sensors import oth, radar
from sensors.reports import OthFix, RadarPlot, RadarScan

T0 = 1_700_000_000.0
SCHEMAS = Path(radar.__file__).parent / "schemas"
SCAN = RadarScan(
    site="pr-1", t=T0, sensor_lat=18.2, sensor_lon=-66.5, sensor_alt_m=120.0,
    sigma_range_m=30.0, sigma_az_deg=0.15, scan_id=7,
    plots=[RadarPlot(range_m=12_000.0, az_deg=45.5, snr_db=14.0),
           RadarPlot(range_m=40_500.0, az_deg=359.9)],
)
FIX = OthFix(site="roth-1", t=T0, lat=12.5, lon=-78.25,
             cov_en_m2=((2.25e8, 1.0e7), (1.0e7, 1.0e8)), speed_mps=15.0, course_deg=10.0)


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_radar_round_trip_and_compact_plots() -> None:
    payload = radar.encode(SCAN)
    assert b'"plots":[[12000.0,45.5,null,14.0],[40500.0,359.9,null,null]]' in payload
    assert radar.RadarDecoder().decode(payload, "pr-1", T0) == ([SCAN], [])


def test_radar_bad_plot_is_dropped_and_named() -> None:
    doc = json.loads(radar.encode(SCAN))
    doc["plots"].insert(1, [-12.0, 10.0])
    doc["plots"].append([100.0, 360.0])
    reports, errors = radar.RadarDecoder().decode(json.dumps(doc).encode(), "pr-1", T0)
    assert [str(e) for e in errors] == [
        "radar/pr-1: plots[1].range_m = -12.0: must be a finite number in [0, 5e+06]",
        "radar/pr-1: plots[3].az_deg = 360.0: must be a finite number in [0, 360)",
    ]
    assert reports == [SCAN]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("sensor_lat",), 91.0, "sensor_lat"),
        (("sigma_range_m",), -1.0, "sigma_range_m"),
        (("t",), T0 + 3600.0, "t"),
        (("site",), "other", "site"),
        (("plots", 0, 0), "far", "plots[0].range_m"),
        (("plots", 1, 2), "x", "plots[1].el_deg"),
        (("mode",), "sub", "mode"),
        (("scan_id",), -3, "scan_id"),
        (("snr_1m2_db",), 7.0, "rcs_ref_range_m"),  # the radar constant needs both fields
        (("rcs_ref_range_m",), 30000.0, "snr_1m2_db"),
        (("snr_1m2_db",), 250.0, "snr_1m2_db"),
    ],
)
def test_radar_rejections_name_the_field(path: tuple, value: object, field: str) -> None:
    doc = json.loads(radar.encode(SCAN))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    payload = json.dumps(doc).encode()
    reports, errors = radar.RadarDecoder().decode(payload, "pr-1", T0)
    assert [e.field for e in errors] == [field]
    if field.startswith("plots") and not isinstance(value, str):
        assert len(reports[0].plots) == 1
    else:
        assert reports == []


def test_radar_missing_field_and_non_json() -> None:
    doc = json.loads(radar.encode(SCAN))
    del doc["sigma_az_deg"]
    _, errors = radar.RadarDecoder().decode(json.dumps(doc).encode(), "pr-1", T0)
    assert errors[0].field == "sigma_az_deg"
    _, errors = radar.RadarDecoder().decode(b'{"site": NaN}', "pr-1", T0)
    assert errors[0].field == "payload"


def test_radar_constant_round_trips_and_gives_plot_rcs() -> None:
    """A scan with its radar constant: decoded by both paths alike; each plot's RCS by the radar equation,
    NaN for the plot without SNR and for a scan without the constant."""
    scan = msgspec.structs.replace(SCAN, snr_1m2_db=6.0, rcs_ref_range_m=30_000.0)
    payload = radar.encode(scan)
    validator("radar.schema.json").validate(json.loads(payload))
    assert radar.RadarDecoder().decode(payload, "pr-1", T0) == ([scan], [])
    arrays = radar.RadarDecoder().decode_arrays(payload, "pr-1", T0)[0][0]
    assert arrays.to_scan() == scan
    rcs = radar.plot_rcs_dbsm(arrays.scan, arrays.plots[:, 0], arrays.plots[:, 3])
    assert rcs[0] == pytest.approx(14.0 - 6.0 + 40.0 * np.log10(12_000.0 / 30_000.0))
    assert np.isnan(rcs[1])
    assert np.isnan(radar.plot_rcs_dbsm(SCAN, arrays.plots[:, 0], arrays.plots[:, 3])).all()


def test_oth_round_trip_and_covariance_checks() -> None:
    decoder = oth.OthDecoder()
    assert decoder.decode(oth.encode(FIX), "roth-1", T0) == ([FIX], [])
    for cov, field in [
        (((1e8, 2e7), (1e7, 1e8)), "cov_en_m2[1][0]"),
        (((1e8, 2e8), (2e8, 1e8)), "cov_en_m2"),
        (((-1e8, 0.0), (0.0, 1e8)), "cov_en_m2[0][0]"),
    ]:
        bad = msgspec.structs.replace(FIX, cov_en_m2=cov)
        assert [e.field for e in decoder.decode(oth.encode(bad), "roth-1", T0)[1]] == [field]


def test_encoded_payloads_validate_against_the_schemas() -> None:
    validator("radar.schema.json").validate(json.loads(radar.encode(SCAN)))
    validator("oth.schema.json").validate(json.loads(oth.encode(FIX)))


@pytest.mark.parametrize(
    ("schema", "document", "change"),
    [
        ("radar.schema.json", radar.encode(SCAN), {"sensor_lat": 91}),
        ("radar.schema.json", radar.encode(SCAN), {"plots": [[-1, 0]]}),
        ("radar.schema.json", radar.encode(SCAN), {"plots": [[1, 360]]}),
        ("radar.schema.json", radar.encode(SCAN), {"plots": [[1]]}),
        ("radar.schema.json", radar.encode(SCAN), {"sigma_az_deg": None}),
        ("radar.schema.json", radar.encode(SCAN), {"snr_1m2_db": 250.0}),
        ("radar.schema.json", radar.encode(SCAN), {"rcs_ref_range_m": 0.0, "snr_1m2_db": 7.0}),
        ("oth.schema.json", oth.encode(FIX), {"cov_en_m2": [[-1, 0], [0, 1]]}),
        ("oth.schema.json", oth.encode(FIX), {"lon": 181}),
        ("oth.schema.json", oth.encode(FIX), {"course_deg": 360}),
    ],
)
def test_schemas_reject_the_bad_cases_the_decoder_rejects(
    schema: str, document: bytes, change: dict[str, object]
) -> None:
    doc = {**json.loads(document), **change}
    assert not validator(schema).is_valid(doc)
    decoder = radar.RadarDecoder() if schema.startswith("radar") else oth.OthDecoder()
    site = doc["site"]
    _, errors = decoder.decode(json.dumps(doc).encode(), site, T0)
    assert errors
