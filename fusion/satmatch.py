"""Satellite detections against AIS: the ``dark_detection`` rule (docs/RULES.md). Pure.

A satellite image (``SatScene``: SAR, VIIRS or optical) is published minutes to hours
after its acquisition, long after the tracker has moved on (its out-of-sequence lag is
seconds), so the AIS-identified vessels are compared with the detections *at the
acquisition time*, from a short per-MMSI history of AIS positions kept here:

- ``AisHistory``: every accepted AIS position, thinned to one per ``history_spacing_s``
  per MMSI, kept for ``history_horizon_s`` (6 h: the decoders' oldest accepted time), for
  at most ``max_vessels`` MMSIs (least recently heard dropped). Positions in degrees,
  velocity (true east/north) from SOG/COG.
- ``position_at(acq_t)`` per MMSI: linear interpolation between the positions either side
  of the acquisition time, else extrapolation from the nearest along its SOG/COG; only
  positions within ``max_gap_s`` of the acquisition count. Its uncertainty grows with the
  time to the nearest AIS position used (``manoeuvre_mps`` per second; ``unknown_speed_mps``
  when the report had no SOG/COG).
- Matching: a detection and a vessel are candidates when their distance is within
  ``n_sigma`` x hypot(detection error, AIS error) + the growth above; one vessel explains
  at most one detection (global nearest neighbour, ``fusion.core.assign``), as GFW's
  SAR-AIS matching (Paolo et al., Nature 625, 2024) matches each detection to at most one
  AIS vessel from the positions before and after the image.

A detection no AIS vessel explains (confidence at least ``min_confidence``) raises one
``dark_detection`` alert (state ``raised``; a detection is an event, it is never
updated or cleared). Its ``track_id`` is a detection id (``DETECTION_ID_BASE`` + n): the
alert is about the detection, not a track. The scene's detections also go to the surface
tracker as measurements when they arrive within the tracker's out-of-sequence lag
(``fusion.ingest``); older ones are correlation-only.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
from scipy.spatial import cKDTree

from fusion.core.assign import assign
from fusion.core.frame import LocalFrame
from fusion.rules.lifecycle import SEVERITIES, AlertEvent
from sensors.reports import AisPosition, SatScene

RULE = "dark_detection"
DETECTION_ID_BASE = 3_000_000_000
"""Alert subject ids of satellite detections: above every surface (0..) and air (1e9..) track id."""
_T, _LAT, _LON, _VX, _VY = range(5)  # columns of a history point: Unix s, degrees, true east/north m/s


@dataclass(frozen=True, kw_only=True)
class SatConfig:
    """Settings of the AIS history and the dark_detection rule (defaults and sources: docs/RULES.md)."""

    enabled: bool = True
    history_horizon_s: float = 6 * 3600.0
    history_spacing_s: float = 60.0
    max_vessels: int = 100_000
    max_gap_s: float = 1800.0
    n_sigma: float = 3.0
    ais_sigma_m: float = 20.0
    manoeuvre_mps: float = 1.0
    unknown_speed_mps: float = 12.9
    min_confidence: float = 0.5
    severity: str = "medium"
    weight: float = 3.0

    def __post_init__(self) -> None:
        for name in ("history_horizon_s", "history_spacing_s", "max_vessels", "max_gap_s", "n_sigma", "ais_sigma_m",
                     "weight"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"SatConfig.{name} must be a positive number, got {value!r}")
        for name in ("manoeuvre_mps", "unknown_speed_mps"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"SatConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"SatConfig.min_confidence must be in [0, 1], got {self.min_confidence!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"SatConfig.severity must be one of {SEVERITIES}, got {self.severity!r}")


class AisHistory:
    """Recent AIS positions per MMSI, thinned and bounded (see the module docstring)."""

    def __init__(self, frame: LocalFrame, config: SatConfig) -> None:
        self.frame = frame
        self.config = config
        self.points: OrderedDict[int, list[tuple[float, float, float, float, float]]] = OrderedDict()
        self.newest_t = -math.inf
        self._pruned_t = -math.inf

    def add(self, reports: list[AisPosition]) -> None:
        """Keep these positions (any order): a point closer than the spacing to a kept one of the
        same MMSI is dropped (most of them: class A reports every 2-10 s underway). Costs a
        dictionary look-up and a bisection per report."""
        spacing = self.config.history_spacing_s
        for r in reports:
            pts = self.points.get(r.mmsi)
            i = 0 if pts is None else bisect.bisect_left(pts, (r.t,))
            if pts is not None and ((i > 0 and r.t - pts[i - 1][_T] < spacing) or (i < len(pts) and pts[i][_T] - r.t < spacing)):
                continue
            vx = vy = math.nan
            if r.sog_mps is not None and r.cog_deg is not None:
                c = math.radians(r.cog_deg)
                vx, vy = r.sog_mps * math.sin(c), r.sog_mps * math.cos(c)
            if pts is None:
                pts = self.points[r.mmsi] = []
            else:
                self.points.move_to_end(r.mmsi)
            pts.insert(i, (r.t, r.lat, r.lon, vx, vy))
            self.newest_t = max(self.newest_t, r.t)
        while len(self.points) > self.config.max_vessels:
            self.points.popitem(last=False)
        if self.newest_t > self._pruned_t + spacing:
            self._prune()

    def _prune(self) -> None:
        """Drop points older than the horizon (O(vessels): run once per spacing of data time)."""
        horizon = self.newest_t - self.config.history_horizon_s
        self._pruned_t = self.newest_t
        for mmsi in [m for m, pts in self.points.items() if pts[0][_T] < horizon]:
            pts = self.points[mmsi]
            del pts[: bisect.bisect_left(pts, (horizon,))]
            if not pts:
                del self.points[mmsi]

    def at(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every vessel with an AIS position within ``max_gap_s`` of ``t``: (mmsi (V,), position at
        t (V, 2) true metres in the frame's orientation, its growth (V,) m: how far it may be from
        there for the time to the nearest AIS position used)."""
        cfg = self.config
        mmsi, ends, weight, shift, grow = [], [], [], [], []
        for m, pts in self.points.items():
            i = bisect.bisect_left(pts, (t,))
            before = pts[i - 1] if i > 0 and t - pts[i - 1][_T] <= cfg.max_gap_s else None
            after = pts[i] if i < len(pts) and pts[i][_T] - t <= cfg.max_gap_s else None
            if before is not None and after is not None:  # interpolate
                ends.append((before, after))
                weight.append((t - before[_T]) / max(after[_T] - before[_T], 1e-9))
                shift.append((0.0, 0.0))
                grow.append(cfg.manoeuvre_mps * min(t - before[_T], after[_T] - t))
            elif before is not None or after is not None:  # extrapolate along SOG/COG
                q = before if before is not None else after
                assert q is not None
                dt = t - q[_T]
                known = not math.isnan(q[_VX])
                ends.append((q, q))
                weight.append(0.0)
                shift.append((q[_VX] * dt, q[_VY] * dt) if known else (0.0, 0.0))
                grow.append((cfg.manoeuvre_mps if known else cfg.unknown_speed_mps) * abs(dt))
            else:
                continue
            mmsi.append(m)
        if not mmsi:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 2)), np.zeros(0)
        a = np.array([[p[_LAT], p[_LON], q[_LAT], q[_LON]] for p, q in ends])
        w = np.array(weight)
        x0, y0 = self.frame.to_local(a[:, 0], a[:, 1])
        x1, y1 = self.frame.to_local(a[:, 2], a[:, 3])
        k = self.frame.scale(a[:, 0], a[:, 1])
        pos = np.stack([x0 + w * (x1 - x0), y0 + w * (y1 - y0)], axis=1) / k[:, None] + np.array(shift)
        return np.array(mmsi, dtype=np.int64), pos, np.array(grow)

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state (MMSI -> points), oldest heard first."""
        return {"newest_t": None if math.isinf(self.newest_t) else self.newest_t,
                "points": [[m, [list(p) for p in pts]] for m, pts in self.points.items()]}

    def restore(self, state: dict[str, Any]) -> None:
        """Put back what ``snapshot`` returned (NaN velocities come back from JSON null)."""
        self.newest_t = -math.inf if state.get("newest_t") is None else float(state["newest_t"])
        self.points = OrderedDict(
            (int(m), [tuple(math.nan if v is None else float(v) for v in p) for p in pts])  # type: ignore[misc]  # tuple() is variable-length; snapshot wrote 5-tuples
            for m, pts in state.get("points", []))


@dataclass(frozen=True)
class SceneMatch:
    """One scene's correlation: per detection (D,) the matched MMSI (-1: none) and the
    distance to the nearest AIS vessel at acquisition time (inf: none within max_gap_s)."""

    scene: SatScene
    mmsi: np.ndarray
    nearest_m: np.ndarray


def match_scene(scene: SatScene, history: AisHistory) -> SceneMatch:
    """Match a scene's detections with the AIS vessels at its acquisition time (module docstring)."""
    cfg, frame = history.config, history.frame
    d = len(scene.detections)
    mmsi, pos, grow = history.at(scene.acq_time)
    out_mmsi = np.full(d, -1, dtype=np.int64)
    nearest = np.full(d, np.inf)
    if d == 0 or mmsi.size == 0:
        return SceneMatch(scene, out_mmsi, nearest)
    lat = np.array([det.lat for det in scene.detections])
    lon = np.array([det.lon for det in scene.detections])
    err = np.array([det.pos_err_m for det in scene.detections])
    x, y = frame.to_local(lat, lon)
    z = np.stack([x, y], axis=1) / frame.scale(lat, lon)[:, None]  # true metres, locally
    gate_det = cfg.n_sigma * np.hypot(err, cfg.ais_sigma_m)  # (D,)
    tree = cKDTree(pos)
    nearest, _ = tree.query(z)
    lists = tree.query_ball_point(z, gate_det + float(grow.max()))
    det_idx = np.repeat(np.arange(d), [len(v) for v in lists])
    ves_idx = np.fromiter((j for v in lists for j in v), dtype=np.int64, count=det_idx.size)
    dist = np.hypot(*(z[det_idx] - pos[ves_idx]).T) if det_idx.size else np.zeros(0)
    gate = gate_det[det_idx] + grow[ves_idx]
    inside = dist <= gate
    det_idx, ves_idx, cost = det_idx[inside], ves_idx[inside], (dist[inside] / gate[inside]) ** 2
    if det_idx.size:
        chosen = assign(np.stack([ves_idx, det_idx], axis=1), cost, 1.0 + 1e-9).chosen
        out_mmsi[det_idx[chosen]] = mmsi[ves_idx[chosen]]
    return SceneMatch(scene, out_mmsi, np.asarray(nearest, dtype=float))


def detection_alert_id(scene: SatScene, i: int) -> str:
    """The alert id of detection ``i`` of ``scene``: from the detection itself (source, acquisition time in
    ms, index), so it is the same after a restart, in another instance and in a replay, and unique across them."""
    return f"{RULE}-{scene.source}-{round(scene.acq_time * 1000)}-{i}"


@dataclass
class DarkDetections:
    """Scenes waiting for the next tick, the AIS history and the alert counter of the rule."""

    frame: LocalFrame
    config: SatConfig = field(default_factory=SatConfig)
    pending: list[tuple[float, SatScene]] = field(default_factory=list)  # (receive time, scene)
    seq: int = 0

    def __post_init__(self) -> None:
        self.history = AisHistory(self.frame, self.config)

    def add_scene(self, scene: SatScene, recv_t: float) -> None:
        """A decoded scene, matched at the next tick."""
        self.pending.append((recv_t, scene))

    def evaluate(self, t: float) -> list[AlertEvent]:
        """Match every pending scene received by ``t``; one raised alert per unexplained detection."""
        if not self.pending:
            return []
        due = [s for s in self.pending if s[0] <= t]
        self.pending = [s for s in self.pending if s[0] > t]
        alerts: list[AlertEvent] = []
        for _, scene in due:
            m = match_scene(scene, self.history)
            for i, det in enumerate(scene.detections):
                if m.mmsi[i] >= 0 or not self.config.enabled or det.confidence < self.config.min_confidence:
                    continue
                alerts.append(self._alert(t, scene, i, float(m.nearest_m[i])))
        return alerts

    def _alert(self, t: float, scene: SatScene, i: int, nearest_m: float) -> AlertEvent:
        det, cfg = scene.detections[i], self.config
        self.seq += 1
        track_id = DETECTION_ID_BASE + self.seq
        length = "unknown length" if det.length_m is None else f"{det.length_m:.0f} m"
        near = "no AIS vessel" if math.isinf(nearest_m) else f"nearest AIS vessel {nearest_m / 1000.0:.1f} km away"
        age_min = (t - scene.acq_time) / 60.0
        return AlertEvent(
            t=t, alert_id=detection_alert_id(scene, i), rule=RULE, severity=cfg.severity, state="raised", track_id=track_id,
            lat=det.lat, lon=det.lon, zone=None, mmsi=None, icao24=None,
            reason=(f"{scene.sensor.upper()} detection ({length}, confidence {det.confidence:.2f}) from {scene.source} "
                    f"{age_min:.0f} min ago matches no AIS vessel at acquisition time ({near})"),
            related_track_ids=[], priority=cfg.weight * (0.5 + 0.5 * det.confidence),
            evidence={"acq_t": scene.acq_time, "latency_s": t - scene.acq_time, "pos_err_m": det.pos_err_m,
                      "length_m": det.length_m, "confidence": det.confidence,
                      "nearest_ais_m": None if math.isinf(nearest_m) else nearest_m, "detection": i},
        )

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state: pending scenes, the counter, the AIS history."""
        return {"pending": [[r, msgspec.to_builtins(s)] for r, s in self.pending], "seq": self.seq,
                "history": self.history.snapshot()}

    def restore(self, state: dict[str, Any]) -> None:
        """Put back what ``snapshot`` returned."""
        self.pending = [(float(r), msgspec.convert(s, SatScene)) for r, s in state.get("pending", [])]
        self.seq = int(state.get("seq", 0))
        self.history.restore(state.get("history", {}))
