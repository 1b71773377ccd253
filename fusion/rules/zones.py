"""Zones: GeoJSON polygons with a name, a kind and an optional schedule, and vectorised membership.

Geometry interpretation (RFC 7946 section 3.1.1): a polygon edge is a straight line in
(longitude, latitude). Membership is therefore decided in lon/lat, exactly for that
interpretation: a track is converted to geodetic coordinates with the tracker's frame
and tested with ``covers``, so a point on an edge or a vertex counts as inside.
Distances to zones and hysteresis margins use a copy of each polygon densified in
lon/lat (``DENSIFY_DEG``) and projected into the local metric frame, which follows the
lon/lat-straight edges to well under a metre per kilometre of edge.
Antimeridian-crossing polygons are not supported (the frame spans -180..180).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from fusion.core.arrays import BoolArray, FloatArray, IntArray
from fusion.core.frame import LocalFrame

ZONE_KINDS: tuple[str, ...] = (
    "territorial_sea",
    "eez",
    "transit_corridor",
    "landing_zone",
    "airstrip",
    "port",
    "anchorage",
    "exclusion",
)
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DENSIFY_DEG = 0.05  # lon/lat edge length above which edges are split before projecting
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ZoneFileError(ValueError):
    """A zones file or object was refused; the message names the source, the feature and the field."""

    def __init__(self, source: str, feature: str, field: str, reason: str) -> None:
        self.source, self.feature, self.field, self.reason = source, feature, field, reason
        super().__init__(f"{source}: {feature}: {field}: {reason}")


@dataclass(frozen=True)
class ScheduleWindow:
    """A daily UTC time window during which a zone is active; ``end < start`` wraps past midnight."""

    start_min: int  # minutes after 00:00 UTC
    end_min: int
    days: tuple[int, ...]  # 0 = Monday; the day on which the window starts


@dataclass(frozen=True)
class Zone:
    """One zone: name, kind, lon/lat geometry and schedule (empty = always active)."""

    name: str
    kind: str
    geometry: shapely.Geometry  # Polygon or MultiPolygon, lon/lat degrees
    schedule: tuple[ScheduleWindow, ...] = ()


@dataclass(frozen=True)
class ZoneSet:
    """An ordered set of zones; zone index z is the position in ``zones``."""

    zones: tuple[Zone, ...]
    source: str = "<zones>"
    index: GeometryGrid = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", GeometryGrid(np.array([z.geometry for z in self.zones], dtype=object)))

    def __len__(self) -> int:
        return len(self.zones)

    @property
    def names(self) -> list[str]:
        """Zone names in index order."""
        return [z.name for z in self.zones]

    @cached_property
    def kinds(self) -> NDArray[np.str_]:
        """(Z,) zone kind names."""
        return np.array([z.kind for z in self.zones], dtype=str)

    def of_kinds(self, kinds: Sequence[str]) -> BoolArray:
        """(Z,) True where the zone's kind is one of ``kinds``."""
        return np.isin(self.kinds, list(kinds)) if len(self.zones) else np.zeros(0, dtype=bool)

    @classmethod
    def from_geojson(cls, obj: Mapping[str, Any], source_name: str) -> ZoneSet:
        """Validate a GeoJSON FeatureCollection (dict) of zones; errors name ``source_name``."""
        if not isinstance(obj, Mapping) or obj.get("type") != "FeatureCollection":
            raise ZoneFileError(source_name, "document", "type", "must be a GeoJSON FeatureCollection")
        features = obj.get("features")
        if not isinstance(features, list):
            raise ZoneFileError(source_name, "document", "features", f"must be a list, got {type(features).__name__}")
        zones = [_parse_feature(source_name, i, f) for i, f in enumerate(features)]
        seen: dict[str, int] = {}
        for i, z in enumerate(zones):
            if z.name in seen:
                raise ZoneFileError(source_name, f"features[{i}] ({z.name!r})", "properties.name",
                                    f"duplicate zone name (also features[{seen[z.name]}])")
            seen[z.name] = i
        return cls(tuple(zones), source_name)

    def active(self, t: float) -> BoolArray:
        """(Z,) True where the zone's schedule is active at Unix time ``t`` (no schedule = always)."""
        out = np.ones(len(self.zones), dtype=bool)
        minute = int(t // 60) % 1440
        day = (int(t // 86400) + 3) % 7  # 1970-01-01 was a Thursday
        for z_idx in self.scheduled:
            out[z_idx] = any(_window_on(w, minute, day) for w in self.zones[z_idx].schedule)
        return out

    @cached_property
    def scheduled(self) -> tuple[int, ...]:
        """Indices of the zones with a schedule."""
        return tuple(z_idx for z_idx, zone in enumerate(self.zones) if zone.schedule)

    def covering(self, lat: FloatArray, lon: FloatArray, zone_mask: BoolArray | None = None) -> tuple[IntArray, IntArray]:
        """Pairs (track index (P,), zone index (P,)) where zone covers the point (edge inside), sorted.

        lat, lon: (N,) degrees. ``zone_mask`` (Z,) restricts the zones considered.
        """
        return self.index.covering(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64), zone_mask)


class GeometryGrid:
    """Prepared lon/lat geometries with their bounding boxes binned on a uniform grid: which
    geometries cover each of many points, without creating a shapely object per point.

    A point's grid cell lists the geometries whose box overlaps the cell; the box test then the
    exact test (``shapely.intersects_xy`` on the prepared geometry: for a point, intersecting is
    being covered, so an edge or vertex counts as inside) run on those candidate pairs only.
    Cells are about the median geometry extent (at most ``MAX_AXIS_CELLS`` per axis); geometries
    spanning more than ``MAX_GEOM_CELLS`` cells are box-tested against every point instead.
    """

    MAX_AXIS_CELLS = 512
    MAX_GEOM_CELLS = 64

    def __init__(self, geoms: NDArray[np.object_]) -> None:
        self.geoms = geoms
        shapely.prepare(geoms)
        self.bounds = shapely.bounds(geoms).reshape(-1, 4)  # minx, miny, maxx, maxy; NaN when empty
        usable = np.all(np.isfinite(self.bounds), axis=1)
        b = self.bounds[usable]
        self.origin = b[:, :2].min(axis=0) if len(b) else np.zeros(2)
        span = (b[:, 2:].max(axis=0) - self.origin) if len(b) else np.zeros(2)
        extent = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) if len(b) else np.zeros(0)
        self.cell = float(max(np.median(extent) if len(b) else 0.0, span.max() / self.MAX_AXIS_CELLS, 1e-9))
        self.shape = (np.floor(span / self.cell).astype(np.int64) + 1) if len(b) else np.zeros(2, np.int64)
        lo = np.floor(np.column_stack(self._grid(self.bounds[usable, 0], self.bounds[usable, 1]))).astype(np.int64)
        hi = np.floor(np.column_stack(self._grid(self.bounds[usable, 2], self.bounds[usable, 3]))).astype(np.int64)
        wide = hi - lo + 1
        count = wide[:, 0] * wide[:, 1]
        small = count <= self.MAX_GEOM_CELLS
        self.big = np.flatnonzero(usable)[~small]
        g = np.repeat(np.flatnonzero(usable)[small], count[small])  # one row per (geometry, cell it overlaps)
        lo, wide, count = np.repeat(lo[small], count[small], axis=0), np.repeat(wide[small], count[small], axis=0), count[small]
        k = np.arange(len(g)) - np.repeat(np.cumsum(count) - count, count)
        cell = (lo[:, 1] + k // np.maximum(wide[:, 0], 1)) * self.shape[0] + lo[:, 0] + k % np.maximum(wide[:, 0], 1)
        order = np.argsort(cell, kind="stable")
        self.cell_geoms = g[order].astype(np.int64)
        self.cell_start = np.searchsorted(cell[order], np.arange(int(np.prod(self.shape)) + 1)).astype(np.int64)

    def _grid(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(N,) fractional grid column and row of each point (cell (c, r) spans [c, c + 1) x [r, r + 1))."""
        return (x - self.origin[0]) / self.cell, (y - self.origin[1]) / self.cell

    def covering(self, x: FloatArray, y: FloatArray, mask: BoolArray | None = None) -> tuple[IntArray, IntArray]:
        """Pairs (point index, geometry index), sorted, where the geometry covers (x, y) (lon, lat);
        only geometries of the (G,) ``mask`` are tested."""
        n = len(x)
        if n == 0 or len(self.geoms) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        fc, fr = self._grid(x, y)
        on = np.flatnonzero((fc >= 0) & (fc < self.shape[0]) & (fr >= 0) & (fr < self.shape[1]))  # NaN is off the grid
        cell = fr[on].astype(np.int64) * self.shape[0] + fc[on].astype(np.int64)
        first, many = self.cell_start[cell], self.cell_start[cell + 1] - self.cell_start[cell]
        pt = np.repeat(on, many)
        geom = self.cell_geoms[np.arange(len(pt)) - np.repeat(np.cumsum(many) - many - first, many)]
        big = self.big
        if mask is not None:
            keep = mask[geom]
            pt, geom, big = pt[keep], geom[keep], big[mask[big]]
        b, px, py = self.bounds[geom], x[pt], y[pt]
        keep = (px >= b[:, 0]) & (px <= b[:, 2]) & (py >= b[:, 1]) & (py <= b[:, 3])
        pt, geom = pt[keep], geom[keep]
        if len(big):
            b = self.bounds[big]
            hit_p, hit_b = np.nonzero((x[:, None] >= b[:, 0]) & (x[:, None] <= b[:, 2]) & (y[:, None] >= b[:, 1]) & (y[:, None] <= b[:, 3]))
            pt, geom = np.concatenate([pt, hit_p]), np.concatenate([geom, big[hit_b]])
        inside = shapely.intersects_xy(self.geoms[geom], x[pt], y[pt])
        pt, geom = pt[inside], geom[inside]
        order = np.lexsort((geom, pt))
        return pt[order], geom[order]


def _window_on(w: ScheduleWindow, minute: int, day: int) -> bool:
    if w.start_min <= w.end_min:
        return w.start_min <= minute < w.end_min and day in w.days
    return (minute >= w.start_min and day in w.days) or (minute < w.end_min and (day - 1) % 7 in w.days)


def load_zones(path: Path | str) -> ZoneSet:
    """Read and validate a GeoJSON FeatureCollection zones file."""
    p = Path(path)
    try:
        obj = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ZoneFileError(str(p), "document", "file", f"cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ZoneFileError(str(p), "document", f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}") from exc
    return ZoneSet.from_geojson(obj, str(p))


def _parse_feature(source: str, i: int, feat: object) -> Zone:
    if not isinstance(feat, Mapping):
        raise ZoneFileError(source, f"features[{i}]", "feature", f"must be an object, got {type(feat).__name__}")
    props = feat.get("properties")
    if not isinstance(props, Mapping):
        raise ZoneFileError(source, f"features[{i}]", "properties", "must be an object with name and kind")
    name = props.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ZoneFileError(source, f"features[{i}]", "properties.name", f"must be a non-empty string, got {name!r}")
    where = f"features[{i}] ({name!r})"
    kind = props.get("kind")
    if kind not in ZONE_KINDS:
        raise ZoneFileError(source, where, "properties.kind", f"unknown kind {kind!r}; expected one of {', '.join(ZONE_KINDS)}")
    geom = _parse_geometry(source, where, feat.get("geometry"))
    schedule = _parse_schedule(source, where, props.get("schedule"))
    return Zone(name=name, kind=str(kind), geometry=geom, schedule=schedule)


def _parse_geometry(source: str, where: str, g: object) -> shapely.Geometry:
    if not isinstance(g, Mapping) or g.get("type") not in ("Polygon", "MultiPolygon"):
        got = g.get("type") if isinstance(g, Mapping) else type(g).__name__
        raise ZoneFileError(source, where, "geometry.type", f"must be Polygon or MultiPolygon, got {got!r}")
    try:
        geom = shapely.from_geojson(json.dumps(g))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise ZoneFileError(source, where, "geometry.coordinates", f"not a valid {g['type']}: {exc}") from exc
    if geom.is_empty:
        raise ZoneFileError(source, where, "geometry.coordinates", "empty geometry")
    coords = shapely.get_coordinates(geom)
    if not np.all(np.isfinite(coords)):
        raise ZoneFileError(source, where, "geometry.coordinates", "non-finite coordinate")
    bad = (np.abs(coords[:, 0]) > 180.0) | (np.abs(coords[:, 1]) > 90.0)
    if bad.any():
        lon, lat = coords[np.argmax(bad)]
        raise ZoneFileError(source, where, "geometry.coordinates", f"position [{lon}, {lat}] outside lon [-180, 180], lat [-90, 90]")
    if not shapely.is_valid(geom):
        raise ZoneFileError(source, where, "geometry", f"invalid polygon: {shapely.is_valid_reason(geom)}")
    return geom


def _parse_schedule(source: str, where: str, sched: object) -> tuple[ScheduleWindow, ...]:
    if sched is None:
        return ()
    if not isinstance(sched, list) or not sched:
        raise ZoneFileError(source, where, "properties.schedule", "must be a non-empty list of {start, end, days} windows")
    windows = []
    for j, w in enumerate(sched):
        fld = f"properties.schedule[{j}]"
        if not isinstance(w, Mapping) or set(w) - {"start", "end", "days"}:
            raise ZoneFileError(source, where, fld, f"must be an object with start, end (HH:MM UTC) and optional days, got {w!r}")
        mins = []
        for key in ("start", "end"):
            m = _HHMM.match(str(w.get(key, "")))
            if not isinstance(w.get(key), str) or m is None:
                raise ZoneFileError(source, where, f"{fld}.{key}", f"must be 'HH:MM' (UTC), got {w.get(key)!r}")
            mins.append(int(m.group(1)) * 60 + int(m.group(2)))
        days = w.get("days", list(WEEKDAYS))
        if not isinstance(days, list) or not days or any(d not in WEEKDAYS for d in days):
            raise ZoneFileError(source, where, f"{fld}.days", f"must be a non-empty list of {', '.join(WEEKDAYS)}, got {days!r}")
        if mins[0] == mins[1]:
            raise ZoneFileError(source, where, fld, "start and end are equal; omit the schedule for an always-active zone")
        windows.append(ScheduleWindow(mins[0], mins[1], tuple(WEEKDAYS.index(d) for d in days)))
    return tuple(windows)


def project_zones(zones: ZoneSet, frame: LocalFrame) -> NDArray[np.object_]:
    """(Z,) zone polygons densified in lon/lat and projected into the local frame (metres)."""
    if len(zones) == 0:
        return np.zeros(0, dtype=object)
    geoms = shapely.segmentize(np.array([z.geometry for z in zones.zones], dtype=object), DENSIFY_DEG)

    def to_local(xy: FloatArray) -> FloatArray:
        e, n = frame.to_local(xy[:, 1], xy[:, 0])
        return np.column_stack([e, n])

    local = shapely.transform(geoms, to_local)
    return shapely.make_valid(local)
