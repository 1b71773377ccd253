"""ais_spoofing: the tracker flagged a track spoof_suspect (a cooperative report with its identity was
kinematically impossible against it) while radar/OTH held it (``SpoofMemory``: when the flag appeared)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from fusion.core.arrays import FloatArray
from fusion.rules.behaviours import track_candidates
from fusion.rules.catalog.base import Rule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates
from fusion.rules.lineage import Carried, heard_near
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
    last heard: the identity was left on a neighbour (fusion.rules.lineage.identity_heard_near). Sources of the
    shipped values: fusion/rules/defaults/rules.toml and docs/RULES.md."""

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


def ais_spoofing(s: Scene, r: SpoofParams, memory: SpoofMemory | None = None, reporting: ReportingArrays | None = None,
                 handover_m: float = 0.0) -> Candidates:
    """Track flagged spoof_suspect by the tracker (a report with its identity was kinematically impossible)
    while radar/OTH held it, raised while no consistent AIS update came since the flag; holds while no consistent AIS update came since the flag, or event_hold_s. Not while
    another radar-held track of no or the same identity sits where the identity was last heard (``reporting``:
    ``heard_near`` within ``handover_m``): the identity was left on a neighbour."""
    flag_t = memory.observe(s) if memory is not None else np.where(s.spoof_suspect, s.t, np.nan)
    radar_age = s.t - s.last_noncoop_t
    flagged = s.eligible & s.spoof_suspect
    if reporting is not None:
        flagged &= np.isnan(heard_near(s, flagged, reporting, r.radar_fresh_s, handover_m, others_only=True))
    consistent_since = s.last_ais_t > flag_t  # a feasible AIS update after the flag appeared (NaN compares False)
    live = flagged & (~consistent_since | (s.t - flag_t <= r.event_hold_s))
    # raised only while the identity's reports still fail: one impossible report followed by consistent ones is an
    # identity swap the tracker has undone (two boats leaving the berth they shared), not a spoofer, whose shifted
    # reports keep failing; a raised alert holds event_hold_s after the flag as before
    enter = flagged & ~consistent_since & (radar_age <= r.radar_fresh_s)
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

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """How long ago the impossible report came, the radar age and the AIS silence."""
        return (f"an AIS report with this identity was {fmt(ev['flagged_for_s'] / 60.0, ' min')} ago kinematically impossible "
                f"against the radar track (radar {fmt(ev['radar_age_s'], ' s')} ago, AIS silent here for "
                f"{fmt(ev['ais_silent_s'] / 60.0, ' min')})")
