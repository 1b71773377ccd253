"""Expected report intervals: the ITU-R M.1371 rates of AIS rows, source floors, and the
per-track limits they give (fusion/core/intervals.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fusion.core.arrays import NO_ICAO, MeasBatch
from fusion.core.config import SURFACE_DEFAULT, TrackerConfig
from fusion.core.frame import LocalFrame
from fusion.core.intervals import misses_before, misses_to_delete, track_limits
from fusion.core.tracker import Tracker
from fusion.ingest import Ingest
from sensors import ais
from sensors.codec import KNOT_MPS
from sensors.measurement import MeasurementNoise, ais_report_interval_s, reports_to_batches
from sensors.reports import AisPosition, RadarPlot, RadarScan


def test_ais_rates_follow_itu_r_m1371_table_1_and_class_b() -> None:
    kn = np.array([0.0, 2.5, 5.0, 13.9, 15.0, 30.0, np.nan])
    a = ais_report_interval_s(np.full(7, 1, np.int64), kn * KNOT_MPS)
    assert a.tolist() == [180.0, 180.0, 10.0, 10.0, 6.0, 2.0, 180.0]  # <= 3 kn or unknown: may be at anchor
    b = ais_report_interval_s(np.full(7, 18, np.int64), kn * KNOT_MPS)
    assert b.tolist() == [180.0, 30.0, 30.0, 30.0, 30.0, 30.0, 180.0]
    assert ais_report_interval_s(np.array([27]), np.array([10.0])).tolist() == [180.0]


def _frame() -> LocalFrame:
    return LocalFrame(10.0, 11.0, -80.0, -79.0)


def test_source_interval_raises_rows_of_that_source_only() -> None:
    reports = [AisPosition(t=0.0, source="sat", mmsi=1, lat=10.5, lon=-79.5, sog_mps=4.0, cog_deg=90.0),
               AisPosition(t=0.0, source="coast", mmsi=2, lat=10.5, lon=-79.4, sog_mps=4.0, cog_deg=90.0)]
    (b,) = reports_to_batches(reports, _frame(), MeasurementNoise(), {"ais/sat": 420.0})
    assert b.interval_s.tolist() == [420.0, 10.0]
    scan = RadarScan(t=0.0, site="r1", sensor_lat=10.5, sensor_lon=-79.5, sensor_alt_m=30.0, sigma_range_m=20.0, sigma_az_deg=0.5,
                     plots=[RadarPlot(range_m=5000.0, az_deg=10.0)])
    (r,) = reports_to_batches([scan], _frame(), MeasurementNoise(), {"radar/r1": 4.0})
    assert r.interval_s.tolist() == [4.0]
    (unknown,) = reports_to_batches([scan], _frame(), MeasurementNoise())
    assert np.isnan(unknown.interval_s).all()


def test_misses_before_is_the_likelihood_threshold() -> None:
    assert misses_before(0.5, 1e-3) == 10  # 0.5^10 = 9.8e-4
    assert misses_before(0.5, 0.05) == 5
    assert misses_before(0.9, 1e-3) == 3
    for p, miss in ((0.3, 0.01), (0.5, 0.5), (0.99, 2e-7)):
        k = misses_before(p, miss)
        assert (1 - p) ** k <= miss < (1 - p) ** (k - 1) or k == 1
    with pytest.raises(ValueError, match="report_prob"):
        misses_before(1.0, 0.1)


def test_limits_stretch_with_the_interval_and_keep_the_pool_floor() -> None:
    cfg = TrackerConfig()
    lim = track_limits(np.array([np.nan, 10.0, 420.0]), SURFACE_DEFAULT, cfg)
    pool = SURFACE_DEFAULT
    assert lim.coast_after_s.tolist() == [pool.coast_after_s, pool.coast_after_s, 3 * 420.0]
    assert lim.max_coast_s.tolist() == [pool.max_coast_s, pool.max_coast_s, 10 * 420.0]
    assert lim.tentative_max_age_s.tolist() == [pool.tentative_max_age_s, pool.tentative_max_age_s, 5 * 420.0]
    assert lim.max_pos_sigma_m[2] == pytest.approx(pool.reach_speed_mps * 10 * 420.0)  # travel until deletion
    assert lim.max_pos_sigma_m[0] == pool.max_pos_sigma_m


@pytest.mark.parametrize(("field", "value"), [("report_prob", 1.0), ("delete_miss_prob", 0.0), ("coast_intervals", -1.0),
                                              ("late_max_age_s", math.inf)])
def test_bad_interval_settings_are_refused_by_name(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        TrackerConfig(**{field: value})


def test_bad_source_interval_is_refused_with_its_key() -> None:
    with pytest.raises(ValueError, match="ais/sat"):
        TrackerConfig(source_interval_s={"ais/sat": 0.0})


def test_state_saved_before_expected_intervals_restores_as_unknown() -> None:
    z = np.full((1, 4), np.nan)
    z[0, :2] = 0.0
    R = np.zeros((1, 4, 4))
    R[0, 0, 0] = R[0, 1, 1] = 100.0
    trk = Tracker(TrackerConfig(), "surface")
    trk.step(MeasBatch(t=np.zeros(1), z=z, R=R, has_vel=np.zeros(1, bool), alt_m=np.full(1, np.nan),
                       sigma_alt_m=np.full(1, np.nan), mmsi=np.array([366000001]), icao24=np.full(1, NO_ICAO, np.int64),
                       sensor_kind="ais", sensor_id="a", domain="surface", interval_s=np.array([420.0])))
    snap = trk.snapshot()
    assert snap["track.ivl"].tolist() == [420.0]
    old = {k: v for k, v in snap.items() if k != "track.ivl"}  # a checkpoint written by an earlier version
    back = Tracker.restore(TrackerConfig(), "surface", old)
    assert len(back) == 1 and np.isnan(back.snapshot()["track.ivl"]).all()


def test_ingest_checkpoint_without_row_intervals_restores() -> None:
    ing = Ingest(_frame(), reorder_window_s=5.0)
    payload = ais.encode_payload([AisPosition(t=100.0, source="a", mmsi=1, lat=10.5, lon=-79.5, sog_mps=4.0, cog_deg=90.0)])
    assert ing.accept("jisf/v1/feeds/ais/a", payload, 100.0) == 1
    ing.due(100.5)  # still buffered (re-order window)
    arrays, meta = ing.snapshot()
    old = {k: v for k, v in arrays.items() if not k.endswith(".interval_s")}
    assert len(old) < len(arrays)
    again = Ingest(_frame(), reorder_window_s=5.0)
    again.restore(old, meta)
    (batch,) = again.due(200.0)
    assert len(batch) == 1 and batch.interval_s.shape == (1,)


def test_misses_to_delete_follow_the_tracks_own_detection_probability() -> None:
    cfg = TrackerConfig()
    hits, looks = np.array([64, 58, 32, 0]), np.array([64, 64, 64, 64])
    k = misses_to_delete(hits, looks, cfg)
    assert k[0] == cfg.delete_misses  # seen on every look: the design Pd's 3 misses
    pd = (hits + cfg.detection_prob * cfg.confirm_n) / (looks + cfg.confirm_n)
    assert ((1.0 - pd) ** k <= cfg.delete_miss_prob).all() and ((1.0 - pd) ** (k - 1) > cfg.delete_miss_prob)[1:].all()
    assert k[2] == 10 and np.all(np.diff(k) >= 0)  # one look in two: 10 misses; fewer hits, more misses
