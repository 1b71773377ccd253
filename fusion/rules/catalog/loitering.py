"""loitering: a slow surface track far from shore for a long time (Global Fishing Watch loitering events)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from fusion.core.arrays import BoolArray
from fusion.rules.behaviours import ramp, track_candidates
from fusion.rules.catalog.base import Rule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates
from fusion.rules.params import KNOT_MPS, NM_M, NonNeg, Pos, RuleParams, ZoneKind
from fusion.rules.scene import Scene


class LoiteringParams(RuleParams):
    """loitering: surface track slower than speed_kn, at least shore_distance_nm from shore,
    inside a zone of zone_kinds (empty = anywhere), for min_on_s. Sources of the shipped values (GFW
    loitering events): fusion/rules/defaults/rules.toml and docs/RULES.md."""

    speed_kn: Pos
    clear_speed_kn: Pos
    shore_distance_nm: NonNeg
    zone_kinds: list[ZoneKind]

    def __post_init__(self) -> None:
        if self.clear_speed_kn < self.speed_kn:
            raise ValueError(f"clear_speed_kn ({self.clear_speed_kn}) must be >= speed_kn ({self.speed_kn})")


def loitering(s: Scene, r: LoiteringParams) -> Candidates:
    """Slow surface track far from shore (inside the configured zone kinds)."""
    far = s.shore_m >= r.shore_distance_nm * NM_M
    base = s.eligible & ~s.is_air
    if r.zone_kinds:
        base &= s.in_zones(s.geometry.select(r.zone_kinds))
    enter = base & far & (s.speed_mps < r.speed_kn * KNOT_MPS)
    stay = base & (s.shore_m >= 0.8 * r.shore_distance_nm * NM_M) & (s.speed_mps < r.clear_speed_kn * KNOT_MPS)
    return track_candidates(r, enter, stay, 1.0 - ramp(s.speed_mps, 0.0, r.clear_speed_kn * KNOT_MPS) * 0.5,
                            {"speed_kn": s.speed_mps / KNOT_MPS, "shore_distance_nm": s.shore_m / NM_M})


class Loitering(Rule[LoiteringParams]):
    """The loitering rule (stateless)."""

    name = "loitering"
    Params = LoiteringParams

    def queries(self) -> list[tuple[bool, float, BoolArray]]:
        """Membership of the zone_kinds."""
        return [(self.params.enabled, 0.0, self.geometry.select(self.params.zone_kinds))]

    def prefer(self) -> BoolArray:
        """The zone of zone_kinds the track loiters in."""
        return self.geometry.select(self.params.zone_kinds)

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``loitering``."""
        return loitering(s, self.params)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Speed, distance from shore and time."""
        return (f"loitering at {fmt(ev.get('speed_kn', math.nan), ' kn', 1)}, {fmt(ev['shore_distance_nm'], ' nm')} from shore, "
                f"for {fmt(ev['condition_s'] / 60.0, ' min')}")
