"""Numerical stability of the CLV models: extreme inputs, known traps, a high-precision oracle."""

from __future__ import annotations

import math
from typing import Any

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import crmscore as cs
from crmscore import BetaGeoModel, BetaGeoParams, GammaGammaModel, GammaGammaParams
from crmscore.clv import _expectation, _kernels
from crmscore.clv._expectation import bgnbd_expected_purchases
from tests.oracles import oracle_expected_purchases
from tests.strategies import log_uniform


def one_row(x: float, tx: float, age: float) -> pd.DataFrame:
    return pd.DataFrame({"frequency": [x], "recency": [tx], "T": [age]})


# --- a = 1: the closed form is 0/0; we return the limit --------------------------------

CDNOW_AT_A_ONE = BetaGeoParams(r=0.243, alpha=4.414, a=1.0, b=2.426)


@pytest.mark.parametrize(
    ("x", "tx", "age", "t"),
    [(0, 0.0, 38.86, 39.0), (2, 30.43, 38.86, 39.0), (7, 35.0, 38.0, 52.0), (1, 5.0, 70.0, 1.0)],
)
def test_a_equal_to_one_gives_the_limit(x: int, tx: float, age: float, t: float) -> None:
    model = BetaGeoModel.from_params(CDNOW_AT_A_ONE)
    ours = float(model.expected_purchases(one_row(x, tx, age), t=t).iloc[0])
    assert ours == pytest.approx(
        oracle_expected_purchases(CDNOW_AT_A_ONE, x, tx, age, t), rel=1e-10
    )
    # lifetimes divides 0 by 0 here.
    with np.errstate(all="ignore"):
        reference = model.to_lifetimes().conditional_expected_number_of_purchases_up_to_time(
            t, np.array([x]), np.array([tx]), np.array([age])
        )
    assert not np.isfinite(np.asarray(reference, dtype=np.float64)).all()


def test_expected_purchases_are_continuous_through_a_equal_to_one() -> None:
    table = one_row(3, 20.0, 40.0)
    values = {}
    for a in (1 - 2.1e-3, 1 - 1e-3, 1 - 1e-9, 1.0, 1 + 1e-9, 1 + 1e-3, 1 + 2.1e-3):
        params = BetaGeoParams(r=0.5, alpha=6.0, a=a, b=2.5)
        ours = float(BetaGeoModel.from_params(params).expected_purchases(table, t=26).iloc[0])
        assert ours == pytest.approx(
            oracle_expected_purchases(params, 3, 20.0, 40.0, 26.0), rel=1e-10
        )
        values[a] = ours
    assert values[1 - 1e-9] == pytest.approx(values[1.0], rel=1e-8)
    new = BetaGeoModel.from_params(CDNOW_AT_A_ONE).expected_purchases_new_customer(52.0)
    assert new == pytest.approx(oracle_expected_purchases(CDNOW_AT_A_ONE, 0, 0, 0, 52.0), rel=1e-10)


# --- the likelihood trap: large parameters and a customer without repeat purchases ---------


def test_log_likelihood_with_large_parameters_is_finite() -> None:
    # r = alpha = a = b = 1e4, x = 0, t_x = 0, T = 5000: LL = r ln(alpha / (alpha + T)).
    params = BetaGeoParams(r=1e4, alpha=1e4, a=1e4, b=1e4)
    table = one_row(0, 0.0, 5000.0)
    ours = float(BetaGeoModel.from_params(params).log_likelihood_of(table).iloc[0])
    assert ours == pytest.approx(1e4 * math.log(1e4 / 1.5e4), rel=1e-13)
    assert round(ours, 2) == -4054.65
    data = _kernels.prepare_bgnbd(np.zeros(1), np.zeros(1), np.full(1, 5000.0), np.ones(1))
    derivatives = _kernels.bgnbd_derivatives((1e4, 1e4, 1e4, 1e4), data)
    assert np.isfinite(derivatives.gradient).all()
    assert np.isfinite(derivatives.hessian).all()
    # lifetimes: the masked second term still enters its log-sum-exp maximum, and
    # exp(-4055) underflows to 0, so it returns -inf.
    from lifetimes import BetaGeoFitter  # noqa: PLC0415

    with np.errstate(all="ignore"):
        theirs = -BetaGeoFitter._negative_log_likelihood(
            np.log([1e4] * 4), np.zeros(1), np.zeros(1), np.full(1, 5000.0), np.ones(1), 0.0
        )
    assert theirs == -np.inf


def test_b_equal_to_one_without_repeat_purchases() -> None:
    # lifetimes computes 0 * a / (b + x - 1) = 0 * inf = NaN here; the term is absent.
    params = BetaGeoParams(r=1.0, alpha=1.0, a=10.0, b=1.0)
    ours = float(BetaGeoModel.from_params(params).expected_purchases(one_row(0, 0, 0), t=1).iloc[0])
    assert ours == pytest.approx(oracle_expected_purchases(params, 0, 0, 0, 1.0), rel=1e-12)


# --- every code path of the expectation, against the oracle ---------------------------


@pytest.mark.parametrize(
    ("params", "x", "age", "t"),
    [
        # power series in u (short horizon)
        ((0.166, 4.32, 0.735, 57.2), 6, 6.03, 0.429),
        ((844.0, 827.0, 198.0, 300.0), 53, 680.0, 0.281),
        # the paper's closed form
        ((0.243, 4.414, 0.793, 2.426), 2, 38.86, 39.0),
        ((51.0, 0.0783, 17.1, 0.0624), 763, 918.0, 818.0),
        # a + b + x - 1 < 0: the closed form is negative before 1 - X (lifetimes: log < 0)
        ((1.0, 1.0, 0.1, 0.1), 0, 0.0, 2.0),
        # Euler transform, after scipy's hyp2f1 overflows in the paper's form
        ((323.0, 0.00144, 0.420, 0.812), 0, 1.82, 8251.0),
        ((0.00338, 536.0, 5.93, 1.10), 972, 1590.0, 2367.0),
        # X below 1e-20: the expectation is c / (a - 1) to double precision
        ((972.5, 0.00906, 538.9, 5.72), 0, 12.7, 2243.0),
        ((504.3, 3.99, 485.5, 0.705), 8, 33.1, 1630.0),
        # every closed form fails in scipy: quadrature
        ((0.00829, 0.00392, 1.196, 312.5), 4, 4.67, 9786.0),
        ((0.316, 0.233, 0.141, 309.4), 0, 1.07, 7722.0),
        ((18.5, 0.166, 26.0, 540.4), 1, 16.4, 5938.0),
        # scipy's hyp2f1 returned a finite wrong value here (X = -2e155): the bounds
        # check of X sends it to the next route (found by the finiteness test below).
        ((10**3.5, 1.0, 10**3.5, 10_000.0), 0, 1e5, 47_919.0),
    ],
)
def test_each_evaluation_path_matches_the_oracle(
    params: tuple[float, float, float, float], x: int, age: float, t: float
) -> None:
    p = BetaGeoParams(r=params[0], alpha=params[1], a=params[2], b=params[3])
    tx = 0.6 * age if x > 0 else 0.0
    ours = float(BetaGeoModel.from_params(p).expected_purchases(one_row(x, tx, age), t=t).iloc[0])
    assert ours == pytest.approx(oracle_expected_purchases(p, x, tx, age, t), rel=1e-9)


@pytest.mark.parametrize(
    "theta",
    [
        (1.03, 30.3, 1.0036, 11.7),  # the closed form (a daily book)
        (2.0, 10.0, 1.0005, 3.0),  # the band around a = 1
        (0.00829, 0.00392, 1.196, 312.5),  # small r and alpha, large b
    ],
)
def test_memoised_expectations_are_fresh_ones_to_the_last_bit(
    theta: tuple[float, float, float, float],
) -> None:
    # Pairs of whole numbers are memoised across calls: a value served from the memo,
    # computed among other pairs, must equal the pair evaluated alone, bit for bit.
    rng = np.random.default_rng(7)
    times = [30.0 * k for k in (1, 2, 12)]
    _expectation.clear_memo()
    seen: list[tuple[float, float]] = []
    recent_sizes = []
    # Overlapping calls: hits in the base and in the recent additions, misses, and a
    # fold of the recent additions into the base (the last, larger call).
    for n in (150, 10, 10, 60):
        x = rng.integers(0, 6, n).astype(float)
        age = rng.integers(0, 40, n).astype(float) * 20
        tx = np.where(x > 0, age / 2, 0.0)
        got = _expectation.bgnbd_expected_purchases_at(theta, x, tx, age, times)
        alive = _kernels.bgnbd_probability_alive(theta, x, tx, age)
        for k, t in enumerate(times):
            alone = np.array(
                [
                    _expectation._expectation(theta, x[i : i + 1], age[i : i + 1], t)[0]
                    for i in range(n)
                ]
            )
            assert np.array_equal(got[k], alive * alone)
        seen.extend(zip(x, age, strict=True))
        ((_, recent),) = _expectation._memo.values()
        recent_sizes.append(recent[0].size)
    assert len(set(seen)) < len(seen)  # (some pairs came back from the memo)
    assert recent_sizes[1] > 0  # (added to the recent level)
    assert recent_sizes[-1] == 0  # (folded into the base)
    levels = [level for entry in _expectation._memo.values() for level in entry]
    assert all((np.diff(keys) > 0).all() for keys, _ in levels)
    # Not whole numbers: computed every time, never stored.
    _expectation.clear_memo()
    x, age = np.array([1.0, 2.0]), np.array([10.5, 20.0])
    (value,) = _expectation.bgnbd_expected_purchases_at(theta, x, age / 2, age, [30.0])
    alone = _expectation._expectation(theta, x, age, 30.0)
    assert np.array_equal(value, _kernels.bgnbd_probability_alive(theta, x, age / 2, age) * alone)
    assert not _expectation._memo


def test_the_memo_stays_within_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_expectation, "_MEMO_CELLS", 100)
    _expectation.clear_memo()
    theta = (1.03, 30.3, 1.0036, 11.7)
    for shift in range(6):  # a new entry per horizon: the oldest go first
        x, age = np.arange(10.0), np.full(10, 100.0 + shift)
        _expectation.bgnbd_expected_purchases_at(theta, x, 0 * x, age, [30.0 + shift] * 3)
        cells = _expectation._memo_cells()
        assert len(_expectation._memo) <= _expectation._MEMO_ENTRIES
        assert cells <= 100
    # A call larger than the memo is computed and not stored.
    x, age = np.arange(50.0), np.full(50, 10.0)
    _expectation.bgnbd_expected_purchases_at(theta, x, 0 * x, age, [1.0, 2.0, 3.0])
    assert all(k[4:] != (1.0, 2.0, 3.0) for k in _expectation._memo)
    _expectation.clear_memo()


# --- finiteness over the whole domain ----------------------------------------------------

WIDE = log_uniform(1e-4, 1e4)


@st.composite
def extreme_customers(draw: st.DrawFn) -> tuple[np.ndarray[Any, Any], ...]:
    n = draw(st.integers(1, 6))
    ages = np.array(draw(st.lists(st.floats(0.0, 1e5), min_size=n, max_size=n)))
    x = np.array(draw(st.lists(st.integers(0, 100_000), min_size=n, max_size=n)), dtype=float)
    share = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    tx = np.where(x > 0, ages * share, 0.0)
    # Always include the corners.
    x = np.append(x, [0.0, 1e5, 1e5, 1.0])
    tx = np.append(tx, [0.0, 1e5, 0.0, 0.0])
    ages = np.append(ages, [1e5, 1e5, 1e5, 0.0])
    return x, tx, ages


@settings(max_examples=150)
@given(
    theta=st.tuples(WIDE, WIDE, WIDE, WIDE), customers=extreme_customers(), t=st.floats(0.0, 1e5)
)
@example(
    theta=(10**3.5, 1.0, 10**3.5, 10_000.0),
    customers=(
        np.array([0.0, 0.0, 1e5, 1e5, 1.0]),
        np.array([0.0, 0.0, 1e5, 0.0, 0.0]),
        np.array([0.0, 1e5, 1e5, 1e5, 0.0]),
    ),
    t=47_919.0,
)
def test_bgnbd_is_finite_everywhere(
    theta: tuple[float, float, float, float], customers: tuple[Any, ...], t: float
) -> None:
    x, tx, age = customers
    assert np.isfinite(_kernels.bgnbd_log_likelihood(theta, x, tx, age)).all()
    d = _kernels.bgnbd_derivatives(theta, _kernels.prepare_bgnbd(x, tx, age, np.ones_like(x)))
    assert math.isfinite(d.value)
    assert np.isfinite(d.gradient).all()
    assert np.isfinite(d.hessian).all()
    alive = _kernels.bgnbd_probability_alive(theta, x, tx, age)
    assert ((alive >= 0) & (alive <= 1)).all()
    expected = bgnbd_expected_purchases(theta, x, tx, age, t)
    assert np.isfinite(expected).all()
    assert (expected >= 0).all()
    n = np.array([0.0, 1.0, 10.0, 1e5])
    probabilities = _kernels.bgnbd_probability_of_purchases(theta, n, np.full(4, t))
    assert np.isfinite(probabilities).all()
    assert ((probabilities >= 0) & (probabilities <= 1 + 1e-12)).all()


@given(
    theta=st.tuples(WIDE, WIDE, WIDE),
    x=st.lists(st.integers(1, 100_000), min_size=1, max_size=6),
    m=st.lists(st.floats(1e-2, 1e6), min_size=6, max_size=6),
)
def test_gamma_gamma_is_finite_everywhere(
    theta: tuple[float, float, float], x: list[int], m: list[float]
) -> None:
    p, q, v = theta
    xs = np.array(x, dtype=float)
    ms = np.array(m[: len(x)])
    d = _kernels.gg_derivatives((p, q, v), xs, ms, np.ones_like(xs))
    assert math.isfinite(d.value)
    assert np.isfinite(d.gradient).all()
    assert np.isfinite(d.hessian).all()
    model = GammaGammaModel.from_params(GammaGammaParams(p=p, q=q, v=v))
    table = pd.DataFrame({"frequency": xs, "monetary_value": ms})
    # Finite and positive wherever the posterior mean exists (p x + q > 1); refused,
    # naming the customers, where it does not (never inf).
    exists = p * xs + q > 1
    if not exists.all():
        with pytest.raises(cs.InvalidDataError, match="finite expected spend"):
            model.expected_spend(table)
    if exists.any():
        spend = model.expected_spend(table[exists])
        assert np.isfinite(spend).all()
        assert (spend > 0).all()


# --- P(X(t) = n): the negative-binomial tail without cancellation -----------------------


def oracle_probability_of_purchases(params: BetaGeoParams, n: int, t: float) -> float:
    """Equation (8) with its finite sum, in 50-digit arithmetic."""
    with mp.workdps(50):
        r, alpha, a, b = (mp.mpf(v) for v in (params.r, params.alpha, params.a, params.b))
        t_ = mp.mpf(t)
        share = t_ / (alpha + t_)
        head = (
            mp.beta(a, b + n)
            / mp.beta(a, b)
            * mp.rf(r, n)
            / mp.factorial(n)
            * (alpha / (alpha + t_)) ** r
            * share**n
        )
        if n == 0:
            return float(head)
        partial = mp.fsum(mp.rf(r, j) / mp.factorial(j) * share**j for j in range(n))
        tail = 1 - (alpha / (alpha + t_)) ** r * partial
        return float(head + mp.beta(a + 1, b + n - 1) / mp.beta(a, b) * tail)


@pytest.mark.parametrize("t", [0.5, 1.0, 52.0, 500.0])
@pytest.mark.parametrize("n", [0, 1, 5, 29, 80])
def test_probability_of_purchases_matches_the_oracle(n: int, t: float) -> None:
    params = BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    ours = BetaGeoModel.from_params(params).probability_of_purchases(n, t=t)
    assert ours == pytest.approx(oracle_probability_of_purchases(params, n, t), rel=1e-12)


def test_expected_spend_when_the_population_mean_is_infinite() -> None:
    # q <= 1: the population mean p v / (q - 1) does not exist; a customer's
    # posterior mean does as soon as p x + q > 1.
    model = GammaGammaModel.from_params(GammaGammaParams(p=2.0, q=0.8, v=10.0))
    assert model.mean_spend == math.inf
    table = pd.DataFrame({"frequency": [0, 1, 3], "monetary_value": [0.0, 20.0, 30.0]})
    spend = model.expected_spend(table.iloc[1:])
    assert spend.iloc[0] == pytest.approx(2.0 * (10.0 + 20.0) / (2.0 + 0.8 - 1))
    assert spend.iloc[1] == pytest.approx(2.0 * (10.0 + 90.0) / (6.0 + 0.8 - 1))
    # ... and where it does not (p x + q <= 1), the customers are named, never inf
    # (tests/test_numeric_edges.py).


# --- what docs/clv.md says of lifetimes 0.11.3, checked ------------------------------------


def lifetimes_expected_purchases(
    params: BetaGeoParams, x: float, tx: float, age: float, t: float
) -> float:
    reference = BetaGeoModel.from_params(params).to_lifetimes()
    with np.errstate(all="ignore"):
        value = reference.conditional_expected_number_of_purchases_up_to_time(
            t, np.array([float(x)]), np.array([tx]), np.array([age])
        )
    return float(np.asarray(value, dtype=np.float64)[0])


def test_lifetimes_fails_where_the_docs_say() -> None:
    # b = 1 without repeat purchases (0 * inf) and a + b < 1 (log of a negative 2F1):
    # NaN, where crmscore matches the oracle (the tests above).
    assert math.isnan(
        lifetimes_expected_purchases(BetaGeoParams(r=1, alpha=1, a=10, b=1), 0, 0, 0, 1)
    )
    assert math.isnan(
        lifetimes_expected_purchases(BetaGeoParams(r=1, alpha=1, a=0.1, b=0.1), 0, 0, 0, 2)
    )
    # Where scipy's hyp2f1 overflows in the paper's form: NaN.
    for theta, x, age, t in [
        ((323.0, 0.00144, 0.420, 0.812), 0, 1.82, 8251.0),
        ((0.00829, 0.00392, 1.196, 312.5), 4, 4.67, 9786.0),
        ((0.316, 0.233, 0.141, 309.4), 0, 1.07, 7722.0),
        ((18.5, 0.166, 26.0, 540.4), 1, 16.4, 5938.0),
    ]:
        params = BetaGeoParams(r=theta[0], alpha=theta[1], a=theta[2], b=theta[3])
        tx = 0.6 * age if x > 0 else 0.0
        assert math.isnan(lifetimes_expected_purchases(params, x, tx, age, t))
    # P(X(t) = n) by a finite sum that cancels: 3 % off at n = 29, t = 0.5 (CDNOW's
    # estimates), and negative at t = 1, where crmscore is within 1e-12 of the oracle.
    cdnow = BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    reference = BetaGeoModel.from_params(cdnow).to_lifetimes()
    half = reference.probability_of_n_purchases_up_to_time(0.5, 29)
    assert 0.02 < abs(half / oracle_probability_of_purchases(cdnow, 29, 0.5) - 1) < 0.04
    assert reference.probability_of_n_purchases_up_to_time(1.0, 29) < 0
