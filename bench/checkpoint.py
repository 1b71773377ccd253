"""Checkpoint and restart cost at the large_caribbean load; prints JSON.

    python bench/checkpoint.py [--scenario sim_feeds/scenarios/large_caribbean.toml] [--fuse-s 900] [--repeat 5] [--broker-start]

Fuses the scenario offline for ``--fuse-s`` seconds of scenario time (the state a running
service holds: ~2,300 tracks, rule books, ingest buffers), then measures, median of
``--repeat``: writing a checkpoint (``save_checkpoint``, fsynced), its size, and restoring
it into a freshly built ``Fusion`` of the same area (``load_checkpoint`` plus replaying an
alert journal of ``--journal-events`` alert events: ``AlertJournal.replay``), i.e. the
service's ``restore_s``. Building the ``Fusion`` itself (zones, rules, shore distance) is
reported apart. With ``--broker-start`` it also launches ``jisf run`` (``python -m
fusion.runner``) on that checkpoint against a Mosquitto and reports the wall seconds from
launch to the "restored" log line and to the broker connection (imports and build included).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fusion.checkpoint import load_checkpoint, save_checkpoint
from fusion.continuity import AlertJournal, journal_path
from fusion.offline import fusion_for_area
from fusion.pipeline import Fusion
from fusion.rules.engine import AlertEvent
from sim_feeds.play import iter_feed
from sim_feeds.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def build(scenario_path: Path) -> Fusion:
    sc = load_scenario(scenario_path)
    return fusion_for_area(sc.area, sc.zones_geojson(), sc.name)


def write_journal(path: Path, fusion: Fusion, events: int) -> None:
    """A journal of ``events`` synthetic "updated" events of one open alert (the worst case: all replayed)."""
    journal = AlertJournal(path)
    journal.start(fusion)
    open_alerts = list(fusion.rules.last.values())
    for k in range(events):
        if not open_alerts:
            break
        a: AlertEvent = open_alerts[k % len(open_alerts)]
        journal.record(fusion, [a])
    journal.close()


def launch_to_restored(scenario: Path, ckpt: Path, tmp: Path) -> dict[str, float]:
    """Wall seconds from launching ``jisf run`` on ``ckpt`` to its "restored" log line and to its broker connection."""
    from fusion.broker import Mosquitto

    with Mosquitto() as broker:
        log = tmp / "run.log"
        started = time.time()
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "fusion.runner", "--broker", broker.address.url(), "--scenario", str(scenario),
                                     "--checkpoint-path", str(ckpt), "--checkpoint-interval-s", "3600", "--log-format", "json"],
                                    cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out, stderr=subprocess.STDOUT)
        marks: dict[str, float] = {}
        try:
            deadline = time.time() + 300
            while len(marks) < 2 and time.time() < deadline and proc.poll() is None:
                for line in log.read_text().splitlines():
                    rec = json.loads(line) if line.startswith("{") else {}
                    when = float(rec.get("ts", 0) or 0) or time.time()
                    msg = str(rec.get("msg", rec.get("message", "")))
                    if msg.startswith("restored") and "restored_s" not in marks:
                        marks["restored_s"] = round(when - started, 3)
                    if msg.startswith("connected") and "connected_s" not in marks:
                        marks["connected_s"] = round(when - started, 3)
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(60)
    return marks


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", type=Path, default=ROOT / "sim_feeds/scenarios/large_caribbean.toml")
    p.add_argument("--fuse-s", type=float, default=900.0)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--journal-events", type=int, default=1000)
    p.add_argument("--broker-start", action="store_true")
    a = p.parse_args()
    sc = load_scenario(a.scenario)
    fusion = build(a.scenario)
    t = time.perf_counter()
    for m in itertools.takewhile(lambda m: m.t < sc.t0 + a.fuse_s, iter_feed(sc)):
        for _ in fusion.advance(m.t):
            pass
        fusion.accept(m.topic, m.payload, m.t)
    fuse_s = time.perf_counter() - t
    tracks = {d: len(trk.view(sc.t0 + a.fuse_s)) for d, trk in fusion.trackers.items()}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        ckpt = tmp / "fusion.ckpt"
        save_s, restore_s, build_s = [], [], []
        size = 0
        for _ in range(a.repeat):
            t = time.perf_counter()
            size = save_checkpoint(ckpt, fusion, {"published_tracks": []})
            save_s.append(time.perf_counter() - t)
        write_journal(journal_path(ckpt), fusion, a.journal_events)
        for _ in range(a.repeat):
            t = time.perf_counter()
            fresh = build(a.scenario)
            build_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            load_checkpoint(ckpt, fresh)
            AlertJournal(journal_path(ckpt)).replay(fresh, None)
            restore_s.append(time.perf_counter() - t)
        out = {"scenario": sc.name, "fused_scenario_s": a.fuse_s, "fuse_wall_s": round(fuse_s, 2), "tracks": tracks,
               "open_alerts": len(fusion.rules.last), "journal_events": a.journal_events, "checkpoint_mb": round(size / 1e6, 2),
               "save_s_median": round(statistics.median(save_s), 3), "restore_s_median": round(statistics.median(restore_s), 3),
               "restore_s_max": round(max(restore_s), 3), "build_fusion_s_median": round(statistics.median(build_s), 3)}
        if a.broker_start:
            out["launch"] = launch_to_restored(a.scenario, ckpt, tmp)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
