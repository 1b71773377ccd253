"""The decoders' fast paths give exactly what their general paths give (reports, errors and
their reasons, counters), on random and mutated payloads, on simulator output and on the
real AIS data in ../shared/data: ``RadarDecoder()`` vs ``RadarDecoder(fast=False)`` and
``AisDecoder()`` vs ``AisDecoder(fast=False)`` (pyais for every sentence)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyais.util import checksum

from sensors import ais, radar
from sensors.errors import DecodeError
from sensors.reports import RadarPlot, RadarScan

T0 = 1_700_000_000.0
REAL = Path("/work/shared/data/real/ais")


def _errors(errors: list[DecodeError]) -> list[tuple[str, str, str]]:
    return [(e.feed, e.field, str(e)) for e in errors]


# --------------------------------------------------------------------------- radar

finite = st.floats(allow_nan=False, allow_infinity=False)
number = st.one_of(
    st.floats(-1e3, 2e5), st.integers(-10, 400), finite, st.sampled_from([-1e9, -0.0, 0.0, 360.0, 90.0, 5e6, 1e300])
)
plot_values = st.lists(st.one_of(number, st.none()), min_size=4, max_size=4)
odd_plot = st.one_of(
    st.lists(number, min_size=2, max_size=3),  # trailing nulls omitted
    st.lists(number, min_size=5, max_size=6),  # reserved further elements
    st.just(["x", 1.0, None, None]), st.just([None, 1.0, None, None]), st.just([1.0, [2.0], None, None]),
    st.just({"range_m": 1.0}), st.just([True, 1.0, None, None]), st.just("1,2,3,4"),
)
good_plot = st.tuples(st.floats(0.0, 2e5), st.floats(0.0, 359.99), st.one_of(st.none(), st.floats(-5.0, 30.0)),
                      st.one_of(st.none(), st.floats(0.0, 40.0)))


@st.composite
def radar_payloads(draw: st.DrawFn) -> bytes:
    plots = draw(st.lists(good_plot.map(list), max_size=30))
    for _ in range(draw(st.integers(0, 3))):  # a few bad or unusual plots
        bad = draw(st.one_of(plot_values, odd_plot))
        plots.insert(draw(st.integers(0, len(plots))), bad)
    doc: dict[str, object] = {
        "site": "site-3", "t": T0, "sensor_lat": draw(st.floats(-95.0, 95.0)), "sensor_lon": -75.0,
        "sensor_alt_m": 30.0, "sigma_range_m": 30.0, "sigma_az_deg": 0.2, "plots": plots,
    }
    if draw(st.booleans()):
        doc["mode"] = draw(st.sampled_from(["air", "surface", "sea"]))
    if draw(st.booleans()):
        doc["max_range_m"] = draw(st.one_of(st.none(), number))
    if draw(st.integers(0, 9)) == 0:
        doc["t"] = draw(st.one_of(st.just("now"), st.just(T0 + 1e6), st.none()))
    style = draw(st.sampled_from(["compact", "spaced", "indented"]))
    if style == "compact":
        text = json.dumps(doc, separators=(",", ":"))
    elif style == "spaced":
        text = json.dumps(doc)
    else:
        text = json.dumps(doc, indent=1)
    return text.encode()


def _same_radar(payload: bytes) -> None:
    fast, general = radar.RadarDecoder(), radar.RadarDecoder(fast=False)
    got, want = fast.decode_arrays(payload, "site-3", T0), general.decode_arrays(payload, "site-3", T0)
    assert got[0] == want[0]
    assert _errors(got[1]) == _errors(want[1])
    got_s, want_s = fast.decode(payload, "site-3", T0), general.decode(payload, "site-3", T0)
    assert got_s[0] == want_s[0] and _errors(got_s[1]) == _errors(want_s[1])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(radar_payloads())
def test_radar_fast_path_equals_general_path(payload: bytes) -> None:
    _same_radar(payload)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_radar_fast_path_equals_general_path_on_mutated_bytes(data: st.DataObject) -> None:
    scan = RadarScan(site="site-3", t=T0, sensor_lat=18.0, sensor_lon=-66.0, sensor_alt_m=60.0, sigma_range_m=30.0,
                     sigma_az_deg=0.2, plots=[RadarPlot(range_m=1000.0 * i, az_deg=3.5 * i, snr_db=12.0 if i % 2 else None)
                                              for i in range(1, 12)])
    payload = bytearray(radar.encode(scan))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(payload) - 1))
        op = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        byte = data.draw(st.sampled_from(list(b"[],0123456789.-enul \"{}:") + [0xFF]))
        if op == "flip":
            payload[at] = byte
        elif op == "delete":
            del payload[at]
        else:
            payload.insert(at, byte)
    _same_radar(bytes(payload))


@pytest.mark.parametrize("text", [
    b'{"site":"site-3","t":1700000000.0,"sensor_lat":1,"sensor_lon":2,"sensor_alt_m":3,"sigma_range_m":4,'
    b'"sigma_az_deg":0.1,"plots":[[1,2,null5,4]]}',  # invalid JSON where null was
    b'{"site":"site-3","t":1700000000.0,"sensor_lat":1,"sensor_lon":2,"sensor_alt_m":3,"sigma_range_m":4,'
    b'"sigma_az_deg":0.1,"plots":[[1,2,-1e9,4],[1,2,null,4]]}',  # a real value equal to the sentinel
    b'{"site":"site-3","t":1700000000.0,"sensor_lat":1,"sensor_lon":2,"sensor_alt_m":3,"sigma_range_m":4,'
    b'"sigma_az_deg":0.1,"plots":[[1,2,null,4],[1,2,3],[1,2,3,4,5]]}',  # ragged but 12 values
    b'{"site":"site-3","t":1700000000.0,"sensor_lat":1,"sensor_lon":2,"sensor_alt_m":3,"sigma_range_m":4,'
    b'"sigma_az_deg":0.1,"plots":[[1,2,"null",4]]}',
    b'{"site":"site-3","t":1700000000.0,"sensor_lat":1,"sensor_lon":2,"sensor_alt_m":3,"sigma_range_m":4,'
    b'"sigma_az_deg":0.1,"plots":[[1,1e999,null,4],[-5,2,null,4]]}',
    b'{"site":"site-3","t":1700000000.0,"sensor_lat":1,"sensor_lon":2,"sensor_alt_m":3,"sigma_range_m":4,'
    b'"sigma_az_deg":0.1,"plots":[]}',
    b'{"site":"site-3","t":1700000000.0,"sensor_lat":1,"sensor_lon":2,"sensor_alt_m":3,"sigma_range_m":4,'
    b'"sigma_az_deg":0.1,"plots":null}',
])
def test_radar_fast_path_corner_cases(text: bytes) -> None:
    _same_radar(text)


def test_radar_fast_path_rejects_bad_plots_naming_the_field() -> None:
    doc = {"site": "site-3", "t": T0, "sensor_lat": 18.0, "sensor_lon": -66.0, "sensor_alt_m": 60.0,
           "sigma_range_m": 30.0, "sigma_az_deg": 0.2,
           "plots": [[1000.0, 10.0, None, 12.0], [-12.0, 10.0, None, None], [1000.0, 360.0, None, None],
                     [1000.0, 10.0, 95.0, None], [1000.0, 10.0, None, 250.0], [2000.0, 20.0, 1.0, 3.0]]}
    reports, errors = radar.RadarDecoder().decode_arrays(json.dumps(doc).encode(), "site-3", T0)
    assert [e.field for e in errors] == ["plots[1].range_m", "plots[2].az_deg", "plots[3].el_deg", "plots[4].snr_db"]
    assert str(errors[0]) == "radar/site-3: plots[1].range_m = -12.0: must be a finite number in [0, 5e+06]"
    (scan,) = reports
    assert scan.plots.tolist()[0][:2] == [1000.0, 10.0] and len(scan) == 2
    assert not scan.plots.flags.writeable


# --------------------------------------------------------------------------- AIS


def _armor(value: int, bits: int) -> str:
    chars = []
    for i in range(bits // 6):
        six = (value >> (bits - 6 * (i + 1))) & 63
        chars.append(chr(six + 48 if six < 40 else six + 56))
    return "".join(chars)


@st.composite
def ais_lines(draw: st.DrawFn) -> str:
    msg_type = draw(st.sampled_from([1, 2, 3, 18, 18, 1, 4, 5, 19, 27, 24]))
    bits = draw(st.sampled_from([168, 168, 168, 162, 174]))
    value = draw(st.integers(0, 2**bits - 1))
    value = (value & ((1 << (bits - 6)) - 1)) | (msg_type << (bits - 6))
    if draw(st.booleans()):  # a plausible position (else the random bits decide)
        mmsi = draw(st.integers(1, 999_999_999))
        value = (value & ~(0x3FFFFFFF << (bits - 38))) | (mmsi << (bits - 38))
    armored = _armor(value, bits)
    fill = 0 if draw(st.integers(0, 9)) else draw(st.integers(1, 6))
    talker = draw(st.sampled_from(["AI", "AB", "BS", "A1"]))
    kind = draw(st.sampled_from(["VDM", "VDO", "VDM", "XYZ"]))
    seq = draw(st.sampled_from(["", "3"]))
    channel = draw(st.sampled_from(["A", "B", "", "1", ","]))
    body = f"{talker}{kind},1,1,{seq},{channel},{armored},{fill}"
    cs = checksum(body.encode())
    if draw(st.integers(0, 9)) == 0:
        cs ^= draw(st.integers(1, 255))
    case = draw(st.sampled_from(["upper", "lower"]))
    sentence = f"!{body}*{cs:02X}" if case == "upper" else f"!{body}*{cs:02x}"
    tag_kind = draw(st.sampled_from(["none", "c", "cs", "sc", "s", "bad_c", "old", "ms", "colonless"]))
    items = {
        "none": None, "c": [f"c:{int(T0)}"], "cs": [f"c:{int(T0) - 5}", "s:rx"], "sc": ["s:rx", f"c:{int(T0)}"],
        "s": ["s:rx"], "bad_c": ["c:12x"], "old": [f"c:{int(T0) - 30_000}"], "ms": [f"c:{int(T0 * 1000) + 123}"],
        "colonless": ["junk", f"c:{int(T0)}"],
    }[tag_kind]
    if items is None:
        return sentence
    tag = ",".join(items)
    tag_cs = checksum(tag.encode()) ^ (1 if draw(st.integers(0, 14)) == 0 else 0)
    return f"\\{tag}*{tag_cs:02X}\\{sentence}"


def _same_ais(payloads: list[bytes], recv_t: float = T0) -> int:
    fast, general = ais.AisDecoder(), ais.AisDecoder(fast=False)
    reports = 0
    for payload in payloads:
        got, want = fast.decode(payload, "rx", recv_t), general.decode(payload, "rx", recv_t)
        assert got[0] == want[0], payload
        assert _errors(got[1]) == _errors(want[1]), payload
        reports += len(got[0])
    assert fast.stats == general.stats
    return reports


@settings(max_examples=800, deadline=None)
@given(st.lists(ais_lines(), min_size=1, max_size=4), st.sampled_from(["\r\n", "\n"]))
def test_ais_fast_path_equals_pyais_on_random_payloads(lines: list[str], sep: str) -> None:
    _same_ais([sep.join(lines).encode()])


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**162 - 1), st.sampled_from([1, 2, 3, 18]))
def test_ais_position_fields_equal_pyais(bits: int, msg_type: int) -> None:
    """Every 168-bit type 1/2/3/18 payload: the shift decoder maps it as pyais + _position do
    (or declines, and then pyais decides)."""
    armored = _armor((msg_type << 162) | bits, 168)
    body = f"AIVDM,1,1,,A,{armored},0"
    line = f"!{body}*{checksum(body.encode()):02X}"
    _same_ais([line.encode()])


def _simulated(kind: str, at_least: int) -> list:
    """The default scenario's feed messages of one feed kind, among its first 20,000 messages."""
    from sim_feeds.play import iter_feed
    from sim_feeds.scenario import load_scenario, resolve_scenario

    messages = [m for m in itertools.islice(iter_feed(load_scenario(resolve_scenario("minimal"))), 20_000) if f"/feeds/{kind}/" in m.topic]
    assert len(messages) > at_least
    return messages


def test_ais_fast_path_equals_pyais_on_simulator_output() -> None:
    fast, general = ais.AisDecoder(), ais.AisDecoder(fast=False)
    for m in _simulated("ais", 100):
        source = m.topic.rsplit("/", 1)[1]
        got, want = fast.decode(m.payload, source, m.t), general.decode(m.payload, source, m.t)
        assert got[0] == want[0] and _errors(got[1]) == _errors(want[1])
    assert fast.stats == general.stats and fast.stats.sentences > 100


def test_radar_fast_path_equals_general_path_on_simulator_output() -> None:
    fast, general = radar.RadarDecoder(), radar.RadarDecoder(fast=False)
    for m in _simulated("radar", 10):
        source = m.topic.rsplit("/", 1)[1]
        got, want = fast.decode_arrays(m.payload, source, m.t), general.decode_arrays(m.payload, source, m.t)
        assert got[0] == want[0] and _errors(got[1]) == _errors(want[1])


@pytest.mark.skipif(not REAL.is_dir(), reason="shared real-data folder absent")
def test_ais_fast_path_equals_pyais_on_real_data() -> None:
    from sensors.realdata import positions_to_payloads, read_marinecadastre_csv, read_nmea_file, tag_nmea_line

    amsa_t = 1_327_664_821.0
    lines = list(read_nmea_file(REAL / "amsa_ais.txt.gz"))
    fast, general = ais.AisDecoder(reassembly_timeout_s=math.inf), ais.AisDecoder(reassembly_timeout_s=math.inf, fast=False)
    reports = 0
    for line, t in lines:
        payload = (line if t is None else tag_nmea_line(line, t, "amsa")).encode()
        recv_t = amsa_t if t is None else t
        got, want = fast.decode(payload, "amsa", recv_t), general.decode(payload, "amsa", recv_t)
        assert got[0] == want[0] and _errors(got[1]) == _errors(want[1]), line
        reports += len(got[0])
    assert fast.stats == general.stats and reports > 10_000
    positions = list(read_marinecadastre_csv(REAL / "NYHarbor_2020_06_30_first_hour.csv"))
    payloads = list(positions_to_payloads(positions))
    fast, general = ais.AisDecoder(), ais.AisDecoder(fast=False)
    for t, source, payload in payloads:
        got, want = fast.decode(payload, source, t), general.decode(payload, source, t)
        assert got == want or (got[0] == want[0] and _errors(got[1]) == _errors(want[1]))
    assert fast.stats == general.stats


def test_ais_time_with_too_many_digits_is_rejected_not_raised() -> None:
    """A c: value of hundreds of digits raised OverflowError (int -> float) before; now a reject."""
    body = f"c:{'9' * 400}"
    body_ais = "AIVDM,1,1,,A,14N6S0?P1QJC:I05=@83Q?vaP000,0"
    line = f"\\{body}*{checksum(body.encode()):02X}\\!{body_ais}*{checksum(body_ais.encode()):02X}"
    for decoder in (ais.AisDecoder(), ais.AisDecoder(fast=False)):
        reports, errors = decoder.decode(line.encode(), "rx", T0)
        assert reports == [] and [e.field for e in errors] == ["lines[0].tag_block.c"]


def test_ais_fast_path_rejects_name_the_field() -> None:
    body = "AIVDM,1,1,,A,14N6S0?P1QJC:I05=@83Q?vaP000,0"
    good = f"!{body}*{checksum(body.encode()):02X}"
    bad_cs = f"!{body}*{checksum(body.encode()) ^ 1:02X}"
    stale = f"\\c:{int(T0) - 100_000}*00\\{good}"
    stale = stale.replace("*00", f"*{checksum(f'c:{int(T0) - 100_000}'.encode()):02X}")
    no_pos = _armor((1 << 162) | (1 << 130) | ((91 * 600_000) << 52) | (0 << 79), 168)
    body_np = f"AIVDM,1,1,,A,{no_pos},0"
    not_available = f"!{body_np}*{checksum(body_np.encode()):02X}"
    reports, errors = ais.AisDecoder().decode("\n".join([good, bad_cs, stale, not_available]).encode(), "rx", T0)
    assert len(reports) == 1
    assert [e.field for e in errors] == ["lines[1].checksum", "lines[2].tag_block.c", "lines[3].lat"]
