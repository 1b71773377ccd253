"""When each suspect could first be observed after its behaviour's onset, from the truth and the sensors' coverage.

Not from the tracks: this is what the sensors of the scenario could have seen, whatever the tracker made of it.
An object is **covered** at a time when it is alive and at least one sensor could observe it then
(docs/EVALUATION.md, "Alerts"):

- rotating radar (coastal, aerostat, MPA): on station (``on_station`` windows; none: always), a mode of the
  object's domain, slant range inside the coverage annulus, azimuth inside the sector, and inside the radar
  horizon (4/3 earth, antenna height vs the object's height or altitude), from the platform's position at that
  time for a moving radar. Detection probability is not applied: in coverage is observable.
- OTH radar: radar cross-section >= ``min_rcs_m2``, ground range in the annulus and azimuth in the sector.
- terrestrial AIS: the object carries AIS, is not inside an ``ais.off`` window and the receiver's reception
  at that range for its class is above 0 (``reach_factor``: range, class B range, fade).
- satellite AIS: the same transponder conditions while a satellite is overhead (``in_pass``).
- ADS-B receiver: the aircraft carries ADS-B, not inside an ``adsb.off`` window, within the receiver's range
  and line of sight.
- satellite imagery: a surface object inside the swath at a pass instant.

Times are sampled on the truth ticks (and the imagery pass instants), so the first covered time is exact to
a truth interval. Axis letters: Q (object, time) samples, O objects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from fusion.evaluation.io import BoolArray, FloatArray, IntArray

if TYPE_CHECKING:
    from sim_feeds.scenario import AdsbReceiver, AisSatellite, AisTerrestrial, OthRadar, RadarSpec, SatImagery, Scenario
    from sim_feeds.truth import MoverState, Truth


class SensorCoverage:
    """The sensors of a scenario and its truth model, to ask which objects they could observe when."""

    def __init__(self, scenario: Scenario) -> None:
        from sim_feeds.schedule import window_table
        from sim_feeds.truth import Truth

        self.scenario = scenario
        self.truth: Truth = Truth.of(scenario)
        objects = scenario.objects
        self.class_b = np.array([o.ais is not None and o.ais.transceiver == "B" for o in objects], dtype=bool)
        owners = list(range(len(objects)))
        self.ais_off = window_table(owners, [o.ais.off if o.ais else [] for o in objects])
        self.adsb_off = window_table(owners, [o.adsb.off if o.adsb else [] for o in objects])
        self.index = {oid: i for i, oid in enumerate(self.truth.ids)}

    def covered(self, obj: IntArray, t: FloatArray) -> BoolArray:
        """(Q,) True where object ``obj`` (Q,) (index into the scenario's objects) is alive and covered by at least
        one sensor at Unix time ``t`` (Q,) s (imagery counts only at its pass instants)."""
        from sim_feeds.scenario import AdsbReceiver, AisSatellite, AisTerrestrial, OthRadar, RadarSpec, SatImagery

        state = self.truth.paths.sample(obj, t)
        out = np.zeros(obj.size, dtype=bool)
        for spec in self.scenario.sensors:
            if isinstance(spec, RadarSpec):
                out |= self._radar(spec, obj, t, state)
            elif isinstance(spec, OthRadar):
                out |= self._oth(spec, obj, state)
            elif isinstance(spec, AisTerrestrial | AisSatellite):
                out |= self._ais(spec, obj, t, state)
            elif isinstance(spec, AdsbReceiver):
                out |= self._adsb(spec, obj, t, state)
            elif isinstance(spec, SatImagery):
                out |= self._imagery(spec, obj, t, state)
        return out & state.alive

    def first_observable(self, object_ids: Sequence[object], not_before: FloatArray) -> FloatArray:
        """(O,) for the objects ``object_ids`` (truth.jsonl ids): the first truth tick or imagery pass instant at
        or after ``not_before`` (O,) (Unix s; -inf: from the start, +inf: not asked) at which the object is
        covered; +inf where it never is, or is not an object of the scenario."""
        from sim_feeds.scenario import SatImagery

        out = np.full(len(object_ids), np.inf)
        code = np.array([self.index.get(str(oid), -1) for oid in object_ids], dtype=np.int64)
        ask = np.flatnonzero((code >= 0) & ~np.isposinf(not_before))
        if ask.size == 0:
            return out
        sc = self.scenario
        passes = [sc.t0 + s.first_pass_s + s.revisit_s * np.arange(math.floor((sc.duration_s - s.first_pass_s) / s.revisit_s) + 1)
                  for s in sc.sensors if isinstance(s, SatImagery) and s.first_pass_s <= sc.duration_s]
        grid = np.unique(np.concatenate([self.truth.ticks(), *passes]))
        owner = np.repeat(ask, grid.size)
        t = np.tile(grid, ask.size)
        keep = t >= not_before[owner]
        owner, t = owner[keep], t[keep]
        if owner.size == 0:
            return out
        seen = self.covered(code[owner], t)
        np.minimum.at(out, owner[seen], t[seen])
        return out

    def _radar(self, spec: RadarSpec, obj: IntArray, t: FloatArray, state: MoverState) -> BoolArray:
        import pymap3d

        from sim_feeds.geo import radar_horizon_m
        from sim_feeds.observe import in_sector, platform_paths
        from sim_feeds.schedule import in_windows, window_table

        truth = self.truth
        air = truth.is_air[obj]
        ok = np.isin(np.where(air, "air", "surface"), spec.modes)
        if spec.on_station:
            ok &= in_windows(np.zeros(t.size, dtype=np.int64), t - self.scenario.t0, window_table([0], [spec.on_station])) >= 0
        if spec.route:
            p = platform_paths(self.scenario, spec).sample(np.zeros(t.size, dtype=np.int64), t)
            lat0, lon0, h0 = p.lat, p.lon, np.where(p.alt_m > 0.0, p.alt_m, spec.alt_m)
        else:
            lat0, lon0, h0 = np.full(t.size, spec.lat), np.full(t.size, spec.lon), np.full(t.size, spec.alt_m)
        tgt_alt = np.where(air, state.alt_m, 0.0)
        az, _, srange = pymap3d.geodetic2aer(state.lat, state.lon, tgt_alt, lat0, lon0, h0)
        az, srange = np.atleast_1d(az) % 360.0, np.atleast_1d(srange)
        height = np.where(air, state.alt_m, truth.height_m[obj])
        return (ok & (srange >= spec.coverage.range_min_m) & (srange <= spec.coverage.range_max_m)
                & in_sector(az, spec.coverage) & (srange <= radar_horizon_m(h0, height)))

    def _oth(self, spec: OthRadar, obj: IntArray, state: MoverState) -> BoolArray:
        from sim_feeds.geo import GEOD, distance_m
        from sim_feeds.observe import in_sector

        az, _, _ = GEOD.inv(np.full(obj.size, spec.lon), np.full(obj.size, spec.lat), state.lon, state.lat)
        ground = distance_m(spec.lat, spec.lon, state.lat, state.lon)
        return ((self.truth.rcs_m2[obj] >= spec.min_rcs_m2) & (ground >= spec.coverage.range_min_m)
                & (ground <= spec.coverage.range_max_m) & in_sector(np.asarray(az) % 360.0, spec.coverage))

    def _ais(self, spec: AisTerrestrial | AisSatellite, obj: IntArray, t: FloatArray, state: MoverState) -> BoolArray:
        from sim_feeds.ais_sim import AisSatelliteModel, reach_factor
        from sim_feeds.geo import distance_m
        from sim_feeds.scenario import AisTerrestrial
        from sim_feeds.schedule import in_windows

        on = (self.truth.mmsi[obj] > 0) & (in_windows(obj, t - self.scenario.t0, self.ais_off) < 0)
        if isinstance(spec, AisTerrestrial):
            near = distance_m(spec.lat, spec.lon, state.lat, state.lon)
            return on & (reach_factor(near, self.class_b[obj], spec) > 0.0)
        return on & AisSatelliteModel(self.scenario, self.truth, spec).in_pass(t)

    def _adsb(self, spec: AdsbReceiver, obj: IntArray, t: FloatArray, state: MoverState) -> BoolArray:
        from sim_feeds.geo import distance_m, radar_horizon_m
        from sim_feeds.schedule import in_windows

        on = (self.truth.icao24[obj] >= 0) & (in_windows(obj, t - self.scenario.t0, self.adsb_off) < 0)
        reach = np.minimum(spec.range_m, radar_horizon_m(spec.alt_m, state.alt_m))
        return on & (distance_m(spec.lat, spec.lon, state.lat, state.lon) <= reach)

    def _imagery(self, spec: SatImagery, obj: IntArray, t: FloatArray, state: MoverState) -> BoolArray:
        import shapely

        since = t - self.scenario.t0 - spec.first_pass_s
        at_pass = (since >= -1e-6) & (np.abs(since - spec.revisit_s * np.round(since / spec.revisit_s)) <= 1e-6)
        return at_pass & ~self.truth.is_air[obj] & shapely.contains_xy(shapely.Polygon(spec.swath), state.lon, state.lat)
