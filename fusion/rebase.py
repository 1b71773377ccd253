"""Shift the times inside feed payloads, so that a recording replayed onto a live service is current.

A live service checks every report time against its own receive time (sensors/limits.py:
at most 300 s ahead, 6 h behind), so a recording republished as it is, days later, is
rejected whole. ``shift_payload(topic, payload, dt, recv_t)`` returns the payload with every
time the service reads as a measurement or receive time moved by ``dt`` seconds, per feed
(docs/FORMATS.md):

- AIS: the NMEA 4.0 tag block ``c:`` of each line (its checksum recomputed);
- ADS-B: ``now`` of an ``aircraft.json`` object (``seen_pos`` is relative to it), or the
  generated and logged date/time columns of each SBS-1 line;
- radar, OTH: the JSON ``t`` field.

Each format goes through its own codec (``sensors.ais``, ``sensors.adsb``, ``sensors.radar``,
``sensors.oth``). A part the codec cannot read is left as it is: the service rejects it, as it
would have rejected the original. Topics that are not feeds come back unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from fusion.ingest import parse_feed_topic
from sensors import adsb, ais, oth, radar
from sensors.errors import DecodeError
from sensors.reports import OthFix, RadarScan

_RADAR = msgspec.json.Decoder(RadarScan)
_OTH = msgspec.json.Decoder(OthFix)
_JSON = msgspec.json.Encoder()
_SBS_TIME_COLUMNS = ((6, 7), (8, 9))  # (date, time) generated, (date, time) logged
_SBS_FIELDS_MIN = 10


def _shift_ais_line(line: str, dt: float) -> str:
    """One NMEA line: the ``c:`` time of its tag block moved by ``dt`` (seconds or ms kept)."""
    if not line.startswith("\\"):
        return line
    end = line.find("\\", 1)
    if end < 0:
        return line
    body, star, given = line[1:end].rpartition("*")
    try:
        if not star or ais.checksum(body.encode("ascii")) != int(given, 16):
            return line  # a bad tag block stays bad
    except (ValueError, UnicodeEncodeError):
        return line
    fields = body.split(",")
    for i, item in enumerate(fields):
        key, _, value = item.partition(":")
        if key == "c" and value.isdigit():
            stamp = int(value)
            in_ms = stamp > ais.MS_TIME_THRESHOLD
            t = (stamp / 1000.0 if in_ms else float(stamp)) + dt
            if t < 0:
                return line
            fields[i] = "c:" + (str(round(t * 1000.0)) if in_ms else ais.format_time(t))
    return ais.tag_block(fields) + line[end + 1:]


def _shift_sbs_line(line: str, dt: float, recv_t: float) -> str:
    """One SBS-1 line with its date/time columns moved by ``dt`` (each pair left alone if unreadable)."""
    cells = line.split(",")
    if len(cells) < _SBS_FIELDS_MIN:
        return line
    for date_col, time_col in _SBS_TIME_COLUMNS:
        try:
            t = adsb._sbs_t(adsb.FEED, "line", cells[date_col], cells[time_col], recv_t)
        except DecodeError:
            continue
        cells[date_col], cells[time_col] = adsb._sbs_time(t + dt)
    return ",".join(cells)


def _shift_lines(payload: bytes, shift: Callable[[str], str]) -> bytes:
    """Apply ``shift`` to each line of an ASCII payload, keeping its line ends."""
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        return payload
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        out.append(shift(body) + line[len(body):] if body else line)
    return "".join(out).encode("ascii")


def shift_payload(topic: str, payload: bytes, dt: float, recv_t: float) -> bytes:
    """``payload`` of a feed message on ``topic`` with its measurement/receive times moved by ``dt`` s.

    ``recv_t`` is the recorded receive time (Unix s), against which the SBS-1 decoder checks
    the times it reads. Anything not a feed, or not readable by its codec, is returned as is."""
    try:
        kind, _source = parse_feed_topic(topic)
    except DecodeError:
        return payload
    if kind == "ais":
        return _shift_lines(payload, lambda line: _shift_ais_line(line, dt))
    if kind == "adsb":
        if payload.lstrip()[:1] == b"{":
            return _shift_json_field(payload, "now", dt)
        return _shift_lines(payload, lambda line: _shift_sbs_line(line, dt, recv_t))
    try:
        if kind == "radar":
            scan = _RADAR.decode(payload)
            return radar.encode(msgspec.structs.replace(scan, t=scan.t + dt))
        fix = _OTH.decode(payload)
        return oth.encode(msgspec.structs.replace(fix, t=fix.t + dt))
    except (msgspec.DecodeError, TypeError):
        return payload


def _shift_json_field(payload: bytes, name: str, dt: float) -> bytes:
    """A JSON object's numeric field ``name`` moved by ``dt``; every other field kept as decoded."""
    try:
        obj = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return payload
    value = obj.get(name) if isinstance(obj, dict) else None
    if not isinstance(value, int | float) or isinstance(value, bool):
        return payload
    obj[name] = value + dt
    return _JSON.encode(obj)
