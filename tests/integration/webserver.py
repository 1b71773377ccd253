"""Helpers of the ``jisf web`` tests: the server as a subprocess, an MQTT probe, JSON over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from fusion.broker import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0  # a loaded 2-core CI machine


def get_json(url: str, timeout: float = 10.0) -> tuple[int, Any]:
    """(HTTP status, decoded JSON body) of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def post_json(url: str, body: object, timeout: float = 10.0) -> tuple[int, Any]:
    """(HTTP status, decoded JSON body) of a POST with a JSON body."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_for(pred: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``pred`` until it returns something truthy; AssertionError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = pred()
        if out:
            return out
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout_s} s")


@contextlib.contextmanager
def jisf_web(broker_port: int, tmp: Path, *extra: str) -> Iterator[str]:
    """``jisf web`` on a free loopback port; yields its base URL once /api/tracks answers; killed by pid after."""
    port = free_port()
    log_path = tmp / "web.log"
    args = [sys.executable, "-m", "fusion.cli", "web", "--broker", f"mqtt://127.0.0.1:{broker_port}",
            "--listen", f"127.0.0.1:{port}", "--push-interval", "0.2", *extra]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"jisf web exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                return get_json(f"{base}/api/status", timeout=2.0)[1]["web"]["broker_subscribed"] is True
            return False

        # subscribed, not just connected: what the test publishes next must reach the server
        wait_for(up, START_TIMEOUT_S, f"jisf web did not answer on {base} with its subscriptions acknowledged")
        yield base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


class MqttProbe:
    """A paho client on its own thread: publishes (waiting for completion) and records what it receives."""

    def __init__(self, port: int, filters: tuple[str, ...] = ()) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if filters:
            self.client.subscribe([(f, 1) for f in filters])
            assert self._subscribed.wait(30), "the probe's subscription was not acknowledged"

    def _on_message(self, _c: object, _u: object, m: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((m.topic, bytes(m.payload)))

    def received(self, topic: str) -> list[bytes]:
        """Payloads received so far on ``topic``."""
        with self._lock:
            return [p for t, p in self.messages if t == topic]

    def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait until the broker has it (QoS 1) or it is written (QoS 0)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(30)
        assert info.is_published(), f"publish to {topic} did not complete"

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


def track_payload(tid: int, t: float, lat: float, lon: float, **extra: object) -> bytes:
    """A TrackRow JSON as the service publishes it."""
    row = {"t": t, "track_id": tid, "domain": "surface", "status": "confirmed", "lat": lat, "lon": lon, "alt_m": None,
           "vel_e_mps": 4.0, "vel_n_mps": 6.0, "cov_en_m2": [[400.0, 0.0], [0.0, 400.0]], "mmsi": 367000001,
           "icao24": None, "sources": ["ais", "radar"], **extra}
    return json.dumps(row).encode()


def alert_payload(aid: str, tid: int, t: float, **extra: object) -> bytes:
    """An alert event JSON as the service publishes it."""
    event = {"t": t, "alert_id": aid, "rule": "loiter", "severity": "high", "state": "raised", "track_id": tid,
             "lat": 9.6, "lon": -78.7, "zone": "guna-yala-coastal-corridor", "mmsi": 367000001, "icao24": None,
             "reason": "loitering 20 min in a transit corridor", "related_track_ids": [], "priority": 0.8,
             "evidence": {"dwell_s": 1200.0}, **extra}
    return json.dumps(event).encode()
