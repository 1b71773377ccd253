"""Gate stage alone, with a strongly elongated covariance (issue 15 item 2): with a 3-sigma gate
a plot at 2.9 sigma along the major axis is gated, at 3.1 sigma it is not, and the same
distance along the minor axis is not; the reach bound is not what rejects the 3.1-sigma plot."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from fusion.core.arrays import MeasBatch
from fusion.core.config import TrackerConfig
from fusion.core.gate import gate_pairs, within_reach
from fusion.core.predict import predict_pairs
from fusion.core.table import TrackTable
from fusion.trackscans import PLAIN_POOL

TableFactory = Callable[..., TrackTable]
BatchFactory = Callable[..., MeasBatch]
SIGMA_MAJOR_M, SIGMA_MINOR_M = 2000.0, 100.0
AXIS_DEG = 30.0
# chi2(2) CDF 1 - exp(-d2 / 2): a Mahalanobis distance of 3 (d2 = 9) holds 1 - exp(-4.5)
THREE_SIGMA = TrackerConfig(surface=PLAIN_POOL, gate_prob=1.0 - math.exp(-4.5))


def _track(make_table: TableFactory) -> TrackTable:
    """A confirmed, stationary track at the origin with the elongated position covariance."""
    major, minor = _axes()
    P = np.zeros((1, 4, 4))
    P[0, :2, :2] = SIGMA_MAJOR_M**2 * np.outer(major, major) + SIGMA_MINOR_M**2 * np.outer(minor, minor)
    P[0, 2:, 2:] = 1e-4 * np.eye(2)
    return make_table(np.zeros((1, 4)), P, config=THREE_SIGMA)


def _axes() -> tuple[np.ndarray, np.ndarray]:
    a = np.radians(AXIS_DEG)
    return np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_elongated_gate_keeps_2_9_sigma_major_only(make_table: TableFactory, make_batch: BatchFactory, sign: float) -> None:
    tab = _track(make_table)
    major, minor = _axes()
    plots = sign * SIGMA_MAJOR_M * np.stack([2.9 * major, 3.1 * major, 2.9 * minor])
    batch = make_batch(10.0, plots, sigma_m=10.0)
    kp, cost, bad = gate_pairs(tab, batch, np.ones(1, bool), np.ones(3, bool), np.zeros(3, bool), None, 0)
    assert bad.size == 0
    assert kp.track.tolist() == [0] and kp.meas.tolist() == [0]
    assert 8.0 / 9.0 < cost[0] < 1.0  # d2 / gate: 2.9^2 / 9 (less the plot and process noise)
    # the 3.1-sigma plot is within the physical reach: the chi-square test is what rejects it
    assert within_reach(tab, predict_pairs(tab, np.array([0]), np.array([1]), batch), batch).tolist() == [True]


def test_no_free_track_or_plot_gates_nothing(make_table: TableFactory, make_batch: BatchFactory) -> None:
    tab = _track(make_table)
    batch = make_batch(10.0, np.zeros((1, 2)))
    kp, cost, _ = gate_pairs(tab, batch, np.zeros(1, bool), np.ones(1, bool), np.zeros(1, bool), None, 0)
    assert kp.track.size == 0 and cost.size == 0
    kp, cost, _ = gate_pairs(tab, batch, np.ones(1, bool), np.zeros(1, bool), np.zeros(1, bool), None, 0)
    assert kp.track.size == 0 and cost.size == 0
