"""Continuity of the live service through crashes and restarts: the alert journal and the retained-topic sweep.

The checkpoint (``fusion.checkpoint``) holds the whole state every ``checkpoint_interval_s``;
what happens between two checkpoints is lost by a ``kill -9`` unless written down as it
happens. Alerts are few, and they are what a watch floor acts on, so every alert event is
appended to a *journal* beside the checkpoint (``{checkpoint}.journal``, JSON Lines, flushed
and fsynced before the event is handed to the broker), together with the book row behind it
(``RuleEngine.book_row``) and, ahead of use, the track ids reserved per pool. After a crash
the service restores the checkpoint, then replays the journal's events of the ticks the
checkpoint does not cover: an alert raised after the checkpoint is open again under its id
(``RuleEngine.adopt``; updated and cleared like any other, never raised again under a new id),
an alert cleared after it is closed (``RuleEngine.forget``), and no track id or alert
sequence number handed out before the crash is handed out again. The journal is started
afresh after every checkpoint, so it holds at most one checkpoint interval of events.

Every journal line is one JSON object of one of three kinds:

- ``{"epoch": "kq3x8a1", "version": 1}``: the first line, the instance epoch in alert ids;
- ``{"ids": {"surface": N, "air": M}}``: no pool-local track id below N / M may be handed out again;
- ``{"alert": {...AlertEvent...}, "row": {...book row...}}``: one alert event (row null when cleared).

A torn last line (a crash while writing it) is ignored: its event had not been handed out.

The sweep: a service owns the retained track topics of the broker. At start it reads the
retained ``jisf/v1/tracks/#`` messages (until a message it published itself after
subscribing comes back: the broker sends retained messages at subscribe time, before
anything published later), clears those of tracks it does not hold, and never hands out the
ids it saw (a previous instance's ids are not reused).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import msgspec

from fusion.checkpoint import CheckpointError
from fusion.core.arrays import Domain
from fusion.mqtt import BrokerAddress, BrokerError, session
from fusion.pipeline import DOMAINS, Fusion
from fusion.publish import AIR_ID_BASE, TOPIC_ROOT, TRACKS_FILTER, domain_of_track
from fusion.rules.engine import AlertEvent

log = logging.getLogger("jisf.continuity")

JOURNAL_VERSION = 1
ID_BLOCK = 1000  # track ids reserved per journal line: at most one fsync per ID_BLOCK new tracks per pool


def new_epoch(wall_s: float | None = None) -> str:
    """An instance epoch for alert ids: the start time in milliseconds, base 36 (8 characters until 2059)."""
    ms = int((time.time() if wall_s is None else wall_s) * 1000)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while ms:
        ms, r = divmod(ms, 36)
        out = digits[r] + out
    return out or "0"


def journal_path(checkpoint: Path) -> Path:
    """The journal beside ``checkpoint``."""
    return checkpoint.with_name(checkpoint.name + ".journal")


@dataclass
class Replayed:
    """What replaying a journal did."""

    epoch: str | None = None
    adopted: int = 0  # alert events taken over (raised / updated after the checkpoint)
    cleared: int = 0  # alerts closed after the checkpoint
    skipped: int = 0  # events of ticks the checkpoint already covers
    torn: bool = False  # the last line was incomplete


class AlertJournal:
    """Append-only journal of alert events and track id reservations (module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f: TextIO | None = None
        self.reserved: dict[str, int] = dict.fromkeys(DOMAINS, 0)  # pool-local: ids below are reserved
        self.appended = 0  # lines since the last restart of the journal

    def replay(self, fusion: Fusion, after_t: float | None) -> Replayed:
        """Apply the journal to ``fusion`` (restored from the checkpoint whose next output tick is
        ``after_t``; None when there was no checkpoint): reservations always, alert events of ticks at or
        after ``after_t`` in order. CheckpointError naming the journal and the line when a line before the
        last is not JSON (the last one may be torn by a crash)."""
        out = Replayed()
        if not self.path.exists():
            return out
        lines = self.path.read_text().split("\n")
        for n, line in enumerate(lines):
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                if n >= len(lines) - 2:  # the last line (with or without its newline): torn by the crash
                    out.torn = True
                    break
                raise CheckpointError(f"journal {self.path}: line {n + 1} is not JSON: {line[:80]!r}") from None
            try:
                self._apply(rec, fusion, after_t, out)
            except (msgspec.ValidationError, KeyError, TypeError, ValueError, AttributeError) as err:
                raise CheckpointError(f"journal {self.path}: line {n + 1}: {err!r}") from None
        return out

    def _apply(self, rec: dict[str, Any], fusion: Fusion, after_t: float | None, out: Replayed) -> None:
        """One journal record (``replay``)."""
        if "epoch" in rec:
            out.epoch = str(rec["epoch"])
            if not fusion.rules.epoch:  # no checkpoint (a crash before the first one): the journal's instance
                fusion.rules.epoch = out.epoch
        if "ids" in rec:
            for d, below in rec["ids"].items():
                fusion.trackers[d].reserve_ids(int(below))
                self.reserved[d] = max(self.reserved[d], int(below))
        if "alert" in rec:
            ev = msgspec.convert(rec["alert"], AlertEvent)
            if after_t is not None and ev.t < after_t - 1e-6:
                out.skipped += 1
            elif ev.state == "cleared":
                fusion.rules.forget(ev.alert_id, ev.rule)
                out.cleared += 1
            elif rec.get("row") is not None:
                fusion.rules.adopt(ev, rec["row"])
                out.adopted += 1

    def start(self, fusion: Fusion) -> None:
        """Begin the journal afresh (at start-up and after every checkpoint): the epoch and the reservations."""
        self.close()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps({"epoch": fusion.rules.epoch, "version": JOURNAL_VERSION}) + "\n")
            f.write(json.dumps({"ids": self._reserve(fusion, force=True)}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        self._f = open(self.path, "a")  # noqa: SIM115 - kept open between ticks, closed by close()
        self.appended = 0

    def record(self, fusion: Fusion, alerts: list[AlertEvent]) -> None:
        """Journal a tick's alert events and any new track id reservation; fsynced before returning (call it
        before the events or the tracks of the tick are handed to the broker)."""
        if self._f is None:
            raise RuntimeError(f"journal {self.path}: record() before start()")
        lines = []
        ids = self._reserve(fusion, force=False)
        if ids:
            lines.append(json.dumps({"ids": ids}))
        for a in alerts:
            row = None if a.state == "cleared" else fusion.rules.book_row(a.rule, a.alert_id)
            lines.append(json.dumps({"alert": msgspec.to_builtins(a), "row": row}))
        if not lines:
            return
        self._f.write("\n".join(lines) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())
        self.appended += len(lines)

    def _reserve(self, fusion: Fusion, force: bool) -> dict[str, int]:
        """New reservations (pool -> ids below reserved) where a pool's next id reached its reservation."""
        out: dict[str, int] = {}
        for d, trk in fusion.trackers.items():
            if force or trk.next_id >= self.reserved[d]:
                self.reserved[d] = trk.next_id + ID_BLOCK
                out[d] = self.reserved[d]
        return out

    def close(self) -> None:
        """Close the file (the journal stays on disk)."""
        if self._f is not None:
            self._f.close()
            self._f = None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_topic(client_id: str) -> str:
    """The private topic of the sweep's own sentinel message."""
    return f"{TOPIC_ROOT}/sweep/{client_id}/{uuid.uuid4().hex}"


async def sweep_retained_tracks(addr: BrokerAddress, client_id: str, keep: set[str], timeout_s: float = 10.0) -> set[str] | None:
    """Clear every retained ``jisf/v1/tracks/...`` topic not in ``keep``; returns the retained track topics
    found (None when the broker did not answer within ``timeout_s``: nothing swept).

    The end of the broker's retained burst is a sentinel this connection publishes to a private
    topic once its subscriptions are acknowledged: the broker queues retained messages when it
    takes the subscription, so they all come before the sentinel on the one connection."""
    sentinel = sweep_topic(client_id)
    found: set[str] = set()

    async def run() -> None:
        async with session(addr, client_id=f"{client_id}-sweep") as client:
            await client.subscribe(TRACKS_FILTER, qos=1)
            await client.subscribe(sentinel, qos=1)
            await client.publish(sentinel, b"", qos=1)
            async for m in client.messages:
                topic = str(m.topic)
                if topic == sentinel:
                    break
                if m.retain and m.payload:
                    found.add(topic)
            stale = sorted(found - keep)
            await asyncio.gather(*(client.publish(t, b"", qos=1, retain=True) for t in stale))
            if stale:
                log.info("cleared %d retained track topics of a previous instance", len(stale), extra={"cleared": len(stale)})

    try:
        await asyncio.wait_for(run(), timeout_s)
    except (BrokerError, TimeoutError) as err:
        log.warning("retained track topics not swept (%s): stale tracks of a previous instance may remain", err or "timeout")
        return None
    return found


def seen_track_ids(topics: set[str]) -> dict[Domain, int]:
    """Pool -> one past the highest pool-local track id among retained track topics (0 for none)."""
    out = dict.fromkeys(DOMAINS, 0)
    for t in topics:
        tail = t.rsplit("/", 1)[-1]
        if not tail.isdigit():
            continue
        tid = int(tail)
        d = domain_of_track(tid)
        out[d] = max(out[d], tid - (AIR_ID_BASE if d == "air" else 0) + 1)
    return out
