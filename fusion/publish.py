"""Output records and MQTT messages, built from track views and alerts. Pure.

One row type serves both edges: a ``TrackRow`` is a line of tracks.jsonl and the
payload of ``jisf/v1/tracks/{domain}/{track_id}``; an ``AlertEvent`` (from the rules) is
a line of alerts.jsonl and the payload of ``jisf/v1/alerts/{rule}/{track_id}``.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from fusion.core.arrays import NO_ICAO, NO_MMSI, SENSOR_BIT, STATUS_NAMES, TENTATIVE, Domain, IntArray, TrackView
from fusion.core.frame import LocalFrame
from fusion.identity import UNKNOWN, IdentityLookup
from sensors.geodesy import FrameJacobian

TOPIC_ROOT = "jisf/v1"
STATUS_TOPIC = f"{TOPIC_ROOT}/status"
PICTURE_TOPIC = f"{TOPIC_ROOT}/picture"
FEEDS_FILTER = f"{TOPIC_ROOT}/feeds/#"
ALERTS_FILTER = f"{TOPIC_ROOT}/alerts/#"
TRACKS_FILTER = f"{TOPIC_ROOT}/tracks/#"

# Track ids are unique across the two pools: air track ids are offset by this much.
AIR_ID_BASE = 1_000_000_000

_encoder = msgspec.json.Encoder()


def domain_of_track(track_id: int) -> Domain:
    """The track pool of a global track id: air ids start at ``AIR_ID_BASE``."""
    return "air" if track_id >= AIR_ID_BASE else "surface"


class TrackRow(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """One track at one output tick: the tracks.jsonl fields of DESIGN.md, in order, then its identity
    where known (``fusion.identity``; a field left out of the JSON is unknown)."""

    t: float
    track_id: int
    domain: str
    status: str
    lat: float
    lon: float
    alt_m: float | None
    vel_e_mps: float
    vel_n_mps: float
    cov_en_m2: tuple[tuple[float, float], tuple[float, float]]
    mmsi: int | None
    icao24: str | None
    sources: list[str]
    name: str | None = None
    callsign: str | None = None
    ship_type: int | None = None
    ship_type_text: str | None = None
    flag: str | None = None
    country: str | None = None
    rcs_dbsm: float | None = None  # radar cross-section estimate (mean of the radar looks), dBsm, 0.1 dB; unknown: left out


@dataclass(frozen=True)
class OutMessage:
    """One message to publish."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


def encode(obj: object) -> bytes:
    """Deterministic compact JSON (msgspec)."""
    return _encoder.encode(obj)


def icao_hex(icao24: int) -> str | None:
    """24-bit address -> 6-hex lowercase, None for NO_ICAO."""
    return None if icao24 == NO_ICAO else f"{icao24:06x}"


def source_names(mask: int) -> list[str]:
    """Sensor-kind bitmask -> sorted kind names."""
    return sorted(kind for kind, bit in SENSOR_BIT.items() if mask & bit)


def track_rows(view: TrackView, frame: LocalFrame, identity: IdentityLookup | None = None) -> list[TrackRow]:
    """All tracks of a view as rows; positions converted back to WGS84 at the edge; with an
    ``identity`` lookup, each row carries the identity of its MMSI / ICAO address.

    Velocities and covariances are reported in true east/north metres: the frame's
    Jacobian J (point scale factor times the meridian-convergence rotation) is undone,
    v = J^-1 v', P = J^-1 P' J^-T.
    """
    if len(view) == 0:
        return []
    lat, lon = frame.to_geodetic(view.x[:, 0], view.x[:, 1])
    J_inv = np.linalg.inv(FrameJacobian.of(frame).matrix(lat, lon))  # (N, 2, 2), well conditioned (|J| ~ 1)
    vel = (J_inv @ view.x[:, 2:4, None])[..., 0]
    cov = J_inv @ view.P[:, 0:2, 0:2] @ J_inv.swapaxes(-1, -2)
    alt = [None if a != a else a for a in view.alt_m.tolist()]  # NaN -> None
    mmsi = [None if m == NO_MMSI else m for m in view.mmsi.tolist()]
    icao = [icao_hex(c) for c in view.icao24.tolist()]
    idents = [UNKNOWN] * len(mmsi) if identity is None else [
        identity.of(m, None if c == NO_ICAO else c) for m, c in zip(mmsi, view.icao24.tolist(), strict=True)]
    status = [STATUS_NAMES[s] for s in view.status.tolist()]
    names = {m: source_names(m) for m in set(view.sources.tolist())}
    rcs: list[float | None] = [None] * len(mmsi) if view.rcs_dbsm is None else [
        None if x != x else x for x in np.round(view.rcs_dbsm, 1).tolist()]  # NaN -> None
    rows = [
        TrackRow(float(view.t), tid, view.domain, st, la, lo, al, ve, vn, ((c[0][0], c[0][1]), (c[1][0], c[1][1])), mm, ic, names[src],
                 **ident._asdict(), rcs_dbsm=rc)
        for tid, st, la, lo, al, ve, vn, c, mm, ic, src, ident, rc in zip(
            view.track_id.tolist(), status, lat.tolist(), lon.tolist(), alt, vel[:, 0].tolist(), vel[:, 1].tolist(),
            cov.tolist(), mmsi, icao, view.sources.tolist(), idents, rcs, strict=True)
    ]
    return rows


INTERVAL_SPREAD = 0.5  # a track's publication interval: interval_s x (1 .. 1 + this), by its id
_GOLDEN = 0.6180339887498949


def _interval_stretch(track_id: IntArray) -> np.ndarray:
    """(N,) 1 + INTERVAL_SPREAD x frac(id x golden ratio): evenly spread, the same for an id every time."""
    return 1.0 + INTERVAL_SPREAD * np.modf(track_id * _GOLDEN)[0]


class TrackUpdates:
    """Which tracks' retained topics to publish at an output tick, decided on arrays.

    A track is published when it is not tentative and either it was never published, its
    status changed, or it was updated (``last_t`` advanced) since its last publication,
    and at least its interval (tick time) has passed since that publication; a status
    change is published at once. So each track's topic carries at most one message per
    ``interval_s`` and unchanged tracks send nothing. Each track's interval is ``interval_s``
    stretched by up to ``INTERVAL_SPREAD`` by its id (a fixed golden-ratio sequence): tracks
    first published at the same tick (after a restart, or a burst of births) would otherwise
    all fall due again at the same later ticks, and the live worker would build thousands of
    updates in one step every ``interval_s`` (4,500 of 11,000 tracks, 40 ms, measured in
    docs/bench-live.md) while the ticks between sent almost none. State per published track, in arrays
    sorted by global track id: tick time of the last publication, its ``last_t`` and status.
    """

    def __init__(self, interval_s: float) -> None:
        if not interval_s >= 0:
            raise ValueError(f"interval_s must be >= 0, got {interval_s}")
        self.interval_s = interval_s
        self.ids = np.zeros(0, np.int64)  # (P,) sorted global ids with a retained message out
        self._pub_t = np.zeros(0)  # (P,) tick time of that message
        self._last_t = np.zeros(0)  # (P,) the track's last_t in it
        self._status = np.zeros(0, np.int8)  # (P,) its status in it

    def select(self, t: float, views: Mapping[str, TrackView]) -> dict[str, IntArray]:
        """Rows of each view to publish now at tick time ``t``; records them as published."""
        out: dict[str, IntArray] = {}
        keep_ids, keep_pub, keep_last, keep_status = [], [], [], []
        for d, v in views.items():
            pos = np.minimum(np.searchsorted(self.ids, v.track_id), max(len(self.ids) - 1, 0))
            known = (self.ids[pos] == v.track_id) if len(self.ids) else np.zeros(len(v), bool)
            pub_t = np.where(known, self._pub_t[pos] if len(self.ids) else 0.0, -np.inf)
            last_t = np.where(known, self._last_t[pos] if len(self.ids) else 0.0, -np.inf)
            status = np.where(known, self._status[pos] if len(self.ids) else 0, -1)
            live = v.status != TENTATIVE
            moved = live & (v.last_t > last_t) & (t - pub_t >= self.interval_s * _interval_stretch(v.track_id))
            due = (live & (v.status != status)) | moved
            rows = np.flatnonzero(due)
            out[d] = rows
            held = known | due
            keep_ids.append(v.track_id[held])
            keep_pub.append(np.where(due, t, pub_t)[held])
            keep_last.append(np.where(due, v.last_t, last_t)[held])
            keep_status.append(np.where(due, v.status, status)[held].astype(np.int8))
        ids = np.concatenate([self.ids[:0], *keep_ids])
        order = np.argsort(ids, kind="stable")
        # tracks published before but absent from the views (deleted) stay until ``forget``
        gone = ~np.isin(self.ids, ids)
        self.ids = np.concatenate([ids[order], self.ids[gone]])
        self._pub_t = np.concatenate([np.concatenate([self._pub_t[:0], *keep_pub])[order], self._pub_t[gone]])
        self._last_t = np.concatenate([np.concatenate([self._last_t[:0], *keep_last])[order], self._last_t[gone]])
        self._status = np.concatenate([np.concatenate([self._status[:0], *keep_status])[order], self._status[gone]])
        order = np.argsort(self.ids, kind="stable")
        self.ids, self._pub_t, self._last_t, self._status = self.ids[order], self._pub_t[order], self._last_t[order], self._status[order]
        return out

    def forget(self, track_ids: Sequence[int]) -> list[int]:
        """Drop deleted tracks; returns those that had a retained message out (to be cleared)."""
        if not len(track_ids) or not len(self.ids):
            return []
        gone = np.isin(self.ids, np.asarray(track_ids, dtype=np.int64))
        cleared = self.ids[gone].tolist()
        keep = ~gone
        self.ids, self._pub_t, self._last_t, self._status = self.ids[keep], self._pub_t[keep], self._last_t[keep], self._status[keep]
        return cleared

    def restore(self, track_ids: Iterable[int]) -> None:
        """Tracks with a retained message out (from a checkpoint): republished at their next change."""
        ids = np.unique(np.asarray(list(track_ids), dtype=np.int64))
        self.ids, self._pub_t = ids, np.full(len(ids), -np.inf)
        self._last_t, self._status = np.full(len(ids), -np.inf), np.full(len(ids), -1, np.int8)


def track_topic(domain: str, track_id: int) -> str:
    """Retained per-track topic."""
    return f"{TOPIC_ROOT}/tracks/{domain}/{track_id}"


def alert_topic(rule: str, track_id: int) -> str:
    """Per-alert topic (QoS 1)."""
    return f"{TOPIC_ROOT}/alerts/{rule}/{track_id}"


def rejects_topic(feed: str) -> str:
    """Rate-limited rejects summary topic per feed."""
    return f"{TOPIC_ROOT}/rejects/{feed}"


# The picture as msgspec Structs (encoded without building a dict per feature: 3x faster at
# 10,000 tracks, which matters because the live worker builds it between alert ticks).
_FIELDS = TrackRow.__struct_fields__
_ID, _STATUS, _LAT, _LON, _ALT = (_FIELDS.index(f) for f in ("track_id", "status", "lat", "lon", "alt_m"))
_properties_of = operator.itemgetter(*(i for i, f in enumerate(_FIELDS) if f not in ("lat", "lon")))
TrackProperties = msgspec.defstruct(
    "TrackProperties", [(f.name, f.type) if f.required else (f.name, f.type, f.default)
                        for f in msgspec.structs.fields(TrackRow) if f.name not in ("lat", "lon")],
    frozen=True, gc=False, omit_defaults=True)


class PointGeometry(msgspec.Struct, frozen=True, gc=False, tag_field="type", tag="Point"):
    """GeoJSON Point: [lon, lat] or [lon, lat, alt_m]."""

    coordinates: tuple[float, ...]


class TrackFeature(msgspec.Struct, frozen=True, gc=False, tag_field="type", tag="Feature"):
    """One track as a GeoJSON Feature: its TrackRow fields but lat/lon as properties."""

    id: int
    geometry: PointGeometry
    properties: TrackProperties  # type: ignore[valid-type]  # built at run time by msgspec.defstruct


class Picture(msgspec.Struct, frozen=True, tag_field="type", tag="FeatureCollection"):
    """GeoJSON FeatureCollection of confirmed and coasting tracks at time ``t``."""

    t: float
    features: list[TrackFeature]


def picture(rows: Iterable[TrackRow], t: float) -> Picture:
    """The picture of the non-tentative ``rows`` at ``t``."""
    feats = []
    for v in map(msgspec.structs.astuple, rows):
        if v[_STATUS] == "tentative":
            continue
        at = (v[_LON], v[_LAT]) if v[_ALT] is None else (v[_LON], v[_LAT], v[_ALT])
        feats.append(TrackFeature(v[_ID], PointGeometry(at), TrackProperties(*_properties_of(v))))
    return Picture(t, feats)
