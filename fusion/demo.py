"""Live runs of whole scenarios: ``jisf demo`` and ``jisf sim`` (asyncio orchestration).

The demo starts a broker (embedded unless ``--broker`` is given), the fusion service, the
scenario publisher and an alert subscriber in one process, all on one warped clock, and
prints progress, each alert as it is raised, and a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import msgspec

from fusion.clock import SIM_CLOCK_TOPIC, WarpedClock
from fusion.mqtt import BrokerAddress, PaceStats, publish_timed, subscribe
from fusion.offline import fusion_for_area, scenario_rules
from fusion.pipeline import Fusion, Tick
from fusion.publish import ALERTS_FILTER, OutMessage
from fusion.service import Service, ServiceOptions

if TYPE_CHECKING:
    from fusion.web.server import WebService
    from sim_feeds.scenario import Scenario


@dataclass
class SimStats(PaceStats):
    """What the publisher sent (``PaceStats``), and whether it has finished."""

    done: bool = False


async def publish_scenario(addr: BrokerAddress, messages: Iterable[Any], clock: WarpedClock, stats: SimStats,
                           on_state: Callable[[str], None] | None = None) -> None:
    """Publish feed messages at their warped times, through broker outages (``fusion.mqtt.publish_timed``).

    The clock goes out retained at every (re)connect. ``BrokerError`` when the broker is
    unreachable at the start.
    """
    clock_msg = OutMessage(SIM_CLOCK_TOPIC, clock.encode(), qos=1, retain=True)
    timed = ((clock.scenario_to_wall(m.t), OutMessage(m.topic, m.payload, qos=m.qos)) for m in messages)
    await publish_timed(addr, timed, stats, client_id=f"jisf-sim-{int(time.time() * 1000) % 10**9}",
                        on_connect=lambda: [clock_msg], on_state=on_state)
    stats.done = True


@dataclass
class AlertLog:
    """Alerts seen by the demo's subscriber, de-duplicated by (alert_id, state)."""

    seen: set[tuple[str, str]] = field(default_factory=set)
    raised: list[dict[str, object]] = field(default_factory=list)
    first_raised_wall_s: float | None = None


_DONE = {"acknowledge": "acknowledged", "dismiss": "dismissed"}


def format_alert(a: dict[str, Any]) -> str:
    """One readable line per alert event: UTC time, severity, state, rule, track, zone, who, reason, operator actions."""
    when = datetime.fromtimestamp(float(a["t"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if a.get("t") is not None else "-"
    if a.get("mmsi"):
        who = f"mmsi {a['mmsi']}" + (f" {a['flag']}" if a.get("flag") else "")
    elif a.get("icao24"):
        who = f"icao {a['icao24']}" + (f" {a['country']}" if a.get("country") else "")
    else:
        who = "no identity"
    label = a.get("name") or a.get("callsign")
    if label:
        who = f"{label} ({who})"
    line = (f"{when} {str(a['severity']).upper():<6} {a['state']:<8} {a['rule']:<16} track {a['track_id']:<10} "
            f"zone={a.get('zone') or '-'} {who}: {a['reason']}")
    ops = a.get("ops") or []
    if ops:
        last = ops[-1]
        line += f" [{_DONE.get(last.get('action'), last.get('action'))} by {last.get('by')}" + (
            f": {last['why']}]" if last.get("why") else "]")
    return line


async def watch_alerts(addr: BrokerAddress, log: AlertLog, started: float, out: IO[str], ready: asyncio.Event) -> None:
    """Subscribe to all alerts and print each new (alert_id, state) once."""
    async for _topic, payload, _retain in _subscribed(addr, ready):
        try:
            a = msgspec.json.decode(payload)
        except msgspec.DecodeError:
            continue
        key = (str(a.get("alert_id")), str(a.get("state")))
        if key in log.seen:
            continue
        log.seen.add(key)
        if a.get("state") == "raised":
            log.raised.append(a)
            if log.first_raised_wall_s is None:
                log.first_raised_wall_s = time.monotonic() - started
        print(f"[{time.monotonic() - started:6.1f}s] {format_alert(a)}", file=out, flush=True)


async def _subscribed(addr: BrokerAddress, ready: asyncio.Event):  # noqa: ANN202 - async generator
    gen = subscribe(addr, [ALERTS_FILTER], client_id=f"jisf-demo-alerts-{id(ready)}", qos=1)
    first = asyncio.ensure_future(gen.__anext__())
    await asyncio.sleep(0.2)  # give the subscription time to reach the broker
    ready.set()
    yield await first
    async for item in gen:
        yield item


@contextlib.asynccontextmanager
async def web_view(scenario: Scenario, addr: BrokerAddress, listen: str | None, out: IO[str]) -> AsyncIterator[WebService | None]:
    """The live map of ``jisf web`` in this process for the demo's run (None when ``listen`` is None).

    Served on ``listen`` (HOST:PORT), or on a free port of that host when the port is taken; the
    page is subscribed to the broker before this yields, so it sees every track from the start.
    """
    if listen is None:
        yield None
        return
    from fusion.mqtt import Link
    from fusion.web.layers import sensors_geojson, zones_geojson
    from fusion.web.server import SUBSCRIPTIONS, WebOptions, WebService, parse_listen, serve

    host, port = parse_listen(listen)
    link = Link(addr, f"jisf-demo-web-{int(time.time() * 1000) % 10**9}", subscriptions=SUBSCRIPTIONS)
    view = WebService(link, WebOptions(zones=zones_geojson(scenario, None), sensors=sensors_geojson(scenario)))
    stop = asyncio.Event()
    task = asyncio.create_task(serve(view, host, port, stop, any_port_if_busy=True, out=out))
    try:
        deadline = time.monotonic() + 30.0
        while not (view.subscribed and view.url) and not task.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if task.done():
            task.result()  # the server failed to start: raise its error
        yield view
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)


async def hold_view(view: WebService | None, hold_s: float, out: IO[str], stop: asyncio.Event | None = None) -> None:
    """Keep the map up for ``hold_s`` seconds after the run, or until SIGINT/SIGTERM or ``stop``."""
    if view is None or hold_s <= 0:
        return
    print(f"demo: the map stays up at {view.url} for {hold_s:g} s (Ctrl-C ends it)", file=out, flush=True)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), hold_s)
    finally:
        for s in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(s)


async def run_live(scenario_path: Path, addr: BrokerAddress, speed: float, out: IO[str] = sys.stdout,
                   progress_interval_s: float = 2.0, web_listen: str | None = None,
                   hold_s: float = 0.0, hold_stop: asyncio.Event | None = None) -> tuple[dict[str, object], AlertLog]:
    """Run sim -> broker -> fusion -> alert subscriber for one scenario; returns the summary and the alerts seen.

    ``web_listen`` (HOST:PORT): also serve the live map (``jisf web``) during the run, and
    ``hold_s`` seconds after it (or until ``hold_stop`` is set).
    """
    from sim_feeds.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    async with web_view(scenario, addr, web_listen, out) as view:
        summary, alert_log = await _run_scenario(scenario, scenario_path, addr, speed, out, progress_interval_s)
        if view is not None:
            summary["web_url"] = view.url
        await hold_view(view, hold_s, out, hold_stop)
    return summary, alert_log


async def _run_scenario(scenario: Scenario, scenario_path: Path, addr: BrokerAddress, speed: float, out: IO[str],
                        progress_interval_s: float) -> tuple[dict[str, object], AlertLog]:
    from sim_feeds.play import iter_feed

    # the rules evaluate runs: default rules with the AIS coverage of the scenario's receivers (docs/RULES.md)
    fusion: Fusion = fusion_for_area(scenario.area, scenario.zones_geojson(), scenario_path.name, scenario_rules(scenario))
    feed = iter_feed(scenario)
    first = next(feed)
    started = time.monotonic()
    latest: dict[str, Tick] = {}
    service = Service(fusion, addr, ServiceOptions(client_id=f"jisf-demo-fusion-{int(time.time())}"),
                      on_tick=lambda tick: latest.__setitem__("tick", tick))
    stop = asyncio.Event()
    sim_stats, alert_log = SimStats(), AlertLog()
    ready = asyncio.Event()
    service_task = asyncio.create_task(service.serve(stop))
    alert_task = asyncio.create_task(watch_alerts(addr, alert_log, started, out, ready))
    await asyncio.wait_for(ready.wait(), 10)
    await asyncio.wait_for(service.link.connected.wait(), 10)
    clock = WarpedClock.starting_now(first.t, speed)
    service.clock = clock  # the service's "now" is the scenario time from here on
    sim_task = asyncio.create_task(publish_scenario(addr, itertools.chain([first], feed), clock, sim_stats))
    print(f"demo: scenario {scenario.name!r} ({(scenario.t_end - scenario.t0) / 60:.0f} min) at {speed:g}x on {addr.url()}", file=out, flush=True)
    try:
        while not sim_task.done():
            await asyncio.wait({sim_task}, timeout=progress_interval_s)
            print(_progress(time.monotonic() - started, clock.now() - first.t, sim_stats, fusion, latest.get("tick")), file=out, flush=True)
        sim_task.result()
        # let the last scan clear the re-order window and one more output tick
        await asyncio.sleep((fusion.config.reorder_window_s + 2 * fusion.config.output_interval_s) / speed + 0.5)
    finally:
        stop.set()
        await service_task
        await asyncio.sleep(0.3)
        alert_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await alert_task
    summary = {
        "scenario": scenario.name,
        "wall_s": round(time.monotonic() - started, 2),
        "messages_published": sim_stats.messages,
        "reports_accepted": sum(fusion.ingest.log.accepted_reports.values()),
        "rejected": fusion.ingest.log.total_rejected(),
        "measurements_fused": fusion.counters.measurements,
        "tracks_confirmed_last_tick": sum(1 for r in (latest["tick"].rows if "tick" in latest else []) if r.status != "tentative"),
        "alerts_raised": len(alert_log.raised),
        "alerts_by_rule": _count_by_rule(alert_log.raised),
        "first_alert_wall_s": None if alert_log.first_raised_wall_s is None else round(alert_log.first_raised_wall_s, 1),
        "sim_max_lag_s": round(sim_stats.max_lag_s, 3),
    }
    return summary, alert_log


def _count_by_rule(alerts: list[dict[str, object]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in alerts:
        counts[str(a["rule"])] = counts.get(str(a["rule"]), 0) + 1
    return dict(sorted(counts.items()))


def _progress(wall: float, scen: float, sim: SimStats, fusion: Fusion, tick: Tick | None) -> str:
    rows = tick.rows if tick else []
    confirmed = sum(1 for r in rows if r.status != "tentative")
    return (f"[{wall:6.1f}s] scenario +{scen / 60:5.1f} min | published {sim.messages} msgs | "
            f"fused {fusion.counters.measurements} meas | tracks {confirmed} confirmed / {len(rows)} | "
            f"alerts raised {fusion.counters.alerts_raised} | rejected {fusion.ingest.log.total_rejected()}")
