"""Through fusion.pipeline.Fusion: AIS static data names tracks and alerts; operator actions enter like feed messages."""

from __future__ import annotations

import io
import json
from pathlib import Path

import msgspec

from fusion.actions import ops_topic
from fusion.checkpoint import load_checkpoint, save_checkpoint
from fusion.core.frame import LocalFrame
from fusion.offline import JsonlWriter, fusion_for_area, recorded_feed, run_messages
from fusion.pipeline import Fusion, FusionConfig, Tick
from fusion.publish import encode, picture
from fusion.recording import RecordingWriter, read_recording
from fusion.rules.synthetic import rules
from sensors.adsb import encode_sbs
from sensors.ais import encode_payload
from sensors.reports import AdsbReport, AisPosition, AisStatic

AREA = LocalFrame(9.0, 10.3, -79.8, -77.9)
ZONES = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "guna-corridor", "kind": "transit_corridor"},
         "geometry": {"type": "Polygon", "coordinates": [[[-79.5, 9.2], [-78.2, 9.2], [-78.2, 10.1], [-79.5, 10.1], [-79.5, 9.2]]]}}]}
T0 = 1_700_000_000.0
MMSI = 366123456
AIS_TOPIC = "jisf/v1/feeds/ais/rx1"


def make_fusion() -> Fusion:
    cfg = rules({"rules": {"zone_entry": {"kinds": ["transit_corridor"], "min_on_s": 0.0}}})
    return fusion_for_area(AREA, ZONES, "test", cfg, FusionConfig(output_interval_s=2.0, reorder_window_s=0.5))


def ais(n: int) -> list[tuple[float, str, bytes]]:
    """A vessel inside the corridor reporting every 2 s, with its type 5 static data first."""
    out = [(T0 + 0.1, AIS_TOPIC, encode_payload([AisStatic(t=T0, source="rx1", mmsi=MMSI, name="SEA WITCH", callsign="WDA1234",
                                                          ship_type=30)]))]
    for k in range(n):
        t = T0 + 2.0 * k
        pos = AisPosition(t=t, source="rx1", mmsi=MMSI, lat=9.6, lon=-78.9 + 0.0001 * k, sog_mps=5.0, cog_deg=90.0)
        out.append((t + 0.2, AIS_TOPIC, encode_payload([pos])))
    return out


def run(fusion: Fusion, messages: list[tuple[float, str, bytes]]) -> list[Tick]:
    ticks: list[Tick] = []
    for recv_t, topic, payload in messages:
        fusion.accept(topic, payload, recv_t)
        ticks.extend(fusion.advance(recv_t))
    return ticks


def action(alert_id: str, act: str, t: float, **extra: object) -> tuple[float, str, bytes]:
    body = {"alert_id": alert_id, "action": act, "by": "watch-1", "why": "checking", "t": t, **extra}
    return (t, ops_topic(act, alert_id), json.dumps(body).encode())


def test_ais_static_data_names_the_track_the_picture_and_the_alert() -> None:
    f = make_fusion()
    ticks = run(f, ais(20))
    alerts = [a for tick in ticks for a in tick.alerts]
    assert [(a.rule, a.state) for a in alerts] == [("zone_entry", "raised")]
    a = alerts[0]
    assert (a.mmsi, a.zone, a.name, a.callsign, a.ship_type, a.ship_type_text, a.flag) == (
        MMSI, "guna-corridor", "SEA WITCH", "WDA1234", 30, "Fishing", "US")
    row = next(r for r in ticks[-1].rows if r.mmsi == MMSI)
    assert (row.name, row.callsign, row.ship_type_text, row.flag, row.country) == ("SEA WITCH", "WDA1234", "Fishing", "US", None)
    line = json.loads(encode(row))
    assert line["name"] == "SEA WITCH" and "country" not in line
    feature = json.loads(encode(picture(ticks[-1].rows, ticks[-1].t)))["features"][0]
    assert feature["properties"]["name"] == "SEA WITCH"
    assert json.loads(encode(a))["name"] == "SEA WITCH"


def test_type_24_parts_in_separate_messages_combine_and_adsb_call_sign_names_aircraft() -> None:
    f = make_fusion()
    part_a = AisStatic(t=T0, source="rx1", mmsi=MMSI, name="SEA WITCH", msg_type=24)
    part_b = AisStatic(t=T0 + 1, source="rx1", mmsi=MMSI, callsign="WDA1234", ship_type=37, msg_type=24)
    f.accept(AIS_TOPIC, encode_payload([part_a]), T0 + 0.1)
    f.accept(AIS_TOPIC, encode_payload([part_b]), T0 + 1.1)
    st = f.ingest.statics[MMSI]
    assert (st.name, st.callsign, st.ship_type) == ("SEA WITCH", "WDA1234", 37)
    plane = AdsbReport(t=T0, source="r", icao24=0x0D0A1B, lat=9.5, lon=-78.5, alt_m=300.0, gs_mps=60.0, track_deg=10.0,
                       callsign="TAI392")
    f.accept("jisf/v1/feeds/adsb/r", encode_sbs([plane]), T0 + 0.1)
    assert f.ingest.callsigns[0x0D0A1B] == "TAI392"


def test_operator_actions_are_applied_at_the_next_tick_and_bad_ones_rejected_by_field(tmp_path: Path) -> None:
    f = make_fusion()
    ticks = run(f, ais(10))
    (raised,) = [a for tick in ticks for a in tick.alerts]
    t = ticks[-1].t
    bad = [
        (t, "jisf/v1/ops/acknowledge/" + raised.alert_id, b"{not json"),
        action(raised.alert_id, "acknowledge", t, by=""),
        (t, ops_topic("dismiss", raised.alert_id), action(raised.alert_id, "acknowledge", t)[2]),  # action differs from topic
        (t, "jisf/v1/ops/approve/" + raised.alert_id, action(raised.alert_id, "acknowledge", t)[2]),
        action(raised.alert_id, "acknowledge", t, extra_field=1),
    ]
    for recv_t, topic, payload in bad:
        assert f.accept(topic, payload, recv_t) == 0
    log = f.ingest.log
    assert log.total_rejected("ops") == 5
    assert set(dict(log.summary("ops")["by_field"])) == {"payload", "by", "action", "topic"}
    assert f.accept(*action(raised.alert_id, "acknowledge", t)[1:], t) == 1
    # the pending action is checkpointed with the rest of the state
    save_checkpoint(tmp_path / "f.ckpt", f)
    g = make_fusion()
    load_checkpoint(tmp_path / "f.ckpt", g)
    for fusion in (f, g):
        (tick,) = fusion.advance(t + 2.0)
        (ev,) = [a for a in tick.alerts if a.alert_id == raised.alert_id]
        assert ev.state == "updated" and ev.name == "SEA WITCH" and ev.zone == "guna-corridor"
        assert [msgspec.structs.asdict(o) for o in ev.ops] == [{"action": "acknowledge", "by": "watch-1", "why": "checking", "t": t}]
    # an action on no open alert is rejected when applied
    f.accept(*action("zone_entry-7-99", "dismiss", t + 2.0)[1:], t + 2.0)
    list(f.advance(t + 4.0))
    assert any("no open alert" in r for r in f.ingest.log.summary("ops")["recent"])  # type: ignore[union-attr]


def test_recorded_operator_action_replays_onto_its_alert(tmp_path: Path) -> None:
    """A recording holds the ops topic like any inbound message; replay applies it at the same tick as live."""
    live = make_fusion()
    ticks = run(live, ais(10))
    (raised,) = [a for tick in ticks for a in tick.alerts]
    messages = [*ais(10), action(raised.alert_id, "dismiss", ticks[-1].t + 0.5), *ais(14)[11:]]
    with RecordingWriter(tmp_path / "rec.jsonl.gz", fsync=False) as rec:
        for recv_t, topic, payload in messages:
            rec.append(topic, payload, 1, False, recv_t)
    tracks, alerts = io.BytesIO(), io.BytesIO()
    run_messages(make_fusion(), recorded_feed(read_recording(tmp_path / "rec.jsonl.gz")), JsonlWriter(tracks, alerts))
    events = [json.loads(line) for line in alerts.getvalue().splitlines()]
    assert [(e["alert_id"], e["state"], [o["action"] for o in e.get("ops", [])]) for e in events] == [
        (raised.alert_id, "raised", []), (raised.alert_id, "updated", ["dismiss"])]
