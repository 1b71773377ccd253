"""Batched Kalman and IMM filter steps for nearly-constant-velocity motion.

Axis convention: matrix operations act on the last two axes; every leading axis is a
batch axis (tracks, or tracks x models). States are ``[pos(k), vel(k)]`` with k = 2 for
the horizontal plane (east, north) and k = 1 for altitude; units metres and m/s.

The motion model is the continuous white-noise acceleration (CWNA) model with power
spectral density ``q`` [m^2/s^3] per axis: F = [[I, dt I], [0, I]],
Q = q [[dt^3/3 I, dt^2/2 I], [dt^2/2 I, dt I]]. An IMM runs r such models with
different ``q`` in parallel (same state, so mixing is exact); r = 1 is the plain
Kalman filter. Updates use the Joseph form so that covariances stay symmetric PSD.

Numerical safety (docs/TRACKER.md, "Numerical safety"): model probabilities are
computed from log-likelihoods with the largest subtracted, then floored at ``MU_FLOOR``
and renormalised, so no model's probability underflows to 0; the IMM mixing divides
by predicted probabilities that are then at least about ``MU_FLOOR`` (never 0/0). A
zero-interval prediction is the identity (F = I, Q = 0, and the Markov matrix is I, so
mixing returns each model's own state unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.core.arrays import FloatArray

LOG_2PI = float(np.log(2.0 * np.pi))
MU_FLOOR = 1e-12
"""Smallest IMM model probability. Without a floor a model that explains a manoeuvre
(a deceleration seen with ADS-B velocity) thousands of log-units worse than the other
underflows to exactly 0; a zero-interval step (the same report from two receivers) then
mixes with 0/0. 1e-12 is far below any probability that matters for the estimate (the
Markov switch probability of a 1 s interval is ~1e-2), so floored and unfloored results
agree to rounding, and it is far above the underflow of ``exp`` (~1e-308)."""
_TINY = float(np.finfo(np.float64).tiny)


def cv_transition(dt: FloatArray, k: int) -> FloatArray:
    """dt (N,) s -> F (N, 2k, 2k) for the constant-velocity model with k axes."""
    n = dt.shape[0]
    F = np.zeros((n, 2 * k, 2 * k))
    idx = np.arange(2 * k)
    F[:, idx, idx] = 1.0
    F[:, np.arange(k), np.arange(k) + k] = dt[:, None]  # position += dt * velocity
    return F


def cv_noise(dt: FloatArray, q: FloatArray, k: int) -> FloatArray:
    """dt (N,) s, q (...,) m^2/s^3 broadcast against dt -> Q (N, ..., 2k, 2k) (CWNA)."""
    dt = dt.reshape(dt.shape + (1,) * np.ndim(q))
    q = np.asarray(q, dtype=np.float64)
    Q = np.zeros(np.broadcast_shapes(dt.shape, q.shape) + (2 * k, 2 * k))
    a = np.arange(k)
    Q[..., a, a] = (q * dt**3 / 3.0)[..., None]  # position-position
    Q[..., a, a + k] = Q[..., a + k, a] = (q * dt**2 / 2.0)[..., None]  # position-velocity
    Q[..., a + k, a + k] = (q * dt)[..., None]  # velocity-velocity
    return Q


def predict(x: FloatArray, P: FloatArray, F: FloatArray, Q: FloatArray) -> tuple[FloatArray, FloatArray]:
    """x (..., d), P (..., d, d), F and Q (..., d, d) -> predicted (x, P)."""
    x_pred = (F @ x[..., None])[..., 0]  # F x
    P_pred = F @ P @ F.swapaxes(-1, -2) + Q  # F P F' + Q
    return x_pred, 0.5 * (P_pred + P_pred.swapaxes(-1, -2))


def cv_predict_state(x: FloatArray, dt: FloatArray, k: int) -> FloatArray:
    """The state part of ``cv_predict``: x (N, ..., 2k), dt (N,) s -> a copy with position += dt velocity."""
    x_pred = x.copy()
    if x.ndim > 1:  # axis by axis: no (N, ..., k) strided temporaries
        t = dt.reshape(dt.shape + (1,) * (x.ndim - 2))
        for i in range(k):
            x_pred[..., i] += t * x[..., i + k]
    else:
        x_pred[..., :k] += dt * x[..., k:]
    return x_pred


def cv_predict(x: FloatArray, P: FloatArray, dt: FloatArray, q: FloatArray, k: int) -> tuple[FloatArray, FloatArray]:
    """Constant-velocity ``predict`` written out block by block (same result, faster).

    x (N, ..., 2k), P (N, ..., 2k, 2k), dt (N,) s, q (...,) m^2/s^3 broadcast against the
    inner batch axes (``_cv_predict_cm`` on component-major arrays).
    """
    x_pred = cv_predict_state(x, dt, k)
    t = dt.reshape(dt.shape + (1,) * (x.ndim - 2)) if x.ndim > 1 else dt
    d, shape = 2 * k, P.shape[:-2]
    tb = np.broadcast_to(t, shape).reshape(-1)  # (B,) per flattened batch item
    qb = np.broadcast_to(np.asarray(q, dtype=np.float64), shape).reshape(-1)
    Pt = np.ascontiguousarray(P.reshape(-1, d, d).transpose(1, 2, 0))  # (d, d, B)
    out = _cv_predict_cm(Pt, tb, qb, k)
    # back to row-major, contiguous: consumers (moments, masks, gathers, scatters into the
    # track table) are several times slower on the transposed view
    return x_pred, np.ascontiguousarray(out.transpose(2, 0, 1)).reshape(P.shape)


def _cv_predict_cm(Pt: FloatArray, tb: FloatArray, qb: FloatArray, k: int) -> FloatArray:
    """Covariance of the CV prediction on component-major arrays: Pt (2k, 2k, B), tb (B,) s,
    qb (B,) m^2/s^3 -> a new (2k, 2k, B).

    With P = [[A, B], [B', C]]: A' = A + dt (B + B') + dt^2 C + Q_pp, B' = B + dt C + Q_pv,
    C' = C + Q_vv. Matrix entries leading, the batch as the contiguous last axis: numpy is
    slow on many tiny matrices.
    """
    A, B, Bt, C = Pt[:k, :k], Pt[:k, k:], Pt[k:, :k], Pt[k:, k:]
    out = np.empty(Pt.shape)
    # in place into ``out`` (same operations and order as A + dt (B + B') + dt^2 C): every
    # fresh (d, d, B) temporary costs an allocation and its page faults
    pp, pv = out[:k, :k], out[:k, k:]
    np.add(B, Bt, out=pp)
    pp *= tb
    pp += A
    tt = tb * tb
    np.multiply(tt, C, out=out[k:, k:])  # scratch, overwritten by C below
    pp += out[k:, k:]
    np.multiply(tb, C, out=pv)
    pv += B
    out[k:, :k] = pv.transpose(1, 0, 2)
    out[k:, k:] = C
    q1 = qb * tb  # Q: q [[dt^3/3, dt^2/2], [dt^2/2, dt]] per axis
    q2 = q1 * tb * 0.5
    q3 = q2 * tb * (2.0 / 3.0)
    for i in range(k):  # entry by entry: fancy-indexed += costs more than the arithmetic
        out[i, i] += q3
        out[i, i + k] += q2
        out[i + k, i] += q2
        out[i + k, i + k] += q1
    return out


def cv_predict_position(
    x: FloatArray, P: FloatArray, dt: FloatArray, q: FloatArray, k: int
) -> tuple[FloatArray, FloatArray]:
    """Position block of ``cv_predict`` only: pos (N, ..., k), P_pos (N, ..., k, k).

    Same inputs (``_cv_predict_position_cm`` on component-major arrays).
    """
    d, shape = 2 * k, x.shape[:-1]
    t = dt.reshape(dt.shape + (1,) * (x.ndim - 2))
    tb = np.broadcast_to(t, shape).reshape(-1)
    qb = np.broadcast_to(np.asarray(q, dtype=np.float64), shape).reshape(-1)
    pos, Pp = _cv_predict_position_cm(np.ascontiguousarray(x.reshape(-1, d).T),
                                      np.ascontiguousarray(P.reshape(-1, d, d).transpose(1, 2, 0)), tb, qb, k)
    return np.ascontiguousarray(pos.T).reshape(shape + (k,)), np.ascontiguousarray(Pp.transpose(2, 0, 1)).reshape(shape + (k, k))


def _cv_predict_position_cm(
    xt: FloatArray, Pt: FloatArray, tb: FloatArray, qb: FloatArray, k: int
) -> tuple[FloatArray, FloatArray]:
    """Position block of the CV prediction on component-major arrays: xt (2k, ...), Pt (2k, 2k, ...),
    tb and qb (...) -> pos (k, ...), P_pos (k, k, ...). A' = A + dt (B + B') + dt^2 C + q dt^3/3 I
    (for gating radii, which need no velocity block)."""
    pos = xt[:k] + tb * xt[k:]
    qpp = qb * tb**3 / 3.0
    Pp = np.empty((k, k) + Pt.shape[2:])
    for i in range(k):  # entry by entry: no (2k, 2k, ...) temporaries
        for j in range(i, k):
            v = Pt[i, j] + tb * (Pt[i, j + k] + Pt[i + k, j]) + tb * tb * Pt[i + k, j + k]
            Pp[i, j] = Pp[j, i] = v + qpp if i == j else v
    return pos, Pp


def imm_predict_position(xm: FloatArray, Pm: FloatArray, mu: FloatArray, dt: FloatArray,
                         q: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Combined position (N, 2) m and its covariance (N, 2, 2) of each model's CV prediction by
    dt (N,) s, without interaction: ``imm_combine`` of ``cv_predict_position`` (the same numbers)
    in the component-major layout throughout. xm (N, r, 4), Pm (N, r, 4, 4), mu (N, r), q (r,)."""
    n, r, _ = xm.shape
    tb = np.broadcast_to(dt, (r, n))
    qb = np.broadcast_to(np.asarray(q, dtype=np.float64)[:, None], (r, n))
    pos, Pp = _cv_predict_position_cm(*_component_major(xm, Pm), tb, qb, 2)  # (2, r, N), (2, 2, r, N)
    if r == 1:
        return np.ascontiguousarray(pos[:, 0].T), np.ascontiguousarray(Pp[:, :, 0].transpose(2, 0, 1))
    x, P = _mix_cm(np.ascontiguousarray(mu.T[:, None, :]), pos, Pp)
    return np.ascontiguousarray(x[:, 0].T), np.ascontiguousarray(P.transpose(2, 0, 1))


@dataclass(frozen=True)
class Innovation:
    """Innovation of a batch of state/measurement pairs.

    y (..., m) innovation, S (..., m, m) its covariance, d2 (...,) squared Mahalanobis
    distance y' S^-1 y, log_lik (...,) Gaussian log-likelihood of y.
    """

    y: FloatArray
    S: FloatArray
    d2: FloatArray
    log_lik: FloatArray


def _solve_sym(S: FloatArray, B: FloatArray) -> tuple[FloatArray, FloatArray]:
    """S (..., m, m) symmetric positive definite, B (..., m, n) -> (S^-1 B, log det S).

    m = 1 and m = 2 are written out (closed-form inverse and determinant over component
    arrays): numpy's batched ``solve`` / ``slogdet`` cost far more than the arithmetic on
    many tiny matrices. Larger m use ``np.linalg``.
    """
    m = S.shape[-1]
    if m == 1:
        return _solve_small(S, B), np.log(S[..., 0, 0])
    if m == 2:
        return _solve_small(S, B), np.log(S[..., 0, 0] * S[..., 1, 1] - S[..., 0, 1] * S[..., 0, 1])
    return _solve_small(S, B), np.linalg.slogdet(S)[1]


def _solve_small(S: FloatArray, B: FloatArray) -> FloatArray:
    """S^-1 B alone (``_solve_sym`` without the determinant: the Kalman gain needs none)."""
    m = S.shape[-1]
    if m == 1:
        return B / S
    if m == 2:
        a, b, c = S[..., 0, 0], S[..., 0, 1], S[..., 1, 1]
        det = a * c - b * b
        b0, b1 = B[..., 0, :], B[..., 1, :]
        out = np.empty(B.shape)
        out[..., 0, :] = (c[..., None] * b0 - b[..., None] * b1) / det[..., None]  # [[c, -b], [-b, a]] / det
        out[..., 1, :] = (a[..., None] * b1 - b[..., None] * b0) / det[..., None]
        return out
    return np.linalg.solve(S, B).astype(np.float64, copy=False)  # the stubs say floating[Any]


_SELECTS: dict[tuple[tuple[int, ...], bytes], bool] = {}


def _selects(H: FloatArray) -> bool:
    """True when H (m, d) is [I 0]: it picks the first m state components (cached: the
    tracker asks for the same few H thousands of times per second)."""
    key = (H.shape, H.tobytes())
    hit = _SELECTS.get(key)
    if hit is None:
        hit = _SELECTS[key] = bool(np.array_equal(H, np.eye(H.shape[0], H.shape[1])))
        if len(_SELECTS) > 64:  # not expected: a few constant H only
            _SELECTS.clear()
    return hit


def innovation(x: FloatArray, P: FloatArray, z: FloatArray, H: FloatArray, R: FloatArray) -> Innovation:
    """x (..., d), P (..., d, d), z (..., m), H (m, d), R (..., m, m) -> Innovation."""
    m = H.shape[0]
    if _selects(H):  # H = [I 0]: slices instead of products with zeros and ones
        y = z - x[..., :m]
        S = P[..., :m, :m] + R
        if m == 2:  # closed form over component arrays
            a, c = S[..., 0, 0], S[..., 1, 1]
            b = 0.5 * (S[..., 0, 1] + S[..., 1, 0])
            S[..., 0, 1] = S[..., 1, 0] = b
            det = a * c - b * b
            y0, y1 = y[..., 0], y[..., 1]
            d2 = (c * y0 * y0 - 2.0 * b * y0 * y1 + a * y1 * y1) / det
            return Innovation(y, S, d2, -0.5 * (d2 + np.log(det) + m * LOG_2PI))
    else:
        y = z - x @ H.T  # z - H x
        S = H @ P @ H.T + R  # H P H' + R
    S = 0.5 * (S + S.swapaxes(-1, -2))
    Sinv_y, logdet = _solve_sym(S, y[..., None])
    d2 = np.einsum("...i,...i->...", y, Sinv_y[..., 0])
    log_lik = -0.5 * (d2 + logdet + m * LOG_2PI)
    return Innovation(y, S, d2, log_lik)


def update(
    x: FloatArray, P: FloatArray, z: FloatArray, H: FloatArray, R: FloatArray
) -> tuple[FloatArray, FloatArray, Innovation]:
    """Joseph-form update. x (..., d), P (..., d, d), z (..., m), H (m, d), R (..., m, m)."""
    inn = innovation(x, P, z, H, R)
    m, d = H.shape
    select = _selects(H)
    if select and m <= 2:
        x_new, P_new = _update_select(x, P, R, inn)
        return x_new, P_new, inn
    PHt = P[..., :, :m] if select else P @ H.T  # (..., d, m)
    K = _solve_small(inn.S, PHt.swapaxes(-1, -2)).swapaxes(-1, -2)  # P H' S^-1 (S symmetric)
    x_new = x + np.einsum("...ij,...j->...i", K, inn.y)  # x + K y
    Kt = K.swapaxes(-1, -2)
    if select:  # with H = [I 0]: L = I - K H, L P = P - K P[:m], (L P) L' = L P - (L P)[:, :m] K'
        LP = P - K @ P[..., :m, :]
        P_new = LP - LP[..., :, :m] @ Kt + K @ R @ Kt  # (I-KH) P (I-KH)' + K R K'
    else:
        IKH = np.eye(d) - K @ H
        P_new = IKH @ P @ IKH.swapaxes(-1, -2) + K @ R @ Kt  # (I-KH) P (I-KH)' + K R K'
    return x_new, 0.5 * (P_new + P_new.swapaxes(-1, -2)), inn


def _update_select(x: FloatArray, P: FloatArray, R: FloatArray, inn: Innovation) -> tuple[FloatArray, FloatArray]:
    """Joseph-form update for H = [I 0] with m <= 2, on component-major arrays.

    x (..., d), P (..., d, d), R (..., m, m). With the matrix entries as leading axes and
    the batch as the contiguous last axis (``P[i, j]`` is an (...,) array), each product
    below is one ``einsum`` over all pairs; batched matmuls of 4x4 matrices cost far more.
    K = P[:, :m] S^-1, x + K y, L P = P - K P[:m], and with M = (L P)[:, :m] - K R,
    P' = L P - M K' = (I-KH) P (I-KH)' + K R K'.
    """
    m, d = R.shape[-1], x.shape[-1]
    shape = x.shape[:-1]
    S = inn.S.reshape(-1, m, m)
    if m == 1:
        Si = (1.0 / S[:, 0, 0])[None, None]
    else:
        a, b, c = S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]
        det = a * c - b * b
        Si = np.stack([np.stack([c, -b]), np.stack([-b, a])]) / det  # (m, m, B)
    Pt = np.ascontiguousarray(P.reshape(-1, d, d).transpose(1, 2, 0))  # (d, d, B)
    Rt = np.ascontiguousarray(np.broadcast_to(R, shape + (m, m)).reshape(-1, m, m).transpose(1, 2, 0))
    yt = np.ascontiguousarray(inn.y.reshape(-1, m).T)
    K = np.einsum("icn,can->ian", Pt[:, :m], Si)  # (d, m, B)
    x_new = x + np.einsum("ian,an->ni", K, yt).reshape(x.shape)
    LP = Pt - np.einsum("ian,ajn->ijn", K, Pt[:m])
    M = LP[:, :m] - np.einsum("ian,abn->ibn", K, Rt)
    out = LP - np.einsum("ian,jan->ijn", M, K)
    out += out.transpose(1, 0, 2)
    out *= 0.5
    return x_new, out.transpose(2, 0, 1).reshape(P.shape)  # a view: the caller scatters it into the table


def imm_mix(
    xm: FloatArray, Pm: FloatArray, mu: FloatArray, PI: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """IMM interaction. xm (N, r, d), Pm (N, r, d, d), mu (N, r), PI (N, r, r) or (r, r).

    Returns mixed (x0 (N, r, d), P0 (N, r, d, d)) and cbar (N, r), the predicted model
    probabilities cbar_j = sum_i PI_ij mu_i.
    """
    if mu.shape[1] == 1:  # one model: nothing to mix
        return xm, Pm, mu.copy()  # cbar = PI mu = mu
    n, r, d = xm.shape
    wt, cbar = _mix_weights(mu, np.broadcast_to(PI, (n, r, r)).transpose(1, 2, 0))
    xt, Pt = _mix_cm(wt, *_component_major(xm, Pm))
    return (np.ascontiguousarray(xt.transpose(2, 1, 0)),
            np.ascontiguousarray(Pt.reshape(d, d, r, n).transpose(3, 2, 0, 1)), cbar)


def imm_predict(
    xm: FloatArray, Pm: FloatArray, mu: FloatArray, dt: FloatArray, sojourn_s: FloatArray, q: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """IMM interaction for an interval dt (N,) s, then each model's CV prediction by dt (the
    horizontal plane): ``imm_mix`` with ``markov_matrix(dt, sojourn_s)`` followed by
    ``cv_predict(x0, P0, dt, q, 2)``, the same numbers, without leaving the component-major
    layout between the two. xm (N, r, 4), Pm (N, r, 4, 4), mu (N, r), q (r,) m^2/s^3 ->
    predicted (x (N, r, 4), P (N, r, 4, 4)) and cbar (N, r)."""
    n, r, d = xm.shape
    if r == 1:  # one model: no mixing
        x, P = cv_predict(xm, Pm, dt, q, 2)
        return x, P, mu.copy()
    wt, cbar = _mix_weights(mu, _markov_cm(dt, sojourn_s))
    xt, Pt = _mix_cm(wt, *_component_major(xm, Pm))  # (d, r, N), (d, d, r N)
    for i in range(2):  # the state: position += dt velocity (as cv_predict_state)
        xt[i] += dt * xt[i + 2]
    tb = np.broadcast_to(dt, (r, n)).reshape(-1)
    qb = np.broadcast_to(np.asarray(q, dtype=np.float64)[:, None], (r, n)).reshape(-1)
    out = _cv_predict_cm(Pt, tb, qb, 2)
    return (np.ascontiguousarray(xt.transpose(2, 1, 0)),
            np.ascontiguousarray(out.reshape(d, d, r, n).transpose(3, 2, 0, 1)), cbar)


def _mix_weights(mu: FloatArray, PIt: FloatArray) -> tuple[FloatArray, FloatArray]:
    """mu (N, r), component-major PIt (r, r, N) -> mixing weights omega_ij = PI_ij mu_i / cbar_j,
    component-major (r, r, N), and cbar (N, r)."""
    w = floor_probabilities(mu).T[:, None, :] * PIt  # (i, j, N) PI_ij mu_i
    cbar = w[0].copy()  # (j, N): the sum over i, in order
    for i in range(1, w.shape[0]):
        cbar += w[i]
    # every mu_i >= MU_FLOOR and every column of PI has an entry > 0 (PI_jj = exp(-dt/s_j),
    # PI_ij = (1 - exp(-dt/s_i)) / (r - 1): not both 0), so cbar_j > 0; the max only guards rounding
    np.maximum(cbar, _TINY, out=cbar)
    w /= cbar
    return w, np.ascontiguousarray(cbar.T)


def _component_major(xm: FloatArray, Pm: FloatArray) -> tuple[FloatArray, FloatArray]:
    """xm (N, r, d), Pm (N, r, d, d) -> contiguous copies (d, r, N), (d, d, r, N)."""
    return np.ascontiguousarray(xm.transpose(2, 1, 0)), np.ascontiguousarray(Pm.transpose(2, 3, 1, 0))


def _mix_cm(wt: FloatArray, xt: FloatArray, Pt: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Moments of J Gaussian mixtures per item, component-major: weights wt (r, J, N)
    (summing to 1 over r) of the r components xt (d, r, N), Pt (d, d, r, N) -> means
    (d, J, N) and covariances (d, d, J N). IMM interaction mixes J = r, ``imm_combine`` J = 1.

    The spread term sum_i w_i (x_i - x)(x_i - x)' is written in its pairwise form
    sum_{i<k} w_i w_k (x_i - x_k)(x_i - x_k)' (equal when the weights sum to 1): one term for
    the two-model IMM, from the models' difference (no cancellation), and no (r, J) spread
    temporaries. Matrix entries leading, the (J, N) batch contiguous: each operation is one
    broadcast over all items and mixtures into a reused buffer (numpy is slow on many tiny
    matrices, and on row-major broadcasts whose inner loops run over d entries only).
    """
    d, r, n = xt.shape
    J = wt.shape[1]
    x = np.multiply(wt[0], xt[:, 0, None])  # (d, J, N)
    P = np.multiply(wt[0], Pt[:, :, 0, None])  # (d, d, J, N)
    tmp_x, tmp = np.empty(x.shape), np.empty(P.shape)
    for i in range(1, r):
        x += np.multiply(wt[i], xt[:, i, None], out=tmp_x)
        P += np.multiply(wt[i], Pt[:, :, i, None], out=tmp)
    for i in range(r):
        for k in range(i + 1, r):
            D = xt[:, i] - xt[:, k]  # (d, N)
            DD = D[:, None] * D[None, :]  # (d, d, N)
            P += np.multiply(wt[i] * wt[k], DD[:, :, None], out=tmp)
    return x, P.reshape(d, d, J * n)


def _means(w: FloatArray, xm: FloatArray) -> FloatArray:
    """Means of Gaussian mixtures: w (N, r, J) weights of the r components xm (N, r, d) -> (N, J, d)."""
    x = w[:, 0, :, None] * xm[:, 0, None]
    for i in range(1, xm.shape[1]):
        x += w[:, i, :, None] * xm[:, i, None]
    return x


def floor_probabilities(mu: FloatArray) -> FloatArray:
    """mu (N, r) probabilities -> a copy with each >= MU_FLOOR, rows summing to 1.

    Rows with every entry at least MU_FLOOR are kept as they are (bit for bit). A row with
    an entry below it is normalised and becomes MU_FLOOR + (1 - r MU_FLOOR) p, a mixture
    with the uniform distribution that moves no probability by more than r MU_FLOOR. A row
    that is not finite or sums to 0 becomes uniform (no information is better than NaN)."""
    r = mu.shape[1]
    p = mu.copy()
    if (p >= MU_FLOOR).all():  # every row (the common case): no per-row reduction
        return p
    fix = ~(p >= MU_FLOOR).all(axis=1)  # NaN fails the comparison
    if fix.any():
        q = p[fix]
        total = q.sum(axis=1, keepdims=True)
        ok = np.isfinite(total) & (total > 0.0)
        q = np.where(ok, MU_FLOOR + (1.0 - r * MU_FLOOR) * (q / np.where(ok, total, 1.0)), 1.0 / r)
        p[fix] = q
    return p


def imm_posterior(cbar: FloatArray, log_lik: FloatArray) -> FloatArray:
    """cbar (N, r), log_lik (N, r) -> posterior model probabilities mu (N, r), each >= MU_FLOOR.

    In log space with the row maximum subtracted (no overflow, no all-zero row); a row whose
    likelihoods are all -inf or NaN (a degenerate innovation) keeps its prior cbar."""
    a = np.log(np.maximum(cbar, _TINY)) + log_lik
    top = _row_max(a)
    ok = np.isfinite(top)
    if not ok.all():
        a[~ok] = np.log(np.maximum(cbar[~ok], _TINY))
        top[~ok] = _row_max(a[~ok])
    a -= top[:, None]
    p = np.exp(a)
    p /= _row_sum(p)[:, None]  # >= 1: the maximum's own term is exp(0)
    return floor_probabilities(p)


def _row_max(a: FloatArray) -> FloatArray:
    """(N, r) -> (N,) the largest of each row, NaN propagating (as a.max(axis=1)), column by
    column: a reduction over a short last axis costs several times more."""
    top = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        np.maximum(top, a[:, j], out=top)
    return top


def _row_sum(a: FloatArray) -> FloatArray:
    """(N, r) -> (N,) the sum of each row, in order (as a.sum(axis=1) for r < 8), column by column."""
    total = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        total += a[:, j]
    return total


def imm_mean(xm: FloatArray, mu: FloatArray) -> FloatArray:
    """xm (N, r, d), mu (N, r) -> the mixture's mean x (N, d), as ``imm_combine`` gives it."""
    if mu.shape[1] == 1:
        return xm[:, 0]
    return _means(mu[:, :, None], xm)[:, 0]


def imm_combine(xm: FloatArray, Pm: FloatArray, mu: FloatArray) -> tuple[FloatArray, FloatArray]:
    """xm (N, r, d), Pm (N, r, d, d), mu (N, r) -> moment-matched (x (N, d), P (N, d, d)).

    With one model these are views of xm and Pm (its state; mu is 1).
    """
    if mu.shape[1] == 1:
        return xm[:, 0], Pm[:, 0]
    x, P = _mix_cm(np.ascontiguousarray(mu.T[:, None, :]), *_component_major(xm, Pm))  # one mixture, weights mu
    return np.ascontiguousarray(x[:, 0].T), np.ascontiguousarray(P.transpose(2, 0, 1))


def markov_matrix(dt: FloatArray, sojourn_s: FloatArray) -> FloatArray:
    """dt (N,) s, sojourn_s (r,) mean time in each model -> PI (N, r, r) for that interval.

    Leaving model i within dt has probability 1 - exp(-dt / sojourn_i), spread evenly over
    the other models, so the chain is consistent whatever the update rate.
    """
    if sojourn_s.shape[0] == 1:
        return np.ones((dt.shape[0], 1, 1))
    return _markov_cm(dt, sojourn_s).transpose(2, 0, 1)


def _markov_cm(dt: FloatArray, sojourn_s: FloatArray) -> FloatArray:
    """``markov_matrix`` component-major, for r >= 2 models: PIt (r, r, N)."""
    r = sojourn_s.shape[0]
    leave = -np.expm1(-np.abs(dt)[None, :] / sojourn_s[:, None])  # (r, N)
    PIt = np.empty((r, r, dt.shape[0]))
    PIt[:] = (leave / (r - 1))[:, None, :]
    for i in range(r):
        PIt[i, i] = 1.0 - leave[i]
    return PIt
