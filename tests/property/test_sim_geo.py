"""``sim_feeds.geo.distance_in_band_m``: a receiver's range test on it is the geodesic's, everywhere
on the globe (the great-circle pre-test may only skip points it places on the right side)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sim_feeds.geo import distance_in_band_m, distance_m

SETTINGS = settings(max_examples=200, deadline=None)
LATS = arrays(np.float64, 64, elements=st.floats(-90.0, 90.0))
LONS = arrays(np.float64, 64, elements=st.floats(-180.0, 180.0))


@SETTINGS
@given(st.floats(-90.0, 90.0), st.floats(-180.0, 180.0), LATS, LONS, st.floats(0.0, 2.0e7), st.floats(0.0, 5.0e5))
def test_range_tests_outside_the_band_are_the_geodesics(lat: float, lon: float, lat2: np.ndarray, lon2: np.ndarray,
                                                        lo_m: float, width_m: float) -> None:
    hi_m = lo_m + width_m
    exact = distance_m(lat, lon, lat2, lon2)
    banded = distance_in_band_m(lat, lon, lat2, lon2, lo_m, hi_m)
    assert np.array_equal(banded < lo_m, exact < lo_m)
    assert np.array_equal(banded <= hi_m, exact <= hi_m)
    inside = (exact >= lo_m) & (exact <= hi_m)
    assert np.array_equal(banded[inside], exact[inside])


def test_points_in_the_band_get_the_geodesic_and_far_ones_the_great_circle() -> None:
    lat2, lon2 = np.array([10.0, 10.0, 10.0]), np.array([-75.0, -75.6, -80.0])  # 0, ~66 km, ~547 km east of the receiver
    exact = distance_m(10.0, -75.0, lat2, lon2)
    banded = distance_in_band_m(10.0, -75.0, lat2, lon2, 60_000.0, 74_000.0)
    assert banded[1] == exact[1]
    assert banded[0] < 60_000.0 and banded[2] > 74_000.0 and banded[2] != exact[2]
