"""The recorder: thinning rules, deletions, alerts, bad payloads, batching, and loading an output directory."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_history_store import T0, alert, stored, track

from fusion.history import HistoryRecorder, HistoryStore, open_store
from fusion.history.cli import load_directory


def topic(row: dict[str, Any]) -> str:
    return f"jisf/v1/tracks/{row['domain']}/{row['track_id']}"


def payload(obj: object) -> bytes:
    return json.dumps(obj).encode()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Any:
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as s:
        yield s


def test_thinning_keeps_one_per_interval_status_changes_and_the_last_point(sqlite_store: HistoryStore) -> None:
    rec = HistoryRecorder(sqlite_store, thin_s=30.0)
    rows = [track(5, T0 + 5 * i, status="coasting" if 20 <= i < 22 else "confirmed") for i in range(25)]  # 0..120 s
    for r in rows:
        rec.on_message(topic(r), payload(r))
    rec.on_message("jisf/v1/tracks/surface/5", b"")  # deleted: its last point is kept
    rec.flush()
    kept = [r["t"] - T0 for r in sqlite_store.track_history(track_id=5)]
    # 0, 30, 60, 90 by interval; 100 coasting (status change); 110 confirmed again; 120 the last before deletion
    assert kept == [0, 30, 60, 90, 100, 110, 120]
    assert rec.stats.track_updates == 25 and rec.stats.tracks_kept == 7 and rec.stats.deletions == 1


def test_redelivered_points_are_dropped_and_finish_keeps_live_tails(sqlite_store: HistoryStore) -> None:
    rec = HistoryRecorder(sqlite_store, thin_s=30.0)
    for t in (0, 5, 10, 10, 5):
        r = track(1, T0 + t)
        rec.on_message(topic(r), payload(r))
    assert rec.stats.duplicates == 2
    rec.finish()  # the archive stops: the newest point of a live track is kept
    assert [r["t"] - T0 for r in sqlite_store.track_history(track_id=1)] == [0, 10]
    r = track(1, T0 + 10)  # the retained message again after a restart: nothing new
    rec.on_message(topic(r), payload(r))
    assert rec.finish() == 0


def test_every_alert_event_is_kept(sqlite_store: HistoryStore) -> None:
    rec = HistoryRecorder(sqlite_store, thin_s=300.0)
    events = [alert(3, T0 + i, state="raised" if i == 0 else "updated") for i in range(5)]
    for e in events:
        rec.on_message("jisf/v1/alerts/go_fast/3", payload(e))
    rec.flush()
    assert sqlite_store.alerts(track_id=3) == events


@pytest.mark.parametrize(("topic_", "body", "field"), [
    ("jisf/v1/tracks/surface/1", b"{not json", "payload"),
    ("jisf/v1/tracks/surface/1", b"[1, 2]", "payload"),
    ("jisf/v1/tracks/surface/1", payload(track(1, T0, lat=91.0)), "lat"),
    ("jisf/v1/tracks/surface/1", payload({k: v for k, v in track(1, T0).items() if k != "t"}), "t"),
    ("jisf/v1/tracks/surface", b"", "topic"),
    ("jisf/v1/tracks/surface/x", b"", "topic"),
    ("jisf/v1/alerts/go_fast/1", b"", "payload"),
    ("jisf/v1/alerts/go_fast/1", payload(alert(1, T0, rule=7)), "rule"),
    ("jisf/v1/status", b"{}", "topic"),
])
def test_bad_payloads_are_counted_never_raised(sqlite_store: HistoryStore, topic_: str, body: bytes, field: str) -> None:
    rec = HistoryRecorder(sqlite_store)
    rec.on_message(topic_, body)
    good = track(2, T0)
    rec.on_message(topic(good), payload(good))
    rec.flush()
    assert rec.stats.bad == 1 and dict(rec.stats.bad_fields) == {field: 1}
    assert field in rec.stats.last_error and topic_ in rec.stats.last_error
    assert sqlite_store.track_history() == [stored(good)]


def test_writes_in_batches_and_survives_a_failing_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    rec = HistoryRecorder(store, thin_s=0.0, batch_rows=10)
    for i in range(9):
        rec.on_message("jisf/v1/tracks/surface/1", payload(track(1, T0 + i)))
    assert store.counts()["track_points"] == 0 and rec.queued == 9
    rec.on_message("jisf/v1/tracks/surface/1", payload(track(1, T0 + 9)))
    assert store.counts()["track_points"] == 10 and rec.queued == 0
    store.close()  # writes now fail: counted, the records wait, nothing raised
    for i in range(10, 20):
        rec.on_message("jisf/v1/tracks/surface/1", payload(track(1, T0 + i)))
    assert rec.stats.write_errors == 1 and rec.queued == 10
    rec.store = open_store(f"sqlite:///{tmp_path / 'h.db'}")  # the store is back
    assert rec.flush() == 10
    assert len(rec.store.track_history(track_id=1)) == 20
    rec.store.close()


_steps = st.lists(st.tuples(st.floats(0.5, 40.0), st.sampled_from(["confirmed", "coasting"])), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(steps=_steps, thin_s=st.sampled_from([0.0, 10.0, 30.0]))
def test_thinning_invariants(steps: list[tuple[float, str]], thin_s: float) -> None:
    with open_store("sqlite:///:memory:") as store:
        rec = HistoryRecorder(store, thin_s=thin_s)
        rows, t = [], T0
        for dt, status in steps:
            t += dt
            rows.append(track(9, t, status=status))
            rec.add_track(rows[-1])
        rec.delete_track(9)
        rec.flush()
        kept = store.track_history(track_id=9)
    assert kept[0] == stored(rows[0]) and kept[-1] == stored(rows[-1])  # first and last points always
    assert all(k in [stored(r) for r in rows] for k in kept)  # kept points are received points, unchanged
    changes = [stored(b) for a, b in itertools.pairwise(rows) if a["status"] != b["status"]]
    assert all(c in kept for c in changes)  # every status change
    for a, b in itertools.pairwise(kept[:-1]):  # between kept points (the tail aside): the interval, or a status change
        assert b["t"] - a["t"] >= thin_s or b["status"] != a["status"]


def test_load_directory_thins_skips_tentative_and_counts_bad_lines(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    rows = [track(1, T0 + 5 * i, status="tentative" if i < 2 else "confirmed", mmsi=538004567) for i in range(20)]
    (out / "tracks.jsonl").write_text("\n".join([*map(json.dumps, rows), "{broken", ""]))
    (out / "alerts.jsonl").write_text(json.dumps(alert(1, T0 + 30)) + "\n")
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        stats = load_directory(store, out, thin_s=30.0)
        assert [r["t"] - T0 for r in store.track_history(mmsi=538004567)] == [10, 40, 70, 95]
        assert len(store.alerts()) == 1
    assert stats.bad == 1 and "tracks.jsonl:21" in stats.last_error
    with pytest.raises(FileNotFoundError, match=r"tracks\.jsonl"):
        load_directory(open_store("sqlite:///:memory:"), tmp_path / "nothing", 30.0)
