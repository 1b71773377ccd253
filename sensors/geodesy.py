"""Lean, vectorised geodesy for the measurement models (the per-scan hot path).

Two pieces, each checked against the maintained libraries it stands in for:

- ``enu2geodetic``: pymap3d's ``enu2geodetic`` (ENU -> ECEF, then You (2000)'s
  non-iterative ECEF -> geodetic with its one correction step) with the same float
  operations in the same order, minus pymap3d's per-call overhead (input checks,
  boolean-mask indexing on every array even when no point needs it). A point pymap3d
  treats specially (near the Earth's centre or on the polar axis) sends the whole call
  to pymap3d itself. tests/unit/sensors/test_geodesy.py holds it equal to pymap3d to
  1e-9 m on random inputs; it is about 5x cheaper for a 1,000-point scan.

- ``FrameJacobian``: d(frame east, north) / d(true local east, north) of a ``LocalFrame``
  in closed form. The frame is a Lambert conformal conic (LCC) projection, so the
  Jacobian at a point is the point scale factor k times the rotation by the meridian
  convergence gamma = n (lon - lon_0) (Snyder, Map Projections - A Working Manual,
  eqs. 15-1 .. 15-4 and 14-15: k = m_1 t^n / (m t_1^n) for two standard parallels,
  k_0 = 1). ``LocalFrame.en_jacobian`` computes the same matrix by finite differences
  over 10 m steps through pymap3d and pyproj (3 projections and 2 geodetic conversions
  per point, about 1.6 ms per 1,000 points); its truncation and round-off error is up
  to a few 1e-6 relative (measured in the test). The closed form is exact to rounding
  (about 1e-12, checked against a central difference of PROJ itself over 1 m geodesic
  steps) and costs about 40 us per 1,000 points. It is built once per frame from the
  frame's own CRS and checked against ``frame.en_jacobian`` and ``frame.scale``; a
  frame that is not LCC on WGS84, or that fails the check, uses ``frame.en_jacobian``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pymap3d

from fusion.core.arrays import FloatArray
from fusion.core.frame import LocalFrame

WGS84_A = 6378137.0  # pymap3d's "wgs84" ellipsoid (semi-major and semi-minor axes, m)
WGS84_B = 6356752.31424518
_E2_WGS84 = 1.0 / 298.257223563 * (2.0 - 1.0 / 298.257223563)  # PROJ's WGS84: a and 1/f
_LIM_PI2 = math.pi / 2 - np.finfo(np.float64).eps


def enu2geodetic(
    east: FloatArray, north: FloatArray, up: FloatArray, lat0: float, lon0: float, h0: float, *, alt: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """(M,) ENU metres at the geodetic origin (lat0, lon0 deg, h0 m) -> (lat deg, lon deg, alt m).

    Same result as ``pymap3d.enu2geodetic(east, north, up, lat0, lon0, h0)`` (WGS84);
    ``alt=False`` skips the altitude (returned as None).
    """
    a, b = WGS84_A, WGS84_B
    # geodetic2ecef of the origin
    la0, lo0 = np.radians(lat0), np.radians(lon0)
    N = a**2 / np.hypot(a * np.cos(la0), b * np.sin(la0))
    x0 = (N + h0) * np.cos(la0) * np.cos(lo0)
    y0 = (N + h0) * np.cos(la0) * np.sin(lo0)
    z0 = (N * (b / a) ** 2 + h0) * np.sin(la0)
    # enu2uvw
    t = np.cos(la0) * up - np.sin(la0) * north
    w = np.sin(la0) * up + np.cos(la0) * north
    u = np.cos(lo0) * t - np.sin(lo0) * east
    v = np.sin(lo0) * t + np.cos(lo0) * east
    x, y, z = x0 + u, y0 + v, z0 + w
    # ecef2geodetic (You 2000), as pymap3d writes it
    r = np.sqrt(x**2 + y**2 + z**2)
    E = np.sqrt(a**2 - b**2)
    uu = np.sqrt(0.5 * (r**2 - E**2) + 0.5 * np.hypot(r**2 - E**2, 2 * E * z))
    hxy = np.hypot(x, y)
    huE = np.hypot(uu, E)
    if uu.size and (uu.min() <= 1e-8 or hxy.min() <= 1e-8):  # pymap3d's isclose(u, 0) | isclose(hxy, 0): centre or polar axis
        lat, lon, h = pymap3d.enu2geodetic(east, north, up, lat0, lon0, h0)
        return np.atleast_1d(lat), np.atleast_1d(lon), np.atleast_1d(h) if alt else None
    beta = np.arctan(huE / uu * z / hxy)
    beta += ((b * uu - a * huE + E**2) * np.sin(beta)) / (a * huE * 1 / np.cos(beta) - E**2 * np.cos(beta))
    lat = np.arctan(a / b * np.tan(beta))
    polar = uu.size and float(np.abs(beta).max()) >= _LIM_PI2  # pymap3d's float32 patches: only near the poles
    if polar:
        lat = np.where(beta >= _LIM_PI2, math.pi / 2, lat)
        lat = np.where(beta <= -_LIM_PI2, -math.pi / 2, lat)
    lon = np.arctan2(y, x)
    h = None
    if alt:
        cos_beta = np.cos(beta)
        if polar:
            cos_beta = np.where(beta >= _LIM_PI2, 0, cos_beta)
            cos_beta = np.where(beta <= -_LIM_PI2, 0, cos_beta)
        h = np.hypot(z - b * np.sin(beta), hxy - a * cos_beta)
        inside = x**2 / a**2 + y**2 / a**2 + z**2 / b**2 < 1
        if inside.any():
            h = np.where(inside, -h, h)
    return np.degrees(lat), np.degrees(lon), h


@dataclass(frozen=True)
class _Lcc:
    """Constants of a two-standard-parallel LCC on an ellipsoid (Snyder 15-1 .. 15-10)."""

    n: float  # cone constant
    a: float  # semi-major axis, m
    e2: float  # first eccentricity squared
    rho0_m: float  # a * rho_0: the cone apex sits at (0, rho0_m) in frame metres


def _m(phi: float, e2: float) -> float:
    s = math.sin(phi)
    return math.cos(phi) / math.sqrt(1.0 - e2 * s * s)


def _t(phi: float, e: float) -> float:
    s = math.sin(phi)
    return math.tan(0.25 * math.pi - 0.5 * phi) / ((1.0 - e * s) / (1.0 + e * s)) ** (0.5 * e)


def _lcc_of(frame: LocalFrame) -> _Lcc | None:
    """The LCC constants of ``frame``'s CRS, None if it is not an LCC on WGS84 that this handles."""
    try:
        with warnings.catch_warnings():  # to_dict warns that a PROJ string is lossy: these parameters are not
            warnings.simplefilter("ignore")
            crs = frame._fwd.target_crs  # noqa: SLF001 - the frame's own projection
            params = crs.to_dict() if crs is not None else {}
    except Exception:  # noqa: BLE001 - anything unexpected: use the frame's finite differences
        return None
    if params.get("proj") != "lcc" or params.get("ellps") != "WGS84" or "lat_1" not in params or "lat_2" not in params:
        return None
    if any(params.get(key, 0) not in (0, 0.0) for key in ("x_0", "y_0")) or params.get("k_0", 1) != 1:
        return None
    e2 = _E2_WGS84
    e = math.sqrt(e2)
    p0, p1, p2 = (math.radians(params[key]) for key in ("lat_0", "lat_1", "lat_2"))
    m1, m2 = _m(p1, e2), _m(p2, e2)
    t0, t1, t2 = _t(p0, e), _t(p1, e), _t(p2, e)
    n = math.sin(p1) if abs(p1 - p2) < 1e-10 else (math.log(m1) - math.log(m2)) / (math.log(t1) - math.log(t2))
    c = m1 * t1 ** (-n) / n
    return _Lcc(n, WGS84_A, e2, WGS84_A * c * t0**n)


class FrameJacobian:
    """Closed-form ``frame.en_jacobian`` for the LCC frames ``LocalFrame`` builds (see module doc).

    With the frame's own projected position (x, y) of a point at latitude phi, the LCC
    gives rho sin(gamma) = x and rho cos(gamma) = rho_0 - y, and k = n rho / (a m(phi))
    (Snyder 15-4, m = cos phi / sqrt(1 - e^2 sin^2 phi)), so
    J = [[kc, -ks], [ks, kc]] with kc = n (rho_0 - y) / (a m), ks = n x / (a m):
    no trigonometry beyond sin and cos of the latitude. ``FrameJacobian.of(frame)`` is
    cached per frame.
    """

    _cache: ClassVar[dict[LocalFrame, FrameJacobian]] = {}
    CHECK_TOL = 1e-5  # agreement required with frame.en_jacobian (its own error is up to ~1e-6)

    def __init__(self, frame: LocalFrame) -> None:
        self.frame = frame
        self.lcc = _lcc_of(frame)
        if self.lcc is not None and not self._agrees():
            self.lcc = None

    @classmethod
    def of(cls, frame: LocalFrame) -> FrameJacobian:
        jac = cls._cache.get(frame)
        if jac is None:
            jac = cls._cache[frame] = cls(frame)
        return jac

    @property
    def closed_form(self) -> bool:
        """True when the closed form is in use (else ``frame.en_jacobian``)."""
        return self.lcc is not None

    def scale_rotation(
        self, lat: FloatArray, lon: FloatArray, east: FloatArray, north: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """(M,) latitude and longitude (deg) and frame position (east, north = frame.to_local(lat,
        lon), m) -> (kc, ks) = k (cos gamma, sin gamma): J = [[kc, -ks], [ks, kc]]."""
        lcc = self.lcc
        if lcc is None:
            J = self.frame.en_jacobian(lat, lon)
            return J[..., 0, 0], J[..., 1, 0]
        phi = np.radians(lat)
        s = np.sin(phi)
        f = lcc.n * np.sqrt(1.0 - lcc.e2 * s * s) / (lcc.a * np.cos(phi))  # n / (a m)
        return f * (lcc.rho0_m - north), f * east

    def matrix(self, lat: FloatArray, lon: FloatArray) -> FloatArray:
        """(M,) degrees -> (M, 2, 2): the matrix ``frame.en_jacobian`` approximates, in closed form."""
        lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        if self.lcc is None:
            return self.frame.en_jacobian(lat, lon)
        east, north = self.frame.to_local(lat, lon)
        kc, ks = self.scale_rotation(lat, lon, east, north)
        J = np.empty(lat.shape + (2, 2))
        J[..., 0, 0] = kc
        J[..., 0, 1] = -ks
        J[..., 1, 0] = ks
        J[..., 1, 1] = kc
        return J

    def _agrees(self) -> bool:
        """The closed form against the frame's own finite differences and scale over its area."""
        f = self.frame
        lat = np.linspace(f.lat_min, f.lat_max, 5).repeat(5)
        lon = np.tile(np.linspace(f.lon_min, f.lon_max, 5), 5)
        mine = self.matrix(lat, lon)
        k = np.hypot(mine[:, 0, 0], mine[:, 1, 0])
        ok = np.all(np.abs(mine - f.en_jacobian(lat, lon)) < self.CHECK_TOL)
        return bool(ok and np.all(np.abs(k - f.scale(lat, lon)) < 1e-9))


def rotate_cov(kc: FloatArray, ks: FloatArray, xx: FloatArray, xy: FloatArray, yy: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """J R J' for J = [[kc, -ks], [ks, kc]] and symmetric R = [[xx, xy], [xy, yy]], elementwise (M,)."""
    a00 = kc * xx - ks * xy
    a01 = kc * xy - ks * yy
    a10 = ks * xx + kc * xy
    a11 = ks * xy + kc * yy
    return a00 * kc - a01 * ks, a00 * ks + a01 * kc, a10 * ks + a11 * kc
