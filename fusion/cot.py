"""``jisf cot``: tracks and alerts as Cursor-on-Target (CoT) events for TAK clients.

A client of the output contract (README "Topic and payload contract"): it subscribes to
``jisf/v1/tracks/#`` (retained track states, an empty retained payload when a track is
deleted) and ``jisf/v1/alerts/#`` and sends one CoT XML event (``<event version="2.0">``)
per confirmed or coasting track and one spot-map marker per open alert to a TAK client
or server over UDP (unicast or multicast, e.g. the ATAK SA group ``239.2.3.1:6969``) or
TCP (a TAK Server's plain CoT input, e.g. port 8087). docs/COT.md documents the mapping
(types, uids, times, errors) and the choices behind it.

Three layers:

- pure builders (``track_event``, ``alert_event``, ``removal_event``, ``cot_type``):
  decoded payloads in, ``xml.etree.ElementTree`` elements out;
- ``CotBridge``: the picture as the bridge knows it (latest state of each live track,
  open alerts, which track holds which uid) turning MQTT messages into serialized events;
  no I/O, the caller passes the wall-clock time;
- ``run_bridge``: the asyncio shell. MQTT comes through ``fusion.mqtt.Link`` (reconnects,
  resubscribes: retained tracks come back after a broker restart); CoT goes out through
  pytak's queue/worker model (``pytak.protocol_factory`` opens the UDP or TCP client, a
  ``pytak.TXWorker`` drains our queue into it, ``pytak.supervise_with_reconnect`` reopens
  it with backoff after a transport failure). After each (re)connection the whole live
  picture is sent first, and it is sent again every ``resend_s`` for TAK clients that
  join late.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ipaddress
import json
import logging
import math
import re
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from configparser import ConfigParser, SectionProxy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec

from fusion.publish import ALERTS_FILTER, TOPIC_ROOT, TRACKS_FILTER, TrackRow
from sensors.errors import DecodeError

with warnings.catch_warnings():  # pytak warns at import that its optional TLS-enrolment and HTTP extras are absent
    warnings.simplefilter("ignore", UserWarning)
    import pytak

log = logging.getLogger("jisf.cot")

# -- the contract's payloads, as this client reads them ------------------------------------


class OpMsg(msgspec.Struct, frozen=True):
    """An operator action recorded on an alert (its ``ops`` list)."""

    action: str  # "acknowledge" | "dismiss"
    by: str = ""
    why: str = ""


class AlertMsg(msgspec.Struct, frozen=True):
    """A ``jisf/v1/alerts/{rule}/{track_id}`` payload (alerts.jsonl fields, identity and operator
    actions optional; evidence not used)."""

    alert_id: str
    rule: str
    severity: str
    state: str
    track_id: int
    t: float | None = None  # None for a cleared event the service queued at a merge
    lat: float | None = None
    lon: float | None = None
    zone: str | None = None
    mmsi: int | None = None
    icao24: str | None = None
    reason: str = ""
    related_track_ids: list[int] = []
    priority: float | None = None
    name: str | None = None
    callsign: str | None = None
    ops: list[OpMsg] = []

    @property
    def dismissed(self) -> bool:
        """An operator dismissed it: shown no more, although the service clears it only when its condition ends."""
        return any(op.action == "dismiss" for op in self.ops)


DOMAINS = ("surface", "air")
LIVE_STATUSES = ("confirmed", "coasting")  # tentative tracks are not sent (the service does not publish them either)
ALERT_STATES = ("raised", "updated", "cleared")
MAX_TIME_S = 4_102_444_800.0  # 2100-01-01: data times are Unix seconds of this century
MAX_HORIZON_S = 1e7  # ~116 days: the longest stale horizon an option may set

# -- CoT vocabulary ------------------------------------------------------------------------

HOW_FUSED = "m-f"  # machine-generated, fused
HOW_MARKER = "h-g-i-g-o"  # the "how" ATAK gives its own spot-map markers
MARKER_TYPE = "b-m-p-s-m"  # spot-map marker: takes a <color>, shown by ATAK, WinTAK and iTAK
UNKNOWN_VALUE = 9999999.0  # CoT's "not known" for hae, ce and le
KNOT_MPS = 0.514444

# AIS ship type (ITU-R M.1371 table 53) -> CoT/2525 function below sea surface, non-military "S-X".
SHIP_FUNCTION: tuple[tuple[range, str], ...] = (
    (range(30, 31), "X-F"),  # fishing
    (range(31, 33), "X-M-T-O"),  # towing
    (range(35, 36), "C"),  # military operations: combatant
    (range(36, 38), "X-R"),  # sailing, pleasure craft: leisure
    (range(52, 53), "X-M-T-U"),  # tug
    (range(55, 56), "X-L"),  # law enforcement
    (range(58, 59), "N-M"),  # medical transport: hospital ship
    (range(60, 70), "X-M-P"),  # passenger
    (range(70, 80), "X-M-C"),  # cargo
    (range(80, 90), "X-M-O"),  # tanker
)
SEVERITY_ARGB = {"high": -65536, "medium": -23296, "low": -256}  # red, orange, yellow as signed 32-bit ARGB


def surface_function(ship_type: int | None) -> str:
    """The CoT function of a vessel below ``S``: by AIS ship type, else "X" (non-military vessel)."""
    if ship_type is not None:
        for codes, fn in SHIP_FUNCTION:
            if ship_type in codes:
                return fn
    return "X"


def cot_type(domain: str, *, suspect: bool, cooperative: bool, ship_type: int | None = None) -> str:
    """CoT type of a track (docs/COT.md, "Types").

    Affiliation: suspect (``s``) when the track has an open alert, else neutral (``n``) when it
    is identified by AIS (MMSI) or ADS-B (ICAO address), else unknown (``u``). Dimension ``S``
    (sea surface) or ``A`` (air); function: vessels by AIS ship type ("X" non-military when
    unknown), identified or suspect aircraft ``C`` (civil); none for unknown contacts.
    """
    if domain == "air":
        if suspect:
            return "a-s-A-C" if cooperative else "a-s-A"
        return "a-n-A-C" if cooperative else "a-u-A"
    if suspect:
        return f"a-s-S-{surface_function(ship_type)}"
    return f"a-n-S-{surface_function(ship_type)}" if cooperative else "a-u-S"


def cot_time(t: float) -> str:
    """Unix seconds -> the CoT (xs:dateTime, UTC) form, millisecond precision: ``2026-12-07T05:06:15.123Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def circular_error_m(cov_en_m2: tuple[tuple[float, float], tuple[float, float]]) -> float:
    """CoT ``ce``: the one-sigma error of the position's major axis, sqrt(largest eigenvalue), m.

    The CoT schema defines ce as the one-sigma point of a zero-mean normal error; for an
    elliptical error the major axis is the conservative one-sigma circle.
    """
    (a, b), (c, d) = cov_en_m2
    off = 0.5 * (b + c)
    lam = 0.5 * (a + d) + math.hypot(0.5 * (a - d), off)
    return math.sqrt(max(lam, 0.0))


def course_speed(vel_e_mps: float, vel_n_mps: float) -> tuple[float, float]:
    """East/north velocity (m/s) -> (course, degrees true in [0, 360), speed m/s): CoT ``<track>`` units."""
    return math.degrees(math.atan2(vel_e_mps, vel_n_mps)) % 360.0, math.hypot(vel_e_mps, vel_n_mps)


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


def _event(uid: str, type_: str, how: str, t_time: float, t_start: float, t_stale: float) -> ET.Element:
    return ET.Element("event", {"version": "2.0", "uid": uid, "type": type_, "how": how, "time": cot_time(t_time),
                                "start": cot_time(t_start), "stale": cot_time(t_stale)})


def _point(parent: ET.Element, lat: float, lon: float, hae: float = UNKNOWN_VALUE, ce: float = UNKNOWN_VALUE,
           le: float = UNKNOWN_VALUE) -> None:
    ET.SubElement(parent, "point", {"lat": _fmt(lat, 7), "lon": _fmt(lon, 7), "hae": _fmt(hae, 1), "ce": _fmt(ce, 1),
                                    "le": _fmt(le, 1)})


def track_label(tr: TrackRow) -> str:
    """What TAK shows next to the track: name, else call sign, else MMSI / ICAO address, else the track id."""
    if tr.name:
        return tr.name
    if tr.callsign:
        return tr.callsign
    if tr.mmsi is not None:
        return f"MMSI {tr.mmsi}"
    if tr.icao24:
        return f"ICAO {tr.icao24.upper()}"
    return f"T{tr.track_id}"


def alert_summary(a: AlertMsg) -> str:
    """One line per open alert in a track's remarks."""
    zone = f" in {a.zone}" if a.zone else ""
    return f"ALERT {a.rule} ({a.severity}){zone}: {a.reason}"


def track_remarks(tr: TrackRow, alerts: Iterable[AlertMsg]) -> str:
    """Plain-text remarks: the track, its identity, its sources, its open alerts."""
    parts = [f"jisf track {tr.track_id} ({tr.domain}, {tr.status})"]
    if tr.mmsi is not None:
        parts.append(f"MMSI {tr.mmsi}")
    if tr.icao24:
        parts.append(f"ICAO {tr.icao24.upper()}")
    for label, value in (("name", tr.name), ("call sign", tr.callsign), ("flag", tr.flag), ("country", tr.country)):
        if value:
            parts.append(f"{label} {value}")
    if tr.ship_type is not None or tr.ship_type_text:
        code = f" ({tr.ship_type})" if tr.ship_type is not None else ""
        parts.append(f"type {tr.ship_type_text or 'AIS'}{code}")
    course, speed = course_speed(tr.vel_e_mps, tr.vel_n_mps)
    parts.append(f"{speed / KNOT_MPS:.1f} kn course {course:.0f}")
    if tr.sources:
        parts.append("sources " + ", ".join(tr.sources))
    parts.extend(alert_summary(a) for a in alerts)
    return "; ".join(parts)


def track_event(tr: TrackRow, *, uid: str, type_: str, t_ref: float, horizon_s: float,
                alerts: Iterable[AlertMsg] = ()) -> ET.Element:
    """The CoT event of one track: time = start = ``t_ref``, stale = ``t_ref + horizon_s``.

    point: lat/lon, hae = ``alt_m`` where known (0 for surface tracks, unknown for air tracks
    without an altitude), ce from the covariance (``circular_error_m``), le unknown.
    detail: ``<contact callsign>`` (``track_label``), ``<track course speed>`` (degrees true,
    m/s), ``<remarks>`` (``track_remarks``).
    """
    ev = _event(uid, type_, HOW_FUSED, t_ref, t_ref, t_ref + horizon_s)
    hae = tr.alt_m if tr.alt_m is not None else (0.0 if tr.domain == "surface" else UNKNOWN_VALUE)
    _point(ev, tr.lat, tr.lon, hae=hae, ce=circular_error_m(tr.cov_en_m2))
    detail = ET.SubElement(ev, "detail")
    ET.SubElement(detail, "contact", {"callsign": track_label(tr)})
    course, speed = course_speed(tr.vel_e_mps, tr.vel_n_mps)
    ET.SubElement(detail, "track", {"course": _fmt(course, 1), "speed": _fmt(speed, 2)})
    ET.SubElement(detail, "remarks", {"source": "jisf"}).text = track_remarks(tr, alerts)
    return ev


def alert_remarks(a: AlertMsg) -> str:
    """Plain-text remarks of an alert marker: rule, severity, state, zone, track, reason."""
    parts = [f"rule {a.rule}", f"severity {a.severity}", f"state {a.state}"]
    if a.zone:
        parts.append(f"zone {a.zone}")
    ident = "".join(f", {k} {v}" for k, v in (("MMSI", a.mmsi), ("ICAO", a.icao24), ("name", a.name),
                                                 ("call sign", a.callsign)) if v is not None)
    parts.append(f"track {a.track_id}{ident}")
    if a.related_track_ids:
        parts.append("related tracks " + ", ".join(map(str, a.related_track_ids)))
    if a.priority is not None:
        parts.append(f"priority {a.priority:g}")
    if a.reason:
        parts.append(a.reason)
    done = {"acknowledge": "acknowledged", "dismiss": "dismissed"}
    parts.extend(f"{done.get(op.action, op.action)} by {op.by or '?'}" + (f" ({op.why})" if op.why else "") for op in a.ops)
    return "; ".join(parts)


def alert_uid(alert_id: str) -> str:
    """A marker's uid: one per alert id (unique across service restarts and instances)."""
    return f"jisf-alert-{alert_id}"


def alert_event(a: AlertMsg, *, t_ref: float, horizon_s: float) -> ET.Element:
    """The spot-map marker of an open alert at the alert's position, coloured by severity."""
    if a.lat is None or a.lon is None:
        raise ValueError(f"alert {a.alert_id} has no position")
    ev = _event(alert_uid(a.alert_id), MARKER_TYPE, HOW_MARKER, t_ref, t_ref, t_ref + horizon_s)
    _point(ev, a.lat, a.lon)
    detail = ET.SubElement(ev, "detail")
    ET.SubElement(detail, "contact", {"callsign": f"{a.rule} ({a.severity}) {a.name or a.callsign or f'T{a.track_id}'}"})
    ET.SubElement(detail, "remarks", {"source": "jisf"}).text = alert_remarks(a)
    argb = str(SEVERITY_ARGB.get(a.severity, SEVERITY_ARGB["high"]))
    ET.SubElement(detail, "color", {"argb": argb})
    ET.SubElement(detail, "usericon", {"iconsetpath": f"COT_MAPPING_SPOTMAP/{MARKER_TYPE}/{argb}"})
    return ev


def removal_event(uid: str, type_: str, now: float, lat: float = 0.0, lon: float = 0.0) -> ET.Element:
    """An event whose stale time is ``now`` (wall clock): TAK clients drop the item with this uid."""
    ev = _event(uid, type_, HOW_FUSED if type_.startswith("a-") else HOW_MARKER, now, now, now)
    _point(ev, lat, lon)
    ET.SubElement(ev, "detail")
    return ev


# Characters XML 1.0 cannot carry at all (control characters, lone surrogates, U+FFFE/U+FFFF): ElementTree
# writes them as they are and the receiver's parser rejects the whole event.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def serialize(ev: ET.Element) -> bytes:
    """UTF-8 XML with the declaration TAK tools write (``pytak.serialize_cot``); characters XML
    cannot carry (in names, reasons, ids from the payloads) are replaced by U+FFFD."""
    for el in ev.iter():
        el.attrib = {k: _NOT_XML.sub("\ufffd", v) for k, v in el.attrib.items()}
        if el.text:
            el.text = _NOT_XML.sub("\ufffd", el.text)
    return bytes(pytak.serialize_cot(ev))


# -- decoding and validation ---------------------------------------------------------------

_track_decoder = msgspec.json.Decoder(TrackRow)
_alert_decoder = msgspec.json.Decoder(AlertMsg)


def _finite(feed: str, name: str, value: float, lo: float = -math.inf, hi: float = math.inf) -> None:
    if not (math.isfinite(value) and lo <= value <= hi):
        raise DecodeError(feed, name, value, f"must be finite and within [{lo:g}, {hi:g}]")


def _decode(feed: str, decoder: msgspec.json.Decoder[Any], payload: bytes) -> Any:
    try:
        return decoder.decode(payload)
    except msgspec.DecodeError as err:  # ValidationError names the field: "Expected `float`, got `str` - at `$.lat`"
        raise DecodeError(feed, "payload", payload[:60], str(err)) from err


def decode_track(topic: str, payload: bytes) -> TrackRow:
    """A track payload, validated against its topic; DecodeError naming the field otherwise."""
    tr: TrackRow = _decode(topic, _track_decoder, payload)
    _finite(topic, "t", tr.t, 0.0, MAX_TIME_S)
    if tr.domain not in DOMAINS:
        raise DecodeError(topic, "domain", tr.domain, f"must be one of {DOMAINS}")
    if topic != f"{TOPIC_ROOT}/tracks/{tr.domain}/{tr.track_id}":
        raise DecodeError(topic, "track_id", tr.track_id, "domain and track_id must match the topic")
    _finite(topic, "lat", tr.lat, -90.0, 90.0)
    _finite(topic, "lon", tr.lon, -180.0, 180.0)
    _finite(topic, "vel_e_mps", tr.vel_e_mps)
    _finite(topic, "vel_n_mps", tr.vel_n_mps)
    if tr.alt_m is not None:
        _finite(topic, "alt_m", tr.alt_m, -1e4, 1e5)
    cov = tr.cov_en_m2
    if not all(math.isfinite(v) for row in cov for v in row) or cov[0][0] < 0 or cov[1][1] < 0:
        raise DecodeError(topic, "cov_en_m2", cov, "must be finite with non-negative variances")
    return tr


def decode_alert(topic: str, payload: bytes) -> AlertMsg:
    """An alert payload; DecodeError naming the field otherwise."""
    a: AlertMsg = _decode(topic, _alert_decoder, payload)
    if a.state not in ALERT_STATES:
        raise DecodeError(topic, "state", a.state, f"must be one of {ALERT_STATES}")
    if not a.alert_id:
        raise DecodeError(topic, "alert_id", a.alert_id, "must not be empty")
    if a.t is not None:
        _finite(topic, "t", a.t, 0.0, MAX_TIME_S)
    if a.state != "cleared" or a.lat is not None:
        if a.lat is None or a.lon is None:
            raise DecodeError(topic, "lat", a.lat, "an open alert needs lat and lon")
        _finite(topic, "lat", a.lat, -90.0, 90.0)
        _finite(topic, "lon", a.lon, -180.0, 180.0)
    return a


def track_id_of_topic(topic: str) -> int:
    """``jisf/v1/tracks/{domain}/{track_id}`` -> track_id; DecodeError for any other topic."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != f"{TOPIC_ROOT}/tracks" or parts[3] not in DOMAINS or not parts[4].isdigit():
        raise DecodeError(topic, "topic", topic, "expected jisf/v1/tracks/{surface|air}/{track_id}")
    return int(parts[4])


# -- the bridge's picture ------------------------------------------------------------------


@dataclass(frozen=True)
class CotOptions:
    """Times of the events (docs/COT.md, "Times").

    clock: "data" stamps an event with the track's (alert's) own time ``t``; "wall" with the
    bridge's clock when the event is built (for simulated-clock demos and replays, whose data
    time is not now). Stale horizon of a confirmed track: ``stale_factor`` x its update
    interval (the time between its last two messages on the same clock), clamped to
    [stale_min_s, stale_max_s]; stale_min_s before the second message; stale_max_s for a
    coasting track (it gets no update until it is confirmed again or deleted, and the
    deletion removes it at once). Alert markers: ``alert_stale_s``.
    """

    clock: str = "data"
    stale_factor: float = 3.0
    stale_min_s: float = 60.0
    stale_max_s: float = 900.0
    alert_stale_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.clock not in ("data", "wall"):
            raise ValueError(f"clock must be 'data' or 'wall', got {self.clock!r}")
        for name in ("stale_factor", "stale_min_s", "stale_max_s", "alert_stale_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= MAX_HORIZON_S):
                raise ValueError(f"{name} must be in (0, {MAX_HORIZON_S:g}], got {value!r}")
        if self.stale_max_s < self.stale_min_s:
            raise ValueError(f"stale_max_s ({self.stale_max_s}) must be >= stale_min_s ({self.stale_min_s})")


@dataclass
class _Track:
    row: TrackRow
    uid: str
    type_: str
    t_ref: float
    interval_s: float | None
    horizon_s: float
    event: bytes


@dataclass
class _Alert:
    msg: AlertMsg
    stale_t: float
    event: bytes


@dataclass
class CotStats:
    """Counters of one bridge run."""

    tracks_in: int = 0
    deletes_in: int = 0
    alerts_in: int = 0
    ignored: int = 0  # tentative tracks, unknown deletions
    rejected: int = 0
    last_reject: str = ""
    events: int = 0  # built and queued
    sent: int = 0  # handed to the transport
    dropped: int = 0  # queued events dropped because the transport was down or slow
    connects: int = 0


class CotBridge:
    """MQTT messages in, serialized CoT events out; keeps the live picture. No I/O, no clock.

    A track's uid is ``jisf-mmsi-<MMSI>`` when it carries an MMSI, ``jisf-icao-<hex>`` when it
    carries an ICAO address (stable across track re-creation and service restarts), else
    ``jisf-track-<id>``; if another live track already holds the identity uid, the track id
    one is used. When a track's uid changes (it gained an identity), the old uid is removed.
    """

    def __init__(self, options: CotOptions | None = None) -> None:
        self.options = options or CotOptions()
        self.stats = CotStats()
        self.tracks: dict[int, _Track] = {}
        self.alerts: dict[str, _Alert] = {}  # open alerts by alert id
        self.alerts_of: dict[int, dict[str, AlertMsg]] = {}  # open alerts by track id
        self._uid_owner: dict[str, int] = {}
        self._warned_skew = False

    # the one entry point
    def on_message(self, topic: str, payload: bytes, now: float) -> list[bytes]:
        """Events for one inbound message (``now``: wall-clock Unix seconds). Never raises on bad input:
        a rejected message is counted (``stats.rejected``, ``stats.last_reject``) and logged."""
        try:
            if topic.startswith(f"{TOPIC_ROOT}/tracks/"):
                out = self._on_track(topic, payload, now)
            elif topic.startswith(f"{TOPIC_ROOT}/alerts/"):
                out = self._on_alert(topic, payload, now)
            else:
                raise DecodeError(topic, "topic", topic, "not a track or alert topic")
        except (DecodeError, ValueError, OverflowError) as err:
            self.stats.rejected += 1
            self.stats.last_reject = str(err)
            if self.stats.rejected <= 10 or self.stats.rejected % 1000 == 0:  # a flood of bad input must not flood the log
                log.warning("rejected (%d so far): %s", self.stats.rejected, err)
            return []
        self.stats.events += len(out)
        return out

    def snapshot(self, now: float) -> list[bytes]:
        """The latest event of every live track and open alert whose stale time is after ``now``."""
        out = [tr.event for tr in self.tracks.values() if tr.t_ref + tr.horizon_s > now]
        out += [a.event for a in self.alerts.values() if a.stale_t > now]
        return out

    # tracks
    def _t_ref(self, t: float | None, now: float) -> float:
        return now if self.options.clock == "wall" or t is None else t

    def _on_track(self, topic: str, payload: bytes, now: float) -> list[bytes]:
        track_id = track_id_of_topic(topic)
        if not payload:
            self.stats.deletes_in += 1
            return self._remove_track(track_id, now)
        tr = decode_track(topic, payload)
        self.stats.tracks_in += 1
        if tr.status not in LIVE_STATUSES:
            self.stats.ignored += 1
            return []
        if self.options.clock == "data" and abs(tr.t - now) > 300.0 and not self._warned_skew:
            self._warned_skew = True
            log.warning("track time %s is %.0f s from this clock: TAK clients will see its events as stale; "
                        "use --clock wall for simulated-clock runs and replays", cot_time(tr.t), tr.t - now)
        o = self.options
        old = self.tracks.get(track_id)
        t_ref = self._t_ref(tr.t, now)
        interval = (t_ref - old.t_ref) if old is not None and t_ref > old.t_ref else (old.interval_s if old else None)
        if tr.status == "coasting":
            horizon = o.stale_max_s
        elif interval is None:
            horizon = o.stale_min_s
        else:
            horizon = min(max(o.stale_factor * interval, o.stale_min_s), o.stale_max_s)
        uid = self._uid(tr)
        state = _Track(tr, uid, "", t_ref, interval, horizon, b"")
        event = self._build_track(state)  # before any change of state: a failure leaves the picture as it was
        out: list[bytes] = []
        if old is not None and old.uid != uid:
            out.append(serialize(removal_event(old.uid, old.type_, now, old.row.lat, old.row.lon)))
            self._uid_owner.pop(old.uid, None)
        self._uid_owner[uid] = track_id
        self.tracks[track_id] = state
        out.append(event)
        return out

    def _uid(self, tr: TrackRow) -> str:
        for uid in (f"jisf-mmsi-{tr.mmsi}" if tr.mmsi is not None else None,
                    f"jisf-icao-{tr.icao24.lower()}" if tr.icao24 else None):
            if uid is not None and self._uid_owner.get(uid, tr.track_id) == tr.track_id:
                return uid
        return f"jisf-track-{tr.track_id}"

    def _build_track(self, state: _Track) -> bytes:
        tr = state.row
        alerts = list(self.alerts_of.get(tr.track_id, {}).values())
        state.type_ = cot_type(tr.domain, suspect=bool(alerts), cooperative=tr.mmsi is not None or bool(tr.icao24),
                               ship_type=tr.ship_type)
        state.event = serialize(track_event(tr, uid=state.uid, type_=state.type_, t_ref=state.t_ref,
                                            horizon_s=state.horizon_s, alerts=alerts))
        return state.event

    def _remove_track(self, track_id: int, now: float) -> list[bytes]:
        old = self.tracks.pop(track_id, None)
        if old is None:
            self.stats.ignored += 1
            return []
        if self._uid_owner.get(old.uid) == track_id:
            del self._uid_owner[old.uid]
        return [serialize(removal_event(old.uid, old.type_, now, old.row.lat, old.row.lon))]

    # alerts
    def _on_alert(self, topic: str, payload: bytes, now: float) -> list[bytes]:
        if not payload:  # an emptied retained alert topic: nothing to show
            self.stats.ignored += 1
            return []
        a = decode_alert(topic, payload)
        self.stats.alerts_in += 1
        out: list[bytes] = []
        of_track = self.alerts_of.setdefault(a.track_id, {})
        if a.state == "cleared" or a.dismissed:
            old = self.alerts.pop(a.alert_id, None)
            of_track.pop(a.alert_id, None)
            lat, lon = ((old.msg.lat or 0.0), (old.msg.lon or 0.0)) if old else ((a.lat or 0.0), (a.lon or 0.0))
            out.append(serialize(removal_event(alert_uid(a.alert_id), MARKER_TYPE, now, lat, lon)))
        else:
            t_ref = self._t_ref(a.t, now)
            event = serialize(alert_event(a, t_ref=t_ref, horizon_s=self.options.alert_stale_s))
            self.alerts[a.alert_id] = _Alert(a, t_ref + self.options.alert_stale_s, event)
            of_track[a.alert_id] = a
            out.append(event)
        if not of_track:
            del self.alerts_of[a.track_id]
        state = self.tracks.get(a.track_id)
        if state is not None:  # its affiliation and remarks follow its open alerts
            out.append(self._build_track(state))
        return out


# -- transport -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CotTarget:
    """Where events go: ``udp://host:port`` (unicast or multicast) or ``tcp://host:port``."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> CotTarget:
        """Parse ``--to``; ValueError naming the value otherwise."""
        parts = urlsplit(url)
        if parts.scheme not in ("udp", "tcp"):
            raise ValueError(f"--to {url!r}: scheme must be udp:// or tcp://")
        try:
            port = parts.port
        except ValueError as err:
            raise ValueError(f"--to {url!r}: bad port") from err
        if not parts.hostname or port is None:
            raise ValueError(f"--to {url!r}: give host and port, e.g. udp://239.2.3.1:6969 or tcp://takserver:8087")
        return cls(parts.scheme, parts.hostname, port)

    @property
    def multicast(self) -> bool:
        with contextlib.suppress(ValueError):
            return ipaddress.ip_address(self.host).is_multicast
        return False

    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def pytak_config(target: CotTarget, *, multicast_if: str | None = None, multicast_ttl: int = 1,
                 reconnect_s: tuple[float, float] = (1.0, 30.0)) -> SectionProxy:
    """The pytak configuration section for ``target``: XML CoT (TAK_PROTO 0), write-only UDP.

    pytak reads its settings from a ConfigParser section; we build it from our options.
    ``udp+wo`` because plain ``udp`` would also bind a reader on the destination port.
    """
    cp = ConfigParser(interpolation=None)
    cp["jisf_cot"] = {
        "COT_URL": f"udp+wo://{target.host}:{target.port}" if target.scheme == "udp" else target.url(),
        "TAK_PROTO": "0",
        "PYTAK_MULTICAST_TTL": str(multicast_ttl),
        "PYTAK_MULTICAST_LOCAL_ADDR": multicast_if or "0.0.0.0",
        "PYTAK_RECONNECT_INITIAL": str(reconnect_s[0]),
        "PYTAK_RECONNECT_MAX": str(reconnect_s[1]),
        "PYTAK_RECONNECT_RESET": "10",
    }
    return cp["jisf_cot"]


class _TXWorker(pytak.TXWorker):
    """pytak's sender, counting what it hands to the socket."""

    def __init__(self, queue: asyncio.Queue[bytes], config: SectionProxy, writer: Any, stats: CotStats) -> None:
        super().__init__(queue, config, writer)
        self._stats = stats

    async def handle_data(self, data: bytes) -> None:
        await super().handle_data(data)
        self._stats.sent += 1


async def _drain_stream(reader: asyncio.StreamReader) -> None:
    """Read and discard what a TAK server sends us (pings, other clients' events); raise when it
    closes. pytak's DiscardRXWorker would spin on EOF (IncompleteReadError is swallowed), and
    a closed connection is how we learn that the server went away."""
    while await reader.read(65536):
        pass
    raise ConnectionResetError("the TAK server closed the connection")


def _put(queue: asyncio.Queue[bytes], events: Iterable[bytes], stats: CotStats) -> None:
    """Enqueue, dropping the oldest queued event when full (counted): a picture resent later
    replaces what is lost, while an unbounded queue would grow without limit during an outage."""
    for ev in events:
        if queue.full():
            queue.get_nowait()
            stats.dropped += 1
        queue.put_nowait(ev)


async def _transport_once(config: SectionProxy, target: CotTarget, queue: asyncio.Queue[bytes], bridge: CotBridge,
                          stop: asyncio.Event, connected: asyncio.Event | None) -> None:
    """One connection: open it, send the live picture, then the queue, until ``stop`` or a failure."""
    reader, writer = await pytak.protocol_factory(config)
    bridge.stats.connects += 1
    log.info("CoT output connected to %s", target.url())
    worker = _TXWorker(queue, config, writer, bridge.stats)
    _put(queue, bridge.snapshot(time.time()), bridge.stats)
    tasks = {asyncio.create_task(worker.run()), asyncio.create_task(stop.wait())}
    if target.scheme == "tcp" and reader is not None:
        tasks.add(asyncio.create_task(_drain_stream(reader)))
    if connected is not None:
        connected.set()
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if not t.cancelled() and (exc := t.exception()) is not None:
                raise exc
        deadline = time.monotonic() + 2.0  # stopping: let the worker send what is queued
        while not queue.empty() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        if connected is not None:
            connected.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        if hasattr(writer, "wait_closed"):
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def run_bridge(addr: Any, target: CotTarget, stop: asyncio.Event, *, options: CotOptions | None = None,
                     client_id: str | None = None, persistent: bool = False, resend_s: float = 15.0,
                     multicast_if: str | None = None, multicast_ttl: int = 1, max_queue: int = 20_000,
                     reconnect_s: tuple[float, float] = (1.0, 30.0), bridge: CotBridge | None = None,
                     on_connected: Callable[[], None] | None = None,
                     on_state: Callable[[str], None] | None = None) -> CotStats:
    """Bridge the broker at ``addr`` (``fusion.mqtt.BrokerAddress``) to ``target`` until ``stop`` is set.

    ``resend_s`` > 0: the live picture is sent again at that wall-clock interval.
    ``persistent`` (with ``client_id``): a broker-side session keeps alerts raised while the
    bridge is away. ``on_connected()`` is called once both MQTT and the CoT output are up;
    ``on_state(line)`` at each change of the MQTT connection (``fusion.mqtt.Link``).
    """
    from fusion.mqtt import Link

    bridge = bridge or CotBridge(options)
    inbound: collections.deque[tuple[str, bytes]] = collections.deque()
    wake = asyncio.Event()
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=max_queue)
    out_up = asyncio.Event()
    config = pytak_config(target, multicast_if=multicast_if, multicast_ttl=multicast_ttl, reconnect_s=reconnect_s)

    def on_message(topic: str, payload: bytes, _qos: int, _retain: bool) -> None:  # paho's callback: enqueue only
        inbound.append((topic, payload))
        wake.set()

    async def process() -> None:
        while True:
            await wake.wait()
            wake.clear()
            n = 0
            while inbound:
                topic, payload = inbound.popleft()
                _put(queue, bridge.on_message(topic, payload, time.time()), bridge.stats)
                n += 1
                if n % 256 == 0:  # a burst of retained tracks at (re)connection: let the sender run
                    await asyncio.sleep(0)

    async def resend() -> None:
        while True:
            await asyncio.sleep(resend_s)
            if out_up.is_set():
                _put(queue, bridge.snapshot(time.time()), bridge.stats)

    async def transport() -> None:
        await pytak.supervise_with_reconnect(config, lambda: _transport_once(config, target, queue, bridge, stop, out_up))

    async def ready() -> None:
        await link.connected.wait()
        await out_up.wait()
        if on_connected is not None:
            on_connected()

    link = Link(addr, client_id, subscriptions=((TRACKS_FILTER, 1), (ALERTS_FILTER, 1)), on_message=on_message,
                clean_session=not persistent, backoff_s=(0.1, 5.0), on_state=on_state)
    transport_task = asyncio.create_task(transport())
    workers = [asyncio.create_task(process()), transport_task]
    if resend_s > 0:
        workers.append(asyncio.create_task(resend()))
    for t in workers:  # any of them ending (a transport error that is not retried, a bug) ends the bridge
        t.add_done_callback(lambda _t: stop.set())
    waiter = asyncio.create_task(ready())
    try:
        await link.run(stop)  # returns once stop is set
        with contextlib.suppress(TimeoutError):  # the transport sends what is queued, then closes
            await asyncio.wait_for(asyncio.shield(transport_task), timeout=3.0)
    finally:
        stop.set()
        for t in (*workers, waiter):
            t.cancel()
        results = await asyncio.gather(*workers, waiter, return_exceptions=True)
    errors = [r for r in results if isinstance(r, Exception)]  # cancellations are BaseExceptions: not errors
    if errors:
        raise errors[0]
    return bridge.stats


# -- command line --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Options of ``jisf cot``."""
    from fusion import cliutil
    from fusion.cli import broker_args

    p = cliutil.parser("cot", "tracks and alerts as Cursor-on-Target events for TAK clients (docs/COT.md)")
    broker_args(p, required=True)
    p.add_argument("--to", required=True,
                   help="udp://HOST:PORT (unicast or multicast, ATAK's SA group is udp://239.2.3.1:6969) or "
                        "tcp://HOST:PORT (a TAK Server's plain CoT input, usually 8087) (env JISF_COT_TO)")
    p.add_argument("--clock", choices=("data", "wall"), default="data",
                   help="stamp events with the tracks' own time (data, default) or this machine's clock (wall: "
                        "for jisf demo, jisf sim and replays, whose data time is not now)")
    p.add_argument("--resend-s", type=float, default=15.0, help="send the whole live picture again every N wall "
                   "seconds, for TAK clients that join late (0: never; default 15)")
    d = CotOptions()
    p.add_argument("--stale-factor", type=float, default=d.stale_factor, help="stale horizon of a track: this many "
                   f"update intervals (default {d.stale_factor:g})")
    p.add_argument("--stale-min-s", type=float, default=d.stale_min_s, help=f"shortest stale horizon (default {d.stale_min_s:g})")
    p.add_argument("--stale-max-s", type=float, default=d.stale_max_s, help="longest stale horizon, also that of "
                   f"coasting tracks (default {d.stale_max_s:g})")
    p.add_argument("--alert-stale-s", type=float, default=d.alert_stale_s, help="stale horizon of an alert marker "
                   f"(default {d.alert_stale_s:g})")
    p.add_argument("--multicast-if", default=None, help="local IPv4 address of the interface for multicast output")
    p.add_argument("--multicast-ttl", type=int, default=1, help="multicast TTL (default 1: this network only)")
    p.add_argument("--client-id", help="MQTT client id (env JISF_COT_CLIENT_ID)")
    p.add_argument("--persistent", action="store_true", help="persistent MQTT session: get alerts raised while the "
                   "bridge was away (needs --client-id)")
    return p


def main(argv: list[str]) -> int:
    """``jisf cot``: returns a process exit code (0 after SIGINT/SIGTERM, 2 for bad options, 1 broker down)."""
    from fusion import cliutil

    return cliutil.run(build_parser(), _main, argv)


def _main(args: argparse.Namespace) -> int:
    from fusion import cliutil
    from fusion.cli import broker_address, stop_on_signals

    if args.verbose == 0:  # pytak logs "Running: TXWorker" through its own handler at every connection
        logging.getLogger("pytak.classes").setLevel(logging.WARNING)
    try:
        target = CotTarget.parse(args.to)
        options = CotOptions(clock=args.clock, stale_factor=args.stale_factor, stale_min_s=args.stale_min_s,
                             stale_max_s=args.stale_max_s, alert_stale_s=args.alert_stale_s)
        addr = broker_address(args)
        if args.persistent and not args.client_id:
            raise ValueError("--persistent needs --client-id")
        if not (math.isfinite(args.resend_s) and args.resend_s >= 0):
            raise ValueError(f"--resend-s must be >= 0, got {args.resend_s}")
        if not 0 <= args.multicast_ttl <= 255:
            raise ValueError(f"--multicast-ttl must be 0-255, got {args.multicast_ttl}")
    except ValueError as err:
        raise cliutil.UsageError(str(err)) from None

    async def run() -> CotStats:
        stop = asyncio.Event()
        with stop_on_signals(asyncio.get_running_loop(), stop):
            return await run_bridge(addr, target, stop, options=options, client_id=args.client_id,
                                    persistent=args.persistent, resend_s=args.resend_s, multicast_if=args.multicast_if,
                                    multicast_ttl=args.multicast_ttl, on_state=cliutil.state_printer("jisf cot"),
                                    on_connected=lambda: print(f"cot: {addr.url()} -> {target.url()}", flush=True))

    stats = asyncio.run(run())
    print(json.dumps(stats.__dict__), flush=True)
    return 0


__all__ = ["AlertMsg", "CotBridge", "CotOptions", "CotStats", "CotTarget", "alert_event", "cot_type",
           "decode_alert", "decode_track", "main", "removal_event", "run_bridge", "serialize", "track_event"]

if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(main(sys.argv[1:]))
