"""Fixtures shared by the live tests against the shipped secured broker configuration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from secured_broker import Secured, secured_mosquitto


@pytest.fixture(scope="module")
def sec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """The shipped secured Mosquitto configuration (deploy/mosquitto), each party on its own account; one broker per
    test module."""
    with secured_mosquitto(tmp_path_factory.mktemp("etc")) as s:
        yield s
