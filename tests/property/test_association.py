"""GNN assignment against a dense solver, and grid / k-d tree gating against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from fusion.core.assign import assign
from fusion.core.gate import _grid_pairs, candidate_pairs


def _problem(seed: int, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    tracks, plots = rng.uniform(0, 1000, (n, 2)), rng.uniform(0, 1000, (m, 2))
    pairs = candidate_pairs(tracks, np.full(n, 150.0), plots)
    cost = np.linalg.norm(tracks[pairs[:, 0]] - plots[pairs[:, 1]], axis=1) / 150.0
    return pairs, cost


def _dense_cost(pairs: np.ndarray, cost: np.ndarray, n: int, m: int) -> float:
    mat = np.full((n, m + n), np.inf)
    mat[pairs[:, 0], pairs[:, 1]] = cost
    mat[np.arange(n), m + np.arange(n)] = 1.0
    r, c = linear_sum_assignment(mat)
    return float(mat[r, c].sum())


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30), st.integers(1, 30))
def test_assignment_is_optimal_and_inside_the_gate(seed: int, n: int, m: int) -> None:
    pairs, cost = _problem(seed, n, m)
    res = assign(pairs, cost, 1.0)
    chosen = pairs[res.chosen]
    assert np.unique(chosen[:, 0]).size == chosen.shape[0] and np.unique(chosen[:, 1]).size == chosen.shape[0]
    assert (cost[res.chosen] < 1.0).all()
    total = cost[res.chosen].sum() + (n - chosen.shape[0]) * 1.0
    assert np.isclose(total, _dense_cost(pairs, cost, n, m))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30), st.integers(1, 30))
def test_zero_and_tied_costs_are_assigned_optimally(seed: int, n: int, m: int) -> None:
    # costs on a coarse lattice: exact zeros (no edge in a sparse matrix) and many ties
    pairs, cost = _problem(seed, n, m)
    cost = np.floor(cost * 4.0) / 4.0
    res = assign(pairs, cost, 1.0)
    chosen, picked = pairs[res.chosen], cost[res.chosen]
    assert np.unique(chosen[:, 0]).size == chosen.shape[0] and np.unique(chosen[:, 1]).size == chosen.shape[0]
    assert (picked < 1.0).all()
    assert np.isclose(picked.sum() + (n - chosen.shape[0]) * 1.0, _dense_cost(pairs, cost, n, m))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 20), st.integers(1, 20))
def test_permuting_plots_permutes_the_assignment(seed: int, n: int, m: int) -> None:
    pairs, cost = _problem(seed, n, m)
    perm = np.random.default_rng(seed + 1).permutation(m)
    inv = np.argsort(perm)
    moved = pairs.copy()
    moved[:, 1] = inv[pairs[:, 1]]
    a = {tuple(p) for p in pairs[assign(pairs, cost, 1.0).chosen].tolist()}
    b = {(t, int(perm[j])) for t, j in moved[assign(moved, cost, 1.0).chosen].tolist()}
    assert np.isclose(sum(cost[[i for i, p in enumerate(pairs.tolist()) if tuple(p) in a]]),
                      sum(cost[[i for i, p in enumerate(pairs.tolist()) if tuple(p) in b]]))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 200), st.integers(0, 40))
def test_candidates_equal_brute_force(seed: int, n: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    tracks, plots, radius = rng.uniform(0, 5000, (n, 2)), rng.uniform(0, 5000, (m, 2)), rng.uniform(10, 800, n)
    got = {tuple(p) for p in candidate_pairs(tracks, radius, plots).tolist()}
    d = np.linalg.norm(tracks[:, None] - plots[None], axis=2)
    want = {(int(i), int(j)) for i, j in zip(*np.nonzero(d <= radius[:, None]), strict=True)}
    assert got == want


def _brute(tracks: np.ndarray, radius: np.ndarray, plots: np.ndarray) -> set[tuple[int, int]]:
    d = np.linalg.norm(tracks[:, None] - plots[None], axis=2)
    return {(int(i), int(j)) for i, j in zip(*np.nonzero(d <= radius[:, None]), strict=True)}


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(150, 200), st.integers(35, 40))
def test_uneven_density_falls_back_to_the_tree_with_the_same_pairs(seed: int, n: int, m: int) -> None:
    # all plots but one in a 20 m cluster, one 1,000 km away: the grid (about M cells over the
    # plots' bounding box) would put the cluster in one cell, so the k-d tree answers
    rng = np.random.default_rng(seed)
    plots = np.vstack([rng.uniform(0, 20, (m - 1, 2)), [[1e6, 1e6]]])
    tracks, radius = rng.uniform(-30, 50, (n, 2)), rng.uniform(1, 50, n)
    assert _grid_pairs(tracks, radius, plots)[0] is None
    pairs = candidate_pairs(tracks, radius, plots)
    assert {tuple(p) for p in pairs.tolist()} == _brute(tracks, radius, plots)
    assert (np.diff(pairs[:, 0] * m + pairs[:, 1]) > 0).all()  # sorted by track, then plot


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 200), st.integers(1, 40), st.floats(1.0, 1e5))
def test_grid_candidates_contain_all_pairs_within_radius(seed: int, n: int, m: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    tracks, plots = rng.uniform(-0.2, 1.2, (n, 2)) * scale, rng.uniform(0, 1, (m, 2)) * scale
    radius = rng.uniform(0.001, 0.3, n) * scale
    ti, pi = _grid_pairs(tracks, radius, plots)
    assert ti is not None and pi is not None
    assert _brute(tracks, radius, plots) <= set(zip(ti.tolist(), pi.tolist(), strict=True))


def test_a_track_without_a_finite_position_gates_nothing() -> None:
    tracks = np.array([[0.0, 0.0], [np.nan, 5.0], [100.0, 100.0]])
    plots = np.array([[1.0, 1.0], [101.0, 99.0], [5000.0, 5000.0]])
    pairs = candidate_pairs(tracks, np.full(3, 50.0), plots)
    assert pairs.tolist() == [[0, 0], [2, 1]]


def test_repeated_pairs_are_refused() -> None:
    pairs = np.array([[0, 0], [0, 1], [1, 0], [0, 1]])
    with pytest.raises(ValueError, match="unique"):
        assign(pairs, np.array([0.1, 0.2, 0.3, 0.4]), 1.0)
