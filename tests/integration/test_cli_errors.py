"""Every command as an operator runs it, given a bad file, a bad option or an unreachable broker (a closed
port on 127.0.0.1): one line on stderr, no traceback, exit 1 (runtime) or 2 (usage, configuration)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fusion.broker import free_port
from fusion.recording import RecordingWriter

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180  # a cold start imports numpy, scipy, shapely... on a loaded machine

# (argv, extra environment, exit status, text stderr must hold); BAD_* and CLOSED are filled in below
CASES: list[tuple[list[str], dict[str, str], int, str]] = [
    (["evaluate", "BAD_TOML", "-o", "OUT"], {}, 1, "bad.toml"),
    (["evaluate", "minimal"], {}, 2, "required: -o/--output"),
    (["replay", "MISSING", "-o", "OUT"], {}, 1, "missing.rec"),
    (["replay", "GOOD_REC", "--broker", "CLOSED"], {}, 1, "Connection refused"),
    (["replay", "GOOD_REC"], {}, 2, "give -o DIR"),
    (["alerts", "--broker", "CLOSED"], {}, 1, "Connection refused"),
    (["alerts", "--broker", "CLOSED", "--persistent"], {}, 2, "--persistent needs --client-id"),
    (["sim", "minimal", "--broker", "CLOSED"], {}, 1, "Connection refused"),
    (["sim", "BAD_TOML", "--broker", "CLOSED"], {}, 1, "bad.toml"),
    (["sim", "minimal", "--broker", "CLOSED", "--speed", "0"], {}, 2, "--speed must be a number > 0"),
    (["sim", "minimal", "--broker", "CLOSED"], {"JISF_SPEED": "fast"}, 2, "environment JISF_SPEED='fast'"),
    (["sim", "minimal", "--broker", "http://x"], {}, 2, "scheme must be mqtt://"),
    (["record", "--broker", "CLOSED", "-o", "OUT_REC"], {}, 1, "Connection refused"),
    (["record", "--broker", "CLOSED", "-o", "BAD_TOML"], {}, 1, "bad.toml"),
    (["-v", "run", "--zones", "MISSING", "--broker", "CLOSED", "--mqtt-io", "inline"], {}, 1, "missing.rec"),
    (["run", "--broker", "CLOSED"], {"JISF_LOG_LEVEL": "loud"}, 2, "environment JISF_LOG_LEVEL"),
    (["import-ais", "MISSING", "-o", "OUT_REC"], {}, 1, "missing.rec"),
    (["track-scans", "MISSING", "-o", "OUT"], {}, 1, "missing.rec"),
    (["plot", "MISSING_DIR", "-o", "OUT_PNG"], {}, 1, "tracks.jsonl"),
    (["plot", "MISSING_DIR", "-o", "OUT_PNG", "--width", "5"], {}, 2, "--width must be at least"),
    (["cot", "--broker", "CLOSED", "--to", "foo://x"], {}, 2, "scheme must be udp:// or tcp://"),
    (["demo", "--scenario", "MISSING"], {}, 1, "no such file, nor a shipped scenario"),
    (["--debug", "nonsense"], {}, 2, "unknown command 'nonsense'"),
    (["alerts", "--broker", "CLOSED", "--username", "u", "--password-file", "MISSING"], {}, 2, "password_file"),
    (["web", "--broker", "CLOSED", "--listen", "nonsense"], {}, 2, "nonsense"),
    (["web", "--broker", "CLOSED", "--listen", "127.0.0.1:0", "--scenario", "BAD_TOML"], {}, 1, "bad.toml"),
    (["archive", "--broker", "CLOSED"], {}, 2, "required: --store"),
    (["archive", "--broker", "CLOSED", "--store", "nosuch://x"], {}, 2, "--store"),
    (["history", "--store", "sqlite:///STORE", "--load", "MISSING_DIR"], {}, 1, "nowhere"),
    (["export", "kml", "--store", "sqlite:///STORE", "-o", "OUT", "--zones", "MISSING"], {}, 2, "--zones"),
]


def _jisf(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JISF_")}
    return subprocess.run([sys.executable, "-m", "fusion.cli", *argv], cwd=ROOT, env={**clean, **env}, capture_output=True,
                          text=True, timeout=TIMEOUT_S, check=False)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "bad.toml").write_text("this is = not [ a scenario\n")
    good = tmp_path / "good.rec"
    with RecordingWriter(good) as w:
        w.append("jisf/v1/feeds/ais/x", b"!AIVDM", 0, False, 1_700_000_000.0)
    return {"BAD_TOML": str(tmp_path / "bad.toml"), "MISSING": str(tmp_path / "missing.rec"), "GOOD_REC": str(good),
            "MISSING_DIR": str(tmp_path / "nowhere"), "OUT": str(tmp_path / "out"), "OUT_REC": str(tmp_path / "o.rec"),
            "OUT_PNG": str(tmp_path / "o.png"), "CLOSED": f"mqtt://127.0.0.1:{free_port()}",
            "sqlite:///STORE": f"sqlite:///{tmp_path / 'history.db'}"}


@pytest.mark.parametrize(("argv", "env", "code", "says"), CASES, ids=[" ".join(c[0][:2]) + f"-{i}" for i, c in enumerate(CASES)])
def test_one_line_and_the_exit_status(files: dict[str, str], argv: list[str], env: dict[str, str], code: int, says: str) -> None:
    done = _jisf([files.get(a, a) for a in argv], env)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    command = next(a for a in argv if not a.startswith("-"))
    assert done.stderr.startswith(f"jisf {command}: " if command != "nonsense" else "jisf: "), done.stderr


def test_debug_shows_the_traceback(files: dict[str, str]) -> None:
    done = _jisf(["--debug", "track-scans", files["MISSING"], "-o", files["OUT"]], {})
    assert done.returncode == 1 and "Traceback" in done.stderr and "FileNotFoundError" in done.stderr


def test_global_options_before_and_after_the_command(files: dict[str, str]) -> None:
    for argv in (["-v", "run", "--help"], ["run", "--help", "-v"], ["--progress", "evaluate", "--help"]):
        done = _jisf(argv, {})
        assert done.returncode == 0 and done.stdout.startswith(f"usage: jisf {argv[1] if argv[0].startswith('-') else argv[0]}"), done
    done = _jisf(["import-ais", "--help"], {})
    assert done.stdout.startswith("usage: jisf import-ais") and "python -m" not in done.stdout
