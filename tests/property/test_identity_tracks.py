"""One MMSI / ICAO address, one track (issue 18 item 2): whatever cooperative reports arrive
(repeated keys in a batch, impossible jumps, several receivers, silences long enough to
delete), a pool never holds two live tracks with the same identity key, nor an anonymous
track born from a report whose identity another track held."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.core.arrays import NO_ICAO, NO_MMSI, MeasBatch
from fusion.core.tracker import Tracker, TrackerConfig

KEYS = 6  # few keys, so that they repeat within and across batches


def _coop_batch(kind: str, t: np.ndarray, xy: np.ndarray, key: np.ndarray, source: list[str]) -> MeasBatch:
    """An AIS (surface) or ADS-B (air) batch: rows at times ``t`` (M,), positions ``xy`` (M, 2) m, keys (M,)."""
    m = t.size
    z = np.full((m, 4), np.nan)
    z[:, :2] = xy
    R = np.zeros((m, 4, 4))
    R[:, 0, 0] = R[:, 1, 1] = 30.0**2
    air = kind == "adsb"
    return MeasBatch(t=t, z=z, R=R, has_vel=np.zeros(m, bool), alt_m=np.full(m, 3_000.0 if air else np.nan),
                     sigma_alt_m=np.full(m, 15.0 if air else np.nan),
                     mmsi=np.full(m, NO_MMSI, np.int64) if air else 366_000_000 + key,
                     icao24=0x100000 + key if air else np.full(m, NO_ICAO, np.int64),
                     sensor_kind=kind, sensor_id=source[0], domain="air" if air else "surface", source=np.array(source))


batch_strategy = st.tuples(
    st.floats(0.1, 400.0),  # seconds since the previous batch (long ones delete tracks)
    st.lists(st.tuples(st.integers(0, KEYS - 1), st.floats(-60_000.0, 60_000.0), st.floats(-60_000.0, 60_000.0),
                       st.floats(0.0, 0.5), st.sampled_from(["rx-a", "rx-b"])), min_size=1, max_size=12),
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["ais", "adsb"]), st.lists(batch_strategy, min_size=1, max_size=12))
def test_a_pool_holds_at_most_one_live_track_per_identity_key(kind: str, batches: list) -> None:
    trk = Tracker(TrackerConfig(), "air" if kind == "adsb" else "surface")
    keyname = "icao24" if kind == "adsb" else "mmsi"
    none_key = NO_ICAO if kind == "adsb" else NO_MMSI
    t = 0.0
    for gap, rows in batches:
        t += gap
        key = np.array([r[0] for r in rows], dtype=np.int64)
        xy = np.array([[r[1], r[2]] for r in rows])
        times = t + np.array([r[3] for r in rows])
        trk.step(_coop_batch(kind, times, xy, key, [r[4] for r in rows]))
        keys = getattr(trk.view(float(times.max())), keyname)
        held = keys[keys != none_key]
        assert np.unique(held).size == held.size, f"two live tracks share an identity: {sorted(held.tolist())}"
        # a cooperative-only pool: every track was born from, and holds, an identity (a report
        # impossible for its identity's track is refused, not born as an anonymous second track)
        assert held.size == keys.size
