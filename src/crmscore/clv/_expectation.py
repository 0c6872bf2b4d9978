"""E[Y(t) | x, tx, T] of the BG/NBD: every way of evaluating it (private, pure numpy).

The conditional expectation, equation (10) of Fader, Hardie and Lee (2005), is
P(alive) times E[(1 - (1 + p u)^-(r + x)) / p] over p ~ Beta(a, b + x), with
u = t / (alpha + T). That expectation's closed form divides 0 by 0 at a = 1, and
scipy's ``hyp2f1`` fails for some large parameters (clv/_mixtures guards it); this
module picks, per customer, a route that is accurate there.
"""

from __future__ import annotations

import threading

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
from crmscore.clv._mixtures import by_parts, closed_forms, power_mean

__all__ = [
    "bgnbd_expected_purchases",
    "bgnbd_expected_purchases_at",
    "clear_memo",
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
        if rest.any() and eps > 0:
            # (c / eps)(1 - X) with X by quadrature, to X's own relative accuracy: the
            # same form as the closed one, so the value never passes its limit c / eps
            # and keeps growing with the horizon where the routes meet.
            out[rest] = c[rest] / eps * (1.0 - power_mean(rho[rest], beta[rest], eps, u[rest]))
        elif rest.any():
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
    :func:`bgnbd_expected_purchases` at each horizon, to the last bit. Pairs of
    whole numbers are memoised (:func:`_pair_expectations`).
    """
    alive = bgnbd_probability_alive(theta, x, tx, T)
    (x_pairs, T_pairs), pair = group_rows([x, T])  # noqa: N806
    table = _pair_expectations(theta, x_pairs, T_pairs, times)
    return [alive * table[:, k][pair] for k in range(len(times))]


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
    table = _pair_expectations(shifted, x_pairs, T_pairs, times)
    return [alive * table[:, k][pair] for k in range(len(times))]


# --------------------------------------------------------------------------------------
# A memo of the expectations of (x, T) pairs of whole numbers
# --------------------------------------------------------------------------------------

#: Cells (pairs times horizons) the memo may hold over all its entries: 16 MB of values.
_MEMO_CELLS = 1 << 21
#: Entries (parameters and horizons) kept: the latest ones.
_MEMO_ENTRIES = 4
#: Bits of T in a pair's key (the frequency takes the bits above them).
_T_BITS = 40

_Level = tuple[npt.NDArray[np.int64], FloatArray]  # sorted keys, values (pairs x horizons)
_memo: dict[tuple[float, ...], tuple[_Level, _Level]] = {}  # (base, recent additions)
_memo_lock = threading.Lock()


def clear_memo() -> None:
    """Forget every memoised expectation (the memo only ever saves time)."""
    with _memo_lock:
        _memo.clear()


def _memo_cells() -> int:
    return sum(base[1].size + recent[1].size for base, recent in _memo.values())


def _pair_keys(x: FloatArray, T: FloatArray) -> npt.NDArray[np.int64] | None:  # noqa: N803
    """One int64 key per (x, T) pair of whole numbers, or None if any pair is not one."""
    if x.size == 0:
        return None
    with np.errstate(invalid="ignore"):
        whole = (
            float(x.min()) >= 0
            and float(x.max()) < 1 << (62 - _T_BITS)
            and float(T.min()) >= 0
            and float(T.max()) < 1 << _T_BITS
            and np.array_equal(x, np.floor(x))
            and np.array_equal(T, np.floor(T))
        )
    if not whole:
        return None
    keys: npt.NDArray[np.int64] = (x.astype(np.int64) << _T_BITS) | T.astype(np.int64)
    return keys


def _look_up(level: _Level, keys: npt.NDArray[np.int64], out: FloatArray) -> npt.NDArray[np.bool_]:
    """Copy the values of ``keys`` found in ``level`` into ``out``; return where found."""
    known_keys, known_values = level
    if known_keys.size == 0:
        return np.zeros(keys.size, dtype=bool)
    at = np.minimum(np.searchsorted(known_keys, keys), known_keys.size - 1)
    hit: npt.NDArray[np.bool_] = known_keys[at] == keys
    out[hit] = known_values[at[hit]]
    return hit


def _insert(level: _Level, keys: npt.NDArray[np.int64], values: FloatArray) -> _Level:
    """``level`` with sorted ``keys`` (none of them in it) put in their places."""
    at = np.searchsorted(level[0], keys)
    return np.insert(level[0], at, keys), np.insert(level[1], at, values, axis=0)


def _pair_expectations(
    theta: Params,
    x: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
    times: list[float],
) -> FloatArray:
    """:func:`_expectation` of distinct pairs at each horizon: shape (pairs, horizons).

    The expectation of a pair is a pure function of (theta, x, T, t), evaluated
    element by element, so a value computed once is the same to the last bit when
    computed again among other pairs. An online CLV scores a few thousand customers
    at a time whose pairs of whole periods (frequency, age) keep recurring: those
    are memoised per (theta, horizons), up to ``_MEMO_CELLS`` values over the
    latest ``_MEMO_ENTRIES`` entries. Pairs that are not whole numbers are always
    computed. New pairs go into a small level of recent additions, folded into the
    base level when it reaches a quarter of it, so that a call copies in proportion
    to what it adds, not to the memo.
    """
    keys = _pair_keys(x, T)
    if keys is None or len(times) * keys.size > _MEMO_CELLS:
        return _compute(theta, x, T, times)
    entry = (*(float(v) for v in theta), *(float(t) for t in times))
    with _memo_lock:
        known = _memo.get(entry)
    out = np.empty((keys.size, len(times)))
    missing = np.ones(keys.size, dtype=bool)
    if known is not None:
        base, recent = known
        missing = ~_look_up(base, keys, out)
        if recent[0].size and missing.any():
            rest = np.flatnonzero(missing)
            part = np.empty((rest.size, len(times)))
            found = _look_up(recent, keys[rest], part)
            out[rest[found]] = part[found]
            missing[rest[found]] = False
    if not missing.any():
        return out
    fresh = _compute(theta, x[missing], T[missing], times)
    out[missing] = fresh
    new_keys = keys[missing]
    if new_keys.size > 1 and not (new_keys[1:] > new_keys[:-1]).all():  # (never from group_rows)
        order = np.argsort(new_keys)
        new_keys, fresh = new_keys[order], fresh[order]
    if known is None:
        stored = ((new_keys, fresh), (new_keys[:0], fresh[:0]))
    else:
        recent = _insert(known[1], new_keys, fresh)
        if 4 * recent[0].size >= known[0][0].size:
            stored = (_insert(known[0], *recent), (new_keys[:0], fresh[:0]))
        else:
            stored = (known[0], recent)
    with _memo_lock:
        _memo.pop(entry, None)
        _memo[entry] = stored  # (the newest last)
        while len(_memo) > _MEMO_ENTRIES or (len(_memo) > 1 and _memo_cells() > _MEMO_CELLS):
            del _memo[next(iter(_memo))]  # the oldest first
        if _memo_cells() > _MEMO_CELLS:
            _memo.clear()
    return out


def _compute(
    theta: Params,
    x: FloatArray,
    T: FloatArray,  # noqa: N803 (the paper's symbol for the age)
    times: list[float],
) -> FloatArray:
    out = np.empty((x.size, len(times)))
    for k, t in enumerate(times):
        out[:, k] = _expectation(theta, x, T, t)
    return out


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
    is formed on the distinct pairs (:func:`_pair_expectations`, memoised) and
    multiplied by P(alive) once, rather than kept per customer and horizon (as
    :func:`bgnbd_expected_purchases_at` would). ``modified`` gives the MBG/NBD (see
    :func:`mbgnbd_expected_purchases_at`).
    """
    r, alpha, a, b = theta
    if modified:
        alive = mbgnbd_probability_alive(theta, x, tx, T)
        theta = (r, alpha, a, b + 1.0)
    else:
        alive = bgnbd_probability_alive(theta, x, tx, T)
    (x_pairs, T_pairs), pair = group_rows([x, T])  # noqa: N806
    table = _pair_expectations(theta, x_pairs, T_pairs, times)
    total = np.zeros(x_pairs.size)
    previous = np.zeros(x_pairs.size)
    for k in range(len(times)):
        current = table[:, k]
        total += (current - previous) / (1.0 + rate) ** (k + 1)
        previous = current
    result: FloatArray = alive * total[pair]
    return result
