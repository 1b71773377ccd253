"""AIS codec: NMEA 0183 ``!AIVDM``/``!AIVDO`` sentences with NMEA 4.0 tag blocks.

pyais packs and unpacks the 6-bit payloads; this module owns the sentence framing,
tag blocks, checksums, multi-sentence reassembly and the mapping to
``AisPosition``/``AisStatic`` (docs/FORMATS.md, "AIS").

Encoding has two paths with one result too. ``encode`` packs one report with pyais (the
reference). ``position_lines`` (behind ``encode_payload`` and the simulator) packs the
position reports of a payload as columns in one numpy pass: the same fields in pyais's bit
layout, 6-bit armoured and checksummed together, then one f-string per line; static reports
(a few per cent of a feed) still go through pyais. tests/property/test_ais_vector_encode.py
holds the two byte-identical, and pyais decodes the lines to the same fields.

Decoding has two paths with one result. The general path frames and checks every
sentence field by field and unpacks the 6-bit payload with pyais. The fast path takes the
overwhelmingly common line, a single-sentence class A or B position report (types 1, 2, 3
and 18, exactly 168 bits) with an optional tag block, checks its frame with one regular
expression and both checksums, and unpacks the few fields a position needs with integer
shifts (``_fast_position``). pyais is not enough there: it builds a full message object
(all 16-20 fields, enum and rate-of-turn conversions, a bit-vector object) for the five
fields we keep, which was most of the ~25 us per sentence. Any line the fast path does
not accept exactly as the general path would (another type or length, a fragment, an
unusual frame, a bad checksum, time, MMSI or position) goes to the general path, which
decides and names the field, so errors are unchanged. tests/property/test_codecs.py
holds the two paths equal on random payloads and on the real AIS data in ../shared/data.

Wire quantisation (the grid on which ``decode(encode(r)) == r``): lat/lon 1/10000
arc-minute (decoded as pyais does, rounded to 1e-6 deg); SOG 0.1 kn (m/s on the wire
grid ``k / 10 * KNOT_MPS``); COG 0.1 deg; heading 1 deg; time 1 s, or 1 ms when the
report time is not a whole second (``c:`` then carries milliseconds).
"""

from __future__ import annotations

import binascii
import enum
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import msgspec
import numpy as np
from numpy.typing import NDArray
from pyais.bit_vector import bit_vector
from pyais.constants import ShipType
from pyais.encode import encode_dict
from pyais.messages import MSG_CLASS
from pyais.util import checksum

from sensors.codec import (
    ANGLE,
    KNOT_MPS,
    LAT,
    LON,
    SPEED_MPS,
    Bound,
    check_encodable,
    check_line_count,
    check_number,
    check_payload_size,
    check_time,
    feed_name,
)
from sensors.errors import DecodeError
from sensors.limits import DEFAULT_LIMITS, MAX_AGE_S, MAX_FUTURE_S, DecodeLimits
from sensors.reports import AisPosition, AisStatic, Report

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

FEED = "ais"
POSITION_TYPES = frozenset((1, 2, 3, 18, 19, 27))  # decoded into AisPosition
STATIC_TYPES = frozenset((5, 24))  # decoded into AisStatic
ENCODED_POSITION_TYPES = frozenset((1, 2, 3, 18))
MIN_BITS = {1: 168, 2: 168, 3: 168, 18: 168, 19: 312, 27: 96, 5: 420, 24: 160}
SIXBIT_TEXT = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_ !\"#$%&'()*+,-./0123456789:;<=>?"
NAME_CHARS = 20  # type 5 / 24A ship name
CALLSIGN_CHARS = 7
MMSI_MAX = 999_999_999
SHIP_TYPES = frozenset(int(member) for member in ShipType if member)  # ITU-R M.1371 codes in use
LAT_NOT_AVAILABLE = 91.0
LON_NOT_AVAILABLE = 181.0
SOG_NOT_AVAILABLE_KN = 102.3  # types 1/2/3/18/19; type 27 uses 63 (whole knots)
COG_NOT_AVAILABLE_DEG = 360.0  # type 27 uses 511
HEADING_NOT_AVAILABLE = 511
SOG_MAX_KN = 102.2  # "102.2 kn or more"
MS_TIME_THRESHOLD = 100_000_000_000  # a c: value above this is milliseconds (year 5138 in s)
REASSEMBLY_TIMEOUT_S = 10.0  # receive-time age after which an incomplete message expires
MAX_PENDING_MESSAGES = 1024  # incomplete multi-sentence messages held per decoder

_ARMOR = re.compile(r"[0-W`-w]*")
_DIGIT = re.compile(r"[0-9]{1,20}")  # a c: time: seconds or milliseconds (longer is no time, and overflows a float)
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")

# The fast path's line: optional tag block, then a single-sentence 168-bit AIVDM/AIVDO of
# fill 0 (28 armored characters); groups: tag body, tag checksum, sentence body, checksum.
_FAST_LINE = re.compile(
    r"(?:\\([ -)+-\[\]-~]*)\*([0-9A-Fa-f]{2})\\)?"
    r"!([A-Z]{2}VD[MO],1,1,[0-9]?,[A-Z0-9]?,([0-W`-w]{28}),0)\*([0-9A-Fa-f]{2})"
)
# AIS 6-bit armoring -> the base64 alphabet with the same 6-bit values, so that binascii
# unpacks a payload in C: 28 characters -> 21 bytes -> one 168-bit integer.
_ARMOR_TO_B64 = str.maketrans(
    "".join(chr(c) for c in (*range(48, 88), *range(96, 120))),
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
)
# Bit positions (shift from the least significant end of the 168-bit integer) of the fields
# a position needs: (speed, accuracy, lon, lat, course, heading), ITU-R M.1371-5 tables 46 and 53
# (pyais MessageType1 and MessageType18 field order).
_SHIFTS = {1: (108, 107, 79, 52, 40, 31), 18: (112, 111, 83, 56, 44, 35)}
_SHIFTS[2] = _SHIFTS[3] = _SHIFTS[1]


class _Sentinel(enum.Enum):
    """Markers of the AIS fast path, never data (typed, so that `is` checks narrow)."""

    NOT_FAST = "the fast path declines a line: the general path decides"
    UNSEEN = "a tag block not yet in the payload's cache"


_NOT_FAST: Final = _Sentinel.NOT_FAST
_UNSEEN: Final = _Sentinel.UNSEEN
NotFast = Literal[_Sentinel.NOT_FAST]


# --------------------------------------------------------------------------- encoding


def tag_block(fields: Iterable[str]) -> str:
    """``\\c:...,s:...*hh\\``: NMEA 4.0 tag block with its XOR checksum (2 hex digits)."""
    body = ",".join(fields)
    return f"\\{body}*{checksum(body.encode('ascii')):02X}\\"


def format_time(t: float) -> str:
    """The tag-block ``c:`` value: whole seconds when ``t`` is whole, else milliseconds."""
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"ais encode: t = {t!r}: must be a finite Unix time >= 0")
    if t == int(t):
        return str(int(t))
    return str(round(t * 1000.0))


def _check_source(source: str) -> str:
    if not source or any(c in source for c in ",*\\!$\r\n"):
        raise ValueError(f"ais encode: source = {source!r}: must be non-empty without , * \\ ! $")
    return source


def _check_text(field_name: str, value: str | None, width: int) -> str:
    """A string field in AIS 6-bit ASCII (upper case), at most ``width`` characters."""
    if value is None:
        return ""
    if len(value) > width or any(c not in SIXBIT_TEXT or c == "@" for c in value):
        raise ValueError(
            f"ais encode: {field_name} = {value!r}: must be at most {width} characters of "
            "AIS 6-bit ASCII (upper case, digits, space and punctuation)"
        )
    return value


def _wire_quantities(sog_mps: FloatArray, cog_deg: FloatArray, heading_deg: FloatArray) -> tuple[FloatArray, ...]:
    """(N,) SOG kn, COG deg, heading deg on the wire grid, as pyais takes them; NaN = not available.

    SOG 0.1 kn capped at 102.2 (102.3 = not available), COG 0.1 deg (360 = n/a), heading 1 deg (511 = n/a).
    One rule for the pyais reference (``encode``) and the vectorised encoder (``position_lines``)."""
    with np.errstate(invalid="ignore"):
        sog_kn = np.where(np.isnan(sog_mps), SOG_NOT_AVAILABLE_KN,
                          np.minimum(np.round(sog_mps / KNOT_MPS * 10.0), round(SOG_MAX_KN * 10)) / 10.0)
        cog = np.where(np.isnan(cog_deg), COG_NOT_AVAILABLE_DEG, np.round(cog_deg * 10.0) % 3600 / 10.0)
        heading = np.where(np.isnan(heading_deg), float(HEADING_NOT_AVAILABLE), np.round(heading_deg) % 360)
    return sog_kn, cog, heading


def _position_fields(report: AisPosition) -> dict[str, Any]:
    """pyais field dict of one position report (types 1/2/3 or 18): the reference ``encode`` packs with pyais."""
    columns = AisPositionColumns.of([report])
    sog_kn, cog, heading = (float(x[0]) for x in _wire_quantities(columns.sog_mps, columns.cog_deg, columns.heading_deg))
    fields: dict[str, Any] = {
        "msg_type": report.msg_type,
        "mmsi": report.mmsi,
        "lat": report.lat,
        "lon": report.lon,
        "speed": sog_kn,
        "course": cog,
        "heading": int(heading),
        "accuracy": report.accuracy,
        "second": int(report.t) % 60,
    }
    if report.msg_type == 18:
        fields["cs"] = True  # carrier-sense (CS) class B unit
    else:
        fields["status"] = 15  # navigational status "not defined"
    return fields


def _static_fields(report: AisStatic) -> list[dict[str, Any]]:
    """pyais field dicts of one static report: type 5, or type 24 parts A and/or B."""
    if not 0 < report.mmsi <= MMSI_MAX:
        raise ValueError(f"ais encode: mmsi = {report.mmsi!r}: must be in 1..{MMSI_MAX}")
    name = _check_text("name", report.name, NAME_CHARS)
    callsign = _check_text("callsign", report.callsign, CALLSIGN_CHARS)
    ship_type = report.ship_type or 0
    if ship_type and ship_type not in SHIP_TYPES:
        raise ValueError(
            f"ais encode: ship_type = {report.ship_type!r}: must be an assigned ITU-R M.1371 "
            "code (20..99 less the reserved ones); reserved codes decode as not available"
        )
    base = {"mmsi": report.mmsi}
    if report.msg_type == 5:
        return [{**base, "msg_type": 5, "shipname": name, "callsign": callsign,
                 "ship_type": ship_type, "ais_version": 0}]
    if report.msg_type != 24:
        raise ValueError(f"ais encode: msg_type = {report.msg_type!r}: static encodes as 5 or 24")
    part_b = {**base, "msg_type": 24, "partno": 1, "callsign": callsign, "ship_type": ship_type}
    part_a = {**base, "msg_type": 24, "partno": 0, "shipname": name}
    if report.callsign is None and report.ship_type is None:
        return [part_a]
    if report.name is None:
        return [part_b]
    return [part_a, part_b]


def encode(report: AisPosition | AisStatic, *, seq_id: int = 0, channel: str = "A") -> list[str]:
    """NMEA lines (no line ends) for one report, each prefixed by an NMEA 4.0 tag block.

    AisPosition -> one ``!AIVDM`` sentence of type ``report.msg_type`` (1, 2, 3 or 18).
    AisStatic type 5 -> two sentences sharing ``seq_id``, tagged ``g:1-2-<id>``/``g:2-2-<id>``;
    type 24 -> part A (name) and/or part B (callsign, ship type), one sentence each.
    Raises ValueError naming the field for a report that cannot be encoded.
    """
    if channel not in ("A", "B"):
        raise ValueError(f"ais encode: channel = {channel!r}: must be 'A' or 'B'")
    if not 0 <= seq_id <= 9:
        raise ValueError(f"ais encode: seq_id = {seq_id!r}: must be in 0..9")
    stamp = (f"c:{format_time(report.t)}", f"s:{_check_source(report.source)}")
    messages = (
        [_position_fields(report)] if isinstance(report, AisPosition) else _static_fields(report)
    )
    lines: list[str] = []
    for fields in messages:
        sentences = encode_dict(
            fields, talker_id="AI", sentence_type="VDM", radio_channel=channel, seq_id=seq_id
        )
        if len(sentences) == 1:
            lines.append(tag_block(stamp) + sentences[0])
            continue
        group = f"{seq_id + 1}"
        for number, sentence in enumerate(sentences, start=1):
            head = (f"g:{number}-{len(sentences)}-{group}", *(stamp if number == 1 else ()))
            lines.append(tag_block(head) + sentence)
    return lines


def encode_payload(reports: Iterable[AisPosition | AisStatic], *, channel: str = "A") -> bytes:
    """Many reports as one MQTT payload, as aggregators send it: lines joined by ``\\r\\n``.

    Multi-sentence messages get sequence ids 0..9 in turn. Positions are armoured all at once
    (``position_lines``), byte for byte what ``encode`` gives through pyais."""
    reports = list(reports)
    positions = [r for r in reports if isinstance(r, AisPosition)]
    statics = [r for r in reports if not isinstance(r, AisPosition)]
    is_static = np.fromiter((not isinstance(r, AisPosition) for r in reports), dtype=bool, count=len(reports))
    lines = position_lines(AisPositionColumns.of(positions), [r.source for r in positions], channel=channel)
    return join_payload(lines, statics, is_static, channel=channel)


def join_payload(position_lines: list[str], statics: Sequence[AisStatic], is_static: BoolArray, *,
                 channel: str = "A") -> bytes:
    """One payload of reports in row order: (N,) ``is_static`` says which rows are the ``statics``
    (encoded with pyais, sequence ids 0..9 in turn) and which take the next of ``position_lines``."""
    if not statics:
        return "\r\n".join(position_lines).encode("ascii")
    out: list[str] = []
    seq = lo = 0
    for k, (row, report) in enumerate(zip(np.flatnonzero(is_static).tolist(), statics, strict=True)):
        out += position_lines[lo:row - k]
        lo = row - k
        encoded = encode(report, seq_id=seq, channel=channel)
        out += encoded
        if len(encoded) > 1:
            seq = (seq + 1) % 10
    out += position_lines[lo:]
    return "\r\n".join(out).encode("ascii")


def _check_column(field_name: str, values: FloatArray, bound: Bound, optional: bool = False) -> None:
    """``check_encodable`` over a column: raises ValueError naming the first value outside ``bound``
    (NaN is 'not available' where ``optional``)."""
    inside = (values >= bound.lo) & ((values < bound.hi) if bound.hi_open else (values <= bound.hi))
    if optional:
        inside |= np.isnan(values)
    if not inside.all():
        check_encodable("ais", field_name, float(values[np.argmin(inside)]), bound)


@dataclass(frozen=True)
class AisPositionColumns:
    """N position reports as (N,) columns, checked on construction as ``encode`` checks one report.

    t: report time, Unix s (>= 0); mmsi; lat/lon deg; sog_mps m/s, cog_deg and heading_deg deg
    from true north, NaN = not available; msg_type 1, 2, 3 or 18; accuracy: high (< 10 m)."""

    t: FloatArray
    mmsi: IntArray
    lat: FloatArray
    lon: FloatArray
    sog_mps: FloatArray
    cog_deg: FloatArray
    heading_deg: FloatArray
    msg_type: IntArray
    accuracy: BoolArray

    def __post_init__(self) -> None:
        bad_t = ~(np.isfinite(self.t) & (self.t >= 0))
        if bad_t.any():
            format_time(float(self.t[np.argmax(bad_t)]))  # raises naming it
        bad_type = ~(((self.msg_type >= 1) & (self.msg_type <= 3)) | (self.msg_type == 18))  # ENCODED_POSITION_TYPES
        if bad_type.any():
            raise ValueError(f"ais encode: msg_type = {int(self.msg_type[np.argmax(bad_type)])!r}: "
                             "positions encode as 1, 2, 3 or 18")
        bad_mmsi = (self.mmsi <= 0) | (self.mmsi > MMSI_MAX)
        if bad_mmsi.any():
            raise ValueError(f"ais encode: mmsi = {int(self.mmsi[np.argmax(bad_mmsi)])!r}: must be in 1..{MMSI_MAX}")
        _check_column("lat", self.lat, LAT)
        _check_column("lon", self.lon, LON)
        _check_column("sog_mps", self.sog_mps, SPEED_MPS, optional=True)
        _check_column("cog_deg", self.cog_deg, ANGLE, optional=True)
        _check_column("heading_deg", self.heading_deg, ANGLE, optional=True)

    @staticmethod
    def of(reports: Sequence[AisPosition]) -> AisPositionColumns:
        """The columns of ``reports`` (None -> NaN; a NaN given as a value is rejected as unencodable)."""
        def column(name: str) -> FloatArray:
            raw = [getattr(r, name) for r in reports]
            values = np.array([math.nan if x is None else x for x in raw], dtype=np.float64)
            given = np.array([x is not None for x in raw], dtype=bool)
            nan_given = given & np.isnan(values)
            if nan_given.any():
                check_encodable("ais", name, math.nan, ANGLE if name != "sog_mps" else SPEED_MPS)  # raises
            return values

        def ints(name: str) -> IntArray:
            return np.fromiter((getattr(r, name) for r in reports), dtype=np.int64, count=len(reports))

        return AisPositionColumns(
            t=np.array([r.t for r in reports], dtype=np.float64), mmsi=ints("mmsi"),
            lat=np.array([r.lat for r in reports], dtype=np.float64), lon=np.array([r.lon for r in reports], dtype=np.float64),
            sog_mps=column("sog_mps"), cog_deg=column("cog_deg"), heading_deg=column("heading_deg"),
            msg_type=ints("msg_type"), accuracy=np.array([r.accuracy for r in reports], dtype=bool))


# Bit layouts of the 168-bit position messages in pyais field order (ITU-R M.1371-5 tables 46 and 53):
# (width, column name or constant). Constants as pyais writes them: status 15 "not defined", turn -128 "no turn
# information", manoeuvre indicator 3 (pyais's UNDEFINED), class B "CS" flag 1; repeat, spare, RAIM and radio 0.
_Layout = tuple[tuple[int, str | int], ...]
_LAYOUT_1: _Layout = ((6, "msg_type"), (2, 0), (30, "mmsi"), (4, 15), (8, -128), (10, "speed"), (1, "accuracy"), (28, "lon"),
             (27, "lat"), (12, "course"), (9, "heading"), (6, "second"), (2, 3), (3, 0), (1, 0), (19, 0))
_LAYOUT_18: _Layout = ((6, "msg_type"), (2, 0), (30, "mmsi"), (8, 0), (10, "speed"), (1, "accuracy"), (28, "lon"), (27, "lat"),
              (12, "course"), (9, "heading"), (6, "second"), (2, 0), (1, 1), (5, 0), (1, 0), (20, 0))
_SIX_WEIGHTS = np.array([32, 16, 8, 4, 2, 1], dtype=np.uint8)
_HEX = [f"{x:02X}" for x in range(256)]


def _constant_bits(layout: _Layout) -> NDArray[np.uint8]:
    """(168,) the bits of a layout's constant fields (0 under the column fields), computed once."""
    bits = np.zeros(168, dtype=np.uint8)
    at = 0
    for width, value in layout:
        if not isinstance(value, str):
            bits[at:at + width] = [(value >> (width - 1 - i)) & 1 for i in range(width)]  # two's complement
        at += width
    return bits


_CONSTANT_BITS: dict[_Layout, NDArray[np.uint8]] = {layout: _constant_bits(layout) for layout in (_LAYOUT_1, _LAYOUT_18)}


def _armour(layout: _Layout, values: dict[str, IntArray], n: int) -> NDArray[np.uint8]:
    """(n, 28) ASCII codes of the 6-bit armoured 168-bit payloads: every field's bits, most significant
    first (two's complement for signed fields), six at a time onto ``0``-``W`` and `` ` ``-``w``."""
    bits = np.repeat(_CONSTANT_BITS[layout][None, :], n, axis=0)
    at = 0
    for width, value in layout:
        if isinstance(value, str):
            bits[:, at:at + width] = (values[value][:, None] >> np.arange(width - 1, -1, -1, dtype=np.int64)) & 1
        at += width
    six = bits.reshape(n, 28, 6) @ _SIX_WEIGHTS
    return six + np.where(six < 40, 48, 56).astype(np.uint8)


def _xor_rows(codes: NDArray[np.uint8]) -> IntArray:
    """(N,) XOR of each row of (N, W) byte codes (NUL padding changes nothing): NMEA checksums."""
    return np.bitwise_xor.reduce(codes, axis=1).astype(np.int64) if codes.shape[1] else np.zeros(len(codes), np.int64)


def position_lines(rows: AisPositionColumns, sources: Sequence[str], *, channel: str = "A") -> list[str]:
    """(N,) tagged ``!AIVDM`` lines of position reports, as ``encode`` makes them one by one with pyais
    (the same bits, armour, tag block and checksums), vectorised over the reports: sources (N,) receiver ids."""
    if channel not in ("A", "B"):
        raise ValueError(f"ais encode: channel = {channel!r}: must be 'A' or 'B'")
    n = rows.t.size
    if n == 0:
        return []
    tag_xor = {s: _xor(f"c:,s:{_check_source(s)}") for s in set(sources)}
    sog_kn, cog, heading = _wire_quantities(rows.sog_mps, rows.cog_deg, rows.heading_deg)
    values = {  # pyais's conversions: int() of (value x 10) for speed and course, round() for lat/lon x 600000
        "msg_type": rows.msg_type, "mmsi": rows.mmsi, "accuracy": rows.accuracy.astype(np.int64),
        "speed": np.trunc(sog_kn * 10.0).astype(np.int64), "course": np.trunc(cog * 10.0).astype(np.int64),
        "lon": np.round(rows.lon * 600000.0).astype(np.int64), "lat": np.round(rows.lat * 600000.0).astype(np.int64),
        "heading": heading.astype(np.int64), "second": np.trunc(rows.t).astype(np.int64) % 60,
    }
    codes = np.empty((n, 28), dtype=np.uint8)
    class_b = rows.msg_type == 18
    for layout, mask in ((_LAYOUT_1, ~class_b), (_LAYOUT_18, class_b)):
        if mask.any():
            codes[mask] = _armour(layout, {k: v[mask] for k, v in values.items()}, int(mask.sum()))
    whole = rows.t == np.trunc(rows.t)
    stamps = np.where(whole, rows.t, np.round(rows.t * 1000.0)).astype(np.int64).astype(np.bytes_)  # format_time
    stamp_xor = _xor_rows(stamps.view(np.uint8).reshape(n, -1))
    frame_xor = _xor(f"AIVDM,1,1,,{channel},,0")
    sentence_xor = _xor_rows(codes) ^ frame_xor
    payloads = codes.tobytes().decode("ascii")
    return [f"\\c:{c.decode()},s:{s}*{_HEX[tx ^ tag_xor[s]]}\\!AIVDM,1,1,,{channel},{payloads[28 * k:28 * k + 28]},0*{_HEX[sx]}"
            for k, (c, s, tx, sx) in enumerate(zip(stamps.tolist(), sources, stamp_xor.tolist(), sentence_xor.tolist(),
                                                   strict=True))]


# --------------------------------------------------------------------------- decoding


@dataclass
class AisStats:
    """Counters kept by an AisDecoder (reported by ingest; none of these are errors)."""

    sentences: int = 0  # AIS sentences with a valid frame and checksum
    other_types: int = 0  # complete messages of types other than positions/static, skipped
    other_sentences: int = 0  # non-AIS NMEA sentences ($GPZDA, $PGHP, !AIABK, ...), skipped
    fragments_expired: int = 0  # fragments of multi-sentence messages never completed


@dataclass
class _Partial:
    """An incomplete multi-sentence message: fragments by number (1-based at index 0)."""

    first_recv_t: float
    parts: list[str | None]
    t: float | None = None  # report time from the first fragment's tag block
    fill: int = 0


@dataclass
class _Line:
    """One NMEA sentence after framing and checksum checks."""

    talker: str
    count: int
    number: int
    seq: str
    channel: str
    armored: str
    fill: int
    t: float | None  # tag-block time, s


_Key = tuple[str, str, str, str, int]


def _parsetag_block(feed: str, where: str, block: str, recv_t: float) -> float | None:
    """Check a tag block's checksum; return its ``c:`` time in s (None if absent)."""
    body, star, given = block.rpartition("*")
    if not star or not _HEX2.fullmatch(given):
        raise DecodeError(feed, f"{where}.tag_block", block, "must end with *hh")
    if checksum(body.encode("ascii")) != int(given, 16):
        raise DecodeError(feed, f"{where}.tag_block.checksum", given, "does not match")
    for item in body.split(","):
        key, colon, value = item.partition(":")
        if not colon:
            raise DecodeError(feed, f"{where}.tag_block", item, "fields must be key:value")
        if key == "c":
            if not _DIGIT.fullmatch(value):
                raise DecodeError(feed, f"{where}.tag_block.c", value, "must be Unix seconds or ms (at most 20 digits)")
            stamp = int(value)
            t = stamp / 1000.0 if stamp > MS_TIME_THRESHOLD else float(stamp)
            return check_time(feed, f"{where}.tag_block.c", t, recv_t)
    return None


def _int_field(feed: str, field_name: str, text: str, lo: int, hi: int) -> int:
    if len(text) != 1 or not text.isdigit() or not lo <= int(text) <= hi:
        raise DecodeError(feed, field_name, text, f"must be one digit in {lo}..{hi}")
    return int(text)


def _parse_sentence(feed: str, where: str, sentence: str, t: float | None) -> _Line | None:
    """Frame and checksum of one ``!xxVDM`` sentence; None for a non-AIS NMEA sentence."""
    if sentence[3:7] not in ("VDM,", "VDO,"):
        return None
    body, star, given = sentence.rpartition("*")
    if not star or not _HEX2.fullmatch(given):
        raise DecodeError(feed, f"{where}.checksum", sentence[-8:], "sentence must end with *hh")
    if checksum(body[1:].encode("ascii")) != int(given, 16):
        raise DecodeError(feed, f"{where}.checksum", given, "does not match the sentence")
    parts = body.split(",")
    if len(parts) != 7:
        raise DecodeError(feed, f"{where}.sentence", len(parts), "must have 7 comma-separated fields")
    _, count_s, number_s, seq, channel, armored, fill_s = parts
    count = _int_field(feed, f"{where}.fragment_count", count_s, 1, 9)
    number = _int_field(feed, f"{where}.fragment_number", number_s, 1, count)
    fill = _int_field(feed, f"{where}.fill_bits", fill_s, 0, 5)
    if len(seq) > 1 or (seq and not seq.isdigit()):
        raise DecodeError(feed, f"{where}.sequence_id", seq, "must be empty or one digit")
    if len(channel) > 1:
        raise DecodeError(feed, f"{where}.channel", channel, "must be one character or empty")
    if not _ARMOR.fullmatch(armored):
        raise DecodeError(feed, f"{where}.payload", armored, "has characters outside AIS 6-bit armoring")
    return _Line(parts[0][1:3], count, number, seq, channel, armored, fill, t)


def _position(feed: str, where: str, msg: Any, mmsi: int, t: float, source: str) -> AisPosition:
    """Map a decoded pyais position message to an AisPosition, rejecting 'not available' fixes."""
    long_range = msg.msg_type == 27
    if msg.lat == LAT_NOT_AVAILABLE:
        raise DecodeError(feed, f"{where}.lat", msg.lat, "position not available (91)")
    if msg.lon == LON_NOT_AVAILABLE:
        raise DecodeError(feed, f"{where}.lon", msg.lon, "position not available (181)")
    lat = check_number(feed, f"{where}.lat", msg.lat, LAT)
    lon = check_number(feed, f"{where}.lon", msg.lon, LON)
    return _report(t, source, mmsi, lat, lon, float(msg.speed), float(msg.course), None if long_range else int(msg.heading),
                   msg.msg_type, bool(msg.accuracy), sog_na_kn=63.0 if long_range else SOG_NOT_AVAILABLE_KN)


def _report(t: float, source: str, mmsi: int, lat: float, lon: float, speed_kn: float, course_deg: float, heading: int | None,
            msg_type: int, accuracy: bool, sog_na_kn: float = SOG_NOT_AVAILABLE_KN) -> AisPosition:
    """An AisPosition from decoded fields, with the 'not available' codes (speed >= sog_na_kn,
    course >= 360, heading >= 360) as None and the speed in m/s."""
    return AisPosition(
        t=t,
        source=source,
        mmsi=mmsi,
        lat=lat,
        lon=lon,
        sog_mps=None if speed_kn >= sog_na_kn else speed_kn * KNOT_MPS,
        cog_deg=None if course_deg >= COG_NOT_AVAILABLE_DEG else course_deg,
        heading_deg=None if heading is None or heading >= 360 else float(heading),
        msg_type=msg_type,
        accuracy=accuracy,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _static(msg: Any, mmsi: int, t: float, source: str) -> AisStatic:
    """Map a decoded pyais type 5 or type 24 part to a (possibly partial) AisStatic."""
    ship_type = int(getattr(msg, "ship_type", 0) or 0)
    return AisStatic(
        t=t,
        source=source,
        mmsi=mmsi,
        name=_text(getattr(msg, "shipname", None)),
        callsign=_text(getattr(msg, "callsign", None)),
        ship_type=ship_type or None,
        msg_type=msg.msg_type,
    )


def _merge_static(old: AisStatic, new: AisStatic) -> AisStatic:
    """Type 24 parts A and B of one vessel in one payload -> one AisStatic (first time kept)."""
    return msgspec.structs.replace(
        old,
        name=old.name or new.name,
        callsign=old.callsign or new.callsign,
        ship_type=old.ship_type or new.ship_type,
    )


def _xor(text: str) -> int:
    """NMEA checksum (XOR of the bytes) of an ASCII string, as pyais.util.checksum: the bytes
    as one integer folded onto its low byte (the high bits left over never reach it)."""
    x = int.from_bytes(text.encode("ascii"), "little")
    if len(text) > 64:
        width = 8 * len(text)
        while width > 512:
            half = (width // 16 + (width % 16 > 0)) * 8  # whole bytes, at least half of them
            x = (x ^ (x >> half)) & ((1 << half) - 1)
            width = half
    x ^= x >> 256
    x ^= x >> 128
    x ^= x >> 64
    x ^= x >> 32
    x ^= x >> 16
    x ^= x >> 8
    return x & 0xFF


def _fast_tag(body: str, recv_t: float) -> float | NotFast | None:
    """``_parsetag_block`` for a tag block whose checksum is already checked: the c: time,
    None without one, _NOT_FAST for anything the general path must judge."""
    for item in body.split(","):
        key, colon, value = item.partition(":")
        if not colon:
            return _NOT_FAST
        if key == "c":
            if not _DIGIT.fullmatch(value):
                return _NOT_FAST
            stamp = int(value)
            t = stamp / 1000.0 if stamp > MS_TIME_THRESHOLD else float(stamp)
            if not recv_t - MAX_AGE_S <= t <= recv_t + MAX_FUTURE_S:
                return _NOT_FAST
            return t
    return None


def _fast_position(armored: str, t: float, source: str) -> AisPosition | NotFast:
    """A 168-bit type 1/2/3/18 payload -> AisPosition exactly as pyais + ``_position`` map it,
    or _NOT_FAST (other types, 'not available' or out-of-range positions, bad MMSI)."""
    v = int.from_bytes(binascii.a2b_base64(armored.translate(_ARMOR_TO_B64)), "big")
    msg_type = v >> 162
    shifts = _SHIFTS.get(msg_type)
    if shifts is None:
        return _NOT_FAST
    mmsi = (v >> 130) & 0x3FFFFFFF
    s_speed, s_acc, s_lon, s_lat, s_course, s_heading = shifts
    lon_raw = ((v >> s_lon) & 0xFFFFFFF ^ 0x8000000) - 0x8000000  # 28-bit two's complement
    lat_raw = ((v >> s_lat) & 0x7FFFFFF ^ 0x4000000) - 0x4000000  # 27-bit
    lon = ((10 * lon_raw + 3) // 6) / 1e6  # pyais to_lat_lon: round(raw / 600000, 6)
    lat = ((10 * lat_raw + 3) // 6) / 1e6
    if not (0 < mmsi <= MMSI_MAX and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return _NOT_FAST
    return _report(t, source, mmsi, lat, lon, ((v >> s_speed) & 1023) / 10.0, ((v >> s_course) & 4095) / 10.0,
                   (v >> s_heading) & 511, msg_type, bool((v >> s_acc) & 1))


@dataclass
class AisDecoder:
    """Decodes AIS NMEA payloads; holds multi-sentence fragments per (source, talker, channel, seq).

    ``stats`` counts what is skipped without being an error (see AisStats). Incomplete
    messages expire after ``reassembly_timeout_s`` of receive time or when more than
    ``max_pending`` are held (oldest first); their fragments count as ``fragments_expired``.
    """

    reassembly_timeout_s: float = REASSEMBLY_TIMEOUT_S
    max_pending: int = MAX_PENDING_MESSAGES
    fast: bool = True  # False: every line through the general path (pyais), the reference for tests and bench
    limits: DecodeLimits = DEFAULT_LIMITS  # payload size and lines per payload
    feed: str = field(default=FEED, init=False)
    stats: AisStats = field(default_factory=AisStats)
    _pending: dict[_Key, _Partial] = field(default_factory=dict, repr=False)

    def decode(
        self, payload: bytes, source: str, recv_t: float
    ) -> tuple[list[Report], list[DecodeError]]:
        """One payload of NMEA lines -> (reports, errors); never raises for bad input.

        Report time: the tag-block ``c:`` (seconds or milliseconds) of the message's
        first sentence, else ``recv_t``. Type 24 parts A and B of one MMSI within the
        payload are merged into one AisStatic, emitted after the positions.
        """
        feed = feed_name(FEED, source)
        oversized = check_payload_size(feed, payload, self.limits) or check_line_count(feed, payload, self.limits)
        if oversized is not None:
            return [], [oversized]
        self._expire(recv_t)
        reports: list[Report] = []
        statics: dict[int, AisStatic] = {}
        errors: list[DecodeError] = []
        text = payload.decode("ascii", errors="replace")
        fast = _FAST_LINE.fullmatch if self.fast else None
        tags: dict[str, float | NotFast | None] = {}  # tag block -> its time, for the lines of this payload
        for index, raw in enumerate(text.splitlines()):
            line = raw.strip()
            if not line:
                continue
            report: AisPosition | AisStatic | NotFast | None = _NOT_FAST
            match = fast(line) if fast is not None else None
            if match is not None:
                report = self._fast_line(match, source, recv_t, tags)
            if report is _NOT_FAST:
                try:
                    report = self._decode_line(feed, f"lines[{index}]", line, source, recv_t)
                except DecodeError as err:
                    errors.append(err)
                    continue
            if isinstance(report, AisStatic):
                old = statics.get(report.mmsi)
                statics[report.mmsi] = report if old is None else _merge_static(old, report)
            elif report is not None:
                reports.append(report)
        reports.extend(statics.values())
        return reports, errors

    def _fast_line(
        self, match: re.Match[str], source: str, recv_t: float, tags: dict[str, float | NotFast | None]
    ) -> AisPosition | NotFast:
        """A line matching _FAST_LINE -> AisPosition, or _NOT_FAST when the general path must decide.

        ``tags`` caches each tag block's result within one payload (aggregators repeat them)."""
        tag, tag_sum, body, armored, given = match.groups()
        if _xor(body) != int(given, 16):
            return _NOT_FAST
        t: float | None = None
        if tag_sum is not None:
            key = f"{tag}*{tag_sum}"
            cached = tags.get(key, _UNSEEN)
            if cached is _UNSEEN:
                cached = tags[key] = _fast_tag(tag, recv_t) if _xor(tag) == int(tag_sum, 16) else _NOT_FAST
            if cached is _NOT_FAST:
                return _NOT_FAST
            t = cached
        report = _fast_position(armored, recv_t if t is None else t, source)
        if report is not _NOT_FAST:
            self.stats.sentences += 1
        return report

    def _decode_line(
        self, feed: str, where: str, line: str, source: str, recv_t: float
    ) -> AisPosition | AisStatic | None:
        if "\ufffd" in line:
            raise DecodeError(feed, f"{where}.sentence", line[:40], "contains non-ASCII bytes")
        t: float | None = None
        sentence = line
        if line.startswith("\\"):
            end = line.find("\\", 1)
            if end < 0:
                raise DecodeError(feed, f"{where}.tag_block", line[:40], "is not closed by \\")
            t = _parsetag_block(feed, where, line[1:end], recv_t)
            sentence = line[end + 1 :]
        if sentence.startswith("$"):
            self.stats.other_sentences += 1
            return None
        if not sentence.startswith("!"):
            raise DecodeError(feed, f"{where}.sentence", sentence[:40], "must start with ! or $")
        parsed = _parse_sentence(feed, where, sentence, t)
        if parsed is None:
            self.stats.other_sentences += 1
            return None
        self.stats.sentences += 1
        if parsed.count == 1:
            return self._message(feed, where, parsed.armored, parsed.fill, t, source, recv_t)
        return self._fragment(feed, where, parsed, source, recv_t)

    def _fragment(
        self, feed: str, where: str, frag: _Line, source: str, recv_t: float
    ) -> AisPosition | AisStatic | None:
        key = (source, frag.talker, frag.channel, frag.seq, frag.count)
        partial = self._pending.get(key)
        if partial is not None and partial.parts[frag.number - 1] is not None:
            self._drop(key)
            partial = None
        if partial is None:
            if len(self._pending) >= self.max_pending:
                self._drop(next(iter(self._pending)))
            partial = _Partial(recv_t, [None] * frag.count)
            self._pending[key] = partial
        partial.parts[frag.number - 1] = frag.armored
        if frag.t is not None and (partial.t is None or frag.number == 1):
            partial.t = frag.t
        if frag.number == frag.count:
            partial.fill = frag.fill
        if any(part is None for part in partial.parts):
            return None
        del self._pending[key]
        armored = "".join(part for part in partial.parts if part is not None)
        return self._message(feed, where, armored, partial.fill, partial.t, source, recv_t)

    def _drop(self, key: _Key) -> None:
        partial = self._pending.pop(key)
        self.stats.fragments_expired += sum(part is not None for part in partial.parts)

    def _expire(self, recv_t: float) -> None:
        """Drop incomplete messages older than the reassembly timeout (oldest first)."""
        while self._pending:
            key = next(iter(self._pending))
            if recv_t - self._pending[key].first_recv_t <= self.reassembly_timeout_s:
                return
            self._drop(key)

    def _message(
        self, feed: str, where: str, armored: str, fill: int, t: float | None, source: str,
        recv_t: float,
    ) -> AisPosition | AisStatic | None:
        """A complete armored payload -> report, None for other message types."""
        if not armored:
            raise DecodeError(feed, f"{where}.payload", armored, "is empty")
        msg_type = (ord(armored[0]) - 48) - (8 if ord(armored[0]) > 87 else 0)
        if msg_type not in POSITION_TYPES and msg_type not in STATIC_TYPES:
            self.stats.other_types += 1
            return None
        bits = 6 * len(armored) - fill
        if bits < MIN_BITS[msg_type]:
            raise DecodeError(
                feed, f"{where}.payload", armored,
                f"type {msg_type} needs {MIN_BITS[msg_type]} bits, got {bits}",
            )
        try:
            msg = MSG_CLASS[msg_type].from_vector(bit_vector(armored.encode("ascii"), fill))
        except Exception as err:  # pyais raises assorted types on malformed bits
            raise DecodeError(feed, f"{where}.payload", armored, f"pyais: {err}") from None
        mmsi = int(msg.mmsi)
        if not 0 < mmsi <= MMSI_MAX:
            raise DecodeError(feed, f"{where}.mmsi", mmsi, f"must be in 1..{MMSI_MAX}")
        when = recv_t if t is None else t
        if msg_type in STATIC_TYPES:
            return _static(msg, mmsi, when, source)
        return _position(feed, where, msg, mmsi, when, source)
