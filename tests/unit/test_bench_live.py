"""bench/live.py's accounting: the stage clock's exclusive times, the CPU split of a live run,
the median and spread of repeated runs (pure functions; no broker, no timing)."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from fusion.core.arrays import MeasBatch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def live() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("bench_live", ROOT / "bench" / "live.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_live"] = module
    spec.loader.exec_module(module)
    return module


class _Ticks:
    """A clock that advances by one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


class _Batch:
    def __init__(self, kind: str) -> None:
        self.sensor_kind = kind


class _Worker:
    """Stand-ins for the worker's functions: ``outer`` calls ``inner`` twice; ``step`` takes a batch."""

    def outer(self) -> None:
        self.inner()
        self.inner()

    def inner(self) -> None:
        """A leaf: its time is its own."""

    def step(self, batch: _Batch) -> None:
        """A step of ``batch``: timed under the batch's sensor kind."""


def test_stage_clock_counts_each_stage_without_the_stages_nested_in_it(live: types.ModuleType) -> None:
    mod = sys.modules[__name__].__name__
    stages = {"outer": ((mod, "_Worker", "outer"),), "inner": ((mod, "_Worker", "inner"),),
              "step, {kind} batches": ((mod, "_Worker", "step"),)}
    clock = live.StageClock(stages, clock=_Ticks())
    clock.install()
    try:
        w = _Worker()
        w.outer()
        w.step(_Batch("radar"))
        w.step(_Batch("ais"))
        w.step(_Batch("radar"))
    finally:
        clock.remove()
    # each read of the clock is one second: inner spans 1 s (start, end); outer reads at its start and
    # end around two inners (4 reads): 5 s in all, 2 of them inner's
    assert clock.seconds["inner"] == 2.0 and clock.calls["inner"] == 2
    assert clock.seconds["outer"] == 5.0 - 2.0
    assert clock.seconds["step, radar batches"] == 2.0 and clock.calls["step, radar batches"] == 2
    assert clock.seconds["step, ais batches"] == 1.0
    assert _Worker.__dict__["outer"].__name__ == "outer" and not hasattr(_Worker.__dict__["outer"], "__wrapped__")  # removed


def test_cpu_split_names_the_processes_and_divides_by_the_load_time(live: types.ModuleType) -> None:
    split = live._cpu_split(10.0, worker_s=7.0, process_s=8.0,
                            children={"python3.11:123": 2.0, "mosquitto:77": 1.0, "mosquitto_sub:78": 0.1}, feeder_s=0.9)
    assert split == {"worker_thread": 0.7, "service_loop_and_rest": 0.1, "mqtt_link_process": 0.2, "broker": 0.1,
                     "alerts_subscriber": 0.01, "feeder": 0.09, "total": 1.2, "service_process": 0.8}


def _run(plots: float, drain: float, sustained: bool) -> dict[str, object]:
    return {"offered": {"plots_per_s": 100_000}, "fused_plots_per_s": plots, "fused_ais_msg_per_s": 2_000,
            "drain_after_last_publish_s": drain, "max_inbound_depth": 100, "sustained": sustained, "feeder_ready_in_time": True,
            "step_s": {}, "fuse_wait": {}, "cpu_s_per_wall_s": {"worker_thread": plots / 125_000, "service_process": plots / 100_000, "mqtt_link_process": 0.5}, "tracker_reruns": 0,
            "loadavg_before": [1.0, 1.0, 1.0], "loadavg_after": [1.5, 1.0, 1.0], "feeder": {"ready_margin_s": 3.0}}


def test_repeat_summary_gives_median_spread_and_sustained_count(live: types.ModuleType) -> None:
    out = live.repeat_summary([_run(99_000, 0.1, True), _run(80_000, 9.0, False), _run(99_500, 0.2, True)])
    assert out["sustained_runs"] == "2/3"
    assert out["fused_plots_per_s"] == {"median": 99_000, "min": 80_000, "max": 99_500}
    assert out["drain_after_last_publish_s"] == {"median": 0.2, "min": 0.1, "max": 9.0}
    assert out["worker_cpu_s_per_wall_s"]["median"] == pytest.approx(99_000 / 125_000)
    assert out["service_process_cpu_s_per_wall_s"] == {"median": 0.99, "min": 0.8, "max": 0.995}
    assert out["mqtt_link_process_cpu_s_per_wall_s"]["median"] == 0.5
    assert [r["loadavg_before"] for r in out["runs"]] == [[1.0, 1.0, 1.0]] * 3


def test_rogue_summary_gives_median_and_spread_per_kind_of_run(live: types.ModuleType) -> None:
    def run(name: str, p50: float, p99: float) -> dict[str, object]:
        return {"run": name, "alert_received_latency": {"alerts": 3, "p50_ms": p50, "p99_ms": p99},
                "alert_service_latency": {"p50_ms": p50 - 1.0, "p99_ms": p99 - 1.0}}
    runs = [run("without_flood", 100.0, 300.0), run("with_flood", 900.0, 2_000.0), run("without_flood", 140.0, 200.0),
            run("with_flood", 700.0, 4_000.0), run("with_flood", 800.0, 3_000.0),
            {"run": "without_flood", "alert_received_latency": {"alerts": 0}, "alert_service_latency": {}}]  # no alerts: left out
    out = live.rogue_summary(runs)
    assert list(out) == ["without_flood", "with_flood"]
    assert out["without_flood"]["alert_received_latency_p50"] == {"median": 120.0, "min": 100.0, "max": 140.0}
    assert out["with_flood"]["alert_received_latency_p99"] == {"median": 3_000.0, "min": 2_000.0, "max": 4_000.0}
    assert out["with_flood"]["alert_service_latency_p50"]["median"] == 799.0


def test_publisher_lag_takes_the_last_message_at_or_before_each_alerts_measurement(live: types.ModuleType) -> None:
    import numpy as np

    event_t, event_lag = np.array([10.0, 11.0, 12.0]), np.array([0.1, 0.2, 0.3])
    lag = live.publisher_lag(np.array([9.0, 10.0, 11.5, 12.0005, 20.0]), event_t, event_lag)
    assert lag.tolist() == [0.0, 0.1, 0.2, 0.3, 0.3]


def test_positive_int_rejects_zero(live: types.ModuleType) -> None:
    assert live.positive_int("3") == 3
    with pytest.raises(Exception, match="must be >= 1"):
        live.positive_int("0")


@pytest.mark.broker
async def test_raw_publisher_delivers_payloads_of_every_length_class(live: types.ModuleType, mosquitto) -> None:  # noqa: ANN001
    """The feeder's raw MQTT writer against a real Mosquitto: remaining lengths of 1, 2 and 3 bytes."""
    import asyncio

    payloads = [b"x" * 10, b"y" * 300, b"z" * 40_000]
    sub = await asyncio.create_subprocess_exec("mosquitto_sub", "-h", "127.0.0.1", "-p", str(mosquitto.port), "-t", "bench/raw",
                                               "-C", str(len(payloads)), "-W", "60", stdout=asyncio.subprocess.PIPE)
    mqtt = live.RawPublisher()
    await mqtt.connect(mosquitto.port, "raw-test")
    try:
        out = b""
        deadline = asyncio.get_running_loop().time() + 60
        while sub.returncode is None and asyncio.get_running_loop().time() < deadline:  # until the subscriber has them all
            for p in payloads:
                mqtt.publish("bench/raw", p)
            await mqtt.drain()
            try:  # wait for the exit, not communicate(): a cancelled communicate() loses what it had read
                await asyncio.wait_for(sub.wait(), 0.5)
            except TimeoutError:
                continue
        assert sub.stdout is not None
        if sub.returncode is not None:  # (3 messages, ~40 kB: the pipe held them while the subscriber ran)
            out = await sub.stdout.read()
    finally:
        await mqtt.close()
        if sub.returncode is None:
            sub.kill()
            await sub.wait()
    # any three consecutive messages are the three payloads (rounds repeat them in order; the
    # subscription may start mid-round)
    assert sorted(out.split(b"\n")[:3], key=len) == payloads


def test_the_worker_replay_fuses_ais_runs_across_radar_scans_without_re_runs(live: types.ModuleType) -> None:
    # 2 radar sites at 40 Hz (a scan every 12.5 ms) and 300 AIS messages/s for 1 s, stepped every 50 ms: strict
    # order cuts the AIS into a tracker step per run between scans (4 a step); coalescing within
    # TrackerConfig.coop_skew_s (0.1 s) leaves one per step
    spec = live.LoadSpec(sites=2, plots=500, scan_rate=40.0, ais_rate=300, go_fasts=1, seconds=1.0)
    strict = live.worker(spec, 2.0, 5.0, profile=False, coop_skew_s=0.0)
    coalesced = live.worker(spec, 2.0, 5.0, profile=False)
    radar_scans, steps = 2 * 40, 1.0 / 0.05
    assert strict["tracker_reruns"] == coalesced["tracker_reruns"] == 0
    assert strict["tracker_batches"] - radar_scans >= 3 * steps
    assert coalesced["tracker_batches"] - radar_scans <= steps + 1
    assert coalesced["tracks"] == strict["tracks"]


@pytest.mark.parametrize("table", ["_STAGES", "_TRACKER_STAGES", "_ROGUE_STAGES"])
def test_every_stage_function_exists(live: types.ModuleType, table: str) -> None:
    """Each stage names a function StageClock can wrap (a renamed function would silently drop out of the split)."""
    import importlib

    importlib.import_module("fusion.core.tracker")  # (the owner of _TRACKER_STAGES' functions is this module)
    for funcs in getattr(live, table).values():
        for module, owner, name in funcs:
            assert callable(getattr(importlib.import_module(module), owner).__dict__[name]), (module, owner, name)


def _scan(t: float, site: str, look: tuple[float, float, float] | None, n: int = 2, kind: str = "radar") -> MeasBatch:
    """A batch of ``n`` plots at ``t`` of ``site``, coverage ``look``."""
    return MeasBatch(t=np.full(n, t), z=np.arange(4 * n, dtype=float).reshape(n, 4) + t, R=np.tile(np.eye(4), (n, 1, 1)),
                     has_vel=np.zeros(n, bool), alt_m=np.full(n, np.nan), sigma_alt_m=np.full(n, np.nan),
                     mmsi=np.zeros(n, np.int64), icao24=np.full(n, -1, np.int64), sensor_kind=kind, sensor_id=site,
                     domain="surface", look_en_m=look)


def test_group_radar_scans_fuses_scans_of_disjoint_coverage_in_order(live: types.ModuleType) -> None:
    scans = [_scan(1.00, "a", (0.0, 0.0, 20_000.0)), _scan(1.01, "b", (44_000.0, 0.0, 20_000.0), n=3),
             _scan(1.02, "c", (0.0, 44_000.0, 20_000.0))]
    (one,) = live.group_radar_scans(scans)
    assert one.sensor_kind == "radar" and one.look_en_m is None and one.sensor_id == "a+b+c"
    assert one.source.tolist() == ["a", "a", "b", "b", "b", "c", "c"]
    np.testing.assert_array_equal(one.t, np.concatenate([s.t for s in scans]))
    np.testing.assert_array_equal(one.z, np.concatenate([s.z for s in scans]))
    np.testing.assert_array_equal(one.R, np.concatenate([s.R for s in scans]))


@pytest.mark.parametrize("centres", [
    [(0.0, 0.0), (39_000.0, 0.0)],  # circles of 20 km, 39 km apart: they overlap
    [(0.0, 0.0), (0.0, 0.0)],  # the same site twice (its next scan)
])
def test_group_radar_scans_never_groups_overlapping_coverage(live: types.ModuleType, centres: list[tuple[float, float]]) -> None:
    scans = [_scan(1.0 + 0.01 * i, f"s{i}", (e, n, 20_000.0)) for i, (e, n) in enumerate(centres)]
    out = live.group_radar_scans(scans)
    assert [b.sensor_id for b in out] == ["s0", "s1"]


def test_group_radar_scans_starts_a_new_group_at_an_overlap_and_keeps_other_batches_in_place(live: types.ModuleType) -> None:
    a = _scan(1.00, "a", (0.0, 0.0, 20_000.0))
    b = _scan(1.01, "b", (30_000.0, 0.0, 20_000.0))  # overlaps a
    c = _scan(1.02, "c", (90_000.0, 0.0, 20_000.0))  # apart from b
    ais = _scan(1.03, "agg", None, kind="ais")
    d = _scan(1.04, "d", (200_000.0, 0.0, 20_000.0))
    no_look = _scan(1.05, "e", None)
    f = _scan(1.06, "f", (300_000.0, 0.0, 20_000.0))
    out = live.group_radar_scans([a, b, c, ais, d, no_look, f])
    assert [x.sensor_id for x in out] == ["a", "b+c", "agg", "d", "e", "f"]
    assert out[2] is ais and out[4] is no_look


def test_the_worker_with_grouped_scans_takes_fewer_steps_for_the_same_plots(live: types.ModuleType) -> None:
    # 2 sites 44 km apart at 40 Hz (a scan every 12.5 ms), stepped every 50 ms: each release holds ~4 scans,
    # alternating sites; a site's next scan overlaps itself, so groups are pairs at most
    spec = live.LoadSpec(sites=2, plots=500, scan_rate=40.0, ais_rate=0, go_fasts=1, seconds=1.0)
    plain = live.worker(spec, 2.0, 5.0, profile=False)
    grouped = live.worker(spec, 2.0, 5.0, profile=False, group_scans=True)
    radar_scans = 2 * 40
    assert plain["tracker_batches"] == radar_scans
    assert radar_scans / 2 <= grouped["tracker_batches"] < radar_scans
    assert grouped["tracks"] == plain["tracks"]  # two discs 44 km apart: the same tracks at the end


def test_first_alert_by_object_takes_each_go_fasts_first_raise_only(live: types.ModuleType) -> None:
    import json

    spec = live.LoadSpec(sites=2, plots=1_000, go_fasts=2, seconds=40.0, stagger_s=0.25)
    t0 = 1.7e9
    targets = live.site_targets(spec.sites, spec.plots, spec.go_fasts, np.random.default_rng(live.FEED_SEED), t0, spec.stagger_s)
    lat, lon = live.go_fast_positions(targets, spec.go_fasts, t0 + 30.0, t0)

    def line(received: float, k: int, state: str = "raised", north: float = 0.0) -> bytes:
        alert = {"state": state, "lat": float(lat[k]) + north, "lon": float(lon[k]), "evidence": {"last_update_t": t0 + 30.0}}
        return b"%.3f %s" % (t0 + 30.0 + received, json.dumps(alert).encode())

    lines = b"\n".join([line(0.5, 0), line(0.2, 0), line(0.1, 0, "updated"), line(0.3, 3), line(0.1, 1, north=1.0)])
    out = live.first_alert_by_object(lines, spec, t0)
    assert out["objects"] == 4 and out["alerted"] == 2  # object 0 (its earlier raise), object 3; not the update, not the far one
    assert out["max_ms"] == pytest.approx(300.0, abs=1.0) and out["p50_ms"] == pytest.approx(250.0, abs=1.0)
    assert out["first_raised_after_start_s"] == [30.0, 30.0]
