"""The calibrated alert score: the logistic fit, the calibration file, and the score every alert event carries."""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec
import numpy as np
import pytest
from eval_scene import scored_suite

from fusion.evaluation.pr import load_scenarios
from fusion.rules import calibration as cal
from fusion.rules.calibration import FEATURES, Calibration, RuleModel, default_calibration, features, fit_logistic
from fusion.rules.lifecycle import AlertEvent


def test_fit_recovers_a_known_logistic_relation() -> None:
    rng = np.random.default_rng(7)
    x = np.column_stack([rng.uniform(0, 1, 4000), rng.uniform(0, 3, 4000), rng.uniform(0.5, 2, 4000), rng.integers(0, 2, 4000)])
    logit = -1.0 + 4.0 * (x[:, 0] - 0.5) - 1.5 * x[:, 3]
    y = (rng.uniform(0, 1, 4000) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64)
    model = fit_logistic(x, y)
    p = model.prob(x)
    assert np.mean(np.abs(p - 1.0 / (1.0 + np.exp(-logit)))) < 0.03
    # calibrated in bins: mean predicted close to the observed rate
    for lo, hi in ((0.0, 0.3), (0.3, 0.6), (0.6, 1.0)):
        inside = (p >= lo) & (p < hi)
        assert abs(p[inside].mean() - y[inside].mean()) < 0.05
    assert (model.alerts, model.positives) == (4000, int(y.sum()))


def test_a_rule_without_true_alerts_gets_a_finite_low_score() -> None:
    x = np.tile(np.array([[0.9, 1.0, 1.0, 0.0]]), (40, 1))
    model = fit_logistic(x, np.zeros(40))
    p = model.prob(x)
    assert np.all(np.isfinite(p)) and np.all(p > 0.0) and np.all(p < 0.05)  # about 0.5 / 41 by the pseudo-alerts
    assert p[0] == pytest.approx(0.5 / 41.0, rel=0.05)


def test_features_of_an_event() -> None:
    assert features(1.2, {"strength": 0.8, "condition_s": 120.0}, True).tolist() == pytest.approx([0.8, math.log(3.0), 1.2, 1.0])
    assert features(math.nan, {}, False).tolist() == [0.5, 0.0, 0.0, 0.0]  # absent evidence: neutral values


def test_calibration_file_round_trip_and_errors_naming_the_field(tmp_path: Path) -> None:
    model = RuleModel((0.1, 0.2, 0.3, 0.4, 0.5), (0.0,) * 4, (1.0,) * 4, 10, 2)
    c = Calibration({"go_fast": model}, model, 0.3, 0.5, "test")
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(c.to_json()))
    assert cal.load_calibration(path) == c
    for field, value, match in (("threshold", 1.5, "threshold"), ("features", ["a"], "features"), ("version", 9, "version")):
        path.write_text(json.dumps({**c.to_json(), field: value}))
        with pytest.raises(ValueError, match=match):
            cal.load_calibration(path)
    bad = c.to_json()
    bad["rules"]["go_fast"]["scale"] = [1.0, 0.0, 1.0, 1.0]
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"rules\.go_fast\.scale"):
        cal.load_calibration(path)


def test_the_shipped_calibration_is_valid_and_fitted_on_the_tune_side() -> None:
    c = default_calibration()
    assert c.source.startswith("tune split") and 0.0 < c.threshold < 1.0
    assert set(c.rules) and all(len(m.coef) == len(FEATURES) + 1 for m in c.rules.values())


def event(state: str = "raised", **kw: object) -> AlertEvent:
    base: dict[str, object] = dict(t=1.0, alert_id="go_fast-1-0", rule="go_fast", severity="high", state=state, track_id=1,
                                   lat=0.0, lon=0.0, zone=None, mmsi=None, icao24=None, reason="r", related_track_ids=[],
                                   priority=1.5, evidence={"strength": 0.9, "condition_s": 60.0})
    return AlertEvent(**{**base, **kw})  # type: ignore[arg-type]


def test_every_raised_or_updated_event_carries_its_score_and_mark() -> None:
    c = default_calibration()
    raised = event()
    expected = round(float(c.score("go_fast", features(1.5, {"strength": 0.9, "condition_s": 60.0}, False)[None, :])[0]), 4)
    assert raised.score == expected and raised.low_score == (expected < c.threshold)
    assert event("updated").score == expected
    cleared = event("cleared")
    assert cleared.score is None and not cleared.low_score
    assert "score" not in json.loads(msgspec.json.encode(cleared))
    # an event decoded with its score keeps it (a journal replayed after a refit does not rescore)
    again = msgspec.json.decode(msgspec.json.encode(event(score=0.123, low_score=True)), type=AlertEvent)
    assert (again.score, again.low_score) == (0.123, True)


def test_calibrate_refits_on_a_tune_suite_and_refuses_a_test_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = scored_suite(tmp_path / "tune")
    out = tmp_path / "cal.json"
    assert cal.main(["--suite", str(suite), "-o", str(out), "--target-precision", "0.9"]) == 0
    fitted = cal.load_calibration(out)
    assert set(fitted.rules) == {"go_fast", "dark_vessel"} and fitted.rules["go_fast"].positives == 2
    assert fitted.source.startswith("tune split, 2 scenarios") and fitted.target_precision == 0.9
    # go_fast alerts are all true, dark_vessel ones all false: the threshold separates them (precision 1, recall 1)
    assert fitted.score("dark_vessel", np.zeros((1, 4)))[0] < fitted.threshold < fitted.score("go_fast", np.zeros((1, 4)))[0]
    assert "threshold" in capsys.readouterr().out
    test_side = scored_suite(tmp_path / "test", ("colon-2000",))
    assert cal.main(["--suite", str(test_side), "-o", str(out)]) == 2
    assert "not a TUNE-side corpus scenario" in capsys.readouterr().err


def test_holdout_leaves_each_area_out_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = scored_suite(tmp_path / "tune", ("kingston-1000", "kingston-1001", "cartagena-1000", "buenaventura-1000"))
    rows = cal.holdout_by_area(load_scenarios(suite), 0.9)
    assert [r["area"] for r in rows] == ["buenaventura", "cartagena", "kingston"]
    assert [r["suspects"] for r in rows] == [1, 1, 2]
    # every fold learns go_fast true and dark_vessel false from the other areas: only the go_fast alerts count
    assert [(r["alerts"], r["true_alerts"], r["found"]) for r in rows] == [(1, 1, 1), (1, 1, 1), (2, 2, 2)]
    out = tmp_path / "cal.json"
    assert cal.main(["--suite", str(suite), "-o", str(out), "--holdout"]) == 0
    printed = capsys.readouterr().out
    assert not out.exists() and "leave one area out" in printed
    assert printed.splitlines()[-1].split()[:6] == ["all", "4", "4", "1.000", "4/4", "1.000"]
