"""`jisf replay` of real AIS outside the default area: the area from a deployment file or from the data,
and a one-line error (exit 1) when every report is rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusion.cli import main
from fusion.realdata_import import import_marinecadastre
from sim_feeds.scenario import default_scenario_path

CSV = Path("/work/shared/data/real/ais/NYHarbor_2020_06_30_first_hour.csv")
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "deployment.example.toml"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The first 5 minutes of New York Harbor AIS as a recording, and its number of position reports."""
    if not CSV.exists():
        pytest.fail(f"{CSV} missing (real AIS test data, see its SOURCE.md)")
    rec = tmp_path_factory.mktemp("ny") / "ny.jsonl.gz"
    return rec, import_marinecadastre(CSV, rec, first_s=300.0).positions


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object] | None, str]:
    code = main(["replay", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_deployment_file_gives_area_zones_and_tracker(recording: tuple[Path, int], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    rec, positions = recording
    code, summary, err = replay(capsys, str(rec), "-o", str(tmp_path / "out"), "--deployment", str(EXAMPLE))
    assert code == 0, err
    assert summary is not None
    assert summary["area"] == [40.35, 40.95, -74.35, -73.65]
    assert summary["rejected"] == 0 and summary["measurements"] == positions
    zones = json.loads((tmp_path / "out" / "zones.geojson").read_text())
    assert [f["properties"]["name"] for f in zones["features"]] == ["Upper Bay anchorage", "Ambrose channel"]
    assert (tmp_path / "out" / "tracks.jsonl").stat().st_size > 0


def test_deployment_from_the_environment(recording: tuple[Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JISF_DEPLOYMENT", str(EXAMPLE))
    code, summary, err = replay(capsys, str(recording[0]), "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert summary is not None and summary["area"] == [40.35, 40.95, -74.35, -73.65]


def test_without_scenario_or_deployment_the_area_comes_from_the_data(recording: tuple[Path, int], tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    rec, positions = recording
    code, summary, err = replay(capsys, str(rec), "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert summary is not None
    lat_min, lat_max, lon_min, lon_max = summary["area"]  # type: ignore[misc]
    assert 40.3 < lat_min < lat_max < 41.0 and -74.5 < lon_min < lon_max < -73.5  # New York Harbor, plus 0.05 deg
    assert summary["rejected"] == 0 and summary["measurements"] == positions


def test_every_report_rejected_is_a_one_line_error(recording: tuple[Path, int], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    rec, positions = recording
    code, _summary, err = replay(capsys, str(rec), "-o", str(tmp_path / "out"), "--scenario", str(default_scenario_path()))
    assert code == 1
    assert err.count("\n") == 1, err
    assert f"all {positions:,} reports rejected" in err and "top reasons: ais" in err, err


def test_a_bad_deployment_is_a_one_line_error(recording: tuple[Path, int], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "d.toml"
    bad.write_text('format_version = 1\nname = "x"\n[area]\nlat_min = "north"\n')
    code, _summary, err = replay(capsys, str(recording[0]), "-o", str(tmp_path / "out"), "--deployment", str(bad))
    assert code == 1 and err.count("\n") == 1 and "area.lat_min" in err, err
