"""Global-nearest-neighbour assignment per connected cluster, with a miss column.

The candidate pairs form a bipartite graph; each connected component (cluster) is an
independent assignment problem. Clusters with one track or one plot are solved by
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
    if keep.size == 0:
        return Assignment(empty, np.full(pairs.shape[0], -1, dtype=np.int64), 0)
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
    groups = np.split(h, bounds) if h.size else []
    for g in groups:
        rows, r_inv = np.unique(ti[g], return_inverse=True)
        cols, c_inv = np.unique(pi[g], return_inverse=True)
        mat = np.full((rows.size, cols.size + rows.size), np.inf)
        mat[r_inv, c_inv] = cost[keep[g]]
        mat[np.arange(rows.size), cols.size + np.arange(rows.size)] = miss_cost
        r, c = linear_sum_assignment(mat)
        hit = c < cols.size
        lookup = np.full((rows.size, cols.size), -1, dtype=np.int64)
        lookup[r_inv, c_inv] = keep[g]
        chosen.append(lookup[r[hit], c[hit]])
    cluster = np.full(pairs.shape[0], -1, dtype=np.int64)
    cluster[keep] = label
    return Assignment(np.sort(np.concatenate(chosen)), cluster, len(groups))
