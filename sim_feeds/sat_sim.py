"""Satellite imagery vessel detections (SAR, VIIRS, optical): the ``sat_imagery`` sensor.

Each pass images the ``swath`` polygon at one instant (a Sentinel-1 IW scene is ~25 s of
acquisition for 250 x 170 km: an instant at vessel speeds). Every surface object alive
inside it is detected with probability Pd(length) = pd_max / (1 + exp(-(L - length_50_m) /
length_scale_m)): the logistic shape of SAR detection rate against vessel length
(docs/SCENARIOS.md, "Satellite imagery", for the sources). A detection is the truth plus
N(0, pos_err_m) east and north, with the length estimated as L x (1 + N(0, length_err))
(VIIRS night lights estimate none) and a confidence drawn in [0.7, 1]; false alarms
Poisson(false_alarms_per_pass) uniform over the swath, confidence in [0.5, 0.9]. The
pass is published as one ``SatScene`` after a latency uniform in [latency_min_s,
latency_max_s]. Each sensor draws from its own generator, so the output is a function
of the seed.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import shapely

from sensors import sat as sat_codec
from sensors.reports import SatDetection, SatScene
from sim_feeds.feed import FeedMessage, feed_topic
from sim_feeds.geo import offset
from sim_feeds.scenario import SatImagery, Scenario, object_rng
from sim_feeds.truth import Truth


def detection_probability(length_m: np.ndarray, spec: SatImagery) -> np.ndarray:
    """Pd (N,) of vessels of ``length_m`` (N,) in one pass of ``spec``."""
    return spec.pd_max / (1.0 + np.exp(-(length_m - spec.length_50_m) / spec.length_scale_m))


class SatImageryModel:
    """Passes of one ``sat_imagery`` sensor over a scenario (see the module docstring)."""

    def __init__(self, scenario: Scenario, truth: Truth, spec: SatImagery) -> None:
        self.scenario, self.truth, self.spec = scenario, truth, spec
        self.rng = object_rng(scenario.seed, f"sensor:{spec.id}")
        self.swath = shapely.Polygon(spec.swath)
        shapely.prepare(self.swath)

    def scenes(self) -> Iterator[tuple[float, SatScene]]:
        """(publish time, scene) of every pass, in pass order."""
        spec, rng, truth = self.spec, self.rng, self.truth
        t = self.scenario.t0 + spec.first_pass_s
        while t <= self.scenario.t_end:
            s = truth.at(t)
            cand = np.flatnonzero(s.alive & ~truth.is_air)
            inside = shapely.contains_xy(self.swath, s.lon[cand], s.lat[cand])
            cand = cand[inside]
            seen = cand[rng.random(cand.size) < detection_probability(truth.length_m[cand], spec)]
            east, north = rng.normal(0.0, spec.pos_err_m, (2, seen.size))
            lat, lon = offset(s.lat[seen], s.lon[seen], np.degrees(np.arctan2(east, north)), np.hypot(east, north))
            length = truth.length_m[seen] * np.maximum(1.0 + rng.normal(0.0, spec.length_err, seen.size), 0.1)
            confidence = rng.uniform(0.7, 1.0, seen.size)
            fa_lat, fa_lon = self._false_alarms()
            lat = np.concatenate([lat, fa_lat])
            lon = np.concatenate([lon, fa_lon])
            length = np.concatenate([length, rng.uniform(5.0, 40.0, fa_lat.size)])
            confidence = np.concatenate([confidence, rng.uniform(0.5, 0.9, fa_lat.size)])
            order = np.argsort(lat, kind="stable")  # the order says nothing about which is which
            detections = [
                SatDetection(lat=round(float(lat[i]), 6), lon=round(float(lon[i]), 6), pos_err_m=spec.pos_err_m,
                             length_m=None if spec.sensor == "viirs" else round(float(np.clip(length[i], 1.0, 500.0)), 1),
                             confidence=round(float(confidence[i]), 3))
                for i in order]
            latency = rng.uniform(spec.latency_min_s, spec.latency_max_s)
            yield t + latency, SatScene(source=spec.id, sensor=spec.sensor, acq_time=round(t, 3), detections=detections)
            t += spec.revisit_s

    def _false_alarms(self) -> tuple[np.ndarray, np.ndarray]:
        """Poisson(false_alarms_per_pass) points uniform over the swath (rejection sampling in its box)."""
        n = int(self.rng.poisson(self.spec.false_alarms_per_pass))
        lon0, lat0, lon1, lat1 = self.swath.bounds
        lat, lon = np.zeros(0), np.zeros(0)
        while lat.size < n:
            x, y = self.rng.uniform(lon0, lon1, 4 * n), self.rng.uniform(lat0, lat1, 4 * n)
            keep = shapely.contains_xy(self.swath, x, y)
            lat, lon = np.concatenate([lat, y[keep]]), np.concatenate([lon, x[keep]])
        return lat[:n], lon[:n]

    def feed(self) -> Iterator[FeedMessage]:
        """One JSON message per pass, in publish-time order (a later pass may arrive first)."""
        topic = feed_topic("sat", self.spec.id)
        pending = sorted(self.scenes(), key=lambda item: item[0])  # passes are few (hours apart)
        for publish_t, scene in pending:
            yield FeedMessage(publish_t, topic, sat_codec.encode(scene), 1)
