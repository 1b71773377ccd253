"""Per-batch work on the tracks a batch can reach: the block index, the amortised expiry
and lazy deletion change no result; a regional scan touches only its own tracks; long
out-of-sequence lags (satellite AIS) re-run without crashing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fusion.core import reach as reach_mod
from fusion.core import table as table_mod
from fusion.core.arrays import NO_ICAO, NO_MMSI, MeasBatch
from fusion.core.tracker import StepResult, Tracker, TrackerConfig


def _batch(t: float | np.ndarray, xy: np.ndarray, kind: str = "radar", mmsi: np.ndarray | None = None,
           look: tuple[float, float, float] | None = None) -> MeasBatch:
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    m = xy.shape[0]
    z = np.full((m, 4), np.nan)
    z[:, :2] = xy
    R = np.zeros((m, 4, 4))
    R[:, 0, 0] = R[:, 1, 1] = 50.0**2
    return MeasBatch(t=np.broadcast_to(np.asarray(t, dtype=np.float64), (m,)).copy(), z=z, R=R,
                     has_vel=np.zeros(m, bool), alt_m=np.full(m, np.nan), sigma_alt_m=np.full(m, np.nan),
                     mmsi=np.full(m, NO_MMSI, np.int64) if mmsi is None else np.asarray(mmsi, np.int64),
                     icao24=np.full(m, NO_ICAO, np.int64), sensor_kind=kind, sensor_id="s", domain="surface",
                     look_en_m=look)


def _scenario(seed: int) -> list[MeasBatch]:
    """Nine radars over 900 targets (CV, some fast, some dying, clutter), each looking every
    third scan (12 s) and reporting in 16 sector batches of a few plots, each with the look
    disc inscribed in its 17.5 km cell; plus small AIS batches with MMSIs for a tenth of the
    targets; 20 scans of 4 s. Small batches against a pool of ~1,000 tracks moving up to
    ~1 km between looks: the tracker goes through its reach index, and a box too small by
    a few hundred metres would change the result."""
    rng = np.random.default_rng(seed)
    n = 900
    g = np.array([-120e3, 0.0, 120e3])
    centres = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    home = rng.integers(0, 9, n)
    pos = centres[home] + rng.uniform(-35e3, 35e3, (n, 2))
    vel = rng.normal(0.0, 10.0, (n, 2))
    vel[rng.random(n) < 0.1] *= 3.0
    death = np.where(rng.random(n) < 0.2, rng.integers(5, 20, n), 99)
    mmsi = np.where(np.arange(n) % 10 == 0, 366_000_000 + np.arange(n), NO_MMSI)
    cell = 17.5e3
    out = []
    for k in range(20):
        t = 4.0 * k
        alive = k < death
        xy = pos + vel * t
        for s in range(9):
            if (k + s) % 3:
                continue
            sel = alive & (home == s) & (rng.random(n) < 0.9)
            det = xy[sel] + rng.normal(0.0, 50.0, (int(sel.sum()), 2))
            plots = np.vstack([det, centres[s] + rng.uniform(-35e3, 35e3, (rng.poisson(10), 2))])
            ij = np.floor((plots - centres[s] + 2 * cell) / cell).astype(np.int64)
            for i in range(4):
                for j in range(4):
                    mine = (ij[:, 0] == i) & (ij[:, 1] == j)
                    if mine.any():
                        c = centres[s] - 2 * cell + cell * np.array([i + 0.5, j + 0.5])
                        out.append(_batch(t + 0.1 * s, plots[mine], look=(c[0], c[1], cell / 2)))
        coop = alive & (mmsi != NO_MMSI) & (rng.random(n) < 0.5)
        if coop.any():
            out.append(_batch(t + 2.5, xy[coop] + rng.normal(0.0, 10.0, (int(coop.sum()), 2)), kind="ais",
                              mmsi=mmsi[coop]))
    return out


def _run(batches: list[MeasBatch], cfg: TrackerConfig) -> tuple[list[StepResult], list[object], Tracker]:
    trk = Tracker(cfg, "surface")
    res = [trk.step(b) for b in batches]
    t_end = float(batches[-1].t.max())
    views = [trk.view(t_end)]
    for dt in (50.0, 400.0, 1000.0):  # coasting, covariance growth, age: all tracks gone at the end
        res.append(trk.advance(t_end + dt))
        views.append(trk.view(t_end + dt))
    return res, views, trk


@pytest.mark.parametrize(("seed", "block", "horizon_s"), [(1, 8, 30.0), (2, 4, 5.0)])
def test_reach_index_and_amortised_expiry_change_nothing(seed: int, block: int, horizon_s: float,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    batches = _scenario(seed)
    cfg = TrackerConfig()
    with monkeypatch.context() as m:  # small blocks and short horizons: boxes must be right, not just big
        m.setattr(reach_mod, "BLOCK", block)
        m.setattr(reach_mod, "HORIZON_S", horizon_s)
        fast, views_fast, trk_fast = _run(batches, cfg)
    # reference: every row is a candidate of every query and due at every step
    monkeypatch.setattr(reach_mod.ReachIndex, "query",
                        lambda self, a, n_rows, *args: np.arange(n_rows, dtype=np.int64))
    monkeypatch.setattr(table_mod, "due_time", lambda mod, status, last_t, t, tr0: np.full(status.shape, -np.inf))
    full, views_full, trk_full = _run(batches, cfg)
    assert len(full) == len(fast)
    for a, b in zip(fast, full, strict=True):
        for f in ("deleted_ids", "born_ids", "spoof_ids", "merged"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        assert a.assigned == b.assigned
    for va, vb in zip(views_fast, views_full, strict=True):
        np.testing.assert_array_equal(va.track_id, vb.track_id)
        np.testing.assert_array_equal(va.status, vb.status)
        np.testing.assert_array_equal(va.x, vb.x)
        np.testing.assert_array_equal(va.mmsi, vb.mmsi)
    assert len(views_fast[0]) > 500 and len(views_fast[1]) > 0
    assert len(trk_fast) == len(trk_full) == 0  # everything expired by the final advance


def test_regional_scan_touches_only_tracks_in_its_coverage() -> None:
    trk = Tracker(TrackerConfig(), "surface")
    west, east = np.array([[-50e3, 0.0], [-52e3, 3e3]]), np.array([[50e3, 0.0], [52e3, 3e3]])
    for k in range(4):
        trk.step(_batch(4.0 * k, west, look=(-50e3, 0.0, 20e3)))
        trk.step(_batch(4.0 * k + 1.0, east, look=(50e3, 0.0, 20e3)))
    before = {k: v.copy() for k, v in trk.snapshot().items()}
    # the west radar sees only its first target: the second counts a miss, the east ones nothing
    trk.step(_batch(16.0, west[:1], look=(-50e3, 0.0, 20e3)))
    after = trk.snapshot()
    ids = before["track.id"]
    x0 = before["track.xm"][:, 0, 0]
    east_rows, west_second = np.flatnonzero(x0 > 0), int(np.argmin(np.abs(x0 + 52e3)))
    for k in ("track.xm", "track.Pm", "track.looks", "track.miss_run", "track.hist", "track.status", "track.t"):
        np.testing.assert_array_equal(after[k][east_rows], before[k][east_rows])
    assert after["track.miss_run"][west_second] == before["track.miss_run"][west_second] + 1
    assert after["track.looks"][west_second] == before["track.looks"][west_second] + 1
    np.testing.assert_array_equal(after["track.id"], ids)


def test_long_oosm_lag_satellite_payload_reruns_like_in_order() -> None:
    # A satellite AIS payload with reports spread over 18 minutes arrives after the radar
    # scans of that time (lag 1,300 s). It used to crash: its rows were re-run before radar
    # scans older than them, predicting tracks backwards (negative process noise, NaN gate
    # radius, "x must be finite" in the k-d tree). Now each row goes after the logged
    # batches older than it: the result equals processing everything in time order.
    v = np.array([[5.0, 0.0], [0.0, 4.0], [-3.0, 3.0]])
    x0 = np.array([[0.0, 0.0], [20e3, 0.0], [40e3, 0.0]])
    ts = np.arange(102.0, 1180.0, 60.0)
    sat = _batch(ts, x0[0] + v[0] * ts[:, None], kind="ais", mmsi=np.full(ts.size, 366_000_001))
    scans = [_batch(4.0 * k, x0 + v * 4.0 * k) for k in range(300)]
    cfg = TrackerConfig(oosm_lag_s=1300.0)
    late, in_order = Tracker(cfg, "surface"), Tracker(cfg, "surface")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for s in scans:
            late.step(s)
        res = late.step(sat)
        events = sorted([(4.0 * k, s) for k, s in enumerate(scans)]
                        + [(float(t), _batch(t, sat.z[i:i + 1, :2], kind="ais", mmsi=sat.mmsi[i:i + 1]))
                           for i, t in enumerate(ts)], key=lambda e: e[0])
        for _, b in events:
            in_order.step(b)
    assert res.late_dropped == 0
    a, b = late.view(1196.0), in_order.view(1196.0)
    np.testing.assert_array_equal(a.track_id, b.track_id)
    np.testing.assert_array_equal(a.mmsi, b.mmsi)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-9, atol=1e-6)
    assert 366_000_001 in a.mmsi.tolist() and np.isfinite(a.x).all()
