"""Expected report intervals: the time limits of each track scale with how often its sources report. Pure.

A track carries ``ivl``, the expected interval (s) between reports of the source that last
updated it with a known interval (NaN: none known, the pool's fixed limits apply). From it
``track_limits`` gives every row its own coasting, deletion, tentative-age and
position-uncertainty limits, vectorised over rows (docs/TRACKER.md, "Expected report
intervals"):

- coasting after ``coast_intervals`` expected intervals without an update;
- deletion when the probability that a target still present sent no report received in
  that time, ``(1 - report_prob) ** k``, falls below ``delete_miss_prob`` (a tentative
  track: ``tentative_miss_prob``): the sequential-probability-ratio view of track
  deletion (Blackman & Popoli, *Design and Analysis of Modern Tracking Systems*, 1999,
  ch. 6), with one look per expected interval;
- how long a cooperative report vouches for the target against radar misses: ``coast_intervals``
  expected intervals (the report is overdue, and the track coasting, only after that), at
  least the pool's ``coop_fresh_s``: a class A AIS at anchor reports every 3 min (ITU-R
  M.1371), so a radar that does not see its hull must not delete its track 30 s after a report;
- the position-sigma limit: at least the distance a target at ``reach_speed_mps`` covers
  until that deletion (physics: the target can be anywhere within it by then, so the
  covariance rule never deletes such a track before the miss rule; the reach bound, not
  the covariance, keeps a coasting track from capturing far plots).

Every limit is the larger of this and the pool's fixed value, so a fast-reporting source
(class A AIS every 2-10 s) keeps today's limits and a sparse one (satellite AIS revisits,
thinned archives) stretches them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fusion.core.arrays import FloatArray, IntArray
from fusion.core.config import PoolConfig, TrackerConfig


@dataclass(frozen=True)
class TrackLimits:
    """Per-row time limits (n,) s and position-sigma limit (n,) m."""

    coast_after_s: FloatArray
    max_coast_s: FloatArray
    tentative_max_age_s: FloatArray
    max_pos_sigma_m: FloatArray


def misses_before(report_prob: float, miss_prob: float) -> int:
    """Fewest expected intervals k with (1 - report_prob) ** k <= miss_prob: how many reports
    in a row a present target must have missed before that is less likely than ``miss_prob``."""
    if not (0.0 < report_prob < 1.0 and 0.0 < miss_prob < 1.0):
        raise ValueError(f"report_prob and miss_prob must be in (0, 1), got {report_prob!r}, {miss_prob!r}")
    return max(1, math.ceil(math.log(miss_prob) / math.log(1.0 - report_prob) - 1e-12))


def coop_vouch_s(ivl: FloatArray, pool: PoolConfig, config: TrackerConfig) -> FloatArray:
    """(n,) s after its last AIS / ADS-B report during which a track with expected report interval
    ``ivl`` (n,) s (NaN: unknown) counts no missed radar look: the larger of the pool's
    ``coop_fresh_s`` and ``coast_intervals`` x ``ivl``."""
    return np.fmax(pool.coop_fresh_s, config.coast_intervals * ivl)


def misses_to_delete(hits: IntArray, looks: IntArray, config: TrackerConfig) -> IntArray:
    """(n,) consecutive missed radar looks that delete a confirmed track with ``hits`` (n,)
    detections in its ``looks`` (n,) looks before the current run of misses: the fewest k with
    (1 - Pd)^k <= ``delete_miss_prob`` (the deletion test above, one look per scan), Pd the
    track's own detection probability, estimated with a Beta prior at the design
    ``detection_prob`` worth ``confirm_n`` looks (the evidence one confirmation rests on);
    at least ``delete_misses``. A Swerling I target's Pd falls with its RCS and range
    (Skolnik 2001, ch. 2): a light aircraft or a skiff seen on one scan in two is deleted
    after 10 misses, not 3; a track seen on every scan keeps ``delete_misses``. The manage
    stage applies it once a track's hit history is full (64 looks, the estimate's standard
    error at most 0.06); younger tracks, clutter ones among them, keep ``delete_misses``."""
    w = float(config.confirm_n)
    pd = (hits + config.detection_prob * w) / (looks + w)
    k = np.ceil(np.log(config.delete_miss_prob) / np.log1p(-pd) - 1e-9)
    return np.maximum(config.delete_misses, k).astype(np.int64)


def track_limits(ivl: FloatArray, pool: PoolConfig, config: TrackerConfig) -> TrackLimits:
    """The limits of rows whose expected report interval is ``ivl`` (n,) s (NaN: unknown,
    the pool's fixed limits)."""
    k_delete = misses_before(config.report_prob, config.delete_miss_prob)
    k_tentative = misses_before(config.report_prob, config.tentative_miss_prob)
    return TrackLimits(
        coast_after_s=np.fmax(pool.coast_after_s, config.coast_intervals * ivl),
        max_coast_s=np.fmax(pool.max_coast_s, k_delete * ivl),
        tentative_max_age_s=np.fmax(pool.tentative_max_age_s, k_tentative * ivl),
        max_pos_sigma_m=np.fmax(pool.max_pos_sigma_m, pool.reach_speed_mps * k_delete * ivl),
    )
