"""Play a scenario: its truth rows and its time-ordered feed messages, both generated lazily.

``iter_feed`` merges one generator per sensor with ``heapq.merge`` on the publish time,
so memory stays bounded by what each sensor holds (satellite AIS: its latency backlog),
never by the scenario length. ``paced`` releases messages at their scenario time scaled
by a speed factor, for live publishing (the MQTT side is fusion.mqtt's).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from operator import attrgetter

from sim_feeds.adsb_sim import AdsbModel
from sim_feeds.ais_sim import AisSatelliteModel, AisTerrestrialModel
from sim_feeds.feed import FeedMessage
from sim_feeds.observe import OthModel, RadarModel
from sim_feeds.sat_sim import SatImageryModel
from sim_feeds.scenario import (
    AdsbReceiver,
    AisSatellite,
    AisTerrestrial,
    OthRadar,
    RadarSpec,
    SatImagery,
    Scenario,
    SensorSpec,
)
from sim_feeds.truth import Truth, TruthRow, iter_truth

__all__ = ["FeedMessage", "TruthRow", "iter_feed", "iter_truth", "paced", "sensor_feed"]


def sensor_feed(scenario: Scenario, truth: Truth, spec: SensorSpec) -> Iterator[FeedMessage]:
    """The time-ordered messages of one sensor."""
    if isinstance(spec, RadarSpec):
        return RadarModel(scenario, truth, spec).feed()
    if isinstance(spec, OthRadar):
        return OthModel(scenario, truth, spec).feed()
    if isinstance(spec, AisTerrestrial):
        return AisTerrestrialModel(scenario, truth, spec).feed()
    if isinstance(spec, AisSatellite):
        return AisSatelliteModel(scenario, truth, spec).feed()
    if isinstance(spec, AdsbReceiver):
        return AdsbModel(scenario, truth, spec).feed()
    if isinstance(spec, SatImagery):
        return SatImageryModel(scenario, truth, spec).feed()
    raise TypeError(f"sensors: kind of {spec!r} has no model")


def iter_feed(scenario: Scenario) -> Iterator[FeedMessage]:
    """All sensors' messages in publish-time order (ties: sensor order in the file). Same seed, same bytes."""
    truth = Truth.of(scenario)
    return heapq.merge(*(sensor_feed(scenario, truth, s) for s in scenario.sensors), key=attrgetter("t"))


async def paced(messages: Iterable[FeedMessage], speed: float,
                clock: Callable[[], float] = time.monotonic) -> AsyncIterator[FeedMessage]:
    """Yield each message when ``clock()`` reaches its scaled time: first message at once, then
    ``(m.t - first.t) / speed`` seconds of ``clock`` later. Never early; late only by the event loop."""
    if not speed > 0:
        raise ValueError(f"paced: speed = {speed!r}: must be > 0")
    start_wall: float | None = None
    start_t = 0.0
    for message in messages:
        if start_wall is None:
            start_wall, start_t = clock(), message.t
        due = start_wall + (message.t - start_t) / speed
        delay = due - clock()
        while delay > 0:
            await asyncio.sleep(delay)
            delay = due - clock()
        yield message
