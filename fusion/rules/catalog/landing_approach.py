"""landing_approach: an unidentified track about to arrive at a landing zone (surface) or airstrip (air). Its
arrival time also gives every alert's urgency (``RuleEngine`` priority).

A boat is on approach when its time to reach a landing zone, heading at it, is short. An aircraft is on approach to
an airstrip only on an approach profile: it tracks towards the strip within a wind correction angle, no faster than an
approach speed, at or below circuit height, and holds that for a time on final. A light aircraft cruising past the
strip (level, far above it) is not. The vertical rate is reported but not used: from radar elevation (0.5 deg sigma)
the tracker's rate of a light aircraft reads +-3 m/s of noise on the tune side, more than an approach's 1-4 m/s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated

import msgspec
import numpy as np

from fusion.core.arrays import BoolArray, FloatArray, IntArray
from fusion.rules.behaviours import ramp
from fusion.rules.catalog.base import Rule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates
from fusion.rules.params import KNOT_MPS, NonNeg, Pos, RuleParams, ZoneKind
from fusion.rules.scene import Scene

Angle = Annotated[float, msgspec.Meta(gt=0.0, lt=90.0)]


class LandingApproachParams(RuleParams):
    """landing_approach: unidentified track whose time to arrive at a landing zone (surface) or airstrip (air) is
    below the threshold, heading within max_off_course_deg of a landing zone or max_wca_deg of an airstrip. An aircraft
    also flies at most max_approach_speed_kn at most circuit_alt_m high, for air_min_on_s (a boat: min_on_s). Sources
    of the shipped values: fusion/rules/defaults/rules.toml and docs/RULES.md."""

    surface_tta_s: Pos
    air_tta_s: Pos
    surface_kinds: list[ZoneKind]
    air_kinds: list[ZoneKind]
    min_speed_kn: Pos
    max_off_course_deg: Angle
    unidentified_only: bool
    hysteresis: Annotated[float, msgspec.Meta(ge=1.0, le=3.0)]
    max_wca_deg: Angle
    max_approach_speed_kn: Pos
    circuit_alt_m: Pos
    air_min_on_s: NonNeg


def air_on_approach(s: Scene, r: LandingApproachParams, tta: FloatArray, off: FloatArray, f: float) -> BoolArray:
    """(N,) air tracks on an approach profile to the airstrip they head for: (N,) time to arrival ``tta`` s and
    off-course angle ``off`` degrees from ``Scene.arrival``; ``f`` >= 1 widens every limit (hysteresis). An unknown
    altitude passes the height test (no evidence either way)."""
    with np.errstate(invalid="ignore"):  # NaN altitudes compare False, and are let through
        low = (s.alt_m <= r.circuit_alt_m * f) | np.isnan(s.alt_m)
    return (s.is_air & (tta <= r.air_tta_s * f) & (off <= min(r.max_wca_deg * f, 89.0))
            & (s.speed_mps <= r.max_approach_speed_kn * KNOT_MPS * f) & low)


def landing_approach(s: Scene, r: LandingApproachParams) -> Candidates:
    """Track whose time to arrive at a landing zone (surface) or airstrip (air, on an approach profile) is below threshold."""
    base = s.eligible & (s.unidentified if r.unidentified_only else True)
    rows = np.flatnonzero(base)
    tta, zone, off = (np.full(len(s), np.inf), np.full(len(s), -1, np.int64), np.full(len(s), np.nan))
    g = s.geometry
    tta[rows], zone[rows], off[rows] = s.arrival(g.select(r.surface_kinds), g.select(r.air_kinds), r.min_speed_kn * KNOT_MPS, rows)
    h = r.hysteresis

    def boat(f: float) -> BoolArray:
        return ~s.is_air & (tta <= r.surface_tta_s * f) & (off <= min(r.max_off_course_deg * f, 89.0))

    enter = base & (boat(1.0) | air_on_approach(s, r, tta, off, 1.0))
    stay = base & (boat(h) | air_on_approach(s, r, tta, off, h))
    thr = np.where(s.is_air, r.air_tta_s, r.surface_tta_s)
    cand = np.flatnonzero(enter | stay)
    evidence = {"time_to_arrival_s": tta, "off_course_deg": off, "speed_kn": s.speed_mps / KNOT_MPS,
                "alt_m": np.where(s.is_air, s.alt_m, np.nan), "vrate_mps": np.where(s.is_air, s.vrate_mps, np.nan)}
    return Candidates.build(cand, enter[cand], stay[cand], (1.0 - ramp(tta, 0.0, thr * h) * 0.5)[cand],
                            min_on_s=np.where(s.is_air[cand], r.air_min_on_s, r.min_on_s), severity=r.severity,
                            weight=r.weight, zone=zone[cand], evidence={k: v[cand] for k, v in evidence.items()})


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
        max_off_course_deg of it (inf: none within the scene's arrival horizon): the urgency of any alert, so for
        every track heading there, on an approach profile or not."""
        r, g = self.params, self.geometry
        tta, _, off = s.arrival(g.select(r.surface_kinds), g.select(r.air_kinds), r.min_speed_kn * KNOT_MPS, rows)
        return np.where(off <= r.max_off_course_deg, tta, np.inf)

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``landing_approach``."""
        return landing_approach(s, self.params)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Zone, time to arrival, and for an aircraft its altitude."""
        text = f"arrives at {zone} in {fmt(ev['time_to_arrival_s'] / 60.0, ' min', 1)} at {fmt(ev.get('speed_kn', math.nan), ' kn', 1)}"
        if math.isfinite(ev.get("alt_m", math.nan)):
            text += f", altitude {fmt(ev['alt_m'], ' m')}"
        return text
