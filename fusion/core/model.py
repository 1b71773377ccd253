"""The constants every tracker stage reads: the settings of one track pool and the numbers
derived from them once (motion model arrays, chi-square gate thresholds)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.core.arrays import NO_ICAO, NO_MMSI, Domain, FloatArray
from fusion.core.config import PoolConfig, TrackerConfig
from fusion.core.gate import chi2_gate

# Identity key column of a cooperative sensor kind, and the key value meaning "none".
KEY_OF_KIND = {"ais": "mmsi", "adsb": "icao24"}
NONE_KEY = {"mmsi": NO_MMSI, "icao24": NO_ICAO}


@dataclass(frozen=True)
class PoolModel:
    """One pool's settings and derived constants (immutable, shared by all stages).

    q:        (r,) CWNA spectral density per IMM model, m^2/s^3
    sojourn:  (r,) mean sojourn per model, s
    gate:     chi-square threshold of ``gate_prob`` by measurement dimension (2 or 4)
    confirm_gate: the same for tentative tracks (``confirm_gate_prob``)
    merge_gate: chi2(4) quantile ``merge_prob`` of two track states' difference
    """

    config: TrackerConfig
    pool: PoolConfig
    q: FloatArray
    sojourn: FloatArray
    gate: dict[int, float]
    confirm_gate: dict[int, float]
    merge_gate: float

    @classmethod
    def build(cls, config: TrackerConfig, domain: Domain) -> PoolModel:
        """The model of ``config``'s pool for ``domain``."""
        pool = config.pool(domain)
        return cls(
            config=config,
            pool=pool,
            q=np.asarray(pool.q_mps2, dtype=np.float64),
            sojourn=np.asarray(pool.sojourn_s, dtype=np.float64),
            gate={m: chi2_gate(config.gate_prob, m) for m in (2, 4)},
            confirm_gate={m: chi2_gate(config.confirm_gate_prob, m) for m in (2, 4)},
            merge_gate=chi2_gate(config.merge_prob, 4),
        )

    @property
    def n_models(self) -> int:
        """IMM models per track (r)."""
        return int(self.q.size)
