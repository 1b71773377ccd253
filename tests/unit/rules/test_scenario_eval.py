"""Issue 5 item 4 on the minimal scenario (the default until issue 17): the rules with their shipped
defaults, on the tracker's output, alert the suspect go-fast within 5 minutes of it becoming
observable and raise nothing on the five benign AIS merchants (docs/SCENARIO-EVAL.md has every library scenario)."""

from __future__ import annotations

import json
from pathlib import Path

from fusion.offline import evaluate
from sim_feeds.scenario import resolve_scenario


def test_default_scenario_suspect_alerted_early_and_no_false_alarm(tmp_path: Path) -> None:
    evaluate(resolve_scenario("minimal"), tmp_path)
    alerts = json.loads((tmp_path / "metrics.json").read_text())["alerts"]
    total = alerts["all"]
    assert total["suspects"] == 1 and total["suspects_found"] == 1 and total["recall"] == 1.0
    assert total["false_alarms"] == 0 and total["benign_objects_alerted"] == 0
    assert total["time_to_alert_s"]["median"] < 300.0
    assert alerts["by_rule"]["go_fast"]["suspects_found"] == 1
