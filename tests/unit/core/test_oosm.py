"""The out-of-sequence log alone: which checkpoints are kept, and where a late payload's rows go."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from fusion.core.arrays import MeasBatch
from fusion.core.config import TrackerConfig
from fusion.core.oosm import ReplayLog

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
