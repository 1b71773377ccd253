"""Alert lifecycle: raised -> updated -> cleared, per rule subject, as arrays. Pure.

A rule reports, per tick, its *subjects* (a track; a track in a zone; a pair of tracks)
as ``Candidates``: whether the raise condition holds (``enter``) and whether the weaker
hold condition holds (``stay``). The ``AlertBook`` of the rule keeps one row per subject
that is pending or open, keyed by ``key = track_id << 31 | aux``, and applies:

- raise when ``enter`` started a pending period and ``stay`` held for ``min_on_s`` of
  evidence time: from the newest measurement of the track when ``enter`` was first seen to
  its newest measurement now (so that prediction alone never completes a hold, and the
  alert goes out at the first tick after the measurement that completes it);
- clear when ``stay`` has been false for ``min_off_s`` (or at once if a track is gone);
- update when open, with a material change (evidence strength moved by ``strength_change``,
  severity, zone or related track changed), at most every ``update_min_interval_s``.

Rows of subjects that are neither pending nor open are dropped, so the book is bounded by
the live subjects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from fusion.core.arrays import BoolArray, FloatArray, IntArray
from fusion.rules.calibration import event_score

SEVERITIES: tuple[str, ...] = ("low", "medium", "high")
AUX_BITS = 31
MAX_TRACK_ID = (1 << 32) - 1


class OpRecord(msgspec.Struct, frozen=True):
    """An operator action as recorded on an alert (``fusion.actions``)."""

    action: str  # "acknowledge" | "dismiss"
    by: str
    why: str
    t: float  # when the operator acted, Unix s


class AlertEvent(msgspec.Struct, frozen=True, omit_defaults=True):
    """One alert event: the alerts.jsonl fields of DESIGN.md in order, then priority and evidence, then
    the identity of the track where known (``fusion.identity``, stamped by the pipeline) and the operator
    actions recorded on the alert; fields at their default (unknown, no action) are left out of the JSON.

    Then the calibrated score (``fusion.rules.calibration``): a raised or updated event built without one
    scores itself here, the one place every alert passes through: ``score`` is the probability that its
    object is a true suspect for its rule, ``low_score`` true when that is below the operating point
    (the alert is published all the same, marked). Cleared events carry neither."""

    t: float
    alert_id: str
    rule: str
    severity: str
    state: str  # "raised" | "updated" | "cleared"
    track_id: int
    lat: float
    lon: float
    zone: str | None
    mmsi: int | None
    icao24: str | None
    reason: str
    related_track_ids: list[int]
    priority: float
    evidence: dict[str, Any]
    name: str | None = None
    callsign: str | None = None
    ship_type: int | None = None
    ship_type_text: str | None = None
    flag: str | None = None
    country: str | None = None
    ops: list[OpRecord] = []
    score: float | None = None
    low_score: bool = False

    def __post_init__(self) -> None:
        if self.score is None and self.state != "cleared":
            score, low = event_score(self.rule, self.priority, self.evidence, self.mmsi is not None or self.icao24 is not None)
            msgspec.structs.force_setattr(self, "score", score)
            msgspec.structs.force_setattr(self, "low_score", low)


@dataclass(frozen=True)
class Candidates:
    """K subjects of one rule at one tick (any order, unique subjects).

    row:      (K,) int64 index of the owning track in the tick's track table
    aux:      (K,) int64 subject discriminator in [0, 2**31): zone index + 1, related track id, or 0
    enter:    (K,) bool raise condition
    stay:     (K,) bool hold condition (enter implies stay)
    strength: (K,) evidence strength in [0, 1]
    min_on_s: (K,) seconds the condition must hold before raising
    zone:     (K,) int64 zone index, -1 for none
    related:  (K,) int64 related track id, -1 for none
    severity: (K,) int64 index into SEVERITIES
    weight:   (K,) rule weight for the priority
    evidence: name -> (K,) float array of rule-specific evidence
    """

    row: IntArray
    aux: IntArray
    enter: BoolArray
    stay: BoolArray
    strength: FloatArray
    min_on_s: FloatArray
    zone: IntArray
    related: IntArray
    severity: IntArray
    weight: FloatArray
    evidence: dict[str, FloatArray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.row.shape[0])

    @classmethod
    def build(cls, row: IntArray, enter: BoolArray, stay: BoolArray, strength: FloatArray, *, min_on_s: float | FloatArray,
              severity: str | IntArray, weight: float | FloatArray, aux: IntArray | None = None,
              zone: IntArray | None = None, related: IntArray | None = None,
              evidence: dict[str, FloatArray] | None = None) -> Candidates:
        """Broadcast scalars to (K,) and fill the optional columns."""
        k = row.shape[0]
        sev = np.full(k, SEVERITIES.index(severity), np.int64) if isinstance(severity, str) else severity

        def col(v: Any, dtype: type) -> np.ndarray:
            out: np.ndarray = np.empty(k, dtype=dtype)
            out[...] = v  # a scalar or (K,)
            return out

        return cls(row=row.astype(np.int64), aux=col(0 if aux is None else aux, np.int64), enter=enter,
                   stay=stay | enter, strength=np.clip(strength, 0.0, 1.0), min_on_s=col(min_on_s, np.float64),
                   zone=col(-1 if zone is None else zone, np.int64), related=col(-1 if related is None else related, np.int64),
                   severity=col(sev, np.int64), weight=col(weight, np.float64), evidence=evidence or {})

    def take(self, idx: IntArray | BoolArray) -> Candidates:
        """Subset of subjects."""
        return Candidates(self.row[idx], self.aux[idx], self.enter[idx], self.stay[idx], self.strength[idx],
                          self.min_on_s[idx], self.zone[idx], self.related[idx], self.severity[idx], self.weight[idx],
                          {k: v[idx] for k, v in self.evidence.items()})


def subject_keys(track_id: IntArray, aux: IntArray) -> IntArray:
    """(K,) int64 key = track_id << 31 | aux."""
    return (track_id.astype(np.int64) << AUX_BITS) | aux.astype(np.int64)


# Book columns and their fill values for a new row.
_COLUMNS: dict[str, tuple[type, float]] = {
    "key": (np.int64, 0), "track_id": (np.int64, 0), "aux": (np.int64, 0), "zone": (np.int64, -1),
    "related": (np.int64, -1), "pending_since": (np.float64, np.nan), "off_since": (np.float64, np.nan),
    "active": (np.bool_, False), "seq": (np.int64, -1), "owner": (np.int64, -1), "raised_t": (np.float64, np.nan),
    "last_emit_t": (np.float64, np.nan), "strength": (np.float64, 0.0), "severity": (np.int64, 0),
    "min_on_s": (np.float64, 0.0), "priority": (np.float64, 0.0), "lat": (np.float64, np.nan),
    "lon": (np.float64, np.nan), "mmsi": (np.int64, 0), "icao24": (np.int64, -1),
}


def empty_columns(n: int = 0) -> dict[str, np.ndarray]:
    """Book columns with n rows of fill values."""
    return {k: np.full(n, fill, dtype=dt) for k, (dt, fill) in _COLUMNS.items()}


@dataclass
class Transition:
    """Rows of a book that changed state this tick (indices into the book before dropping)."""

    raised: IntArray
    updated: IntArray
    cleared: IntArray
    cleared_because: list[str]
    cand_of_row: IntArray  # (rows,) candidate index of each book row, -1 if absent


@dataclass
class LifecycleSettings:
    """Engine-wide lifecycle settings."""

    update_min_interval_s: float
    strength_change: float


class AlertBook:
    """Open and pending subjects of one rule, as columns sorted by key."""

    def __init__(self, rule: str, min_off_s: float, settings: LifecycleSettings,
                 cols: dict[str, np.ndarray] | None = None) -> None:
        self.rule = rule
        self.min_off_s = min_off_s
        self.settings = settings
        self.cols = cols if cols is not None else empty_columns()

    def __len__(self) -> int:
        return int(self.cols["key"].shape[0])

    def step(self, t: float, cand: Candidates, cand_track_id: IntArray, cand_evidence_t: FloatArray, alive_ids: IntArray,
             next_seq: Callable[[int], IntArray]) -> tuple[Transition, BoolArray]:
        """Advance the book to time t with this tick's candidates.

        cand_track_id: (K,) owning track ids; cand_evidence_t: (K,) time (s) of the newest
        measurement of each owning track, at most t; alive_ids: sorted (N,) ids of every live track.
        next_seq(n) hands out n fresh alert sequence numbers. Returns the transitions and
        the (rows,) mask of rows to keep (pending or open); the caller emits, then ``compact``s.
        """
        ckey = subject_keys(cand_track_id, cand.aux)
        c = self.cols
        order = np.argsort(ckey, kind="stable")
        sorted_keys = ckey[order]
        pos = np.minimum(np.searchsorted(sorted_keys, c["key"]), max(len(order) - 1, 0))
        found = (sorted_keys[pos] == c["key"]) if len(order) else np.zeros(len(self), dtype=bool)
        cand_of_row = np.where(found, order[pos] if len(order) else 0, -1)
        new = cand.enter & ~isin_sorted(ckey, c["key"])
        n_new = int(new.sum())
        if n_new:
            add = empty_columns(n_new)
            add["key"], add["track_id"], add["aux"] = ckey[new], cand_track_id[new], cand.aux[new]
            add["pending_since"] = cand_evidence_t[new]
            c = {k: np.concatenate([c[k], add[k]]) for k in c}
            cand_of_row = np.concatenate([cand_of_row, np.flatnonzero(new)])
        self.cols = c
        has = cand_of_row >= 0
        ci = np.where(has, cand_of_row, 0)
        stay = has & (cand.stay[ci] if len(cand) else has)
        # Refresh descriptive columns from the candidates.
        for name, src in (("zone", cand.zone), ("related", cand.related), ("min_on_s", cand.min_on_s)):
            if len(cand):
                c[name] = np.where(has, src[ci], c[name])
        alive = isin_sorted(c["track_id"], alive_ids) & ((c["related"] < 0) | isin_sorted(c["related"], alive_ids))
        active = c["active"]
        # Pending rows: keep while stay holds, raise after min_on_s of evidence time.
        evidence_t = np.where(has, cand_evidence_t[ci] if len(cand) else t, t)
        raise_now = ~active & alive & stay & (evidence_t - c["pending_since"] >= c["min_on_s"])
        drop_pending = ~active & (~stay | ~alive)
        # Open rows: off timer and clear.
        c["off_since"] = np.where(active & ~stay, np.fmin(c["off_since"], t), np.nan)
        clear_dead = active & ~alive
        clear_off = active & alive & ~stay & (t - c["off_since"] >= self.min_off_s)
        strength_new = cand.strength[ci] if len(cand) else c["strength"]
        sev_new = cand.severity[ci] if len(cand) else c["severity"]
        material = has & ((np.abs(strength_new - c["strength"]) >= self.settings.strength_change) | (sev_new != c["severity"]))
        update_now = active & alive & stay & material & ~(t - c["last_emit_t"] < self.settings.update_min_interval_s)
        emit = raise_now | update_now
        if len(cand):
            c["strength"] = np.where(emit, strength_new, c["strength"])
            c["severity"] = np.where(emit, sev_new, c["severity"])
        raised = np.flatnonzero(raise_now)
        c["seq"][raised] = next_seq(len(raised))
        c["owner"][raised] = c["track_id"][raised]
        c["raised_t"][raised] = t
        c["active"] = active | raise_now
        c["last_emit_t"] = np.where(emit, t, c["last_emit_t"])
        cleared = np.flatnonzero(clear_dead | clear_off)
        because = ["track deleted" if clear_dead[i] else "condition ended" for i in cleared]
        return Transition(raised, np.flatnonzero(update_now), cleared, because, cand_of_row), ~(drop_pending | clear_dead | clear_off)

    def compact(self, keep: BoolArray) -> None:
        """Drop rows not kept and re-sort by key (the usual tick, every row kept and none added, copies nothing)."""
        c = self.cols if keep.all() else {k: v[keep] for k, v in self.cols.items()}
        key = c["key"]
        if not (key[1:] >= key[:-1]).all():  # rows added at the end, or keys remapped (a stable sort: equal keys keep their order)
            order = np.argsort(key, kind="stable")
            c = {k: v[order] for k, v in c.items()}
        self.cols = c

    def remap(self, absorbed: IntArray, surviving: IntArray) -> tuple[IntArray, list[str], BoolArray]:
        """Alerts follow merged tracks: absorbed ids become surviving ids in track_id and related.

        Returns the open rows to clear (a pair collapsed onto one track, or a duplicate of an
        alert the surviving track already has) with reasons, and the rows to keep; the
        caller emits, then ``compact``s.
        """
        c = self.cols
        for name in ("track_id", "related"):
            c[name] = map_ids(c[name], absorbed, surviving)
        is_pair = c["related"] >= 0
        c["aux"] = np.where(is_pair, c["related"], c["aux"])
        c["key"] = subject_keys(c["track_id"], c["aux"])
        collapsed = is_pair & (c["related"] == c["track_id"])
        # Among duplicate keys keep the earliest-raised open row (then the first pending).
        rank = np.where(c["active"], c["raised_t"], np.inf)
        order = np.lexsort((rank, c["key"]))
        dup = np.zeros(len(self), dtype=bool)
        ks = c["key"][order]
        dup[order[1:]] = ks[1:] == ks[:-1]
        clear = np.flatnonzero((collapsed | dup) & c["active"])
        reasons = ["pair merged into one track" if collapsed[i] else "merged into a track already alerted" for i in clear]
        return clear, reasons, ~(collapsed | dup)


def isin_sorted(values: IntArray, sorted_ids: IntArray) -> BoolArray:
    """(K,) True where values occur in the ascending ``sorted_ids``."""
    if len(sorted_ids) == 0:
        return np.zeros(values.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, values), len(sorted_ids) - 1)
    return sorted_ids[pos] == values


def map_ids(ids: IntArray, absorbed: IntArray, surviving: IntArray) -> IntArray:
    """Replace every id found in ``absorbed`` by its ``surviving`` id, following chains."""
    out = ids.copy()
    for _ in range(len(absorbed) + 1):
        hit = np.isin(out, absorbed)
        if not hit.any():
            break
        order = np.argsort(absorbed)
        out[hit] = surviving[order][np.searchsorted(absorbed[order], out[hit])]
    return out
