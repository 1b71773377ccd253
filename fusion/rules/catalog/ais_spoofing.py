"""ais_spoofing: the tracker flagged a track spoof_suspect (a cooperative report with its identity was
kinematically impossible against it) while radar/OTH held it (``SpoofMemory``: when the flag appeared)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from fusion.core.arrays import NO_MMSI, BoolArray, FloatArray, IntArray
from fusion.rules.behaviours import track_candidates
from fusion.rules.catalog.base import Rule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates, map_ids
from fusion.rules.lineage import M_PER_DEG, Carried, heard_near
from fusion.rules.params import KNOT_MPS, Pos, RuleParams
from fusion.rules.reporting import ReportingArrays
from fusion.rules.scene import Scene


class SpoofParams(RuleParams):
    """ais_spoofing: the tracker marked the track spoof_suspect (a cooperative report with its identity was
    kinematically impossible against it) while radar/OTH held it (updated within radar_fresh_s): the AIS
    position disagrees with the radar track bearing the same identity. Raised only while no consistent AIS report
    has updated the track since the flag appeared (one impossible report followed by consistent ones is a swap the
    tracker undid); holds while no consistent AIS report
    has updated the track since the flag appeared, or for event_hold_s after it appeared. Not while another
    radar-held track (no identity, or the same) lies within the engine's handover_m of where the identity was
    last heard: the identity was left on a neighbour (fusion.rules.lineage.identity_heard_near); nor while one
    bearing another identity lies there whose own identity was last heard at this track (``crossed_identities``: two
    vessels swapped identities). A flag the track inherited in a merge keeps the absorbed track's flag time
    (``SpoofMemory.merge``). Sources of the shipped values: fusion/rules/defaults/rules.toml and docs/RULES.md."""

    radar_fresh_s: Pos
    event_hold_s: Pos


@dataclass
class SpoofMemory:
    """When the engine first saw each surface or air track's spoof_suspect flag (sorted track id)."""

    cols: dict[str, np.ndarray] = field(default_factory=lambda: {"track_id": np.zeros(0, np.int64), "flag_t": np.zeros(0)})

    def observe(self, s: Scene) -> FloatArray:
        """(N,) time the flag was first seen (NaN = not flagged); forgets tracks that are gone or unflagged."""
        rows = np.flatnonzero(s.spoof_suspect)
        ids = s.track_id[rows]
        flag_t = Carried(self.cols, ids).prev("flag_t", s.t)
        self.cols = {"track_id": ids, "flag_t": flag_t}
        out = np.full(len(s), np.nan)
        out[rows] = flag_t
        return out

    def merge(self, merged: IntArray) -> None:
        """(K, 2) (absorbed id, surviving id): the survivor keeps the earlier of its own and the absorbed tracks' flag
        times (the tracker ORs the flag into the survivor, ``fusion.core.manage``: the impossible report was then, not
        at the merge); the absorbed tracks are forgotten."""
        c = self.cols
        if not np.isin(c["track_id"], merged[:, 0]).any():
            return
        uniq, row = np.unique(map_ids(c["track_id"], merged[:, 0], merged[:, 1]), return_inverse=True)
        earliest = np.full(len(uniq), np.inf)
        np.minimum.at(earliest, row, c["flag_t"])
        self.cols = {"track_id": uniq, "flag_t": earliest}


def _offset_m(s: Scene, rows: IntArray, lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(R,) east, north (m, local frame) of positions ``lat``, ``lon`` (deg) (R,) near tracks ``rows`` (R,), from the
    track's own position (metres per degree at its latitude, as ``fusion.rules.lineage.identity_heard_near``)."""
    return (s.east[rows] + (lon - s.lon[rows]) * M_PER_DEG * np.cos(np.radians(s.lat[rows])),
            s.north[rows] + (lat - s.lat[rows]) * M_PER_DEG)


def crossed_identities(s: Scene, mask: BoolArray, rep: ReportingArrays, radar_fresh_s: float, gate_m: float) -> BoolArray:
    """(N,) for identified surface tracks in ``mask`` bearing MMSI A: A was last heard at a radar-held track bearing
    another MMSI B, and B was last heard at this track (each within ``gate_m`` plus the track's speed x the report's
    age): two vessels that passed close have swapped identities on their tracks, so each one's reports are impossible
    against the track bearing its identity (buenaventura-1000, issue 14: the ferry leaving the berth of a pilot boat).
    A spoofer's shifted reports land where no vessel sends reports from the spoofer's own position."""
    out = np.zeros(len(s), bool)
    rows = np.flatnonzero(mask & ~s.is_air & (s.mmsi != NO_MMSI))
    others = np.flatnonzero(~s.is_air & (s.mmsi != NO_MMSI) & (s.t - s.last_noncoop_t <= radar_fresh_s))
    if not len(rows) or not len(others):
        return out
    t_a, lat_a, lon_a = rep.last_heard(s.mmsi[rows])
    ok = np.isfinite(t_a) & np.isfinite(lat_a) & np.isfinite(lon_a)
    if not ok.any():
        return out
    rows, age_a = rows[ok], np.maximum(s.t - t_a[ok], 0.0)
    he, hn = _offset_m(s, rows, lat_a[ok], lon_a[ok])
    tree = cKDTree(np.column_stack([s.east[others], s.north[others]]))
    near = tree.query_ball_point(np.column_stack([he, hn]), r=gate_m + float(s.speed_mps[others].max()) * age_a,
                                 return_sorted=False)
    counts = np.fromiter(map(len, near), np.int64, count=len(near))
    i = np.repeat(np.arange(len(rows)), counts)
    j = others[np.fromiter(itertools.chain.from_iterable(near), np.int64, count=int(counts.sum()))]
    there = (np.hypot(s.east[j] - he[i], s.north[j] - hn[i]) <= gate_m + s.speed_mps[j] * age_a[i]) & (
        s.mmsi[j] != s.mmsi[rows[i]])
    i, j = i[there], j[there]
    t_b, lat_b, lon_b = rep.last_heard(s.mmsi[j])
    be, bn = _offset_m(s, rows[i], lat_b, lon_b)
    back = np.hypot(be - s.east[rows[i]], bn - s.north[rows[i]]) <= gate_m + s.speed_mps[rows[i]] * np.maximum(s.t - t_b, 0.0)
    out[rows[i[back]]] = True  # NaN (B never heard) compares False
    return out


def ais_spoofing(s: Scene, r: SpoofParams, memory: SpoofMemory | None = None, reporting: ReportingArrays | None = None,
                 handover_m: float = 0.0) -> Candidates:
    """Track flagged spoof_suspect by the tracker (a report with its identity was kinematically impossible)
    while radar/OTH held it, raised while no consistent AIS update came since the flag; holds while no consistent AIS update came since the flag, or event_hold_s. Not while
    another radar-held track of no or the same identity sits where the identity was last heard (``reporting``:
    ``heard_near`` within ``handover_m``): the identity was left on a neighbour; nor while the identities of this
    track and another radar-held one are crossed (``crossed_identities``)."""
    flag_t = memory.observe(s) if memory is not None else np.where(s.spoof_suspect, s.t, np.nan)
    radar_age = s.t - s.last_noncoop_t
    consistent_since = s.last_ais_t > flag_t  # a feasible AIS update after the flag appeared (NaN compares False)
    live = s.eligible & s.spoof_suspect & (~consistent_since | (s.t - flag_t <= r.event_hold_s))
    if reporting is not None:
        live &= np.isnan(heard_near(s, live, reporting, r.radar_fresh_s, handover_m, others_only=True))
        live &= ~crossed_identities(s, live, reporting, r.radar_fresh_s, handover_m)
    # raised only while the identity's reports still fail: one impossible report followed by consistent ones is an
    # identity swap the tracker has undone (two boats leaving the berth they shared), not a spoofer, whose shifted
    # reports keep failing; a raised alert holds event_hold_s after the flag as before
    enter = live & ~consistent_since & (radar_age <= r.radar_fresh_s)
    stay = live & (radar_age <= 2.0 * r.radar_fresh_s)
    return track_candidates(r, enter, stay, np.ones(len(s)), {
        "speed_kn": s.speed_mps / KNOT_MPS, "radar_age_s": radar_age, "flagged_for_s": s.t - flag_t,
        "ais_silent_s": s.t - s.last_ais_t})


class AisSpoofing(Rule[SpoofParams]):
    """The ais_spoofing rule with its flag memory."""

    name = "ais_spoofing"
    Params = SpoofParams

    def __init__(self) -> None:
        super().__init__()
        self.memory: SpoofMemory = SpoofMemory()

    @property
    def state_key(self) -> str:
        """"spoof", as in checkpoints written before the rule catalog."""
        return "spoof"

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``ais_spoofing`` with the flag memory and the tick's reporting table (identity swaps)."""
        return ais_spoofing(s, self.params, self.memory, tick.reporting, tick.engine.handover_m)

    def on_merge(self, merged: IntArray) -> None:
        """The flag time follows the surviving track (``SpoofMemory.merge``)."""
        self.memory.merge(merged)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """How long ago the impossible report came, the radar age and the AIS silence."""
        return (f"an AIS report with this identity was {fmt(ev['flagged_for_s'] / 60.0, ' min')} ago kinematically impossible "
                f"against the radar track (radar {fmt(ev['radar_age_s'], ' s')} ago, AIS silent here for "
                f"{fmt(ev['ais_silent_s'] / 60.0, ' min')})")
