"""Profile ``jisf evaluate`` in its three phases: simulation, fusion, scoring (docs/BENCHMARKS.md).

    python bench/profile_evaluate.py SCENARIO [--duration-s S] [--out DIR] [--top N]

Simulation = truth rows + every feed message (``sim_feeds.play``), fusion = the same ``Fusion``
``jisf evaluate`` drives over those messages, scoring = ``fusion.evaluation.score.evaluate_dir``. Each phase is
timed (wall, and CPU of this process: the figure to compare on a shared machine) and run under
cProfile; prints one JSON object (seconds per phase, x real time, the top functions by own time per
phase) and writes DIR/{phase}.prof for ``python -m pstats``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from fusion.evaluation.score import evaluate_dir
from fusion.offline import TRUTH_FILE, fusion_for_area, run_to_dir, scenario_rules
from sim_feeds.play import iter_feed, iter_truth
from sim_feeds.scenario import resolve_scenario, scenario_from_dict


def _top(prof: cProfile.Profile, n: int) -> list[str]:
    """The ``n`` functions with the most own time, as 'file:line(name) tottime cumtime'."""
    stats = pstats.Stats(prof, stream=io.StringIO())
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:n]  # type: ignore[attr-defined]
    return [f"{Path(f).name}:{line}({name}) own {st[2]:.2f} s cum {st[3]:.2f} s" for (f, line, name), st in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--duration-s", type=float, help="override the scenario length (a shorter slice)")
    ap.add_argument("--out", default="out/profile-evaluate")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--workers", type=int, default=None,
                    help="scoring's reader processes and matcher threads (default: the cores, as jisf evaluate; "
                    "1 keeps the matching in the profiled thread)")
    args = ap.parse_args()
    path = resolve_scenario(args.scenario)
    raw = tomllib.loads(path.read_text())
    if args.duration_s:
        raw["duration_s"] = args.duration_s
    scenario = scenario_from_dict(raw, source=path.name, base_dir=path.parent, path=path)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"scenario": path.name, "duration_s": scenario.t_end - scenario.t0,
                              "objects": len(scenario.objects)}
    phases: dict[str, cProfile.Profile] = {}

    def phase(name: str, fn: Any) -> Any:
        prof = cProfile.Profile()
        t0, cpu0 = time.perf_counter(), time.process_time()
        value = prof.runcall(fn)
        result[f"{name}_s"] = round(time.perf_counter() - t0, 2)
        result[f"{name}_cpu_s"] = round(time.process_time() - cpu0, 2)
        prof.dump_stats(out / f"{name}.prof")
        phases[name] = prof
        return value

    def simulate() -> list[tuple[float, str, bytes]]:
        with (out / TRUTH_FILE).open("wb") as f:
            for rows in iter_truth(scenario):
                f.writelines(msgspec.json.encode(r) + b"\n" for r in rows)
        return [(m.t, m.topic, m.payload) for m in iter_feed(scenario)]

    messages = phase("simulation", simulate)
    fusion = fusion_for_area(scenario.area, scenario.zones_geojson(), path.name, scenario_rules(scenario))
    phase("fusion", lambda: run_to_dir(fusion, messages, out, scenario.zones_geojson()))
    phase("scoring", lambda: evaluate_dir(out, workers=args.workers, scenario=scenario))
    total = sum(result[f"{p}_s"] for p in phases)
    result.update(messages=len(messages), total_s=round(total, 2), x_real_time=round(result["duration_s"] / total, 1),
                  top={p: _top(prof, args.top) for p, prof in phases.items()})
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
