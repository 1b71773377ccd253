"""Cost of ingest per message kind at the live bench's load (bench/live.py): decode, validate,
duplicate filter, radar conversion and the AIS release, for ``--radar`` scans and ``--ais``
messages of its first second; prints JSON.

    python bench/ingest_cost.py [--radar 20] [--ais 400]

Thread CPU per message is what a loaded shared machine still inflates (caches, frequency);
instruction counts are not. Under callgrind only the two measured calls are counted (the radar
scans go through ``functools.reduce``, the AIS messages and their release through ``sum``):

    valgrind --tool=callgrind --toggle-collect=functools_reduce --toggle-collect=builtin_sum \\
        --callgrind-out-file=ingest.cg python bench/ingest_cost.py
    callgrind_annotate --inclusive=yes ingest.cg | grep -E 'functools_reduce|builtin_sum \\['

``functools_reduce`` is the radar scans' instructions, ``builtin_sum`` the AIS messages'
(docs/BENCHMARKS.md, "Live service": the figures before and after issue 18's changes).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from live import Load, LoadSpec, _make_service  # noqa: E402

from fusion.mqtt import BrokerAddress  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Accept the messages, print thread CPU per message of each kind."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--radar", type=int, default=20, help="radar scans (1,000 plots each; 100 in the first second)")
    p.add_argument("--ais", type=int, default=400, help="AIS messages (2 positions each; 2,000 in the first second)")
    args = p.parse_args(argv)
    t0 = 1.8e9
    events = Load(LoadSpec(), t0, seed=11).events(t0 + 1.0)
    radar = [e for e in events if "/radar/" in e[1]]
    ais = [e for e in events if "/ais/" in e[1]]
    if not (0 < args.radar < len(radar) and 0 < args.ais < len(ais)):
        p.error(f"--radar must be 1..{len(radar) - 1} and --ais 1..{len(ais) - 1}")
    fusion = _make_service(BrokerAddress("127.0.0.1", 1883), 2.0, 5.0).fusion
    for t, topic, payload in (radar[-1], ais[-1]):  # first calls apart: lazy imports, caches
        fusion.accept(topic, payload, t + 0.01)
    fusion.ingest.due(t0 + 100.0)

    def accept_radar(n: int, event: tuple[float, str, bytes]) -> int:
        return n + fusion.accept(event[1], event[2], event[0] + 0.01)

    released: list[int] = []

    def accept_ais(event: tuple[float, str, bytes] | None) -> int:  # None: release what was accepted
        if event is None:
            released.extend(len(b) for b in fusion.ingest.due(t0 + 100.0))
            return 0
        return fusion.accept(event[1], event[2], event[0] + 0.01)

    started = time.thread_time()
    plots = functools.reduce(accept_radar, radar[: args.radar], 0)
    radar_s = time.thread_time() - started
    started = time.thread_time()
    reports = sum(map(accept_ais, [*ais[: args.ais], None]))  # the release includes the radar batches (converted at accept)
    ais_s = time.thread_time() - started
    print(json.dumps({"radar_scans": args.radar, "plots": plots, "radar_us_per_scan": round(radar_s / args.radar * 1e6, 1),
                      "ais_messages": args.ais, "ais_reports": reports, "batches_released": len(released),
                      "ais_us_per_message": round(ais_s / args.ais * 1e6, 2)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
