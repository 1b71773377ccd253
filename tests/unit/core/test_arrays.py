"""Column-wise helpers of fusion.core.arrays against numpy's axis reductions."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.core.arrays import column_bounds, rows_finite
from fusion.core.kalman import imm_posterior


@pytest.mark.parametrize("m", [1, 2, 1000])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_column_helpers_match_axis_reductions(m: int, k: int) -> None:
    rng = np.random.default_rng(m + k)
    p = rng.standard_normal((m, k)) * 1e4
    lo, hi = column_bounds(p)
    np.testing.assert_array_equal(lo, p.min(axis=0))
    np.testing.assert_array_equal(hi, p.max(axis=0))
    p[rng.random((m, k)) < 0.1] = np.nan
    p[rng.random((m, k)) < 0.1] = -np.inf
    np.testing.assert_array_equal(rows_finite(p), np.isfinite(p).all(axis=1))
    lo, hi = column_bounds(p)
    np.testing.assert_array_equal(lo, p.min(axis=0))  # NaN propagates as in numpy
    np.testing.assert_array_equal(hi, p.max(axis=0))


@pytest.mark.parametrize("r", [1, 2, 3])
def test_imm_posterior_matches_axis_reductions(r: int) -> None:
    """The row max / sum column by column give the numbers of the axis reductions, bit for bit."""
    rng = np.random.default_rng(r)
    cbar = rng.dirichlet(np.ones(r), size=500)
    log_lik = rng.standard_normal((500, r)) * 50.0
    log_lik[:5] = -np.inf  # degenerate rows keep their prior
    log_lik[5:8, 0] = np.nan
    a = np.log(np.maximum(cbar, np.finfo(np.float64).tiny)) + log_lik
    top = a.max(axis=1, keepdims=True)
    bad = ~np.isfinite(top[:, 0])
    a[bad] = np.log(cbar[bad])
    top[bad] = a[bad].max(axis=1, keepdims=True)
    p = np.exp(a - top)
    p /= p.sum(axis=1, keepdims=True)
    got = imm_posterior(cbar, log_lik)
    ok = (p >= 1e-12).all(axis=1)
    np.testing.assert_array_equal(got[ok], p[ok])
    assert np.isfinite(got).all()
