"""The shipped Mosquitto configuration (deploy/mosquitto/) with TLS, passwords and the ACL
(started by tests/integration/secured_broker.py).
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from secured_broker import MAKE_TLS, PASSWORDS, secured_mosquitto

from fusion.broker import Mosquitto
from fusion.mqtt import BrokerAddress, BrokerError, Link, publisher, subscribe
from fusion.publish import OutMessage

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mosquitto, BrokerAddress, int]]:
    """(broker, TLS address without credentials, plain loopback port) of the shipped configuration."""
    with secured_mosquitto(tmp_path_factory.mktemp("etc")) as sec:
        yield sec.broker, sec.tls, sec.plain_port


def as_user(addr: BrokerAddress, user: str) -> BrokerAddress:
    """The address with ``user``'s credentials."""
    return replace(addr, username=user, password=PASSWORDS[user])


async def first_n(addr: BrokerAddress, filters: list[str], n: int, ready: asyncio.Event, got: list[tuple[str, bytes]], client_id: str) -> None:
    """Subscribe, set ``ready`` once subscribed, collect until ``n`` messages arrived."""
    agen: AsyncIterator[tuple[str, bytes, bool]] = subscribe(addr, filters, client_id=client_id, qos=1, on_subscribed=ready.set)
    async for topic, payload, _ in agen:
        got.append((topic, payload))
        if len(got) >= n:
            return


async def test_tls_service_and_alert_subscriber(secured: tuple[Mosquitto, BrokerAddress, int]) -> None:
    """The service reads a sensor's feed and publishes an alert; the analyst receives it, all over TLS with passwords."""
    _, addr, _ = secured
    feeds: list[tuple[str, bytes]] = []
    link = Link(as_user(addr, "jisf-fusion"), "sec-service", subscriptions=(("jisf/v1/feeds/#", 1),),
                on_message=lambda topic, payload, qos, retain: feeds.append((topic, payload)))
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    await asyncio.wait_for(link.connected.wait(), 10)
    alerts: list[tuple[str, bytes]] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(first_n(as_user(addr, "analyst"), ["jisf/v1/alerts/#"], 1, ready, alerts, "sec-analyst"))
    await asyncio.wait_for(ready.wait(), 10)
    await asyncio.sleep(0.2)  # the service's own subscription is sent right after its connect
    async with publisher(as_user(addr, "radar-site1"), client_id="sec-radar1") as publish:
        await publish(OutMessage("jisf/v1/feeds/radar/site1", b'{"scan": 1}', qos=1))
    for _ in range(200):
        if feeds:
            break
        await asyncio.sleep(0.02)
    link.outbox.put_nowait(OutMessage("jisf/v1/alerts/go_fast/7", b'{"alert_id": "a-7"}', qos=1))
    await asyncio.wait_for(sub, 10)
    stop.set()
    await task
    assert feeds == [("jisf/v1/feeds/radar/site1", b'{"scan": 1}')]
    assert alerts == [("jisf/v1/alerts/go_fast/7", b'{"alert_id": "a-7"}')]
    assert link.stats.connects == 1


@pytest.mark.parametrize(
    "addr_of",
    [
        pytest.param(lambda a: a, id="anonymous"),
        pytest.param(lambda a: replace(a, username="radar-site1", password="wrong"), id="wrong-password"),
        pytest.param(lambda a: replace(a, username="nobody", password="x"), id="unknown-user"),
    ],
)
async def test_unauthenticated_client_is_refused(secured: tuple[Mosquitto, BrokerAddress, int], addr_of) -> None:  # noqa: ANN001
    _, addr, _ = secured
    with pytest.raises(BrokerError, match=r"(?i)not authori[sz]ed|bad user ?name or password"):
        async with publisher(addr_of(addr), client_id="sec-intruder"):
            pass


async def test_plain_listener_also_requires_a_password(secured: tuple[Mosquitto, BrokerAddress, int]) -> None:
    _, _, plain_port = secured
    with pytest.raises(BrokerError, match=r"(?i)not authori[sz]ed"):
        async with publisher(BrokerAddress("127.0.0.1", plain_port), client_id="sec-plain-anon"):
            pass
    async with publisher(BrokerAddress("127.0.0.1", plain_port, username="analyst", password=PASSWORDS["analyst"])):
        pass


async def test_tls_refuses_an_untrusted_broker_certificate(secured: tuple[Mosquitto, BrokerAddress, int], tmp_path: Path) -> None:
    """A client that does not trust the deployment CA does not talk to the broker at all."""
    _, addr, _ = secured
    subprocess.run([str(MAKE_TLS), str(tmp_path), "localhost"], check=True, capture_output=True)
    with pytest.raises(BrokerError, match=r"(?i)certificate"):
        async with publisher(replace(as_user(addr, "analyst"), ca_file=str(tmp_path / "ca.crt"))):
            pass


async def test_acl_confines_each_client_to_its_own_topics(secured: tuple[Mosquitto, BrokerAddress, int]) -> None:
    """Forbidden publishes (another sensor's feed, the alert topics, a subscriber writing
    a feed) never reach the service or the analysts; allowed ones do. Each client ends with
    an allowed sentinel: a connection keeps its order, so the sentinel's arrival proves
    that the forbidden messages sent before it were dropped."""
    _, addr, _ = secured
    service_got: list[tuple[str, bytes]] = []
    analyst_got: list[tuple[str, bytes]] = []
    ready_s, ready_a = asyncio.Event(), asyncio.Event()
    service = asyncio.create_task(first_n(as_user(addr, "jisf-fusion"), ["jisf/v1/#"], 2, ready_s, service_got, "acl-service"))
    analyst = asyncio.create_task(first_n(as_user(addr, "analyst"), ["jisf/v1/#", "#"], 1, ready_a, analyst_got, "acl-analyst"))
    await asyncio.wait_for(asyncio.gather(ready_s.wait(), ready_a.wait()), 10)
    async with publisher(as_user(addr, "radar-site1"), client_id="acl-radar1") as publish:
        for topic in ("jisf/v1/feeds/radar/site2", "jisf/v1/feeds/ais/agg1", "jisf/v1/alerts/go_fast/1",
                      "jisf/v1/tracks/surface/1", "jisf/v1/status", "jisf/v1/feeds/radar/site1/extra"):
            await publish(OutMessage(topic, b"forged by radar-site1", qos=1))
        await publish(OutMessage("jisf/v1/feeds/radar/site1", b"sentinel radar-site1", qos=1))
    # another analyst account: one connection per account (use_username_as_clientid)
    async with publisher(as_user(addr, "analyst-2"), client_id="acl-analyst-pub") as publish:
        for topic in ("jisf/v1/feeds/radar/site1", "jisf/v1/alerts/go_fast/1", "jisf/v1/status", "jisf/v1/ops/ack/a-1"):
            await publish(OutMessage(topic, b"forged by analyst", qos=1))
    async with publisher(as_user(addr, "radar-site2"), client_id="acl-radar2") as publish:
        await publish(OutMessage("jisf/v1/feeds/radar/site1", b"forged by radar-site2", qos=1))
        await publish(OutMessage("jisf/v1/feeds/radar/site2", b"sentinel radar-site2", qos=1))
    await asyncio.wait_for(service, 10)
    async with publisher(as_user(addr, "jisf-fusion"), client_id="acl-service-pub") as publish:
        await publish(OutMessage("jisf/v1/alerts/go_fast/1", b"sentinel service", qos=1))
    await asyncio.wait_for(analyst, 10)
    assert sorted(service_got) == [("jisf/v1/feeds/radar/site1", b"sentinel radar-site1"),
                                   ("jisf/v1/feeds/radar/site2", b"sentinel radar-site2")]
    assert analyst_got == [("jisf/v1/alerts/go_fast/1", b"sentinel service")]


async def test_sensor_cannot_read_outputs_or_other_feeds(secured: tuple[Mosquitto, BrokerAddress, int]) -> None:
    """A sensor account may subscribe but is granted no reads: it receives nothing."""
    _, addr, _ = secured
    got: list[tuple[str, bytes]] = []
    ready = asyncio.Event()
    spy = asyncio.create_task(first_n(as_user(addr, "radar-site2"), ["jisf/v1/#"], 1, ready, got, "acl-spy"))
    await asyncio.wait_for(ready.wait(), 10)
    async with publisher(as_user(addr, "jisf-fusion"), client_id="acl-service-pub2") as publish:
        await publish(OutMessage("jisf/v1/alerts/go_fast/2", b"secret", qos=1))
    async with publisher(as_user(addr, "radar-site1"), client_id="acl-radar1b") as publish:
        await publish(OutMessage("jisf/v1/feeds/radar/site1", b"plot", qos=1))
    watcher: list[tuple[str, bytes]] = []
    ready_w = asyncio.Event()
    # an analyst subscribed after the spy sees the next alert; by then the spy has had its chance
    analyst = asyncio.create_task(first_n(as_user(addr, "analyst"), ["jisf/v1/alerts/#"], 1, ready_w, watcher, "acl-watch"))
    await asyncio.wait_for(ready_w.wait(), 10)
    async with publisher(as_user(addr, "jisf-fusion"), client_id="acl-service-pub3") as publish:
        await publish(OutMessage("jisf/v1/alerts/go_fast/3", b"later", qos=1))
    await asyncio.wait_for(analyst, 10)
    await asyncio.sleep(0.1)
    spy.cancel()
    assert watcher == [("jisf/v1/alerts/go_fast/3", b"later")]
    assert got == []
