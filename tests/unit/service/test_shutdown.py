"""The shutdown's parts without a broker: the final steps fuse nothing more, so that the final
checkpoint is the state the last step committed and holds what was accepted but not yet released
(fusion/service.py ``_shut_down``); a release stopped between two batches (``Fusion.advance``'s ``stop``)
holds the rest back for the checkpoint; the shutdown report of the final status (fusion/status.py)."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

from fusion.checkpoint import load_checkpoint, save_checkpoint
from fusion.offline import fusion_for_area
from fusion.pipeline import Fusion, FusionConfig
from fusion.publish import STATUS_TOPIC, encode
from fusion.status import ShutdownReport
from fusion.worker import Due
from tests.unit.service.test_checkpoint import AREA, ZONES, make_fusion, scans
from tests.unit.service.test_service_parts import Parts, queued


def test_the_final_steps_fuse_nothing_more_and_the_checkpoint_holds_what_was_accepted(tmp_path: Path) -> None:
    path = tmp_path / "svc.ckpt"
    parts = Parts(make_fusion(), path)
    msgs = [queued(*m) for m in scans(12, 0)]
    for m in msgs[:8]:
        parts.worker.step([m], m.recv_t, Due())
    held = msgs[8].recv_t  # the last step's horizon: the oldest message still queued when it ran
    parts.worker.step(msgs[8:], msgs[-1].recv_t, Due(), held)  # accepted; released only up to the horizon
    committed = dataclasses.asdict(parts.fusion.counters)
    later = msgs[-1].recv_t + 60.0  # the clock moved on while stopping
    parts.worker.step([], later, Due(checkpoint=True), held)
    out, _ = parts.worker.step([], later, Due(final=True), held)
    assert dataclasses.asdict(parts.fusion.counters) == committed  # nothing more fused
    assert out[-1].topic == STATUS_TOPIC and b'"state":"offline"' in out[-1].payload
    restored = make_fusion()
    load_checkpoint(path, restored)
    assert dataclasses.asdict(restored.counters) == committed
    with np.load(path) as z:
        buffered = sum(len(z[k]) for k in z.files if k.startswith("ingest.heap.") and k.endswith(".t"))
    accepted = restored.ingest.log.accepted_messages["radar"]
    assert accepted == len(msgs) and buffered > 0
    # nothing accepted is lost: what the checkpoint holds unreleased is fused by the restarted service
    list(restored.advance(later))
    assert restored.counters.measurements == committed["measurements"] + buffered == 7 * len(msgs)


def test_the_shutdown_report_keeps_its_phases_in_order_and_goes_into_the_final_status() -> None:
    parts = Parts(make_fusion())
    assert "shutdown" not in parts.report.body(0.0)  # running: no shutdown object
    report = ShutdownReport("SIGTERM")
    parts.stats.shutdown = report
    for phase in ("intake_ended", "worker_stopped", "drained", "checkpoint_written"):
        report.mark(phase)
    report.queued_at_stop, report.fused, report.dropped = 5, 2, 3
    body = parts.report.body(1.0)["shutdown"]
    assert body == {"reason": "SIGTERM", "queued_at_stop": 5, "fused": 2, "dropped": 3, "phases_s": report.phases}
    assert list(report.phases) == ["intake_ended", "worker_stopped", "drained", "checkpoint_written"]
    assert list(report.phases.values()) == sorted(report.phases.values())


@pytest.mark.parametrize(("interval_s", "stop_at"), [(2.0, 1), (2.0, 2), (2.0, 5), (2.0, 8), (10.0, 3), (10.0, 6)])
def test_a_release_stopped_between_batches_holds_the_rest_and_a_restart_continues_identically(
        tmp_path: Path, interval_s: float, stop_at: int) -> None:
    """``Fusion.advance``'s ``stop``, true from its ``stop_at``-th question on (asked before each batch and each
    tick; scans 2 s apart: with 2 s ticks the first question falls before the first tick, then the even ones before
    a batch; with 10 s ticks a tick releases ~5 scans, stopped after the first or the fourth): the batches released
    and not fused go back to the re-order buffer, the checkpoint holds them, and the restored service's
    ticks continue the stopped one's exactly as one uninterrupted run's."""

    def make_fusion() -> Fusion:
        return fusion_for_area(AREA, ZONES, "test", None, FusionConfig(output_interval_s=interval_s, reorder_window_s=0.5))

    msgs = scans(12, 0)
    later = msgs[-1][0] + 10.0
    whole = make_fusion()
    for recv_t, topic, payload in msgs:
        whole.accept(topic, payload, recv_t)
    expected = [encode([t.rows, t.alerts, t.deleted_ids]) for t in whole.advance(later)]
    stopped = make_fusion()
    for recv_t, topic, payload in msgs:
        stopped.accept(topic, payload, recv_t)
    asked = itertools.count(1)
    before = [encode([t.rows, t.alerts, t.deleted_ids]) for t in stopped.advance(later, stop=lambda: next(asked) >= stop_at)]
    assert stopped.counters.stopped_steps == 1 and len(before) < len(expected)
    save_checkpoint(tmp_path / "f.ckpt", stopped)
    buffered = sum(len(b) for b in stopped.ingest.due(np.inf))  # every accepted plot is fused or buffered
    assert stopped.counters.measurements + buffered == 7 * len(msgs) == whole.counters.measurements and buffered > 0
    restarted = make_fusion()
    load_checkpoint(tmp_path / "f.ckpt", restarted)
    after = [encode([t.rows, t.alerts, t.deleted_ids]) for t in restarted.advance(later)]
    assert before + after == expected
    assert restarted.counters.measurements == whole.counters.measurements
