"""fusion.identity: MID flag, ICAO address State, ship type text, the per-tick identity lookup."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fusion.identity import (
    UNKNOWN,
    IdentityLookup,
    country_name,
    country_of_icao24,
    flag_of_mmsi,
    mid_of_mmsi,
    ship_type_text,
)
from sensors.reports import AisStatic


@pytest.mark.parametrize(("mmsi", "code"), [
    (366123456, "US"), (538001234, "MH"), (312900100, "BZ"), (730123456, "CO"), (351234567, "PA"),
    (853812345, "MH"),  # handheld 8MIDxxxxx
    (812345678, None),  # handheld with MID 123: not allocated
    (982111234, "DE"),  # craft associated with a parent ship 98MIDxxxx
])
def test_flag_of_mmsi(mmsi: int, code: str | None) -> None:
    found = flag_of_mmsi(mmsi)
    assert (found.code if found else None) == code


def test_flag_examples_named() -> None:
    assert flag_of_mmsi(366999999) is not None and flag_of_mmsi(366999999).code == "US"
    assert flag_of_mmsi(538000000).code == "MH" and "Marshall" in flag_of_mmsi(538000000).name
    assert mid_of_mmsi(111232123) == 232  # SAR aircraft 111MIDxxx
    assert mid_of_mmsi(992351234) == 235  # aid to navigation 99MIDxxxx


@pytest.mark.parametrize("mmsi", [0, 36612345, 3661234567, 12345678, 23456789, 100000000, 199999999, -366123456,
                                  970123456, 1_000_000_000])
def test_invalid_or_non_vessel_mmsi_has_no_flag(mmsi: int) -> None:
    """Leading zeros (group / coast stations) make fewer than nine digits; 1xx and 97x carry no MID."""
    assert flag_of_mmsi(mmsi) is None


@pytest.mark.parametrize(("icao", "code", "name"), [
    (0xA00001, "US", "United States"), (0xAFFFFF, "US", "United States"), (0x0D0000, "MX", "Mexico"),
    (0x0D7FFF, "MX", "Mexico"), (0x0D8000, "VE", "Venezuela"), (0x0AC123, "CO", "Colombia"), (0x0BA000, "HN", "Honduras"),
    (0x3C4B26, "DE", "Germany"), (0x4CA000, "IE", "Ireland"), (0xC00001, "CA", "Canada"),
])
def test_country_of_icao_address(icao: int, code: str, name: str) -> None:
    assert country_of_icao24(icao) == (code, name)


@pytest.mark.parametrize("icao", [0, 0x000001, 0x0D_E000 + 0x2_0000, 0xB00000, 0xF00000, 0xFFFFFF, 0x1000000, -1])
def test_address_outside_state_blocks_has_no_country(icao: int) -> None:
    assert country_of_icao24(icao) is None


def test_icao_blocks_file_is_sorted_disjoint_aligned_and_cites_its_source() -> None:
    doc = json.loads(resources.files("fusion").joinpath("icao24_blocks.json").read_text())
    assert "Annex 10" in doc["source"]
    end = -1
    for first, bits, code, name in doc["blocks"]:
        start = int(first, 16)
        assert start % (1 << bits) == 0 and start > end and len(code) == 2 and name
        end = start + (1 << bits) - 1


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_any_mmsi_gives_a_flag_or_none(mmsi: int) -> None:
    found = flag_of_mmsi(mmsi)
    assert found is None or (len(found.code) == 2 and found.name)


@given(st.integers(min_value=-(2**40), max_value=2**40))
def test_any_icao_address_gives_a_country_or_none(icao: int) -> None:
    found = country_of_icao24(icao)
    assert found is None or (len(found.code) == 2 and 0 < icao <= 0xFFFFFF)


@pytest.mark.parametrize(("code", "text"), [
    (30, "Fishing"), (52, "Tug"), (55, "Law enforcement"), (37, "Pleasure craft"), (60, "Passenger"), (70, "Cargo"),
    (80, "Tanker"), (84, "Tanker, hazardous category D"), (79, "Cargo"), (36, "Sailing"), (40, "High speed craft"),
    (90, "Other type"), (10, "Reserved"), (0, None), (None, None), (100, None),
])
def test_ship_type_text_follows_table_53(code: int | None, text: str | None) -> None:
    assert ship_type_text(code) == text


@given(st.one_of(st.none(), st.integers()))
def test_any_ship_type_gives_text_or_none(code: int | None) -> None:
    assert ship_type_text(code) is None or 1 <= code <= 99  # type: ignore[operator]


def test_lookup_joins_statics_call_signs_and_tables() -> None:
    statics = {366123456: AisStatic(t=0.0, source="r", mmsi=366123456, name="SEA WITCH", callsign="WDA1234", ship_type=52)}
    lookup = IdentityLookup(statics, {0x0D0A1B: "TAI392"})
    assert lookup.of(366123456, None) == ("SEA WITCH", "WDA1234", 52, "Tug", "US", None)
    assert lookup.of(538000001, None) == (None, None, None, None, "MH", None)  # flag without static data
    assert lookup.of(None, 0x0D0A1B) == (None, "TAI392", None, None, None, "MX")
    assert lookup.of(None, None) is UNKNOWN
    assert country_name("MX") == "Mexico" and country_name(None) is None
