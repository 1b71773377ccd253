"""fusion.actions (operator action topic and payload) against its JSON Schema; the `jisf alerts` line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import sensors
from fusion.actions import decode_action, ops_topic
from fusion.demo import format_alert
from sensors.errors import DecodeError

SCHEMA = json.loads((Path(sensors.__file__).parent / "schemas" / "ops-action.schema.json").read_text())
GOOD = {"alert_id": "go_fast-2-0", "action": "acknowledge", "by": "watch-1", "why": "cutter tasked", "t": 1710396370.0}


def test_good_action_decodes_and_validates() -> None:
    jsonschema.validate(GOOD, SCHEMA)
    act = decode_action(ops_topic("acknowledge", "go_fast-2-0"), json.dumps(GOOD).encode())
    assert (act.alert_id, act.action, act.by, act.why, act.t) == tuple(GOOD.values())
    no_why = {k: v for k, v in GOOD.items() if k != "why"}
    jsonschema.validate(no_why, SCHEMA)
    assert decode_action(ops_topic("acknowledge", "go_fast-2-0"), json.dumps(no_why).encode()).why == ""


@pytest.mark.parametrize(("change", "field"), [
    ({"by": ""}, "by"), ({"action": "approve"}, "action"), ({"t": "now"}, "t"), ({"why": "x" * 501}, "why"),
    ({"alert_id": 7}, "alert_id"), ({"extra": 1}, "payload"),
])
def test_bad_payloads_rejected_by_decoder_and_schema(change: dict[str, object], field: str) -> None:
    body = {**GOOD, **change}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, SCHEMA)
    with pytest.raises(DecodeError) as err:
        decode_action(ops_topic("acknowledge", "go_fast-2-0"), json.dumps(body).encode())
    assert err.value.field == field and err.value.feed == "ops"


@pytest.mark.parametrize(("topic", "field"), [
    ("jisf/v1/ops/acknowledge", "topic"), ("jisf/v1/ops/ack/go_fast-2-0", "topic"), ("jisf/v1/ops/acknowledge/", "topic"),
    ("jisf/v1/ops/dismiss/go_fast-2-0", "action"), ("jisf/v1/ops/acknowledge/go_fast-9-9", "alert_id"),
])
def test_topic_must_match_the_payload(topic: str, field: str) -> None:
    with pytest.raises(DecodeError) as err:
        decode_action(topic, json.dumps(GOOD).encode())
    assert err.value.field == field


def test_alert_line_has_utc_time_severity_state_zone_name_and_last_action() -> None:
    event = {"t": 1725502975.0, "alert_id": "ais_gap-2-0", "rule": "ais_gap", "severity": "medium", "state": "updated",
             "track_id": 2, "lat": 12.8, "lon": -81.4, "zone": "san-andres-territorial-sea", "mmsi": 334800200, "icao24": None,
             "reason": "AIS silent for 3 min", "name": "LA ESPERANZA", "flag": "HN",
             "ops": [{"action": "dismiss", "by": "watch-2", "why": "", "t": 1725502970.0}]}
    assert format_alert(event) == ("2024-09-05T02:22:55Z MEDIUM updated  ais_gap          track 2          "
                                   "zone=san-andres-territorial-sea LA ESPERANZA (mmsi 334800200 HN): AIS silent for 3 min "
                                   "[dismissed by watch-2]")
    plane = {**event, "mmsi": None, "icao24": "0d0a1b", "name": None, "callsign": "TAI392", "country": "MX", "zone": None, "ops": []}
    assert "zone=- TAI392 (icao 0d0a1b MX): " in format_alert(plane)
    assert "no identity" in format_alert({**event, "mmsi": None, "name": None})
