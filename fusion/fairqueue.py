"""The inbound buffer: one FIFO queue per feed source, served fairly (deficit round robin).

Budgets (``fusion.intake``) bound what each source may *send*; this bounds what each
source's admitted backlog may cost the *others*. With one FIFO queue for all sources, a
source whose admitted traffic is more than the fusion worker's spare capacity put every
other source's messages behind its backlog (docs/BENCHMARKS.md, "Rogue source and
shutdown"). Here each source ("kind/source" as in ``fusion.intake``; the feed kind for
unbudgeted topics) has its own queue, and a fuse step takes from them by deficit round
robin (Shreedhar and Varghese, "Efficient fair queueing using deficit round robin",
IEEE/ACM Trans. Networking 4(3), 1996) in measurements: each backlogged source's deficit
grows by ``quantum`` measurements a step and pays for the messages taken (their cost is
the intake's estimate, plots or lines, plus ``MESSAGE_COST`` a message: what a message costs
the worker besides its measurements). A source that sends more than its share therefore
waits behind itself: the others' messages are taken at the next step whatever its backlog.

Deferral: fusion must not release data past the receive time of a queued message (minus
the re-order window), or that message would arrive out of sequence and make the tracker
re-run its lag (``horizon``). A source that is beyond its share (the last step offered it
a quantum and it still has messages queued), whose oldest queued message has waited longer
than ``defer_after_s``, while another source keeps up (sent within ``ACTIVE_S`` and is
not deferred), is *deferred*: the horizon leaves it out, so the others' data is fused on
time. (A source within its share is never deferred, however long a step made it wait.)
Its messages queued when fusion released past it (received before that release) could
only arrive out of sequence, where each batch would make the tracker re-run its lag; they
are shed when their turn comes, before decode, and counted for that source
(``stale_by_source``), never silently lost. When every
active source lags (the whole machine is behind), none is deferred: the horizon holds
for all, as with one queue.

When the buffer is full (``max_messages``) the oldest message of the source with the
most queued messages is shed (longest-queue drop), so a full buffer, too, costs the
source that filled it.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from fusion.predecode import Predecoded

MESSAGE_COST = 4  # measurements one message costs the worker besides its own (decode, ingest, release, a tracker
# round): a one-line SBS-1 message took ~5x the CPU of one radar plot (115 vs 22 us, bench fusion of 5,000 lines vs
# 20 scans of 1,000 clutter plots, 2026-12-07), so a flood of one-line messages is charged what it costs, not 1 each
ACTIVE_S = 10.0  # a source heard from within this long (service clock, s) counts as active: longer than the
# scan period of any surveillance radar (<= 10 s for long-range air search) and AIS reporting at speed (<= 10 s, ITU-R M.1371)


class Queued(NamedTuple):
    """One admitted inbound message waiting for fusion."""

    topic: str
    payload: bytes
    recv_t: float | None  # receive time, service clock (s); None before the clock is known
    key: str  # its queue: "kind/source" of a budgeted feed source, else the feed kind
    cost: int  # measurements it is estimated to carry (fusion.intake.estimate), >= 1
    sheddable: bool  # a budgeted feed message: may be shed as stale when its source is deferred
    pre: Predecoded | None = None  # a radar scan's decode begun in the MQTT link process (fusion.predecode)


class FairQueue:
    """Per-source queues of ``Queued`` messages; ``take`` by deficit round robin, ``horizon`` with deferral."""

    def __init__(self, quantum: int = 10_000, defer_after_s: float = 2.0) -> None:
        """``quantum``: measurements added to each backlogged source's deficit per step;
        ``defer_after_s``: wait (service clock, s) beyond which a lagging source may be deferred."""
        if quantum < 1:
            raise ValueError(f"quantum must be >= 1 measurement, got {quantum}")
        if not defer_after_s >= 0.0:
            raise ValueError(f"defer_after_s must be >= 0, got {defer_after_s}")
        self.quantum, self.defer_after_s = quantum, defer_after_s
        self._queues: dict[str, deque[Queued]] = {}  # backlogged sources only, in round-robin order
        self._deficit: Counter[str] = Counter()
        self._last_arrival: dict[str, float] = {}  # per source key (bounded: intake caps budgeted keys at MAX_SOURCES)
        self._len = 0
        self._bytes: Counter[str] = Counter()  # payload bytes queued per backlogged source
        self.deferred: frozenset[str] = frozenset()  # sources left out of the last horizon
        self._beyond_share: set[str] = set()  # sources the last take offered a quantum that still have messages queued
        self.stale_by_source: Counter[str] = Counter()  # messages shed because fusion had released past them

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Queued]:
        for q in self._queues.values():
            yield from q

    def depth(self, key: str) -> int:
        """Messages queued for one source."""
        q = self._queues.get(key)
        return len(q) if q is not None else 0

    def push(self, msg: Queued) -> None:
        """Queue a message at the end of its source's queue."""
        q = self._queues.get(msg.key)
        if q is None:
            q = self._queues[msg.key] = deque()
        q.append(msg)
        self._len += 1
        self._bytes[msg.key] += len(msg.payload)
        if msg.recv_t is not None:
            self._last_arrival[msg.key] = msg.recv_t

    def push_front(self, msgs: list[Queued]) -> None:
        """Put messages taken but not fused back at the front of their queues (in their order)."""
        for msg in reversed(msgs):
            q = self._queues.get(msg.key)
            if q is None:
                q = self._queues[msg.key] = deque()
            q.appendleft(msg)
            self._len += 1
            self._bytes[msg.key] += len(msg.payload)

    def shed_longest(self) -> Queued:
        """Remove and return the oldest message of the source with the most queued messages."""
        key = max(self._queues, key=lambda k: len(self._queues[k]))
        return self._pop(key)

    def clear(self) -> list[Queued]:
        """Remove and return everything queued."""
        out = list(self)
        self._queues.clear()
        self._deficit.clear()
        self._bytes.clear()
        self._len = 0
        return out

    def horizon(self, now: float) -> float | None:
        """Receive time of the oldest message queued by a source that is not deferred (None when
        none); sets ``deferred``. ``now``: the service clock (s)."""
        oldest = {k: q[0].recv_t for k, q in self._queues.items() if q[0].recv_t is not None}
        lagging = {k for k, t in oldest.items() if k in self._beyond_share and t is not None and t < now - self.defer_after_s}
        keeping_up = lagging and any(k not in lagging and t >= now - ACTIVE_S for k, t in self._last_arrival.items())
        self.deferred = frozenset(lagging) if keeping_up else frozenset()
        times = [t for k, t in oldest.items() if t is not None and k not in self.deferred]
        return min(times) if times else None

    def take(self, max_messages: int, max_bytes: int, released_t: float | None = None) -> tuple[list[Queued], list[Queued]]:
        """One deficit-round-robin round: (messages to fuse, stale messages shed).

        Each backlogged source in turn gains ``quantum`` and gives the messages at its head
        whose cost its deficit covers, while the step holds fewer than ``max_messages`` and
        ``max_bytes`` of payload and the source has given less than its share of them
        (``max_min_shares``: a source with less queued than an equal share gives it all, the
        rest is shared among the others; so a source of many small messages, which its deficit
        in measurements would let fill the step, gives only what the others leave; at least one
        message is taken when any is queued: rounds repeat until a head is covered). With
        ``released_t`` (the receive time up to which fusion has released data), sheddable
        messages received before it are removed as stale first, counted in ``stale_by_source``.
        A source whose queue empties loses its deficit."""
        took: list[Queued] = []
        stale: list[Queued] = []
        size = 0
        self._beyond_share = set()
        keys = list(self._queues)
        share_n = dict(zip(keys, max_min_shares([len(self._queues[k]) for k in keys], max_messages), strict=True))
        share_bytes = dict(zip(keys, max_min_shares([self._bytes[k] for k in keys], max_bytes), strict=True))
        while self._queues and not took:
            for key in list(self._queues):
                q = self._queues[key]
                while released_t is not None and q and q[0].sheddable and q[0].recv_t is not None and q[0].recv_t < released_t:
                    stale.append(self._pop(key))
                    self.stale_by_source[key] += 1
                if key not in self._queues:
                    continue
                deficit, n, full, given = self._deficit[key] + self.quantum, len(took), False, 0
                while q and q[0].cost + MESSAGE_COST <= deficit:
                    if len(took) >= max_messages or (took and size + len(q[0].payload) > max_bytes):
                        full = True
                        break
                    if len(took) - n >= max(1, share_n[key]) or (len(took) > n and given + len(q[0].payload) > share_bytes[key]):
                        break  # its share of the step: the rest at the next one
                    deficit -= q[0].cost + MESSAGE_COST
                    size += len(q[0].payload)
                    given += len(q[0].payload)
                    took.append(self._pop(key))
                if key in self._queues and (len(took) > n or not full):  # served (or not covered): to the end of the order,
                    self._deficit[key] = min(deficit, max(self.quantum, q[0].cost + MESSAGE_COST))  # banking at most what its head costs
                    self._queues[key] = self._queues.pop(key)
                    self._beyond_share.add(key)
                if full:  # the step is full: the next one resumes the round here
                    break
        return took, stale

    def _pop(self, key: str) -> Queued:
        q = self._queues[key]
        msg = q.popleft()
        self._len -= 1
        self._bytes[key] -= len(msg.payload)
        if not q:
            del self._queues[key]
            self._deficit.pop(key, None)
            del self._bytes[key]
        return msg


def max_min_shares(demands: list[int], capacity: int) -> list[int]:
    """Max-min fair split of ``capacity`` among ``demands`` (water filling): in increasing order of
    demand, each gets the lesser of its demand and an equal part of what is left. (n,) -> (n,)."""
    out = [0] * len(demands)
    left, n = capacity, len(demands)
    for done, i in enumerate(sorted(range(n), key=demands.__getitem__)):
        out[i] = min(demands[i], left // (n - done))
        left -= out[i]
    return out
