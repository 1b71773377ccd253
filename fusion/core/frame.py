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
import pyproj
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


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
