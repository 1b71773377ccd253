"""Predict stage alone: a zero interval returns each model's own state bit for bit; the CV
prediction is F P F' + Q (CWNA); the position-only prediction is the combined one's block."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fusion.core.arrays import MeasBatch
from fusion.core.config import TrackerConfig
from fusion.core.predict import predict_combined, predict_pairs, predict_position
from fusion.core.table import TrackTable
from fusion.trackscans import PLAIN_POOL

TableFactory = Callable[..., TrackTable]
BatchFactory = Callable[..., MeasBatch]


def _random(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, [3000.0, 3000.0, 8.0, 8.0], size=(n, 4))
    A = rng.normal(size=(n, 4, 4)) * np.array([80.0, 80.0, 3.0, 3.0])[:, None]
    return x, A @ A.swapaxes(1, 2) + 0.1 * np.eye(4)


def test_zero_interval_keeps_every_model_bit_for_bit(make_table: TableFactory, make_batch: BatchFactory) -> None:
    x, P = _random(6, 1)
    tab = make_table(x, P, t=3.0, mu=np.tile([0.7, 0.3], (6, 1)))
    tab["xm"][:, 1] += 25.0  # the models differ
    tab["Pm"][:, 1] *= 3.0
    rows = np.arange(6)
    p = predict_pairs(tab, rows, rows, make_batch(3.0, x[:, :2]))
    np.testing.assert_array_equal(p.xm, tab["xm"])
    np.testing.assert_array_equal(p.Pm, tab["Pm"])
    np.testing.assert_allclose(p.cbar, tab["mu"], rtol=1e-15)


def test_cv_prediction_is_f_p_ft_plus_cwna_q(make_table: TableFactory) -> None:
    x, P = _random(5, 2)
    tab = make_table(x, P, config=TrackerConfig(surface=PLAIN_POOL))
    dt = np.array([0.0, 0.5, 4.0, 30.0, 600.0])
    q = PLAIN_POOL.q_mps2[0]
    xs, Ps = predict_combined(tab, np.arange(5), dt)
    for i, d in enumerate(dt):
        F = np.eye(4)
        F[0, 2] = F[1, 3] = d
        Q = q * np.kron(np.array([[d**3 / 3, d**2 / 2], [d**2 / 2, d]]), np.eye(2))
        np.testing.assert_allclose(xs[i], F @ x[i], rtol=1e-12)
        np.testing.assert_allclose(Ps[i], F @ P[i] @ F.T + Q, rtol=1e-10, atol=1e-9)
    pos, P_pos = predict_position(tab, np.arange(5), dt)
    np.testing.assert_allclose(pos, xs[:, :2], rtol=1e-12)
    np.testing.assert_allclose(P_pos, Ps[:, :2, :2], rtol=1e-12)
