"""``jisf run``: the fusion service as a long-running process."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path

from fusion.cli import broker_args, broker_address, env_default, stop_on_signals


def build_parser() -> argparse.ArgumentParser:
    """Options of ``jisf run``; each also settable as JISF_<OPTION> in the environment."""
    r = argparse.ArgumentParser(prog="jisf run", description="the fusion service")
    broker_args(r, required=True)
    r.add_argument("--scenario", default=env_default("scenario"), help="take the area and zones from this scenario file")
    r.add_argument("--zones", default=env_default("zones"), help="zones GeoJSON file (default: the scenario's zones)")
    r.add_argument("--rules", default=env_default("rules"), help="rules TOML file (default: built-in rules)")
    r.add_argument("--clock", choices=["wall", "sim"], default=env_default("clock", "wall"),
                   help="wall: real time; sim: follow the clock `jisf sim` publishes (for --speed N runs)")
    r.add_argument("--client-id", default=env_default("client_id", "jisf-fusion"))
    return r


def main(argv: list[str]) -> int:
    """Run the service until SIGINT/SIGTERM."""
    from fusion.offline import fusion_for_area
    from fusion.service import Service, ServiceOptions
    from sim_feeds.scenario import default_scenario_path, load_scenario

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scenario = load_scenario(Path(args.scenario) if args.scenario else default_scenario_path())
    zones = json.loads(Path(args.zones).read_text()) if args.zones else scenario.zones_geojson()
    rules = None
    if args.rules:
        from fusion.rules.engine import load_rules

        rules = load_rules(Path(args.rules))
    fusion = fusion_for_area(scenario.area, zones, args.zones or scenario.name, rules)
    options = ServiceOptions(client_id=args.client_id, follow_sim_clock=args.clock == "sim")
    service = Service(fusion, broker_address(args), options)

    async def serve() -> None:
        stop = asyncio.Event()
        with stop_on_signals(asyncio.get_running_loop(), stop):
            await service.serve(stop)

    asyncio.run(serve())
    return 0
