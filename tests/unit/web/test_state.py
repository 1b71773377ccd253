"""LivePicture: the web server's view of the service's MQTT output (pure, no broker)."""

from __future__ import annotations

import json

import pytest

from fusion.web.server import BadRequest, parse_bbox, parse_listen
from fusion.web.state import LivePicture


def track(tid: int, t: float, lat: float = 10.0, lon: float = -78.0, **extra: object) -> bytes:
    row = {"t": t, "track_id": tid, "domain": "surface", "status": "confirmed", "lat": lat, "lon": lon, "alt_m": None,
           "vel_e_mps": 1.0, "vel_n_mps": 2.0, "cov_en_m2": [[1.0, 0.0], [0.0, 1.0]], "mmsi": None, "icao24": None,
           "sources": ["radar"], **extra}
    return json.dumps(row).encode()


def alert(aid: str, tid: int, t: float, state: str = "raised", priority: float = 0.5, rule: str = "loiter") -> bytes:
    return json.dumps({"t": t, "alert_id": aid, "rule": rule, "severity": "high", "state": state, "track_id": tid,
                       "lat": 10.0, "lon": -78.0, "zone": None, "mmsi": None, "icao24": None, "reason": "r",
                       "related_track_ids": [], "priority": priority, "evidence": {}}).encode()


def test_tracks_update_delete_and_keep_trail() -> None:
    p = LivePicture(trail_points=3)
    for i in range(5):
        p.on_message("jisf/v1/tracks/surface/7", track(7, 100.0 + i, lat=10.0 + i))
    p.on_message("jisf/v1/tracks/surface/7", track(7, 104.0, lat=14.0))  # the same retained state again: no new point
    assert p.tracks[7]["lat"] == 14.0
    assert [pt["lat"] for pt in p.trail(7)] == [12.0, 13.0, 14.0]  # bounded ring buffer, oldest first
    assert [pt["t"] for pt in p.trail(7, since=103.0)] == [103.0, 104.0]
    assert [pt["t"] for pt in p.trail(7, limit=1)] == [102.0]
    p.take_changes()
    p.on_message("jisf/v1/tracks/surface/7", b"")
    assert 7 not in p.tracks and len(p.trail(7)) == 3  # history outlives the track
    ch = p.take_changes()
    assert ch.deleted == [7] and ch.tracks == []
    assert not p.take_changes()


def test_trail_tracks_bounded_least_recent_dropped() -> None:
    p = LivePicture(trail_points=2, max_trail_tracks=2)
    for tid in (1, 2, 1, 3):
        p.on_message(f"jisf/v1/tracks/surface/{tid}", track(tid, 100.0 + tid * 10 + len(p.trail(tid))))
    assert sorted(p.trails) == [1, 3]


def test_alerts_latest_state_ranked_and_suspect() -> None:
    p = LivePicture()
    p.on_message("jisf/v1/tracks/surface/1", track(1, 100.0))
    p.on_message("jisf/v1/tracks/surface/2", track(2, 100.0))
    p.on_message("jisf/v1/alerts/loiter/1", alert("a", 1, 101.0, priority=0.2))
    p.on_message("jisf/v1/alerts/rendezvous/2", alert("b", 2, 102.0, priority=0.9, rule="rendezvous"))
    p.on_message("jisf/v1/alerts/loiter/1", alert("c", 1, 103.0, state="cleared", priority=5.0))
    p.on_message("jisf/v1/alerts/loiter/1", alert("a", 1, 100.5, state="cleared"))  # older than the latest: ignored
    assert [a["alert_id"] for a in p.alert_list()] == ["b", "a", "c"]  # open by priority, then cleared
    assert p.alerts["a"]["state"] == "raised"
    assert [a["alert_id"] for a in p.alert_list(since=102.0)] == ["b", "c"]
    assert [a["alert_id"] for a in p.alert_list(rule="loiter", state="raised")] == ["a"]
    assert {r["track_id"] for r in p.track_list(status="suspect")} == {1, 2}
    p.take_changes()
    p.on_message("jisf/v1/alerts/loiter/1", alert("a", 1, 104.0, state="cleared"))
    ch = p.take_changes()
    assert [(r["track_id"], r["suspect"]) for r in ch.tracks] == [(1, False)]  # the flag flipped: the track is resent


def test_operator_actions_attach_once() -> None:
    p = LivePicture()
    p.on_message("jisf/v1/alerts/loiter/1", alert("a", 1, 101.0))
    act = {"alert_id": "a", "action": "acknowledge", "by": "op", "why": "", "t": 105.0}
    p.on_message("jisf/v1/ops/acknowledge/a", json.dumps(act).encode())
    p.on_message("jisf/v1/ops/acknowledge/a", json.dumps(act).encode())  # at-least-once: a duplicate
    p.on_message("jisf/v1/alerts/loiter/1", alert("a", 1, 106.0, state="updated"))
    assert p.alerts["a"]["actions"] == [act] and p.alerts["a"]["state"] == "updated"


@pytest.mark.parametrize(("topic", "payload", "field"), [
    ("jisf/v1/tracks/surface/1", b"{not json", "payload"),
    ("jisf/v1/tracks/surface/1", b"[1]", "payload"),
    ("jisf/v1/tracks/surface/1", track(1, 1.0, lat=95.0), "lat/lon"),
    ("jisf/v1/tracks/surface/x", b"", "topic"),
    ("jisf/v1/tracks/surface/1", json.dumps({"track_id": "1", "t": 1, "lat": 0, "lon": 0}).encode(), "track_id"),
    ("jisf/v1/alerts/loiter/1", alert("a", 1, 1.0, state="opened"), "state"),
    ("jisf/v1/ops/acknowledge/a", b'{"alert_id": "a", "action": "approve"}', "action"),
])
def test_bad_messages_counted_with_the_field(topic: str, payload: bytes, field: str) -> None:
    p = LivePicture()
    p.on_message(topic, payload)
    assert sum(p.rejected.values()) == 1 and f": {field}" in p.last_reject
    assert not p.tracks and not p.alerts


def test_parse_bbox_and_listen() -> None:
    assert parse_bbox("-80,9,-78.5,10") == (-80.0, 9.0, -78.5, 10.0)
    for bad in ("", "1,2,3", "a,b,c,d", "10,0,5,1", "-200,0,0,1"):
        with pytest.raises(BadRequest, match="bbox"):
            parse_bbox(bad)
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:0") == ("::1", 0)
    with pytest.raises(ValueError, match="--listen"):
        parse_listen("8080")
