"""Intervals, information criteria and diagnostics for the MBG/NBD and Pareto/NBD.

The comparison tools take any fitted purchase model; these tests hold them to
outside references for the two further models: lifetimes' own log-likelihoods
(AIC, BIC and the likelihood-ratio statistic by hand), the parametric bootstrap
(delta-method standard errors) and lifetimes' P(X(t) = n) (the histogram).
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from lifetimes import BetaGeoFitter as LifetimesBetaGeo
from lifetimes import ModifiedBetaGeoFitter as LifetimesModifiedBetaGeo
from lifetimes import ParetoNBDFitter as LifetimesPareto
from lifetimes.datasets import load_cdnow_summary
from scipy.stats import chi2

from crmscore import (
    BetaGeoFitter,
    BetaGeoModel,
    ModifiedBetaGeoFitter,
    ModifiedBetaGeoModel,
    ParetoNBDFitter,
    ParetoNBDModel,
    frequency_histogram,
    information_criteria,
    likelihood_ratio_test,
    predict_intervals,
)

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("frequency", "recency", "T")


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    table: pd.DataFrame = load_cdnow_summary(index_col=[0])
    return table


@pytest.fixture(scope="module")
def models(cdnow: pd.DataFrame) -> dict[str, Any]:
    return {
        "bgnbd": BetaGeoFitter().fit(cdnow),
        "mbgnbd": ModifiedBetaGeoFitter().fit(cdnow),
        "pareto": ParetoNBDFitter().fit(cdnow),
    }


def lifetimes_log_likelihood(
    model: BetaGeoModel | ModifiedBetaGeoModel | ParetoNBDModel, table: pd.DataFrame
) -> float:
    """The total log-likelihood by lifetimes' own formula, at the model's parameters."""
    x, tx, age = (table[c].to_numpy(np.float64) for c in COLUMNS)
    values = list(model.params.to_dict().values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(model, ParetoNBDModel):
            return float(np.sum(LifetimesPareto._conditional_log_likelihood(values, x, tx, age)))
        kind = LifetimesBetaGeo if isinstance(model, BetaGeoModel) else LifetimesModifiedBetaGeo
        mean = kind._negative_log_likelihood(np.log(values), x, tx, age, np.ones_like(x), 0.0)
    return -float(mean) * len(x)


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd", "pareto"])
def test_information_criteria_from_lifetimes_log_likelihood(
    name: str, models: dict[str, Any], cdnow: pd.DataFrame
) -> None:
    model = models[name]
    ll = lifetimes_log_likelihood(model, cdnow)
    ic = information_criteria(model)
    assert ic["log_likelihood"] == pytest.approx(ll, rel=1e-10)
    assert ic["aic"] == pytest.approx(2 * 4 - 2 * ll, rel=1e-10)
    assert ic["bic"] == pytest.approx(4 * math.log(len(cdnow)) - 2 * ll, rel=1e-10)


def test_likelihood_ratio_statistic_from_lifetimes(
    models: dict[str, Any], cdnow: pd.DataFrame
) -> None:
    """The statistic and its boundary p-value, by hand from lifetimes' log-likelihoods.

    (The BG/NBD is the MBG/NBD's customers who cannot drop out at time zero: not a
    restriction of its four parameters, so the information criteria are the fair
    comparison; the arithmetic of the test is what is checked here.)
    """
    test = likelihood_ratio_test(
        models["bgnbd"], full=models["mbgnbd"], n_restricted=1, boundary=True
    )
    statistic = 2 * (
        lifetimes_log_likelihood(models["mbgnbd"], cdnow)
        - lifetimes_log_likelihood(models["bgnbd"], cdnow)
    )
    assert test.statistic == pytest.approx(statistic, rel=1e-7)
    assert test.p_value == pytest.approx(0.5 * chi2.sf(statistic, 1), rel=1e-6)


@pytest.mark.parametrize(
    ("name", "quantity", "extra"),
    [
        ("mbgnbd", "expected_purchases", {"t": 39.0}),
        ("mbgnbd", "p_alive", {}),
        ("pareto", "expected_purchases", {"t": 39.0}),
        ("pareto", "p_alive", {}),
    ],
)
def test_delta_method_agrees_with_the_bootstrap(
    name: str, quantity: str, extra: dict[str, Any], models: dict[str, Any], cdnow: pd.DataFrame
) -> None:
    table = cdnow.iloc[::80]
    kwargs: dict[str, Any] = {"quantity": quantity, "purchase_model": models[name], **extra}
    delta = predict_intervals(table, **kwargs)
    boot = predict_intervals(table, **kwargs, method="bootstrap", n_replicates=200, seed=3)
    np.testing.assert_allclose(boot["estimate"], delta["estimate"], rtol=1e-12)
    ratio = (boot["std_error"] / delta["std_error"]).to_numpy()
    # 200 replicates estimate an sd to about 1/sqrt(400) = 5 %; allow 3 of those.
    assert float(np.median(ratio)) == pytest.approx(1.0, abs=0.15)
    assert (delta["lower"] <= delta["estimate"]).all()
    assert (delta["estimate"] <= delta["upper"]).all()


def test_frequency_histogram_matches_lifetimes_probabilities(
    models: dict[str, Any], cdnow: pd.DataFrame
) -> None:
    """Expected customers per frequency: sum_i P(X(T_i) = n) by lifetimes' formula."""
    hist = frequency_histogram(
        cdnow, models={"mbgnbd": models["mbgnbd"], "pareto": models["pareto"]}, max_frequency=4
    )
    assert hist["pareto"].sum() == pytest.approx(len(cdnow), rel=1e-10)
    reference = models["mbgnbd"].to_lifetimes()
    ages = cdnow["T"].to_numpy(np.float64)
    for n in range(4):
        theirs = float(
            np.sum([reference.probability_of_n_purchases_up_to_time(a, n) for a in ages])
        )
        assert hist.loc[str(n), "mbgnbd"] == pytest.approx(theirs, rel=1e-8)
    # The Pareto/NBD by the conditional distribution at x = t_x = T = 0, in lifetimes.
    pareto = models["pareto"].to_lifetimes()
    distinct, counts = np.unique(ages, return_counts=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in range(4):
            each = [
                pareto.conditional_probability_of_n_purchases_up_to_time(n, a, 0.0, 0.0, 0.0)
                for a in distinct
            ]
            theirs = float(np.dot(counts, np.asarray(each, dtype=np.float64)))
            assert hist.loc[str(n), "pareto"] == pytest.approx(theirs, rel=1e-8)
