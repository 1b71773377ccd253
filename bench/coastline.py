"""Benchmark: the GSHHG coastline (fusion/coastline.py) - load time, throughput, memory.

    PYTHONPATH=. python bench/coastline.py [--points 1000000] [--distance-points 100000]

Prints one JSON object: the index build (once per process), the box load of the default
scenario's area and of the large Caribbean scenario's area (each plus the 1-degree margin the
module-level queries use), is_land throughput per million uniform points over the large box,
distance_to_shore_m throughput, land_geojson time for the large box, and the process's
resident memory (VmRSS now, VmHWM peak; kB) after each step.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from fusion import coastline

DEFAULT_AREA = (-79.8, 9.0, -77.9, 10.3)  # west, south, east, north of sim_feeds/scenarios/default.toml
LARGE_AREA = (-86.0, 9.0, -62.0, 21.0)  # sim_feeds/scenarios/large_caribbean.toml


def rss_kb() -> dict[str, int]:
    """VmRSS and VmHWM of this process, kB (Linux /proc)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM")}


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000, help="is_land points (uniform over the large box)")
    ap.add_argument("--distance-points", type=int, default=100_000, help="distance_to_shore_m points")
    args = ap.parse_args()
    out: dict[str, Any] = {"rss_start_kb": rss_kb()}
    _, out["index_s"] = timed(coastline._index)
    out["rss_index_kb"] = rss_kb()
    m = coastline.MARGIN_DEG
    for name, (w, s, e, n) in (("default", DEFAULT_AREA), ("large_caribbean", LARGE_AREA)):
        box, dt = timed(coastline.coast_box, w - m, s - m, e + m, n + m)
        out[f"box_{name}"] = {"bounds": box.bounds, "load_s": dt, "land_polygons": int(box.land.size),
                              "shore_vertices": int(shapely.get_num_coordinates(box._shoreline).sum()),
                              "rss_kb": rss_kb()}
    rng = np.random.default_rng(1)
    w, s, e, n = LARGE_AREA
    lat, lon = rng.uniform(s, n, args.points), rng.uniform(w, e, args.points)
    land, dt = timed(box.is_land, lat, lon)
    out["is_land"] = {"points": args.points, "s": dt, "s_per_million": dt * 1e6 / args.points,
                      "land_fraction": float(land.mean()), "rss_kb": rss_kb()}
    k = args.distance_points
    _, dt_build = timed(lambda: box._shore)
    _, dt = timed(box.distance_to_shore_m, lat[:k], lon[:k])
    out["distance_to_shore"] = {"points": k, "index_build_s": dt_build, "s": dt, "s_per_million": dt * 1e6 / k,
                                "rss_kb": rss_kb()}
    doc, dt = timed(coastline.land_geojson, *LARGE_AREA)
    out["land_geojson_large"] = {"s": dt, "features": len(doc["features"]), "bytes": len(json.dumps(doc)),
                                 "rss_kb": rss_kb()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
