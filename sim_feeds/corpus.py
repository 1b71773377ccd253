"""Procedural scenario corpus: benign traffic and suspects from (area, seed), with a tune/test split.

``corpus_scenario(area, seed)`` returns a scenario document (the TOML as a dict, checked by
``scenario_from_dict`` like any file) of one area of the Caribbean or Eastern Pacific: merchants
on lanes, arrivals that anchor, ships at anchor, tugs and pilot boats, ferries, tour boats, a
patrol vessel, yachts, small craft without AIS, fishing fleets of four gear types, airliners on
approach and departure, a holding pattern, light aircraft, helicopters to an offshore site, and
``suspects`` suspects (go-fast, semi-submersible, dark vessel, AIS spoofing, rendezvous, suspect
aircraft) whose behaviour starts at a seeded onset and whose label ends where it ends.

Every draw comes from ``numpy.random.default_rng([seed, crc32(area)])``: the same (area, seed)
gives the same document. Vessel routes are chained between the area's named sea nodes (real
coordinates, checked at sea and leg by leg on the GSHHG shoreline; a leg that crosses land is
routed through another node). The split (``SPLITS``) is by area AND seed: the tune and test sides
share neither. docs/SCENARIO-EVAL.md, "Corpus", documents the mix and the sources.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from sim_feeds.geo import GEOD, KNOT_MPS, legs_at_sea, points_at_sea
from sim_feeds.scenario import Loiter, loiter_route, object_rng

LatLon = tuple[float, float]

# Activity labels. Benign objects carry only BENIGN_LABELS; a suspect's behaviour label is never
# carried by a benign object, so the metrics take its first tick as the onset (docs/EVALUATION.md).
BENIGN_LABELS = ("transit", "approach", "at_anchor", "pilotage", "towing", "ferry", "tour", "patrol",
                 "fishing", "setting", "leisure", "departure", "holding", "helicopter_transfer")
SUSPECT_KINDS = ("go_fast", "semi_submersible", "dark_vessel", "ais_spoofing", "rendezvous", "suspect_aircraft")

# SOLAS V/19.2.4 (AIS carriage): ships >= 300 GT on international voyages, >= 500 GT cargo ships
# otherwise, and all passenger ships; fishing vessels, yachts and small craft mostly carry none
# or carry class B voluntarily. The fractions below are our assumption for the corpus mix.
BERTH_SPACING_M = 50.0
"""Between the berths of the harbour craft (tugs, pilot boats, ferry, tour boats, patrol vessel) by the port: hulls of
15-40 m moored a hull length or so apart. Before, every one of them started (and the ferry, tour boats and patrol
vessel returned) to the port node itself: up to seven hulls on one point, which is also the coastal radar's site."""
CLASS_B_YACHT_FRACTION = 0.5
FISHING_AIS_FRACTION = {"trawl": 0.6, "purse_seine": 0.8, "longline": 0.4, "handline": 0.0}


@dataclass(frozen=True)
class CorpusArea:
    """One area: named sea nodes (lat, lon at sea), an airport, a land box for clandestine strips.

    port: harbour entrance / pilot station; anchorage: anchorage centre; lanes: offshore lane ends;
    fishing: fishing ground centres; offshore_site: a helideck (rig, terminal buoy or ship) at sea;
    airport: runway position (lat, lon); strip_box: (lat_min, lat_max, lon_min, lon_max) of the
    inland area where a suspect aircraft lands; ocean: "caribbean" or "pacific".
    """

    name: str
    ocean: str
    port: LatLon
    anchorage: LatLon
    lanes: tuple[LatLon, ...]
    fishing: tuple[LatLon, ...]
    offshore_site: LatLon
    airport: LatLon
    strip_box: tuple[float, float, float, float]

    def nodes(self) -> list[LatLon]:
        """Every sea node (routing vias)."""
        return [self.port, self.anchorage, *self.lanes, *self.fishing, self.offshore_site]

    def box(self, margin_deg: float = 0.6) -> dict[str, float]:
        """The scenario area: the nodes, the airport and the strip box plus ``margin_deg``."""
        lat = [p[0] for p in self.nodes()] + [self.airport[0], self.strip_box[0], self.strip_box[1]]
        lon = [p[1] for p in self.nodes()] + [self.airport[1], self.strip_box[2], self.strip_box[3]]
        return {"lat_min": round(min(lat) - margin_deg, 3), "lat_max": round(max(lat) + margin_deg, 3),
                "lon_min": round(min(lon) - margin_deg, 3), "lon_max": round(max(lon) + margin_deg, 3)}


# Coordinates: charts and airport references (WGS84, rounded); every sea node is checked at sea
# by tests/unit/sim/test_corpus.py against fusion/coastline.py.
AREAS: dict[str, CorpusArea] = {
    "kingston": CorpusArea(  # Kingston, Jamaica: Port Royal approach, Norman Manley airport (MKJP)
        "kingston", "caribbean", port=(17.90, -76.84), anchorage=(17.88, -76.78),
        lanes=((17.6, -76.9), (17.7, -76.3), (17.5, -77.3)), fishing=((17.45, -77.0), (17.55, -76.55)),
        offshore_site=(17.60, -76.70), airport=(17.936, -76.788), strip_box=(18.05, 18.25, -77.4, -76.9)),
    "cartagena": CorpusArea(  # Cartagena, Colombia: Bocachica entrance, Rafael Nunez airport (SKCG)
        "cartagena", "caribbean", port=(10.31, -75.60), anchorage=(10.38, -75.60),
        lanes=((10.6, -75.9), (10.2, -75.9), (10.9, -75.6)), fishing=((10.15, -75.80), (10.55, -75.70)),
        offshore_site=(10.45, -75.85), airport=(10.442, -75.513), strip_box=(9.90, 10.20, -75.30, -74.90)),
    "buenaventura": CorpusArea(  # Buenaventura, Colombia (Pacific): bay entrance, airport (SKBU)
        "buenaventura", "pacific", port=(3.83, -77.27), anchorage=(3.82, -77.30),
        lanes=((3.9, -77.8), (3.3, -77.6), (4.4, -77.7)), fishing=((3.6, -77.55), (4.0, -77.55)),
        offshore_site=(3.70, -77.70), airport=(3.819, -76.990), strip_box=(3.40, 3.70, -76.90, -76.60)),
    "colon": CorpusArea(  # Colon / Cristobal, Panama: Limon Bay breakwater, Colon airport (MPEJ)
        "colon", "caribbean", port=(9.40, -79.915), anchorage=(9.42, -79.94),
        lanes=((9.8, -79.95), (9.7, -79.5), (9.7, -80.4)), fishing=((9.62, -79.7), (9.75, -80.15)),
        offshore_site=(9.60, -80.05), airport=(9.356, -79.867), strip_box=(8.95, 9.20, -79.60, -79.20)),
    "santo_domingo": CorpusArea(  # Santo Domingo, Dominican Republic: Haina / Santo Domingo, Las Americas (MDSD)
        "santo_domingo", "caribbean", port=(18.44, -69.88), anchorage=(18.43, -69.90),
        lanes=((18.1, -70.0), (18.2, -69.3), (18.0, -70.6)), fishing=((18.25, -69.7), (18.15, -70.3)),
        offshore_site=(18.30, -69.55), airport=(18.430, -69.669), strip_box=(18.65, 18.90, -70.10, -69.60)),
    "quetzal": CorpusArea(  # Puerto Quetzal, Guatemala (Pacific): port, San Jose airport (MGSJ)
        "quetzal", "pacific", port=(13.90, -90.79), anchorage=(13.85, -90.80),
        lanes=((13.5, -90.9), (13.6, -91.5), (13.4, -90.3)), fishing=((13.65, -91.0), (13.60, -90.55)),
        offshore_site=(13.75, -90.70), airport=(13.936, -90.836), strip_box=(14.05, 14.30, -91.30, -90.70)),
}

# Tune and test share neither areas nor seeds (docs/SCENARIO-EVAL.md, "Protocol").
SPLITS: dict[str, tuple[tuple[str, ...], range]] = {
    "tune": (("kingston", "cartagena", "buenaventura"), range(1000, 1040)),
    "test": (("colon", "santo_domingo", "quetzal"), range(2000, 2040)),
}
CORPUS_DURATION_S = 6 * 3600.0  # 3 areas x 40 seeds x 6 h = 30 scenario-days per side


def split_members(split: str, areas: Sequence[str] | None = None, seeds: Sequence[int] | None = None
                  ) -> list[tuple[str, int]]:
    """(area, seed) pairs of a split, optionally narrowed to some of its areas and seeds; anything
    outside the split is a ValueError naming it (a tune area or seed is never run as test)."""
    if split not in SPLITS:
        raise ValueError(f"split = {split!r}: must be one of {', '.join(SPLITS)}")
    own_areas, own_seeds = SPLITS[split]
    for a in areas or ():
        if a not in own_areas:
            raise ValueError(f"areas: {a!r} is not in the {split} split ({', '.join(own_areas)})")
    for s in seeds or ():
        if s not in own_seeds:
            raise ValueError(f"seeds: {s} is not in the {split} split ({own_seeds.start}-{own_seeds.stop - 1})")
    return [(a, s) for s in (seeds or own_seeds) for a in (areas or own_areas)]  # seed-major: a partial run covers every area


class _Builder:
    """Draws one scenario's objects; ``rng`` is the only randomness."""

    def __init__(self, area: CorpusArea, seed: int, duration_s: float, scale: float) -> None:
        self.area, self.seed, self.duration_s, self.scale = area, seed, duration_s, scale
        self.rng = np.random.default_rng([seed, zlib.crc32(area.name.encode())])
        self.objects: list[dict[str, Any]] = []
        self.next_mmsi = 300_000_000 + (seed % 1000) * 10_000
        self.next_icao = 0xA00000 + (seed % 1000) * 0x100
        self.berths = 0  # harbour craft berths handed out (``berth``)
        self.strip = self.land_point(area.strip_box)  # a clandestine strip known to intelligence (an airstrip zone)

    # -------------------------------------------------------------- helpers

    def count(self, mean: float) -> int:
        """Poisson count with mean ``mean`` x scale (at least 1 when the mean is >= 1)."""
        n = int(self.rng.poisson(mean * self.scale))
        return max(n, 1) if mean * self.scale >= 1.0 else n

    def jitter(self, p: LatLon, radius_m: float, tries: int = 30) -> LatLon:
        """A point at sea within ``radius_m`` of ``p`` (``p`` itself if none is found)."""
        for _ in range(tries):
            lon, lat, _ = GEOD.fwd(p[1], p[0], self.rng.uniform(0, 360), radius_m * float(self.rng.random()) ** 0.5)
            if points_at_sea(np.array([lat]), np.array([lon]))[0]:
                return round(float(lat), 5), round(float(lon), 5)
        return p

    def berth(self) -> LatLon:
        """The next harbour craft's own berth by the port: ``BERTH_SPACING_M`` further along a line of berths from the
        port node for each craft (the first bearing whose point is at sea), so that no two hulls share a point. No
        draw from ``rng``: every other object of the scenario stays as it was."""
        self.berths += 1
        for bearing in (90.0, 270.0, 0.0, 180.0, 45.0, 135.0, 225.0, 315.0):
            lon, lat, _ = GEOD.fwd(self.area.port[1], self.area.port[0], bearing, BERTH_SPACING_M * self.berths)
            if points_at_sea(np.array([lat]), np.array([lon]))[0]:
                return round(float(lat), 5), round(float(lon), 5)
        return self.area.port

    def path(self, points: Sequence[LatLon]) -> list[LatLon] | None:
        """``points`` with a via node inserted before each leg that crosses land; None if none helps."""
        out = [points[0]]
        for b in points[1:]:
            a = out[-1]
            if _leg_ok(a, b):
                out.append(b)
                continue
            vias = sorted(self.area.nodes(), key=lambda v: _dist(a, v) + _dist(v, b))
            via = next((v for v in vias if v not in (a, b) and _leg_ok(a, v) and _leg_ok(v, b)), None)
            if via is None:
                return None
            out += [via, b]
        return out

    def land_point(self, box: tuple[float, float, float, float]) -> LatLon:
        """A point on land in ``box`` (lat_min, lat_max, lon_min, lon_max); its centre if none is found."""
        for _ in range(50):
            lat, lon = float(self.rng.uniform(box[0], box[1])), float(self.rng.uniform(box[2], box[3]))
            if not points_at_sea(np.array([lat]), np.array([lon]))[0]:
                return round(lat, 5), round(lon, 5)
        return (box[0] + box[1]) / 2.0, (box[2] + box[3]) / 2.0

    def start_s(self, lo: float = 0.0, hi: float = 0.85) -> float:
        return round(float(self.rng.uniform(lo, hi) * self.duration_s), 1)

    def ais(self, transceiver: str = "A", ship_type: int | None = None, **extra: Any) -> dict[str, Any]:
        self.next_mmsi += 1
        unit: dict[str, Any] = {"mmsi": self.next_mmsi, "transceiver": transceiver, **extra}
        if ship_type is not None:
            unit["ship_type"] = ship_type
        return unit

    def adsb(self, **extra: Any) -> dict[str, Any]:
        self.next_icao += 1
        return {"icao24": f"{self.next_icao:06x}", **extra}

    def add(self, obj_id: str, kind: str, route: list[dict[str, Any]], **extra: Any) -> None:
        self.objects.append({"id": obj_id, "kind": kind, "route": route, **extra})

    def add_loiter(self, obj: dict[str, Any], near: LatLon, jitter_m: float) -> None:
        """Add ``obj`` loitering round a centre drawn within ``jitter_m`` of ``near``: the first centre
        whose expansion (the one scenario_from_dict will do) keeps every leg at sea; dropped if none."""
        for _ in range(10):
            centre = self.jitter(near, jitter_m)
            loiter = {**obj["loiter"], "lat": centre[0], "lon": centre[1]}
            try:
                loiter_route(msgspec.convert(loiter, Loiter), self.duration_s - obj.get("start_s", 0.0),
                             object_rng(self.seed, obj["id"]), True)
            except ValueError:
                continue
            self.objects.append({**obj, "loiter": loiter})
            return

    def vessel_route(self, points: Sequence[LatLon], speed_kn: float, *, dwell: dict[int, float] | None = None,
                     labels: dict[int, str] | None = None) -> list[dict[str, Any]] | None:
        """Waypoints through ``points`` (routed at sea) at ``speed_kn``; dwell/labels by input index."""
        dwell, labels = dwell or {}, labels or {}
        routed: list[dict[str, Any]] = []
        for i, p in enumerate(points):
            seg = self.path([routed_point(routed[-1]), p]) if routed else [p]
            if seg is None:
                return None
            for q in seg[1:-1] if routed else []:
                routed.append({"lat": q[0], "lon": q[1], "speed_kn": speed_kn})
            wp: dict[str, Any] = {"lat": p[0], "lon": p[1], "speed_kn": speed_kn}
            if i in dwell:
                wp["dwell_s"] = round(dwell[i], 1)
            if i in labels:
                wp["activity"] = labels[i]
            routed.append(wp)
        return routed

    # -------------------------------------------------------------- benign traffic

    def merchants(self) -> None:
        a = self.area
        for i in range(self.count(10)):  # through traffic between lane ends
            ends = self.rng.choice(len(a.lanes), 2, replace=False)
            route = self.vessel_route([self.jitter(a.lanes[ends[0]], 8000), self.jitter(a.lanes[ends[1]], 8000)],
                                      round(float(self.rng.uniform(10, 18)), 1))
            if route:
                self.add(f"merchant-{i + 1}", "merchant", route, start_s=self.start_s(),
                         ais=self.ais("A", int(self.rng.choice([70, 71, 79, 80, 89]))))
        for i in range(self.count(4)):  # arrivals: lane -> port approach -> anchorage (anchored to the end)
            spot = self.jitter(a.anchorage, 2500)
            route = self.vessel_route([self.jitter(a.lanes[int(self.rng.integers(len(a.lanes)))], 8000),
                                       a.port, spot, spot], round(float(self.rng.uniform(9, 14)), 1),
                                      labels={1: "approach", 2: "at_anchor"})
            if route:
                route[1]["speed_kn"] = 6.0  # slow through the approach
                self.add(f"arrival-{i + 1}", "merchant", route, start_s=self.start_s(0.0, 0.6), hold_at_end=True,
                         ais=self.ais("A", 70))
        for i in range(self.count(6)):  # at anchor from the start; some weigh anchor and leave
            spot = self.jitter(a.anchorage, 3000)
            leaves = self.rng.random() < 0.4
            wait = float(self.rng.uniform(0.2, 0.9) * self.duration_s) if leaves else self.duration_s + 60.0
            dest = self.jitter(a.lanes[int(self.rng.integers(len(a.lanes)))], 8000)
            route = self.vessel_route([spot, dest], round(float(self.rng.uniform(9, 13)), 1), dwell={0: wait},
                                      labels={0: "at_anchor", 1: "departure"})
            if route:
                route[1]["activity"] = "departure"
                self.add(f"anchored-{i + 1}", "merchant", route, activity="at_anchor", ais=self.ais("A", 80))

    def harbour_craft(self) -> None:
        a = self.area
        for kind, label, n, speed, ship_type in (("tug", "towing", 2, (7, 10), 52), ("pilot_boat", "pilotage", 2, (14, 20), 50)):
            for i in range(self.count(n)):
                home = self.berth()
                stops = [home]
                for _ in range(6):  # shuttles between the harbour entrance and ships at anchor / boarding points
                    stops.append(self.jitter(a.anchorage if kind == "tug" else a.port, 4000 if kind == "tug" else 6000))
                    stops.append(self.jitter(a.port, 800))
                dwell = {k: float(self.rng.uniform(300, 1800)) for k in range(len(stops))}
                route = self.vessel_route(stops, round(float(self.rng.uniform(*speed)), 1), dwell=dwell)
                if route:
                    self.add(f"{kind}-{i + 1}", kind, route, activity=label, hold_at_end=True,
                             ais=self.ais("A", ship_type))
        for i in range(self.count(1)):  # ferry: port <-> offshore site side, hourly-ish crossings
            far = self.jitter(a.lanes[int(self.rng.integers(len(a.lanes)))], 5000)
            stops = [self.berth(), far] * 4
            route = self.vessel_route(stops, round(float(self.rng.uniform(16, 24)), 1),
                                      dwell={k: float(self.rng.uniform(1200, 2400)) for k in range(len(stops))})
            if route:
                self.add(f"ferry-{i + 1}", "ferry", route, activity="ferry", start_s=self.start_s(0.0, 0.3),
                         ais=self.ais("A", 60))
        for i in range(self.count(2)):  # tour boats: out from the harbour, stops, back (no AIS: < 300 GT, domestic)
            home = self.berth()
            stops = [home, self.jitter(a.port, 12000), self.jitter(a.port, 12000), home]
            route = self.vessel_route(stops, round(float(self.rng.uniform(8, 14)), 1),
                                      dwell={1: float(self.rng.uniform(600, 2400)), 2: float(self.rng.uniform(600, 1800))})
            if route:
                self.add(f"tour-{i + 1}", "tour_boat", route, activity="tour", start_s=self.start_s(0.0, 0.7))
        for i in range(self.count(1)):  # patrol vessel through the nodes
            home = self.berth()
            stops = [home, *(a.nodes()[int(k)] for k in self.rng.choice(len(a.nodes()), 3, replace=False)), home]
            route = self.vessel_route(stops, round(float(self.rng.uniform(12, 20)), 1),
                                      dwell={k: float(self.rng.uniform(0, 1800)) for k in (1, 2, 3)})
            if route:
                extra = {"ais": self.ais("A", 55)} if self.rng.random() < 0.5 else {}
                self.add(f"patrol-{i + 1}", "patrol_vessel", route, activity="patrol", start_s=self.start_s(0.0, 0.5),
                         **extra)

    def small_craft(self) -> None:
        a = self.area
        for i in range(self.count(4)):  # yachts: coastal passages, half with class B
            stops = [self.jitter(a.port, 15000), self.jitter(a.anchorage, 10000), self.jitter(a.port, 20000)]
            route = self.vessel_route(stops, round(float(self.rng.uniform(5, 9)), 1),
                                      dwell={1: float(self.rng.uniform(0, 3600))})
            if route:
                extra = {"ais": self.ais("B", 37)} if self.rng.random() < CLASS_B_YACHT_FRACTION else {}
                self.add(f"yacht-{i + 1}", "pleasure_craft", route, activity="leisure", start_s=self.start_s(), **extra)
        for i in range(self.count(6)):  # small craft without AIS near the coast: skiffs, dive and sport boats
            self.add_loiter({"id": f"skiff-{i + 1}", "kind": "pleasure_craft", "activity": "leisure",
                             "start_s": self.start_s(0.0, 0.5),
                             "loiter": {"radius_nm": 2.0, "pattern": "drift",
                                        "speed_kn": round(float(self.rng.uniform(4, 15)), 1), "max_dwell_s": 1800.0}},
                            a.port, 12000)

    def fishing(self) -> None:
        a = self.area
        gears = ("trawl", "purse_seine", "longline", "handline")
        # gear -> loiter pattern, speed kn while moving, fleet size (FAO gear classification; speeds: trawling
        # 2.5-4 kn, setting a purse seine stops the vessel, longliners drift while soaking)
        spec = {"trawl": ("trawl", (2.5, 4.0), 4), "purse_seine": ("wander", (6.0, 10.0), 3),
                "longline": ("drift", (4.0, 7.0), 3), "handline": ("drift", (3.0, 6.0), 5)}
        for g, gear in enumerate(gears):
            pattern, speed, n = spec[gear]
            ground = a.fishing[g % len(a.fishing)]
            for i in range(self.count(n)):
                obj: dict[str, Any] = {
                    "id": f"{gear}-{i + 1}", "kind": "fishing", "activity": "fishing",
                    "loiter": {"radius_nm": 3.0, "pattern": pattern,
                               "speed_kn": round(float(self.rng.uniform(*speed)), 1),
                               "max_dwell_s": 5400.0 if gear == "purse_seine" else 1800.0}}
                if self.rng.random() < FISHING_AIS_FRACTION[gear]:
                    obj["ais"] = self.ais("A" if self.rng.random() < 0.6 else "B", 30)
                self.add_loiter(obj, ground, 9000)

    def aircraft(self) -> None:
        a = self.area
        ap_lat, ap_lon = a.airport
        for i in range(self.count(6)):  # airliners: arrivals and departures on straight-in approaches
            brg = float(self.rng.uniform(0, 360))
            far = _fwd(a.airport, brg, float(self.rng.uniform(120e3, 180e3)))
            fix = _fwd(a.airport, brg, 30e3)
            legs = [(*far, 9000.0, 420.0), (*fix, 1500.0, 220.0), (ap_lat, ap_lon, 60.0, 150.0)]
            hold = i == 0  # the first arrival holds: a racetrack at the fix for two laps
            if hold:
                corners = [_fwd(fix, brg + d, 8000.0) for d in (90.0, 270.0)]
                legs[1:1] = [(c[0], c[1], 3000.0, 210.0) for c in corners * 2]
            if self.rng.random() < 0.5:  # a departure: the same path reversed, climbing
                legs = [(p[0], p[1], p[2], 280.0) for p in reversed(legs)]
                hold = False
            route: list[dict[str, Any]] = [{"lat": round(p[0], 5), "lon": round(p[1], 5), "alt_m": p[2], "speed_kn": p[3]}
                                           for p in legs]
            if hold:
                route[1]["activity"] = "holding"
            self.add(f"airliner-{i + 1}", "commercial_aircraft", route, activity="approach", start_s=self.start_s(),
                     adsb=self.adsb())
        for i in range(self.count(2)):  # light aircraft: coastal flights, one in two without ADS-B Out
            p0 = _fwd(a.airport, float(self.rng.uniform(0, 360)), float(self.rng.uniform(40e3, 90e3)))
            p1 = _fwd(a.airport, float(self.rng.uniform(0, 360)), float(self.rng.uniform(40e3, 90e3)))
            alt = float(self.rng.uniform(900, 3000))
            route = [{"lat": round(p[0], 5), "lon": round(p[1], 5), "alt_m": h, "speed_kn": 120.0}
                     for p, h in ((a.airport, 300.0), (p0, alt), (p1, alt), (a.airport, 300.0))]
            extra = {"adsb": self.adsb()} if self.rng.random() < 0.5 else {}
            self.add(f"light-{i + 1}", "light_aircraft", route, start_s=self.start_s(), **extra)
        for i in range(self.count(1)):  # helicopter crew change: airport -> offshore site, on deck, back
            site = a.offshore_site
            route = [{"lat": p[0], "lon": p[1], "alt_m": h, "speed_kn": 130.0}
                     for p, h in ((a.airport, 0.0), (site, 300.0), (site, 0.0), (a.airport, 300.0))]
            route[1]["dwell_s"] = 0.0
            route[2]["dwell_s"] = round(float(self.rng.uniform(1200, 3600)), 1)
            self.add(f"helicopter-{i + 1}", "helicopter", route, activity="helicopter_transfer",
                     start_s=self.start_s(0.0, 0.6), adsb=self.adsb())

    # -------------------------------------------------------------- suspects

    def suspect(self, n: int, kind: str) -> None:
        """One suspect of ``kind``: benign-looking lead-in, then the behaviour from a seeded onset."""
        a = self.area
        sid = f"suspect-{n}-{kind}"
        onset = self.start_s(0.05, 0.6)
        lanes = [self.jitter(p, 10000) for p in a.lanes]
        if kind == "go_fast":
            stops = [lanes[int(self.rng.integers(len(lanes)))], self.jitter(a.fishing[0], 15000), self.jitter(a.port, 20000)]
            route = self.vessel_route(stops, round(float(self.rng.uniform(35, 45)), 1))
            if route:
                self.add(sid, "go_fast", route, role="suspect", activity="go_fast_run", start_s=onset)
        elif kind == "semi_submersible":
            stops = [lanes[0], lanes[1], lanes[2]]
            route = self.vessel_route(stops, round(float(self.rng.uniform(6, 9)), 1))
            if route:
                self.add(sid, "semi_submersible", route, role="suspect", activity="low_profile_transit", start_s=onset)
        elif kind in ("dark_vessel", "ais_spoofing"):
            lead_s = float(self.rng.uniform(1800, 5400))  # benign-looking lead-in with AIS on
            start = max(onset - lead_s, 0.0)
            speed = round(float(self.rng.uniform(9, 12)), 1)
            p0, p2 = lanes[0], lanes[1]
            route = self.vessel_route([p0, p2, lanes[2]], speed)
            if not route:
                return
            cut = _split_at(route, (onset - start) * speed * KNOT_MPS, "ais_dark" if kind == "dark_vessel" else "ais_spoofing")
            if cut is None:
                return
            route, t_on = cut
            window = {"start_s": round(start + t_on, 1), "end_s": round(self.duration_s + 60.0, 1)}
            if kind == "dark_vessel":
                unit = self.ais("A", 30, off=[window])
                self.add(sid, "fishing", route, role="suspect", start_s=start, ais=unit)
            else:
                span = float(self.rng.uniform(1800, 5400))  # the spoofing ends; the label ends with it
                window["end_s"] = round(min(start + t_on + span, self.duration_s + 60.0), 1)
                back = _split_at(route, (t_on + span) * speed * KNOT_MPS, "transit")
                route = back[0] if back else route
                unit = self.ais("A", 70, spoof=[{**window, "offset_nm": round(float(self.rng.uniform(10, 30)), 1),
                                                 "bearing_deg": round(float(self.rng.uniform(0, 360)), 1)}])
                self.add(sid, "merchant", route, role="suspect", start_s=start, ais=unit)
        elif kind == "rendezvous":
            meet = self.jitter(a.lanes[int(self.rng.integers(len(a.lanes)))], 20000)
            stay = float(self.rng.uniform(1200, 2400))
            speed_log = round(float(self.rng.uniform(8, 11)), 1)
            log_route = self.vessel_route([lanes[0], meet, meet, lanes[1]], speed_log, dwell={1: stay},
                                          labels={1: "rendezvous", 3: "transit"})
            fast_from = self.jitter(a.port, 15000)
            if not log_route:
                return
            d_log = _length_to_label_m(log_route) / (speed_log * KNOT_MPS)
            speed_gf = round(float(self.rng.uniform(30, 40)), 1)
            gf_route = self.vessel_route([fast_from, meet, meet, fast_from], speed_gf, dwell={1: stay - 120.0},
                                         labels={1: "rendezvous", 3: "go_fast_run"})
            if not gf_route:
                return
            d_gf = _length_to_label_m(gf_route) / (speed_gf * KNOT_MPS)
            t_meet = max(onset, d_log, d_gf)
            self.add(sid, "logistics_vessel", log_route, role="suspect", start_s=round(t_meet - d_log, 1),
                     ais=self.ais("A", 30, off=[{"start_s": round(max(t_meet - 1800.0, 0.0), 1),
                                                  "end_s": round(t_meet + stay + 1800.0, 1)}]))
            self.add(f"{sid}-gofast", "go_fast", gf_route, role="suspect", activity="go_fast_run",
                     start_s=round(t_meet - d_gf + 120.0, 1))
        else:  # suspect aircraft: no transponder, from offshore low to an inland strip
            strip = self.strip
            far = _fwd(a.lanes[int(self.rng.integers(len(a.lanes)))], float(self.rng.uniform(0, 360)), 60e3)
            route = [{"lat": round(p[0], 5), "lon": round(p[1], 5), "alt_m": h, "speed_kn": 150.0}
                     for p, h in ((far, 600.0), (a.lanes[0], 300.0), (strip, 0.0))]
            self.add(sid, "light_aircraft", route, role="suspect", activity="no_transponder_low", start_s=onset)


def routed_point(wp: dict[str, Any]) -> LatLon:
    return float(wp["lat"]), float(wp["lon"])


def _fwd(p: LatLon, brg_deg: float, dist_m: float) -> LatLon:
    lon, lat, _ = GEOD.fwd(p[1], p[0], brg_deg, dist_m)
    return round(float(lat), 5), round(float(lon), 5)


def _dist(a: LatLon, b: LatLon) -> float:
    return float(GEOD.inv(a[1], a[0], b[1], b[0])[2])


def _leg_ok(a: LatLon, b: LatLon) -> bool:
    return bool(legs_at_sea(np.array([a[0]]), np.array([a[1]]), np.array([b[0]]), np.array([b[1]]))[0])


def _length_to_label_m(route: Sequence[dict[str, Any]]) -> float:
    """Geodesic length (m) of ``route`` from its start to its first waypoint carrying an ``activity``."""
    total = 0.0
    for k in range(1, len(route)):
        total += _dist(routed_point(route[k - 1]), routed_point(route[k]))
        if "activity" in route[k]:
            break
    return total


def _split_at(route: list[dict[str, Any]], along_m: float, label: str) -> tuple[list[dict[str, Any]], float] | None:
    """``route`` with a waypoint inserted ``along_m`` from its start carrying ``label``, and the time (s)
    to reach it; None if the route is shorter. Routes here have no dwell before the cut."""
    done = 0.0
    t = 0.0
    for k in range(1, len(route)):
        a, b = routed_point(route[k - 1]), routed_point(route[k])
        leg = _dist(a, b)
        speed = float(route[k - 1]["speed_kn"]) * KNOT_MPS
        t += float(route[k - 1].get("dwell_s", 0.0))
        if done + leg > along_m:
            az = float(GEOD.inv(a[1], a[0], b[1], b[0])[0])
            p = _fwd(a, az, along_m - done)
            wp = {"lat": p[0], "lon": p[1], "speed_kn": route[k - 1]["speed_kn"], "activity": label}
            return [*route[:k], wp, *route[k:]], t + (along_m - done) / speed
        done += leg
        t += leg / speed
    return None


def corpus_scenario(area: str, seed: int, *, duration_s: float = CORPUS_DURATION_S, scale: float = 1.0,
                    suspects: int = 1) -> dict[str, Any]:
    """The scenario document of (area, seed): benign traffic x ``scale`` and ``suspects`` suspects of
    seeded kinds and onsets; ``scenario_from_dict`` validates it (docs/SCENARIOS.md)."""
    if area not in AREAS:
        raise ValueError(f"area = {area!r}: must be one of {', '.join(AREAS)}")
    a = AREAS[area]
    b = _Builder(a, seed, duration_s, scale)
    b.merchants()
    b.harbour_craft()
    b.small_craft()
    b.fishing()
    b.aircraft()
    for n in range(suspects):
        first = int(b.rng.integers(len(SUSPECT_KINDS)))
        for k in range(len(SUSPECT_KINDS)):  # a kind whose route cannot be drawn here gives way to the next
            before = len(b.objects)
            b.suspect(n + 1, SUSPECT_KINDS[(first + k) % len(SUSPECT_KINDS)])
            if len(b.objects) > before:
                break
    day = int(b.rng.integers(0, 365))
    hour = int(b.rng.integers(0, 24))
    start = dt.datetime(2025, 1, 1, hour, tzinfo=dt.UTC) + dt.timedelta(days=day)
    return {
        "format_version": 1, "name": f"corpus-{area}-{seed}",
        "description": f"procedural corpus: {area} seed {seed} (sim_feeds/corpus.py)",
        "start": start, "duration_s": duration_s, "seed": seed, "truth_interval_s": 10.0,
        "area": a.box(), "zones": _zones(a, b.strip), "sensors": _sensors(a, duration_s, b.rng), "objects": b.objects,
    }


def _zones(a: CorpusArea, strip: LatLon) -> list[dict[str, Any]]:
    """An anchorage, a port and an airstrip zone (small squares round the nodes and the strip) for the
    zone-aware rules. The strip zone exists whether or not a suspect aircraft flies to it."""
    def square(p: LatLon, half_deg: float) -> list[list[float]]:
        return [[p[1] - half_deg, p[0] - half_deg], [p[1] + half_deg, p[0] - half_deg],
                [p[1] + half_deg, p[0] + half_deg], [p[1] - half_deg, p[0] + half_deg]]
    return [{"name": f"{a.name}-anchorage", "kind": "anchorage", "polygon": square(a.anchorage, 0.04)},
            {"name": f"{a.name}-port", "kind": "port", "polygon": square(a.port, 0.02)},
            {"name": f"{a.name}-strip", "kind": "airstrip", "polygon": square(strip, 0.01)}]


def _sensors(a: CorpusArea, duration_s: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Coastal radar and shore AIS at the port, satellite AIS, an approach radar and ADS-B at the airport, an MPA on station
    for part of the scenario over the lanes (an on-station window)."""
    start = float(rng.uniform(0.0, 0.5) * duration_s)
    lanes = [{"lat": p[0], "lon": p[1]} for p in a.lanes]
    return [
        {"kind": "coastal_radar", "id": "coastal", "lat": a.port[0], "lon": a.port[1], "alt_m": 60.0,
         "coverage": {"range_max_m": 60000.0}, "rotation_s": 4.0, "snr_ref_db": 15.0},
        {"kind": "ais_terrestrial", "id": "shore-ais", "lat": a.port[0], "lon": a.port[1], "range_m": 74000.0,
         "range_class_b_m": 37000.0, "fade_m": 20000.0},
        {"kind": "ais_satellite", "id": "sat-ais"},
        # airport approach radar (ASR class: ~60 nm, 4.8 s rotation), air mode only: sees aircraft without ADS-B
        {"kind": "coastal_radar", "id": "approach", "lat": a.airport[0], "lon": a.airport[1], "alt_m": 30.0,
         "modes": ["air"], "coverage": {"range_max_m": 110000.0}, "rotation_s": 4.8, "snr_ref_db": 20.0},
        {"kind": "adsb_receiver", "id": "adsb", "lat": a.airport[0], "lon": a.airport[1], "range_m": 300000.0},
        {"kind": "mpa_radar", "id": "mpa", "alt_m": 1500.0, "speed_kn": 200.0, "route": [*lanes, lanes[0]],
         "coverage": {"range_max_m": 80000.0}, "rotation_s": 10.0, "snr_ref_db": 16.0,
         "on_station": [{"start_s": round(start, 1), "end_s": round(min(start + 4 * 3600.0, duration_s), 1)}]},
    ]
