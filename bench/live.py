"""Live benchmark against a real Mosquitto on loopback; prints JSON.

    python bench/live.py broker [--messages 200000] [--scans 2000] [--plots-per-scan 1000]
    python bench/live.py service [--sites 10] [--plots-per-scan 1000] [--scan-rate 10] [--seconds 20] [--ais-rate 2000] [--go-fasts 10]
    python bench/live.py run [--scan-rate 10] [--ais-rate 2000] [--seconds 20] [--reorder 2] [--output 5] [--mqtt-io process|inline] [--catch-up-ticks 10] [--repeat N]
    python bench/live.py worker [--scan-rate 10] [--ais-rate 2000] [--seconds 20] [--reorder 2] [--output 5] [--stages | --tracker-stages] [--profile] [--group-scans] [--no-link-decode]
        [--rogue-scan-rate 2.5 --sbs-rate 5000 [--rogue-plots 20000]]
    python bench/live.py rogue [--scan-rate 1] [--ais-rate 500] [--seconds 30] [--rogue-plots 20000] [--rogue-scan-rate 2.5] [--sbs-rate 5000] [--tenth-budgets] [--repeat N] [--stages]

``broker``: the transport's own limit, measured with the C clients only
(``mosquitto_pub -l`` -> ``mosquitto_sub -C N``, separate processes): small messages at
QoS 0 and QoS 1, and whole radar scans (one JSON scan of ``--plots-per-scan`` plots per
message, encoded by ``sensors.radar.encode``) at QoS 0, giving the plots/s the broker
carries. Each figure is the median of ``--repeat`` runs; the wall time runs from the
publisher's start to the subscriber's exit, the subscriber being connected first.

``service``: the broker's limit (one run), the fusion worker alone (``worker``), then the
fusion service (in this process, wall clock, its MQTT link in a child process) against a
fresh broker at full and at half load. Load: ``--sites`` radars scanning ``--scan-rate``
times a second, each scan one message of ``--plots-per-scan`` plots (drifting dark targets,
``--go-fasts`` go-fasts per site that start their 49 kn runs 1.5 s apart, and the AIS ships
inside the site's disc), plus ``--ais-rate`` AIS messages/s of 2 position sentences each
from 2,000 ships. A ``feed`` child process publishes it in real time for ``--seconds``
(measurement time = scheduled publication time; every payload generated beforehand). (1)
Capacity, 2 s re-order window and 5 s output interval: plots (and AIS messages) per wall
second from the start to the last message fused; the load is sustained when nothing was
shed and the inbound queue drains within 1 s plus the window after the last publication.
(2) Latency at half the load (scan rate and AIS rate halved, ``--latency-seconds``), with a
0.05 s re-order window and 0.1 s output interval: the service's own windows give p50/p90/p99
of receive-to-fused, measurement-to-track-update queued and measurement-to-alert queued; a
``mosquitto_sub`` process subscribed to the alerts at QoS 1 stamps each on receipt, giving
measurement-to-alert received (from the alert's ``evidence.last_update_t``, the newest
measurement behind it).

``worker``: ``Service._step`` alone on the same load, no broker, a simulated clock stepping
every 50 ms (a deterministic in-process replay of the same messages): the worker thread's CPU
seconds per second of load (``time.thread_time``: other processes on a shared machine do not
add to it as they do to the wall time; cache contention still does, a little), with
``--stages`` their split by stage (decode, ingest, AIS release, tracker step per batch kind,
views, rules, publishing, picture, status, step bookkeeping; ``StageClock``), with
``--tracker-stages`` the same with the tracker step split by its stage functions (identity, gate,
associate, update, misses, merges, births, expiry), with ``--profile`` the costliest functions by cProfile;
``--group-scans`` fuses the radar scans of disjoint coverage that one release holds into one tracker
step, to measure what fewer steps could save (not an exact step: ``group_radar_scans``). As the
service does, the radar scans come parsed and converted by the MQTT link process
(``fusion.predecode``, replayed before the steps, its CPU and the pickling reported apart:
``link_process_cpu_s_per_load_s``, ``service_loop_unpickle_cpu_s_per_load_s``);
``--no-link-decode`` decodes everything in the worker (``mqtt_io = "inline"``).

``rogue``: the good sources' alert latency with and without a flood (docs/BENCHMARKS.md,
"Rogue source"): the load above (at ``--scan-rate``/``--ais-rate``, 0.05 s re-order window,
0.1 s output interval) twice, the second time with a rogue radar site (``radar/rogue``,
55 km north of the nearest good site) publishing ``--rogue-scan-rate`` scans/s of
``--rogue-plots`` random plots and one ADS-B source (``adsb/flood``) ``--sbs-rate`` SBS-1
lines/s of 2,000 aircraft, both from the same feeder. The service runs with the default
per-source budgets for the rogue sources (fusion/intake.py) and budgets sized to the load
for the good ones (``--tenth-budgets``: a third run with a tenth of the rogue's radar-plot and
ADS-B budgets). Reported: each good object's first alert latency (``good_object_first_alert``:
the raise of each go-fast, from its measurement to its receipt, so that both runs compare the
same alerts; the go-fasts start ``--go-fast-stagger-s`` 0.25 s apart, so that all of them raise
within a 40 s run), the good alerts' receive latency p50/p99 in each run (every raise and update; alerts north
of 10 N, the rogue's, left out), split into the good feeder's publication lag of the message
behind each alert (``alert_publisher_lag``: a loaded machine can make the feeder itself fall
behind) and the rest, the service's (``alert_service_latency``: broker, intake, queueing,
fusion, publishing), of which the good radar scans' lag from measurement to the service's
intake (``good_scan_intake_lag``: publication, broker, MQTT link process) is before any of the
service's queueing; what was shed per source (at intake by the budget, and as stale from a
deferred source's queue: fusion/fairqueue.py), the tracker's re-runs per source and the
out-of-sequence measurements its re-run budget sent to retrodiction instead
(``TrackerConfig.rerun_budget_s_per_s``), the measurements fused and the load average around
each run. ``--repeat N``: the runs N times in turn, then the median and spread of the good
alerts' p50 / p99; ``--stages``: the worker's CPU seconds per stage in each run (as ``worker
--stages``, with the tracker's re-runs and retrodiction apart).

In every service run the throughput counts the measurements the tracker fused (the
pipeline's counters), not accepted messages times their nominal size.

``run``: one such service run at the given load, re-order window and output interval,
with ``--mqtt-io`` choosing where the service's MQTT link runs (a child process, the
default, or its own event loop), for same-machine comparisons. ``--seconds 120`` makes a
long run; ``--repeat N`` makes N runs in a row (each on a fresh broker) and prints each
one's figures and the load average around it, then the median and the spread (min, max)
of the throughput and drain time, and how many runs sustained the load. Every service run
reports ``cpu_s_per_wall_s``: CPU seconds per wall second, from the load's start to the
last message fused, of the fusion worker thread, the rest of the service process (event
loop, intake), its MQTT link process, the broker, the feeder (publishing only) and the
alert subscriber: where the machine's cores went. ``feeder_ready_in_time`` false means
generating the load took longer than the margin left for it (a loaded machine): the run's
first messages went out late, in a burst.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pyproj import Geod

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fusion.broker import Mosquitto  # noqa: E402
from fusion.core.arrays import MeasBatch  # noqa: E402
from sensors.radar import encode  # noqa: E402
from sensors.reports import RadarPlot, RadarScan  # noqa: E402

SITE = dict(site="bench", sensor_lat=18.0, sensor_lon=-75.0, sensor_alt_m=30.0, sigma_range_m=30.0, sigma_az_deg=0.2)


def radar_scan(t: float, plots: int, rng: np.random.Generator, scan_id: int = 0) -> bytes:
    """One scan payload with ``plots`` plots spread over 5-60 km, all azimuths."""
    rng_m = rng.uniform(5_000.0, 60_000.0, plots)
    az = rng.uniform(0.0, 360.0, plots)
    snr = rng.uniform(8.0, 30.0, plots)
    scan = RadarScan(**SITE, t=t, scan_id=scan_id,
                     plots=[RadarPlot(range_m=float(r), az_deg=float(a), snr_db=float(s)) for r, a, s in zip(rng_m, az, snr, strict=True)])
    return encode(scan)


def c_clients_rate(port: int, lines: Path, count: int, qos: int) -> float:
    """Messages/s from ``mosquitto_pub -l`` (one message per line of ``lines``) to ``mosquitto_sub -C count``."""
    topic = f"bench/c/{qos}/{time.monotonic_ns()}"
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", str(qos), "-C", str(count)],
                           stdout=subprocess.DEVNULL)
    time.sleep(0.5)  # connected and subscribed before the first message
    started = time.perf_counter()
    with lines.open("rb") as f:
        pub = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", str(qos), "-l"], stdin=f, check=False)
    try:
        sub.wait(timeout=120)
    except subprocess.TimeoutExpired:
        sub.kill()
        raise RuntimeError(f"mosquitto_sub got fewer than {count} messages (qos {qos}): the broker dropped some") from None
    if pub.returncode or sub.returncode:
        raise RuntimeError(f"mosquitto_pub/_sub failed: {pub.returncode}/{sub.returncode}")
    return count / (time.perf_counter() - started)


def broker_limit(messages: int, scans: int, plots_per_scan: int, repeat: int) -> dict[str, object]:
    """The C-client figures of the module docstring."""
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(max_queued=max(messages, scans) * 2) as broker:
        small = Path(tmp) / "small.txt"
        small.write_bytes(b"".join(b'{"seq": %08d, "pad": "%s"}\n' % (i, b"x" * 60) for i in range(messages)))
        big = Path(tmp) / "scans.txt"
        with big.open("wb") as f:
            for i in range(scans):
                f.write(radar_scan(1.7e9 + i, plots_per_scan, rng, i) + b"\n")
        scan_bytes = big.stat().st_size / scans
        q0 = [c_clients_rate(broker.port, small, messages, 0) for _ in range(repeat)]
        q1 = [c_clients_rate(broker.port, small, messages // 4, 1) for _ in range(repeat)]
        sc = [c_clients_rate(broker.port, big, scans, 0) for _ in range(repeat)]
    return {
        "small_msg_bytes": 80,
        "qos0_msg_per_s": round(statistics.median(q0)),
        "qos1_msg_per_s": round(statistics.median(q1)),
        "scan_bytes": round(scan_bytes),
        "plots_per_scan": plots_per_scan,
        "scans_per_s": round(statistics.median(sc), 1),
        "plots_per_s": round(statistics.median(sc) * plots_per_scan),
        "runs": {"qos0": [round(x) for x in q0], "qos1": [round(x) for x in q1], "scans": [round(x, 1) for x in sc]},
    }


# Site layout: a 2 x 5 grid of coastal radars 0.4 deg apart (about 44 km) inside the default
# scenario's area (9.0-10.3 N, 79.8-77.9 W); each watches its own disc of sea of radius
# SITE_RANGE_M, so no two sites' coverage overlaps. (The earlier layout put 10 sites 9-13 km
# apart, each reporting only its own targets out to 25 km: every scan then "looked" at the
# other sites' tracks inside its coverage without a plot, counted a miss on each, and kept
# thousands of tracks tentative or deleting them, which no real radar network does.)
SITE_GRID = [(9.3 + 0.4 * row, -79.6 + 0.4 * col) for row in range(2) for col in range(5)]
SITE_RANGE_M = 20_000.0
_GEOD = Geod(ellps="WGS84")


def site_position(k: int) -> tuple[float, float]:
    """(lat, lon) degrees of site ``k`` (cycling over the grid beyond 10 sites)."""
    return SITE_GRID[k % len(SITE_GRID)]


AIS_SHIPS = 2_000  # ships reporting AIS, each also a radar target where a site's disc covers it
_SHIP_SPEED_MPS = 5.0  # every ship steams east at this speed, consistent with its reported SOG/COG


def ship_positions(j: np.ndarray, t: float, t0: float) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) degrees of AIS ships ``j`` at ``t``: each on a grid cell, steaming east since ``t0``."""
    lat = 9.1 + 1.1 * (j % 97) / 97
    lon = -79.7 + 1.7 * (j // 97 % 97) / 97 + _SHIP_SPEED_MPS * (t - t0) / (111_320.0 * np.cos(np.radians(lat)))
    return lat, lon


def ships_seen(k: int, t0: float, seconds: float = 60.0) -> np.ndarray:
    """The AIS ships inside site ``k``'s disc from ``t0`` for ``seconds`` (sorted indices).

    A real coastal radar sees the ships whose AIS the aggregator relays. (An earlier load had
    the radars blind to them: every scan then counted a missed look on each AIS track in its
    disc, the tracker deleted it after three, and the next AIS report started a new track,
    about 1,800 deletions and births a second.)
    """
    lat_s, lon_s = site_position(k)
    j = np.arange(AIS_SHIPS)
    inside = np.ones(AIS_SHIPS, dtype=bool)
    for t in (t0, t0 + seconds):  # ships move 5 m/s east: inside at both ends means inside throughout
        lat, lon = ship_positions(j, t, t0)
        _, _, dist = _GEOD.inv(np.full(AIS_SHIPS, lon_s), np.full(AIS_SHIPS, lat_s), lon, lat)
        inside &= dist < SITE_RANGE_M - 200.0
    return np.flatnonzero(inside)


GO_FAST_MPS = 25.0  # 49 kn, above go_fast's 34 kn
GO_FAST_STAGGER_S = 1.5  # go-fast i of a site starts its run at t0 + i * this (+ the site's share of it)
FEED_SEED = 11  # the feeder's load (Load's seed): the go-fasts' truth is drawn from it again to name the objects alerted


class SiteTargets(NamedTuple):
    """One site's targets: dark ones (range0 m, azimuth deg, radial speed m/s from ``start`` s
    after t0, still before it) and the AIS ships it sees."""

    r0: np.ndarray
    az: np.ndarray
    v: np.ndarray
    start: np.ndarray
    ships: np.ndarray


def site_targets(sites: int, per_site: int, go_fasts: int, rng: np.random.Generator, t0: float,
                 stagger_s: float = GO_FAST_STAGGER_S) -> list[SiteTargets]:
    """Per site, the AIS ships in its disc plus dark targets making up ``per_site`` plots; the
    first ``go_fasts`` dark targets are go-fasts (still, then outward at GO_FAST_MPS from their
    start, ``stagger_s`` apart), so that their alerts fall at different ticks, the rest drift at up to 6 m/s.

    Dark targets start 3-16 km out, so that the fastest (25 m/s for 60 s) stays inside SITE_RANGE_M.
    """
    out = []
    for k in range(sites):
        ships = ships_seen(k, t0)
        n = per_site - ships.size
        if n < max(go_fasts, 1):
            raise ValueError(f"--plots-per-scan {per_site} is fewer than the {ships.size} AIS ships site {k} sees plus {go_fasts} go-fasts")
        r0 = rng.uniform(3_000.0, 16_000.0, n)
        az = rng.uniform(0.0, 360.0, n)
        v = rng.uniform(-6.0, 6.0, n)
        start = np.zeros(n)
        v[:go_fasts] = GO_FAST_MPS
        start[:go_fasts] = (np.arange(go_fasts) + k / sites) * stagger_s
        out.append(SiteTargets(r0, az, v, start, ships))
    return out


def go_fast_positions(targets: list[SiteTargets], go_fasts: int, t: float, t0: float) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) degrees, shape (sites * go_fasts,), of every site's go-fasts at ``t`` (object
    ``k * go_fasts + i``: go-fast ``i`` of site ``k``), as ``site_scan`` places them (noise apart)."""
    lats, lons = [], []
    for k, tg in enumerate(targets):
        lat_s, lon_s = site_position(k)
        r = tg.r0[:go_fasts] + tg.v[:go_fasts] * np.maximum(t - t0 - tg.start[:go_fasts], 0.0)
        lon, lat, _ = _GEOD.fwd(np.full(go_fasts, lon_s), np.full(go_fasts, lat_s), tg.az[:go_fasts], r)
        lats.append(lat)
        lons.append(lon)
    return np.concatenate(lats), np.concatenate(lons)


def site_scan(k: int, t: float, t0: float, targets: SiteTargets, rng: np.random.Generator) -> bytes:
    """Scan of site ``k`` at ``t``: every target (dark ones moving radially from their start, the
    AIS ships where their AIS says) with range/azimuth noise.

    The scan states its coverage (``max_range_m``), so the tracker counts missed looks only
    on tracks inside this site's own disc.
    """
    lat_s, lon_s = site_position(k)
    lat, lon = ship_positions(targets.ships, t, t0)
    n_ships = targets.ships.size
    ship_az, _, ship_r = _GEOD.inv(np.full(n_ships, lon_s), np.full(n_ships, lat_s), lon, lat)
    r = np.concatenate([targets.r0 + targets.v * np.maximum(t - t0 - targets.start, 0.0), ship_r])
    a = np.concatenate([targets.az, ship_az])
    rr = np.clip(r + rng.normal(0.0, 30.0, r.size), 100.0, SITE_RANGE_M)
    aa = (a + rng.normal(0.0, 0.2, a.size)) % 360.0
    scan = RadarScan(site=f"bench{k}", t=t, sensor_lat=lat_s, sensor_lon=lon_s, sensor_alt_m=30.0,
                     sigma_range_m=30.0, sigma_az_deg=0.2, scan_id=int(t), max_range_m=SITE_RANGE_M,
                     plots=[RadarPlot(range_m=float(x), az_deg=float(y), snr_db=15.0) for x, y in zip(rr, aa, strict=True)])
    return encode(scan)


def ais_message(i: int, t: float, t0: float) -> bytes:
    """An aggregator message with 2 position reports (newline-separated NMEA) of ships in the area,
    each consistent with its reported SOG/COG (``ship_positions``)."""
    from sensors import ais
    from sensors.reports import AisPosition

    j = np.array([2 * i % AIS_SHIPS, (2 * i + 1) % AIS_SHIPS])
    lat, lon = ship_positions(j, t, t0)
    reps = [AisPosition(t=t, source="benchagg", mmsi=300_000_000 + int(m), lat=float(la), lon=float(lo), sog_mps=_SHIP_SPEED_MPS,
                        cog_deg=90.0) for m, la, lo in zip(j, lat, lon, strict=True)]
    return ais.encode_payload(reps)


def _make_service(addr, reorder_s: float, output_s: float, coop_skew_s: float | None = None, **options: object):  # noqa: ANN001, ANN202 - BrokerAddress -> Service
    """The service on the minimal scenario's area and zones (the Guna Yala box the synthetic load is drawn in);
    ``coop_skew_s`` overrides TrackerConfig.coop_skew_s (None: its default); ``options`` override the bench's ServiceOptions."""
    from fusion.core.config import TrackerConfig
    from fusion.offline import fusion_for_area
    from fusion.pipeline import FusionConfig
    from fusion.service import Service, ServiceOptions
    from sim_feeds.scenario import load_scenario, resolve_scenario

    sc = load_scenario(resolve_scenario("minimal"))
    tracker = TrackerConfig() if coop_skew_s is None else TrackerConfig(coop_skew_s=coop_skew_s)
    fusion = fusion_for_area(sc.area, sc.zones_geojson(), "bench", None,
                             FusionConfig(output_interval_s=output_s, reorder_window_s=reorder_s, tracker=tracker))
    opts = {"client_id": f"bench-{time.monotonic_ns()}", "status_interval_s": 1.0, "track_interval_s": 5.0, "picture_interval_s": 5.0,
            **options}
    return Service(fusion, addr, ServiceOptions(**opts))  # type: ignore[arg-type]


def _fused(service) -> int:  # noqa: ANN001
    return sum(service.stats.fused.values())


def _q(w) -> dict[str, float]:  # noqa: ANN001 - LatencyWindow
    return {f"p{round(q * 100)}_ms": round(v * 1e3, 1) for q, v in w.quantiles().items()}


@dataclass(frozen=True)
class LoadSpec:
    """What the load is: ``sites`` radars scanning at ``scan_rate`` Hz with ``plots`` targets
    each (``go_fasts`` of them go-fasts, starting ``stagger_s`` apart), ``ais_rate`` AIS messages/s, for ``seconds``."""

    sites: int = 10
    plots: int = 1_000
    scan_rate: float = 10.0
    ais_rate: int = 2_000
    go_fasts: int = 10
    seconds: float = 20.0
    stagger_s: float = GO_FAST_STAGGER_S

    @classmethod
    def of(cls, args: argparse.Namespace) -> LoadSpec:
        """From the options of ``_load_args``."""
        return cls(args.sites, args.plots_per_scan, args.scan_rate, args.ais_rate, args.go_fasts, args.seconds, args.go_fast_stagger_s)

    def argv(self) -> list[str]:
        """The same options on a command line."""
        return ["--sites", str(self.sites), "--plots-per-scan", str(self.plots), "--scan-rate", repr(self.scan_rate),
                "--ais-rate", str(self.ais_rate), "--go-fasts", str(self.go_fasts), "--seconds", repr(self.seconds),
                "--go-fast-stagger-s", repr(self.stagger_s)]

    @property
    def offered(self) -> dict[str, object]:
        return {"plots_per_s": round(self.sites * self.plots * self.scan_rate), "ais_msg_per_s": self.ais_rate,
                "seconds": self.seconds, "sites": self.sites, "plots_per_scan": self.plots, "scan_rate_hz": self.scan_rate,
                "go_fasts_per_site": self.go_fasts, "go_fast_stagger_s": self.stagger_s}


ROGUE_SITE = (10.2, -78.0)  # 55 km north of the nearest good site (9.7 N 78.0 W)
ROGUE_LAT_MIN = 10.0  # alerts north of this are the rogue's
ROGUE_STAGGER_S = 0.25  # ``rogue``'s go-fasts start within 2.5 s: each raises go_fast >= min_on_s (20 s) later, so that
# every one of them raises within a 40 s run, and the runs with and without the flood compare the same objects


@dataclass(frozen=True)
class RogueSpec:
    """A rogue radar site flooding huge scans and one ADS-B source flooding SBS-1 lines."""

    plots: int = 20_000
    scan_rate: float = 2.5
    sbs_rate: float = 5_000.0

    @classmethod
    def of(cls, args: argparse.Namespace) -> RogueSpec | None:
        return cls(args.rogue_plots, args.rogue_scan_rate, args.sbs_rate) if args.rogue_scan_rate or args.sbs_rate else None

    def argv(self) -> list[str]:
        return ["--rogue-plots", str(self.plots), "--rogue-scan-rate", repr(self.scan_rate), "--sbs-rate", repr(self.sbs_rate)]

    def events(self, t0: float, seconds: float, rng: np.random.Generator) -> list[tuple[float, str, Callable[[float], bytes]]]:
        """(due, topic, payload(t)) of the flood over ``seconds`` from ``t0``: scans of random plots
        within 20 km of ROGUE_SITE, SBS-1 MSG,3 lines (one a message) of 2,000 aircraft near it.

        Each payload is built when it is published, timed then: a rogue floods live data, and
        a feeder falling behind its schedule on a loaded machine (13-105 s measured, docs/BENCHMARKS.md)
        must not turn the flood into old data, whose out-of-sequence re-runs in the tracker would
        be measured instead of the queueing."""
        out: list[tuple[float, str, Callable[[float], bytes]]] = []
        for i in range(int(seconds * self.scan_rate)):
            r, az = rng.uniform(500.0, 20_000.0, self.plots), rng.uniform(0.0, 360.0, self.plots)
            plots = [RadarPlot(range_m=float(x), az_deg=float(y), snr_db=10.0) for x, y in zip(r, az, strict=True)]
            out.append((t0 + i / self.scan_rate, "jisf/v1/feeds/radar/rogue", functools.partial(_rogue_scan, plots)))
        out += [(t0 + i / self.sbs_rate, "jisf/v1/feeds/adsb/flood", functools.partial(_flood_line, i)) for i in range(int(seconds * self.sbs_rate))]
        return out


def _rogue_scan(plots: list[RadarPlot], t: float) -> bytes:
    """A rogue radar scan of ``plots`` at ``t``."""
    return encode(RadarScan(site="rogue", t=t, sensor_lat=ROGUE_SITE[0], sensor_lon=ROGUE_SITE[1], sensor_alt_m=30.0, sigma_range_m=30.0,
                            sigma_az_deg=0.2, max_range_m=20_000.0, plots=plots))


def _flood_line(i: int, t: float) -> bytes:
    """The ``i``-th SBS-1 line of the flood (2,000 aircraft near ROGUE_SITE), at ``t``."""
    from sensors.adsb import encode_sbs
    from sensors.reports import AdsbReport

    return encode_sbs([AdsbReport(t=t, source="flood", icao24=0x100000 + i % 2_000, lat=ROGUE_SITE[0] + 0.001 * (i % 97),
                                  lon=ROGUE_SITE[1] - 0.001 * (i % 89), alt_m=3_000.0)])


class Load:
    """The benchmark load of ``spec``, generated on demand, timed from ``t0`` (Unix s).

    ``events(until)`` yields (t, topic, payload) in time order; the measurement time in
    each payload is ``t``, i.e. the time at which the message is due for publication.
    """

    def __init__(self, spec: LoadSpec, t0: float, seed: int) -> None:
        self.sites, self.plots, self.scan_rate, self.ais_rate, self.t0 = spec.sites, spec.plots, spec.scan_rate, spec.ais_rate, t0
        self.rng = np.random.default_rng(seed)
        self.targets = site_targets(spec.sites, spec.plots, spec.go_fasts, self.rng, t0, spec.stagger_s)
        self.n_scan = 0  # scans generated: scan n of site n % sites at t0 + (n // sites + (n % sites) / sites) / scan_rate
        self.n_ais = 0

    def _scan_t(self) -> float:
        n = self.n_scan
        return self.t0 + (n // self.sites + (n % self.sites) / self.sites) / self.scan_rate

    def events(self, until: float) -> list[tuple[float, str, bytes]]:
        """Every message due before ``until`` and not yet generated, in time order."""
        out = []
        while self._scan_t() < until:
            t, k = self._scan_t(), self.n_scan % self.sites
            out.append((t, f"jisf/v1/feeds/radar/bench{k}", site_scan(k, t, self.t0, self.targets[k], self.rng)))
            self.n_scan += 1
        while self.ais_rate and self.t0 + self.n_ais / self.ais_rate < until:
            t = self.t0 + self.n_ais / self.ais_rate
            out.append((t, "jisf/v1/feeds/ais/benchagg", ais_message(self.n_ais, t, self.t0)))
            self.n_ais += 1
        out.sort(key=lambda e: e[0])
        return out


class RawPublisher:
    """A minimal MQTT 3.1.1 publisher for the feeder: CONNECT (clean session, no keep-alive),
    PUBLISH at QoS 0 written straight to the socket, DISCONNECT. The load generator shares the
    machine with the service it measures; an MQTT client library costs about 0.13 ms of CPU per
    message (0.26 of a core at the 2,100 msg/s of the target load, measured with ``run``'s
    ``cpu_s_per_wall_s``), this a few microseconds (plus the feeder's 2 ms scheduling loop).
    Real sensors publish from elsewhere."""

    def __init__(self) -> None:
        import asyncio

        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @staticmethod
    def _packet(first: int, body: bytes) -> bytes:
        """A control packet: its first byte, the remaining length (MQTT variable-length integer), the body."""
        n, length = len(body), bytearray()
        while True:
            n, digit = n >> 7, n & 0x7F
            length.append(digit | (0x80 if n else 0))
            if not n:
                return bytes([first]) + bytes(length) + body

    async def connect(self, port: int, client_id: str) -> None:
        """Connect to 127.0.0.1:``port``; RuntimeError unless the broker accepts (CONNACK 0)."""
        import asyncio

        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        cid = client_id.encode()
        self._writer.write(self._packet(0x10, b"\x00\x04MQTT\x04\x02\x00\x00" + len(cid).to_bytes(2, "big") + cid))
        ack = await asyncio.wait_for(self._reader.readexactly(4), 10.0)
        if ack[0] != 0x20 or ack[3] != 0:
            raise RuntimeError(f"the broker refused the feeder's connection: CONNACK {ack.hex()}")

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one QoS 0 PUBLISH on the socket."""
        assert self._writer is not None
        t = topic.encode()
        self._writer.write(self._packet(0x30, len(t).to_bytes(2, "big") + t + payload))

    async def drain(self) -> None:
        """Wait until the socket's buffer is below its high-water mark."""
        assert self._writer is not None
        await self._writer.drain()

    async def close(self) -> None:
        """Flush, DISCONNECT, close."""
        if self._writer is not None:
            self._writer.write(b"\xe0\x00")
            await self._writer.drain()
            self._writer.close()
            await self._writer.wait_closed()
            self._writer = None


async def feed(port: int, spec: LoadSpec, start_wall: float, rogue: RogueSpec | None = None) -> dict[str, object]:
    """Publish the load in real time from ``start_wall`` for ``spec.seconds`` (measurement time =
    scheduled publication time); the figures of how closely the schedule was kept.

    Every payload is generated before ``start_wall`` (AIS encoding costs ~0.15 ms a message),
    so that the feeder's own CPU time during the run is only the publishing.
    """
    import asyncio

    if rogue is None:
        events = Load(spec, start_wall, seed=FEED_SEED).events(start_wall + spec.seconds)
    else:  # the flood alone (its own feeder process), from a quarter of the run to its end
        events = sorted(rogue.events(start_wall + spec.seconds / 4, spec.seconds * 3 / 4, np.random.default_rng(3)), key=lambda e: e[0])
    margin = start_wall - time.time()
    cpu_start = time.process_time()  # what publishing costs, generation apart (the run's CPU split)
    sent = {"radar": 0, "ais": 0, "adsb": 0}
    rogue_sent = 0
    late = np.zeros(len(events))
    mqtt = RawPublisher()
    await mqtt.connect(port, f"bench-feed-{time.monotonic_ns()}")
    try:
        await asyncio.sleep(max(0.0, start_wall - time.time()))
        i = 0
        while i < len(events):
            now = time.time()
            while i < len(events) and events[i][0] <= now:
                t, topic, payload = events[i]
                if not isinstance(payload, bytes):  # the flood's: built now, timed now
                    payload = payload(time.time())
                mqtt.publish(topic, payload)
                if topic.endswith(("/rogue", "/flood")):
                    rogue_sent += 1
                else:
                    sent[topic.split("/")[3]] += 1
                late[i] = time.time() - t
                i += 1
            await mqtt.drain()
            await asyncio.sleep(0.002)
        last_wall = time.time()
    finally:
        await mqtt.close()
    out = {"sent": sent, "rogue_sent": rogue_sent, "last_publish_wall": last_wall, "ready_margin_s": round(margin, 2),
           "cpu_s": time.process_time() - cpu_start, "publish_lag": _percentiles_ms(late)}
    if rogue is None:  # each good message's measurement time and publication lag (s): the alerts' publisher lag
        out["event_t"], out["event_lag"] = [e[0] for e in events], np.round(late, 4).tolist()
    return out


def _percentiles_ms(x: np.ndarray) -> dict[str, float]:
    """p50/p90/p99/max of seconds, in ms (empty: {})."""
    if not len(x):
        return {}
    return {**{f"p{q}_ms": round(float(np.percentile(x, q)) * 1e3, 1) for q in (50, 90, 99)}, "max_ms": round(float(x.max()) * 1e3, 1)}


def alert_times(lines: bytes, good_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(receipt Unix time, newest measurement time ``evidence.last_update_t``) of each raised/updated
    alert, from ``mosquitto_sub -F '%U %p'`` output (receipt Unix time with ns, payload);
    ``good_only``: not the rogue's (north of ROGUE_LAT_MIN)."""
    received_t, measured_t = [], []
    for line in lines.splitlines():
        received, _, payload = line.partition(b" ")
        alert = json.loads(payload)
        if alert["state"] in ("raised", "updated") and not (good_only and alert["lat"] > ROGUE_LAT_MIN):
            received_t.append(float(received))
            measured_t.append(alert["evidence"]["last_update_t"])
    return np.array(received_t), np.array(measured_t)


def first_alert_by_object(lines: bytes, spec: LoadSpec, t0: float, near_m: float = 2_000.0) -> dict[str, object]:
    """Each good object's first alert (the load's go-fasts, ``spec.sites * spec.go_fasts`` objects timed
    from ``t0``, drawn again from FEED_SEED): each raised alert (``mosquitto_sub -F '%U %p'`` lines) is the
    object's within ``near_m`` of its position at the alert's newest measurement. The latency of each
    object's first one, measurement to receipt: runs with and without a flood compare the same objects
    (counting every alert, a run whose alerts come later counts fewer, and updates of the early ones)."""
    targets = site_targets(spec.sites, spec.plots, spec.go_fasts, np.random.default_rng(FEED_SEED), t0, spec.stagger_s)
    first: dict[int, tuple[float, float]] = {}  # object -> (receipt, newest measurement), Unix s
    for line in lines.splitlines():
        received, _, payload = line.partition(b" ")
        alert = json.loads(payload)
        measured = alert["evidence"]["last_update_t"]
        if alert["state"] != "raised" or alert["lat"] > ROGUE_LAT_MIN:
            continue
        lat, lon = go_fast_positions(targets, spec.go_fasts, measured, t0)
        _, _, dist = _GEOD.inv(lon, lat, np.full(lat.size, alert["lon"]), np.full(lat.size, alert["lat"]))
        k = int(np.argmin(dist))
        if dist[k] <= near_m and (k not in first or float(received) < first[k][0]):
            first[k] = (float(received), measured)
    got = np.array(sorted(first.values()))
    lat_s = got[:, 0] - got[:, 1] if len(got) else np.zeros(0)
    return {"objects": spec.sites * spec.go_fasts, "alerted": len(first), **_percentiles_ms(lat_s),
            "first_raised_after_start_s": [round(float(got[:, 1].min() - t0), 1), round(float(got[:, 1].max() - t0), 1)] if len(got) else []}


def alert_latencies(lines: bytes, good_only: bool = False) -> np.ndarray:
    """Seconds from each raised/updated alert's newest measurement (the measurement time =
    scheduled publication time of the load) to its receipt (``alert_times``)."""
    received_t, measured_t = alert_times(lines, good_only)
    return received_t - measured_t


def publisher_lag(measured_t: np.ndarray, event_t: np.ndarray, event_lag: np.ndarray) -> np.ndarray:
    """Publication lag (s) of the message behind each alert: of the last load message (times ``event_t``
    ascending, lags ``event_lag``) measured at or before the alert's newest measurement ``measured_t``
    (1 ms slack for the payloads' rounding); 0 before the first. The rest of an alert's latency is the
    service's (broker, intake, queueing, fusion, rules, publishing)."""
    k = np.searchsorted(event_t, measured_t + 1e-3, side="right") - 1
    return np.where(k >= 0, event_lag[np.maximum(k, 0)], 0.0)


def bench_budgets(spec: LoadSpec, scale: float = 1.0) -> object:
    """Per-source budgets (fusion.intake.SourceBudgets): the defaults times ``scale``, raised for
    the bench's own sources to twice their load (10 radar sites at 10 scans/s, one AIS aggregator
    of 2,000 ships: legitimate here); the rogue run's flood gets the (scaled) radar and ADS-B ones."""
    from fusion.intake import Rate, SourceBudgets

    d = SourceBudgets()
    return SourceBudgets(radar=Rate(max(2.0, 2 * spec.scan_rate), max(d.radar.measurements_per_s * scale, 2 * spec.scan_rate * spec.plots),
                                    max(d.radar.per_message, spec.plots)),
                         ais=Rate(max(75.0, 2.0 * spec.ais_rate), max(75.0, 4.0 * spec.ais_rate)),
                         adsb=Rate(d.adsb.messages_per_s * scale, d.adsb.measurements_per_s * scale))


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc), 0.0 when it is gone."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15 of stat)


def _child_cpu_s() -> dict[str, float]:
    """CPU seconds so far of each live child process of this one, keyed ``name:pid`` (the MQTT
    link child, the broker, ``mosquitto_sub``)."""
    out = {}
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                name = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            out[f"{name}:{pid}"] = _process_cpu_s(int(pid))
    return out


class _WorkerCpu:
    """Wraps a service's ``_step`` to sum the worker thread's CPU seconds (``time.thread_time``)."""

    def __init__(self, service) -> None:  # noqa: ANN001 - fusion.service.Service
        self.seconds = 0.0
        step = service._step

        def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            started = time.thread_time()
            try:
                return step(*args, **kwargs)
            finally:
                self.seconds += time.thread_time() - started
        service._step = timed


class _IntakeLag:
    """Wraps a service's ``intake.charge`` (called by the event loop for each inbound message) to take,
    for each good radar scan (``radar/bench*``), the seconds from its measurement time to its
    intake on the service clock: the feeder's publication lag plus the transport (broker, the
    MQTT link process, the hand-over to the event loop), before any of the service's queueing."""

    _T = re.compile(rb'"t":([-0-9.e+]+)')

    def __init__(self, service) -> None:  # noqa: ANN001 - fusion.service.Service
        self.lags: list[float] = []
        charge = service.intake.charge

        def timed(topic: str, payload: bytes, now: float):  # noqa: ANN202 - fusion.intake.Charge
            if topic.startswith("jisf/v1/feeds/radar/bench"):
                found = self._T.search(payload, 0, 300)
                if found is not None:
                    self.lags.append(now - float(found.group(1)))
            return charge(topic, payload, now)
        service.intake.charge = timed


def _cpu_split(load_s: float, worker_s: float, process_s: float, children: dict[str, float], feeder_s: float) -> dict[str, float]:
    """CPU seconds per second of load of each part of a live run: the fusion worker thread, the
    rest of the service process (event loop, intake, GC), its MQTT link child (MQTT I/O and the
    radar scans' parse and conversion, fusion/predecode.py), the broker, the feeder(s), the alert
    subscriber; ``total`` of them (at most the machine's cores). Then each of the service's two
    processes per core: ``service_process`` (worker thread and event loop under one interpreter
    lock: at most about 1) and ``mqtt_link_process``; the load has headroom ``1 / service_process``
    (while sustained) where the service process is the busier of the two."""
    names = {"mosquitto": "broker", "mosquitto_sub": "alerts_subscriber"}
    out = {"worker_thread": worker_s, "service_loop_and_rest": process_s - worker_s}
    for key, cpu in children.items():
        comm = key.partition(":")[0]
        name = "mqtt_link_process" if comm.startswith("python") else names.get(comm, comm)
        out[name] = out.get(name, 0.0) + cpu
    out["feeder"] = feeder_s
    out["total"] = sum(out.values())
    out["service_process"] = process_s
    return {k: round(v / load_s, 3) for k, v in out.items()}


async def service_run(broker: Mosquitto, spec: LoadSpec, reorder_s: float, output_s: float, rogue: RogueSpec | None = None,
                      budget_scale: float = 1.0, **options: object) -> dict[str, object]:
    """The service (this process, wall clock) under the load published in real time by a
    ``feed`` child process (with ``rogue``, plus the rogue sources' flood), and the alerts
    received by a ``mosquitto_sub`` process (QoS 1, each timestamped on receipt); the figures
    of the ``service`` docstring."""
    import asyncio

    service = _make_service(broker.address, reorder_s, output_s, **{"budgets": bench_budgets(spec, budget_scale), **options})
    worker_cpu, intake_lag = _WorkerCpu(service), _IntakeLag(service)
    stop = asyncio.Event()
    task = asyncio.create_task(service.serve(stop))
    await asyncio.wait_for(service.link.connected.wait(), 10)
    alerts_sub = await asyncio.create_subprocess_exec("mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                                                      "-t", "jisf/v1/alerts/#", "-F", "%U %p", stdout=asyncio.subprocess.PIPE)
    # the feeder imports, generates every payload and connects before ``start``: time the set-up and the
    # generation of one second of load here (on this machine, now) and leave it the set-up plus 1.3 times
    # that per second of load, plus the imports (the feeder reports its margin: ready_margin_s)
    began = time.perf_counter()
    load = Load(spec, 0.0, seed=0)
    set_up = time.perf_counter() - began
    load.events(1.0)
    start = time.time() + 5.0 + set_up + 1.3 * spec.seconds * (time.perf_counter() - began - set_up)
    cmd = [sys.executable, __file__, "feed", "--port", str(broker.port), *spec.argv(), "--start-wall", repr(start)]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
    cpu0, process0, children0 = worker_cpu.seconds, time.process_time(), _child_cpu_s()  # before the load starts
    flood = None  # the rogue flood from a second feeder process, so that the good load keeps its schedule
    if rogue is not None:
        flood = await asyncio.create_subprocess_exec(*cmd, *rogue.argv(), stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    fed = json.loads(out)
    if flood is not None:
        flooded = json.loads((await flood.communicate())[0])
        fed["rogue_sent"], fed["rogue_publish_lag"] = flooded["rogue_sent"], flooded["publish_lag"]
        fed["last_publish_wall"] = max(fed["last_publish_wall"], flooded["last_publish_wall"])
    total = sum(fed["sent"].values())
    deadline = time.monotonic() + 300
    while _fused(service) + sum(service.stats.shed.values()) < total + fed.get("rogue_sent", 0) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    done_wall = time.time()
    feeders = {str(proc.pid), str(flood.pid) if flood is not None else ""}  # they report their own CPU (publishing only)
    children = {k: v - children0.get(k, 0.0) for k, v in _child_cpu_s().items() if k.rpartition(":")[2] not in feeders}
    cpu = _cpu_split(done_wall - start, worker_cpu.seconds - cpu0, time.process_time() - process0, children,
                     fed["cpu_s"] + (flooded["cpu_s"] if flood is not None else 0.0))
    drain = done_wall - fed["last_publish_wall"]
    await asyncio.sleep(max(0.0, 2 * output_s + reorder_s))  # the last ticks (alerts of the last scans)
    stop.set()
    await task
    await asyncio.sleep(0.5)  # the last alerts through the broker
    alerts_sub.terminate()
    received, _ = await alerts_sub.communicate()
    received_t, measured_t = alert_times(received, good_only=rogue is not None)
    by_object = first_alert_by_object(received, spec, start)
    e2e = received_t - measured_t
    published = publisher_lag(measured_t, np.asarray(fed.pop("event_t")), np.asarray(fed.pop("event_lag")))
    st, c = service.stats, service.fusion.counters
    # what the tracker fused (its batches' rows), AIS reports apart: the rest are radar plots (and the flood's)
    ais_fused = service.fusion.ingest.log.accepted_reports["ais"]
    wall = done_wall - start
    return {"offered": spec.offered,
            "feeder": fed, "received": dict(st.received), "fused": dict(st.fused), "shed": dict(st.shed),
            "fused_measurements_per_s": round(c.measurements / wall), "fused_plots_per_s": round((c.measurements - ais_fused) / wall),
            "fused_ais_msg_per_s": round(st.fused["ais/accepted"] / wall),
            "shed_by_source": service.intake.reported(),
            "shed_stale_by_source": dict(service.inbound.stale_by_source),
            "cpu_s_per_wall_s": cpu,
            "drain_after_last_publish_s": round(drain, 2),
            "feeder_ready_in_time": fed["ready_margin_s"] >= 0,  # else its first messages went out late, in a burst
            "sustained": bool(not st.shed and _fused(service) == total and drain <= 1.0 + reorder_s),
            "max_inbound_depth": st.max_inbound_depth, "late_dropped": c.late_dropped, "tracker_batches": c.batches,
            "tracker_reruns": c.reruns, "tracker_rerun_batches": c.rerun_batches, "ticks": c.ticks, "ticks_skipped": c.ticks_skipped,
            "tracker_reruns_by_source": dict(c.reruns_by_source), "rerun_refused_by_source": dict(c.rerun_refused_by_source),
            "births_refused_by_source": dict(service.fusion.births_refused()), "identity_refused": c.identity_refused,
            "step_s": _q(st.step_s), "fuse_wait": _q(st.fuse_wait), "update_age": _q(st.update_age), "alert_age": _q(st.alert_age),
            "alert_samples": st.alert_age.count, "alerts_published": st.alerts_published,
            "alert_received_latency": {"alerts": len(e2e), **_percentiles_ms(e2e)}, "good_object_first_alert": by_object,
            "alert_publisher_lag": _percentiles_ms(published), "alert_service_latency": _percentiles_ms(e2e - published),
            "good_scan_intake_lag": _percentiles_ms(np.array(intake_lag.lags)),
            "track_updates_published": st.tracks_published, "mqtt_published": service.link.stats.published,
            "tracks": {f"{d}/{s}": n for (d, s), n in sorted(st.tracks_by_state.items())}}


# Worker stages for ``worker --stages``: stage -> the functions (module, class, method) whose
# thread CPU time it takes, exclusive of the stages nested in them (a decoder inside
# Ingest.accept counts as decode only); ``{kind}``: split by the batch's sensor kind. The
# step's own bookkeeping is what is left.
_STAGES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "decode (AIS, radar decoders; radar parsed in the link process: its finish)": (
        ("sensors.ais", "AisDecoder", "decode"), ("sensors.radar", "RadarDecoder", "decode_arrays"),
        ("sensors.radar", "RadarParse", "finish"), ("sensors.adsb", "AdsbDecoder", "decode")),
    "ingest (validate, duplicates, radar conversion: Ingest.accept)": (("fusion.ingest", "Ingest", "accept"),),
    "ingest release (AIS conversion, coalescing: Ingest.due)": (("fusion.ingest", "Ingest", "due"),),
    "tracker step (Tracker.step), {kind} batches": (("fusion.core.tracker", "Tracker", "step"),),
    "tracker expiry at ticks (Tracker.advance)": (("fusion.core.tracker", "Tracker", "advance"),),
    "track views (Fusion.views)": (("fusion.pipeline", "Fusion", "views"),),
    "rules (RuleEngine.evaluate, dark detections)": (("fusion.rules.engine", "RuleEngine", "evaluate"),
                                                     ("fusion.satmatch", "DarkDetections", "evaluate")),
    "publish: track updates, alerts (FusionWorker.tick_messages)": (("fusion.worker", "FusionWorker", "tick_messages"),),
    "publish: picture slices (PictureJob)": (("fusion.picturejob", "PictureJob", "advance"), ("fusion.picturejob", "PictureJob", "finish")),
    "status, rejects summaries": (("fusion.status", "StatusReport", "body"), ("fusion.worker", "FusionWorker", "refresh_counts"),
                                  ("fusion.worker", "FusionWorker", "rejects_messages")),
    "step bookkeeping (FusionWorker.step, intake settle, stats)": (("fusion.worker", "FusionWorker", "step"),),
}


# ``worker --tracker-stages``: ``_STAGES`` with the radar and AIS tracker steps split into the stage
# functions ``Tracker._process_round`` calls (each as the tracker module binds it, so that the same
# function called from elsewhere, e.g. the gate's own pair prediction, stays in its caller's stage);
# the tracker step rows then keep only the step's own bookkeeping (rounds, duplicates, checkpoints).
_TRACKER_STAGES: dict[str, tuple[tuple[str, str, str], ...]] = {
    **_STAGES,
    "tracker: identity (pairs, their prediction, feasibility)": tuple(
        ("fusion.core", "tracker", f) for f in ("identity_pairs", "predict_pairs", "feasible")),
    "tracker: gate (reach index, grid, pair prediction, chi-square, reach bound)": (("fusion.core", "tracker", "gate_pairs"),),
    "tracker: associate (GNN, JPDA)": (("fusion.core", "tracker", "associate"), ("fusion.core", "tracker", "jpda")),
    "tracker: update (IMM update, commit)": (("fusion.core", "tracker", "update"), ("fusion.core", "tracker", "commit")),
    "tracker: misses": (("fusion.core", "tracker", "count_misses"), ("fusion.core", "tracker", "count_miss")),
    "tracker: merges": (("fusion.core", "tracker", "merge"),),
    "tracker: births": (("fusion.core", "tracker", "birth"),),
    "tracker: expiry (manage.expire)": (("fusion.core", "tracker", "expire"),),
}


class StageClock:
    """Thread CPU seconds (``time.thread_time``: the worker's own CPU, not the wall, so that the
    other processes of a shared machine do not count) per ``_STAGES`` stage, each exclusive of
    the stages called from inside it. ``install`` wraps the functions; ``remove`` puts them back."""

    def __init__(self, stages: dict[str, tuple[tuple[str, str, str], ...]] | None = None, clock=time.thread_time) -> None:  # noqa: ANN001
        self.stages = _STAGES if stages is None else stages
        self.clock = clock  # () -> seconds: the calling thread's CPU time
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[list[float]] = []  # per open stage: [start, time of the stages nested in it]
        self._saved: list[tuple[type, str, object]] = []

    def _wrap(self, stage: str, fn):  # noqa: ANN001, ANN202 - any function
        import functools

        by_kind = "{kind}" in stage

        @functools.wraps(fn)
        def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            name = stage.format(kind=args[1].sensor_kind) if by_kind else stage  # (self, batch)
            frame = [self.clock(), 0.0]
            self._stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                took = self.clock() - frame[0]
                self._stack.pop()
                self.seconds[name] = self.seconds.get(name, 0.0) + took - frame[1]
                self.calls[name] = self.calls.get(name, 0) + 1
                if self._stack:
                    self._stack[-1][1] += took
        return timed

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        """gc.callbacks hook: the cyclic collector's CPU time by generation (inside whichever stage
        triggered it, so also counted there)."""
        if phase == "start":
            self._gc_started = self.clock()
        else:
            key = f"gen{info['generation']}"
            self.gc_seconds[key] = self.gc_seconds.get(key, 0.0) + self.clock() - self._gc_started
            self.gc_collections[key] = self.gc_collections.get(key, 0) + 1

    def install(self) -> None:
        import gc
        import importlib

        self.gc_seconds: dict[str, float] = {}
        self.gc_collections: dict[str, int] = {}
        gc.callbacks.append(self._gc)

        for stage, funcs in self.stages.items():
            for module, cls_name, name in funcs:
                cls = getattr(importlib.import_module(module), cls_name)
                fn = cls.__dict__[name]
                self._saved.append((cls, name, fn))
                setattr(cls, name, self._wrap(stage, fn))

    def remove(self) -> None:
        import gc

        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)
        for cls, name, fn in reversed(self._saved):
            setattr(cls, name, fn)
        self._saved = []


def worker(spec: LoadSpec, reorder_s: float, output_s: float, profile: bool, stages: bool = False,
           coop_skew_s: float | None = None, tracker_stages: bool = False, group_scans: bool = False,
           rogue: RogueSpec | None = None, link_decode: bool = True) -> dict[str, object]:
    """The fusion worker alone (``Service._step``, no broker, simulated clock stepping every
    50 ms): the worker thread's CPU seconds per second of load (``time.thread_time``, which the
    machine's other processes do not inflate the way they do the wall time); with ``stages``
    the split of them by stage (``StageClock``), with ``profile`` a cProfile listing of the
    costliest functions (cProfile's overhead inflates Python-heavy code: use it to find
    functions, ``stages`` to weigh them). The steps run inside ``functools.reduce``, so that callgrind
    counts their instructions alone, a figure load does not change (docs/bench-live.md):

        valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce \\
            --callgrind-out-file=worker.cg python bench/live.py worker --seconds 2

    ``coop_skew_s``: TrackerConfig.coop_skew_s (None: the default;
    0: strict time order, the tracker step per AIS run between radar scans of before 2026-12-07).
    ``tracker_stages``: as ``stages``, with the tracker step split by stage (``_TRACKER_STAGES``).
    ``group_scans``: each release's runs of radar scans with disjoint coverage fused into one tracker
    step (``group_radar_scans``: a bound on what fewer steps could save, not an exact step).
    ``rogue``: the ``rogue`` run's flood too (from a quarter of the load on), each flood message through
    the service's intake (``Intake.charge``: the default per-source budgets, the bench's for the good
    sources, ``bench_budgets``) and fused only when admitted: the worker's CPU a flood within its budgets
    costs, and ``step_cpu_ms`` (each step's thread CPU: a step the good sources' data waits behind),
    free of the machine's load.
    ``link_decode`` (the service's default): each step's radar scans come parsed as the MQTT link process
    parses them (``fusion.predecode.Predecoder``, on the simulated clock) and through a pickle round trip
    as one inbound frame; that work is timed apart from the worker's: ``link_process_cpu_s_per_load_s``
    (parse and pickling, the link process's core) and ``service_loop_unpickle_cpu_s_per_load_s`` (the
    service's event loop, under the worker's interpreter lock); False: every message decoded in the worker."""
    import cProfile
    import gc
    import io
    import pstats

    from fusion.fairqueue import Queued
    from fusion.mqtt import BrokerAddress
    from fusion.predecode import Predecoder
    from fusion.service import Due

    t0 = 1.8e9
    seconds = spec.seconds
    load = Load(spec, t0, seed=FEED_SEED)
    events = load.events(t0 + seconds)
    service = _make_service(BrokerAddress("127.0.0.1", 1883), reorder_s, output_s, coop_skew_s, budgets=bench_budgets(spec))
    if rogue is not None:
        flood = rogue.events(t0 + seconds / 4, seconds * 3 / 4, np.random.default_rng(3))
        events = sorted(events + [(t, topic, make(t)) for t, topic, make in flood], key=lambda e: e[0])
    clock = StageClock(_TRACKER_STAGES if tracker_stages else _STAGES) if stages or tracker_stages else None
    if clock is not None:
        clock.install()
    if group_scans:  # (after the clock's wrappers: Ingest.due's own time stays in its stage, the grouping in the step's)
        release = service.fusion.ingest.due
        setattr(service.fusion.ingest, "due", lambda now: group_radar_scans(release(now)))  # noqa: B010 - this instance only
    gc.collect()
    gc.freeze()  # as Service.serve does with what start-up built
    prof = cProfile.Profile() if profile else None
    steps = []  # (messages received, now, periodic work due) of each 50 ms step
    i, now, step = 0, t0, 0
    link_spec = service.fusion.ingest.predecode_spec(service.intake.budgets, service.intake.max_cost)
    predecode = Predecoder(link_spec, clock=lambda: now) if link_decode else None
    link_cpu = loop_cpu = 0.0  # thread CPU s of the link process's parse and pickling / of the service loop's unpickling
    while now < t0 + seconds + reorder_s + output_s:
        now += 0.05
        step += 1
        received = []
        while i < len(events) and events[i][0] + 0.01 <= now:
            topic, payload, recv_t = events[i][1], events[i][2], events[i][0] + 0.01
            if rogue is None or service.intake.charge(topic, payload, recv_t).admitted:
                received.append((topic, payload, recv_t))
            i += 1
        pres = [None] * len(received)
        if predecode is not None and received:  # as the link process forwards them: parsed, one pickled frame
            started = time.thread_time()
            frame = pickle.dumps([(topic, payload, 0, False, predecode(topic, payload)) for topic, payload, _ in received],
                                 protocol=pickle.HIGHEST_PROTOCOL)
            between = time.thread_time()
            pres = [m[4] for m in pickle.loads(frame)]  # noqa: S301 - our own bytes
            loop_cpu += time.thread_time() - between
            link_cpu += between - started
        took = [Queued(topic, payload, recv_t, "", 1, False, pre) for (topic, payload, recv_t), pre in zip(received, pres, strict=True)]
        steps.append((took, now, Due(status=step % 20 == 0, rejects=step % 100 == 0)))  # the service's 1 s status / 5 s rejects

    step_cpu = []  # thread CPU s of each step

    def one_step(spent: tuple[float, float], s: tuple[list[Queued], float, Due]) -> tuple[float, float]:
        """Run one step; (thread CPU s, wall s) so far."""
        started, started_cpu = time.perf_counter(), time.thread_time()
        if prof is not None:
            prof.enable()
        service._step(*s)
        if prof is not None:
            prof.disable()
        step_cpu.append(time.thread_time() - started_cpu)
        return spent[0] + step_cpu[-1], spent[1] + time.perf_counter() - started

    try:  # through functools.reduce: the steps alone are what callgrind counts with --toggle-collect=functools_reduce
        cpu, wall = functools.reduce(one_step, steps, (0.0, 0.0))
    finally:
        if clock is not None:
            clock.remove()
    plots = load.n_scan * spec.plots
    out: dict[str, object] = {
        "load_seconds": seconds, "plots": plots, "ais_messages": load.n_ais, "worker_cpu_s": round(cpu, 2), "worker_wall_s": round(wall, 2),
        "worker_cpu_s_per_load_s": round(cpu / seconds, 3), "capacity_plots_per_s": round(plots / cpu),
        "headroom": round(seconds / cpu, 2),
        "tracks": {f"{d}/{s}": n for (d, s), n in sorted(service.stats.tracks_by_state.items())},
        "tracker_batches": service.fusion.counters.batches, "tracker_reruns": service.fusion.counters.reruns,
        "group_scans": group_scans, "step_cpu_ms": _percentiles_ms(np.array(step_cpu)), "link_decode": link_decode}
    if link_decode:
        out |= {"link_process_cpu_s_per_load_s": round(link_cpu / seconds, 3),
                "service_loop_unpickle_cpu_s_per_load_s": round(loop_cpu / seconds, 3),
                "service_process_cpu_s_per_load_s": round((cpu + loop_cpu) / seconds, 3)}
    if rogue is not None:
        out |= {"rogue": dataclasses.asdict(rogue), "shed_by_source": service.intake.reported(),
                "oversize_by_source": dict(service.intake.oversize_by_source), "fused": dict(service.stats.fused)}
    if clock is not None:
        out["stage_cpu_s_per_load_s"] = {k: round(v / seconds, 4) for k, v in clock.seconds.items()}
        out["stage_share"] = {k: f"{100 * v / max(cpu, 1e-9):.1f}%" for k, v in clock.seconds.items()}
        out["stage_calls"] = clock.calls
        out["of_which_gc_cpu_s_per_load_s"] = {k: round(v / seconds, 4) for k, v in sorted(clock.gc_seconds.items())}
        out["gc_collections"] = dict(sorted(clock.gc_collections.items()))
    if prof is not None:
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(25)
        out["profile_top_tottime"] = text.getvalue().splitlines()
    return out


def _looks_apart(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    """Do two coverage circles (east, north, radius) m share no point?"""
    return math.hypot(a[0] - b[0], a[1] - b[1]) > a[2] + b[2]


def group_radar_scans(batches: list[MeasBatch]) -> list[MeasBatch]:
    """``worker --group-scans``: each run of consecutive radar scans of one track pool (in the order
    ``Ingest.due`` released them) whose coverage circles are pairwise disjoint, as ONE batch: the
    rows concatenated, each row's ``source`` its site (so that births charge each site's budget),
    no coverage circle. A measurement of what fewer tracker steps could buy, NOT an exact step:
    the tracker then counts missed looks over the plots' bounding box instead of each scan's
    circle, expires and merges at the group's newest time and refills birth budgets there
    (docs/BENCHMARKS.md, "Radar steps, 2026-12-07"). A scan without a circle, one overlapping a
    scan of the run, or any other batch of the pool ends the run; other batches keep their order."""
    out: list[MeasBatch] = []
    run: list[MeasBatch] = []

    def close() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            arrays = {f.name: np.concatenate([getattr(b, f.name) for b in run]) for f in dataclasses.fields(MeasBatch)
                      if isinstance(getattr(run[0], f.name), np.ndarray) and f.name != "source"}
            source = np.concatenate([np.full(len(b), b.sensor_id) if b.source is None else b.source for b in run])
            out.append(MeasBatch(**arrays, sensor_kind="radar", sensor_id="+".join(b.sensor_id for b in run),
                                 domain=run[0].domain, source=source))
        run.clear()

    for b in batches:
        joins = (b.sensor_kind == "radar" and b.look_en_m is not None and (not run or run[0].domain == b.domain)
                 and all(r.look_en_m is not None and _looks_apart(r.look_en_m, b.look_en_m) for r in run))
        if not joins:
            close()
        if b.sensor_kind == "radar" and b.look_en_m is not None:
            run.append(b)
        else:
            out.append(b)
    close()
    return out


LATENCY_REORDER_S = 0.05  # re-order window of the latency run (s)
LATENCY_OUTPUT_S = 0.1  # output interval of the latency run (s)


def service_bench(spec: LoadSpec, latency_seconds: float) -> dict[str, object]:
    """Broker limit (1 run), the worker alone, full load and half load through the service, in one run."""
    import asyncio

    out: dict[str, object] = {"broker": broker_limit(50_000, 500, spec.plots, 1)}
    out["worker_full_load"] = worker(replace(spec, seconds=min(spec.seconds, 5.0)), 2.0, 5.0, profile=False)
    half = replace(spec, scan_rate=spec.scan_rate / 2, ais_rate=spec.ais_rate // 2, seconds=latency_seconds)
    with Mosquitto(max_queued=1_000_000) as broker:
        out["full_load"] = asyncio.run(service_run(broker, spec, 2.0, 5.0))
        out["half_load_latency"] = asyncio.run(service_run(broker, half, LATENCY_REORDER_S, LATENCY_OUTPUT_S))
    return out


# ``rogue --stages``: the worker's stages with the tracker's two out-of-sequence paths apart
_ROGUE_STAGES = {**_STAGES, "tracker re-runs (Tracker._rerun), {kind} batches": (("fusion.core.tracker", "Tracker", "_rerun"),),
                 "tracker retrodiction (Tracker._late), {kind} batches": (("fusion.core.tracker", "Tracker", "_late"),)}
_ROGUE_KEYS = ("offered", "feeder", "good_object_first_alert", "alert_received_latency", "ticks", "ticks_skipped", "alert_publisher_lag", "alert_service_latency", "good_scan_intake_lag",
               "fuse_wait", "step_s",
               "shed_by_source", "shed_stale_by_source", "fused_measurements_per_s", "fused_plots_per_s", "max_inbound_depth",
               "late_dropped", "tracker_reruns", "tracker_reruns_by_source", "rerun_refused_by_source", "births_refused_by_source",
               "identity_refused", "tracks", "received",
               "cpu_s_per_wall_s", "alert_age", "update_age")


def rogue_bench(spec: LoadSpec, rogue: RogueSpec, tenth_budgets: bool = False, repeat: int = 1, stages: bool = False) -> dict[str, object]:
    """The load without and then with the rogue flood (the default per-source budgets; with
    ``tenth_budgets`` then a tenth of the radar plot and ADS-B ones), 0.05 s re-order window,
    0.1 s output interval, ``repeat`` times in turn: the good alerts' receive latency of each run,
    split into the feeder's publication lag and the service's part, shed per source, re-runs per
    source, measurements fused, the load average around it; with ``stages`` the worker's CPU
    seconds per stage (``StageClock``, the tracker's re-runs and retrodiction apart); with
    ``repeat`` > 1 the median and spread of the good alerts' p50 / p99 per kind of run."""
    import asyncio

    out: dict[str, object] = {"rogue": dataclasses.asdict(rogue), "runs": []}
    kinds = [("without_flood", None, 1.0), ("with_flood", rogue, 1.0)] + ([("with_flood_tenth_budgets", rogue, 0.1)] if tenth_budgets else [])
    runs: list[dict[str, object]] = []
    for _ in range(repeat):
        for name, flood, scale in kinds:
            clock = StageClock(_ROGUE_STAGES) if stages else None
            with Mosquitto(max_queued=1_000_000) as broker:
                before = _loadavg()
                if clock is not None:
                    clock.install()
                try:
                    run = asyncio.run(service_run(broker, spec, LATENCY_REORDER_S, LATENCY_OUTPUT_S, rogue=flood, budget_scale=scale))
                finally:
                    if clock is not None:
                        clock.remove()
            figures = {"run": name, **{k: run[k] for k in _ROGUE_KEYS}, "loadavg_before": before, "loadavg_after": _loadavg()}
            if clock is not None:
                figures["stage_cpu_s"] = {k: round(v, 2) for k, v in sorted(clock.seconds.items(), key=lambda kv: -kv[1])}
            runs.append(figures)
            if repeat > 1:  # each run's figures as it ends (stderr), so that an interrupted series keeps them
                print(json.dumps(figures), file=sys.stderr, flush=True)
    out["runs"] = runs
    if repeat > 1:
        out["summary"] = rogue_summary(runs)
    return out


def rogue_summary(runs: list[dict[str, object]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per kind of run (``run``: without_flood, with_flood, ...), the median and spread of the good
    objects' first alert latency and the good alerts' receive and service latency p50 / p99 (ms) over
    the runs of that kind that had alerts."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in dict.fromkeys(str(r["run"]) for r in runs):
        out[name] = {f"{part}_{q}": _spread([float(r[part][f"{q}_ms"]) for r in runs  # type: ignore[index]
                                              if r["run"] == name and r[part] and f"{q}_ms" in r[part]])  # type: ignore[operator]
                     for part in ("good_object_first_alert", "alert_received_latency", "alert_service_latency")
                     for q in ("p50", "p99") if part in next(r for r in runs if r["run"] == name)}
    return out


def _spread(values: list[float]) -> dict[str, float]:
    """Median, min and max of ``values`` (empty: {})."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)} if values else {}
def _loadavg() -> list[float]:
    """The machine's 1, 5 and 15-minute load averages (Linux /proc/loadavg)."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


_REPEAT_KEYS = ("fused_plots_per_s", "fused_ais_msg_per_s", "drain_after_last_publish_s", "max_inbound_depth")


def repeat_summary(runs: list[dict[str, object]]) -> dict[str, object]:
    """Runs of ``run --repeat N``: each run's main figures (with the load average around it),
    then per figure the median and the spread (min, max) over the runs, and how many runs
    sustained the load (queue drained within 1 s plus the window, nothing shed)."""
    keep = (*_REPEAT_KEYS, "sustained", "feeder_ready_in_time", "step_s", "fuse_wait", "cpu_s_per_wall_s", "tracker_reruns", "loadavg_before", "loadavg_after")
    each = [{k: r[k] for k in keep} | {"ready_margin_s": r["feeder"]["ready_margin_s"]} for r in runs]  # type: ignore[index]
    out: dict[str, object] = {"offered": runs[0]["offered"], "runs": each,
                              "sustained_runs": f"{sum(bool(r['sustained']) for r in runs)}/{len(runs)}"}
    per_process = {"worker_cpu_s_per_wall_s": "worker_thread", "service_process_cpu_s_per_wall_s": "service_process",
                   "mqtt_link_process_cpu_s_per_wall_s": "mqtt_link_process"}
    for k in (*_REPEAT_KEYS, *per_process):
        values = [float(r["cpu_s_per_wall_s"].get(per_process[k], 0.0)) if k in per_process else float(r[k])  # type: ignore[attr-defined]
                  for r in runs]
        out[k] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return out


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _load_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sites", type=int, default=10)
    p.add_argument("--plots-per-scan", type=int, default=1_000)
    p.add_argument("--scan-rate", type=float, default=10.0, help="scans per second per site")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--ais-rate", type=int, default=2_000)
    p.add_argument("--go-fasts", type=int, default=10, help="go-fasts per site (staggered starts)")
    p.add_argument("--go-fast-stagger-s", type=float, default=GO_FAST_STAGGER_S, help="seconds between two go-fasts' starts")


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark and print its JSON."""
    import asyncio

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    b = sub.add_parser("broker", help="the broker's own limit with the C clients")
    b.add_argument("--messages", type=int, default=200_000)
    b.add_argument("--scans", type=int, default=2_000)
    b.add_argument("--plots-per-scan", type=int, default=1_000)
    b.add_argument("--repeat", type=int, default=3)
    sv = sub.add_parser("service", help="the fusion service: worker alone, full load, half-load latency")
    _load_args(sv)
    sv.add_argument("--latency-seconds", type=float, default=40.0)
    wk = sub.add_parser("worker", help="the fusion worker alone, no broker, simulated clock")
    _load_args(wk)
    wk.add_argument("--reorder", type=float, default=2.0)
    wk.add_argument("--output", type=float, default=5.0)
    wk.add_argument("--profile", action="store_true", help="cProfile: the 25 costliest functions")
    wk.add_argument("--stages", action="store_true", help="the worker's CPU split by stage (StageClock)")
    wk.add_argument("--tracker-stages", action="store_true", help="as --stages, with the tracker step split by stage function")
    wk.add_argument("--coop-skew", type=float, default=None, help="TrackerConfig.coop_skew_s (default: its default; 0: strict order)")
    wk.add_argument("--no-link-decode", dest="link_decode", action="store_false",
                    help="decode every message in the worker (as mqtt_io inline does), not radar parsed by the link process")
    wk.add_argument("--group-scans", action="store_true", help="radar scans with disjoint coverage released together fused into "
                    "one tracker step (a measurement of what fewer steps could save; NOT exact: group_radar_scans)")
    rn = sub.add_parser("run", help="one service run at one load and window (as a part of `service`)")
    _load_args(rn)
    rn.add_argument("--reorder", type=float, default=2.0)
    rn.add_argument("--output", type=float, default=5.0)
    rn.add_argument("--mqtt-io", choices=("process", "inline"), default="process", help="where the MQTT link runs (ServiceOptions.mqtt_io)")
    rn.add_argument("--catch-up-ticks", type=int, default=10, help="ServiceOptions.catch_up_ticks (0: evaluate every tick)")
    rn.add_argument("--repeat", type=positive_int, default=1, help="runs in a row (each on a fresh broker): each run's figures, "
                    "then their median and spread")
    fd = sub.add_parser("feed", help="(internal) publish the load in real time")
    _load_args(fd)
    fd.add_argument("--port", type=int, required=True)
    fd.add_argument("--start-wall", type=float, required=True)
    rg = sub.add_parser("rogue", help="good sources' alert latency with and without a rogue radar and an SBS-1 flood")
    _load_args(rg)
    rg.set_defaults(go_fast_stagger_s=ROGUE_STAGGER_S)
    rg.add_argument("--tenth-budgets", action="store_true", help="a third run with a tenth of the rogue's budgets")
    rg.add_argument("--repeat", type=positive_int, default=1, help="the runs this many times in turn: each run's figures, then the "
                    "median and spread of the good alerts' latency")
    rg.add_argument("--stages", action="store_true", help="the worker's CPU split by stage in each run (StageClock)")
    for parser in (fd, rg, wk):
        parser.add_argument("--rogue-plots", type=int, default=20_000, help="plots per rogue scan")
        parser.add_argument("--rogue-scan-rate", type=float, default=0.0 if parser is not rg else 2.5, help="rogue scans per second")
        parser.add_argument("--sbs-rate", type=float, default=0.0 if parser is not rg else 5_000.0, help="SBS-1 flood lines per second")
    args = p.parse_args(argv)
    if args.what == "feed":
        print(json.dumps(asyncio.run(feed(args.port, LoadSpec.of(args), args.start_wall, RogueSpec.of(args)))))
        return 0
    if args.what == "rogue":
        print(json.dumps({"rogue": rogue_bench(LoadSpec.of(args), RogueSpec.of(args) or RogueSpec(), args.tenth_budgets, args.repeat,
                                               args.stages)}, indent=2))
        return 0
    if args.what == "worker":
        print(json.dumps({"worker": worker(LoadSpec.of(args), args.reorder, args.output, args.profile, args.stages, args.coop_skew,
                                           args.tracker_stages, args.group_scans, RogueSpec.of(args), args.link_decode)},
                         indent=2))
        return 0
    if args.what == "run":
        runs = []
        for _ in range(args.repeat):  # each run on a fresh broker
            with Mosquitto(max_queued=1_000_000) as broker:
                before = _loadavg()
                run = asyncio.run(service_run(broker, LoadSpec.of(args), args.reorder, args.output, mqtt_io=args.mqtt_io,
                                              catch_up_ticks=args.catch_up_ticks))
                runs.append({**run, "loadavg_before": before, "loadavg_after": _loadavg()})
            if args.repeat > 1:  # each run's figures as it ends (stderr), so that an interrupted series keeps them
                print(json.dumps(repeat_summary(runs[-1:])["runs"][0]), file=sys.stderr, flush=True)
        print(json.dumps({"run": runs[0]} if args.repeat == 1 else {"runs": repeat_summary(runs)}, indent=2))
        return 0
    if args.what == "service":
        print(json.dumps({"service": service_bench(LoadSpec.of(args), args.latency_seconds)}, indent=2))
        return 0
    if min(args.messages, args.scans, args.plots_per_scan, args.repeat) < 1:
        p.error("counts must be >= 1")
    print(json.dumps({"broker": broker_limit(args.messages, args.scans, args.plots_per_scan, args.repeat)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
