"""Numerical safety of the IMM filter and the tracker's guard (issue 15 item 2).

The reported failure: an ADS-B aircraft decelerating 450 -> 280 kn at a waypoint, heard by
two receivers that forward the same report: the constant-velocity model's probability
underflowed to 0, the second (zero-interval) update mixed with 0/0, NaN reached the gate
and ``jisf evaluate`` wrote null positions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec
import numpy as np
import pytest

from fusion.core import kalman
from fusion.core.arrays import NO_ICAO, NO_MMSI, MeasBatch
from fusion.core.frame import LocalFrame
from fusion.core.tracker import Tracker, TrackerConfig
from fusion.offline import TRACKS_FILE, run_to_dir
from fusion.pipeline import Fusion
from fusion.rules.engine import default_rules
from fusion.rules.zones import ZoneSet
from sensors import adsb
from sensors.codec import KNOT_MPS
from sensors.reports import AdsbReport
from sim_feeds.geo import offset

T0 = 1_780_000_000.0
ICAO = 0xA1B2C3


def _decelerating_aircraft() -> list[AdsbReport]:
    """1 Hz ADS-B reports: 120 s east at 450 kn, then from a waypoint 120 s at 280 kn (the
    simulator's routes change speed at a waypoint, as this one does)."""
    lat, lon, course = 15.0, -84.6, 90.0
    reports = []
    for k in range(240):
        speed = (450.0 if k < 120 else 280.0) * KNOT_MPS
        la, lo = offset(np.array([lat]), np.array([lon]), np.array([course]), np.array([speed]))
        lat, lon = float(la[0]), float(lo[0])
        reports.append(AdsbReport(t=T0 + k, source="rx", icao24=ICAO, lat=round(lat, 6), lon=round(lon, 6),
                                  alt_m=3048.0, gs_mps=round(speed / KNOT_MPS, 1) * KNOT_MPS, track_deg=course,
                                  vrate_mps=0.0))
    return reports


@pytest.mark.parametrize("offset_deg", [0.0, 1e-6])
def test_decelerating_aircraft_heard_twice_fuses_to_finite_tracks(tmp_path: Path, offset_deg: float) -> None:
    # the same SBS-1 report from two receivers at the same receive time, through ingest, the
    # re-order window, the air pool and the evaluation writer (what ``jisf evaluate`` runs).
    # Identical reports are merged (one update); with the second receiver's position one
    # wire step (1e-6 deg) off they are two updates at a zero interval.
    messages = []
    for r in _decelerating_aircraft():
        other = msgspec.structs.replace(r, lat=round(r.lat + offset_deg, 6))
        messages += [(r.t + 0.4, "jisf/v1/feeds/adsb/rx-north", adsb.encode_sbs([r])),
                     (r.t + 0.4, "jisf/v1/feeds/adsb/rx-south", adsb.encode_sbs([other]))]
    fusion = Fusion(LocalFrame(13.0, 17.0, -86.0, -82.0), ZoneSet.from_geojson({"type": "FeatureCollection", "features": []}, "none"),
                    default_rules())
    summary = run_to_dir(fusion, messages, tmp_path, None)
    assert summary.rejected == 0 and fusion.counters.measurements >= 240
    rows = [json.loads(line) for line in (tmp_path / TRACKS_FILE).read_text().splitlines()]
    assert rows
    for row in rows:
        for key in ("lat", "lon", "vel_e_mps", "vel_n_mps"):
            assert row[key] is not None and math.isfinite(row[key]), row
        assert all(v is not None and math.isfinite(v) for pair in row["cov_en_m2"] for v in pair), row
    # one track followed the aircraft through the manoeuvre and ended at 280 kn
    assert {r["track_id"] for r in rows if r["icao24"] == f"{ICAO:06x}"} == {rows[-1]["track_id"]}
    assert math.hypot(rows[-1]["vel_e_mps"], rows[-1]["vel_n_mps"]) == pytest.approx(280.0 * KNOT_MPS, abs=5.0)
    assert fusion.counters.nonfinite_dropped == 0
    assert fusion.counters.duplicates_merged == (240 if offset_deg == 0.0 else 0)
    mu = fusion.trackers["air"].snapshot()["track.mu"]
    assert (mu >= kalman.MU_FLOOR).all() and np.allclose(mu.sum(axis=1), 1.0)


def test_model_probability_never_underflows() -> None:
    cbar = np.array([[0.9, 0.1], [0.5, 0.5], [1.0, 0.0]])
    log_lik = np.array([[-5000.0, 0.0], [-np.inf, -np.inf], [np.nan, -1.0]])
    mu = kalman.imm_posterior(cbar, log_lik)
    assert np.isfinite(mu).all() and (mu >= kalman.MU_FLOOR).all()
    np.testing.assert_allclose(mu.sum(axis=1), 1.0)
    assert mu[0, 1] == pytest.approx(1.0) and mu[0, 0] == pytest.approx(kalman.MU_FLOOR)
    np.testing.assert_allclose(mu[1], [0.5, 0.5])  # no likelihood at all: the prior
    assert mu[2, 0] == pytest.approx(1.0) and mu[2, 1] == pytest.approx(kalman.MU_FLOOR)  # a NaN likelihood: the prior, floored


def _state(n: int, r: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xm = rng.normal(0.0, 100.0, (n, r, 4))
    A = rng.normal(0.0, 10.0, (n, r, 4, 4))
    return xm, A @ A.swapaxes(-1, -2) + np.eye(4)


def test_zero_interval_prediction_and_mixing_are_the_identity() -> None:
    xm, Pm = _state(5, 2, 1)
    mu = np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7], [kalman.MU_FLOOR, 1.0 - kalman.MU_FLOOR], [0.5, 0.5]])
    dt = np.zeros(5)
    x0, P0, cbar = kalman.imm_mix(xm, Pm, mu, kalman.markov_matrix(dt, np.array([120.0, 20.0])))
    xp, Pp = kalman.cv_predict(x0, P0, dt, np.array([0.5, 50.0]), 2)
    assert np.isfinite(cbar).all() and np.allclose(cbar.sum(axis=1), 1.0)
    np.testing.assert_array_equal(xp, xm)  # bit for bit: each model keeps its own state
    np.testing.assert_array_equal(Pp, Pm)


def test_duplicate_update_keeps_the_covariance_positive_definite() -> None:
    xm, Pm = _state(50, 2, 2)
    H = np.eye(4)
    R = np.broadcast_to(np.diag([1.2**2, 1.2**2, 1.5**2, 1.5**2]), (50, 1, 4, 4))  # NACp 11 and ADS-B velocity
    z = (xm[:, :1] + 30.0)
    x1, P1, _ = kalman.update(xm, Pm, z, H, R)
    x2, P2, inn = kalman.update(x1, P1, z, H, R)  # the same report again, zero interval
    for P in (P1, P2):
        np.testing.assert_array_equal(P, P.swapaxes(-1, -2))
        assert (np.linalg.eigvalsh(P) > 0.0).all()
    assert np.isfinite(x2).all() and np.isfinite(inn.log_lik).all()
    assert (np.trace(P2, axis1=-2, axis2=-1) < np.trace(P1, axis1=-2, axis2=-1)).all()


def _plot(t: float, xy: tuple[float, float]) -> MeasBatch:
    z = np.array([[xy[0], xy[1], np.nan, np.nan]])
    R = np.zeros((1, 4, 4))
    R[0, 0, 0] = R[0, 1, 1] = 50.0**2
    return MeasBatch(t=np.array([t]), z=z, R=R, has_vel=np.zeros(1, bool), alt_m=np.full(1, np.nan),
                     sigma_alt_m=np.full(1, np.nan), mmsi=np.full(1, NO_MMSI, np.int64), icao24=np.full(1, NO_ICAO, np.int64),
                     sensor_kind="radar", sensor_id="s", domain="surface")


@pytest.mark.parametrize("column", ["xm", "Pm", "mu"])
def test_a_non_finite_track_is_deleted_and_counted_never_gated(column: str) -> None:
    trk = Tracker(TrackerConfig(), "surface")
    for k in range(4):
        trk.step(_plot(4.0 * k, (20.0 * k, 0.0)))
        trk.step(_plot(4.0 * k, (20.0 * k, 30_000.0)))
    snap = trk.snapshot()
    assert snap["track.id"].size == 2
    snap[f"track.{column}"][0] = np.nan  # a state gone bad (e.g. restored from an old checkpoint)
    trk = Tracker.restore(TrackerConfig(), "surface", snap)
    bad_id = int(snap["track.id"][0])
    res = trk.step(_plot(16.0, (80.0, 0.0)))  # lands in the bad track's gate: the grid, then the k-d tree
    assert res.nonfinite_dropped == 1 and res.deleted_ids.tolist() == [bad_id]
    view = trk.view(16.0)
    assert bad_id not in view.track_id.tolist() and np.isfinite(view.x).all() and np.isfinite(view.P).all()
    assert trk.step(_plot(20.0, (100.0, 0.0))).nonfinite_dropped == 0


def _adsb_rows(t: float, rows: list[tuple[float, float]]) -> MeasBatch:
    n = len(rows)
    z = np.array([[e, 0.0, 200.0, 0.0] for e, _ in rows])
    z[:, 1] = [nn for _, nn in rows]
    R = np.tile(np.diag([40.0**2, 40.0**2, 1.5**2, 1.5**2]), (n, 1, 1))
    return MeasBatch(t=np.full(n, t), z=z, R=R, has_vel=np.ones(n, bool), alt_m=np.full(n, 3000.0), sigma_alt_m=np.full(n, 15.0),
                     mmsi=np.full(n, NO_MMSI, np.int64), icao24=np.full(n, 0xABC123, np.int64), sensor_kind="adsb", sensor_id="rx",
                     domain="air")


def test_exact_duplicate_reports_are_merged_into_one_update() -> None:
    once, twice = Tracker(TrackerConfig(), "air"), Tracker(TrackerConfig(), "air")
    for k in range(5):
        t, e = 1.0 * k, 200.0 * k
        assert once.step(_adsb_rows(t, [(e, 0.0)])).duplicates_merged == 0
        res = twice.step(_adsb_rows(t, [(e, 0.0), (e, 0.0), (e, 0.0)]))  # three receivers, one report
        assert res.duplicates_merged == 2
    for key, value in once.snapshot().items():
        np.testing.assert_array_equal(twice.snapshot()[key], value, err_msg=key)  # bit for bit the single update
    # two different reports of one aircraft at one time are not duplicates: both update, in turn
    res = twice.step(_adsb_rows(5.0, [(1000.0, 0.0), (1000.0, 30.0)]))
    assert res.duplicates_merged == 0 and res.assigned == 2
