"""Bounded decoding (issue 18 item 1): nesting depth, payload size, lines per payload and
plots per scan are checked before parsing; a payload over a limit is one reject; the
rejects summary is keyed by field pattern and bounded in size."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.core.frame import LocalFrame
from fusion.ingest import (
    MAX_REASON_CHARS,
    MAX_REJECT_FIELDS,
    OTHER_FIELDS,
    RECENT_REJECTS,
    Ingest,
    field_pattern,
)
from sensors import ais
from sensors.adsb import AdsbDecoder, encode_aircraft_json
from sensors.ais import AisDecoder
from sensors.codec import json_depth, line_count
from sensors.errors import DecodeError
from sensors.limits import DEFAULT_LIMITS, DecodeLimits
from sensors.oth import OthDecoder
from sensors.oth import encode as encode_fix
from sensors.radar import RadarDecoder
from sensors.radar import encode as encode_scan
from sensors.reports import AdsbReport, AisPosition, OthFix, RadarPlot, RadarScan

T0 = 1_700_000_000.0
FRAME = LocalFrame(9.0, 10.3, -79.8, -77.9)
SCAN = RadarScan(site="s1", t=T0, sensor_lat=9.6, sensor_lon=-78.9, sensor_alt_m=40.0, sigma_range_m=25.0, sigma_az_deg=0.15,
                 plots=[RadarPlot(range_m=10_000.0 + 100 * k, az_deg=10.0 * k, snr_db=15.0) for k in range(5)])
FIX = OthFix(site="s1", t=T0, lat=9.5, lon=-79.0, cov_en_m2=((1e8, 0.0), (0.0, 1e8)))
AIRCRAFT = AdsbReport(t=T0, source="s1", icao24=0xABC123, lat=9.5, lon=-79.0, alt_m=3000.0, gs_mps=200.0, track_deg=90.0)
GOOD_AIS = ais.encode_payload([AisPosition(t=T0, source="s1", mmsi=367_000_001, lat=9.5, lon=-79.0, sog_mps=4.0, cog_deg=45.0)])


def _decoders() -> dict[str, tuple[object, bytes]]:
    """Each JSON decoder (ingest's entry point) with a good payload of its feed."""
    return {"radar": (RadarDecoder().decode_arrays, encode_scan(SCAN)), "radar-general": (RadarDecoder(fast=False).decode_arrays, encode_scan(SCAN)),
            "oth": (OthDecoder().decode, encode_fix(FIX)), "adsb": (AdsbDecoder().decode, encode_aircraft_json(T0, [AIRCRAFT]))}


def _deep(depth: int, where: str) -> bytes:
    nest = b"[" * depth + b"]" * depth
    return {"top": nest, "field": b'{"plots":' + nest + b"}", "unknown": b'{"x":' + nest + b"}",
            "aircraft": b'{"now":1700000000,"aircraft":[' + nest + b"]}", "objects": b'{"a":' * depth + b"1" + b"}" * depth}[where]


def test_msgspec_itself_raises_recursion_error_on_deep_json() -> None:
    # why the depth is checked before parsing: the parser recurses per level
    with pytest.raises(RecursionError):
        msgspec.json.decode(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
@pytest.mark.parametrize("where", ["top", "field", "unknown", "aircraft", "objects"])
@pytest.mark.parametrize("feed", ["radar", "radar-general", "oth", "adsb"])
def test_deep_json_is_one_reject_naming_the_limit_then_a_good_payload_decodes(feed: str, where: str, depth: int) -> None:
    decode, good = _decoders()[feed]
    reports, errors = decode(_deep(depth, where), "s1", T0)  # type: ignore[operator]
    if feed == "adsb" and where == "top":  # not JSON for ADS-B (no "{"): an SBS-1 line, rejected as such
        assert [e.field for e in errors] == ["lines[0].message_type"]
    else:
        assert reports == [] and len(errors) == 1
        assert errors[0].field == "payload" and "max_json_depth" in str(errors[0])
        assert depth <= int(str(errors[0].value).strip("<>").split()[-1]) <= depth + 2  # the wrapper's levels
    reports, errors = decode(good, "s1", T0)  # type: ignore[operator]
    assert len(reports) == 1 and errors == []


def test_depth_at_the_limit_is_parsed() -> None:
    limits = DecodeLimits(max_json_depth=4)
    payload = b'{"site":"s1","t":1700000000,"plots":[[[1]]]}'  # depth 4: parsed, the plot rejected by type
    _, errors = RadarDecoder(limits=limits).decode_arrays(payload, "s1", T0)
    assert errors and "max_json_depth" not in str(errors[0])
    _, errors = RadarDecoder(limits=limits).decode_arrays(payload.replace(b"[[[1]]]", b"[[[[1]]]]"), "s1", T0)
    assert "max_json_depth" in str(errors[0])


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=6),
                           lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\x', max_size=3), kids, max_size=3),
                           max_leaves=30)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=400, deadline=None)
@given(json_values, st.booleans())
def test_json_depth_is_exact_for_any_json(value: object, pretty: bool) -> None:
    # strings full of brackets, quotes and backslashes must not count
    text = json.dumps(value, indent=1 if pretty else None).encode()
    assert json_depth(text) == _depth(value)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40) | st.lists(st.sampled_from([b"a", b"\n", b"\r", b"\r\n", b"\x0b", b"\x1c", b"\x85", b"\xff"]),
                                         max_size=30).map(b"".join))
def test_line_count_is_what_the_decoders_split(payload: bytes) -> None:
    assert line_count(payload) == len(payload.decode("ascii", errors="replace").splitlines())


def _huge_ais() -> bytes:
    payload = b"a\n" * 500_000  # 1,000,000 bytes: under the size limit, 500,000 lines
    assert len(payload) <= DEFAULT_LIMITS.max_payload_bytes
    return payload


def test_500000_line_ais_payload_is_one_reject_without_decoding_a_line() -> None:
    dec = AisDecoder()
    reports, errors = dec.decode(_huge_ais(), "s1", T0)
    assert reports == [] and len(errors) == 1
    assert errors[0].field == "payload" and errors[0].value == "<500000 lines>" and "max_lines_per_payload" in errors[0].reason
    assert dec.stats.sentences == 0 and dec.stats.other_sentences == 0  # no line was looked at
    # a normal payload's lines are each decoded
    reports, errors = dec.decode(GOOD_AIS, "s1", T0)
    assert len(reports) == 1 and errors == [] and dec.stats.sentences == 1


def test_sbs_lines_and_aircraft_entries_are_bounded() -> None:
    limits = DecodeLimits(max_lines_per_payload=10)
    dec = AdsbDecoder(limits=limits)
    _, errors = dec.decode(b"x\r\n" * 11, "s1", T0)
    assert [(e.field, e.value) for e in errors] == [("payload", "<11 lines>")]
    _, errors = dec.decode(b"x\r\n" * 10, "s1", T0)
    assert len(errors) == 10 and errors[0].field == "lines[0].message_type"  # at the limit: each line decoded
    _, errors = dec.decode(encode_aircraft_json(T0, [AIRCRAFT] * 11), "s1", T0)
    assert [(e.field, e.value) for e in errors] == [("aircraft", "<11 entries>")]
    assert len(dec.decode(encode_aircraft_json(T0, [AIRCRAFT] * 10), "s1", T0)[0]) == 10


@pytest.mark.parametrize("fast", [True, False])
def test_plots_per_scan_are_bounded(fast: bool) -> None:
    dec = RadarDecoder(fast=fast, limits=DecodeLimits(max_plots_per_scan=4))
    reports, errors = dec.decode_arrays(encode_scan(SCAN), "s1", T0)  # 5 plots
    assert reports == [] and [(e.field, e.value) for e in errors] == [("plots", "<5 plots>")]
    scan4 = msgspec.structs.replace(SCAN, plots=SCAN.plots[:4])
    assert len(dec.decode_arrays(encode_scan(scan4), "s1", T0)[0][0]) == 4


def test_limits_are_validated_naming_the_field() -> None:
    with pytest.raises(ValueError, match="max_json_depth = 0"):
        DecodeLimits(max_json_depth=0)


def test_ingest_counts_the_huge_payload_once_and_the_summary_stays_small() -> None:
    ing = Ingest(FRAME, reorder_window_s=0.0)
    assert ing.accept("jisf/v1/feeds/ais/s1", _huge_ais(), T0) == 0
    assert ing.log.total_rejected("ais") == 1
    summary = ing.log.summary("ais")
    assert summary["by_field"] == {"payload": 1}
    assert len(msgspec.json.encode(summary)) < 2_000
    assert ing.accept("jisf/v1/feeds/ais/s1", GOOD_AIS, T0 + 1.0) == 1  # then a good payload still decodes


def test_rejects_are_counted_by_field_pattern_and_the_summary_is_bounded() -> None:
    ing = Ingest(FRAME, reorder_window_s=0.0)
    bad_lines = b"\n".join(b"!AIVDM,1,1,,A,bad*00" for _ in range(40_000))  # under the line limit: one reject per line
    assert ing.accept("jisf/v1/feeds/ais/s1", bad_lines, T0) == 0
    assert ing.log.rejected[("ais", "lines[*].checksum")] == 40_000
    for k in range(3 * MAX_REJECT_FIELDS):  # many distinct field names
        ing.log.reject("ais", DecodeError("ais/s1", f"field{k}[{k}]", "x" * 10_000, "bad"))
    summary = ing.log.summary("ais")
    assert len(summary["by_field"]) == MAX_REJECT_FIELDS + 1 and summary["by_field"][OTHER_FIELDS] == 2 * MAX_REJECT_FIELDS + 1
    assert summary["rejected"] == 40_000 + 3 * MAX_REJECT_FIELDS
    assert len(summary["recent"]) == RECENT_REJECTS and all(len(r) <= MAX_REASON_CHARS for r in summary["recent"])
    assert len(msgspec.json.encode(summary)) < 20_000


def test_field_pattern() -> None:
    assert field_pattern("lines[123456].sentence") == "lines[*].sentence"
    assert field_pattern("plots[4].range_m") == "plots[*].range_m"
    assert field_pattern("cov_en_m2[1][0]") == "cov_en_m2[*][*]"
    assert field_pattern("payload") == "payload"
