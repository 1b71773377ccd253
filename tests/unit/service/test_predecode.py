"""fusion.predecode: radar scans parsed in the MQTT link process give the service exactly what its
in-process decode gives (accepted measurements, batches, rejects), through a pickle round trip as
on the socket; what the link process does not parse is decoded by ingest itself."""

from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion import service as service_module
from fusion.core.frame import LocalFrame
from fusion.ingest import Ingest
from fusion.intake import Rate, SourceBudgets
from fusion.mqtt import BrokerAddress
from fusion.predecode import Predecoded, Predecoder, payload_digest
from fusion.service import Service, ServiceOptions
from sensors import ais
from sensors.errors import DecodeError
from sensors.limits import MAX_AGE_S, MAX_FUTURE_S, DecodeLimits
from sensors.radar import RadarDecoder
from sensors.reports import AisPosition
from tests.unit.service.test_checkpoint import make_fusion
from tests.unit.service.test_checkpoint import scans as checkpoint_scans

FRAME = LocalFrame(9.0, 10.3, -79.8, -77.9)
T0 = 1_700_000_000.0
TOPIC = "jisf/v1/feeds/radar/s1"
SPEC = Ingest(FRAME).predecode_spec(SourceBudgets(), 50_000)
HEADER = dict(site="s1", sensor_lat=9.6, sensor_lon=-78.9, sensor_alt_m=40.0, sigma_range_m=25.0, sigma_az_deg=0.15)

good_plot = st.tuples(st.floats(0.0, 60_000.0), st.floats(0.0, 359.99), st.one_of(st.none(), st.floats(-5.0, 30.0)),
                      st.one_of(st.none(), st.floats(0.0, 40.0))).map(list)
odd_plot = st.one_of(st.lists(st.one_of(st.floats(-1e3, 4e5), st.none()), min_size=2, max_size=5),
                     st.just(["x", 1.0, None, None]), st.just({"range_m": 1.0}))


@st.composite
def scans(draw: st.DrawFn) -> tuple[bytes, float]:
    """A radar payload (good, with bad plots, a bad header or time, or mangled bytes) and its receive time."""
    plots = draw(st.lists(good_plot, max_size=20))
    for _ in range(draw(st.integers(0, 2))):
        plots.insert(draw(st.integers(0, len(plots))), draw(odd_plot))
    doc: dict[str, object] = {**HEADER, "t": T0, "scan_id": draw(st.integers(-1, 5)), "plots": plots}
    for name, bad in (("site", "s2"), ("sigma_range_m", -1.0), ("sensor_lat", 40.0), ("t", None)):  # 40 N: outside the area
        if draw(st.integers(0, 7)) == 0:
            doc[name] = bad
    if draw(st.booleans()):
        doc["snr_1m2_db"] = 60.0  # without rcs_ref_range_m: rejected
    payload = json.dumps(doc, separators=(",", ":") if draw(st.booleans()) else (", ", ": ")).encode()
    if draw(st.integers(0, 9)) == 0:  # mangled
        at = draw(st.integers(0, len(payload) - 1))
        payload = payload[:at] + draw(st.binary(min_size=1, max_size=3)) + payload[at + 1:]
    recv_t = T0 + draw(st.sampled_from([0.0, 1.0, -MAX_FUTURE_S - 1.0, MAX_AGE_S + 1.0]))
    return payload, recv_t


def _over_the_socket(pre: Predecoded | None) -> Predecoded | None:
    return pickle.loads(pickle.dumps(pre, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 - our own bytes


def _same_state(a: Ingest, b: Ingest, now: float) -> None:
    """The same counts, rejects (fields and reasons) and released batches (every column, NaN where NaN)."""
    assert (a.log.accepted_messages, a.log.accepted_reports, a.log.rejected) == (b.log.accepted_messages, b.log.accepted_reports,
                                                                                 b.log.rejected)
    assert {f: list(q) for f, q in a.log.recent.items()} == {f: list(q) for f, q in b.log.recent.items()}
    batches_a, batches_b = a.due(now), b.due(now)
    assert len(batches_a) == len(batches_b)
    for x, y in zip(batches_a, batches_b, strict=True):
        for f in dataclasses.fields(x):
            u, v = getattr(x, f.name), getattr(y, f.name)
            if isinstance(u, np.ndarray):
                assert np.array_equal(u, v, equal_nan=u.dtype.kind in "fc"), f.name
            else:
                assert u == v, f.name


@settings(max_examples=150, deadline=None)
@given(st.lists(scans(), min_size=1, max_size=6), st.data())
def test_parsed_in_the_link_process_equals_decoded_in_process(messages: list[tuple[bytes, float]], data: st.DataObject) -> None:
    in_process, parsed = Ingest(FRAME, reorder_window_s=0.0), Ingest(FRAME, reorder_window_s=0.0)
    assert parsed.predecode_spec(SourceBudgets(), 50_000) == SPEC
    predecode = Predecoder(SPEC, clock=lambda: T0)
    for payload, recv_t in messages:
        for _ in range(data.draw(st.integers(1, 2))):  # sometimes twice: the duplicate filter's key comes from the link process
            pre = _over_the_socket(predecode(TOPIC, payload))
            assert pre is not None
            assert parsed.accept(TOPIC, payload, recv_t, pre) == in_process.accept(TOPIC, payload, recv_t)
    _same_state(parsed, in_process, T0 + 1e6)


def _errors(errors: list[DecodeError]) -> list[tuple[str, str, object, str, str]]:
    return [(e.feed, e.field, e.value, e.reason, str(e)) for e in errors]


@settings(max_examples=100, deadline=None)
@given(scans(), st.booleans())
def test_a_pickled_parse_finishes_as_decode_arrays(scan: tuple[bytes, float], fast: bool) -> None:
    payload, recv_t = scan
    decoder = RadarDecoder(fast=fast)
    got = _over_the_socket(Predecoded(b"", decoder.parse(payload, "s1")))
    assert got is not None
    reports, errors = got.radar.finish(recv_t)
    want_reports, want_errors = decoder.decode_arrays(payload, "s1", recv_t)
    assert reports == want_reports and _errors(errors) == _errors(want_errors)
    assert all(not r.plots.flags.writeable for r in reports)  # read-only, as decoded in-process


def test_a_header_is_checked_site_then_time_then_the_rest() -> None:
    doc = {**HEADER, "t": T0, "plots": [[1000.0, 10.0, None, None]]}
    late = T0 + MAX_AGE_S + 1.0
    parse = RadarDecoder().parse(json.dumps({**doc, "site": "s2"}).encode(), "s1")
    assert [e.field for e in parse.finish(late)[1]] == ["site"]
    parse = RadarDecoder().parse(json.dumps({**doc, "sigma_range_m": -1.0}).encode(), "s1")
    assert [e.field for e in parse.finish(late)[1]] == ["t"]
    assert [e.field for e in parse.finish(T0)[1]] == ["sigma_range_m"]


def test_decode_errors_pickle_with_their_parts() -> None:
    err = DecodeError("radar/s1", "plots[3].range_m", -12.0, "must be >= 0")
    back = _over_the_socket(Predecoded(b"", dataclasses.replace(RadarDecoder().parse(b"{}", "s1"), errors=[err])))
    assert back is not None
    (got,) = back.radar.errors
    assert (got.feed, got.field, got.value, got.reason, str(got)) == (err.feed, err.field, err.value, err.reason, str(err))


def test_only_radar_scans_within_size_and_budget_are_parsed() -> None:
    scan = json.dumps({**HEADER, "t": T0, "plots": [[1000.0 + k, 1.0, None, None] for k in range(5)]}).encode()
    predecode = Predecoder(SPEC, clock=lambda: T0)
    pre = predecode(TOPIC, scan)
    assert pre is not None and pre.digest == payload_digest(TOPIC, scan) and len(pre.radar.finish(T0)[0][0]) == 5
    assert pre.batch is not None and len(pre.batch) == 5  # inside the area: converted as ingest converts it
    outside = json.dumps({**HEADER, "sensor_lat": 40.0, "t": T0, "plots": [[1000.0, 1.0, None, None]]}).encode()
    far = predecode(TOPIC, outside)
    assert far is not None and far.radar.scans and far.batch is None  # outside the area: parsed, not converted (ingest rejects it)
    positions = [AisPosition(t=T0, source="agg", mmsi=367_000_001, lat=9.5, lon=-79.0)]
    assert predecode("jisf/v1/feeds/ais/agg", ais.encode_payload(positions)) is None  # other feeds: decoded by ingest
    assert predecode("jisf/v1/feeds/radar/s1/extra", scan) is None  # not a feed topic: ingest rejects it
    small = Predecoder(dataclasses.replace(SPEC, limits=DecodeLimits(max_payload_bytes=len(scan) - 1)), clock=lambda: T0)
    assert small(TOPIC, scan) is None  # over the size limit: ingest rejects it whole
    few = Predecoder(dataclasses.replace(SPEC, budgets=SourceBudgets(radar=Rate(2.0, 100.0, 4.0), burst_s=1.0)), clock=lambda: T0)
    assert few(TOPIC, scan) is None  # 5 plots over the 4 a scan may carry: shed by the service's intake, never parsed
    one = Predecoder(dataclasses.replace(SPEC, budgets=SourceBudgets(radar=Rate(1.0, 100.0), burst_s=1.0)), clock=lambda: T0)
    assert one(TOPIC, scan) is not None and one(TOPIC, scan) is None  # the second scan within the second: beyond its budget


def test_a_scan_the_link_process_did_not_parse_is_decoded_by_ingest() -> None:
    scan = json.dumps({**HEADER, "t": T0, "plots": [[1000.0, 1.0, None, None], [-5.0, 1.0, None, None]]}).encode()
    ing = Ingest(FRAME, reorder_window_s=0.0)
    assert ing.accept(TOPIC, scan, T0) == 1
    assert ing.log.rejected == {("radar", "plots[*].range_m"): 1}
    (batch,) = ing.due(T0 + 1.0)
    assert len(batch) == 1 and np.isfinite(batch.z[:, :2]).all()  # (east, north; the unmeasured columns NaN)


def test_a_backlog_keeps_converted_batches_only_up_to_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond PREDECODED_PLOTS_QUEUED plots queued with their batch, a scan is queued with its parse
    only (ingest converts it: the same result); taking or shedding messages frees the bound."""
    monkeypatch.setattr(service_module, "PREDECODED_PLOTS_QUEUED", 10)
    fusion = make_fusion()
    service = Service(fusion, BrokerAddress("127.0.0.1", 1883), ServiceOptions(max_inbound=3))
    predecode = Predecoder(fusion.ingest.predecode_spec(service.intake.budgets, service.intake.max_cost), clock=lambda: T0)
    msgs = checkpoint_scans(5, 0)  # 7 plots each
    monkeypatch.setattr(service, "clock", None)  # (receive times: none before the clock is known)

    def on_message(k: int) -> None:
        _, topic, payload = msgs[k]
        service._on_message(topic, payload, 1, False, predecode(topic, payload))

    on_message(0)
    on_message(1)  # 7 + 7 > 10: its parse only
    assert [m.pre is not None and m.pre.batch is not None for m in service.inbound] == [True, False]
    on_message(2)
    on_message(3)  # the queue's bound (3): the oldest, with its batch, is shed; so this one keeps its batch
    assert [m.pre is not None and m.pre.batch is not None for m in service.inbound] == [False, False, True]
    took = service._take(10, 10**9)
    assert len(took) == 3 and service._batch_plots == 0
    on_message(4)
    assert [m.pre is not None and m.pre.batch is not None for m in service.inbound] == [True]
    for recv_t, topic, payload in msgs:  # all the same to ingest, with or without a batch
        assert Ingest(fusion.frame).accept(topic, payload, recv_t) == fusion.ingest.accept(topic, payload, recv_t, predecode(topic, payload))
