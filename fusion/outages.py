"""Outage awareness: when the link, a feed or a source went silent, inferred from its own traffic. Pure.

Every inbound feed message is a heartbeat of its source (the topic), of its feed kind and of
the link as a whole. Each keeps its last receive time and its usual interval (an exponential
average of the gaps between its messages). A *silence* is a gap longer than
``max(factor x usual interval, min_s)``: from the last message to the next one, or, while
it lasts, to now. Silences of the link and of a feed are handed to the rules
(``Outages``), so that the gap rules do not count against a vessel the time during which
nothing could have been heard of it: a link outage, a broker restart, the service itself
down (the heartbeats are in the checkpoint, so a restart is a silence like any other).

Times are receive times (Unix s); the rules compare them with measurement times, which for
the live feeds differ by the feed latency only (seconds), against gap thresholds of minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusion.core.arrays import FloatArray

LINK = "link"
NONCOOP_KINDS = ("radar", "oth")  # the feeds that hold a dark or silent vessel


@dataclass(frozen=True)
class OutageSettings:
    """When a silence counts as an outage."""

    factor: float = 10.0  # gaps longer than this many usual intervals ...
    min_s: float = 20.0  # ... and longer than this are silences
    keep_s: float = 6 * 3600.0  # closed silences older than this are forgotten (longer than any rule's gap threshold)
    smoothing: float = 0.05  # weight of a new gap in the usual interval
    warmup: int = 20  # gaps seen before a heartbeat's usual interval is trusted


@dataclass(frozen=True)
class Outages:
    """Silences (M, 2) [start, end] in s, sorted, non-overlapping, of what the AIS silence and the radar
    freshness of a vessel depend on: the link or the AIS feed (``ais``), the link or the radar/OTH feeds (``noncoop``)."""

    ais: FloatArray = field(default_factory=lambda: np.zeros((0, 2)))
    noncoop: FloatArray = field(default_factory=lambda: np.zeros((0, 2)))


def covered_s(start: FloatArray, end: float | FloatArray, intervals: FloatArray) -> FloatArray:
    """(N,) seconds of each [start_i, end_i] (end: scalar or (N,)) covered by ``intervals`` ((M, 2),
    non-overlapping); 0 where start is NaN."""
    start = np.asarray(start, dtype=float)
    if not len(intervals):
        return np.zeros(start.shape)
    lo = np.maximum(start[:, None], intervals[None, :, 0])
    hi = np.minimum(np.broadcast_to(np.asarray(end, dtype=float), start.shape)[:, None], intervals[None, :, 1])
    span: FloatArray = hi - lo
    return np.nan_to_num(np.where(span > 0.0, span, 0.0).sum(axis=1))


def _union(parts: list[FloatArray]) -> FloatArray:
    """Sorted, merged union of (M, 2) interval arrays."""
    iv = np.concatenate(parts) if parts else np.zeros((0, 2))
    if not len(iv):
        return np.zeros((0, 2))
    iv = iv[np.argsort(iv[:, 0], kind="stable")]
    out = [iv[0].copy()]
    for a, b in iv[1:]:
        if a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append(np.array([a, b]))
    return np.array(out)


class Heartbeats:
    """Last receive time, usual interval and recent silences of the link, each feed kind and each source."""

    def __init__(self, settings: OutageSettings | None = None) -> None:
        self.settings = settings or OutageSettings()
        self.last: dict[str, float] = {}
        self.usual: dict[str, float] = {}
        self.gaps: dict[str, int] = {}
        self.silences: dict[str, list[tuple[float, float]]] = {}  # closed ones, of the link and the feed kinds

    def observe(self, kind: str, source: str, recv_t: float) -> None:
        """One message of feed ``kind`` from ``source`` (its topic) received at ``recv_t``."""
        for key in (LINK, kind, source):
            self._beat(key, recv_t, keep=key != source)

    def _beat(self, key: str, t: float, keep: bool) -> None:
        s = self.settings
        last = self.last.get(key)
        self.last[key] = t if last is None else max(last, t)
        if last is None or t <= last:
            return
        gap = t - last
        if keep and self._silent(key, gap):
            spans = self.silences.setdefault(key, [])
            spans.append((last, t))
            while spans and spans[0][1] < t - s.keep_s:
                spans.pop(0)
        else:  # silences do not teach the usual interval
            n = self.gaps.get(key, 0)
            u = self.usual.get(key, gap)
            self.usual[key] = u + (gap - u) / (n + 1) if n < s.warmup else u + s.smoothing * (gap - u)
            self.gaps[key] = n + 1

    def _silent(self, key: str, gap: float) -> bool:
        s = self.settings
        usual = self.usual.get(key)
        return usual is not None and self.gaps.get(key, 0) >= s.warmup and gap > max(s.factor * usual, s.min_s)

    def spans(self, key: str, now: float) -> FloatArray:
        """(M, 2) silences of ``key``, with the one going on at ``now`` (if any) ending at ``now``."""
        spans = list(self.silences.get(key, ()))
        last = self.last.get(key)
        if last is not None and now > last and self._silent(key, now - last):
            spans.append((last, now))
        return np.array(spans, dtype=float).reshape(-1, 2)

    def outages(self, now: float) -> Outages:
        """The silences the rules take into account at ``now``."""
        link = self.spans(LINK, now)
        return Outages(ais=_union([link, self.spans("ais", now)]),
                       noncoop=_union([link, *(self.spans(k, now) for k in NONCOOP_KINDS)]))

    def silent_sources(self, now: float) -> list[str]:
        """Sources (topics) silent at ``now`` beyond their usual interval, sorted."""
        return sorted(k for k, last in self.last.items() if "/" in k and now > last and self._silent(k, now - last))

    def state(self) -> dict[str, Any]:
        """JSON-able state (for checkpoints)."""
        return {"last": self.last, "usual": self.usual, "gaps": self.gaps,
                "silences": {k: [list(p) for p in v] for k, v in self.silences.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        """Put back what ``state`` returned."""
        self.last, self.usual = dict(state["last"]), dict(state["usual"])
        self.gaps = {k: int(v) for k, v in state["gaps"].items()}
        self.silences = {k: [(float(a), float(b)) for a, b in v] for k, v in state["silences"].items()}
