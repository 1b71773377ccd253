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


DEPLOY_CONF = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto" / "mosquitto.conf"
DEPLOY_ACL = DEPLOY_CONF.with_name("acl")

# Options of the shipped configuration whose value is a file or directory path.
_PATH_OPTIONS = ("password_file", "acl_file", "cafile", "certfile", "keyfile")
# Options of the shipped plain listener's block, removed with it.
_LISTENER_OPTIONS = ("protocol", "use_username_as_clientid")


def render_conf(text: str, *, paths: dict[str, Path], plain_port: int | None) -> str:
    """The shipped Mosquitto configuration as a ``Mosquitto`` template for a test or a local run.

    Only ports and paths change: the TLS listener becomes ``listener {port} 127.0.0.1``,
    the plain loopback listener moves to ``plain_port`` (removed when None), each option
    named in ``paths`` (``password_file``, ``acl_file``, ``cafile``, ``certfile``,
    ``keyfile``) points at the given file, and persistence and the log go to
    ``{state_dir}``. ValueError naming the option when the text lacks one of them.
    """
    unknown = set(paths) - set(_PATH_OPTIONS)
    if unknown:
        raise ValueError(f"paths: can only replace {', '.join(_PATH_OPTIONS)}, got {sorted(unknown)}")
    out: list[str] = []
    seen: set[str] = set()
    skip_listener_options = False  # inside the removed plain listener's block
    for raw in text.splitlines():
        line = raw.replace("{", "{{").replace("}", "}}")  # the result is a str.format template
        words = line.split()
        option = words[0] if words and not line.startswith("#") else ""
        if option == "listener":
            seen.add(f"listener {words[1]}")
            skip_listener_options = False
            if words[1] == "8883":
                line = "listener {port} 127.0.0.1"
            elif plain_port is None:
                skip_listener_options = True
                continue
            else:
                line = f"listener {plain_port} 127.0.0.1"
        elif option in _LISTENER_OPTIONS and skip_listener_options:
            continue
        elif option in paths:
            line = f"{option} {paths[option]}"
        elif option == "persistence_location":
            line = "persistence_location {state_dir}/"
        elif option == "log_dest":
            line = "log_dest file {state_dir}/mosquitto.log"
        seen.add(option)
        out.append(line)
    for option in (*paths, "listener 8883", "persistence_location", "log_dest"):
        if option not in seen:
            raise ValueError(f"Mosquitto configuration has no {option!r} line to replace")
    return "\n".join(out) + "\n"


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
        text = text.format(port=self.port, max_queued=max_queued, persistence="true" if persistence else "false", state_dir=self.state_dir)
        if os.geteuid() == 0:
            # Started as root, Mosquitto switches to the "mosquitto" user, which cannot
            # read or write our private temporary files: keep the invoking user.
            text += "\nuser root\n"
        self.conf_path.write_text(text)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> BrokerAddress:
        """Plain-TCP address of the listener."""
        return BrokerAddress("127.0.0.1", self.port)

    def start(self) -> Mosquitto:
        """Start the process and wait until it listens."""
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with (self.state_dir / "stderr.log").open("ab") as err:
            self.proc = subprocess.Popen([binary, "-c", str(self.conf_path)], stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_listening(self.port, proc=self.proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; mosquitto said: {self.log_tail()}") from exc
        log.info("mosquitto pid %d on 127.0.0.1:%d", self.proc.pid, self.port)
        return self

    def log_tail(self, lines: int = 5) -> str:
        """The last lines Mosquitto wrote to stderr and its log file, for error messages."""
        text = ""
        for name in ("stderr.log", "mosquitto.log"):
            with contextlib.suppress(OSError):
                text += (self.state_dir / name).read_text(errors="replace")
        return " | ".join(text.strip().splitlines()[-lines:]) or "(nothing)"

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
