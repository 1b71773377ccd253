"""Benchmark ``fusion.evaluation.score.evaluate_dir`` on a synthetic large run; prints JSON.

    python bench/metrics.py --objects 1000 --hours 24 --tick-s 10 [--dir DIR [--reuse]] [--workers N] [--match-repeat N]

``evaluate_dir_s`` is the whole scoring (read + score + write), the figure for "a day of
1,000 objects at 10 s ticks scores in under a minute". Writes truth.jsonl (objects on straight legs in the Caribbean), tracks.jsonl (each object
followed by a track with 50 m noise; 10 % of objects change track id halfway, 2 % of
ticks missed, 5 % extra false tracks per tick) and alerts.jsonl (one alert per suspect,
some on benign tracks), then times the scoring alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fusion.evaluation.config import MetricsConfig
from fusion.evaluation.io import Codebook, read_alerts, read_tracks, read_truth, write_outputs
from fusion.evaluation.matching import match
from fusion.evaluation.score import evaluate

LAT0, LON0 = 15.0, -75.0
M_PER_DEG = 111_320.0


def _lines(template: str, columns: list[list[object]]) -> str:
    return "".join(template.format(*row) for row in zip(*columns, strict=True))


def write_run(out: Path, objects: int, hours: float, tick_s: float, seed: int) -> dict[str, int]:
    """Synthetic truth/tracks/alerts files in ``out``; returns row counts."""
    rng = np.random.default_rng(seed)
    ticks = np.arange(0.0, hours * 3600.0, tick_s) + 1.7e9
    e0 = rng.uniform(-400e3, 400e3, objects)
    n0 = rng.uniform(-300e3, 300e3, objects)
    speed = rng.uniform(2.0, 20.0, objects)
    course = rng.uniform(0.0, 360.0, objects)
    ve, vn = speed * np.sin(np.radians(course)), speed * np.cos(np.radians(course))
    ids = np.arange(objects)
    role = np.where(rng.random(objects) < 0.05, "suspect", "benign")
    switch = rng.random(objects) < 0.10
    coslat = np.cos(np.radians(LAT0))
    truth_t = "{{\"t\":{},\"id\":{},\"domain\":\"surface\",\"lat\":{:.7f},\"lon\":{:.7f},\"alt_m\":null,\"speed_mps\":{:.3f}," \
              "\"course_deg\":{:.3f},\"mmsi\":{},\"icao24\":null,\"role\":\"{}\",\"activity\":\"transit\"}}\n"
    track_t = "{{\"t\":{},\"track_id\":{},\"domain\":\"surface\",\"status\":\"confirmed\",\"lat\":{:.7f},\"lon\":{:.7f}," \
              "\"alt_m\":null,\"vel_e_mps\":{:.3f},\"vel_n_mps\":{:.3f},\"cov_en_m2\":[[2500.0,0.0],[0.0,2500.0]]," \
              "\"mmsi\":null,\"icao24\":null,\"sources\":[\"radar\"]}}\n"
    n_truth = n_tracks = 0
    half = ticks.size // 2
    with (out / "truth.jsonl").open("w") as ft, (out / "tracks.jsonl").open("w") as fk:
        for k, t in enumerate(ticks):
            dt = t - ticks[0]
            e, n = e0 + ve * dt, n0 + vn * dt
            lat, lon = LAT0 + n / M_PER_DEG, LON0 + e / (M_PER_DEG * coslat)
            ft.write(_lines(truth_t, [[t] * objects, ids.tolist(), lat.tolist(), lon.tolist(), speed.tolist(),
                                      course.tolist(), (ids + 200_000_000).tolist(), role.tolist()]))
            seen = rng.random(objects) > 0.02
            track_id = np.where(switch & (k >= half), ids + 10 * objects, ids)[seen]
            te = e[seen] + rng.normal(0.0, 50.0, seen.sum())
            tn = n[seen] + rng.normal(0.0, 50.0, seen.sum())
            n_false = rng.poisson(0.05 * objects)
            te = np.concatenate([te, rng.uniform(-400e3, 400e3, n_false)])
            tn = np.concatenate([tn, rng.uniform(-300e3, 300e3, n_false)])
            track_id = np.concatenate([track_id, 100 * objects + rng.integers(0, 10 * objects, n_false)])
            tve = np.concatenate([ve[seen], np.zeros(n_false)])
            tvn = np.concatenate([vn[seen], np.zeros(n_false)])
            fk.write(_lines(track_t, [[t] * te.size, track_id.tolist(), (LAT0 + tn / M_PER_DEG).tolist(),
                                      (LON0 + te / (M_PER_DEG * coslat)).tolist(), tve.tolist(), tvn.tolist()]))
            n_truth += objects
            n_tracks += te.size
    suspects = np.flatnonzero(role == "suspect")
    benign = rng.choice(np.flatnonzero(role == "benign"), size=max(1, objects // 100), replace=False)
    alerted = np.concatenate([suspects, benign])
    alert_t = ticks[rng.integers(0, ticks.size, alerted.size)]
    alert_dt = alert_t - ticks[0]
    alert_lat = LAT0 + (n0[alerted] + vn[alerted] * alert_dt) / M_PER_DEG
    alert_lon = LON0 + (e0[alerted] + ve[alerted] * alert_dt) / (M_PER_DEG * coslat)
    alert_t_ = "{{\"t\":{},\"alert_id\":\"a{}\",\"rule\":\"{}\",\"severity\":\"high\",\"state\":\"raised\",\"track_id\":{}," \
               "\"lat\":{:.6f},\"lon\":{:.6f},\"zone\":null,\"mmsi\":null,\"icao24\":null,\"reason\":\"bench\"," \
               "\"related_track_ids\":[],\"priority\":1,\"evidence\":{{}}}}\n"
    rules = np.where(np.arange(alerted.size) % 2 == 0, "loiter", "dark_transit")
    (out / "alerts.jsonl").write_text(_lines(alert_t_, [alert_t.tolist(), list(range(alerted.size)), rules.tolist(),
                                                        alerted.tolist(), alert_lat.tolist(), alert_lon.tolist()]))
    return {"truth_rows": n_truth, "track_rows": n_tracks, "alert_rows": int(alerted.size)}


def main(argv: list[str] | None = None) -> int:
    """Generate, score, print one JSON object with the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--tick-s", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=None, help="reader processes / matcher threads (default: cores)")
    ap.add_argument("--dir", type=Path, help="keep the files here (default: a temporary directory)")
    ap.add_argument("--reuse", action="store_true", help="score the files already in --dir instead of generating")
    ap.add_argument("--match-repeat", type=int, default=0,
                    help="also time the per-tick matching alone this many times (match_s_min, match_s_median)")
    args = ap.parse_args(argv)
    out = args.dir or Path(tempfile.mkdtemp(prefix="jisf-bench-metrics-"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        if args.reuse:
            counts: dict[str, object] = {"reused": str(out)}
        else:
            counts = {"objects": args.objects, "hours": args.hours, "tick_s": args.tick_s,
                      **write_run(out, args.objects, args.hours, args.tick_s, args.seed)}
        t1 = time.perf_counter()
        # the steps of evaluate_dir, timed one by one
        domains = Codebook()
        truth = read_truth(out / "truth.jsonl", domains, workers=args.workers)
        tracks = read_tracks(out / "tracks.jsonl", domains, workers=args.workers)
        alerts = read_alerts(out / "alerts.jsonl")
        t2 = time.perf_counter()
        read_s = t2 - t1
        match_s = []
        for _ in range(args.match_repeat):
            t_m = time.perf_counter()
            match(truth, tracks, MetricsConfig(), domains.values, workers=args.workers)
            match_s.append(time.perf_counter() - t_m)
        if match_s:
            counts = {**counts, "match_s_min": round(min(match_s), 3), "match_s_median": round(float(np.median(match_s)), 3)}
        t2 = time.perf_counter()  # scoring is timed from here: the repeated matching is not part of evaluate_dir
        metrics, series, outcomes = evaluate(truth, tracks, alerts, domains.values, workers=args.workers)
        t3 = time.perf_counter()
        write_outputs(out, metrics, series, outcomes)
        t4 = time.perf_counter()
        surface = metrics["domains"]["surface"]
        print(json.dumps({
            **counts, "workers": args.workers,
            "truth_mb": round((out / "truth.jsonl").stat().st_size / 1e6, 1),
            "tracks_mb": round((out / "tracks.jsonl").stat().st_size / 1e6, 1),
            "generate_s": round(t1 - t0, 2), "read_s": round(read_s, 2), "score_s": round(t3 - t2, 2),
            "write_s": round(t4 - t3, 2), "evaluate_dir_s": round(read_s + t4 - t2, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "gospa_mean_m": surface["gospa"]["mean_m"], "position_rmse_m": surface["rmse"]["position_m"],
            "identity_switches": metrics["continuity"]["identity_switches"],
            "alert_recall": metrics["alerts"]["all"]["recall"],
        }, sort_keys=True))
    finally:
        if args.dir is None:
            shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
