"""Decoded sensor reports: the typed records that cross from codecs into fusion.

Every codec in ``sensors`` decodes wire bytes into these records and encodes them back
(``decode(encode(r)) == r``). Units as DESIGN.md: Unix seconds, degrees, metres, m/s.
Identity keys: ``mmsi`` is the 9-digit MMSI as int; ``icao24`` is the 24-bit ICAO
address as int (0..0xFFFFFF).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import msgspec
import numpy as np
from numpy.typing import NDArray

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
    # the radar constant, both or neither: the mean SNR (dB) of a 1 m^2 target at rcs_ref_range_m (slant range);
    # with it a plot's SNR and range give an RCS estimate (sensors.radar.plot_rcs_dbsm)
    snr_1m2_db: float | None = None
    rcs_ref_range_m: float | None = None
    plots: list[RadarPlot] = []


PLOT_COLUMNS: tuple[str, ...] = ("range_m", "az_deg", "el_deg", "snr_db")


@dataclass(frozen=True, eq=False)
class RadarScanArrays:
    """A decoded, validated radar scan with its plots as one array (the ingest fast path).

    ``scan`` is the header (every RadarScan field, ``plots`` empty); ``plots`` is (M, 4)
    float64 with the columns of PLOT_COLUMNS, NaN where ``el_deg``/``snr_db`` were null or
    omitted (JSON cannot carry NaN, so NaN means "not given"). The array is read-only.
    ``to_scan()`` is the equivalent RadarScan with RadarPlot records.
    """

    scan: RadarScan
    plots: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.plots.shape[0])

    @property
    def site(self) -> str:
        return self.scan.site

    @property
    def t(self) -> float:
        return self.scan.t

    @classmethod
    def from_scan(cls, scan: RadarScan) -> RadarScanArrays:
        """The arrays form of a RadarScan (None -> NaN)."""
        rows = [(p.range_m, p.az_deg, p.el_deg, p.snr_db) for p in scan.plots]
        plots = np.array(rows, dtype=np.float64).reshape(-1, 4)  # None -> NaN
        plots.flags.writeable = False
        return cls(msgspec.structs.replace(scan, plots=[]), plots)

    def to_scan(self) -> RadarScan:
        """The RadarScan with one RadarPlot per row (NaN -> None)."""
        plots = [
            RadarPlot(range_m=r, az_deg=a, el_deg=None if e != e else e, snr_db=None if s != s else s)
            for r, a, e, s in self.plots.tolist()
        ]
        return msgspec.structs.replace(self.scan, plots=plots)

    def __reduce__(self) -> tuple[Callable[..., RadarScanArrays], tuple[RadarScan, NDArray[np.float64]]]:
        """Pickled by its parts, and read-only again when unpickled (the MQTT link process sends
        decoded scans to the service: fusion/predecode.py)."""
        return (_read_only_scan, (self.scan, self.plots))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RadarScanArrays):
            return NotImplemented
        return self.scan == other.scan and np.array_equal(self.plots, other.plots, equal_nan=True)

    __hash__ = None  # type: ignore[assignment]  # unhashable (holds an array): the documented idiom


def _read_only_scan(scan: RadarScan, plots: NDArray[np.float64]) -> RadarScanArrays:
    """``RadarScanArrays(scan, plots)`` with ``plots`` made read-only (unpickling)."""
    plots.flags.writeable = False
    return RadarScanArrays(scan, plots)


class OthFix(msgspec.Struct, frozen=True, kw_only=True):
    """Over-the-horizon radar fix: position with a 2-D east/north error covariance."""

    site: str
    t: float
    lat: float
    lon: float
    cov_en_m2: tuple[tuple[float, float], tuple[float, float]]  # [[ee, en], [ne, nn]]
    speed_mps: float | None = None
    course_deg: float | None = None


SatSensor = Literal["sar", "viirs", "optical"]


class SatDetection(msgspec.Struct, frozen=True, kw_only=True):
    """One vessel detected in a satellite image: position, its error, no identity."""

    lat: float
    lon: float
    pos_err_m: float  # 1-sigma horizontal position error (geolocation + detection), metres
    length_m: float | None = None  # estimated length overall; None when not estimated (VIIRS)
    confidence: float = 1.0  # the provider's detection confidence, 0..1


class SatScene(msgspec.Struct, frozen=True, kw_only=True):
    """Vessel detections of one satellite image (SAR, VIIRS night lights, optical), published
    minutes to hours after its acquisition."""

    source: str  # provider / satellite id (last topic level)
    sensor: SatSensor
    acq_time: float  # acquisition time of the image, Unix s
    detections: list[SatDetection] = []


Report = AisPosition | AisStatic | AdsbReport | RadarScan | RadarScanArrays | OthFix | SatScene
