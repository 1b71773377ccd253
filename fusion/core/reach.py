"""Which tracks can a batch reach? A block index over the track table.

Rows of the track table are grouped, at each rebuild, into blocks of ``BLOCK`` rows that
are close in space (sorted in snake order by strips of width ~ the block's side). Each
block keeps a bounding box that holds, for every query time up to the block's
``until``, every gating disc of its rows: the row's predicted path from its state time
grown by sqrt(gate x an upper bound of the trace of its predicted position covariance).
A query (a batch's plot box, or a radar's look area) tests the blocks' boxes, then hands
the rows of the blocks it meets to the exact tests. The births of a batch (close in
space: they come from its plots) are appended as blocks of their own. A block whose rows change (update, merge) is marked dirty and its box recomputed
at the next query; a block whose ``until`` has passed is recomputed too. So a query costs
O(blocks + rows of the blocks met + dirty blocks x BLOCK): the tracks the batch can
reach, not the pool (with ~N/BLOCK block tests, a few microseconds at 100,000 tracks).

The index never changes results: it only returns a superset of the rows the exact tests
accept, sorted.
"""

from __future__ import annotations

import numpy as np

from fusion.core.arrays import FloatArray, IntArray

BLOCK = 128
"""Rows per block."""
HORIZON_S = 30.0
"""A block box is valid for queries up to this long after it is computed."""
REBUILD_S = 60.0
"""The blocks are re-sorted at least this often (data time): tracks drift out of them."""


class ReachIndex:
    """Block index over the rows of one track table (see the module docstring)."""

    def __init__(self) -> None:
        self.invalidate()

    def invalidate(self) -> None:
        """Forget the blocks (after compaction or restore); the next query rebuilds."""
        self.perm: IntArray | None = None  # (cap, BLOCK) rows of each block, -1 padding
        self.box = np.zeros((0, 4))  # (cap, 4) xlo, xhi, ylo, yhi; NaN: no live row
        self.until = np.zeros(0)  # (cap,) box valid for query times up to this
        self.dirty = np.zeros(0, dtype=bool)
        self.nb = 0  # blocks in use (the first nb of the capacity)
        self.built_t = -np.inf

    def append(self, a: dict[str, np.ndarray], start: int, n: int) -> None:
        """Rows [start, start + n) were added (the births of one batch: close in space):
        they form new blocks of their own, in order; their ``blk`` is set."""
        if self.perm is None or n == 0:
            return
        k = -(-n // BLOCK)
        if self.nb + k > self.perm.shape[0]:
            cap = max(2 * self.perm.shape[0], self.nb + k, 16)
            self.perm = np.concatenate([self.perm[: self.nb], np.full((cap - self.nb, BLOCK), -1, np.int64)])
            self.box = np.concatenate([self.box[: self.nb], np.full((cap - self.nb, 4), np.nan)])
            self.until = np.concatenate([self.until[: self.nb], np.full(cap - self.nb, -np.inf)])
            self.dirty = np.concatenate([self.dirty[: self.nb], np.ones(cap - self.nb, dtype=bool)])
        flat = self.perm[self.nb : self.nb + k].reshape(-1)
        flat[:] = -1
        flat[:n] = np.arange(start, start + n, dtype=np.int64)
        a["blk"][start : start + n] = self.nb + np.arange(n, dtype=np.int64) // BLOCK
        self.dirty[self.nb : self.nb + k] = True
        self.nb += k

    def mark(self, blk: IntArray) -> None:
        """Blocks (of the changed rows' ``blk`` column; -1 = tail) whose boxes must be recomputed."""
        if self.perm is not None and blk.size:
            self.dirty[blk[blk >= 0]] = True

    def query(self, a: dict[str, np.ndarray], n_rows: int, lo: FloatArray, hi: FloatArray, grow: float,
              tb: float, gate: float) -> IntArray:
        """Sorted rows whose box may meet [lo - grow, hi + grow] (x, y) at time ``tb``.

        a: the track table (reads t, cx, trc, status; writes blk on rebuild); gate: the
        chi-square threshold the boxes are grown with.
        """
        if n_rows == 0:
            return np.zeros(0, dtype=np.int64)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            return np.arange(n_rows, dtype=np.int64)
        if self.perm is None or tb > self.built_t + REBUILD_S:
            self._rebuild(a, n_rows, tb)
        assert self.perm is not None
        nb = self.nb
        redo = np.flatnonzero(self.dirty[:nb] | (self.until[:nb] < tb))
        if redo.size:
            self._boxes(a, redo, tb, gate)
        b = self.box[:nb]
        hit = np.flatnonzero((b[:, 0] <= hi[0] + grow) & (b[:, 1] >= lo[0] - grow)
                             & (b[:, 2] <= hi[1] + grow) & (b[:, 3] >= lo[1] - grow))
        rows = self.perm[hit].ravel()
        rows = rows[rows >= 0]
        rows.sort()
        return rows

    def _rebuild(self, a: dict[str, np.ndarray], n_rows: int, tb: float) -> None:
        cx = a["cx"][:n_rows]
        live = np.flatnonzero(np.isfinite(cx[:, :2]).all(axis=1))
        x, y = cx[live, 0], cx[live, 1]
        order = np.zeros(0, dtype=np.int64)
        if live.size:
            span = np.maximum(np.array([np.ptp(x), np.ptp(y)]), 1.0)
            w = float(np.sqrt(span[0] * span[1] * BLOCK / live.size))
            strip = np.floor((x - x.min()) / w)
            snake = np.where(strip % 2 == 1, -y, y)  # strips alternate direction: blocks stay compact
            order = np.lexsort((snake, strip))
        nb = -(-live.size // BLOCK)
        cap = max(2 * nb, 16)
        perm = np.full(cap * BLOCK, -1, dtype=np.int64)
        perm[: live.size] = live[order]
        a["blk"][:n_rows] = -1
        a["blk"][perm[: live.size]] = np.arange(live.size, dtype=np.int64) // BLOCK
        self.perm = perm.reshape(cap, BLOCK)
        self.box = np.full((cap, 4), np.nan)
        self.until = np.full(cap, -np.inf)
        self.dirty = np.ones(cap, dtype=bool)
        self.nb = nb
        self.built_t = tb

    def _boxes(self, a: dict[str, np.ndarray], blocks: IntArray, tb: float, gate: float) -> None:
        """Recompute the boxes of ``blocks`` for query times up to tb + HORIZON_S."""
        assert self.perm is not None
        idx = self.perm[blocks]  # (k, BLOCK)
        pad = idx < 0
        r = np.where(pad, 0, idx)
        until = tb + HORIZON_S
        D = np.maximum(until - a["t"][r], 0.0)  # longest prediction of each row until `until`
        cx, c = a["cx"][r], a["trc"][r]
        # trace(dt) <= c0 + max(c1, 0) dt + c2 dt^2 + c3 dt^3 (c0, c2, c3 >= 0): largest at dt = D
        trace = c[..., 0] + D * (np.maximum(c[..., 1], 0.0) + D * (c[..., 2] + D * c[..., 3]))
        R = np.sqrt(gate * np.maximum(trace, 0.0)) * (1.0 + 1e-9) + 1e-3
        R[pad] = np.nan
        x0, y0 = cx[..., 0], cx[..., 1]
        x1, y1 = x0 + cx[..., 2] * D, y0 + cx[..., 3] * D
        box = np.stack([np.fmin.reduce(np.minimum(x0, x1) - R, axis=1), np.fmax.reduce(np.maximum(x0, x1) + R, axis=1),
                        np.fmin.reduce(np.minimum(y0, y1) - R, axis=1), np.fmax.reduce(np.maximum(y0, y1) + R, axis=1)],
                       axis=1)
        self.box[blocks] = box
        self.until[blocks] = until
        self.dirty[blocks] = False
