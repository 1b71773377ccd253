"""SIGTERM to exit of ``jisf run`` under a backlog, over N runs; prints JSON (issue 18 item 3).

    python bench/shutdown.py [--runs 5] [--scans 300] [--plots 5000] [--budget-s 0.25] [--flush-s 1.0] [--huge-step]

Each run starts a Mosquitto (loopback, free port) and ``python -m fusion.runner`` (the
minimal scenario's area, simulator clock, a checkpoint path, JSON logs), with one radar
site allowed far beyond its physical rate so that its backlog is queued, not shed;
publishes ``--scans`` scans of ``--plots`` plots (the same seeded plots every scan: updates
of the same tracks, not ever more of them), and sends SIGTERM once every scan has been
received and at least 20 are still queued (the retained status tells).

``--huge-step``: the worst case, one step releasing the whole backlog to the tracker when the
signal comes. The service takes up to 200 MB per step (``fuse_bytes``), the scans are timed
5 s ahead of their publication and 10 us apart, so that all of them are accepted and wait in
the re-order buffer until one step releases them together, 2 s (the re-order window) after
the first scan's time; SIGTERM once every scan is received and >= 20 wait in the re-order
buffer, and no earlier than 0.3 s into that release.

Reported per run: the wall seconds from the SIGTERM to the process's exit, the phases of the
service's own shutdown record (seconds after the signal: intake ended, running step returned,
queue drained, checkpoint written, final status queued, link flushed and its process gone),
the seconds to the "stopped" log line (the event loop closed) and the counts of the final
status (queued at the stop, fused after it, dropped; the releases cut at the stop and the
batches the checkpoint holds unfused, where the build reports them); then the median and max
of the exit time and of each phase, with the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fusion.broker import Mosquitto
from fusion.clock import SIM_CLOCK_TOPIC, WarpedClock
from fusion.mqtt import BrokerAddress, publisher, subscribe
from fusion.publish import STATUS_TOPIC, OutMessage, encode
from sensors.reports import RadarPlot, RadarScan

ROOT = Path(__file__).resolve().parent.parent
SITE = (10.2, -78.0)  # inside the minimal scenario's area
TOPIC = "jisf/v1/feeds/radar/backlog"


HUGE_FUSE_BYTES, HUGE_LEAD_S, HUGE_SPACING_S, HUGE_INTO_RELEASE_S = 200_000_000, 5.0, 1e-5, 0.3  # --huge-step (module doc)
REORDER_WINDOW_S = 2.0  # the service's default re-order window: a batch is released this long after its time


def backlog_scans(n: int, plots: int, t0: float, site: str = "backlog", seed: int = 5, spacing_s: float = 0.01) -> list[bytes]:
    """``n`` radar scans of ``site`` ``spacing_s`` apart from ``t0``, each the same ``plots`` seeded plots within 20 km of SITE."""
    rng = np.random.default_rng(seed)
    r, az = rng.uniform(500.0, 20_000.0, plots), rng.uniform(0.0, 360.0, plots)
    plot_list = [RadarPlot(range_m=float(x), az_deg=float(y), snr_db=10.0) for x, y in zip(r, az, strict=True)]
    return [encode(RadarScan(site=site, t=t0 + spacing_s * i, sensor_lat=SITE[0], sensor_lon=SITE[1], sensor_alt_m=30.0,
                             sigma_range_m=30.0, sigma_az_deg=0.2, max_range_m=20_000.0, plots=plot_list)) for i in range(n)]


def service_args(addr: BrokerAddress, ckpt: Path, budget_s: float, flush_s: float, fuse_bytes: int | None = None) -> list[str]:
    """``jisf run`` with a checkpoint, JSON logs and the backlog site's budget raised (and ``fuse_bytes``, if given)."""
    return [sys.executable, "-m", "fusion.runner", "--broker", addr.url(), "--clock", "sim", "--client-id", "bench-shutdown",
            "--status-interval-s", "0.5", "--scenario", "minimal", "--budget-radar-msg-s", "10000", "--budget-radar-meas-s", "1e9",
            "--checkpoint-path", str(ckpt), "--log-format", "json", "--shutdown-budget-s", str(budget_s),
            "--shutdown-flush-s", str(flush_s), *(["--fuse-bytes", str(fuse_bytes)] if fuse_bytes is not None else [])]


async def wait_for(statuses: list[dict[str, object]], pred, timeout: float, what: str) -> dict[str, object]:  # noqa: ANN001
    """The first status matching ``pred``; TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for s in statuses:
            if pred(s):
                return s
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no status with {what} within {timeout} s")


def log_records(log: Path) -> list[dict[str, object]]:
    """The JSON log lines of the service (other lines, e.g. a traceback, skipped)."""
    out = []
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            rec = json.loads(line)
            if isinstance(rec, dict):
                out.append(rec)
    return out


async def one_run(n_scans: int, plots: int, tmp: Path, budget_s: float, flush_s: float, huge_step: bool = False) -> dict[str, object]:
    """One service under a backlog (``huge_step``: all of it released in one step), SIGTERM, and what it took."""
    log = tmp / "service.log"
    statuses: list[dict[str, object]] = []
    with Mosquitto() as broker:
        addr = broker.address
        subscribed = asyncio.Event()

        async def watch() -> None:
            async for _, payload, _ in subscribe(addr, [STATUS_TOPIC], qos=1, on_subscribed=subscribed.set):
                if payload:
                    statuses.append(msgspec.json.decode(payload))

        watcher = asyncio.create_task(watch())
        with log.open("wb") as out:
            proc = subprocess.Popen(service_args(addr, tmp / "ckpt", budget_s, flush_s, HUGE_FUSE_BYTES if huge_step else None),
                                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            await asyncio.wait_for(subscribed.wait(), 10)
            async with publisher(addr) as publish:
                await publish(OutMessage(SIM_CLOCK_TOPIC, WarpedClock.starting_now(time.time(), 1.0).encode(), qos=1, retain=True))
                await wait_for(statuses, lambda s: s.get("state") == "online", 120, "state online")
                first_t = time.time() + (HUGE_LEAD_S if huge_step else 0.0)
                for payload in backlog_scans(n_scans, plots, first_t, spacing_s=HUGE_SPACING_S if huge_step else 0.01):
                    await publish(OutMessage(TOPIC, payload, qos=1))
            waiting = "reorder_batches" if huge_step else "inbound_depth"  # accepted and not released / not yet accepted

            def backlogged(s: dict[str, object]) -> bool:
                received = s.get("received")
                return isinstance(received, dict) and received.get("radar", 0) >= n_scans and int(s.get(waiting, 0)) >= 20  # type: ignore[call-overload]

            await wait_for(statuses, backlogged, 120, f"every scan received, >= 20 in {waiting}")
            if huge_step:  # into the step that releases them all (sim clock = wall)
                await asyncio.sleep(max(0.0, first_t + REORDER_WINDOW_S + HUGE_INTO_RELEASE_S - time.time()))
            signalled_wall, signalled = time.time(), time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 60)
            exit_s = time.monotonic() - signalled
            final = await wait_for(statuses, lambda s: s.get("state") == "offline", 10, "state offline")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    records = log_records(log)
    done = next(r for r in records if isinstance(r.get("shutdown"), dict))
    stopped = next(r for r in records if r.get("msg") == "stopped")
    shutdown = done["shutdown"]
    assert isinstance(shutdown, dict)
    return {"exit_code": code, "exit_s": round(exit_s, 3), "phases_s": shutdown["phases_s"],
            "loop_closed_s": round(float(stopped["ts"]) - signalled_wall, 3),  # type: ignore[arg-type]
            "reason": shutdown["reason"], "queued_at_stop": shutdown["queued_at_stop"], "fused_after_stop": shutdown["fused"],
            "dropped": shutdown["dropped"], "final_status_has_shutdown": "shutdown" in final,
            "stopped_steps": final.get("stopped_steps"), "reorder_batches_at_exit": final.get("reorder_batches")}


def summary(runs: list[dict[str, object]]) -> dict[str, object]:
    """Median and max of the exit time and of each phase over the runs."""
    def stats(values: list[float]) -> dict[str, float]:
        return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}

    phases = sorted({p for r in runs for p in r["phases_s"]})  # type: ignore[attr-defined]
    return {"exit_s": stats([float(r["exit_s"]) for r in runs]),  # type: ignore[arg-type]
            "loop_closed_s": stats([float(r["loop_closed_s"]) for r in runs]),  # type: ignore[arg-type]
            "phases_s": {p: stats([float(r["phases_s"][p]) for r in runs if p in r["phases_s"]]) for p in phases}}  # type: ignore[index]


def main(argv: list[str] | None = None) -> None:
    """Parse options, run, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scans", type=int, default=300)
    ap.add_argument("--plots", type=int, default=5_000)
    ap.add_argument("--budget-s", type=float, default=0.25, help="the service's shutdown_budget_s")
    ap.add_argument("--flush-s", type=float, default=1.0, help="the service's shutdown_flush_s")
    ap.add_argument("--huge-step", action="store_true", help="the signal during one step releasing the whole backlog (module doc)")
    args = ap.parse_args(argv)
    load_before = os.getloadavg()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="jisf-bench-shutdown-") as tmp:
            runs.append(asyncio.run(one_run(args.scans, args.plots, Path(tmp), args.budget_s, args.flush_s, args.huge_step)))
    print(json.dumps({"scans": args.scans, "plots": args.plots, "huge_step": args.huge_step, "budget_s": args.budget_s, "flush_s": args.flush_s,
                      "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
                      "summary": summary(runs), "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
