"""The tracker: one pool of tracks (surface or air), stepped by measurement batches.

Each step reads like the algorithm (see docs/TRACKER.md):

1. identity first: cooperative rows whose MMSI / ICAO address names a track update it
   directly, unless the report is kinematically impossible (spoof flag);
2. gate: grid (or k-d tree) candidates, exact chi-square test on the pair-wise prediction;
3. associate: GNN with a miss column (one sparse assignment), confirmed and coasting
   tracks first, tentative tracks on the plots left over;
4. update: batched IMM (Joseph form) at each measurement's own time, plus altitude;
5. manage: M-of-N confirmation, misses, identity adoption, duplicate merges, births,
   deletion on misses, age or covariance growth.

All track state lives in a dict of arrays with a leading track axis (views of the first
``_rows`` rows of a table with spare capacity); nothing per track is a Python object.
A step costs O(tracks the batch can reach), plus a few flops per pool track: gating
predicts only the tracks that a cheap bound from cached columns (combined state, trace
cubic) puts near the batch's plots; missed looks read the cached state; expiry tests
only rows whose counters changed or whose cached due time has come; deleted rows are
marked and compacted away in bulk. Out-of-sequence batches within ``oosm_lag_s`` are handled by a fixed-lag re-run
from the newest state checkpoint before them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from fusion.core import kalman
from fusion.core.arrays import (
    COASTING,
    CONFIRMED,
    NO_ICAO,
    NO_MMSI,
    SENSOR_BIT,
    TENTATIVE,
    BoolArray,
    Domain,
    FloatArray,
    IntArray,
    MeasBatch,
    TrackView,
)
from fusion.core.assign import assign
from fusion.core.config import PoolConfig, TrackerConfig
from fusion.core.gate import candidate_pairs, chi2_gate, gate_radius
from fusion.core.jpda import clutter_density, marginals, mixture_update, model_log_likelihood, sprt_thresholds
from fusion.core.reach import ReachIndex

__all__ = ["PoolConfig", "StepResult", "Tracker", "TrackerConfig"]

_H_POS = np.hstack([np.eye(2), np.zeros((2, 2))])
_H_FULL = np.eye(4)
_EYE2 = np.eye(2)
_H_ALT = np.array([[1.0, 0.0]])
_EMPTY_INT = np.zeros(0, dtype=np.int64)
_NONE_KEY = {"mmsi": NO_MMSI, "icao24": NO_ICAO}
_DEAD = np.int8(-1)  # status of a deleted row waiting for compaction (never leaves the tracker)
# Columns derived from the state (recomputed on restore, not in snapshots): the combined
# state at the row's own time, the coefficients of the trace of its combined position
# covariance as a cubic in the prediction interval, and the earliest time a time-based
# management rule (coast, age, covariance growth) can fire for the row.
_DERIVED = ("cx", "trc", "tr0", "due", "blk")  # blk: block of the reach index (-1: none yet)
_KEY_OF_KIND = {"ais": "mmsi", "adsb": "icao24"}


@dataclass(frozen=True)
class StepResult:
    """What one step or advance changed.

    deleted_ids: (D,) tracks deleted (including tracks absorbed by a merge)
    merged:      (K, 2) [absorbed id, surviving id]
    late_dropped: measurements older than the out-of-sequence lag, dropped
    spoof_ids:   (S,) tracks for which a cooperative report was kinematically impossible
    born_ids:    (B,) tracks started
    assigned:    measurements that updated a track
    rerun_batches: logged batches processed again because this one came out of sequence
    nonfinite_dropped: tracks deleted because their state went non-finite (their ids are in
                 deleted_ids; not expected: the filters are numerically safe, this is the guard)
    duplicates_merged: cooperative rows dropped as exact duplicates of another row of the batch
                 (one AIS / ADS-B report forwarded by several receivers: no new information;
                 a re-run counts its batches' duplicates again)
    """

    deleted_ids: IntArray = field(default_factory=lambda: _EMPTY_INT)
    merged: IntArray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    late_dropped: int = 0
    spoof_ids: IntArray = field(default_factory=lambda: _EMPTY_INT)
    born_ids: IntArray = field(default_factory=lambda: _EMPTY_INT)
    assigned: int = 0
    rerun_batches: int = 0
    nonfinite_dropped: int = 0
    duplicates_merged: int = 0


def _empty_tracks(r: int) -> dict[str, np.ndarray]:
    """Track table with no rows: the names and shapes of all per-track state."""
    f, i = np.float64, np.int64
    return {
        "id": np.zeros(0, i),
        "status": np.zeros(0, np.int8),
        "t": np.zeros(0, f),  # time of the state below
        "xm": np.zeros((0, r, 4), f),  # per-model state
        "Pm": np.zeros((0, r, 4, 4), f),
        "mu": np.zeros((0, r), f),  # model probabilities
        "alt": np.zeros((0, 2), f),  # altitude, vertical rate; NaN = unknown
        "Palt": np.zeros((0, 2, 2), f),
        "hist": np.zeros(0, i),  # hit bits of the looks, newest in bit 0
        "looks": np.zeros(0, i),
        "miss_run": np.zeros(0, i),
        "first_t": np.zeros(0, f),
        "last_t": np.zeros(0, f),
        "last_ais_t": np.zeros(0, f),
        "last_noncoop_t": np.zeros(0, f),
        "sources": np.zeros(0, i),
        "mmsi": np.zeros(0, i),
        "icao24": np.zeros(0, i),
        "spoof": np.zeros(0, bool),
        "llr": np.zeros(0, f),  # track score: log likelihood ratio against clutter (confirmation = "score")
        "cx": np.zeros((0, 4), f),  # derived: combined state at t
        "trc": np.zeros((0, 4), f),  # derived: trace of combined P_pos(dt) = c0 + c1 dt + c2 dt^2 + c3 dt^3
        "tr0": np.zeros((0, 3), f),  # derived: model 0's P00 + P11, P02 + P13, P22 + P33 (covariance growth rule)
        "due": np.zeros(0, f),  # derived: earliest time a time rule can fire (inf: never, dead rows)
        "blk": np.zeros(0, i),  # derived: block of the reach index, -1 before the next rebuild
    }


@dataclass
class _Pairs:
    """Track/measurement pairs with each track predicted to its measurement's time."""

    track: IntArray  # (K,) row in the track table
    meas: IntArray  # (K,) row in the batch
    xm: FloatArray  # (K, r, 4) per-model prediction
    Pm: FloatArray  # (K, r, 4, 4)
    cbar: FloatArray  # (K, r) predicted model probabilities


_PAIR_FIELDS = ("track", "meas", "xm", "Pm", "cbar")


@dataclass
class _Pda:
    """JPDA result: the updated confirmed / coasting tracks, and the plots claimed."""

    track: IntArray  # (U,) rows of the confirmed / coasting tracks with a gated plot
    meas: IntArray  # (U,) their most probable plot (its time is the update's)
    xm: FloatArray  # (U, r, 4) mixture-updated state per model
    Pm: FloatArray  # (U, r, 4, 4)
    mu: FloatArray  # (U, r)
    hit: BoolArray  # (U,) more likely detected than not (beta0 < 0.5)
    claimed: BoolArray  # (M,) plots more likely a track's than not


class Tracker:
    """One track pool; the only mutable state of the numeric core."""

    def __init__(self, config: TrackerConfig, domain: Domain) -> None:
        self.config = config
        self.domain: Domain = domain
        self.pool: PoolConfig = config.pool(domain)
        self._q = np.asarray(self.pool.q_mps2, dtype=np.float64)
        self._sojourn = np.asarray(self.pool.sojourn_s, dtype=np.float64)
        self._gate = {m: chi2_gate(config.gate_prob, m) for m in (2, 4)}
        self._confirm_gate = {m: chi2_gate(config.confirm_gate_prob, m) for m in (2, 4)}
        self._merge_gate = chi2_gate(config.merge_prob, 4)
        pd = config.detection_prob
        self._log_pd, self._log_miss_look = float(np.log(pd)), float(np.log1p(-pd))
        self._log_miss = float(np.log1p(-pd * config.gate_prob))  # JPDA: not detected, or outside the gate
        self._score_confirm, self._score_delete = sprt_thresholds(config.score_false_confirm, config.score_true_delete)
        self._store = _empty_tracks(self._q.size)  # the rows below plus spare capacity
        self._tracks = self._store  # views of the first _rows rows of _store (live and dead rows)
        self._n_dead = 0  # rows deleted but not yet compacted away (status _DEAD)
        self._reach = ReachIndex()  # which rows a batch can reach
        self._next_id = 1
        self._id_floor = 1  # ids below this are never handed out again (``reserve_ids``)
        self._now = -np.inf  # newest batch time processed
        self._id_log = np.zeros((config.identity_history, 4))  # t, track id, mmsi, icao24
        self._id_log_n = 0
        self._checkpoints: list[tuple[float, dict[str, np.ndarray], int, dict[str, tuple[float, float]]]] = []
        # (t, snapshot, log index, birth budgets)
        self._births: dict[str, tuple[float, float]] = {}  # radar/OTH site -> (birth tokens, batch time): max_births_per_source_s
        self._log: list[MeasBatch] = []  # batches since the oldest checkpoint, in time order
        self._log_t: list[float] = []
        self._nonfinite: list[IntArray] = []  # rows of this round whose state went non-finite

    # ------------------------------------------------------------------ public API

    def __len__(self) -> int:
        """Live tracks."""
        return self._rows - self._n_dead

    @property
    def _rows(self) -> int:
        """Rows of the track table, including deleted rows not yet compacted."""
        return int(self._tracks["id"].shape[0])

    def _live(self) -> dict[str, np.ndarray]:
        """The live rows of the track table (the table itself when no row is dead; else copies
        of the state columns, without the derived ones)."""
        a = self._tracks
        if self._n_dead == 0:
            return a
        keep = a["status"] != _DEAD
        return {k: v[keep] for k, v in a.items() if k not in _DERIVED}

    def step(self, batch: MeasBatch) -> StepResult:
        """Process one measurement batch at its own time(s); out-of-sequence handled."""
        if batch.domain != self.domain:
            raise ValueError(f"batch.domain must be {self.domain!r} for this tracker, got {batch.domain!r}")
        if len(batch) == 0:
            return StepResult()
        if not np.isfinite(batch.t).all() or not np.isfinite(batch.z[:, :2]).all():
            raise ValueError("batch.t and batch.z positions must be finite")
        horizon = self._now - self.config.oosm_lag_s
        late = batch.t < horizon
        if late.any():
            if late.all():
                return StepResult(late_dropped=len(batch))
            batch = _take(batch, ~late)
        if float(batch.t.min()) < self._now:
            res = self._rerun(batch)
        else:
            self._maybe_checkpoint(float(batch.t.min()))
            self._log_append(batch)
            res = self._process(batch)
        return replace(res, late_dropped=res.late_dropped + int(late.sum()))

    def advance(self, t: float) -> StepResult:
        """Coast and delete up to time ``t`` without data."""
        return StepResult(deleted_ids=self._expire(float(t)))

    def view(self, t: float) -> TrackView:
        """All live tracks predicted to ``t`` (not committed); their covariance is predicted
        on demand, from copies of the model states (later steps do not change it)."""
        a = self._tracks
        keep = a["status"] != _DEAD if self._n_dead else None

        def col(k: str) -> np.ndarray:
            """A copy of one column's live rows."""
            return a[k][keep] if keep is not None else a[k].copy()

        dt = np.maximum(t - col("t"), 0.0)
        xm, Pm, mu, q = col("xm"), col("Pm"), col("mu"), self._q
        alt, _ = self._predict_alt(col("alt"), col("Palt"), dt)

        def covariance(rows: IntArray | None) -> FloatArray:
            r = slice(None) if rows is None else rows
            xr, Pr = kalman.cv_predict(xm[r], Pm[r], dt[r], q, 2)
            return kalman.imm_combine(xr, Pr, mu[r])[1]

        return TrackView(
            t=float(t), domain=self.domain, track_id=col("id"), status=col("status"), x=kalman.imm_mean(kalman.cv_predict_state(xm, dt, 2), mu),
            covariance=covariance, alt_m=alt[:, 0], vrate_mps=alt[:, 1], mmsi=col("mmsi"), icao24=col("icao24"),
            first_t=col("first_t"), last_t=col("last_t"), last_ais_t=col("last_ais_t"), last_noncoop_t=col("last_noncoop_t"),
            sources=col("sources"), spoof_suspect=col("spoof"),
        )

    def identity_history(self) -> FloatArray:
        """(H, 4) [t, track_id, mmsi, icao24] identity changes, oldest first (bounded ring)."""
        n, cap = self._id_log_n, self._id_log.shape[0]
        if n <= cap:
            return self._id_log[:n].copy()
        return np.roll(self._id_log, -(n % cap), axis=0)

    @property
    def next_id(self) -> int:
        """The track id (pool-local) the next new track will get."""
        return self._next_id

    def reserve_ids(self, below: int) -> None:
        """Never hand out an id below ``below`` (pool-local): ids a previous run may have used (a crash after
        its last checkpoint, another instance's retained tracks) are not reused."""
        self._id_floor = max(self._id_floor, int(below))
        self._next_id = max(self._next_id, self._id_floor)

    def snapshot(self) -> dict[str, np.ndarray]:
        """All track state as arrays (copies). The re-run window is not included: after a
        restore, measurements older than the snapshot's newest time are dropped as late."""
        live = self._live()  # copies already when rows are dead
        snap = {f"track.{k}": (v if self._n_dead else v.copy()) for k, v in live.items() if k not in _DERIVED}
        snap["next_id"] = np.array(self._next_id, dtype=np.int64)
        snap["now"] = np.array(self._now)
        snap["id_log"] = self._id_log.copy()
        snap["id_log_n"] = np.array(self._id_log_n, dtype=np.int64)
        return snap

    @classmethod
    def restore(cls, config: TrackerConfig, domain: Domain, snap: dict[str, np.ndarray]) -> Tracker:
        """A tracker holding the state of ``snap`` (from ``snapshot``)."""
        trk = cls(config, domain)
        trk._load(snap)
        trk._now = float(snap["now"])
        return trk

    # ------------------------------------------------------------------ out of sequence

    def _load(self, snap: dict[str, np.ndarray]) -> None:
        expected = {k: v for k, v in _empty_tracks(self._q.size).items() if k not in _DERIVED}
        if "track.llr" not in snap and "track.id" in snap:  # a snapshot from before the track score
            snap = {**snap, "track.llr": np.zeros(snap["track.id"].shape[0])}
        for k, v in expected.items():
            arr = snap.get(f"track.{k}")
            if arr is None or arr.shape[1:] != v.shape[1:]:
                got = None if arr is None else arr.shape
                raise ValueError(f"snapshot track.{k} must have shape (N, {v.shape[1:]}), got {got}")
        self._store = {k: snap[f"track.{k}"].copy() for k in expected}
        a = self._store
        cx, a["trc"], a["tr0"] = self._kinematics(a["xm"], a["Pm"], a["mu"])
        a["cx"] = np.array(cx)  # its own column (with one model, cx is a view of xm)
        a["due"] = self._due(a["status"], a["last_t"], a["t"], a["tr0"])
        a["blk"] = np.full(a["id"].shape[0], -1, dtype=np.int64)
        self._tracks = self._store
        self._n_dead = 0
        self._reach.invalidate()
        self._next_id = max(int(snap["next_id"]), self._id_floor)
        self._id_log = snap["id_log"].copy()
        self._id_log_n = int(snap["id_log_n"])

    def _maybe_checkpoint(self, t: float) -> None:
        """Before processing a batch at ``t``: a checkpoint when the newest is
        ``recent_checkpoint_interval_s`` old; then keep the recent ones, older ones
        ``checkpoint_interval_s`` apart, and the newest at or before the lag horizon."""
        c = self.config
        if c.oosm_lag_s <= 0:
            return
        interval = min(c.recent_checkpoint_interval_s, c.checkpoint_interval_s)
        if self._checkpoints and t < self._checkpoints[-1][0] + interval:
            return
        self._checkpoints.append((self._now, self.snapshot(), len(self._log), dict(self._births)))
        horizon = t - c.oosm_lag_s
        keep_from = max(0, bisect.bisect_right([cp[0] for cp in self._checkpoints], horizon) - 1)
        kept = self._checkpoints[keep_from:keep_from + 1]
        for cp in self._checkpoints[keep_from + 1:]:  # each keeps its own log index: any may go
            if cp[0] >= t - c.recent_checkpoint_window_s or cp[0] >= kept[-1][0] + c.checkpoint_interval_s:
                kept.append(cp)
        drop = kept[0][2]
        self._checkpoints = [(ct, s, i - drop, b) for ct, s, i, b in kept]
        if drop:
            del self._log[:drop], self._log_t[:drop]

    def _log_append(self, batch: MeasBatch) -> None:
        if self.config.oosm_lag_s > 0:
            self._log.append(batch)
            self._log_t.append(float(batch.t.min()))

    def _rerun(self, batch: MeasBatch) -> StepResult:
        """Fixed-lag re-run: restore the newest checkpoint before ``batch`` and replay."""
        t0 = float(batch.t.min())
        k = bisect.bisect_right([c[0] for c in self._checkpoints], t0) - 1
        if k < 0:
            return StepResult(late_dropped=len(batch))
        alive_before = self._live()["id"].copy()
        cp_t, snap, start, births = self._checkpoints[k]
        self._checkpoints = self._checkpoints[: k + 1]
        # Each row goes after the logged batches no newer than it: a late payload spanning
        # minutes (satellite AIS) is split, so that no row is processed before a logged
        # batch older than it (which would then meet tracks already moved past its time).
        slot = np.searchsorted(np.asarray(self._log_t), batch.t, side="right")
        for pos in np.unique(slot)[::-1].tolist():  # from the back: earlier positions stay valid
            rows = np.flatnonzero(slot == pos)
            part = batch if rows.size == len(batch) else _take(batch, rows)
            self._log.insert(pos, part)
            self._log_t.insert(pos, float(part.t.min()))
        self._load(snap)
        self._births = dict(births)
        self._now = cp_t
        out = _Collector()
        replay = self._log[start:]
        for b in replay:
            out.add(self._process(b))
        alive_after = self._live()["id"]
        vanished = np.setdiff1d(alive_before, alive_after)
        res = out.result()
        return StepResult(vanished, res.merged, 0, res.spoof_ids, np.setdiff1d(res.born_ids, alive_before),
                          res.assigned, len(replay), res.nonfinite_dropped, res.duplicates_merged)

    # ------------------------------------------------------------------ one batch

    def _process(self, batch: MeasBatch) -> StepResult:
        """Split a batch into rounds with unique identity keys and process each.

        When identity keys repeat, exact duplicate rows (the same report from several
        receivers: same key, time, measurement and noise) are merged first, keeping one: a
        second update with the same measurement would count it twice and halve the
        covariance for no new information. Other repeats (successive reports of one target)
        are processed in time order, one round each."""
        key = _KEY_OF_KIND.get(batch.sensor_kind)
        out = _Collector()
        if key is None:
            out.add(self._process_round(batch))
        else:
            rounds = _identity_rounds(getattr(batch, key), batch.t, _NONE_KEY[key])
            merged = 0
            if rounds[0] is not None:  # keys repeat
                unique = _unique_rows(batch)
                if unique.size < len(batch):
                    merged, batch = len(batch) - unique.size, _take(batch, unique)
                    rounds = _identity_rounds(getattr(batch, key), batch.t, _NONE_KEY[key])
            out.add(StepResult(duplicates_merged=merged))
            for rows in rounds:
                out.add(self._process_round(batch if rows is None else _take(batch, rows)))
        return out.result()

    def _process_round(self, batch: MeasBatch) -> StepResult:
        a = self._tracks
        self._nonfinite = []
        tb = float(batch.t.max())
        keyname = _KEY_OF_KIND.get(batch.sensor_kind)
        meas_key = getattr(batch, keyname) if keyname else None
        none_key = _NONE_KEY[keyname] if keyname else 0

        # 1. identity first
        id_track, id_meas = self._identity_pairs(meas_key, none_key, keyname)
        idp = self._predict_pairs(id_track, id_meas, batch)
        feasible = self._feasible(idp, batch)
        spoof_rows = id_track[~feasible]
        a["spoof"][spoof_rows] = True
        fixed_track, fixed_meas = id_track[feasible], id_meas[feasible]
        adopt = np.zeros(len(batch), dtype=bool)  # rows whose identity a kinematic match takes
        if meas_key is not None:
            adopt = meas_key != none_key
            adopt[id_meas] = False  # known identity: either updated directly or stripped (spoof)

        # 2. gate the rest
        free_track = a["status"] != _DEAD
        free_track[id_track] = False
        free_meas = np.ones(len(batch), dtype=bool)
        free_meas[fixed_meas] = False
        kp, cost, log_lik = self._gate_pairs(batch, free_track, free_meas, adopt, keyname, none_key)

        # 3. associate (JPDA: the confirmed and coasting tracks' probabilities, then GNN for tentative ones)
        pda = None
        if self.config.association == "jpda":  # clutter: the plots the confirmed tracks (Pd each) do not explain
            firm = np.unique(kp.track[a["status"][kp.track] != TENTATIVE]).size
            free = len(batch) - fixed_meas.size - self.config.detection_prob * firm
            pda = self._jpda(kp, log_lik, self._log_clutter_density(batch, free), batch)
        won = self._associate(kp, cost, len(batch), None if pda is None else pda.claimed)
        tent = won[a["status"][kp.track[won]] == TENTATIVE]
        if tent.size:  # track score: clutter is what no track took
            taken = fixed_meas.size + won.size + (0 if pda is None else int(pda.claimed.sum()))
            a["llr"][kp.track[tent]] += self._log_pd + log_lik[tent] - self._log_clutter_density(batch, len(batch) - taken)
        hit_track = np.concatenate([fixed_track, kp.track[won]])
        hit_meas = np.concatenate([fixed_meas, kp.meas[won]])
        chosen = _Pairs(*(np.concatenate([getattr(idp, f)[feasible], getattr(kp, f)[won]]) if feasible.any()
                          else getattr(kp, f)[won] for f in _PAIR_FIELDS))

        # 4. update
        self._update(chosen, batch)
        pda_missed = _EMPTY_INT
        if pda is not None:
            self._commit(pda.track[pda.hit], pda.meas[pda.hit], pda.xm[pda.hit], pda.Pm[pda.hit], pda.mu[pda.hit], batch)
            pda_missed = pda.track[~pda.hit]
            miss = ~pda.hit
            self._commit(pda_missed, pda.meas[miss], pda.xm[miss], pda.Pm[miss], pda.mu[miss], batch, hit=False)
            hit_track, hit_meas = np.concatenate([hit_track, pda.track[pda.hit]]), np.concatenate([hit_meas, pda.meas[pda.hit]])
        taken = adopt[hit_meas]
        if taken.any():
            a[keyname][hit_track[taken]] = meas_key[hit_meas[taken]]
            self._log_identity(batch.t[hit_meas[taken]], hit_track[taken])

        # 5. manage
        looked = self._count_misses(batch, np.concatenate([hit_track, pda_missed]))
        if pda_missed.size and batch.sensor_kind == "radar":  # updated by JPDA but more likely not detected
            self._count_miss(pda_missed)
            looked = np.concatenate([looked, pda_missed])
        merged, absorbed, kept = self._merge(kp, cost, tb)
        used = np.zeros(len(batch), dtype=bool) if pda is None else pda.claimed
        used[hit_meas] = True
        rows_before = self._rows
        born = self._birth(batch, ~used, adopt, keyname)
        self._now = max(self._now, tb)
        spoof_ids = a["id"][spoof_rows].copy()
        # rows whose counters, status or state changed: the only ones (with those whose
        # time rules are due) that a deletion rule can newly apply to
        touched = np.concatenate([hit_track, looked, kept, np.arange(rows_before, self._rows, dtype=np.int64)])
        bad = np.unique(np.concatenate(self._nonfinite)) if self._nonfinite else _EMPTY_INT
        deleted = self._expire(tb, np.concatenate([absorbed, bad]), touched)
        return StepResult(deleted, merged, 0, spoof_ids, born, int(hit_meas.size), nonfinite_dropped=int(bad.size))

    # ------------------------------------------------------------------ steps

    def _identity_pairs(self, meas_key: IntArray | None, none_key: int, keyname: str | None) -> tuple[IntArray, IntArray]:
        """Rows of tracks whose identity equals a measurement's key: (track (J,), meas (J,))."""
        if meas_key is None or len(self) == 0:
            return _EMPTY_INT, _EMPTY_INT
        track_key = self._tracks[keyname]
        # one binary search per pool row into the batch's sorted keys (np.isin with a few keys
        # makes one pass over the pool per key)
        order = np.argsort(meas_key, kind="stable")
        keys = meas_key[order]
        pos = np.minimum(np.searchsorted(keys, track_key), keys.size - 1)
        has = np.flatnonzero((keys[pos] == track_key) & (track_key != none_key))
        return has, order[pos[has]]

    def _feasible(self, p: _Pairs, batch: MeasBatch) -> BoolArray:
        """Could each identity pair's target have moved from its last position to the report?"""
        if p.track.size == 0:
            return np.zeros(0, dtype=bool)
        a = self._tracks
        x, P = kalman.imm_combine(a["xm"][p.track], a["Pm"][p.track], a["mu"][p.track])
        dist = np.linalg.norm(batch.z[p.meas, :2] - x[:, :2], axis=1)
        spread = np.sqrt(np.trace(P[:, :2, :2], axis1=1, axis2=2) + np.trace(batch.R[p.meas, :2, :2], axis1=1, axis2=2))
        reach = self.pool.max_speed_mps * np.abs(batch.t[p.meas] - a["t"][p.track])
        return dist <= reach + self.config.identity_sigmas * spread

    def _gate_pairs(
        self, batch: MeasBatch, free_track: BoolArray, free_meas: BoolArray, adopt: BoolArray,
        keyname: str | None, none_key: int,
    ) -> tuple[_Pairs, FloatArray, FloatArray]:
        """Candidate pairs among free tracks and rows that pass the chi-square gate, with cost
        d2/gate (K,) and the log Gaussian likelihood of the combined prediction (K,)."""
        a = self._tracks
        meas = np.flatnonzero(free_meas)
        tb, t0 = float(batch.t.max()), float(batch.t.min())
        if self._rows == 0 or meas.size == 0:
            return self._predict_pairs(_EMPTY_INT, _EMPTY_INT, batch), np.zeros(0), np.zeros(0)
        Rp = batch.R_pos if meas.size == len(batch) else batch.R_pos[meas]
        a00, a11, a01 = Rp[:, 0, 0], Rp[:, 1, 1], Rp[:, 0, 1]
        r_max = float((0.5 * (a00 + a11) + np.sqrt(0.25 * (a00 - a11) ** 2 + a01 * a01)).max())  # lambda_max(R_pos)
        spread = self.pool.max_speed_mps * (tb - t0)
        z_pos = batch.z_pos if meas.size == len(batch) else batch.z_pos[meas]
        tracks = self._reachable(free_track, tb, z_pos, r_max, spread)
        if tracks.size == 0:
            return self._predict_pairs(_EMPTY_INT, _EMPTY_INT, batch), np.zeros(0), np.zeros(0)
        pos, P_pos = self._predict_position(tracks, np.maximum(tb - a["t"][tracks], 0.0))
        radius = gate_radius(P_pos, r_max, self._gate[4]) + spread
        finite = np.isfinite(radius) & np.isfinite(pos).all(axis=1)
        if not finite.all():  # the guard: no non-finite state reaches the gate; the track is deleted
            self._nonfinite.append(tracks[~finite])
            tracks, pos, radius = tracks[finite], pos[finite], radius[finite]
        pairs = candidate_pairs(pos, radius, z_pos)
        pt, pm = tracks[pairs[:, 0]], meas[pairs[:, 1]]
        if keyname is not None:  # a report with a new identity may not update a track holding another one
            ok = ~adopt[pm] | (a[keyname][pt] == none_key)
            pt, pm = pt[ok], pm[ok]
        p = self._predict_pairs(pt, pm, batch)
        d2, dims, log_lik = _distances(p, batch)
        tentative = a["status"][p.track] == TENTATIVE
        gate = np.where(dims == 4, np.where(tentative, self._confirm_gate[4], self._gate[4]),
                        np.where(tentative, self._confirm_gate[2], self._gate[2]))
        inside = d2 <= gate
        inside &= self._within_reach(p, batch)
        if inside.all():  # no copies
            return p, d2 / gate, log_lik
        p = _Pairs(*(getattr(p, f)[inside] for f in _PAIR_FIELDS))
        return p, d2[inside] / gate[inside], log_lik[inside]

    def _within_reach(self, p: _Pairs, batch: MeasBatch) -> BoolArray:
        """Could each pair's target have moved from the track's last estimate to the plot? (K,)

        |z - x(t)| <= v dt + sqrt(chi2_2) sqrt(trace P_pos(t) + trace R_pos), with x(t),
        P(t) the combined state at the track's last update t, dt = plot time - t and v the
        larger of ``reach_speed_mps`` and the track's speed plus its sigma. The chi-square
        gate grows with the covariance of a coasting track without bound; this bound grows
        only as fast as a vessel (aircraft) can move, so a coasting track cannot capture
        another target's plot kilometres away.
        """
        a = self._tracks
        tr, me = p.track, p.meas
        cx, c = a["cx"][tr], a["trc"][tr]
        dt = batch.t[me] - a["t"][tr]
        np.maximum(dt, 0.0, out=dt)
        v = np.hypot(cx[:, 2], cx[:, 3])
        v += np.sqrt(np.maximum(c[:, 2], 0.0))
        np.maximum(v, self.pool.reach_speed_mps, out=v)
        R, z = batch.R, batch.z  # (not the R_pos / z_pos properties: they copy the whole batch)
        var = c[:, 0] + R[me, 0, 0] + R[me, 1, 1]
        np.maximum(var, 0.0, out=var)
        reach = np.sqrt(self._gate[2] * var)
        reach += v * dt
        dx, dy = z[me, 0] - cx[:, 0], z[me, 1] - cx[:, 1]
        return dx * dx + dy * dy <= reach * reach

    def _reachable(self, free: BoolArray, tb: float, z_pos: FloatArray, r_max: float, spread: float) -> IntArray:
        """Rows (sorted) of the free tracks that can gate a plot of ``z_pos`` (n, 2) at time tb.

        A cheap superset of the tracks whose gating square meets a plot, from the cached
        combined state and the cubic of the trace of the predicted position covariance
        (trace >= lambda_max): a track whose disc of radius sqrt(gate (trace + r_max)) +
        spread around its predicted position misses the plots' bounding box gates nothing.
        Dead rows (NaN cached state) are never reachable. The block index (fusion/core/reach.py)
        first narrows the rows to the blocks near the plots; the full prediction and the grid
        then run on the rows left.
        """
        a = self._tracks
        if 4 * z_pos.shape[0] >= self._rows:  # a batch about as big as the pool: its cost is O(N) anyway,
            return np.flatnonzero(free)  # and the grid sorts the tracks out
        lo, hi = z_pos.min(axis=0), z_pos.max(axis=0)
        g = self._gate[4]
        rows = self._reach.query(a, self._rows, lo, hi, np.sqrt(g * r_max) * (1.0 + 1e-9) + spread + 1e-3, tb, g)
        every = rows.size == self._rows
        cx, c, t = (a[k] if every else a[k][rows] for k in ("cx", "trc", "t"))
        dt = np.maximum(tb - t, 0.0)
        trace = c[:, 0] + dt * (c[:, 1] + dt * (c[:, 2] + dt * c[:, 3]))
        reach = np.sqrt(g * np.maximum(trace + r_max, 0.0))
        reach *= 1.0 + 1e-9
        reach += spread + 1e-3
        x = cx[:, 0] + cx[:, 2] * dt
        ok = x >= lo[0] - reach
        ok &= x <= hi[0] + reach
        y = cx[:, 1] + cx[:, 3] * dt
        ok &= y >= lo[1] - reach
        ok &= y <= hi[1] + reach
        ok &= free[rows]
        return rows[ok]

    def _associate(self, kp: _Pairs, cost: FloatArray, n_meas: int, claimed: BoolArray | None = None) -> IntArray:
        """GNN in two passes: confirmed and coasting tracks first, then tentative tracks on
        the plots left over. With ``claimed`` (M,) (the plots JPDA gave to confirmed tracks),
        only the tentative pass runs, on the other plots. Returns the chosen pair indices (A,), sorted."""
        pairs = np.stack([kp.track, kp.meas], axis=1)
        firm = self._tracks["status"][kp.track] != TENTATIVE
        if claimed is None:
            first = np.flatnonzero(firm)
            won_first = first[assign(pairs[first], cost[first], 1.0).chosen]
            used = np.zeros(n_meas, dtype=bool)
            used[kp.meas[won_first]] = True
        else:
            won_first, used = _EMPTY_INT, claimed
        second = np.flatnonzero(~firm & ~used[kp.meas])
        won_second = second[assign(pairs[second], cost[second], 1.0).chosen]
        return np.sort(np.concatenate([won_first, won_second]))

    def _log_clutter_density(self, batch: MeasBatch, free: float) -> float:
        """ln lambda (1/m^2) of this batch: ``free`` plots (those no track explains) over the area
        the scan looked at (its coverage circle, else its plots' bounding box grown by
        ``look_margin_m`` when finite)."""
        if batch.look_en_m is not None:
            area = np.pi * batch.look_en_m[2] ** 2
        else:
            span = batch.z_pos.max(axis=0) - batch.z_pos.min(axis=0)
            if np.isfinite(self.config.look_margin_m):
                span = span + 2.0 * self.config.look_margin_m
            area = float(span[0] * span[1])
        return float(np.log(clutter_density(int(round(free)), area)))

    def _jpda(self, kp: _Pairs, log_lik: FloatArray, log_lambda: float, batch: MeasBatch) -> _Pda:
        """JPDA of the confirmed and coasting tracks over their gated pairs (fusion/core/jpda.py).

        Every such track is updated with the mixture of its pairs' Kalman updates (each IMM
        model; model probabilities from the IMM-PDA likelihood) at the time of its most probable
        plot. One more likely detected than not (beta0 < 0.5) counts a hit with that plot; the
        others count a missed look. A plot whose probabilities of being a track's sum to 0.5 or
        more is claimed: no tentative track and no birth takes it."""
        a = self._tracks
        claimed = np.zeros(len(batch), dtype=bool)
        firm = np.flatnonzero(a["status"][kp.track] != TENTATIVE)
        r = self._q.size
        if firm.size == 0:
            return _Pda(_EMPTY_INT, _EMPTY_INT, np.zeros((0, r, 4)), np.zeros((0, r, 4, 4)), np.zeros((0, r)),
                        np.zeros(0, dtype=bool), claimed)
        rows, tl = np.unique(kp.track[firm], return_inverse=True)
        meas = kp.meas[firm]
        log_miss = np.full(rows.size, self._log_miss)
        m = marginals(tl, meas, self._log_pd + log_lik[firm] - log_lambda, log_miss)
        claimed[np.flatnonzero(np.bincount(meas, weights=m.beta, minlength=len(batch)) >= 0.5)] = True
        order = np.lexsort((m.beta, tl))  # by track, most probable pair last
        best = firm[order[np.r_[np.flatnonzero(np.diff(tl[order])), tl.size - 1]]]  # (U,) each track's MAP pair
        xs, Ps, lik = self._pair_updates(kp, firm, batch)
        xm, Pm = mixture_update(tl, m.beta, m.beta0, kp.xm[best], kp.Pm[best], xs, Ps)
        cbar = kp.cbar[best]
        mu = np.ones_like(cbar) if r == 1 else kalman.imm_posterior(
            cbar, model_log_likelihood(tl, self._log_pd + lik - log_lambda, log_miss))
        return _Pda(rows, kp.meas[best], xm, Pm, mu, m.beta0 < 0.5, claimed)

    def _pair_updates(self, kp: _Pairs, pairs: IntArray, batch: MeasBatch) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Kalman update of every model of the pairs ``pairs`` (P,) of ``kp`` -> (xm (P, r, 4),
        Pm (P, r, 4, 4), per-model log likelihood (P, r))."""
        meas = kp.meas[pairs]
        has_vel = batch.has_vel[meas]
        if has_vel.all() or not has_vel.any():
            return _model_updates(kp.xm[pairs], kp.Pm[pairs], meas, batch, bool(has_vel[0]))
        xs, Ps, lik = kp.xm[pairs].copy(), kp.Pm[pairs].copy(), np.zeros((pairs.size, self._q.size))
        for vel in (False, True):
            sel = has_vel == vel
            xs[sel], Ps[sel], lik[sel] = _model_updates(kp.xm[pairs[sel]], kp.Pm[pairs[sel]], meas[sel], batch, vel)
        return xs, Ps, lik

    def _predict_pairs(self, track: IntArray, meas: IntArray, batch: MeasBatch) -> _Pairs:
        """IMM interaction and prediction of each pair's track to its measurement's time."""
        a = self._tracks
        if track.size == 0:  # no work (and no numpy calls) for an empty set
            r = self._q.size
            return _Pairs(_EMPTY_INT, _EMPTY_INT, np.zeros((0, r, 4)), np.zeros((0, r, 4, 4)), np.zeros((0, r)))
        dt = np.maximum(batch.t[meas] - a["t"][track], 0.0)  # < 0 only for rows older than a re-run's state
        if self._q.size == 1:  # one model: no mixing
            x0, P0, cbar = a["xm"][track], a["Pm"][track], a["mu"][track]
        else:
            x0, P0, cbar = kalman.imm_mix(a["xm"][track], a["Pm"][track], a["mu"][track],
                                          kalman.markov_matrix(dt, self._sojourn))
        xm, Pm = kalman.cv_predict(x0, P0, dt, self._q, 2)
        return _Pairs(track, meas, xm, Pm, cbar)

    def _predict_combined(self, rows: IntArray, dt: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Combined (x (n, 4), P (n, 4, 4)) of ``rows`` predicted by ``dt`` (n,) s, not committed."""
        a = self._tracks
        xm, Pm = kalman.cv_predict(a["xm"][rows], a["Pm"][rows], dt, self._q, 2)
        return kalman.imm_combine(xm, Pm, a["mu"][rows])

    def _predict_position(self, rows: IntArray, dt: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Combined position (n, 2) m and its covariance (n, 2, 2) of the n sorted ``rows``
        predicted by ``dt`` (n,) s, not committed."""
        a = self._tracks
        every = rows.size == self._rows  # sorted and unique: all rows, no gather
        xm, Pm, mu = (a[k] if every else a[k][rows] for k in ("xm", "Pm", "mu"))
        pos, P_pos = kalman.cv_predict_position(xm, Pm, dt, self._q, 2)
        return kalman.imm_combine(pos, P_pos, mu)

    def _predict_alt(self, alt: FloatArray, Palt: FloatArray, dt: FloatArray) -> tuple[FloatArray, FloatArray]:
        """alt (n, 2), Palt (n, 2, 2), dt (n,) -> predicted; NaN rows stay NaN."""
        return kalman.cv_predict(alt, Palt, dt, np.float64(self.pool.q_alt_mps2), 1)

    def _update(self, p: _Pairs, batch: MeasBatch) -> None:
        """IMM update of the chosen pairs at their measurement times; commit to the table."""
        if p.track.size == 0:
            return
        has_vel = batch.has_vel[p.meas]
        if has_vel.all() or not has_vel.any():  # one measurement model for all: no masks
            xm, Pm, mu = _update_models(p.xm, p.Pm, p.cbar, p.meas, batch, bool(has_vel[0]))
        else:
            xm, Pm, mu = p.xm.copy(), p.Pm.copy(), p.cbar.copy()
            for vel in (False, True):
                sel = has_vel == vel
                xm[sel], Pm[sel], mu[sel] = _update_models(p.xm[sel], p.Pm[sel], p.cbar[sel], p.meas[sel], batch, vel)
        self._commit(p.track, p.meas, xm, Pm, mu, batch)

    def _commit(self, tr: IntArray, rows: IntArray, xm: FloatArray, Pm: FloatArray, mu: FloatArray, batch: MeasBatch,
                hit: bool = True) -> None:
        """Write updated states (xm (n, r, 4), Pm (n, r, 4, 4), mu (n, r)) of track rows ``tr`` (n,),
        each updated by batch row ``rows`` (n,) (at its time), and count a hit: altitude, times,
        sources, hit history, confirmation (M-of-N or score). ``hit`` False: the state only (a
        JPDA update of a track more likely not detected)."""
        a = self._tracks
        if tr.size == 0:
            return
        finite = np.isfinite(xm).all(axis=(1, 2)) & np.isfinite(Pm).all(axis=(1, 2, 3)) & np.isfinite(mu).all(axis=1)
        if not finite.all():  # the guard: a non-finite state is never committed; the track is deleted
            self._nonfinite.append(tr[~finite])
            tr, rows, xm, Pm, mu = tr[finite], rows[finite], xm[finite], Pm[finite], mu[finite]
            if tr.size == 0:
                return
        t_meas = batch.t[rows]
        if hit and (np.isfinite(batch.alt_m[rows]).any() or np.isfinite(a["alt"][tr, 0]).any()):  # else nothing changes
            a["alt"][tr], a["Palt"][tr] = self._update_alt(tr, rows, batch)
        a["xm"][tr], a["Pm"][tr], a["mu"][tr], a["t"][tr] = xm, Pm, mu, t_meas
        a["cx"][tr], a["trc"][tr], a["tr0"][tr] = self._kinematics(xm, Pm, mu)
        self._reach.mark(a["blk"][tr])
        if not hit:
            return
        a["last_t"][tr] = np.maximum(a["last_t"][tr], t_meas)
        coop = batch.sensor_kind in _KEY_OF_KIND
        a["last_ais_t" if coop else "last_noncoop_t"][tr] = t_meas
        a["sources"][tr] |= SENSOR_BIT[batch.sensor_kind]
        a["hist"][tr] = (a["hist"][tr] << 1) | 1
        a["looks"][tr] += 1
        a["miss_run"][tr] = 0
        if self.config.confirmation == "score":
            confirm = a["llr"][tr] >= self._score_confirm
        else:
            confirm = _popcount(a["hist"][tr] & ((1 << self.config.confirm_n) - 1)) >= self.config.confirm_m
        a["status"][tr] = np.where((a["status"][tr] != TENTATIVE) | confirm, CONFIRMED, TENTATIVE)

    def _update_alt(self, tr: IntArray, rows: IntArray, batch: MeasBatch) -> tuple[FloatArray, FloatArray]:
        """Altitude filter of the updated tracks: predict to the measurement time, update or start."""
        a = self._tracks
        alt, Palt = a["alt"][tr], a["Palt"][tr]
        tracked = np.isfinite(alt[:, 0])  # the others (no altitude yet) have nothing to predict
        if tracked.any():
            dt = np.maximum(batch.t[rows[tracked]] - a["t"][tr[tracked]], 0.0)
            alt[tracked], Palt[tracked] = self._predict_alt(alt[tracked], Palt[tracked], dt)
        z = batch.alt_m[rows]
        has = np.isfinite(z)
        known = has & np.isfinite(alt[:, 0])
        if known.any():
            R = (batch.sigma_alt_m[rows[known]] ** 2)[:, None, None]
            alt[known], Palt[known], _ = kalman.update(alt[known], Palt[known], z[known, None], _H_ALT, R)
        start = has & ~known
        alt[start] = np.stack([z[start], np.zeros(int(start.sum()))], axis=1)
        Palt[start] = 0.0
        Palt[start, 0, 0] = batch.sigma_alt_m[rows[start]] ** 2
        Palt[start, 1, 1] = self.pool.init_vrate_sigma_mps**2
        return alt, Palt

    def _count_misses(self, batch: MeasBatch, hit_track: IntArray) -> IntArray:
        """A radar scan looked at every track inside its coverage circle (``batch.look_en_m``),
        or, when the scan does not state it, inside its plots' bounding box plus a margin.
        Returns the rows that counted a missed look. Positions come from the cached combined
        state (a few flops per track); the counters change only for the looked rows."""
        if batch.sensor_kind != "radar" or self._rows == 0:
            return _EMPTY_INT
        a = self._tracks
        tb = float(batch.t.max())
        if batch.look_en_m is not None:
            e0, n0, radius = batch.look_en_m
            lo, hi = np.array([e0 - radius, n0 - radius]), np.array([e0 + radius, n0 + radius])
        else:
            lo = batch.z_pos.min(axis=0) - self.config.look_margin_m
            hi = batch.z_pos.max(axis=0) + self.config.look_margin_m
        if 4 * len(batch) >= self._rows:  # a batch about as big as the pool: its cost is O(N) anyway
            rows = np.arange(self._rows, dtype=np.int64)
        else:
            rows = self._reach.query(a, self._rows, lo, hi, 0.0, tb, self._gate[4])
        every = rows.size == self._rows
        cx, t, coop_t = (a[k] if every else a[k][rows] for k in ("cx", "t", "last_ais_t"))  # cx NaN for dead rows: never inside
        dt = tb - t
        x = cx[:, 0] + cx[:, 2] * dt
        y = cx[:, 1] + cx[:, 3] * dt
        if batch.look_en_m is not None:
            inside = np.hypot(x - e0, y - n0) <= radius
        else:
            inside = (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1])
        inside &= t < batch.t.min()
        inside &= ~(tb - coop_t <= self.pool.coop_fresh_s)  # a fresh AIS / ADS-B report vouches for it (NaN: never had one)
        if every:
            inside[hit_track] = False
        elif hit_track.size:
            hit = np.zeros(self._rows, dtype=bool)
            hit[hit_track] = True
            inside &= ~hit[rows]
        looked = rows[inside]
        self._count_miss(looked)
        return looked

    def _count_miss(self, rows: IntArray) -> None:
        """A missed look for track ``rows``: hit history, miss run, score; confirmed -> coasting."""
        a = self._tracks
        if rows.size:
            a["hist"][rows] <<= 1
            a["looks"][rows] += 1
            a["miss_run"][rows] += 1
            a["llr"][rows] += self._log_miss_look
            a["status"][rows] = np.where(a["status"][rows] == CONFIRMED, COASTING, a["status"][rows])

    def _merge(self, kp: _Pairs, cost: FloatArray, t: float) -> tuple[IntArray, IntArray, IntArray]:
        """Merge confirmed tracks that gate the same plot and whose states agree.

        Returns merged (K, 2) [absorbed id, surviving id], the absorbed rows and the
        surviving rows. The older
        track survives (a dark radar track keeps its id when it meets its AIS twin) and
        takes the identities and sources of the absorbed one.
        """
        a = self._tracks
        none = (np.zeros((0, 2), dtype=np.int64), _EMPTY_INT, _EMPTY_INT)
        if kp.track.size < 2:
            return none
        shared = np.flatnonzero(np.bincount(kp.meas)[kp.meas] > 1)  # pairs whose plot another pair gates too
        order = shared[np.lexsort((kp.track[shared], kp.meas[shared]))]
        tr, ms = kp.track[order], kp.meas[order]
        same = ms[1:] == ms[:-1]
        if not same.any():
            return none
        i, j = tr[:-1][same], tr[1:][same]
        live = (a["status"][i] != TENTATIVE) & (a["status"][j] != TENTATIVE) & (i != j)
        for key, none_key in _NONE_KEY.items():
            live &= (a[key][i] == none_key) | (a[key][j] == none_key) | (a[key][i] == a[key][j])
        i, j = i[live], j[live]
        if i.size == 0:
            return none
        both = np.concatenate([i, j])
        x, P = self._predict_combined(both, np.maximum(t - a["t"][both], 0.0))
        dx = x[: i.size] - x[i.size :]
        S = P[: i.size] + P[i.size :]
        d2 = np.einsum("ka,ka->k", dx, np.linalg.solve(S, dx[..., None])[..., 0])
        merged, absorbed, kept = [], [], []
        gone: set[int] = set()
        for r in np.flatnonzero(d2 < self._merge_gate):  # few: duplicate tracks only
            u, v = int(i[r]), int(j[r])
            if u in gone or v in gone:
                continue
            keep, lose = (u, v) if (a["first_t"][u], a["id"][u]) <= (a["first_t"][v], a["id"][v]) else (v, u)
            self._absorb(keep, lose)
            gone.add(lose)
            merged.append((int(a["id"][lose]), int(a["id"][keep])))
            absorbed.append(lose)
            kept.append(keep)
        return (np.array(merged, dtype=np.int64).reshape(-1, 2), np.array(absorbed, dtype=np.int64),
                np.array(kept, dtype=np.int64))

    def _absorb(self, keep: int, lose: int) -> None:
        a = self._tracks
        trace = np.trace(a["Pm"][[keep, lose], 0, :2, :2], axis1=1, axis2=2)
        if trace[1] < trace[0] and a["t"][lose] >= a["t"][keep]:  # the better, newer state wins
            for k in ("t", "xm", "Pm", "mu"):
                a[k][keep] = a[k][lose]
        if not np.isfinite(a["alt"][keep, 0]):
            a["alt"][keep], a["Palt"][keep] = a["alt"][lose], a["Palt"][lose]
        for key, none_key in _NONE_KEY.items():
            if a[key][keep] == none_key and a[key][lose] != none_key:
                a[key][keep] = a[key][lose]
                self._log_identity(np.array([a["last_t"][lose]]), np.array([keep]))
        k = slice(keep, keep + 1)
        a["cx"][k], a["trc"][k], a["tr0"][k] = self._kinematics(a["xm"][k], a["Pm"][k], a["mu"][k])
        self._reach.mark(a["blk"][k])
        a["sources"][keep] |= a["sources"][lose]
        a["spoof"][keep] |= a["spoof"][lose]
        a["first_t"][keep] = min(a["first_t"][keep], a["first_t"][lose])
        for k in ("last_t", "last_ais_t", "last_noncoop_t"):
            a[k][keep] = np.fmax(a[k][keep], a[k][lose])

    def _birth(self, batch: MeasBatch, rows: BoolArray, adopt: BoolArray, keyname: str | None) -> IntArray:
        """Start a tentative track from every unused row (bounded by max_tracks and, for a radar
        or OTH site, by its birth budget: the first rows of the batch within it)."""
        idx = np.flatnonzero(rows)[: max(0, self.config.max_tracks - len(self))]
        if batch.sensor_kind not in _KEY_OF_KIND and idx.size:
            idx = idx[: self._birth_allowance(f"{batch.sensor_kind}/{batch.sensor_id}", float(batch.t.max()), idx.size)]
        n = idx.size
        if n == 0:
            return _EMPTY_INT
        r = self._q.size
        z, R, t = batch.z[idx], batch.R[idx], batch.t[idx]
        vel = batch.has_vel[idx]
        x = np.where(vel[:, None], z, np.concatenate([z[:, :2], np.zeros((n, 2))], axis=1))
        P = R.copy()
        P[~vel, :2, 2:] = P[~vel, 2:, :2] = 0.0
        P[~vel, 2:, 2:] = np.eye(2) * self.pool.init_speed_sigma_mps**2
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        alt = np.stack([batch.alt_m[idx], np.where(np.isfinite(batch.alt_m[idx]), 0.0, np.nan)], axis=1)
        Palt = np.zeros((n, 2, 2))
        Palt[:, 0, 0] = batch.sigma_alt_m[idx] ** 2
        Palt[:, 1, 1] = self.pool.init_vrate_sigma_mps**2
        coop = batch.sensor_kind in _KEY_OF_KIND
        nan = np.full(n, np.nan)
        new = {
            "id": ids, "status": np.full(n, TENTATIVE, np.int8), "t": t,
            "xm": np.repeat(x[:, None], r, axis=1), "Pm": np.repeat(P[:, None], r, axis=1),
            "mu": np.tile(np.asarray(self.pool.mu0), (n, 1)), "alt": alt, "Palt": Palt,
            "hist": np.ones(n, np.int64), "looks": np.ones(n, np.int64), "miss_run": np.zeros(n, np.int64),
            "first_t": t, "last_t": t, "last_ais_t": t if coop else nan, "last_noncoop_t": nan if coop else t,
            "sources": np.full(n, SENSOR_BIT[batch.sensor_kind], np.int64),
            "mmsi": np.full(n, NO_MMSI, np.int64), "icao24": np.full(n, NO_ICAO, np.int64),
            "spoof": np.zeros(n, bool), "llr": np.zeros(n),
        }
        new["cx"], new["trc"], new["tr0"] = self._kinematics(new["xm"], new["Pm"], new["mu"])
        if keyname is not None:
            new[keyname] = np.where(adopt[idx], getattr(batch, keyname)[idx], _NONE_KEY[keyname])
        if self.config.confirm_m == 1:  # a single plot confirms
            new["status"][:] = CONFIRMED
        new["due"] = self._due(new["status"], t, t, new["tr0"])
        new["blk"] = np.full(n, -1, dtype=np.int64)  # the index's unsorted tail until its next rebuild
        self._append(new)
        self._reach.append(self._tracks, self._rows - n, n)
        with_id = new[keyname] != _NONE_KEY[keyname] if keyname else np.zeros(n, bool)
        if with_id.any():
            self._log_identity(t[with_id], self._rows - n + np.flatnonzero(with_id))
        return ids

    def _birth_allowance(self, source: str, t: float, wanted: int) -> int:
        """How many of ``wanted`` new tracks ``source`` may start at batch time ``t`` (s); charges them.

        A token bucket per site in batch time (deterministic, re-run with the tracker's
        checkpoints): ``max_births_per_source_s`` per second, ``births_burst_s`` of it deep."""
        c = self.config
        cap = c.max_births_per_source_s * c.births_burst_s
        tokens, last = self._births.get(source, (cap, t))
        tokens = min(cap, tokens + max(0.0, t - last) * c.max_births_per_source_s)
        n = min(wanted, int(tokens))
        self._births[source] = (tokens - n, max(last, t))
        return n

    def _expire(self, t: float, absorbed: IntArray = _EMPTY_INT, touched: IntArray = _EMPTY_INT) -> IntArray:
        """Delete tracks (misses, age, covariance growth, merges); mark old ones coasting.

        Only rows that can newly meet a rule are tested: those whose counters or state
        changed in this step (``touched``), the ``absorbed`` ones, and those whose cached
        time ``due`` (the earliest time their coast, age or covariance rule can fire) has
        come. Every other row fails every rule at ``t``, so the result is the same as testing
        the whole pool; the scan for due rows is one comparison per track.
        """
        a = self._tracks
        if self._rows == 0:
            return _EMPTY_INT
        test = a["due"] <= t
        test[touched] = True
        test[absorbed] = True
        rows = np.flatnonzero(test)
        if rows.size == 0:
            return _EMPTY_INT
        sel = slice(None) if rows.size == self._rows else rows  # every row: views, no gathers
        cfg, pool = self.config, self.pool
        status, last_t, t_row = a["status"][sel], a["last_t"][sel], a["t"][sel]
        age = t - last_t
        tentative = status == TENTATIVE
        dead = np.zeros(rows.size, dtype=bool)
        dead[np.searchsorted(rows, absorbed)] = True
        if cfg.confirmation == "score":  # Wald's test decides, within the age limit
            dead |= tentative & ((a["llr"][sel] <= self._score_delete) | (age > pool.tentative_max_age_s))
        else:
            dead |= tentative & ((a["looks"][sel] >= cfg.confirm_n) | (age > pool.tentative_max_age_s))
        dead |= ~tentative & (a["miss_run"][sel] >= cfg.delete_misses)
        dead |= age > pool.max_coast_s
        dt = np.maximum(t - t_row, 0.0)
        c = a["tr0"][sel]  # trace of model 0's position block predicted by dt (without process noise)
        trace = c[:, 0] + 2.0 * dt * c[:, 1] + dt * dt * c[:, 2]
        dead |= trace > 2.0 * pool.max_pos_sigma_m**2
        dead &= status != _DEAD
        status = np.where((status == CONFIRMED) & (age > pool.coast_after_s), COASTING, status).astype(np.int8)
        a["status"][sel] = status
        a["due"][sel] = self._due(status, last_t, t_row, c)
        if not dead.any():
            return _EMPTY_INT
        gone_rows = rows[dead]
        gone = a["id"][gone_rows].copy()
        self._kill(gone_rows)
        return gone

    def _kill(self, rows: IntArray) -> None:
        """Mark rows deleted: invisible to gating, looks, identity and expiry (NaN cached
        state, no identity, never due); the table is compacted once a quarter of its rows
        are dead, so a deletion costs O(1) amortised instead of a pool-wide copy."""
        a = self._tracks
        a["status"][rows] = _DEAD
        a["cx"][rows] = np.nan
        a["due"][rows] = np.inf
        a["mmsi"][rows] = NO_MMSI
        a["icao24"][rows] = NO_ICAO
        self._n_dead += int(rows.size)
        if 4 * self._n_dead > self._rows:
            self._compact()

    def _compact(self) -> None:
        """Drop the dead rows, in place (keeping the capacity and the order of live rows)."""
        a = self._tracks
        keep = a["status"] != _DEAD
        n = int(keep.sum())
        for k, v in a.items():
            self._store[k][:n] = v[keep]
        self._tracks = {k: v[:n] for k, v in self._store.items()}
        self._n_dead = 0
        self._reach.invalidate()

    def _kinematics(self, xm: FloatArray, Pm: FloatArray, mu: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Derived columns of n rows (xm (n, r, 4), Pm (n, r, 4, 4), mu (n, r)): combined state
        cx (n, 4) and trc (n, 4), the coefficients of the trace of the combined predicted
        position covariance, trace(dt) = c0 + c1 dt + c2 dt^2 + c3 dt^3 (exact for the CV
        models' prediction followed by moment matching, as in ``_predict_position``), and
        tr0 (n, 3): model 0's P00 + P11, P02 + P13, P22 + P33 (the covariance growth rule).
        With one model cx is a view of xm (callers copy it into the table)."""
        P0 = Pm[:, 0]
        tr0 = np.empty((mu.shape[0], 3))
        np.add(P0[:, 0, 0], P0[:, 1, 1], out=tr0[:, 0])
        np.add(P0[:, 0, 2], P0[:, 1, 3], out=tr0[:, 1])
        np.add(P0[:, 2, 2], P0[:, 3, 3], out=tr0[:, 2])
        if mu.shape[1] == 1:
            trc = np.empty((mu.shape[0], 4))
            trc[:, 0] = tr0[:, 0]
            np.multiply(tr0[:, 1], 2.0, out=trc[:, 1])
            trc[:, 2] = tr0[:, 2]
            trc[:, 3] = 2.0 * float(self._q[0]) / 3.0
            return xm[:, 0], trc, tr0
        cx = np.einsum("nj,njd->nd", mu, xm)
        d = xm - cx[:, None, :]
        per_model = np.stack([
            Pm[..., 0, 0] + Pm[..., 1, 1] + d[..., 0] ** 2 + d[..., 1] ** 2,
            2.0 * (Pm[..., 0, 2] + Pm[..., 1, 3] + d[..., 0] * d[..., 2] + d[..., 1] * d[..., 3]),
            Pm[..., 2, 2] + Pm[..., 3, 3] + d[..., 2] ** 2 + d[..., 3] ** 2,
            np.broadcast_to(2.0 * self._q / 3.0, mu.shape),
        ], axis=2)  # (n, r, 4)
        return cx, np.einsum("nj,njc->nc", mu, per_model), tr0

    def _due(self, status: NDArray[np.int8], last_t: FloatArray, t: FloatArray, tr0: FloatArray) -> FloatArray:
        """Earliest time (n,) at which a coast, age or covariance rule of ``_expire`` can fire
        for rows with this status, last update, state time and ``tr0`` (n, 3) column;
        slightly early (1 ms and 1e-9 relative) so that rounding never makes it late."""
        pool = self.pool
        inf = np.inf
        due = last_t + np.where(status == TENTATIVE, min(pool.tentative_max_age_s, pool.max_coast_s),
                                np.where(status == CONFIRMED, min(pool.coast_after_s, pool.max_coast_s), pool.max_coast_s))
        # covariance growth: c0 + c1 dt + c2 dt^2 > limit first for dt > the larger root
        c0, c1, c2 = tr0[:, 0], 2.0 * tr0[:, 1], tr0[:, 2]
        d = 2.0 * pool.max_pos_sigma_m**2 - c0
        den = c1 + np.sqrt(np.maximum(c1 * c1 + 4.0 * c2 * np.maximum(d, 0.0), 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            root = np.where(den > 0, 2.0 * np.maximum(d, 0.0) / den, np.where(d > 0, inf, 0.0))
        root = np.where(d < 0, -inf, root)
        due = np.fmin(due, t + root * (1.0 - 1e-9))
        due -= 1e-3
        due[status == _DEAD] = inf
        return due

    def _append(self, new: dict[str, np.ndarray]) -> None:
        """Add rows at the end of the track table; capacity doubles when full, so that
        births do not copy the whole table every step."""
        n0, n = self._rows, len(new["id"])
        cap = self._store["id"].shape[0]
        if n0 + n > cap:
            cap = max(2 * cap, n0 + n, 64)
            grown = {k: np.empty((cap, *v.shape[1:]), dtype=v.dtype) for k, v in self._store.items()}
            for k, v in self._tracks.items():
                grown[k][:n0] = v
            self._store = grown
        for k, v in self._store.items():
            v[n0 : n0 + n] = new[k]
        self._tracks = {k: v[: n0 + n] for k, v in self._store.items()}

    def _log_identity(self, t: FloatArray, rows: IntArray) -> None:
        a = self._tracks
        cap = self._id_log.shape[0]
        ev = np.stack([t, a["id"][rows], a["mmsi"][rows], a["icao24"][rows]], axis=1).astype(np.float64)[-cap:]
        self._id_log[(self._id_log_n + np.arange(ev.shape[0])) % cap] = ev
        self._id_log_n += ev.shape[0]


class _Collector:
    """Concatenates the StepResults of several rounds or re-run batches."""

    def __init__(self) -> None:
        self.parts: list[StepResult] = []

    def add(self, res: StepResult) -> None:
        self.parts.append(res)

    def result(self) -> StepResult:
        if not self.parts:
            return StepResult()
        return StepResult(
            self._cat("deleted_ids"), self._cat("merged").reshape(-1, 2), sum(p.late_dropped for p in self.parts),
            self._cat("spoof_ids"), self._cat("born_ids"), sum(p.assigned for p in self.parts),
            sum(p.rerun_batches for p in self.parts), sum(p.nonfinite_dropped for p in self.parts),
            sum(p.duplicates_merged for p in self.parts),
        )

    def _cat(self, name: str) -> IntArray:
        return np.concatenate([getattr(p, name) for p in self.parts])


def _popcount(v: IntArray) -> IntArray:
    """Set bits of non-negative int64 values, (n,) -> (n,)."""
    return np.bitwise_count(v.astype(np.uint64)).astype(np.int64)


def _update_models(
    xm: FloatArray, Pm: FloatArray, cbar: FloatArray, rows: IntArray, batch: MeasBatch, vel: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Every IMM model of n pairs (xm (n, r, 4), Pm (n, r, 4, 4), cbar (n, r)) updated with the
    batch ``rows`` (n,), position only or with velocity -> (xm, Pm, mu (n, r))."""
    xs, Ps, log_lik = _model_updates(xm, Pm, rows, batch, vel)
    return xs, Ps, (np.ones_like(cbar) if cbar.shape[1] == 1 else kalman.imm_posterior(cbar, log_lik))


def _model_updates(xm: FloatArray, Pm: FloatArray, rows: IntArray, batch: MeasBatch, vel: bool) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Kalman update of every IMM model of n pairs with the batch ``rows`` (n,) -> (xm, Pm,
    per-model log likelihood (n, r))."""
    H, m = (_H_FULL, 4) if vel else (_H_POS, 2)
    xs, Ps, inn = kalman.update(xm, Pm, _meas_z(batch, rows, m)[:, None, :], H, _meas_R(batch, rows, m)[:, None])
    return xs, Ps, inn.log_lik


def _distances(p: _Pairs, batch: MeasBatch) -> tuple[FloatArray, IntArray, FloatArray]:
    """Squared Mahalanobis distance of each pair's combined prediction (K,), its measurement
    dimension (K,) and the log Gaussian likelihood of its innovation (K,). A position-only row needs only the position block of the moment-matched
    state (the same numbers as the block of the full one, for a quarter of the work)."""
    meas = p.meas
    d2, log_lik = np.empty(meas.size), np.empty(meas.size)
    dims = np.where(batch.has_vel[meas], 4, 2)
    for m, H in ((2, _EYE2), (4, _H_FULL)):  # H of the combined block: the block itself
        sel = dims == m
        every = bool(sel.all())  # one kind of row: no masked copies
        if every or sel.any():
            rows, xm, Pm, cbar = (meas, p.xm, p.Pm, p.cbar) if every else (meas[sel], p.xm[sel], p.Pm[sel], p.cbar[sel])
            x, P = kalman.imm_combine(xm[..., :m], Pm[..., :m, :m], cbar)
            inn = kalman.innovation(x, P, _meas_z(batch, rows, m), H, _meas_R(batch, rows, m))
            if every:
                return inn.d2, dims, inn.log_lik
            d2[sel], log_lik[sel] = inn.d2, inn.log_lik
    return d2, dims, log_lik


def _meas_z(batch: MeasBatch, rows: IntArray, m: int) -> FloatArray:
    """z of ``rows``, first m components: (n, m)."""
    return batch.z_pos[rows] if m == 2 else batch.z[rows, :m]


def _meas_R(batch: MeasBatch, rows: IntArray, m: int) -> FloatArray:
    """R of ``rows``, first m x m block: (n, m, m)."""
    return batch.R_pos[rows] if m == 2 else batch.R[rows, :m, :m]


def _take(batch: MeasBatch, rows: IntArray | BoolArray) -> MeasBatch:
    """The sub-batch of ``rows``."""
    return MeasBatch(
        t=batch.t[rows], z=batch.z[rows], R=batch.R[rows], has_vel=batch.has_vel[rows], alt_m=batch.alt_m[rows],
        sigma_alt_m=batch.sigma_alt_m[rows], mmsi=batch.mmsi[rows], icao24=batch.icao24[rows],
        sensor_kind=batch.sensor_kind, sensor_id=batch.sensor_id, domain=batch.domain, look_en_m=batch.look_en_m,
    )


def _unique_rows(batch: MeasBatch) -> IntArray:
    """Rows (U,) of ``batch``, sorted, keeping the first of each set of exact duplicates: rows
    equal bit for bit in time, z, R, altitude and identity keys (NaN equals NaN)."""
    n = len(batch)
    cols = np.concatenate([batch.t[:, None], batch.z, batch.R.reshape(n, -1), batch.alt_m[:, None], batch.sigma_alt_m[:, None],
                           batch.has_vel[:, None], batch.mmsi[:, None], batch.icao24[:, None]], axis=1)  # float64: keys < 2^53 exact
    rows = np.ascontiguousarray(cols).view(np.dtype((np.void, cols.shape[1] * cols.itemsize))).ravel()
    return np.sort(np.unique(rows, return_index=True)[1])


def _identity_rounds(key: IntArray, t: FloatArray, none_key: int) -> list[IntArray | None]:
    """Split rows so that no identity key repeats within a round; rounds in time order.

    Returns [None] when the keys are already unique (the common case).
    """
    keyed = key != none_key
    if np.unique(key[keyed]).size == int(keyed.sum()):
        return [None]
    order = np.lexsort((t, key))
    k = key[order]
    start = np.r_[True, k[1:] != k[:-1]]
    group_start = np.maximum.accumulate(np.where(start, np.arange(k.size), 0))
    rank = np.empty(k.size, dtype=np.int64)
    rank[order] = np.arange(k.size) - group_start
    rank[~keyed] = 0
    return [np.flatnonzero(rank == r) for r in range(int(rank.max()) + 1)]
