"""Shared fixtures: a real Mosquitto per test on a free loopback port, stopped by pid."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fusion.broker import Mosquitto, mosquitto_available


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    """A fresh Mosquitto on 127.0.0.1:<free port> with raised queue limits (see fusion/broker.py)."""
    if not mosquitto_available():
        pytest.fail("these tests need the mosquitto binary (Debian package mosquitto)")
    with Mosquitto(persistence=True) as broker:
        yield broker
