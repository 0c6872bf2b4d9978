"""E[Y(t) | x, tx, T] of the BG/NBD: every way of evaluating it (private, pure numpy).

The conditional expectation, equation (10) of Fader, Hardie and Lee (2005), is
P(alive) times E[(1 - (1 + p u)^-(r + x)) / p] over p ~ Beta(a, b + x), with
u = t / (alpha + T). That expectation's closed form divides 0 by 0 at a = 1, and
scipy's ``hyp2f1`` fails for some large parameters (clv/_mixtures guards it); this
module picks, per customer, a route that is accurate there.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import betainc

from crmscore._groups import group_rows
from crmscore.clv._kernels import (
    FloatArray,
    Params,
    bgnbd_probability_alive,
    mbgnbd_probability_alive,
)
from crmscore.clv._mixtures import by_parts, closed_forms

__all__ = [
    "bgnbd_expected_purchases",
    "bgnbd_expected_purchases_at",
    "discounted_purchases",
    "mbgnbd_expected_purchases_at",
]


#: Below this bound on the ratio of consecutive terms the power series in u is used.
_SERIES_RATIO = 0.05
_SERIES_TERMS = 14
#: Half-width of the band around a = 1 where the closed form is replaced by the limit.
_A_BAND = 1e-3


def _purchases_series(rho: FloatArray, c: FloatArray, a: float, u: FloatArray) -> FloatArray:
    """Return the expectation as the power series rho u 3F2(rho + 1, a, 1; c + 1, 2; -u).

    Used where consecutive terms shrink by at least ``_SERIES_RATIO``, so that a
    fixed number of terms reaches double precision.
    """
    total = np.ones_like(u)
    term = np.ones_like(u)
    for n in range(_SERIES_TERMS):
        term = term * (rho + 1 + n) * (a + n) * -u / ((c + 1 + n) * (n + 2))
        total = total + term
    result: FloatArray = rho * u * total
    return result


def _purchases_closed(
    rho: FloatArray, beta: FloatArray, c: FloatArray, *, eps: float, z: FloatArray, u: FloatArray
) -> FloatArray:
    """(c / eps) (1 - X) with X = (1 - z)^rho 2F1(rho, beta; c; z), equation (10).

    X is :func:`crmscore.clv._mixtures.closed_forms` with shape a - 1; NaN where it
    fails.
    """
    result: FloatArray = c / eps * (1.0 - closed_forms(rho, beta, eps, z=z, u=u))
    return result


def _negligible_remainder(
    rho: FloatArray, beta: FloatArray, eps: float, u: FloatArray
) -> npt.NDArray[np.bool_]:
    """Where X < 1e-20 provably, so that (c / eps)(1 - X) is c / eps to double precision.

    For a > 1, X = E[(1 + q u)^-rho] with q ~ Beta(a - 1, b + x), hence
    X <= P(q < q0) + (1 + q0 u)^-rho for any q0; q0 is chosen to make the second
    term 1e-20.
    """
    if eps <= 0:
        return np.zeros(u.shape, dtype=bool)
    with np.errstate(all="ignore"):
        q0 = np.expm1(np.log(1e20) / rho) / u
        tiny = (q0 < 1.0) & (betainc(eps, beta, np.minimum(q0, 1.0)) < 1e-20)
    return np.asarray(tiny, dtype=bool)


def _purchases_slope(p: FloatArray, u: FloatArray, rho: FloatArray) -> FloatArray:
    """-g'(p) for g(p) = (1 - (1 + p u)^-rho) / p: (N - p N') / p^2, N = 1 - (1 + pu)^-rho.

    A series where p u is small, where the difference cancels.
    """
    pu = p * u
    small = (rho + 2) * pu < 1e-3
    with np.errstate(all="ignore"):
        direct = (-np.expm1(-rho * np.log1p(pu)) - rho * pu * np.exp(-(rho + 1) * np.log1p(pu))) / (
            p**2
        )
    series = (
        u**2
        * rho
        * (rho + 1)
        / 2
        * (1 - 2 / 3 * (rho + 2) * pu + (rho + 2) * (rho + 3) / 4 * pu**2)
    )
    result: FloatArray = np.where(small, series, direct)
    return result


def _purchases_quadrature(rho: FloatArray, beta: FloatArray, a: float, u: FloatArray) -> FloatArray:
    """E[g(p)], p ~ Beta(a, beta), g(p) = (1 - (1 + p u)^-rho) / p, by quadrature.

    g(1) plus :func:`crmscore.clv._mixtures.by_parts`. It is the fallback where every
    closed form fails (large b + x with a very long horizon).
    """
    result: FloatArray = -np.expm1(-rho * np.log1p(u)) + by_parts(_purchases_slope, rho, beta, a, u)
    return result


def _purchases_at(
    rho: FloatArray, beta: FloatArray, a: float, u: FloatArray, z: FloatArray
) -> FloatArray:
    """E[(1 - (1 + p u)^-rho) / p] for p ~ Beta(a, beta), by the best available route."""
    eps = a - 1.0
    c = beta + eps
    ratio = u * np.maximum(1.0, (rho + 1) / (c + 1)) * max(1.0, a / 2)
    out = np.empty_like(u)
    series = ratio <= _SERIES_RATIO
    if series.any():
        out[series] = _purchases_series(rho[series], c[series], a, u[series])
    closed = ~series
    if closed.any():
        out[closed] = _purchases_closed(
            rho[closed], beta[closed], c[closed], eps=eps, z=z[closed], u=u[closed]
        )
    failed = ~np.isfinite(out)
    if failed.any():
        tiny = np.zeros_like(failed)
        tiny[failed] = _negligible_remainder(rho[failed], beta[failed], eps, u[failed])
        out[tiny] = c[tiny] / eps
        rest = failed & ~tiny
        if rest.any():
            out[rest] = _purchases_quadrature(rho[rest], beta[rest], a, u[rest])
    return out


def _expectation(
    theta: Params,
    x: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
    t: float | FloatArray,
) -> FloatArray:
    """E[(1 - (1 + p u)^-(r + x)) / p] over p ~ Beta(a, b + x), u = t / (alpha + T).

    The closed form of that expectation is (c / (a - 1)) (1 - X), c = a + b + x - 1,
    which is 0/0 at a = 1. In the band |a - 1| < 1e-3 the value is the cubic through
    a = 1 +- 1e-3, 1 +- 2e-3 (the expectation is analytic in a, so the error is
    O(1e-12)); at a = 1 this is the limit.
    """
    r, alpha, a, b = theta
    u = t / (alpha + T)
    z = t / (alpha + T + t)
    rho = r + x
    beta = b + x
    eps = a - 1.0
    if abs(eps) >= _A_BAND:
        return _purchases_at(rho, beta, a, u, z)
    nodes = np.array([-2.0, -1.0, 1.0, 2.0]) * _A_BAND
    expectation = np.zeros_like(u)
    for i, node in enumerate(nodes):
        others = np.delete(nodes, i)
        lagrange = float(np.prod((eps - others) / (node - others)))
        expectation += lagrange * _purchases_at(rho, beta, 1.0 + node, u, z)
    return expectation


def bgnbd_expected_purchases(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
    t: float | FloatArray,
) -> FloatArray:
    """E[Y(t) | x, tx, T], equation (10) of Fader, Hardie and Lee (2005).

    P(alive) times the expectation of :func:`_expectation`. With a scalar ``t`` the
    expectation, which depends on (x, T) only, is evaluated once per distinct pair.
    """
    if np.ndim(t) != 0:
        return bgnbd_probability_alive(theta, x, tx, T) * _expectation(theta, x, T, t)
    return bgnbd_expected_purchases_at(theta, x, tx, T, [float(t)])[0]


def bgnbd_expected_purchases_at(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
    times: list[float],
) -> list[FloatArray]:
    """E[Y(t) | x, tx, T] at each of several horizons ``times``.

    P(alive) and the distinct (x, T) pairs are worked out once for all horizons (a
    discounted CLV needs one horizon per step); the values are those of
    :func:`bgnbd_expected_purchases` at each horizon, to the last bit.
    """
    alive = bgnbd_probability_alive(theta, x, tx, T)
    (x_pairs, T_pairs), pair = group_rows([x, T])  # noqa: N806
    return [alive * _expectation(theta, x_pairs, T_pairs, t)[pair] for t in times]


def mbgnbd_expected_purchases_at(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
    times: list[float],
) -> list[FloatArray]:
    """E[Y(t) | x, tx, T] of the MBG/NBD at each of several horizons ``times``.

    Wagner and Hoppe (2008): P(alive) times
    (a + b + x) / (a - 1) [1 - ((alpha + T) / (alpha + T + t))^(r + x)
    2F1(r + x, b + x + 1; a + b + x; t / (alpha + T + t))]. The bracketed factor is
    the BG/NBD's expectation with b + 1 in place of b (a customer alive after x
    purchases has survived x + 1 dropout opportunities, so p ~ Beta(a, b + x + 1)),
    evaluated by :func:`_expectation` with all its safeguards (a = 1, large
    parameters).
    """
    r, alpha, a, b = theta
    alive = mbgnbd_probability_alive(theta, x, tx, T)
    (x_pairs, T_pairs), pair = group_rows([x, T])  # noqa: N806
    shifted = (r, alpha, a, b + 1.0)
    return [alive * _expectation(shifted, x_pairs, T_pairs, t)[pair] for t in times]


def discounted_purchases(
    theta: Params,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
    times: list[float],
    *,
    rate: float,
    modified: bool = False,
) -> FloatArray:
    """Sum over steps k of (E[Y(t_k)] - E[Y(t_(k-1))]) / (1 + rate)^k, with E[Y(0)] = 0.

    The purchases expected in each step of a discounted CLV, discounted to today.
    E[Y(t)] is P(alive) times a function of the (x, T) pair, so the discounted sum
    is formed on the distinct pairs and multiplied by P(alive) once, rather than
    kept per customer and horizon (as :func:`bgnbd_expected_purchases_at` would).
    ``modified`` gives the MBG/NBD (see :func:`mbgnbd_expected_purchases_at`).
    """
    r, alpha, a, b = theta
    if modified:
        alive = mbgnbd_probability_alive(theta, x, tx, T)
        theta = (r, alpha, a, b + 1.0)
    else:
        alive = bgnbd_probability_alive(theta, x, tx, T)
    (x_pairs, T_pairs), pair = group_rows([x, T])  # noqa: N806
    total = np.zeros(x_pairs.size)
    previous = np.zeros(x_pairs.size)
    for k, t in enumerate(times, start=1):
        current = _expectation(theta, x_pairs, T_pairs, t)
        total += (current - previous) / (1.0 + rate) ** k
        previous = current
    result: FloatArray = alive * total[pair]
    return result
