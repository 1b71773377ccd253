"""Cost of the tracker's snapshot (``Tracker.snapshot``), taken at every re-run checkpoint, with a full lost-track ring.

    python bench/snapshot_cost.py [--targets 2000] [--scans 20] [--repeat 200] [--kept 30]

Fuses the seeded scans of bench/tracker.py (bench/gen_scans.py) so that the table holds live tracks, fills the
lost-track ring (``TrackerConfig.lost_track_history`` entries, 5.8 MB with the default IMM) by recording the live
rows into it, then times ``snapshot()`` and, in the same run for comparison, the same snapshot with the ring's
columns copied as they were before the ring was shared with the snapshots (copy on write,
``LostTracks.writable``), each while the newest ``--kept`` snapshots stay alive. Prints JSON: ms per snapshot
each way, the ring's MB and the distinct MB the kept snapshots hold each way.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from gen_scans import generate

from fusion.core.tracker import Tracker
from fusion.trackscans import plain_config, scan_batch


def measure(n_targets: int, n_scans: int, repeat: int, kept: int) -> dict[str, float]:
    """Median ms of one snapshot with the ring shared and with it copied, each while the newest ``kept`` snapshots
    stay alive (as the re-run log keeps its checkpoints: fresh memory for every copy), and the MB those hold."""
    tracker = Tracker(plain_config(), "surface")
    for scan in generate(n_targets, n_scans, seed=1):
        tracker.step(scan_batch(scan.t, scan.detections, 50.0))
    lost = tracker._lost  # noqa: SLF001 - the bench fills the ring the snapshot carries
    assert lost is not None
    rows = np.arange(len(tracker))
    while lost.n < lost.ring["id"].shape[0]:
        lost.record(tracker._table, rows)  # noqa: SLF001

    def run(copy_ring: bool) -> tuple[float, float]:
        held: deque[dict[str, np.ndarray]] = deque(maxlen=kept)
        spent = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            snap = tracker.snapshot()
            if copy_ring:  # what LostTracks.state() did before the ring was shared
                snap = {k: (v.copy() if k.startswith("lost.") else v) for k, v in snap.items()}
            spent.append(time.perf_counter() - t0)
            held.append(snap)
        distinct = {id(v): v.nbytes for snap in held for v in snap.values()}  # a shared array counts once
        return statistics.median(spent) * 1e3, sum(distinct.values()) / 1e6

    (s_ms, s_mb), (c_ms, c_mb) = run(False), run(True)
    return {"tracks": len(tracker), "ring_mb": round(sum(v.nbytes for v in lost.ring.values()) / 1e6, 2),
            "kept_snapshots": kept, "snapshot_ms_shared": round(s_ms, 3), "snapshot_ms_ring_copied": round(c_ms, 3),
            "held_mb_shared": round(s_mb, 1), "held_mb_ring_copied": round(c_mb, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=2000)
    ap.add_argument("--scans", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--kept", type=int, default=30, help="snapshots kept alive, as the re-run log's checkpoints")
    a = ap.parse_args()
    print(json.dumps(measure(a.targets, a.scans, a.repeat, a.kept), indent=2))


if __name__ == "__main__":
    main()
