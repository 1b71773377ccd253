"""Shared edge validation: bounds, time window, payload limit, msgspec error paths."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from sensors.codec import ANGLE, LAT, Bound, check_number, check_payload_size, check_time, decode_json
from sensors.errors import DecodeError
from sensors.limits import MAX_AGE_S, MAX_FUTURE_S, MAX_PAYLOAD_BYTES
from sensors.reports import RadarScan

T0 = 1_700_000_000.0


@pytest.mark.parametrize(
    ("bound", "value", "holds"),
    [(LAT, 90.0, True), (LAT, -90.0001, False), (ANGLE, 0.0, True), (ANGLE, 360.0, False),
     (ANGLE, math.nan, False), (Bound(0.0, math.inf), math.inf, True), (LAT, math.inf, False)],
)
def test_bound_edges_and_nan(bound: Bound, value: float, holds: bool) -> None:
    assert bound.holds(value) is holds


def test_check_number_rejects_non_numbers_and_names_the_field() -> None:
    with pytest.raises(DecodeError) as caught:
        check_number("radar/s1", "plots[4].range_m", True, LAT)
    assert caught.value.field == "plots[4].range_m" and "number" in caught.value.reason
    assert str(_raised(lambda: check_number("oth/o", "lat", 95, LAT))) == (
        "oth/o: lat = 95: must be a finite number in [-90, 90]")


def test_time_window_edges() -> None:
    assert check_time("f", "t", T0 + MAX_FUTURE_S, T0) == T0 + MAX_FUTURE_S
    assert check_time("f", "t", T0 - MAX_AGE_S, T0) == T0 - MAX_AGE_S
    for bad in (T0 + MAX_FUTURE_S + 1.0, T0 - MAX_AGE_S - 1.0, math.nan, "now"):
        assert _raised(lambda bad=bad: check_time("f", "t", bad, T0)).field == "t"


def test_payload_limit() -> None:
    assert check_payload_size("f", b"x" * MAX_PAYLOAD_BYTES) is None
    error = check_payload_size("f", b"x" * (MAX_PAYLOAD_BYTES + 1))
    assert error is not None and error.field == "payload"


def test_decode_json_maps_msgspec_paths_to_field_names() -> None:
    names = {"plots": ("range_m", "az_deg", "el_deg", "snr_db")}
    payload = b'{"site":"s","t":1,"plots":[[1,2],[3,"east"]]}'
    error = _raised(lambda: decode_json("radar/s", payload, RadarScan, names, prefix="scan."))
    assert (error.field, error.value) == ("scan.plots[1].az_deg", "east")


def _raised(action: Callable[[], object]) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        action()
    return caught.value
