"""fusion.evaluation.fragments: each extra track of an object classified as twin, rebirth or shared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusion.evaluation.config import MetricsConfig
from fusion.evaluation.fragments import fragment_causes, main
from fusion.evaluation.io import Codebook, read_tracks, read_truth
from fusion.evaluation.matching import match

T0 = 1_750_000_000.0
DEG_M = 110_600.0  # metres per degree of latitude near 10 N


def _truth(t: float, obj: str, lat: float, speed: float = 0.0) -> dict[str, object]:
    return {"t": t, "id": obj, "domain": "surface", "lat": lat, "lon": -79.0, "alt_m": 0.0, "speed_mps": speed,
            "course_deg": 0.0, "mmsi": None, "icao24": None, "role": "benign", "activity": "transit"}


def _track(t: float, track_id: int, lat: float, mmsi: int | None = None) -> dict[str, object]:
    return {"t": t, "track_id": track_id, "domain": "surface", "status": "confirmed", "lat": lat, "lon": -79.0,
            "alt_m": None, "vel_e_mps": 0.0, "vel_n_mps": 0.0, "cov_en_m2": [[100.0, 0.0], [0.0, 100.0]], "mmsi": mmsi,
            "icao24": None, "sources": ["radar"]}


def _run(tmp_path: Path, b_sets_off: int = 10) -> Path:
    """Ten ticks: A keeps track 1 (1,200 m off, beyond the 1 km cut-off, from tick 5) while track 2 takes it (twin);
    B's track 3 ends at tick 3 and track 4 (with an MMSI) starts at tick 6 (rebirth), B's speed 0, 8 m/s from tick
    ``b_sets_off`` (a velocity step); C and D, 100 m apart until D leaves 1,500 m north at tick 5, swap tracks 5 and
    6 there (shared)."""
    truth, tracks = [], []
    for k in range(10):
        t = T0 + 10.0 * k
        c, d = 10.4, 10.4 + (100.0 if k < 5 else 1500.0) / DEG_M
        truth += [_truth(t, "A", 10.0), _truth(t, "B", 10.2, 8.0 if k >= b_sets_off else 0.0), _truth(t, "C", c),
                  _truth(t, "D", d)]
        tracks.append(_track(t, 1, 10.0 + (1200.0 / DEG_M if k >= 5 else 0.0)))
        if k >= 5:
            tracks.append(_track(t, 2, 10.0))
        if k <= 3:
            tracks.append(_track(t, 3, 10.2))
        if k >= 6:
            tracks.append(_track(t, 4, 10.2, mmsi=311000001))
        tracks += [_track(t, 5, c if k < 5 else d), _track(t, 6, d if k < 5 else c)]
    for name, rows in (("truth.jsonl", truth), ("tracks.jsonl", tracks)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_twin_rebirth_and_shared_are_told_apart(tmp_path: Path) -> None:
    run = _run(tmp_path)
    domains = Codebook()
    truth, tracks = read_truth(run / "truth.jsonl", domains), read_tracks(run / "tracks.jsonl", domains)
    causes = fragment_causes(truth, tracks, match(truth, tracks, MetricsConfig(), domains.values), domains.values)
    assert causes == {("surface", "twin new=anon old=anon"): 1, ("surface", "rebirth new=id old=anon"): 1,
                      ("surface", "shared"): 2}


@pytest.mark.parametrize(("b_sets_off", "marked"), [(1, True), (6, True), (7, False), (10, False)])
def test_a_new_track_after_a_manoeuvre_is_marked(tmp_path: Path, b_sets_off: int, marked: bool) -> None:
    # B's new track starts at tick 6 (60 s): a velocity step 50 s or 0 s before marks it, one after it does not
    run = _run(tmp_path, b_sets_off)
    domains = Codebook()
    truth, tracks = read_truth(run / "truth.jsonl", domains), read_tracks(run / "tracks.jsonl", domains)
    causes = fragment_causes(truth, tracks, match(truth, tracks, MetricsConfig(), domains.values), domains.values)
    label = "rebirth new=id old=anon" + (" (manoeuvre)" if marked else "")
    assert causes[("surface", label)] == 1 and causes[("surface", "twin new=anon old=anon")] == 1


def test_the_command_prints_the_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(_run(tmp_path))]) == 0
    assert capsys.readouterr().out.split("\n")[0].split() == ["surface", "rebirth", "new=id", "old=anon", "1"]
