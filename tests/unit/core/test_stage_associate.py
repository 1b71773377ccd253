"""Associate stage alone: confirmed tracks choose before tentative ones; identity pairs;
rounds with unique keys; exact duplicates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from fusion.core.arrays import CONFIRMED, TENTATIVE, MeasBatch
from fusion.core.associate import associate, identity_pairs, identity_rounds, unique_rows
from fusion.core.gate import gate_pairs
from fusion.core.table import TrackTable

TableFactory = Callable[..., TrackTable]
BatchFactory = Callable[..., MeasBatch]


def test_a_tentative_track_does_not_take_a_confirmed_tracks_plot(make_table: TableFactory, make_batch: BatchFactory) -> None:
    P = np.tile(np.diag([50.0**2, 50.0**2, 4.0, 4.0]), (2, 1, 1))
    x = np.array([[0.0, 0.0, 0.0, 0.0], [60.0, 0.0, 0.0, 0.0]])
    tab = make_table(x, P, status=np.array([CONFIRMED, TENTATIVE]))
    batch = make_batch(0.0, [[45.0, 0.0]])  # nearer the tentative track
    kp, cost, _ = gate_pairs(tab, batch, np.ones(2, bool), np.ones(1, bool), np.zeros(1, bool), None, 0)
    assert sorted(kp.track.tolist()) == [0, 1] and cost[kp.track == 1][0] < cost[kp.track == 0][0]
    won = associate(tab, kp, cost, 1)
    assert kp.track[won].tolist() == [0]
    tab["status"][0] = TENTATIVE  # as equals the cheaper pair wins
    assert kp.track[associate(tab, kp, cost, 1)].tolist() == [1]


def test_identity_pairs_match_keys(make_table: TableFactory, make_batch: BatchFactory) -> None:
    x = np.zeros((3, 4))
    tab = make_table(x, np.tile(np.eye(4), (3, 1, 1)), mmsi=np.array([111, 0, 222]))
    batch = make_batch(0.0, np.zeros((3, 2)), kind="ais", mmsi=np.array([222, 333, 111]))
    track, meas = identity_pairs(tab, batch.mmsi, 0, "mmsi")
    assert dict(zip(track.tolist(), meas.tolist(), strict=True)) == {0: 2, 2: 0}


def test_repeated_keys_split_into_time_ordered_rounds() -> None:
    key = np.array([5, 5, 0, 7, 5])
    t = np.array([3.0, 1.0, 0.0, 0.0, 2.0])
    assert [r.tolist() for r in identity_rounds(key, t, 0)] == [[1, 2, 3], [4], [0]]  # type: ignore[union-attr]
    assert identity_rounds(np.array([5, 0, 0, 7]), np.zeros(4), 0) == [None]


def test_exact_duplicates_keep_the_first(make_batch: BatchFactory) -> None:
    b = make_batch(0.0, [[1.0, 2.0], [1.0, 2.0], [1.0, 2.5], [1.0, 2.0]], kind="ais", mmsi=np.array([9, 9, 9, 8]))
    assert unique_rows(b).tolist() == [0, 2, 3]
    assert unique_rows(replace(b, t=np.array([0.0, 1.0, 0.0, 0.0]))).tolist() == [0, 1, 2, 3]
