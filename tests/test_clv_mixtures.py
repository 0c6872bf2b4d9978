"""Closed forms of the BG/NBD family's predictions where scipy's hyp2f1 and hyperu fail:
P(alive later), DERT (BG/NBD, MBG/NBD, Pareto/NBD) and the sBG's DERL against mpmath
oracles at pinned hard cases, and their bounds over extreme but valid parameters."""

from __future__ import annotations

from typing import Any

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crmscore import (
    BetaGeoModel,
    BetaGeoParams,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ParetoNBDParams,
    ShiftedBetaGeoModel,
    predict_dert,
    predict_p_alive_at,
)
from crmscore.clv._mixtures import _GK_GAUSS, _GK_KRONROD, _GK_NODES, power_mean
from tests.oracles import oracle_expected_purchases, oracle_power_mean
from tests.strategies import log_uniform


def one_row(x: float, tx: float, age: float) -> pd.DataFrame:
    return pd.DataFrame({"frequency": [x], "recency": [tx], "T": [age]})


# --- E[(1 + p u)^-rho], p ~ Beta(a, beta): P(alive later) and DERT's integrand ---------


@pytest.mark.parametrize(
    ("rho", "beta", "a", "u"),
    [
        # CDNOW's estimates, a customer with x = 2 a year ahead: the closed form.
        (2.243, 4.426, 0.793, 52.0 / 43.314),
        # every closed form fails (NaN, or outside the bounds): the quadrature
        (301.682, 0.00516963, 215.93, 1.78809),
        (2.00023, 8379.76, 0.023099, 470.253),  # a < 1
        # the integrand's peak lies between knee and bulk, 0.05 wide in ln p: 2e-4 off
        # before the quadrature cut around it
        (1105.42, 828.649, 72.8243, 12.2906),
    ],
)
def test_power_mean_matches_the_oracle(rho: float, beta: float, a: float, u: float) -> None:
    ours = power_mean(np.array([rho]), np.array([beta]), a, np.array([u]))[0]
    assert ours == pytest.approx(oracle_power_mean(rho, beta, a, u), rel=1e-10)


@pytest.mark.parametrize(
    ("rho", "beta", "a", "u"),
    [
        # z near 1 with d = a - rho within 1e-14 of 0: scipy's connection formulas cancel
        # and every closed form was accepted 40 % off (or more); now the quadrature.
        (19.68500000000001, 3.418, 19.685, 489.5),
        # the Pfaff form 2F1(rho, a; a + beta; -u), the only one within the bounds here,
        # was 8.5 times the value; it is no longer used.
        (30.68035311573711, 85.06093515115623, 23.3, 3718.6019046000147),
        # large parameters, z near 1, d not near an integer: the paper's form holds.
        (127.4, 40.2, 23.3, 4563.0),
        # ... but not here (d = -18.26): 83 % off, inside the bounds; the forms disagree.
        (68.04461532965793, 0.7601770712438946, 49.784685226703516, 112.14659889493724),
    ],
)
def test_power_mean_keeps_its_relative_accuracy_where_hyp2f1_was_wrong(
    rho: float, beta: float, a: float, u: float
) -> None:
    ours = power_mean(np.array([rho]), np.array([beta]), a, np.array([u]))[0]
    # abs=0: approx's default absolute slack (1e-12) would pass these tiny values.
    assert ours == pytest.approx(oracle_power_mean(rho, beta, a, u), rel=1e-10, abs=0.0)


@settings(max_examples=12, deadline=None)
@given(
    a=log_uniform(0.05, 50.0),
    steps=st.integers(-3, 3),
    offset=st.sampled_from([0.0, 1e-14, -1e-12, 1e-9, -1e-6, 1e-4]),
    beta=log_uniform(0.05, 100.0),
    u=log_uniform(9.0, 1e5),
)
@example(a=1.0, steps=0, offset=1e-14, beta=1.0, u=1000.0)  # 1.2e-3 off before
def test_power_mean_matches_the_oracle_where_a_minus_rho_is_near_an_integer(
    a: float, steps: int, offset: float, beta: float, u: float
) -> None:
    # scipy's hyp2f1 cancels near z = 1 when c - a - b = a - rho is near an integer.
    rho = a + steps + offset
    if rho <= 0:
        rho = a + offset + 1.0
    ours = power_mean(np.array([rho]), np.array([beta]), a, np.array([u]))[0]
    assert ours == pytest.approx(oracle_power_mean(rho, beta, a, u), rel=1e-9, abs=0.0)


@pytest.mark.parametrize(
    ("r", "a", "x", "t"),
    [
        (0.5, 1.5, 1, 500.0),  # r + x == a exactly: shape a - 1 = rho - 1, z = 0.98
        (0.500000001, 2.5, 1, 5000.0),  # within 1e-9 of an integer gap, z = 0.998
        (1.7, 2.7 + 3e-8, 0, 500.0),
    ],
)
def test_expected_purchases_match_the_oracle_where_r_plus_x_meets_a(
    r: float, a: float, x: int, t: float
) -> None:
    params = BetaGeoParams(r=r, alpha=1.0, a=a, b=0.8)
    table = pd.DataFrame({"frequency": [float(x)], "recency": [5.0 * x], "T": [10.0]})
    ours = BetaGeoModel.from_params(params).expected_purchases(table, t=t).iloc[0]
    assert ours == pytest.approx(
        oracle_expected_purchases(params, x, 5.0 * x, 10.0, t), rel=1e-10, abs=0.0
    )


def test_p_alive_at_where_hyp2f1_was_nan() -> None:
    # scipy's Pfaff form gave NaN here (x = 0: P(alive now) = 1).
    params = BetaGeoParams(r=0.2436, alpha=0.0001977, a=1522.0, b=0.0002594)
    later = predict_p_alive_at(
        one_row(0, 0.0, 68_550.0), model=BetaGeoModel.from_params(params), t=79_770.0
    )
    expected = oracle_power_mean(0.2436, 0.0002594, 1522.0, 79_770.0 / (0.0001977 + 68_550.0))
    assert later.iloc[0] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    ("params", "x", "tx", "age"),
    [
        # A new customer: the old integrand was NaN over most of the range.
        ((0.2436, 2.5, 1522.0, 0.0002594), 0, 0.0, 0.0),
        # CDNOW's customer 157 (29 repeat purchases) under a = 40, b = 200: NaN before
        # (the integrand failed for w >= 1e5).
        ((0.8, 3.0, 40.0, 200.0), 29, 37.71, 38.0),
    ],
)
def test_bgnbd_dert_where_hyp2f1_was_nan(
    params: tuple[float, float, float, float], x: int, tx: float, age: float
) -> None:
    # DERT = P(alive) (r + x) / (alpha + T) int_0^inf exp(-delta w)
    # 2F1(r + x + 1, a; a + b + x; -w / (alpha + T)) dw.
    r, alpha, a, b = params
    delta = 0.0029
    model = BetaGeoModel.from_params(BetaGeoParams(r=r, alpha=alpha, a=a, b=b))
    table = one_row(x, tx, age)
    ours = predict_dert(table, model=model, discount_rate=delta).iloc[0]
    alive = model.probability_alive(table).iloc[0]
    scale = alpha + age
    with mp.workdps(20):

        def integrand(w: Any) -> Any:
            return mp.exp(-delta * w) * mp.hyp2f1(r + x + 1, a, a + b + x, -w / scale)

        integral = mp.quad(integrand, [0, scale, 10 * scale, 100 / delta, mp.inf])
    assert ours == pytest.approx(float(alive * (r + x) / scale * integral), rel=1e-8)


def test_bgnbd_dert_keeps_each_pairs_relative_accuracy_in_a_mixed_batch() -> None:
    # Two customers whose DERT integrals (over w, before the factor P(alive) (r + x) /
    # (alpha + T)) differ by 11 orders of magnitude: a heavy buyer seen for a millionth
    # of a period (scale 2e-6) and a new customer seen for 1e6 periods. The old
    # quad_vec over both held the error to 1e-10 of the norm of the whole vector, so
    # the small integral (2.4e-7) came back as 0, and so did that customer's DERT.
    r, alpha, a, b, delta = 0.243, 1e-6, 50.0, 0.5, 1e-5
    model = BetaGeoModel.from_params(BetaGeoParams(r=r, alpha=alpha, a=a, b=b))
    table = pd.DataFrame({"frequency": [10, 0], "recency": [5e-7, 0.0], "T": [1e-6, 1e6]})
    ours = predict_dert(table, model=model, discount_rate=delta)
    alive = model.probability_alive(table)
    integrals = []
    for i, (x, _, age) in enumerate(table.itertuples(index=False)):
        scale = alpha + age
        with mp.workdps(20):

            def integrand(w: Any, x: int = x, scale: float = scale) -> Any:
                return mp.exp(-delta * w) * mp.hyp2f1(r + x + 1, a, a + b + x, -w / scale)

            cuts = [0, scale / (r + x + 1), scale, 10 * scale, 100 / delta, mp.inf]
            integral = mp.quad(integrand, cuts)
        integrals.append(float(integral))
        expected = float(alive.iloc[i] * (r + x) / scale * integral)
        assert ours.iloc[i] == pytest.approx(expected, rel=1e-10)
    assert integrals[1] > 1e11 * integrals[0]
    # Each customer alone gets the same value: no pair's accuracy depends on the others.
    for i in range(len(table)):
        alone = predict_dert(table.iloc[[i]], model=model, discount_rate=delta).iloc[0]
        assert alone == pytest.approx(ours.iloc[i], rel=1e-12)


def test_gauss_kronrod_rules_are_exact_for_their_degrees() -> None:
    # The 15-point Kronrod rule integrates polynomials of degree <= 22 exactly, the
    # embedded 7-point Gauss rule those of degree <= 13; int_-1^1 t^k dt = 2 / (k + 1)
    # for even k, 0 for odd k.
    nodes, kronrod, gauss = _GK_NODES, _GK_KRONROD, _GK_GAUSS
    for k in range(23):
        exact = 2.0 / (k + 1) if k % 2 == 0 else 0.0
        assert float(kronrod @ nodes**k) == pytest.approx(exact, abs=1e-14)
        if k <= 13:
            assert float(gauss @ nodes**k) == pytest.approx(exact, abs=1e-14)
    assert float(gauss @ nodes**14) != pytest.approx(2.0 / 15, abs=1e-6)
    assert np.count_nonzero(gauss) == 7


# --- Pareto/NBD DERT: E[1 / (delta + mu)], mu ~ Gamma(s, beta + T) ----------------------


@pytest.mark.parametrize(
    ("s", "beta", "delta"),
    [
        (0.606, 11.67, 0.0029),  # CDNOW's estimates: scipy's hyperu
        (9364.6, 93011.0, 1.177e-07),  # hyperu gave 2.8e-15
        (117.4, 39940.0, 8.212e-4),  # hyperu gave -2.9e4
        (2360.5, 3400.6, 2.655e-08),  # hyperu gave 0
    ],
)
def test_pareto_dert_matches_the_oracle(s: float, beta: float, delta: float) -> None:
    model = ParetoNBDModel.from_params(ParetoNBDParams(r=0.5, alpha=10.0, s=s, beta=beta))
    ours = predict_dert(one_row(0, 0.0, 0.0), model=model, discount_rate=delta).iloc[0]
    with mp.workdps(30):
        s_, b_, d_ = mp.mpf(s), mp.mpf(beta), mp.mpf(delta)
        z = d_ * b_
        # E[1 / (delta + mu)] = (beta + T) int_0^inf exp(-z v) (1 + v)^-s dv
        inverse = b_ * mp.quad(
            lambda v: mp.exp(-z * v - s_ * mp.log1p(v)),
            [0, 1 / (s_ + z), 10 / (s_ + z), 1, 100 / (z + s_), mp.inf],
        )
    assert ours == pytest.approx(float(0.5 / 10.0 * inverse), rel=1e-10)


# --- sBG DERL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alpha", "beta", "renewals", "d"),
    [
        (0.668, 3.806, 7, 0.1),  # Fader and Hardie's example: the closed form
        (14.197, 0.40478, 31103, 6.032e-08),  # hyp2f1 NaN from here on
        (0.046833, 3.1447, 19741, 3.492e-08),
        (0.0016371, 523.25, 800, 1.236e-07),
    ],
)
def test_derl_matches_the_oracle(alpha: float, beta: float, renewals: int, d: float) -> None:
    model = ShiftedBetaGeoModel.from_params({"alpha": alpha, "beta": beta})
    ours = model.discounted_residual_lifetime(d, renewals=renewals)
    with mp.workdps(40):
        a_, b_, k_, d_ = (mp.mpf(v) for v in (alpha, beta, renewals, d))
        rate = (b_ + k_) / (a_ + b_ + k_)
        expected = rate * mp.hyp2f1(1, b_ + k_ + 1, a_ + b_ + k_ + 1, 1 / (1 + d_), maxterms=10**6)
    assert ours == pytest.approx(float(expected), rel=1e-12)


def test_derl_at_no_discount_is_gauss_sum() -> None:
    model = ShiftedBetaGeoModel.from_params({"alpha": 32.74, "beta": 385.2})
    assert model.discounted_residual_lifetime(0.0, renewals=53969) == pytest.approx(
        (385.2 + 53969) / 31.74, rel=1e-14
    )
    infinite = ShiftedBetaGeoModel.from_params({"alpha": 0.5, "beta": 2.0})
    assert infinite.discounted_residual_lifetime(0.0, renewals=[0, 3]).tolist() == [np.inf] * 2


# --- bounds over extreme but valid parameters -----------------------------------------------

WIDE = log_uniform(1e-4, 1e4)


@st.composite
def histories(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 4))
    ages = np.array(draw(st.lists(st.floats(0.0, 1e5), min_size=n, max_size=n)))
    x = np.array(draw(st.lists(st.integers(0, 100_000), min_size=n, max_size=n)), dtype=float)
    share = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    tx = np.where(x > 0, ages * share, 0.0)
    return pd.DataFrame({"frequency": x, "recency": tx, "T": ages})


@settings(max_examples=60, deadline=None)
@given(
    theta=st.tuples(WIDE, WIDE, WIDE, WIDE),
    table=histories(),
    t=st.floats(0.0, 1e5),
    modified=st.booleans(),
)
# hyp2f1 gave 1 + 1.8e-11, within rounding of the bound 1 and accepted unclipped.
@example(
    theta=(1e4, 1.0, 1.0, 237.1591),
    table=one_row(0, 0.0, 0.0),
    t=8.2e-252,
    modified=False,
)
def test_p_alive_at_is_a_probability_that_falls_with_the_horizon(
    theta: tuple[float, float, float, float], table: pd.DataFrame, t: float, modified: bool
) -> None:
    params = BetaGeoParams(r=theta[0], alpha=theta[1], a=theta[2], b=theta[3])
    model = (ModifiedBetaGeoModel if modified else BetaGeoModel).from_params(params)
    now = model.probability_alive(table).to_numpy()
    later = predict_p_alive_at(table, model=model, t=t).to_numpy()
    further = predict_p_alive_at(table, model=model, t=2 * t + 1).to_numpy()
    assert np.isfinite(later).all()
    assert (later >= 0).all()
    assert (later <= now * (1 + 1e-12)).all()
    assert (further <= later * (1 + 1e-9)).all()


@settings(max_examples=6, deadline=None)  # quad_vec over a quadrature fallback: ~1 s each
@given(
    theta=st.tuples(WIDE, WIDE, WIDE, WIDE),
    table=histories(),
    delta=log_uniform(1e-4, 1.0),
)
def test_bgnbd_dert_is_finite_and_below_the_undiscounted_rate(
    theta: tuple[float, float, float, float], table: pd.DataFrame, delta: float
) -> None:
    params = BetaGeoParams(r=theta[0], alpha=theta[1], a=theta[2], b=theta[3])
    model = BetaGeoModel.from_params(params)
    dert = predict_dert(table, model=model, discount_rate=delta).to_numpy()
    # An alive customer buys at rate lambda at most: DERT <= P(alive) E[lambda] / delta.
    rate = (params.r + table["frequency"]) / (params.alpha + table["T"])
    ceiling = model.probability_alive(table).to_numpy() * rate.to_numpy() / delta
    assert np.isfinite(dert).all()
    assert (dert >= 0).all()
    assert (dert <= ceiling * (1 + 1e-8)).all()


@settings(max_examples=60, deadline=None)
@given(
    s=WIDE,
    beta=WIDE,
    table=histories(),
    delta=log_uniform(1e-8, 10.0),
)
def test_pareto_dert_is_within_its_bounds(
    s: float, beta: float, table: pd.DataFrame, delta: float
) -> None:
    model = ParetoNBDModel.from_params(ParetoNBDParams(r=1.0, alpha=1.0, s=s, beta=beta))
    dert = predict_dert(table, model=model, discount_rate=delta).to_numpy()
    scale = beta + table["T"].to_numpy()
    factor = model.probability_alive(table).to_numpy() * (1.0 + table["frequency"].to_numpy())
    factor /= 1.0 + table["T"].to_numpy()
    # E[1 / (delta + mu)]: at least 1 / (delta + E[mu]) (Jensen), at most 1 / delta.
    assert np.isfinite(dert).all()
    assert (dert >= factor / (delta + s / scale) * (1 - 1e-9)).all()
    assert (dert <= factor / delta * (1 + 1e-9)).all()


@settings(max_examples=60, deadline=None)
@given(
    alpha=WIDE,
    beta=WIDE,
    renewals=st.lists(st.integers(0, 1_000_000), min_size=1, max_size=4),
    d=log_uniform(1e-8, 10.0),
)
def test_derl_is_within_its_bounds_and_falls_with_the_rate(
    alpha: float, beta: float, renewals: list[int], d: float
) -> None:
    model = ShiftedBetaGeoModel.from_params({"alpha": alpha, "beta": beta})
    k = np.array(renewals, dtype=float)
    derl = model.discounted_residual_lifetime(d, renewals=renewals)
    rate = (beta + k) / (alpha + beta + k)
    assert np.isfinite(derl).all()
    # At least the first period's retention, at most sum_j (1 + d)^-j.
    assert (derl >= rate * (1 - 1e-9)).all()
    assert (derl <= (1 + d) / d * (1 + 1e-9)).all()
    assert (model.discounted_residual_lifetime(2 * d, renewals=renewals) <= derl * (1 + 1e-9)).all()
