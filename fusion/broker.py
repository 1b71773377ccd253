"""Start and stop a local MQTT broker for the demo and the tests.

Two real brokers, both bound to 127.0.0.1 on a port we choose and stopped by process id:

- Mosquitto, when a ``mosquitto`` binary is on PATH: the reference broker, fastest here
  (about 59,000 msg/s QoS 0 on these machines) and the one the project ships a secured
  configuration for. Its config is generated with ``max_queued_messages`` raised from the
  default 1,000 (which silently drops QoS 1 messages for a slow subscriber) and
  ``set_tcp_nodelay true`` (Nagle's algorithm otherwise makes the latency tail).
- iotcore, otherwise: the Rust broker rumqttd compiled into a PyPI wheel with no further
  dependencies, run as a child process. Chosen over amqtt (pure Python) because it is
  faster, speaks MQTT 5 and takes a port without binding 0.0.0.0, and does not pin
  ``websockets`` (see README, "Embedded broker").
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from fusion.mqtt import BrokerAddress

log = logging.getLogger("jisf.broker")

MOSQUITTO_BASE_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
max_queued_messages {max_queued}
max_inflight_messages 0
set_tcp_nodelay true
persistence {persistence}
persistence_location {state_dir}/
autosave_interval 1
log_dest file {state_dir}/mosquitto.log
log_type error
log_type warning
log_type notice
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout_s: float = 10.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until 127.0.0.1:port accepts connections; RuntimeError naming the port otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"broker process exited with code {proc.returncode} before listening on port {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"broker did not listen on 127.0.0.1:{port} within {timeout_s} s")


class Mosquitto:
    """A Mosquitto process with a generated (or given) configuration, stopped by its pid."""

    def __init__(self, port: int | None = None, *, conf_text: str | None = None, persistence: bool = False, max_queued: int = 100_000) -> None:
        self.port = port or free_port()
        self.state_dir = Path(tempfile.mkdtemp(prefix="jisf-mosquitto-"))
        self.conf_path = self.state_dir / "mosquitto.conf"
        text = conf_text if conf_text is not None else MOSQUITTO_BASE_CONF
        self.conf_path.write_text(
            text.format(port=self.port, max_queued=max_queued, persistence="true" if persistence else "false", state_dir=self.state_dir)
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> BrokerAddress:
        """Plain-TCP address of the listener."""
        return BrokerAddress("127.0.0.1", self.port)

    def start(self) -> Mosquitto:
        """Start the process and wait until it listens."""
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([binary, "-c", str(self.conf_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_listening(self.port, proc=self.proc)
        log.info("mosquitto pid %d on 127.0.0.1:%d", self.proc.pid, self.port)
        return self

    def kill(self) -> None:
        """SIGKILL the broker (fault tests)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> None:
        """SIGTERM by pid, SIGKILL if it lingers. Safe to call twice."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)


def mosquitto_available() -> bool:
    """True when a mosquitto binary can be run."""
    return shutil.which("mosquitto") is not None or Path("/usr/sbin/mosquitto").exists()


@contextlib.contextmanager
def embedded_broker(kind: str = "auto") -> Iterator[tuple[str, BrokerAddress]]:
    """Yield (broker name, address) of a fresh broker on a free loopback port.

    ``kind``: "auto" (Mosquitto if installed, else iotcore), "mosquitto" or "iotcore".
    """
    if kind not in ("auto", "mosquitto", "iotcore"):
        raise ValueError(f"broker kind must be auto, mosquitto or iotcore, got {kind!r}")
    if kind == "mosquitto" or (kind == "auto" and mosquitto_available()):
        with Mosquitto() as broker:
            yield "mosquitto", broker.address
        return
    from iotcore import Broker  # imported here: only needed without Mosquitto

    port = free_port()
    iot = Broker(port=port, listen="127.0.0.1")
    iot.start()
    try:
        yield "iotcore", BrokerAddress("127.0.0.1", port)
    finally:
        iot.stop()
