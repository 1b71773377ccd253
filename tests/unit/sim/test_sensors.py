"""Sensor models: generated statistics match the configured ones (binomial / Poisson / chi-square bounds).

Tolerances are 4 standard errors, so a correct model fails about once in 15,000 runs.
"""

from __future__ import annotations

import math

import numpy as np
import pymap3d
import pytest

from sensors.radar import plot_rcs_dbsm
from sim_feeds.adsb_sim import AdsbModel, nacp_sigma_m
from sim_feeds.ais_sim import AisSatelliteModel, AisTerrestrialModel
from sim_feeds.geo import distance_m
from sim_feeds.observe import RadarModel, radar_snr_db, swerling1_pd
from sim_feeds.scenario import scenario_from_dict
from sim_feeds.truth import Truth
from tests.unit.sim.conftest import RADAR_LAT, RADAR_LON, base_doc, parked, transit

Z = 4.0  # standard errors allowed


def radar_doc(objects: list[dict], **radar: object) -> dict:
    spec = {"kind": "coastal_radar", "id": "r1", "lat": RADAR_LAT, "lon": RADAR_LON, "alt_m": 120.0, "rotation_s": 2.0,
            "sigma_range_m": 25.0, "sigma_az_deg": 0.25, "snr_ref_db": 16.0, "ref_range_m": 30000.0,
            "false_alarms_per_scan": 0.0, "coverage": {"range_min_m": 500.0, "range_max_m": 60000.0}, **radar}
    return base_doc(sensors=[spec], objects=objects)


def test_radar_pd_and_noise_match_configuration() -> None:
    sc = scenario_from_dict(radar_doc([parked("t-1", 9.70, -78.70, kind="fishing", rcs_m2=60.0)]))
    model = RadarModel(sc, Truth.of(sc), sc.sensors[0])  # type: ignore[arg-type]
    az_true, _, r_true = pymap3d.geodetic2aer(9.70, -78.70, 0.0, RADAR_LAT, RADAR_LON, 120.0)
    scans = list(model.scans())
    n = len(scans)
    near = [[p for p in s.plots if abs(p.range_m - r_true) < 200.0] for s in scans]
    hits = sum(bool(x) for x in near)
    pd = float(swerling1_pd(radar_snr_db(model.spec, np.array([60.0]), np.array([r_true])), 1e-6)[0])
    assert 0.3 < pd < 0.95  # a test that can tell Pd apart
    assert abs(hits / n - pd) < Z * math.sqrt(pd * (1 - pd) / n), (hits, n, pd)
    dr = np.array([x[0].range_m - r_true for x in near if x])
    daz = np.array([(x[0].az_deg - az_true + 180.0) % 360.0 - 180.0 for x in near if x])
    for err, sigma in ((dr, 25.0), (daz, 0.25)):
        assert abs(err.mean()) < Z * sigma / math.sqrt(err.size)
        assert abs(err.std(ddof=1) / sigma - 1.0) < Z / math.sqrt(2 * (err.size - 1))


def test_radar_plot_rcs_is_swerling1_about_the_truth() -> None:
    """Each plot's RCS from its SNR, range and the scan's radar constant: exponential (Swerling I) about the
    object's mean RCS: linear mean = truth, variance = mean^2 (standard errors 1/sqrt(n) and sqrt(8/n))."""
    sc = scenario_from_dict(radar_doc([parked("t-1", 9.65, -78.85, kind="tug")]))
    truth = Truth.of(sc)
    model = RadarModel(sc, truth, sc.sensors[0])  # type: ignore[arg-type]
    _, _, r_true = pymap3d.geodetic2aer(9.65, -78.85, 0.0, RADAR_LAT, RADAR_LON, 120.0)
    assert float(radar_snr_db(model.spec, truth.rcs_m2, np.array([r_true]))[0]) > 30.0  # Pd > 0.98: no detection bias
    scans = list(model.scans())
    assert {(s.snr_1m2_db, s.rcs_ref_range_m) for s in scans} == {(16.0 - 10.0, 30000.0)}  # snr_ref_db for ref_rcs_m2 10
    looks = np.array([10.0 ** (float(plot_rcs_dbsm(s, np.array([p.range_m]), np.array([p.snr_db]))[0]) / 10.0)
                      for s in scans for p in s.plots if abs(p.range_m - r_true) < 200.0])
    x = looks / truth.rcs_m2[0]
    assert looks.size > 0.95 * len(scans)
    assert abs(x.mean() - 1.0) < Z / math.sqrt(x.size)
    assert abs(x.var(ddof=1) - 1.0) < Z * math.sqrt(8.0 / x.size)


def test_radar_false_alarms_poisson_over_coverage_and_horizon() -> None:
    far = parked("far-1", 9.99, -78.10, kind="go_fast")  # ~100 km: beyond range and horizon
    sc = scenario_from_dict(radar_doc([far], false_alarms_per_scan=3.0))
    model = RadarModel(sc, Truth.of(sc), sc.sensors[0])  # type: ignore[arg-type]
    counts = np.array([len(s.plots) for s in model.scans()])
    assert abs(counts.mean() - 3.0) < Z * math.sqrt(3.0 / counts.size)
    assert abs(counts.var(ddof=1) / 3.0 - 1.0) < 0.2  # Poisson: variance = mean
    ranges = np.array([p.range_m for s in model.scans() for p in s.plots])
    assert ranges.min() >= 500.0 and ranges.max() <= 60000.0
    # uniform in area: P(r < R/sqrt(2)) is about one half
    frac = np.mean(ranges < math.sqrt((60000.0**2 + 500.0**2) / 2))
    assert abs(frac - 0.5) < Z * math.sqrt(0.25 / ranges.size)


def ais_doc(objects: list[dict], slot_loss: float = 0.2) -> dict:
    rx = {"kind": "ais_terrestrial", "id": "rx", "lat": RADAR_LAT, "lon": RADAR_LON, "range_m": 200000.0, "slot_loss": slot_loss}
    return base_doc(sensors=[rx], objects=objects)


@pytest.mark.parametrize(("speed_kn", "transceiver", "interval_s"), [(10.0, "A", 10.0), (18.0, "A", 6.0), (8.0, "B", 30.0)])
def test_ais_reporting_interval_and_slot_loss(speed_kn: float, transceiver: str, interval_s: float) -> None:
    ship = transit("m-1", (9.8, -79.5), (9.8, -78.2), speed_kn, kind="merchant" if transceiver == "A" else "pleasure_craft",
                   ais={"mmsi": 311000001, "transceiver": transceiver})
    sc = scenario_from_dict(ais_doc([ship], slot_loss=0.0))
    model = AisTerrestrialModel(sc, Truth.of(sc), sc.sensors[0])  # type: ignore[arg-type]
    t = np.concatenate([tx.t[~tx.static] for _, tx in model.batches()])
    assert np.allclose(np.diff(t), interval_s)
    lossy = scenario_from_dict(ais_doc([ship], slot_loss=0.2))
    heard = sum(int((~tx.static).sum()) for _, tx in AisTerrestrialModel(lossy, Truth.of(lossy), lossy.sensors[0]).batches())  # type: ignore[arg-type]
    assert abs(heard / t.size - 0.8) < Z * math.sqrt(0.16 / t.size)


@pytest.mark.parametrize(("speed_kn", "transceiver", "interval_s"), [(10.0, "A", 10.0), (18.0, "A", 6.0), (8.0, "B", 30.0)])
def test_a_stopped_vessel_getting_under_way_reports_at_its_new_rate(speed_kn: float, transceiver: str,
                                                                     interval_s: float) -> None:
    """Moored for 1,000 s (3-min reports), then under way: the first report after it leaves comes one new interval
    later (ITU-R M.1371-5 Table 1 sets the rate by the current condition), not when the 3-min interval ends."""
    ship = {**transit("m-1", (9.8, -79.5), (9.8, -78.2), speed_kn, kind="merchant" if transceiver == "A" else "pleasure_craft",
                      ais={"mmsi": 311000001, "transceiver": transceiver})}
    ship["route"][0]["dwell_s"] = 1000.0
    sc = scenario_from_dict(ais_doc([ship], slot_loss=0.0))
    model = AisTerrestrialModel(sc, Truth.of(sc), sc.sensors[0])  # type: ignore[arg-type]
    t = np.concatenate([tx.t[~tx.static] for _, tx in model.batches()]) - sc.t0
    stopped, moving = t[t < 1000.0], t[t >= 1000.0]
    assert np.allclose(np.diff(stopped), 180.0)
    assert moving[0] == pytest.approx(1000.0 + interval_s)  # not up to 180 s after the departure
    # it speeds up at its kind's bounded acceleration: the interval shortens with the speed, down to the new rate
    steps = np.diff(moving)
    assert (np.diff(steps) <= 1e-6).all() and np.allclose(steps[-10:], interval_s)


def test_ais_off_window_and_spoof_offset() -> None:
    ship = transit("m-1", (9.8, -79.5), (9.8, -78.2), 12.0, ais={
        "mmsi": 311000001, "off": [{"start_s": 600.0, "end_s": 1200.0}],
        "spoof": [{"start_s": 1800.0, "end_s": 2400.0, "offset_nm": 20.0, "bearing_deg": 0.0}]})
    sc = scenario_from_dict(ais_doc([ship], slot_loss=0.0))
    truth = Truth.of(sc)
    tx = [x.take(~x.static) for _, x in AisTerrestrialModel(sc, truth, sc.sensors[0]).batches()]  # type: ignore[arg-type]
    t = np.concatenate([x.t for x in tx]) - sc.t0
    lat = np.concatenate([x.lat for x in tx])
    lon = np.concatenate([x.lon for x in tx])
    assert not ((t >= 600.0) & (t < 1200.0)).any()
    s = truth.paths.sample(np.zeros(t.size, dtype=np.int64), t + sc.t0)
    err = distance_m(s.lat, s.lon, lat, lon)
    spoofed = (t >= 1800.0) & (t < 2400.0)
    assert np.allclose(err[spoofed], 20 * 1852.0, atol=50.0)
    assert err[~spoofed].max() < 40.0  # GNSS noise only


def test_a_spoofer_is_heard_by_where_it_is_not_where_it_claims() -> None:
    """A shore receiver hears a transmitter within its range even when the position the
    transmitter reports (spoofed 150 nm north) is far outside it."""
    ship = transit("m-1", (9.8, -79.5), (9.8, -78.2), 12.0, ais={
        "mmsi": 311000001, "spoof": [{"start_s": 0.0, "end_s": 1e6, "offset_nm": 150.0, "bearing_deg": 0.0}]})
    sc = scenario_from_dict(ais_doc([ship], slot_loss=0.0))
    rx = sc.sensors[0]
    tx = [x.take(~x.static) for _, x in AisTerrestrialModel(sc, Truth.of(sc), rx).batches()]  # type: ignore[arg-type]
    claimed = distance_m(rx.lat, rx.lon, np.concatenate([x.lat for x in tx]), np.concatenate([x.lon for x in tx]))  # type: ignore[union-attr]
    assert claimed.size > 100 and claimed.min() > rx.range_m  # type: ignore[union-attr]


def test_satellite_ais_late_and_out_of_order() -> None:
    ships = [transit(f"m-{i}", (9.7 + 0.05 * i, -79.5), (9.7 + 0.05 * i, -78.2), 12.0, ais={"mmsi": 311000010 + i}) for i in range(4)]
    sat = {"kind": "ais_satellite", "id": "sat", "revisit_s": 3000.0, "pass_s": 900.0, "first_pass_s": 100.0,
           "p_detect": 0.5, "latency_min_s": 60.0, "latency_max_s": 600.0, "batch_s": 10.0}
    sc = scenario_from_dict(base_doc(sensors=[sat], objects=ships))
    model = AisSatelliteModel(sc, Truth.of(sc), sc.sensors[0])  # type: ignore[arg-type]
    published, report_t = [], []
    for t_pub, tx in model.batches():
        published.extend([t_pub] * tx.t.size)
        report_t.extend(tx.t.tolist())
    lag = np.array(published) - np.array(report_t)
    assert lag.min() >= 60.0 and lag.max() <= 600.0 + 10.0
    assert np.any(np.diff(report_t) < 0)  # out of order
    assert model.in_pass(np.array(report_t)).all()


def test_adsb_noise_follows_nacp() -> None:
    plane = {"id": "air-1", "kind": "commercial_aircraft", "speed_kn": 250.0, "adsb": {"icao24": "a1b2c3", "nac_p": 7},
             "route": [{"lat": 9.5, "lon": -79.5, "alt_m": 3000.0}, {"lat": 10.2, "lon": -78.0, "alt_m": 3000.0}]}
    rx = {"kind": "adsb_receiver", "id": "rx", "lat": 9.6, "lon": -79.0, "loss": 0.1}
    sc = scenario_from_dict(base_doc(sensors=[rx], objects=[plane], duration_s=1200.0))
    truth = Truth.of(sc)
    batches = [rows for _, rows in AdsbModel(sc, truth, sc.sensors[0]).batches()]
    t = np.concatenate([rows.t for rows in batches])
    s = truth.paths.sample(np.zeros(t.size, dtype=np.int64), t)
    north = (np.concatenate([rows.lat for rows in batches]) - s.lat) * 110_600.0
    sigma = float(nacp_sigma_m(np.array([7]))[0])
    assert abs(north.std(ddof=1) / sigma - 1.0) < Z / math.sqrt(2 * (north.size - 1))
    expected = 1200.0 * 0.9
    assert abs(t.size - expected) < Z * math.sqrt(1200.0 * 0.09)
