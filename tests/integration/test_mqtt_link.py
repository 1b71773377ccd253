"""The MQTT link against a real Mosquitto: delivery, reconnect after a broker restart, flush on stop."""

from __future__ import annotations

import asyncio

import pytest

from fusion.broker import Mosquitto
from fusion.mqtt import BrokerAddress, Link, publisher, subscribe
from fusion.publish import OutMessage

pytestmark = pytest.mark.broker


async def _collect(addr: BrokerAddress, filt: str, n: int, got: list[bytes], ready: asyncio.Event, client_id: str, persistent: bool) -> None:
    agen = subscribe(addr, [filt], client_id=client_id, qos=1, persistent=persistent)
    task = asyncio.ensure_future(agen.__anext__())
    await asyncio.sleep(0.2)
    ready.set()
    _, payload, _ = await task
    got.append(payload)
    async for _, payload, _ in agen:
        got.append(payload)
        if len(got) >= n:
            return


def test_broker_address_parsing() -> None:
    a = BrokerAddress.parse("mqtts://svc:s%40cret@broker.example:8884")
    assert (a.host, a.port, a.tls, a.username, a.password) == ("broker.example", 8884, True, "svc", "s@cret")
    assert BrokerAddress.parse("127.0.0.1").port == 1883
    with pytest.raises(ValueError, match="scheme"):
        BrokerAddress.parse("http://x:1")


async def test_link_receives_and_publishes(mosquitto: Mosquitto) -> None:
    addr = mosquitto.address
    inbound: list[tuple[str, bytes]] = []
    link = Link(addr, "link-a", subscriptions=(("t/in/#", 1),), on_message=lambda tp, p, q, r: inbound.append((tp, p)))
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    await asyncio.wait_for(link.connected.wait(), 5)
    got: list[bytes] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(_collect(addr, "t/out/#", 50, got, ready, "sub-a", False))
    await ready.wait()
    for i in range(50):
        link.outbox.put_nowait(OutMessage(f"t/out/{i}", str(i).encode(), qos=1))
    async with publisher(addr) as publish:
        for i in range(20):
            await publish(OutMessage(f"t/in/{i}", b"x%d" % i, qos=1))
    await asyncio.wait_for(sub, 10)
    for _ in range(100):
        if len(inbound) == 20:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task
    assert sorted(int(p) for p in got) == list(range(50))
    assert [p for _, p in inbound] == [b"x%d" % i for i in range(20)]


async def test_link_survives_broker_restart(mosquitto: Mosquitto) -> None:
    """Messages queued while the broker is down are published after the reconnect; a
    persistent QoS 1 subscriber gets every one of them exactly once after de-duplication."""
    addr = mosquitto.address
    got: list[bytes] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(_collect(addr, "alerts/#", 60, got, ready, "persistent-sub", True))
    await ready.wait()
    link = Link(addr, "link-b", backoff_s=(0.05, 0.5))
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    await asyncio.wait_for(link.connected.wait(), 5)
    for i in range(20):
        link.outbox.put_nowait(OutMessage(f"alerts/{i}", b"%d" % i, qos=1))
    await asyncio.sleep(2.5)  # > autosave_interval (1 s) with margin for a loaded machine: the session is saved
    mosquitto.kill()
    sub.cancel()
    for i in range(20, 40):
        link.outbox.put_nowait(OutMessage(f"alerts/{i}", b"%d" % i, qos=1))
    await asyncio.sleep(0.3)
    mosquitto.start()
    ready2 = asyncio.Event()
    sub2 = asyncio.create_task(_collect(addr, "alerts/#", 60, got, ready2, "persistent-sub", True))
    await ready2.wait()
    await asyncio.wait_for(link.connected.wait(), 10)
    for i in range(40, 60):
        link.outbox.put_nowait(OutMessage(f"alerts/{i}", b"%d" % i, qos=1))
    await asyncio.wait_for(sub2, 15)
    stop.set()
    await task
    assert link.stats.connects >= 2
    assert sorted({int(p) for p in got}) == list(range(60))


async def test_stop_flushes_outbox(mosquitto: Mosquitto) -> None:
    addr = mosquitto.address
    got: list[bytes] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(_collect(addr, "flush/#", 500, got, ready, "sub-c", False))
    await ready.wait()
    link = Link(addr, "link-c")
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    await asyncio.wait_for(link.connected.wait(), 5)
    for i in range(500):
        link.outbox.put_nowait(OutMessage(f"flush/{i}", b"%d" % i, qos=1))
    stop.set()
    await task
    await asyncio.wait_for(sub, 10)
    assert len({int(p) for p in got}) == 500
