"""The service's MQTT link in a child process, so that MQTT I/O runs beside fusion, not in turn with it.

paho-mqtt (under aiomqtt) spends 60-300 us of interpreter time per message (a socket
send per packet, MQTT v5 property objects, 3-5 recv calls per inbound packet: see
docs/bench-mqtt-clients.md). In the service's own process that time took turns with
the fusion worker thread for the interpreter lock, so at thousands of messages a second
the I/O and the worker together needed more than one core while the second core idled.

``LinkProcess`` runs an ordinary ``fusion.mqtt.Link`` (all reconnect, backoff, QoS 1
in-flight and flush behaviour stays there) in a child process, ``python -m
fusion.linkprocess``, and exchanges messages with it over a Unix socket pair, in
batches, as length-prefixed pickles through asyncio streams (never a blocking write,
so neither side can wait on the other's full buffer): inbound messages are forwarded at
most ``_FORWARD_DELAY_S`` after the first of a batch arrives, outbound ones as soon as
the parent's event loop runs. It offers the part of ``Link``'s interface the service
uses: ``run(stop)``, ``outbox`` (``put_nowait``, ``qsize``), ``stats`` and
``connected``; ``on_message`` and ``on_connect`` are called in the parent (the
``on_connect`` messages go out after a round trip, behind what the child already holds).

With ``predecode`` the child also parses each radar scan as it arrives (``fusion.predecode``)
and forwards the parse with the payload: ``on_message`` gets it as a fifth argument (None for
the messages it does not parse), so that the parent's interpreter lock carries only the end
of the decode. Pickling the parse costs little beside the payload it travels with: a scan's
plots are one (M, 4) float64 array (32 kB for 1,000 plots against a 49 kB payload).

Failure behaviour: when the parent dies (SIGKILL included) the child reads the end of
the socket and exits at once without a DISCONNECT, so the broker publishes the
service's will; the child ignores SIGINT and SIGTERM, which are the parent's to handle
(it then flushes through the child before stopping it). If the child dies, ``run`` raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fusion.mqtt import BrokerAddress, Link, LinkStats
from fusion.ops import JsonFormatter, exit_now, setup_logging
from fusion.predecode import Predecoded, Predecoder, PredecodeSpec
from fusion.publish import OutMessage

_FORWARD_DELAY_S = 0.001  # longest an inbound message waits in the child for others to share its write
_FORWARD_MAX = 512  # inbound messages per write at most
_STATS_INTERVAL_S = 0.05  # how often the child reports its counters when they changed
_HEADER = struct.Struct("!I")
_Wire = tuple[str, bytes, int, bool]  # (topic, payload, qos, retain) of a message on the socket
_Inbound = tuple[str, bytes, int, bool, Predecoded | None]  # an inbound message and its parse (fusion.predecode)


def _send(writer: asyncio.StreamWriter, kind: str, body: object) -> None:
    """Queue one frame (never blocks; the stream buffers)."""
    data = pickle.dumps((kind, body), protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_HEADER.pack(len(data)) + data)


async def _recv(reader: asyncio.StreamReader) -> tuple[str, Any]:
    """The next frame; IncompleteReadError at the end of the stream."""
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return pickle.loads(await reader.readexactly(size))  # noqa: S301 - our own child process, over a private socket pair


def _wire(msg: OutMessage) -> _Wire:
    return (msg.topic, msg.payload, msg.qos, msg.retain)


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


class LinkProcess:
    """A ``Link`` in a child process; the same arguments, called and read in the parent."""

    def __init__(
        self,
        addr: BrokerAddress,
        client_id: str | None,
        subscriptions: tuple[tuple[str, int], ...] = (),
        on_message: Callable[[str, bytes, int, bool, Predecoded | None], None] | None = None,
        on_connect: Callable[[], Iterable[OutMessage]] | None = None,
        will: OutMessage | None = None,
        clean_session: bool = True,
        flush_timeout_s: float = 5.0,
        predecode: PredecodeSpec | None = None,
    ) -> None:
        """``predecode``: parse radar scans in the child as the service with these limits and budgets would."""
        self.addr, self.client_id, self.subscriptions = addr, client_id, subscriptions
        self.on_message, self.on_connect, self.will = on_message, on_connect, will
        self.clean_session, self.flush_timeout_s = clean_session, flush_timeout_s
        self.predecode = predecode
        self.predecoded = 0  # inbound messages received with their parse
        self.outbox = _Outbox()
        self.stats = LinkStats()
        self.connected = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Start the child, move messages both ways until ``stop``, then flush through it and stop it."""
        loop = asyncio.get_running_loop()
        proc, ours = _start_child()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        _send(writer, "args", (_log_setup(), (self.addr, self.client_id, self.subscriptions, _wire(self.will) if self.will else None,
                                              self.clean_session, self.flush_timeout_s, self.predecode)))
        receiver = asyncio.create_task(self._receive(reader, writer))
        pump = asyncio.create_task(self._pump(writer))
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({receiver, pump, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if receiver.done():
                raise RuntimeError(f"the MQTT link process ended unexpectedly (exit code {proc.poll()})")
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            rest = [_wire(m) for m in self.outbox.take_nowait()]
            if rest:
                _send(writer, "out", rest)
            _send(writer, "stop", None)
            with contextlib.suppress(TimeoutError):  # the child flushes for at most flush_timeout_s, then says "done"
                await asyncio.wait_for(receiver, self.flush_timeout_s + 5.0)
        finally:
            for t in (receiver, pump, stopper):
                t.cancel()
            writer.close()
            try:
                await loop.run_in_executor(None, proc.wait, 5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                await loop.run_in_executor(None, proc.wait)
            self.stats.connected = False
            self.connected.clear()

    async def _pump(self, writer: asyncio.StreamWriter) -> None:
        while True:
            batch = await self.outbox.take_all()
            _send(writer, "out", [_wire(m) for m in batch])
            await writer.drain()

    async def _receive(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Handle what the child sends until its "done" (or the end of the stream)."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                kind, body = await _recv(reader)
                if kind == "in":
                    if self.on_message is not None:
                        for topic, payload, qos, retain, pre in body:
                            self.predecoded += pre is not None
                            self.on_message(topic, payload, qos, retain, pre)
                elif kind == "stats":
                    self._take_stats(body)
                elif kind == "connect":
                    _send(writer, "out", [_wire(m) for m in (self.on_connect() if self.on_connect else ())])
                elif kind == "done":
                    self._take_stats(body)
                    return

    def _take_stats(self, body: dict[str, Any]) -> None:
        self.outbox.remote_depth = body.pop("outbox_depth")
        for name, value in body.items():
            setattr(self.stats, name, value)
        if self.stats.connected:
            self.connected.set()
        else:
            self.connected.clear()


def _log_setup() -> tuple[str, str]:
    """(format, level) of this process's root logging, for the child to log the same way
    (``fusion.ops.setup_logging``: JSON lines when the service logs JSON)."""
    root = logging.getLogger()
    fmt = "json" if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers) else "text"
    return fmt, logging.getLevelName(root.getEffectiveLevel())


def _start_child() -> tuple[subprocess.Popen[bytes], socket.socket]:
    """``python -m fusion.linkprocess FD``, FD one end of a socket pair (a fresh interpreter:
    unlike multiprocessing's spawn, it does not re-import the parent's main module),
    importing this very ``fusion`` package; returns the process and our end."""
    ours, theirs = socket.socketpair()
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen([sys.executable, "-m", "fusion.linkprocess", str(theirs.fileno())], pass_fds=(theirs.fileno(),), env=env)
    theirs.close()
    return proc, ours


def main(argv: list[str] | None = None) -> None:
    """Child process entry: the socket's file descriptor is the only argument; the parent's
    logging set-up and the Link's arguments are its first frame. SIGINT/SIGTERM are the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = socket.socket(fileno=int((argv if argv is not None else sys.argv[1:])[0]))
    asyncio.run(_child_main(sock))
    exit_now(0)  # disconnected and "done" sent: nothing left to keep, the parent need not wait for a teardown


async def _child_main(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    try:
        _kind, ((log_format, log_level), args) = await _recv(reader)
    except asyncio.IncompleteReadError:
        return
    setup_logging(log_format, log_level)
    addr, client_id, subscriptions, will, clean_session, flush_timeout_s, predecode = args
    parse = Predecoder(predecode) if predecode is not None else None
    stop = asyncio.Event()
    inbound: list[_Inbound] = []
    last_stats: dict[str, Any] = {}

    def forward() -> None:
        if inbound:
            _send(writer, "in", inbound[:])
            inbound.clear()
            send_stats()

    def on_message(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if not inbound:
            loop.call_later(_FORWARD_DELAY_S, forward)
        inbound.append((topic, payload, qos, retain, parse(topic, payload) if parse is not None else None))
        if len(inbound) >= _FORWARD_MAX:
            forward()

    def stats_body() -> dict[str, Any]:
        return {**dataclasses.asdict(link.stats), "outbox_depth": link.outbox.qsize()}

    def send_stats() -> None:
        body = stats_body()
        if body != last_stats:
            last_stats.clear()
            last_stats.update(body)
            _send(writer, "stats", body)

    def on_connect() -> list[OutMessage]:
        """Tell the parent (it answers with its first messages, queued like any other)."""
        send_stats()
        _send(writer, "connect", None)
        return []

    async def from_parent() -> None:
        try:
            while True:
                kind, body = await _recv(reader)
                if kind == "out":
                    for m in body:
                        link.outbox.put_nowait(OutMessage(*m))
                elif kind == "stop":
                    stop.set()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            os._exit(0)  # the parent is gone: drop the connection uncleanly, so the broker publishes the will

    link = Link(addr, client_id, subscriptions=subscriptions, on_message=on_message, on_connect=on_connect,
                will=OutMessage(*will) if will else None, clean_session=clean_session, flush_timeout_s=flush_timeout_s,
                outbox=asyncio.Queue())  # unbounded here: the parent applies the service's overload policy
    listener = asyncio.create_task(from_parent())
    task = asyncio.create_task(link.run(stop))
    while not task.done():
        await asyncio.wait({task}, timeout=_STATS_INTERVAL_S)
        send_stats()
        with contextlib.suppress(ConnectionError):
            await writer.drain()
    forward()
    _send(writer, "done", stats_body())
    await writer.drain()
    listener.cancel()
    task.result()


if __name__ == "__main__":
    main()
