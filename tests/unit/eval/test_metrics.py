"""Metrics on crafted runs: GOSPA by hand, continuity (swap, fragmentation), alerts, matching, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from eval_scene import Scene

from fusion.evaluation import io
from fusion.evaluation.config import MetricsConfig
from fusion.evaluation.gospa import gospa_parts
from fusion.evaluation.matching import assign_pairs, keep_correspondence
from fusion.evaluation.score import evaluate_dir
from fusion.rules.calibration import default_calibration, features

T0 = 1_700_000_000.0


def test_gospa_hand_worked() -> None:
    # pairs (0,0)-(3,4) d=5 and (20,0)-(20,6) d=6; (50,50) and (80,80) are 42 m apart > c: one missed, one false
    got = gospa_parts(np.array([[0.0, 0.0], [20.0, 0.0], [50.0, 50.0]]),
                      np.array([[3.0, 4.0], [20.0, 6.0], [80.0, 80.0]]), c=10.0, p=2.0)
    assert got["localisation"] == pytest.approx(25.0 + 36.0)
    assert got["missed"] == pytest.approx(50.0) and got["false"] == pytest.approx(50.0)
    assert got["gospa_m"] == pytest.approx(math.sqrt(161.0))
    assert got["ospa_m"] == pytest.approx(math.sqrt((61.0 + 100.0) / 3.0))
    assert (got["n_missed"], got["n_false"]) == (1, 1)


def test_gospa_prefers_the_global_assignment_to_greedy() -> None:
    # greedy takes the closest pair (8,0)-(5,0), d=3, and strands (0,0); the optimum pairs both at d=5
    got = gospa_parts(np.array([[0.0, 0.0], [8.0, 0.0]]), np.array([[5.0, 0.0], [13.0, 0.0]]), c=10.0, p=2.0)
    assert got["gospa_m"] == pytest.approx(math.sqrt(50.0))
    assert got["n_missed"] == 0


def test_gospa_empty_sets() -> None:
    empty = np.zeros((0, 2))
    assert gospa_parts(empty, empty, c=10.0)["gospa_m"] == 0.0
    one = gospa_parts(np.array([[0.0, 0.0]]), empty, c=10.0)
    assert one["gospa_m"] == pytest.approx(math.sqrt(50.0)) and one["ospa_m"] == pytest.approx(10.0)


def test_identity_swap_counts_two_switches(scene: Scene) -> None:
    for k in range(20):
        t = T0 + 10.0 * k
        scene.add_truth(t, "A", 100.0 * k, 0.0)
        scene.add_truth(t, "B", 100.0 * k, 3000.0)
        a_track, b_track = (1, 2) if k < 10 else (2, 1)
        scene.add_track(t, a_track, 100.0 * k + 20.0, 0.0)
        scene.add_track(t, b_track, 100.0 * k, 3020.0)
    cont = evaluate_dir(scene.write())["continuity"]
    assert cont["identity_switches"] == 2
    assert cont["fragmentations"] == 0
    assert cont["best_track_coverage_mean"] == pytest.approx(0.5)
    assert cont["tracks_per_object_mean"] == pytest.approx(2.0)


def test_a_still_valid_correspondence_is_kept(scene: Scene) -> None:
    # A and B 200 m apart, each tracked by its own track; at odd ticks both tracks are 120 m off towards the other
    # vessel, where the per-tick optimum swaps them (80 m + 80 m beats 120 m + 120 m): CLEAR MOT keeps the pairs
    for k in range(20):
        t = T0 + 10.0 * k
        off = 120.0 if k % 2 else 10.0
        scene.add_truth(t, "A", 0.0, 0.0)
        scene.add_truth(t, "B", 0.0, 200.0)
        scene.add_track(t, 1, 0.0, off)
        scene.add_track(t, 2, 0.0, 200.0 - off)
    metrics = evaluate_dir(scene.write())
    cont = metrics["continuity"]
    assert cont["tracks_per_object_mean"] == 1.0 and cont["identity_switches"] == 0
    # GOSPA stays the per-tick minimum: at odd ticks the swapped pairs, 2 x 80^2
    assert metrics["domains"]["surface"]["gospa"]["localisation_mean"] == pytest.approx((10 * 2 * 80.0**2 + 10 * 2 * 10.0**2) / 20)


def test_a_real_swap_still_counts_once_the_pair_is_no_longer_valid(scene: Scene) -> None:
    # A and B 200 m apart for 10 ticks, then B leaves north and track 1 goes with it: 1.5 km from A, beyond c
    for k in range(20):
        t = T0 + 10.0 * k
        b = 200.0 if k < 10 else 1700.0
        scene.add_truth(t, "A", 0.0, 0.0)
        scene.add_truth(t, "B", 0.0, b)
        scene.add_track(t, 1, 0.0, 0.0 if k < 10 else b)
        scene.add_track(t, 2, 0.0, b if k < 10 else 0.0)
    cont = evaluate_dir(scene.write())["continuity"]
    assert cont["identity_switches"] == 2 and cont["tracks_per_object_mean"] == 2.0


def test_keeping_correspondences_at_once_equals_tick_by_tick() -> None:
    rng = np.random.default_rng(7)
    n_ticks, n_obj, c = 30, 5, np.float64(1.0)
    rows = [(t, o, k) for t in range(n_ticks) for o in range(n_obj) for k in range(n_obj) if rng.random() < 0.45]
    tick, obj, track = (np.array(x, dtype=np.int64) for x in zip(*rows, strict=True))
    i, j = tick * n_obj + obj, tick * n_obj + track
    dist = rng.uniform(0.0, 0.99, tick.size)
    cc = np.full(tick.size, c)
    optimum = assign_pairs(i, j, dist, cc, 2.0, obj, track, group=tick)
    got = keep_correspondence(obj, track, tick, i, j, dist, cc, 2.0, tick, optimum)
    want = np.zeros(tick.size, dtype=bool)
    for t in range(n_ticks):  # the definition: one tick after the other
        here = np.flatnonzero(tick == t)
        before = {(int(obj[q]), int(track[q])) for q in np.flatnonzero((tick == t - 1) & want)}
        keep = here[[(int(obj[q]), int(track[q])) in before for q in here]]
        free = here[~np.isin(obj[here], obj[keep]) & ~np.isin(track[here], track[keep])]
        want[keep] = True
        want[free[assign_pairs(i[free], j[free], dist[free], cc[free], 2.0, obj[free], track[free])]] = True
    assert np.array_equal(got, want) and not np.array_equal(got, optimum)


def test_fragmentation_and_coverage(scene: Scene) -> None:
    for k in range(20):
        t = T0 + 10.0 * k
        scene.add_truth(t, 7, 0.0, 50.0 * k)
        if k < 5:
            scene.add_track(t, 3, 0.0, 50.0 * k + 10.0)
        elif k >= 8:
            scene.add_track(t, 4, 0.0, 50.0 * k - 10.0)
    metrics = evaluate_dir(scene.write())
    cont = metrics["continuity"]
    assert (cont["identity_switches"], cont["fragmentations"]) == (1, 1)
    assert cont["best_track_coverage_mean"] == pytest.approx(12 / 20)
    surface = metrics["domains"]["surface"]
    # 3 of 20 ticks have the object missed: mean missed part = 3/20 * c^2/2
    assert surface["gospa"]["missed_mean"] == pytest.approx(3 / 20 * 1000.0**2 / 2)
    assert surface["gospa"]["false_mean"] == 0.0
    assert surface["rmse"]["position_m"] == pytest.approx(10.0, rel=0.01)


def test_tentative_tracks_are_not_scored(scene: Scene) -> None:
    for k in range(5):
        scene.add_truth(T0 + 10.0 * k, 1, 0.0, 0.0)
        scene.add_track(T0 + 10.0 * k, 9, 5.0, 0.0, status="tentative")
    metrics = evaluate_dir(scene.write())
    assert metrics["domains"]["surface"]["gospa"]["n_missed_mean"] == 1.0
    assert metrics["continuity"]["never_tracked"] == 1
    assert metrics["continuity"]["objects_followed"] == 0 and metrics["continuity"]["tracks_per_followed_object_mean"] is None


def test_tracks_per_followed_object_leaves_out_objects_never_tracked(scene: Scene) -> None:
    # A is followed by two tracks in turn, B (far from every track: nobody saw it) by none
    for k in range(10):
        t = T0 + 10.0 * k
        scene.add_truth(t, "A", 0.0, 0.0)
        scene.add_truth(t, "B", 50_000.0, 0.0)
        scene.add_track(t, 1 if k < 5 else 2, 10.0, 0.0)
    cont = evaluate_dir(scene.write())["continuity"]
    assert cont["tracks_per_object_mean"] == pytest.approx(1.0)  # (2 + 0) / 2
    assert (cont["objects_followed"], cont["tracks_per_followed_object_mean"]) == (1, pytest.approx(2.0))


def test_alert_precision_recall_and_time_to_alert(scene: Scene) -> None:
    roles = {"S1": "suspect", "S2": "suspect", "B1": "benign", "B2": "benign"}
    for k in range(10):
        t = T0 + 10.0 * k
        for n, (oid, role) in enumerate(roles.items()):
            scene.add_truth(t, oid, 0.0, 5000.0 * n, role=role)
            scene.add_track(t, n + 1, 0.0, 5000.0 * n + 30.0)
    scene.add_alert(T0 + 30.0, "a1", "loiter", 1)
    scene.add_alert(T0 + 40.0, "a1", "loiter", 1, state="updated")
    scene.add_alert(T0 + 50.0, "a2", "dark", 3)  # benign B1: a false alarm
    scene.add_alert(T0 + 60.0, "a3", "dark", 99)  # a track that followed nothing: a false alarm
    scene.add_alert(T0 + 70.0, "a2", "dark", 3, state="cleared")
    alerts = evaluate_dir(scene.write())["alerts"]
    overall = alerts["all"]
    assert (overall["suspects"], overall["suspects_found"], overall["alerts"], overall["false_alarms"]) == (2, 1, 3, 2)
    assert overall["recall"] == 0.5 and overall["precision"] == 0.5
    assert overall["alert_precision"] == pytest.approx(1 / 3)
    assert overall["time_to_alert_s"]["mean"] == pytest.approx(30.0)
    days = 100.0 / 86400.0  # 10 ticks of 10 s
    assert overall["false_alarms_per_10_benign_per_day"] == pytest.approx(2 / (2 / 10) / days, rel=1e-5)
    loiter, dark = alerts["by_rule"]["loiter"], alerts["by_rule"]["dark"]
    assert (loiter["recall"], loiter["precision"], loiter["false_alarms"]) == (0.5, 1.0, 0)
    assert (dark["recall"], dark["precision"], dark["false_alarms"]) == (0.0, 0.0, 2)
    assert dark["time_to_alert_s"]["mean"] is None


def test_alert_follows_the_object_the_track_held_at_alert_time(scene: Scene) -> None:
    # track 1 follows benign B for ticks 0-4, then suspect S; the alert at tick 7 is about S
    for k in range(10):
        t = T0 + 10.0 * k
        scene.add_truth(t, "B", 0.0, 0.0)
        scene.add_truth(t, "S", 0.0, 4000.0, role="suspect")
        scene.add_track(t, 1, 0.0, 0.0 if k < 5 else 4000.0)
    scene.add_alert(T0 + 71.0, "x", "rendezvous", 1)
    overall = evaluate_dir(scene.write())["alerts"]["all"]
    assert (overall["suspects_found"], overall["benign_objects_alerted"]) == (1, 0)
    assert overall["time_to_alert_s"]["mean"] == pytest.approx(21.0)  # S first followed at tick 5


def test_time_to_alert_counts_from_the_labelled_behaviour_onset(scene: Scene) -> None:
    # S transits like benign B (same label) until tick 6, then goes dark ("dark_transit", a label no
    # benign object carries): the alert at tick 8 is 20 s after the onset, 80 s after S was first tracked.
    # G is suspicious from its first tick (label "drug_run") and alerted at tick 3, 30 s after.
    for k in range(10):
        t = T0 + 10.0 * k
        scene.add_truth(t, "B", 0.0, 0.0, activity="transit")
        scene.add_truth(t, "S", 0.0, 5000.0, role="suspect", activity="transit" if k < 6 else "dark_transit")
        scene.add_truth(t, "G", 0.0, 10000.0, role="suspect", activity="drug_run")
        for n in range(3):
            scene.add_track(t, n + 1, 0.0, 5000.0 * n)
    scene.add_alert(T0 + 80.0, "s", "dark", 2)
    scene.add_alert(T0 + 30.0, "g", "go_fast", 3)
    overall = evaluate_dir(scene.write())["alerts"]["all"]
    assert overall["suspects_found"] == 2
    assert overall["time_to_alert_s"]["max"] == pytest.approx(30.0)
    assert overall["time_to_alert_s"]["median"] == pytest.approx(25.0)
    assert overall["time_to_alert_from_first_track_s"]["max"] == pytest.approx(80.0)


def test_alert_before_the_labelled_onset_counts_zero(scene: Scene) -> None:
    for k in range(10):
        t = T0 + 10.0 * k
        scene.add_truth(t, "B", 0.0, 0.0, activity="transit")
        scene.add_truth(t, "S", 0.0, 5000.0, role="suspect", activity="transit" if k < 6 else "refuelling")
        scene.add_track(t, 1, 0.0, 0.0)
        scene.add_track(t, 2, 0.0, 5000.0)
    scene.add_alert(T0 + 20.0, "s", "dark", 2)
    overall = evaluate_dir(scene.write())["alerts"]["all"]
    assert overall["time_to_alert_s"]["max"] == 0.0
    assert overall["time_to_alert_from_first_track_s"]["max"] == pytest.approx(20.0)


def test_offset_track_ticks_are_moved_to_truth_time(scene: Scene) -> None:
    # truth every 10 s, tracks every 10 s but 3 s later; constant velocity 5 m/s north
    for k in range(30):
        t = T0 + 10.0 * k
        scene.add_truth(t, 1, 0.0, 50.0 * k, speed_mps=5.0, course_deg=0.0)
        scene.add_track(t + 3.0, 8, 0.0, 50.0 * k + 15.0, vel_en=(0.0, 5.0))
    surface = evaluate_dir(scene.write())["domains"]["surface"]
    assert surface["rmse"]["position_m"] < 0.5
    assert surface["rmse"]["velocity_mps"] < 1e-6
    assert surface["rmse"]["pairs"] == 30


def test_nees_of_known_errors(scene: Scene) -> None:
    # error 30 m east with variance 900 m^2 each axis: NEES = 1 at every tick
    for k in range(10):
        scene.add_truth(T0 + 10.0 * k, 1, 0.0, 0.0)
        scene.add_track(T0 + 10.0 * k, 5, 30.0, 0.0, cov=((900.0, 0.0), (0.0, 900.0)))
    nees = evaluate_dir(scene.write())["domains"]["surface"]["nees"]
    assert nees["mean"] == pytest.approx(1.0, rel=0.02)
    assert nees["within_95pct"] == 1.0 and nees["samples"] == 10


def test_outputs_are_deterministic_with_sorted_keys(scene: Scene) -> None:
    for k in range(5):
        scene.add_truth(T0 + 10.0 * k, 1, 0.0, 10.0 * k)
        scene.add_truth(T0 + 10.0 * k, 2, 0.0, 90_000.0, domain="air")
        scene.add_track(T0 + 10.0 * k, 5, 3.0, 10.0 * k)
    path = scene.write()
    evaluate_dir(path)
    first = (path / "metrics.json").read_bytes()
    evaluate_dir(path)
    assert (path / "metrics.json").read_bytes() == first
    loaded = json.loads(first)
    assert list(loaded) == sorted(loaded)
    series = [json.loads(line) for line in (path / "metrics_series.jsonl").read_text().splitlines()]
    assert len(series) == 5 and series[0]["air.missed"] == pytest.approx(3000.0**2 / 2)


def test_bad_input_names_file_line_and_field(scene: Scene) -> None:
    scene.add_truth(T0, 1, 0.0, 0.0)
    scene.add_truth(T0, 2, 0.0, 0.0)
    del scene.truth[1]["lat"]
    with pytest.raises(ValueError, match=r"truth.jsonl line 2: .*lat"):
        evaluate_dir(scene.write())


def test_unknown_domain_is_an_error(scene: Scene) -> None:
    scene.add_truth(T0, 1, 0.0, 0.0, domain="subsurface")
    with pytest.raises(ValueError, match="domain = 'subsurface'"):
        evaluate_dir(scene.write())


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="alpha"):
        MetricsConfig(alpha=1.0)
    with pytest.raises(ValueError, match=r"cutoff_m\['air'\]"):
        MetricsConfig(cutoff_m={"air": -1.0})
    with pytest.raises(ValueError, match=r"p = 0\.5"):
        MetricsConfig(p=0.5)


def test_missing_truth_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"truth\.jsonl"):
        evaluate_dir(tmp_path)


def test_results_do_not_depend_on_workers(scene: Scene, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for k in range(12):
        for n in range(6):
            east, north = 800.0 * n + 30.0 * k, 0.0
            scene.add_truth(T0 + 10.0 * k, n, east, north, role="suspect" if n == 2 else "benign")
            if rng.random() < 0.8:
                scene.add_track(T0 + 10.0 * k + 1.0, 10 + (n + k // 6) % 6, east + rng.normal(0, 150), north)
    scene.add_alert(T0 + 50.0, "a", "loiter", 12)
    path = scene.write()
    one = evaluate_dir(path, workers=1)
    series_one = (path / "metrics_series.jsonl").read_bytes()
    assert evaluate_dir(path, workers=5) == one
    assert (path / "metrics_series.jsonl").read_bytes() == series_one
    assert one["continuity"]["identity_switches"] > 0  # the crafted id rotation is seen


def test_reading_in_parallel_parts_gives_the_same_columns(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in range(30):
        for n in range(4):
            scene.add_truth(T0 + 10.0 * k, f"obj-{n}", 500.0 * n, 20.0 * k)
            scene.add_track(T0 + 10.0 * k, 40 + n, 500.0 * n + 5.0, 20.0 * k, mmsi=None if n % 2 else 300_000_000 + n)
    path = scene.write()
    monkeypatch.setattr(io, "_CHUNK_BYTES", 2048)  # many parts of a few lines each
    serial, parallel = io.Codebook(), io.Codebook()
    one = io.read_tracks(path / "tracks.jsonl", serial, workers=1)
    two = io.read_tracks(path / "tracks.jsonl", parallel, workers=2)
    assert one.track_ids == two.track_ids == [40, 41, 42, 43]
    for name in ("t", "track", "lat", "lon", "cov_en_m2", "mmsi", "icao24"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
    truth = io.read_truth(path / "truth.jsonl", parallel, workers=2)
    assert truth.ids == ["obj-0", "obj-1", "obj-2", "obj-3"] and truth.t.size == 120
    # a bad line deep in a later part is reported with its line number in the whole file
    lines = (path / "tracks.jsonl").read_text().splitlines()
    lines[99] = lines[99].replace('"lat"', '"lat_x"')
    (path / "tracks.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"tracks.jsonl line 100: .*lat"):
        io.read_tracks(path / "tracks.jsonl", io.Codebook(), workers=2)


def test_alert_outcomes_and_the_table_at_the_operating_point(scene: Scene) -> None:
    roles = {"S1": "suspect", "S2": "suspect", "B1": "benign"}
    for k in range(10):
        t = T0 + 10.0 * k
        for n, (oid, role) in enumerate(roles.items()):
            scene.add_truth(t, oid, 0.0, 5000.0 * n, role=role)
            scene.add_track(t, n + 1, 0.0, 5000.0 * n + 30.0)
    threshold, high, low = 0.5, 0.7, 0.3
    scene.add_alert(T0 + 20.0, "a1", "loiter", 1, score=low)  # S1, below the operating point when raised ...
    scene.add_alert(T0 + 50.0, "a1", "loiter", 1, state="updated", score=high)  # ... shown unmarked from t0 + 50
    scene.add_alert(T0 + 30.0, "a2", "loiter", 2, score=low)  # S2, never at the operating point
    scene.add_alert(T0 + 40.0, "a3", "dark", 3, score=high)  # B1: a false alarm at the operating point
    scene.add_alert(T0 + 60.0, "a3", "dark", 3, state="cleared")
    path = scene.write()
    alerts = evaluate_dir(path, MetricsConfig(score_threshold=threshold))["alerts"]
    op = alerts["at_operating_point"]
    assert op["threshold"] == pytest.approx(threshold)
    assert (alerts["all"]["suspects_found"], alerts["all"]["false_alarms"]) == (2, 1)
    assert (op["all"]["suspects_found"], op["all"]["false_alarms"], op["all"]["alerts"]) == (1, 1, 2)
    assert op["all"]["time_to_alert_s"]["mean"] == pytest.approx(50.0)  # from the first event at the operating point
    assert op["by_rule"]["loiter"]["recall"] == 0.5
    rows = [json.loads(line) for line in (path / "alert_outcomes.jsonl").read_text().splitlines()]
    assert [(r["alert_id"], r["state"], r["object"], r["true"], r["score"]) for r in rows] == [
        ("a1", "raised", "S1", True, pytest.approx(low)), ("a1", "updated", "S1", True, pytest.approx(high)),
        ("a2", "raised", "S2", True, pytest.approx(low)), ("a3", "raised", "B1", False, pytest.approx(high))]


def test_alerts_without_a_score_are_scored_from_their_features(scene: Scene) -> None:
    for k in range(5):
        scene.add_truth(T0 + 10.0 * k, "B", 0.0, 0.0)
        scene.add_track(T0 + 10.0 * k, 1, 0.0, 10.0)
    scene.add_alert(T0 + 20.0, "a", "dark_vessel", 1)  # written before scores existed: priority 1, no evidence
    path = scene.write()
    evaluate_dir(path)
    (row,) = [json.loads(line) for line in (path / "alert_outcomes.jsonl").read_text().splitlines()]
    expected = default_calibration().score("dark_vessel", features(1.0, {}, False)[None, :])[0]
    assert row["score"] == pytest.approx(expected) and 0.0 < row["score"] < 1.0
