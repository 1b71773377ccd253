"""``jisf run`` against a real Mosquitto survives the reported payloads (issue 18 item 1):
JSON nested 1,000 and 100,000 deep on the radar, OTH and ADS-B topics, and a 1 MB AIS
payload of 500,000 one-character lines. Each is one reject; the service stays up, keeps
publishing status, and then fuses a good AIS report."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from fusion.broker import Mosquitto
from fusion.mqtt import publisher, subscribe
from fusion.publish import OutMessage
from sensors import ais
from sensors.reports import AisPosition
from sim_feeds.scenario import default_scenario_path, load_scenario

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
MMSI = 367_123_456


def _bad_payloads() -> list[tuple[str, bytes]]:
    out = []
    for depth in (1_000, 100_000):
        nest = b"[" * depth + b"]" * depth
        out += [("jisf/v1/feeds/radar/deep", b'{"plots":' + nest + b"}"), ("jisf/v1/feeds/oth/deep", b'{"site":' + nest + b"}"),
                ("jisf/v1/feeds/adsb/deep", b'{"now":1,"aircraft":[' + nest + b"]}")]
    out.append(("jisf/v1/feeds/ais/huge", b"a\n" * 500_000))
    return out


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``jisf run ARGS`` as a child process logging to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 30 s, by pid."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def _until(pred, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} within {timeout} s; service log:\n{log.read_text()[-3000:]}")


async def test_deep_json_and_a_huge_ais_payload_do_not_stop_the_service(mosquitto: Mosquitto, tmp_path: Path) -> None:
    area = load_scenario(default_scenario_path()).area
    lat, lon = 0.5 * (area.lat_min + area.lat_max), 0.5 * (area.lon_min + area.lon_max)
    log = tmp_path / "service.log"
    args = [sys.executable, "-m", "fusion.cli", "run", "--broker", mosquitto.address.url(), "--client-id", "limits-fusion",
            "--status-interval-s", "0.3", "--rejects-interval-s", "0.3", "--output-interval-s", "1", "--reorder-window-s", "0.5",
            "--track-interval-s", "1"]
    status: list[tuple[float, dict[str, object]]] = []
    rejects: dict[str, dict[str, object]] = {}
    tracks: list[dict[str, object]] = []
    subscribed = asyncio.Event()

    async def watch() -> None:
        filters = ["jisf/v1/status", "jisf/v1/rejects/#", "jisf/v1/tracks/#"]
        async for topic, payload, _ in subscribe(mosquitto.address, filters, qos=0, on_subscribed=subscribed.set):
            if not payload:
                continue
            doc = msgspec.json.decode(payload)
            if topic == "jisf/v1/status":
                status.append((time.monotonic(), doc))
            elif topic.startswith("jisf/v1/rejects/"):
                rejects[topic.rsplit("/", 1)[1]] = doc
            else:
                tracks.append(doc)

    watcher = asyncio.create_task(watch())
    proc = _start(args, log)
    try:
        await asyncio.wait_for(subscribed.wait(), 10)
        await _until(lambda: any(s.get("state") == "online" for _, s in status), 60, "no status online", log)
        async with publisher(mosquitto.address) as publish:
            for topic, payload in _bad_payloads():
                await publish(OutMessage(topic, payload, qos=1))
        sent = time.monotonic()

        def counted() -> bool:
            return all(rejects.get(feed, {}).get("rejected", 0) >= n for feed, n in (("radar", 2), ("oth", 2), ("adsb", 2), ("ais", 1)))

        await _until(counted, 60, "no rejects summary counting every bad payload", log)
        await _until(lambda: any(t > sent and s.get("state") == "online" for t, s in status), 30, "no status after the bad payloads", log)
        assert proc.poll() is None, log.read_text()[-3000:]
        for feed in ("radar", "oth", "adsb", "ais"):  # one reject each, under the payload field, small summaries
            assert rejects[feed]["by_field"] == {"payload": rejects[feed]["rejected"]}, rejects[feed]
            assert len(msgspec.json.encode(rejects[feed])) < 5_000
        assert rejects["ais"]["rejected"] == 1 and "max_lines_per_payload" in str(rejects["ais"]["recent"])
        assert all("max_json_depth" in r for feed in ("radar", "oth", "adsb") for r in rejects[feed]["recent"])  # type: ignore[union-attr]
        # then a vessel reporting every second is fused and published as a confirmed track
        async with publisher(mosquitto.address) as publish:
            for k in range(8):
                report = AisPosition(t=round(time.time(), 3), source="good", mmsi=MMSI, lat=lat + 1e-4 * k, lon=lon, sog_mps=5.0, cog_deg=0.0)
                await publish(OutMessage("jisf/v1/feeds/ais/good", ais.encode_payload([report]), qos=1))
                await asyncio.sleep(1.0)
        await _until(lambda: any(t.get("mmsi") == MMSI for t in tracks), 60, "no track of the good vessel", log)
        assert proc.poll() is None, log.read_text()[-3000:]
    finally:
        await asyncio.to_thread(_stop, proc)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
