"""How often an AIS vessel reports, and how often its reports reach us: the evidence of ``ais_gap``. Pure.

ITU-R M.1371-5, Annex 1, Table 1 (class A) and Table 2 (class B) set the position reporting
interval by class, speed and navigational status:

    class A  at anchor / moored, <= 3 kn                 180 s
             0-14 kn                                      10 s   (3 1/3 s changing course)
             14-23 kn                                      6 s   (2 s changing course)
             > 23 kn                                       2 s
    class B  "CS" (carrier sense), <= 2 kn               180 s
             "CS", > 2 kn                                 30 s
             ("SO" units report faster: 30 / 15 / 5 s above 2 kn; CS is the longer, so it is used)
    type 27  long-range broadcast (for satellites)       180 s

A silence proves something only against the *longest* interval the vessel may legally use, so
``reporting_interval_s`` takes, for a class A vessel below 3 kn, the at-anchor interval: the
navigational status is not decoded (the library's transponders send 15, "not defined"), and a
slow ship may be at anchor. Unknown speed counts as slow.

The receiver does not hear every report: ``AisReporting`` keeps, per MMSI, the last report
(time, message type, SOG) and an exponential average of the gaps between reports measured in
expected intervals. Reports sent every T and each heard with probability p arrive at gaps of
T x Geometric(p), mean T / p, so 1 / (mean gap in intervals) estimates p for that vessel at its
range from the receivers (``reception``). Gaps shorter than half an interval (the same report
from a second receiver, a turning vessel's faster rate) and longer than ``MAX_LEARN_INTERVALS``
(a vessel out of range or silent: what the rule looks for) do not teach the average.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusion.core.arrays import FloatArray, IntArray
from fusion.rules.params import KNOT_MPS

ANCHOR_INTERVAL_S = 180.0  # class A at anchor / moored below 3 kn; class B CS below 2 kn; type 27 (Table 1, 2)
CLASS_B_TYPES = (18, 19, 24)
LONG_RANGE_TYPE = 27
SMOOTHING = 0.1  # weight of a new gap in a vessel's average (about the last ten gaps)
MAX_LEARN_INTERVALS = 20.0  # longer gaps are silences, not losses (1 / 20 = the lowest reception learnt: 5 %)


def reporting_interval_s(msg_type: IntArray, sog_mps: FloatArray) -> FloatArray:
    """(N,) longest ITU-R M.1371-5 position reporting interval (s) of vessels whose last position report was
    of ``msg_type`` (N,) (1-3 class A, 18/19 class B, 27 long range) at speed over ground ``sog_mps`` (N,)
    (NaN = unknown: slow)."""
    kn = np.nan_to_num(np.asarray(sog_mps, dtype=np.float64) / KNOT_MPS, nan=0.0)
    mt = np.asarray(msg_type)
    class_a = np.where(kn <= 3.0, ANCHOR_INTERVAL_S, np.where(kn <= 14.0, 10.0, np.where(kn <= 23.0, 6.0, 2.0)))
    class_b = np.where(kn <= 2.0, ANCHOR_INTERVAL_S, 30.0)
    out = np.where(np.isin(mt, CLASS_B_TYPES), class_b, class_a)
    return np.where(mt == LONG_RANGE_TYPE, ANCHOR_INTERVAL_S, out)


def missed_reports_needed(p_rx: FloatArray, alpha: FloatArray | float) -> FloatArray:
    """(N,) smallest number k of consecutive expected reports whose loss has probability (1 - p_rx)^k < alpha,
    for reception probabilities ``p_rx`` (N,) and chances ``alpha`` (N,) or scalar, both in (0, 1)."""
    p = np.clip(np.asarray(p_rx, dtype=np.float64), 1e-6, 1.0 - 1e-9)
    a = np.clip(np.asarray(alpha, dtype=np.float64), 1e-300, 1.0)
    return np.maximum(np.floor(np.log(a) / np.log1p(-p)) + 1.0, 1.0)


def missed_report_limit_s(msg_type: IntArray, sog_mps: FloatArray, p_rx: FloatArray, false_per_day: float,
                          min_gap_s: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(N,) silence (s) after which a transmitting vessel's reports would all have been lost with a chance below
    alpha = ``false_per_day`` x T / 86400 (T its reporting interval: the chance allowed per report so that a
    vessel heard all day gives ``false_per_day`` such silences), at least ``min_gap_s``; and (N,) T and k."""
    interval = reporting_interval_s(msg_type, sog_mps)
    k = missed_reports_needed(p_rx, false_per_day * interval / 86_400.0)
    return np.maximum(k * interval, min_gap_s), interval, k


@dataclass(frozen=True)
class ReportingArrays:
    """Per MMSI (K,), sorted by MMSI: last position report's type and SOG (m/s, NaN unknown), the average gap in
    expected intervals (``gap_ratio``) and the number of gaps it learnt from (``learnt``)."""

    mmsi: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    msg_type: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    sog_mps: FloatArray = field(default_factory=lambda: np.zeros(0))
    gap_ratio: FloatArray = field(default_factory=lambda: np.zeros(0))
    learnt: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))

    def lookup(self, mmsi: IntArray) -> tuple[IntArray, FloatArray, FloatArray, IntArray]:
        """(N,) msg_type, sog_mps, gap_ratio, learnt of each MMSI; unknown MMSIs: type 1, NaN SOG, NaN ratio, 0."""
        mmsi = np.asarray(mmsi, dtype=np.int64)
        if not len(self.mmsi):
            n = len(mmsi)
            return np.ones(n, np.int64), np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, np.int64)
        pos = np.minimum(np.searchsorted(self.mmsi, mmsi), len(self.mmsi) - 1)
        known = self.mmsi[pos] == mmsi
        return (np.where(known, self.msg_type[pos], 1), np.where(known, self.sog_mps[pos], np.nan),
                np.where(known, self.gap_ratio[pos], np.nan), np.where(known, self.learnt[pos], 0))

    def reception(self, mmsi: IntArray, p_default: float, prior_gaps: float) -> FloatArray:
        """(N,) reception probability of each vessel's reports: its learnt mean gap blended with a prior of
        ``prior_gaps`` gaps at ``p_default`` (a vessel heard of only once or never gets ``p_default``)."""
        _, _, ratio, learnt = self.lookup(mmsi)
        n = np.minimum(learnt, round(1.0 / SMOOTHING)).astype(np.float64)
        mean = (n * np.nan_to_num(ratio) + prior_gaps / p_default) / np.maximum(n + prior_gaps, 1e-9)
        return np.clip(1.0 / mean, 1.0 / MAX_LEARN_INTERVALS, 1.0)


class AisReporting:
    """Per-MMSI reporting table fed with every decoded AIS position (ingest side); ``arrays()`` for the rules."""

    def __init__(self, max_vessels: int = 100_000) -> None:
        self.max_vessels = max_vessels
        self._rows: dict[int, list[float]] = {}  # mmsi -> [t, msg_type, sog_mps (NaN), gap_ratio (NaN), learnt]
        self._arrays: ReportingArrays | None = None

    def add(self, reports: Iterable[Any]) -> None:
        """Learn from AIS position reports (objects with ``t``, ``mmsi``, ``msg_type``, ``sog_mps``); reports
        older than the vessel's last one are ignored (late satellite deliveries)."""
        for r in reports:
            row = self._rows.get(r.mmsi)
            sog = math.nan if r.sog_mps is None else float(r.sog_mps)
            if row is None:
                if len(self._rows) >= self.max_vessels:  # forget the least recently heard (dict order = insertion)
                    self._rows.pop(next(iter(self._rows)))
                self._rows[r.mmsi] = [r.t, float(r.msg_type), sog, math.nan, 0.0]
                self._arrays = None
                continue
            if r.t <= row[0]:
                continue
            expected = float(reporting_interval_s(np.array([int(row[1])]), np.array([row[2]]))[0])
            ratio = (r.t - row[0]) / expected
            if 0.5 <= ratio <= MAX_LEARN_INTERVALS:
                row[3] = ratio if row[4] == 0 else row[3] + SMOOTHING * (ratio - row[3])
                row[4] += 1
            row[0], row[1], row[2] = r.t, float(r.msg_type), sog
            self._rows[r.mmsi] = self._rows.pop(r.mmsi)  # most recently heard last
            self._arrays = None

    def arrays(self) -> ReportingArrays:
        """The table as arrays sorted by MMSI (cached until the next report)."""
        if self._arrays is None:
            if not self._rows:
                self._arrays = ReportingArrays()
            else:
                mmsi = np.fromiter(self._rows, dtype=np.int64, count=len(self._rows))
                vals = np.array(list(self._rows.values()), dtype=np.float64)
                o = np.argsort(mmsi, kind="stable")
                self._arrays = ReportingArrays(mmsi[o], vals[o, 1].astype(np.int64), vals[o, 2], vals[o, 3],
                                               vals[o, 4].astype(np.int64))
        return self._arrays

    def state(self) -> list[list[float | None]]:
        """JSON-able state (checkpoints): rows [mmsi, t, msg_type, sog_mps, gap_ratio, learnt], NaN as None."""
        return [[float(m), *(None if math.isnan(v) else v for v in row)] for m, row in self._rows.items()]

    def restore(self, state: list[list[Any]]) -> None:
        """Put back what ``state`` returned."""
        self._rows = {int(r[0]): [math.nan if v is None else float(v) for v in r[1:]] for r in state}
        self._arrays = None
