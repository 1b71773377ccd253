"""Hand-made track tables and batches for the tracker stages' own tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from fusion.core.arrays import CONFIRMED, NO_ICAO, NO_MMSI, SENSOR_BIT, MeasBatch
from fusion.core.config import TrackerConfig
from fusion.core.model import PoolModel
from fusion.core.table import TrackTable
from fusion.trackscans import scan_batch

TableFactory = Callable[..., TrackTable]
BatchFactory = Callable[..., MeasBatch]


@pytest.fixture
def make_table() -> TableFactory:
    """``make_table(x (n, 4), P (n, 4, 4), config=..., status=CONFIRMED, t=0.0, mu=None, **columns)``: a
    table of n tracks, every IMM model holding x, P, last updated at t by radar (three hits in
    three looks); ``columns`` replace any other state column."""

    def make(x: np.ndarray, P: np.ndarray, config: TrackerConfig | None = None, status: int | np.ndarray = CONFIRMED,
             t: float | np.ndarray = 0.0, mu: np.ndarray | None = None, domain: str = "surface",
             **columns: np.ndarray) -> TrackTable:
        mod = PoolModel.build(config or TrackerConfig(), domain)  # type: ignore[arg-type]
        n, r = x.shape[0], mod.n_models
        tt = np.broadcast_to(np.asarray(t, dtype=np.float64), (n,)).copy()
        tab = TrackTable(mod)
        tab.append({
            "id": np.arange(1, n + 1, dtype=np.int64), "status": np.broadcast_to(np.asarray(status, np.int8), (n,)).copy(),
            "t": tt, "xm": np.repeat(x[:, None], r, axis=1), "Pm": np.repeat(P[:, None], r, axis=1),
            "mu": np.tile(np.asarray(mod.pool.mu0), (n, 1)) if mu is None else mu,
            "alt": np.full((n, 2), np.nan), "Palt": np.zeros((n, 2, 2)),
            "hist": np.full(n, 0b111, np.int64), "looks": np.full(n, 3, np.int64), "miss_run": np.zeros(n, np.int64),
            "first_t": tt.copy(), "last_t": tt.copy(), "last_ais_t": np.full(n, np.nan), "last_noncoop_t": tt.copy(),
            "sources": np.full(n, SENSOR_BIT["radar"], np.int64), "mmsi": np.full(n, NO_MMSI, np.int64),
            "icao24": np.full(n, NO_ICAO, np.int64), "spoof": np.zeros(n, bool), "ivl": np.full(n, np.nan), "llr": np.zeros(n),
        } | {k: np.asarray(v) for k, v in columns.items()})
        return tab

    return make


@pytest.fixture
def make_batch() -> BatchFactory:
    """``make_batch(t, xy (m, 2), sigma_m=10.0, kind="radar", vel=None (m, 2), mmsi=None, look=None)``."""

    def make(t: float | np.ndarray, xy: np.ndarray, sigma_m: float = 10.0, kind: str = "radar", vel: np.ndarray | None = None,
             mmsi: np.ndarray | None = None, look: tuple[float, float, float] | None = None) -> MeasBatch:
        plain = scan_batch(0.0, np.asarray(xy, dtype=np.float64), sigma_m)
        m = len(plain)
        z, R = plain.z.copy(), plain.R.copy()
        if vel is not None:
            z[:, 2:] = vel
            R[:, 2, 2] = R[:, 3, 3] = 0.5**2
        return replace(plain, t=np.broadcast_to(np.asarray(t, dtype=np.float64), (m,)).copy(), z=z, R=R,
                       has_vel=np.full(m, vel is not None), mmsi=plain.mmsi if mmsi is None else np.asarray(mmsi, np.int64),
                       sensor_kind=kind, sensor_id="s", look_en_m=look)

    return make
