"""Pictures of a run: the track picture over the area, and the metrics over time (matplotlib, Agg canvas).

``plot_picture``: land and coastline from the global_land_mask grid shipped with that
package (1 km GLOBE data, no download), zones from zones.geojson, truth paths (suspects
in red), track paths coloured by identity (MMSI, else ICAO address, else track id: one
vessel keeps one colour across track ids), alerts marked by rule.
``plot_metrics``: GOSPA with its localisation/missed/false split, and object/track
counts, per domain over time, from metrics_series.jsonl (computed if missing).
"""

from __future__ import annotations

import argparse
import colorsys
import importlib.util
import json
import struct
import sys
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon as PolygonPatch
from numpy.typing import NDArray

from fusion.core.arrays import NO_ICAO, NO_MMSI
from fusion.metrics import (
    ALERTS_FILE,
    SERIES_FILE,
    TRACKS_FILE,
    TRUTH_FILE,
    Codebook,
    FloatArray,
    IntArray,
    TrackColumns,
    evaluate_dir,
    read_alerts,
    read_tracks,
    read_truth,
)

ZONES_FILE = "zones.geojson"
LAND_COLOUR = "#d9cfb4"
SEA_COLOUR = "#eaf2f8"
COAST_COLOUR = "#6b6250"
_MAX_PATH_POINTS = 400_000  # per layer; longer runs are drawn with every n-th point
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
_DPI = 100


def _figure(width_px: int, height_px: int) -> Figure:
    if width_px < 200 or height_px < 150:
        raise ValueError(f"image size = {width_px}x{height_px} px: must be at least 200x150")
    return Figure(figsize=(width_px / _DPI, height_px / _DPI), dpi=_DPI)  # no pyplot: no global state


def _save(fig: Figure, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=_DPI)  # Agg canvas; no bbox_inches: the image keeps the stated pixel size
    return out


def identity_colour(key: str) -> tuple[float, float, float]:
    """A stable, well-spread RGB colour for an identity string (same key, same colour)."""
    h = zlib.crc32(key.encode("utf-8"))
    hue = (h & 0xFFFF) / 0x10000
    sat = 0.55 + 0.4 * ((h >> 16) & 0xFF) / 0xFF
    val = 0.55 + 0.35 * ((h >> 24) & 0xFF) / 0xFF
    return colorsys.hsv_to_rgb(hue, sat, val)


def _paths(group: IntArray, t: FloatArray, lon: FloatArray, lat: FloatArray) -> tuple[list[FloatArray], IntArray]:
    """Rows grouped into per-group (n_i, 2) lon/lat paths in time order; returns (paths, group of each path)."""
    order = np.lexsort((t, group))
    step = max(1, order.size // _MAX_PATH_POINTS)
    order = order[::step]
    if order.size == 0:
        return [], np.zeros(0, dtype=np.int64)
    g = group[order]
    cuts = np.flatnonzero(np.diff(g)) + 1
    xy = np.column_stack([lon[order], lat[order]])
    return np.split(xy, cuts), g[np.concatenate([[0], cuts])]


def _area(lats: Sequence[FloatArray], lons: Sequence[FloatArray]) -> tuple[float, float, float, float]:
    lat = np.concatenate([a[np.isfinite(a)] for a in lats])
    lon = np.concatenate([a[np.isfinite(a)] for a in lons])
    if lat.size == 0:
        raise ValueError("nothing to draw: no positions in truth, tracks, alerts or zones")
    pad_lat = max(0.05, 0.05 * float(np.ptp(lat)))
    pad_lon = max(0.05, 0.05 * float(np.ptp(lon)))
    return (max(float(lat.min()) - pad_lat, -89.0), min(float(lat.max()) + pad_lat, 89.0),
            max(float(lon.min()) - pad_lon, -180.0), min(float(lon.max()) + pad_lon, 180.0))


def land_mask(lats: FloatArray, lons: FloatArray) -> NDArray[np.bool_]:
    """Land (True) at the grid lats (n_lat,) x lons (n_lon,) degrees -> (n_lat, n_lon) bool.

    Reads the 1 km GLOBE ocean mask that ships with the global_land_mask package, inflating its
    compressed rows in order and keeping only the rows asked for: importing that package
    instead would decompress the whole 1 GB grid into memory.
    """
    spec = importlib.util.find_spec("global_land_mask")
    if spec is None or spec.origin is None:
        raise OSError("global_land_mask is not installed: no coastline data")
    path = Path(spec.origin).parent / "globe_combined_mask_compressed.npz"
    with zipfile.ZipFile(path) as z:
        grid_lat = np.load(z.open("lat.npy"))
        grid_lon = np.load(z.open("lon.npy"))
        info = z.getinfo("mask.npy")
        if info.compress_type != zipfile.ZIP_DEFLATED:
            raise OSError(f"{path}: mask.npy compress_type = {info.compress_type}: expected deflate")
    # cell lookup as global_land_mask.globe does it
    rows = np.clip(np.floor((lats - grid_lat[0]) / (grid_lat[1] - grid_lat[0])), 0, grid_lat.size - 1).astype(np.int64)
    cols = np.clip(np.floor((lons - grid_lon[0]) / (grid_lon[1] - grid_lon[0])), 0, grid_lon.size - 1).astype(np.int64)
    with path.open("rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)  # zip local file header; name and extra lengths at bytes 26..30
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        compressed = f.read(info.compress_size)
    inflate = zlib.decompressobj(-zlib.MAX_WBITS)
    prefix = inflate.decompress(compressed, 10)  # npy 1.0: magic, version, header length
    header = 10 + int.from_bytes(prefix[8:10], "little")
    row_bytes = grid_lon.size
    if prefix[:8] != np.lib.format.MAGIC_PREFIX + b"\x01\x00" or info.file_size != header + grid_lat.size * row_bytes:
        raise OSError(f"{path}: mask.npy is not a ({grid_lat.size}, {grid_lon.size}) npy 1.0 array")
    wanted = np.unique(rows)
    found: dict[int, NDArray[np.bool_]] = {}
    offset, pending, tail = 10, inflate.unconsumed_tail, b""
    block_rows = 512
    while len(found) < wanted.size:
        data = tail + inflate.decompress(pending, block_rows * row_bytes)
        pending = inflate.unconsumed_tail
        if not data:
            raise OSError(f"{path}: mask ends before row {int(wanted[len(found)])}")
        first = max(0, -(-(offset - header) // row_bytes))
        last = (offset + len(data) - header) // row_bytes  # rows [first, last) are complete in data
        for r in wanted[(wanted >= first) & (wanted < last)].tolist():
            start = header + r * row_bytes - offset
            found[r] = ~np.frombuffer(data, dtype=np.bool_, count=row_bytes, offset=start)[cols]  # stored: ocean
        keep_from = max(0, header + last * row_bytes - offset)
        offset, tail = offset + keep_from, data[keep_from:]
    return np.stack([found[int(r)] for r in rows])


def _draw_land(ax: Axes, area: tuple[float, float, float, float], width_px: int, height_px: int) -> None:
    """Land fill and coastline by contouring the 1 km GLOBE land mask over the area."""
    lat_min, lat_max, lon_min, lon_max = area
    native = 1.0 / 120.0  # mask resolution, degrees
    n_lat = int(min(max(2, (lat_max - lat_min) / native), height_px))
    n_lon = int(min(max(2, (lon_max - lon_min) / native), width_px))
    lats = np.linspace(lat_min, lat_max, n_lat)
    lons = np.linspace(lon_min, lon_max, n_lon)
    land = land_mask(lats, lons).astype(np.float64)
    if land.any():
        ax.contourf(lons, lats, land, levels=[0.5, 1.5], colors=[LAND_COLOUR], zorder=1)
        if not land.all():
            ax.contour(lons, lats, land, levels=[0.5], colors=[COAST_COLOUR], linewidths=0.8, zorder=2)


def _read_zones(path: Path) -> list[tuple[str, Any]]:
    """(name, shapely geometry) per zone feature; an absent file means no zones."""
    if not path.exists():
        return []
    doc = json.loads(path.read_text())
    zones = []
    for i, feat in enumerate(doc.get("features", [])):
        props = feat.get("properties") or {}
        name = str(props.get("name") or props.get("id") or feat.get("id") or f"zone {i}")
        zones.append((name, shapely.from_geojson(json.dumps(feat["geometry"]))))
    return zones


def _draw_zones(ax: Axes, zones: list[tuple[str, Any]]) -> None:
    for name, geom in zones:
        polygons = getattr(geom, "geoms", [geom])
        for poly in polygons:
            if poly.geom_type != "Polygon":
                continue
            ax.add_patch(PolygonPatch(np.asarray(poly.exterior.coords)[:, :2], closed=True, facecolor="#f5b04233",
                                      edgecolor="#c77c02", linewidth=1.2, linestyle="--", zorder=3))
        label = geom.representative_point()
        ax.annotate(name, (label.x, label.y), fontsize=8, color="#8a5500", ha="center", zorder=9)


def _track_identity(tracks: TrackColumns, rows: IntArray) -> tuple[IntArray, list[str]]:
    """Per row of ``rows``: identity group code, and the labels (MMSI, else ICAO, else track id) of the groups."""
    n_tracks = len(tracks.track_ids)
    mmsi = np.full(n_tracks, NO_MMSI, dtype=np.int64)
    icao = np.full(n_tracks, NO_ICAO, dtype=np.int64)
    np.maximum.at(mmsi, tracks.track[rows], tracks.mmsi[rows])
    np.maximum.at(icao, tracks.track[rows], tracks.icao24[rows])
    present = np.unique(tracks.track[rows])
    labels = [f"MMSI {mmsi[k]}" if mmsi[k] != NO_MMSI else f"ICAO {icao[k]:06x}" if icao[k] != NO_ICAO
              else f"track {tracks.track_ids[k]}" for k in present.tolist()]
    book = Codebook()
    group_of_track = np.full(n_tracks, -1, dtype=np.int64)
    group_of_track[present] = book.codes(labels)
    return group_of_track[tracks.track[rows]], book.values


def plot_picture(dir: Path, out: Path, *, width_px: int = 1600, height_px: int = 1200) -> Path:
    """Draw the run in ``dir`` (truth/tracks/alerts JSONL, zones.geojson) to the PNG ``out``; returns ``out``."""
    dir = Path(dir)
    if not (dir / TRACKS_FILE).exists():
        raise FileNotFoundError(f"{dir / TRACKS_FILE}: required for the picture")
    domains = Codebook()
    tracks = read_tracks(dir / TRACKS_FILE, domains)
    truth = read_truth(dir / TRUTH_FILE, domains) if (dir / TRUTH_FILE).exists() else None
    alerts = read_alerts(dir / ALERTS_FILE)
    zones = _read_zones(dir / ZONES_FILE)
    shown = np.flatnonzero(np.isin(tracks.status, [i for i, s in enumerate(tracks.statuses) if s != "tentative"]))
    zone_lat = [np.asarray(g.bounds)[[1, 3]] for _, g in zones]
    zone_lon = [np.asarray(g.bounds)[[0, 2]] for _, g in zones]
    truth_lat, truth_lon = ([truth.lat], [truth.lon]) if truth is not None else ([], [])
    # alerts sit on tracks; they set the area only when there is nothing else to draw
    area = _area([tracks.lat[shown], *zone_lat, *truth_lat] if shown.size or zones or truth is not None else [alerts.lat],
                 [tracks.lon[shown], *zone_lon, *truth_lon] if shown.size or zones or truth is not None else [alerts.lon])
    fig = _figure(width_px, height_px)
    ax = fig.add_axes((0.06, 0.06, 0.72, 0.88))
    ax.set_facecolor(SEA_COLOUR)
    _draw_land(ax, area, width_px, height_px)
    _draw_zones(ax, zones)
    handles: list[Any] = []
    if truth is not None:
        paths, obj = _paths(truth.obj, truth.t, truth.lon, truth.lat)
        suspect = np.zeros(len(truth.ids), dtype=bool)
        suspect[truth.obj[truth.suspect]] = True
        colours = np.where(suspect[obj], "#b2182b", "#555555").tolist()
        ax.add_collection(LineCollection(paths, colors=colours, linewidths=0.9, linestyles=":", zorder=4))
        handles += [Line2D([], [], color="#555555", linestyle=":", label="truth (benign)"),
                    Line2D([], [], color="#b2182b", linestyle=":", label="truth (suspect)")]
    group, labels = _track_identity(tracks, shown)
    paths, path_group = _paths(group, tracks.t[shown], tracks.lon[shown], tracks.lat[shown])
    ax.add_collection(LineCollection(paths, colors=[identity_colour(labels[g]) for g in path_group.tolist()],
                                     linewidths=1.6, zorder=5))
    n_shown = int(np.unique(tracks.track[shown]).size)
    handles.append(Line2D([], [], color="#1f78b4", linewidth=1.6,
                          label=f"{n_shown} tracks, {len(labels)} identities (colour)"))
    for r, rule in enumerate(alerts.rules):
        sel = alerts.raised & (alerts.rule == r)
        marker, colour = _MARKERS[r % len(_MARKERS)], mpl.colormaps["tab10"](r % 10)
        ax.scatter(alerts.lon[sel], alerts.lat[sel], marker=marker, s=70, facecolor=colour, edgecolor="black",
                   linewidth=0.7, zorder=7)
        handles.append(Line2D([], [], marker=marker, linestyle="", markerfacecolor=colour, markeredgecolor="black",
                              markersize=9, label=f"alert: {rule} ({int(sel.sum())})"))
    lat_min, lat_max, lon_min, lon_max = area
    ax.set_xlim(lon_min, lon_max)
    ax.set_ylim(lat_min, lat_max)
    ax.set_aspect(1.0 / np.cos(np.radians(0.5 * (lat_min + lat_max))), adjustable="box")
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.grid(color="white", linewidth=0.5, zorder=0)
    ax.set_title(f"{dir.name}: {n_shown} confirmed tracks, {int(alerts.raised.sum())} alerts raised"
                 + (f", {len(truth.ids)} truth objects" if truth is not None else ""))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.79, 0.94), fontsize=9, frameon=False)
    return _save(fig, out)


def _read_series(dir: Path) -> list[dict[str, float]]:
    path = dir / SERIES_FILE
    if not path.exists():
        evaluate_dir(dir)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_metrics(dir: Path, out: Path, *, width_px: int = 1600, height_px: int = 1000) -> Path:
    """Draw GOSPA parts and object/track counts over time per domain to the PNG ``out``; returns ``out``.

    The GOSPA panel stacks the three parts scaled so that the stack height is the GOSPA
    distance (metres): each part's share of GOSPA^p times GOSPA.
    """
    dir = Path(dir)
    series = _read_series(dir)
    if not series:
        raise ValueError(f"{dir / SERIES_FILE}: no rows to draw")
    domains = sorted({key.split(".", 1)[0] for key in series[0] if "." in key})
    t = np.array([row["t"] for row in series])
    hours = (t - t[0]) / 3600.0

    def column(domain: str, name: str) -> FloatArray:
        return np.array([row[f"{domain}.{name}"] for row in series], dtype=np.float64)

    fig = _figure(width_px, height_px)
    axes = fig.subplots(2, len(domains), squeeze=False, sharex=True)
    for d, domain in enumerate(domains):
        gospa = column(domain, "gospa_m")
        parts = [column(domain, name) for name in ("localisation", "missed", "false")]
        total = np.sum(parts, axis=0)
        share = [np.divide(p, total, out=np.zeros_like(p), where=total > 0) * gospa for p in parts]
        ax = axes[0, d]
        ax.stackplot(hours, share, labels=["localisation", "missed", "false"],
                     colors=["#4daf4a", "#e41a1c", "#377eb8"], alpha=0.8)
        ax.plot(hours, column(domain, "ospa_m"), color="black", linewidth=0.8, label="OSPA")
        ax.set_ylabel("metres")
        ax.set_title(f"{domain}: GOSPA (stack) and OSPA")
        ax.legend(loc="upper right", fontsize=8)
        ax = axes[1, d]
        for name, colour in (("truth", "black"), ("tracks", "#377eb8"), ("assigned", "#4daf4a")):
            ax.plot(hours, column(domain, name), color=colour, linewidth=1.2, label=name)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("count")
        ax.set_xlabel("hours since first truth tick")
        ax.set_title(f"{domain}: objects, scored tracks, matched pairs")
        ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(f"{dir.name}: metrics over time")
    fig.subplots_adjust(left=0.07, right=0.98, top=0.91, bottom=0.08, hspace=0.25, wspace=0.18)
    return _save(fig, out)


def main_plot(argv: Sequence[str] | None = None) -> int:
    """``jisf plot DIR -o OUT [--metrics] [--width PX] [--height PX]``; returns the exit status."""
    ap = argparse.ArgumentParser(prog="jisf plot", description="Draw a run's picture or its metrics as PNG.")
    ap.add_argument("dir", type=Path, help="run directory with tracks.jsonl (and truth.jsonl, alerts.jsonl, zones.geojson)")
    ap.add_argument("-o", "--out", type=Path, required=True, help="PNG file to write")
    ap.add_argument("--metrics", action="store_true", help="draw GOSPA parts and track counts over time instead")
    ap.add_argument("--width", type=int, default=1600, help="image width, pixels (default 1600)")
    ap.add_argument("--height", type=int, default=None, help="image height, pixels (default 1200, 1000 with --metrics)")
    args = ap.parse_args(argv)
    draw = plot_metrics if args.metrics else plot_picture
    height = args.height or (1000 if args.metrics else 1200)
    try:
        out = draw(args.dir, args.out, width_px=args.width, height_px=height)
    except (OSError, ValueError) as exc:
        print(f"jisf plot: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0
