"""`jisf evaluate` is deterministic and writes the DESIGN.md files."""

from __future__ import annotations

import json
from pathlib import Path

from fusion.cli import main
from sim_feeds.scenario import resolve_scenario

TRUTH_KEYS = ["t", "id", "domain", "lat", "lon", "alt_m", "speed_mps", "course_deg", "mmsi", "icao24", "role", "activity"]
TRACK_KEYS = ["t", "track_id", "domain", "status", "lat", "lon", "alt_m", "vel_e_mps", "vel_n_mps", "cov_en_m2", "mmsi", "icao24", "sources"]
ALERT_KEYS = ["t", "alert_id", "rule", "severity", "state", "track_id", "lat", "lon", "zone", "mmsi", "icao24", "reason", "related_track_ids"]


def test_evaluate_twice_gives_identical_bytes(tmp_path: Path) -> None:
    scenario = str(resolve_scenario("minimal"))
    for run in ("a", "b"):
        assert main(["evaluate", scenario, "-o", str(tmp_path / run), "--no-metrics"]) == 0
    for name in ("truth.jsonl", "tracks.jsonl", "alerts.jsonl"):
        first, second = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
        assert first, f"{name} is empty"
        assert first == second, f"{name} differs between two runs with the same seed"
    truth = [json.loads(x) for x in (tmp_path / "a" / "truth.jsonl").read_text().splitlines()]
    tracks = [json.loads(x) for x in (tmp_path / "a" / "tracks.jsonl").read_text().splitlines()]
    alerts = [json.loads(x) for x in (tmp_path / "a" / "alerts.jsonl").read_text().splitlines()]
    assert list(truth[0]) == TRUTH_KEYS
    assert list(tracks[0])[: len(TRACK_KEYS)] == TRACK_KEYS  # then identity fields where known
    assert alerts and list(alerts[0])[: len(ALERT_KEYS)] == ALERT_KEYS
    assert {r["role"] for r in truth} == {"benign", "suspect"}
    assert {a["state"] for a in alerts} <= {"raised", "updated", "cleared"}
    confirmed = [r for r in tracks if r["status"] == "confirmed"]
    assert confirmed and all(len(r["cov_en_m2"]) == 2 and len(r["cov_en_m2"][0]) == 2 for r in confirmed)
