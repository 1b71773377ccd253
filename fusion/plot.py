"""Pictures of a run: the track picture over the area, and the metrics over time (matplotlib, Agg canvas).

``plot_picture``: land and coastline from the GSHHG full-resolution shoreline
(fusion.coastline, no download), zones from zones.geojson, sensor sites and coverage
(and patrol aircraft routes) from the scenario when given, truth paths (suspects as a
red band under their tracks), track paths coloured by identity (MMSI, else ICAO address,
else track id: one vessel keeps one colour across track ids), alerts marked by rule and
alerted tracks labelled, the UTC time span in the title, the legend inside the map.
``plot_metrics``: GOSPA with its localisation/missed/false split, and object/track
counts, per domain over time, from metrics_series.jsonl (computed if missing).
"""

from __future__ import annotations

import argparse
import colorsys
import json
import sys
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import matplotlib as mpl
import numpy as np
import pyproj
import shapely
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon as PolygonPatch
from matplotlib.path import Path as MplPath

from fusion import cliutil
from fusion.coastline import map_polygons
from fusion.core.arrays import NO_ICAO, NO_MMSI
from fusion.evaluation.io import (
    ALERTS_FILE,
    SERIES_FILE,
    TRACKS_FILE,
    TRUTH_FILE,
    Codebook,
    FloatArray,
    IntArray,
    TrackColumns,
    read_alerts,
    read_tracks,
    read_truth,
)
from fusion.evaluation.score import evaluate_dir

ZONES_FILE = "zones.geojson"
LAND_COLOUR = "#d9cfb4"
SEA_COLOUR = "#eaf2f8"
COAST_COLOUR = "#6b6250"
_MAX_PATH_POINTS = 400_000  # per layer; longer runs are drawn with every n-th point
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
_DPI = 100
_GEOD = pyproj.Geod(ellps="WGS84")
_SENSOR_COLOURS = {"CoastalRadar": "#1b7837", "AerostatRadar": "#762a83", "MpaRadar": "#e08214",
                   "OthRadar": "#8c510a", "AisTerrestrial": "#2166ac", "AdsbReceiver": "#4d4d4d"}
_MAX_LABELS = 40  # alerted tracks labelled, most alerts first
LegendCorner = Literal["upper left", "upper right", "lower left", "lower right"]
_LEGEND_CORNERS: tuple[LegendCorner, ...] = ("upper left", "upper right", "lower left", "lower right")


MIN_WIDTH_PX, MIN_HEIGHT_PX = 200, 150


def _figure(width_px: int, height_px: int) -> Figure:
    if width_px < MIN_WIDTH_PX or height_px < MIN_HEIGHT_PX:
        raise ValueError(f"image size = {width_px}x{height_px} px: must be at least {MIN_WIDTH_PX}x{MIN_HEIGHT_PX}")
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


def _draw_land(ax: Axes, area: tuple[float, float, float, float]) -> None:
    """Land fill (lakes as holes) and coastline from the GSHHG polygons over the area."""
    lat_min, lat_max, lon_min, lon_max = area
    polygons = map_polygons(lon_min, lat_min, lon_max, lat_max)
    paths = [MplPath.make_compound_path(*(MplPath(np.asarray(ring.coords)[:, :2], closed=True)
                                          for ring in (poly.exterior, *poly.interiors))) for poly in polygons]
    ax.add_collection(PathCollection(paths, facecolors=LAND_COLOUR, edgecolors=COAST_COLOUR, linewidths=0.7, zorder=1))


def _geodesic_ring(lat: float, lon: float, radius_m: float, az_min: float = 0.0, az_max: float = 360.0) -> FloatArray:
    """(k, 2) lon/lat of a range ring (a sector closed through the site when az limits are set)."""
    span = (az_max - az_min) % 360.0 or 360.0
    az = az_min + np.linspace(0.0, span, max(8, int(span)) + 1)
    lon2, lat2, _ = _GEOD.fwd(np.full(az.size, lon), np.full(az.size, lat), az, np.full(az.size, radius_m))
    ring = np.column_stack([lon2, lat2])
    return ring if span == 360.0 else np.vstack([[lon, lat], ring, [lon, lat]])


def _draw_sensors(ax: Axes, sensors: Sequence[Any]) -> list[Any]:
    """Sites (marker and id), coverage rings (radar: range_max_m and sector; AIS/ADS-B: range_m), MPA routes.

    Returns legend handles, one per sensor kind drawn.
    """
    handles: dict[str, Any] = {}
    at_site: dict[tuple[float, float], int] = {}  # co-located sites stack their labels
    for s in sensors:
        kind = type(s).__name__
        colour = _SENSOR_COLOURS.get(kind, "#444444")
        route = getattr(s, "route", None)
        if route:  # moving platform: its route is where it looks from
            xy = np.array([[w.lon, w.lat] for w in route])
            ax.plot(xy[:, 0], xy[:, 1], color=colour, linewidth=1.4, linestyle="-.", zorder=6)
            ax.annotate(s.id, (xy[0, 0], xy[0, 1]), fontsize=7, color=colour, zorder=9,
                        xytext=(4, 4), textcoords="offset points")
            handles.setdefault(kind, Line2D([], [], color=colour, linestyle="-.", label=f"{kind} route"))
            continue
        lat, lon = getattr(s, "lat", None), getattr(s, "lon", None)
        if lat is None or lon is None:  # satellite AIS: no site
            continue
        cov = getattr(s, "coverage", None)
        ring = (_geodesic_ring(lat, lon, cov.range_max_m, cov.az_min_deg, cov.az_max_deg) if cov is not None
                else _geodesic_ring(lat, lon, s.range_m))
        ax.plot(ring[:, 0], ring[:, 1], color=colour, linewidth=0.9, linestyle="--", alpha=0.8, zorder=2)
        ax.scatter([lon], [lat], marker="^", s=60, color=colour, edgecolor="black", linewidth=0.6, zorder=8)
        k = at_site[(lat, lon)] = at_site.get((lat, lon), -1) + 1
        ax.annotate(s.id, (lon, lat), fontsize=7, color=colour, zorder=9, xytext=(6, -10 - 9 * k), textcoords="offset points")
        handles.setdefault(kind, Line2D([], [], color=colour, linestyle="--", marker="^", markeredgecolor="black",
                                        label=f"{kind} site, coverage"))
    return list(handles.values())


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


def _time_span(times: Sequence[FloatArray]) -> str:
    """'start - end UTC' (ISO 8601, seconds) of the finite times, '' if none."""
    t = np.concatenate([a[np.isfinite(a)] for a in times])
    if t.size == 0:
        return ""
    iso = [datetime.fromtimestamp(float(x), UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for x in (t.min(), t.max())]
    return f"{iso[0]} - {iso[1]}"


def _label_alerted(ax: Axes, alerts: Any, tracks: TrackColumns, names: dict[int, str]) -> list[str]:
    """Label each alerted track (name, else MMSI, else ICAO, else track id: rules) at its first alert.

    At most _MAX_LABELS tracks, those with the most alerts first; returns the label texts.
    """
    raised = np.flatnonzero(alerts.raised)
    if raised.size == 0:
        return []
    mmsi: dict[int, int] = {}
    icao: dict[int, int] = {}
    for arr, out, none in ((tracks.mmsi, mmsi, NO_MMSI), (tracks.icao24, icao, NO_ICAO)):
        ids = np.asarray(tracks.track_ids)[tracks.track[arr != none]]
        out.update(zip(ids.tolist(), arr[arr != none].tolist(), strict=True))
    tids, first, count = np.unique(alerts.track_id[raised], return_index=True, return_counts=True)
    texts = []
    for k in np.argsort(-count, kind="stable")[:_MAX_LABELS].tolist():
        tid = int(tids[k])
        rows = raised[alerts.track_id[raised] == tid]
        m = mmsi.get(tid)
        who = (names.get(m) or f"MMSI {m}") if m is not None else f"ICAO {icao[tid]:06x}" if tid in icao else f"track {tid}"
        text = f"{who}: {', '.join(sorted({alerts.rules[r] for r in alerts.rule[rows].tolist()}))}"
        row = raised[first[k]]
        ax.annotate(text, (alerts.lon[row], alerts.lat[row]), xytext=(8, 8), textcoords="offset points", fontsize=7.5,
                    zorder=10, bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8, "linewidth": 0.4},
                    arrowprops={"arrowstyle": "-", "linewidth": 0.5})
        texts.append(text)
    return texts


def _emptiest_corner(area: tuple[float, float, float, float], lon: FloatArray, lat: FloatArray) -> LegendCorner:
    """The legend location (of _LEGEND_CORNERS) whose quarter of the area holds the fewest points."""
    lat_min, lat_max, lon_min, lon_max = area
    left = lon < 0.5 * (lon_min + lon_max)
    upper = lat >= 0.5 * (lat_min + lat_max)
    counts = [int(np.sum(u & lft)) for u, lft in ((upper, left), (upper, ~left), (~upper, left), (~upper, ~left))]
    return _LEGEND_CORNERS[int(np.argmin(counts))]


def _scenario_sensors(scenario: Path | None) -> tuple[list[Any], dict[int, str]]:
    """The scenario's sensors and its vessels' AIS names by MMSI (none without a scenario)."""
    if scenario is None:
        return [], {}
    # the simulator only when a scenario is drawn
    from sim_feeds.scenario import load_scenario

    sc = load_scenario(Path(scenario))
    names = {ais.mmsi: ais.name for ais in (o.ais for o in sc.objects) if ais is not None and ais.name}
    return list(sc.sensors), names


def plot_picture(dir: Path, out: Path, *, width_px: int = 1600, height_px: int = 1200,
                 scenario: Path | None = None) -> Path:
    """Draw the run in ``dir`` (truth/tracks/alerts JSONL, zones.geojson) to the PNG ``out``; returns ``out``.

    ``scenario``: the scenario file the run came from, for its sensors and vessel names.
    """
    return _save(picture_figure(dir, width_px=width_px, height_px=height_px, scenario=scenario), out)


def picture_figure(dir: Path, *, width_px: int = 1600, height_px: int = 1200, scenario: Path | None = None) -> Figure:
    """The figure of ``plot_picture`` (one Axes: the map), not yet saved."""
    dir = Path(dir)
    if not (dir / TRACKS_FILE).exists():
        raise FileNotFoundError(f"{dir / TRACKS_FILE}: required for the picture")
    sensors, names = _scenario_sensors(scenario)
    domains = Codebook()
    tracks = read_tracks(dir / TRACKS_FILE, domains)
    truth = read_truth(dir / TRUTH_FILE, domains) if (dir / TRUTH_FILE).exists() else None
    alerts = read_alerts(dir / ALERTS_FILE)
    zones = _read_zones(dir / ZONES_FILE)
    shown = np.flatnonzero(np.isin(tracks.status, [i for i, s in enumerate(tracks.statuses) if s != "tentative"]))
    zone_lat = [np.asarray(g.bounds)[[1, 3]] for _, g in zones]
    zone_lon = [np.asarray(g.bounds)[[0, 2]] for _, g in zones]
    truth_lat, truth_lon = ([truth.lat], [truth.lon]) if truth is not None else ([], [])
    sites = [(s.lat, s.lon) for s in sensors if getattr(s, "lat", None) is not None and getattr(s, "lon", None) is not None]
    if sites:  # sensor sites are in the picture; their coverage may reach beyond it
        truth_lat, truth_lon = [*truth_lat, np.array(sites)[:, 0]], [*truth_lon, np.array(sites)[:, 1]]
    # alerts sit on tracks; they set the area only when there is nothing else to draw
    area = _area([tracks.lat[shown], *zone_lat, *truth_lat] if shown.size or zones or truth is not None else [alerts.lat],
                 [tracks.lon[shown], *zone_lon, *truth_lon] if shown.size or zones or truth is not None else [alerts.lon])
    fig = _figure(width_px, height_px)
    ax = fig.add_axes((0.07, 0.06, 0.90, 0.88))
    ax.set_facecolor(SEA_COLOUR)
    _draw_land(ax, area)
    _draw_zones(ax, zones)
    handles: list[Any] = _draw_sensors(ax, sensors)
    if truth is not None:
        paths, obj = _paths(truth.obj, truth.t, truth.lon, truth.lat)
        suspect = np.zeros(len(truth.ids), dtype=bool)
        suspect[truth.obj[truth.suspect]] = True
        is_suspect = suspect[obj]
        # suspects: a wide translucent band under their tracks, so the track stays visible on top
        ax.add_collection(LineCollection([p for p, s in zip(paths, is_suspect, strict=True) if s], colors="#b2182b",
                                         linewidths=5.0, alpha=0.35, capstyle="round", zorder=3))
        ax.add_collection(LineCollection([p for p, s in zip(paths, is_suspect, strict=True) if not s], colors="#555555",
                                         linewidths=0.9, linestyles=":", zorder=4))
        handles += [Line2D([], [], color="#555555", linestyle=":", label="truth (benign)"),
                    Line2D([], [], color="#b2182b", linewidth=5.0, alpha=0.35, label="truth (suspect)")]
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
    _label_alerted(ax, alerts, tracks, names)
    lat_min, lat_max, lon_min, lon_max = area
    ax.set_xlim(lon_min, lon_max)
    ax.set_ylim(lat_min, lat_max)
    ax.set_aspect(1.0 / np.cos(np.radians(0.5 * (lat_min + lat_max))), adjustable="box")
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.grid(color="white", linewidth=0.5, zorder=0)
    span = _time_span([tracks.t, *([truth.t] if truth is not None else [])])
    ax.set_title(f"{dir.name}: {n_shown} confirmed tracks, {int(alerts.raised.sum())} alerts raised"
                 + (f", {len(truth.ids)} truth objects" if truth is not None else "") + (f"\n{span}" if span else ""),
                 fontsize=10)
    corner = _emptiest_corner(area, np.concatenate([tracks.lon[shown], *truth_lon]),
                              np.concatenate([tracks.lat[shown], *truth_lat]))
    ax.legend(handles=handles, loc=corner, fontsize=8, framealpha=0.85).set_zorder(20)
    return fig


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


def plot_pr(suite: Path, out: Path, *, width_px: int = 1600, height_px: int = 1000) -> Path:
    """Draw the precision/recall curve of a suite run's alerts swept over the calibrated score threshold
    (``fusion.evaluation.pr``), per rule and for all rules, with the operating point of the shipped
    calibration, to the PNG ``out``; returns ``out``."""
    from fusion.evaluation.pr import load_suite, pr_curve, suite_alerts
    from fusion.rules.calibration import default_calibration

    suite = Path(suite)
    alerts = suite_alerts(*load_suite(suite))
    if not alerts.key:
        raise ValueError(f"{suite}: the suite's scenarios raised no alert: no curve to draw")
    cal = default_calibration()
    fig = _figure(width_px, height_px)
    ax_pr, ax_t = fig.subplots(1, 2)
    rules = sorted(set(alerts.rule))
    palette = [mpl.colormaps["tab10"](r % 10) for r in range(len(rules))]  # as the alert markers of plot_picture
    for rule, colour in zip([None, *rules], ["black", *palette], strict=True):
        c = pr_curve(alerts, rule)
        n = sum(1 for r in alerts.rule if rule is None or r == rule)
        ax_pr.step(c["recall"], c["precision"], where="post", color=colour, linewidth=2.4 if rule is None else 1.2,
                   label=f"{rule or 'all rules'} ({n} alerts)")
    at = pr_curve(alerts, thresholds=np.array([cal.threshold]))
    ax_pr.plot(at["recall"], at["precision"], marker="o", markersize=10, color="#e41a1c", linestyle="none",
               label=f"operating point: score >= {cal.threshold:.3f}")
    ax_pr.set_xlim(-0.02, 1.02)
    ax_pr.set_ylim(-0.02, 1.02)
    ax_pr.set_xlabel("recall (suspects with a counted true alert / suspects)")
    ax_pr.set_ylabel("precision (true alerts / counted alerts)")
    ax_pr.set_title("precision / recall over the score threshold")
    ax_pr.legend(loc="upper right", fontsize=8)
    c = pr_curve(alerts)
    ax_t.step(c["threshold"], c["precision"], where="post", color="#377eb8", label="precision")
    ax_t.step(c["threshold"], c["recall"], where="post", color="#4daf4a", label="recall")
    ax_t.axvline(cal.threshold, color="#e41a1c", linestyle="--", label=f"operating point {cal.threshold:.3f}")
    ax_t.set_xlim(0.0, 1.0)
    ax_t.set_ylim(-0.02, 1.02)
    ax_t.set_xlabel("score threshold")
    ax_t.set_title("all rules against the threshold")
    ax_t.legend(loc="lower left", fontsize=8)
    fig.suptitle(f"{suite.name}: {len(alerts.key)} alerts ({int(alerts.true.sum())} true), {alerts.suspects} suspects; "
                 f"calibration: {cal.source}", fontsize=10)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.09, wspace=0.18)
    return _save(fig, out)


def build_parser_pr() -> cliutil.Parser:
    """Options of ``jisf plot pr``."""
    ap = cliutil.parser("plot pr", "Draw the precision/recall curve of a suite run's alerts over the calibrated score.")
    ap.add_argument("--suite", type=Path, required=True, help="output directory of `jisf evaluate-suite`")
    ap.add_argument("-o", "--out", type=Path, default=None, help="PNG file to write (default: SUITE/pr.png)")
    ap.add_argument("--width", type=int, default=1600, help="image width, pixels (default 1600)")
    ap.add_argument("--height", type=int, default=1000, help="image height, pixels (default 1000)")
    return ap


def build_parser_plot() -> argparse.ArgumentParser:
    """Options of ``jisf plot``."""
    ap = cliutil.parser("plot", "Draw a run's picture or its metrics as PNG (`jisf plot pr --suite DIR`: a suite's "
                        "precision/recall curve).")
    ap.add_argument("dir", type=Path, help="run directory with tracks.jsonl (and truth.jsonl, alerts.jsonl, zones.geojson)")
    ap.add_argument("-o", "--out", type=Path, required=True, help="PNG file to write")
    ap.add_argument("--metrics", action="store_true", help="draw GOSPA parts and track counts over time instead")
    ap.add_argument("--scenario", type=Path, default=None,
                    help="scenario file of the run: its sensor sites, coverage and patrol routes, and vessel names")
    ap.add_argument("--width", type=int, default=1600, help="image width, pixels (default 1600)")
    ap.add_argument("--height", type=int, default=None, help="image height, pixels (default 1200, 1000 with --metrics)")
    return ap


_VALUED = {"-o", "--out", "--scenario", "--width", "--height"}


def _check_size(width: int, height: int) -> None:
    for name, px, least in (("--width", width, MIN_WIDTH_PX), ("--height", height, MIN_HEIGHT_PX)):
        if px < least:
            raise cliutil.UsageError(f"{name} must be at least {least} pixels, got {px}")


def main_plot(argv: Sequence[str] | None = None) -> int:
    """``jisf plot DIR -o OUT [--metrics] [--width PX] [--height PX]`` or ``jisf plot pr --suite DIR [-o OUT]``;
    returns the exit status."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    first = next((k for k, a in enumerate(args_in) if not a.startswith("-") and (k == 0 or args_in[k - 1] not in _VALUED)), None)
    if first is not None and args_in[first] == "pr":

        def body_pr(args: argparse.Namespace) -> int:
            _check_size(args.width, args.height)
            from fusion.evaluation.pr import load_suite, pr_table, suite_alerts
            from fusion.rules.calibration import default_calibration

            print(pr_table(suite_alerts(*load_suite(args.suite)), default_calibration().threshold))
            print(plot_pr(args.suite, args.out or args.suite / "pr.png", width_px=args.width, height_px=args.height))
            return 0

        return cliutil.run(build_parser_pr(), body_pr, args_in[:first] + args_in[first + 1:])

    def body(args: argparse.Namespace) -> int:
        height = args.height or (1000 if args.metrics else 1200)
        _check_size(args.width, height)
        out = (plot_metrics(args.dir, args.out, width_px=args.width, height_px=height) if args.metrics
               else plot_picture(args.dir, args.out, width_px=args.width, height_px=height, scenario=args.scenario))
        print(out)
        return 0

    return cliutil.run(build_parser_plot(), body, args_in)
