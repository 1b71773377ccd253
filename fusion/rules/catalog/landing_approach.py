"""landing_approach: an unidentified track about to arrive at a landing zone (surface) or airstrip (air). Its
arrival time also gives every alert's urgency (``RuleEngine`` priority)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated

import msgspec
import numpy as np

from fusion.core.arrays import BoolArray, FloatArray, IntArray
from fusion.rules.behaviours import ramp, track_candidates
from fusion.rules.catalog.base import Rule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates
from fusion.rules.params import KNOT_MPS, Pos, RuleParams, ZoneKind
from fusion.rules.scene import Scene


class LandingApproachParams(RuleParams):
    """landing_approach: unidentified track whose time to arrive at a landing zone (surface)
    or airstrip (air) is below the threshold, heading within max_off_course_deg of it; for aircraft the
    time is at least altitude / max_descent_mps. Sources of the shipped values:
    fusion/rules/defaults/rules.toml and docs/RULES.md."""

    surface_tta_s: Pos
    air_tta_s: Pos
    surface_kinds: list[ZoneKind]
    air_kinds: list[ZoneKind]
    min_speed_kn: Pos
    max_off_course_deg: Annotated[float, msgspec.Meta(gt=0.0, lt=90.0)]
    unidentified_only: bool
    hysteresis: Annotated[float, msgspec.Meta(ge=1.0, le=3.0)]
    max_descent_mps: Pos


def landing_approach(s: Scene, r: LandingApproachParams) -> Candidates:
    """Track whose time to arrive at a landing zone (surface) or airstrip (air) is below threshold."""
    g = s.geometry
    thr = np.where(s.is_air, r.air_tta_s, r.surface_tta_s)
    base = s.eligible & (s.unidentified if r.unidentified_only else True)
    rows = np.flatnonzero(base)
    tta, zone, off = (np.full(len(s), np.inf), np.full(len(s), -1, np.int64), np.full(len(s), np.nan))
    tta[rows], zone[rows], off[rows] = s.arrival(g.select(r.surface_kinds), g.select(r.air_kinds), r.min_speed_kn * KNOT_MPS, rows)
    # an aircraft cannot land before it has descended: the time to arrive is at least altitude / max_descent_mps
    descent_s = np.where(s.is_air & np.isfinite(s.alt_m), np.maximum(s.alt_m, 0.0) / r.max_descent_mps, 0.0)
    tta = np.maximum(tta, descent_s)
    enter = base & (tta <= thr) & (off <= r.max_off_course_deg)
    stay = base & (tta <= thr * r.hysteresis) & (off <= min(r.max_off_course_deg * r.hysteresis, 89.0))
    return track_candidates(r, enter, stay, 1.0 - ramp(tta, 0.0, thr * r.hysteresis) * 0.5,
                            {"time_to_arrival_s": tta, "off_course_deg": off, "speed_kn": s.speed_mps / KNOT_MPS}, zone=zone)


class LandingApproach(Rule[LandingApproachParams]):
    """The landing_approach rule (stateless); its zones and arrival times serve every alert's urgency, so they are
    indexed and looked ahead for whether or not the rule is enabled."""

    name = "landing_approach"
    Params = LandingApproachParams

    def _targets(self) -> BoolArray:
        return self.geometry.select(self.params.surface_kinds) | self.geometry.select(self.params.air_kinds)

    def queries(self) -> list[tuple[bool, float, BoolArray]]:
        """Membership of landing zones and airstrips (arrival times of every alert's urgency)."""
        return [(True, 0.0, self._targets())]

    def prefer(self) -> BoolArray:
        """The landing zone or airstrip."""
        return self._targets()

    def lookahead_s(self) -> float:
        """The longest time to arrival the rule holds at."""
        r = self.params
        return max(r.surface_tta_s, r.air_tta_s) * r.hysteresis

    def time_to_landing(self, s: Scene, rows: IntArray) -> FloatArray:
        """(R,) time s to arrive at a landing zone (surface rows) or airstrip (air rows) heading within
        max_off_course_deg of it (inf: none within the scene's arrival horizon)."""
        r, g = self.params, self.geometry
        tta, _, off = s.arrival(g.select(r.surface_kinds), g.select(r.air_kinds), r.min_speed_kn * KNOT_MPS, rows)
        return np.where(off <= r.max_off_course_deg, tta, np.inf)

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``landing_approach``."""
        return landing_approach(s, self.params)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Zone and time to arrival."""
        return f"arrives at {zone} in {fmt(ev['time_to_arrival_s'] / 60.0, ' min', 1)} at {fmt(ev.get('speed_kn', math.nan), ' kn', 1)}"
