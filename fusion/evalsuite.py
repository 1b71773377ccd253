"""``jisf evaluate-suite``: run a split of the procedural corpus and print the per-rule table.

Each (area, seed) of the split (sim_feeds/corpus.py, ``SPLITS``) is generated, written as
``DIR/{area}-{seed}/scenario.toml``, simulated and fused offline exactly as ``jisf evaluate`` does,
and scored (metrics.json). The suite then pools the scenarios: per rule, suspects found and recall,
false alerts per 10 benign objects per day, time to alert, and tracks per object; it prints the table
and writes ``DIR/suite.json``. A scenario whose metrics.json is already there is reused (a long run
can be resumed). Protocol and figures: docs/SCENARIO-EVAL.md.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from fusion import cliutil

SUITE_FILE = "suite.json"


def parse_seeds(text: str) -> list[int]:
    """``"2000-2003,2010"`` -> [2000, 2001, 2002, 2003, 2010]; a bad part is a UsageError naming it."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
        except ValueError:
            raise cliutil.UsageError(f"--seeds: {part!r} is not a seed or a range like 2000-2009") from None
    return seeds


def run_member(area: str, seed: int, out_dir: Path, duration_s: float, scale: float,
               scored_only: bool = False) -> dict[str, Any] | None:
    """Generate, simulate, fuse and score one corpus scenario into ``out_dir`` (``scored_only``: None
    unless an identical scenario was already scored there, nothing run); its metrics.json, plus
    the wall seconds it took (``wall_s``, 0 when an identical scenario's metrics.json was reused) and the
    behaviours of its suspects (``suspect_behaviours``, from the corpus ids ``suspect-N-BEHAVIOUR``)."""
    import tomli_w

    from fusion.evaluation.score import evaluate_dir
    from fusion.offline import evaluate
    from sim_feeds.corpus import corpus_scenario
    from sim_feeds.scenario import load_scenario

    t0 = time.perf_counter()
    doc = corpus_scenario(area, seed, duration_s=duration_s, scale=scale)
    text = tomli_w.dumps(doc)
    own = {"area": area, "seed": seed, "suspect_behaviours": sorted({o["id"].split("-")[2] for o in doc["objects"] if o.get("role") == "suspect"})}
    path, done = out_dir / "scenario.toml", out_dir / "metrics.json"
    if done.exists() and path.exists() and path.read_text() == text:  # same scenario already scored
        return {**json.loads(done.read_text()), "wall_s": 0.0, **own}
    if scored_only:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    done.unlink(missing_ok=True)
    path.write_text(text)
    evaluate(path, out_dir, metrics=False)
    metrics = evaluate_dir(out_dir, workers=1, scenario=load_scenario(path))  # the suite's own processes are the parallelism
    return {**metrics, "wall_s": time.perf_counter() - t0, **own}


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if values else None


def pool(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Pool per-scenario metrics into the suite figures (docs/SCENARIO-EVAL.md, "Pooling").

    Per rule (and ``all``): suspects (sum over scenarios), found, recall, false alerts, false alerts per
    10 benign objects per day = 10 x sum(false) / sum(benign x days), time to alert (both columns: from the first track after the onset and
    from the first sensor coverage after it) = median over the
    scenarios of each scenario's median (exact with one suspect per scenario). Tracks per object: mean
    weighted by objects, overall and per domain."""
    benign_days = sum(m["inputs"]["benign"] * m["inputs"]["duration_s"] / 86400.0 for m in results)
    suspects = sum(m["inputs"]["suspects"] for m in results)
    table = _rule_table([m["alerts"] for m in results], suspects, benign_days)
    at_op = [m["alerts"].get("at_operating_point") for m in results]
    thresholds = sorted({a["threshold"] for a in at_op if a is not None})
    objects = sum(m["inputs"]["objects"] for m in results)
    tpo, tpf = {"all": _weighted(results, lambda m: m["continuity"])}, {"all": _weighted_followed(results, lambda m: m["continuity"])}
    for d in sorted({d for m in results for d in m["domains"]}):
        tpo[d] = _weighted([m for m in results if d in m["domains"]], lambda m, d=d: m["domains"][d]["continuity"])
        tpf[d] = _weighted_followed([m for m in results if d in m["domains"]], lambda m, d=d: m["domains"][d]["continuity"])
    duration = sum(m["inputs"]["duration_s"] for m in results)
    wall = sum(m.get("wall_s", 0.0) for m in results)
    return {
        "scenarios": len(results), "scenario_days": duration / 86400.0, "objects": objects,
        "benign_objects": sum(m["inputs"]["benign"] for m in results), "benign_object_days": benign_days,
        "suspects": suspects, "rules": table, "tracks_per_object": tpo, "tracks_per_followed_object": tpf,
        # the table again counting only alerts at or above the calibrated score's operating point (docs/RULES.md);
        # None when a scenario was scored before scores existed, or scenarios disagree on the threshold
        "operating_point": ({"threshold": thresholds[0], "rules": _rule_table([a for a in at_op if a is not None], suspects, benign_days)}
                            if len(thresholds) == 1 and all(a is not None for a in at_op) else None),
        "wall_s": wall, "x_real_time": duration / wall if wall > 0 else None,
        "members": [f"{m['area']}-{m['seed']}" for m in results],
        "per_scenario": [{"scenario": f"{m['area']}-{m['seed']}", "suspect_behaviours": m.get("suspect_behaviours", []),
                          "suspects": m["inputs"]["suspects"], "found": m["alerts"]["all"]["suspects_found"],
                          "false_alarms": m["alerts"]["all"]["false_alarms"], "benign": m["inputs"]["benign"],
                          "time_to_alert_median_s": m["alerts"]["all"]["time_to_alert_s"]["median"],
                          "time_to_alert_observable_median_s": (m["alerts"]["all"].get("time_to_alert_observable_s") or {}).get("median"),
                          "false_by_rule": {r: v["false_alarms"] for r, v in m["alerts"]["by_rule"].items() if v["false_alarms"]}}
                         for m in results],
    }


def _rule_table(scores: Sequence[Mapping[str, Any]], suspects: int, benign_days: float) -> dict[str, Any]:
    """Per rule (and ``all``) over the scenarios' alert scores (metrics.json "alerts", or its "at_operating_point"):
    suspects found and recall, false alerts and their rate per 10 benign objects per day, time to alert."""
    rules = sorted({r for a in scores for r in a["by_rule"]})
    table: dict[str, Any] = {}
    for rule in ["all", *rules]:
        present = [s for s in (a["all"] if rule == "all" else a["by_rule"].get(rule) for a in scores) if s is not None]
        found = sum(s["suspects_found"] for s in present)
        false = sum(s["false_alarms"] for s in present)
        tta = _medians(present, "time_to_alert_s")
        tta_obs = _medians(present, "time_to_alert_observable_s")
        table[rule] = {
            "suspects": suspects, "suspects_found": found, "recall": found / suspects if suspects else None,
            "false_alarms": false, "false_alarms_per_10_benign_per_day": 10.0 * false / benign_days if benign_days else None,
            "time_to_alert_median_s": _median(tta), "time_to_alert_max_s": max(tta) if tta else None,
            "time_to_alert_observable_median_s": _median(tta_obs), "time_to_alert_observable_max_s": max(tta_obs) if tta_obs else None,
        }
    return table


def _medians(scores: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    """Each scenario's median of the time-to-alert figure ``key`` where it has one (a scenario scored before the
    figure existed, or without a scenario's sensors, has none)."""
    return [m for s in scores if (m := (s.get(key) or {}).get("median")) is not None]


def _weighted(results: Sequence[Mapping[str, Any]], continuity: Any) -> float | None:
    """Object-weighted mean of ``tracks_per_object_mean`` (each scenario's ``continuity(m)``), each weighted by the
    objects that figure is over (a domain's own objects; scenarios scored before continuity counted them: all of the
    scenario's objects)."""
    return _pooled([(continuity(m)["tracks_per_object_mean"], continuity(m).get("objects", m["inputs"]["objects"]))
                    for m in results])


def _weighted_followed(results: Sequence[Mapping[str, Any]], continuity: Any) -> float | None:
    """``tracks_per_followed_object_mean`` weighted by the objects followed (each scenario's ``continuity(m)``;
    scenarios scored before the figure existed are left out)."""
    return _pooled([(continuity(m).get("tracks_per_followed_object_mean"), continuity(m).get("objects_followed", 0))
                    for m in results])


def _pooled(pairs: Sequence[tuple[float | None, int]]) -> float | None:
    """Weighted mean of (value, weight) pairs, skipping missing and non-finite values."""
    valid = [(v, n) for v, n in pairs if v is not None and math.isfinite(v)]
    total = sum(n for _, n in valid)
    return sum(v * n for v, n in valid) / total if total else None


def format_table(summary: Mapping[str, Any]) -> str:
    """The per-rule table as text."""
    def num(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    def rows(table: Mapping[str, Any]) -> list[str]:
        out = [f"{'rule':<18} {'found':>9} {'recall':>7} {'false':>6} {'FA/10/day':>10} {'TTA med s':>10} {'TTA max s':>10}"
               f" {'obs med s':>10} {'obs max s':>10}"]
        for rule, r in table.items():
            out.append(f"{rule:<18} {r['suspects_found']:>4}/{r['suspects']:<4} {num(r['recall'], '.2f'):>7} "
                       f"{r['false_alarms']:>6} {num(r['false_alarms_per_10_benign_per_day'], '.2f'):>10} "
                       f"{num(r['time_to_alert_median_s'], '.0f'):>10} {num(r['time_to_alert_max_s'], '.0f'):>10} "
                       f"{num(r.get('time_to_alert_observable_median_s'), '.0f'):>10} "
                       f"{num(r.get('time_to_alert_observable_max_s'), '.0f'):>10}")
        return out

    lines = [f"{summary['scenarios']} scenarios, {summary['scenario_days']:.2f} scenario-days, "
             f"{summary['benign_objects']} benign objects ({summary['benign_object_days']:.1f} object-days), "
             f"{summary['suspects']} suspects", *rows(summary["rules"])]
    op = summary.get("operating_point")
    if op is not None:
        lines += [f"at the operating point (alerts with calibrated score >= {op['threshold']:.4f}; the rest published marked low_score):",
                  *rows(op["rules"])]
    for row in summary["per_scenario"]:
        lines.append(f"  {row['scenario']:<20} suspects {','.join(row['suspect_behaviours']):<28} found {row['found']}/{row['suspects']}"
                     f"  TTA {num(row['time_to_alert_median_s'], '.0f'):>5} s (obs {num(row.get('time_to_alert_observable_median_s'), '.0f'):>5} s)"
                     f"  false {row['false_alarms']:>3} "
                     f"of {row['benign']} benign {row['false_by_rule'] or ''}")
    tpo = ", ".join(f"{d} {num(v, '.2f')}" for d, v in summary["tracks_per_object"].items())
    lines.append(f"tracks per object: {tpo}")
    tpf = ", ".join(f"{d} {num(v, '.2f')}" for d, v in summary.get("tracks_per_followed_object", {}).items())
    lines.append(f"tracks per object followed (assigned a track at least once): {tpf}")
    if summary["x_real_time"]:
        lines.append(f"wall {summary['wall_s']:.0f} s ({summary['x_real_time']:.0f}x real time, summed over jobs)")
    return "\n".join(lines)


def build_parser() -> cliutil.Parser:
    p = cliutil.parser("evaluate-suite", "run a split of the procedural corpus offline and print the per-rule table")
    p.add_argument("--split", required=True, choices=["tune", "test"], help="which side of the corpus (docs/SCENARIO-EVAL.md)")
    p.add_argument("--areas", help="comma-separated areas of that split (default: all of them)")
    p.add_argument("--seeds", help="seeds of that split, e.g. 2000-2004,2010 (default: all of them)")
    p.add_argument("--jobs", type=int, default=1, help="scenarios run in parallel (processes, default 1)")
    p.add_argument("-o", "--output", help="output directory (default: out/suite-SPLIT); existing results are reused")
    p.add_argument("--duration-s", type=float, default=None, help="scenario length, s (default: the corpus's, 6 h)")
    p.add_argument("--scale", type=float, default=1.0, help="benign traffic x this (default 1)")
    p.add_argument("--scored-only", action="store_true",
                   help="run nothing: pool only the scenarios of the selection already scored in the output directory")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``jisf evaluate-suite --split test [--areas ...] [--seeds ...] [--jobs N]``."""

    def body(args: argparse.Namespace) -> int:
        from sim_feeds.corpus import CORPUS_DURATION_S, split_members

        if args.jobs < 1:
            raise cliutil.UsageError(f"--jobs must be >= 1, got {args.jobs}")
        if not args.scale > 0:
            raise cliutil.UsageError(f"--scale must be > 0, got {args.scale}")
        duration = args.duration_s if args.duration_s is not None else CORPUS_DURATION_S
        if not duration > 0:
            raise cliutil.UsageError(f"--duration-s must be > 0, got {duration}")
        areas = [a.strip() for a in args.areas.split(",")] if args.areas else None
        seeds = parse_seeds(args.seeds) if args.seeds else None
        try:
            members = split_members(args.split, areas, seeds)
        except ValueError as err:
            raise cliutil.UsageError(str(err)) from None
        out = Path(args.output or f"out/suite-{args.split}")
        jobs = [(a, s, out / f"{a}-{s}", duration, args.scale, args.scored_only) for a, s in members]
        if args.jobs == 1 or args.scored_only:
            ran = [run_member(*j) for j in jobs]
        else:
            with ProcessPoolExecutor(max_workers=args.jobs) as ex:
                ran = list(ex.map(run_member, *zip(*jobs, strict=True)))
        results = [r for r in ran if r is not None]
        if not results:
            raise FileNotFoundError(f"{out}: no scenario of the selection is scored yet (--scored-only)")
        summary = {"split": args.split, "duration_s": duration, "scale": args.scale, **pool(results)}
        out.mkdir(parents=True, exist_ok=True)
        (out / SUITE_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        print(format_table(summary))
        print(f"written {out / SUITE_FILE}")
        return 0

    return cliutil.run(build_parser(), body, argv)
