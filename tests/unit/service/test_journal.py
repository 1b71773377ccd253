"""fusion.continuity: a crash after the last checkpoint loses no alert (journal) and reuses no id.

The San Andres scenario (an ais_spoofing alert at +1205 s, ais_gap alerts at +1265 and +1860 s,
all on identified vessels) is fused offline three ways: without interruption; and "crashed" at
+1500 s with its last checkpoint at +1230 s (the ais_gap of +1265 s raised after it), the 270 s
between the checkpoint and the crash lost (data included, as live), then restored from the
checkpoint with and without the alert journal.
"""

from __future__ import annotations

import itertools
import json
from functools import cache
from pathlib import Path

import msgspec
import pytest

from fusion.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from fusion.continuity import AlertJournal, journal_path, new_epoch, seen_track_ids
from fusion.offline import fusion_for_area
from fusion.pipeline import Fusion
from fusion.publish import AIR_ID_BASE
from fusion.rules.engine import AlertEvent
from sim_feeds.play import iter_feed
from sim_feeds.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[3]
SCENARIO = ROOT / "sim_feeds/scenarios/ais_dark_spoof_san_andres.toml"
CHECKPOINT_AT, CRASH_AT, END = 1230.0, 1500.0, 2100.0


@cache
def feed() -> tuple[float, list[tuple[float, str, bytes]]]:
    sc = load_scenario(SCENARIO)
    msgs = [(m.t, m.topic, m.payload) for m in itertools.takewhile(lambda m: m.t < sc.t0 + END, iter_feed(sc))]
    return sc.t0, msgs


def new_fusion() -> Fusion:
    sc = load_scenario(SCENARIO)
    f = fusion_for_area(sc.area, sc.zones_geojson(), sc.name)
    f.rules.epoch = "e1"
    return f


def run(f: Fusion, msgs: list[tuple[float, str, bytes]], journal: AlertJournal | None = None, finish: bool = False) -> list[dict]:
    out: list[dict] = []

    def take(ticks) -> None:
        for tick in ticks:
            if journal is not None:
                journal.record(f, tick.alerts)
            out.extend(msgspec.to_builtins(a) for a in tick.alerts)

    for t, topic, payload in msgs:
        take(f.advance(t))
        f.accept(topic, payload, t)
    if finish:
        take(f.finish())
    return out


def final_states(alerts: list[dict]) -> dict[tuple[str, int], str]:
    """(rule, mmsi) -> state of the latest event of each alert subject's newest alert."""
    return {(a["rule"], a["mmsi"]): a["state"] for a in alerts}


def crashed_run(tmp_path: Path, use_journal: bool, down_s: float = 30.0) -> tuple[list[dict], list[dict]]:
    """Alerts before the crash and after the restart."""
    t0, msgs = feed()
    ckpt = tmp_path / "fusion.ckpt"
    f = new_fusion()
    journal = AlertJournal(journal_path(ckpt))
    journal.start(f)
    before = run(f, [m for m in msgs if m[0] < t0 + CHECKPOINT_AT], journal)
    save_checkpoint(ckpt, f)
    journal.start(f)
    before += run(f, [m for m in msgs if t0 + CHECKPOINT_AT <= m[0] < t0 + CRASH_AT], journal)
    journal.close()  # kill -9: nothing else written
    g = new_fusion()
    load_checkpoint(ckpt, g)
    if use_journal:
        AlertJournal(journal_path(ckpt)).replay(g, g.progress_state()["next_tick"])
    after = run(g, [m for m in msgs if m[0] >= t0 + CRASH_AT + down_s], finish=True)
    return before, after


def test_crash_after_checkpoint_keeps_alert_ids(tmp_path: Path) -> None:
    t0, msgs = feed()
    reference = run(new_fusion(), msgs, finish=True)
    before, after = crashed_run(tmp_path, use_journal=True)
    raised_before = [a["alert_id"] for a in before if a["state"] == "raised"]
    assert any(a["rule"] == "ais_gap" and a["t"] > t0 + CHECKPOINT_AT for a in before if a["state"] == "raised"), before
    raised = raised_before + [a["alert_id"] for a in after if a["state"] == "raised"]
    assert len(raised) == len(set(raised)), f"an alert id raised twice: {raised}"
    # the same distinct alerts (rule, vessel) as the uninterrupted run, and the same final states
    assert {(a["rule"], a["mmsi"]) for a in before + after} == {(a["rule"], a["mmsi"]) for a in reference}
    assert final_states(before + after) == final_states(reference)
    # the alert raised after the checkpoint is followed under its id after the restart (not orphaned)
    gap_id = next(a["alert_id"] for a in before if a["rule"] == "ais_gap" and a["state"] == "raised")
    assert any(a["alert_id"] == gap_id for a in after), after


def test_without_the_journal_the_alert_would_be_raised_again(tmp_path: Path) -> None:
    """What the journal prevents (the reported fault): the sequence number after the checkpoint is issued twice."""
    before, after = crashed_run(tmp_path, use_journal=False)
    raised = [a["alert_id"] for a in before + after if a["state"] == "raised"]
    assert len(raised) != len(set(raised)), raised


def test_journal_reserves_track_ids_and_ignores_a_torn_line(tmp_path: Path) -> None:
    t0, msgs = feed()
    ckpt = tmp_path / "fusion.ckpt"
    f = new_fusion()
    journal = AlertJournal(journal_path(ckpt))
    journal.start(f)
    run(f, [m for m in msgs if m[0] < t0 + 600.0], journal)
    used = f.trackers["surface"].next_id
    journal.close()
    with journal_path(ckpt).open("a") as fh:
        fh.write('{"alert": {"t": 1')  # a crash while writing
    g = new_fusion()
    g.rules.epoch = ""
    replayed = AlertJournal(journal_path(ckpt)).replay(g, None)
    assert replayed.torn and replayed.epoch == "e1" and g.rules.epoch == "e1"
    assert g.trackers["surface"].next_id >= used


def test_journal_refuses_a_corrupt_middle_line(tmp_path: Path) -> None:
    path = tmp_path / "x.journal"
    path.write_text(json.dumps({"epoch": "e1", "version": 1}) + "\nnot json\n" + json.dumps({"ids": {"surface": 5}}) + "\n")
    with pytest.raises(CheckpointError, match="line 2 is not JSON"):
        AlertJournal(path).replay(new_fusion(), None)
    path.write_text(json.dumps({"epoch": "e1", "version": 1}) + "\n" + json.dumps({"alert": {"t": 1.0}, "row": None}) + "\n\n")
    with pytest.raises(CheckpointError, match=r"line 2: .*alert_id"):
        AlertJournal(path).replay(new_fusion(), None)


def test_epoch_and_seen_ids() -> None:
    assert new_epoch(0.0) == "0" and new_epoch(1_765_000_000.0) < new_epoch(1_765_000_000.001)
    ids = seen_track_ids({"jisf/v1/tracks/surface/41", "jisf/v1/tracks/air/" + str(AIR_ID_BASE + 7), "jisf/v1/tracks/surface/x"})
    assert ids == {"surface": 42, "air": 8}


def test_adopted_alert_whose_track_is_gone_moves_to_the_vessels_new_track(tmp_path: Path) -> None:
    """An alert journaled on a track created after the checkpoint (so gone after the restore) follows its MMSI."""
    t0, msgs = feed()
    ckpt = tmp_path / "fusion.ckpt"
    f = new_fusion()
    run(f, [m for m in msgs if m[0] < t0 + CHECKPOINT_AT])
    save_checkpoint(ckpt, f)
    raised = [a for a in run(f, [m for m in msgs if t0 + CHECKPOINT_AT <= m[0] < t0 + CRASH_AT]) if a["state"] == "raised"]
    gap = next(a for a in raised if a["rule"] == "ais_gap")
    row = f.rules.book_row("ais_gap", gap["alert_id"])
    assert row is not None
    lost_track = 777  # as if the vessel's track then had been created after the checkpoint
    row.update(track_id=lost_track, key=(lost_track << 31) | row["aux"])
    g = new_fusion()
    load_checkpoint(ckpt, g)
    g.rules.adopt(msgspec.convert(f.rules.last[gap["alert_id"]], AlertEvent), row)
    after = run(g, [m for m in msgs if m[0] >= t0 + CRASH_AT], finish=True)
    mine = [a for a in after if a["alert_id"] == gap["alert_id"]]
    assert mine and {a["track_id"] for a in mine} == {gap["track_id"]}, mine
    assert not [a for a in after if a["rule"] == "ais_gap" and a["mmsi"] == gap["mmsi"] and a["state"] == "raised"], after
