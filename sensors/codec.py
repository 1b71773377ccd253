"""Shared edge validation for every sensor codec: one implementation of the bounds.

Every decoder checks each number it accepts against one of the ``Bound``s below and
turns a failure into a ``DecodeError`` naming the feed (``"{kind}/{source}"``), the
field (with an index such as ``plots[4].range_m``) and the offending value. The
limits themselves are documented in docs/FORMATS.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeGuard, TypeVar

import msgspec
import numpy as np

from sensors.errors import DecodeError
from sensors.limits import DEFAULT_LIMITS, MAX_AGE_S, MAX_FUTURE_S, DecodeLimits
from sensors.reports import Report

T = TypeVar("T")
R = TypeVar("R", bound=Report)

KNOT_MPS = 1852.0 / 3600.0  # one knot in m/s
FOOT_M = 0.3048  # one international foot in metres


class Decoder(Protocol):
    """The shape every feed decoder shares (docs/INTERNALS.md, "Codecs")."""

    feed: str

    def decode(
        self, payload: bytes, source: str, recv_t: float
    ) -> tuple[list[Report], list[DecodeError]]:
        """Decode one MQTT payload; never raises for bad input."""
        ...


@dataclass(frozen=True, slots=True)
class Bound:
    """A closed (or, with ``hi_open``, half-open) interval a finite number must lie in."""

    lo: float
    hi: float
    hi_open: bool = False

    def holds(self, value: float) -> bool:
        """True when ``value`` is finite and inside the interval (NaN never holds)."""
        if self.hi_open:
            return self.lo <= value < self.hi
        return self.lo <= value <= self.hi

    def meta(self) -> msgspec.Meta:
        """The same bound as a msgspec constraint, checked in C while decoding."""
        if self.hi_open:
            return msgspec.Meta(ge=self.lo, lt=self.hi)
        return msgspec.Meta(ge=self.lo, le=self.hi)

    def reason(self) -> str:
        """The rule as a sentence fragment for a DecodeError."""
        close = ")" if self.hi_open else "]"
        return f"must be a finite number in [{self.lo:g}, {self.hi:g}{close}"


LAT = Bound(-90.0, 90.0)  # degrees
LON = Bound(-180.0, 180.0)  # degrees
ANGLE = Bound(0.0, 360.0, hi_open=True)  # azimuth, course, heading, degrees from true north
ELEVATION = Bound(-90.0, 90.0)  # degrees above the horizontal
RANGE_M = Bound(0.0, 5.0e6)  # slant range, metres (beyond any radar horizon)
SIGMA = Bound(0.0, 1.0e7)  # standard deviations (m or deg), non-negative
SIGMA_ANGLE_DEG = Bound(0.0, 180.0)  # an angle's standard deviation, degrees: a half turn is already no bearing at all;
# beyond ~1,525 deg exp(-sigma^2 / 2) of the unbiased polar conversion underflows to 0 (sensors.measurement)
VARIANCE_M2 = Bound(0.0, 1.0e14)  # covariance diagonal, m^2 (a 10,000 km sigma)
COVARIANCE_M2 = Bound(-1.0e14, 1.0e14)  # covariance off-diagonal, m^2
SPEED_MPS = Bound(0.0, 1500.0)  # ground speed, m/s
VRATE_MPS = Bound(-500.0, 500.0)  # vertical rate, m/s
ALT_M = Bound(-1000.0, 30000.0)  # altitude above MSL, metres
SNR_DB = Bound(-100.0, 200.0)  # signal to noise ratio, dB


def feed_name(kind: str, source: str) -> str:
    """The ``feed`` of a DecodeError: ``"radar/site-3"``."""
    return f"{kind}/{source}"


def is_number(value: object) -> TypeGuard[int | float]:
    """True for an int or float that is not a bool (JSON numbers after decoding)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_number(feed: str, field: str, value: object, bound: Bound) -> float:
    """Return ``value`` as float if it is a number inside ``bound``; else raise DecodeError."""
    if not is_number(value):
        raise DecodeError(feed, field, value, "must be a number")
    number = float(value)
    if not bound.holds(number):
        raise DecodeError(feed, field, value, bound.reason())
    return number


def check_optional(feed: str, field: str, value: object, bound: Bound) -> float | None:
    """Like ``check_number`` but None passes through (an optional wire field)."""
    if value is None:
        return None
    return check_number(feed, field, value, bound)


def check_time(feed: str, field: str, t: object, recv_t: float) -> float:
    """Return ``t`` if it is a finite Unix time within the limits.py window around ``recv_t``.

    Accepted: ``recv_t - MAX_AGE_S <= t <= recv_t + MAX_FUTURE_S`` (seconds).
    """
    if not is_number(t) or not math.isfinite(float(t)):
        raise DecodeError(feed, field, t, "must be a finite Unix time in seconds")
    seconds = float(t)
    if seconds > recv_t + MAX_FUTURE_S:
        raise DecodeError(
            feed, field, t, f"is more than {MAX_FUTURE_S:g} s after the receive time {recv_t:.3f}"
        )
    if seconds < recv_t - MAX_AGE_S:
        raise DecodeError(
            feed, field, t, f"is more than {MAX_AGE_S:g} s before the receive time {recv_t:.3f}"
        )
    return seconds


def check_payload_size(feed: str, payload: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeError | None:
    """A DecodeError for a payload over ``limits.max_payload_bytes`` (rejected whole), else None."""
    if len(payload) > limits.max_payload_bytes:
        return DecodeError(
            feed, "payload", f"<{len(payload)} bytes>", f"exceeds {limits.max_payload_bytes} bytes (max_payload_bytes)"
        )
    return None


_BRACKETS = bytes(c for c in range(256) if c not in b'"[]{}')  # deleted to leave strings and nesting
_DEPTH_STEP = np.zeros(256, np.int8)  # nesting step per byte: +1 opens, -1 closes (one lookup per bracket)
_DEPTH_STEP[list(b"[{")] = 1
_DEPTH_STEP[list(b"]}")] = -1


def _structure(payload: bytes) -> bytes:
    """The quotes and brackets of ``payload``, escaped backslashes and escaped quotes removed
    first, so that every quote left opens or closes a string."""
    text = payload.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in payload else payload
    return text.translate(None, _BRACKETS)


def _depth(structure: bytes) -> int:
    """Deepest nesting in the output of ``_structure``: brackets inside strings dropped, then
    the running sum of +1 per ``[``/``{`` and -1 per ``]``/``}``."""
    outside = np.frombuffer(b"".join(structure.split(b'"')[::2]), dtype=np.uint8)  # even parts: outside strings
    if outside.size == 0:
        return 0
    return int(np.cumsum(_DEPTH_STEP[outside], dtype=np.int64).max())


def json_depth(payload: bytes) -> int:
    """Deepest nesting of JSON arrays and objects in ``payload`` (0 for a scalar), without parsing.

    Written by hand because the JSON parser is what must not see a deep document. Exact for
    valid JSON (property-tested) and an upper bound of what the parser would recurse into
    otherwise. C-speed byte passes, then numpy on the brackets only (a 10,000-plot radar
    scan of 275 kB: ~1 ms on a loaded machine, under 4 % of its decoding).
    """
    return _depth(_structure(payload))


def check_json_depth(feed: str, payload: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeError | None:
    """A DecodeError for JSON nested deeper than ``limits.max_json_depth`` (rejected whole), else None."""
    structure = _structure(payload)
    if structure.count(b"[") + structure.count(b"{") <= limits.max_json_depth:  # cannot be deeper
        return None
    depth = _depth(structure)
    if depth > limits.max_json_depth:
        return DecodeError(feed, "payload", f"<nesting depth {depth}>",
                           f"JSON nests deeper than {limits.max_json_depth} levels (max_json_depth)")
    return None


def check_json_payload(feed: str, payload: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeError | None:
    """The bounds of a JSON payload before it is parsed: its size, then its nesting depth (None when within)."""
    return check_payload_size(feed, payload, limits) or check_json_depth(feed, payload, limits)


def decode_json_report(
    feed: str, payload: bytes, limits: DecodeLimits, record: type[R], check: Callable[[R], None]
) -> tuple[list[Report], list[DecodeError]]:
    """A feed of one JSON object per payload (OTH fixes, satellite scenes): bounded, decoded into
    ``record``, then ``check`` (which raises DecodeError naming the field); ([the record], []) or
    ([], [DecodeError]), never raises."""
    oversized = check_json_payload(feed, payload, limits)
    if oversized is not None:
        return [], [oversized]
    try:
        obj = decode_json(feed, payload, record, {})
        check(obj)
    except DecodeError as err:
        return [], [err]
    return [obj], []


_LINE_BREAKS = (b"\n", b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")  # str.splitlines of ASCII text


def line_count(payload: bytes) -> int:
    """The number of lines ``payload.decode("ascii", "replace").splitlines()`` gives, from
    C-speed counts (no split, no string per line)."""
    breaks = sum(payload.count(b) for b in _LINE_BREAKS) - payload.count(b"\r\n")
    return breaks + (0 if not payload or payload[-1:] in _LINE_BREAKS else 1)


def check_line_count(feed: str, payload: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeError | None:
    """A DecodeError for a payload of more than ``limits.max_lines_per_payload`` lines (rejected whole), else None."""
    if len(payload) <= limits.max_lines_per_payload:  # n bytes make at most n lines
        return None
    n = line_count(payload)
    if n > limits.max_lines_per_payload:
        return DecodeError(feed, "payload", f"<{n} lines>",
                           f"has more than {limits.max_lines_per_payload} lines (max_lines_per_payload)")
    return None


_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_INDEX = re.compile(r"\[(\d+)\]")
_MISSING = re.compile(r"missing required field `(?P<name>[^`]+)`")


def _field_path(path: str, array_fields: Mapping[str, tuple[str, ...]]) -> str:
    """``.plots[4][0]`` -> ``plots[4].range_m`` using the names of array-like records."""
    parts: list[str] = []
    for name, rest in re.findall(r"\.([A-Za-z_]\w*)((?:\[\d+\])*)", path):
        indices = _INDEX.findall(rest)
        names = array_fields.get(name)
        if names is not None and len(indices) == 2 and int(indices[1]) < len(names):
            parts.append(f"{name}[{indices[0]}].{names[int(indices[1])]}")
        else:
            parts.append(name + rest)
    return ".".join(parts)


def _lookup(document: object, path: str) -> object:
    """The value at a msgspec error path (``.plots[4][0]``) in an untyped document."""
    node = document
    for name, index in re.findall(r"\.([A-Za-z_]\w*)|\[(\d+)\]", path):
        if name and isinstance(node, dict):
            node = node.get(name)
        elif index and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        else:
            return None
    return node


def decode_json(
    feed: str,
    payload: bytes | msgspec.Raw,
    record: type[T],
    array_fields: Mapping[str, tuple[str, ...]],
    prefix: str = "",
) -> T:
    """Decode a JSON payload into the msgspec ``record`` or raise a DecodeError naming the field.

    ``array_fields`` names the elements of array-like sub-records, e.g.
    ``{"plots": ("range_m", "az_deg", "el_deg", "snr_db")}``, so that a type error at
    ``$.plots[4][0]`` is reported as ``plots[4].range_m``; ``prefix`` (``"aircraft[3]."``)
    is put in front of every field name.
    """
    try:
        return msgspec.json.decode(payload, type=record)
    except RecursionError:  # the decoders check the depth first (check_json_depth): not expected
        raise DecodeError(feed, prefix.rstrip(".") or "payload", bytes(payload)[:40], "JSON nests too deep") from None
    except msgspec.ValidationError as err:
        message = str(err)
        located = _PATH.search(message)
        path = located.group("path") if located else ""
        missing = _MISSING.search(message)
        if missing:
            path = f"{path}.{missing.group('name')}"
        reason = _PATH.sub("", message)
        try:
            value = _lookup(msgspec.json.decode(payload), path) if not missing else None
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            value = None
        name = _field_path(path, array_fields)
        raise DecodeError(feed, prefix + name if name else prefix.rstrip(".") or "payload", value, reason) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as err:  # msgspec lets bad UTF-8 through
        raise DecodeError(feed, prefix.rstrip(".") or "payload", bytes(payload)[:40], f"not valid JSON: {err}") from None


def check_encodable(kind: str, field: str, value: float, bound: Bound) -> float:
    """For encoders: return ``value`` if inside ``bound``, else raise ValueError naming it."""
    if not bound.holds(value):
        raise ValueError(f"{kind} encode: {field} = {value!r}: {bound.reason()}")
    return value
