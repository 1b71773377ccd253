"""Tracker benchmark: our core against Stone Soup 1.9.1's standard GNN tracker, and our
scaling from 100 to 100,000 targets, plus a dense variant. Prints one JSON object.

    python bench/tracker.py                       # full run (sizes 100 .. 100,000)
    python bench/tracker.py --sizes 100 1000 --stonesoup-sizes 100 --scans 15
    python bench/tracker.py --quick               # 100 and 1,000 targets, 10 scans
    python bench/tracker.py --sizes 1000 10000 --oosm-lag 1300 10
                                                  # cost of a 1,300 s out-of-sequence lag
    python bench/tracker.py --sizes 1000 10000 --oosm-lag 30 10 --late-max-age 21600
                                                  # the same late payload fused by retrodiction
    python bench/tracker.py --regional 1000 --sizes 1000 10000 100000 --scans 10
                                                  # per-batch cost: each scan split into
                                                  # regional sensors of about 1,000 plots

Issue 15's comparison (``--issue15 N_SMALL``): on the dense case (targets 500 m apart) and the
sparse one (5 km), our tracker with GNN (the default), with the track score for confirmation,
and with JPDA plus the track score, against a filterpy SORT-like two-stage tracker
(bench/sort_baseline.py), at ``--dense-targets``; then all of them and Stone Soup's GNN and
JPDA trackers at N_SMALL targets (Stone Soup's JPDA cannot finish 1,000 in reasonable time).

    python bench/tracker.py --issue15 100 --dense-targets 1000 --scans 100

Regional mode (``--regional P``): the area is cut into a grid of about targets x 1.1 / P
equal cells, one sensor per cell; each scan becomes one batch per sensor holding the plots
in its cell (as ten radars with disjoint coverage each report their own scan). Looks
come from each batch's plot bounding box (``look_margin_m`` 0), not the whole frame. It
reports ms per batch (mean, median, p95) next to det/s: when the tracker's per-batch work
follows the tracks a batch can reach, ms per batch stays flat as the pool grows at a
fixed batch size. ``--imm`` runs the regional batches with the service's surface pool
(two-model IMM, as in the live service) instead of the plain single CV model.

Scenarios come from bench/gen_scans.py (the plain-metric mode). Timing covers the
tracker step only (not scenario generation or output); each size runs in a fresh
subprocess so that its peak RSS is its own. GOSPA: p = 2, c = 500 m, alpha = 2, per
scan, averaged over scans, on the confirmed (and coasting) tracks.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_scans import Scan, generate  # noqa: E402

from fusion.core.arrays import COASTING, CONFIRMED  # noqa: E402
from fusion.core.tracker import Tracker, TrackerConfig  # noqa: E402
from fusion.trackscans import plain_config, scan_batch  # noqa: E402

SIGMA_M = 50.0
DT_S = 4.0


def gospa_parts(truth: np.ndarray, tracks: np.ndarray, c: float = 500.0, p: float = 2.0) -> dict[str, float]:
    """GOSPA (alpha = 2) between truth (T, 2) and track (Y, 2) positions, metres, with its
    parts: ``gospa`` (the metric), ``loc`` (sum of d^p over the ``pairs`` assigned, m^p),
    ``missed`` and ``false`` (counts; each costs c^p / 2).

    Only pairs closer than c can lower the cost, so candidates come from a k-d tree and
    each connected block is solved exactly (dense only inside a block).
    """
    nt, ny = truth.shape[0], tracks.shape[0]
    loc, assigned = 0.0, 0
    pairs = cKDTree(truth).query_ball_tree(cKDTree(tracks), c) if nt and ny else []
    ti = np.repeat(np.arange(nt), [len(x) for x in pairs]) if nt and ny else np.zeros(0, dtype=np.int64)
    if ti.size:
        yi = np.fromiter((j for x in pairs for j in x), dtype=np.int64, count=ti.size)
        _, lab = connected_components(coo_matrix((np.ones(ti.size), (ti, yi + nt)), shape=(nt + ny,) * 2),
                                      directed=False)
        dist_p = np.linalg.norm(truth[ti] - tracks[yi], axis=1) ** p
        gain = dist_p - c**p  # assigning a pair changes the cost by this
        comp = lab[ti]
        order = np.argsort(comp, kind="stable")
        for grp in np.split(order, np.flatnonzero(np.diff(comp[order])) + 1):
            r, r_inv = np.unique(ti[grp], return_inverse=True)
            k, k_inv = np.unique(yi[grp], return_inverse=True)
            mat = np.zeros((r.size, k.size))
            mat[r_inv, k_inv] = gain[grp]
            rr, cc = linear_sum_assignment(mat)
            won = mat[rr, cc] < 0
            loc += float((mat[rr, cc][won] + c**p).sum())
            assigned += int(won.sum())
    missed, false = nt - assigned, ny - assigned
    total = loc + c**p / 2.0 * (missed + false)
    return {"gospa": float(max(total, 0.0) ** (1.0 / p)), "loc": loc, "pairs": assigned, "missed": missed, "false": false}


def gospa(truth: np.ndarray, tracks: np.ndarray, c: float = 500.0, p: float = 2.0) -> float:
    """GOSPA (alpha = 2) between truth (T, 2) and track (Y, 2) positions, metres."""
    return gospa_parts(truth, tracks, c, p)["gospa"]


def regional_batches(scans: list[Scan], plots_per_batch: int) -> list[list[np.ndarray]]:
    """Per scan, the detections split by a fixed grid of sensor cells of about
    ``plots_per_batch`` plots each (cells over the bounding box of all detections)."""
    allxy = np.concatenate([s.detections for s in scans])
    lo, hi = allxy.min(axis=0), allxy.max(axis=0)
    cells = max(1, round(allxy.shape[0] / len(scans) / plots_per_batch))
    nx = max(1, round(np.sqrt(cells)))
    ny = max(1, round(cells / nx))
    out = []
    for s in scans:
        ix = np.minimum(((s.detections[:, 0] - lo[0]) / (hi[0] - lo[0]) * nx).astype(np.int64), nx - 1)
        iy = np.minimum(((s.detections[:, 1] - lo[1]) / (hi[1] - lo[1]) * ny).astype(np.int64), ny - 1)
        cell = ix * ny + iy
        order = np.argsort(cell, kind="stable")
        bounds = np.searchsorted(cell[order], np.arange(1, nx * ny))
        out.append([s.detections[g] for g in np.split(order, bounds) if g.size])
    return out


def score_summary(per_scan: list[dict[str, float]]) -> dict:
    """Mean GOSPA over the scans (and over their last half) and its parts per scan: missed
    targets, false tracks, and the RMS distance of the assigned pairs (m)."""
    g = [p["gospa"] for p in per_scan]
    loc, pairs = sum(p["loc"] for p in per_scan), sum(p["pairs"] for p in per_scan)
    return {"gospa_mean_m": float(np.mean(g)), "gospa_last_half_m": float(np.mean(g[len(g) // 2:])),
            "missed_per_scan": float(np.mean([p["missed"] for p in per_scan])),
            "false_per_scan": float(np.mean([p["false"] for p in per_scan])),
            "loc_rms_m": float(np.sqrt(loc / pairs)) if pairs else None}


# the configurations of our tracker compared by ``--issue15`` (TrackerConfig fields over plain_config()); "ours" is
# the GNN and 2-of-3 of every earlier figure in docs/BENCHMARKS.md
OURS = {"ours": {"association": "gnn", "confirmation": "m_of_n"}, "ours-score": {"association": "gnn", "confirmation": "score"},
        "ours-jpda": {"association": "jpda", "confirmation": "score"}}


def run_ours(scans: list[Scan], plots_per_batch: int = 0, imm: bool = False, settings: dict | None = None) -> dict:
    """Our tracker over the scans (one batch per scan, or regional batches of about
    ``plots_per_batch`` plots): timing, GOSPA and track counts. ``imm``: the service's
    surface pool (two-model IMM) instead of the plain-metric single CV model. ``settings``:
    TrackerConfig fields replaced in the plain-metric configuration."""
    config = dataclasses.replace(plain_config(), **(settings or {}))
    if plots_per_batch:
        config = TrackerConfig(look_margin_m=0.0, surface=TrackerConfig().surface if imm else config.surface)
        parts = regional_batches(scans, plots_per_batch)
    else:
        parts = [[s.detections] for s in scans]
    trk = Tracker(config, "surface")
    busy, cpu, scores, dets, per_batch = 0.0, 0.0, [], 0, []
    for s, dets_of_scan in zip(scans, parts, strict=True):
        for det in dets_of_scan:
            batch = scan_batch(s.t, det, SIGMA_M)
            t0, c0 = time.perf_counter(), time.process_time()
            trk.step(batch)
            dt = time.perf_counter() - t0
            cpu += time.process_time() - c0
            busy += dt
            per_batch.append(dt)
            dets += len(batch)
        v = trk.view(s.t)
        keep = (v.status == CONFIRMED) | (v.status == COASTING)
        scores.append(gospa_parts(s.truth_xy, v.x[keep, :2]))
    ms = 1e3 * np.array(per_batch)
    out = {"detections": dets, "seconds": busy, "detections_per_s": dets / busy,
           "detections_per_cpu_s": dets / cpu if cpu > 0 else None,  # CPU time: less moved by the other sessions' load
           "ms_per_scan": 1e3 * busy / len(scans), **score_summary(scores), "tracks_end": len(trk)}
    if plots_per_batch:
        later = ms[len(parts[0]):]  # after the first scan (which only starts tracks)
        out.update(batches=len(per_batch), batches_per_scan=len(per_batch) / len(scans),
                   plots_per_batch=dets / len(per_batch), ms_per_batch=float(ms.mean()),
                   ms_per_batch_after_first_scan=float(later.mean()) if later.size else None,
                   ms_per_batch_p50=float(np.median(ms)), ms_per_batch_p95=float(np.percentile(ms, 95)))
    return out


def run_oosm(targets: int, lag_s: float, interval_s: float, scans: int = 350, seed: int = 1, late_max_age_s: float = 0.0) -> dict:
    """Cost of an out-of-sequence lag: ``scans`` in-order scans (plain mode, sparse), then a
    satellite-like payload of 20 identity reports spread over the last 1,100 s, which the
    tracker re-runs (or drops, when older than the lag; or, older than the lag and within
    ``late_max_age_s``, fuses by retrodiction). Memory held by the re-run window
    (checkpoints, logged batches), RSS, in-order ms/scan and the late payload's seconds."""
    from fusion.core.arrays import NO_ICAO, MeasBatch
    from fusion.trackscans import PLAIN_POOL

    sc = generate(targets, scans, seed=seed, spacing_m=5000.0)
    cfg = TrackerConfig(look_margin_m=float("inf"), surface=PLAIN_POOL, oosm_lag_s=lag_s, checkpoint_interval_s=interval_s,
                        late_max_age_s=late_max_age_s)
    trk = Tracker(cfg, "surface")
    busy = 0.0
    for s in sc:
        b = scan_batch(s.t, s.detections, SIGMA_M)
        t0 = time.perf_counter()
        trk.step(b)
        busy += time.perf_counter() - t0
    oosm = trk._oosm  # noqa: SLF001 - what the re-run window holds
    held = sum(v.nbytes for cp in oosm.checkpoints for v in cp.snap.values())
    fields = ("t", "z", "R", "has_vel", "alt_m", "sigma_alt_m", "mmsi", "icao24")
    logged = sum(sum(getattr(b, f).nbytes for f in fields) for b in oosm.batches)
    rss_mb = int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20
    n_ckpt, n_log = len(oosm.checkpoints), len(oosm.batches)
    t_end = sc[-1].t
    picks = [s for s in sc if t_end - 1150 <= s.t <= t_end - 50][::14][:20]
    m = len(picks)
    z = np.full((m, 4), np.nan)
    z[:, :2] = [s.truth_xy[0] for s in picks]
    R = np.zeros((m, 4, 4))
    R[:, 0, 0] = R[:, 1, 1] = 20.0**2
    sat = MeasBatch(t=np.array([s.t + 1.0 for s in picks]), z=z, R=R, has_vel=np.zeros(m, bool),
                    alt_m=np.full(m, np.nan), sigma_alt_m=np.full(m, np.nan), mmsi=np.full(m, 366000001, np.int64),
                    icao24=np.full(m, NO_ICAO, np.int64), sensor_kind="ais", sensor_id="sat", domain="surface")
    t0 = time.perf_counter()
    res = trk.step(sat)
    rerun = time.perf_counter() - t0
    return {"targets": targets, "lag_s": lag_s, "checkpoint_interval_s": interval_s, "tracks": len(trk),
            "checkpoints": n_ckpt, "checkpoint_mb": held / 2**20, "log_batches": n_log, "log_mb": logged / 2**20,
            "rss_mb": rss_mb, "in_order_ms_per_scan": 1e3 * busy / scans, "rerun_s": rerun,
            "late_ms_per_report": 1e3 * rerun / m, "late_max_age_s": late_max_age_s, "late_fused": res.late_fused,
            "rerun_batches": res.rerun_batches, "late_dropped": res.late_dropped}


def clutter_density(scans: list[Scan], pd: float = 0.9) -> float:
    """The scenario's mean clutter density (1/m^2): plots beyond Pd per target over the plots'
    bounding box (what a Stone Soup PDA hypothesiser is told; our tracker estimates it per scan)."""
    allxy = np.concatenate([s.detections for s in scans])
    area = float(np.prod(allxy.max(axis=0) - allxy.min(axis=0)))
    extra = allxy.shape[0] - pd * sum(s.truth_id.size for s in scans)
    return max(extra, 1.0) / len(scans) / area


def run_stonesoup(scans: list[Scan], q: float = 0.05, jpda: bool = False) -> dict:
    """Stone Soup 1.9.1 on the same scans (imported lazily): the standard GNN tracker, or
    (``jpda``) its JPDA (``JPDA`` over ``PDAHypothesiser``, Pd 0.9, the scenario's clutter
    density) in the loop of Stone Soup's JPDA tutorial: each track is the Gaussian-mixture
    reduction of its hypotheses, the detections that are no track's most probable hypothesis
    go to the same two-point initiator as the GNN tracker, and a track whose most probable
    hypothesis is "missed" three scans running is deleted (the GNN tracker's deleter)."""
    from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
    from stonesoup.dataassociator.probability import JPDAwithEHM
    from stonesoup.deleter.time import UpdateTimeStepsDeleter
    from stonesoup.functions import gm_reduce_single
    from stonesoup.hypothesiser.distance import DistanceHypothesiser
    from stonesoup.hypothesiser.probability import PDAHypothesiser
    from stonesoup.initiator.simple import MultiMeasurementInitiator
    from stonesoup.measures import Mahalanobis
    from stonesoup.models.measurement.linear import LinearGaussian
    from stonesoup.models.transition.linear import CombinedLinearGaussianTransitionModel, ConstantVelocity
    from stonesoup.predictor.kalman import KalmanPredictor
    from stonesoup.tracker.simple import MultiTargetTracker
    from stonesoup.types.array import StateVectors
    from stonesoup.types.detection import Detection
    from stonesoup.types.state import GaussianState
    from stonesoup.types.update import GaussianStateUpdate
    from stonesoup.updater.kalman import KalmanUpdater

    trans = CombinedLinearGaussianTransitionModel([ConstantVelocity(q), ConstantVelocity(q)])
    meas = LinearGaussian(ndim_state=4, mapping=(0, 2), noise_covar=np.eye(2) * SIGMA_M**2)
    predictor, updater = KalmanPredictor(trans), KalmanUpdater(meas)
    hyp = DistanceHypothesiser(predictor, updater, measure=Mahalanobis(), missed_distance=3)
    assoc = GNNWith2DAssignment(hyp)
    prior = GaussianState(np.zeros((4, 1)), np.diag([0.0, 12.0**2, 0.0, 12.0**2]))
    init = MultiMeasurementInitiator(prior, UpdateTimeStepsDeleter(2), assoc, updater, meas, min_points=2)
    t0 = datetime(2025, 1, 1)
    feed = [(t0 + timedelta(seconds=s.t), {Detection(d.reshape(2, 1), timestamp=t0 + timedelta(seconds=s.t),
                                                     measurement_model=meas) for d in s.detections}) for s in scans]
    busy, scores, dets = 0.0, [], 0
    if jpda:
        pda = JPDAwithEHM(PDAHypothesiser(predictor, updater, clutter_spatial_density=clutter_density(scans), prob_detect=0.9))
        tracks: set = set()
        misses: dict = {}
        frames = iter(feed)
    else:
        it = iter(MultiTargetTracker(init, UpdateTimeStepsDeleter(3), feed, assoc, updater))
    for s in scans:
        start = time.perf_counter()
        if jpda:
            when, detections = next(frames)
            used = set()
            for track, multi in pda.associate(tracks, detections, when).items():
                states = [h.prediction if not h else updater.update(h) for h in multi]
                weights = np.array([float(h.probability) for h in multi])
                mean, covar = gm_reduce_single(StateVectors([x.state_vector for x in states]),
                                               np.stack([x.covar for x in states], axis=2), weights / weights.sum())
                track.append(GaussianStateUpdate(mean, covar, multi, when))
                top = multi[int(np.argmax(weights))]
                misses[track] = 0 if top else misses.get(track, 0) + 1
                if top:
                    used.add(top.measurement)
            tracks -= {tr for tr in tracks if misses.get(tr, 0) >= 3}
            tracks |= init.initiate(detections - used, when)
            out_tracks = tracks
        else:
            _, out_tracks = next(it)
        busy += time.perf_counter() - start
        dets += s.detections.shape[0]
        xy = np.array([[float(tr.state_vector[0, 0]), float(tr.state_vector[2, 0])] for tr in out_tracks]).reshape(-1, 2)
        scores.append(gospa_parts(s.truth_xy, xy))
    return {"detections": dets, "seconds": busy, "detections_per_s": dets / busy, "ms_per_scan": 1e3 * busy / len(scans),
            **score_summary(scores)}


def run_sort(scans: list[Scan]) -> dict:
    """The filterpy SORT-like two-stage baseline (bench/sort_baseline.py) on the same scans."""
    from sort_baseline import SortTracker

    trk = SortTracker(SIGMA_M)
    busy, scores, dets = 0.0, [], 0
    for s in scans:
        start = time.perf_counter()
        xy = trk.step(s.t, s.detections)
        busy += time.perf_counter() - start
        dets += s.detections.shape[0]
        scores.append(gospa_parts(s.truth_xy, xy))
    return {"detections": dets, "seconds": busy, "detections_per_s": dets / busy, "ms_per_scan": 1e3 * busy / len(scans),
            **score_summary(scores)}


def one(kind: str, targets: int, scans: int, seed: int, spacing_m: float, plots_per_batch: int = 0) -> dict:
    """Run one tracker on one scenario in this process; adds peak RSS. A negative
    ``plots_per_batch`` is the regional mode with the service's IMM surface pool."""
    sc = generate(targets, scans, seed=seed, spacing_m=spacing_m)
    if kind in OURS:
        out = run_ours(sc, abs(plots_per_batch), plots_per_batch < 0, OURS[kind])
    elif kind == "sort":
        out = run_sort(sc)
    else:
        out = run_stonesoup(sc, jpda=kind == "stonesoup-jpda")
    out.update(tracker=kind, targets=targets, scans=scans, spacing_m=spacing_m,
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    return out


def _sub(kind: str, targets: int, scans: int, seed: int, spacing_m: float, plots_per_batch: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--one", kind, str(targets), str(scans), str(seed), str(spacing_m),
           str(plots_per_batch)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def issue15(n_large: int, n_small: int, scans: int, seed: int) -> dict:
    """Issue 15's dense comparison (see ``--issue15``): rows in run order, and each of ours'
    GOSPA as a ratio of the SORT-like baseline's on the same file."""
    ours = list(OURS)
    plan = [(k, n_large, sp) for sp in (500.0, 5000.0) for k in (*ours, "sort")]
    plan += [(k, n_small, 500.0) for k in (*ours, "sort", "stonesoup", "stonesoup-jpda")]
    rows = [_sub(kind, n, scans, seed, sp) for kind, n, sp in plan]
    base = {(r["targets"], r["spacing_m"]): r["gospa_mean_m"] for r in rows if r["tracker"] == "sort"}
    for r in rows:
        r["gospa_vs_sort"] = r["gospa_mean_m"] / base[(r["targets"], r["spacing_m"])]
    return {"scans": scans, "seed": seed, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description="Tracker benchmark (JSON on stdout).")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000, 100_000])
    ap.add_argument("--stonesoup-sizes", type=int, nargs="*", default=[100])
    ap.add_argument("--scans", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dense-targets", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="sizes 100 and 1,000 only, 10 scans (make bench)")
    ap.add_argument("--regional", type=int, metavar="P", default=0,
                    help="per-batch cost mode: regional sensors of about P plots per batch (sparse sizes only)")
    ap.add_argument("--imm", action="store_true",
                    help="regional mode with the service's surface pool (two-model IMM), as the live service")
    ap.add_argument("--oosm-lag", type=float, nargs=2, metavar=("LAG_S", "CHECKPOINT_S"),
                    help="cost of an out-of-sequence lag at each of --sizes (350 scans, then a late payload)")
    ap.add_argument("--late-max-age", type=float, default=0.0,
                    help="with --oosm-lag: TrackerConfig.late_max_age_s (retrodiction beyond the lag)")
    ap.add_argument("--issue15", type=int, metavar="N_SMALL", default=0,
                    help="issue 15's comparison: ours (GNN; GNN + track score; JPDA + track score) and the filterpy "
                         "SORT-like baseline at --dense-targets, dense (500 m) and sparse (5 km), plus all of them and "
                         "Stone Soup GNN and JPDA at N_SMALL targets, dense; --scans scans each")
    ap.add_argument("--one", nargs=6, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.quick:
        a.sizes, a.scans = [100, 1000], 10
    if a.one:
        kind, n, s, seed, sp, ppb = a.one
        print(json.dumps(one(kind, int(n), int(s), int(seed), float(sp), int(ppb))))
        return
    if a.issue15:
        print(json.dumps(issue15(a.dense_targets, a.issue15, a.scans, a.seed), indent=1))
        return
    if a.oosm_lag:
        if len(a.sizes) == 1:
            print(json.dumps(run_oosm(a.sizes[0], a.oosm_lag[0], a.oosm_lag[1], seed=a.seed, late_max_age_s=a.late_max_age)))
            return
        for n in a.sizes:  # one process per size: its own RSS
            cmd = [sys.executable, __file__, "--sizes", str(n), "--oosm-lag", *map(str, a.oosm_lag), "--seed", str(a.seed),
                   "--late-max-age", str(a.late_max_age)]
            print(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip())
        return
    if a.regional:
        rows = [_sub("ours", n, a.scans, a.seed, 5000.0, -a.regional if a.imm else a.regional) for n in a.sizes]
        one_batch = [_sub("ours", n, a.scans, a.seed, 5000.0) for n in a.sizes]
        n = np.array([r["targets"] for r in rows], dtype=float)
        mb = np.array([r["ms_per_batch_after_first_scan"] for r in rows])
        exponent = float(np.polyfit(np.log(n), np.log(mb), 1)[0]) if n.size > 1 else None
        print(json.dumps({"regional": rows, "imm": a.imm, "one_batch_per_scan": one_batch,
                          "ms_per_batch_exponent": exponent}, indent=1))
        return
    ours = [_sub("ours", n, a.scans, a.seed, 5000.0) for n in a.sizes]
    ss = [_sub("stonesoup", n, a.scans, a.seed, 5000.0) for n in a.stonesoup_sizes]
    dense = [_sub("ours", n, a.scans, a.seed, 500.0) for n in (100, a.dense_targets)]
    dense += [_sub("stonesoup", 100, a.scans, a.seed, 500.0)] if a.stonesoup_sizes else []
    n = np.array([r["targets"] for r in ours], dtype=float)
    ms = np.array([r["ms_per_scan"] for r in ours])
    exponent = float(np.polyfit(np.log(n), np.log(ms), 1)[0]) if n.size > 1 else None
    ratio = {str(s["targets"]): o["detections_per_s"] / s["detections_per_s"]
             for s in ss for o in ours if o["targets"] == s["targets"]}
    print(json.dumps({"ours": ours, "stonesoup": ss, "dense": dense, "ms_per_scan_exponent": exponent,
                      "speedup_vs_stonesoup": ratio}, indent=1))


if __name__ == "__main__":
    main()
