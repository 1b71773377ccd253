"""suspect_aircraft: an air track without ICAO identity that is low and slow, or descending near an airstrip."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated

import msgspec
import numpy as np

from fusion.core.arrays import BoolArray
from fusion.rules.behaviours import ramp, track_candidates
from fusion.rules.catalog.base import Rule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates
from fusion.rules.params import KNOT_MPS, NonNeg, Pos, RuleParams, ZoneKind
from fusion.rules.scene import Scene


class SuspectAircraftParams(RuleParams):
    """suspect_aircraft: air track without ICAO identity that is low and slow, or descending
    within airstrip_distance_m of an airstrip zone. Sources of the shipped values:
    fusion/rules/defaults/rules.toml and docs/RULES.md."""

    max_alt_m: Pos
    max_speed_kn: Pos
    min_speed_kn: NonNeg
    descent_mps: Pos
    airstrip_distance_m: Pos
    airstrip_kinds: list[ZoneKind]
    hysteresis: Annotated[float, msgspec.Meta(ge=1.0, le=2.0)]


def suspect_aircraft(s: Scene, r: SuspectAircraftParams) -> Candidates:
    """Air track without ICAO identity: low and slow, or descending near an airstrip zone."""
    h = r.hysteresis
    base = s.eligible & s.is_air & s.unidentified
    alt, speed, vrate = s.alt_m, s.speed_mps, s.vrate_mps
    no_alt = np.isnan(alt)

    def low_slow(f: float) -> BoolArray:
        return ((alt <= r.max_alt_m * f) | no_alt) & (speed <= r.max_speed_kn * KNOT_MPS * f) & (speed >= r.min_speed_kn * KNOT_MPS / f)

    def descending_near(f: float) -> BoolArray:
        rows = np.flatnonzero(base & (vrate <= -r.descent_mps / f))
        near_rows, _ = s.near_zones(s.geometry.select(r.airstrip_kinds), r.airstrip_distance_m * f, rows)
        out = np.zeros(len(s), dtype=bool)
        out[near_rows] = True
        return out

    desc_enter = descending_near(1.0)
    enter = base & (low_slow(1.0) | desc_enter)
    stay = base & (low_slow(h) | descending_near(h))
    strength = np.where(desc_enter, 1.0, np.where(no_alt, 0.6, 1.0 - 0.5 * ramp(alt, 0.0, r.max_alt_m)))
    return track_candidates(r, enter, stay, strength, {
        "alt_m": alt, "speed_kn": speed / KNOT_MPS, "vrate_mps": vrate, "descending_near_airstrip": desc_enter.astype(float)})


class SuspectAircraft(Rule[SuspectAircraftParams]):
    """The suspect_aircraft rule (stateless)."""

    name = "suspect_aircraft"
    Params = SuspectAircraftParams

    def queries(self) -> list[tuple[bool, float, BoolArray]]:
        """The airstrips' approach distance, raise and hold."""
        r = self.params
        strips = self.geometry.select(r.airstrip_kinds)
        return [(r.enabled, r.airstrip_distance_m, strips), (r.enabled, r.airstrip_distance_m * r.hysteresis, strips)]

    def prefer(self) -> BoolArray:
        """The airstrip the aircraft is over."""
        return self.geometry.select(self.params.airstrip_kinds)

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``suspect_aircraft``."""
        return suspect_aircraft(s, self.params)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Descending near an airstrip, or low and slow."""
        if ev["descending_near_airstrip"]:
            return f"air track without ICAO identity descending at {fmt(-ev['vrate_mps'], ' m/s', 1)} near an airstrip"
        return f"air track without ICAO identity, low and slow: altitude {fmt(ev['alt_m'], ' m')}, {fmt(ev.get('speed_kn', math.nan), ' kn', 1)}"
