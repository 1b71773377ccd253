"""Radar scan codec: one JSON object per scan or sector (schema sensors/schemas/radar.schema.json).

The wire shape is the msgspec JSON form of ``sensors.reports.RadarScan``: scan header
fields by name, and ``plots`` as compact arrays ``[range_m, az_deg, el_deg|null,
snr_db|null]``. A bad header rejects the scan; a bad plot is dropped with its own
DecodeError (``plots[4].range_m``) and the rest of the scan is kept.

Two decoders share one set of rules: ``RadarDecoder.decode_arrays`` (what ingest uses)
returns ``RadarScanArrays``, the plots as one (M, 4) float64 array; ``decode`` returns the
same scan as a ``RadarScan`` with RadarPlot records. The arrays path never builds a
Python object per plot when the scan is well formed: msgspec decodes the header with the
plots left as raw JSON, the plots are decoded as one flat list of floats (brackets
removed once their nesting is checked) straight into numpy, and every plot bound is
checked with one vectorised comparison per column. Anything that path does not handle
exactly (plots that are not all ``[range, az, el|null, snr|null]``, a type error
anywhere) goes to the general path below, which gives the same reports and the same
errors as before (the fast path only ever returns what the general path would return,
tested in tests/property/test_fast_paths.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import msgspec
import numpy as np

from sensors.codec import (
    ALT_M,
    ANGLE,
    ELEVATION,
    LAT,
    LON,
    RANGE_M,
    SIGMA,
    SIGMA_ANGLE_DEG,
    SNR_DB,
    SPEED_MPS,
    Bound,
    check_json_payload,
    check_number,
    check_optional,
    check_time,
    decode_json,
    feed_name,
)
from sensors.errors import DecodeError
from sensors.limits import DEFAULT_LIMITS, DecodeLimits
from sensors.reports import RadarPlot, RadarScan, RadarScanArrays, Report

FEED = "radar"
REF_RANGE_M = Bound(1.0, 5.0e6)  # reference range of the radar constant, m (positive: RCS scales with (R / R_ref)^4)
PLOT_FIELDS: tuple[str, ...] = ("range_m", "az_deg", "el_deg", "snr_db")
_ARRAY_FIELDS = {"plots": PLOT_FIELDS}
_HEADER: tuple[tuple[str, Bound], ...] = (
    ("sensor_lat", LAT),
    ("sensor_lon", LON),
    ("sensor_alt_m", ALT_M),
    ("sigma_range_m", SIGMA),
    ("sigma_az_deg", SIGMA_ANGLE_DEG),
)
_HEADER_OPTIONAL: tuple[tuple[str, Bound], ...] = (
    ("sigma_el_deg", SIGMA_ANGLE_DEG),
    ("sensor_heading_deg", ANGLE),
    ("sensor_speed_mps", SPEED_MPS),
    ("max_range_m", RANGE_M),
    ("snr_1m2_db", SNR_DB),
    ("rcs_ref_range_m", REF_RANGE_M),
)
_CONSTANT = ("snr_1m2_db", "rcs_ref_range_m")  # the radar constant: both or neither
_ENCODER = msgspec.json.Encoder()


class _PlotCheck(msgspec.Struct, array_like=True):
    """The plot bounds as msgspec constraints: the fast path validates a scan in C."""

    range_m: Annotated[float, RANGE_M.meta()]
    az_deg: Annotated[float, ANGLE.meta()]
    el_deg: Annotated[float, ELEVATION.meta()] | None = None
    snr_db: Annotated[float, SNR_DB.meta()] | None = None


class _PlotsCheck(msgspec.Struct):
    plots: list[_PlotCheck] = []


_CHECK_PLOTS = msgspec.json.Decoder(_PlotsCheck)

# The fast path: the header as RadarScan declares it (same types, same defaults) with the
# plots left as raw JSON, then the plots as one flat list of floats.
_Header = msgspec.defstruct(
    "_Header",
    [(f.name, msgspec.Raw, msgspec.Raw(b"[]")) if f.name == "plots"
     else (f.name, f.type) if f.required else (f.name, f.type, f.default)
     for f in msgspec.structs.fields(RadarScan)],
    kw_only=True,
)
_HEADER_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder(_Header)  # _Header's fields exist at run time only
_FLAT_DECODER = msgspec.json.Decoder(list[float | None])
_HEADER_NAMES = tuple(f.name for f in msgspec.structs.fields(RadarScan) if f.name != "plots")
_STRUCTURE = bytes(c for c in range(256) if c not in b"[],")  # deleted to leave the nesting
_PLOT_STRUCTURE = b"[,,,]"
_BOUNDS = ((RANGE_M, False), (ANGLE, False), (ELEVATION, True), (SNR_DB, True))  # (bound, nullable) per column


def encode(scan: RadarScan) -> bytes:
    """One scan as its JSON payload (UTF-8 bytes) for ``jisf/v1/feeds/radar/{scan.site}``."""
    return _ENCODER.encode(scan)


def _plot_ok(plot: RadarPlot) -> bool:
    """True when every field of one plot is inside its bound (same bounds as _PlotCheck)."""
    return (
        RANGE_M.holds(plot.range_m)
        and ANGLE.holds(plot.az_deg)
        and (plot.el_deg is None or ELEVATION.holds(plot.el_deg))
        and (plot.snr_db is None or SNR_DB.holds(plot.snr_db))
    )


def _plot_error(feed: str, index: int, plot: RadarPlot) -> DecodeError:
    """The DecodeError naming the first bad field of a plot that failed ``_plot_ok``."""
    prefix = f"plots[{index}]"
    try:
        check_number(feed, f"{prefix}.range_m", plot.range_m, RANGE_M)
        check_number(feed, f"{prefix}.az_deg", plot.az_deg, ANGLE)
        check_optional(feed, f"{prefix}.el_deg", plot.el_deg, ELEVATION)
        check_optional(feed, f"{prefix}.snr_db", plot.snr_db, SNR_DB)
    except DecodeError as err:
        return err
    return DecodeError(feed, prefix, plot, "rejected")


def _check_site(feed: str, scan: RadarScan, source: str) -> None:
    """Raise DecodeError when the scan's site is not the topic's."""
    if scan.site != source:
        raise DecodeError(feed, "site", scan.site, f"must match the topic's site {source!r}")


def _check_fields(feed: str, scan: RadarScan) -> None:
    """Raise DecodeError for a bad sensor position, noise figure, scan id or radar constant (the
    header checks after the site's and the time's, in that order)."""
    for name, bound in _HEADER:
        check_number(feed, name, getattr(scan, name), bound)
    for name, bound in _HEADER_OPTIONAL:
        check_optional(feed, name, getattr(scan, name), bound)
    if scan.scan_id < 0:
        raise DecodeError(feed, "scan_id", scan.scan_id, "must be >= 0")
    given = [getattr(scan, name) is not None for name in _CONSTANT]
    if given[0] != given[1]:
        missing = _CONSTANT[given.index(False)]
        raise DecodeError(feed, missing, None, f"must be given with {_CONSTANT[given.index(True)]} (the radar constant)")


_S = TypeVar("_S", RadarScan, RadarScanArrays)


@dataclass(frozen=True)
class RadarParse(Generic[_S]):
    """A radar payload decoded but for the one check that needs its receive time (the scan time
    within ``sensors.limits``' window around it): ``RadarDecoder.parse``; ``finish(recv_t)`` gives
    what ``decode_arrays`` gives. Picklable, so that the MQTT link process can parse and the
    service finish (fusion/predecode.py): one decode for the live and the offline paths.

    A header is checked in the order site, time, the other fields; ``after_time`` holds the
    error of the other fields, which a bad time takes precedence over."""

    feed: str  # "radar/{site}"
    scans: list[_S]  # the scan with its valid plots; empty when rejected whole
    errors: list[DecodeError]  # the plots dropped, each named; or the one error rejecting the scan whole
    t: float | None = None  # the scan time to check against the receive time; None: rejected before that check
    after_time: DecodeError | None = None  # the header's error after the time check (if the time passes)

    def finish(self, recv_t: float) -> tuple[list[_S], list[DecodeError]]:
        """The decode of the payload received at ``recv_t`` (Unix s): (scans, errors); never raises."""
        if self.t is not None:
            try:
                check_time(self.feed, "t", self.t, recv_t)
            except DecodeError as err:
                return [], [err]
            if self.after_time is not None:
                return [], [self.after_time]
        return list(self.scans), list(self.errors)


def _rejected_header(feed: str, scan: RadarScan, source: str) -> RadarParse[Any] | None:
    """The parse of a scan rejected by its header (before or after the time check); None when the
    header holds but for its time, which ``RadarParse.finish`` checks."""
    try:
        _check_site(feed, scan, source)
    except DecodeError as err:
        return RadarParse(feed, [], [err])
    try:
        _check_fields(feed, scan)
    except DecodeError as err:
        return RadarParse(feed, [], [], scan.t, err)
    return None


def plot_rcs_dbsm(scan: RadarScan, range_m: np.ndarray, snr_db: np.ndarray) -> np.ndarray:
    """(M,) radar cross-section estimate, dBsm, of plots at slant ``range_m`` (M,) with ``snr_db`` (M,), by the
    radar equation (SNR proportional to RCS / R^4) from the scan's radar constant: snr_db - snr_1m2_db +
    40 log10(range / rcs_ref_range_m). NaN where the SNR is NaN (not given) or the scan states no constant.
    One look of a fluctuating target: under Swerling I its linear value is exponential about the mean RCS."""
    if scan.snr_1m2_db is None or scan.rcs_ref_range_m is None:
        return np.full(np.shape(range_m), np.nan)
    return snr_db - scan.snr_1m2_db + 40.0 * np.log10(np.maximum(range_m, 1.0) / scan.rcs_ref_range_m)


def _fast_plots(raw: bytes, structure: bytes) -> np.ndarray | None:
    """Raw JSON plots and their ``structure`` (``raw.translate(None, _STRUCTURE)``) -> (M, 4)
    float64 (NaN for null), or None when this path cannot decode them exactly (then the
    general path decides).

    Exact: the structural characters must be exactly ``[[,,,],...,[,,,]]`` (so every plot
    has four elements and nothing nests), every element must decode as a float or null
    (msgspec), and range and azimuth must not be null. JSON cannot carry NaN, so NaN in
    the array means null.
    """
    count = (len(structure) - 1) // 6  # "[" + "[,,,]," * (count - 1) + "[,,,]" + "]"
    if count <= 0 or structure != b"[" + (_PLOT_STRUCTURE + b",") * (count - 1) + _PLOT_STRUCTURE + b"]":
        return None
    try:
        # the brackets removed by two replaces: cheaper than a translate, which walks every byte
        values = _FLAT_DECODER.decode(b"[" + raw.replace(b"[", b"").replace(b"]", b"") + b"]")
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    if len(values) != 4 * count:
        return None
    plots = np.empty((count, 4))
    for col in range(4):  # column by column: a column without null converts fastest, an all-null one not at all
        column = values[col::4]
        nulls = column.count(None)
        if nulls and col < 2:  # a null range or azimuth: a type error, the general path names it
            return None
        if nulls == 0:
            plots[:, col] = np.fromiter(column, np.float64, count)
        elif nulls == count:
            plots[:, col] = np.nan
        else:
            plots[:, col] = np.array(column, dtype=np.float64)  # None -> NaN
    return plots


def _in_bounds(plots: np.ndarray) -> np.ndarray:
    """(M,) True where every field of a plot is inside its bound (NaN allowed where nullable)."""
    ok = np.ones(plots.shape[0], dtype=bool)
    for col, (bound, nullable) in enumerate(_BOUNDS):
        v = plots[:, col]
        inside = (v >= bound.lo) & ((v < bound.hi) if bound.hi_open else (v <= bound.hi))
        ok &= (inside | np.isnan(v)) if nullable else inside
    return ok


class RadarDecoder:
    """Decodes radar scan payloads into RadarScanArrays (``decode_arrays``) or RadarScan
    (``decode``) reports (stateless)."""

    feed: str = FEED

    def __init__(self, *, fast: bool = True, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        self.fast = fast  # False: every payload through the general path, the reference for tests and bench
        self.limits = limits  # payload size, JSON depth, plots per scan

    def _oversized(self, feed: str, payload: bytes) -> DecodeError | None:
        """A DecodeError when the payload is over its size or nesting limit (rejected whole)."""
        return check_json_payload(feed, payload, self.limits)

    def _too_many_plots(self, feed: str, count: int) -> DecodeError | None:
        if count > self.limits.max_plots_per_scan:
            return DecodeError(feed, "plots", f"<{count} plots>",
                               f"has more than {self.limits.max_plots_per_scan} plots (max_plots_per_scan)")
        return None

    def decode(
        self, payload: bytes, source: str, recv_t: float
    ) -> tuple[list[Report], list[DecodeError]]:
        """One payload -> ([RadarScan] with the valid plots, [DecodeError]); never raises.

        The general path: RadarScan records are what it builds anyway (``decode_arrays``
        gives the same scan as arrays, ``to_scan()`` of its result equals this one)."""
        feed = feed_name(FEED, source)
        oversized = self._oversized(feed, payload)
        if oversized is not None:
            return [], [oversized]
        scans, errors = self._general_parse(feed, payload, source).finish(recv_t)
        return [*scans], errors

    def decode_arrays(
        self, payload: bytes, source: str, recv_t: float
    ) -> tuple[list[RadarScanArrays], list[DecodeError]]:
        """One payload -> ([RadarScanArrays] with the valid plots, [DecodeError]); never raises."""
        return self.parse(payload, source).finish(recv_t)

    def parse(self, payload: bytes, source: str) -> RadarParse[RadarScanArrays]:
        """One payload decoded as ``decode_arrays`` does, but for the check of its time against the
        receive time (``RadarParse.finish``); never raises. Pure: it may run in another process."""
        feed = feed_name(FEED, source)
        oversized = self._oversized(feed, payload)
        if oversized is not None:
            return RadarParse(feed, [], [oversized])
        header = None
        # One "plots" key, spelled without escapes: msgspec keeps the last of repeated keys, and the
        # header's raw plots would hide an earlier bad one that the general path rejects (a fuzz finding,
        # tests/fuzz/regressions/radar_arrays/).
        if self.fast and payload.count(b'"plots"') == 1 and b"\\" not in payload:
            try:
                header = _HEADER_DECODER.decode(payload)
            except (msgspec.DecodeError, UnicodeDecodeError):  # ValidationError is a DecodeError
                header = None
        plots = None
        if header is not None:
            raw = bytes(header.plots)
            structure = raw.translate(None, _STRUCTURE)
            # "[" of the list and of each plot: the count before any plot is decoded
            too_many = self._too_many_plots(feed, structure.count(b"[") - 1)
            if too_many is not None:
                return RadarParse(feed, [], [too_many])
            plots = _fast_plots(raw, structure)
        if header is None or plots is None:
            general = self._general_parse(feed, payload, source)
            return RadarParse(feed, [RadarScanArrays.from_scan(r) for r in general.scans], general.errors, general.t,
                              general.after_time)
        scan = RadarScan(**{name: getattr(header, name) for name in _HEADER_NAMES})
        rejected = _rejected_header(feed, scan, source)
        if rejected is not None:
            return rejected
        ok = _in_bounds(plots)
        errors = []
        if not ok.all():
            bad = np.flatnonzero(~ok)
            errors = [_plot_error(feed, int(i), _plot_record(plots[i])) for i in bad]
            plots = plots[ok]
        plots.flags.writeable = False
        return RadarParse(feed, [RadarScanArrays(scan, plots)], errors, scan.t)

    def _general_parse(self, feed: str, payload: bytes, source: str) -> RadarParse[RadarScan]:
        """The general path (every payload the fast path does not take): RadarScan records;
        the payload's size and nesting are checked already."""
        try:
            scan = decode_json(feed, payload, RadarScan, _ARRAY_FIELDS)
            too_many = self._too_many_plots(feed, len(scan.plots))
            if too_many is not None:
                raise too_many
        except DecodeError as err:
            return RadarParse(feed, [], [err])
        rejected = _rejected_header(feed, scan, source)
        if rejected is not None:
            return rejected
        try:
            _CHECK_PLOTS.decode(payload)
        except msgspec.ValidationError:
            scan, errors = self._partial(feed, scan)
            return RadarParse(feed, [scan], errors, scan.t)
        return RadarParse(feed, [scan], [], scan.t)

    @staticmethod
    def _partial(feed: str, scan: RadarScan) -> tuple[RadarScan, list[DecodeError]]:
        """Slow path for a scan with bad plots: drop each, with a DecodeError naming it."""
        plots = scan.plots
        errors = [_plot_error(feed, i, p) for i, p in enumerate(plots) if not _plot_ok(p)]
        good = [p for p in plots if _plot_ok(p)]
        return msgspec.structs.replace(scan, plots=good), errors


def _plot_record(row: np.ndarray) -> RadarPlot:
    """One (4,) plot row as the RadarPlot it was decoded from (NaN -> None)."""
    r, a, e, s = row.tolist()
    return RadarPlot(range_m=r, az_deg=a, el_deg=None if e != e else e, snr_db=None if s != s else s)
