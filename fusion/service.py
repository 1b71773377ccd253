"""The live service shell: MQTT in, ``Fusion`` in the middle, MQTT out. Only asyncio here.

Phases: startup (connect, publish retained status "online" with a last will
"offline"), main loop, shutdown (stop intake, flush outgoing alerts and the final status).

Tasks: the MQTT ``Link`` reads feeds and only timestamps and enqueues them (bounded
inbound buffer, counted overload); the fuse task drains the buffer in batches, runs
``Fusion.accept``/``advance`` and turns ticks into outgoing messages; the link publishes
them (alerts QoS 1, tracks retained, deleted tracks cleared with an empty retained
payload, the picture, status and rejects summaries periodically).

Overload policy: the inbound buffer holds at most ``max_inbound`` messages; when it is
full the oldest queued radar scan is shed first (a newer scan of the same area
supersedes it), then the oldest message of any feed; every shed message is counted per
feed and reported on the status topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fusion.clock import SIM_CLOCK_TOPIC, Clock, WallClock, WarpedClock
from fusion.ingest import FEED_KINDS
from fusion.mqtt import BrokerAddress, Link
from fusion.pipeline import Fusion, Tick
from fusion.publish import (
    FEEDS_FILTER,
    PICTURE_TOPIC,
    STATUS_TOPIC,
    OutMessage,
    alert_topic,
    encode,
    picture,
    rejects_topic,
    track_topic,
)

log = logging.getLogger("jisf.service")


@dataclass(frozen=True)
class ServiceOptions:
    """Live-loop settings."""

    client_id: str = "jisf-fusion"
    max_inbound: int = 200_000  # inbound buffer bound, messages
    fuse_batch: int = 5_000  # messages taken per fuse step
    idle_sleep_s: float = 0.005  # fuse loop pause when nothing is waiting
    status_interval_s: float = 5.0  # wall seconds between status messages
    rejects_interval_s: float = 5.0  # wall seconds between rejects summaries (per feed, when changed)
    picture_every_ticks: int = 1
    follow_sim_clock: bool = False  # take "now" from jisf/v1/sim/clock instead of the wall


@dataclass
class ServiceStats:
    """Counters of the live loop (the pipeline has its own)."""

    received: Counter[str] = field(default_factory=Counter)
    shed: Counter[str] = field(default_factory=Counter)
    max_inbound_depth: int = 0
    alerts_published: int = 0
    tracks_published: int = 0
    started: float = field(default_factory=time.time)


def feed_of(topic: str) -> str:
    """Feed kind of a feed topic ("unknown" for anything else)."""
    parts = topic.split("/", 4)
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
        self.inbound: deque[tuple[str, bytes, float | None]] = deque()
        self.published_tracks: set[tuple[str, int]] = set()
        self._last_rejects: dict[str, int] = {}
        subs = [(FEEDS_FILTER, 1)]
        if self.options.follow_sim_clock:
            subs.append((SIM_CLOCK_TOPIC, 1))
        self.link = Link(
            addr,
            self.options.client_id,
            subscriptions=tuple(subs),
            on_message=self._on_message,
            on_connect=lambda: [self._status("online")],
            will=OutMessage(STATUS_TOPIC, encode({"state": "offline"}), qos=1, retain=True),
        )

    # -- intake: only timestamp and enqueue ------------------------------------------------
    def _on_message(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if topic == SIM_CLOCK_TOPIC:
            try:
                self.clock = WarpedClock.decode(payload)
            except (ValueError, TypeError) as err:
                log.warning("ignoring bad %s payload: %s", SIM_CLOCK_TOPIC, err)
            return
        feed = feed_of(topic)
        self.stats.received[feed] += 1
        if len(self.inbound) >= self.options.max_inbound:
            self._shed()
        self.inbound.append((topic, payload, self.clock.now() if self.clock else None))
        self.stats.max_inbound_depth = max(self.stats.max_inbound_depth, len(self.inbound))

    def _shed(self) -> None:
        for i, (topic, _, _) in enumerate(self.inbound):
            if feed_of(topic) == "radar":
                del self.inbound[i]
                self.stats.shed["radar"] += 1
                return
            if i > 1000:  # bounded search; fall back to the oldest message
                break
        topic, _, _ = self.inbound.popleft()
        self.stats.shed[feed_of(topic)] += 1

    # -- fusion ------------------------------------------------------------------------------
    async def _fuse(self, stop: asyncio.Event) -> None:
        last_status = last_rejects = time.monotonic()
        while not stop.is_set():
            if self.clock is None:  # waiting for the simulator's clock
                await asyncio.sleep(self.options.idle_sleep_s)
                continue
            took = 0
            while self.inbound and took < self.options.fuse_batch:
                topic, payload, recv_t = self.inbound.popleft()
                self.fusion.accept(topic, payload, recv_t if recv_t is not None else self.clock.now())
                took += 1
            for tick in self.fusion.advance(self.clock.now()):
                self._emit(tick)
            mono = time.monotonic()
            if mono - last_status >= self.options.status_interval_s:
                last_status = mono
                self._send(self._status("online"))
            if mono - last_rejects >= self.options.rejects_interval_s:
                last_rejects = mono
                self._send_rejects()
            await asyncio.sleep(0 if self.inbound else self.options.idle_sleep_s)

    def _send(self, msg: OutMessage) -> None:
        try:
            self.link.outbox.put_nowait(msg)
        except asyncio.QueueFull:
            self.stats.shed["outbox"] += 1

    def _emit(self, tick: Tick) -> None:
        for a in tick.alerts:
            self._send(OutMessage(alert_topic(a.rule, a.track_id), encode(a), qos=1))
            self.stats.alerts_published += 1
        live = [r for r in tick.rows if r.status != "tentative"]
        for r in live:
            self._send(OutMessage(track_topic(r.domain, r.track_id), encode(r), qos=0, retain=True))
            self.published_tracks.add((r.domain, r.track_id))
        self.stats.tracks_published += len(live)
        for tid in tick.deleted_ids:
            for domain in ("surface", "air"):
                if (domain, tid) in self.published_tracks:
                    self.published_tracks.discard((domain, tid))
                    self._send(OutMessage(track_topic(domain, tid), b"", qos=1, retain=True))
        if self.fusion.counters.ticks % self.options.picture_every_ticks == 0:
            self._send(OutMessage(PICTURE_TOPIC, encode(picture(live, tick.t)), qos=0))
        if self.on_tick is not None:
            self.on_tick(tick)

    def _send_rejects(self) -> None:
        for feed in (*FEED_KINDS, "unknown"):
            n = self.fusion.ingest.log.total_rejected(feed)
            if n != self._last_rejects.get(feed, 0):
                self._last_rejects[feed] = n
                self._send(OutMessage(rejects_topic(feed), encode(self.fusion.ingest.log.summary(feed)), qos=0))

    def _status(self, state: str) -> OutMessage:
        c = self.fusion.counters
        body = {
            "state": state,
            "t": self.clock.now() if self.clock else None,
            "uptime_s": round(time.time() - self.stats.started, 3),
            "received": dict(self.stats.received),
            "shed": dict(self.stats.shed),
            "inbound_depth": len(self.inbound),
            "max_inbound_depth": self.stats.max_inbound_depth,
            "rejected": self.fusion.ingest.log.total_rejected(),
            "batches": c.batches,
            "measurements": c.measurements,
            "late_dropped": c.late_dropped,
            "alerts_raised": c.alerts_raised,
            "tracks": {d: len(t.view(self.clock.now())) if self.clock else 0 for d, t in self.fusion.trackers.items()},
            "broker": {"connects": self.link.stats.connects, "disconnects": self.link.stats.disconnects, "connected": self.link.stats.connected},
        }
        return OutMessage(STATUS_TOPIC, encode(body), qos=1, retain=True)

    # -- lifecycle ---------------------------------------------------------------------------
    async def serve(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut down gracefully (flush alerts and status)."""
        link_stop = asyncio.Event()
        link_task = asyncio.create_task(self.link.run(link_stop), name="mqtt-link")
        fuse_task = asyncio.create_task(self._fuse(stop), name="fuse")
        try:
            await fuse_task
        finally:
            if not fuse_task.done():
                fuse_task.cancel()
            self._send(self._status("offline"))
            link_stop.set()
            await link_task
