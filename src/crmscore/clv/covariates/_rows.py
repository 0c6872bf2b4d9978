"""Per-row log-likelihoods and derivatives at row-specific parameters.

With a continuous covariate every customer has parameters of its own, so the
kernels of the plain models (one parameter vector, sums over rows) would run once
per customer. These evaluate the same closed forms on arrays over rows instead:
each returns, per row, the log-likelihood, its gradient and its Hessian in the
natural parameters, as one array over rows per entry. A
parameter that no covariate scales is passed as a float, and the special
functions of it are then evaluated once per distinct frequency, as the plain
kernels do. The sums over rows (with the covariates' design) are
:func:`crmscore.clv.covariates._estimation.fit_rows`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, overload

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln

from crmscore.clv import _kernels

if TYPE_CHECKING:
    from collections.abc import Callable

    from crmscore.clv._kernels import FloatArray

__all__ = ["RowDerivatives", "bgnbd_rows", "gg_rows", "trigamma"]

#: A parameter: one value for every row (float) or one per row (array).
Value = Any


class RowDerivatives(NamedTuple):
    """Per-row log-likelihood, gradient and Hessian in the natural parameters."""

    value: FloatArray
    """Per row."""
    gradient: list[FloatArray]
    """Per parameter: per row."""
    hessian: dict[tuple[int, int], FloatArray]
    """Per pair of parameters (i <= j; the Hessian is symmetric): per row."""


#: Bernoulli numbers B_2, B_4, ..., B_14: the asymptotic series of the trigamma function.
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)


def trigamma(values: Any) -> FloatArray:
    """psi'(x) for x > 0, to a few ulps; faster on large arrays than scipy's polygamma.

    psi'(x) = sum_{k<10} 1 / (x + k)^2 + psi'(x + 10), and at y = x + 10 >= 10 the
    asymptotic series 1/y + 1/(2 y^2) + sum_k B_2k / y^(2k+1), whose first omitted
    term (B_16 / y^17) is below 1e-16 relative.
    """
    y = np.array(values, dtype=np.float64)
    with np.errstate(divide="ignore"):  # psi'(0) = inf, as scipy's
        total = 1.0 / (y * y)
    for _ in range(9):
        y += 1.0
        total += 1.0 / (y * y)
    y += 1.0
    inv = 1.0 / y
    inv2 = inv * inv
    series = np.zeros_like(y)
    for bernoulli in reversed(_BERNOULLI):
        series = inv2 * (bernoulli + series)
    result: FloatArray = total + inv * (1.0 + 0.5 * inv + series)
    return result


def _at(
    function: Callable[[Any], Any], x: FloatArray, *, shift: Value, scale: Value = 1.0
) -> FloatArray:
    """``function(shift + scale * x)``; once per distinct whole x when both are floats."""
    if np.ndim(shift) == 0 and np.ndim(scale) == 0:
        return _kernels._on_counts(function, x, shift=float(shift), scale=float(scale))
    return np.asarray(function(shift + scale * x), dtype=np.float64)


@overload
def _rows(n: int, entries: list[Any]) -> list[FloatArray]: ...
@overload
def _rows(n: int, entries: dict[tuple[int, int], Any]) -> dict[tuple[int, int], FloatArray]: ...
def _rows(n: int, entries: Any) -> Any:
    """Each entry as an array over the n rows (a float where nothing varies by row)."""
    if isinstance(entries, dict):
        return {
            key: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,))
            for key, v in entries.items()
        }
    return [np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for v in entries]


def bgnbd_rows(
    theta: tuple[Value, ...],
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
) -> RowDerivatives:
    """BG/NBD per row: equation (6) of Fader, Hardie and Lee (2005), in (r, alpha, a, b).

    The mixture rule of :func:`crmscore.clv._kernels.bgnbd_derivatives`, per row:
    with L = S + logaddexp(e1, e2), w2 the weight of the "dropped out" term and
    d = grad e1 - grad e2, grad L = grad S + w1 grad e1 + w2 grad e2 and
    hess L = hess S + w1 hess e1 + w2 hess e2 + w1 w2 d d'.
    """
    r, alpha, a, b = theta
    n = len(x)
    # The factors both terms share: Gamma(r + x) B(a, b + x) / (Gamma(r) B(a, b)).
    ab = a + b
    psi_ab, tri_ab = digamma(ab), trigamma(ab)
    psi_abx, tri_abx = _at(digamma, x, shift=ab), _at(trigamma, x, shift=ab)
    shared = (
        _at(gammaln, x, shift=r)
        - gammaln(r)
        + _at(lambda bv: betaln(a, bv), x, shift=b)
        - betaln(a, b)
    )
    s_r = _at(digamma, x, shift=r) - digamma(r)
    s_a = psi_ab - psi_abx
    s_b = _at(digamma, x, shift=b) - digamma(b) + s_a
    s_rr = _at(trigamma, x, shift=r) - trigamma(r)
    s_aa = tri_ab - tri_abx
    s_bb = _at(trigamma, x, shift=b) - trigamma(b) + s_aa

    # "Alive at T" and "dropped out right after the last purchase" (x > 0 only).
    grow1 = alpha * (alpha + T)
    e1 = -r * np.log1p(T / alpha) - x * np.log(alpha + T)
    inv_bx = 1.0 / (b + np.maximum(x, 1.0) - 1.0)
    grow2 = alpha * (alpha + tx)
    e2 = np.where(
        x > 0,
        np.log(a) + np.log(inv_bx) - r * np.log1p(tx / alpha) - x * np.log(alpha + tx),
        -np.inf,
    )
    w2 = expit(e2 - e1)
    w1 = 1.0 - w2
    mixed = w1 * w2
    d1 = [-np.log1p(T / alpha), (r * T - x * alpha) / grow1]
    d2 = [-np.log1p(tx / alpha), (r * tx - x * alpha) / grow2]
    d = [d1[0] - d2[0], d1[1] - d2[1], -1.0 / a, inv_bx]  # grad e1 - grad e2
    gradient = _rows(
        n, [s_r + w1 * d1[0] + w2 * d2[0], w1 * d1[1] + w2 * d2[1], s_a + w2 / a, s_b - w2 * inv_bx]
    )
    e_ral = w1 * T / grow1 + w2 * tx / grow2
    e_alal = (
        w1 * (x * alpha**2 - r * T * (2 * alpha + T)) / grow1**2
        + w2 * (x * alpha**2 - r * tx * (2 * alpha + tx)) / grow2**2
    )
    entries: dict[tuple[int, int], Any] = {
        (0, 0): s_rr + mixed * d[0] ** 2,
        (0, 1): e_ral + mixed * d[0] * d[1],
        (1, 1): e_alal + mixed * d[1] ** 2,
        (0, 2): mixed * d[0] * d[2],
        (0, 3): mixed * d[0] * d[3],
        (1, 2): mixed * d[1] * d[2],
        (1, 3): mixed * d[1] * d[3],
        (2, 2): s_aa - w2 / a**2 + mixed / a**2,
        (2, 3): s_aa + mixed * d[2] * d[3],
        (3, 3): s_bb + w2 * inv_bx**2 + mixed * inv_bx**2,
    }
    value = shared + e1 + np.logaddexp(0.0, e2 - e1)
    return RowDerivatives(value=value, gradient=gradient, hessian=_rows(n, entries))


def gg_rows(theta: tuple[Value, ...], x: FloatArray, m: FloatArray) -> RowDerivatives:
    """Gamma-Gamma per row: equation (1a) of Fader, Hardie and Lee (2013), in (p, q, v)."""
    p, q, v = theta
    n = len(x)
    s = x * m
    k = p * x
    log_sv = np.log1p(s / v)
    log_vs = np.log1p(v / s)
    value = (
        -_at(lambda kv: betaln(kv, q), x, shift=0.0, scale=p) - np.log(m) - q * log_sv - k * log_vs
    )
    psi_kq = _at(digamma, x, shift=q, scale=p)
    tri_kq = _at(trigamma, x, shift=q, scale=p)
    gradient = _rows(
        n,
        [
            x * (psi_kq - _at(digamma, x, shift=0.0, scale=p) - log_vs),
            psi_kq - digamma(q) - log_sv,
            (q * s - k * v) / (v * (s + v)),
        ],
    )
    entries: dict[tuple[int, int], Any] = {
        (0, 0): x**2 * (tri_kq - _at(trigamma, x, shift=0.0, scale=p)),
        (0, 1): x * tri_kq,
        (0, 2): -x / (s + v),
        (1, 1): tri_kq - trigamma(q),
        (1, 2): s / (v * (s + v)),
        (2, 2): (k * v**2 - q * s * (s + 2 * v)) / (v * (s + v)) ** 2,
    }
    return RowDerivatives(value=value, gradient=gradient, hessian=_rows(n, entries))
