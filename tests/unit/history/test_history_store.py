"""The history store on SQLite and PostgreSQL: round trips, filters, duplicates, bad rows, URLs."""

from __future__ import annotations

import itertools
import json
import math
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fusion.history import HistoryDataError, HistoryStore, open_store
from fusion.history.store import TRACK_COLUMNS

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"

T0 = 1_710_396_000.0


def track(tid: int, t: float, **kw: Any) -> dict[str, Any]:
    """A track row as published (TrackRow fields) plus keyword overrides."""
    row: dict[str, Any] = {"t": t, "track_id": tid, "domain": "surface", "status": "confirmed", "lat": 10.0, "lon": -79.0,
                           "alt_m": None, "vel_e_mps": 1.5, "vel_n_mps": -2.0, "cov_en_m2": [[400.0, 1.0], [1.0, 300.0]],
                           "mmsi": None, "icao24": None, "sources": ["radar"]}
    row.update(kw)
    return row


def alert(i: int, t: float, **kw: Any) -> dict[str, Any]:
    """An alert event (alerts.jsonl fields) plus keyword overrides."""
    ev: dict[str, Any] = {"t": t, "alert_id": f"go_fast-{i}-0", "rule": "go_fast", "severity": "high", "state": "raised",
                          "track_id": i, "lat": 9.5, "lon": -78.4, "zone": None, "mmsi": None, "icao24": None,
                          "reason": "surface track at 42.8 kn with no AIS identity", "related_track_ids": [],
                          "priority": 1.79, "evidence": {"speed_kn": 42.8, "ais_age_s": None}}
    ev.update(kw)
    return ev


def stored(row: dict[str, Any]) -> dict[str, Any]:
    """What the store gives back for ``row``: absent columns as None, numbers as float/int."""
    out = {c: None for c in TRACK_COLUMNS} | row
    return out | {"t": float(row["t"]), "lat": float(row["lat"]), "lon": float(row["lon"])}


def test_track_round_trip_keeps_every_field(store: HistoryStore) -> None:
    rows = [track(7, T0 + 5 * i, lat=10 + i / 100, mmsi=538004567, name="SEA STAR", callsign="V7AB2", flag="MH",
                  ship_type=70) for i in range(5)]
    assert store.write_tracks(rows) == 5
    got = store.track_history(track_id=7)
    assert got == [stored(r) for r in rows]
    assert store.write_tracks(rows) == 0  # redelivered: ignored
    assert store.counts() == {"track_points": 5, "alerts": 0}


def test_alert_round_trip_and_filters(store: HistoryStore) -> None:
    events = [alert(1, T0), alert(1, T0 + 60, state="updated"), alert(2, T0 + 30, rule="dark_vessel", zone="guna-yala")]
    assert store.write_alerts(events) == 3
    assert store.write_alerts(events[:1]) == 0
    assert store.alerts() == sorted(events, key=lambda e: e["t"])
    assert store.alerts(rule="dark_vessel") == [events[2]]
    assert store.alerts(track_id=1, since=T0 + 1) == [events[1]]
    assert store.alerts(until=T0 + 30, limit=1) == [events[0]]


def test_history_filters(store: HistoryStore) -> None:
    rows = [track(1, T0 + 10 * i, mmsi=111, lat=10.0, lon=-79.0 + i / 10) for i in range(10)]
    rows += [track(1_000_000_001, T0 + 10 * i + 5, domain="air", icao24="abc123", alt_m=1500.0, lat=15.0, lon=179.5) for i in range(3)]
    rows += [track(3, T0, lat=-5.0, lon=-179.5)]
    store.write_tracks(rows)
    assert [r["t"] for r in store.track_history(mmsi=111, since=T0 + 20, until=T0 + 40)] == [T0 + 20, T0 + 30, T0 + 40]
    assert [r["alt_m"] for r in store.track_history(icao24="ABC123")] == [1500.0] * 3
    assert len(store.track_history(bbox=(-79.05, 9.9, -78.75, 10.1))) == 3  # lon -79.0 .. -78.8
    across = store.track_history(bbox=(179.0, -10.0, -179.0, 20.0))  # crosses the antimeridian
    assert sorted({r["track_id"] for r in across}) == [3, 1_000_000_001]
    everything = store.track_history()
    assert [r["t"] for r in everything] == sorted(r["t"] for r in rows)
    assert store.track_history(limit=2) == everything[:2]
    assert store.track_history(track_id=99) == []


@pytest.mark.parametrize(("override", "field"), [
    ({"lat": 95.0}, "lat"), ({"t": -1.0}, "t"), ({"t": 1e12}, "t"), ({"lon": "west"}, "lon"), ({"t": math.nan}, "t"), ({"track_id": 1.5}, "track_id"),
    ({"mmsi": True}, "mmsi"), ({"status": None}, "status"), ({"name": "a\x00b"}, "name"), ({"name": "\ud800"}, "name"), ({"note": "x\x00"}, "extra"),
    ({"note": "\udfff"}, "extra"),
])
def test_bad_rows_name_the_field_and_write_nothing(store: HistoryStore, override: dict[str, Any], field: str) -> None:
    rows = [track(1, T0), track(2, T0) | override]
    with pytest.raises(HistoryDataError, match=field) as err:
        store.write_tracks(rows)
    assert err.value.field == field
    assert store.counts()["track_points"] == 0


def test_bad_alert_names_the_field(store: HistoryStore) -> None:
    with pytest.raises(HistoryDataError, match="alert_id"):
        store.write_alerts([alert(1, T0, alert_id=None)])


_ids = itertools.count(1)
_txt = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)  # NUL and lone surrogates are refused
_json_scalar = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | _txt
_json = st.recursive(_json_scalar, lambda c: st.lists(c, max_size=3) | st.dictionaries(_txt, c, max_size=3), max_leaves=8)
_opt_text = st.none() | _txt
_finite = st.floats(-1e6, 1e6, allow_nan=False)
_point = st.fixed_dictionaries(
    {"t": st.floats(0, 4e9, allow_nan=False), "domain": st.sampled_from(["surface", "air"]),
     "status": st.sampled_from(["confirmed", "coasting"]), "lat": st.floats(-90, 90), "lon": st.floats(-180, 180),
     "alt_m": st.none() | _finite, "vel_e_mps": _finite, "vel_n_mps": _finite, "mmsi": st.none() | st.integers(0, 999_999_999),
     "icao24": st.none() | st.from_regex(r"\A[0-9a-f]{6}\Z"), "sources": st.lists(st.sampled_from(["ais", "radar", "adsb"]))},
    optional={"name": _opt_text, "callsign": _opt_text, "extra_thing": _json})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=st.lists(_point, min_size=1, max_size=6, unique_by=lambda p: p["t"]))
def test_rows_in_equal_rows_out(store: HistoryStore, points: list[dict[str, Any]]) -> None:
    tid = next(_ids)
    rows = [p | {"track_id": tid} for p in points]
    assert store.write_tracks(rows) == len(rows)
    assert store.track_history(track_id=tid) == [stored(r) for r in sorted(rows, key=lambda r: r["t"])]


def test_sqlite_store_persists_across_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    with open_store(url) as s:
        s.write_tracks([track(1, T0)])
    with open_store(url) as s:
        assert s.track_history(track_id=1) == [stored(track(1, T0))]
        assert s.dialect == "sqlite" and not s.postgis


def test_store_urls_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sqlite:///PATH or postgresql://"):
        open_store("mysql://localhost/x")
    with pytest.raises(ValueError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'missing' / 'h.db'}")
    with pytest.raises(ValueError, match="postgis must be auto, on or off"):
        open_store("postgresql://postgres@127.0.0.1:5432/test?postgis=maybe")
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}"):
        open_store(f"postgresql://postgres@127.0.0.1:{port}/test?connect_timeout=2")


def test_postgres_uses_postgis_where_available(pg_url: str) -> None:
    with open_store(pg_url) as s:
        if not s.postgis:
            pytest.skip("the PostGIS extension is not installed on this PostgreSQL server (plain lat/lon tested instead)")
        s.write_tracks([track(1, T0, lat=10.0, lon=-79.0), track(2, T0, lat=20.0, lon=-70.0)])
        assert [r["track_id"] for r in s.track_history(bbox=(-80, 9, -78, 11))] == [1]
    with open_store(pg_url + "&postgis=off") as plain:  # the same tables, queried without the geometry
        assert not plain.postgis and [r["track_id"] for r in plain.track_history(bbox=(-80, 9, -78, 11))] == [1]


def test_postgres_store_reconnects_after_the_server_ends_its_session(pg_url: str) -> None:
    import psycopg

    from fusion.history import HistoryRecorder

    with open_store(pg_url) as s, psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        rec = HistoryRecorder(s, thin_s=0.0, batch_rows=1)
        rec.on_message("jisf/v1/tracks/surface/1", json.dumps(track(1, T0)).encode())
        pid = s._conn.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # as a server restart would
        deadline = time.monotonic() + 60
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() is not None:
            assert time.monotonic() < deadline, f"backend {pid} still running 60 s after pg_terminate_backend"
            time.sleep(0.05)
        rec.on_message("jisf/v1/tracks/surface/1", json.dumps(track(1, T0 + 1)).encode())  # fails: kept, counted
        assert rec.stats.write_errors == 1 and rec.queued == 1
        rec.on_message("jisf/v1/tracks/surface/1", json.dumps(track(1, T0 + 2)).encode())  # a new connection
        assert rec.queued == 0
        assert [r["t"] - T0 for r in s.track_history(track_id=1)] == [0, 1, 2]
