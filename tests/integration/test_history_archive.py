"""``jisf archive``'s code path against a real Mosquitto: retained tracks, deletions and alerts reach the store."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fusion.broker import Mosquitto
from fusion.history import HistoryRecorder, open_store
from fusion.history.cli import archive
from fusion.mqtt import publisher
from fusion.publish import OutMessage, alert_topic, track_topic

pytestmark = pytest.mark.broker

T0 = 1_710_396_000.0


def _track(tid: int, t: float, status: str = "confirmed") -> dict[str, Any]:
    return {"t": t, "track_id": tid, "domain": "surface", "status": status, "lat": 9.5 + (t - T0) / 1e4, "lon": -79.0,
            "alt_m": None, "vel_e_mps": 0.0, "vel_n_mps": 5.0, "cov_en_m2": [[100.0, 0.0], [0.0, 100.0]],
            "mmsi": 538000000 + tid, "icao24": None, "sources": ["ais"], "name": f"VESSEL {tid}"}


def _alert(tid: int, t: float, state: str) -> dict[str, Any]:
    return {"t": t, "alert_id": f"dark_vessel-{tid}-0", "rule": "dark_vessel", "severity": "high", "state": state,
            "track_id": tid, "lat": 9.5, "lon": -79.0, "zone": None, "mmsi": None, "icao24": None, "reason": "AIS silent",
            "related_track_ids": [], "priority": 1.0, "evidence": {"ais_age_s": 900.0}}


async def _until(cond: Callable[[], bool], what: str, state: Callable[[], object], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; {state()}")
        await asyncio.sleep(0.05)


async def test_archive_records_tracks_deletions_and_alerts(mosquitto: Mosquitto, tmp_path: Path) -> None:
    addr = mosquitto.address
    store = open_store(f"sqlite:///{tmp_path / 'history.db'}")
    recorder = HistoryRecorder(store, thin_s=30.0)
    async with publisher(addr) as publish:
        await publish(OutMessage(track_topic("surface", 1), json.dumps(_track(1, T0)).encode(), qos=1, retain=True))
        stop = asyncio.Event()
        task = asyncio.create_task(archive(addr, recorder, stop, client_id="hist-test", flush_s=0.2))
        # the retained state arrives on subscription; alerts are subscribed before tracks, so they are covered now
        await _until(lambda: recorder.stats.track_updates >= 1, "the retained track", lambda: recorder.stats)
        for i in range(1, 26):  # 5 s updates for 125 s: thinned to one per 30 s
            await publish(OutMessage(track_topic("surface", 1), json.dumps(_track(1, T0 + 5 * i)).encode(), retain=True))
        await publish(OutMessage(track_topic("surface", 2), json.dumps(_track(2, T0 + 10)).encode(), retain=True))
        await publish(OutMessage(track_topic("surface", 2), json.dumps(_track(2, T0 + 15)).encode(), retain=True))
        await publish(OutMessage(track_topic("surface", 2), b"", qos=1, retain=True))  # deleted: its last point is kept
        for state, dt in (("raised", 20), ("updated", 80), ("cleared", 110)):
            await publish(OutMessage(alert_topic("dark_vessel", 1), json.dumps(_alert(1, T0 + dt, state)).encode(), qos=1))
        await publish(OutMessage(alert_topic("dark_vessel", 1), b"not json", qos=1))
        await _until(lambda: store.counts() == {"track_points": 5 + 2, "alerts": 3} and recorder.stats.bad == 1,
                     "5 thinned points of track 1, 2 of track 2 and 3 alert events in the store",
                     lambda: (store.counts(), recorder.stats))
        stop.set()
        stats = await asyncio.wait_for(task, 30)
    assert [r["t"] - T0 for r in store.track_history(track_id=1)] == [0, 30, 60, 90, 120, 125]  # 125: the live tail, on stop
    assert [r["t"] - T0 for r in store.track_history(mmsi=538000002)] == [10, 15]
    assert store.track_history(track_id=1)[-1] == _track(1, T0 + 125)
    assert [a["state"] for a in store.alerts(track_id=1)] == ["raised", "updated", "cleared"]
    assert stats.deletions == 1 and stats.bad_fields == {"payload": 1}
    store.close()
