"""Bad zones and rules files are refused with errors naming the file, the feature or rule, and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fusion.rules.config import RulesFileError, default_rules, load_rules
from fusion.rules.synthetic import box
from fusion.rules.zones import ZoneFileError, load_zones


def write_zones(tmp_path: Path, *features: dict[str, Any]) -> Path:
    p = tmp_path / "zones.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return p


def test_good_zones_file_loads_with_kinds_and_multipolygons(tmp_path: Path) -> None:
    multi = {"type": "Feature", "properties": {"name": "keys", "kind": "territorial_sea"},
             "geometry": {"type": "MultiPolygon", "coordinates": [box("a", "eez", 0, 0, 1, 1)["geometry"]["coordinates"],
                                                                  box("b", "eez", 2, 0, 3, 1)["geometry"]["coordinates"]]}}
    zs = load_zones(write_zones(tmp_path, box("corr", "transit_corridor", -76, 14, -74, 16), multi))
    assert zs.names == ["corr", "keys"] and list(zs.kinds) == ["transit_corridor", "territorial_sea"]


@pytest.mark.parametrize(("feature", "field", "words"), [
    ({**box("x", "beach", 0, 0, 1, 1)}, "properties.kind", "unknown kind 'beach'"),
    ({"type": "Feature", "properties": {"name": "bow", "kind": "eez"},
      "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}, "geometry", "Self-intersection"),
    ({"type": "Feature", "properties": {"name": "pt", "kind": "eez"}, "geometry": {"type": "Point", "coordinates": [0, 0]}},
     "geometry.type", "Polygon or MultiPolygon"),
    (box("far", "eez", 0, 0, 200, 1), "geometry.coordinates", "outside lon"),
    (box("s", "eez", 0, 0, 1, 1, schedule=[{"start": "25:00", "end": "04:00"}]), "properties.schedule[0].start", "HH:MM"),
    (box("s", "eez", 0, 0, 1, 1, schedule=[{"start": "20:00", "end": "04:00", "days": ["funday"]}]), "properties.schedule[0].days", "mon"),
])
def test_bad_zone_feature_is_named(tmp_path: Path, feature: dict[str, Any], field: str, words: str) -> None:
    p = write_zones(tmp_path, box("ok", "eez", 0, 0, 1, 1), feature)
    with pytest.raises(ZoneFileError) as exc:
        load_zones(p)
    msg = str(exc.value)
    assert str(p) in msg and "features[1]" in msg and f": {field}: " in msg and words in msg


def test_duplicate_zone_name_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(ZoneFileError, match=r"features\[1\] \('a'\): properties.name: duplicate"):
        load_zones(write_zones(tmp_path, box("a", "eez", 0, 0, 1, 1), box("a", "port", 2, 2, 3, 3)))
    bad = tmp_path / "bad.geojson"
    bad.write_text("{nope")
    with pytest.raises(ZoneFileError, match="invalid JSON"):
        load_zones(bad)


def test_default_rules_file_is_valid_and_all_rules_enabled() -> None:
    cfg = default_rules()
    assert cfg.rules.go_fast.speed_kn == 34.0 and cfg.rules.rendezvous.distance_m == 500.0
    assert "go_fast" in cfg.enabled() and len(cfg.enabled()) == 11


def test_user_rules_file_layers_over_defaults(tmp_path: Path) -> None:
    p = tmp_path / "rules.toml"
    p.write_text('[rules.go_fast]\nspeed_kn = 30\nclear_speed_kn = 24\n[rules.loitering]\nenabled = false\n')
    cfg = load_rules(p)
    assert cfg.rules.go_fast.speed_kn == 30.0 and cfg.rules.go_fast.min_on_s == 20.0
    assert "loitering" not in cfg.enabled()


@pytest.mark.parametrize(("text", "rule", "field", "words"), [
    ("[rules.go_fast]\nspeed_mps = 12.0\n", "rule go_fast", "speed_mps", "unknown field"),
    ("[rules.go_fast]\nspeed_kn = '25 kn'\n", "rule go_fast", "speed_kn", "Expected `float`, got `str`"),
    ("[rules.go_fast]\nspeed_kn = true\n", "rule go_fast", "speed_kn", "got `bool`"),
    ("[rules.rendezvous]\ndistance_m = -5\n", "rule rendezvous", "distance_m", "> 0.0"),
    ("[rules.go_fast]\nclear_speed_kn = 40\n", "rule go_fast", "clear_speed_kn", "must be <= speed_kn"),
    ("[rules.teleport]\nenabled = true\n", "rule teleport", "(rule name)", "unknown rule"),
    ("[rules.zone_dwell.by_kind.beach]\ndwell_s = 5\n", "rule zone_dwell", "by_kind", "'beach'"),
    ("[engine]\ncoast = 'osm'\n", "[engine]", "coast", "Invalid enum value"),
])
def test_bad_rules_file_is_named(tmp_path: Path, text: str, rule: str, field: str, words: str) -> None:
    p = tmp_path / "rules.toml"
    p.write_text(text)
    with pytest.raises(RulesFileError) as exc:
        load_rules(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: {rule}: field {field}: ") and words in msg
