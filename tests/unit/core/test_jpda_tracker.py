"""The tracker with ``association="jpda"`` and ``confirmation="score"`` (TrackerConfig)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fusion.core.arrays import COASTING, CONFIRMED
from fusion.core.tracker import Tracker, TrackerConfig
from fusion.trackscans import plain_config, scan_batch

SIGMA = 50.0


def _config(**kw: object) -> TrackerConfig:
    return dataclasses.replace(plain_config(), **kw)


def _targets(t: float) -> np.ndarray:
    """Two targets 300 m apart on parallel courses at 10 m/s, and one far away."""
    return np.array([[0.0, 10.0 * t], [300.0, 10.0 * t], [20_000.0, -8.0 * t]])


def _run(config: TrackerConfig, scans: int, clutter: int, seed: int = 0) -> Tracker:
    rng = np.random.default_rng(seed)
    trk = Tracker(config, "surface")
    for k in range(scans):
        t = 4.0 * k
        det = _targets(t) + rng.normal(0.0, SIGMA, (3, 2))
        noise = rng.uniform([-5_000.0, -5_000.0], [25_000.0, 5_000.0], (clutter, 2))
        trk.step(scan_batch(t, np.vstack([det, noise]), SIGMA))
    return trk


def _confirmed(trk: Tracker, t: float) -> np.ndarray:
    v = trk.view(t)
    return v.x[(v.status == CONFIRMED) | (v.status == COASTING)]


@pytest.mark.parametrize("association", ["gnn", "jpda"])
@pytest.mark.parametrize("confirmation", ["m_of_n", "score"])
def test_close_targets_in_clutter_are_tracked(association: str, confirmation: str) -> None:
    t_end = 4.0 * 19
    x = _confirmed(_run(_config(association=association, confirmation=confirmation), 20, 5), t_end)
    assert np.isfinite(x).all()
    truth = _targets(t_end)
    d = np.linalg.norm(x[:, None, :2] - truth[None], axis=2).min(axis=0)
    assert (d < 4 * SIGMA).all(), d  # every target has a confirmed track near it
    assert x.shape[0] <= 4  # and the sparse clutter (5 plots over 300 km^2) at most one


def test_score_confirms_fewer_clutter_tracks_than_two_of_three() -> None:
    """Dense uniform clutter only (400 plots in 10 km x 10 km per scan, no target): a clutter pair inside a
    tentative gate confirms under 2-of-3, while the score also asks the pair to be likely against
    the clutter density."""
    def confirmed_ever(config: TrackerConfig) -> int:
        rng = np.random.default_rng(7)
        trk, ids = Tracker(config, "surface"), set()
        for k in range(12):
            trk.step(scan_batch(4.0 * k, rng.uniform(0.0, 10_000.0, (400, 2)), SIGMA))
            v = trk.view(4.0 * k)
            ids |= set(v.track_id[(v.status == CONFIRMED) | (v.status == COASTING)].tolist())
        return len(ids)

    m_of_n, score = confirmed_ever(_config(confirmation="m_of_n")), confirmed_ever(_config(confirmation="score"))
    assert m_of_n > 20  # the case is hard for 2-of-3
    assert score < m_of_n / 4, (score, m_of_n)


def test_score_confirms_an_isolated_target_at_its_second_plot() -> None:
    """Sparse: one target and a few clutter plots over 100 km x 100 km: the clutter density is
    low, so the second plot's likelihood ratio alone passes Wald's threshold."""
    rng = np.random.default_rng(1)
    trk = Tracker(_config(confirmation="score"), "surface")
    for k in range(2):
        det = np.vstack([[[1_000.0 + 40.0 * k, 2_000.0]], rng.uniform(-50_000.0, 50_000.0, (5, 2))])
        trk.step(scan_batch(4.0 * k, det, 10.0))
    x = _confirmed(trk, 4.0)
    assert x.shape[0] == 1 and np.linalg.norm(x[0, :2] - [1_040.0, 2_000.0]) < 50.0


def test_jpda_shares_a_plot_between_two_tracks_in_one_gate() -> None:
    """Two confirmed tracks 150 m apart (sigma 50 m), one plot between them: GNN gives it to one
    track only; JPDA updates both, each pulled part of the way (north, from y = 0). Four far
    clutter plots per scan set the scan's area (20 km x 20 km), hence a low clutter density."""
    far = np.array([[-1e4, -1e4], [1e4, -1e4], [-1e4, 1e4], [1e4, 1e4]])

    def run(association: str) -> np.ndarray:
        trk = Tracker(_config(association=association), "surface")
        for k in range(4):
            trk.step(scan_batch(4.0 * k, np.vstack([[[0.0, 0.0], [150.0, 0.0]], far + 100.0 * k]), SIGMA))
        trk.step(scan_batch(16.0, np.vstack([[[75.0, 40.0]], far + 400.0]), SIGMA))
        x = trk.view(16.0).x
        return x[np.abs(x[:, 0] - 75.0) < 200.0, 1]

    gnn, jpda = run("gnn"), run("jpda")
    assert gnn.size == jpda.size == 2
    assert np.sort(np.abs(gnn) > 1.0).tolist() == [False, True]  # one track moved north
    assert (np.abs(jpda) > 1.0).all()  # both moved, less than a full update
    assert np.abs(jpda).max() < np.abs(gnn).max()


def test_snapshot_keeps_the_score_and_reads_snapshots_without_it() -> None:
    config = _config(association="jpda", confirmation="score")
    trk = _run(config, 6, 5)
    snap = trk.snapshot()
    back = Tracker.restore(config, "surface", snap)
    np.testing.assert_array_equal(back.snapshot()["track.llr"], snap["track.llr"])
    old = {k: v for k, v in snap.items() if k != "track.llr"}
    assert len(Tracker.restore(config, "surface", old)) == len(trk)


@pytest.mark.parametrize(("field", "value"), [("association", "mht"), ("confirmation", "3of4"),
                                              ("detection_prob", 1.0), ("score_false_confirm", 0.0)])
def test_bad_settings_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TrackerConfig(**{field: value})


def test_jpda_and_score_with_the_two_model_imm_pool() -> None:
    """The service's surface pool (two-model IMM): JPDA's per-model mixture and IMM-PDA model
    probabilities keep every state finite and the probabilities summing to 1."""
    config = TrackerConfig(look_margin_m=float("inf"), association="jpda", confirmation="score")
    trk = _run(config, 20, 5)
    x = _confirmed(trk, 4.0 * 19)
    d = np.linalg.norm(x[:, None, :2] - _targets(4.0 * 19)[None], axis=2).min(axis=0)
    assert (d < 4 * SIGMA).all(), d
    mu = trk.snapshot()["track.mu"]
    assert np.isfinite(trk.snapshot()["track.Pm"]).all() and np.allclose(mu.sum(axis=1), 1.0)
