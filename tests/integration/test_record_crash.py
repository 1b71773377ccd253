"""`jisf record` killed with SIGKILL while writing, its last member then torn (what a power loss leaves):
the next `jisf record` on the same file appends, and the file reads as everything before the tear
plus everything after, in order."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fusion.broker import Mosquitto
from fusion.mqtt import publisher
from fusion.publish import OutMessage
from fusion.recording import RecordingError, read_recording, valid_length

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "jisf/v1/feeds/oth/crash-test"


def payload(i: int) -> bytes:
    """A distinct, poorly compressible payload per sequence number."""
    return f"{i:06d} ".encode() + os.urandom(150).hex().encode()


def start_recorder(mosquitto: Mosquitto, rec: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "fusion.cli", "record", "--broker", mosquitto.address.url(), "-o", str(rec),
                                 "--client-id", "crash-recorder"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def wait(pred: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, f"{what} not within {timeout_s} s"
        time.sleep(0.05)


def readable(rec: Path) -> list[bytes]:
    try:
        return [m.payload for m in read_recording(rec) if m.topic == TOPIC]
    except (RecordingError, OSError):
        return []


async def publish_until(mosquitto: Mosquitto, start: int, stop: asyncio.Event, sent: list[bytes]) -> None:
    async with publisher(mosquitto.address) as publish:
        i = start
        while not stop.is_set():
            p = payload(i)
            await publish(OutMessage(TOPIC, p, qos=1))
            sent.append(p)
            i += 1
            await asyncio.sleep(0.002)


def test_sigkill_then_torn_tail_then_append(mosquitto: Mosquitto, tmp_path: Path) -> None:
    rec, log = tmp_path / "rec.jsonl.gz", tmp_path / "recorder.log"
    proc = start_recorder(mosquitto, rec, log)
    sent: list[bytes] = []

    async def first_session() -> None:
        # the recorder is subscribed once a probe message reaches the file
        async with publisher(mosquitto.address) as publish:
            deadline = time.monotonic() + 30
            while not readable(rec) and time.monotonic() < deadline:
                await publish(OutMessage(TOPIC, payload(-1), qos=1))
                await asyncio.sleep(0.3)
        stop = asyncio.Event()
        task = asyncio.create_task(publish_until(mosquitto, 0, stop, sent))
        deadline = time.monotonic() + 60
        while (not rec.exists() or rec.stat().st_size < 60_000) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # while messages still stream in
        proc.wait(10)
        stop.set()
        await task

    try:
        asyncio.run(first_session())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert rec.stat().st_size >= 60_000, log.read_text()
    before_kill = readable(rec)
    first = before_kill.index(sent[0])  # (after the probes)
    assert before_kill[first:] == sent[: len(before_kill) - first]  # in order, none missing, up to the kill
    # a power loss after the kill: the last member loses its last 100 bytes (its trailer and more)
    size = rec.stat().st_size
    assert valid_length(rec) == size  # a SIGKILL alone never tears a member: each goes out in one write
    os.truncate(rec, size - 100)
    before_tear = readable(rec)
    assert 0 < len(before_tear) < len(before_kill)
    assert before_tear == before_kill[: len(before_tear)]

    proc = start_recorder(mosquitto, rec, log)
    after: list[bytes] = []
    try:
        async def second_session() -> None:
            async with publisher(mosquitto.address) as publish:
                wait_until = time.monotonic() + 30
                probe = payload(10**6)
                while probe not in readable(rec) and time.monotonic() < wait_until:  # subscribed and appending
                    await publish(OutMessage(TOPIC, probe, qos=1))
                    await asyncio.sleep(0.3)
                for i in range(50):
                    p = payload(2 * 10**6 + i)
                    await publish(OutMessage(TOPIC, p, qos=1))
                    after.append(p)

        asyncio.run(second_session())
        wait(lambda: readable(rec)[-1:] == after[-1:], 30, "the second session's messages on disk")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    assert proc.returncode == 0, log.read_text()
    reader = read_recording(rec)
    got = [m.payload for m in reader if m.topic == TOPIC]
    assert reader.lost_bytes == 0
    assert got[: len(before_tear)] == before_tear  # nothing before the tear lost
    probes = [p for p in got[len(before_tear):] if p not in after]
    assert got[len(before_tear):] == probes + after, "the appended session is not read back whole after the old one"
    assert "cutting a torn tail" in log.read_text()
