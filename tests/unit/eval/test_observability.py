"""Time to alert from observability: when the scenario's sensors could first observe a suspect after its onset."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from fusion.evaluation.matching import assign_pairs
from fusion.evaluation.observability import SensorCoverage
from fusion.evaluation.score import evaluate_dir
from sim_feeds.geo import KNOT_MPS, distance_m
from sim_feeds.play import iter_truth
from sim_feeds.scenario import Scenario, scenario_from_dict

START = dt.datetime(2024, 3, 14, 6, 0, tzinfo=dt.UTC)
T0 = START.timestamp()
RADAR = (9.70, -78.70)  # at sea off Guna Yala (a radar on a platform)
FROM, TO = (10.25, -78.70), (9.75, -78.70)  # due south towards the radar, about 55 km, stopping 5.5 km off it
SPEED_KN = 20.0
RANGE_M = 30_000.0


def scenario(sensors: list[dict[str, Any]], **ship: Any) -> Scenario:
    """A one-hour scenario with ``sensors`` and one suspect go-fast on one leg from FROM to TO."""
    route = [{"lat": FROM[0], "lon": FROM[1], "activity": "drug_run"}, {"lat": TO[0], "lon": TO[1]}]
    doc = {"format_version": 1, "name": "obs", "start": START, "duration_s": 3600.0, "seed": 5, "truth_interval_s": 10.0,
           "area": {"lat_min": 9.0, "lat_max": 10.4, "lon_min": -79.8, "lon_max": -77.9}, "sensors": sensors,
           "objects": [{"id": "s", "kind": "go_fast", "role": "suspect", "speed_kn": SPEED_KN, "hold_at_end": True,
                        "route": route, **ship}], "zones": []}
    return scenario_from_dict(doc)


def radar(**extra: Any) -> dict[str, Any]:
    return {"kind": "coastal_radar", "id": "r", "lat": RADAR[0], "lon": RADAR[1], "alt_m": 60.0,
            "coverage": {"range_max_m": RANGE_M}, **extra}


def entry_time(range_m: float = RANGE_M) -> float:
    """When the go-fast crosses into ``range_m`` of the radar's site: the leg runs down the radar's meridian."""
    start = float(distance_m(FROM[0], FROM[1], np.array([RADAR[0]]), np.array([RADAR[1]]))[0])
    return T0 + (start - range_m) / (SPEED_KN * KNOT_MPS)


def test_radar_coverage_starts_at_the_range_ring() -> None:
    cov = SensorCoverage(scenario([radar()]))
    first = cov.first_observable(["s"], np.array([-np.inf]))[0]
    assert entry_time() <= first < entry_time() + 10.0  # the first truth tick inside the ring


def test_not_before_unknown_objects_and_uncovered_objects() -> None:
    cov = SensorCoverage(scenario([radar()]))
    later = T0 + 3000.0
    assert cov.first_observable(["s"], np.array([later]))[0] == later  # already inside by then
    assert np.isposinf(cov.first_observable(["s", "nobody"], np.array([np.inf, -np.inf]))).all()
    blind = SensorCoverage(scenario([radar(coverage={"range_max_m": RANGE_M, "az_min_deg": 90.0, "az_max_deg": 270.0})]))
    assert np.isposinf(blind.first_observable(["s"], np.array([-np.inf]))[0])  # it comes from the north: off sector


def test_radar_on_station_window() -> None:
    cov = SensorCoverage(scenario([radar(on_station=[{"start_s": 3300.0, "end_s": 3500.0}])]))
    assert cov.first_observable(["s"], np.array([-np.inf]))[0] == T0 + 3300.0


def test_ais_counts_only_outside_its_off_windows_and_inside_reception() -> None:
    shore = {"kind": "ais_terrestrial", "id": "shore", "lat": RADAR[0], "lon": RADAR[1], "range_m": 74_000.0}
    ais = {"mmsi": 367000001, "off": [{"start_s": 0.0, "end_s": 1200.0}]}
    cov = SensorCoverage(scenario([shore], ais=ais))
    assert cov.first_observable(["s"], np.array([-np.inf]))[0] == T0 + 1200.0
    dark = SensorCoverage(scenario([shore], ais={"mmsi": 367000001, "off": [{"start_s": 0.0, "end_s": 3590.0}]}))
    assert dark.first_observable(["s"], np.array([-np.inf]))[0] == T0 + 3590.0  # windows end before end_s
    near = SensorCoverage(scenario([{**shore, "range_m": 45_000.0}], ais={"mmsi": 367000001}))
    entry = entry_time(45_000.0)
    assert entry <= near.first_observable(["s"], np.array([-np.inf]))[0] < entry + 10.0


def test_time_to_alert_observable_in_the_metrics(tmp_path: Path) -> None:
    """A track follows the go-fast from its first tick; its alert comes 600 s after it enters radar cover.
    The track-based figure counts from the onset (tracked at once), the observable one from the range ring."""
    sc = scenario([radar()])
    rows = [r for tick in iter_truth(sc) for r in tick]
    (tmp_path / "truth.jsonl").write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in rows))
    tracks = [{"t": r.t, "track_id": 1, "domain": "surface", "status": "confirmed", "lat": r.lat, "lon": r.lon,
               "alt_m": None, "vel_e_mps": 0.0, "vel_n_mps": 0.0, "cov_en_m2": [[100.0, 0.0], [0.0, 100.0]],
               "mmsi": None, "icao24": None, "sources": ["radar"]} for r in rows]
    (tmp_path / "tracks.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tracks))
    first = SensorCoverage(sc).first_observable(["s"], np.array([-np.inf]))[0]
    t_alert = float(first) + 600.0
    alert = {"t": t_alert, "alert_id": "a", "rule": "go_fast", "severity": "high", "state": "raised", "track_id": 1,
             "lat": 0.0, "lon": 0.0, "zone": None, "mmsi": None, "icao24": None, "reason": "test",
             "related_track_ids": [], "priority": 1, "evidence": {}}
    (tmp_path / "alerts.jsonl").write_text(json.dumps(alert) + "\n")
    onset = min(r.t for r in rows if r.activity == "drug_run")
    with_sensors = evaluate_dir(tmp_path, scenario=sc)["alerts"]["all"]
    assert with_sensors["time_to_alert_observable_s"]["median"] == pytest.approx(600.0)
    assert with_sensors["time_to_alert_s"]["median"] == pytest.approx(t_alert - onset)
    without = evaluate_dir(tmp_path)["alerts"]["all"]
    assert without["time_to_alert_observable_s"]["median"] is None
    assert without["time_to_alert_s"] == with_sensors["time_to_alert_s"]


def test_one_sided_clusters_match_the_solver() -> None:
    """Clusters with one truth (several tracks on it) or one track (several truths near it) are taken without the
    solver; the result equals the full assignment's (here: scipy's dense solver over the same costs)."""
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(3)
    for _ in range(50):
        n, m = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        i, j = np.nonzero(rng.random((n, m)) < 0.3)
        dist = rng.uniform(0.0, 100.0, i.size)
        c = np.full(i.size, 100.0)
        chosen = assign_pairs(i, j, dist, c, 2.0)
        cost = np.full((n, m + n), 1e9)
        cost[i, j] = (dist / 100.0) ** 2
        cost[np.arange(n), m + np.arange(n)] = 1.0  # each truth's miss
        r, k = linear_sum_assignment(cost)
        want = {(int(a), int(b)) for a, b in zip(r, k, strict=True) if b < m}
        assert {(int(a), int(b)) for a, b in zip(i[chosen], j[chosen], strict=True)} == want


def test_satellite_ais_imagery_and_oth() -> None:
    sat = {"kind": "ais_satellite", "id": "sat", "first_pass_s": 1000.0, "revisit_s": 5400.0, "pass_s": 600.0}
    assert SensorCoverage(scenario([sat], ais={"mmsi": 367000001})).first_observable(["s"], np.array([-np.inf]))[0] \
        == T0 + 1000.0
    box = [(-79.8, 9.0), (-77.9, 9.0), (-77.9, 10.4), (-79.8, 10.4)]
    sar = {"kind": "sat_imagery", "id": "sar", "swath": box, "first_pass_s": 1234.5, "revisit_s": 43_200.0}
    assert SensorCoverage(scenario([sar])).first_observable(["s"], np.array([-np.inf]))[0] == T0 + 1234.5  # the pass instant
    oth = {"kind": "oth_radar", "id": "oth", "lat": RADAR[0], "lon": RADAR[1], "coverage": {"range_max_m": 400_000.0}}
    assert np.isposinf(SensorCoverage(scenario([oth])).first_observable(["s"], np.array([-np.inf]))[0])  # 3 m2 < 20 m2
    assert SensorCoverage(scenario([oth], rcs_m2=50.0)).first_observable(["s"], np.array([-np.inf]))[0] == T0


def test_solver_groups_give_the_assignment_of_one_call() -> None:
    """Pairs in independent groups (ticks) solved in chunks of whole groups equal one solver call over all."""
    rng = np.random.default_rng(8)
    i_all, j_all, g_all = [], [], []
    for g in range(400):  # 400 ticks of 4 truths x 4 tracks, dense: about 6,400 pairs, no one-sided clusters
        i, j = np.nonzero(np.ones((4, 4), dtype=bool))
        i_all.append(i + 4 * g)
        j_all.append(j + 4 * g)
        g_all.append(np.full(i.size, g))
    i, j, group = np.concatenate(i_all), np.concatenate(j_all), np.concatenate(g_all)
    order = rng.permutation(i.size)
    i, j, group = i[order], j[order], group[order]
    dist = rng.uniform(0.0, 100.0, i.size)
    c = np.full(i.size, 100.0)
    together = assign_pairs(i, j, dist, c, 2.0)
    chunked = assign_pairs(i, j, dist, c, 2.0, group=group)
    assert i.size > 2 * 2000 and chunked.sum() > 1000
    assert np.array_equal(together, chunked)
