"""AIS: what the transponders transmit (ITU-R M.1371) and what receivers hear and forward.

``AisSchedule`` steps every AIS-equipped vessel's transmissions through time, vectorised
over vessels. Reporting intervals (ITU-R M.1371-5, Table 1 for class A; class B "CS"):

    class A  stopped (speed 0: moored / at anchor)      180 s
             < 14 kn                                    10 s   (3 1/3 s changing course)
             14-23 kn                                    6 s   (2 s changing course)
             > 23 kn                                     2 s
    class B  < 2 kn                                     180 s
             >= 2 kn                                    30 s
    static   type 5 (class A) / type 24 A+B (class B)   360 s

A stopped vessel that gets under way reports one new interval after it leaves, not at the end of its
3-min interval (see ``AisSchedule._positions``). "Changing course" is read as: a waypoint turn of more than ``TURN_DEG`` within the last
``TURN_WINDOW_S`` seconds (legs are geodesics; their slow course drift is not a turn). Transmitted positions carry GNSS noise ``GNSS_SIGMA_M`` per
axis; inside an ``ais.off`` window nothing is sent; inside an ``ais.spoof`` window the
position is shifted ``offset_nm`` along ``bearing_deg``. The schedule is a pure function
of the scenario seed, so every receiver hears the same transmissions.

Receivers: terrestrial (range-limited, each transmission lost with ``slot_loss``,
batched per ``batch_s`` as aggregators do) and satellite (passes of ``pass_s`` every
``revisit_s``, each transmission heard with ``p_detect``, delivered after a uniform
latency, so messages arrive late and out of order; the tag block keeps the report time).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from sensors import ais as ais_codec
from sensors.reports import AisStatic
from sim_feeds.feed import FeedMessage, feed_topic
from sim_feeds.geo import KNOT_MPS, NM_M, distance_in_band_m, offset
from sim_feeds.scenario import AisSatellite, AisTerrestrial, Scenario, object_rng
from sim_feeds.schedule import batch_edges, in_windows, window_table
from sim_feeds.truth import Truth

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

STATIC_INTERVAL_S = 360.0
STOPPED_INTERVAL_S = 180.0
TURN_DEG = 2.5
TURN_WINDOW_S = 30.0
GNSS_SIGMA_M = 5.0
CHUNK_S = 10.0  # terrestrial receivers step the schedule this many seconds at a time


def report_interval_s(speed_mps: FloatArray, turning: BoolArray, class_b: BoolArray) -> FloatArray:
    """(V,) ITU-R M.1371 position reporting interval (s) by speed, course change and class."""
    kn = np.asarray(speed_mps) / KNOT_MPS
    fast = np.where(kn < 23.0, np.where(turning, 2.0, 6.0), 2.0)
    class_a = np.where(kn <= 0.0, STOPPED_INTERVAL_S, np.where(kn < 14.0, np.where(turning, 10.0 / 3.0, 10.0), fast))
    return np.where(class_b, np.where(kn < 2.0, STOPPED_INTERVAL_S, 30.0), class_a)


@dataclass(frozen=True)
class Transmissions:
    """Q transmissions: (Q,) arrays. ``static`` rows are static/voyage messages (no position).

    ``lat``/``lon`` are the reported position (spoofed inside an ``ais.spoof`` window);
    ``tx_lat``/``tx_lon`` where the transmitter really is, which decides who hears it.
    """

    t: FloatArray
    vessel: IntArray  # index into AisSchedule.vessels
    lat: FloatArray
    lon: FloatArray
    sog_mps: FloatArray
    cog_deg: FloatArray
    static: BoolArray
    tx_lat: FloatArray
    tx_lon: FloatArray

    def take(self, keep: BoolArray | IntArray | slice) -> Transmissions:
        """The subset ``keep`` (mask or indices)."""
        return Transmissions(*(getattr(self, f.name)[keep] for f in fields(Transmissions)))

    @staticmethod
    def concat(parts: Sequence[Transmissions]) -> Transmissions:
        """Rows of all ``parts`` in order."""
        if not parts:
            return Transmissions(*(np.zeros(0, dtype={"vessel": np.int64, "static": bool}.get(f.name, np.float64))
                                   for f in fields(Transmissions)))
        return Transmissions(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Transmissions)))


class AisSchedule:
    """Transmissions of all AIS-equipped vessels, advanced window by window (vectorised)."""

    def __init__(self, scenario: Scenario, truth: Truth) -> None:
        self.scenario, self.truth = scenario, truth
        self.vessels = np.flatnonzero(truth.mmsi > 0)  # (V,) object indices
        units = [u for i in self.vessels if (u := scenario.objects[i].ais) is not None]
        self.units = units
        self.names = [u.name or scenario.objects[i].id.upper().replace("_", "-")[:20]
                      for u, i in zip(units, self.vessels, strict=True)]
        self.class_b = np.array([u.transceiver == "B" for u in units], dtype=bool)
        self.mmsi = np.array([u.mmsi for u in units], dtype=np.int64)
        owners = list(range(len(units)))
        self.off = window_table(owners, [u.off for u in units])
        self.spoof = window_table(owners, [u.spoof for u in units])
        spoofs = [s for u in units for s in u.spoof]
        self.spoof_bearing = np.array([s.bearing_deg for s in spoofs], dtype=np.float64)
        self.spoof_m = np.array([s.offset_nm * NM_M for s in spoofs], dtype=np.float64)
        self.rng = object_rng(scenario.seed, "ais-transmitters")
        v = self.vessels.size
        self.next_pos = scenario.t0 + self.rng.uniform(0.0, 10.0, v)
        self.next_static = scenario.t0 + self.rng.uniform(0.0, STATIC_INTERVAL_S, v)

    def step(self, t_hi: float) -> Transmissions:
        """All transmissions before ``t_hi`` not yet returned, sorted by time."""
        parts: list[Transmissions] = []
        while True:
            due_pos = np.flatnonzero(self.next_pos < t_hi)
            due_static = np.flatnonzero(self.next_static < t_hi)
            if due_pos.size == 0 and due_static.size == 0:
                break
            if due_pos.size:
                parts.append(self._positions(due_pos))
            if due_static.size:
                parts.append(self._statics(due_static))
        merged = Transmissions.concat(parts)
        return merged.take(np.argsort(merged.t, kind="stable"))

    def _positions(self, due: IntArray) -> Transmissions:
        """Position reports of vessels ``due`` (V indices) at their scheduled times; reschedule."""
        t = self.next_pos[due]
        obj = self.vessels[due]
        paths = self.truth.paths
        now = paths.sample(obj, t)
        turn = (paths.turn_deg[now.knot] > TURN_DEG) & (t - self.scenario.t0 - paths.knot_t[now.knot] < TURN_WINDOW_S)
        # a stopped vessel (3 min) that gets under way before its next report switches to the rate of its new
        # speed then, not after the 3-min slot already reserved: ITU-R M.1371-5 Table 1 sets the interval by the
        # ship's current dynamic condition (at anchor or moored and faster than 3 kn: 10 s), and Annex 2's ITDMA
        # access is what a station uses to take up a shorter interval at once. The first report at the new rate
        # is one new interval after the departure.
        leave_s, leave_mps = paths.departure(now.knot)
        leave = self.scenario.t0 + leave_s + report_interval_s(leave_mps, np.zeros(due.size, dtype=bool), self.class_b[due])
        self.next_pos[due] = np.minimum(t + report_interval_s(now.speed_mps, turn & (now.speed_mps > 0), self.class_b[due]),
                                        np.where(leave > t, leave, np.inf))
        rel = t - self.scenario.t0
        sent = now.alive & (in_windows(due, rel, self.off) < 0)
        east, north = self.rng.normal(0.0, GNSS_SIGMA_M, (2, due.size))
        lat, lon = offset(now.lat, now.lon, np.degrees(np.arctan2(east, north)), np.hypot(east, north))
        spoofed = in_windows(due, rel, self.spoof)
        s = spoofed >= 0
        lat[s], lon[s] = offset(lat[s], lon[s], self.spoof_bearing[spoofed[s]], self.spoof_m[spoofed[s]])
        return Transmissions(t, due, lat, lon, now.speed_mps, now.course_deg, np.zeros(due.size, dtype=bool),
                             now.lat, now.lon).take(sent)

    def _statics(self, due: IntArray) -> Transmissions:
        """Static/voyage messages of vessels ``due`` at their scheduled times; reschedule."""
        t = self.next_static[due]
        self.next_static[due] = t + STATIC_INTERVAL_S
        now = self.truth.paths.sample(self.vessels[due], t)
        sent = now.alive & (in_windows(due, t - self.scenario.t0, self.off) < 0)
        return Transmissions(t, due, now.lat, now.lon, now.speed_mps, now.course_deg,
                             np.ones(due.size, dtype=bool), now.lat, now.lon).take(sent)

    def payload(self, tx: Transmissions, source: str) -> bytes:
        """The NMEA payload of the transmissions ``tx`` as heard by receiver ``source`` (report time =
        transmission time): what ``sensors.ais.encode_payload`` makes of their reports, without a report
        object per position (the position columns are armoured at once)."""
        positions = self._positions_heard(tx)
        lines = ais_codec.position_lines(positions, [source] * positions.t.size)
        return ais_codec.join_payload(lines, self._statics_heard(tx, source), tx.static)

    def _positions_heard(self, tx: Transmissions) -> ais_codec.AisPositionColumns:
        """The position rows of ``tx`` as report columns (1e-3 s, 1e-6 deg; heading = course to 1 deg)."""
        pos = tx.take(~tx.static)
        cog = pos.cog_deg % 360.0
        class_b = self.class_b[pos.vessel]
        return ais_codec.AisPositionColumns(
            t=np.round(pos.t, 3), mmsi=self.mmsi[pos.vessel], lat=np.round(pos.lat, 6), lon=np.round(pos.lon, 6),
            sog_mps=pos.sog_mps, cog_deg=cog, heading_deg=np.round(cog) % 360, msg_type=np.where(class_b, 18, 1),
            accuracy=np.zeros(pos.t.size, dtype=bool))

    def _statics_heard(self, tx: Transmissions, source: str) -> list[AisStatic]:
        """The static rows of ``tx`` as AisStatic reports (type 5, or 24 for class B)."""
        st = tx.take(tx.static)
        return [AisStatic(t=t, source=source, mmsi=self.units[v].mmsi, name=self.names[v],
                          ship_type=self.units[v].ship_type, msg_type=24 if self.class_b[v] else 5)
                for t, v in zip(np.round(st.t, 3).tolist(), st.vessel.tolist(), strict=True)]


def reach_factor(range_m: FloatArray, class_b: BoolArray, spec: AisTerrestrial) -> FloatArray:
    """(Q,) in [0, 1]: the share of a shore receiver's reception left at ``range_m`` (m) from the transmitter
    (heard with probability (1 - slot_loss) x this).

    1 out to the transmitter class's range less ``fade_m``, then falling linearly to 0
    at that range (``range_class_b_m`` for class B: 2 W against 12.5 W for class A, ITU-R M.1371-5
    and IEC 62287-1, so a shorter reach), 0 beyond. With the defaults (no class B range, fade 0)
    this is the plain circle: 1 inside ``range_m``, 0 beyond."""
    reach = reach_band_m(class_b, spec)[1]
    if spec.fade_m > 0.0:
        return np.clip((reach - range_m) / spec.fade_m, 0.0, 1.0)
    return (range_m <= reach).astype(np.float64)


def reach_band_m(class_b: BoolArray, spec: AisTerrestrial) -> tuple[FloatArray, FloatArray]:
    """(Q,) ranges (m) within which ``reach_factor`` is 1 and beyond which it is 0, by transmitter class."""
    reach = np.where(class_b, spec.range_class_b_m or spec.range_m, spec.range_m)
    return reach - spec.fade_m, reach


class AisTerrestrialModel:
    """A shore receiver: hears transmissions within ``range_m``, loses ``slot_loss`` of them."""

    def __init__(self, scenario: Scenario, truth: Truth, spec: AisTerrestrial) -> None:
        self.scenario, self.spec = scenario, spec
        self.schedule = AisSchedule(scenario, truth)
        self.rng = object_rng(scenario.seed, f"sensor:{spec.id}")

    def batches(self) -> Iterator[tuple[float, Transmissions]]:
        """(batch end time, transmissions heard in the batch), in time order; empty batches skipped.

        The schedule is stepped in chunks of whole batches (at least CHUNK_S) and split per batch.
        """
        spec, t0 = self.spec, self.scenario.t0
        per_chunk = max(1, int(CHUNK_S // spec.batch_s))
        edges = list(batch_edges(t0, self.scenario.t_end, spec.batch_s))
        for c in range(0, len(edges), per_chunk):
            chunk = edges[c:c + per_chunk]
            tx = self.schedule.step(chunk[-1])
            if tx.t.size == 0:
                continue
            class_b = self.schedule.class_b[tx.vessel]
            full, zero = reach_band_m(class_b, spec)
            # heard by where it is, not where it claims to be; only the fade band needs the exact distance
            reach = reach_factor(distance_in_band_m(spec.lat, spec.lon, tx.tx_lat, tx.tx_lon, full, zero), class_b, spec)
            u = self.rng.random(tx.t.size)  # heard with probability (1 - slot_loss) x reach
            tx = tx.take((u >= spec.slot_loss) & ((reach >= 1.0) | (u < spec.slot_loss + (1.0 - spec.slot_loss) * reach)))
            split = np.searchsorted(tx.t, chunk, side="left")
            lo = 0
            for t_hi, hi in zip(chunk, split.tolist(), strict=True):
                if hi > lo:
                    yield t_hi, tx.take(slice(lo, hi))
                lo = hi

    def feed(self) -> Iterator[FeedMessage]:
        """One NMEA payload per batch (tag-block time = transmission time), at batch end + latency."""
        topic = feed_topic("ais", self.spec.id)
        for t_hi, tx in self.batches():
            payload = self.schedule.payload(tx, self.spec.id)
            yield FeedMessage(round(t_hi + self.spec.latency_s, 3), topic, payload, 0)


class AisSatelliteModel:
    """Satellite AIS: passes, detection probability per message, minutes of random latency."""

    def __init__(self, scenario: Scenario, truth: Truth, spec: AisSatellite) -> None:
        self.scenario, self.spec = scenario, spec
        self.schedule = AisSchedule(scenario, truth)
        self.rng = object_rng(scenario.seed, f"sensor:{spec.id}")
        first = spec.first_pass_s if spec.first_pass_s is not None else self.rng.uniform(0.0, spec.revisit_s)
        self.first_pass = scenario.t0 + first

    def in_pass(self, t: FloatArray) -> BoolArray:
        """(Q,) True where a satellite is overhead at Unix time t."""
        since = np.asarray(t) - self.first_pass
        return (since >= 0.0) & (since % self.spec.revisit_s < self.spec.pass_s)

    def batches(self) -> Iterator[tuple[float, Transmissions]]:
        """(publish time, transmissions delivered in that batch sorted by arrival), in time order."""
        spec = self.spec
        pending = Transmissions.concat([])
        arrival = np.zeros(0)
        end = self.scenario.t_end + spec.latency_max_s + spec.batch_s
        for t_hi in batch_edges(self.scenario.t0, end, spec.batch_s):
            if t_hi - spec.batch_s < self.scenario.t_end:
                tx = self.schedule.step(min(t_hi, self.scenario.t_end))
                heard = tx.take(self.in_pass(tx.t) & (self.rng.random(tx.t.size) < spec.p_detect))
                late = heard.t + self.rng.uniform(spec.latency_min_s, spec.latency_max_s, heard.t.size)
                pending, arrival = Transmissions.concat([pending, heard]), np.concatenate([arrival, late])
            due = arrival < t_hi
            if due.any():
                order = np.flatnonzero(due)[np.argsort(arrival[due], kind="stable")]
                yield t_hi, pending.take(order)
                pending, arrival = pending.take(~due), arrival[~due]
            if arrival.size == 0 and t_hi >= self.scenario.t_end:
                return

    def feed(self) -> Iterator[FeedMessage]:
        """One NMEA payload per batch of arrivals, published at the batch end."""
        topic = feed_topic("ais", self.spec.id)
        for t_hi, tx in self.batches():
            payload = self.schedule.payload(tx, self.spec.id)
            yield FeedMessage(round(t_hi, 3), topic, payload, 0)
