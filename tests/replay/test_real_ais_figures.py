"""Issue 14's done criteria on real AIS, replayed as ``jisf import-ais`` + ``jisf replay --deployment`` with the
rules on (docs/REALDATA.md "Done criteria on real AIS"): no false alert and one track per MMSI on the New York
hour's first 30 minutes (MarineCadastre) and on the AMSA NMEA stream timed by its ZDA clock. The bounds are
the figures measured with bench/realais.py; the replay is deterministic (receive times from the data)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from fusion.offline import MAX_DATA_AREA_SCALE_ERROR, DataArea, ReplayError, frame_scale_error, replay_recording
from fusion.realdata_import import (
    AIS_TOPIC_ROOT,
    ais_gap_claim_holds,
    clocked_nmea,
    import_marinecadastre,
    import_nmea,
    main,
    real_ais_figures,
    replay_and_figures,
    zda_time,
)
from fusion.recording import read_recording
from sensors.reports import AisPosition

DATA = Path("/work/shared/data/real/ais")
NY_CSV = DATA / "NYHarbor_2020_06_30_first_hour.csv"
AMSA = DATA / "amsa_ais.txt.gz"
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NY_FIRST_S = 1800.0
AMSA_CLOCK = (1_327_664_822.51, 1_327_665_207.50)  # its first and last $GPZDA: 2012-01-27 11:47:02.51 and 11:53:27.50 UTC


def _figures(root: Path, name: str) -> dict[str, object]:
    if not (NY_CSV.exists() and AMSA.exists()):
        pytest.fail(f"{DATA} incomplete (real AIS test data, see its SOURCE.md)")
    if name == "ny":
        import_marinecadastre(NY_CSV, root / "ny.jsonl.gz", first_s=NY_FIRST_S)
        return replay_and_figures(root / "ny.jsonl.gz", root / "ny", DEPLOY / "realais_ny.toml")
    import_nmea(AMSA, root / "amsa.jsonl.gz", source="amsa")
    return replay_and_figures(root / "amsa.jsonl.gz", root / "amsa", DEPLOY / "realais_amsa.toml")


@pytest.fixture(scope="module", params=["ny", "amsa"])
def replayed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, object]]:
    name = str(request.param)
    return name, _figures(tmp_path_factory.mktemp(f"realais-{name}"), name)


def test_no_false_alert_and_one_track_per_mmsi(replayed: tuple[str, dict[str, object]]) -> None:
    name, result = replayed
    figures = result["figures"]
    assert isinstance(figures, dict)
    # measured (bench/realais.py): NY 30 min 284 vessels, AMSA 865 vessels in the Australian area
    assert figures["vessels"] >= {"ny": 280, "amsa": 850}[name], figures["vessels"]
    # one false alert would already be 1.7 (NY, 30 min) or 2.6 (AMSA, 6.4 min) per 10 vessels per day: the bound is 0
    assert figures["false_alerts"] == 0 and figures["false_per_10_vessels_per_day"] == 0.0, figures["by_rule"]
    tracks = figures["tracks_per_mmsi"]
    assert isinstance(tracks, dict)
    for n, row in tracks.items():
        assert row["untracked"] == 0 and row["on_more_than_one_track"] == 0 and row["tracks_per_vessel"] == 1.0, (n, row)
    assert figures["tracks_with_two_mmsi"] == 0
    replay = result["replay"]
    assert isinstance(replay, dict)
    assert replay["measurements"] == figures["reports"]  # the figures count exactly the reports the replay accepted


def test_amsa_rejects_only_what_is_outside_or_invalid(replayed: tuple[str, dict[str, object]]) -> None:
    name, result = replayed
    replay = result["replay"]
    assert isinstance(replay, dict)
    if name == "ny":
        assert replay["rejected"] == 0
        return
    # the 751 North American reports (SOURCE.md) lie outside the Australian area, MMSI 0 and lat 91 are invalid;
    # measured 1,466 rejects, of 25,818 position-bearing sentences
    assert 751 <= int(str(replay["rejected"])) <= 1500
    assert replay["late_dropped"] == 0


def test_zda_clock_times_the_amsa_stream() -> None:
    batches, skipped = clocked_nmea(AMSA, "amsa")
    times = [b.t for b in batches]
    assert times == sorted(times)
    assert times[0] == pytest.approx(AMSA_CLOCK[0]) and times[-1] == pytest.approx(AMSA_CLOCK[1])
    assert len(batches) == 385  # 384 ZDA readings; the lines before the first one get the first reading
    assert all(line.startswith(("!", "\\")) for b in batches for line in b.lines)
    # every status, GPS and proprietary sentence is left out, every AIS sentence kept
    lines = gzip.decompress(AMSA.read_bytes()).decode().splitlines()
    n_ais = sum(1 for ln in lines if ln.startswith("!"))
    assert sum(len(b.lines) for b in batches) == n_ais
    assert skipped == sum(1 for ln in lines if ln.strip() and not ln.startswith("!")) - 384


def test_zda_time_reads_utc_and_refuses_other_lines() -> None:
    assert zda_time("$GPZDA,114702.51,27,01,2012,,*66") == pytest.approx(AMSA_CLOCK[0])
    assert zda_time("$GPZDA,114702.51,31,02,2012,,*66") is None  # 31 February
    assert zda_time("!AIVDM,1,1,,A,17P@<J?P00blFWmjG@5a5?v62<10,0*27") is None


def test_cli_reads_an_nmea_log_and_refuses_one_without_clock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = gzip.decompress(AMSA.read_bytes()).decode().splitlines()[:1000]
    log = tmp_path / "head.nmea"
    log.write_text("\n".join(lines) + "\n")
    out = tmp_path / "r.jsonl.gz"
    assert main([str(log), "-o", str(out), "--source", "amsa"]) == 0
    result = json.loads(capsys.readouterr().out)
    messages = list(read_recording(out))
    assert result["format"] == "nmea" and result["messages"] == len(messages) > 0
    assert {m.topic for m in messages} == {AIS_TOPIC_ROOT + "amsa"}
    assert result["sentences"] == sum(1 for ln in lines if ln.startswith("!"))
    no_clock = tmp_path / "noclock.nmea"
    no_clock.write_text("\n".join(ln for ln in lines if "ZDA" not in ln) + "\n")
    assert main([str(no_clock), "-o", str(out)]) == 1
    assert "ZDA" in capsys.readouterr().err


def _position(t: float, lat: float, lon: float) -> AisPosition:
    return AisPosition(t=t, source="test", mmsi=366000001, lat=lat, lon=lon)


def test_ais_gap_claim_is_checked_against_the_reports() -> None:
    times = [0.0, 60.0, 1000.0]
    ll = [(40.5, -74.0), (40.5, -74.0), (40.5, -74.0)]
    # silent 900 s at t = 990: the last report was at 60 s, none in between: the claim holds
    assert ais_gap_claim_holds(990.0, {"ais_silent_s": 900.0}, times, ll)
    # silent 900 s at t = 1100: the report at 1000 s (processed by then) contradicts it
    assert not ais_gap_claim_holds(1100.0, {"ais_silent_s": 900.0}, times, ll)
    # a jump of 10 km where the reports moved 1.1 km (0.01 deg of latitude): false; 0.5 km reach: holds
    far = [(40.5, -74.0), (40.51, -74.0), (40.51, -74.0)]
    assert not ais_gap_claim_holds(1000.0, {"jump_m": 10_000.0, "reach_m": 10_000.0}, times, far)
    assert ais_gap_claim_holds(1000.0, {"jump_m": 1_100.0, "reach_m": 500.0}, times, far)


def test_figures_count_false_alerts_per_rule(tmp_path: Path) -> None:
    positions = [_position(float(t), 40.5, -74.0) for t in (0.0, 60.0, 1000.0)]
    alerts = [
        {"t": 990.0, "alert_id": "ais_gap-1-0", "rule": "ais_gap", "state": "raised", "mmsi": 366000001,
         "reason": "AIS silent", "evidence": {"ais_silent_s": 900.0}},
        {"t": 995.0, "alert_id": "go_fast-1-1", "rule": "go_fast", "state": "raised", "mmsi": 366000001,
         "reason": "fast", "evidence": {"speed_kn": 40.0}},
        {"t": 1000.0, "alert_id": "go_fast-1-1", "rule": "go_fast", "state": "cleared", "mmsi": 366000001},
    ]
    (tmp_path / "alerts.jsonl").write_text("".join(json.dumps(a) + "\n" for a in alerts))
    tracks = [{"t": t, "track_id": 1, "mmsi": 366000001} for t in (5.0, 65.0, 1005.0)]
    (tmp_path / "tracks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tracks))
    f = real_ais_figures(positions, tmp_path, min_reports=(1,))
    by_rule = f["by_rule"]
    assert isinstance(by_rule, dict)
    assert by_rule["ais_gap"]["claim_holds"] == 1 and by_rule["ais_gap"]["false"] == 0
    assert by_rule["go_fast"]["false"] == 1 and by_rule["go_fast"]["alerts"] == 1
    # 1 false alert, 1 vessel, 1000 s: 10 x 1 / (1 x 1000 / 86400)
    assert f["false_alerts"] == 1 and f["false_per_10_vessels_per_day"] == pytest.approx(864.0)
    assert f["tracks_per_mmsi"] == {"min_reports_1": {"vessels": 1, "untracked": 0, "tracks_per_vessel": 1.0, "max": 1,
                                                      "on_more_than_one_track": 0}}


def test_replay_refuses_a_data_area_no_local_frame_covers(tmp_path: Path) -> None:
    # the AMSA stream holds Australian and North American positions: the area from the data would be a frame over
    # the globe (38 % scale error, a distance-to-shore grid of gigabytes); the replay says so and asks for an area
    import_nmea(AMSA, tmp_path / "amsa.jsonl.gz", source="amsa")
    with pytest.raises(ReplayError, match=r"distorts distances by 38 %.*deployment with an \[area\]"):
        replay_recording(tmp_path / "amsa.jsonl.gz", tmp_path / "out")
    assert frame_scale_error(DataArea(-45.0, -8.0, 110.0, 160.0)) <= MAX_DATA_AREA_SCALE_ERROR  # realais_amsa.toml's area
