"""Operations: structured logs, latency windows, and a Prometheus text endpoint.

The endpoint is an ``asyncio.start_server`` that answers ``GET /metrics`` with the text
exposition format (version 0.0.4) and 404 to anything else, binding a configurable
address, loopback by default. The service describes its metrics as ``Sample`` records;
``prometheus_text`` turns them into prometheus_client metric families and lets
prometheus_client write the exposition (its own HTTP server runs threads, hence the
asyncio one here).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

log = logging.getLogger("jisf.ops")

_LOG_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (Unix s), level, logger, msg, plus any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        out: dict[str, object] = {"ts": round(record.created, 6), "level": record.levelname.lower(), "logger": record.name,
                                  "msg": record.getMessage()}
        out.update({k: v for k, v in vars(record).items() if k not in _LOG_RECORD_FIELDS})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(fmt: str, level: str) -> None:
    """Root logging to stderr: ``fmt`` "text" or "json", ``level`` a logging level name."""
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be text or json, got {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` at once, once what it holds is durable: logs and standard
    streams are flushed, the interpreter's teardown (freeing every object of a large heap, 0.2-0.6 s
    for the service and 0.2-0.4 s for its MQTT link process on the loaded 2-core machine, docs/BENCHMARKS.md) is skipped."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


QUANTILES = (0.5, 0.9, 0.99)


@dataclass
class LatencyWindow:
    """The most recent ``size`` latency samples (seconds) in a ring, with their quantiles."""

    size: int = 8192
    count: int = 0  # samples ever added
    total_s: float = 0.0  # their sum
    _ring: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"LatencyWindow size must be >= 1, got {self.size}")
        self._ring = np.full(self.size, np.nan)

    def add(self, values_s: Iterable[float] | np.ndarray) -> None:
        """Record latencies; non-finite values are ignored."""
        v = np.asarray(values_s if isinstance(values_s, np.ndarray) else list(values_s), dtype=float).ravel()
        v = v[np.isfinite(v)]
        self.count += len(v)
        self.total_s += float(v.sum())
        v = v[-self.size:]  # only the newest fit in the ring
        self._ring[np.arange(self.count - len(v), self.count) % self.size] = v

    def quantiles(self) -> dict[float, float]:
        """{q: seconds} over the window; NaN while empty."""
        live = self._ring[np.isfinite(self._ring)]
        if not len(live):
            return dict.fromkeys(QUANTILES, math.nan)
        return dict(zip(QUANTILES, np.quantile(live, QUANTILES).tolist(), strict=True))


@dataclass(frozen=True)
class Sample:
    """One Prometheus sample: ``kind`` is "counter", "gauge" or "summary" (quantile samples)."""

    name: str
    kind: str
    help: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


def _families(samples: Iterable[Sample]) -> list[Metric]:
    """Samples grouped into prometheus_client metric families, in first-seen order.

    A summary's ``NAME_sum`` and ``NAME_count`` samples belong to the family ``NAME``; a
    counter's family is named without its ``_total`` suffix (prometheus_client adds it).
    """
    families: dict[str, Metric] = {}
    for s in samples:
        if s.kind == "summary":
            base = s.name.removesuffix("_sum").removesuffix("_count") if "quantile" not in s.labels else s.name
            family = families.setdefault(base, Metric(base, s.help, "summary"))
        elif s.kind == "counter":
            base = s.name.removesuffix("_total")
            family = families.setdefault(base, Metric(base, s.help, "counter"))
        elif s.kind == "gauge":
            family = families.setdefault(s.name, Metric(s.name, s.help, "gauge"))
        else:
            raise ValueError(f"sample {s.name}: kind = {s.kind!r}: must be counter, gauge or summary")
        family.add_sample(s.name if s.kind != "counter" else f"{family.name}_total", dict(s.labels), float(s.value))
    return list(families.values())


class _Snapshot(Collector):
    """A one-shot collector of already computed metric families."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        """The families."""
        return self._families


def prometheus_text(samples: Iterable[Sample]) -> str:
    """Samples in the Prometheus text format (prometheus_client's exposition)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(_families(samples)))
    return generate_latest(registry).decode()


def latency_samples(name: str, help_text: str, window: LatencyWindow) -> list[Sample]:
    """A summary metric (quantiles, _sum, _count) for one latency window."""
    out = [Sample(name, "summary", help_text, v, {"quantile": str(q)}) for q, v in window.quantiles().items()]
    out.append(Sample(f"{name}_sum", "summary", help_text, window.total_s))
    out.append(Sample(f"{name}_count", "summary", help_text, window.count))
    return out


@asynccontextmanager
async def serve_metrics(host: str, port: int, render: Callable[[], str]) -> AsyncIterator[int]:
    """Serve ``render()`` at ``GET /metrics`` on host:port (0 picks a port); yields the bound port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started = time.perf_counter()
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            words = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            method, path = words[0], words[1] if len(words) > 1 else ""
            if method == "GET" and path.split("?", 1)[0] == "/metrics":
                status, ctype, body = "200 OK", CONTENT_TYPE_PLAIN_0_0_4, render().encode()
            else:
                status, ctype, body = "404 Not Found", "text/plain; charset=utf-8", b"GET /metrics\n"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
            log.debug("metrics %s %s in %.1f ms", method, status, (time.perf_counter() - started) * 1e3)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError) as err:
            log.debug("metrics request dropped: %s", err)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    bound = int(server.sockets[0].getsockname()[1])
    log.info("metrics on http://%s:%d/metrics", host, bound)
    try:
        yield bound
    finally:
        server.close()
        await server.wait_closed()
