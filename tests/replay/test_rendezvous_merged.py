"""The merged-plot rendezvous (issue 14): a dark go-fast 20 min alongside an AIS fishing boat under one coastal
radar (sim_feeds/scenarios/rendezvous_merged_guajira.toml) is flagged on the boat that took the merged plot,
during the contact."""

from __future__ import annotations

import json
from pathlib import Path

from goldens import CASES

from fusion.offline import replay_recording
from sim_feeds.scenario import load_scenario
from sim_feeds.truth import iter_truth

CASE = next(c for c in CASES if c.name == "rendezvous_merged_guajira")


def test_the_merged_plot_rendezvous_is_raised_on_the_host_during_the_contact(tmp_path: Path) -> None:
    replay_recording(CASE.recording, tmp_path, scenario_path=CASE.scenario_path)
    contact = [r.t for rows in iter_truth(load_scenario(CASE.scenario_path)) for r in rows
               if r.id == "goFast-1" and r.activity == "rendezvous"]
    start, end = min(contact), max(contact)
    assert end - start >= 1190.0  # 20 min alongside, 5 m apart: one radar plot
    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").open()]
    raised = [a for a in alerts if a["rule"] == "rendezvous" and a["state"] == "raised"]
    assert len(raised) == 1
    a = raised[0]
    assert a["mmsi"] == 730112300 and a["evidence"]["merged"] == 1.0  # the fishing boat's track, the survivor
    assert start + 600.0 <= a["t"] <= end  # 10 min of merged plot, before the go-fast leaves
    assert "disappeared into its radar plot" in a["reason"]
