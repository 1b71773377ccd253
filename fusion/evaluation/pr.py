"""Precision and recall of a suite's alerts against the calibrated score; the operating point; reliability.

A suite directory (``jisf evaluate-suite -o DIR``) holds one scored scenario per ``AREA-SEED``
subdirectory. Its alert outcomes (``alert_outcomes.jsonl``: one row per open alert event, with the truth
object its alert is about and the event's score) are pooled: an alert's score is the highest score of its
events (it is shown unmarked from the first event at or above the threshold), so at threshold s an alert
counts when that peak >= s. Recall at s: suspects (distinct scenario and object) with a counted true alert,
over all suspects of the suite; precision at s: counted true alerts over counted alerts (alert-level, as
``alert_precision`` in metrics.json). Per rule, and for all rules together. Docs: docs/EVALUATION.md.

Axis letters: N alerts, S thresholds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from fusion.evaluation.io import ALERTS_FILE, METRICS_FILE, OUTCOMES_FILE, TRUTH_FILE, FloatArray


@dataclass(frozen=True)
class SuiteAlerts:
    """The alerts of a suite, one per row: ``key`` (scenario/alert id), rule, label, peak score, and the
    suspect it found (``found``: "scenario/object" of a true alert, else None); ``suspects``: the suite's
    suspect count."""

    key: list[str]
    rule: list[str]
    true: np.ndarray  # (N,) bool
    score: FloatArray  # (N,) peak score, NaN where no event carried one
    found: list[str | None]
    suspects: int


def scenario_dirs(suite: Path) -> list[Path]:
    """The scored scenario directories of a suite (those with truth and metrics), sorted; none is an error."""
    dirs = sorted(d for d in Path(suite).iterdir() if (d / TRUTH_FILE).exists() and (d / METRICS_FILE).exists())
    if not dirs:
        raise FileNotFoundError(f"{suite}: no scored scenario directory (AREA-SEED with truth.jsonl and metrics.json)")
    return dirs


def scenario_outcomes(dir: Path) -> tuple[list[dict[str, Any]], int]:
    """A scored scenario's alert outcome rows and its suspect count. A run scored before outcomes existed is
    scored again in memory (nothing is written into ``dir``)."""
    if (dir / OUTCOMES_FILE).exists():
        rows = [json.loads(line) for line in (dir / OUTCOMES_FILE).read_text().splitlines() if line.strip()]
        return rows, int(json.loads((dir / METRICS_FILE).read_text())["inputs"]["suspects"])
    from fusion.evaluation.io import TRACKS_FILE, Codebook, read_alerts, read_tracks, read_truth
    from fusion.evaluation.score import evaluate

    domains = Codebook()
    truth = read_truth(dir / TRUTH_FILE, domains, workers=1)
    tracks = read_tracks(dir / TRACKS_FILE, domains, workers=1)
    metrics, _, rows = evaluate(truth, tracks, read_alerts(dir / ALERTS_FILE), domains.values, workers=1)
    return rows, int(metrics["inputs"]["suspects"])


def load_scenarios(suite: Path) -> dict[str, tuple[list[dict[str, Any]], int]]:
    """Per scored scenario of ``suite`` (by directory name, ``AREA-SEED``): its alert outcome rows (each with
    ``scenario``: that name) and its suspect count."""
    out: dict[str, tuple[list[dict[str, Any]], int]] = {}
    for d in scenario_dirs(suite):
        rows, n = scenario_outcomes(d)
        out[d.name] = [{**r, "scenario": d.name} for r in rows], n
    return out


def pool(scenarios: Mapping[str, tuple[list[dict[str, Any]], int]]) -> tuple[list[dict[str, Any]], int]:
    """The outcome rows of ``scenarios`` (``load_scenarios``) in one list, and their suspect count."""
    return [e for rows, _ in scenarios.values() for e in rows], sum(n for _, n in scenarios.values())


def load_suite(suite: Path) -> tuple[list[dict[str, Any]], int]:
    """The alert outcome rows of every scored scenario of ``suite`` (each with ``scenario``: its directory
    name), and the suite's suspect count."""
    return pool(load_scenarios(suite))


def suite_alerts(events: Sequence[Mapping[str, Any]], suspects: int, scores: FloatArray | None = None) -> SuiteAlerts:
    """Pool outcome rows (``load_suite``) into one row per alert. ``scores``: (events,) scores replacing the
    stored ones (a calibration being fitted), else the events' own."""
    if scores is None:
        scores = np.array([np.nan if e["score"] is None else e["score"] for e in events], dtype=np.float64)
    peak: dict[str, float] = {}
    first: dict[str, Mapping[str, Any]] = {}
    for e, s in zip(events, scores.tolist(), strict=True):
        k = f"{e['scenario']}/{e['alert_id']}"
        first.setdefault(k, e)
        peak[k] = float(np.fmax(peak.get(k, np.nan), s))
    keys = list(first)
    return SuiteAlerts(
        key=keys, rule=[first[k]["rule"] for k in keys], true=np.array([bool(first[k]["true"]) for k in keys], dtype=bool),
        score=np.array([peak[k] for k in keys], dtype=np.float64),
        found=[f"{first[k]['scenario']}/{first[k]['object']}" if first[k]["true"] else None for k in keys],
        suspects=suspects)


def pr_curve(alerts: SuiteAlerts, rule: str | None = None, thresholds: FloatArray | None = None) -> dict[str, FloatArray]:
    """Precision, recall and alert count at each threshold (S,) (default: 0 and every distinct peak score),
    over the alerts of ``rule`` (None: all). Precision is NaN where no alert counts."""
    sel = np.array([rule is None or r == rule for r in alerts.rule], dtype=bool)
    score = np.nan_to_num(alerts.score[sel], nan=0.0)
    true = alerts.true[sel]
    found = [f for f, s in zip(alerts.found, sel.tolist(), strict=True) if s]
    if thresholds is None:
        thresholds = np.unique(np.concatenate([[0.0], score]))
    # per suspect: the highest score among its true alerts; it is found at s when that is >= s
    best: dict[str, float] = {}
    for f, s in zip(found, score.tolist(), strict=True):
        if f is not None:
            best[f] = max(best.get(f, -np.inf), s)
    best_scores = np.array(sorted(best.values()))
    counted = score[None, :] >= thresholds[:, None]  # (S, N)
    n_alerts = counted.sum(axis=1)
    n_true = (counted & true[None, :]).sum(axis=1)
    n_found = best_scores.size - np.searchsorted(best_scores, thresholds, side="left")
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(n_alerts > 0, n_true / np.maximum(n_alerts, 1), np.nan)
    recall = n_found / alerts.suspects if alerts.suspects else np.full(thresholds.shape, np.nan)
    return {"threshold": thresholds, "precision": precision, "recall": recall, "alerts": n_alerts.astype(np.float64),
            "true_alerts": n_true.astype(np.float64)}


def operating_point(curve: Mapping[str, FloatArray], target_precision: float) -> float:
    """The operating point: the highest recall whose precision is >= ``target_precision``, with a margin. The
    thresholds of the sweep that give that recall at that precision form an interval [lo, hi] (recall falls
    above hi: hi is the weakest alert of a suspect it still finds; precision falls below the target under
    lo); the midpoint of it, as far from losing a suspect as from letting the alerts under lo count (the
    largest margin both ways: a held-out suspect a little weaker than the tune ones is still found; before,
    hi itself was chosen and such a suspect was lost). When no threshold reaches the target: the one of
    highest precision (then the highest)."""
    order = np.argsort(curve["threshold"], kind="stable")
    t, p, r = curve["threshold"][order], curve["precision"][order], curve["recall"][order]
    ok = np.isfinite(p) & (p >= target_precision)
    if not ok.any():
        pn = np.where(np.isfinite(p), p, -1.0)
        return float(t[np.lexsort((-t, -pn))[0]])
    kept = ok & (r == r[ok].max())
    hi = int(np.flatnonzero(kept)[-1])
    gaps = np.flatnonzero(~kept[:hi])  # the interval is the run of kept thresholds ending at hi
    lo = int(gaps[-1]) + 1 if gaps.size else 0
    return float((t[lo] + t[hi]) / 2.0)


def pr_table(alerts: SuiteAlerts, threshold: float, sweep: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.5, 0.8)) -> str:
    """Text: per rule (and all) precision, recall and alerts at the operating point ``threshold`` and over
    ``sweep``, then the reliability bins of the alerts' scores."""
    points = np.array(sorted({*sweep, threshold}))

    def cell(c: Mapping[str, FloatArray], k: int) -> str:
        p = c["precision"][k]
        return f"{'-' if not np.isfinite(p) else format(p, '.2f'):>4}/{c['recall'][k]:.2f}/{int(c['alerts'][k]):<4}"

    lines = [f"{len(alerts.key)} alerts ({int(alerts.true.sum())} true), {alerts.suspects} suspects; "
             f"precision/recall/alerts at score >= threshold (* the operating point {threshold:.4f}):",
             f"{'rule':<18}" + "".join(f"{('*' if s == threshold else '') + format(s, '.2f'):>17}" for s in points)]
    for rule in [None, *sorted(set(alerts.rule))]:
        c = pr_curve(alerts, rule, points)
        lines.append(f"{rule or 'all':<18}" + "".join(f"{cell(c, k):>17}" for k in range(points.size)))
    lines.append("reliability (alerts by their score): bin, alerts, mean score, observed fraction true")
    for row in reliability(alerts.score, alerts.true):
        mean, seen = row["mean_score"], row["observed"]
        lines.append(f"  {row['bin'][0]:.1f}-{row['bin'][1]:.1f} {row['alerts']:>6} {'-' if mean is None else format(mean, '.3f'):>7} "
                     f"{'-' if seen is None else format(seen, '.3f'):>7}")
    return "\n".join(lines)


def reliability(score: FloatArray, true: np.ndarray, edges: Sequence[float] = (0.0, 0.1, 0.2, 0.4, 0.6, 1.0)
                ) -> list[dict[str, Any]]:
    """Predicted against observed: per score bin [lo, hi) (the last closed), the alerts, their mean score
    and the fraction that were true."""
    s = np.nan_to_num(score, nan=0.0)
    out = []
    for k, (lo, hi) in enumerate(pairwise(edges)):
        inside = (s >= lo) & ((s < hi) if k < len(edges) - 2 else (s <= hi))
        n = int(inside.sum())
        out.append({"bin": [lo, hi], "alerts": n, "mean_score": float(s[inside].mean()) if n else None,
                    "observed": float(true[inside].mean()) if n else None})
    return out
