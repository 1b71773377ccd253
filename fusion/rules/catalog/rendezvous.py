"""rendezvous: two slow surface tracks close together for a long time away from ports and anchorages
(Global Fishing Watch encounter definition), on smoothed positions and speeds (``Smoothed``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from fusion.core.arrays import NO_MMSI, FloatArray
from fusion.rules.behaviours import ramp
from fusion.rules.catalog.base import ExcludingRule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates
from fusion.rules.lineage import Carried
from fusion.rules.params import KNOT_MPS, ExcludingParams, NonNeg, Pos
from fusion.rules.scene import Scene


class RendezvousParams(ExcludingParams):
    """rendezvous: two surface tracks within distance_m, both slower than speed_kn, for min_on_s,
    away (exclude_margin_m) from port/anchorage zones; positions and speeds smoothed over smoothing_s (0: raw).
    Sources of the shipped values (GFW encounter events): fusion/rules/defaults/rules.toml and docs/RULES.md."""

    distance_m: Pos
    clear_distance_m: Pos
    speed_kn: Pos
    clear_speed_kn: Pos
    require_unidentified: bool
    smoothing_s: NonNeg

    def __post_init__(self) -> None:
        if self.clear_distance_m < self.distance_m:
            raise ValueError(f"clear_distance_m ({self.clear_distance_m}) must be >= distance_m ({self.distance_m})")
        if self.clear_speed_kn < self.speed_kn:
            raise ValueError(f"clear_speed_kn ({self.clear_speed_kn}) must be >= speed_kn ({self.speed_kn})")


@dataclass
class Smoothed:
    """Per surface track (sorted id): exponentially smoothed position (local m) and velocity (true m/s), time constant
    ``tau_s``. Zero-mean filter noise averages out (a stationary boat's track reads 1-6 kn of velocity noise and
    hundreds of metres of position noise, issue 14), and two boats moving together lag alike, so their smoothed
    distance is their mean distance."""

    cols: dict[str, np.ndarray] = field(default_factory=lambda: {
        "track_id": np.zeros(0, np.int64), **{k: np.zeros(0) for k in ("last_t", "east", "north", "ve", "vn")}})

    def observe(self, s: Scene, tau_s: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(N,) smoothed east, north (m) and speed (m/s) after this tick (NaN for air); new tracks start at their state."""
        rows = np.flatnonzero(~s.is_air)
        prev = Carried(self.cols, s.track_id[rows]).prev
        now = {"east": s.east[rows], "north": s.north[rows], "ve": s.vel[rows, 0], "vn": s.vel[rows, 1]}
        dt = np.maximum(s.t - prev("last_t", s.t), 0.0)
        w = 1.0 - np.exp(-dt / tau_s) if tau_s > 0 else np.ones(len(rows))
        new = {k: prev(k, v) + w * (v - prev(k, v)) for k, v in now.items()}
        self.cols = {"track_id": s.track_id[rows], "last_t": np.full(len(rows), s.t), **new}
        out = [np.full(len(s), np.nan) for _ in range(3)]
        out[0][rows], out[1][rows], out[2][rows] = new["east"], new["north"], np.hypot(new["ve"], new["vn"])
        return out[0], out[1], out[2]


def rendezvous(s: Scene, r: RendezvousParams, smooth: Smoothed | None = None) -> Candidates:
    """Pairs of slow surface tracks close together away from ports and anchorages, on positions and speeds smoothed
    over ``smoothing_s`` (``smooth``; None: the filter's own).

    The subject is the pair; its owner is the track without AIS identity (else the lower id),
    ``related`` the other one.
    """
    if smooth is not None:
        east, north, speed = smooth.observe(s, r.smoothing_s)
    else:
        east, north, speed = s.east, s.north, s.speed_mps
    slow = s.eligible & ~s.is_air & (speed < r.clear_speed_kn * KNOT_MPS)
    rows = np.flatnonzero(slow)
    near_port, _ = s.near_zones(s.geometry.select(r.exclude_kinds), r.exclude_margin_m, rows)
    rows = np.setdiff1d(rows, near_port)
    empty = np.zeros(0, np.int64)
    if len(rows) < 2:
        return Candidates.build(empty, empty.astype(bool), empty.astype(bool), np.zeros(0), min_on_s=r.min_on_s,
                                severity=r.severity, weight=r.weight)
    xy = np.column_stack([east[rows], north[rows]])
    pairs = cKDTree(xy).query_pairs(r.clear_distance_m, output_type="ndarray")
    a, b = rows[pairs[:, 0]], rows[pairs[:, 1]]
    dist = np.hypot(east[a] - east[b], north[a] - north[b])
    unid_a, unid_b = s.mmsi[a] == NO_MMSI, s.mmsi[b] == NO_MMSI
    ok = (unid_a | unid_b) if r.require_unidentified else np.ones(len(a), bool)
    slow_both = np.maximum(speed[a], speed[b]) < r.speed_kn * KNOT_MPS
    enter = ok & slow_both & (dist <= r.distance_m)
    swap = unid_b & ~unid_a  # owner: the unidentified side
    owner, other = np.where(swap, b, a), np.where(swap, a, b)
    related_id = s.track_id[other]
    return Candidates.build(owner, enter, ok, 1.0 - ramp(dist, 0.0, r.clear_distance_m) * 0.5, min_on_s=r.min_on_s,
                            severity=r.severity, weight=r.weight, aux=related_id, related=related_id,
                            evidence={"distance_m": dist, "speed_kn": speed[owner] / KNOT_MPS,
                                      "other_speed_kn": speed[other] / KNOT_MPS})


class Rendezvous(ExcludingRule[RendezvousParams]):
    """The rendezvous rule with its smoothing memory; the subject is a pair of tracks."""

    name = "rendezvous"
    Params = RendezvousParams

    def __init__(self) -> None:
        super().__init__()
        self.memory: Smoothed = Smoothed()

    @property
    def state_key(self) -> str:
        """"smooth", as in checkpoints written before the rule catalog."""
        return "smooth"

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``rendezvous`` on smoothed positions and speeds."""
        return rendezvous(s, self.params, self.memory)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Distance, time together and both speeds."""
        return (f"within {fmt(ev['distance_m'], ' m')} of another track for {fmt(ev['condition_s'] / 60.0, ' min')}, "
                f"both slow ({fmt(ev.get('speed_kn', math.nan), ' kn', 1)} and {fmt(ev['other_speed_kn'], ' kn', 1)}), away from port")
