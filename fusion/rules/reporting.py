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

A vessel's own average lags where it is now: a ship steaming out into the band where the
receiver's reception fades (VHF range falls off over tens of kilometres, and a class B unit's
2 W carry about half as far as class A's 12.5 W: ITU-R M.1371-5, IEC 62287-1) brings the
reception of where it was. So the table also keeps a reception map: per transmitter class (A, B) and cell of
``CELL_DEG`` degrees, the expected and heard report slots of all the traffic heard there,
estimated online from what the receivers actually hear (a cell that nobody is heard in has only
the prior). Each gap of g intervals ending in a cell adds g expected slots and one heard; a gap
longer than ``MAX_LEARN_INTERVALS`` adds that many expected slots and none heard (a censored
geometric sample: the maximum-likelihood estimate of p from gaps cut at that length stays
unbiased, where dropping them overstated the reception of the fading band). ``reception`` then
takes, for a vessel, the lower of its own estimate and its cell's at the track's position: the
silence must be unlikely under the worse of the two.

``ais_gap`` also measures the silence from the MMSI's last report (the ``last_t`` column) when a
vessel there carries it, not only from the last one that updated the track bearing it: a report
that went to another track (an identity left on a neighbour in port, a duplicate track) or has not
updated this one yet shows the transponder is on (``silence``; a spoofer's reports, miles from any
track, do not count). And a vessel whose radar track reads slow (``STOPPED_TRACK_KN``) may have
stopped since its last report and gone to the 3-min interval of a ship at anchor (ITU-R M.1371-5
Table 1): its interval is the longer one (``gap_limits``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusion.core.arrays import BoolArray, FloatArray, IntArray
from fusion.outages import OutageSettings
from fusion.rules.params import KNOT_MPS, Circle

ANCHOR_INTERVAL_S = 180.0  # class A at anchor / moored below 3 kn; class B CS below 2 kn; type 27 (Table 1, 2)
CLASS_B_TYPES = (18, 19, 24)
LONG_RANGE_TYPE = 27
SMOOTHING = 0.1  # weight of a new gap in a vessel's average (about the last ten gaps)
MAX_LEARN_INTERVALS = 20.0  # longer gaps are silences, not losses (1 / 20 = the lowest reception learnt: 5 %)
CELL_DEG = 0.05  # reception map cell, about 5.5 km: a quarter of a 20 km band where reception fades
CELL_MAX_SLOTS = 2000.0  # a cell weighs about this many recent expected reports (older counts decay)
STOPPED_TRACK_KN = 6.0  # a radar track reading below this may be a stopped ship: 3 kn (ITU-R M.1371-5 Table 1, at anchor)
                        # plus the 1-6 kn of velocity noise stationary boats' tracks read (issue 14, tune-side library)
_LAT_CELLS, _LON_CELLS = round(180.0 / CELL_DEG) + 1, round(360.0 / CELL_DEG) + 1


# (speed limit kn, interval s) rows of Tables 1 and 2: the first row whose limit the speed does not exceed
_CLASS_A_INTERVALS = ((3.0, ANCHOR_INTERVAL_S), (14.0, 10.0), (23.0, 6.0), (math.inf, 2.0))
_CLASS_B_INTERVALS = ((2.0, ANCHOR_INTERVAL_S), (math.inf, 30.0))
_LONG_RANGE_INTERVALS = ((math.inf, ANCHOR_INTERVAL_S),)


def _interval_table(msg_type: int) -> tuple[tuple[float, float], ...]:
    """The (speed limit kn, interval s) rows of one position message type."""
    if msg_type == LONG_RANGE_TYPE:
        return _LONG_RANGE_INTERVALS
    return _CLASS_B_INTERVALS if msg_type in CLASS_B_TYPES else _CLASS_A_INTERVALS


def reporting_interval_s(msg_type: IntArray, sog_mps: FloatArray) -> FloatArray:
    """(N,) longest ITU-R M.1371-5 position reporting interval (s) of vessels whose last position report was
    of ``msg_type`` (N,) (1-3 class A, 18/19 class B, 27 long range) at speed over ground ``sog_mps`` (N,)
    (NaN = unknown: slow)."""
    kn = np.nan_to_num(np.asarray(sog_mps, dtype=np.float64) / KNOT_MPS, nan=0.0)
    mt = np.asarray(msg_type)
    out = np.empty(kn.shape)
    for m in np.unique(mt).tolist():
        rows = mt == m
        table = _interval_table(m)
        out[rows] = np.select([kn[rows] <= lim for lim, _ in table], [iv for _, iv in table])
    return out


def report_interval_s(msg_type: int, sog_mps: float) -> float:
    """``reporting_interval_s`` of one vessel (a plain float: ingest learns from every AIS position)."""
    kn = 0.0 if math.isnan(sog_mps) else sog_mps / KNOT_MPS
    return next(iv for lim, iv in _interval_table(msg_type) if kn <= lim)


def haversine_m(lat: FloatArray, lon: FloatArray, lat0: float, lon0: float) -> FloatArray:
    """(N,) great-circle distance (m) of positions (deg) (N,) from (lat0, lon0) on the mean Earth sphere
    (R = 6,371,008.8 m); < 0.5 % from the ellipsoid."""
    p1, p2 = np.radians(lat), np.radians(lat0)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon0 - lon) / 2) ** 2
    return 2.0 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def modelled_reception(lat: FloatArray, lon: FloatArray, class_b: BoolArray, circles: Iterable[Circle]) -> FloatArray:
    """(N,) probability that at least one terrestrial receiver hears a class A / B (``class_b`` (N,)) report sent from
    positions (deg) (N,), by the receivers' stated reception by range (``Circle``: 1 out to the class's range less
    ``fade_m``, falling linearly to 0 at that range); receivers independent. Without receivers: 1 (nothing stated)."""
    lat, lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    miss = np.ones(lat.shape)
    any_rx = False
    for c in circles:
        any_rx = True
        reach = np.where(class_b, c.radius_class_b_m or c.radius_m, c.radius_m)
        r = haversine_m(lat, lon, c.lat, c.lon)
        p = np.clip((reach - r) / c.fade_m, 0.0, 1.0) if c.fade_m > 0.0 else (r <= reach).astype(np.float64)
        miss *= 1.0 - p
    return 1.0 - miss if any_rx else np.ones(lat.shape)


def missed_reports_needed(p_rx: FloatArray, alpha: FloatArray | float) -> FloatArray:
    """(N,) smallest number k of consecutive expected reports whose loss has probability (1 - p_rx)^k < alpha,
    for reception probabilities ``p_rx`` (N,) and chances ``alpha`` (N,) or scalar, both in (0, 1)."""
    p = np.clip(np.asarray(p_rx, dtype=np.float64), 1e-6, 1.0 - 1e-9)
    a = np.clip(np.asarray(alpha, dtype=np.float64), 1e-300, 1.0)
    return np.maximum(np.floor(np.log(a) / np.log1p(-p)) + 1.0, 1.0)


def blended_reception(heard: FloatArray, slots: FloatArray, p_default: float, prior_gaps: float) -> FloatArray:
    """(N,) reception probability from ``heard`` reports of ``slots`` expected (N,), blended with a prior of
    ``prior_gaps`` reports heard at ``p_default`` (nothing heard: ``p_default``), within [1 / MAX_LEARN_INTERVALS, 1]."""
    p = (np.asarray(heard, np.float64) + prior_gaps) / np.maximum(np.asarray(slots, np.float64) + prior_gaps / p_default, 1e-9)
    return np.clip(p, 1.0 / MAX_LEARN_INTERVALS, 1.0)


def cell_keys(lat: FloatArray, lon: FloatArray, class_b: BoolArray) -> IntArray:
    """(N,) reception-map key of positions (deg) (N,) for class A or B (``class_b`` (N,)) transmitters."""
    i = np.clip(np.floor((np.asarray(lat, np.float64) + 90.0) / CELL_DEG), 0, _LAT_CELLS - 1).astype(np.int64)
    j = np.floor((np.asarray(lon, np.float64) + 180.0) / CELL_DEG).astype(np.int64) % _LON_CELLS
    return (np.asarray(class_b, np.int64) * _LAT_CELLS + i) * _LON_CELLS + j


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
    """Per MMSI (K,), sorted by MMSI: last position report's time (s), type, SOG (m/s, NaN unknown) and position (deg),
    the average gap in expected intervals (``gap_ratio``) and the number of gaps it learnt from (``learnt``); and the
    reception map (C,), sorted by ``cell_keys``: heard and expected report slots per cell and class; ``heard_until``."""

    mmsi: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    msg_type: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    sog_mps: FloatArray = field(default_factory=lambda: np.zeros(0))
    gap_ratio: FloatArray = field(default_factory=lambda: np.zeros(0))
    learnt: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    last_t: FloatArray = field(default_factory=lambda: np.zeros(0))
    lat: FloatArray = field(default_factory=lambda: np.zeros(0))
    lon: FloatArray = field(default_factory=lambda: np.zeros(0))
    cell: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    cell_heard: FloatArray = field(default_factory=lambda: np.zeros(0))
    cell_slots: FloatArray = field(default_factory=lambda: np.zeros(0))
    heard_until: float = math.nan  # the latest report time (s) of any vessel: the receivers heard someone until then

    def _rows(self, mmsi: IntArray) -> tuple[IntArray, BoolArray]:
        """(N,) row of each MMSI (clipped) and whether it is known."""
        mmsi = np.asarray(mmsi, dtype=np.int64)
        if not len(self.mmsi):
            return np.zeros(len(mmsi), np.int64), np.zeros(len(mmsi), bool)
        pos = np.minimum(np.searchsorted(self.mmsi, mmsi), len(self.mmsi) - 1)
        return pos, self.mmsi[pos] == mmsi

    def _cols(self, mmsi: IntArray, *spec: tuple[str, float]) -> list[FloatArray]:
        """(N,) columns (name, value for an unknown MMSI) of each MMSI, from one search of the table."""
        pos, known = self._rows(mmsi)
        return [np.where(known, col[pos] if len(col := getattr(self, name)) else unknown, unknown) for name, unknown in spec]

    def lookup(self, mmsi: IntArray) -> tuple[IntArray, FloatArray, FloatArray, IntArray]:
        """(N,) msg_type, sog_mps, gap_ratio, learnt of each MMSI; unknown MMSIs: type 1, NaN SOG, NaN ratio, 0."""
        msg_type, sog, ratio, learnt = self._cols(mmsi, ("msg_type", 1), ("sog_mps", np.nan), ("gap_ratio", np.nan),
                                                  ("learnt", 0))
        return msg_type.astype(np.int64), sog, ratio, learnt.astype(np.int64)

    def last_heard(self, mmsi: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(N,) time (s), lat and lon (deg) of each MMSI's last position report heard by any receiver (NaN: never)."""
        last_t, lat, lon = self._cols(mmsi, ("last_t", np.nan), ("lat", np.nan), ("lon", np.nan))
        return last_t, lat, lon

    def cell_reception(self, lat: FloatArray, lon: FloatArray, class_b: BoolArray, p_default: float,
                       prior_gaps: float) -> FloatArray:
        """(N,) reception probability of class A / B (``class_b`` (N,)) reports sent from positions (deg) (N,), from the
        reception map blended like a vessel's (``blended_reception``; a cell nobody is heard in: ``p_default``)."""
        key = cell_keys(lat, lon, class_b)
        heard, slots = np.zeros(len(key)), np.zeros(len(key))
        if len(self.cell):
            pos = np.minimum(np.searchsorted(self.cell, key), len(self.cell) - 1)
            known = self.cell[pos] == key
            heard, slots = np.where(known, self.cell_heard[pos], 0.0), np.where(known, self.cell_slots[pos], 0.0)
        return blended_reception(heard, slots, p_default, prior_gaps)

    def reception(self, mmsi: IntArray, p_default: float, prior_gaps: float, lat: FloatArray | None = None,
                  lon: FloatArray | None = None) -> FloatArray:
        """(N,) reception probability of each vessel's reports: its learnt mean gap blended with a prior of
        ``prior_gaps`` gaps at ``p_default`` (a vessel heard of only once or never gets ``p_default``); with its track's
        position ``lat``, ``lon`` (N,), at most the reception map's there for its class."""
        msg_type, _, ratio, learnt = self.lookup(mmsi)
        n = np.minimum(learnt, round(1.0 / SMOOTHING)).astype(np.float64)
        own = blended_reception(n, n * np.nan_to_num(ratio), p_default, prior_gaps)
        if lat is None or lon is None:
            return own
        return np.minimum(own, self.cell_reception(lat, lon, np.isin(msg_type, CLASS_B_TYPES), p_default, prior_gaps))


def silence(rep: ReportingArrays, t: float, last_ais_t: FloatArray, heard_t: FloatArray) -> tuple[FloatArray, float]:
    """When the AIS silence of tracks whose last AIS update was at ``last_ais_t`` (N,) began and ended (s): (N,) start,
    the later of that update and ``heard_t`` (N,; NaN: none), the MMSI's last report where a vessel there carries it
    (``fusion.rules.lineage.identity_heard_near``); the end (scalar), ``t`` or, when the receivers have heard nobody
    for longer than an outage's shortest silence (``OutageSettings.min_s``) since ``heard_until``, that time plus it: a
    receiver hearing no one (switched off, out of the feed, the end of a recording) is no evidence that a vessel
    stopped transmitting."""
    start = np.fmax(np.asarray(last_ais_t, np.float64), np.asarray(heard_t, np.float64))
    return start, min(t, rep.heard_until + OutageSettings.min_s) if math.isfinite(rep.heard_until) else t


def gap_limits(rep: ReportingArrays, mmsi: IntArray, lat: FloatArray, lon: FloatArray, track_speed_mps: FloatArray,
               p_default: float, prior_gaps: float, false_per_day: float, min_gap_s: float,
               circles: Iterable[Circle] = ()) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ais_gap's missed-report limit (s), reporting interval (s) and reception probability (N,) for tracks bearing
    ``mmsi`` (N,) at ``lat``, ``lon`` (deg) moving at ``track_speed_mps`` (N,): ``missed_report_limit_s`` on the longer
    interval of the last reported SOG and, for a track slower than STOPPED_TRACK_KN, a ship at anchor; the reception
    at the track's position: the lowest of the vessel's own, the reception map's and the receivers' stated reception by
    range there (``modelled_reception`` of ``circles``)."""
    msg_type, sog, _, _ = rep.lookup(mmsi)
    stopped = np.asarray(track_speed_mps) < STOPPED_TRACK_KN * KNOT_MPS
    p_rx = np.minimum(rep.reception(mmsi, p_default, prior_gaps, lat, lon),
                      modelled_reception(lat, lon, np.isin(msg_type, CLASS_B_TYPES), circles))
    limit, interval, _ = missed_report_limit_s(msg_type, np.where(stopped, 0.0, sog), p_rx, false_per_day, min_gap_s)
    return limit, interval, p_rx


class AisReporting:
    """Per-MMSI reporting table and reception map fed with every decoded AIS position (ingest side); ``arrays()`` for
    the rules."""

    def __init__(self, max_vessels: int = 100_000) -> None:
        self.max_vessels = max_vessels
        # mmsi -> [t, msg_type, sog_mps (NaN), gap_ratio (NaN), learnt, lat, lon]
        self._rows: dict[int, list[float]] = {}
        self._cells: dict[int, list[float]] = {}  # cell key -> [heard, slots]
        self._arrays: ReportingArrays | None = None

    def add(self, reports: Iterable[Any]) -> None:
        """Learn from AIS position reports (objects with ``t``, ``mmsi``, ``msg_type``, ``sog_mps``, ``lat``, ``lon``);
        reports older than the vessel's last one are ignored (late satellite deliveries)."""
        gaps: list[tuple[float, float, bool, float]] = []  # (lat, lon, class B, ratio) of each gap, for the map
        for r in reports:
            row = self._rows.get(r.mmsi)
            sog = math.nan if r.sog_mps is None else float(r.sog_mps)
            if row is None:
                if len(self._rows) >= self.max_vessels:  # forget the least recently heard (dict order = insertion)
                    self._rows.pop(next(iter(self._rows)))
                self._rows[r.mmsi] = [r.t, float(r.msg_type), sog, math.nan, 0.0, float(r.lat), float(r.lon)]
                self._arrays = None
                continue
            if r.t <= row[0]:
                continue
            expected = report_interval_s(int(row[1]), row[2])
            ratio = (r.t - row[0]) / expected
            if 0.5 <= ratio <= MAX_LEARN_INTERVALS:
                row[3] = ratio if row[4] == 0 else row[3] + SMOOTHING * (ratio - row[3])
                row[4] += 1
            if ratio >= 0.5:
                gaps.append((float(r.lat), float(r.lon), int(row[1]) in CLASS_B_TYPES, ratio))
            row[0], row[1], row[2], row[5], row[6] = r.t, float(r.msg_type), sog, float(r.lat), float(r.lon)
            self._rows[r.mmsi] = self._rows.pop(r.mmsi)  # most recently heard last
            self._arrays = None
        if gaps:
            self._learn_cells(gaps)

    def _learn_cells(self, gaps: list[tuple[float, float, bool, float]]) -> None:
        """Gaps (lat, lon, class B, ratio in expected intervals) ending in their cells: censored at MAX_LEARN_INTERVALS
        (module docstring)."""
        lat, lon, class_b, ratio = (np.array(c) for c in zip(*gaps, strict=True))
        for key, g in zip(cell_keys(lat, lon, class_b.astype(bool)).tolist(), ratio.tolist(), strict=True):
            cell = self._cells.setdefault(key, [0.0, 0.0])
            cell[0] += 1.0 if g <= MAX_LEARN_INTERVALS else 0.0
            cell[1] += min(g, MAX_LEARN_INTERVALS)
            if cell[1] > CELL_MAX_SLOTS:
                cell[0], cell[1] = cell[0] * CELL_MAX_SLOTS / cell[1], CELL_MAX_SLOTS

    def arrays(self) -> ReportingArrays:
        """The table as arrays sorted by MMSI, the map by cell key (cached until the next report)."""
        if self._arrays is None:
            if not self._rows:
                self._arrays = ReportingArrays()
            else:
                mmsi = np.fromiter(self._rows, dtype=np.int64, count=len(self._rows))
                vals = np.array(list(self._rows.values()), dtype=np.float64)
                o = np.argsort(mmsi, kind="stable")
                cell = np.fromiter(self._cells, dtype=np.int64, count=len(self._cells))
                counts = np.array(list(self._cells.values()), dtype=np.float64).reshape(-1, 2)
                c = np.argsort(cell, kind="stable")
                self._arrays = ReportingArrays(mmsi[o], vals[o, 1].astype(np.int64), vals[o, 2], vals[o, 3],
                                               vals[o, 4].astype(np.int64), vals[o, 0], vals[o, 5], vals[o, 6],
                                               cell[c], counts[c, 0], counts[c, 1], float(vals[:, 0].max()))
        return self._arrays

    def state(self) -> dict[str, list[list[float | None]]]:
        """JSON-able state (checkpoints): ``vessels`` rows [mmsi, t, msg_type, sog_mps, gap_ratio, learnt, lat, lon]
        (NaN as None) and ``cells`` rows [key, heard, slots]."""
        return {"vessels": [[float(m), *(None if math.isnan(v) else v for v in row)] for m, row in self._rows.items()],
                "cells": [[float(k), *v] for k, v in self._cells.items()]}

    def restore(self, state: dict[str, list[list[Any]]] | list[list[Any]]) -> None:
        """Put back what ``state`` returned (older checkpoints: a list of vessel rows without position, no map)."""
        vessels, cells = (state, []) if isinstance(state, list) else (state.get("vessels", []), state.get("cells", []))
        pad = [math.nan, math.nan]
        self._rows = {int(r[0]): ([math.nan if v is None else float(v) for v in r[1:]] + pad)[:7] for r in vessels}
        self._cells = {int(r[0]): [float(r[1]), float(r[2])] for r in cells}
        self._arrays = None
