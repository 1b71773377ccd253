"""Measurement models: decoded reports -> local-frame measurement batches with covariances.

Every position goes through one ``LocalFrame``. Covariances and velocities given in true
metres along local east/north are carried into the frame with the frame's Jacobian at
the point (scale factor and meridian convergence), so frame velocities are projected
m/s, consistent with frame positions. The Jacobian is the closed form of
``sensors.geodesy.FrameJacobian`` (what ``LocalFrame.en_jacobian`` approximates by finite
differences, exact to rounding and ~50x cheaper).

- AIS position (surface pool): position sigma from the accuracy flag, velocity from
  SOG/COG (when both are available) with a Jacobian-propagated SOG/COG error.
- ADS-B (air pool): position sigma from NACp via the DO-260B EPU table
  (sigma = EPU / 2.448, the 95 % radius of a circular 2-D Gaussian), velocity from
  ground speed / track, barometric altitude.
- Radar (pool from ``scan.mode``): each plot is converted at the sensor's own geodetic
  position (fixed or moving) with the unbiased converted measurement of Bar-Shalom,
  Willett and Tian / Mo et al. (multiplicative debiasing by exp(sigma_az^2 / 2) and the
  matching covariance at the measured values), then placed on the WGS84 ellipsoid with
  pymap3d's ``enu2geodetic`` algorithm (``sensors.geodesy.enu2geodetic``) and projected
  into the frame, all vectorised over the scan's plots. Each plot's RCS estimate (dBsm) comes from
  its SNR and range with the scan's radar constant (``sensors.radar.plot_rcs_dbsm``; NaN without).
- OTH fix: the given east/north covariance; air pool when its speed exceeds
  ``oth_air_speed_mps``, surface otherwise.
- Satellite scene (surface pool): each detection at the acquisition time, a circular
  error of its ``pos_err_m``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NotRequired, TypedDict, Unpack

import numpy as np

from fusion.core.arrays import NO_ICAO, NO_MMSI, Domain, FloatArray, IntArray, MeasBatch
from fusion.core.frame import LocalFrame
from sensors.codec import KNOT_MPS
from sensors.geodesy import FrameJacobian, enu2geodetic, rotate_cov
from sensors.radar import plot_rcs_dbsm
from sensors.reports import AdsbReport, AisPosition, OthFix, RadarScan, RadarScanArrays, Report, SatScene

EARTH_RADIUS_M = 6_371_008.8  # mean radius, for the sea-surface elevation of 2-D surface radar plots
CEP95_TO_SIGMA = 1.0 / math.sqrt(-2.0 * math.log(0.05))  # 95 % radius of a circular 2-D Gaussian = 2.448 sigma

# DO-260B NACp -> estimated position uncertainty (EPU, 95 % horizontal radius), metres.
NACP_EPU_M: tuple[float, ...] = (
    37_040.0,  # 0: EPU >= 10 NM or unknown (taken as 20 NM)
    18_520.0,  # 1: < 10 NM
    7_408.0,  # 2: < 4 NM
    3_704.0,  # 3: < 2 NM
    1_852.0,  # 4: < 1 NM
    926.0,  # 5: < 0.5 NM
    555.6,  # 6: < 0.3 NM
    185.2,  # 7: < 0.1 NM
    92.6,  # 8: < 0.05 NM
    30.0,  # 9: < 30 m
    10.0,  # 10: < 10 m
    3.0,  # 11: < 3 m
)


@dataclass(frozen=True, kw_only=True)
class MeasurementNoise:
    """Noise figures of the cooperative sensors (radar and OTH carry their own)."""

    ais_sigma_high_m: float = 8.0
    """AIS position sigma when the accuracy flag is high (DGNSS, < 10 m 95 %) plus report-time jitter."""
    ais_sigma_low_m: float = 20.0
    """AIS position sigma when the accuracy flag is low (> 10 m; plain GNSS and the 1 s time stamp)."""
    ais_sog_sigma_mps: float = 0.3
    """SOG sigma: 0.1 kn resolution plus GNSS speed noise and short-term yaw."""
    ais_cog_sigma_deg: float = 3.0
    """COG sigma (0.1 deg resolution; GNSS course noise dominates at low speed)."""
    adsb_default_nacp: int = 8
    """NACp assumed when a report carries none."""
    adsb_gs_sigma_mps: float = 1.5
    adsb_track_sigma_deg: float = 1.0
    adsb_alt_sigma_m: float = 15.0
    """Barometric altitude sigma: 25 ft quantisation plus static-source error."""
    radar_alt_floor_m: float = 30.0
    """Minimum altitude sigma of a 3-D radar plot."""
    oth_air_speed_mps: float = 60.0
    """An OTH fix reporting a faster speed feeds the air pool."""
    min_speed_sigma_mps: float = 0.1
    """Floor on each velocity sigma, so that a zero speed still has an uncertain course."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"MeasurementNoise.{name} must be a finite number >= 0, got {value!r}")
        if not 0 <= self.adsb_default_nacp <= 11:
            raise ValueError(f"MeasurementNoise.adsb_default_nacp must be 0..11, got {self.adsb_default_nacp}")


def reports_to_batches(reports: Sequence[Report], frame: LocalFrame, noise: MeasurementNoise,
                       source_interval_s: Mapping[str, float] | None = None) -> list[MeasBatch]:
    """One payload's reports -> batches: one per radar scan, one per cooperative kind (and
    OTH pool), ordered by time. ``AisStatic`` gives no measurement. ``source_interval_s``
    (``"kind/source"`` -> s, TrackerConfig.source_interval_s) raises the rows' expected
    report interval to their source's."""
    batches: list[MeasBatch] = []
    ais = [r for r in reports if isinstance(r, AisPosition)]
    adsb = [r for r in reports if isinstance(r, AdsbReport)]
    oth = [r for r in reports if isinstance(r, OthFix)]
    table = source_interval_s or {}
    if ais:
        batches.append(_source_interval(ais_batch(ais, frame, noise), [r.source for r in ais], table))
    if adsb:
        batches.append(_source_interval(adsb_batch(adsb, frame, noise), [r.source for r in adsb], table))
    for domain in ("surface", "air"):
        fixes = [f for f in oth if _oth_domain(f, noise) == domain]
        if fixes:
            batches.append(oth_batch(fixes, frame, domain))
    batches.extend(radar_batch(s, frame, noise) for s in reports if isinstance(s, RadarScan | RadarScanArrays) and len(s.plots))
    batches.extend(sat_batch(s, frame) for s in reports if isinstance(s, SatScene) and s.detections)
    batches = [b if b.sensor_kind in ("ais", "adsb") else _source_interval(b, [b.sensor_id], table) for b in batches]
    batches.sort(key=lambda b: float(b.t.max()))
    return batches


def _source_interval(batch: MeasBatch, sources: Sequence[str], table: Mapping[str, float]) -> MeasBatch:
    """``batch`` with each row's expected interval raised to its source's configured one;
    ``sources``: one name per row, or one for the whole batch."""
    floors = np.array([table.get(f"{batch.sensor_kind}/{s}", np.nan) for s in sources], dtype=np.float64)
    if np.isnan(floors).all():
        return batch
    return replace(batch, interval_s=np.fmax(batch.interval_s, np.broadcast_to(floors, batch.interval_s.shape)))


AIS_STOPPED_INTERVAL_S = 180.0
"""ITU-R M.1371-5 Annex 1 Table 1: class A at anchor or moored and not faster than 3 kn, and
class B "CS" not faster than 2 kn, report every 3 min; message 27 (long-range broadcast,
for satellite reception) is sent every 3 min (Annex 4)."""


def ais_report_interval_s(msg_type: IntArray, sog_mps: FloatArray) -> FloatArray:
    """(M,) the longest interval (s) at which ITU-R M.1371-5 lets a transponder send the next
    position report, from the message type and SOG (M,) m/s (NaN: not available).

    Class A (types 1-3), Table 1: 3 min at anchor/moored at <= 3 kn, else 10 s under 14 kn,
    6 s at 14-23 kn, 2 s above (the faster rates while changing course are not used: the
    expectation is the longest interval). The navigational status is not used (our encoder
    and many feeds send "not defined"), so a class A at <= 3 kn or without SOG may be at
    anchor: 3 min. Class B (18, 19), "CS" rates: 3 min at <= 2 kn, 30 s above. Type 27: 3 min.
    """
    kn = np.asarray(sog_mps, dtype=np.float64) / KNOT_MPS
    class_a = np.where(~(kn > 3.0), AIS_STOPPED_INTERVAL_S, np.where(kn < 14.0, 10.0, np.where(kn < 23.0, 6.0, 2.0)))
    class_b = np.where(~(kn > 2.0), AIS_STOPPED_INTERVAL_S, 30.0)
    msg = np.asarray(msg_type)
    out = np.where((msg == 18) | (msg == 19), class_b, class_a)
    return np.where(msg == 27, AIS_STOPPED_INTERVAL_S, out)


def ais_batch(reports: Sequence[AisPosition], frame: LocalFrame, noise: MeasurementNoise) -> MeasBatch:
    """AIS position reports -> surface batch (M rows)."""
    lat, lon = _col(reports, "lat"), _col(reports, "lon")
    sigma = np.where([r.accuracy for r in reports], noise.ais_sigma_high_m, noise.ais_sigma_low_m)
    speed, course = _col(reports, "sog_mps"), _col(reports, "cog_deg")
    return _coop_batch(
        frame, lat, lon, sigma, speed, course, noise.ais_sog_sigma_mps, noise.ais_cog_sigma_deg, noise,
        t=_col(reports, "t"), alt=np.full(len(reports), np.nan), sigma_alt=np.full(len(reports), np.nan),
        mmsi=np.array([r.mmsi for r in reports], dtype=np.int64), icao24=np.full(len(reports), NO_ICAO, np.int64),
        kind="ais", sensor_id=reports[0].source, domain="surface", source=np.array([r.source for r in reports]),
        interval=ais_report_interval_s(np.array([r.msg_type for r in reports], dtype=np.int64), speed),
    )


def adsb_batch(reports: Sequence[AdsbReport], frame: LocalFrame, noise: MeasurementNoise) -> MeasBatch:
    """ADS-B reports -> air batch (M rows); sigma from NACp (DO-260B EPU)."""
    nacp = np.array([noise.adsb_default_nacp if r.nac_p is None else r.nac_p for r in reports], dtype=np.int64)
    sigma = np.asarray(NACP_EPU_M)[np.clip(nacp, 0, 11)] * CEP95_TO_SIGMA
    alt = _col(reports, "alt_m")
    return _coop_batch(
        frame, _col(reports, "lat"), _col(reports, "lon"), sigma, _col(reports, "gs_mps"), _col(reports, "track_deg"),
        noise.adsb_gs_sigma_mps, noise.adsb_track_sigma_deg, noise,
        t=_col(reports, "t"), alt=alt, sigma_alt=np.where(np.isfinite(alt), noise.adsb_alt_sigma_m, np.nan),
        mmsi=np.full(len(reports), NO_MMSI, np.int64), icao24=np.array([r.icao24 for r in reports], dtype=np.int64),
        kind="adsb", sensor_id=reports[0].source, domain="air", source=np.array([r.source for r in reports]),
    )


def oth_batch(fixes: Sequence[OthFix], frame: LocalFrame, domain: Domain) -> MeasBatch:
    """OTH fixes -> batch (M rows) with the given east/north covariance carried into the frame."""
    lat, lon = _col(fixes, "lat"), _col(fixes, "lon")
    cov = np.array([f.cov_en_m2 for f in fixes], dtype=np.float64).reshape(-1, 2, 2)
    e, n = frame.to_local(lat, lon)
    J = _jacobian(frame, lat, lon, e, n)
    return _batch(np.stack([e, n], axis=1), J @ cov @ J.swapaxes(-1, -2), None, None, t=_col(fixes, "t"),
                  alt=np.full(len(fixes), np.nan), sigma_alt=np.full(len(fixes), np.nan),
                  mmsi=np.full(len(fixes), NO_MMSI, np.int64), icao24=np.full(len(fixes), NO_ICAO, np.int64),
                  kind="oth", sensor_id=fixes[0].site, domain=domain)


def sat_batch(scene: SatScene, frame: LocalFrame) -> MeasBatch:
    """A satellite scene's detections -> surface batch (M rows) at the acquisition time,
    each with a circular error of its pos_err_m carried into the frame."""
    lat = np.array([d.lat for d in scene.detections])
    lon = np.array([d.lon for d in scene.detections])
    sigma = np.array([d.pos_err_m for d in scene.detections])
    e, n = frame.to_local(lat, lon)
    J = _jacobian(frame, lat, lon, e, n)
    m = len(scene.detections)
    return _batch(np.stack([e, n], axis=1), J @ (sigma[:, None, None] ** 2 * np.eye(2)) @ J.swapaxes(-1, -2), None, None,
                  t=np.full(m, scene.acq_time), alt=np.full(m, np.nan), sigma_alt=np.full(m, np.nan),
                  mmsi=np.full(m, NO_MMSI, np.int64), icao24=np.full(m, NO_ICAO, np.int64),
                  kind="sat", sensor_id=scene.source, domain="surface")


def radar_batch(scan: RadarScan | RadarScanArrays, frame: LocalFrame, noise: MeasurementNoise) -> MeasBatch:
    """One radar scan -> batch (M plots): unbiased converted measurements in the frame.

    Vectorised over the plots with no Python object per plot (a RadarScan is turned into
    arrays first). Positions are those of the per-plot path it replaced, to 1e-9 m (the
    same float operations; sensors.geodesy.enu2geodetic is pymap3d's algorithm); the Jacobian
    into the frame, and the frame scale at the sensor, are the closed form of
    sensors.geodesy.FrameJacobian (exact to rounding, where ``frame.en_jacobian``'s finite
    differences were off by up to ~3e-7 relative). tests/unit/sensors/test_geodesy.py
    compares it with the old path (tests.unit.sensors.radar_v0.radar_batch_v0).
    """
    arrays = scan if isinstance(scan, RadarScanArrays) else RadarScanArrays.from_scan(scan)
    head, plots = arrays.scan, arrays.plots
    rng = plots[:, 0]
    m = rng.size
    el_given = plots[:, 2]
    has_el = ~np.isnan(el_given)
    any_el = bool(has_el.any())
    if any_el:
        el = np.radians(el_given)
        if head.mode == "surface":  # target on the sea surface: depression angle from geometry
            el = np.where(has_el, el, _sea_surface_elevation(rng, head.sensor_alt_m))
        else:  # 2-D air-search radar: altitude unknown, plot taken at the horizon
            el = np.where(has_el, el, 0.0)
        cos_el, sin_el = np.cos(el), np.sin(el)
    elif head.mode == "surface":  # target on the sea surface: depression angle from geometry
        el = _sea_surface_elevation(rng, head.sensor_alt_m)
        cos_el, sin_el = np.cos(el), np.sin(el)
    else:
        sin_el, cos_el = np.zeros(m), np.ones(m)
    sig_r = head.sigma_range_m
    sig_az = math.radians(head.sigma_az_deg)
    sig_el = math.radians(head.sigma_el_deg) if head.sigma_el_deg is not None else 0.0
    ground = rng * cos_el
    if any_el:
        sig_ground = np.hypot(sig_r * cos_el, np.where(has_el, rng * sin_el * sig_el, 0.0))
    else:
        sig_ground = sig_r * cos_el  # hypot(x, 0) = |x|, cos_el >= 0
    east, north, r_ee, r_en, r_nn = _unbiased(ground, np.radians(plots[:, 1]), sig_ground, sig_az)
    lat0, lon0 = head.sensor_lat, head.sensor_lon
    air_alt = (head.mode == "air") & has_el
    any_air = bool(air_alt.any())
    lat, lon, alt = enu2geodetic(east, north, rng * sin_el, lat0, lon0, head.sensor_alt_m, alt=any_air)
    e_all, n_all = frame.to_local(np.append(lat, lat0), np.append(lon, lon0))  # the plots and the sensor, one call
    e, n = e_all[:m], n_all[:m]
    kc_all, ks_all = FrameJacobian.of(frame).scale_rotation(np.append(lat, lat0), np.append(lon, lon0), e_all, n_all)
    kc, ks = kc_all[:m], ks_all[:m]
    c_ee, c_en, c_nn = rotate_cov(kc, ks, r_ee, r_en, r_nn)
    reach = head.max_range_m if head.max_range_m is not None else float(ground.max())
    look = (float(e_all[m]), float(n_all[m]), reach * math.hypot(float(kc_all[m]), float(ks_all[m])))
    z = np.full((m, 4), np.nan)
    z[:, 0] = e
    z[:, 1] = n
    R = np.zeros((m, 4, 4))
    R[:, 0, 0] = c_ee
    R[:, 0, 1] = R[:, 1, 0] = c_en
    R[:, 1, 1] = c_nn
    if alt is not None:  # any_air: enu2geodetic computed altitudes
        sigma_alt = np.hypot(sig_r * sin_el, rng * cos_el * sig_el)
        alt_m = np.where(air_alt, alt, np.nan)
        sigma_alt_m = np.where(air_alt, np.maximum(sigma_alt, noise.radar_alt_floor_m), np.nan)
    else:
        alt_m = sigma_alt_m = np.full(m, np.nan)
    return MeasBatch(t=np.full(m, head.t), z=z, R=R, has_vel=np.zeros(m, dtype=bool), alt_m=alt_m,
                     sigma_alt_m=sigma_alt_m, mmsi=np.full(m, NO_MMSI, np.int64), icao24=np.full(m, NO_ICAO, np.int64),
                     sensor_kind="radar", sensor_id=head.site, domain=head.mode, look_en_m=look,
                     sensor_alt_m=head.sensor_alt_m, snr_1m2_db=head.snr_1m2_db, rcs_ref_range_m=head.rcs_ref_range_m,
                     rcs_dbsm=plot_rcs_dbsm(head, rng, plots[:, 3]))


def _unbiased(
    ground_m: FloatArray, az_rad: FloatArray, sigma_ground_m: FloatArray, sigma_az_rad: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """``unbiased_conversion`` as columns: (east, north, R_ee, R_en, R_nn), each (M,).

    Positions with the same operations as ``unbiased_conversion`` (bit for bit: a last-bit
    change moves a longitude in degrees by up to 1.6e-9 m); cos 2 theta and sin 2 theta of
    the covariance by the double-angle identities (equal to rounding).
    """
    lam = math.exp(-0.5 * sigma_az_rad**2)
    theta = 0.5 * np.pi - az_rad  # maths angle from east
    c, s = np.cos(theta), np.sin(theta)
    r2 = ground_m**2
    a = (lam**-2 - 2.0) * r2
    b = 0.5 * (r2 + sigma_ground_m**2)
    l4 = lam**4
    cc, ss, cs = c * c, s * s, c * s
    b_cos2 = b * l4 * (cc - ss)
    return (
        ground_m * c / lam,
        ground_m * s / lam,
        a * cc + b + b_cos2,
        a * cs + b * l4 * 2.0 * cs,
        a * ss + b - b_cos2,
    )


def unbiased_conversion(
    ground_m: FloatArray, az_rad: FloatArray, sigma_ground_m: FloatArray, sigma_az_rad: float
) -> tuple[FloatArray, FloatArray]:
    """Polar (M,) ground range [m], azimuth [rad, clockwise from north] -> unbiased
    (east, north) (M, 2) m and covariance (M, 2, 2) m^2.

    With lam = exp(-sigma_az^2 / 2): x = r sin(az) / lam, y = r cos(az) / lam removes the
    multiplicative bias E[cos(az_err)] = lam; the covariance is the Mo/Bar-Shalom
    unbiased-converted-measurement covariance evaluated at the measured values.
    """
    lam = math.exp(-0.5 * sigma_az_rad**2)
    theta = 0.5 * np.pi - az_rad  # maths angle from east
    c, s = np.cos(theta), np.sin(theta)
    r2 = ground_m**2
    en = np.stack([ground_m * c, ground_m * s], axis=1) / lam
    a = (lam**-2 - 2.0) * r2
    b = 0.5 * (r2 + sigma_ground_m**2)
    l4 = lam**4
    R = np.empty(ground_m.shape + (2, 2))
    R[:, 0, 0] = a * c * c + b * (1.0 + l4 * np.cos(2 * theta))
    R[:, 1, 1] = a * s * s + b * (1.0 - l4 * np.cos(2 * theta))
    R[:, 0, 1] = R[:, 1, 0] = a * c * s + b * l4 * np.sin(2 * theta)
    return en, R


def _sea_surface_elevation(range_m: FloatArray, sensor_alt_m: float) -> FloatArray:
    """Elevation [rad] of a sea-level point at slant range (M,) from a sensor at height h
    over a spherical earth (law of cosines). A sea-level point is at least h (and here at least 1 m) away:
    a shorter range (a plot at the foot of the mast, range 0 included, which the codec accepts) is taken at
    that distance, straight down (or level for an antenna at sea level), never 0 / 0."""
    h = max(sensor_alt_m, 0.0)
    re, rs = EARTH_RADIUS_M, EARTH_RADIUS_M + h
    r = np.maximum(range_m, max(h, 1.0))
    sin_el = (re * re - rs * rs - r**2) / (2.0 * r * rs)
    return np.arcsin(np.clip(sin_el, -1.0, 1.0))


class _Columns(TypedDict):
    """The keyword columns ``_coop_batch`` passes on to ``_batch``: (M,) arrays and the batch's identity."""

    t: FloatArray
    alt: FloatArray
    sigma_alt: FloatArray
    mmsi: np.ndarray
    icao24: np.ndarray
    kind: str
    sensor_id: str
    domain: Domain
    interval: NotRequired[FloatArray]
    source: NotRequired[np.ndarray]


def _coop_batch(
    frame: LocalFrame, lat: FloatArray, lon: FloatArray, sigma_m: FloatArray, speed: FloatArray, course_deg: FloatArray,
    sigma_speed: float, sigma_course_deg: float, noise: MeasurementNoise, **kw: Unpack[_Columns],
) -> MeasBatch:
    """Cooperative position (+ velocity from speed/course where both are present)."""
    e, n = frame.to_local(lat, lon)
    J = _jacobian(frame, lat, lon, e, n)
    m = lat.size
    R_pos = J @ (np.eye(2) * (sigma_m**2)[:, None, None]) @ J.swapaxes(-1, -2)
    has_vel = np.isfinite(speed) & np.isfinite(course_deg)
    c = np.radians(np.where(has_vel, course_deg, 0.0))
    v = np.where(has_vel, speed, 0.0)
    v_true = np.stack([v * np.sin(c), v * np.cos(c)], axis=1)
    # d(ve, vn) / d(speed, course): [[sin c, v cos c], [cos c, -v sin c]]
    G = np.stack([np.stack([np.sin(c), v * np.cos(c)], -1), np.stack([np.cos(c), -v * np.sin(c)], -1)], axis=1)
    D = np.zeros((m, 2, 2))
    D[:, 0, 0] = sigma_speed**2
    D[:, 1, 1] = math.radians(sigma_course_deg) ** 2
    R_vel = G @ D @ G.swapaxes(-1, -2) + np.eye(2) * noise.min_speed_sigma_mps**2
    vel = (J @ v_true[..., None])[..., 0]
    return _batch(np.stack([e, n], axis=1), R_pos, np.where(has_vel[:, None], vel, np.nan),
                  np.where(has_vel[:, None, None], J @ R_vel @ J.swapaxes(-1, -2), 0.0), **kw)


def _jacobian(frame: LocalFrame, lat: FloatArray, lon: FloatArray, e: FloatArray, n: FloatArray) -> FloatArray:
    """(M, 2, 2) d(frame east, north) / d(true east, north) at points with frame position (e, n)."""
    kc, ks = FrameJacobian.of(frame).scale_rotation(lat, lon, e, n)
    J = np.empty(np.shape(lat) + (2, 2))
    J[..., 0, 0] = kc
    J[..., 0, 1] = -ks
    J[..., 1, 0] = ks
    J[..., 1, 1] = kc
    return J


def _batch(
    pos: FloatArray, R_pos: FloatArray, vel: FloatArray | None, R_vel: FloatArray | None, *, t: FloatArray,
    alt: FloatArray, sigma_alt: FloatArray, mmsi: np.ndarray, icao24: np.ndarray, kind: str, sensor_id: str,
    domain: Domain, look: tuple[float, float, float] | None = None, interval: FloatArray | None = None,
    source: np.ndarray | None = None,
) -> MeasBatch:
    m = pos.shape[0]
    z = np.full((m, 4), np.nan)
    z[:, :2] = pos
    R = np.zeros((m, 4, 4))
    R[:, :2, :2] = R_pos
    has_vel = np.zeros(m, dtype=bool)
    if vel is not None and R_vel is not None:
        has_vel = np.isfinite(vel[:, 0]) & np.isfinite(vel[:, 1])
        z[:, 2:] = vel
        R[:, 2:, 2:] = R_vel
    return MeasBatch(t=t, z=z, R=R, has_vel=has_vel, alt_m=alt, sigma_alt_m=sigma_alt, mmsi=mmsi, icao24=icao24,
                     sensor_kind=kind, sensor_id=sensor_id, domain=domain, look_en_m=look,
                     interval_s=interval if interval is not None else np.full(m, np.nan), source=source)


def _col(reports: Sequence[object], name: str) -> FloatArray:
    """One optional float attribute of every report as (M,), NaN where None."""
    return np.array([np.nan if getattr(r, name) is None else getattr(r, name) for r in reports], dtype=np.float64)


def _oth_domain(fix: OthFix, noise: MeasurementNoise) -> Domain:
    return "air" if fix.speed_mps is not None and fix.speed_mps > noise.oth_air_speed_mps else "surface"
