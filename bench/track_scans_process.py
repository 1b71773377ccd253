"""Whole-process cost of ``jisf track-scans``: start-up (imports), JSON parsing, tracking and
output, as a user runs it. Prints one JSON object.

    python bench/track_scans_process.py                           # 1,000 and 10,000 targets, 100 scans, 3 rounds
    python bench/track_scans_process.py --baseline /tmp/base      # the same, against another checkout, interleaved

The scans files come from bench/gen_scans.py (seed 1, 5 km spacing; each line also carries
the truth, which track-scans skips). Each round runs every variant once per size, in turn,
so that the shared machine's load hits them alike; the figures are the medians over the
rounds. Per run: wall seconds, CPU seconds (user + system of the child), det/s over the wall
time and over the CPU time (the steadier figure on a loaded machine), the tracker-only seconds that track-scans reports itself, and the CPU seconds of
``import fusion.trackscans`` alone. ``--baseline DIR`` runs a second checkout (e.g.
``git archive REV | tar -x -C DIR``) with DIR first on its path.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _child(root: Path, args: list[str]) -> tuple[float, float, str]:
    """Run ``python ARGS`` with ``root`` first on the path -> (wall s, CPU s, stdout)."""
    env = dict(os.environ, PYTHONPATH=str(root))
    before = os.times()
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, out.stdout


def _one(root: Path, scans: Path, out: Path) -> dict[str, float]:
    wall, cpu, stdout = _child(root, ["-m", "fusion.cli", "track-scans", str(scans), "-o", str(out)])
    stats = json.loads(stdout.strip().splitlines()[-1])
    _, import_cpu, _ = _child(root, ["-c", "import fusion.trackscans"])
    return {"wall_s": wall, "cpu_s": cpu, "det_per_s": stats["detections"] / wall,
            "det_per_cpu_s": stats["detections"] / cpu, "tracker_s": stats["seconds"],
            "detections": stats["detections"], "import_cpu_s": import_cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, nargs="+", default=[1000, 10_000])
    ap.add_argument("--scans", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", type=Path, help="another checkout to run the same way (its root directory)")
    a = ap.parse_args()
    variants = {"this": ROOT} | ({"baseline": a.baseline.resolve()} if a.baseline else {})
    runs: dict[tuple[str, int], list[dict[str, float]]] = {(v, n): [] for v in variants for n in a.targets}
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for n in a.targets:
            files[n] = Path(tmp) / f"scans_{n}.jsonl"
            subprocess.run([sys.executable, str(ROOT / "bench" / "gen_scans.py"), "--targets", str(n), "--scans",
                            str(a.scans), "--seed", "1", "-o", str(files[n])], check=True, cwd=ROOT)
        for _ in range(a.rounds):
            for n in a.targets:
                for v, root in variants.items():
                    runs[(v, n)].append(_one(root, files[n], Path(tmp) / "out.jsonl"))
    result = []
    for (v, n), rs in runs.items():
        row: dict[str, object] = {"variant": v, "root": str(variants[v]), "targets": n, "scans": a.scans,
                                  "detections": int(rs[0]["detections"]), "rounds": len(rs)}
        for k in ("wall_s", "cpu_s", "det_per_s", "det_per_cpu_s", "tracker_s", "import_cpu_s"):
            row[k] = round(statistics.median(r[k] for r in rs), 3)
            row[k + "_all"] = [round(r[k], 3) for r in rs]
        result.append(row)
    print(json.dumps({"load_avg_1m": os.getloadavg()[0], "runs": result}, indent=1))


if __name__ == "__main__":
    main()
