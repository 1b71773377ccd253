"""The calibrated alert score: the logistic fit, the calibration file, and the score every alert event carries."""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec
import numpy as np
import pytest
from eval_scene import scored_suite
from hypothesis import given, settings
from hypothesis import strategies as st

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
    # every arm of a rule present gets a model, also one without tune alerts (then the pooled model's coefficients)
    assert set(fitted.rules) == {"go_fast", "dark_vessel", "dark_vessel/low_observable"}
    assert fitted.rules["go_fast"].positives == 2 and fitted.rules["dark_vessel/low_observable"].alerts == 0
    assert fitted.rules["dark_vessel/low_observable"].coef == pytest.approx(fitted.pooled.coef)
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
    assert cal.main(["--suite", str(suite), "-o", str(out), "--holdout", "--target-precision", "0.9"]) == 0
    printed = capsys.readouterr().out
    assert not out.exists() and "leave one area out" in printed
    assert printed.splitlines()[-1].split()[:6] == ["all", "4", "4", "1.000", "4/4", "1.000"]


def rows(n: int, strength: float, held_s: float, priority: float, label: float) -> tuple[np.ndarray, np.ndarray]:
    return np.tile(features(priority, {"strength": strength, "condition_s": held_s}, False), (n, 1)), np.full(n, label)


def test_a_rule_model_with_few_alerts_stays_near_the_pooled_one() -> None:
    """Partial pooling: a rule with one false tune alert (rendezvous on the tune side) scores a little below the
    pooled model, not the 0.25 of one false alert against half a pseudo-alert of each label; a rule with many alerts
    is its own."""
    x, y = rows(60, 0.6, 600.0, 1.0, 1.0)
    x2, y2 = rows(30, 0.6, 600.0, 1.0, 0.0)
    pooled = fit_logistic(np.vstack([x, x2]), np.r_[y, y2])
    assert pooled.prob(x[:1])[0] == pytest.approx(60.5 / 91.0, abs=0.01)
    one, label = rows(1, 0.6, 600.0, 1.0, 0.0)
    few = fit_logistic(one, label, parent=pooled)
    assert 0.45 < few.prob(one)[0] < pooled.prob(one)[0]
    assert few.mean == pooled.mean and few.scale == pooled.scale  # one standardisation for the whole hierarchy
    many, labels = rows(200, 0.6, 600.0, 1.0, 0.0)
    assert fit_logistic(many, labels, parent=pooled).prob(many)[0] < 0.05
    none = fit_logistic(np.empty((0, len(FEATURES))), np.empty(0), parent=pooled)
    assert none.coef == pytest.approx(pooled.coef) and none.alerts == 0


def outcome(rule: str, alert_id: str, true: bool, strength: float, held_s: float, priority: float) -> dict[str, object]:
    return {"scenario": "kingston-1000", "alert_id": alert_id, "rule": rule, "true": true, "strength": strength,
            "condition_s": held_s, "priority": priority, "identified": False}


def test_a_low_observable_hull_is_scored_by_its_own_arm() -> None:
    """dark_vessel: many dark-run alerts (strength <= 0.5), two in three false, the true ones held long and near shore
    (high priority); three low-observable hull alerts (strength 1), true, raised at once (short hold) and far from
    shore (low priority). One model over both arms lets the dark runs' short holds and low priorities pull the hull
    down; its own arm scores it from the hull alerts, and the dark runs are scored by the rule's model."""
    events = [outcome("dark_vessel", f"d{k}", k % 3 == 0, 0.3 + 0.001 * k, 3600.0 if k % 3 == 0 else 300.0 + 10.0 * k,
                      0.9 if k % 3 == 0 else 0.5) for k in range(100)]
    events += [outcome("dark_vessel", f"h{k}", True, 1.0, 60.0, 0.4) for k in range(3)]
    events += [outcome("go_fast", f"g{k}", True, 0.8, 600.0, 1.5) for k in range(30)]
    fitted = cal.fit_calibration(events, 0.5, "test", lambda draft: 0.5)
    hull, dark = cal.event_features(events[100:101]), cal.event_features(events[:100])
    assert cal.model_names(["dark_vessel"] * 2, np.vstack([hull, dark[:1]])).tolist() == ["dark_vessel/low_observable", "dark_vessel"]
    assert fitted.rules["dark_vessel/low_observable"].alerts == 3 and fitted.rules["dark_vessel"].alerts == 100
    over_arms = fit_logistic(cal.event_features(events[:103]), np.array([1.0 if e["true"] else 0.0 for e in events[:103]]),
                             parent=fitted.pooled)
    assert fitted.score("dark_vessel", hull)[0] > over_arms.prob(hull)[0] + 0.1
    assert fitted.score("dark_vessel", hull)[0] > 0.9
    assert np.all(fitted.score("dark_vessel", dark) == fitted.rules["dark_vessel"].prob(dark))


def test_the_dark_vessel_arms_are_what_the_rule_raises() -> None:
    """The arm membership (strength 1: a low-observable hull) against the rule itself: a semi-submersible's alert is
    the arm, a dark run's the rule (tests/unit/rules/test_low_observable.py, test_dark_vessel_work.py)."""
    from fusion.rules.synthetic import empty, engine, rules, view

    t0, lat = 1_700_013_600.0, 15.1
    circle = {"everywhere": False, "zones": [], "kinds": [], "satellite_dark_s": 0.0,
              "circles": [{"lat": 15.0, "lon": -75.0, "radius_m": 60_000.0}]}
    arms = {}
    for name, rcs_dbsm in (("hull", -5.2), ("dark run", 22.0)):  # a semi-submersible's 0.3 m^2; a 26 m fishing hull
        eng = engine(cfg=rules({"engine": {"ais_coverage": circle}, "rules": {"dark_vessel": {"dark_s": 600.0}}}))
        for k in range(100):
            t = t0 + 10.0 * k
            lon = -75.3 + 40.0 * k / (111_320.0 * math.cos(math.radians(lat)))
            track = view("surface", t, [lat], [lon], [(4.0, 0.0)], first_t=t0, rcs_dbsm=rcs_dbsm, rcs_looks=50)
            raised = [e for e in eng.evaluate(t, {"surface": track, "air": empty("air", t)}) if e.rule == "dark_vessel"]
            if raised:
                x = features(raised[0].priority, raised[0].evidence, False)[None, :]
                arms[name] = cal.model_names(["dark_vessel"], x).tolist()[0]
                break
    assert arms == {"hull": "dark_vessel/low_observable", "dark run": "dark_vessel"}


def test_a_version_1_file_is_read_and_its_rule_model_scores_the_arm(tmp_path: Path) -> None:
    model = RuleModel((0.1, 0.2, 0.3, 0.4, 0.5), (0.0,) * 4, (1.0,) * 4, 10, 2)
    v1 = {**Calibration({"dark_vessel": model}, model, 0.3, 0.5, "old").to_json(), "version": 1}
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(v1))
    old = cal.load_calibration(path)
    hull = features(0.4, {"strength": 1.0}, False)[None, :]
    assert old.score("dark_vessel", hull) == pytest.approx(model.prob(hull))
    bad = {**old.to_json(), "rules": {"dark_vessel/sunk": model.to_json()}}
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"rules\.dark_vessel/sunk: no arm 'sunk'"):
        cal.load_calibration(path)
    path.write_text(json.dumps({**old.to_json(), "version": 3}))
    with pytest.raises(ValueError, match=r"version = 3: expected one of \(1, 2\)"):
        cal.load_calibration(path)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(0.0, 1e7), st.floats(-1e3, 1e3), st.booleans(), st.booleans(),
                          st.sampled_from(["dark_vessel", "go_fast", "rendezvous"])), min_size=0, max_size=40))
def test_any_tune_alerts_give_finite_scores_in_the_unit_interval(alerts: list[tuple[float, float, float, bool, bool, str]]) -> None:
    events = [{**outcome(rule, f"a{k}", true, s, held, p), "identified": ident}
              for k, (s, held, p, ident, true, rule) in enumerate(alerts)]
    fitted = cal.fit_calibration(events, 0.5, "property", lambda draft: 0.5)
    x = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 20.0, 1e9, 1.0], [-1e9, -5.0, -1e9, 0.0]])
    for rule in ("dark_vessel", "go_fast", "rendezvous", "zone_entry"):
        p = fitted.score(rule, x)
        assert np.all(np.isfinite(p)) and np.all((p > 0.0) & (p < 1.0))
