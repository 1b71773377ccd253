"""The procedural corpus (sim_feeds/corpus.py): valid, deterministic, at sea, labelled, split cleanly."""

from __future__ import annotations

import numpy as np
import pytest

from sim_feeds.corpus import AREAS, BENIGN_LABELS, BERTH_SPACING_M, SPLITS, corpus_scenario, split_members
from sim_feeds.geo import distance_m, points_at_sea
from sim_feeds.scenario import scenario_from_dict
from sim_feeds.truth import Truth


@pytest.mark.parametrize("area", sorted(AREAS))
def test_area_nodes_at_sea_and_airport_strip_inside_the_area(area: str) -> None:
    a = AREAS[area]
    nodes = np.array(a.nodes())
    assert points_at_sea(nodes[:, 0], nodes[:, 1]).all()
    box = a.box()
    assert box["lat_min"] < a.airport[0] < box["lat_max"] and box["lon_min"] < a.airport[1] < box["lon_max"]


@pytest.mark.parametrize(("area", "seed"), [("kingston", 1000), ("colon", 2000), ("quetzal", 2003), ("buenaventura", 1001)])
def test_corpus_scenario_is_a_valid_deterministic_mix(area: str, seed: int) -> None:
    doc = corpus_scenario(area, seed)
    assert doc == corpus_scenario(area, seed)
    assert doc != corpus_scenario(area, seed + 1)
    sc = scenario_from_dict(doc, source=f"{area}-{seed}")  # every vessel leg checked at sea here
    kinds = {o.kind for o in sc.objects}
    assert {"merchant", "fishing", "pleasure_craft", "tug", "commercial_aircraft", "helicopter"} <= kinds
    anchored = [o for o in sc.objects if o.id.startswith("anchored-")]
    assert anchored and all(o.route[0].dwell_s > 0 for o in anchored)
    suspects = [o for o in sc.objects if o.role == "suspect"]
    assert 1 <= len(suspects) <= 2
    benign_labels = {o.activity for o in sc.objects if o.role == "benign"} | {
        w.activity for o in sc.objects if o.role == "benign" for w in o.route if w.activity}
    assert benign_labels <= set(BENIGN_LABELS)
    suspect_labels = {o.activity for o in suspects} | {w.activity for o in suspects for w in o.route if w.activity}
    assert suspect_labels - set(BENIGN_LABELS), "a suspect needs a behaviour label no benign object carries"
    truth = Truth.of(sc)
    assert (truth.paths.end_s()[truth.role == "suspect"] > 0).all()


@pytest.mark.parametrize(("area", "seed"), [("kingston", 1000), ("cartagena", 1002), ("buenaventura", 1001)])
def test_harbour_craft_have_berths_of_their_own(area: str, seed: int) -> None:
    """No two hulls on one point: every tug, pilot boat, ferry, tour boat and patrol vessel starts at its own berth
    by the port, at sea, at least BERTH_SPACING_M from the others' (a shared point made the evaluation's per-tick
    assignment swap their tracks among them)."""
    sc = scenario_from_dict(corpus_scenario(area, seed))
    craft = [o for o in sc.objects if o.kind in ("tug", "pilot_boat", "ferry", "tour_boat", "patrol_vessel")]
    lat = np.array([o.route[0].lat for o in craft])
    lon = np.array([o.route[0].lon for o in craft])
    assert len(craft) >= 4 and points_at_sea(lat, lon).all()
    gap = distance_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) + np.eye(len(craft)) * 1e9
    assert gap.min() >= BERTH_SPACING_M - 1.0  # rounded to 1e-5 deg
    assert distance_m(AREAS[area].port[0], AREAS[area].port[1], lat, lon).max() < 20 * BERTH_SPACING_M


def test_scale_changes_benign_traffic_only_in_number() -> None:
    small = scenario_from_dict(corpus_scenario("colon", 2001, duration_s=1800.0, scale=0.3))
    full = scenario_from_dict(corpus_scenario("colon", 2001, duration_s=1800.0))
    assert 0 < len(small.objects) < len(full.objects) / 2
    assert small.t_end - small.t0 == 1800.0


def test_split_is_disjoint_in_areas_and_seeds_and_big_enough() -> None:
    (tune_areas, tune_seeds), (test_areas, test_seeds) = SPLITS["tune"], SPLITS["test"]
    assert not set(tune_areas) & set(test_areas) and not set(tune_seeds) & set(test_seeds)
    assert set(tune_areas) | set(test_areas) == set(AREAS) and len(AREAS) >= 5
    assert {AREAS[a].ocean for a in test_areas} == {"caribbean", "pacific"}
    days = sum(len(split_members(s)) for s in SPLITS) * 6 / 24
    assert days >= 50
    assert split_members("test", ["colon"], [2000, 2001]) == [("colon", 2000), ("colon", 2001)]
    with pytest.raises(ValueError, match="'kingston' is not in the test split"):
        split_members("test", ["kingston"])
    with pytest.raises(ValueError, match="seeds: 1000 is not in the test split"):
        split_members("test", None, [1000])
