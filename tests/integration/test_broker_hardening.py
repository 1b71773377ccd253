"""Issue 18: the shipped Mosquitto configuration against identity takeover, for every
jisf client command, and for an alert storm.

Each test runs the real deploy/mosquitto files (tests/integration/secured_broker.py) and,
where a command is named, the real ``jisf`` command as a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import msgspec
import pytest
from secured_broker import (
    DEADLINE_S,
    MAKE_TLS,
    PASSWORDS,
    Secured,
    jisf,
    live_statuses,
    password_file,
    reaped,
    secured_mosquitto,
    tls_options,
    until,
)

from fusion.actions import OPS_FILTER, ops_topic
from fusion.continuity import sweep_retained_tracks
from fusion.mqtt import BrokerError, publisher, subscribe
from fusion.publish import ALERTS_FILTER, OutMessage, track_topic
from fusion.recording import RecordingError, read_recording
from sim_feeds.scenario import default_scenario_path

pytestmark = pytest.mark.broker



@pytest.fixture(scope="module")
def mtls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """The shipped configuration with require_certificate true, and client certificates from make-tls.sh --client."""
    with secured_mosquitto(tmp_path_factory.mktemp("etc-mtls"), edits={"require_certificate false": "require_certificate true"}) as s:
        for user in ("analyst", "jisf-recorder", "jisf-fusion", "radar-site1"):
            subprocess.run([str(MAKE_TLS), "--client", str(s.tls_dir), user], check=True, capture_output=True)
        yield s


def with_cert(s: Secured, user: str) -> list[str]:
    """TLS, credential and client-certificate options of a jisf command for ``user``."""
    return ["--broker", s.tls.url(), "--ca-file", str(s.tls.ca_file), "--username", user,
            "--password-file", str(password_file(s.tls_dir, user)),
            "--cert-file", str(s.tls_dir / f"{user}.crt"), "--key-file", str(s.tls_dir / f"{user}.key")]


def online_since_start(st: dict[str, object]) -> bool:
    """A periodic status of a service connected once and never disconnected."""
    broker = st.get("broker")
    return st.get("state") == "online" and isinstance(broker, dict) and broker["connects"] == 1 and broker["disconnects"] == 0


async def test_another_account_cannot_kick_the_service_with_its_client_id(sec: Secured, tmp_path: Path) -> None:
    """Ten connections with client id ``jisf-fusion`` from another account (the reported
    attack) each get the intruder's own id: the service stays connected and no "offline"
    status (its last will) appears."""
    log = tmp_path / "service.log"
    async with live_statuses(sec) as statuses:
        service = jisf("fusion.runner", [*tls_options(sec, "jisf-fusion", tmp_path), "--status-interval-s", "0.5"], log)
        with reaped(service):
            await until(lambda: any(online_since_start(st) for st in statuses), "the service online", log)
            for _ in range(10):
                async with publisher(sec.as_user("analyst-2"), client_id="jisf-fusion"):
                    pass
            async with publisher(sec.as_user("radar-site1", plain=True), client_id="jisf-fusion"):
                pass  # and on the plain loopback listener
            seen = len(statuses)
            await until(lambda: len(statuses) >= seen + 4, "four more statuses", log)
            assert service.poll() is None, log.read_text()[-3000:]
    assert [st for st in statuses if st.get("state") == "offline" and "received" not in st] == []  # the will has no counters
    assert all(online_since_start(st) for st in statuses[seen:seen + 4]), statuses[seen:seen + 4]
    broker_log = (sec.broker.state_dir / "mosquitto.log").read_text()
    assert broker_log.count("as analyst-2 (") >= 10  # the intruder was connected, under its own name


async def persistent_session(s: Secured, user: str) -> None:
    """Create (or renew) ``user``'s persistent alert session, then disconnect."""
    ready = asyncio.Event()

    async def hold() -> None:
        async for _ in subscribe(s.as_user(user), [ALERTS_FILTER], client_id=user, qos=1, persistent=True, on_subscribed=ready.set):
            pass

    task = asyncio.create_task(hold())
    await asyncio.wait_for(ready.wait(), 30)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def publish_alerts(s: Secured, prefix: str, n: int) -> set[str]:
    """Publish ``n`` QoS 1 alerts as the service, every PUBACK awaited; their alert ids."""
    ids = {f"{prefix}-{i}" for i in range(n)}
    async with publisher(s.as_user("jisf-fusion"), client_id="jisf-fusion") as publish:
        pending: set[asyncio.Future[None]] = set()
        for i in range(n):
            fut = publish(OutMessage(f"jisf/v1/alerts/storm/{prefix}{i}", msgspec.json.encode({"alert_id": f"{prefix}-{i}"}), qos=1))
            pending.add(fut)
            fut.add_done_callback(pending.discard)
            if len(pending) >= 200:
                await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            await asyncio.wait(pending)
    return ids


async def collect_alerts(s: Secured, user: str, prefix: str, expected: set[str], timeout: float = DEADLINE_S) -> set[str]:
    """Reconnect ``user``'s persistent session and gather alert ids starting with ``prefix`` until ``expected`` or the deadline."""
    got: set[str] = set()

    async def gather() -> None:
        async for _topic, payload, _ in subscribe(s.as_user(user), [ALERTS_FILTER], client_id=user, qos=1, persistent=True):
            alert_id = str(msgspec.json.decode(payload).get("alert_id", ""))
            if alert_id.startswith(f"{prefix}-"):
                got.add(alert_id)
                if got >= expected:
                    return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(gather(), timeout)
    return got


async def test_another_account_cannot_wipe_an_analysts_queued_alerts(sec: Secured) -> None:
    """With the analyst away, another account connects with the analyst's client id and a
    clean session (which, sharing the id, would discard the session and its queue): the
    analyst still gets every alert queued meanwhile."""
    await persistent_session(sec, "analyst")
    ids = await publish_alerts(sec, "away", 20)
    for user in ("analyst-2", "jisf-display"):
        async with publisher(sec.as_user(user), client_id="analyst"):
            pass
    assert await collect_alerts(sec, "analyst", "away", ids) == ids


async def test_alert_storm_to_an_offline_persistent_subscriber_is_delivered_whole(sec: Secured) -> None:
    """3,000 QoS 1 alerts (three times Mosquitto's default max_queued_messages, which lost
    29 % of a storm) raised while the subscriber is offline all arrive when it returns."""
    await persistent_session(sec, "analyst-2")
    ids = await publish_alerts(sec, "storm", 3000)
    got = await collect_alerts(sec, "analyst-2", "storm", ids, timeout=120)
    assert len(got) == 3000, f"{3000 - len(got)} of 3000 alerts lost"


async def test_losses_beyond_the_queue_limit_show_in_the_sys_counter(tmp_path: Path) -> None:
    """With the queue limit cut to Mosquitto's default, the same storm loses alerts, and
    the broker counts exactly those losses on $SYS/broker/publish/messages/dropped, which
    the service's account may read (docs/OPERATIONS.md, "Queue limits")."""
    with secured_mosquitto(tmp_path, edits={"max_queued_messages 100000": "max_queued_messages 1000"}) as small:
        await persistent_session(small, "analyst-2")
        ids = await publish_alerts(small, "storm", 3000)
        got: set[str] = set()
        dropped: list[int] = []

        async def receive() -> None:
            async for _topic, payload, _ in subscribe(small.as_user("analyst-2"), [ALERTS_FILTER], client_id="analyst-2", persistent=True):
                got.add(str(msgspec.json.decode(payload)["alert_id"]))

        async def watch() -> None:  # $SYS values are retained and refreshed every sys_interval (10 s)
            async for _topic, payload, _ in subscribe(small.as_user("jisf-fusion"), ["$SYS/broker/publish/messages/dropped"],
                                                      client_id="jisf-fusion"):
                dropped.append(int(payload))

        tasks = [asyncio.create_task(receive()), asyncio.create_task(watch())]
        try:
            await until(lambda: bool(dropped) and len(got) + dropped[-1] == 3000, "received + dropped = 3000")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        assert got <= ids and 0 < len(got) < 3000, len(got)


async def test_sim_account_feeds_the_service(sec: Secured, tmp_path: Path) -> None:
    """``jisf sim`` as jisf-sim: its feeds and clock pass the ACL, and the service fuses them."""
    log = tmp_path / "service.log"
    async with live_statuses(sec) as statuses:
        service = jisf("fusion.runner", [*tls_options(sec, "jisf-fusion", tmp_path), "--clock", "sim", "--status-interval-s", "0.5"], log)
        with reaped(service):  # on the sim clock, the service reports once the clock (retained) has come
            sim = jisf("fusion.cli", ["sim", str(default_scenario_path()), "--speed", "60", *tls_options(sec, "jisf-sim", tmp_path)],
                       tmp_path / "sim.log")
            with reaped(sim):
                def fused() -> bool:
                    st = statuses[-1] if statuses else {}
                    feeds = st.get("messages") or {}
                    accepted = [f for f, n in feeds.items() if n["accepted"] > 0] if isinstance(feeds, dict) else []
                    return len(accepted) >= 2 and cast(int, st.get("measurements", 0)) > 0 and cast(int, st.get("ticks", 0)) > 0

                await until(fused, "two feeds accepted and fused on the sim clock", log)
    assert "not authori" not in (tmp_path / "sim.log").read_text().lower()


def cmdline(proc: subprocess.Popen[bytes]) -> list[bytes]:
    """The process's arguments as the kernel shows them to every local user (``ps``)."""
    return Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")


async def alerts_reach(s: Secured, out: Path, prefix: str) -> None:
    """Publish an alert as the service every half second until ``jisf alerts --json`` printed one (it subscribes when it is ready)."""
    addr = replace(s.as_user("jisf-fusion"), cert_file=s.tls.cert_file, key_file=s.tls.key_file)
    if (s.tls_dir / "jisf-fusion.crt").exists():
        addr = replace(addr, cert_file=str(s.tls_dir / "jisf-fusion.crt"), key_file=str(s.tls_dir / "jisf-fusion.key"))
    deadline = time.monotonic() + DEADLINE_S
    i = 0
    while f'"{prefix}-' not in out.read_text():
        assert time.monotonic() < deadline, f"jisf alerts printed no alert within {DEADLINE_S} s:\n{out.read_text()[-3000:]}"
        async with publisher(addr, client_id="jisf-fusion") as publish:
            await publish(OutMessage(f"jisf/v1/alerts/go_fast/{i}", msgspec.json.encode({"alert_id": f"{prefix}-{i}", "state": "raised", "t": i}), qos=1))
        i += 1
        await asyncio.sleep(0.5)


async def test_alerts_password_file_keeps_the_password_out_of_ps(sec: Secured, tmp_path: Path) -> None:
    """``jisf alerts --password-file``: alerts arrive, and ps shows the file's name, not the password."""
    out = tmp_path / "alerts.out"
    proc = jisf("fusion.cli", ["alerts", "--json", "--persistent", *tls_options(sec, "analyst", tmp_path)], out)  # session: the account's
    with reaped(proc):
        await alerts_reach(sec, out, "pwfile")
        argv = cmdline(proc)  # once it runs: just after fork, /proc shows the parent's arguments
    assert b"--password-file" in argv and not any(PASSWORDS["analyst"].encode() in a for a in argv), argv


async def test_client_certificate_options_of_alerts_and_record(mtls: Secured, tmp_path: Path) -> None:
    """Against a listener with require_certificate: a client without a certificate is
    refused; ``jisf alerts`` and ``jisf record`` with --cert-file/--key-file work."""
    with pytest.raises(BrokerError):
        async with publisher(mtls.as_user("analyst"), client_id="analyst"):
            pass
    out, rec = tmp_path / "alerts.out", tmp_path / "feeds.rec"
    alerts = jisf("fusion.cli", ["alerts", "--json", *with_cert(mtls, "analyst")], out)
    record = jisf("fusion.cli", ["record", "-o", str(rec), *with_cert(mtls, "jisf-recorder")], tmp_path / "record.log")
    with reaped(alerts, record):
        await alerts_reach(mtls, out, "mtls")
        radar = replace(mtls.as_user("radar-site1"), cert_file=str(mtls.tls_dir / "radar-site1.crt"),
                        key_file=str(mtls.tls_dir / "radar-site1.key"))

        def recorded() -> bool:
            with contextlib.suppress(OSError, RecordingError):
                return any(m.topic == "jisf/v1/feeds/radar/site1" for m in read_recording(rec))
            return False

        deadline = time.monotonic() + DEADLINE_S
        while not recorded():
            assert time.monotonic() < deadline, (tmp_path / "record.log").read_text()[-3000:]
            async with publisher(radar, client_id="radar-site1") as publish:
                await publish(OutMessage("jisf/v1/feeds/radar/site1", b'{"scan": 1}', qos=1))
            await asyncio.sleep(0.5)


async def test_display_role_sends_operator_actions_analysts_cannot(sec: Secured) -> None:
    """jisf-display may publish on jisf/v1/ops/#, which the service's account reads; an
    analyst's attempt, acknowledged first, is dropped by the broker."""
    got: list[tuple[str, bytes]] = []
    ready = asyncio.Event()

    async def service_reads() -> None:
        async for topic, payload, _ in subscribe(sec.as_user("jisf-fusion"), [OPS_FILTER], client_id="jisf-fusion", on_subscribed=ready.set):
            got.append((topic, payload))
            return

    task = asyncio.create_task(service_reads())
    await asyncio.wait_for(ready.wait(), 30)
    async with publisher(sec.as_user("analyst"), client_id="analyst") as publish:
        await publish(OutMessage(ops_topic("dismiss", "go_fast-1-0"), b'{"forged": true}', qos=1))
    async with publisher(sec.as_user("jisf-display"), client_id="jisf-display") as publish:
        await publish(OutMessage(ops_topic("acknowledge", "go_fast-1-0"), b'{"by": "watch-1"}', qos=1))
    await asyncio.wait_for(task, DEADLINE_S)
    assert got == [(ops_topic("acknowledge", "go_fast-1-0"), b'{"by": "watch-1"}')]


async def test_the_service_clears_stale_retained_tracks_of_a_previous_instance(sec: Secured, tmp_path: Path) -> None:
    """The reported flood left 17,990 stale retained track topics behind: on the shipped ACL the
    service reads the retained track topics at start (its sweep, fusion.continuity) and clears
    those it does not hold, so that a display does not show a previous instance's tracks."""
    stale = {track_topic("surface", 900_000 + i) for i in range(200)}
    async with publisher(sec.as_user("jisf-fusion", plain=True)) as publish:  # what a previous instance left
        for topic in sorted(stale):
            await publish(OutMessage(topic, b'{"status": "confirmed"}', qos=1, retain=True))
    log = tmp_path / "service.log"
    async with live_statuses(sec) as statuses:
        service = jisf("fusion.runner", [*tls_options(sec, "jisf-fusion", tmp_path), "--status-interval-s", "0.5"], log)
        with reaped(service):
            await until(lambda: any(st.get("state") == "online" and "journal" in st for st in statuses), "the service online", log)
            assert service.poll() is None, log.read_text()[-3000:]
    journal = next(st["journal"] for st in statuses if "journal" in st)
    # (and those of the earlier tests' services on this module's broker)
    assert journal["swept"] >= len(stale), (journal, log.read_text()[-3000:])  # type: ignore[index]
    # nothing is retained now, as the next sweep finds it
    assert await sweep_retained_tracks(sec.as_user("jisf-fusion", plain=True), "jisf-fusion", stale) == set()
