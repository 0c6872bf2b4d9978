"""Pareto/NBD: published estimates, lifetimes, a 50-digit mpmath oracle, properties."""

from __future__ import annotations

import copy
import json
import math
import warnings
from typing import Any

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes import ParetoNBDFitter as LifetimesPareto
from lifetimes.datasets import load_cdnow_summary, load_cdnow_summary_data_with_monetary_value

from crmscore import (
    GammaGammaModel,
    GammaGammaParams,
    InvalidDataError,
    InvalidParameterError,
    ParetoNBDFitter,
    ParetoNBDModel,
    ParetoNBDParams,
    customer_lifetime_value,
)
from crmscore.clv import _pareto
from tests.strategies import log_uniform, rfm_rows

COLUMNS = ["frequency", "recency", "T"]
#: Fader, Hardie and Lee (2005, "Counting your customers the easy way", section 4):
#: the Pareto/NBD fitted to CDNOW (weeks).
PUBLISHED = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
PUBLISHED_LL = -9595.0
#: The estimates the BTYD walkthrough uses (its own fit of CDNOW).
BTYD = {"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562}


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    summary: pd.DataFrame = load_cdnow_summary(index_col=[0])
    return summary


@pytest.fixture(scope="module")
def cdnow_model(cdnow: pd.DataFrame) -> ParetoNBDModel:
    return ParetoNBDFitter().fit(cdnow)


def arrays(table: pd.DataFrame) -> tuple[np.ndarray[Any, Any], ...]:
    return tuple(table[c].to_numpy(np.float64) for c in COLUMNS)


def lifetimes_ll(params: ParetoNBDParams, table: pd.DataFrame) -> np.ndarray[Any, Any]:
    x, tx, age = arrays(table)
    theta = (params.r, params.alpha, params.s, params.beta)
    with warnings.catch_warnings():  # lifetimes' hyp2f1 overflows where it fails
        warnings.simplefilter("ignore")
        values: np.ndarray[Any, Any] = LifetimesPareto._conditional_log_likelihood(
            theta, x, tx, age
        )
    return values


# --- CDNOW -------------------------------------------------------------------------------


def test_cdnow_reproduces_published_estimates(cdnow_model: ParetoNBDModel) -> None:
    for name, value in PUBLISHED.items():
        assert round(cdnow_model.params.to_dict()[name], 2) == value
    assert cdnow_model.log_likelihood is not None
    assert round(cdnow_model.log_likelihood, 1) == PUBLISHED_LL
    assert cdnow_model.convergence is not None
    assert cdnow_model.convergence.converged
    assert cdnow_model.convergence.gradient_norm < 1e-9


def test_cdnow_fit_matches_lifetimes(cdnow: pd.DataFrame, cdnow_model: ParetoNBDModel) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # lifetimes starts its Pareto/NBD fit from numpy's global random state
        # (normal(1, 0.05) per parameter), so its result depended on the tests run before
        # in the same process (2.2e-4 off once under xdist): start it at that centre.
        reference = LifetimesPareto().fit(
            cdnow["frequency"], cdnow["recency"], cdnow["T"], initial_params=np.ones(4)
        )
    theirs = ParetoNBDParams.from_dict(dict(reference.params_))
    # lifetimes' Nelder-Mead stops within 2e-4 of the optimum; ours has gradient 1e-14.
    for name, value in cdnow_model.params.to_dict().items():
        assert theirs.to_dict()[name] == pytest.approx(value, rel=2e-4)
    assert cdnow_model.log_likelihood is not None
    assert cdnow_model.log_likelihood >= float(lifetimes_ll(theirs, cdnow).sum()) - 1e-9
    ours_at_optimum = float(lifetimes_ll(cdnow_model.params, cdnow).sum())
    assert cdnow_model.log_likelihood == pytest.approx(ours_at_optimum, rel=1e-12)


def test_log_likelihood_matches_lifetimes_at_identical_parameters(cdnow: pd.DataFrame) -> None:
    for values in (PUBLISHED, BTYD, {"r": 2.0, "alpha": 0.5, "s": 0.1, "beta": 40.0}):
        params = ParetoNBDParams.from_dict(values)
        ours = ParetoNBDModel.from_params(params).log_likelihood_of(cdnow).to_numpy()
        np.testing.assert_allclose(ours, lifetimes_ll(params, cdnow), rtol=1e-12)


def test_predictions_match_lifetimes(cdnow: pd.DataFrame) -> None:
    model = ParetoNBDModel.from_params(PUBLISHED)
    theirs = model.to_lifetimes()
    x, tx, age = (cdnow[c] for c in COLUMNS)
    np.testing.assert_allclose(
        model.probability_alive(cdnow).to_numpy(),
        np.asarray(theirs.conditional_probability_alive(x, tx, age)),
        rtol=1e-12,
    )
    for t in (1.0, 39.0, 520.0):
        np.testing.assert_allclose(
            model.expected_purchases(cdnow, t=t).to_numpy(),
            np.asarray(theirs.conditional_expected_number_of_purchases_up_to_time(t, x, tx, age)),
            rtol=1e-10,
        )
    horizons = np.arange(10.0)
    np.testing.assert_allclose(
        model.expected_purchases_new_customer(horizons),
        theirs.expected_number_of_purchases_up_to_time(horizons),
        rtol=1e-12,
        atol=1e-300,
    )


def test_btyd_walkthrough_values() -> None:
    # BTYD's walkthrough: P(alive) 0.9979 and 25.46 purchases in 52 weeks for a
    # customer with x = 26, t_x = 30.86, T = 31.
    model = ParetoNBDModel.from_params(BTYD)
    row = pd.DataFrame({"frequency": [26], "recency": [30.86], "T": [31.0]})
    assert round(float(model.probability_alive(row).iloc[0]), 4) == 0.9979
    # 25.46 was computed at BTYD's unrounded estimates; at the 4 digits it prints, 25.455.
    assert abs(float(model.expected_purchases(row, t=52).iloc[0]) - 25.46) < 0.01


# --- the 50-digit oracle ---------------------------------------------------------------------


def oracle_log_likelihood(params: dict[str, float], x: float, tx: float, age: float) -> float:
    """The note's equations (18)-(20) in 50-digit arithmetic (mpmath's 2F1)."""
    with mp.workdps(50):
        r, alpha, s, beta = (mp.mpf(params[k]) for k in ("r", "alpha", "s", "beta"))
        x_, tx_, age_ = mp.mpf(x), mp.mpf(tx), mp.mpf(age)
        rsx = r + s + x_
        big, small, second = (alpha, beta, s + 1) if alpha >= beta else (beta, alpha, r + x_)

        def tail(y: Any) -> Any:
            z = (big - small) / (big + y)
            return mp.hyp2f1(rsx, second, rsx + 1, z, maxterms=10**6) / (big + y) ** rsx

        a0 = tail(tx_) - tail(age_)
        alive = (alpha + age_) ** -(r + x_) * (beta + age_) ** -s
        value = (
            mp.loggamma(r + x_)
            - mp.loggamma(r)
            + r * mp.log(alpha)
            + s * mp.log(beta)
            + mp.log(alive + s / rsx * a0)
        )
        return float(value)


ORACLE_CASES = [
    (PUBLISHED, (2, 30.43, 38.86)),
    (PUBLISHED, (0, 0.0, 38.86)),
    ({"r": 0.5, "alpha": 2.0, "s": 0.7, "beta": 2.0}, (4, 10.0, 30.0)),  # alpha == beta
    ({"r": 0.5, "alpha": 1e3, "s": 0.7, "beta": 0.01}, (4, 10.0, 30.0)),  # alpha >> beta
    ({"r": 0.5, "alpha": 0.01, "s": 0.7, "beta": 1e3}, (4, 10.0, 30.0)),  # alpha << beta
    ({"r": 10.465, "alpha": 7.98565181e-03, "s": 3.0516, "beta": 2.820}, (400, 5.0, 6.0)),
    ({"r": 10.465, "alpha": 7.98565181e-03, "s": 3.0516, "beta": 2.820}, (500, 1.0, 37.0)),
    ({"r": 1.3, "alpha": 42.7, "s": 1.36, "beta": 680.0}, (1000, 9.9e4, 1e5)),
    ({"r": 0.01, "alpha": 1e4, "s": 1e3, "beta": 1e-3}, (0, 0.0, 1e5)),
    ({"r": 1e3, "alpha": 1e-3, "s": 1e-3, "beta": 1e4}, (1e5, 5e4, 1e5)),
    ({"r": 0.2, "alpha": 5.0, "s": 0.3, "beta": 5.0 + 1e-9}, (3, 29.9999, 30.0)),
]


@pytest.mark.parametrize(("params", "row"), ORACLE_CASES)
def test_log_likelihood_matches_mpmath(
    params: dict[str, float], row: tuple[float, float, float]
) -> None:
    table = pd.DataFrame([row], columns=COLUMNS)
    ours = float(ParetoNBDModel.from_params(params).log_likelihood_of(table).iloc[0])
    assert math.isfinite(ours)
    truth = oracle_log_likelihood(params, *row)
    assert ours == pytest.approx(truth, rel=1e-11, abs=1e-11)


def test_lifetimes_fails_where_we_agree_with_mpmath() -> None:
    # lifetimes' own overflow test case, one customer further: its hyp2f1 difference
    # is not finite there; ours matches the 50-digit value.
    params = {"r": 1e3, "alpha": 1e-3, "s": 1e-3, "beta": 1e4}
    row = (1e5, 5e4, 1e5)
    table = pd.DataFrame([row], columns=COLUMNS)
    theirs = lifetimes_ll(ParetoNBDParams.from_dict(params), table)[0]
    assert not math.isfinite(theirs) or abs(theirs - oracle_log_likelihood(params, *row)) > 1e-3
    ours = float(ParetoNBDModel.from_params(params).log_likelihood_of(table).iloc[0])
    assert ours == pytest.approx(oracle_log_likelihood(params, *row), rel=1e-11)


# --- derivatives and the fit -------------------------------------------------------------


PARAMS = st.builds(
    ParetoNBDParams,
    r=log_uniform(1e-2, 1e2),
    alpha=log_uniform(1e-2, 1e3),
    s=log_uniform(1e-2, 1e2),
    beta=log_uniform(1e-2, 1e3),
)


@settings(max_examples=30, deadline=None)
@given(params=PARAMS)
def test_derivatives_match_finite_differences(params: ParetoNBDParams) -> None:
    x = np.array([0.0, 1.0, 3.0, 7.0, 0.0, 40.0])
    tx = np.array([0.0, 4.0, 20.0, 30.0, 0.0, 39.5])
    age = np.array([10.0, 30.0, 31.0, 40.0, 40.0, 40.0])
    weight = np.array([3.0, 1.0, 2.0, 1.0, 5.0, 1.0])
    data = _pareto.prepare_pareto(x, tx, age, weight)
    theta = np.array([params.r, params.alpha, params.s, params.beta])
    exact = _pareto.pareto_derivatives(tuple(theta), data)
    direct = float(np.dot(weight, _pareto.pareto_log_likelihood(tuple(theta), x, tx, age)))
    assert exact.value == pytest.approx(direct, rel=1e-12, abs=1e-12)
    for i in range(4):
        # A relative step of 1e-4: central differences err by O(step**2) (1e-8 here)
        # but lose about eps/step of the value to rounding, which at 1e-6 swamped the
        # gradient's smaller entries (a=0.01, b=765: 2e-3 off while the analytic
        # Hessian agreed with steps of 1e-3 and 1e-4 to 1e-6).
        step = theta * 1e-4 * np.eye(4)[i]
        up = _pareto.pareto_derivatives(tuple(theta + step), data)
        down = _pareto.pareto_derivatives(tuple(theta - step), data)
        scale = theta[i]
        numeric = (up.value - down.value) / (2 * step[i]) * scale
        assert numeric == pytest.approx(exact.gradient[i] * scale, rel=1e-5, abs=1e-6)
        numeric_hess = (up.gradient - down.gradient) / (2 * step[i]) * scale * theta
        np.testing.assert_allclose(
            numeric_hess,
            exact.hessian[i] * scale * theta,
            rtol=1e-5,
            atol=1e-6 * (1 + np.abs(exact.hessian[i] * scale * theta).max()),
        )


def simulate(params: ParetoNBDParams, n: int, *, seed: int) -> pd.DataFrame:
    """Pareto/NBD histories: Poisson purchases until an exponential lifetime ends.

    Ages are whole weeks and recencies are rounded to 0.05 (an error far below the
    standard errors), so the likelihood's pairs repeat and the fit stays quick.
    """
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    mu = rng.gamma(params.s, 1.0 / params.beta, n)
    age = rng.integers(20, 61, n).astype(np.float64)
    active = np.minimum(rng.exponential(1.0 / mu), age)
    x = rng.poisson(lam * active)
    last = active * rng.beta(np.maximum(x, 1), 1.0)
    recency = np.where(x > 0, np.minimum(np.round(last / 0.05) * 0.05, age), 0.0)
    return pd.DataFrame({"frequency": x, "recency": recency, "T": age})


def test_recovers_simulated_parameters() -> None:
    truth = ParetoNBDParams(r=0.8, alpha=8.0, s=0.9, beta=15.0)
    model = ParetoNBDFitter().fit(simulate(truth, 20_000, seed=5))
    assert model.standard_errors is not None
    for name, value in truth.to_dict().items():
        estimate = model.params.to_dict()[name]
        assert abs(estimate - value) < 4 * model.standard_errors[name]
        assert model.standard_errors[name] < 0.3 * value


def test_no_repeat_purchase_is_rejected() -> None:
    table = pd.DataFrame({"frequency": [0, 0], "recency": [0.0, 0.0], "T": [5.0, 6.0]})
    with pytest.raises(InvalidDataError, match="Pareto/NBD parameters"):
        ParetoNBDFitter().fit(table)


def test_fit_aggregated_equals_fit(cdnow: pd.DataFrame, cdnow_model: ParetoNBDModel) -> None:
    from crmscore import BetaGeoFitter  # noqa: PLC0415

    again = ParetoNBDFitter().fit_aggregated(BetaGeoFitter.aggregate(cdnow), time_unit="W")
    for name, value in cdnow_model.params.to_dict().items():
        assert again.params.to_dict()[name] == pytest.approx(value, rel=1e-10)


# --- values and interop -------------------------------------------------------------------


def test_round_trips(cdnow_model: ParetoNBDModel) -> None:
    fitter = ParetoNBDFitter(initial_params=ParetoNBDParams(r=1, alpha=2, s=3, beta=4))
    for value in (cdnow_model, ParetoNBDModel.from_params(PUBLISHED), fitter):
        assert type(value).from_dict(json.loads(json.dumps(value.to_dict()))) == value
    model = ParetoNBDModel.from_params(PUBLISHED, time_unit="W")
    assert ParetoNBDModel.from_lifetimes(model.to_lifetimes(), time_unit="W") == model
    with pytest.raises(InvalidParameterError, match="fitter"):
        ParetoNBDModel.from_lifetimes(LifetimesPareto())
    assert "Pareto/NBD" in cdnow_model._repr_html_()


def test_clv_matches_lifetimes() -> None:
    table = load_cdnow_summary_data_with_monetary_value()
    purchases = ParetoNBDModel.from_params(PUBLISHED, time_unit="W")
    spend = GammaGammaModel.from_params(GammaGammaParams(p=6.25, q=3.74, v=15.44))
    ours = customer_lifetime_value(
        table, purchase_model=purchases, spend_model=spend, horizon=12, discount_rate=0.01
    )
    with warnings.catch_warnings():  # lifetimes' own log(0) at t = 0
        warnings.simplefilter("ignore")
        theirs = spend.to_lifetimes().customer_lifetime_value(
            purchases.to_lifetimes(),
            table["frequency"],
            table["recency"],
            table["T"],
            table["monetary_value"],
            time=12,
            discount_rate=0.01,
            freq="W",
        )
    np.testing.assert_allclose(ours.to_numpy(), np.asarray(theirs), rtol=1e-9)


# --- properties -------------------------------------------------------------------------------

WIDE = st.builds(
    ParetoNBDParams,
    r=log_uniform(1e-3, 1e3),
    alpha=log_uniform(1e-3, 1e4),
    s=log_uniform(1e-3, 1e3),
    beta=log_uniform(1e-3, 1e4),
)


@settings(max_examples=60, deadline=None)
@given(params=WIDE, table=rfm_rows(max_frequency=100_000, max_age=1e5))
def test_properties(params: ParetoNBDParams, table: pd.DataFrame) -> None:
    model = ParetoNBDModel.from_params(params)
    before = copy.deepcopy(table)
    alive = model.probability_alive(table)
    ll = model.log_likelihood_of(table)
    near = model.expected_purchases(table, t=10.0)
    far = model.expected_purchases(table, t=1000.0)
    pd.testing.assert_frame_equal(table, before)
    assert ((alive >= 0) & (alive <= 1)).all()
    assert np.isfinite(ll).all()
    assert np.isfinite(near).all()
    assert (near >= 0).all()
    assert (far >= near * (1 - 1e-12)).all()
    later = table.assign(recency=np.where(table["frequency"] > 0, table["T"], 0.0))
    assert (model.probability_alive(later) >= alive * (1 - 1e-12)).all()
