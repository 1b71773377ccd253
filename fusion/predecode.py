"""Radar decode ahead of the fusion worker: in the MQTT link process, beside fusion.

At the service's headline load (100 scans/s of 1,000 plots + 2,000 AIS msg/s) parsing the
radar scans' JSON took ~0.1 CPU s per second of load in the fusion worker, under the one
interpreter lock of the service process, while the MQTT link already runs in a child
process on the second core (``fusion.linkprocess``). That child now also parses each radar
payload (``RadarDecoder.parse``: JSON, structure, plot bounds, header but for its time) and
hashes it for the duplicate filter (``payload_digest``); the service receives the payload
with its ``Predecoded`` form and ingest only finishes the decode (``RadarParse.finish``:
the scan time against the service's receive time), then filters duplicates, checks the
area and converts as before (``fusion.ingest.Ingest.accept``). The decode is the same
function live and offline (``jisf evaluate``/``replay`` decode in-process: ``Ingest.accept``
without a ``Predecoded``), so rejects and accepted plots are identical (tested).

What the child does not parse, ingest decodes itself, with the same result: messages of
other feeds (AIS and ADS-B decoders keep per-source state, and their messages are small),
payloads over ``max_payload_bytes`` (rejected whole) and scans its own copy of the source's
budget refuses (``Predecoder``): a source flooding beyond its budget, which the service
sheds at intake anyway, costs the child a byte count, not a parse, per message, and a scan
over its kind's plots per message (``budget_radar_plots_per_scan``) is never parsed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from fusion.intake import Intake, SourceBudgets, source_of
from sensors.codec import check_payload_size
from sensors.limits import DecodeLimits
from sensors.radar import RadarDecoder, RadarParse
from sensors.reports import RadarScanArrays

_RADAR_PREFIX = "radar/"


def payload_digest(topic: str, payload: bytes) -> bytes:
    """The duplicate filter's key of a message: BLAKE2b-128 of the payload, keyed by the topic (its
    first 64 bytes, BLAKE2b's key limit)."""
    return hashlib.blake2b(payload, digest_size=16, key=topic.encode()[:64]).digest()


@dataclass(frozen=True, slots=True)
class Predecoded:
    """A radar message's work done before the service's process: its duplicate key and its parse."""

    digest: bytes  # payload_digest(topic, payload)
    radar: RadarParse[RadarScanArrays]  # RadarDecoder.parse(payload, source); finished with the receive time


@dataclass(frozen=True)
class PredecodeSpec:
    """What the link process needs to parse as the service would: the service's decode limits,
    its per-source budgets and the most a message is charged before decode (``Intake``)."""

    limits: DecodeLimits
    budgets: SourceBudgets
    max_cost: int  # Intake's max_cost: the most measurements one message is charged before decode


class Predecoder:
    """Parses the radar messages a service will fuse (``__call__``), in the link process."""

    def __init__(self, spec: PredecodeSpec, clock: Callable[[], float] = time.monotonic) -> None:
        """``clock``: seconds for the budgets' refill (a replay passes its simulated clock)."""
        self.decoder = RadarDecoder(limits=spec.limits)
        self.limits, self.clock = spec.limits, clock
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
        return Predecoded(payload_digest(topic, payload), self.decoder.parse(payload, key[len(_RADAR_PREFIX):]))
