"""ADS-B codec: SBS-1 merge, aircraft.json, format detection, schema agreement."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from sensors import adsb
from sensors.codec import FOOT_M, KNOT_MPS
from sensors.reports import AdsbReport

T0 = 1_700_000_000.0
SCHEMA = json.loads((Path(adsb.__file__).parent / "schemas" / "adsb-aircraft.schema.json").read_text())
# Hand-written SBS-1 lines as dump1090 port 30003 emits them (22 fields).
SBS = (
    b"MSG,1,1,1,4CA2D6,1,2023/11/14,22:13:20.000,2023/11/14,22:13:20.000,RYR7LD  ,,,,,,,,,,,\r\n"
    b"MSG,3,1,1,4CA2D6,1,2023/11/14,22:13:20.500,2023/11/14,22:13:20.500,,37000,,,18.12345,-66.54321,,,0,0,0,0\r\n"
    b"MSG,4,1,1,4CA2D6,1,2023/11/14,22:13:20.600,2023/11/14,22:13:20.600,,,450.5,271.2,,,-1024,,0,0,0,0\r\n"
    b"MSG,8,1,1,4CA2D6,1,2023/11/14,22:13:20.700,2023/11/14,22:13:20.700,,,,,,,,,,,,0\r\n"
)


def test_sbs_lines_merge_into_one_report_with_si_units() -> None:
    decoder = adsb.AdsbDecoder()
    reports, errors = decoder.decode(SBS, "rx", T0)
    assert errors == []
    assert reports == [AdsbReport(
        t=T0 + 0.5, source="rx", icao24=0x4CA2D6, lat=18.12345, lon=-66.54321,
        alt_m=37000 * FOOT_M, gs_mps=450.5 * KNOT_MPS, track_deg=271.2,
        vrate_mps=-1024 * (FOOT_M / 60.0), callsign="RYR7LD",
    )]
    assert decoder.stats.other_messages == 1


def test_aircraft_json_time_is_now_minus_seen_pos() -> None:
    doc = {"now": T0, "messages": 5, "aircraft": [
        {"hex": "a1b2c3", "flight": "N123AB  ", "alt_baro": "ground", "gs": 10.0,
         "lat": 18.0, "lon": -66.0, "seen_pos": 2.5, "nac_p": 9, "rssi": -20.1},
        {"hex": "~f00001", "lat": 1.0, "lon": 1.0},
        {"hex": "a1b2c4", "alt_baro": 1200},
    ]}
    decoder = adsb.AdsbDecoder()
    reports, errors = decoder.decode(json.dumps(doc).encode(), "rx", T0)
    assert errors == []
    assert reports == [AdsbReport(t=T0 - 2.5, source="rx", icao24=0xA1B2C3, lat=18.0, lon=-66.0,
                                  gs_mps=10.0 * KNOT_MPS, nac_p=9, callsign="N123AB")]
    assert (decoder.stats.non_icao, decoder.stats.without_position) == (1, 1)


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"hex": "zzzzzz", "lat": 1.0, "lon": 1.0}, "aircraft[0].hex"),
        ({"hex": "abcdef", "lat": 91.0, "lon": 1.0}, "aircraft[0].lat"),
        ({"hex": "abcdef", "lat": 1.0, "lon": 1.0, "alt_baro": "high"}, "aircraft[0].alt_baro"),
        ({"hex": "abcdef", "lat": 1.0, "lon": 1.0, "nac_p": 12}, "aircraft[0].nac_p"),
        ({"hex": "abcdef", "lat": 1.0, "lon": 1.0, "track": 360}, "aircraft[0].track"),
        ({"hex": "abcdef", "lat": 1.0, "lon": 1.0, "seen_pos": 1e6}, "aircraft[0].seen_pos"),
        ({"hex": "abcdef", "lat": "1", "lon": 1.0}, "aircraft[0].lat"),
    ],
)
def test_aircraft_json_rejections_name_the_entry_field(entry: dict, field: str) -> None:
    doc = {"now": T0, "aircraft": [entry, {"hex": "000001", "lat": 2.0, "lon": 2.0}]}
    reports, errors = adsb.AdsbDecoder().decode(json.dumps(doc).encode(), "rx", T0)
    assert [e.field for e in errors] == [field]
    assert [r.icao24 for r in reports] == [1]
    assert not jsonschema.Draft202012Validator(SCHEMA).is_valid(doc)


@pytest.mark.parametrize(
    ("column", "value", "field"),
    [(14, "95.0", "lines[1].lat"), (11, "x", "lines[1].altitude"), (4, "XYZ", "lines[1].hex"),
     (6, "2023-11-14", "lines[1].date"), (15, "nan", "lines[1].lon")],
)
def test_sbs_rejections_name_the_field(column: int, value: str, field: str) -> None:
    lines = SBS.decode().split("\r\n")
    cells = lines[1].split(",")
    cells[column] = value
    lines[1] = ",".join(cells)
    reports, errors = adsb.AdsbDecoder().decode("\r\n".join(lines).encode(), "rx", T0)
    assert [e.field for e in errors] == [field] and reports == []


def test_encoders_round_trip_and_aircraft_json_validates() -> None:
    report = AdsbReport(t=T0 - 0.25, source="rx", icao24=0x00ABCD, lat=17.5, lon=-65.25,
                        alt_m=500 * FOOT_M, gs_mps=(1200 / 10) * KNOT_MPS, track_deg=90.5,
                        vrate_mps=-320 * (FOOT_M / 60.0), nac_p=8, callsign="AAL1")
    payload = adsb.encode_aircraft_json(T0, [report])
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(payload))
    decoder = adsb.AdsbDecoder()
    assert decoder.decode(payload, "rx", T0) == ([report], [])
    without_nac = AdsbReport(**{**{f: getattr(report, f) for f in report.__struct_fields__}, "nac_p": None})
    assert decoder.decode(adsb.encode_sbs([without_nac]), "rx", T0) == ([without_nac], [])
