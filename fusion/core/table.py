"""The track table: every track's state as columns with a leading track axis, with spare
capacity, lazy deletion, and the derived columns kept in step in one place.

Every tracker stage (predict, gate, associate, update, manage) reads and writes the same
``TrackTable``; nothing per track is a Python object. ``cols`` holds views of the first
``rows`` rows of the store (live rows and deleted rows waiting for compaction).

State columns (in snapshots): id, status, t (time of the state), xm (N, r, 4) / Pm
(N, r, 4, 4) / mu (N, r) per IMM model, alt / Palt (altitude, vertical rate), hist (hit
bits of the looks, newest in bit 0), looks, miss_run, first_t, last_t, last_ais_t,
last_noncoop_t, sources, mmsi, icao24, spoof, ivl (expected report interval of the
sources that update the track, s; NaN: unknown; fusion/core/intervals.py), rcs (N, 2): the
radar cross-section estimate, [mean m^2 (linear), looks] (NaN, 0: none; fusion/core/update.py,
``update_rcs``), hmin (N,): the lowest target height above the sea (m) the track's radar detections
imply under the 4/3-earth radar horizon (0: none; fusion/core/manage.py ``implied_height_m``).

Derived columns (``DERIVED``: recomputed, never in snapshots), refreshed only by
``refresh`` / ``refresh_due`` (and on ``append``, ``load``, ``kill``):
- cx (N, 4): the combined state at t;
- trc (N, 4): the trace of the combined position covariance predicted by dt as the cubic
  c0 + c1 dt + c2 dt^2 + c3 dt^3 (exact for CV prediction followed by moment matching);
- tr0 (N, 3): model 0's P00 + P11, P02 + P13, P22 + P33 (the covariance growth rule);
- due (N,): the earliest time a time rule (coast, age, covariance growth) can fire;
- blk (N,): block of the reach index (fusion/core/reach.py), -1 until its next rebuild.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from fusion.core.arrays import CONFIRMED, NO_ICAO, NO_MMSI, TENTATIVE, FloatArray, IntArray
from fusion.core.intervals import track_limits
from fusion.core.model import PoolModel
from fusion.core.reach import ReachIndex

DEAD = np.int8(-1)
"""Status of a deleted row waiting for compaction (never leaves the tracker)."""
DERIVED = ("cx", "trc", "tr0", "due", "blk")
"""Columns derived from the state (not in snapshots)."""

Rows = IntArray | slice
"""Rows of the table: an index array or a slice."""


def empty_columns(r: int) -> dict[str, np.ndarray]:
    """Columns with no rows for r IMM models: the names, shapes and dtypes of all per-track state."""
    f, i = np.float64, np.int64
    return {
        "id": np.zeros(0, i),
        "status": np.zeros(0, np.int8),
        "t": np.zeros(0, f),
        "xm": np.zeros((0, r, 4), f),
        "Pm": np.zeros((0, r, 4, 4), f),
        "mu": np.zeros((0, r), f),
        "alt": np.zeros((0, 2), f),  # altitude, vertical rate; NaN = unknown
        "Palt": np.zeros((0, 2, 2), f),
        "hist": np.zeros(0, i),
        "looks": np.zeros(0, i),
        "miss_run": np.zeros(0, i),
        "first_t": np.zeros(0, f),
        "last_t": np.zeros(0, f),
        "last_ais_t": np.zeros(0, f),
        "last_noncoop_t": np.zeros(0, f),
        "sources": np.zeros(0, i),
        "mmsi": np.zeros(0, i),
        "icao24": np.zeros(0, i),
        "spoof": np.zeros(0, bool),
        "ivl": np.zeros(0, f),
        "llr": np.zeros(0, f),  # track score: log likelihood ratio against clutter (confirmation = "score")
        "rcs": np.zeros((0, 2), f),  # radar cross-section: mean m^2 (linear) of the radar looks, looks counted; NaN, 0: none
        "hmin": np.zeros(0, f),  # lowest target height (m) its radar detections imply (radar horizon); 0: none
        "cx": np.zeros((0, 4), f),
        "trc": np.zeros((0, 4), f),
        "tr0": np.zeros((0, 3), f),
        "due": np.zeros(0, f),
        "blk": np.zeros(0, i),
    }


class TrackTable:
    """The columns of one pool's tracks, their capacity, and their derived columns."""

    def __init__(self, mod: PoolModel) -> None:
        self.mod = mod
        self._store = empty_columns(mod.n_models)  # the rows below plus spare capacity
        self.cols = self._store  # views of the first ``rows`` rows of the store
        self.n_dead = 0  # rows deleted but not yet compacted away (status DEAD)
        self.reach = ReachIndex()

    @property
    def rows(self) -> int:
        """Rows of the table, including deleted rows not yet compacted."""
        return int(self.cols["id"].shape[0])

    def __len__(self) -> int:
        """Live tracks."""
        return self.rows - self.n_dead

    def __getitem__(self, name: str) -> np.ndarray:
        """One column (a view: writes go to the table)."""
        return self.cols[name]

    def live(self) -> dict[str, np.ndarray]:
        """The live rows: the columns themselves when no row is dead; else copies of the state
        columns, without the derived ones."""
        a = self.cols
        if self.n_dead == 0:
            return a
        keep = a["status"] != DEAD
        return {k: v[keep] for k, v in a.items() if k not in DERIVED}

    def state(self) -> dict[str, np.ndarray]:
        """Copies of the state columns of the live rows."""
        live = self.live()  # copies already when rows are dead
        return {k: (v if self.n_dead else v.copy()) for k, v in live.items() if k not in DERIVED}

    def load(self, cols: dict[str, np.ndarray]) -> None:
        """Replace every row by copies of the state columns ``cols`` (as from ``state``); shapes
        checked, derived columns recomputed."""
        if "ivl" not in cols and "id" in cols:  # a snapshot from before expected intervals: unknown
            cols = {**cols, "ivl": np.full(cols["id"].shape[0], np.nan)}
        if "llr" not in cols and "id" in cols:  # a snapshot from before the track score: all zero
            cols = {**cols, "llr": np.zeros(cols["id"].shape[0])}
        if "rcs" not in cols and "id" in cols:  # a snapshot from before the RCS estimate: none
            cols = {**cols, "rcs": no_rcs(cols["id"].shape[0])}
        if "hmin" not in cols and "id" in cols:  # a snapshot from before the implied height: none
            cols = {**cols, "hmin": np.zeros(cols["id"].shape[0])}
        n = None
        for k, v in empty_columns(self.mod.n_models).items():
            if k in DERIVED:
                continue
            arr = cols.get(k)
            if arr is None or arr.shape[1:] != v.shape[1:] or (n is not None and arr.shape[0] != n):
                got = None if arr is None else arr.shape
                raise ValueError(f"snapshot track.{k} must have shape (N, {v.shape[1:]}), got {got}")
            n = arr.shape[0]
        store = {k: (v if k in DERIVED else cols[k]).copy() for k, v in empty_columns(self.mod.n_models).items()}
        n = int(store["id"].shape[0])
        for k in DERIVED:
            store[k] = np.empty((n, *store[k].shape[1:]), dtype=store[k].dtype)
        store["blk"][:] = -1
        self._store = self.cols = store
        self.n_dead = 0
        self.reach.invalidate()
        self.refresh(slice(None))
        self.refresh_due(slice(None))

    def append(self, new: dict[str, np.ndarray]) -> None:
        """Add rows (the state columns of n new tracks, one batch's births: close in space) at
        the end; their derived columns are computed and they join the reach index as blocks of
        their own. Capacity doubles when full, so that births do not copy the table every step.
        The RCS and implied-height columns may be left out: none (``no_rcs``, 0 m)."""
        n0, n = self.rows, len(new["id"])
        cap = self._store["id"].shape[0]
        if n0 + n > cap:
            cap = max(2 * cap, n0 + n, 64)
            grown = {k: np.empty((cap, *v.shape[1:]), dtype=v.dtype) for k, v in self._store.items()}
            for k, v in self.cols.items():
                grown[k][:n0] = v
            self._store = grown
        for k, v in self._store.items():
            if k not in DERIVED:
                v[n0 : n0 + n] = new[k] if k in new or k not in OPTIONAL else OPTIONAL[k](n)
        self.cols = {k: v[: n0 + n] for k, v in self._store.items()}
        self.cols["blk"][n0:] = -1  # the index's unsorted tail until its next rebuild
        fresh = slice(n0, n0 + n)
        self.refresh(fresh)
        self.refresh_due(fresh)
        self.reach.append(self.cols, n0, n)

    def refresh(self, rows: Rows, state: tuple[FloatArray, FloatArray, FloatArray] | None = None) -> None:
        """Recompute cx, trc and tr0 of ``rows`` after their xm, Pm or mu changed, and mark their
        reach blocks for recomputation. ``state``: the rows' new (xm, Pm, mu) when the caller
        holds them already (saves gathering them back from the table)."""
        a = self.cols
        xm, Pm, mu = (a["xm"][rows], a["Pm"][rows], a["mu"][rows]) if state is None else state
        cx, a["trc"][rows], a["tr0"][rows] = kinematics(xm, Pm, mu, self.mod.q)
        a["cx"][rows] = cx
        self.reach.mark(a["blk"][rows])

    def refresh_due(self, rows: Rows) -> None:
        """Recompute ``due`` of ``rows`` from their status, last_t, t, tr0 and ivl."""
        a = self.cols
        a["due"][rows] = due_time(self.mod, a["status"][rows], a["last_t"][rows], a["t"][rows], a["tr0"][rows], a["ivl"][rows])

    def query(self, lo: FloatArray, hi: FloatArray, grow: float, tb: float) -> IntArray:
        """Sorted rows whose reach box may meet [lo - grow, hi + grow] (x, y) m at time tb s."""
        return self.reach.query(self.cols, self.rows, lo, hi, grow, tb, self.mod.gate[4])

    def kill(self, rows: IntArray) -> None:
        """Mark rows deleted: invisible to gating, looks, identity and expiry (NaN cached
        state, no identity, never due); the table is compacted once a quarter of its rows
        are dead, so a deletion costs O(1) amortised instead of a table-wide copy."""
        a = self.cols
        a["status"][rows] = DEAD
        a["cx"][rows] = np.nan
        a["due"][rows] = np.inf
        a["mmsi"][rows] = NO_MMSI
        a["icao24"][rows] = NO_ICAO
        self.n_dead += int(rows.size)
        if 4 * self.n_dead > self.rows:
            self.compact()

    def compact(self) -> None:
        """Drop the dead rows, in place (keeping the capacity and the order of live rows)."""
        a = self.cols
        keep = a["status"] != DEAD
        n = int(keep.sum())
        for k, v in a.items():
            self._store[k][:n] = v[keep]
        self.cols = {k: v[:n] for k, v in self._store.items()}
        self.n_dead = 0
        self.reach.invalidate()


def no_rcs(n: int) -> FloatArray:
    """The RCS column (n, 2) of n tracks with no radar cross-section estimate: NaN mean, 0 looks."""
    out = np.zeros((n, 2))
    out[:, 0] = np.nan
    return out


OPTIONAL: dict[str, Callable[[int], FloatArray]] = {"rcs": no_rcs, "hmin": lambda n: np.zeros(n)}
"""State columns ``append`` fills with their "none" value when left out: n -> the column's n rows."""


def kinematics(xm: FloatArray, Pm: FloatArray, mu: FloatArray, q: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Derived columns of n rows (xm (n, r, 4), Pm (n, r, 4, 4), mu (n, r), q (r,) m^2/s^3):
    the combined state cx (n, 4), trc (n, 4) the coefficients of the trace of the combined
    predicted position covariance trace(dt) = c0 + c1 dt + c2 dt^2 + c3 dt^3 (exact for the CV
    models' prediction followed by moment matching, as ``predict.predict_position``), and
    tr0 (n, 3): model 0's P00 + P11, P02 + P13, P22 + P33. With one model cx is a view of xm."""
    n, r = mu.shape
    # component-major (the (r, n) batch contiguous), the entries needed gathered once; the same
    # operations in the same order as on the (n, r, 4, 4) arrays, and mu-weighted sums in order
    E = np.ascontiguousarray(Pm[:, :, _TRACE_ROW, _TRACE_COL].transpose(2, 1, 0))  # (6, r, n)
    P00, P11, P02, P13, P22, P33 = E
    tr0 = np.empty((n, 3))
    np.add(P00[0], P11[0], out=tr0[:, 0])
    np.add(P02[0], P13[0], out=tr0[:, 1])
    np.add(P22[0], P33[0], out=tr0[:, 2])
    if r == 1:
        trc = np.empty((n, 4))
        trc[:, 0] = tr0[:, 0]
        np.multiply(tr0[:, 1], 2.0, out=trc[:, 1])
        trc[:, 2] = tr0[:, 2]
        trc[:, 3] = 2.0 * float(q[0]) / 3.0
        return xm[:, 0], trc, tr0
    xt = np.ascontiguousarray(xm.transpose(2, 1, 0))  # (4, r, n)
    w = np.ascontiguousarray(mu.T)  # (r, n)
    cx = _weighted(w, xt)  # (4, n)
    d0, d1, d2, d3 = xt - cx[:, None, :]
    per_model = (P00 + P11 + d0 * d0 + d1 * d1, 2.0 * (P02 + P13 + d0 * d2 + d1 * d3), P22 + P33 + d2 * d2 + d3 * d3,
                 np.broadcast_to((2.0 * q / 3.0)[:, None], (r, n)))
    trc = np.empty((n, 4))
    for c, v in enumerate(per_model):
        trc[:, c] = _weighted(w, v[None])[0]
    return np.ascontiguousarray(cx.T), trc, tr0


_TRACE_ROW, _TRACE_COL = np.array([0, 1, 0, 1, 2, 3]), np.array([0, 1, 2, 3, 2, 3])
"""Entries P00, P11, P02, P13, P22, P33 of a 4 x 4 covariance."""


def _weighted(w: FloatArray, v: FloatArray) -> FloatArray:
    """sum_j w_j v_j, in order: w (r, n) weights, v (k, r, n) -> (k, n)."""
    out = w[0] * v[:, 0]
    for j in range(1, w.shape[0]):
        out += w[j] * v[:, j]
    return out


def due_time(mod: PoolModel, status: NDArray[np.int8], last_t: FloatArray, t: FloatArray, tr0: FloatArray,
             ivl: FloatArray) -> FloatArray:
    """Earliest time (n,) s at which a coast, age or covariance rule of ``manage.expire`` can
    fire for rows with this status, last update, state time, ``tr0`` (n, 3) column and
    expected report interval ``ivl`` (n,) s; slightly early (1 ms and 1e-9 relative) so that
    rounding never makes it late."""
    lim = track_limits(ivl, mod.pool, mod.config)
    inf = np.inf
    due = last_t + np.where(status == TENTATIVE, np.minimum(lim.tentative_max_age_s, lim.max_coast_s),
                            np.where(status == CONFIRMED, np.minimum(lim.coast_after_s, lim.max_coast_s), lim.max_coast_s))
    # covariance growth: c0 + c1 dt + c2 dt^2 > limit first for dt > the larger root
    c0, c1, c2 = tr0[:, 0], 2.0 * tr0[:, 1], tr0[:, 2]
    d = 2.0 * lim.max_pos_sigma_m**2 - c0
    den = c1 + np.sqrt(np.maximum(c1 * c1 + 4.0 * c2 * np.maximum(d, 0.0), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.where(den > 0, 2.0 * np.maximum(d, 0.0) / den, np.where(d > 0, inf, 0.0))
    root = np.where(d < 0, -inf, root)
    due = np.fmin(due, t + root * (1.0 - 1e-9))
    due -= 1e-3
    due[status == DEAD] = inf
    return due
