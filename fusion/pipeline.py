"""The fusion pipeline: ingest -> tracker pools -> rules, driven by an external clock. Pure.

``Fusion`` holds every piece of mutable state of the service. It is driven by two
calls: ``accept(topic, payload, recv_t)`` for each inbound message and
``advance(now)`` to process what is due and emit output ticks up to ``now``. The live
service calls them with wall-clock (or warped) times; ``evaluate`` and ``replay`` call
them with the recorded or simulated times, so all three run exactly the same code.

Output ticks fall on multiples of ``output_interval_s``, so two runs over the same input
tick at the same times and produce the same bytes.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import msgspec
import numpy as np

from fusion.actions import FEED as OPS_FEED
from fusion.actions import OperatorAction, decode_action, is_ops_topic
from fusion.core.arrays import Domain, MeasBatch, TrackView
from fusion.core.frame import LocalFrame
from fusion.core.tracker import StepResult, Tracker, TrackerConfig
from fusion.identity import IdentityLookup, identity_fields
from fusion.ingest import FEED_KINDS, Ingest
from fusion.outages import Heartbeats, OutageSettings
from fusion.predecode import Predecoded
from fusion.publish import AIR_ID_BASE, TrackRow, track_rows
from fusion.rules.engine import AlertEvent, RuleEngine, RulesConfig
from fusion.rules.zones import ZoneSet
from fusion.satmatch import SatConfig
from sensors.errors import DecodeError
from sensors.limits import DecodeLimits
from sensors.measurement import MeasurementNoise

DOMAINS: tuple[Domain, ...] = ("surface", "air")
_ID_OFFSET = {"surface": 0, "air": AIR_ID_BASE}


@dataclass(frozen=True)
class FusionConfig:
    """Pipeline settings (tracker and rule thresholds have their own configs)."""

    output_interval_s: float = 5.0  # tracks/alerts tick period, measurement time
    reorder_window_s: float = 2.0  # how long a batch waits for later-arriving, earlier-timed data
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    noise: MeasurementNoise = field(default_factory=MeasurementNoise)
    limits: DecodeLimits = field(default_factory=DecodeLimits)  # per-payload decoding bounds (docs/FORMATS.md, "Limits")
    sat: SatConfig = field(default_factory=SatConfig)  # AIS history and the dark_detection rule (fusion/satmatch.py)
    outages: OutageSettings = field(default_factory=OutageSettings)  # when a silent link / feed counts as an outage

    def __post_init__(self) -> None:
        if not (self.output_interval_s > 0 and math.isfinite(self.output_interval_s)):
            raise ValueError(f"output_interval_s must be a positive number, got {self.output_interval_s}")
        # A batch is released reorder_window_s after its time, and ticks move the tracker's clock:
        # with a window longer than the tracker's lag every released batch would be dropped as late.
        if not (0 <= self.reorder_window_s <= self.tracker.oosm_lag_s):
            raise ValueError(f"reorder_window_s must be between 0 and tracker.oosm_lag_s ({self.tracker.oosm_lag_s:g} s), "
                             f"got {self.reorder_window_s}")


@dataclass(frozen=True)
class Tick:
    """What one output tick produced.

    ``views`` hold every live track of both pools predicted to ``t`` (arrays, global ids);
    ``rows`` (the tracks.jsonl records of all of them) are built on first use only, so that
    the live service can publish from the arrays without a Python object per track;
    ``identity`` names them (rows built later see identity learnt since: the latest known).
    """

    t: float
    views: dict[str, TrackView]  # domain -> view at t, global track ids
    alerts: list[AlertEvent]
    deleted_ids: list[int]  # tracks deleted since the previous tick (global ids)
    frame: LocalFrame
    identity: IdentityLookup = field(default_factory=lambda: IdentityLookup({}, {}))

    @cached_property
    def rows(self) -> list[TrackRow]:
        """Every live track, both pools, as output rows (WGS84)."""
        return [row for d in DOMAINS for row in track_rows(self.views[d], self.frame, self.identity)]


@dataclass
class Counters:
    """Running totals for progress lines and the status topic."""

    batches: int = 0
    measurements: int = 0
    late_dropped: int = 0
    late_fused: int = 0  # measurements older than the re-run window fused by retrodiction (TrackerConfig.late_max_age_s)
    reruns: int = 0  # batches that came out of sequence (within the tracker's lag) and made it re-run
    rerun_batches: int = 0  # logged batches processed again by those re-runs
    ticks: int = 0
    ticks_skipped: int = 0  # output ticks not evaluated because fusion was behind (advance's ``catch_up_ticks``)
    alerts_raised: int = 0
    nonfinite_dropped: int = 0  # tracks deleted because their state went non-finite (the tracker's guard)
    duplicates_merged: int = 0  # cooperative reports merged as exact duplicates (one report from several receivers)
    identity_refused: int = 0  # cooperative reports impossible for their identity's live track, no track took: not born
    reruns_by_source: dict[str, int] = field(default_factory=dict)  # "kind/sensor id" -> its out-of-sequence batches re-run
    rerun_s_by_source: dict[str, float] = field(default_factory=dict)  # -> batch time (s) those re-runs replayed
    rerun_refused_by_source: dict[str, int] = field(default_factory=dict)  # -> measurements not re-run (re-run budget
    # spent, TrackerConfig.rerun_budget_s_per_s): fused by retrodiction instead, or counted late
    stopped_steps: int = 0  # advances cut short by their ``stop`` (a shutdown): what they had released went back to ingest


def _global_ids(ids: np.ndarray, domain: str) -> np.ndarray:
    return ids + _ID_OFFSET[domain]


class Fusion:
    """All service state: ingest buffers, the two track pools and the rule engine."""

    def __init__(self, frame: LocalFrame, zones: ZoneSet, rules: RulesConfig, config: FusionConfig | None = None) -> None:
        self.config = config if config is not None else FusionConfig()
        self.frame = frame
        self.ingest = Ingest(frame, noise=self.config.noise, reorder_window_s=self.config.reorder_window_s,
                             limits=self.config.limits, sat=self.config.sat,
                             measurement_window_s=self.config.tracker.oosm_lag_s,
                             source_interval_s=self.config.tracker.source_interval_s,
                             coalesce_s=self.config.tracker.coop_skew_s)
        self.trackers = {d: Tracker(self.config.tracker, d) for d in DOMAINS}
        self.rules = RuleEngine(zones, rules, frame)
        self.counters = Counters()
        self._next_tick: float | None = None
        self._deleted: list[int] = []
        self._actions: list[OperatorAction] = []  # operator actions accepted, applied at the next tick
        self.heartbeats = Heartbeats(self.config.outages)  # silences of the link and the feeds, for the gap rules
        self.identity = IdentityLookup(self.ingest.statics, self.ingest.callsigns)

    def progress_state(self) -> dict[str, Any]:
        """JSON-able state outside the pools, rules and ingest: the next output tick, the
        deletions not yet reported, operator actions not yet applied, the counters (for checkpoints)."""
        return {"next_tick": self._next_tick, "deleted": list(self._deleted), "counters": dataclasses.asdict(self.counters),
                "actions": msgspec.to_builtins(self._actions), "heartbeats": self.heartbeats.state()}

    def restore_progress(self, state: dict[str, Any]) -> None:
        """Put back what ``progress_state`` returned."""
        self._next_tick = state["next_tick"]
        self._deleted = list(state["deleted"])
        self._actions = msgspec.convert(state.get("actions", []), list[OperatorAction])
        self.counters = Counters(**state["counters"])
        if "heartbeats" in state:  # (checkpoints from before outage awareness: heartbeats learnt anew)
            self.heartbeats.restore(state["heartbeats"])

    def accept(self, topic: str, payload: bytes, recv_t: float, pre: Predecoded | None = None) -> int:
        """Take one inbound message; returns the number of measurements accepted (0 if rejected; a radar scan counts its plots).

        A feed message goes to ingest (with ``pre``, its decode begun in the MQTT link process:
        ``fusion.predecode``); an operator action (``jisf/v1/ops/...``) is validated and
        applied to its alert at the next output tick (1 if accepted); rejects of both are counted
        in ``self.ingest.log``."""
        if is_ops_topic(topic):
            return self._accept_action(topic, payload)
        if self._next_tick is None:
            self._next_tick = math.floor(recv_t / self.config.output_interval_s) * self.config.output_interval_s
        parts = topic.split("/", 4)
        if len(parts) == 5 and parts[3] in FEED_KINDS:  # any feed message, even one rejected, shows the link alive
            self.heartbeats.observe(parts[3], topic, recv_t)
        return self.ingest.accept(topic, payload, recv_t, pre)

    def _accept_action(self, topic: str, payload: bytes) -> int:
        try:
            self._actions.append(decode_action(topic, payload))
        except DecodeError as err:
            self.ingest.log.reject(OPS_FEED, err)
            return 0
        self.ingest.log.accepted_messages[OPS_FEED] += 1
        return 1

    def advance(self, now: float, catch_up_ticks: int = 0, stop: Callable[[], bool] | None = None) -> Iterator[Tick]:
        """Process every batch due by ``now`` and yield the output ticks that fall at or before it.

        With ``catch_up_ticks`` > 0 (the live service, behind its clock): when more ticks than
        that are due at once, only that many, evenly spread and the newest among them (1: the
        newest only), are evaluated and yielded; the data of the skipped ones is still fused, in time order,
        and their deletions and alerts come out at the next evaluated one. Rule holds keep
        counting (measurement time), a condition being first seen at most one spacing late.
        Counted in ``ticks_skipped``.

        ``stop`` (the live service's shutdown: true once its time is up) is asked before each
        batch and each tick: when true, the batches released and not yet fused go back into the
        re-order buffer (``Ingest.hold``), the tick that was due is not evaluated (it is next
        again) and nothing more is done: the state is that after the last batch fused, every
        accepted measurement either fused or buffered (a checkpoint holds both). Counted in
        ``stopped_steps``; the caller owns the clock."""
        if self._next_tick is None:
            return
        interval = self.config.output_interval_s
        due_ticks = math.floor((now - self._next_tick) / interval + 1e-9) + 1
        keep = None
        if 0 < catch_up_ticks < due_ticks:
            keep = set(np.round(np.linspace(due_ticks - 1, 0, catch_up_ticks)).astype(int).tolist())  # (1: the newest only)
        k = 0
        while self._next_tick <= now:
            t = self._next_tick
            if keep is None or k in keep or t + interval > now:  # (the newest due tick always, whatever the rounding)
                if not self._step_batches(self.ingest.due(t), stop) or self._stopped(stop):
                    return
                yield self._tick(t)
            else:
                self.counters.ticks_skipped += 1
            self._next_tick = t + interval
            k += 1
        self._step_batches(self.ingest.due(now), stop)
    def finish(self) -> Iterator[Tick]:
        """End of input: release everything still buffered and emit the ticks that covers."""
        end = self.ingest.latest_buffered_t
        if end is None or self._next_tick is None:
            return
        yield from self.advance(end + self.config.reorder_window_s + self.config.output_interval_s)

    def births_refused(self) -> Counter[str]:
        """New tracks refused per source ("kind/source") by its birth budget (both pools), since start."""
        out: Counter[str] = Counter()
        for trk in self.trackers.values():
            out.update(trk.births_refused)
        return out

    def views(self, t: float) -> dict[str, TrackView]:
        """Both pools predicted to ``t``, with globally unique track ids."""
        out: dict[str, TrackView] = {}
        for d, trk in self.trackers.items():
            v = trk.view(t)
            out[d] = replace(v, track_id=_global_ids(v.track_id, d))
        return out

    def _stopped(self, stop: Callable[[], bool] | None) -> bool:
        if stop is None or not stop():
            return False
        self.counters.stopped_steps += 1
        return True

    def _step_batches(self, batches: list[MeasBatch], stop: Callable[[], bool] | None = None) -> bool:
        """Fuse ``batches`` in order; False when ``stop`` ended it first (the rest held back in ingest)."""
        for i, batch in enumerate(batches):
            if self._stopped(stop):
                self.ingest.hold(batches[i:])
                return False
            res = self.trackers[batch.domain].step(batch)
            if res.rerun_batches or res.rerun_refused:
                source, c = f"{batch.sensor_kind}/{batch.sensor_id}", self.counters
                c.reruns_by_source[source] = c.reruns_by_source.get(source, 0) + int(res.rerun_batches > 0)
                c.rerun_s_by_source[source] = c.rerun_s_by_source.get(source, 0.0) + res.rerun_s
                if res.rerun_refused:
                    c.rerun_refused_by_source[source] = c.rerun_refused_by_source.get(source, 0) + res.rerun_refused
            self.counters.batches += 1
            self.counters.measurements += len(batch)
            self._absorb(res, batch.domain)
        return True

    def _absorb(self, res: StepResult, domain: str) -> None:
        self.counters.late_dropped += int(res.late_dropped)
        self.counters.late_fused += int(res.late_fused)
        self.counters.reruns += int(res.rerun_batches > 0)
        self.counters.rerun_batches += int(res.rerun_batches)
        self.counters.nonfinite_dropped += int(res.nonfinite_dropped)
        self.counters.duplicates_merged += int(res.duplicates_merged)
        self.counters.identity_refused += int(res.identity_refused)
        if len(res.deleted_ids):
            self._deleted.extend(_global_ids(np.asarray(res.deleted_ids), domain).tolist())
        if len(res.merged):
            self.rules.on_merge(_global_ids(np.asarray(res.merged).reshape(-1, 2), domain))

    def _tick(self, t: float) -> Tick:
        for d, trk in self.trackers.items():
            self._absorb(trk.advance(t), d)
        views = self.views(t)
        acted, rejects = self.rules.apply_actions(t, self._actions)
        self._actions = []
        for err in rejects:
            self.ingest.log.reject(OPS_FEED, err)
        alerts = acted + self.rules.evaluate(t, views, self.heartbeats.outages(t), self.ingest.ais_reporting.arrays()) + self.ingest.dark.evaluate(t)
        identity = self.identity.bind(self.ingest.statics, self.ingest.callsigns)
        alerts = [_named(a, identity) for a in alerts]
        deleted, self._deleted = self._deleted, []
        self.counters.ticks += 1
        self.counters.alerts_raised += sum(1 for a in alerts if a.state == "raised")
        return Tick(t=t, views=views, alerts=alerts, deleted_ids=deleted, frame=self.frame, identity=identity)


def _named(alert: AlertEvent, identity: IdentityLookup) -> AlertEvent:
    """``alert`` with the identity of its MMSI / ICAO address, where known."""
    if alert.mmsi is None and alert.icao24 is None:
        return alert
    known = identity_fields(identity.of(alert.mmsi, None if alert.icao24 is None else int(alert.icao24, 16)))
    return msgspec.structs.replace(alert, **known) if known else alert
