"""dark_vessel: a moving surface track that never had an AIS identity although it spent dark_s inside AIS
coverage held by radar, going somewhere at displacement-hull speeds, away from ports and anchorages, and not
measured to be a boat below the AIS carriage size (its radar cross-section, docs/RULES.md "Size evidence"); or, anywhere
and without waiting dark_s, one measured as a low-observable hull (a semi-submersible) watched going somewhere."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

import msgspec
import numpy as np

from fusion.core.arrays import NO_MMSI, BoolArray, FloatArray, IntArray
from fusion.rules.behaviours import (
    MAX_STEP_S,
    RETURN_S,
    FirstFix,
    excluded_here_or_from,
    in_coverage,
    never_identified,
    ramp,
    track_candidates,
)
from fusion.rules.catalog.base import ExcludingRule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates, isin_sorted
from fusion.rules.lineage import M_PER_DEG, Carried
from fusion.rules.params import KNOT_MPS, Coverage, ExcludingParams, NonNeg, Pos
from fusion.rules.reporting import ReportingArrays
from fusion.rules.scene import Scene


class DarkVesselParams(ExcludingParams):
    """dark_vessel: confirmed surface track that never had an AIS identity although it spent dark_s
    inside AIS coverage held by radar (updated within radar_fresh_s), or satellite_dark_s anywhere;
    at displacement-hull speeds (min_speed_kn to max_speed_kn). Sources of the shipped values (ITU-R M.1371
    intervals, SOLAS V/19 carriage, vessel speeds): fusion/rules/defaults/rules.toml and docs/RULES.md.
    A track measured as a low-observable hull (``low_observable``) needs no time in coverage: it raises anywhere once
    watched going somewhere: net speed >= min_net_speed_kn over low_observable_watch_s since its settled first fix.
    A dark run also needs its velocity smoothed over smoothing_s at least going_speed_kn (faster than a trawler tows)."""

    def __post_init__(self) -> None:
        if self.max_speed_kn <= self.min_speed_kn:
            raise ValueError(f"max_speed_kn ({self.max_speed_kn}) must be > min_speed_kn ({self.min_speed_kn})")
        if not self.low_observable_rcs_dbsm <= self.carriage_rcs_dbsm:
            raise ValueError(f"low_observable_rcs_dbsm ({self.low_observable_rcs_dbsm}) must be <= carriage_rcs_dbsm "
                             f"({self.carriage_rcs_dbsm})")

    dark_s: NonNeg
    radar_fresh_s: Pos
    min_speed_kn: NonNeg
    max_speed_kn: Pos
    min_net_speed_kn: NonNeg
    carriage_rcs_dbsm: float
    low_observable_rcs_dbsm: float
    rcs_min_looks: Annotated[int, msgspec.Meta(ge=1)]
    port_origin_m: NonNeg
    low_observable_watch_s: NonNeg
    smoothing_s: Pos
    stop_speed_kn: NonNeg
    stop_s: NonNeg
    going_speed_kn: NonNeg


def small_craft(s: Scene, r: DarkVesselParams) -> BoolArray:
    """(N,) tracks whose radar cross-section, from at least rcs_min_looks radar looks, says a boat below the size
    that must carry AIS: from low_observable_rcs_dbsm (below it, smaller than the smallest boat the radar
    standards consider: a low-observable hull such as a semi-submersible, which stays a suspect) up to
    carriage_rcs_dbsm (the smallest 300 GT hull, SOLAS V/19.2.4). Tracks without an estimate are not."""
    sized = s.rcs_looks >= r.rcs_min_looks
    return sized & (s.rcs_dbsm >= r.low_observable_rcs_dbsm) & (s.rcs_dbsm < r.carriage_rcs_dbsm)


def low_observable(s: Scene, r: DarkVesselParams) -> BoolArray:
    """(N,) tracks whose radar cross-section, from at least rcs_min_looks radar looks, lies below
    low_observable_rcs_dbsm: smaller than any boat the radar standards design for (docs/RULES.md "Size evidence"),
    a low-observable hull. Tracks without an estimate are not."""
    return (s.rcs_looks >= r.rcs_min_looks) & (s.rcs_dbsm < r.low_observable_rcs_dbsm)


def _empty_work() -> dict[str, np.ndarray]:
    return {"track_id": np.zeros(0, np.int64), "last_t": np.zeros(0), "ve": np.zeros(0), "vn": np.zeros(0),
            "stopped_s": np.zeros(0), "looks": np.zeros(0), "sized_t": np.zeros(0)}


@dataclass
class WorkMemory:
    """Per eligible surface track (sorted id): its velocity smoothed over smoothing_s (true m/s; a stopped boat's
    track reads 1-7 kn of zero-mean velocity noise, which averages out) and the time radar held it stopped at sea
    (smoothed speed below stop_speed_kn), s; and since when its radar cross-section estimate has been accumulating
    looks (``sized_t``: its first tick, or the tick its looks fell, when the tracker revived it with a new estimate);
    a gone track's row is kept RETURN_S for its id coming back."""

    cols: dict[str, np.ndarray] = field(default_factory=_empty_work)

    def observe(self, s: Scene, r: DarkVesselParams, radar_held: BoolArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(N,) time stopped (s), ``sized_t`` (s) and the smoothed speed (the length of the smoothed velocity, true
        m/s: the track's net speed over about the last smoothing_s) after this tick (0, NaN and NaN for the other
        rows); new tracks start at their velocity."""
        rows = np.flatnonzero(~s.is_air & s.eligible)
        ids = s.track_id[rows]
        carried = Carried(self.cols, ids)
        prev = carried.prev
        dt = np.clip(s.t - prev("last_t", s.t), 0.0, MAX_STEP_S)
        w = 1.0 - np.exp(-dt / r.smoothing_s)
        ve = prev("ve", s.vel[rows, 0]) + w * (s.vel[rows, 0] - prev("ve", s.vel[rows, 0]))
        vn = prev("vn", s.vel[rows, 1]) + w * (s.vel[rows, 1] - prev("vn", s.vel[rows, 1]))
        smoothed = np.hypot(ve, vn)
        stopped = radar_held[rows] & (smoothed < r.stop_speed_kn * KNOT_MPS)
        looks = s.rcs_looks[rows].astype(np.float64)
        restarted = looks < prev("looks", looks)
        live = {"track_id": ids, "last_t": np.full(len(rows), s.t), "ve": ve, "vn": vn,
                "stopped_s": prev("stopped_s", np.zeros(len(rows))) + np.where(stopped, dt, 0.0),
                "looks": looks, "sized_t": np.where(restarted, s.t, prev("sized_t", np.full(len(rows), s.t)))}
        gone = carried.gone() & (s.t - self.cols["last_t"] <= RETURN_S)
        self.cols = carried.columns(live, gone)
        out, sized_t, speed = np.zeros(len(s)), np.full(len(s), np.nan), np.full(len(s), np.nan)
        out[rows], sized_t[rows], speed[rows] = live["stopped_s"], live["sized_t"], smoothed
        return out, sized_t, speed


def identity_heard_near(s: Scene, rows: IntArray, rep: ReportingArrays, within_s: float, gate_m: float) -> BoolArray:
    """(R,) of surface tracks ``rows`` (R,): an AIS identity that no live track carries was heard within ``within_s``
    within ``gate_m`` plus the track's speed x the report's age of it: a transponder there is on, its reports only did
    not reach the track (weak reception: a class B unit at the edge of its range, satellite passes)."""
    out = np.zeros(len(rows), bool)
    if not len(rows) or not len(rep.mmsi):
        return out
    recent = (s.t - rep.last_t <= within_s) & np.isfinite(rep.lat)
    carried = np.unique(s.mmsi[s.mmsi != NO_MMSI])
    k = np.flatnonzero(recent & ~isin_sorted(rep.mmsi, carried))
    if not len(k):
        return out
    de = (rep.lon[k][None, :] - s.lon[rows][:, None]) * M_PER_DEG * np.cos(np.radians(s.lat[rows]))[:, None]
    dn = (rep.lat[k][None, :] - s.lat[rows][:, None]) * M_PER_DEG
    reach = gate_m + s.speed_mps[rows][:, None] * np.maximum(s.t - rep.last_t[k], 0.0)[None, :]
    return np.any(np.hypot(de, dn) <= reach, axis=1)


def dark_vessel(s: Scene, r: DarkVesselParams, cov: Coverage, first: FirstFix, had_id: BoolArray | None = None,
                settle_s: float = 0.0, work: WorkMemory | None = None, reporting: ReportingArrays | None = None,
                gate_m: float = 0.0) -> Candidates:
    """Moving surface track that never had an AIS identity (in any fragment: ``had_id``) although it spent dark_s inside
    AIS coverage held by radar (or satellite_dark_s anywhere, when satellite AIS is fused), going somewhere (net speed
    since first seen settled, after ``settle_s``, >= min_net_speed_kn), away from excluded zones and not first seen
    leaving one (within port_origin_m: ``came_from``), and not a small craft by its radar cross-section
    (``small_craft``; a track without one keeps the rule as it was). A low-observable hull (``low_observable``) held by
    radar needs no time in coverage, anywhere: it enters once its net speed, measured over low_observable_watch_s since
    the settled first fix, is >= min_net_speed_kn (strength 1: its size is the evidence, not the silence; a dark run's
    strength is at most 0.5). Not raised (``enter``) on a track stopped at sea for stop_s (``WorkMemory``: at work), nor on
    a dark run whose velocity smoothed over smoothing_s is below going_speed_kn (towing a trawl, or a first fix on another
    object), nor on one near which an AIS identity no track carries was heard within dark_s (``identity_heard_near``)."""
    never_ais = never_identified(s, had_id)
    radar_held = (s.t - s.last_noncoop_t) <= r.radar_fresh_s
    net = first.observe(s, settle_s)
    covered_s = first.count(s, never_ais & radar_held & in_coverage(s, cov))
    # a track whose size is being measured (an estimate from fewer than rcs_min_looks looks: a track the tracker revived
    # restarts it) waits for it; a track without any estimate (a radar without SNR) is judged without
    sizing = (s.rcs_looks > 0) & (s.rcs_looks < r.rcs_min_looks)
    dark = s.eligible & never_ais & ~small_craft(s, r) & ~sizing
    age = s.t - s.first_t
    heard_by_now = covered_s >= r.dark_s
    if cov.satellite_dark_s > 0:
        heard_by_now |= age >= cov.satellite_dark_s
    # a low-observable hull is its own evidence, once its net speed is measured over low_observable_watch_s (since the
    # settled first fix: NaN before)
    hull = low_observable(s, r) & radar_held & (s.t - first.seen_since(s) >= r.low_observable_watch_s)
    if work is not None:  # its size measured as long, also on a track the tracker revived with a new estimate
        stopped_s, sized_t, smoothed = work.observe(s, r, radar_held)
        hull &= s.t - sized_t >= r.low_observable_watch_s
    else:
        stopped_s, smoothed = np.zeros(len(s)), np.full(len(s), np.nan)
    dark &= heard_by_now | hull
    speed = s.speed_mps
    if r.exclude_kinds:  # the zone tests last, on the rows that can still enter or stay (below): the costly part of the rule
        moving = np.flatnonzero(dark & (speed >= 0.5 * r.min_speed_kn * KNOT_MPS) & (speed <= 1.25 * r.max_speed_kn * KNOT_MPS))
        dark &= ~excluded_here_or_from(s, first, r.exclude_kinds, r.exclude_margin_m, r.port_origin_m, moving)
    # NaN (no history yet) counts as going where time in coverage decides; a hull raised on its size alone is seen going
    going = np.where(heard_by_now, ~(net < r.min_net_speed_kn * KNOT_MPS), net >= r.min_net_speed_kn * KNOT_MPS)
    # a dark run (not a hull: its size is the evidence) also goes somewhere now, faster than a trawler tows: its velocity
    # averaged over smoothing_s (``WorkMemory``), a displacement rate that a jump of the track's position does not enter
    # (a track born on clutter that took a trawler's plots read 11.5 kn net since its first fix, the trawler 3.2 kn)
    going &= hull | ~(smoothed < r.going_speed_kn * KNOT_MPS)
    enter = dark & (speed >= r.min_speed_kn * KNOT_MPS) & (speed <= r.max_speed_kn * KNOT_MPS) & going
    enter &= stopped_s < r.stop_s  # stopped at sea: a boat at work (fishing set, patrol on station), not a transit
    if reporting is not None:
        rows = np.flatnonzero(enter & ~hull)
        enter[rows] = ~identity_heard_near(s, rows, reporting, r.dark_s, gate_m)
    stay = (dark & (speed >= 0.5 * r.min_speed_kn * KNOT_MPS) & (speed <= 1.25 * r.max_speed_kn * KNOT_MPS)
            & ~(net < 0.5 * r.min_net_speed_kn * KNOT_MPS))
    # strength: a hull measured smaller than any boat is the conveyance itself (1); silence alone, however long, is at
    # most half that (0.5 x its ramp to 3 dark_s), so that the calibrated score can tell the two apart
    return track_candidates(r, enter, stay, np.where(hull, 1.0, 0.5 * ramp(covered_s, 0.0, 3.0 * r.dark_s)),
                            {"dark_for_s": covered_s, "age_s": age, "speed_kn": speed / KNOT_MPS,
                             "net_speed_kn": net / KNOT_MPS, "rcs_dbsm": s.rcs_dbsm,
                             "stopped_s": stopped_s, "smoothed_speed_kn": smoothed / KNOT_MPS})


class DarkVessel(ExcludingRule[DarkVesselParams]):
    """The dark_vessel rule on the engine's first-fix memory (shared with noncoop_transit) and lineage."""

    name = "dark_vessel"
    Params = DarkVesselParams

    def __init__(self) -> None:
        super().__init__()
        self.memory: WorkMemory = WorkMemory()

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``dark_vessel`` with the object's identity history, its stops and the identities heard near it."""
        e = tick.engine
        return dark_vessel(s, self.params, e.ais_coverage, tick.first_fix, tick.lineage.had_identity(s), e.settle_s,
                           self.memory, tick.reporting, e.handover_m)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Time dark in coverage, speed and net speed, and the radar cross-section when measured."""
        rcs = ev.get("rcs_dbsm", math.nan)
        size = "" if math.isnan(rcs) else (f", radar cross-section {fmt(rcs, ' dBsm', 1)}"
                                           + (" (a low-observable hull)" if rcs < self.params.low_observable_rcs_dbsm else ""))
        return (f"no AIS identity after {fmt(ev['dark_for_s'] / 60.0, ' min')} inside AIS coverage, moving at "
                f"{fmt(ev.get('speed_kn', math.nan), ' kn', 1)}, {fmt(ev.get('net_speed_kn', math.nan), ' kn', 1)} net since first seen"
                f"{size}")
