"""Sparse real AIS: tracks per vessel and coverage, native and thinned, per tracker setting.

The MarineCadastre New York Harbor hour (/work/shared/data/real/ais, SOURCE.md: thinned by
MarineCadastre to about one report per vessel per minute) is used as it is and thinned
further by ``fusion.realdata_import.thin_marinecadastre``, a deterministic rule: per MMSI, the first row, then the first row at
least ``--period-s`` (default 420 s, a satellite AIS revisit as in issue 15) after the last
one kept. Each variant is imported (``fusion.realdata_import``), replayed offline and scored
with ``vessel_continuity`` / ``continuity_summary`` (docs/REALDATA.md) under three tracker
settings:

- ``live``: ``TrackerConfig()`` with every source's interval unknown but AIS rows' ITU-R
  M.1371 rates (the service's default);
- ``thinned_ais``: the fixed-limit preset of docs/REALDATA.md (tuned on this NY file);
- ``intervals``: ``TrackerConfig(source_interval_s={"ais/<source>": period})`` where
  period is what the feed is known to deliver (60 s for MarineCadastre, SOURCE.md; the
  thinning period for the thinned copy): the expected-interval model, nothing tuned.

Prints one JSON object. ``python bench/sparse_ais.py [--csv F] [--period-s 420] [--out DIR]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from fusion.core.config import TrackerConfig
from fusion.pipeline import FusionConfig
from fusion.realdata_import import (
    THINNED_AIS_CONFIG,
    continuity_summary,
    import_marinecadastre,
    read_positions,
    replay_with_data_area,
    thin_marinecadastre,
    vessel_continuity,
)

NY_CSV = Path("/work/shared/data/real/ais/NYHarbor_2020_06_30_first_hour.csv")
MARINECADASTRE_PERIOD_S = 60.0  # SOURCE.md: "thinned to about one report per vessel per minute"


def score(csv_path: Path, source: str, config: FusionConfig, work: Path, name: str, min_reports: int) -> dict[str, object]:
    """Import, replay with ``config`` and score one CSV."""
    rec = work / f"{name}.jsonl.gz"
    import_marinecadastre(csv_path, rec, source=source)
    t0 = time.perf_counter()
    replay = replay_with_data_area(rec, work / name, config=config)
    wall = time.perf_counter() - t0
    summary = continuity_summary(vessel_continuity(read_positions(csv_path, source=source), work / name / "tracks.jsonl",
                                                   min_reports=min_reports))
    return {k: summary[k] for k in ("vessels", "continuous", "fraction", "tracks_per_vessel", "coverage")} | {
        "measurements": replay["measurements"], "late_dropped": replay["late_dropped"], "replay_wall_s": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", type=Path, default=NY_CSV)
    ap.add_argument("--period-s", type=float, default=420.0, help="thinning period of the sparse copy, s")
    ap.add_argument("--min-reports", type=int, default=5, help="vessels scored: at least this many reports in the variant")
    ap.add_argument("--out", type=Path, help="keep recordings and replays here (default: a temporary directory)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.out or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        thinned = work / "thinned.csv"
        kept = thin_marinecadastre(args.csv, thinned, args.period_s)
        variants = {"native": (args.csv, "marinecadastre", MARINECADASTRE_PERIOD_S),
                    "thinned": (thinned, "thinned", args.period_s)}
        result: dict[str, object] = {"csv": str(args.csv), "period_s": args.period_s, "thinned_rows": kept,
                                     "min_reports": args.min_reports}
        for variant, (path, source, period) in variants.items():
            configs = {
                "live": FusionConfig(),
                "thinned_ais": THINNED_AIS_CONFIG,
                "intervals": FusionConfig(tracker=TrackerConfig(source_interval_s={f"ais/{source}": period})),
            }
            result[variant] = {name: score(path, source, cfg, work, f"{variant}-{name}", args.min_reports)
                               for name, cfg in configs.items()}
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
