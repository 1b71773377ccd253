"""KML and GeoJSON export, parsed back (fastkml for KML), and the history/export command lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastkml import KML
from fastkml.gx import Track
from test_history_store import T0, alert, track

from fusion.cli import main
from fusion.history import open_store
from fusion.history.cli import parse_time
from fusion.history.export import iso_utc

ZONES = Path(__file__).resolve().parents[3] / "sim_feeds" / "scenarios" / "zones" / "guna_yala.geojson"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    with open_store(url) as s:
        s.write_tracks([track(1, T0 + 30 * i, lat=9.5 + i / 100, lon=-79.0 + i / 50, mmsi=538004567, name="SEA STAR") for i in range(4)])
        s.write_tracks([track(1_000_000_002, T0 + 30 * i + 0.5, domain="air", icao24="ac82ec", alt_m=300.0 + i,
                              lat=14.0, lon=-83.5 + i / 10) for i in range(3)])
        s.write_tracks([track(3, T0 + 60)])  # one point, no identity
        s.write_alerts([alert(3, T0 + 60, zone="guna-yala-coastal-corridor"), alert(1, T0 + 90, rule="ais_gap", severity="medium")])
    return url


def _placemarks(kml: KML) -> dict[str, list[Any]]:
    """Folder name -> its placemarks."""
    doc: Any = kml.features[0]
    return {str(folder.name): list(folder.features) for folder in doc.features}


def test_kml_round_trips_tracks_alerts_and_zones(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "h.kml"
    assert main(["export", "kml", "--store", store_url, "--zones", str(ZONES), "-o", str(out)]) == 0
    folders = _placemarks(KML.parse(out))
    tracks = {pm.name: pm for pm in folders["Tracks"]}
    assert set(tracks) == {"SEA STAR", "ICAO ac82ec", "track 3"}
    vessel = tracks["SEA STAR"].kml_geometry
    assert isinstance(vessel, Track)
    assert [item.when.dt for item in vessel.track_items] == [datetime.fromtimestamp(T0 + 30 * i, UTC) for i in range(4)]
    assert [(c.x, c.y) for c in (item.coord for item in vessel.track_items)] == [(-79.0 + i / 50, 9.5 + i / 100) for i in range(4)]
    air = tracks["ICAO ac82ec"].kml_geometry
    assert [item.coord.z for item in air.track_items] == [300.0, 301.0, 302.0]
    assert [item.when.dt.microsecond for item in air.track_items] == [500_000] * 3  # fractional seconds kept
    alerts = {pm.name: pm for pm in folders["Alerts"]}
    go_fast = alerts["go_fast high raised: track 3"]
    assert go_fast.time_stamp.dt == datetime.fromtimestamp(T0 + 60, UTC)
    assert (go_fast.geometry.x, go_fast.geometry.y) == (-78.4, 9.5)
    for text in ("rule: go_fast", "severity: high", "reason: surface track at 42.8 kn", f"time: {iso_utc(T0 + 60)}",
                 "zone: guna-yala-coastal-corridor"):
        assert text in go_fast.description
    (zone,) = folders["Zones"]
    assert zone.name == "guna-yala-coastal-corridor"
    assert [c[:2] for c in zone.geometry.exterior.coords] == [(-79.0, 9.5), (-78.5, 9.47), (-78.5, 9.72), (-79.0, 9.75), (-79.0, 9.5)]


def test_geojson_export_with_filters(store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.geojson"
    assert main(["export", "geojson", "--store", store_url, "--zones", str(ZONES), "-o", str(out)]) == 0
    fc = json.loads(out.read_text())
    by_kind: dict[str, list[dict]] = {}
    for f in fc["features"]:
        by_kind.setdefault(f["properties"]["kind"], []).append(f)
    lines = {f["properties"]["track_id"]: f for f in by_kind["track"]}
    assert lines[1]["geometry"]["type"] == "LineString"
    assert lines[1]["geometry"]["coordinates"] == [[-79.0 + i / 50, 9.5 + i / 100] for i in range(4)]
    assert lines[1]["properties"]["times"] == [T0 + 30 * i for i in range(4)]
    assert lines[1_000_000_002]["geometry"]["coordinates"][0] == [-83.5, 14.0, 300.0]
    assert lines[3]["geometry"] == {"type": "Point", "coordinates": [-79.0, 10.0]}
    assert [a["properties"]["rule"] for a in by_kind["alert"]] == ["go_fast", "ais_gap"]
    assert by_kind["zone"][0]["geometry"]["type"] == "Polygon"
    capsys.readouterr()
    assert main(["export", "geojson", "--store", store_url, "--mmsi", "538004567", "-o", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == {"output": str(out), "tracks": 1, "points": 4, "alerts": 1, "zones": 0}


def test_history_command_prints_iso_times(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--store", store_url, "--mmsi", "538004567", "--since", iso_utc(T0 + 30), "--until", str(T0 + 60)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == [iso_utc(T0 + 30), iso_utc(T0 + 60)]
    assert "SEA STAR" in lines[0] and "538004567" in lines[0]
    assert main(["history", "--store", store_url, "--alerts", "--json"]) == 0
    rows = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert [(r["rule"], r["time"]) for r in rows] == [("go_fast", iso_utc(T0 + 60)), ("ais_gap", iso_utc(T0 + 90))]
    assert main(["history", "--store", store_url, "--bbox=-84,13,-83,15", "--json"]) == 0
    assert {json.loads(ln)["icao24"] for ln in capsys.readouterr().out.splitlines()} == {"ac82ec"}


def test_times_and_bad_arguments() -> None:
    assert parse_time("2024-03-14T06:00:00Z") == T0 == parse_time("2024-03-14T06:00:00") == parse_time(str(T0))
    assert parse_time("2024-03-14T01:00:00-05:00") == T0
    assert iso_utc(T0) == "2024-03-14T06:00:00Z" and iso_utc(T0 + 0.25) == "2024-03-14T06:00:00.250Z"
    with pytest.raises(SystemExit):
        main(["history", "--store", "sqlite:///:memory:", "--since", "yesterday"])
    with pytest.raises(SystemExit):
        main(["history", "--store", "sqlite:///:memory:", "--icao", "xyz"])
    with pytest.raises(SystemExit):
        main(["history", "--store", "mysql://nowhere/x"])


def test_history_load_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "tracks.jsonl").write_text("".join(json.dumps(track(4, T0 + 5 * i, mmsi=1)) + "\n" for i in range(13)))
    url = f"sqlite:///{tmp_path / 'h.db'}"
    assert main(["history", "--store", url, "--load", str(run), "--thin-s", "20"]) == 0
    assert json.loads(capsys.readouterr().out)["tracks_kept"] == 4  # 0, 20, 40 s and the last, 60 s
    assert main(["history", "--store", url, "--track", "4"]) == 0
    assert [ln.split()[0] for ln in capsys.readouterr().out.splitlines()] == [iso_utc(T0 + s) for s in (0, 20, 40, 60)]
