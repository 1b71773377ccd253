"""Track continuity per truth object: identity switches, fragmentations, best-track coverage, tracks per object.

Definitions in docs/EVALUATION.md; inputs are the per-tick assignment of ``fusion.evaluation.matching``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fusion.evaluation.io import BoolArray, IntArray, TrackColumns, TruthColumns
from fusion.evaluation.matching import Matching


def pair_counts(a: IntArray, b: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Distinct (a, b) pairs of non-negative ints and how often each occurs, sorted by (a, b)."""
    width = int(b.max()) + 1
    keys, counts = np.unique(a.astype(np.int64) * width + b, return_counts=True)
    return keys // width, keys % width, counts


@dataclass(frozen=True)
class ObjectTracks:
    """Per truth row: its object, tick and assigned track code (-1 = none), sorted by (object, tick)."""

    obj: IntArray
    tick: IntArray
    track: IntArray
    domain: IntArray


def object_tracks(m: Matching, truth: TruthColumns, tracks: TrackColumns) -> ObjectTracks:
    assigned = np.full(truth.t.size, -1, dtype=np.int64)
    assigned[m.pair_truth] = tracks.track[m.track_row[m.pair_track]]
    order = np.lexsort((m.truth_tick, truth.obj))
    return ObjectTracks(truth.obj[order], m.truth_tick[order], assigned[order], truth.domain[order])


def continuity(ot: ObjectTracks, n_obj: int, objects: BoolArray) -> dict[str, Any]:
    """Identity switches, fragmentations, best-track coverage and tracks per object over the objects selected (O,)
    bool. Tracks per object twice: over every object that exists (one never tracked counts 0 tracks, so objects no
    sensor covered pull the mean down) and over the objects followed, assigned a track at least once."""
    sel = objects[ot.obj]
    obj, track = ot.obj[sel], ot.track[sel]
    hit = track >= 0
    same_obj_prev = np.zeros(obj.size, dtype=bool)
    same_obj_prev[1:] = obj[1:] == obj[:-1]
    # identity switch: an object's assigned track differs from its previous assigned track
    h_obj, h_track = obj[hit], track[hit]
    switches = int(np.sum((h_obj[1:] == h_obj[:-1]) & (h_track[1:] != h_track[:-1])))
    # fragmentation: a run of assigned ticks that starts after an unassigned tick of the same object
    prev_hit = np.zeros(obj.size, dtype=bool)
    prev_hit[1:] = hit[:-1]
    run_start = hit & ~(same_obj_prev & prev_hit)
    starts_per_obj = np.bincount(obj[run_start], minlength=n_obj)
    fragmentations = int(np.sum(np.maximum(starts_per_obj - 1, 0)))
    life = np.bincount(obj, minlength=n_obj)
    best = np.zeros(n_obj, dtype=np.int64)
    tracks_per_obj = np.zeros(n_obj, dtype=np.int64)
    if h_obj.size:
        pair_obj, _, counts = pair_counts(h_obj, h_track)
        np.maximum.at(best, pair_obj, counts)
        np.add.at(tracks_per_obj, pair_obj, 1)
    alive = life > 0
    followed = best > 0  # assigned a track at least once: some sensor saw it (objects no sensor covered are not)
    coverage = best[alive] / life[alive]
    return {
        "objects": int(alive.sum()),
        "identity_switches": switches,
        "fragmentations": fragmentations,
        "best_track_coverage_mean": float(np.mean(coverage)) if coverage.size else None,
        "best_track_coverage_min": float(np.min(coverage)) if coverage.size else None,
        "tracks_per_object_mean": float(np.mean(tracks_per_obj[alive])) if coverage.size else None,
        "objects_followed": int(followed.sum()),
        "tracks_per_followed_object_mean": float(np.mean(tracks_per_obj[followed])) if followed.any() else None,
        "never_tracked": int(np.sum(alive & (best == 0))),
    }
