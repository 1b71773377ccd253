"""MQTT client libraries compared against a real Mosquitto on loopback; prints JSON.

    python bench/mqtt_clients.py [--small 30000] [--large 500] [--qos1 5000] [--plots-per-scan 1000]
                                 [--repeat 3] [--clients link,gmqtt,paho-thread]

Issue 6 asks whether the MQTT client library is the bottleneck. Each case runs one client
in a fresh Python process (a subprocess of this script, so its CPU time is its own), the
other side being a C client (``mosquitto_pub -l`` / ``mosquitto_sub -C N``, separate
processes) and Mosquitto started by ``fusion.broker.Mosquitto`` (127.0.0.1, free port,
``max_queued_messages`` above the counts, stopped by pid):

``recv_small`` / ``recv_large``: ``--small`` messages of 80-300 bytes (track update / AIS
sized) or ``--large`` radar scans of ``--plots-per-scan`` plots (``sensors.radar.encode``,
as bench/live.py's ``radar_scan``) published at QoS 0 by ``mosquitto_pub -l`` to one
subscriber (subscribed at QoS 1, as the service is); a callback counts them.
``pub_qos0``: ``--small`` QoS 0 messages of 300 bytes from the client, received by
``mosquitto_sub -C N``. ``pub_qos1``: ``--qos1`` QoS 1 messages of 300 bytes, at most
100 unacknowledged (as ``fusion.mqtt.Link``).

Clients: ``link`` is aiomqtt 2.x as the service uses it, i.e. ``fusion.mqtt.Link`` itself
(inbound through its paho ``on_message`` handler; outbound through its ``outbox``: QoS 0
straight into paho's packet queue, QoS 1 as up to ``max_in_flight`` awaited publishes);
``gmqtt`` (asyncio-native: protocol on an asyncio transport; skipped with a message when
not installed; install it in a separate venv, because its wheel also installs a
top-level ``tests`` package that shadows this repository's tests: ``python -m venv
/tmp/gmqtt-venv && /tmp/gmqtt-venv/bin/pip install -e ".[test]" gmqtt``, then run the bench
with that interpreter); ``paho-thread`` is paho-mqtt with its own
network thread (``loop_start``). All speak MQTT 3.1.1 (aiomqtt's default, so the Link's).

Per case and client: messages/s and CPU microseconds per message (``time.process_time``
of the client process, all threads, from subscribed/connected to the last message
received or written and acknowledged), medians of ``--repeat`` runs, with the runs.
Receiving rates run from the C publisher's start to the last message counted; publishing
rates from the first publish to the client's last write (QoS 0) or PUBACK (QoS 1), and
end to end to the C subscriber's exit (``e2e_msg_per_s``), which also proves none was lost.

    python bench/mqtt_clients.py worker --client link --case recv --port P --topic T --count N   (internal)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent))  # bench/live.py's radar_scan

CLIENTS = ("link", "gmqtt", "paho-thread")
CASES = ("recv_small", "recv_large", "pub_qos0", "pub_qos1")
WINDOW = 100  # QoS 1 publishes in flight (fusion.mqtt.Link.max_in_flight)
CHUNK = 1_000  # messages handed over per event-loop turn when publishing
TIMEOUT_S = 120.0


def gmqtt_available() -> bool:
    try:
        import gmqtt  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------------------
# Worker side: one client, one case, in its own process. Prints "READY" once subscribed
# (recv) and one JSON line at the end.
# --------------------------------------------------------------------------------------


class Meter:
    """Counts messages; notes CPU and monotonic time of the first and last."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.n = 0
        self.bytes = 0
        self.t_first = 0.0
        self.t_last = 0.0
        self.cpu_last = 0.0
        self.cpu0 = 0.0
        self.done_async: asyncio.Event | None = None
        self.done_thread = threading.Event()

    def hit(self, payload: bytes) -> None:
        self.n += 1
        self.bytes += len(payload)
        if self.n == 1:
            self.t_first = time.monotonic()
        if self.n == self.count:
            self.t_last = time.monotonic()
            self.cpu_last = time.process_time()
            if self.done_async is not None:
                self.done_async.set()
            self.done_thread.set()

    def start(self) -> None:
        """Note the CPU time, then tell the parent to start publishing."""
        self.cpu0 = time.process_time()
        ready()

    def result(self, finished: bool) -> dict[str, object]:
        """The receive figures (with an error when not all ``count`` arrived)."""
        out: dict[str, object] = {} if finished else {"error": f"received {self.n} of {self.count}"}
        out.update(cpu_s=self.cpu_last - self.cpu0, t_first=self.t_first, t_last=self.t_last, received=self.n, bytes=self.bytes)
        return out

    async def receive_async(self) -> dict[str, object]:
        """``start``, wait (asyncio) for every message or TIMEOUT_S, ``result``."""
        assert self.done_async is not None
        self.start()
        try:
            await asyncio.wait_for(self.done_async.wait(), TIMEOUT_S)
        except TimeoutError:
            return self.result(False)
        return self.result(True)


def ready() -> None:
    print("READY", flush=True)


def payloads(count: int, size: int) -> list[bytes]:
    base = b'{"track_id":%d,"pad":"'
    return [(base % i).ljust(size - 2, b"x") + b'"}' for i in range(count)]


async def link_worker(case: str, port: int, topic: str, count: int, size: int) -> dict[str, object]:
    import fusion.mqtt
    from fusion.mqtt import BrokerAddress, Link
    from fusion.publish import OutMessage

    made: list[object] = []  # the aiomqtt clients the Link creates: the writer's done-test reads paho's packet queue
    make = fusion.mqtt._client

    def capture(*a: object, **k: object) -> object:
        made.append(make(*a, **k))
        return made[-1]

    fusion.mqtt._client = capture  # type: ignore[assignment]
    addr = BrokerAddress("127.0.0.1", port)
    stop = asyncio.Event()
    subscribed = asyncio.Event()
    meter = Meter(count)
    meter.done_async = asyncio.Event()

    def on_connect() -> list[OutMessage]:  # called by Link after the subscriptions are acknowledged
        subscribed.set()
        return []

    recv = case == "recv"
    link = Link(addr, f"bench-link-{os.getpid()}", subscriptions=((topic, 1),) if recv else (),
                on_message=(lambda _t, p, _q, _r: meter.hit(p)) if recv else None, on_connect=on_connect)
    runner = asyncio.create_task(link.run(stop))
    await asyncio.wait_for(subscribed.wait(), 10)
    out: dict[str, object] = {}
    if recv:
        out.update(await meter.receive_async())
    else:
        qos = 1 if case == "pub_qos1" else 0
        msgs = [OutMessage(topic, p, qos=qos) for p in payloads(count, size)]
        cpu0, t0 = time.process_time(), time.monotonic()
        for i in range(0, count, CHUNK):
            for m in msgs[i:i + CHUNK]:
                link.outbox.put_nowait(m)
            await asyncio.sleep(0)
        deadline = t0 + TIMEOUT_S
        while time.monotonic() < deadline:
            if link.stats.published >= count and link.outbox.empty():
                if qos == 1:
                    break
                # QoS 0: counted when queued in paho; done when paho has written its packet queue.
                if not made[-1]._client._out_packet:  # type: ignore[attr-defined]
                    break
            await asyncio.sleep(0.001)
        out.update(cpu_s=time.process_time() - cpu0, t_start=t0, t_end=time.monotonic(), published=link.stats.published)
    stop.set()
    await asyncio.wait_for(runner, 10)
    return out


async def gmqtt_worker(case: str, port: int, topic: str, count: int, size: int) -> dict[str, object]:
    import gmqtt
    from gmqtt.mqtt.constants import MQTTv311
    from gmqtt.storage import PersistentStorage

    class WindowStorage(PersistentStorage):
        """gmqtt's in-flight QoS 1 store, signalling each PUBACK so that we can keep WINDOW in flight."""

        def __init__(self) -> None:
            super().__init__()
            self.freed = asyncio.Event()

        def remove_message_by_mid(self, mid: int) -> None:
            super().remove_message_by_mid(mid)
            self.freed.set()

        def in_flight(self) -> int:  # (not __len__: gmqtt takes `persistent_storage or PersistentStorage()`)
            return len(self._messages)

    storage = WindowStorage()
    client = gmqtt.Client(f"bench-gmqtt-{os.getpid()}", persistent_storage=storage)
    assert client._persistent_storage is storage
    meter = Meter(count)
    meter.done_async = asyncio.Event()
    subscribed = asyncio.Event()
    client.on_message = lambda _c, _topic, payload, _qos, _props: meter.hit(payload)
    client.on_subscribe = lambda *_a: subscribed.set()
    lost: list[str] = []  # gmqtt releases wait_empty() on a lost connection too: notice it
    client.on_disconnect = lambda _c, _packet, exc=None: lost.append(repr(exc))
    await client.connect("127.0.0.1", port, version=MQTTv311)
    out: dict[str, object] = {}
    if case == "recv":
        client.subscribe(topic, qos=1)
        await asyncio.wait_for(subscribed.wait(), 10)
        out.update(await meter.receive_async())
    else:
        qos = 1 if case == "pub_qos1" else 0
        data = payloads(count, size)
        cpu0, t0 = time.process_time(), time.monotonic()
        transport = client._connection._transport
        if qos == 0:
            for i in range(0, count, CHUNK):
                for p in data[i:i + CHUNK]:
                    client.publish(topic, p, qos=0)
                await asyncio.sleep(0)
            while transport.get_write_buffer_size() and time.monotonic() < t0 + TIMEOUT_S:
                await asyncio.sleep(0.001)
        else:
            for p in data:
                while storage.in_flight() >= WINDOW:
                    storage.freed.clear()
                    await storage.freed.wait()
                client.publish(topic, p, qos=1)
            await asyncio.wait_for(storage.wait_empty(), TIMEOUT_S)
        if lost:
            out["error"] = f"connection lost while publishing ({lost[0]})"
        out.update(cpu_s=time.process_time() - cpu0, t_start=t0, t_end=time.monotonic(), published=count)
    await client.disconnect()
    return out


def paho_worker(case: str, port: int, topic: str, count: int, size: int) -> dict[str, object]:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-paho-{os.getpid()}", protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(WINDOW)
    client.max_queued_messages_set(0)
    meter = Meter(count)
    subscribed = threading.Event()
    acked = Meter(count)
    client.on_message = lambda _c, _u, m: meter.hit(m.payload)
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_publish = lambda *_a: acked.hit(b"")
    client.connect("127.0.0.1", port)
    client.loop_start()
    out: dict[str, object] = {}
    try:
        if case == "recv":
            client.subscribe(topic, qos=1)
            if not subscribed.wait(10):
                raise RuntimeError("no SUBACK")
            meter.start()
            out.update(meter.result(meter.done_thread.wait(TIMEOUT_S)))
        else:
            qos = 1 if case == "pub_qos1" else 0
            data = payloads(count, size)
            time.sleep(0.2)  # connected
            cpu0, t0 = time.process_time(), time.monotonic()
            for p in data:
                client.publish(topic, p, qos=qos)
            # on_publish fires once a QoS 0 packet is written, a QoS 1 one acknowledged
            if not acked.done_thread.wait(TIMEOUT_S):
                out["error"] = f"published {acked.n} of {count}"
            out.update(cpu_s=time.process_time() - cpu0, t_start=t0, t_end=time.monotonic(), published=acked.n)
    finally:
        client.disconnect()
        client.loop_stop()
    return out


def worker_main(args: argparse.Namespace) -> int:
    if args.client == "link":
        out = asyncio.run(link_worker(args.case, args.port, args.topic, args.count, args.size))
    elif args.client == "gmqtt":
        out = asyncio.run(gmqtt_worker(args.case, args.port, args.topic, args.count, args.size))
    else:
        out = paho_worker(args.case, args.port, args.topic, args.count, args.size)
    print(json.dumps(out), flush=True)
    return 0


# --------------------------------------------------------------------------------------
# Driver side.
# --------------------------------------------------------------------------------------


def _spawn_worker(client: str, case: str, port: int, topic: str, count: int, size: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "worker", "--client", client, "--case", case,
           "--port", str(port), "--topic", topic, "--count", str(count), "--size", str(size)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str]) -> dict[str, object]:
    try:
        out, _ = proc.communicate(timeout=TIMEOUT_S + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError("worker timed out") from None
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        raise RuntimeError(f"worker failed (exit {proc.returncode}): {out[-500:]}")
    result: dict[str, object] = json.loads(lines[-1])
    return result


def run_recv(client: str, port: int, lines: Path, count: int) -> dict[str, float]:
    """One subscriber process fed ``count`` messages (one per line of ``lines``) by ``mosquitto_pub -l``."""
    topic = f"bench/recv/{client}/{time.monotonic_ns()}"
    proc = _spawn_worker(client, "recv", port, topic, count, 0)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "READY":
        proc.kill()
        raise RuntimeError(f"{client}: subscriber did not get ready")
    t_pub = time.monotonic()
    with lines.open("rb") as f:
        pub = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", "0", "-l"], stdin=f, check=False)
    r = _finish(proc)
    if pub.returncode or "error" in r:
        raise RuntimeError(f"{client}: mosquitto_pub exit {pub.returncode}; {r.get('error', '')}")
    return {"msg_per_s": count / (float(r["t_last"]) - t_pub), "cpu_us_per_msg": 1e6 * float(r["cpu_s"]) / count}


def run_pub(client: str, port: int, count: int, qos: int, size: int) -> dict[str, float]:
    """One publisher process sending ``count`` messages to ``mosquitto_sub -C count``."""
    topic = f"bench/pub/{client}/{qos}/{time.monotonic_ns()}"
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", str(qos), "-C", str(count)],
                           stdout=subprocess.DEVNULL)
    time.sleep(0.5)  # connected and subscribed before the first message
    proc = _spawn_worker(client, f"pub_qos{qos}", port, topic, count, size)
    r: dict[str, object] = {}
    try:
        r = _finish(proc)
        sub.wait(timeout=15)
        t_sub = time.monotonic()
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{client}: mosquitto_sub got fewer than {count} messages (qos {qos}) in 15 s after the publisher"
                           f" finished; publisher said {r}") from None
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    if sub.returncode or "error" in r:
        raise RuntimeError(f"{client}: mosquitto_sub exit {sub.returncode}; {r.get('error', '')}")
    t0 = float(r["t_start"])
    return {"msg_per_s": count / (float(r["t_end"]) - t0), "e2e_msg_per_s": count / (t_sub - t0),
            "cpu_us_per_msg": 1e6 * float(r["cpu_s"]) / count}


def _median(runs: list[dict[str, float]]) -> dict[str, object]:
    out: dict[str, object] = {k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]}
    out["runs"] = {k: [round(r[k], 1) for r in runs] for k in runs[0]}
    return out


def bench(clients: list[str], small: int, large: int, qos1: int, plots: int, repeat: int) -> dict[str, object]:
    import numpy as np
    from live import radar_scan

    from fusion.broker import Mosquitto

    rng = np.random.default_rng(7)
    sizes = rng.integers(80, 301, small)
    results: dict[str, dict[str, object]] = {c: {} for c in clients}
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(max_queued=4 * max(small, large, qos1)) as broker:
        small_file = Path(tmp) / "small.txt"
        small_file.write_bytes(b"".join((b'{"seq":%d,"pad":"' % i).ljust(int(n) - 2, b"x") + b'"}\n' for i, n in enumerate(sizes)))
        large_file = Path(tmp) / "scans.txt"
        with large_file.open("wb") as f:
            for i in range(large):
                f.write(radar_scan(1.7e9 + i, plots, rng, i) + b"\n")
        scan_bytes = round(large_file.stat().st_size / large) - 1
        failures: list[str] = []

        def one(c: str, case: str) -> dict[str, float]:
            if case == "recv_small":
                return run_recv(c, broker.port, small_file, small)
            if case == "recv_large":
                r = run_recv(c, broker.port, large_file, large)
                r["plots_per_s"] = r["msg_per_s"] * plots
                return r
            if case == "pub_qos0":
                return run_pub(c, broker.port, small, 0, 300)
            return run_pub(c, broker.port, qos1, 1, 300)

        for _ in range(repeat):  # clients interleaved within each repeat, so that machine noise spreads over all
            for case in CASES:
                for c in clients:
                    for attempt in range(3):  # a failed run (lost connection, messages missing) is retried and reported
                        try:
                            r = one(c, case)
                            break
                        except RuntimeError as err:
                            said = [ln for ln in broker.log_tail(20).split(" | ") if "due to" in ln]
                            failures.append(f"{case}: {err}"[:300] + (f"; broker log: {said[-1]}" if said else ""))
                            print(f"# FAILED {c} {case} (attempt {attempt + 1}): {err}", file=sys.stderr, flush=True)
                    else:
                        continue  # three failures in a row: no figure from this repeat (listed in failed_runs)
                    results[c].setdefault(case, []).append(r)  # type: ignore[union-attr]
                    print(f"# {c} {case}: {json.dumps({k: round(v, 1) for k, v in r.items()})}", file=sys.stderr, flush=True)
    return {
        "setup": {"small_messages": small, "small_bytes": "80-300 (recv), 300 (pub)", "large_messages": large,
                  "large_bytes": scan_bytes, "plots_per_scan": plots, "qos1_messages": qos1, "qos1_in_flight": WINDOW,
                  "repeat": repeat, "mqtt": "3.1.1", "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                  "versions": _versions(clients)},
        "failed_runs": failures,
        "results": {c: {case: _median(runs) for case, runs in res.items()} for c, res in results.items()},  # type: ignore[arg-type]
    }


def _versions(clients: list[str]) -> dict[str, str]:
    from importlib.metadata import version

    names = {"link": ["aiomqtt", "paho-mqtt"], "gmqtt": ["gmqtt"], "paho-thread": ["paho-mqtt"]}
    out = {n: version(n) for c in clients for n in names[c]}
    out["python"] = sys.version.split()[0]
    out["mosquitto"] = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True, check=False).stdout.split("\n")[0].split()[-1]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    if (argv if argv is not None else sys.argv[1:])[:1] == ["worker"]:
        w = argparse.ArgumentParser()
        w.add_argument("worker")
        w.add_argument("--client", choices=CLIENTS, required=True)
        w.add_argument("--case", choices=("recv", "pub_qos0", "pub_qos1"), required=True)
        w.add_argument("--port", type=int, required=True)
        w.add_argument("--topic", required=True)
        w.add_argument("--count", type=int, required=True)
        w.add_argument("--size", type=int, default=300)
        return worker_main(w.parse_args(argv))
    p.add_argument("--small", type=int, default=30_000, help="small messages received / QoS 0 messages published")
    p.add_argument("--large", type=int, default=500, help="radar scans received")
    p.add_argument("--qos1", type=int, default=5_000, help="QoS 1 messages published")
    p.add_argument("--plots-per-scan", type=int, default=1_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--clients", default=",".join(CLIENTS), help=f"comma-separated, of {', '.join(CLIENTS)}")
    args = p.parse_args(argv)
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    bad = [c for c in clients if c not in CLIENTS]
    if bad:
        p.error(f"unknown clients {bad}; choose from {', '.join(CLIENTS)}")
    if min(args.small, args.large, args.qos1, args.plots_per_scan, args.repeat) < 1:
        p.error("counts must be >= 1")
    skipped = {}
    if "gmqtt" in clients and not gmqtt_available():
        print("gmqtt is not installed: skipping it (install it in a separate venv: see this file's docstring)", file=sys.stderr)
        clients.remove("gmqtt")
        skipped["gmqtt"] = "not installed"
    out = bench(clients, args.small, args.large, args.qos1, args.plots_per_scan, args.repeat)
    if skipped:
        out["skipped"] = skipped
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
