"""Property tests of the RCS estimate: the radar equation inverted exactly, and the per-track average."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fusion.core.table import no_rcs
from fusion.core.update import RCS_LOOKS_MAX, rcs_dbsm, update_rcs
from sensors.radar import plot_rcs_dbsm
from sensors.reports import RadarScan
from sim_feeds.observe import radar_snr_db
from sim_feeds.scenario import CoastalRadar, Coverage

looks = st.lists(st.one_of(st.floats(-40.0, 80.0), st.just(math.nan)), min_size=1, max_size=60)


@given(rcs_dbsm_true=st.floats(-20.0, 70.0), range_m=st.floats(10.0, 400_000.0), snr_ref_db=st.floats(-10.0, 40.0),
       ref_rcs_m2=st.floats(0.01, 1000.0), ref_range_m=st.floats(1000.0, 100_000.0))
def test_plot_rcs_inverts_the_simulated_radar_equation(rcs_dbsm_true: float, range_m: float, snr_ref_db: float,
                                                       ref_rcs_m2: float, ref_range_m: float) -> None:
    """The mean SNR the simulator gives a target, turned back by the scan's radar constant, is its RCS."""
    spec = CoastalRadar(id="r", lat=10.0, lon=-79.0, coverage=Coverage(range_max_m=500_000.0), snr_ref_db=snr_ref_db,
                        ref_rcs_m2=ref_rcs_m2, ref_range_m=ref_range_m)
    snr = radar_snr_db(spec, np.array([10.0 ** (rcs_dbsm_true / 10.0)]), np.array([range_m]))
    scan = RadarScan(site="r", t=0.0, sensor_lat=10.0, sensor_lon=-79.0, sensor_alt_m=0.0, sigma_range_m=1.0,
                     sigma_az_deg=0.1, snr_1m2_db=snr_ref_db - 10.0 * math.log10(ref_rcs_m2), rcs_ref_range_m=ref_range_m)
    np.testing.assert_allclose(plot_rcs_dbsm(scan, np.array([range_m]), snr), rcs_dbsm_true, atol=1e-9)


@given(seq=looks)
def test_track_rcs_counts_looks_and_stays_between_them(seq: list[float]) -> None:
    """One track's column after a sequence of looks (NaN: a plot without an estimate): the count is the number of
    looks, the mean lies between the smallest and largest look (a convex combination), and for the first
    RCS_LOOKS_MAX looks it is their plain linear mean."""
    rcs = no_rcs(1)
    for x in seq:
        before = rcs.copy()
        rcs = update_rcs(rcs, np.array([x]))
        if math.isnan(x):
            np.testing.assert_array_equal(rcs, before)
    got = [x for x in seq if not math.isnan(x)]
    assert rcs[0, 1] == len(got)
    if not got:
        assert np.isnan(rcs[0, 0])
        return
    lin = 10.0 ** (np.array(got) / 10.0)
    assert lin.min() * (1 - 1e-9) <= rcs[0, 0] <= lin.max() * (1 + 1e-9)
    if len(got) <= RCS_LOOKS_MAX:
        np.testing.assert_allclose(rcs[0, 0], lin.mean(), rtol=1e-9)
    assert np.isfinite(rcs_dbsm(rcs[:, 0])).all()
