"""The live service shell: MQTT in, ``Fusion`` in a worker thread, MQTT out. Only asyncio here.

Phases: startup (restore the checkpoint if there is one, connect, publish retained
status "online" with a last will "offline"), main loop, shutdown (stop intake, fuse what
is queued for at most ``shutdown_budget_s`` and drop the rest, counted, write a final
checkpoint, flush outgoing alerts and the final status "offline").

Threads and processes: the MQTT connection (``Link``) runs in a child process by default
(``LinkProcess``, option ``mqtt_io``), so that paho's per-message cost runs on another core
than fusion; the event loop here receives its messages in batches, only timestamps and
enqueues them, and hands outgoing messages back. Every
call into ``Fusion`` runs in one worker thread, one step at a time: a step takes up to
``fuse_batch`` queued messages, accepts them, advances to "now" and returns the outgoing
messages, status, rejects summaries and checkpoint due. Only the worker touches
``Fusion``; the loop only moves messages between the queues.

Overload policy (docs/OPERATIONS.md): every feed source has a budget (``fusion.intake``):
a message beyond its source's budget is shed at intake, before it is queued or decoded,
and counted for that source (``shed_by_source``), so that a flooding source cannot
delay the others. The inbound buffer holds at most ``max_inbound``
messages; when full, the oldest queued radar scan is shed first (a newer scan of the
same area supersedes it), then the oldest message of any feed. The outbox holds at most
``max_outbox`` messages of QoS 0 (track updates, pictures, rejects summaries); beyond
that they are shed, while QoS 1 messages (alerts, track deletions, status) are always
queued. Every shed message is counted per feed or kind, logged, and reported on the
status topic and the metrics endpoint.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fusion.actions import FEED as OPS_FEED
from fusion.actions import OPS_FILTER
from fusion.checkpoint import load_checkpoint, save_checkpoint
from fusion.clock import SIM_CLOCK_TOPIC, Clock, WallClock, WarpedClock
from fusion.config import ServiceConfig
from fusion.continuity import AlertJournal, journal_path, new_epoch, seen_track_ids, sweep_retained_tracks
from fusion.core.arrays import TENTATIVE, TrackView
from fusion.core.frame import LocalFrame
from fusion.identity import IdentityLookup
from fusion.ingest import FEED_KINDS
from fusion.fairqueue import FairQueue, Queued
from fusion.intake import REPORTED_SOURCES, Intake, SourceBudgets, most_shed
from fusion.linkprocess import LinkProcess
from fusion.mqtt import BrokerAddress, Link
from fusion.ops import LatencyWindow, Sample, latency_samples, prometheus_text
from fusion.pipeline import DOMAINS, Fusion, Tick
from fusion.publish import (
    FEEDS_FILTER,
    PICTURE_TOPIC,
    STATUS_TOPIC,
    OutMessage,
    TrackRow,
    TrackUpdates,
    alert_topic,
    domain_of_track,
    encode,
    picture,
    rejects_topic,
    track_rows,
    track_topic,
)

log = logging.getLogger("jisf.service")

STATES = ("tentative", "confirmed", "coasting")


@dataclass(frozen=True)
class ServiceOptions:
    """Live-loop settings (the subset of ``ServiceConfig`` the loop itself uses)."""

    client_id: str = "jisf-fusion"
    max_inbound: int = 200_000  # inbound buffer bound, messages
    max_outbox: int = 100_000  # QoS 0 outgoing messages queued before they are shed
    fuse_batch: int = 5_000  # messages taken per fuse step
    catch_up_ticks: int = 10  # more ticks due at once than this: evaluate this many of them (Fusion.advance)
    fuse_bytes: int = 2_000_000  # payload bytes taken per fuse step (at least one message): a backlog of
    # radar scans is fused a few dozen scans per step, so output ticks and alerts keep going out between steps
    idle_wait_s: float = 0.02  # longest wait for input before advancing the clock anyway
    status_interval_s: float = 5.0  # wall seconds between status messages
    rejects_interval_s: float = 5.0  # wall seconds between rejects summaries (per feed, when changed)
    checkpoint_path: Path | None = None  # None: no checkpoints
    checkpoint_interval_s: float = 30.0  # wall seconds between checkpoints
    track_interval_s: float = 5.0  # shortest interval (tick time, s) between two updates of one track's retained topic
    picture_interval_s: float = 5.0  # interval (tick time, s) between two pictures of all confirmed tracks
    follow_sim_clock: bool = False  # take "now" from jisf/v1/sim/clock instead of the wall
    mqtt_io: str = "process"  # "process": the MQTT link runs in a child process (LinkProcess); "inline": in this event loop
    sweep_retained: bool = True  # at start, clear retained track topics this service does not hold (fusion.continuity)
    budgets: SourceBudgets = field(default_factory=SourceBudgets)  # per-source intake budgets (fusion/intake.py)
    fair_quantum: int = 10_000  # measurements each backlogged source may have fused per step (fusion/fairqueue.py): one
    # second of a radar site's default plot budget, so a site within its budget is served whole at every step
    shutdown_budget_s: float = 0.25  # on stop: wall seconds spent fusing what is still queued; the rest is dropped, counted
    shutdown_flush_s: float = 1.0  # on stop: longest wait for queued outgoing messages to reach the broker

    @classmethod
    def from_config(cls, cfg: ServiceConfig) -> ServiceOptions:
        """The loop settings of a service configuration."""
        return cls(client_id=cfg.client_id, max_inbound=cfg.max_inbound, max_outbox=cfg.max_outbox, fuse_batch=cfg.fuse_batch,
                   fuse_bytes=cfg.fuse_bytes, catch_up_ticks=cfg.catch_up_ticks, track_interval_s=cfg.track_interval_s,
                   picture_interval_s=cfg.picture_interval_s,
                   status_interval_s=cfg.status_interval_s, rejects_interval_s=cfg.rejects_interval_s,
                   checkpoint_path=Path(cfg.checkpoint_path) if cfg.checkpoint_path else None,
                   checkpoint_interval_s=cfg.checkpoint_interval_s, follow_sim_clock=cfg.clock == "sim", mqtt_io=cfg.mqtt_io,
                   budgets=cfg.source_budgets(), fair_quantum=cfg.fair_quantum, shutdown_budget_s=cfg.shutdown_budget_s, shutdown_flush_s=cfg.shutdown_flush_s)


@dataclass
class ServiceStats:
    """Counters and latency windows of the live loop (the pipeline has its own counters).

    ``received``/``shed`` are written by the event loop; the rest by the fusion worker;
    ``lock`` guards the latency windows, which the metrics endpoint reads from the loop.
    """

    received: Counter[str] = field(default_factory=Counter)
    shed: Counter[str] = field(default_factory=Counter)
    shutdown_dropped: Counter[str] = field(default_factory=Counter)  # by feed: received after stop, or queued beyond the budget
    # per inbound MQTT message, by feed: "feed/accepted" (>= 1 report kept) or "feed/rejected" (none kept:
    # rejected whole, duplicate, or an incomplete multi-sentence part); received == these + shed + queued
    fused: Counter[str] = field(default_factory=Counter)
    max_inbound_depth: int = 0
    alerts_published: int = 0
    tracks_published: int = 0
    tracks_by_state: dict[tuple[str, str], int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    checkpoints: int = 0
    last_checkpoint_wall: float | None = None
    restored_from: str | None = None
    restore_s: float | None = None  # wall seconds to restore the checkpoint and replay the journal
    journal_adopted: int = 0  # alert events taken over from the journal at start (raised / updated after the checkpoint)
    journal_cleared: int = 0  # alerts the journal closed after the checkpoint
    swept: int = 0  # retained track topics of a previous instance cleared at start
    started: float = field(default_factory=time.time)
    lock: threading.Lock = field(default_factory=threading.Lock)
    fuse_wait: LatencyWindow = field(default_factory=LatencyWindow)  # receive -> fused
    update_age: LatencyWindow = field(default_factory=LatencyWindow)  # measurement -> track update queued
    alert_age: LatencyWindow = field(default_factory=LatencyWindow)  # measurement -> alert queued
    step_s: LatencyWindow = field(default_factory=LatencyWindow)  # worker time per fuse step


@dataclass(frozen=True)
class Due:
    """Periodic work the loop asks the worker to do in a step."""

    status: bool = False
    rejects: bool = False
    checkpoint: bool = False
    final: bool = False  # shutdown: status "offline"


class PictureJob:
    """The picture of one tick, built a slice of tracks per fuse step (``advance``) rather than
    all at once: converting 11,000 tracks to rows takes 40-80 ms, which in one step held up
    the data and alert ticks behind it (docs/bench-live.md); a slice of ``slice_tracks``
    takes a few ms. The picture keeps its tick's time and tracks (the views are snapshots)
    and goes out when its last slice is built, a few steps after the tick."""

    def __init__(self, frame: LocalFrame, slice_tracks: int = 1_000) -> None:
        self.frame, self.slice_tracks = frame, slice_tracks
        self._t: float | None = None
        self._parts: list[TrackView] = []
        self._rows: list[TrackRow] = []
        self._identity: IdentityLookup | None = None

    def start(self, tick: Tick) -> None:
        """Begin the picture of ``tick`` (its non-tentative tracks)."""
        self._t, self._rows, self._parts, self._identity = tick.t, [], [], tick.identity
        for v in tick.views.values():
            shown = np.flatnonzero(v.status != TENTATIVE)
            if len(shown):
                self._parts += [v.take(rows) for rows in np.array_split(shown, -(-len(shown) // self.slice_tracks))]

    def advance(self) -> list[OutMessage]:
        """Build one more slice; the picture message when it was the last one."""
        if self._t is None:
            return []
        if self._parts:
            self._rows += track_rows(self._parts.pop(0), self.frame, self._identity)
        return self.finish() if not self._parts else []

    def finish(self) -> list[OutMessage]:
        """Build what is left; the picture message (none when no picture is in the making)."""
        if self._t is None:
            return []
        for part in self._parts:
            self._rows += track_rows(part, self.frame, self._identity)
        msg = OutMessage(PICTURE_TOPIC, encode(picture(self._rows, self._t)), qos=0)
        self._t, self._parts, self._rows = None, [], []
        return [msg]


def feed_of(topic: str) -> str:
    """Feed kind of a feed topic, "ops" for operator actions ("unknown" for anything else)."""
    parts = topic.split("/", 4)
    if len(parts) > 3 and parts[2] == OPS_FEED:
        return OPS_FEED
    return parts[3] if len(parts) > 3 and parts[3] in FEED_KINDS else "unknown"


class Service:
    """One running fusion service on one broker connection."""

    def __init__(self, fusion: Fusion, addr: BrokerAddress, options: ServiceOptions | None = None, clock: Clock | None = None,
                 on_tick: Callable[[Tick], None] | None = None) -> None:
        self.fusion = fusion
        self.options = options or ServiceOptions()
        self.clock: Clock | None = clock if clock is not None else (None if self.options.follow_sim_clock else WallClock())
        self.on_tick = on_tick
        self.stats = ServiceStats()
        # per-source queues; a source lagging by more than the re-order window while others keep up is deferred
        self.inbound = FairQueue(self.options.fair_quantum, defer_after_s=fusion.config.reorder_window_s)
        self._released_t: float | None = None  # fusion has released data received before this (service clock)
        lim = fusion.ingest.limits
        self.intake = Intake(self.options.budgets, max_cost=max(lim.max_plots_per_scan, lim.max_lines_per_payload))
        self._stopping = False  # set on stop: intake ends, what arrives is dropped and counted
        self._fuse_until: float | None = None  # on stop: perf_counter time after which a step accepts no more messages
        self.track_updates = TrackUpdates(self.options.track_interval_s)
        self._next_picture_t: float | None = None
        self._picture = PictureJob(self.fusion.frame)
        self._last_rejects: dict[str, int] = {}
        self._wake = asyncio.Event()
        subs = [(FEEDS_FILTER, 1), (OPS_FILTER, 1)]
        if self.options.follow_sim_clock:
            subs.append((SIM_CLOCK_TOPIC, 1))
        link = dict(subscriptions=tuple(subs), on_message=self._on_message,
                    on_connect=lambda: [self._status_message("online", self._last_status)],
                    will=OutMessage(STATUS_TOPIC, encode({"state": "offline"}), qos=1, retain=True),
                    flush_timeout_s=self.options.shutdown_flush_s)
        if self.options.mqtt_io == "process":
            self.link: Link | LinkProcess = LinkProcess(addr, self.options.client_id, **link)  # type: ignore[arg-type]
        else:  # the outbox is bounded by our own policy in _send (alerts are never shed)
            self.link = Link(addr, self.options.client_id, outbox=asyncio.Queue(), **link)  # type: ignore[arg-type]
        self._last_status: dict[str, object] = {}
        self.addr = addr
        self.journal: AlertJournal | None = None
        self._restore()

    def _restore(self) -> None:
        """The checkpoint, then the alert journal of what followed it (``fusion.continuity``); the instance
        epoch of alert ids comes from them, or is new."""
        started = time.perf_counter()
        path = self.options.checkpoint_path
        after, written = None, None
        if path is not None and path.exists():
            state = load_checkpoint(path, self.fusion)
            self.track_updates.restore(int(t) for _, t in state.get("published_tracks", []))
            self.stats.restored_from = str(path)
            after = self.fusion.progress_state()["next_tick"]
            written = state.get("written_wall")
        if path is not None:
            self.journal = AlertJournal(journal_path(path))
            replayed = self.journal.replay(self.fusion, after)
            self.stats.journal_adopted, self.stats.journal_cleared = replayed.adopted, replayed.cleared
            if replayed.adopted or replayed.cleared or replayed.torn:
                log.info("journal %s: %d alert events taken over, %d alerts closed, %d already in the checkpoint%s",
                         self.journal.path, replayed.adopted, replayed.cleared, replayed.skipped,
                         " (torn last line ignored)" if replayed.torn else "")
        if not self.fusion.rules.epoch:
            self.fusion.rules.epoch = new_epoch()
        self.stats.restore_s = time.perf_counter() - started
        if path is not None:  # what was reconciled is made durable at once (a crash before the first periodic
            self._checkpoint(path)  # checkpoint would otherwise lose it with the journal), and the journal starts afresh
        if self.stats.restored_from is not None:
            log.info("restored %s (written %s) in %.3f s", path, written, self.stats.restore_s,
                     extra={"restore_s": round(self.stats.restore_s, 3)})

    # -- intake (event loop): only timestamp and enqueue ----------------------------------------
    def _on_message(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if topic == SIM_CLOCK_TOPIC:
            try:
                self.clock = WarpedClock.decode(payload)
            except (ValueError, TypeError) as err:
                log.warning("ignoring bad %s payload: %s", SIM_CLOCK_TOPIC, err)
            return
        feed = feed_of(topic)
        self.stats.received[feed] += 1
        if self._stopping:
            self.stats.shed[feed] += 1
            self.stats.shutdown_dropped[feed] += 1
            return
        now = self.clock.now() if self.clock else None
        charge = self.intake.charge(topic, payload, time.monotonic() if now is None else now)
        if not charge.admitted:
            self._count_shed(feed, source=charge.key)
            return
        if len(self.inbound) >= self.options.max_inbound:
            self._count_shed(feed_of(self.inbound.shed_longest().topic))
        self.inbound.push(Queued(topic, payload, now, charge.key, charge.cost, charge.budgeted))
        self.stats.max_inbound_depth = max(self.stats.max_inbound_depth, len(self.inbound))
        self._wake.set()

    def _count_shed(self, what: str, source: str | None = None) -> None:
        """Count one shed message under its feed (or outbox); with ``source``, shed by its source's budget."""
        self.stats.shed[what] += 1
        n = self.intake.shed_by_source[source] if source is not None else self.stats.shed[what]
        if n & (n - 1) == 0:  # log at 1, 2, 4, 8, ... so that a flood does not flood the log
            if source is None:
                log.warning("overload: shed %d %s messages so far", n, what, extra={"shed": what, "count": n})
            else:
                log.warning("source over budget: shed %d messages of %s so far", n, source, extra={"shed": source, "count": n})

    # -- the loop: hand work to the fusion worker -----------------------------------------------
    async def _fuse(self, stop: asyncio.Event, pool: ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        o = self.options
        last = dict.fromkeys(("status", "rejects", "checkpoint"), time.monotonic())

        def emit(msgs: list[OutMessage]) -> None:  # from the worker: a tick's messages go out before the step ends
            loop.call_soon_threadsafe(self._send_all, msgs)

        while not stop.is_set():
            if self.clock is None:  # waiting for the simulator's clock
                await self._idle()
                continue
            mono = time.monotonic()
            due = Due(status=mono - last["status"] >= o.status_interval_s, rejects=mono - last["rejects"] >= o.rejects_interval_s,
                      checkpoint=o.checkpoint_path is not None and mono - last["checkpoint"] >= o.checkpoint_interval_s)
            for name in ("status", "rejects", "checkpoint"):
                if getattr(due, name):
                    last[name] = mono
            now = self.clock.now()
            took = self._take(o.fuse_batch, o.fuse_bytes)
            self._send_all(await loop.run_in_executor(pool, self._step, took, now, due, self._horizon(now), emit))
            if not self.inbound:
                await self._idle()
            else:
                await asyncio.sleep(0)  # let the reader run between steps

    def _horizon(self, now: float) -> float | None:
        """Receive time of the oldest message still queued by a source that is not deferred (None
        when none): fusion must not release data past it minus the re-order window, or that
        message, once decoded, would arrive out of sequence and force the tracker to re-run its
        lag (a step that takes only part of a backlog would otherwise cause one re-run per step).
        A deferred source (``fusion.fairqueue``) does not hold the others back; what of it fusion
        releases past is shed as stale at the next ``_take``."""
        horizon = self.inbound.horizon(now)
        self._released_t = (now if horizon is None else min(now, horizon)) - self.fusion.config.reorder_window_s
        return horizon

    def _take(self, max_messages: int, max_bytes: int) -> list[Queued]:
        """Queued messages for one step, up to ``max_messages`` and ``max_bytes`` of payload (at least
        one), by fair queueing over the sources; stale messages of deferred sources are shed and counted."""
        took, stale = self.inbound.take(max_messages, max_bytes, self._released_t)
        if stale:
            self.stats.shed.update(feed_of(msg.topic) for msg in stale)
            total = self.inbound.stale_by_source.total()
            if total.bit_length() > (total - len(stale)).bit_length():  # log at 1, 2, 4, 8, ... stale messages in all
                log.warning("sources deferred: shed %d stale messages so far (%s)", total, most_shed(self.inbound.stale_by_source),
                            extra={"shed_stale": total})
        return took

    async def _idle(self) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=self.options.idle_wait_s)
        except TimeoutError:
            return

    def _send_all(self, msgs: list[OutMessage]) -> None:
        for msg in msgs:
            self._send(msg)

    def _send(self, msg: OutMessage) -> None:
        if msg.qos == 0 and self.link.outbox.qsize() >= self.options.max_outbox:
            self._count_shed("outbox")
            return
        self.link.outbox.put_nowait(msg)

    # -- the worker: everything that touches Fusion ---------------------------------------------
    def _step(self, took: list[Queued], now: float, due: Due, horizon: float | None = None,
              emit: Callable[[list[OutMessage]], None] | None = None) -> list[OutMessage]:
        """Accept ``took``, then release data and output ticks up to ``now`` (service clock, s),
        or only up to ``horizon`` (the receive time of the oldest message not yet taken) when that is earlier.

        Returns the outgoing messages; with ``emit`` (live), each tick's messages are handed to
        it as soon as the tick is built (alerts need not wait for the rest of the step), and
        their latencies are measured at that moment on the service clock, not at ``now``."""
        started = time.perf_counter()
        out: list[OutMessage] = []
        waits = np.empty(len(took))
        for i, (topic, payload, recv_t, *_) in enumerate(took):
            if self._fuse_until is not None and time.perf_counter() > self._fuse_until:
                # stopping, out of time: the rest goes back to the queue (intake has ended), to be dropped and counted
                self.inbound.push_front(took[i:])
                waits = waits[:i]
                break
            t = recv_t if recv_t is not None else now
            waits[i] = now - t
            kept = self.fusion.accept(topic, payload, t)
            self.intake.settle(topic, payload, kept)
            self.stats.fused[f"{feed_of(topic)}/{'accepted' if kept else 'rejected'}"] += 1
        for tick in self.fusion.advance(now if horizon is None else min(now, horizon), self.options.catch_up_ticks):
            out.extend(self._tick_messages(tick, now, emit))
        out.extend(self._picture.finish() if due.final else self._picture.advance())
        if due.rejects or due.final:
            out.extend(self._rejects_messages())
        if due.checkpoint and self.options.checkpoint_path is not None:
            self._checkpoint(self.options.checkpoint_path)
        if due.status or due.final:
            self._refresh_counts()
            out.append(self._status_message("offline" if due.final else "online", self._status_body(now)))
        with self.stats.lock:
            self.stats.fuse_wait.add(waits)
            self.stats.step_s.add([time.perf_counter() - started])
        return out

    @property
    def published_tracks(self) -> set[tuple[str, int]]:
        """(domain, global track id) of every track whose retained topic holds a state."""
        return {(domain_of_track(t), t) for t in self.track_updates.ids.tolist()}

    def _tick_messages(self, tick: Tick, now: float, emit: Callable[[list[OutMessage]], None] | None = None) -> list[OutMessage]:
        """Alerts (all, QoS 1); retained updates of the tracks that changed (``TrackUpdates``),
        built only for those; clears of deleted published tracks; when due, the picture is
        started (``PictureJob`` builds it over the next steps) and the previous one finished.

        With ``emit`` the alerts are handed to it at once (before the track updates are built),
        and then the rest; the latencies are measured on the service clock at those moments."""
        clock = self.clock if emit is not None else None
        held: list[OutMessage] = []
        hand = emit if emit is not None and clock is not None else held.extend  # live: out at once; else returned

        def at() -> float:  # when messages are handed over: the service clock live, the step's time otherwise
            return clock.now() if clock is not None else now

        if self.journal is not None:  # written down before anyone can see the alerts or the new track ids
            self.journal.record(self.fusion, tick.alerts)
        alerts = [OutMessage(alert_topic(a.rule, a.track_id), encode(a), qos=1) for a in tick.alerts]
        self._measure_alert_ages(tick, at())
        hand(alerts)
        out: list[OutMessage] = []
        n_updates = 0
        published_last_t = []
        for domain, rows in self.track_updates.select(tick.t, tick.views).items():
            if len(rows):
                changed = track_rows(tick.views[domain].take(rows), self.fusion.frame, tick.identity)
                out.extend(OutMessage(track_topic(r.domain, r.track_id), encode(r), qos=0, retain=True) for r in changed)
                n_updates += len(changed)
                published_last_t.append(tick.views[domain].last_t[rows])
        for tid in self.track_updates.forget(tick.deleted_ids):
            out.append(OutMessage(track_topic(domain_of_track(tid), tid), b"", qos=1, retain=True))
        if self._next_picture_t is None or tick.t >= self._next_picture_t - 1e-9:
            out.extend(self._picture.finish())  # the previous picture, if still in the making, goes first
            self._picture.start(tick)
            self._next_picture_t = tick.t + self.options.picture_interval_s
        updated = np.concatenate(published_last_t) if published_last_t else np.zeros(0)
        with self.stats.lock:
            self.stats.update_age.add(at() - updated)
        self.stats.alerts_published += len(tick.alerts)
        self.stats.tracks_published += n_updates
        self.stats.tracks_by_state = {(d, STATES[s]): int(n) for d, v in tick.views.items()
                                      for s, n in enumerate(np.bincount(v.status, minlength=len(STATES))) if n}
        if self.on_tick is not None:
            self.on_tick(tick)
        hand(out)
        return held

    def _measure_alert_ages(self, tick: Tick, at: float) -> None:
        """Latency from measurement to alert on the service clock: ``at`` (when the alerts are
        queued) minus the last update of each alert's track. (Track updates: the newest
        measurement in each, in ``_tick_messages``.)"""
        if not tick.alerts:
            return
        ids = np.concatenate([v.track_id for v in tick.views.values()])
        last_t = np.concatenate([v.last_t for v in tick.views.values()])
        alert_ids = np.array([a.track_id for a in tick.alerts], dtype=np.int64)
        with self.stats.lock:
            self.stats.alert_age.add(at - last_t[np.isin(ids, alert_ids)])

    def _rejects_messages(self) -> list[OutMessage]:
        out = []
        for feed in (*FEED_KINDS, OPS_FEED, "unknown"):
            n = self.fusion.ingest.log.total_rejected(feed)
            if n != self._last_rejects.get(feed, 0):
                self._last_rejects[feed] = n
                out.append(OutMessage(rejects_topic(feed), encode(self.fusion.ingest.log.summary(feed)), qos=0))
        return out

    def _refresh_counts(self) -> None:
        rl = self.fusion.ingest.log
        self.stats.rejected = {f: rl.total_rejected(f) for f in (*FEED_KINDS, OPS_FEED, "unknown")}
        self.stats.accepted = {f: rl.accepted_messages[f] for f in (*FEED_KINDS, OPS_FEED)}

    def _checkpoint(self, path: Path) -> None:
        started = time.perf_counter()
        save_checkpoint(path, self.fusion, {"published_tracks": sorted(self.published_tracks)})
        if self.journal is not None:  # the checkpoint covers what the journal held
            self.journal.start(self.fusion)
        self.stats.checkpoints += 1
        self.stats.last_checkpoint_wall = time.time()
        log.info("checkpoint %s in %.1f ms", path, (time.perf_counter() - started) * 1e3)

    def _status_body(self, now: float) -> dict[str, object]:
        c = self.fusion.counters
        with self.stats.lock:
            latency = {name: {f"p{round(q * 100)}": round(v, 6) for q, v in w.quantiles().items()}
                       for name, w in (("fuse_wait_s", self.stats.fuse_wait), ("update_age_s", self.stats.update_age),
                                       ("alert_age_s", self.stats.alert_age), ("step_s", self.stats.step_s))}
        tracks: dict[str, dict[str, int]] = {d: dict.fromkeys(STATES, 0) for d in DOMAINS}
        for (d, s), n in self.stats.tracks_by_state.items():
            tracks[d][s] = n
        self._last_status = {
            "t": now,
            "uptime_s": round(time.time() - self.stats.started, 3),
            "received": dict(self.stats.received),
            "accepted": self.stats.accepted,
            "rejected": self.stats.rejected,
            "shed": dict(self.stats.shed),
            "shed_by_source": self.intake.reported(),
            "shed_stale_by_source": most_shed(self.inbound.stale_by_source),
            "deferred_sources": sorted(self.inbound.deferred)[:REPORTED_SOURCES],
            "shutdown_dropped": dict(self.stats.shutdown_dropped),
            "messages": self._message_outcomes(),
            "inbound_depth": len(self.inbound),
            "max_inbound_depth": self.stats.max_inbound_depth,
            "outbox_depth": self.link.outbox.qsize(),
            "reorder_batches": self.fusion.ingest.buffered,
            "batches": c.batches,
            "measurements": c.measurements,
            "late_dropped": c.late_dropped,
            "tracker_reruns": c.reruns,
            "tracker_rerun_batches": c.rerun_batches,
            "ticks": c.ticks,
            "ticks_skipped": c.ticks_skipped,
            "alerts_raised": c.alerts_raised,
            "alerts_published": self.stats.alerts_published,
            "tracks": tracks,
            "latency": latency,
            "checkpoints": self.stats.checkpoints,
            "restored_from": self.stats.restored_from,
            "restore_s": self.stats.restore_s,
            "silent_sources": self.fusion.heartbeats.silent_sources(now),
            "journal": {"adopted": self.stats.journal_adopted, "cleared": self.stats.journal_cleared, "swept": self.stats.swept},
            "broker": {"connects": self.link.stats.connects, "disconnects": self.link.stats.disconnects,
                       "connected": self.link.stats.connected, "published": self.link.stats.published},
        }
        return self._last_status

    def _message_outcomes(self) -> dict[str, dict[str, int]]:
        """Inbound MQTT messages by feed and outcome (accepted / rejected / shed / queued)."""
        out: dict[str, dict[str, int]] = {}
        for feed in sorted(self.stats.received):
            out[feed] = {"accepted": self.stats.fused[f"{feed}/accepted"], "rejected": self.stats.fused[f"{feed}/rejected"],
                         "shed": self.stats.shed[feed]}
        return out

    def _status_message(self, state: str, body: dict[str, object]) -> OutMessage:
        return OutMessage(STATUS_TOPIC, encode({"state": state, **body}), qos=1, retain=True)

    # -- metrics (event loop) ---------------------------------------------------------------------
    def metrics_text(self) -> str:
        """Prometheus text exposition of the live counters, gauges and latency summaries."""
        s = self.stats
        samples = [Sample("jisf_up", "gauge", "1 while the service runs", 1),
                   Sample("jisf_broker_connected", "gauge", "1 while connected to the broker", int(self.link.stats.connected)),
                   Sample("jisf_broker_connects_total", "counter", "successful broker connections", self.link.stats.connects),
                   Sample("jisf_published_total", "counter", "messages published to the broker", self.link.stats.published)]
        samples += [Sample("jisf_received_total", "counter", "inbound messages by feed", n, {"feed": f}) for f, n in sorted(s.received.items())]
        samples += [Sample("jisf_accepted_total", "counter", "inbound messages with at least one accepted report", n, {"feed": f})
                    for f, n in sorted(s.accepted.items())]
        samples += [Sample("jisf_rejected_total", "counter", "rejected inputs by feed", n, {"feed": f}) for f, n in sorted(s.rejected.items())]
        samples += [Sample("jisf_shed_total", "counter", "messages shed by the overload policy", n, {"what": w}) for w, n in sorted(s.shed.items())]
        samples += [Sample("jisf_shed_by_source_total", "counter", "messages shed by their source's budget (the most shed sources)", n,
                           {"source": src}) for src, n in sorted(self.intake.reported().items())]
        samples += [Sample("jisf_shed_stale_by_source_total", "counter", "messages of a deferred source shed as stale (the most shed sources)",
                           n, {"source": src}) for src, n in sorted(most_shed(self.inbound.stale_by_source).items())]
        samples += [Sample("jisf_inbound_depth", "gauge", "inbound messages waiting for fusion", len(self.inbound)),
                    Sample("jisf_outbox_depth", "gauge", "outgoing messages waiting for the broker", self.link.outbox.qsize()),
                    Sample("jisf_alerts_published_total", "counter", "alert events queued for publishing", s.alerts_published),
                    Sample("jisf_checkpoints_total", "counter", "checkpoints written", s.checkpoints),
                    Sample("jisf_ticks_skipped_total", "counter", "output ticks not evaluated while catching up",
                           self.fusion.counters.ticks_skipped),
                    Sample("jisf_tracker_reruns_total", "counter", "out-of-sequence batches that made the tracker re-run",
                           self.fusion.counters.reruns),
                    Sample("jisf_tracker_rerun_batches_total", "counter", "batches processed again by those re-runs",
                           self.fusion.counters.rerun_batches)]
        samples += [Sample("jisf_tracks", "gauge", "live tracks at the last tick", n, {"domain": d, "state": st})
                    for (d, st), n in sorted(s.tracks_by_state.items())]
        with s.lock:
            for name, help_text, w in (("jisf_fuse_wait_seconds", "receive to fused", s.fuse_wait),
                                       ("jisf_update_age_seconds", "measurement to track update queued", s.update_age),
                                       ("jisf_alert_age_seconds", "measurement to alert queued", s.alert_age),
                                       ("jisf_step_seconds", "worker time per fuse step", s.step_s)):
                samples += latency_samples(name, help_text, w)
        return prometheus_text(samples)

    # -- lifecycle ------------------------------------------------------------------------------
    async def _sweep(self) -> None:
        """Clear retained track topics of tracks this service does not hold, and never hand out their ids."""
        keep = {track_topic(d, t) for d, t in self.published_tracks}
        found = await sweep_retained_tracks(self.addr, self.options.client_id, keep)
        if found is None:
            return
        self.stats.swept = len(found - keep)
        for d, below in seen_track_ids(found).items():
            self.fusion.trackers[d].reserve_ids(below)

    async def serve(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut down gracefully (checkpoint, flush alerts and status)."""
        loop = asyncio.get_running_loop()
        if self.options.sweep_retained:
            await self._sweep()
        link_stop = asyncio.Event()
        link_task = asyncio.create_task(self.link.run(link_stop), name="mqtt-link")
        # What start-up built (zones, rules, land mask, projections, a restored checkpoint) lives
        # for the whole run: out of the cyclic collector's generations, so that its collections
        # walk only what the run allocates. Measured at 11,000 tracks (docs/bench-live.md): worker
        # step p99 104 -> 53 ms, CPU per second of load -20%.
        gc.collect()
        gc.freeze()
        with ThreadPoolExecutor(1, thread_name_prefix="jisf-fuse") as pool:
            fuse_task = asyncio.create_task(self._fuse(stop, pool), name="fuse")
            intake_task = asyncio.create_task(self._stop_intake(stop), name="stop-intake")
            try:
                await fuse_task
            finally:
                if not fuse_task.done():
                    fuse_task.cancel()
                intake_task.cancel()
                self._stopping = True
                await self._shut_down(pool)
                link_stop.set()
                await link_task
                gc.unfreeze()

    async def _stop_intake(self, stop: asyncio.Event) -> None:
        """On stop, end intake at once (a fuse step may still be running): what arrives from
        then on is dropped and counted in ``shutdown_dropped``; fusing what is queued (the
        running step included) ends ``shutdown_budget_s`` later."""
        await stop.wait()
        self._stopping = True
        self._fuse_until = time.perf_counter() + self.options.shutdown_budget_s
        log.info("stopping: intake ended, %d messages queued", len(self.inbound))

    async def _shut_down(self, pool: ThreadPoolExecutor) -> None:
        """Fuse what is still queued for at most ``shutdown_budget_s`` (wall), drop and count the
        rest, then the final step: rejects summaries, a checkpoint and the status "offline"."""
        if self.clock is None:
            return
        loop = asyncio.get_running_loop()
        o = self.options
        if self._fuse_until is None:  # stopped by cancellation rather than by the stop event
            self._fuse_until = time.perf_counter() + o.shutdown_budget_s
        while self.inbound and time.perf_counter() < self._fuse_until:
            now = self.clock.now()
            took = self._take(o.fuse_batch, o.fuse_bytes)
            self._send_all(await loop.run_in_executor(pool, self._step, took, now, Due(), self._horizon(now)))
        dropped = Counter(feed_of(m.topic) for m in self.inbound.clear())
        if dropped:
            self.stats.shed.update(dropped)
            self.stats.shutdown_dropped.update(dropped)
            log.warning("shutdown: dropped %d queued messages beyond the %g s budget", dropped.total(), o.shutdown_budget_s,
                        extra={"dropped": dict(dropped)})
        final = Due(final=True, checkpoint=o.checkpoint_path is not None)
        self._send_all(await loop.run_in_executor(pool, self._step, [], self.clock.now(), final))
