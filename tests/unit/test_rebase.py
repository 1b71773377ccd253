"""fusion.rebase: the times the service reads inside each feed format move by dt, nothing else changes."""

from __future__ import annotations

import glob
import itertools

import pytest

from fusion.ingest import new_decoders, parse_feed_topic
from fusion.rebase import shift_payload
from sensors.ais import tag_block
from sim_feeds.play import iter_feed
from sim_feeds.scenario import load_scenario

DT = 86_400.0 * 800 + 12.345  # two years and a bit, with milliseconds


def one_of_each_format() -> dict[str, tuple[float, str, bytes]]:
    """(delivery time, topic, payload) of the first message of each wire format in the shipped scenarios."""
    found: dict[str, tuple[float, str, bytes]] = {}
    for path in sorted(glob.glob("sim_feeds/scenarios/*.toml")):
        for m in itertools.islice(iter_feed(load_scenario(path)), 4000):
            kind = m.topic.split("/")[3]
            fmt = f"{kind}-json" if m.payload.lstrip()[:1] == b"{" else kind
            found.setdefault(fmt, (m.t, m.topic, m.payload))
    return found


FORMATS = one_of_each_format()


def decoded(topic: str, payload: bytes, recv_t: float) -> list:
    kind, source = parse_feed_topic(topic)
    reports, errors = new_decoders()[kind].decode(payload, source, recv_t)
    assert not errors, errors
    return reports


@pytest.mark.parametrize("fmt", ["ais", "adsb", "adsb-json", "radar-json", "oth-json"])
def test_each_format_is_decoded_dt_later_and_otherwise_equal(fmt: str) -> None:
    recv_t, topic, payload = FORMATS[fmt]
    shifted = shift_payload(topic, payload, DT, recv_t)
    assert shifted != payload
    before, after = decoded(topic, payload, recv_t), decoded(topic, shifted, recv_t + DT)
    assert len(before) == len(after) > 0
    for a, b in zip(before, after, strict=True):
        assert b.t == pytest.approx(a.t + DT, abs=1e-3)
        assert {k: v for k, v in _fields(b).items() if k != "t"} == {k: v for k, v in _fields(a).items() if k != "t"}


def _fields(report: object) -> dict[str, object]:
    import msgspec

    return msgspec.structs.asdict(report) if isinstance(report, msgspec.Struct) else dict(vars(report))


def test_ais_tag_block_checksum_is_recomputed_and_units_kept() -> None:
    line = tag_block(["c:1700000000", "s:rx1"]) + "!AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00Sa,0*5C"
    out = shift_payload("jisf/v1/feeds/ais/rx1", (line + "\r\n" + line).encode(), 100.0, 1700000000.0).decode()
    want = tag_block(["c:1700000100", "s:rx1"]) + "!AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00Sa,0*5C"
    assert out == want + "\r\n" + want
    ms = tag_block(["c:1700000000123"]) + "!AIVDM,x"
    assert shift_payload("jisf/v1/feeds/ais/rx1", ms.encode(), 0.5, 1.7e9).decode().startswith(tag_block(["c:1700000000623"]))


@pytest.mark.parametrize(("topic", "payload"), [
    ("jisf/v1/feeds/ais/rx1", b"\\c:1700000000*00\\!AIVDM,bad checksum stays bad"),
    ("jisf/v1/feeds/ais/rx1", b"!AIVDM,1,1,,A,no tag block,0*00"),
    ("jisf/v1/feeds/ais/rx1", b"\xff\xfe not ascii"),
    ("jisf/v1/feeds/radar/site", b'{"t": "not a number"}'),
    ("jisf/v1/feeds/oth/site", b"not json"),
    ("jisf/v1/feeds/adsb/rx", b'{"aircraft": []}'),
    ("jisf/v1/feeds/adsb/rx", b"MSG,3,1,1,ABCDEF,1,bad,date,,,,,,,,,,,,,,"),
    ("jisf/v1/ops/ack/123", b'{"t": 1700000000}'),
    ("not/a/feed", b"x"),
])
def test_what_the_codec_cannot_read_is_left_as_it_is(topic: str, payload: bytes) -> None:
    assert shift_payload(topic, payload, 1000.0, 1.7e9) == payload
