"""Behaviour rules: each maps a Scene and its config to Candidates, vectorised over tracks. Pure.

Every rule returns only subjects whose hold condition is true (or raise condition),
with an evidence strength in [0, 1] and named evidence columns. Thresholds and their
sources are in fusion/rules/defaults/rules.toml and docs/RULES.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from fusion.core.arrays import NO_MMSI, BoolArray, FloatArray, IntArray
from fusion.outages import Outages, covered_s
from fusion.rules import config as cfg
from fusion.rules.config import KNOT_MPS, NM_M
from fusion.rules.lifecycle import SEVERITIES, Candidates, isin_sorted
from fusion.rules.lineage import Carried, nearest_successors
from fusion.rules.reporting import ReportingArrays, missed_report_limit_s
from fusion.rules.scene import Scene


def ramp(x: FloatArray, lo: float | FloatArray, hi: float | FloatArray) -> FloatArray:
    """0 at lo, 1 at hi (each scalar or (N,)), linear between, clipped (strength of evidence)."""
    span = np.maximum(np.asarray(hi, dtype=np.float64) - lo, 1e-9)
    return np.clip((np.asarray(x, dtype=np.float64) - lo) / span, 0.0, 1.0)


def _track_candidates(r: cfg.Rule, enter: BoolArray, stay: BoolArray, strength: FloatArray,
                      evidence: dict[str, FloatArray], zone: IntArray | None = None) -> Candidates:
    rows = np.flatnonzero(stay | enter)
    return Candidates.build(rows, enter[rows], stay[rows], strength[rows], min_on_s=r.min_on_s, severity=r.severity,
                            weight=r.weight, zone=None if zone is None else zone[rows],
                            evidence={k: v[rows] for k, v in evidence.items()})


@dataclass(frozen=True)
class ZoneParams:
    """Per zone (Z,) parameters of a zone rule after by_kind then by_zone overrides."""

    selected: BoolArray
    severity: IntArray
    weight: FloatArray
    dwell_s: FloatArray

    @classmethod
    def of(cls, s_names: list[str], kinds: list[str], r: cfg.ZoneRule, selected: BoolArray) -> ZoneParams:
        """Resolve overrides for every zone (by_zone wins over by_kind wins over the rule)."""
        base_dwell = getattr(r, "dwell_s", r.min_on_s)
        sev, wgt, dwell = [], [], []
        for name, kind in zip(s_names, kinds, strict=True):
            layers = [o for o in (r.by_kind.get(kind), r.by_zone.get(name)) if o is not None]  # type: ignore[call-overload]  # kind: a validated ZoneKind str
            pick = {"severity": r.severity, "weight": r.weight, "dwell_s": base_dwell}
            for o in layers:
                pick.update({k: getattr(o, k) for k in pick if getattr(o, k) is not None})
            sev.append(SEVERITIES.index(str(pick["severity"])))
            wgt.append(float(pick["weight"]))
            dwell.append(float(pick["dwell_s"]))
        return cls(selected, np.array(sev, np.int64), np.array(wgt), np.array(dwell))


def zone_subjects(s: Scene, r: cfg.ZoneRule, zp: ZoneParams, dwell: bool) -> Candidates:
    """Track-in-zone subjects: inside (edge inside) raises, within exit_margin_m holds."""
    z_count = len(zp.selected)
    row_in, zone_in = s.inside(zp.selected)
    keep = s.eligible[row_in]
    in_keys = row_in[keep] * z_count + zone_in[keep]
    if r.exit_margin_m > 0:
        row_near, zone_near = s.near_zones(zp.selected, r.exit_margin_m, np.flatnonzero(s.eligible))
        keys = np.union1d(in_keys, row_near * z_count + zone_near)
    else:
        keys = np.unique(in_keys)
    rows, zones = keys // max(z_count, 1), keys % max(z_count, 1)
    enter = isin_sorted(keys, np.sort(in_keys))
    return Candidates.build(rows, enter, np.ones(len(keys), dtype=bool), np.ones(len(keys)),
                            min_on_s=zp.dwell_s[zones] if dwell else r.min_on_s, severity=zp.severity[zones],
                            weight=zp.weight[zones], aux=zones + 1, zone=zones,
                            evidence={"speed_kn": s.speed_mps[rows] / KNOT_MPS, "course_deg": s.course_deg[rows]})


_FAST_COLS = ("run_start", "last_t", "east", "north", "ve", "vn", "credit_s")


@dataclass
class FastMemory:
    """go_fast evidence across track fragments (columns by sorted track id).

    Per surface track: start of its current run above the raise speed (NaN when not in one),
    last tick seen, position and velocity there, and ``credit_s``, the run time handed over by
    a fast track lost within ``handover_s`` whose predicted position is within ``handover_m`` of
    this young track when its first run starts. A go-fast whose radar track is deleted and
    re-initiated every 10-40 s (radar fades) thus accumulates min_on_s over the chain.
    """

    cols: dict[str, np.ndarray] = field(default_factory=lambda: {
        "track_id": np.zeros(0, np.int64), **{k: np.zeros(0) for k in _FAST_COLS}})

    def observe(self, s: Scene, fast: BoolArray, r: cfg.GoFastRule) -> FloatArray:
        """Update with this tick's (N,) fast condition; returns (N,) credit_s (0 for air)."""
        rows = np.flatnonzero(~s.is_air)
        old = self.cols
        ids = s.track_id[rows]
        carried = Carried(old, ids)
        prev_run = carried.prev("run_start", np.nan)
        f = fast[rows]
        run = np.where(f, np.where(np.isfinite(prev_run), prev_run, s.t), np.nan)
        credit = np.where(f & np.isfinite(prev_run), carried.prev("credit_s", 0.0), 0.0)
        # Lost fast tracks: gone from the views, fast when last seen, within handover_s.
        lost = np.flatnonzero(carried.gone() & np.isfinite(old["run_start"]) & (s.t - old["last_t"] <= r.handover_s))
        starts = np.flatnonzero(f & ~np.isfinite(prev_run) & (s.t - s.first_t[rows] <= r.handover_s))
        if len(lost) and len(starts):
            dt = s.t - old["last_t"][lost]
            pred = np.column_stack([old["east"][lost] + old["ve"][lost] * dt, old["north"][lost] + old["vn"][lost] * dt])
            here = np.column_stack([s.east[rows[starts]], s.north[rows[starts]]])
            li, sj, _ = nearest_successors(pred, here, r.handover_m)  # one successor per lost track: the nearest
            li = lost[li]
            credit[starts[sj]] = old["credit_s"][li] + old["last_t"][li] - old["run_start"][li]
        live = {"track_id": ids, "run_start": run, "last_t": np.full(len(rows), s.t), "east": s.east[rows],
                "north": s.north[rows], "ve": s.vel[rows, 0], "vn": s.vel[rows, 1], "credit_s": credit}
        keep = {k: np.concatenate([live[k], old[k][lost]]) for k in live}
        order = np.argsort(keep["track_id"], kind="stable")
        self.cols = {k: v[order] for k, v in keep.items()}
        out = np.zeros(len(s))
        out[rows] = credit
        return out


def go_fast(s: Scene, r: cfg.GoFastRule, memory: FastMemory | None = None) -> Candidates:
    """Fast surface track without (fresh) AIS identity, or fast in a transit corridor at night.

    With a ``memory``, min_on_s counts across fragments of one track (FastMemory)."""
    surface = s.eligible & ~s.is_air
    ais_age = s.t - s.last_ais_t
    no_ais = (s.mmsi == NO_MMSI) | ~(ais_age <= r.ais_stale_s)
    night = s.sun_elevation_deg < r.night_sun_elevation_deg
    corridor = s.in_zones(s.geometry.select(r.corridor_kinds)) if r.night_corridor else np.zeros(len(s), bool)
    why = no_ais | (corridor & night)
    if r.zone_kinds:
        why &= s.in_zones(s.geometry.select(r.zone_kinds))
    speed = s.speed_mps
    enter = surface & why & (speed > r.speed_kn * KNOT_MPS)
    stay = surface & why & (speed > r.clear_speed_kn * KNOT_MPS)
    strength = ramp(speed, r.clear_speed_kn * KNOT_MPS, (2 * r.speed_kn - r.clear_speed_kn) * KNOT_MPS)
    credit = memory.observe(s, enter, r) if memory is not None else np.zeros(len(s))
    rows = np.flatnonzero(stay | enter)
    return Candidates.build(rows, enter[rows], stay[rows], strength[rows], min_on_s=np.maximum(r.min_on_s - credit[rows], 0.0),
                            severity=r.severity, weight=r.weight, evidence={k: v[rows] for k, v in {
                                "speed_kn": speed / KNOT_MPS, "no_ais_identity": no_ais.astype(float),
                                "night": night.astype(float), "in_corridor": corridor.astype(float), "ais_age_s": ais_age,
                                "handover_s": credit}.items()})


def in_coverage(s: Scene, cov: cfg.Coverage, rows: IntArray | None = None) -> BoolArray:
    """(N,) inside continuous (terrestrial) AIS coverage: everywhere, zones/kinds, or receiver
    circles; (R,) for the given ``rows`` only (the circles are computed for those rows)."""
    sel = slice(None) if rows is None else rows
    if cov.everywhere:
        return np.ones(len(s) if rows is None else len(rows), dtype=bool)
    out = s.in_zones(s.geometry.select(cov.kinds, cov.zones))[sel]
    for c in cov.circles:
        out |= _haversine_m(s.lat[sel], s.lon[sel], c.lat, c.lon) <= c.radius_m
    return out


def _haversine_m(lat: FloatArray, lon: FloatArray, lat0: float, lon0: float) -> FloatArray:
    """Great-circle distance on the mean Earth sphere (R = 6,371,008.8 m); < 0.5 % from the ellipsoid."""
    p1, p2 = np.radians(lat), np.radians(lat0)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon0 - lon) / 2) ** 2
    return 2.0 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


MAX_STEP_S = 60.0  # longest interval between ticks that counts towards time in coverage (a gap in the output)


@dataclass
class FirstFix:
    """Per live surface track (sorted id): first seen time and local position, last tick time, and
    time spent inside AIS coverage held by radar without ever having an AIS identity.

    The first fix gives the net speed (straight-line displacement / time since) that tells a
    transit from a boat working a fishing ground, which covers distance at speed but stays in one
    area; the time in coverage is dark_vessel's evidence that an AIS transponder would have been heard.
    """

    cols: dict[str, np.ndarray] = field(default_factory=lambda: {
        "track_id": np.zeros(0, np.int64), "t": np.zeros(0), "east": np.zeros(0), "north": np.zeros(0),
        "seen_t": np.zeros(0), "covered_s": np.zeros(0)})
    _scene: Scene | None = field(default=None, repr=False, compare=False)  # the scene of this tick's observe
    _net: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    _step: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)  # (S,) s since last tick
    _rows: IntArray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False, compare=False)
    # gone tracks' rows, kept ``keep_s`` after they were last seen so that a successor can inherit them (``inherit``)
    lost: dict[str, np.ndarray] = field(default_factory=lambda: {
        "track_id": np.zeros(0, np.int64), "t": np.zeros(0), "east": np.zeros(0), "north": np.zeros(0),
        "seen_t": np.zeros(0), "covered_s": np.zeros(0)})
    keep_s: float = 0.0

    def inherit(self, pairs: IntArray, t: float) -> None:
        """(P, 2) (lost id, successor id) from ``fusion.rules.lineage``: the successor takes over the lost track's first
        fix and time in coverage (the object's), before this tick's ``observe``."""
        pool = {k: np.concatenate([self.cols[k], self.lost[k]]) for k in self.cols}
        pos = {int(tid): i for i, tid in enumerate(pool["track_id"].tolist())}
        take = [(pos[int(a)], int(b)) for a, b in pairs.tolist() if int(a) in pos and int(b) not in pos]
        if not take:
            return
        idx = np.array([i for i, _ in take], np.int64)
        add = {k: pool[k][idx] for k in pool}
        add["track_id"] = np.array([b for _, b in take], np.int64)
        add["seen_t"] = np.full(len(take), t)  # the gap between the fragments does not count as time in coverage
        merged = {k: np.concatenate([self.cols[k], add[k]]) for k in self.cols}
        order = np.argsort(merged["track_id"], kind="stable")
        self.cols = {k: v[order] for k, v in merged.items()}

    def observe(self, s: Scene, settle_s: float = 0.0) -> FloatArray:
        """Record new surface tracks and forget gone ones, once per tick (later calls with the
        same scene return the same result); returns (N,) net speed m/s since first seen (NaN for air
        and for tracks not yet settled: eligible and measured for ``settle_s`` since their first measurement,
        unless they continue a lost track whose fix they inherited)."""
        if self._scene is s:
            return self._net
        rows = np.flatnonzero(~s.is_air & s.eligible & ((s.t - s.first_t >= settle_s) | isin_sorted(s.track_id, self.cols["track_id"])))
        ids = s.track_id[rows]
        carried = Carried(self.cols, ids)
        gone = carried.gone()
        lost = {k: np.concatenate([self.lost[k], self.cols[k][gone]]) for k in self.cols}
        recent = s.t - lost["seen_t"] <= self.keep_s
        self.lost = {k: v[recent] for k, v in lost.items()}
        prev = carried.prev
        now = np.full(len(rows), s.t)
        self._step = np.clip(s.t - prev("seen_t", now), 0.0, MAX_STEP_S)
        self.cols = {"track_id": ids, "t": prev("t", now), "east": prev("east", s.east[rows]),
                     "north": prev("north", s.north[rows]), "seen_t": now, "covered_s": prev("covered_s", np.zeros(len(rows)))}
        self._rows = rows
        net = np.full(len(s), np.nan)
        dt = s.t - self.cols["t"]
        moved = np.hypot(s.east[rows] - self.cols["east"], s.north[rows] - self.cols["north"])
        net[rows] = np.where(dt > 0, moved / np.maximum(dt, 1e-9), np.nan)
        self._scene, self._net = s, net
        return net

    def count(self, s: Scene, counting: BoolArray) -> FloatArray:
        """After this tick's ``observe``: add the time since the last tick to the ``counting`` (N,)
        rows (once per tick); returns (N,) time in coverage s."""
        self.cols["covered_s"] += np.where(counting[self._rows], self._step, 0.0)
        out = np.zeros(len(s))
        out[self._rows] = self.cols["covered_s"]
        return out

    def seen_since(self, s: Scene) -> FloatArray:
        """(N,) time the engine first saw each surface track (after ``observe`` of this tick); NaN for air."""
        out = np.full(len(s), np.nan)
        out[self._rows] = self.cols["t"]
        return out


def never_identified(s: Scene, had_id: BoolArray | None) -> BoolArray:
    """(N,) surface track without an AIS identity now or ever, in any fragment of its object (``had_id`` (N,), the
    lineage's identity history; None: this track's own)."""
    own = ~s.is_air & (s.mmsi == NO_MMSI) & np.isnan(s.last_ais_t)
    return own if had_id is None else own & ~had_id


def dark_vessel(s: Scene, r: cfg.DarkVesselRule, cov: cfg.Coverage, first: FirstFix, had_id: BoolArray | None = None,
                settle_s: float = 0.0) -> Candidates:
    """Moving surface track that never had an AIS identity (in any fragment: ``had_id``) although it spent dark_s inside
    AIS coverage held by radar (or satellite_dark_s anywhere, when satellite AIS is fused), going somewhere (net speed
    since first seen settled, after ``settle_s``, >= min_net_speed_kn), away from excluded zones."""
    never_ais = never_identified(s, had_id)
    radar_held = (s.t - s.last_noncoop_t) <= r.radar_fresh_s
    net = first.observe(s, settle_s)
    covered_s = first.count(s, never_ais & radar_held & in_coverage(s, cov))
    dark = s.eligible & never_ais
    if r.exclude_kinds:
        near, _ = s.near_zones(s.geometry.select(r.exclude_kinds), r.exclude_margin_m, np.flatnonzero(dark))
        dark[near] = False
    age = s.t - s.first_t
    heard_by_now = covered_s >= r.dark_s
    if cov.satellite_dark_s > 0:
        heard_by_now |= age >= cov.satellite_dark_s
    dark &= heard_by_now
    speed = s.speed_mps
    going = ~(net < r.min_net_speed_kn * KNOT_MPS)  # NaN (no history yet) counts as going: time in coverage decides
    enter = dark & (speed >= r.min_speed_kn * KNOT_MPS) & (speed <= r.max_speed_kn * KNOT_MPS) & going
    stay = (dark & (speed >= 0.5 * r.min_speed_kn * KNOT_MPS) & (speed <= 1.25 * r.max_speed_kn * KNOT_MPS)
            & ~(net < 0.5 * r.min_net_speed_kn * KNOT_MPS))
    return _track_candidates(r, enter, stay, ramp(covered_s, 0.0, 3.0 * r.dark_s),
                             {"dark_for_s": covered_s, "age_s": age, "speed_kn": speed / KNOT_MPS,
                              "net_speed_kn": net / KNOT_MPS})


def noncoop_transit(s: Scene, r: cfg.NoncoopTransitRule, cov: cfg.Coverage, first: FirstFix,
                    had_id: BoolArray | None = None, settle_s: float = 0.0) -> Candidates:
    """Surface track that never had an AIS identity (in any fragment of its object: ``had_id``), outside continuous AIS
    coverage, held by radar and transiting at low-profile / logistics speeds (net speed since it settled, ``settle_s``
    after its first measurement, on a track measured for at least net_window_s), away from excluded zones. Shares
    dark_vessel's first-fix memory (observed once per tick)."""
    never_ais = never_identified(s, had_id)
    radar_held = (s.t - s.last_noncoop_t) <= r.radar_fresh_s
    net = first.observe(s, settle_s)
    cand = s.eligible & never_ais & radar_held
    rows = np.flatnonzero(cand)
    cand[rows] = ~in_coverage(s, cov, rows)
    if r.exclude_kinds:
        near, _ = s.near_zones(s.geometry.select(r.exclude_kinds), r.exclude_margin_m, np.flatnonzero(cand))
        cand[near] = False
    watched = np.where(np.isnan(first.seen_since(s)), np.nan, s.t - s.first_t)  # settled, and measured for net_window_s
    speed = s.speed_mps
    enter = (cand & (watched >= r.net_window_s) & (net >= r.min_net_speed_kn * KNOT_MPS) & (net <= r.max_net_speed_kn * KNOT_MPS)
             & (speed >= r.min_speed_kn * KNOT_MPS) & (speed <= r.max_speed_kn * KNOT_MPS))
    lo, hi = r.min_net_speed_kn * KNOT_MPS, r.max_net_speed_kn * KNOT_MPS
    strength = 1.0 - np.clip(np.abs(net - 0.5 * (lo + hi)) / max(0.5 * (hi - lo), 1e-9), 0.0, 1.0) * 0.5
    return _track_candidates(r, enter, enter, np.nan_to_num(strength), {
        "net_speed_kn": net / KNOT_MPS, "watched_s": watched, "speed_kn": speed / KNOT_MPS})


@dataclass
class AisMemory:
    """Last AIS-updated position per identified surface track, for the reappearance test.

    Columns keyed by sorted track id: ais_t, east, north, speed_mps, jump_t, jump_m, reach_m.
    """

    cols: dict[str, np.ndarray] = field(default_factory=lambda: {
        "track_id": np.zeros(0, np.int64), **{k: np.zeros(0) for k in
                                               ("ais_t", "east", "north", "speed_mps", "jump_t", "jump_m", "reach_m")}})

    def observe(self, s: Scene, r: cfg.AisGapRule, limit_s: FloatArray, outages: Outages | None = None) -> dict[str, FloatArray]:
        """Update with this tick's AIS times; returns (N,) jump_t (NaN = none), jump_m, reach_m. A jump needs a gap
        between two AIS updates of at least the vessel's (N,) ``limit_s``, counted without the AIS ``outages`` in it."""
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
        }
        self.cols = new
        out = {k: np.full(len(s), np.nan) for k in ("jump_t", "jump_m", "reach_m")}
        for k, col in out.items():
            col[rows] = new[k]
        return out


def ais_gap(s: Scene, r: cfg.AisGapRule, cov: cfg.Coverage, memory: AisMemory, outages: Outages | None = None,
            reporting: ReportingArrays | None = None) -> Candidates:
    """Identified vessel silent on AIS inside AIS coverage while radar holds it for longer than its missed-report
    limit (``fusion.rules.reporting``: its class's ITU-R M.1371 interval x the reports that must all have been
    lost; outside coverage: satellite_dark_s when satellite AIS is fused), or reappearing out of reach. The AIS
    silence and the radar age do not count ``outages`` (the link or the feed silent: nothing could be heard).
    ``reporting``: the vessels' last report type, SOG and observed reception (None: none known)."""
    ident = s.eligible & ~s.is_air & (s.mmsi != NO_MMSI) & np.isfinite(s.last_ais_t)
    silent_s = s.t - s.last_ais_t
    radar_age = s.t - s.last_noncoop_t
    if outages is not None:
        silent_s = silent_s - covered_s(s.last_ais_t, s.t, outages.ais)
        radar_age = radar_age - covered_s(s.last_noncoop_t, s.t, outages.noncoop)
    rep = reporting if reporting is not None else ReportingArrays()
    msg_type, sog, _, _ = rep.lookup(s.mmsi)
    p_rx = rep.reception(s.mmsi, r.p_rx_default, r.prior_gaps)
    heard_limit, interval, _ = missed_report_limit_s(msg_type, sog, p_rx, r.false_gaps_per_vessel_day, r.min_gap_s)
    limit = np.where(in_coverage(s, cov), heard_limit, np.inf if cov.satellite_dark_s <= 0 else np.maximum(cov.satellite_dark_s, heard_limit))
    gap_enter = ident & (silent_s >= limit) & (radar_age <= r.radar_fresh_s)
    gap_stay = ident & (silent_s >= 0.5 * limit) & (radar_age <= 2.0 * r.radar_fresh_s)
    jumps = memory.observe(s, r, heard_limit, outages)
    jump_on = ident & (s.t - jumps["jump_t"] <= r.event_hold_s)
    finite = np.where(np.isfinite(limit), limit, 1.0)
    gap_strength = np.where(np.isfinite(limit), ramp(silent_s, 0.5 * finite, 3.0 * finite), 0.0)
    strength = np.maximum(gap_strength, jump_on.astype(float))
    return _track_candidates(r, gap_enter | jump_on, gap_stay | jump_on, strength, {
        "ais_silent_s": silent_s, "radar_age_s": radar_age, "jump_m": jumps["jump_m"], "reach_m": jumps["reach_m"],
        "limit_s": limit, "interval_s": interval, "p_rx": p_rx, "missed_reports": silent_s / interval})


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


def ais_spoofing(s: Scene, r: cfg.SpoofRule, memory: SpoofMemory | None = None) -> Candidates:
    """Track flagged spoof_suspect by the tracker (a report with its identity was kinematically impossible)
    while radar/OTH held it; holds while no consistent AIS update came since the flag, or event_hold_s."""
    flag_t = memory.observe(s) if memory is not None else np.where(s.spoof_suspect, s.t, np.nan)
    radar_age = s.t - s.last_noncoop_t
    flagged = s.eligible & s.spoof_suspect
    consistent_since = s.last_ais_t > flag_t  # a feasible AIS update after the flag appeared (NaN compares False)
    live = flagged & (~consistent_since | (s.t - flag_t <= r.event_hold_s))
    enter = live & (radar_age <= r.radar_fresh_s)
    stay = live & (radar_age <= 2.0 * r.radar_fresh_s)
    return _track_candidates(r, enter, stay, np.ones(len(s)), {
        "speed_kn": s.speed_mps / KNOT_MPS, "radar_age_s": radar_age, "flagged_for_s": s.t - flag_t,
        "ais_silent_s": s.t - s.last_ais_t})


@dataclass
class Smoothed:
    """Per surface track (sorted id): exponentially smoothed position (local m) and velocity (true m/s), time constant
    ``tau_s``. Zero-mean filter noise averages out (a stationary boat's track reads 1-6 kn of velocity noise and
    hundreds of metres of position noise, issue 14), and two boats moving together lag alike, so their smoothed
    distance is their mean distance."""

    cols: dict[str, np.ndarray] = field(default_factory=lambda: {
        "track_id": np.zeros(0, np.int64), **{k: np.zeros(0) for k in ("last_t", "east", "north", "ve", "vn")}})

    def observe(self, s: Scene, tau_s: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(N,) smoothed east, north (m) and speed (m/s) after this tick (NaN for air); new tracks start at their state."""
        rows = np.flatnonzero(~s.is_air)
        prev = Carried(self.cols, s.track_id[rows]).prev
        now = {"east": s.east[rows], "north": s.north[rows], "ve": s.vel[rows, 0], "vn": s.vel[rows, 1]}
        dt = np.maximum(s.t - prev("last_t", s.t), 0.0)
        w = 1.0 - np.exp(-dt / tau_s) if tau_s > 0 else np.ones(len(rows))
        new = {k: prev(k, v) + w * (v - prev(k, v)) for k, v in now.items()}
        self.cols = {"track_id": s.track_id[rows], "last_t": np.full(len(rows), s.t), **new}
        out = [np.full(len(s), np.nan) for _ in range(3)]
        out[0][rows], out[1][rows], out[2][rows] = new["east"], new["north"], np.hypot(new["ve"], new["vn"])
        return out[0], out[1], out[2]


def rendezvous(s: Scene, r: cfg.RendezvousRule, smooth: Smoothed | None = None) -> Candidates:
    """Pairs of slow surface tracks close together away from ports and anchorages, on positions and speeds smoothed
    over ``smoothing_s`` (``smooth``; None: the filter's own).

    The subject is the pair; its owner is the track without AIS identity (else the lower id),
    ``related`` the other one.
    """
    if smooth is not None:
        east, north, speed = smooth.observe(s, r.smoothing_s)
    else:
        east, north, speed = s.east, s.north, s.speed_mps
    slow = s.eligible & ~s.is_air & (speed < r.clear_speed_kn * KNOT_MPS)
    rows = np.flatnonzero(slow)
    near_port, _ = s.near_zones(s.geometry.select(r.exclude_kinds), r.exclude_margin_m, rows)
    rows = np.setdiff1d(rows, near_port)
    empty = np.zeros(0, np.int64)
    if len(rows) < 2:
        return Candidates.build(empty, empty.astype(bool), empty.astype(bool), np.zeros(0), min_on_s=r.min_on_s,
                                severity=r.severity, weight=r.weight)
    xy = np.column_stack([east[rows], north[rows]])
    pairs = cKDTree(xy).query_pairs(r.clear_distance_m, output_type="ndarray")
    a, b = rows[pairs[:, 0]], rows[pairs[:, 1]]
    dist = np.hypot(east[a] - east[b], north[a] - north[b])
    unid_a, unid_b = s.mmsi[a] == NO_MMSI, s.mmsi[b] == NO_MMSI
    ok = (unid_a | unid_b) if r.require_unidentified else np.ones(len(a), bool)
    slow_both = np.maximum(speed[a], speed[b]) < r.speed_kn * KNOT_MPS
    enter = ok & slow_both & (dist <= r.distance_m)
    swap = unid_b & ~unid_a  # owner: the unidentified side
    owner, other = np.where(swap, b, a), np.where(swap, a, b)
    related_id = s.track_id[other]
    return Candidates.build(owner, enter, ok, 1.0 - ramp(dist, 0.0, r.clear_distance_m) * 0.5, min_on_s=r.min_on_s,
                            severity=r.severity, weight=r.weight, aux=related_id, related=related_id,
                            evidence={"distance_m": dist, "speed_kn": speed[owner] / KNOT_MPS,
                                      "other_speed_kn": speed[other] / KNOT_MPS})


def loitering(s: Scene, r: cfg.LoiteringRule) -> Candidates:
    """Slow surface track far from shore (inside the configured zone kinds)."""
    far = s.shore_m >= r.shore_distance_nm * NM_M
    base = s.eligible & ~s.is_air
    if r.zone_kinds:
        base &= s.in_zones(s.geometry.select(r.zone_kinds))
    enter = base & far & (s.speed_mps < r.speed_kn * KNOT_MPS)
    stay = base & (s.shore_m >= 0.8 * r.shore_distance_nm * NM_M) & (s.speed_mps < r.clear_speed_kn * KNOT_MPS)
    return _track_candidates(r, enter, stay, 1.0 - ramp(s.speed_mps, 0.0, r.clear_speed_kn * KNOT_MPS) * 0.5,
                             {"speed_kn": s.speed_mps / KNOT_MPS, "shore_distance_nm": s.shore_m / NM_M})


def suspect_aircraft(s: Scene, r: cfg.SuspectAircraftRule) -> Candidates:
    """Air track without ICAO identity: low and slow, or descending near an airstrip zone."""
    h = r.hysteresis
    base = s.eligible & s.is_air & s.unidentified
    alt, speed, vrate = s.alt_m, s.speed_mps, s.vrate_mps
    no_alt = np.isnan(alt)

    def low_slow(f: float) -> BoolArray:
        return ((alt <= r.max_alt_m * f) | no_alt) & (speed <= r.max_speed_kn * KNOT_MPS * f) & (speed >= r.min_speed_kn * KNOT_MPS / f)

    def descending_near(f: float) -> BoolArray:
        rows = np.flatnonzero(base & (vrate <= -r.descent_mps / f))
        near_rows, _ = s.near_zones(s.geometry.select(r.airstrip_kinds), r.airstrip_distance_m * f, rows)
        out = np.zeros(len(s), dtype=bool)
        out[near_rows] = True
        return out

    desc_enter = descending_near(1.0)
    enter = base & (low_slow(1.0) | desc_enter)
    stay = base & (low_slow(h) | descending_near(h))
    strength = np.where(desc_enter, 1.0, np.where(no_alt, 0.6, 1.0 - 0.5 * ramp(alt, 0.0, r.max_alt_m)))
    return _track_candidates(r, enter, stay, strength, {
        "alt_m": alt, "speed_kn": speed / KNOT_MPS, "vrate_mps": vrate, "descending_near_airstrip": desc_enter.astype(float)})


def landing_approach(s: Scene, r: cfg.LandingApproachRule) -> Candidates:
    """Track whose time to arrive at a landing zone (surface) or airstrip (air) is below threshold."""
    g = s.geometry
    thr = np.where(s.is_air, r.air_tta_s, r.surface_tta_s)
    base = s.eligible & (s.unidentified if r.unidentified_only else True)
    rows = np.flatnonzero(base)
    tta, zone, off = (np.full(len(s), np.inf), np.full(len(s), -1, np.int64), np.full(len(s), np.nan))
    tta[rows], zone[rows], off[rows] = s.arrival(g.select(r.surface_kinds), g.select(r.air_kinds), r.min_speed_kn * KNOT_MPS, rows)
    # an aircraft cannot land before it has descended: the time to arrive is at least altitude / max_descent_mps
    descent_s = np.where(s.is_air & np.isfinite(s.alt_m), np.maximum(s.alt_m, 0.0) / r.max_descent_mps, 0.0)
    tta = np.maximum(tta, descent_s)
    enter = base & (tta <= thr) & (off <= r.max_off_course_deg)
    stay = base & (tta <= thr * r.hysteresis) & (off <= min(r.max_off_course_deg * r.hysteresis, 89.0))
    return _track_candidates(r, enter, stay, 1.0 - ramp(tta, 0.0, thr * r.hysteresis) * 0.5,
                             {"time_to_arrival_s": tta, "off_course_deg": off, "speed_kn": s.speed_mps / KNOT_MPS}, zone=zone)
