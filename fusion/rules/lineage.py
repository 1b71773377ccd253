"""Object hypotheses over track fragments: which new track continues a lost one. Pure.

A vessel or aircraft whose track is deleted (radar fades, a coasting track given up) is often
re-initiated as a new track moments later; alerts, identity history and rule memories must
follow the object, not the raw track id. ``Lineage`` keeps, per live track and for tracks lost
up to ``handover_s`` ago, the last position and velocity, the identity and whether any fragment
of the object ever carried an AIS / ADS-B identity. A track new to the engine and born at most
``handover_s`` ago continues a lost track of its domain when

- it carries the lost track's MMSI / ICAO address (identity continuity), or else
- it starts within ``handover_m`` of the lost track's position predicted along its velocity
  and no identity contradicts it (both known and different);

one successor per lost track and one predecessor per new track, the nearest first. The engine
moves the lost track's alerts to the successor (``AlertBook.remap``), so one object keeps one alert.

``identity_heard_near`` asks where a track's identity was last heard: at a radar-held track of no
identity or the same one (within ``handover_m`` plus that track's speed x the report's age)? Then a
vessel there is transmitting it: for ``ais_spoofing`` (other tracks only) the identity was left on a
neighbour (vessels moored together, a pilot boat leaving the tug it waited beside), a swap, not
spoofing; for ``ais_gap`` (the track itself included) the transponder is on, only its reports went
to another track or have not updated this one yet. A spoofer's reports, miles from any track, fit
neither.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from fusion.core.arrays import NO_ICAO, NO_MMSI, BoolArray, FloatArray, IntArray, expand_ranges
from fusion.rules.reporting import ReportingArrays
from fusion.rules.scene import Scene


class Carried:
    """A memory's columns (sorted by track id) matched to this tick's sorted ``ids``: ``pos`` (position
    in the old columns, clipped) and ``known`` (the id is there) per id."""

    def __init__(self, old: dict[str, np.ndarray], ids: IntArray) -> None:
        self.old = old
        old_ids = old["track_id"]
        self.same = np.array_equal(old_ids, ids)  # the usual tick: the same tracks as the last one
        if self.same:
            self.pos, self.known = np.arange(len(ids)), np.ones(len(ids), bool)
        elif len(old_ids):
            self.pos = np.minimum(np.searchsorted(old_ids, ids), len(old_ids) - 1)
            self.known = old_ids[self.pos] == ids
        else:
            self.pos, self.known = np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)

    def prev(self, k: str, new: FloatArray | float) -> FloatArray:
        """(len(ids),) column k's old value where the id is known, else ``new`` (the old array itself
        when the ids are the same: do not modify it while the old columns are still needed)."""
        if self.same:
            return self.old[k]
        return np.where(self.known, self.old[k][self.pos] if len(self.old[k]) else 0.0, new)

    def gone(self) -> BoolArray:
        """(M,) old rows whose id is not among this tick's ids."""
        out = np.ones(len(self.old["track_id"]), bool)
        out[self.pos[self.known]] = False
        return out

    def columns(self, live: dict[str, np.ndarray], kept: IntArray | BoolArray) -> dict[str, np.ndarray]:
        """The memory's next columns: this tick's ``live`` rows and the old rows ``kept`` (gone tracks held for a
        successor or a return), sorted by track id (stable: a live row before a kept one of the same id)."""
        both = {k: np.concatenate([v, self.old[k][kept]]) for k, v in live.items()}
        order = np.argsort(both["track_id"], kind="stable")
        return {k: v[order] for k, v in both.items()}


def nearest_successors(pred_xy: FloatArray, here_xy: FloatArray, max_m: float,
                       allowed: BoolArray | None = None) -> tuple[IntArray, IntArray, FloatArray]:
    """One-to-one nearest pairs (lost i, new j) with the new position ``here_xy`` (J, 2) within ``max_m`` of the lost
    track's predicted position ``pred_xy`` (I, 2), nearest first; ``allowed`` (J, I) forbids pairs. Returns (P,) i, j,
    distance."""
    empty = np.zeros(0, np.int64)
    if not len(pred_xy) or not len(here_xy):
        return empty, empty, np.zeros(0)
    tree = cKDTree(pred_xy)
    cand = tree.query_ball_point(here_xy, max_m)
    jj = np.repeat(np.arange(len(here_xy)), [len(c) for c in cand])
    ii = np.fromiter((i for c in cand for i in c), np.int64, count=len(jj))
    if allowed is not None and len(jj):
        ok = allowed[jj, ii]
        ii, jj = ii[ok], jj[ok]
    d = np.hypot(*(pred_xy[ii] - here_xy[jj]).T) if len(ii) else np.zeros(0)
    order = np.argsort(d, kind="stable")
    used_i: set[int] = set()
    used_j: set[int] = set()
    keep = []
    for k in order.tolist():  # pairs within reach of a few lost tracks: few
        if int(ii[k]) not in used_i and int(jj[k]) not in used_j:
            used_i.add(int(ii[k]))
            used_j.add(int(jj[k]))
            keep.append(k)
    sel = np.array(keep, np.int64)
    return ii[sel], jj[sel], d[sel]


_COLS: dict[str, type] = {"track_id": np.int64, "last_t": np.float64, "east": np.float64, "north": np.float64,
                          "ve": np.float64, "vn": np.float64, "mmsi": np.int64, "icao24": np.int64, "is_air": np.bool_,
                          "had_id": np.bool_}


@dataclass
class Lineage:
    """Live and recently lost tracks (columns by sorted track id); see the module docstring."""

    cols: dict[str, np.ndarray] = field(default_factory=lambda: {k: np.zeros(0, dt) for k, dt in _COLS.items()})
    _had: BoolArray = field(default_factory=lambda: np.zeros(0, bool), repr=False, compare=False)
    _t: float = field(default=-np.inf, repr=False, compare=False)  # time of the last observe

    def observe(self, s: Scene, handover_s: float, handover_m: float) -> IntArray:
        """Update with this tick's tracks; returns (P, 2) int64 (lost track id, its successor's id)."""
        old = self.cols
        carried = Carried(old, s.track_id)
        had = carried.prev("had_id", False).astype(bool) | (s.mmsi != NO_MMSI) | (s.icao24 != NO_ICAO) | np.isfinite(s.last_ais_t)
        lost = np.flatnonzero(carried.gone() & (s.t - old["last_t"] <= handover_s))
        new = np.flatnonzero(~carried.known & (s.t - s.first_t <= handover_s))
        pairs = np.zeros((0, 2), np.int64)
        if len(lost) and len(new):
            li, nj = self._match(s, old, lost, new, handover_m)
            if len(li):
                pairs = np.column_stack([old["track_id"][lost[li]], s.track_id[new[nj]]])
                had[new[nj]] |= old["had_id"][lost[li]]
                lost = np.delete(lost, li)
        live = {"track_id": s.track_id, "last_t": np.full(len(s), s.t), "east": s.east, "north": s.north,
                "ve": s.vel[:, 0], "vn": s.vel[:, 1], "mmsi": s.mmsi, "icao24": s.icao24, "is_air": s.is_air, "had_id": had}
        self.cols = carried.columns({k: live[k].astype(dt) for k, dt in _COLS.items()}, lost)
        self._had, self._t = had, s.t
        return pairs

    @staticmethod
    def _match(s: Scene, old: dict[str, np.ndarray], lost: IntArray, new: IntArray, handover_m: float
               ) -> tuple[IntArray, IntArray]:
        """(P,) positions in ``lost`` and in ``new`` of the successor pairs: identity first, then kinematics."""
        l_id = np.where(old["mmsi"][lost] != NO_MMSI, old["mmsi"][lost], -old["icao24"][lost] - 2)  # -1: none
        n_id = np.where(s.mmsi[new] != NO_MMSI, s.mmsi[new], -s.icao24[new] - 2)
        l_id = np.where((old["mmsi"][lost] == NO_MMSI) & (old["icao24"][lost] == NO_ICAO), -1, l_id)
        n_id = np.where((s.mmsi[new] == NO_MMSI) & (s.icao24[new] == NO_ICAO), -1, n_id)
        same_domain = old["is_air"][lost][None, :] == s.is_air[new][:, None]  # (J, I)
        same_id = (n_id[:, None] == l_id[None, :]) & (n_id[:, None] != -1) & same_domain
        by_id_j, by_id_i = np.nonzero(same_id)
        _, first = np.unique(by_id_i, return_index=True)  # one successor per lost track
        by_id_i, by_id_j = by_id_i[first], by_id_j[first]
        _, first = np.unique(by_id_j, return_index=True)
        by_id_i, by_id_j = by_id_i[first], by_id_j[first]
        free_i = np.setdiff1d(np.arange(len(lost)), by_id_i)
        free_j = np.setdiff1d(np.arange(len(new)), by_id_j)
        dt = s.t - old["last_t"][lost[free_i]]
        pred = np.column_stack([old["east"][lost[free_i]] + old["ve"][lost[free_i]] * dt,
                                old["north"][lost[free_i]] + old["vn"][lost[free_i]] * dt])
        here = np.column_stack([s.east[new[free_j]], s.north[new[free_j]]])
        conflict = (n_id[free_j][:, None] != l_id[free_i][None, :]) & (n_id[free_j][:, None] != -1) & (l_id[free_i][None, :] != -1)
        allowed = same_domain[np.ix_(free_j, free_i)] & ~conflict
        ki, kj, _ = nearest_successors(pred, here, handover_m, allowed)
        return np.concatenate([by_id_i, free_i[ki]]), np.concatenate([by_id_j, free_j[kj]])

    def merge(self, merged: IntArray) -> None:
        """(K, 2) (absorbed id, surviving id): the surviving track inherits the absorbed one's identity history; an
        absorbed track is not lost (nothing continues it)."""
        c = self.cols
        absorbed = np.isin(c["track_id"], merged[:, 0])
        had_from = merged[np.isin(merged[:, 0], c["track_id"][absorbed & c["had_id"]]), 1]
        c["had_id"] = c["had_id"] | np.isin(c["track_id"], had_from)
        self.cols = {k: v[~absorbed] for k, v in c.items()}

    def had_identity(self, s: Scene) -> BoolArray:
        """(N,) after this tick's ``observe``: some fragment of the track's object carried an AIS / ADS-B identity."""
        return self._had if len(self._had) == len(s) else np.zeros(len(s), bool)

    def lost_ids(self) -> IntArray:
        """Sorted ids of the tracks lost within ``handover_s`` and not yet continued (their alerts wait for a successor)."""
        return self.cols["track_id"][self.cols["last_t"] < self._t]


M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator), mean Earth sphere


def identity_heard_near(s: Scene, rows: IntArray, heard_t: FloatArray, heard_lat: FloatArray, heard_lon: FloatArray,
                        radar_fresh_s: float, gate_m: float, others_only: bool) -> BoolArray:
    """(R,) for surface tracks ``rows`` (R,) whose MMSI was last heard at ``heard_t`` (s), ``heard_lat``, ``heard_lon``
    (deg) (R,; NaN: never): a surface track updated by radar/OTH within ``radar_fresh_s`` (another one if
    ``others_only``), without an MMSI or with the same one, lies within ``gate_m`` plus its speed x the report's age of
    that report.

    The tracks that may fit are of three kinds, each tested its cheapest way: the track itself (one distance per
    row; not when ``others_only``), other tracks with the same MMSI (a join on MMSI: duplicates are few) and tracks
    without an MMSI (a k-d tree within the fastest one's reach, asked only for the rows no track of the first two
    kinds fits). A dense (R, N) test of every pair is quadratic: 0.14 s a tick at 5,000 identified tracks."""
    out = np.zeros(len(rows), bool)
    fresh = ~s.is_air & (s.t - s.last_noncoop_t <= radar_fresh_s)  # (N,) radar-held surface tracks
    ok = np.flatnonzero(np.isfinite(heard_t) & np.isfinite(heard_lat) & np.isfinite(heard_lon))
    if not fresh.any() or not len(ok):
        return out
    r = rows[ok]
    age = np.maximum(s.t - heard_t[ok], 0.0)
    # the report in the local frame, from the track's own position (metres per degree at its latitude)
    he = s.east[r] + (heard_lon[ok] - s.lon[r]) * M_PER_DEG * np.cos(np.radians(s.lat[r]))
    hn = s.north[r] + (heard_lat[ok] - s.lat[r]) * M_PER_DEG

    def fits(i: IntArray, j: IntArray) -> BoolArray:
        """(P,) track j lies within the reach of report i (P,) pairs."""
        return np.hypot(s.east[j] - he[i], s.north[j] - hn[i]) <= gate_m + s.speed_mps[j] * age[i]

    every = np.arange(len(r))
    found = np.zeros(len(r), bool) if others_only else fresh[r] & fits(every, r)
    # other radar-held tracks with the same MMSI
    ident = np.flatnonzero(fresh & (s.mmsi != NO_MMSI))
    by_mmsi = ident[np.argsort(s.mmsi[ident], kind="stable")]
    i, j = _matches(s.mmsi[by_mmsi], s.mmsi[r])
    j = by_mmsi[j]
    other = s.track_id[j] != s.track_id[r[i]]
    i, j = i[other], j[other]
    found[i[fits(i, j)]] = True
    # radar-held tracks without an MMSI, for the rows still open
    anon = np.flatnonzero(fresh & (s.mmsi == NO_MMSI))
    todo = np.flatnonzero(~found)
    if len(anon) and len(todo):
        tree = cKDTree(np.column_stack([s.east[anon], s.north[anon]]))
        near = tree.query_ball_point(np.column_stack([he[todo], hn[todo]]),
                                     r=gate_m + float(s.speed_mps[anon].max()) * age[todo], return_sorted=False)
        counts = np.fromiter(map(len, near), np.int64, count=len(near))
        i = np.repeat(todo, counts)
        j = anon[np.fromiter(itertools.chain.from_iterable(near), np.int64, count=int(counts.sum()))]
        keep = fits(i, j)
        if others_only:
            keep &= s.track_id[j] != s.track_id[r[i]]
        found[i[keep]] = True
    out[ok] = found
    return out


def _matches(sorted_keys: IntArray, keys: IntArray) -> tuple[IntArray, IntArray]:
    """Every (i, j) with ``keys[i] == sorted_keys[j]``, for ascending ``sorted_keys`` (M,) and any ``keys`` (K,)."""
    lo = np.searchsorted(sorted_keys, keys, side="left")
    return expand_ranges(lo, np.searchsorted(sorted_keys, keys, side="right") - lo)


def heard_near(s: Scene, mask: BoolArray, rep: ReportingArrays, radar_fresh_s: float, handover_m: float,
               others_only: bool) -> FloatArray:
    """(N,) for identified surface tracks in ``mask``: the time their MMSI was last heard where a radar-held track of no
    or the same identity (another one if ``others_only``) sits (``identity_heard_near`` within ``handover_m``), else
    NaN."""
    out = np.full(len(s), np.nan)
    rows = np.flatnonzero(mask & ~s.is_air & (s.mmsi != NO_MMSI))
    if len(rows):
        heard_t, lat, lon = rep.last_heard(s.mmsi[rows])
        near = identity_heard_near(s, rows, heard_t, lat, lon, radar_fresh_s, handover_m, others_only)
        out[rows[near]] = heard_t[near]
    return out
