"""A plain SORT-like two-stage tracker built on filterpy, the baseline of issue 15.

One ``filterpy.kalman.KalmanFilter`` per track (a baseline, not our design: per-track
Python objects are fine here), nearly-constant-velocity model (CWNA, the same q as our
plain mode), position measurements with isotropic sigma. Each scan:

1. predict every track to the scan time;
2. confirmed tracks associate first: Hungarian (``scipy.optimize.linear_sum_assignment``)
   on the squared Mahalanobis distance, pairs outside the chi-square gate forbidden;
3. tentative tracks then associate the same way with the plots left over;
4. every plot still unused starts a tentative track (zero velocity, velocity sigma
   ``init_speed_sigma_mps``);
5. M-of-N: a tentative track is confirmed at its ``confirm_m``-th hit within its first
   ``confirm_n`` looks and deleted otherwise; a confirmed track is deleted after
   ``delete_misses`` consecutive misses.

The gate (chi2(2) 0.99 = 9.21) and the 2-of-3 / 3-miss logic are the usual SORT-style
defaults (Bewley et al., "Simple Online and Realtime Tracking", ICIP 2016, uses a
min-hits confirmation and max-age deletion of the same kind) and the ones of our GNN and of
the Stone Soup tracker in bench/tracker.py, so that the comparison is of the association,
not of the tuning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

_BIG = 1e9  # cost of a forbidden (outside the gate) pair in the dense Hungarian matrix


@dataclass
class _Track:
    kf: KalmanFilter
    hits: list[bool] = field(default_factory=lambda: [True])
    confirmed: bool = False
    misses: int = 0


class SortTracker:
    """Two-stage GNN tracker over filterpy Kalman filters (see the module docstring)."""

    def __init__(self, sigma_m: float, q_mps2: float = 0.05, init_speed_sigma_mps: float = 12.0,
                 gate_prob: float = 0.99, confirm_m: int = 2, confirm_n: int = 3, delete_misses: int = 3) -> None:
        self.sigma_m, self.q = sigma_m, q_mps2
        self.init_speed_sigma = init_speed_sigma_mps
        self.gate = float(chi2.ppf(gate_prob, 2))
        self.confirm_m, self.confirm_n, self.delete_misses = confirm_m, confirm_n, delete_misses
        self.tracks: list[_Track] = []
        self.t: float | None = None

    def _new(self, z: np.ndarray) -> _Track:
        kf = KalmanFilter(dim_x=4, dim_z=2)
        kf.x = np.array([z[0], z[1], 0.0, 0.0])
        kf.P = np.diag([self.sigma_m**2, self.sigma_m**2, self.init_speed_sigma**2, self.init_speed_sigma**2])
        kf.H = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
        kf.R = np.eye(2) * self.sigma_m**2
        return _Track(kf)

    def _predict(self, dt: float) -> None:
        F = np.eye(4)
        F[0, 2] = F[1, 3] = dt
        q = self.q
        Q = np.zeros((4, 4))
        for a in (0, 1):  # CWNA, per axis
            Q[a, a], Q[a, a + 2] = q * dt**3 / 3, q * dt**2 / 2
            Q[a + 2, a], Q[a + 2, a + 2] = q * dt**2 / 2, q * dt
        for tr in self.tracks:
            tr.kf.predict(F=F, Q=Q)

    def _associate(self, idx: list[int], det: np.ndarray, free: np.ndarray) -> list[tuple[int, int]]:
        """Hungarian on squared Mahalanobis distance between tracks ``idx`` and the free plots."""
        cols = np.flatnonzero(free)
        if not idx or cols.size == 0:
            return []
        x = np.array([self.tracks[i].kf.x[:2] for i in idx])
        S = np.array([self.tracks[i].kf.P[:2, :2] for i in idx]) + np.eye(2) * self.sigma_m**2
        d = det[cols][None, :, :] - x[:, None, :]  # (T, P, 2)
        d2 = np.einsum("tpa,tab,tpb->tp", d, np.linalg.inv(S), d)
        cost = np.where(d2 <= self.gate, d2, _BIG)
        r, c = linear_sum_assignment(cost)
        ok = cost[r, c] < _BIG
        return [(idx[i], int(cols[j])) for i, j in zip(r[ok], c[ok], strict=True)]

    def step(self, t: float, det: np.ndarray) -> np.ndarray:
        """Process one scan (detections (M, 2) m at time t s); returns the confirmed tracks' positions (C, 2)."""
        if self.t is not None:
            self._predict(t - self.t)
        self.t = t
        free = np.ones(det.shape[0], dtype=bool)
        hit = np.zeros(len(self.tracks), dtype=bool)
        for stage in (True, False):  # confirmed first, then tentative on the leftovers
            idx = [i for i, tr in enumerate(self.tracks) if tr.confirmed == stage]
            for i, j in self._associate(idx, det, free):
                self.tracks[i].kf.update(det[j])
                free[j] = False
                hit[i] = True
        keep = []
        for i, tr in enumerate(self.tracks):
            if tr.confirmed:
                tr.misses = 0 if hit[i] else tr.misses + 1
                if tr.misses < self.delete_misses:
                    keep.append(tr)
                continue
            tr.hits.append(bool(hit[i]))
            if sum(tr.hits) >= self.confirm_m:
                tr.confirmed = True
                keep.append(tr)
            elif len(tr.hits) < self.confirm_n:
                keep.append(tr)
        self.tracks = keep + [self._new(z) for z in det[free]]
        return self.positions()

    def positions(self) -> np.ndarray:
        """(C, 2) positions of the confirmed tracks."""
        return np.array([tr.kf.x[:2] for tr in self.tracks if tr.confirmed]).reshape(-1, 2)
