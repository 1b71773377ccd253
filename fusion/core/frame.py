"""One local metric frame for the whole area: WGS84 <-> (east, north) metres.

The frame is a Lambert conformal conic projection (pyproj/PROJ) with its two standard
parallels at 1/6 and 5/6 of the area's latitude span, the classic choice that keeps the
scale error over a mid-latitude or tropical area of a few thousand km to a few tenths of
a percent. Conformal means directions are preserved locally, so velocity vectors keep
their heading; the scale factor ``k`` (projected metres per true metre) is available
for converting projected speeds to true speeds where that precision matters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pymap3d
import pyproj
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
_JAC_STEP_M = 10.0  # finite-difference step of en_jacobian (the projection is smooth at this scale)


@dataclass(frozen=True)
class LocalFrame:
    """Projection for an area given by its geodetic bounds in degrees."""

    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float
    _fwd: pyproj.Transformer = field(init=False, repr=False, compare=False)
    _inv: pyproj.Transformer = field(init=False, repr=False, compare=False)
    _proj: pyproj.Proj = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat_min < self.lat_max <= 90.0):
            raise ValueError(f"area latitudes must satisfy -90 <= lat_min < lat_max <= 90, got {self.lat_min}, {self.lat_max}")
        if not (-180.0 <= self.lon_min < self.lon_max <= 180.0):
            raise ValueError(f"area longitudes must satisfy -180 <= lon_min < lon_max <= 180, got {self.lon_min}, {self.lon_max}")
        span = self.lat_max - self.lat_min
        lat1 = self.lat_min + span / 6.0
        lat2 = self.lat_max - span / 6.0
        if abs(lat1 + lat2) < 1e-6:  # LCC degenerates for parallels symmetric about the equator
            lat2 += 1e-3
        lat0 = 0.5 * (self.lat_min + self.lat_max)
        lon0 = 0.5 * (self.lon_min + self.lon_max)
        crs = pyproj.CRS.from_proj4(
            f"+proj=lcc +lat_1={lat1} +lat_2={lat2} +lat_0={lat0} +lon_0={lon0} +ellps=WGS84 +units=m +no_defs"
        )
        geo = pyproj.CRS.from_epsg(4326)
        object.__setattr__(self, "_fwd", pyproj.Transformer.from_crs(geo, crs, always_xy=True))
        object.__setattr__(self, "_inv", pyproj.Transformer.from_crs(crs, geo, always_xy=True))
        object.__setattr__(self, "_proj", pyproj.Proj(crs))

    def to_local(self, lat: ArrayLike, lon: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(lat, lon) degrees, any shape -> (east, north) metres, same shape."""
        e, n = self._fwd.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return np.asarray(e, dtype=np.float64), np.asarray(n, dtype=np.float64)

    def to_geodetic(self, east: ArrayLike, north: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(east, north) metres, any shape -> (lat, lon) degrees, same shape."""
        lon, lat = self._inv.transform(np.asarray(east, dtype=np.float64), np.asarray(north, dtype=np.float64))
        return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)

    def scale(self, lat: ArrayLike, lon: ArrayLike) -> FloatArray:
        """Point scale factor k (projected m per true m) at (lat, lon) degrees; conformal, so k = h."""
        f = self._proj.get_factors(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return np.asarray(f.meridional_scale, dtype=np.float64)

    def en_jacobian(self, lat: ArrayLike, lon: ArrayLike) -> FloatArray:
        """(M,) degrees -> (M, 2, 2): d(frame east, north) / d(true local east, north).

        Maps true metres (or m/s) along the local east/north axes at each point into frame
        metres: the point scale factor times the rotation by the meridian convergence.
        Velocities and covariances given in true east/north are carried into the frame
        with it (v' = J v, R' = J R J').
        """
        lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        e0, n0 = self.to_local(lat, lon)
        zero, step = np.zeros_like(lat), np.full_like(lat, _JAC_STEP_M)
        J = np.empty(lat.shape + (2, 2))
        for col, (de, dn) in enumerate(((step, zero), (zero, step))):
            la, lo, _ = pymap3d.enu2geodetic(de, dn, zero, lat, lon, zero)
            e1, n1 = self.to_local(la, lo)
            J[..., 0, col] = (e1 - e0) / _JAC_STEP_M
            J[..., 1, col] = (n1 - n0) / _JAC_STEP_M
        return J

    def en_to_true(self, lat: ArrayLike, lon: ArrayLike, ve: ArrayLike, vn: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Frame velocity (ve, vn) at (lat, lon) -> true (east, north) m/s, each (M,)."""
        J = self.en_jacobian(lat, lon)
        v = np.linalg.solve(J, np.stack([np.atleast_1d(ve), np.atleast_1d(vn)], axis=-1)[..., None])[..., 0]
        return v[..., 0], v[..., 1]
