"""The ingest path as it was before it was vectorised: the oracle for equality tests and the
"before" column of bench/codecs.py (kept with the tests: the service never uses it).

- ``radar_batch_v0``: the per-plot radar conversion of commit 1ae77ff (list comprehensions
  over RadarPlot records, pymap3d ``enu2geodetic``, ``LocalFrame.en_jacobian`` by finite
  differences), verbatim but for its name.
- ``RadarDecoder(fast=False)`` and ``AisDecoder(fast=False)`` (in their modules) are the
  decoders' general paths, which were the only paths before.
"""

from __future__ import annotations

import math

import numpy as np
import pymap3d

from fusion.core.arrays import NO_ICAO, NO_MMSI, MeasBatch
from fusion.core.frame import LocalFrame
from sensors.measurement import MeasurementNoise, _batch, _sea_surface_elevation, unbiased_conversion
from sensors.reports import RadarScan


def radar_batch_v0(scan: RadarScan, frame: LocalFrame, noise: MeasurementNoise) -> MeasBatch:
    """One radar scan -> batch (M plots): unbiased converted measurements in the frame."""
    rng = np.array([p.range_m for p in scan.plots], dtype=np.float64)
    az = np.radians([p.az_deg for p in scan.plots])
    el_given = np.array([np.nan if p.el_deg is None else p.el_deg for p in scan.plots], dtype=np.float64)
    el = np.radians(el_given)
    has_el = np.isfinite(el)
    if scan.mode == "surface":  # target on the sea surface: depression angle from geometry
        el = np.where(has_el, el, _sea_surface_elevation(rng, scan.sensor_alt_m))
    else:  # 2-D air-search radar: altitude unknown, plot taken at the horizon
        el = np.where(has_el, el, 0.0)
    sig_r = scan.sigma_range_m
    sig_az = math.radians(scan.sigma_az_deg)
    sig_el = math.radians(scan.sigma_el_deg) if scan.sigma_el_deg is not None else 0.0
    ground = rng * np.cos(el)
    sig_ground = np.hypot(sig_r * np.cos(el), np.where(has_el, rng * np.sin(el) * sig_el, 0.0))
    en, R_en = unbiased_conversion(ground, az, sig_ground, sig_az)
    lat0, lon0 = scan.sensor_lat, scan.sensor_lon
    up = rng * np.sin(el)
    lat, lon, alt = pymap3d.enu2geodetic(en[:, 0], en[:, 1], up, lat0, lon0, scan.sensor_alt_m)
    lat, lon, alt = np.atleast_1d(lat), np.atleast_1d(lon), np.atleast_1d(alt)
    e, n = frame.to_local(lat, lon)
    J = frame.en_jacobian(lat, lon)
    m = rng.size
    e0, n0 = frame.to_local(lat0, lon0)
    reach = scan.max_range_m if scan.max_range_m is not None else float(ground.max())
    look = (float(e0), float(n0), reach * float(frame.scale(lat0, lon0)))
    air_alt = (scan.mode == "air") & has_el
    sigma_alt = np.hypot(sig_r * np.sin(el), rng * np.cos(el) * sig_el)
    return _batch(np.stack([e, n], axis=1), J @ R_en @ J.swapaxes(-1, -2), None, None, t=np.full(m, scan.t),
                  alt=np.where(air_alt, alt, np.nan), sigma_alt=np.where(air_alt, np.maximum(sigma_alt, noise.radar_alt_floor_m), np.nan),
                  mmsi=np.full(m, NO_MMSI, np.int64), icao24=np.full(m, NO_ICAO, np.int64),
                  kind="radar", sensor_id=scan.site, domain=scan.mode, look=look)

