"""The shipped Mosquitto configuration (deploy/mosquitto/), started for a test.

The broker runs the real mosquitto.conf and acl, rendered only for free ports and a
temporary directory (``fusion.broker.render_conf``); certificates come from the shipped
make-tls.sh, the password file from mosquitto_passwd, as deploy/mosquitto/README.md says.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import msgspec

from fusion.broker import DEPLOY_ACL, DEPLOY_CONF, Mosquitto, free_port, render_conf
from fusion.mqtt import BrokerAddress, subscribe
from fusion.publish import STATUS_TOPIC

DEADLINE_S = 90.0  # generous: the shared 2-core machine runs many tests and services at once

MAKE_TLS = DEPLOY_CONF.with_name("make-tls.sh")
# One password per account of the shipped acl that the tests log in with.
PASSWORDS = {"jisf-fusion": "svc-pw-1", "analyst": "analyst-pw-2", "radar-site1": "r1-pw-3", "radar-site2": "r2-pw-4",
             "analyst-2": "analyst2-pw-5", "jisf-sim": "sim-pw-6", "jisf-recorder": "rec-pw-7", "jisf-display": "disp-pw-8",
             "adsb-rx1": "adsb-pw-9", "ais-agg1": "ais-pw-10", "oth-site1": "oth-pw-11"}


@dataclass(frozen=True)
class Secured:
    """A running secured broker: its TLS address (no credentials), plain loopback port and TLS directory."""

    broker: Mosquitto
    tls: BrokerAddress
    plain_port: int
    tls_dir: Path

    def as_user(self, user: str, *, plain: bool = False) -> BrokerAddress:
        """The TLS (or plain loopback) address with ``user``'s credentials."""
        addr = BrokerAddress("127.0.0.1", self.plain_port) if plain else self.tls
        return replace(addr, username=user, password=PASSWORDS[user])


@contextlib.contextmanager
def secured_mosquitto(etc: Path, *, edits: dict[str, str] | None = None) -> Iterator[Secured]:
    """Start the shipped configuration with its files under ``etc``.

    ``edits`` replaces whole lines of mosquitto.conf, as an operator would (for example
    ``{"require_certificate false": "require_certificate true"}``, mutual TLS as
    deploy/mosquitto/README.md says); a line that is not there is an error.
    """
    tls = etc / "tls"
    subprocess.run([str(MAKE_TLS), str(tls), "localhost"], check=True, capture_output=True)
    passwd = etc / "passwd"
    for i, (user, password) in enumerate(PASSWORDS.items()):
        subprocess.run(["mosquitto_passwd", *(["-c"] if i == 0 else []), "-b", str(passwd), user, password], check=True)
    for f in [etc, tls, *etc.rglob("*")]:
        f.chmod(0o755 if f.is_dir() else 0o644)  # mosquitto may drop root for its own user
    plain_port = free_port()
    paths = {"password_file": passwd, "acl_file": DEPLOY_ACL, "cafile": tls / "ca.crt",
             "certfile": tls / "server.crt", "keyfile": tls / "server.key"}
    conf = render_conf(DEPLOY_CONF.read_text(), paths=paths, plain_port=plain_port)
    for old, new in (edits or {}).items():
        if f"\n{old}\n" not in conf:
            raise ValueError(f"mosquitto.conf has no line {old!r}")
        conf = conf.replace(f"\n{old}\n", f"\n{new}\n")
    with Mosquitto(conf_text=conf) as broker:
        yield Secured(broker, BrokerAddress("localhost", broker.port, tls=True, ca_file=str(tls / "ca.crt")), plain_port, tls)


ROOT = Path(__file__).resolve().parents[2]


def password_file(tmp: Path, user: str) -> Path:
    """A mode-600 file holding ``user``'s password, as an operator would create it."""
    f = tmp / f"{user}.pw"
    f.write_text(PASSWORDS[user] + "\n")
    f.chmod(0o600)
    return f


def tls_options(s: Secured, user: str, tmp: Path) -> list[str]:
    """TLS and credential options of a jisf command for ``user``, the password in a file."""
    return ["--broker", s.tls.url(), "--ca-file", str(s.tls.ca_file), "--username", user,
            "--password-file", str(password_file(tmp, user))]


def jisf(module: str, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m {module} ARGS`` (fusion.cli or fusion.runner), output to ``log``, no JISF_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JISF_")}
    env["PYTHONPATH"] = str(ROOT)
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


@contextlib.contextmanager
def reaped(*procs: subprocess.Popen[bytes]) -> Iterator[None]:
    """SIGTERM (then SIGKILL) by pid whatever of ``procs`` still runs at exit."""
    try:
        yield
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)


async def until(pred: Callable[[], bool], what: str, log: Path | None = None, timeout: float = DEADLINE_S) -> None:
    """Wait for ``pred()``; AssertionError naming ``what`` (with the process log) otherwise."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise AssertionError(f"not within {timeout} s: {what}\n{tail}")
        await asyncio.sleep(0.05)


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid``, MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


@dataclass
class Outputs:
    """What the display account received from the service since it subscribed (retained messages skipped)."""

    status: list[dict[str, object]] = field(default_factory=list)
    status_at: list[float] = field(default_factory=list)  # time.monotonic() of each status
    rejects: dict[str, dict[str, object]] = field(default_factory=dict)  # the latest summary per feed
    tracks: list[dict[str, object]] = field(default_factory=list)
    alerts: list[dict[str, object]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def live_outputs(s: Secured, filters: tuple[str, ...] = (STATUS_TOPIC,)) -> AsyncIterator[Outputs]:
    """The service's messages on ``filters`` from now on (retained ones from earlier runs skipped), as the display account sees them."""
    got = Outputs()
    ready = asyncio.Event()

    async def collect() -> None:
        async for topic, payload, retained in subscribe(s.as_user("jisf-display"), list(filters), client_id="display", on_subscribed=ready.set):
            if retained or not payload:
                continue
            doc = msgspec.json.decode(payload)
            if topic == STATUS_TOPIC:
                got.status.append(doc)
                got.status_at.append(time.monotonic())
            elif topic.startswith("jisf/v1/rejects/"):
                got.rejects[topic.rsplit("/", 1)[1]] = doc
            elif topic.startswith("jisf/v1/alerts/"):
                got.alerts.append(doc)
            else:
                got.tracks.append(doc)

    task = asyncio.create_task(collect())
    await asyncio.wait_for(ready.wait(), 30)
    try:
        yield got
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def live_statuses(s: Secured) -> AsyncIterator[list[dict[str, object]]]:
    """Status messages the service publishes from now on, as the display account sees them."""
    async with live_outputs(s) as got:
        yield got.status
