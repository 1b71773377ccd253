"""Update stage alone: the committed state equals filterpy's KalmanFilter.update (Joseph form)
for random states; M-of-N confirmation; the non-finite guard."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from filterpy.kalman import KalmanFilter

from fusion.core.arrays import CONFIRMED, TENTATIVE, MeasBatch
from fusion.core.config import TrackerConfig
from fusion.core.predict import predict_pairs
from fusion.core.table import TrackTable
from fusion.core.update import update
from fusion.trackscans import PLAIN_POOL

TableFactory = Callable[..., TrackTable]
BatchFactory = Callable[..., MeasBatch]
ONE_MODEL = TrackerConfig(surface=PLAIN_POOL)


def _random(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, [3000.0, 3000.0, 8.0, 8.0], size=(n, 4))
    A = rng.normal(size=(n, 4, 4)) * np.array([80.0, 80.0, 3.0, 3.0])[:, None]
    z = x[:, :2] + rng.normal(0.0, 60.0, size=(n, 2))
    return x, A @ A.swapaxes(1, 2) + 0.1 * np.eye(4), z


@pytest.mark.parametrize("with_velocity", [False, True])
def test_update_equals_filterpy(make_table: TableFactory, make_batch: BatchFactory, with_velocity: bool) -> None:
    n = 40
    x, P, z = _random(n, 7 + with_velocity)
    vel = x[:, 2:] + 0.3 if with_velocity else None
    tab = make_table(x, P, config=ONE_MODEL, t=5.0)
    batch = make_batch(5.0, z, sigma_m=25.0, vel=vel)  # at the tracks' own time: the prediction is the identity
    rows = np.arange(n)
    assert update(tab, predict_pairs(tab, rows, rows, batch), batch).size == 0
    m = 4 if with_velocity else 2
    for i in range(n):
        kf = KalmanFilter(dim_x=4, dim_z=m)
        kf.x, kf.P = x[i].reshape(4, 1).copy(), P[i].copy()
        kf.H = np.eye(4)[:m]
        kf.R = batch.R[i, :m, :m]
        kf.update(batch.z[i, :m].reshape(m, 1))
        np.testing.assert_allclose(tab["xm"][i, 0], kf.x[:, 0], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(tab["Pm"][i, 0], kf.P, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(tab["cx"], tab["xm"][:, 0])  # derived columns refreshed
    assert (tab["last_t"] == 5.0).all() and (tab["miss_run"] == 0).all() and (tab["looks"] == 4).all()


def test_a_second_hit_within_three_looks_confirms(make_table: TableFactory, make_batch: BatchFactory) -> None:
    x, P, _ = _random(2, 3)
    # row 0: one hit then a miss (0b10); row 1: one hit then two misses (0b100, outside the 3-look window after this hit)
    tab = make_table(x, P, status=TENTATIVE, hist=np.array([0b10, 0b100]), looks=np.array([2, 3]))
    batch = make_batch(0.0, x[:, :2])
    rows = np.arange(2)
    update(tab, predict_pairs(tab, rows, rows, batch), batch)
    assert tab["status"].tolist() == [CONFIRMED, TENTATIVE]
    assert tab["hist"].tolist() == [0b101, 0b1001]


def test_a_non_finite_update_is_not_committed(make_table: TableFactory, make_batch: BatchFactory) -> None:
    x, P, z = _random(3, 5)
    tab = make_table(x, P)
    before = tab["xm"].copy()
    batch = make_batch(0.0, z)
    p = predict_pairs(tab, np.arange(3), np.arange(3), batch)
    p.Pm[1] = np.nan  # a broken prediction (e.g. from an old checkpoint)
    bad = update(tab, p, batch)
    assert bad.tolist() == [1]
    np.testing.assert_array_equal(tab["xm"][1], before[1])
    assert np.isfinite(tab["xm"]).all() and not np.array_equal(tab["xm"][0], before[0])
