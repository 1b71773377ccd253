"""Replay regression suite: recorded shipped scenarios replay to their expected alerts (exactly)
and track states (within POSITION_TOL_M and VELOCITY_TOL_MPS); replay is byte-deterministic and
is the same code path as evaluate.

Rewrite the expected files with ``pytest tests/replay --update-goldens`` (add ``--rerecord`` to
regenerate the recordings from the scenarios too); the change is printed as a diff.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from goldens import (
    CASES,
    POSITION_TOL_M,
    SCENARIOS,
    VELOCITY_TOL_MPS,
    Case,
    compare_tracks,
    dump_rows,
    record_scenario,
    text_diff,
    tracks_summary,
)

from fusion.offline import evaluate, replay_recording

_replays: dict[str, Path] = {}


@pytest.fixture(scope="module")
def replay_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replays")


def replayed(case: Case, root: Path) -> Path:
    """The case's recording replayed into a directory (once per module)."""
    if case.name not in _replays:
        out = root / case.name
        replay_recording(case.recording, out, scenario_path=case.scenario_path)
        _replays[case.name] = out
    return _replays[case.name]


def _update(case: Case, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new_alerts = (out / "alerts.jsonl").read_text()
    new_tracks = dump_rows(tracks_summary(out / "tracks.jsonl"))
    report = [f"== {case.name} (recording {case.recording.stat().st_size} bytes)"]
    for path, new in ((case.expected_alerts, new_alerts), (case.expected_tracks, new_tracks)):
        old = path.read_text() if path.exists() else ""
        if old == new:
            report.append(f"{path.name}: unchanged")
        else:
            report.append(f"{path.name}: rewritten ({len(old.splitlines())} -> {len(new.splitlines())} lines)")
            report.append(text_diff(old, new, path.name))
            path.write_text(new)
    with capsys.disabled():
        print("\n" + "\n".join(report))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_replay_matches_goldens(case: Case, replay_root: Path, update_goldens: bool, rerecord: bool,
                                capsys: pytest.CaptureFixture[str]) -> None:
    if update_goldens and (rerecord or not case.recording.exists()):
        record_scenario(case.scenario_path, case.recording, case.minutes)
    assert case.recording.exists(), f"{case.recording} missing: run pytest tests/replay --update-goldens --rerecord"
    out = replayed(case, replay_root)
    if update_goldens:
        _update(case, out, capsys)
        return
    expected_alerts = case.expected_alerts.read_text()
    actual_alerts = (out / "alerts.jsonl").read_text()
    assert actual_alerts == expected_alerts, (
        f"{case.name}: alerts differ from {case.expected_alerts} "
        f"(if intended: pytest tests/replay --update-goldens)\n{text_diff(expected_alerts, actual_alerts, 'alerts.jsonl')}"
    )
    expected = [json.loads(x) for x in case.expected_tracks.read_text().splitlines()]
    problems = compare_tracks(expected, tracks_summary(out / "tracks.jsonl"))
    shown = "\n".join(problems[:40]) + (f"\n... {len(problems) - 40} more" if len(problems) > 40 else "")
    assert not problems, (
        f"{case.name}: {len(problems)} track differences beyond {POSITION_TOL_M} m / {VELOCITY_TOL_MPS} m/s "
        f"(if intended: pytest tests/replay --update-goldens)\n{shown}"
    )


def test_goldens_are_not_trivial() -> None:
    """Each golden has tracks, and together they hold raised alerts of several rules."""
    rules = set()
    for case in CASES:
        assert case.expected_tracks.read_text().count("\n") >= 20, case.name
        rules |= set(re.findall(r'"rule":"([a-z_]+)","severity":"[a-z]+","state":"raised"', case.expected_alerts.read_text()))
    assert {"go_fast", "ais_gap"} <= rules, rules


def test_compare_tracks_reports_each_kind_of_difference() -> None:
    row = {"t": 10.0, "track_id": 1, "domain": "surface", "status": "confirmed", "mmsi": 5, "icao24": None,
           "sources": ["ais"], "lat": 10.0, "lon": -80.0, "vel_e_mps": 1.0, "vel_n_mps": 2.0}
    assert compare_tracks([row], [dict(row, lat=10.0 + 0.5 / 111_195.0, vel_e_mps=1.005)]) == []
    moved = compare_tracks([row], [dict(row, lat=10.0 + 2.0 / 111_195.0)])
    assert len(moved) == 1 and "position 2.000 m" in moved[0]
    assert "vel_n_mps" in compare_tracks([row], [dict(row, vel_n_mps=2.02)])[0]
    assert "status" in compare_tracks([row], [dict(row, status="coasting")])[0]
    assert compare_tracks([row], [dict(row, t=15.0)]) == ["missing track row t=10.0 track_id=1",
                                                          "unexpected track row t=15.0 track_id=1"]


def test_replay_twice_gives_identical_bytes(replay_root: Path, tmp_path: Path) -> None:
    case = CASES[0]
    first = replayed(case, replay_root)
    replay_recording(case.recording, tmp_path, scenario_path=case.scenario_path)
    for name in ("tracks.jsonl", "alerts.jsonl", "zones.geojson"):
        a, b = (first / name).read_bytes(), (tmp_path / name).read_bytes()
        assert a == b, f"{name} differs between two replays of {case.recording}"
    assert (first / "alerts.jsonl").read_bytes(), "the determinism check needs alerts to compare"


def test_replay_equals_evaluate(tmp_path: Path) -> None:
    """A recording of a scenario's feed replays to exactly what evaluate writes for that scenario.

    The minimal scenario is copied with its zones and cut to 15 minutes (evaluate runs the whole
    scenario)."""
    text = (SCENARIOS / "minimal.toml").read_text()
    short, n = re.subn(r"(?m)^duration_s\s*=\s*\d+(\.\d+)?", "duration_s = 900", text)
    assert n == 1
    scenario = tmp_path / "minimal.toml"
    scenario.write_text(short)
    shutil.copytree(SCENARIOS / "zones", tmp_path / "zones")
    evaluate(scenario, tmp_path / "evaluate", metrics=False)
    record_scenario(scenario, tmp_path / "rec.jsonl.gz", None)
    replay_recording(tmp_path / "rec.jsonl.gz", tmp_path / "replay", scenario_path=scenario)
    for name in ("tracks.jsonl", "alerts.jsonl", "zones.geojson"):
        a, b = (tmp_path / "evaluate" / name).read_bytes(), (tmp_path / "replay" / name).read_bytes()
        assert a, f"evaluate wrote an empty {name}"
        assert a == b, f"{name}: replay of the recorded feed differs from evaluate\n" + text_diff(a.decode(), b.decode(), name)
