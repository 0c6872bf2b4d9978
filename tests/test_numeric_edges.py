"""Numeric edges: infinite means and overflowing sums are refused, never returned."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import crmscore as cs
from crmscore.clv import GammaGammaFitter, GammaGammaModel
from crmscore.clv import customer_lifetime_value as clv_of


def spend_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "frequency": [0, 1, 3, 8],
            "recency": [0.0, 10.0, 30.0, 60.0],
            "T": [70.0, 70.0, 70.0, 70.0],
            "monetary_value": [0.0, 20.0, 30.0, 25.0],
        },
        index=pd.Index(["new", "once", "thrice", "often"], name="customer_id"),
    )


def test_a_model_with_q_at_most_1_names_the_customers_of_infinite_expected_spend() -> None:
    # E[M | x, m] = p (v + x m) / (p x + q - 1) exists only where p x + q > 1:
    # with p = 0.1, q = 0.8 that is x > 2 (hand-computed: 0.1 * 3 + 0.8 = 1.1).
    model = GammaGammaModel.from_params(cs.GammaGammaParams(p=0.1, q=0.8, v=10.0))
    table = spend_table()
    with pytest.raises(
        cs.InvalidDataError, match=r"'frequency'.* 2 customer\(s\), first \['new', 'once'\]"
    ):
        model.expected_spend(table)
    purchases = cs.BetaGeoModel.from_params(cs.BetaGeoParams(r=0.2, alpha=4.0, a=0.8, b=2.4))
    with pytest.raises(cs.InvalidDataError, match=r"q = 0.8 <= 1"):
        clv_of(
            table,
            purchase_model=purchases,
            spend_model=model,
            horizon=12,
            discount_rate=0.01,
            periods_per_step=30.0,
        )
    finite = model.expected_spend(table.loc[["thrice", "often"]])
    assert finite["thrice"] == pytest.approx(0.1 * (10.0 + 3 * 30.0) / (0.1 * 3 + 0.8 - 1))
    assert np.isfinite(
        clv_of(
            table.loc[["thrice", "often"]],
            purchase_model=purchases,
            spend_model=model,
            horizon=12,
            discount_rate=0.01,
            periods_per_step=30.0,
        )
    ).all()


@pytest.mark.parametrize("q", [1.0, 0.5])
def test_every_customer_is_refused_when_no_repeat_purchase_could_make_it_finite(q: float) -> None:
    model = GammaGammaModel.from_params(cs.GammaGammaParams(p=2.0, q=q, v=10.0))
    assert model.mean_spend == math.inf  # the population mean p v / (q - 1) does not exist
    with pytest.raises(cs.InvalidDataError, match=r"first \['new'\]"):
        model.expected_spend(spend_table())


def test_a_fit_that_lands_at_q_at_most_1_is_refused() -> None:
    # Pareto-like spends (each customer's mean amount spread over orders of
    # magnitude) drive the maximum-likelihood q below 1.
    rng = np.random.default_rng(7)
    n = 400
    table = pd.DataFrame(
        {
            "frequency": rng.integers(1, 4, n),
            "monetary_value": np.exp(rng.normal(0.0, 4.0, n)),
        }
    )
    with pytest.raises(cs.InvalidDataError, match=r"q = 0\.\d+ <= 1: .* is infinite"):
        GammaGammaFitter().fit(table)
