"""100,000+ fuzzed MQTT messages through the live service, interleaved with a clean scenario stream,
on the shipped secured Mosquitto configuration (deploy/mosquitto).

Fuzzed payloads come from the seeded mutators of tests/property/test_decoder_fuzz.py, one
MQTT message per line via ``mosquitto_pub -l``, each feed kind from a sensor account on the
one topic its ACL allows (satellite detections, which have no sensor account in the shipped
ACL, from the simulator account, before the clean stream: one connection per account), plus
oversized payloads and unknown topics. The service's budgets are raised so that the fuzz is
decoded, not shed at intake (budgets: test_fairness). The service must stay up, account for
every message (accepted + rejected + shed == received, per feed), publish rejects summaries on
``jisf/v1/rejects/{feed}``, and end with the confirmed tracks of the clean stream only.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import random
import subprocess
import time
from pathlib import Path

import msgspec
import pytest
import test_faults as faults
from secured_broker import PASSWORDS, Secured, until

from fusion.clock import WarpedClock
from fusion.intake import BUDGETED_KINDS, Rate, SourceBudgets
from fusion.mqtt import publisher, subscribe
from fusion.offline import fusion_for_area
from fusion.pipeline import FusionConfig, Tick
from fusion.publish import OutMessage
from fusion.service import Service, ServiceOptions
from sensors.limits import MAX_PAYLOAD_BYTES
from sim_feeds.scenario import load_scenario, resolve_scenario

pytestmark = pytest.mark.broker

FUZZ_PER_FEED = 25_000
# the account and its permitted topic of each feed kind (deploy/mosquitto/acl)
SENDERS = {"ais": ("ais-agg1", "jisf/v1/feeds/ais/agg1"), "adsb": ("adsb-rx1", "jisf/v1/feeds/adsb/rx1"),
           "radar": ("radar-site2", "jisf/v1/feeds/radar/site2"), "oth": ("oth-site1", "jisf/v1/feeds/oth/site1"),
           "sat": ("jisf-sim", "jisf/v1/feeds/sat/fuzz")}
_spec = importlib.util.spec_from_file_location("decoder_fuzz", Path(__file__).resolve().parents[1] / "property" / "test_decoder_fuzz.py")
assert _spec is not None and _spec.loader is not None
fz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fz)
resilient_publish, scenario_part = faults.resilient_publish, faults.scenario_part


def fuzz_lines(kind: str, n: int, seed: int) -> bytes:
    """``n`` mutated payloads of ``kind``, one per line.

    ``mosquitto_pub -l`` reads C strings: newlines inside a payload become spaces and NUL
    bytes 0x01 (NUL-bearing payloads are covered by tests/property/test_decoder_fuzz.py); none is empty.
    """
    rng = random.Random(f"live-fuzz-{kind}-{seed}")
    _, seeds = fz.FEEDS[kind]
    out = []
    for _ in range(n):
        if kind in fz.JSON_SEEDS and rng.random() < 0.3:
            p = fz._json_leaf(rng, fz.JSON_SEEDS[kind])
        else:
            p = rng.choice(fz.MUTATIONS)(rng, rng.choice(seeds))
        p = p.replace(b"\n", b" ").replace(b"\x00", b"\x01")[:4000] or b"x"
        out.append(p)
    return b"\n".join(out) + b"\n"


def mosquitto_pub(sec: Secured, kind: str, path: Path) -> subprocess.Popen[bytes]:
    """``mosquitto_pub -l`` of the lines of ``path`` as ``kind``'s sensor account, on its topic, QoS 0."""
    user, topic = SENDERS[kind]
    with path.open("rb") as f:
        return subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(sec.plain_port), "-u", user, "-P", PASSWORDS[user],
                                 "-q", "0", "-l", "-t", topic], stdin=f)


async def test_fuzz_through_live_service(sec: Secured, tmp_path: Path) -> None:
    scenario = load_scenario(resolve_scenario("minimal"))
    clean = scenario_part(300.0)
    speed = 10.0
    ticks: list[Tick] = []
    # A re-order window of 30 s scenario time (the tracker's out-of-sequence lag), 3 s wall at this
    # speed: the clean stream shares a loaded machine with 100,000 fuzzed messages, and at 30x its
    # publisher fell more than 1 s wall behind the warped clock in about 1 run of 5 under 2 extra
    # CPU hogs; a clean report held up longer than the window is dropped as late (counted), which
    # is the overload policy, not what this test checks.
    config = FusionConfig(reorder_window_s=30.0)
    fusion = fusion_for_area(scenario.area, scenario.zones_geojson(), "fuzz", config=config)
    unbounded = Rate(1e9, 1e9)
    budgets = SourceBudgets(**dict.fromkeys(BUDGETED_KINDS, unbounded))
    service = Service(fusion, sec.as_user("jisf-fusion", plain=True), ServiceOptions(status_interval_s=0.5, rejects_interval_s=0.5,
                                                                                      budgets=budgets), on_tick=ticks.append)
    rejects: dict[str, dict[str, object]] = {}
    subscribed = asyncio.Event()

    async def watch_rejects() -> None:
        async for topic, payload, _ in subscribe(sec.as_user("analyst", plain=True), ["jisf/v1/rejects/#"], qos=0, on_subscribed=subscribed.set):
            rejects[topic.rsplit("/", 1)[1]] = msgspec.json.decode(payload)

    stop = asyncio.Event()
    rej_task = asyncio.create_task(watch_rejects())
    service_task = asyncio.create_task(service.serve(stop))
    await asyncio.wait_for(subscribed.wait(), 30)
    await asyncio.wait_for(service.link.connected.wait(), 60)  # (the link process starts on a loaded machine)
    clock = WarpedClock.starting_now(clean[0].t, speed)
    service.clock = clock
    files = {}
    for kind in fz.FEEDS:
        files[kind] = tmp_path / f"{kind}.txt"
        files[kind].write_bytes(fuzz_lines(kind, FUZZ_PER_FEED, 1))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        extra = 0
        clean_task = asyncio.create_task(resilient_publish(sec.as_user("jisf-sim", plain=True), clean, clock))
        for kind, path in files.items():  # one sensor at a time, each once the service has read the one before: the
            if kind != "sat":  # broker's queue for the service stays far below max_queued_messages (beyond it, dropped)
                procs.append(mosquitto_pub(sec, kind, path))
                assert await asyncio.to_thread(procs[-1].wait, 60) == 0
                await until(lambda kind=kind: service.stats.received[kind] >= FUZZ_PER_FEED, f"the service read the {kind} fuzz")  # type: ignore[misc]
        for kind in fz.FEEDS:  # oversized payloads, rejected whole, each on its sender's topic (once its fuzz is sent:
            if kind != "sat":  # a second connection of an account would take over the first's client id)
                async with publisher(sec.as_user(SENDERS[kind][0], plain=True)) as publish:
                    await publish(OutMessage(SENDERS[kind][1], b"x" * (MAX_PAYLOAD_BYTES + 10), qos=1))
                    extra += 1
        sent = await asyncio.wait_for(clean_task, 60)
        # then what only the simulator account may send (one connection per account: after its clean stream)
        async with publisher(sec.as_user("jisf-sim", plain=True)) as publish:
            for i in range(20):  # topics of no feed
                await publish(OutMessage(f"jisf/v1/feeds/sonar/x{i}", b"{}", qos=1))
                extra += 1
        procs.append(mosquitto_pub(sec, "sat", files["sat"]))
        assert await asyncio.to_thread(procs[-1].wait, 60) == 0
        expected = sent + extra + FUZZ_PER_FEED * len(files)
        deadline = time.monotonic() + 60
        while (sum(service.stats.received.values()) < expected or service.inbound) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        # The tick that covers the clean stream's end (as the offline run below), then a rejects summary.
        end_tick = clean[-1].t + config.reorder_window_s + 10.0
        while not (ticks and ticks[-1].t >= end_tick) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        assert not service_task.done(), "the service stopped"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        stop.set()
        await service_task
        rej_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rej_task
    st = service.stats
    assert sum(st.received.values()) == expected, (dict(st.received), expected)
    assert expected - sent >= 100_000
    outcomes = service._message_outcomes()
    for feed, o in outcomes.items():
        assert o["accepted"] + o["rejected"] + o["shed"] == st.received[feed], (feed, o, st.received[feed])
    for kind in fz.FEEDS:
        assert rejects.get(kind, {}).get("rejected", 0) > 0, f"no rejects summary for {kind}: {sorted(rejects)}"
    assert rejects["unknown"]["rejected"] >= 20
    # The tracks in the scenario area over the clean stream's time span: those of an offline run of the
    # clean stream alone (identities equal, track counts within tolerance). Compared over all ticks up
    # to the one covering the stream's end, not at one tick, so that a report fused a tick later under
    # load does not count as lost. The fuzz seeds include valid real AIS and ADS-B far outside the
    # area (Australia, 18-21 N 66 W), whose unmutated copies are legitimately tracked there.
    offline = fusion_for_area(scenario.area, scenario.zones_geojson(), "fuzz-offline", config=config)
    for m in clean:
        offline.accept(m.topic, m.payload, m.t)
    off_ticks = list(offline.advance(end_tick))
    assert ticks and ticks[-1].t >= off_ticks[-1].t, "the live service never reached the end of the clean stream"
    late = service.fusion.counters.late_dropped
    a = scenario.area

    def in_area(run: list[Tick]) -> list:  # noqa: ANN001
        return [r for t in run if t.t <= off_ticks[-1].t for r in t.rows
                if r.status != "tentative" and a.lat_min - 0.5 <= r.lat <= a.lat_max + 0.5
                and a.lon_min - 0.5 <= r.lon <= a.lon_max + 0.5]

    live_rows, off_rows = in_area(ticks), in_area(off_ticks)
    assert off_rows, "the clean stream confirmed no track"
    assert {r.mmsi for r in live_rows if r.mmsi} == {r.mmsi for r in off_rows if r.mmsi}, (f"late dropped {late}", outcomes)
    n_live, n_off = len({r.track_id for r in live_rows}), len({r.track_id for r in off_rows})
    assert abs(n_live - n_off) <= max(2, n_off // 5), (n_live, n_off)
    assert not [r for r in live_rows if r.icao24], "a fuzzed ADS-B report made an aircraft track inside the area"
