"""A radar look counts a miss only where the radar could have seen the track: within the radar horizon of
the track's height class, at a Pd (radar equation, the track's RCS) of at least ``miss_min_pd``."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.core.arrays import COASTING, CONFIRMED, TENTATIVE
from fusion.core.config import TrackerConfig
from fusion.core.manage import HORIZON_M_PER_SQRT_M, PD_RCS_LOOKS, LostTracks, count_misses, merge_rcs
from fusion.core.model import PoolModel
from fusion.core.table import TrackTable
from fusion.core.tracker import Tracker
from fusion.core.update import popcount
from fusion.trackscans import scan_batch
from tests.unit.core.conftest import BatchFactory, TableFactory

ANTENNA_M = 30.0  # a coastal radar's mast: a 0.5 m hull's horizon is 4.12 km x (sqrt(30) + sqrt(0.5)) = 25.5 km
LOW_HORIZON_M = HORIZON_M_PER_SQRT_M * (math.sqrt(ANTENNA_M) + math.sqrt(0.5))


def _tracks_at(make_table: TableFactory, east_m: list[float], **columns: np.ndarray):  # type: ignore[no-untyped-def]
    """Confirmed surface tracks, still, at (east, 0) m, three hits in three looks, updated at t = 0."""
    n = len(east_m)
    x = np.zeros((n, 4))
    x[:, 0] = east_m
    return make_table(x, np.tile(np.diag([100.0, 100.0, 1.0, 1.0]), (n, 1, 1)), **columns)


def _scan(make_batch: BatchFactory, alt_m: float | None = ANTENNA_M, constant: bool = False):  # type: ignore[no-untyped-def]
    """A coastal radar at the origin, 60 km instrumented, scanning at t = 5 s with one plot far from every track."""
    b = make_batch(5.0, np.array([[0.0, -50_000.0]]), look=(0.0, 0.0, 60_000.0))
    return replace(b, sensor_alt_m=alt_m, snr_1m2_db=3.0 if constant else None, rcs_ref_range_m=50_000.0 if constant else None)


def test_beyond_the_horizon_a_track_keeps_its_hit_history_inside_it_counts_a_miss(make_table: TableFactory,
                                                                                  make_batch: BatchFactory) -> None:
    tab = _tracks_at(make_table, [20_000.0, 40_000.0])  # inside / beyond the 0.5 m horizon (25.5 km)
    looked = count_misses(tab, _scan(make_batch), np.zeros(0, np.int64))
    a = tab.cols
    assert looked.tolist() == [0]
    assert a["miss_run"].tolist() == [1, 0] and a["looks"].tolist() == [4, 3] and a["hist"].tolist() == [0b1110, 0b111]
    assert a["status"].tolist() == [COASTING, CONFIRMED]


def test_a_hidden_track_nothing_updated_for_longer_than_it_coasts_on_counts_again(make_table: TableFactory,
                                                                                 make_batch: BatchFactory) -> None:
    """Beyond the horizon, but last updated 100 s before the scan (surface ``coast_after_s`` 60 s): a clutter track
    of an airborne radar that flew on is deleted by the looks that cover it, not held to ``max_coast_s``."""
    tab = _tracks_at(make_table, [40_000.0, 40_000.0], last_t=np.array([-95.0, -50.0]), t=np.array([-95.0, -50.0]))
    assert count_misses(tab, _scan(make_batch), np.zeros(0, np.int64)).tolist() == [0]


def test_a_hidden_track_with_a_plot_of_the_scan_in_its_gate_counts(make_table: TableFactory,
                                                                    make_batch: BatchFactory) -> None:
    """A plot in its gate shows the radar sees targets there: a duplicate beside the track that took it counts."""
    tab = _tracks_at(make_table, [40_000.0, 40_100.0])
    assert count_misses(tab, _scan(make_batch), np.zeros(0, np.int64), np.array([1])).tolist() == [1]


def test_without_the_antenna_height_every_track_in_the_circle_counts_as_before(make_table: TableFactory,
                                                                               make_batch: BatchFactory) -> None:
    tab = _tracks_at(make_table, [20_000.0, 40_000.0])
    assert count_misses(tab, _scan(make_batch, alt_m=None), np.zeros(0, np.int64)).tolist() == [0, 1]


def test_a_track_the_radar_detected_beyond_the_low_horizon_is_taller_and_counts(make_table: TableFactory,
                                                                               make_batch: BatchFactory) -> None:
    """A clutter plot or a ship seen at 40 km by a 30 m antenna is at least ((40 / 4.12) - sqrt(30))^2 = 18 m
    high (or the plot came over the horizon): the same radar's looks there count."""
    trk = Tracker(TrackerConfig(), "surface")
    born = replace(scan_batch(0.0, np.array([[40_000.0, 0.0]]), 30.0), look_en_m=(0.0, 0.0, 60_000.0), sensor_alt_m=ANTENNA_M)
    trk.step(born)
    trk.step(replace(born, t=np.array([5.0]), z=born.z + np.array([0.0, -30_000.0, 0.0, 0.0])))  # the plot elsewhere
    a = trk._table.cols
    first = int(np.flatnonzero(a["id"] == 1)[0])
    assert a["hmin"][first] > 15.0
    assert a["looks"][first] == 2 and a["status"][first] == TENTATIVE  # one hit, one miss


def test_pd_from_the_radar_equation_hides_a_small_far_target_not_a_large_one(make_table: TableFactory,
                                                                              make_batch: BatchFactory) -> None:
    """Radar constant 3 dB for 1 m^2 at 50 km (13 dB for the 10 m^2 reference, as the simulator's default):
    at 20 km a 0.3 m^2 hull has SNR 3 - 5.2 + 15.9 = 13.7 dB, Pd 0.57; at 24 km 10.5 dB, Pd 0.32 (< 0.5);
    a 1000 m^2 ship at 24 km Pd 0.9999."""
    rcs = np.array([[0.3, PD_RCS_LOOKS], [0.3, PD_RCS_LOOKS], [1000.0, PD_RCS_LOOKS], [0.3, PD_RCS_LOOKS - 1]])
    tab = _tracks_at(make_table, [20_000.0, 24_000.0, 24_000.0, 24_000.0], rcs=rcs)
    looked = count_misses(tab, _scan(make_batch, constant=True), np.zeros(0, np.int64))
    assert looked.tolist() == [0, 2, 3]  # the last: too few looks for its RCS to count, the design Pd applies
    snr = 10.0 ** ((3.0 + 10.0 * np.log10(0.3) - 40.0 * np.log10(math.hypot(20_000.0, ANTENNA_M) / 50_000.0)) / 10.0)
    pd = 1e-6 ** (1.0 / (1.0 + snr))
    assert 0.5 < pd < 0.6
    np.testing.assert_allclose(tab.cols["llr"][[0, 3]], [math.log1p(-pd), math.log1p(-0.9)], rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.floats(5.0, 2_000.0), st.floats(0.0, 1.0), st.floats(1.0, 1.0e3))
def test_a_look_counts_exactly_within_the_horizon_of_the_track_height(antenna_m: float, where: float,
                                                                      hmin_m: float) -> None:
    """Property: for any antenna height, implied track height and distance (not within 1 m of the horizon), a
    track without an RCS estimate counts the look iff it lies within the horizon of max(0.5 m, its hmin)."""
    horizon = HORIZON_M_PER_SQRT_M * (math.sqrt(antenna_m) + math.sqrt(max(0.5, hmin_m)))
    d = 2.0 * horizon * where
    if abs(d - horizon) < 1.0:
        d = horizon + 2.0
    x = np.array([[d, 0.0, 0.0, 0.0], [0.5 * d, 0.0, 0.0, 0.0]])



    tab = TrackTable(PoolModel.build(TrackerConfig(), "surface"))
    tab.append({"id": np.array([1, 2]), "status": np.full(2, CONFIRMED, np.int8), "t": np.zeros(2),
                "xm": np.repeat(x[:, None], 2, axis=1), "Pm": np.tile(np.diag([100.0, 100.0, 1.0, 1.0]), (2, 2, 1, 1)),
                "mu": np.tile([0.8, 0.2], (2, 1)), "alt": np.full((2, 2), np.nan), "Palt": np.zeros((2, 2, 2)),
                "hist": np.full(2, 0b111), "looks": np.full(2, 3), "miss_run": np.zeros(2, np.int64), "first_t": np.zeros(2),
                "last_t": np.zeros(2), "last_ais_t": np.full(2, np.nan), "last_noncoop_t": np.zeros(2), "sources": np.full(2, 4),
                "mmsi": np.zeros(2, np.int64), "icao24": np.full(2, -1), "spoof": np.zeros(2, bool), "ivl": np.full(2, np.nan),
                "llr": np.zeros(2), "hmin": np.full(2, hmin_m)})
    b = replace(scan_batch(5.0, np.array([[0.0, -3.0 * horizon]]), 30.0), look_en_m=(0.0, 0.0, 3.0 * horizon),
                sensor_alt_m=antenna_m)
    looked = count_misses(tab, b, np.zeros(0, np.int64))
    assert (0 in looked.tolist()) == (d <= horizon)
    assert 0 not in looked.tolist() or 1 in looked.tolist()  # nearer is never less visible
    assert popcount(tab.cols["hist"]).tolist() == [3, 3]  # a miss adds no hit
    assert (tab.cols["looks"] == 3 + np.isin([0, 1], looked)).all()


def test_merged_rcs_is_the_look_weighted_linear_mean() -> None:
    keep = np.array([[2.0, 3.0], [np.nan, 0.0], [4.0, 2.0]])
    lose = np.array([[6.0, 1.0], [5.0, 2.0], [0.0, 0.0]])
    np.testing.assert_allclose(merge_rcs(keep, lose), [[3.0, 4.0], [5.0, 2.0], [4.0, 2.0]])


def test_a_stitched_track_keeps_the_rcs_looks_of_its_lost_segment() -> None:
    """The issue: a radar-only track deleted on misses and stitched to its next segment restarted its RCS
    estimate at one look (cartagena-1036's semi-submersible), so the rules never held 10 looks of it."""
    cfg = TrackerConfig()
    trk = Tracker(cfg, "surface")
    for k in range(8):  # 8 looks at 20 dBsm, then 4 misses (deleted), then 3 more hits
        b = scan_batch(4.0 * k, np.array([[5.0 * 4.0 * k, 0.0]]), 30.0)
        trk.step(replace(b, rcs_dbsm=np.array([20.0]), look_en_m=(0.0, 0.0, 60_000.0)))
    for k in range(8, 12):
        trk.step(replace(scan_batch(4.0 * k, np.array([[0.0, 50_000.0]]), 30.0), look_en_m=(0.0, 0.0, 60_000.0)))
    assert 1 not in trk._table.live()["id"].tolist()
    for k in range(12, 15):
        b = scan_batch(4.0 * k, np.array([[5.0 * 4.0 * k, 0.0]]), 30.0)
        trk.step(replace(b, rcs_dbsm=np.array([20.0]), look_en_m=(0.0, 0.0, 60_000.0)))
    v = trk.view(4.0 * 14)
    assert v.rcs_looks is not None and v.rcs_dbsm is not None
    one = np.flatnonzero(v.track_id == 1)
    assert one.size == 1 and v.rcs_looks[one[0]] == 8 + 3 and abs(v.rcs_dbsm[one[0]] - 20.0) < 1e-9


def test_lost_tracks_from_an_older_snapshot_load_without_rcs_and_height() -> None:
    lost = LostTracks(4, 2)
    old = {k: v for k, v in lost.state().items() if k not in ("rcs", "hmin")}
    lost.load(old)
    assert lost.ring["rcs"].shape == (4, 2) and (lost.ring["rcs"][:, 1] == 0).all() and (lost.ring["hmin"] == 0).all()
