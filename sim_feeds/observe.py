"""Non-cooperative sensor models: rotating radars (coastal, aerostat, MPA) and OTH radar.

Each model draws from its own generator (``object_rng(seed, "sensor:<id>")``), reads the
truth vectorised over all objects at each scan time, and yields sensors.reports records
(``scans()`` / ``fixes()``) that ``feed()`` encodes with the sensors codecs.

Radar (docs/SCENARIOS.md, "Radar model"): one scan per rotation and mode, treated as a
snapshot at the scan time (the sector-centre convention of RadarScan.t). A target is a
candidate when alive, of the mode's domain (surface: vessels, air: aircraft), inside the
coverage annulus and sector and within the radar horizon (4/3 earth, antenna height vs
target height). Mean SNR = snr_ref_db + 10 log10(rcs / ref_rcs_m2) - 40 log10(range / ref_range_m).
Detection: Swerling I (the echo of many comparable scatterers, decorrelated from one rotation to
the next by the hull's motion in the sea and the change of aspect over 4-10 s): the received
power of one look, signal plus noise in units of the noise, is exponential with mean 1 + SNR;
the plot is a detection when it exceeds the threshold T = -ln(pfa), which happens with
probability pfa ** (1 / (1 + SNR)) (``swerling1_pd``), and its reported SNR is that look's
power less the noise, 10 log10(P - 1), whose mean over looks is the mean SNR (the radar
equation). False alarms: noise alone above T, P = T + Exp(1) (memoryless).
Resolution: visible targets within ``range_resolution_m`` in slant range and ``beamwidth_deg`` in
azimuth of one another (transitively) share one resolution cell and give one look (``resolution_cells``):
mean SNR the sum of theirs (RCS adds), position the SNR-weighted centroid (Skolnik, "Introduction to
Radar Systems", 3rd ed., 2001, sect. 1.2: a radar resolves two targets only in range c tau / 2 or in
angle the beamwidth); the look's exponential draw is the first member's, so a scan without shared cells
draws exactly what it drew before merging existed.
Plots: slant range + N(0, sigma_range_m), azimuth + N(0, sigma_az_deg), elevation (air
mode only) + N(0, sigma_el_deg); false alarms Poisson(false_alarms_per_scan) uniform in
area over the coverage. Plots are sorted by azimuth, so a plot's place says nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pymap3d
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from sensors import oth as oth_codec
from sensors import radar as radar_codec
from sensors.reports import OthFix, RadarPlot, RadarScan
from sim_feeds.feed import FeedMessage, feed_topic
from sim_feeds.geo import GEOD, distance_m, offset, radar_horizon_m
from sim_feeds.scenario import Coverage, OthRadar, RadarSpec, Scenario, object_rng
from sim_feeds.schedule import in_windows, scan_times, window_table
from sim_feeds.truth import MoverState, Paths, Truth, build_paths

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


def swerling1_pd(snr_db: FloatArray, pfa: float) -> FloatArray:
    """Detection probability of a Swerling I target: pfa ** (1 / (1 + SNR)), SNR linear."""
    return np.power(pfa, 1.0 / (1.0 + np.power(10.0, np.asarray(snr_db) / 10.0)))


def radar_snr_db(spec: RadarSpec, rcs_m2: FloatArray, range_m: FloatArray) -> FloatArray:
    """Mean SNR (dB) of targets of ``rcs_m2`` at slant ``range_m`` (radar equation, R^-4)."""
    return (spec.snr_ref_db + 10.0 * np.log10(rcs_m2 / spec.ref_rcs_m2)
            - 40.0 * np.log10(np.maximum(range_m, 1.0) / spec.ref_range_m))


def resolution_cells(range_m: FloatArray, az_deg: FloatArray, range_resolution_m: float, beamwidth_deg: float) -> IntArray:
    """(n,) resolution cell label per target at slant ``range_m`` (n,) and azimuth ``az_deg`` (n,) in [0, 360):
    targets within ``range_resolution_m`` in range and ``beamwidth_deg`` in azimuth of one another (transitively,
    azimuth across north) share a label; labels number cells in order of their first target. Either
    resolution 0: every target its own cell."""
    n = range_m.size
    if n < 2 or range_resolution_m <= 0.0 or beamwidth_deg <= 0.0:
        return np.arange(n, dtype=np.int64)
    cells = np.column_stack([range_m / range_resolution_m, az_deg / beamwidth_deg])
    box = [2.0 * float(cells[:, 0].max()) + 4.0, 360.0 / beamwidth_deg]  # a torus in azimuth only
    pairs = cKDTree(cells, boxsize=box).query_pairs(1.0, p=np.inf, output_type="ndarray")
    if not len(pairs):
        return np.arange(n, dtype=np.int64)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    _, first, dense = np.unique(label, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[dense].astype(np.int64)


def merge_cells(cell: IntArray, snr: FloatArray, range_m: FloatArray, az_deg: FloatArray, el_deg: FloatArray
                ) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """One look per resolution cell of targets with labels ``cell`` (n,) (``resolution_cells``), linear mean
    ``snr`` (n,), slant ``range_m``, ``az_deg``, ``el_deg`` (n,): (m,) first member, summed SNR and the
    SNR-weighted centroid range (m), azimuth and elevation (deg). A cell of one target keeps its values exactly."""
    first = np.unique(cell, return_index=True)[1].astype(np.int64)
    out_snr, out_r, out_az, out_el = snr[first], range_m[first], az_deg[first], el_deg[first]
    multi = np.flatnonzero(np.bincount(cell) > 1)
    if multi.size:
        m = np.isin(cell, multi)
        c, w = cell[m], snr[m]
        total = np.bincount(c, w, len(first))[multi]
        daz = (az_deg[m] - az_deg[first][c] + 180.0) % 360.0 - 180.0  # relative to the first member: across north
        out_snr[multi] = total
        out_r[multi] = np.bincount(c, w * range_m[m], len(first))[multi] / total
        out_az[multi] = (az_deg[first][multi] + np.bincount(c, w * daz, len(first))[multi] / total) % 360.0
        out_el[multi] = np.bincount(c, w * el_deg[m], len(first))[multi] / total
    return first, out_snr, out_r, out_az, out_el


def in_sector(az_deg: FloatArray, coverage: Coverage) -> BoolArray:
    """(n,) True where the azimuth lies in the coverage sector (clockwise az_min -> az_max)."""
    width = (coverage.az_max_deg - coverage.az_min_deg) % 360.0
    if width == 0.0:  # 0..360, or equal limits: all round
        return np.ones(np.shape(az_deg), dtype=bool)
    return (np.asarray(az_deg) - coverage.az_min_deg) % 360.0 <= width


def clutter_polar(rng: np.random.Generator, n: int, coverage: Coverage) -> tuple[FloatArray, FloatArray]:
    """(n,) ranges (m) and azimuths (deg) uniform in area over the coverage annulus sector."""
    r0, r1 = coverage.range_min_m, coverage.range_max_m
    rng_m = np.sqrt(rng.uniform(r0 * r0, r1 * r1, n))
    width = (coverage.az_max_deg - coverage.az_min_deg) % 360.0 or 360.0
    az = (coverage.az_min_deg + rng.uniform(0.0, width, n)) % 360.0
    return rng_m, az


def platform_paths(scenario: Scenario, spec: RadarSpec) -> Paths:
    """Path of a moving radar platform; with repeat_route the route is flown in a loop to the end."""
    route = list(spec.route)
    once = build_paths(scenario.t0, [route + route[:1]], [0.0], [spec.speed_kn], [False], ["patrol"])
    cycle = float(once.end_s()[0])
    if spec.repeat_route and cycle > 0:
        laps = math.ceil(scenario.duration_s / cycle) + 1
        route = route * laps + route[:1]
    return build_paths(scenario.t0, [route], [0.0], [spec.speed_kn], [True], ["patrol"])


class RadarModel:
    """A rotating radar (coastal, aerostat or MPA): RadarScans per rotation and mode."""

    def __init__(self, scenario: Scenario, truth: Truth, spec: RadarSpec) -> None:
        self.scenario, self.truth, self.spec = scenario, truth, spec
        self.rng = object_rng(scenario.seed, f"sensor:{spec.id}")
        self.platform = platform_paths(scenario, spec) if spec.route else None

    def _position(self, t: float) -> tuple[float, float, float, float | None, float | None]:
        """Sensor lat, lon, alt_m, heading_deg, speed_mps at t (heading and speed only when moving)."""
        spec = self.spec
        if self.platform is None:
            return float(spec.lat), float(spec.lon), spec.alt_m, None, None  # type: ignore[arg-type]  # no route: load_scenario required lat, lon
        p = self.platform.sample(np.zeros(1, dtype=np.int64), np.array([t]))
        return (float(p.lat[0]), float(p.lon[0]), float(p.alt_m[0]) or spec.alt_m,
                round(float(p.course_deg[0]), 3) % 360.0, round(float(p.speed_mps[0]), 3))

    def scans(self) -> Iterator[RadarScan]:
        """Every scan of the scenario in time order (one per rotation and mode)."""
        spec = self.spec
        on = window_table([0], [spec.on_station]) if spec.on_station else None
        for scan_id, t in enumerate(scan_times(self.rng, self.scenario.t0, self.scenario.t_end, spec.rotation_s)):
            if on is not None and in_windows(np.zeros(1, dtype=np.int64), np.array([t - self.scenario.t0]), on)[0] < 0:
                continue  # off station: no scan (scan ids keep counting rotations)
            where = self._position(t)
            state = self.truth.at(t)
            for mode in spec.modes:
                yield self.observe(t, scan_id, where, state, mode)

    def observe(self, t: float, scan_id: int, where: tuple[float, float, float, float | None, float | None],
                state: MoverState, mode: str) -> RadarScan:
        """One scan at ``t`` from sensor position ``where`` of the objects in ``state``."""
        spec, truth, rng = self.spec, self.truth, self.rng
        lat0, lon0, h0, heading, speed = where
        air = mode == "air"
        cand = np.flatnonzero(state.alive & (truth.is_air == air))
        tgt_alt = state.alt_m[cand] if air else np.zeros(cand.size)
        az, el, srange = pymap3d.geodetic2aer(state.lat[cand], state.lon[cand], tgt_alt, lat0, lon0, h0)
        az, el, srange = np.atleast_1d(az) % 360.0, np.atleast_1d(el), np.atleast_1d(srange)
        height = tgt_alt if air else truth.height_m[cand]
        visible = ((srange >= spec.coverage.range_min_m) & (srange <= spec.coverage.range_max_m)
                   & in_sector(az, spec.coverage) & (srange <= radar_horizon_m(h0, height)))
        snr = np.power(10.0, radar_snr_db(spec, truth.rcs_m2[cand], srange) / 10.0)
        draw = rng.exponential(1.0, cand.size)  # one Swerling I look per candidate: (1 + SNR) Exp(1)
        vis = np.flatnonzero(visible)
        first, snr, srange, az, el = merge_cells(resolution_cells(srange[vis], az[vis], spec.range_resolution_m,
                                                                  spec.beamwidth_deg), snr[vis], srange[vis], az[vis], el[vis])
        power = (1.0 + snr) * draw[vis[first]]
        threshold = -math.log(spec.pfa)
        hit = power > threshold
        n_hit = int(hit.sum())
        n_fa = int(rng.poisson(spec.false_alarms_per_scan))
        fa_range, fa_az = clutter_polar(rng, n_fa, spec.coverage)
        r_m = np.abs(np.concatenate([srange[hit] + rng.normal(0.0, spec.sigma_range_m, n_hit), fa_range]))
        a_deg = np.concatenate([az[hit] + rng.normal(0.0, spec.sigma_az_deg, n_hit), fa_az]) % 360.0
        look = np.concatenate([power[hit], threshold + rng.exponential(1.0, n_fa)])
        snr_db = 10.0 * np.log10(np.maximum(look - 1.0, 1e-9))  # a threshold below the noise (pfa > 1/e): -90 dB floor
        order = np.argsort(a_deg, kind="stable")
        r_l, a_l, s_l = (np.round(x[order], 3).tolist() for x in (r_m, a_deg, snr_db))
        if air:
            e_deg = np.concatenate([el[hit] + rng.normal(0.0, spec.sigma_el_deg, n_hit), rng.uniform(0.0, 10.0, n_fa)])
            e_l = np.round(np.clip(e_deg[order], -90.0, 90.0), 4).tolist()
            plots = [RadarPlot(range_m=r, az_deg=a % 360.0, el_deg=e, snr_db=s)
                     for r, a, e, s in zip(r_l, a_l, e_l, s_l, strict=True)]
        else:
            plots = [RadarPlot(range_m=r, az_deg=a % 360.0, snr_db=s) for r, a, s in zip(r_l, a_l, s_l, strict=True)]
        return RadarScan(site=spec.id, t=round(t, 3), sensor_lat=lat0, sensor_lon=lon0, sensor_alt_m=h0,
                         sigma_range_m=spec.sigma_range_m, sigma_az_deg=spec.sigma_az_deg,
                         sigma_el_deg=spec.sigma_el_deg if air else None, mode="air" if air else "surface",
                         scan_id=scan_id, sensor_heading_deg=heading, sensor_speed_mps=speed,
                         max_range_m=spec.coverage.range_max_m,
                         snr_1m2_db=round(spec.snr_ref_db - 10.0 * math.log10(spec.ref_rcs_m2), 3),
                         rcs_ref_range_m=spec.ref_range_m, plots=plots)

    def feed(self) -> Iterator[FeedMessage]:
        """One JSON message per scan, published ``latency_s`` after the scan time."""
        topic = feed_topic("radar", self.spec.id)
        for scan in self.scans():
            yield FeedMessage(scan.t + self.spec.latency_s, topic, radar_codec.encode(scan), 0)


class OthModel:
    """Over-the-horizon radar: coarse fixes of large-enough targets every ``interval_s``.

    Candidates: alive, rcs >= min_rcs_m2, ground range in the coverage annulus and sector.
    Detected with probability ``pd``; fix = truth + N(0, sigma_m) east and north;
    covariance diag(sigma_m^2). False alarms Poisson(false_alarms_per_scan) per revisit,
    uniform in area over the coverage.
    """

    def __init__(self, scenario: Scenario, truth: Truth, spec: OthRadar) -> None:
        self.scenario, self.truth, self.spec = scenario, truth, spec
        self.rng = object_rng(scenario.seed, f"sensor:{spec.id}")

    def fixes(self) -> Iterator[list[OthFix]]:
        """One list of fixes per revisit, in time order."""
        spec, rng = self.spec, self.rng
        var = spec.sigma_m**2
        cov = ((var, 0.0), (0.0, var))
        for t in scan_times(rng, self.scenario.t0, self.scenario.t_end, spec.interval_s):
            s = self.truth.at(t)
            cand = np.flatnonzero(s.alive & (self.truth.rcs_m2 >= spec.min_rcs_m2))
            az, _, _ = GEOD.inv(np.full(cand.size, spec.lon), np.full(cand.size, spec.lat), s.lon[cand], s.lat[cand])
            ground = distance_m(spec.lat, spec.lon, s.lat[cand], s.lon[cand])
            cov_ok = (ground >= spec.coverage.range_min_m) & (ground <= spec.coverage.range_max_m)
            seen = cand[cov_ok & in_sector(np.asarray(az) % 360.0, spec.coverage) & (rng.random(cand.size) < spec.pd)]
            east, north = rng.normal(0.0, spec.sigma_m, (2, seen.size))
            lat, lon = offset(s.lat[seen], s.lon[seen], np.degrees(np.arctan2(east, north)), np.hypot(east, north))
            n_fa = int(rng.poisson(spec.false_alarms_per_scan))
            fa_range, fa_az = clutter_polar(rng, n_fa, spec.coverage)
            fa_lat, fa_lon = offset(np.full(n_fa, spec.lat), np.full(n_fa, spec.lon), fa_az, fa_range)
            lat_all = np.round(np.concatenate([lat, fa_lat]), 6).tolist()
            lon_all = np.round(np.concatenate([lon, fa_lon]), 6).tolist()
            order = np.argsort(np.concatenate([lat, fa_lat]), kind="stable").tolist()
            yield [OthFix(site=spec.id, t=round(t, 3), lat=lat_all[i], lon=lon_all[i], cov_en_m2=cov) for i in order]

    def feed(self) -> Iterator[FeedMessage]:
        """One JSON message per fix, published ``latency_s`` after the revisit time."""
        topic = feed_topic("oth", self.spec.id)
        for fixes in self.fixes():
            for fix in fixes:
                yield FeedMessage(fix.t + self.spec.latency_s, topic, oth_codec.encode(fix), 1)

