"""Geodesy helpers of the simulator: WGS84 geodesics (pyproj), land (GSHHG full resolution), radar horizon.

All functions take and return numpy arrays; angles in degrees, distances in metres.
"""

from __future__ import annotations

import numpy as np
import pyproj
from numpy.typing import NDArray

from fusion.coastline import is_land

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

GEOD = pyproj.Geod(ellps="WGS84")
KNOT_MPS = 1852.0 / 3600.0  # one knot in m/s
NM_M = 1852.0  # one nautical mile in metres
EARTH_RADIUS_M = 6_371_008.8
REFRACTION_K = 4.0 / 3.0  # standard atmosphere: effective earth radius factor
SPHERE_SLACK = 0.01  # the mean-sphere great circle is within 0.6 % of the WGS84 geodesic (flattening 1/298.26)
SPHERE_SLACK_M = 1.0  # and within this absolute margin where both are rounding noise (sub-micrometre distances)
LEG_STEP_M = 250.0  # spacing of the land samples along a leg (islets narrower than this may be crossed)


def points_at_sea(lat: FloatArray, lon: FloatArray) -> BoolArray:
    """(n,) lat, lon degrees -> (n,) True off the GSHHG full-resolution land (lakes count as water)."""
    return ~is_land(lat, lon)


def legs_at_sea(lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray) -> BoolArray:
    """(L,) geodesic legs -> (L,) True where every sample every LEG_STEP_M along the leg is at sea."""
    lat1, lon1, lat2, lon2 = (np.atleast_1d(np.asarray(x, dtype=np.float64)) for x in (lat1, lon1, lat2, lon2))
    if lat1.size == 0:
        return np.zeros(0, dtype=bool)
    az, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    steps = np.maximum(np.ceil(np.asarray(dist) / LEG_STEP_M).astype(np.int64), 1)
    leg = np.repeat(np.arange(lat1.size), steps + 1)
    first = np.repeat(np.cumsum(steps + 1) - (steps + 1), steps + 1)
    frac = (np.arange(leg.size) - first) / steps[leg]
    lon, lat, _ = GEOD.fwd(lon1[leg], lat1[leg], np.asarray(az)[leg], np.asarray(dist)[leg] * frac)
    sea = points_at_sea(np.asarray(lat), np.asarray(lon))
    return np.logical_and.reduceat(sea, np.cumsum(steps + 1) - (steps + 1))


def radar_horizon_m(antenna_m: FloatArray | float, target_m: FloatArray | float) -> FloatArray:
    """Line-of-sight distance (m) between heights (m above the sea), 4/3 earth refraction."""
    re = REFRACTION_K * EARTH_RADIUS_M
    return np.sqrt(2.0 * re * np.maximum(antenna_m, 0.0)) + np.sqrt(2.0 * re * np.maximum(target_m, 0.0))


def distance_m(lat1: FloatArray | float, lon1: FloatArray | float, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    """Geodesic distance (m) between points, broadcast over arrays."""
    lat1b, lon1b, lat2b, lon2b = np.broadcast_arrays(lat1, lon1, lat2, lon2)
    _, _, dist = GEOD.inv(lon1b, lat1b, lon2b, lat2b)
    return np.asarray(dist, dtype=np.float64)


def offset(lat: FloatArray, lon: FloatArray, bearing_deg: FloatArray, dist_m: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Points ``dist_m`` from (lat, lon) along ``bearing_deg`` -> (lat, lon), broadcast."""
    lat_b, lon_b, brg, dist = np.broadcast_arrays(lat, lon, bearing_deg, dist_m)
    lon2, lat2, _ = GEOD.fwd(lon_b, lat_b, brg, dist)
    return np.asarray(lat2, dtype=np.float64), np.asarray(lon2, dtype=np.float64)


def great_circle_m(lat1: FloatArray | float, lon1: FloatArray | float, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    """Great-circle distance (m) on the mean sphere (haversine), broadcast: within SPHERE_SLACK of the geodesic."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(np.subtract(lon2, lon1)) / 2.0) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))), dtype=np.float64)


def distance_in_band_m(lat1: float, lon1: float, lat2: FloatArray, lon2: FloatArray,
                       lo_m: FloatArray | float, hi_m: FloatArray | float) -> FloatArray:
    """(n,) distance (m) from one point to many: the geodesic (``distance_m``) wherever it may lie in
    [lo_m, hi_m]; elsewhere the great circle, which is then below ``lo_m`` or above ``hi_m`` as the
    geodesic is. Any test of the result against a value outside (lo_m, hi_m) is the geodesic's,
    for one geodesic per point near the band instead of one per point (a receiver's range)."""
    sphere = great_circle_m(lat1, lon1, lat2, lon2)
    near = (sphere * (1.0 + SPHERE_SLACK) + SPHERE_SLACK_M >= lo_m) & (sphere * (1.0 - SPHERE_SLACK) - SPHERE_SLACK_M <= hi_m)
    if near.any():
        sphere[near] = distance_m(lat1, lon1, np.asarray(lat2)[near], np.asarray(lon2)[near])
    return sphere
