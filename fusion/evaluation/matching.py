"""The evaluation grid and the per-tick GOSPA assignment between truth objects and tracks.

The grid is the set of truth ticks. At each tick the tracks come from the nearest track output
tick within half an output interval, moved to the truth tick along their own velocity. Distances
are true metres in a local conformal frame built from the data's bounds. Per tick and domain,
truth objects and tracks (not tentative) are matched by the GOSPA assignment (alpha = 2, cut-off c
per domain): pairs closer than c, minimising the sum of d^p plus c^p/2 per unmatched object or
track. Candidate pairs come from a k-d tree (scipy's cKDTree), the assignment is the core's
(``fusion.core.assign``). GOSPA and OSPA use this optimum; every other metric uses the same
assignment with last tick's correspondences kept while still closer than c (CLEAR MOT,
``keep_correspondence``).

Axis letters: R truth rows, E track rows at evaluation ticks, K candidate pairs, P chosen pairs,
T evaluation ticks.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from fusion.core.arrays import expand_ranges
from fusion.core.assign import assign
from fusion.core.frame import LocalFrame
from fusion.evaluation.config import MetricsConfig
from fusion.evaluation.io import BoolArray, FloatArray, IntArray, TrackColumns, TruthColumns


def nearest(times: FloatArray, query: FloatArray) -> IntArray:
    """Index into sorted ``times`` (n >= 1,) of the nearest time to each ``query`` (Q,) -> (Q,)."""
    if times.size == 1:
        return np.zeros(query.shape, dtype=np.int64)
    j = np.clip(np.searchsorted(times, query), 1, times.size - 1)
    return np.where(query - times[j - 1] <= times[j] - query, j - 1, j).astype(np.int64)


def candidate_pairs(a_xy: FloatArray, a_slice: IntArray, b_xy: FloatArray, b_slice: IntArray, radius: float
                    ) -> tuple[IntArray, IntArray]:
    """All pairs (i, j) in the same slice with |a_xy[i] - b_xy[j]| <= radius, sorted by (i, j).

    a_xy (n, 2), b_xy (m, 2) metres; a_slice (n,), b_slice (m,) non-negative ints (a slice is
    one tick and domain). Returns (K,), (K,). One k-d tree query (scipy's cKDTree) over points
    lifted to 3-D: the slice times a spacing wider than ``radius`` is the third coordinate, an
    integer (exact in float64), so points of one slice differ by exactly 0 there and points of
    different slices by more than ``radius``.
    """
    empty = np.zeros(0, dtype=np.int64)
    if a_xy.shape[0] == 0 or b_xy.shape[0] == 0:
        return empty, empty
    spacing = float(math.ceil(2.0 * radius) + 1)
    # built once and queried once: sliding-midpoint trees without the median split or node compaction build in
    # about half the time and find the same pairs (the query is exact whatever the tree's shape)
    tree_a = cKDTree(np.column_stack([a_xy, a_slice * spacing]), balanced_tree=False, compact_nodes=False)
    tree_b = cKDTree(np.column_stack([b_xy, b_slice * spacing]), balanced_tree=False, compact_nodes=False)
    found = tree_a.sparse_distance_matrix(tree_b, radius, output_type="ndarray")
    i, j = found["i"].astype(np.int64), found["j"].astype(np.int64)
    order = np.lexsort((j, i))
    return i[order], j[order]


TIE_BREAK = 1e-7
"""Weight (in units of c^p) of the tie-break between assignments of equal GOSPA: exact ties occur when objects
share a position (boats moored together); without it which one is chosen is the solver's whim, and identity
switches would count its whims."""


SOLVE_PAIRS = 2000
"""Pairs per call of the sparse solver at most (whole groups): its cost grows faster than linearly with the
matrix (49k pairs of one 6 h corpus run in one call: 2.7 s), while clusters never span two groups."""


def assign_pairs(i: IntArray, j: IntArray, dist: FloatArray, c: FloatArray, p: float,
                 key_i: IntArray | None = None, key_j: IntArray | None = None, group: IntArray | None = None) -> BoolArray:
    """The GOSPA assignment (alpha = 2) of candidate pairs: (K,) bool, at most one pair per truth ``i`` and
    per track ``j``, minimising the sum of dist^p plus c^p/2 per unpaired truth or track.

    i, j: (K,) unique pairs, each closer than its (K,) cut-off ``c`` (one per domain; the pairs of one
    cluster share it). With n truths, m tracks and P pairs that sum is c^p (n + m)/2 + sum(dist^p - c^p),
    and c^p times sum((dist/c)^p) + (n - P): the core's GNN assignment (``fusion.core.assign``) of cost
    (dist/c)^p with a miss cost of 1 per truth. Ties are broken the same way at every tick: among equal
    sums, truths in ascending ``key_i`` (object codes; default ``i``) take tracks in ascending ``key_j``
    (track codes; default ``j``), by a cost term TIE_BREAK x (1 - u v) with u, v the keys' ranks scaled to
    (0, 1] (the sum of u v over a matching is largest when both are paired in order). ``group`` (K,): pairs of
    different groups share no truth and no track (one group per tick and domain); the solver then takes whole
    groups of at most about SOLVE_PAIRS pairs per call.
    """
    u, v = _rank_scaled(i if key_i is None else key_i), _rank_scaled(j if key_j is None else key_j)
    cost = (dist / c) ** p + TIE_BREAK * (1.0 - u * v)
    chosen = np.zeros(i.size, dtype=bool)
    usable = np.flatnonzero(cost < 1.0)  # as ``assign``: a pair costing the miss or more is never chosen
    star = _in_star(i[usable], j[usable])
    chosen[usable[_cheapest_per_star(i[usable], j[usable], cost[usable], star)]] = True
    rest = usable[~star]
    for part in _solver_chunks(rest, None if group is None else group[rest]):
        chosen[part[assign(np.column_stack([i[part], j[part]]), cost[part], 1.0).chosen]] = True
    return chosen


def keep_correspondence(obj: IntArray, track: IntArray, tick: IntArray, i: IntArray, j: IntArray, dist: FloatArray,
                        c: FloatArray, p: float, group: IntArray, optimum: BoolArray) -> BoolArray:
    """The assignment that keeps last tick's correspondences (CLEAR MOT: Bernardin and Stiefelhagen, EURASIP JIVP
    2008, section 2.1.1, "if the correspondence is still valid ... keep it"; py-motmetrics does the same): (K,) bool.

    Over K candidate pairs (each closer than its cut-off ``c``) of truth row ``i`` (object ``obj``) and track row
    ``j`` (track code ``track``) at evaluation tick ``tick`` (all (K,); ``group``: tick and domain, as for
    ``assign_pairs``): a pair chosen at tick t - 1 that is a candidate at tick t (still closer than c) is chosen at t;
    the other objects and tracks of tick t take the GOSPA assignment among themselves. ``optimum`` (K,): the plain
    per-tick GOSPA assignment (``assign_pairs``), where this starts. Ticks depend on the previous one, yet all are
    solved at once: each round fixes, at every tick, the pairs chosen at the previous tick in the last round, and
    re-solves only the groups whose fixed pairs are not chosen already or lost one; after n rounds ticks 0..n are
    final, and a round that changes nothing is the sequential result. A pair whose object and track stay on their own
    vessel changes nothing; rounds are as many as the longest run of ticks where the optimum left a kept pair.
    """
    chosen = optimum.copy()
    if obj.size == 0:
        return chosen
    n_ticks = int(tick.max()) + 2
    code = (obj * (int(track.max()) + 1) + track) * n_ticks + tick  # (object, track, tick): unique per pair
    order = np.argsort(code)
    pos = np.minimum(np.searchsorted(code[order], code - 1), code.size - 1)
    prev = np.where(code[order][pos] == code - 1, order[pos], -1)  # the same (object, track) pair at tick - 1
    has_prev = prev >= 0
    solved_fixed = np.zeros(obj.size, dtype=bool)  # the fixed pairs each group's current choice was solved with
    while True:
        fixed = has_prev & chosen[np.maximum(prev, 0)]
        stale = (fixed & ~chosen) | (solved_fixed & ~fixed)
        solved_fixed = fixed
        if not stale.any():
            return chosen
        redo = np.flatnonzero(np.isin(group, np.unique(group[stale])))
        keep = redo[fixed[redo]]
        # the objects and tracks a kept pair holds are not free for the others (truth and track rows are per tick)
        free = redo[~np.isin(i[redo], i[keep]) & ~np.isin(j[redo], j[keep])]
        chosen[redo] = False
        chosen[keep] = True
        chosen[free[assign_pairs(i[free], j[free], dist[free], c[free], p, obj[free], track[free], group[free])]] = True


def _solver_chunks(pairs: IntArray, group: IntArray | None) -> list[IntArray]:
    """``pairs`` (K,) split into runs of whole groups of about SOLVE_PAIRS pairs (one run without groups)."""
    if group is None or pairs.size <= SOLVE_PAIRS:
        return [pairs]
    order = np.argsort(group, kind="stable")
    pairs, group = pairs[order], group[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])  # first pair of each group
    cuts = np.unique(starts[np.searchsorted(starts, np.arange(SOLVE_PAIRS, pairs.size, SOLVE_PAIRS))
                            .clip(max=starts.size - 1)])
    return np.split(pairs, cuts[cuts > 0])


def _in_star(i: IntArray, j: IntArray) -> BoolArray:
    """(K,) True for the pairs of clusters with one truth or one track (the truth's tracks pair with it only, or
    the track's truths with it only): their assignment is the cheapest pair of the cluster, no solver needed."""
    if i.size == 0:
        return np.zeros(0, dtype=bool)
    deg_i, deg_j = np.bincount(i)[i], np.bincount(j)[j]
    worst_j = np.zeros(int(i.max()) + 1, dtype=np.int64)  # per truth: the most shared of its tracks
    np.maximum.at(worst_j, i, deg_j)
    worst_i = np.zeros(int(j.max()) + 1, dtype=np.int64)  # per track: the most shared of its truths
    np.maximum.at(worst_i, j, deg_i)
    return (worst_j[i] == 1) | (worst_i[j] == 1)


def _cheapest_per_star(i: IntArray, j: IntArray, cost: FloatArray, star: BoolArray) -> IntArray:
    """Indices of the chosen pairs of the one-truth and one-track clusters (``star``, (K,) from ``_in_star``) of (K,)
    pairs ``i``, ``j`` each costing less than a miss: per cluster its cheapest pair, which is the GOSPA optimum
    there (at most one of its pairs can be chosen, and any beats leaving the centre unpaired)."""
    if not star.any():
        return np.zeros(0, dtype=np.int64)
    deg_i = np.bincount(i)[i]
    # a one-truth cluster is named by its truth, a one-track cluster (several truths) by its track
    centre = np.where(deg_i[star] > 1, i[star], int(i.max()) + 1 + j[star])
    pick = np.flatnonzero(star)
    order = np.lexsort((cost[pick], centre))
    first = np.ones(order.size, dtype=bool)
    first[1:] = centre[order][1:] != centre[order][:-1]
    return np.sort(pick[order[first]])


def _rank_scaled(key: IntArray) -> FloatArray:
    """(K,) keys -> (K,) their dense rank + 1 over the number of distinct keys, in (0, 1]: ordered like the
    keys, whatever their values."""
    if key.size == 0:
        return np.zeros(0)
    values, rank = np.unique(key, return_inverse=True)
    return (rank.astype(np.float64) + 1.0) / values.size


def distinct_times(t: FloatArray) -> tuple[FloatArray, IntArray]:
    """Sorted distinct times of ``t`` (n,) and the index of each element among them, like
    ``np.unique(t, return_inverse=True)`` but without sorting when ``t`` is already in order."""
    if t.size and np.all(t[1:] >= t[:-1]):
        new = np.empty(t.size, dtype=bool)
        new[0] = True
        np.not_equal(t[1:], t[:-1], out=new[1:])
        return t[new], np.cumsum(new) - 1
    values, inverse = np.unique(t, return_inverse=True)
    return values, inverse.astype(np.int64)


def _median_step(times: FloatArray) -> float:
    steps = np.diff(times)
    return float(np.median(steps)) if steps.size else math.inf


def _frame_for(truth: TruthColumns, tracks: TrackColumns) -> LocalFrame:
    """A local frame over the data's bounds, padded by 0.05 degrees."""
    def bounds(*cols: FloatArray) -> tuple[float, float]:
        return min(float(np.nanmin(c)) for c in cols if c.size), max(float(np.nanmax(c)) for c in cols if c.size)

    (lat_lo, lat_hi), (lon_lo, lon_hi) = bounds(truth.lat, tracks.lat), bounds(truth.lon, tracks.lon)
    pad = 0.05
    return LocalFrame(max(lat_lo - pad, -89.9), min(lat_hi + pad, 89.9), max(lon_lo - pad, -180.0), min(lon_hi + pad, 180.0))


def _scale_at(frame: LocalFrame, lat: FloatArray) -> FloatArray:
    """Point scale factor k at ``lat`` (R,): the conic's k depends on latitude only."""
    grid = np.linspace(frame.lat_min, frame.lat_max, 257)
    k = frame.scale(grid, np.full_like(grid, 0.5 * (frame.lon_min + frame.lon_max)))
    return np.interp(lat, grid, k)


@dataclass(frozen=True)
class Matching:
    """The per-tick assignments between truth rows and track rows, shared by every metric.

    ticks: (T,) evaluation times. truth_tick: (R,) tick index per truth row.
    track_row: (E,) index into TrackColumns of each track row used; track_tick: (E,).
    pair_truth, pair_track: (P,) indices into the truth rows and the E track rows: the assignment keeping last
    tick's correspondences (``keep_correspondence``).
    err_en_m: (P, 2) track minus truth position, true metres. dist_m: (P,).
    gospa_pair_truth: (G,) truth rows of the plain per-tick GOSPA optimum, gospa_dist_m: (G,) its distances (GOSPA
    and OSPA are minima over assignments: they use these).
    """

    ticks: FloatArray
    truth_tick: IntArray
    track_row: IntArray
    track_tick: IntArray
    pair_truth: IntArray
    pair_track: IntArray
    err_en_m: FloatArray
    dist_m: FloatArray
    gospa_pair_truth: IntArray
    gospa_dist_m: FloatArray
    truth_interval_s: float
    track_interval_s: float


def match(truth: TruthColumns, tracks: TrackColumns, config: MetricsConfig, domains: list[str], *,
          workers: int | None = None) -> Matching:
    """Build the evaluation grid and solve the GOSPA assignment at every tick and domain."""
    ticks, truth_tick = distinct_times(truth.t)
    truth_interval = _median_step(ticks)
    scored = np.isin(tracks.status, [i for i, s in enumerate(tracks.statuses) if s in config.statuses])
    scored_rows = np.flatnonzero(scored)
    if np.any(np.diff(tracks.t[scored_rows]) < 0.0):  # files are written in time order; others are sorted here
        scored_rows = scored_rows[np.argsort(tracks.t[scored_rows], kind="stable")]
    out_times, out_index = distinct_times(tracks.t[scored_rows])
    counts = np.bincount(out_index, minlength=out_times.size)
    starts = np.cumsum(counts) - counts
    all_out, _ = distinct_times(tracks.t)
    track_interval = _median_step(all_out) if all_out.size > 1 else truth_interval
    track_tick, track_row = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if out_times.size:
        j = nearest(out_times, ticks)
        ok = np.abs(out_times[j] - ticks) <= 0.5 * track_interval + 1e-9
        owner, pos = expand_ranges(starts[j[ok]], counts[j[ok]])
        track_tick = np.flatnonzero(ok)[owner]
        track_row = scored_rows[pos]
    frame = _frame_for(truth, tracks)
    cutoff = np.array([config.cutoff(d, "tracks/truth") for d in domains])
    # ticks are independent: blocks of ticks are matched in threads (numpy and PROJ release the GIL)
    n_blocks = max(1, min(workers or len(os.sched_getaffinity(0)), ticks.size))
    edges = np.searchsorted(np.cumsum(np.bincount(truth_tick, minlength=ticks.size)),
                            np.linspace(0, truth.t.size, n_blocks + 1)[1:-1])
    blocks = [(np.flatnonzero((truth_tick >= lo) & (truth_tick < hi)), np.flatnonzero((track_tick >= lo) & (track_tick < hi)))
              for lo, hi in zip([0, *edges.tolist()], [*edges.tolist(), ticks.size], strict=True)]

    def block(b: tuple[IntArray, IntArray], own: LocalFrame) -> tuple[IntArray, IntArray, FloatArray, FloatArray, BoolArray]:
        return _match_block(b[0], b[1], ticks, truth_tick, track_tick, track_row, truth, tracks, own, cutoff, config.p,
                            len(domains))

    if n_blocks == 1:  # in this thread: no pool to start, no second frame to build, and profilers see the work
        parts = [block(blocks[0], frame)]
    else:  # PROJ objects are not shared between threads: a frame of its own per block (~0.1 s each to build)
        with ThreadPoolExecutor(n_blocks) as pool:
            parts = list(pool.map(lambda b: block(b, LocalFrame(frame.lat_min, frame.lat_max, frame.lon_min,
                                                                 frame.lon_max)), blocks))
    i, j, err, dist, optimum = (np.concatenate([part[k] for part in parts]) for k in range(5))
    err = err.reshape(-1, 2)
    dom = truth.domain[i]
    chosen = keep_correspondence(truth.obj[i], tracks.track[track_row[j]], truth_tick[i], i, j, dist, cutoff[dom],
                                 config.p, truth_tick[i] * len(domains) + dom, optimum)
    return Matching(ticks, truth_tick, track_row, track_tick, i[chosen], j[chosen], err[chosen], dist[chosen],
                    i[optimum], dist[optimum], truth_interval, track_interval)


def _match_block(rows: IntArray, expanded: IntArray, ticks: FloatArray, truth_tick: IntArray, track_tick: IntArray,
                 track_row: IntArray, truth: TruthColumns, tracks: TrackColumns, frame: LocalFrame, cutoff: FloatArray,
                 p: float, n_dom: int) -> tuple[IntArray, IntArray, FloatArray, FloatArray, BoolArray]:
    """The candidate pairs and GOSPA assignment for the truth rows ``rows`` and expanded track rows ``expanded`` of a
    block of ticks, projected with ``frame`` (the calling thread's own).

    Returns the K candidate pairs closer than their cut-off as (truth row, expanded track row), their (K * 2,)
    east/north error (true metres, flattened), (K,) distance and (K,) whether the per-tick optimum chose them.
    """
    lat, lon = truth.lat[rows], truth.lon[rows]
    te, tn = frame.to_local(lat, lon)
    k_truth = _scale_at(frame, lat)
    src = track_row[expanded]
    re_, rn = frame.to_local(tracks.lat[src], tracks.lon[src])
    k_track = _scale_at(frame, tracks.lat[src])
    dt = ticks[track_tick[expanded]] - tracks.t[src]
    ve, vn = tracks.vel_e_mps[src], tracks.vel_n_mps[src]
    moving = np.isfinite(ve) & np.isfinite(vn)
    re_ = re_ + np.where(moving, ve * k_track * dt, 0.0)
    rn = rn + np.where(moving, vn * k_track * dt, 0.0)
    truth_domain = truth.domain[rows]
    # projected distances are k (about 1 +- 0.01) times the true ones; widen the radius to match
    radius = float(cutoff.max()) * (float(k_truth.max()) if k_truth.size else 1.0)
    i, j = candidate_pairs(np.column_stack([te, tn]), truth_tick[rows] * n_dom + truth_domain,
                           np.column_stack([re_, rn]), track_tick[expanded] * n_dom + tracks.domain[src], radius)
    err = np.column_stack([re_[j] - te[i], rn[j] - tn[i]]) / k_truth[i, None]
    dist = np.hypot(err[:, 0], err[:, 1])
    c_pair = cutoff[truth_domain[i]]
    near = dist < c_pair
    i, j, err, dist, c_pair = i[near], j[near], err[near], dist[near], c_pair[near]
    chosen = assign_pairs(i, j, dist, c_pair, p, truth.obj[rows[i]], tracks.track[src[j]],
                          group=truth_tick[rows[i]] * n_dom + truth_domain[i])
    return rows[i], expanded[j], err.ravel(), dist, chosen
