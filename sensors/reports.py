"""Decoded sensor reports: the typed records that cross from codecs into fusion.

Every codec in ``sensors`` decodes wire bytes into these records and encodes them back
(``decode(encode(r)) == r``). Units as DESIGN.md: Unix seconds, degrees, metres, m/s.
Identity keys: ``mmsi`` is the 9-digit MMSI as int; ``icao24`` is the 24-bit ICAO
address as int (0..0xFFFFFF).
"""

from __future__ import annotations

from typing import Literal

import msgspec

Domain = Literal["surface", "air"]


class AisPosition(msgspec.Struct, frozen=True, kw_only=True):
    """AIS position report (types 1/2/3 class A, 18/19 class B, 27 long range)."""

    t: float  # receive time (tag block ``c:``), else the service's receive time
    source: str  # receiver id (last topic level)
    mmsi: int
    lat: float
    lon: float
    sog_mps: float | None = None  # speed over ground; None when "not available"
    cog_deg: float | None = None  # course over ground; None when "not available"
    heading_deg: float | None = None
    msg_type: int = 1
    accuracy: bool = False  # position accuracy flag: True = high (< 10 m)


class AisStatic(msgspec.Struct, frozen=True, kw_only=True):
    """AIS static and voyage data (type 5, class A; type 24 parts A/B, class B)."""

    t: float
    source: str
    mmsi: int
    name: str | None = None
    callsign: str | None = None
    ship_type: int | None = None
    msg_type: int = 5


class AdsbReport(msgspec.Struct, frozen=True, kw_only=True):
    """One aircraft position (SBS-1 MSG,3 + MSG,4 merged, or one aircraft.json entry)."""

    t: float  # time of the position fix
    source: str
    icao24: int
    lat: float
    lon: float
    alt_m: float | None = None  # barometric altitude, metres
    gs_mps: float | None = None  # ground speed
    track_deg: float | None = None  # track over ground
    vrate_mps: float | None = None  # vertical rate
    nac_p: int | None = None  # navigation accuracy category for position, 0..11
    callsign: str | None = None


class RadarPlot(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """One detection in a scan: slant range, azimuth (true north, clockwise), elevation."""

    range_m: float
    az_deg: float
    el_deg: float | None = None
    snr_db: float | None = None


class RadarScan(msgspec.Struct, frozen=True, kw_only=True):
    """One radar scan or sector: sensor identity and position at scan time, noise, plots."""

    site: str
    t: float  # measurement time of the scan (sector centre), Unix s
    sensor_lat: float
    sensor_lon: float
    sensor_alt_m: float
    sigma_range_m: float
    sigma_az_deg: float
    sigma_el_deg: float | None = None
    mode: Literal["surface", "air"] = "surface"  # surface-search or air-search
    scan_id: int = 0
    sensor_heading_deg: float | None = None  # moving platform navigation, if any
    sensor_speed_mps: float | None = None
    max_range_m: float | None = None  # instrumented range of this scan: tracks inside it and not detected missed a look
    plots: list[RadarPlot] = []


class OthFix(msgspec.Struct, frozen=True, kw_only=True):
    """Over-the-horizon radar fix: position with a 2-D east/north error covariance."""

    site: str
    t: float
    lat: float
    lon: float
    cov_en_m2: tuple[tuple[float, float], tuple[float, float]]  # [[ee, en], [ne, nn]]
    speed_mps: float | None = None
    course_deg: float | None = None


Report = AisPosition | AisStatic | AdsbReport | RadarScan | OthFix
