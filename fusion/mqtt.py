"""The one module that talks to aiomqtt (2.5.x): connections, reconnects, publishing.

Everything MQTT-specific lives here so that the rest of the project sees three plain
ideas: a ``BrokerAddress``, a ``Link`` that keeps a connection up (reconnecting with
capped, jittered backoff, resubscribing) while moving messages between the broker and
asyncio queues, and ``OutMessage`` records to publish.

Pitfalls handled (see MQTT-FACTS.md): aiomqtt neither reconnects nor bounds its incoming
queue, so the reader only timestamps and hands each message to a callback that applies
our own counted overload policy; QoS 1 publishes are kept ~100 in flight instead of one
awaited round trip at a time; TCP_NODELAY is set on the client socket; a publish that
fails during an outage is retried after the reconnect instead of being lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiomqtt
import paho.mqtt.client as mqtt

from fusion.publish import OutMessage

log = logging.getLogger("jisf.mqtt")

PENDING_CALLS_WARN = 2_000
MAX_IN_FLIGHT = 100  # QoS 1 publishes awaiting their PUBACK, per connection (MQTT-FACTS pitfall 3)
_YIELD_EVERY = 64  # QoS 0 messages the writer sends before letting the event loop run
_PAHO_BACKLOG = 20_000  # QoS 0 packets queued in paho (not yet on the socket) before the writer waits
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


@dataclass(frozen=True)
class BrokerAddress:
    """Where and how to connect: ``mqtt://user:pass@host:port`` or ``mqtts://...`` for TLS.

    TLS verifies the broker's certificate against ``ca_file`` (the system store when
    None) and its host name; ``cert_file``/``key_file`` add a client certificate for
    brokers that require one (mutual TLS).
    """

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"broker port must be 1-65535, got {self.port}")
        if self.password is not None and self.username is None:
            raise ValueError("broker password given without a username")
        if not self.tls and (self.ca_file or self.cert_file or self.key_file):
            raise ValueError(f"ca_file/cert_file/key_file need a TLS broker URL (mqtts://), got {self.url()}")
        if self.key_file and not self.cert_file:
            raise ValueError(f"key_file {self.key_file!r} given without cert_file")

    @classmethod
    def parse(
        cls,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        password_file: str | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> BrokerAddress:
        """Parse a broker URL; explicit credentials override those in the URL.

        ``password_file`` (first line: the password) keeps the password out of the
        process's arguments, where any local user can read it (``ps``); it cannot be
        combined with ``password``.
        """
        if password_file is not None:
            if password is not None:
                raise ValueError(f"give a password or password_file, not both (password_file {password_file!r})")
            password = read_password_file(password_file)
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"broker URL scheme must be mqtt:// or mqtts://, got {url!r}")
        if not parts.hostname:
            raise ValueError(f"broker URL has no host: {url!r}")
        try:
            port = parts.port
        except ValueError as err:
            raise ValueError(f"broker URL has a bad port: {url!r}") from err
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            tls=tls,
            username=username if username is not None else (unquote(parts.username) if parts.username else None),
            password=password if password is not None else (unquote(parts.password) if parts.password else None),
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
        )

    def url(self) -> str:
        """URL without credentials, for logs."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext | None:
        """Client TLS context (certificate and host name verified), None for plain TCP."""
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=self.ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def read_password_file(path: str) -> str:
    """The first line of ``path``, without its line end; ValueError naming the file when unreadable or empty."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"password_file {path!r}: cannot read a password: {err}") from err
    if not lines or not lines[0]:
        raise ValueError(f"password_file {path!r}: the first line (the password) is empty")
    return lines[0]


class BrokerError(ConnectionError):
    """The broker refused the connection (credentials, TLS) or it failed; the message says which."""


def _client(addr: BrokerAddress, *, client_id: str | None, will: OutMessage | None, clean_session: bool, timeout: float = 10.0) -> aiomqtt.Client:
    client = aiomqtt.Client(
        addr.host,
        addr.port,
        username=addr.username,
        password=addr.password,
        identifier=client_id,
        clean_session=clean_session,
        will=aiomqtt.Will(will.topic, will.payload, will.qos, will.retain) if will else None,
        tls_context=addr.tls_context(),
        timeout=timeout,
        max_concurrent_outgoing_calls=1000,
        max_inflight_messages=MAX_IN_FLIGHT,  # paho's own default of 20 would cap the Link's window of QoS 1 publishes
        socket_options=NODELAY,
    )
    # We keep ~100 publishes in flight on purpose (MQTT-FACTS pitfall 3); aiomqtt would
    # otherwise log a warning for every call beyond 10.
    client.pending_calls_threshold = PENDING_CALLS_WARN
    return client


def paho_client(client: aiomqtt.Client) -> mqtt.Client:
    """The paho-mqtt client under an aiomqtt client, used through paho's public API only
    (``on_message``, ``publish``, ``want_write``): the hot paths need it (the docstrings of
    ``Link._read`` and ``Link._write``) and aiomqtt 2.5 exposes it only as the private
    attribute ``_client``. The one place that reaches for it: aiomqtt is pinned to 2.5.x in
    pyproject.toml, and tests/unit/test_mqtt_private.py fails loudly if the attribute goes."""
    paho = getattr(client, "_client", None)
    if not isinstance(paho, mqtt.Client):
        raise RuntimeError(f"aiomqtt {aiomqtt.__version__}: no paho client at Client._client (fusion.mqtt needs aiomqtt 2.5.x)")
    return paho


@dataclass
class LinkStats:
    """Connection health, for the status topic."""

    connects: int = 0
    disconnects: int = 0
    received: int = 0
    published: int = 0
    connected: bool = False
    last_error: str = ""


@dataclass
class Link:
    """A self-healing connection: subscribe, hand inbound messages to ``on_message``, drain ``outbox``.

    ``on_message(topic, payload, qos, retain)`` must be quick (timestamp and enqueue). ``on_connect()`` returns messages to publish first after every (re)connect,
    e.g. the retained status. The loop ends when ``stop`` is set, after flushing the
    outbox for at most ``flush_timeout_s``.

    ``on_state(line)`` is told each change of the connection's state, one line each
    ("broker lost: ...; retrying in N s", "reconnected"), not every failed attempt.
    ``fail_first`` makes a failure of the very first connection raise ``BrokerError``
    (command-line tools report a wrong or absent broker at once, and reconnect after that).
    """

    addr: BrokerAddress
    client_id: str | None
    subscriptions: tuple[tuple[str, int], ...] = ()
    on_message: Callable[[str, bytes, int, bool], None] | None = None
    on_connect: Callable[[], Iterable[OutMessage]] | None = None
    will: OutMessage | None = None
    clean_session: bool = True
    max_in_flight: int = MAX_IN_FLIGHT
    backoff_s: tuple[float, float] = (0.05, 5.0)
    flush_timeout_s: float = 5.0
    outbox: asyncio.Queue[OutMessage] = field(default_factory=lambda: asyncio.Queue(maxsize=100_000))
    stats: LinkStats = field(default_factory=LinkStats)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    on_state: Callable[[str], None] | None = None
    fail_first: bool = False
    _unsent: list[OutMessage] = field(default_factory=list)
    _in_flight: set[asyncio.Task[None]] = field(default_factory=set)  # QoS 1 publishes awaiting their PUBACK

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the connection up until ``stop`` is set; reconnect with capped jittered backoff."""
        delay = self.backoff_s[0]
        down = False  # a connection failed since the last successful one: the next one is a state change
        while not stop.is_set():
            try:
                async with _client(self.addr, client_id=self.client_id, will=self.will, clean_session=self.clean_session) as client:
                    for topic, qos in self.subscriptions:
                        await client.subscribe(topic, qos=qos)
                    for msg in self.on_connect() if self.on_connect else ():
                        await client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
                    self.stats.connects += 1
                    self.stats.connected = True
                    self.connected.set()
                    delay = self.backoff_s[0]
                    log.info("connected to %s as %s", self.addr.url(), self.client_id)
                    if down:
                        down = False
                        self._state("reconnected" if self.stats.connects > 1 else "connected")
                    await self._serve(client, stop)
            except aiomqtt.MqttError as err:
                if self.fail_first and self.stats.connects == 0:
                    raise BrokerError(f"{self.addr.url()}: {err}") from err
                self.stats.connected = False
                self.connected.clear()
                self.stats.disconnects += 1
                self.stats.last_error = str(err)
                wait = delay * random.uniform(0.8, 1.2)
                if not down:
                    down = True
                    what = "lost" if self.stats.connects else "unreachable"
                    log.warning("broker %s %s: %s; retrying in %.2f s", self.addr.url(), what, err, wait)
                    self._state(f"broker {what}: {self.addr.url()}: {err}; retrying in {wait:.1f} s (backoff up to {self.backoff_s[1]:g} s)")
                else:
                    log.debug("broker %s: %s; retrying in %.2f s", self.addr.url(), err, wait)
                with contextlib.suppress(TimeoutError):  # the backoff wait ends early on stop
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                delay = min(delay * 2.0, self.backoff_s[1])
        self.stats.connected = False
        self.connected.clear()

    def _state(self, line: str) -> None:
        if self.on_state is not None:
            self.on_state(line)

    def backlog(self) -> int:
        """Messages not yet acknowledged by (QoS 1) or handed to (QoS 0) the broker: queued, unsent, in flight."""
        return self.outbox.qsize() + len(self._unsent) + len(self._in_flight)

    async def _serve(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """Read and write until ``stop`` (then flush) or a connection error (re-raised)."""
        stopper = asyncio.create_task(stop.wait())
        # The reader also runs without a handler: iterating the message stream is how
        # aiomqtt 2.x reports a lost connection.
        tasks = {stopper, asyncio.create_task(self._write(client)), asyncio.create_task(self._read(client, self.on_message))}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                await self._flush(client)
                # QoS 1 publishes the writer still has in flight finish before the writer is
                # cancelled: a cancelled one would be lost with the connection.
                deadline = time.monotonic() + self.flush_timeout_s
                while self._in_flight and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                return
            for t in done:
                exc = t.exception()
                if exc is not None:
                    raise exc
            raise aiomqtt.MqttError("connection loop ended")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, client: aiomqtt.Client, handle: Callable[[str, bytes, int, bool], None] | None) -> None:
        """Hand each inbound message to ``handle``, straight from paho's read callback.

        aiomqtt's message iterator costs an asyncio queue, a task and a wait per message
        (about 80 us of event-loop time in all, measured at 2,000 AIS messages/s), so the
        handler is installed as paho's ``on_message``; the iterator is still awaited
        because that is how aiomqtt 2.x reports a lost connection (and it delivers what
        arrived before the handler was installed).
        """

        def deliver(payload: object, topic: str, qos: int, retain: bool) -> None:
            self.stats.received += 1
            if handle is not None:
                handle(topic, payload if isinstance(payload, bytes) else str(payload or "").encode(), qos, retain)

        def on_message(_client: object, _userdata: object, m: mqtt.MQTTMessage) -> None:
            deliver(m.payload, m.topic, m.qos, bool(m.retain))

        paho_client(client).on_message = on_message
        async for m in client.messages:
            deliver(m.payload, str(m.topic), m.qos, bool(m.retain))

    async def _write(self, client: aiomqtt.Client) -> None:
        """Publish from the outbox: QoS 0 inline, QoS 1 with up to ``max_in_flight`` outstanding.

        A QoS 0 message needs no acknowledgement, so it is handed to paho's packet queue
        directly, and paho writes queued packets together when the socket is writable:
        awaiting aiomqtt's ``publish`` (which waits for each packet's write) cost about 140 us
        of event-loop time per message, which at thousands of track updates a second
        competed with the fusion worker for the interpreter. The writer waits while paho
        holds more than ``_PAHO_BACKLOG`` unsent packets, and yields to the loop every
        ``_YIELD_EVERY`` messages so that the reader keeps draining the socket.
        A publish that fails or is interrupted by a disconnect is kept in ``_unsent`` and goes
        out first on the next connection (at-least-once; subscribers de-duplicate alerts by
        alert_id). The reader notices the lost connection and ends the session.
        """
        sem = asyncio.Semaphore(self.max_in_flight)
        pending = self._in_flight

        async def one(msg: OutMessage) -> None:
            try:
                await client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
                self.stats.published += 1
            except aiomqtt.MqttError:
                self._unsent.append(msg)
            except asyncio.CancelledError:
                self._unsent.append(msg)
                raise
            finally:
                sem.release()

        def start(msg: OutMessage) -> None:
            task = asyncio.create_task(one(msg))
            pending.add(task)
            task.add_done_callback(pending.discard)

        paho = paho_client(client)  # QoS 0 goes straight to its packet queue
        unwritten: deque[mqtt.MQTTMessageInfo] = deque()  # QoS 0 publishes handed to paho, oldest first

        def backlog() -> int:
            """QoS 0 packets paho has not yet written (it marks each ``is_published`` once written, in order)."""
            while unwritten and unwritten[0].is_published():
                unwritten.popleft()
            return len(unwritten)

        async def send(msg: OutMessage) -> None:
            if msg.qos == 0:
                while backlog() > _PAHO_BACKLOG:  # the socket is slower than we produce: wait for it
                    await asyncio.sleep(0.001)
                info = paho.publish(msg.topic, msg.payload, qos=0, retain=msg.retain)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    self._unsent.append(msg)
                    raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
                unwritten.append(info)
                self.stats.published += 1
                return
            await sem.acquire()
            start(msg)

        try:
            n = 0
            while self._unsent:
                await send(self._unsent.pop(0))
            while True:
                msg = self.outbox.get_nowait() if not self.outbox.empty() else await self.outbox.get()
                await send(msg)
                n += 1
                if n % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        finally:
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _flush(self, client: aiomqtt.Client) -> None:
        deadline = time.monotonic() + self.flush_timeout_s
        while (self._unsent or not self.outbox.empty()) and time.monotonic() < deadline:
            msg = self._unsent.pop(0) if self._unsent else self.outbox.get_nowait()
            await client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain, timeout=max(0.1, deadline - time.monotonic()))
            self.stats.published += 1
        while paho_client(client).want_write() and time.monotonic() < deadline:  # QoS 0 packets paho has not written yet
            await asyncio.sleep(0.002)


@asynccontextmanager
async def _connected(addr: BrokerAddress, *, client_id: str | None, clean_session: bool) -> AsyncIterator[aiomqtt.Client]:
    """One connection; aiomqtt errors come out as ``BrokerError`` naming the broker."""
    try:
        async with _client(addr, client_id=client_id, will=None, clean_session=clean_session) as client:
            yield client
    except aiomqtt.MqttError as err:
        raise BrokerError(f"{addr.url()}: {err}") from err


@asynccontextmanager
async def session(addr: BrokerAddress, *, client_id: str | None = None) -> AsyncIterator[aiomqtt.Client]:
    """A plain clean-session connection that both subscribes and publishes (BrokerError when it fails)."""
    async with _connected(addr, client_id=client_id, clean_session=True) as client:
        yield client


@asynccontextmanager
async def publisher(addr: BrokerAddress, *, client_id: str | None = None) -> AsyncIterator[Callable[[OutMessage], asyncio.Future[None]]]:
    """A plain connection for tools (sim, replay): yields ``publish(msg)`` that returns an awaitable.

    BrokerError when the broker refuses the connection or it fails.
    """
    async with _connected(addr, client_id=client_id, clean_session=True) as client:

        def publish(msg: OutMessage) -> asyncio.Future[None]:
            return asyncio.ensure_future(client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain))

        yield publish


async def subscribe(
    addr: BrokerAddress,
    filters: Iterable[str],
    *,
    client_id: str | None = None,
    qos: int = 1,
    persistent: bool = False,
    on_subscribed: Callable[[], None] | None = None,
) -> AsyncIterator[tuple[str, bytes, bool]]:
    """Yield (topic, payload, retain) for messages matching ``filters`` on one connection.

    ``persistent`` keeps a broker-side session under ``client_id`` (clean session off), so
    that QoS 1 messages published while the subscriber is away are delivered on return.
    ``on_subscribed()`` is called once the broker has acknowledged every subscription.
    BrokerError when the broker refuses the connection or it fails.
    """
    if persistent and not client_id:
        raise ValueError("a persistent subscription needs a client_id")
    async with _connected(addr, client_id=client_id, clean_session=not persistent) as client:
        for f in filters:
            await client.subscribe(f, qos=qos)
        if on_subscribed is not None:
            on_subscribed()
        async for m in client.messages:
            payload = m.payload if isinstance(m.payload, bytes) else str(m.payload or "").encode()
            yield str(m.topic), payload, bool(m.retain)


@dataclass
class PaceStats:
    """What a paced publisher did: messages queued on time, their payload bytes, those dropped."""

    messages: int = 0
    bytes: int = 0
    dropped: int = 0  # due while the outbox was full (a long outage), or still unsent when stopped
    published: int = 0  # handed to (QoS 0) or acknowledged by (QoS 1) the broker, including on_connect messages
    max_lag_s: float = 0.0  # worst queueing time behind schedule, wall seconds


async def publish_timed(
    addr: BrokerAddress,
    timed: Iterable[tuple[float, OutMessage]],
    stats: PaceStats,
    *,
    client_id: str | None = None,
    on_connect: Callable[[], Iterable[OutMessage]] | None = None,
    on_state: Callable[[str], None] | None = None,
    max_backlog: int = 100_000,
) -> None:
    """Publish each ``(due, message)`` at wall time ``due`` (Unix s) through a self-healing ``Link``.

    Pacing never waits for the broker: during an outage messages keep being queued at their
    due times (up to ``max_backlog``, then counted in ``stats.dropped``) and go out late, in
    order, after the reconnect, so publishing resumes where it was. QoS 0 messages paho had
    accepted but not yet written when the connection broke are lost with it (not counted).
    At the end it waits until the broker has taken the backlog (through any further
    outage). ``BrokerError`` when the first connection fails.
    """
    link = Link(addr, client_id, on_connect=on_connect, on_state=on_state, fail_first=True,
                outbox=asyncio.Queue(maxsize=max_backlog))
    stop = asyncio.Event()
    runner = asyncio.create_task(link.run(stop))
    try:
        connected = asyncio.create_task(link.connected.wait())
        await asyncio.wait({runner, connected}, return_when=asyncio.FIRST_COMPLETED)
        connected.cancel()
        if runner.done():
            runner.result()  # the first connection failed: BrokerError
        for due, msg in timed:
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                stats.max_lag_s = max(stats.max_lag_s, -delay)
            try:
                link.outbox.put_nowait(msg)
            except asyncio.QueueFull:
                stats.dropped += 1
                continue
            stats.messages += 1
            stats.bytes += len(msg.payload)
            if link.outbox.qsize() > 1000:  # let the writer run when messages are due faster than the loop turns
                await asyncio.sleep(0)
        while link.backlog() and not runner.done():
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await runner
        stats.dropped += link.outbox.qsize() + len(link._unsent)
        stats.published = link.stats.published
