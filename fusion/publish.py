"""Output records and MQTT messages, built from track views and alerts. Pure.

One row type serves both edges: a ``TrackRow`` is a line of tracks.jsonl and the
payload of ``jisf/v1/tracks/{domain}/{track_id}``; an ``AlertEvent`` (from the rules) is
a line of alerts.jsonl and the payload of ``jisf/v1/alerts/{rule}/{track_id}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec
import numpy as np

from fusion.core.arrays import NO_ICAO, NO_MMSI, SENSOR_BIT, STATUS_NAMES, TrackView
from fusion.core.frame import LocalFrame

TOPIC_ROOT = "jisf/v1"
STATUS_TOPIC = f"{TOPIC_ROOT}/status"
PICTURE_TOPIC = f"{TOPIC_ROOT}/picture"
FEEDS_FILTER = f"{TOPIC_ROOT}/feeds/#"
ALERTS_FILTER = f"{TOPIC_ROOT}/alerts/#"
TRACKS_FILTER = f"{TOPIC_ROOT}/tracks/#"

# Track ids are unique across the two pools: air track ids are offset by this much.
AIR_ID_BASE = 1_000_000_000

_encoder = msgspec.json.Encoder()


class TrackRow(msgspec.Struct, frozen=True):
    """One track at one output tick: the tracks.jsonl fields of DESIGN.md, in order."""

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


def track_rows(view: TrackView, frame: LocalFrame) -> list[TrackRow]:
    """All tracks of a view as rows; positions converted back to WGS84 at the edge.

    Velocities and covariances are reported in true east/north metres: the frame's
    Jacobian J (point scale factor times the meridian-convergence rotation) is undone,
    v = J^-1 v', P = J^-1 P' J^-T.
    """
    if len(view) == 0:
        return []
    lat, lon = frame.to_geodetic(view.x[:, 0], view.x[:, 1])
    J_inv = np.linalg.inv(frame.en_jacobian(lat, lon))  # (N, 2, 2), well conditioned (|J| ~ 1)
    vel = (J_inv @ view.x[:, 2:4, None])[..., 0]
    cov = J_inv @ view.P[:, 0:2, 0:2] @ J_inv.swapaxes(-1, -2)
    alt = [None if a != a else a for a in view.alt_m.tolist()]  # NaN -> None
    mmsi = [None if m == NO_MMSI else m for m in view.mmsi.tolist()]
    icao = [icao_hex(c) for c in view.icao24.tolist()]
    status = [STATUS_NAMES[s] for s in view.status.tolist()]
    names = {m: source_names(m) for m in set(view.sources.tolist())}
    rows = [
        TrackRow(float(view.t), tid, view.domain, st, la, lo, al, ve, vn, ((c[0][0], c[0][1]), (c[1][0], c[1][1])), mm, ic, names[src])
        for tid, st, la, lo, al, ve, vn, c, mm, ic, src in zip(
            view.track_id.tolist(), status, lat.tolist(), lon.tolist(), alt, vel[:, 0].tolist(), vel[:, 1].tolist(),
            cov.tolist(), mmsi, icao, view.sources.tolist(), strict=True)
    ]
    return rows


def track_topic(domain: str, track_id: int) -> str:
    """Retained per-track topic."""
    return f"{TOPIC_ROOT}/tracks/{domain}/{track_id}"


def alert_topic(rule: str, track_id: int) -> str:
    """Per-alert topic (QoS 1)."""
    return f"{TOPIC_ROOT}/alerts/{rule}/{track_id}"


def rejects_topic(feed: str) -> str:
    """Rate-limited rejects summary topic per feed."""
    return f"{TOPIC_ROOT}/rejects/{feed}"


def picture(rows: Iterable[TrackRow], t: float) -> dict[str, object]:
    """GeoJSON FeatureCollection of confirmed and coasting tracks."""
    feats = [
        {
            "type": "Feature",
            "id": r.track_id,
            "geometry": {"type": "Point", "coordinates": [r.lon, r.lat] if r.alt_m is None else [r.lon, r.lat, r.alt_m]},
            "properties": {k: v for k, v in msgspec.structs.asdict(r).items() if k not in ("lat", "lon")},
        }
        for r in rows
        if r.status != "tentative"
    ]
    return {"type": "FeatureCollection", "t": t, "features": feats}
