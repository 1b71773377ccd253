"""Benchmark: track payloads -> CoT XML events (``fusion.cot.CotBridge``), and the live picture's resend.

Prints one JSON object. Usage:
    PYTHONPATH=. python bench/cot.py [--tracks 10000] [--rounds 3]
Seeded track payloads (the service's JSON, half with an MMSI and a name) for ``--tracks``
tracks, each published ``--rounds`` times (10 s apart in data time); one open alert per 100
tracks. Times the bridge alone (decode, validate, build and serialize the event), single
thread, no network; ``snapshot`` is the periodic resend of the whole picture.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time

from fusion.cot import CotBridge

T0 = 1_796_620_000.0


def payloads(n: int, t: float, rng: random.Random) -> list[tuple[str, bytes]]:
    """``n`` surface track messages at data time ``t`` (topic, JSON payload)."""
    out = []
    for i in range(n):
        row = {"t": t, "track_id": i, "domain": "surface", "status": "confirmed", "lat": rng.uniform(5, 20),
               "lon": rng.uniform(-90, -60), "alt_m": None, "vel_e_mps": rng.uniform(-10, 10),
               "vel_n_mps": rng.uniform(-10, 10), "cov_en_m2": [[400.0, 20.0], [20.0, 900.0]],
               "mmsi": 367_000_000 + i if i % 2 else None, "icao24": None, "sources": ["ais", "radar"] if i % 2 else ["radar"]}
        if i % 2:
            row.update(name=f"VESSEL {i}", callsign=f"WD{i:04d}", ship_type=70, ship_type_text="Cargo", flag="US")
        out.append((f"jisf/v1/tracks/surface/{i}", json.dumps(row).encode()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(1)
    bridge = CotBridge()
    for i in range(0, args.tracks, 100):
        alert = {"t": T0, "alert_id": f"go_fast-1-{i}", "rule": "go_fast", "severity": "high", "state": "raised",
                 "track_id": i, "lat": 10.0, "lon": -80.0, "zone": "Z", "mmsi": None, "icao24": None,
                 "reason": "speed 41 kn", "related_track_ids": [], "priority": 0.9, "evidence": {}}
        bridge.on_message(f"jisf/v1/alerts/go_fast/{i}", json.dumps(alert).encode(), T0)
    rates: list[float] = []
    sizes: list[int] = []
    for r in range(args.rounds):
        msgs = payloads(args.tracks, T0 + 10.0 * r, rng)
        start = time.perf_counter()
        for topic, payload in msgs:
            events = bridge.on_message(topic, payload, T0 + 10.0 * r)
            sizes.extend(len(e) for e in events[-1:])
        rates.append(len(msgs) / (time.perf_counter() - start))
    start = time.perf_counter()
    snap = bridge.snapshot(T0 + 10.0 * args.rounds)
    snap_ms = (time.perf_counter() - start) * 1e3
    sizes.sort()
    print(json.dumps({
        "tracks": args.tracks, "rounds": args.rounds, "rejected": bridge.stats.rejected,
        "track_messages_per_s": [round(x) for x in rates], "us_per_track_message": round(1e6 / max(rates), 1),
        "event_bytes_median": sizes[len(sizes) // 2], "event_bytes_max": sizes[-1],
        "snapshot_events": len(snap), "snapshot_ms": round(snap_ms, 2),
        "python": platform.python_version(), "machine": platform.machine(),
    }))


if __name__ == "__main__":
    main()
