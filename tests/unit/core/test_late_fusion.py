"""Late measurements (older than the re-run window) fused by retrodiction in the tracker:
identity to the track the report belongs to at its own time, no re-run, same ids."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from fusion.core.arrays import NO_ICAO, NO_MMSI, MeasBatch
from fusion.core.tracker import Tracker, TrackerConfig

LATE = TrackerConfig(late_max_age_s=6 * 3600.0)


def _batch(t: float, xy: list[list[float]], kind: str = "radar", mmsi: list[int] | None = None,
           interval_s: float = np.nan) -> MeasBatch:
    n = len(xy)
    z = np.full((n, 4), np.nan)
    z[:, :2] = xy
    R = np.zeros((n, 4, 4))
    R[:, 0, 0] = R[:, 1, 1] = 30.0**2
    return MeasBatch(t=np.full(n, t), z=z, R=R, has_vel=np.zeros(n, bool), alt_m=np.full(n, np.nan),
                     sigma_alt_m=np.full(n, np.nan), mmsi=np.array(mmsi or [NO_MMSI] * n, dtype=np.int64),
                     icao24=np.full(n, NO_ICAO, np.int64), sensor_kind=kind, sensor_id="s", domain="surface",
                     interval_s=np.full(n, interval_s))


def _two_dark_tracks(cfg: TrackerConfig, until: float) -> Tracker:
    """A vessel A going east at 10 m/s along y = 0 from x = 0; B at rest at (1500, 300). Radar every 4 s."""
    trk = Tracker(cfg, "surface")
    for t in np.arange(0.0, until + 1e-9, 4.0):
        trk.step(_batch(float(t), [[10.0 * t, 0.0], [1500.0, 300.0]]))
    return trk


def _track_at(trk: Tracker, t: float, x: float, y: float) -> int:
    v = trk.view(t)
    return int(v.track_id[np.argmin(np.hypot(v.x[:, 0] - x, v.x[:, 1] - y))])


def test_a_report_ten_minutes_late_names_the_track_it_belonged_to_then() -> None:
    trk = _two_dark_tracks(LATE, 700.0)
    a, b = _track_at(trk, 700.0, 7000.0, 0.0), _track_at(trk, 700.0, 1500.0, 300.0)
    # satellite AIS of A at t = 100 s (A then at x = 1000), arriving at 700 s: B is nearer the report now
    res = trk.step(_batch(100.0, [[1000.0, 0.0]], kind="ais", mmsi=[366000001]))
    assert (res.late_fused, res.late_dropped, res.rerun_batches, res.born_ids.size) == (1, 0, 0, 0)
    v = trk.view(700.0)
    assert v.mmsi[v.track_id == a].tolist() == [366000001]
    assert v.mmsi[v.track_id == b].tolist() == [NO_MMSI]
    assert trk.identity_history()[:, :3].tolist() == [[100.0, a, 366000001]]


def test_without_late_fusion_the_report_is_dropped() -> None:
    trk = _two_dark_tracks(TrackerConfig(), 700.0)
    res = trk.step(_batch(100.0, [[1000.0, 0.0]], kind="ais", mmsi=[366000001]))
    assert (res.late_fused, res.late_dropped) == (0, 1)
    assert (trk.view(700.0).mmsi == NO_MMSI).all()


def test_an_anonymous_late_plot_matching_no_track_is_dropped_an_identified_one_starts_a_track() -> None:
    trk = _two_dark_tracks(LATE, 700.0)
    n = len(trk)
    res = trk.step(_batch(100.0, [[40_000.0, 40_000.0]]))  # radar: no track is born in the past
    assert (res.late_fused, res.late_dropped, res.born_ids.size, len(trk)) == (0, 1, 0, n)
    # a satellite AIS source stated to revisit every 420 s: its track outlives the 600 s delay
    res = trk.step(_batch(100.0, [[40_000.0, 40_000.0]], kind="ais", mmsi=[366000002], interval_s=420.0))
    assert (res.late_fused, res.late_dropped, res.born_ids.size, len(trk)) == (0, 0, 1, n + 1)
    v = trk.view(700.0)
    assert v.mmsi[v.track_id == res.born_ids[0]].tolist() == [366000002]


def test_a_vessel_heard_only_by_late_satellite_ais_every_7_min_is_one_track() -> None:
    # radar of another area moves the tracker's clock every 60 s; the vessel's satellite AIS
    # reports (every 420 s, expected interval stated) each arrive 600 s after their time
    trk = Tracker(LATE, "surface")
    sat = {float(t): [2000.0 + 5.0 * t, 0.0] for t in np.arange(0.0, 7201.0, 420.0)}
    ids = set()
    for now in np.arange(0.0, 7801.0, 60.0):
        trk.step(_batch(float(now), [[-90_000.0, 50_000.0]]))
        for t in [t for t in sat if now - 60.0 < t + 600.0 <= now]:
            res = trk.step(_batch(t, [sat[t]], kind="ais", mmsi=[366000009], interval_s=420.0))
            assert res.late_dropped == 0
            v = trk.view(now)
            ids |= set(v.track_id[v.mmsi == 366000009].tolist())
    assert len(ids) == 1


def test_late_update_of_a_sparse_track_is_close_to_the_full_rerun() -> None:
    # one vessel reported by AIS only every 420 s; the report of 1260 s arrives after the one of 1680 s
    rng = np.random.default_rng(4)
    reports = [(t, [5.0 * t + rng.normal(0, 30), -2.0 * t + rng.normal(0, 30)]) for t in np.arange(0.0, 2101.0, 420.0)]
    order = [0, 1, 2, 4, 3, 5]
    cfg_rerun = TrackerConfig(oosm_lag_s=3600.0, source_interval_s={})  # the fixed-lag re-run over the whole hour
    ref = Tracker(cfg_rerun, "surface")
    late = Tracker(TrackerConfig(late_max_age_s=3600.0), "surface")
    results = []
    for i in order:
        t, xy = reports[i]
        batch = _batch(float(t), [xy], kind="ais", mmsi=[366000003])
        ref.step(batch)
        results.append(late.step(batch))
    assert results[4].late_fused == 1 and results[4].rerun_batches == 0
    vr, vl = ref.view(2100.0), late.view(2100.0)
    assert len(vr) == len(vl) == 1 and vr.track_id.tolist() == vl.track_id.tolist()
    sigma = np.sqrt(np.diag(vr.P[0]))
    assert np.all(np.abs(vl.x[0] - vr.x[0]) <= 0.2 * sigma)


def test_a_rerun_after_a_late_update_keeps_it() -> None:
    trk = _two_dark_tracks(replace(LATE, rerun_burst_s=math.inf), 700.0)  # (a 14 s re-run: beyond the default budget's depth)
    a = _track_at(trk, 700.0, 7000.0, 0.0)
    trk.step(_batch(100.0, [[1000.0, 0.0]], kind="ais", mmsi=[366000001]))
    trk.step(_batch(704.0, [[7040.0, 0.0], [1500.0, 300.0]]))
    res = trk.step(_batch(690.0, [[6900.0, 0.0]]))  # late radar: a re-run from a checkpoint older than the late report
    assert res.rerun_batches > 0
    v = trk.view(704.0)
    assert v.mmsi[v.track_id == a].tolist() == [366000001]


def test_a_late_report_naming_a_deleted_track_re_links_the_track_it_adopts() -> None:
    # A (10 m/s east) is identified by AIS at t = 0, unseen from 44 s (deleted), seen again 3 km north from 84 s
    # (a new track: beyond the stitch's test); a satellite AIS report of A at 300 s arrives at 700 s: the new
    # track takes A's MMSI by retrodiction and continues A's old id
    trk = Tracker(LATE, "surface")
    trk.step(_batch(0.0, [[0.0, 0.0]], kind="ais", mmsi=[366000001]))
    (old,) = trk.view(0.0).track_id.tolist()
    for t in np.arange(4.0, 700.0 + 1e-9, 4.0):
        a = [] if 44.0 <= t < 84.0 else [[10.0 * t, 0.0 if t < 44.0 else 3_000.0]]
        trk.step(_batch(float(t), [*a, [1500.0, 300.0]]))
    young = _track_at(trk, 700.0, 7000.0, 3_000.0)
    assert young != old and old not in trk.view(700.0).track_id.tolist()
    res = trk.step(_batch(300.0, [[3000.0, 3000.0]], kind="ais", mmsi=[366000001]))
    assert (res.late_fused, res.late_dropped) == (1, 0)
    assert res.deleted_ids.tolist() == [young] and res.born_ids.tolist() == [old]
    v = trk.view(700.0)
    assert v.mmsi[v.track_id == old].tolist() == [366000001] and v.first_t[v.track_id == old].tolist() == [0.0]
