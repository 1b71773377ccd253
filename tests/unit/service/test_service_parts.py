"""The parts fusion/service.py composes, each alone: the status report (fusion/status.py), the
fusion worker and its latency measurement (fusion/worker.py), checkpoints (fusion/servicestate.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fusion.fairqueue import FairQueue, Queued
from fusion.intake import Intake
from fusion.mqtt import BrokerAddress, Link
from fusion.pipeline import Fusion
from fusion.publish import STATUS_TOPIC, TrackUpdates
from fusion.servicestate import Checkpoints, published_tracks
from fusion.status import ServiceStats, StatusReport
from fusion.worker import Due, FusionWorker, alert_ages, feed_of
from tests.unit.service.test_checkpoint import make_fusion, scans


class Parts:
    """The parts of one service around a small Fusion, without a broker connection."""

    def __init__(self, fusion: Fusion, path: Path | None = None) -> None:
        self.fusion, self.stats, self.intake, self.inbound = fusion, ServiceStats(), Intake(), FairQueue()
        self.link = Link(BrokerAddress("127.0.0.1", 1), "parts")
        self.report = StatusReport(self.stats, fusion, self.intake, self.inbound, self.link)
        self.updates = TrackUpdates(5.0)
        self.checkpoints = Checkpoints(path, fusion, self.updates, self.stats)
        self.worker = FusionWorker(fusion, self.stats, self.intake, self.report, self.checkpoints, self.updates,
                                   clock=lambda: None, picture_interval_s=5.0, catch_up_ticks=0)


def queued(recv_t: float, topic: str, payload: bytes) -> Queued:
    return Queued(topic, payload, recv_t, topic.removeprefix("jisf/v1/feeds/"), 1, True)


def test_status_balances_the_message_outcomes_and_the_metrics_carry_them() -> None:
    parts = Parts(make_fusion())
    parts.stats.received.update({"radar": 5, "adsb": 7})
    parts.stats.fused.update({"radar/accepted": 3, "radar/rejected": 1})
    parts.stats.shed.update({"radar": 1, "adsb": 7})
    parts.stats.shed_budget.update({"adsb": 6})
    parts.stats.shed_stale.update({"radar": 1, "adsb": 1})
    parts.inbound.stale_by_source.update({"radar/r": 1, "adsb/a": 1})
    body = parts.report.body(100.0)
    assert body["messages"] == {"adsb": {"accepted": 0, "rejected": 0, "shed": 7, "shed_budget": 6, "shed_stale": 1},
                                "radar": {"accepted": 3, "rejected": 1, "shed": 1, "shed_budget": 0, "shed_stale": 1}}
    assert body["shed_stale_by_source"] == {"radar/r": 1, "adsb/a": 1} and body["deferred_sources"] == [] and parts.report.last is body
    assert set(body["latency"]) == {"fuse_wait_s", "update_age_s", "alert_age_s", "step_s"}  # type: ignore[arg-type]
    msg = parts.report.message("online", body)
    assert msg.topic == STATUS_TOPIC and msg.retain and msg.qos == 1 and b'"state":"online"' in msg.payload
    text = parts.report.metrics_text()
    assert 'jisf_shed_stale_by_source_total{source="radar/r"} 1.0' in text and "jisf_deferred_sources 0.0" in text
    assert 'jisf_received_total{feed="adsb"} 7.0' in text and "jisf_step_seconds" in text


def test_a_worker_step_fuses_counts_and_measures_and_gives_back_what_a_stop_cut_short() -> None:
    parts = Parts(make_fusion())
    msgs = [queued(*m) for m in scans(20, 0)]
    out: list = []
    for m in msgs[:10]:
        step, left = parts.worker.step([m], m.recv_t, Due())  # type: ignore[arg-type]
        out += step
        assert left == []
    assert parts.stats.fused["radar/accepted"] == 10 and parts.stats.fuse_wait.count == 10 and parts.stats.step_s.count == 10
    assert any(m.topic.startswith("jisf/v1/tracks/") for m in out)  # tracks confirmed and published
    parts.worker.fuse_until = 0.0  # stopping, out of time: nothing more is accepted
    step, left = parts.worker.step(msgs[10:], msgs[-1].recv_t, Due(final=True))  # type: ignore[arg-type]
    assert left == msgs[10:] and parts.stats.fused["radar/accepted"] == 10
    assert step[-1].topic == STATUS_TOPIC and b'"state":"offline"' in step[-1].payload


def test_alert_ages_are_measured_from_each_alerts_track_update() -> None:
    fusion = make_fusion()
    ticks = []
    for recv_t, topic, payload in scans(60, 0):
        fusion.accept(topic, payload, recv_t)
        ticks += list(fusion.advance(recv_t))
    with_alerts = [t for t in ticks if t.alerts]
    assert with_alerts, "the scans' fast boats raise an alert"
    tick = with_alerts[0]
    ages = alert_ages(tick, tick.t + 1.0)
    assert len(ages) == len({a.track_id for a in tick.alerts}) and np.all(ages >= 1.0)
    assert len(alert_ages(next(t for t in ticks if not t.alerts), 0.0)) == 0


def test_feed_of_names_the_feed_kind() -> None:
    assert [feed_of(t) for t in ("jisf/v1/feeds/radar/s1", "jisf/v1/ops/ack/a1", "jisf/v1/feeds/nope/x", "x")] == ["radar", "ops", "unknown", "unknown"]


def test_checkpoints_restore_the_published_tracks_and_the_alert_epoch(tmp_path: Path) -> None:
    path = tmp_path / "svc.ckpt"
    a = Parts(make_fusion(), path)
    a.checkpoints.restore()  # nothing to restore: a new epoch, written at once
    assert a.stats.checkpoints == 1 and a.stats.restored_from is None and a.fusion.rules.epoch
    for m in scans(15, 0):
        a.worker.step([queued(*m)], m[0], Due())
    a.checkpoints.save()
    assert published_tracks(a.updates) and a.stats.checkpoints == 2
    b = Parts(make_fusion(), path)
    b.checkpoints.restore()
    assert b.stats.restored_from == str(path) and b.fusion.rules.epoch == a.fusion.rules.epoch
    assert published_tracks(b.updates) == published_tracks(a.updates)
    none = Parts(make_fusion(), None)
    none.checkpoints.save()  # without a path: nothing written
    assert none.stats.checkpoints == 0


def test_the_worker_evaluates_as_many_due_ticks_as_its_share_of_the_time_since_the_last_release_affords() -> None:
    from fusion.worker import TICK_SHARE

    parts = Parts(make_fusion())
    worker = parts.worker
    worker.catch_up_ticks = 10
    assert worker.affordable_ticks(100.0) == 10  # no tick timed yet: the configured catch-up
    worker._tick_s = 0.1
    assert worker.affordable_ticks(100.25) == 1  # 0.25 s since the last release: a share of it affords 1 tick, the newest
    assert worker.affordable_ticks(100.25 + 0.1 * 4.5 / TICK_SHARE) == 4
    assert worker.affordable_ticks(200.0) == 10  # never more than catch_up_ticks
    worker.catch_up_ticks = 0
    assert worker.affordable_ticks(200.1) == 0  # 0: every due tick, whatever the cost


def test_the_worker_times_its_ticks_and_skips_the_older_due_ones_when_a_tick_costs_more_than_the_time_affords() -> None:
    parts = Parts(make_fusion())
    worker = parts.worker
    worker.catch_up_ticks = 100  # more than will be due: only the ticks' cost makes the worker skip
    data = scans(20, 0)  # 40 s of scans, 2 s ticks
    worker.step([queued(t, topic, payload) for t, topic, payload in data[:2]], data[1][0], Due())
    assert worker._tick_s is not None and worker._tick_s > 0 and parts.fusion.counters.ticks_skipped == 0  # timed
    evaluated = parts.fusion.counters.ticks
    worker._tick_s = 1e3  # ticks far dearer than the time since the last release: the newest only
    worker.step([queued(t, topic, payload) for t, topic, payload in data[2:]], data[-1][0], Due())
    assert parts.fusion.counters.ticks == evaluated + 1 and parts.fusion.counters.ticks_skipped > 10
    assert parts.fusion._next_tick > data[-1][0]  # every due tick passed: evaluated or skipped
