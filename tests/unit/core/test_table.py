"""TrackTable: derived columns in step with the state, lazy deletion and compaction, state round trip."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fusion.core.arrays import TENTATIVE
from fusion.core.predict import predict_combined
from fusion.core.table import DERIVED, TrackTable, kinematics

TableFactory = Callable[..., TrackTable]


def _random_tracks(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, [5000.0, 5000.0, 10.0, 10.0], size=(n, 4))
    A = rng.normal(size=(n, 4, 4)) * np.array([50.0, 50.0, 2.0, 2.0])[:, None]
    return x, A @ A.swapaxes(1, 2) + np.eye(4)


def _derived_match_state(tab: TrackTable) -> None:
    a = tab.cols
    cx, trc, tr0 = kinematics(a["xm"], a["Pm"], a["mu"], tab.mod.q)
    np.testing.assert_array_equal(a["cx"], cx)
    np.testing.assert_array_equal(a["trc"], trc)
    np.testing.assert_array_equal(a["tr0"], tr0)


def test_append_computes_the_derived_columns_and_refresh_keeps_them(make_table: TableFactory) -> None:
    x, P = _random_tracks(50, 1)
    tab = make_table(x, P, mu=np.tile([0.3, 0.7], (50, 1)))
    _derived_match_state(tab)
    # the combined state is the probability-weighted mean of the models
    np.testing.assert_allclose(tab["cx"], x, rtol=1e-12)
    # trc is the trace of the moment-matched position covariance predicted by dt: compare at dt = 7 s
    dt = np.full(50, 7.0)
    _, Pc = predict_combined(tab, np.arange(50), dt)
    c = tab["trc"]
    np.testing.assert_allclose(c[:, 0] + 7 * c[:, 1] + 49 * c[:, 2] + 343 * c[:, 3], np.trace(Pc[:, :2, :2], axis1=1, axis2=2),
                               rtol=1e-9)
    rows = np.array([3, 10, 40])
    tab["xm"][rows] += 100.0
    tab["Pm"][rows] *= 2.0
    tab.refresh(rows)
    _derived_match_state(tab)


def test_kill_hides_rows_and_compaction_keeps_the_order(make_table: TableFactory) -> None:
    x, P = _random_tracks(8, 2)
    tab = make_table(x, P)
    tab.kill(np.array([1]))
    assert len(tab) == 7 and tab.rows == 8  # one dead row of 8: not compacted yet
    assert np.isnan(tab["cx"][1]).all() and tab["due"][1] == np.inf
    assert tab.live()["id"].tolist() == [1, 3, 4, 5, 6, 7, 8]
    tab.kill(np.array([4, 6]))  # 3 dead of 8 > a quarter: compacted
    assert tab.rows == len(tab) == 5
    assert tab["id"].tolist() == [1, 3, 4, 6, 8]
    _derived_match_state(tab)


def test_state_round_trip_recomputes_the_same_derived_columns(make_table: TableFactory) -> None:
    x, P = _random_tracks(20, 3)
    tab = make_table(x, P, status=np.where(np.arange(20) % 3 == 0, TENTATIVE, 1))
    tab.kill(np.array([5]))
    state = tab.state()
    assert not set(state) & set(DERIVED) and state["id"].size == 19
    other = make_table(x[:1], P[:1])
    other.load(state)
    live = tab.live()
    for k, v in state.items():
        np.testing.assert_array_equal(other[k], v)
    keep = tab["status"] >= 0
    for k in ("cx", "trc", "tr0", "due"):
        np.testing.assert_array_equal(other[k], tab[k][keep])
    assert live["id"].tolist() == other["id"].tolist()


def test_load_names_the_bad_column(make_table: TableFactory) -> None:
    x, P = _random_tracks(3, 4)
    tab = make_table(x, P)
    state = tab.state()
    state["Pm"] = state["Pm"][:, :, :2, :2]
    with pytest.raises(ValueError, match=r"track\.Pm"):
        tab.load(state)


def test_capacity_grows_without_changing_rows(make_table: TableFactory) -> None:
    x, P = _random_tracks(70, 5)
    tab = make_table(x[:1], P[:1])
    for k in range(1, 70):
        new = {name: col[:1].copy() for name, col in tab.state().items()}
        new["id"][:] = k + 1
        new["xm"][:] = x[k]
        tab.append(new)
    assert tab["id"].tolist() == list(range(1, 71))
    np.testing.assert_allclose(tab["cx"], x, rtol=1e-12)
    _derived_match_state(tab)


def _row_major_kinematics(xm: np.ndarray, Pm: np.ndarray, mu: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cx and trc of ``kinematics`` as computed before its component-major form (2026-12-07)."""
    cx = np.einsum("nj,njd->nd", mu, xm)
    d = xm - cx[:, None, :]
    per_model = np.stack([
        Pm[..., 0, 0] + Pm[..., 1, 1] + d[..., 0] ** 2 + d[..., 1] ** 2,
        2.0 * (Pm[..., 0, 2] + Pm[..., 1, 3] + d[..., 0] * d[..., 2] + d[..., 1] * d[..., 3]),
        Pm[..., 2, 2] + Pm[..., 3, 3] + d[..., 2] ** 2 + d[..., 3] ** 2,
        np.broadcast_to(2.0 * q / 3.0, mu.shape),
    ], axis=2)
    return cx, np.einsum("nj,njc->nc", mu, per_model)


@pytest.mark.parametrize("n", [0, 1, 500])
@pytest.mark.parametrize("r", [2, 3])
def test_kinematics_is_the_row_major_form_bit_for_bit(n: int, r: int) -> None:
    rng = np.random.default_rng(n + r)
    xm = rng.standard_normal((n, r, 4)) * 1e3
    A = rng.standard_normal((n, r, 4, 4))
    Pm = A @ A.swapaxes(-1, -2) * 100.0
    mu = rng.dirichlet(np.ones(r), size=n)
    q = np.array([0.02, 2.0, 0.5])[:r]
    cx, trc, tr0 = kinematics(xm, Pm, mu, q)
    cx_ref, trc_ref = _row_major_kinematics(xm, Pm, mu, q)
    np.testing.assert_array_equal(cx, cx_ref)
    np.testing.assert_array_equal(trc, trc_ref)
    np.testing.assert_array_equal(tr0, np.stack([Pm[:, 0, 0, 0] + Pm[:, 0, 1, 1], Pm[:, 0, 0, 2] + Pm[:, 0, 1, 3],
                                                 Pm[:, 0, 2, 2] + Pm[:, 0, 3, 3]], axis=1))
