"""Real AIS (MarineCadastre, New York Harbor, 2020-06-30) through the service's own decode path:
every vessel with at least ten reports ends up as one continuous track carrying its MMSI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusion.realdata_import import (
    AIS_TOPIC_ROOT,
    data_area,
    import_marinecadastre,
    main,
    read_positions,
    replay_with_data_area,
    vessel_continuity,
)
from fusion.recording import read_recording

CSV = Path("/work/shared/data/real/ais/NYHarbor_2020_06_30_first_hour.csv")
FIRST_S = 1200.0  # the test replays the first 20 minutes (the full hour: docs/REALDATA.md)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    if not CSV.exists():
        pytest.fail(f"{CSV} missing (real AIS test data, see its SOURCE.md)")
    root = tmp_path_factory.mktemp("realdata")
    import_marinecadastre(CSV, root / "rec.jsonl.gz", first_s=FIRST_S)
    summary = replay_with_data_area(root / "rec.jsonl.gz", root / "out")
    return root, summary


def test_every_vessel_with_ten_reports_is_one_track(replayed: tuple[Path, dict[str, object]]) -> None:
    root, summary = replayed
    positions = read_positions(CSV, first_s=FIRST_S)
    assert summary["rejected"] == 0 and summary["measurements"] == len(positions)
    vessels = vessel_continuity(positions, root / "out" / "tracks.jsonl", min_reports=10)
    assert len(vessels) >= 100, len(vessels)
    broken = [(v.mmsi, len(v.report_times), v.track_ids, v.longest_gap_s) for v in vessels if not v.continuous]
    assert not broken, f"{len(broken)} of {len(vessels)} vessels not one continuous track: {broken[:10]}"
    ids = [v.track_ids[0] for v in vessels]
    assert len(set(ids)) == len(ids), "two vessels share a track"


def test_recording_is_ais_feed_messages_in_time_order(replayed: tuple[Path, dict[str, object]]) -> None:
    root, _ = replayed
    messages = list(read_recording(root / "rec.jsonl.gz"))
    assert {m.topic for m in messages} == {AIS_TOPIC_ROOT + "marinecadastre"}
    times = [m.recv_t for m in messages]
    assert times == sorted(times)
    assert all(m.payload.startswith(b"\\") and b"!AIVDM" in m.payload for m in messages)
    area = data_area(root / "rec.jsonl.gz", margin_deg=0.0)
    # SOURCE.md: lat 40.384-40.884, lon -74.273 to -73.626 over the hour; 20 minutes lie inside
    assert 40.38 <= area.lat_min < area.lat_max <= 40.89 and -74.28 <= area.lon_min < area.lon_max <= -73.62


def test_cli_writes_a_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.jsonl.gz"
    assert main([str(CSV), "-o", str(out), "--first-s", "60"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["positions"] == len(read_positions(CSV, first_s=60.0)) > 0
    assert result["messages"] == sum(1 for _ in read_recording(out))
    assert main([str(tmp_path / "missing.csv"), "-o", str(out)]) == 1
