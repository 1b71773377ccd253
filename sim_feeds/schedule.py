"""Timing helpers shared by the sensor models: scan times, batch windows, on/off windows."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from sim_feeds.scenario import Spoof, Window

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
WindowTable = tuple[IntArray, FloatArray, FloatArray]


def scan_times(rng: np.random.Generator, t0: float, t_end: float, period_s: float) -> Iterator[float]:
    """t0 + phase + k * period_s <= t_end, phase uniform in [0, period_s) from ``rng``."""
    first = t0 + rng.uniform(0.0, period_s)
    for k in range(math.floor((t_end - first) / period_s) + 1):
        yield first + k * period_s


def batch_edges(t0: float, t_end: float, batch_s: float) -> Iterator[float]:
    """Upper edges of the batch windows t0 + k * batch_s, k >= 1, covering [t0, t_end]."""
    for k in range(1, math.ceil((t_end - t0) / batch_s) + 1):
        yield t0 + k * batch_s


def window_table(owners: Sequence[int], windows: Sequence[Sequence[Window | Spoof]]) -> WindowTable:
    """Flatten per-owner windows (owner = index of a vessel or aircraft) into (W,) owner, start_s, end_s."""
    own = [v for v, ws in zip(owners, windows, strict=True) for _ in ws]
    start = [w.start_s for ws in windows for w in ws]
    end = [w.end_s for ws in windows for w in ws]
    return np.asarray(own, dtype=np.int64), np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)


def in_windows(vessel: IntArray, rel: FloatArray, table: WindowTable) -> IntArray:
    """(Q,) index of the window holding each (owner, time s after t0), -1 where none; Q x W work."""
    own, start, end = table
    if own.size == 0:
        return np.full(vessel.shape, -1, dtype=np.int64)
    inside = (vessel[:, None] == own[None, :]) & (rel[:, None] >= start[None, :]) & (rel[:, None] < end[None, :])
    return np.where(inside.any(axis=1), np.argmax(inside, axis=1), -1)
