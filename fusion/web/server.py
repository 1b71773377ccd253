"""``jisf web``: the live map page, its JSON API and live stream, served from the service's MQTT output.

Server: aiohttp. It is asyncio-native like the rest of the service (the MQTT ``Link`` runs on
the same event loop, no second framework or ASGI server), it serves static files,
streaming responses and JSON in one well-kept package, and aio-libs' ``aiohttp-sse`` gives
the Server-Sent Events stream (pings, send timeouts for stalled clients).

Data path: a ``Link`` (fusion/mqtt.py, reconnecting) subscribes to tracks, alerts, operator
actions and status and feeds a ``LivePicture`` (fusion/web/state.py) and, with ``--store``, a
history recorder; every ``--push-interval`` the changes are sent to each stream client as one
``update`` event. Operator actions posted to the API are published on
``jisf/v1/ops/{action}/{alert_id}`` at QoS 1. See docs/WEB.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiohttp import web
from aiohttp_sse import sse_response

from fusion import cliutil
from fusion.cli import broker_address, broker_args, stop_on_signals
from fusion.coastline import land_geojson
from fusion.history import HistoryRecorder, HistoryStore, open_store
from fusion.mqtt import Link
from fusion.publish import (
    ALERTS_FILTER,
    STATUS_TOPIC,
    TOPIC_ROOT,
    TRACKS_FILTER,
    OutMessage,
)
from fusion.web.layers import sensors_geojson, zones_geojson
from fusion.web.state import OPS_PREFIX, Json, LivePicture

log = logging.getLogger("jisf.web")

STATIC_DIR = Path(__file__).with_name("static")
OPENAPI_PATH = Path(__file__).with_name("openapi.json")
ACTIONS = {"ack": "acknowledge", "dismiss": "dismiss"}  # URL verb -> ops topic action
MAX_WHY = 500  # characters of an operator's reason
MAX_BY = 64
STREAM_QUEUE = 256  # update events a stream client may lag behind before it is dropped (it reconnects)
STREAM_TRAIL = 20  # trail points per track in the stream's snapshot
COAST_SNAP_DEG = 0.25  # coastline requests are widened to this grid, so that pans reuse cached answers


# What the web view listens to: tracks (retained), alerts and operator actions (QoS 1), the service's status.
SUBSCRIPTIONS = ((TRACKS_FILTER, 0), (ALERTS_FILTER, 1), (f"{TOPIC_ROOT}/ops/#", 1), (STATUS_TOPIC, 0))


class BadRequest(ValueError):
    """A request parameter was refused; the message names it and its value."""


def _json(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=functools.partial(json.dumps, separators=(",", ":")))


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status=status)


def _query_float(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        v = float(raw)
    except ValueError:
        raise BadRequest(f"{name}: expected a number, got {raw!r}") from None
    if not math.isfinite(v):
        raise BadRequest(f"{name}: expected a finite number, got {raw!r}")
    return v


def _query_int(request: web.Request, name: str, lo: int, hi: int) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        v = int(raw)
    except ValueError:
        raise BadRequest(f"{name}: expected an integer, got {raw!r}") from None
    if not lo <= v <= hi:
        raise BadRequest(f"{name}: expected {lo}..{hi}, got {v}")
    return v


def _query_choice(request: web.Request, name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.query.get(name) or None
    if raw is not None and raw not in choices:
        raise BadRequest(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")
    return raw


def parse_bbox(raw: str | None) -> tuple[float, float, float, float]:
    """``west,south,east,north`` in degrees -> a tuple; BadRequest naming ``bbox`` otherwise."""
    if not raw:
        raise BadRequest("bbox: required, as west,south,east,north in degrees")
    try:
        w, s, e, n = (float(x) for x in raw.split(","))
    except ValueError:
        raise BadRequest(f"bbox: expected four numbers west,south,east,north, got {raw!r}") from None
    if not (-180.0 <= w < e <= 180.0 and -90.0 <= s < n <= 90.0):
        raise BadRequest(f"bbox: expected -180 <= west < east <= 180 and -90 <= south < north <= 90, got {raw!r}")
    return w, s, e, n


def parse_listen(raw: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``) -> (host, port); ValueError naming --listen otherwise."""
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--listen: expected HOST:PORT, got {raw!r}")
    return host.strip("[]"), int(port)


@functools.lru_cache(maxsize=16)
def _land(w: float, s: float, e: float, n: float) -> Json:
    """Land polygons in a (snapped) box; the GeoJSON is cached because the page asks again on every pan."""
    return land_geojson(w, s, e, n)


class HistoryWorker:
    """The history store and its recorder (fusion.history), used from one thread of their own.

    The store does blocking I/O: every call runs on a single worker thread, off the event
    loop, and incoming messages are handed over in batches by ``flush()`` (the recorder is
    not thread-safe, so it is only ever touched from that thread).
    """

    def __init__(self, url: str, thin_s: float) -> None:
        self.url, self.thin_s = url, thin_s
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jisf-web-history")
        self._pending: list[tuple[str, bytes]] = []
        self._store: HistoryStore | None = None
        self._recorder: HistoryRecorder | None = None

    def _open(self) -> None:
        self._store = open_store(self.url)
        self._recorder = HistoryRecorder(self._store, thin_s=self.thin_s)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def open(self) -> None:
        """Open the store (ValueError or OSError from the store for a bad URL)."""
        await self._call(self._open)

    def feed(self, topic: str, payload: bytes) -> None:
        """Queue a track or alert message for the recorder (called on the event loop, cheap)."""
        self._pending.append((topic, payload))

    def _record(self, batch: list[tuple[str, bytes]]) -> None:
        assert self._recorder is not None, "open() first"
        for topic, payload in batch:
            self._recorder.on_message(topic, payload)
        self._recorder.flush()

    async def flush(self) -> None:
        """Hand the queued messages to the recorder and flush it."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        await self._call(self._record, batch)

    async def track_history(self, **query: Any) -> list[Json]:
        """``HistoryStore.track_history`` on the worker thread."""
        assert self._store is not None, "open() first"
        rows: list[Json] = await self._call(functools.partial(self._store.track_history, **query))
        return rows

    async def alerts(self, **query: Any) -> list[Json]:
        """``HistoryStore.alerts`` on the worker thread."""
        assert self._store is not None, "open() first"
        rows: list[Json] = await self._call(functools.partial(self._store.alerts, **query))
        return rows

    async def close(self) -> None:
        """Flush what is queued and stop the worker thread."""
        with contextlib.suppress(Exception):  # closing must not hide the reason we are stopping
            await self.flush()
            if self._store is not None:
                await self._call(self._store.close)
        self._pool.shutdown(wait=True)


@dataclass
class WebOptions:
    """What ``jisf web`` serves: layers, history, stream pacing, the default operator name."""

    zones: Json = field(default_factory=lambda: {"type": "FeatureCollection", "features": []})
    sensors: Json = field(default_factory=lambda: {"type": "FeatureCollection", "features": []})
    push_interval_s: float = 0.5
    trail_points: int = 360
    operator: str = "web"
    history_seed_s: float = 86_400.0  # alerts read back from the store at start, seconds


class WebService:
    """The live picture, the MQTT link, the optional history store and the stream clients."""

    def __init__(self, link: Link, options: WebOptions, history: HistoryWorker | None = None) -> None:
        self.link, self.options, self.history = link, options, history
        self.picture = LivePicture(trail_points=options.trail_points)
        self.clients: set[asyncio.Queue[str | None]] = set()
        self.dropped_clients = 0
        self.sessions = 0  # broker sessions whose subscriptions were acknowledged
        self.url: str | None = None  # the page's address once serving
        link.on_message = self.on_message
        link.on_connect = self.on_connect

    def on_connect(self) -> list[OutMessage]:
        """Link callback, after every (re)connect once the broker acknowledged the subscriptions."""
        self.sessions += 1
        return []

    @property
    def subscribed(self) -> bool:
        """Connected and subscribed in the current session (messages published from now on arrive)."""
        return self.link.stats.connected and self.sessions == self.link.stats.connects

    def on_message(self, topic: str, payload: bytes, _qos: int, _retain: bool) -> None:
        """Link callback: update the picture, queue the message for the history recorder."""
        self.picture.on_message(topic, payload)
        if self.history is not None and not topic.startswith(OPS_PREFIX) and topic != STATUS_TOPIC:
            self.history.feed(topic, payload)

    async def seed_from_history(self) -> None:
        """Load the alerts of the last ``history_seed_s`` from the store (alert events are not retained)."""
        if self.history is None:
            return
        for event in sorted(await self.history.alerts(since=time.time() - self.options.history_seed_s),
                            key=lambda a: float(a.get("t") or 0.0)):
            with contextlib.suppress(ValueError):
                self.picture.add_alert(event)
        self.picture.take_changes()

    async def pump(self, stop: asyncio.Event) -> None:
        """Every push interval: send the picture's changes to the stream clients, flush the recorder."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.options.push_interval_s)
            changes = self.picture.take_changes()
            if changes:
                self.broadcast("update", changes.as_json())
            if self.history is not None:
                try:
                    await self.history.flush()
                except Exception:  # a store failure is logged; the live picture goes on
                    log.exception("history store %s: recording failed", self.history.url)

    def broadcast(self, event: str, data: Json) -> None:
        """Queue one SSE event for every client; a client too far behind is dropped (its browser reconnects)."""
        text = f"{event}\n{json.dumps(data, separators=(',', ':'))}"
        for q in list(self.clients):
            try:
                q.put_nowait(text)
            except asyncio.QueueFull:
                self.dropped_clients += 1
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(None)
                self.clients.discard(q)

    def publish_action(self, alert_id: str, action: str, by: str, why: str) -> Json:
        """Queue an operator action on ``jisf/v1/ops/{action}/{alert_id}`` (QoS 1); returns the payload."""
        payload = {"alert_id": alert_id, "action": action, "by": by, "why": why, "t": round(time.time(), 3)}
        self.link.outbox.put_nowait(OutMessage(f"{OPS_PREFIX}{action}/{alert_id}", json.dumps(payload).encode(), qos=1))
        return payload

    # -- handlers ------------------------------------------------------------------------
    async def index(self, _request: web.Request) -> web.FileResponse:
        """GET /: the map page."""
        return web.FileResponse(STATIC_DIR / "index.html")

    async def tracks(self, request: web.Request) -> web.Response:
        """GET /api/tracks?domain=&status=&trail=."""
        domain = _query_choice(request, "domain", ("surface", "air"))
        status = _query_choice(request, "status", ("tentative", "confirmed", "coasting", "suspect"))
        trail = _query_int(request, "trail", 0, self.options.trail_points) or 0
        rows = self.picture.track_list(domain=domain, status=status, trail=trail)
        return _json({"tracks": rows, "count": len(rows)})

    async def alerts(self, request: web.Request) -> web.Response:
        """GET /api/alerts?since=&rule=&state=&severity=: latest state per alert id, ranked."""
        rows = self.picture.alert_list(
            since=_query_float(request, "since"), rule=request.query.get("rule") or None,
            state=_query_choice(request, "state", ("raised", "updated", "cleared")),
            severity=_query_choice(request, "severity", ("low", "medium", "high")))
        return _json({"alerts": rows, "count": len(rows)})

    async def track_history(self, request: web.Request) -> web.Response:
        """GET /api/tracks/{track_id}/history?since=&until=&limit=."""
        raw = request.match_info["track_id"]
        if not raw.isdigit():
            raise BadRequest(f"track_id: expected an integer, got {raw!r}")
        track_id = int(raw)
        since, until = _query_float(request, "since"), _query_float(request, "until")
        limit = _query_int(request, "limit", 1, 100_000)
        if self.history is None:
            points = self.picture.trail(track_id, since=since, until=until, limit=limit)
            return _json({"track_id": track_id, "source": "memory", "points": points})
        points = await self.history.track_history(track_id=track_id, since=since, until=until, limit=limit)
        # The recorder thins (and writes every push interval): the newest positions are still in memory.
        after = max([float(p["t"]) for p in points] + [since if since is not None else -math.inf])
        points += [p for p in self.picture.trail(track_id, since=after, until=until) if p["t"] > after]
        return _json({"track_id": track_id, "source": "store", "points": points[:limit] if limit else points})

    async def zones(self, _request: web.Request) -> web.Response:
        """GET /api/zones: zones as GeoJSON."""
        return _json(self.options.zones)

    async def sensors(self, _request: web.Request) -> web.Response:
        """GET /api/sensors: sensor sites and coverage as GeoJSON."""
        return _json(self.options.sensors)

    async def coastline(self, request: web.Request) -> web.Response:
        """GET /api/coastline?bbox=west,south,east,north: land polygons (503 without coastline data)."""
        w, s, e, n = parse_bbox(request.query.get("bbox"))
        snap = COAST_SNAP_DEG
        box = (max(-180.0, math.floor(w / snap) * snap), max(-90.0, math.floor(s / snap) * snap),
               min(180.0, math.ceil(e / snap) * snap), min(90.0, math.ceil(n / snap) * snap))
        try:
            land = await asyncio.to_thread(_land, *box)
        except OSError as err:  # the GSHHG data package is missing or damaged
            return _error(503, f"coastline data is not available: {err}")
        return _json(land)

    async def status(self, _request: web.Request) -> web.Response:
        """GET /api/status: the service's retained status and the web server's own counters."""
        p, s = self.picture, self.link.stats
        return _json({"service": p.status, "web": {
            "broker_connected": s.connected, "broker_subscribed": self.subscribed, "broker_connects": s.connects, "received": p.received,
            "rejected": p.rejected, "last_reject": p.last_reject, "tracks": len(p.tracks), "alerts": len(p.alerts),
            "stream_clients": len(self.clients), "stream_clients_dropped": self.dropped_clients,
            "history_store": self.history is not None}})

    async def openapi(self, _request: web.Request) -> web.Response:
        """GET /api/openapi.json."""
        return web.Response(body=OPENAPI_PATH.read_bytes(), content_type="application/json")

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """GET /api/stream: Server-Sent Events, a ``snapshot`` then ``update`` events."""
        q: asyncio.Queue[str | None] = asyncio.Queue(maxsize=STREAM_QUEUE)
        async with sse_response(request, ping_interval=15.0, send_timeout=10.0) as resp:
            await resp.send(json.dumps(self.picture.snapshot(STREAM_TRAIL), separators=(",", ":")), event="snapshot")
            self.clients.add(q)
            closed = asyncio.ensure_future(resp.wait())  # ends when the client goes away
            try:
                while True:
                    getter = asyncio.ensure_future(q.get())
                    await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        break
                    item = getter.result()
                    if item is None:
                        break
                    event, _, data = item.partition("\n")
                    await resp.send(data, event=event)
            except (ConnectionResetError, TimeoutError):
                pass
            finally:
                self.clients.discard(q)
                closed.cancel()
        return resp

    async def action(self, request: web.Request) -> web.Response:
        """POST /api/alerts/{alert_id}/ack|dismiss with optional JSON {"by", "why"}: publish the operator action."""
        alert_id, verb = request.match_info["alert_id"], request.match_info["verb"]
        if alert_id not in self.picture.alerts:
            return _error(404, f"alert_id: unknown alert {alert_id!r}")
        body: object = {}
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                raise BadRequest("body: expected a JSON object") from None
        if not isinstance(body, dict):
            raise BadRequest(f"body: expected a JSON object, got {type(body).__name__}")
        by, why = body.get("by") or self.options.operator, body.get("why") or ""
        if not isinstance(by, str) or len(by) > MAX_BY:
            raise BadRequest(f"by: expected a string of at most {MAX_BY} characters, got {by!r}")
        if not isinstance(why, str) or len(why) > MAX_WHY:
            raise BadRequest(f"why: expected a string of at most {MAX_WHY} characters")
        try:
            payload = self.publish_action(alert_id, ACTIONS[verb], by, why)
        except asyncio.QueueFull:
            return _error(503, "the broker link's outbox is full; try again")
        return _json({"published": payload, "topic": f"{OPS_PREFIX}{ACTIONS[verb]}/{alert_id}"}, status=202)


@web.middleware
async def _bad_requests(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except BadRequest as err:
        return _error(400, str(err))


def build_app(service: WebService) -> web.Application:
    """The aiohttp application: page, static assets, API (routes as in openapi.json)."""
    app = web.Application(middlewares=[_bad_requests])
    s = service
    app.router.add_get("/", s.index)
    app.router.add_static("/static/", STATIC_DIR)
    app.router.add_get("/api/tracks", s.tracks)
    app.router.add_get("/api/tracks/{track_id}/history", s.track_history)
    app.router.add_get("/api/alerts", s.alerts)
    app.router.add_post("/api/alerts/{alert_id}/{verb:ack|dismiss}", s.action)
    app.router.add_get("/api/zones", s.zones)
    app.router.add_get("/api/sensors", s.sensors)
    app.router.add_get("/api/coastline", s.coastline)
    app.router.add_get("/api/status", s.status)
    app.router.add_get("/api/stream", s.stream)
    app.router.add_get("/api/openapi.json", s.openapi)

    async def close_streams(_app: web.Application) -> None:
        for q in list(s.clients):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)

    app.on_shutdown.append(close_streams)
    return app


async def serve(service: WebService, host: str, port: int, stop: asyncio.Event, *, any_port_if_busy: bool = False,
                out: IO[str] | None = None) -> None:
    """Run the link, the pump and the HTTP server until ``stop``; ``service.url`` is set once serving.

    ``any_port_if_busy``: serve on a free port when ``port`` is taken (``jisf demo``) instead of failing.
    """
    if service.history is not None:
        await service.history.open()
        await service.seed_from_history()
    runner = web.AppRunner(build_app(service), shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        if not any_port_if_busy:
            await runner.cleanup()
            raise
        await web.TCPSite(runner, host, 0).start()
    bound = runner.addresses[0][1] if runner.addresses else port
    service.url = f"http://{host}:{bound}/"
    print(f"web: serving {service.url} (broker {service.link.addr.url()})", file=out or sys.stdout, flush=True)
    link_task = asyncio.create_task(service.link.run(stop))
    pump_task = asyncio.create_task(service.pump(stop))
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await asyncio.gather(link_task, pump_task, return_exceptions=True)
        if service.history is not None:
            await service.history.close()


def build_parser() -> argparse.ArgumentParser:
    """``jisf web`` arguments (fusion.cliutil: each also JISF_<OPTION> or JISF_WEB_<OPTION>)."""
    p = cliutil.parser("web", "Live map page, JSON API and history for the fusion service's output")
    broker_args(p, required=True)
    p.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT to serve on (default 127.0.0.1:8080)")
    p.add_argument("--store", help="history store URL (fusion.history): record tracks and alerts, answer history from it")
    p.add_argument("--scenario", help="scenario file whose zones and sensors are drawn")
    p.add_argument("--zones", help="zones GeoJSON file (added to the scenario's zones)")
    p.add_argument("--client-id", help="MQTT client id (default: random; env JISF_WEB_CLIENT_ID)")
    p.add_argument("--operator", default="web", help="operator name for actions posted without one")
    p.add_argument("--push-interval", type=float, default=0.5, help="seconds between live updates to the page (default 0.5)")
    p.add_argument("--trail-points", type=int, default=360, help="recent positions kept per track in memory (default 360)")
    p.add_argument("--thin", type=float, default=30.0, help="history recorder thinning, seconds between stored positions of a track")
    return p


def main(argv: list[str]) -> int:
    """Entry point of ``jisf web``: exit 0 after SIGINT/SIGTERM, 2 for bad options, 1 for a bad file or address in use."""
    return cliutil.run(build_parser(), _main, argv)


def _main(args: argparse.Namespace) -> int:
    try:
        host, port = parse_listen(args.listen)
        if args.push_interval <= 0 or args.trail_points < 1:
            raise ValueError("--push-interval must be > 0 and --trail-points >= 1")
    except ValueError as err:
        raise cliutil.UsageError(str(err)) from None
    scenario = None
    if args.scenario:
        from sim_feeds.scenario import (
            load_scenario,  # seconds to import: only when asked for
        )

        scenario = load_scenario(Path(args.scenario))  # ScenarioError and ZoneFileError name the file and field: exit 1
    options = WebOptions(zones=zones_geojson(scenario, Path(args.zones) if args.zones else None),
                         sensors=sensors_geojson(scenario), push_interval_s=args.push_interval,
                         trail_points=args.trail_points, operator=args.operator)
    link = Link(broker_address(args), args.client_id, subscriptions=SUBSCRIPTIONS,
                on_state=cliutil.state_printer("jisf web"))
    history = HistoryWorker(args.store, args.thin) if args.store else None
    service = WebService(link, options, history)

    async def run() -> None:
        stop = asyncio.Event()
        with stop_on_signals(asyncio.get_running_loop(), stop):
            await serve(service, host, port, stop)

    asyncio.run(run())  # address in use, history store URL or file refused: one line, exit 1 (cliutil)
    return 0
