"""Expectations over a Beta-distributed dropout probability (private, pure numpy).

The BG/NBD family's predictions average functions of p u over p ~ Beta(a, b + x):
E[(1 + p u)^-rho] is P(alive later) and the integrand of DERT, and E[Y(t)] and the
sBG's DERL are of the same kind. Their closed forms are Gauss hypergeometric functions,
which scipy's ``hyp2f1`` evaluates well for ordinary parameters but not for all: it
overflows to inf or NaN, and for some large parameters it returns a finite, wrong
value. One mechanism guards them all: a closed form is accepted only where it is
finite and within bounds that the true value provably respects (:func:`bounds`,
:func:`outside`), and elsewhere the expectation is integrated numerically
(:func:`by_parts`, :func:`integrate_log`). The Pareto/NBD's DERT, an expectation over
a Gamma-distributed death rate whose closed form is scipy's ``hyperu``, is guarded the
same way (:func:`discounted_lifetime`). Ordinary books never reach the quadrature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy.special import betainc, digamma, hyp2f1, hyperu

from crmscore.clv._kernels import FloatArray, trigamma

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "bounds",
    "by_parts",
    "closed_forms",
    "discounted_lifetime",
    "discounted_power_mean",
    "integrate_log",
    "outside",
    "power_mean",
]

#: Relative slack of the bounds of :func:`_bounds` (a correct value's rounding error).
_ROUNDING = 1e-9
#: Where z exceeds this (scipy switches to connection formulas at 0.9) and
#: d = shape - rho is within this of an integer, no closed form is trusted: scipy's
#: error there is about 1e-16 / |d - round(d)| times the size of the cancelling terms.
_NEAR_ONE = 0.89
_INTEGER_GAP = 1e-3
#: Relative agreement with the Pfaff form required of a closed form where z > _NEAR_ONE.
_AGREEMENT = 1e-10
#: Composite Gauss-Legendre rule of the quadrature fallback (panels x nodes per panel).
_PANELS = 2
_NODES, _NODE_WEIGHTS = np.polynomial.legendre.leggauss(20)
#: Points of the scan for the integrand's peak, golden-section steps after it, and the
#: offsets in y = ln p of the extra cuts on each side of the peak.
_SCAN = 121
_GOLDEN_STEPS = 40
_PEAK_STEPS = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
#: The 8 nodes that Kronrod's 15-point extension adds to the 7-point Gauss-Legendre rule
#: (Kronrod 1965; as tabulated in QUADPACK's qk15), positive half.
_KRONROD_EXTRA = (
    0.991455371120812639206854697526329,
    0.864864423359769072789712788640926,
    0.586087235467691130294144838258730,
    0.207784955007898467600689403773245,
)
#: Panels in y = ln w of the first try of :func:`discounted_power_mean`, the times they
#: are doubled for the integrals whose error estimate fails, and that estimate's bound.
_DISCOUNT_PANELS = 6
_DISCOUNT_REFINEMENTS = 6
_DISCOUNT_TOLERANCE = 1e-10
#: -ln of the bound on the cut tail of :func:`discounted_power_mean`, relative to the
#: integral.
_DISCOUNT_TAIL = 30.0


def closed_forms(
    rho: FloatArray, beta: FloatArray, shape: float, *, z: FloatArray, u: FloatArray
) -> FloatArray:
    """X = 2F1(rho, shape; c; -u), c = shape + beta, by scipy's ``hyp2f1``; NaN where it fails.

    For shape > 0, X = E[(1 + q u)^-rho] with q ~ Beta(shape, beta). X has two equal
    closed forms in z = u / (1 + u): (1 - z)^rho 2F1(rho, beta; c; z) (the form of
    Fader, Hardie and Lee 2005, equation 10) and its Euler transform
    (1 - z)^shape 2F1(c - rho, shape; c; z). scipy's ``hyp2f1`` overflows or fails for
    some large parameters in each, and for some it returns a finite wrong value; the
    first one that is finite and within X's bounds (see :func:`bounds`) is used,
    products taken in log space, and clipped to the bounds (a value accepted within
    rounding of a bound is that bound). Near z = 1 (z > 0.89) the bounds are loose and
    scipy's connection formulas can be far off for large parameters, so a value is kept
    only where the Pfaff transform 2F1(rho, shape; c; -u), which scipy evaluates by
    another transformation, agrees with it to 1e-10 relative; and neither is trusted
    where d = shape - rho is within 1e-3 of an integer, where all of scipy's
    transformations cancel alike (at rho = a + 1e-14 = 19.685, beta = 3.418, u = 489.5
    every form was off by 40 % or more). The Pfaff form is not used as a value: where
    it was the only one within the bounds it was mostly wrong (8.5 times the value at
    rho = 30.68, shape = 23.3, beta = 85.06, u = 3719). NaN is left where no form is
    trusted: the caller falls back to the quadrature.
    """
    c = beta + shape
    lower, upper = bounds(rho, beta, shape, u)
    log1mz = np.log1p(-z)
    # scipy's hyp2f1 (Cephes) evaluates both forms, and the Pfaff form, near z = 1 by
    # connection formulas whose two terms carry Gamma(+-d), d = shape - rho (or b - a),
    # and cancel: relative error ~ 1e-16 / |d - round(d)|, all three forms alike.
    d = shape - rho
    near_integer = (np.abs(d - np.rint(d)) < _INTEGER_GAP) & (z > _NEAR_ONE)
    with np.errstate(all="ignore"):
        f = hyp2f1(rho, beta, c, z)
        big_x: FloatArray = np.sign(f) * np.exp(rho * log1mz + np.log(np.abs(f)))
        bad = outside(big_x, lower, upper)
        if near_integer.any():
            big_x[near_integer] = np.nan
            bad &= ~near_integer
        if bad.any():
            euler = hyp2f1(c[bad] - rho[bad], shape, c[bad], z[bad])
            big_x[bad] = np.sign(euler) * np.exp(shape * log1mz[bad] + np.log(np.abs(euler)))
        big_x[outside(big_x, lower, upper)] = np.nan
        # Near z = 1 the bounds are loose and scipy can be far off for large parameters
        # away from integer d too (80 % at rho = 68.0, shape = 49.8, beta = 0.76,
        # u = 112): a value is kept only where the Pfaff form 2F1(rho, shape; c; -u),
        # which scipy evaluates by another transformation (AMS 15.3.7), agrees.
        check = np.flatnonzero((z > _NEAR_ONE) & ~np.isnan(big_x))
        if check.size:
            pfaff = hyp2f1(rho[check], shape, c[check], -u[check])
            kept = big_x[check]
            agree = np.abs(pfaff - kept) <= _AGREEMENT * np.abs(kept)
            big_x[check[~agree]] = np.nan
    # A value accepted within rounding of a bound is that bound: the true value is.
    np.maximum(big_x, lower, out=big_x)  # (NaN stays NaN)
    np.minimum(big_x, upper, out=big_x)
    return big_x


def bounds(
    rho: FloatArray, beta: FloatArray, shape: float, u: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Bounds on X = 2F1(rho, shape; shape + beta; -u) that a correct value must respect.

    For shape > 0, X = E[h(q)] with h(q) = (1 + q u)^-rho convex on [0, 1] and
    q ~ Beta(shape, beta) of mean m = shape / (shape + beta): Jensen's inequality gives
    X >= h(m), and the chord from h(0) = 1 to h(1) lies above h, so
    X <= 1 - m (1 - h(1)). For shape = a - 1 < 0 (the expected purchases with a < 1)
    the same identity in the other direction gives X >= 1. scipy's ``hyp2f1`` can
    return a finite value far off for large parameters (at r = a = 10^3.5, alpha = 1,
    b = 10^4, x = 0, T = 10^5, t = 47,919 the paper's form gave X of -2e155), which
    these bounds reject.
    """
    if shape <= 0:
        return np.ones_like(u), np.full_like(u, np.inf)
    m = shape / (shape + beta)
    with np.errstate(all="ignore"):
        lower = np.exp(-rho * np.log1p(m * u))
        upper = 1.0 + m * np.expm1(-rho * np.log1p(u))
    return lower, upper


def outside(big_x: FloatArray, lower: FloatArray, upper: FloatArray) -> npt.NDArray[np.bool_]:
    """Where X is not finite or breaks its bounds by more than rounding: that route failed.

    A value within rounding of a bound passes, but only the bound itself is provably
    right: callers clip what they accept to [lower, upper].
    """
    with np.errstate(invalid="ignore"):
        inside = (big_x >= lower * (1.0 - _ROUNDING)) & (big_x <= upper * (1.0 + _ROUNDING))
        inside &= np.isfinite(big_x)
    return np.asarray(~inside, dtype=bool)


def by_parts(
    slope: Callable[[FloatArray, FloatArray, FloatArray], FloatArray],
    rho: FloatArray,
    beta: FloatArray,
    a: float,
    u: FloatArray,
) -> FloatArray:
    """int_0^1 -g'(p) I_p(a, beta) dp by quadrature, ``slope(p, u, rho)`` being -g'(p).

    Integrating by parts, E[g(p)] = g(1) + this integral for p ~ Beta(a, beta), with
    the regularised incomplete beta function I_p. For the g of this module (functions
    of p u with a knee at p = 1 / max(u, rho u)) the integrand is smooth in y = ln p,
    decays exponentially below the knee, and rises where I_p does, within a few
    standard deviations of E[ln p] (sd^2 = trigamma(a) - trigamma(a + beta)). The
    range of y is cut at those points and each piece gets a composite Gauss-Legendre
    rule; the result agrees with a high-precision evaluation to about 1e-10.
    """
    knee = -np.log(np.maximum(np.maximum(u, rho * u), 1.0))
    low = knee - 45.0
    centre = digamma(a) - digamma(a + beta)
    spread = 4.0 * np.sqrt(trigamma(np.full_like(beta, a)) - trigamma(a + beta))

    def integrand(y: FloatArray) -> FloatArray:
        p = np.exp(y)
        with np.errstate(all="ignore"):
            values: FloatArray = (
                slope(p, u[:, None], rho[:, None]) * betainc(a, beta[:, None], p) * p
            )
        return values

    # Pieces: around the knee of g, around the bulk of ln p, and geometrically
    # graded towards p = 1, where I_p has an algebraic singularity when beta < 1.
    cuts = np.column_stack(
        (
            knee - 5.0,
            knee,
            knee + 5.0,
            -np.log(np.maximum(u, 1.0)),
            *(centre + k * spread for k in (-3, -1, 0, 1, 3)),
            *(np.full_like(u, -(10.0**-k)) for k in range(-1, 10)),
        )
    )
    return integrate_log(integrand, cuts, low, np.zeros_like(u))


def integrate_log(
    integrand: Callable[[FloatArray], FloatArray],
    cuts: FloatArray,
    low: FloatArray,
    high: FloatArray,
) -> FloatArray:
    """Row-wise int_low^high integrand(y) dy by composite Gauss-Legendre rules.

    ``integrand`` maps an array of y (a row per integral) to values; ``cuts`` (a row
    per integral) split the range where the integrand changes shape. More cuts are
    graded around the integrand's peak, found by :func:`_peak` (as narrow as 0.01 in
    y when the parameters are large), and each piece gets ``_PANELS`` rules of
    ``len(_NODES)`` nodes.
    """
    mode = _peak(integrand, low, high)
    cuts = np.column_stack(
        (
            low,
            cuts,
            mode,
            *(mode + side * step for side in (-1.0, 1.0) for step in _PEAK_STEPS),
            high,
        )
    )
    cuts = np.sort(np.clip(cuts, low[:, None], high[:, None]), axis=1)
    frac = np.linspace(0.0, 1.0, _PANELS + 1)[:-1]
    widths = np.diff(cuts, axis=1)[:, :, None] / _PANELS
    starts = cuts[:, :-1, None] + widths * _PANELS * frac
    widths = np.broadcast_to(widths, starts.shape)
    y = (starts[..., None] + widths[..., None] * (_NODES + 1) / 2).reshape(len(low), -1)
    w = (widths[..., None] * _NODE_WEIGHTS / 2).reshape(len(low), -1)
    result: FloatArray = np.sum(integrand(y) * w, axis=1)
    return result


def _peak(
    integrand: Callable[[FloatArray], FloatArray], low: FloatArray, high: FloatArray
) -> FloatArray:
    """Where ``integrand`` (rows of functions of y on [low, high]) peaks, to 1e-8 in y.

    A scan on a grid brackets the highest grid point; golden-section search narrows
    the bracket (the integrands are unimodal in y).
    """
    grid = low[:, None] + (high - low)[:, None] * np.linspace(0.0, 1.0, _SCAN)
    best = np.argmax(np.nan_to_num(integrand(grid), nan=-1.0), axis=1)
    rows = np.arange(len(low))
    left = grid[rows, np.maximum(best - 1, 0)]
    right = grid[rows, np.minimum(best + 1, _SCAN - 1)]
    golden = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(_GOLDEN_STEPS):
        inner_left = right - golden * (right - left)
        inner_right = left + golden * (right - left)
        values = integrand(np.column_stack((inner_left, inner_right)))
        higher_left = np.nan_to_num(values[:, 0], nan=-1.0) >= np.nan_to_num(values[:, 1], nan=-1.0)
        right = np.where(higher_left, inner_right, right)
        left = np.where(higher_left, left, inner_left)
    result: FloatArray = (left + right) / 2
    return result


def _power_slope(p: FloatArray, u: FloatArray, rho: FloatArray) -> FloatArray:
    """-h'(p) for h(p) = (1 + p u)^-rho: rho u (1 + p u)^-(rho + 1), non-negative."""
    result: FloatArray = rho * u * np.exp(-(rho + 1) * np.log1p(p * u))
    return result


def power_mean(rho: FloatArray, beta: FloatArray, a: float, u: FloatArray) -> FloatArray:
    """E[(1 + p u)^-rho] for p ~ Beta(a, beta): 2F1(rho, a; a + beta; -u), a > 0.

    The survival factor of P(alive later) and the integrand of DERT in the BG/NBD
    family. The closed forms of :func:`_closed_forms` where one holds its bounds (every
    customer of an ordinary book); where all three fail, h(1) plus the quadrature of
    :func:`_by_parts` with h(p) = (1 + p u)^-rho: both terms are non-negative, so the
    value keeps its relative accuracy when it is tiny.
    """
    with np.errstate(all="ignore"):
        out = closed_forms(rho, beta, a, z=u / (1.0 + u), u=u)
    failed = np.isnan(out)
    if failed.any():
        rho_f, beta_f, u_f = rho[failed], beta[failed], u[failed]
        out[failed] = np.exp(-rho_f * np.log1p(u_f)) + by_parts(_power_slope, rho_f, beta_f, a, u_f)
    return out


def discounted_lifetime(s: float, scale: FloatArray, delta: float) -> FloatArray:
    """E[1 / (delta + mu)] for mu ~ Gamma(s, scale) (rate ``scale``): scale U(1, 2 - s; z).

    With z = delta scale and U the confluent hypergeometric function of the second kind
    (scipy ``hyperu``). scipy returns finite, wrong values for some large s (at s = 117,
    scale = 4e4, delta = 8.2e-4: -2.9e4 where the value is about 800), so the value is
    accepted only between Jensen's bound 1 / (delta + s / scale) and 1 / delta (and
    scale / (s - 1) = E[1 / mu] for s > 1); elsewhere scale int_0^inf
    exp(-z v) (1 + v)^-s dv is integrated in y = ln v (the integrand rises as e^y,
    peaks, and falls as exp(-z e^y) or e^((1 - s) y)).
    """
    z = delta * scale
    lower = 1.0 / (delta + s / scale)
    upper = np.full_like(scale, 1.0 / delta)
    if s > 1:
        upper = np.minimum(upper, scale / (s - 1.0))
    with np.errstate(all="ignore"):
        out: FloatArray = scale * hyperu(1.0, 2.0 - s, z)
    failed = outside(out, lower, upper)
    np.clip(out, lower, upper, out=out)  # within rounding of a bound: the bound
    if failed.any():
        zf, scale_f = z[failed], scale[failed]
        low = -45.0 - np.log1p(zf + s)
        high = np.log(50.0 / zf + 1.0)
        if s > 1:
            high = np.minimum(high, 50.0 / (s - 1.0) + 1.0)

        def integrand(y: FloatArray) -> FloatArray:
            v = np.exp(y)
            values: FloatArray = np.exp(y - zf[:, None] * v - s * np.log1p(v))
            return values

        cuts = np.linspace(low, high, 41, axis=1)[:, 1:-1]
        out[failed] = scale_f * integrate_log(integrand, cuts, low, high)
    return out


def _gauss_kronrod() -> tuple[FloatArray, FloatArray, FloatArray]:
    """Nodes on [-1, 1] of the (7, 15) Gauss-Kronrod pair, Kronrod's and Gauss's weights.

    Gauss's nodes and weights are numpy's; Kronrod's 15 weights are the solution of
    the moment equations (exact for the Legendre polynomials of degree 0 to 22), so
    only the 8 added nodes are a table. Gauss's weights are 0 at those nodes.
    """
    gauss, gauss_weights = np.polynomial.legendre.leggauss(7)
    extra = np.array(_KRONROD_EXTRA)
    nodes = np.sort(np.concatenate((gauss, extra, -extra)))
    moments = np.zeros(23)
    moments[0] = 2.0
    vander = np.polynomial.legendre.legvander(nodes, 22).T
    kronrod = np.linalg.lstsq(vander, moments, rcond=None)[0]
    gauss_full = np.zeros_like(nodes)
    gauss_full[np.isin(nodes, gauss)] = gauss_weights
    return (
        np.asarray(nodes, dtype=np.float64),
        np.asarray(kronrod, dtype=np.float64),
        np.asarray(gauss_full, dtype=np.float64),
    )


_GK_NODES, _GK_KRONROD, _GK_GAUSS = _gauss_kronrod()


def _composite_kronrod(
    integrand: Callable[[FloatArray], FloatArray], low: FloatArray, high: FloatArray, panels: int
) -> tuple[FloatArray, FloatArray]:
    """Row-wise int_low^high by ``panels`` equal (7, 15) Gauss-Kronrod panels.

    Returns the Kronrod sums and, per row, the sum over panels of |Kronrod - Gauss|:
    an error estimate of the 7-point rule, so a generous one of the 15-point result.
    ``integrand`` maps a (rows, 15) array of points to values; one panel at a time
    keeps the arrays small.
    """
    half = (high - low) / (2 * panels)
    value = np.zeros_like(low)
    error = np.zeros_like(low)
    for j in range(panels):
        centre = low + (2 * j + 1) * half
        fx = integrand(centre[:, None] + half[:, None] * _GK_NODES)
        kronrod = (fx @ _GK_KRONROD) * half
        value += kronrod
        error += np.abs(kronrod - (fx @ _GK_GAUSS) * half)
    return value, error


def discounted_power_mean(
    rho: FloatArray, beta: FloatArray, a: float, scale: FloatArray, delta: float
) -> FloatArray:
    """int_0^inf exp(-delta w) E[(1 + p w / scale)^-rho] dw for p ~ Beta(a, beta), a > 0.

    DERT's integral in the BG/NBD family, one per row of ``rho``, ``beta`` and
    ``scale``, each to a relative accuracy of about 1e-10 whatever the others' sizes.
    The integrand h(w) = exp(-delta w) :func:`power_mean` (rho, beta, a, w / scale)
    is at most 1 and analytic around the positive axis (its only singularities are at
    w <= -scale), and varies on the scales w0 = min(scale / max(rho, 1), 1 / delta) / 2
    and beyond. So the range is cut in two: [0, w0], where h is nearly constant, and
    [w0, w1] in y = ln w, where h(e^y) e^y is analytic in the strip
    |Im y| < pi / 2 and bounded there; both by composite (7, 15) Gauss-Kronrod rules.
    Since h >= e^(-1) on [0, w0] (each factor is at least e^(-1/2)), the integral is
    at least L = w0 / e (or, over [0, 1 / delta], (1 - 1 / e) / delta times Jensen's
    bound on h(1 / delta), if larger), and w1 = (30 + ln(1 / (delta L))) / delta
    makes the cut tail, at most exp(-delta w1) / delta, below e^(-30) = 1e-13 of it.
    Each row's error estimate (Kronrod against Gauss, panel by panel) is held to
    1e-10 of its own value: the
    rows that fail it (if any) are integrated again with the panels halved, up to
    ``_DISCOUNT_REFINEMENTS`` times. The 15-point result is far more accurate than the
    estimate, which bounds the 7-point rule's error.
    """
    w0 = 0.5 * np.minimum(scale / np.maximum(rho, 1.0), 1.0 / delta)
    # A lower bound of the integral: w0 / e, or over [0, 1 / delta], where h is at least
    # its value at the end, at least Jensen's bound (1 + m u)^-rho, m = E[p].
    log_jensen = -rho * np.log1p(a / (a + beta) / (delta * scale))
    log_lower = np.maximum(np.log(w0) - 1.0, np.log(-np.expm1(-1.0) / delta) + log_jensen)
    y_low = np.log(w0)
    y_high = np.log((_DISCOUNT_TAIL - np.log(delta) - log_lower) / delta)
    out = np.full_like(scale, np.nan)
    rows = np.arange(len(scale))
    for level in range(_DISCOUNT_REFINEMENTS + 1):
        near, far = _discounted_integrands(rho[rows], beta[rows], a, scale[rows], delta)
        first, first_error = _composite_kronrod(near, np.zeros(len(rows)), w0[rows], 2**level)
        second, second_error = _composite_kronrod(
            far, y_low[rows], y_high[rows], _DISCOUNT_PANELS * 2**level
        )
        value = first + second
        out[rows] = value
        with np.errstate(invalid="ignore"):
            passed = first_error + second_error <= _DISCOUNT_TOLERANCE * value
        rows = rows[~passed]
        if len(rows) == 0:
            break
    return out


def _discounted_integrands(
    rho: FloatArray, beta: FloatArray, a: float, scale: FloatArray, delta: float
) -> tuple[Callable[[FloatArray], FloatArray], Callable[[FloatArray], FloatArray]]:
    """Integrands of :func:`discounted_power_mean`, a row per integral, p ~ Beta(a, beta).

    h(w) = exp(-delta w) E[(1 + p w / scale)^-rho] at a (rows, nodes) array of w, and
    h(e^y) e^y at one of y.
    """

    def near(w: FloatArray) -> FloatArray:
        shape = w.shape
        u = (w / scale[:, None]).ravel()
        rho_b = np.broadcast_to(rho[:, None], shape).ravel()
        beta_b = np.broadcast_to(beta[:, None], shape).ravel()
        values: FloatArray = power_mean(rho_b, beta_b, a, u).reshape(shape) * np.exp(-delta * w)
        return values

    def far(y: FloatArray) -> FloatArray:
        w = np.exp(y)
        values: FloatArray = near(w) * w
        return values

    return near, far
