"""Scenario files: the shipped library loads; bad files are refused naming the field and value."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from sim_feeds.scenario import (
    OBJECT_CLASSES,
    ScenarioError,
    default_scenario_path,
    load_scenario,
    resolve_scenario,
    scenario_from_dict,
    scenario_library,
)
from tests.unit.sim.conftest import base_doc, transit

SUSPECT_KINDS = {"go_fast", "semi_submersible", "logistics_vessel", "light_aircraft"}


def test_default_scenario_is_a_living_picture() -> None:
    """The demo's scenario: about an hour, dozens of named vessels, aircraft, several sensor kinds and
    three different suspect behaviours (issue 17 item 8)."""
    sc = load_scenario(default_scenario_path())
    assert 2700.0 <= sc.t_end - sc.t0 <= 3600.0
    air = [o for o in sc.objects if OBJECT_CLASSES[o.kind].domain == "air"]
    vessels = [o for o in sc.objects if OBJECT_CLASSES[o.kind].domain == "surface"]
    assert 40 <= len(vessels) <= 80 and len(air) >= 8
    merchants = [o for o in vessels if o.kind == "merchant"]
    assert len(merchants) >= 20 and all(o.ais is not None and o.ais.name for o in merchants)
    suspects = {o.kind for o in sc.objects if o.role == "suspect"}
    assert suspects == {"go_fast", "logistics_vessel", "light_aircraft"}
    dark = next(o for o in sc.objects if o.kind == "logistics_vessel")
    assert dark.ais is not None and dark.ais.off
    kinds = {type(s).__name__ for s in sc.sensors}
    assert {"CoastalRadar", "AerostatRadar", "MpaRadar", "AisTerrestrial", "AdsbReceiver"} <= kinds
    zone_kinds = {f["properties"]["kind"] for f in sc.zones_geojson()["features"]}
    assert {"landing_zone", "airstrip", "transit_corridor"} <= zone_kinds


def test_scenarios_resolve_by_name_or_path(tmp_path: Path) -> None:
    assert resolve_scenario(None) == default_scenario_path()
    assert resolve_scenario("semisub_tumaco") == scenario_library()["semisub_tumaco"]
    assert resolve_scenario("minimal.toml") == scenario_library()["minimal"]
    own = tmp_path / "default"
    own.write_text("")
    assert resolve_scenario(str(own)) == own  # an existing file wins over a shipped name
    with pytest.raises(ScenarioError) as err:
        resolve_scenario("no_such_scenario")
    assert "'no_such_scenario'" in str(err.value) and "semisub_tumaco" in str(err.value)


def test_library_covers_every_behaviour() -> None:
    library = scenario_library()
    assert len(library) >= 8 and "default" in library and "large_caribbean" in library
    kinds: set[str] = set()
    spoof = dark = False
    for name, path in library.items():
        if name == "large_caribbean":
            continue
        sc = load_scenario(path)
        assert sc.name == name
        kinds |= {o.kind for o in sc.objects if o.role == "suspect"}
        spoof |= any(o.ais is not None and o.ais.spoof for o in sc.objects)
        dark |= any(o.ais is not None and o.ais.off for o in sc.objects)
    assert kinds >= SUSPECT_KINDS
    assert spoof and dark


def test_large_scenario_is_large() -> None:
    sc = load_scenario(scenario_library()["large_caribbean"])
    air = sum(OBJECT_CLASSES[o.kind].domain == "air" for o in sc.objects)
    assert len(sc.objects) - air >= 2000 and air >= 300


@pytest.mark.parametrize(("path", "value", "expected"), [
    (("objects", 0, "speed_kn"), -3.0, "unit: objects[0].speed_kn = -3.0: must be float >= 0.0"),
    (("objects", 0, "kind"), "submarine", "unit: objects[0].kind = 'submarine': Invalid enum value 'submarine'"),
    (("area", "lat_min"), 95.0, "unit: area.lat_min = 95.0: must be float <= 90.0"),
    (("objects", 0, "route", 1, "lat"), "north", "unit: objects[0].route[1].lat = 'north': must be float, got `str`"),
    (("objects", 0, "route", 0, "lat"), 9.2, "unit: objects[0].route[0] = (9.2, -79.5): is on land"),
    (("objects", 0, "speed_kn"), 40.0, "unit: objects[0].speed_kn = 40.0: must be <= 25 for merchant"),
])
def test_bad_field_named_with_value(path: tuple[object, ...], value: object, expected: str) -> None:
    doc = base_doc(objects=[transit("m-1", (9.8, -79.5), (9.9, -78.5), 12.0)])
    node = doc
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(doc, source="unit")
    assert str(err.value) == expected


def test_structural_errors_are_named() -> None:
    cases = {
        "format_version": ({"format_version": 2}, "unit: format_version = 2: must be 1"),
        "unknown": ({"spead": 3}, "unit: spead = 3: is not a known field (see docs/SCENARIOS.md)"),
        "leg over land": ({"objects": [transit("m-1", (9.5, -78.9), (9.62, -79.45), 10.0)]},
                          "unit: objects[0].route[0] = (9.5, -78.9): the leg to objects[0].route[1] crosses land"),
        "duplicate id": ({"objects": [transit("m-1", (9.8, -79.5), (9.9, -78.5), 12.0)] * 2},
                         "unit: objects(id)[1] = 'm-1': is used twice"),
        "missing": ({"area": {"lat_min": 9.0, "lat_max": 10.0, "lon_min": -79.0}}, "unit: area.lon_max = None: is required"),
    }
    for name, (change, expected) in cases.items():
        doc = copy.deepcopy(base_doc(**change))
        with pytest.raises(ScenarioError) as err:
            scenario_from_dict(doc, source="unit")
        assert str(err.value) == expected, name


def test_unreadable_file_and_zone(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("format_version = 1\nname = [")
    with pytest.raises(ScenarioError, match=r"bad.toml: \(file\) = .*: not valid TOML"):
        load_scenario(bad)
    doc = base_doc(zones=[{"file": "missing.geojson"}])
    with pytest.raises(ScenarioError, match=r"zones\[0\].file = 'missing.geojson': cannot be read"):
        scenario_from_dict(doc, source="unit", base_dir=tmp_path)
