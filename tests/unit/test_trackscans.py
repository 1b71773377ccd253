"""track-scans file mode, and GOSPA against Stone Soup's GNN tracker on a small scenario."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from gen_scans import generate, write_jsonl  # noqa: E402
from tracker import gospa, run_ours, run_stonesoup  # noqa: E402

from fusion.trackscans import iter_scans, main, run_track_scans  # noqa: E402


def test_file_mode_writes_one_line_per_scan(tmp_path: Path) -> None:
    scans = generate(20, 8, seed=2)
    write_jsonl(scans, tmp_path / "in.jsonl")
    stats = run_track_scans(tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert stats["scans"] == len(lines) == 8
    assert [x["t"] for x in lines] == [s.t for s in scans]
    last = np.array([r[1:3] for r in lines[-1]["tracks"]])
    assert gospa(scans[-1].truth_xy, last) < gospa(scans[-1].truth_xy, np.zeros((0, 2)))


def test_bad_header_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.jsonl").write_text('{"dt": 4, "sigma": -1}\n')
    assert main([str(tmp_path / "bad.jsonl"), "-o", str(tmp_path / "o")]) == 1  # bad file content: a runtime error
    assert "header.sigma" in capsys.readouterr().err


def test_gospa_reference_values() -> None:
    truth = np.array([[0.0, 0.0], [1000.0, 0.0]])
    assert gospa(truth, np.array([[30.0, 40.0]])) == pytest.approx(np.sqrt(50.0**2 + 500.0**2 / 2))
    assert gospa(truth, np.zeros((0, 2))) == pytest.approx(500.0)


def test_gospa_no_worse_than_stonesoup_small() -> None:
    scans = generate(25, 12, seed=5)
    ours, theirs = run_ours(scans), run_stonesoup(scans)
    assert ours["gospa_mean_m"] <= theirs["gospa_mean_m"] * 1.02, (ours, theirs)


def test_scan_lines_typed_fast_path_and_generic_checks_agree() -> None:
    lines = [
        b'{"kind": "scan", "t": 4, "detections": [[1, 2.5], [3, 4]], "truth": [[7, 1.0, 2.0]]}',  # the usual shape
        b'{"kind": "note", "t": "any", "detections": 5}',  # not a scan: skipped, whatever else it holds
        b'[1, 2]',  # not an object: skipped
        b'{"kind": "scan", "t": 8.0}',  # no detections
        b'{"kind": "scan", "t": 12.0, "detections": [1, 2, 3, 4]}',  # flat pairs: accepted by the generic path
    ]
    got = list(iter_scans(lines))
    assert [t for t, _ in got] == [4.0, 8.0, 12.0]
    np.testing.assert_array_equal(got[0][1], [[1.0, 2.5], [3.0, 4.0]])
    assert got[1][1].shape == (0, 2)
    np.testing.assert_array_equal(got[2][1], [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="line 2: t = True"):
        list(iter_scans([b'{"kind": "scan", "t": true, "detections": []}']))
    with pytest.raises(ValueError, match="line 3: detections"):
        list(iter_scans([b"", b'{"kind": "scan", "t": 1.0, "detections": [[1, 2, 3]]}']))


def test_cli_jpda_and_score_on_a_dense_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--association jpda --confirmation score``: the file is tracked, and on a dense file (targets
    500 m apart) the score keeps fewer false tracks than 2-of-3 (GOSPA over the last scans)."""
    scans = generate(100, 15, seed=3, spacing_m=500.0)
    write_jsonl(scans, tmp_path / "in.jsonl")
    score = {}
    for opts in ([], ["--association", "jpda", "--confirmation", "score"]):
        out = tmp_path / f"out{len(opts)}.jsonl"
        assert main([str(tmp_path / "in.jsonl"), "-o", str(out), *opts]) == 0
        lines = [json.loads(x) for x in out.read_text().splitlines()]
        assert len(lines) == 15 and json.loads(capsys.readouterr().out)["scans"] == 15
        score[len(opts)] = np.mean([gospa(s.truth_xy, np.array([r[1:3] for r in x["tracks"]]).reshape(-1, 2))
                                    for s, x in zip(scans[8:], lines[8:], strict=True)])
    assert score[4] < score[0], score
