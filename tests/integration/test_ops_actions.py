"""Operator actions through a real Mosquitto: the live service raises a named alert, a display
publishes an acknowledge on jisf/v1/ops/acknowledge/{alert_id}, and a subscriber sees the alert
republished (state "updated") with the action in ``ops``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from fusion.actions import ops_topic
from fusion.broker import Mosquitto
from fusion.clock import WarpedClock
from fusion.core.frame import LocalFrame
from fusion.mqtt import publisher, subscribe
from fusion.offline import fusion_for_area
from fusion.pipeline import FusionConfig
from fusion.publish import OutMessage
from fusion.rules.synthetic import rules
from fusion.service import Service, ServiceOptions
from sensors.ais import encode_payload
from sensors.reports import AisPosition, AisStatic

pytestmark = pytest.mark.broker

AREA = LocalFrame(9.0, 10.3, -79.8, -77.9)
ZONES = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "guna-corridor", "kind": "transit_corridor"},
         "geometry": {"type": "Polygon", "coordinates": [[[-79.5, 9.2], [-78.2, 9.2], [-78.2, 10.1], [-79.5, 10.1], [-79.5, 9.2]]]}}]}
MMSI = 366123456
SPEED = 10.0  # scenario seconds per wall second


async def wait_for(cond: Callable[[], Any], what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = cond()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_acknowledge_is_republished_with_ops(mosquitto: Mosquitto) -> None:
    addr = mosquitto.address
    cfg = rules({"rules": {"zone_entry": {"kinds": ["transit_corridor"], "min_on_s": 0.0}}})
    fusion = fusion_for_area(AREA, ZONES, "ops-test", cfg, FusionConfig(output_interval_s=2.0, reorder_window_s=0.5))
    service = Service(fusion, addr, ServiceOptions(client_id="ops-fusion", status_interval_s=0.5, rejects_interval_s=0.5))
    seen: list[dict[str, Any]] = []
    subscribed = asyncio.Event()

    async def watch() -> None:
        async for _topic, payload, _ in subscribe(addr, ["jisf/v1/alerts/#"], client_id="ops-display", qos=1,
                                                  on_subscribed=subscribed.set):
            seen.append(json.loads(payload))

    stop = asyncio.Event()
    watcher = asyncio.create_task(watch())
    running = asyncio.create_task(service.serve(stop))
    try:
        await asyncio.wait_for(subscribed.wait(), 30)
        await asyncio.wait_for(service.link.connected.wait(), 30)
        t0 = time.time()
        clock = WarpedClock.starting_now(t0, SPEED)
        service.clock = clock
        async with publisher(addr) as publish:
            await publish(OutMessage("jisf/v1/feeds/ais/rx1", encode_payload(
                [AisStatic(t=t0, source="rx1", mmsi=MMSI, name="SEA WITCH", callsign="WDA1234", ship_type=30)]), qos=1))
            k = 0

            def raised() -> dict[str, Any] | None:
                return next((a for a in seen if a["state"] == "raised"), None)

            while raised() is None and k < 300:  # AIS every 2 s (scenario time) until the entry alert is out
                t = t0 + 2.0 * k
                await asyncio.sleep(max(0.0, (t - clock.now()) / SPEED))
                pos = AisPosition(t=t, source="rx1", mmsi=MMSI, lat=9.6, lon=-78.9 + 0.0001 * k, sog_mps=5.0, cog_deg=90.0)
                await publish(OutMessage("jisf/v1/feeds/ais/rx1", encode_payload([pos]), qos=1))
                k += 1
            alert = await wait_for(raised, "the zone_entry alert")
            assert (alert["rule"], alert["zone"], alert["name"], alert["flag"]) == ("zone_entry", "guna-corridor", "SEA WITCH", "US")
            body = {"alert_id": alert["alert_id"], "action": "acknowledge", "by": "watch-1", "why": "cutter tasked", "t": clock.now()}
            await publish(OutMessage(ops_topic("acknowledge", alert["alert_id"]), json.dumps(body).encode(), qos=1))
            # a bad action is rejected and counted, not applied
            await publish(OutMessage(ops_topic("dismiss", alert["alert_id"]), b'{"alert_id": 1}', qos=1))
        updated = await wait_for(lambda: next((a for a in seen if a["state"] == "updated" and a.get("ops")), None),
                                 "the alert republished with ops")
        assert updated["alert_id"] == alert["alert_id"] and updated["name"] == "SEA WITCH"
        assert updated["ops"] == [{"action": "acknowledge", "by": "watch-1", "why": "cutter tasked", "t": body["t"]}]
        await wait_for(lambda: service.fusion.ingest.log.total_rejected("ops") == 1, "the bad action counted as a reject")
        assert service.stats.received["ops"] == 2
    finally:
        stop.set()
        await asyncio.wait_for(running, 60)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
