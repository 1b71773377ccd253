"""`jisf replay REC --broker URL` into a `jisf run` service (both clocks), as separate processes on a real Mosquitto.

The recording holds the minimal scenario's first minutes with their 2024 times: republished
as they are, a live service rejects every report (older than 6 h). Rebased, the service
accepts them all and raises the same alert rules as the offline `jisf replay REC -o DIR` of
the same recording. Waits are on conditions; rules are compared as sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec
import pytest

from fusion.broker import Mosquitto
from fusion.mqtt import subscribe
from fusion.offline import REBASE_STEP_S
from fusion.publish import ALERTS_FILTER, STATUS_TOPIC
from fusion.recording import RecordingWriter
from sim_feeds.play import iter_feed
from sim_feeds.scenario import load_scenario, resolve_scenario

SCENARIO = resolve_scenario("minimal")  # small and quick: a go-fast raises go_fast at +50 s (evaluate), +95 s from a replayed recording

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def write_recording(path: Path, seconds: float) -> int:
    """The minimal scenario's feed over its first ``seconds``, recorded with receive time = delivery time."""
    scenario = load_scenario(SCENARIO)
    n = 0
    with RecordingWriter(path, fsync=False) as w:
        for m in itertools.takewhile(lambda m: m.t < scenario.t0 + seconds, iter_feed(scenario)):
            w.append(m.topic, m.payload, m.qos, False, m.t)
            n += 1
    return n


def offline_rules(rec: Path, out: Path) -> set[str]:
    """Alert rules raised by the offline replay (the minimal scenario's area, zones and coverage)."""
    import subprocess

    done = subprocess.run([sys.executable, "-m", "fusion.cli", "replay", str(rec), "-o", str(out), "--scenario",
                           str(SCENARIO)], check=False, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return {json.loads(line)["rule"] for line in (out / "alerts.jsonl").read_text().splitlines()
            if json.loads(line)["state"] == "raised"}


class Watch:
    """What the service publishes: the latest status and the rules of raised alerts."""

    def __init__(self) -> None:
        self.status: dict[str, object] = {}
        self.rules: set[str] = set()
        self.subscribed = asyncio.Event()

    def total(self, counter: str) -> int:
        """A per-feed counter of the latest status, summed over feeds."""
        return sum(self.status.get(counter, {}).values())  # type: ignore[attr-defined]

    def counted(self, n: int) -> bool:
        """The service received ``n`` feed messages and holds none unprocessed."""
        return self.total("received") >= n and self.status.get("inbound_depth") == 0

    async def run(self, mosquitto: Mosquitto) -> None:
        async for topic, payload, _retain in subscribe(mosquitto.address, [STATUS_TOPIC, ALERTS_FILTER],
                                                      client_id="replay-live-watch", on_subscribed=self.subscribed.set):
            if not payload:
                continue
            body = msgspec.json.decode(payload)
            if topic == STATUS_TOPIC:
                if isinstance(body, dict):
                    self.status = body
            elif body.get("state") == "raised":
                self.rules.add(str(body["rule"]))


@contextlib.asynccontextmanager
async def service_and_watch(mosquitto: Mosquitto, tmp: Path, clock: str) -> AsyncIterator[Watch]:
    """`jisf run --clock CLOCK` (minimal scenario) as a subprocess, and a subscriber to its status and alerts."""
    watch = Watch()
    task = asyncio.create_task(watch.run(mosquitto))
    log = (tmp / f"service-{clock}.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fusion.cli", "run", "--broker", mosquitto.address.url(), "--clock", clock,
        "--client-id", f"replay-live-{clock}", "--status-interval-s", "0.3", "--scenario", str(SCENARIO), cwd=ROOT, env=ENV, stdout=log, stderr=log)
    try:
        await asyncio.wait_for(watch.subscribed.wait(), 30)
        yield watch
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_until(pred: Callable[[], object], timeout_s: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout_s} s; service log:\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.1)


async def replay_onto(mosquitto: Mosquitto, rec: Path, speed: float, *extra: str) -> dict[str, object]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fusion.cli", "replay", str(rec), "--broker", mosquitto.address.url(), "--speed", str(speed),
        *extra, cwd=ROOT, env=ENV, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    assert proc.returncode == 0, err.decode()
    return json.loads(out.decode().strip().splitlines()[-1])


@pytest.mark.parametrize(("clock", "seconds", "speed"), [("sim", 400.0, 40.0), ("wall", 150.0, 1.0)])
async def test_rebased_replay_is_fused_live_like_offline(mosquitto: Mosquitto, tmp_path: Path, clock: str, seconds: float,
                                                         speed: float) -> None:
    """A sim-clock service follows the replay's fresh clock at any speed; a wall-clock one at --speed 1
    (the go-fast's alert is raised at +95 s from a replayed recording: go_fast waits for the young track's speed to
    clear its 95 % lower bound, docs/RULES.md; 150 s of recording leaves a margin for the live track to settle later)."""
    rec = tmp_path / "rec.jsonl.gz"
    n = write_recording(rec, seconds)
    expected = offline_rules(rec, tmp_path / "offline")
    assert expected, "the offline replay raised no alert: nothing to compare"
    log = tmp_path / f"service-{clock}.log"
    async with service_and_watch(mosquitto, tmp_path, clock) as watch:
        await wait_until(lambda: watch.status.get("state") == "online", 60, "service online", log)
        stats = await replay_onto(mosquitto, rec, speed)
        assert stats["messages"] == n and float(stats["rebased_by_s"]) > 0  # type: ignore[arg-type]
        await wait_until(lambda: watch.counted(n), 60, f"all {n} messages counted", log)
        await wait_until(lambda: watch.rules >= expected, 60, f"alert rules {sorted(expected)}", log)
        status = watch.status
    assert watch.total("rejected") == 0, status
    assert watch.total("accepted") > 0.9 * n, status  # (a radar scan without plots has no report to accept)
    assert status["measurements"] > 0  # type: ignore[operator]
    assert watch.rules == expected


async def test_replay_without_rebase_is_rejected_by_a_live_service(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """The reported fault, kept as a check that the rebase is what makes the difference: recorded
    2024 times republished as they are reach a wall-clock service more than 6 h old."""
    rec = tmp_path / "rec.jsonl.gz"
    n = write_recording(rec, 20.0)
    log = tmp_path / "service-wall.log"
    async with service_and_watch(mosquitto, tmp_path, "wall") as watch:
        await wait_until(lambda: watch.status.get("state") == "online", 60, "service online", log)
        await replay_onto(mosquitto, rec, 50.0, "--no-rebase")
        await wait_until(lambda: watch.counted(n), 60, f"all {n} messages counted", log)
        assert watch.total("accepted") == 0 and watch.status["measurements"] == 0
        assert watch.total("rejected") >= n


async def test_recorded_stale_clock_is_replaced_and_times_follow_the_sim_timeline(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """A `jisf record` of a `jisf sim --speed 10` run (its retained clock recorded first, receive times
    on the wall): the replay publishes its own clock (origin now, its own speed), and the report times
    inside the payloads are rebased from the scenario timeline the clock gave, not from the wall."""
    from fusion.clock import SIM_CLOCK_TOPIC, WarpedClock
    from fusion.publish import FEEDS_FILTER
    from sensors.ais import AisDecoder

    scenario = load_scenario(SCENARIO)
    msgs = list(itertools.takewhile(lambda m: m.t < scenario.t0 + 30.0, iter_feed(scenario)))
    stale = WarpedClock(origin=msgs[0].t, speed=10.0, wall_start=1_800_000_000.0)
    rec = tmp_path / "rec.jsonl.gz"
    with RecordingWriter(rec, fsync=False) as w:
        w.append(SIM_CLOCK_TOPIC, stale.encode(), 1, True, stale.wall_start)
        for m in msgs:
            w.append(m.topic, m.payload, m.qos, False, stale.scenario_to_wall(m.t))
    got: list[tuple[str, bytes]] = []
    ready = asyncio.Event()

    async def collect() -> None:
        async for topic, payload, _retain in subscribe(mosquitto.address, [SIM_CLOCK_TOPIC, FEEDS_FILTER],
                                                      client_id="stale-clock-check", on_subscribed=ready.set):
            got.append((topic, payload))
            if len(got) == len(msgs) + 1:
                return

    task = asyncio.create_task(collect())
    await asyncio.wait_for(ready.wait(), 30)
    t_before = time.time()
    stats = await replay_onto(mosquitto, rec, 50.0)
    await asyncio.wait_for(task, 60)
    clocks = [WarpedClock.decode(p) for t, p in got if t == SIM_CLOCK_TOPIC]
    assert len(clocks) == 1 and clocks[0].speed == 50.0
    assert t_before <= clocks[0].wall_start <= time.time()
    assert 0.0 <= clocks[0].origin - clocks[0].wall_start < REBASE_STEP_S  # rebased to now, rounded up to whole 10 s
    assert stats["rebased_by_s"] == clocks[0].origin - msgs[0].t and float(stats["rebased_by_s"]) % REBASE_STEP_S == 0  # type: ignore[arg-type]
    ais = [(t, p) for t, p in got if "/ais/" in t]
    sent = [m for m in msgs if "/ais/" in m.topic]
    assert len(ais) == len(sent) > 0
    for (topic, payload), m in zip(ais, sent, strict=True):
        source = topic.rsplit("/", 1)[1]
        before, _ = AisDecoder().decode(m.payload, source, m.t)
        after, errors = AisDecoder().decode(payload, source, m.t + float(stats["rebased_by_s"]))  # type: ignore[arg-type]
        assert not errors
        assert [r.t for r in after] == pytest.approx([r.t + float(stats["rebased_by_s"]) for r in before], abs=1e-3)  # type: ignore[arg-type]
