"""Per-source intake budgets (fusion/intake.py) and their use at the service's intake."""

from __future__ import annotations

import numpy as np

from fusion.intake import (
    MAX_SOURCES,
    OTHER_SOURCES,
    REPORTED_SOURCES,
    Charge,
    Intake,
    Rate,
    SourceBudgets,
    estimate,
    source_of,
)
from fusion.mqtt import BrokerAddress
from fusion.offline import fusion_for_area
from fusion.publish import encode
from fusion.service import Service, ServiceOptions
from sensors.adsb import encode_aircraft_json, encode_sbs
from sensors.reports import AdsbReport, RadarPlot, RadarScan
from sim_feeds.scenario import default_scenario_path, load_scenario

T0 = 1_710_000_000.0


def scan(plots: int, site: str = "s1") -> bytes:
    rng = np.random.default_rng(plots)
    return encode(RadarScan(site=site, t=T0, sensor_lat=9.5, sensor_lon=-78.5, sensor_alt_m=10.0, sigma_range_m=30.0, sigma_az_deg=0.2,
                            plots=[RadarPlot(range_m=float(r), az_deg=float(a)) for r, a in zip(rng.uniform(100, 9000, plots),
                                                                                                rng.uniform(0, 360, plots), strict=True)]))


def test_estimates_count_measurements_from_the_bytes() -> None:
    reports = [AdsbReport(t=T0, source="r", icao24=i + 1, lat=9.5, lon=-78.5, alt_m=1000.0) for i in range(7)]
    assert estimate("radar", scan(123)) == 123
    assert estimate("radar", scan(0)) == 1
    assert estimate("adsb", encode_sbs(reports)) == 7  # one MSG,3 line each, \r\n separated
    assert estimate("adsb", encode_aircraft_json(T0, reports)) == 7
    assert estimate("ais", b"!AIVDM,1\n!AIVDM,2\n") == 2
    assert estimate("oth", b"{}") == 1
    assert source_of("jisf/v1/feeds/radar/site-7") == ("radar", "radar/site-7")
    assert source_of("jisf/v1/ops/ack") is None and source_of("jisf/v1/feeds/radar/a/b") is None


def test_a_flooding_source_is_shed_and_another_keeps_its_budget() -> None:
    intake = Intake(SourceBudgets(ais=Rate(10.0, 10.0), burst_s=2.0))  # 20 messages deep, 10 a second
    good, rogue = "jisf/v1/feeds/ais/good", "jisf/v1/feeds/ais/rogue"
    shed_good = 0
    for k in range(1000):  # 10 s: the rogue sends 100 a second, the good source 5
        t = T0 + k * 0.01
        intake.charge(rogue, b"!AIVDM\n", t)
        if k % 20 == 0:
            shed_good += not intake.charge(good, b"!AIVDM\n", t).admitted
    assert shed_good == 0
    assert 1000 - 20 - 100 - 1 <= intake.shed_by_source["ais/rogue"] <= 1000 - 20 - 100 + 1  # burst + 10 s at the rate
    assert intake.reported() == {"ais/rogue": intake.shed_by_source["ais/rogue"]}


def test_a_scan_bigger_than_the_bucket_passes_once_and_leaves_a_debt() -> None:
    intake = Intake(SourceBudgets(radar=Rate(2.0, 1_000.0), burst_s=1.0))  # 1,000 plots deep
    big = scan(3_000)
    assert intake.charge("jisf/v1/feeds/radar/s1", big, T0).admitted  # full bucket: passes, 2,000 plots of debt
    assert intake.charge("jisf/v1/feeds/radar/s1", scan(10), T0 + 1.5) == Charge("radar/s1", 10, False, True)  # 1,500 plots refilled: 500 in debt
    assert intake.charge("jisf/v1/feeds/radar/s1", scan(10), T0 + 2.1).admitted  # the debt is paid at 1,000 plots/s


def test_settle_charges_the_exact_count_after_decode() -> None:
    intake = Intake(SourceBudgets(radar=Rate(100.0, 100.0), burst_s=1.0))
    topic, payload = "jisf/v1/feeds/radar/s1", scan(50)
    assert intake.charge(topic, payload, T0).admitted  # 50 of 100 charged
    intake.settle(topic, payload, 150)  # decoded: 150 measurements (the estimate was short by 100)
    assert intake.charge(topic, scan(10), T0) == Charge("radar/s1", 10, False, True)
    intake.settle(topic, payload, 0)  # a refund of the 50 estimated (e.g. all rejected)
    assert intake._buckets["radar/s1"].meas == -50.0 + 50.0


def test_invented_sources_beyond_the_bound_share_one_bucket_and_the_report_is_bounded() -> None:
    intake = Intake(SourceBudgets(oth=Rate(1.0, 1.0), burst_s=1.0))
    for i in range(MAX_SOURCES + 50):
        for _ in range(2):
            intake.charge(f"jisf/v1/feeds/oth/x{i}", b"{}", T0)
    assert len(intake._buckets) == MAX_SOURCES + 1 and OTHER_SOURCES in intake._buckets
    report = intake.reported()
    assert len(report) <= REPORTED_SOURCES + 1 and report[OTHER_SOURCES] >= MAX_SOURCES and sum(report.values()) == sum(intake.shed_by_source.values())


def test_clock_jumping_back_refills_nothing() -> None:
    intake = Intake(SourceBudgets(radar=Rate(1.0, 1_000.0), burst_s=1.0))
    topic = "jisf/v1/feeds/radar/s1"
    assert intake.charge(topic, scan(1), T0 + 100.0).admitted
    assert intake.charge(topic, scan(1), T0) == Charge("radar/s1", 1, False, True)  # back in time: no refill
    assert intake.charge(topic, scan(1), T0 + 1.0).admitted  # one second after the jump: refilled


def test_service_intake_sheds_at_the_source_and_reports_it() -> None:
    scenario = load_scenario(default_scenario_path())
    fusion = fusion_for_area(scenario.area, scenario.zones_geojson(), "intake")
    options = ServiceOptions(mqtt_io="inline", budgets=SourceBudgets(radar=Rate(1.0, 100.0), burst_s=1.0))
    service = Service(fusion, BrokerAddress.parse("mqtt://127.0.0.1:1"), options)
    for _ in range(5):
        service._on_message("jisf/v1/feeds/radar/rogue", scan(500, "rogue"), 0, False)
    service._on_message("jisf/v1/feeds/radar/good", scan(5, "good"), 0, False)
    assert len(service.inbound) == 2  # the rogue's first scan (a full bucket) and the good one
    assert service.stats.shed["radar"] == 4 and service.intake.shed_by_source == {"radar/rogue": 4}
    body = service._status_body(T0)
    assert body["shed_by_source"] == {"radar/rogue": 4} and body["messages"]["radar"]["shed"] == 4  # type: ignore[index]
    assert 'jisf_shed_by_source_total{source="radar/rogue"} 4' in service.metrics_text()


def test_a_payload_beyond_the_decode_limits_is_charged_the_limit_and_refunded_after_decode() -> None:
    intake = Intake(SourceBudgets(ais=Rate(10.0, 10.0), burst_s=1.0), max_cost=50)
    huge = b"a\n" * 500
    assert intake.charge("jisf/v1/feeds/ais/r", huge, T0).admitted  # a full bucket: charged 50, not 500
    assert intake._buckets["ais/r"].meas == 10.0 - 50.0
    intake.settle("jisf/v1/feeds/ais/r", huge, 0)  # rejected whole by the decoder
    assert intake._buckets["ais/r"].meas == 10.0


def test_a_scan_beyond_the_plots_per_scan_bound_is_shed_whatever_the_budget_and_counted() -> None:
    intake = Intake(SourceBudgets(radar=Rate(100.0, 1e9, 1_000.0), burst_s=1.0))  # a budget the scans are well within
    topic = "jisf/v1/feeds/radar/s1"
    assert intake.charge(topic, scan(1_001), T0) == Charge("radar/s1", 1_001, False, True)
    assert intake.charge(topic, scan(1_000), T0).admitted  # at the bound: admitted, charged as usual
    assert intake.shed_by_source == {"radar/s1": 1} and intake.oversize_by_source == {"radar/s1": 1}
    assert intake.shed_measurements == {"radar/s1": 1_001}
    assert intake._buckets["radar/s1"].meas == 1e9 - 1_000  # the oversize scan took nothing from the bucket


def test_the_default_radar_bound_sheds_a_20000_plot_scan_at_its_site_on_the_service_status() -> None:
    scenario = load_scenario(default_scenario_path())
    fusion = fusion_for_area(scenario.area, scenario.zones_geojson(), "intake")
    service = Service(fusion, BrokerAddress.parse("mqtt://127.0.0.1:1"), ServiceOptions(mqtt_io="inline"))
    service._on_message("jisf/v1/feeds/radar/rogue", scan(20_000, "rogue"), 0, False)
    service._on_message("jisf/v1/feeds/radar/good", scan(5_000, "good"), 0, False)
    assert [m.key for m in service.inbound] == ["radar/good"]
    assert service.stats.shed_budget["radar"] == 1 and service.intake.oversize_by_source == {"radar/rogue": 1}
    assert service._status_body(T0)["shed_by_source"] == {"radar/rogue": 1}
    assert 'jisf_shed_by_source_total{source="radar/rogue"} 1' in service.metrics_text()
