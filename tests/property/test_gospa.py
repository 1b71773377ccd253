"""GOSPA, its assignment and the candidate pairs against dense scipy/numpy references on random sets."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linear_sum_assignment

from fusion.evaluation.gospa import gospa_parts
from fusion.evaluation.matching import assign_pairs, candidate_pairs, distinct_times

coords = st.floats(min_value=0.0, max_value=60.0, allow_nan=False)


def point_sets(max_n: int = 7) -> st.SearchStrategy[np.ndarray]:
    return st.integers(0, max_n).flatmap(lambda n: arrays(np.float64, (n, 2), elements=coords))


def gospa_dense(x: np.ndarray, y: np.ndarray, c: float, p: float) -> float:
    """GOSPA^p (alpha = 2) by one dense assignment over objects, tracks and 'unassigned' slots.

    Rows: n objects then m dummy rows; columns: m tracks then n dummy columns. An object's
    own dummy column costs c^p/2 (missed), a track's own dummy row c^p/2 (false),
    dummy-dummy 0, a real pair min(d, c)^p (at d >= c pairing costs the same as missing both).
    """
    n, m = len(x), len(y)
    big = 1e18
    cost = np.zeros((n + m, m + n))
    d = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=-1) if n and m else np.zeros((n, m))
    cost[:n, :m] = np.minimum(d, c) ** p
    cost[:n, m:] = np.where(np.eye(n, dtype=bool), c**p / 2, big)
    cost[n:, :m] = np.where(np.eye(m, dtype=bool), c**p / 2, big)
    r, k = linear_sum_assignment(cost)
    return float(cost[r, k].sum())


@settings(max_examples=150, deadline=None)
@given(x=point_sets(), y=point_sets(), c=st.floats(1.0, 40.0), p=st.sampled_from([1.0, 2.0, 3.0]))
def test_gospa_matches_dense_assignment(x: np.ndarray, y: np.ndarray, c: float, p: float) -> None:
    got = gospa_parts(x, y, c=c, p=p)
    expected = gospa_dense(x, y, c, p)
    assert np.isclose(got["gospa_m"] ** p, expected, rtol=1e-9, atol=1e-9)
    assert np.isclose(got["localisation"] + got["missed"] + got["false"], got["gospa_m"] ** p, rtol=1e-9, atol=1e-9)
    assert got["n_missed"] - got["n_false"] == len(x) - len(y)
    # symmetric: swapping the roles of objects and tracks swaps missed and false
    back = gospa_parts(y, x, c=c, p=p)
    assert np.isclose(back["gospa_m"], got["gospa_m"]) and back["n_missed"] == got["n_false"]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(1, 8), m=st.integers(1, 8), p=st.sampled_from([1.0, 2.0]))
def test_gospa_assignment_matches_dense(data: st.DataObject, n: int, m: int, p: float) -> None:
    mask = data.draw(arrays(np.bool_, (n, m)))
    dist = data.draw(arrays(np.float64, (n, m), elements=st.floats(0.0, 9.9)))
    c = 10.0
    i, j = np.nonzero(mask)
    chosen = assign_pairs(i, j, dist[i, j], np.full(i.size, c), p)
    # at most one pair per row and per column
    assert len(set(i[chosen])) == chosen.sum() and len(set(j[chosen])) == chosen.sum()
    dense = np.where(mask, dist**p - c**p, 0.0)  # pairing gains c^p - d^p over leaving both unpaired
    r, k = linear_sum_assignment(dense)
    assert np.isclose((dist[i[chosen], j[chosen]] ** p - c**p).sum(), dense[r, k].sum())
    # node ids need not be compact: offsetting the columns changes nothing
    assert np.array_equal(assign_pairs(i * 7 + 3, j + 1000, dist[i, j], np.full(i.size, c), p), chosen)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(0, 30), m=st.integers(0, 30), radius=st.floats(1.0, 30.0))
def test_candidate_pairs_are_exactly_the_pairs_within_radius(data: st.DataObject, n: int, m: int, radius: float) -> None:
    a = data.draw(arrays(np.float64, (n, 2), elements=coords))
    b = data.draw(arrays(np.float64, (m, 2), elements=coords))
    a_slice = data.draw(arrays(np.int64, (n,), elements=st.integers(0, 2)))
    b_slice = data.draw(arrays(np.int64, (m,), elements=st.integers(0, 2)))
    i, j = candidate_pairs(a, a_slice, b, b_slice, radius)
    got = set(zip(i.tolist(), j.tolist(), strict=True))
    assert len(got) == i.size  # no duplicates
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1) if n and m else np.zeros((n, m))
    same = a_slice[:, None] == b_slice[None, :]
    expected = set(zip(*(x.tolist() for x in np.nonzero(same & (d <= radius))), strict=True))
    # pairs at the radius within rounding may go either way
    boundary = set(zip(*(x.tolist() for x in np.nonzero(np.isclose(d, radius))), strict=True))
    assert got - boundary == expected - boundary


@settings(max_examples=60, deadline=None)
@given(t=arrays(np.float64, st.integers(0, 20), elements=st.sampled_from([0.0, 1.5, 3.0, 10.0])), presort=st.booleans())
def test_distinct_times_agrees_with_unique(t: np.ndarray, presort: bool) -> None:
    t = np.sort(t) if presort else t
    values, index = distinct_times(t)
    ref_values, ref_index = np.unique(t, return_inverse=True)
    assert np.array_equal(values, ref_values) and np.array_equal(index, ref_index)


@settings(max_examples=60, deadline=None)
@given(perm_truth=st.permutations(range(3)), perm_tracks=st.permutations(range(3)), d=st.floats(0.0, 9.0))
def test_exact_ties_pair_truths_and_tracks_in_key_order(perm_truth: list[int], perm_tracks: list[int], d: float) -> None:
    # three objects moored at one point, three tracks at one point: every full pairing costs the same; the
    # tie-break pairs them in key order whatever the order of the candidate pairs
    i, j = (x.ravel() for x in np.meshgrid(np.array(perm_truth), np.array(perm_tracks), indexing="ij"))
    keys_i, keys_j = 10 + i * 5, 300 - j * 7  # truth key ascending with i, track key descending with j
    chosen = assign_pairs(i, j, np.full(i.size, d), np.full(i.size, 10.0), 2.0, keys_i, keys_j)
    assert sorted(zip(keys_i[chosen].tolist(), keys_j[chosen].tolist(), strict=True)) == [(10, 286), (15, 293), (20, 300)]
