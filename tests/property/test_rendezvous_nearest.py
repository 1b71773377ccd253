"""rendezvous' mate search by k-nearest queries (``_nearest_within``) gives the pairs' answer (``_nearest_other`` of
``_close_pairs``, the pairs' reference kept here) on any points: random, on a grid (ties, distances exactly at the radius) and coincident."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.core.arrays import FloatArray, IntArray
from fusion.rules.catalog.rendezvous import _close_pairs, _nearest_within, _tree


def _nearest_other(n: int, i: IntArray, j: IntArray, d: FloatArray) -> IntArray:
    """(n,) index of each point's nearest other point among the pairs (i, j) (K,) at distance d (K,) m (the lower
    index on a tie), -1 where it is in no pair."""
    src, dst, dd = np.concatenate([i, j]), np.concatenate([j, i]), np.concatenate([d, d])
    order = np.lexsort((dst, dd, src))
    src, dst = src[order], dst[order]
    first = np.ones(len(src), bool)
    first[1:] = src[1:] != src[:-1]
    out = np.full(n, -1, np.int64)
    out[src[first]] = dst[first]
    return out


_COORD = st.one_of(st.integers(-6, 6).map(lambda k: 500.0 * k),  # a 500 m grid: ties and pairs at the 1,000 m radius
                   st.floats(-3_000.0, 3_000.0, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_COORD, _COORD), min_size=1, max_size=80), st.sampled_from([500.0, 1_000.0, 1_250.0]))
def test_the_nearest_other_point_within_the_radius_is_the_pairs_answer(points: list[tuple[float, float]], radius_m: float) -> None:
    xy = np.array(points, dtype=float)
    tree = _tree(xy)
    np.testing.assert_array_equal(_nearest_within(tree, radius_m), _nearest_other(len(xy), *_close_pairs(tree, radius_m)))


def test_a_dense_crowd_of_clutter_tracks() -> None:
    """A rogue radar's tracks, dense near its site (uniform in range and azimuth): the same mates."""
    rng = np.random.default_rng(7)
    r, az = rng.uniform(500.0, 20_000.0, 4_000), rng.uniform(0.0, 2 * np.pi, 4_000)
    tree = _tree(np.column_stack([r * np.sin(az), r * np.cos(az)]))
    np.testing.assert_array_equal(_nearest_within(tree, 1_000.0), _nearest_other(4_000, *_close_pairs(tree, 1_000.0)))


def test_ties_beyond_the_three_nearest_take_the_lower_index() -> None:
    """A track with six neighbours at the same distance (a hexagon), five coincident tracks, and a pair exactly at
    the radius: more equal candidates than the k-nearest query returns, and distances the pairs' test includes."""
    hexagon = [(0.0, 0.0)] + [(400.0 * np.cos(a), 400.0 * np.sin(a)) for a in np.arange(6) * np.pi / 3]
    stack = [(5_000.0, 5_000.0)] * 5
    edge = [(-9_000.0, 0.0), (-8_000.0, 0.0)]
    xy = np.array(edge + hexagon[::-1] + stack, dtype=float)
    tree = _tree(xy)
    expected = _nearest_other(len(xy), *_close_pairs(tree, 1_000.0))
    assert expected[0] == 1 and expected[-1] == len(xy) - 5  # the pair at the radius; the stack's lowest index
    np.testing.assert_array_equal(_nearest_within(tree, 1_000.0), expected)
