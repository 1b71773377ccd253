"""The tracker: one pool of tracks (surface or air), stepped by measurement batches.

The stages are components over one ``TrackTable`` (fusion/core/table.py: columns with a
leading track axis, capacity, lazy deletion, derived columns refreshed in one place);
each step reads like the algorithm (see docs/TRACKER.md):

1. identity first (``associate.identity_pairs``, ``gate.feasible``): cooperative rows
   whose MMSI / ICAO address names a track update it directly, unless the report is
   kinematically impossible (spoof flag);
2. gate (``gate.gate_pairs``): grid (or k-d tree) candidates among the tracks the batch
   can reach, exact chi-square test on the pair-wise prediction (``predict``);
3. associate (``associate.associate``): GNN with a miss column (one sparse assignment),
   confirmed and coasting tracks first, tentative tracks on the plots left over; or
   (``association = "jpda"``, ``associate.jpda``) JPDA for the confirmed and coasting
   tracks, GNN for the tentative ones on the plots JPDA did not claim; with
   ``confirmation = "score"`` the tentative tracks' score (SPRT) against clutter;
4. update (``update.update``): batched IMM (Joseph form) at each measurement's own time,
   plus altitude;
5. manage (``manage``): M-of-N confirmation, misses, identity adoption, duplicate merges,
   births, deletion on misses, age or covariance growth.

Out-of-sequence batches within ``oosm_lag_s`` are handled by a fixed-lag re-run from the
newest state checkpoint before them (``oosm.ReplayLog``) while their source's re-run budget
lasts (``oosm.RerunBudget``; beyond it their identified rows by retrodiction), except a
cooperative batch at most ``coop_skew_s`` older than the newest processed time, fused in place
(ingest coalesces AIS and ADS-B reports across the radar scans of their pool for that long);
older rows within ``late_max_age_s`` by retrodiction of the track each belongs to
(``late.late_round``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from fusion.core import kalman, manage
from fusion.core.arrays import CONFIRMED, TENTATIVE, Domain, FloatArray, IntArray, MeasBatch, TrackView, take_rows
from fusion.core.associate import associate, identity_pairs, identity_rounds, jpda, log_clutter_density, unique_rows
from fusion.core.config import PoolConfig, TrackerConfig
from fusion.core.gate import feasible, gate_pairs, innovations
from fusion.core.late import late_round
from fusion.core.manage import (
    BirthBudget,
    IdentityLog,
    LostTracks,
    adopt_identity,
    birth,
    count_miss,
    count_misses,
    expire,
    merge,
    stitch,
)
from fusion.core.model import KEY_OF_KIND, NONE_KEY, PoolModel
from fusion.core.oosm import ReplayLog, RerunBudget
from fusion.core.predict import EMPTY_INT, Pairs, predict_alt, predict_pairs
from fusion.core.table import DEAD, TrackTable
from fusion.core.update import commit, rcs_dbsm, update

__all__ = ["PoolConfig", "StepResult", "Tracker", "TrackerConfig"]


@dataclass(frozen=True)
class StepResult:
    """What one step or advance changed.

    deleted_ids: (D,) tracks deleted (including tracks absorbed by a merge, and the ids a track gave up
                 to continue a lost one: stitched, or re-linked by the address it took)
    merged:      (K, 2) [absorbed id, surviving id]
    late_dropped: measurements older than the out-of-sequence lag, dropped
    spoof_ids:   (S,) tracks for which a cooperative report was kinematically impossible
    born_ids:    (B,) tracks started (and the lost ids stitched or re-linked back)
    assigned:    measurements that updated a track
    rerun_batches: logged batches processed again because this one came out of sequence
    nonfinite_dropped: tracks deleted because their state went non-finite (their ids are in
                 deleted_ids; not expected: the filters are numerically safe, this is the guard)
    duplicates_merged: cooperative rows dropped as exact duplicates of another row of the batch
                 (one AIS / ADS-B report forwarded by several receivers: no new information;
                 a re-run counts its batches' duplicates again)
    late_fused:  measurements older than the re-run window (``oosm_lag_s``), within
                 ``late_max_age_s``, or out of sequence beyond their source's re-run budget,
                 that updated a track by retrodiction (also in ``assigned``)
    rerun_refused: measurements of out-of-sequence batches that were not re-run because their
                 source's re-run budget (``rerun_budget_s_per_s``) was spent: those with an
                 identity fused by retrodiction instead, the rest (and those no track took)
                 in ``late_dropped``
    rerun_s:     batch time (s) a re-run replayed (from its checkpoint to the newest processed
                 time), what it charged to its source's re-run budget
    identity_refused: cooperative reports kinematically impossible for the live track holding
                 their identity (that track is in ``spoof_ids``) that no other track took:
                 dropped, never a second track of one MMSI / ICAO address
    """

    deleted_ids: IntArray = field(default_factory=lambda: EMPTY_INT)
    merged: IntArray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    late_dropped: int = 0
    spoof_ids: IntArray = field(default_factory=lambda: EMPTY_INT)
    born_ids: IntArray = field(default_factory=lambda: EMPTY_INT)
    assigned: int = 0
    rerun_batches: int = 0
    nonfinite_dropped: int = 0
    duplicates_merged: int = 0
    late_fused: int = 0
    rerun_refused: int = 0
    rerun_s: float = 0.0
    identity_refused: int = 0


class Tracker:
    """One track pool; the only mutable state of the numeric core."""

    def __init__(self, config: TrackerConfig, domain: Domain) -> None:
        self.config = config
        self.domain: Domain = domain
        self.model = PoolModel.build(config, domain)
        self.pool: PoolConfig = self.model.pool
        self._table = TrackTable(self.model)
        self._next_id = 1
        self._id_floor = 1  # ids below this are never handed out again (``reserve_ids``)
        self._now = -np.inf  # newest batch time processed
        self._ids = IdentityLog(config.identity_history)
        self._lost = LostTracks(config.lost_track_history, self.model.n_models) if config.lost_track_history else None
        self._births = BirthBudget(config)  # source -> birth tokens (manage.BirthBudget)
        self._oosm = ReplayLog(config)
        self._reruns = RerunBudget(config)  # per source: batch time re-run for its out-of-sequence batches

    # ------------------------------------------------------------------ public API

    def __len__(self) -> int:
        """Live tracks."""
        return len(self._table)

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
        out = _Collector()
        dropped = 0
        if late.any():
            retro = late & (batch.t >= self._now - self.config.late_max_age_s)  # none when late_max_age_s is 0
            if retro.any():
                part = take_rows(batch, retro)
                self._oosm.add_late(self._now, part)
                out.add(self._late(part))
            dropped = int((late & ~retro).sum())
            if late.all():
                out.add(StepResult(late_dropped=dropped))
                return out.result()
            batch = take_rows(batch, ~late)
        oldest = float(batch.t.min())
        if oldest < self._now and not (batch.sensor_kind in KEY_OF_KIND and oldest >= self._now - self.config.coop_skew_s):
            out.add(self._out_of_sequence(batch))
        else:  # in order, or a cooperative batch within coop_skew_s: fused in place
            self._oosm.maybe_checkpoint(oldest, self._now, self.snapshot, self._births.state)
            self._oosm.append(batch)
            out.add(self._process(batch))
        out.add(StepResult(late_dropped=dropped))
        return out.result()

    def advance(self, t: float) -> StepResult:
        """Coast and delete up to time ``t`` without data."""
        return StepResult(deleted_ids=expire(self._table, float(t), lost=self._lost))

    def view(self, t: float) -> TrackView:
        """All live tracks predicted to ``t`` (not committed); their covariance is predicted
        on demand, from copies of the model states (later steps do not change it)."""
        tab = self._table
        a = tab.cols
        keep = a["status"] != DEAD if tab.n_dead else None

        def col(k: str) -> np.ndarray:
            """A copy of one column's live rows."""
            return a[k][keep] if keep is not None else a[k].copy()

        dt = np.maximum(t - col("t"), 0.0)
        rcs = col("rcs")
        xm, Pm, mu, q = col("xm"), col("Pm"), col("mu"), self.model.q
        alt, _ = predict_alt(col("alt"), col("Palt"), dt, self.pool.q_alt_mps2)

        def covariance(rows: IntArray | None) -> FloatArray:
            r = slice(None) if rows is None else rows
            xr, Pr = kalman.cv_predict(xm[r], Pm[r], dt[r], q, 2)
            return kalman.imm_combine(xr, Pr, mu[r])[1]

        return TrackView(
            t=float(t), domain=self.domain, track_id=col("id"), status=col("status"), x=kalman.imm_mean(kalman.cv_predict_state(xm, dt, 2), mu),
            covariance=covariance, alt_m=alt[:, 0], vrate_mps=alt[:, 1], mmsi=col("mmsi"), icao24=col("icao24"),
            first_t=col("first_t"), last_t=col("last_t"), last_ais_t=col("last_ais_t"), last_noncoop_t=col("last_noncoop_t"),
            sources=col("sources"), spoof_suspect=col("spoof"), rcs_dbsm=rcs_dbsm(rcs[:, 0]), rcs_looks=rcs[:, 1].astype(np.int64),
        )

    def identity_history(self) -> FloatArray:
        """(H, 4) [t, track_id, mmsi, icao24] identity changes, oldest first (bounded ring)."""
        return self._ids.history()

    @property
    def births_refused(self) -> Counter[str]:
        """New tracks refused per source ("kind/source") by its birth budget, since start."""
        return self._births.refused

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
        snap = {f"track.{k}": v for k, v in self._table.state().items()}
        snap["next_id"] = np.array(self._next_id, dtype=np.int64)
        snap["now"] = np.array(self._now)
        snap["id_log"] = self._ids.ring.copy()
        snap["id_log_n"] = np.array(self._ids.n, dtype=np.int64)
        if self._lost is not None:
            snap.update({f"lost.{k}": v for k, v in self._lost.state().items()})
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
        self._table.load({k.removeprefix("track."): v for k, v in snap.items() if k.startswith("track.")})
        self._next_id = max(int(snap["next_id"]), self._id_floor)
        self._ids.ring = snap["id_log"].copy()
        self._ids.n = int(snap["id_log_n"])
        if self._lost is not None:
            self._lost.load({k.removeprefix("lost."): v for k, v in snap.items() if k.startswith("lost.")})

    def _out_of_sequence(self, batch: MeasBatch) -> StepResult:
        """A batch within the lag, older than the newest processed: re-run when its source's
        re-run budget (``oosm.RerunBudget``) covers the batch time to replay; else counted in
        ``rerun_refused``, its rows with an identity (AIS, ADS-B) fused by retrodiction (``_late``),
        its anonymous rows (radar plots, OTH fixes) dropped as late: retrodiction could start no
        track from them, and gating each against the tracks taken back to its time costs about
        what the re-run would (a clutter flood of 20,000 plots a scan: ~1.4 s CPU a scan)."""
        since = self._oosm.rewind_to(float(batch.t.min()))
        if since is None:
            return self._rerun(batch)  # (nothing to rewind to: dropped as late)
        if self._reruns.allow(f"{batch.sensor_kind}/{batch.sensor_id}", self._now, self._now - since):
            return replace(self._rerun(batch), rerun_s=self._now - since)
        key = KEY_OF_KIND.get(batch.sensor_kind)
        keyed = getattr(batch, key) != NONE_KEY[key] if key else np.zeros(len(batch), dtype=bool)
        res = StepResult()
        if keyed.any():
            part = batch if keyed.all() else take_rows(batch, keyed)
            self._oosm.add_late(self._now, part)
            res = self._late(part)
        return replace(res, late_dropped=res.late_dropped + int((~keyed).sum()), rerun_refused=len(batch))

    def _rerun(self, batch: MeasBatch) -> StepResult:
        """Fixed-lag re-run: restore the newest checkpoint before ``batch`` and replay."""
        found = self._oosm.rewind(batch)
        if found is None:
            return StepResult(late_dropped=len(batch))
        cp, replay = found
        alive_before = self._table.live()["id"].copy()
        self._load(cp.snap)
        self._births = BirthBudget(self.config, cp.births, self._births.refused)
        self._now = cp.t
        out = _Collector()
        for b in replay:
            out.add(self._process(b))
        for b in self._oosm.late_since(cp.t):  # retrodicted rows the restored state had not seen: again, at the end
            out.add(self._late(b))
        alive_after = self._table.live()["id"]
        vanished = np.setdiff1d(alive_before, alive_after)
        res = out.result()
        return StepResult(vanished, res.merged, 0, res.spoof_ids, np.setdiff1d(res.born_ids, alive_before),
                          res.assigned, len(replay), res.nonfinite_dropped, res.duplicates_merged,
                          identity_refused=res.identity_refused)

    def _late(self, batch: MeasBatch) -> StepResult:
        """Rows older than the re-run window, within ``late_max_age_s``: fused by retrodiction
        into the tracks they belong to, identified rows no track takes started at their own
        time, the rest dropped (fusion/core/late.py); identity keys in time-ordered rounds."""
        key = KEY_OF_KIND.get(batch.sensor_kind)
        rounds = identity_rounds(getattr(batch, key), batch.t, NONE_KEY[key]) if key else [None]
        fused, born, changed, bad, gave, took = 0, [EMPTY_INT], [EMPTY_INT], [EMPTY_INT], [EMPTY_INT], [EMPTY_INT]
        for rows in rounds:
            taken, ids, rows_changed, rows_bad, relinked = late_round(self._table, self._ids, self._births,
                                                                      batch if rows is None else take_rows(batch, rows),
                                                                      self._next_id, self._lost)
            self._next_id = manage.next_free_id(self._next_id, ids)
            fused += int(taken.sum())
            born.append(ids)
            gave.append(relinked[0])
            took.append(relinked[1])
            changed.append(rows_changed)
            bad.append(rows_bad)
        gone = np.unique(np.concatenate(bad))
        deleted = np.concatenate([*gave, expire(self._table, self._now, gone, np.concatenate(changed), self._lost)])
        born_ids = np.concatenate(born)
        return StepResult(deleted_ids=deleted, late_dropped=len(batch) - fused - born_ids.size,
                          born_ids=np.concatenate([born_ids, *took]),
                          assigned=fused, nonfinite_dropped=int(gone.size), late_fused=fused)

    # ------------------------------------------------------------------ one batch

    def _process(self, batch: MeasBatch) -> StepResult:
        """Split a batch into rounds with unique identity keys and process each.

        When identity keys repeat, exact duplicate rows (the same report from several
        receivers: same key, time, measurement and noise) are merged first, keeping one: a
        second update with the same measurement would count it twice and halve the
        covariance for no new information. Other repeats (successive reports of one target)
        are processed in time order, one round each."""
        key = KEY_OF_KIND.get(batch.sensor_kind)
        out = _Collector()
        if key is None:
            out.add(self._process_round(batch))
        else:
            rounds = identity_rounds(getattr(batch, key), batch.t, NONE_KEY[key])
            merged = 0
            if rounds[0] is not None:  # keys repeat
                unique = unique_rows(batch)
                if unique.size < len(batch):
                    merged, batch = len(batch) - unique.size, take_rows(batch, unique)
                    rounds = identity_rounds(getattr(batch, key), batch.t, NONE_KEY[key])
            if merged:
                out.add(StepResult(duplicates_merged=merged))
            for rows in rounds:
                out.add(self._process_round(batch if rows is None else take_rows(batch, rows)))
        return out.result()

    def _process_round(self, batch: MeasBatch) -> StepResult:
        tab = self._table
        a = tab.cols
        tb = float(batch.t.max())
        keyname = KEY_OF_KIND.get(batch.sensor_kind)
        meas_key = getattr(batch, keyname) if keyname else None
        none_key = NONE_KEY[keyname] if keyname else 0

        # 1. identity first
        id_track, id_meas = identity_pairs(tab, meas_key, none_key, keyname)
        idp = predict_pairs(tab, id_track, id_meas, batch)
        ok = feasible(tab, idp, batch)
        spoof_rows = id_track[~ok]
        a["spoof"][spoof_rows] = True
        fixed_track, fixed_meas = id_track[ok], id_meas[ok]
        adopt = np.zeros(len(batch), dtype=bool)  # rows whose identity a kinematic match takes
        if meas_key is not None:
            adopt = meas_key != none_key
            adopt[id_meas] = False  # known identity: either updated directly or stripped (spoof)

        # 2. gate the rest
        free_track = a["status"] != DEAD
        free_track[id_track] = False
        free_meas = np.ones(len(batch), dtype=bool)
        free_meas[fixed_meas] = False
        kp, cost, bad_gate = gate_pairs(tab, batch, free_track, free_meas, adopt, keyname, none_key)

        # 3. associate (JPDA: confirmed and coasting tracks by probabilities, then tentative ones by GNN)
        cfg = self.config
        log_lik = innovations(kp, batch)[2] if cfg.association == "jpda" or cfg.confirmation == "score" else None
        pda = jpda(tab, kp, log_lik, batch, fixed_meas.size) if cfg.association == "jpda" and log_lik is not None else None
        won = associate(tab, kp, cost, len(batch), None if pda is None else pda.claimed)
        if log_lik is not None:
            self._score(kp, won, log_lik, batch, fixed_meas.size + (0 if pda is None else int(pda.claimed.sum())))
        hit_track = np.concatenate([fixed_track, kp.track[won]])
        hit_meas = np.concatenate([fixed_meas, kp.meas[won]])
        chosen = idp.take(ok).then(kp.take(won)) if ok.any() else kp.take(won)

        # 4. update
        was_tentative = a["status"][hit_track] == TENTATIVE
        bad_update = update(tab, chosen, batch)
        pda_missed = EMPTY_INT
        if pda is not None:
            h, miss = pda.hit, ~pda.hit
            bad_update = np.concatenate([bad_update,
                                         commit(tab, pda.track[h], pda.meas[h], pda.xm[h], pda.Pm[h], pda.mu[h], batch),
                                         commit(tab, pda.track[miss], pda.meas[miss], pda.xm[miss], pda.Pm[miss],
                                                pda.mu[miss], batch, hit=False)])
            pda_missed = pda.track[miss]
            hit_track, hit_meas = np.concatenate([hit_track, pda.track[h]]), np.concatenate([hit_meas, pda.meas[h]])
        manage.note_heights(tab, batch, hit_track, hit_meas)
        taken = adopt[hit_meas]
        relinked_from, relinked_to = EMPTY_INT, EMPTY_INT
        if taken.any():  # (a track that takes an address whose holder is deleted continues it under its id)
            assert keyname is not None and meas_key is not None
            relinked_from, relinked_to = adopt_identity(tab, self._ids, keyname, hit_track[taken], meas_key[hit_meas[taken]],
                                                        batch.t[hit_meas[taken]], self._lost)

        # 5. manage
        looked = count_misses(tab, batch, np.concatenate([hit_track, pda_missed]), kp.track)
        if pda_missed.size and batch.sensor_kind == "radar":  # updated by JPDA, but more likely not detected
            count_miss(tab, pda_missed)
            looked = np.concatenate([looked, pda_missed])
        merged, absorbed, kept = merge(tab, self._ids, kp, tb)
        stitched_from, stitched_to = EMPTY_INT, EMPTY_INT
        if self._lost is not None:  # new confirmed tracks continue lost ones (track segment association)
            confirmed_now = hit_track[: was_tentative.size][was_tentative]
            confirmed_now = np.setdiff1d(confirmed_now[a["status"][confirmed_now] == CONFIRMED], absorbed)
            confirmed_now = confirmed_now[~np.isin(a["id"][confirmed_now], relinked_to)]  # continued by identity already
            stitched_from, stitched_to = stitch(tab, self._lost, self._ids, confirmed_now)
        used = np.zeros(len(batch), dtype=bool) if pda is None else pda.claimed
        used[hit_meas] = True
        stripped = id_meas[~ok]  # identity impossible for its track: gated as anonymous above
        refused = stripped[~used[stripped]]  # ... and no track took it: one address, one track, none born
        used[refused] = True
        rows_before = tab.rows
        born = birth(tab, self._ids, self._births, batch, ~used, adopt, keyname, self._next_id)
        self._next_id = manage.next_free_id(self._next_id, born)
        self._now = max(self._now, tb)
        spoof_ids = a["id"][spoof_rows].copy()
        # rows whose counters, status or state changed: the only ones (with those whose
        # time rules are due) that a deletion rule can newly apply to
        touched = np.concatenate([hit_track, looked, kept, np.arange(rows_before, tab.rows, dtype=np.int64)])
        bad = np.unique(np.concatenate([bad_gate, bad_update]))
        deleted = np.concatenate([relinked_from, stitched_from, expire(tab, tb, np.concatenate([absorbed, bad]), touched, self._lost)])
        return StepResult(deleted, merged, 0, spoof_ids, np.concatenate([born, relinked_to, stitched_to]), int(hit_meas.size),
                          nonfinite_dropped=int(bad.size), identity_refused=int(refused.size))


    def _score(self, kp: Pairs, won: IntArray, log_lik: FloatArray, batch: MeasBatch, taken: int) -> None:
        """Track score of the tentative tracks among the chosen pairs ``won``: + ln(Pd N(nu; 0, S)
        / lambda), lambda the plots no track took (``taken`` by identity or JPDA, plus ``won``)
        over the scan's area."""
        tab = self._table
        tent = won[tab.cols["status"][kp.track[won]] == TENTATIVE]
        if tent.size:
            log_lambda = log_clutter_density(self.config, batch, len(batch) - taken - won.size)
            tab.cols["llr"][kp.track[tent]] += np.log(self.config.detection_prob) + log_lik[tent] - log_lambda


class _Collector:
    """Concatenates the StepResults of several rounds or re-run batches."""

    def __init__(self) -> None:
        self.parts: list[StepResult] = []

    def add(self, res: StepResult) -> None:
        self.parts.append(res)

    def result(self) -> StepResult:
        if not self.parts:
            return StepResult()
        if len(self.parts) == 1:  # one round (the common case): nothing to concatenate
            return self.parts[0]
        return StepResult(
            self._cat("deleted_ids"), self._cat("merged").reshape(-1, 2), sum(p.late_dropped for p in self.parts),
            self._cat("spoof_ids"), self._cat("born_ids"), sum(p.assigned for p in self.parts),
            sum(p.rerun_batches for p in self.parts), sum(p.nonfinite_dropped for p in self.parts),
            sum(p.duplicates_merged for p in self.parts), sum(p.late_fused for p in self.parts),
            sum(p.rerun_refused for p in self.parts), sum(p.rerun_s for p in self.parts),
            sum(p.identity_refused for p in self.parts),
        )

    def _cat(self, name: str) -> IntArray:
        return np.concatenate([getattr(p, name) for p in self.parts])
