"""Fixtures of the evaluation tests (the scene builder lives in eval_scene.py: a module named
conftest cannot be imported by name, every test folder has one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_scene import Scene


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    return Scene(tmp_path / "run")
