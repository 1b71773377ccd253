"""The gate with strongly elongated covariances: the radius of the candidate search must
cover the ellipse's major axis (the largest eigenvalue), the chi-square test then keeps
what lies inside the ellipse."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.core.arrays import CONFIRMED, NO_ICAO, NO_MMSI, MeasBatch
from fusion.core.gate import candidate_pairs, chi2_gate, gate_radius
from fusion.core.tracker import Tracker, TrackerConfig

SIGMA_MAJOR_M, SIGMA_MINOR_M, SIGMA_PLOT_M = 2000.0, 100.0, 10.0
AXIS_DEG = 30.0  # the major axis, anticlockwise from east: not aligned with the grid


def _axes() -> tuple[np.ndarray, np.ndarray]:
    a = np.radians(AXIS_DEG)
    return np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])


def _elongated() -> np.ndarray:
    major, minor = _axes()
    return SIGMA_MAJOR_M**2 * np.outer(major, major) + SIGMA_MINOR_M**2 * np.outer(minor, minor)


def test_gate_radius_is_the_major_axis() -> None:
    gate = chi2_gate(0.999, 2)
    P = _elongated()[None]
    radius = gate_radius(P, SIGMA_PLOT_M**2, gate)
    assert radius[0] == pytest.approx(np.sqrt(gate * (SIGMA_MAJOR_M**2 + SIGMA_PLOT_M**2)))
    major, minor = _axes()
    plots = np.stack([2.9 * SIGMA_MAJOR_M * major, 2.9 * SIGMA_MAJOR_M * minor, -3.8 * SIGMA_MAJOR_M * major])
    pairs = candidate_pairs(np.zeros((1, 2)), radius, plots)
    # the search is a disc: both 2.9-sigma-major points are candidates, the one beyond sqrt(gate) = 3.72 sigma is not
    assert pairs.tolist() == [[0, 0], [0, 1]]


def _tracker_with_elongated_track() -> tuple[Tracker, int, float]:
    """A confirmed, stationary surface track at the origin with the elongated position covariance."""
    trk = Tracker(TrackerConfig(), "surface")
    for k in range(3):
        trk.step(_plot(4.0 * k, np.zeros(2)))
    snap = trk.snapshot()
    assert snap["track.id"].size == 1 and snap["track.status"][0] == CONFIRMED
    snap["track.xm"][:] = 0.0
    Pm = np.zeros((4, 4))
    Pm[:2, :2] = _elongated()
    Pm[2:, 2:] = np.eye(2)
    snap["track.Pm"][:] = Pm
    return Tracker.restore(TrackerConfig(), "surface", snap), int(snap["track.id"][0]), float(snap["track.t"][0])


def _plot(t: float, xy: np.ndarray) -> MeasBatch:
    z = np.array([[xy[0], xy[1], np.nan, np.nan]])
    R = np.zeros((1, 4, 4))
    R[0, 0, 0] = R[0, 1, 1] = SIGMA_PLOT_M**2
    return MeasBatch(t=np.array([t]), z=z, R=R, has_vel=np.zeros(1, bool), alt_m=np.full(1, np.nan),
                     sigma_alt_m=np.full(1, np.nan), mmsi=np.full(1, NO_MMSI, np.int64), icao24=np.full(1, NO_ICAO, np.int64),
                     sensor_kind="radar", sensor_id="s", domain="surface")


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_plot_at_2_9_sigma_along_the_major_axis_is_gated_in(sign: float) -> None:
    trk, tid, t = _tracker_with_elongated_track()
    major, _ = _axes()
    res = trk.step(_plot(t, sign * 2.9 * SIGMA_MAJOR_M * major))  # d2 = 8.4 < chi2(0.999, 2) = 13.8
    assert res.assigned == 1 and res.born_ids.size == 0
    assert trk.view(t).track_id.tolist() == [tid]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_same_distance_along_the_minor_axis_is_gated_out(sign: float) -> None:
    trk, tid, t = _tracker_with_elongated_track()
    _, minor = _axes()
    res = trk.step(_plot(t, sign * 2.9 * SIGMA_MAJOR_M * minor))  # 58 minor sigmas
    assert res.assigned == 0 and res.born_ids.size == 1
    assert sorted(trk.view(t).track_id.tolist()) == sorted([tid, int(res.born_ids[0])])


@pytest.mark.parametrize("dims", [1, 2, 3, 4, 5, 6])
def test_chi2_gate_matches_scipy(dims: int) -> None:
    from scipy.stats import chi2

    for prob in (0.01, 0.5, 1.0 - np.exp(-4.5), 0.9, 0.95, 0.99, 0.999, 0.9999):
        assert chi2_gate(prob, dims) == pytest.approx(float(chi2.ppf(prob, dims)), rel=1e-13, abs=0.0)


def test_chi2_gate_rejects_bad_arguments() -> None:
    for prob in (0.0, 1.0, float("nan")):
        with pytest.raises(ValueError, match="gate probability"):
            chi2_gate(prob, 2)
    with pytest.raises(ValueError, match="gate dimensions"):
        chi2_gate(0.99, 0)
