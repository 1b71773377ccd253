"""Late measurements beyond the re-run window: each updates the track it belongs to at its
own time, by retrodiction (fusion/core/retrodict.py), with no re-run of the pool.

For one round of rows with unique identity keys (docs/TRACKER.md, "Late measurements"):

- a row whose identity a track holds goes to that track or nowhere; other rows are gated
  against every live track within physical reach (``reach_speed_mps`` plus the track's
  speed, times the lag) taken back to the row's time (chi-square ``gate_prob``) and
  assigned by GNN, a track's own identity first; a row that adopts a track without
  identity gives it its key (logged at the row's time);
- a track whose state is older than the row is predicted forward and updated as usual;
- a row with an identity no track holds that no track takes starts a tentative track at its
  own time (an open-ocean vessel heard only by late satellite AIS); anonymous rows no track
  takes are left (counted late by the caller): no radar track is born in the past.
"""

from __future__ import annotations

import numpy as np

from fusion.core import retrodict
from fusion.core.arrays import SENSOR_BIT, BoolArray, IntArray, MeasBatch, meas_R, meas_z
from fusion.core.assign import assign
from fusion.core.associate import identity_pairs
from fusion.core.gate import candidate_pairs, distances
from fusion.core.manage import BirthBudget, IdentityLog, LostTracks, adopt_identity, birth
from fusion.core.model import KEY_OF_KIND, NONE_KEY
from fusion.core.predict import EMPTY_INT, Pairs, predict_pairs
from fusion.core.table import DEAD, TrackTable
from fusion.core.update import (  # the measurement matrices of position / position + velocity rows
    _H_FULL,
    _H_POS,
    update,
)


def late_round(tab: TrackTable, ids: IdentityLog, budget: BirthBudget, batch: MeasBatch, first_id: int,
               lost: LostTracks | None = None) -> tuple[BoolArray, IntArray, IntArray, IntArray, tuple[IntArray, IntArray]]:
    """One round (identity keys unique) -> (rows (M,) that updated a track, ids born (new ids
    count up from ``first_id``), rows of the table changed, rows whose update went non-finite,
    (ids given up (k,), ids taken (k,)) by tracks that took an address of a deleted track
    (``manage.adopt_identity``, ``lost``))."""
    keyname = KEY_OF_KIND.get(batch.sensor_kind)
    none_key = NONE_KEY[keyname] if keyname else 0
    meas_key = getattr(batch, keyname) if keyname else np.full(len(batch), none_key)
    held = np.zeros(len(batch), dtype=bool)  # rows whose identity a track holds: that track or none
    if keyname is not None:
        held[identity_pairs(tab, meas_key, none_key, keyname)[1]] = True
    taken, changed, bad, relinked = _assign_late(tab, ids, batch, keyname, none_key, meas_key, held, lost)
    new = (meas_key != none_key) & ~held & ~taken
    rows_before = tab.rows
    born = birth(tab, ids, budget, batch, new, new, keyname, first_id) if new.any() else EMPTY_INT
    changed = np.concatenate([changed, np.arange(rows_before, tab.rows, dtype=np.int64)])
    return taken, born, changed, bad, relinked


def _assign_late(tab: TrackTable, ids: IdentityLog, batch: MeasBatch, keyname: str | None, none_key: int,
                 meas_key: IntArray, held: BoolArray,
                 lost: LostTracks | None) -> tuple[BoolArray, IntArray, IntArray, tuple[IntArray, IntArray]]:
    """Gate, assign and apply rows to existing tracks -> (rows (M,) that updated one, table rows
    changed, table rows whose update went non-finite, (ids given up, ids taken) by re-links)."""
    a, mod = tab.cols, tab.mod
    taken = np.zeros(len(batch), dtype=bool)
    none = (EMPTY_INT, EMPTY_INT)
    if len(tab) == 0:
        return taken, EMPTY_INT, EMPTY_INT, none
    live = np.flatnonzero(a["status"] != DEAD)
    lag_max = max(float(np.max(a["t"][live])) - float(batch.t.min()), 0.0)
    r_max = float((batch.R_pos[:, 0, 0] + batch.R_pos[:, 1, 1]).max())
    reach = np.sqrt(mod.gate[2] * (np.maximum(a["trc"][live, 0], 0.0) + r_max))
    reach += (mod.pool.reach_speed_mps + np.hypot(a["cx"][live, 2], a["cx"][live, 3])) * lag_max
    pairs = candidate_pairs(a["cx"][live, :2], reach, batch.z_pos)
    tr, me = live[pairs[:, 0]], pairs[:, 1]
    if keyname is not None:  # a keyed row goes only to its own track, or to one without identity
        own = a[keyname][tr] == meas_key[me]
        ok = np.where(meas_key[me] != none_key, own | ((a[keyname][tr] == none_key) & ~held[me]), True)
        tr, me = tr[ok], me[ok]
    if tr.size == 0:
        return taken, EMPTY_INT, EMPTY_INT, none
    lag = a["t"][tr] - batch.t[me]
    back = retrodict.retrodict(a["xm"][tr], a["Pm"][tr], np.maximum(lag, 0.0), mod.q)
    fwd = lag < 0  # the track is older than the row: predict it forward instead
    if fwd.any():
        ahead = predict_pairs(tab, tr[fwd], me[fwd], batch)
        back.x[fwd], back.P[fwd] = ahead.xm, ahead.Pm
    d2, dims = distances(Pairs(tr, me, back.x, back.P, a["mu"][tr]), batch)
    gate = np.where(dims == 4, mod.gate[4], mod.gate[2])
    inside = np.flatnonzero(d2 <= gate)
    if inside.size == 0:
        return taken, EMPTY_INT, EMPTY_INT, none
    tr, me, cost = tr[inside], me[inside], d2[inside] / gate[inside]
    if keyname is not None:
        cost = np.where(a[keyname][tr] == meas_key[me], 0.0, cost)  # its own track first
    won = assign(np.stack([tr, me], axis=1), cost, 1.0).chosen
    tr, me, pair, fwd = tr[won], me[won], inside[won], fwd[inside[won]]
    bad = [EMPTY_INT]
    if fwd.any():
        bad.append(update(tab, predict_pairs(tab, tr[fwd], me[fwd], batch), batch))
    if (~fwd).any():
        b = ~fwd
        bad.append(_retrodicted_update(tab, tr[b], me[b], batch, back, pair[b]))
    relinked = none
    if keyname is not None:
        adopt = (a[keyname][tr] == none_key) & (meas_key[me] != none_key)
        if adopt.any():
            relinked = adopt_identity(tab, ids, keyname, tr[adopt], meas_key[me[adopt]], batch.t[me[adopt]], lost)
    taken[me] = True
    return taken, tr, np.concatenate(bad), relinked


def _retrodicted_update(tab: TrackTable, tr: IntArray, me: IntArray, batch: MeasBatch, back: retrodict.Retrodicted,
                        pair: IntArray) -> IntArray:
    """Commit the retrodiction update of tracks ``tr`` with rows ``me`` (``pair``: their entries in
    ``back``); the state keeps its time. Returns the rows whose result went non-finite (not written)."""
    a = tab.cols
    vel = batch.has_vel[me]
    xm, Pm, mu = a["xm"][tr], a["Pm"][tr], a["mu"][tr]
    for v, H, m in ((False, _H_POS, 2), (True, _H_FULL, 4)):
        sel = vel == v
        if sel.any():
            part = retrodict.Retrodicted(back.x[pair[sel]], back.P[pair[sel]], back.Finv_T[pair[sel]])
            xm[sel], Pm[sel], mu[sel] = retrodict.oosm_update(xm[sel], Pm[sel], mu[sel], part, meas_z(batch, me[sel], m), H,
                                                              meas_R(batch, me[sel], m))
    ok = np.isfinite(xm).all(axis=(1, 2)) & np.isfinite(Pm).all(axis=(1, 2, 3)) & np.isfinite(mu).all(axis=1)
    bad = tr[~ok]  # the guard: a non-finite result is never committed
    tr, me = tr[ok], me[ok]
    a["xm"][tr], a["Pm"][tr], a["mu"][tr] = xm[ok], Pm[ok], mu[ok]
    tab.refresh(tr)
    col = "last_ais_t" if batch.sensor_kind in KEY_OF_KIND else "last_noncoop_t"
    a[col][tr] = np.fmax(a[col][tr], batch.t[me])
    a["sources"][tr] |= SENSOR_BIT[batch.sensor_kind]
    return bad
