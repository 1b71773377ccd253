"""Cost of naming output rows: ``track_rows`` with and without the identity join (fusion/identity.py).

10,000 surface tracks, half with an MMSI and AIS static data. "first tick" builds every
answer; "next ticks" reuses them (nothing changed), the steady state of the live service.
Prints JSON; best of ``--repeat`` runs, milliseconds.

    python bench/identity_rows.py [--tracks 10000] [--repeat 9]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np

from fusion.core.arrays import (
    CONFIRMED,
    NO_ICAO,
    NO_MMSI,
    SENSOR_BIT,
    TrackView,
    fixed_covariance,
)
from fusion.core.frame import LocalFrame
from fusion.identity import IdentityLookup
from fusion.publish import track_rows
from sensors.reports import AisStatic


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(min(times) * 1e3, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tracks", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    n = args.tracks
    frame = LocalFrame(8.0, 18.0, -85.0, -75.0)
    rng = np.random.default_rng(1)
    e, north = frame.to_local(rng.uniform(9, 17, n), rng.uniform(-84, -76, n))
    mmsi = 366_000_000 + np.arange(n, dtype=np.int64)
    mmsi[1::2] = NO_MMSI
    view = TrackView(
        t=0.0, domain="surface", track_id=np.arange(n), status=np.full(n, CONFIRMED, np.int8),
        x=np.stack([e, north, np.ones(n), np.ones(n)], axis=1), covariance=fixed_covariance(np.tile(np.eye(4) * 100.0, (n, 1, 1))),
        alt_m=np.full(n, np.nan), vrate_mps=np.full(n, np.nan), mmsi=mmsi, icao24=np.full(n, NO_ICAO), first_t=np.zeros(n),
        last_t=np.zeros(n), last_ais_t=np.zeros(n), last_noncoop_t=np.zeros(n), sources=np.full(n, SENSOR_BIT["ais"]),
        spoof_suspect=np.zeros(n, bool))
    statics = {int(m): AisStatic(t=0.0, source="r", mmsi=int(m), name=f"VESSEL {m}", callsign="ABC1234", ship_type=70)
               for m in mmsi if m != NO_MMSI}
    warm = IdentityLookup(statics, {})
    track_rows(view, frame, warm)
    print(json.dumps({
        "tracks": n, "with_static_data": len(statics),
        "no_identity_ms": best_ms(lambda: track_rows(view, frame), args.repeat),
        "identity_first_tick_ms": best_ms(lambda: track_rows(view, frame, IdentityLookup(statics, {})), args.repeat),
        "identity_next_ticks_ms": best_ms(lambda: track_rows(view, frame, warm), args.repeat),
    }))


if __name__ == "__main__":
    main()
