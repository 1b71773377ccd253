"""Associate stage: which measurement updates which track.

Identity first (a cooperative row whose MMSI / ICAO address names a track), then GNN over
the gated pairs in two passes (confirmed and coasting tracks first, tentative tracks on
the plots left over) or, with ``association = "jpda"``, JPDA for the confirmed and
coasting tracks and GNN for the tentative ones on the plots JPDA did not claim, plus the splitting of a batch into rounds with unique identity keys
after exact duplicates are merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fusion.core import kalman
from fusion.core.arrays import TENTATIVE, BoolArray, FloatArray, IntArray, MeasBatch, column_bounds
from fusion.core.assign import assign
from fusion.core.config import TrackerConfig
from fusion.core.jpda import clutter_density, marginals, mixture_update, model_log_likelihood
from fusion.core.predict import EMPTY_INT, Pairs
from fusion.core.update import model_updates

if TYPE_CHECKING:
    from fusion.core.table import TrackTable

MISS_COST = 1.0
"""Cost of leaving a track unassigned: a pair's cost is d2 / gate, so a pair is only taken
inside its gate (GNN with a miss column, docs/STYLE.md section 1)."""


def identity_pairs(tab: TrackTable, meas_key: IntArray | None, none_key: int, keyname: str | None) -> tuple[IntArray, IntArray]:
    """Rows of live tracks whose identity (column ``keyname``) equals a measurement's key
    ``meas_key`` (M,), keys unique in the batch: (track (J,), meas (J,))."""
    if meas_key is None or keyname is None or len(tab) == 0:
        return EMPTY_INT, EMPTY_INT
    track_key = tab.cols[keyname]
    # one binary search per pool row into the batch's sorted keys (np.isin with a few keys
    # makes one pass over the pool per key)
    order = np.argsort(meas_key, kind="stable")
    keys = meas_key[order]
    pos = np.minimum(np.searchsorted(keys, track_key), keys.size - 1)
    has = np.flatnonzero((keys[pos] == track_key) & (track_key != none_key))
    return has, order[pos[has]]


def associate(tab: TrackTable, kp: Pairs, cost: FloatArray, n_meas: int, claimed: BoolArray | None = None) -> IntArray:
    """GNN over the gated pairs ``kp`` with ``cost`` (K,) in two passes: confirmed and coasting
    tracks first, then tentative tracks on the plots left over (of ``n_meas``). With
    ``claimed`` (n_meas,), the plots JPDA gave the confirmed and coasting tracks (``jpda``),
    only the tentative pass runs, on the other plots. Returns the chosen pair indices (A,),
    sorted; each track and each measurement at most once."""
    pairs = np.stack([kp.track, kp.meas], axis=1)
    firm = tab.cols["status"][kp.track] != TENTATIVE
    if claimed is None:
        first = np.flatnonzero(firm)
        won_first = first[assign(pairs[first], cost[first], MISS_COST).chosen]
        used = np.zeros(n_meas, dtype=bool)
        used[kp.meas[won_first]] = True
    else:
        won_first, used = EMPTY_INT, claimed
    second = np.flatnonzero(~firm & ~used[kp.meas])
    won_second = second[assign(pairs[second], cost[second], MISS_COST).chosen]
    return np.sort(np.concatenate([won_first, won_second]))


@dataclass
class Pda:
    """JPDA result: the updated confirmed / coasting tracks, and the plots they claim.

    track (U,) rows of the confirmed and coasting tracks with a gated plot; meas (U,) each one's
    most probable plot (its time is the update's); xm (U, r, 4), Pm (U, r, 4, 4), mu (U, r)
    the mixture-updated state; hit (U,) more likely detected than not (beta0 < 0.5);
    claimed (M,) plots more likely a track's than not.
    """

    track: IntArray
    meas: IntArray
    xm: FloatArray
    Pm: FloatArray
    mu: FloatArray
    hit: BoolArray
    claimed: BoolArray


def log_clutter_density(config: TrackerConfig, batch: MeasBatch, free: float) -> float:
    """ln lambda (1/m^2) of a batch: ``free`` plots (those no track explains) over the area the
    scan looked at: its coverage circle, else its plots' bounding box grown by ``look_margin_m``
    when that is finite (``jpda.clutter_density``)."""
    if batch.look_en_m is not None:
        area = float(np.pi * batch.look_en_m[2] ** 2)
    else:
        lo, hi = column_bounds(batch.z_pos)
        span = hi - lo
        if np.isfinite(config.look_margin_m):
            span = span + 2.0 * config.look_margin_m
        area = float(span[0] * span[1])
    return float(np.log(clutter_density(round(free), area)))


def jpda(tab: TrackTable, kp: Pairs, log_lik: FloatArray, batch: MeasBatch, n_fixed: int) -> Pda:
    """JPDA of the confirmed and coasting tracks over their gated pairs ``kp`` (log likelihood
    ``log_lik`` (K,) of each pair's combined innovation), fusion/core/jpda.py.

    Clutter density: the batch's plots less the ``n_fixed`` identity updates and Pd per such
    track with a gated plot, over the scan's area. Every such track is updated with the
    mixture of its pairs' Kalman updates (each IMM model; model probabilities from the IMM-PDA
    likelihood) at the time of its most probable plot. One more likely detected than not
    (beta0 < 0.5) counts a hit with that plot; the others count a missed look. A plot whose
    probabilities of being a track's sum to 0.5 or more is claimed: no tentative track and no
    birth takes it."""
    mod = tab.mod
    config, r = mod.config, mod.n_models
    claimed = np.zeros(len(batch), dtype=bool)
    firm = np.flatnonzero(tab.cols["status"][kp.track] != TENTATIVE)
    if firm.size == 0:
        return Pda(EMPTY_INT, EMPTY_INT, np.zeros((0, r, 4)), np.zeros((0, r, 4, 4)), np.zeros((0, r)),
                   np.zeros(0, dtype=bool), claimed)
    rows, tl = np.unique(kp.track[firm], return_inverse=True)
    pd = config.detection_prob
    log_lambda = log_clutter_density(config, batch, len(batch) - n_fixed - pd * rows.size)
    log_miss = np.full(rows.size, np.log1p(-pd * config.gate_prob))  # not detected, or outside the gate
    meas = kp.meas[firm]
    m = marginals(tl, meas, np.log(pd) + log_lik[firm] - log_lambda, log_miss)
    claimed[np.bincount(meas, weights=m.beta, minlength=len(batch)) >= 0.5] = True
    order = np.lexsort((m.beta, tl))  # by track, most probable pair last
    best = firm[order[np.r_[np.flatnonzero(np.diff(tl[order])), tl.size - 1]]]  # (U,) each track's MAP pair
    xs, Ps, lik = _pair_updates(kp.take(firm), batch)
    xm, Pm = mixture_update(tl, m.beta, m.beta0, kp.xm[best], kp.Pm[best], xs, Ps)
    cbar = kp.cbar[best]
    mu = np.ones_like(cbar) if r == 1 else kalman.imm_posterior(
        cbar, model_log_likelihood(tl, np.log(pd) + lik - log_lambda, log_miss))
    return Pda(rows, kp.meas[best], xm, Pm, mu, m.beta0 < 0.5, claimed)


def _pair_updates(p: Pairs, batch: MeasBatch) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Kalman update of every model of the pairs ``p`` (K) -> (xm (K, r, 4), Pm (K, r, 4, 4),
    per-model log likelihood (K, r))."""
    has_vel = batch.has_vel[p.meas]
    if has_vel.all() or not has_vel.any():
        return model_updates(p.xm, p.Pm, p.meas, batch, bool(has_vel[0]))
    xs, Ps, lik = p.xm.copy(), p.Pm.copy(), np.zeros(p.cbar.shape)
    for vel in (False, True):
        sel = has_vel == vel
        xs[sel], Ps[sel], lik[sel] = model_updates(p.xm[sel], p.Pm[sel], p.meas[sel], batch, vel)
    return xs, Ps, lik


def unique_rows(batch: MeasBatch) -> IntArray:
    """Rows (U,) of ``batch``, sorted, keeping the first of each set of exact duplicates: rows
    equal bit for bit in time, z, R, altitude and identity keys (NaN equals NaN)."""
    n = len(batch)
    cols = np.concatenate([batch.t[:, None], batch.z, batch.R.reshape(n, -1), batch.alt_m[:, None], batch.sigma_alt_m[:, None],
                           batch.has_vel[:, None], batch.mmsi[:, None], batch.icao24[:, None]], axis=1)  # float64: keys < 2^53 exact
    rows = np.ascontiguousarray(cols).view(np.dtype((np.void, cols.shape[1] * cols.itemsize))).ravel()
    return np.sort(np.unique(rows, return_index=True)[1])


def identity_rounds(key: IntArray, t: FloatArray, none_key: int) -> list[IntArray | None]:
    """Split rows (keys ``key`` (M,), times ``t`` (M,)) so that no identity key repeats within a
    round; rounds in time order. Returns [None] when the keys are already unique (the common case).
    """
    keyed = key != none_key
    if np.unique(key[keyed]).size == int(keyed.sum()):
        return [None]
    order = np.lexsort((t, key))
    k = key[order]
    start = np.r_[True, k[1:] != k[:-1]]
    group_start = np.maximum.accumulate(np.where(start, np.arange(k.size), 0))
    rank = np.empty(k.size, dtype=np.int64)
    rank[order] = np.arange(k.size) - group_start
    rank[~keyed] = 0
    return [np.flatnonzero(rank == r) for r in range(int(rank.max()) + 1)]
