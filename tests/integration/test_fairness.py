"""Per-source budgets and prompt shutdown against a real Mosquitto (docs/OPERATIONS.md,
"Per-source budgets" and "Shutdown").

(a) The starvation attack on the shipped secured broker configuration: a rogue radar
account floods huge scans on its own topic and an ADS-B account floods SBS-1 lines while
the minimal scenario's good sources (an AIS receiver and a radar, published by the sim
account) carry a go-fast: the service stays up, sheds the two rogue sources at their
source (counted per source on the status topic and the metrics endpoint), sheds nothing
of the good sources, loses nothing it received (each message fused or shed with a count),
raises every alert the clean stream raises in an offline run (not before its offline
scenario time; on an unloaded machine at that very time), never defers a good source, keeps
the tracker re-runs the rogues cause within their re-run budget, and its memory stays
bounded. (Latency is the benchmark's: bench/live.py rogue.)

(b) SIGTERM while backlogged (hundreds of large scans queued): ``jisf run`` exits with
status 0 within a generous bound (typically ~1-2 s, docs/BENCHMARKS.md), publishing the
final status (not the last will) with every message accounted for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import test_faults as faults
from secured_broker import PASSWORDS, Secured, jisf, reaped, rss_mb, tls_options

from fusion.broker import free_port
from fusion.clock import WarpedClock
from fusion.core.config import TrackerConfig
from fusion.mqtt import publisher
from fusion.offline import fusion_for_area
from fusion.pipeline import FusionConfig
from fusion.publish import ALERTS_FILTER, STATUS_TOPIC, OutMessage, encode
from sensors.adsb import encode_sbs
from sensors.reports import AdsbReport, RadarPlot, RadarScan
from sim_feeds.scenario import load_scenario, resolve_scenario

pytestmark = pytest.mark.broker


ROGUE_SITE = (10.2, -78.0)  # the area's north-east corner, ~100 km from the scenario's go-fast
ROGUE_USER, ROGUE_TOPIC, ROGUE_SITE_NAME = "radar-site2", "jisf/v1/feeds/radar/site2", "site2"  # accounts of the shipped ACL
FLOOD_USER, FLOOD_TOPIC = "adsb-rx1", "jisf/v1/feeds/adsb/rx1"
ROGUE_PLOTS = 9_000  # per scan: ~270 kB of JSON, under the 10,000-plot scan bound (budget_radar_plots_per_scan), so the budgets and fair queue, not the bound, shed it
SPEED = 10.0
N_FLOOD = 80_000  # SBS-1 lines of the ADS-B flood, one message each


def rogue_scan(t: float, rng: np.random.Generator, plots: int = ROGUE_PLOTS, site: str = "rogue") -> bytes:
    """A scan of ``plots`` random plots within 20 km of ROGUE_SITE, at time ``t``."""
    r, az = rng.uniform(500.0, 20_000.0, plots), rng.uniform(0.0, 360.0, plots)
    scan = RadarScan(site=site, t=t, sensor_lat=ROGUE_SITE[0], sensor_lon=ROGUE_SITE[1], sensor_alt_m=30.0, sigma_range_m=30.0,
                     sigma_az_deg=0.2, max_range_m=20_000.0,
                     plots=[RadarPlot(range_m=float(x), az_deg=float(y), snr_db=10.0) for x, y in zip(r, az, strict=True)])
    return encode(scan)


def sbs_flood(t: float, n: int, aircraft: int = 2_000) -> bytes:
    """``n`` SBS-1 MSG,3 lines, one per line (one MQTT message each with ``mosquitto_pub -l``),
    of ``aircraft`` ICAO addresses near ROGUE_SITE, timed ``t``."""
    reports = [AdsbReport(t=t, source="flood", icao24=0x100000 + i % aircraft, lat=ROGUE_SITE[0] - 0.001 * (i % 97),
                          lon=ROGUE_SITE[1] - 0.001 * (i % 89), alt_m=3000.0) for i in range(n)]
    return encode_sbs(reports).replace(b"\r\n", b"\n") + b"\n"


async def test_rogue_sensor_accounts_are_shed_at_their_source_and_good_alerts_keep_their_time(sec: Secured, tmp_path: Path) -> None:
    scenario = load_scenario(resolve_scenario("minimal"))  # the service runs minimal too
    # 300 s of the clean stream (the go-fast is raised offline at +125 s): under a loaded machine the good radar's
    # scans queue behind the flood's 80,000 messages in the service's one MQTT stream (received, then shed, one by one
    # before any budget applies), so their go-fast track coasts and its speed's lower bound dips under the raise
    # threshold until the flood has drained; on a 150 s stream that left no time for the raise (seen at load 9-17:
    # the tracker's and rules' inputs were those offline, only later; docs/INTERNALS.md). The raise is asserted, not its delay
    clean = faults.scenario_part(300.0)
    log = tmp_path / "service.log"
    # The budgets run on the service clock, here the scenario's at 10x, and are set for this
    # test's machine (a loaded 2-core CI runner, where fusing 10,000 plots/s is beyond reach): per
    # wall second 10 scans / 2,000 plots a radar site and 500 SBS-1 lines an ADS-B receiver, with
    # the default 10 s burst depth in wall seconds (100 scenario s; the good sources' messages,
    # queued in the broker behind the flood, arrive in bursts). A re-order window of 30 s (3 s
    # wall) as in test_live_fuzz: a clean message delayed by the loaded machine is not dropped as late;
    # every output tick evaluated (catch_up_ticks 0), so that a raise falls on its own tick, not a
    # spacing later when the service catches up after a slow period of the machine.
    metrics_port = free_port()
    service = jisf("fusion.runner", [*tls_options(sec, "jisf-fusion", tmp_path), "--clock", "sim", "--status-interval-s", "0.5",
                                     "--scenario", "minimal", "--reorder-window-s", "30", "--catch-up-ticks", "0",
                                     "--budget-radar-msg-s", "1", "--budget-radar-meas-s", "200", "--budget-adsb-msg-s", "50",
                                     "--budget-adsb-meas-s", "50", "--budget-burst-s", "100", "--metrics-port", str(metrics_port)], log)
    seen, sub_stop = faults.Seen(), asyncio.Event()
    received_at: list[float] = []  # wall time of each alert in seen.alerts

    async def subscriber() -> None:
        task = asyncio.create_task(faults.persistent_subscriber(sec.as_user("analyst"), "analyst", [ALERTS_FILTER, STATUS_TOPIC], seen, sub_stop))
        try:
            while True:
                received_at.extend([time.time()] * (len(seen.alerts) - len(received_at)))
                await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    sub_task = asyncio.create_task(subscriber())
    rng = np.random.default_rng(18)
    flood_t = scenario.t0 + 30.0
    scans = [(flood_t + 0.2 * i, rogue_scan(flood_t + 0.2 * i, rng, site=ROGUE_SITE_NAME)) for i in range(40)]  # 0.02 s wall apart at 10x
    sbs = tmp_path / "sbs.txt"
    sbs.write_bytes(sbs_flood(flood_t, N_FLOOD))
    rss: list[float] = []
    with reaped(service):
        await asyncio.wait_for(seen.subscribed.wait(), 30)
        await faults.wait_status(seen, lambda s: s.get("state") == "online", 90, "state online", log)  # (subscribed by then)
        clock = WarpedClock.starting_now(clean[0].t, SPEED)
        rss.append(rss_mb(service.pid))

        async def rogue() -> None:  # a real sensor account, on the one topic its ACL allows
            async with publisher(sec.as_user(ROGUE_USER)) as publish:
                for t, payload in scans:
                    await asyncio.sleep(max(0.0, clock.scenario_to_wall(t) - time.time()))
                    await publish(OutMessage(ROGUE_TOPIC, payload, qos=0))

        async def sample_rss() -> None:
            while True:
                rss.append(rss_mb(service.pid))
                await asyncio.sleep(0.1)

        clean_task = asyncio.create_task(faults.resilient_publish(sec.as_user("jisf-sim"), clean, clock))  # with the sim clock
        rogue_task, rss_task = asyncio.create_task(rogue()), asyncio.create_task(sample_rss())
        await asyncio.sleep(max(0.0, clock.scenario_to_wall(flood_t) - time.time()))
        with sbs.open("rb") as lines:
            flood = subprocess.Popen(  # noqa: ASYNC220 - started, not waited on here
                ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(sec.plain_port), "-u", FLOOD_USER, "-P", PASSWORDS[FLOOD_USER],
                 "-q", "0", "-l", "-t", FLOOD_TOPIC], stdin=lines)
        with reaped(flood):
            assert await asyncio.to_thread(flood.wait, 60) == 0
        await asyncio.wait_for(rogue_task, 60)
        sent = await asyncio.wait_for(clean_task, 180)
        expected = sent + N_FLOOD + len(scans)
        end_t = clean[-1].t + 30.0 + 10.0  # the tick covering the clean stream's end, after the re-order window

        def done(s: dict[str, object]) -> bool:
            received = s.get("received")
            return (isinstance(received, dict) and sum(received.values()) >= expected and s.get("inbound_depth") == 0
                    and float(s.get("t", 0.0)) >= end_t)  # type: ignore[arg-type]

        await faults.wait_status(seen, done, 120, "every message received and fused past the stream's end", log)
        rss_task.cancel()
        metrics = await faults.scrape_and_stop(service, metrics_port, log)
    final = await faults.offline_status(seen, log, sub_stop, sub_task)
    # the two rogue accounts are shed at their sources, counted per source; nothing of the good sources is shed
    by_source, stale, shed, messages = final["shed_by_source"], final["shed_stale_by_source"], final["shed"], final["messages"]
    assert set(by_source) == {"radar/site2", "adsb/rx1"} and set(stale) <= set(by_source), (by_source, stale)  # type: ignore[arg-type]
    assert by_source["radar/site2"] >= len(scans) // 2 and by_source["adsb/rx1"] >= 20_000, by_source  # type: ignore[index]
    assert shed.get("adsb") == by_source["adsb/rx1"] + stale.get("adsb/rx1", 0) and not shed.get("ais"), (shed, stale)  # type: ignore[union-attr, index]
    assert shed.get("radar") == by_source["radar/site2"] + stale.get("radar/site2", 0), (shed, stale)  # type: ignore[union-attr, index]
    assert 'jisf_shed_by_source_total{source="radar/site2"}' in metrics, metrics
    # no good source was ever deferred (left out of the fusion horizon) on any status: each gets its share of every
    # step whatever the flood's backlog (fusion/fairqueue.py, max-min shares), only the rogues fall behind themselves
    deferred = {src for s in seen.status for src in s.get("deferred_sources", [])}  # type: ignore[attr-defined]
    assert deferred <= {"radar/site2", "adsb/rx1"}, deferred
    # the re-runs the rogues' out-of-sequence data made the tracker do are bounded by their re-run budget
    # (TrackerConfig defaults: 5 s deep, 1 s of batch time a second), whatever the machine's timing
    first_t = min(clean[0].t, scans[0][0])  # the earliest measurement: the tracker's batch time spans at most this to the end
    bound = TrackerConfig().rerun_burst_s + TrackerConfig().rerun_budget_s_per_s * (float(final["t"]) - first_t)  # type: ignore[arg-type]
    rerun_s = final["tracker_rerun_s_by_source"]
    for src in ("radar/site2", "adsb/rx1"):
        assert rerun_s.get(src, 0.0) <= bound, (src, rerun_s, bound)  # type: ignore[union-attr]
    # nothing received is lost: every message was fused (accepted or rejected by the decoders) or shed with a count
    received = final["received"]
    assert received["adsb"] == N_FLOOD and received["radar"] == len(scans) + sum(m.topic.split("/")[3] == "radar" for m in clean), received  # type: ignore[index]
    for feed, m in messages.items():  # type: ignore[union-attr]
        dropped = final["shutdown_dropped"].get(feed, 0)  # type: ignore[union-attr]  # (received after SIGTERM)
        assert received[feed] == m["accepted"] + m["rejected"] + m["shed"] and m["shed"] == m["shed_budget"] + m["shed_stale"] + dropped, (feed, m)  # type: ignore[index]
    assert final["inbound_depth"] == 0 and final["max_inbound_depth"] <= 200_000, final
    # every alert the clean stream alone raises (offline) is raised live at the same scenario time
    offline = fusion_for_area(scenario.area, scenario.zones_geojson(), "fairness-offline", config=FusionConfig(reorder_window_s=30.0))
    for m in clean:
        offline.accept(m.topic, m.payload, m.t)
    # (raises only: an update may come out a tick later, when a tick it fell on was skipped while catching up)
    expect = {(a.rule, a.state, round(a.t, 3)) for tick in offline.advance(end_t) for a in tick.alerts if a.state == "raised"}
    live: dict[tuple[str, str, float], float] = {}  # event -> first wall time received
    for wall, a in zip(received_at, seen.alerts, strict=False):
        live.setdefault((str(a["rule"]), str(a["state"]), round(float(a["t"]), 3)), wall)  # type: ignore[arg-type]
    # (reported, not asserted: the wall latency of the good alerts, which bench/live.py rogue measures)
    latency = sorted(live[e] - clock.scenario_to_wall(e[2]) for e in expect & set(live))
    print(f"good alerts under the flood: latency {[round(x, 2) for x in latency]} s wall (re-order window 3 s); live raises "
          f"{sorted(e for e in live if e[1] == 'raised')}, offline {sorted(expect)}; service RSS {rss[0]:.0f} -> peak {max(rss):.0f} MB; "
          f"shed {by_source}, stale {stale}; late dropped {final['late_dropped']}, tracker re-runs {final['tracker_reruns_by_source']} "
          f"({final['tracker_rerun_s_by_source']} s), not re-run {final['tracker_rerun_refused_by_source']}; "
          f"fuse_wait {final['latency']['fuse_wait_s']} scenario s")  # type: ignore[index]
    # the good alert arrives: every rule the clean stream raises offline is raised live, never before
    # its offline time (causality); on an unloaded machine at the same scenario time (printed above)
    assert expect, "the clean stream raises an alert offline"
    for rule, _, t in expect:
        # (on failure, the machine's load and what of the flood was admitted: under a load average >= 8 on 2 cores the
        # go-fast was seen raised 40-70 s late in scenario time, with no late drop, deferral or reject: the good
        # radar's scans arrive late behind the flood, see the comment on ``clean`` and docs/INTERNALS.md)
        assert any(e[0] == rule and e[1] == "raised" and e[2] >= t for e in live), (
            rule, t, sorted(live), f"load {os.getloadavg()}", {f: m["accepted"] for f, m in messages.items()})  # type: ignore[union-attr, index]
    assert max(rss) - rss[0] < 1024, rss
