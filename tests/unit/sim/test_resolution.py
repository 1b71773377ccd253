"""Radar resolution cells: targets inside one cell (range resolution x beamwidth) give one plot."""

from __future__ import annotations

import numpy as np
import pymap3d
import pytest

from sim_feeds.observe import RadarModel, merge_cells, resolution_cells
from sim_feeds.scenario import ScenarioError, scenario_from_dict
from sim_feeds.truth import Truth
from tests.unit.sim.conftest import RADAR_LAT, RADAR_LON, parked
from tests.unit.sim.test_sensors import radar_doc

M_PER_DEG_LAT = 110_580.0  # near 9.7 N


def test_cells_join_within_both_resolutions_transitively_and_across_north() -> None:
    r = np.array([1000.0, 1020.0, 1050.0, 2000.0, 5000.0, 5010.0, 5000.0])
    az = np.array([10.0, 10.5, 11.2, 10.0, 359.7, 0.4, 90.0])
    # 0-1 (20 m, 0.5 deg), 1-2 (30 m, 0.7 deg): one cell; 3 far in range; 4-5 across north; 6 far in azimuth
    assert resolution_cells(r, az, 37.5, 1.0).tolist() == [0, 0, 0, 1, 2, 2, 3]
    assert resolution_cells(r, az, 0.0, 1.0).tolist() == list(range(7))  # merging off
    assert resolution_cells(r, az, 37.5, 0.5).tolist() == [0, 0, 1, 2, 3, 4, 5]


def test_merged_look_sums_snr_at_the_snr_weighted_centroid_and_singletons_keep_their_values() -> None:
    cell = np.array([0, 1, 0, 2])
    snr = np.array([3.0, 5.0, 1.0, 7.0])
    rng_m = np.array([1000.0, 3000.0, 1020.0, 4000.0])
    az = np.array([359.8, 45.0, 0.3, 90.0])
    el = np.zeros(4)
    first, s, r, a, _ = merge_cells(cell, snr, rng_m, az, el)
    assert first.tolist() == [0, 1, 3]
    assert s.tolist() == [4.0, 5.0, 7.0] and r[0] == pytest.approx(1005.0)
    assert a[0] == pytest.approx(359.925)  # (3 x 0 + 1 x 0.5) / 4 past 359.8: across north
    assert (r[1:], a[1:]) == (pytest.approx([3000.0, 4000.0]), pytest.approx([45.0, 90.0]))


def _near_plots(doc: dict) -> list[int]:
    """Plots per scan within 300 m of the pair parked at (9.70, -78.70)."""
    sc = scenario_from_dict(doc)
    model = RadarModel(sc, Truth.of(sc), sc.sensors[0])  # type: ignore[arg-type]
    _, _, r_true = pymap3d.geodetic2aer(9.70, -78.70, 0.0, RADAR_LAT, RADAR_LON, 120.0)
    return [sum(abs(p.range_m - r_true) < 300.0 for p in s.plots) for s in model.scans()]


def test_two_boats_5_m_apart_are_one_plot_and_resolved_without_merging() -> None:
    pair = [parked("host", 9.70, -78.70, kind="fishing"), parked("gofast", 9.70 + 5.0 / M_PER_DEG_LAT, -78.70, kind="go_fast")]
    merged = _near_plots(radar_doc(pair))
    resolved = _near_plots(radar_doc(pair, range_resolution_m=0.0))
    assert max(merged) == 1 and sum(merged) > 0.9 * len(merged)  # 134 + 3 m^2 at ~33 km: one plot nearly every scan
    assert max(resolved) == 2


def test_a_scan_without_shared_cells_is_what_it_was_without_merging() -> None:
    apart = [parked("a", 9.70, -78.70, kind="fishing"), parked("b", 9.80, -78.60, kind="tug")]
    scans = [list(RadarModel(sc, Truth.of(sc), sc.sensors[0]).scans())  # type: ignore[arg-type]
             for sc in (scenario_from_dict(radar_doc(apart, false_alarms_per_scan=1.0)),
                        scenario_from_dict(radar_doc(apart, false_alarms_per_scan=1.0, range_resolution_m=0.0)))]
    assert scans[0] == scans[1]


def test_resolution_fields_are_validated() -> None:
    with pytest.raises(ScenarioError, match=r"beamwidth_deg = -1.0"):
        scenario_from_dict(radar_doc([], beamwidth_deg=-1.0))
