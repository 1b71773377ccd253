"""The hand-written kernels of fusion.core.kalman against plain-numpy reference forms.

The kernels work on component-major arrays with explicit multiply-adds (numpy's per-call
overhead on many tiny matrices); these references are the textbook matrix forms.
"""

from __future__ import annotations

import numpy as np
import pytest

from fusion.core import kalman

RTOL = 1e-10


def _spd(rng: np.random.Generator, shape: tuple[int, ...], d: int, scale: float) -> np.ndarray:
    A = rng.standard_normal(shape + (d, d))
    return scale * (A @ A.swapaxes(-1, -2) + d * np.eye(d))


def _close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    atol = RTOL * float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=atol)


def _case(n: int, r: int, seed: int):
    rng = np.random.default_rng(seed)
    xm = rng.standard_normal((n, r, 4)) * 100.0
    Pm = _spd(rng, (n, r), 4, 10.0)
    mu = rng.random((n, r)) + 0.1
    mu /= mu.sum(axis=1, keepdims=True)
    dt = rng.random(n) * 5.0
    return rng, xm, Pm, mu, dt


def _ref_moments(w: np.ndarray, xm: np.ndarray, Pm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """w (N, r, J) -> mixture means (N, J, d) and covariances sum_i w_i (P_i + (x_i - x)(x_i - x)')."""
    x = np.einsum("nij,nid->njd", w, xm)
    dx = xm[:, :, None, :] - x[:, None, :, :]  # (N, r, J, d)
    P = np.einsum("nij,nijde->njde", w, Pm[:, :, None] + dx[..., :, None] * dx[..., None, :])
    return x, P


SIZES = [0, 1, 7, 1000]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("r", [1, 2, 3])
def test_imm_mix_matches_reference(n: int, r: int) -> None:
    _, xm, Pm, mu, dt = _case(n, r, 10 * n + r)
    PI = kalman.markov_matrix(dt, np.array([30.0, 5.0, 10.0])[:r])
    x0, P0, cbar = kalman.imm_mix(xm, Pm, mu, PI)
    cbar_ref = np.einsum("nij,ni->nj", PI, mu)
    w = mu[:, :, None] * PI / cbar_ref[:, None, :]
    x_ref, P_ref = _ref_moments(w, xm, Pm)
    _close(cbar, cbar_ref)
    _close(x0, x_ref)
    _close(P0, P_ref)
    assert P0.shape == (n, r, 4, 4) and P0.flags.c_contiguous


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("r", [1, 2, 3])
@pytest.mark.parametrize("m", [2, 4])
def test_imm_combine_matches_reference(n: int, r: int, m: int) -> None:
    _, xm, Pm, mu, _ = _case(n, r, 20 * n + r)
    xs, Ps = xm[..., :m], Pm[..., :m, :m]  # m = 2: the strided position block, as the tracker passes it
    x, P = kalman.imm_combine(xs, Ps, mu)
    x_ref, P_ref = _ref_moments(mu[:, :, None], xs, Ps)
    _close(x, x_ref[:, 0])
    _close(P, P_ref[:, 0])


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("r", [1, 2, 3])
def test_cv_predict_matches_reference(n: int, r: int) -> None:
    _, xm, Pm, _, dt = _case(n, r, 30 * n + r)
    q = np.array([0.05, 5.0, 1.0])[:r]
    x, P = kalman.cv_predict(xm, Pm, dt, q, 2)
    F = np.broadcast_to(kalman.cv_transition(dt, 2)[:, None], (n, r, 4, 4))
    Q = kalman.cv_noise(dt, q, 2)
    x_ref = np.einsum("nrij,nrj->nri", F, xm)
    P_ref = F @ Pm @ F.swapaxes(-1, -2) + Q
    _close(x, x_ref)
    _close(P, P_ref)
    assert P.flags.c_contiguous


@pytest.mark.parametrize("n", SIZES)
def test_cv_predict_altitude_matches_reference(n: int) -> None:
    rng = np.random.default_rng(n)
    x0, P0, dt = rng.standard_normal((n, 2)) * 100.0, _spd(rng, (n,), 2, 3.0), rng.random(n) * 5.0
    x, P = kalman.cv_predict(x0, P0, dt, np.float64(0.1), 1)
    F, Q = kalman.cv_transition(dt, 1), kalman.cv_noise(dt, np.float64(0.1), 1)
    _close(x, np.einsum("nij,nj->ni", F, x0))
    _close(P, F @ P0 @ F.swapaxes(-1, -2) + Q)


def _ref_update(x, P, z, H, R):
    """Textbook Joseph-form update with np.linalg.inv."""
    S = H @ P @ H.T + R
    Si = np.linalg.inv(S)
    K = P @ H.T @ Si
    y = z - np.einsum("ij,...j->...i", H, x)
    x_new = x + np.einsum("...ij,...j->...i", K, y)
    L = np.eye(x.shape[-1]) - K @ H
    P_new = L @ P @ L.swapaxes(-1, -2) + K @ R @ K.swapaxes(-1, -2)
    d2 = np.einsum("...i,...ij,...j->...", y, Si, y)
    log_lik = -0.5 * (d2 + np.log(np.linalg.det(S)) + H.shape[0] * np.log(2.0 * np.pi))
    return x_new, P_new, S, d2, log_lik


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("r", [1, 2, 3])
@pytest.mark.parametrize("m", [2, 4])
def test_update_matches_reference(n: int, r: int, m: int) -> None:
    rng, xm, Pm, _, _ = _case(n, r, 40 * n + 3 * r + m)
    z = rng.standard_normal((n, 1, m)) * 100.0
    R = _spd(rng, (n, 1), m, 20.0)
    H = np.eye(m, 4)
    x_new, P_new, inn = kalman.update(xm, Pm, z, H, R)
    x_ref, P_ref, S_ref, d2_ref, ll_ref = _ref_update(xm, Pm, z, H, R)
    _close(x_new, x_ref)
    _close(P_new, P_ref)
    _close(inn.S, S_ref)
    _close(inn.d2, d2_ref)
    _close(inn.log_lik, ll_ref)
    np.testing.assert_array_equal(P_new, P_new.swapaxes(-1, -2))  # exactly symmetric


@pytest.mark.parametrize("n", SIZES)
def test_update_altitude_matches_reference(n: int) -> None:
    rng = np.random.default_rng(100 + n)
    x, P = rng.standard_normal((n, 2)) * 100.0, _spd(rng, (n,), 2, 3.0)
    z, R = rng.standard_normal((n, 1)) * 100.0, (rng.random(n) + 1.0)[:, None, None]
    H = np.array([[1.0, 0.0]])
    x_new, P_new, _ = kalman.update(x, P, z, H, R)
    x_ref, P_ref, *_ = _ref_update(x, P, z, H, R)
    _close(x_new, x_ref)
    _close(P_new, P_ref)


@pytest.mark.parametrize("n", SIZES)
def test_innovation_combined_matches_reference(n: int) -> None:
    rng, xm, Pm, mu, _ = _case(n, 2, 200 + n)
    x, P = kalman.imm_combine(xm[..., :2], Pm[..., :2, :2], mu)
    z, R = rng.standard_normal((n, 2)) * 100.0, _spd(rng, (n,), 2, 20.0)
    inn = kalman.innovation(x, P, z, np.eye(2), R)
    _, _, S_ref, d2_ref, ll_ref = _ref_update(x, P, z, np.eye(2), R)
    _close(inn.S, S_ref)
    _close(inn.d2, d2_ref)
    _close(inn.log_lik, ll_ref)


@pytest.mark.parametrize("n", [1, 7])
@pytest.mark.parametrize("r", [1, 2])
def test_kernels_leave_inputs_unchanged(n: int, r: int) -> None:
    """The component-major buffers may be views of the inputs (n r = 1): never written."""
    rng, xm, Pm, mu, dt = _case(n, r, 300 + n + r)
    PI = kalman.markov_matrix(dt, np.array([30.0, 5.0])[:r])
    z, R = rng.standard_normal((n, 1, 2)) * 100.0, _spd(rng, (n, 1), 2, 20.0)
    args = (xm, Pm, mu, dt, PI, z, R)
    saved = [a.copy() for a in args]
    kalman.imm_mix(xm, Pm, mu, PI)
    kalman.imm_predict(xm, Pm, mu, dt, np.array([30.0, 5.0])[:r], np.array([0.05, 5.0])[:r])
    kalman.imm_combine(xm, Pm, mu)
    kalman.cv_predict(xm, Pm, dt, np.array([0.05, 5.0])[:r], 2)
    kalman.update(xm, Pm, z, np.eye(2, 4), R)
    kalman.update(xm[:, 0, :2], Pm[:, 0, :2, :2], z[:, 0, :1], np.array([[1.0, 0.0]]), R[:, 0, :1, :1])
    for a, b in zip(args, saved, strict=True):
        np.testing.assert_array_equal(a, b)


def _row_major_moments(w: np.ndarray, xm: np.ndarray, Pm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The row-major mixing of before the component-major kernel (2026-12-07), operation for operation."""
    r = xm.shape[1]
    x = w[:, 0, :, None] * xm[:, 0, None]
    for i in range(1, r):
        x += w[:, i, :, None] * xm[:, i, None]
    P = w[:, 0, :, None, None] * Pm[:, 0, None]
    for i in range(1, r):
        P += w[:, i, :, None, None] * Pm[:, i, None]
    for i in range(r):
        for k in range(i + 1, r):
            D = xm[:, i] - xm[:, k]
            P += (w[:, i] * w[:, k])[:, :, None, None] * (D[:, :, None] * D[:, None, :])[:, None]
    return x, P


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("r", [2, 3])
def test_mixing_is_the_row_major_form_bit_for_bit(n: int, r: int) -> None:
    """The component-major mixing and combination give the numbers of the row-major form exactly
    (the same operations in the same order): the tracker's results do not move."""
    _, xm, Pm, mu, dt = _case(n, r, 400 + n + r)
    PI = kalman.markov_matrix(dt, np.array([30.0, 5.0, 10.0])[:r])
    w = mu[:, :, None] * PI
    cbar = w.sum(axis=1)
    w /= cbar[:, None, :]
    x0, P0, cbar0 = kalman.imm_mix(xm, Pm, mu, PI)
    x_ref, P_ref = _row_major_moments(w, xm, Pm)
    np.testing.assert_array_equal(cbar0, cbar)
    np.testing.assert_array_equal(x0, x_ref)
    np.testing.assert_array_equal(P0, P_ref)
    x, P = kalman.imm_combine(xm, Pm, mu)
    x_ref, P_ref = _row_major_moments(mu[:, :, None], xm, Pm)
    np.testing.assert_array_equal(x, x_ref[:, 0])
    np.testing.assert_array_equal(P, P_ref[:, 0])


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("r", [1, 2, 3])
def test_imm_predict_is_mix_then_predict(n: int, r: int) -> None:
    _, xm, Pm, mu, dt = _case(n, r, 500 + n + r)
    sojourn, q = np.array([30.0, 5.0, 10.0])[:r], np.array([0.05, 5.0, 1.0])[:r]
    x, P, cbar = kalman.imm_predict(xm, Pm, mu, dt, sojourn, q)
    x0, P0, cbar_ref = kalman.imm_mix(xm, Pm, mu, kalman.markov_matrix(dt, sojourn))
    x_ref, P_ref = kalman.cv_predict(x0, P0, dt, q, 2)
    np.testing.assert_array_equal(cbar, cbar_ref)
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(P, P_ref)
    assert x.flags.c_contiguous and P.flags.c_contiguous and P.shape == (n, r, 4, 4)


def _row_major_position(x: np.ndarray, P: np.ndarray, dt: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cv_predict_position of before the component-major kernel (2026-12-07), operation for operation."""
    t = dt.reshape(dt.shape + (1,) * (x.ndim - 2))
    pos = x[..., :2] + t[..., None] * x[..., 2:]
    qpp = q * t**3 / 3.0
    Pp = np.empty(P.shape[:-2] + (2, 2))
    for i in range(2):
        for j in range(i, 2):
            v = P[..., i, j] + t * (P[..., i, j + 2] + P[..., i + 2, j]) + t * t * P[..., i + 2, j + 2]
            Pp[..., i, j] = Pp[..., j, i] = v + qpp if i == j else v
    return pos, Pp


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("r", [1, 2, 3])
def test_predicted_position_is_the_row_major_form_bit_for_bit(n: int, r: int) -> None:
    _, xm, Pm, mu, dt = _case(n, r, 600 + n + r)
    q = np.array([0.05, 5.0, 1.0])[:r]
    pos_ref, Pp_ref = _row_major_position(xm, Pm, dt, q)
    pos, Pp = kalman.cv_predict_position(xm, Pm, dt, q, 2)
    np.testing.assert_array_equal(pos, pos_ref)
    np.testing.assert_array_equal(Pp, Pp_ref)
    x, P = kalman.imm_predict_position(xm, Pm, mu, dt, q)
    x_ref, P_ref = (pos_ref[:, 0], Pp_ref[:, 0]) if r == 1 else _row_major_moments(mu[:, :, None], pos_ref, Pp_ref)
    np.testing.assert_array_equal(x, x_ref.reshape(n, 2))
    np.testing.assert_array_equal(P, P_ref.reshape(n, 2, 2))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("r", [1, 2, 3])
def test_combined_position_block_is_the_block_of_the_full_combination(n: int, r: int) -> None:
    """The gate and the identity feasibility moment-match the position block only: bit for bit the
    block of the full combination."""
    _, xm, Pm, mu, _ = _case(n, r, 700 + n + r)
    x, P = kalman.imm_combine(xm, Pm, mu)
    xb, Pb = kalman.imm_combine(xm[..., :2], Pm[..., :2, :2], mu)
    np.testing.assert_array_equal(xb, x[:, :2])
    np.testing.assert_array_equal(Pb, P[:, :2, :2])
