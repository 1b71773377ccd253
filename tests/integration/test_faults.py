"""Fault tests with a real Mosquitto (persistence on): broker restart, service SIGKILL, SIGTERM
(also while backlogged, on the shipped secured configuration: issue 18 item 3).

The minimal scenario is played at high speed from this process on a warped clock (the
retained ``jisf/v1/sim/clock`` message gives the subprocess services their ``--clock
sim``). Alerts are compared as events ``(alert_id, state, t)``: each event the service
emitted must reach the persistent subscriber, and after de-duplication each raised alert
id appears exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import pytest
from secured_broker import Secured, jisf, live_outputs, tls_options, until

from fusion.broker import Mosquitto
from fusion.checkpoint import load_checkpoint
from fusion.clock import SIM_CLOCK_TOPIC, WarpedClock
from fusion.mqtt import BrokerAddress, BrokerError, publisher, subscribe
from fusion.offline import fusion_for_area
from fusion.pipeline import Tick
from fusion.publish import ALERTS_FILTER, STATUS_TOPIC, TRACKS_FILTER, OutMessage
from fusion.service import Service, ServiceOptions
from sim_feeds.play import iter_feed
from sim_feeds.scenario import load_scenario, resolve_scenario

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
_bspec = importlib.util.spec_from_file_location("bench_shutdown", ROOT / "bench" / "shutdown.py")
assert _bspec is not None and _bspec.loader is not None
bench_shutdown = importlib.util.module_from_spec(_bspec)
sys.modules["bench_shutdown"] = bench_shutdown
_bspec.loader.exec_module(bench_shutdown)
EventKey = tuple[str, str, float]


def scenario_part(seconds: float) -> list:
    """Feed messages of the minimal scenario's first ``seconds`` of scenario time."""
    scenario = load_scenario(resolve_scenario("minimal"))
    return list(itertools.takewhile(lambda m: m.t < scenario.t0 + seconds, iter_feed(scenario)))


def event_key(a: dict[str, object]) -> EventKey:
    """The identity of one alert event: id, state and measurement time."""
    return str(a["alert_id"]), str(a["state"]), round(float(a["t"]), 3)  # type: ignore[arg-type]


@dataclass
class Seen:
    """What a subscriber received (raw, before de-duplication)."""

    alerts: list[dict[str, object]] = field(default_factory=list)
    tracks: list[tuple[float, str, bytes]] = field(default_factory=list)  # (wall, topic, payload)
    status: list[dict[str, object]] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)


async def persistent_subscriber(addr: BrokerAddress, client_id: str, filters: list[str], seen: Seen, stop: asyncio.Event) -> None:
    """Subscribe with a persistent session (clean session off, QoS 1) and reconnect until ``stop``."""
    while not stop.is_set():
        try:
            async for topic, payload, _retain in subscribe(addr, filters, client_id=client_id, qos=1, persistent=True,
                                                          on_subscribed=seen.subscribed.set):
                if topic.startswith("jisf/v1/alerts/"):
                    seen.alerts.append(msgspec.json.decode(payload))
                elif topic == STATUS_TOPIC:
                    seen.status.append(msgspec.json.decode(payload))
                else:
                    seen.tracks.append((time.time(), topic, payload))
        except BrokerError:
            await asyncio.sleep(0.05)


async def resilient_publish(addr: BrokerAddress, messages: list, clock: WarpedClock) -> int:
    """Publish ``messages`` at their warped times, like a sensor: what is sent while the broker is down is lost.

    Returns the number of messages the broker acknowledged or took.
    """
    it = iter(messages)
    sent = 0
    clock_sent = False
    while True:
        try:
            async with publisher(addr) as publish:
                if not clock_sent:
                    await publish(OutMessage(SIM_CLOCK_TOPIC, clock.encode(), qos=1, retain=True))
                    clock_sent = True
                for m in it:
                    delay = clock.scenario_to_wall(m.t) - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await publish(OutMessage(m.topic, m.payload, qos=m.qos))
                    sent += 1
                return sent
        except BrokerError:
            await asyncio.sleep(0.05)


def dedup(alerts: list[dict[str, object]]) -> set[EventKey]:
    return {event_key(a) for a in alerts}


async def test_broker_killed_and_restarted(mosquitto: Mosquitto) -> None:
    scenario = load_scenario(resolve_scenario("minimal"))
    messages = scenario_part(1000.0)
    speed = 100.0
    emitted: list[dict[str, object]] = []

    def on_tick(tick: Tick) -> None:
        emitted.extend(msgspec.to_builtins(a) for a in tick.alerts)

    fusion = fusion_for_area(scenario.area, scenario.zones_geojson(), "faults")
    service = Service(fusion, mosquitto.address, ServiceOptions(client_id="faults-fusion", status_interval_s=0.5), on_tick=on_tick)
    stop, sub_stop = asyncio.Event(), asyncio.Event()
    seen = Seen()
    sub_task = asyncio.create_task(persistent_subscriber(mosquitto.address, "faults-desk", [ALERTS_FILTER], seen, sub_stop))
    service_task = asyncio.create_task(service.serve(stop))
    await asyncio.wait_for(seen.subscribed.wait(), 10)
    await asyncio.wait_for(service.link.connected.wait(), 10)
    clock = WarpedClock.starting_now(messages[0].t, speed)
    service.clock = clock
    pub_task = asyncio.create_task(resilient_publish(mosquitto.address, messages, clock))
    before_kill = 0
    try:
        # The go-fast's alert is raised at scenario +50 s and updated at +110, +170, +305 and +365 s
        # (default rules): the raise and the persistent subscription are saved (autosave 1 s) before
        # the kill at +200 s, and the later updates fall after the restart at +260 s.
        await asyncio.sleep(max(0.0, clock.scenario_to_wall(scenario.t0 + 200.0) - time.time()))
        before_kill = len(emitted)
        mosquitto.kill()
        await asyncio.sleep(max(0.5, clock.scenario_to_wall(scenario.t0 + 260.0) - time.time()))
        mosquitto.start()
        await asyncio.wait_for(pub_task, 60)
        # the updates after the outage (+305, +365 s): wait for them on a loaded machine, where fusion
        # may run seconds behind the publisher, instead of a fixed pause before stopping the service
        deadline = time.monotonic() + 60
        while len(emitted) <= before_kill and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the last re-order window and tick at 100x
    finally:
        stop.set()
        await service_task
        deadline = time.monotonic() + 10
        while dedup(seen.alerts) != dedup(emitted) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        sub_stop.set()
        sub_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sub_task
    assert before_kill >= 1, "no alert before the broker was killed"
    assert len(emitted) > before_kill, "no alert during or after the outage"
    assert service.link.stats.connects >= 2, service.link.stats
    assert dedup(seen.alerts) == dedup(emitted), (sorted(dedup(emitted) - dedup(seen.alerts)), sorted(dedup(seen.alerts) - dedup(emitted)))
    raised = [a["alert_id"] for a in seen.alerts if a["state"] == "raised"]
    assert len(set(raised)) == len([a for a in emitted if a["state"] == "raised"]) >= 1


# -- the service as a subprocess ------------------------------------------------------------------

def start_service(addr: BrokerAddress, tmp: Path, *extra: str) -> subprocess.Popen[bytes]:
    """``python -m fusion.runner`` on the simulator clock, logging to tmp/service.log."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "fusion.runner", "--broker", addr.url(), "--clock", "sim", "--client-id", "faults-fusion",
            "--status-interval-s", "0.5", "--scenario", "minimal", *extra]
    with (tmp / "service.log").open("ab") as log:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_status(seen: Seen, pred, timeout: float, what: str, log: Path) -> dict[str, object]:  # noqa: ANN001
    """The first status message matching ``pred`` (AssertionError with the service log otherwise)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for s in seen.status:
            if pred(s):
                return s
        await asyncio.sleep(0.05)
    raise AssertionError(f"no status with {what} within {timeout} s; service log:\n{log.read_text()[-3000:]}")


async def scrape_and_stop(service: subprocess.Popen[bytes], metrics_port: int, log: Path) -> str:
    """The /metrics text of a running service, then SIGTERM and its exit 0 (AssertionError with its log otherwise)."""
    import urllib.request

    assert service.poll() is None, "the service stopped"
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    metrics = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
    service.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(service.wait, 30) == 0, log.read_text()[-3000:]
    return metrics


async def offline_status(seen: Seen, log: Path, sub_stop: asyncio.Event, sub_task: asyncio.Task[None]) -> dict[str, object]:
    """The service's final "offline" status, then the subscriber that collected ``seen`` stopped."""
    final = await wait_status(seen, lambda s: s.get("state") == "offline", 10, "state offline", log)
    sub_stop.set()
    sub_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sub_task
    return final


@contextlib.contextmanager
def reaped(procs: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """SIGKILL by pid whatever of ``procs`` still runs at exit."""
    try:
        yield
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)


async def test_service_sigkilled_restores_checkpoint(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """The feed runs in two parts: the first (the go-fast alert raised at +50 s, updated at
    +110 s) before the SIGKILL, the second (updates at +170, +305, +365 s) once the restarted
    service is back, so the check does not depend on how long a restart takes."""
    scenario = load_scenario(resolve_scenario("minimal"))
    messages = scenario_part(600.0)
    split = scenario.t0 + 140.0
    before, after_kill = [m for m in messages if m.t < split], [m for m in messages if m.t >= split]
    speed = 60.0
    ckpt = tmp_path / "fusion.ckpt"
    ckpt_args = ("--checkpoint-path", str(ckpt), "--checkpoint-interval-s", "0.25")
    seen, sub_stop = Seen(), asyncio.Event()
    sub_task = asyncio.create_task(persistent_subscriber(mosquitto.address, "faults-desk-b", [ALERTS_FILTER, TRACKS_FILTER, STATUS_TOPIC],
                                                         seen, sub_stop))
    procs = [start_service(mosquitto.address, tmp_path, *ckpt_args)]
    with reaped(procs):
        await asyncio.wait_for(seen.subscribed.wait(), 10)
        await wait_status(seen, lambda s: s.get("state") == "online", 90, "state online", tmp_path / "service.log")
        await asyncio.wait_for(resilient_publish(mosquitto.address, before, WarpedClock.starting_now(before[0].t, speed)), 60)
        await asyncio.wait_for(_until(lambda: any(a["state"] == "raised" for a in seen.alerts)), 30)
        await asyncio.sleep(1.0)  # several checkpoints (every 0.25 s) after the alert
        killed_wall = time.time()
        tracks_before = {topic.rsplit("/", 1)[1] for _, topic, p in seen.tracks if p}
        raised_before = {a["alert_id"] for a in seen.alerts if a["state"] == "raised"}
        n_before = len(seen.alerts)
        os.kill(procs[0].pid, signal.SIGKILL)
        procs[0].wait(10)
        assert ckpt.exists(), (tmp_path / "service.log").read_text()[-3000:]
        # hold the simulator's clock while the service restarts: at 60x a 10 s restart would
        # otherwise be 10 minutes of scenario time without data, and every track would coast out
        async with publisher(mosquitto.address) as publish:
            await publish(OutMessage(SIM_CLOCK_TOPIC, WarpedClock.starting_now(split, 1e-6).encode(), qos=1, retain=True))
        procs.append(start_service(mosquitto.address, tmp_path, *ckpt_args))
        restored = await wait_status(seen, lambda s: s.get("restored_from") == str(ckpt), 90, "restored_from", tmp_path / "service.log")
        await asyncio.wait_for(resilient_publish(mosquitto.address, after_kill, WarpedClock.starting_now(after_kill[0].t, speed)), 60)
        await asyncio.sleep(1.0)
        os.kill(procs[1].pid, signal.SIGTERM)
        assert procs[1].wait(30) == 0
    await asyncio.sleep(0.3)
    sub_stop.set()
    sub_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sub_task
    assert restored["ticks"] > 0 and restored["measurements"] > 0, restored  # counters continue from the checkpoint
    tracks_after = {topic.rsplit("/", 1)[1] for wall, topic, p in seen.tracks if p and wall > killed_wall}
    kept = tracks_before & tracks_after
    assert kept, f"no track id survived the restart: before {sorted(tracks_before)}, after {sorted(tracks_after)}"
    raised = [a["alert_id"] for a in seen.alerts if a["state"] == "raised"]
    assert len(raised) == len(set(raised)), f"an alert was raised again after the restart: {raised}"
    assert raised_before, seen.alerts
    followed = [a for a in seen.alerts[n_before:] if a["alert_id"] in raised_before and a["state"] == "updated"]
    assert followed, (f"the alert raised before the kill was not followed after the restart: {seen.alerts}\n"
                      + (tmp_path / "service.log").read_text()[-4000:])


async def _until(pred) -> None:  # noqa: ANN001
    while not pred():
        await asyncio.sleep(0.05)


async def test_sigterm_flushes_alerts_and_final_status(mosquitto: Mosquitto, tmp_path: Path) -> None:
    messages = scenario_part(200.0)
    seen, sub_stop = Seen(), asyncio.Event()
    sub_task = asyncio.create_task(persistent_subscriber(mosquitto.address, "faults-desk-c", [ALERTS_FILTER, STATUS_TOPIC], seen, sub_stop))
    procs = [start_service(mosquitto.address, tmp_path, "--status-interval-s", "0.5")]
    with reaped(procs):
        await asyncio.wait_for(seen.subscribed.wait(), 10)
        await wait_status(seen, lambda s: s.get("state") == "online", 90, "state online", tmp_path / "service.log")
        clock = WarpedClock.starting_now(messages[0].t, 200.0)
        await asyncio.wait_for(resilient_publish(mosquitto.address, messages, clock), 60)
        # SIGTERM as soon as the service has received the last message (a message still in flight
        # from the broker is not yet the service's: at QoS 1 the broker keeps it for the next session),
        # so the final step must fuse and flush whatever is still queued behind the receive counter.
        def received_all(s: dict[str, object]) -> bool:
            received = s.get("received")
            return isinstance(received, dict) and sum(received.values()) >= len(messages)
        await wait_status(seen, received_all, 60, "every message received", tmp_path / "service.log")
        os.kill(procs[0].pid, signal.SIGTERM)
        assert procs[0].wait(30) == 0, (tmp_path / "service.log").read_text()[-3000:]
    final = await wait_status(seen, lambda s: s.get("state") == "offline", 10, "state offline", tmp_path / "service.log")
    await asyncio.sleep(0.3)
    sub_stop.set()
    sub_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sub_task
    assert "received" in final, f"the last will, not the graceful final status: {final}"  # the will is only {"state": "offline"}
    assert sum(final["received"].values()) == len(messages), final["received"]
    assert final["alerts_published"] >= 1
    assert len(seen.alerts) >= final["alerts_published"], (len(seen.alerts), final["alerts_published"])
    assert final["broker"]["published"] >= final["alerts_published"]
    # the retained status a late subscriber sees is the final one
    async for topic, payload, retain in subscribe(mosquitto.address, [STATUS_TOPIC], qos=1):
        assert topic == STATUS_TOPIC and retain
        assert msgspec.json.decode(payload)["state"] == "offline"
        break


@pytest.mark.parametrize("huge_step", [False, True], ids=["queued", "huge-step"])
async def test_sigterm_while_backlogged_stops_promptly_with_the_last_committed_state(sec: Secured, tmp_path: Path, huge_step: bool) -> None:
    """A sensor account queues 300 scans of 5,000 plots on its own topic (its budget raised so that
    they are queued, not shed), then SIGTERM: exit 0 (typically ~0.5-0.7 s, docs/BENCHMARKS.md; the
    bound here is generous for the loaded machine), and the structure of the stop: the final status
    names the signal and counts every message (received = accepted + rejected + shed, what was shed
    dropped at the shutdown), the checkpoint is the state the last step committed (its counters are
    the final status's), and nothing accepted is lost (every accepted plot is fused or in the
    checkpoint's re-order buffer).

    ``huge_step`` (bench/shutdown.py --huge-step): 100 scans, all accepted into the re-order buffer
    (``fuse_bytes`` 200 MB, scans timed 5 s ahead), SIGTERM once the service clock is 0.3 s into the
    step releasing them together: that step stops at the next batch (``stopped_steps``; where the
    signal lands depends on the machine, so it is printed, not asserted) and the same structure holds,
    what it had not fused being in the checkpoint's re-order buffer."""
    log, ckpt, n_plots = tmp_path / "service.log", tmp_path / "fusion.ckpt", 5_000
    n_scans = 100 if huge_step else 300
    huge = ["--fuse-bytes", str(bench_shutdown.HUGE_FUSE_BYTES)] if huge_step else []
    async with live_outputs(sec) as out:
        service = jisf("fusion.runner", [*tls_options(sec, "jisf-fusion", tmp_path), "--clock", "sim", "--status-interval-s", "0.5",
                                         "--scenario", "minimal", "--budget-radar-msg-s", "10000", "--budget-radar-meas-s", "1e9",
                                         "--checkpoint-path", str(ckpt), *huge], log)
        with reaped([service]):
            clock = WarpedClock.starting_now(time.time(), 1.0)
            async with publisher(sec.as_user("jisf-sim", plain=True)) as publish:
                await publish(OutMessage(SIM_CLOCK_TOPIC, clock.encode(), qos=1, retain=True))
            await until(lambda: any(s.get("state") == "online" for s in out.status), "the service online", log)
            first_t = clock.now() + (bench_shutdown.HUGE_LEAD_S if huge_step else 0.0)
            spacing = bench_shutdown.HUGE_SPACING_S if huge_step else 0.01
            async with publisher(sec.as_user("radar-site1", plain=True)) as publish:
                for payload in bench_shutdown.backlog_scans(n_scans, n_plots, first_t, site="site1", spacing_s=spacing):
                    await publish(OutMessage("jisf/v1/feeds/radar/site1", payload, qos=1))

            def received_all() -> bool:
                received = out.status[-1].get("received") if out.status else None
                return isinstance(received, dict) and received.get("radar", 0) >= n_scans

            if huge_step:  # into the step releasing them all: the service clock past their release time
                release = first_t + bench_shutdown.REORDER_WINDOW_S + bench_shutdown.HUGE_INTO_RELEASE_S
                await until(lambda: received_all() and clock.now() >= release, "every scan received, the service clock into the release", log)
            else:
                await until(lambda: received_all() and int(out.status[-1].get("inbound_depth", 0)) >= 20,  # type: ignore[call-overload]
                            "every scan received, >= 20 still queued", log)
            signalled = time.monotonic()
            service.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(service.wait, 30)
            took = time.monotonic() - signalled
            assert code == 0, log.read_text()[-3000:]
        await until(lambda: any(s.get("state") == "offline" for s in out.status), "the final status", log, timeout=10)
    final = next(s for s in out.status if s.get("state") == "offline")
    assert "shutdown" in final, f"the last will, not the graceful final status: {final}"
    shutdown: dict = final["shutdown"]  # type: ignore[assignment]
    print(f"SIGTERM with a backlog ({'huge step' if huge_step else 'queued'}): exit after {took:.2f} s; {shutdown}; "
          f"releases stopped {final.get('stopped_steps')}, re-order batches held {final.get('reorder_batches')}")
    assert took < 10.0, f"SIGTERM took {took:.1f} s with a backlog"
    assert shutdown["reason"] == "SIGTERM", shutdown
    phases = shutdown["phases_s"]
    assert list(phases) == ["intake_ended", "worker_stopped", "drained", "checkpoint_written"], phases
    assert list(phases.values()) == sorted(phases.values()), phases
    radar: dict = final["messages"]["radar"]  # type: ignore[index]
    assert final["received"]["radar"] == n_scans == radar["accepted"] + radar["rejected"] + radar["shed"], final  # type: ignore[index]
    assert radar["shed"] == final["shutdown_dropped"].get("radar", 0) == shutdown["dropped"], final  # type: ignore[union-attr]
    assert huge_step or shutdown["dropped"] > 0, final  # (a huge step took every scan: nothing queued to drop)
    assert shutdown["fused"] + shutdown["dropped"] >= shutdown["queued_at_stop"] and final["inbound_depth"] == 0, final
    # the checkpoint is the last committed state: restored, its counters are the final status's
    scenario = load_scenario(resolve_scenario("minimal"))
    fusion = fusion_for_area(scenario.area, scenario.zones_geojson(), "restored")
    load_checkpoint(ckpt, fusion)
    assert (fusion.counters.measurements, fusion.counters.batches, fusion.counters.ticks) == (
        final["measurements"], final["batches"], final["ticks"]), final
    assert fusion.ingest.log.accepted_messages["radar"] == radar["accepted"] == final["accepted"]["radar"] > 0, final  # type: ignore[index]
    # nothing accepted is lost: each accepted plot was fused or waits in the checkpoint's re-order buffer
    with np.load(ckpt) as z:
        buffered = sum(len(z[k]) for k in z.files if k.startswith("ingest.heap.") and k.endswith(".t"))
    assert radar["accepted"] * n_plots == fusion.counters.measurements + buffered, (fusion.counters.measurements, buffered)
