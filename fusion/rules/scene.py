"""One tick's tracks of both pools as a single table, with lazily derived geometry. Pure.

N rows, sorted by track id. Positions are local-frame metres; speeds and courses are
true (projected velocity divided by the frame's point scale factor); lat/lon come from
``frame.to_geodetic``. Zone membership, distance to shore, solar elevation and arrival
times are computed on first use and shared by all rules of the tick.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from numpy.typing import NDArray

from fusion.core.arrays import NO_ICAO, NO_MMSI, STATUS_NAMES, BoolArray, Domain, FloatArray, IntArray, TrackView
from fusion.core.frame import LocalFrame
from fusion.rules.geo import NoShore, ShoreDistance, solar_elevation_deg
from fusion.rules.zones import ZoneSet, project_zones

_BUFFER_QUAD_SEGS = 2  # quarter-circle segments of the exit-margin buffers


class ZoneGeometry:
    """Zones projected into the local frame, with cached buffered indexes for margin queries."""

    def __init__(self, zones: ZoneSet, frame: LocalFrame) -> None:
        self.zones = zones
        self.local = project_zones(zones, frame)
        self._near: dict[tuple[bytes, float], tuple[shapely.STRtree, IntArray]] = {}
        self._plain: dict[bytes, tuple[shapely.STRtree, IntArray]] = {}

    def select(self, kinds: Sequence[str], names: Sequence[str] = ()) -> BoolArray:
        """(Z,) zones chosen by kind or by name."""
        return self.zones.of_kinds(kinds) | np.isin(np.array(self.zones.names, dtype=str), list(names))

    def near(self, east: FloatArray, north: FloatArray, mask: BoolArray, margin_m: float) -> tuple[IntArray, IntArray]:
        """Pairs (point index, zone index) with the point within margin_m of a masked zone (local frame)."""
        cache_key = (np.packbits(mask).tobytes(), float(margin_m))
        if cache_key not in self._near:
            idx = np.flatnonzero(mask)
            geoms = shapely.buffer(self.local[idx], margin_m, quad_segs=_BUFFER_QUAD_SEGS) if margin_m > 0 else self.local[idx]
            shapely.prepare(geoms)
            self._near[cache_key] = (shapely.STRtree(geoms), idx)
        tree, idx = self._near[cache_key]
        if len(east) == 0 or len(idx) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        p, z = tree.query(shapely.points(east, north), predicate="covered_by")
        return p.astype(np.int64), idx[z].astype(np.int64)

    def nearest(self, east: FloatArray, north: FloatArray, mask: BoolArray, max_m: FloatArray
                ) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """Nearest masked zone per point within max_m (N,): (point idx, zone idx, dist_m, bearing vector (P, 2))."""
        key = np.packbits(mask).tobytes()
        if key not in self._plain:
            idx = np.flatnonzero(mask)
            self._plain[key] = (shapely.STRtree(self.local[idx]), idx)
        tree, idx = self._plain[key]
        empty = np.zeros(0, np.int64)
        if len(east) == 0 or len(idx) == 0:
            return empty, empty, np.zeros(0), np.zeros((0, 2))
        pts = shapely.points(east, north)
        pairs, dist = tree.query_nearest(pts, max_distance=float(np.max(max_m)), return_distance=True, all_matches=False)
        p, z = pairs[0].astype(np.int64), pairs[1].astype(np.int64)
        keep = dist <= max_m[p]
        p, z, dist = p[keep], z[keep], dist[keep]
        line = shapely.shortest_line(pts[p], tree.geometries[z])
        ends = shapely.get_coordinates(line).reshape(-1, 2, 2)
        return p, idx[z].astype(np.int64), dist, ends[:, 1, :] - ends[:, 0, :]


@dataclass
class Scene:
    """Tracks of both pools at time t, N rows sorted by track id (see module docstring)."""

    t: float
    track_id: IntArray
    is_air: BoolArray
    eligible: BoolArray  # status allowed to raise alerts
    east: FloatArray
    north: FloatArray
    vel: FloatArray  # (N, 2) true m/s east, north
    alt_m: FloatArray
    vrate_mps: FloatArray
    mmsi: IntArray
    icao24: IntArray
    first_t: FloatArray
    last_ais_t: FloatArray
    last_noncoop_t: FloatArray
    spoof_suspect: BoolArray
    lat: FloatArray
    lon: FloatArray
    geometry: ZoneGeometry
    shore: ShoreDistance | NoShore
    zone_active: BoolArray  # (Z,)

    @classmethod
    def build(cls, t: float, views: Mapping[Domain, TrackView], frame: LocalFrame, statuses: Sequence[str],
              geometry: ZoneGeometry, shore: ShoreDistance | NoShore) -> Scene:
        """Stack the pools, sort by id, convert to geodetic and true velocities."""
        vs = [v for v in views.values() if len(v)]

        def cat(name: str, dtype: type) -> NDArray:
            return np.concatenate([np.asarray(getattr(v, name), dtype=dtype) for v in vs]) if vs else np.zeros(0, dtype)

        track_id = cat("track_id", np.int64)
        order = np.argsort(track_id, kind="stable")
        x = np.concatenate([v.x for v in vs])[order] if vs else np.zeros((0, 4))
        lat, lon = frame.to_geodetic(x[:, 0], x[:, 1])
        k = frame.scale(lat, lon) if len(x) else np.ones(0)
        allowed = np.array([STATUS_NAMES.index(s) for s in statuses], dtype=np.int64)
        return cls(
            t=float(t), track_id=track_id[order],
            is_air=np.concatenate([np.full(len(v), v.domain == "air") for v in vs])[order] if vs else np.zeros(0, bool),
            eligible=np.isin(cat("status", np.int64)[order], allowed), east=x[:, 0], north=x[:, 1],
            vel=x[:, 2:4] / k[:, None], alt_m=cat("alt_m", np.float64)[order], vrate_mps=cat("vrate_mps", np.float64)[order],
            mmsi=cat("mmsi", np.int64)[order], icao24=cat("icao24", np.int64)[order], first_t=cat("first_t", np.float64)[order],
            last_ais_t=cat("last_ais_t", np.float64)[order], last_noncoop_t=cat("last_noncoop_t", np.float64)[order],
            spoof_suspect=cat("spoof_suspect", np.bool_)[order], lat=lat, lon=lon, geometry=geometry, shore=shore,
            zone_active=geometry.zones.active(t),
        )

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    def rows_of(self, ids: IntArray) -> IntArray:
        """Row index of each track id (ids must be present)."""
        return np.searchsorted(self.track_id, ids).astype(np.int64)

    @cached_property
    def speed_mps(self) -> FloatArray:
        """(N,) true ground speed."""
        return np.hypot(self.vel[:, 0], self.vel[:, 1])

    @cached_property
    def course_deg(self) -> FloatArray:
        """(N,) course over ground, degrees clockwise from north."""
        return np.degrees(np.arctan2(self.vel[:, 0], self.vel[:, 1])) % 360.0

    @cached_property
    def unidentified(self) -> BoolArray:
        """(N,) no identity of the track's own domain (MMSI for surface, ICAO for air)."""
        return np.where(self.is_air, self.icao24 == NO_ICAO, self.mmsi == NO_MMSI)

    @cached_property
    def inside(self) -> tuple[IntArray, IntArray]:
        """Pairs (row, zone) with the track inside an active zone (lon/lat covers: edge inside)."""
        return self.geometry.zones.covering(self.lat, self.lon, self.zone_active)

    def in_zones(self, mask: BoolArray) -> BoolArray:
        """(N,) inside any active zone of the (Z,) mask."""
        row, zone = self.inside
        out = np.zeros(len(self), dtype=bool)
        out[row[mask[zone]]] = True
        return out

    def near_zones(self, mask: BoolArray, margin_m: float, rows: IntArray | None = None) -> tuple[IntArray, IntArray]:
        """Pairs (row, zone) within margin_m of an active masked zone; optionally only for ``rows``."""
        rows = np.arange(len(self)) if rows is None else rows
        p, z = self.geometry.near(self.east[rows], self.north[rows], mask & self.zone_active, margin_m)
        return rows[p], z

    @cached_property
    def shore_m(self) -> FloatArray:
        """(N,) distance to shore, metres (inf when unknown)."""
        return self.shore.at(self.east, self.north)

    @cached_property
    def sun_elevation_deg(self) -> FloatArray:
        """(N,) solar elevation at each track."""
        return solar_elevation_deg(self.t, self.lat, self.lon)

    def arrival(self, mask_surface: BoolArray, mask_air: BoolArray, horizon_s: float, min_speed_mps: float,
                max_off_course_deg: float) -> tuple[FloatArray, IntArray, FloatArray]:
        """Time to arrive at the nearest zone (surface tracks: mask_surface, air: mask_air).

        Returns (N,) time-to-arrival s (inf if none within horizon_s at current speed or off
        course by more than max_off_course_deg; 0 inside), (N,) zone index (-1), (N,) off-course deg.
        """
        tta = np.full(len(self), np.inf)
        zone = np.full(len(self), -1, np.int64)
        off = np.full(len(self), np.nan)
        moving = self.speed_mps >= min_speed_mps
        for air, mask in ((False, mask_surface), (True, mask_air)):
            rows = np.flatnonzero(moving & (self.is_air == air))
            if not len(rows) or not mask.any():
                continue
            p, z, dist, vec = self.geometry.nearest(self.east[rows], self.north[rows], mask & self.zone_active,
                                                    self.speed_mps[rows] * horizon_s)
            r = rows[p]
            norm = np.hypot(vec[:, 0], vec[:, 1])
            cos_off = np.where(norm > 0, (vec * self.vel[r]).sum(axis=1) / np.maximum(norm * self.speed_mps[r], 1e-9), 1.0)
            off_deg = np.degrees(np.arccos(np.clip(cos_off, -1.0, 1.0)))
            ok = off_deg <= max_off_course_deg
            tta[r[ok]] = dist[ok] / (self.speed_mps[r[ok]] * cos_off[ok])
            zone[r] = z
            off[r] = off_deg
        return tta, zone, off
