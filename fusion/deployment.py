"""Deployment files: where a service runs (area, zones, AIS receivers, rules, tracker), apart from scenarios.

A scenario describes a simulated world; a deployment describes a real watch floor. ``jisf
run``, ``jisf replay`` and ``jisf evaluate`` take one with ``--deployment FILE`` (env
``JISF_DEPLOYMENT``). Every field is documented in docs/DEPLOYMENT.md; the shipped example
is deploy/deployment.example.toml. The TOML is validated with msgspec; a bad file raises
``DeploymentError`` naming the file, the field and the value.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from fusion.core.config import PoolConfig, TrackerConfig
from fusion.pipeline import FusionConfig
from fusion.rules.config import (
    RulesConfig,
    RulesFileError,
    ais_coverage,
    rules_from_dict,
    with_ais_coverage,
)
from sim_feeds.scenario import (
    Area,
    ScenarioError,
    ZoneSpec,
    _from_validation,
    _zone_features,
)

FORMAT_VERSION = 1
ENV_VAR = "JISF_DEPLOYMENT"
TRACKER_PRESETS = ("live", "thinned_ais")


class DeploymentError(ValueError):
    """A refused deployment file: ``"{source}: {field} = {value!r}: {reason}"``."""

    def __init__(self, source: str, field: str, value: object, reason: str) -> None:
        self.source, self.field, self.value, self.reason = source, field, value, reason
        super().__init__(f"{source}: {field} = {value!r}: {reason}")


class _Rec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Strict, immutable deployment record."""


class AisReceiver(_Rec, frozen=True):
    """A terrestrial AIS receiver: where vessels are heard (the rules' AIS coverage)."""

    id: str
    lat: Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
    lon: Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
    range_m: Annotated[float, msgspec.Meta(gt=0.0)] = 74_000.0


class RulesSpec(_Rec, frozen=True):
    """Rules: a rules TOML file (relative to the deployment file) and/or overrides in the same shape."""

    file: str | None = None
    overrides: dict[str, Any] = {}


class TrackerSpec(_Rec, frozen=True):
    """Tracker settings: a preset, then TrackerConfig fields; ``surface``/``air`` hold PoolConfig fields."""

    preset: Literal["live", "thinned_ais"] = "live"
    settings: dict[str, Any] = {}  # the table's other keys (filled by ``_split_tracker``)


class DeploymentFile(_Rec, frozen=True):
    """The file as written."""

    format_version: int
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    description: str = ""
    area: Area | None = None
    zones: list[ZoneSpec] = []
    ais_receivers: list[AisReceiver] = []
    rules: RulesSpec = RulesSpec()
    tracker: TrackerSpec = TrackerSpec()


@dataclass(frozen=True)
class Deployment:
    """A loaded deployment: what building a ``Fusion`` needs (``area`` None: take it from the data)."""

    name: str
    area: Area | None
    zones_geojson: dict[str, Any]
    rules: RulesConfig
    fusion_config: FusionConfig
    path: Path | None = None


def load_deployment(path: Path | str) -> Deployment:
    """Read and validate a deployment file; DeploymentError naming the field otherwise."""
    path = Path(path)
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise DeploymentError(source, "(file)", str(path), f"cannot be read: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise DeploymentError(source, "(file)", str(path), f"not valid TOML: {err}") from None
    return deployment_from_dict(raw, source=source, base_dir=path.parent, path=path)


def deployment_from_dict(raw: dict[str, Any], *, source: str = "<deployment>", base_dir: Path = Path(),
                         path: Path | None = None) -> Deployment:
    """Validate an already parsed deployment document (the TOML as a dict)."""
    if raw.get("format_version") != FORMAT_VERSION:
        raise DeploymentError(source, "format_version", raw.get("format_version"), f"must be {FORMAT_VERSION}")
    tracker_raw = dict(raw.get("tracker") or {}) if isinstance(raw.get("tracker"), dict) else raw.get("tracker")
    doc = dict(raw)
    if isinstance(tracker_raw, dict):
        doc["tracker"] = {"settings": {k: v for k, v in tracker_raw.items() if k != "preset"},
                          **({"preset": tracker_raw["preset"]} if "preset" in tracker_raw else {})}
    try:
        spec = msgspec.convert(doc, DeploymentFile)
        a = spec.area
        if a is not None and (a.lat_min >= a.lat_max or a.lon_min >= a.lon_max):
            field = "area.lat_max" if a.lat_min >= a.lat_max else "area.lon_max"
            raise ScenarioError(source, field, getattr(a, field.split(".")[1]), "must be greater than the minimum")
        zones = {"type": "FeatureCollection", "features": _zone_features(source, base_dir, spec.zones)}
    except msgspec.ValidationError as err:
        e = _from_validation(source, doc, err)
        raise DeploymentError(source, e.field.replace("tracker.settings.", "tracker."), e.value, e.reason) from None
    except ScenarioError as err:
        raise DeploymentError(source, err.field, err.value, err.reason) from None
    tracker = _tracker(source, spec.tracker)
    try:
        fusion_config = FusionConfig(tracker=tracker)
    except ValueError as err:
        raise DeploymentError(source, "tracker.oosm_lag_s", tracker.oosm_lag_s, str(err)) from None
    return Deployment(spec.name, spec.area, zones, _rules(source, base_dir, spec, tracker), fusion_config, path)


def _rules(source: str, base_dir: Path, spec: DeploymentFile, tracker: TrackerConfig) -> RulesConfig:
    """The rules file (or defaults) with the overrides over it, and the receivers' AIS coverage."""
    data: dict[str, Any] = {}
    where = "rules.overrides"
    if spec.rules.file is not None:
        where = "rules.file"
        try:
            data = tomllib.loads((base_dir / spec.rules.file).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise DeploymentError(source, "rules.file", spec.rules.file, f"cannot be read as TOML: {err}") from None
    try:
        rules = rules_from_dict(_merge(data, spec.rules.overrides), f"{source} [{where}]")
    except RulesFileError as err:
        raise DeploymentError(source, f"{where} [{err.rule}] {err.field}", spec.rules.file or spec.rules.overrides,
                              err.reason) from None
    if spec.ais_receivers:
        terrestrial = [(r.lat, r.lon, r.range_m) for r in spec.ais_receivers]
        rules = with_ais_coverage(rules, ais_coverage(terrestrial, [], tracker.oosm_lag_s))
    return rules


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` layered on ``base``, tables merged key by key."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _tracker(source: str, spec: TrackerSpec) -> TrackerConfig:
    """The preset's TrackerConfig with the file's fields over it (pools field by field)."""
    if spec.preset == "thinned_ais":
        from fusion.realdata_import import THINNED_AIS_CONFIG

        base = THINNED_AIS_CONFIG.tracker
    else:
        base = TrackerConfig()
    changes: dict[str, Any] = {}
    for key, value in spec.settings.items():
        if key in ("surface", "air"):
            pool_base = getattr(base, key)
            changes[key] = _fields(source, f"tracker.{key}", PoolConfig, pool_base, value)
        else:
            changes[key] = value
    return _fields(source, "tracker", TrackerConfig, base, {k: v for k, v in changes.items() if k not in ("surface", "air")},
                   pools={k: v for k, v in changes.items() if k in ("surface", "air")})


_T = typing.TypeVar("_T", TrackerConfig, PoolConfig)


def _fields(source: str, where: str, cls: type[_T], base: _T, values: object, pools: dict[str, PoolConfig] | None = None) -> _T:
    """``base`` with ``values`` (a table of ``cls`` fields, each checked against its type) replaced."""
    if not isinstance(values, dict):
        raise DeploymentError(source, where, values, "must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)} - {"surface", "air"}
    typed: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise DeploymentError(source, f"{where}.{key}", value, f"is not a known field (known: {', '.join(sorted(known))})")
        try:
            typed[key] = msgspec.convert(value, hints[key])
        except msgspec.ValidationError as err:
            raise DeploymentError(source, f"{where}.{key}", value, str(err)) from None
    try:
        return dataclasses.replace(base, **{**typed, **(pools or {})})
    except ValueError as err:
        raise DeploymentError(source, where, values, str(err)) from None


def deployment_path(given: str | None, env: dict[str, str] | None = None) -> Path | None:
    """The deployment file from a flag, else ``JISF_DEPLOYMENT``, else None."""
    import os

    text = given or (env if env is not None else os.environ).get(ENV_VAR)
    return Path(text) if text else None
