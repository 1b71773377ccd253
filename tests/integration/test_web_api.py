"""``jisf web`` API against a real Mosquitto: tracks, alerts, history, layers, operator actions, OpenAPI."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate
from webserver import (
    MqttProbe,
    alert_payload,
    get_json,
    jisf_web,
    post_json,
    track_payload,
    wait_for,
)

from fusion.broker import Mosquitto
from fusion.mqtt import Link
from fusion.web.server import OPENAPI_PATH, WebOptions, WebService, build_app

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "sim_feeds" / "scenarios" / "minimal.toml"  # small: its guna-yala radar and corridor
ZONES = ROOT / "sim_feeds" / "scenarios" / "zones" / "guna_yala.geojson"


def ops_action_schema() -> dict[str, object]:
    """The JSON Schema of the ops topic payload, as documented in docs/WEB.md."""
    text = (ROOT / "docs" / "WEB.md").read_text().split("<!-- ops-action-schema -->", 1)[1]
    return json.loads(text.split("```json", 1)[1].split("```", 1)[0])


def test_api_end_to_end(mosquitto: Mosquitto, tmp_path: Path) -> None:
    probe = MqttProbe(mosquitto.port, ("jisf/v1/ops/#",))
    try:
        with jisf_web(mosquitto.port, tmp_path, "--scenario", str(SCENARIO), "--zones", str(ZONES)) as base:
            for i in range(3):  # three positions of one track, then an air track that is deleted again
                probe.publish("jisf/v1/tracks/surface/5", track_payload(5, 1000.0 + 10 * i, 9.6 + 0.01 * i, -78.7), retain=True)
            probe.publish("jisf/v1/tracks/air/1000000001", track_payload(1000000001, 1000.0, 10.0, -79.0, domain="air"), retain=True)
            probe.publish("jisf/v1/alerts/loiter/5", alert_payload("al-1", 5, 1015.0))
            probe.publish("jisf/v1/alerts/loiter/5", alert_payload("al-0", 5, 990.0, priority=0.1, state="cleared"))
            probe.publish("jisf/v1/tracks/surface/5", b"{broken", retain=False)

            wait_for(lambda: get_json(f"{base}/api/alerts")[1]["count"] == 2, 30, "two alerts listed")
            wait_for(lambda: get_json(f"{base}/api/tracks/5/history")[1]["points"][-1:] == [
                {"t": 1020.0, "track_id": 5, "lat": 9.6 + 0.01 * 2, "lon": -78.7, "alt_m": None}], 30, "the third position of track 5")
            probe.publish("jisf/v1/tracks/air/1000000001", b"", retain=True)
            wait_for(lambda: get_json(f"{base}/api/tracks")[1]["count"] == 1, 30, "the air track deleted")

            status, tracks = get_json(f"{base}/api/tracks?domain=surface&status=suspect&trail=2")
            assert status == 200 and [t["track_id"] for t in tracks["tracks"]] == [5]
            assert tracks["tracks"][0]["suspect"] is True and tracks["tracks"][0]["trail"] == [[9.6 + 0.01 * i, -78.7] for i in (1, 2)]
            assert get_json(f"{base}/api/tracks?domain=air")[1]["count"] == 0
            assert get_json(f"{base}/api/tracks/1000000001/history")[1]["source"] == "memory"  # kept after deletion

            alerts = get_json(f"{base}/api/alerts")[1]["alerts"]
            assert [a["alert_id"] for a in alerts] == ["al-1", "al-0"]  # open first
            assert [a["alert_id"] for a in get_json(f"{base}/api/alerts?since=1000")[1]["alerts"]] == ["al-1"]
            assert get_json(f"{base}/api/alerts?since=yesterday") == (400, {"error": "since: expected a number, got 'yesterday'"})
            assert get_json(f"{base}/api/tracks?domain=sea")[0] == 400
            assert get_json(f"{base}/api/tracks/x/history")[0] in (400, 404)

            # operator action: published on the ops topic, then reflected on the alert (the server subscribes too)
            status, out = post_json(f"{base}/api/alerts/al-1/dismiss", {"by": "analyst-2", "why": "fishing fleet"})
            assert status == 202 and out["topic"] == "jisf/v1/ops/dismiss/al-1"
            payload = json.loads(wait_for(lambda: probe.received("jisf/v1/ops/dismiss/al-1"), 30, "the ops message")[0])
            jsonschema.validate(payload, json.loads(OPENAPI_PATH.read_text())["components"]["schemas"]["OpsAction"])
            jsonschema.validate(payload, ops_action_schema())
            assert {k: payload[k] for k in ("alert_id", "action", "by", "why")} == {
                "alert_id": "al-1", "action": "dismiss", "by": "analyst-2", "why": "fishing fleet"}
            wait_for(lambda: get_json(f"{base}/api/alerts?state=raised")[1]["alerts"][0]["actions"] == [payload], 30,
                     "the action attached to the alert")
            assert post_json(f"{base}/api/alerts/nope/ack", {})[0] == 404
            assert post_json(f"{base}/api/alerts/al-1/ack", {"why": 5}) == (400, {"error": "why: expected a string of at most 500 characters"})

            web = get_json(f"{base}/api/status")[1]["web"]
            assert web["rejected"] == {"tracks": 1} and "payload" in web["last_reject"]

            zones = get_json(f"{base}/api/zones")[1]
            assert "guna-yala-coastal-corridor" in [f["properties"]["name"] for f in zones["features"]]
            sensors = get_json(f"{base}/api/sensors")[1]["features"]
            radar = next(f for f in sensors if f["properties"]["id"] == "guna-yala-radar")
            assert radar["geometry"] == {"type": "Point", "coordinates": [-78.8, 9.42]} and radar["properties"]["range_m"] == 60000.0

            assert get_json(f"{base}/api/coastline?bbox=1,2")[0] == 400
            assert get_json(f"{base}/api/coastline?bbox=-80,9,-78,10")[0] in (200, 503)

            with urllib.request.urlopen(f"{base}/", timeout=10) as r:
                page = r.read().decode()
            assert "/static/vendor/leaflet/leaflet.js" in page and "tile" not in page.lower()
            with urllib.request.urlopen(f"{base}/static/vendor/leaflet/leaflet.js", timeout=10) as r:
                assert b"Leaflet 1.9.4" in r.read(400)
    finally:
        probe.close()


def test_openapi_is_valid_and_covers_the_routes(mosquitto: Mosquitto, tmp_path: Path) -> None:
    doc = json.loads(OPENAPI_PATH.read_text())
    validate(doc)
    app = build_app(WebService(Link(mosquitto.address, None), WebOptions()))
    routes = {r.resource.canonical.replace("{verb}", "VERB") for r in app.router.routes() if r.resource is not None}
    routes = {p for p in routes if p.startswith("/api/")}
    documented = {p.replace("/ack", "/VERB").replace("/dismiss", "/VERB") for p in doc["paths"]}
    assert routes == documented
    with jisf_web(mosquitto.port, tmp_path) as base:
        assert get_json(f"{base}/api/openapi.json") == (200, doc)


def test_history_store_answers_after_restart(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """With --store, positions and alerts are recorded; a restarted server answers history and lists
    the alerts from the store although its memory is empty and alerts are not retained."""
    store = f"sqlite:///{tmp_path / 'history.db'}"
    probe = MqttProbe(mosquitto.port)
    try:
        with jisf_web(mosquitto.port, tmp_path, "--store", store, "--thin", "0") as base:
            for i in range(4):
                probe.publish("jisf/v1/tracks/surface/9", track_payload(9, 2000.0 + 10 * i, 9.5, -78.9 + 0.01 * i), retain=True)
            probe.publish("jisf/v1/alerts/loiter/9", alert_payload("al-9", 9, time.time()))  # read back at start: the last day
            wait_for(lambda: len(get_json(f"{base}/api/tracks/9/history")[1]["points"]) == 4, 30, "four positions")
            assert get_json(f"{base}/api/tracks/9/history")[1]["source"] == "store"
            probe.publish("jisf/v1/tracks/surface/9", b"", retain=True)  # deleted: a restarted server gets no retained state
            wait_for(lambda: get_json(f"{base}/api/tracks")[1]["count"] == 0, 30, "track 9 deleted")
        with jisf_web(mosquitto.port, tmp_path, "--store", store) as base:
            status, hist = get_json(f"{base}/api/tracks/9/history?since=2010&limit=2")
            assert status == 200 and hist["source"] == "store"
            assert [(p["t"], p["lon"]) for p in hist["points"]] == [(2000.0 + 10 * i, -78.9 + 0.01 * i) for i in (1, 2)]
            assert get_json(f"{base}/api/tracks")[1]["count"] == 0
            assert [a["alert_id"] for a in get_json(f"{base}/api/alerts")[1]["alerts"]] == ["al-9"]
    finally:
        probe.close()
