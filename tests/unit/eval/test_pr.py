"""The precision/recall sweep over the alert score, the operating point, reliability bins, and `jisf plot pr`."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from eval_scene import scored_suite
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.evaluation.pr import load_suite, operating_point, pr_curve, reliability, suite_alerts
from fusion.plot import main_plot


def event(scenario: str, alert_id: str, rule: str, true: bool, score: float, obj: str | None, state: str = "raised") -> dict:
    return {"scenario": scenario, "alert_id": alert_id, "rule": rule, "true": true, "score": score, "object": obj, "state": state}


EVENTS = [
    event("a-1", "x1", "go_fast", True, 0.9, "S1"),
    event("a-1", "x2", "go_fast", True, 0.3, "S1"),  # a second alert on the same suspect
    event("a-1", "x3", "ais_gap", False, 0.2, "B1"),
    event("a-1", "x3", "ais_gap", False, 0.6, "B1", "updated"),  # peak 0.6
    event("b-2", "x1", "dark_vessel", True, 0.4, "S2"),  # same alert id, other scenario: another alert
    event("b-2", "x4", "dark_vessel", False, 0.1, "B2"),
]


def test_pr_curve_by_hand() -> None:
    alerts = suite_alerts(EVENTS, suspects=3)
    assert alerts.key == ["a-1/x1", "a-1/x2", "a-1/x3", "b-2/x1", "b-2/x4"]
    assert alerts.score.tolist() == [0.9, 0.3, 0.6, 0.4, 0.1]
    c = pr_curve(alerts, thresholds=np.array([0.0, 0.35, 0.5, 0.7, 0.95]))
    assert c["alerts"].tolist() == [5, 3, 2, 1, 0]
    assert c["precision"][:4].tolist() == pytest.approx([3 / 5, 2 / 3, 1 / 2, 1.0]) and np.isnan(c["precision"][4])
    assert c["recall"].tolist() == pytest.approx([2 / 3, 2 / 3, 1 / 3, 1 / 3, 0.0])  # S1 and S2 of 3 suspects
    go = pr_curve(alerts, "go_fast", np.array([0.0, 0.5]))
    assert go["precision"].tolist() == [1.0, 1.0] and go["recall"].tolist() == pytest.approx([1 / 3, 1 / 3])
    default = pr_curve(alerts)  # 0 and every distinct score
    assert default["threshold"].tolist() == [0.0, 0.1, 0.3, 0.4, 0.6, 0.9]


def test_operating_point_is_the_highest_recall_at_the_target_precision_with_a_margin() -> None:
    alerts = suite_alerts(EVENTS, suspects=3)
    # recall 2/3 at precision >= 0.6 from threshold 0 (precision 0.6) to 0.4 (2/3; above it S2's alert is lost):
    # the midpoint, 0.2, where 4 alerts count (3 true) and both suspects are still found
    c = pr_curve(alerts)
    assert operating_point(c, 0.6) == pytest.approx(0.2)
    at = pr_curve(alerts, thresholds=np.array([0.2]))
    assert at["recall"][0] == pytest.approx(2 / 3) and at["precision"][0] == pytest.approx(0.75)
    assert operating_point(c, 0.7) == pytest.approx(0.3)  # only 0.3 (0.75) keeps recall 2/3 at 0.7: no margin
    assert operating_point(c, 0.8) == pytest.approx(0.9)  # only recall 1/3 reaches it
    assert operating_point({"threshold": np.array([0.0, 0.5]), "precision": np.array([0.2, np.nan]),
                            "recall": np.array([1.0, 0.0])}, 0.5) == 0.0  # unreachable: the most precise
    shuffled = {k: v[::-1] for k, v in c.items()}  # the sweep in any order
    assert operating_point(shuffled, 0.6) == pytest.approx(0.2)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 1.0), st.booleans(), st.integers(0, 4)), min_size=1, max_size=30),
       st.floats(0.05, 1.0))
def test_the_operating_point_keeps_the_recall_and_precision_it_was_chosen_for(
        rows: list[tuple[float, bool, int]], target: float) -> None:
    events = [event("a-1", f"x{k}", "go_fast", true, score, f"S{obj}" if true else "B") for k, (score, true, obj) in enumerate(rows)]
    alerts = suite_alerts(events, suspects=5)
    c = pr_curve(alerts)
    at = pr_curve(alerts, thresholds=np.array([operating_point(c, target)]))
    ok = np.isfinite(c["precision"]) & (c["precision"] >= target)
    if ok.any():
        assert at["recall"][0] == pytest.approx(c["recall"][ok].max()) and at["precision"][0] >= target - 1e-12


def test_reliability_bins() -> None:
    rows = reliability(np.array([0.05, 0.15, 0.15, 0.9, 1.0]), np.array([False, True, False, True, True]), (0.0, 0.1, 0.5, 1.0))
    assert [r["alerts"] for r in rows] == [1, 2, 2]
    assert rows[1]["mean_score"] == pytest.approx(0.15) and rows[1]["observed"] == 0.5
    assert rows[2]["observed"] == 1.0  # the last bin includes 1.0


def test_load_suite_and_plot_pr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events, suspects = load_suite(scored_suite(tmp_path / "suite"))
    assert suspects == 2 and len(events) == 4
    assert sorted((e["scenario"], e["alert_id"], e["true"]) for e in events) == [
        ("cartagena-1000", "d", False), ("cartagena-1000", "g", True), ("kingston-1000", "d", False), ("kingston-1000", "g", True)]
    out = tmp_path / "pr.png"
    assert main_plot(["pr", "--suite", str(tmp_path / "suite"), "-o", str(out), "--width", "800", "--height", "500"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == str(out) and printed[0].startswith("4 alerts (2 true), 2 suspects")
    assert any(line.startswith("go_fast") for line in printed)
    image = mpimg.imread(out)
    assert image.shape[:2] == (500, 800) and np.std(image[..., :3]) > 0.05


def test_scenario_outcomes_of_a_run_scored_before_outcomes_existed(tmp_path: Path) -> None:
    root = scored_suite(tmp_path / "suite")
    for d in root.iterdir():
        (d / "alert_outcomes.jsonl").unlink()  # as a suite scored by the code before this file existed
    events, suspects = load_suite(root)
    assert suspects == 2 and len(events) == 4
    assert not (root / "kingston-1000" / "alert_outcomes.jsonl").exists()  # scored in memory, nothing written
    assert json.loads((root / "kingston-1000" / "metrics.json").read_text())["inputs"]["suspects"] == 1
