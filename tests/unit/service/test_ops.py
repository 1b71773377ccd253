"""fusion.ops: JSON log lines, latency windows, Prometheus text and its HTTP endpoint."""

from __future__ import annotations

import asyncio
import json
import logging
import math

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fusion.config import load_config
from fusion.ops import (
    JsonFormatter,
    LatencyWindow,
    Sample,
    latency_samples,
    prometheus_text,
    serve_metrics,
)


def test_json_log_line_carries_extra_fields() -> None:
    rec = logging.LogRecord("jisf.service", logging.WARNING, __file__, 1, "shed %d radar scans", (3,), None)
    rec.feed = "radar"
    line = json.loads(JsonFormatter().format(rec))
    assert line["level"] == "warning" and line["logger"] == "jisf.service"
    assert line["msg"] == "shed 3 radar scans" and line["feed"] == "radar"
    assert isinstance(line["ts"], float)


def test_latency_window_keeps_the_latest_samples() -> None:
    w = LatencyWindow(size=100)
    assert all(math.isnan(v) for v in w.quantiles().values())
    w.add(np.full(500, 9.0))
    values = np.random.default_rng(1).exponential(0.01, 250)
    w.add(values[:130])
    w.add([float("nan"), float("inf")])
    w.add(values[130:])
    q = w.quantiles()
    assert q[0.5] == pytest.approx(np.quantile(values[-100:], 0.5))
    assert q[0.99] == pytest.approx(np.quantile(values[-100:], 0.99))
    assert w.count == 750 and w.total_s == pytest.approx(4500 + values.sum())
    with pytest.raises(ValueError, match="size must be >= 1, got 0"):
        LatencyWindow(size=0)


def test_prometheus_text_format() -> None:
    w = LatencyWindow(size=10)
    w.add([0.1, 0.2])
    text = prometheus_text([
        Sample("jisf_received_total", "counter", "messages received", 5, {"feed": "radar"}),
        Sample("jisf_received_total", "counter", "messages received", 7, {"feed": 'a"b'}),
        Sample("jisf_inbound_depth", "gauge", "queued", 0.5),
        *latency_samples("jisf_latency_seconds", "latency", w),
    ])
    lines = text.splitlines()
    assert lines[:4] == ["# HELP jisf_received_total messages received", "# TYPE jisf_received_total counter",
                         'jisf_received_total{feed="radar"} 5.0', 'jisf_received_total{feed="a\\"b"} 7.0']
    assert "jisf_inbound_depth 0.5" in lines
    assert text.count("# TYPE jisf_received_total") == 1
    # what a Prometheus server reads: prometheus_client's own parser
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert (families["jisf_received"].type, families["jisf_inbound_depth"].type) == ("counter", "gauge")
    assert {(s.name, s.labels["feed"], s.value) for s in families["jisf_received"].samples} == {
        ("jisf_received_total", "radar", 5.0), ("jisf_received_total", 'a"b', 7.0)}
    latency = families["jisf_latency_seconds"]
    assert latency.type == "summary"
    by_name = {(s.name, s.labels.get("quantile")): s.value for s in latency.samples}
    assert by_name[("jisf_latency_seconds", "0.5")] == float(np.quantile([0.1, 0.2], 0.5))
    assert (by_name[("jisf_latency_seconds_count", None)], by_name[("jisf_latency_seconds_sum", None)]) == (2.0, 0.1 + 0.2)
    assert set(families) == {"jisf_received", "jisf_inbound_depth", "jisf_latency_seconds"}  # no _sum/_count families


def test_service_metrics_parse_as_prometheus_families() -> None:
    """The service's whole /metrics body: every summary with its quantiles, _sum and _count, counters as counters."""
    from fusion.runner import build_service

    cfg = load_config(None, {}, {"scenario": "minimal", "mqtt_io": "inline"})
    families = {f.name: f for f in text_string_to_metric_families(build_service(cfg).metrics_text())}
    for name in ("jisf_fuse_wait_seconds", "jisf_update_age_seconds", "jisf_alert_age_seconds", "jisf_step_seconds"):
        assert families[name].type == "summary", name
        assert {s.name for s in families[name].samples} == {name, f"{name}_sum", f"{name}_count"}
    for name in ("jisf_broker_connects", "jisf_published", "jisf_checkpoints", "jisf_ticks_skipped"):
        assert families[name].type == "counter", name
        assert [s.name for s in families[name].samples] == [f"{name}_total"]
    assert families["jisf_up"].samples[0].value == 1.0


async def _get(port: int, path: str) -> tuple[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    data = (await reader.read()).decode()
    writer.close()
    head, body = data.split("\r\n\r\n", 1)
    return head.splitlines()[0], body


async def test_metrics_endpoint_serves_and_404s() -> None:
    calls = []

    def render() -> str:
        calls.append(1)
        return prometheus_text([Sample("jisf_up", "gauge", "service up", 1)])

    async with serve_metrics("127.0.0.1", 0, render) as port:
        status, body = await _get(port, "/metrics")
        assert status == "HTTP/1.1 200 OK" and "jisf_up 1" in body
        status, _ = await _get(port, "/other")
        assert status == "HTTP/1.1 404 Not Found"
    assert len(calls) == 1
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
