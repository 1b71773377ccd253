"""Ingest: wire bytes -> decoded reports -> local-frame measurement batches, in time order.

Pure: no I/O, no asyncio, no clock of its own. The caller passes each message's receive
time and asks for the batches that are due at a given time; live, replay and offline
runs differ only in who supplies those times.

Ordering: batches wait in a re-order buffer for ``reorder_window_s`` after their own
measurement time before they are released, so that arrivals up to that much out of
order reach the tracker in time order. Later arrivals are released at once and left to
the tracker's out-of-sequence handling (which counts and drops what is beyond its lag).

Coalescing: a tracker step has a fixed cost over the whole track pool, so a release of
many small cooperative messages (AIS and ADS-B aggregators send a few reports per
message, thousands of messages a second) must not become thousands of steps. AIS and
ADS-B reports are therefore kept decoded but unconverted in the buffer, and ``due``
converts each run of consecutive released messages of one kind into one batch (one
vectorised frame conversion, one tracker step). A radar or OTH batch of the same track
pool ends the run unless it is at most ``coalesce_s`` newer than the run's oldest report: the
run then goes to the tracker after it, and the tracker fuses it in place
(``TrackerConfig.coop_skew_s``, the same bound) instead of re-running; so a radar pool scanned
100 times a second does not cut its AIS into 100 tracker steps a second. With ``coalesce_s``
0 every pool sees its batches in strict time order.

Rejections: every DecodeError is counted per feed and field pattern (indices replaced by
``*``: ``lines[*].sentence``), and the most recent ones are kept for the rejects topic;
both are bounded (``MAX_REJECT_FIELDS`` patterns per feed, ``RECENT_REJECTS`` reasons of at
most ``MAX_REASON_CHARS``), so a flood of bad input costs constant memory and summary size.
Payloads over the decoders' limits (``sensors.limits.DecodeLimits``) are rejected whole, as
one rejection. Exact duplicate payloads on the same topic within ``duplicate_window_s`` are
rejected as replays.

Satellite scenes (``sat``): every scene goes to the dark-detection correlation
(``fusion.satmatch``, which also keeps the AIS history it needs from the AIS positions
accepted here); a scene acquired within ``measurement_window_s`` of the newest measurement
time seen also goes to the tracker as a batch (older ones could only be dropped as late:
they are correlation-only, counted in ``sat_correlation_only``).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import re
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec
import numpy as np

from fusion.core.arrays import MeasBatch
from fusion.core.frame import LocalFrame
from fusion.intake import SourceBudgets
from fusion.predecode import AREA_MARGIN_DEG, Predecoded, PredecodeSpec, inside_area, payload_digest
from fusion.rules.reporting import AisReporting
from fusion.satmatch import DarkDetections, SatConfig
from sensors.adsb import AdsbDecoder
from sensors.ais import AisDecoder
from sensors.codec import check_payload_size
from sensors.errors import DecodeError
from sensors.limits import DEFAULT_LIMITS, DecodeLimits
from sensors.measurement import MeasurementNoise, reports_to_batches
from sensors.oth import OthDecoder
from sensors.radar import RadarDecoder
from sensors.reports import AdsbReport, AisPosition, AisStatic, RadarScan, RadarScanArrays, Report, SatScene
from sensors.sat import SatDecoder

TOPIC_ROOT = "jisf/v1"
FEED_KINDS: tuple[str, ...] = ("ais", "adsb", "radar", "oth", "sat")
RECENT_REJECTS = 20  # per feed, for the rejects topic summary
MAX_REASON_CHARS = 300  # a kept reason is cut to this length (a topic or a value can be long)
MAX_REJECT_FIELDS = 200  # field patterns counted per feed; the rest under OTHER_FIELDS
OTHER_FIELDS = "(other fields)"
_INDEX = re.compile(r"\[\d+\]")
_BATCH_META = ("sensor_kind", "sensor_id", "domain", "look_en_m", "sensor_alt_m", "snr_1m2_db", "rcs_ref_range_m")  # small non-array MeasBatch fields: snapshot meta
_BATCH_ARRAYS = tuple(f.name for f in dataclasses.fields(MeasBatch) if f.name not in _BATCH_META)
# Cooperative report types whose conversion is deferred to release (coalesced), with their track pool.
_DEFERRED: dict[type, str] = {AisPosition: "surface", AdsbReport: "air"}


@dataclass(frozen=True)
class _Pending:
    """One message's AIS positions or ADS-B reports, decoded and validated, not yet converted."""

    kind: type
    domain: str
    reports: list[AisPosition | AdsbReport]


_Item = MeasBatch | _Pending


def field_pattern(name: str) -> str:
    """A DecodeError field with its indices replaced by ``*``: ``lines[123].sentence`` -> ``lines[*].sentence``."""
    return _INDEX.sub("[*]", name)


def parse_feed_topic(topic: str) -> tuple[str, str]:
    """``jisf/v1/feeds/{kind}/{source}`` -> (kind, source); DecodeError naming the topic otherwise."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != f"{TOPIC_ROOT}/feeds" or parts[3] not in FEED_KINDS or not parts[4]:
        raise DecodeError("ingest", "topic", topic, f"expected {TOPIC_ROOT}/feeds/{{{'|'.join(FEED_KINDS)}}}/{{source}}")
    return parts[3], parts[4]


@dataclass
class RejectLog:
    """Counts of accepted and rejected input per feed, with a bounded tail of recent reasons."""

    accepted_messages: Counter[str] = field(default_factory=Counter)
    accepted_reports: Counter[str] = field(default_factory=Counter)
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)  # (feed, field pattern) -> count
    recent: dict[str, deque[str]] = field(default_factory=dict)
    _fields: dict[str, int] = field(default_factory=dict, init=False, repr=False)  # distinct field patterns per feed

    def __post_init__(self) -> None:
        for feed, _ in self.rejected:
            self._fields[feed] = self._fields.get(feed, 0) + 1

    def reject(self, feed: str, err: DecodeError) -> None:
        """Count one rejection under its feed and field pattern and remember its reason."""
        key = (feed, field_pattern(err.field))
        if key not in self.rejected and self._fields.get(feed, 0) >= MAX_REJECT_FIELDS:
            key = (feed, OTHER_FIELDS)
        if key not in self.rejected:
            self._fields[feed] = self._fields.get(feed, 0) + 1
        self.rejected[key] += 1
        reason = str(err)
        if len(reason) > MAX_REASON_CHARS:
            reason = reason[: MAX_REASON_CHARS - 3] + "..."
        self.recent.setdefault(feed, deque(maxlen=RECENT_REJECTS)).append(reason)

    def total_rejected(self, feed: str | None = None) -> int:
        """Rejections for one feed, or for all feeds."""
        return sum(n for (f, _), n in self.rejected.items() if feed is None or f == feed)

    def summary(self, feed: str) -> dict[str, object]:
        """Rejects summary for ``jisf/v1/rejects/{feed}``: counts by field and the latest reasons."""
        by_field = {fld: n for (f, fld), n in sorted(self.rejected.items()) if f == feed}
        return {
            "feed": feed,
            "rejected": sum(by_field.values()),
            "by_field": by_field,
            "accepted_messages": self.accepted_messages[feed],
            "recent": list(self.recent.get(feed, ())),
        }


def new_decoders(limits: DecodeLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """A fresh decoder per feed kind (AIS and ADS-B decoders keep per-source state), bounded by ``limits``."""
    return {"ais": AisDecoder(limits=limits), "adsb": AdsbDecoder(limits=limits), "radar": RadarDecoder(limits=limits),
            "oth": OthDecoder(limits=limits), "sat": SatDecoder(limits=limits)}


class Ingest:
    """Decode, validate and convert feed messages; release measurement batches in time order."""

    def __init__(
        self,
        frame: LocalFrame,
        *,
        noise: MeasurementNoise | None = None,
        reorder_window_s: float = 2.0,
        duplicate_window_s: float = 600.0,
        max_duplicate_keys: int = 200_000,
        limits: DecodeLimits = DEFAULT_LIMITS,
        sat: SatConfig | None = None,
        measurement_window_s: float = 30.0,
        source_interval_s: dict[str, float] | None = None,
        coalesce_s: float = 0.0,
    ) -> None:
        if reorder_window_s < 0:
            raise ValueError(f"reorder_window_s must be >= 0, got {reorder_window_s}")
        if not 0 <= coalesce_s < np.inf:
            raise ValueError(f"coalesce_s must be >= 0, got {coalesce_s}")
        self.frame = frame
        self.noise = noise if noise is not None else MeasurementNoise()
        self.reorder_window_s = reorder_window_s
        self.coalesce_s = coalesce_s  # how far a cooperative run may span other batches of its pool (s)
        self.duplicate_window_s = duplicate_window_s
        self.max_duplicate_keys = max_duplicate_keys
        self.limits = limits
        self.decoders = new_decoders(limits)
        self.dark = DarkDetections(frame, sat if sat is not None else SatConfig())
        self.measurement_window_s = measurement_window_s
        self.source_interval_s = dict(source_interval_s or {})  # "kind/source" -> expected report interval, s
        self.newest_t = -np.inf  # newest measurement time accepted (the satellite measurement window)
        self.sat_correlation_only = 0  # scenes too old for the tracker: correlation only
        self.log = RejectLog()
        self.statics: OrderedDict[int, AisStatic] = OrderedDict()  # latest static data per MMSI, bounded
        self.callsigns: OrderedDict[int, str] = OrderedDict()  # latest ADS-B call sign per ICAO address, bounded
        self.max_statics = 100_000  # bound of each of the two
        self.ais_reporting = AisReporting()  # per MMSI: last report type, SOG and observed reception (ais_gap's evidence)
        self._seen: OrderedDict[bytes, float] = OrderedDict()  # payload digest -> receive time
        self._queue: list[tuple[float, int, _Item]] = []  # the re-order buffer, a heap on (time, arrival)
        self._order = itertools.count()

    def accept(self, topic: str, payload: bytes, recv_t: float, pre: Predecoded | None = None) -> int:
        """Decode one message received at ``recv_t``; returns the number of measurements accepted
        (reports; a radar scan counts its plots, at least 1), 0 when rejected whole.

        ``pre``: the radar message's duplicate key, parse and batch made by the MQTT link process
        (``fusion.predecode``); the result is the same as without it.
        Never raises for bad input: everything rejected is counted in ``self.log``.
        """
        try:
            kind, source = parse_feed_topic(topic)
        except DecodeError as err:
            self.log.reject("unknown", err)
            return 0
        oversized = check_payload_size(f"{kind}/{source}", payload, self.limits)
        if oversized is not None:  # before the duplicate filter hashes it
            self.log.reject(kind, oversized)
            return 0
        if self._is_duplicate(payload_digest(topic, payload) if pre is None else pre.digest, recv_t):
            self.log.reject(kind, DecodeError(f"{kind}/{source}", "payload", payload[:40], f"duplicate of a message received within {self.duplicate_window_s:g} s"))
            return 0
        decoder = self.decoders[kind]
        decoded: list[Report] | list[RadarScanArrays]
        if pre is not None and isinstance(decoder, RadarDecoder):
            decoded, errors = pre.radar.finish(recv_t)
        elif isinstance(decoder, RadarDecoder):  # the arrays form (RadarScanArrays, no Python object per plot)
            decoded, errors = decoder.decode_arrays(payload, source, recv_t)
        else:
            decoded, errors = decoder.decode(payload, source, recv_t)
        for error in errors:
            self.log.reject(kind, error)
        if not decoded:
            return 0
        reports = self._inside_area(kind, source, list(decoded))
        if not reports:
            return 0
        self.log.accepted_messages[kind] += 1
        self.log.accepted_reports[kind] += len(reports)
        # one pass over the reports (a cooperative feed sends thousands of small messages a second):
        # measurements accepted, static data kept, positions for the satellite history, newest time
        accepted = 0
        positions: list[AisPosition] = []
        newest = self.newest_t
        scenes = False
        for r in reports:
            if isinstance(r, AisPosition):
                positions.append(r)
            elif isinstance(r, RadarScanArrays | RadarScan):
                accepted += max(1, len(r.plots)) - 1
            elif isinstance(r, AisStatic | AdsbReport):
                self._keep_static(r)
            elif isinstance(r, SatScene):
                scenes = True
            t = getattr(r, "t", None)
            if isinstance(t, float) and t > newest:
                newest = t
        accepted += len(reports)
        self.newest_t = newest
        if positions:
            self.dark.history.add(positions)
            self.ais_reporting.add(positions)
        if scenes:
            self._satellite_scenes(reports, recv_t)
        first = type(reports[0]) if reports else type(None)  # (a late scene may have been taken out)
        pending = _DEFERRED.get(first)
        if pending is not None and all(type(r) is first for r in reports):  # the usual cooperative payload
            coop = cast(list[AisPosition | AdsbReport], reports)  # every report of one _DEFERRED type
            heapq.heappush(self._queue, (max(r.t for r in coop), next(self._order), _Pending(first, pending, coop)))
            return accepted
        now_convert: list[Report] = []
        deferred: dict[type, list[AisPosition | AdsbReport]] = {}
        for r in reports:
            if isinstance(r, AisPosition | AdsbReport):  # the _DEFERRED types
                deferred.setdefault(type(r), []).append(r)
            else:
                now_convert.append(r)
        for cls, reps in deferred.items():
            heapq.heappush(self._queue, (max(r.t for r in reps), next(self._order), _Pending(cls, _DEFERRED[cls], reps)))
        if now_convert:
            # a radar message's one scan: converted already in the MQTT link process when inside the area
            converted = [pre.batch] if pre is not None and pre.batch is not None else \
                reports_to_batches(now_convert, self.frame, self.noise, self.source_interval_s)
            for batch in converted:
                if len(batch):
                    heapq.heappush(self._queue, (float(batch.t.max()), next(self._order), batch))
        return accepted

    def predecode_spec(self, budgets: SourceBudgets, max_cost: int) -> PredecodeSpec:
        """What the MQTT link process needs to parse and convert radar scans as this ingest does
        (``fusion.predecode``), with the service's per-source ``budgets`` and ``max_cost`` (``Intake``)."""
        f = self.frame
        return PredecodeSpec(self.limits, budgets, max_cost, (f.lat_min, f.lat_max, f.lon_min, f.lon_max), self.noise,
                             dict(self.source_interval_s))

    def _inside_area(self, kind: str, source: str, reports: list[Report]) -> list[Report]:
        """``reports`` without those outside the service area (each rejected, counted)."""
        inside = []
        for r in reports:
            err = self._outside_area(f"{kind}/{source}", r)
            if err is None:
                inside.append(r)
            else:
                self.log.reject(kind, err)
        return inside

    def _outside_area(self, feed: str, report: Report | RadarScanArrays) -> DecodeError | None:
        """A DecodeError naming the position field when ``report`` (a radar scan: its site) lies
        more than AREA_MARGIN_DEG outside the service area; None otherwise (or without a position)."""
        if isinstance(report, RadarScanArrays):
            report = report.scan
        if isinstance(report, SatScene):
            for i, d in enumerate(report.detections):
                err = self._outside_area_at(feed, f"detections[{i}].", d.lat, d.lon)
                if err is not None:
                    return err
            return None
        if isinstance(report, RadarScan):
            prefix, lat, lon = "sensor_", report.sensor_lat, report.sensor_lon
        elif isinstance(report, AisStatic):
            return None
        else:
            prefix, lat, lon = "", report.lat, report.lon
        return self._outside_area_at(feed, prefix, lat, lon)

    def _outside_area_at(self, feed: str, prefix: str, lat: float, lon: float) -> DecodeError | None:
        if inside_area(self.frame, lat, lon):
            return None
        f, m = self.frame, AREA_MARGIN_DEG
        for name, value, lo, hi in (("lat", lat, f.lat_min - m, f.lat_max + m), ("lon", lon, f.lon_min - m, f.lon_max + m)):
            if not lo <= value <= hi:
                return DecodeError(feed, prefix + name, value, f"outside the service area (grown by {m:g} deg): {lo:g} .. {hi:g}")
        return None

    def due(self, now: float) -> list[MeasBatch]:
        """Batches whose measurement time is at least ``reorder_window_s`` before ``now``, oldest
        first per track pool; consecutive AIS (or ADS-B) messages come out as one batch, also
        across the pool's other batches within ``coalesce_s`` of the run's oldest report."""
        cutoff = now - self.reorder_window_s
        out: list[MeasBatch] = []
        runs: dict[str, tuple[_Pending, float]] = {}  # per track pool: the open run of deferred reports, its oldest time

        def close(domain: str) -> None:
            run = runs.pop(domain, None)
            if run is not None:
                out.extend(b for b in reports_to_batches(run[0].reports, self.frame, self.noise, self.source_interval_s) if len(b))

        while self._queue and self._queue[0][0] <= cutoff:
            t, _, item = heapq.heappop(self._queue)
            open_run = runs.get(item.domain)
            if isinstance(item, MeasBatch):
                if open_run is not None and not (self.coalesce_s > 0 and t <= open_run[1] + self.coalesce_s):
                    close(item.domain)
                out.append(item)
                continue
            if open_run is not None and open_run[0].kind is not item.kind:
                close(item.domain)
                open_run = None
            oldest = min(r.t for r in item.reports)
            if open_run is None:
                runs[item.domain] = (_Pending(item.kind, item.domain, list(item.reports)), oldest)
            else:
                open_run[0].reports.extend(item.reports)
                runs[item.domain] = (open_run[0], min(open_run[1], oldest))
        for domain in list(runs):
            close(domain)
        return out

    def hold(self, batches: list[MeasBatch]) -> None:
        """Put batches ``due`` released, not yet fused, back into the re-order buffer (a step stopped
        between two of them: ``Fusion.advance``'s ``stop``); the next ``due`` releases them again (each
        keyed by its newest time, at or before the cutoff that released it: before anything still
        buffered then), and a checkpoint holds them meanwhile."""
        for batch in batches:
            heapq.heappush(self._queue, (float(batch.t.max()), next(self._order), batch))

    def _satellite_scenes(self, reports: list[Report], recv_t: float) -> None:
        """Satellite scenes to the dark-detection correlation; a scene too old for the tracker's
        window is taken out of ``reports`` (correlation only). The AIS history it needs is fed
        from the accepted positions in ``accept``."""
        for i in range(len(reports) - 1, -1, -1):
            scene = reports[i]
            if isinstance(scene, SatScene):
                self.dark.add_scene(scene, recv_t)
                if scene.acq_time < self.newest_t - self.measurement_window_s:
                    self.sat_correlation_only += 1
                    del reports[i]
                else:
                    self.newest_t = max(self.newest_t, scene.acq_time)

    def snapshot(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The state a restart needs, as arrays and JSON-able meta: the duplicate filter
        (``seen_keys``/``seen_t``), the re-order buffer as batches (``heap.{i}.{field}``, their
        small fields in meta ``heap``), the reject log (``rejects``) and the AIS statics."""
        arrays: dict[str, np.ndarray] = {
            "seen_keys": np.array(list(self._seen.keys()), dtype="S16"),
            "seen_t": np.fromiter(self._seen.values(), dtype=float, count=len(self._seen)),
        }
        heap_meta = []
        for i, (_, _, item) in enumerate(sorted(self._queue, key=lambda entry: entry[:2])):
            batch = item if isinstance(item, MeasBatch) else reports_to_batches(item.reports, self.frame, self.noise, self.source_interval_s)[0]
            arrays.update({f"heap.{i}.{f}": getattr(batch, f) for f in _BATCH_ARRAYS if getattr(batch, f) is not None})
            heap_meta.append({f: getattr(batch, f) for f in _BATCH_META})
        rl = self.log
        meta = {
            "heap": heap_meta,
            "rejects": {"accepted_messages": dict(rl.accepted_messages), "accepted_reports": dict(rl.accepted_reports),
                        "rejected": [[f, fld, n] for (f, fld), n in rl.rejected.items()],
                        "recent": {f: list(q) for f, q in rl.recent.items()}},
            "statics": msgspec.to_builtins(list(self.statics.values())),
            "callsigns": [[icao, cs] for icao, cs in self.callsigns.items()],
            "ais_reporting": self.ais_reporting.state(),
            "sat": {**self.dark.snapshot(), "newest_t": None if np.isinf(self.newest_t) else self.newest_t,
                    "correlation_only": self.sat_correlation_only},
        }
        return arrays, meta

    def restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Put back what ``snapshot`` returned (replacing the current state)."""
        self._seen = OrderedDict(zip((bytes(k) for k in arrays["seen_keys"]), arrays["seen_t"].tolist(), strict=True))
        self._queue.clear()
        for i, info in enumerate(meta["heap"]):
            look = info.get("look_en_m")
            columns: dict[str, Any] = {f: arrays[f"heap.{i}.{f}"] for f in _BATCH_ARRAYS
                                       if f"heap.{i}.{f}" in arrays}  # interval_s, source: older checkpoints lack them
            batch = MeasBatch(**columns, **{**info, "look_en_m": tuple(look) if look else None})
            self._queue.append((float(batch.t.max()), next(self._order), batch))  # appended in heap order: still a heap
        r = meta["rejects"]
        self.log.accepted_messages = Counter(r["accepted_messages"])
        self.log.accepted_reports = Counter(r["accepted_reports"])
        rejected: Counter[tuple[str, str]] = Counter()
        for f, fld, n in r["rejected"]:  # patterns: a checkpoint of an older version may hold indices
            rejected[(f, field_pattern(fld))] += n
        self.log.rejected = rejected
        self.log._fields = dict(Counter(f for f, _ in rejected))
        self.log.recent = {f: deque(q, maxlen=RECENT_REJECTS) for f, q in r["recent"].items()}
        self.statics = OrderedDict((st.mmsi, st) for st in msgspec.convert(meta["statics"], list[AisStatic]))
        self.callsigns = OrderedDict((int(icao), str(cs)) for icao, cs in meta.get("callsigns", ()))  # (older checkpoints: none)
        self.ais_reporting.restore(meta.get("ais_reporting", []))  # (older checkpoints: learnt anew)
        sat = meta.get("sat", {})
        self.dark.restore(sat)
        self.newest_t = -np.inf if sat.get("newest_t") is None else float(sat["newest_t"])
        self.sat_correlation_only = int(sat.get("correlation_only", 0))

    @property
    def latest_buffered_t(self) -> float | None:
        """Newest measurement time waiting in the re-order buffer, None when empty."""
        return max((item[0] for item in self._queue), default=None)

    @property
    def buffered(self) -> int:
        """Messages' batches waiting in the re-order buffer."""
        return len(self._queue)

    def _is_duplicate(self, key: bytes, recv_t: float) -> bool:
        """True when a message with the duplicate key ``key`` (``payload_digest``) was received within the window."""
        while self._seen and (len(self._seen) >= self.max_duplicate_keys or next(iter(self._seen.values())) < recv_t - self.duplicate_window_s):
            self._seen.popitem(last=False)
        if key in self._seen:
            return True
        self._seen[key] = recv_t
        return False

    def _keep_static(self, r: AisStatic | AdsbReport) -> None:
        """Latest AIS static data per MMSI (a type 24 part A or B fills in only what it carries, so
        parts sent in separate messages combine) and latest ADS-B call sign per ICAO address."""
        if isinstance(r, AisStatic):
            old = self.statics.get(r.mmsi)
            if old is not None and r.msg_type == 24:
                r = msgspec.structs.replace(r, name=r.name or old.name, callsign=r.callsign or old.callsign,
                                            ship_type=r.ship_type or old.ship_type)
            _keep_latest(self.statics, r.mmsi, r, self.max_statics)
        elif r.callsign is not None:
            _keep_latest(self.callsigns, r.icao24, r.callsign, self.max_statics)


def _keep_latest(table: OrderedDict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """Set ``table[key]``, most recent last, dropping the least recently set beyond ``limit``."""
    table[key] = value
    table.move_to_end(key)
    if len(table) > limit:
        table.popitem(last=False)
