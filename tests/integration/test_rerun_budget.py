"""The per-source re-run budget live (issue 18 items 2 and 5; fusion/core/oosm.py ``RerunBudget``,
``[tracker] rerun_budget_s_per_s`` / ``rerun_burst_s``, docs/TRACKER.md "Per-source re-run budget"),
against a real Mosquitto running the shipped secured configuration.

The minimal scenario's good sources (an AIS receiver and a coastal radar, published by the sim
account at 4x on the simulator clock) carry a go-fast; meanwhile the sensor account
``radar-site2`` sends, on its own topic and within its intake budget, scans timed 35 s behind
the service clock, out of order among themselves. With a 20 s re-order window each of them is
released at once, 15 +- 3 s older than what the tracker has fused (inside its 30 s lag): each
one asks for a re-run of more batch time than the source's 5 s burst, so the budget refuses them
(their anonymous plots counted late) instead of having the tracker redo its lag at every scan.

Asserted, all independent of the machine's timing: the service stays up; the status and the
metrics count refused re-runs for that source only, whole scans of it, and the re-runs it was
allowed stay within its budget; every alert the clean stream raises offline is raised live;
nothing accepted is lost: per feed received = accepted + rejected + shed (nothing shed), and the
measurements the tracker took (fused, or dropped as late) are exactly the clean stream's offline
count plus every plot of every rogue scan.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
import test_faults as faults
from secured_broker import Secured, jisf, reaped, tls_options

from fusion.broker import free_port
from fusion.clock import WarpedClock
from fusion.core.config import TrackerConfig
from fusion.mqtt import publisher
from fusion.offline import fusion_for_area
from fusion.pipeline import FusionConfig
from fusion.publish import ALERTS_FILTER, STATUS_TOPIC, OutMessage
from sim_feeds.scenario import load_scenario, resolve_scenario

pytestmark = pytest.mark.broker

SPEED = 4.0
REORDER_WINDOW_S = 20.0  # scenario s (5 s wall): a good message the loaded machine delays stays in sequence
BEHIND_S = 35.0  # the rogue's measurement times behind the service clock: 15 s older than the tracker's newest, within its 30 s lag
ROGUE_USER, ROGUE_TOPIC, ROGUE_SITE = "radar-site2", "jisf/v1/feeds/radar/site2", "site2"  # an account of the shipped ACL
ROGUE_SCANS, ROGUE_PLOTS = 80, 100  # one scan a scenario second (half the radar site budget), from 60 s in


def rogue_scans(t0: float) -> list[tuple[float, bytes]]:
    """(scenario time to publish at, payload): one scan a second from ``t0``, each timed BEHIND_S before it, +- 3 s at random."""
    rng = np.random.default_rng(5)
    out = []
    for k in range(ROGUE_SCANS):
        at = t0 + k
        t = at - BEHIND_S + float(rng.uniform(-3.0, 3.0))
        out.append((at, faults.bench_shutdown.backlog_scans(1, ROGUE_PLOTS, t, site=ROGUE_SITE, seed=k)[0]))
    return out


async def test_a_source_far_out_of_sequence_is_refused_re_runs_and_the_good_sources_lose_nothing(sec: Secured, tmp_path: Path) -> None:
    scenario = load_scenario(resolve_scenario("minimal"))
    clean = faults.scenario_part(150.0)
    log = tmp_path / "service.log"
    metrics_port = free_port()
    service = jisf("fusion.runner", [*tls_options(sec, "jisf-fusion", tmp_path), "--clock", "sim", "--status-interval-s", "0.5",
                                     "--scenario", "minimal", "--reorder-window-s", str(REORDER_WINDOW_S), "--catch-up-ticks", "0",
                                     "--metrics-port", str(metrics_port)], log)
    seen, sub_stop = faults.Seen(), asyncio.Event()
    sub_task = asyncio.create_task(faults.persistent_subscriber(sec.as_user("analyst"), "analyst", [ALERTS_FILTER, STATUS_TOPIC],
                                                                seen, sub_stop))
    rogue = rogue_scans(clean[0].t + 60.0)
    with reaped(service):
        await asyncio.wait_for(seen.subscribed.wait(), 30)
        await faults.wait_status(seen, lambda s: s.get("state") == "online", 90, "state online", log)
        clock = WarpedClock.starting_now(clean[0].t, SPEED)

        async def play_rogue() -> None:  # a real sensor account, on the one topic its ACL allows
            async with publisher(sec.as_user(ROGUE_USER)) as publish:
                for at, payload in rogue:
                    await asyncio.sleep(max(0.0, clock.scenario_to_wall(at) - time.time()))
                    await publish(OutMessage(ROGUE_TOPIC, payload, qos=1))

        clean_task = asyncio.create_task(faults.resilient_publish(sec.as_user("jisf-sim"), clean, clock))  # with the sim clock
        await asyncio.wait_for(play_rogue(), 120)
        sent = await asyncio.wait_for(clean_task, 120)
        expected = sent + len(rogue)
        end_t = max(clean[-1].t, rogue[-1][0]) + REORDER_WINDOW_S + 10.0  # everything released by then

        def done(s: dict[str, object]) -> bool:
            received = s.get("received")
            return (isinstance(received, dict) and sum(received.values()) >= expected and s.get("inbound_depth") == 0
                    and s.get("reorder_batches") == 0 and float(s.get("t", 0.0)) >= end_t)  # type: ignore[arg-type]

        settled = await faults.wait_status(seen, done, 120, "every message received and released past the streams' end", log)
        metrics = await faults.scrape_and_stop(service, metrics_port, log)
    final = await faults.offline_status(seen, log, sub_stop, sub_task)
    refused, rerun_s = settled["tracker_rerun_refused_by_source"], settled["tracker_rerun_s_by_source"]
    print(f"re-run budget: refused {refused}, re-runs {settled['tracker_reruns_by_source']} ({rerun_s} s), "
          f"late dropped {settled['late_dropped']}, measurements {settled['measurements']}")
    # refused re-runs for the rogue only, whole scans of it; what it was allowed stays within its budget
    src = f"radar/{ROGUE_SITE}"
    assert set(refused) == {src}, refused  # type: ignore[arg-type]
    assert ROGUE_PLOTS <= refused[src] <= ROGUE_SCANS * ROGUE_PLOTS and refused[src] % ROGUE_PLOTS == 0, refused  # type: ignore[index, operator]
    assert int(settled["late_dropped"]) >= refused[src], settled  # type: ignore[call-overload, index]  # (anonymous plots: counted late)
    cfg = TrackerConfig()
    bound = cfg.rerun_burst_s + cfg.rerun_budget_s_per_s * (float(settled["t"]) - (rogue[0][0] - BEHIND_S - 3.0))  # type: ignore[arg-type]
    assert rerun_s.get(src, 0.0) <= bound, (rerun_s, bound)  # type: ignore[union-attr]
    refused_samples = {label: float(value) for label, value in (line.rsplit(" ", 1) for line in metrics.splitlines()
                                                                  if line.startswith("jisf_tracker_rerun_refused_by_source_total{"))}
    assert refused_samples == {f'jisf_tracker_rerun_refused_by_source_total{{source="{src}"}}': refused[src]}, refused_samples  # type: ignore[index]
    # nothing received is lost or shed; nothing accepted is lost: every measurement was taken by the tracker
    received, messages = settled["received"], settled["messages"]
    assert received["radar"] == len(rogue) + sum(m.topic.split("/")[3] == "radar" for m in clean), received  # type: ignore[index]
    for feed, m in messages.items():  # type: ignore[union-attr]
        assert received[feed] == m["accepted"] + m["rejected"] and m["shed"] == 0, (feed, m)  # type: ignore[index]
    config = FusionConfig(reorder_window_s=REORDER_WINDOW_S)
    offline = fusion_for_area(scenario.area, scenario.zones_geojson(), "rerun-offline", config=config)
    for m in clean:
        offline.accept(m.topic, m.payload, m.t)
    expect = {(a.rule, round(a.t, 3)) for tick in offline.advance(end_t) for a in tick.alerts if a.state == "raised"}
    assert settled["measurements"] == offline.counters.measurements + ROGUE_SCANS * ROGUE_PLOTS, (settled["measurements"], offline.counters)
    # every alert the clean stream raises offline is raised live, not before its offline time
    live = {(str(a["rule"]), round(float(a["t"]), 3)) for a in seen.alerts if a["state"] == "raised"}  # type: ignore[arg-type]
    assert expect, "the clean stream raises an alert offline"
    for rule, t in expect:
        assert any(r == rule and lt >= t for r, lt in live), (rule, t, sorted(live))
    assert final["shutdown"]["reason"] == "SIGTERM", final  # type: ignore[index]
