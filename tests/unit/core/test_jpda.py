"""JPDA marginals and the PDAF update (fusion/core/jpda.py) against brute force and the
textbook formulas."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.core import kalman
from fusion.core.jpda import EXACT_MAX, marginals, mixture_update

_H = np.hstack([np.eye(2), np.zeros((2, 2))])


def brute_force(track: np.ndarray, plot: np.ndarray, log_r: np.ndarray, log_miss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Marginals by enumerating every joint event (tracks x (plots + miss), no plot twice)."""
    n = log_miss.size
    index = {(int(t), int(p)): k for k, (t, p) in enumerate(zip(track, plot, strict=True))}
    gated = [[None, *sorted(int(p) for p in plot[track == t])] for t in range(n)]
    beta, beta0, total = np.zeros(track.size), np.zeros(n), 0.0
    for event in itertools.product(*gated):
        taken = [p for p in event if p is not None]
        if len(taken) != len(set(taken)):
            continue
        w = float(np.exp(sum(log_miss[t] if p is None else log_r[index[(t, p)]] for t, p in enumerate(event))))
        total += w
        for t, p in enumerate(event):
            if p is None:
                beta0[t] += w
            else:
                beta[index[(t, p)]] += w
    return beta / total, beta0 / total


@st.composite
def clusters(draw: st.DrawFn, max_tracks: int = 4, max_plots: int = 4) -> tuple[np.ndarray, ...]:
    n = draw(st.integers(1, max_tracks))
    m = draw(st.integers(1, max_plots))
    cells = [(t, p) for t in range(n) for p in range(m)]
    keep = draw(st.lists(st.booleans(), min_size=len(cells), max_size=len(cells)))
    pairs = np.array([c for c, k in zip(cells, keep, strict=True) if k], dtype=np.int64).reshape(-1, 2)
    log_r = np.array(draw(st.lists(st.floats(-8, 8), min_size=len(pairs), max_size=len(pairs))), dtype=float)
    log_miss = np.array(draw(st.lists(st.floats(-5, 0), min_size=n, max_size=n)), dtype=float)
    return pairs[:, 0], pairs[:, 1], log_r, log_miss


@settings(max_examples=150, deadline=None)
@given(clusters())
def test_marginals_equal_brute_force_on_small_clusters(c: tuple[np.ndarray, ...]) -> None:
    track, plot, log_r, log_miss = c
    got = marginals(track, plot, log_r, log_miss)
    beta, beta0 = brute_force(track, plot, log_r, log_miss)
    np.testing.assert_allclose(got.beta, beta, atol=1e-9)
    np.testing.assert_allclose(got.beta0, beta0, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(clusters(6, 7))
def test_probabilities_sum_to_one_per_track_and_at_most_one_per_plot(c: tuple[np.ndarray, ...]) -> None:
    track, plot, log_r, log_miss = c
    got = marginals(track, plot, log_r, log_miss)
    per_track = got.beta0 + np.bincount(track, weights=got.beta, minlength=log_miss.size)
    np.testing.assert_allclose(per_track, 1.0, atol=1e-9)
    assert (np.bincount(plot, weights=got.beta) <= 1.0 + 1e-9).all()
    assert (got.beta >= 0).all() and (got.beta0 >= 0).all()


@settings(max_examples=100, deadline=None)
@given(clusters(5, 5), st.lists(st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308, 800.0]), min_size=1, max_size=3))
def test_finite_on_any_input(c: tuple[np.ndarray, ...], bad: list[float]) -> None:
    track, plot, log_r, log_miss = c
    log_r = log_r.copy()
    log_r[: len(bad)] = bad[: log_r.size]
    got = marginals(track, plot, log_r, log_miss)
    assert np.isfinite(got.beta).all() and np.isfinite(got.beta0).all()
    per_track = got.beta0 + np.bincount(track, weights=got.beta, minlength=log_miss.size)
    np.testing.assert_allclose(per_track, 1.0, atol=1e-9)


def test_large_tree_cluster_belief_propagation_is_exact() -> None:
    """A chain of 8 tracks and 9 plots (track i gates plots i and i + 1) is beyond the exact
    enumeration, and a tree: belief propagation is exact on it."""
    n = EXACT_MAX + 2
    track = np.repeat(np.arange(n), 2)
    plot = track + np.tile([0, 1], n)
    rng = np.random.default_rng(3)
    log_r, log_miss = rng.normal(0.0, 2.0, track.size), np.full(n, np.log(0.1))
    got = marginals(track, plot, log_r, log_miss)
    beta, beta0 = brute_force(track, plot, log_r, log_miss)
    np.testing.assert_allclose(got.beta, beta, atol=1e-7)
    np.testing.assert_allclose(got.beta0, beta0, atol=1e-7)


def test_large_loopy_cluster_belief_propagation_is_close() -> None:
    """7 tracks x 8 plots with loops: belief propagation within 0.05 of the exact marginals
    (Williams & Lau 2014 report errors of a few 1e-2 on dense loops; 0.021 here)."""
    rng = np.random.default_rng(0)
    cells = np.array([(t, p) for t in range(7) for p in range(8) if rng.random() < 0.45])
    log_r, log_miss = rng.normal(0.0, 2.0, len(cells)), np.full(7, np.log(0.1))
    got = marginals(cells[:, 0], cells[:, 1], log_r, log_miss)
    beta, beta0 = brute_force(cells[:, 0], cells[:, 1], log_r, log_miss)
    assert np.abs(got.beta - beta).max() < 0.05
    assert np.abs(got.beta0 - beta0).max() < 0.05


def _predicted(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(0.0, 100.0, (n, 4))
    A = rng.normal(0.0, 1.0, (n, 4, 4))
    return x, A @ np.swapaxes(A, 1, 2) * 400.0 + np.eye(4) * 100.0


def test_single_isolated_pair_with_certain_association_is_the_kalman_update() -> None:
    rng = np.random.default_rng(1)
    x, P = _predicted(1, rng)
    z, R = x[:, :2] + 30.0, np.eye(2)[None] * 2500.0
    xk, Pk, _ = kalman.update(x, P, z, _H, R)
    got = marginals(np.array([0]), np.array([0]), np.array([700.0]), np.array([np.log(0.1)]))
    assert got.beta[0] == 1.0 and got.beta0[0] == 0.0
    xu, Pu = mixture_update(np.array([0]), got.beta, got.beta0, x, P, xk, Pk)
    np.testing.assert_allclose(xu, xk, rtol=1e-12)
    np.testing.assert_allclose(Pu, Pk, rtol=1e-9)


def test_mixture_update_equals_the_combined_innovation_pdaf_with_spread_term() -> None:
    """Three plots in one track's gate, common R: the mixture of the per-plot updates is the
    PDAF update x + K nu, beta0 P + (1 - beta0) P_kf + K (sum beta nu nu' - nu nu') K'
    (Bar-Shalom, Daum & Huang 2009, eq. 33-37)."""
    rng = np.random.default_rng(2)
    x, P = _predicted(1, rng)
    R = np.eye(2) * 2500.0
    z = x[:, :2] + rng.normal(0.0, 60.0, (3, 2))
    beta = np.array([0.5, 0.2, 0.1])
    beta0 = np.array([0.2])
    xk, Pk, _ = kalman.update(np.repeat(x, 3, 0), np.repeat(P, 3, 0), z, _H, np.repeat(R[None], 3, 0))
    xu, Pu = mixture_update(np.zeros(3, dtype=np.int64), beta, beta0, x, P, xk, Pk)
    S = _H @ P[0] @ _H.T + R
    K = P[0] @ _H.T @ np.linalg.inv(S)
    nus = z - x[0, :2]
    nu = beta @ nus
    spread = (beta[:, None, None] * nus[:, :, None] * nus[:, None, :]).sum(0) - np.outer(nu, nu)
    P_kf = P[0] - K @ S @ K.T
    np.testing.assert_allclose(xu[0], x[0] + K @ nu, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(Pu[0], beta0[0] * P[0] + (1 - beta0[0]) * P_kf + K @ spread @ K.T, rtol=1e-7, atol=1e-6)


def test_mixture_update_with_model_axis() -> None:
    """Batch axes between the pair axis and the state (IMM models) are updated model by model."""
    rng = np.random.default_rng(4)
    x, P = _predicted(2, rng)
    xm, Pm = np.stack([x, x + 1.0], axis=1), np.stack([P, P * 2.0], axis=1)  # (2, 2 models, 4)
    track = np.array([0, 0, 1])
    beta, beta0 = np.array([0.3, 0.6, 0.5]), np.array([0.1, 0.5])
    xk, Pk = xm[track] + rng.normal(0.0, 5.0, (3, 2, 4)), Pm[track] * 0.5
    xu, Pu = mixture_update(track, beta, beta0, xm, Pm, xk, Pk)
    for model in range(2):
        xo, Po = mixture_update(track, beta, beta0, xm[:, model], Pm[:, model], xk[:, model], Pk[:, model])
        np.testing.assert_allclose(xu[:, model], xo)
        np.testing.assert_allclose(Pu[:, model], Po)
