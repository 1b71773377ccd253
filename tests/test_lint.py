"""Lint and type gates (issue 18 item 7): ruff and mypy, configured in pyproject.toml, must be clean.

Both run as subprocesses of this interpreter (``sys.executable -m``), from the repository root, so that
`make test` (and so .ci/run) enforces them. mypy keeps its incremental cache in the repository's
``.mypy_cache`` (gitignored, [tool.mypy] cache_dir): a cold run takes tens of seconds, a warm one a few.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINTED = ["fusion", "sensors", "sim_feeds", "tests", "bench"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=280, check=False
    )


def test_ruff_clean() -> None:
    done = _run("ruff", "check", "--output-format", "concise", *LINTED)
    assert done.returncode == 0, f"ruff check {' '.join(LINTED)}:\n{done.stdout}{done.stderr}"


def test_mypy_clean() -> None:
    # files, cache_dir and every option come from [tool.mypy] in pyproject.toml
    done = _run("mypy")
    assert done.returncode == 0, f"mypy:\n{done.stdout}{done.stderr}"
