"""fusion.ingest: time-ordered release, coalescing of cooperative messages, rejections."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fusion.core.frame import LocalFrame
from fusion.ingest import AREA_MARGIN_DEG, Ingest
from sensors import ais
from sensors.adsb import encode_aircraft_json
from sensors.measurement import MeasurementNoise, reports_to_batches
from sensors.radar import encode as encode_scan
from sensors.reports import AdsbReport, AisPosition, RadarPlot, RadarScan

FRAME = LocalFrame(9.0, 10.3, -79.8, -77.9)
T0 = 1_700_000_000.0
RADAR = dict(site="s1", sensor_lat=9.6, sensor_lon=-78.9, sensor_alt_m=40.0, sigma_range_m=25.0, sigma_az_deg=0.15)


def ais_positions(i: int, t: float) -> list[AisPosition]:
    return [AisPosition(t=t, source="agg", mmsi=367_000_000 + 2 * i + j, lat=9.5 + 0.01 * i, lon=-79.0 + 0.01 * j,
                        sog_mps=4.0, cog_deg=45.0) for j in range(2)]


def ais_msg(i: int, t: float) -> tuple[str, bytes]:
    return "jisf/v1/feeds/ais/agg", ais.encode_payload(ais_positions(i, t))


def radar_msg(t: float) -> tuple[str, bytes]:
    scan = RadarScan(**RADAR, t=t, scan_id=int(t), plots=[RadarPlot(range_m=10_000.0 + 100 * k, az_deg=10.0 * k, snr_db=15.0) for k in range(5)])
    return "jisf/v1/feeds/radar/s1", encode_scan(scan)


def test_consecutive_ais_messages_are_released_as_one_batch_equal_to_their_parts() -> None:
    ing = Ingest(FRAME, reorder_window_s=1.0)
    for i in range(5):
        assert ing.accept(*ais_msg(i, T0 + 0.1 * i), T0 + 0.1 * i + 0.01) == 2
    assert ing.buffered == 5
    assert ing.due(T0 + 0.5) == []  # nothing is older than the 1 s window yet
    (batch,) = ing.due(T0 + 2.0)
    assert batch.sensor_kind == "ais" and batch.domain == "surface" and len(batch) == 10
    assert ing.buffered == 0
    dec = ais.AisDecoder()
    parts = [reports_to_batches(dec.decode(ais_msg(i, T0 + 0.1 * i)[1], "agg", T0 + 0.1 * i + 0.01)[0], FRAME, MeasurementNoise())[0]
             for i in range(5)]
    assert np.array_equal(batch.mmsi, np.concatenate([p.mmsi for p in parts]))
    assert np.array_equal(batch.t, np.concatenate([p.t for p in parts]))
    assert np.allclose(batch.z, np.concatenate([p.z for p in parts]), equal_nan=True)
    assert np.allclose(batch.R, np.concatenate([p.R for p in parts]))


def test_a_radar_scan_ends_the_ais_run_so_the_surface_pool_sees_time_order() -> None:
    ing = Ingest(FRAME, reorder_window_s=0.5)
    ing.accept(*ais_msg(0, T0 + 0.0), T0 + 0.05)
    ing.accept(*ais_msg(1, T0 + 0.2), T0 + 0.25)
    ing.accept(*radar_msg(T0 + 0.5), T0 + 0.55)
    ing.accept(*ais_msg(2, T0 + 0.7), T0 + 0.75)
    ing.accept(*ais_msg(3, T0 + 0.9), T0 + 0.95)
    out = ing.due(T0 + 5.0)
    assert [(b.sensor_kind, len(b)) for b in out] == [("ais", 4), ("radar", 5), ("ais", 4)]
    edges = [(float(b.t.min()), float(b.t.max())) for b in out]
    assert all(prev[1] <= nxt[0] for prev, nxt in itertools.pairwise(edges))


def test_an_ais_run_spans_radar_scans_within_coalesce_s_and_goes_after_them() -> None:
    ing = Ingest(FRAME, reorder_window_s=0.5, coalesce_s=0.6)
    ing.accept(*ais_msg(0, T0 + 0.0), T0 + 0.05)
    ing.accept(*ais_msg(1, T0 + 0.2), T0 + 0.25)
    ing.accept(*radar_msg(T0 + 0.5), T0 + 0.55)  # within 0.6 s of the run's oldest report
    ing.accept(*ais_msg(2, T0 + 0.7), T0 + 0.75)
    ing.accept(*radar_msg(T0 + 1.2), T0 + 1.25)  # beyond: ends the run
    ing.accept(*ais_msg(3, T0 + 1.3), T0 + 1.35)
    out = ing.due(T0 + 5.0)
    assert [(b.sensor_kind, len(b)) for b in out] == [("radar", 5), ("ais", 6), ("radar", 5), ("ais", 2)]
    newest = -np.inf  # what the tracker fuses in place: no batch older than coalesce_s behind the batches before it
    for b in out:
        assert float(b.t.min()) >= newest - 0.6
        newest = max(newest, float(b.t.max()))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0.0, 2.0)), min_size=1, max_size=25), st.sampled_from([0.0, 0.05, 0.1, 0.5]),
       st.lists(st.floats(0.5, 4.0), min_size=1, max_size=3))
def test_coalesced_release_loses_nothing_and_never_goes_back_more_than_coalesce_s(
        msgs: list[tuple[bool, float]], coalesce_s: float, release_at: list[float]) -> None:
    ing = Ingest(FRAME, reorder_window_s=0.5, coalesce_s=coalesce_s)
    expected = 0
    for i, (is_radar, dt) in enumerate(sorted(msgs, key=lambda m: m[1])):
        topic, payload = radar_msg(T0 + dt) if is_radar else ais_msg(i, T0 + dt)
        expected += ing.accept(topic, payload, T0 + dt + 0.01)
    out = [b for now in [*sorted(release_at), 10.0] for b in ing.due(T0 + now)]
    assert sum(len(b) for b in out) == expected and ing.buffered == 0
    newest = -np.inf  # the tracker fuses a cooperative batch in place within coop_skew_s (= coalesce_s) of its clock
    for b in out:
        assert float(b.t.min()) >= newest - (coalesce_s if b.sensor_kind == "ais" else 0.0)
        newest = max(newest, float(b.t.max()))


def test_air_reports_do_not_break_the_surface_run() -> None:
    ing = Ingest(FRAME, reorder_window_s=0.0)
    adsb = AdsbReport(t=T0 + 0.1, source="rx", icao24=0xABC123, lat=9.7, lon=-78.5, alt_m=3000.0, gs_mps=100.0, track_deg=90.0)
    ing.accept(*ais_msg(0, T0), T0 + 0.01)
    assert ing.accept("jisf/v1/feeds/adsb/rx", encode_aircraft_json(T0 + 0.1, [adsb]), T0 + 0.11) == 1
    ing.accept(*ais_msg(1, T0 + 0.2), T0 + 0.21)
    out = ing.due(T0 + 1.0)
    assert sorted((b.sensor_kind, b.domain, len(b)) for b in out) == [("adsb", "air", 1), ("ais", "surface", 4)]


def test_release_happens_in_separate_calls_by_time() -> None:
    ing = Ingest(FRAME, reorder_window_s=0.5)
    ing.accept(*ais_msg(0, T0), T0 + 0.01)
    ing.accept(*ais_msg(1, T0 + 1.0), T0 + 1.01)
    first = ing.due(T0 + 0.6)
    assert [len(b) for b in first] == [2] and float(first[0].t.max()) == T0
    assert [len(b) for b in ing.due(T0 + 1.6)] == [2]


def test_snapshot_restores_the_buffer_as_batches_and_release_is_unchanged() -> None:
    def filled() -> Ingest:
        ing = Ingest(FRAME, reorder_window_s=1.0)
        ing.accept(*ais_msg(0, T0), T0 + 0.01)
        ing.accept(*radar_msg(T0 + 0.5), T0 + 0.51)
        ing.accept("jisf/v1/feeds/radar/s1", b"{", T0 + 0.6)  # one reject for the log
        return ing

    ing = filled()
    arrays, meta = ing.snapshot()
    assert len(meta["heap"]) == 2 and ing.buffered == 2  # the snapshot does not change the buffer
    restored = Ingest(FRAME, reorder_window_s=1.0)
    restored.restore(arrays, meta)
    assert restored.log.rejected == ing.log.rejected and restored.accept(*ais_msg(0, T0), T0 + 0.7) == 0  # a duplicate
    for a, b in zip(filled().due(T0 + 3.0), restored.due(T0 + 3.0), strict=True):
        assert (a.sensor_kind, a.domain) == (b.sensor_kind, b.domain)
        assert np.array_equal(a.z, b.z, equal_nan=True) and np.array_equal(a.mmsi, b.mmsi) and np.array_equal(a.t, b.t)


def test_bad_input_is_rejected_counted_and_never_released() -> None:
    ing = Ingest(FRAME, reorder_window_s=0.0)
    topic, good = ais_msg(0, T0)
    bad_checksum = good.replace(b"!AIVDM,1,1,,A,1", b"!AIVDM,1,1,,A,2")  # both sentences' checksums fail
    assert bad_checksum.count(b"A,2") == 2 and ing.accept(topic, bad_checksum, T0 + 0.01) == 0
    _, scan = radar_msg(T0)
    assert ing.accept("jisf/v1/feeds/radar/other", scan, T0 + 0.01) == 0  # site does not match the topic
    assert ing.accept("jisf/v1/feeds/sonar/x", b"{}", T0 + 0.01) == 0
    assert ing.accept(topic, good, T0 + 0.02) == 2
    assert ing.accept(topic, good, T0 + 0.03) == 0  # duplicate
    assert ing.log.total_rejected("ais") == 3 and ing.log.total_rejected("radar") == 1 and ing.log.total_rejected("unknown") == 1
    assert ing.log.rejected[("ais", "lines[*].checksum")] == 2 and ("radar", "site") in ing.log.rejected and ("unknown", "topic") in ing.log.rejected
    assert any("duplicate" in r for r in ing.log.summary("ais")["recent"])  # type: ignore[union-attr]
    assert [len(b) for b in ing.due(T0 + 1.0)] == [2]


def test_radar_scan_goes_through_the_arrays_path_and_bad_plots_are_rejected_by_field() -> None:
    """A scan with two bad plots: the good plots are released (converted as radar_batch converts the
    general decoder's scan), each bad plot is counted under its field and reported with its value."""
    from sensors.measurement import radar_batch
    from sensors.radar import RadarDecoder

    ing = Ingest(FRAME, reorder_window_s=0.0)
    plots = [RadarPlot(range_m=10_000.0 + 100 * k, az_deg=10.0 * k, snr_db=15.0) for k in range(6)]
    plots[2] = RadarPlot(range_m=-5.0, az_deg=20.0)
    plots[4] = RadarPlot(range_m=9_000.0, az_deg=400.0, el_deg=1.0)
    payload = encode_scan(RadarScan(**RADAR, t=T0, plots=plots))
    assert ing.accept("jisf/v1/feeds/radar/s1", payload, T0 + 0.01) == 4  # measurements: the good plots
    assert ing.log.rejected[("radar", "plots[*].range_m")] == 1 and ing.log.rejected[("radar", "plots[*].az_deg")] == 1
    assert any("plots[4].az_deg = 400.0" in r for r in ing.log.summary("radar")["recent"])  # type: ignore[union-attr]
    (batch,) = ing.due(T0 + 1.0)
    (scan,), _ = RadarDecoder(fast=False).decode(payload, "s1", T0 + 0.01)
    want = radar_batch(scan, FRAME, MeasurementNoise())  # type: ignore[arg-type]
    assert len(batch) == 4
    np.testing.assert_array_equal(batch.z, want.z)
    np.testing.assert_array_equal(batch.R, want.R)
    assert batch.look_en_m == want.look_en_m and batch.sensor_kind == "radar" and batch.domain == "surface"


@settings(max_examples=60, deadline=None)
@example(lat=9.6, lon=-79.0).via("inside the area")
@example(lat=-90.0, lon=0.0).via("the pole, at infinity in the frame")
@given(lat=st.floats(-90.0, 90.0), lon=st.floats(-180.0, 180.0))
def test_any_valid_position_far_outside_the_area_is_rejected_by_field_and_never_reaches_the_tracker(lat: float, lon: float) -> None:
    """A report anywhere on Earth (a pole maps to infinity in the local frame) is either
    within the area grown by AREA_MARGIN_DEG and tracked, or rejected naming lat or lon;
    the message's other reports are kept and fusion never fails."""
    from tests.unit.service.test_checkpoint import make_fusion

    fusion = make_fusion()
    ok = AisPosition(t=T0, source="agg", mmsi=367_000_001, lat=9.5, lon=-79.0, sog_mps=4.0, cog_deg=45.0)
    far = AisPosition(t=T0, source="agg", mmsi=367_000_002, lat=lat, lon=lon, sog_mps=4.0, cog_deg=45.0)
    scan = RadarScan(**{**RADAR, "sensor_lat": lat, "sensor_lon": lon}, t=T0, plots=[RadarPlot(range_m=5_000.0, az_deg=10.0)])
    fusion.accept("jisf/v1/feeds/ais/agg", ais.encode_payload([ok, far]), T0 + 0.1)
    fusion.accept("jisf/v1/feeds/radar/s1", encode_scan(scan), T0 + 0.1)
    list(fusion.advance(T0 + 10.0))
    f, m = fusion.frame, AREA_MARGIN_DEG
    inside = f.lat_min - m <= lat <= f.lat_max + m and f.lon_min - m <= lon <= f.lon_max + m
    rejected = fusion.ingest.log.rejected
    assert rejected[("ais", "lat")] + rejected[("ais", "lon")] == (0 if inside else 1)
    assert rejected[("radar", "sensor_lat")] + rejected[("radar", "sensor_lon")] == (0 if inside else 1)
    assert fusion.counters.measurements == (3 if inside else 1)


def test_the_duplicate_filter_is_per_topic() -> None:
    # the same payload from two receivers is two receptions (both fused); again on one topic, a replay
    ing = Ingest(FRAME, reorder_window_s=0.0)
    _, payload = ais_msg(0, T0)
    assert ing.accept("jisf/v1/feeds/ais/rx-north", payload, T0 + 0.1) == 2
    assert ing.accept("jisf/v1/feeds/ais/rx-south", payload, T0 + 0.1) == 2
    assert ing.accept("jisf/v1/feeds/ais/rx-north", payload, T0 + 0.2) == 0
    assert ing.log.rejected[("ais", "payload")] == 1 and ing.log.total_rejected() == 1
    assert sum(len(b) for b in ing.due(T0 + 1.0)) == 4
