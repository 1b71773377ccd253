"""Shared fixtures: a real Mosquitto per test on a free loopback port, stopped by pid.

Before anything imports numpy, the suite pins the float code paths that differ between x86
machines: numpy's AVX-512 dispatch targets (its ufunc loops give other last bits than the AVX2
ones) and OpenBLAS's kernel family. The replay goldens (tests/replay) compare track rows to 1 m
and 0.01 m/s, and a last-bit difference flips a gate or a confirmation at the margin: on an
AVX-512 machine the goldens written on an AVX2 one failed (2026-12-08). Child processes that
tests start inherit the same environment. numpy reads NPY_DISABLE_CPU_FEATURES once at import
(numpy.org/doc/stable/reference/simd/build-options.html, "Runtime dispatch").
"""

from __future__ import annotations

import os
import platform

if platform.machine() in ("x86_64", "AMD64"):
    os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL AVX512_SPR")
    os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# The suite's property tests draw the same examples on every run ("ci", the default): a rare example
# that fails must not fail one CI run in N (test_imm_equals_filterpy did, 2026-12-08). Search new
# examples on purpose with HYPOTHESIS_PROFILE=explore (random draws, failures kept in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from fusion.broker import Mosquitto, mosquitto_available  # noqa: E402


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    """A fresh Mosquitto on 127.0.0.1:<free port> with raised queue limits (see fusion/broker.py)."""
    if not mosquitto_available():
        pytest.fail("these tests need the mosquitto binary (Debian package mosquitto)")
    with Mosquitto(persistence=True) as broker:
        yield broker
