"""Manage stage alone: coast and delete timings (from the cached due times, without touching
the rows), missed looks, covariance growth, merges and births."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fusion.core.arrays import COASTING, CONFIRMED, TENTATIVE, MeasBatch
from fusion.core.config import TrackerConfig
from fusion.core.gate import gate_pairs
from fusion.core.manage import BirthBudget, IdentityLog, birth, count_misses, expire, merge
from fusion.core.table import TrackTable

TableFactory = Callable[..., TrackTable]
BatchFactory = Callable[..., MeasBatch]
CFG = TrackerConfig()
POOL = CFG.surface  # coast after 60 s, delete after 900 s; tentative 60 s; position sigma 5 km


def _still(n: int = 1, sigma_m: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((n, 4)), np.tile(np.diag([sigma_m**2, sigma_m**2, 1.0, 1.0]), (n, 1, 1))


def test_confirmed_track_coasts_then_is_deleted_on_time(make_table: TableFactory) -> None:
    tab = make_table(*_still())
    assert expire(tab, POOL.coast_after_s - 0.1).size == 0 and tab["status"][0] == CONFIRMED
    assert expire(tab, POOL.coast_after_s + 0.1).size == 0 and tab["status"][0] == COASTING
    assert expire(tab, POOL.max_coast_s - 0.1).size == 0 and len(tab) == 1
    assert expire(tab, POOL.max_coast_s + 0.1).tolist() == [1] and len(tab) == 0


def test_tentative_track_dies_at_its_age_limit(make_table: TableFactory) -> None:
    tab = make_table(*_still(), status=TENTATIVE, hist=np.array([1]), looks=np.array([1]))
    assert expire(tab, POOL.tentative_max_age_s - 0.1).size == 0
    assert expire(tab, POOL.tentative_max_age_s + 0.1).tolist() == [1]


def test_covariance_growth_deletes_when_sigma_passes_the_limit(make_table: TableFactory) -> None:
    # model 0's position trace 2 x 4999^2 + 2 x 100 dt^2 passes 2 x 5000^2 at dt = sqrt(99.99) s ~ 10.0 s
    x, P = _still(sigma_m=4999.0)
    P[:, 2:, 2:] = 100.0 * np.eye(2)
    tab = make_table(x, P)
    limit = float(np.sqrt((2 * POOL.max_pos_sigma_m**2 - 2 * 4999.0**2) / 200.0))
    assert expire(tab, limit - 0.01).size == 0
    assert expire(tab, limit + 0.01).tolist() == [1]


def test_missed_looks_coast_then_delete(make_table: TableFactory, make_batch: BatchFactory) -> None:
    x, P = _still(2)
    x[1, 0] = 100_000.0  # outside the radar's coverage: never looked at
    tab = make_table(x, P)
    for k in range(1, CFG.delete_misses + 1):
        scan = make_batch(2.0 * k, [[30_000.0, 0.0]], look=(0.0, 0.0, 50_000.0))
        looked = count_misses(tab, scan, np.zeros(0, np.int64))
        assert looked.tolist() == [0] and tab["status"][0] == COASTING and tab["status"][1] == CONFIRMED
        deleted = expire(tab, 2.0 * k, touched=looked)
        assert deleted.tolist() == ([1] if k == CFG.delete_misses else [])
    assert tab.live()["id"].tolist() == [2]


def test_a_weak_target_with_a_full_hit_history_survives_more_misses(make_table: TableFactory, make_batch: BatchFactory) -> None:
    # both tracks have a full 64-look history; the first was seen on one look in two (a light aircraft, a skiff
    # at range), the second on every look: only the second goes after delete_misses missed looks
    half = int("01" * 32, 2)
    tab = make_table(*_still(2), hist=np.array([half, -1]), looks=np.array([64, 64]))
    gone: list[int] = []
    for k in range(1, 11):
        looked = count_misses(tab, make_batch(2.0 * k, [[30_000.0, 0.0]], look=(0.0, 0.0, 50_000.0)), np.zeros(0, np.int64))
        gone += expire(tab, 2.0 * k, touched=looked).tolist()
        assert gone == ([] if k < CFG.delete_misses else [2] if k < 10 else [2, 1])


def test_a_young_weak_target_survives_more_misses_than_a_young_strong_one(make_table: TableFactory,
                                                                         make_batch: BatchFactory) -> None:
    # 12 looks: the first track seen on one in two (a light aircraft at range: Pd estimate (6 + 0.9 x 3) / (12 + 3)
    # = 0.58, 8 misses to delete), the second on every one (the design Pd's delete_misses)
    tab = make_table(*_still(2), hist=np.array([int("01" * 6, 2), (1 << 12) - 1]), looks=np.array([12, 12]))
    gone: list[int] = []
    for k in range(1, 9):
        looked = count_misses(tab, make_batch(2.0 * k, [[30_000.0, 0.0]], look=(0.0, 0.0, 50_000.0)), np.zeros(0, np.int64))
        gone += expire(tab, 2.0 * k, touched=looked).tolist()
        assert gone == ([] if k < CFG.delete_misses else [2] if k < 8 else [2, 1])


def test_a_fresh_ais_report_vouches_for_the_track(make_table: TableFactory, make_batch: BatchFactory) -> None:
    tab = make_table(*_still(), last_ais_t=np.array([0.0]))
    scan = make_batch(POOL.coop_fresh_s - 1.0, [[30_000.0, 0.0]], look=(0.0, 0.0, 50_000.0))
    assert count_misses(tab, scan, np.zeros(0, np.int64)).size == 0
    later = make_batch(POOL.coop_fresh_s + 1.0, [[30_000.0, 0.0]], look=(0.0, 0.0, 50_000.0))
    assert count_misses(tab, later, np.zeros(0, np.int64)).tolist() == [0]


def test_an_ais_report_vouches_until_it_is_overdue_at_its_itu_rate(make_table: TableFactory, make_batch: BatchFactory) -> None:
    # class A at anchor: a report every 180 s (ITU-R M.1371); class A under way: every 10 s (the pool's 30 s floor)
    ivl = np.array([180.0, 10.0])
    tab = make_table(*_still(2), last_ais_t=np.zeros(2), ivl=ivl)
    vouch = CFG.coast_intervals * ivl[0]
    scan = make_batch(vouch - 1.0, [[30_000.0, 0.0]], look=(0.0, 0.0, 50_000.0))
    assert count_misses(tab, scan, np.zeros(0, np.int64)).tolist() == [1]
    later = make_batch(vouch + 1.0, [[30_000.0, 0.0]], look=(0.0, 0.0, 50_000.0))
    assert count_misses(tab, later, np.zeros(0, np.int64)).tolist() == [0, 1]


def test_duplicate_tracks_merge_into_the_older(make_table: TableFactory, make_batch: BatchFactory) -> None:
    x, P = _still(2)
    x[1, 0] = 20.0
    tab = make_table(x, P, first_t=np.array([5.0, -3.0]), mmsi=np.array([0, 366000001]))
    batch = make_batch(1.0, [[10.0, 0.0]])
    kp, _, _ = gate_pairs(tab, batch, np.ones(2, bool), np.ones(1, bool), np.zeros(1, bool), None, 0)
    ids = IdentityLog(8)
    merged, absorbed, kept = merge(tab, ids, kp, 1.0)
    assert merged.tolist() == [[1, 2]] and absorbed.tolist() == [0] and kept.tolist() == [1]
    assert expire(tab, 1.0, absorbed).tolist() == [1]
    assert tab.live()["mmsi"].tolist() == [366000001]


@pytest.mark.parametrize("budget_per_s", [1000.0, 2.0])
def test_births_start_tentative_tracks_within_the_site_budget(make_table: TableFactory, make_batch: BatchFactory,
                                                              budget_per_s: float) -> None:
    cfg = TrackerConfig(max_births_per_source_s=budget_per_s, births_burst_s=1.0)
    tab = make_table(*_still(), config=cfg)
    batch = make_batch(0.0, [[1000.0 * k, 0.0] for k in range(5)])
    unused = np.array([True, False, True, True, True])
    born = birth(tab, IdentityLog(8), BirthBudget(cfg), batch, unused, np.zeros(5, bool), None, 10)
    n = min(4, int(budget_per_s))
    assert born.tolist() == list(range(10, 10 + n))
    assert tab["status"][1:].tolist() == [TENTATIVE] * n
    np.testing.assert_array_equal(tab["cx"][1:, :2], batch.z[np.flatnonzero(unused)[:n], :2])
    assert np.isfinite(tab["due"][1:]).all()


def test_birth_budgets_stay_bounded_in_sources_and_use_their_kinds_bucket() -> None:
    budget = BirthBudget(TrackerConfig(max_births_per_source_s=1.0, births_burst_s=2.0))  # radar: 2 deep, 1/s
    budget.MAX_SOURCES = 2
    assert budget.allow("radar/a", 0.0, 5) == 2 and budget.allow("radar/b", 0.0, 5) == 2
    assert budget.allow("radar/c", 1.0, 5) == 2  # a and b not refilled yet (1 token each): kept
    assert set(budget.state) == {"radar/a", "radar/b", "radar/c"}
    assert budget.refused == {"radar/a": 3, "radar/b": 3, BirthBudget.OTHER: 3}  # c beyond MAX_SOURCES
    assert budget.allow("radar/d", 10.0, 1) == 1  # a, b, c refilled by now: forgotten, the same as absent
    assert set(budget.state) == {"radar/d"}
    assert budget.allow("adsb/rx", 0.0, 10_000) == int(TrackerConfig().coop_births_burst)  # a cooperative source's bucket
