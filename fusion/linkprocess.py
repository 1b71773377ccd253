"""The service's MQTT link in a child process, so that MQTT I/O runs beside fusion, not in turn with it.

paho-mqtt (under aiomqtt) spends 100-300 us of interpreter time per message (a socket
send per packet, MQTT v5 property objects, 3-5 recv calls per inbound packet: measured
in docs/bench-live.md). In the service's own process that time took turns with the
fusion worker thread for the interpreter lock, so at thousands of messages a second
the I/O and the worker together needed more than one core while the second core idled.

``LinkProcess`` runs an ordinary ``fusion.mqtt.Link`` (all reconnect, backoff, QoS 1
in-flight and flush behaviour stays there) in a child process and exchanges messages
with it over a pipe, in batches: inbound messages are forwarded at most
``_FORWARD_DELAY_S`` after the first one of a batch arrives, outbound ones as soon as
the parent's event loop runs. It offers the parent the part of ``Link``'s interface
the service uses: ``run(stop)``, ``outbox`` (``put_nowait``, ``qsize``), ``stats`` and
``connected``; ``on_message`` and ``on_connect`` are called in the parent.

Failure behaviour: when the parent dies (SIGKILL included) the child sees the pipe close
and exits at once without a DISCONNECT, so the broker publishes the service's will; the
child ignores SIGINT and SIGTERM, which are the parent's to handle (it then flushes
through the child before stopping it). If the child dies, ``run`` raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from typing import Any

from fusion.mqtt import BrokerAddress, Link, LinkStats
from fusion.publish import OutMessage

log = logging.getLogger("jisf.mqtt")

_FORWARD_DELAY_S = 0.001  # longest an inbound message waits in the child for others to share its pipe write
_FORWARD_MAX = 512  # inbound messages per pipe write at most
_STATS_INTERVAL_S = 0.05  # how often the child reports its counters when they changed
_Wire = tuple[str, bytes, int, bool]  # (topic, payload, qos, retain) of a message on the pipe


class _Outbox:
    """The parent's side of the outbox: messages wait here until the pump hands them to the
    child; ``qsize`` counts both sides, so the service's overload policy sees the child's backlog."""

    def __init__(self) -> None:
        self._queue: deque[OutMessage] = deque()
        self._ready = asyncio.Event()
        self.remote_depth = 0

    def put_nowait(self, msg: OutMessage) -> None:
        self._queue.append(msg)
        self._ready.set()

    def qsize(self) -> int:
        return len(self._queue) + self.remote_depth

    def empty(self) -> bool:
        return self.qsize() == 0

    def take_nowait(self) -> list[OutMessage]:
        """Every queued message (possibly none)."""
        batch = list(self._queue)
        self._queue.clear()
        return batch

    async def take_all(self) -> list[OutMessage]:
        """Wait for at least one message, then take every queued one."""
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        return self.take_nowait()


def _wire(msg: OutMessage) -> _Wire:
    return (msg.topic, msg.payload, msg.qos, msg.retain)


class LinkProcess:
    """A ``Link`` in a child process; the same arguments, called and read in the parent."""

    def __init__(
        self,
        addr: BrokerAddress,
        client_id: str | None,
        subscriptions: tuple[tuple[str, int], ...] = (),
        on_message: Callable[[str, bytes, int, bool], None] | None = None,
        on_connect: Callable[[], Iterable[OutMessage]] | None = None,
        will: OutMessage | None = None,
        clean_session: bool = True,
        flush_timeout_s: float = 5.0,
    ) -> None:
        self.addr, self.client_id, self.subscriptions = addr, client_id, subscriptions
        self.on_message, self.on_connect, self.will = on_message, on_connect, will
        self.clean_session, self.flush_timeout_s = clean_session, flush_timeout_s
        self.outbox = _Outbox()
        self.stats = LinkStats()
        self.connected = asyncio.Event()
        self._done = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Start the child, move messages both ways until ``stop``, then flush through it and stop it."""
        loop = asyncio.get_running_loop()
        ctx = multiprocessing.get_context("spawn")  # no fork of a process that runs threads
        conn, child_conn = ctx.Pipe()
        proc = ctx.Process(target=_child, name="jisf-mqtt", daemon=True,
                           args=(child_conn, self.addr, self.client_id, self.subscriptions,
                                 _wire(self.will) if self.will else None, self.clean_session, self.flush_timeout_s))
        proc.start()
        child_conn.close()
        loop.add_reader(conn.fileno(), self._receive, conn)
        pump = asyncio.create_task(self._pump(conn))
        stopper = asyncio.create_task(stop.wait())
        died = asyncio.create_task(self._done.wait())
        try:
            await asyncio.wait({pump, stopper, died}, return_when=asyncio.FIRST_COMPLETED)
            if self._done.is_set():
                raise RuntimeError(f"the MQTT link process exited (code {proc.exitcode})")
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            rest = [_wire(m) for m in self.outbox.take_nowait()]
            if rest:
                conn.send(("out", rest))
            conn.send(("stop", None))
            with contextlib.suppress(TimeoutError):  # the child flushes for at most flush_timeout_s
                await asyncio.wait_for(self._done.wait(), self.flush_timeout_s + 5.0)
        finally:
            for t in (pump, stopper, died):
                t.cancel()
            loop.remove_reader(conn.fileno())
            conn.close()
            await loop.run_in_executor(None, proc.join, 5.0)
            if proc.is_alive():
                proc.kill()
            self.stats.connected = False
            self.connected.clear()

    async def _pump(self, conn: Connection) -> None:
        while True:
            batch = await self.outbox.take_all()
            conn.send(("out", [_wire(m) for m in batch]))

    def _receive(self, conn: Connection) -> None:
        """Everything the child has sent so far (event-loop reader callback)."""
        try:
            while conn.poll():
                kind, body = conn.recv()
                if kind == "in":
                    if self.on_message is not None:
                        for topic, payload, qos, retain in body:
                            self.on_message(topic, payload, qos, retain)
                elif kind == "stats":
                    self._take_stats(body)
                elif kind == "connect":  # first messages after every (re)connect, ahead of the outbox
                    conn.send(("first", [_wire(m) for m in (self.on_connect() if self.on_connect else ())]))
                elif kind == "done":
                    self._take_stats(body)
                    self._done.set()
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(conn.fileno())
            self._done.set()

    def _take_stats(self, body: dict[str, Any]) -> None:
        self.outbox.remote_depth = body.pop("outbox_depth")
        for name, value in body.items():
            setattr(self.stats, name, value)
        if self.stats.connected:
            self.connected.set()
        else:
            self.connected.clear()


def _child(conn: Connection, addr: BrokerAddress, client_id: str | None, subscriptions: tuple[tuple[str, int], ...],
           will: _Wire | None, clean_session: bool, flush_timeout_s: float) -> None:
    """Child process entry: SIGINT/SIGTERM are the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_child_main(conn, addr, client_id, subscriptions, will, clean_session, flush_timeout_s))


async def _child_main(conn: Connection, addr: BrokerAddress, client_id: str | None, subscriptions: tuple[tuple[str, int], ...],
                      will: _Wire | None, clean_session: bool, flush_timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    inbound: list[_Wire] = []
    last_stats: dict[str, Any] = {}

    def forward() -> None:
        if inbound:
            conn.send(("in", inbound[:]))
            inbound.clear()

    def on_message(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if not inbound:
            loop.call_later(_FORWARD_DELAY_S, forward)
        inbound.append((topic, payload, qos, retain))
        if len(inbound) >= _FORWARD_MAX:
            forward()

    def stats_body() -> dict[str, Any]:
        return {**dataclasses.asdict(link.stats), "outbox_depth": link.outbox.qsize()}

    def handle(kind: str, body: Any) -> list[OutMessage] | None:
        """One message from the parent; the messages of a "first" reply are returned."""
        if kind == "first":
            return [OutMessage(*m) for m in body]
        if kind == "out":
            for m in body:
                link.outbox.put_nowait(OutMessage(*m))
        elif kind == "stop":
            stop.set()
        return None

    def on_connect() -> list[OutMessage]:
        """Ask the parent for its first messages after a (re)connect and wait for them (one
        round trip), handling whatever else the parent sends meanwhile."""
        send_stats()
        try:
            conn.send(("connect", None))
            while True:
                first = handle(*conn.recv())
                if first is not None:
                    return first
        except (EOFError, OSError):
            os._exit(0)

    def send_stats() -> None:
        body = stats_body()
        if body != last_stats:
            last_stats.clear()
            last_stats.update(body)
            conn.send(("stats", body))

    def on_parent() -> None:
        try:
            while conn.poll():
                handle(*conn.recv())
        except (EOFError, OSError):
            os._exit(0)  # the parent is gone: drop the connection uncleanly, so the broker publishes the will

    link = Link(addr, client_id, subscriptions=subscriptions, on_message=on_message, on_connect=on_connect,
                will=OutMessage(*will) if will else None, clean_session=clean_session, flush_timeout_s=flush_timeout_s,
                outbox=asyncio.Queue())  # unbounded here: the parent applies the service's overload policy
    loop.add_reader(conn.fileno(), on_parent)
    task = asyncio.create_task(link.run(stop))
    while not task.done():
        await asyncio.wait({task}, timeout=_STATS_INTERVAL_S)
        send_stats()
    forward()
    conn.send(("done", stats_body()))
    task.result()
