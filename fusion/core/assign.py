"""Global-nearest-neighbour assignment per connected cluster, with a miss column.

The candidate pairs form a bipartite graph; each connected component (cluster) is an
independent assignment problem. A pair sharing its track and plot with no other pair
is taken at once (no graph); clusters with one track or one plot are solved by
taking their cheapest pair, all at once with numpy; only clusters with at least two
tracks and two plots go to scipy's ``linear_sum_assignment``, on a tracks x (plots +
tracks) matrix whose extra block holds each track's miss cost on its diagonal, so that
every problem is feasible and a track takes a plot only when that is cheaper than a miss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from fusion.core.arrays import FloatArray, IntArray


@dataclass(frozen=True)
class Assignment:
    """Result of one assignment.

    chosen:   (A,) indices into the candidate pairs that were assigned
    cluster:  (K,) cluster label of every candidate pair
    solved:   number of clusters that needed the solver
    """

    chosen: IntArray
    cluster: IntArray
    solved: int


def assign(pairs: IntArray, cost: FloatArray, miss_cost: float) -> Assignment:
    """pairs (K, 2) [track, plot] indices, cost (K,) -> GNN Assignment.

    Pairs costing ``miss_cost`` or more are never chosen; ties break by pair order.
    """
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must be (K, 2), got {pairs.shape}")
    if cost.shape != (pairs.shape[0],):
        raise ValueError(f"cost must be ({pairs.shape[0]},), got {cost.shape}")
    if np.isnan(cost).any():
        raise ValueError("cost contains NaN")
    keep = np.flatnonzero(cost < miss_cost)
    empty = np.zeros(0, dtype=np.int64)
    cluster = np.full(pairs.shape[0], -1, dtype=np.int64)
    if keep.size == 0:
        return Assignment(empty, cluster, 0)
    # A pair whose track and plot are in no other pair is a cluster of its own: it is taken
    # (the common case when targets are sparse), without building the graph.
    t, p = pairs[keep, 0], pairs[keep, 1]
    lone = (np.bincount(t)[t] == 1) & (np.bincount(p)[p] == 1)
    alone = keep[lone]
    keep = keep[~lone]
    if keep.size == 0:
        cluster[alone] = np.arange(alone.size)
        return Assignment(alone, cluster, 0)
    tracks, ti = np.unique(pairs[keep, 0], return_inverse=True)
    plots, pi = np.unique(pairs[keep, 1], return_inverse=True)
    nt = tracks.size
    graph = coo_matrix((np.ones(keep.size), (ti, pi + nt)), shape=(nt + plots.size,) * 2)
    _, labels = connected_components(graph, directed=False)
    label = labels[ti]
    n_tracks = np.bincount(labels[:nt], minlength=labels.max() + 1)
    n_plots = np.bincount(labels[nt:], minlength=labels.max() + 1)
    simple = np.minimum(n_tracks, n_plots)[label] == 1

    # Clusters with one track or one plot: the cheapest pair wins.
    s = np.flatnonzero(simple)
    order = s[np.lexsort((cost[keep[s]], label[s]))]
    first = np.ones(order.size, dtype=bool)
    first[1:] = label[order[1:]] != label[order[:-1]]
    chosen = [keep[order[first]]]

    # Real clusters: one dense problem each, with the miss block.
    h = np.flatnonzero(~simple)
    h = h[np.argsort(label[h], kind="stable")]
    bounds = np.flatnonzero(np.diff(label[h])) + 1
    starts = np.r_[0, bounds] if h.size else np.zeros(0, dtype=np.int64)
    stops = np.r_[bounds, h.size] if h.size else np.zeros(0, dtype=np.int64)
    # Local row / column of every pair inside its cluster (the ranks np.unique would give),
    # computed for all clusters at once so that the loop only fills and solves.
    r_local, n_rows = _local_rank(label[h], ti[h])
    c_local, n_cols = _local_rank(label[h], pi[h])
    cost_h, keep_h = cost[keep[h]], keep[h]
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        r_inv, c_inv = r_local[a:b], c_local[a:b]
        nr, nc = int(n_rows[a]), int(n_cols[a])
        mat = np.full((nr, nc + nr), np.inf)
        mat[r_inv, c_inv] = cost_h[a:b]
        mat[np.arange(nr), nc + np.arange(nr)] = miss_cost
        r, c = linear_sum_assignment(mat)
        hit = c < nc
        lookup = np.full((nr, nc), -1, dtype=np.int64)
        lookup[r_inv, c_inv] = keep_h[a:b]
        chosen.append(lookup[r[hit], c[hit]])
    cluster[keep] = label
    cluster[alone] = labels.max() + 1 + np.arange(alone.size)
    return Assignment(np.sort(np.concatenate([alone, *chosen])), cluster, int(starts.size))


def _local_rank(group: IntArray, value: IntArray) -> tuple[IntArray, IntArray]:
    """group (L,) sorted labels, value (L,) -> rank of each value among the distinct values
    of its group (L,), and the number of distinct values of its group (L,)."""
    if group.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.lexsort((value, group))
    g, v = group[order], value[order]
    new_group = np.r_[True, g[1:] != g[:-1]]
    new_value = new_group | np.r_[True, v[1:] != v[:-1]]
    dense = np.cumsum(new_value) - 1  # global dense rank over (group, value)
    first = np.maximum.accumulate(np.where(new_group, dense, 0))  # dense rank of the group's first value
    rank = np.empty(group.size, dtype=np.int64)
    rank[order] = dense - first
    last = np.r_[np.flatnonzero(new_group)[1:], g.size] - 1  # last element of each group
    count = (dense[last] - first[last] + 1)[np.cumsum(new_group) - 1]
    n = np.empty(group.size, dtype=np.int64)
    n[order] = count
    return rank, n
