"""Accuracy over the assigned pairs: position and velocity RMSE, and the position NEES (consistency)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.evaluation.io import TrackColumns, TruthColumns
from fusion.evaluation.matching import Matching

NEES_95 = 5.991464547107979  # chi-square 95 % quantile, 2 degrees of freedom


def accuracy(m: Matching, truth: TruthColumns, tracks: TrackColumns, d: int) -> dict[str, Any]:
    """Position/velocity RMSE and position NEES over the assigned pairs of domain ``d``."""
    sel = truth.domain[m.pair_truth] == d
    err = m.err_en_m[sel]
    rows = m.track_row[m.pair_track[sel]]
    truth_rows = m.pair_truth[sel]
    dv = np.column_stack([tracks.vel_e_mps[rows] - truth.vel_e_mps[truth_rows], tracks.vel_n_mps[rows] - truth.vel_n_mps[truth_rows]])
    dv = dv[np.all(np.isfinite(dv), axis=1)]
    cov = tracks.cov_en_m2[rows]
    a, b, c, e = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 0], cov[:, 1, 1]
    det = a * e - b * c
    valid = np.isfinite(det) & (det > 0.0) & (a > 0.0)
    ex, ny = err[valid, 0], err[valid, 1]
    nees = (e[valid] * ex * ex - (b[valid] + c[valid]) * ex * ny + a[valid] * ny * ny) / det[valid]
    return {
        "rmse": {
            "position_m": float(np.sqrt(np.mean(np.sum(err**2, axis=1)))) if err.size else None,
            "velocity_mps": float(np.sqrt(np.mean(np.sum(dv**2, axis=1)))) if dv.size else None,
            "pairs": int(sel.sum()),
            "velocity_pairs": int(dv.shape[0]),
        },
        "nees": {
            "mean": float(np.mean(nees)) if nees.size else None,
            "expected_mean": 2.0,
            "within_95pct": float(np.mean(nees <= NEES_95)) if nees.size else None,
            "samples": int(nees.size),
        },
    }
