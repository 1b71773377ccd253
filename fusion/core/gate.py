"""Gating: candidate track/plot pairs from a k-d tree, then a chi-square test.

No dense N x M matrix is ever formed: a k-d tree over one side is queried with each
item of the other side within a per-track radius that bounds the chi-square gate
ellipse, so the work is O((N + M) log(N + M) + K) for K candidate pairs.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import chi2

from fusion.core.arrays import FloatArray, IntArray

# Build the tree over tracks instead of plots when plots are this many times fewer.
_TREE_ON_TRACKS_RATIO = 8
# Plots asked per track in one array query before falling back to a full radius query.
_KNN = 4


def chi2_gate(prob: float, dims: int) -> float:
    """Chi-square gate threshold with ``dims`` degrees of freedom holding ``prob`` mass."""
    if not 0.0 < prob < 1.0:
        raise ValueError(f"gate probability must be in (0, 1), got {prob}")
    return float(chi2.ppf(prob, dims))


def gate_radius(P_pos: FloatArray, R_pos_max: float, gate: float) -> FloatArray:
    """P_pos (N, 2, 2) m^2, largest plot variance R_pos_max m^2 -> (N,) gate radius, m.

    sqrt(gate * (lambda_max(P) + lambda_max(R))) bounds every point whose squared
    Mahalanobis distance under S = P + R is within ``gate``.
    """
    a, b, c = P_pos[:, 0, 0], P_pos[:, 1, 1], P_pos[:, 0, 1]
    lam = 0.5 * (a + b) + np.sqrt(0.25 * (a - b) ** 2 + c * c)
    return np.sqrt(gate * (lam + R_pos_max))


def _flatten(lists: np.ndarray) -> tuple[IntArray, IntArray]:
    """Object array of index lists (L,) -> (owner (K,), item (K,))."""
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    items = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(counts.sum()))
    return np.repeat(np.arange(len(lists), dtype=np.int64), counts), items


def candidate_pairs(track_pos: FloatArray, radius: FloatArray, plot_pos: FloatArray) -> IntArray:
    """track_pos (N, 2) m, radius (N,) m, plot_pos (M, 2) m -> pairs (K, 2) [track, plot].

    Every plot within ``radius[i]`` of track i is a candidate; pairs sorted by track
    (and by plot within a track when the tree is over plots).
    """
    n, m = track_pos.shape[0], plot_pos.shape[0]
    if n == 0 or m == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if m * _TREE_ON_TRACKS_RATIO < n:
        tree = cKDTree(track_pos)
        plot_idx, track_idx = _flatten(tree.query_ball_point(plot_pos, float(radius.max())))
        d2 = ((track_pos[track_idx] - plot_pos[plot_idx]) ** 2).sum(axis=1)
        keep = d2 <= radius[track_idx] ** 2
        track_idx, plot_idx = track_idx[keep], plot_idx[keep]
        order = np.argsort(track_idx, kind="stable")
        return np.stack([track_idx[order], plot_idx[order]], axis=1)
    tree = cKDTree(plot_pos)
    # Nearest _KNN plots of every track inside the largest radius come back as arrays (no
    # per-track Python lists); only tracks with _KNN plots that close can have more, and
    # only those are asked again for all plots within their radius.
    k = min(_KNN, m)
    dist, idx = tree.query(track_pos, k=k, distance_upper_bound=float(radius.max()))
    dist, idx = dist.reshape(n, k), idx.reshape(n, k)
    inside = dist <= radius[:, None]
    full = np.flatnonzero(inside[:, -1]) if k < m else np.zeros(0, dtype=np.int64)
    inside[full] = False
    track_idx = np.repeat(np.arange(n, dtype=np.int64), inside.sum(axis=1))
    plot_idx = idx[inside].astype(np.int64)
    if full.size:
        more_track, more_plot = _flatten(tree.query_ball_point(track_pos[full], radius[full]))
        track_idx = np.concatenate([track_idx, full[more_track]])
        plot_idx = np.concatenate([plot_idx, more_plot])
    order = np.lexsort((plot_idx, track_idx))
    return np.stack([track_idx[order], plot_idx[order]], axis=1)
