"""Where the fusion worker's CPU second goes, per tracker stage, at the documented live load
(issue 18 item 8). Prints one JSON object.

    python bench/tracker_stages.py                     # 10 sites x 1,000 plots at 10 Hz + 2,000 AIS msg/s, 10 s
    python bench/tracker_stages.py --seconds 20 --rounds 2

The worker is driven as ``bench/live.py worker`` drives it (``Service._step`` alone, no
broker, the same seeded load, a simulated clock stepping every 50 ms, 2 s re-order window,
5 s output interval) under cProfile with a CPU-time clock (``time.process_time``: the
machine is shared and noisy; CPU time does not count the time other processes hold the
cores). Reported per stage: CPU seconds, share of the worker, and microseconds per radar
plot of the load. The tracker's stages are the functions ``Tracker._process_round`` calls
(fusion/core/: identity, gate, associate, update, manage), each with everything it calls;
``predict_pairs`` is counted where it is called from (the identity step or the gate).
Profiling adds a per-call cost, so the split is a guide to where the time goes; the
worker's own CPU seconds per second of load without the profiler are reported too.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from live import Load, LoadSpec, _make_service  # noqa: E402

# stage -> [(module path suffix, function, caller function or None for every caller)]
STAGES: dict[str, list[tuple[str, str, str | None]]] = {
    "ingest (Service intake + Ingest)": [("fusion/ingest.py", "accept", None), ("fusion/ingest.py", "due", None)],
    "tracker: identity (pairs, feasibility, prediction)": [
        ("fusion/core/associate.py", "identity_pairs", None), ("fusion/core/gate.py", "feasible", None),
        ("fusion/core/predict.py", "predict_pairs", "_process_round")],
    "tracker: gate (reach, prediction, grid, chi-square)": [("fusion/core/gate.py", "gate_pairs", None)],
    "tracker: associate (GNN)": [("fusion/core/associate.py", "associate", None)],
    "tracker: update (IMM, altitude, counters)": [("fusion/core/update.py", "update", None)],
    "tracker: manage misses": [("fusion/core/manage.py", "count_misses", None)],
    "tracker: manage merges": [("fusion/core/manage.py", "merge", None)],
    "tracker: manage births": [("fusion/core/manage.py", "birth", None)],
    "tracker: manage expiry in steps": [("fusion/core/manage.py", "expire", "_process_round")],
    "tracker: expiry at ticks (advance)": [("fusion/core/tracker.py", "advance", None)],
    "tracker: rounds and duplicates": [("fusion/core/associate.py", "identity_rounds", None),
                                        ("fusion/core/associate.py", "unique_rows", None)],
    "tracker: checkpoints (out of sequence)": [("fusion/core/oosm.py", "maybe_checkpoint", None)],
    "tracker: re-runs (out of sequence)": [("fusion/core/tracker.py", "_rerun", None)],
    "track views (Fusion.views)": [("fusion/pipeline.py", "views", None)],
    "rules (RuleEngine.evaluate)": [("fusion/rules/engine.py", "evaluate", None)],
    "output messages (Service._tick_messages)": [("fusion/service.py", "_tick_messages", None)],
}
_TRACKER_STEP = ("fusion/core/tracker.py", "step")


def _stage_seconds(st: dict, path: str, func: str, caller: str | None) -> float:  # type: ignore[type-arg]
    """Cumulative seconds of ``func`` in ``path`` (only the calls from ``caller`` when given)."""
    total = 0.0
    for (f, _, fn), (_, _, _, ct, callers) in st.items():
        if f.endswith(path) and fn == func:
            total += ct if caller is None else sum(v[3] for (_, _, cfn), v in callers.items() if cfn == caller)
    return total


def run(spec: LoadSpec, profile: bool) -> dict[str, object]:
    """One worker run over ``spec``; with ``profile`` the split by stage."""
    reorder_s, output_s = 2.0, 5.0
    from fusion.mqtt import BrokerAddress
    from fusion.service import Due

    t0 = 1.8e9
    load = Load(spec, t0, seed=11)
    events = load.events(t0 + spec.seconds)
    service = _make_service(BrokerAddress("127.0.0.1", 1883), reorder_s, output_s)
    gc.collect()
    gc.freeze()
    prof = cProfile.Profile(time.process_time) if profile else None
    i, now, cpu = 0, t0, 0.0
    while now < t0 + spec.seconds + reorder_s + output_s:
        now += 0.05
        took = []
        while i < len(events) and events[i][0] + 0.01 <= now:
            took.append((events[i][1], events[i][2], events[i][0] + 0.01))
            i += 1
        c0 = time.process_time()
        if prof is not None:
            prof.enable()
        service._step(took, now, Due())
        if prof is not None:
            prof.disable()
        cpu += time.process_time() - c0
    plots = load.n_scan * spec.plots
    out: dict[str, object] = {"plots": plots, "ais_messages": load.n_ais, "worker_cpu_s": round(cpu, 2),
                              "worker_cpu_s_per_load_s": round(cpu / spec.seconds, 3),
                              "headroom_at_load": round(spec.seconds / cpu, 2), "tracker_batches": service.fusion.counters.batches}
    if prof is not None:
        st = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        total = sum(v[2] for v in st.values())
        split = {name: sum(_stage_seconds(st, *part) for part in parts) for name, parts in STAGES.items()}
        step = _stage_seconds(st, *_TRACKER_STEP, None)
        split["tracker: rest of Tracker.step"] = step - sum(v for k, v in split.items() if k.startswith("tracker:")
                                                            and "advance" not in k)
        split["rest of the worker"] = total - sum(split.values())
        out["profiled_cpu_s"] = round(total, 2)
        out["stages"] = {k: {"cpu_s": round(v, 3), "share": round(v / total, 3), "us_per_plot": round(1e6 * v / plots, 3)}
                         for k, v in split.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--plots-per-scan", type=int, default=1_000)
    ap.add_argument("--scan-rate", type=float, default=10.0)
    ap.add_argument("--ais-rate", type=int, default=2_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=1, help="unprofiled runs for the worker's CPU per second of load")
    ap.add_argument("--no-profile", action="store_true", help="only the unprofiled runs")
    a = ap.parse_args()
    spec = LoadSpec(a.sites, a.plots_per_scan, a.scan_rate, a.ais_rate, 10, a.seconds)
    plain = [run(spec, profile=False)["worker_cpu_s_per_load_s"] for _ in range(a.rounds)]
    out = {"offered": spec.offered, "load_seconds": a.seconds, "worker_cpu_s_per_load_s_unprofiled": plain}
    if not a.no_profile:
        out["profiled"] = run(spec, profile=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
