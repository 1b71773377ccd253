"""The service configuration: one frozen, documented, validated record.

Every option is a field of ``ServiceConfig`` with its default and a one-line doc. It can
be set in three places; the first that sets it wins:

1. a command-line flag ``--option-name`` (``jisf run``);
2. an environment variable ``JISF_OPTION_NAME`` (upper case);
3. the TOML file given by ``--config`` / ``JISF_CONFIG``: flat ``option_name = value``.

A bad value is refused with ``ConfigError`` naming the option, where it came from and the
value. docs/OPERATIONS.md has the same table as ``reference()``, checked by a test.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusion.core.config import TrackerConfig
from fusion.intake import BUDGETED_KINDS, RADAR_PLOTS_PER_SCAN, Rate, SourceBudgets
from fusion.mqtt import BrokerAddress
from sensors.limits import DecodeLimits

ENV_PREFIX = "JISF_"
DECODE_LIMITS = tuple(f.name for f in dataclasses.fields(DecodeLimits))  # options that are DecodeLimits fields
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
CLOCKS = ("wall", "sim")
MQTT_IO = ("process", "inline")
BUDGET_OPTIONS = ("budget_burst_s", "budget_radar_plots_per_scan", *(f"budget_{k}_{u}_s" for k in BUDGETED_KINDS for u in ("msg", "meas")))


class ConfigError(ValueError):
    """A refused option: ``"{source}: {option} = {value!r}: {reason}"``."""

    def __init__(self, source: str, option: str, value: object, reason: str) -> None:
        self.source, self.option, self.value, self.reason = source, option, value, reason
        super().__init__(f"{source}: {option} = {value!r}: {reason}")


def _opt(default: Any, doc: str) -> Any:  # noqa: ANN401 - the field's own type
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """Everything ``jisf run`` can be told. Field docs are the configuration reference."""

    broker: str = _opt("mqtt://127.0.0.1:1883", "broker URL, mqtt://host:port or mqtts://host:port (TLS)")
    username: str | None = _opt(None, "broker user name")
    password: str | None = _opt(None, "broker password (prefer password_file)")
    password_file: str | None = _opt(None, "file whose first line is the broker password")
    ca_file: str | None = _opt(None, "CA bundle that signed the broker certificate (mqtts); system store when unset")
    cert_file: str | None = _opt(None, "client certificate for mutual TLS")
    key_file: str | None = _opt(None, "private key of cert_file")
    client_id: str = _opt("jisf-fusion", "MQTT client id of the service")
    mqtt_io: str = _opt("process", "process: the MQTT connection runs in a child process, beside fusion (a second core); inline: in the service's own event loop")
    deployment: str | None = _opt(None, "deployment file: area, zones, AIS receivers, rules, tracker settings (docs/DEPLOYMENT.md); replaces scenario")
    scenario: str | None = _opt(None, "scenario file giving the area and zones (default: the shipped default scenario)")
    zones: str | None = _opt(None, "zones GeoJSON file (default: the scenario's zones)")
    rules: str | None = _opt(None, "rules TOML file (default: built-in rules)")
    clock: str = _opt("wall", "wall: real time; sim: follow the clock `jisf sim` publishes on jisf/v1/sim/clock")
    output_interval_s: float = _opt(5.0, "seconds between output ticks (tracks, alerts, picture)")
    reorder_window_s: float = _opt(2.0, "how long a measurement batch waits for earlier-timed data, s")
    max_inbound: int = _opt(200_000, "inbound buffer bound, messages; beyond it the oldest message of the source with the most queued is shed")
    fuse_batch: int = _opt(5_000, "inbound messages handed to fusion per step")
    fuse_bytes: int = _opt(2_000_000, "payload bytes handed to fusion per step (at least one message), so a backlog of scans still lets ticks out")
    max_payload_bytes: int = _opt(DecodeLimits.max_payload_bytes, "largest feed payload decoded, bytes; a larger one is rejected whole (docs/FORMATS.md, Limits)")
    max_json_depth: int = _opt(DecodeLimits.max_json_depth, "deepest JSON nesting of a radar, OTH or aircraft.json payload; a deeper one is rejected whole before parsing")
    max_lines_per_payload: int = _opt(DecodeLimits.max_lines_per_payload, "most AIS / SBS-1 lines or aircraft.json entries in one payload; more: rejected whole, as one reject")
    max_plots_per_scan: int = _opt(DecodeLimits.max_plots_per_scan, "most plots in one radar scan; more: the scan is rejected whole")
    budget_burst_s: float = _opt(10.0, "per-source budgets (docs/OPERATIONS.md, Per-source budgets): bucket depth, seconds of a source's rate that may arrive at once")
    budget_radar_msg_s: float = _opt(2.0, "radar scans per second one site may send (antenna rotation: <= 1 scan/s); beyond: shed at that site")
    budget_radar_meas_s: float = _opt(10_000.0, "radar plots per second one site may send (a heavy-clutter plot extractor); beyond: shed at that site")
    budget_radar_plots_per_scan: float = _opt(RADAR_PLOTS_PER_SCAN, "most plots one radar scan may carry (over 1 per cent of a coastal radar's resolution cells: a detector no longer thresholding); more: the scan is shed at that site, whatever its budget")
    budget_ais_msg_s: float = _opt(75.0, "AIS messages per second one source may send (one receiver: 2 x 2,250 SOTDMA slots/min, ITU-R M.1371)")
    budget_ais_meas_s: float = _opt(75.0, "AIS sentences (reports) per second one source may send; raise both for an aggregator of many receivers")
    budget_adsb_msg_s: float = _opt(2_500.0, "ADS-B messages per second one receiver may send")
    budget_adsb_meas_s: float = _opt(2_500.0, "ADS-B SBS-1 lines / aircraft.json entries per second one receiver may send (~500 aircraft x ~4.2 squitters/s, DO-260B)")
    budget_oth_msg_s: float = _opt(5.0, "OTH messages per second one site may send")
    budget_oth_meas_s: float = _opt(10.0, "OTH fixes per second one site may send (a few per second)")
    fair_quantum: int = _opt(10_000, "fair queueing (docs/OPERATIONS.md, Fair queueing): measurements each backlogged source may have fused per step; a source beyond its share waits behind itself")
    max_new_tracks_per_source_s: float = _opt(20.0, "new tentative tracks one radar or OTH site may start per second, sustained (a 100 s deep budget in measurement time: 2,000 tracks at 20/s for a cold start); its other plots wait for the budget to refill")
    shutdown_budget_s: float = _opt(0.25, "on SIGTERM/SIGINT: wall seconds spent fusing what is still queued; the rest is dropped and counted (shutdown_dropped), so that the service stops within ~2 s")
    shutdown_flush_s: float = _opt(1.0, "on SIGTERM/SIGINT: longest wait for the queued outgoing messages, the final status last, to reach the broker (and again for QoS 1 acknowledgements)")
    max_outbox: int = _opt(100_000, "outgoing buffer bound, messages; beyond it pictures and tracks are shed, never alerts")
    catch_up_ticks: int = _opt(10, "when more output ticks than this are due at once (fusion behind its clock), only this many are evaluated, evenly spread, the newest among them, fewer when they cost more than half the worker's time (the skipped ticks' data is still fused; counted in ticks_skipped); 0: evaluate every tick")
    track_interval_s: float = _opt(5.0, "shortest interval (data time, s) between two updates of one track's retained topic (each track's own: this to 1.5 times this, by its id, so that tracks published together spread out); a status change goes out at once")
    picture_interval_s: float = _opt(5.0, "interval (data time, s) between two pictures on jisf/v1/picture")
    checkpoint_path: str | None = _opt(None, "checkpoint file; restored at start-up when it exists (unset: no checkpoints)")
    checkpoint_interval_s: float = _opt(30.0, "wall seconds between checkpoints")
    status_interval_s: float = _opt(5.0, "wall seconds between status messages on jisf/v1/status")
    rejects_interval_s: float = _opt(5.0, "wall seconds between rejects summaries on jisf/v1/rejects/{feed}")
    metrics_host: str = _opt("127.0.0.1", "address the Prometheus endpoint binds")
    metrics_port: int = _opt(0, "port of the Prometheus text endpoint /metrics (0: off)")
    log_format: str = _opt("text", "text or json (one JSON object per line)")
    log_level: str = _opt("info", "debug, info, warning or error")

    def __post_init__(self) -> None:
        src = "config"
        for name in ("output_interval_s", "reorder_window_s", "track_interval_s", "picture_interval_s", "checkpoint_interval_s",
                     "status_interval_s", "rejects_interval_s", "shutdown_budget_s", "shutdown_flush_s", "max_new_tracks_per_source_s", *BUDGET_OPTIONS):
            v = getattr(self, name)
            if not (math.isfinite(v) and (v >= 0 if name == "reorder_window_s" else v > 0)):
                raise ConfigError(src, name, v, "must be a finite number " + (">= 0" if name == "reorder_window_s" else "> 0"))
        lag = TrackerConfig().oosm_lag_s
        if self.reorder_window_s > lag:
            raise ConfigError(src, "reorder_window_s", self.reorder_window_s,
                              f"must not exceed the tracker's out-of-sequence lag of {lag:g} s (every batch would be dropped as late)")
        for name in ("max_inbound", "fuse_batch", "fuse_bytes", "fair_quantum", "max_outbox", *DECODE_LIMITS):
            if getattr(self, name) < 1:
                raise ConfigError(src, name, getattr(self, name), "must be >= 1")
        if self.catch_up_ticks < 0:
            raise ConfigError(src, "catch_up_ticks", self.catch_up_ticks, "must be >= 0 (0: evaluate every tick)")
        if not 0 <= self.metrics_port <= 65535:
            raise ConfigError(src, "metrics_port", self.metrics_port, "must be 0 (off) or a TCP port 1-65535")
        for name, allowed in (("clock", CLOCKS), ("mqtt_io", MQTT_IO), ("log_format", LOG_FORMATS), ("log_level", LOG_LEVELS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(src, name, getattr(self, name), f"must be one of {', '.join(allowed)}")
        if not self.client_id:
            raise ConfigError(src, "client_id", self.client_id, "must not be empty")
        if self.password is not None and self.password_file is not None:
            raise ConfigError(src, "password_file", self.password_file, "give password or password_file, not both")
        if self.deployment is not None and self.scenario is not None:
            raise ConfigError(src, "deployment", self.deployment, "give deployment or scenario, not both")
        self.broker_address()  # validates the URL and the TLS options together

    def source_budgets(self) -> SourceBudgets:
        """The per-source intake budgets (fusion/intake.py)."""
        rate = {k: Rate(getattr(self, f"budget_{k}_msg_s"), getattr(self, f"budget_{k}_meas_s")) for k in BUDGETED_KINDS}
        rate["radar"] = dataclasses.replace(rate["radar"], per_message=self.budget_radar_plots_per_scan)
        return SourceBudgets(**rate, burst_s=self.budget_burst_s)

    def decode_limits(self) -> DecodeLimits:
        """The decoders' per-payload limits."""
        return DecodeLimits(**{name: getattr(self, name) for name in DECODE_LIMITS})

    def broker_address(self) -> BrokerAddress:
        """The broker to connect to, with credentials (password_file read here)."""
        try:
            return BrokerAddress.parse(self.broker, username=self.username, password=self.password,
                                       password_file=self.password_file, ca_file=self.ca_file,
                                       cert_file=self.cert_file, key_file=self.key_file)
        except ValueError as err:
            option = "password_file" if str(err).startswith("password_file") else "broker"
            raise ConfigError("config", option, getattr(self, option), str(err)) from err


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(ServiceConfig)}


def env_name(option: str) -> str:
    """``output_interval_s`` -> ``JISF_OUTPUT_INTERVAL_S``."""
    return ENV_PREFIX + option.upper()


def _base_type(option: str) -> type:
    hint = FIELDS[option].type
    text = hint if isinstance(hint, str) else hint.__name__
    return {"str": str, "int": int, "float": float}[text.split("|")[0].strip()]


def _coerce(source: str, option: str, value: object) -> object:
    """A file, environment or flag value as the option's type; ConfigError naming it otherwise."""
    kind = _base_type(option)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(source, option, value, "must be a string")
        return value
    if isinstance(value, bool):
        raise ConfigError(source, option, value, f"must be {'an integer' if kind is int else 'a number'}")
    if kind is int:
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(source, option, value, "must be an integer")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ConfigError(source, option, value, "must be a number")


def read_file(path: Path) -> dict[str, object]:
    """Options from a flat TOML file; ConfigError for unreadable TOML or an unknown option."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as err:
        raise ConfigError(str(path), "(file)", str(path), f"cannot read: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(str(path), "(file)", str(path), f"not valid TOML: {err}") from err
    for key in data:
        if key not in FIELDS:
            raise ConfigError(str(path), key, data[key], f"unknown option (known: {', '.join(FIELDS)})")
    return {k: _coerce(str(path), k, v) for k, v in data.items()}


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None, flags: Mapping[str, object] | None = None) -> ServiceConfig:
    """Merge defaults < file < environment (``JISF_*``) < flags (None means not given)."""
    env = os.environ if env is None else env
    values: dict[str, object] = read_file(path) if path is not None else {}
    origin = dict.fromkeys(values, str(path))
    for option in FIELDS:
        if env_name(option) in env:
            origin[option] = f"environment {env_name(option)}"
            values[option] = _coerce(origin[option], option, env[env_name(option)])
    for option, value in (flags or {}).items():
        if option not in FIELDS:
            raise ConfigError("flags", option, value, "unknown option")
        if value is not None:
            origin[option] = f"flag --{option.replace('_', '-')}"
            values[option] = _coerce(origin[option], option, value)
    try:
        return ServiceConfig(**values)  # type: ignore[arg-type]  # each value coerced to its field's type by _coerce
    except ConfigError as err:
        raise ConfigError(origin.get(err.option, "default"), err.option, err.value, err.reason) from None


def reference() -> str:
    """The configuration reference as a Markdown table (option, environment, default, meaning)."""
    lines = ["| option | environment | default | meaning |", "|---|---|---|---|"]
    for name, f in FIELDS.items():
        default = "(unset)" if f.default is None else f"`{f.default}`"
        lines.append(f"| `{name}` | `{env_name(name)}` | {default} | {f.metadata['doc']} |")
    return "\n".join(lines)
