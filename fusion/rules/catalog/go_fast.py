"""go_fast: a fast surface track without (fresh) AIS identity, or fast in a transit corridor at night, raised only
on a speed the track's velocity covariance supports (its lower confidence bound), with min_on_s counted across the
fragments of one go-fast's radar track (``FastMemory``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, NamedTuple

import msgspec
import numpy as np

from fusion.core.arrays import NO_MMSI, BoolArray, FloatArray
from fusion.rules.behaviours import ramp
from fusion.rules.catalog.base import Rule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates
from fusion.rules.lineage import Carried, nearest_successors
from fusion.rules.params import KNOT_MPS, NonNeg, Pos, RuleParams, ZoneKind
from fusion.rules.scene import Scene


class GoFastParams(RuleParams):
    """go_fast: surface track faster than speed_kn with no (fresh) AIS identity, or fast in a
    transit corridor at night. Raised only when, besides, the speed's one-sided lower confidence bound
    (speed - confidence_sigmas * sigma_speed, sigma from the velocity covariance) exceeds confident_speed_kn: a young
    track confirmed from a few plots, or coasting since, has a large velocity covariance and a speed it cannot vouch
    for. Cleared below clear_speed_kn. min_on_s counts across a chain of
    fragments: a young track starting near where a fast track was lost (handover_s, handover_m).
    Sources of the shipped values (go-fast and merchant speeds, ITU-R M.1371 report intervals, civil twilight,
    radar scan periods): fusion/rules/defaults/rules.toml and docs/RULES.md."""

    speed_kn: Pos
    clear_speed_kn: Pos
    ais_stale_s: Pos
    night_corridor: bool
    corridor_kinds: list[ZoneKind]
    night_sun_elevation_deg: Annotated[float, msgspec.Meta(ge=-18.0, le=0.0)]
    zone_kinds: list[ZoneKind]
    handover_s: NonNeg
    handover_m: NonNeg
    confidence_sigmas: NonNeg
    confident_speed_kn: NonNeg

    def __post_init__(self) -> None:
        if self.clear_speed_kn > self.speed_kn:
            raise ValueError(f"clear_speed_kn ({self.clear_speed_kn}) must be <= speed_kn ({self.speed_kn})")
        if self.confident_speed_kn > self.speed_kn:
            raise ValueError(f"confident_speed_kn ({self.confident_speed_kn}) must be <= speed_kn ({self.speed_kn})")


_FAST_COLS = ("run_start", "last_t", "east", "north", "ve", "vn", "credit_s", "bound_since", "bound_t", "bound_east",
              "bound_north", "vouched_t", "plain_t")


class FastTick(NamedTuple):
    """go_fast's conditions of one tick, each (N,): ``fast`` (point speed above speed_kn), ``enter`` (the raise
    condition), ``confident`` (the speed's lower bound above confident_speed_kn: a pending alert's hold), ``plain``
    (above the hold speed, clear_speed_kn), ``lower`` (the speed's lower bound, m/s; NaN below the hold speed)."""

    fast: BoolArray
    enter: BoolArray
    confident: BoolArray
    plain: BoolArray
    lower: FloatArray


@dataclass
class FastMemory:
    """go_fast evidence across track fragments (columns by sorted track id).

    Per surface track: start of its current run above the raise speed (NaN when not in one),
    last tick seen, position and velocity there, and ``credit_s``, the run time handed over by
    a fast track lost within ``handover_s`` whose predicted position is within ``handover_m`` of
    this young track when its first run starts. A go-fast whose radar track is deleted and
    re-initiated every 10-40 s (radar fades) thus accumulates min_on_s over the chain.

    And whether the track vouched for its speed: ``bound_since``, the newest measurement's time when the current
    run of its speed's lower bound above confident_speed_kn began (begun by the raise condition, unbroken since),
    with the tick and position there (``bound_t``, ``bound_east``, ``bound_north``); ``vouched_t``, the tick at which
    that run had lasted min_on_s (less the credit) of evidence time, which is when the alert book raises; and
    ``plain_t``, the last tick at the hold speed. A vouched run holds on the point speed until it has been below
    the hold speed for min_off_s (when the book clears the alert); a run not vouched yet holds only on its bound
    (``go_fast``). The vouched time passes to a successor with the credit.

    A run that has lasted min_on_s is vouched only if the track's own positions bear its speed out: its net speed
    over the run (straight-line displacement from the run's first tick / time since) at least the speed's lower
    bound now. Otherwise the run is ``refused``: it ends (the book drops the pending alert)
    and a new one may begin at the next tick. A filter pulled across a kilometre onto a boat's plots reads that
    correction as speed (kingston-1003 purse_seine-2: 59.7 kn, sigma 9.4 kn, lower bound 44 kn, while its positions
    moved 23 kn over the 20 s); a planing hull at a steady 35-50 kn covers the ground its speed says.
    """

    cols: dict[str, np.ndarray] = field(default_factory=lambda: {
        "track_id": np.zeros(0, np.int64), **{k: np.zeros(0) for k in _FAST_COLS}})

    def observe(self, s: Scene, c: FastTick, r: GoFastParams) -> tuple[FloatArray, BoolArray, BoolArray]:
        """Update with this tick's conditions; returns (N,) credit_s (0 for air), (N,) vouched and (N,) refused (a run
        whose displacement does not bear its speed out ends this tick; both False for air)."""
        fast, enter, confident, plain = c.fast, c.enter, c.confident, c.plain
        rows = np.flatnonzero(~s.is_air)
        old = self.cols
        ids = s.track_id[rows]
        carried = Carried(old, ids)
        prev_run = carried.prev("run_start", np.nan)
        f = fast[rows]
        run = np.where(f, np.where(np.isfinite(prev_run), prev_run, s.t), np.nan)
        credit = np.where(f & np.isfinite(prev_run), carried.prev("credit_s", 0.0), 0.0)
        prev_plain = carried.prev("plain_t", np.nan)
        held = plain[rows] | (s.t - prev_plain <= r.min_off_s)  # the book has not cleared a raised alert
        vouched_t = np.where(held, carried.prev("vouched_t", np.nan), np.nan)
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
            vouched_t[starts[sj]] = np.fmax(vouched_t[starts[sj]], old["vouched_t"][li])
        ev_t = np.fmin(s.last_t[rows], s.t)  # the book's evidence time
        prev_bound = carried.prev("bound_since", np.nan)
        begin = enter[rows] & ~np.isfinite(prev_bound)
        going = confident[rows] & ~begin
        bound = np.where(begin, ev_t, np.where(going, prev_bound, np.nan))
        bound_t, bound_e, bound_n = (np.where(begin, at_begin, np.where(going, carried.prev(col, np.nan), np.nan))
                                     for col, at_begin in (("bound_t", s.t), ("bound_east", s.east[rows]),
                                                           ("bound_north", s.north[rows])))
        now = confident[rows] & ~np.isfinite(vouched_t) & (ev_t - bound >= np.maximum(r.min_on_s - credit, 0.0))
        window = s.t - bound_t
        check = np.flatnonzero(now & (window > 0.0))
        refused = np.zeros(len(rows), bool)
        if len(check):
            moved = np.hypot(s.east[rows[check]] - bound_e[check], s.north[rows[check]] - bound_n[check])
            scale = s.geometry.frame.scale(s.lat[rows[check]], s.lon[rows[check]])  # local-frame metres per true metre
            refused[check] = moved / scale / window[check] < c.lower[rows[check]]  # net speed m/s below the lower bound
        vouched_t = np.where(now & ~refused, s.t, vouched_t)
        bound, bound_t, bound_e, bound_n = (np.where(refused, np.nan, v) for v in (bound, bound_t, bound_e, bound_n))
        live = {"track_id": ids, "run_start": run, "last_t": np.full(len(rows), s.t), "east": s.east[rows],
                "north": s.north[rows], "ve": s.vel[rows, 0], "vn": s.vel[rows, 1], "credit_s": credit,
                "bound_since": bound, "bound_t": bound_t, "bound_east": bound_e, "bound_north": bound_n,
                "vouched_t": vouched_t, "plain_t": np.where(plain[rows], s.t, prev_plain)}
        self.cols = carried.columns(live, lost)
        out, vouched, out_refused = np.zeros(len(s)), np.zeros(len(s), bool), np.zeros(len(s), bool)
        out[rows], vouched[rows], out_refused[rows] = credit, np.isfinite(vouched_t), refused
        return out, vouched, out_refused


def go_fast(s: Scene, r: GoFastParams, memory: FastMemory) -> Candidates:
    """Fast surface track without (fresh) AIS identity, or fast in a transit corridor at night, whose speed's
    lower confidence bound exceeds confident_speed_kn from when it enters until it is raised (see GoFastParams);
    min_on_s counts across fragments of one track, and a raised alert holds on the point speed (``memory``)."""
    surface = s.eligible & ~s.is_air
    ais_age = s.t - s.last_ais_t
    no_ais = (s.mmsi == NO_MMSI) | ~(ais_age <= r.ais_stale_s)
    night = s.sun_elevation_deg < r.night_sun_elevation_deg
    corridor = s.in_zones(s.geometry.select(r.corridor_kinds)) if r.night_corridor else np.zeros(len(s), bool)
    why = no_ais | (corridor & night)
    if r.zone_kinds:
        why &= s.in_zones(s.geometry.select(r.zone_kinds))
    speed = s.speed_mps
    fast = surface & why & (speed > r.speed_kn * KNOT_MPS)
    plain = surface & why & (speed > r.clear_speed_kn * KNOT_MPS)
    sigma = np.full(len(s), np.nan)  # (N,) m/s, computed only above the hold speed (evidence: NaN elsewhere)
    sigma[plain] = s.speed_sigma_mps(np.flatnonzero(plain))
    lower = speed - r.confidence_sigmas * sigma
    confident = plain & (lower > r.confident_speed_kn * KNOT_MPS)
    strength = ramp(speed, r.clear_speed_kn * KNOT_MPS, (2 * r.speed_kn - r.clear_speed_kn) * KNOT_MPS)
    # the fragment chain follows the point speed: a go-fast's young fragment hands its run on before its filter settles
    credit, vouched, refused = memory.observe(s, FastTick(fast, fast & confident, confident, plain, lower), r)
    enter = fast & confident & ~refused
    stay = np.where(vouched, plain, confident & ~refused)  # a pending alert holds on its speed's lower bound, a raised one on the speed
    rows = np.flatnonzero(stay | enter)
    return Candidates.build(rows, enter[rows], stay[rows], strength[rows], min_on_s=np.maximum(r.min_on_s - credit[rows], 0.0),
                            severity=r.severity, weight=r.weight, evidence={k: v[rows] for k, v in {
                                "speed_kn": speed / KNOT_MPS, "no_ais_identity": no_ais.astype(float),
                                "night": night.astype(float), "in_corridor": corridor.astype(float), "ais_age_s": ais_age,
                                "handover_s": credit, "speed_sigma_kn": sigma / KNOT_MPS}.items()})


class GoFast(Rule[GoFastParams]):
    """The go_fast rule with its fragment memory."""

    name = "go_fast"
    Params = GoFastParams

    def __init__(self) -> None:
        super().__init__()
        self.memory: FastMemory = FastMemory()

    @property
    def state_key(self) -> str:
        """"fast", as in checkpoints written before the rule catalog."""
        return "fast"

    def queries(self) -> list[tuple[bool, float, np.ndarray]]:
        """Membership of the transit corridors (at night) and of the zone_kinds."""
        r, g = self.params, self.geometry
        return [(r.enabled and r.night_corridor, 0.0, g.select(r.corridor_kinds)), (r.enabled, 0.0, g.select(r.zone_kinds))]

    def prefer(self) -> np.ndarray:
        """The corridor or zone the go-fast is in."""
        return self.geometry.select(self.params.corridor_kinds) | self.geometry.select(self.params.zone_kinds)

    def restore(self, part: Mapping[str, Any]) -> None:
        """Memory columns from ``snapshot``; in one written before the vouching columns a run in progress holds on
        the point speed as it did then (vouched at its start, above the hold speed when last seen)."""
        if "track_id" not in part:
            return
        cols = {k: np.asarray(v).copy() for k, v in part.items() if k in self.memory.cols}
        for k in ("bound_since", "bound_t", "bound_east", "bound_north"):
            cols.setdefault(k, np.full(len(cols["track_id"]), np.nan))
        cols.setdefault("vouched_t", cols["run_start"].copy())
        cols.setdefault("plain_t", cols["last_t"].copy())
        self.memory.cols = {k: cols[k] for k in self.memory.cols}

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``go_fast`` with the fragment memory."""
        return go_fast(s, self.params, self.memory)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Speed and why it counts (no identity, or a corridor at night)."""
        why = "no AIS identity" if ev["no_ais_identity"] else "in a transit corridor at night"
        return f"surface track at {fmt(ev.get('speed_kn', math.nan), ' kn', 1)} with {why}"
