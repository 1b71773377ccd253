"""ais_spoofing against identity swaps: the identity's reports fit another radar-held track (fusion.rules.lineage)."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.core.arrays import NO_MMSI
from fusion.rules.lineage import M_PER_DEG, identity_heard_near
from fusion.rules.reporting import AisReporting, ReportingArrays
from fusion.rules.scene import Scene
from fusion.rules.synthetic import empty, engine, rules, view
from sensors.reports import AisPosition

T0 = 1_700_013_600.0
MMSI = 9
LAT, LON = 15.01, -75.0


def reported_at(lat: float, t: float = T0) -> ReportingArrays:
    """The reporting table after one report of MMSI at (lat, LON) at ``t``."""
    table = AisReporting()
    table.add([AisPosition(t=t, source="rx", mmsi=MMSI, lat=lat, lon=LON, sog_mps=5.0)])
    return table.arrays()


def spoof_raised(reporting: ReportingArrays, other_lat: float | None, other_mmsi: int = NO_MMSI) -> bool:
    """One tick: the flagged track bearing MMSI at (LAT, LON), and maybe another radar-held track at ``other_lat``."""
    lats = [LAT] if other_lat is None else [LAT, other_lat]
    mmsi = [MMSI] if other_lat is None else [MMSI, other_mmsi]
    spoof = [True] if other_lat is None else [True, False]
    views = {"surface": view("surface", T0, lats, LON, [(0.0, 0.0)] * len(lats), mmsi=mmsi, last_ais_t=T0 - 200.0,
                             spoof=spoof), "air": empty("air", T0)}
    events = engine(cfg=rules({"rules": {"ais_spoofing": {}}})).evaluate(T0, views, reporting=reporting)
    return any(e.rule == "ais_spoofing" and e.state == "raised" for e in events)


def test_reports_fitting_a_neighbour_without_identity_are_a_swap_not_spoofing() -> None:
    """Issue 14 (tune side, kingston-1000): the tug left the pilot boats it was moored beside; its identity stayed on
    their track and its reports, 400 m away, fit the tug's own radar track, which has no identity."""
    away = LAT + 400.0 / M_PER_DEG
    assert not spoof_raised(reported_at(away), other_lat=away)
    assert spoof_raised(reported_at(away), other_lat=None)  # nobody there: the flag stands
    assert spoof_raised(reported_at(away), other_lat=away, other_mmsi=77)  # a vessel sending its own identity there
    far = LAT + 20.0 * 1852.0 / M_PER_DEG  # a 20 nm offset (the corpus's spoofers: 10-30 nm) with a track 5 km off
    assert spoof_raised(reported_at(far), other_lat=far + 5000.0 / M_PER_DEG)
    assert spoof_raised(ReportingArrays(), other_lat=away)  # the identity never heard: nothing to compare


def test_identity_heard_near_reach_grows_with_the_report_age() -> None:
    """A report 300 s old: a track moving 5 m/s may be 1.5 km farther from it than the gate."""
    away = LAT + 2500.0 / M_PER_DEG
    views = {"surface": view("surface", T0, [LAT, away], LON, [(0.0, 0.0), (5.0, 0.0)], mmsi=[MMSI, NO_MMSI]),
             "air": empty("air", T0)}
    eng = engine()
    s = Scene.build(T0, views, eng.frame, ["confirmed"], eng.geometry, eng.shore, 3600.0)
    rows = np.array([int(np.flatnonzero(s.mmsi == MMSI)[0])])
    at = lambda age, others_only=True: identity_heard_near(s, rows, np.array([T0 - age]), np.array([LAT]), np.array([LON]),
                                                           120.0, 1500.0, others_only)[0]
    assert not at(0.0) and at(300.0)
    assert at(0.0, others_only=False)  # heard at the track itself


@pytest.mark.parametrize("seed", [14, 15, 16])
def test_identity_heard_near_is_the_dense_test_of_every_pair(seed: int) -> None:
    """The track itself, the same-MMSI join and the k-d tree's candidate pairs lose nothing: 300 tracks (a third without
    MMSI, shared MMSIs, speeds 0-25 m/s, a quarter not radar-held) and reports of random age and place (some at the
    track itself, some never heard) give the same answer as testing every (report, track) pair."""
    rng = np.random.default_rng(seed)
    n = 300
    lats = LAT + rng.uniform(-0.2, 0.2, n)
    vel = [(float(a), float(b)) for a, b in rng.uniform(-18.0, 18.0, (n, 2))]
    mmsi = np.where(rng.random(n) < 0.33, NO_MMSI, rng.integers(1, 60, n))
    radar_t = np.where(rng.random(n) < 0.25, T0 - 600.0, T0)
    views = {"surface": view("surface", T0, list(lats), LON, vel, mmsi=list(mmsi), last_noncoop_t=radar_t),
             "air": empty("air", T0)}
    eng = engine()
    s = Scene.build(T0, views, eng.frame, ["confirmed"], eng.geometry, eng.shore, 3600.0)
    rows = np.flatnonzero(s.mmsi != NO_MMSI)
    age = rng.choice([0.0, 30.0, 200.0, 900.0], len(rows))
    spread = np.where(rng.random(len(rows)) < 0.3, 0.0, 0.02)  # heard at the track itself, or around it
    h_lat = s.lat[rows] + rng.normal(0.0, 1.0, len(rows)) * spread
    h_lon = s.lon[rows] + rng.normal(0.0, 1.0, len(rows)) * spread
    h_lat[rng.random(len(rows)) < 0.1] = np.nan  # never heard
    east = s.east[rows] + (h_lon - s.lon[rows]) * M_PER_DEG * np.cos(np.radians(s.lat[rows]))
    north = s.north[rows] + (h_lat - s.lat[rows]) * M_PER_DEG
    others = np.flatnonzero(~s.is_air & (s.t - s.last_noncoop_t <= 120.0))
    d = np.hypot(s.east[others][None, :] - east[:, None], s.north[others][None, :] - north[:, None])
    fits = (d <= 1500.0 + s.speed_mps[others][None, :] * age[:, None]) & (
        (s.mmsi[others][None, :] == NO_MMSI) | (s.mmsi[others][None, :] == s.mmsi[rows][:, None]))
    for others_only in (False, True):
        want = (fits & (s.track_id[others][None, :] != s.track_id[rows][:, None])) if others_only else fits
        got = identity_heard_near(s, rows, T0 - age, h_lat, h_lon, 120.0, 1500.0, others_only)
        want = want.any(axis=1) & np.isfinite(h_lat)
        assert want.any() and not want.all()
        np.testing.assert_array_equal(got, want)
