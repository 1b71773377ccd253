"""The link's outbox under a burst of track updates: QoS 0 goes straight to paho's packet
queue (no task per message), QoS 1 alerts keep their acknowledged path; nothing is lost
and each topic's messages arrive in order."""

from __future__ import annotations

import asyncio
import json

import pytest

from fusion.broker import Mosquitto
from fusion.mqtt import Link, subscribe
from fusion.publish import OutMessage

pytestmark = pytest.mark.broker

N_TRACKS, ROUNDS = 500, 6  # 3,000 QoS 0 retained updates, plus one QoS 1 alert per round


async def test_burst_of_qos0_updates_and_qos1_alerts_all_arrive_in_order(mosquitto: Mosquitto) -> None:
    addr = mosquitto.address
    got: list[tuple[str, bytes]] = []
    ready = asyncio.Event()
    total = N_TRACKS * ROUNDS + ROUNDS

    async def collect() -> None:
        agen = subscribe(addr, ["jisf/v1/tracks/#", "jisf/v1/alerts/#"], client_id="outbox-sub", qos=1,
                         on_subscribed=ready.set)
        async for topic, payload, _ in agen:
            got.append((topic, payload))
            if len(got) >= total:
                return

    sub = asyncio.create_task(collect())
    await asyncio.wait_for(ready.wait(), 10)
    link = Link(addr, "outbox-pub")
    stop = asyncio.Event()
    run = asyncio.create_task(link.run(stop))
    await asyncio.wait_for(link.connected.wait(), 10)
    for r in range(ROUNDS):  # all queued at once, as a tick's output is
        for i in range(N_TRACKS):
            link.outbox.put_nowait(OutMessage(f"jisf/v1/tracks/surface/{i}", json.dumps({"round": r}).encode(), qos=0, retain=True))
        link.outbox.put_nowait(OutMessage(f"jisf/v1/alerts/go_fast/{r}", json.dumps({"round": r}).encode(), qos=1))
    await asyncio.wait_for(sub, 30)
    assert link.stats.published == total
    stop.set()
    await run
    rounds: dict[str, list[int]] = {}
    for topic, payload in got:
        rounds.setdefault(topic, []).append(json.loads(payload)["round"])
    assert len([t for t in rounds if "/tracks/" in t]) == N_TRACKS
    assert all(r == list(range(ROUNDS)) for t, r in rounds.items() if "/tracks/" in t)
    assert sorted(r for t, rs in rounds.items() if "/alerts/" in t for r in rs) == list(range(ROUNDS))


async def test_retained_track_state_is_the_last_update(mosquitto: Mosquitto) -> None:
    addr = mosquitto.address
    link = Link(addr, "outbox-retain")
    stop = asyncio.Event()
    run = asyncio.create_task(link.run(stop))
    await asyncio.wait_for(link.connected.wait(), 10)
    for r in range(3):
        link.outbox.put_nowait(OutMessage("jisf/v1/tracks/surface/42", json.dumps({"round": r}).encode(), qos=0, retain=True))
    stop.set()  # the stop flushes what is queued
    await run
    agen = subscribe(addr, ["jisf/v1/tracks/#"], client_id="outbox-late", qos=1)
    topic, payload, retain = await asyncio.wait_for(agen.__anext__(), 10)
    await agen.aclose()
    assert (topic, json.loads(payload), retain) == ("jisf/v1/tracks/surface/42", {"round": 2}, True)
