"""Pareto/NBD likelihood, derivatives and predictions (private, pure numpy).

Schmittlein, Morrison and Colombo (1987); the likelihood as in Fader and Hardie's
note "A Note on Deriving the Pareto/NBD Model and Related Expressions" (2005, eq.
18-20). For a customer with x repeat purchases, the last at tx, observed for T:

    L = Gamma(r + x) alpha^r beta^s / Gamma(r)
        [ (alpha + T)^-(r + x) (beta + T)^-s + s I(tx, T) ],
    I(tx, T) = int_tx^T (alpha + tau)^-(r + x) (beta + tau)^-(s + 1) dtau
             = F(tx) - F(T),   F(y) = int_y^inf (same integrand),

the second term being "alive until tau, then gone" integrated over the death time
tau. The note writes F with a Gauss hypergeometric function 2F1(r + s + x, .;
r + s + x + 1; |alpha - beta| / (max(alpha, beta) + y)), where every peer's
implementation breaks (NaN or inf for large x, T, or alpha far from beta). Here F
is evaluated as the integral it is, which is positive and well conditioned for
every parameter value: with max(alpha, beta) + tau = P e^v, P = max + y,

    F(y) = P^-A (1 - z)^-B int_0^inf exp(-phi(v)) dv,
    phi(v) = A v + B [log(1 - z e^-v) - log(1 - z)],

A = r + s + x, z = |alpha - beta| / P in [0, 1), B = s + 1 if alpha >= beta and
r + x otherwise. phi is increasing and concave with phi(0) = 0, so the integrand
falls from 1 to 0 monotonically; the range is cut where phi reaches fixed levels
(found by Newton's method, which converges monotonically on a concave function)
and each piece gets a Gauss-Legendre rule. The same nodes give the derivatives of
F with respect to (r, alpha, s, beta) as moments of the derivatives of the log
integrand, so the fit has an exact gradient and Hessian (up to the quadrature's
1e-13). Values are checked against 50-digit mpmath in the tests.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from scipy.special import digamma, gammaln

from crmscore._groups import group_rows
from crmscore.clv._kernels import Derivatives, FloatArray, IntArray, Params, trigamma

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "ParetoData",
    "pareto_derivatives",
    "pareto_expected_purchases",
    "pareto_expected_purchases_new",
    "pareto_log_likelihood",
    "pareto_probability_alive",
    "prepare_pareto",
]

#: Levels of phi at the edges of the quadrature pieces: the integrand exp(-phi) falls
#: by a bounded factor on each piece, and below exp(-60) of its start at the end.
_LEVELS = np.array([0.0, 1.0, 3.0, 6.0, 10.0, 16.0, 24.0, 34.0, 46.0, 60.0])
_N_NODES = 10
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(_N_NODES)
#: Largest growth of v - log z over one piece.
_RATIO = 3.0
_NEWTON_STEPS = 40
#: Groups of pairs by the number of extra, geometrically graded pieces they need
#: (none for most: only where |alpha - beta| is close to max(alpha, beta) + y).
_GEOMETRIC_BUCKETS = ((0, 0), (0, 2), (2, 4), (4, 10), (10, 20), (20, 45))
#: Extra piece edges in v where r + s + x < 2 (see :func:`_tail_chunk`).
_FLAT_EDGES = np.array(
    [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 18.0, 22.0, 27.0, 33.0, 40.0]
)
#: Pairs evaluated at once (bounds the memory of the node arrays).
_CHUNK = 1024


class Tail(NamedTuple):
    """log F(y) and the normalised moments of the log integrand's derivatives.

    ``grad[:, i]`` = F_i / F and ``hess[:, i, j]`` = F_ij / F, derivatives with
    respect to (r, alpha, s, beta); None when not asked for.
    """

    log_f: FloatArray
    grad: FloatArray | None
    hess: FloatArray | None


def _edges(a: FloatArray, b: FloatArray, z: FloatArray, omz: FloatArray) -> FloatArray:
    """Points v_k with phi(v_k) = _LEVELS[k], per pair (rows) and level (columns)."""
    n = len(a)
    log1mz = np.log(omz)
    edges = np.zeros((n, len(_LEVELS)))
    v = np.zeros(n)
    for k in range(1, len(_LEVELS)):
        level = _LEVELS[k]
        for _ in range(_NEWTON_STEPS):
            ze = z * np.exp(-v)
            one_minus = omz - z * np.expm1(-v)  # 1 - z e^-v, exact where z is near 1
            phi = a * v + b * (np.log(one_minus) - log1mz)
            slope = a + b * ze / one_minus
            step = (level - phi) / slope
            v = v + np.maximum(step, 0.0)
            if np.all(step <= 1e-15 * np.maximum(v, 1e-300)):
                break
        edges[:, k] = v
    return edges


def tail(
    theta: Params,
    x: FloatArray,
    y: FloatArray,
    *,
    order: int = 0,
) -> Tail:
    """F(y) = int_y^inf (alpha + tau)^-(r + x) (beta + tau)^-(s + 1) dtau, in log space.

    With ``order`` 1 or 2, also the first (and second) derivatives of F with respect
    to (r, alpha, s, beta), divided by F.
    """
    out_log = np.empty(len(x))
    out_grad = np.empty((len(x), 4)) if order >= 1 else None
    out_hess = np.empty((len(x), 4, 4)) if order >= 2 else None
    # The pieces' edges for all pairs at once (Newton's method: few, long array passes).
    r, alpha, s, beta = theta
    big, small = (alpha, beta) if alpha >= beta else (beta, alpha)
    b = np.full(len(x), s + 1.0) if alpha >= beta else r + x
    edges = _edges(r + s + x, b, (big - small) / (big + y), (small + y) / (big + y))
    for start in range(0, len(x), _CHUNK):
        part = slice(start, start + _CHUNK)
        log_f, grad, hess = _tail_chunk(theta, x[part], y[part], edges[part], order=order)
        out_log[part] = log_f
        if out_grad is not None and grad is not None:
            out_grad[part] = grad
        if out_hess is not None and hess is not None:
            out_hess[part] = hess
    return Tail(log_f=out_log, grad=out_grad, hess=out_hess)


def _tail_chunk(
    theta: Params, x: FloatArray, y: FloatArray, edges: FloatArray, *, order: int
) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
    """:func:`tail` on one chunk of pairs, grouped by how many extra pieces they need."""
    r, alpha, s, beta = theta
    a = r + s + x
    alpha_big = alpha >= beta
    big, small = (alpha, beta) if alpha_big else (beta, alpha)
    omz = (small + y) / (big + y)  # 1 - z, without the cancellation
    # Near v = log z < 0 the integrand has a singularity; where z is close to 1 it is
    # close to the range, and the pieces must also grow geometrically in v - log z
    # (by at most 3 each) for the Gauss-Legendre rule to stay exact.
    with np.errstate(divide="ignore"):
        gap = -np.log1p(-omz)
    span = np.log1p(edges[:, -1] / gap) / math.log(_RATIO)
    needed = np.where(np.isfinite(span), np.ceil(span), 0.0)
    log_f = np.empty(len(x))
    grad = np.empty((len(x), 4)) if order >= 1 else None
    hess = np.empty((len(x), 4, 4)) if order >= 2 else None
    # The derivatives' moments carry factors (alpha + tau)^-k, (beta + tau)^-k, which
    # fall like e^(-k v): where A < 2 the pieces set by phi are too wide for them, and
    # fixed pieces of width <= 1 (then growing) are added over the first 40 units of v.
    slow = (a < 2.0) if order >= 1 else np.zeros(len(x), dtype=bool)
    for (low, high), flat in itertools.product(_GEOMETRIC_BUCKETS, (False, True)):
        in_bucket = (needed > low) & (needed <= high) if high else needed <= low
        rows = np.flatnonzero(in_bucket & (slow == flat))
        if rows.size == 0:
            continue
        cuts = edges[rows]
        parts = [cuts]
        if high:
            frac = np.arange(1, high) / high
            parts.append(
                gap[rows, None] * np.expm1(np.log1p(cuts[:, -1:] / gap[rows, None]) * frac)
            )
        if flat:
            parts.append(np.minimum(_FLAT_EDGES, cuts[:, -1:]))
        if len(parts) > 1:
            cuts = np.sort(np.concatenate(parts, axis=1), axis=1)
        lf, g, h = _quadrature(theta, x[rows], y[rows], cuts, order=order)
        log_f[rows] = lf
        if grad is not None and g is not None:
            grad[rows] = g
        if hess is not None and h is not None:
            hess[rows] = h
    return log_f, grad, hess


def _moments(
    prob: FloatArray,
    v: FloatArray,
    log_p: FloatArray,
    log_small: FloatArray,
    one_minus: FloatArray,
    *,
    rho: FloatArray,
    sigma: float,
    alpha_big: bool,
    order: int,
) -> tuple[FloatArray, FloatArray | None]:
    """F_i / F and F_ij / F from the nodes' probabilities (``v``, ``log_small`` reused)."""
    # The log integrand's derivatives are combinations of four functions of the node:
    # log(big + tau) = log p + v, log(other + tau) = that + log_small, and their
    # reciprocals e^-v / p and e^-v / (p small).
    log_big = v
    log_big += log_p[:, None]
    log_other = log_small
    log_other += log_big
    inv_big = np.exp(-log_big)
    inv_other = inv_big / one_minus
    log_alpha, log_beta = (log_big, log_other) if alpha_big else (log_other, log_big)
    inv_alpha, inv_beta = (inv_big, inv_other) if alpha_big else (inv_other, inv_big)
    basis = (log_alpha, inv_alpha, log_beta, inv_beta)
    scale = (-1.0, -rho, -1.0, -sigma)
    weighted = [prob * f for f in basis]
    means = [wf.sum(axis=1) for wf in weighted]
    grad = np.empty((len(prob), 4))
    for i in range(4):
        grad[:, i] = scale[i] * means[i]
    if order == 1:
        return grad, None
    # E[d d'] moment by moment (d_i = scale_i basis_i), plus the log integrand's own
    # second derivatives, which are zero but for (r, alpha), (alpha, alpha), (s, beta),
    # (beta, beta): -E[1 / alpha], rho E[1 / alpha^2], and the same for beta.
    hess = np.empty((len(prob), 4, 4))
    for i in range(4):
        for j in range(i, 4):
            moment = np.einsum("ik,ik->i", weighted[i], basis[j])
            hess[:, i, j] = scale[i] * scale[j] * moment
            if j != i:
                hess[:, j, i] = hess[:, i, j]
    hess[:, 0, 1] -= means[1]
    hess[:, 1, 0] -= means[1]
    hess[:, 1, 1] *= 1.0 + 1.0 / rho
    hess[:, 2, 3] -= means[3]
    hess[:, 3, 2] -= means[3]
    hess[:, 3, 3] *= 1.0 + 1.0 / sigma
    return grad, hess


def _quadrature(
    theta: Params, x: FloatArray, y: FloatArray, edges: FloatArray, *, order: int
) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
    """Gauss-Legendre on the pieces between ``edges`` (rows: pairs)."""
    r, alpha, s, beta = theta
    rho = r + x
    sigma = s + 1.0
    a = r + s + x
    alpha_big = alpha >= beta
    big, small = (alpha, beta) if alpha_big else (beta, alpha)
    p = big + y
    z = (big - small) / p
    omz = (small + y) / p
    b = sigma if alpha_big else rho
    half = np.diff(edges, axis=1) / 2.0  # (n, panels)
    mid = (edges[:, 1:] + edges[:, :-1]) / 2.0
    v = (mid[:, :, None] + half[:, :, None] * _NODES).reshape(len(x), -1)
    w = (half[:, :, None] * _WEIGHTS).reshape(len(x), -1)
    one_minus = omz[:, None] - z[:, None] * np.expm1(-v)  # 1 - z e^-v
    log_small = np.log(one_minus)
    log_omz = np.log(omz)
    log_p = np.log(p)
    b_col = b[:, None] if isinstance(b, np.ndarray) else b
    # The weights exp(-phi), phi = a v + b (log_small - log(1 - z)), built in place.
    weight = log_small - log_omz[:, None]
    weight *= b_col
    weight += a[:, None] * v
    np.negative(weight, out=weight)
    np.exp(weight, out=weight)
    weight *= w
    total = weight.sum(axis=1)
    log_f = -a * log_p - b * log_omz + np.log(total)
    if order == 0:
        return log_f, None, None
    prob = weight
    prob /= total[:, None]
    grad, hess = _moments(
        prob, v, log_p, log_small, one_minus, rho=rho, sigma=sigma, alpha_big=alpha_big, order=order
    )
    return log_f, grad, hess


# --------------------------------------------------------------------------------------
# Likelihood
# --------------------------------------------------------------------------------------


def _log_i(
    tail_x: Tail, tail_t: Tail, kx: IntArray, kt: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray | None, FloatArray | None]:
    """Return log I = log(F(tx) - F(T)) per row, 1 - F(T) / F(tx), and I's derivatives / I."""
    lfx = tail_x.log_f[kx]
    lft = tail_t.log_f[kt]
    q = np.exp(np.minimum(lft - lfx, 0.0))
    one_minus_q = -np.expm1(np.minimum(lft - lfx, 0.0))
    with np.errstate(divide="ignore"):
        log_i = lfx + np.log(one_minus_q)
    grad = hess = None
    if tail_x.grad is not None and tail_t.grad is not None:
        safe = np.where(one_minus_q > 0, one_minus_q, 1.0)
        grad = (tail_x.grad[kx] - q[:, None] * tail_t.grad[kt]) / safe[:, None]
        if tail_x.hess is not None and tail_t.hess is not None:
            hess = (tail_x.hess[kx] - q[:, None, None] * tail_t.hess[kt]) / safe[:, None, None]
    return log_i, one_minus_q, grad, hess


def _alive_term(theta: Params, x: FloatArray, T: FloatArray) -> FloatArray:  # noqa: N803
    """Log of (alpha + T)^-(r + x) (beta + T)^-s, relative to alpha^-r beta^-s."""
    r, alpha, s, beta = theta
    result: FloatArray = -r * np.log1p(T / alpha) - x * np.log(alpha + T) - s * np.log1p(T / beta)
    return result


def _dropped_term(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803
) -> FloatArray:
    """Log of s I(tx, T), relative to alpha^-r beta^-s (-inf where tx = T)."""
    r, alpha, s, beta = theta
    (xp, tp), kx = group_rows([x, tx])
    (xq, tq), kt = group_rows([x, T])
    log_i, _, _, _ = _log_i(tail(theta, xp, tp), tail(theta, xq, tq), kx, kt)
    result: FloatArray = math.log(s) + log_i + r * math.log(alpha) + s * math.log(beta)
    return result


def pareto_log_likelihood(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
) -> FloatArray:
    """Per-customer Pareto/NBD log-likelihood (Fader and Hardie's note, eq. 18)."""
    r = theta[0]
    common = gammaln(r + x) - gammaln(r)
    result: FloatArray = common + np.logaddexp(
        _alive_term(theta, x, T), _dropped_term(theta, x, tx, T)
    )
    return result


def pareto_probability_alive(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
) -> FloatArray:
    """P(alive | x, tx, T): the share of the likelihood's first term (note, eq. 21)."""
    gap = _dropped_term(theta, x, tx, T) - _alive_term(theta, x, T)
    with np.errstate(over="ignore"):
        result: FloatArray = 1.0 / (1.0 + np.exp(gap))
    return result


class ParetoData(NamedTuple):
    """Weighted rows with their (x, tx) and (x, T) pairs, built by :func:`prepare_pareto`."""

    x: FloatArray
    tx: FloatArray
    T: FloatArray
    weight: FloatArray
    x_tx: FloatArray
    tx_pairs: FloatArray
    kx: IntArray
    x_age: FloatArray
    age_pairs: FloatArray
    kt: IntArray
    x_distinct: FloatArray
    x_totals: FloatArray


def prepare_pareto(
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
    weight: FloatArray,
) -> ParetoData:
    """Group the rows' (x, tx) and (x, T) pairs: F is evaluated once per pair."""
    (x_tx, tx_pairs), kx = group_rows([x, tx])
    (x_t, t_pairs), kt = group_rows([x, T])
    x_distinct, index = np.unique(x, return_inverse=True)
    x_totals = np.bincount(index.ravel(), weights=weight, minlength=len(x_distinct)).astype(
        np.float64, copy=False
    )
    return ParetoData(
        x=x,
        tx=tx,
        T=T,
        weight=weight,
        x_tx=x_tx,
        tx_pairs=tx_pairs,
        kx=kx,
        x_age=x_t,
        age_pairs=t_pairs,
        kt=kt,
        x_distinct=x_distinct,
        x_totals=x_totals,
    )


def _by_count(function: Callable[[FloatArray], FloatArray], data: ParetoData) -> float:
    """Return sum_i n_i function(x_i), evaluating ``function`` once per distinct x."""
    return float(np.dot(data.x_totals, function(data.x_distinct)))


def _hessian(
    theta: Params,
    data: ParetoData,
    tails: tuple[Tail, Tail],
    *,
    weights: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray],
    gradients: tuple[FloatArray, FloatArray, FloatArray],
    inverses: tuple[FloatArray, FloatArray],
) -> FloatArray:
    """Sum the Hessian of :func:`pareto_derivatives` over the rows (the mixture rule)."""
    r, alpha, s, beta = theta
    x, n = data.x, data.weight
    tail_x, tail_t = tails
    assert tail_x.hess is not None
    assert tail_t.hess is not None
    nw1, nw2, w1w2n, q_over, inv_safe = weights
    g1, g2, g_i = gradients
    inv_at, inv_bt = inverses
    # e1's Hessian is sparse.
    hess = np.zeros((4, 4))
    total1 = float(nw1.sum())
    m_at = float(np.dot(nw1, inv_at))
    m_bt = float(np.dot(nw1, inv_bt))
    rho_at = inv_at * inv_at
    rho_at *= r + x
    hess[0, 1] = hess[1, 0] = total1 / alpha - m_at
    hess[1, 1] = -r * total1 / alpha**2 + float(np.dot(nw1, rho_at))
    hess[2, 3] = hess[3, 2] = total1 / beta - m_bt
    hess[3, 3] = -s * total1 / beta**2 + s * float(np.dot(nw1, inv_bt * inv_bt))
    # e2's: I''/I - g_I g_I' (g_I: g2 less its constants), plus the constants'.
    to_x = np.bincount(data.kx, weights=nw2 * inv_safe, minlength=len(tail_x.log_f))
    to_t = np.bincount(data.kt, weights=nw2 * q_over, minlength=len(tail_t.log_f))
    hess += np.einsum("p,pjk->jk", to_x, tail_x.hess) - np.einsum("p,pjk->jk", to_t, tail_t.hess)
    hess -= (g_i * nw2[:, None]).T @ g_i
    total2 = float(nw2.sum())
    hess[0, 1] += total2 / alpha
    hess[1, 0] += total2 / alpha
    hess[1, 1] += -r * total2 / alpha**2
    hess[2, 2] += -total2 / s**2
    hess[2, 3] += total2 / beta
    hess[3, 2] += total2 / beta
    hess[3, 3] += -s * total2 / beta**2
    # The mixture: w1 w2 (g1 - g2)(g1 - g2)'.
    diff = g1 - g2
    hess += (diff * w1w2n[:, None]).T @ diff
    hess[0, 0] += _by_count(lambda v: trigamma(r + v), data) - float(n.sum()) * float(trigamma(r))
    result: FloatArray = hess
    return result


def pareto_derivatives(theta: Params, data: ParetoData) -> Derivatives:
    """Weighted log-likelihood, gradient and Hessian with respect to (r, alpha, s, beta).

    log L = log C + logaddexp(e1, e2) with e1 the "alive at T" term and
    e2 = log s + log I; the mixture rule as in the BG/NBD, and the derivatives of
    log I from the quadrature moments of F at tx and at T. I''/I is a combination of
    the pairs' second moments, so its weighted sum is taken per pair, not per row.
    """
    r, alpha, s, beta = theta
    x, T, n = data.x, data.T, data.weight  # noqa: N806 (the paper's symbol)
    kx, kt = data.kx, data.kt
    tail_x = tail(theta, data.x_tx, data.tx_pairs, order=2)
    tail_t = tail(theta, data.x_age, data.age_pairs, order=2)
    assert tail_x.grad is not None
    assert tail_t.grad is not None
    assert tail_x.hess is not None
    assert tail_t.hess is not None
    lfx = tail_x.log_f[kx]
    ratio = np.minimum(tail_t.log_f[kt] - lfx, 0.0)
    q = np.exp(ratio)
    one_minus_q = -np.expm1(ratio)
    dropped = one_minus_q > 0  # tx < T: the second term exists
    safe = np.where(dropped, one_minus_q, 1.0)
    inv_safe = 1.0 / safe
    with np.errstate(divide="ignore"):
        log_i = lfx + np.log(one_minus_q)
    # g_I = I' / I (rows x 4); finite where tx = T (F(tx) = F(T), both gradients equal).
    g_i = tail_t.grad[kt]
    g_i *= -q[:, None]
    g_i += tail_x.grad[kx]
    g_i *= inv_safe[:, None]

    # e1 = _alive_term, its pieces kept for the gradient and Hessian.
    log_at = np.log1p(T / alpha)
    log_bt = np.log1p(T / beta)
    e1 = -r * log_at - x * np.log(alpha + T) - s * log_bt
    e2 = math.log(s) + log_i + r * math.log(alpha) + s * math.log(beta)
    # logaddexp(e1, e2) and e2's share w2 from one exponential (e2 = -inf: w2 = 0).
    gap = e1 - e2
    small_share = np.exp(-np.abs(gap))
    w2 = np.where(gap >= 0.0, small_share, 1.0) / (1.0 + small_share)
    w1 = 1.0 - w2
    value = (
        _by_count(lambda v: np.asarray(gammaln(r + v), dtype=np.float64), data)
        - float(n.sum()) * float(gammaln(r))
        + float(np.dot(n, np.maximum(e1, e2) + np.log1p(small_share)))
    )

    # Gradients of e1 and e2 (rows x 4), the factors alpha^r beta^s included.
    inv_at = 1.0 / (alpha + T)
    inv_bt = 1.0 / (beta + T)
    g1 = np.empty((len(x), 4))
    np.negative(log_at, out=g1[:, 0])
    g1[:, 1] = r / alpha - (r + x) * inv_at
    np.negative(log_bt, out=g1[:, 2])
    g1[:, 3] = s / beta - s * inv_bt
    g2 = g_i + np.array([math.log(alpha), r / alpha, 1.0 / s + math.log(beta), s / beta])
    g2[~dropped] = 0.0
    nw1 = n * w1
    nw2 = n * w2
    grad = nw1 @ g1 + nw2 @ g2
    grad[0] += _by_count(lambda v: np.asarray(digamma(r + v), dtype=np.float64), data) - float(
        n.sum()
    ) * float(digamma(r))

    hess = _hessian(
        theta,
        data,
        (tail_x, tail_t),
        weights=(nw1, nw2, nw1 * w2, q * inv_safe, inv_safe),
        gradients=(g1, g2, g_i),
        inverses=(inv_at, inv_bt),
    )
    return Derivatives(value=value, gradient=grad, hessian=hess)


# --------------------------------------------------------------------------------------
# Predictions
# --------------------------------------------------------------------------------------


def _power_share(s: float, log_ratio: FloatArray) -> FloatArray:
    """Return (1 - exp(-(s - 1) L)) / (s - 1) for L >= 0, and its limit L at s = 1."""
    k = s - 1.0
    small = np.abs(k * log_ratio) < 1e-8
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = -np.expm1(-k * log_ratio) / k if k != 0 else log_ratio
    series = log_ratio * (1.0 - k * log_ratio / 2.0)
    result: FloatArray = np.where(small, series, exact)
    return result


def pareto_expected_purchases(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
    t: float,
) -> FloatArray:
    """E[Y(t) | x, tx, T] (Schmittlein et al. 1987, eq. 22; the note's eq. 27).

    P(alive) (r + x)(beta + T) / ((alpha + T)(s - 1)) [1 - ((beta + T) / (beta + T + t))^(s - 1)],
    with the limit (r + x)(beta + T) / (alpha + T) log(1 + t / (beta + T)) at s = 1.
    """
    r, alpha, s, beta = theta
    alive = pareto_probability_alive(theta, x, tx, T)
    share = _power_share(s, np.log1p(t / (beta + T)))
    result: FloatArray = alive * (r + x) * (beta + T) / (alpha + T) * share
    return result


def pareto_expected_purchases_new(theta: Params, t: FloatArray) -> FloatArray:
    """E[X(t)] = r beta / (alpha (s - 1)) [1 - (beta / (beta + t))^(s - 1)] (note, eq. 17)."""
    r, alpha, s, beta = theta
    result: FloatArray = r * beta / alpha * _power_share(s, np.log1p(t / beta))
    return result
