"""Issue 14's done criteria on real AIS: both real data sets imported with ``jisf import-ais`` and replayed as
``jisf replay REC -o DIR --deployment FILE``, with the rules on (docs/REALDATA.md "Done criteria on real AIS").

- New York Harbor, MarineCadastre CSV (2020-06-30 00:00-01:00 UTC, ~1 report per vessel per minute) with
  deploy/realais_ny.toml;
- the same CSV thinned to one report per vessel per 7 min (``thin_marinecadastre``, a satellite AIS revisit;
  docs/REALDATA.md "Sparse AIS") with deploy/sparse_ais.example.toml (source interval 420 s);
- AMSA's NMEA stream (2012-01-27 11:47-11:53 UTC, live rates), timed by its own $GPZDA clock sentences, with
  deploy/realais_amsa.toml.

Per data set ``fusion.realdata_import.replay_and_figures``: false alerts per 10 vessels per day by rule (every
vessel presumed benign, no labelled suspect), tracks per MMSI (all vessels and vessels with >= 10 reports),
tracks carrying two MMSI. Prints one JSON object.

    python bench/realais.py [--out DIR] [--ny CSV] [--amsa NMEA]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from fusion.realdata_import import import_marinecadastre, import_nmea, replay_and_figures, thin_marinecadastre

DATA = Path("/work/shared/data/real/ais")
DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
THIN_PERIOD_S = 420.0  # as bench/sparse_ais.py and deploy/sparse_ais.example.toml ("ais/thinned")


def run(out: Path, ny_csv: Path, amsa_nmea: Path) -> dict[str, object]:
    """Import, replay and score both data sets under ``out``; the figures per data set and the wall time (s)."""
    result: dict[str, object] = {}
    t0 = time.perf_counter()
    import_marinecadastre(ny_csv, out / "ny.jsonl.gz")
    result["ny"] = replay_and_figures(out / "ny.jsonl.gz", out / "ny", DEPLOY / "realais_ny.toml")
    thin_marinecadastre(ny_csv, out / "ny_thin.csv", THIN_PERIOD_S)
    import_marinecadastre(out / "ny_thin.csv", out / "ny_thin.jsonl.gz", source="thinned")
    result["ny_thinned_7min"] = replay_and_figures(out / "ny_thin.jsonl.gz", out / "ny_thin",
                                                   DEPLOY / "sparse_ais.example.toml")
    import_nmea(amsa_nmea, out / "amsa.jsonl.gz", source="amsa")
    result["amsa"] = replay_and_figures(out / "amsa.jsonl.gz", out / "amsa", DEPLOY / "realais_amsa.toml")
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def main() -> None:
    """Command line: see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="directory for the recordings and replays (default: a temporary one)")
    p.add_argument("--ny", type=Path, default=DATA / "NYHarbor_2020_06_30_first_hour.csv")
    p.add_argument("--amsa", type=Path, default=DATA / "amsa_ais.txt.gz")
    args = p.parse_args()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        print(json.dumps(run(args.out, args.ny, args.amsa)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp), args.ny, args.amsa)))


if __name__ == "__main__":
    main()
