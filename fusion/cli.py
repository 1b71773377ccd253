"""``jisf``: thin command-line entry points over the library (see README "Commands").

Every command's parser comes from ``fusion.cliutil`` (one layer: ``jisf NAME`` prog names,
global options before or after the command, ``JISF_<OPTION>`` environment variables for
every long option, one-line errors and exit statuses 0 / 1 runtime / 2 usage).
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
from collections.abc import Callable, Iterator
from pathlib import Path

from fusion import cliutil
from fusion.cliutil import UsageError

log = logging.getLogger("jisf.cli")


def env_default(name: str, default: str | None = None) -> str | None:
    """``JISF_NAME`` from the environment (for options read outside a parser; parsers get theirs from cliutil)."""
    return os.environ.get(f"JISF_{name.upper().replace('-', '_')}", default)


PASSWORD_OPTIONS = ("password", "password_file")  # their environment is read by broker_address: either flag wins over both


def broker_args(p: argparse.ArgumentParser, required: bool) -> None:
    """The broker, credential and TLS options every client command shares (the same names as ``jisf run``'s).

    Each has an environment variable ``JISF_<OPTION>`` (through cliutil); docs/OPERATIONS.md, "Security".
    """
    p.add_argument("--broker", required=required,
                   help="broker URL, mqtt://[user:pass@]host:port or mqtts://... (env JISF_BROKER)")
    p.add_argument("--username", help="broker user name (env JISF_USERNAME)")
    password = p.add_mutually_exclusive_group()
    password.add_argument("--password-file",
                          help="file whose first line is the broker password (env JISF_PASSWORD_FILE)")
    password.add_argument("--password",
                          help="broker password; visible to every local user in ps: prefer --password-file (env JISF_PASSWORD)")
    p.add_argument("--ca-file", help="CA bundle that signed the broker certificate, mqtts:// (env JISF_CA_FILE)")
    p.add_argument("--cert-file", help="client certificate for mutual TLS, mqtts:// (env JISF_CERT_FILE)")
    p.add_argument("--key-file", help="private key of --cert-file (env JISF_KEY_FILE)")
    if isinstance(p, cliutil.Parser):
        p.env_exempt |= set(PASSWORD_OPTIONS)


class BrokerOptionError(UsageError):
    """Broker options that cannot be used (bad URL, unreadable password file, TLS files without mqtts://): exit 2."""


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
    """A command's scenario argument: a file or a shipped scenario's name (None: the default one).

    ``ScenarioError`` (exit 1) when there is no such file or shipped scenario.
    """
    from sim_feeds.scenario import resolve_scenario

    return resolve_scenario(name_or_path)


def positive_speed(speed: float) -> float:
    """``--speed``, refused unless a finite number > 0."""
    if not (speed > 0 and speed != float("inf")):
        raise UsageError(f"--speed must be a number > 0, got {speed}")
    return speed


@contextlib.contextmanager
def stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event,
                    on_signal: Callable[[str], None] | None = None) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` (graceful shutdown), after telling ``on_signal`` the signal's name; handlers restored on exit."""
    sigs = (signal.SIGINT, signal.SIGTERM)

    def handle(name: str) -> None:
        if on_signal is not None:
            on_signal(name)
        stop.set()

    for s in sigs:
        loop.add_signal_handler(s, handle, s.name)
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
    speed = positive_speed(args.speed)

    def show(summary: dict[str, object]) -> None:
        print("summary:", json.dumps(summary, indent=2))

    listen = None if args.no_web else args.listen
    if args.broker:
        summary, _ = asyncio.run(run_live(scenario, broker_address(args), speed, web_listen=listen, hold_s=args.hold))
    else:
        with embedded_broker(args.broker_kind) as (name, addr):
            print(f"demo: embedded broker {name} on {addr.url()}", flush=True)
            summary, _ = asyncio.run(run_live(scenario, addr, speed, web_listen=listen, hold_s=args.hold))
    show(summary)
    return 0 if summary["alerts_raised"] else 1


def cmd_sim(args: argparse.Namespace) -> int:
    from fusion.clock import WarpedClock
    from fusion.demo import SimStats, publish_scenario
    from sim_feeds.play import iter_feed
    from sim_feeds.scenario import load_scenario

    speed = positive_speed(args.speed)
    addr = broker_address(args)
    scenario = load_scenario(scenario_arg(args.scenario))
    feed = iter_feed(scenario)
    first = next(feed)
    clock = WarpedClock.starting_now(first.t, speed)
    stats = SimStats()
    print(f"sim: publishing {scenario.name!r} at {speed:g}x to {addr.url()}; clock on jisf/v1/sim/clock", flush=True)
    with cliutil.time_progress(args, first.t, scenario.t_end, "sim") as advance:
        def paced() -> Iterator[object]:
            for m in itertools.chain([first], feed):
                advance(m.t)
                yield m

        asyncio.run(publish_scenario(addr, paced(), clock, stats, on_state=cliutil.state_printer("jisf sim")))
    print(json.dumps({"messages": stats.messages, "published": stats.published, "dropped": stats.dropped,
                      "bytes": stats.bytes, "max_lag_s": round(stats.max_lag_s, 3)}))
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    import msgspec

    from fusion.demo import format_alert
    from fusion.mqtt import Link
    from fusion.publish import ALERTS_FILTER

    addr = broker_address(args)
    # the shipped broker names every session after its account (use_username_as_clientid)
    client_id = args.client_id or (addr.username if args.persistent else None)
    if args.persistent and not client_id:
        raise UsageError("--persistent needs --client-id (or --username)")
    seen: set[tuple[str, str, str, int]] = set()

    def show(payload: bytes) -> None:
        try:
            a = msgspec.json.decode(payload)
        except msgspec.DecodeError:
            return
        key = (str(a.get("alert_id")), str(a.get("state")), str(a.get("t")), len(a.get("ops") or ()))
        if key in seen:  # at-least-once delivery: de-duplicate by alert id, state, time and actions
            return
        seen.add(key)
        print(payload.decode() if args.json else format_alert(a), flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        inbox: asyncio.Queue[bytes] = asyncio.Queue()
        link = Link(addr, client_id, subscriptions=((ALERTS_FILTER, 1),), clean_session=not args.persistent,
                    on_message=lambda _topic, payload, _qos, _retain: inbox.put_nowait(payload),
                    on_state=cliutil.state_printer("jisf alerts"), fail_first=True)
        with stop_on_signals(asyncio.get_running_loop(), stop):
            runner = asyncio.create_task(link.run(stop))
            while not runner.done():
                get = asyncio.create_task(inbox.get())
                done, _ = await asyncio.wait({runner, get}, return_when=asyncio.FIRST_COMPLETED)
                if get in done:
                    show(get.result())
                else:
                    get.cancel()
            while not inbox.empty():
                show(inbox.get_nowait())
            runner.result()  # BrokerError when the first connection failed

    asyncio.run(main())
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from fusion.actions import OPS_FILTER
    from fusion.clock import SIM_CLOCK_TOPIC
    from fusion.mqtt import Link
    from fusion.publish import FEEDS_FILTER
    from fusion.recording import RecordingWriter, cut_torn_tail

    addr = broker_address(args)
    if Path(args.output).exists():  # not a recording, or not writable: RecordingError / OSError before connecting
        cut_torn_tail(Path(args.output))

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
            link = Link(addr, args.client_id, subscriptions=subscriptions, on_message=on_message,
                        on_state=cliutil.state_printer("jisf record"), fail_first=True)
            with stop_on_signals(asyncio.get_running_loop(), stop):
                flusher = asyncio.create_task(flush_periodically())
                try:
                    await link.run(stop)
                finally:
                    stop.set()
                    await flusher

    asyncio.run(main())
    return 0


def _deployment(args: argparse.Namespace):  # noqa: ANN202 - Deployment | None, imported lazily
    """The ``--deployment`` / JISF_DEPLOYMENT file, loaded (``DeploymentError`` naming the field: exit 1, bad file)."""
    from fusion.deployment import deployment_path, load_deployment

    path = deployment_path(args.deployment)
    return load_deployment(path) if path is not None else None


def cmd_evaluate(args: argparse.Namespace) -> int:
    from fusion.offline import evaluate
    from sim_feeds.scenario import load_scenario

    t0 = time.perf_counter()
    deployment = _deployment(args)
    path = scenario_arg(args.scenario)
    scenario = load_scenario(path)
    with cliutil.time_progress(args, scenario.t0, scenario.t_end, "evaluate") as advance:
        summary = evaluate(path, Path(args.output), metrics=not args.no_metrics, deployment=deployment,
                           on_message=advance)
    c = summary.counters
    print(json.dumps({"out_dir": str(summary.out_dir), "messages": summary.messages, "measurements": c.measurements,
                      "ticks": c.ticks, "alerts_raised": c.alerts_raised, "rejected": summary.rejected,
                      "late_dropped": c.late_dropped, "seconds": round(time.perf_counter() - t0, 2)}))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from fusion.offline import replay_recording, republish_recording

    recording = Path(args.recording)
    if args.output:  # offline replay wins: JISF_BROKER in the environment must not turn it into a republish
        deployment = _deployment(args)
        scenario = scenario_arg(args.scenario) if args.scenario else None
        with cliutil.time_progress(args, desc="replay") as advance:
            summary = replay_recording(recording, Path(args.output), deployment=deployment, scenario_path=scenario,
                                       on_message=advance)
        print(json.dumps(summary))
        return 0
    if not args.broker:
        raise UsageError("give -o DIR (offline replay) or --broker URL (republish)")
    addr, speed = broker_address(args), positive_speed(args.speed)
    if not recording.is_file():
        raise FileNotFoundError(f"no recording {str(recording)!r}")
    if speed != 1.0:
        print(f"jisf replay: at --speed {speed:g} only a `jisf run --clock sim` service follows the replay "
              "(a --clock wall service needs --speed 1)", file=sys.stderr)
    with cliutil.time_progress(args, desc="replay") as advance:
        stats = asyncio.run(republish_recording(recording, addr, speed, rebase=args.rebase,
                                                on_state=cliutil.state_printer("jisf replay"), on_message=advance))
    print(json.dumps(stats))
    return 0


def _demo_parser() -> cliutil.Parser:
    d = cliutil.parser("demo", "main job: embedded broker, default scenario, live fusion and alerts")
    d.add_argument("--scenario", help="scenario file or shipped scenario name (default: default)")
    d.add_argument("--speed", type=float, default=60.0, help="scenario seconds per wall second (default 60)")
    d.add_argument("--broker-kind", default="auto", choices=["auto", "mosquitto", "iotcore"], help="embedded broker to start")
    d.add_argument("--listen", default="127.0.0.1:8080",
                   help="HOST:PORT of the live map (jisf web) served during the demo; a free port if taken (default 127.0.0.1:8080)")
    d.add_argument("--no-web", action="store_true", help="do not serve the live map")
    d.add_argument("--hold", type=float, default=0.0,
                   help="keep the map up this many seconds after the run (default 0; Ctrl-C ends it)")
    broker_args(d, required=False)
    return d


def _sim_parser() -> cliutil.Parser:
    s = cliutil.parser("sim", "publish a scenario's feeds, through broker outages (docs/OPERATIONS.md)")
    s.add_argument("scenario", help="scenario file or shipped scenario name (e.g. default)")
    s.add_argument("--speed", type=float, default=1.0, help="scenario seconds per wall second")
    broker_args(s, required=True)
    return s


def _alerts_parser() -> cliutil.Parser:
    a = cliutil.parser("alerts", "subscribe and show alerts, through broker outages")
    broker_args(a, required=True)
    a.add_argument("--client-id", help="MQTT client id (env JISF_ALERTS_CLIENT_ID)")
    a.add_argument("--persistent", action="store_true", help="persistent session: get alerts raised while away (client id: --client-id, else --username)")
    a.add_argument("--json", action="store_true", help="print raw alert JSON lines")
    return a


def _record_parser() -> cliutil.Parser:
    rec = cliutil.parser("record", "record inbound feeds, through broker outages")
    broker_args(rec, required=True)
    rec.add_argument("-o", "--output", required=True, help="recording file (appended to if it exists)")
    rec.add_argument("--client-id", default="jisf-recorder", help="MQTT client id (env JISF_RECORD_CLIENT_ID)")
    return rec


def _evaluate_parser() -> cliutil.Parser:
    e = cliutil.parser("evaluate", "offline: simulated clock, no broker; writes the evaluation outputs")
    e.add_argument("scenario", help="scenario file or shipped scenario name (e.g. default)")
    e.add_argument("-o", "--output", required=True, help="output directory")
    e.add_argument("--no-metrics", action="store_true", help="skip metrics.json")
    e.add_argument("--deployment", help="deployment file whose rules, tracker, zones and area apply (env JISF_DEPLOYMENT)")
    return e


def _replay_parser() -> cliutil.Parser:
    rp = cliutil.parser("replay", "offline replay of a recording (-o DIR), or republish it (--broker URL)")
    rp.add_argument("recording")
    rp.add_argument("-o", "--output", help="output directory (offline replay; wins over --broker)")
    rp.add_argument("--scenario", help="scenario (file or shipped name) whose area, zones and AIS coverage apply (a simulated recording)")
    rp.add_argument("--deployment", help="deployment file: area, zones, receivers, rules, tracker (env JISF_DEPLOYMENT; "
                    "without it or --scenario the area comes from the data)")
    rp.add_argument("--speed", type=float, default=1.0, help="republish pace, recorded seconds per wall second")
    rp.add_argument("--rebase", action=argparse.BooleanOptionalAction, default=True,
                    help="republish: shift the times inside payloads to now (default on)")
    broker_args(rp, required=False)
    return rp


# Commands of this module: name -> (parser, body, help).
BUILTIN: dict[str, tuple[Callable[[], cliutil.Parser], Callable[[argparse.Namespace], int], str]] = {
    "demo": (_demo_parser, cmd_demo, "main job: embedded broker, default scenario, live fusion and alerts"),
    "sim": (_sim_parser, cmd_sim, "publish a scenario's feeds"),
    "alerts": (_alerts_parser, cmd_alerts, "subscribe and show alerts"),
    "record": (_record_parser, cmd_record, "record inbound feeds"),
    "evaluate": (_evaluate_parser, cmd_evaluate, "offline: simulated clock, no broker; writes the evaluation outputs"),
    "replay": (_replay_parser, cmd_replay, "offline replay of a recording (or republish it with --broker)"),
}

# Commands whose own module parses their arguments (with fusion.cliutil): name -> (module, function, help).
DELEGATED: dict[str, tuple[str, str, str]] = {
    "run": ("fusion.runner", "main", "the fusion service (jisf run --help)"),
    "track-scans": ("fusion.trackscans", "main", "plain-metric tracker over JSON-lines scans"),
    "evaluate-suite": ("fusion.evalsuite", "main", "run a split of the procedural corpus offline: per-rule table (docs/SCENARIO-EVAL.md)"),
    "plot": ("fusion.plot", "main_plot", "draw the picture or the metrics of an output directory, or a suite's PR curve"),
    "calibrate": ("fusion.rules.calibration", "main", "refit the calibrated alert score on a TUNE-side suite run (docs/RULES.md)"),
    "import-ais": ("fusion.realdata_import", "main", "turn a MarineCadastre AIS CSV into a recording (and replay it)"),
    "cot": ("fusion.cot", "main", "tracks and alerts as Cursor-on-Target events for TAK clients (udp:// or tcp://)"),
    "web": ("fusion.web.server", "main", "live map page and JSON API for tracks, alerts and history (jisf web --help)"),
    "archive": ("fusion.history.cli", "main_archive", "record tracks and alerts from a broker into the history store"),
    "history": ("fusion.history.cli", "main_history", "query the history store, or load an output directory into it"),
    "export": ("fusion.history.cli", "main_export", "export history as KML (Google Earth) or GeoJSON"),
}


def command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of ``jisf NAME``: a delegated module's ``build_parser()`` for ``main``, ``build_parser_X()`` for ``main_X``."""
    if name in BUILTIN:
        return BUILTIN[name][0]()
    module, func, _ = DELEGATED[name]
    return getattr(importlib.import_module(module), "build_parser" + func.removeprefix("main"))()


def build_parser() -> argparse.ArgumentParser:
    """The top-level ``jisf`` parser, for ``jisf --help``: global options and the list of commands."""
    p = cliutil.Parser(prog="jisf", description="Track fusion and trafficking alerts over MQTT. Every long option "
                       "of every command can also be set as JISF_<OPTION> or JISF_<COMMAND>_<OPTION>; a flag wins.",
                       epilog="exit status: 0 done, 1 runtime error (broker down, missing or bad file), 2 usage or "
                       "configuration error (docs/OPERATIONS.md)")
    cliutil.add_global_options(p)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, _, helptext) in BUILTIN.items():
        sub.add_parser(name, help=helptext, add_help=False)
    for name, (_, _, helptext) in DELEGATED.items():
        sub.add_parser(name, help=helptext, add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jisf`` console script: ``jisf [GLOBAL OPTIONS] COMMAND [OPTIONS]``."""
    before, rest = cliutil.split_globals(sys.argv[1:] if argv is None else argv)
    if not rest or rest[0] in ("-h", "--help"):
        build_parser().print_help(sys.stdout if rest else sys.stderr)
        return 0 if rest else cliutil.EXIT_USAGE
    name, args = rest[0], before + rest[1:]  # global options go to the command, which accepts them anywhere
    if name in BUILTIN:
        make_parser, body, _ = BUILTIN[name]
        return cliutil.run(make_parser(), body, args)
    if name in DELEGATED:
        module, func, _ = DELEGATED[name]
        return int(getattr(importlib.import_module(module), func)(args))
    build_parser().error(f"unknown command {name!r} (one of {', '.join([*BUILTIN, *DELEGATED])})")


if __name__ == "__main__":
    sys.exit(main())
