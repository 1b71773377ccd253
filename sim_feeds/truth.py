"""Ground truth: seeded piecewise-geodesic motion of every object, sampled vectorised.

Every object (and every moving sensor platform) follows its route: geodesic legs at the
waypoint's speed, stops of ``dwell_s``, altitude linear in distance along a leg; an
aircraft turns at the standard rate where its course changes (``standard_rate_turns``);
an object changes speed (departures, stops, speed changes at a waypoint) at its kind's
bounded acceleration (``ObjectClass.accel_mps2``), a moving sensor platform at once. All
movers live in one set of ragged "knot" arrays (``Paths``) so that the state of any set
of movers at any set of times is one ``searchsorted`` and one vectorised ``Geod.fwd``,
with no per-object Python work after loading. Randomness (loiter patterns, fleets) is
drawn at load time from one generator per object (``scenario.object_rng``), so adding an
object does not change the others.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
from numpy.typing import NDArray

from sim_feeds.geo import GEOD, KNOT_MPS
from sim_feeds.scenario import OBJECT_CLASSES, Scenario, Waypoint

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

STANDARD_RATE_DPS = 3.0
"""Turn rate of an aircraft, deg/s: the standard-rate turn, 360 deg in 2 min (FAA, Instrument Flying Handbook,
FAA-H-8083-15B, ch. 7): a light aircraft at 120 kn reverses its course in 60 s on a 1.2 km radius. Before, the
simulator turned aircraft instantly (a 180 deg reversal at 62 m/s in one truth tick), which no tracker follows
(docs/SCENARIOS.md, "Motion")."""
ARC_STEP_DEG = 5.0
"""A turn is flown as chords of this much course change (1.7 s each at the standard rate): velocity steps of
2 v sin(2.5 deg), 5 m/s at 120 kn, well inside the air pool's manoeuvre model."""


def standard_rate_turns(route: Sequence[Waypoint], default_kn: float | None,
                        rate_dps: float = STANDARD_RATE_DPS) -> list[Waypoint]:
    """``route`` with each course change at a waypoint flown through (no dwell, moving legs before and after) made
    a fly-over turn (ICAO Doc 8168 PANS-OPS, fly-over waypoint): from the waypoint the mover turns at ``rate_dps``
    (radius v / omega at the speed of the leg leaving it, level), the shorter way, until it heads for the next
    waypoint, then flies straight there; the arc is added as waypoints every ``ARC_STEP_DEG``. A next waypoint
    inside the turn circle, which no heading from the arc reaches, ends the turn after a full circle (engineering
    guard)."""
    out = [route[0]] if route else []
    omega = math.radians(rate_dps)
    for i in range(1, len(route) - 1):
        prev, wp, nxt = route[i - 1], route[i], route[i + 1]
        out.append(wp)
        v_in = prev.speed_kn if prev.speed_kn is not None else default_kn
        v_out = wp.speed_kn if wp.speed_kn is not None else default_kn
        if wp.dwell_s > 0 or prev.dwell_s > 0 or not v_in or not v_out:
            continue  # a stop (or a leg without speed): no turn in motion
        _, back_az, _ = GEOD.inv(prev.lon, prev.lat, wp.lon, wp.lat)
        heading = (float(back_az) + 180.0) % 360.0  # arrival course at wp
        to_next, _, dist = GEOD.inv(wp.lon, wp.lat, nxt.lon, nxt.lat)
        turn = (float(to_next) - heading + 180.0) % 360.0 - 180.0
        if abs(turn) <= ARC_STEP_DEG or dist <= 0.0:
            continue
        side = 1.0 if turn > 0 else -1.0  # right (clockwise) turns positive
        chord = 2.0 * (v_out * KNOT_MPS / omega) * math.sin(math.radians(ARC_STEP_DEG) / 2.0)
        lon, lat = wp.lon, wp.lat
        for _ in range(int(360.0 / ARC_STEP_DEG)):
            lon_f, lat_f, _ = GEOD.fwd(lon, lat, heading + side * ARC_STEP_DEG / 2.0, chord)
            lon, lat, heading = float(lon_f), float(lat_f), (heading + side * ARC_STEP_DEG) % 360.0
            out.append(Waypoint(lat=lat, lon=lon, alt_m=wp.alt_m, speed_kn=wp.speed_kn))
            bearing, _, _ = GEOD.inv(lon, lat, nxt.lon, nxt.lat)
            if abs((float(bearing) - heading + 180.0) % 360.0 - 180.0) <= ARC_STEP_DEG:
                break
    if len(route) > 1:
        out.append(route[-1])
    return out


class TruthRow(msgspec.Struct, frozen=True):
    """One object at one truth tick: exactly the truth.jsonl fields of DESIGN.md, in order."""

    t: float
    id: str
    domain: str
    lat: float
    lon: float
    alt_m: float
    speed_mps: float
    course_deg: float
    mmsi: int | None
    icao24: str | None
    role: str
    activity: str


@dataclass(frozen=True)
class MoverState:
    """State of Q (mover, time) queries; every array is (Q,).

    lat, lon degrees; alt_m metres; speed_mps ground speed; course_deg from true north;
    vrate_mps vertical rate; alive False before the mover starts or after it has left;
    activity index into ``Paths.activities``.
    """

    lat: FloatArray
    lon: FloatArray
    alt_m: FloatArray
    speed_mps: FloatArray
    course_deg: FloatArray
    vrate_mps: FloatArray
    alive: BoolArray
    activity: IntArray
    knot: IntArray  # index of the knot starting the current leg (Paths.turn_deg, Paths.knot_t)


@dataclass(frozen=True)
class Paths:
    """Routes of P movers as K knots (arrival and departure points, and the points where a speed change begins or
    ends), owners contiguous.

    first, last: (P,) knot index range of each mover; hold: (P,) stays at its last knot.
    knot_t: (K,) s after t0; lat, lon, alt_m: (K,); az_deg, dist_m, dur_s: (K,) the leg
    leaving each knot (dist 0 for a stop or the last knot; az then carries the arrival
    course); turn_deg: (K,) course change at the knot (0 for a start, a stop or the end);
    activity: (K,) index into ``activities``.
    """

    t0: float
    first: IntArray
    last: IntArray
    hold: BoolArray
    knot_t: FloatArray
    lat: FloatArray
    lon: FloatArray
    alt_m: FloatArray
    az_deg: FloatArray
    dist_m: FloatArray
    dur_s: FloatArray
    turn_deg: FloatArray
    activity: IntArray
    activities: tuple[str, ...]
    _key: FloatArray
    _stride: float
    _leg_s: FloatArray  # dur_s, inf where no leg leaves the knot (frac stays 0)
    _speed_mps: FloatArray  # the leg's top speed (m/s); 0 = stop
    _v0_mps: FloatArray  # speed at the start and at the end of the leg (m/s): constant acceleration between
    _v1_mps: FloatArray
    _climb_m: FloatArray
    _grade: FloatArray  # climb per metre along the leg

    def __len__(self) -> int:
        return int(self.first.shape[0])

    def end_s(self) -> FloatArray:
        """(P,) time of each mover's last knot, s after t0."""
        return self.knot_t[self.last]

    def departure(self, knot: IntArray) -> tuple[FloatArray, FloatArray]:
        """For movers on the legs leaving ``knot`` (Q,) (``MoverState.knot``): the time (s after t0) at which a
        stop ends and a moving leg begins, and that leg's speed (m/s), (Q,) each; inf and 0 where the leg is not
        a stop followed by a moving leg of the same mover (under way, or held at the last knot)."""
        knot = np.asarray(knot, dtype=np.int64)
        nxt = np.minimum(knot + 1, self.knot_t.size - 1)
        owner_last = self.last[np.searchsorted(self.last, knot)]  # owners are contiguous: the first last >= knot
        leaves = (self._speed_mps[knot] == 0.0) & (knot < owner_last) & (self._speed_mps[nxt] > 0.0)
        return np.where(leaves, self.knot_t[nxt], np.inf), np.where(leaves, self._speed_mps[nxt], 0.0)

    def sample(self, idx: IntArray, t: FloatArray) -> MoverState:
        """State of movers ``idx`` (Q,) at Unix times ``t`` (Q,) (or broadcastable)."""
        idx, t = np.asarray(idx, dtype=np.int64), np.asarray(t, dtype=np.float64)
        if idx.shape != t.shape:
            idx, t = np.broadcast_arrays(idx, t)
        rel = t - self.t0
        first, last = self.first[idx], self.last[idx]
        alive = (rel >= self.knot_t[first]) & ((rel <= self.knot_t[last]) | self.hold[idx])
        j = np.searchsorted(self._key, idx * self._stride + np.clip(rel, 0.0, 0.5 * self._stride), side="right") - 1
        np.clip(j, first, last, out=j)
        frac = np.clip((rel - self.knot_t[j]) / self._leg_s[j], 0.0, 1.0)  # 0 at a knot without a leg
        v0, v1 = self._v0_mps[j], self._v1_mps[j]
        speed = v0 + frac * (v1 - v0)  # constant acceleration: distance is the time times the mean speed
        along = np.minimum(frac * self.dur_s[j] * 0.5 * (v0 + speed), self.dist_m[j])
        lon, lat, back = GEOD.fwd(self.lon[j], self.lat[j], self.az_deg[j], along)
        course = np.where(along > 0.0, (np.asarray(back) + 180.0) % 360.0, self.az_deg[j])
        moved = np.where(self.dist_m[j] > 0.0, along / np.where(self.dist_m[j] > 0.0, self.dist_m[j], 1.0), frac)
        return MoverState(lat=np.asarray(lat), lon=np.asarray(lon), alt_m=self.alt_m[j] + moved * self._climb_m[j],
                          speed_mps=speed, course_deg=course, vrate_mps=self._grade[j] * speed, alive=alive,
                          activity=self.activity[j], knot=j)


def _boundary_speeds(owner: list[int], leg_mps: list[float], leg_m: list[float], accel: Sequence[float],
                     hold: Sequence[bool]) -> list[float]:
    """Speed (m/s) of each mover at each of its knots under its bounded acceleration ``accel`` (m/s^2 per mover).

    ``leg_mps``, ``leg_m``: per knot, the speed (0 for a stop) and length of the leg leaving it. A mover starts at
    its first leg's speed (it enters the scenario under way, or stopped), passes a waypoint at the lower of its two
    legs' speeds, and arrives at the end at its last leg's speed, or stopped if it holds there. Then one pass
    forwards and one backwards lower every knot's speed to what the mover can reach from the knot before, and
    brake to the knot after, within one leg (v^2 = v0^2 + 2 a d): every leg is then feasible. Load time only, a
    loop over the knots.
    """
    n = len(owner)
    out = [0.0] * n
    for k in range(n):
        first = k == 0 or owner[k - 1] != owner[k]
        last = k == n - 1 or owner[k + 1] != owner[k]
        if first:
            out[k] = leg_mps[k]
        elif last:
            out[k] = 0.0 if hold[owner[k]] else leg_mps[k - 1]
        else:
            out[k] = min(leg_mps[k - 1], leg_mps[k])
    for k in range(n - 1):
        if owner[k + 1] == owner[k]:
            out[k + 1] = min(out[k + 1], math.sqrt(out[k] ** 2 + 2.0 * accel[owner[k]] * leg_m[k]))
    for k in range(n - 2, -1, -1):
        if owner[k + 1] == owner[k]:
            out[k] = min(out[k], math.sqrt(out[k + 1] ** 2 + 2.0 * accel[owner[k]] * leg_m[k]))
    return out


def _speed_profile(v0: FloatArray, v1: FloatArray, cruise: FloatArray, dist: FloatArray, accel: FloatArray
                   ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per moving leg (all (L,): entry and exit speed m/s, the leg's speed m/s, length m, acceleration m/s^2,
    inf = instant): the peak speed (the leg's speed, or lower on a leg too short to reach it) and the lengths (m)
    of its speeding-up and slowing-down parts, at constant acceleration; the rest is flown at the peak speed."""
    with np.errstate(invalid="ignore"):  # inf acceleration: no parts (0 * inf is set below)
        peak = np.minimum(cruise, np.sqrt(accel * dist + 0.5 * (v0 * v0 + v1 * v1)))
        peak = np.maximum(peak, np.maximum(v0, v1))
        up = np.where(np.isfinite(accel), (peak * peak - v0 * v0) / (2.0 * accel), 0.0)
        down = np.where(np.isfinite(accel), (peak * peak - v1 * v1) / (2.0 * accel), 0.0)
    excess = np.maximum(up + down - dist, 0.0)  # rounding: the parts never exceed the leg
    return peak, up - 0.5 * excess, down - 0.5 * excess


ACCEL_MIN_PART_M = 0.01
"""A speeding-up or slowing-down part shorter than this (m) is not a leg of its own (rounding)."""


def build_paths(t0: float, routes: Sequence[Sequence[Waypoint]], start_s: Sequence[float],
                default_kn: Sequence[float | None], hold: Sequence[bool], activity: Sequence[str],
                accel_mps2: Sequence[float] | None = None) -> Paths:
    """Knot arrays of P routes (validated: >= 2 waypoints, every moving leg with a speed > 0).

    ``accel_mps2`` (P,): each mover's bounded longitudinal acceleration and deceleration, m/s^2 (None or inf:
    speed changes at once). A leg whose speed differs from the one before speeds up at its start, a leg followed
    by a slower one (or a stop) slows down at its end, each part a leg of its own at constant acceleration along
    the same geodesic (``_boundary_speeds``, ``_speed_profile``).
    """
    labels: dict[str, int] = {}
    owner: list[int] = []
    lat: list[float] = []
    lon: list[float] = []
    alt: list[float] = []
    speed: list[float] = []  # speed of the leg leaving the knot, m/s; 0 = stop
    dwell: list[float] = []  # duration of a stop leaving the knot, s
    act: list[int] = []
    for p, route in enumerate(routes):
        label = labels.setdefault(activity[p], len(labels))
        for i, wp in enumerate(route):
            if wp.activity is not None:
                label = labels.setdefault(wp.activity, len(labels))
            leg_kn = wp.speed_kn if wp.speed_kn is not None else default_kn[p]
            leg_mps = (leg_kn or 0.0) * KNOT_MPS if i < len(route) - 1 else 0.0
            knots = [(0.0, wp.dwell_s), (leg_mps, 0.0)] if wp.dwell_s > 0 else [(leg_mps, 0.0)]
            for sp, dw in knots:
                owner.append(p)
                lat.append(wp.lat)
                lon.append(wp.lon)
                alt.append(wp.alt_m)
                speed.append(sp)
                dwell.append(dw)
                act.append(label)
    own = np.asarray(owner, dtype=np.int64)
    la, lo, al = (np.asarray(x, dtype=np.float64) for x in (lat, lon, alt))
    sp_a, dw_a, act_a = np.asarray(speed), np.asarray(dwell), np.asarray(act, dtype=np.int64)
    v_start = v_end = np.where(_legs(own, la, lo, sp_a)[0], sp_a, 0.0)
    if accel_mps2 is not None and own.size:
        own, la, lo, al, v_start, v_end, dw_a, act_a = _accelerate(own, la, lo, al, v_start, dw_a, act_a,
                                                                  np.asarray(accel_mps2, dtype=np.float64), hold)
    moving, az, back, dist, has_next, nxt = _legs(own, la, lo, np.maximum(v_start, v_end))
    count = np.bincount(own, minlength=len(routes))
    last = np.cumsum(count) - 1
    first = last - count + 1
    mean_mps = 0.5 * (v_start + v_end)
    dur = np.where(moving, dist / np.where(moving, mean_mps, 1.0), np.where(has_next, dw_a, 0.0))
    # a stop (or the end) keeps the arrival course of the mover's previous moving leg, or else
    # the course of its next one
    k = np.arange(own.size)
    arrival = (back + 180.0) % 360.0
    departure = az % 360.0
    prev_leg = np.maximum.accumulate(np.where(moving, k, -1))
    next_leg = np.minimum.accumulate(np.where(moving, k, own.size)[::-1])[::-1]
    fallback = np.where(next_leg <= last[own], departure[np.minimum(next_leg, own.size - 1)], 0.0)
    az_out = np.where(moving, departure,
                      np.where(prev_leg >= first[own], arrival[np.maximum(prev_leg, 0)], fallback))
    start = np.asarray(start_s, dtype=np.float64)
    csum = np.cumsum(dur)
    before = np.concatenate(([0.0], csum[:-1]))
    knot_t = start[own] + before - before[first][own]
    stride = 2.0 * (float(knot_t.max(initial=0.0)) + 1.0e5)
    leg = has_next & (dur > 0.0)
    leg_s = np.where(leg, dur, np.inf)
    climb = np.where(leg, al[nxt] - al, 0.0)
    came_moving = np.concatenate(([False], moving[:-1])) & ~np.isin(k, first)
    turn = np.where(moving & came_moving, np.abs((departure - arrival[np.maximum(k - 1, 0)] + 180.0) % 360.0 - 180.0), 0.0)
    return Paths(t0=t0, first=first, last=last, hold=np.asarray(hold, dtype=bool), knot_t=knot_t, lat=la, lon=lo,
                 alt_m=al, az_deg=az_out, dist_m=dist, dur_s=dur, turn_deg=turn, activity=act_a,
                 activities=tuple(labels), _key=own * stride + knot_t, _stride=stride, _leg_s=leg_s,
                 _speed_mps=np.where(moving, np.maximum(v_start, v_end), 0.0),
                 _v0_mps=np.where(moving, v_start, 0.0), _v1_mps=np.where(moving, v_end, 0.0), _climb_m=climb,
                 _grade=np.where(moving, climb / np.where(moving, dist, 1.0), 0.0))


def _legs(own: IntArray, la: FloatArray, lo: FloatArray, speed: FloatArray
          ) -> tuple[BoolArray, FloatArray, FloatArray, FloatArray, BoolArray, IntArray]:
    """The legs between consecutive knots of one owner, all (K,): moving (a leg with a length and a speed), forward
    and back azimuth (deg), length (m; 0 where not moving), has a next knot, index of the next knot."""
    has_next = np.zeros(own.size, dtype=bool)
    has_next[:-1] = own[1:] == own[:-1]
    nxt = np.minimum(np.arange(own.size) + 1, max(own.size - 1, 0))
    az, back, dist = (np.asarray(x, dtype=np.float64) for x in GEOD.inv(lo, la, lo[nxt], la[nxt]))
    moving = has_next & (dist > 0.0) & (speed > 0.0)
    return moving, az, back, np.where(moving, dist, 0.0), has_next, nxt


def _accelerate(own: IntArray, la: FloatArray, lo: FloatArray, al: FloatArray, speed: FloatArray, dwell: FloatArray,
                act: IntArray, accel: FloatArray, hold: Sequence[bool]) -> tuple[IntArray, FloatArray, FloatArray,
                                                                           FloatArray, FloatArray, FloatArray,
                                                                           FloatArray, IntArray]:
    """Knots (K,) with each moving leg split into its speeding-up, steady and slowing-down parts (``_speed_profile``)
    -> the new knots' owner, lat, lon, alt, speed at the start and at the end of the leg leaving each (m/s), dwell
    (s) and activity, (K',) each; a part's knot lies on the leg's geodesic, its altitude linear in distance."""
    moving, az, _, dist, _, nxt = _legs(own, la, lo, speed)
    bound = np.asarray(_boundary_speeds(own.tolist(), speed.tolist(), dist.tolist(), accel.tolist(), hold))
    v0, v1 = bound, bound[nxt]
    peak, up, down = _speed_profile(v0, v1, speed, dist, accel[own])
    steady = dist - up - down
    # per knot up to three parts: [start -> up] v0 -> peak, [up -> dist - down] peak, [dist - down -> dist] peak -> v1
    part_from = np.stack([np.zeros_like(dist), up, dist - down], axis=1)
    part_len = np.stack([up, steady, down], axis=1)
    part_v0 = np.stack([v0, peak, peak], axis=1)
    part_v1 = np.stack([peak, peak, v1], axis=1)
    keep = (part_len > ACCEL_MIN_PART_M) & moving[:, None]
    keep[:, 1] |= ~keep.any(axis=1)  # a knot without a moving leg (a stop, the end) stays one knot
    row, col = np.nonzero(keep)  # row-major: a knot's parts in order
    off = part_from[row, col]
    frac = np.where(dist[row] > 0.0, off / np.where(dist[row] > 0.0, dist[row], 1.0), 0.0)
    lon_p, lat_p, _ = GEOD.fwd(lo[row], la[row], az[row], off)
    still = ~moving[row]
    return (own[row], np.where(still, la[row], lat_p), np.where(still, lo[row], lon_p),
            al[row] + frac * (al[nxt[row]] - al[row]) * moving[row], np.where(still, 0.0, part_v0[row, col]),
            np.where(still, 0.0, part_v1[row, col]), np.where(col == 1, dwell[row], 0.0), act[row])


@dataclass(frozen=True)
class Truth:
    """All objects of a scenario: their paths and per-object attributes, (N,) arrays."""

    scenario: Scenario
    paths: Paths
    ids: tuple[str, ...]
    domain: NDArray[np.str_]  # "surface" | "air"
    is_air: BoolArray
    rcs_m2: FloatArray
    height_m: FloatArray  # highest point above the sea (vessels); aircraft use alt_m
    length_m: FloatArray  # length overall (satellite imagery); aircraft 0
    mmsi: IntArray  # 0 = no AIS
    icao24: IntArray  # -1 = no ADS-B
    role: NDArray[np.str_]

    @classmethod
    def of(cls, scenario: Scenario) -> Truth:
        """Build the truth model of a loaded scenario."""
        objs = scenario.objects
        classes = [OBJECT_CLASSES[o.kind] for o in objs]
        routes = [standard_rate_turns(o.route, o.speed_kn) if c.domain == "air" else o.route
                  for o, c in zip(objs, classes, strict=True)]
        paths = build_paths(scenario.t0, routes, [o.start_s for o in objs],
                            [o.speed_kn for o in objs], [o.hold_at_end for o in objs], [o.activity for o in objs],
                            [o.accel_mps2 or c.accel_mps2(o.length_m) for o, c in zip(objs, classes, strict=True)])
        return cls(
            scenario=scenario, paths=paths, ids=tuple(o.id for o in objs),
            domain=np.array([c.domain for c in classes], dtype=str),
            is_air=np.array([c.domain == "air" for c in classes], dtype=bool),
            rcs_m2=np.array([o.rcs_m2 or c.rcs_m2(o.length_m) for o, c in zip(objs, classes, strict=True)], dtype=np.float64),
            height_m=np.array([c.height_m for c in classes], dtype=np.float64),
            length_m=np.array([o.length_m or c.length_m for o, c in zip(objs, classes, strict=True)], dtype=np.float64),
            mmsi=np.array([o.ais.mmsi if o.ais else 0 for o in objs], dtype=np.int64),
            icao24=np.array([int(o.adsb.icao24, 16) if o.adsb else -1 for o in objs], dtype=np.int64),
            role=np.array([o.role for o in objs], dtype=str),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def at(self, t: float) -> MoverState:
        """State of all N objects at Unix time ``t``."""
        return self.paths.sample(np.arange(len(self.ids)), np.full(len(self.ids), t))

    def ticks(self) -> FloatArray:
        """Truth tick times, Unix s: t0, t0 + truth_interval_s, ... <= t_end."""
        sc = self.scenario
        n = int(np.floor(sc.duration_s / sc.truth_interval_s + 1e-9)) + 1
        return sc.t0 + sc.truth_interval_s * np.arange(n, dtype=np.float64)

    def rows(self, t: float) -> list[TruthRow]:
        """TruthRows of the objects alive at ``t``."""
        s = self.at(t)
        alive = np.flatnonzero(s.alive)
        lat = np.round(s.lat[alive], 7).tolist()
        lon = np.round(s.lon[alive], 7).tolist()
        alt = np.round(np.where(self.is_air[alive], s.alt_m[alive], 0.0), 1).tolist()
        speed = np.round(s.speed_mps[alive], 3).tolist()
        course = np.round(s.course_deg[alive], 2).tolist()
        act = s.activity[alive].tolist()
        labels = self.paths.activities
        out = []
        for k, i in enumerate(alive.tolist()):
            mmsi = int(self.mmsi[i]) or None
            icao = f"{self.icao24[i]:06x}" if self.icao24[i] >= 0 else None
            out.append(TruthRow(t, self.ids[i], str(self.domain[i]), lat[k], lon[k], alt[k], speed[k], course[k],
                                mmsi, icao, str(self.role[i]), labels[act[k]]))
        return out


def iter_truth(scenario: Scenario) -> Iterator[list[TruthRow]]:
    """One list of TruthRows per truth tick (objects alive at that tick), generated lazily."""
    truth = Truth.of(scenario)
    for t in truth.ticks().tolist():
        yield truth.rows(t)
