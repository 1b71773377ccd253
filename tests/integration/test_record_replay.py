"""`jisf record` through a real broker, then `jisf replay` offline and onto a broker."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fusion.broker import Mosquitto
from fusion.cli import main
from fusion.mqtt import subscribe
from fusion.publish import FEEDS_FILTER
from fusion.recording import read_recording
from sim_feeds.play import iter_feed
from sim_feeds.scenario import load_scenario, resolve_scenario

pytestmark = pytest.mark.broker


def first_messages(n: int) -> list:
    return list(itertools.islice(iter_feed(load_scenario(resolve_scenario("minimal"))), n))


def wait_for(pred, timeout_s: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not pred():
        time.sleep(0.05)


async def publish_all(mosquitto: Mosquitto, msgs: list) -> None:
    """Publish as `jisf sim --speed 120` does: the retained clock first, then the feeds on time."""
    from fusion.clock import WarpedClock
    from fusion.demo import SimStats, publish_scenario

    await publish_scenario(mosquitto.address, iter(msgs), WarpedClock.starting_now(msgs[0].t, 120.0), SimStats())


def test_record_is_lossless_and_replays(mosquitto: Mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = tmp_path / "feeds.jsonl.gz"
    proc = subprocess.Popen([sys.executable, "-m", "fusion.cli", "record", "--broker", mosquitto.address.url(), "-o", str(rec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: rec.exists(), 15)
        time.sleep(0.5)  # subscription in place
        msgs = first_messages(150)
        asyncio.run(publish_all(mosquitto, msgs))
        wait_for(lambda: sum(1 for _ in read_recording(rec)) >= len(msgs) + 1, 15)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(15)
    assert proc.returncode == 0, proc.stderr.read().decode()
    reader = read_recording(rec)
    got = list(reader)
    assert not reader.truncated
    assert got[0].topic == "jisf/v1/sim/clock"
    assert [(m.topic, m.payload) for m in got[1:]] == [(m.topic, m.payload) for m in msgs]
    assert all(not m.retain for m in got[1:])
    assert [m.qos for m in got[1:]] == [m.qos for m in msgs]
    out = tmp_path / "replay"
    assert main(["replay", str(rec), "-o", str(out), "--scenario", "minimal"]) == 0
    assert (out / "tracks.jsonl").stat().st_size > 0
    assert '"rejected": 0' in capsys.readouterr().out  # on the sim's timeline, nothing is too old


async def _collect(mosquitto: Mosquitto, n: int, got: list, ready: asyncio.Event) -> None:
    agen = subscribe(mosquitto.address, [FEEDS_FILTER], client_id="replay-check", qos=1)
    first = asyncio.ensure_future(agen.__anext__())
    await asyncio.sleep(0.3)
    ready.set()
    got.append(await first)
    async for item in agen:
        got.append(item)
        if len(got) >= n:
            return


def test_replay_republishes_onto_a_broker(mosquitto: Mosquitto, tmp_path: Path) -> None:
    from fusion.recording import RecordingWriter

    msgs = first_messages(60)
    rec = tmp_path / "r.jsonl.gz"
    with RecordingWriter(rec) as w:
        for m in msgs:
            w.append(m.topic, m.payload, 1, False, m.t)

    async def run() -> list:
        got: list = []
        ready = asyncio.Event()
        task = asyncio.create_task(_collect(mosquitto, len(msgs), got, ready))
        await ready.wait()
        span = msgs[-1].t - msgs[0].t
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "fusion.cli", "replay", str(rec), "--no-rebase", "--broker",
                                                    mosquitto.address.url(), "--speed", str(max(span / 2.0, 1.0)))
        assert await proc.wait() == 0
        await asyncio.wait_for(task, 15)
        return got

    got = asyncio.run(run())
    assert [(t, p) for t, p, _ in got] == [(m.topic, m.payload) for m in msgs]
