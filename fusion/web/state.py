"""The web server's live picture: current tracks, alerts by id, recent positions. Pure (no I/O, no clock).

``LivePicture.on_message(topic, payload)`` takes the service's MQTT output as it arrives
(retained track states, alert events, operator actions, status) and keeps:

- ``tracks``: track id -> the latest track state (the TrackRow JSON of
  ``jisf/v1/tracks/{domain}/{track_id}``); an empty payload deletes the track;
- ``alerts``: alert id -> the latest event of that alert, plus the operator actions seen
  on ``jisf/v1/ops/{action}/{alert_id}`` under ``"actions"``;
- ``trails``: track id -> its recent positions, a ring buffer of ``trail_points`` per
  track over at most ``max_trail_tracks`` tracks (least recently updated dropped first),
  kept after the track is deleted so that its history can still be shown;
- what changed since the last ``take_changes()``, for the live stream.

Bad payloads are counted in ``rejected`` with a reason naming the field; they never raise.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fusion.publish import STATUS_TOPIC, TOPIC_ROOT

TRACKS_PREFIX = f"{TOPIC_ROOT}/tracks/"
ALERTS_PREFIX = f"{TOPIC_ROOT}/alerts/"
OPS_PREFIX = f"{TOPIC_ROOT}/ops/"
OPS_ACTIONS: tuple[str, ...] = ("acknowledge", "dismiss")
ALERT_STATES: tuple[str, ...] = ("raised", "updated", "cleared")

Json = dict[str, Any]


@dataclass
class Changes:
    """What changed since the previous ``take_changes()``: the stream's ``update`` event."""

    tracks: list[Json]
    deleted: list[int]
    alerts: list[Json]
    status: Json | None

    def __bool__(self) -> bool:
        return bool(self.tracks or self.deleted or self.alerts or self.status is not None)

    def as_json(self) -> Json:
        """The ``update`` event's data."""
        out: Json = {"tracks": self.tracks, "deleted": self.deleted, "alerts": self.alerts}
        if self.status is not None:
            out["status"] = self.status
        return out


def _number(obj: Json, key: str) -> float:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"{key}: expected a finite number, got {v!r}")
    return float(v)


def _decode_object(payload: bytes) -> Json:
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"payload: not JSON ({err})") from err
    if not isinstance(obj, dict):
        raise ValueError(f"payload: expected a JSON object, got {type(obj).__name__}")  # noqa: TRY004 - bad input is a ValueError here
    return obj


def alert_rank_key(alert: Json) -> tuple[int, float, float]:
    """Sort key for the alert list: open alerts first, then priority (high first), then newest."""
    return (1 if alert.get("state") == "cleared" else 0, -float(alert.get("priority") or 0.0), -float(alert.get("t") or 0.0))


@dataclass
class LivePicture:
    """Current tracks and alerts from the service's MQTT output, and recent positions per track."""

    trail_points: int = 360
    max_trail_tracks: int = 20_000
    tracks: dict[int, Json] = field(default_factory=dict)
    alerts: dict[str, Json] = field(default_factory=dict)
    trails: OrderedDict[int, deque[tuple[float, float, float, float | None]]] = field(default_factory=OrderedDict)
    status: Json | None = None
    received: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    last_reject: str = ""
    _dirty_tracks: set[int] = field(default_factory=set)
    _deleted: set[int] = field(default_factory=set)
    _dirty_alerts: set[str] = field(default_factory=set)
    _status_changed: bool = False

    # -- input ---------------------------------------------------------------------------
    def on_message(self, topic: str, payload: bytes) -> None:
        """Apply one message of the service's output; a bad one is counted in ``rejected``."""
        self.received += 1
        try:
            if topic.startswith(TRACKS_PREFIX):
                self._on_track(topic, payload)
            elif topic.startswith(ALERTS_PREFIX):
                self.add_alert(_decode_object(payload))
            elif topic.startswith(OPS_PREFIX):
                self.add_action(_decode_object(payload))
            elif topic == STATUS_TOPIC:
                self.status = _decode_object(payload) if payload.strip().startswith(b"{") else {"state": payload.decode(errors="replace")}
                self._status_changed = True
        except ValueError as err:
            kind = topic[len(TOPIC_ROOT) + 1:].split("/", 1)[0]
            self.rejected[kind] = self.rejected.get(kind, 0) + 1
            self.last_reject = f"{topic}: {err}"

    def _on_track(self, topic: str, payload: bytes) -> None:
        if not payload:
            try:
                track_id = int(topic.rsplit("/", 1)[1])
            except ValueError as err:
                raise ValueError(f"topic: track id {topic.rsplit('/', 1)[1]!r} is not an integer") from err
            if self.tracks.pop(track_id, None) is not None:
                self._deleted.add(track_id)
                self._dirty_tracks.discard(track_id)
            return
        self.add_track(_decode_object(payload))

    def add_track(self, row: Json) -> None:
        """Store a track state (TrackRow fields) and append its position to the track's trail."""
        tid = row.get("track_id")
        if isinstance(tid, bool) or not isinstance(tid, int):
            raise ValueError(f"track_id: expected an integer, got {tid!r}")  # noqa: TRY004 - bad input is a ValueError here
        t, lat, lon = _number(row, "t"), _number(row, "lat"), _number(row, "lon")
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError(f"lat/lon: out of range ({lat}, {lon})")
        alt = row.get("alt_m")
        self.tracks[tid] = row
        self._dirty_tracks.add(tid)
        self._deleted.discard(tid)
        trail = self.trails.get(tid)
        if trail is None:
            trail = self.trails[tid] = deque(maxlen=self.trail_points)
            while len(self.trails) > self.max_trail_tracks:
                self.trails.popitem(last=False)
        else:
            self.trails.move_to_end(tid)
        if not trail or t > trail[-1][0]:  # a repeated retained state adds no point
            trail.append((t, lat, lon, float(alt) if isinstance(alt, int | float) else None))

    def add_alert(self, event: Json) -> None:
        """Store an alert event as its alert's latest state (an older event of the same alert is ignored)."""
        aid = event.get("alert_id")
        if not isinstance(aid, str) or not aid:
            raise ValueError(f"alert_id: expected a non-empty string, got {aid!r}")
        if event.get("state") not in ALERT_STATES:
            raise ValueError(f"state: expected one of {', '.join(ALERT_STATES)}, got {event.get('state')!r}")
        t = _number(event, "t")
        old = self.alerts.get(aid)
        if old is not None and t < float(old["t"]):
            return
        self.alerts[aid] = {**event, "actions": old["actions"] if old else []}
        self._dirty_alerts.add(aid)

    def add_action(self, action: Json) -> None:
        """Attach an operator action (ops topic payload) to its alert, if the alert is known."""
        aid = action.get("alert_id")
        if action.get("action") not in OPS_ACTIONS:
            raise ValueError(f"action: expected one of {', '.join(OPS_ACTIONS)}, got {action.get('action')!r}")
        if not isinstance(aid, str):
            return
        alert = self.alerts.get(aid)
        if alert is None:
            return
        if action not in alert["actions"]:  # at-least-once delivery
            alert["actions"] = [*alert["actions"], action]
            self._dirty_alerts.add(aid)

    # -- views ---------------------------------------------------------------------------
    def open_alert_tracks(self) -> set[int]:
        """Ids of tracks that have an alert not yet cleared (suspect tracks)."""
        return {int(a["track_id"]) for a in self.alerts.values()
                if a.get("state") != "cleared" and isinstance(a.get("track_id"), int)}

    def track_view(self, row: Json, suspect: set[int], trail: int = 0) -> Json:
        """A track row for the API: the state, ``suspect``, and the last ``trail`` [lat, lon] points."""
        tid = row["track_id"]
        out = {**row, "suspect": tid in suspect}
        if trail > 0:
            points = self.trails.get(tid, ())
            out["trail"] = [[p[1], p[2]] for p in list(points)[-trail:]]
        return out

    def track_list(self, *, domain: str | None = None, status: str | None = None, trail: int = 0) -> list[Json]:
        """Current tracks, optionally of one domain (surface|air) and status (tentative|confirmed|coasting|suspect)."""
        suspect = self.open_alert_tracks()
        rows: Iterable[Json] = self.tracks.values()
        if domain:
            rows = (r for r in rows if r.get("domain") == domain)
        if status == "suspect":
            rows = (r for r in rows if r["track_id"] in suspect)
        elif status:
            rows = (r for r in rows if r.get("status") == status)
        return [self.track_view(r, suspect, trail) for r in rows]

    def alert_list(self, *, since: float | None = None, rule: str | None = None, state: str | None = None,
                   severity: str | None = None) -> list[Json]:
        """Latest state per alert id, ranked by ``alert_rank_key``; ``since`` keeps alerts updated at or after it."""
        rows = [a for a in self.alerts.values()
                if (since is None or float(a["t"]) >= since) and (rule is None or a.get("rule") == rule)
                and (state is None or a.get("state") == state) and (severity is None or a.get("severity") == severity)]
        return sorted(rows, key=alert_rank_key)

    def trail(self, track_id: int, *, since: float | None = None, until: float | None = None,
              limit: int | None = None) -> list[Json]:
        """Recent positions of a track from the ring buffer, oldest first (the first ``limit``, like the store)."""
        points = [{"t": t, "track_id": track_id, "lat": la, "lon": lo, "alt_m": al}
                  for t, la, lo, al in self.trails.get(track_id, ())
                  if (since is None or t >= since) and (until is None or t <= until)]
        return points[:limit] if limit else points

    def snapshot(self, trail: int) -> Json:
        """The stream's ``snapshot`` event: all tracks (with trails), all alerts, the status."""
        return {"tracks": self.track_list(trail=trail), "alerts": self.alert_list(), "status": self.status}

    def take_changes(self) -> Changes:
        """Tracks, deletions, alerts and status changed since the previous call; clears them.

        A track whose suspect flag flips because an alert opened or cleared counts as changed.
        """
        suspect = self.open_alert_tracks()
        flipped = {int(self.alerts[a]["track_id"]) for a in self._dirty_alerts
                   if isinstance(self.alerts[a].get("track_id"), int)}
        dirty = (self._dirty_tracks | flipped) & self.tracks.keys()
        changes = Changes(
            tracks=[self.track_view(self.tracks[t], suspect) for t in sorted(dirty)],
            deleted=sorted(self._deleted),
            alerts=sorted((self.alerts[a] for a in self._dirty_alerts), key=alert_rank_key),
            status=self.status if self._status_changed else None,
        )
        self._dirty_tracks.clear()
        self._deleted.clear()
        self._dirty_alerts.clear()
        self._status_changed = False
        return changes
