"""The out-of-sequence log alone (which checkpoints are kept, where a late payload's rows go) and
the per-source re-run budget, alone and in the tracker."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fusion.core.arrays import MeasBatch
from fusion.core.config import TrackerConfig
from fusion.core.oosm import ReplayLog, RerunBudget
from fusion.core.tracker import Tracker

BatchFactory = Callable[..., MeasBatch]
CFG = TrackerConfig(oosm_lag_s=30.0, checkpoint_interval_s=10.0, recent_checkpoint_interval_s=0.5,
                    recent_checkpoint_window_s=2.0)


def _logged(make_batch: BatchFactory, times: np.ndarray) -> ReplayLog:
    log = ReplayLog(CFG)
    now = -np.inf
    for t in times:
        log.maybe_checkpoint(float(t), now, lambda now=now: {"now": np.array(now)}, {})
        log.append(make_batch(float(t), [[0.0, 0.0]]))
        now = float(t)
    return log


def test_recent_checkpoints_dense_older_ones_sparse(make_batch: BatchFactory) -> None:
    log = _logged(make_batch, np.arange(0.0, 60.0, 0.2))
    times = [cp.t for cp in log.checkpoints]
    assert times == sorted(times) and times[0] <= 59.8 - CFG.oosm_lag_s  # one at or before the lag horizon
    recent = [t for t in times if t >= 59.8 - CFG.recent_checkpoint_window_s]
    assert len(recent) >= 3 and min(np.diff(recent)) > 0.3  # about every 0.5 s (stamped at the batch before) over 2 s
    older = [t for t in times if t < 59.8 - CFG.recent_checkpoint_window_s]
    assert len(older) >= 3 and all(b - a >= CFG.checkpoint_interval_s - 0.2 for a, b in itertools.pairwise(older[1:]))
    assert log.times[0] >= times[0] - 1e-9 and len(log.batches) == len(log.times)  # nothing older than the oldest kept


def test_a_late_payload_is_split_between_the_logged_batches(make_batch: BatchFactory) -> None:
    log = _logged(make_batch, np.arange(0.0, 10.0, 1.0))
    late = make_batch(np.array([6.5, 3.5, 6.7]), [[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    found = log.rewind(late)
    assert found is not None
    cp, replay = found
    assert cp.t <= 3.5 and all(c.t <= cp.t for c in log.checkpoints)  # newer checkpoints are dropped
    times = [float(b.t.min()) for b in replay]
    assert times == sorted(times)
    parts = [b for b in replay if b.z[0, 0] > 0.0]
    assert [b.t.tolist() for b in parts] == [[3.5], [6.5, 6.7]]
    assert times.index(3.5) == times.index(3.0) + 1 and times.index(6.5) == times.index(6.0) + 1


def test_nothing_to_rewind_to_before_the_oldest_checkpoint(make_batch: BatchFactory) -> None:
    log = _logged(make_batch, np.arange(100.0, 140.0, 1.0))
    assert log.rewind(make_batch(50.0, [[0.0, 0.0]])) is None


def test_nothing_to_rewind_to_is_seen_without_changing_the_log(make_batch: BatchFactory) -> None:
    log = _logged(make_batch, np.arange(100.0, 140.0, 1.0))
    kept = [cp.t for cp in log.checkpoints]
    assert log.rewind_to(50.0) is None
    since = log.rewind_to(138.3)
    assert since is not None and 137.5 <= since <= 138.3 and [cp.t for cp in log.checkpoints] == kept  # peeked only


def test_the_rerun_budget_refills_at_its_rate_up_to_its_depth() -> None:
    budget = RerunBudget(TrackerConfig(rerun_budget_s_per_s=0.25, rerun_burst_s=5.0))
    assert budget.allow("radar/a", 100.0, 4.0)  # a fresh source: the whole depth
    assert not budget.allow("radar/a", 100.0, 4.0)  # 1 s left
    assert budget.allow("radar/b", 100.0, 4.0)  # per source
    assert not budget.allow("radar/a", 110.0, 4.0) and budget.allow("radar/a", 112.0, 4.0)  # 1 + 0.25 s/s x 12 s = 4 s
    assert not budget.allow("radar/a", 1_000.0, 5.5)  # never more than the depth, however long the quiet spell
    assert RerunBudget(TrackerConfig(rerun_burst_s=math.inf)).allow("radar/a", 0.0, 1e9)  # inf: no bound


def test_the_rerun_budget_forgets_only_refilled_sources_when_it_holds_many() -> None:
    budget = RerunBudget(TrackerConfig(rerun_budget_s_per_s=1.0, rerun_burst_s=5.0))
    budget.MAX_SOURCES = 3
    assert budget.allow("radar/a", 0.0, 5.0) and budget.allow("radar/b", 3.0, 5.0) and budget.allow("radar/c", 4.0, 1.0)
    assert budget.allow("radar/d", 5.0, 1.0)  # a new source: a and c (refilled to 5 s by then) forgotten, b (2 s) kept
    assert set(budget.state) == {"radar/b", "radar/d"} and not budget.allow("radar/b", 5.0, 3.0)  # b still owes its re-run


@given(costs=st.lists(st.tuples(st.floats(0.0, 10.0), st.floats(0.0, 20.0)), min_size=1, max_size=60))
def test_the_rerun_budget_never_allows_more_than_its_depth_plus_its_rate(costs: list[tuple[float, float]]) -> None:
    cfg = TrackerConfig(rerun_budget_s_per_s=0.25, rerun_burst_s=5.0)
    budget, now, spent = RerunBudget(cfg), 0.0, 0.0
    for dt, cost in costs:
        now += dt
        spent += cost if budget.allow("radar/rogue", now, cost) else 0.0
    assert spent <= cfg.rerun_burst_s + cfg.rerun_budget_s_per_s * now + 1e-9


def _scan(make_batch: BatchFactory, t: float, site: str, xy: list[list[float]], kind: str = "radar") -> MeasBatch:
    return replace(make_batch(t, xy, kind=kind, mmsi=[366000001] if kind == "ais" else None), sensor_id=site)


@pytest.mark.parametrize("kind", ["radar", "ais"])
def test_a_source_always_behind_is_not_rerun_beyond_its_budget_and_the_others_still_are(make_batch: BatchFactory, kind: str) -> None:
    # a good radar at 1 Hz sees a vessel going east at 5 m/s; another source's reports of the same
    # vessel (radar plots, or AIS naming it) arrive 4 s behind the good data, every second
    cfg = TrackerConfig(rerun_budget_s_per_s=0.25, rerun_burst_s=5.0)
    trk = Tracker(cfg, "surface")
    pos = lambda t: [[5.0 * t, 0.0]]  # noqa: E731
    reruns, refused, fused, dropped, replayed = 0, 0, 0, 0, 0.0
    for k in range(60):
        t = float(k)
        trk.step(_scan(make_batch, t, "good", pos(t)))
        if k >= 5:
            res = trk.step(_scan(make_batch, t - 4.0, "behind", pos(t - 4.0), kind))
            reruns += res.rerun_batches > 0
            refused += res.rerun_refused
            fused += res.late_fused
            dropped += res.late_dropped
            replayed += res.rerun_s
    # ~4.5 s a re-run: one from the depth, then one per 18 s at 0.25 s/s over the 54 s (the budget's depth and rate given)
    assert 1 <= reruns <= 1 + math.ceil(54 * 0.25 / 4.0) and refused == 55 - reruns
    assert 4.0 * reruns <= replayed <= cfg.rerun_burst_s + cfg.rerun_budget_s_per_s * 54  # what the budget charged: within it
    if kind == "ais":  # each refused report still updated the vessel's track, by retrodiction
        assert (fused, dropped) == (refused, 0)
    else:  # anonymous plots beyond the budget: dropped as late, counted (retrodiction would start no track)
        assert (fused, dropped) == (0, refused)
    view = trk.view(59.0)
    assert len(view) == 1 and abs(float(view.x[0, 0]) - 5.0 * 59) < 30.0
    late_good = trk.step(_scan(make_batch, 58.5, "good", pos(58.5)))  # the good site's own late scan: its budget is whole
    assert late_good.rerun_batches > 0 and late_good.rerun_refused == 0


@pytest.mark.parametrize("name", ["rerun_budget_s_per_s", "rerun_burst_s"])
@pytest.mark.parametrize("value", [-1.0, float("nan")])
def test_bad_rerun_budgets_are_refused_naming_them(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        TrackerConfig(**{name: value})  # type: ignore[arg-type]
