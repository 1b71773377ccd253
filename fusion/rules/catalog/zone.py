"""zone_entry and zone_dwell: a track inside a selected zone (by kind or name), with per kind / per zone
severity, weight and dwell time. Raised inside (edge inside), held within exit_margin_m (hysteresis in space)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fusion.core.arrays import BoolArray, FloatArray, IntArray
from fusion.rules.catalog.base import Rule, TickInputs, fmt
from fusion.rules.lifecycle import SEVERITIES, Candidates, isin_sorted
from fusion.rules.params import KNOT_MPS, NonNeg, ZoneRuleParams
from fusion.rules.scene import Scene, ZoneGeometry


class ZoneEntryParams(ZoneRuleParams):
    """zone_entry: raised when a track enters a selected zone, cleared when it leaves (both with course)."""


class ZoneDwellParams(ZoneRuleParams):
    """zone_dwell: raised when a track has been inside a selected zone for dwell_s."""

    dwell_s: NonNeg


@dataclass(frozen=True)
class ZoneParams:
    """Per zone (Z,) parameters of a zone rule after by_kind then by_zone overrides."""

    selected: BoolArray
    severity: IntArray
    weight: FloatArray
    dwell_s: FloatArray

    @classmethod
    def of(cls, s_names: list[str], kinds: list[str], r: ZoneRuleParams, selected: BoolArray) -> ZoneParams:
        """Resolve overrides for every zone (by_zone wins over by_kind wins over the rule)."""
        base_dwell = getattr(r, "dwell_s", r.min_on_s)
        sev, wgt, dwell = [], [], []
        for name, kind in zip(s_names, kinds, strict=True):
            layers = [o for o in (r.by_kind.get(kind), r.by_zone.get(name)) if o is not None]  # type: ignore[call-overload]  # kind: a validated ZoneKind str
            pick = {"severity": r.severity, "weight": r.weight, "dwell_s": base_dwell}
            for o in layers:
                pick.update({k: getattr(o, k) for k in pick if getattr(o, k) is not None})
            sev.append(SEVERITIES.index(str(pick["severity"])))
            wgt.append(float(pick["weight"]))
            dwell.append(float(pick["dwell_s"]))
        return cls(selected, np.array(sev, np.int64), np.array(wgt), np.array(dwell))


def zone_subjects(s: Scene, r: ZoneRuleParams, zp: ZoneParams, dwell: bool) -> Candidates:
    """Track-in-zone subjects: inside (edge inside) raises, within exit_margin_m holds."""
    z_count = len(zp.selected)
    row_in, zone_in = s.inside(zp.selected)
    keep = s.eligible[row_in]
    in_keys = row_in[keep] * z_count + zone_in[keep]
    if r.exit_margin_m > 0:
        row_near, zone_near = s.near_zones(zp.selected, r.exit_margin_m, np.flatnonzero(s.eligible))
        keys = np.union1d(in_keys, row_near * z_count + zone_near)
    else:
        keys = np.unique(in_keys)
    rows, zones = keys // max(z_count, 1), keys % max(z_count, 1)
    enter = isin_sorted(keys, np.sort(in_keys))
    return Candidates.build(rows, enter, np.ones(len(keys), dtype=bool), np.ones(len(keys)),
                            min_on_s=zp.dwell_s[zones] if dwell else r.min_on_s, severity=zp.severity[zones],
                            weight=zp.weight[zones], aux=zones + 1, zone=zones,
                            evidence={"speed_kn": s.speed_mps[rows] / KNOT_MPS, "course_deg": s.course_deg[rows]})


class _ZoneRule(Rule[ZoneRuleParams]):
    """A track in a selected zone; the subject is the (track, zone) pair."""

    dwell: bool

    def configure(self, params: ZoneRuleParams, geometry: ZoneGeometry) -> None:
        """Resolve the per zone overrides over the zones."""
        super().configure(params, geometry)
        zones = geometry.zones
        self.zone_params = ZoneParams.of(zones.names, list(zones.kinds), params, geometry.select(params.kinds, params.zones))

    def queries(self) -> list[tuple[bool, float, BoolArray]]:
        """Membership and the exit margin of the selected zones."""
        on, sel = self.params.enabled, self.zone_params.selected
        return [(on, 0.0, sel), (on, self.params.exit_margin_m, sel)]

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """Track-in-zone subjects (``zone_subjects``)."""
        return zone_subjects(s, self.params, self.zone_params, dwell=self.dwell)


class ZoneEntry(_ZoneRule):
    """Entering a selected zone (an event: raised on the first tick inside, cleared on leaving with the course)."""

    name = "zone_entry"
    Params = ZoneEntryParams
    dwell = False

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Zone, course and speed at entry."""
        return f"entered zone {zone} on course {fmt(ev['course_deg'], ' deg')} at {fmt(ev.get('speed_kn', np.nan), ' kn', 1)}"

    def cleared_reason(self, ev: Mapping[str, float], zone: str | None, because: str) -> str | None:
        """Leaving the zone, with the course, when the track is still live."""
        if "course_deg" in ev and because == "condition ended":
            return f"left zone {zone} on course {fmt(ev['course_deg'], ' deg')}"
        return None


class ZoneDwell(_ZoneRule):
    """Staying in a selected zone for its dwell_s (per kind / zone)."""

    name = "zone_dwell"
    Params = ZoneDwellParams
    dwell = True

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Zone and time inside."""
        return f"inside zone {zone} for {fmt(ev['condition_s'] / 60.0, ' min')}"
