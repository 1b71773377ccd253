"""Manage stage: missed looks, identity adoption, duplicate merges, births, coasting and
deletion (misses, age, covariance growth), over the track table.

Also the two small pieces of pool state these rules keep besides the table: the identity
history ring and the per-site birth budgets.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from fusion.core import kalman
from fusion.core.arrays import (
    COASTING,
    CONFIRMED,
    NO_ICAO,
    NO_MMSI,
    SENSOR_BIT,
    TENTATIVE,
    BoolArray,
    FloatArray,
    IntArray,
    MeasBatch,
)
from fusion.core.config import TrackerConfig
from fusion.core.gate import candidate_pairs, gate_radius
from fusion.core.intervals import coop_vouch_s, misses_to_delete, track_limits
from fusion.core.jpda import score_thresholds
from fusion.core.model import KEY_OF_KIND, NONE_KEY
from fusion.core.predict import EMPTY_INT, Pairs, predict_combined
from fusion.core.table import DEAD, OPTIONAL, TrackTable, empty_columns, no_rcs
from fusion.core.update import popcount, update_rcs

HIST_BITS = 64  # looks the int64 hit history holds (older ones are shifted out): the window of a track's own Pd
HORIZON_M_PER_SQRT_M = math.sqrt(2.0 * 4.0 / 3.0 * 6_371_008.8)
"""Radar horizon d = 4,122 m x (sqrt(h_antenna) + sqrt(h_target)), heights in m above the sea: line of sight over
the 4/3 effective earth (standard refraction; Skolnik, "Introduction to Radar Systems", 3rd ed. 2001, section 8.2;
ITU-R P.834), the mean earth radius 6,371,008.8 m (IUGG); the simulator's ``sim_feeds.geo.radar_horizon_m``."""
PD_RCS_LOOKS = 10
"""Radar looks a track's RCS estimate needs before it sets the Pd of a look (``look_pd``): the linear mean of 10
Swerling I looks is within -2.7 / +2.0 dB of the mean RCS 90 % of the time (chi-square, 20 degrees of freedom);
fewer, and one strong look of a clutter plot would read as a target the radar should see, or a weak one as a
target it cannot (the rules' ``rcs_min_looks``, fusion/rules/defaults/rules.toml)."""


class IdentityLog:
    """Bounded ring of identity changes: rows [t, track id, mmsi, icao24]."""

    def __init__(self, capacity: int) -> None:
        self.ring = np.zeros((capacity, 4))
        self.n = 0  # changes ever recorded

    def record(self, tab: TrackTable, t: FloatArray, rows: IntArray) -> None:
        """The current identity of table ``rows`` (n,), changed at times ``t`` (n,)."""
        a = tab.cols
        cap = self.ring.shape[0]
        ev = np.stack([t, a["id"][rows], a["mmsi"][rows], a["icao24"][rows]], axis=1).astype(np.float64)[-cap:]
        self.ring[(self.n + np.arange(ev.shape[0])) % cap] = ev
        self.n += ev.shape[0]

    def history(self) -> FloatArray:
        """(H, 4) identity changes, oldest first."""
        n, cap = self.n, self.ring.shape[0]
        if n <= cap:
            return self.ring[:n].copy()
        return np.roll(self.ring, -(n % cap), axis=0)


class LostTracks:
    """Bounded ring of confirmed tracks deleted on misses, age or covariance growth (not merged): their
    IMM state at their last update, to stitch a new track to (``stitch``). Columns with a leading
    entry axis; ``id`` -1 marks an empty or already stitched entry."""

    KEYS = ("id", "t", "first_t", "last_t", "mmsi", "icao24", "sources", "xm", "Pm", "mu", "rcs", "hmin")

    def __init__(self, capacity: int, n_models: int) -> None:
        cols = empty_columns(n_models)
        self.ring = {k: np.zeros((capacity, *cols[k].shape[1:]), dtype=cols[k].dtype) for k in self.KEYS}
        self.ring["id"][:] = -1
        self.n = 0  # entries ever recorded
        self._shared = False  # a snapshot holds the ring's arrays: copy them before the next write

    def writable(self) -> dict[str, np.ndarray]:
        """The ring's columns to write to: copied first if a snapshot still holds them (copy on write).
        The re-run checkpoints snapshot the tracker every few batch seconds, and the ring (10,000 entries of
        IMM means and covariances, ~9 MB) changes far less often than that: copying it per snapshot was ~7 %
        of the demo's worker (py-spy, 2026-12-08)."""
        if self._shared:
            self.ring = {k: v.copy() for k, v in self.ring.items()}
            self._shared = False
        return self.ring

    def record(self, tab: TrackTable, rows: IntArray) -> None:
        """Table ``rows`` (n,) are deleted now: remember their state (the newest ``capacity`` of them)."""
        ring = self.writable()
        cap = ring["id"].shape[0]
        rows = rows[-cap:]
        at = (self.n + np.arange(rows.size)) % cap
        for k in self.KEYS:
            ring[k][at] = tab.cols[k][rows]
        self.n += rows.size

    def find(self, track_id: int) -> int:
        """The ring index of the newest entry of ``track_id``; -1 if none (never lost, stitched, or overwritten)."""
        at = np.flatnonzero(self.ring["id"] == track_id)
        return -1 if at.size == 0 else int(at[np.argmax(self.ring["t"][at])])

    def state(self) -> dict[str, np.ndarray]:
        """The ring's columns, read-only and shared with the ring until its next write (``writable``), and its
        count (snapshot keys without a prefix)."""
        for v in self.ring.values():
            v.flags.writeable = False
        self._shared = True
        return {**self.ring, "n": np.array(self.n, dtype=np.int64)}

    def load(self, state: dict[str, np.ndarray]) -> None:
        """Replace the ring by ``state`` (from ``state``); an empty one for a snapshot from before it."""
        if "id" not in state:
            self.writable()["id"][:] = -1
            self.n = 0
            return
        n = state["id"].shape[0]
        state = {**{k: OPTIONAL[k](n) for k in ("rcs", "hmin")}, **state}  # a snapshot from before them: none
        for k in self.KEYS:
            if state[k].shape[1:] != self.ring[k].shape[1:]:
                raise ValueError(f"snapshot lost.{k} must have shape (N, {self.ring[k].shape[1:]}), got {state[k].shape}")
        self.ring = {k: state[k] for k in self.KEYS}
        self._shared = True  # the snapshot's arrays: copied at the first write
        self.n = int(state["n"])


class BirthBudget:
    """Token bucket per source ("kind/source") in batch time (deterministic, re-run with the
    tracker's checkpoints): a radar / OTH site ``max_births_per_source_s`` per second,
    ``births_burst_s`` of it deep; an AIS / ADS-B source ``max_coop_births_per_source_s``,
    ``coop_births_burst`` deep. ``refused`` counts per source the births the budget refused (a
    re-run counts its batches again; beyond MAX_SOURCES sources under OTHER)."""

    MAX_SOURCES = 4_096  # beyond this many sources remembered, those whose bucket has refilled are forgotten
    OTHER = "other"  # the key of refusals beyond MAX_SOURCES sources

    def __init__(self, config: TrackerConfig, state: dict[str, tuple[float, float]] | None = None,
                 refused: Counter[str] | None = None) -> None:
        self.config = config
        self.state: dict[str, tuple[float, float]] = dict(state or {})  # "kind/source" -> (tokens, batch time)
        self.refused: Counter[str] = refused if refused is not None else Counter()

    def _bucket(self, source: str) -> tuple[float, float]:
        """(rate per s, depth) of ``source``'s bucket, from its kind."""
        c = self.config
        if source.partition("/")[0] in KEY_OF_KIND:
            return c.max_coop_births_per_source_s, c.coop_births_burst
        return c.max_births_per_source_s, c.max_births_per_source_s * c.births_burst_s

    def allow(self, source: str, t: float, wanted: int) -> int:
        """How many of ``wanted`` new tracks ``source`` ("kind/source") may start at batch time ``t`` (s);
        charges them, counts the rest."""
        rate, depth = self._bucket(source)
        if source not in self.state and len(self.state) >= self.MAX_SOURCES:  # forget full buckets: the same as absent
            self.state = {k: (tk, last) for k, (tk, last) in self.state.items()
                          if tk + max(0.0, t - last) * self._bucket(k)[0] < self._bucket(k)[1]}
        tokens, last = self.state.get(source, (depth, t))
        tokens = min(depth, tokens + max(0.0, t - last) * rate)
        n = min(wanted, int(tokens))
        self.state[source] = (tokens - n, max(last, t))
        if n < wanted:
            self.refused[source if source in self.refused or len(self.refused) < self.MAX_SOURCES else self.OTHER] += wanted - n
        return n

    def admit(self, batch: MeasBatch, idx: IntArray) -> IntArray:
        """The rows ``idx`` (n,) of ``batch`` that may start a track: per source, the first ones
        within its budget (a cooperative batch's rows charge their own ``batch.source``)."""
        t = float(batch.t.max())
        if batch.source is None:
            return idx[: self.allow(f"{batch.sensor_kind}/{batch.sensor_id}", t, idx.size)]
        names, which = np.unique(batch.source[idx], return_inverse=True)
        wanted = np.bincount(which, minlength=names.size)
        allowed = np.array([self.allow(f"{batch.sensor_kind}/{name}", t, int(w)) for name, w in zip(names, wanted, strict=True)])
        order = np.argsort(which, kind="stable")
        rank = np.empty(idx.size, dtype=np.int64)  # each row's place among its source's rows
        rank[order] = np.arange(idx.size) - (np.cumsum(wanted) - wanted)[which[order]]
        return idx[rank < allowed[which]]


def adopt_identity(tab: TrackTable, ids: IdentityLog, keyname: str, rows: IntArray, keys: IntArray, t: FloatArray,
                   lost: LostTracks | None = None) -> tuple[IntArray, IntArray]:
    """Tracks ``rows`` (n,) take the identities ``keys`` (n,) (unique) of column ``keyname`` at times ``t`` (n,).
    A track that takes an address whose last holder is deleted continues that holder (re-link, as ``birth``
    does for a report that starts a track: one MMSI / ICAO address is one vessel or aircraft, ITU-R M.1371 /
    ICAO Annex 10): it takes the holder's id, and from its ``lost`` entry, if any, its first time, sources,
    RCS looks and implied height (``continue_lost``). A radar track born beside a departing vessel's or a
    helicopter's track, which was deleted before the next report named it, then carries the old id on.
    Returns (ids given up (k,), ids taken (k,))."""
    a = tab.cols
    held_by = previous_ids(tab, ids, keyname, keys)  # before this adoption makes the adopter the latest holder
    a[keyname][rows] = keys
    _, first = np.unique(held_by, return_index=True)  # one holder of two addresses (it changed its own): one re-link
    relink = first[held_by[first] >= 0]
    gave = a["id"][rows[relink]].copy()
    for row, old_id in zip(rows[relink].tolist(), held_by[relink].tolist(), strict=True):  # few: re-appearing addresses
        entry = -1 if lost is None else lost.find(old_id)
        if lost is not None and entry >= 0:
            continue_lost(tab, lost, ids, row, entry)
        else:  # deleted tentative, or beyond the ring: the id alone, as a birth's re-link
            a["id"][row] = old_id
    ids.record(tab, t, rows)
    return gave, held_by[relink]


def count_misses(tab: TrackTable, batch: MeasBatch, hit_track: IntArray, gated: IntArray = EMPTY_INT) -> IntArray:
    """A radar scan looked at every track inside its coverage circle (``batch.look_en_m``),
    or, when the scan does not state it, inside its plots' bounding box plus a margin;
    the tracks not in ``hit_track`` count a missed look (a confirmed one becomes coasting),
    unless an AIS / ADS-B report vouches for them (``intervals.coop_vouch_s``), or the radar could
    not have seen them (``look_pd`` 0 beyond its horizon, or below ``miss_min_pd``) while they are
    fresh: updated within their ``coast_after_s`` (``intervals.track_limits``), and no plot of the scan
    fell in their gate (``gated``, the tracks of the scan's gated pairs: a plot there shows the radar
    sees targets at that spot, so a duplicate track beside the one that took it counts its miss). A track
    that nothing updated for longer is coasting on no evidence, and every look counts again: clutter tracks
    of an airborne radar that flew on are deleted as before, not held to ``max_coast_s``.
    Returns the rows that counted one. Positions come from the cached combined state (a few
    flops per track); the counters change only for the looked rows."""
    if batch.sensor_kind != "radar" or tab.rows == 0:
        return EMPTY_INT
    a, mod = tab.cols, tab.mod
    tb = float(batch.t.max())
    if batch.look_en_m is not None:
        e0, n0, radius = batch.look_en_m
        lo, hi = np.array([e0 - radius, n0 - radius]), np.array([e0 + radius, n0 + radius])
    else:
        lo = batch.z_pos.min(axis=0) - mod.config.look_margin_m
        hi = batch.z_pos.max(axis=0) + mod.config.look_margin_m
    # a batch about as big as the pool costs O(N) anyway: every row, no index query
    rows = np.arange(tab.rows, dtype=np.int64) if 4 * len(batch) >= tab.rows else tab.query(lo, hi, 0.0, tb)
    every = rows.size == tab.rows
    cx, t, coop_t, ivl = (a[k] if every else a[k][rows] for k in ("cx", "t", "last_ais_t", "ivl"))  # cx NaN for dead rows: never inside
    dt = tb - t
    x = cx[:, 0] + cx[:, 2] * dt
    y = cx[:, 1] + cx[:, 3] * dt
    if batch.look_en_m is not None:
        inside = np.hypot(x - e0, y - n0) <= radius
    else:
        inside = (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1])
    inside &= t < batch.t.min()
    inside &= ~(tb - coop_t <= coop_vouch_s(ivl, mod.pool, mod.config))  # a report not yet overdue vouches (NaN: none)
    if every:
        inside[hit_track] = False
    elif hit_track.size:
        hit = np.zeros(tab.rows, dtype=bool)
        hit[hit_track] = True
        inside &= ~hit[rows]
    looked = rows[inside]
    pd = look_pd(tab, batch, looked, x[inside], y[inside])
    # the radar could have seen them, or nothing has for longer than they coast on (docs/TRACKER.md)
    stale = tb - a["last_t"][looked] > track_limits(a["ivl"][looked], mod.pool, mod.config).coast_after_s
    seen = ((pd > 0.0) & (pd >= mod.config.miss_min_pd)) | stale | np.isin(looked, gated)
    looked = looked[seen]
    count_miss(tab, looked, pd[seen])
    return looked


def look_pd(tab: TrackTable, batch: MeasBatch, rows: IntArray, x: FloatArray, y: FloatArray) -> FloatArray:
    """(n,) detection probability of the radar scan ``batch`` for track ``rows`` (n,) predicted at frame
    positions ``x``, ``y`` (n,) m. 0 beyond the radar horizon (``HORIZON_M_PER_SQRT_M``) between the antenna
    (``batch.sensor_alt_m``) and the track's height class: its altitude (air), ``low_profile_height_m`` (surface),
    or higher where its detections imply it (``hmin``); an air track without altitude is within it. Within it,
    where the scan states its radar constant and the track's RCS estimate holds ``PD_RCS_LOOKS`` looks, Swerling I
    Pd = Pfa^(1 / (1 + SNR)) (``false_alarm_prob``), mean SNR by the radar equation snr_1m2_db + 10 log10(RCS)
    - 40 log10(R / rcs_ref_range_m), R the slant range (the simulator's model, sim_feeds/observe.py); else the
    design ``detection_prob``. A scan without antenna height or site: ``detection_prob`` for all (as before)."""
    a, cfg = tab.cols, tab.mod.config
    pd = np.full(rows.size, cfg.detection_prob)
    if batch.look_en_m is None or batch.sensor_alt_m is None or rows.size == 0:
        return pd
    e0, n0, _ = batch.look_en_m
    h_a = max(batch.sensor_alt_m, 0.0)
    alt = a["alt"][rows, 0]
    floor = cfg.low_profile_height_m if batch.domain == "surface" else np.inf
    h_t = np.maximum(np.where(np.isfinite(alt), np.maximum(alt, 0.0), floor), a["hmin"][rows])
    d = np.hypot(x - e0, y - n0)
    pd[d > HORIZON_M_PER_SQRT_M * (math.sqrt(h_a) + np.sqrt(h_t))] = 0.0
    if batch.snr_1m2_db is not None and batch.rcs_ref_range_m is not None:
        rcs = a["rcs"][rows]
        known = np.flatnonzero((rcs[:, 1] >= PD_RCS_LOOKS) & (pd > 0.0))
        slant = np.maximum(np.hypot(d[known], h_a - np.nan_to_num(alt[known])), 1.0)
        snr_db = batch.snr_1m2_db + 10.0 * np.log10(rcs[known, 0]) - 40.0 * np.log10(slant / batch.rcs_ref_range_m)
        pd[known] = np.power(cfg.false_alarm_prob, 1.0 / (1.0 + np.power(10.0, snr_db / 10.0)))
    return np.minimum(pd, 1.0 - 1e-12)  # a miss at Pd 1 would be an infinite score charge


def implied_height_m(batch: MeasBatch, rows: IntArray) -> FloatArray:
    """(n,) the lowest target height (m above the sea) that puts the radar scan's plots ``rows`` (n,) within its
    radar horizon: ((d / 4,122 m - sqrt(h_antenna))+)^2, d the plot's ground distance from the antenna; 0 where
    the batch states no antenna height or site (``look_pd`` then never hides a track a scan detected)."""
    if batch.sensor_kind != "radar" or batch.look_en_m is None or batch.sensor_alt_m is None:
        return np.zeros(rows.size)
    e0, n0, _ = batch.look_en_m
    d = np.hypot(batch.z[rows, 0] - e0, batch.z[rows, 1] - n0)
    return np.maximum(d / HORIZON_M_PER_SQRT_M - math.sqrt(max(batch.sensor_alt_m, 0.0)), 0.0) ** 2


def note_heights(tab: TrackTable, batch: MeasBatch, tracks: IntArray, rows: IntArray) -> None:
    """Tracks ``tracks`` (n,) detected by the batch's plots ``rows`` (n,): their ``hmin`` raised to what the
    plots imply (``implied_height_m``)."""
    if tracks.size and batch.sensor_kind == "radar":
        np.maximum.at(tab.cols["hmin"], tracks, implied_height_m(batch, rows))


def count_miss(tab: TrackTable, rows: IntArray, pd: FloatArray | None = None) -> None:
    """A missed look for track ``rows`` (n,): hit history, miss run, track score (+ ln(1 - Pd), Pd (n,) the
    look's, None: the design ``detection_prob``); a confirmed track becomes coasting."""
    a = tab.cols
    if rows.size:
        a["hist"][rows] <<= 1
        a["looks"][rows] += 1
        a["miss_run"][rows] += 1
        a["llr"][rows] += np.log1p(-(tab.mod.config.detection_prob if pd is None else pd))
        a["status"][rows] = np.where(a["status"][rows] == CONFIRMED, COASTING, a["status"][rows])


def merge_rcs(keep: FloatArray, lose: FloatArray) -> FloatArray:
    """RCS columns (n, 2) [mean m^2, looks] of two estimates of one target -> the estimate of all their looks:
    the look-weighted linear mean (NaN, 0: none)."""
    n = keep[:, 1] + lose[:, 1]
    w = lose[:, 1] / np.maximum(n, 1.0)
    mean = np.where(lose[:, 1] == 0, keep[:, 0],
                    np.where(keep[:, 1] == 0, lose[:, 0], keep[:, 0] + w * (lose[:, 0] - keep[:, 0])))
    return np.stack([mean, n], axis=1)


def merge(tab: TrackTable, ids: IdentityLog, kp: Pairs, t: float) -> tuple[IntArray, IntArray, IntArray]:
    """Merge confirmed tracks that gate the same plot (pairs ``kp``), with compatible
    identities, whose states at ``t`` differ by less than the chi2(4) ``merge_prob`` quantile.

    Returns merged (K, 2) [absorbed id, surviving id], the absorbed rows and the surviving
    rows. The older track survives (a dark radar track keeps its id when it meets its AIS
    twin) and takes the identities and sources of the absorbed one.
    """
    a = tab.cols
    none = (np.zeros((0, 2), dtype=np.int64), EMPTY_INT, EMPTY_INT)
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
    for key, none_key in NONE_KEY.items():
        live &= (a[key][i] == none_key) | (a[key][j] == none_key) | (a[key][i] == a[key][j])
    i, j = i[live], j[live]
    if i.size == 0:
        return none
    both = np.concatenate([i, j])
    x, P = predict_combined(tab, both, np.maximum(t - a["t"][both], 0.0))
    dx = x[: i.size] - x[i.size :]
    S = P[: i.size] + P[i.size :]
    d2 = np.einsum("ka,ka->k", dx, np.linalg.solve(S, dx[..., None])[..., 0])
    merged, absorbed, kept = [], [], []
    gone: set[int] = set()
    for r in np.flatnonzero(d2 < tab.mod.merge_gate):  # few: duplicate tracks only
        u, v = int(i[r]), int(j[r])
        if u in gone or v in gone:
            continue
        keep, lose = (u, v) if (a["first_t"][u], a["id"][u]) <= (a["first_t"][v], a["id"][v]) else (v, u)
        absorb(tab, ids, keep, lose)
        gone.add(lose)
        merged.append((int(a["id"][lose]), int(a["id"][keep])))
        absorbed.append(lose)
        kept.append(keep)
    return (np.array(merged, dtype=np.int64).reshape(-1, 2), np.array(absorbed, dtype=np.int64),
            np.array(kept, dtype=np.int64))


def absorb(tab: TrackTable, ids: IdentityLog, keep: int, lose: int) -> None:
    """Row ``keep`` takes what row ``lose`` knows: its state if better and newer, its altitude
    if ``keep`` has none, identities, sources, RCS looks (``merge_rcs``), implied height, the spoof
    flag and the widest time span."""
    a = tab.cols
    trace = np.trace(a["Pm"][[keep, lose], 0, :2, :2], axis1=1, axis2=2)
    if trace[1] < trace[0] and a["t"][lose] >= a["t"][keep]:  # the better, newer state wins
        for k in ("t", "xm", "Pm", "mu"):
            a[k][keep] = a[k][lose]
    if not np.isfinite(a["alt"][keep, 0]):
        a["alt"][keep], a["Palt"][keep] = a["alt"][lose], a["Palt"][lose]
    for key, none_key in NONE_KEY.items():
        if a[key][keep] == none_key and a[key][lose] != none_key:
            a[key][keep] = a[key][lose]
            ids.record(tab, np.array([a["last_t"][lose]]), np.array([keep]))
    tab.refresh(slice(keep, keep + 1))
    a["sources"][keep] |= a["sources"][lose]
    a["rcs"][keep] = merge_rcs(a["rcs"][[keep]], a["rcs"][[lose]])[0]
    a["hmin"][keep] = max(a["hmin"][keep], a["hmin"][lose])
    a["ivl"][keep] = np.fmax(a["ivl"][keep], a["ivl"][lose])
    a["spoof"][keep] |= a["spoof"][lose]
    a["first_t"][keep] = min(a["first_t"][keep], a["first_t"][lose])
    for k in ("last_t", "last_ais_t", "last_noncoop_t"):
        a[k][keep] = np.fmax(a[k][keep], a[k][lose])


def previous_ids(tab: TrackTable, ids: IdentityLog, keyname: str, keys: IntArray) -> IntArray:
    """(n,) for each identity key of ``keys`` (n,) (column ``keyname``), the id of the track that
    held it last if that track is deleted now; -1 where the key is none, was never held (within
    the identity history), or its last holder is alive."""
    out = np.full(keys.size, -1, dtype=np.int64)
    keyed = keys != NONE_KEY[keyname]
    if not keyed.any() or ids.n == 0:
        return out
    h = ids.history()[::-1]  # newest first: np.unique's first index is the latest holder
    held, latest = np.unique(h[:, 2 if keyname == "mmsi" else 3].astype(np.int64), return_index=True)
    at = np.minimum(np.searchsorted(held, keys), held.size - 1)
    found = keyed & (held[at] == keys)
    out[found] = h[latest[at[found]], 1].astype(np.int64)
    a = tab.cols
    out[np.isin(out, a["id"][a["status"] != DEAD])] = -1
    return out


def next_free_id(next_id: int, born: IntArray) -> int:
    """The pool's next new track id after a birth that handed out ``born`` (B,) (new ids count up
    from ``next_id``; re-linked ones are below it)."""
    return max(next_id, int(born.max(initial=0)) + 1)


def stitch(tab: TrackTable, lost: LostTracks, ids: IdentityLog, rows: IntArray) -> tuple[IntArray, IntArray]:
    """Track segment association: each newly confirmed track of ``rows`` (n,) takes the id of a lost
    track (``LostTracks``, deleted at most ``max_coast_s`` before) whose state, predicted by its own
    IMM models to the new track's time, passes the chi-square(4) test of ``gate_prob`` on the
    difference of the two estimates (segments of one target apart in time: independent errors), within
    physical reach of its last estimate, with compatible identities; the best pairs first, each lost
    track once. The new track keeps its own state and takes the lost one's first time and identity,
    and adds its RCS looks (``merge_rcs``) and implied height.
    Returns (ids given up (k,), ids taken (k,))."""
    a, mod = tab.cols, tab.mod
    ring = lost.ring
    live = np.flatnonzero(ring["id"] >= 0)
    if rows.size == 0 or live.size == 0:
        return EMPTY_INT, EMPTY_INT
    t_new = a["t"][rows]
    live = live[(ring["last_t"][live] < t_new.min()) & (t_new.max() - ring["last_t"][live] <= mod.pool.max_coast_s)]
    if live.size == 0:
        return EMPTY_INT, EMPTY_INT
    x_new, P_new = predict_combined(tab, rows, np.zeros(rows.size))
    # candidates: lost tracks predicted to the newest of the new tracks' times, within a disc that holds the test's region
    dt_e = np.maximum(float(t_new.max()) - ring["t"][live], 0.0)
    xm, Pm = kalman.cv_predict(ring["xm"][live], ring["Pm"][live], dt_e, mod.q, 2)
    x_e, P_e = kalman.imm_combine(xm, Pm, ring["mu"][live])
    spread = mod.pool.reach_speed_mps * float(t_new.max() - t_new.min())  # new tracks of one round: close in time
    radius = gate_radius(P_e[:, :2, :2], float(np.max(np.trace(P_new[:, :2, :2], axis1=1, axis2=2))), mod.gate[4]) + spread
    pairs = candidate_pairs(x_e[:, :2], radius, x_new[:, :2])
    if pairs.shape[0] == 0:
        return EMPTY_INT, EMPTY_INT
    e, r = live[pairs[:, 0]], pairs[:, 1]
    ok = (ring["last_t"][e] < t_new[r]) & ~np.isin(ring["id"][e], a["id"][a["status"] != DEAD])  # (an id re-linked since)
    for key, none_key in NONE_KEY.items():
        ok &= (ring[key][e] == none_key) | (a[key][rows[r]] == none_key) | (ring[key][e] == a[key][rows[r]])
    e, r = e[ok], r[ok]
    dt = np.maximum(t_new[r] - ring["t"][e], 0.0)
    xm, Pm = kalman.cv_predict(ring["xm"][e], ring["Pm"][e], dt, mod.q, 2)
    x_e, P_e = kalman.imm_combine(xm, Pm, ring["mu"][e])
    dx = x_new[r] - x_e
    S = P_new[r] + P_e
    d2 = np.einsum("ka,ka->k", dx, np.linalg.solve(S, dx[..., None])[..., 0])
    # physical reach from the lost track's last estimate (as the gate's, fusion/core/gate.py ``within_reach``)
    x0, P0 = kalman.imm_combine(ring["xm"][e], ring["Pm"][e], ring["mu"][e])
    v = np.maximum(np.hypot(x0[:, 2], x0[:, 3]) + np.sqrt(np.trace(P0[:, 2:, 2:], axis1=1, axis2=2)), mod.pool.reach_speed_mps)
    reach = v * dt + np.sqrt(mod.gate[2] * (np.trace(P0[:, :2, :2], axis1=1, axis2=2) + np.trace(P_new[r, :2, :2], axis1=1, axis2=2)))
    ok = (d2 <= mod.gate[4]) & (np.hypot(*(x_new[r, :2] - x0[:, :2]).T) <= reach)
    gave, took = [], []
    used_e: set[int] = set()
    used_r: set[int] = set()
    for k in np.flatnonzero(ok)[np.argsort(d2[ok], kind="stable")]:  # few: new tracks of one round
        ek, rk = int(e[k]), int(r[k])
        if ek in used_e or rk in used_r:
            continue
        used_e.add(ek)
        used_r.add(rk)
        row = int(rows[rk])
        gave.append(int(a["id"][row]))
        took.append(int(ring["id"][ek]))
        continue_lost(tab, lost, ids, row, ek)
    return np.array(gave, dtype=np.int64), np.array(took, dtype=np.int64)


def continue_lost(tab: TrackTable, lost: LostTracks, ids: IdentityLog, row: int, entry: int) -> None:
    """Table ``row`` continues the lost track at ring index ``entry`` (one target, two segments): it keeps its own
    state and takes the lost track's id and first time, adds its sources, RCS looks (``merge_rcs``) and implied
    height, and its identities where it has none; the entry is used up."""
    a, ring = tab.cols, lost.writable()
    a["id"][row] = ring["id"][entry]
    a["first_t"][row] = min(a["first_t"][row], ring["first_t"][entry])
    a["sources"][row] |= ring["sources"][entry]
    a["rcs"][row] = merge_rcs(a["rcs"][[row]], ring["rcs"][[entry]])[0]  # one target: its RCS looks add up
    a["hmin"][row] = max(a["hmin"][row], ring["hmin"][entry])
    for key, none_key in NONE_KEY.items():
        if a[key][row] == none_key and ring[key][entry] != none_key:
            a[key][row] = ring[key][entry]
            ids.record(tab, a["t"][[row]], np.array([row]))
    ring["id"][entry] = -1


def birth(tab: TrackTable, ids: IdentityLog, budget: BirthBudget, batch: MeasBatch, rows: BoolArray, adopt: BoolArray,
          keyname: str | None, first_id: int) -> IntArray:
    """Start a tentative track from every row of ``rows`` (mask (M,)), bounded by
    ``max_tracks`` and by each source's birth budget (``BirthBudget.admit``). A row with ``adopt`` set brings its identity; if a deleted track held it
    last, the new track takes that track's id (re-link: one MMSI / ICAO address is one
    vessel or aircraft, ITU-R M.1371 / ICAO Annex 10, so its track keeps its id across a
    coverage gap); other new ids count up from ``first_id``. Returns the ids (B,)."""
    mod = tab.mod
    pool = mod.pool
    idx = np.flatnonzero(rows)[: max(0, mod.config.max_tracks - len(tab))]
    if idx.size:
        idx = budget.admit(batch, idx)
    n = idx.size
    if n == 0:
        return EMPTY_INT
    r = mod.n_models
    z, R, t = batch.z[idx], batch.R[idx], batch.t[idx]
    vel = batch.has_vel[idx]
    x = np.where(vel[:, None], z, np.concatenate([z[:, :2], np.zeros((n, 2))], axis=1))
    P = R.copy()
    P[~vel, :2, 2:] = P[~vel, 2:, :2] = 0.0
    P[~vel, 2:, 2:] = np.eye(2) * pool.init_speed_sigma_mps**2
    keys = np.where(adopt[idx], getattr(batch, keyname)[idx], NONE_KEY[keyname]) if keyname is not None else None
    new_ids = np.full(n, -1, dtype=np.int64) if keys is None else previous_ids(tab, ids, str(keyname), keys)
    fresh = new_ids < 0
    new_ids[fresh] = np.arange(first_id, first_id + int(fresh.sum()), dtype=np.int64)
    alt = np.stack([batch.alt_m[idx], np.where(np.isfinite(batch.alt_m[idx]), 0.0, np.nan)], axis=1)
    Palt = np.zeros((n, 2, 2))
    Palt[:, 0, 0] = batch.sigma_alt_m[idx] ** 2
    Palt[:, 1, 1] = pool.init_vrate_sigma_mps**2
    coop = batch.sensor_kind in KEY_OF_KIND
    nan = np.full(n, np.nan)
    new: dict[str, np.ndarray] = {
        "id": new_ids, "status": np.full(n, TENTATIVE, np.int8), "t": t,
        "xm": np.repeat(x[:, None], r, axis=1), "Pm": np.repeat(P[:, None], r, axis=1),
        "mu": np.tile(np.asarray(pool.mu0), (n, 1)), "alt": alt, "Palt": Palt,
        "hist": np.ones(n, np.int64), "looks": np.ones(n, np.int64), "miss_run": np.zeros(n, np.int64),
        "first_t": t, "last_t": t, "last_ais_t": t if coop else nan, "last_noncoop_t": nan if coop else t,
        "sources": np.full(n, SENSOR_BIT[batch.sensor_kind], np.int64),
        "mmsi": np.full(n, NO_MMSI, np.int64), "icao24": np.full(n, NO_ICAO, np.int64),
        "spoof": np.zeros(n, bool), "ivl": batch.interval_s[idx], "llr": np.zeros(n),
        "hmin": implied_height_m(batch, idx), "rcs": update_rcs(no_rcs(n), batch.rcs_dbsm[idx]),  # the birth plot: one look
    }
    if keyname is not None and keys is not None:
        new[keyname] = keys
    if mod.config.confirm_m == 1:  # a single plot confirms
        new["status"][:] = CONFIRMED
    tab.append(new)
    with_id = np.zeros(n, bool) if keyname is None else new[keyname] != NONE_KEY[keyname]
    if with_id.any():
        ids.record(tab, t[with_id], tab.rows - n + np.flatnonzero(with_id))
    return new_ids


def expire(tab: TrackTable, t: float, absorbed: IntArray = EMPTY_INT, touched: IntArray = EMPTY_INT,
           lost: LostTracks | None = None) -> IntArray:
    """Delete tracks (misses, age, covariance growth, merges) at time ``t``; mark confirmed ones
    not updated for ``coast_after_s`` coasting. Returns the deleted ids. The confirmed ones deleted
    on misses, age or covariance (not ``absorbed``) are remembered in ``lost``.

    Only rows that can newly meet a rule are tested: those whose counters or state
    changed in this step (``touched``), the ``absorbed`` ones, and those whose cached
    time ``due`` (the earliest time their coast, age or covariance rule can fire) has
    come. Every other row fails every rule at ``t``, so the result is the same as testing
    the whole pool; the scan for due rows is one comparison per track.
    """
    a = tab.cols
    if tab.rows == 0:
        return EMPTY_INT
    test = a["due"] <= t
    test[touched] = True
    test[absorbed] = True
    rows = np.flatnonzero(test)
    if rows.size == 0:
        return EMPTY_INT
    sel = slice(None) if rows.size == tab.rows else rows  # every row: views, no gathers
    cfg = tab.mod.config
    status, last_t, t_row = a["status"][sel], a["last_t"][sel], a["t"][sel]
    lim = track_limits(a["ivl"][sel], tab.mod.pool, cfg)  # per row: scaled by its expected report interval
    age = t - last_t
    tentative = status == TENTATIVE
    was_absorbed = np.zeros(rows.size, dtype=bool)
    was_absorbed[np.searchsorted(rows, absorbed)] = True
    dead = was_absorbed.copy()
    if cfg.confirmation == "score":  # Wald's test decides, within the age limit
        dead |= tentative & ((a["llr"][sel] <= score_thresholds(cfg)[1]) | (age > lim.tentative_max_age_s))
    else:
        dead |= tentative & ((a["looks"][sel] >= cfg.confirm_n) | (age > lim.tentative_max_age_s))
    # misses that delete: from the track's own Pd over its looks before this run of misses (the
    # newest HIST_BITS), the Beta prior at the design Pd carrying a young track (docs/TRACKER.md)
    run, looks = a["miss_run"][sel], a["looks"][sel]
    held = ~tentative & (run >= cfg.delete_misses)  # fewer misses never delete (misses_to_delete >= delete_misses)
    if held.any():
        before = np.maximum(np.minimum(looks[held], HIST_BITS) - run[held], 0)
        dead[held] |= run[held] >= misses_to_delete(popcount(a["hist"][sel][held]), before, cfg)
    dead |= age > lim.max_coast_s
    dt = np.maximum(t - t_row, 0.0)
    c = a["tr0"][sel]  # trace of model 0's position block predicted by dt (without process noise)
    trace = c[:, 0] + 2.0 * dt * c[:, 1] + dt * dt * c[:, 2]
    dead |= trace > 2.0 * lim.max_pos_sigma_m**2
    dead &= status != DEAD
    a["status"][sel] = np.where((status == CONFIRMED) & (age > lim.coast_after_s), COASTING, status).astype(np.int8)
    tab.refresh_due(sel)
    if not dead.any():
        return EMPTY_INT
    gone_rows = rows[dead]
    gone = a["id"][gone_rows].copy()
    if lost is not None:
        lost.record(tab, rows[dead & ~tentative & ~was_absorbed])
    tab.kill(gone_rows)
    return gone
