"""jisf evaluate-suite: pooling of per-scenario metrics, and one short corpus scenario per split end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fusion import evalsuite
from fusion.cliutil import UsageError


def metrics(benign: int, suspects: int, days: float, found: int, false: int, tta: float | None, tpo: float,
            rule: str = "go_fast") -> dict[str, Any]:
    scores = {"suspects_found": found, "false_alarms": false,
              "time_to_alert_s": {"median": tta, "mean": tta, "max": tta}}
    return {"inputs": {"benign": benign, "suspects": suspects, "objects": benign + suspects, "duration_s": days * 86400.0},
            "alerts": {"all": scores, "by_rule": {rule: scores}},
            "continuity": {"tracks_per_object_mean": tpo},
            "domains": {"surface": {"continuity": {"tracks_per_object_mean": tpo}}},
            "area": "a", "seed": 1, "wall_s": 10.0}


def test_pool_weights_false_alarms_by_benign_object_days_and_tracks_by_objects() -> None:
    pooled = evalsuite.pool([metrics(99, 1, 0.25, 1, 3, 120.0, 1.0), metrics(19, 1, 1.0, 0, 2, None, 2.0, rule="ais_gap")])
    benign_days = 99 * 0.25 + 19 * 1.0
    assert pooled["benign_object_days"] == pytest.approx(benign_days)
    assert pooled["rules"]["all"]["false_alarms_per_10_benign_per_day"] == pytest.approx(10 * 5 / benign_days)
    assert pooled["rules"]["all"]["recall"] == 0.5 and pooled["rules"]["all"]["time_to_alert_median_s"] == 120.0
    assert pooled["rules"]["ais_gap"]["suspects_found"] == 0 and pooled["rules"]["ais_gap"]["suspects"] == 2
    assert pooled["rules"]["ais_gap"]["false_alarms_per_10_benign_per_day"] == pytest.approx(10 * 2 / benign_days)
    assert pooled["tracks_per_object"]["all"] == pytest.approx((1.0 * 100 + 2.0 * 20) / 120)
    assert pooled["scenario_days"] == pytest.approx(1.25) and pooled["x_real_time"] == pytest.approx(1.25 * 86400 / 20)
    assert "go_fast" in evalsuite.format_table(pooled)


def test_pool_weights_tracks_per_followed_object_by_objects_followed() -> None:
    a, b, old = metrics(9, 1, 1.0, 1, 0, 60.0, 1.0), metrics(9, 1, 1.0, 1, 0, 60.0, 2.0), metrics(9, 1, 1.0, 1, 0, 60.0, 5.0)
    for m, followed, tpf in ((a, 8, 1.25), (b, 2, 3.0)):  # ``old`` was scored before the figure existed: left out
        m["continuity"].update(objects_followed=followed, tracks_per_followed_object_mean=tpf)
        m["domains"]["surface"]["continuity"].update(objects_followed=followed, tracks_per_followed_object_mean=tpf)
    pooled = evalsuite.pool([a, b, old])
    assert pooled["tracks_per_followed_object"]["all"] == pytest.approx((8 * 1.25 + 2 * 3.0) / 10)
    assert pooled["tracks_per_followed_object"]["surface"] == pytest.approx((8 * 1.25 + 2 * 3.0) / 10)
    assert "tracks per object followed" in evalsuite.format_table(pooled)


def test_pool_weights_each_domain_by_its_own_objects() -> None:
    a, b = metrics(99, 1, 1.0, 1, 0, 60.0, 1.0), metrics(19, 1, 1.0, 1, 0, 60.0, 1.0)
    a["domains"] = {"surface": {"continuity": {"tracks_per_object_mean": 1.0, "objects": 90}},
                    "air": {"continuity": {"tracks_per_object_mean": 3.0, "objects": 10}}}
    b["domains"] = {"surface": {"continuity": {"tracks_per_object_mean": 2.0, "objects": 10}},
                    "air": {"continuity": {"tracks_per_object_mean": 1.0, "objects": 10}}}
    pooled = evalsuite.pool([a, b])
    assert pooled["tracks_per_object"]["surface"] == pytest.approx((90 * 1.0 + 10 * 2.0) / 100)
    assert pooled["tracks_per_object"]["air"] == pytest.approx((10 * 3.0 + 10 * 1.0) / 20)


def test_pool_time_to_alert_observable_beside_the_track_based_one() -> None:
    a, b, old = (metrics(9, 1, 0.25, 1, 0, 900.0, 1.0), metrics(9, 1, 0.25, 1, 0, 700.0, 1.0),
                 metrics(9, 1, 0.25, 1, 0, 500.0, 1.0))
    for m, obs in ((a, 100.0), (b, 300.0)):
        m["alerts"]["all"]["time_to_alert_observable_s"] = {"median": obs, "mean": obs, "max": obs}
    pooled = evalsuite.pool([a, b, old])  # ``old``: scored before the figure existed
    assert pooled["rules"]["all"]["time_to_alert_median_s"] == 700.0
    assert pooled["rules"]["all"]["time_to_alert_observable_median_s"] == 200.0
    assert pooled["rules"]["all"]["time_to_alert_observable_max_s"] == 300.0
    assert pooled["per_scenario"][2]["time_to_alert_observable_median_s"] is None
    table = evalsuite.format_table(pooled)
    assert "obs med s" in table and "(obs   100 s)" in table


def test_seeds_argument() -> None:
    assert evalsuite.parse_seeds("2000-2002,2010") == [2000, 2001, 2002, 2010]
    with pytest.raises(UsageError, match="--seeds: 'x' is not a seed"):
        evalsuite.parse_seeds("2000,x")


@pytest.mark.parametrize(("split", "area", "seed"), [("tune", "kingston", 1000), ("test", "colon", 2000)])
def test_one_short_scenario_per_split(tmp_path: Path, split: str, area: str, seed: int,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The CI slice: a 10-minute, 0.2-scale corpus scenario of each side, pooled; the pooled figures
    are the scenario's own metrics.json figures."""
    argv = ["--split", split, "--areas", area, "--seeds", str(seed), "--duration-s", "600", "--scale", "0.2",
            "-o", str(tmp_path)]
    assert evalsuite.main(argv) == 0
    table = capsys.readouterr().out
    suite = json.loads((tmp_path / "suite.json").read_text())
    own = json.loads((tmp_path / f"{area}-{seed}" / "metrics.json").read_text())
    assert suite["members"] == [f"{area}-{seed}"] and suite["split"] == split
    assert suite["suspects"] == own["inputs"]["suspects"] >= 1
    assert suite["benign_objects"] == own["inputs"]["benign"] > 5
    assert suite["rules"]["all"]["false_alarms"] == own["alerts"]["all"]["false_alarms"]
    assert suite["rules"]["all"]["suspects_found"] == own["alerts"]["all"]["suspects_found"]
    assert suite["rules"]["all"]["time_to_alert_observable_median_s"] == own["alerts"]["all"]["time_to_alert_observable_s"]["median"]
    assert "obs med s" in table
    assert "tracks per object" in table and f"{suite['scenarios']} scenarios" in table
    assert evalsuite.main(argv) == 0  # unchanged scenario: its metrics are reused, not recomputed
    assert json.loads((tmp_path / "suite.json").read_text())["wall_s"] == 0.0
    more = [*argv, "--seeds", f"{seed},{seed + 1}", "--scored-only"]  # the second seed is not scored: left out
    assert evalsuite.main(more) == 0
    assert json.loads((tmp_path / "suite.json").read_text())["members"] == [f"{area}-{seed}"]
    assert not (tmp_path / f"{area}-{seed + 1}").exists()


def test_a_seed_of_the_other_split_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert evalsuite.main(["--split", "test", "--seeds", "1000"]) == 2
    assert "seeds: 1000 is not in the test split" in capsys.readouterr().err
    assert evalsuite.main(["--split", "test", "--seeds", "2000", "--scored-only", "-o", str(tmp_path)]) == 1
    assert "no scenario of the selection is scored yet" in capsys.readouterr().err


def test_pool_reports_the_table_at_the_operating_point_when_every_scenario_has_it() -> None:
    a, b = metrics(99, 1, 0.25, 1, 3, 120.0, 1.0), metrics(19, 1, 1.0, 0, 2, None, 2.0)
    assert evalsuite.pool([a, b])["operating_point"] is None  # scored before the score existed
    for m, found, false in ((a, 1, 1), (b, 0, 0)):
        at = {"suspects_found": found, "false_alarms": false, "time_to_alert_s": {"median": 300.0, "mean": 300.0, "max": 300.0}}
        m["alerts"]["at_operating_point"] = {"threshold": 0.25, "all": at, "by_rule": {"go_fast": at}}
    op = evalsuite.pool([a, b])["operating_point"]
    assert op["threshold"] == 0.25
    assert op["rules"]["all"]["recall"] == 0.5 and op["rules"]["all"]["false_alarms"] == 1
    assert op["rules"]["all"]["false_alarms_per_10_benign_per_day"] == pytest.approx(10 * 1 / (99 * 0.25 + 19 * 1.0))
    assert "score >= 0.2500" in evalsuite.format_table({**evalsuite.pool([a, b]), "x_real_time": None})
