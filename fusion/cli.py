"""``jisf``: thin command-line entry points over the library (see README "Commands").

Every option can also be set through the environment as ``JISF_<OPTION>`` (for example
``JISF_BROKER=mqtt://127.0.0.1:1883``); a flag on the command line wins.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import itertools
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("jisf.cli")


def env_default(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"JISF_{name.upper().replace('-', '_')}", default)


def broker_args(p: argparse.ArgumentParser, required: bool) -> None:
    """The broker, credential and TLS options every client command shares (the same names as ``jisf run``'s).

    Each has an environment variable ``JISF_<OPTION>``; docs/OPERATIONS.md, "Security".
    """
    env = env_default("broker")
    p.add_argument("--broker", default=env, required=required and env is None,
                   help="broker URL, mqtt://[user:pass@]host:port or mqtts://... (env JISF_BROKER)")
    p.add_argument("--username", default=env_default("username"), help="broker user name (env JISF_USERNAME)")
    password = p.add_mutually_exclusive_group()
    password.add_argument("--password-file",
                          help="file whose first line is the broker password (env JISF_PASSWORD_FILE)")
    password.add_argument("--password",
                          help="broker password; visible to every local user in ps: prefer --password-file (env JISF_PASSWORD)")
    p.add_argument("--ca-file", default=env_default("ca_file"),
                   help="CA bundle that signed the broker certificate, mqtts:// (env JISF_CA_FILE)")
    p.add_argument("--cert-file", default=env_default("cert_file"),
                   help="client certificate for mutual TLS, mqtts:// (env JISF_CERT_FILE)")
    p.add_argument("--key-file", default=env_default("key_file"), help="private key of --cert-file (env JISF_KEY_FILE)")


class BrokerOptionError(ValueError):
    """Broker options that cannot be used (bad URL, unreadable password file, TLS files without mqtts://)."""


def broker_address(args: argparse.Namespace):  # noqa: ANN202 - BrokerAddress, imported lazily
    """The ``BrokerAddress`` of ``broker_args``' options; ``BrokerOptionError`` naming the option when refused."""
    from fusion.mqtt import BrokerAddress

    password, password_file = args.password, args.password_file
    if password is None and password_file is None:  # either flag wins over both variables
        password, password_file = env_default("password"), env_default("password_file")
    try:
        return BrokerAddress.parse(args.broker, username=args.username, password=password, password_file=password_file,
                                   ca_file=args.ca_file, cert_file=args.cert_file, key_file=args.key_file)
    except ValueError as err:
        raise BrokerOptionError(str(err)) from err


def scenario_arg(name_or_path: str | None) -> Path:
    """A command's scenario argument: a file or a shipped scenario's name (None: the default one)."""
    from sim_feeds.scenario import ScenarioError, resolve_scenario

    try:
        return resolve_scenario(name_or_path)
    except ScenarioError as err:
        raise SystemExit(f"jisf: {err}") from None


@contextlib.contextmanager
def stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` (graceful shutdown); handlers restored on exit."""
    sigs = (signal.SIGINT, signal.SIGTERM)
    for s in sigs:
        loop.add_signal_handler(s, stop.set)
    try:
        yield
    finally:
        for s in sigs:
            loop.remove_signal_handler(s)


# -- commands --------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from fusion.broker import embedded_broker
    from fusion.demo import run_live

    scenario = scenario_arg(args.scenario)

    def show(summary: dict[str, object]) -> None:
        print("summary:", json.dumps(summary, indent=2))

    listen = None if args.no_web else args.listen
    if args.broker:
        summary, _ = asyncio.run(run_live(scenario, broker_address(args), args.speed, web_listen=listen, hold_s=args.hold))
    else:
        with embedded_broker(args.broker_kind) as (name, addr):
            print(f"demo: embedded broker {name} on {addr.url()}", flush=True)
            summary, _ = asyncio.run(run_live(scenario, addr, args.speed, web_listen=listen, hold_s=args.hold))
    show(summary)
    return 0 if summary["alerts_raised"] else 1


def cmd_sim(args: argparse.Namespace) -> int:
    from fusion.clock import WarpedClock
    from fusion.demo import SimStats, publish_scenario
    from sim_feeds.play import iter_feed
    from sim_feeds.scenario import load_scenario

    scenario = load_scenario(scenario_arg(args.scenario))
    feed = iter_feed(scenario)
    first = next(feed)
    clock = WarpedClock.starting_now(first.t, args.speed)
    stats = SimStats()
    print(f"sim: publishing {scenario.name!r} at {args.speed:g}x to {args.broker}; clock on jisf/v1/sim/clock", flush=True)
    asyncio.run(publish_scenario(broker_address(args), itertools.chain([first], feed), clock, stats))
    print(json.dumps({"messages": stats.messages, "bytes": stats.bytes, "max_lag_s": round(stats.max_lag_s, 3)}))
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    import msgspec

    from fusion.demo import format_alert
    from fusion.mqtt import subscribe
    from fusion.publish import ALERTS_FILTER

    addr = broker_address(args)
    # the shipped broker names every session after its account (use_username_as_clientid)
    client_id = args.client_id or (addr.username if args.persistent else None)

    async def main() -> None:
        seen: set[tuple[str, str, str, int]] = set()
        async for _topic, payload, _retain in subscribe(addr, [ALERTS_FILTER], client_id=client_id,
                                                       qos=1, persistent=args.persistent):
            try:
                a = msgspec.json.decode(payload)
            except msgspec.DecodeError:
                continue
            key = (str(a.get("alert_id")), str(a.get("state")), str(a.get("t")), len(a.get("ops") or ()))
            if key in seen:  # at-least-once delivery: de-duplicate by alert id, state, time and actions
                continue
            seen.add(key)
            print(payload.decode() if args.json else format_alert(a), flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from fusion.actions import OPS_FILTER
    from fusion.clock import SIM_CLOCK_TOPIC
    from fusion.mqtt import Link
    from fusion.publish import FEEDS_FILTER
    from fusion.recording import RecordingError, RecordingWriter, cut_torn_tail

    try:
        if Path(args.output).exists():
            cut_torn_tail(Path(args.output))
    except (RecordingError, OSError) as err:  # not a recording, or not writable: say so before connecting
        print(f"jisf record: {err}", file=sys.stderr)
        return 1

    async def main() -> None:
        stop = asyncio.Event()
        with RecordingWriter(Path(args.output)) as writer:
            def on_message(topic: str, payload: bytes, qos: int, retain: bool) -> None:
                writer.append(topic, payload, qos, retain, time.time())

            async def flush_periodically() -> None:  # quiet feeds still reach the disk within a second
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=1.0)
                    writer.flush()

            # operator actions are inputs too; the clock lets replay use the sim's timeline
            subscriptions = ((FEEDS_FILTER, 1), (OPS_FILTER, 1), (SIM_CLOCK_TOPIC, 1))
            link = Link(broker_address(args), args.client_id, subscriptions=subscriptions, on_message=on_message)
            with stop_on_signals(asyncio.get_running_loop(), stop):
                flusher = asyncio.create_task(flush_periodically())
                await link.run(stop)
                await flusher

    asyncio.run(main())
    return 0


def _deployment(args: argparse.Namespace):  # -> Deployment | None, imported lazily
    """The ``--deployment`` / JISF_DEPLOYMENT file, loaded (DeploymentError names the field)."""
    from fusion.deployment import deployment_path, load_deployment

    path = deployment_path(args.deployment)
    return load_deployment(path) if path is not None else None


def cmd_evaluate(args: argparse.Namespace) -> int:
    from fusion.deployment import DeploymentError
    from fusion.offline import evaluate

    t0 = time.perf_counter()
    try:
        deployment = _deployment(args)
    except DeploymentError as err:
        print(f"jisf evaluate: {err}", file=sys.stderr)
        return 2
    summary = evaluate(scenario_arg(args.scenario), Path(args.output), metrics=not args.no_metrics, deployment=deployment)
    c = summary.counters
    print(json.dumps({"out_dir": str(summary.out_dir), "messages": summary.messages, "measurements": c.measurements,
                      "ticks": c.ticks, "alerts_raised": c.alerts_raised, "rejected": summary.rejected,
                      "late_dropped": c.late_dropped, "seconds": round(time.perf_counter() - t0, 2)}))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from fusion.deployment import DeploymentError
    from fusion.offline import ReplayError, replay_recording, republish_recording
    from fusion.recording import RecordingError

    try:
        if args.broker:
            if args.speed != 1.0:
                print(f"jisf replay: at --speed {args.speed:g} only a `jisf run --clock sim` service follows the replay "
                      "(a --clock wall service needs --speed 1)", file=sys.stderr)
            stats = asyncio.run(republish_recording(Path(args.recording), broker_address(args), args.speed, rebase=args.rebase))
            print(json.dumps(stats))
            return 0
        if not args.output:
            print("jisf replay: give -o DIR (offline replay) or --broker URL (republish)", file=sys.stderr)
            return 2
        summary = replay_recording(Path(args.recording), Path(args.output), deployment=_deployment(args),
                                   scenario_path=scenario_arg(args.scenario) if args.scenario else None)
    except (ReplayError, RecordingError, DeploymentError, ValueError, OSError) as err:
        print(f"jisf replay: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


# Commands whose own module parses their arguments: name -> (module, function, help).
DELEGATED: dict[str, tuple[str, str, str]] = {
    "run": ("fusion.runner", "main", "the fusion service (jisf run --help)"),
    "track-scans": ("fusion.trackscans", "main", "plain-metric tracker over JSON-lines scans"),
    "plot": ("fusion.plot", "main_plot", "draw the picture or the metrics of an output directory"),
    "import-ais": ("fusion.realdata_import", "main", "turn a MarineCadastre AIS CSV into a recording (and replay it)"),
    "cot": ("fusion.cot", "main", "tracks and alerts as Cursor-on-Target events for TAK clients (udp:// or tcp://)"),
    "web": ("fusion.web.server", "main", "live map page and JSON API for tracks, alerts and history (jisf web --help)"),
    "archive": ("fusion.history.cli", "main_archive", "record tracks and alerts from a broker into the history store"),
    "history": ("fusion.history.cli", "main_history", "query the history store, or load an output directory into it"),
    "export": ("fusion.history.cli", "main_export", "export history as KML (Google Earth) or GeoJSON"),
}


def _run_delegated(name: str, argv: list[str]) -> int:
    module, func, _ = DELEGATED[name]
    return int(getattr(importlib.import_module(module), func)(argv))


def build_parser() -> argparse.ArgumentParser:
    """The ``jisf`` argument parser."""
    p = argparse.ArgumentParser(prog="jisf", description="Track fusion and trafficking alerts over MQTT")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="main job: embedded broker, default scenario, live fusion and alerts")
    d.add_argument("--scenario", default=env_default("scenario"), help="scenario file or shipped scenario name (default: default)")
    d.add_argument("--speed", type=float, default=float(env_default("speed", "60")), help="scenario seconds per wall second (default 60)")
    d.add_argument("--broker-kind", default="auto", choices=["auto", "mosquitto", "iotcore"], help="embedded broker to start")
    d.add_argument("--listen", default=env_default("listen", "127.0.0.1:8080"),
                   help="HOST:PORT of the live map (jisf web) served during the demo; a free port if taken (default 127.0.0.1:8080)")
    d.add_argument("--no-web", action="store_true", help="do not serve the live map")
    d.add_argument("--hold", type=float, default=float(env_default("hold", "0") or 0),
                   help="keep the map up this many seconds after the run (default 0; Ctrl-C ends it)")
    broker_args(d, required=False)
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("sim", help="publish a scenario's feeds")
    s.add_argument("scenario", help="scenario file or shipped scenario name (e.g. default)")
    s.add_argument("--speed", type=float, default=1.0, help="scenario seconds per wall second")
    broker_args(s, required=True)
    s.set_defaults(func=cmd_sim)

    a = sub.add_parser("alerts", help="subscribe and show alerts")
    broker_args(a, required=True)
    a.add_argument("--client-id", default=env_default("alerts_client_id"))
    a.add_argument("--persistent", action="store_true", help="persistent session: get alerts raised while away (client id: --client-id, else --username)")
    a.add_argument("--json", action="store_true", help="print raw alert JSON lines")
    a.set_defaults(func=cmd_alerts)

    rec = sub.add_parser("record", help="record inbound feeds")
    broker_args(rec, required=True)
    rec.add_argument("-o", "--output", required=True, help="recording file (appended to if it exists)")
    rec.add_argument("--client-id", default=env_default("record_client_id", "jisf-recorder"))
    rec.set_defaults(func=cmd_record)

    e = sub.add_parser("evaluate", help="offline: simulated clock, no broker; writes the evaluation outputs")
    e.add_argument("scenario", help="scenario file or shipped scenario name (e.g. default)")
    e.add_argument("-o", "--output", required=True, help="output directory")
    e.add_argument("--no-metrics", action="store_true", help="skip metrics.json")
    e.add_argument("--deployment", help="deployment file whose rules, tracker, zones and area apply (env JISF_DEPLOYMENT)")
    e.set_defaults(func=cmd_evaluate)

    rp = sub.add_parser("replay", help="offline replay of a recording (or republish it with --broker)")
    rp.add_argument("recording")
    rp.add_argument("-o", "--output", help="output directory (offline replay)")
    rp.add_argument("--scenario", help="scenario (file or shipped name) whose area, zones and AIS coverage apply (a simulated recording)")
    rp.add_argument("--deployment", help="deployment file: area, zones, receivers, rules, tracker (env JISF_DEPLOYMENT; "
                    "without it or --scenario the area comes from the data)")
    rp.add_argument("--speed", type=float, default=1.0, help="republish pace, recorded seconds per wall second")
    rp.add_argument("--rebase", action=argparse.BooleanOptionalAction, default=True,
                    help="republish: shift the times inside payloads to now (default on)")
    broker_args(rp, required=False)
    rp.set_defaults(func=cmd_replay)

    for name, (_, _, helptext) in DELEGATED.items():  # listed for --help; main() hands their arguments over whole
        sub.add_parser(name, help=helptext, add_help=False).set_defaults(func=lambda _args, n=name: _run_delegated(n, []))
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jisf`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        return _run_delegated(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except BrokerOptionError as err:
        print(f"jisf {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
