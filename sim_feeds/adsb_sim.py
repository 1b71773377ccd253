"""ADS-B: aircraft positions about once a second as ground receivers hear them.

Each equipped aircraft (``adsb`` in the scenario, not inside an ``off`` window) reports
its position every ``REPORT_INTERVAL_S`` at a fixed per-aircraft phase. A receiver hears
it within line of sight (4/3 earth, antenna ``alt_m`` vs aircraft altitude) and
``range_m``; each report is lost with probability ``loss``. Position error follows the
aircraft's NACp: the 95 % horizontal bound EPU (DO-260B) is a 2-D Gaussian radius, so
sigma per axis = EPU / 2.4477. Altitude is barometric in 25 ft steps. Reports of one
``batch_s`` window go out as one SBS-1 or aircraft.json payload.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from sensors import adsb as adsb_codec
from sensors.codec import FOOT_M
from sim_feeds.feed import FeedMessage, feed_topic
from sim_feeds.geo import distance_in_band_m, offset, radar_horizon_m
from sim_feeds.scenario import AdsbReceiver, Scenario, object_rng
from sim_feeds.schedule import batch_edges, in_windows, window_table
from sim_feeds.truth import Truth

FloatArray = NDArray[np.float64]

REPORT_INTERVAL_S = 1.0
EPU95_M = {5: 926.0, 6: 555.6, 7: 185.2, 8: 92.6, 9: 30.0, 10: 10.0, 11: 3.0}  # NACp -> 95 % bound (DO-260B)
RAYLEIGH_95 = math.sqrt(-2.0 * math.log(0.05))  # 2.4477: the 95 % radius of a unit 2-D Gaussian
ALT_STEP_M = 25.0 * FOOT_M


def nacp_sigma_m(nac_p: NDArray[np.int64]) -> FloatArray:
    """(n,) per-axis position sigma (m) of NACp values (5..11)."""
    table = np.array([EPU95_M.get(k, np.nan) for k in range(12)])
    return table[nac_p] / RAYLEIGH_95


class AdsbModel:
    """One ADS-B receiver over the scenario."""

    def __init__(self, scenario: Scenario, truth: Truth, spec: AdsbReceiver) -> None:
        self.scenario, self.truth, self.spec = scenario, truth, spec
        self.aircraft = np.flatnonzero(truth.icao24 >= 0)  # (A,) object indices
        units = [u for i in self.aircraft if (u := scenario.objects[i].adsb) is not None]
        self.units = units
        self.nac_p = np.array([u.nac_p for u in units], dtype=np.int64)
        self.icao24 = truth.icao24[self.aircraft].astype(np.int64)
        self.sigma_m = nacp_sigma_m(self.nac_p)
        self.off = window_table(list(range(len(units))), [u.off for u in units])
        self.phase = np.array([object_rng(scenario.seed, f"adsb:{scenario.objects[i].id}").uniform(0.0, REPORT_INTERVAL_S)
                               for i in self.aircraft])
        self.rng = object_rng(scenario.seed, f"sensor:{spec.id}")

    def batches(self) -> Iterator[tuple[float, adsb_codec.AdsbColumns]]:
        """(batch end time, report columns of the batch sorted by time), in time order."""
        spec, sc = self.spec, self.scenario
        per_batch = math.ceil(spec.batch_s / REPORT_INTERVAL_S)
        for t_hi in batch_edges(sc.t0, sc.t_end, spec.batch_s):
            t_lo = t_hi - spec.batch_s
            k = np.repeat(np.arange(self.aircraft.size), per_batch)
            t = t_lo + self.phase[k] + np.tile(np.arange(per_batch) * REPORT_INTERVAL_S, self.aircraft.size)
            on = (t < t_hi) & (in_windows(k, t - sc.t0, self.off) < 0)
            k, t = k[on], t[on]
            s = self.truth.paths.sample(self.aircraft[k], t)
            reach = np.minimum(spec.range_m, radar_horizon_m(spec.alt_m, s.alt_m))
            heard = (s.alive & (distance_in_band_m(spec.lat, spec.lon, s.lat, s.lon, reach, reach) <= reach)
                     & (self.rng.random(t.size) >= spec.loss))
            k, t = k[heard], t[heard]
            if k.size == 0:
                continue
            east, north = self.rng.normal(0.0, 1.0, (2, k.size)) * self.sigma_m[k]
            lat, lon = offset(s.lat[heard], s.lon[heard], np.degrees(np.arctan2(east, north)), np.hypot(east, north))
            alt = np.round(s.alt_m[heard] / ALT_STEP_M) * ALT_STEP_M
            order = np.argsort(t, kind="stable")
            a = k[order]
            course = np.round(s.course_deg[heard][order] % 360.0, 1)
            yield t_hi, adsb_codec.AdsbColumns(
                t=np.round(t[order], 3), icao24=self.icao24[a], lat=np.round(lat[order], 6), lon=np.round(lon[order], 6),
                alt_m=np.round(alt[order], 2), gs_mps=np.round(s.speed_mps[heard][order], 2), track_deg=course % 360.0,
                vrate_mps=np.round(s.vrate_mps[heard][order], 2), nac_p=self.nac_p[a],
                callsign=[self.units[i].callsign for i in a.tolist()])

    def feed(self) -> Iterator[FeedMessage]:
        """One SBS-1 or aircraft.json payload per batch, published at batch end + latency."""
        topic = feed_topic("adsb", self.spec.id)
        for t_hi, rows in self.batches():
            if self.spec.format == "sbs":
                payload = adsb_codec.encode_sbs_columns(rows)
            else:
                payload = adsb_codec.encode_aircraft_json_columns(round(t_hi, 3), rows)
            yield FeedMessage(round(t_hi + self.spec.latency_s, 3), topic, payload, 0)
