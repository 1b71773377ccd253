"""Radar scan codec: one JSON object per scan or sector (schema sensors/schemas/radar.schema.json).

The wire shape is the msgspec JSON form of ``sensors.reports.RadarScan``: scan header
fields by name, and ``plots`` as compact arrays ``[range_m, az_deg, el_deg|null,
snr_db|null]``. A bad header rejects the scan; a bad plot is dropped with its own
DecodeError (``plots[4].range_m``) and the rest of the scan is kept.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from sensors.codec import (
    ALT_M,
    ANGLE,
    ELEVATION,
    LAT,
    LON,
    RANGE_M,
    SIGMA,
    SNR_DB,
    SPEED_MPS,
    Bound,
    check_number,
    check_optional,
    check_payload_size,
    check_time,
    decode_json,
    feed_name,
)
from sensors.errors import DecodeError
from sensors.reports import RadarPlot, RadarScan, Report

FEED = "radar"
PLOT_FIELDS: tuple[str, ...] = ("range_m", "az_deg", "el_deg", "snr_db")
_ARRAY_FIELDS = {"plots": PLOT_FIELDS}
_HEADER: tuple[tuple[str, Bound], ...] = (
    ("sensor_lat", LAT),
    ("sensor_lon", LON),
    ("sensor_alt_m", ALT_M),
    ("sigma_range_m", SIGMA),
    ("sigma_az_deg", SIGMA),
)
_HEADER_OPTIONAL: tuple[tuple[str, Bound], ...] = (
    ("sigma_el_deg", SIGMA),
    ("sensor_heading_deg", ANGLE),
    ("sensor_speed_mps", SPEED_MPS),
    ("max_range_m", RANGE_M),
)
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


def _check_header(feed: str, scan: RadarScan, source: str, recv_t: float) -> None:
    """Raise DecodeError for a bad scan header (site, time, sensor position, noise)."""
    if scan.site != source:
        raise DecodeError(feed, "site", scan.site, f"must match the topic's site {source!r}")
    check_time(feed, "t", scan.t, recv_t)
    for name, bound in _HEADER:
        check_number(feed, name, getattr(scan, name), bound)
    for name, bound in _HEADER_OPTIONAL:
        check_optional(feed, name, getattr(scan, name), bound)
    if scan.scan_id < 0:
        raise DecodeError(feed, "scan_id", scan.scan_id, "must be >= 0")


class RadarDecoder:
    """Decodes radar scan payloads into RadarScan reports (stateless)."""

    feed: str = FEED

    def decode(
        self, payload: bytes, source: str, recv_t: float
    ) -> tuple[list[Report], list[DecodeError]]:
        """One payload -> ([RadarScan] with the valid plots, [DecodeError]); never raises."""
        feed = feed_name(FEED, source)
        oversized = check_payload_size(feed, payload)
        if oversized is not None:
            return [], [oversized]
        try:
            scan = decode_json(feed, payload, RadarScan, _ARRAY_FIELDS)
            _check_header(feed, scan, source, recv_t)
        except DecodeError as err:
            return [], [err]
        try:
            _CHECK_PLOTS.decode(payload)
        except msgspec.ValidationError:
            return self._partial(feed, scan)
        return [scan], []

    @staticmethod
    def _partial(feed: str, scan: RadarScan) -> tuple[list[Report], list[DecodeError]]:
        """Slow path for a scan with bad plots: drop each, with a DecodeError naming it."""
        plots = scan.plots
        errors = [_plot_error(feed, i, p) for i, p in enumerate(plots) if not _plot_ok(p)]
        good = [p for p in plots if _plot_ok(p)]
        return [msgspec.structs.replace(scan, plots=good)], errors
