"""Offline runs on a simulated clock: ``evaluate`` (scenario) and ``replay`` (recording).

Both push (receive time, topic, payload) triples through the same ``Fusion`` the live
service runs, with the receive times as the clock, and write the DESIGN.md JSON Lines.
No broker, no wall clock: the same input gives byte-identical files.

``evaluate`` fuses the simulator's feed bytes, the payloads ``jisf sim`` publishes, through the
service's own decoders, not the simulator's arrays: an evaluation then measures the real
decoding (quantisation, tag-block times, rejects) as the live service meets it, at the cost of
an encode and a decode per report (docs/BENCHMARKS.md, "evaluation speed").
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

import msgspec
import numpy as np

from fusion.clock import SIM_CLOCK_TOPIC, WarpedClock
from fusion.core.frame import LocalFrame
from fusion.deployment import Deployment
from fusion.pipeline import Counters, Fusion, FusionConfig, Tick
from fusion.publish import encode
from fusion.recording import RecordedMessage
from fusion.rules.engine import RulesConfig, default_rules
from fusion.rules.zones import ZoneSet

if TYPE_CHECKING:  # for annotations only: republish_recording imports the MQTT stack when it runs
    from fusion.mqtt import BrokerAddress
    from sim_feeds.scenario import Scenario

log = logging.getLogger("jisf.offline")

TRUTH_FILE, TRACKS_FILE, ALERTS_FILE, ZONES_FILE, METRICS_FILE = (
    "truth.jsonl",
    "tracks.jsonl",
    "alerts.jsonl",
    "zones.geojson",
    "metrics.json",
)


@dataclass(frozen=True)
class RunSummary:
    """What an offline run did."""

    messages: int
    counters: Counters
    rejected: int
    out_dir: Path


class JsonlWriter:
    """Writes ticks as tracks.jsonl and alerts.jsonl lines."""

    def __init__(self, tracks: IO[bytes], alerts: IO[bytes]) -> None:
        self.tracks = tracks
        self.alerts = alerts

    def write(self, tick: Tick) -> None:
        """Append one tick's rows and alerts."""
        for row in tick.rows:
            self.tracks.write(encode(row) + b"\n")
        for alert in tick.alerts:
            self.alerts.write(encode(alert) + b"\n")


def run_messages(fusion: Fusion, messages: Iterable[tuple[float, str, bytes]], writer: JsonlWriter) -> int:
    """Drive ``fusion`` with (recv_t, topic, payload) in receive order; returns the message count."""
    n = 0
    for recv_t, topic, payload in messages:
        for tick in fusion.advance(recv_t):
            writer.write(tick)
        fusion.accept(topic, payload, recv_t)
        n += 1
    for tick in fusion.finish():
        writer.write(tick)
    return n


def frame_for(lat_min: float, lat_max: float, lon_min: float, lon_max: float) -> LocalFrame:
    """The tracker frame for an area."""
    return LocalFrame(lat_min, lat_max, lon_min, lon_max)


def run_to_dir(
    fusion: Fusion, messages: Iterable[tuple[float, str, bytes]], out_dir: Path, zones_geojson: dict[str, object] | None
) -> RunSummary:
    """Run and write tracks.jsonl, alerts.jsonl (and zones.geojson) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if zones_geojson is not None:
        (out_dir / ZONES_FILE).write_text(json.dumps(zones_geojson, sort_keys=True))
    with ExitStack() as stack:
        tracks = stack.enter_context((out_dir / TRACKS_FILE).open("wb"))
        alerts = stack.enter_context((out_dir / ALERTS_FILE).open("wb"))
        n = run_messages(fusion, messages, JsonlWriter(tracks, alerts))
    return RunSummary(n, fusion.counters, fusion.ingest.log.total_rejected(), out_dir)


def _observed(messages: Iterable[tuple[float, str, bytes]],
              on_message: Callable[[float], None] | None) -> Iterable[tuple[float, str, bytes]]:
    """``messages``, calling ``on_message(t)`` with each one's time first (progress)."""
    if on_message is None:
        return messages

    def observed() -> Iterator[tuple[float, str, bytes]]:
        for m in messages:
            on_message(m[0])
            yield m

    return observed()


def evaluate(scenario_path: Path, out_dir: Path, *, rules: RulesConfig | None = None, config: FusionConfig | None = None,
             metrics: bool = True, deployment: Deployment | None = None,
             on_message: Callable[[float], None] | None = None) -> RunSummary:
    """Simulate a scenario, fuse it offline, write truth/tracks/alerts (and metrics.json).

    A ``deployment`` fuses the simulated feeds as that deployment would: its rules and tracker
    settings, its zones (when it has any) and its area (when it has one) replace the scenario's.
    ``on_message(t)`` is called with each feed message's scenario time (progress)."""
    from sim_feeds.play import iter_feed, iter_truth
    from sim_feeds.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / TRUTH_FILE).open("wb") as f:
        for rows in iter_truth(scenario):
            for row in rows:
                f.write(msgspec.json.encode(row) + b"\n")
    zones_geojson, area, zones_name = scenario.zones_geojson(), scenario.area, scenario_path.name
    if deployment is not None:
        rules, config = deployment.rules, deployment.fusion_config
        if deployment.zones_geojson["features"]:
            zones_geojson, zones_name = deployment.zones_geojson, deployment.name
        area = deployment.area or area
    rules = rules if rules is not None else scenario_rules(scenario, config)
    fusion = fusion_for_area(area, zones_geojson, zones_name, rules, config)
    summary = run_to_dir(fusion, _observed(((m.t, m.topic, m.payload) for m in iter_feed(scenario)), on_message),
                         out_dir, zones_geojson)
    if metrics:
        from fusion.evaluation.score import evaluate_dir

        evaluate_dir(out_dir, scenario=scenario)
    return summary


def scenario_rules(scenario: object, config: FusionConfig | None = None) -> RulesConfig:
    """The default rules with the AIS coverage of the scenario's AIS sensors (docs/RULES.md)."""
    from fusion.rules.config import ais_coverage, with_ais_coverage

    sensors = getattr(scenario, "sensors", ())
    terrestrial = [(s.lat, s.lon, s.range_m, s.range_class_b_m, s.fade_m) for s in sensors
                   if type(s).__name__ == "AisTerrestrial"]
    satellites = [(s.revisit_s, s.pass_s, s.latency_min_s, s.latency_max_s) for s in sensors
                  if type(s).__name__ == "AisSatellite"]
    lag = (config or FusionConfig()).tracker.oosm_lag_s
    return with_ais_coverage(default_rules(), ais_coverage(terrestrial, satellites, lag))


def fusion_for_area(area: AreaBounds, zones_geojson: dict[str, object], zones_name: str, rules: RulesConfig | None = None,
                    config: FusionConfig | None = None) -> Fusion:
    """A Fusion whose frame covers ``area`` (lat_min/lat_max/lon_min/lon_max attributes) with these zones."""
    frame = frame_for(area.lat_min, area.lat_max, area.lon_min, area.lon_max)
    zones = ZoneSet.from_geojson(zones_geojson, zones_name)
    return Fusion(frame, zones, rules if rules is not None else default_rules(), config)


def effective_messages(messages: Iterable[RecordedMessage]) -> Iterator[RecordedMessage]:
    """Recorded feed messages with ``recv_t`` on the clock the live service used.

    A recording of a ``jisf sim --speed N`` run holds the simulator's retained
    ``jisf/v1/sim/clock`` message; receive times after it are mapped from the wall onto
    the scenario's timeline, exactly as ``jisf run --clock sim`` did live. The clock
    messages themselves are not passed on.
    """
    warp: WarpedClock | None = None
    for m in messages:
        if m.topic == SIM_CLOCK_TOPIC:
            try:
                warp = WarpedClock.decode(m.payload)
            except (msgspec.ValidationError, ValueError) as err:  # as the live service: the previous clock stays
                log.warning("recording: ignoring a bad %s payload at t=%.3f: %s", SIM_CLOCK_TOPIC, m.recv_t, err)
            continue
        if warp is None:
            yield m
        else:
            yield msgspec.structs.replace(m, recv_t=warp.origin + warp.speed * (m.recv_t - warp.wall_start))


def recorded_feed(messages: Iterable[RecordedMessage]) -> Iterator[tuple[float, str, bytes]]:
    """(recv_t, topic, payload) of ``effective_messages``: what ``run_messages`` takes."""
    return ((m.recv_t, m.topic, m.payload) for m in effective_messages(messages))


DEFAULT_MARGIN_DEG = 0.05
REBASE_STEP_S = 10.0  # republish: payload times move by whole 10 s, a multiple of the output intervals that divide it (default 5 s)
_M_PER_DEG_LAT = 111_320.0  # metres per degree of latitude (mean), to widen a box by a radar's reach


class ReplayError(ValueError):
    """An offline replay that cannot give a result: one line for the operator."""


class AreaBounds(Protocol):
    """A lat/lon box, degrees: a scenario's or deployment's ``Area``, or a ``DataArea``."""

    @property
    def lat_min(self) -> float: ...
    @property
    def lat_max(self) -> float: ...
    @property
    def lon_min(self) -> float: ...
    @property
    def lon_max(self) -> float: ...


@dataclass(frozen=True)
class DataArea:
    """A lat/lon box (the attributes ``fusion_for_area`` reads), degrees."""

    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float


def data_area(messages: Iterable[RecordedMessage], *, margin_deg: float = DEFAULT_MARGIN_DEG) -> DataArea:
    """The box around every position in recorded feed messages, plus ``margin_deg``.

    Payloads are decoded with the service's own decoders (``fusion.ingest.new_decoders``):
    AIS, ADS-B and OTH report positions; a radar scan adds its sensor position widened by its
    farthest plot. ``ValueError`` when no message holds a position."""
    from fusion.ingest import new_decoders, parse_feed_topic
    from sensors.errors import DecodeError
    from sensors.reports import AdsbReport, AisPosition, OthFix, RadarScan

    decoders = new_decoders()
    lat_lo = lon_lo = math.inf
    lat_hi = lon_hi = -math.inf
    for m in effective_messages(messages):
        try:
            kind, source = parse_feed_topic(m.topic)
        except DecodeError:
            continue
        reports, _errors = decoders[kind].decode(m.payload, source, m.recv_t)
        for r in reports:
            reach_m = 0.0
            if isinstance(r, RadarScan):
                lat, lon = r.sensor_lat, r.sensor_lon
                reach_m = max((p.range_m for p in r.plots), default=0.0)
            elif isinstance(r, AisPosition | AdsbReport | OthFix):
                lat, lon = r.lat, r.lon
            else:
                continue  # static and voyage data: no position
            dlat = reach_m / _M_PER_DEG_LAT
            dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
            lat_lo, lat_hi = min(lat_lo, lat - dlat), max(lat_hi, lat + dlat)
            lon_lo, lon_hi = min(lon_lo, lon - dlon), max(lon_hi, lon + dlon)
    if lat_lo > lat_hi:
        raise ValueError("no feed message holds a position to take an area of operations from")
    def out(x: float, up: bool) -> float:  # widened to the next 1e-5 deg (about 1 m): a readable box
        return (math.ceil if up else math.floor)(round(x * 1e5, 6)) / 1e5

    area = DataArea(max(-89.0, out(lat_lo - margin_deg, False)), min(89.0, out(lat_hi + margin_deg, True)),
                    max(-180.0, out(lon_lo - margin_deg, False)), min(180.0, out(lon_hi + margin_deg, True)))
    error = frame_scale_error(area)
    if not error <= MAX_DATA_AREA_SCALE_ERROR:
        raise ValueError(
            f"the positions span lat {area.lat_min:g}..{area.lat_max:g}, lon {area.lon_min:g}..{area.lon_max:g}: one local "
            f"frame over that distorts distances by {100.0 * error:.0f} % (at most {100.0 * MAX_DATA_AREA_SCALE_ERROR:g} %); "
            "give a deployment with an [area] (reports outside it are rejected and counted)")
    return area


MAX_DATA_AREA_SCALE_ERROR = 0.05
"""Largest scale error |k - 1| of the tracker frame (``LocalFrame.scale``) over an area taken from the data. The frame
is made for a few tenths of a percent (fusion/core/frame.py); ten times that still holds a continent's coastal waters
(Australia's, lat -45..-8, lon 110..160: 3.2 %), while data from several regions (the AMSA stream with its North
American reports: 38 %) would give no local frame, and a distance-to-shore grid over the globe (gigabytes)."""


def frame_scale_error(area: AreaBounds, n: int = 25) -> float:
    """Largest |k - 1| of the tracker frame for ``area`` over an (n x n) grid of it (dimensionless)."""
    lat, lon = np.meshgrid(np.linspace(area.lat_min, area.lat_max, n), np.linspace(area.lon_min, area.lon_max, n))
    k = frame_for(area.lat_min, area.lat_max, area.lon_min, area.lon_max).scale(lat.ravel(), lon.ravel())
    return float(np.max(np.abs(k - 1.0)))


def top_reject_reasons(fusion: Fusion, n: int = 3) -> str:
    """``feed field xN (e.g. reason)`` for the ``n`` commonest rejections, for one error line."""
    log_ = fusion.ingest.log
    parts = []
    for (feed, fld), count in log_.rejected.most_common(n):
        example = next((r for r in reversed(log_.recent.get(feed, ())) if fld in r), "")
        parts.append(f"{feed} {fld} x{count}" + (f" (e.g. {example})" if example else ""))
    return "; ".join(parts)


def replay_recording(recording: Path, out_dir: Path, *, scenario_path: Path | None = None,
                     deployment: Deployment | None = None,
                     on_message: Callable[[float], None] | None = None) -> dict[str, object]:
    """Replay a recording offline (receive times as the clock).

    Area, zones, rules and tracker come from ``scenario_path`` (a simulated recording), else from
    ``deployment``; without an area from either, the area is the box around the recording's
    own positions (``data_area``, a first pass over the file) and there are no zones. Raises
    ``ReplayError`` when nothing can be replayed: no positions, or every report rejected.
    ``on_message(t)`` is called with each message's (replay clock) time (progress)."""
    from fusion.recording import read_recording

    rules: RulesConfig | None = None
    config: FusionConfig | None = None
    area: AreaBounds | None = None
    scenario: Scenario | None = None
    zones_geojson: dict[str, object] = {"type": "FeatureCollection", "features": []}
    name = "no-zones"
    if scenario_path is not None:
        from sim_feeds.scenario import load_scenario

        scenario = load_scenario(scenario_path)
        zones_geojson, name, rules, area = scenario.zones_geojson(), scenario.name, scenario_rules(scenario), scenario.area
    elif deployment is not None:
        zones_geojson, name, rules, config, area = (deployment.zones_geojson, deployment.name, deployment.rules,
                                                    deployment.fusion_config, deployment.area)
    if area is None:
        try:
            area = data_area(read_recording(recording))
        except ValueError as err:
            raise ReplayError(f"{recording}: {err}") from None
    fusion = fusion_for_area(area, zones_geojson, name, rules, config)
    reader = read_recording(recording)
    summary = run_to_dir(fusion, _observed(recorded_feed(reader), on_message), out_dir, zones_geojson)
    accepted = sum(fusion.ingest.log.accepted_reports.values())
    if accepted == 0 and summary.rejected > 0:
        raise ReplayError(f"{recording}: all {summary.rejected:,} reports rejected (area lat {area.lat_min:g}..{area.lat_max:g}, "
                          f"lon {area.lon_min:g}..{area.lon_max:g}); top reasons: {top_reject_reasons(fusion)}")
    if (out_dir / TRUTH_FILE).exists():
        from fusion.evaluation.score import evaluate_dir

        evaluate_dir(out_dir, scenario=scenario)
    c = summary.counters
    return {"out_dir": str(out_dir), "area": [area.lat_min, area.lat_max, area.lon_min, area.lon_max],
            "messages": summary.messages, "measurements": c.measurements, "ticks": c.ticks,
            "alerts_raised": c.alerts_raised, "rejected": summary.rejected, "late_dropped": c.late_dropped,
            "recording_truncated": bool(reader.truncated), "recording_lost_bytes": int(reader.lost_bytes)}


async def republish_recording(recording: Path, addr: BrokerAddress, speed: float, *, rebase: bool = True,
                              on_state: Callable[[str], None] | None = None,
                              on_message: Callable[[float], None] | None = None) -> dict[str, object]:
    """Publish a recording's feed messages onto a broker at ``speed`` x their recorded pace.

    The recorded sim clock messages are dropped; a fresh retained ``jisf/v1/sim/clock``
    (origin: the first message's time, ``speed``, starting now) goes out first, so a
    ``jisf run --clock sim`` service fuses on the replay's timeline. With ``rebase`` every
    time inside the payloads (``fusion.rebase.shift_payload``) is moved by
    ``dt``: ``now - first receive time`` rounded up to a whole ``REBASE_STEP_S``, so the replay is
    current (at most that far ahead of the wall) and a live service's output ticks fall at the
    same data times as the offline replay's. A ``--clock wall`` service follows it at ``speed`` 1,
    a ``--clock sim`` one at any speed.

    Broker outages: ``fusion.mqtt.publish_timed`` keeps the pace, republishes the clock and
    sends what fell due during the outage late (``dropped`` beyond its backlog);
    ``on_state(line)`` hears each connection change, ``on_message(t)`` each message queued.
    """
    import itertools
    import time

    from fusion.mqtt import PaceStats, publish_timed
    from fusion.publish import OutMessage
    from fusion.rebase import shift_payload
    from fusion.recording import read_recording

    if not (speed > 0 and math.isfinite(speed)):
        raise ValueError(f"replay: speed = {speed!r}: must be a finite number > 0")
    reader = read_recording(recording)
    feed = effective_messages(reader)
    first = next(feed, None)
    stats = PaceStats()
    dt = 0.0
    if first is not None:
        now = time.time()
        dt = REBASE_STEP_S * math.ceil((now - first.recv_t) / REBASE_STEP_S) if rebase else 0.0
        clock = WarpedClock(origin=first.recv_t + dt if rebase else first.recv_t, speed=speed, wall_start=now)
        clock_msg = OutMessage(SIM_CLOCK_TOPIC, clock.encode(), qos=1, retain=True)

        def timed() -> Iterator[tuple[float, OutMessage]]:
            for m in itertools.chain([first], feed):
                if on_message is not None:
                    on_message(m.recv_t)
                payload = shift_payload(m.topic, m.payload, dt, m.recv_t) if rebase else m.payload
                yield clock.scenario_to_wall(m.recv_t + dt), OutMessage(m.topic, payload, qos=m.qos, retain=m.retain)

        await publish_timed(addr, timed(), stats, on_connect=lambda: [clock_msg], on_state=on_state)
    return {"messages": stats.messages, "dropped": stats.dropped, "rebased_by_s": dt, "speed": speed,
            "recording_truncated": bool(reader.truncated), "recording_lost_bytes": int(reader.lost_bytes)}
