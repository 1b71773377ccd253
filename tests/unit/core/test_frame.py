"""Local frame error over a 3,000 km area against pyproj.Geod geodesics."""

from __future__ import annotations

import numpy as np
import pyproj

from fusion.core.frame import LocalFrame

AREA = (0.0, 27.0, -95.0, -68.0)  # ~3,000 km x 2,900 km: Caribbean and Eastern Pacific transit zones


def test_distances_and_azimuths_against_geodesics() -> None:
    frame = LocalFrame(*AREA)
    geod = pyproj.Geod(ellps="WGS84")
    rng = np.random.default_rng(3)
    lat1, lon1 = rng.uniform(AREA[0], AREA[1], 2000), rng.uniform(AREA[2], AREA[3], 2000)
    az0, dist0 = rng.uniform(0, 360, 2000), rng.uniform(1_000, 50_000, 2000)  # local pairs, up to a gate's reach
    lon2, lat2, _ = geod.fwd(lon1, lat1, az0, dist0)
    e1, n1 = frame.to_local(lat1, lon1)
    e2, n2 = frame.to_local(lat2, lon2)
    J = frame.en_jacobian(0.5 * (lat1 + lat2), 0.5 * (lon1 + lon2))
    d_frame = np.stack([e2 - e1, n2 - n1], axis=1)
    d_true = np.linalg.solve(J, d_frame[..., None])[..., 0]  # back to true east/north metres
    rel = np.abs(np.linalg.norm(d_true, axis=1) / dist0 - 1.0)
    az = np.degrees(np.arctan2(d_true[:, 0], d_true[:, 1])) % 360
    _, back, _ = geod.inv(lon1, lat1, lon2, lat2)
    back = np.asarray(back)
    half_turn = ((back + 180 - az0 + 180) % 360 - 180) / 2  # the geodesic's azimuth at its midpoint
    daz = np.abs((az - az0 - half_turn + 180) % 360 - 180)
    assert rel.max() < 1e-4 and daz.max() < 0.01, (rel.max(), daz.max())
    # raw frame distances over the whole area (no scale correction): the projection's own error
    a = rng.integers(0, 2000, 500)
    _, _, dist = geod.inv(lon1[a], lat1[a], lon1[::-1][a], lat1[::-1][a])
    raw = np.hypot(e1[a] - e1[::-1][a], n1[a] - n1[::-1][a])
    far = dist > 100_000
    assert np.abs(raw[far] / dist[far] - 1.0).max() < 0.013


def test_round_trip() -> None:
    frame = LocalFrame(*AREA)
    lat, lon = np.array([0.0, 13.5, 27.0]), np.array([-95.0, -81.5, -68.0])
    la, lo = frame.to_geodetic(*frame.to_local(lat, lon))
    np.testing.assert_allclose(la, lat, atol=1e-9)
    np.testing.assert_allclose(lo, lon, atol=1e-9)
