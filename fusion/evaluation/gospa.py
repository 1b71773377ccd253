"""GOSPA and OSPA: the distance between the truth set and the track set, per tick and domain.

GOSPA with alpha = 2 splits into localisation (sum of d^p over the assigned pairs), missed and
false parts (c^p/2 per unassigned object or track); OSPA normalises by the larger set. Both use
the per-tick optimum of ``fusion.evaluation.matching`` (``Matching.gospa_pair_truth``). Definitions in docs/EVALUATION.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.evaluation.config import MetricsConfig
from fusion.evaluation.io import DIGITS, FloatArray, TrackColumns, TruthColumns
from fusion.evaluation.matching import Matching, assign_pairs


def gospa_parts(truth_xy: FloatArray, track_xy: FloatArray, *, c: float, p: float = 2.0) -> dict[str, float]:
    """GOSPA (alpha = 2) between two point sets, (n, 2) and (m, 2) metres.

    Returns gospa_m, localisation, missed, false (the three parts in m^p, summing to
    gospa_m^p), n_missed, n_false, and ospa_m.
    """
    if truth_xy.ndim != 2 or truth_xy.shape[1] != 2 or track_xy.ndim != 2 or track_xy.shape[1] != 2:
        raise ValueError(f"point sets must be (n, 2) and (m, 2), got {truth_xy.shape} and {track_xy.shape}")
    d = np.linalg.norm(truth_xy[:, None, :] - track_xy[None, :, :], axis=-1)
    i, j = np.nonzero(d < c)
    chosen = assign_pairs(i, j, d[i, j], np.full(i.size, c), p)
    loc = float(np.sum(d[i[chosen], j[chosen]] ** p))
    n_pairs = int(chosen.sum())
    return gospa_from_counts(loc, len(truth_xy), len(track_xy), n_pairs, c, p)


def gospa_from_counts(loc: Any, n_truth: Any, n_tracks: Any, n_pairs: Any, c: float, p: float) -> dict[str, Any]:
    """GOSPA parts and OSPA from per-set sums; works on scalars or equal-shape arrays."""
    missed = (n_truth - n_pairs) * c**p / 2.0
    false = (n_tracks - n_pairs) * c**p / 2.0
    n = np.maximum(n_truth, n_tracks)
    ospa_p = np.divide(loc + c**p * (n - n_pairs), n, out=np.zeros_like(loc, dtype=np.float64), where=n > 0)
    return {
        "gospa_m": (loc + missed + false) ** (1.0 / p),
        "localisation": loc,
        "missed": missed,
        "false": false,
        "n_missed": n_truth - n_pairs,
        "n_false": n_tracks - n_pairs,
        "ospa_m": ospa_p ** (1.0 / p),
    }



def per_tick(m: Matching, truth: TruthColumns, tracks: TrackColumns, config: MetricsConfig, domains: list[str]
              ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """GOSPA/OSPA summaries per domain, and the per-tick series rows."""
    n_t, n_dom = m.ticks.size, len(domains)
    size = n_t * n_dom
    truth_slice = m.truth_tick * n_dom + truth.domain
    track_slice = m.track_tick * n_dom + tracks.domain[m.track_row]
    pair_slice = truth_slice[m.gospa_pair_truth]
    n_truth = np.bincount(truth_slice, minlength=size).reshape(n_t, n_dom)
    n_tracks = np.bincount(track_slice, minlength=size).reshape(n_t, n_dom)
    n_pairs = np.bincount(pair_slice, minlength=size).reshape(n_t, n_dom)
    loc = np.bincount(pair_slice, weights=m.gospa_dist_m**config.p, minlength=size).reshape(n_t, n_dom)
    summary: dict[str, dict[str, Any]] = {}
    series: list[dict[str, Any]] = [{"t": float(t)} for t in m.ticks]
    for d, name in enumerate(domains):
        c = config.cutoff(name, "tracks/truth")
        g = gospa_from_counts(loc[:, d], n_truth[:, d], n_tracks[:, d], n_pairs[:, d], c, config.p)
        summary[name] = {
            "gospa": {
                "c_m": c, "p": config.p, "alpha": config.alpha,
                "mean_m": float(np.mean(g["gospa_m"])),
                "localisation_mean": float(np.mean(g["localisation"])),
                "missed_mean": float(np.mean(g["missed"])),
                "false_mean": float(np.mean(g["false"])),
                "n_missed_mean": float(np.mean(g["n_missed"])),
                "n_false_mean": float(np.mean(g["n_false"])),
            },
            "ospa": {"c_m": c, "p": config.p, "mean_m": float(np.mean(g["ospa_m"]))},
        }
        columns = {"gospa_m": g["gospa_m"], "localisation": g["localisation"], "missed": g["missed"], "false": g["false"],
                   "ospa_m": g["ospa_m"], "truth": n_truth[:, d], "tracks": n_tracks[:, d], "assigned": n_pairs[:, d]}
        for key, values in columns.items():
            for row, v in zip(series, values.tolist(), strict=True):
                row[f"{name}.{key}"] = round(v, DIGITS)
    return summary, series
