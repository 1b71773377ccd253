"""Geodetic helpers of the rules: solar elevation (night) and distance to shore. Offline, pure.

Solar elevation follows the NOAA Global Monitoring Laboratory "General Solar Position
Calculations" (fractional-year series for declination and equation of time), accurate
to a few tenths of a degree, which is ample for a night/day test at -6 degrees.

Distance to shore comes from the GSHHG full-resolution land polygons (fusion.coastline):
land is sampled with a vectorised point-in-polygon test on a grid of the local frame (cell
``coast_cell_m``) covering the frame's area plus a margin, and a Euclidean distance
transform gives, per sea cell, the distance to the nearest land cell centre (metres,
error about one cell). Lookups are one array index per track, the fast path for
thousands of tracks every tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from fusion.coastline import coast_box
from fusion.core.arrays import FloatArray
from fusion.core.frame import LocalFrame

_MARGIN_DEG = 1.0  # grid margin around the frame's area
# Cells of the distance-to-shore grid at most (16 M float64 = 128 MB, plus the land mask and
# the distance transform's work arrays): an ocean-basin area coarsens the cell instead of
# growing without bound (a continent-wide deployment at 2 km cells was 93 M cells and 4 GB).
MAX_SHORE_CELLS = 16_000_000


def solar_elevation_deg(t: float, lat: FloatArray, lon: FloatArray) -> FloatArray:
    """Sun elevation above the horizon (degrees) at Unix time t for (N,) lat, lon degrees."""
    day = t / 86400.0
    year_start = _year_start_days(t)
    hour = (day - np.floor(day)) * 24.0
    g = 2.0 * np.pi / 365.0 * ((day - year_start) - 1.0 + (hour - 12.0) / 24.0)
    eqtime = 229.18 * (0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g)
                       - 0.014615 * np.cos(2 * g) - 0.040849 * np.sin(2 * g))  # minutes
    decl = (0.006918 - 0.399912 * np.cos(g) + 0.070257 * np.sin(g) - 0.006758 * np.cos(2 * g)
            + 0.000907 * np.sin(2 * g) - 0.002697 * np.cos(3 * g) + 0.00148 * np.sin(3 * g))  # rad
    true_solar_min = hour * 60.0 + eqtime + 4.0 * np.asarray(lon, dtype=np.float64)
    hour_angle = np.radians(true_solar_min / 4.0 - 180.0)
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    cos_zenith = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    return np.asarray(90.0 - np.degrees(np.arccos(np.clip(cos_zenith, -1.0, 1.0))), dtype=np.float64)


def _year_start_days(t: float) -> float:
    """Days from the Unix epoch to 1 January 00:00 UTC of t's year (proleptic Gregorian)."""
    days = np.datetime64(int(t), "s").astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    return float(days)


@dataclass(frozen=True)
class ShoreDistance:
    """Distance to the nearest land over a local-frame grid.

    origin_e, origin_n: grid corner (m); cell_m: cell size; dist_m: (rows, cols) metres
    (0 on land). Points off the grid get the distance of the nearest edge cell plus their
    distance to the grid.
    """

    origin_e: float
    origin_n: float
    cell_m: float
    dist_m: FloatArray

    def at(self, east: FloatArray, north: FloatArray) -> FloatArray:
        """(N,) distance to shore in metres for (N,) local-frame positions."""
        rows, cols = self.dist_m.shape
        fc = (np.asarray(east) - self.origin_e) / self.cell_m
        fr = (np.asarray(north) - self.origin_n) / self.cell_m
        c = np.clip(np.floor(fc).astype(np.int64), 0, cols - 1)
        r = np.clip(np.floor(fr).astype(np.int64), 0, rows - 1)
        outside = np.hypot(fc - np.clip(fc, 0, cols), fr - np.clip(fr, 0, rows)) * self.cell_m
        return np.asarray(self.dist_m[r, c] + outside, dtype=np.float64)


class NoShore:
    """Distance to shore unknown (coast = "none"): every position counts as far from shore."""

    def at(self, east: FloatArray, north: FloatArray) -> FloatArray:
        """(N,) +inf."""
        return np.full(np.shape(east), np.inf)


@lru_cache(maxsize=4)
def shore_distance(frame: LocalFrame, cell_m: float) -> ShoreDistance:
    """Build (and cache per frame and cell) the distance-to-shore grid of the frame's area, cells
    of ``cell_m`` metres, coarsened where the area would need more than ``MAX_SHORE_CELLS``."""
    lat_c = np.array([frame.lat_min - _MARGIN_DEG, frame.lat_max + _MARGIN_DEG]).clip(-89.9, 89.9)
    lon_c = np.array([frame.lon_min - _MARGIN_DEG, frame.lon_max + _MARGIN_DEG]).clip(-180.0, 179.99)
    glat, glon = np.meshgrid(np.linspace(lat_c[0], lat_c[1], 9), np.linspace(lon_c[0], lon_c[1], 9))
    e, n = frame.to_local(glat, glon)
    e0, n0 = float(e.min()), float(n.min())
    cell_m = max(cell_m, float(np.sqrt((e.max() - e0) * (n.max() - n0) / MAX_SHORE_CELLS)))
    cols = int(np.ceil((e.max() - e0) / cell_m)) + 1
    rows = int(np.ceil((n.max() - n0) / cell_m)) + 1
    ce, cn = np.meshgrid(e0 + (np.arange(cols) + 0.5) * cell_m, n0 + (np.arange(rows) + 0.5) * cell_m)
    lat, lon = frame.to_geodetic(ce, cn)
    lat, lon = np.clip(lat, -90.0, 90.0), ((lon + 180.0) % 360.0) - 180.0
    land = coast_box(float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())).is_land(lat, lon)
    if land.any():
        dist = ndimage.distance_transform_edt(~land, sampling=cell_m)
    else:
        dist = np.full(land.shape, np.inf)
    return ShoreDistance(e0, n0, float(cell_m), np.asarray(dist, dtype=np.float64))
