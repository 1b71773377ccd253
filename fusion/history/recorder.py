"""From the live contract to the history store: thin track updates, keep every alert, write in batches.

``HistoryRecorder.on_message(topic, payload)`` takes the raw MQTT messages of
``jisf/v1/tracks/#`` and ``jisf/v1/alerts/#``; ``add_track``/``delete_track``/``add_alert``
take rows already decoded (``jisf history --load`` feeds tracks.jsonl and alerts.jsonl
through them, so that a file and the live service give the same history).

Thinning, per track: a point is kept when it is the track's first, when its status
differs from the last kept point's, or when at least ``thin_s`` seconds have passed
since the last kept point; otherwise it is held as the track's pending tail, which is
kept when the track is deleted (empty retained payload) or at ``finish()``, so the
last known position always reaches the store. Points not newer than the track's newest
(redelivered retained messages) are dropped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec

from fusion.history.store import (
    HistoryDataError,
    HistoryStore,
    Record,
    alert_record,
    track_record,
)

log = logging.getLogger("jisf.history")

_T, _TRACK_ID, _STATUS = 0, 1, 3  # positions in a track record (store.TRACK_COLUMNS)
_TRACKS_PREFIX = "jisf/v1/tracks/"
_ALERTS_PREFIX = "jisf/v1/alerts/"
MAX_BUFFERED = 200_000  # records held while the store refuses writes; older ones are dropped (counted)

_decode = msgspec.json.Decoder().decode


@dataclass
class RecorderStats:
    """Counters of one recorder."""

    track_updates: int = 0  # track points received
    tracks_kept: int = 0  # points kept by thinning (queued for the store)
    duplicates: int = 0  # points not newer than the track's newest point
    deletions: int = 0  # empty retained payloads
    alerts: int = 0  # alert events received (all kept)
    written: int = 0  # rows the store reported new (tracks and alerts)
    bad: int = 0  # payloads refused
    bad_fields: Counter[str] = field(default_factory=Counter)  # refused payloads by offending field
    last_error: str = ""  # the latest refusal, naming the field and value
    write_errors: int = 0  # failed automatic flushes (rows kept for the next attempt)
    dropped: int = 0  # rows dropped because the store refused writes for too long

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-able dict."""
        return {**{k: v for k, v in vars(self).items() if k != "bad_fields"}, "bad_fields": dict(self.bad_fields)}


@dataclass
class _Track:
    kept_t: float  # time of the last kept point
    status: str  # its status
    pending: Record | None = None  # the newest point since, not kept (yet)


class HistoryRecorder:
    """Thins track updates and batches writes of tracks and alerts into a ``HistoryStore``.

    ``batch_rows``: queued records that trigger a write (also ``flush()``). Automatic
    writes never raise: a failure is logged and counted and the records wait for the next
    write (at most ``MAX_BUFFERED``); ``flush()`` raises the store's error.
    """

    def __init__(self, store: HistoryStore, thin_s: float = 30.0, *, batch_rows: int = 2000) -> None:
        if not thin_s >= 0:
            raise ValueError(f"thin_s must be >= 0, got {thin_s!r}")
        if batch_rows < 1:
            raise ValueError(f"batch_rows must be >= 1, got {batch_rows!r}")
        self.store = store
        self.thin_s = float(thin_s)
        self.batch_rows = batch_rows
        self.stats = RecorderStats()
        self._tracks: dict[int, _Track] = {}
        self._track_out: list[Record] = []
        self._alert_out: list[Record] = []

    # -- MQTT ----------------------------------------------------------------------------------
    def on_message(self, topic: str, payload: bytes) -> None:
        """One raw message from ``jisf/v1/tracks/#`` or ``jisf/v1/alerts/#``; bad ones are counted, never raised."""
        try:
            if topic.startswith(_TRACKS_PREFIX):
                if not payload:
                    self.delete_track(_topic_track_id(topic))
                else:
                    self.add_track(decode_object(payload, "track"))
            elif topic.startswith(_ALERTS_PREFIX):
                self.add_alert(decode_object(payload, "alert"))
            else:
                raise HistoryDataError(f"topic {topic!r} is neither {_TRACKS_PREFIX}# nor {_ALERTS_PREFIX}#", "topic")
        except HistoryDataError as err:
            self.count_bad(topic, err)
        self._auto_flush()

    # -- decoded rows --------------------------------------------------------------------------
    def add_track(self, row: Mapping[str, object]) -> None:
        """One track point (tracks.jsonl fields); thinned. HistoryDataError for a bad row."""
        rec = track_record(row)
        self.stats.track_updates += 1
        tid, t, status = rec[_TRACK_ID], rec[_T], rec[_STATUS]
        st = self._tracks.get(tid)
        if st is None:
            self._tracks[tid] = _Track(t, status)
        elif t <= (st.kept_t if st.pending is None else st.pending[_T]):
            self.stats.duplicates += 1
            return
        elif status != st.status or t - st.kept_t >= self.thin_s:
            st.kept_t, st.status, st.pending = t, status, None
        else:
            st.pending = rec
            return
        self._keep(rec)

    def delete_track(self, track_id: int) -> None:
        """The track was deleted: its pending tail is kept and its state forgotten."""
        self.stats.deletions += 1
        st = self._tracks.pop(track_id, None)
        if st is not None and st.pending is not None:
            self._keep(st.pending)

    def add_alert(self, event: Mapping[str, object]) -> None:
        """One alert event (alerts.jsonl fields); always kept. HistoryDataError for a bad event."""
        self._alert_out.append(alert_record(event))
        self.stats.alerts += 1

    def _keep(self, rec: Record) -> None:
        self._track_out.append(rec)
        self.stats.tracks_kept += 1

    def count_bad(self, where: str, err: HistoryDataError) -> None:
        """Count a refused payload (``where``: its topic, or file and line)."""
        self.stats.bad += 1
        self.stats.bad_fields[err.field] += 1
        self.stats.last_error = f"{where}: {err}"
        log.debug("refused %s", self.stats.last_error)

    # -- writing -------------------------------------------------------------------------------
    @property
    def queued(self) -> int:
        """Records waiting for the next write."""
        return len(self._track_out) + len(self._alert_out)

    def _auto_flush(self) -> None:
        if self.queued < self.batch_rows:
            return
        try:
            self.flush()
        except Exception as err:  # noqa: BLE001 - any store failure: keep the records, count, retry at the next write
            self.stats.write_errors += 1
            log.warning("history store write failed (%s); %d records wait", err, self.queued)
            for out in (self._track_out, self._alert_out):
                if len(out) > MAX_BUFFERED:
                    self.stats.dropped += len(out) - MAX_BUFFERED
                    del out[:len(out) - MAX_BUFFERED]

    def flush(self) -> int:
        """Write the queued records; returns how many rows were new. Raises the store's error (records kept)."""
        n = 0
        if self._track_out:
            n += self.store.write_track_records(self._track_out)
            self._track_out = []
        if self._alert_out:
            n += self.store.write_alert_records(self._alert_out)
            self._alert_out = []
        self.stats.written += n
        return n

    def finish(self) -> int:
        """Keep every track's pending tail (the last known positions) and flush; the recorder can go on after."""
        for st in self._tracks.values():
            if st.pending is not None:
                self._keep(st.pending)
                st.kept_t, st.pending = st.pending[_T], None
        return self.flush()


def decode_object(payload: bytes, what: str) -> Mapping[str, object]:
    """A JSON object payload; HistoryDataError (field "payload") for anything else."""
    try:
        obj = _decode(payload)
    except msgspec.DecodeError as err:
        raise HistoryDataError(f"{what} payload is not JSON: {err}", "payload") from err
    if not isinstance(obj, dict):
        raise HistoryDataError(f"{what} payload must be a JSON object, got {type(obj).__name__}", "payload")
    return obj


def _topic_track_id(topic: str) -> int:
    tail = topic[len(_TRACKS_PREFIX):].split("/")
    if len(tail) != 2 or not tail[1].isdigit():
        raise HistoryDataError(f"track topic must be {_TRACKS_PREFIX}{{domain}}/{{track_id}}, got {topic!r}", "topic")
    return int(tail[1])
