"""suspect_aircraft: an aircraft without ICAO identity in any fragment of its object that entered from seaward (first
seen beyond the territorial sea) and flies low and slow.

An aircraft without ADS-B Out is not suspect by itself: VFR general aviation needs none outside the airspace where a
state mandates it, and most of it takes off and lands on the land side. An aircraft crossing into a state's airspace
from the sea must have filed a flight plan (ICAO Annex 2, 3.3.1.2: flights across international borders) and, in
controlled airspace, carry a working transponder (ICAO Annex 11, Annex 10 Vol IV); the airspace over the territorial sea
(12 nm, UNCLOS art. 3) is the state's (UNCLOS art. 2(2), Chicago Convention art. 2). An air object first seen seaward
of it without identity is the trafficking profile (low over the sea towards a strip); ``AirOrigin`` carries where the
object was first seen across its track fragments, as radar re-initiates a light aircraft's track every few minutes.

The rule has no descent test (until 2026-12-07 evening: descending faster than 2.5 m/s within 20 km of an airstrip).
The tracker's vertical rate of an aircraft seen by radar alone comes from plot elevations (0.5 deg sigma: 170-520 m
of height at 20-60 km) and reads +-3-6 m/s of noise, so the test fired on noise (issue 14); and a real descent near a
strip is no suspect signature by itself, as light aircraft descend at 2-4 m/s into the airfields strips lie near. An
aircraft about to land at a strip is landing_approach's (an approach profile: heading, speed and circuit height). The
vertical rate stays in the evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

import msgspec
import numpy as np

from fusion.core.arrays import NO_ICAO, BoolArray, FloatArray
from fusion.rules.behaviours import ramp, track_candidates
from fusion.rules.catalog.base import Rule, TickInputs, fmt
from fusion.rules.lifecycle import Candidates
from fusion.rules.lineage import Carried
from fusion.rules.params import KNOT_MPS, NonNeg, Pos, RuleParams, ZoneKind
from fusion.rules.scene import Scene


class SuspectAircraftParams(RuleParams):
    """suspect_aircraft: air object without ICAO identity that entered from seaward (first seen at least
    territorial_sea_m from shore) and is low and slow; alerts name the airstrip zone (airstrip_kinds) the aircraft is over.
    A new air track continues the origin (and identity history) of an air track seen up to origin_keep_s before when
    it is within max_speed_kn x the time since + origin_slack_m of where that track was last seen. Sources of the shipped values: fusion/rules/defaults/rules.toml and docs/RULES.md."""

    max_alt_m: Pos
    max_speed_kn: Pos
    min_speed_kn: NonNeg
    airstrip_kinds: list[ZoneKind]
    hysteresis: Annotated[float, msgspec.Meta(ge=1.0, le=2.0)]
    territorial_sea_m: NonNeg
    origin_keep_s: NonNeg
    origin_slack_m: NonNeg


_ORIGIN_COLS = {"track_id": np.int64, "last_t": np.float64, "east": np.float64, "north": np.float64,
                "ve": np.float64, "vn": np.float64, "origin_shore_m": np.float64, "had_id": np.bool_}


@dataclass
class AirOrigin:
    """Per eligible air track (sorted id, live and lost up to ``origin_keep_s`` after its last measurement): the
    distance from shore of its object's first fix (where its first track was confirmed), whether any fragment of the
    object carried an ICAO address, and its last measured fix: time, position and velocity.

    A track new to the memory continues the object of an air track measured up to ``origin_keep_s`` before (lost, or
    live: a duplicate track of the same aircraft) that could have flown to where it is: its distance from that track's
    last measured position within ``max_speed_kn`` (the fastest aircraft the rule is about; a young track's own
    velocity is too poor a bound) x time since + ``origin_slack_m`` (of several, the one whose position predicted
    along its velocity is nearest); else its own position is its object's first fix. The measured fix, not the
    position the track coasted to: a coasting track's position is a prediction, which a turning aircraft leaves
    (kingston-1001 light-2: its track coasted 60 s straight on past a turn, 6.3 km off, and the next track, 3 km from
    its last plot, became an object of its own first seen offshore)."""

    cols: dict[str, np.ndarray] = field(default_factory=lambda: {k: np.zeros(0, dt) for k, dt in _ORIGIN_COLS.items()})

    def observe(self, s: Scene, r: SuspectAircraftParams) -> tuple[FloatArray, BoolArray]:
        """Update with this tick's eligible (confirmed, coasting) air tracks - a tentative track may be clutter, and
        is first seen when confirmed; returns (N,) origin distance from shore m (NaN for the others) and (N,) the
        object had an ICAO address."""
        rows = np.flatnonzero(s.is_air & s.eligible)
        old = self.cols
        carried = Carried(old, s.track_id[rows])
        origin = np.array(carried.prev("origin_shore_m", s.shore_m[rows]), dtype=np.float64)
        had = np.asarray(carried.prev("had_id", False), dtype=bool) | (s.icao24[rows] != NO_ICAO)
        recent = np.flatnonzero(s.t - old["last_t"] <= r.origin_keep_s)  # lost or live tracks: possible predecessors
        new = np.flatnonzero(~carried.known)
        if len(recent) and len(new):
            dt = s.t - old["last_t"][recent]
            ve, vn = old["ve"][recent], old["vn"][recent]
            reach = r.max_speed_kn * KNOT_MPS * dt + r.origin_slack_m
            de, dn = s.east[rows[new], None] - old["east"][recent], s.north[rows[new], None] - old["north"][recent]  # (J, P)
            miss = np.where(np.hypot(de, dn) <= reach, np.hypot(de - ve * dt, dn - vn * dt), np.inf)  # off the prediction
            best = np.argmin(miss, axis=1)
            ok = np.isfinite(miss[np.arange(len(new)), best])
            origin[new[ok]] = old["origin_shore_m"][recent[best[ok]]]
            had[new[ok]] |= old["had_id"][recent[best[ok]]]
        lost = np.flatnonzero(carried.gone() & (s.t - old["last_t"] <= r.origin_keep_s))
        measured = np.fmin(s.last_t[rows], s.t)
        back = s.t - measured  # s the track coasted: its position then was the current one less its velocity x back
        live = {"track_id": s.track_id[rows], "last_t": measured, "east": s.east[rows] - s.vel[rows, 0] * back,
                "north": s.north[rows] - s.vel[rows, 1] * back, "ve": s.vel[rows, 0], "vn": s.vel[rows, 1],
                "origin_shore_m": origin, "had_id": had}
        self.cols = carried.columns({k: live[k].astype(dt) for k, dt in _ORIGIN_COLS.items()}, lost)
        out_origin, out_had = np.full(len(s), np.nan), np.zeros(len(s), bool)
        out_origin[rows], out_had[rows] = origin, had
        return out_origin, out_had


def suspect_aircraft(s: Scene, r: SuspectAircraftParams, origin: AirOrigin | None = None,
                     had_id: BoolArray | None = None) -> Candidates:
    """Air object without ICAO identity (in any fragment: ``had_id`` from the lineage, and the ``origin`` memory's)
    that entered from seaward and is low and slow. Without an ``origin`` memory every track is its own object, first
    seen where it is now. The vertical rate is evidence only (module docstring)."""
    h = r.hysteresis
    if origin is not None:
        origin_m, origin_had = origin.observe(s, r)
    else:
        origin_m, origin_had = np.where(s.is_air, s.shore_m, np.nan), s.icao24 != NO_ICAO
    base = s.eligible & s.is_air & s.unidentified & ~origin_had & (origin_m >= r.territorial_sea_m)
    if had_id is not None:
        base &= ~had_id
    alt, speed = s.alt_m, s.speed_mps
    no_alt = np.isnan(alt)

    def low_slow(f: float) -> BoolArray:
        return ((alt <= r.max_alt_m * f) | no_alt) & (speed <= r.max_speed_kn * KNOT_MPS * f) & (speed >= r.min_speed_kn * KNOT_MPS / f)

    strength = np.where(no_alt, 0.6, 1.0 - 0.5 * ramp(alt, 0.0, r.max_alt_m))
    return track_candidates(r, base & low_slow(1.0), base & low_slow(h), strength, {
        "alt_m": alt, "speed_kn": speed / KNOT_MPS, "vrate_mps": s.vrate_mps, "origin_offshore_m": origin_m})


class SuspectAircraft(Rule[SuspectAircraftParams]):
    """The suspect_aircraft rule with its air-object origin memory."""

    name = "suspect_aircraft"
    Params = SuspectAircraftParams

    def __init__(self) -> None:
        super().__init__()
        self.memory: AirOrigin = AirOrigin()

    def prefer(self) -> BoolArray:
        """The airstrip the aircraft is over."""
        return self.geometry.select(self.params.airstrip_kinds)

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """``suspect_aircraft`` with the origin memory and the object's identity history."""
        return suspect_aircraft(s, self.params, self.memory, tick.lineage.had_identity(s))

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Where it was first seen, low and slow."""
        return (f"air track without ICAO identity, first seen {fmt(ev['origin_offshore_m'] / 1000.0, ' km')} offshore, low and "
                f"slow: altitude {fmt(ev['alt_m'], ' m')}, {fmt(ev.get('speed_kn', math.nan), ' kn', 1)}")
