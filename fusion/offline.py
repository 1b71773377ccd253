"""Offline runs on a simulated clock: ``evaluate`` (scenario) and ``replay`` (recording).

Both push (receive time, topic, payload) triples through the same ``Fusion`` the live
service runs, with the receive times as the clock, and write the DESIGN.md JSON Lines.
No broker, no wall clock: the same input gives byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import msgspec

from fusion.clock import SIM_CLOCK_TOPIC, WarpedClock
from fusion.core.frame import LocalFrame
from fusion.pipeline import Counters, Fusion, FusionConfig, Tick
from fusion.publish import encode
from fusion.recording import RecordedMessage
from fusion.rules.engine import RulesConfig, default_rules
from fusion.rules.zones import ZoneSet

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
             metrics: bool = True, on_message: Callable[[float], None] | None = None) -> RunSummary:
    """Simulate a scenario, fuse it offline, write truth/tracks/alerts (and metrics.json).

    ``on_message(t)`` is called with each feed message's scenario time (progress).
    """
    from sim_feeds.play import iter_feed, iter_truth
    from sim_feeds.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / TRUTH_FILE).open("wb") as f:
        for rows in iter_truth(scenario):
            for row in rows:
                f.write(msgspec.json.encode(row) + b"\n")
    zones_geojson = scenario.zones_geojson()
    rules = rules if rules is not None else scenario_rules(scenario, config)
    fusion = fusion_for_area(scenario.area, zones_geojson, scenario_path.name, rules, config)
    summary = run_to_dir(fusion, _observed(((m.t, m.topic, m.payload) for m in iter_feed(scenario)), on_message),
                         out_dir, zones_geojson)
    if metrics:
        from fusion.metrics import evaluate_dir

        evaluate_dir(out_dir)
    return summary


def scenario_rules(scenario: object, config: FusionConfig | None = None) -> RulesConfig:
    """The default rules with the AIS coverage of the scenario's AIS sensors (docs/RULES.md)."""
    from fusion.rules.config import ais_coverage, with_ais_coverage

    sensors = getattr(scenario, "sensors", ())
    terrestrial = [(s.lat, s.lon, s.range_m) for s in sensors if type(s).__name__ == "AisTerrestrial"]
    satellites = [(s.revisit_s, s.pass_s, s.latency_min_s, s.latency_max_s) for s in sensors
                  if type(s).__name__ == "AisSatellite"]
    lag = (config or FusionConfig()).tracker.oosm_lag_s
    return with_ais_coverage(default_rules(), ais_coverage(terrestrial, satellites, lag))


def fusion_for_area(area: object, zones_geojson: dict[str, object], zones_name: str, rules: RulesConfig | None = None,
                    config: FusionConfig | None = None) -> Fusion:
    """A Fusion whose frame covers ``area`` (lat_min/lat_max/lon_min/lon_max attributes) with these zones."""
    frame = frame_for(area.lat_min, area.lat_max, area.lon_min, area.lon_max)  # type: ignore[attr-defined]
    zones = ZoneSet.from_geojson(zones_geojson, zones_name)
    return Fusion(frame, zones, rules if rules is not None else default_rules(), config)


def recorded_feed(messages: Iterable[RecordedMessage]) -> Iterator[tuple[float, str, bytes]]:
    """(recv_t, topic, payload) of recorded feed messages on the clock the live service used.

    A recording of a ``jisf sim --speed N`` run holds the simulator's retained
    ``jisf/v1/sim/clock`` message; receive times after it are mapped from the wall onto
    the scenario's timeline, exactly as ``jisf run --clock sim`` did live.
    """
    warp: WarpedClock | None = None
    for m in messages:
        if m.topic == SIM_CLOCK_TOPIC:
            warp = WarpedClock.decode(m.payload)
            continue
        t = m.recv_t if warp is None else warp.origin + warp.speed * (m.recv_t - warp.wall_start)
        yield t, m.topic, m.payload


def replay_recording(recording: Path, out_dir: Path, *, scenario_path: Path | None = None,
                     on_message: Callable[[float], None] | None = None) -> dict[str, object]:
    """Replay a recording offline (receive times as the clock); area and zones from a scenario.

    ``on_message(t)`` is called with each message's (replay clock) time (progress).
    """
    from fusion.recording import read_recording
    from sim_feeds.scenario import default_scenario_path, load_scenario

    scenario = load_scenario(scenario_path or default_scenario_path())
    zones_geojson = scenario.zones_geojson()
    fusion = fusion_for_area(scenario.area, zones_geojson, scenario.name, scenario_rules(scenario))
    reader = read_recording(recording)
    summary = run_to_dir(fusion, _observed(recorded_feed(reader), on_message), out_dir, zones_geojson)
    if (out_dir / TRUTH_FILE).exists():
        from fusion.metrics import evaluate_dir

        evaluate_dir(out_dir)
    c = summary.counters
    return {"out_dir": str(out_dir), "messages": summary.messages, "measurements": c.measurements, "ticks": c.ticks,
            "alerts_raised": c.alerts_raised, "rejected": summary.rejected, "late_dropped": c.late_dropped,
            "recording_truncated": bool(reader.truncated), "recording_lost_bytes": int(reader.lost_bytes)}


async def republish_recording(recording: Path, addr: object, speed: float,
                              on_state: Callable[[str], None] | None = None,
                              on_message: Callable[[float], None] | None = None) -> dict[str, object]:
    """Publish a recording's messages onto a broker at ``speed`` x their recorded pace, through outages.

    ``on_message(recv_t)`` is called as each message is queued (progress).
    ``fusion.mqtt.publish_timed`` keeps the pace and republishes after a reconnect.
    """
    import time

    from fusion.mqtt import PaceStats, publish_timed
    from fusion.publish import OutMessage
    from fusion.recording import read_recording

    reader = read_recording(recording)

    def timed() -> Iterator[tuple[float, OutMessage]]:
        t_first: float | None = None
        wall0 = time.time()
        for m in reader:
            t_first = m.recv_t if t_first is None else t_first
            if on_message is not None:
                on_message(m.recv_t)
            yield wall0 + (m.recv_t - t_first) / speed, OutMessage(m.topic, m.payload, qos=m.qos, retain=m.retain)

    stats = PaceStats()
    await publish_timed(addr, timed(), stats, on_state=on_state)  # type: ignore[arg-type]
    return {"messages": stats.messages, "dropped": stats.dropped, "recording_truncated": bool(reader.truncated),
            "recording_lost_bytes": int(reader.lost_bytes)}
