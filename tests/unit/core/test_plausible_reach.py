"""A coasting track's association is bounded by how far its target can have moved (issue 15, item 5)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fusion.core.config import SURFACE_DEFAULT
from fusion.core.tracker import Tracker, TrackerConfig
from tests.unit.core.test_tracker import _batch

KNOT = 1852.0 / 3600.0
# tracks live through a 20 min coast (the default deletes them at 15 min: the growth shown is the same)
LONG_COAST = TrackerConfig(surface=replace(SURFACE_DEFAULT, max_coast_s=1800.0, max_pos_sigma_m=50_000.0))


def _coasting_track(config: TrackerConfig, coast_s: float) -> tuple[Tracker, int, np.ndarray, float]:
    """A 4 kn vessel tracked by radar for 36 s, then unseen for ``coast_s``: (tracker, its id,
    its predicted position at the end (2,) m, that time)."""
    trk = Tracker(config, "surface")
    for k in range(10):
        trk.step(_batch(4.0 * k, [[2.0 * 4.0 * k, 0.0]]))
    tid = int(trk.view(36.0).track_id[0])
    t = 36.0 + coast_s
    return trk, tid, trk.view(t).x[0, :2].copy(), t


def _captured(trk: Tracker, tid: int, t: float, plot: np.ndarray) -> bool:
    trk.step(_batch(t, [plot.tolist()]))
    v = trk.view(t)
    return bool(np.allclose(v.x[v.track_id == tid][0, :2], plot, atol=500.0))


def test_a_coasting_track_does_not_capture_a_plot_beyond_its_reach() -> None:
    # 20 min unseen: the chi-square gate (IMM manoeuvre model) has grown past 40 km; another
    # ship's plot 40 km away would mean 65 kn, beyond the 50 kn reach: not a candidate, a new track
    for reach, expected in ((1e9, True), (SURFACE_DEFAULT.reach_speed_mps, False)):  # 1e9: the bound switched off
        config = replace(LONG_COAST, surface=replace(LONG_COAST.surface, reach_speed_mps=reach))
        trk, tid, pred, t = _coasting_track(config, 1200.0)
        assert _captured(trk, tid, t, pred + [0.0, 40_000.0]) is expected
    assert len(trk.view(t)) == 2


@pytest.mark.parametrize("coast_s", [60.0, 300.0, 1200.0])
def test_a_plausibly_nearby_plot_still_associates(coast_s: float) -> None:
    trk, tid, pred, t = _coasting_track(LONG_COAST, coast_s)
    assert _captured(trk, tid, t, pred + [0.0, min(2000.0, 10.0 * coast_s)])
    assert len(trk.view(t)) == 1


def test_a_fast_track_keeps_its_own_speed_as_reach() -> None:
    # a 60 kn go-fast (faster than the 50 kn reach) unseen for 5 min is picked up where it went
    v = 60.0 * KNOT
    trk = Tracker(TrackerConfig(), "surface")
    for k in range(10):
        trk.step(_batch(4.0 * k, [[v * 4.0 * k, 0.0]]))
    tid = int(trk.view(36.0).track_id[0])
    t = 336.0
    assert _captured(trk, tid, t, np.array([v * t, 300.0]))
