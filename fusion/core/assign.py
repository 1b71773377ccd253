"""Global-nearest-neighbour assignment with a miss column.

The candidate pairs form a bipartite graph whose connected components (clusters) are
independent assignment problems. A pair sharing its track and plot with no other pair
is a cluster of its own and is taken at once (the common case when targets are sparse).
All the other pairs go to one sparse assignment, solved by scipy's
``min_weight_full_bipartite_matching`` (LAPJVsp) on a tracks x (plots + tracks) matrix
whose extra block holds each track's miss cost on its diagonal: every problem is
feasible, a track takes a plot only when that is cheaper than a miss, and the optimum of
the whole matrix is the optimum of each cluster (clusters share no row or column), so
the clusters need neither labelling nor a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.core.arrays import FloatArray, IntArray

# The matching reads a sparse matrix, where an explicit zero is no edge: a pair costing
# exactly 0 weighs this instead (far below any cost difference, so the optimum is the same).
_TINY = float(np.finfo(np.float64).tiny)


@dataclass(frozen=True)
class Assignment:
    """Result of one assignment.

    chosen:   (A,) indices into the candidate pairs that were assigned, sorted
    """

    chosen: IntArray


def assign(pairs: IntArray, cost: FloatArray, miss_cost: float) -> Assignment:
    """pairs (K, 2) unique [track, plot] indices, cost (K,) -> GNN Assignment.

    Pairs costing ``miss_cost`` or more are never chosen. Among assignments of equal
    total cost (exact ties), which one is returned is the solver's choice.
    """
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must be (K, 2), got {pairs.shape}")
    if cost.shape != (pairs.shape[0],):
        raise ValueError(f"cost must be ({pairs.shape[0]},), got {cost.shape}")
    if np.isnan(cost).any():
        raise ValueError("cost contains NaN")
    keep = np.flatnonzero(cost < miss_cost)
    if keep.size == 0:
        return Assignment(keep)
    t, p = pairs[keep, 0], pairs[keep, 1]
    lone = (np.bincount(t)[t] == 1) & (np.bincount(p)[p] == 1)
    alone = keep[lone]
    keep = keep[~lone]
    if keep.size == 0:
        return Assignment(alone)
    _, ti = np.unique(pairs[keep, 0], return_inverse=True)  # dense row and column numbers
    _, pi = np.unique(pairs[keep, 1], return_inverse=True)
    nt, npl = int(ti.max()) + 1, int(pi.max()) + 1
    key = ti * npl + pi  # row-major position of each pair
    order = np.argsort(key)
    key, keep, ti, pi = key[order], keep[order], ti[order], pi[order]
    if (key[1:] == key[:-1]).any():
        raise ValueError("pairs must be unique")
    # The CSR arrays written directly (scipy's COO -> CSR conversion costs more than the
    # solve here): row i holds its pairs by column, then its miss column npl + i.
    indptr = np.zeros(nt + 1, dtype=np.int64)
    np.cumsum(np.bincount(ti, minlength=nt) + 1, out=indptr[1:])
    at, end = np.arange(key.size) + ti, indptr[1:] - 1  # slots of the pairs and of the misses
    weight, column = np.empty(key.size + nt), np.empty(key.size + nt, dtype=np.int64)
    weight[at], column[at] = np.where(cost[keep] == 0.0, _TINY, cost[keep]), pi
    weight[end], column[end] = miss_cost, npl + np.arange(nt)
    # imported here: scipy.sparse.csgraph costs ~0.3 s, which a run whose clusters are all lone pairs never pays
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    r, c = min_weight_full_bipartite_matching(csr_array((weight, column, indptr), shape=(nt, npl + nt)))
    hit = c < npl  # every track row is matched once: to a plot or to its miss
    won = keep[np.searchsorted(key, r[hit] * npl + c[hit])]
    return Assignment(np.sort(np.concatenate([alone, won])))
