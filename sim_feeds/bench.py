"""Generation benchmark: ``python -m sim_feeds.bench [SCENARIO]`` prints one JSON object.

Loads the scenario, drains ``iter_feed`` and ``iter_truth`` and reports times (wall, and the
feed's CPU seconds: the figure to compare on a shared machine), counts, message rate, a
digest of the feed (SHA-256 over every message's time, topic and payload: equal digests,
identical feeds) and the peak resident memory of the process (which includes the GSHHG
shoreline of the scenario's area, see fusion/coastline.py).
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time

from sim_feeds.play import iter_feed, iter_truth
from sim_feeds.scenario import load_scenario, resolve_scenario


def main(argv: list[str]) -> dict[str, object]:
    """Run the benchmark on ``argv[0]``, a file or a shipped name (default: the default scenario); returns the figures."""
    path = resolve_scenario(argv[0] if argv else None)
    t = time.perf_counter()
    scenario = load_scenario(path)
    load_s = time.perf_counter() - t
    t, cpu = time.perf_counter(), time.process_time()
    messages = payload = 0
    digest = hashlib.sha256()
    for m in iter_feed(scenario):
        messages += 1
        payload += len(m.payload)
        digest.update(repr((m.t, m.topic)).encode() + m.payload)
    feed_s, feed_cpu_s = time.perf_counter() - t, time.process_time() - cpu
    t = time.perf_counter()
    rows = sum(len(tick) for tick in iter_truth(scenario))
    truth_s = time.perf_counter() - t
    return {"scenario": scenario.name, "objects": len(scenario.objects), "sensors": len(scenario.sensors),
            "duration_s": scenario.duration_s, "load_s": round(load_s, 2), "messages": messages,
            "payload_mb": round(payload / 1e6, 2), "feed_s": round(feed_s, 2), "feed_cpu_s": round(feed_cpu_s, 2),
            "feed_sha256": digest.hexdigest(),
            "messages_per_s": round(messages / feed_s, 1), "scenario_s_per_wall_s": round(scenario.duration_s / feed_s, 1),
            "truth_rows": rows, "truth_s": round(truth_s, 2),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
