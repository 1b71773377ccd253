"""Track rows and output topics built from a TrackView."""

from __future__ import annotations

import json

import numpy as np

from fusion.core.arrays import CONFIRMED, NO_ICAO, NO_MMSI, SENSOR_BIT, TENTATIVE, TrackView
from fusion.core.frame import LocalFrame
from fusion.publish import TrackRow, alert_topic, encode, picture, track_rows, track_topic


def make_view(frame: LocalFrame) -> TrackView:
    e, n = frame.to_local(np.array([12.0, 13.0]), np.array([-80.0, -79.0]))
    x = np.stack([e, n, np.array([5.0, 0.0]), np.array([0.0, -3.0])], axis=1)
    P = np.tile(np.diag([100.0, 400.0, 1.0, 1.0]), (2, 1, 1))
    return TrackView(
        t=1_700_000_000.0, domain="surface", track_id=np.array([7, 8]), status=np.array([CONFIRMED, TENTATIVE], dtype=np.int8),
        x=x, P=P, alt_m=np.full(2, np.nan), vrate_mps=np.full(2, np.nan), mmsi=np.array([367000140, NO_MMSI]),
        icao24=np.array([NO_ICAO, 0xABC123]), first_t=np.zeros(2), last_t=np.zeros(2), last_ais_t=np.array([0.0, np.nan]),
        last_noncoop_t=np.zeros(2), sources=np.array([SENSOR_BIT["ais"] | SENSOR_BIT["radar"], SENSOR_BIT["radar"]]),
        spoof_suspect=np.zeros(2, dtype=bool),
    )


def test_track_rows_round_trip_position_and_fields() -> None:
    frame = LocalFrame(8.0, 18.0, -85.0, -75.0)
    rows = track_rows(make_view(frame), frame)
    assert [r.track_id for r in rows] == [7, 8]
    assert abs(rows[0].lat - 12.0) < 1e-9 and abs(rows[0].lon + 80.0) < 1e-9
    assert rows[0].status == "confirmed" and rows[1].status == "tentative"
    assert rows[0].mmsi == 367000140 and rows[1].mmsi is None
    assert rows[0].icao24 is None and rows[1].icao24 == "abc123"
    assert rows[0].sources == ["ais", "radar"]
    J = frame.en_jacobian(12.0, -80.0)[0]
    v_true = np.linalg.solve(J, [5.0, 0.0])  # frame m/s back to true east/north m/s
    assert np.allclose([rows[0].vel_e_mps, rows[0].vel_n_mps], v_true, atol=1e-9)
    assert abs(np.hypot(*v_true) - 5.0 / float(frame.scale(12.0, -80.0))) < 1e-6
    P_true = np.linalg.solve(J, np.linalg.solve(J, np.diag([100.0, 400.0])).T)
    assert np.allclose(rows[0].cov_en_m2, P_true, rtol=1e-9)
    line = json.loads(encode(rows[0]))
    assert list(line) == list(TrackRow.__struct_fields__)
    assert line["alt_m"] is None


def test_picture_holds_only_confirmed_tracks() -> None:
    frame = LocalFrame(8.0, 18.0, -85.0, -75.0)
    pic = picture(track_rows(make_view(frame), frame), 1.0)
    assert pic["type"] == "FeatureCollection"
    assert [f["id"] for f in pic["features"]] == [7]


def test_topics() -> None:
    assert track_topic("air", 1_000_000_003) == "jisf/v1/tracks/air/1000000003"
    assert alert_topic("go_fast", 12) == "jisf/v1/alerts/go_fast/12"
