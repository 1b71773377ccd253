"""``jisf run`` on the shipped secured Mosquitto configuration (deploy/mosquitto) against the
reported hostile payloads (issue 18, "crash" and "stall"), each sent by a sensor account on
the one topic its ACL lets it write: JSON nested 1,000 and 100,000 deep on the radar, OTH and
ADS-B topics, the 1 MB AIS payload of 500,000 one-character lines, and payloads of thousands
of bad lines under the line limit (AIS and SBS-1), while the sim account plays the minimal
scenario with its go-fast.

The service stays up and keeps publishing status; each hostile payload is counted as rejected,
the rejects summaries stay small, keyed by field pattern (``lines[*].sentence``), not one key
per line; the service's resident memory stays bounded; every alert the clean stream raises
offline is raised live (not before its offline scenario time); and nothing received is lost
(per feed, received = accepted + rejected + shed in the final status).
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import msgspec
import pytest
import test_faults as faults
from secured_broker import Secured, jisf, live_outputs, reaped, rss_mb, tls_options, until

from fusion.clock import WarpedClock
from fusion.mqtt import publisher
from fusion.offline import fusion_for_area
from fusion.pipeline import FusionConfig
from fusion.publish import ALERTS_FILTER, STATUS_TOPIC, OutMessage
from sim_feeds.scenario import load_scenario, resolve_scenario

pytestmark = pytest.mark.broker


SPEED = 10.0
REORDER_WINDOW_S = 30.0  # scenario s (3 s wall): a clean message held up by the loaded machine is not dropped as late
RSS_GROWTH_MB = 300.0  # the reported stall grew the service by 1,080 MB (1.05 -> 2.13 GB) and kept growing


def hostile_payloads() -> list[tuple[str, str, bytes, str]]:
    """(account, its permitted topic, payload, the limit named in the reject) of each reported hostile payload."""
    out = []
    for depth in (1_000, 100_000):
        nest = b"[" * depth + b"]" * depth
        out += [("radar-site1", "jisf/v1/feeds/radar/site1", b'{"plots":' + nest + b"}", "max_json_depth"),
                ("oth-site1", "jisf/v1/feeds/oth/site1", b'{"site":' + nest + b"}", "max_json_depth"),
                ("adsb-rx1", "jisf/v1/feeds/adsb/rx1", b'{"now":1,"aircraft":[' + nest + b"]}", "max_json_depth")]
    out.append(("ais-agg1", "jisf/v1/feeds/ais/agg1", b"a\n" * 500_000, "max_lines_per_payload"))
    return out


# Under the line limit: each bad line is its own reject, counted under the field's pattern. (The AIS
# account's budget is raised to an aggregator's, 10,000 reports/s, so that both AIS payloads are within
# it whatever the order their charges are settled in, and the radar's plots per scan beyond the 100,000
# brackets of the deepest nest, which the intake would otherwise shed as a scan of too many plots
# before decode: this test is about decoding, test_fairness and tests/unit/service/test_intake.py about budgets.)
BAD_LINES = [("ais-agg1", "jisf/v1/feeds/ais/agg1", b"a\n" * 20_000, "lines[*].sentence", 20_000),
             ("adsb-rx1", "jisf/v1/feeds/adsb/rx1", b"MSG,3\n" * 20_000, "lines[*].fields", 20_000)]


async def test_hostile_payloads_from_sensor_accounts_neither_stop_nor_stall_the_service(sec: Secured, tmp_path: Path) -> None:
    scenario = load_scenario(resolve_scenario("minimal"))
    clean = faults.scenario_part(150.0)
    log = tmp_path / "service.log"
    attack_t = scenario.t0 + 20.0  # scenario time of the attack: before the go-fast's alert (+50 s)
    end_t = clean[-1].t + REORDER_WINDOW_S + 10.0  # the tick covering the clean stream's end
    rss: list[float] = []
    async with live_outputs(sec, (STATUS_TOPIC, "jisf/v1/rejects/#", ALERTS_FILTER)) as out:
        service = jisf("fusion.runner", [*tls_options(sec, "jisf-fusion", tmp_path), "--clock", "sim", "--scenario", "minimal",
                                         "--status-interval-s", "0.3", "--rejects-interval-s", "0.3", "--catch-up-ticks", "0",
                                         "--reorder-window-s", str(REORDER_WINDOW_S), "--budget-ais-meas-s", "10000",
                                         "--budget-radar-plots-per-scan", "1000000"], log)
        with reaped(service):
            await until(lambda: any(s.get("state") == "online" for s in out.status), "the service online", log)
            rss.append(rss_mb(service.pid))
            clock = WarpedClock.starting_now(clean[0].t, SPEED)
            clean_task = asyncio.create_task(faults.resilient_publish(sec.as_user("jisf-sim", plain=True), clean, clock))

            async def sample_rss() -> None:
                while True:
                    rss.append(rss_mb(service.pid))
                    await asyncio.sleep(0.1)

            rss_task = asyncio.create_task(sample_rss())
            await asyncio.sleep(max(0.0, clock.scenario_to_wall(attack_t) - time.time()))
            attacked = time.monotonic()
            for user, topic, payload, _ in [*((u, t, p, f) for u, t, p, f, _ in BAD_LINES), *hostile_payloads()]:  # (the hostile ones
                # last: their rejects are the most recent of the summaries, which keep the last 20)
                async with publisher(sec.as_user(user, plain=True)) as publish:  # each sensor on its own topic
                    await publish(OutMessage(topic, payload, qos=1))
            sent = await asyncio.wait_for(clean_task, 120)

            def done() -> bool:
                s = out.status[-1] if out.status else {}
                received = s.get("received")
                return (isinstance(received, dict) and sum(received.values()) >= sent + len(hostile_payloads()) + len(BAD_LINES)
                        and s.get("inbound_depth") == 0 and float(s.get("t", 0.0)) >= end_t)  # type: ignore[arg-type]

            await until(done, "every message received and fused past the clean stream's end", log)
            # the service kept publishing status through the attack
            assert any(t > attacked for t in out.status_at), log.read_text()[-3000:]
            assert service.poll() is None, log.read_text()[-3000:]
            rss_task.cancel()
            service.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(service.wait, 30) == 0, log.read_text()[-3000:]
        await until(lambda: any(s.get("state") == "offline" for s in out.status), "the final status", log, timeout=10)
    final = next(s for s in out.status if s.get("state") == "offline")
    rejects = out.rejects
    print(f"hostile payloads: service RSS {rss[0]:.0f} -> peak {max(rss):.0f} MB; rejects summary sizes "
          f"{ {f: len(msgspec.json.encode(r)) for f, r in rejects.items()} } bytes; by field { {f: r['by_field'] for f, r in rejects.items()} }")
    # each hostile payload is one reject naming the limit; bad lines are counted under their field's pattern
    for feed, n_whole in (("radar", 2), ("oth", 2), ("adsb", 2), ("ais", 1)):
        by_field: dict = rejects[feed]["by_field"]  # type: ignore[assignment]
        assert by_field.get("payload") == n_whole, (feed, by_field)
        assert len(msgspec.json.encode(rejects[feed])) < 5_000, rejects[feed]
    for (_, topic, _, pattern, n) in BAD_LINES:
        feed = topic.split("/")[3]
        assert rejects[feed]["by_field"] == {"payload": 2 if feed == "adsb" else 1, pattern: n}, rejects[feed]  # type: ignore[index]
    for feed in ("radar", "oth", "adsb", "ais"):
        named = {limit for _, topic, _, limit in hostile_payloads() if topic.split("/")[3] == feed}
        assert all(any(limit in str(r) for r in rejects[feed]["recent"]) for limit in named), rejects[feed]  # type: ignore[union-attr]
    # nothing received is lost: each message accepted, rejected or shed with a count, none shed here
    for feed, m in final["messages"].items():  # type: ignore[union-attr]
        assert final["received"][feed] == m["accepted"] + m["rejected"] + m["shed"] and m["shed"] == 0, (feed, m)  # type: ignore[index]
    assert max(rss) - rss[0] < RSS_GROWTH_MB, rss
    # the good source's alerts: every rule the clean stream raises offline is raised live, never before its offline time
    offline = fusion_for_area(scenario.area, scenario.zones_geojson(), "limits-offline", config=FusionConfig(reorder_window_s=REORDER_WINDOW_S))
    for m in clean:
        offline.accept(m.topic, m.payload, m.t)
    expect = {(a.rule, round(a.t, 3)) for tick in offline.advance(end_t) for a in tick.alerts if a.state == "raised"}
    assert expect, "the clean stream raises an alert offline"
    live = {(str(a["rule"]), round(float(a["t"]), 3)) for a in out.alerts if a["state"] == "raised"}  # type: ignore[arg-type]
    for rule, t in expect:
        assert any(r == rule and lt >= t for r, lt in live), (rule, t, sorted(live))
