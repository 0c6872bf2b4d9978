"""The CLV models (BG/NBD, Gamma-Gamma) and customer_lifetime_value.

Published estimates, lifetimes at identical inputs, properties, bad input.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import attrs
import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lifetimes import BetaGeoFitter as LifetimesBetaGeo
from lifetimes import GammaGammaFitter as LifetimesGammaGamma
from lifetimes.datasets import load_cdnow_summary, load_cdnow_summary_data_with_monetary_value

from crmscore import (
    BetaGeoFitter,
    BetaGeoModel,
    BetaGeoParams,
    ColumnNotFoundError,
    ConvergenceError,
    ConvergenceReport,
    GammaGammaFitter,
    GammaGammaModel,
    GammaGammaParams,
    InvalidDataError,
    InvalidParameterError,
    customer_lifetime_value,
    holdout_comparison,
    make_rfm_summary,
    rfm_table,
)
from tests.oracles import (
    LIFETIMES_CDNOW,
    LIFETIMES_CDNOW_SPEND,
    assert_published_cdnow_bgnbd,
    assert_published_cdnow_gamma_gamma,
    oracle_expected_purchases,
)
from tests.strategies import log_uniform, rfm_rows

BGNBD = ["frequency", "recency", "T"]


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    summary: pd.DataFrame = load_cdnow_summary(index_col=[0])
    return summary


@pytest.fixture(scope="module")
def cdnow_spend() -> pd.DataFrame:
    summary: pd.DataFrame = load_cdnow_summary_data_with_monetary_value()
    return summary


@pytest.fixture(scope="module")
def cdnow_model(cdnow: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoFitter().fit(cdnow)


def lifetimes_bgnbd(params: BetaGeoParams) -> Any:
    return BetaGeoModel.from_params(params).to_lifetimes()


def lifetimes_nll(params: BetaGeoParams, table: pd.DataFrame) -> float:
    """lifetimes' total log-likelihood at given parameters (its own formula)."""
    x, tx, age = (table[c].to_numpy(np.float64) for c in BGNBD)
    weights = np.ones_like(x)
    log_params = np.log([params.r, params.alpha, params.a, params.b])
    mean = LifetimesBetaGeo._negative_log_likelihood(log_params, x, tx, age, weights, 0.0)
    return -float(mean) * len(x)


# --- CDNOW: the published estimates ---------------------------------------------------


def test_cdnow_bgnbd_reproduces_published_estimates(cdnow_model: BetaGeoModel) -> None:
    # Fader, Hardie and Lee (2005), table 1: r=0.243, alpha=4.414, a=0.793, b=2.426, LL -9582.4.
    assert_published_cdnow_bgnbd(cdnow_model)
    assert cdnow_model.convergence is not None
    assert cdnow_model.convergence.converged
    assert cdnow_model.convergence.n_rows < 2357  # compressed into distinct rows


def test_cdnow_bgnbd_matches_lifetimes_fit(cdnow: pd.DataFrame, cdnow_model: BetaGeoModel) -> None:
    # lifetimes stops at its own gradient tolerance: parameters agree to its 6 printed
    # decimals, and our log-likelihood is not worse than lifetimes' at its optimum.
    reference = LifetimesBetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    ours = cdnow_model.params.to_dict()
    for name in ("r", "alpha", "a", "b"):
        assert ours[name] == pytest.approx(reference.params_[name], rel=2e-6)
    their_ll = lifetimes_nll(BetaGeoParams.from_dict(dict(reference.params_)), cdnow)
    assert cdnow_model.log_likelihood is not None
    assert cdnow_model.log_likelihood >= their_ll - 1e-9
    # Standard errors: lifetimes' delta-method formula gives the same diagonal.
    assert cdnow_model.standard_errors is not None
    for name in ("r", "alpha", "a", "b"):
        assert cdnow_model.standard_errors[name] == pytest.approx(
            reference.standard_errors_[name], rel=1e-4
        )


def test_cdnow_log_likelihood_matches_lifetimes_formula(cdnow: pd.DataFrame) -> None:
    model = BetaGeoModel.from_params(LIFETIMES_CDNOW)
    ours = model.log_likelihood_of(cdnow).sum()
    assert ours == pytest.approx(lifetimes_nll(LIFETIMES_CDNOW, cdnow), rel=1e-12)


def test_cdnow_gamma_gamma_reproduces_published_estimates(cdnow_spend: pd.DataFrame) -> None:
    # Fader, Hardie and Lee (2005b) publish p=6.25, q=3.74, gamma=15.44. p and q are
    # rounded to 2 decimals; gamma is truncated, not rounded: the maximum is at
    # 15.44775 (lifetimes finds the same), which rounds to 15.45.
    model = GammaGammaFitter().fit(cdnow_spend)
    assert_published_cdnow_gamma_gamma(model)
    p = model.params
    assert math.floor(p.v * 100) / 100 == 15.44
    assert round(p.v, 2) == 15.45
    assert model.n_customers == int((cdnow_spend["frequency"] > 0).sum()) == 946
    reference = LifetimesGammaGamma().fit(
        cdnow_spend.loc[cdnow_spend["frequency"] > 0, "frequency"],
        cdnow_spend.loc[cdnow_spend["frequency"] > 0, "monetary_value"],
    )
    # lifetimes (scipy BFGS to its own tolerance) stops within 4e-9 relative of our
    # optimum on every parameter (v: 15.4477480107 against 15.4477480649).
    for name in ("p", "q", "v"):
        assert p.to_dict()[name] == pytest.approx(reference.params_[name], rel=1e-7)
    assert p.v == pytest.approx(LIFETIMES_CDNOW_SPEND.v, rel=1e-7)
    assert model.standard_errors is not None
    for name in ("p", "q", "v"):
        assert model.standard_errors[name] == pytest.approx(
            reference.standard_errors_[name], rel=1e-4
        )


def test_penalized_fit_matches_lifetimes(cdnow: pd.DataFrame) -> None:
    # Same penalty definition (alpha measured in units of the longest age).
    reference = LifetimesBetaGeo(penalizer_coef=0.1).fit(
        cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )
    ours = BetaGeoFitter(penalizer=0.1).fit(cdnow).params.to_dict()
    for name in ("r", "alpha", "a", "b"):
        assert ours[name] == pytest.approx(reference.params_[name], rel=1e-5)


# --- predictions equal lifetimes' at identical parameters ----------------------------


def assert_close(
    ours: pd.Series[float] | np.ndarray[Any, Any], ref: Any, rtol: float = 1e-10
) -> None:
    np.testing.assert_allclose(
        np.asarray(ours, dtype=np.float64), np.asarray(ref), rtol=rtol, atol=0
    )


@pytest.mark.parametrize("t", [1.0, 10.0, 39.0, 52.0, 104.0])
def test_cdnow_predictions_match_lifetimes(cdnow: pd.DataFrame, t: float) -> None:
    model = BetaGeoModel.from_params(LIFETIMES_CDNOW)
    reference = lifetimes_bgnbd(LIFETIMES_CDNOW)
    x, tx, age = (cdnow[c] for c in BGNBD)
    expected = model.expected_purchases(cdnow, t=t)
    assert expected.index.equals(cdnow.index)
    assert expected.name == "expected_purchases"
    assert_close(
        expected, reference.conditional_expected_number_of_purchases_up_to_time(t, x, tx, age)
    )
    alive = model.probability_alive(cdnow)
    assert alive.name == "p_alive"
    assert_close(alive, reference.conditional_probability_alive(x, tx, age))
    assert model.expected_purchases_new_customer(t) == pytest.approx(
        reference.expected_number_of_purchases_up_to_time(t), rel=1e-12
    )
    counts = np.arange(0, 8)
    assert_close(
        model.probability_of_purchases(counts, t=t),
        [reference.probability_of_n_purchases_up_to_time(t, int(n)) for n in counts],
        rtol=1e-8,
    )


def test_cdnow_spend_and_clv_match_lifetimes(cdnow_spend: pd.DataFrame) -> None:
    purchases = BetaGeoModel.from_params(LIFETIMES_CDNOW, time_unit="W")
    spend = GammaGammaModel.from_params(LIFETIMES_CDNOW_SPEND)
    ref_spend = spend.to_lifetimes()
    x, m = cdnow_spend["frequency"], cdnow_spend["monetary_value"]
    repeat = cdnow_spend[x > 0]
    assert_close(
        spend.expected_spend(repeat),
        ref_spend.conditional_expected_average_profit(
            repeat["frequency"], repeat["monetary_value"]
        ),
    )
    assert_close(
        spend.expected_spend(cdnow_spend),
        ref_spend.conditional_expected_average_profit(x, m),
    )
    for horizon, rate in [(12, 0.01), (3, 0.0), (24, 0.05)]:
        ours = customer_lifetime_value(
            cdnow_spend,
            purchase_model=purchases,
            spend_model=spend,
            horizon=horizon,
            discount_rate=rate,
        )
        ref = ref_spend.customer_lifetime_value(
            purchases.to_lifetimes(),
            x,
            cdnow_spend["recency"],
            cdnow_spend["T"],
            m,
            time=horizon,
            discount_rate=rate,
            freq="W",
        )
        assert ours.name == "clv"
        assert ours.index.equals(cdnow_spend.index)
        assert_close(ours, ref, rtol=1e-9)


def test_clv_daily_units_match_lifetimes(cdnow_transactions: pd.DataFrame) -> None:
    table = rfm_table(cdnow_transactions, as_of="1998-06-30", time_unit="D")
    purchases = BetaGeoFitter().fit(table)
    spend = GammaGammaFitter().fit(table)
    assert purchases.time_unit == "D"
    ours = customer_lifetime_value(
        table, purchase_model=purchases, spend_model=spend, horizon=6, discount_rate=0.02
    )
    ref = spend.to_lifetimes().customer_lifetime_value(
        purchases.to_lifetimes(),
        table["frequency"],
        table["recency"],
        table["T"],
        table["monetary_value"],
        time=6,
        discount_rate=0.02,
        freq="D",
    )
    assert_close(ours, ref, rtol=1e-9)
    with_margin = customer_lifetime_value(
        table,
        purchase_model=purchases,
        spend_model=spend,
        horizon=6,
        discount_rate=0.02,
        margin=0.3,
    )
    assert_close(with_margin, 0.3 * ours, rtol=1e-14)


@st.composite
def moderate_params(draw: st.DrawFn) -> BetaGeoParams:
    # Where lifetimes is accurate: it divides by a - 1 and loses digits in proportion
    # to 1 / |a - 1|; it computes 0 * a / (b - 1) = NaN at b = 1 for customers without
    # repeat purchases; and it takes the log of a negative 2F1 when a + b < 1. Those
    # cases are tested against a high-precision oracle instead (test_clv_numerics).
    away_from_one = log_uniform(0.05, 20.0).filter(lambda v: abs(v - 1) > 0.05)
    a = draw(away_from_one)
    b = draw(away_from_one.filter(lambda v: a + v > 1.1))
    return BetaGeoParams(
        r=draw(log_uniform(0.05, 20.0)), alpha=draw(log_uniform(0.1, 200.0)), a=a, b=b
    )


#: P(X(t) = n) at or above this is compared with lifetimes relatively; below it
#: lifetimes' finite sum cancels (1 - X * sum, with an error of about 1e-16 in
#: absolute terms), so only the absolute agreement of two tiny numbers is checked.
TINY_PROBABILITY = 1e-8


@given(
    params=moderate_params(),
    table=rfm_rows(),
    t=st.floats(0.5, 200.0),
    horizon=st.integers(1, 24),
    discount_rate=st.floats(0.0, 0.2),
)
@example(
    params=BetaGeoParams(r=10.0, alpha=0.1, a=20.000000000000004, b=17.78279410038923),
    table=pd.DataFrame(
        {"frequency": [0, 8], "recency": [0.0, 0.0], "T": [0.0, 0.0], "monetary_value": [0.0, 1.0]},
        index=pd.Index(["c000", "c001"], name="customer_id"),
    ),
    t=35.0,
    horizon=12,
    discount_rate=0.01,
)
def test_generated_predictions_match_lifetimes(
    params: BetaGeoParams, table: pd.DataFrame, t: float, horizon: int, discount_rate: float
) -> None:
    model = BetaGeoModel.from_params(params, time_unit="W")
    reference = lifetimes_bgnbd(params)
    x, tx, age = (table[c] for c in BGNBD)
    assert_close(
        model.probability_alive(table), reference.conditional_probability_alive(x, tx, age)
    )
    ref = reference.conditional_expected_number_of_purchases_up_to_time(t, x, tx, age)
    ours_expected = model.expected_purchases(table, t=t)
    # Where lifetimes returns NaN (scipy's hyp2f1 fails near z = 1, e.g. r=10,
    # alpha=0.1, a=20, b=17.8, x=8, T=0, t=35), the 50-digit oracle stands in.
    failed = ~np.isfinite(np.asarray(ref, dtype=np.float64))
    assert_close(ours_expected[~failed], np.asarray(ref)[~failed], rtol=1e-8)
    for i in np.flatnonzero(failed):
        oracle = oracle_expected_purchases(params, x.iloc[i], tx.iloc[i], age.iloc[i], t)
        assert ours_expected.iloc[i] == pytest.approx(oracle, rel=1e-8)
    assert model.log_likelihood_of(table).sum() == pytest.approx(
        lifetimes_nll(params, table), rel=1e-10
    )
    spend = GammaGammaModel.from_params(
        GammaGammaParams(p=params.r * 5, q=params.b + 1.2, v=params.alpha)
    )
    assert_close(
        spend.expected_spend(table),
        spend.to_lifetimes().conditional_expected_average_profit(
            table["frequency"], table["monetary_value"]
        ),
    )
    # A new customer's expected purchases (equation 9) and P(X(t) = n) (equation 8).
    assert model.expected_purchases_new_customer(t) == pytest.approx(
        reference.expected_number_of_purchases_up_to_time(t), rel=1e-8
    )
    counts = np.arange(0, 40)
    ours_p = model.probability_of_purchases(counts, t=t)
    ref_p = np.array([reference.probability_of_n_purchases_up_to_time(t, int(n)) for n in counts])
    large = ours_p >= TINY_PROBABILITY
    assert_close(ours_p[large], ref_p[large], rtol=1e-8)
    np.testing.assert_allclose(ours_p[~large], ref_p[~large], rtol=0, atol=1e-14)
    # CLV: lifetimes' customer_lifetime_value at the same parameters, weekly data
    # (freq="W": a step of 4.345 weeks, as this model's time_unit), no margin.
    ours_clv = customer_lifetime_value(
        table,
        purchase_model=model,
        spend_model=spend,
        horizon=horizon,
        discount_rate=discount_rate,
    )
    ref_clv = spend.to_lifetimes().customer_lifetime_value(
        reference,
        x,
        tx,
        age,
        table["monetary_value"],
        time=horizon,
        discount_rate=discount_rate,
        freq="W",
    )
    ref_clv = np.asarray(ref_clv, dtype=np.float64)
    assert_close(ours_clv[~failed], ref_clv[~failed], rtol=1e-8)
    for i in np.flatnonzero(~np.isfinite(ref_clv)):  # lifetimes' NaN again: the oracle
        steps = [
            oracle_expected_purchases(params, x.iloc[i], tx.iloc[i], age.iloc[i], k * 4.345)
            for k in range(horizon + 1)
        ]
        discounted = sum(
            (steps[k] - steps[k - 1]) / (1 + discount_rate) ** k for k in range(1, horizon + 1)
        )
        expected = spend.expected_spend(table).iloc[i] * discounted
        assert ours_clv.iloc[i] == pytest.approx(expected, rel=1e-8)


@given(params=moderate_params(), table=rfm_rows(max_customers=8))
def test_gradient_and_hessian_match_autograd(params: BetaGeoParams, table: pd.DataFrame) -> None:
    # Our analytic derivatives against automatic differentiation of lifetimes' formula.
    from autograd import grad, hessian  # noqa: PLC0415

    from crmscore.clv import _kernels  # noqa: PLC0415

    x, tx, age = (table[c].to_numpy(np.float64) for c in BGNBD)
    weights = np.ones_like(x)
    theta = np.array([params.r, params.alpha, params.a, params.b])

    def total(log_params: Any) -> Any:
        return -LifetimesBetaGeo._negative_log_likelihood(
            log_params, x, tx, age, weights, 0.0
        ) * len(x)

    d = _kernels.bgnbd_derivatives(tuple(theta), _kernels.prepare_bgnbd(x, tx, age, weights))
    g_log = theta * d.gradient
    h_log = np.outer(theta, theta) * d.hessian + np.diag(g_log)
    ref_g = grad(total)(np.log(theta))
    ref_h = hessian(total)(np.log(theta))
    scale = np.max(np.abs(ref_h)) + 1.0
    np.testing.assert_allclose(g_log, ref_g, rtol=1e-8, atol=1e-9 * scale)
    np.testing.assert_allclose(h_log, ref_h, rtol=1e-8, atol=1e-9 * scale)


def test_gamma_gamma_derivatives_match_autograd(cdnow_spend: pd.DataFrame) -> None:
    from autograd import grad, hessian  # noqa: PLC0415

    from crmscore.clv import _kernels  # noqa: PLC0415

    repeat = cdnow_spend[cdnow_spend["frequency"] > 0]
    x = repeat["frequency"].to_numpy(np.float64)
    m = repeat["monetary_value"].to_numpy(np.float64)
    weights = np.ones_like(x)
    for theta in ([6.0, 3.5, 15.0], [0.3, 0.8, 200.0], [40.0, 12.0, 0.5]):
        t = np.array(theta)

        def total(log_params: Any) -> Any:
            return -LifetimesGammaGamma._negative_log_likelihood(
                log_params, x, m, weights, 0.0
            ) * len(x)

        d = _kernels.gg_derivatives(tuple(theta), x, m, weights)
        assert d.value == pytest.approx(total(np.log(t)), rel=1e-12)
        g_log = t * d.gradient
        h_log = np.outer(t, t) * d.hessian + np.diag(g_log)
        np.testing.assert_allclose(g_log, grad(total)(np.log(t)), rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(h_log, hessian(total)(np.log(t)), rtol=1e-8, atol=1e-8)


def test_interop_round_trip(cdnow_model: BetaGeoModel) -> None:
    fitter = cdnow_model.to_lifetimes()
    assert BetaGeoModel.from_lifetimes(fitter, time_unit="W").params == cdnow_model.params
    spend = GammaGammaModel.from_params(LIFETIMES_CDNOW_SPEND)
    assert GammaGammaModel.from_lifetimes(spend.to_lifetimes()).params == spend.params
    with pytest.raises(InvalidParameterError, match="fitted lifetimes"):
        BetaGeoModel.from_lifetimes(LifetimesBetaGeo())
    with pytest.raises(InvalidParameterError, match="fitted lifetimes"):
        GammaGammaModel.from_lifetimes(LifetimesGammaGamma())


# --- parameter recovery ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("purchase", "spend", "seed"),
    [
        (
            BetaGeoParams(r=0.5, alpha=20.0, a=0.8, b=3.0),
            GammaGammaParams(p=6.0, q=4.0, v=150.0),
            11,
        ),
        (
            BetaGeoParams(r=1.0, alpha=45.0, a=1.0, b=7.0),  # the default book, a = 1 exactly
            GammaGammaParams(p=2.5, q=3.0, v=40.0),
            12,
        ),
    ],
)
def test_parameter_recovery(purchase: BetaGeoParams, spend: GammaGammaParams, seed: int) -> None:
    summary = make_rfm_summary(150_000, seed=seed, purchase=purchase, spend=spend)
    bg = BetaGeoFitter().fit(summary)
    gg = GammaGammaFitter().fit(summary)
    # 99 % intervals: with 7 parameters the chance that one misses is 7 %, and the seeds
    # are fixed, so this is a deterministic check that estimates sit where they should.
    for model, truth in ((bg, purchase.to_dict()), (gg, spend.to_dict())):
        intervals = model.summary(level=0.99)
        for name, value in truth.items():
            lower, upper, se = intervals.loc[name, ["lower", "upper", "std_error"]].to_numpy(float)
            assert lower <= value <= upper, name
            # ... and the intervals are informative (relative half-width below 13 %).
            assert se < 0.05 * value


# --- fitting from sufficient statistics -------------------------------------------------


def test_fit_aggregated_equals_fit(cdnow: pd.DataFrame, cdnow_model: BetaGeoModel) -> None:
    stats = BetaGeoFitter.aggregate(cdnow)
    assert int(stats["count"].sum()) == len(cdnow)
    assert len(stats) == cdnow_model.convergence.n_rows  # type: ignore[union-attr]
    assert BetaGeoFitter().fit_aggregated(stats) == cdnow_model


def test_batch_split_invariance(cdnow: pd.DataFrame, cdnow_model: BetaGeoModel) -> None:
    # Aggregate each half (as partitions would), add up, fit: the same model.
    halves = [cdnow.iloc[: len(cdnow) // 2], cdnow.iloc[len(cdnow) // 2 :]]
    stats = pd.concat([BetaGeoFitter.aggregate(h) for h in halves])
    stats = stats.groupby(BGNBD, as_index=False).agg(count=("count", "sum"))
    assert BetaGeoFitter().fit_aggregated(stats) == cdnow_model
    # Predictions are per customer: batches give the same values.
    parts = pd.concat([cdnow_model.expected_purchases(h, t=39.0) for h in halves])
    pd.testing.assert_series_equal(parts, cdnow_model.expected_purchases(cdnow, t=39.0))


def test_row_order_invariance(cdnow: pd.DataFrame, cdnow_model: BetaGeoModel) -> None:
    shuffled = cdnow.sample(frac=1.0, random_state=3)
    assert BetaGeoFitter().fit(shuffled) == cdnow_model
    pd.testing.assert_series_equal(
        cdnow_model.probability_alive(shuffled),
        cdnow_model.probability_alive(cdnow).loc[shuffled.index],
    )


def test_gamma_gamma_aggregated(cdnow_spend: pd.DataFrame) -> None:
    model = GammaGammaFitter().fit(cdnow_spend)
    stats = GammaGammaFitter.aggregate(cdnow_spend)
    assert int(stats["count"].sum()) == 946
    assert GammaGammaFitter().fit_aggregated(stats) == model


# --- values: JSON, immutability ----------------------------------------------------------


def test_models_and_fitters_round_trip_through_json(
    cdnow_model: BetaGeoModel, cdnow_spend: pd.DataFrame
) -> None:
    spend = GammaGammaFitter().fit(cdnow_spend)
    for value in (
        cdnow_model,
        BetaGeoModel.from_params(LIFETIMES_CDNOW, time_unit="W"),
        spend,
        GammaGammaModel.from_params(LIFETIMES_CDNOW_SPEND),
        BetaGeoFitter(initial_params=LIFETIMES_CDNOW, penalizer=0.5, tol=1e-7, max_iterations=9),
        GammaGammaFitter(penalizer=0.1),
    ):
        again = type(value).from_dict(json.loads(json.dumps(value.to_dict())))
        assert again == value
        assert hash(again) == hash(value)
    assert cdnow_model.convergence is not None
    report = cdnow_model.convergence
    assert ConvergenceReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_inputs_are_not_mutated(cdnow_spend: pd.DataFrame) -> None:
    table = cdnow_spend.copy()
    before = copy.deepcopy(table)
    purchases = BetaGeoFitter().fit(table)
    spend = GammaGammaFitter().fit(table)
    purchases.expected_purchases(table, t=10)
    purchases.probability_alive(table)
    spend.expected_spend(table)
    customer_lifetime_value(
        table,
        purchase_model=purchases,
        spend_model=spend,
        horizon=3,
        discount_rate=0.01,
        periods_per_step=4,
    )
    BetaGeoFitter.aggregate(table)
    pd.testing.assert_frame_equal(table, before)


def test_models_validate_their_fields() -> None:
    with pytest.raises(InvalidParameterError, match="time_unit"):
        BetaGeoModel.from_params(LIFETIMES_CDNOW, time_unit="days")
    with pytest.raises(InvalidParameterError, match="covariance"):
        BetaGeoModel(params=LIFETIMES_CDNOW, covariance=[[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(InvalidParameterError, match="penalizer"):
        BetaGeoFitter(penalizer=-1.0)
    with pytest.raises(InvalidParameterError, match="max_iterations"):
        GammaGammaFitter(max_iterations=0)
    with pytest.raises(InvalidParameterError, match="'r'"):
        BetaGeoModel.from_params({"r": -1.0, "alpha": 1.0, "a": 1.0, "b": 1.0})


# --- properties of the predictions ------------------------------------------------------


@given(params=moderate_params(), table=rfm_rows())
@example(  # quadrature at t = 5, the closed form at t = 50: once 1 ulp past its limit
    params=BetaGeoParams(r=1.0, alpha=0.1, a=17.78279410038923, b=10.0),
    table=pd.DataFrame(
        {"frequency": [16], "recency": [0.0], "T": [0.0], "monetary_value": [1.0]},
        index=pd.Index(["c000"], name="customer_id"),
    ),
)
def test_prediction_bounds_and_monotonicity(params: BetaGeoParams, table: pd.DataFrame) -> None:
    model = BetaGeoModel.from_params(params)
    alive = model.probability_alive(table)
    assert ((alive >= 0) & (alive <= 1)).all()
    assert (alive[table["frequency"] == 0] == 1).all()
    near = model.expected_purchases(table, t=5.0)
    far = model.expected_purchases(table, t=50.0)
    assert (near >= 0).all()
    assert (far >= near).all()
    # A later last purchase (same frequency and age) means more likely alive.
    later = table.assign(recency=np.where(table["frequency"] > 0, table["T"], 0.0))
    assert (model.probability_alive(later) >= alive - 1e-15).all()
    # The new-customer curve increases with t, and P(X(t) = n) sums to 1 over n.
    curve = model.expected_purchases_new_customer(np.array([0.0, 1.0, 10.0, 100.0]))
    assert curve[0] == 0.0
    assert curve[1] > 0.0
    # Non-decreasing: it saturates at (a + b - 1) / (a - 1) to double precision when a > 1.
    assert (np.diff(curve) >= 0).all()
    total = model.probability_of_purchases(np.arange(0, 20_000), t=3.0).sum()
    assert total == pytest.approx(1.0, abs=1e-9)


def test_clv_properties(cdnow_spend: pd.DataFrame) -> None:
    purchases = BetaGeoModel.from_params(LIFETIMES_CDNOW, time_unit="W")
    spend = GammaGammaModel.from_params(LIFETIMES_CDNOW_SPEND)

    def clv(**kwargs: Any) -> pd.Series[float]:
        options = {"horizon": 12, "discount_rate": 0.01, **kwargs}
        return customer_lifetime_value(
            cdnow_spend, purchase_model=purchases, spend_model=spend, **options
        )

    base = clv()
    assert (base > 0).all()
    assert (clv(horizon=24) > base).all()
    assert (clv(discount_rate=0.05) < base).all()
    # Undiscounted value is expected spend times expected purchases over the horizon.
    flat = clv(discount_rate=0.0)
    direct = spend.expected_spend(cdnow_spend) * purchases.expected_purchases(
        cdnow_spend, t=12 * 4.345
    )
    np.testing.assert_allclose(flat, direct, rtol=1e-12)
    # A step of one period (a week) instead of a month.
    weekly = clv(horizon=52, periods_per_step=1.0, discount_rate=0.0)
    np.testing.assert_allclose(
        weekly,
        spend.expected_spend(cdnow_spend) * purchases.expected_purchases(cdnow_spend, t=52),
        rtol=1e-12,
    )


def test_time_unit_is_an_argument_attrs_only_its_default(cdnow_spend: pd.DataFrame) -> None:
    # make_rfm_summary's table has no attrs (as after any CSV round trip).
    summary = make_rfm_summary(2_000, seed=3)
    assert summary.attrs == {}
    assert BetaGeoFitter().fit(summary).time_unit is None
    daily = BetaGeoFitter().fit(summary, time_unit="D")
    assert daily.time_unit == "D"
    assert daily.params == BetaGeoFitter().fit(summary).params
    with pytest.raises(InvalidParameterError, match=r"'time_unit' parameter of BetaGeoFitter\.fit"):
        BetaGeoFitter().fit(summary, time_unit="days")
    # The argument wins over attrs; attrs still supplies the default.
    tagged = summary.copy()
    tagged.attrs = {"time_unit": "W"}
    assert BetaGeoFitter().fit(tagged).time_unit == "W"
    assert BetaGeoFitter().fit(tagged, time_unit="D").time_unit == "D"
    # customer_lifetime_value: time_unit= stands in for the lost attrs.
    purchases = BetaGeoModel.from_params(LIFETIMES_CDNOW)
    spend = GammaGammaModel.from_params(LIFETIMES_CDNOW_SPEND)
    options: dict[str, Any] = {"horizon": 12, "discount_rate": 0.01}
    with pytest.raises(InvalidParameterError, match="Pass time_unit="):
        customer_lifetime_value(cdnow_spend, purchase_model=purchases, spend_model=spend, **options)
    weekly_table = cdnow_spend.copy()
    weekly_table.attrs = {"time_unit": "W"}
    pd.testing.assert_series_equal(
        customer_lifetime_value(
            cdnow_spend, purchase_model=purchases, spend_model=spend, time_unit="W", **options
        ),
        customer_lifetime_value(
            weekly_table, purchase_model=purchases, spend_model=spend, **options
        ),
    )


def test_clv_parameter_errors(cdnow_spend: pd.DataFrame) -> None:
    purchases = BetaGeoModel.from_params(LIFETIMES_CDNOW)
    spend = GammaGammaModel.from_params(LIFETIMES_CDNOW_SPEND)
    with pytest.raises(InvalidParameterError, match="periods_per_step"):
        customer_lifetime_value(
            cdnow_spend, purchase_model=purchases, spend_model=spend, horizon=12, discount_rate=0.01
        )
    weekly = BetaGeoModel.from_params(LIFETIMES_CDNOW, time_unit="W")
    daily_table = cdnow_spend.copy()
    daily_table.attrs = {"time_unit": "D"}
    with pytest.raises(InvalidParameterError, match="same unit"):
        customer_lifetime_value(
            daily_table, purchase_model=weekly, spend_model=spend, horizon=12, discount_rate=0.01
        )
    for bad in ({"horizon": 0}, {"horizon": 1.5}, {"discount_rate": -0.1}, {"margin": math.nan}):
        options: dict[str, Any] = {"horizon": 12, "discount_rate": 0.01, **bad}
        with pytest.raises(InvalidParameterError):
            customer_lifetime_value(
                cdnow_spend, purchase_model=weekly, spend_model=spend, **options
            )
    with pytest.raises(InvalidParameterError, match="spend_model"):
        customer_lifetime_value(
            cdnow_spend,
            purchase_model=weekly,
            spend_model=weekly,  # type: ignore[arg-type]
            horizon=1,
            discount_rate=0.0,
        )


# --- bad input ---------------------------------------------------------------------------


def table_of(rows: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, index=pd.Index([f"c{i}" for i in range(len(rows["T"]))], name="id"))


GOOD = {"frequency": [0.0, 2.0, 1.0], "recency": [0.0, 5.0, 3.0], "T": [9.0, 9.0, 9.0]}


@pytest.mark.parametrize(
    ("change", "column", "message"),
    [
        ({"recency": [0.0, 10.0, 3.0]}, "recency", "larger than T"),
        ({"frequency": [0.0, -1.0, 1.0]}, "frequency", "whole numbers"),
        ({"frequency": [0.0, 1.5, 1.0]}, "frequency", "whole numbers"),
        ({"recency": [0.0, -2.0, 3.0]}, "recency", "negative"),
        ({"T": [9.0, -9.0, 9.0]}, "T", "negative"),
        ({"recency": [0.0, 5.0, 3.0], "frequency": [0.0, 0.0, 1.0]}, "recency", "not 0"),
        ({"recency": [0.0, math.nan, 3.0]}, "recency", "NaN"),
    ],
)
def test_bad_tables_name_column_and_ids(
    change: dict[str, list[float]], column: str, message: str
) -> None:
    table = table_of({**GOOD, **change})
    model = BetaGeoModel.from_params(LIFETIMES_CDNOW)
    for call in (
        lambda: BetaGeoFitter().fit(table),
        lambda: model.probability_alive(table),
        lambda: model.expected_purchases(table, t=1.0),
    ):
        with pytest.raises(InvalidDataError, match=message) as info:
            call()
        assert info.value.column == column
        assert info.value.ids == ("c1",)
        assert "'c1'" in str(info.value)


def test_unusable_data() -> None:
    with pytest.raises(InvalidDataError, match="no rows"):
        BetaGeoFitter().fit(table_of({"frequency": [], "recency": [], "T": []}))
    with pytest.raises(InvalidDataError, match="not identified"):
        BetaGeoFitter().fit(table_of({"frequency": [0, 0], "recency": [0.0, 0], "T": [3.0, 4]}))
    with pytest.raises(ColumnNotFoundError, match="'T'"):
        BetaGeoFitter().fit(pd.DataFrame({"frequency": [1], "recency": [1.0]}))
    with pytest.raises(InvalidParameterError, match="DataFrame"):
        BetaGeoFitter().fit([[1, 2, 3]])  # type: ignore[arg-type]
    spend = table_of({**GOOD, "monetary_value": [0.0, 0.0, 5.0]})
    with pytest.raises(InvalidDataError, match="not positive") as info:
        GammaGammaFitter().fit(spend)
    assert info.value.ids == ("c1",)
    with pytest.raises(InvalidDataError, match="repeat purchase"):
        GammaGammaFitter().fit(spend.iloc[[0]])
    stats = BetaGeoFitter.aggregate(table_of(GOOD)).assign(count=[1, 0, 2])
    with pytest.raises(InvalidDataError, match="count"):
        BetaGeoFitter().fit_aggregated(stats)
    model = BetaGeoModel.from_params(LIFETIMES_CDNOW)
    for bad_t in (-1.0, math.inf, math.nan):
        with pytest.raises(InvalidParameterError, match="'t'"):
            model.expected_purchases(table_of(GOOD), t=bad_t)
    with pytest.raises(InvalidParameterError, match="'n'"):
        model.probability_of_purchases(1.5, t=1.0)  # type: ignore[call-overload]


def test_a_fit_that_cannot_converge_raises(cdnow: pd.DataFrame) -> None:
    with pytest.raises(ConvergenceError, match="did not converge"):
        BetaGeoFitter(max_iterations=1).fit(cdnow)


@settings(max_examples=20)
@given(table=rfm_rows(max_customers=30, max_frequency=8, whole_periods=True))
# Found by hypothesis: the optimiser runs alpha to ~1e246, where Python-float
# arithmetic in the derivatives raised OverflowError instead of a typed error.
@example(
    table=pd.DataFrame(
        {
            "frequency": [6, 8],
            "recency": [97.0, 103.0],
            "T": [103.0, 145.0],
            "monetary_value": [1.0, 1.0],
        },
        index=pd.Index(["c000", "c001"], name="customer_id"),
    )
)
def test_fits_on_small_generated_tables_converge_or_raise_typed_errors(table: pd.DataFrame) -> None:
    try:
        model = BetaGeoFitter().fit(table)
    except (ConvergenceError, InvalidDataError):
        return
    assert model.convergence is not None
    assert model.convergence.gradient_norm <= 1e-9
    assert model.log_likelihood == pytest.approx(model.log_likelihood_of(table).sum(), rel=1e-12)


def test_summary_of_a_model_built_from_parameters() -> None:
    summary = BetaGeoModel.from_params(LIFETIMES_CDNOW).summary()
    assert list(summary.index) == ["r", "alpha", "a", "b"]
    assert summary["estimate"].tolist() == [0.242593, 4.413532, 0.792886, 2.425752]
    assert summary[["std_error", "lower", "upper"]].isna().all().all()
    assert BetaGeoModel.from_params(LIFETIMES_CDNOW).standard_errors is None
    with pytest.raises(InvalidParameterError, match="level"):
        BetaGeoModel.from_params(LIFETIMES_CDNOW).summary(level=1.5)


# --- contracts added after the audit -----------------------------------------------------


def test_no_repeat_purchase_names_the_rows() -> None:
    # Every row offends: the error says how many, and which come first.
    table = table_of(
        {
            "frequency": [0.0] * 7,
            "recency": [0.0] * 7,
            "T": [3.0] * 7,
            "monetary_value": [0.0] * 7,
        }
    )
    for fit in (BetaGeoFitter().fit, GammaGammaFitter().fit):
        with pytest.raises(InvalidDataError, match="repeat purchase") as info:
            fit(table)
        assert info.value.column == "frequency"
        assert info.value.n_offending == 7
        assert info.value.ids == ("c0", "c1", "c2", "c3", "c4")
        assert "for 7 row(s), first ['c0', 'c1', 'c2', 'c3', 'c4' and 2 more]" in str(info.value)
    stats = pd.DataFrame({"frequency": [0, 0], "recency": [0.0, 0.0], "T": [3.0, 4.0]})
    with pytest.raises(InvalidDataError, match="not identified") as info:
        BetaGeoFitter().fit_aggregated(stats.assign(count=[5, 2]))
    assert (info.value.ids, info.value.n_offending) == ((0, 1), 2)
    with pytest.raises(InvalidDataError, match="repeat purchase") as info:
        GammaGammaFitter().fit_aggregated(
            pd.DataFrame({"frequency": [0], "monetary_value": [0.0], "count": [3]})
        )
    assert (info.value.ids, info.value.n_offending) == ((0,), 1)


def test_duplicate_customer_ids_are_rejected(cdnow_spend: pd.DataFrame) -> None:
    table = table_of({**GOOD, "monetary_value": [0.0, 5.0, 7.0]}).rename(
        index={"c2": "c1"}
    )  # c1 twice: fitting would count that customer twice
    purchases = BetaGeoModel.from_params(LIFETIMES_CDNOW, time_unit="W")
    spend = GammaGammaModel.from_params(LIFETIMES_CDNOW_SPEND)
    for call in (
        lambda: BetaGeoFitter().fit(table),
        lambda: GammaGammaFitter().fit(table),
        lambda: BetaGeoFitter.aggregate(table),
        lambda: GammaGammaFitter.aggregate(table),
        lambda: purchases.probability_alive(table),
        lambda: purchases.expected_purchases(table, t=1.0),
        lambda: purchases.log_likelihood_of(table),
        lambda: spend.expected_spend(table),
        lambda: spend.log_likelihood_of(table),
        lambda: customer_lifetime_value(
            table, purchase_model=purchases, spend_model=spend, horizon=1, discount_rate=0.0
        ),
    ):
        with pytest.raises(InvalidDataError, match="repeats ids") as info:
            call()
        assert info.value.column == "id"
        assert info.value.ids == ("c1",)
        assert info.value.n_offending == 1
    # Aggregated statistics have no customer index: equal rows add up, as documented.
    stats = BetaGeoFitter.aggregate(cdnow_spend)
    doubled = BetaGeoFitter().fit_aggregated(pd.concat([stats, stats], ignore_index=True))
    twice = BetaGeoFitter().fit_aggregated(stats.assign(count=stats["count"] * 2))
    assert doubled.n_customers == twice.n_customers == 2 * len(cdnow_spend)
    for name, value in twice.params.to_dict().items():
        assert doubled.params.to_dict()[name] == pytest.approx(value, rel=1e-9)
    spend_stats = GammaGammaFitter.aggregate(cdnow_spend)
    repeated = pd.concat([spend_stats, spend_stats]).reset_index(drop=True)
    repeated.index = [0] * len(repeated)  # even a repeated row label is fine here
    model = GammaGammaFitter().fit_aggregated(repeated)
    assert model.n_customers == 2 * 946


def test_fitted_model_fields_are_validated() -> None:
    cov = np.diag([0.01, 0.2, 0.03, 0.1])
    for bad in (math.nan, math.inf, -math.inf):
        for build in (
            lambda v: BetaGeoModel(params=LIFETIMES_CDNOW, log_likelihood=v),
            lambda v: GammaGammaModel(params=LIFETIMES_CDNOW_SPEND, log_likelihood=v),
        ):
            with pytest.raises(InvalidParameterError, match="'log_likelihood'"):
                build(bad)
    for count in (-5, 0, 2.0, True):
        with pytest.raises(InvalidParameterError, match="'n_customers'"):
            BetaGeoModel(params=LIFETIMES_CDNOW, n_customers=count)  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match="'n_customers'"):
            GammaGammaModel(params=LIFETIMES_CDNOW_SPEND, n_customers=count)  # type: ignore[arg-type]
    # Symmetric, finite, non-negative diagonal, yet not a covariance (eigenvalue -0.9).
    indefinite = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.9, 0.0], [0.0, 1.9, 1.0, 0.0]])
    indefinite = np.vstack([indefinite, [0.0, 0.0, 0.0, 1.0]])
    with pytest.raises(InvalidParameterError, match=r"'covariance'.*positive semidefinite"):
        BetaGeoModel(params=LIFETIMES_CDNOW, covariance=indefinite)
    with pytest.raises(InvalidParameterError, match=r"'covariance'.*positive semidefinite"):
        GammaGammaModel(
            params=LIFETIMES_CDNOW_SPEND,
            covariance=[[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        )
    # What is valid stays valid: a model from parameters (no statistics), a positive
    # definite covariance, a singular one (PSD), and a fitted model's own fields.
    assert BetaGeoModel.from_params(LIFETIMES_CDNOW).log_likelihood is None
    assert BetaGeoModel.from_params(LIFETIMES_CDNOW).n_customers is None
    kept = BetaGeoModel(params=LIFETIMES_CDNOW, covariance=cov, log_likelihood=-1.0, n_customers=1)
    assert kept.standard_errors is not None
    singular = np.ones((3, 3))  # eigenvalues 3, 0, 0
    assert GammaGammaModel(params=LIFETIMES_CDNOW_SPEND, covariance=singular).covariance is not None


def test_fitted_models_pass_their_own_validation(cdnow_model: BetaGeoModel) -> None:
    # The covariance a fit computes is accepted (attrs validated it on construction),
    # and it is positive definite, not just semidefinite.
    assert cdnow_model.covariance is not None
    assert np.linalg.eigvalsh(np.asarray(cdnow_model.covariance)).min() > 0
    attrs.validate(cdnow_model)  # raises if a field breaks its validator


def test_models_are_keyword_only(cdnow_spend: pd.DataFrame) -> None:
    # Data is the only positional argument (STYLE.md).
    purchases = BetaGeoModel.from_params(LIFETIMES_CDNOW, time_unit="W")
    spend = GammaGammaModel.from_params(LIFETIMES_CDNOW_SPEND)
    positional: tuple[Any, ...] = (cdnow_spend, purchases, spend)
    with pytest.raises(TypeError, match="positional argument"):
        customer_lifetime_value(*positional, horizon=1, discount_rate=0.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positional argument"):
        holdout_comparison(*positional[:2])  # type: ignore[call-arg]


def test_to_lifetimes_without_lifetimes_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys  # noqa: PLC0415

    monkeypatch.setitem(sys.modules, "lifetimes", None)  # import lifetimes now fails
    for model in (
        BetaGeoModel.from_params(LIFETIMES_CDNOW),
        GammaGammaModel.from_params(LIFETIMES_CDNOW_SPEND),
    ):
        with pytest.raises(ImportError, match=r"pip install 'crmscore\[lifetimes\]'") as info:
            model.to_lifetimes()
        assert f"{type(model).__name__}.to_lifetimes" in str(info.value)
        assert isinstance(info.value.__cause__, ImportError)


@pytest.mark.parametrize(
    ("build", "shown"),
    [
        (lambda: BetaGeoParams(r="abc", alpha=1.0, a=1.0, b=1.0), "'abc'"),  # type: ignore[arg-type]
        (lambda: GammaGammaParams(p=1.0, q=None, v=1.0), "None"),  # type: ignore[arg-type]
        (lambda: BetaGeoFitter(tol=[1e-8]), r"\[1e-08\]"),
    ],
)
def test_a_parameter_that_is_not_a_number_is_quoted_in_the_error(build: Any, shown: str) -> None:
    # The converter must not turn the caller's value into "nan" in the message.
    with pytest.raises(InvalidParameterError, match=f"Got {shown} instead"):
        build()
