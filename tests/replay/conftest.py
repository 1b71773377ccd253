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
