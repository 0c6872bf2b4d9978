"""P(X(t) = n) under the Pareto/NBD model (private, pure numpy).

A customer buys at rate lambda ~ Gamma(r, alpha) while alive and dies at an
exponential time with rate mu ~ Gamma(s, beta). The count in (0, t] is Poisson
with mean lambda t if the customer survives t, and Poisson with mean lambda tau if
the customer dies at tau < t, so (Fader and Hardie 2006, "Deriving an expression
for P(X(t) = x) under the Pareto/NBD model")

    P(X(t) = n) = NB(n; r, alpha / (alpha + t)) (beta / (beta + t))^s
                + s alpha^r beta^s Gamma(r + n) / (Gamma(r) n!) J,
    J = int_0^t tau^n (alpha + tau)^-(r + n) (beta + tau)^-(s + 1) dtau.

The note writes J with Gauss hypergeometric functions and a finite sum whose terms
cancel; here J is integrated as it is. With tau = e^v the log integrand

    psi(v) = (n + 1) v - (r + n) log(alpha + e^v) - (s + 1) log(beta + e^v)

is strictly concave, and psi'(v) = 0 is a quadratic in w = e^v,

    (r + s) w^2 - (alpha (n - s) + beta (1 - r)) w - (n + 1) alpha beta = 0,

so the mode is known in closed form. On each side of the mode the range is cut
where psi has fallen by fixed levels (Newton's method on the convex fall, started
past the crossing, converges monotonically) and each piece gets a Gauss-Legendre
rule: the integrand falls by a bounded factor on every piece, whatever the
parameters, x or t. The tests check it against 50-digit mpmath quadrature.

Given a customer's history (x, t_x, T), the customer is dead with probability
1 - P(alive), or alive with lambda ~ Gamma(r + x, alpha + T) and mu ~
Gamma(s, beta + T) (the memoryless process starts afresh), so the conditional
distribution is this one with those parameters, mixed with a point mass at 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from scipy.special import gammaln

if TYPE_CHECKING:
    from crmscore.clv._kernels import FloatArray

__all__ = ["pareto_probability_of_purchases"]

#: Fall of psi below its maximum where the range ends, on each side of the mode.
_DEPTH = 60.0
#: Pieces on each side of the mode: [0, e0], then geometric up to the depth.
_PIECES = 10
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(10)
_NEWTON_STEPS = 50
#: Elements evaluated at once (bounds the memory of the node arrays).
_CHUNK = 8192


class _Shape(NamedTuple):
    """The parameters of the log integrand psi, per element (or per column)."""

    n: FloatArray
    r: FloatArray
    log_alpha: FloatArray
    s: FloatArray
    log_beta: FloatArray

    def column(self) -> _Shape:
        """Return the same as columns, to broadcast against (elements, nodes) arrays."""
        return _Shape(*(value[:, None] for value in self))


def _psi(v: FloatArray, k: _Shape) -> FloatArray:
    """psi(v) + (r + n) log(alpha) + (s + 1) log(beta), written without cancellation."""
    result: FloatArray = (
        (k.n + 1.0) * v
        - (k.r + k.n) * np.logaddexp(0.0, v - k.log_alpha)
        - (k.s + 1.0) * np.logaddexp(0.0, v - k.log_beta)
    )
    return result


def _shares(
    v: FloatArray, log_alpha: FloatArray, log_beta: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """e^v / (alpha + e^v) and e^v / (beta + e^v)."""
    return 1.0 / (1.0 + np.exp(log_alpha - v)), 1.0 / (1.0 + np.exp(log_beta - v))


def _slope(v: FloatArray, k: _Shape) -> FloatArray:
    """psi'(v) = (n + 1) - (r + n) e^v / (alpha + e^v) - (s + 1) e^v / (beta + e^v)."""
    ea, eb = _shares(v, k.log_alpha, k.log_beta)
    result: FloatArray = (k.n + 1.0) - (k.r + k.n) * ea - (k.s + 1.0) * eb
    return result


def _mode(
    n: FloatArray, r: FloatArray, alpha: FloatArray, s: FloatArray, beta: FloatArray
) -> FloatArray:
    """Log of the positive root w of (r + s) w^2 - B w - (n + 1) alpha beta = 0."""
    big_b = alpha * (n - s) + beta * (1.0 - r)
    root = np.sqrt(big_b**2 + 4.0 * (r + s) * (n + 1.0) * alpha * beta)
    # The two forms of the root, each free of cancellation on its side of B = 0.
    w = np.where(
        big_b >= 0,
        (np.maximum(big_b, 0.0) + root) / (2.0 * (r + s)),
        2.0 * (n + 1.0) * alpha * beta / (root - np.minimum(big_b, 0.0)),
    )
    result: FloatArray = np.log(w)
    return result


def _side(
    start: FloatArray,
    limit: FloatArray,
    *,
    direction: float,
    steepest: FloatArray,
    scale: FloatArray,
    top: FloatArray,
    k: _Shape,
) -> FloatArray:
    """Piece edges u (rows: elements) from the mode out to a fall of _DEPTH or ``limit``.

    The fall h(u) = top - psi(start + direction u) is convex and increasing, with
    h(0) = 0 and h' <= ``steepest``. Newton's method for h = _DEPTH starts at
    _DEPTH / steepest, before the crossing: its first step lands beyond it (h is
    convex) and the iterates then fall to it monotonically. The first piece is
    [0, ``scale``] (the width of the peak), the others grow geometrically.
    """
    inside = top - _psi(start + direction * limit, k) > _DEPTH
    u = np.where(inside, np.minimum(_DEPTH / steepest, limit), limit)
    for _ in range(_NEWTON_STEPS):
        v = start + direction * u
        fall = top - _psi(v, k) - _DEPTH
        slope = -direction * _slope(v, k)
        usable = inside & (slope > 0)
        step = np.where(usable, fall / np.where(usable, slope, 1.0), 0.0)
        u = np.clip(u - step, 0.0, limit)
        if np.all(np.abs(step) <= 1e-10 * np.maximum(u, 1.0)):
            break
    first = np.minimum(scale, u)
    ratio = np.where(first > 0, u / np.where(first > 0, first, 1.0), 1.0)
    grades = np.arange(_PIECES) / (_PIECES - 1)
    return np.concatenate(
        (np.zeros((len(u), 1)), first[:, None] * ratio[:, None] ** grades), axis=1
    )


def _log_integral(
    n: FloatArray,
    r: FloatArray,
    alpha: FloatArray,
    *,
    s: FloatArray,
    beta: FloatArray,
    log_t: FloatArray,
) -> FloatArray:
    """log(J alpha^(r + n) beta^(s + 1)) for t > 0, by pieces on both sides of the mode."""
    log_alpha = np.log(alpha)
    log_beta = np.log(beta)
    k = _Shape(n, r, log_alpha, s, log_beta)
    mode = np.minimum(_mode(n, r, alpha, s, beta), log_t)
    top = _psi(mode, k)
    # The peak's width: 1 / sqrt(-psi''), or 1 / |psi'| where the mode is t itself.
    ea, eb = _shares(mode, log_alpha, log_beta)
    curvature = (r + n) * ea * (1.0 - ea) + (s + 1.0) * eb * (1.0 - eb)
    with np.errstate(divide="ignore"):  # psi' = 0 at an inner mode
        scale = np.minimum(0.5 / np.sqrt(curvature), 0.5 / np.abs(_slope(mode, k)))
    left = _side(
        mode,
        np.full(len(mode), np.inf),
        direction=-1.0,
        steepest=n + 1.0,
        scale=scale,
        top=top,
        k=k,
    )
    right = _side(mode, log_t - mode, direction=1.0, steepest=r + s, scale=scale, top=top, k=k)
    edges = np.concatenate((mode[:, None] - left[:, :0:-1], mode[:, None] + right), axis=1)
    half = np.diff(edges, axis=1) / 2.0
    mid = (edges[:, 1:] + edges[:, :-1]) / 2.0
    v = (mid[:, :, None] + half[:, :, None] * _NODES).reshape(len(n), -1)
    w = (half[:, :, None] * _WEIGHTS).reshape(len(n), -1)
    column = k.column()
    values = w * np.exp(_psi(v, column) - top[:, None])
    result: FloatArray = top + np.log(values.sum(axis=1))
    return result


def pareto_probability_of_purchases(theta: Any, n: FloatArray, t: FloatArray) -> FloatArray:
    """P(X(t) = n) for a new customer; theta's entries may be arrays broadcast with n, t."""
    r, alpha, s, beta = (np.asarray(p, dtype=np.float64) for p in theta)
    shape = np.broadcast_shapes(r.shape, alpha.shape, s.shape, beta.shape, n.shape, t.shape)
    r, alpha, s, beta, n, t = (np.broadcast_to(a, shape).ravel() for a in (r, alpha, s, beta, n, t))
    log_nb = gammaln(r + n) - gammaln(r) - gammaln(n + 1.0)
    positive = t > 0
    safe_t = np.where(positive, t, 1.0)
    share = np.where(n > 0, n * (np.log(safe_t) - np.log(alpha + safe_t)), 0.0)
    alive = np.where(
        positive,
        np.exp(log_nb - r * np.log1p(safe_t / alpha) + share - s * np.log1p(safe_t / beta)),
        (n == 0).astype(np.float64),
    )
    dead = np.zeros(len(n))
    where = np.flatnonzero(positive)
    for begin in range(0, len(where), _CHUNK):
        rows = where[begin : begin + _CHUNK]
        log_j = _log_integral(
            n[rows], r[rows], alpha[rows], s=s[rows], beta=beta[rows], log_t=np.log(t[rows])
        )
        dead[rows] = np.exp(
            np.log(s[rows])
            - np.log(beta[rows])
            - n[rows] * np.log(alpha[rows])
            + log_nb[rows]
            + log_j
        )
    result: FloatArray = (alive + dead).reshape(shape)
    return result
