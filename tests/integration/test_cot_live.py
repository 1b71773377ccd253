"""jisf cot against a real Mosquitto and real TAK-style receivers (UDP datagrams, a TCP CoT stream).

The receivers decode what arrives with takproto, the TAK protocol library (XML CoT -> TAK
message), and check the CoT essentials with ElementTree. Every wait is on a condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import takproto  # type: ignore[import-untyped]

from fusion.broker import Mosquitto
from fusion.cot import CotBridge, CotOptions, CotTarget, run_bridge
from fusion.mqtt import publisher
from fusion.publish import OutMessage

pytestmark = pytest.mark.broker

DEADLINE_S = 60.0
MMSI = 367000001
TRACK_TOPIC = "jisf/v1/tracks/surface/12"
ALERT_TOPIC = "jisf/v1/alerts/go_fast/12"


def track_payload(t: float) -> bytes:
    return json.dumps({"t": t, "track_id": 12, "domain": "surface", "status": "confirmed", "lat": 15.5, "lon": -80.25,
                       "alt_m": None, "vel_e_mps": 12.0, "vel_n_mps": 16.0, "cov_en_m2": [[900.0, 0.0], [0.0, 400.0]],
                       "mmsi": MMSI, "icao24": None, "sources": ["ais", "radar"], "name": "SEA QUEEN"}).encode()


def alert_payload(t: float) -> bytes:
    return json.dumps({"t": t, "alert_id": "go_fast-1-1", "rule": "go_fast", "severity": "high", "state": "raised",
                       "track_id": 12, "lat": 15.5, "lon": -80.25, "zone": "Gulf of Honduras", "mmsi": MMSI,
                       "icao24": None, "reason": "speed 41 kn for 60 s", "related_track_ids": [], "priority": 0.9,
                       "evidence": {}}).encode()


class Received:
    """Events as a TAK client decodes them: (takproto CotEvent, ElementTree element) per event."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ET.Element]] = []
        self.changed = asyncio.Event()

    def add(self, data: bytes) -> None:
        msg = takproto.parse_proto(bytearray(data))
        assert msg is not None, data[:80]
        ev = ET.fromstring(data)
        assert ev.get("version") == "2.0"
        for a in ("uid", "type", "how", "time", "start", "stale"):
            assert ev.get(a), (a, data[:200])
        point = ev.find("point")
        assert point is not None and all(point.get(a) for a in ("lat", "lon", "hae", "ce", "le"))
        assert msg.cotEvent.uid == ev.get("uid") and msg.cotEvent.type == ev.get("type")
        self.events.append((msg.cotEvent, ev))
        self.changed.set()

    async def wait_for(self, pred: Callable[[Any], bool], deadline_s: float = DEADLINE_S) -> Any:
        """The first event (takproto CotEvent) matching ``pred``, waiting up to ``deadline_s``."""
        end = time.monotonic() + deadline_s
        while True:
            for cot, _ in self.events:
                if pred(cot):
                    return cot
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching event in {deadline_s} s; got {[(c.uid, c.type) for c, _ in self.events]}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=min(left, 1.0))


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, rx: Received) -> None:
        self.rx = rx

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.rx.add(data)


async def udp_receiver() -> tuple[asyncio.DatagramTransport, int, Received]:
    rx = Received()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(lambda: _Udp(rx), local_addr=("127.0.0.1", 0))
    return transport, transport.get_extra_info("sockname")[1], rx


def multicast_socket(group: str) -> socket.socket:
    """A UDP socket on a free port that joined ``group`` on the loopback interface (ATAK's SA group listener)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((group, 0))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4s", socket.inet_aton(group),
                                                                             socket.inet_aton("127.0.0.1")))
    return sock


def loopback_multicast_works(group: str) -> bool:
    """Whether this host delivers multicast sent on the loopback interface (network namespaces may not)."""
    with multicast_socket(group) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.settimeout(5.0)
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        tx.sendto(b"probe", (group, rx.getsockname()[1]))
        try:
            return rx.recv(16) == b"probe"
        except OSError:
            return False


class TcpReceiver:
    """A TAK-Server-like plain CoT input: a stream of concatenated XML events per connection."""

    def __init__(self) -> None:
        self.rx = Received()  # every connection's events
        self.per_connection: list[Received] = []
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        mine = Received()
        self.per_connection.append(mine)
        self.writers.append(writer)
        self.rx.changed.set()
        buf = b""
        while chunk := await reader.read(65536):
            buf += chunk
            while b"</event>" in buf:
                one, buf = buf.split(b"</event>", 1)
                self.rx.add(one.strip() + b"</event>")
                mine.add(one.strip() + b"</event>")

    def drop_connections(self) -> None:
        for w in self.writers:
            w.close()
        self.writers.clear()

    async def close(self) -> None:
        self.drop_connections()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def publish(mosquitto: Mosquitto, topic: str, payload: bytes, *, retain: bool = False) -> None:
    async with publisher(mosquitto.address) as pub:
        await pub(OutMessage(topic, payload, qos=1, retain=retain))


async def raise_alert_until_seen(mosquitto: Mosquitto, rx: Received) -> Any:
    """Alerts are not retained: publish until the bridge (whose subscription may still be in flight) shows it."""
    end = time.monotonic() + DEADLINE_S
    while True:
        await publish(mosquitto, ALERT_TOPIC, alert_payload(time.time()))
        try:
            return await rx.wait_for(lambda c: c.uid == "jisf-alert-go_fast-1-1", deadline_s=3.0)
        except AssertionError:
            if time.monotonic() > end:
                raise


async def test_udp_track_alert_and_deletion(mosquitto: Mosquitto) -> None:
    transport, port, rx = await udp_receiver()
    await publish(mosquitto, TRACK_TOPIC, track_payload(time.time()), retain=True)
    stop = asyncio.Event()
    bridge = CotBridge(CotOptions())
    task = asyncio.create_task(run_bridge(mosquitto.address, CotTarget.parse(f"udp://127.0.0.1:{port}"), stop,
                                          resend_s=0, bridge=bridge))
    try:
        track = await rx.wait_for(lambda c: c.uid == f"jisf-mmsi-{MMSI}")
        assert track.type == "a-n-S-X" and track.how == "m-f"
        assert track.detail.contact.callsign == "SEA QUEEN"
        assert track.detail.track.speed == pytest.approx(20.0) and track.detail.track.course == pytest.approx(36.9, abs=0.1)
        assert track.ce == pytest.approx(30.0) and track.staleTime > time.time() * 1000

        marker = await raise_alert_until_seen(mosquitto, rx)
        assert marker.type == "b-m-p-s-m" and "Gulf of Honduras" in marker.detail.xmlDetail
        suspect = await rx.wait_for(lambda c: c.uid == f"jisf-mmsi-{MMSI}" and c.type == "a-s-S-X")
        assert "ALERT go_fast" in suspect.detail.xmlDetail

        await publish(mosquitto, TRACK_TOPIC, b"", retain=True)  # the service deleted the track
        gone = await rx.wait_for(lambda c: c.uid == f"jisf-mmsi-{MMSI}" and c.staleTime == c.sendTime)
        assert gone.staleTime <= time.time() * 1000
    finally:
        stop.set()
        stats = await asyncio.wait_for(task, DEADLINE_S)
        transport.close()
    assert stats.rejected == 0 and stats.tracks_in >= 1 and stats.deletes_in == 1 and stats.sent >= 4


async def test_udp_multicast_to_the_sa_group(mosquitto: Mosquitto) -> None:
    """The ATAK default: events to the SA multicast group 239.2.3.1, here on the loopback interface."""
    group = "239.2.3.1"
    if not loopback_multicast_works(group):
        pytest.skip("this host does not deliver multicast on the loopback interface")
    rx = Received()
    sock = multicast_socket(group)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(lambda: _Udp(rx), sock=sock)
    await publish(mosquitto, TRACK_TOPIC, track_payload(time.time()), retain=True)
    stop = asyncio.Event()
    task = asyncio.create_task(run_bridge(mosquitto.address, CotTarget.parse(f"udp://{group}:{sock.getsockname()[1]}"), stop,
                                          resend_s=0, multicast_if="127.0.0.1"))
    try:
        track = await rx.wait_for(lambda c: c.uid == f"jisf-mmsi-{MMSI}")
        assert track.type == "a-n-S-X"
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE_S)
        transport.close()


async def test_tcp_resends_the_picture_after_reconnecting(mosquitto: Mosquitto) -> None:
    """A TAK server that drops the connection gets the live picture again on the next one."""
    server = TcpReceiver()
    port = await server.start()
    await publish(mosquitto, TRACK_TOPIC, track_payload(time.time()), retain=True)
    stop = asyncio.Event()
    task = asyncio.create_task(run_bridge(mosquitto.address, CotTarget.parse(f"tcp://127.0.0.1:{port}"), stop,
                                          resend_s=0, reconnect_s=(0.2, 1.0)))
    try:
        await server.rx.wait_for(lambda c: c.uid == f"jisf-mmsi-{MMSI}")
        marker = await raise_alert_until_seen(mosquitto, server.rx)
        assert marker.type == "b-m-p-s-m"
        server.drop_connections()
        end = time.monotonic() + DEADLINE_S
        while server.connections < 2:
            assert time.monotonic() < end, "the bridge did not reconnect"
            await asyncio.sleep(0.05)
        second = server.per_connection[1]  # no new MQTT message: what arrives here is the snapshot
        track = await second.wait_for(lambda c: c.uid == f"jisf-mmsi-{MMSI}")
        assert track.type == "a-s-S-X"
        await second.wait_for(lambda c: c.uid == "jisf-alert-go_fast-1-1")
    finally:
        stop.set()
        stats = await asyncio.wait_for(task, DEADLINE_S)
        await server.close()
    assert stats.connects >= 2


def test_cli_over_tcp(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """``jisf cot`` as a process: events over TCP, a clean exit with its counters on SIGTERM."""

    async def scenario() -> None:
        server = TcpReceiver()
        port = await server.start()
        await publish(mosquitto, TRACK_TOPIC, track_payload(1_710_396_000.0), retain=True)  # a 2024 (simulated) time
        env = {**os.environ, "JISF_BROKER": mosquitto.address.url()}
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "fusion.cli", "cot", "--to", f"tcp://127.0.0.1:{port}",
                                                    "--clock", "wall", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            track = await server.rx.wait_for(lambda c: c.uid == f"jisf-mmsi-{MMSI}")
            assert track.type == "a-n-S-X"
            assert track.staleTime > time.time() * 1000  # wall clock: valid now although the data time is 2024
            await publish(mosquitto, TRACK_TOPIC, b"", retain=True)
            await server.rx.wait_for(lambda c: c.uid == f"jisf-mmsi-{MMSI}" and c.staleTime == c.sendTime)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), DEADLINE_S)
            await server.close()
        assert proc.returncode == 0, err.decode()
        stats = json.loads(out.decode().strip().splitlines()[-1])
        assert stats["deletes_in"] == 1 and stats["rejected"] == 0 and stats["sent"] >= 2

    asyncio.run(scenario())
