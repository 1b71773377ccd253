"""Screenshot of the ``jisf web`` page during a live run: docs/img/web.png.

Starts a Mosquitto on a free loopback port, ``jisf web`` (with the scenario's zones and
sensors, and the GSHHG coastline), and ``jisf demo --broker`` playing the scenario through
the real fusion service; once tracks and an alert are on the page, selects the first alerted
track (its history line and details) and takes the picture with Debian's headless Chromium.
Prints JSON (tracks, alerts, seconds). Usage:

    .venv/bin/python bench/web_screenshot.py [--scenario FILE] [--speed N] [-o docs/img/web.png]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from fusion.broker import Mosquitto, free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def main() -> int:
    """Run the live demo against ``jisf web`` and screenshot the page."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(ROOT / "sim_feeds" / "scenarios" / "default.toml"))
    p.add_argument("--speed", type=float, default=30.0, help="scenario seconds per wall second")
    p.add_argument("--wait-alerts", type=int, default=1, help="open alerts to wait for before the picture")
    p.add_argument("-o", "--output", default=str(ROOT / "docs" / "img" / "web.png"))
    args = p.parse_args()
    t0 = time.monotonic()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Mosquitto() as broker:
        jisf = [sys.executable, "-m", "fusion.cli"]
        web = subprocess.Popen([*jisf, "web", "--broker", broker.address.url(), "--listen", f"127.0.0.1:{port}",
                                "--scenario", args.scenario], cwd=ROOT)
        demo = subprocess.Popen([*jisf, "demo", "--broker", broker.address.url(), "--scenario", args.scenario,
                                 "--speed", str(args.speed)], cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 860})
                page.set_default_timeout(600_000)
                deadline = time.monotonic() + 120
                while True:
                    try:
                        page.goto(f"{base}/")
                        break
                    except Exception:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(1)
                page.wait_for_function(
                    "n => document.querySelectorAll('#alert-list .alert-row:not([data-state=cleared])').length >= n",
                    arg=args.wait_alerts)
                page.locator("#alert-list .alert-row .head").first.click()  # pans to the track, draws its history
                page.wait_for_selector("path.history-line")
                page.wait_for_timeout(2000)  # coastline for the new view
                page.screenshot(path=args.output)
                tracks = page.locator(".track-marker").count()
                alerts = page.locator("#alert-list .alert-row").count()
                browser.close()
        finally:
            for proc in (demo, web):
                proc.terminate()
                proc.wait(30)
    print(json.dumps({"output": args.output, "tracks": tracks, "alerts": alerts, "seconds": round(time.monotonic() - t0, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
