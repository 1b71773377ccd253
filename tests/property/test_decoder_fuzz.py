"""Fuzz every decoder: each mutated payload is decoded or rejected with a named field, never raised.

24,000 seeded mutations of real and encoded payloads (random bytes, truncation, bit
flips, inserted/deleted bytes, wrong checksums, far past/future tag times, wrong JSON
types, NaN/Infinity, out-of-range numbers, duplicated lines, oversized), plus
hypothesis-generated arbitrary bytes.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors import adsb, ais, oth, radar, sat
from sensors.codec import Decoder
from sensors.errors import DecodeError
from sensors.limits import MAX_AGE_S, MAX_FUTURE_S, MAX_PAYLOAD_BYTES
from sensors.reports import AdsbReport, AisPosition, OthFix, RadarPlot, RadarScan, SatDetection, SatScene

RECV_T = 1_700_000_000.0
CASES_PER_FEED = 6_000
# Real sentences from the AMSA stream (shared/data/real/ais), including a two-part type 5.
REAL_AIS = [
    b"!ABVDM,1,1,6,B,1G7lQJ001PbomTie:ms2sR@40000,0*34",
    b"!AIVDM,1,1,,A,17P@<J?P00blFWmjG@5a5?v62<10,0*27",
    b"!BSVDM,1,1,,B,18Jv<r002?`WB9ucUgQJoHh40<0@,0*3E",
    b"!ABVDM,1,1,8,B,377:pu1001bnVfQe2ON5j1h20000,0*15",
    b"!AIVDO,1,1,,,B000000002EgKjv=lCL03wQ5wP06,0*0F",
    b"$GPZDA,114702.51,27,01,2012,,*66",
    b"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C\r\n"
    b"!AIVDM,2,2,1,A,88888888880,2*25",
]
ENCODED_AIS = ais.encode_payload([
    AisPosition(t=RECV_T - 5.0, source="rx", mmsi=211000000 + i, lat=10.0 + i / 100,
                lon=-70.0, sog_mps=5.0, cog_deg=90.0, msg_type=(1, 18)[i % 2])
    for i in range(5)
])
ADSB_REPORTS = [
    AdsbReport(t=RECV_T - 1.0, source="rx", icao24=0xA00000 + i, lat=18.0 + i, lon=-66.0,
               alt_m=3000.0, gs_mps=120.0, track_deg=45.0, vrate_mps=2.0, nac_p=8, callsign="N1")
    for i in range(4)
]
SCAN = RadarScan(site="rx", t=RECV_T, sensor_lat=18.0, sensor_lon=-66.0, sensor_alt_m=50.0,
                 sigma_range_m=25.0, sigma_az_deg=0.2, sigma_el_deg=0.5,
                 plots=[RadarPlot(range_m=1000.0 * (i + 1), az_deg=17.0 * i, el_deg=0.5,
                                  snr_db=12.0) for i in range(20)])
FIX = OthFix(site="rx", t=RECV_T, lat=12.0, lon=-78.0, cov_en_m2=((2e8, 1e7), (1e7, 1e8)))
SCENE = SatScene(source="rx", sensor="sar", acq_time=RECV_T - 5400.0, detections=[
    SatDetection(lat=12.0 + i / 10, lon=-78.0, pos_err_m=60.0, length_m=(None, 35.0)[i % 2], confidence=0.8)
    for i in range(3)])
FEEDS: dict[str, tuple[Callable[[], Decoder], list[bytes]]] = {
    "ais": (ais.AisDecoder, [*REAL_AIS, ENCODED_AIS, b"\n".join(REAL_AIS)]),
    "adsb": (adsb.AdsbDecoder, [adsb.encode_sbs(ADSB_REPORTS),
                                adsb.encode_aircraft_json(RECV_T, ADSB_REPORTS)]),
    "radar": (radar.RadarDecoder, [radar.encode(SCAN)]),
    "oth": (oth.OthDecoder, [oth.encode(FIX)]),
    "sat": (sat.SatDecoder, [sat.encode(SCENE)]),
}
JSON_SEEDS = {"adsb": FEEDS["adsb"][1][1], "radar": FEEDS["radar"][1][0], "oth": FEEDS["oth"][1][0],
              "sat": FEEDS["sat"][1][0]}
BAD_VALUES: list[object] = [
    "x", None, True, [], {}, math.nan, math.inf, -math.inf, 91.5, -181.0, -12.0, 360.0,
    1e308, -1, 0, 2**70, RECV_T + 10 * MAX_FUTURE_S, RECV_T - 2 * MAX_AGE_S,
]
BAD_TOKENS = [b"nan", b"inf", b"-91", b"999999", b"", b"1e999", b"0x1F", b"-0"]


def _leaves(node: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    if isinstance(node, dict):
        return [leaf for key, value in node.items() for leaf in _leaves(value, (*path, key))]
    if isinstance(node, list):
        return [leaf for i, value in enumerate(node) for leaf in _leaves(value, (*path, i))]
    return [path]


def _json_leaf(rng: random.Random, seed: bytes) -> bytes:
    """Replace one leaf of a JSON document by a wrong type, NaN/Infinity or bad number."""
    doc = json.loads(seed)
    path = rng.choice(_leaves(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = rng.choice(BAD_VALUES)
    return json.dumps(doc, allow_nan=True).encode()


def _csv_token(rng: random.Random, seed: bytes) -> bytes:
    """Replace one comma-separated token (NMEA or SBS field) by a bad number or text."""
    cells = seed.split(b",")
    cells[rng.randrange(len(cells))] = rng.choice(BAD_TOKENS)
    return b",".join(cells)


def _retag(rng: random.Random, seed: bytes) -> bytes:
    """Give the first sentence a valid tag block with a far past/future or ms time."""
    stamp = rng.choice([0, 1, RECV_T + 1e6, RECV_T - 1e6, RECV_T * 1000 + 1, 10**15])
    line = seed.split(b"\n")[0].split(b"\\")[-1]
    return ais.tag_block((f"c:{int(stamp)}", "s:x")).encode() + line


def _checksum(rng: random.Random, seed: bytes) -> bytes:
    star = seed.rfind(b"*")
    if star < 0:
        return seed + b"*00"
    return seed[: star + 1] + f"{rng.randrange(256):02X}".encode() + seed[star + 3 :]


def _random_bytes(rng: random.Random, seed: bytes) -> bytes:
    return rng.randbytes(rng.randrange(0, 400))


def _truncate(rng: random.Random, seed: bytes) -> bytes:
    return seed[: rng.randrange(len(seed) + 1)]


def _flip_bits(rng: random.Random, seed: bytes) -> bytes:
    """Flip about 2 % of the bits' bytes (one bit each)."""
    return bytes(b ^ (1 << rng.randrange(8)) if rng.random() < 0.02 else b for b in seed)


def _flip_one(rng: random.Random, seed: bytes) -> bytes:
    i = rng.randrange(len(seed))
    return seed[:i] + bytes([seed[i] ^ (1 << rng.randrange(8))]) + seed[i + 1 :]


def _insert(rng: random.Random, seed: bytes) -> bytes:
    i = rng.randrange(len(seed) + 1)
    return seed[:i] + rng.randbytes(rng.randrange(1, 8)) + seed[i:]


def _delete(rng: random.Random, seed: bytes) -> bytes:
    i = rng.randrange(len(seed))
    return seed[:i] + seed[i + rng.randrange(1, 8) :]


def _duplicate(rng: random.Random, seed: bytes) -> bytes:
    """The same lines twice: a replayed message."""
    return seed + b"\r\n" + seed


MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [
    _random_bytes, _truncate, _flip_bits, _flip_one, _insert, _delete, _duplicate,
    _checksum, _csv_token, _retag,
]


def _sane(report: object, recv_t: float) -> None:
    """A decoded report has finite numbers, lat/lon in range and a time inside the window."""
    fields = msgspec.structs.asdict(report)  # type: ignore[arg-type]
    for name, value in fields.items():
        if isinstance(value, float):
            assert math.isfinite(value), (name, value)
        if name.endswith("lat"):
            assert -90.0 <= value <= 90.0
        if name.endswith("lon"):
            assert -180.0 <= value <= 180.0
    assert recv_t - MAX_AGE_S <= fields.get("t", fields.get("acq_time")) <= recv_t + MAX_FUTURE_S
    for plot in fields.get("plots", []):
        assert 0.0 <= plot.range_m <= 5e6 and 0.0 <= plot.az_deg < 360.0
    for det in fields.get("detections", []):
        assert -90.0 <= det.lat <= 90.0 and -180.0 <= det.lon <= 180.0 and 1.0 <= det.pos_err_m <= 5e4


def _check(decoder: Decoder, kind: str, payload: bytes) -> tuple[int, int]:
    """Decode one payload; assert the contract; return (reports, errors) counts."""
    try:
        reports, errors = decoder.decode(payload, "rx", RECV_T)
    except Exception as err:  # the contract under test: decoders never raise
        pytest.fail(f"{kind} decoder raised {err!r} on {payload[:200]!r}")
    for error in errors:
        assert isinstance(error, DecodeError) and error.field and error.feed == f"{kind}/rx"
    for report in reports:
        _sane(report, RECV_T)
    return len(reports), len(errors)


@pytest.mark.parametrize("kind", sorted(FEEDS))
def test_mutated_payloads_are_decoded_or_rejected(kind: str) -> None:
    make, seeds = FEEDS[kind]
    decoder = make()
    rng = random.Random(f"fuzz-{kind}")
    decoded = rejected = 0
    for _ in range(CASES_PER_FEED):
        if kind in JSON_SEEDS and rng.random() < 0.3:
            payload = _json_leaf(rng, JSON_SEEDS[kind])
        else:
            payload = rng.choice(MUTATIONS)(rng, rng.choice(seeds))
        n_reports, n_errors = _check(decoder, kind, payload)
        decoded += n_reports > 0
        rejected += n_errors > 0
    assert decoded > CASES_PER_FEED // 20 and rejected > CASES_PER_FEED // 4


@pytest.mark.parametrize("kind", sorted(FEEDS))
def test_oversized_payloads_are_rejected_whole(kind: str) -> None:
    make, seeds = FEEDS[kind]
    payload = seeds[0] * (MAX_PAYLOAD_BYTES // len(seeds[0]) + 1)
    reports, errors = make().decode(payload, "rx", RECV_T)
    assert reports == [] and [e.field for e in errors] == ["payload"]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(FEEDS)), st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(kind: str, payload: bytes) -> None:
    _check(FEEDS[kind][0](), kind, payload)
