"""The rules file: which rules run, with which thresholds, per zone kind or zone.

A rules file is TOML (see docs/RULES.md). It is layered over the built-in defaults in
``fusion/rules/defaults/rules.toml`` (which documents where each default comes from):
a user file names only what it changes. Every field name carries its unit (``_kn``,
``_s``, ``_m``, ``_nm``, ``_deg``, ``_mps``); a field with the wrong name, type or range is
refused with an error naming the file, the rule and the field.

The ``[rules.*]`` sections are those of a rule catalog (``fusion.rules.catalog``): ``rules_schema`` builds the
file's type from it, one section per rule typed by the rule's ``Params``; ``RulesConfig`` is the built-in
catalog's. A rule missing from the defaults file takes its ``Params`` defaults.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import msgspec

from fusion.rules.catalog import CATALOG
from fusion.rules.catalog.base import Rule
from fusion.rules.params import KNOT_MPS, NM_M, Cfg, Circle, Coverage, EngineSettings, RuleParams

DEFAULT_RULES_PATH = Path(__file__).parent / "defaults" / "rules.toml"
__all__ = ["DEFAULT_RULES_PATH", "KNOT_MPS", "NM_M", "RULE_NAMES", "Coverage", "RuleTable", "RulesConfig",
           "RulesFileError", "ais_coverage", "default_rules", "load_rules", "rules_from_dict", "rules_schema",
           "with_ais_coverage"]


class RulesFileError(ValueError):
    """A rules file was refused; the message names the file, the rule and the field."""

    def __init__(self, source: str, rule: str, field: str, reason: str) -> None:
        self.source, self.rule, self.field, self.reason = source, rule, field, reason
        where = f"[{rule}]" if rule in ("engine", "version", "(file)") else f"rule {rule}"
        super().__init__(f"{source}: {where}: field {field}: {reason}")


class RuleTable(Cfg):
    """The rule table: one section per rule of the catalog, named as the rule (the name in alerts and topics)."""

    def params(self, name: str) -> RuleParams:
        """The section of rule ``name``."""
        section: RuleParams = getattr(self, name)
        return section


class RulesConfigBase(Cfg):
    """A whole, validated rules file (its rule table typed by ``rules_schema``); ``catalog``: its rules."""

    catalog: ClassVar[tuple[type[Rule[Any]], ...]] = ()
    version: Literal[1]
    engine: EngineSettings
    rules: RuleTable

    def enabled(self) -> list[str]:
        """Names of enabled rules in table order."""
        return [name for name in self.rules.__struct_fields__ if self.rules.params(name).enabled]


def rules_schema(catalog: Sequence[type[Rule[Any]]]) -> type[RulesConfigBase]:
    """The rules file type of ``catalog``: a ``[rules.NAME]`` section of type ``Params`` per rule, in catalog order."""
    names = [c.name for c in catalog]
    if len(set(names)) != len(names):
        raise ValueError(f"rule names must be unique, got {names}")
    table = msgspec.defstruct("Rules", [(c.name, c.Params) for c in catalog], bases=(RuleTable,), module=__name__)
    return cast(type[RulesConfigBase], msgspec.defstruct("RulesConfig", [("rules", table)], bases=(RulesConfigBase,),
                                                         module=__name__, namespace={"catalog": tuple(catalog)}))


if TYPE_CHECKING:
    RulesConfig = RulesConfigBase
else:
    RulesConfig = rules_schema(CATALOG)  # the built-in catalog's rules file

RULE_NAMES: tuple[str, ...] = tuple(c.name for c in CATALOG)
_PATH = re.compile(r"^(?P<msg>.*) - at (?P<key>`key` in )?`\$(?P<path>[^`]*)`$", re.DOTALL)
_UNKNOWN = re.compile(r"unknown field `(?P<name>[^`]+)`")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _error(source: str, exc: msgspec.ValidationError, schema: type[RulesConfigBase]) -> RulesFileError:
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
        sections = {c.name: c.Params for c in schema.catalog}
        if unknown and len(parts) == 2:
            return RulesFileError(source, rule, "(rule name)", f"unknown rule; expected one of {', '.join(sections)}")
        field = ".".join(parts[2:]) or msg.split(" ", 1)[0]
        if unknown:
            known = getattr(sections.get(rule), "__struct_fields__", ())
            msg += f"; known fields: {', '.join(known)}" if known else ""
        return RulesFileError(source, rule, field, msg)
    return RulesFileError(source, parts[0] if parts else "(file)", ".".join(parts[1:]) or "(table)", msg)


def rules_from_dict(data: dict[str, Any], source: str, schema: type[RulesConfigBase] = RulesConfig) -> RulesConfig:
    """Validate a rules mapping layered over the defaults; errors name ``source``. ``schema``: the rules file type
    of a rule catalog (``rules_schema``; default: the built-in catalog)."""
    try:
        return msgspec.convert(_merge(_default_dict(schema), data), schema)
    except msgspec.ValidationError as exc:
        raise _error(source, exc, schema) from None


def _default_dict(schema: type[RulesConfigBase]) -> dict[str, Any]:
    """The defaults file, with an empty section (its ``Params`` defaults) for each rule of the catalog it lacks."""
    return _merge({"rules": {c.name: {} for c in schema.catalog}}, tomllib.loads(DEFAULT_RULES_PATH.read_text()))


def load_rules(path: Path | str, schema: type[RulesConfigBase] = RulesConfig) -> RulesConfig:
    """Read and validate a TOML rules file (layered over the built-in defaults); ``schema`` as ``rules_from_dict``."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except OSError as exc:
        raise RulesFileError(str(p), "(file)", "(file)", f"cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesFileError(str(p), "(file)", "(syntax)", f"invalid TOML: {exc}") from exc
    return rules_from_dict(data, str(p), schema)


def default_rules(schema: type[RulesConfigBase] = RulesConfig) -> RulesConfig:
    """The built-in rules (fusion/rules/defaults/rules.toml); ``schema`` as ``rules_from_dict``."""
    try:
        return msgspec.convert(_default_dict(schema), schema)
    except msgspec.ValidationError as exc:
        raise _error(str(DEFAULT_RULES_PATH), exc, schema) from None


def ais_coverage(terrestrial: Sequence[tuple[float, float, float] | tuple[float, float, float, float | None, float]],
                 satellites: Sequence[tuple[float, float, float, float]], report_age_limit_s: float) -> Coverage:
    """AIS coverage of a sensor set: one circle per terrestrial receiver (lat, lon, range_m[, range_class_b_m or None,
    fade_m]: its reception by range, ``Circle``); satellite
    receivers (revisit_s, pass_s, latency_min_s, latency_max_s) count only if every report arrives
    within ``report_age_limit_s`` (older ones are dropped before they reach a track), and then a
    vessel is heard within revisit + pass + latency_max (the shortest such time over satellites)."""
    usable = [rev + pas + lat_max for rev, pas, _, lat_max in satellites if lat_max <= report_age_limit_s]
    return Coverage(everywhere=False, zones=[], kinds=[], circles=[_circle(*rx) for rx in terrestrial],
                    satellite_dark_s=min(usable) if usable else 0.0)


def _circle(lat: float, lon: float, range_m: float, range_class_b_m: float | None = None, fade_m: float = 0.0) -> Circle:
    """One terrestrial receiver's ``Circle``."""
    return Circle(lat=lat, lon=lon, radius_m=range_m, radius_class_b_m=range_class_b_m, fade_m=fade_m)


def with_ais_coverage(rules: RulesConfig, coverage: Coverage) -> RulesConfig:
    """``rules`` with [engine] ais_coverage replaced."""
    return msgspec.structs.replace(rules, engine=msgspec.structs.replace(rules.engine, ais_coverage=coverage))
