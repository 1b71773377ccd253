"""Identity of tracks and alerts: names, call signs, ship types, flags and States of registry. Pure.

What the service knows of a vessel or aircraft beyond its MMSI / ICAO 24-bit address:

- AIS static data (type 5, type 24 A/B): name, call sign, ship type (kept by ``fusion.ingest``
  per MMSI, latest wins, parts merged);
- ADS-B call sign (SBS-1 ``MSG,1`` / aircraft.json ``flight``, kept by ingest per address);
- the flag a ship station's MMSI claims: its Maritime Identification Digits (MID), looked up
  in the ITU MID table as pyais ships it (``pyais.constants.COUNTRY_MAPPING``);
- the State of registry an ICAO 24-bit address was allocated to: ICAO Annex 10 Vol. III
  Chapter 9 Appendix, Table 9-1, shipped as ``icao24_blocks.json`` (no kept PyPI package
  carries that table; its source is cited in the file);
- the ship type's text: ITU-R M.1371-5 Table 53 (the codes are pyais' ``ShipType``; the
  words are the Recommendation's, written here because pyais' member names are identifiers).

Flags and countries are ISO 3166-1 alpha-2 codes; ``country_name`` gives the name.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

from pyais.constants import COUNTRY_MAPPING

from sensors.reports import AisStatic

IDENTITY_FIELDS: tuple[str, ...] = ("name", "callsign", "ship_type", "ship_type_text", "flag", "country")
MMSI_MIN, MMSI_MAX = 100_000_000, 999_999_999  # nine digits; a leading 0 (group / coast station) reads as fewer


class Country(NamedTuple):
    """ISO 3166-1 alpha-2 code and a name."""

    code: str
    name: str


class Identity(NamedTuple):
    """Identity fields of one track or alert, in the order of IDENTITY_FIELDS; None when unknown."""

    name: str | None = None
    callsign: str | None = None
    ship_type: int | None = None
    ship_type_text: str | None = None
    flag: str | None = None  # ISO alpha-2 of the MMSI's MID (vessels)
    country: str | None = None  # ISO alpha-2 of the ICAO address block (aircraft)


UNKNOWN = Identity()


def mid_of_mmsi(mmsi: int) -> int | None:
    """The Maritime Identification Digits of an MMSI (ITU-R M.585 formats), None when it carries none.

    Ship station ``MIDxxxxxx`` (first digit 2-7), handheld ``8MIDxxxxx``, craft associated with a
    parent ship ``98MIDxxxx``, aid to navigation ``99MIDxxxx``, SAR aircraft ``111MIDxxx``. Group
    (``0MID...``) and coast (``00MID...``) stations lose their leading zeros as integers and are
    not vessels: None, as for every number outside nine digits.
    """
    if not MMSI_MIN <= mmsi <= MMSI_MAX:
        return None
    digits = str(mmsi)
    if digits[0] in "234567":
        return int(digits[0:3])
    if digits[0] == "8":
        return int(digits[1:4])
    if digits[:2] in ("98", "99"):
        return int(digits[2:5])
    if digits[:3] == "111":
        return int(digits[3:6])
    return None


@lru_cache(maxsize=4096)
def flag_of_mmsi(mmsi: int) -> Country | None:
    """The flag State an MMSI's MID is allocated to, None without a MID or for an unallocated one."""
    mid = mid_of_mmsi(mmsi)
    found = COUNTRY_MAPPING.get(mid) if mid is not None else None
    return None if found is None else Country(*found)


class _Blocks(NamedTuple):
    starts: list[int]
    ends: list[int]  # inclusive
    states: list[Country]


@lru_cache(maxsize=1)
def _icao_blocks() -> _Blocks:
    doc = json.loads(resources.files("fusion").joinpath("icao24_blocks.json").read_text(encoding="utf-8"))
    rows = sorted((int(first, 16), bits, Country(code, name)) for first, bits, code, name in doc["blocks"])
    return _Blocks([r[0] for r in rows], [r[0] + (1 << r[1]) - 1 for r in rows], [r[2] for r in rows])


@lru_cache(maxsize=4096)
def country_of_icao24(icao24: int) -> Country | None:
    """The State whose ICAO block holds the 24-bit address, None outside every State block (or not 24-bit)."""
    if not 0 < icao24 <= 0xFFFFFF:
        return None
    b = _icao_blocks()
    i = bisect.bisect_right(b.starts, icao24) - 1
    return b.states[i] if i >= 0 and icao24 <= b.ends[i] else None


_HAZARD = {1: "hazardous category A", 2: "hazardous category B", 3: "hazardous category C", 4: "hazardous category D"}
_SHIP_DECADES = {2: "Wing in ground", 4: "High speed craft", 6: "Passenger", 7: "Cargo", 8: "Tanker", 9: "Other type"}
_SHIP_CODES = {
    30: "Fishing", 31: "Towing", 32: "Towing, large", 33: "Dredging or underwater operations", 34: "Diving operations",
    35: "Military operations", 36: "Sailing", 37: "Pleasure craft", 50: "Pilot vessel", 51: "Search and rescue vessel",
    52: "Tug", 53: "Port tender", 54: "Anti-pollution equipment", 55: "Law enforcement", 56: "Local vessel",
    57: "Local vessel", 58: "Medical transport", 59: "Noncombatant ship",
}


def ship_type_text(code: int | None) -> str | None:
    """ITU-R M.1371 Table 53 text of an AIS ship type code; None for 0 (not available), None or out of 1..99."""
    if code is None or not 1 <= code <= 99:
        return None
    if code in _SHIP_CODES:
        return _SHIP_CODES[code]
    decade, unit = divmod(code, 10)
    if decade in _SHIP_DECADES:
        kind = _SHIP_DECADES[decade]
        return f"{kind}, {_HAZARD[unit]}" if unit in _HAZARD else kind
    return "Reserved"


class IdentityLookup:
    """Identity by (MMSI, ICAO address) over ingest's AIS statics and ADS-B call signs.

    Long-lived (one per ``Fusion``): ``bind`` points it at the current mappings each output
    tick, and an answer is rebuilt only when the static record or call sign behind it changed
    (checked by object identity), so a tick costs about three dict lookups per output row.
    """

    MAX_MEMO = 400_000  # answers kept; past this the memo starts afresh

    def __init__(self, statics: Mapping[int, AisStatic], callsigns: Mapping[int, str]) -> None:
        self._memo: dict[tuple[int | None, int | None], tuple[AisStatic | None, str | None, Identity]] = {}
        self.bind(statics, callsigns)

    def bind(self, statics: Mapping[int, AisStatic], callsigns: Mapping[int, str]) -> IdentityLookup:
        """Answer from these mappings from now on (ingest replaces them on restore); returns self."""
        self.statics, self.callsigns = statics, callsigns
        if len(self._memo) > self.MAX_MEMO:
            self._memo.clear()
        return self

    def of(self, mmsi: int | None, icao24: int | None) -> Identity:
        """Identity of a track or alert with these identifiers (None: none)."""
        if mmsi is None and icao24 is None:
            return UNKNOWN
        st = self.statics.get(mmsi) if mmsi is not None else None
        cs = self.callsigns.get(icao24) if icao24 is not None else None
        key = (mmsi, icao24)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is st and hit[1] is cs:
            return hit[2]
        found = _identity(mmsi, icao24, st, cs)
        self._memo[key] = (st, cs, found)
        return found


def _identity(mmsi: int | None, icao24: int | None, st: AisStatic | None, callsign: str | None) -> Identity:
    flag = flag_of_mmsi(mmsi) if mmsi is not None else None
    country = country_of_icao24(icao24) if icao24 is not None else None
    ship_type = st.ship_type if st is not None else None
    return Identity(name=st.name if st is not None else None, callsign=st.callsign if st is not None and st.callsign else callsign,
                    ship_type=ship_type, ship_type_text=ship_type_text(ship_type), flag=flag.code if flag else None,
                    country=country.code if country else None)


def identity_fields(ident: Identity) -> dict[str, object]:
    """The known fields of ``ident`` (for ``msgspec.structs.replace``)."""
    return {k: v for k, v in ident._asdict().items() if v is not None}


def country_name(code: str | None) -> str | None:
    """Name of an ISO alpha-2 code from the MID or ICAO tables (the ICAO table's name first)."""
    if code is None:
        return None
    return _country_names().get(code)


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    names = {code: name for code, name in COUNTRY_MAPPING.values()}
    names.update({c.code: c.name for c in _icao_blocks().states})
    return names


__all__ = ["IDENTITY_FIELDS", "UNKNOWN", "Country", "Identity", "IdentityLookup", "country_name", "country_of_icao24",
           "flag_of_mmsi", "identity_fields", "mid_of_mmsi", "ship_type_text"]
