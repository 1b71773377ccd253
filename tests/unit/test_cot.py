"""jisf cot: track and alert payloads -> CoT XML events, checked by parsing them back."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest
import takproto  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.cot import (
    MARKER_TYPE,
    CotBridge,
    CotOptions,
    CotTarget,
    circular_error_m,
    cot_time,
    cot_type,
    course_speed,
)

NOW = 1_796_620_000.0
TOPIC = "jisf/v1/tracks/surface/12"
REQUIRED_EVENT_ATTRS = ("version", "uid", "type", "how", "time", "start", "stale")
REQUIRED_POINT_ATTRS = ("lat", "lon", "hae", "ce", "le")


def row(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"t": NOW, "track_id": 12, "domain": "surface", "status": "confirmed", "lat": 15.5, "lon": -80.25,
                                "alt_m": None, "vel_e_mps": 0.0, "vel_n_mps": 10.0, "cov_en_m2": [[400.0, 0.0], [0.0, 100.0]],
                                "mmsi": None, "icao24": None, "sources": ["radar"]}
    base.update(kw)
    return base


def alert(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"t": NOW, "alert_id": "go_fast-7-1", "rule": "go_fast", "severity": "high", "state": "raised",
                                "track_id": 12, "lat": 15.5, "lon": -80.25, "zone": "Gulf of Honduras", "mmsi": None, "icao24": None,
                                "reason": "speed 41 kn for 60 s", "related_track_ids": [], "priority": 0.91, "evidence": {}}
    base.update(kw)
    return base


def enc(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode()


def parse(event: bytes) -> ET.Element:
    """Parse one event and check the CoT essentials every TAK client needs."""
    ev = ET.fromstring(event)
    assert ev.tag == "event" and ev.get("version") == "2.0"
    for a in REQUIRED_EVENT_ATTRS:
        assert ev.get(a), a
    point = ev.find("point")
    assert point is not None
    for a in REQUIRED_POINT_ATTRS:
        assert math.isfinite(float(point.get(a, "nan"))), a
    assert -90 <= float(point.get("lat", "nan")) <= 90 and -180 <= float(point.get("lon", "nan")) <= 180
    assert ev.find("detail") is not None
    return ev


def unix(text: str | None) -> float:
    assert text is not None and text.endswith("Z")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def test_track_row_to_cot_event() -> None:
    bridge = CotBridge()
    [event] = bridge.on_message(TOPIC, enc(row(mmsi=367000001, name="SEA QUEEN", callsign="WDA1234", ship_type=30,
                                               sources=["ais", "radar"], vel_e_mps=10.0, vel_n_mps=0.0)), NOW)
    ev = parse(event)
    assert ev.get("uid") == "jisf-mmsi-367000001"
    assert ev.get("type") == "a-n-S-X-F"  # identified by AIS, fishing vessel, no alert: neutral
    assert ev.get("how") == "m-f"
    assert unix(ev.get("time")) == pytest.approx(NOW, abs=1e-3) and unix(ev.get("start")) == pytest.approx(NOW, abs=1e-3)
    assert unix(ev.get("stale")) == pytest.approx(NOW + CotOptions().stale_min_s, abs=1e-3)
    point = ev.find("point")
    assert point is not None
    assert float(point.get("lat", "")) == 15.5 and float(point.get("lon", "")) == -80.25
    assert float(point.get("hae", "")) == 0.0  # surface track without altitude
    assert float(point.get("ce", "")) == pytest.approx(20.0)  # sqrt of the larger variance
    track = ev.find("detail/track")
    assert track is not None
    assert float(track.get("course", "")) == pytest.approx(90.0) and float(track.get("speed", "")) == pytest.approx(10.0)
    contact = ev.find("detail/contact")
    assert contact is not None and contact.get("callsign") == "SEA QUEEN"
    remarks = ev.findtext("detail/remarks") or ""
    assert "MMSI 367000001" in remarks and "call sign WDA1234" in remarks and "sources ais, radar" in remarks


def test_takproto_reads_our_events() -> None:
    """takproto (the TAK protocol library) converts our XML into a TAK message with the same content."""
    bridge = CotBridge()
    [event] = bridge.on_message("jisf/v1/tracks/air/1000000003", enc(row(
        track_id=1000000003, domain="air", alt_m=350.0, icao24="a1b2c3", callsign="N123AB")), NOW)
    msg = takproto.parse_proto(bytearray(event))
    assert msg is not None
    cot = msg.cotEvent
    assert (cot.uid, cot.type, cot.how) == ("jisf-icao-a1b2c3", "a-n-A-C", "m-f")
    assert cot.sendTime == cot.startTime == round(NOW * 1000)
    assert cot.staleTime - cot.sendTime == round(CotOptions().stale_min_s * 1000)
    assert (cot.lat, cot.lon, cot.hae) == (15.5, -80.25, 350.0)
    assert cot.detail.contact.callsign == "N123AB"
    assert cot.detail.track.speed == pytest.approx(10.0)


@pytest.mark.parametrize(("domain", "suspect", "coop", "ship_type", "expected"), [
    ("surface", False, False, None, "a-u-S"),
    ("surface", False, True, None, "a-n-S-X"),
    ("surface", False, True, 70, "a-n-S-X-M-C"),
    ("surface", False, True, 84, "a-n-S-X-M-O"),
    ("surface", False, True, 37, "a-n-S-X-R"),
    ("surface", True, False, None, "a-s-S-X"),
    ("surface", True, True, 30, "a-s-S-X-F"),
    ("air", False, False, None, "a-u-A"),
    ("air", False, True, None, "a-n-A-C"),
    ("air", True, False, None, "a-s-A"),
    ("air", True, True, None, "a-s-A-C"),
])
def test_type_table(domain: str, suspect: bool, coop: bool, ship_type: int | None, expected: str) -> None:
    assert cot_type(domain, suspect=suspect, cooperative=coop, ship_type=ship_type) == expected


def test_geometry_helpers() -> None:
    assert circular_error_m(((100.0, 0.0), (0.0, 400.0))) == pytest.approx(20.0)
    # a 45-degree ellipse with principal variances 500 and 100
    assert circular_error_m(((300.0, 200.0), (200.0, 300.0))) == pytest.approx(math.sqrt(500.0))
    assert course_speed(0.0, 5.0) == pytest.approx((0.0, 5.0))
    assert course_speed(-3.0, 0.0) == pytest.approx((270.0, 3.0))
    assert cot_time(0.5) == "1970-01-01T00:00:00.500Z"


def test_stale_horizon_follows_the_update_interval() -> None:
    o = CotOptions(stale_factor=3.0, stale_min_s=30.0, stale_max_s=600.0)
    bridge = CotBridge(o)
    stale = []
    for t, status in ((NOW, "confirmed"), (NOW + 20, "confirmed"), (NOW + 25, "confirmed"), (NOW + 525, "confirmed"),
                      (NOW + 530, "coasting")):
        [event] = bridge.on_message(TOPIC, enc(row(t=t, status=status)), NOW)
        ev = parse(event)
        stale.append(unix(ev.get("stale")) - unix(ev.get("time")))
    # first: the minimum; then 3 x 20 s; 3 x 5 s clamped to the minimum; 3 x 500 s clamped to the maximum; coasting: maximum
    assert stale == pytest.approx([30.0, 60.0, 30.0, 600.0, 600.0], abs=1e-3)


def test_wall_clock_stamps_events_with_now() -> None:
    bridge = CotBridge(CotOptions(clock="wall"))
    [event] = bridge.on_message(TOPIC, enc(row(t=1_710_396_000.0)), NOW)  # a 2024 scenario time
    ev = parse(event)
    assert unix(ev.get("time")) == pytest.approx(NOW, abs=1e-3)
    assert unix(ev.get("stale")) > NOW


def test_alert_marker_makes_the_track_suspect_until_cleared() -> None:
    bridge = CotBridge()
    bridge.on_message(TOPIC, enc(row(mmsi=367000001, ship_type=70)), NOW)
    marker, track = bridge.on_message("jisf/v1/alerts/go_fast/12", enc(alert()), NOW)
    m = parse(marker)
    assert m.get("uid") == "jisf-alert-go_fast-7-1" and m.get("type") == MARKER_TYPE
    assert unix(m.get("stale")) == pytest.approx(NOW + CotOptions().alert_stale_s, abs=1e-3)
    remarks = m.findtext("detail/remarks") or ""
    for text in ("rule go_fast", "severity high", "zone Gulf of Honduras", "speed 41 kn for 60 s"):
        assert text in remarks
    color = m.find("detail/color")
    assert color is not None and color.get("argb") == "-65536"
    t = parse(track)
    assert t.get("uid") == "jisf-mmsi-367000001" and t.get("type") == "a-s-S-X-M-C"
    assert "ALERT go_fast (high) in Gulf of Honduras" in (t.findtext("detail/remarks") or "")
    # a second alert on the same track; clearing the first keeps it suspect, clearing both makes it neutral again
    bridge.on_message("jisf/v1/alerts/dark/12", enc(alert(alert_id="dark-7-2", rule="dark")), NOW)
    gone, track = bridge.on_message("jisf/v1/alerts/go_fast/12", enc(alert(state="cleared", lat=None, lon=None, t=None)), NOW + 5)
    g = parse(gone)
    assert g.get("uid") == "jisf-alert-go_fast-7-1"
    assert unix(g.get("stale")) == pytest.approx(NOW + 5, abs=1e-3)
    assert parse(track).get("type") == "a-s-S-X-M-C"
    _, track = bridge.on_message("jisf/v1/alerts/dark/12", enc(alert(alert_id="dark-7-2", rule="dark", state="cleared")), NOW + 6)
    assert parse(track).get("type") == "a-n-S-X-M-C"
    assert bridge.alerts == {} and bridge.alerts_of == {}


def test_operator_actions_on_alert_markers() -> None:
    """Acknowledged: still shown, with who and why; dismissed: removed, and the track is no longer suspect."""
    bridge = CotBridge()
    bridge.on_message(TOPIC, enc(row()), NOW)
    bridge.on_message("jisf/v1/alerts/go_fast/12", enc(alert(name="SEA QUEEN")), NOW)
    ack = [{"action": "acknowledge", "by": "analyst1", "why": "watching", "t": NOW + 1}]
    marker, track = bridge.on_message("jisf/v1/alerts/go_fast/12", enc(alert(state="updated", name="SEA QUEEN", ops=ack)), NOW + 1)
    m = parse(marker)
    contact = m.find("detail/contact")
    assert contact is not None and contact.get("callsign") == "go_fast (high) SEA QUEEN"
    assert "acknowledged by analyst1 (watching)" in (m.findtext("detail/remarks") or "")
    assert parse(track).get("type") == "a-s-S-X"
    dismiss = [*ack, {"action": "dismiss", "by": "analyst2", "why": "fishing fleet", "t": NOW + 2}]
    gone, track = bridge.on_message("jisf/v1/alerts/go_fast/12", enc(alert(state="updated", ops=dismiss)), NOW + 2)
    g = parse(gone)
    assert g.get("uid") == "jisf-alert-go_fast-7-1" and g.get("stale") == g.get("time")
    assert parse(track).get("type") == "a-u-S"
    assert bridge.alerts == {}


def test_deleted_track_goes_stale_now() -> None:
    bridge = CotBridge()
    bridge.on_message(TOPIC, enc(row()), NOW)
    [gone] = bridge.on_message(TOPIC, b"", NOW + 7)
    ev = parse(gone)
    assert ev.get("uid") == "jisf-track-12"
    assert unix(ev.get("stale")) == unix(ev.get("time")) == pytest.approx(NOW + 7, abs=1e-3)
    assert bridge.on_message(TOPIC, b"", NOW + 8) == []  # unknown: nothing to remove
    assert bridge.tracks == {} and bridge.snapshot(NOW) == []


def test_uids_identity_collisions_and_changes() -> None:
    bridge = CotBridge()
    [a] = bridge.on_message("jisf/v1/tracks/surface/1", enc(row(track_id=1, mmsi=367000001)), NOW)
    [b] = bridge.on_message("jisf/v1/tracks/surface/2", enc(row(track_id=2, mmsi=367000001)), NOW)  # same MMSI
    assert parse(a).get("uid") == "jisf-mmsi-367000001" and parse(b).get("uid") == "jisf-track-2"
    # a dark track that gains an identity: its old uid is removed, the new one carries the track
    [d] = bridge.on_message("jisf/v1/tracks/surface/3", enc(row(track_id=3)), NOW)
    assert parse(d).get("uid") == "jisf-track-3"
    old, new = bridge.on_message("jisf/v1/tracks/surface/3", enc(row(track_id=3, t=NOW + 10, mmsi=367000009)), NOW + 10)
    assert parse(old).get("uid") == "jisf-track-3" and unix(parse(old).get("stale")) == pytest.approx(NOW + 10, abs=1e-3)
    assert parse(new).get("uid") == "jisf-mmsi-367000009"


def test_text_xml_cannot_carry_is_replaced() -> None:
    bridge = CotBridge()
    [event] = bridge.on_message(TOPIC, enc(row(mmsi=1, name="BAD\x00NAME\x1b")), NOW)
    contact = parse(event).find("detail/contact")
    assert contact is not None and contact.get("callsign") == "BAD\ufffdNAME\ufffd"
    [marker] = bridge.on_message("jisf/v1/alerts/x/99", enc(alert(track_id=99, alert_id="a\x01", reason="r\x02")), NOW)
    assert parse(marker).get("uid") == "jisf-alert-a\ufffd"


def test_tentative_tracks_are_not_sent_and_snapshot_keeps_only_live_events() -> None:
    bridge = CotBridge(CotOptions(stale_min_s=30.0))
    assert bridge.on_message(TOPIC, enc(row(status="tentative")), NOW) == []
    bridge.on_message(TOPIC, enc(row()), NOW)
    bridge.on_message("jisf/v1/alerts/go_fast/12", enc(alert()), NOW)
    assert len(bridge.snapshot(NOW + 1)) == 2
    assert len(bridge.snapshot(NOW + 31)) == 1  # the track is stale by then, the alert marker is not


@pytest.mark.parametrize(("topic", "payload", "field"), [
    (TOPIC, b"not json", "payload"),
    (TOPIC, enc(row(lat=91.0)), "lat"),
    (TOPIC, enc(row(lon="west")), "payload"),
    (TOPIC, enc(row(t=-1.0)), "t"),
    (TOPIC, enc(row(domain="space")), "domain"),
    (TOPIC, enc(row(track_id=13)), "track_id"),
    (TOPIC, enc(row(cov_en_m2=[[-1.0, 0.0], [0.0, 1.0]])), "cov_en_m2"),
    (TOPIC, enc(row(alt_m=1e9)), "alt_m"),
    ("jisf/v1/tracks/surface/x", enc(row()), "topic"),
    ("jisf/v1/alerts/go_fast/12", enc(alert(state="open")), "state"),
    ("jisf/v1/alerts/go_fast/12", enc(alert(lat=None)), "lat"),
    ("jisf/v1/alerts/go_fast/12", enc(alert(alert_id="")), "alert_id"),
    ("jisf/v1/picture", b"{}", "topic"),
])
def test_bad_input_is_counted_and_named(topic: str, payload: bytes, field: str) -> None:
    bridge = CotBridge()
    assert bridge.on_message(topic, payload, NOW) == []
    assert bridge.stats.rejected == 1
    assert f": {field} = " in bridge.stats.last_reject


def test_target_and_options_validation() -> None:
    assert CotTarget.parse("udp://239.2.3.1:6969").multicast
    t = CotTarget.parse("tcp://takserver:8087")
    assert (t.scheme, t.host, t.port, t.multicast) == ("tcp", "takserver", 8087, False)
    for bad in ("http://x:1", "udp://x", "tcp://:8087", "udp://x:99999"):
        with pytest.raises(ValueError, match="--to"):
            CotTarget.parse(bad)
    with pytest.raises(ValueError, match="clock"):
        CotOptions(clock="sim")
    with pytest.raises(ValueError, match="stale_max_s"):
        CotOptions(stale_min_s=100.0, stale_max_s=10.0)
    with pytest.raises(ValueError, match="stale_factor"):
        CotOptions(stale_factor=math.nan)


# -- properties ------------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
variances = st.floats(min_value=0.0, max_value=1e12)
valid_rows = st.fixed_dictionaries({
    "t": st.floats(min_value=0.0, max_value=4.0e9),
    "track_id": st.integers(min_value=0, max_value=2**40),
    "domain": st.sampled_from(["surface", "air"]),
    "status": st.sampled_from(["confirmed", "coasting"]),
    "lat": st.floats(min_value=-90.0, max_value=90.0),
    "lon": st.floats(min_value=-180.0, max_value=180.0),
    "alt_m": st.none() | st.floats(min_value=-1e4, max_value=1e5),
    "vel_e_mps": st.floats(min_value=-1e6, max_value=1e6),
    "vel_n_mps": st.floats(min_value=-1e6, max_value=1e6),
    "cov": st.tuples(variances, finite.filter(lambda x: abs(x) < 1e12), variances),
    "mmsi": st.none() | st.integers(min_value=0, max_value=999_999_999),
    "icao24": st.none() | st.text(alphabet="0123456789abcdef", min_size=6, max_size=6),
    "sources": st.lists(st.sampled_from(["ais", "adsb", "radar", "oth", "sat"]), unique=True),
    "name": st.none() | st.text(max_size=30),  # any text: control characters included
    "ship_type": st.none() | st.integers(min_value=0, max_value=99),
})


@settings(max_examples=200, deadline=None)
@given(valid_rows)
def test_any_valid_row_makes_one_well_formed_event(r: dict[str, Any]) -> None:
    a, b, d = r.pop("cov")
    r["cov_en_m2"] = [[a, b], [b, d]]
    topic = f"jisf/v1/tracks/{r['domain']}/{r['track_id']}"
    bridge = CotBridge()
    out = bridge.on_message(topic, enc(r), NOW)
    assert bridge.stats.rejected == 0, bridge.stats.last_reject
    [event] = out
    ev = parse(event)
    assert unix(ev.get("stale")) > unix(ev.get("time"))
    assert ev.get("type", "").startswith("a-") and ev.get("uid", "").startswith("jisf-")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | finite | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([TOPIC, "jisf/v1/alerts/go_fast/12", "jisf/v1/tracks/air/5", "x/y"]),
       st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())
       | st.fixed_dictionaries({k: json_values for k in ("lat", "lon", "t", "state", "cov_en_m2")}).map(
           lambda d: enc({**row(), **d})))
def test_bad_payloads_never_raise(topic: str, payload: bytes) -> None:
    bridge = CotBridge()
    out = bridge.on_message(topic, payload, NOW)
    for event in out:
        parse(event)
    assert bridge.stats.rejected + bridge.stats.ignored + len(out) >= 1
