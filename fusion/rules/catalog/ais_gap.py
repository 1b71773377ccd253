"""ais_gap: an identified vessel silent on AIS, while radar holds it, for longer than its missed-report limit
(``fusion.rules.reporting``), or AIS reappearing farther than its last speed allows (``AisMemory``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
import numpy as np

from fusion.core.arrays import NO_MMSI, BoolArray, FloatArray, IntArray
from fusion.outages import Outages, covered_s
from fusion.rules.behaviours import in_coverage, ramp, track_candidates
from fusion.rules.catalog.base import Rule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates, map_ids
from fusion.rules.lineage import Carried, heard_near
from fusion.rules.params import KNOT_MPS, Coverage, NonNeg, Pos, RuleParams
from fusion.rules.reporting import ANCHOR_INTERVAL_S, STOPPED_TRACK_KN, ReportingArrays, gap_limits, silence
from fusion.rules.scene import Scene


class AisGapParams(RuleParams):
    """ais_gap: identified vessel silent on AIS inside AIS coverage (satellite_dark_s outside it) while
    radar/OTH updated it within radar_fresh_s, for longer than its missed-report limit: k expected reports
    (ITU-R M.1371 interval of its class and speed) all lost, where (1 - p_rx)^k is below the chance a
    transmitting vessel is allowed per report (``false_gaps_per_vessel_day`` spread over its reports of a
    day), p_rx its observed reception (blended with ``p_rx_default`` over ``prior_gaps``), and at least
    ``min_gap_s``; or AIS reappearing after such a gap farther than its last speed allows (jump).
    Sources of the shipped values: fusion/rules/defaults/rules.toml and docs/RULES.md."""

    false_gaps_per_vessel_day: Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)]
    p_rx_default: Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)]
    prior_gaps: NonNeg
    min_gap_s: NonNeg
    radar_fresh_s: Pos
    jump_speed_factor: Annotated[float, msgspec.Meta(ge=1.0)]
    jump_slack_m: NonNeg
    jump_min_speed_kn: NonNeg
    event_hold_s: Pos


@dataclass(frozen=True)
class SilenceTick:
    """This tick's AIS silence of every track (N,): when it began (``since``, s), how long it has lasted without
    outages (``silent_s``), log(1 - p) of one report's loss at the reception where the track is now
    (``log_loss_now``) and over the silence before the engine watched it (``log_loss_before``), whether radar
    reads the track slow enough now that the vessel may be at anchor (``stopped``, bool), and whether radar has not
    updated it within twice ``radar_fresh_s``, the age at which a raised gap no longer holds (``radar_lost``, bool)."""

    since: FloatArray
    silent_s: FloatArray
    log_loss_now: FloatArray
    log_loss_before: FloatArray
    stopped: BoolArray
    radar_lost: BoolArray


@dataclass
class AisMemory:
    """Last AIS-updated position per identified surface track, for the reappearance test, and the log-likelihood of its
    current silence, for the missed-report test.

    Columns keyed by sorted track id: ais_t, east, north, speed_mps, jump_t, jump_m, reach_m; since, silent_s,
    loss_s (the silence that began at ``since``, counted ``silent_s`` so far, and its seconds each weighted by
    log(1 - p) at the reception where the track was then: over a reporting interval T, loss_s / T is the log of the
    chance that a transmitting vessel's reports over the silence were all lost); moving_s, loss_moving_s (the part of
    silent_s and loss_s since radar last read the track slow: before it the vessel may have been at anchor, reporting
    every 3 min); radar_lost (1: radar lost the track at some tick of the silence, 0: it held it throughout).
    """

    cols: dict[str, np.ndarray] = field(default_factory=lambda: {
        "track_id": np.zeros(0, np.int64), **{k: np.zeros(0) for k in
                                               ("ais_t", "east", "north", "speed_mps", "jump_t", "jump_m", "reach_m",
                                                "since", "silent_s", "loss_s", "moving_s", "loss_moving_s",
                                                "radar_lost")}})

    def observe(self, s: Scene, r: AisGapParams, limit_s: FloatArray, outages: Outages | None = None,
                silence: SilenceTick | None = None) -> dict[str, FloatArray]:
        """Update with this tick's AIS times; returns (N,) jump_t (NaN = none), jump_m, reach_m, loss_s, moving_s,
        loss_moving_s and radar_lost. A jump needs a gap between two AIS updates of at least the vessel's (N,)
        ``limit_s``, counted without the AIS ``outages`` in it. loss_s (``silence``; NaN without it) sums each tick's new silent seconds x
        log(1 - p) at the reception where the track is then; a silence first seen (a new track, a new silence start)
        takes the seconds before at ``log_loss_before``. moving_s and loss_moving_s count the same since the last tick
        radar read the track ``stopped`` (0 on such a tick): the rule judges the silence before it at the at-anchor
        interval (a vessel that may have stopped owes one report every 180 s, ITU-R M.1371-5 Table 1) and the rest
        at the vessel's interval now. radar_lost is 1 from the first tick of the silence on which radar had lost the
        track (``silence.radar_lost``) until a new silence begins."""
        rows = np.flatnonzero(~s.is_air & np.isfinite(s.last_ais_t))
        carried = Carried(self.cols, s.track_id[rows])
        known = carried.known
        prev = {k: carried.prev(k, np.nan) for k in self.cols if k != "track_id"}
        fresh = ~(s.last_ais_t[rows] <= prev["ais_t"])  # a new AIS update (or first seen)
        gap = s.last_ais_t[rows] - prev["ais_t"]
        heard_gap = gap if outages is None else gap - covered_s(prev["ais_t"], s.last_ais_t[rows], outages.ais)
        reach = (np.maximum(prev["speed_mps"], r.jump_min_speed_kn * KNOT_MPS) * gap * r.jump_speed_factor + r.jump_slack_m)
        moved = np.hypot(s.east[rows] - prev["east"], s.north[rows] - prev["north"])
        jump = known & fresh & (heard_gap >= limit_s[rows]) & (moved > reach)
        new = {
            "track_id": s.track_id[rows],
            "ais_t": np.where(fresh, s.last_ais_t[rows], prev["ais_t"]),
            "east": np.where(fresh, s.east[rows], prev["east"]),
            "north": np.where(fresh, s.north[rows], prev["north"]),
            "speed_mps": np.where(fresh, s.speed_mps[rows], prev["speed_mps"]),
            "jump_t": np.where(jump, s.t, prev["jump_t"]),
            "jump_m": np.where(jump, moved, prev["jump_m"]),
            "reach_m": np.where(jump, reach, prev["reach_m"]),
            **{k: np.full(len(rows), np.nan) for k in ("since", "silent_s", "loss_s", "moving_s", "loss_moving_s",
                                                       "radar_lost")},
        }
        if silence is not None:
            since, silent = silence.since[rows], silence.silent_s[rows]
            same = known & (since == prev["since"])  # NaN starts never match: a new silence
            step = np.maximum(silent - np.nan_to_num(prev["silent_s"]), 0.0)
            new["since"], new["silent_s"] = since, silent
            new["loss_s"] = np.where(same, prev["loss_s"] + step * silence.log_loss_now[rows],
                                     np.maximum(silent, 0.0) * silence.log_loss_before[rows])
            moving = ~silence.stopped[rows]
            new["moving_s"] = np.where(moving, np.where(same, prev["moving_s"] + step, np.maximum(silent, 0.0)), 0.0)
            new["loss_moving_s"] = np.where(moving, np.where(same, prev["loss_moving_s"] + step * silence.log_loss_now[rows],
                                                             new["loss_s"]), 0.0)
            lost = silence.radar_lost[rows] | (same & (prev["radar_lost"] == 1.0))  # NaN (an older snapshot): held
            new["radar_lost"] = lost.astype(np.float64)
        self.cols = new
        out = {k: np.full(len(s), np.nan) for k in ("jump_t", "jump_m", "reach_m", "loss_s", "moving_s", "loss_moving_s",
                                                    "radar_lost")}
        for k, col in out.items():
            col[rows] = new[k]
        return out

    def restore(self, part: Mapping[str, Any]) -> None:
        """Columns from a snapshot; one written before the silence columns leaves their silences to start anew, one
        written before the moving columns counts the whole silence as moving (as the rule then judged it)."""
        n = len(part["track_id"])
        old = {"moving_s": "silent_s", "loss_moving_s": "loss_s"}
        self.cols = {k: np.asarray(part[k] if k in part else part.get(old.get(k, ""), np.full(n, np.nan))).copy()
                     for k in self.cols}


def log_loss(p_rx: FloatArray) -> FloatArray:
    """(N,) log(1 - p) of one report's loss at reception probabilities ``p_rx`` (N,) (p = 1: a large negative
    number, not -inf, so sums stay finite)."""
    return np.log1p(-np.clip(np.asarray(p_rx, np.float64), 0.0, 1.0 - 1e-9))


def ais_gap(s: Scene, r: AisGapParams, cov: Coverage, memory: AisMemory, outages: Outages | None = None,
            reporting: ReportingArrays | None = None, handover_m: float = 0.0) -> Candidates:
    """Identified vessel silent on AIS inside AIS coverage while radar holds it, whose silence is unlikely for a
    transmitting vessel: the chance that all its expected reports (``fusion.rules.reporting``: its class's ITU-R M.1371
    interval) were lost, each at the reception where the track was when it was due (``AisMemory.observe``), below
    alpha (``false_gaps_per_vessel_day`` spread over its reports of a day), and at least ``min_gap_s`` (outside
    coverage: satellite_dark_s when satellite AIS is fused), raised only once radar updated the track at least one
    reporting interval into the silence (it saw the vessel there when a report was overdue); or reappearing out of
    reach. The AIS silence and the
    radar age do not count ``outages`` (the link or the feed silent: nothing could be heard). The silence runs from the
    MMSI's last report where a radar-held track of no or the same identity sits (``heard_near``, within
    ``handover_m``: the transponder is on) to when the receivers last heard anyone (``reporting.silence``).
    ``reporting``: the vessels' last reports, observed reception and the reception map (None: none known)."""
    ident = s.eligible & ~s.is_air & (s.mmsi != NO_MMSI) & np.isfinite(s.last_ais_t)
    rep = reporting if reporting is not None else ReportingArrays()
    args = (r.p_rx_default, r.prior_gaps, r.false_gaps_per_vessel_day, r.min_gap_s)
    heard_limit, interval, p_rx = gap_limits(rep, s.mmsi, s.lat, s.lon, s.speed_mps, *args, cov.circles)
    _, last_lat, last_lon = rep.last_heard(s.mmsi)
    was_there = np.isfinite(last_lat)
    _, _, p_there = gap_limits(rep, s.mmsi, np.where(was_there, last_lat, s.lat), np.where(was_there, last_lon, s.lon),
                               s.speed_mps, *args, cov.circles)
    since, until = silence(rep, s.t, s.last_ais_t, heard_near(s, ident, rep, r.radar_fresh_s, handover_m, others_only=False))
    silent_s = until - since
    radar_age = s.t - s.last_noncoop_t
    if outages is not None:
        silent_s = silent_s - covered_s(since, until, outages.ais)
        radar_age = radar_age - covered_s(s.last_noncoop_t, s.t, outages.noncoop)
    # before the engine watched it, the vessel was between its last report and here: the lower reception of the two
    stopped = s.speed_mps < STOPPED_TRACK_KN * KNOT_MPS
    tick = SilenceTick(since, silent_s, log_loss(p_rx), log_loss(np.minimum(p_rx, p_there)), stopped,
                       radar_age > 2.0 * r.radar_fresh_s)
    jumps = memory.observe(s, r, heard_limit, outages, tick)
    log_alpha = np.log(r.false_gaps_per_vessel_day * interval / 86_400.0)
    # reports due: up to the last tick radar read the track slow, one every 180 s (it may have been at anchor: a
    # moving track's velocity noise reads a stopped ship above STOPPED_TRACK_KN at some ticks, and the stopped vessel's
    # next report may be 3 min away whatever the track reads now); since then, one per interval now
    moving_s = np.minimum(jumps["moving_s"], np.maximum(silent_s, 0.0))
    still_s = np.maximum(silent_s, 0.0) - moving_s
    slots = still_s / ANCHOR_INTERVAL_S + moving_s / interval
    log_loss_due = (jumps["loss_s"] - jumps["loss_moving_s"]) / ANCHOR_INTERVAL_S + jumps["loss_moving_s"] / interval
    # evidence in units of the threshold: 1 when the chance that the silence's whole reports (its mean log-loss per
    # expected report x the reports due so far) were all lost reaches alpha (k x T at a constant reception)
    whole = np.where(slots > 0.0, np.floor(slots + 1e-9) / np.maximum(slots, 1e-12), 0.0)
    evidence = np.nan_to_num(log_loss_due * whole / log_alpha, nan=0.0)
    # outside terrestrial coverage only satellite AIS hears the vessel, within satellite_dark_s (0: nothing does)
    outside = silent_s / cov.satellite_dark_s if cov.satellite_dark_s > 0 else np.zeros(len(s))
    evidence = np.where(in_coverage(s, cov), evidence, outside)
    long_enough = silent_s >= r.min_gap_s
    # radar held the track through the silence (as gap_stay holds it: updated within twice radar_fresh_s): one that
    # coasted longer may have come out of it on another vessel's plots (buenaventura-1001: the identity of a merchant gone out of range, carried onto a ferry
    # transmitting its own), so the silence is no evidence against the vessel radar holds now
    held = jumps["radar_lost"] != 1.0
    # radar saw the vessel there after its first report was overdue (one interval T after the last report heard): a
    # track whose radar updates stopped with its AIS (kingston-1001's anchored-7 at the end of its route: both sensors
    # lost it 6 s apart, its track coasting on) shows no silent vessel, only one gone from both sensors
    witnessed = s.last_noncoop_t - since >= interval
    gap_enter = ident & (evidence >= 1.0) & long_enough & (radar_age <= r.radar_fresh_s) & held & witnessed
    # receivers that heard no one for min_gap_s (a link down, the service restarting over lost data) say nothing
    # about this vessel either: an open gap holds on what was known (a restored alert is not cleared by the
    # rule memory of an older checkpoint, then raised again as a new alert)
    deaf = s.t - until >= r.min_gap_s
    gap_stay = ident & ((evidence >= 0.5) | deaf) & (radar_age <= 2.0 * r.radar_fresh_s)
    jump_on = ident & (s.t - jumps["jump_t"] <= r.event_hold_s)
    strength = np.maximum(ramp(evidence, 0.5, 3.0), jump_on.astype(float))
    return track_candidates(r, gap_enter | jump_on, gap_stay | jump_on, strength, {
        "ais_silent_s": silent_s, "radar_age_s": radar_age, "jump_m": jumps["jump_m"], "reach_m": jumps["reach_m"],
        "limit_s": heard_limit, "interval_s": interval, "p_rx": p_rx, "missed_reports": slots,
        "gap_evidence": evidence})


class AisGap(Rule[AisGapParams]):
    """The ais_gap rule with its reappearance memory; the tick's outages and AIS reporting table come from the engine."""

    name = "ais_gap"
    Params = AisGapParams

    def __init__(self) -> None:
        super().__init__()
        self.memory: AisMemory = AisMemory()

    @property
    def state_key(self) -> str:
        """"ais_memory", as in checkpoints written before the rule catalog."""
        return "ais_memory"

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``ais_gap`` with the tick's outages and reporting table."""
        return ais_gap(s, self.params, tick.engine.ais_coverage, self.memory, tick.outages, tick.reporting,
                       tick.engine.handover_m)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """The jump, or the silence in missed reports at the vessel's reception."""
        if np.isfinite(ev.get("jump_m", np.nan)):
            return (f"AIS reappeared {fmt(ev['jump_m'] / 1000.0, ' km', 1)} away, beyond the "
                    f"{fmt(ev['reach_m'] / 1000.0, ' km', 1)} its last speed allows")
        return (f"AIS silent for {fmt(ev['ais_silent_s'] / 60.0, ' min', 1)} ({fmt(ev['missed_reports'])} reports of "
                f"{fmt(ev['interval_s'], ' s')} missed, more than chance allows at {fmt(100.0 * ev['p_rx'], ' %')} reception) "
                f"while radar updated it {fmt(ev['radar_age_s'], ' s')} ago")

    def restore(self, part: Mapping[str, Any]) -> None:
        """The memory's columns (``AisMemory.restore``); nothing when the snapshot has none."""
        if "track_id" in part:
            self.memory.restore(part)

    def on_merge(self, merged: IntArray) -> None:
        """The reappearance memory follows the surviving track (an AIS identity's last position is the object's)."""
        cols = self.memory.cols
        cols["track_id"] = map_ids(cols["track_id"], merged[:, 0], merged[:, 1])
        order = np.argsort(cols["track_id"], kind="stable")
        self.memory.cols = {k: v[order] for k, v in cols.items()}
