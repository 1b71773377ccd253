"""Service output: retained track updates only for changed tracks, at most one per track per
interval, identical to the tick's rows; the picture at its own interval; clears on deletion."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict

import numpy as np

from fusion.core.arrays import TENTATIVE
from fusion.fairqueue import Queued
from fusion.mqtt import BrokerAddress
from fusion.picturejob import PictureJob
from fusion.pipeline import Fusion, Tick
from fusion.publish import PICTURE_TOPIC, OutMessage, encode, picture
from fusion.service import Due, Service, ServiceOptions
from tests.unit.service.test_checkpoint import make_fusion, scans


def run_service(track_interval_s: float, picture_interval_s: float) -> tuple[list[OutMessage], list[Tick]]:
    ticks: list[Tick] = []
    service = Service(make_fusion(), BrokerAddress("127.0.0.1", 1883),
                      ServiceOptions(track_interval_s=track_interval_s, picture_interval_s=picture_interval_s), on_tick=ticks.append)
    out: list[OutMessage] = []
    msgs = scans(30, 0)
    for recv_t, topic, payload in msgs:
        out.extend(service._step([(topic, payload, recv_t)], recv_t, Due()))
    end = msgs[-1][0]
    for k in range(2, 1200, 2):  # no more input: tracks coast, then are deleted (max coast time)
        out.extend(service._step([], end + k, Due()))
    return out, ticks


def test_track_updates_are_the_changed_rows_at_most_once_per_interval() -> None:
    out, ticks = run_service(track_interval_s=6.0, picture_interval_s=10.0)
    rows_at = {(t.t, r.track_id): r for t in ticks for r in t.rows}
    updates: dict[int, list[dict[str, object]]] = defaultdict(list)
    for m in out:
        if m.topic.startswith("jisf/v1/tracks/") and m.payload:
            row = json.loads(m.payload)
            assert m.retain and m.qos == 0
            assert m.topic == f"jisf/v1/tracks/{row['domain']}/{row['track_id']}"
            assert row["status"] != "tentative"
            assert m.payload == encode(rows_at[(row["t"], row["track_id"])])  # same bytes as the tick's full row
            updates[int(row["track_id"])].append(row)
    assert updates, "no track was published"
    n_live_rows = sum(1 for t in ticks for r in t.rows if r.status != "tentative")
    assert sum(len(u) for u in updates.values()) < n_live_rows / 2  # far fewer than one message per track per tick
    for rows in updates.values():
        for prev, nxt in itertools.pairwise(rows):
            assert nxt["t"] - prev["t"] >= 6.0 - 1e-9 or nxt["status"] != prev["status"]
    alive = {r.track_id for r in ticks[-1].rows}
    deleted = {tid for t in ticks for tid in t.deleted_ids}
    assert set(updates) & deleted, "no published track was deleted: the clear path is not exercised"
    for tid in updates:  # a published track that was deleted has its retained topic cleared, once
        clears = [m for m in out if m.topic.endswith(f"/{tid}") and m.payload == b""]
        assert len(clears) == (0 if tid in alive else 1)
        assert all(c.qos == 1 and c.retain for c in clears)
    for tid in deleted - set(updates):  # never published (tentative all its life): nothing to clear
        assert not [m for m in out if m.topic.endswith(f"/{tid}") and m.payload == b""]


def test_picture_goes_out_at_its_own_interval() -> None:
    out, ticks = run_service(track_interval_s=0.0, picture_interval_s=10.0)
    pics = [json.loads(m.payload) for m in out if m.topic == PICTURE_TOPIC]
    times = np.array([p["t"] for p in pics])
    assert len(pics) >= 5 and np.all(np.diff(times) >= 10.0 - 1e-9) and len(pics) < len(ticks) / 4
    by_t = {t.t: t for t in ticks}
    for p in pics:
        expect = sorted(r.track_id for r in by_t[p["t"]].rows if r.status != "tentative")
        assert sorted(f["id"] for f in p["features"]) == expect


def test_a_step_takes_messages_up_to_the_byte_bound_but_at_least_one() -> None:
    service = Service(make_fusion(), BrokerAddress("127.0.0.1", 1883), ServiceOptions())
    for i in range(10):
        service.inbound.push(Queued(f"jisf/v1/feeds/radar/s{i}", b"x" * 1000, float(i), f"radar/s{i}", 1, True))
    assert [m.recv_t for m in service._take(100, 2500)] == [0.0, 1.0]
    assert [m.recv_t for m in service._take(2, 10**9)] == [2.0, 3.0]
    assert [m.recv_t for m in service._take(100, 10)] == [4.0]  # one message larger than the bound still goes
    assert len(service._take(100, 10**9)) == 5 and not service.inbound


def test_a_partly_taken_backlog_is_not_released_past_the_oldest_queued_message() -> None:
    """A step that takes only part of the queue releases data up to the oldest queued
    message's receive time (minus the re-order window), so that message is not out of
    sequence; when it is, the re-run is counted on the status and the metrics."""
    (s0, s1, s2) = scans(3, 0)
    queued_s1 = (s1[1], s1[2], s2[0] + 0.1)  # scan 1 reaches us after scan 2 (jitter), still inside the window
    for horizon, expected_reruns in ((queued_s1[2], 0), (None, 1)):
        service = Service(make_fusion(), BrokerAddress("127.0.0.1", 1883), ServiceOptions())
        backlog_now = s2[0] + 6.0  # the worker is behind: the clock is well past every message
        service._step([(s0[1], s0[2], s0[0]), (s2[1], s2[2], s2[0])], backlog_now, Due(), horizon)
        service._step([queued_s1], backlog_now, Due())
        c = service.fusion.counters
        assert c.reruns == expected_reruns and (c.rerun_batches >= 1) == (expected_reruns == 1)
        assert c.late_dropped == 0
        assert service._status_body(backlog_now)["tracker_reruns"] == expected_reruns
        assert f"jisf_tracker_reruns_total {float(expected_reruns)}" in service.metrics_text()


def test_picture_built_in_slices_equals_the_picture_built_at_once() -> None:
    _, ticks = run_service(track_interval_s=0.0, picture_interval_s=10.0)
    tick = max(ticks, key=lambda t: sum(len(v) for v in t.views.values()))
    frame = make_fusion().frame
    job = PictureJob(frame, slice_tracks=1)
    assert job.advance() == [] and job.finish() == []  # nothing in the making
    job.start(tick)
    shown = sum(int((v.status != TENTATIVE).sum()) for v in tick.views.values())
    steps = [job.advance() for _ in range(shown + 2)]
    done = [m for ms in steps for m in ms]
    assert len(done) == 1 and [len(ms) for ms in steps].index(1) == shown - 1  # out with its last slice
    whole = picture([r for r in tick.rows if r.status != "tentative"], tick.t)
    assert done[0] == OutMessage(PICTURE_TOPIC, encode(whole), qos=0) and len(whole.features) == shown > 1


def two_fed(data: list[tuple[float, str, bytes]]) -> tuple[Fusion, Fusion, float]:
    """Two fusions fed the same ``data`` (nothing advanced yet) and a time just after its last message."""
    a, b = make_fusion(), make_fusion()
    for f in (a, b):
        for t, topic, payload in data:
            f.accept(topic, payload, t)
    return a, b, data[-1][0] + 1.0


def test_a_fusion_behind_its_clock_evaluates_a_few_due_ticks_and_still_raises_its_alerts() -> None:
    data = scans(40, 0)  # 80 s of scans, 2 s ticks
    a, b, end = two_fed(data)
    every = list(a.advance(end))
    caught_up = list(b.advance(end, catch_up_ticks=8))  # 40 ticks due at once: 8 of them evaluated
    assert len(every) == 40 and len(caught_up) == 8 and caught_up[-1].t == every[-1].t
    assert {t.t for t in caught_up} <= {t.t for t in every} and max(np.diff([t.t for t in caught_up])) <= 6.0 * 2.0
    assert b.counters.ticks_skipped == 32 and a.counters.ticks_skipped == 0
    assert b.counters.measurements == a.counters.measurements  # the skipped ticks' data was fused all the same
    va, vb = every[-1].views["surface"], caught_up[-1].views["surface"]
    assert np.array_equal(va.track_id, vb.track_id) and np.allclose(va.x, vb.x)
    raised = [{(e.rule, e.track_id) for t in ticks for e in t.alerts if e.state == "raised"} for ticks in (every, caught_up)]
    assert raised[0] and raised[1] == raised[0]  # the go-fast's hold counted across the skipped ticks
    c = make_fusion()  # keeping up (a tick or two due per call): nothing skipped
    for t, topic, payload in data:
        c.accept(topic, payload, t)
        list(c.advance(t, catch_up_ticks=3))
    assert c.counters.ticks_skipped == 0


def test_catching_up_with_one_tick_evaluates_the_newest_due_tick_only() -> None:
    a, b, end = two_fed(scans(10, 0))  # 20 s of scans, 2 s ticks
    every, newest = list(a.advance(end)), list(b.advance(end, catch_up_ticks=1))
    assert [t.t for t in newest] == [every[-1].t] and b.counters.ticks_skipped == len(every) - 1
    assert b.counters.measurements == a.counters.measurements
