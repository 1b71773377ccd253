"""Plain-metric multi-target scenarios (the ``jisf track-scans`` input format), seeded.

Constant-velocity targets at 5-40 kn with random headings, sigma 50 m, scan 4 s, Pd 0.9,
clutter 0.1 per live target per scan spread uniformly over the area, births and deaths
(each target lives for a random window of the run). Targets start on a jittered grid
``spacing_m`` apart, so ``spacing_m`` sets the density (5 km sparse, 500 m dense).
Each scan line carries the ``truth`` ([[id, x, y], ...]) for scoring; track-scans
ignores it.

    python bench/gen_scans.py --targets 1000 --scans 30 --seed 1 -o scans.jsonl
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np

from fusion.core.arrays import FloatArray, IntArray

KNOT_MPS = 1852.0 / 3600.0


@dataclass(frozen=True)
class Scan:
    """One scan: time s, detections (M, 2) m, truth ids (T,) and positions (T, 2) m."""

    t: float
    detections: FloatArray
    truth_id: IntArray
    truth_xy: FloatArray


def generate(
    n_targets: int, n_scans: int, *, seed: int = 1, spacing_m: float = 5000.0, dt: float = 4.0,
    sigma_m: float = 50.0, pd: float = 0.9, clutter_per_target: float = 0.1, births_deaths: bool = True,
) -> list[Scan]:
    """Scans of a seeded scenario with ``n_targets`` targets (about 80 % alive at a time;
    all of them for the whole run when ``births_deaths`` is False)."""
    if n_targets < 1 or n_scans < 1:
        raise ValueError(f"n_targets and n_scans must be >= 1, got {n_targets}, {n_scans}")
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_targets)))
    grid = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2)[:n_targets]
    start = (grid + rng.uniform(-0.3, 0.3, grid.shape)) * spacing_m
    speed = rng.uniform(5.0, 40.0, n_targets) * KNOT_MPS
    heading = rng.uniform(0.0, 2 * np.pi, n_targets)
    vel = np.stack([speed * np.sin(heading), speed * np.cos(heading)], axis=1)
    # births in the first third for a fifth of the targets, deaths in the last third for another fifth
    birth = np.where(rng.random(n_targets) < 0.2, rng.integers(1, max(2, n_scans // 3), n_targets), 0)
    death = np.where(rng.random(n_targets) < 0.2, rng.integers(2 * n_scans // 3, n_scans, n_targets), n_scans)
    if not births_deaths:
        birth, death = np.zeros(n_targets, dtype=np.int64), np.full(n_targets, n_scans)
    lo, hi = start.min(axis=0) - spacing_m, start.max(axis=0) + spacing_m
    scans = []
    for k in range(n_scans):
        t = k * dt
        alive = (birth <= k) & (k < death)
        xy = start[alive] + vel[alive] * (t - birth[alive] * dt)[:, None]
        seen = rng.random(xy.shape[0]) < pd
        det = xy[seen] + rng.normal(0.0, sigma_m, (int(seen.sum()), 2))
        clutter = rng.uniform(lo, hi, (rng.poisson(clutter_per_target * alive.sum()), 2))
        allp = np.vstack([det, clutter])
        scans.append(Scan(t, allp[rng.permutation(allp.shape[0])], np.flatnonzero(alive), xy))
    return scans


def write_jsonl(scans: list[Scan], path: Path, *, dt: float = 4.0, sigma_m: float = 50.0) -> None:
    """Write scans in the track-scans input format, with truth."""
    enc = msgspec.json.Encoder()
    with open(path, "wb") as f:
        f.write(enc.encode({"dt": dt, "sigma": sigma_m}) + b"\n")
        for s in scans:
            truth = [[int(i), x, y] for i, (x, y) in zip(s.truth_id.tolist(), s.truth_xy.tolist(), strict=True)]
            f.write(enc.encode({"kind": "scan", "t": s.t, "detections": s.detections.tolist(), "truth": truth}) + b"\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", type=int, default=100)
    ap.add_argument("--scans", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--spacing-m", type=float, default=5000.0)
    ap.add_argument("--clutter-per-target", type=float, default=0.1, help="clutter plots per live target per scan")
    ap.add_argument("--pd", type=float, default=0.9)
    ap.add_argument("--no-births-deaths", action="store_true", help="every target alive for the whole run")
    ap.add_argument("-o", "--out", type=Path, required=True)
    a = ap.parse_args()
    write_jsonl(generate(a.targets, a.scans, seed=a.seed, spacing_m=a.spacing_m, pd=a.pd,
                         clutter_per_target=a.clutter_per_target, births_deaths=not a.no_births_deaths), a.out)


if __name__ == "__main__":
    main()
