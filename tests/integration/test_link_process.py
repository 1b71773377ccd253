"""The MQTT link in a child process (fusion.linkprocess) against a real Mosquitto: messages both
ways in order, on_connect messages after the connect, a clean stop that flushes, and the will
published when the parent process is killed (the child must not outlive it)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fusion.broker import Mosquitto
from fusion.ingest import Ingest
from fusion.linkprocess import LinkProcess
from fusion.mqtt import publisher, subscribe
from fusion.offline import fusion_for_area
from fusion.pipeline import FusionConfig
from fusion.publish import OutMessage
from fusion.service import Service, ServiceOptions
from sensors.radar import encode as encode_scan
from sensors.reports import RadarPlot, RadarScan
from sim_feeds.scenario import load_scenario, resolve_scenario

pytestmark = pytest.mark.broker


async def _first(agen, n: int, timeout: float) -> list[tuple[str, bytes, bool]]:  # noqa: ANN001 - subscribe() generator
    out: list[tuple[str, bytes, bool]] = []

    async def take() -> None:
        async for m in agen:
            out.append(m)
            if len(out) >= n:
                return

    await asyncio.wait_for(take(), timeout)
    return out


async def test_messages_both_ways_on_connect_and_flush_on_stop(mosquitto: Mosquitto) -> None:
    addr = mosquitto.address
    inbound: list[tuple[str, bytes]] = []
    link = LinkProcess(addr, "lp-a", subscriptions=(("t/in/#", 1),), on_message=lambda tp, p, q, r, pre: inbound.append((tp, p)),
                       on_connect=lambda: [OutMessage("t/out/hello", b"online", qos=1, retain=True)])
    sub = subscribe(addr, ["t/out/#"], client_id="lp-sub", qos=1)
    first = asyncio.ensure_future(sub.__anext__())
    await asyncio.sleep(0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    await asyncio.wait_for(link.connected.wait(), 10)
    assert (await asyncio.wait_for(first, 10))[:2] == ("t/out/hello", b"online")
    for i in range(300):  # QoS 0 and 1 mixed: each kind keeps its order (as with the in-process Link)
        link.outbox.put_nowait(OutMessage(f"t/out/{i}", str(i).encode(), qos=i % 2))
    async with publisher(addr) as publish:
        for i in range(200):
            await publish(OutMessage(f"t/in/{i}", b"x%d" % i, qos=1))
    got = await _first(sub, 300, 20)
    seq = [int(p) for _, p, _ in got]
    assert sorted(seq) == list(range(300))
    assert [i for i in seq if i % 2 == 0] == list(range(0, 300, 2)) and [i for i in seq if i % 2] == list(range(1, 300, 2))
    for _ in range(200):
        if len(inbound) == 200:
            break
        await asyncio.sleep(0.02)
    assert inbound == [(f"t/in/{i}", b"x%d" % i) for i in range(200)]
    for _ in range(100):  # the child reports its counters every few tens of ms
        if link.stats.received == 200:
            break
        await asyncio.sleep(0.02)
    assert link.stats.connects == 1 and link.stats.received == 200
    # queued just before stop: flushed through the child before it ends
    for i in range(50):
        link.outbox.put_nowait(OutMessage(f"t/out/last/{i}", b"%d" % i, qos=1))
    stop.set()
    await asyncio.wait_for(task, 20)
    assert not link.connected.is_set()
    tail = await _first(sub, 50, 10)
    assert [p for _, p, _ in tail] == [b"%d" % i for i in range(50)]
    await sub.aclose()


_PARENT = textwrap.dedent("""
    import asyncio, sys
    from fusion.linkprocess import LinkProcess
    from fusion.mqtt import BrokerAddress
    from fusion.ops import setup_logging
    from fusion.publish import OutMessage

    setup_logging("json", "info")

    async def main() -> None:
        link = LinkProcess(BrokerAddress("127.0.0.1", int(sys.argv[1])), "lp-parent",
                           will=OutMessage("t/status", b"offline", qos=1, retain=True),
                           on_connect=lambda: [OutMessage("t/status", b"online", qos=1, retain=True)])
        task = asyncio.create_task(link.run(asyncio.Event()))
        await link.connected.wait()
        print("connected", flush=True)
        await task

    asyncio.run(main())
""")


async def test_parent_killed_child_exits_and_will_is_published(mosquitto: Mosquitto) -> None:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(mosquitto.port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, parent.stdout.readline), 20)  # type: ignore[union-attr]
        assert line.strip() == "connected"
        sub = subscribe(mosquitto.address, ["t/status"], client_id="lp-watch", qos=1)
        assert (await _first(sub, 1, 10))[0][1] == b"online"
        children = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 1
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        assert (await _first(sub, 1, 15))[0][1] == b"offline"  # the child dropped the connection: the broker sent the will
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(f"/proc/{children[0]}"):
            await asyncio.sleep(0.05)
        assert not os.path.exists(f"/proc/{children[0]}"), "the MQTT link process outlived its parent"
        await sub.aclose()
        # the child logged as the parent was set up to: JSON lines (here its "connected" line)
        lines = [json.loads(line) for line in parent.stderr.read().splitlines() if line.startswith("{")]  # type: ignore[union-attr]
        assert any(r["logger"] == "jisf.mqtt" and r["msg"].startswith("connected to") for r in lines), lines
    finally:
        if parent.poll() is None:
            parent.kill()


async def test_radar_scans_parsed_in_the_link_process_are_fused_as_in_process(mosquitto: Mosquitto) -> None:
    """The service (its link in a child process) gets every radar scan parsed and converted there
    (``fusion.predecode``) and counts the same accepted plots and rejects as an in-process ingest of
    the same payloads: good scans, a bad plot, a wrong site, a duplicate."""
    scenario = load_scenario(resolve_scenario("minimal"))
    a = scenario.area
    site = dict(sensor_lat=(a.lat_min + a.lat_max) / 2, sensor_lon=(a.lon_min + a.lon_max) / 2, sensor_alt_m=30.0,
                sigma_range_m=30.0, sigma_az_deg=0.2)
    fusion = fusion_for_area(scenario.area, scenario.zones_geojson(), "lp-decode", None, FusionConfig(reorder_window_s=0.1))
    service = Service(fusion, mosquitto.address, ServiceOptions(client_id="lp-decode", sweep_retained=False))
    assert isinstance(service.link, LinkProcess)
    stop = asyncio.Event()
    task = asyncio.create_task(service.serve(stop))
    await asyncio.wait_for(service.link.connected.wait(), 20)
    now = time.time()
    payloads = [encode_scan(RadarScan(site="s1", t=now + 0.1 * k, scan_id=k, **site,
                                      plots=[RadarPlot(range_m=2_000.0 + 500.0 * j + k, az_deg=7.0 * j) for j in range(20)]))
                for k in range(4)]
    payloads.append(encode_scan(RadarScan(site="s1", t=now + 0.5, scan_id=9, **site,
                                          plots=[RadarPlot(range_m=-5.0, az_deg=1.0), RadarPlot(range_m=900.0, az_deg=1.0)])))
    payloads.append(encode_scan(RadarScan(site="s2", t=now + 0.6, scan_id=10, **site)))  # the topic's site is s1
    payloads.append(payloads[0])  # a duplicate
    async with publisher(mosquitto.address) as publish:
        for p in payloads:
            await publish(OutMessage("jisf/v1/feeds/radar/s1", p, qos=1))
    deadline = time.monotonic() + 30
    while service.stats.fused.total() < len(payloads) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 30)
    assert service.link.predecoded == len(payloads)
    log = fusion.ingest.log
    assert dict(log.accepted_messages) == {"radar": 5} and dict(log.accepted_reports) == {"radar": 5}
    assert dict(log.rejected) == {("radar", "plots[*].range_m"): 1, ("radar", "site"): 1, ("radar", "payload"): 1}
    offline = Ingest(fusion.frame)
    assert [offline.accept("jisf/v1/feeds/radar/s1", p, now + 1.0) for p in payloads] == [20, 20, 20, 20, 1, 0, 0]
    assert (offline.log.accepted_reports, offline.log.rejected) == (log.accepted_reports, log.rejected)
