"""Why an object has more than one track (issue 14 diagnostics): each track the evaluation's assignment gives an object
after its first, classified by how it came about.

- ``shared``: the object shares its position with another object (within ``SHARED_M`` at more than
  ``SHARED_FRACTION`` of its ticks: boats moored together, a rendezvous); a pairing is kept while it is valid
  (``matching.keep_correspondence``), but a new pairing (after a gap, or a track coming within the cut-off) may take a
  neighbour's track;
- ``twin``: a track assigned to the object before was still output (confirmed or coasting) when this one was first
  assigned: a duplicate (a radar-only track beside an identified one, two radar tracks);
- ``rebirth``: none was: the object's track was deleted and a new one started.

Each is further marked by whether the new track and the live (``twin``) or last (``rebirth``) earlier track carried an
MMSI / ICAO address, whether the object manoeuvred just before the new track started (its true velocity changed by
more than ``MANOEUVRE_MPS`` between two truth rows within ``MANOEUVRE_WINDOW_S`` before: a departure, a turn, a
take-off), and whether the new track was assigned for at most ``SHORT_TICKS`` ticks.
``python -m fusion.evaluation.fragments DIR [DIR ...]`` prints the counts per domain over scored run directories.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from fusion.core.arrays import NO_ICAO, NO_MMSI
from fusion.core.frame import LocalFrame
from fusion.evaluation.config import MetricsConfig
from fusion.evaluation.continuity import object_tracks
from fusion.evaluation.io import (
    TRACKS_FILE,
    TRUTH_FILE,
    BoolArray,
    Codebook,
    FloatArray,
    IntArray,
    TrackColumns,
    TruthColumns,
    read_tracks,
    read_truth,
)
from fusion.evaluation.matching import Matching, match

SHARED_M = 300.0
"""Objects closer than this share a position for the assignment: below the surface cut-off (1 km), and AIS/radar
errors are tens of metres."""
SHARED_FRACTION = 0.05
"""Share of an object's ticks spent within ``SHARED_M`` of another object above which it counts as ``shared``."""
SHORT_TICKS = 2
"""A new track assigned for at most this many ticks is marked short."""
MANOEUVRE_MPS = 5.0
"""A change of the true velocity vector larger than this between two truth rows (10 s apart in the corpus) is a
manoeuvre: 0.5 m/s^2 or more, beyond what the surface pool's quiet model follows (engineering choice; a departing
ferry, a go-fast's turn, a helicopter's take-off all exceed it in the simulator)."""
MANOEUVRE_WINDOW_S = 120.0
"""A manoeuvre at most this long before a new track's first row marks it: the air pool's ``max_coast_s``, within
which a track that lost its target is deleted and a new one confirmed (a light aircraft's reversal on the tune side:
its new track 75 s after the turn)."""
TWIN_SLACK_S = 5.0
"""An earlier track whose last scored row is at most this before the new track's first assignment is still live (one
track output interval)."""


def shared_objects(truth: TruthColumns, m: Matching) -> BoolArray:
    """(O,) True for the objects within ``SHARED_M`` of another object at more than ``SHARED_FRACTION`` of their ticks."""
    pad = 0.05
    frame = LocalFrame(float(truth.lat.min()) - pad, float(truth.lat.max()) + pad, float(truth.lon.min()) - pad,
                       float(truth.lon.max()) + pad)
    e, n = frame.to_local(truth.lat, truth.lon)
    spacing = 4.0 * SHARED_M
    tree = cKDTree(np.column_stack([e, n, m.truth_tick * spacing + truth.domain * 2.0 * spacing * (m.ticks.size + 1)]))
    near = tree.query_ball_point(tree.data, SHARED_M, return_length=True) > 1
    n_obj = len(truth.ids)
    return np.bincount(truth.obj, near, n_obj) > SHARED_FRACTION * np.maximum(np.bincount(truth.obj, minlength=n_obj), 1)


def manoeuvre_times(truth: TruthColumns) -> tuple[IntArray, FloatArray]:
    """(object (K,), time (K,) s) of every truth row whose velocity vector differs from the object's previous row's by
    more than ``MANOEUVRE_MPS``, sorted by (object, time); rows without speed or course count none."""
    order = np.lexsort((truth.t, truth.obj))
    obj, t = truth.obj[order], truth.t[order]
    dv = np.hypot(np.diff(truth.vel_e_mps[order]), np.diff(truth.vel_n_mps[order]))
    step = np.flatnonzero((obj[1:] == obj[:-1]) & (dv > MANOEUVRE_MPS)) + 1  # (NaN compares False)
    return obj[step], t[step]


def fragment_causes(truth: TruthColumns, tracks: TrackColumns, m: Matching, domains: Sequence[str],
                    config: MetricsConfig | None = None) -> Counter[tuple[str, str]]:
    """Counts of (domain, cause label) over every track assigned to an object after its first (see the module)."""
    config = config or MetricsConfig()
    ot = object_tracks(m, truth, tracks)
    scored = np.isin(tracks.status, [i for i, s in enumerate(tracks.statuses) if s in config.statuses])
    n_tracks = len(tracks.track_ids)
    first_t = np.full(n_tracks, np.inf)
    last_t = np.full(n_tracks, -np.inf)
    np.minimum.at(first_t, tracks.track[scored], tracks.t[scored])
    np.maximum.at(last_t, tracks.track[scored], tracks.t[scored])
    identified = np.zeros(n_tracks, dtype=bool)
    identified[tracks.track[(tracks.mmsi != NO_MMSI) | (tracks.icao24 != NO_ICAO)]] = True
    shared = shared_objects(truth, m)
    step_obj, step_t = manoeuvre_times(truth)
    step_key = step_obj * 1e12 + step_t  # (object, time) as one sortable key: times are Unix s < 1e11
    hit = ot.track >= 0
    obj, track, t, dom = ot.obj[hit], ot.track[hit], m.ticks[ot.tick[hit]], ot.domain[hit]
    # each (object, track) pair at its first assigned tick (rows are in (object, tick) order) and its number of ticks
    _, first, inverse = np.unique(obj * n_tracks + track, return_index=True, return_inverse=True)
    order = np.argsort(first)
    first, counts = first[order], np.bincount(inverse)[order]
    out: Counter[tuple[str, str]] = Counter()
    for k, row in enumerate(first.tolist()):
        earlier = first[:k][obj[first[:k]] == obj[row]]
        if earlier.size == 0:
            continue  # the object's first track
        new, when, old = int(track[row]), float(t[row]), track[earlier]
        live = old[(last_t[old] >= when - TWIN_SLACK_S) & (first_t[old] <= when)]
        if shared[obj[row]]:
            label = "shared"
        else:
            ref = live if live.size else old[-1:]
            label = (f"{'twin' if live.size else 'rebirth'} new={'id' if identified[new] else 'anon'}"
                     f" old={'id' if identified[ref].any() else 'anon'}")
        birth_key = obj[row] * 1e12 + first_t[new]
        lo = np.searchsorted(step_key, birth_key - MANOEUVRE_WINDOW_S)
        if np.searchsorted(step_key, birth_key, side="right") > lo:
            label += " (manoeuvre)"
        if counts[k] <= SHORT_TICKS:
            label += " (short)"
        out[(str(domains[int(dom[row])]), label)] += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Print the fragment causes of scored run directories (truth.jsonl and tracks.jsonl), summed."""
    total: Counter[tuple[str, str]] = Counter()
    for d in (argv if argv is not None else sys.argv[1:]):
        domains = Codebook()
        truth = read_truth(Path(d) / TRUTH_FILE, domains)
        tracks = read_tracks(Path(d) / TRACKS_FILE, domains)
        total += fragment_causes(truth, tracks, match(truth, tracks, MetricsConfig(), domains.values), domains.values)
    for (domain, label), n in sorted(total.items()):
        print(f"{domain:8s} {label:45s} {n:5d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
