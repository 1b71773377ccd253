"""Benchmark: rule evaluation for 10,000 tracks against 1,000 coastline-detailed zones.

Prints one JSON object. Usage:
    PYTHONPATH=. python bench/rules.py [--tracks 10000] [--zones 1000] [--vertices 40] [--ticks 20] [--coast none|gshhg]
                                       [--ais-table] [--events FILE]
Zones are seeded, star-shaped polygons with a fractal-like jagged edge (``--vertices`` each),
of every kind; tracks are seeded positions and velocities over the area, both pools,
a mix of identified and unidentified. Times are per ``RuleEngine.evaluate`` call after
one warm-up tick (which builds the buffered zone indexes), single thread, with what set-up built
frozen out of the garbage collector's reach (``gc.freeze``, as ``Service.serve`` does).
``--ais-table``: pass the rules an AIS reporting table as the service does (``fusion.rules.reporting``), so that
ais_gap and ais_spoofing ask where each identity was last heard (``fusion.rules.lineage.identity_heard_near``);
without it they run on an empty table. ``--events FILE``: write every alert event (JSON Lines), to compare two
builds' alerts on the same seed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import time
from typing import Any

import msgspec
import numpy as np
import shapely

from fusion.core.arrays import CONFIRMED, NO_ICAO, NO_MMSI, TrackView, fixed_covariance
from fusion.core.frame import LocalFrame
from fusion.rules.config import rules_from_dict
from fusion.rules.engine import RuleEngine
from fusion.rules.reporting import ReportingArrays
from fusion.rules.zones import ZONE_KINDS, ZoneSet

AREA = (8.0, 24.0, -88.0, -60.0)  # lat_min, lat_max, lon_min, lon_max: the Caribbean transit zone


def make_zones(rng: np.random.Generator, n: int, vertices: int) -> dict[str, Any]:
    """n jagged star-shaped polygons (radius 2-20 km) as a GeoJSON FeatureCollection."""
    feats = []
    ang = np.linspace(0.0, 2 * np.pi, vertices, endpoint=False)
    for i in range(n):
        lat0, lon0 = rng.uniform(AREA[0] + 0.5, AREA[1] - 0.5), rng.uniform(AREA[2] + 0.5, AREA[3] - 0.5)
        r_km = rng.uniform(2.0, 20.0) * (1.0 + 0.25 * rng.uniform(-1, 1, vertices))
        dlat = r_km / 111.0 * np.sin(ang)
        dlon = r_km / (111.0 * np.cos(np.radians(lat0))) * np.cos(ang)
        ring = np.column_stack([lon0 + dlon, lat0 + dlat])
        ring = np.vstack([ring, ring[:1]]).round(6).tolist()
        feats.append({"type": "Feature", "properties": {"name": f"z{i}", "kind": ZONE_KINDS[i % len(ZONE_KINDS)]},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": feats}


def make_views(rng: np.random.Generator, frame: LocalFrame, n: int, t: float) -> dict[str, TrackView]:
    """Seeded traffic: 90 % surface, 10 % air. Surface: 95 % AIS-identified at 0-20 kn, 5 % dark
    (of which one in ten at go-fast speed); air: 90 % ICAO-identified airliners at 9-12 km and
    200-250 m/s, 10 % without ICAO at 300-4,000 m and 40-120 m/s."""
    out = {}
    for domain, count, base in (("surface", int(n * 0.9), 1), ("air", n - int(n * 0.9), 1_000_000_001)):
        lat = rng.uniform(AREA[0], AREA[1], count)
        lon = rng.uniform(AREA[2], AREA[3], count)
        e, nn = frame.to_local(lat, lon)
        ident = rng.uniform(size=count) < (0.95 if domain == "surface" else 0.9)
        if domain == "surface":
            speed = np.where(ident | (rng.uniform(size=count) < 0.9), rng.uniform(0.0, 10.0, count), rng.uniform(15.0, 25.0, count))
            alt = np.full(count, np.nan)
        else:
            speed = np.where(ident, rng.uniform(200.0, 250.0, count), rng.uniform(40.0, 120.0, count))
            alt = np.where(ident, rng.uniform(9000.0, 12000.0, count), rng.uniform(300.0, 4000.0, count))
        hdg = rng.uniform(0, 2 * np.pi, count)
        out[domain] = TrackView(
            t=t, domain=domain, track_id=np.arange(base, base + count, dtype=np.int64), status=np.full(count, CONFIRMED, np.int8),
            x=np.column_stack([e, nn, speed * np.sin(hdg), speed * np.cos(hdg)]), covariance=fixed_covariance(np.tile(np.eye(4), (count, 1, 1))),
            alt_m=alt, vrate_mps=np.full(count, np.nan) if domain == "surface" else rng.normal(0, 2, count),
            mmsi=np.where(ident & (domain == "surface"), 300_000_000 + np.arange(count), NO_MMSI).astype(np.int64),
            icao24=np.where(ident & (domain == "air"), np.arange(count), NO_ICAO).astype(np.int64),
            first_t=np.full(count, t - 7200.0), last_t=np.full(count, t),
            last_ais_t=np.where(ident, t - rng.uniform(0, 30, count), np.nan), last_noncoop_t=np.full(count, t - 5.0),
            sources=np.full(count, 5, np.int64), spoof_suspect=rng.uniform(size=count) < 0.001)
    return out


def heard_table(rng: np.random.Generator, frame: LocalFrame, views: dict[str, TrackView]) -> ReportingArrays:
    """The AIS reporting table of the identified surface tracks: each MMSI last heard (class A, 5 m/s) at its track's
    position at its last AIS update, except 2 % heard 10-60 min ago 1-30 km away (a vessel gone quiet, an identity
    left on another track)."""
    v = views["surface"]
    ident = np.flatnonzero(v.mmsi != NO_MMSI)
    k = len(ident)
    east, north = v.x[ident, 0].copy(), v.x[ident, 1].copy()
    heard_t = v.last_ais_t[ident].copy()
    away = rng.uniform(size=k) < 0.02
    bearing, dist = rng.uniform(0, 2 * np.pi, k), rng.uniform(1_000.0, 30_000.0, k)
    east[away] += (dist * np.sin(bearing))[away]
    north[away] += (dist * np.cos(bearing))[away]
    heard_t[away] = v.t - rng.uniform(600.0, 3_600.0, int(away.sum()))
    lat, lon = frame.to_geodetic(east, north)
    o = np.argsort(v.mmsi[ident], kind="stable")
    return ReportingArrays(mmsi=v.mmsi[ident][o], msg_type=np.ones(k, np.int64), sog_mps=np.full(k, 5.0),
                           gap_ratio=np.ones(k), learnt=np.full(k, 10, np.int64), last_t=heard_t[o], lat=lat[o], lon=lon[o],
                           heard_until=float(v.t))


def drift(views: dict[str, TrackView], dt: float) -> dict[str, TrackView]:
    """Advance every track by dt at constant velocity."""
    from dataclasses import replace

    out = {}
    for d, v in views.items():
        x = v.x.copy()
        x[:, 0:2] += x[:, 2:4] * dt
        out[d] = replace(v, t=v.t + dt, x=x, last_t=v.last_t + dt, last_ais_t=v.last_ais_t + dt,
                         last_noncoop_t=v.last_noncoop_t + dt)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=10_000)
    ap.add_argument("--zones", type=int, default=1_000)
    ap.add_argument("--vertices", type=int, default=40)
    ap.add_argument("--ticks", type=int, default=20)
    ap.add_argument("--coast", choices=("none", "gshhg"), default="gshhg")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--ais-table", action="store_true", help="pass an AIS reporting table (see the module docstring)")
    ap.add_argument("--events", help="write every alert event here (JSON Lines)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    frame = LocalFrame(*AREA)
    t_setup = time.perf_counter()
    zones = ZoneSet.from_geojson(make_zones(rng, args.zones, args.vertices), "bench")
    rules = rules_from_dict({"engine": {"coast": args.coast}}, "bench")
    engine = RuleEngine(zones, rules, frame)
    setup_s = time.perf_counter() - t_setup
    t0 = 1_700_013_600.0
    views = make_views(rng, frame, args.tracks, t0)
    table_rng = np.random.default_rng(args.seed + 1)  # its own stream: the zones and tracks do not depend on the flag
    table = (lambda: heard_table(table_rng, frame, views)) if args.ais_table else ReportingArrays
    log = [engine.evaluate(t0, views, reporting=table())]  # warm-up tick
    gc.collect()
    gc.freeze()
    times, cpu = [], []
    for k in range(1, args.ticks + 1):
        views = drift(views, 10.0)
        reporting = table()
        start, start_cpu = time.perf_counter(), time.process_time()
        log.append(engine.evaluate(t0 + 10.0 * k, views, reporting=reporting))
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    events = sum(len(tick) for tick in log[1:])
    if args.events:
        with open(args.events, "wb") as f:
            f.writelines(msgspec.json.encode(ev) + b"\n" for tick in log for ev in tick)
    ms, cpu_ms = np.array(times) * 1e3, np.array(cpu) * 1e3
    print(json.dumps({
        "bench": "rules.evaluate", "tracks": args.tracks, "zones": args.zones,
        "zone_vertices_total": int(shapely.get_num_coordinates([z.geometry for z in zones.zones]).sum()),
        "rules_enabled": rules.enabled(), "coast": args.coast, "ais_table": args.ais_table, "ticks": args.ticks,
        "tick_ms_median": round(float(np.median(ms)), 2), "tick_ms_p90": round(float(np.percentile(ms, 90)), 2),
        "tick_ms_p95": round(float(np.percentile(ms, 95)), 2), "tick_ms_max": round(float(ms.max()), 2),
        "tick_cpu_ms_median": round(float(np.median(cpu_ms)), 2), "tick_cpu_ms_p90": round(float(np.percentile(cpu_ms, 90)), 2),
        "tick_cpu_ms_p95": round(float(np.percentile(cpu_ms, 95)), 2), "tick_cpu_ms_max": round(float(cpu_ms.max()), 2),
        "load_avg_1min": round(os.getloadavg()[0], 2), "events": events, "setup_s": round(setup_s, 2),
        "python": platform.python_version(), "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
