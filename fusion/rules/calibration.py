"""Calibrated alert score: the probability that an alert's object is a true suspect, from what its event carries.

Per rule, a logistic regression on four features of an alert event (``FEATURES``): evidence strength, the
time the condition has held (log minutes), the priority, and whether the track carries an identity (MMSI
or ICAO address). It is fitted on the TUNE side of the procedural corpus only: the raised and updated
events of the tune alerts, labelled by the existing alert scoring (``fusion.evaluation``: positive when the
alert's object is a suspect), each alert weighing 1 in all. Partial pooling: a model pooled over every
rule (an L2 prior on the standardised slopes, half a positive and half a negative pseudo-alert at the mean),
and under it one model per rule and per arm of a rule (``ARMS``: a rule raising on distinct evidence),
each with a Gaussian prior about the pooled model's coefficients, so that a rule with few tune alerts
stays near the pooled model and one arm's alerts do not set another's score. The fitted models and the
operating point (the score threshold chosen on the tune side, ``Calibration.threshold``) are the data file
``defaults/calibration.json``; ``jisf calibrate --suite DIR`` refits it, ``--holdout`` judges the design
leaving one tune area out. The score is applied in one place: ``AlertEvent`` (fusion.rules.lifecycle)
scores itself when built.
Docs: docs/RULES.md ("Alert score"), docs/SCENARIO-EVAL.md.

Axis letters: N alerts, F features.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from fusion import cliutil
from fusion.core.arrays import BoolArray, FloatArray

if TYPE_CHECKING:
    from fusion.evaluation.pr import SuiteAlerts

FEATURES: tuple[str, ...] = ("strength", "log_held_min", "priority", "identified")
DEFAULT_PATH = Path(__file__).parent / "defaults" / "calibration.json"
FORMAT_VERSION = 2  # 2: arm models (``rule/arm``), every model under the pooled one's standardisation
READABLE_VERSIONS = (1, 2)  # a version 1 file has no arm models: an arm's alerts are scored by its rule's model
ARM_SEP = "/"
L2_PRIOR = 1.0  # precision of the Gaussian prior on each standardised slope (ridge); intercept unpenalised
DEFAULT_TARGET_PRECISION = 0.5  # an analyst is shown at least as many true as false alerts at the operating point
Z_MAX = 3.0  # standardised features are clipped to +-3 standard deviations of the tune alerts when scoring
PSEUDO_WEIGHT = 0.5  # weight of the one positive and the one negative pseudo-alert at the feature means
# precision of the Gaussian prior tying a rule's (an arm's) coefficients to the pooled model's: about four alerts' worth
# of evidence at p = 0.5 (Fisher information 1/4 each); engineering choice on the tune side's leave-one-area-out
# figures: 1 and 4 found 10 of 11 held-out suspects, 0.25 nine (docs/RULES.md "Alert score")
PARENT_PRIOR = 1.0


# Arms: a rule raising on distinct evidence gets one model per arm, fitted as a rule of its own, so that the
# alerts of one arm do not set the score of the other. rule -> arm -> (N, F) features -> (N,) membership.
ARMS: Mapping[str, Mapping[str, Callable[[FloatArray], BoolArray]]] = {
    # dark_vessel (fusion/rules/catalog/dark_vessel.py) raises a low-observable hull (a semi-submersible) with
    # strength 1 (its measured size is the evidence) and a dark run in AIS coverage with strength at most 0.5
    "dark_vessel": {"low_observable": lambda x: x[:, 0] >= 1.0},
}


def features(priority: float, evidence: Mapping[str, Any], identified: bool) -> FloatArray:
    """(F,) features of one alert event: evidence ``strength`` in [0, 1] (0.5 when absent), log(1 + minutes
    the condition held, ``condition_s``), ``priority`` and 1.0 when the track carries an MMSI or ICAO address."""
    strength = evidence.get("strength")
    held = evidence.get("condition_s")
    s = float(strength) if isinstance(strength, int | float) and math.isfinite(strength) else 0.5
    h = float(held) if isinstance(held, int | float) and math.isfinite(held) and held > 0 else 0.0
    p = float(priority) if math.isfinite(priority) else 0.0
    return np.array([s, math.log1p(h / 60.0), p, 1.0 if identified else 0.0])


def feature_matrix(strength: FloatArray, condition_s: FloatArray, priority: FloatArray, identified: FloatArray) -> FloatArray:
    """(N, F) features from (N,) columns, with the defaults of ``features`` for missing (NaN) values."""
    s = np.where(np.isfinite(strength), strength, 0.5)
    h = np.where(np.isfinite(condition_s) & (condition_s > 0), condition_s, 0.0)
    p = np.where(np.isfinite(priority), priority, 0.0)
    return np.column_stack([s, np.log1p(h / 60.0), p, (identified > 0).astype(np.float64)])


def standardise(x: FloatArray, mean: FloatArray, scale: FloatArray) -> FloatArray:
    """(N, F) features -> (N, F) z = (x - mean) / scale clipped to [-Z_MAX, Z_MAX] (no extrapolation far beyond
    the tune alerts' range), as fitted and as scored."""
    return np.clip((x - mean) / scale, -Z_MAX, Z_MAX)


@dataclass(frozen=True)
class RuleModel:
    """A logistic model on standardised features: P = 1 / (1 + exp(-(coef[0] + coef[1:] . z))), z = (x - mean) / scale
    clipped to [-Z_MAX, Z_MAX] (no extrapolation far beyond the tune alerts' range).

    coef (F + 1,), mean (F,), scale (F,) > 0; ``alerts`` and ``positives``: the tune alerts it was fitted on."""

    coef: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    alerts: int
    positives: int

    def prob(self, x: FloatArray) -> FloatArray:
        """(N, F) features -> (N,) probabilities in (0, 1)."""
        coef = np.asarray(self.coef)
        return 1.0 / (1.0 + np.exp(-(coef[0] + standardise(x, np.asarray(self.mean), np.asarray(self.scale)) @ coef[1:])))

    def to_json(self) -> dict[str, Any]:
        return {"coef": list(self.coef), "mean": list(self.mean), "scale": list(self.scale), "alerts": self.alerts,
                "positives": self.positives}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], where: str) -> RuleModel:
        """Validate and build; a bad field raises ValueError naming ``where`` and the field."""
        n = len(FEATURES)
        for name, length in (("coef", n + 1), ("mean", n), ("scale", n)):
            v = doc.get(name)
            if not (isinstance(v, list) and len(v) == length and all(isinstance(a, int | float) and math.isfinite(a) for a in v)):
                raise ValueError(f"{where}.{name} = {v!r}: must be a list of {length} finite numbers")
        if not all(s > 0 for s in doc["scale"]):
            raise ValueError(f"{where}.scale = {doc['scale']!r}: must be > 0")
        return cls(tuple(map(float, doc["coef"])), tuple(map(float, doc["mean"])), tuple(map(float, doc["scale"])),
                   int(doc.get("alerts", 0)), int(doc.get("positives", 0)))


def fit_logistic(x: FloatArray, y: FloatArray, weight: FloatArray | None = None, parent: RuleModel | None = None
                 ) -> RuleModel:
    """Fit a RuleModel to (N, F) features and (N,) labels in {0, 1}, each row weighing ``weight`` (N,)
    (default 1; ``alerts`` and ``positives`` are then weighted sums), by maximum a posteriori (Newton's method).

    Without ``parent`` (the pooled model): features are standardised by their weighted mean and standard
    deviation (1 where constant); the slopes have an L2 prior of precision ``L2_PRIOR`` about 0; a positive and
    a negative pseudo-alert of weight ``PSEUDO_WEIGHT`` at the mean keep the intercept finite when every label
    is equal. With ``parent`` (a rule's or an arm's model under the pooled one): the parent's
    standardisation, and a Gaussian prior of precision ``PARENT_PRIOR`` on every coefficient about the
    parent's (partial pooling): with few alerts the model stays near its parent, with many it is their own;
    no rows gives the parent's coefficients."""
    if x.ndim != 2 or x.shape[1] != len(FEATURES) or y.shape != (x.shape[0],):
        raise ValueError(f"x must be (N, {len(FEATURES)}) and y (N,), got {x.shape} and {y.shape}")
    wy = np.ones(len(y)) if weight is None else weight.astype(np.float64)
    if wy.shape != y.shape or np.any(~(wy > 0)):
        raise ValueError(f"weight must be (N,) > 0, got shape {wy.shape}")
    n = len(FEATURES) + 1
    if parent is None:
        mean = np.average(x, axis=0, weights=wy) if len(x) else np.zeros(x.shape[1])
        std = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=wy)) if len(x) else np.ones(x.shape[1])
        scale = np.where(std > 1e-9, std, 1.0)
        centre, precision = np.zeros(n), np.r_[0.0, np.full(n - 1, L2_PRIOR)]
        rows, t, w = (np.vstack([x, [mean, mean]]), np.concatenate([y.astype(np.float64), [1.0, 0.0]]),
                      np.concatenate([wy, [PSEUDO_WEIGHT, PSEUDO_WEIGHT]]))
    else:
        mean, scale = np.asarray(parent.mean), np.asarray(parent.scale)
        centre, precision = np.asarray(parent.coef), np.full(n, PARENT_PRIOR)
        rows, t, w = x, y.astype(np.float64), wy
    a = np.column_stack([np.ones(len(rows)), standardise(rows, mean, scale)])
    coef = centre.copy()
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a @ coef)))
        grad = a.T @ (w * (p - t)) + precision * (coef - centre)
        hess = (a * (w * p * (1.0 - p))[:, None]).T @ a + np.diag(precision) + 1e-9 * np.eye(n)
        step = np.linalg.solve(hess, grad)
        coef -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return RuleModel(tuple(coef.tolist()), tuple(mean.tolist()), tuple(scale.tolist()), round(float(wy.sum())),
                     round(float(wy @ y)))


def model_names(rules: Sequence[str], x: FloatArray) -> NDArray[np.object_]:
    """(N,) rule names and (N, F) features -> (N,) the model each alert is scored by: its rule, or ``rule/arm``
    for an alert of one of the rule's ``ARMS``."""
    names = np.asarray(rules, dtype=object)
    out = names.copy()
    for rule, arms in ARMS.items():
        of_rule = names == rule
        for arm, member in arms.items():
            out[of_rule & member(x)] = f"{rule}{ARM_SEP}{arm}"
    return out


@dataclass(frozen=True)
class Calibration:
    """Per-rule (and per-arm, ``rule/arm``) models, the pooled model, and the operating point.

    threshold: score at or above which an alert is at the operating point (below it the alert is still
    published, with ``low_score``); target_precision: the tune-side alert precision it was chosen for;
    source: which corpus side and seeds it was fitted on."""

    rules: Mapping[str, RuleModel]
    pooled: RuleModel
    threshold: float
    target_precision: float
    source: str

    def model(self, name: str) -> RuleModel:
        """The model of ``name`` (``model_names``): its own, else (an arm missing from a version 1 file) its rule's,
        else (a rule without tune alerts) the pooled one."""
        return self.rules.get(name) or self.rules.get(name.partition(ARM_SEP)[0]) or self.pooled

    def score(self, rule: str, x: FloatArray) -> FloatArray:
        """(N, F) features of alerts of ``rule`` -> (N,) calibrated scores."""
        return self.score_rules([rule] * len(x), x)

    def score_rules(self, rules: Sequence[str], x: FloatArray) -> FloatArray:
        """(N,) rule names and (N, F) features -> (N,) scores."""
        out = np.empty(len(rules))
        names = model_names(rules, x)
        for name in set(names.tolist()):
            at = names == name
            out[at] = self.model(name).prob(x[at])
        return out

    def to_json(self) -> dict[str, Any]:
        return {"version": FORMAT_VERSION, "features": list(FEATURES), "threshold": self.threshold,
                "target_precision": self.target_precision, "source": self.source, "pooled": self.pooled.to_json(),
                "rules": {r: m.to_json() for r, m in sorted(self.rules.items())}}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], where: str = "calibration") -> Calibration:
        """Validate a calibration document; a bad field raises ValueError naming it."""
        if doc.get("version") not in READABLE_VERSIONS:
            raise ValueError(f"{where}.version = {doc.get('version')!r}: expected one of {READABLE_VERSIONS} (refit it with "
                             "`jisf calibrate`)")
        if list(doc.get("features", [])) != list(FEATURES):
            raise ValueError(f"{where}.features = {doc.get('features')!r}: expected {list(FEATURES)}")
        threshold, target = doc.get("threshold"), doc.get("target_precision")
        if not (isinstance(threshold, int | float) and 0.0 <= threshold <= 1.0):
            raise ValueError(f"{where}.threshold = {threshold!r}: must be a number in [0, 1]")
        if not (isinstance(target, int | float) and 0.0 < target <= 1.0):
            raise ValueError(f"{where}.target_precision = {target!r}: must be a number in (0, 1]")
        rules = doc.get("rules")
        if not isinstance(rules, dict):
            raise ValueError(f"{where}.rules = {rules!r}: must be a table of rule -> model")
        for name in rules:
            rule, sep, arm = name.partition(ARM_SEP)
            if sep and arm not in ARMS.get(rule, {}):
                raise ValueError(f"{where}.rules.{name}: no arm {arm!r} of rule {rule!r} (known: "
                                 f"{', '.join(f'{r}{ARM_SEP}{a}' for r, arms in ARMS.items() for a in arms)})")
        return cls({r: RuleModel.from_json(m, f"{where}.rules.{r}") for r, m in rules.items()},
                   RuleModel.from_json(doc.get("pooled") or {}, f"{where}.pooled"), float(threshold), float(target),
                   str(doc.get("source", "")))


def load_calibration(path: Path) -> Calibration:
    """Read and validate a calibration file (JSON)."""
    try:
        doc = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    return Calibration.from_json(doc, str(path))


@lru_cache(maxsize=1)
def default_calibration() -> Calibration:
    """The shipped calibration (``defaults/calibration.json``), read once."""
    return load_calibration(DEFAULT_PATH)


def event_score(rule: str, priority: float, evidence: Mapping[str, Any], identified: bool) -> tuple[float, bool]:
    """The calibrated score of one alert event (rounded to 4 digits) and whether it is below the operating point."""
    cal = default_calibration()
    score = round(float(cal.score(rule, features(priority, evidence, identified)[None, :])[0]), 4)
    return score, score < cal.threshold


def event_features(events: Sequence[Mapping[str, Any]]) -> FloatArray:
    """(N, F) features of alert outcome rows (``fusion.evaluation.alerts.alert_outcomes``)."""
    def col(name: str) -> FloatArray:
        return np.array([np.nan if e.get(name) is None else float(e[name]) for e in events], dtype=np.float64)

    return feature_matrix(col("strength"), col("condition_s"), col("priority"),
                          np.array([1.0 if e.get("identified") else 0.0 for e in events]))


def fit_calibration(events: Sequence[Mapping[str, Any]], target_precision: float, source: str,
                    choose: Callable[[Calibration], float]) -> Calibration:
    """Fit the pooled model, then one per rule and per arm of a rule (``model_names``; every arm of a rule
    present, also one without alerts) under it, on the open (raised and updated) events of ``events`` (label
    ``true``: the alert's), each alert weighing 1 in all (an event 1 / its alert's events: alerts that are
    updated often do not dominate, and the model sees the features updates carry as well as those at raise
    time); then the operating point: ``choose(calibration) -> threshold`` (the caller sweeps the suite's
    alerts with it)."""
    keys = [f"{e.get('scenario', '')}/{e['alert_id']}" for e in events]
    per_alert = Counter(keys)
    w = np.array([1.0 / per_alert[k] for k in keys])
    x = event_features(events)
    y = np.array([1.0 if e["true"] else 0.0 for e in events])
    rules = [e["rule"] for e in events]
    names = model_names(rules, x)
    pooled = fit_logistic(x, y, w)
    fitted = set(names.tolist()) | {f"{r}{ARM_SEP}{arm}" for r in set(rules) for arm in ARMS.get(r, {})}
    models = {name: fit_logistic(x[names == name], y[names == name], w[names == name], parent=pooled)
              for name in sorted(fitted)}
    threshold = float(choose(Calibration(models, pooled, 0.0, target_precision, source)))
    # 4 digits, rounded down: when the operating point is an alert's score, that alert still counts (rounding up lost it)
    return Calibration(models, pooled, math.floor(threshold * 1e4) / 1e4, target_precision, source)


def fit_suite(events: Sequence[Mapping[str, Any]], suspects: int, target_precision: float, source: str) -> Calibration:
    """``fit_calibration`` on a suite's outcome rows (``fusion.evaluation.pr.load_suite``) with the operating
    point chosen on those same alerts: the highest recall whose alert precision is >= ``target_precision``, with
    a margin (``fusion.evaluation.pr.operating_point``)."""
    from fusion.evaluation.pr import operating_point, pr_curve

    return fit_calibration(events, target_precision, source,
                           lambda draft: operating_point(pr_curve(rescored(draft, events, suspects)), target_precision))


def rescored(cal: Calibration, events: Sequence[Mapping[str, Any]], suspects: int) -> SuiteAlerts:
    """A suite's alerts (``fusion.evaluation.pr.suite_alerts``) scored by ``cal`` instead of their stored scores."""
    from fusion.evaluation.pr import suite_alerts

    return suite_alerts(events, suspects, cal.score_rules([e["rule"] for e in events], event_features(events)))


def holdout_by_area(scenarios: Mapping[str, tuple[list[dict[str, Any]], int]], target_precision: float
                    ) -> list[dict[str, Any]]:
    """Leave one area out: per area of ``scenarios`` (``fusion.evaluation.pr.load_scenarios``, names
    ``AREA-SEED``), the calibration and its operating point fitted on the other areas' scenarios, then that
    area's alerts scored by it: one row per area with ``area``, ``threshold``, ``alerts``, ``true_alerts``,
    ``found`` (suspects with a true alert at or above the threshold) and ``suspects``. The held-out
    evidence for the score's design (the fit never sees the area it is judged on)."""
    from fusion.evaluation.pr import pool, pr_curve

    areas = sorted({name.rpartition("-")[0] for name in scenarios})
    rows = []
    for area in areas:
        fit_on = pool({k: v for k, v in scenarios.items() if k.rpartition("-")[0] != area})
        held = pool({k: v for k, v in scenarios.items() if k.rpartition("-")[0] == area})
        cal = fit_suite(*fit_on, target_precision, f"all but {area}")
        at = pr_curve(rescored(cal, *held), thresholds=np.array([cal.threshold]))
        rows.append({"area": area, "threshold": cal.threshold, "alerts": int(at["alerts"][0]),
                     "true_alerts": int(at["true_alerts"][0]), "found": round(float(at["recall"][0]) * held[1]),
                     "suspects": held[1]})
    return rows


def holdout_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Text: the ``holdout_by_area`` rows and their sum: per held-out area its operating point (fitted
    without it), alert precision and suspect recall there."""
    def line(name: str, threshold: str, alerts: int, true: int, found: int, suspects: int) -> str:
        precision = f"{true / alerts:.3f}" if alerts else "-"
        recall = f"{found / suspects:.3f}" if suspects else "-"
        return f"{name:<14}{threshold:>10}{alerts:>8}{true:>6}{precision:>11}{found:>7}/{suspects:<4}{recall:>8}"

    out = ["leave one area out: fitted on the other areas, scored on this one at their operating point",
           f"{'held out':<14}{'threshold':>10}{'alerts':>8}{'true':>6}{'precision':>11}{'found':>12}{'recall':>8}"]
    out += [line(r["area"], f"{r['threshold']:.4f}", r["alerts"], r["true_alerts"], r["found"], r["suspects"]) for r in rows]
    out.append(line("all", "", *(sum(int(r[k]) for r in rows) for k in ("alerts", "true_alerts", "found", "suspects"))))
    return "\n".join(out)


def build_parser() -> cliutil.Parser:
    p = cliutil.parser("calibrate", "refit the calibrated alert score (and its operating point) on a TUNE-side suite run")
    p.add_argument("--suite", required=True, type=Path, help="output directory of `jisf evaluate-suite --split tune`")
    p.add_argument("-o", "--output", type=Path, default=DEFAULT_PATH, help="calibration file to write (default: the shipped one)")
    p.add_argument("--target-precision", type=float, default=DEFAULT_TARGET_PRECISION,
                   help=f"operating point: the highest tune-side recall with alert precision >= this (default {DEFAULT_TARGET_PRECISION})")
    p.add_argument("--holdout", action="store_true",
                   help="write nothing: leave one area out (fit on the others, score it) and print precision and recall at the operating point")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``jisf calibrate --suite DIR [-o FILE] [--target-precision P] [--holdout]``: refit the alert score on a tune-side
    suite, or (``--holdout``) judge its design leaving one area out."""

    def body(args: argparse.Namespace) -> int:
        from fusion.evaluation.pr import load_scenarios, pool, pr_curve, reliability, scenario_dirs
        from sim_feeds.corpus import SPLITS

        if not 0.0 < args.target_precision <= 1.0:
            raise cliutil.UsageError(f"--target-precision must be in (0, 1], got {args.target_precision}")
        tune_areas, tune_seeds = SPLITS["tune"]
        members = [d.name for d in scenario_dirs(args.suite)]
        for name in members:
            area, _, seed = name.rpartition("-")
            if area not in tune_areas or not seed.isdigit() or int(seed) not in tune_seeds:
                raise cliutil.UsageError(f"--suite: {name!r} is not a TUNE-side corpus scenario (the score is never fitted on test)")
        scenarios = load_scenarios(args.suite)
        events, suspects = pool(scenarios)
        seeds = sorted({int(n.rpartition("-")[2]) for n in members})
        source = f"tune split, {len(members)} scenarios ({', '.join(members)}), seeds {seeds[0]}-{seeds[-1]}"
        if args.holdout:
            print(holdout_table(holdout_by_area(scenarios, args.target_precision)))
            return 0
        cal = fit_suite(events, suspects, args.target_precision, source)
        args.output.write_text(json.dumps(cal.to_json(), indent=2, sort_keys=True) + "\n")
        fitted = rescored(cal, events, suspects)
        at = pr_curve(fitted, thresholds=np.array([cal.threshold]))
        print(f"{len(fitted.key)} alerts ({int(fitted.true.sum())} true), {fitted.suspects} suspects; threshold "
              f"{cal.threshold:.4f}: precision {at['precision'][0]:.3f}, recall {at['recall'][0]:.3f}, {int(at['alerts'][0])} alerts")
        for rule, m in sorted(cal.rules.items()):
            print(f"  {rule:<28} {m.alerts:>5} alerts, {m.positives:>4} true")
        for row in reliability(fitted.score, fitted.true):
            print(f"  score {row['bin'][0]:.1f}-{row['bin'][1]:.1f}: {row['alerts']:>5} alerts, mean score "
                  f"{row['mean_score'] if row['mean_score'] is None else round(row['mean_score'], 3)}, observed "
                  f"{row['observed'] if row['observed'] is None else round(row['observed'], 3)}")
        print(f"written {args.output}")
        return 0

    return cliutil.run(build_parser(), body, argv)
