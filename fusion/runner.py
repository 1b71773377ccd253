"""``jisf run``: the fusion service as a long-running process.

Options are the fields of ``fusion.config.ServiceConfig``: each is a flag
(``--output-interval-s 1``), an environment variable (``JISF_OUTPUT_INTERVAL_S=1``) and a
key of the ``--config`` TOML file; a flag wins over the environment, which wins over the
file. The parser is ``fusion.cliutil``'s (global options, one-line errors); the environment
of the configuration options is read by ``fusion.config`` under the same ``JISF_*`` names,
so that a bad value is reported as coming from the environment. Exit status: 0 after a
graceful stop (SIGINT/SIGTERM; the process then exits at once, without the interpreter's
teardown, ``fusion.ops.exit_now``), 2 for a refused configuration or checkpoint, 1 for a
runtime error (e.g. a missing zones or rules file).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import sys
from pathlib import Path

from fusion import cliutil
from fusion.config import FIELDS, ConfigError, ServiceConfig, env_name, load_config

log = logging.getLogger("jisf.runner")


def build_parser() -> cliutil.Parser:
    """Options of ``jisf run``, one flag per configuration option (their environment: ``fusion.config``)."""
    p = cliutil.parser("run", "the fusion service (options: docs/OPERATIONS.md)", env_exempt=("config", *FIELDS))
    p.add_argument("--config", type=Path, default=None, help="TOML configuration file (env JISF_CONFIG)")
    for name, f in FIELDS.items():
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None, metavar=name.split("_")[-1].upper(),
                       help=f"{f.metadata['doc']} (env {env_name(name)}; default {f.default})")
    return p


def config_from_argv(argv: list[str], env: dict[str, str] | None = None) -> ServiceConfig:
    """Parse flags and merge them over the environment and the configuration file."""
    return config_from_args(cliutil.parse(build_parser(), argv, env), env)


def config_from_args(args: argparse.Namespace, env: dict[str, str] | None = None) -> ServiceConfig:
    """The configuration of parsed flags merged over the environment and the configuration file."""
    import os

    env = dict(os.environ) if env is None else env
    path = args.config or (Path(env["JISF_CONFIG"]) if env.get("JISF_CONFIG") else None)
    return load_config(path, env, {name: getattr(args, name) for name in FIELDS})


def scenario_area(path: Path):  # noqa: ANN201 - sim_feeds.scenario.Scenario, imported lazily
    """The scenario at ``path`` validated, without expanding its fleets: the service needs only its area and
    zones, and expanding procedural fleets (routes checked against the coastline) took 4.5 of the 22 s from
    launch to restored state at the large_caribbean load (docs/BENCHMARKS.md, "Checkpoint restore")."""
    import tomllib

    from sim_feeds.scenario import ScenarioError, load_scenario, scenario_from_dict

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return load_scenario(path)  # (raises the ScenarioError naming the file and the reason)
    if not isinstance(raw.get("fleets"), list):
        return scenario_from_dict(raw, source=path.name, base_dir=path.parent, path=path)
    try:
        return scenario_from_dict({**raw, "fleets": []}, source=path.name, base_dir=path.parent, path=path)
    except ScenarioError:
        return load_scenario(path)  # e.g. a file with only fleets: the whole file, for the error naming the field


def build_service(cfg: ServiceConfig):  # noqa: ANN201 - fusion.service.Service, imported lazily
    """The fusion pipeline for the configured area, zones and rules, inside a Service."""
    from fusion.offline import fusion_for_area
    from fusion.pipeline import FusionConfig
    from fusion.service import Service, ServiceOptions
    from sim_feeds.scenario import resolve_scenario

    fusion_cfg = FusionConfig(output_interval_s=cfg.output_interval_s, reorder_window_s=cfg.reorder_window_s,
                             limits=cfg.decode_limits())
    if cfg.deployment:
        deployment = load_deployment_for_run(cfg.deployment)
        area, zones, zones_name, rules = deployment.area, deployment.zones_geojson, deployment.name, deployment.rules
        fusion_cfg = dataclasses.replace(fusion_cfg, tracker=deployment.fusion_config.tracker)
    else:
        scenario = scenario_area(resolve_scenario(cfg.scenario))
        area, zones, zones_name, rules = scenario.area, scenario.zones_geojson(), scenario.name, None
    if cfg.zones:
        zones, zones_name = json.loads(Path(cfg.zones).read_text()), cfg.zones
    if cfg.rules:
        from fusion.rules.engine import load_rules

        rules = load_rules(Path(cfg.rules))
    fusion_cfg = dataclasses.replace(fusion_cfg, tracker=dataclasses.replace(
        fusion_cfg.tracker, max_births_per_source_s=cfg.max_new_tracks_per_source_s))
    fusion = fusion_for_area(area, zones, zones_name, rules, fusion_cfg)
    return Service(fusion, cfg.broker_address(), ServiceOptions.from_config(cfg))


def load_deployment_for_run(path: str):  # -> fusion.deployment.Deployment with an area, imported lazily
    """The deployment file of ``jisf run``, which must have an [area] (ConfigError otherwise)."""
    from fusion.deployment import DeploymentError, load_deployment

    try:
        deployment = load_deployment(path)
    except DeploymentError as err:
        raise ConfigError(err.source, err.field, err.value, err.reason) from None
    if deployment.area is None:
        raise ConfigError(path, "area", None, "jisf run needs the deployment's [area] (the service has no data to take it from)")
    return deployment


async def serve(cfg: ServiceConfig) -> None:
    """Run the service (and its metrics endpoint when configured) until SIGINT/SIGTERM."""
    from fusion.cli import stop_on_signals
    from fusion.ops import serve_metrics

    service = build_service(cfg)
    stop = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        if cfg.metrics_port:
            await stack.enter_async_context(serve_metrics(cfg.metrics_host, cfg.metrics_port, service.metrics_text))
        with stop_on_signals(asyncio.get_running_loop(), stop, service.note_stop):
            log.info("serving %s as %s", cfg.broker_address().url(), cfg.client_id)
            await service.serve(stop)
    log.info("stopped")


def _run(args: argparse.Namespace) -> int:
    from fusion.ops import exit_now, setup_logging

    try:
        cfg = config_from_args(args)
        if cfg.deployment:
            load_deployment_for_run(cfg.deployment)  # refused here with one line, not inside the event loop
    except ConfigError as err:
        raise cliutil.UsageError(str(err)) from None
    level = cfg.log_level if not args.verbose else ("info", "debug")[min(args.verbose, 2) - 1]
    setup_logging(cfg.log_format, level)
    from fusion.checkpoint import CheckpointError  # after the configuration: imports the whole core

    try:
        asyncio.run(serve(cfg))
    except CheckpointError as err:
        raise cliutil.UsageError(str(err)) from None
    # stopped gracefully: checkpoint fsynced, outbox flushed, broker disconnected, the link process gone
    exit_now(0)


def main(argv: list[str]) -> int:
    """``jisf run ARGS``: run the service until SIGINT/SIGTERM; returns the exit status."""
    return cliutil.run(build_parser(), _run, argv, logs=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
