"""Joint probabilistic data association (JPDA), vectorised over clusters.

Input: the gated track/plot pairs of one batch, each with its log likelihood ratio
``ln(Pd N(nu; 0, S) / lambda)`` (Pd the detection probability, N the Gaussian
innovation density, lambda the clutter density per m^2), and each track's miss weight
``1 - Pd Pg`` (Pg the gate probability). Output: the marginal association probabilities
beta[pair] (plot j is track i's) and beta0[track] (track i was not detected), from the
standard JPDA joint-event weights (Bar-Shalom, Daum & Huang, "The probabilistic data
association filter", IEEE Control Systems 29(6), 2009, eq. 38-41):

    P(event) ~ prod_{i detected by j} ratio_ij x prod_{i missed} (1 - Pd Pg)

over the events in which every plot belongs to at most one track and every track
takes at most one plot.

A pair whose track and plot are in no other pair is a cluster of its own: beta = psi / (1 +
psi), psi its weight relative to the miss (most pairs outside dense areas). The others split
into clusters, the connected components of the gating graph
(``scipy.sparse.csgraph.connected_components``); clusters are independent. A cluster of at
most ``EXACT_MAX`` tracks and plots and ``EXACT_MAX_EVENTS`` joint events is enumerated
exactly: clusters of the same shape (tracks, plots) are stacked and every joint event of
that shape (a cached table) is scored for all of them at once, in log space (no overflow).
Larger clusters use loopy belief propagation on the same model (Williams & Lau, "Approximate
evaluation of marginal association probabilities with belief propagation", IEEE Trans.
AES 50(4), 2014), whose messages are sums over the pairs (``np.bincount``): exact on
trees, and accurate to ~1e-2 on the dense loops tested there; it always converges.

``mixture_update`` then turns each track's per-pair Kalman updates into one Gaussian
(the PDAF update): x = beta0 x_pred + sum_j beta_j x_j and P = beta0 P_pred + sum_j
beta_j P_j + the spread of the means. With a common S for all plots of a track this is
the textbook combined-innovation update x_pred + K sum_j beta_j nu_j with covariance
beta0 P_pred + (1 - beta0) P_kf + K (sum_j beta_j nu_j nu_j' - nu nu') K' (the spread of
innovations term); per-pair updates also hold when plots carry different R.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.sparse import coo_matrix, csr_array
from scipy.sparse.csgraph import connected_components

from fusion.core.arrays import FloatArray, IntArray
from fusion.core.config import TrackerConfig

EXACT_MAX = 6
"""Clusters with at most this many tracks and plots, and at most ``EXACT_MAX_EVENTS`` joint
events, are enumerated exactly; larger ones use belief propagation. Bar-Shalom et al. 2009
(above) note that exact JPDA is exponential in the cluster size."""
EXACT_MAX_EVENTS = 1100
"""Most joint events of an exactly enumerated cluster: every shape up to 4 x 6 and 6 x 4
(1,045 events); 5 x 5 (1,546) and larger go to belief propagation. Measured on the dense
benchmark (1,000 targets 500 m apart): one 6 x 6 cluster (13,327 events) cost as much as all
the small ones of its scan together."""
LBP_ITERATIONS = 200
"""Most belief-propagation sweeps for a large cluster (Williams & Lau report convergence in
tens of sweeps; the loop stops earlier once messages change less than ``LBP_TOL``)."""
LBP_TOL = 1e-6
"""Belief propagation stops when no plot-to-track message (in (0, 1]) moves more than this."""
_LOG_MAX = 700.0  # log weights are clipped to +-this: exp and sums of a few stay finite in float64
_RATIO_MAX = 1e8  # LBP ratios (relative to the miss) are clipped here: its sums of the other pairs
# subtract a pair from its track's total, exact to ~1e-8 of a probability at this size


@dataclass(frozen=True)
class Marginals:
    """Association probabilities.

    beta:  (K,) probability that pair k's plot is its track's (0 for a non-finite ratio)
    beta0: (N,) probability that track i was not detected; beta0[i] + sum of its beta = 1
    """

    beta: FloatArray
    beta0: FloatArray


def clutter_density(n_free: int, area_m2: float) -> float:
    """Clutter density lambda (1/m^2) of a scan: the plots no existing track explains over the
    area the scan looked at (the non-parametric estimate m / V of Bar-Shalom, Daum & Huang
    2009, eq. 42, over the scan instead of one gate). At least one plot and 1 m^2, so it is
    always positive and finite (a degenerate scan only makes scores conservative)."""
    return max(int(n_free), 1) / max(float(area_m2), 1.0)


def sprt_thresholds(false_confirm: float, true_delete: float) -> tuple[float, float]:
    """Wald's sequential probability ratio test thresholds on a track's log likelihood ratio
    (Wald 1945; as a track score in Blackman & Popoli, "Design and Analysis of Modern Tracking
    Systems", 1999, section 6.2): confirm at ln((1 - beta) / alpha), delete at
    ln(beta / (1 - alpha)), alpha the probability of confirming a false track and beta that of
    deleting a true one."""
    return float(np.log((1.0 - true_delete) / false_confirm)), float(np.log(true_delete / (1.0 - false_confirm)))


def score_thresholds(config: TrackerConfig) -> tuple[float, float]:
    """(confirm, delete) thresholds of ``config``'s track score (``sprt_thresholds`` of its
    ``score_false_confirm`` and ``score_true_delete``)."""
    return sprt_thresholds(config.score_false_confirm, config.score_true_delete)


def model_log_likelihood(track: IntArray, log_r: FloatArray, log_miss: FloatArray) -> FloatArray:
    """IMM-PDA likelihood of each model, relative to clutter (Bar-Shalom & Li, "Multitarget-
    multisensor tracking", 1995, the IMM-PDAF): ln(1 - Pd Pg + sum_j Pd N_j^m / lambda) per
    track and model, from pairs' track (K,) and per-model log ratio (K, r), log miss weight
    (N,). -> (N, r); a track without pairs gets its miss weight."""
    r = log_r.shape[1]
    v = np.where(np.isfinite(log_r), log_r, -np.inf)
    top = np.repeat(log_miss[:, None], r, axis=1)
    np.maximum.at(top, track, v)
    top = np.where(np.isfinite(top), top, 0.0)
    total = np.exp(log_miss[:, None] - top)
    np.add.at(total, track, np.exp(v - top[track]))
    return top + np.log(total)


@lru_cache(maxsize=64)
def joint_events(n_tracks: int, n_plots: int) -> IntArray:
    """Every joint event of a cluster shape: (E, n_tracks) plot of each track, ``n_plots``
    meaning missed, no plot taken twice. Cached (read-only)."""
    miss = n_plots
    ev = np.zeros((1, 0), dtype=np.int64)
    for _ in range(n_tracks):  # extend every event by the next track's choice, dropping plots taken twice
        ext = np.concatenate([np.repeat(ev, n_plots + 1, axis=0),
                              np.tile(np.arange(n_plots + 1), ev.shape[0])[:, None]], axis=1)
        ok = (ext[:, -1] == miss) | (ext[:, :-1] != ext[:, -1:]).all(axis=1)
        ev = ext[ok]
    ev.setflags(write=False)
    return ev


def marginals(track: IntArray, plot: IntArray, log_r: FloatArray, log_miss: FloatArray) -> Marginals:
    """JPDA marginals of gated pairs (track (K,), plot (K,) indices, unique pairs), with the
    log likelihood ratio of each pair (K,) and the log miss weight ln(1 - Pd Pg) of each track
    (N,), N = number of tracks (tracks without pairs get beta0 = 1). Non-finite log ratios
    count as impossible pairs; every output is finite and each track's probabilities sum to 1."""
    n = log_miss.shape[0]
    k = track.shape[0]
    beta, beta0 = np.zeros(k), np.ones(n)
    if k == 0:
        return Marginals(beta, beta0)
    # one weight per pair relative to its track's miss: the model is invariant to it
    lw = np.where(np.isnan(log_r), -np.inf, log_r) - np.nan_to_num(log_miss[track], nan=0.0, posinf=_LOG_MAX,
                                                                    neginf=-_LOG_MAX)
    idx = np.flatnonzero(np.isfinite(lw) | (lw == np.inf))  # -inf and NaN: impossible pairs
    if idx.size == 0:
        return Marginals(beta, beta0)
    t, p, lw = track[idx], plot[idx], np.clip(lw[idx], -_LOG_MAX, _LOG_MAX)
    # a pair whose track and plot are in no other pair is a cluster of its own: psi / (1 + psi)
    lone = (np.bincount(t)[t] == 1) & (np.bincount(p)[p] == 1)
    b = 0.5 * (1.0 + np.tanh(0.5 * lw))  # the logistic function, without overflow
    if not lone.all():
        b[~lone] = _clustered(t[~lone], p[~lone], lw[~lone])
    b = np.clip(b, 0.0, 1.0)
    beta[idx] = b
    beta0 = np.clip(1.0 - np.bincount(track, weights=beta, minlength=n), 0.0, 1.0)
    return Marginals(beta, beta0)


def _clustered(t: IntArray, p: IntArray, lw: FloatArray) -> FloatArray:
    """Marginals (K,) of pairs (track t (K,), plot p (K,), finite log weight lw (K,) relative to
    the track's miss) by cluster: exact enumeration or belief propagation."""
    _, tl = np.unique(t, return_inverse=True)
    pu, pl = np.unique(p, return_inverse=True)
    nt, npl = int(tl.max()) + 1, pu.size
    graph = coo_matrix((np.ones(t.size), (tl, pl + nt)), shape=(nt + npl, nt + npl))
    n_comp, label = connected_components(graph, directed=False)
    comp = label[tl]
    size_t = np.bincount(label[:nt], minlength=n_comp)
    size_p = np.bincount(label[nt:], minlength=n_comp)
    small = (size_t[comp] <= EXACT_MAX) & (size_p[comp] <= EXACT_MAX)
    small[small] = _n_events(size_t[comp[small]], size_p[comp[small]]) <= EXACT_MAX_EVENTS
    b = np.zeros(t.size)
    if small.any():
        rt, rp = _rank_in_group(label[:nt])[tl], _rank_in_group(label[nt:])[pl]
        b[small] = _exact(comp[small], rt[small], rp[small], lw[small], size_t, size_p)
    if not small.all():
        b[~small] = _lbp(tl[~small], pl[~small], lw[~small])
    return b


def _n_events(n_tracks: IntArray, n_plots: IntArray) -> IntArray:
    """Joint events of clusters of these shapes (K,): sum over k of C(a, k) C(m, k) k!."""
    return _EVENTS[n_tracks, n_plots]


_EVENTS = np.array([[sum(math.comb(a, k) * math.comb(m, k) * math.factorial(k) for k in range(min(a, m) + 1))
                     for m in range(EXACT_MAX + 1)] for a in range(EXACT_MAX + 1)])


def _rank_in_group(label: IntArray) -> IntArray:
    """Rank (0, 1, ...) of each element among the elements with its label, in index order."""
    order = np.argsort(label, kind="stable")
    sl = label[order]
    first = np.r_[0, np.flatnonzero(np.diff(sl)) + 1]
    rank = np.empty(label.size, dtype=np.int64)
    rank[order] = np.arange(sl.size) - np.repeat(first, np.diff(np.r_[first, sl.size]))
    return rank


def _exact(comp: IntArray, rt: IntArray, rp: IntArray, lw: FloatArray, size_t: IntArray, size_p: IntArray) -> FloatArray:
    """Exact marginals of the pairs of small clusters (cluster (K,), track and plot rank in
    the cluster (K,), log weight (K,)), clusters of one shape at a time."""
    out = np.zeros(comp.size)
    shape = size_t[comp] * (EXACT_MAX + 1) + size_p[comp]
    for s in np.unique(shape).tolist():
        sel = np.flatnonzero(shape == s)
        a, m = divmod(s, EXACT_MAX + 1)
        clusters, ci = np.unique(comp[sel], return_inverse=True)
        W = np.full((clusters.size, a, m + 1), -np.inf)  # log weight of track t taking plot j (m: missed)
        W[:, :, m] = 0.0
        W[ci, rt[sel], rp[sel]] = lw[sel]
        ev = joint_events(a, m)
        score = W[:, np.arange(a)[None, :], ev].sum(axis=2)  # (clusters, E)
        score -= score.max(axis=1, keepdims=True)  # the all-missed event is finite: the max is
        w = np.exp(score)
        w /= w.sum(axis=1, keepdims=True)
        # marginal of (cluster, track, plot): the summed weights of the events holding it
        slot = (np.arange(clusters.size)[:, None, None] * a + np.arange(a)) * (m + 1) + ev[None]  # (c, E, a)
        marg = np.bincount(slot.ravel(), weights=np.broadcast_to(w[:, :, None], slot.shape).ravel(),
                           minlength=clusters.size * a * (m + 1)).reshape(-1, a, m + 1)
        out[sel] = marg[ci, rt[sel], rp[sel]]
    return out


def _lbp(tl: IntArray, pl: IntArray, lw: FloatArray) -> FloatArray:
    """Belief-propagation marginals (Williams & Lau 2014, eq. 30-32) of pairs (track, plot
    dense indices, log weight relative to the track's miss); the plot's own clutter/new
    weight is 1."""
    nt, npl = int(tl.max()) + 1, int(pl.max()) + 1
    psi = np.exp(np.minimum(lw, np.log(_RATIO_MAX)))
    nu = np.ones(tl.size)  # plot -> track messages
    for _ in range(LBP_ITERATIONS):
        s = psi * nu
        mu = psi / (1.0 + np.bincount(tl, weights=s, minlength=nt)[tl] - s)  # track -> plot
        new = 1.0 / (1.0 + np.bincount(pl, weights=mu, minlength=npl)[pl] - mu)
        done = float(np.abs(new - nu).max()) <= LBP_TOL
        nu = new
        if done:
            break
    s = psi * nu
    return s / (1.0 + np.bincount(tl, weights=s, minlength=nt)[tl])


def mixture_update(
    track: IntArray, beta: FloatArray, beta0: FloatArray, x_pred: FloatArray, P_pred: FloatArray,
    x_pair: FloatArray, P_pair: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """PDAF update of N tracks: predicted x_pred (N, ..., d), P_pred (N, ..., d, d), and each
    pair's Kalman update x_pair (K, ..., d), P_pair (K, ..., d, d) of its track ``track`` (K,)
    with probability beta (K,); beta0 (N,) the miss probability. The middle axes (e.g. IMM
    models) are batch axes. Returns the moment-matched (x (N, ..., d), P (N, ..., d, d))."""
    n = x_pred.shape[0]
    A = csr_array((beta, (track, np.arange(track.size))), shape=(n, track.size))
    flat = x_pred.shape[1:]
    x = beta0.reshape((n,) + (1,) * len(flat)) * x_pred + (A @ x_pair.reshape(track.size, -1)).reshape((n, *flat))
    d0 = x_pred - x
    dk = x_pair - x[track]
    spread0 = P_pred + d0[..., :, None] * d0[..., None, :]
    spreadk = P_pair + dk[..., :, None] * dk[..., None, :]
    P = beta0.reshape((n,) + (1,) * (len(flat) + 1)) * spread0
    P = P + (A @ spreadk.reshape(track.size, -1)).reshape(P.shape)
    return x, 0.5 * (P + np.swapaxes(P, -1, -2))
