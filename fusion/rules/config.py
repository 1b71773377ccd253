"""The rules file: which rules run, with which thresholds, per zone kind or zone.

A rules file is TOML (see docs/RULES.md). It is layered over the built-in defaults in
``fusion/rules/defaults/rules.toml`` (which documents where each default comes from):
a user file names only what it changes. Every field name carries its unit (``_kn``,
``_s``, ``_m``, ``_nm``, ``_deg``, ``_mps``); a field with the wrong name, type or range is
refused with an error naming the file, the rule and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_type_hints

import msgspec

from fusion.rules.zones import ZONE_KINDS

DEFAULT_RULES_PATH = Path(__file__).parent / "defaults" / "rules.toml"
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
    raise ImportError("fusion.rules.config.ZoneKind and fusion.rules.zones.ZONE_KINDS disagree")


class RulesFileError(ValueError):
    """A rules file was refused; the message names the file, the rule and the field."""

    def __init__(self, source: str, rule: str, field: str, reason: str) -> None:
        self.source, self.rule, self.field, self.reason = source, rule, field, reason
        where = f"[{rule}]" if rule in ("engine", "version", "(file)") else f"rule {rule}"
        super().__init__(f"{source}: {where}: field {field}: {reason}")


class _Cfg(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Strict, immutable config record."""


class ZoneOverride(_Cfg):
    """Per zone kind or per zone settings of a zone rule (unset = the rule's own)."""

    severity: Severity | None = None
    weight: Weight | None = None
    dwell_s: NonNeg | None = None


class Rule(_Cfg):
    """Fields every rule has. ``min_on_s``: the condition must hold this long before raising;
    ``min_off_s``: it must be gone this long before clearing (hysteresis in time)."""

    enabled: bool
    severity: Severity
    weight: Weight
    min_on_s: NonNeg
    min_off_s: NonNeg


class ZoneRule(Rule):
    """A rule about being inside zones: selected by kind or by name, overridable per kind or zone.

    exit_margin_m: a track counts as still inside until it is this far outside (hysteresis in space).
    """

    kinds: list[ZoneKind]
    zones: list[str]
    exit_margin_m: NonNeg
    by_kind: dict[ZoneKind, ZoneOverride]
    by_zone: dict[str, ZoneOverride]


class ZoneEntryRule(ZoneRule):
    """zone_entry: raised when a track enters a selected zone, cleared when it leaves (both with course)."""


class ZoneDwellRule(ZoneRule):
    """zone_dwell: raised when a track has been inside a selected zone for dwell_s."""

    dwell_s: NonNeg


class GoFastRule(Rule):
    """go_fast: surface track faster than speed_kn with no (fresh) AIS identity, or fast in a
    transit corridor at night. Cleared below clear_speed_kn. min_on_s counts across a chain of
    fragments: a young track starting near where a fast track was lost (handover_s, handover_m)."""

    speed_kn: Pos
    clear_speed_kn: Pos
    ais_stale_s: Pos
    night_corridor: bool
    corridor_kinds: list[ZoneKind]
    night_sun_elevation_deg: Annotated[float, msgspec.Meta(ge=-18.0, le=0.0)]
    zone_kinds: list[ZoneKind]
    handover_s: NonNeg
    handover_m: NonNeg

    def __post_init__(self) -> None:
        if self.clear_speed_kn > self.speed_kn:
            raise ValueError(f"clear_speed_kn ({self.clear_speed_kn}) must be <= speed_kn ({self.speed_kn})")


class Circle(_Cfg):
    """A receiver range circle (lat, lon in degrees, radius in metres)."""

    lat: Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
    lon: Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
    radius_m: Pos


class Coverage(_Cfg):
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


class DarkVesselRule(Rule):
    """dark_vessel: confirmed surface track that never had an AIS identity although it spent dark_s
    inside AIS coverage held by radar (updated within radar_fresh_s), or satellite_dark_s anywhere;
    at displacement-hull speeds (min_speed_kn to max_speed_kn)."""

    def __post_init__(self) -> None:
        if self.max_speed_kn <= self.min_speed_kn:
            raise ValueError(f"max_speed_kn ({self.max_speed_kn}) must be > min_speed_kn ({self.min_speed_kn})")

    dark_s: NonNeg
    radar_fresh_s: Pos
    min_speed_kn: NonNeg
    max_speed_kn: Pos
    min_net_speed_kn: NonNeg
    exclude_kinds: list[ZoneKind]
    exclude_margin_m: NonNeg


class NoncoopTransitRule(Rule):
    """noncoop_transit: surface track that never had an AIS identity, outside continuous AIS coverage
    (where silence is no evidence), held by radar (updated within radar_fresh_s) and transiting at the
    speeds of low-profile vessels and logistics ships: net speed since the engine first saw it (at least
    net_window_s ago) between min_net_speed_kn and max_net_speed_kn, current speed between min_speed_kn
    and max_speed_kn, for min_on_s; farther than exclude_margin_m from zones of exclude_kinds."""

    radar_fresh_s: Pos
    net_window_s: NonNeg
    min_net_speed_kn: NonNeg
    max_net_speed_kn: Pos
    min_speed_kn: NonNeg
    max_speed_kn: Pos
    exclude_kinds: list[ZoneKind]
    exclude_margin_m: NonNeg

    def __post_init__(self) -> None:
        if self.max_net_speed_kn <= self.min_net_speed_kn:
            raise ValueError(f"max_net_speed_kn ({self.max_net_speed_kn}) must be > min_net_speed_kn ({self.min_net_speed_kn})")
        if self.max_speed_kn <= self.min_speed_kn:
            raise ValueError(f"max_speed_kn ({self.max_speed_kn}) must be > min_speed_kn ({self.min_speed_kn})")


class AisGapRule(Rule):
    """ais_gap: identified vessel silent on AIS inside AIS coverage (satellite_dark_s outside it) while
    radar/OTH updated it within radar_fresh_s, for longer than its missed-report limit: k expected reports
    (ITU-R M.1371 interval of its class and speed) all lost, where (1 - p_rx)^k is below the chance a
    transmitting vessel is allowed per report (``false_gaps_per_vessel_day`` spread over its reports of a
    day), p_rx its observed reception (blended with ``p_rx_default`` over ``prior_gaps``), and at least
    ``min_gap_s``; or AIS reappearing after such a gap farther than its last speed allows (jump)."""

    false_gaps_per_vessel_day: Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)]
    p_rx_default: Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)]
    prior_gaps: NonNeg
    min_gap_s: NonNeg
    radar_fresh_s: Pos
    jump_speed_factor: Annotated[float, msgspec.Meta(ge=1.0)]
    jump_slack_m: NonNeg
    jump_min_speed_kn: NonNeg
    event_hold_s: Pos


class SpoofRule(Rule):
    """ais_spoofing: the tracker marked the track spoof_suspect (a cooperative report with its identity was
    kinematically impossible against it) while radar/OTH held it (updated within radar_fresh_s): the AIS
    position disagrees with the radar track bearing the same identity. Holds while no consistent AIS report
    has updated the track since the flag appeared, or for event_hold_s after it appeared."""

    radar_fresh_s: Pos
    event_hold_s: Pos


class RendezvousRule(Rule):
    """rendezvous: two surface tracks within distance_m, both slower than speed_kn, for min_on_s,
    away (exclude_margin_m) from port/anchorage zones; positions and speeds smoothed over smoothing_s (0: raw)."""

    distance_m: Pos
    clear_distance_m: Pos
    speed_kn: Pos
    clear_speed_kn: Pos
    exclude_kinds: list[ZoneKind]
    exclude_margin_m: NonNeg
    require_unidentified: bool
    smoothing_s: NonNeg

    def __post_init__(self) -> None:
        if self.clear_distance_m < self.distance_m:
            raise ValueError(f"clear_distance_m ({self.clear_distance_m}) must be >= distance_m ({self.distance_m})")
        if self.clear_speed_kn < self.speed_kn:
            raise ValueError(f"clear_speed_kn ({self.clear_speed_kn}) must be >= speed_kn ({self.speed_kn})")


class LoiteringRule(Rule):
    """loitering: surface track slower than speed_kn, at least shore_distance_nm from shore,
    inside a zone of zone_kinds (empty = anywhere), for min_on_s."""

    speed_kn: Pos
    clear_speed_kn: Pos
    shore_distance_nm: NonNeg
    zone_kinds: list[ZoneKind]

    def __post_init__(self) -> None:
        if self.clear_speed_kn < self.speed_kn:
            raise ValueError(f"clear_speed_kn ({self.clear_speed_kn}) must be >= speed_kn ({self.speed_kn})")


class SuspectAircraftRule(Rule):
    """suspect_aircraft: air track without ICAO identity that is low and slow, or descending
    within airstrip_distance_m of an airstrip zone."""

    max_alt_m: Pos
    max_speed_kn: Pos
    min_speed_kn: NonNeg
    descent_mps: Pos
    airstrip_distance_m: Pos
    airstrip_kinds: list[ZoneKind]
    hysteresis: Annotated[float, msgspec.Meta(ge=1.0, le=2.0)]


class LandingApproachRule(Rule):
    """landing_approach: unidentified track whose time to arrive at a landing zone (surface)
    or airstrip (air) is below the threshold, heading within max_off_course_deg of it; for aircraft the
    time is at least altitude / max_descent_mps."""

    surface_tta_s: Pos
    air_tta_s: Pos
    surface_kinds: list[ZoneKind]
    air_kinds: list[ZoneKind]
    min_speed_kn: Pos
    max_off_course_deg: Annotated[float, msgspec.Meta(gt=0.0, lt=90.0)]
    unidentified_only: bool
    hysteresis: Annotated[float, msgspec.Meta(ge=1.0, le=3.0)]
    max_descent_mps: Pos


class Rules(_Cfg):
    """The rule table; the attribute name is the rule name in alerts and topics."""

    zone_entry: ZoneEntryRule
    zone_dwell: ZoneDwellRule
    go_fast: GoFastRule
    dark_vessel: DarkVesselRule
    noncoop_transit: NoncoopTransitRule
    ais_gap: AisGapRule
    ais_spoofing: SpoofRule
    rendezvous: RendezvousRule
    loitering: LoiteringRule
    suspect_aircraft: SuspectAircraftRule
    landing_approach: LandingApproachRule


class EngineSettings(_Cfg):
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


class RulesConfig(_Cfg):
    """A whole, validated rules file."""

    version: Literal[1]
    engine: EngineSettings
    rules: Rules

    def enabled(self) -> list[str]:
        """Names of enabled rules in table order."""
        return [name for name in self.rules.__struct_fields__ if getattr(self.rules, name).enabled]


RULE_NAMES: tuple[str, ...] = Rules.__struct_fields__
_PATH = re.compile(r"^(?P<msg>.*) - at (?P<key>`key` in )?`\$(?P<path>[^`]*)`$", re.DOTALL)
_UNKNOWN = re.compile(r"unknown field `(?P<name>[^`]+)`")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _error(source: str, exc: msgspec.ValidationError) -> RulesFileError:
    m = _PATH.match(str(exc))
    msg, path = (m.group("msg"), m.group("path")) if m else (str(exc), "")
    if m and m.group("key"):
        msg += " (as a key)"
    parts = [p for p in re.split(r"\.|\[", path) if p]
    unknown = _UNKNOWN.search(msg)
    if unknown:
        parts.append(unknown.group("name"))
    if parts[:1] == ["rules"] and len(parts) >= 2:
        rule = parts[1]
        if unknown and len(parts) == 2:
            return RulesFileError(source, rule, "(rule name)", f"unknown rule; expected one of {', '.join(RULE_NAMES)}")
        field = ".".join(parts[2:]) or msg.split(" ", 1)[0]
        if unknown:
            known = getattr(get_type_hints(Rules).get(rule), "__struct_fields__", ())
            msg += f"; known fields: {', '.join(known)}" if known else ""
        return RulesFileError(source, rule, field, msg)
    return RulesFileError(source, parts[0] if parts else "(file)", ".".join(parts[1:]) or "(table)", msg)


def rules_from_dict(data: dict[str, Any], source: str) -> RulesConfig:
    """Validate a rules mapping layered over the defaults; errors name ``source``."""
    try:
        return msgspec.convert(_merge(_default_dict(), data), RulesConfig)
    except msgspec.ValidationError as exc:
        raise _error(source, exc) from None


def _default_dict() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_RULES_PATH.read_text())


def load_rules(path: Path | str) -> RulesConfig:
    """Read and validate a TOML rules file (layered over the built-in defaults)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except OSError as exc:
        raise RulesFileError(str(p), "(file)", "(file)", f"cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesFileError(str(p), "(file)", "(syntax)", f"invalid TOML: {exc}") from exc
    return rules_from_dict(data, str(p))


def default_rules() -> RulesConfig:
    """The built-in rules (fusion/rules/defaults/rules.toml)."""
    try:
        return msgspec.convert(_default_dict(), RulesConfig)
    except msgspec.ValidationError as exc:
        raise _error(str(DEFAULT_RULES_PATH), exc) from None


def ais_coverage(terrestrial: Sequence[tuple[float, float, float]], satellites: Sequence[tuple[float, float, float, float]],
                 report_age_limit_s: float) -> Coverage:
    """AIS coverage of a sensor set: one circle per terrestrial receiver (lat, lon, range_m); satellite
    receivers (revisit_s, pass_s, latency_min_s, latency_max_s) count only if every report arrives
    within ``report_age_limit_s`` (older ones are dropped before they reach a track), and then a
    vessel is heard within revisit + pass + latency_max (the shortest such time over satellites)."""
    usable = [rev + pas + lat_max for rev, pas, _, lat_max in satellites if lat_max <= report_age_limit_s]
    return Coverage(everywhere=False, zones=[], kinds=[], circles=[Circle(lat=a, lon=b, radius_m=r) for a, b, r in terrestrial],
                    satellite_dark_s=min(usable) if usable else 0.0)


def with_ais_coverage(rules: RulesConfig, coverage: Coverage) -> RulesConfig:
    """``rules`` with [engine] ais_coverage replaced."""
    return msgspec.structs.replace(rules, engine=msgspec.structs.replace(rules.engine, ais_coverage=coverage))
