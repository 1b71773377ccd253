"""Sparse real AIS: the New York Harbor hour thinned to one report per vessel per 7 minutes
(a satellite AIS revisit) stays one track per vessel when the deployment states the source's
interval (deploy/sparse_ais.example.toml), through ``jisf import-ais --replay --deployment``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusion.pipeline import FusionConfig
from fusion.realdata_import import (
    continuity_summary,
    import_marinecadastre,
    main,
    read_positions,
    replay_with_data_area,
    thin_marinecadastre,
    vessel_continuity,
)

CSV = Path("/work/shared/data/real/ais/NYHarbor_2020_06_30_first_hour.csv")
DEPLOYMENT = Path(__file__).resolve().parents[2] / "deploy" / "sparse_ais.example.toml"
PERIOD_S = 420.0
FIRST_S = 1800.0  # the first 30 minutes: up to 5 reports per vessel
MIN_REPORTS = 4


@pytest.fixture(scope="module")
def thinned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CSV.exists():
        pytest.fail(f"{CSV} missing (real AIS test data, see its SOURCE.md)")
    path = tmp_path_factory.mktemp("sparse") / "thinned.csv"
    thin_marinecadastre(CSV, path, PERIOD_S)
    return path


def test_thinning_keeps_one_report_per_period_per_vessel(thinned: Path) -> None:
    kept = read_positions(thinned, source="thinned")
    last: dict[int, float] = {}
    for p in kept:
        assert p.mmsi not in last or p.t - last[p.mmsi] >= PERIOD_S
        last[p.mmsi] = p.t
    assert {p.mmsi for p in kept} == {p.mmsi for p in read_positions(CSV)}  # every vessel keeps its first report


def test_stated_interval_gives_one_track_per_vessel(thinned: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main([str(thinned), "-o", str(tmp_path / "rec.jsonl.gz"), "--source", "thinned", "--first-s", str(FIRST_S),
                 "--replay", str(out), "--deployment", str(DEPLOYMENT)])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["replay"]["rejected"] == 0
    c = continuity_summary(vessel_continuity(read_positions(thinned, source="thinned", first_s=FIRST_S), out / "tracks.jsonl",
                                             min_reports=MIN_REPORTS))
    assert c["vessels"] >= 150
    assert c["tracks_per_vessel"] <= 1.2 and c["coverage"] >= 0.8, {k: c[k] for k in ("tracks_per_vessel", "coverage")}


def test_without_the_interval_the_same_data_breaks_into_tracks(thinned: Path, tmp_path: Path) -> None:
    import_marinecadastre(thinned, tmp_path / "rec.jsonl.gz", source="thinned", first_s=FIRST_S)
    replay_with_data_area(tmp_path / "rec.jsonl.gz", tmp_path / "out", config=FusionConfig())
    vessels = vessel_continuity(read_positions(thinned, source="thinned", first_s=FIRST_S), tmp_path / "out" / "tracks.jsonl",
                                min_reports=MIN_REPORTS)
    c = continuity_summary(vessels)
    assert c["tracks_per_vessel"] > 1.2 or c["coverage"] < 0.8, {k: c[k] for k in ("tracks_per_vessel", "coverage")}
