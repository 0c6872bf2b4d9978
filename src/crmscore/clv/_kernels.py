"""Pure-numpy likelihoods, derivatives and predictions of BG/NBD and Gamma-Gamma.

Nothing here sees pandas or validates input: the public modules do that. Every
function takes the model parameters as floats and the customers' sufficient
statistics as float64 arrays of equal length.

Notation follows Fader, Hardie and Lee (2005): ``x`` repeat purchases, ``tx``
recency, ``T`` age; BG/NBD parameters ``r, alpha, a, b``; Gamma-Gamma parameters
``p, q, v`` and ``m`` the mean spend per repeat purchase.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy.special import betainc, betaln, digamma, expit, gammaln, polygamma

from crmscore._groups import group_rows

if TYPE_CHECKING:
    from collections.abc import Callable

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
#: Model parameters in the paper's order: (r, alpha, a, b) or (p, q, v).
Params: TypeAlias = "tuple[float, ...]"

__all__ = [
    "BGNBDData",
    "Derivatives",
    "GGData",
    "bgnbd_derivatives",
    "bgnbd_log_likelihood",
    "bgnbd_probability_alive",
    "bgnbd_probability_of_purchases",
    "gg_derivatives",
    "gg_derivatives_of",
    "gg_expected_spend",
    "gg_log_likelihood",
    "mbgnbd_log_likelihood",
    "mbgnbd_probability_alive",
    "mbgnbd_probability_of_purchases",
    "prepare_bgnbd",
    "prepare_gg",
    "trigamma",
]


class Derivatives(NamedTuple):
    """Weighted total log-likelihood, its gradient and Hessian in natural parameters."""

    value: float
    gradient: FloatArray
    hessian: FloatArray


def trigamma(values: FloatArray | float) -> FloatArray:
    return np.asarray(polygamma(1, np.asarray(values, dtype=np.float64)), dtype=np.float64)


def _dot(left: npt.NDArray[Any], right: npt.NDArray[Any] | float) -> float:
    """Sum of products, without BLAS.

    numpy's ``@`` on vectors calls BLAS ``ddot``, which starts threads; on a busy
    machine waiting for them costs milliseconds per call, far more than the
    arithmetic. einsum's own loop does not.
    """
    return float(np.einsum("i,i->", left, np.broadcast_to(right, left.shape)))


def _on_counts(
    function: Callable[[FloatArray], FloatArray], x: FloatArray, *, shift: float, scale: float = 1.0
) -> FloatArray:
    """``function(shift + scale * x)`` for whole numbers x, once per distinct x.

    Frequencies take few distinct values, and special functions dominate the cost of
    a likelihood evaluation: evaluating them on 0..max(x) and indexing is much faster
    whenever max(x) is small next to the number of rows.
    """
    top = int(x.max()) if x.size else 0
    if top < x.size // 4:
        grid = function(shift + scale * np.arange(top + 1, dtype=np.float64))
        return np.asarray(grid, dtype=np.float64)[x.astype(np.intp)]
    return np.asarray(function(shift + scale * x), dtype=np.float64)


# --------------------------------------------------------------------------------------
# BG/NBD likelihood
# --------------------------------------------------------------------------------------


class _Terms(NamedTuple):
    """The two terms of the BG/NBD likelihood (6) of Fader, Hardie and Lee (2005).

    ``e1`` is the log of the "alive at T" term, ``e2`` that of the "dropped out right
    after the last purchase" term (``-inf`` when x = 0), both without the factors
    the terms share; ``alive`` = ``exp(e1 - logaddexp(e1, e2))`` is P(alive), and
    ``b_x1`` = b + x - 1 (kept positive where x = 0, where it is unused).
    """

    e1: FloatArray
    e2: FloatArray
    alive: FloatArray
    b_x1: FloatArray


def _terms(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
) -> _Terms:
    r, alpha, a, b = theta
    # r ln(alpha) - (r + x) ln(alpha + T), written so that a large alpha loses nothing.
    e1 = -r * np.log1p(T / alpha) - x * np.log(alpha + T)
    b_x1 = b + np.maximum(x, 1.0) - 1.0
    e2 = np.where(
        x > 0,
        np.log(a) - np.log(b_x1) - r * np.log1p(tx / alpha) - x * np.log(alpha + tx),
        -np.inf,
    )
    # Where x = 0 the second term is absent (not merely small): P(alive) is 1 exactly.
    alive = expit(e1 - e2)
    return _Terms(e1=e1, e2=e2, alive=alive, b_x1=b_x1)


def _common_terms(theta: Params, x: FloatArray) -> FloatArray:
    """Return ln [Gamma(r + x) B(a, b + x) / (Gamma(r) B(a, b))], shared by both terms."""
    r, _, a, b = theta
    return (
        _on_counts(gammaln, x, shift=r)
        - gammaln(r)
        + _on_counts(lambda bv: np.asarray(betaln(a, bv), dtype=np.float64), x, shift=b)
        - betaln(a, b)
    )


def bgnbd_log_likelihood(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
) -> FloatArray:
    """Per-customer BG/NBD log-likelihood, equation (6) in log space."""
    terms = _terms(theta, x, tx, T)
    common = _common_terms(theta, x)
    result: FloatArray = common + np.logaddexp(terms.e1, terms.e2)
    return result


class BGNBDData(NamedTuple):
    """Weighted BG/NBD statistics arranged so that each evaluation is cheap.

    The likelihood's "alive" term depends on a customer's (x, T) only and its
    "dropped out" term on (x, tx) only, and the common factors on x only: each is
    evaluated once per distinct pair (or value) and gathered, and the sums over
    customers become sums over those groups. Built by :func:`prepare_bgnbd`.
    """

    x: FloatArray
    """Distinct frequencies."""
    weight_x: FloatArray
    """Total weight of each distinct frequency."""
    x1: FloatArray
    """Frequencies of the distinct (x, T) pairs."""
    age1: FloatArray
    """Ages T of the distinct (x, T) pairs."""
    weight1: FloatArray
    """Total weight of each (x, T) pair."""
    x2: FloatArray
    """Frequencies of the distinct (x, tx) pairs."""
    recency2: FloatArray
    """Recencies of the distinct (x, tx) pairs."""
    k1: IntArray
    """Per row: its (x, T) pair."""
    k2: IntArray
    """Per row: its (x, tx) pair."""
    weight: FloatArray
    """Per row: its weight (number of customers)."""


def prepare_bgnbd(
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
    weight: FloatArray,
) -> BGNBDData:
    """Arrange weighted rows (x whole numbers) for :func:`bgnbd_derivatives`."""
    (x_values,), kx = group_rows([x])
    (x1, age1), k1 = group_rows([x, T])
    (x2, recency2), k2 = group_rows([x, tx])
    return BGNBDData(
        x=x_values,
        weight_x=np.bincount(kx, weights=weight, minlength=len(x_values)).astype(np.float64),
        x1=x1,
        age1=age1,
        weight1=np.bincount(k1, weights=weight, minlength=len(x1)).astype(np.float64),
        x2=x2,
        recency2=recency2,
        k1=k1,
        k2=k2,
        weight=weight,
    )


def _shared_derivatives(theta: Params, data: BGNBDData, *, shift: float = 0.0) -> tuple[float, ...]:
    """Sum the factors both likelihood terms share (functions of x), with derivatives.

    The factors are Gamma(r + x) B(a, b + x + shift) / (Gamma(r) B(a, b)); ``shift``
    is 0 for the BG/NBD and 1 for the MBG/NBD. Returns the log-likelihood part, then
    the derivatives in r, a, b (first order) and in (r, r), (a, a) = (a, b), (b, b)
    (second order).
    """
    r, _, a, b = theta
    x, n_x = data.x, data.weight_x
    xb = x + shift
    psi_ab, tri_ab = float(digamma(a + b)), float(trigamma(a + b))
    shared = _dot(n_x, (gammaln(r + x) - gammaln(r) + betaln(a, b + xb) - betaln(a, b)))
    psi_a = _dot(n_x, (psi_ab - digamma(a + b + xb)))
    tri_a = _dot(n_x, (tri_ab - trigamma(a + b + xb)))
    return (
        float(shared),
        float(_dot(n_x, (digamma(r + x) - digamma(r)))),
        float(psi_a),
        float(_dot(n_x, (digamma(b + xb) - digamma(b))) + psi_a),
        _dot(n_x, trigamma(r + x) - float(trigamma(r))),
        float(tri_a),
        _dot(n_x, trigamma(b + xb) - float(trigamma(b))) + tri_a,
    )


def _outer_sums(
    mixed: FloatArray, d_r: FloatArray, d_al: FloatArray, d_b: FloatArray
) -> tuple[float, ...]:
    """Weighted sums of the products of d = (d_r, d_alpha, ., d_b) the Hessian needs."""
    mixed_r = mixed * d_r
    mixed_al = mixed * d_al
    return (
        float(_dot(mixed_r, d_r)),
        float(_dot(mixed_r, d_al)),
        float(_dot(mixed_r, d_b)),
        float(_dot(mixed_al, d_al)),
        float(_dot(mixed_al, d_b)),
        float(mixed_r.sum()),
        float(mixed_al.sum()),
    )


def bgnbd_derivatives(theta: Params, data: BGNBDData, *, modified: bool = False) -> Derivatives:
    """Weighted log-likelihood, gradient and Hessian with respect to (r, alpha, a, b).

    With L = logaddexp(e1, e2) and w1 = P(alive), w2 = 1 - w1, the mixture rule
    gives grad L = w1 grad e1 + w2 grad e2 and
    hess L = w1 hess e1 + w2 hess e2 + w1 w2 d d' with d = grad e1 - grad e2.
    e1 and its derivatives are functions of (x, T), e2's of (x, tx): they are
    evaluated per distinct pair; only the mixture weights are per row.

    ``modified`` gives the MBG/NBD of Batislam, Denizel and Filiztekin (2007): the
    shared factor is B(a, b + x + 1) / B(a, b), the dropout term a / (b + x) and it
    is present at x = 0 too (a customer may drop out at time zero).
    """
    r, alpha, a, b = theta
    shared, psi_r, psi_a, psi_b, tri_r, tri_a, tri_b = _shared_derivatives(
        theta, data, shift=1.0 if modified else 0.0
    )

    # The "alive at T" term on the (x, T) pairs.
    x1, age1 = data.x1, data.age1
    grow1 = alpha * (alpha + age1)
    e1 = -r * np.log1p(age1 / alpha) - x1 * np.log(alpha + age1)
    e1_r = -np.log1p(age1 / alpha)
    e1_al = (r * age1 - x1 * alpha) / grow1
    e1_ral = age1 / grow1
    e1_alal = (x1 * alpha**2 - r * age1 * (2 * alpha + age1)) / grow1**2
    # The "dropped out after the last purchase" term on the (x, tx) pairs.
    x2, rec2 = data.x2, data.recency2
    # 1 / (b + x) in the MBG/NBD; 1 / (b + x - 1) in the BG/NBD, unused there where x = 0.
    inv_bx = 1.0 / (b + x2) if modified else 1.0 / (b + np.maximum(x2, 1.0) - 1.0)
    grow2 = alpha * (alpha + rec2)
    e2 = np.where(
        (x2 > 0) | modified,
        np.log(a) + np.log(inv_bx) - r * np.log1p(rec2 / alpha) - x2 * np.log(alpha + rec2),
        -np.inf,
    )
    e2_r = -np.log1p(rec2 / alpha)
    e2_al = (r * rec2 - x2 * alpha) / grow2
    e2_ral = rec2 / grow2
    e2_alal = (x2 * alpha**2 - r * rec2 * (2 * alpha + rec2)) / grow2**2

    # Mixture weights per row: w2 = 1 - P(alive) (0 where x = 0).
    k1, k2, n = data.k1, data.k2, data.weight
    gap = e1[k1] - e2[k2]
    w2 = expit(-gap)
    dropped = n * w2  # n w2
    mixed = dropped * (1.0 - w2)  # n w1 w2
    value = shared + _dot(data.weight1, e1) + _dot(n, np.logaddexp(0.0, -gap))
    dropped1 = np.bincount(k1, weights=dropped, minlength=len(x1))
    dropped2 = np.bincount(k2, weights=dropped, minlength=len(x2))
    mixed2 = np.bincount(k2, weights=mixed, minlength=len(x2))
    alive1 = data.weight1 - dropped1
    total_dropped = float(dropped.sum())

    grad = np.array(
        [
            psi_r + _dot(alive1, e1_r) + _dot(dropped2, e2_r),
            _dot(alive1, e1_al) + _dot(dropped2, e2_al),
            psi_a + total_dropped / a,
            psi_b - _dot(dropped2, inv_bx),
        ]
    )
    s_rr, s_ral, s_rb, s_alal, s_alb, s_r, s_al = _outer_sums(
        mixed, e1_r[k1] - e2_r[k2], e1_al[k1] - e2_al[k2], inv_bx[k2]
    )
    s_total = float(mixed.sum())
    s_bb = _dot(mixed2, inv_bx**2)
    s_b = _dot(mixed2, inv_bx)

    hess = np.empty((4, 4))
    hess[0, 0] = tri_r + s_rr
    hess[0, 1] = _dot(alive1, e1_ral) + _dot(dropped2, e2_ral) + s_ral
    hess[1, 1] = _dot(alive1, e1_alal) + _dot(dropped2, e2_alal) + s_alal
    hess[0, 2] = -s_r / a
    hess[0, 3] = s_rb
    hess[1, 2] = -s_al / a
    hess[1, 3] = s_alb
    hess[2, 2] = tri_a - total_dropped / a**2 + s_total / a**2
    hess[2, 3] = tri_a - s_b / a
    hess[3, 3] = tri_b + _dot(dropped2, inv_bx**2) + s_bb
    hess = np.triu(hess) + np.triu(hess, 1).T
    return Derivatives(value=float(value), gradient=grad, hessian=hess)


# --------------------------------------------------------------------------------------
# BG/NBD predictions
# --------------------------------------------------------------------------------------


def bgnbd_probability_alive(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
) -> FloatArray:
    """P(alive | x, tx, T), from Fader, Hardie and Lee's note on P(alive) in the BG/NBD.

    1 / (1 + a / (b + x - 1) ((alpha + T) / (alpha + tx))^(r + x)) for x > 0, and 1
    for x = 0; the ratio's log is log1p((T - tx) / (alpha + tx)), exact for T near tx.
    """
    r, alpha, a, b = theta
    log_b_x1 = _on_counts(lambda v: np.log(b + np.maximum(v, 1.0) - 1.0), x, shift=0.0)
    log_odds = math.log(a) - log_b_x1 + (r + x) * np.log1p((T - tx) / (alpha + tx))
    # 1 / (1 + exp(.)) in place rather than scipy's expit: faster on a million rows,
    # the same values to 1e-15 relative, and 0 where exp overflows, as expit gives.
    alive = log_odds
    with np.errstate(over="ignore"):
        np.exp(alive, out=alive)
    alive += 1.0
    np.reciprocal(alive, out=alive)
    alive[x <= 0] = 1.0
    return alive


def bgnbd_probability_of_purchases(
    theta: Params,
    n: FloatArray,
    t: FloatArray,
) -> FloatArray:
    """P(X(t) = n) for a new customer, equation (8) of Fader, Hardie and Lee (2005).

    The paper's finite sum 1 - (alpha / (alpha + t))^r sum_{j<n} ... is the upper tail
    of a negative binomial, computed as the regularised incomplete beta function
    I_{t / (alpha + t)}(n, r): no loop over j, no overflowing gamma functions.
    """
    r, alpha, a, b = theta
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf where t = 0
        log_share = np.where(n > 0, n * (np.log(t) - np.log(alpha + t)), 0.0)
    first = np.exp(
        betaln(a, b + n)
        - betaln(a, b)
        + gammaln(r + n)
        - gammaln(r)
        - gammaln(n + 1)
        - r * np.log1p(t / alpha)
        + log_share
    )
    repeat = n > 0
    safe_n = np.where(repeat, n, 1.0)
    second = np.where(
        repeat,
        np.exp(betaln(a + 1, b + safe_n - 1) - betaln(a, b)) * betainc(safe_n, r, t / (alpha + t)),
        0.0,
    )
    result: FloatArray = first + second
    return result


# --------------------------------------------------------------------------------------
# MBG/NBD (Batislam, Denizel and Filiztekin 2007)
# --------------------------------------------------------------------------------------


def mbgnbd_log_likelihood(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
) -> FloatArray:
    """Per-customer MBG/NBD log-likelihood in log space.

    Gamma(r + x) alpha^r B(a, b + x + 1) / (Gamma(r) B(a, b)) times
    [(alpha + T)^-(r + x) + a / (b + x) (alpha + tx)^-(r + x)]: the BG/NBD's
    likelihood with a dropout opportunity at time zero, so the second term is
    present for every x (Batislam et al. 2007, appendix; Wagner and Hoppe 2008).
    """
    r, alpha, a, b = theta
    e1 = -r * np.log1p(T / alpha) - x * np.log(alpha + T)
    log_bx = _on_counts(np.log, x, shift=b)
    e2 = math.log(a) - log_bx - r * np.log1p(tx / alpha) - x * np.log(alpha + tx)
    common = (
        _on_counts(gammaln, x, shift=r)
        - gammaln(r)
        + _on_counts(lambda bv: np.asarray(betaln(a, bv), dtype=np.float64), x, shift=b + 1.0)
        - betaln(a, b)
    )
    result: FloatArray = common + np.logaddexp(e1, e2)
    return result


def mbgnbd_probability_alive(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
) -> FloatArray:
    """P(alive | x, tx, T) = 1 / (1 + a / (b + x) ((alpha + T) / (alpha + tx))^(r + x)).

    Batislam et al. (2007), appendix A, equation (5); below 1 also at x = 0. The
    ratio's log is log1p((T - tx) / (alpha + tx)), exact for T near tx.
    """
    r, alpha, a, b = theta
    # In place, and 1 / (1 + exp(.)) rather than scipy's expit (several times slower
    # on a million rows); exp overflows to inf exactly where P(alive) is 0.
    odds = T - tx
    odds /= alpha + tx
    np.log1p(odds, out=odds)
    odds *= r + x
    odds += math.log(a)
    odds -= _on_counts(np.log, x, shift=b)
    with np.errstate(over="ignore"):
        np.exp(odds, out=odds)
    odds += 1.0
    result: FloatArray = np.reciprocal(odds, out=odds)
    return result


def mbgnbd_probability_of_purchases(
    theta: Params,
    n: FloatArray,
    t: FloatArray,
) -> FloatArray:
    """P(X(t) = n) for a new MBG/NBD customer.

    B(a, b + n + 1) / B(a, b) NB(n; r, alpha, t) + B(a + 1, b + n) / B(a, b) P(N(t) >= n),
    with NB the negative binomial (Poisson-gamma) probability and its upper tail the
    regularised incomplete beta function I_{t / (alpha + t)}(n, r) (1 at n = 0: a
    customer who drops out at time zero makes no purchase).
    """
    r, alpha, a, b = theta
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf where t = 0
        log_share = np.where(n > 0, n * (np.log(t) - np.log(alpha + t)), 0.0)
    first = np.exp(
        betaln(a, b + n + 1)
        - betaln(a, b)
        + gammaln(r + n)
        - gammaln(r)
        - gammaln(n + 1)
        - r * np.log1p(t / alpha)
        + log_share
    )
    safe_n = np.where(n > 0, n, 1.0)
    tail = np.where(n > 0, betainc(safe_n, r, t / (alpha + t)), 1.0)
    result: FloatArray = first + np.exp(betaln(a + 1, b + n) - betaln(a, b)) * tail
    return result


# --------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------


def gg_log_likelihood(
    theta: Params,
    x: FloatArray,
    m: FloatArray,
) -> FloatArray:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend m over x purchases.

    Equation (1a) of Fader, Hardie and Lee's note "The Gamma-Gamma model of monetary
    value" (2013), with the logs of ratios written as ``log1p`` (large v loses nothing).
    """
    p, q, v = theta
    k = p * x
    s = x * m
    lbeta = _on_counts(
        lambda kv: np.asarray(betaln(kv, q), dtype=np.float64), x, shift=0.0, scale=p
    )
    result: FloatArray = -lbeta - np.log(m) - q * np.log1p(s / v) - k * np.log1p(v / s)
    return result


class GGData(NamedTuple):
    """Weighted Gamma-Gamma statistics arranged so that each evaluation is cheap.

    The terms that depend on a customer's frequency only (the beta function and its
    derivatives in p and q) are evaluated once per distinct frequency and weighted
    by the total weight of that frequency; what does not depend on the parameters
    (the spend sums ``x m`` and their reciprocals, the sum of ``log m``) is computed
    once. Built by :func:`prepare_gg`.
    """

    x: FloatArray
    """Distinct frequencies."""
    weight_x: FloatArray
    """Total weight of each distinct frequency."""
    weight: FloatArray
    """Per row: its weight (number of customers)."""
    weight_freq: FloatArray
    """Per row: its weight times its frequency."""
    spend: FloatArray
    """Per row: its total repeat spend s = x m."""
    inverse_spend: FloatArray
    """Per row: 1 / s."""
    log_mean: float
    """The weighted sum of log m (the value's term free of parameters)."""


def prepare_gg(x: FloatArray, m: FloatArray, weight: FloatArray) -> GGData:
    """Arrange weighted rows (x whole numbers >= 1, m > 0) for :func:`gg_derivatives_of`."""
    (x_values,), kx = group_rows([x])
    spend = x * m
    return GGData(
        x=x_values,
        weight_x=np.bincount(kx, weights=weight, minlength=len(x_values)).astype(np.float64),
        weight=weight,
        weight_freq=weight * x,
        spend=spend,
        inverse_spend=1.0 / spend,
        log_mean=_dot(weight, np.log(m)),
    )


def gg_derivatives(
    theta: Params,
    x: FloatArray,
    m: FloatArray,
    weight: FloatArray,
) -> Derivatives:
    """Weighted Gamma-Gamma log-likelihood, gradient and Hessian in (p, q, v).

    :func:`prepare_gg` then :func:`gg_derivatives_of`; a fit prepares once.
    """
    return gg_derivatives_of(theta, prepare_gg(x, m, weight))


def gg_derivatives_of(theta: Params, data: GGData) -> Derivatives:
    """Weighted Gamma-Gamma log-likelihood, gradient and Hessian in (p, q, v).

    Per customer, with k = p x, s = x m, A = log1p(s / v), B = log1p(v / s),
    R = 1 / (s + v) and t = s R (in [0, 1), no cancellation):

    - value: -ln B(k, q) - ln m - q A - k B;
    - gradient: x (psi(k + q) - psi(k) - B), psi(k + q) - psi(q) - A, (q / v) t - p x R;
    - Hessian: x^2 (psi'(k + q) - psi'(k)), x psi'(k + q), -x R, psi'(k + q) - psi'(q),
      t / v, p x R^2 - (q / v^2) t (2 - t).

    The terms in x alone are summed per distinct frequency; the rest are six
    weighted sums over the rows.
    """
    p, q, v = theta
    xs, n_x = data.x, data.weight_x
    k = p * xs
    # Terms of the frequency alone, once per distinct x.
    psi_kq = digamma(k + q)
    tri_kq = trigamma(k + q)
    psi_diff = psi_kq - digamma(k)
    tri_diff = tri_kq - trigamma(k)
    lbeta = _dot(n_x, np.asarray(betaln(k, q), dtype=np.float64))
    n_xs = n_x * xs
    # Terms per row.
    w, wx, s = data.weight, data.weight_freq, data.spend
    reciprocal = s + v
    np.reciprocal(reciprocal, out=reciprocal)  # R
    share = s * reciprocal  # t
    log_s_v = np.log1p(s * (1.0 / v))  # A
    log_v_s = np.log1p(data.inverse_spend * v)  # B
    sum_a = _dot(w, log_s_v)
    sum_xb = _dot(wx, log_v_s)
    sum_t = _dot(w, share)
    sum_xr = _dot(wx, reciprocal)
    sum_xr2 = _dot(wx * reciprocal, reciprocal)
    share *= 2.0 - share  # t (2 - t)
    sum_t2 = _dot(w, share)

    value = -lbeta - data.log_mean - q * sum_a - p * sum_xb
    grad = np.array(
        [
            _dot(n_xs, psi_diff) - sum_xb,
            _dot(n_x, psi_kq) - float(digamma(q)) * float(n_x.sum()) - sum_a,
            q / v * sum_t - p * sum_xr,
        ]
    )
    hess = np.empty((3, 3))
    hess[0, 0] = _dot(n_xs * xs, tri_diff)
    hess[0, 1] = hess[1, 0] = _dot(n_xs, tri_kq)
    hess[0, 2] = hess[2, 0] = -sum_xr
    hess[1, 1] = _dot(n_x, tri_kq) - float(trigamma(q)) * float(n_x.sum())
    hess[1, 2] = hess[2, 1] = sum_t / v
    hess[2, 2] = p * sum_xr2 - q / v**2 * sum_t2
    return Derivatives(value=float(value), gradient=grad, hessian=hess)


def gg_expected_spend(
    theta: Params,
    x: FloatArray,
    m: FloatArray,
) -> FloatArray:
    """E[M | x, m] = p (v + x m) / (p x + q - 1), equation (5) of the note.

    The same as the note's weighted average of the population mean p v / (q - 1)
    and the customer's own mean m, but defined for q <= 1 as long as p x + q > 1;
    infinite where that fails (the population mean is then infinite).
    """
    p, q, v = theta
    denominator = p * x + q - 1
    with np.errstate(divide="ignore"):
        result: FloatArray = np.where(
            denominator > 0, p * (v + x * m) / np.where(denominator > 0, denominator, 1.0), np.inf
        )
    return result
