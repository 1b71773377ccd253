"""Options of the replay regression suite: ``--update-goldens`` rewrites the expected files."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("replay goldens")
    group.addoption("--update-goldens", action="store_true", default=False,
                    help="rewrite tests/replay/data/*/expected_* from a fresh replay and print what changed")
    group.addoption("--rerecord", action="store_true", default=False,
                    help="with --update-goldens: also regenerate the recordings from the scenarios")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture
def rerecord(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--rerecord"))


@pytest.fixture(autouse=True, scope="session")
def _float_paths_pinned() -> None:
    """The goldens were written with numpy's AVX-512 dispatch off (tests/conftest.py pins it before
    numpy is imported); on a machine where it is still on, a failure would mean nothing."""
    from numpy._core._multiarray_umath import __cpu_features__

    if __cpu_features__.get("X86_V4"):
        pytest.fail("numpy was imported before tests/conftest.py could set NPY_DISABLE_CPU_FEATURES: "
                    "the replay goldens need numpy's AVX2 code paths (see tests/conftest.py)")
