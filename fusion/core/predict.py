"""Predict stage: tracks of the table predicted to other times, never committed.

Pair-wise prediction (IMM interaction, then each model's CV prediction to the pair's own
measurement time) for gating and update; combined or position-only predictions for
merges and the gate radius; the altitude filter's prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from fusion.core import kalman
from fusion.core.arrays import BoolArray, FloatArray, IntArray, MeasBatch

if TYPE_CHECKING:
    from fusion.core.table import TrackTable

EMPTY_INT = np.zeros(0, dtype=np.int64)


@dataclass
class Pairs:
    """Track/measurement pairs with each track predicted to its measurement's time.

    track: (K,) row in the track table; meas: (K,) row in the batch; xm (K, r, 4) and
    Pm (K, r, 4, 4) per-model prediction; cbar (K, r) predicted model probabilities.
    """

    track: IntArray
    meas: IntArray
    xm: FloatArray
    Pm: FloatArray
    cbar: FloatArray

    def take(self, sel: IntArray | BoolArray) -> Pairs:
        """The pairs ``sel``."""
        return Pairs(self.track[sel], self.meas[sel], self.xm[sel], self.Pm[sel], self.cbar[sel])

    def then(self, other: Pairs) -> Pairs:
        """These pairs followed by ``other``'s."""
        return Pairs(*(np.concatenate([a, b]) for a, b in zip(self._cols(), other._cols(), strict=True)))

    def _cols(self) -> tuple[np.ndarray, ...]:
        return self.track, self.meas, self.xm, self.Pm, self.cbar


def empty_pairs(r: int) -> Pairs:
    """No pairs, for r IMM models."""
    return Pairs(EMPTY_INT, EMPTY_INT, np.zeros((0, r, 4)), np.zeros((0, r, 4, 4)), np.zeros((0, r)))


class PairIndex(NamedTuple):
    """Track/measurement pairs without their predictions: track (K,) table rows, meas (K,) batch rows."""

    track: IntArray
    meas: IntArray


def predict_pairs(tab: TrackTable, track: IntArray, meas: IntArray, batch: MeasBatch) -> Pairs:
    """IMM interaction and prediction of each pair's track ``track`` (K,) to the time of its
    measurement ``meas`` (K,) of ``batch``."""
    if track.size == 0:  # no work (and no numpy calls) for an empty set
        return empty_pairs(tab.mod.n_models)
    run, xm, Pm, cbar = predict_runs(tab, track, meas, batch)
    if run is not None:
        xm, Pm, cbar = xm[run], Pm[run], cbar[run]
    return Pairs(track, meas, xm, Pm, cbar)


def predict_runs(
    tab: TrackTable, track: IntArray, meas: IntArray, batch: MeasBatch
) -> tuple[IntArray | None, FloatArray, FloatArray, FloatArray]:
    """``predict_pairs`` with each run of consecutive pairs of one track at one time (the pairs
    of a track in one radar scan, sorted by track) predicted once: (run (K,) the index of each
    pair's prediction, None when every pair is a run of its own; xm (U, r, 4), Pm (U, r, 4, 4),
    cbar (U, r) of the U runs). The same numbers as predicting every pair."""
    a, mod = tab.cols, tab.mod
    t = batch.t[meas]
    first = np.ones(track.size, dtype=bool)
    np.not_equal(track[1:], track[:-1], out=first[1:])
    first[1:] |= t[1:] != t[:-1]
    run = None
    if not first.all():
        run = np.cumsum(first) - 1
        track, t = track[first], t[first]
    dt = np.maximum(t - a["t"][track], 0.0)  # < 0 only for rows older than a re-run's state
    xm, Pm, cbar = kalman.imm_predict(a["xm"][track], a["Pm"][track], a["mu"][track], dt, mod.sojourn, mod.q)
    return run, xm, Pm, cbar


def predict_combined(tab: TrackTable, rows: IntArray, dt: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Combined (x (n, 4), P (n, 4, 4)) of ``rows`` predicted by ``dt`` (n,) s."""
    a = tab.cols
    xm, Pm = kalman.cv_predict(a["xm"][rows], a["Pm"][rows], dt, tab.mod.q, 2)
    return kalman.imm_combine(xm, Pm, a["mu"][rows])


def predict_position(tab: TrackTable, rows: IntArray, dt: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Combined position (n, 2) m and its covariance (n, 2, 2) of the n sorted, unique
    ``rows`` predicted by ``dt`` (n,) s."""
    a = tab.cols
    every = rows.size == tab.rows  # sorted and unique: all rows, no gather
    xm, Pm, mu = (a[k] if every else a[k][rows] for k in ("xm", "Pm", "mu"))
    return kalman.imm_predict_position(xm, Pm, mu, dt, tab.mod.q)


def predict_alt(alt: FloatArray, Palt: FloatArray, dt: FloatArray, q_alt: float) -> tuple[FloatArray, FloatArray]:
    """Altitude filter: alt (n, 2) m, m/s, Palt (n, 2, 2), dt (n,) s, q_alt m^2/s^3 -> predicted;
    NaN rows stay NaN."""
    return kalman.cv_predict(alt, Palt, dt, np.asarray(q_alt, dtype=np.float64), 1)
