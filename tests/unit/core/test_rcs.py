"""The tracker's radar cross-section estimate: plots' RCS looks -> the track's RCS column -> view and publication."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fusion.core.frame import LocalFrame
from fusion.core.tracker import Tracker, TrackerConfig
from fusion.core.update import RCS_LOOKS_MAX
from fusion.publish import encode, track_rows
from fusion.trackscans import scan_batch


def _scans(trk: Tracker, looks_dbsm: np.ndarray, t0: float = 0.0) -> None:
    """One scan every 4 s of two targets 20 km apart: the first with an RCS look per scan, the second without."""
    for k, look in enumerate(looks_dbsm.tolist()):
        t = t0 + 4.0 * k
        b = scan_batch(t, np.array([[5.0 * t, 0.0], [5.0 * t, 20_000.0]]), 30.0)
        trk.step(replace(b, rcs_dbsm=np.array([look, np.nan])))


def test_track_rcs_is_the_linear_mean_of_its_radar_looks_then_an_exponential_average() -> None:
    rng = np.random.default_rng(3)
    looks = 10.0 * np.log10(1000.0 * rng.exponential(1.0, 60))  # Swerling I looks of a 30 dBsm target
    trk = Tracker(TrackerConfig(), "surface")
    _scans(trk, looks[:10])
    v = trk.view(36.0)
    by_y = np.argsort(v.x[:, 1])
    assert v.rcs_dbsm is not None and v.rcs_looks is not None
    # every plot is one look (the birth plot too), averaged in m^2, not in dB
    assert v.rcs_looks[by_y].tolist() == [10, 0]
    np.testing.assert_allclose(v.rcs_dbsm[by_y[0]], 10.0 * np.log10(np.mean(10.0 ** (looks[:10] / 10.0))), rtol=0, atol=1e-9)
    assert np.isnan(v.rcs_dbsm[by_y[1]])
    _scans(trk, looks[10:], t0=40.0)
    v = trk.view(4.0 * 59)
    first = int(np.argmin(v.x[:, 1]))
    assert v.rcs_looks[first] == 60  # counted beyond the memory
    mean = 0.0
    for k, look in enumerate(10.0 ** (looks / 10.0), start=1):  # plain mean, then weight 1 / RCS_LOOKS_MAX
        mean += (look - mean) / min(k, RCS_LOOKS_MAX)
    np.testing.assert_allclose(v.rcs_dbsm[first], 10.0 * np.log10(mean), rtol=0, atol=1e-9)
    assert abs(v.rcs_dbsm[first] - 30.0) < 3.0  # +-0.7 dB one sigma in steady state


def test_published_track_carries_rcs_only_when_known_and_snapshot_keeps_it() -> None:
    trk = Tracker(TrackerConfig(), "surface")
    _scans(trk, np.full(6, 20.0))
    v = trk.view(20.0)
    frame = LocalFrame(8.0, 18.0, -85.0, -75.0)
    rows = {r.track_id: encode(r) for r in track_rows(v, frame)}
    with_rcs = [p for p in rows.values() if b'"rcs_dbsm":20.0' in p]
    assert len(with_rcs) == 1 and sum(b"rcs_dbsm" in p for p in rows.values()) == 1
    restored = Tracker.restore(TrackerConfig(), "surface", trk.snapshot())
    np.testing.assert_array_equal(restored.view(20.0).rcs_dbsm, v.rcs_dbsm)
    old = {k: val for k, val in trk.snapshot().items() if k != "track.rcs"}  # a checkpoint from before the column
    assert (Tracker.restore(TrackerConfig(), "surface", old).view(20.0).rcs_looks == 0).all()
