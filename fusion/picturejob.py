"""Picture slicing: the periodic picture of all confirmed tracks, built a slice at a time."""

from __future__ import annotations

import numpy as np

from fusion.core.arrays import TENTATIVE, TrackView
from fusion.core.frame import LocalFrame
from fusion.identity import IdentityLookup
from fusion.pipeline import Tick
from fusion.publish import PICTURE_TOPIC, OutMessage, TrackRow, encode, picture, track_rows


class PictureJob:
    """The picture of one tick, built a slice of tracks per fuse step (``advance``) rather than
    all at once: converting 11,000 tracks to rows takes 40-80 ms, which in one step held up
    the data and alert ticks behind it (docs/bench-live.md); a slice of ``slice_tracks``
    takes a few ms. The picture keeps its tick's time and tracks (the views are snapshots)
    and goes out when its last slice is built, a few steps after the tick."""

    def __init__(self, frame: LocalFrame, slice_tracks: int = 1_000) -> None:
        self.frame, self.slice_tracks = frame, slice_tracks
        self._t: float | None = None
        self._parts: list[TrackView] = []
        self._rows: list[TrackRow] = []
        self._identity: IdentityLookup | None = None

    def start(self, tick: Tick) -> None:
        """Begin the picture of ``tick`` (its non-tentative tracks)."""
        self._t, self._rows, self._parts, self._identity = tick.t, [], [], tick.identity
        for v in tick.views.values():
            shown = np.flatnonzero(v.status != TENTATIVE)
            if len(shown):
                self._parts += [v.take(rows) for rows in np.array_split(shown, -(-len(shown) // self.slice_tracks))]

    def advance(self) -> list[OutMessage]:
        """Build one more slice; the picture message when it was the last one."""
        if self._t is None:
            return []
        if self._parts:
            self._rows += track_rows(self._parts.pop(0), self.frame, self._identity)
        return self.finish() if not self._parts else []

    def finish(self) -> list[OutMessage]:
        """Build what is left; the picture message (none when no picture is in the making)."""
        if self._t is None:
            return []
        for part in self._parts:
            self._rows += track_rows(part, self.frame, self._identity)
        msg = OutMessage(PICTURE_TOPIC, encode(picture(self._rows, self._t)), qos=0)
        self._t, self._parts, self._rows = None, [], []
        return [msg]
