"""Live benchmark against a real Mosquitto on loopback; prints JSON.

    python bench/live.py broker [--messages 200000] [--scans 2000] [--plots-per-scan 1000]
    python bench/live.py service [--sites 10] [--plots-per-scan 1000] [--seconds 20] [--ais-rate 2000]

``broker``: the transport's own limit, measured with the C clients only
(``mosquitto_pub -l`` -> ``mosquitto_sub -C N``, separate processes): small messages at
QoS 0 and QoS 1, and whole radar scans (one JSON scan of ``--plots-per-scan`` plots per
message, encoded by ``sensors.radar.encode``) at QoS 0, giving the plots/s the broker
carries. Each figure is the median of ``--repeat`` runs; the wall time runs from the
publisher's start to the subscriber's exit, the subscriber being connected first.

``service``: the fusion service (in this process, wall clock) against the same kind of
broker. Load: ``--sites`` radars, each one scan of ``--plots-per-scan`` plots per second
(slowly moving targets, one go-fast without AIS per site), plus ``--ais-rate`` AIS
messages/s of 2 position sentences each. (1) Capacity: ``--seconds`` of that load, with
measurement times in the recent past, is pushed by two ``mosquitto_pub -l`` processes as
fast as the broker takes it; the figure is plots (and AIS messages) per wall second from
the first publish to the last message fused (inbound queue empty), with the shed count
and the largest inbound depth. The load is sustained when that wall time is shorter than
``--seconds``. (2) Latency at half load: the same scans and AIS paced in real time from
this process (measurement time = publication time) for ``--seconds``, with a 0.1 s
re-order window and a 0.2 s output interval; the service's own windows give p50/p99 of
publication-to-fused, measurement-to-track-update and measurement-to-alert.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fusion.broker import Mosquitto  # noqa: E402
from sensors.radar import encode  # noqa: E402
from sensors.reports import RadarPlot, RadarScan  # noqa: E402

SITE = dict(site="bench", sensor_lat=18.0, sensor_lon=-75.0, sensor_alt_m=30.0, sigma_range_m=30.0, sigma_az_deg=0.2)


def radar_scan(t: float, plots: int, rng: np.random.Generator, scan_id: int = 0) -> bytes:
    """One scan payload with ``plots`` plots spread over 5-60 km, all azimuths."""
    rng_m = rng.uniform(5_000.0, 60_000.0, plots)
    az = rng.uniform(0.0, 360.0, plots)
    snr = rng.uniform(8.0, 30.0, plots)
    scan = RadarScan(**SITE, t=t, scan_id=scan_id,
                     plots=[RadarPlot(range_m=float(r), az_deg=float(a), snr_db=float(s)) for r, a, s in zip(rng_m, az, snr, strict=True)])
    return encode(scan)


def c_clients_rate(port: int, lines: Path, count: int, qos: int) -> float:
    """Messages/s from ``mosquitto_pub -l`` (one message per line of ``lines``) to ``mosquitto_sub -C count``."""
    topic = f"bench/c/{qos}/{time.monotonic_ns()}"
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", str(qos), "-C", str(count)],
                           stdout=subprocess.DEVNULL)
    time.sleep(0.5)  # connected and subscribed before the first message
    started = time.perf_counter()
    with lines.open("rb") as f:
        pub = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", str(qos), "-l"], stdin=f, check=False)
    try:
        sub.wait(timeout=120)
    except subprocess.TimeoutExpired:
        sub.kill()
        raise RuntimeError(f"mosquitto_sub got fewer than {count} messages (qos {qos}): the broker dropped some") from None
    if pub.returncode or sub.returncode:
        raise RuntimeError(f"mosquitto_pub/_sub failed: {pub.returncode}/{sub.returncode}")
    return count / (time.perf_counter() - started)


def broker_limit(messages: int, scans: int, plots_per_scan: int, repeat: int) -> dict[str, object]:
    """The C-client figures of the module docstring."""
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(max_queued=max(messages, scans) * 2) as broker:
        small = Path(tmp) / "small.txt"
        small.write_bytes(b"".join(b'{"seq": %08d, "pad": "%s"}\n' % (i, b"x" * 60) for i in range(messages)))
        big = Path(tmp) / "scans.txt"
        with big.open("wb") as f:
            for i in range(scans):
                f.write(radar_scan(1.7e9 + i, plots_per_scan, rng, i) + b"\n")
        scan_bytes = big.stat().st_size / scans
        q0 = [c_clients_rate(broker.port, small, messages, 0) for _ in range(repeat)]
        q1 = [c_clients_rate(broker.port, small, messages // 4, 1) for _ in range(repeat)]
        sc = [c_clients_rate(broker.port, big, scans, 0) for _ in range(repeat)]
    return {
        "small_msg_bytes": 80,
        "qos0_msg_per_s": round(statistics.median(q0)),
        "qos1_msg_per_s": round(statistics.median(q1)),
        "scan_bytes": round(scan_bytes),
        "plots_per_scan": plots_per_scan,
        "scans_per_s": round(statistics.median(sc), 1),
        "plots_per_s": round(statistics.median(sc) * plots_per_scan),
        "runs": {"qos0": [round(x) for x in q0], "qos1": [round(x) for x in q1], "scans": [round(x, 1) for x in sc]},
    }


AREA_SITE = (9.3, -79.4)  # first site; the default scenario's area is 9.0-10.3 N, 79.8-77.9 W


def site_targets(sites: int, per_site: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per site (range0 m, azimuth deg, radial speed m/s) of its targets; target 0 is a 25 m/s go-fast."""
    out = []
    for _ in range(sites):
        r0 = rng.uniform(3_000.0, 25_000.0, per_site)
        az = rng.uniform(0.0, 360.0, per_site)
        v = rng.uniform(-6.0, 6.0, per_site)
        v[0] = 25.0
        out.append((r0, az, v))
    return out


def site_scan(k: int, t: float, t0: float, targets: tuple[np.ndarray, np.ndarray, np.ndarray], rng: np.random.Generator) -> bytes:
    """Scan of site ``k`` at ``t``: every target (moving radially since ``t0``) with range/azimuth noise."""
    r0, az, v = targets
    rr = r0 + v * (t - t0) + rng.normal(0.0, 30.0, len(r0))
    aa = (az + rng.normal(0.0, 0.2, len(az))) % 360.0
    scan = RadarScan(site=f"bench{k}", t=t, sensor_lat=AREA_SITE[0] + 0.08 * k, sensor_lon=AREA_SITE[1] + 0.12 * k, sensor_alt_m=30.0,
                     sigma_range_m=30.0, sigma_az_deg=0.2, scan_id=int(t),
                     plots=[RadarPlot(range_m=float(r), az_deg=float(a), snr_db=15.0) for r, a in zip(rr, aa, strict=True)])
    return encode(scan)


def ais_message(i: int, t: float, ships: int) -> bytes:
    """An aggregator message with 2 position reports of ships in the area."""
    from sensors import ais
    from sensors.reports import AisPosition

    reps = []
    for j in (2 * i % ships, (2 * i + 1) % ships):
        lat = 9.1 + 1.1 * (j % 97) / 97 + 1e-6 * (t % 1000)
        lon = -79.7 + 1.7 * (j // 97 % 97) / 97
        reps.append(AisPosition(t=t, source="benchagg", mmsi=300_000_000 + j, lat=lat, lon=lon, sog_mps=5.0, cog_deg=90.0))
    return ais.encode_payload(reps).replace(b"\n", b" ").replace(b"\r", b"")


def _make_service(addr, reorder_s: float, output_s: float):  # noqa: ANN001, ANN202 - BrokerAddress -> Service
    from fusion.offline import fusion_for_area
    from fusion.pipeline import FusionConfig
    from fusion.service import Service, ServiceOptions
    from sim_feeds.scenario import default_scenario_path, load_scenario

    sc = load_scenario(default_scenario_path())
    fusion = fusion_for_area(sc.area, sc.zones_geojson(), "bench", None, FusionConfig(output_interval_s=output_s, reorder_window_s=reorder_s))
    return Service(fusion, addr, ServiceOptions(client_id=f"bench-{time.monotonic_ns()}", status_interval_s=1.0))


def _fused(service) -> int:  # noqa: ANN001
    return sum(service.stats.fused.values())


def _q(w) -> dict[str, float]:  # noqa: ANN001 - LatencyWindow
    return {f"p{round(q * 100)}_ms": round(v * 1e3, 1) for q, v in w.quantiles().items()}


async def service_capacity(broker: Mosquitto, tmp: Path, sites: int, plots: int, seconds: int, ais_rate: int) -> dict[str, object]:
    """Part (1) of the ``service`` docstring."""
    import asyncio

    rng = np.random.default_rng(11)
    targets = site_targets(sites, plots, rng)
    t0 = time.time() - seconds - 30.0
    scans, ais_f = tmp / "scans.txt", tmp / "ais.txt"
    with scans.open("wb") as f:
        for s in range(seconds):
            for k in range(sites):
                f.write(site_scan(k, t0 + s + 0.01 * k, t0, targets[k], rng) + b"\n")
    n_ais = ais_rate * seconds
    with ais_f.open("wb") as f:
        for i in range(n_ais):
            f.write(ais_message(i, t0 + i / ais_rate, 2000) + b"\n")
    service = _make_service(broker.address, 2.0, 5.0)
    stop = asyncio.Event()
    task = asyncio.create_task(service.serve(stop))
    await asyncio.wait_for(service.link.connected.wait(), 10)
    await asyncio.sleep(0.5)
    total = seconds * sites + n_ais
    started = time.perf_counter()
    procs = []
    for path, feed in ((scans, "radar/bench"), (ais_f, "ais/benchagg")):
        with path.open("rb") as f:
            procs.append(subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "0", "-l",
                                           "-t", f"jisf/v1/feeds/{feed}"], stdin=f))
    pub_s = []
    for p in procs:
        await asyncio.to_thread(p.wait)
        pub_s.append(time.perf_counter() - started)
    deadline = time.monotonic() + 600
    while _fused(service) + sum(service.stats.shed.values()) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    wall = time.perf_counter() - started
    stop.set()
    await task
    st = service.stats
    return {"load_seconds": seconds, "scans": seconds * sites, "plots": seconds * sites * plots, "ais_messages": n_ais,
            "received": sum(st.received.values()), "fused": _fused(service), "shed": dict(st.shed),
            "publish_wall_s": [round(x, 2) for x in pub_s], "wall_s": round(wall, 2),
            "plots_per_s": round(seconds * sites * plots / wall), "ais_msg_per_s": round(n_ais / wall),
            "sustained": wall <= seconds, "max_inbound_depth": st.max_inbound_depth,
            "step_s": _q(st.step_s), "tracks_confirmed": sum(n for (_, s), n in st.tracks_by_state.items() if s == "confirmed")}


async def service_latency(broker: Mosquitto, sites: int, plots: int, seconds: int, ais_rate: int) -> dict[str, object]:
    """Part (2) of the ``service`` docstring (pass half the load)."""
    import asyncio

    from fusion.mqtt import publisher
    from fusion.publish import OutMessage

    rng = np.random.default_rng(12)
    targets = site_targets(sites, plots, rng)
    service = _make_service(broker.address, 0.1, 0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(service.serve(stop))
    await asyncio.wait_for(service.link.connected.wait(), 10)
    t0 = time.time()
    sent = 0
    async with publisher(broker.address) as publish:
        pending: set[asyncio.Future[None]] = set()
        ais_i = 0
        tick = 0.05  # publish every 50 ms: the scans due and the AIS due
        next_t = t0
        scan_due = [t0 + k / sites for k in range(sites)]
        while time.time() - t0 < seconds:
            now = time.time()
            for k in range(sites):
                if scan_due[k] <= now:
                    scan_due[k] += 1.0
                    pending.add(publish(OutMessage(f"jisf/v1/feeds/radar/bench{k}", site_scan(k, time.time(), t0, targets[k], rng), qos=0)))
                    sent += 1
            while ais_i < (now - t0) * ais_rate:
                pending.add(publish(OutMessage("jisf/v1/feeds/ais/benchagg", ais_message(ais_i, time.time(), 2000), qos=0)))
                ais_i += 1
                sent += 1
            if len(pending) > 500:
                await asyncio.gather(*pending)
                pending.clear()
            next_t += tick
            await asyncio.sleep(max(0.0, next_t - time.time()))
        await asyncio.gather(*pending)
    await asyncio.sleep(1.0)
    stop.set()
    await task
    st = service.stats
    return {"seconds": seconds, "plots_per_s_offered": sites * plots, "ais_msg_per_s_offered": ais_rate, "sent": sent,
            "fused": _fused(service), "shed": dict(st.shed), "max_inbound_depth": st.max_inbound_depth,
            "fuse_wait": _q(st.fuse_wait), "update_age": _q(st.update_age), "alert_age": _q(st.alert_age),
            "alert_samples": st.alert_age.count, "alerts_published": st.alerts_published, "step_s": _q(st.step_s)}


def service_bench(sites: int, plots: int, seconds: int, ais_rate: int) -> dict[str, object]:
    """Broker limit (1 run), service capacity at full load, latency at half load, in one broker."""
    import asyncio

    out: dict[str, object] = {"broker": broker_limit(50_000, 500, plots, 1)}
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(max_queued=1_000_000) as broker:
        out["capacity"] = asyncio.run(service_capacity(broker, Path(tmp), sites, plots, seconds, ais_rate))
        out["latency_half_load"] = asyncio.run(service_latency(broker, max(1, sites // 2), plots, seconds, ais_rate // 2))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark and print its JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    b = sub.add_parser("broker", help="the broker's own limit with the C clients")
    b.add_argument("--messages", type=int, default=200_000)
    b.add_argument("--scans", type=int, default=2_000)
    b.add_argument("--plots-per-scan", type=int, default=1_000)
    b.add_argument("--repeat", type=int, default=3)
    sv = sub.add_parser("service", help="the fusion service: capacity and latency")
    sv.add_argument("--sites", type=int, default=10)
    sv.add_argument("--plots-per-scan", type=int, default=1_000)
    sv.add_argument("--seconds", type=int, default=20)
    sv.add_argument("--ais-rate", type=int, default=2_000)
    args = p.parse_args(argv)
    if args.what == "service":
        print(json.dumps({"service": service_bench(args.sites, args.plots_per_scan, args.seconds, args.ais_rate)}, indent=2))
        return 0
    if min(args.messages, args.scans, args.plots_per_scan, args.repeat) < 1:
        p.error("counts must be >= 1")
    print(json.dumps({"broker": broker_limit(args.messages, args.scans, args.plots_per_scan, args.repeat)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
