"""Steady-state accuracy and consistency of the batched CV Kalman filter (Monte Carlo)."""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_discrete_are
from scipy.stats import chi2

from fusion.core import kalman

H = np.hstack([np.eye(2), np.zeros((2, 2))])
DT, Q, SIGMA, RUNS, STEPS = 4.0, 0.05, 50.0, 4000, 60


def _monte_carlo() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RUNS independent single-target runs as the batch axis: final (truth, x, P)."""
    rng = np.random.default_rng(7)
    dt = np.full(RUNS, DT)
    Qm = kalman.cv_noise(dt[:1], Q, 2)[0]
    truth = np.zeros((RUNS, 4))
    truth[:, 2:] = rng.normal(0, 5, (RUNS, 2))
    x = np.zeros((RUNS, 4))
    x[:, :2] = truth[:, :2] + rng.normal(0, SIGMA, (RUNS, 2))
    P = np.tile(np.diag([SIGMA**2, SIGMA**2, 400.0, 400.0]), (RUNS, 1, 1))
    x[:, 2:] = 0.0
    truth[:, 2:] = rng.normal(0, 20, (RUNS, 2))
    F = kalman.cv_transition(dt[:1], 2)[0]
    for _ in range(STEPS):
        truth = truth @ F.T + rng.multivariate_normal(np.zeros(4), Qm, RUNS)
        z = truth[:, :2] + rng.normal(0, SIGMA, (RUNS, 2))
        x, P = kalman.cv_predict(x, P, dt, np.float64(Q), 2)
        x, P, _ = kalman.update(x, P, z, H, np.eye(2)[None] * SIGMA**2)
    return truth, x, P


def test_steady_state_rmse_matches_riccati_and_nees_is_consistent() -> None:
    F = kalman.cv_transition(np.array([DT]), 2)[0]
    Qm = kalman.cv_noise(np.array([DT]), Q, 2)[0]
    R = np.eye(2) * SIGMA**2
    prior = solve_discrete_are(F.T, H.T, Qm, R)
    post = prior - prior @ H.T @ np.linalg.solve(H @ prior @ H.T + R, H @ prior)
    rmse_theory = np.sqrt(np.trace(post[:2, :2]))
    truth, x, P = _monte_carlo()
    err = truth - x
    rmse = np.sqrt(np.mean(np.sum(err[:, :2] ** 2, axis=1)))
    assert abs(rmse / rmse_theory - 1.0) < 0.05, (rmse, rmse_theory)
    nees = np.einsum("ni,ni->n", err, np.linalg.solve(P, err[..., None])[..., 0])
    lo, hi = chi2.ppf([0.025, 0.975], 4 * RUNS) / RUNS
    assert lo <= nees.mean() <= hi, (nees.mean(), lo, hi)
