"""dark_detection: satellite detections matched against AIS at acquisition time (fusion/satmatch.py)."""

from __future__ import annotations

import math
from pathlib import Path

from fusion.core.arrays import SENSOR_BIT
from fusion.core.frame import LocalFrame
from fusion.pipeline import Fusion, FusionConfig
from fusion.rules.engine import default_rules
from fusion.rules.zones import ZoneSet
from fusion.satmatch import DETECTION_ID_BASE, SatConfig
from sensors import ais, sat
from sensors.reports import AisPosition, SatDetection, SatScene

FRAME = LocalFrame(2.0, 4.0, -80.0, -78.0)
T0 = 1_700_000_000.0
M_PER_DEG = 111_320.0
SHIPS = {366_000_001: (3.0, -79.5), 366_000_002: (3.0, -79.2), 366_000_003: (3.3, -79.5)}  # (lat, lon) at T0
SPEED = 6.0  # m/s north, every ship


def ship_at(mmsi: int, t: float) -> tuple[float, float]:
    lat, lon = SHIPS[mmsi]
    return lat + SPEED * (t - T0) / M_PER_DEG, lon


def fusion() -> Fusion:
    return Fusion(FRAME, ZoneSet.from_geojson({"type": "FeatureCollection", "features": []}, "none"), default_rules(),
                  FusionConfig())


def feed_ais(f: Fusion, start: float, end: float, every_s: float = 10.0) -> list:
    """AIS of every ship each ``every_s`` from start to end, fused as it arrives; returns the alerts."""
    alerts = []
    t = start
    while t <= end:
        reports = [AisPosition(t=t, source="shore", mmsi=m, lat=ship_at(m, t)[0], lon=ship_at(m, t)[1], sog_mps=SPEED,
                               cog_deg=0.0) for m in SHIPS]
        f.accept("jisf/v1/feeds/ais/shore", ais.encode_payload(reports), t + 0.5)
        alerts += [a for tick in f.advance(t + 1.0) for a in tick.alerts]
        t += every_s
    return alerts


def scene(acq: float, points: list[tuple[float, float]], err: float = 200.0) -> bytes:
    return sat.encode(SatScene(source="s1a", sensor="sar", acq_time=acq, detections=[
        SatDetection(lat=lat, lon=lon, pos_err_m=err, length_m=30.0, confidence=0.9) for lat, lon in points]))


def dark(alerts: list) -> list:
    return [a for a in alerts if a.rule == "dark_detection"]


def test_only_the_dark_vessel_raises_and_a_scene_two_hours_late_is_matched() -> None:
    f = fusion()
    acq = T0 + 1800.0
    feed_ais(f, T0, acq + 7200.0, every_s=30.0)
    ships = [ship_at(m, acq) for m in SHIPS]
    off = 150.0 / M_PER_DEG  # detections 150 m off (position error), one dark vessel 5 km from any ship
    points = [(lat + off, lon - off) for lat, lon in ships] + [(3.1, -79.35)]
    recv = acq + 7200.0 + 5.0
    assert f.accept("jisf/v1/feeds/sat/s1a", scene(acq, points), recv) == 1
    alerts = dark([a for tick in f.advance(recv + 10.0) for a in tick.alerts])
    assert len(alerts) == 1
    (a,) = alerts
    assert (a.lat, a.lon) == (3.1, -79.35) and a.state == "raised" and a.track_id > DETECTION_ID_BASE
    assert a.evidence["acq_t"] == acq and 7205.0 <= a.evidence["latency_s"] <= 7215.0
    assert a.evidence["nearest_ais_m"] > 4000.0
    assert f.ingest.sat_correlation_only == 1  # two hours late: not a tracker measurement


def test_an_ais_vessel_is_matched_at_acquisition_time_not_where_it_is_now() -> None:
    # two hours later the ships are 43 km north: matched against their positions at acquisition
    f = fusion()
    acq = T0 + 600.0
    feed_ais(f, T0, acq + 7200.0, every_s=60.0)
    points = [ship_at(m, acq) for m in SHIPS]
    f.accept("jisf/v1/feeds/sat/s1a", scene(acq, points), acq + 7300.0)
    assert dark([a for tick in f.advance(acq + 7320.0) for a in tick.alerts]) == []
    # the same detections placed where the ships are now (2 h later): nothing at acquisition there
    now = [ship_at(m, acq + 7200.0) for m in SHIPS]
    f.accept("jisf/v1/feeds/sat/s1a", scene(acq, now), acq + 7330.0)
    assert len(dark([a for tick in f.advance(acq + 7350.0) for a in tick.alerts])) == 3


def test_one_ais_vessel_explains_one_detection() -> None:
    # a dark boat alongside an AIS ship (600 m): two detections, one ship -> one alert
    f = fusion()
    acq = T0 + 600.0
    feed_ais(f, T0, acq + 300.0)
    lat, lon = ship_at(366_000_001, acq)
    f.accept("jisf/v1/feeds/sat/s1a", scene(acq, [(lat, lon), (lat, lon + 600.0 / M_PER_DEG / math.cos(math.radians(3)))],
                                             err=100.0), acq + 400.0)
    alerts = dark([a for tick in f.advance(acq + 420.0) for a in tick.alerts])
    assert len(alerts) == 1 and alerts[0].lon > lon


def test_a_fresh_scene_is_also_a_tracker_measurement_an_old_one_is_not() -> None:
    f = fusion()
    feed_ais(f, T0, T0 + 60.0)
    f.accept("jisf/v1/feeds/sat/s1a", scene(T0 + 58.0, [(3.1, -79.35)]), T0 + 60.0)  # within the 30 s lag
    f.accept("jisf/v1/feeds/sat/s1a", scene(T0 - 600.0, [(3.2, -79.35)]), T0 + 60.0)  # ten minutes old
    list(f.advance(T0 + 70.0))
    seen = f.trackers["surface"].view(T0 + 70.0)
    assert int(((seen.sources & SENSOR_BIT["sat"]) > 0).sum()) == 1 and f.ingest.sat_correlation_only == 1
    assert f.counters.late_dropped == 0


def test_without_ais_history_every_confident_detection_is_dark_and_low_confidence_is_not() -> None:
    f = Fusion(FRAME, ZoneSet.from_geojson({"type": "FeatureCollection", "features": []}, "none"), default_rules(),
               FusionConfig(sat=SatConfig(min_confidence=0.95)))
    payload = sat.encode(SatScene(source="s1a", sensor="viirs", acq_time=T0, detections=[
        SatDetection(lat=3.0, lon=-79.0, pos_err_m=500.0, confidence=0.99),
        SatDetection(lat=3.1, lon=-79.0, pos_err_m=500.0, confidence=0.6)]))
    f.accept("jisf/v1/feeds/sat/s1a", payload, T0 + 3600.0)
    alerts = dark([a for tick in f.advance(T0 + 3610.0) for a in tick.alerts])
    assert [a.lat for a in alerts] == [3.0] and alerts[0].evidence["nearest_ais_m"] is None
    assert "VIIRS" in alerts[0].reason


def test_a_checkpoint_keeps_the_ais_history_and_pending_scenes(tmp_path: Path) -> None:
    from fusion.checkpoint import load_checkpoint, save_checkpoint

    acq = T0 + 600.0
    payload = scene(acq, [ship_at(m, acq) for m in SHIPS] + [(3.1, -79.35)])
    runs = []
    for restart in (False, True):
        f = fusion()
        feed_ais(f, T0, acq + 1200.0, every_s=60.0)
        f.accept("jisf/v1/feeds/sat/s1a", payload, acq + 1203.0)  # pending until the next tick
        if restart:
            save_checkpoint(tmp_path / "f.ckpt", f)
            f = fusion()
            load_checkpoint(tmp_path / "f.ckpt", f)
        runs.append([(a.alert_id, a.lat, a.lon) for a in dark([a for tick in f.advance(acq + 1220.0) for a in tick.alerts])])
    assert runs[0] == runs[1] == [(f"dark_detection-s1a-{round(acq * 1000)}-3", 3.1, -79.35)]


def test_detection_alert_ids_come_from_the_detection() -> None:
    """The same detection gets the same alert id in any instance (no counter that restarts); two differ."""
    from fusion.satmatch import detection_alert_id
    from sensors.reports import SatDetection, SatScene

    dets = [SatDetection(lat=3.9, lon=-77.5, pos_err_m=100.0, length_m=40.0, confidence=0.9),
            SatDetection(lat=3.8, lon=-77.4, pos_err_m=100.0, length_m=None, confidence=0.8)]
    scene = SatScene(source="s1a", sensor="sar", acq_time=1725500000.25, detections=dets)
    again = SatScene(source="s1a", sensor="sar", acq_time=1725500000.25, detections=list(dets))
    assert detection_alert_id(scene, 0) == detection_alert_id(again, 0) == "dark_detection-s1a-1725500000250-0"
    assert detection_alert_id(scene, 0) != detection_alert_id(scene, 1)
