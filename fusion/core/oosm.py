"""Out-of-sequence measurements: the checkpoints and the batch log of a fixed-lag re-run.

The tracker snapshots its state every ``recent_checkpoint_interval_s`` of batch time and
keeps those of the newest ``recent_checkpoint_window_s``, older ones
``checkpoint_interval_s`` apart, and the newest at or before the lag horizon; the batches
since the oldest kept checkpoint are logged. A batch older than the newest processed time
(within ``oosm_lag_s``) is inserted into the log in time order, and the tracker restores
the newest checkpoint before it and processes the log from there (docs/TRACKER.md).

A re-run costs the replay of every source's batches since that checkpoint, so one source
whose data keeps arriving behind the others (a flooding or lagging feed) could make the
tracker redo its lag at every batch. ``RerunBudget`` bounds that per source: the batch time
re-run on account of one source's out-of-sequence batches, per second of batch time; an
out-of-sequence batch beyond its source's budget is fused by retrodiction instead
(fusion/core/late.py, counted per source by the pipeline).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from fusion.core.arrays import MeasBatch, take_rows
from fusion.core.config import TrackerConfig


class Checkpoint(NamedTuple):
    """The tracker's state before the batch at log position ``start``."""

    t: float  # newest batch time processed at the checkpoint
    snap: dict[str, np.ndarray]  # Tracker.snapshot()
    start: int  # index in the log of the first batch after it
    births: dict[str, tuple[float, float]]  # birth budgets (manage.BirthBudget.state)


class ReplayLog:
    """Checkpoints and logged batches within the out-of-sequence lag."""

    def __init__(self, config: TrackerConfig) -> None:
        self.config = config
        self.checkpoints: list[Checkpoint] = []
        self.batches: list[MeasBatch] = []  # since the oldest checkpoint, in time order
        self.times: list[float] = []  # each logged batch's oldest time
        self.late: list[tuple[float, MeasBatch]] = []  # rows fused by retrodiction (fusion/core/late.py), with the tracker time then

    def maybe_checkpoint(self, t: float, now: float, snapshot: Callable[[], dict[str, np.ndarray]],
                         births: dict[str, tuple[float, float]]) -> None:
        """Before processing a batch at ``t`` (tracker time ``now``): a checkpoint when the newest is
        ``recent_checkpoint_interval_s`` old; then keep the recent ones, older ones
        ``checkpoint_interval_s`` apart, and the newest at or before the lag horizon."""
        c = self.config
        if c.oosm_lag_s <= 0:
            return
        interval = min(c.recent_checkpoint_interval_s, c.checkpoint_interval_s)
        if self.checkpoints and t < self.checkpoints[-1].t + interval:
            return
        self.checkpoints.append(Checkpoint(now, snapshot(), len(self.batches), dict(births)))
        horizon = t - c.oosm_lag_s
        keep_from = max(0, bisect.bisect_right([cp.t for cp in self.checkpoints], horizon) - 1)
        kept = self.checkpoints[keep_from:keep_from + 1]
        for cp in self.checkpoints[keep_from + 1:]:  # each keeps its own log index: any may go
            if cp.t >= t - c.recent_checkpoint_window_s or cp.t >= kept[-1].t + c.checkpoint_interval_s:
                kept.append(cp)
        drop = kept[0].start
        self.checkpoints = [cp._replace(start=cp.start - drop) for cp in kept]
        self.late = [(lt, b) for lt, b in self.late if lt >= kept[0].t]
        if drop:
            del self.batches[:drop], self.times[:drop]

    def add_late(self, now: float, batch: MeasBatch) -> None:
        """Remember rows fused by retrodiction at tracker time ``now``: a re-run from an older
        checkpoint applies them again (``late_since``)."""
        if self.config.oosm_lag_s > 0:
            self.late.append((now, batch))

    def late_since(self, t: float) -> list[MeasBatch]:
        """Late rows fused after tracker time ``t`` (one fused at ``t`` itself may be in a
        checkpoint taken then: never applied twice)."""
        return [b for lt, b in self.late if lt > t]

    def rewind_to(self, t: float) -> float | None:
        """Batch time of the checkpoint ``rewind`` would restore for a batch whose oldest row is at
        ``t`` (s), None when no checkpoint is that old; changes nothing."""
        k = bisect.bisect_right([cp.t for cp in self.checkpoints], t) - 1
        return self.checkpoints[k].t if k >= 0 else None

    def append(self, batch: MeasBatch) -> None:
        """Log an in-order batch."""
        if self.config.oosm_lag_s > 0:
            self.batches.append(batch)
            # kept sorted: a cooperative batch fused in place (TrackerConfig.coop_skew_s) is logged
            # at the time it was processed, after the newer batches before it
            self.times.append(max(float(batch.t.min()), self.times[-1]) if self.times else float(batch.t.min()))

    def rewind(self, batch: MeasBatch) -> tuple[Checkpoint, list[MeasBatch]] | None:
        """For a late ``batch``: the newest checkpoint before it (newer ones are dropped) and the
        logged batches to process after restoring it, ``batch`` inserted in time order; None
        when no checkpoint is that old.

        Each row goes after the logged batches no newer than it: a late payload spanning
        minutes (satellite AIS) is split, so that no row is processed before a logged batch
        older than it (which would then meet tracks already moved past its time)."""
        k = bisect.bisect_right([cp.t for cp in self.checkpoints], float(batch.t.min())) - 1
        if k < 0:
            return None
        cp = self.checkpoints[k]
        self.checkpoints = self.checkpoints[: k + 1]
        slot = np.searchsorted(np.asarray(self.times), batch.t, side="right")
        for pos in np.unique(slot)[::-1].tolist():  # from the back: earlier positions stay valid
            rows = np.flatnonzero(slot == pos)
            part = batch if rows.size == len(batch) else take_rows(batch, rows)
            self.batches.insert(pos, part)
            self.times.insert(pos, float(part.t.min()))
        return cp, self.batches[cp.start:]


class RerunBudget:
    """Token bucket per source ("kind/sensor id") in batch time: the batch time (s) the tracker may
    re-run for that source's out-of-sequence batches, ``rerun_budget_s_per_s`` per second of batch
    time, ``rerun_burst_s`` deep. Deterministic (batch time, not the wall); not part of the
    checkpoints (a re-run does not give a source back what it spent)."""

    MAX_SOURCES = 4_096  # beyond this many sources remembered, those whose bucket has refilled are forgotten

    def __init__(self, config: TrackerConfig) -> None:
        self.config = config
        self.state: dict[str, tuple[float, float]] = {}  # source -> (tokens, batch time)

    def allow(self, source: str, now: float, cost_s: float) -> bool:
        """Whether ``source`` may have the tracker re-run ``cost_s`` seconds of batch time at batch time
        ``now`` (s); charges it when allowed."""
        c = self.config
        if c.rerun_burst_s == math.inf:
            return True
        if source not in self.state and len(self.state) >= self.MAX_SOURCES:  # forget full buckets: the same as absent
            self.state = {k: (tk, t) for k, (tk, t) in self.state.items() if tk + max(0.0, now - t) * c.rerun_budget_s_per_s < c.rerun_burst_s}
        tokens, last = self.state.get(source, (c.rerun_burst_s, now))
        tokens = min(c.rerun_burst_s, tokens + max(0.0, now - last) * c.rerun_budget_s_per_s)
        ok = cost_s <= tokens
        self.state[source] = (tokens - cost_s if ok else tokens, max(last, now))
        return ok
