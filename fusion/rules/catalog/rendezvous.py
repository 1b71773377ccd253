"""rendezvous: two slow surface tracks close together for a long time away from ports and anchorages (Global
Fishing Watch encounter definition), on smoothed positions and speeds with a covariance gate on the distance; and
two boats merged into one radar plot: a track that converged on a slow one and stopped being seen within the radar
resolution of it (``PairMemory``), and the re-split when a new track leaves the survivor (docs/RULES.md)."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
import numpy as np
from scipy.spatial import cKDTree

from fusion.core.arrays import NO_MMSI, BoolArray, FloatArray, IntArray
from fusion.core.gate import chi2_gate
from fusion.rules.behaviours import ramp
from fusion.rules.catalog.base import ExcludingRule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates, subject_keys
from fusion.rules.lineage import Carried
from fusion.rules.params import KNOT_MPS, ExcludingParams, NonNeg, Pos
from fusion.rules.scene import Scene

Prob = Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)]


class RendezvousParams(ExcludingParams):
    """rendezvous: two surface tracks within distance_m (plus the gate: the chi-square ``gate_prob`` quantile of their
    separation's standard deviation along the line between them, at most max_gate_m), both slower than speed_kn, for
    min_on_s, away (exclude_margin_m) from port/anchorage zones; positions and speeds smoothed over smoothing_s (0: raw);
    a pair's gate is its smoothed separation's (``smoothed_sigma_ratio``: independent errors every decorrelation_s).
    Merged plots: a track that converged on another (seen apart by more than resolution_m plus the gate, then within
    it) and then had no measurement for stale_s (or was deleted, or merged into it by the tracker), while the survivor
    is slower than speed_kn: merged_min_on_s; a new track leaving the survivor after the merge: resplit_min_on_s. The
    absorbed track must have been eligible (confirmed) and, where its radar cross-section is known (rcs_min_looks),
    smaller than absorbed_max_rcs_dbsm: the boat that vanishes into another's plot is the weaker echo, a small craft.
    Sources of the shipped values (GFW encounter events): fusion/rules/defaults/rules.toml and docs/RULES.md."""

    distance_m: Pos
    clear_distance_m: Pos
    speed_kn: Pos
    clear_speed_kn: Pos
    require_unidentified: bool
    smoothing_s: NonNeg
    decorrelation_s: Pos
    gate_prob: Prob
    max_gate_m: NonNeg
    resolution_m: NonNeg
    stale_s: Pos
    merged_min_on_s: NonNeg
    resplit_min_on_s: NonNeg
    absorbed_max_rcs_dbsm: float
    rcs_min_looks: Annotated[int, msgspec.Meta(ge=1)]

    def __post_init__(self) -> None:
        if self.clear_distance_m < self.distance_m:
            raise ValueError(f"clear_distance_m ({self.clear_distance_m}) must be >= distance_m ({self.distance_m})")
        if self.clear_speed_kn < self.speed_kn:
            raise ValueError(f"clear_speed_kn ({self.clear_speed_kn}) must be >= speed_kn ({self.speed_kn})")

    @property
    def smoothed_sigma_ratio(self) -> float:
        """Standard deviation of the smoothed separation over the instantaneous one: sqrt(lambda / (2 - lambda)), the
        exponentially weighted moving average of independent samples (NIST/SEMATECH e-Handbook of Statistical Methods,
        6.3.2.4, EWMA control charts), lambda = 1 - exp(-decorrelation_s / smoothing_s) the weight of one independent
        sample; 1 without smoothing."""
        if self.smoothing_s <= 0.0:
            return 1.0
        lam = 1.0 - math.exp(-self.decorrelation_s / self.smoothing_s)
        return math.sqrt(lam / (2.0 - lam))

    @property
    def gate_sigmas(self) -> float:
        """Standard deviations of the one-dimensional gate: sqrt of the chi-square (1 dof) ``gate_prob`` quantile."""
        return _gate_sigmas(self.gate_prob)


@functools.cache
def _gate_sigmas(prob: float) -> float:
    """sqrt of the chi-square (1 dof) ``prob`` quantile, once per probability (Newton steps in Python)."""
    return math.sqrt(chi2_gate(prob, 1))


_INT_COLS = ("track_id", "mmsi", "mate", "absorbed", "absorbed_mmsi", "split")
_FLOAT_COLS = ("last_t", "east", "north", "ve", "vn", "raw_e", "raw_n", "meas_t", "apart", "near", "elig", "rcs",
               "merged_t", "merged_d")
_AT = ("apart", "near", "mmsi", "meas_t", "raw_e", "raw_n", "elig", "rcs")  # a lost track's columns at its last measurement
_DEFAULT = {"mate": -1, "absorbed": -1, "absorbed_mmsi": NO_MMSI, "split": -1, "apart": 0.0, "near": 0.0, "elig": 0.0, "rcs": math.nan,
            "merged_t": math.nan, "merged_d": math.nan}


def _empty_cols() -> dict[str, np.ndarray]:
    return {**{k: np.zeros(0, np.int64) for k in _INT_COLS}, **{k: np.zeros(0) for k in _FLOAT_COLS}}


def _tree(xy: FloatArray) -> cKDTree:
    """k-d tree over points ``xy`` (M, 2) m, built unbalanced (sliding midpoint: half the build time of a balanced
    tree on thousands of tracks, and queries as fast on traffic)."""
    return cKDTree(xy, balanced_tree=False, compact_nodes=False)


def _close_pairs(tree: cKDTree, radius_m: float) -> tuple[IntArray, IntArray, FloatArray]:
    """Pairs of the tree's points within ``radius_m`` of each other: i < j (K,) indices, sorted, and distance (K,) m;
    only the candidate pairs are visited."""
    p = tree.query_pairs(radius_m, output_type="ndarray").astype(np.int64)
    p = p[np.lexsort((p[:, 1], p[:, 0]))]
    i, j = p[:, 0], p[:, 1]
    return i, j, np.hypot(*(tree.data[i] - tree.data[j]).T)


def _nearest_within(tree: cKDTree, radius_m: float) -> IntArray:
    """(n,) index of each of the tree's n points' nearest other point within ``radius_m`` (-1: none), the lower index
    on a tie, as from every pair within the radius (``_close_pairs``), without enumerating them. A three-nearest query costs
    O(n log n) however dense the points (a rogue radar's clutter tracks crowd its site, and the pairs within the
    radius grow with the square of the density: docs/SECURITY.md); the few points it cannot decide exactly (a tie
    with the next neighbour, a distance at the radius itself) take the pairs' way, so the result is the same."""
    n = tree.n
    out = np.full(n, -1, np.int64)
    if n < 2:
        return out
    tree_d, j = tree.query(tree.data, k=min(3, n), distance_upper_bound=2.0 * radius_m)  # itself, the nearest, the next
    rows = np.arange(n)
    col = (j[:, 0] == rows).astype(np.int64)  # itself first, unless a coincident point came first (a tie: below)
    near_d, near_j = tree_d[rows, col], j[rows, col]
    found = (near_j < n) & (near_d <= radius_m)
    out[found] = near_j[found]
    # undecided: another point as near (a tie the lower index breaks, maybe beyond the three; the tree's distance
    # and the pairs' hypot may differ by an ulp), or the nearest at the radius itself (the pairs' test, to the ulp)
    tie = found & (col + 1 < j.shape[1]) & (tree_d[rows, np.minimum(col + 1, j.shape[1] - 1)] <= near_d * (1.0 + 1e-9))
    edge = np.abs(near_d - radius_m) <= 1e-9 * radius_m
    for p in np.flatnonzero(tie | edge).tolist():  # rare: coincident tracks, a distance at the radius
        cand = np.array([c for c in tree.query_ball_point(tree.data[p], radius_m) if c != p], np.int64)
        dc = np.hypot(*(tree.data[cand] - tree.data[p]).T) if len(cand) else np.zeros(0)
        out[p] = cand[np.lexsort((cand, dc))[0]] if len(cand) else -1
    return out


@dataclass(frozen=True)
class Measured:
    """This tick's measured surface tracks (last measured within stale_s): rows (M,) ascending and a k-d tree over
    their positions (m), shared by the mates and the re-split search."""

    rows: IntArray
    tree: cKDTree | None  # None: no measured surface track

    @classmethod
    def of(cls, s: Scene, stale_s: float) -> Measured:
        """The surface tracks of ``s`` measured within ``stale_s`` (s)."""
        rows = np.flatnonzero(~s.is_air & (s.t - s.last_t <= stale_s))
        return cls(rows, _tree(np.column_stack([s.east[rows], s.north[rows]])) if len(rows) else None)


def separation_gate(s: Scene, a: IntArray, b: IntArray, de: FloatArray, dn: FloatArray, r: RendezvousParams,
                    sigma_ratio: float = 1.0) -> FloatArray:
    """(K,) gate (m) of the distance between tracks ``a`` and ``b`` (K,) separated by ``de``, ``dn`` (K,) m: the
    ``gate_prob`` chi-square (1 dof) quantile of the separation's standard deviation along the line between them,
    from both tracks' position covariances (independent estimates) x ``sigma_ratio`` (a smoothed separation's:
    ``RendezvousParams.smoothed_sigma_ratio``), at most max_gate_m."""
    if not len(a) or r.max_gate_m == 0.0:
        return np.zeros(len(a))
    d = np.hypot(de, dn)
    u = np.where(d[:, None] > 0.0, np.column_stack([de, dn]) / np.maximum(d, 1e-9)[:, None], np.array([1.0, 0.0]))
    S = s.position_cov(a) + s.position_cov(b)
    var = np.einsum("ki,kij,kj->k", u, S, u)
    return np.minimum(r.gate_sigmas * sigma_ratio * np.sqrt(np.maximum(var, 0.0)), r.max_gate_m)


@dataclass
class PairMemory:
    """Per surface track (sorted id): exponentially smoothed position (local m) and velocity (true m/s), time constant
    ``smoothing_s`` (zero-mean filter noise averages out: a stationary boat's track reads 1-6 kn of velocity noise and
    hundreds of metres of position noise, issue 14; two boats moving together lag alike, so their smoothed distance is
    their mean distance); its raw position and MMSI at its last measured tick; its nearest measured neighbour
    (``mate``), whether the two were seen resolved apart and whether they are now within the radar resolution (both
    beyond / within resolution_m plus the gate); and the merge it survived: the id and MMSI of the track that
    disappeared into it, when and how far, and the new track that split off it since (-1: none)."""

    cols: dict[str, np.ndarray] = field(default_factory=_empty_cols)

    def observe(self, s: Scene, r: RendezvousParams, measured: Measured) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(N,) smoothed east, north (m) and speed (m/s) after this tick (NaN for air); new tracks start at their
        state. Updates mates (among ``measured``: ``Measured.of(s, r.stale_s)``) and records merges (a mate that
        stopped being measured or is gone)."""
        rows = np.flatnonzero(~s.is_air)
        ids = s.track_id[rows]
        carried = Carried(self.cols, ids)
        prev = carried.prev
        now = {"east": s.east[rows], "north": s.north[rows], "ve": s.vel[rows, 0], "vn": s.vel[rows, 1]}
        dt = np.maximum(s.t - prev("last_t", s.t), 0.0)
        w = 1.0 - np.exp(-dt / r.smoothing_s) if r.smoothing_s > 0 else np.ones(len(rows))
        new: dict[str, np.ndarray] = {k: prev(k, v) + w * (v - prev(k, v)) for k, v in now.items()}
        fresh = s.t - s.last_t[rows] <= r.stale_s
        keep = {k: prev(k, np.asarray(_DEFAULT[k], self.cols[k].dtype)).copy() for k in _DEFAULT}
        keep["mate"] = keep["mate"].astype(np.int64)
        for k in ("absorbed", "absorbed_mmsi", "split"):
            keep[k] = keep[k].astype(np.int64)
        raw_e = np.where(fresh, s.east[rows], prev("raw_e", s.east[rows]))
        raw_n = np.where(fresh, s.north[rows], prev("raw_n", s.north[rows]))
        self._mates(s, r, rows, fresh, keep, measured)
        self.cols = {"track_id": ids, "last_t": np.full(len(rows), s.t), **new, "raw_e": raw_e, "raw_n": raw_n,
                     "meas_t": s.last_t[rows].astype(float), "mmsi": s.mmsi[rows].astype(np.int64), **keep}
        gone = carried.gone()
        old = {k: v[gone] for k, v in carried.old.items()}
        stale_now = np.flatnonzero(~fresh & (keep["mate"] >= 0))
        self.absorb(np.concatenate([old["track_id"], ids[stale_now]]),
                    np.concatenate([old["mate"], keep["mate"][stale_now]]),
                    {k: np.concatenate([old[k], self.cols[k][stale_now]]) for k in _AT},
                    s.t, r.absorbed_max_rcs_dbsm)
        out = [np.full(len(s), np.nan) for _ in range(3)]
        out[0][rows], out[1][rows], out[2][rows] = new["east"], new["north"], np.hypot(new["ve"], new["vn"])
        return out[0], out[1], out[2]

    def _mates(self, s: Scene, r: RendezvousParams, rows: IntArray, fresh: BoolArray, keep: dict[str, np.ndarray],
               measured: Measured) -> None:
        """Nearest measured surface neighbour within clear_distance_m of each measured surface track (``rows[fresh]``,
        the rows of ``measured``), and whether the two are (now) and were (since they became mates) within / beyond
        resolution_m plus the gate."""
        f = np.flatnonzero(fresh)
        mate = np.full(len(f), -1, np.int64)
        if len(f) >= 2 and measured.tree is not None:
            nearest = _nearest_within(measured.tree, r.clear_distance_m)
            mate[nearest >= 0] = s.track_id[measured.rows[nearest[nearest >= 0]]]
        same = (mate == keep["mate"][f]) & (mate >= 0)
        keep["mate"][f] = mate
        paired = np.flatnonzero(mate >= 0)
        a, b = rows[f[paired]], s.rows_of(mate[paired])
        de, dn = s.east[a] - s.east[b], s.north[a] - s.north[b]
        limit = r.resolution_m + separation_gate(s, a, b, de, dn, r)
        near = np.zeros(len(f))
        near[paired] = np.hypot(de, dn) <= limit
        apart = np.zeros(len(f))
        apart[paired] = np.hypot(de, dn) > limit
        keep["near"][f] = near
        keep["elig"][f] = s.eligible[rows[f]]
        keep["rcs"][f] = np.where(s.rcs_looks[rows[f]] >= r.rcs_min_looks, s.rcs_dbsm[rows[f]], math.nan)
        keep["apart"][f] = np.where(same, np.maximum(keep["apart"][f], apart), apart)

    def absorb(self, lost: IntArray, into: IntArray, at: Mapping[str, np.ndarray], t: float, max_rcs_dbsm: float) -> None:
        """Tracks ``lost`` (K,) that stopped being measured (or are gone, or merged) with their mate ``into`` (K,) and
        their columns ``at`` (``_AT``: K,) at their last measurement: a lost track that converged
        on its mate (seen apart, then within the resolution), eligible (confirmed) and not known to be as large as
        ``max_rcs_dbsm`` is recorded on the mate as merged into it at time t (the lost track's mate is cleared, so a
        merge is recorded once)."""
        c = self.cols
        pos = np.searchsorted(c["track_id"], into)
        pos_c = np.minimum(pos, max(len(c["track_id"]) - 1, 0))
        present = (pos < len(c["track_id"])) & (c["track_id"][pos_c] == into) if len(c["track_id"]) else np.zeros(len(into), bool)
        ok = present & (into >= 0) & (at["apart"] > 0) & (at["near"] > 0) & (at["elig"] > 0) & ~(at["rcs"] >= max_rcs_dbsm)
        if ok.any():
            p = pos_c[ok]
            c["absorbed"][p], c["absorbed_mmsi"][p] = lost[ok], at["mmsi"][ok]
            c["merged_t"][p], c["split"][p] = np.minimum(at["meas_t"][ok], t), -1
            c["merged_d"][p] = np.hypot(at["raw_e"][ok] - c["raw_e"][p], at["raw_n"][ok] - c["raw_n"][p])
        here = np.searchsorted(c["track_id"], lost)
        here_c = np.minimum(here, max(len(c["track_id"]) - 1, 0))
        mine = (here < len(c["track_id"])) & (c["track_id"][here_c] == lost) if len(c["track_id"]) else np.zeros(len(lost), bool)
        c["mate"][here_c[mine]] = -1


def _pair_keys(a: IntArray, b: IntArray) -> IntArray:
    """(K,) key of the unordered pairs of track ids ``a``, ``b`` (K,): the same whichever way round."""
    return subject_keys(np.minimum(a, b), np.maximum(a, b))


def _pairs(s: Scene, r: RendezvousParams, east: FloatArray, north: FloatArray, speed: FloatArray, rows: IntArray
           ) -> tuple[IntArray, IntArray, BoolArray, BoolArray, FloatArray, FloatArray]:
    """Pairs of ``rows`` (slow surface tracks away from ports) within clear_distance_m plus max_gate_m on smoothed
    positions: owner, other (K,) rows, enter, stay (K,: within distance_m plus the gate, as enter; slow is
    ``rows``' clear_speed_kn), distance (m) and gate (m)."""
    empty = np.zeros(0, np.int64)
    if len(rows) < 2:
        return empty, empty, empty.astype(bool), empty.astype(bool), np.zeros(0), np.zeros(0)
    i, j, dist = _close_pairs(_tree(np.column_stack([east[rows], north[rows]])), r.clear_distance_m + r.max_gate_m)
    a, b = rows[i], rows[j]
    de, dn = east[a] - east[b], north[a] - north[b]
    gate = separation_gate(s, a, b, de, dn, r, r.smoothed_sigma_ratio)
    unid_a, unid_b = s.mmsi[a] == NO_MMSI, s.mmsi[b] == NO_MMSI
    ok = (unid_a | unid_b) if r.require_unidentified else np.ones(len(a), bool)
    slow_both = np.maximum(speed[a], speed[b]) < r.speed_kn * KNOT_MPS
    enter = ok & slow_both & (dist <= r.distance_m + gate)
    stay = ok & (dist <= r.distance_m + gate)  # GFW: within 500 m throughout (the smoothed distance needs no hysteresis)
    swap = unid_b & ~unid_a  # owner: the unidentified side
    return np.where(swap, b, a), np.where(swap, a, b), enter, stay, dist, gate


def _merged(s: Scene, r: RendezvousParams, mem: PairMemory, speed: FloatArray, allowed: BoolArray, measured: Measured
            ) -> tuple[IntArray, IntArray, BoolArray, BoolArray, FloatArray, IntArray, FloatArray]:
    """Survivors of a merge (rows, K) still slow and away from ports (``allowed`` (N,)): absorbed ids (K,), enter,
    stay, min_on_s (K,), related ids (the split-off track, else the absorbed one while it is alive, else -1) and
    the split-off track's speed (m/s, NaN). Records whose absorbed track is measured again (it was not absorbed), whose
    survivor left (faster than clear_speed_kn) or whose split-off track is gone or farther than clear_distance_m plus
    max_gate_m are dropped."""
    c = mem.cols
    live = np.flatnonzero(c["absorbed"] >= 0)
    rows = s.rows_of(c["track_id"][live])
    absorbed = c["absorbed"][live]
    pos = np.minimum(np.searchsorted(s.track_id, absorbed), max(len(s) - 1, 0))
    absorbed_here = (s.track_id[pos] == absorbed) if len(s) else np.zeros(len(live), bool)
    back = absorbed_here & (s.t - s.last_t[pos] <= r.stale_s) & (s.last_t[pos] > c["merged_t"][live])
    young = measured.rows
    split = c["split"][live]
    if measured.tree is not None and len(live):
        dist, j = measured.tree.query(
            np.column_stack([s.east[rows], s.north[rows]]), k=min(2, len(young)),
            distance_upper_bound=r.clear_distance_m + r.max_gate_m)
        j, dist = j.reshape(len(live), -1), dist.reshape(len(live), -1)
        for col in range(j.shape[1]):  # the nearest young track that is not the survivor itself
            hit = np.isfinite(dist[:, col])
            cand = np.where(hit, young[np.minimum(j[:, col], len(young) - 1)], 0)
            new_track = (hit & (split < 0) & (cand != rows) & (s.first_t[cand] > c["merged_t"][live])
                         & (dist[:, col] <= r.resolution_m + r.max_gate_m))
            split = np.where(new_track, s.track_id[cand], split)
    sp = np.minimum(np.searchsorted(s.track_id, split), max(len(s) - 1, 0))
    split_here = (split >= 0) & (s.track_id[sp] == split) if len(s) else np.zeros(len(live), bool)
    split_far = (split >= 0) & (~split_here | (np.hypot(s.east[sp] - s.east[rows], s.north[sp] - s.north[rows])
                                               > r.clear_distance_m + r.max_gate_m))
    fast = speed[rows] >= r.clear_speed_kn * KNOT_MPS
    drop = back | split_far | fast
    c["absorbed"][live[drop]] = -1
    c["split"][live] = np.where(drop, -1, split)
    keep = ~drop & allowed[rows]
    rows, live, absorbed, split = rows[keep], live[keep], absorbed[keep], split[keep]
    ok = (s.mmsi[rows] == NO_MMSI) | (c["absorbed_mmsi"][live] == NO_MMSI) if r.require_unidentified else np.ones(len(rows), bool)
    enter = ok & (speed[rows] < r.speed_kn * KNOT_MPS)
    resplit = split >= 0
    min_on = np.where(resplit, r.resplit_min_on_s, r.merged_min_on_s)
    related = np.where(resplit, split, np.where(absorbed_here[keep], absorbed, -1))
    other_speed = np.where(resplit, speed[s.rows_of(np.where(resplit, split, s.track_id[rows]))], np.nan)
    return rows, absorbed, enter, ok, min_on, related, other_speed


def rendezvous(s: Scene, r: RendezvousParams, memory: PairMemory | None = None) -> Candidates:
    """Pairs of slow surface tracks close together away from ports and anchorages, on positions and speeds smoothed
    over ``smoothing_s`` (``memory``; None: the filter's own, and no merged plots), and survivors of merged plots.

    The subject of a pair is the pair; its owner is the track without AIS identity (else the lower id), ``related``
    the other one. The subject of a merge is the survivor's own (aux 0; one merge record per survivor), its hold
    counted from the merge; ``related`` the track that split off it since, else the absorbed one while it is alive.
    """
    if memory is not None:
        measured = Measured.of(s, r.stale_s)
        east, north, speed = memory.observe(s, r, measured)
    else:
        east, north, speed = s.east, s.north, s.speed_mps
    slow = s.eligible & ~s.is_air & (speed < r.clear_speed_kn * KNOT_MPS)
    near_port, _ = s.near_zones(s.geometry.select(r.exclude_kinds), r.exclude_margin_m, np.flatnonzero(slow))
    allowed = slow.copy()  # a merge survivor faster than clear_speed_kn is dropped (``_merged``)
    allowed[near_port] = False
    owner, other, enter, stay, dist, gate = _pairs(s, r, east, north, speed, np.flatnonzero(allowed))
    related = s.track_id[other]
    ev: dict[str, FloatArray] = {"distance_m": dist, "gate_m": gate, "speed_kn": speed[owner] / KNOT_MPS,
                                 "other_speed_kn": speed[other] / KNOT_MPS, "merged": np.zeros(len(owner)),
                                 "resplit": np.zeros(len(owner))}
    strength = 1.0 - ramp(dist, 0.0, r.clear_distance_m + gate) * 0.5
    min_on = np.full(len(owner), r.min_on_s)
    aux = related
    if memory is not None:
        m_rows, m_absorbed, m_enter, m_stay, m_min_on, m_related, m_other = _merged(s, r, memory, speed, allowed, measured)
        # A pair whose tracks are a merge's survivor and absorbed track (either way round, while the absorbed one
        # coasts) is held by the merge subject. That subject is the survivor's own (aux 0), never a pair's key, so its
        # hold starts at the merge whichever track survived: keyed (survivor, absorbed) it took over the pair's
        # pending hold only when the survivor owned the pair (issue 14, the asymmetry a random search found).
        held = np.isin(_pair_keys(s.track_id[owner], related), _pair_keys(s.track_id[m_rows], m_absorbed))
        held |= (aux == 0) & np.isin(owner, m_rows)  # a pair with a track of id 0 would share the survivor's key
        sel = ~held
        at = np.searchsorted(memory.cols["track_id"], s.track_id[m_rows])
        k = len(m_rows)
        owner, aux, related = np.concatenate([owner[sel], m_rows]), np.concatenate([aux[sel], np.zeros(k, np.int64)]), np.concatenate([related[sel], m_related])
        enter, stay = np.concatenate([enter[sel], m_enter]), np.concatenate([stay[sel], m_stay])
        min_on = np.concatenate([min_on[sel], m_min_on])
        strength = np.concatenate([strength[sel], np.ones(k)])
        m_ev = {"distance_m": memory.cols["merged_d"][at], "gate_m": np.zeros(k), "speed_kn": speed[m_rows] / KNOT_MPS,
                "other_speed_kn": m_other / KNOT_MPS, "merged": np.ones(k), "resplit": (m_related >= 0) & (m_related != m_absorbed),
                "merged_s": s.t - memory.cols["merged_t"][at]}
        ev = {n: np.concatenate([ev.get(n, np.full(len(held), np.nan))[sel], np.asarray(m_ev[n], float)]) for n in m_ev}
    return Candidates.build(owner, enter, stay, strength, min_on_s=min_on, severity=r.severity, weight=r.weight,
                            aux=aux, related=related, evidence=ev)


class Rendezvous(ExcludingRule[RendezvousParams]):
    """The rendezvous rule with its pair memory (smoothing, mates, merges); the subject is a pair of tracks."""

    name = "rendezvous"
    Params = RendezvousParams

    def __init__(self) -> None:
        super().__init__()
        self.memory: PairMemory = PairMemory()

    @property
    def state_key(self) -> str:
        """"smooth", as in checkpoints written before the rule catalog."""
        return "smooth"

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``rendezvous`` on smoothed positions and speeds, with merged plots."""
        return rendezvous(s, self.params, self.memory)

    def restore(self, part: Mapping[str, Any]) -> None:
        """Memory columns from ``snapshot``; columns a snapshot predates start at their defaults (no mate, no merge)."""
        if "track_id" not in part:
            return
        n = len(part["track_id"])
        base = _empty_cols()
        missing = {**_DEFAULT, "mmsi": NO_MMSI}  # else NaN (float columns)
        self.memory.cols = {k: np.asarray(part[k]).copy() if k in part else
                            np.full(n, missing.get(k, math.nan), base[k].dtype) for k in base}

    def on_merge(self, merged: IntArray) -> None:
        """(K, 2) (absorbed id, surviving id) merged by the tracker: an absorbed track that converged on its survivor
        is recorded as merged into it; then its memory is dropped."""
        c = self.memory.cols
        lost = merged[:, 0]
        pos = np.minimum(np.searchsorted(c["track_id"], lost), max(len(c["track_id"]) - 1, 0))
        known = (c["track_id"][pos] == lost) if len(c["track_id"]) else np.zeros(len(lost), bool)
        p = pos[known]
        into = np.where(c["mate"][p] == merged[known, 1], merged[known, 1], -1)
        self.memory.absorb(lost[known], into, {k: c[k][p] for k in _AT},
                           float(np.nanmax(c["last_t"])) if len(c["last_t"]) else 0.0, self.params.absorbed_max_rcs_dbsm)
        super().on_merge(merged)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Distance, time together and both speeds; for a merged plot, how long the other boat has been in it."""
        if ev.get("merged", 0.0) > 0:
            split = " and split off again" if ev.get("resplit", 0.0) > 0 else ""
            return (f"another track converged on it and disappeared into its radar plot "
                    f"{fmt(ev.get('merged_s', math.nan) / 60.0, ' min')} ago{split}, "
                    f"slow ({fmt(ev.get('speed_kn', math.nan), ' kn', 1)}), away from port")
        return (f"within {fmt(ev['distance_m'], ' m')} of another track for {fmt(ev['condition_s'] / 60.0, ' min')}, "
                f"both slow ({fmt(ev.get('speed_kn', math.nan), ' kn', 1)} and {fmt(ev['other_speed_kn'], ' kn', 1)}), away from port")
