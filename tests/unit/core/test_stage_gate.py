"""Gate stage alone, with a strongly elongated covariance (issue 15 item 2): with a 3-sigma gate
a plot at 2.9 sigma along the major axis is gated, at 3.1 sigma it is not, and the same
distance along the minor axis is not; the reach bound is not what rejects the 3.1-sigma plot."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from fusion.core.arrays import TENTATIVE, MeasBatch
from fusion.core.config import TrackerConfig
from fusion.core.gate import candidate_pairs, distances, gate_pairs, gate_radius, reachable, within_reach
from fusion.core.predict import predict_pairs, predict_position
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


def _gate_every_pair(tab: TrackTable, batch: MeasBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The gate of before 2026-12-07, for every track and plot free: each candidate pair predicted
    on its own, then the chi-square test and the reach bound (both kept)."""
    a, mod = tab.cols, tab.mod
    tb, t0 = float(batch.t.max()), float(batch.t.min())
    Rp = batch.R_pos
    r_max = float((0.5 * (Rp[:, 0, 0] + Rp[:, 1, 1]) + np.sqrt(0.25 * (Rp[:, 0, 0] - Rp[:, 1, 1]) ** 2 + Rp[:, 0, 1] ** 2)).max())
    spread = mod.pool.max_speed_mps * (tb - t0)
    tracks = reachable(tab, np.ones(tab.rows, bool), tb, batch.z_pos, r_max, spread)
    pos, P_pos = predict_position(tab, tracks, np.maximum(tb - a["t"][tracks], 0.0))
    pairs = candidate_pairs(pos, gate_radius(P_pos, r_max, mod.gate[4]) + spread, batch.z_pos)
    p = predict_pairs(tab, tracks[pairs[:, 0]], pairs[:, 1], batch)
    d2, dims = distances(p, batch)
    tentative = a["status"][p.track] == TENTATIVE
    gate = np.where(dims == 4, np.where(tentative, mod.confirm_gate[4], mod.gate[4]),
                    np.where(tentative, mod.confirm_gate[2], mod.gate[2]))
    inside = (d2 <= gate) & within_reach(tab, p, batch)
    k = p.take(inside)
    return k.track, k.meas, k.xm, k.Pm, k.cbar, d2[inside] / gate[inside]


@pytest.mark.parametrize("times", ["scan", "spread"])
def test_gate_predicts_each_track_once_with_the_numbers_of_every_pair(
        make_table: TableFactory, make_batch: BatchFactory, times: str) -> None:
    """Tracks with several plots in their gates (a scan: one time; or reports at their own times):
    the pairs, their predictions and costs are those of predicting every candidate pair on its own,
    bit for bit, with the IMM's interaction (the default two-model pool)."""
    rng = np.random.default_rng(7)
    n = 300
    x = np.zeros((n, 4))
    x[:, :2] = rng.uniform(0.0, 20_000.0, (n, 2))
    x[:, 2:] = rng.normal(0.0, 5.0, (n, 2))
    A = rng.normal(size=(n, 4, 4))
    P = A @ A.swapaxes(-1, -2) * 400.0 + np.diag([900.0, 900.0, 4.0, 4.0])
    mu = rng.dirichlet([1.0, 1.0], n)
    status = rng.integers(0, 2, n).astype(np.int8)
    tab = make_table(x, P, t=rng.uniform(0.0, 8.0, n), mu=mu, status=status)
    plots = np.concatenate([x[:, :2] + x[:, 2:] * 10.0 + rng.normal(0.0, 40.0, (n, 2)) for _ in range(3)])
    t = 10.0 if times == "scan" else rng.uniform(9.0, 10.0, len(plots))
    vel = rng.normal(0.0, 5.0, (len(plots), 2)) if times == "spread" else None
    batch = make_batch(t, plots, sigma_m=30.0, vel=vel)
    if vel is not None:  # some rows with velocity, some without
        batch = replace(batch, has_vel=rng.random(len(plots)) < 0.5)
    m = len(batch)
    kp, cost, bad = gate_pairs(tab, batch, np.ones(n, bool), np.ones(m, bool), np.zeros(m, bool), None, 0)
    ref = _gate_every_pair(tab, batch)
    assert bad.size == 0 and kp.track.size > n  # tracks with several plots gated
    for got, want in zip((kp.track, kp.meas, kp.xm, kp.Pm, kp.cbar, cost), ref, strict=True):
        np.testing.assert_array_equal(got, want)
