"""ADS-B codec: SBS-1 (BaseStation) CSV lines and dump1090/readsb ``aircraft.json``.

The decoder detects the format per payload: a payload whose first non-blank byte is
``{`` is aircraft.json, anything else SBS-1. SBS-1 ``MSG,1`` (callsign), ``MSG,3``
(position, altitude) and ``MSG,4`` (velocity) of one ICAO address within a payload are
merged into AdsbReports, one per ``MSG,3``. Units on the wire: feet, knots, ft/min;
in reports metres, m/s (docs/FORMATS.md, "ADS-B").

Wire quantisation (the grid on which ``decode(encode(r)) == r``): time 1 ms; lat/lon
1e-6 deg; altitude 1 ft; ground speed 0.1 kn; track 0.1 deg; vertical rate 1 ft/min.
SBS-1 carries no NACp (decoded as None).
"""

from __future__ import annotations

import calendar
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np
from numpy.typing import NDArray

from sensors.codec import (
    ALT_M,
    ANGLE,
    FOOT_M,
    KNOT_MPS,
    LAT,
    LON,
    SPEED_MPS,
    VRATE_MPS,
    Bound,
    check_json_depth,
    check_line_count,
    check_number,
    check_payload_size,
    check_time,
    decode_json,
    feed_name,
)
from sensors.errors import DecodeError
from sensors.limits import DEFAULT_LIMITS, DecodeLimits
from sensors.reports import AdsbReport, Report

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

FEED = "adsb"
SBS_FIELDS = 22
NAC_P = Bound(0.0, 11.0)
ICAO_MAX = 0xFFFFFF
_HEX = re.compile(r"[0-9A-Fa-f]{6}")
_DATE = re.compile(r"(\d{4})/(\d{2})/(\d{2})")
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?")
_CALLSIGN = re.compile(r"[A-Z0-9 ]{1,8}")
_ENCODER = msgspec.json.Encoder()


def _check_callsign(callsign: str | None) -> str:
    if callsign is None:
        return ""
    if not _CALLSIGN.fullmatch(callsign) or callsign != callsign.strip():
        raise ValueError(f"adsb encode: callsign = {callsign!r}: must be 1-8 of A-Z 0-9 (inner spaces)")
    return callsign


@dataclass(frozen=True)
class AdsbColumns:
    """N ADS-B reports as (N,) columns, what the encoders write: t Unix s, icao24, lat/lon deg,
    alt_m m, gs_mps m/s, track_deg deg, vrate_mps m/s (NaN = absent), nac_p (-1 = absent),
    callsign (None = absent)."""

    t: FloatArray
    icao24: IntArray
    lat: FloatArray
    lon: FloatArray
    alt_m: FloatArray
    gs_mps: FloatArray
    track_deg: FloatArray
    vrate_mps: FloatArray
    nac_p: IntArray
    callsign: Sequence[str | None]

    @staticmethod
    def of(reports: Sequence[AdsbReport]) -> AdsbColumns:
        """The columns of ``reports``."""
        def column(name: str) -> FloatArray:
            return np.array([math.nan if (x := getattr(r, name)) is None else x for r in reports], dtype=np.float64)

        return AdsbColumns(
            t=column("t"), icao24=np.array([r.icao24 for r in reports], dtype=np.int64), lat=column("lat"),
            lon=column("lon"), alt_m=column("alt_m"), gs_mps=column("gs_mps"), track_deg=column("track_deg"),
            vrate_mps=column("vrate_mps"), nac_p=np.array([-1 if r.nac_p is None else r.nac_p for r in reports], dtype=np.int64),
            callsign=[r.callsign for r in reports])


def _fixed(values: FloatArray, scale: float, digits: int) -> list[str]:
    """(N,) ``value / scale`` written with ``digits`` decimals, '' where absent (NaN)."""
    return ["" if x != x else f"{x:.{digits}f}" for x in (values / scale).tolist()]


def _sbs_second(seconds: int) -> str:
    """Whole Unix seconds -> SBS-1 ``YYYY/MM/DD,HH:MM:SS`` UTC (the date and clock columns, no fraction)."""
    return time.strftime("%Y/%m/%d,%H:%M:%S", time.gmtime(seconds))


def _sbs_time(t: float) -> tuple[str, str]:
    """Unix seconds -> SBS-1 (``YYYY/MM/DD``, ``HH:MM:SS.fff``) UTC, on the 1 ms grid."""
    seconds, ms = divmod(round(t * 1000.0), 1000)
    date, clock = _sbs_second(seconds).split(",")
    return date, f"{clock}.{ms:03d}"


def _sbs_times(t: FloatArray) -> list[str]:
    """(N,) ``_sbs_time`` as ``date,clock`` cells, one ``strftime`` per distinct second."""
    seconds, ms = np.divmod(np.round(t * 1000.0).astype(np.int64), 1000)
    stamps = {s: _sbs_second(s) for s in np.unique(seconds).tolist()}
    return [f"{stamps[s]}.{m:03d}" for s, m in zip(seconds.tolist(), ms.tolist(), strict=True)]


def sbs_lines(rows: AdsbColumns) -> list[str]:
    """SBS-1 lines of (N,) report columns: MSG,1 if a callsign, MSG,3, MSG,4 if any velocity (22 fields each)."""
    callsigns = {c: _check_callsign(c) for c in set(rows.callsign)}
    with np.errstate(invalid="ignore"):
        velocity = ~(np.isnan(rows.gs_mps) & np.isnan(rows.track_deg) & np.isnan(rows.vrate_mps))
    columns = zip(rows.icao24.tolist(), _sbs_times(rows.t), rows.callsign, _fixed(rows.alt_m, FOOT_M, 0),
                  _fixed(rows.lat, 1.0, 6), _fixed(rows.lon, 1.0, 6), velocity.tolist(), _fixed(rows.gs_mps, KNOT_MPS, 1),
                  _fixed(rows.track_deg, 1.0, 1), _fixed(rows.vrate_mps, FOOT_M / 60.0, 0), strict=True)
    lines: list[str] = []
    for icao, stamp, callsign, alt, lat, lon, moving, gs, track, vrate in columns:
        head = f"1,1,{icao:06X},1,{stamp},{stamp}"  # session, aircraft, hex, flight ids; generated, logged time
        if callsigns[callsign]:
            lines.append(f"MSG,1,{head},{callsign},,,,,,,,,,,")
        lines.append(f"MSG,3,{head},,{alt},,,{lat},{lon},,,,,,")
        if moving:
            lines.append(f"MSG,4,{head},,,{gs},{track},,,{vrate},,,,,")
    return lines


def encode_sbs(reports: Iterable[AdsbReport]) -> bytes:
    """SBS-1 lines (``\\r\\n`` separated): MSG,1 if a callsign, MSG,3, MSG,4 if any velocity.

    Reports of one ICAO address should not share a payload (the decoder merges MSG,4
    per address). Raises ValueError naming the field for an unencodable report.
    """
    return encode_sbs_columns(AdsbColumns.of(list(reports)))


def encode_sbs_columns(rows: AdsbColumns) -> bytes:
    """``encode_sbs`` of report columns (no report object per row)."""
    return "\r\n".join(sbs_lines(rows)).encode("ascii")


class _Aircraft(msgspec.Struct, kw_only=True):
    """One ``aircraft[]`` entry of aircraft.json (fields we use; others ignored)."""

    hex: str
    lat: float | None = None
    lon: float | None = None
    alt_baro: float | str | None = None  # feet, or "ground"
    gs: float | None = None  # knots
    track: float | None = None  # degrees
    baro_rate: float | None = None  # ft/min
    seen_pos: float | None = None  # s before ``now``
    nac_p: int | None = None
    flight: str | None = None


class _AircraftJson(msgspec.Struct, kw_only=True):
    now: float
    aircraft: list[msgspec.Raw] = []


def _rounded(values: FloatArray, scale: float, digits: int) -> list[float | int | None]:
    """(N,) ``round(value / scale, digits)`` (an int for 0 digits), None where absent (NaN)."""
    if digits == 0:
        return [None if x != x else int(round(x, 0)) for x in (values / scale).tolist()]
    return [None if x != x else round(x, digits) for x in (values / scale).tolist()]


def encode_aircraft_json(now: float, reports: Iterable[AdsbReport]) -> bytes:
    """aircraft.json as dump1090/readsb write it; ``seen_pos = now - t`` (s, 1 ms grid)."""
    return encode_aircraft_json_columns(now, AdsbColumns.of(list(reports)))


def encode_aircraft_json_columns(now: float, rows: AdsbColumns) -> bytes:
    """``encode_aircraft_json`` of report columns (no report object per row)."""
    flights = {c: None if c is None else _check_callsign(c).ljust(8) for c in set(rows.callsign)}
    columns = zip(rows.icao24.tolist(), rows.callsign, _rounded(rows.alt_m, FOOT_M, 0), _rounded(rows.gs_mps, KNOT_MPS, 1),
                  _rounded(rows.track_deg, 1.0, 1), _rounded(rows.vrate_mps, FOOT_M / 60.0, 0), rows.lat.tolist(),
                  rows.lon.tolist(), rows.nac_p.tolist(), rows.t.tolist(), strict=True)
    entries = []
    for icao, callsign, alt, gs, track, vrate, lat, lon, nac_p, t in columns:
        entry: dict[str, object] = {"hex": f"{icao:06x}"}
        if callsign is not None:
            entry["flight"] = flights[callsign]
        entry.update({"alt_baro": alt, "gs": gs, "track": track, "baro_rate": vrate, "lat": lat, "lon": lon,
                      "nac_p": None if nac_p < 0 else nac_p, "seen_pos": round(now - t, 3)})
        entries.append({k: v for k, v in entry.items() if v is not None})
    return _ENCODER.encode({"now": now, "messages": len(entries), "aircraft": entries})


@dataclass
class AdsbStats:
    """What an AdsbDecoder skipped without it being an error."""

    other_messages: int = 0  # SBS MSG types other than 1/3/4, and SEL/ID/AIR/STA/CLK lines
    without_position: int = 0  # aircraft.json entries without lat/lon; SBS addresses without MSG,3
    non_icao: int = 0  # aircraft.json entries with a non-ICAO address ("~" prefix, TIS-B)


def _number(feed: str, name: str, text: str, scale: float, bound: Bound) -> float | None:
    """SBS cell -> float in report units (``text * scale``) inside ``bound``; '' -> None."""
    if not text:
        return None
    try:
        raw = float(text)
    except ValueError:
        raise DecodeError(feed, name, text, "must be a number") from None
    return _scaled(feed, name, raw, scale, bound)


def _sbs_t(feed: str, where: str, date: str, clock: str, recv_t: float) -> float:
    day = _DATE.fullmatch(date)
    if not day:
        raise DecodeError(feed, f"{where}.date", date, "must be YYYY/MM/DD")
    hms = _TIME.fullmatch(clock)
    if not hms:
        raise DecodeError(feed, f"{where}.time", clock, "must be HH:MM:SS.fff")
    year, month, mday = (int(x) for x in day.groups())
    hour, minute, second = (int(x) for x in hms.groups()[:3])
    if not (1 <= month <= 12 and 1 <= mday <= 31 and hour < 24 and minute < 60 and second < 61):
        raise DecodeError(feed, f"{where}.time", f"{date} {clock}", "is not a valid UTC time")
    ms = int((hms.group(4) or "0").ljust(3, "0"))
    whole = calendar.timegm((year, month, mday, hour, minute, second, 0, 0, 0))
    return check_time(feed, f"{where}.time", (whole * 1000 + ms) / 1000.0, recv_t)


@dataclass(frozen=True)
class _SbsPosition:
    icao24: int
    t: float
    lat: float
    lon: float
    alt_m: float | None


@dataclass
class AdsbDecoder:
    """Decodes ADS-B payloads (SBS-1 or aircraft.json, detected per payload); stateless."""

    feed: str = field(default=FEED, init=False)
    stats: AdsbStats = field(default_factory=AdsbStats)
    limits: DecodeLimits = DEFAULT_LIMITS  # payload size, JSON depth, lines or aircraft entries per payload

    def decode(
        self, payload: bytes, source: str, recv_t: float
    ) -> tuple[list[Report], list[DecodeError]]:
        """One payload -> (AdsbReports, DecodeErrors); never raises for bad input."""
        feed = feed_name(FEED, source)
        oversized = check_payload_size(feed, payload, self.limits)
        if oversized is not None:
            return [], [oversized]
        if payload.lstrip()[:1] == b"{":
            too_deep = check_json_depth(feed, payload, self.limits)
            return ([], [too_deep]) if too_deep is not None else self._decode_json(feed, payload, source, recv_t)
        too_long = check_line_count(feed, payload, self.limits)
        return ([], [too_long]) if too_long is not None else self._decode_sbs(feed, payload, source, recv_t)

    # ------------------------------------------------------------------ SBS-1

    def _decode_sbs(
        self, feed: str, payload: bytes, source: str, recv_t: float
    ) -> tuple[list[Report], list[DecodeError]]:
        positions: list[_SbsPosition] = []
        callsigns: dict[int, str] = {}
        velocities: dict[int, tuple[float | None, float | None, float | None]] = {}
        errors: list[DecodeError] = []
        for index, raw in enumerate(payload.decode("ascii", errors="replace").splitlines()):
            line = raw.strip()
            if not line:
                continue
            where = f"lines[{index}]"
            try:
                self._sbs_line(feed, where, line, recv_t, positions, callsigns, velocities)
            except DecodeError as err:
                errors.append(err)
        reports: list[Report] = []
        for pos in positions:
            gs, track, vrate = velocities.get(pos.icao24, (None, None, None))
            reports.append(AdsbReport(
                t=pos.t, source=source, icao24=pos.icao24, lat=pos.lat, lon=pos.lon,
                alt_m=pos.alt_m, gs_mps=gs, track_deg=track, vrate_mps=vrate,
                callsign=callsigns.get(pos.icao24),
            ))
        located = {pos.icao24 for pos in positions}
        self.stats.without_position += len((callsigns.keys() | velocities.keys()) - located)
        return reports, errors

    def _sbs_line(
        self,
        feed: str,
        where: str,
        line: str,
        recv_t: float,
        positions: list[_SbsPosition],
        callsigns: dict[int, str],
        velocities: dict[int, tuple[float | None, float | None, float | None]],
    ) -> None:
        """Parse one SBS-1 line into the payload's positions, callsigns or velocities."""
        cells = line.split(",")
        if cells[0] != "MSG":
            if cells[0] in ("SEL", "ID", "AIR", "STA", "CLK"):
                self.stats.other_messages += 1
                return
            raise DecodeError(feed, f"{where}.message_type", cells[0][:20], "must be MSG, SEL, ID, AIR, STA or CLK")
        if len(cells) != SBS_FIELDS:
            raise DecodeError(feed, f"{where}.fields", len(cells), f"MSG lines have {SBS_FIELDS} fields")
        kind = cells[1]
        if kind not in ("1", "3", "4"):
            if kind in ("2", "5", "6", "7", "8"):
                self.stats.other_messages += 1
                return
            raise DecodeError(feed, f"{where}.transmission_type", kind, "must be 1..8")
        if not _HEX.fullmatch(cells[4]):
            raise DecodeError(feed, f"{where}.hex", cells[4], "must be 6 hex digits")
        icao24 = int(cells[4], 16)
        if kind == "1":
            callsign = cells[10].strip()
            if not _CALLSIGN.fullmatch(callsign):
                raise DecodeError(feed, f"{where}.callsign", cells[10], "must be 1-8 of A-Z 0-9")
            callsigns[icao24] = callsign
        elif kind == "4":
            velocities[icao24] = (
                _number(feed, f"{where}.ground_speed", cells[12], KNOT_MPS, SPEED_MPS),
                _number(feed, f"{where}.track", cells[13], 1.0, ANGLE),
                _number(feed, f"{where}.vertical_rate", cells[16], FOOT_M / 60.0, VRATE_MPS),
            )
        else:
            lat = _number(feed, f"{where}.lat", cells[14], 1.0, LAT)
            lon = _number(feed, f"{where}.lon", cells[15], 1.0, LON)
            if lat is None or lon is None:
                raise DecodeError(feed, f"{where}.lat" if lat is None else f"{where}.lon", "", "MSG,3 needs a position")
            alt_m = _number(feed, f"{where}.altitude", cells[11], FOOT_M, ALT_M)
            t = _sbs_t(feed, where, cells[6], cells[7], recv_t)
            positions.append(_SbsPosition(icao24, t, lat, lon, alt_m))

    # ------------------------------------------------------------------ aircraft.json

    def _decode_json(
        self, feed: str, payload: bytes, source: str, recv_t: float
    ) -> tuple[list[Report], list[DecodeError]]:
        try:
            document = decode_json(feed, payload, _AircraftJson, {})
            now = check_time(feed, "now", document.now, recv_t)
            if len(document.aircraft) > self.limits.max_lines_per_payload:
                raise DecodeError(feed, "aircraft", f"<{len(document.aircraft)} entries>",
                                  f"has more than {self.limits.max_lines_per_payload} entries (max_lines_per_payload)")
        except DecodeError as err:
            return [], [err]
        reports: list[Report] = []
        errors: list[DecodeError] = []
        for index, raw in enumerate(document.aircraft):
            try:
                report = self._aircraft(feed, f"aircraft[{index}]", raw, now, source, recv_t)
            except DecodeError as err:
                errors.append(err)
                continue
            if report is not None:
                reports.append(report)
        return reports, errors

    def _aircraft(
        self, feed: str, where: str, raw: msgspec.Raw, now: float, source: str, recv_t: float
    ) -> AdsbReport | None:
        """One aircraft.json entry -> AdsbReport, None when it has no position or no ICAO."""
        entry = decode_json(feed, raw, _Aircraft, {}, prefix=f"{where}.")
        if entry.hex.startswith("~"):
            self.stats.non_icao += 1
            return None
        if not _HEX.fullmatch(entry.hex):
            raise DecodeError(feed, f"{where}.hex", entry.hex, "must be 6 hex digits")
        if entry.lat is None or entry.lon is None:
            self.stats.without_position += 1
            return None
        seen_pos = check_number(feed, f"{where}.seen_pos", entry.seen_pos or 0.0, Bound(0.0, 1e9))
        t = check_time(feed, f"{where}.seen_pos", round((now - seen_pos) * 1000.0) / 1000.0, recv_t)
        alt_m = None
        if isinstance(entry.alt_baro, str):
            if entry.alt_baro != "ground":
                raise DecodeError(feed, f"{where}.alt_baro", entry.alt_baro, 'must be feet or "ground"')
        elif entry.alt_baro is not None:
            alt_m = _scaled(feed, f"{where}.alt_baro", entry.alt_baro, FOOT_M, ALT_M)
        callsign = None if entry.flight is None else entry.flight.strip() or None
        if callsign is not None and not _CALLSIGN.fullmatch(callsign):
            raise DecodeError(feed, f"{where}.flight", entry.flight, "must be 1-8 of A-Z 0-9")
        return AdsbReport(
            t=t,
            source=source,
            icao24=int(entry.hex, 16),
            lat=check_number(feed, f"{where}.lat", entry.lat, LAT),
            lon=check_number(feed, f"{where}.lon", entry.lon, LON),
            alt_m=alt_m,
            gs_mps=_scaled(feed, f"{where}.gs", entry.gs, KNOT_MPS, SPEED_MPS),
            track_deg=_scaled(feed, f"{where}.track", entry.track, 1.0, ANGLE),
            vrate_mps=_scaled(feed, f"{where}.baro_rate", entry.baro_rate, FOOT_M / 60.0, VRATE_MPS),
            nac_p=None if entry.nac_p is None else int(check_number(feed, f"{where}.nac_p", entry.nac_p, NAC_P)),
            callsign=callsign,
        )


def _scaled(feed: str, name: str, value: float | None, scale: float, bound: Bound) -> float | None:
    """Optional number in wire units -> report units (``value * scale``) inside ``bound``.

    A DecodeError quotes the wire value; the bound is in report units (m, m/s, deg).
    """
    if value is None:
        return None
    converted = value * scale
    if not bound.holds(converted):
        raise DecodeError(feed, name, value, f"{bound.reason()} after conversion to SI units")
    return converted
