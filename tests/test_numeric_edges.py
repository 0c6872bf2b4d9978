"""Numeric edges: infinite means and overflowing sums are refused, never returned."""

from __future__ import annotations

import json
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


# --- total spend beyond the float range ------------------------------------------------

BIG = 1.2e308  # finite; two of them sum past the largest double (about 1.8e308)


def purchases(customers: list[str], amounts: list[float], days: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": customers,
            "timestamp": [pd.Timestamp("2024-01-01") + pd.Timedelta(days=d) for d in days],
            "amount": amounts,
        }
    )


@pytest.mark.parametrize("days", [[0, 0, 0], [0, 5, 9]], ids=["one period", "two periods"])
def test_rfm_table_refuses_a_total_spend_that_overflows(days: list[int]) -> None:
    log = purchases(["ok", "big", "big"], [10.0, BIG, BIG], days)
    assert np.isinf(BIG + BIG)
    with pytest.raises(
        cs.InvalidDataError,
        match=r"Column 'amount' sums to a total spend beyond"
        r" the float range .* for 1 customer\(s\), first \['big'\]",
    ):
        cs.rfm_table(log, as_of="2024-02-01")
    # One huge purchase alone is still a finite total.
    table = cs.rfm_table(log.iloc[:2], as_of="2024-02-01")
    assert table.loc["big", "total_spend"] == BIG


def engine_events(
    customers: list[str], values: list[float], days: list[int], first: int
) -> pd.DataFrame:
    return (
        purchases(customers, values, days)
        .rename(columns={"amount": "value"})
        .assign(kind="purchase", event_id=[f"e{first + i}" for i in range(len(customers))])
    )


def test_the_engine_refuses_a_total_spend_that_overflows() -> None:
    card = cs.Scorecard(
        hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
        indicators=[cs.Indicator(name="total_spend", direction="benefit", normaliser=cs.MinMax())],
    )
    policy = cs.RescoringPolicy(scorecard=card)
    # Within one batch (the history that opens the book) ...
    with pytest.raises(cs.InvalidDataError, match=r"'value' sums to a total spend .* \['big'\]"):
        cs.open_book(
            policy,
            engine_events(["ok", "big", "big"], [10.0, BIG, BIG], [0, 1, 2], 0),
            as_of="2024-02-01",
        )
    # ... and across batches: the book's total plus the new purchase.
    book = cs.open_book(
        policy, engine_events(["ok", "big"], [10.0, BIG], [0, 1], 0), as_of="2024-02-01"
    ).book
    before = json.dumps(book.to_dict(), allow_nan=False)
    with pytest.raises(cs.InvalidDataError, match=r"'value' sums to a total spend .* \['big'\]"):
        cs.ingest(book, engine_events(["big"], [BIG], [40], 10), as_of="2024-02-10")
    assert json.dumps(book.to_dict(), allow_nan=False) == before  # atomic: nothing changed


def test_the_spend_drop_signal_refuses_a_total_that_overflows() -> None:
    events = engine_events(["big", "big", "ok"], [BIG, BIG, 10.0], [0, 1, 0], 0).rename(
        columns={"value": "amount_paid"}
    )
    warning = cs.EarlyWarning(signals=[cs.SpendDrop()], rules=[])
    with pytest.raises(cs.InvalidDataError, match=r"'amount_paid' sums to .* \['big'\]"):
        warning.predict(events, as_of="2024-06-01", value_col="amount_paid")


@pytest.mark.parametrize("large", [1e20, BIG], ids=["absorbs", "overflows"])
def test_a_large_spender_in_the_batch_does_not_hide_anothers_invitation(large: float) -> None:
    # The running spend towards the invitation threshold (1,000) is summed per
    # customer: a batch-wide running sum would absorb c's 5,000 after 1e20 (and
    # overflow after two BIGs), and c would never be invited.
    card = cs.Scorecard(
        hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
        indicators=[cs.Indicator(name="total_spend", direction="benefit", normaliser=cs.MinMax())],
    )
    policy = cs.RescoringPolicy(scorecard=card)
    assert policy.invitation_spend == 1000.0
    log = engine_events(["a", "b", "c", "d"], [large, large, 5000.0, 999.0], [0, 1, 2, 2], 0)
    customers = cs.open_book(policy, log, as_of="2024-02-01").book.customers
    assert customers["invited"].to_dict() == {"a": True, "b": True, "c": True, "d": False}
