"""Parameter types shared by the rules file and the rule modules: units, the strict config record, the fields
every rule has, zone-rule fields, and the engine settings (AIS coverage, handover, settling).

Each rule's own section is declared in its module under ``fusion/rules/catalog/``; ``fusion.rules.config`` assembles
the rules file from those sections. The shipped values and their sources are in ``fusion/rules/defaults/rules.toml``.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import msgspec

from fusion.rules.zones import ZONE_KINDS

KNOT_MPS = 1852.0 / 3600.0
NM_M = 1852.0

Severity = Literal["low", "medium", "high"]
ZoneKind = Literal[
    "territorial_sea", "eez", "transit_corridor", "landing_zone", "airstrip", "port", "anchorage", "exclusion"
]
StatusName = Literal["tentative", "confirmed", "coasting"]
NonNeg = Annotated[float, msgspec.Meta(ge=0.0)]
Pos = Annotated[float, msgspec.Meta(gt=0.0)]
Weight = Annotated[float, msgspec.Meta(ge=0.0, le=10.0)]

if set(get_args(ZoneKind)) != set(ZONE_KINDS):
    raise ImportError("fusion.rules.params.ZoneKind and fusion.rules.zones.ZONE_KINDS disagree")


class Cfg(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Strict, immutable config record."""


class ZoneOverride(Cfg):
    """Per zone kind or per zone settings of a zone rule (unset = the rule's own)."""

    severity: Severity | None = None
    weight: Weight | None = None
    dwell_s: NonNeg | None = None


class RuleParams(Cfg):
    """Fields every rule has. ``min_on_s``: the condition must hold this long before raising;
    ``min_off_s``: it must be gone this long before clearing (hysteresis in time)."""

    enabled: bool
    severity: Severity
    weight: Weight
    min_on_s: NonNeg
    min_off_s: NonNeg


class ExcludingParams(RuleParams):
    """A rule that does not apply within exclude_margin_m of zones of exclude_kinds (ports, anchorages, declared
    fishing grounds)."""

    exclude_kinds: list[ZoneKind]
    exclude_margin_m: NonNeg


class ZoneRuleParams(RuleParams):
    """A rule about being inside zones: selected by kind or by name, overridable per kind or zone.

    exit_margin_m: a track counts as still inside until it is this far outside (hysteresis in space).
    """

    kinds: list[ZoneKind]
    zones: list[str]
    exit_margin_m: NonNeg
    by_kind: dict[ZoneKind, ZoneOverride]
    by_zone: dict[str, ZoneOverride]


class Circle(Cfg):
    """A terrestrial AIS receiver's range circle (lat, lon in degrees, radius in metres: class A's range) and its
    reception by range (docs/RULES.md, "Reception by range"): class B's shorter range ``radius_class_b_m`` (None: the
    same) and the band ``fade_m`` over which reception falls linearly from 1 to 0 at each range (0: a plain circle)."""

    def __post_init__(self) -> None:
        reach = min(self.radius_m, self.radius_class_b_m or self.radius_m)
        if self.fade_m > reach:
            raise ValueError(f"fade_m ({self.fade_m}) must be <= the shortest range ({reach})")

    lat: Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
    lon: Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
    radius_m: Pos
    radius_class_b_m: Pos | None = None
    fade_m: NonNeg = 0.0


class Coverage(Cfg):
    """Where AIS reports reach the tracks (docs/RULES.md, "AIS coverage").

    ``everywhere``, named ``zones`` / ``kinds`` and receiver ``circles`` are continuous
    (terrestrial) reception; ``satellite_dark_s`` > 0 says that elsewhere satellite AIS, with
    its revisit gaps and delivery latency, identifies an AIS-carrying vessel within that time
    (0 = no satellite AIS reaches the tracks).
    """

    everywhere: bool
    zones: list[str]
    kinds: list[ZoneKind]
    circles: list[Circle]
    satellite_dark_s: NonNeg


class EngineSettings(Cfg):
    """Settings of the alert lifecycle and priority shared by all rules."""

    statuses: list[StatusName]
    update_min_interval_s: NonNeg
    strength_change: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)]
    urgency_horizon_s: Pos
    coast: Literal["gshhg", "none"]
    coast_cell_m: Annotated[float, msgspec.Meta(ge=250.0, le=50_000.0)]
    ais_coverage: Coverage
    handover_s: NonNeg
    handover_m: NonNeg
    settle_s: NonNeg
