"""dark_vessel: a moving surface track that never had an AIS identity although it spent dark_s inside AIS
coverage held by radar, going somewhere at displacement-hull speeds, away from ports and anchorages, and not
measured to be a boat below the AIS carriage size (its radar cross-section, docs/RULES.md "Size evidence"); or, anywhere
and without waiting dark_s, one measured as a low-observable hull (a semi-submersible) watched going somewhere."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated

import msgspec
import numpy as np

from fusion.core.arrays import BoolArray
from fusion.rules.behaviours import (
    FirstFix,
    excluded_here_or_from,
    in_coverage,
    never_identified,
    ramp,
    track_candidates,
)
from fusion.rules.catalog.base import ExcludingRule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates
from fusion.rules.params import KNOT_MPS, Coverage, ExcludingParams, NonNeg, Pos
from fusion.rules.scene import Scene


class DarkVesselParams(ExcludingParams):
    """dark_vessel: confirmed surface track that never had an AIS identity although it spent dark_s
    inside AIS coverage held by radar (updated within radar_fresh_s), or satellite_dark_s anywhere;
    at displacement-hull speeds (min_speed_kn to max_speed_kn). Sources of the shipped values (ITU-R M.1371
    intervals, SOLAS V/19 carriage, vessel speeds): fusion/rules/defaults/rules.toml and docs/RULES.md.
    A track measured as a low-observable hull (``low_observable``) needs no time in coverage: it raises anywhere once
    watched going somewhere: net speed >= min_net_speed_kn over low_observable_watch_s since its settled first fix."""

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


def dark_vessel(s: Scene, r: DarkVesselParams, cov: Coverage, first: FirstFix, had_id: BoolArray | None = None,
                settle_s: float = 0.0) -> Candidates:
    """Moving surface track that never had an AIS identity (in any fragment: ``had_id``) although it spent dark_s inside
    AIS coverage held by radar (or satellite_dark_s anywhere, when satellite AIS is fused), going somewhere (net speed
    since first seen settled, after ``settle_s``, >= min_net_speed_kn), away from excluded zones and not first seen
    leaving one (within port_origin_m: ``came_from``), and not a small craft by its radar cross-section
    (``small_craft``; a track without one keeps the rule as it was). A low-observable hull (``low_observable``) held by
    radar needs no time in coverage, anywhere: it enters once its net speed, measured over low_observable_watch_s since
    the settled first fix, is >= min_net_speed_kn (strength 1: its size is the evidence, not the silence)."""
    never_ais = never_identified(s, had_id)
    radar_held = (s.t - s.last_noncoop_t) <= r.radar_fresh_s
    net = first.observe(s, settle_s)
    covered_s = first.count(s, never_ais & radar_held & in_coverage(s, cov))
    dark = s.eligible & never_ais & ~small_craft(s, r)
    age = s.t - s.first_t
    heard_by_now = covered_s >= r.dark_s
    if cov.satellite_dark_s > 0:
        heard_by_now |= age >= cov.satellite_dark_s
    # a low-observable hull is its own evidence, once its net speed is measured over low_observable_watch_s (since the
    # settled first fix: NaN before)
    hull = low_observable(s, r) & radar_held & (s.t - first.seen_since(s) >= r.low_observable_watch_s)
    dark &= heard_by_now | hull
    speed = s.speed_mps
    if r.exclude_kinds:  # the zone tests last, on the rows that can still enter or stay (below): the costly part of the rule
        moving = np.flatnonzero(dark & (speed >= 0.5 * r.min_speed_kn * KNOT_MPS) & (speed <= 1.25 * r.max_speed_kn * KNOT_MPS))
        dark &= ~excluded_here_or_from(s, first, r.exclude_kinds, r.exclude_margin_m, r.port_origin_m, moving)
    # NaN (no history yet) counts as going where time in coverage decides; a hull raised on its size alone is seen going
    going = np.where(heard_by_now, ~(net < r.min_net_speed_kn * KNOT_MPS), net >= r.min_net_speed_kn * KNOT_MPS)
    enter = dark & (speed >= r.min_speed_kn * KNOT_MPS) & (speed <= r.max_speed_kn * KNOT_MPS) & going
    stay = (dark & (speed >= 0.5 * r.min_speed_kn * KNOT_MPS) & (speed <= 1.25 * r.max_speed_kn * KNOT_MPS)
            & ~(net < 0.5 * r.min_net_speed_kn * KNOT_MPS))
    return track_candidates(r, enter, stay, np.where(hull, 1.0, ramp(covered_s, 0.0, 3.0 * r.dark_s)),
                            {"dark_for_s": covered_s, "age_s": age, "speed_kn": speed / KNOT_MPS,
                             "net_speed_kn": net / KNOT_MPS, "rcs_dbsm": s.rcs_dbsm})


class DarkVessel(ExcludingRule[DarkVesselParams]):
    """The dark_vessel rule on the engine's first-fix memory (shared with noncoop_transit) and lineage."""

    name = "dark_vessel"
    Params = DarkVesselParams

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``dark_vessel`` with the object's identity history."""
        e = tick.engine
        return dark_vessel(s, self.params, e.ais_coverage, tick.first_fix, tick.lineage.had_identity(s), e.settle_s)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Time dark in coverage, speed and net speed, and the radar cross-section when measured."""
        rcs = ev.get("rcs_dbsm", math.nan)
        size = "" if math.isnan(rcs) else (f", radar cross-section {fmt(rcs, ' dBsm', 1)}"
                                           + (" (a low-observable hull)" if rcs < self.params.low_observable_rcs_dbsm else ""))
        return (f"no AIS identity after {fmt(ev['dark_for_s'] / 60.0, ' min')} inside AIS coverage, moving at "
                f"{fmt(ev.get('speed_kn', math.nan), ' kn', 1)}, {fmt(ev.get('net_speed_kn', math.nan), ' kn', 1)} net since first seen"
                f"{size}")
