"""Live benchmark against a real Mosquitto on loopback; prints JSON.

    python bench/live.py broker [--messages 200000] [--scans 2000] [--plots-per-scan 1000]

``broker``: the transport's own limit, measured with the C clients only
(``mosquitto_pub -l`` -> ``mosquitto_sub -C N``, separate processes): small messages at
QoS 0 and QoS 1, and whole radar scans (one JSON scan of ``--plots-per-scan`` plots per
message, encoded by ``sensors.radar.encode``) at QoS 0, giving the plots/s the broker
carries. Each figure is the median of ``--repeat`` runs; the wall time runs from the
publisher's start to the subscriber's exit, the subscriber being connected first.
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


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark and print its JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    b = sub.add_parser("broker", help="the broker's own limit with the C clients")
    b.add_argument("--messages", type=int, default=200_000)
    b.add_argument("--scans", type=int, default=2_000)
    b.add_argument("--plots-per-scan", type=int, default=1_000)
    b.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    if min(args.messages, args.scans, args.plots_per_scan, args.repeat) < 1:
        p.error("counts must be >= 1")
    print(json.dumps({"broker": broker_limit(args.messages, args.scans, args.plots_per_scan, args.repeat)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
