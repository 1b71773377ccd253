"""sensors/geodesy.py and the vectorised radar conversion against what they replace:
pymap3d's enu2geodetic (equal to 1e-9 m), LocalFrame.en_jacobian's finite differences
(within their own error) and PROJ itself (central differences over 50 m geodesic steps),
and the per-plot radar_batch of commit 1ae77ff (positions to 1e-9 m; covariances within
the Jacobian's old error)."""

from __future__ import annotations

import numpy as np
import pymap3d
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.core.frame import LocalFrame
from sensors.geodesy import FrameJacobian, enu2geodetic
from sensors.measurement import MeasurementNoise, radar_batch
from sensors.reports import RadarPlot, RadarScan, RadarScanArrays
from tests.unit.sensors.radar_v0 import radar_batch_v0

NOISE = MeasurementNoise()
GEOD = pyproj.Geod(ellps="WGS84")
METRE_DEG = 1.0 / 111_000.0  # a metre in degrees of latitude (and at most that of longitude here)
FRAMES = (
    LocalFrame(9.0, 10.3, -79.8, -77.9),  # the default scenario's area
    LocalFrame(8.0, 18.0, -85.0, -75.0),
    LocalFrame(-10.0, 30.0, -100.0, -50.0),  # a large area across the equator
    LocalFrame(-40.0, -20.0, 10.0, 40.0),  # southern hemisphere: negative cone constant
    LocalFrame(40.3, 40.9, -74.3, -73.6),  # New York harbour (the real AIS data)
)

frames = st.sampled_from(FRAMES)
unit = st.floats(0.0, 1.0)


def _points(frame: LocalFrame, fractions: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    lat = np.array([frame.lat_min + a * (frame.lat_max - frame.lat_min) for a, _ in fractions])
    lon = np.array([frame.lon_min + b * (frame.lon_max - frame.lon_min) for _, b in fractions])
    return lat, lon


@settings(max_examples=60, deadline=None)
@given(
    lat0=st.floats(-85.0, 85.0), lon0=st.floats(-180.0, 180.0), h0=st.floats(-100.0, 20_000.0),
    enu=st.lists(st.tuples(st.floats(-4e5, 4e5), st.floats(-4e5, 4e5), st.floats(-3e4, 3e4)), min_size=1, max_size=40),
)
def test_enu2geodetic_equals_pymap3d(lat0: float, lon0: float, h0: float, enu: list[tuple[float, float, float]]) -> None:
    e, n, u = (np.array(c) for c in zip(*enu, strict=True))
    want = pymap3d.enu2geodetic(e, n, u, lat0, lon0, h0)
    got = enu2geodetic(e, n, u, lat0, lon0, h0)
    assert np.all(np.abs(got[0] - want[0]) <= 1e-9 * METRE_DEG)
    assert np.all(np.abs(got[1] - want[1]) <= 1e-9 * METRE_DEG)
    assert np.all(np.abs(got[2] - want[2]) <= 1e-9)


def test_enu2geodetic_special_points_follow_pymap3d() -> None:
    """On the polar axis pymap3d has its own branch: the lean version hands such calls to it."""
    e, n, u = np.array([0.0, 10.0]), np.array([0.0, 0.0]), np.array([0.0, 5.0])
    for got, want in zip(enu2geodetic(e, n, u, 90.0, 0.0, 0.0), pymap3d.enu2geodetic(e, n, u, 90.0, 0.0, 0.0), strict=True):
        np.testing.assert_array_equal(got, want)


def _reference_jacobian(frame: LocalFrame, lat: np.ndarray, lon: np.ndarray, step_m: float = 50.0) -> np.ndarray:
    """d(frame) / d(true east, north) by central differences of PROJ over +-step_m geodesic steps
    (truncation ~1e-11 at 50 m; rounding of the projected metres / 100 m ~1e-10)."""
    J = np.empty(lat.shape + (2, 2))
    for col, az in enumerate((90.0, 0.0)):
        ones = np.ones_like(lat)
        lo1, la1, _ = GEOD.fwd(lon, lat, az * ones, step_m * ones)
        lo2, la2, _ = GEOD.fwd(lon, lat, (az + 180.0) * ones, step_m * ones)
        e1, n1 = frame.to_local(la1, lo1)
        e2, n2 = frame.to_local(la2, lo2)
        J[:, 0, col] = (e1 - e2) / (2 * step_m)
        J[:, 1, col] = (n1 - n2) / (2 * step_m)
    return J


@settings(max_examples=40, deadline=None)
@given(frame=frames, points=st.lists(st.tuples(unit, unit), min_size=1, max_size=30))
def test_closed_form_jacobian_is_exact_and_within_the_old_error(frame: LocalFrame, points: list[tuple[float, float]]) -> None:
    lat, lon = _points(frame, points)
    jac = FrameJacobian.of(frame)
    assert jac.closed_form
    J = jac.matrix(lat, lon)
    np.testing.assert_allclose(J, _reference_jacobian(frame, lat, lon), rtol=0, atol=1e-9)
    # the finite differences it replaces are off by up to ~3e-7 (the 40-degree frame)
    np.testing.assert_allclose(J, frame.en_jacobian(lat, lon), rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(J[:, 0, 0], J[:, 1, 0]), frame.scale(lat, lon), rtol=1e-9)  # PROJ factors: numerical


def test_non_lcc_frame_falls_back_to_finite_differences() -> None:
    frame = LocalFrame(9.0, 10.3, -79.8, -77.9)
    utm = pyproj.Transformer.from_crs(pyproj.CRS.from_epsg(4326), pyproj.CRS.from_epsg(32617), always_xy=True)
    object.__setattr__(frame, "_fwd", utm)
    jac = FrameJacobian(frame)
    assert not jac.closed_form
    lat, lon = np.array([9.5, 10.0]), np.array([-79.0, -78.5])
    np.testing.assert_array_equal(jac.matrix(lat, lon), frame.en_jacobian(lat, lon))


plot = st.tuples(
    st.floats(50.0, 150_000.0),  # range
    st.floats(0.0, 359.999),  # azimuth
    st.one_of(st.none(), st.floats(-10.0, 30.0)),  # elevation
)


@settings(max_examples=60, deadline=None)
@given(
    frame=frames, where=st.tuples(unit, unit), alt=st.floats(0.0, 8000.0), mode=st.sampled_from(["surface", "air"]),
    sigma_el=st.one_of(st.none(), st.floats(0.05, 2.0)), sigma_az=st.floats(0.01, 5.0),
    max_range=st.one_of(st.none(), st.floats(1e3, 2e5)), plots=st.lists(plot, min_size=1, max_size=60),
)
def test_radar_batch_equals_the_per_plot_conversion(
    frame: LocalFrame, where: tuple[float, float], alt: float, mode: str, sigma_el: float | None,
    sigma_az: float, max_range: float | None, plots: list[tuple[float, float, float | None]],
) -> None:
    (lat0,), (lon0,) = _points(frame, [where])
    scan = RadarScan(site="r", t=1.7e9, sensor_lat=float(lat0), sensor_lon=float(lon0), sensor_alt_m=alt,
                     sigma_range_m=30.0, sigma_az_deg=sigma_az, sigma_el_deg=sigma_el, mode=mode,  # type: ignore[arg-type]
                     max_range_m=max_range, plots=[RadarPlot(range_m=r, az_deg=a, el_deg=e, snr_db=12.0) for r, a, e in plots])
    old = radar_batch_v0(scan, frame, NOISE)
    for new in (radar_batch(scan, frame, NOISE), radar_batch(RadarScanArrays.from_scan(scan), frame, NOISE)):
        np.testing.assert_allclose(new.z[:, :2], old.z[:, :2], rtol=0, atol=1e-9)  # positions: to 1e-9 m
        assert np.isnan(new.z[:, 2:]).all() and not new.has_vel.any()
        # covariances: only the Jacobian changed (closed form vs finite differences, <= ~3e-7 relative each)
        scale = np.abs(old.R[:, :2, :2]).max(axis=(1, 2))[:, None, None]
        assert np.all(np.abs(new.R - old.R)[:, :2, :2] <= 2e-6 * scale + 1e-12)
        assert not new.R[:, 2:, :].any() and not new.R[:, :, 2:].any()
        np.testing.assert_array_equal(new.t, old.t)
        np.testing.assert_allclose(new.alt_m, old.alt_m, rtol=0, atol=1e-9, equal_nan=True)
        np.testing.assert_array_equal(new.sigma_alt_m, old.sigma_alt_m)
        np.testing.assert_array_equal(new.mmsi, old.mmsi)
        np.testing.assert_array_equal(new.icao24, old.icao24)
        assert (new.sensor_kind, new.sensor_id, new.domain) == (old.sensor_kind, old.sensor_id, old.domain)
        assert new.look_en_m is not None and old.look_en_m is not None
        assert new.look_en_m[:2] == pytest.approx(old.look_en_m[:2], rel=0, abs=1e-9)
        assert new.look_en_m[2] == pytest.approx(old.look_en_m[2], rel=1e-9)  # closed-form scale vs PROJ factors
