"""The GSHHG full-resolution coastline: known places, distances, GeoJSON, and consistency properties."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion import coastline
from fusion.coastline import coast_box, distance_to_shore_m, is_land, land_geojson

# (lat, lon, land). The brief's Hudson point (40.75 N, 74.01 W) and Kill Van Kull point
# (40.645 N, 74.10 W) lie within 100 m of GSHHG's pier and bulkhead lines, on its land side;
# these are the channels' middles in GSHHG (the 1 km grid drew both channels as land).
KNOWN = [
    (40.75, -74.016, False),   # Hudson River between Manhattan and Weehawken
    (40.648, -74.10, False),   # Kill Van Kull between Staten Island and Bayonne
    (40.78, -73.97, True),     # Central Park, Manhattan
    (12.55, -81.72, True),     # San Andres island (missing on the 1 km grid)
    (12.53, -81.72, True),     # San Andres, south
    (14.0, -78.0, False),      # open Caribbean
    (15.0, -75.0, False),      # open Caribbean
    (10.40, -75.50, True),     # Cartagena
    (10.42, -75.60, False),    # off Cartagena
    (11.6, -85.4, False),      # Lake Nicaragua: a lake is water
    (11.53, -85.62, True),     # Ometepe, an island in Lake Nicaragua
]


@pytest.mark.parametrize(("lat", "lon", "land"), KNOWN)
def test_known_places(lat: float, lon: float, land: bool) -> None:
    assert bool(is_land(lat, lon)) is land


def test_known_places_in_one_call_and_any_shape() -> None:
    lat, lon, land = (np.array(c) for c in zip(*KNOWN, strict=True))
    assert np.array_equal(is_land(lat, lon), land)
    assert is_land(lat.reshape(1, -1), lon.reshape(1, -1)).shape == (1, lat.size)
    assert is_land(np.zeros(0), np.zeros(0)).shape == (0,)


def test_distance_to_shore() -> None:
    # Hudson middle: ~450 m from either bank; Cartagena: on land; open Caribbean 15N 75W: > 100 km
    d = distance_to_shore_m([40.75, 10.40, 12.42, 15.0], [-74.016, -75.50, -81.60, -75.0])
    assert 150.0 < d[0] < 700.0
    assert d[1] == 0.0
    assert 3_000.0 < d[2] < 20_000.0  # east of San Andres, about 11 km off
    assert d[3] > 100_000.0


def test_distance_grows_moving_offshore() -> None:
    lon = np.linspace(-75.60, -75.90, 7)  # west from the Cartagena coast, out to sea
    d = distance_to_shore_m(np.full(lon.size, 10.42), lon)
    assert np.all(np.diff(d) > 0)


def test_land_geojson() -> None:
    doc = land_geojson(-74.3, 40.5, -73.7, 40.95)
    assert doc["type"] == "FeatureCollection" and doc["features"]
    geoms = [shapely.from_geojson(json.dumps(f["geometry"])) for f in doc["features"]]
    assert all(g.geom_type == "Polygon" and g.is_valid for g in geoms)
    assert shapely.box(-74.3, 40.5, -73.7, 40.95).buffer(1e-9).contains(shapely.union_all(geoms))
    union = shapely.union_all(geoms)
    assert union.contains(shapely.Point(-73.97, 40.78)) and not union.contains(shapely.Point(-74.016, 40.75))
    assert land_geojson(-78.5, 14.5, -78.0, 15.0)["features"] == []  # open sea


@pytest.mark.parametrize(("args", "field"), [((-74.0, 40.5, -74.5, 40.9), "west"), ((-74.5, 41.0, -74.0, 40.9), "south"),
                                             ((-190.0, 40.5, -74.0, 40.9), "west"), ((-74.5, 40.5, -74.0, float("nan")), "north")])
def test_bad_box_names_the_field(args: tuple[float, float, float, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        land_geojson(*args)


def test_bad_points_are_refused() -> None:
    with pytest.raises(ValueError, match="lat/lon"):
        is_land([95.0], [0.0])
    with pytest.raises(ValueError, match="lat/lon"):
        distance_to_shore_m([float("nan")], [0.0])


def test_boxes_are_cached_and_bounded() -> None:
    coastline._BOXES.clear()
    a = coast_box(-75.9, 10.1, -75.4, 10.6)
    assert coast_box(-75.8, 10.2, -75.5, 10.5) is a  # a covered box is served by the loaded one
    for k in range(coastline.MAX_BOXES + 1):
        coast_box(-60.0 + 2 * k, -20.0, -59.5 + 2 * k, -19.5)
    assert len(coastline._BOXES) == coastline.MAX_BOXES


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(9.0, 13.0), st.floats(-83.0, -74.0)), min_size=1, max_size=30))
def test_vectorised_equals_scalar_and_is_deterministic(points: list[tuple[float, float]]) -> None:
    lat, lon = np.array(points).T
    box = coast_box(-84.0, 8.0, -73.0, 14.0)
    many = box.is_land(lat, lon)
    assert np.array_equal(many, box.is_land(lat, lon))
    assert [bool(box.is_land(a, b)) for a, b in points] == many.tolist()
    d = box.distance_to_shore_m(lat, lon)
    assert np.all(d >= 0.0) and np.all((d == 0.0) == many)
    assert np.array_equal(d, box.distance_to_shore_m(lat, lon))
