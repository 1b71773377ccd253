"""Every stored fuzz input through its decoder's check (the atheris harnesses' own checks,
``fuzz_checks.CHECKS``): the seed corpora ``tests/fuzz/corpus/NAME/`` and the findings kept
as regressions ``tests/fuzz/regressions/NAME/``. Needs no atheris; runs in the normal suite."""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import pytest
from fuzz_checks import CHECKS, RECV_T, SOURCE, check_report

from sensors.reports import AisPosition

HERE = Path(__file__).parent
INPUTS = sorted(p for folder in ("corpus", "regressions") for p in (HERE / folder).glob("*/*") if p.is_file())


def test_every_decoder_has_seeds() -> None:
    assert {p.parent.name for p in INPUTS if p.parent.parent.name == "corpus"} == set(CHECKS)
    assert {p.parent.name for p in INPUTS} <= set(CHECKS)


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}")
def test_stored_input_keeps_the_contract(path: Path) -> None:
    CHECKS[path.parent.name](path.read_bytes())


def test_checks_catch_a_broken_contract() -> None:
    """The checks are not vacuous: a NaN, out-of-window or out-of-range report fails them."""
    good = AisPosition(t=RECV_T, source=SOURCE, mmsi=211_000_000, lat=10.0, lon=-70.0)
    check_report(good)
    for bad in (msgspec.structs.replace(good, lat=math.nan), msgspec.structs.replace(good, t=RECV_T + 3600.0),
                msgspec.structs.replace(good, cog_deg=360.0), msgspec.structs.replace(good, mmsi=0)):
        with pytest.raises(AssertionError):
            check_report(bad)
