"""Continuity end to end: ``jisf run`` SIGKILLed twice and its broker restarted once, against an offline run.

The San Andres scenario (an ais_spoofing alert at +1205 s, ais_gap alerts at +1375 and +1980 s, nothing else by +2400 s)
is published by the test at 60x in parts onto a real Mosquitto (persistence on); a persistent
QoS 1 subscriber records the alerts. The service (a subprocess, checkpoint every 4 s) is
killed with SIGKILL as soon as each of the first two alerts reaches the subscriber (so the
alert is almost always newer than the last checkpoint: the journal must carry it) and restarted
from its checkpoint; the broker is killed and restarted while the third part is published
(what is published meanwhile is lost). Compared with an offline run of the same scenario,
by rule and vessel (MMSI), not by time: the same distinct alerts, the same final states,
and no alert id raised twice. A second test puts ghost tracks on the broker and checks that
a starting service clears them and does not reuse their ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import time
from pathlib import Path

import msgspec
import pytest
from test_faults import (
    Seen,
    persistent_subscriber,
    reaped,
    resilient_publish,
    start_service,
    wait_status,
)

from fusion.broker import Mosquitto
from fusion.clock import SIM_CLOCK_TOPIC, WarpedClock
from fusion.mqtt import publisher, subscribe
from fusion.offline import fusion_for_area
from fusion.publish import ALERTS_FILTER, STATUS_TOPIC, TRACKS_FILTER, OutMessage
from fusion.service import Service, ServiceOptions
from sim_feeds.play import iter_feed
from sim_feeds.scenario import load_scenario

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "sim_feeds/scenarios/ais_dark_spoof_san_andres.toml"
END_S = 2400.0
SPEED = 60.0


def offline_alerts(messages: list) -> list[dict[str, object]]:
    """The alerts of an offline run (simulated clock, no broker) over ``messages``."""
    sc = load_scenario(SCENARIO)
    f = fusion_for_area(sc.area, sc.zones_geojson(), sc.name)
    out: list[dict[str, object]] = []
    for m in messages:
        for tick in f.advance(m.t):
            out.extend(msgspec.to_builtins(a) for a in tick.alerts)
        f.accept(m.topic, m.payload, m.t)
    for tick in f.finish():
        out.extend(msgspec.to_builtins(a) for a in tick.alerts)
    return out


def by_subject(alerts: list[dict[str, object]]) -> dict[tuple[str, object], str]:
    """(rule, MMSI) -> "open" or "cleared": the state of the subject's latest alert event."""
    return {(str(a["rule"]), a["mmsi"]): ("cleared" if a["state"] == "cleared" else "open") for a in alerts}


async def _until(pred, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}; service log:\n{log.read_text()[-4000:]}")
        await asyncio.sleep(0.05)


async def test_sigkills_and_broker_restart_keep_alerts(mosquitto: Mosquitto, tmp_path: Path) -> None:
    sc = load_scenario(SCENARIO)
    messages = list(itertools.takewhile(lambda m: m.t < sc.t0 + END_S, iter_feed(sc)))
    parts = [[m for m in messages if lo <= m.t - sc.t0 < hi] for lo, hi in ((0, 1215), (1215, 1385), (1385, END_S))]
    expected = offline_alerts(messages)
    log = tmp_path / "service.log"
    ckpt = tmp_path / "fusion.ckpt"
    ckpt_args = ("--checkpoint-path", str(ckpt), "--checkpoint-interval-s", "4", "--scenario", str(SCENARIO))
    seen, sub_stop = Seen(), asyncio.Event()
    sub_task = asyncio.create_task(persistent_subscriber(mosquitto.address, "continuity-desk", [ALERTS_FILTER, STATUS_TOPIC],
                                                         seen, sub_stop))
    procs = [start_service(mosquitto.address, tmp_path, *ckpt_args)]
    statuses_before = 0

    async def restart() -> dict[str, object]:
        nonlocal statuses_before
        os.kill(procs[-1].pid, signal.SIGKILL)
        procs[-1].wait(10)
        statuses_before = len(seen.status)
        # hold the simulator's clock while the service restarts (a 10 s restart at 60x would be 10 minutes without data)
        async with publisher(mosquitto.address) as publish:
            await publish(OutMessage(SIM_CLOCK_TOPIC, WarpedClock.starting_now(seen_t, 1e-6).encode(), qos=1, retain=True))
        procs.append(start_service(mosquitto.address, tmp_path, *ckpt_args))
        return await wait_status(seen, lambda s: s.get("restored_from") == str(ckpt) and seen.status.index(s) >= statuses_before,
                                 120, "restored_from after the restart", log)

    with reaped(procs):
        await asyncio.wait_for(seen.subscribed.wait(), 30)
        await wait_status(seen, lambda s: s.get("state") == "online", 120, "state online", log)
        restored = []
        for n, (part, rule) in enumerate(zip(parts[:2], ("ais_spoofing", "ais_gap"), strict=True)):
            await asyncio.wait_for(resilient_publish(mosquitto.address, part, WarpedClock.starting_now(part[0].t, SPEED)), 120)
            await _until(lambda rule=rule: any(a["rule"] == rule and a["state"] == "raised" for a in seen.alerts), 60,
                         f"a raised {rule} alert (part {n})", log)
            seen_t = part[-1].t
            restored.append(await restart())
        # the third part with a broker restart in it
        clock = WarpedClock.starting_now(parts[2][0].t, SPEED)
        pub_task = asyncio.create_task(resilient_publish(mosquitto.address, parts[2], clock))
        await asyncio.sleep(max(0.0, clock.scenario_to_wall(sc.t0 + 1600.0) - time.time()))
        mosquitto.kill()
        await asyncio.sleep(max(0.5, clock.scenario_to_wall(sc.t0 + 1660.0) - time.time()))
        mosquitto.start()
        await asyncio.wait_for(pub_task, 180)
        # the service's clock 30 s (scenario) past the last message: everything fused and ticked
        await wait_status(seen, lambda s: float(s.get("t") or 0) >= parts[2][-1].t + 30.0, 60, "the clock past the end", log)
        os.kill(procs[-1].pid, signal.SIGTERM)
        assert procs[-1].wait(60) == 0, log.read_text()[-4000:]
    await wait_status(seen, lambda s: s.get("state") == "offline" and "received" in s, 30, "the final status", log)
    sub_stop.set()
    sub_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sub_task

    got = seen.alerts
    assert all(r["restore_s"] is not None for r in restored), restored
    raised = {(a["alert_id"], a["t"]) for a in got if a["state"] == "raised"}  # a QoS 1 redelivery is the same event
    ids = [aid for aid, _ in raised]
    assert len(ids) == len(set(ids)), f"an alert id raised twice: {sorted(raised)}"
    assert {(a["rule"], a["mmsi"]) for a in got} == {(a["rule"], a["mmsi"]) for a in expected}, (got, expected)
    assert by_subject(got) == by_subject(expected), (by_subject(got), by_subject(expected))
    for aid in {a["alert_id"] for a in got}:  # every alert's events come from one subject
        assert len({(a["rule"], a["mmsi"]) for a in got if a["alert_id"] == aid}) == 1, aid


async def test_starting_service_clears_ghost_tracks(mosquitto: Mosquitto) -> None:
    """Retained tracks of a stopped instance are cleared at start, and their ids are not handed out again."""
    sc = load_scenario(SCENARIO)
    ghosts = [f"jisf/v1/tracks/surface/{i}" for i in (3, 77)] + ["jisf/v1/tracks/air/1000000005"]
    async with publisher(mosquitto.address) as publish:
        for topic in ghosts:
            await publish(OutMessage(topic, b'{"track_id": 0}', qos=1, retain=True))
    fusion = fusion_for_area(sc.area, sc.zones_geojson(), sc.name)
    service = Service(fusion, mosquitto.address, ServiceOptions(client_id="continuity-ghosts", mqtt_io="inline"))
    stop = asyncio.Event()
    task = asyncio.create_task(service.serve(stop))
    try:
        await asyncio.wait_for(service.link.connected.wait(), 30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert service.stats.swept == len(ghosts)
    assert fusion.trackers["surface"].next_id == 78 and fusion.trackers["air"].next_id == 6
    left: list[str] = []
    sentinel = "jisf/v1/test/continuity-done"

    subscribed = asyncio.Event()

    async def collect() -> None:  # retained messages come before anything published after the subscription
        async for topic, _payload, _retain in subscribe(mosquitto.address, [TRACKS_FILTER, sentinel], qos=1,
                                                        on_subscribed=subscribed.set):
            if topic == sentinel:
                return
            left.append(topic)

    async def mark() -> None:
        await subscribed.wait()
        async with publisher(mosquitto.address) as publish:
            await publish(OutMessage(sentinel, b"x", qos=1))

    await asyncio.wait_for(asyncio.gather(collect(), mark()), 30)
    assert left == [], left
