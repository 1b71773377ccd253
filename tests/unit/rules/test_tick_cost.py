"""The rules' per-tick shortcuts give what the plain computation gives (issue 18: rules at thousands of tracks)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fusion.core.arrays import IntArray
from fusion.rules.lifecycle import AlertBook, LifecycleSettings, empty_columns, subject_keys
from fusion.rules.scene import Scene
from fusion.rules.synthetic import empty, engine, view

T0 = 1_700_013_600.0


def test_position_cov_predicts_each_track_once_a_tick() -> None:
    """Rows asked again (a track in many pairs) are not predicted again, and every answer is the pool's own."""
    rng = np.random.default_rng(3)
    n = 40
    P = rng.normal(size=(n, 4, 4))
    P = P @ P.transpose(0, 2, 1)
    asked: list[IntArray] = []

    def covariance(rows: IntArray | None) -> np.ndarray:
        assert rows is not None
        asked.append(np.asarray(rows).copy())
        return P[rows]

    v = view("surface", T0, list(15.0 + rng.uniform(-0.1, 0.1, n)), -75.0, [(1.0, 0.0)] * n)
    eng = engine()
    s = Scene.build(T0, {"surface": replace(v, covariance=covariance), "air": empty("air", T0)}, eng.frame, ["confirmed"],
                    eng.geometry, eng.shore, 3600.0)
    first, again = rng.integers(0, n, 60), rng.integers(0, n, 60)
    for rows in (first, again, np.zeros(0, np.int64)):
        got = s.position_cov(rows)
        np.testing.assert_array_equal(got, P[s._pool_row[rows]][:, :2, :2])
    predicted = np.concatenate(asked)
    assert len(predicted) == len(np.unique(predicted)) == len(np.unique(np.concatenate([first, again])))


def test_compact_sorts_added_rows_and_keeps_a_sorted_book_as_it_is() -> None:
    """Rows added out of key order come back sorted; a tick keeping every row of a sorted book
    leaves its columns as they are."""
    book = AlertBook("r", 0.0, LifecycleSettings(0.0, 0.1))
    c = empty_columns(4)
    c["track_id"] = np.array([7, 3, 3, 5])
    c["aux"] = np.array([0, 2, 1, 0])
    c["key"] = subject_keys(c["track_id"], c["aux"])
    c["seq"] = np.arange(4)
    book.cols = c
    book.compact(np.array([True, True, False, True]))
    np.testing.assert_array_equal(book.cols["seq"], [1, 3, 0])
    np.testing.assert_array_equal(book.cols["key"], np.sort(book.cols["key"]))
    before = {k: v.copy() for k, v in book.cols.items()}
    book.compact(np.ones(3, bool))
    for k, v in before.items():
        np.testing.assert_array_equal(book.cols[k], v)
