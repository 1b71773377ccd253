"""Cost of the tracker's physical reach bound (``fusion.core.gate.within_reach``) per scan, in process.

    python bench/reach_cost.py                  # 1,000 and 10,000 targets, 10 scans
    python bench/reach_cost.py --sizes 1000 --scans 20

The same seeded scans as bench/tracker.py (bench/gen_scans.py, plain-metric config); the
bound's calls are timed inside the tracker's own loop, so the share does not depend on the
machine's load as two separate runs would. Prints JSON: per size the tracker's ms per scan,
the bound's ms per scan and its candidate pairs per scan.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_scans import generate

import fusion.core.gate as gate_module
from fusion.core.tracker import Tracker
from fusion.trackscans import plain_config, scan_batch


def measure(n_targets: int, n_scans: int) -> dict[str, float]:
    """Run one size; the bound is wrapped with a timer for this run only."""
    bound = gate_module.within_reach
    spent = {"s": 0.0, "pairs": 0}

    def timed(tab: object, p: object, batch: object) -> object:
        t0 = time.perf_counter()
        out = bound(tab, p, batch)  # type: ignore[arg-type]
        spent["s"] += time.perf_counter() - t0
        spent["pairs"] += len(out)
        return out

    scans = generate(n_targets, n_scans, seed=1)
    batches = [scan_batch(s.t, s.detections, 50.0) for s in scans]
    gate_module.within_reach = timed  # type: ignore[assignment]
    try:
        trk = Tracker(plain_config(), "surface")
        t0 = time.perf_counter()
        for b in batches:
            trk.step(b)
        total = time.perf_counter() - t0
    finally:
        gate_module.within_reach = bound
    return {"targets": n_targets, "scans": n_scans, "tracker_ms_per_scan": 1e3 * total / n_scans,
            "reach_ms_per_scan": 1e3 * spent["s"] / n_scans, "pairs_per_scan": spent["pairs"] / n_scans,
            "reach_share": spent["s"] / total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--scans", type=int, default=10)
    a = ap.parse_args()
    print(json.dumps([measure(n, a.scans) for n in a.sizes], indent=1))


if __name__ == "__main__":
    main()
