"""Array records crossing the tracker core boundary.

Axis letters: N tracks, M measurements, d state size, m measurement size.
Local frame metres (east, north, up) and m/s; times Unix seconds.
Identity keys: ``mmsi`` int64 with 0 = none; ``icao24`` int64 with -1 = none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
Covariance = Callable[[IntArray | None], FloatArray]  # rows (None: all) -> (K, 4, 4) covariance of x

Domain = Literal["surface", "air"]
NO_MMSI = 0
NO_ICAO = -1

# Sensor kinds, as small ints so that they fit in arrays and bitmasks.
SENSOR_KINDS: tuple[str, ...] = ("ais", "adsb", "radar", "oth", "sat")
SENSOR_BIT: dict[str, int] = {k: 1 << i for i, k in enumerate(SENSOR_KINDS)}

# Track status codes in TrackView.status.
TENTATIVE, CONFIRMED, COASTING = 0, 1, 2
STATUS_NAMES: tuple[str, ...] = ("tentative", "confirmed", "coasting")


@dataclass(frozen=True)
class MeasBatch:
    """Measurements of one sensor scan or one decoded payload, already in the local frame.

    t:        (M,) measurement times, s (a radar scan has one time for all rows)
    z:        (M, 4) east, north [m], v_east, v_north [m/s]; velocity NaN where absent
    R:        (M, 4, 4) measurement covariance; velocity block ignored where has_vel is False
    has_vel:  (M,) bool, True where z carries a velocity measurement
    alt_m:    (M,) altitude above MSL, NaN where none (surface, or no altitude reported)
    sigma_alt_m: (M,) altitude standard deviation, NaN where alt_m is NaN
    mmsi:     (M,) int64, NO_MMSI where none
    icao24:   (M,) int64, NO_ICAO where none
    sensor_kind: one of SENSOR_KINDS (all rows share it)
    sensor_id: source/site name from the topic
    domain:   which track pool these measurements feed
    look_en_m: (east, north, radius) metres of the circle a radar scan covered, so that
              tracks inside it without a plot count a missed look; None when unknown
    sensor_alt_m: the radar antenna's height above the sea (m) at the scan: with it a missed look
              counts only within the radar horizon (fusion/core/manage.py ``look_pd``); None: unknown
    snr_1m2_db, rcs_ref_range_m: the scan's radar constant (mean SNR dB of a 1 m^2 target at that
              slant range, m), both or neither: with a track's RCS estimate it gives the look's Pd
              (fusion/core/manage.py ``look_pd``); None: unknown
    interval_s: (M,) expected interval (s) until the source's next report of the same target
              (ITU-R M.1371 rate for AIS, a configured revisit or scan period), NaN where
              unknown (the default): it scales the track's time limits (fusion/core/intervals.py)
    rcs_dbsm: (M,) radar cross-section estimate of one look, dBsm (radar plots with SNR and the
              scan's radar constant, sensors.radar.plot_rcs_dbsm), NaN where none (the default)
    source:   (M,) str, each row's source (the feed topic's last level): a cooperative batch
              coalesces the reports of several receivers; None (the default): every row is
              ``sensor_id``'s. Per-source budgets (``manage.BirthBudget``) charge each row's own.
    """

    t: FloatArray
    z: FloatArray
    R: FloatArray
    has_vel: BoolArray
    alt_m: FloatArray
    sigma_alt_m: FloatArray
    mmsi: IntArray
    icao24: IntArray
    sensor_kind: str
    sensor_id: str
    domain: Domain
    look_en_m: tuple[float, float, float] | None = None  # (east, north, radius): the area this scan looked at
    sensor_alt_m: float | None = None  # radar antenna height above the sea, m
    snr_1m2_db: float | None = None  # radar constant: mean SNR (dB) of 1 m^2 at rcs_ref_range_m
    rcs_ref_range_m: float | None = None
    interval_s: FloatArray = None  # type: ignore[assignment]  # None: all NaN (unknown), filled in __post_init__
    rcs_dbsm: FloatArray = None  # type: ignore[assignment]  # None: all NaN (unknown), filled in __post_init__
    source: NDArray[np.str_] | None = None  # None: every row is sensor_id's

    def __post_init__(self) -> None:
        M = self.t.shape[0] if self.t.ndim == 1 else -1
        for name in ("interval_s", "rcs_dbsm"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.full(max(M, 0), np.nan))
        checks = {
            "t": (self.t, (M,)),
            "z": (self.z, (M, 4)),
            "R": (self.R, (M, 4, 4)),
            "has_vel": (self.has_vel, (M,)),
            "alt_m": (self.alt_m, (M,)),
            "sigma_alt_m": (self.sigma_alt_m, (M,)),
            "mmsi": (self.mmsi, (M,)),
            "icao24": (self.icao24, (M,)),
            "interval_s": (self.interval_s, (M,)),
            "rcs_dbsm": (self.rcs_dbsm, (M,)),
            **({"source": (self.source, (M,))} if self.source is not None else {}),
        }
        for name, (arr, shape) in checks.items():
            if arr.shape != shape:
                raise ValueError(f"MeasBatch.{name} must be {shape}, got {arr.shape}")
        if self.sensor_kind not in SENSOR_BIT:
            raise ValueError(f"MeasBatch.sensor_kind must be one of {SENSOR_KINDS}, got {self.sensor_kind!r}")

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @cached_property
    def z_pos(self) -> FloatArray:
        """(M, 2) east, north [m], contiguous (cheap row gathers)."""
        return np.ascontiguousarray(self.z[:, :2])

    @cached_property
    def R_pos(self) -> FloatArray:
        """(M, 2, 2) position block of R, contiguous (cheap row gathers)."""
        return np.ascontiguousarray(self.R[:, :2, :2])


@dataclass(frozen=True)
class TrackView:
    """Read-only snapshot of one track pool at time ``t`` (states predicted to t).

    track_id:    (N,) int64, stable for the life of the track
    status:      (N,) int8, TENTATIVE / CONFIRMED / COASTING
    x:           (N, 4) east, north [m], v_east, v_north [m/s] in the local frame
    covariance:  rows -> (K, 4, 4) covariance of x for those rows (K,) int64 (None: all N);
                 computed on demand, because most readers (the rules) need none of it and
                 predicting every track's covariance costs more than the rest of a view
    P:           (N, 4, 4) covariance of x (``covariance(None)``, computed on first use)
    alt_m:       (N,) altitude, NaN for surface tracks or when unknown
    vrate_mps:   (N,) vertical rate, NaN when unknown
    mmsi:        (N,) int64 current MMSI identity, NO_MMSI where none
    icao24:      (N,) int64 current ICAO identity, NO_ICAO where none
    first_t:     (N,) time of the track's first measurement
    last_t:      (N,) time of the track's last update (any sensor)
    last_ais_t:  (N,) time of the last cooperative (AIS/ADS-B) update, NaN if never
    last_noncoop_t: (N,) time of the last radar/OTH update, NaN if never
    sources:     (N,) int64 bitmask of SENSOR_BIT kinds that ever updated the track
    spoof_suspect: (N,) bool, a cooperative report with this identity was kinematically impossible
    rcs_dbsm:    (N,) radar cross-section estimate, dBsm (the linear mean of the radar looks), NaN where
                 none; None: no estimate for any track (a view built without one)
    rcs_looks:   (N,) int64 radar looks in that estimate (0 where none); None with rcs_dbsm
    """

    t: float
    domain: Domain
    track_id: IntArray
    status: NDArray[np.int8]
    x: FloatArray
    covariance: Covariance = field(repr=False, compare=False)
    alt_m: FloatArray
    vrate_mps: FloatArray
    mmsi: IntArray
    icao24: IntArray
    first_t: FloatArray
    last_t: FloatArray
    last_ais_t: FloatArray
    last_noncoop_t: FloatArray
    sources: IntArray
    spoof_suspect: BoolArray
    rcs_dbsm: FloatArray | None = None
    rcs_looks: IntArray | None = None

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    @cached_property
    def P(self) -> FloatArray:  # noqa: N802 - the filter's name for it
        """(N, 4, 4) covariance of x."""
        return self.covariance(None)

    def take(self, rows: IntArray) -> TrackView:
        """The tracks ``rows`` (K,) as a view of K tracks (same time and domain); their
        covariance is still computed only on demand, for those rows only."""
        cut = {f.name: getattr(self, f.name)[rows] for f in fields(self) if isinstance(getattr(self, f.name), np.ndarray)}
        return replace(self, covariance=lambda sub: self.covariance(rows if sub is None else rows[sub]), **cut)


def expand_ranges(starts: IntArray, counts: IntArray) -> tuple[IntArray, IntArray]:
    """Ranges [starts[i], starts[i] + counts[i]) concatenated -> (owner i, index), each (sum counts,)."""
    owner = np.repeat(np.arange(len(starts), dtype=np.int64), counts)
    offsets = np.arange(owner.size, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, starts[owner] + offsets


def column_bounds(p: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Smallest and largest value of each column of p (M, k), M > 0: (lo (k,), hi (k,)); NaN
    propagates. Column by column: numpy's reduction over the long axis of an (M, 2) array
    runs its inner loop over the 2 columns and costs several times more."""
    cols = p.T
    return np.array([c.min() for c in cols]), np.array([c.max() for c in cols])


def rows_finite(p: FloatArray) -> BoolArray:
    """(M, k) -> (M,) True where every entry of the row is finite (column by column, as
    ``column_bounds``)."""
    ok = np.isfinite(p[:, 0])
    for j in range(1, p.shape[1]):
        ok &= np.isfinite(p[:, j])
    return ok


def fixed_covariance(P: FloatArray) -> Covariance:
    """``TrackView.covariance`` of a covariance array already computed: (N, 4, 4)."""
    return lambda rows: P if rows is None else P[rows]


def take_rows(batch: MeasBatch, rows: IntArray | BoolArray) -> MeasBatch:
    """The sub-batch of ``rows`` (indices or a mask over the batch's M rows)."""
    return MeasBatch(
        t=batch.t[rows], z=batch.z[rows], R=batch.R[rows], has_vel=batch.has_vel[rows], alt_m=batch.alt_m[rows],
        sigma_alt_m=batch.sigma_alt_m[rows], mmsi=batch.mmsi[rows], icao24=batch.icao24[rows],
        sensor_kind=batch.sensor_kind, sensor_id=batch.sensor_id, domain=batch.domain, look_en_m=batch.look_en_m,
        sensor_alt_m=batch.sensor_alt_m, snr_1m2_db=batch.snr_1m2_db, rcs_ref_range_m=batch.rcs_ref_range_m,
        interval_s=batch.interval_s[rows], rcs_dbsm=batch.rcs_dbsm[rows],
        source=None if batch.source is None else batch.source[rows],
    )


def meas_z(batch: MeasBatch, rows: IntArray, m: int) -> FloatArray:
    """z of ``rows`` (n,), first m components (2: position, 4: with velocity): (n, m)."""
    return batch.z_pos[rows] if m == 2 else batch.z[rows, :m]


def meas_R(batch: MeasBatch, rows: IntArray, m: int) -> FloatArray:
    """R of ``rows`` (n,), first m x m block: (n, m, m)."""
    return batch.R_pos[rows] if m == 2 else batch.R[rows, :m, :m]
