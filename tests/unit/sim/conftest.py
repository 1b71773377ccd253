"""Small scenario documents for the simulator tests (built as dicts, validated like files)."""

from __future__ import annotations

import datetime as dt
from typing import Any

T0 = dt.datetime(2024, 3, 14, 6, 0, tzinfo=dt.UTC)
RADAR_LAT, RADAR_LON = 9.42, -78.80  # a headland on the Guna Yala coast (default scenario)


def base_doc(**changes: Any) -> dict[str, Any]:
    """A valid one-hour scenario document at sea off Panama with no sensors or objects."""
    doc: dict[str, Any] = {
        "format_version": 1, "name": "unit", "start": T0, "duration_s": 3600.0, "seed": 11,
        "truth_interval_s": 10.0,
        "area": {"lat_min": 9.0, "lat_max": 10.3, "lon_min": -79.8, "lon_max": -77.9},
        "sensors": [], "objects": [], "zones": [],
    }
    doc.update(changes)
    return doc


def parked(obj_id: str, lat: float, lon: float, kind: str = "merchant", **extra: Any) -> dict[str, Any]:
    """An object that stays at (lat, lon) for the whole scenario."""
    return {"id": obj_id, "kind": kind, "speed_kn": 1.0, "hold_at_end": True,
            "route": [{"lat": lat, "lon": lon}, {"lat": lat, "lon": lon}], **extra}


def transit(obj_id: str, start: tuple[float, float], end: tuple[float, float], speed_kn: float,
            kind: str = "merchant", **extra: Any) -> dict[str, Any]:
    """An object on one straight leg at ``speed_kn``."""
    return {"id": obj_id, "kind": kind, "speed_kn": speed_kn,
            "route": [{"lat": start[0], "lon": start[1]}, {"lat": end[0], "lon": end[1]}], **extra}
