"""Round trips ``decode(encode(r)) == r`` for every wire format, on each wire's quantisation grid.

Grids (docs/FORMATS.md): AIS lat/lon k/600000 deg rounded to 1e-6 as pyais decodes it,
SOG k/10 kn, COG k/10 deg, heading whole deg, time whole s or ms; ADS-B time ms,
lat/lon 1e-6 deg, altitude whole ft, ground speed k/10 kn, track k/10 deg, vertical
rate whole ft/min; radar and OTH JSON carry float64 exactly.
"""

from __future__ import annotations

import math

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors import adsb, ais, oth, radar
from sensors.codec import FOOT_M, KNOT_MPS
from sensors.reports import AdsbReport, AisPosition, AisStatic, OthFix, RadarPlot, RadarScan, RadarScanArrays

SETTINGS = settings(max_examples=100, deadline=None)
T0 = 1_700_000_000.0
T_MS = st.integers(0, 3_600_000).map(lambda ms: (1_700_000_000_000 + ms) / 1000.0)  # within 1 h
SIXBIT = "".join(c for c in ais.SIXBIT_TEXT if c != "@")


def ais_text(width: int) -> st.SearchStrategy[str | None]:
    text = st.text(alphabet=SIXBIT, min_size=1, max_size=width).filter(lambda s: s == s.strip())
    return st.none() | text


def optional(strategy: st.SearchStrategy[float]) -> st.SearchStrategy[float | None]:
    return st.none() | strategy


def tenths(hi: int, scale: float = 1.0) -> st.SearchStrategy[float]:
    """k / 10 * scale for k in 0..hi (the 0.1-unit wire grid)."""
    return st.integers(0, hi).map(lambda k: (k / 10) * scale)


ais_positions = st.builds(
    AisPosition,
    t=T_MS,
    source=st.just("rx1"),
    mmsi=st.integers(1, ais.MMSI_MAX),
    lat=st.integers(-54_000_000, 54_000_000).map(lambda k: round(k / 600_000.0, 6)),
    lon=st.integers(-108_000_000, 108_000_000).map(lambda k: round(k / 600_000.0, 6)),
    sog_mps=optional(tenths(1022, KNOT_MPS)),
    cog_deg=optional(tenths(3599)),
    heading_deg=optional(st.integers(0, 359).map(float)),
    msg_type=st.sampled_from(sorted(ais.ENCODED_POSITION_TYPES)),
    accuracy=st.booleans(),
)
ais_statics = st.builds(
    AisStatic,
    t=T_MS,
    source=st.just("rx1"),
    mmsi=st.integers(1, ais.MMSI_MAX),
    name=ais_text(ais.NAME_CHARS),
    callsign=ais_text(ais.CALLSIGN_CHARS),
    ship_type=st.none() | st.sampled_from(sorted(ais.SHIP_TYPES)),
    msg_type=st.sampled_from([5, 24]),
)
adsb_reports = st.builds(
    AdsbReport,
    t=T_MS,
    source=st.just("rx"),
    icao24=st.integers(0, adsb.ICAO_MAX),
    lat=st.integers(-90_000_000, 90_000_000).map(lambda k: k / 1e6),
    lon=st.integers(-180_000_000, 180_000_000).map(lambda k: k / 1e6),
    alt_m=optional(st.integers(-3280, 98425).map(lambda k: k * FOOT_M)),
    gs_mps=optional(tenths(29150, KNOT_MPS)),
    track_deg=optional(tenths(3599)),
    vrate_mps=optional(st.integers(-98425, 98425).map(lambda k: k * (FOOT_M / 60.0))),
    nac_p=st.none() | st.integers(0, 11),
    callsign=st.none() | st.from_regex(r"[A-Z0-9]{1,8}", fullmatch=True),
)


def finite(lo: float, hi: float, *, exclude_max: bool = False) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, exclude_max=exclude_max)


radar_plots = st.builds(
    RadarPlot,
    range_m=finite(0.0, 5e6),
    az_deg=finite(0.0, 360.0, exclude_max=True),
    el_deg=optional(finite(-90.0, 90.0)),
    snr_db=optional(finite(-100.0, 200.0)),
)
radar_scans = st.builds(
    RadarScan,
    site=st.just("site-3"),
    t=finite(T0, T0 + 3600.0),
    sensor_lat=finite(-90.0, 90.0),
    sensor_lon=finite(-180.0, 180.0),
    sensor_alt_m=finite(-1000.0, 30000.0),
    sigma_range_m=finite(0.0, 1e4),
    sigma_az_deg=finite(0.0, 10.0),
    sigma_el_deg=optional(finite(0.0, 10.0)),
    mode=st.sampled_from(["surface", "air"]),
    scan_id=st.integers(0, 2**40),
    sensor_heading_deg=optional(finite(0.0, 360.0, exclude_max=True)),
    sensor_speed_mps=optional(finite(0.0, 1500.0)),
    plots=st.lists(radar_plots, max_size=30),
)


@st.composite
def oth_fixes(draw: st.DrawFn) -> OthFix:
    ee, nn = draw(finite(1.0, 1e12)), draw(finite(1.0, 1e12))
    en = draw(finite(-0.99, 0.99)) * math.sqrt(ee * nn)
    return OthFix(
        site="oth-1", t=draw(finite(T0, T0 + 3600.0)), lat=draw(finite(-90.0, 90.0)),
        lon=draw(finite(-180.0, 180.0)), cov_en_m2=((ee, en), (en, nn)),
        speed_mps=draw(optional(finite(0.0, 1500.0))),
        course_deg=draw(optional(finite(0.0, 360.0, exclude_max=True))),
    )


@SETTINGS
@given(ais_positions)
def test_ais_position_round_trip(report: AisPosition) -> None:
    payload = "\n".join(ais.encode(report)).encode()
    assert ais.AisDecoder().decode(payload, "rx1", report.t) == ([report], [])


@SETTINGS
@given(ais_statics, st.integers(0, 9), st.sampled_from("AB"))
def test_ais_static_round_trip(report: AisStatic, seq_id: int, channel: str) -> None:
    payload = "\r\n".join(ais.encode(report, seq_id=seq_id, channel=channel)).encode()
    assert ais.AisDecoder().decode(payload, "rx1", report.t) == ([report], [])


@SETTINGS
@given(st.lists(ais_positions, max_size=20))
def test_ais_many_positions_in_one_payload_round_trip(reports: list[AisPosition]) -> None:
    recv_t = max((r.t for r in reports), default=T0)
    assert ais.AisDecoder().decode(ais.encode_payload(reports), "rx1", recv_t) == (reports, [])


@SETTINGS
@given(st.lists(adsb_reports, max_size=20, unique_by=lambda r: r.icao24))
def test_sbs_round_trip(reports: list[AdsbReport]) -> None:
    reports = [msgspec.structs.replace(r, nac_p=None) for r in reports]  # SBS has no NACp
    recv_t = max((r.t for r in reports), default=T0)
    assert adsb.AdsbDecoder().decode(adsb.encode_sbs(reports), "rx", recv_t) == (reports, [])


@SETTINGS
@given(st.lists(adsb_reports, max_size=20), st.integers(0, 60_000))
def test_aircraft_json_round_trip(reports: list[AdsbReport], lag_ms: int) -> None:
    now = max((r.t for r in reports), default=T0) + lag_ms / 1000.0
    assert adsb.AdsbDecoder().decode(adsb.encode_aircraft_json(now, reports), "rx", now) == (
        reports, [])


@SETTINGS
@given(radar_scans)
def test_radar_round_trip(scan: RadarScan) -> None:
    assert radar.RadarDecoder().decode(radar.encode(scan), "site-3", scan.t) == ([scan], [])


@SETTINGS
@given(radar_scans)
def test_radar_arrays_round_trip(scan: RadarScan) -> None:
    """The ingest form: decode_arrays(encode(scan)) is the scan, as arrays, and back."""
    (arrays,), errors = radar.RadarDecoder().decode_arrays(radar.encode(scan), "site-3", scan.t)
    assert errors == [] and arrays.to_scan() == scan and arrays == RadarScanArrays.from_scan(scan)


@SETTINGS
@given(oth_fixes())
def test_oth_round_trip(fix: OthFix) -> None:
    assert oth.OthDecoder().decode(oth.encode(fix), "oth-1", fix.t) == ([fix], [])
