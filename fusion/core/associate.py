"""Associate stage: which measurement updates which track.

Identity first (a cooperative row whose MMSI / ICAO address names a track), then GNN over
the gated pairs in two passes (confirmed and coasting tracks first, tentative tracks on
the plots left over), plus the splitting of a batch into rounds with unique identity keys
after exact duplicates are merged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fusion.core.arrays import TENTATIVE, FloatArray, IntArray, MeasBatch
from fusion.core.assign import assign
from fusion.core.predict import EMPTY_INT, Pairs

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


def associate(tab: TrackTable, kp: Pairs, cost: FloatArray, n_meas: int) -> IntArray:
    """GNN over the gated pairs ``kp`` with ``cost`` (K,) in two passes: confirmed and coasting
    tracks first, then tentative tracks on the plots left over (of ``n_meas``). Returns the
    chosen pair indices (A,), sorted; each track and each measurement at most once."""
    pairs = np.stack([kp.track, kp.meas], axis=1)
    firm = tab.cols["status"][kp.track] != TENTATIVE
    first = np.flatnonzero(firm)
    won_first = first[assign(pairs[first], cost[first], MISS_COST).chosen]
    used = np.zeros(n_meas, dtype=bool)
    used[kp.meas[won_first]] = True
    second = np.flatnonzero(~firm & ~used[kp.meas])
    won_second = second[assign(pairs[second], cost[second], MISS_COST).chosen]
    return np.sort(np.concatenate([won_first, won_second]))


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
