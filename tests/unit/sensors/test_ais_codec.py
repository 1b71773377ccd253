"""AIS codec: hand-checked sentences, tag blocks, reassembly, not-available values."""

from __future__ import annotations

import pytest

from sensors import ais
from sensors.codec import KNOT_MPS
from sensors.reports import AisPosition, AisStatic

T0 = 1_700_000_000.0
# gpsd/pyais reference sentence: type 1, MMSI 366053209, 37.802118 N 122.341618 W, COG 219.3.
TYPE1 = b"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C"
# pyais README reference: type 5 in two sentences, MMSI 351759000 "EVER DIADEM".
TYPE5 = (
    b"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C\r\n"
    b"!AIVDM,2,2,1,A,88888888880,2*25"
)


def with_checksum(line: bytes) -> bytes:
    """Replace the two hex digits after ``*`` by the sentence's correct XOR checksum."""
    star = line.index(b"*")
    checksum = 0
    for byte in line[1:star]:
        checksum ^= byte
    return line[: star + 1] + f"{checksum:02X}".encode()


def decode(payload: bytes, decoder: ais.AisDecoder | None = None, recv_t: float = T0):
    return (decoder or ais.AisDecoder()).decode(payload, "rx1", recv_t)


def test_known_type1_sentence_decodes_to_hand_checked_values() -> None:
    reports, errors = decode(TYPE1)
    assert errors == []
    assert reports == [
        AisPosition(t=T0, source="rx1", mmsi=366053209, lat=37.802118, lon=-122.341618,
                    sog_mps=0.0, cog_deg=219.3, heading_deg=1.0, msg_type=1)
    ]


def test_known_type5_two_sentences_reassemble() -> None:
    decoder = ais.AisDecoder()
    reports, errors = decode(TYPE5, decoder)
    assert errors == []
    assert reports == [AisStatic(t=T0, source="rx1", mmsi=351759000, name="EVER DIADEM",
                                 callsign="3FOF8", ship_type=70, msg_type=5)]
    assert decoder.stats.sentences == 2


def test_fragments_reassemble_across_payloads_and_out_of_order() -> None:
    first, second = TYPE5.split(b"\r\n")
    decoder = ais.AisDecoder()
    assert decode(second, decoder) == ([], [])
    reports, errors = decode(first, decoder, T0 + 1.0)
    assert errors == [] and [r.mmsi for r in reports] == [351759000]


def test_incomplete_message_expires_after_timeout_and_is_counted() -> None:
    first, second = TYPE5.split(b"\r\n")
    decoder = ais.AisDecoder(reassembly_timeout_s=5.0)
    decode(first, decoder)
    decode(TYPE1, decoder, T0 + 6.0)  # any payload advances the expiry clock
    assert decoder.stats.fragments_expired == 1
    assert decode(second, decoder, T0 + 6.5) == ([], [])


def test_pending_messages_are_bounded() -> None:
    decoder = ais.AisDecoder(max_pending=2)
    for seq in range(3):
        encoded = ais.encode(AisStatic(t=T0, source="rx1", mmsi=123456789, name="A", msg_type=5),
                             seq_id=seq)
        decode(encoded[0].encode(), decoder)
    assert decoder.stats.fragments_expired == 1


def test_encode_position_has_tag_block_and_checksums() -> None:
    report = AisPosition(t=T0, source="rx1", mmsi=366053209, lat=37.802118, lon=-122.341618,
                         sog_mps=12.3 * KNOT_MPS, cog_deg=219.3, heading_deg=1.0, msg_type=1)
    (line,) = ais.encode(report)
    assert line.startswith("\\c:1700000000,s:rx1*01\\!AIVDM,1,1,,A,")
    assert decode(line.encode()) == ([report], [])


def test_encode_type5_uses_group_tag_blocks() -> None:
    static = AisStatic(t=T0, source="rx1", mmsi=351759000, name="EVER DIADEM", callsign="3FOF8",
                       ship_type=70, msg_type=5)
    lines = ais.encode(static, seq_id=4, channel="B")
    assert [line.split("*")[0] for line in lines] == ["\\g:1-2-5,c:1700000000,s:rx1", "\\g:2-2-5"]
    assert all(",4,B," in line for line in lines)
    assert decode("\n".join(lines).encode()) == ([static], [])


def test_type24_parts_a_and_b_merge_within_a_payload() -> None:
    static = AisStatic(t=T0, source="rx1", mmsi=338123456, name="SEA RAY", callsign="WDA1234",
                       ship_type=37, msg_type=24)
    lines = ais.encode(static)
    assert len(lines) == 2
    assert decode("\r\n".join(lines).encode()) == ([static], [])
    part_a, errors = decode(lines[0].encode())
    assert errors == [] and part_a == [AisStatic(t=T0, source="rx1", mmsi=338123456,
                                                 name="SEA RAY", msg_type=24)]


def test_millisecond_tag_time_is_detected() -> None:
    report = AisPosition(t=T0 + 0.25, source="rx1", mmsi=211000001, lat=10.0, lon=-70.0,
                         msg_type=18)
    (line,) = ais.encode(report)
    assert "c:1700000000250," in line
    assert decode(line.encode()) == ([report], [])


def test_without_tag_block_the_receive_time_is_used() -> None:
    reports, _ = decode(TYPE1, recv_t=T0 + 42.0)
    assert reports[0].t == T0 + 42.0


def test_not_available_speed_course_heading_become_none() -> None:
    report = AisPosition(t=T0, source="rx1", mmsi=211000001, lat=10.0, lon=-70.0)
    (line,) = ais.encode(report)
    assert decode(line.encode()) == ([report], [])


def test_position_not_available_is_rejected_naming_the_field() -> None:
    reports, errors = decode(b"!AIVDM,1,1,,A,17b<4P0P?w<tSF0l4Q@>4?wv0d0j,0*2C")
    assert reports == []
    assert errors[0].field == "lines[0].lat" and errors[0].value == 91.0


def test_own_ship_vdo_is_accepted() -> None:
    reports, errors = decode(with_checksum(TYPE1.replace(b"VDM", b"VDO")))
    assert errors == [] and reports[0].mmsi == 366053209


def test_other_message_types_and_sentences_are_counted_not_errors() -> None:
    decoder = ais.AisDecoder()
    payload = b"$GPZDA,114702.51,27,01,2012,,*66\n!ABVDO,1,1,,A,D8?O?gP?TN?`fpNfp0,4*2B"
    assert decode(payload, decoder) == ([], [])
    assert decoder.stats.other_sentences == 1 and decoder.stats.other_types == 1


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (TYPE1[:-1] + b"D", "lines[0].checksum"),
        (TYPE1[:-3], "lines[0].checksum"),
        (b"\\c:1700000000*00\\" + TYPE1, "lines[0].tag_block.checksum"),
        (b"garbage", "lines[0].sentence"),
        (with_checksum(b"!AIVDM,1,1,,B,15M67FC000G?ufbE`Fep,0*00"), "lines[0].payload"),
        (with_checksum(b"!AIVDM,1,1,,B,15M67FC000G?ufbE`F{p,0*00"), "lines[0].payload"),
        (with_checksum(b"!AIVDM,3,4,,B,15M67FC000G?ufbE`Fep,0*00"), "lines[0].fragment_number"),
        (with_checksum(b"!AIVDM,1,1,,B,15M67FC000G?ufbE`Fep,7*00"), "lines[0].fill_bits"),
    ],
)
def test_bad_sentences_name_the_field(line: bytes, field: str) -> None:
    reports, errors = decode(line)
    assert reports == [] and [e.field for e in errors] == [field]


def test_tag_time_outside_the_window_is_rejected() -> None:
    report = AisPosition(t=T0 - 7 * 3600.0, source="rx1", mmsi=211000001, lat=10.0, lon=-70.0)
    (line,) = ais.encode(report)
    _, errors = decode(line.encode())
    assert errors[0].field == "lines[0].tag_block.c"


def test_good_lines_survive_bad_neighbours() -> None:
    reports, errors = decode(TYPE1 + b"\nnonsense\n" + TYPE1)
    assert len(reports) == 2 and [e.field for e in errors] == ["lines[1].sentence"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lat": 95.0}, "lat"),
        ({"msg_type": 5}, "msg_type"),
        ({"mmsi": 0}, "mmsi"),
        ({"source": "a,b"}, "source"),
        ({"t": float("nan")}, "t"),
    ],
)
def test_encode_rejects_unencodable_reports(change: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"t": T0, "source": "rx1", "mmsi": 211000001, "lat": 1.0, "lon": 2.0}
    fields.update(change)
    with pytest.raises(ValueError, match=message):
        ais.encode(AisPosition(**fields))  # type: ignore[arg-type]
