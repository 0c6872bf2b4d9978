"""MBG/NBD: published estimates, lifetimes at identical inputs, an mpmath oracle, properties."""

from __future__ import annotations

import copy
import json
import warnings
from typing import Any

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lifetimes import ModifiedBetaGeoFitter as LifetimesMBG
from lifetimes.datasets import load_cdnow_summary, load_cdnow_summary_data_with_monetary_value

from crmscore import (
    BetaGeoParams,
    GammaGammaModel,
    GammaGammaParams,
    InvalidDataError,
    InvalidParameterError,
    ModifiedBetaGeoFitter,
    ModifiedBetaGeoModel,
    PurchaseModel,
    customer_lifetime_value,
)
from crmscore.clv import _kernels
from tests.strategies import log_uniform, rfm_rows

COLUMNS = ["frequency", "recency", "T"]
#: BTYDplus's MBG/NBD fit of CDNOW (weeks), as quoted by lifetimes' test suite.
BTYDPLUS_CDNOW = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    summary: pd.DataFrame = load_cdnow_summary(index_col=[0])
    return summary


@pytest.fixture(scope="module")
def cdnow_model(cdnow: pd.DataFrame) -> ModifiedBetaGeoModel:
    return ModifiedBetaGeoFitter().fit(cdnow)


def arrays(table: pd.DataFrame) -> tuple[np.ndarray[Any, Any], ...]:
    return tuple(table[c].to_numpy(np.float64) for c in COLUMNS)


def lifetimes_ll(params: BetaGeoParams, table: pd.DataFrame) -> float:
    x, tx, age = arrays(table)
    log_params = np.log([params.r, params.alpha, params.a, params.b])
    mean = LifetimesMBG._negative_log_likelihood(log_params, x, tx, age, np.ones_like(x), 0.0)
    return -float(mean) * len(x)


def simulate(params: BetaGeoParams, n: int, *, seed: int) -> pd.DataFrame:
    """Draw MBG/NBD histories exactly: dropout at time zero and after each purchase.

    x = min(N, J) with N ~ Poisson(lambda T) and J + 1 ~ Geometric(p) dropout trials
    (the first at time zero); the last of x purchases among N uniform arrival times
    is the x-th order statistic, T * Beta(x, N - x + 1).
    """
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    age = rng.uniform(20.0, 60.0, n)
    count = rng.poisson(lam * age)
    survived = rng.geometric(p) - 1
    x = np.minimum(count, survived)
    safe = np.maximum(x, 1)
    recency = np.where(x > 0, age * rng.beta(safe, np.maximum(count - safe + 1, 1)), 0.0)
    return pd.DataFrame({"frequency": x, "recency": recency, "T": age})


# --- CDNOW: published estimates and lifetimes' fit ------------------------------------------


def test_cdnow_reproduces_btydplus_estimates(cdnow_model: ModifiedBetaGeoModel) -> None:
    for name, value in BTYDPLUS_CDNOW.items():
        assert round(cdnow_model.params.to_dict()[name], 3) == value
    assert cdnow_model.n_customers == 2357
    assert cdnow_model.convergence is not None
    assert cdnow_model.convergence.converged
    assert cdnow_model.convergence.n_rows < 2357


def test_cdnow_fit_matches_lifetimes(
    cdnow: pd.DataFrame, cdnow_model: ModifiedBetaGeoModel
) -> None:
    reference = LifetimesMBG().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    theirs = BetaGeoParams.from_dict(dict(reference.params_))
    # lifetimes stops at its own tolerance (1e-7 on a BFGS gradient): its parameters
    # are within 1e-5 of ours, and its likelihood is not higher.
    for name, value in cdnow_model.params.to_dict().items():
        assert theirs.to_dict()[name] == pytest.approx(value, rel=1e-5)
    assert cdnow_model.log_likelihood is not None
    assert cdnow_model.log_likelihood >= lifetimes_ll(theirs, cdnow) - 1e-9
    assert cdnow_model.log_likelihood == pytest.approx(
        lifetimes_ll(cdnow_model.params, cdnow), rel=1e-12
    )
    assert cdnow_model.standard_errors is not None
    for name, se in cdnow_model.standard_errors.items():
        assert float(reference.standard_errors_[name]) == pytest.approx(se, rel=1e-3)


def test_log_likelihood_matches_lifetimes_at_identical_parameters(cdnow: pd.DataFrame) -> None:
    for values in (BTYDPLUS_CDNOW, {"r": 3.0, "alpha": 0.5, "a": 0.2, "b": 40.0}):
        params = BetaGeoParams.from_dict(values)
        ours = ModifiedBetaGeoModel.from_params(params).log_likelihood_of(cdnow)
        assert float(ours.sum()) == pytest.approx(lifetimes_ll(params, cdnow), rel=1e-12)


def test_predictions_match_lifetimes(cdnow: pd.DataFrame) -> None:
    model = ModifiedBetaGeoModel.from_params(BTYDPLUS_CDNOW)
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
    horizons = np.array([0.1429, 1.0, 3.0, 31.8571, 78.0])
    np.testing.assert_allclose(
        model.expected_purchases_new_customer(horizons),
        theirs.expected_number_of_purchases_up_to_time(horizons),
        rtol=1e-10,
    )
    for n in range(25):
        assert model.probability_of_purchases(n, t=30.0) == pytest.approx(
            float(theirs.probability_of_n_purchases_up_to_time(30.0, n)), rel=1e-10
        )


def test_lifetimes_round_trip() -> None:
    model = ModifiedBetaGeoModel.from_params(BTYDPLUS_CDNOW, time_unit="W")
    back = ModifiedBetaGeoModel.from_lifetimes(model.to_lifetimes(), time_unit="W")
    assert back == model
    with pytest.raises(InvalidParameterError, match="fitter"):
        ModifiedBetaGeoModel.from_lifetimes(LifetimesMBG())


# --- the mpmath oracle ----------------------------------------------------------------------


def oracle(params: BetaGeoParams, x: float, tx: float, age: float, t: float) -> float:
    """Wagner and Hoppe's E[Y(t) | x, tx, T] in 50-digit arithmetic."""
    with mp.workdps(50):
        r, alpha, a, b = (mp.mpf(v) for v in (params.r, params.alpha, params.a, params.b))
        x_, tx_, age_, t_ = (mp.mpf(v) for v in (x, tx, age, t))
        alive = 1 / (1 + a / (b + x_) * ((alpha + age_) / (alpha + tx_)) ** (r + x_))
        z = t_ / (alpha + age_ + t_)
        hyp = mp.hyp2f1(r + x_, b + x_ + 1, a + b + x_, z, maxterms=10**6)
        bracket = 1 - ((alpha + age_) / (alpha + age_ + t_)) ** (r + x_) * hyp
        return float(alive * (a + b + x_) / (a - 1) * bracket)


@pytest.mark.parametrize(
    ("params", "row", "t"),
    [
        (BTYDPLUS_CDNOW, (2, 30.43, 38.86), 39.0),
        (BTYDPLUS_CDNOW, (0, 0.0, 38.86), 52.0),
        ({"r": 0.24, "alpha": 4.4, "a": 2.5, "b": 0.3}, (40, 300.0, 310.0), 1000.0),
        ({"r": 5.0, "alpha": 0.01, "a": 0.05, "b": 20.0}, (1000, 9e4, 1e5), 1e4),
        ({"r": 0.01, "alpha": 100.0, "a": 50.0, "b": 0.02}, (3, 10.0, 1e5), 1e5),
    ],
)
def test_expected_purchases_match_mpmath(
    params: dict[str, float], row: tuple[float, float, float], t: float
) -> None:
    truth = BetaGeoParams.from_dict(params)
    table = pd.DataFrame([row], columns=COLUMNS)
    ours = float(ModifiedBetaGeoModel.from_params(truth).expected_purchases(table, t=t).iloc[0])
    assert ours == pytest.approx(oracle(truth, *row, t), rel=1e-9)


# --- parameter recovery ---------------------------------------------------------------------


def test_recovers_simulated_parameters() -> None:
    truth = BetaGeoParams(r=0.8, alpha=6.0, a=0.7, b=2.5)
    table = simulate(truth, 60_000, seed=3)
    model = ModifiedBetaGeoFitter().fit(table)
    assert model.standard_errors is not None
    for name, value in truth.to_dict().items():
        estimate = model.params.to_dict()[name]
        # Within 4 standard errors of the truth (and the errors are small).
        assert abs(estimate - value) < 4 * model.standard_errors[name]
        assert model.standard_errors[name] < 0.15 * value


def test_fit_aggregated_equals_fit(cdnow: pd.DataFrame, cdnow_model: ModifiedBetaGeoModel) -> None:
    from crmscore import BetaGeoFitter  # noqa: PLC0415

    stats = BetaGeoFitter.aggregate(cdnow)
    again = ModifiedBetaGeoFitter().fit_aggregated(stats, time_unit="W")
    assert again.params == cdnow_model.params
    assert again.time_unit == "W"


def test_penalizer_shrinks(cdnow: pd.DataFrame, cdnow_model: ModifiedBetaGeoModel) -> None:
    shrunk = ModifiedBetaGeoFitter(penalizer=0.1).fit(cdnow)
    assert sum(shrunk.params.to_dict().values()) < sum(cdnow_model.params.to_dict().values())


def test_no_repeat_purchase_is_rejected() -> None:
    table = pd.DataFrame({"frequency": [0, 0], "recency": [0.0, 0.0], "T": [5.0, 6.0]})
    with pytest.raises(InvalidDataError, match="MBG/NBD parameters"):
        ModifiedBetaGeoFitter().fit(table)


def test_bad_recency_is_rejected_with_ids() -> None:
    table = pd.DataFrame(
        {"frequency": [1, 2], "recency": [3.0, 9.0], "T": [5.0, 6.0]}, index=["u", "v"]
    )
    with pytest.raises(InvalidDataError, match="'v'"):
        ModifiedBetaGeoModel.from_params(BTYDPLUS_CDNOW).probability_alive(table)


# --- values and serialisation ---------------------------------------------------------------


def test_models_and_fitters_round_trip_through_json(cdnow_model: ModifiedBetaGeoModel) -> None:
    fitter = ModifiedBetaGeoFitter(
        initial_params=BetaGeoParams(r=1, alpha=2, a=3, b=4), penalizer=0.5
    )
    for value in (cdnow_model, ModifiedBetaGeoModel.from_params(BTYDPLUS_CDNOW), fitter):
        assert type(value).from_dict(json.loads(json.dumps(value.to_dict()))) == value
    assert "ModifiedBetaGeoModel" in repr(cdnow_model)
    assert "MBG/NBD" in cdnow_model._repr_html_()
    ci = cdnow_model.summary()
    assert (ci["lower"] < ci["estimate"]).all()
    assert (ci["estimate"] < ci["upper"]).all()


def test_customers_without_repeat_purchases_may_be_dead(cdnow: pd.DataFrame) -> None:
    model = ModifiedBetaGeoModel.from_params(BTYDPLUS_CDNOW)
    alive = model.probability_alive(cdnow)
    zero = cdnow["frequency"] == 0
    # 1 / (1 + a / b ((alpha + T) / alpha)^r) by hand for x = 0.
    p = model.params
    by_hand = 1 / (1 + p.a / p.b * ((p.alpha + cdnow["T"]) / p.alpha) ** p.r)
    np.testing.assert_allclose(alive[zero], by_hand[zero], rtol=1e-13)
    assert (alive[zero] < 1).all()


def test_probability_of_purchases_sums_to_one() -> None:
    model = ModifiedBetaGeoModel.from_params(BTYDPLUS_CDNOW)
    total = model.probability_of_purchases(np.arange(5000), t=52.0).sum()
    assert total == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(InvalidParameterError, match="'n'"):
        model.probability_of_purchases(np.array([1.5]), t=2.0)


# --- properties -----------------------------------------------------------------------------

PARAMS = st.builds(
    BetaGeoParams,
    r=log_uniform(1e-3, 1e3),
    alpha=log_uniform(1e-3, 1e4),
    a=log_uniform(1e-3, 1e3),
    b=log_uniform(1e-3, 1e3),
)


@settings(max_examples=60, deadline=None)
@given(params=PARAMS, table=rfm_rows(max_frequency=100_000, max_age=1e5))
def test_properties(params: BetaGeoParams, table: pd.DataFrame) -> None:
    model = ModifiedBetaGeoModel.from_params(params)
    before = copy.deepcopy(table)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alive = model.probability_alive(table)
        ll = model.log_likelihood_of(table)
        near = model.expected_purchases(table, t=10.0)
        far = model.expected_purchases(table, t=1000.0)
    pd.testing.assert_frame_equal(table, before)
    assert ((alive >= 0) & (alive <= 1)).all()
    assert np.isfinite(ll).all()
    assert np.isfinite(near).all()
    assert np.isfinite(far).all()
    assert (near >= 0).all()
    assert (far >= near * (1 - 1e-9)).all()
    # Monotone in recency: a later last purchase makes a customer likelier alive.
    later = table.assign(recency=np.where(table["frequency"] > 0, table["T"], 0.0))
    assert (model.probability_alive(later) >= alive * (1 - 1e-12)).all()


@settings(max_examples=40, deadline=None)
@given(params=PARAMS)
@example(params=BetaGeoParams(r=1.0, alpha=1.0, a=0.01, b=765.311949634277))
def test_fit_derivatives_match_finite_differences(params: BetaGeoParams) -> None:
    x = np.array([0.0, 1.0, 3.0, 7.0, 0.0])
    tx = np.array([0.0, 4.0, 20.0, 30.0, 0.0])
    age = np.array([10.0, 30.0, 31.0, 40.0, 40.0])
    weight = np.array([3.0, 1.0, 2.0, 1.0, 5.0])
    data = _kernels.prepare_bgnbd(x, tx, age, weight)
    theta = np.array([params.r, params.alpha, params.a, params.b])
    exact = _kernels.bgnbd_derivatives(tuple(theta), data, modified=True)
    direct = float(np.dot(weight, _kernels.mbgnbd_log_likelihood(tuple(theta), x, tx, age)))
    assert exact.value == pytest.approx(direct, rel=1e-10, abs=1e-10)
    for i in range(4):
        # A relative step of 1e-4: central differences err by O(step**2) (1e-8 here)
        # but lose about eps/step of the value to rounding, which at 1e-6 swamped the
        # gradient's smaller entries (a=0.01, b=765: 2e-3 off while the analytic
        # Hessian agreed with steps of 1e-3 and 1e-4 to 1e-6).
        step = theta * 1e-4 * np.eye(4)[i]
        up = _kernels.bgnbd_derivatives(tuple(theta + step), data, modified=True)
        down = _kernels.bgnbd_derivatives(tuple(theta - step), data, modified=True)
        scale = theta[i]
        numeric_grad = (up.value - down.value) / (2 * step[i]) * scale
        assert numeric_grad == pytest.approx(
            exact.gradient[i] * scale, rel=1e-4, abs=1e-5 * (1 + abs(exact.value))
        )
        numeric_hess = (up.gradient - down.gradient) / (2 * step[i]) * scale * theta
        np.testing.assert_allclose(
            numeric_hess,
            exact.hessian[i] * scale * theta,
            rtol=1e-4,
            atol=1e-5 * (1 + np.abs(exact.hessian[i] * scale * theta).max()),
        )


# --- customer lifetime value --------------------------------------------------------------


class _Delegate:
    """A purchase model of our own: only the protocol, no crmscore type."""

    def __init__(self, model: ModifiedBetaGeoModel) -> None:
        self._model = model
        self.time_unit = model.time_unit

    def expected_purchases(self, table: pd.DataFrame, *, t: float) -> pd.Series[float]:
        return self._model.expected_purchases(table, t=t)


def test_clv_matches_lifetimes_and_accepts_any_purchase_model() -> None:
    table = load_cdnow_summary_data_with_monetary_value()
    purchases = ModifiedBetaGeoModel.from_params(BTYDPLUS_CDNOW, time_unit="W")
    spend = GammaGammaModel.from_params(GammaGammaParams(p=6.25, q=3.74, v=15.44))
    ours = customer_lifetime_value(
        table, purchase_model=purchases, spend_model=spend, horizon=12, discount_rate=0.01
    )
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
    delegate = _Delegate(purchases)
    assert isinstance(delegate, PurchaseModel)
    generic = customer_lifetime_value(
        table, purchase_model=delegate, spend_model=spend, horizon=12, discount_rate=0.01
    )
    np.testing.assert_allclose(generic.to_numpy(), ours.to_numpy(), rtol=1e-13)
    with pytest.raises(InvalidParameterError, match="purchase_model"):
        customer_lifetime_value(
            table,
            purchase_model=spend,  # type: ignore[arg-type]
            spend_model=spend,
            horizon=12,
            discount_rate=0.01,
        )
