"""Foundation slice through a real broker: sim -> Mosquitto -> fusion -> alert subscriber.

The default scenario has one suspect go-fast without AIS and several benign AIS ships.
Every raised alert is matched to the truth object nearest to it at the alert's time:
the suspect must be alerted and no benign object may be.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from fusion.broker import Mosquitto
from fusion.demo import run_live
from sim_feeds.play import iter_truth
from sim_feeds.scenario import load_scenario, resolve_scenario

pytestmark = pytest.mark.broker


def nearest_truth(truth_by_t: dict[float, list], t: float, lat: float, lon: float) -> tuple[str, str, float]:
    """(id, role, distance km) of the truth object nearest to (lat, lon) at the truth tick nearest t."""
    ticks = np.array(sorted(truth_by_t))
    tick = float(ticks[np.argmin(np.abs(ticks - t))])
    rows = truth_by_t[tick]
    la = np.radians([r.lat for r in rows])
    lo = np.radians([r.lon for r in rows])
    d = 6371.0 * np.hypot((lo - np.radians(lon)) * np.cos(np.radians(lat)), la - np.radians(lat))
    i = int(np.argmin(d))
    return rows[i].id, rows[i].role, float(d[i])


async def test_suspect_alerted_and_no_benign(mosquitto: Mosquitto) -> None:
    path = resolve_scenario("minimal")
    scenario = load_scenario(path)
    truth_by_t = {rows[0].t: rows for rows in iter_truth(scenario) if rows}
    out = io.StringIO()
    summary, alerts = await run_live(path, mosquitto.address, speed=240.0, out=out, progress_interval_s=5.0)
    assert summary["messages_published"] > 0
    assert summary["measurements_fused"] > 0
    raised = alerts.raised
    assert raised, f"no alert raised; demo output:\n{out.getvalue()}"
    matches = [nearest_truth(truth_by_t, float(a["t"]), float(a["lat"]), float(a["lon"])) for a in raised]
    roles = {m[1] for m in matches}
    assert roles == {"suspect"}, f"alerts matched to benign objects: {[(a['rule'], m) for a, m in zip(raised, matches, strict=True) if m[1] != 'suspect']}"
    assert all(m[2] < 2.0 for m in matches), matches  # each alert within 2 km of the suspect
    assert any(a["rule"] == "go_fast" for a in raised)


async def test_demo_serves_the_live_map(mosquitto: Mosquitto) -> None:
    """`jisf demo` serves the map (jisf web) during its run: named tracks and the raised alert reach /api."""
    import asyncio
    import re

    import aiohttp

    out = io.StringIO()
    done = asyncio.Event()
    run = asyncio.create_task(run_live(resolve_scenario("minimal"), mosquitto.address, speed=120.0, out=out,
                                       progress_interval_s=5.0, web_listen="127.0.0.1:0", hold_s=300.0, hold_stop=done))
    seen_tracks: list[dict] = []
    seen_alerts: list[dict] = []
    try:
        async with aiohttp.ClientSession() as http:
            deadline = asyncio.get_running_loop().time() + 240.0
            url = None
            while asyncio.get_running_loop().time() < deadline and not run.done():
                url = url or next(iter(re.findall(r"web: serving (http://\S+)", out.getvalue())), None)
                if url:
                    async with http.get(url + "api/tracks") as r:
                        seen_tracks = (await r.json())["tracks"] or seen_tracks
                    async with http.get(url + "api/alerts") as r:
                        seen_alerts = (await r.json())["alerts"] or seen_alerts
                    if any(t.get("name") for t in seen_tracks) and any(a["rule"] == "go_fast" for a in seen_alerts):
                        break
                await asyncio.sleep(0.2)
            assert url, f"the demo printed no map address:\n{out.getvalue()}"
            async with http.get(url) as r:
                assert r.status == 200 and "leaflet" in (await r.text()).lower()
    finally:
        done.set()
        summary, _alerts = await asyncio.wait_for(run, 240.0)
    assert any(t.get("name") for t in seen_tracks), seen_tracks[:3]
    assert any(a["rule"] == "go_fast" for a in seen_alerts), seen_alerts
    assert summary["web_url"] == url
