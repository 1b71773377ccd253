"""noncoop_transit: a surface track that never had an AIS identity, outside continuous AIS coverage, held by
radar and transiting at the net speeds of low-profile vessels and logistics ships; where satellite AIS is heard, only
once a delivered satellite pass did not hear its vessel's identity where it could have been (``satellite_silent``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated

import msgspec
import numpy as np

from fusion.core.arrays import NO_MMSI, BoolArray, FloatArray, IntArray
from fusion.rules.behaviours import FirstFix, excluded_here_or_from, in_coverage, never_identified, track_candidates
from fusion.rules.catalog.base import ExcludingRule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates, isin_sorted
from fusion.rules.params import KNOT_MPS, Coverage, ExcludingParams, NonNeg, Pos
from fusion.rules.reporting import ReportingArrays, haversine_m
from fusion.rules.scene import Scene


class NoncoopTransitParams(ExcludingParams):
    """noncoop_transit: surface track that never had an AIS identity, outside continuous AIS coverage
    (where silence is no evidence), held by radar (updated within radar_fresh_s) and transiting at the
    speeds of low-profile vessels and logistics ships: net speed since the engine first saw it (at least
    net_window_s ago) between min_net_speed_kn and max_net_speed_kn, current speed between min_speed_kn
    and max_speed_kn, for min_on_s; farther than exclude_margin_m from zones of exclude_kinds. With await_satellite,
    only once satellite AIS has listened and not heard it (``satellite_silent``: a report from outside terrestrial
    coverage, the newest such once satellite_latency_s old, else one satellite_pass_s + satellite_latency_s old; no
    uncarried identity heard since satellite_pass_s before it where the track's vessel could have been at
    reach_speed_factor x its speed).
    Sources of the shipped values (semi-submersible and logistics ship speeds, satellite AIS passes and latency):
    fusion/rules/defaults/rules.toml, docs/RULES.md."""

    radar_fresh_s: Pos
    net_window_s: NonNeg
    min_net_speed_kn: NonNeg
    max_net_speed_kn: Pos
    min_speed_kn: NonNeg
    max_speed_kn: Pos
    port_origin_m: NonNeg
    await_satellite: bool
    satellite_pass_s: Pos
    satellite_latency_s: NonNeg
    reach_speed_factor: Annotated[float, msgspec.Meta(ge=1.0)]

    def __post_init__(self) -> None:
        if self.max_net_speed_kn <= self.min_net_speed_kn:
            raise ValueError(f"max_net_speed_kn ({self.max_net_speed_kn}) must be > min_net_speed_kn ({self.min_net_speed_kn})")
        if self.max_speed_kn <= self.min_speed_kn:
            raise ValueError(f"max_speed_kn ({self.max_speed_kn}) must be > min_speed_kn ({self.min_speed_kn})")


def satellite_listened_t(s: Scene, rep: ReportingArrays, cov: Coverage, pass_s: float, latency_s: float) -> float:
    """Latest time (s) satellite AIS is known to have listened, with every report it heard then delivered by now, from
    the last reports of the vessels last heard outside every terrestrial receiver circle (``cov.circles``: only a
    satellite hears there): the newest of them once at least ``latency_s`` old (nothing heard out there since: the pass
    has ended and all of it is delivered), else the newest at least ``pass_s`` + ``latency_s`` old (a pass under way
    or still arriving: the one before it); -inf when none (no satellite AIS, or everywhere covered)."""
    if cov.everywhere or not len(rep.mmsi):
        return -math.inf
    far = np.isfinite(rep.lat) & np.isfinite(rep.lon)
    for c in cov.circles:
        far &= ~(haversine_m(rep.lat, rep.lon, c.lat, c.lon) <= c.radius_m)
    t_far = rep.last_t[far]
    if not len(t_far):
        return -math.inf
    if t_far.max() <= s.t - latency_s:
        return float(t_far.max())
    done = t_far[t_far <= s.t - pass_s - latency_s]
    return float(done.max()) if len(done) else -math.inf


def heard_on_track(s: Scene, rows: IntArray, first: FirstFix, rep: ReportingArrays, since_t: float, gate_m: float,
                   factor: float) -> BoolArray:
    """(R,) of surface tracks ``rows`` (R,): an AIS identity that no live track carries was last heard at or after
    ``since_t`` (s) where the track could have been then: the report lies within ``gate_m`` plus ``factor`` x the
    faster of the track's speed and the reported SOG x the time between, both of the track's position now and of its
    first fix (``first``: seen_since, origin; the two circles bound where a vessel moving between them was at the
    report's time). Dense (R, K) over the K identities heard since then: R and K are the few candidates and vessels."""
    out = np.zeros(len(rows), bool)
    k = np.flatnonzero((rep.last_t >= since_t) & np.isfinite(rep.lat) & np.isfinite(rep.lon)
                       & ~isin_sorted(rep.mmsi, np.unique(s.mmsi[s.mmsi != NO_MMSI])))
    if not len(rows) or not len(k):
        return out
    qe, qn = s.geometry.frame.to_local(rep.lat[k], rep.lon[k])
    fe, fn = first.origin(s)
    t_first = first.seen_since(s)[rows][:, None]
    t_rep = rep.last_t[k][None, :]
    sog = np.nan_to_num(rep.sog_mps[k])[None, :]
    reach_v = factor * np.maximum(s.speed_mps[rows][:, None], sog)

    def within(e: FloatArray, n: FloatArray, dt: FloatArray) -> BoolArray:
        return np.hypot(np.asarray(qe)[None, :] - e[:, None], np.asarray(qn)[None, :] - n[:, None]) <= gate_m + reach_v * np.abs(dt)

    now = within(s.east[rows], s.north[rows], s.t - t_rep)
    then = within(fe[rows], fn[rows], t_rep - t_first)
    out[:] = np.any(now & (then | np.isnan(t_first)), axis=1)
    return out


def satellite_silent(s: Scene, r: NoncoopTransitParams, cov: Coverage, first: FirstFix, rep: ReportingArrays,
                     rows: IntArray, gate_m: float) -> BoolArray:
    """(R,) of settled surface tracks ``rows`` (R,) outside terrestrial coverage: satellite AIS has listened
    (``satellite_listened_t``, every report of that pass delivered), before or since the track was first seen, and
    heard no identity no track carries where the track's vessel could have been (``heard_on_track``: around its first
    fix and its position now) since satellite_pass_s before then: an AIS transmitter there would have been heard in
    that pass. An identity heard there before that pass only and silent in it does not excuse the track (a vessel
    that switched its AIS off: kingston-1001's logistics vessel)."""
    if not len(rows):
        return np.zeros(0, bool)
    listened = satellite_listened_t(s, rep, cov, r.satellite_pass_s, r.satellite_latency_s)
    if not math.isfinite(listened):
        return np.zeros(len(rows), bool)
    settled = np.isfinite(first.seen_since(s)[rows])
    return settled & ~heard_on_track(s, rows, first, rep, listened - r.satellite_pass_s, gate_m, r.reach_speed_factor)


def noncoop_transit(s: Scene, r: NoncoopTransitParams, cov: Coverage, first: FirstFix,
                    had_id: BoolArray | None = None, settle_s: float = 0.0, reporting: ReportingArrays | None = None,
                    gate_m: float = 0.0) -> Candidates:
    """Surface track that never had an AIS identity (in any fragment of its object: ``had_id``), outside continuous AIS
    coverage, held by radar and transiting at low-profile / logistics speeds (net speed since it settled, ``settle_s``
    after its first measurement, on a track measured for at least net_window_s), away from excluded zones and not first
    seen leaving one (within port_origin_m: ``came_from``); with await_satellite and ``reporting`` (the AIS reports
    heard, late satellite ones included), not before satellite AIS missed it (``satellite_silent``, reach ``gate_m``).
    Shares dark_vessel's first-fix memory (observed once per tick)."""
    never_ais = never_identified(s, had_id)
    radar_held = (s.t - s.last_noncoop_t) <= r.radar_fresh_s
    net = first.observe(s, settle_s)
    cand = s.eligible & never_ais & radar_held
    rows = np.flatnonzero(cand)
    cand[rows] = ~in_coverage(s, cov, rows)
    if r.exclude_kinds:
        cand &= ~excluded_here_or_from(s, first, r.exclude_kinds, r.exclude_margin_m, r.port_origin_m, np.flatnonzero(cand))
    if r.await_satellite and reporting is not None:
        rows = np.flatnonzero(cand & (net >= r.min_net_speed_kn * KNOT_MPS) & (net <= r.max_net_speed_kn * KNOT_MPS))
        cand[:] = False
        cand[rows] = satellite_silent(s, r, cov, first, reporting, rows, gate_m)
    watched = np.where(np.isnan(first.seen_since(s)), np.nan, s.t - s.first_t)  # settled, and measured for net_window_s
    speed = s.speed_mps
    enter = (cand & (watched >= r.net_window_s) & (net >= r.min_net_speed_kn * KNOT_MPS) & (net <= r.max_net_speed_kn * KNOT_MPS)
             & (speed >= r.min_speed_kn * KNOT_MPS) & (speed <= r.max_speed_kn * KNOT_MPS))
    lo, hi = r.min_net_speed_kn * KNOT_MPS, r.max_net_speed_kn * KNOT_MPS
    strength = 1.0 - np.clip(np.abs(net - 0.5 * (lo + hi)) / max(0.5 * (hi - lo), 1e-9), 0.0, 1.0) * 0.5
    return track_candidates(r, enter, enter, np.nan_to_num(strength), {
        "net_speed_kn": net / KNOT_MPS, "watched_s": watched, "speed_kn": speed / KNOT_MPS})


class NoncoopTransit(ExcludingRule[NoncoopTransitParams]):
    """The noncoop_transit rule on the engine's first-fix memory (shared with dark_vessel) and lineage."""

    name = "noncoop_transit"
    Params = NoncoopTransitParams

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``noncoop_transit`` with the object's identity history."""
        e = tick.engine
        return noncoop_transit(s, self.params, e.ais_coverage, tick.first_fix, tick.lineage.had_identity(s), e.settle_s,
                               tick.reporting, e.handover_m)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Net speed over the time watched, and speed now."""
        return (f"no AIS identity outside AIS coverage, transiting at {fmt(ev['net_speed_kn'], ' kn', 1)} net over "
                f"{fmt(ev['watched_s'] / 60.0, ' min')} (low-profile / logistics vessel speeds), now "
                f"{fmt(ev.get('speed_kn', math.nan), ' kn', 1)}")
