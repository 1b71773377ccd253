"""Export history as KML (Google Earth) or GeoJSON: track lines with times, alert points, zone polygons.

KML (valid against the OGC KML 2.2 schema, which the tests check through fastkml) has one
``gx:Track`` per track (``<when>`` and ``<gx:coord>`` pairs, so Google Earth's time slider
plays it back), styled by domain and named by name, MMSI, ICAO address or track id; one
placemark per alert event with its rule, severity, state, reason and time; one polygon
per zone. GeoJSON (RFC 7946) carries the same: a LineString per track with a ``times``
property (Unix seconds, one per vertex; a Point for a track with one point), a Point
per alert event and a (Multi)Polygon per zone, told apart by the ``kind`` property.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

import shapely

from fusion.rules.zones import ZoneSet, load_zones

Row = Mapping[str, Any]

# KML colours are aabbggrr
_DOMAIN_COLOUR = {"surface": "ffffaa00", "air": "ff00aaff"}
_OTHER_COLOUR = "ffcccccc"
_SEVERITY_COLOUR = {"high": "ff0000ff", "medium": "ff00a5ff", "low": "ff00ffff"}
_ZONE_LINE, _ZONE_FILL = "ff0000cc", "400000cc"


def iso_utc(t: float) -> str:
    """Unix seconds -> ISO 8601 UTC with a Z, milliseconds only when not whole seconds."""
    dt = datetime.fromtimestamp(t, UTC)
    text = dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class TrackLine:
    """One track's points in time order: the rows as stored."""

    track_id: int
    points: Sequence[Row]

    @property
    def domain(self) -> str:
        """Domain of the last point."""
        return str(self.points[-1]["domain"])

    def label(self) -> str:
        """Name, else MMSI, else ICAO address, else the track id (the newest known)."""
        for key, fmt in (("name", "{}"), ("callsign", "{}"), ("mmsi", "MMSI {}"), ("icao24", "ICAO {}")):
            value = next((p.get(key) for p in reversed(self.points) if p.get(key)), None)
            if value:
                return fmt.format(value)
        return f"track {self.track_id}"

    def description(self) -> str:
        """First and last time, point count and identity, for a KML balloon."""
        first, last = self.points[0], self.points[-1]
        ids = ", ".join(f"{k} {last[k]}" for k in ("mmsi", "icao24", "name") if last.get(k))
        return (f"track {self.track_id} ({self.domain}) {ids}\n{len(self.points)} points, "
                f"{iso_utc(float(first['t']))} .. {iso_utc(float(last['t']))}, last status {last['status']}")


def track_lines(points: Iterable[Row]) -> list[TrackLine]:
    """Points (any order) grouped per track, each in time order; tracks by id."""
    ordered = sorted(points, key=itemgetter("track_id", "t"))
    return [TrackLine(int(tid), list(group)) for tid, group in groupby(ordered, key=itemgetter("track_id"))]


def read_zones(path: Path | str) -> ZoneSet:
    """Zones from a GeoJSON zones file (``zones.geojson`` of an output directory, ``sim_feeds/scenarios/zones/*``)
    or from a scenario file (``*.toml``: its zones)."""
    p = Path(path)
    if p.suffix == ".toml":
        from sim_feeds.scenario import load_scenario

        return ZoneSet.from_geojson(load_scenario(p).zones_geojson(), str(p))
    return load_zones(p)


def _polygons(geom: shapely.Geometry) -> list[shapely.Polygon]:
    return list(geom.geoms) if isinstance(geom, shapely.MultiPolygon) else [geom]


def _alert_title(a: Row) -> str:
    return f"{a['rule']} {a.get('severity') or ''} {a['state']}: track {a['track_id']}".replace("  ", " ")


def _alert_text(a: Row) -> str:
    lines = [f"rule: {a['rule']}", f"severity: {a.get('severity')}", f"state: {a['state']}", f"time: {iso_utc(float(a['t']))}",
             f"reason: {a.get('reason')}", f"track: {a['track_id']}", f"alert id: {a['alert_id']}"]
    lines += [f"{k}: {a[k]}" for k in ("zone", "mmsi", "icao24", "priority") if a.get(k) is not None]
    return "\n".join(lines)


_KML_NS, _GX_NS = "http://www.opengis.net/kml/2.2", "http://www.google.com/kml/ext/2.2"
ET.register_namespace("", _KML_NS)
ET.register_namespace("gx", _GX_NS)


def _el(parent: ET.Element, tag: str, text: str | None = None, ns: str = _KML_NS) -> ET.Element:
    e = ET.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        e.text = text
    return e


def _style(doc: ET.Element, sid: str, line: str, width: float = 2.0, fill: str | None = None) -> None:
    st = doc.makeelement(f"{{{_KML_NS}}}Style", {"id": sid})
    doc.insert(1, st)  # styles go before the folders (after the name): schema order
    _el(_el(st, "IconStyle"), "color", line)
    ls = _el(st, "LineStyle")
    _el(ls, "color", line)
    _el(ls, "width", f"{width:g}")
    if fill is not None:
        _el(_el(st, "PolyStyle"), "color", fill)


def _placemark(folder: ET.Element, name: str, description: str, style_id: str, when: float | None = None) -> ET.Element:
    pm = _el(folder, "Placemark")
    _el(pm, "name", name)
    _el(pm, "description", description)
    if when is not None:
        _el(_el(pm, "TimeStamp"), "when", iso_utc(when))
    _el(pm, "styleUrl", f"#{style_id}")
    return pm


def _ring(parent: ET.Element, coords: Iterable[Sequence[float]]) -> None:
    _el(_el(parent, "LinearRing"), "coordinates", " ".join(f"{x!r},{y!r}" for x, y, *_ in coords))


def to_kml(tracks: Sequence[TrackLine], alerts: Sequence[Row], zones: ZoneSet | None, name: str = "jisf history") -> ET.ElementTree:
    """The KML document (valid against the OGC KML 2.2 schema): folders Tracks, Alerts and Zones.

    Written with ElementTree rather than simplekml: simplekml 1.3.6 gives numeric ids
    (not ``xs:ID``) and puts styles before names, which the KML schema refuses.
    """
    root = ET.Element(f"{{{_KML_NS}}}kml")
    doc = _el(root, "Document")
    _el(doc, "name", name)
    styles: set[str] = set()

    def style(sid: str, line: str, fill: str | None = None) -> str:
        if sid not in styles:
            styles.add(sid)
            _style(doc, sid, line, fill=fill)
        return sid

    folder = _el(doc, "Folder")
    _el(folder, "name", "Tracks")
    for tr in tracks:
        pm = _placemark(folder, tr.label(), tr.description(), style(f"track-{tr.domain}", _DOMAIN_COLOUR.get(tr.domain, _OTHER_COLOUR)))
        trk = _el(pm, "Track", ns=_GX_NS)
        _el(trk, "altitudeMode", "absolute" if tr.domain == "air" else "clampToGround")
        for p in tr.points:
            _el(trk, "when", iso_utc(float(p["t"])))
        for p in tr.points:
            _el(trk, "coord", f"{float(p['lon'])!r} {float(p['lat'])!r} {float(p.get('alt_m') or 0.0)!r}", ns=_GX_NS)
    folder = _el(doc, "Folder")
    _el(folder, "name", "Alerts")
    for a in alerts:
        if a.get("lat") is None or a.get("lon") is None:
            continue
        sev = str(a.get("severity"))
        pm = _placemark(folder, _alert_title(a), _alert_text(a), style(f"alert-{sev}", _SEVERITY_COLOUR.get(sev, _OTHER_COLOUR)), float(a["t"]))
        _el(_el(pm, "Point"), "coordinates", f"{float(a['lon'])!r},{float(a['lat'])!r}")
    if zones is not None:
        folder = _el(doc, "Folder")
        _el(folder, "name", "Zones")
        for z in zones.zones:
            for poly in _polygons(z.geometry):
                pm = _placemark(folder, z.name, f"zone {z.name} ({z.kind})", style("zone", _ZONE_LINE, _ZONE_FILL))
                pg = _el(pm, "Polygon")
                _ring(_el(pg, "outerBoundaryIs"), poly.exterior.coords)
                for ring in poly.interiors:
                    _ring(_el(pg, "innerBoundaryIs"), ring.coords)
    ET.indent(root, space=" ")
    return ET.ElementTree(root)


def to_geojson(tracks: Sequence[TrackLine], alerts: Sequence[Row], zones: ZoneSet | None) -> dict[str, Any]:
    """The GeoJSON FeatureCollection: track LineStrings (``times``), alert Points, zone Polygons."""
    feats: list[dict[str, Any]] = []
    for tr in tracks:
        coords = [[float(p["lon"]), float(p["lat"])] + ([float(p["alt_m"])] if p.get("alt_m") is not None else []) for p in tr.points]
        if any(len(c) == 2 for c in coords):  # a position has 2 or 3 numbers: one dimension for the whole line
            coords = [c[:2] for c in coords]
        geom = {"type": "LineString", "coordinates": coords} if len(coords) > 1 else {"type": "Point", "coordinates": coords[0]}
        last = tr.points[-1]
        feats.append({"type": "Feature", "id": f"track-{tr.track_id}", "geometry": geom, "properties": {
            "kind": "track", "track_id": tr.track_id, "domain": tr.domain, "label": tr.label(), "mmsi": last.get("mmsi"),
            "icao24": last.get("icao24"), "name": last.get("name"), "status": [p["status"] for p in tr.points],
            "times": [float(p["t"]) for p in tr.points], "start": iso_utc(float(tr.points[0]["t"])), "end": iso_utc(float(last["t"]))}})
    for a in alerts:
        if a.get("lat") is None or a.get("lon") is None:
            continue
        feats.append({"type": "Feature", "id": f"alert-{a['alert_id']}-{a['state']}-{a['t']}",
                      "geometry": {"type": "Point", "coordinates": [float(a["lon"]), float(a["lat"])]},
                      "properties": {"kind": "alert", **a, "time": iso_utc(float(a["t"]))}})
    for z in zones.zones if zones is not None else ():
        feats.append({"type": "Feature", "id": f"zone-{z.name}", "geometry": json.loads(shapely.to_geojson(z.geometry)),
                      "properties": {"kind": "zone", "name": z.name, "zone_kind": z.kind}})
    return {"type": "FeatureCollection", "features": feats}


def write_export(fmt: str, path: Path, points: Iterable[Row], alerts: Sequence[Row], zones: ZoneSet | None) -> dict[str, int]:
    """Write ``fmt`` ("kml" or "geojson") to ``path``; returns counts of tracks, points, alerts and zones."""
    tracks = track_lines(points)
    if fmt == "kml":
        to_kml(tracks, alerts, zones).write(path, encoding="UTF-8", xml_declaration=True)
    elif fmt == "geojson":
        path.write_text(json.dumps(to_geojson(tracks, alerts, zones), separators=(",", ":")))
    else:
        raise ValueError(f"export format must be kml or geojson, got {fmt!r}")
    return {"tracks": len(tracks), "points": sum(len(t.points) for t in tracks), "alerts": len(alerts),
            "zones": len(zones.zones) if zones is not None else 0}
