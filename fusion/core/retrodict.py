"""Out-of-sequence measurements by retrodiction: a report minutes to hours late updates the
current state of the one track it belongs to, with no re-run of the pool. Pure.

Bar-Shalom's "Algorithm B" (Y. Bar-Shalom, "Update with out-of-sequence measurements in
tracking: exact solution", IEEE Trans. Aerospace and Electronic Systems 38(3), 2002,
pp. 769-778, section 5; the multi-step lag as in Bar-Shalom, Chen and Mallick, "One-step
solution for the multistep out-of-sequence-measurement problem in tracking", IEEE TAES
40(1), 2004): with the state x(k|k), P(k|k) at t_k and a measurement z of time tau < t_k,
F = F(t_k, tau) and Q = Q(t_k, tau) of the constant-velocity model,

    x(tau|k)  = F^-1 x(k|k)                     (retrodicted state; the process noise
    P(tau|k)  = F^-1 (P(k|k) + Q) F^-T           over (tau, t_k] is not estimated)
    P_xz      = P(k|k) F^-T H'                  (cross-covariance of x(k) and z)
    S         = H P(tau|k) H' + R
    x(k|k,z)  = x(k|k) + P_xz S^-1 (z - H x(tau|k))
    P(k|k,z)  = P(k|k) - P_xz S^-1 P_xz'

It needs nothing but the current state (no stored history, memory O(1) per track), is exact
when Q = 0 (the order of linear updates then does not matter) and suboptimal otherwise (it
neglects the correlation of the process noise with the data between tau and t_k).
Per IMM model, with the model probabilities updated by the late report's likelihood.
Arrays: n pairs, r models, state (e, n, ve, vn), metres and seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.core import kalman
from fusion.core.arrays import FloatArray


@dataclass(frozen=True)
class Retrodicted:
    """States of n tracks taken back to their late reports' times.

    x (n, r, 4), P (n, r, 4, 4): per-model retrodicted state and covariance (P(tau|k));
    Finv_T (n, 4, 4): F^-T of each pair's interval.
    """

    x: FloatArray
    P: FloatArray
    Finv_T: FloatArray


def retrodict(xm: FloatArray, Pm: FloatArray, lag_s: FloatArray, q: FloatArray) -> Retrodicted:
    """Model states xm (n, r, 4), Pm (n, r, 4, 4) at t_k taken back by lag_s (n,) = t_k - tau >= 0
    s, with CWNA q (r,) m^2/s^3 per model."""
    Finv = kalman.cv_transition(-lag_s, 2)[:, None]  # (n, 1, 4, 4)
    Q = kalman.cv_noise(lag_s, q, 2)  # (n, r, 4, 4)
    x = (Finv @ xm[..., None])[..., 0]
    P = Finv @ (Pm + Q) @ Finv.swapaxes(-1, -2)
    return Retrodicted(x, 0.5 * (P + P.swapaxes(-1, -2)), Finv[:, 0].swapaxes(-1, -2))


def oosm_update(xm: FloatArray, Pm: FloatArray, mu: FloatArray, back: Retrodicted, z: FloatArray, H: FloatArray,
                R: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The current model states xm (n, r, 4), Pm (n, r, 4, 4), probabilities mu (n, r) updated
    with late measurements z (n, m), H (m, 4), R (n, m, m) through their retrodiction ``back``
    -> (xm, Pm, mu) at the same (current) time."""
    inn = kalman.innovation(back.x, back.P, z[:, None, :], H, R[:, None])  # y, S (n, r, m, m), log-lik
    Pxz = Pm @ back.Finv_T[:, None] @ H.T  # (n, r, 4, m)
    W = Pxz @ np.linalg.inv(inn.S)  # (n, r, 4, m)
    x = xm + (W @ inn.y[..., None])[..., 0]
    P = Pm - W @ Pxz.swapaxes(-1, -2)
    P = 0.5 * (P + P.swapaxes(-1, -2))
    mu_new = np.ones_like(mu) if mu.shape[1] == 1 else kalman.imm_posterior(mu, inn.log_lik)
    return x, P, mu_new
