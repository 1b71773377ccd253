"""Crafted evaluation directories: objects and tracks placed in metres east/north of a point."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyproj

ORIGIN_LAT, ORIGIN_LON = 12.0, -78.0
_GEOD = pyproj.Geod(ellps="WGS84")


def latlon(east_m: float, north_m: float) -> tuple[float, float]:
    """Geodesic offset from the origin: (east, north) true metres -> (lat, lon) degrees."""
    lon, lat, _ = _GEOD.fwd(ORIGIN_LON, ORIGIN_LAT, math.degrees(math.atan2(east_m, north_m)), math.hypot(east_m, north_m))
    return lat, lon


class Scene:
    """Collects truth, track and alert rows and writes them as an evaluation directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.truth: list[dict[str, Any]] = []
        self.tracks: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []

    def add_truth(self, t: float, oid: int | str, east_m: float, north_m: float, *, role: str = "benign",
                  domain: str = "surface", speed_mps: float = 0.0, course_deg: float = 0.0,
                  activity: str = "transit") -> None:
        lat, lon = latlon(east_m, north_m)
        self.truth.append({"t": t, "id": oid, "domain": domain, "lat": lat, "lon": lon, "alt_m": None,
                           "speed_mps": speed_mps, "course_deg": course_deg, "mmsi": None, "icao24": None,
                           "role": role, "activity": activity})

    def add_track(self, t: float, track_id: int, east_m: float, north_m: float, *, domain: str = "surface",
                  status: str = "confirmed", vel_en: tuple[float, float] = (0.0, 0.0),
                  cov: tuple[tuple[float, float], tuple[float, float]] = ((100.0, 0.0), (0.0, 100.0)),
                  mmsi: int | None = None) -> None:
        lat, lon = latlon(east_m, north_m)
        self.tracks.append({"t": t, "track_id": track_id, "domain": domain, "status": status, "lat": lat, "lon": lon,
                            "alt_m": None, "vel_e_mps": vel_en[0], "vel_n_mps": vel_en[1], "cov_en_m2": cov,
                            "mmsi": mmsi, "icao24": None, "sources": ["radar"]})

    def add_alert(self, t: float, alert_id: str, rule: str, track_id: int, *, state: str = "raised",
                  score: float | None = None) -> None:
        self.alerts.append({"t": t, "alert_id": alert_id, "rule": rule, "severity": "high", "state": state,
                            "track_id": track_id, "lat": ORIGIN_LAT, "lon": ORIGIN_LON, "zone": None, "mmsi": None,
                            "icao24": None, "reason": "test", "related_track_ids": [], "priority": 1, "evidence": {},
                            **({} if score is None else {"score": score})})

    def write(self) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        for name, rows in (("truth.jsonl", self.truth), ("tracks.jsonl", self.tracks), ("alerts.jsonl", self.alerts)):
            (self.path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
        return self.path




def scored_suite(root: Path, names: tuple[str, ...] = ("kingston-1000", "cartagena-1000")) -> Path:
    """A suite directory of scored one-minute scenarios ``names``: per scenario a suspect S (on track 1) and a
    benign object B (track 2), a go_fast alert on S (score 0.8 in the first scenario, 0.2 in the others) and
    a dark_vessel alert on B (score 0.5)."""
    from fusion.evaluation.score import evaluate_dir

    t0 = 1_700_000_000.0
    for n, name in enumerate(names):
        scene = Scene(root / name)
        for k in range(10):
            scene.add_truth(t0 + 10.0 * k, "S", 0.0, 0.0, role="suspect")
            scene.add_truth(t0 + 10.0 * k, "B", 0.0, 5000.0)
            scene.add_track(t0 + 10.0 * k, 1, 0.0, 10.0)
            scene.add_track(t0 + 10.0 * k, 2, 0.0, 5010.0)
        scene.add_alert(t0 + 20.0, "g", "go_fast", 1, score=0.8 if n == 0 else 0.2)
        scene.add_alert(t0 + 30.0, "d", "dark_vessel", 2, score=0.5)
        evaluate_dir(scene.write())
    return root
