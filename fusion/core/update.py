"""Update stage: the chosen pairs' batched IMM update (each model in Joseph form, model
probabilities from the Gaussian likelihoods), the altitude filter, the radar cross-section
estimate and the hit counters, committed to the track table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fusion.core import kalman
from fusion.core.arrays import CONFIRMED, SENSOR_BIT, TENTATIVE, FloatArray, IntArray, MeasBatch, meas_R, meas_z
from fusion.core.jpda import score_thresholds
from fusion.core.model import KEY_OF_KIND
from fusion.core.predict import EMPTY_INT, Pairs, predict_alt

if TYPE_CHECKING:
    from fusion.core.table import TrackTable

_H_POS = np.hstack([np.eye(2), np.zeros((2, 2))])
_H_FULL = np.eye(4)
_H_ALT = np.array([[1.0, 0.0]])
RCS_LOOKS_MAX = 20
"""Memory of the RCS estimate, looks: the mean of the first looks, then an exponential average with weight
1 / RCS_LOOKS_MAX. Under Swerling I a look is exponential about the mean RCS, so 20 looks hold the estimate to
a relative standard deviation of sqrt(1 / 39) = 0.16 (+-0.7 dB) in steady state (1 / sqrt(20) = 0.22 as a plain
mean), while a change of the target behind the track (two hulls merged into one plot, an identity swap) shows
within 20 looks (80-200 s of 4-10 s scans)."""


def update(tab: TrackTable, p: Pairs, batch: MeasBatch) -> IntArray:
    """IMM update of the chosen pairs ``p`` (each track once) at their measurement times;
    commit state, derived columns, times, sources, hit history and confirmation (``commit``).

    Returns the rows whose updated state went non-finite: not written (the guard; the
    caller deletes them; not expected, the filters are numerically safe).
    """
    if p.track.size == 0:
        return EMPTY_INT
    has_vel = batch.has_vel[p.meas]
    if has_vel.all() or not has_vel.any():  # one measurement model for all: no masks
        xm, Pm, mu = update_models(p.xm, p.Pm, p.cbar, p.meas, batch, bool(has_vel[0]))
    else:
        xm, Pm, mu = p.xm.copy(), p.Pm.copy(), p.cbar.copy()
        for vel in (False, True):
            sel = has_vel == vel
            xm[sel], Pm[sel], mu[sel] = update_models(p.xm[sel], p.Pm[sel], p.cbar[sel], p.meas[sel], batch, vel)
    return commit(tab, p.track, p.meas, xm, Pm, mu, batch)


def commit(tab: TrackTable, tr: IntArray, rows: IntArray, xm: FloatArray, Pm: FloatArray, mu: FloatArray,
           batch: MeasBatch, hit: bool = True) -> IntArray:
    """Write updated states (xm (n, r, 4), Pm (n, r, 4, 4), mu (n, r)) of track rows ``tr`` (n,),
    each updated by batch row ``rows`` (n,) (at its time), and count a hit: altitude, times,
    sources, hit history, confirmation (M-of-N or track score). ``hit`` False: the state only
    (a JPDA update of a track more likely not detected). Returns the rows whose state went
    non-finite: not written."""
    a, config = tab.cols, tab.mod.config
    if tr.size == 0:
        return EMPTY_INT
    bad = EMPTY_INT
    # the guard: a non-finite state is never committed. Any NaN or inf makes a sum non-finite, so
    # finite sums (three flat reductions) clear every row; the per-row test runs only otherwise
    if not np.isfinite(xm.sum() + Pm.sum() + mu.sum()):
        finite = np.isfinite(xm).all(axis=(1, 2)) & np.isfinite(Pm).all(axis=(1, 2, 3)) & np.isfinite(mu).all(axis=1)
        bad = tr[~finite]
        tr, rows, xm, Pm, mu = tr[finite], rows[finite], xm[finite], Pm[finite], mu[finite]
        if tr.size == 0:
            return bad
    t_meas = batch.t[rows]
    if hit and (np.isfinite(batch.alt_m[rows]).any() or np.isfinite(a["alt"][tr, 0]).any()):  # else nothing changes
        a["alt"][tr], a["Palt"][tr] = update_alt(tab, tr, rows, batch)
    # a cooperative row fused in place behind a newer update (TrackerConfig.coop_skew_s) was applied
    # at the track's time (prediction by max(dt, 0)): the track's time never goes back
    a["xm"][tr], a["Pm"][tr], a["mu"][tr], a["t"][tr] = xm, Pm, mu, np.fmax(a["t"][tr], t_meas)
    tab.refresh(tr, (xm, Pm, mu))
    if not hit:
        return bad
    a["last_t"][tr] = np.maximum(a["last_t"][tr], t_meas)
    coop = batch.sensor_kind in KEY_OF_KIND
    stamp = "last_ais_t" if coop else "last_noncoop_t"
    a[stamp][tr] = np.fmax(a[stamp][tr], t_meas)
    a["sources"][tr] |= SENSOR_BIT[batch.sensor_kind]
    if batch.sensor_kind == "radar":
        a["rcs"][tr] = update_rcs(a["rcs"][tr], batch.rcs_dbsm[rows])
    ivl = batch.interval_s[rows]  # a source of unknown interval keeps the track's known one
    a["ivl"][tr] = np.where(np.isnan(ivl), a["ivl"][tr], ivl)
    a["hist"][tr] = (a["hist"][tr] << 1) | 1
    a["looks"][tr] += 1
    a["miss_run"][tr] = 0
    if config.confirmation == "score":
        confirm = a["llr"][tr] >= score_thresholds(config)[0]
    else:
        confirm = popcount(a["hist"][tr] & ((1 << config.confirm_n) - 1)) >= config.confirm_m
    a["status"][tr] = np.where((a["status"][tr] != TENTATIVE) | confirm, CONFIRMED, TENTATIVE)
    return bad


def update_models(
    xm: FloatArray, Pm: FloatArray, cbar: FloatArray, rows: IntArray, batch: MeasBatch, vel: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Every IMM model of n pairs (xm (n, r, 4), Pm (n, r, 4, 4), cbar (n, r)) updated with the
    batch ``rows`` (n,), position only or with velocity -> (xm, Pm, mu (n, r))."""
    xs, Ps, log_lik = model_updates(xm, Pm, rows, batch, vel)
    return xs, Ps, (np.ones_like(cbar) if cbar.shape[1] == 1 else kalman.imm_posterior(cbar, log_lik))


def model_updates(xm: FloatArray, Pm: FloatArray, rows: IntArray, batch: MeasBatch, vel: bool) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Kalman update (Joseph form) of every IMM model of n pairs (xm (n, r, 4), Pm (n, r, 4, 4))
    with the batch ``rows`` (n,), position only or with velocity -> (xm, Pm, per-model log
    likelihood (n, r))."""
    H, m = (_H_FULL, 4) if vel else (_H_POS, 2)
    xs, Ps, inn = kalman.update(xm, Pm, meas_z(batch, rows, m)[:, None, :], H, meas_R(batch, rows, m)[:, None])
    return xs, Ps, inn.log_lik


def update_alt(tab: TrackTable, tr: IntArray, rows: IntArray, batch: MeasBatch) -> tuple[FloatArray, FloatArray]:
    """Altitude filter of the tracks ``tr`` (n,) updated by the batch ``rows`` (n,): predict to
    the measurement time, update, or start from the report -> (alt (n, 2), Palt (n, 2, 2))."""
    a, pool = tab.cols, tab.mod.pool
    alt, Palt = a["alt"][tr], a["Palt"][tr]
    tracked = np.isfinite(alt[:, 0])  # the others (no altitude yet) have nothing to predict
    if tracked.any():
        dt = np.maximum(batch.t[rows[tracked]] - a["t"][tr[tracked]], 0.0)
        alt[tracked], Palt[tracked] = predict_alt(alt[tracked], Palt[tracked], dt, pool.q_alt_mps2)
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
    Palt[start, 1, 1] = pool.init_vrate_sigma_mps**2
    return alt, Palt


def update_rcs(rcs: FloatArray, look_dbsm: FloatArray) -> FloatArray:
    """RCS columns (n, 2) [mean m^2, looks] after one look each of ``look_dbsm`` (n,) dBsm (NaN: no estimate,
    the row is unchanged). The mean is taken in linear units (m^2): under Swerling I one look's linear RCS is
    exponential about the mean, whose maximum-likelihood estimate is the plain linear mean, unbiased; a mean in
    dB would sit 2.5 dB low (E[10 log10 X] = -10 gamma / ln 10 for X ~ Exp(1)) with 5.6 dB of spread per look.
    Weight 1 / min(looks + 1, RCS_LOOKS_MAX): a plain mean first, then an exponential average."""
    out = rcs.copy()
    look = np.isfinite(look_dbsm)
    if not look.any():
        return out
    n = np.minimum(rcs[look, 1] + 1.0, RCS_LOOKS_MAX)
    value = np.power(10.0, look_dbsm[look] / 10.0)
    mean = rcs[look, 0]
    out[look, 0] = np.where(np.isnan(mean), value, mean + (value - np.nan_to_num(mean)) / n)
    out[look, 1] = rcs[look, 1] + 1.0
    return out


def rcs_dbsm(mean_m2: FloatArray) -> FloatArray:
    """(n,) RCS estimates m^2 (the first column of ``rcs``) in dBsm, NaN where none."""
    return 10.0 * np.log10(mean_m2)  # a mean of looks is > 0 m^2 (SNR and range are bounded: >= 1e-57 m^2)


def popcount(v: IntArray) -> IntArray:
    """Set bits of non-negative int64 values, (n,) -> (n,)."""
    return np.bitwise_count(v.astype(np.uint64)).astype(np.int64)
