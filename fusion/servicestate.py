"""Checkpoints of the live service: restore at start (checkpoint, then the alert journal of
what followed it), and write one periodically and at shutdown (``fusion.checkpoint`` holds
the format, ``fusion.continuity`` the journal)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from fusion.checkpoint import load_checkpoint, save_checkpoint
from fusion.continuity import AlertJournal, journal_path, new_epoch
from fusion.pipeline import Fusion
from fusion.publish import TrackUpdates, domain_of_track
from fusion.status import ServiceStats

log = logging.getLogger("jisf.service")


def published_tracks(updates: TrackUpdates) -> set[tuple[str, int]]:
    """(domain, global track id) of every track whose retained topic holds a state."""
    return {(domain_of_track(t), t) for t in updates.ids.tolist()}


class Checkpoints:
    """The checkpoint file (None: none) and alert journal of one service."""

    def __init__(self, path: Path | None, fusion: Fusion, updates: TrackUpdates, stats: ServiceStats) -> None:
        self.path, self.fusion, self.updates, self.stats = path, fusion, updates, stats
        self.journal: AlertJournal | None = None

    def restore(self) -> None:
        """The checkpoint, then the alert journal of what followed it (``fusion.continuity``); the instance
        epoch of alert ids comes from them, or is new. With a path, the reconciled state is written at once."""
        started = time.perf_counter()
        path = self.path
        after, written = None, None
        if path is not None and path.exists():
            state = load_checkpoint(path, self.fusion)
            self.updates.restore(int(t) for _, t in state.get("published_tracks", []))
            self.stats.restored_from = str(path)
            after = self.fusion.progress_state()["next_tick"]
            written = state.get("written_wall")
        if path is not None:
            self.journal = AlertJournal(journal_path(path))
            replayed = self.journal.replay(self.fusion, after)
            self.stats.journal_adopted, self.stats.journal_cleared = replayed.adopted, replayed.cleared
            if replayed.adopted or replayed.cleared or replayed.torn:
                log.info("journal %s: %d alert events taken over, %d alerts closed, %d already in the checkpoint%s",
                         self.journal.path, replayed.adopted, replayed.cleared, replayed.skipped,
                         " (torn last line ignored)" if replayed.torn else "")
        if not self.fusion.rules.epoch:
            self.fusion.rules.epoch = new_epoch()
        self.stats.restore_s = time.perf_counter() - started
        if path is not None:  # what was reconciled is made durable at once (a crash before the first periodic
            self.save()  # checkpoint would otherwise lose it with the journal), and the journal starts afresh
        if self.stats.restored_from is not None:
            log.info("restored %s (written %s) in %.3f s", path, written, self.stats.restore_s,
                     extra={"restore_s": round(self.stats.restore_s, 3)})

    def save(self) -> None:
        """Write the checkpoint (with the published track ids) and start the journal afresh; nothing without a path."""
        if self.path is None:
            return
        started = time.perf_counter()
        save_checkpoint(self.path, self.fusion, {"published_tracks": sorted(published_tracks(self.updates))})
        if self.journal is not None:  # the checkpoint covers what the journal held
            self.journal.start(self.fusion)
        self.stats.checkpoints += 1
        self.stats.last_checkpoint_wall = time.time()
        log.info("checkpoint %s in %.1f ms", self.path, (time.perf_counter() - started) * 1e3)
