"""What the live service reports about itself: its counters (``ServiceStats``), the status
JSON of ``jisf/v1/status`` and the Prometheus text of ``/metrics`` (``StatusReport``).

``ServiceStats`` is written by the event loop (``received``, ``shed*``) and the fusion
worker (the rest); ``StatusReport`` only reads it, with the pipeline's own counters, the
intake budgets, the inbound queues and the MQTT link, so either can be tested alone on a
small service's parts (tests/unit/service/test_status.py).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from fusion.fairqueue import FairQueue
from fusion.intake import OTHER_SOURCES, REPORTED_SOURCES, Intake, most_shed
from fusion.linkprocess import LinkProcess
from fusion.mqtt import Link
from fusion.ops import LatencyWindow, Sample, latency_samples, prometheus_text
from fusion.pipeline import DOMAINS, Fusion
from fusion.publish import STATUS_TOPIC, OutMessage, encode

STATES = ("tentative", "confirmed", "coasting")  # track states by their status code (fusion.core.arrays)


@dataclass
class ShutdownReport:
    """Why and how the service stopped: the reason, the message counts and the phases, each
    in wall seconds after the stop request (``time.monotonic``), in the order they happen:
    ``intake_ended``, ``worker_stopped`` (the step running at the stop returned),
    ``drained`` (what was queued fused within the budget, the rest dropped),
    ``checkpoint_written``, ``status_queued`` (the final status handed to the link),
    ``link_done`` (flushed and disconnected, the link process gone)."""

    reason: str
    started: float = field(default_factory=time.monotonic)  # monotonic s of the stop request
    queued_at_stop: int = 0  # inbound messages waiting when intake ended
    fused_at_stop: int = 0  # messages taken by fusion (accepted or rejected) before the stop
    fused: int = 0  # messages taken by fusion after the stop (the running step's rest, then the budget's)
    dropped: int = 0  # messages dropped at shutdown: queued beyond the budget or received after the stop
    phases: dict[str, float] = field(default_factory=dict)

    def mark(self, phase: str) -> float:
        """Record that ``phase`` is done now; returns its seconds after the stop request."""
        self.phases[phase] = round(time.monotonic() - self.started, 4)
        return self.phases[phase]

    def body(self) -> dict[str, object]:
        """The ``shutdown`` object of the final status."""
        return {"reason": self.reason, "queued_at_stop": self.queued_at_stop, "fused": self.fused, "dropped": self.dropped,
                "phases_s": dict(self.phases)}


@dataclass
class ServiceStats:
    """Counters and latency windows of the live loop (the pipeline has its own counters).

    ``received``/``shed`` are written by the event loop; the rest by the fusion worker;
    ``lock`` guards the latency windows, which the metrics endpoint reads from the loop.
    """

    received: Counter[str] = field(default_factory=Counter)
    shed: Counter[str] = field(default_factory=Counter)  # by feed (or "outbox"): every shed message, whatever the reason
    shed_budget: Counter[str] = field(default_factory=Counter)  # by feed: over its source's budget, at intake
    shed_stale: Counter[str] = field(default_factory=Counter)  # by feed: admitted, then stale in a deferred source's queue
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
    shutdown: ShutdownReport | None = None  # set when a stop is requested
    started: float = field(default_factory=time.time)
    lock: threading.Lock = field(default_factory=threading.Lock)
    fuse_wait: LatencyWindow = field(default_factory=LatencyWindow)  # receive -> fused
    update_age: LatencyWindow = field(default_factory=LatencyWindow)  # measurement -> track update queued
    alert_age: LatencyWindow = field(default_factory=LatencyWindow)  # measurement -> alert queued
    step_s: LatencyWindow = field(default_factory=LatencyWindow)  # worker time per fuse step

    def windows(self) -> tuple[tuple[str, str, LatencyWindow], ...]:
        """(name, description, window) of each latency window."""
        return (("fuse_wait", "receive to fused", self.fuse_wait), ("update_age", "measurement to track update queued", self.update_age),
                ("alert_age", "measurement to alert queued", self.alert_age), ("step", "worker time per fuse step", self.step_s))


def rerun_seconds(by_source: dict[str, float], reported: dict[str, int]) -> dict[str, float]:
    """Batch time (s) re-run per source, for the sources of ``reported`` (``most_shed`` of the
    re-runs by source: the rest under OTHER_SOURCES)."""
    out = {k: round(by_source.get(k, 0.0), 3) for k in reported if k != OTHER_SOURCES}
    if OTHER_SOURCES in reported:
        out[OTHER_SOURCES] = round(sum(by_source.values()) - sum(by_source.get(k, 0.0) for k in out), 3)
    return out


class StatusReport:
    """The status body and the metrics text of one service, read from its parts."""

    def __init__(self, stats: ServiceStats, fusion: Fusion, intake: Intake, inbound: FairQueue, link: Link | LinkProcess) -> None:
        self.stats, self.fusion, self.intake, self.inbound, self.link = stats, fusion, intake, inbound, link
        self.last: dict[str, object] = {}  # the last body built (sent again as "online" on every reconnect)

    def body(self, now: float) -> dict[str, object]:
        """The status body at ``now`` (service clock, s); kept as ``last``."""
        s, c = self.stats, self.fusion.counters
        with s.lock:
            latency = {f"{name}_s": {f"p{round(q * 100)}": round(v, 6) for q, v in w.quantiles().items()} for name, _, w in s.windows()}
        tracks: dict[str, dict[str, int]] = {d: dict.fromkeys(STATES, 0) for d in DOMAINS}
        for (d, state), n in s.tracks_by_state.items():
            tracks[d][state] = n
        self.last = {
            "t": now,
            "uptime_s": round(time.time() - s.started, 3),
            "received": dict(s.received),
            "accepted": s.accepted,
            "rejected": s.rejected,
            "shed": dict(s.shed),
            "shed_by_source": self.intake.reported(),
            "shed_stale_by_source": most_shed(self.inbound.stale_by_source),
            "deferred_sources": sorted(self.inbound.deferred)[:REPORTED_SOURCES],
            "shutdown_dropped": dict(s.shutdown_dropped),
            "messages": self.message_outcomes(),
            "inbound_depth": len(self.inbound),
            "max_inbound_depth": s.max_inbound_depth,
            "outbox_depth": self.link.outbox.qsize(),
            "reorder_batches": self.fusion.ingest.buffered,
            "batches": c.batches,
            "measurements": c.measurements,
            "late_dropped": c.late_dropped,
            "late_fused": c.late_fused,
            "tracker_reruns": c.reruns,
            "tracker_rerun_batches": c.rerun_batches,
            "tracker_reruns_by_source": most_shed(Counter(c.reruns_by_source)),
            "tracker_rerun_s_by_source": rerun_seconds(c.rerun_s_by_source, most_shed(Counter(c.reruns_by_source))),
            "tracker_rerun_refused_by_source": most_shed(Counter(c.rerun_refused_by_source)),
            "tracker_births_refused_by_source": most_shed(self.fusion.births_refused()),
            "tracker_identity_refused": c.identity_refused,
            "ticks": c.ticks,
            "ticks_skipped": c.ticks_skipped,
            "stopped_steps": c.stopped_steps,
            "alerts_raised": c.alerts_raised,
            "alerts_published": s.alerts_published,
            "tracks": tracks,
            "latency": latency,
            "checkpoints": s.checkpoints,
            "restored_from": s.restored_from,
            "restore_s": s.restore_s,
            "silent_sources": self.fusion.heartbeats.silent_sources(now),
            "journal": {"adopted": s.journal_adopted, "cleared": s.journal_cleared, "swept": s.swept},
            **({"shutdown": s.shutdown.body()} if s.shutdown is not None else {}),
            "broker": {"connects": self.link.stats.connects, "disconnects": self.link.stats.disconnects,
                       "connected": self.link.stats.connected, "published": self.link.stats.published},
        }
        return self.last

    def message_outcomes(self) -> dict[str, dict[str, int]]:
        """Inbound MQTT messages by feed and outcome: accepted / rejected / shed (of which shed at intake
        by the source's budget, and shed as stale after admission); received == accepted + rejected + shed + queued."""
        s = self.stats
        return {feed: {"accepted": s.fused[f"{feed}/accepted"], "rejected": s.fused[f"{feed}/rejected"], "shed": s.shed[feed],
                       "shed_budget": s.shed_budget[feed], "shed_stale": s.shed_stale[feed]} for feed in sorted(s.received)}

    @staticmethod
    def message(state: str, body: dict[str, object]) -> OutMessage:
        """The retained status message."""
        return OutMessage(STATUS_TOPIC, encode({"state": state, **body}), qos=1, retain=True)

    def metrics_text(self) -> str:
        """Prometheus text exposition of the live counters, gauges and latency summaries."""
        s, c, link = self.stats, self.fusion.counters, self.link.stats
        samples = [Sample("jisf_up", "gauge", "1 while the service runs", 1),
                   Sample("jisf_broker_connected", "gauge", "1 while connected to the broker", int(link.connected)),
                   Sample("jisf_broker_connects_total", "counter", "successful broker connections", link.connects),
                   Sample("jisf_published_total", "counter", "messages published to the broker", link.published)]
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
                    Sample("jisf_deferred_sources", "gauge", "sources beyond their share left out of the fusion horizon", len(self.inbound.deferred)),
                    Sample("jisf_outbox_depth", "gauge", "outgoing messages waiting for the broker", self.link.outbox.qsize()),
                    Sample("jisf_alerts_published_total", "counter", "alert events queued for publishing", s.alerts_published),
                    Sample("jisf_checkpoints_total", "counter", "checkpoints written", s.checkpoints),
                    Sample("jisf_ticks_skipped_total", "counter", "output ticks not evaluated while catching up", c.ticks_skipped),
                    Sample("jisf_tracker_reruns_total", "counter", "out-of-sequence batches that made the tracker re-run", c.reruns),
                    Sample("jisf_tracker_rerun_batches_total", "counter", "batches processed again by those re-runs", c.rerun_batches)]
        samples += [Sample("jisf_tracker_reruns_by_source_total", "counter", "tracker re-runs by the source of the out-of-sequence batch "
                           "(the most re-running sources)", n, {"source": src}) for src, n in sorted(most_shed(Counter(c.reruns_by_source)).items())]
        samples += [Sample("jisf_tracker_rerun_refused_by_source_total", "counter", "out-of-sequence measurements not re-run, their "
                           "source's re-run budget spent: fused by retrodiction or counted late (the most refused sources)", n,
                           {"source": src}) for src, n in sorted(most_shed(Counter(c.rerun_refused_by_source)).items())]
        samples += [Sample("jisf_tracker_births_refused_by_source_total", "counter", "new tracks refused by their source's birth "
                           "budget (max_new_tracks_per_source_s, max_coop_births_per_source_s; the most refused sources)", n,
                           {"source": src}) for src, n in sorted(most_shed(self.fusion.births_refused()).items())]
        samples += [Sample("jisf_tracker_identity_refused_total", "counter", "cooperative reports impossible for the live track "
                           "of their identity that no track took: never a second track of one address", c.identity_refused)]
        samples += [Sample("jisf_tracks", "gauge", "live tracks at the last tick", n, {"domain": d, "state": st})
                    for (d, st), n in sorted(s.tracks_by_state.items())]
        with s.lock:
            for name, help_text, w in s.windows():
                samples += latency_samples(f"jisf_{name}_seconds", help_text, w)
        return prometheus_text(samples)
