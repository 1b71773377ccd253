"""Synthetic TrackViews, zones and rule configs, for the rules tests and benchmark (no randomness inside)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.core.arrays import CONFIRMED, NO_ICAO, NO_MMSI, Domain, TrackView, fixed_covariance
from fusion.core.frame import LocalFrame
from fusion.rules.config import RULE_NAMES, RulesConfig, rules_from_dict
from fusion.rules.engine import RuleEngine
from fusion.rules.zones import ZoneSet

FRAME = LocalFrame(10.0, 20.0, -80.0, -70.0)
KN = 1852.0 / 3600.0


def box(name: str, kind: str, lon0: float, lat0: float, lon1: float, lat1: float, **props: Any) -> dict[str, Any]:
    """A rectangular zone feature in lon/lat."""
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    return {"type": "Feature", "properties": {"name": name, "kind": kind, **props},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def zone_set(*features: dict[str, Any]) -> ZoneSet:
    """ZoneSet from features."""
    return ZoneSet.from_geojson({"type": "FeatureCollection", "features": list(features)}, "test-zones")


def rules(*overrides: dict[str, Any]) -> RulesConfig:
    """Rules without the land mask, every rule off unless named in overrides ({"rules": {name: fields}, "engine": {...}})."""
    data: dict[str, Any] = {"engine": {"coast": "none"}, "rules": {n: {"enabled": False} for n in RULE_NAMES}}
    for o in overrides:
        data["engine"].update(o.get("engine", {}))
        for rule_name, fields in o.get("rules", {}).items():
            data["rules"][rule_name] = {"enabled": True, **fields}
    return rules_from_dict(data, "test-rules")


def view(domain: Domain, t: float, lat: Any, lon: Any, vel_en: Any, *, ids: Any = None, status: Any = CONFIRMED,
         mmsi: Any = NO_MMSI, icao24: Any = NO_ICAO, alt_m: Any = np.nan, vrate_mps: Any = np.nan, first_t: Any = None,
         last_ais_t: Any = np.nan, last_noncoop_t: Any = None, last_t: Any = None, spoof: Any = False,
         rcs_dbsm: Any = None, rcs_looks: Any = 0, vel_var: Any = 0.25) -> TrackView:
    """A TrackView of N tracks at geodetic positions with (N, 2) east/north velocities (m/s),
    updated at ``last_t`` (default: at ``t``); ``rcs_dbsm`` None: no RCS estimate at all (a radar without SNR).
    Covariance: 100 m^2 per position axis, ``vel_var`` (m/s)^2 per velocity axis (default: a settled track's 0.5 m/s)."""
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    n = len(lat)
    e, nn = FRAME.to_local(lat, np.broadcast_to(np.asarray(lon, dtype=float), (n,)))
    vel = np.broadcast_to(np.asarray(vel_en, dtype=float), (n, 2))
    k = FRAME.scale(lat, np.broadcast_to(np.asarray(lon, dtype=float), (n,))) if n else np.ones(0)

    def col(v: Any, dtype: type) -> np.ndarray:
        return np.broadcast_to(np.asarray(v, dtype=dtype), (n,)).copy()

    return TrackView(
        t=t, domain=domain, track_id=col(np.arange(1, n + 1) if ids is None else ids, np.int64), status=col(status, np.int8),
        x=np.column_stack([e, nn, vel * k[:, None]]), covariance=fixed_covariance(_diag_cov(n, vel_var)),
        alt_m=col(alt_m, float), vrate_mps=col(vrate_mps, float), mmsi=col(mmsi, np.int64), icao24=col(icao24, np.int64),
        first_t=col(t - 3600.0 if first_t is None else first_t, float), last_t=col(t if last_t is None else last_t, float), last_ais_t=col(last_ais_t, float),
        last_noncoop_t=col(t if last_noncoop_t is None else last_noncoop_t, float), sources=col(4, np.int64),
        spoof_suspect=col(spoof, bool), rcs_dbsm=None if rcs_dbsm is None else col(rcs_dbsm, float),
        rcs_looks=None if rcs_dbsm is None else col(rcs_looks, np.int64))


def _diag_cov(n: int, vel_var: Any) -> np.ndarray:
    """(N, 4, 4) diagonal state covariance: 100 m^2 per position axis, the (N,) or scalar ``vel_var`` per velocity axis."""
    P = np.zeros((n, 4, 4))
    P[:, 0, 0] = P[:, 1, 1] = 100.0
    P[:, 2, 2] = P[:, 3, 3] = np.broadcast_to(np.asarray(vel_var, dtype=float), (n,))
    return P


def engine(zones: ZoneSet | None = None, cfg: RulesConfig | None = None) -> RuleEngine:
    """An engine on the test frame."""
    return RuleEngine(zones if zones is not None else zone_set(), cfg if cfg is not None else rules(), FRAME)


def empty(domain: Domain, t: float) -> TrackView:
    """A view with no tracks."""
    return view(domain, t, np.zeros(0), np.zeros(0), np.zeros((0, 2)))
