"""The fusion worker: everything that touches ``Fusion``, one step at a time, in one thread.

A step accepts the messages the loop took, advances fusion to "now" (or to the horizon the
loop gives), turns each output tick into outgoing messages (alerts first, then the retained
updates of the tracks that changed, clears, the picture a slice at a time) and does the
periodic work due (rejects summaries, checkpoint, status). It also measures the latencies
of ``ServiceStats``: receive -> fused per message, measurement -> update / alert queued.

Output ticks bounded in time: when more ticks are due at once than ``TICK_SHARE`` of the
time since the last step affords (at the measured cost of a tick: its batches, the rules,
the publishing), only that many are evaluated, at least the newest (``Fusion.advance``'s
catch-up, never more than ``catch_up_ticks``; the others' data is still fused, counted in
``ticks_skipped``). Under a load whose ticks take most of the interval between them (the
rules over a flood's thousands of tracks: 74 ms a tick at ~14,000 tracks, 0.1 s apart), evaluating every
due tick kept the worker behind its clock, and every source's data waited for ticks already
out of date; the newest tick's alerts carry what the skipped ones would have raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fusion.actions import FEED as OPS_FEED
from fusion.clock import Clock
from fusion.fairqueue import Queued
from fusion.ingest import FEED_KINDS
from fusion.intake import Intake
from fusion.picturejob import PictureJob
from fusion.pipeline import Fusion, Tick
from fusion.publish import (
    OutMessage,
    TrackUpdates,
    alert_topic,
    domain_of_track,
    encode,
    rejects_topic,
    track_rows,
    track_topic,
)
from fusion.servicestate import Checkpoints
from fusion.status import STATES, ServiceStats, StatusReport

Emit = Callable[[list[OutMessage]], None]
TICK_SHARE = 0.5  # of the wall time between two steps, the most the ticks may take when more are due than that affords
TICK_COST_ALPHA = 0.2  # weight of the newest tick in the running mean of a tick's cost (about the last 5 ticks)


@dataclass(frozen=True)
class Due:
    """Periodic work the loop asks the worker to do in a step."""

    status: bool = False
    rejects: bool = False
    checkpoint: bool = False
    final: bool = False  # shutdown: status "offline"


def feed_of(topic: str) -> str:
    """Feed kind of a feed topic, "ops" for operator actions ("unknown" for anything else)."""
    parts = topic.split("/", 4)
    if len(parts) > 3 and parts[2] == OPS_FEED:
        return OPS_FEED
    return parts[3] if len(parts) > 3 and parts[3] in FEED_KINDS else "unknown"


def alert_ages(tick: Tick, at: float) -> np.ndarray:
    """Seconds from the last update of each alert's track to ``at`` (when the alerts are queued,
    service clock), shape (alerts of the tick,) at most; empty without alerts."""
    if not tick.alerts:
        return np.zeros(0)
    ids = np.concatenate([v.track_id for v in tick.views.values()])
    last_t = np.concatenate([v.last_t for v in tick.views.values()])
    alert_ids = np.array([a.track_id for a in tick.alerts], dtype=np.int64)
    return at - last_t[np.isin(ids, alert_ids)]


class FusionWorker:
    """One service's fusion steps; only this touches ``fusion`` (from the worker thread)."""

    def __init__(self, fusion: Fusion, stats: ServiceStats, intake: Intake, report: StatusReport, checkpoints: Checkpoints,
                 updates: TrackUpdates, *, clock: Callable[[], Clock | None], picture_interval_s: float, catch_up_ticks: int,
                 on_tick: Callable[[Tick], None] | None = None) -> None:
        """``clock()``: the service clock (live: latencies are measured on it when ``emit`` hands messages over)."""
        self.fusion, self.stats, self.intake, self.report, self.checkpoints = fusion, stats, intake, report, checkpoints
        self.updates, self.clock, self.on_tick = updates, clock, on_tick
        self.picture_interval_s, self.catch_up_ticks = picture_interval_s, catch_up_ticks
        self.fuse_until: float | None = None  # on stop: perf_counter time after which a step accepts no more messages
        self._next_picture_t: float | None = None
        self._picture = PictureJob(fusion.frame)
        self._last_rejects: dict[str, int] = {}
        self._tick_s: float | None = None  # running mean of one evaluated tick's wall seconds (its batches, rules, publishing)
        self._last_advance: float | None = None  # perf_counter time the last step's release began

    def step(self, took: Sequence[Queued], now: float, due: Due, horizon: float | None = None,
             emit: Emit | None = None) -> tuple[list[OutMessage], list[Queued]]:
        """Accept ``took``, then release data and output ticks up to ``now`` (service clock, s),
        or only up to ``horizon`` (the receive time of the oldest message not yet taken) when that is earlier.

        Returns the outgoing messages and the messages not accepted because ``fuse_until`` passed;
        with ``emit`` (live), each tick's messages are handed to it as soon as the tick is built
        (alerts need not wait for the rest of the step), and their latencies are measured at
        that moment on the service clock, not at ``now``."""
        started = time.perf_counter()
        out: list[OutMessage] = []
        left: list[Queued] = []
        waits = np.empty(len(took))
        for i, msg in enumerate(took):
            if self.out_of_time():
                left, waits = list(took[i:]), waits[:i]  # stopping, out of time: to be dropped and counted
                break
            topic, payload, recv_t = msg[0], msg[1], msg[2]
            t = recv_t if recv_t is not None else now
            waits[i] = now - t
            pre = msg.pre if isinstance(msg, Queued) else None  # (a plain (topic, payload, recv_t) from tests and benches)
            kept = self.fusion.accept(topic, payload, t, pre)
            self.intake.settle(topic, payload, kept)
            self.stats.fused[f"{feed_of(topic)}/{'accepted' if kept else 'rejected'}"] += 1
        if not self.out_of_time():  # (stopping and out of time: nothing is released, and a release under way stops
            # at the next batch or tick: what was accepted and not fused stays in the re-order buffer, which the checkpoint holds)
            began = time.perf_counter()
            catch_up = self.affordable_ticks(began)
            for tick in self.fusion.advance(now if horizon is None else min(now, horizon), catch_up, self.out_of_time):
                out.extend(self.tick_messages(tick, now, emit))
                done = time.perf_counter()
                cost = done - began
                self._tick_s = cost if self._tick_s is None else self._tick_s + TICK_COST_ALPHA * (cost - self._tick_s)
                began = done
        out.extend(self._picture.finish() if due.final else self._picture.advance())
        if due.rejects or due.final:
            out.extend(self.rejects_messages())
        if due.checkpoint:
            self.checkpoints.save()
        if due.status or due.final:
            self.refresh_counts()
            out.append(self.report.message("offline" if due.final else "online", self.report.body(now)))
        with self.stats.lock:
            self.stats.fuse_wait.add(waits)
            self.stats.step_s.add([time.perf_counter() - started])
        return out, left

    def affordable_ticks(self, at: float) -> int:
        """How many due ticks the release starting at ``at`` (perf_counter s) may evaluate: ``TICK_SHARE`` of
        the wall seconds since the last release began over a tick's running cost, at least 1 (the newest), at
        most ``catch_up_ticks`` (0: every due tick, as configured; also before any tick has been timed)."""
        last, self._last_advance = self._last_advance, at
        if self.catch_up_ticks == 0 or self._tick_s is None or last is None:
            return self.catch_up_ticks
        return max(1, min(self.catch_up_ticks, int(TICK_SHARE * (at - last) / max(self._tick_s, 1e-6))))

    def out_of_time(self) -> bool:
        """Stopping, and past ``fuse_until``: a step accepts and fuses nothing more."""
        return self.fuse_until is not None and time.perf_counter() > self.fuse_until

    def tick_messages(self, tick: Tick, now: float, emit: Emit | None = None) -> list[OutMessage]:
        """Alerts (all, QoS 1); retained updates of the tracks that changed (``TrackUpdates``),
        built only for those; clears of deleted published tracks; when due, the picture is
        started (``PictureJob`` builds it over the next steps) and the previous one finished.

        With ``emit`` the alerts are handed to it at once (before the track updates are built),
        and then the rest; the latencies are measured on the service clock at those moments."""
        clock = self.clock() if emit is not None else None
        held: list[OutMessage] = []
        hand = emit if emit is not None and clock is not None else held.extend  # live: out at once; else returned

        def at() -> float:  # when messages are handed over: the service clock live, the step's time otherwise
            return clock.now() if clock is not None else now

        journal = self.checkpoints.journal
        if journal is not None:  # written down before anyone can see the alerts or the new track ids
            journal.record(self.fusion, tick.alerts)
        alerts = [OutMessage(alert_topic(a.rule, a.track_id), encode(a), qos=1) for a in tick.alerts]
        ages = alert_ages(tick, at())
        with self.stats.lock:
            self.stats.alert_age.add(ages)
        hand(alerts)
        out: list[OutMessage] = []
        n_updates = 0
        published_last_t = []
        for domain, rows in self.updates.select(tick.t, tick.views).items():
            if len(rows):
                changed = track_rows(tick.views[domain].take(rows), self.fusion.frame, tick.identity)
                out.extend(OutMessage(track_topic(r.domain, r.track_id), encode(r), qos=0, retain=True) for r in changed)
                n_updates += len(changed)
                published_last_t.append(tick.views[domain].last_t[rows])
        for tid in self.updates.forget(tick.deleted_ids):
            out.append(OutMessage(track_topic(domain_of_track(tid), tid), b"", qos=1, retain=True))
        if self._next_picture_t is None or tick.t >= self._next_picture_t - 1e-9:
            out.extend(self._picture.finish())  # the previous picture, if still in the making, goes first
            self._picture.start(tick)
            self._next_picture_t = tick.t + self.picture_interval_s
        updated = np.concatenate(published_last_t) if published_last_t else np.zeros(0)
        with self.stats.lock:  # measurement -> track update queued: the newest measurement in each
            self.stats.update_age.add(at() - updated)
        self.stats.alerts_published += len(tick.alerts)
        self.stats.tracks_published += n_updates
        self.stats.tracks_by_state = {(d, STATES[s]): int(n) for d, v in tick.views.items()
                                      for s, n in enumerate(np.bincount(v.status, minlength=len(STATES))) if n}
        if self.on_tick is not None:
            self.on_tick(tick)
        hand(out)
        return held

    def rejects_messages(self) -> list[OutMessage]:
        """The rejects summary of every feed whose reject count changed since the last one."""
        out = []
        for feed in (*FEED_KINDS, OPS_FEED, "unknown"):
            n = self.fusion.ingest.log.total_rejected(feed)
            if n != self._last_rejects.get(feed, 0):
                self._last_rejects[feed] = n
                out.append(OutMessage(rejects_topic(feed), encode(self.fusion.ingest.log.summary(feed)), qos=0))
        return out

    def refresh_counts(self) -> None:
        """Copy the pipeline's accepted / rejected counts into the stats (for the status and metrics)."""
        rl = self.fusion.ingest.log
        self.stats.rejected = {f: rl.total_rejected(f) for f in (*FEED_KINDS, OPS_FEED, "unknown")}
        self.stats.accepted = {f: rl.accepted_messages[f] for f in (*FEED_KINDS, OPS_FEED)}
