"""Per-source intake budgets: a flooding source is shed at that source, before it is decoded.

(What a source is admitted then waits in its own queue, served fairly: ``fusion.fairqueue``.)

Every feed source (``jisf/v1/feeds/{kind}/{source}``: one radar site, one AIS receiver or
aggregator, one ADS-B receiver, one OTH site) has two token buckets on the service clock:
one in messages per second and one in measurements (plots, reports, fixes) per second,
each ``burst_s`` seconds of its rate deep. A message carrying more measurements than one
message of its kind physically can (``Rate.per_message``: a radar scan's plots) is shed
at once, whatever its buckets hold, and counted for that source (``oversize_by_source``,
and in ``shed_by_source``): within the rate budget, such a scan would still be fused in
one tracker step, and every other source's data would wait behind it. A message is admitted when both buckets hold
its cost, or when a bucket is full (a message costing more than the whole bucket, e.g.
one huge scan, passes once and leaves the bucket in debt, so it costs its plots and the
source waits for the debt to refill); otherwise it is shed and counted for that source.

The measurement cost is first a cheap estimate from the raw bytes (``estimate``: the
count of one key per plot or line, a C-speed ``bytes.count``), charged at intake on the
event loop; after the fusion worker has decoded the message, ``settle`` charges the exact
count of accepted reports instead (the difference refunded or added as debt), so a
payload that under-states its size pays after decode, and the long-run rate of every
source stays within its budget. Other sources' buckets are untouched: a good source
keeps its latency while a rogue one floods.

Default rates are the physical rates of one sensor (``SourceBudgets``); an aggregator
that merges many receivers into one topic needs higher figures (docs/OPERATIONS.md,
"Per-source budgets"). Operator actions (``jisf/v1/ops/...``) and unknown topics have no
budget (the first are authenticated, the second rejected at once by the topic check).

Hand-written rather than a rate-limit library: the buckets run on the service clock
(warped under ``jisf play``/``--clock sim``), take a fractional cost known only after
decode, and allow debt; the common libraries (e.g. ``limits``, ``aiolimiter``) are
wall-clock and integer-cost.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass

MAX_SOURCES = 10_000  # buckets kept; sources beyond share one bucket (a flood of invented topic names)
OTHER_SOURCES = "(other sources)"
REPORTED_SOURCES = 20  # sources named on the status topic and the metrics endpoint (the most shed)
_FEED_PREFIX = "jisf/v1/feeds/"
BUDGETED_KINDS = ("radar", "ais", "adsb", "oth")  # the feed kinds (fusion.ingest.FEED_KINDS), each with a budget
RADAR_PLOTS_PER_SCAN = 10_000.0  # most plots one scan of a site may carry (physics of the plot extractor): a
# coastal search radar out to 60 km with 30 m range cells and a ~1 deg beam has ~2,000 x 360 = 720,000 resolution
# cells a scan; its CFAR detector is set for a false-alarm probability of 1e-6..1e-4 a cell (tens of false plots a
# scan), and 10,000 plots is over 1 % of all cells declared a detection, i.e. a detector no longer thresholding. One
# second of the site's default plot budget (<= 1 scan/s a beam), and ~400 kB of JSON (sensors/limits.py).


@dataclass(frozen=True)
class Rate:
    """One sensor kind's budget: messages and measurements per second (service clock), and the
    most measurements one message may carry (``per_message``; more: shed whole, at intake)."""

    messages_per_s: float
    measurements_per_s: float
    per_message: float = math.inf


@dataclass(frozen=True)
class SourceBudgets:
    """Budgets per sensor kind and the bucket depth; defaults from each kind's physical rate."""

    radar: Rate = Rate(2.0, 10_000.0, RADAR_PLOTS_PER_SCAN)
    # A rotating surveillance radar reports once per antenna turn: 20-60 rpm for coastal and
    # naval search radars (1-3 s a scan), so <= 1 scan/s a site, 2 allowing for a dual-beam or
    # sector-scan site. Plots per scan are bounded by the plot extractor; 10,000 plots/s is a
    # heavy-clutter site (a 10,000-plot scan is ~400 kB of JSON, sensors/limits.py).
    ais: Rate = Rate(75.0, 75.0)
    # One AIS receiver hears at most the SOTDMA frame: 2,250 slots/min on each of the two
    # channels (ITU-R M.1371), 4,500 slots/min = 75 sentences/s.
    adsb: Rate = Rate(2_500.0, 2_500.0)
    # One ADS-B receiver hears at most ~500 aircraft (radio horizon ~400 km at cruise
    # altitude over a busy area); DO-260B squitters: airborne position 2 Hz and velocity
    # 2 Hz (+ identification 0.2 Hz), ~4.2 SBS-1 lines/s an aircraft: ~2,100 lines/s.
    oth: Rate = Rate(5.0, 10.0)
    # An over-the-horizon (skywave) radar revisits its dwell regions every tens of seconds:
    # a few fixes per second a site.
    burst_s: float = 10.0  # bucket depth, seconds of the rate: a broker backlog or a reconnection burst passes

    def rate(self, kind: str) -> Rate | None:
        """The budget of a feed kind (None: unbudgeted)."""
        return getattr(self, kind) if kind in BUDGETED_KINDS else None


def source_of(topic: str) -> tuple[str, str] | None:
    """``jisf/v1/feeds/{kind}/{source}`` -> (kind, "kind/source"); None for any other topic."""
    if not topic.startswith(_FEED_PREFIX):
        return None
    parts = topic[len(_FEED_PREFIX):].split("/")
    if len(parts) != 2 or not parts[1]:
        return None
    return parts[0], f"{parts[0]}/{parts[1]}"


def estimate(kind: str, payload: bytes) -> int:
    """Measurements a payload carries, from its bytes alone (no parsing): radar plots (one
    ``[range, az, el, snr]`` array each: the ``[`` beyond the plots list's own), aircraft.json
    entries (``"hex"`` keys), AIS/SBS-1 lines, OTH 1. At least 1."""
    if kind == "radar":
        n = payload.count(b"[") - 1
    elif kind == "adsb" and payload.lstrip()[:1] == b"{":
        n = payload.count(b'"hex"')
    elif kind in ("ais", "adsb"):
        n = payload.count(b"\n") + (0 if payload.endswith(b"\n") else 1)
    else:
        n = 1
    return max(1, n)


@dataclass(frozen=True, slots=True)
class Charge:
    """What ``Intake.charge`` decided about one message."""

    key: str  # "kind/source" (OTHER_SOURCES beyond MAX_SOURCES) of a budgeted source, else the feed kind or "other"
    cost: int  # measurements charged (the estimate, at most max_cost; 1 when unbudgeted)
    admitted: bool
    budgeted: bool


class _Bucket:
    """Two token buckets (messages, measurements) of one source; may go into debt."""

    __slots__ = ("cap_meas", "cap_msg", "meas", "msg", "rate", "t")

    def __init__(self, rate: Rate, burst_s: float, now: float) -> None:
        self.rate = rate
        self.cap_msg, self.cap_meas = max(1.0, rate.messages_per_s * burst_s), max(1.0, rate.measurements_per_s * burst_s)
        self.msg, self.meas, self.t = self.cap_msg, self.cap_meas, now

    def refill(self, now: float) -> None:
        dt = now - self.t
        self.t = now
        if dt <= 0.0:  # a clock that jumps back (a restarted simulation) refills nothing, and goes on from there
            return
        self.msg = min(self.cap_msg, self.msg + dt * self.rate.messages_per_s)
        self.meas = min(self.cap_meas, self.meas + dt * self.rate.measurements_per_s)

    def take(self, cost: int) -> bool:
        if (self.msg >= 1.0 or self.msg >= self.cap_msg) and (self.meas >= cost or self.meas >= self.cap_meas):
            self.msg -= 1.0
            self.meas -= cost
            return True
        return False


class Intake:
    """The per-source budgets of one service; ``charge`` on the event loop, ``settle`` in the
    fusion worker (a lock guards the buckets between the two)."""

    def __init__(self, budgets: SourceBudgets | None = None, max_cost: int = 50_000) -> None:
        """``max_cost``: the most measurements one message is charged before decode, the
        decoders' per-payload limit (a payload estimated beyond it is rejected whole, cheaply,
        before parsing, and refunded by ``settle``)."""
        self.budgets = budgets or SourceBudgets()
        self.max_cost = max_cost
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self.shed_by_source: Counter[str] = Counter()  # messages shed, by "kind/source" (or OTHER_SOURCES)
        self.shed_measurements: Counter[str] = Counter()  # their estimated measurements
        self.oversize_by_source: Counter[str] = Counter()  # of those, messages beyond their kind's ``Rate.per_message``

    def charge(self, topic: str, payload: bytes, now: float) -> Charge:
        """Charge a message received at ``now`` (service clock, s) to its source's buckets.

        Admitted messages are to be ``settle``d after decode; a message over its source's
        budget, or carrying more than ``Rate.per_message`` measurements (estimated: counted in
        ``oversize_by_source`` too, its buckets untouched), is counted in ``shed_by_source``
        (under its key, or OTHER_SOURCES). Unbudgeted
        topics are always admitted, keyed by their feed kind (or "other")."""
        src = source_of(topic)
        rate = self.budgets.rate(src[0]) if src else None
        if src is None or rate is None:
            return Charge(src[0] if src else "other", 1, True, False)
        key = src[1]
        n = estimate(src[0], payload)
        cost = min(self.max_cost, n)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_SOURCES:
                    key = OTHER_SOURCES
                    bucket = self._buckets.get(key)
                if bucket is None:
                    bucket = self._buckets[key] = _Bucket(rate, self.budgets.burst_s, now)
            if n > rate.per_message:
                self.oversize_by_source[key] += 1
            else:
                bucket.refill(now)
                if bucket.take(cost):
                    return Charge(key, cost, True, True)
        return self._shed(key, cost)

    def _shed(self, key: str, cost: int) -> Charge:
        self.shed_by_source[key] += 1
        self.shed_measurements[key] += cost
        return Charge(key, cost, False, True)

    def settle(self, topic: str, payload: bytes, exact: int) -> None:
        """After decode (fusion worker): charge the ``exact`` number of measurements accepted
        instead of the estimate charged at intake (refund, or debt the source pays by waiting)."""
        src = source_of(topic)
        if src is None or self.budgets.rate(src[0]) is None:
            return
        diff = exact - min(self.max_cost, estimate(src[0], payload))
        if diff == 0:
            return
        with self._lock:
            bucket = self._buckets.get(src[1])  # a source sharing OTHER_SOURCES is charged its estimate only
            if bucket is not None:
                bucket.meas = min(bucket.cap_meas, bucket.meas - diff)

    def reported(self) -> dict[str, int]:
        """Messages shed by source: the ``REPORTED_SOURCES`` most shed, the rest summed under OTHER_SOURCES."""
        return most_shed(self.shed_by_source)


def most_shed(by_source: Counter[str]) -> dict[str, int]:
    """The ``REPORTED_SOURCES`` largest counts of ``by_source``, the rest summed under OTHER_SOURCES."""
    out = dict(by_source.most_common(REPORTED_SOURCES))
    rest = sum(by_source.values()) - sum(out.values())
    if rest:
        out[OTHER_SOURCES] = out.get(OTHER_SOURCES, 0) + rest
    return out
