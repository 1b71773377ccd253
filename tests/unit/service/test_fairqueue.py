"""Fair queueing of the inbound buffer (fusion/fairqueue.py): deficit round robin over sources,
deferral of a lagging source from the horizon, stale shedding, longest-queue drop."""

from __future__ import annotations

import pytest

from fusion.fairqueue import ACTIVE_S, MESSAGE_COST, FairQueue, Queued, max_min_shares


def msg(key: str, t: float | None, cost: int = 1, size: int = 10, sheddable: bool = True) -> Queued:
    return Queued(f"jisf/v1/feeds/{key}", b"x" * size, t, key, cost, sheddable)


def test_a_flooding_source_waits_behind_itself_not_in_front_of_others() -> None:
    q = FairQueue(quantum=1_000, defer_after_s=1.0)
    for i in range(50):  # the rogue queued first: 50 messages of 1,000 measurements (with the message's own cost)
        q.push(msg("radar/rogue", 0.0 + i * 0.001, cost=1_000 - MESSAGE_COST))
    q.push(msg("radar/good", 0.1, cost=500))
    q.push(msg("ais/good", 0.2, cost=2))
    took, stale = q.take(10_000, 10**9)
    assert [m.key for m in took] == ["radar/rogue", "radar/good", "ais/good"] and not stale  # one quantum each
    assert len(q) == 49 and q.depth("radar/rogue") == 49
    q.push(msg("radar/good", 1.1, cost=500))
    took, _ = q.take(10_000, 10**9)
    assert sorted(m.key for m in took) == ["radar/good", "radar/rogue"]  # the good scan at the next step, whatever the backlog


def test_a_message_costing_more_than_the_quantum_goes_once_the_deficit_covers_it() -> None:
    q = FairQueue(quantum=1_000, defer_after_s=1.0)
    q.push(msg("radar/big", 0.0, cost=2_500))
    q.push(msg("radar/small", 0.0, cost=10))
    q.push(msg("radar/small", 0.0, cost=10))
    took, _ = q.take(100, 10**9)
    assert [m.key for m in took] == ["radar/small", "radar/small"]  # the big scan banks its quantum
    q.push(msg("radar/small", 0.0, cost=10))
    assert [m.key for m in q.take(100, 10**9)[0]] == ["radar/small"]  # 2,000 banked: not yet
    assert [m.cost for m in q.take(100, 10**9)[0]] == [2_500]  # 3,000 >= 2,500
    assert len(q) == 0


def test_a_lone_source_is_served_whatever_the_quantum() -> None:
    q = FairQueue(quantum=10, defer_after_s=1.0)
    q.push(msg("radar/big", 0.0, cost=50_000))
    took, _ = q.take(100, 10**9)  # rounds repeat until the head is covered: a step is never empty
    assert len(took) == 1 and len(q) == 0


def test_the_step_bounds_hold_and_the_round_resumes_where_it_stopped() -> None:
    q = FairQueue(quantum=100, defer_after_s=1.0)
    for key in ("radar/a", "radar/b", "radar/c"):
        for _ in range(3):
            q.push(msg(key, 0.0, cost=1, size=100))
    took, _ = q.take(2, 10**9)  # two messages: a's and b's first (a share of one each)
    assert [m.key for m in took] == ["radar/a", "radar/b"]
    took, _ = q.take(100, 450)  # c had not been served: it goes first; 150 bytes a source: one message each
    assert [m.key for m in took] == ["radar/c", "radar/a", "radar/b"]
    assert [m.key for m in q.take(100, 10**9)[0]] == ["radar/c", "radar/c", "radar/a", "radar/b"]
    assert len(q) == 0


def test_a_source_of_many_small_messages_leaves_every_other_source_its_share_of_the_step() -> None:
    q = FairQueue(quantum=10_000, defer_after_s=1.0)
    for i in range(20_000):  # an SBS-1 flood: one line (one measurement) a message, queued first
        q.push(msg("adsb/flood", i * 1e-5))
    for i in range(3):
        q.push(msg("radar/good", 0.5 + i, cost=1_000))
    for i in range(1_500):  # a busy AIS aggregator's backlog: more than an equal third of the step
        q.push(msg("ais/good", 0.6 + i * 1e-4, cost=2))
    took, _ = q.take(5_000, 10**9)
    keys = [m.key for m in took]
    # max-min: the radar's 3 whole, the AIS backlog's 1,500 whole (under half of the 4,997 left); the flood's
    # share is the rest, 3,497, but its quantum covers 10,000 / (1 + MESSAGE_COST) one-line messages
    flood = 10_000 // (1 + MESSAGE_COST)
    assert (keys.count("radar/good"), keys.count("ais/good"), keys.count("adsb/flood")) == (3, 1_500, flood)
    q.push(msg("ais/good", 3.0, cost=2))
    assert q.horizon(3.0) == 3.0 and q.deferred == {"adsb/flood"}  # beyond its share and lagging: deferred
    for _ in range(3_000):
        q.push(msg("ais/good", 3.0, cost=2))
    took, _ = q.take(5_000, 10**9)  # two backlogged sources: a half each, as far as their quanta go
    keys = [m.key for m in took]
    assert (keys.count("ais/good"), keys.count("adsb/flood")) == (10_000 // (2 + MESSAGE_COST), flood)
    assert max_min_shares([10, 3_000, 20_000], 5_000) == [10, 2_495, 2_495]
    assert max_min_shares([1, 1], 1) == [0, 1] and max_min_shares([], 7) == []


def test_a_lagging_source_is_deferred_only_while_another_keeps_up() -> None:
    q = FairQueue(quantum=100, defer_after_s=1.0)
    q.push(msg("radar/rogue", 10.0, cost=100 - MESSAGE_COST))
    q.push(msg("radar/rogue", 10.5, cost=100 - MESSAGE_COST))
    assert q.horizon(12.0) == 10.0 and q.deferred == frozenset()  # alone: the whole service is behind, the horizon holds
    q.push(msg("ais/good", 11.9))
    q.take(100, 10**9)  # (the good message is fused; the rogue gives its first)
    assert q.horizon(12.0) is None and q.deferred == {"radar/rogue"}  # the good source keeps up: the rogue no longer holds it
    q.push(msg("ais/good", 12.0))
    assert q.horizon(12.2) == 12.0  # the good source's own queue still holds the horizon
    assert q.horizon(13.5) == 12.0 and q.deferred == {"radar/rogue"}  # within its share: never deferred, however long it waited
    assert q.horizon(12.0 + ACTIVE_S + 1.0) == 10.5 and q.deferred == frozenset()  # everyone lags: nobody is deferred


def test_stale_messages_of_a_deferred_source_are_shed_and_counted_but_never_unsheddable_ones() -> None:
    q = FairQueue(quantum=100, defer_after_s=1.0)
    for t in (1.0, 2.0, 3.0):
        q.push(msg("radar/rogue", t))
    q.push(msg("sat", 0.5, sheddable=False))  # satellite scenes arrive late by nature: never shed as stale
    took, stale = q.take(100, 10**9, released_t=2.5)
    assert [m.recv_t for m in stale] == [1.0, 2.0] and q.stale_by_source == {"radar/rogue": 2}
    assert sorted(m.recv_t for m in took) == [0.5, 3.0] and len(q) == 0  # type: ignore[type-var]


def test_a_full_buffer_sheds_the_oldest_of_the_longest_queue_and_taken_messages_go_back_in_front() -> None:
    q = FairQueue()
    for t in (1.0, 2.0, 3.0):
        q.push(msg("adsb/flood", t))
    q.push(msg("radar/good", 0.0))
    assert q.shed_longest().recv_t == 1.0 and len(q) == 3
    took, _ = q.take(100, 10**9)
    q.push_front(took)
    assert len(q) == 3 and [m.recv_t for m in q if m.key == "adsb/flood"] == [2.0, 3.0]  # in their order
    assert sorted(m.recv_t for m in q.clear()) == [0.0, 2.0, 3.0] and len(q) == 0  # type: ignore[type-var]


@pytest.mark.parametrize(("quantum", "defer"), [(0, 1.0), (10, -1.0), (10, float("nan"))])
def test_bad_settings_are_refused_naming_them(quantum: int, defer: float) -> None:
    with pytest.raises(ValueError, match=r"quantum|defer_after_s"):
        FairQueue(quantum, defer)
