"""Gate stage: candidate track/plot pairs from a uniform grid (or a k-d tree), then a
chi-square test on each pair's own prediction and a physical reach bound.

No dense N x M matrix is ever formed. Plots are binned into a uniform grid of about M
cells (cell side at least the median gate radius); each track visits the cells its
square [x - r, x + r] x [y - r, y + r] overlaps, so the work is O(N + M + C) for C
candidates, all in array operations. When the density is so uneven that the grid would
visit many more candidates than items, a k-d tree over one side is queried instead:
O((N + M) log(N + M) + K) for K pairs.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import numpy as np

from fusion.core import kalman
from fusion.core.arrays import (
    TENTATIVE,
    BoolArray,
    FloatArray,
    IntArray,
    MeasBatch,
    column_bounds,
    meas_R,
    meas_z,
    rows_finite,
)
from fusion.core.predict import EMPTY_INT, PairIndex, Pairs, predict_pairs, predict_position, predict_runs

if TYPE_CHECKING:
    from fusion.core.table import TrackTable

_EYE2 = np.eye(2)
_H_FULL = np.eye(4)

# The grid is used while it visits at most this many cells, and candidates, per item.
_GRID_VISITS_PER_ITEM = 16
# Build the tree over tracks instead of plots when plots are this many times fewer.
_TREE_ON_TRACKS_RATIO = 8
# Plots asked per track in one array query before falling back to a full radius query.
_KNN = 4


def chi2_gate(prob: float, dims: int) -> float:
    """Chi-square gate threshold with ``dims`` degrees of freedom holding ``prob`` mass.

    The quantile x with P(dims/2, x/2) = prob (regularised lower incomplete gamma): in closed
    form for 2 dimensions (-2 ln(1 - prob)), otherwise by safeguarded Newton steps on the
    survival function, itself in closed form for integer dimensions (Abramowitz & Stegun
    26.4.4 / 26.4.5: Q(k/2, u) = e^-u sum u^j / j! for even k, erfc(sqrt u) + a finite sum
    for odd k). Matches scipy.stats.chi2.ppf to a few ulps (tests/unit/core/test_gate.py)
    without importing scipy.stats (half a second: issue 15 item 6).
    """
    if not 0.0 < prob < 1.0:
        raise ValueError(f"gate probability must be in (0, 1), got {prob}")
    if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
        raise ValueError(f"gate dimensions must be a positive integer, got {dims!r}")
    if dims == 2:
        return -2.0 * math.log1p(-prob)
    q = 1.0 - prob
    log_norm = 0.5 * dims * math.log(2.0) + math.lgamma(0.5 * dims)
    lo, hi = 0.0, float(dims)
    while _chi2_sf(hi, dims) > q:
        lo, hi = hi, 2.0 * hi
    x = 0.5 * (lo + hi)
    for _ in range(100):
        sf = _chi2_sf(x, dims)
        if sf > q:
            lo = x
        else:
            hi = x
        pdf = math.exp((0.5 * dims - 1.0) * math.log(x) - 0.5 * x - log_norm)
        nxt = x + (sf - q) / pdf  # d sf / dx = -pdf
        if not lo <= nxt <= hi:
            nxt = 0.5 * (lo + hi)
        if nxt == x:
            break
        x = nxt
    return x


def _chi2_sf(x: float, dims: int) -> float:
    """Survival function of the chi-square distribution with integer ``dims`` at x > 0."""
    u = 0.5 * x
    if dims % 2 == 0:  # Q(m, u) = e^-u sum_{j<m} u^j / j!
        term = total = math.exp(-u)
        for j in range(1, dims // 2):
            term *= u / j
            total += term
        return total
    total = math.erfc(math.sqrt(u))  # Q(1/2, u); Q(a + 1, u) = Q(a, u) + u^a e^-u / Gamma(a + 1)
    term = math.exp(-u) * math.sqrt(u) / math.gamma(1.5)
    for j in range(1, (dims + 1) // 2):
        total += term
        term *= u / (j + 0.5)
    return total


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
    finite = np.isfinite(radius) & rows_finite(track_pos)
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
    lo, hi = column_bounds(plot_pos)
    span = hi - lo
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
    from scipy.spatial import cKDTree  # only for very uneven densities: scipy.spatial costs ~0.3 s to import

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


# ---------------------------------------------------------------------- the stage over a track table


def gate_pairs(
    tab: TrackTable, batch: MeasBatch, free_track: BoolArray, free_meas: BoolArray, adopt: BoolArray,
    keyname: str | None, none_key: int,
) -> tuple[Pairs, FloatArray, IntArray]:
    """Pairs of free tracks (mask over the table's rows) and free rows of ``batch`` (mask (M,))
    that pass the chi-square gate and the reach bound -> (pairs (K), cost d2/gate (K,),
    rows dropped as non-finite).

    Tentative tracks gate at ``confirm_gate_prob``, the others at ``gate_prob``; a row with a
    new identity (``adopt``) may not pair with a track holding another one (column
    ``keyname``). A track whose predicted position or gate radius is not finite gates
    nothing and is returned for deletion (the guard; not expected).
    """
    a, mod = tab.cols, tab.mod
    meas = np.flatnonzero(free_meas)
    tb, t0 = float(batch.t.max()), float(batch.t.min())
    none = predict_pairs(tab, EMPTY_INT, EMPTY_INT, batch), np.zeros(0), EMPTY_INT
    if tab.rows == 0 or meas.size == 0:
        return none
    Rp = batch.R_pos if meas.size == len(batch) else batch.R_pos[meas]
    a00, a11, a01 = Rp[:, 0, 0], Rp[:, 1, 1], Rp[:, 0, 1]
    r_max = float((0.5 * (a00 + a11) + np.sqrt(0.25 * (a00 - a11) ** 2 + a01 * a01)).max())  # lambda_max(R_pos)
    spread = mod.pool.max_speed_mps * (tb - t0)
    z_pos = batch.z_pos if meas.size == len(batch) else batch.z_pos[meas]
    tracks = reachable(tab, free_track, tb, z_pos, r_max, spread)
    if tracks.size == 0:
        return none
    pos, P_pos = predict_position(tab, tracks, np.maximum(tb - a["t"][tracks], 0.0))
    radius = gate_radius(P_pos, r_max, mod.gate[4]) + spread
    finite = np.isfinite(radius) & rows_finite(pos)
    bad = EMPTY_INT
    if not finite.all():  # the guard: no non-finite state reaches the grid
        bad = tracks[~finite]
        tracks, pos, radius = tracks[finite], pos[finite], radius[finite]
    pairs = candidate_pairs(pos, radius, z_pos)
    pt, pm = tracks[pairs[:, 0]], meas[pairs[:, 1]]
    if keyname is not None:  # a report with a new identity may not update a track holding another one
        ok = ~adopt[pm] | (a[keyname][pt] == none_key)
        pt, pm = pt[ok], pm[ok]
    near = within_reach(tab, PairIndex(pt, pm), batch)  # from the cached state: before any prediction
    if not near.all():
        pt, pm = pt[near], pm[near]
    run, xm, Pm, cbar = predict_runs(tab, pt, pm, batch)  # each track once per scan
    d2, dims, _ = _innovations(xm, Pm, cbar, run, pm, batch)
    tentative = a["status"][pt] == TENTATIVE
    gate = np.where(dims == 4, np.where(tentative, mod.confirm_gate[4], mod.gate[4]),
                    np.where(tentative, mod.confirm_gate[2], mod.gate[2]))
    inside = d2 <= gate
    if inside.all():
        at = run
    else:
        pt, pm, d2, gate = pt[inside], pm[inside], d2[inside], gate[inside]
        at = np.flatnonzero(inside) if run is None else run[inside]
    if at is not None:
        xm, Pm, cbar = xm[at], Pm[at], cbar[at]
    return Pairs(pt, pm, xm, Pm, cbar), d2 / gate, bad


def distances(p: Pairs, batch: MeasBatch) -> tuple[FloatArray, IntArray]:
    """Squared Mahalanobis distance of each pair's combined prediction (K,) and its measurement
    dimension (K,) (``innovations`` without the likelihood)."""
    d2, dims, _ = innovations(p, batch)
    return d2, dims


def innovations(p: Pairs, batch: MeasBatch) -> tuple[FloatArray, IntArray, FloatArray]:
    """Squared Mahalanobis distance of each pair's combined prediction (K,), its measurement
    dimension (K,) and the log Gaussian likelihood ln N(nu; 0, S) of its innovation (K,)."""
    return _innovations(p.xm, p.Pm, p.cbar, None, p.meas, batch)


def _innovations(xm: FloatArray, Pm: FloatArray, cbar: FloatArray, run: IntArray | None, meas: IntArray,
                 batch: MeasBatch) -> tuple[FloatArray, IntArray, FloatArray]:
    """``innovations`` of K pairs whose predictions are xm (U, r, 4), Pm (U, r, 4, 4), cbar (U, r)
    at ``run`` (K,) (None: U = K, the pairs' own), measurement rows ``meas`` (K,); each prediction
    moment-matched once. A position-only row needs only the position block of the moment-matched
    state (the same numbers as the block of the full one, for a quarter of the work)."""
    d2, log_lik = np.empty(meas.size), np.empty(meas.size)
    dims = np.where(batch.has_vel[meas], 4, 2)
    for m, H in ((2, _EYE2), (4, _H_FULL)):  # H of the combined block: the block itself
        sel = dims == m
        every = bool(sel.all())  # one kind of row: no masked copies
        if every or sel.any():
            x, P = kalman.imm_combine(xm[..., :m], Pm[..., :m, :m], cbar)
            at = run if every else (np.flatnonzero(sel) if run is None else run[sel])
            if at is not None:
                x, P = x[at], P[at]
            rows = meas if every else meas[sel]
            inn = kalman.innovation(x, P, meas_z(batch, rows, m), H, meas_R(batch, rows, m))
            if every:
                return inn.d2, dims, inn.log_lik
            d2[sel], log_lik[sel] = inn.d2, inn.log_lik
    return d2, dims, log_lik


def within_reach(tab: TrackTable, p: Pairs | PairIndex, batch: MeasBatch) -> BoolArray:
    """Could each pair's target have moved from the track's last estimate to the plot? (K,)

    |z - x(t)| <= v dt + sqrt(chi2_2) sqrt(trace P_pos(t) + trace R_pos), with x(t),
    P(t) the combined state at the track's last update t, dt = plot time - t and v the
    larger of ``reach_speed_mps`` and the track's speed plus its sigma. The chi-square
    gate grows with the covariance of a coasting track without bound; this bound grows
    only as fast as a vessel (aircraft) can move, so a coasting track cannot capture
    another target's plot kilometres away.
    """
    a = tab.cols
    tr, me = p.track, p.meas
    cx, c = a["cx"][tr], a["trc"][tr]
    dt = batch.t[me] - a["t"][tr]
    np.maximum(dt, 0.0, out=dt)
    v = np.hypot(cx[:, 2], cx[:, 3])
    v += np.sqrt(np.maximum(c[:, 2], 0.0))
    np.maximum(v, tab.mod.pool.reach_speed_mps, out=v)
    R, z = batch.R, batch.z  # (not the R_pos / z_pos properties: they copy the whole batch)
    var = c[:, 0] + R[me, 0, 0] + R[me, 1, 1]
    np.maximum(var, 0.0, out=var)
    reach = np.sqrt(tab.mod.gate[2] * var)
    reach += v * dt
    dx, dy = z[me, 0] - cx[:, 0], z[me, 1] - cx[:, 1]
    return dx * dx + dy * dy <= reach * reach


def reachable(tab: TrackTable, free: BoolArray, tb: float, z_pos: FloatArray, r_max: float, spread: float) -> IntArray:
    """Rows (sorted) of the free tracks that can gate a plot of ``z_pos`` (n, 2) at time tb.

    A cheap superset of the tracks whose gating square meets a plot, from the cached
    combined state and the cubic of the trace of the predicted position covariance
    (trace >= lambda_max): a track whose disc of radius sqrt(gate (trace + r_max)) +
    spread around its predicted position misses the plots' bounding box gates nothing.
    Dead rows (NaN cached state) are never reachable. The block index (fusion/core/reach.py)
    first narrows the rows to the blocks near the plots; the full prediction and the grid
    then run on the rows left.
    """
    a = tab.cols
    if 4 * z_pos.shape[0] >= tab.rows:  # a batch about as big as the pool: its cost is O(N) anyway,
        return np.flatnonzero(free)  # and the grid sorts the tracks out
    lo, hi = column_bounds(z_pos)
    g = tab.mod.gate[4]
    rows = tab.query(lo, hi, np.sqrt(g * r_max) * (1.0 + 1e-9) + spread + 1e-3, tb)
    every = rows.size == tab.rows
    cx, c, t = (a[k] if every else a[k][rows] for k in ("cx", "trc", "t"))
    dt = np.maximum(tb - t, 0.0)
    trace = c[:, 0] + dt * (c[:, 1] + dt * (c[:, 2] + dt * c[:, 3]))
    reach = np.sqrt(g * np.maximum(trace + r_max, 0.0))
    reach *= 1.0 + 1e-9
    reach += spread + 1e-3
    x = cx[:, 0] + cx[:, 2] * dt
    ok = x >= lo[0] - reach
    ok &= x <= hi[0] + reach
    y = cx[:, 1] + cx[:, 3] * dt
    ok &= y >= lo[1] - reach
    ok &= y <= hi[1] + reach
    ok &= free[rows]
    return rows[ok]


def feasible(tab: TrackTable, p: Pairs, batch: MeasBatch) -> BoolArray:
    """Could each identity pair's target have moved from its last estimate to the report? (K,)

    distance <= ``max_speed_mps`` x elapsed + ``identity_sigmas`` x sqrt(trace P_pos + trace R_pos),
    elapsed the time since the track's last report with this identity (or since its last update,
    if longer ago): the radar plots that updated the track since may be another target's (boats
    moored together, a pilot boat leaving its berth between two 3-minute reports), so only the
    identity's own silence bounds how far its vessel can have gone.
    """
    if p.track.size == 0:
        return np.zeros(0, dtype=bool)
    a, mod = tab.cols, tab.mod
    # the position block of the moment-matched state only (the same numbers as the block of the full one)
    x, P = kalman.imm_combine(a["xm"][p.track][..., :2], a["Pm"][p.track][..., :2, :2], a["mu"][p.track])
    dist = np.linalg.norm(batch.z[p.meas, :2] - x, axis=1)
    spread = np.sqrt(np.trace(P, axis1=1, axis2=2) + np.trace(batch.R[p.meas, :2, :2], axis1=1, axis2=2))
    t = batch.t[p.meas]
    reach = mod.pool.max_speed_mps * np.fmax(np.abs(t - a["t"][p.track]), np.abs(t - a["last_ais_t"][p.track]))
    return dist <= reach + mod.config.identity_sigmas * spread
