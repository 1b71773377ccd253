"""Which tracks can a batch reach? A block index over the track table.

Rows of the track table are grouped, at each rebuild, into blocks of ``BLOCK`` rows that
are close in space (sorted in snake order by strips of width ~ the block's side). Each
block keeps a bounding box that holds, for every query time up to the block's
``until``, every gating disc of its rows: the row's predicted path from its state time
grown by sqrt(gate x an upper bound of the trace of its predicted position covariance).
A query (a batch's plot box, or a radar's look area) tests the blocks' boxes, then hands
the rows of the blocks it meets (and the rows born since the last rebuild) to the exact
tests. A block whose rows change (update, merge) is marked dirty and its box recomputed
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
        self.perm: IntArray | None = None  # (nb * BLOCK,) rows in block order, -1 padding
        self.box = np.zeros((0, 4))  # (nb, 4) xlo, xhi, ylo, yhi; NaN: no live row
        self.until = np.zeros(0)  # (nb,) box valid for query times up to this
        self.dirty = np.zeros(0, dtype=bool)
        self.sorted_rows = 0  # rows at the rebuild; rows after it are the unsorted tail
        self.built_t = -np.inf

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
        if (self.perm is None or tb > self.built_t + REBUILD_S
                or n_rows - self.sorted_rows > max(4 * BLOCK, self.sorted_rows // 4)):
            self._rebuild(a, n_rows, tb)
        assert self.perm is not None
        redo = np.flatnonzero(self.dirty | (self.until < tb))
        if redo.size:
            self._boxes(a, redo, tb, gate)
        b = self.box
        hit = np.flatnonzero((b[:, 0] <= hi[0] + grow) & (b[:, 1] >= lo[0] - grow)
                             & (b[:, 2] <= hi[1] + grow) & (b[:, 3] >= lo[1] - grow))
        rows = self.perm.reshape(-1, BLOCK)[hit].ravel()
        rows = rows[rows >= 0]
        if n_rows > self.sorted_rows:
            rows = np.concatenate([rows, np.arange(self.sorted_rows, n_rows, dtype=np.int64)])
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
        perm = np.full(nb * BLOCK, -1, dtype=np.int64)
        perm[: live.size] = live[order]
        a["blk"][:n_rows] = -1
        a["blk"][perm[: live.size]] = np.arange(live.size, dtype=np.int64) // BLOCK
        self.perm = perm
        self.box = np.full((nb, 4), np.nan)
        self.until = np.full(nb, -np.inf)
        self.dirty = np.ones(nb, dtype=bool)
        self.sorted_rows = n_rows
        self.built_t = tb

    def _boxes(self, a: dict[str, np.ndarray], blocks: IntArray, tb: float, gate: float) -> None:
        """Recompute the boxes of ``blocks`` for query times up to tb + HORIZON_S."""
        assert self.perm is not None
        idx = self.perm.reshape(-1, BLOCK)[blocks]  # (k, BLOCK)
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
