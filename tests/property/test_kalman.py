"""Batched Kalman/IMM steps against filterpy, on hypothesis-generated sequences."""

from __future__ import annotations

import numpy as np
from filterpy.kalman import IMMEstimator, KalmanFilter
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.core import kalman

H = np.hstack([np.eye(2), np.zeros((2, 2))])
steps = st.lists(st.tuples(st.floats(0.5, 10.0), st.floats(-300, 300), st.floats(-300, 300)), min_size=1, max_size=8)


def _kf(x0: np.ndarray, P0: np.ndarray, q: float, r: float) -> KalmanFilter:
    f = KalmanFilter(dim_x=4, dim_z=2)
    f.x, f.P, f.H, f.R = x0.copy(), P0.copy(), H.copy(), np.eye(2) * r
    f.Q = np.zeros((4, 4))
    return f


@settings(max_examples=40, deadline=None)
@given(steps, st.floats(0.01, 5.0), st.floats(10.0, 5000.0))
def test_kalman_equals_filterpy(seq: list[tuple[float, float, float]], q: float, r: float) -> None:
    x, P = np.zeros((1, 4)), np.diag([1e4, 1e4, 100.0, 100.0])[None]
    f = _kf(x[0], P[0], q, r)
    for dt, ze, zn in seq:
        dta = np.array([dt])
        f.predict(F=kalman.cv_transition(dta, 2)[0], Q=kalman.cv_noise(dta, q, 2)[0])
        f.update(np.array([ze, zn]))
        x, P = kalman.cv_predict(x, P, dta, np.float64(q), 2)
        x, P, _ = kalman.update(x, P, np.array([[ze, zn]]), H, np.eye(2)[None] * r)
        np.testing.assert_allclose(x[0], f.x.ravel(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(P[0], f.P, rtol=1e-9, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(steps, st.floats(0.01, 0.5), st.floats(1.0, 20.0), st.floats(0.01, 0.2))
def test_imm_equals_filterpy(seq: list[tuple[float, float, float]], q0: float, q1: float, switch: float) -> None:
    dt = 4.0
    dta = np.array([dt])
    qs = np.array([q0, q1])
    PI = np.array([[1 - switch, switch], [switch, 1 - switch]])
    mu = np.array([[0.7, 0.3]])
    x0, P0 = np.array([10.0, -5.0, 1.0, 2.0]), np.diag([2500.0, 2500.0, 25.0, 25.0])
    filters = []
    for q in qs:
        f = _kf(x0, P0, q, 900.0)
        f.F, f.Q = kalman.cv_transition(dta, 2)[0], kalman.cv_noise(dta, q, 2)[0]
        filters.append(f)
    imm = IMMEstimator(filters, mu[0].copy(), PI)
    xm, Pm = np.tile(x0, (1, 2, 1)), np.tile(P0, (1, 2, 1, 1))
    for _, ze, zn in seq:
        imm.predict()
        imm.update(np.array([ze, zn]))
        xmix, Pmix, cbar = kalman.imm_mix(xm, Pm, mu, PI)
        xp, Pp = kalman.cv_predict(xmix, Pmix, dta, qs, 2)
        xm, Pm, inn = kalman.update(xp, Pp, np.array([[[ze, zn]]]), H, np.eye(2)[None, None] * 900.0)
        mu = kalman.imm_posterior(cbar, inn.log_lik)
        x, P = kalman.imm_combine(xm, Pm, mu)
        if imm.mu.min() < kalman.MU_FLOOR:
            break  # from here the tracker's mode probabilities are floored by design (kalman.floor_probabilities): no reference
        # mode probabilities as log-odds: filterpy takes each model's likelihood through scipy's eigen-based
        # logpdf, good to ~1e-10 of a log-likelihood that reaches -100s on a 10-sigma innovation, and a mode
        # probability near 0 or 1 carries that error whole (found by hypothesis: 3e-8 relative at mu = 0.002)
        np.testing.assert_allclose(np.log(mu[0, 0] / mu[0, 1]), np.log(imm.mu[0] / imm.mu[1]), rtol=0, atol=1e-6)
        np.testing.assert_allclose(x[0], imm.x.ravel(), rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(P[0], imm.P, rtol=1e-7, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.1, 60.0), min_size=1, max_size=10), st.floats(1e-3, 10.0), st.floats(1.0, 1e6), st.integers(0, 1000))
def test_covariance_stays_spd(dts: list[float], q: float, r: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, P = np.zeros((3, 4)), np.tile(np.diag([1e6, 1e6, 400.0, 400.0]), (3, 1, 1))
    for dt in dts:
        x, P = kalman.cv_predict(x, P, np.full(3, dt), np.float64(q), 2)
        x, P, _ = kalman.update(x, P, rng.normal(0, 1e3, (3, 2)), H, np.eye(2)[None] * r)
        np.testing.assert_array_equal(P, P.swapaxes(-1, -2))
        assert (np.linalg.eigvalsh(P) > 0).all()


def _spd(rng: np.random.Generator, n: int, d: int, scale: float) -> np.ndarray:
    A = rng.normal(0, 1, (n, d, d))
    return scale * (A @ A.swapaxes(-1, -2) + d * np.eye(d))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([(1, 2), (2, 4), (2, 2), (1, 4)]), st.floats(1.0, 1e4))
def test_entrywise_update_equals_the_matrix_joseph_form(seed: int, md: tuple[int, int], scale: float) -> None:
    # H = [I 0] with m <= 2 is updated entry by entry; compare with the textbook
    # (I - K H) P (I - K H)' + K R K' in matrix form
    m, d = md
    rng = np.random.default_rng(seed)
    n = 5
    x, z = rng.normal(0, scale, (n, d)), rng.normal(0, scale, (n, m))
    P, R = _spd(rng, n, d, scale), _spd(rng, n, m, scale)
    Hm = np.hstack([np.eye(m), np.zeros((m, d - m))])
    x1, P1, _ = kalman.update(x, P, z, Hm, R)
    S = Hm @ P @ Hm.T + R
    K = P @ Hm.T @ np.linalg.inv(S)
    L = np.eye(d) - K @ Hm
    np.testing.assert_allclose(x1, x + (K @ (z - x @ Hm.T)[..., None])[..., 0], rtol=1e-9, atol=1e-9 * scale)
    joseph = L @ P @ L.swapaxes(-1, -2) + K @ R @ K.swapaxes(-1, -2)
    np.testing.assert_allclose(P1, joseph, rtol=1e-8, atol=1e-8 * scale)
    np.testing.assert_array_equal(P1, P1.swapaxes(-1, -2))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3), st.sampled_from([1, 2]))
def test_position_prediction_is_the_position_block_of_the_full_one(seed: int, r: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    n = 6
    x, P = rng.normal(0, 100, (n, r, 2 * k)), _spd(rng, n * r, 2 * k, 50.0).reshape(n, r, 2 * k, 2 * k)
    dt, q = rng.uniform(0, 30, n), rng.uniform(0.01, 3, r)
    xf, Pf = kalman.cv_predict(x, P, dt, q, k)
    pos, Pp = kalman.cv_predict_position(x, P, dt, q, k)
    np.testing.assert_allclose(pos, xf[..., :k], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(Pp, Pf[..., :k, :k], rtol=1e-12, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.floats(1.0, 1e5))
def test_imm_mix_and_combine_equal_the_textbook_sums(seed: int, r: int, offset: float) -> None:
    # x0_j = sum_i w_ij x_i, P0_j = sum_i w_ij (P_i + (x_i - x0_j)(x_i - x0_j)'), w_ij = PI_ij mu_i / cbar_j
    rng = np.random.default_rng(seed)
    n = 7
    xm, Pm = offset + rng.normal(0, 100, (n, r, 4)), _spd(rng, n * r, 4, 50.0).reshape(n, r, 4, 4)
    mu = rng.dirichlet(np.ones(r), n)
    PI = kalman.markov_matrix(rng.uniform(0, 60, n), rng.uniform(5, 300, r))
    w = mu[:, :, None] * PI
    cbar = w.sum(axis=1)
    w = w / cbar[:, None, :]
    x0 = np.einsum("nij,nid->njd", w, xm)
    dx = xm[:, :, None, :] - x0[:, None, :, :]
    P0 = np.einsum("nij,nijab->njab", w, Pm[:, :, None] + dx[..., :, None] * dx[..., None, :])
    got = kalman.imm_mix(xm, Pm, mu, PI)
    for a, b in zip(got, (x0, P0, cbar), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * float(np.abs(b).max()))
    x = np.einsum("nj,njd->nd", mu, xm)
    d = xm - x[:, None, :]
    P = np.einsum("nj,njab->nab", mu, Pm + d[..., :, None] * d[..., None, :])
    xc, Pc = kalman.imm_combine(xm, Pm, mu)
    np.testing.assert_allclose(xc, x, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(Pc, P, rtol=1e-9, atol=1e-9 * float(np.abs(P).max()))
