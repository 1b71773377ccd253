"""History of the track picture: track points and alert events in SQLite or PostgreSQL (docs/HISTORY.md)."""

from fusion.history.recorder import HistoryRecorder, RecorderStats
from fusion.history.store import HistoryDataError, HistoryStore, open_store

__all__ = ["HistoryDataError", "HistoryRecorder", "HistoryStore", "RecorderStats", "open_store"]
