"""``jisf web`` in headless Chromium: a published track and alert appear live, acknowledge reaches the broker.

Uses Debian's /usr/bin/chromium driven by Playwright's Python client (no browser download;
.ci/run installs the package when it is missing). The page must not fetch anything
outside the server: every request is checked against the server's origin.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from webserver import MqttProbe, alert_payload, jisf_web, track_payload, wait_for

from fusion.broker import Mosquitto

pytestmark = pytest.mark.broker
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 60_000
ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "sim_feeds" / "scenarios" / "minimal.toml"  # small: its guna-yala radar and corridor


def test_live_track_alert_and_acknowledge(mosquitto: Mosquitto, tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"this test needs {CHROMIUM} (Debian package chromium; .ci/run installs it)")
    probe = MqttProbe(mosquitto.port, ("jisf/v1/ops/#",))
    try:
        with jisf_web(mosquitto.port, tmp_path, "--scenario", str(SCENARIO)) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.set_default_timeout(TIMEOUT_MS)
                outside: list[str] = []
                page.on("request", lambda r: None if r.url.startswith((base, "data:")) else outside.append(r.url))
                page.goto(f"{base}/")
                page.wait_for_selector("#conn[data-state='live']")
                page.wait_for_selector("path.zone")  # the scenario's zone is drawn
                page.wait_for_selector("path.sensor-coverage")

                # published after the page is live: it must arrive through the stream
                probe.publish("jisf/v1/tracks/surface/77", track_payload(77, 3000.0, 9.55, -78.75, name="DOÑA ROSA"), retain=True)
                probe.publish("jisf/v1/alerts/loiter/77", alert_payload("al-77", 77, 3001.0))
                page.wait_for_selector(".track-marker[data-track-id='77'][data-suspect='true']")  # red: it has an open alert
                page.wait_for_selector("#alert-list .alert-row[data-alert-id='al-77']")
                row = page.locator("#alert-list .alert-row[data-alert-id='al-77']")  # locators re-resolve if redrawn
                assert "DOÑA ROSA" in row.inner_text() and "loitering" in row.inner_text()
                assert page.inner_text(".leaflet-tooltip-pane").count("DOÑA ROSA") == 1  # the track's label

                page.locator(".track-marker[data-track-id='77']").click()
                page.wait_for_selector("#track-details[data-track-id='77'][data-history-points='1']")
                assert page.locator("path.history-line").count() == 1

                row.locator("input.why").fill("known fishing vessel")
                row.locator("button.ack").click()
                page.wait_for_selector("#alert-list .alert-row[data-alert-id='al-77'][data-sent='acknowledge']")
                payload = json.loads(wait_for(lambda: probe.received("jisf/v1/ops/acknowledge/al-77"), 30, "the ops message")[0])
                assert (payload["alert_id"], payload["action"], payload["why"]) == ("al-77", "acknowledge", "known fishing vessel")
                wait_for_text(page, "#alert-list .alert-row[data-alert-id='al-77'] .actions-done", "acknowledge by")

                probe.publish("jisf/v1/tracks/surface/77", b"", retain=True)  # deleted live
                page.wait_for_selector(".track-marker[data-track-id='77']", state="detached")
                assert outside == [], f"the page fetched from outside the server: {outside}"
            finally:
                browser.close()
    finally:
        probe.close()


def wait_for_text(page: Page, selector: str, text: str) -> None:
    """Wait until the element's text contains ``text``."""
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.textContent || '').includes(t)", arg=[selector, text],
                           timeout=TIMEOUT_MS)
