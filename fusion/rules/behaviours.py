"""Building blocks the rules share (``fusion/rules/catalog/``), vectorised over tracks. Pure.

Evidence strength ramps, candidates of one-track subjects, AIS coverage membership, and the first fix / time in
coverage of surface tracks (``FirstFix``, kept by the engine for dark_vessel and noncoop_transit and inherited
through track fragmentation, ``fusion.rules.lineage``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fusion.core.arrays import NO_MMSI, BoolArray, FloatArray, IntArray
from fusion.rules.lifecycle import Candidates, isin_sorted
from fusion.rules.lineage import Carried
from fusion.rules.params import Coverage, RuleParams
from fusion.rules.reporting import haversine_m
from fusion.rules.scene import Scene


def ramp(x: FloatArray, lo: float | FloatArray, hi: float | FloatArray) -> FloatArray:
    """0 at lo, 1 at hi (each scalar or (N,)), linear between, clipped (strength of evidence)."""
    span = np.maximum(np.asarray(hi, dtype=np.float64) - lo, 1e-9)
    return np.clip((np.asarray(x, dtype=np.float64) - lo) / span, 0.0, 1.0)


def track_candidates(r: RuleParams, enter: BoolArray, stay: BoolArray, strength: FloatArray,
                     evidence: dict[str, FloatArray], zone: IntArray | None = None) -> Candidates:
    """Candidates of one-track subjects: the (N,) rows where ``enter`` or ``stay`` holds, with the rule's
    severity, weight and min_on_s, the (N,) ``strength`` and ``evidence`` columns and optional (N,) ``zone``."""
    rows = np.flatnonzero(stay | enter)
    return Candidates.build(rows, enter[rows], stay[rows], strength[rows], min_on_s=r.min_on_s, severity=r.severity,
                            weight=r.weight, zone=None if zone is None else zone[rows],
                           evidence={k: v[rows] for k, v in evidence.items()})


def in_coverage(s: Scene, cov: Coverage, rows: IntArray | None = None) -> BoolArray:
    """(N,) inside continuous (terrestrial) AIS coverage: everywhere, zones/kinds, or receiver
    circles; (R,) for the given ``rows`` only (the circles are computed for those rows)."""
    sel = slice(None) if rows is None else rows
    if cov.everywhere:
        return np.ones(len(s) if rows is None else len(rows), dtype=bool)
    out = s.in_zones(s.geometry.select(cov.kinds, cov.zones))[sel]
    for c in cov.circles:
        out |= haversine_m(s.lat[sel], s.lon[sel], c.lat, c.lon) <= c.radius_m
    return out


MAX_STEP_S = 60.0  # longest interval between ticks that counts towards time in coverage (a gap in the output)
# how long a gone track's first fix is kept for the same track id coming back (the tracker revives a deleted track
# under its id, with its first measurement time: up to 15 min later on the tune side, issue 14): a memory bound
RETURN_S = 3600.0


@dataclass
class FirstFix:
    """Per live surface track (sorted id): first seen time and local position, last tick time, and
    time spent inside AIS coverage held by radar without ever having an AIS identity.

    The first fix gives the net speed (straight-line displacement / time since) that tells a
    transit from a boat working a fishing ground, which covers distance at speed but stays in one
    area; the time in coverage is dark_vessel's evidence that an AIS transponder would have been heard.
    """

    cols: dict[str, np.ndarray] = field(default_factory=lambda: {
        "track_id": np.zeros(0, np.int64), "t": np.zeros(0), "east": np.zeros(0), "north": np.zeros(0),
        "seen_t": np.zeros(0), "covered_s": np.zeros(0)})
    _scene: Scene | None = field(default=None, repr=False, compare=False)  # the scene of this tick's observe
    _net: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    _step: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)  # (S,) s since last tick
    _rows: IntArray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False, compare=False)
    # gone tracks' rows, kept ``keep_s`` after they were last seen so that a successor can inherit them (``inherit``),
    # and RETURN_S for the same track id coming back (``observe``: same id, same track)
    lost: dict[str, np.ndarray] = field(default_factory=lambda: {
        "track_id": np.zeros(0, np.int64), "t": np.zeros(0), "east": np.zeros(0), "north": np.zeros(0),
        "seen_t": np.zeros(0), "covered_s": np.zeros(0)})
    keep_s: float = 0.0

    def inherit(self, pairs: IntArray, t: float) -> None:
        """(P, 2) (lost id, successor id) from ``fusion.rules.lineage``: the successor takes over the lost track's first
        fix and time in coverage (the object's), before this tick's ``observe``."""
        recent = t - self.lost["seen_t"] <= self.keep_s
        pool = {k: np.concatenate([self.cols[k], self.lost[k][recent]]) for k in self.cols}
        pos = {int(tid): i for i, tid in enumerate(pool["track_id"].tolist())}
        take = [(pos[int(a)], int(b)) for a, b in pairs.tolist() if int(a) in pos and int(b) not in pos]
        if not take:
            return
        idx = np.array([i for i, _ in take], np.int64)
        add = {k: pool[k][idx] for k in pool}
        add["track_id"] = np.array([b for _, b in take], np.int64)
        add["seen_t"] = np.full(len(take), t)  # the gap between the fragments does not count as time in coverage
        merged = {k: np.concatenate([self.cols[k], add[k]]) for k in self.cols}
        order = np.argsort(merged["track_id"], kind="stable")
        self.cols = {k: v[order] for k, v in merged.items()}

    def observe(self, s: Scene, settle_s: float = 0.0) -> FloatArray:
        """Record new surface tracks and forget gone ones, once per tick (later calls with the
        same scene return the same result); returns (N,) net speed m/s since first seen (NaN for air
        and for tracks not yet settled: eligible and measured for ``settle_s`` since their first measurement,
        unless they continue a lost track whose fix they inherited); a track whose id comes back within RETURN_S
        takes its own row again."""
        if self._scene is s:
            return self._net
        surface = np.flatnonzero(~s.is_air & s.eligible)
        back = np.isin(self.lost["track_id"], s.track_id[surface])  # the same track id coming back: its own row
        if back.any():
            ret = {k: v[back] for k, v in self.lost.items()}
            ret["seen_t"] = np.full(int(back.sum()), s.t)  # the time it was gone is not time in coverage
            both = {k: np.concatenate([self.cols[k], ret[k]]) for k in self.cols}
            order = np.argsort(both["track_id"], kind="stable")
            self.cols = {k: v[order] for k, v in both.items()}
            self.lost = {k: v[~back] for k, v in self.lost.items()}
        rows = surface[(s.t - s.first_t[surface] >= settle_s) | isin_sorted(s.track_id[surface], self.cols["track_id"])]
        ids = s.track_id[rows]
        carried = Carried(self.cols, ids)
        gone = carried.gone()
        lost = {k: np.concatenate([self.lost[k], self.cols[k][gone]]) for k in self.cols}
        recent = s.t - lost["seen_t"] <= max(self.keep_s, RETURN_S)
        self.lost = {k: v[recent] for k, v in lost.items()}
        prev = carried.prev
        now = np.full(len(rows), s.t)
        self._step = np.clip(s.t - prev("seen_t", now), 0.0, MAX_STEP_S)
        self.cols = {"track_id": ids, "t": prev("t", now), "east": prev("east", s.east[rows]),
                     "north": prev("north", s.north[rows]), "seen_t": now, "covered_s": prev("covered_s", np.zeros(len(rows)))}
        self._rows = rows
        net = np.full(len(s), np.nan)
        dt = s.t - self.cols["t"]
        moved = np.hypot(s.east[rows] - self.cols["east"], s.north[rows] - self.cols["north"])
        net[rows] = np.where(dt > 0, moved / np.maximum(dt, 1e-9), np.nan)
        self._scene, self._net = s, net
        return net

    def count(self, s: Scene, counting: BoolArray) -> FloatArray:
        """After this tick's ``observe``: add the time since the last tick to the ``counting`` (N,)
        rows (once per tick); returns (N,) time in coverage s."""
        self.cols["covered_s"] += np.where(counting[self._rows], self._step, 0.0)
        out = np.zeros(len(s))
        out[self._rows] = self.cols["covered_s"]
        return out

    def origin(self, s: Scene) -> tuple[FloatArray, FloatArray]:
        """(N,) east, north (m, local frame) of each surface track's first fix, its object's when inherited through the
        lineage (after ``observe`` of this tick); NaN for the others."""
        east, north = np.full(len(s), np.nan), np.full(len(s), np.nan)
        east[self._rows], north[self._rows] = self.cols["east"], self.cols["north"]
        return east, north

    def seen_since(self, s: Scene) -> FloatArray:
        """(N,) time the engine first saw each surface track (after ``observe`` of this tick); NaN for air."""
        out = np.full(len(s), np.nan)
        out[self._rows] = self.cols["t"]
        return out


def never_identified(s: Scene, had_id: BoolArray | None) -> BoolArray:
    """(N,) surface track without an AIS identity now or ever, in any fragment of its object (``had_id`` (N,), the
    lineage's identity history; None: this track's own)."""
    own = ~s.is_air & (s.mmsi == NO_MMSI) & np.isnan(s.last_ais_t)
    return own if had_id is None else own & ~had_id


def excluded_here_or_from(s: Scene, first: FirstFix, kinds: Sequence[str], margin_m: float, origin_m: float,
                          rows: IntArray) -> BoolArray:
    """(N,) of ``rows`` (the others False): within ``margin_m`` of an active zone of ``kinds`` now, or first seen
    leaving one (``came_from`` within ``origin_m``; asked only of the rows not already near one)."""
    excluded = s.geometry.select(kinds)
    out = np.zeros(len(s), bool)
    near, _ = s.near_zones(excluded, margin_m, rows)
    out[near] = True
    return out | came_from(s, first, excluded, origin_m, rows[~out[rows]])


def came_from(s: Scene, first: FirstFix, zones: BoolArray, margin_m: float, rows: IntArray) -> BoolArray:
    """(N,) of ``rows`` (the others False): the object's first fix (``FirstFix.origin``, inherited across its fragments)
    lies within ``margin_m`` of an active zone of the (Z,) ``zones`` mask: it was first seen leaving a port or an
    anchorage. ``margin_m`` 0: never."""
    out = np.zeros(len(s), bool)
    if margin_m <= 0.0 or not len(rows) or not zones.any():
        return out
    east, north = first.origin(s)
    sel = rows[np.isfinite(east[rows])]
    if len(sel):
        lat, lon = s.geometry.frame.to_geodetic(east[sel], north[sel])
        hit, _ = s.geometry.near(np.asarray(lon), np.asarray(lat), margin_m, zones & s.zone_active)
        out[sel[hit]] = True
    return out
