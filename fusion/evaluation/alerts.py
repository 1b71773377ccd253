"""Alert scoring: which truth object each alert is about, and per rule the object-level precision and
recall, alert-level precision, false alarms per 10 benign objects per day and time to alert.

Matching rules (docs/EVALUATION.md): an alert is about the object its track was assigned to at the
alert's tick, else the object the track followed most often; an alert about a satellite detection
(no track) is about the truth object nearest its position at the acquisition time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fusion.evaluation.continuity import pair_counts
from fusion.evaluation.io import AlertColumns, BoolArray, FloatArray, IntArray, TrackColumns, TruthColumns
from fusion.evaluation.matching import Matching, nearest
from fusion.rules.calibration import default_calibration, feature_matrix

DETECTION_MATCH_M = 3000.0
"""An alert about a satellite detection (no track; ``evidence.acq_t``) is about the truth object
nearest its position at the acquisition time, if within this distance (docs/EVALUATION.md)."""



def _stats(values: FloatArray) -> dict[str, float | None]:
    if values.size == 0:
        return {"mean": None, "median": None, "max": None}
    return {"mean": float(np.mean(values)), "median": float(np.median(values)), "max": float(np.max(values))}



def alert_objects(alerts: AlertColumns, m: Matching, truth: TruthColumns, tracks: TrackColumns) -> IntArray:
    """(A,) the truth object each alert is about, -1 for none (rules in docs/EVALUATION.md)."""
    n_tracks = max(len(tracks.track_ids), 1)
    track_code_of = {tid: i for i, tid in enumerate(tracks.track_ids)}
    code = np.array([track_code_of.get(int(tid), -1) for tid in alerts.track_id], dtype=np.int64)
    pair_track = tracks.track[m.track_row[m.pair_track]]
    pair_obj = truth.obj[m.pair_truth]
    key = m.truth_tick[m.pair_truth] * n_tracks + pair_track
    order = np.argsort(key, kind="stable")
    key, key_obj = key[order], pair_obj[order]
    # the alert's tick: nearest evaluation tick within half a truth interval
    k = nearest(m.ticks, alerts.t)
    near = np.abs(m.ticks[k] - alerts.t) <= 0.5 * m.truth_interval_s + 1e-9
    want = k * n_tracks + code
    result = np.full(code.size, -1, dtype=np.int64)
    if key.size:
        at = np.minimum(np.searchsorted(key, want), key.size - 1)
        ok = near & (code >= 0) & (key[at] == want)
        result[ok] = key_obj[at[ok]]
    # otherwise: the object the track followed most often
    majority = np.full(n_tracks, -1, dtype=np.int64)
    if pair_track.size:
        by_track, objs, counts = pair_counts(pair_track, pair_obj)
        order = np.lexsort((-counts, by_track))  # per track, most frequent object first
        by_track, objs = by_track[order], objs[order]
        first = np.ones(by_track.size, dtype=bool)
        first[1:] = by_track[1:] != by_track[:-1]
        majority[by_track[first]] = objs[first]
    fallback = np.where(code >= 0, majority[np.maximum(code, 0)], -1)
    result = np.where(result >= 0, result, fallback)
    if alerts.acq_t is not None:
        for i in np.flatnonzero((code < 0) & np.isfinite(alerts.acq_t)):
            result[i] = _detection_object(truth, float(alerts.acq_t[i]), float(alerts.lat[i]), float(alerts.lon[i]))
    return result


def _detection_object(truth: TruthColumns, t: float, lat: float, lon: float) -> int:
    """The truth object nearest (lat, lon) at the truth tick nearest ``t``, within DETECTION_MATCH_M; else -1."""
    if truth.t.size == 0:
        return -1
    ticks = np.unique(truth.t)
    at = truth.t == ticks[nearest(ticks, np.array([t]))[0]]
    dy = (truth.lat[at] - lat) * 111_320.0
    dx = (truth.lon[at] - lon) * 111_320.0 * math.cos(math.radians(lat))
    d = np.hypot(dx, dy)
    if d.size == 0 or d.min() > DETECTION_MATCH_M:
        return -1
    return int(truth.obj[at][int(np.argmin(d))])


def behaviour_onset(truth: TruthColumns, n_obj: int) -> FloatArray:
    """(O,) when each suspect's labelled behaviour starts: its first truth tick whose activity no
    benign object ever carries (else its first tick); -inf for benign objects (docs/EVALUATION.md)."""
    onset = np.full(n_obj, -np.inf)
    if truth.activity is None:
        return onset
    benign_labels = np.unique(truth.activity[~truth.suspect])
    first = np.full(n_obj, np.inf)
    np.minimum.at(first, truth.obj[truth.suspect], truth.t[truth.suspect])
    own = truth.suspect & ~np.isin(truth.activity, benign_labels)
    start = np.full(n_obj, np.inf)
    np.minimum.at(start, truth.obj[own], truth.t[own])
    sus = np.isfinite(first)
    onset[sus] = np.where(np.isfinite(start[sus]), start[sus], first[sus])
    return onset


def first_tracked(obj: IntArray, t: FloatArray, n_obj: int, not_before: FloatArray) -> FloatArray:
    """(O,) first time at or after ``not_before`` (per object) at which a scored track followed the object."""
    out = np.full(n_obj, np.inf)
    ok = t >= not_before[obj]
    np.minimum.at(out, obj[ok], t[ok])
    return out


def alert_scores(rows: BoolArray, alerts: AlertColumns, alert_obj: IntArray, suspect: BoolArray, observable: FloatArray,
                 first_seen: FloatArray, covered: FloatArray | None, n_benign: int, days: float) -> dict[str, Any]:
    """Object-level precision/recall, alert-level precision, false-alarm rate, time to alert over alert rows ``rows``.

    ``observable``, ``first_seen``, ``covered``: (O,) Unix s per object, the starts of ``time_to_alert_s``,
    ``time_to_alert_from_first_track_s`` and ``time_to_alert_observable_s`` (None: no scenario, no sensor
    coverage; that figure's stats are None)."""
    live = rows & ~alerts.cleared
    obj, alert, t = alert_obj[live], alerts.alert[live], alerts.t[live]
    named = obj >= 0
    suspect_alert = np.zeros(live.sum(), dtype=bool)
    suspect_alert[named] = suspect[obj[named]]
    found = np.unique(obj[suspect_alert])
    benign_alerted = np.unique(obj[named & ~suspect_alert])
    alert_ids = np.unique(alert)
    true_ids = np.unique(alert[suspect_alert])
    false_ids = np.setdiff1d(alert_ids, true_ids)
    first_alert = np.full(suspect.size, np.inf)
    np.minimum.at(first_alert, obj[suspect_alert], t[suspect_alert])
    tta = np.maximum(first_alert[found] - observable[found], 0.0)  # alerted before the labelled onset: 0
    tta = tta[np.isfinite(tta)]
    tta_seen = first_alert[found] - first_seen[found]
    tta_seen = tta_seen[np.isfinite(tta_seen)]
    tta_covered = np.zeros(0) if covered is None else np.maximum(first_alert[found] - covered[found], 0.0)
    tta_covered = tta_covered[np.isfinite(tta_covered)]
    n_suspects = int(suspect.sum())
    alerted = found.size + benign_alerted.size
    return {
        "alerts": int(alert_ids.size),
        "suspects": n_suspects,
        "suspects_found": int(found.size),
        "recall": found.size / n_suspects if n_suspects else None,
        "precision": found.size / alerted if alerted else None,
        "alert_precision": true_ids.size / alert_ids.size if alert_ids.size else None,
        "benign_objects_alerted": int(benign_alerted.size),
        "false_alarms": int(false_ids.size),
        "false_alarms_per_10_benign_per_day": false_ids.size / (n_benign / 10.0) / days if n_benign and days > 0 else None,
        "time_to_alert_s": _stats(tta),
        "time_to_alert_from_first_track_s": _stats(tta_seen),
        "time_to_alert_observable_s": _stats(tta_covered),
    }


def alert_score_column(alerts: AlertColumns) -> FloatArray:
    """(A,) the calibrated score of each alert row: the row's own ``score``, else (rows of runs made before
    scores existed) the shipped calibration's score of the row's features; NaN for cleared rows."""
    score = alerts.score if alerts.score is not None else np.full(alerts.t.size, np.nan)
    missing = np.flatnonzero(~np.isfinite(score) & ~alerts.cleared)
    if missing.size and alerts.strength is not None and alerts.condition_s is not None and alerts.priority is not None \
            and alerts.identified is not None:
        x = feature_matrix(alerts.strength[missing], alerts.condition_s[missing], alerts.priority[missing],
                           alerts.identified[missing].astype(np.float64))
        score = score.copy()
        score[missing] = default_calibration().score_rules([alerts.rules[r] for r in alerts.rule[missing]], x)
    return score


def alert_outcomes(alerts: AlertColumns, alert_obj: IntArray, suspect: BoolArray, object_ids: list[Any],
                   score: FloatArray) -> list[dict[str, Any]]:
    """One row per raised or updated alert event, in file order: alert id, rule, time, state, the truth object
    its alert is about (``object``; a suspect when any open row of the alert is about one, else None for none)
    and whether that is a suspect (``true``: the alert-level label of ``alert_scores``), the event's features
    (``fusion.rules.calibration.FEATURES``) and its calibrated score. Input of the calibration and the PR curve."""
    live = ~alerts.cleared
    n = len(alerts.alert_ids)
    named = live & (alert_obj >= 0)
    about = np.full(n, -1, dtype=np.int64)
    about[alerts.alert[named]] = alert_obj[named]  # an object one of its open rows is about
    on_suspect = named.copy()
    on_suspect[named] = suspect[alert_obj[named]]
    about[alerts.alert[on_suspect]] = alert_obj[on_suspect]
    true = np.zeros(n, dtype=bool)
    true[alerts.alert[on_suspect]] = True

    def num(column: FloatArray | None, i: int) -> float | None:
        v = math.nan if column is None else float(column[i])
        return v if math.isfinite(v) else None

    out = []
    for i in np.flatnonzero(live).tolist():
        a = int(alerts.alert[i])
        out.append({
            "alert_id": alerts.alert_ids[a], "rule": alerts.rules[int(alerts.rule[i])], "t": float(alerts.t[i]),
            "state": "raised" if alerts.raised[i] else "updated", "object": None if about[a] < 0 else object_ids[int(about[a])],
            "true": bool(true[a]), "strength": num(alerts.strength, i), "condition_s": num(alerts.condition_s, i),
            "priority": num(alerts.priority, i),
            "identified": bool(alerts.identified[i]) if alerts.identified is not None else False, "score": num(score, i),
        })
    return out
