"""noncoop_transit: a surface track that never had an AIS identity, outside continuous AIS coverage, held by
radar and transiting at the net speeds of low-profile vessels and logistics ships."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from fusion.core.arrays import BoolArray
from fusion.rules.behaviours import FirstFix, excluded_here_or_from, in_coverage, never_identified, track_candidates
from fusion.rules.catalog.base import ExcludingRule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates
from fusion.rules.params import KNOT_MPS, Coverage, ExcludingParams, NonNeg, Pos
from fusion.rules.scene import Scene


class NoncoopTransitParams(ExcludingParams):
    """noncoop_transit: surface track that never had an AIS identity, outside continuous AIS coverage
    (where silence is no evidence), held by radar (updated within radar_fresh_s) and transiting at the
    speeds of low-profile vessels and logistics ships: net speed since the engine first saw it (at least
    net_window_s ago) between min_net_speed_kn and max_net_speed_kn, current speed between min_speed_kn
    and max_speed_kn, for min_on_s; farther than exclude_margin_m from zones of exclude_kinds. Sources of the
    shipped values (semi-submersible and logistics ship speeds): fusion/rules/defaults/rules.toml, docs/RULES.md."""

    radar_fresh_s: Pos
    net_window_s: NonNeg
    min_net_speed_kn: NonNeg
    max_net_speed_kn: Pos
    min_speed_kn: NonNeg
    max_speed_kn: Pos
    port_origin_m: NonNeg

    def __post_init__(self) -> None:
        if self.max_net_speed_kn <= self.min_net_speed_kn:
            raise ValueError(f"max_net_speed_kn ({self.max_net_speed_kn}) must be > min_net_speed_kn ({self.min_net_speed_kn})")
        if self.max_speed_kn <= self.min_speed_kn:
            raise ValueError(f"max_speed_kn ({self.max_speed_kn}) must be > min_speed_kn ({self.min_speed_kn})")


def noncoop_transit(s: Scene, r: NoncoopTransitParams, cov: Coverage, first: FirstFix,
                    had_id: BoolArray | None = None, settle_s: float = 0.0) -> Candidates:
    """Surface track that never had an AIS identity (in any fragment of its object: ``had_id``), outside continuous AIS
    coverage, held by radar and transiting at low-profile / logistics speeds (net speed since it settled, ``settle_s``
    after its first measurement, on a track measured for at least net_window_s), away from excluded zones and not first
    seen leaving one (within port_origin_m: ``came_from``). Shares
    dark_vessel's first-fix memory (observed once per tick)."""
    never_ais = never_identified(s, had_id)
    radar_held = (s.t - s.last_noncoop_t) <= r.radar_fresh_s
    net = first.observe(s, settle_s)
    cand = s.eligible & never_ais & radar_held
    rows = np.flatnonzero(cand)
    cand[rows] = ~in_coverage(s, cov, rows)
    if r.exclude_kinds:
        cand &= ~excluded_here_or_from(s, first, r.exclude_kinds, r.exclude_margin_m, r.port_origin_m, np.flatnonzero(cand))
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
        return noncoop_transit(s, self.params, e.ais_coverage, tick.first_fix, tick.lineage.had_identity(s), e.settle_s)

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Net speed over the time watched, and speed now."""
        return (f"no AIS identity outside AIS coverage, transiting at {fmt(ev['net_speed_kn'], ' kn', 1)} net over "
                f"{fmt(ev['watched_s'] / 60.0, ' min')} (low-profile / logistics vessel speeds), now "
                f"{fmt(ev.get('speed_kn', math.nan), ' kn', 1)}")
