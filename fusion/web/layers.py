"""Static map layers for the web page: zones and sensor coverage as GeoJSON, from scenario or zones files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusion.rules.zones import load_zones

if TYPE_CHECKING:  # importing sim_feeds.scenario costs seconds (land mask); only --scenario needs it
    from sim_feeds.scenario import Scenario

Json = dict[str, Any]


def zones_geojson(scenario: Scenario | None, zones_file: Path | None) -> Json:
    """All zones as one FeatureCollection (properties name, kind): the scenario's, then the zones file's.

    Raises ZoneFileError (naming the file, feature and field) for a bad zones file.
    """
    features: list[Json] = list(scenario.zones_geojson()["features"]) if scenario else []
    if zones_file is not None:
        zs = load_zones(zones_file)
        features += [{"type": "Feature", "properties": {"name": z.name, "kind": z.kind},
                      "geometry": z.geometry.__geo_interface__} for z in zs.zones]
    return {"type": "FeatureCollection", "features": features}


def sensors_geojson(scenario: Scenario | None) -> Json:
    """Sensor sites of a scenario as a FeatureCollection.

    A fixed site is a Point with properties id, kind, range_m (the coverage radius, m; the
    radar's range_max_m, an AIS/ADS-B receiver's range_m), range_min_m, az_min_deg and
    az_max_deg (clockwise sector; 0..360 is all round). A moving platform (maritime patrol
    aircraft) is a LineString of its route with the same properties. Satellite AIS has no
    site and is left out.
    """
    if scenario is None:
        return {"type": "FeatureCollection", "features": []}
    features: list[Json] = []
    for s in scenario.sensors:
        cov = getattr(s, "coverage", None)
        props: Json = {
            "id": s.id,
            "kind": type(s).__struct_config__.tag,
            "range_m": cov.range_max_m if cov is not None else getattr(s, "range_m", None),
            "range_min_m": cov.range_min_m if cov is not None else 0.0,
            "az_min_deg": cov.az_min_deg if cov is not None else 0.0,
            "az_max_deg": cov.az_max_deg if cov is not None else 360.0,
        }
        route = getattr(s, "route", None)
        lat, lon = getattr(s, "lat", None), getattr(s, "lon", None)
        if route:
            geometry: Json = {"type": "LineString", "coordinates": [[w.lon, w.lat] for w in route]}
        elif lat is not None and lon is not None:
            geometry = {"type": "Point", "coordinates": [lon, lat]}
        else:
            continue
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    return {"type": "FeatureCollection", "features": features}
