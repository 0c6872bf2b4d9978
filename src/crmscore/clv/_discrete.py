r"""Pure-numpy likelihoods, derivatives and predictions of the discrete-time models.

The BG/BB (Fader, Hardie and Shang 2010) and the shifted-beta-geometric (Fader and
Hardie 2007). Nothing here sees pandas or validates input: :mod:`crmscore.clv.bgbb`
and :mod:`crmscore.clv.sbg` do that. Parameters are floats in the papers' order,
data float64 arrays of equal length.

Every likelihood is a sum of terms that are products of ratios of beta functions;
each term's log is linear in log-gamma functions of the parameters, so its gradient
and Hessian are digamma and trigamma functions, and the row's derivatives follow
from the terms' by the softmax identities

.. math::

    \nabla \log L = \sum_k w_k \nabla \ell_k, \qquad
    \nabla^2 \log L = \sum_k w_k (\nabla^2 \ell_k + \nabla \ell_k
    \nabla \ell_k^\top) - \nabla \log L \, \nabla \log L^\top,

with :math:`w_k = e^{\ell_k} / L`. No finite differences anywhere.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, digamma, gammaln, polygamma

from crmscore.clv._kernels import Derivatives

if TYPE_CHECKING:
    from collections.abc import Callable

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]

__all__ = [
    "BGBBTerms",
    "bgbb_derivatives",
    "bgbb_expected_new",
    "bgbb_expected_transactions",
    "bgbb_log_likelihood",
    "bgbb_probability_alive",
    "bgbb_probability_of_transactions",
    "bgbb_terms",
    "log_ratio_sum",
    "sbg_derivatives",
    "sbg_log_churn",
    "sbg_log_survival",
]

#: Below this distance from 1, ``gamma`` is treated by the Taylor series of
#: :func:`log_ratio_sum`: its error is below 1e-13 relative there, while the
#: closed form loses about 1e-16 / |gamma - 1| to cancellation.
_NEAR_ONE = 1e-4


def _trigamma(values: FloatArray) -> FloatArray:
    return np.asarray(polygamma(1, values), dtype=np.float64)


# --------------------------------------------------------------------------------------
# Beta-function ratios and their derivatives
# --------------------------------------------------------------------------------------


def _log_beta_ratio(a: float, b: float, da: FloatArray, db: FloatArray) -> FloatArray:
    """Return log B(a + da, b + db) - log B(a, b)."""
    return np.asarray(betaln(a + da, b + db) - betaln(a, b), dtype=np.float64)


def _beta_ratio_derivatives(
    a: float, b: float, da: FloatArray, db: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Gradient (d/da, d/db) and Hessian (aa, ab, bb) of :func:`_log_beta_ratio`."""
    s = a + b
    total = s + da + db
    psi_total = digamma(total)
    psi_s = digamma(s)
    ga = digamma(a + da) - psi_total - digamma(a) + psi_s
    gb = digamma(b + db) - psi_total - digamma(b) + psi_s
    tri_total = _trigamma(total)
    tri_s = float(polygamma(1, s))
    hab = tri_s - tri_total
    haa = _trigamma(a + da) - float(polygamma(1, a)) + hab
    hbb = _trigamma(b + db) - float(polygamma(1, b)) + hab
    return ga, gb, haa, hab, np.broadcast_to(hbb, ga.shape).astype(np.float64)


# --------------------------------------------------------------------------------------
# BG/BB (Fader, Hardie and Shang 2010)
# --------------------------------------------------------------------------------------


class BGBBTerms(NamedTuple):
    """The likelihood's terms of every row, flattened.

    Row ``row[k]`` has the terms ``k``; a term is
    ``B(alpha + x, beta + m) / B(alpha, beta) * B(gamma + c, delta + d) / B(gamma, delta)``.
    """

    row: IntArray
    x: FloatArray
    m: FloatArray
    c: FloatArray
    d: FloatArray
    n_rows: int


def bgbb_terms(x: FloatArray, tx: FloatArray, n: FloatArray) -> BGBBTerms:
    """Expand rows (x, t_x, n) into the terms of the likelihood of Fader et al. (2010).

    The first term of a row is the customer alive through all ``n`` opportunities
    (``m = n - x``, ``c = 0``, ``d = n``); then one term per opportunity
    ``i = 0 .. n - t_x - 1`` after the last transaction at which the customer may
    have died (``m = t_x - x + i``, ``c = 1``, ``d = t_x + i``).
    """
    rows = len(x)
    tail = (n - tx).astype(np.int64)
    sizes = tail + 1
    row = np.repeat(np.arange(rows, dtype=np.int64), sizes)
    starts = np.cumsum(sizes) - sizes
    # Position of each term within its row: 0 for the "alive" term, then 1 .. tail.
    position = np.arange(row.size, dtype=np.int64) - np.repeat(starts, sizes)
    i = (position - 1).astype(np.float64)
    alive = position == 0
    xr, txr, nr = x[row], tx[row], n[row]
    m = np.where(alive, nr - xr, txr - xr + i)
    c = np.where(alive, 0.0, 1.0)
    d = np.where(alive, nr, txr + i)
    return BGBBTerms(row=row, x=xr, m=m, c=c, d=d, n_rows=rows)


def _term_logs(theta: tuple[float, ...], terms: BGBBTerms) -> FloatArray:
    alpha, beta, gamma, delta = theta
    return _log_beta_ratio(alpha, beta, terms.x, terms.m) + _log_beta_ratio(
        gamma, delta, terms.c, terms.d
    )


def _row_logsumexp(values: FloatArray, row: IntArray, n_rows: int) -> FloatArray:
    """Return log sum exp(values) per row, stable (no overflow, no underflow to -inf)."""
    top = np.full(n_rows, -np.inf)
    np.maximum.at(top, row, values)
    sums = np.bincount(row, weights=np.exp(values - top[row]), minlength=n_rows)
    return np.asarray(top + np.log(sums), dtype=np.float64)


#: Most likelihood terms expanded at once by the per-row functions (a few arrays of
#: this many float64 values, tens of MB): longer inputs are done in row chunks.
_MAX_TERMS = 1 << 21


def _in_chunks(
    function: Callable[..., FloatArray], sizes: FloatArray, *columns: FloatArray
) -> FloatArray:
    """Apply a per-row ``function`` to row chunks whose term counts (``sizes``) fit.

    The loop is over chunks of rows (one for ordinary inputs), never over customers.
    """
    if sizes.size == 0 or float(sizes.sum()) <= _MAX_TERMS:
        return function(*columns)
    # Chunk k holds the rows whose terms start in [k * _MAX_TERMS, (k + 1) * _MAX_TERMS).
    chunk = (np.cumsum(sizes) - sizes) // _MAX_TERMS
    bounds = [0, *(np.flatnonzero(np.diff(chunk)) + 1).tolist(), sizes.size]
    return np.concatenate(
        [function(*(c[lo:hi] for c in columns)) for lo, hi in itertools.pairwise(bounds)]
    )


def bgbb_log_likelihood(
    theta: tuple[float, ...], x: FloatArray, tx: FloatArray, n: FloatArray
) -> FloatArray:
    """Log-likelihood of each row (x, t_x, n) (Fader, Hardie and Shang 2010)."""

    def rows(x: FloatArray, tx: FloatArray, n: FloatArray) -> FloatArray:
        terms = bgbb_terms(x, tx, n)
        return _row_logsumexp(_term_logs(theta, terms), terms.row, terms.n_rows)

    return _in_chunks(rows, n - tx + 1, x, tx, n)


def bgbb_derivatives(theta: tuple[float, ...], terms: BGBBTerms, counts: FloatArray) -> Derivatives:
    """Total log-likelihood (weighted by ``counts``), its gradient and Hessian."""
    alpha, beta, gamma, delta = theta
    logs = _term_logs(theta, terms)
    row_log = _row_logsumexp(logs, terms.row, terms.n_rows)
    weight = np.exp(logs - row_log[terms.row]) * counts[terms.row]
    ga, gb, haa, hab, hbb = _beta_ratio_derivatives(alpha, beta, terms.x, terms.m)
    gg, gd, hgg, hgd, hdd = _beta_ratio_derivatives(gamma, delta, terms.c, terms.d)
    grads = np.stack([ga, gb, gg, gd], axis=1)
    weighted = grads * weight[:, None]
    gradient = weighted.sum(axis=0)
    # Sum over terms of weight * (H_k + g_k g_k^T), then minus sum over rows of count *
    # g_row g_row^T (g_row the weighted mean of the row's term gradients).
    hessian = np.einsum("ki,kj->ij", weighted, grads)
    blocks = np.array(
        [
            [np.dot(weight, haa), np.dot(weight, hab)],
            [np.dot(weight, hab), np.dot(weight, hbb)],
        ]
    )
    hessian[:2, :2] += blocks
    hessian[2:, 2:] += np.array(
        [
            [np.dot(weight, hgg), np.dot(weight, hgd)],
            [np.dot(weight, hgd), np.dot(weight, hdd)],
        ]
    )
    row_sums = [
        np.bincount(terms.row, weights=weighted[:, j], minlength=terms.n_rows) for j in range(4)
    ]
    row_grad = np.stack(row_sums, axis=1).astype(np.float64) / counts[:, None]
    hessian -= np.einsum("k,ki,kj->ij", counts, row_grad, row_grad)
    return Derivatives(
        value=float(np.dot(counts, row_log)),
        gradient=np.asarray(gradient, dtype=np.float64),
        hessian=(hessian + hessian.T) / 2,
    )


def bgbb_probability_alive(
    theta: tuple[float, ...], x: FloatArray, tx: FloatArray, n: FloatArray, ahead: FloatArray
) -> FloatArray:
    """P(alive at opportunity n + ahead | x, t_x, n): equation (A10)."""
    alpha, beta, gamma, delta = theta
    numerator = _log_beta_ratio(alpha, beta, x, n - x) + _log_beta_ratio(
        gamma, delta, np.zeros_like(n), n + ahead
    )
    return np.asarray(
        np.exp(numerator - bgbb_log_likelihood(theta, x, tx, n)).clip(0.0, 1.0), dtype=np.float64
    )


def log_ratio_sum(gamma: float, base: FloatArray, count: FloatArray) -> FloatArray:
    r"""Return the log of :math:`S = \sum_{j=1}^{N} \Gamma(D + j) / \Gamma(\gamma + D + j)`.

    ``base`` is D (> 0), ``count`` is N (whole, >= 0; -inf where 0). The sum
    telescopes (:math:`\Gamma(D + j) = \Gamma(D + j + 1) - \Gamma(D+j)(D + j)`...):

    .. math::

        S = \frac{1}{\gamma - 1}\left[\frac{\Gamma(D + 1)}{\Gamma(\gamma + D)}
        - \frac{\Gamma(D + N + 1)}{\Gamma(\gamma + D + N)}\right],

    evaluated as :math:`e^{v_1} (-\operatorname{expm1}(v_2 - v_1)) / (\gamma - 1)`;
    within :data:`_NEAR_ONE` of :math:`\gamma = 1`, where that is 0/0, the difference
    :math:`(v_2 - v_1) / (\gamma - 1)` comes from its Taylor series in
    :math:`\varepsilon = \gamma - 1` (digamma, trigamma and tetragamma terms).
    """
    base = np.asarray(base, dtype=np.float64)
    count = np.asarray(count, dtype=np.float64)
    eps = gamma - 1.0
    v1 = gammaln(base + 1) - gammaln(gamma + base)
    if abs(eps) < _NEAR_ONE:
        low, high = base + 1, base + count + 1
        slope = -(
            (digamma(high) - digamma(low))
            + eps / 2 * (polygamma(1, high) - polygamma(1, low))
            + eps**2 / 6 * (polygamma(2, high) - polygamma(2, low))
        )
        u = eps * slope
        # -expm1(u) / eps = -slope * expm1(u) / u, with expm1(u) / u -> 1 as u -> 0.
        factor = np.where(u == 0, 1.0, np.expm1(u) / np.where(u == 0, 1.0, u))
        ratio = -slope * factor
    else:
        v2 = gammaln(base + count + 1) - gammaln(gamma + base + count)
        ratio = -np.expm1(v2 - v1) / eps
    with np.errstate(divide="ignore"):
        out = v1 + np.log(ratio)
    return np.asarray(np.where(count > 0, out, -np.inf), dtype=np.float64)


def bgbb_expected_transactions(
    theta: tuple[float, ...], x: FloatArray, tx: FloatArray, n: FloatArray, ahead: FloatArray
) -> FloatArray:
    """E[X(n, n + ahead) | x, t_x, n]: equation (13)."""
    alpha, beta, gamma, delta = theta
    log_value = (
        _log_beta_ratio(alpha, beta, x + 1, n - x)
        + (gammaln(gamma + delta) - gammaln(delta))
        + log_ratio_sum(gamma, delta + n, ahead)
        - bgbb_log_likelihood(theta, x, tx, n)
    )
    return np.asarray(np.exp(log_value), dtype=np.float64)


def bgbb_expected_new(theta: tuple[float, ...], n: FloatArray) -> FloatArray:
    """E[X(n)] of a new customer."""
    alpha, beta, gamma, delta = theta
    base = np.full_like(n, delta)
    log_value = (
        math.log(alpha / (alpha + beta))
        + (gammaln(gamma + delta) - gammaln(delta))
        + log_ratio_sum(gamma, base, n)
    )
    return np.asarray(np.exp(log_value), dtype=np.float64)


def bgbb_probability_of_transactions(
    theta: tuple[float, ...], x: FloatArray, n: FloatArray
) -> FloatArray:
    """P(X(n) = x) of a new customer: equation (7); 0 where x > n."""
    return _in_chunks(
        lambda x, n: _probability_of_transactions(theta, x, n), np.maximum(n - x, 0) + 1, x, n
    )


def _probability_of_transactions(
    theta: tuple[float, ...], x: FloatArray, n: FloatArray
) -> FloatArray:
    alpha, beta, gamma, delta = theta
    valid = x <= n
    xs, ns = np.where(valid, x, 0.0), np.where(valid, n, 0.0)
    first = (
        gammaln(ns + 1)
        - gammaln(xs + 1)
        - gammaln(ns - xs + 1)
        + _log_beta_ratio(alpha, beta, xs, ns - xs)
        + _log_beta_ratio(gamma, delta, np.zeros_like(ns), ns)
    )
    # Terms i = x .. n - 1: dropped out right after opportunity i.
    sizes = (ns - xs).astype(np.int64)
    row = np.repeat(np.arange(xs.size, dtype=np.int64), sizes)
    starts = np.cumsum(sizes) - sizes
    i = xs[row] + (np.arange(row.size, dtype=np.int64) - np.repeat(starts, sizes)).astype(
        np.float64
    )
    xr = xs[row]
    logs = (
        gammaln(i + 1)
        - gammaln(xr + 1)
        - gammaln(i - xr + 1)
        + _log_beta_ratio(alpha, beta, xr, i - xr)
        + _log_beta_ratio(gamma, delta, np.ones_like(i), i)
    )
    rows = np.concatenate([np.arange(xs.size, dtype=np.int64), row])
    total = _row_logsumexp(np.concatenate([first, logs]), rows, xs.size)
    return np.asarray(np.where(valid, np.exp(total), 0.0), dtype=np.float64)


# --------------------------------------------------------------------------------------
# Shifted-beta-geometric (Fader and Hardie 2007)
# --------------------------------------------------------------------------------------


def sbg_log_churn(alpha: float, beta: float, t: FloatArray) -> FloatArray:
    """Return log P(T = t) = log B(alpha + 1, beta + t - 1) - log B(alpha, beta), t >= 1."""
    return _log_beta_ratio(alpha, beta, np.ones_like(t), t - 1)


def sbg_log_survival(alpha: float, beta: float, t: FloatArray) -> FloatArray:
    """Return log S(t) = log B(alpha, beta + t) - log B(alpha, beta), t >= 0."""
    return _log_beta_ratio(alpha, beta, np.zeros_like(t), t)


def sbg_derivatives(
    theta: tuple[float, ...],
    t: FloatArray,
    churned: FloatArray,
    survived: FloatArray,
) -> Derivatives:
    """Total log-likelihood of churn counts at ``t`` and survivors censored at ``t``.

    ``churned[k]`` customers churned in period ``t[k]`` (contributing P(T = t)),
    ``survived[k]`` were still alive at the end of period ``t[k]`` when observation
    ended (contributing S(t)); Fader and Hardie (2007).
    """
    alpha, beta = theta
    value = float(
        np.dot(churned, sbg_log_churn(alpha, beta, t))
        + np.dot(survived, sbg_log_survival(alpha, beta, t))
    )
    ones, zeros = np.ones_like(t), np.zeros_like(t)
    gradient = np.zeros(2)
    hessian = np.zeros((2, 2))
    for weights, da, db in ((churned, ones, t - 1), (survived, zeros, t)):
        ga, gb, haa, hab, hbb = _beta_ratio_derivatives(alpha, beta, da, db)
        gradient += [np.dot(weights, ga), np.dot(weights, gb)]
        hessian += [
            [np.dot(weights, haa), np.dot(weights, hab)],
            [np.dot(weights, hab), np.dot(weights, hbb)],
        ]
    return Derivatives(value=value, gradient=gradient, hessian=hessian)
