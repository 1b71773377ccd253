"""Radar decode ahead of the fusion worker: in the MQTT link process, beside fusion.

At the service's headline load (100 scans/s of 1,000 plots + 2,000 AIS msg/s) parsing the
radar scans' JSON took ~0.1 CPU s per second of load in the fusion worker, under the one
interpreter lock of the service process, while the MQTT link already runs in a child
process on the second core (``fusion.linkprocess``). That child now also parses each radar
payload (``RadarDecoder.parse``: JSON, structure, plot bounds, header but for its time) and
hashes it for the duplicate filter (``payload_digest``); the service receives the payload
with its ``Predecoded`` form: ingest filters duplicates by the digest and only finishes the
decode (``RadarParse.finish``: the scan time against the service's receive time). A scan
inside the service area also comes converted to the local frame
(``sensors.measurement.reports_to_batches``, as ingest converts it: ~0.7 ms a 1,000-plot scan),
so ingest queues its batch as is. The decode and the conversion are the same functions live
and offline (``jisf evaluate``/``replay`` decode in-process: ``Ingest.accept`` without a
``Predecoded``), so rejects, accepted plots and batches are identical (tested).

What the child does not parse, ingest decodes itself, with the same result: messages of
other feeds (AIS and ADS-B decoders keep per-source state, and their messages are small),
payloads over ``max_payload_bytes`` (rejected whole) and scans its own copy of the source's
budget refuses (``Predecoder``): a source flooding beyond its budget, which the service
sheds at intake anyway, costs the child a byte count, not a parse, per message, and a scan
over its kind's plots per message (``budget_radar_plots_per_scan``) is never parsed. The
child's copy of the budgets runs on its monotonic clock: a service on a warped simulation
clock (``jisf play --speed N``) admits up to N times more per wall second than the child
parses; the rest is decoded in the service, as with ``mqtt_io = "inline"``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from fusion.core.arrays import MeasBatch
from fusion.core.frame import LocalFrame
from fusion.intake import Intake, SourceBudgets, source_of
from sensors.codec import check_payload_size
from sensors.limits import DecodeLimits
from sensors.measurement import MeasurementNoise, reports_to_batches
from sensors.radar import RadarDecoder, RadarParse
from sensors.reports import RadarScanArrays

_RADAR_PREFIX = "radar/"


def payload_digest(topic: str, payload: bytes) -> bytes:
    """The duplicate filter's key of a message: BLAKE2b-128 of the payload, keyed by the topic (its
    first 64 bytes, BLAKE2b's key limit)."""
    return hashlib.blake2b(payload, digest_size=16, key=topic.encode()[:64]).digest()


# Reports (and radar sites) are accepted up to this far outside the service area; beyond it
# the local frame's distortion grows without bound (a pole is at infinity), so they are rejected.
AREA_MARGIN_DEG = 5.0


def inside_area(frame: LocalFrame, lat: float, lon: float) -> bool:
    """True when (lat, lon) (degrees) lies within ``AREA_MARGIN_DEG`` of the service area (``frame``'s bounds)."""
    m = AREA_MARGIN_DEG
    return frame.lat_min - m <= lat <= frame.lat_max + m and frame.lon_min - m <= lon <= frame.lon_max + m


@dataclass(frozen=True, slots=True)
class Predecoded:
    """A radar message's work done before the service's process: its duplicate key, its parse and,
    for a scan with plots inside the service area, its measurement batch."""

    digest: bytes  # payload_digest(topic, payload)
    radar: RadarParse[RadarScanArrays]  # RadarDecoder.parse(payload, source); finished with the receive time
    batch: MeasBatch | None = None  # reports_to_batches of the parsed scan (None: not converted here)


@dataclass(frozen=True)
class PredecodeSpec:
    """What the link process needs to parse and convert as the service would: the service's decode
    limits, its per-source budgets and the most a message is charged before decode (``Intake``), and
    its ingest's area, noise figures and source intervals (``Ingest.predecode_spec``)."""

    limits: DecodeLimits
    budgets: SourceBudgets
    max_cost: int  # Intake's max_cost: the most measurements one message is charged before decode
    area: tuple[float, float, float, float]  # the local frame's (lat_min, lat_max, lon_min, lon_max), degrees
    noise: MeasurementNoise
    source_interval_s: dict[str, float]  # TrackerConfig.source_interval_s


class Predecoder:
    """Parses the radar messages a service will fuse (``__call__``), in the link process."""

    def __init__(self, spec: PredecodeSpec, clock: Callable[[], float] = time.monotonic) -> None:
        """``clock``: seconds for the budgets' refill (a replay passes its simulated clock)."""
        self.decoder = RadarDecoder(limits=spec.limits)
        self.limits, self.clock = spec.limits, clock
        self.frame = LocalFrame(*spec.area)
        self.noise, self.source_interval_s = spec.noise, spec.source_interval_s
        # The service's budgets on this process's monotonic clock: only decides what is worth parsing (the
        # service's own intake decides what is shed, on its clock; what it admits unparsed, ingest decodes).
        self.gate = Intake(spec.budgets, spec.max_cost)

    def __call__(self, topic: str, payload: bytes) -> Predecoded | None:
        """The ``Predecoded`` form of a radar scan message; None for any other message, a payload over the
        size limit or a scan beyond its source's budget (the service decodes or rejects those itself)."""
        found = source_of(topic)
        if found is None or found[0] != "radar":
            return None
        key = found[1]
        if check_payload_size(key, payload, self.limits) is not None:
            return None
        if not self.gate.charge(topic, payload, self.clock()).admitted:
            return None
        parse = self.decoder.parse(payload, key[len(_RADAR_PREFIX):])
        batch = None
        if parse.scans and inside_area(self.frame, parse.scans[0].scan.sensor_lat, parse.scans[0].scan.sensor_lon):
            batch = next(iter(reports_to_batches(parse.scans, self.frame, self.noise, self.source_interval_s)), None)
        return Predecoded(payload_digest(topic, payload), parse, batch)
