"""One tick's tracks of both pools as a single table, with lazily derived geometry. Pure.

N rows, sorted by track id. Positions are local-frame metres; speeds and courses are
true (projected velocity divided by the frame's point scale factor); lat/lon come from
``frame.to_geodetic``. Zone membership, distance to shore, solar elevation and arrival
times are computed on first use and shared by all rules of the tick.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from fusion.core.arrays import (
    NO_ICAO,
    NO_MMSI,
    STATUS_NAMES,
    BoolArray,
    Covariance,
    FloatArray,
    IntArray,
    TrackView,
)
from fusion.core.frame import LocalFrame
from fusion.rules.geo import NoShore, ShoreDistance, solar_elevation_deg
from fusion.rules.zones import GeometryGrid, ZoneSet, project_zones

_BUFFER_QUAD_SEGS = 2  # quarter-circle segments of the exit-margin buffers
BOUNDARY_STEP_M = 250.0  # boundary densification for distances to zones (error <= 125 m)


class ZoneGeometry:
    """Zones projected into the local frame, with cached buffered indexes for margin queries."""

    def __init__(self, zones: ZoneSet, frame: LocalFrame) -> None:
        self.zones = zones
        self.local = project_zones(zones, frame)
        self.frame = frame
        self._near: dict[float, GeometryGrid] = {0.0: zones.index}
        self._tested: dict[float, BoolArray] = {}
        self._boundary: dict[bytes, tuple[cKDTree, IntArray, FloatArray]] = {}
        self._select: dict[tuple[tuple[str, ...], tuple[str, ...]], BoolArray] = {}

    def select(self, kinds: Sequence[str], names: Sequence[str] = ()) -> BoolArray:
        """(Z,) zones chosen by kind or by name (cached; do not modify the result)."""
        key = (tuple(kinds), tuple(names))
        if key not in self._select:
            self._select[key] = self.zones.of_kinds(kinds) | np.isin(np.array(self.zones.names, dtype=str), list(names))
        return self._select[key]

    def near(self, lon: FloatArray, lat: FloatArray, margin_m: float, mask: BoolArray) -> tuple[IntArray, IntArray]:
        """Pairs (point index, zone index), sorted, with the (lon, lat) point within margin_m of a zone of the (Z,) mask.

        Each zone is buffered by margin_m in the local frame and the buffer's vertices are
        converted back to lon/lat, so the tracks' lon/lat serve membership and margins alike.
        The prepared buffers are indexed once per margin (see ``warm``).
        """
        return self._index(margin_m).covering(lon, lat, mask)

    def warm(self, margin_m: float, mask: BoolArray) -> None:
        """Build the index of one margin now rather than on a tick, for a rule that asks for the (Z,) mask's zones."""
        self._index(margin_m)
        self.tested(margin_m, mask)

    def tested(self, margin_m: float, mask: BoolArray) -> BoolArray:
        """(Z,) zones to test at this margin: the union of every mask asked for at it (see ``warm``), so
        that rules sharing a margin and rows share one query (do not modify the result)."""
        done = self._tested.get(margin_m)
        if done is None or (mask & ~done).any():
            self._tested[margin_m] = mask.copy() if done is None else done | mask
        return self._tested[margin_m]

    def _index(self, margin_m: float) -> GeometryGrid:
        if margin_m not in self._near:
            buffered = shapely.buffer(self.local, margin_m, quad_segs=_BUFFER_QUAD_SEGS)
            self._near[margin_m] = GeometryGrid(shapely.make_valid(shapely.transform(buffered, self._to_lonlat)))
        return self._near[margin_m]

    def _to_lonlat(self, xy: FloatArray) -> FloatArray:
        lat, lon = self.frame.to_geodetic(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    def boundary(self, mask: BoolArray) -> tuple[cKDTree, IntArray, FloatArray]:
        """KD-tree of the masked zones' boundary vertices (densified to BOUNDARY_STEP_M), their zone, and coordinates."""
        key = np.packbits(mask).tobytes()
        if key not in self._boundary:
            idx = np.flatnonzero(mask)
            rings = shapely.segmentize(shapely.boundary(self.local[idx]), BOUNDARY_STEP_M)
            xy, owner = shapely.get_coordinates(rings, return_index=True)
            self._boundary[key] = (cKDTree(xy if len(xy) else np.zeros((0, 2))), idx[owner].astype(np.int64), xy)
        return self._boundary[key]


@lru_cache(maxsize=8)
def _scale_table(frame: LocalFrame) -> tuple[FloatArray, FloatArray]:
    lat = np.linspace(max(frame.lat_min - 5.0, -89.0), min(frame.lat_max + 5.0, 89.0), 2001)
    return lat, frame.scale(lat, np.full(lat.shape, 0.5 * (frame.lon_min + frame.lon_max)))


def _lcc_scale(frame: LocalFrame, lat: FloatArray) -> FloatArray:
    """(N,) point scale factor; the frame is a Lambert conformal conic, whose k depends on latitude only."""
    grid, k = _scale_table(frame)
    return np.interp(lat, grid, k)


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
    last_t: FloatArray  # newest measurement (any sensor), s
    last_ais_t: FloatArray
    last_noncoop_t: FloatArray
    spoof_suspect: BoolArray
    rcs_dbsm: FloatArray  # radar cross-section estimate (linear mean of the radar looks), dBsm; NaN: none
    rcs_looks: IntArray  # radar looks in it (0: none)
    lat: FloatArray
    lon: FloatArray
    geometry: ZoneGeometry
    shore: ShoreDistance | NoShore
    zone_active: BoolArray  # (Z,)
    arrival_horizon_s: float  # look-ahead of arrival(): farther zones count as not reachable
    _near_cache: dict[tuple[float, bytes | None, bytes], tuple[IntArray, IntArray]] = field(default_factory=dict)
    _covariances: tuple[Covariance, ...] = ()  # per pool of the build, its on-demand covariance
    _pool: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # (N,) pool of each row
    _pool_row: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # (N,) row in that pool
    _cov: FloatArray | None = None  # (N, 4, 4) state covariances computed so far (``state_cov``)
    _cov_known: BoolArray = field(default_factory=lambda: np.zeros(0, bool))  # (N,) which rows of _cov are computed

    @classmethod
    def build(cls, t: float, views: Mapping[str, TrackView], frame: LocalFrame, statuses: Sequence[str],
              geometry: ZoneGeometry, shore: ShoreDistance | NoShore, arrival_horizon_s: float) -> Scene:
        """Stack the pools, sort by id, convert to geodetic and true velocities."""
        vs = [v for v in views.values() if len(v)]

        def cat(name: str, dtype: type, missing: float = 0) -> NDArray:
            """One column of every pool; a view without it (an optional field left None) gives ``missing``."""
            cols: list[NDArray] = [np.full(len(v), missing, dtype) if getattr(v, name) is None else np.asarray(getattr(v, name), dtype=dtype)
                    for v in vs]
            return np.concatenate(cols) if vs else np.zeros(0, dtype)

        track_id = cat("track_id", np.int64)
        order = np.argsort(track_id, kind="stable")
        x = np.concatenate([v.x for v in vs])[order] if vs else np.zeros((0, 4))
        lat, lon = frame.to_geodetic(x[:, 0], x[:, 1])
        k = _lcc_scale(frame, lat)
        allowed = np.array([STATUS_NAMES.index(s) for s in statuses], dtype=np.int64)
        pool = np.concatenate([np.full(len(v), i, np.int64) for i, v in enumerate(vs)])[order] if vs else np.zeros(0, np.int64)
        pool_row = np.concatenate([np.arange(len(v), dtype=np.int64) for v in vs])[order] if vs else np.zeros(0, np.int64)
        return cls(
            t=float(t), track_id=track_id[order],
            is_air=np.concatenate([np.full(len(v), v.domain == "air") for v in vs])[order] if vs else np.zeros(0, bool),
            eligible=np.isin(cat("status", np.int64)[order], allowed), east=x[:, 0], north=x[:, 1],
            vel=x[:, 2:4] / k[:, None], alt_m=cat("alt_m", np.float64)[order], vrate_mps=cat("vrate_mps", np.float64)[order],
            mmsi=cat("mmsi", np.int64)[order], icao24=cat("icao24", np.int64)[order], first_t=cat("first_t", np.float64)[order],
            last_t=cat("last_t", np.float64)[order], last_ais_t=cat("last_ais_t", np.float64)[order], last_noncoop_t=cat("last_noncoop_t", np.float64)[order],
            spoof_suspect=cat("spoof_suspect", np.bool_)[order], rcs_dbsm=cat("rcs_dbsm", np.float64, np.nan)[order],
            rcs_looks=cat("rcs_looks", np.int64)[order], lat=lat, lon=lon, geometry=geometry, shore=shore,
            zone_active=geometry.zones.active(t), arrival_horizon_s=arrival_horizon_s,
            _covariances=tuple(v.covariance for v in vs), _pool=pool, _pool_row=pool_row,
        )

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    def rows_of(self, ids: IntArray) -> IntArray:
        """Row index of each track id (ids must be present)."""
        return np.searchsorted(self.track_id, ids).astype(np.int64)

    def state_cov(self, rows: IntArray) -> FloatArray:
        """(K, 4, 4) covariance of the local-frame state (east, north m; v_east, v_north m/s) of track ``rows`` (K,),
        predicted to t (computed on demand by the pools, ``TrackView.covariance``, once per track and tick: a track in
        many pairs is predicted once)."""
        if self._cov is None:
            self._cov, self._cov_known = np.zeros((len(self), 4, 4)), np.zeros(len(self), bool)
        missing = np.zeros(len(self), bool)  # a mask, not np.unique: O(N + K), and a pair search asks for K >> N rows
        missing[rows[~self._cov_known[rows]]] = True
        need = np.flatnonzero(missing)
        pools = self._pool[need]
        for p in np.unique(pools):
            sel = need[pools == p]
            self._cov[sel] = self._covariances[int(p)](self._pool_row[sel])
        self._cov_known[need] = True
        return self._cov[rows]

    def position_cov(self, rows: IntArray) -> FloatArray:
        """(K, 2, 2) east/north position covariance (local frame, m^2) of track ``rows`` (K,), predicted to t."""
        return self.state_cov(rows)[:, :2, :2]

    def speed_sigma_mps(self, rows: IntArray) -> FloatArray:
        """(K,) standard deviation of the true ground speed of track ``rows`` (K,), m/s: the velocity covariance
        along the course, u' P_v u / k^2 (u the unit velocity, k the frame's point scale factor); along east
        for a track at rest."""
        p_v = self.state_cov(rows)[:, 2:4, 2:4]
        v = self.vel[rows]
        speed = np.hypot(v[:, 0], v[:, 1])
        u = np.where(speed[:, None] > 0.0, v / np.where(speed > 0.0, speed, 1.0)[:, None], np.array([1.0, 0.0]))
        k = _lcc_scale(self.geometry.frame, self.lat[rows])
        return np.sqrt(np.maximum(np.einsum("ki,kij,kj->k", u, p_v, u), 0.0)) / k

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

    def inside(self, mask: BoolArray) -> tuple[IntArray, IntArray]:
        """Pairs (row, zone), sorted, with the track inside an active zone of the (Z,) mask (lon/lat covers: edge inside)."""
        return self.near_zones(mask, 0.0)

    def in_zones(self, mask: BoolArray) -> BoolArray:
        """(N,) inside any active zone of the (Z,) mask."""
        out = np.zeros(len(self), dtype=bool)
        out[self.inside(mask)[0]] = True
        return out

    def near_zones(self, mask: BoolArray, margin_m: float, rows: IntArray | None = None) -> tuple[IntArray, IntArray]:
        """Pairs (row, zone) within margin_m of an active zone of the (Z,) mask (0: inside); optionally only for
        ``rows`` (ascending: pairs sorted). Computed once per tick for the zones every rule asks for at that margin
        (``ZoneGeometry.tested``)."""
        tested = self.geometry.tested(margin_m, mask)
        key = (float(margin_m), None if rows is None else rows.tobytes(), tested.tobytes())
        if key not in self._near_cache:
            sel = np.arange(len(self)) if rows is None else rows
            p, z = self.geometry.near(self.lon[sel], self.lat[sel], margin_m, tested & self.zone_active)
            self._near_cache[key] = (sel[p], z)
        r, z = self._near_cache[key]
        keep = mask[z]
        return r[keep], z[keep]

    @cached_property
    def shore_m(self) -> FloatArray:
        """(N,) distance to shore, metres (inf when unknown)."""
        return self.shore.at(self.east, self.north)

    @cached_property
    def sun_elevation_deg(self) -> FloatArray:
        """(N,) solar elevation at each track."""
        return solar_elevation_deg(self.t, self.lat, self.lon)

    def arrival(self, mask_surface: BoolArray, mask_air: BoolArray, min_speed_mps: float, rows: IntArray
                ) -> tuple[FloatArray, IntArray, FloatArray]:
        """Time to arrive at the nearest active zone (surface tracks: mask_surface, air: mask_air), for ``rows``.

        Distance is to the nearest boundary vertex (densified every BOUNDARY_STEP_M), looked up
        within ``arrival_horizon_s`` at the current speed; tracks inside a zone get 0.
        Returns, per row (R,): time to arrival s along the closing speed (inf if none, slower
        than min_speed_mps, or not closing), zone index (-1), off-course angle degrees (NaN).
        """
        tta = np.full(len(rows), np.inf)
        zone = np.full(len(rows), -1, np.int64)
        off = np.full(len(rows), np.nan)
        row_in, zone_in = self.inside(mask_surface | mask_air)
        for air, mask in ((False, mask_surface), (True, mask_air)):
            sel = np.flatnonzero((self.speed_mps[rows] >= min_speed_mps) & (self.is_air[rows] == air))
            if not len(sel) or not mask.any():
                continue
            r = rows[sel]
            tree, owner, xy = self.geometry.boundary(mask)
            reach = self.speed_mps[r] * self.arrival_horizon_s
            dist, j = tree.query(np.column_stack([self.east[r], self.north[r]]), distance_upper_bound=float(reach.max()))
            ok = np.isfinite(dist) & (dist <= reach)
            ok[ok] &= self.zone_active[owner[j[ok]]]
            sel, r, j, dist = sel[ok], r[ok], j[ok], dist[ok]
            vec = xy[j] - np.column_stack([self.east[r], self.north[r]])
            cos_off = (vec * self.vel[r]).sum(axis=1) / np.maximum(dist * self.speed_mps[r], 1e-9)
            closing = self.speed_mps[r] * cos_off
            tta[sel] = np.where(closing > 0, dist / np.maximum(closing, 1e-9), np.inf)
            zone[sel] = owner[j]
            off[sel] = np.degrees(np.arccos(np.clip(cos_off, -1.0, 1.0)))
        hit = mask_air[zone_in] & self.is_air[row_in] | mask_surface[zone_in] & ~self.is_air[row_in]
        at = np.full(len(self), -1, np.int64)  # row -> position in rows
        at[rows] = np.arange(len(rows))
        idx = at[row_in[hit]]
        found = idx >= 0
        tta[idx[found]], off[idx[found]], zone[idx[found]] = 0.0, 0.0, zone_in[hit][found]
        return tta, zone, off
