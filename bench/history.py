"""Benchmark: history store write throughput and one-day vessel queries, on SQLite and PostgreSQL.

Prints one JSON object. Usage:
    PYTHONPATH=. python bench/history.py [--objects 2300] [--hours 24] [--thin-s 30] [--backends sqlite,postgresql]
                                         [--pg postgresql://postgres@127.0.0.1:5432/test] [--dir /tmp]
Workload (synthetic, seeded; large_caribbean scale): ``--objects`` tracks, 85% surface
vessels with an MMSI, 15% aircraft with an ICAO address, at constant velocity over the
Caribbean, each published every 5 s (the service's publication interval).

1. ``recorder``: ten minutes of that traffic as MQTT payloads (JSON track rows, with
   covariance and sources, as the service publishes them) fed through
   ``HistoryRecorder.on_message`` with ``--thin-s``: updates/s including JSON decoding,
   validation, thinning and the batched writes of the kept points (one in six at 30 s).
2. ``fill``: a whole ``--hours`` of the traffic already thinned (one point per object per
   ``--thin-s``, ~6.6 M rows for a day) written with ``write_track_records`` in batches of
   50,000: rows/s of the store itself, indexes included.
3. ``query``: on that store, ``track_history(mmsi=...)`` over the whole period for 20
   vessels (2,880 points each for a day; wall and CPU milliseconds, as the machine is
   shared), one vessel's two-hour window, and a one-hour 1 x 1 degree bounding box;
   each query run once after one warm-up, the dicts built included.
PostgreSQL runs in a fresh schema that is dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from fusion.history import HistoryRecorder, HistoryStore, open_store

T0 = 1_710_374_400.0  # 2024-03-14T00:00:00Z
PUBLISH_S = 5.0
AREA = (8.0, 24.0, -88.0, -60.0)  # lat_min, lat_max, lon_min, lon_max
M_PER_DEG = 111_320.0


class Traffic:
    """Seeded objects: (N,) start positions, velocities (m/s), identities."""

    def __init__(self, n: int, seed: int = 7) -> None:
        rng: Any = np.random.default_rng(seed)  # Any: numpy's stubs reject float comparisons of its arrays under this mypy
        self.n = n
        self.air = rng.random(n) < 0.15
        self.lat0 = rng.uniform(AREA[0], AREA[1], n)
        self.lon0 = rng.uniform(AREA[2], AREA[3], n)
        speed = np.where(self.air, rng.uniform(60, 220, n), rng.uniform(2, 15, n))
        course = rng.uniform(0, 2 * np.pi, n)
        self.ve, self.vn = speed * np.sin(course), speed * np.cos(course)
        self.track_id = self.air * 1_000_000_000 + np.arange(1, n + 1)
        self.mmsi = [None if a else 300_000_000 + i for i, a in enumerate(self.air.tolist())]
        self.icao = [f"{0xA00000 + i:06x}" if a else None for i, a in enumerate(self.air.tolist())]
        self.domain = ["air" if a else "surface" for a in self.air.tolist()]
        self.extra = ['{"cov_en_m2":[[2500.0,10.0],[10.0,2500.0]],"sources":["adsb"]}' if a else
                      '{"cov_en_m2":[[400.0,1.5],[1.5,380.0]],"sources":["ais","radar"]}' for a in self.air.tolist()]

    def at(self, t: float) -> tuple[list[float], list[float]]:
        """Positions at time t (wrapped into the area), as lists of lat and lon."""
        dt = t - T0
        lat: Any = AREA[0] + (self.lat0 + self.vn * dt / M_PER_DEG - AREA[0]) % (AREA[1] - AREA[0])
        lon: Any = AREA[2] + (self.lon0 + self.ve * dt / (M_PER_DEG * np.cos(np.radians(lat))) - AREA[2]) % (AREA[3] - AREA[2])
        return lat.tolist(), lon.tolist()

    def records(self, t: float) -> list[tuple[Any, ...]]:
        """Store records of every object at time t."""
        lat, lon = self.at(t)
        alt = [9000.0 if a else None for a in self.air.tolist()]
        return list(zip([t] * self.n, self.track_id.tolist(), self.domain, ["confirmed"] * self.n, lat, lon, alt,
                        self.ve.tolist(), self.vn.tolist(), self.mmsi, self.icao, [None] * self.n, self.extra, strict=True))

    def payloads(self, t: float) -> list[tuple[str, bytes]]:
        """(topic, JSON payload) of every object at time t, as the service publishes them."""
        out = []
        for r in self.records(t):
            row = dict(zip(("t", "track_id", "domain", "status", "lat", "lon", "alt_m", "vel_e_mps", "vel_n_mps", "mmsi", "icao24"),
                           r[:11], strict=True))
            row.update(json.loads(r[12]))
            out.append((f"jisf/v1/tracks/{r[2]}/{r[1]}", json.dumps(row).encode()))
        return out


@contextlib.contextmanager
def store_at(backend: str, pg: str, tmp: Path) -> Iterator[HistoryStore]:
    """A fresh store: a new SQLite file, or a new PostgreSQL schema (dropped afterwards)."""
    if backend == "sqlite":
        path = tmp / f"history-{uuid.uuid4().hex[:8]}.db"
        with open_store(f"sqlite:///{path}") as s:
            yield s
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    schema = f"jisf_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            with open_store(f"{pg}?options=-csearch_path%3D{schema},public") as s:
                yield s
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def bench_recorder(store: HistoryStore, traffic: Traffic, thin_s: float) -> dict[str, Any]:
    """Ten minutes of 5 s updates through the recorder."""
    ticks = [T0 + PUBLISH_S * k for k in range(int(600 / PUBLISH_S))]
    messages = [m for t in ticks for m in traffic.payloads(t)]
    rec = HistoryRecorder(store, thin_s)
    t0 = time.perf_counter()
    for topic, payload in messages:
        rec.on_message(topic, payload)
    rec.flush()
    dt = time.perf_counter() - t0
    return {"updates": len(messages), "kept": rec.stats.tracks_kept, "seconds": round(dt, 3),
            "updates_per_s": round(len(messages) / dt), "bad": rec.stats.bad}


def bench_fill(store: HistoryStore, traffic: Traffic, hours: float, thin_s: float) -> dict[str, Any]:
    """A whole period of thinned points written in batches of ~50,000."""
    steps = int(hours * 3600 / thin_s)
    per_batch = max(1, 50_000 // traffic.n)
    rows, write_s, t_start = 0, 0.0, time.perf_counter()
    for k0 in range(0, steps, per_batch):
        batch = [r for k in range(k0, min(steps, k0 + per_batch)) for r in traffic.records(T0 + 600 + k * thin_s)]
        t0 = time.perf_counter()
        rows += store.write_track_records(batch)
        write_s += time.perf_counter() - t0
    return {"rows": rows, "write_seconds": round(write_s, 1), "rows_per_s": round(rows / write_s),
            "wall_seconds_with_generation": round(time.perf_counter() - t_start, 1)}


def _ms(fn: Any) -> tuple[float, float, int]:
    """Wall and CPU milliseconds of one call after a warm-up, and the rows it returned."""
    fn()
    t0, c0 = time.perf_counter(), time.process_time()
    n = len(fn())
    return (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3, n


def bench_query(store: HistoryStore, traffic: Traffic, hours: float) -> dict[str, Any]:
    """One vessel's whole period (20 vessels), a two-hour window, a one-hour bounding box."""
    rng = np.random.default_rng(11)
    vessels = [m for m in traffic.mmsi if m is not None]
    picks = rng.choice(len(vessels), 20, replace=False)
    until = T0 + 600 + hours * 3600
    day = [_ms(lambda m=vessels[i]: store.track_history(mmsi=m, since=T0, until=until)) for i in picks]
    ms, cpu = [d[0] for d in day], [d[1] for d in day]
    two_h, _, n2 = _ms(lambda: store.track_history(mmsi=vessels[0], since=until - 3 * 3600, until=until - 3600))
    box, _, nb = _ms(lambda: store.track_history(bbox=(-75.0, 14.0, -74.0, 15.0), since=until - 3600, until=until))
    return {"vessel_period_ms": {"median": round(statistics.median(ms), 1), "max": round(max(ms), 1),
                                 "cpu_median": round(statistics.median(cpu), 1)},
            "vessel_period_points": day[0][2], "vessel_two_hours_ms": round(two_h, 1), "vessel_two_hours_points": n2,
            "bbox_1deg_1h_ms": round(box, 1), "bbox_points": nb}


def main() -> None:
    """Run the benchmark and print JSON."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--objects", type=int, default=2300)
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--thin-s", type=float, default=30.0)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()), help="where the SQLite file goes")
    args = p.parse_args()
    traffic = Traffic(args.objects)
    out: dict[str, Any] = {"objects": args.objects, "hours": args.hours, "thin_s": args.thin_s,
                           "machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2), "python": platform.python_version()}}
    for backend in args.backends.split(","):
        res: dict[str, Any] = {}
        with store_at(backend, args.pg, args.dir) as store:
            res["postgis"] = store.postgis
            res["recorder"] = bench_recorder(store, traffic, args.thin_s)
        with store_at(backend, args.pg, args.dir) as store:
            res["fill"] = bench_fill(store, traffic, args.hours, args.thin_s)
            res["query"] = bench_query(store, traffic, args.hours)
        out[backend] = res
        print(json.dumps({backend: res}), flush=True, file=sys.stderr)  # progress
    out["machine"]["load_1min_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
