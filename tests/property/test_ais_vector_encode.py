"""The vectorised AIS position encoder (``sensors.ais.position_lines``, behind ``encode_payload``
and the simulator) held to pyais, the reference: byte-identical to pyais's encoder fed the field
dicts of the scalar wire rules written out below, and its sentences decode with pyais to those
fields. Reports are drawn anywhere inside the encodable bounds (off the wire grid, so that every
rounding is exercised), mixed with static reports, which still go through pyais.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pyais
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyais.encode import encode_dict

from sensors import ais
from sensors.codec import KNOT_MPS
from sensors.reports import AisPosition, AisStatic

SETTINGS = settings(max_examples=200, deadline=None)
T0 = 1_700_000_000.0


def finite(lo: float, hi: float, *, exclude_max: bool = False) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, exclude_max=exclude_max)


times = st.integers(0, 86_400_000).map(lambda ms: T0 + ms / 1000.0) | finite(T0, T0 + 86_400.0)
positions = st.builds(
    AisPosition,
    t=times,
    source=st.sampled_from(["rx1", "ais-kingston"]),
    mmsi=st.integers(1, ais.MMSI_MAX),
    lat=finite(-90.0, 90.0),
    lon=finite(-180.0, 180.0),
    sog_mps=st.none() | finite(0.0, 1500.0),
    cog_deg=st.none() | finite(0.0, 360.0, exclude_max=True),
    heading_deg=st.none() | finite(0.0, 360.0, exclude_max=True),
    msg_type=st.sampled_from(sorted(ais.ENCODED_POSITION_TYPES)),
    accuracy=st.booleans(),
)
statics = st.builds(
    AisStatic,
    t=times,
    source=st.just("rx1"),
    mmsi=st.integers(1, 979_999_999),  # 98xxxxxxx: auxiliary craft, whose type 24 part B pyais encodes otherwise
    name=st.none() | st.sampled_from(["SEA STAR", "A"]),
    callsign=st.none() | st.just("HP1234"),
    ship_type=st.none() | st.sampled_from([30, 70]),
    msg_type=st.sampled_from([5, 24]),
)


def reference_fields(r: AisPosition) -> dict[str, Any]:
    """The pyais field dict of a position by the scalar wire rules (docs/FORMATS.md, "AIS")."""
    sog = 102.3 if r.sog_mps is None else min(round(r.sog_mps / KNOT_MPS * 10.0), 1022) / 10.0
    cog = 360.0 if r.cog_deg is None else round(r.cog_deg * 10.0) % 3600 / 10.0
    heading = 511 if r.heading_deg is None else round(r.heading_deg) % 360
    fields = {"msg_type": r.msg_type, "mmsi": r.mmsi, "lat": r.lat, "lon": r.lon, "speed": sog, "course": cog,
              "heading": heading, "accuracy": r.accuracy, "second": int(r.t) % 60}
    fields.update({"cs": True} if r.msg_type == 18 else {"status": 15})
    return fields


def reference_lines(reports: list[AisPosition | AisStatic], channel: str) -> list[str]:
    """Every report encoded alone with pyais, in order (statics by ``ais.encode``, sequence ids in turn)."""
    lines: list[str] = []
    seq = 0
    for r in reports:
        if isinstance(r, AisStatic):
            encoded = ais.encode(r, seq_id=seq, channel=channel)
            seq = (seq + 1) % 10 if len(encoded) > 1 else seq
            lines += encoded
            continue
        (sentence,) = encode_dict(reference_fields(r), talker_id="AI", sentence_type="VDM", radio_channel=channel)
        lines.append(ais.tag_block((f"c:{ais.format_time(r.t)}", f"s:{r.source}")) + sentence)
    return lines


@SETTINGS
@given(st.lists(positions | statics, max_size=30), st.sampled_from("AB"))
def test_payload_is_byte_identical_to_pyais(reports: list[AisPosition | AisStatic], channel: str) -> None:
    assert ais.encode_payload(reports, channel=channel) == "\r\n".join(reference_lines(reports, channel)).encode()


@SETTINGS
@given(st.lists(positions, min_size=1, max_size=30))
def test_sentences_decode_with_pyais_to_the_fields(reports: list[AisPosition]) -> None:
    lines = ais.encode_payload(reports).decode().split("\r\n")
    assert len(lines) == len(reports)
    for line, r in zip(lines, reports, strict=True):
        tag, sentence = line[1:].split("\\", 1)
        assert tag.split("*")[0] == f"c:{ais.format_time(r.t)},s:{r.source}"
        decoded = pyais.decode(sentence).asdict()
        want = reference_fields(r)
        assert {k: decoded[k] for k in ("msg_type", "mmsi", "speed", "course", "heading", "accuracy", "second")} == {
            k: want[k] for k in ("msg_type", "mmsi", "speed", "course", "heading", "accuracy", "second")}
        assert (decoded["lat"], decoded["lon"]) == (round(round(r.lat * 600000.0) / 600000.0, 6),
                                                    round(round(r.lon * 600000.0) / 600000.0, 6))


@pytest.mark.parametrize(("change", "message"), [
    ({"lat": 91.0}, "lat = 91.0"), ({"sog_mps": float("nan")}, "sog_mps = nan"), ({"cog_deg": 360.0}, "cog_deg = 360.0"),
    ({"msg_type": 5}, "msg_type = 5"), ({"mmsi": 0}, "mmsi = 0"), ({"t": -1.0}, "t = -1.0")])
def test_unencodable_columns_name_the_bad_value(change: dict[str, object], message: str) -> None:
    good = AisPosition(t=T0, source="rx1", mmsi=123456789, lat=10.0, lon=-70.0, sog_mps=5.0)
    bad = msgspec.structs.replace(good, **change)
    with pytest.raises(ValueError, match=re.escape(message)):
        ais.encode_payload([good, bad])
