"""Property: whatever the manoeuvres, duplicate receivers and time gaps (0 included), every
track state and covariance stays finite, and every covariance symmetric positive
semi-definite (issue 15 item 2)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.core import kalman
from fusion.core.arrays import NO_MMSI, MeasBatch
from fusion.core.tracker import Tracker, TrackerConfig

ICAO = 0xABC123
# a leg: (interval between reports s, reports, speed m/s, course deg, receivers hearing each report)
legs = st.lists(
    st.tuples(st.sampled_from([0.0, 1e-3, 0.5, 1.0, 4.0, 30.0]), st.integers(1, 12), st.floats(0.0, 330.0),
              st.floats(0.0, 359.0), st.integers(1, 3)),
    min_size=1, max_size=6,
)


def _batch(t: float, pos: np.ndarray, vel: np.ndarray, copies: int, sigma_m: float) -> MeasBatch:
    """``copies`` identical ADS-B reports (two receivers forwarding the same one)."""
    z = np.tile(np.concatenate([pos, vel]), (copies, 1))
    R = np.tile(np.diag([sigma_m**2, sigma_m**2, 1.5**2, 1.5**2]), (copies, 1, 1))
    return MeasBatch(t=np.full(copies, t), z=z, R=R, has_vel=np.ones(copies, bool), alt_m=np.full(copies, 3000.0),
                     sigma_alt_m=np.full(copies, 15.0), mmsi=np.full(copies, NO_MMSI, np.int64),
                     icao24=np.full(copies, ICAO, np.int64), sensor_kind="adsb", sensor_id="rx", domain="air")


def _assert_sane(trk: Tracker, t: float) -> None:
    snap = trk.snapshot()
    for key in ("track.xm", "track.Pm", "track.mu", "track.t"):
        assert np.isfinite(snap[key]).all(), key
    assert (snap["track.mu"] >= kalman.MU_FLOOR).all()
    np.testing.assert_allclose(snap["track.mu"].sum(axis=1), 1.0)
    view = trk.view(t)
    for P in (snap["track.Pm"], view.P):
        assert np.isfinite(P).all()
        np.testing.assert_allclose(P, P.swapaxes(-1, -2), rtol=1e-12, atol=1e-9)
        if P.size:
            scale = np.abs(P).max(axis=(-1, -2))
            assert (np.linalg.eigvalsh(P) >= -1e-9 * scale[..., None]).all()


@settings(max_examples=60, deadline=None)
@given(legs, st.sampled_from([1.2, 3.8, 37.8, 226.0]), st.integers(0, 2**31 - 1))
def test_states_and_covariances_stay_finite_and_psd(plan: list[tuple[float, int, float, float, int]], sigma_m: float,
                                                     seed: int) -> None:
    rng = np.random.default_rng(seed)
    trk = Tracker(TrackerConfig(), "air")
    t, pos = 1_780_000_000.0, np.zeros(2)
    for gap, n, speed, course, copies in plan:
        vel = speed * np.array([np.sin(np.radians(course)), np.cos(np.radians(course))])  # instant change, as at a waypoint
        for _ in range(n):
            t += gap
            pos = pos + gap * vel
            res = trk.step(_batch(t, pos + rng.normal(0.0, sigma_m, 2), vel, copies, sigma_m))
            assert res.nonfinite_dropped == 0
            _assert_sane(trk, t)
    assert len(trk) >= 1
