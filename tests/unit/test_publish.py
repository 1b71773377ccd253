"""Track rows and output topics built from a TrackView."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from fusion.core.arrays import COASTING, CONFIRMED, NO_ICAO, NO_MMSI, SENSOR_BIT, TENTATIVE, TrackView, fixed_covariance
from fusion.core.frame import LocalFrame
from fusion.identity import IdentityLookup
from fusion.publish import (
    TrackRow,
    TrackUpdates,
    alert_topic,
    encode,
    picture,
    track_rows,
    track_topic,
)
from sensors.geodesy import FrameJacobian
from sensors.reports import AisStatic


def make_view(frame: LocalFrame) -> TrackView:
    e, n = frame.to_local(np.array([12.0, 13.0]), np.array([-80.0, -79.0]))
    x = np.stack([e, n, np.array([5.0, 0.0]), np.array([0.0, -3.0])], axis=1)
    P = np.tile(np.diag([100.0, 400.0, 1.0, 1.0]), (2, 1, 1))
    return TrackView(
        t=1_700_000_000.0, domain="surface", track_id=np.array([7, 8]), status=np.array([CONFIRMED, TENTATIVE], dtype=np.int8),
        x=x, covariance=fixed_covariance(P), alt_m=np.full(2, np.nan), vrate_mps=np.full(2, np.nan), mmsi=np.array([367000140, NO_MMSI]),
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
    J = FrameJacobian.of(frame).matrix(12.0, -80.0)[0]  # closed form (exact to rounding)
    assert np.allclose(J, frame.en_jacobian(12.0, -80.0)[0], atol=1e-6)  # the frame's finite differences
    v_true = np.linalg.solve(J, [5.0, 0.0])  # frame m/s back to true east/north m/s
    assert np.allclose([rows[0].vel_e_mps, rows[0].vel_n_mps], v_true, atol=1e-9)
    assert abs(np.hypot(*v_true) - 5.0 / float(frame.scale(12.0, -80.0))) < 1e-6
    P_true = np.linalg.solve(J, np.linalg.solve(J, np.diag([100.0, 400.0])).T)
    assert np.allclose(rows[0].cov_en_m2, P_true, rtol=1e-9)
    line = json.loads(encode(rows[0]))
    # the DESIGN.md fields, in order; identity fields only when known (none without a lookup)
    assert list(line) == list(TrackRow.__struct_fields__[:TrackRow.__struct_fields__.index("sources") + 1])
    assert line["alt_m"] is None


def test_track_rows_carry_identity_by_mmsi_and_icao_in_rows_and_picture() -> None:
    frame = LocalFrame(8.0, 18.0, -85.0, -75.0)
    statics = {367000140: AisStatic(t=0.0, source="r", mmsi=367000140, name="SEA WITCH", callsign="WDA1234", ship_type=30)}
    lookup = IdentityLookup(statics, {0xABC123: "N123AB"})
    rows = track_rows(make_view(frame), frame, lookup)
    assert (rows[0].name, rows[0].callsign, rows[0].ship_type, rows[0].ship_type_text, rows[0].flag, rows[0].country) == (
        "SEA WITCH", "WDA1234", 30, "Fishing", "US", None)
    assert (rows[1].name, rows[1].callsign, rows[1].flag, rows[1].country) == (None, "N123AB", None, "US")
    line = json.loads(encode(rows[0]))
    assert list(line)[-6:] == ["sources", "name", "callsign", "ship_type", "ship_type_text", "flag"]  # added at the end
    confirmed = picture(rows, rows[0].t).features[0]
    props = json.loads(encode(confirmed))["properties"]
    assert props["name"] == "SEA WITCH" and props["flag"] == "US" and "country" not in props


def test_picture_holds_only_confirmed_tracks() -> None:
    frame = LocalFrame(8.0, 18.0, -85.0, -75.0)
    rows = track_rows(make_view(frame), frame)
    pic = json.loads(encode(picture(rows, 1.0)))
    assert pic["type"] == "FeatureCollection" and pic["t"] == 1.0
    (feature,) = pic["features"]
    (row,) = (json.loads(encode(r)) for r in rows if r.track_id == 7)
    assert feature["type"] == "Feature" and feature["id"] == 7
    assert feature["geometry"] == {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
    assert feature["properties"] == {k: v for k, v in row.items() if k not in ("lat", "lon")}


def test_topics() -> None:
    assert track_topic("air", 1_000_000_003) == "jisf/v1/tracks/air/1000000003"
    assert alert_topic("go_fast", 12) == "jisf/v1/alerts/go_fast/12"


def test_take_keeps_the_chosen_tracks_only() -> None:
    frame = LocalFrame(8.0, 18.0, -85.0, -75.0)
    v = make_view(frame)
    one = v.take(np.array([1]))
    assert len(one) == 1 and one.t == v.t and one.domain == v.domain
    assert one.track_id.tolist() == [8] and one.x.shape == (1, 4) and one.P.shape == (1, 4, 4)
    assert track_rows(one, frame) == track_rows(v, frame)[1:]
    assert np.array_equal(one.P, v.P[1:]) and np.array_equal(one.take(np.array([0])).P, v.P[1:])


def _with(v: TrackView, **kw: np.ndarray) -> TrackView:
    return replace(v, **kw)


def test_track_updates_publish_changed_tracks_at_most_once_per_interval() -> None:
    frame = LocalFrame(8.0, 18.0, -85.0, -75.0)
    v = _with(make_view(frame), last_t=np.array([100.0, 100.0]))
    upd = TrackUpdates(interval_s=5.0)
    assert upd.select(100.0, {"surface": v})["surface"].tolist() == [0]  # the confirmed one; never a tentative one
    assert upd.select(101.0, {"surface": v})["surface"].tolist() == []  # unchanged: nothing
    moved = _with(v, last_t=np.array([101.5, 101.5]))
    # track 7's interval: 5 s x (1 + 0.5 frac(7 x 0.618...)) = 5.82 s
    assert upd.select(102.0, {"surface": moved})["surface"].tolist() == []  # updated, but within 5 s of the last message
    assert upd.select(105.7, {"surface": moved})["surface"].tolist() == []  # and within its own 5.82 s
    assert upd.select(105.9, {"surface": moved})["surface"].tolist() == [0]  # then the update goes out
    assert upd.select(106.0, {"surface": moved})["surface"].tolist() == []
    coasting = _with(moved, status=np.array([COASTING, CONFIRMED], dtype=np.int8))
    # a status change goes out at once; the track confirmed since the last tick is new: published too
    assert upd.select(106.2, {"surface": coasting})["surface"].tolist() == [0, 1]
    assert upd.ids.tolist() == [7, 8]
    assert upd.forget([8, 99]) == [8] and upd.ids.tolist() == [7]
    assert upd.forget([8]) == []


def test_track_updates_of_tracks_published_together_fall_due_spread_over_half_an_interval() -> None:
    frame = LocalFrame(8.0, 18.0, -85.0, -75.0)
    n = 1000
    one = make_view(frame)
    v = TrackView(**{**{f: getattr(one, f) for f in TrackView.__dataclass_fields__},
                     **{f: np.repeat(getattr(one, f)[:1], n, axis=0) for f in TrackView.__dataclass_fields__
                        if isinstance(getattr(one, f), np.ndarray)},
                     "track_id": np.arange(1, n + 1), "last_t": np.zeros(n), "covariance": fixed_covariance(np.tile(np.eye(4), (n, 1, 1)))})
    upd = TrackUpdates(interval_s=5.0)
    assert len(upd.select(0.0, {"surface": v})["surface"]) == n  # all new: published together
    moved = _with(v, last_t=np.full(n, 1.0))
    per_tick = [len(upd.select(0.1 * k, {"surface": moved})["surface"]) for k in range(1, 80)]
    assert sum(per_tick[:49]) == 0  # none within interval_s
    assert sum(per_tick) == n and max(per_tick) <= 2 * n * 0.1 / 2.5  # due over 5-7.5 s, about evenly


def test_track_updates_keep_deleted_tracks_until_forgotten_and_restore() -> None:
    frame = LocalFrame(8.0, 18.0, -85.0, -75.0)
    v = _with(make_view(frame), status=np.array([CONFIRMED, CONFIRMED], dtype=np.int8))
    upd = TrackUpdates(interval_s=0.0)
    assert upd.select(1.0, {"surface": v})["surface"].tolist() == [0, 1]
    gone = v.take(np.array([1]))  # track 7 deleted in the tracker
    assert upd.select(2.0, {"surface": gone})["surface"].tolist() == []
    assert upd.ids.tolist() == [7, 8]  # 7's retained message is still out until the deletion is seen
    assert upd.forget([7]) == [7]
    restored = TrackUpdates(interval_s=60.0)
    restored.restore([8])
    assert restored.select(3.0, {"surface": gone})["surface"].tolist() == [0]  # republished after a restore
    with pytest.raises(ValueError, match="interval_s"):
        TrackUpdates(interval_s=-1.0)
