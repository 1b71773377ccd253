"""fusion.deployment: the example file, presets and overrides, and errors that name the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fusion.config import ConfigError, load_config
from fusion.deployment import DeploymentError, deployment_from_dict, load_deployment
from fusion.realdata_import import THINNED_AIS_CONFIG

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "deploy" / "deployment.example.toml"


def test_example_file_loads_with_every_part() -> None:
    d = load_deployment(EXAMPLE)
    assert d.name == "ny-harbor"
    assert d.area is not None and (d.area.lat_min, d.area.lon_max) == (40.35, -73.65)
    assert [f["properties"]["name"] for f in d.zones_geojson["features"]] == ["Upper Bay anchorage", "Ambrose channel"]
    circles = d.rules.engine.ais_coverage.circles
    assert [(c.lat, c.lon, c.radius_m) for c in circles] == [(40.70, -74.02, 40000.0)]
    assert not d.rules.engine.ais_coverage.everywhere
    assert d.rules.rules.zone_entry.kinds == ["exclusion", "anchorage"]
    assert d.fusion_config.tracker.surface == THINNED_AIS_CONFIG.tracker.surface  # the preset (max_coast_s is its own value)


def minimal(**extra: object) -> dict[str, object]:
    return {"format_version": 1, "name": "t", **extra}


def test_minimal_file_has_no_area_default_rules_and_live_tracker() -> None:
    from fusion.core.config import TrackerConfig
    from fusion.rules.config import default_rules

    d = deployment_from_dict(minimal())
    assert d.area is None and d.zones_geojson["features"] == []
    assert d.rules == default_rules() and d.fusion_config.tracker == TrackerConfig()


def test_tracker_fields_and_pools_layer_over_the_preset() -> None:
    d = deployment_from_dict(minimal(tracker={"preset": "thinned_ais", "confirm_m": 3, "confirm_n": 4,
                                              "air": {"max_coast_s": 60.0}, "surface": {"q_mps2": [0.05, 3.0]}}))
    t = d.fusion_config.tracker
    assert (t.confirm_m, t.confirm_n) == (3, 4)
    assert t.air.max_coast_s == 60.0 and t.air.max_speed_mps == 350.0  # the air pool's own defaults are kept
    assert t.surface.q_mps2 == (0.05, 3.0) and t.surface.tentative_max_age_s == 900.0  # thinned preset kept


@pytest.mark.parametrize(("doc", "field"), [
    (minimal(format_version=2), "format_version"),
    ({"format_version": 1}, "name"),
    (minimal(colour="red"), "colour"),
    (minimal(area={"lat_min": 1, "lat_max": 2, "lon_min": 3}), "area.lon_max"),
    (minimal(area={"lat_min": 2, "lat_max": 1, "lon_min": 3, "lon_max": 4}), "area.lat_max"),
    (minimal(area={"lat_min": 1, "lat_max": 95, "lon_min": 3, "lon_max": 4}), "area.lat_max"),
    (minimal(zones=[{"name": "z", "kind": "moat", "polygon": [[0, 0], [1, 0], [1, 1]]}]), "zones[0].kind"),
    (minimal(zones=[{"file": "missing.geojson"}]), "zones[0].file"),
    (minimal(ais_receivers=[{"id": "a", "lat": 1.0, "lon": 2.0, "range_m": -5.0}]), "ais_receivers[0].range_m"),
    (minimal(rules={"overrides": {"rules": {"go_fast": {"speed_kn": "fast"}}}}), "rules.overrides [go_fast]"),
    (minimal(rules={"file": "missing.toml"}), "rules.file"),
    (minimal(tracker={"preset": "fast"}), "tracker.preset"),
    (minimal(tracker={"gate_probability": 0.9}), "tracker.gate_probability"),
    (minimal(tracker={"confirm_m": "two"}), "tracker.confirm_m"),
    (minimal(tracker={"confirm_m": 5, "confirm_n": 3}), "tracker"),
    (minimal(tracker={"surface": {"max_coast_s": -1.0}}), "tracker.surface"),
    (minimal(tracker={"surface": {"coast": 1.0}}), "tracker.surface.coast"),
    (minimal(tracker={"oosm_lag_s": 1.0}), "tracker.oosm_lag_s"),
    (minimal(tracker={"source_interval_s": {"ais/sat": "slow"}}), "tracker.source_interval_s"),
    (minimal(tracker={"source_interval_s": {"ais/sat": -1.0}}), "tracker"),
    (minimal(tracker={"late_max_age_s": -1.0}), "tracker"),
])
def test_errors_name_the_field(doc: dict[str, object], field: str, tmp_path: Path) -> None:
    with pytest.raises(DeploymentError) as err:
        deployment_from_dict(doc, source="d.toml", base_dir=tmp_path)
    assert err.value.field.startswith(field), str(err.value)
    assert str(err.value).startswith(f"d.toml: {err.value.field} = ")


def test_sparse_example_states_source_intervals_and_late_fusion() -> None:
    t = load_deployment(ROOT / "deploy" / "sparse_ais.example.toml").fusion_config.tracker
    assert t.source_interval_s["ais/marinecadastre"] == 60.0 and t.source_interval_s["ais/satellite"] == 420.0
    assert t.late_max_age_s == 21600.0


def test_unreadable_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match="cannot be read"):
        load_deployment(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("name = ")
    with pytest.raises(DeploymentError, match="not valid TOML"):
        load_deployment(tmp_path / "bad.toml")


def test_service_config_takes_the_deployment_not_with_a_scenario() -> None:
    cfg = load_config(None, {"JISF_DEPLOYMENT": str(EXAMPLE)})
    assert cfg.deployment == str(EXAMPLE)
    with pytest.raises(ConfigError, match="deployment"):
        load_config(None, {"JISF_DEPLOYMENT": str(EXAMPLE), "JISF_SCENARIO": "x.toml"})


def test_run_refuses_a_bad_deployment_or_one_without_area(tmp_path: Path) -> None:
    (tmp_path / "noarea.toml").write_text('format_version = 1\nname = "x"\n')
    (tmp_path / "bad.toml").write_text('format_version = 1\nname = "x"\n[tracker]\nconfirm_m = "two"\n')
    for path, says in ((tmp_path / "noarea.toml", "area = None: jisf run needs"), (tmp_path / "bad.toml", "tracker.confirm_m")):
        done = subprocess.run([sys.executable, "-m", "fusion.cli", "run", "--deployment", str(path)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2, done.stderr
        assert says in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_run_builds_the_service_of_the_example() -> None:
    from fusion.runner import build_service

    service = build_service(load_config(None, {}, {"deployment": str(EXAMPLE)}))
    frame = service.fusion.frame
    assert (frame.lat_min, frame.lat_max, frame.lon_min, frame.lon_max) == (40.35, 40.95, -74.35, -73.65)
    assert service.fusion.rules.zones.names == ["Upper Bay anchorage", "Ambrose channel"]
    assert service.fusion.config.tracker.surface.tentative_max_age_s == 900.0
