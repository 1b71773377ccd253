"""The live service shell: MQTT in, ``Fusion`` in a worker thread, MQTT out. Only asyncio here.

Phases: startup (restore the checkpoint if there is one, connect, publish retained
status "online" with a last will "offline"), main loop, shutdown (stop intake, fuse what
is queued for at most ``shutdown_budget_s`` after the signal and drop the rest, counted;
then fuse nothing more: a final checkpoint of the state the last step committed, the final
status "offline" with its ``shutdown`` report, flush; docs/OPERATIONS.md, "Shutdown").

Parts (each its own module, tested alone): ``fusion.intake`` (budgets) and
``fusion.fairqueue`` (queues, shedding) on the event loop; ``fusion.worker`` (the fusion
steps, latency measurement), ``fusion.picturejob`` (picture slicing) and
``fusion.servicestate`` (checkpoints) in the worker thread; ``fusion.status`` (status
JSON, Prometheus text). ``Service`` composes them with the MQTT link and the lifecycle.

Threads and processes: the MQTT connection (``Link``) runs in a child process by default
(``LinkProcess``, option ``mqtt_io``), so that paho's per-message cost runs on another core
than fusion, and so does the parse of each radar scan (``fusion.predecode``: ingest only
finishes it); the event loop here receives its messages in batches, only timestamps and
enqueues them, and hands outgoing messages back. Every
call into ``Fusion`` runs in one worker thread, one step at a time: a step takes up to
``fuse_batch`` queued messages, accepts them, advances to "now" and returns the outgoing
messages, status, rejects summaries and checkpoint due. Only the worker touches
``Fusion``; the loop only moves messages between the queues.

Overload policy (docs/OPERATIONS.md): every feed source has a budget (``fusion.intake``):
a message beyond its source's budget is shed at intake, before it is queued or decoded,
and counted for that source (``shed_by_source``). What a source is admitted waits in its
own queue (``fusion.fairqueue``), served by deficit round robin, so that a source beyond
its share of the worker waits behind itself, not in front of the others; such a source,
once it lags by more than the re-order window, no longer holds back the fusion horizon,
and what of it fusion has released past is shed, counted (``shed_stale_by_source``).
The inbound buffer holds at most ``max_inbound`` messages; when full, the oldest message
of the source with the most queued is shed. The outbox holds at most
``max_outbox`` messages of QoS 0 (track updates, pictures, rejects summaries); beyond
that they are shed, while QoS 1 messages (alerts, track deletions, status) are always
queued. Every shed message is counted per feed or kind, logged, and reported on the
status topic and the metrics endpoint.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fusion.actions import OPS_FILTER
from fusion.clock import SIM_CLOCK_TOPIC, Clock, WallClock, WarpedClock
from fusion.config import ServiceConfig
from fusion.continuity import seen_track_ids, sweep_retained_tracks
from fusion.fairqueue import FairQueue, Queued
from fusion.intake import Intake, SourceBudgets, most_shed
from fusion.linkprocess import LinkProcess
from fusion.mqtt import BrokerAddress, Link
from fusion.pipeline import Fusion, Tick
from fusion.predecode import Predecoded
from fusion.publish import FEEDS_FILTER, STATUS_TOPIC, OutMessage, TrackUpdates, encode, track_topic
from fusion.servicestate import Checkpoints, published_tracks
from fusion.status import ServiceStats, ShutdownReport, StatusReport
from fusion.worker import Due, Emit, FusionWorker, feed_of

log = logging.getLogger("jisf.service")
# The most radar plots queued with the measurement batch the MQTT link process converted (fusion.predecode):
# a batch takes ~210 B a plot, over 4x its share of the payload, so beyond this (~42 MB; 2 s of the headline
# load's 100,000 plots/s, an engineering choice) a scan is queued with its parse only and ingest converts it:
# a backlog then costs memory about as before (payload and plots), not 4x that.
PREDECODED_PLOTS_QUEUED = 200_000

def _batch_plots(pre: Predecoded | None) -> int:
    """Rows of the measurement batch the link process converted (0 without one)."""
    return 0 if pre is None or pre.batch is None else len(pre.batch)


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


class Service:
    """One running fusion service on one broker connection: the composition of its parts."""

    def __init__(self, fusion: Fusion, addr: BrokerAddress, options: ServiceOptions | None = None, clock: Clock | None = None,
                 on_tick: Callable[[Tick], None] | None = None) -> None:
        self.fusion = fusion
        self.options = o = options or ServiceOptions()
        self.clock: Clock | None = clock if clock is not None else (None if o.follow_sim_clock else WallClock())
        self.stats = ServiceStats()
        # per-source queues; a source beyond its share lagging by more than the re-order window while others keep up is deferred
        self.inbound = FairQueue(o.fair_quantum, defer_after_s=fusion.config.reorder_window_s)
        self._released_until: float | None = None  # the last step released data up to this minus the re-order window
        self._fuse_rate: float | None = None  # payload bytes per wall second the last step fused (sizes the steps at a stop)
        lim = fusion.ingest.limits
        self.intake = Intake(o.budgets, max_cost=max(lim.max_plots_per_scan, lim.max_lines_per_payload))
        self._stopping = False  # set on stop: intake ends, what arrives is dropped and counted
        self._batch_plots = 0  # plots queued with their converted batch (PREDECODED_PLOTS_QUEUED)
        self.track_updates = TrackUpdates(o.track_interval_s)
        self._wake = asyncio.Event()
        subs = [(FEEDS_FILTER, 1), (OPS_FILTER, 1)]
        if o.follow_sim_clock:
            subs.append((SIM_CLOCK_TOPIC, 1))
        link = dict(subscriptions=tuple(subs), on_message=self._on_message,
                    on_connect=self._online,
                    will=OutMessage(STATUS_TOPIC, encode({"state": "offline"}), qos=1, retain=True),
                    flush_timeout_s=o.shutdown_flush_s)
        if o.mqtt_io == "process":  # the link process also parses radar scans (fusion.predecode)
            predecode = fusion.ingest.predecode_spec(o.budgets, self.intake.max_cost)
            self.link: Link | LinkProcess = LinkProcess(addr, o.client_id, predecode=predecode, **link)  # type: ignore[arg-type]
        else:  # the outbox is bounded by our own policy in _send (alerts are never shed)
            self.link = Link(addr, o.client_id, outbox=asyncio.Queue(), **link)  # type: ignore[arg-type]
        self.addr = addr
        self.report = StatusReport(self.stats, fusion, self.intake, self.inbound, self.link)
        self.checkpoints = Checkpoints(o.checkpoint_path, fusion, self.track_updates, self.stats)
        self.worker = FusionWorker(fusion, self.stats, self.intake, self.report, self.checkpoints, self.track_updates,
                                   clock=lambda: self.clock, picture_interval_s=o.picture_interval_s, catch_up_ticks=o.catch_up_ticks,
                                   on_tick=on_tick)
        self.checkpoints.restore()

    def _online(self) -> list[OutMessage]:
        """What goes out first on every (re)connect: the last status, as "online"."""
        return [self.report.message("online", self.report.last)]

    @property
    def published_tracks(self) -> set[tuple[str, int]]:
        """(domain, global track id) of every track whose retained topic holds a state."""
        return published_tracks(self.track_updates)

    def _status_body(self, now: float) -> dict[str, object]:
        return self.report.body(now)

    def _message_outcomes(self) -> dict[str, dict[str, int]]:
        return self.report.message_outcomes()

    def metrics_text(self) -> str:
        """Prometheus text exposition of the live counters, gauges and latency summaries (``fusion.status``)."""
        return self.report.metrics_text()

    # -- intake (event loop): only timestamp and enqueue ----------------------------------------
    def _on_message(self, topic: str, payload: bytes, qos: int, retain: bool, pre: Predecoded | None = None) -> None:
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
            self.stats.shed_budget[feed] += 1
            self._count_shed(feed, source=charge.key)
            return
        if len(self.inbound) >= self.options.max_inbound:
            shed = self.inbound.shed_longest()
            self._dequeued([shed])
            self._count_shed(feed_of(shed.topic))
        if pre is not None and pre.batch is not None:
            if self._batch_plots + _batch_plots(pre) > PREDECODED_PLOTS_QUEUED:
                pre = dataclasses.replace(pre, batch=None)
            else:
                self._batch_plots += _batch_plots(pre)
        self.inbound.push(Queued(topic, payload, now, charge.key, charge.cost, charge.budgeted, pre))
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
            await self._fuse_step(pool, self.clock.now(), due, o.fuse_bytes, emit)
            if not self.inbound:
                await self._idle()
            else:
                await asyncio.sleep(0)  # let the reader run between steps

    async def _fuse_step(self, pool: ThreadPoolExecutor, now: float, due: Due, max_bytes: int, emit: Emit | None = None) -> None:
        """One step in the worker: take up to ``fuse_batch`` messages and ``max_bytes`` of payload (at least one
        message), fuse them up to the horizon, send what comes out; measures the payload bytes fused per wall second."""
        took = self._take(self.options.fuse_batch, max_bytes)
        started = time.perf_counter()
        self._send_all(await asyncio.get_running_loop().run_in_executor(pool, self._step, took, now, due, self._horizon(now), emit))
        if took:
            self._fuse_rate = sum(len(m.payload) for m in took) / max(time.perf_counter() - started, 1e-3)

    def _horizon(self, now: float) -> float | None:
        """Receive time of the oldest message still queued by a source that is not deferred (None
        when none): fusion must not release data past it minus the re-order window, or that
        message, once decoded, would arrive out of sequence and force the tracker to re-run its
        lag (a step that takes only part of a backlog would otherwise cause one re-run per step).
        A deferred source (``fusion.fairqueue``) does not hold the others back; what of it was
        queued when fusion released past it is shed as stale at the next ``_take``: received
        before this step's release time, its measurements (older still, by the sensor's latency)
        could only arrive out of sequence, where each batch would make the tracker re-run its lag."""
        horizon = self.inbound.horizon(now)
        self._released_until = now if horizon is None else min(now, horizon)
        return horizon

    def _take(self, max_messages: int, max_bytes: int) -> list[Queued]:
        """Queued messages for one step, up to ``max_messages`` and ``max_bytes`` of payload (at least
        one), by fair queueing over the sources; stale messages of deferred sources are shed and counted."""
        took, stale = self.inbound.take(max_messages, max_bytes, self._released_until)
        self._dequeued(took)
        self._dequeued(stale)
        if stale:
            feeds = Counter(feed_of(msg.topic) for msg in stale)
            self.stats.shed.update(feeds)
            self.stats.shed_stale.update(feeds)
            total = self.inbound.stale_by_source.total()
            if total.bit_length() > (total - len(stale)).bit_length():  # log at 1, 2, 4, 8, ... stale messages in all
                log.warning("sources deferred: shed %d stale messages so far (%s)", total, most_shed(self.inbound.stale_by_source),
                            extra={"shed_stale": total})
        return took

    def _dequeued(self, msgs: list[Queued]) -> None:
        """Messages out of the inbound queue (taken or shed): their converted batches no longer count
        against ``PREDECODED_PLOTS_QUEUED``."""
        self._batch_plots -= sum(_batch_plots(m.pre) for m in msgs)

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
    # -- the worker thread ------------------------------------------------------------------------
    def _step(self, took: list[Queued], now: float, due: Due, horizon: float | None = None, emit: Emit | None = None) -> list[OutMessage]:
        """One fusion step (``FusionWorker.step``); what a stop cut short goes back to the queue (to be dropped and counted)."""
        out, left = self.worker.step(took, now, due, horizon, emit)
        if left:
            self.inbound.push_front(left)
        return out

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

    def note_stop(self, reason: str) -> ShutdownReport:
        """Record why the service is asked to stop (e.g. "SIGTERM"), at the moment it is asked; the first reason wins."""
        if self.stats.shutdown is None:
            self.stats.shutdown = ShutdownReport(reason)
        return self.stats.shutdown

    async def serve(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut down gracefully (checkpoint, flush alerts and status)."""
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
                report = self._end_intake("ended")  # (the reason of a stop by signal or event is set already)
                report.mark("worker_stopped")
                await self._shut_down(pool, report)
                link_stop.set()
                await link_task
                report.mark("link_done")
                gc.unfreeze()
        log.info("shutdown (%s) done in %.3f s: %d queued at the stop, %d fused after it, %d dropped", report.reason,
                 report.phases["link_done"], report.queued_at_stop, report.fused, report.dropped,
                 extra={"shutdown": report.body()})

    async def _stop_intake(self, stop: asyncio.Event) -> None:
        """On stop, end intake at once (a fuse step may still be running)."""
        await stop.wait()
        self._end_intake("stop")

    def _end_intake(self, reason: str) -> ShutdownReport:
        """End intake (once): what arrives from then on is dropped and counted in ``shutdown_dropped``;
        fusing what is queued (the running step included) ends ``shutdown_budget_s`` after the stop request."""
        report = self.note_stop(reason)
        if not self._stopping:
            self._stopping = True
            self.worker.fuse_until = time.perf_counter() + self.options.shutdown_budget_s - (time.monotonic() - report.started)
            report.queued_at_stop, report.fused_at_stop = len(self.inbound), self.stats.fused.total()
            report.mark("intake_ended")
            log.info("stopping (%s): intake ended, %d messages queued", reason, len(self.inbound))
        return report

    async def _shut_down(self, pool: ThreadPoolExecutor, report: ShutdownReport) -> None:
        """Fuse what is still queued until ``shutdown_budget_s`` after the stop, drop and count the
        rest, then the final steps: a checkpoint of that state, rejects summaries and the status "offline"."""
        if self.clock is None:
            return
        loop = asyncio.get_running_loop()
        o = self.options
        assert self.worker.fuse_until is not None  # (set when intake ended)
        while self.inbound and (left_s := self.worker.fuse_until - time.perf_counter()) > 0:
            # each step sized to what the last one fused in the time left, so that its release ends within the budget
            max_bytes = o.fuse_bytes if self._fuse_rate is None else min(o.fuse_bytes, int(self._fuse_rate * left_s))
            await self._fuse_step(pool, self.clock.now(), Due(), max_bytes)
        dropped = Counter(feed_of(m.topic) for m in self.inbound.clear())
        self._batch_plots = 0  # (the queue is empty)
        if dropped:
            self.stats.shed.update(dropped)
            self.stats.shutdown_dropped.update(dropped)
            log.warning("shutdown: dropped %d queued messages beyond the %g s budget", dropped.total(), o.shutdown_budget_s,
                        extra={"dropped": dict(dropped)})
        report.fused = self.stats.fused.total() - report.fused_at_stop
        report.mark("drained")
        # The final steps fuse nothing more: they release no data past what the last step released
        # (the horizon it was given), so the checkpoint is the state the last step committed, with
        # what was accepted but not yet released in its re-order buffer, and takes only its writing.
        held = self._released_until
        self._send_all(await loop.run_in_executor(pool, self._step, [], self.clock.now(), Due(checkpoint=True), held))
        report.mark("checkpoint_written")
        report.dropped = self.stats.shutdown_dropped.total()
        self._send_all(await loop.run_in_executor(pool, self._step, [], self.clock.now(), Due(final=True), held))
        report.mark("status_queued")
