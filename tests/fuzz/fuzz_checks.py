"""The decoder contract as one check function per decoder, shared by the atheris harnesses
(``tests/fuzz/harness.py``) and the regression test (``tests/fuzz/test_regressions.py``).

Contract (docs/FORMATS.md, "Common rules"): any bytes either decode or are rejected with
``sensors.errors.DecodeError`` naming the feed and field; nothing else is raised, and what
decodes holds finite numbers inside the documented bounds. Each check takes one fuzz input
(bytes) and raises AssertionError (or the decoder's own exception) when the contract is broken.

Decoders are built fresh per input, so a finding replays from its input alone (AIS and ADS-B
decoders keep per-source state across payloads).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import msgspec
import numpy as np

from fusion.actions import OperatorAction, decode_action
from fusion.core.frame import LocalFrame
from fusion.ingest import Ingest
from sensors.adsb import AdsbDecoder
from sensors.ais import AisDecoder
from sensors.errors import DecodeError
from sensors.limits import MAX_AGE_S, MAX_FUTURE_S
from sensors.oth import OthDecoder
from sensors.radar import RadarDecoder
from sensors.reports import (
    AdsbReport,
    AisPosition,
    AisStatic,
    OthFix,
    RadarScan,
    RadarScanArrays,
    Report,
    SatScene,
)
from sensors.sat import SatDecoder

RECV_T = 1_700_000_000.0  # receive time of every fuzz input, Unix s
SOURCE = "rx"  # the topic's source / site of every fuzz input (seeds carry it as site/source)
# The service area the ingest harness uses: the seeds' positions lie inside it.
FRAME = LocalFrame(5.0, 25.0, -85.0, -60.0)


def _split_topic(data: bytes) -> tuple[str, bytes]:
    """A two-part input: the topic is the first line (UTF-8, bad bytes replaced), the payload the rest."""
    topic, _, payload = data.partition(b"\n")
    return topic.decode("utf-8", errors="replace"), payload


def _finite_in(name: str, value: float | None, lo: float, hi: float, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    assert isinstance(value, float | int) and math.isfinite(value) and lo <= value <= hi, (name, value)


def _check_time(name: str, t: float) -> None:
    _finite_in(name, t, RECV_T - MAX_AGE_S, RECV_T + MAX_FUTURE_S)


def check_report(report: Report) -> None:
    """One decoded report holds finite numbers inside the bounds docs/FORMATS.md states."""
    if isinstance(report, RadarScanArrays):
        check_report(report.to_scan())
        return
    if isinstance(report, AisPosition | AdsbReport | OthFix):
        _check_time("t", report.t)
        _finite_in("lat", report.lat, -90.0, 90.0)
        _finite_in("lon", report.lon, -180.0, 180.0)
    for name, value in msgspec.structs.asdict(report).items():  # type: ignore[call-overload]
        if isinstance(value, float):
            assert math.isfinite(value), (name, value)
    if isinstance(report, AisPosition):
        assert 1 <= report.mmsi <= 999_999_999, report.mmsi
        _finite_in("sog_mps", report.sog_mps, 0.0, 1500.0, optional=True)
        _finite_in("cog_deg", report.cog_deg, 0.0, 360.0 - 1e-9, optional=True)
        _finite_in("heading_deg", report.heading_deg, 0.0, 360.0 - 1e-9, optional=True)
    elif isinstance(report, AisStatic):
        _check_time("t", report.t)
        assert 1 <= report.mmsi <= 999_999_999, report.mmsi
    elif isinstance(report, AdsbReport):
        assert 0 <= report.icao24 <= 0xFFFFFF, report.icao24
        _finite_in("alt_m", report.alt_m, -1000.0, 30000.0, optional=True)
        _finite_in("gs_mps", report.gs_mps, 0.0, 1500.0, optional=True)
        _finite_in("track_deg", report.track_deg, 0.0, 360.0 - 1e-9, optional=True)
        _finite_in("vrate_mps", report.vrate_mps, -500.0, 500.0, optional=True)
    elif isinstance(report, OthFix):
        (ee, en), (ne, nn) = report.cov_en_m2
        assert 0.0 < ee <= 1e14 and 0.0 < nn <= 1e14 and en == ne and ee * nn - en * ne > 0.0, report.cov_en_m2
    elif isinstance(report, RadarScan):
        _check_time("t", report.t)
        _finite_in("sensor_lat", report.sensor_lat, -90.0, 90.0)
        _finite_in("sensor_lon", report.sensor_lon, -180.0, 180.0)
        _finite_in("sigma_range_m", report.sigma_range_m, 0.0, 1e7)
        _finite_in("sigma_az_deg", report.sigma_az_deg, 0.0, 1e7)
        for i, p in enumerate(report.plots):
            _finite_in(f"plots[{i}].range_m", p.range_m, 0.0, 5e6)
            _finite_in(f"plots[{i}].az_deg", p.az_deg, 0.0, 360.0 - 1e-9)
            _finite_in(f"plots[{i}].el_deg", p.el_deg, -90.0, 90.0, optional=True)
            _finite_in(f"plots[{i}].snr_db", p.snr_db, -100.0, 200.0, optional=True)
    elif isinstance(report, SatScene):
        _check_time("acq_time", report.acq_time)
        for i, d in enumerate(report.detections):
            _finite_in(f"detections[{i}].lat", d.lat, -90.0, 90.0)
            _finite_in(f"detections[{i}].lon", d.lon, -180.0, 180.0)
            _finite_in(f"detections[{i}].pos_err_m", d.pos_err_m, 1.0, 5e4)
            _finite_in(f"detections[{i}].confidence", d.confidence, 0.0, 1.0)


def _check_decoded(kind: str, result: tuple[Sequence[Report], list[DecodeError]]) -> None:
    reports, errors = result
    for err in errors:
        assert isinstance(err, DecodeError) and err.field and err.feed == f"{kind}/{SOURCE}", err
        str(err)  # the reason is printable (it goes to the rejects topic)
    for report in reports:
        check_report(report)


def _errors(errors: list[DecodeError]) -> list[str]:
    return [str(e) for e in errors]


def check_ais(data: bytes) -> None:
    """AisDecoder: the fast path decodes exactly what the general path (pyais) decodes."""
    fast = AisDecoder().decode(data, SOURCE, RECV_T)
    _check_decoded("ais", fast)
    general = AisDecoder(fast=False).decode(data, SOURCE, RECV_T)
    assert fast[0] == general[0], (fast[0], general[0])
    assert _errors(fast[1]) == _errors(general[1]), (_errors(fast[1]), _errors(general[1]))


def check_adsb(data: bytes) -> None:
    """AdsbDecoder, SBS-1 or aircraft.json (the decoder picks by the first byte)."""
    _check_decoded("adsb", AdsbDecoder().decode(data, SOURCE, RECV_T))


def check_radar(data: bytes) -> None:
    """RadarDecoder.decode (the general path: RadarScan records)."""
    _check_decoded("radar", RadarDecoder().decode(data, SOURCE, RECV_T))


def check_radar_arrays(data: bytes) -> None:
    """RadarDecoder.decode_arrays (the ingest fast path) equals the general path, as arrays."""
    fast = RadarDecoder().decode_arrays(data, SOURCE, RECV_T)
    _check_decoded("radar", fast)
    general = RadarDecoder(fast=False).decode_arrays(data, SOURCE, RECV_T)
    assert fast[0] == general[0], (fast[0], general[0])
    assert _errors(fast[1]) == _errors(general[1]), (_errors(fast[1]), _errors(general[1]))


def check_oth(data: bytes) -> None:
    """OthDecoder."""
    _check_decoded("oth", OthDecoder().decode(data, SOURCE, RECV_T))


def check_sat(data: bytes) -> None:
    """SatDecoder."""
    _check_decoded("sat", SatDecoder().decode(data, SOURCE, RECV_T))


def check_actions(data: bytes) -> None:
    """fusion.actions.decode_action on (first line: topic, rest: payload): an OperatorAction
    agreeing with its topic, or DecodeError (its documented reject)."""
    topic, payload = _split_topic(data)
    try:
        act = decode_action(topic, payload)
    except DecodeError as err:
        assert err.feed == "ops" and err.field, err
        str(err)
        return
    assert isinstance(act, OperatorAction) and math.isfinite(act.t), act
    assert topic == f"jisf/v1/ops/{act.action}/{act.alert_id}", (topic, act)


def check_ingest(data: bytes) -> None:
    """Ingest.accept on (first line: topic, rest: payload), then release everything: it never
    raises, counts what it rejects, and the released batches hold finite positions."""
    topic, payload = _split_topic(data)
    ingest = Ingest(FRAME)
    accepted = ingest.accept(topic, payload, RECV_T)
    assert accepted >= 0
    assert accepted > 0 or ingest.buffered == 0
    for batch in ingest.due(RECV_T + 1e6):
        assert np.isfinite(batch.t).all() and np.isfinite(batch.z[:, :2]).all(), batch
        assert np.isfinite(batch.R[:, :2, :2]).all(), batch
    ingest.snapshot()  # what a checkpoint writes is built from any accepted input


CHECKS: dict[str, Callable[[bytes], None]] = {
    "ais": check_ais,
    "adsb": check_adsb,
    "radar": check_radar,
    "radar_arrays": check_radar_arrays,
    "oth": check_oth,
    "sat": check_sat,
    "actions": check_actions,
    "ingest": check_ingest,
}
