"""Direct tests of sensors/measurement.py: the converted radar measurement, and each
cooperative / OTH measurement model against values worked out by hand."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fusion.core.frame import LocalFrame
from sensors.geodesy import FrameJacobian
from sensors.measurement import (
    CEP95_TO_SIGMA,
    NACP_EPU_M,
    MeasurementNoise,
    adsb_batch,
    ais_batch,
    oth_batch,
    radar_batch,
    unbiased_conversion,
)
from sensors.reports import AdsbReport, AisPosition, OthFix, RadarPlot, RadarScan

FRAME = LocalFrame(8.0, 18.0, -85.0, -75.0)
NOISE = MeasurementNoise()


def _jacobian(lat: float, lon: float) -> np.ndarray:
    """The frame Jacobian the measurement models use (closed form; tests/unit/sensors/test_geodesy.py
    checks it against the frame's finite differences and against PROJ)."""
    J = FrameJacobian.of(FRAME).matrix(np.array([lat]), np.array([lon]))[0]
    np.testing.assert_allclose(J, FRAME.en_jacobian(np.array([lat]), np.array([lon]))[0], atol=1e-6)
    return J

# Long range, large azimuth noise: the naive conversion r (sin az, cos az) is biased
# toward the sensor by about r (1 - exp(-sigma_az^2 / 2)) = 760 m here.
RANGE_M, AZ_DEG, SIG_R_M, SIG_AZ_DEG, DRAWS = 200_000.0, 30.0, 50.0, 5.0, 200_000


def _draws() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    r = RANGE_M + rng.normal(0.0, SIG_R_M, DRAWS)
    az = math.radians(AZ_DEG) + rng.normal(0.0, math.radians(SIG_AZ_DEG), DRAWS)
    truth = RANGE_M * np.array([math.sin(math.radians(AZ_DEG)), math.cos(math.radians(AZ_DEG))])
    return r, az, truth


def test_unbiased_conversion_has_no_bias_where_naive_conversion_has() -> None:
    r, az, truth = _draws()
    en, _ = unbiased_conversion(r, az, np.full(DRAWS, SIG_R_M), math.radians(SIG_AZ_DEG))
    err = en - truth
    se = err.std(axis=0, ddof=1) / math.sqrt(DRAWS)
    assert np.all(np.abs(err.mean(axis=0)) <= 3.0 * se), (err.mean(axis=0), se)
    naive = np.stack([r * np.sin(az), r * np.cos(az)], axis=1) - truth
    naive_se = naive.std(axis=0, ddof=1) / math.sqrt(DRAWS)
    # the naive mean misses truth by many standard errors (its bias is real, not noise)
    expected_bias = RANGE_M * -math.expm1(-0.5 * math.radians(SIG_AZ_DEG) ** 2)
    assert np.linalg.norm(naive.mean(axis=0)) == pytest.approx(expected_bias, rel=0.1)
    assert np.any(np.abs(naive.mean(axis=0)) > 20.0 * naive_se)


def test_unbiased_conversion_covariance_matches_sample_covariance() -> None:
    r, az, truth = _draws()
    en, R = unbiased_conversion(r, az, np.full(DRAWS, SIG_R_M), math.radians(SIG_AZ_DEG))
    sample = np.cov((en - truth).T)
    mean_R = R.mean(axis=0)
    assert np.allclose(mean_R, mean_R.T)
    # each entry within 5 % of the largest variance (the covariance is very elongated)
    assert np.abs(mean_R - sample).max() <= 0.05 * np.abs(sample).max(), (mean_R, sample)
    # and its principal axes agree: cross-range variance matches to 5 %
    assert np.linalg.eigvalsh(mean_R)[1] == pytest.approx(np.linalg.eigvalsh(sample)[1], rel=0.05)
    assert np.all(np.linalg.eigvalsh(R) > 0.0)


def test_unbiased_conversion_without_azimuth_noise_is_plain_polar() -> None:
    en, R = unbiased_conversion(np.array([1000.0]), np.array([math.radians(90.0)]), np.array([10.0]), 0.0)
    np.testing.assert_allclose(en[0], [1000.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(R[0], [[100.0, 0.0], [0.0, 0.0]], atol=1e-9)  # range noise only, along east


def test_ais_sog_cog_to_velocity_and_its_covariance() -> None:
    lat, lon = 12.0, -80.0
    reports = [
        AisPosition(t=1.0, source="rx", mmsi=1, lat=lat, lon=lon, sog_mps=10.0, cog_deg=90.0, accuracy=True),
        AisPosition(t=1.0, source="rx", mmsi=2, lat=lat, lon=lon, sog_mps=10.0, cog_deg=0.0, accuracy=False),
        AisPosition(t=1.0, source="rx", mmsi=3, lat=lat, lon=lon),
    ]
    b = ais_batch(reports, FRAME, NOISE)
    J = _jacobian(lat, lon)
    np.testing.assert_allclose(b.z[0, 2:], J @ [10.0, 0.0], rtol=1e-12, atol=1e-9)  # due east
    np.testing.assert_allclose(b.z[1, 2:], J @ [0.0, 10.0], rtol=1e-12, atol=1e-9)  # due north
    assert b.has_vel.tolist() == [True, True, False]
    assert np.isnan(b.z[2, 2:]).all()
    # heading north: east error = speed x course error, north error = speed error
    sc = math.radians(NOISE.ais_cog_sigma_deg)
    floor = NOISE.min_speed_sigma_mps**2
    R_true = np.diag([(10.0 * sc) ** 2 + floor, NOISE.ais_sog_sigma_mps**2 + floor])
    np.testing.assert_allclose(b.R[1, 2:, 2:], J @ R_true @ J.T, rtol=1e-9, atol=1e-12)
    # accuracy flag chooses the position sigma
    np.testing.assert_allclose(b.R[0, :2, :2], NOISE.ais_sigma_high_m**2 * J @ J.T, rtol=1e-12)
    np.testing.assert_allclose(b.R[1, :2, :2], NOISE.ais_sigma_low_m**2 * J @ J.T, rtol=1e-12)
    assert b.domain == "surface" and b.mmsi.tolist() == [1, 2, 3]


@pytest.mark.parametrize(("nacp", "epu_m"), [(None, 92.6), (0, 37_040.0), (7, 185.2), (8, 92.6), (9, 30.0), (11, 3.0)])
def test_adsb_nacp_to_sigma(nacp: int | None, epu_m: float) -> None:
    lat, lon = 15.0, -78.0
    b = adsb_batch([AdsbReport(t=0.0, source="rx", icao24=0xABC, lat=lat, lon=lon, alt_m=3000.0, nac_p=nacp)],
                   FRAME, NOISE)
    J = _jacobian(lat, lon)
    sigma = epu_m / 2.4477468306808166  # 95 % radius of a circular Gaussian = sqrt(-2 ln 0.05) sigma
    np.testing.assert_allclose(b.R[0, :2, :2], sigma**2 * J @ J.T, rtol=1e-9, atol=1e-6)  # off-diagonal ~0
    assert b.sigma_alt_m[0] == NOISE.adsb_alt_sigma_m and b.alt_m[0] == 3000.0 and b.domain == "air"


def test_nacp_table_is_monotone_and_cep_constant() -> None:
    assert len(NACP_EPU_M) == 12 and all(a > b for a, b in itertools.pairwise(NACP_EPU_M))
    assert CEP95_TO_SIGMA * math.sqrt(-2.0 * math.log(0.05)) == pytest.approx(1.0)


def test_oth_covariance_passes_through_the_frame_jacobian() -> None:
    lat, lon = 10.0, -82.0
    cov = ((4.0e8, 1.0e8), (1.0e8, 2.5e8))
    fast = OthFix(site="oth", t=5.0, lat=lat, lon=lon, cov_en_m2=cov, speed_mps=120.0)
    b = oth_batch([fast], FRAME, "air")
    J = _jacobian(lat, lon)
    np.testing.assert_allclose(b.R[0, :2, :2], J @ np.array(cov) @ J.T, rtol=1e-12)
    e, n = FRAME.to_local(np.array([lat]), np.array([lon]))
    np.testing.assert_allclose(b.z[0, :2], [e[0], n[0]])
    assert not b.has_vel[0] and b.domain == "air"


@pytest.mark.parametrize("max_range_m", [None, 60_000.0])
def test_radar_look_circle(max_range_m: float | None) -> None:
    lat0, lon0 = 11.0, -79.0
    plots = [RadarPlot(range_m=20_000.0, az_deg=45.0), RadarPlot(range_m=35_000.0, az_deg=200.0)]
    scan = RadarScan(site="r1", t=3.0, sensor_lat=lat0, sensor_lon=lon0, sensor_alt_m=30.0, sigma_range_m=30.0,
                     sigma_az_deg=0.5, max_range_m=max_range_m, plots=plots)
    b = radar_batch(scan, FRAME, NOISE)
    assert b.look_en_m is not None
    e0, n0, radius = b.look_en_m
    e, n = FRAME.to_local(lat0, lon0)
    assert (e0, n0) == pytest.approx((float(e), float(n)))
    k = float(FRAME.scale(lat0, lon0))
    # without a stated instrumented range, the farthest plot's ground range
    reach = max_range_m if max_range_m is not None else 35_000.0
    assert radius == pytest.approx(reach * k, rel=1e-4)
    # every plot lies inside the look circle, at about its range from the sensor
    dist = np.hypot(b.z[:, 0] - e0, b.z[:, 1] - n0)
    assert np.all(dist <= radius * (1 + 1e-3))
    np.testing.assert_allclose(dist, np.array([20_000.0, 35_000.0]) * k, rtol=2e-3)
    assert b.domain == "surface" and np.isnan(b.alt_m).all()


@settings(max_examples=80, deadline=None)
@example(range_m=0.0, sensor_alt_m=0.0, el_deg=None).via("0 / 0 in the sea-surface elevation gave a NaN position")
@example(range_m=0.0, sensor_alt_m=40.0, el_deg=None).via("a plot at the foot of the mast")
@given(range_m=st.floats(0.0, 200.0), sensor_alt_m=st.floats(0.0, 100.0), el_deg=st.none() | st.floats(-90.0, 90.0))
def test_a_surface_plot_at_any_range_the_codec_accepts_converts_to_a_finite_measurement(
        range_m: float, sensor_alt_m: float, el_deg: float | None) -> None:
    """The codec accepts a slant range of 0 m; a surface radar's plot nearer than its antenna height (no sea
    point is) is taken at that height, so the position and its covariance stay finite (the tracker refuses a
    batch with a non-finite position)."""
    scan = RadarScan(site="r1", t=3.0, sensor_lat=11.0, sensor_lon=-79.0, sensor_alt_m=sensor_alt_m, sigma_range_m=30.0,
                     sigma_az_deg=0.5, plots=[RadarPlot(range_m=range_m, az_deg=45.0, el_deg=el_deg)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = radar_batch(scan, FRAME, NOISE)
    assert np.isfinite(b.z[:, :2]).all() and np.isfinite(b.R).all()
    e0, n0 = FRAME.to_local(11.0, -79.0)
    assert math.hypot(b.z[0, 0] - float(e0), b.z[0, 1] - float(n0)) <= range_m + 1.0
