"""Scoring a run against its truth: every metric of docs/EVALUATION.md from the three files of a run.

``evaluate_dir`` reads truth.jsonl, tracks.jsonl and alerts.jsonl (DESIGN.md formats), scores them
(``evaluate``: one per-tick GOSPA assignment shared by GOSPA/OSPA, accuracy, continuity and the alert
scores, also at the calibrated score's operating point) and writes metrics.json (sorted keys),
metrics_series.jsonl (one row per truth tick and domain) and alert_outcomes.jsonl (one row per alert).

Axis letters: R truth rows, A alert rows, O truth objects.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusion.evaluation.accuracy import accuracy
from fusion.evaluation.alerts import (
    alert_objects,
    alert_outcomes,
    alert_score_column,
    alert_scores,
    behaviour_onset,
    first_tracked,
)
from fusion.evaluation.config import MetricsConfig
from fusion.evaluation.continuity import continuity, object_tracks
from fusion.evaluation.gospa import per_tick
from fusion.evaluation.io import (
    ALERTS_FILE,
    DIGITS,
    TRACKS_FILE,
    TRUTH_FILE,
    AlertColumns,
    Codebook,
    TrackColumns,
    TruthColumns,
    read_alerts,
    read_tracks,
    read_truth,
    write_outputs,
)
from fusion.evaluation.matching import match
from fusion.evaluation.observability import SensorCoverage
from fusion.rules.calibration import default_calibration

if TYPE_CHECKING:
    from sim_feeds.scenario import Scenario


def _round(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, DIGITS) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    return obj


def evaluate(truth: TruthColumns, tracks: TrackColumns, alerts: AlertColumns, domains: list[str],
             config: MetricsConfig | None = None, *, workers: int | None = None, coverage: SensorCoverage | None = None
             ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """All metrics from columns -> (metrics dict, per-tick series rows, per-alert outcome rows). ``workers``: threads
    for the matching and processes for reading (default: the available cores); results do
    not depend on it. ``coverage``: the run's scenario sensors, for ``time_to_alert_observable_s`` (None: that
    figure is None)."""
    config = config or MetricsConfig()
    if truth.t.size == 0:
        raise ValueError("truth.jsonl: no rows: nothing to score against")
    m = match(truth, tracks, config, domains, workers=workers)
    per_domain, series = per_tick(m, truth, tracks, config, domains)
    ot = object_tracks(m, truth, tracks)
    n_obj = len(truth.ids)
    obj_domain = np.full(n_obj, -1, dtype=np.int64)
    obj_domain[truth.obj] = truth.domain
    suspect = np.zeros(n_obj, dtype=bool)
    suspect[truth.obj[truth.suspect]] = True
    for d, name in enumerate(domains):
        per_domain[name].update(accuracy(m, truth, tracks, d))
        per_domain[name]["continuity"] = continuity(ot, n_obj, obj_domain == d)
    hit = ot.track >= 0
    first_seen = first_tracked(ot.obj[hit], m.ticks[ot.tick[hit]], n_obj, np.full(n_obj, -np.inf))
    onset = behaviour_onset(truth, n_obj)
    observable = first_tracked(ot.obj[hit], m.ticks[ot.tick[hit]], n_obj, onset)
    observable = np.where(np.isfinite(observable), observable, onset)  # not followed after the onset: the onset
    covered = None
    if coverage is not None:
        covered = coverage.first_observable(truth.ids, np.where(suspect, onset, np.inf))
        covered = np.where(np.isfinite(covered), covered, onset)  # no sensor covers it after the onset: the onset
    duration_s = float(m.ticks[-1] - m.ticks[0]) + (m.truth_interval_s if math.isfinite(m.truth_interval_s) else 0.0)
    days = duration_s / 86400.0
    n_benign = int(n_obj - suspect.sum())
    alert_obj = alert_objects(alerts, m, truth, tracks)
    score = alert_score_column(alerts)
    threshold = default_calibration().threshold if config.score_threshold is None else config.score_threshold
    at_op = score >= threshold  # rows shown unmarked at the operating point (NaN: cleared rows)

    def table(rows: np.ndarray) -> dict[str, Any]:
        return {"all": alert_scores(rows, alerts, alert_obj, suspect, observable, first_seen, covered, n_benign, days),
                "by_rule": {rule: alert_scores(rows & (alerts.rule == r), alerts, alert_obj, suspect, observable, first_seen,
                                               covered, n_benign, days) for r, rule in enumerate(alerts.rules)}}

    scored_status = np.isin(tracks.status, [i for i, s in enumerate(tracks.statuses) if s in config.statuses])
    scored_tracks = np.unique(tracks.track[scored_status])
    followed = np.unique(tracks.track[m.track_row[m.pair_track]])
    metrics = {
        "config": {"p": config.p, "alpha": config.alpha, "cutoff_m": dict(config.cutoff_m), "statuses": list(config.statuses)},
        "inputs": {
            "truth_rows": int(truth.t.size), "track_rows": int(tracks.t.size), "alert_rows": int(alerts.t.size),
            "ticks": int(m.ticks.size), "truth_interval_s": m.truth_interval_s, "track_interval_s": m.track_interval_s,
            "duration_s": duration_s, "objects": n_obj, "suspects": int(suspect.sum()), "benign": n_benign,
            "scored_tracks": int(scored_tracks.size), "tracks_never_assigned": int(np.setdiff1d(scored_tracks, followed).size),
        },
        "domains": per_domain,
        "continuity": continuity(ot, n_obj, np.ones(n_obj, dtype=bool)),
        "alerts": {**table(np.ones(alerts.t.size, dtype=bool)),
                   "at_operating_point": {"threshold": threshold, **table(at_op)}},
    }
    return _round(metrics), series, alert_outcomes(alerts, alert_obj, suspect, truth.ids, score)


def evaluate_dir(dir: Path, config: MetricsConfig | None = None, *, workers: int | None = None,
                 scenario: Scenario | None = None) -> dict[str, Any]:
    """Score ``dir``/truth.jsonl against tracks.jsonl and alerts.jsonl; writes metrics.json, metrics_series.jsonl
    and alert_outcomes.jsonl. ``scenario``: the scenario the run simulated (its sensors give
    ``time_to_alert_observable_s``; None: that figure is None)."""
    dir = Path(dir)
    for name in (TRUTH_FILE, TRACKS_FILE):
        if not (dir / name).exists():
            raise FileNotFoundError(f"{dir / name}: required for scoring")
    domains = Codebook()
    truth = read_truth(dir / TRUTH_FILE, domains, workers=workers)
    tracks = read_tracks(dir / TRACKS_FILE, domains, workers=workers)
    alerts = read_alerts(dir / ALERTS_FILE)
    coverage = SensorCoverage(scenario) if scenario is not None else None
    metrics, series, outcomes = evaluate(truth, tracks, alerts, domains.values, config, workers=workers, coverage=coverage)
    write_outputs(dir, metrics, series, outcomes)
    return metrics
