"""Gating: candidate track/plot pairs from a uniform grid (or a k-d tree), then a
chi-square test.

No dense N x M matrix is ever formed. Plots are binned into a uniform grid of about M
cells (cell side at least the median gate radius); each track visits the cells its
square [x - r, x + r] x [y - r, y + r] overlaps, so the work is O(N + M + C) for C
candidates, all in array operations. When the density is so uneven that the grid would
visit many more candidates than items, a k-d tree over one side is queried instead:
O((N + M) log(N + M) + K) for K pairs.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import chi2

from fusion.core.arrays import FloatArray, IntArray

# The grid is used while it visits at most this many cells, and candidates, per item.
_GRID_VISITS_PER_ITEM = 16
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

    Every plot within ``radius[i]`` of track i is a candidate; pairs sorted by track,
    then by plot. A track whose position or radius is not finite gates nothing (the
    tracker deletes such a track before it gets here; this keeps the index safe).
    """
    n, m = track_pos.shape[0], plot_pos.shape[0]
    if n == 0 or m == 0:
        return np.zeros((0, 2), dtype=np.int64)
    finite = np.isfinite(radius) & np.isfinite(track_pos).all(axis=1)
    if not finite.all():
        keep = np.flatnonzero(finite)
        pairs = candidate_pairs(track_pos[keep], radius[keep], plot_pos)
        pairs[:, 0] = keep[pairs[:, 0]]  # keep is increasing: still sorted
        return pairs
    track_idx, plot_idx = _grid_pairs(track_pos, radius, plot_pos)
    if track_idx is None or plot_idx is None:
        track_idx, plot_idx = _tree_pairs(track_pos, radius, plot_pos)
    dx = track_pos[:, 0][track_idx] - plot_pos[:, 0][plot_idx]
    dy = track_pos[:, 1][track_idx] - plot_pos[:, 1][plot_idx]
    within = dx * dx + dy * dy <= radius[track_idx] ** 2
    track_idx, plot_idx = track_idx[within], plot_idx[within]
    key = track_idx * m + plot_idx
    if (key[1:] < key[:-1]).any():  # often sorted already (one candidate per track)
        order = np.argsort(key, kind="stable")
        track_idx, plot_idx = track_idx[order], plot_idx[order]
    return np.stack([track_idx, plot_idx], axis=1)


def _expand(owner: IntArray, start: IntArray, count: IntArray) -> tuple[IntArray, IntArray]:
    """Ranges [start, start + count) of each owner (L,) -> (owner (C,), value (C,)), C = sum(count)."""
    total = int(count.sum())
    first = np.cumsum(count) - count
    offset = np.arange(total, dtype=np.int64) - np.repeat(first, count)
    return np.repeat(owner, count), np.repeat(start, count) + offset


def _grid_pairs(
    track_pos: FloatArray, radius: FloatArray, plot_pos: FloatArray
) -> tuple[IntArray, IntArray] | tuple[None, None]:
    """Candidate (track (C,), plot (C,)) from a uniform grid over the plots: a superset of
    the pairs within radius. (None, None) when the grid would visit too many cells or
    candidates (very uneven density, or a huge radius)."""
    n, m = track_pos.shape[0], plot_pos.shape[0]
    if not np.isfinite(radius).all():
        return None, None
    limit = _GRID_VISITS_PER_ITEM * (n + m)
    lo = plot_pos.min(axis=0)
    span = plot_pos.max(axis=0) - lo
    # at most about 3 M cells: side >= sqrt(area / M) and >= longest side / M
    cell = max(float(np.median(radius)), float(np.sqrt(span[0] * span[1] / m)), float(span.max()) / m, 1e-6)
    nx, ny = int(span[0] // cell) + 1, int(span[1] // cell) + 1
    pc = ((plot_pos - lo) * (1.0 / cell)).astype(np.int64)  # >= 0: truncation is floor
    plot_cell = np.minimum(pc[:, 0], nx - 1) * ny + np.minimum(pc[:, 1], ny - 1)
    by_cell = np.argsort(plot_cell)
    count = np.bincount(plot_cell, minlength=nx * ny)
    start = np.cumsum(count) - count
    # cells overlapped by each track's square, clipped to the grid
    finite = np.isfinite(track_pos[:, 0]) & np.isfinite(track_pos[:, 1])  # a NaN position gates nothing
    pos = np.where(finite[:, None], track_pos, lo)
    a = np.floor((pos - radius[:, None] - lo) / cell)
    b = np.floor((pos + radius[:, None] - lo) / cell)
    a = np.maximum(a, 0).astype(np.int64)
    b = np.minimum(b, [nx - 1, ny - 1]).astype(np.int64)
    kx, ky = np.maximum(b[:, 0] - a[:, 0] + 1, 0), np.maximum(b[:, 1] - a[:, 1] + 1, 0)
    visits = np.where(finite, kx * ky, 0)
    if int(visits.sum()) > limit:
        return None, None
    tr, j = _expand(np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64), visits)
    cells = (a[tr, 0] + j // ky[tr]) * ny + a[tr, 1] + j % ky[tr]
    if int(count[cells].sum()) > limit:
        return None, None
    track_idx, slot = _expand(tr, start[cells], count[cells])
    return track_idx, by_cell[slot]


def _tree_pairs(track_pos: FloatArray, radius: FloatArray, plot_pos: FloatArray) -> tuple[IntArray, IntArray]:
    """Candidate (track (C,), plot (C,)) from a k-d tree: a superset of the pairs within radius."""
    n, m = track_pos.shape[0], plot_pos.shape[0]
    if m * _TREE_ON_TRACKS_RATIO < n:
        tree = cKDTree(track_pos)
        plot_idx, track_idx = _flatten(tree.query_ball_point(plot_pos, float(radius.max())))
        return track_idx, plot_idx
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
    return track_idx, plot_idx
