from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from crmscore import (
    EVENT_KINDS,
    BetaGeoParams,
    GammaGammaParams,
    InvalidParameterError,
    make_b2b_indicators,
    make_events,
    make_transactions,
)
from crmscore._events import validate_events
from crmscore.datasets import DEFAULT_PURCHASE, DEFAULT_SPEND


def bgnbd_expected_repeats(params: BetaGeoParams, t: np.ndarray) -> np.ndarray:
    """E[X(t)] of a new customer, Fader, Hardie and Lee (2005), eq. 9."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def test_same_seed_same_book_and_different_seed_different_book() -> None:
    one = make_transactions(500, seed=3)
    two = make_transactions(500, seed=np.random.default_rng(3))
    pd.testing.assert_frame_equal(one.transactions, two.transactions)
    pd.testing.assert_frame_equal(one.customers, two.customers)
    other = make_transactions(500, seed=4)
    assert not other.transactions["amount"].equals(one.transactions["amount"])


def test_log_shape_and_truth_are_consistent() -> None:
    book = make_transactions(5_000, seed=9, start="2023-03-01", observation_days=400)
    tx, truth = book.transactions, book.customers
    assert list(tx.columns) == ["customer_id", "timestamp", "amount"]
    assert tx["timestamp"].is_monotonic_increasing
    assert (tx["amount"] > 0).all()
    assert tx["timestamp"].min() >= pd.Timestamp("2023-03-01")
    assert tx["timestamp"].max() < book.as_of + pd.Timedelta(days=1)
    assert book.as_of == pd.Timestamp("2023-03-01") + pd.Timedelta(days=399)
    counts = tx.groupby("customer_id").size()
    pd.testing.assert_series_equal(
        counts, truth["n_repeat"] + 1, check_names=False, check_dtype=False
    )
    first = tx.groupby("customer_id")["timestamp"].min()
    pd.testing.assert_series_equal(first, truth["first_purchase"], check_names=False)
    dropped = truth["dropout_at"].notna()
    last = tx.groupby("customer_id")["timestamp"].max()
    pd.testing.assert_series_equal(
        last[dropped], truth.loc[dropped, "dropout_at"], check_names=False
    )
    assert (truth.loc[dropped, "n_repeat"] >= 1).all()
    assert book.purchase == DEFAULT_PURCHASE
    assert book.spend == DEFAULT_SPEND


def test_repeat_purchases_follow_the_bgnbd_expectation() -> None:
    # Oracle: the closed form of E[X(t)] for a new customer, averaged over the
    # simulated observation lengths; the mean of 200k customers must agree within
    # four standard errors.
    params = BetaGeoParams(r=0.8, alpha=30.0, a=1.4, b=5.0)
    book = make_transactions(
        200_000, seed=21, purchase=params, acquisition_days=300, observation_days=500
    )
    truth = book.customers
    start = pd.Timestamp("2024-01-01")
    birth_days = (truth["first_purchase"] - start) / pd.Timedelta(days=1)
    horizon = 500 - birth_days.to_numpy()
    expected = bgnbd_expected_repeats(params, horizon).mean()
    observed = truth["n_repeat"].to_numpy()
    standard_error = observed.std() / np.sqrt(observed.size)
    assert abs(observed.mean() - expected) < 4 * standard_error


def test_default_purchase_rate_is_one_per_45_days_on_average() -> None:
    # The documented reading of the "45-day cycle": 45 is 1 / E[lambda], and the
    # median customer's own cycle is 45 / ln 2 (lambda is exponential when r = 1).
    assert DEFAULT_PURCHASE.r / DEFAULT_PURCHASE.alpha == pytest.approx(1 / 45, rel=1e-12)
    assert DEFAULT_PURCHASE.a / (DEFAULT_PURCHASE.a + DEFAULT_PURCHASE.b) == 1 / 8
    rate = make_transactions(40_000, seed=3).customers["purchase_rate"].to_numpy()
    standard_error = rate.std() / np.sqrt(rate.size)
    assert abs(rate.mean() - 1 / 45) < 4 * standard_error
    assert np.median(1 / rate) == pytest.approx(45 / np.log(2), rel=0.03)


def test_spend_follows_the_gamma_gamma_mean() -> None:
    spend = GammaGammaParams(p=5.0, q=6.0, v=100.0)
    book = make_transactions(100_000, seed=5, spend=spend)
    mean_spend = book.customers["mean_spend"].to_numpy()
    standard_error = mean_spend.std() / np.sqrt(mean_spend.size)
    assert abs(mean_spend.mean() - spend.mean_spend) < 4 * standard_error
    # Each transaction is Gamma(p, nu): the amounts' grand mean matches too.
    amounts = book.transactions["amount"].to_numpy()
    assert abs(amounts.mean() / spend.mean_spend - 1) < 0.02


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_customers": 0}, "'n_customers' parameter of make_transactions"),
        ({"n_customers": 2.5}, "'n_customers'"),
        ({"acquisition_days": 800}, "at most observation_days"),
        ({"start": "never"}, "'start'"),
    ],
)
def test_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {"n_customers": 10, "seed": 1, **kwargs}
    with pytest.raises(InvalidParameterError, match=match):
        make_transactions(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf"), "x"])
def test_params_reject_non_positive_values(value: object) -> None:
    with pytest.raises(InvalidParameterError, match="'alpha' parameter of BetaGeoParams"):
        BetaGeoParams(r=1.0, alpha=value, a=1.0, b=1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'q' parameter of GammaGammaParams"):
        GammaGammaParams(p=1.0, q=value, v=1.0)  # type: ignore[arg-type]


def test_params_round_trip() -> None:
    params = BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    assert BetaGeoParams.from_dict(params.to_dict()) == params
    spend = GammaGammaParams(p=6.25, q=3.74, v=15.44)
    assert GammaGammaParams.from_dict(spend.to_dict()) == spend


# --- make_events ------------------------------------------------------------------------


def test_events_same_seed_same_log() -> None:
    one = make_events(400, seed=5)
    two = make_events(400, seed=np.random.default_rng(5))
    pd.testing.assert_frame_equal(one.events, two.events)
    pd.testing.assert_frame_equal(one.customers, two.customers)
    assert not make_events(400, seed=6).events["timestamp"].equals(one.events["timestamp"])


def test_events_follow_the_contract_and_the_truth() -> None:
    book = make_events(3_000, seed=2, start="2023-01-01", observation_days=500)
    events, truth = book.events, book.customers
    assert list(events.columns) == ["customer_id", "timestamp", "kind", "value", "event_id"]
    assert list(events["kind"].cat.categories) == list(EVENT_KINDS)
    assert events["timestamp"].is_monotonic_increasing
    assert events["event_id"].is_unique
    assert book.as_of == pd.Timestamp("2023-01-01") + pd.Timedelta(days=499)
    assert events["timestamp"].max() < book.as_of + pd.Timedelta(days=1)
    validate_events(events, as_of=book.as_of, owner="test", future="error")
    kind = events["kind"]
    assert (events.loc[kind == "purchase", "value"] > 0).all()
    assert events.loc[kind == "review", "value"].isin([1.0, 2.0, 3.0, 4.0, 5.0]).all()
    assert events.loc[~kind.isin(["purchase", "review"]), "value"].isna().all()
    # Every customer joins with a first purchase; nobody has an event after leaving.
    first = events.groupby("customer_id")["timestamp"].min()
    pd.testing.assert_series_equal(first, truth["first_event"], check_names=False)
    last = events.groupby("customer_id")["timestamp"].max()
    churned = truth["churn_date"].notna()
    assert (last[churned] <= truth.loc[churned, "churn_date"]).all()
    assert (truth.loc[churned, "churn_date"] <= book.as_of + pd.Timedelta(days=1)).all()
    declining = truth["decline_start"].notna()
    assert (declining <= churned).all()
    assert (truth.loc[declining, "decline_start"] <= truth.loc[declining, "churn_date"]).all()
    assert truth.loc[declining, "decline_style"].notna().all()
    assert truth.loc[~declining, "decline_intensity"].eq(0).all()


def test_decliners_change_behaviour_before_leaving() -> None:
    # Per style, the documented direction of change, measured as event rates per
    # day inside the decline against the same customers' rates before it.
    book = make_events(40_000, seed=3, abrupt_share=0.0, decline_days=(60, 60))
    truth = book.customers
    events = book.events.join(truth, on="customer_id")
    decliners = truth[
        truth["decline_start"].notna()
        & (truth["decline_start"] > truth["first_event"] + pd.Timedelta(days=200))
    ]
    events = events[events["customer_id"].isin(decliners.index)]
    during = events["timestamp"] >= events["decline_start"]
    calm_days = (
        ((decliners["decline_start"] - decliners["first_event"]).dt.days)
        .groupby(decliners["decline_style"], observed=True)
        .sum()
    )
    decline_days = (
        ((decliners["churn_date"] - decliners["decline_start"]).dt.days)
        .groupby(decliners["decline_style"], observed=True)
        .sum()
    )

    def rate(kind: str, in_decline: bool) -> pd.Series:
        chosen = events[(events["kind"] == kind) & (during == in_decline)]
        counts = chosen.groupby("decline_style", observed=True).size()
        return counts / (decline_days if in_decline else calm_days)

    ratio = {
        kind: rate(kind, True) / rate(kind, False)
        for kind in ("purchase", "interaction", "complaint", "cart_abandoned", "account_change")
    }
    assert ratio["interaction"]["fading"] < 0.5
    assert ratio["purchase"]["fading"] < 0.6
    assert ratio["complaint"]["unhappy"] > 3
    assert ratio["cart_abandoned"]["shopping"] > 1.5
    assert ratio["account_change"]["shopping"] > 3
    negative = events[
        (events["kind"] == "review") & during & (events["decline_style"] == "unhappy")
    ]
    assert (negative["value"] <= 2).mean() > 0.2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_customers": 0}, "'n_customers' parameter of make_events"),
        ({"abrupt_share": 1.5}, "'abrupt_share'"),
        ({"decline_days": (30, 10)}, "'decline_days'"),
        ({"mean_lifetime_days": 0}, "'mean_lifetime_days'"),
        ({"interactions_per_month": float("nan")}, "'interactions_per_month'"),
    ],
)
def test_make_events_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {"n_customers": 10, "seed": 1, **kwargs}
    with pytest.raises(InvalidParameterError, match=match):
        make_events(**arguments)  # type: ignore[arg-type]


# --- make_rfm_summary -------------------------------------------------------------------


def test_rfm_summary_keeps_the_contract_and_the_seed() -> None:
    from crmscore import make_rfm_summary  # noqa: PLC0415

    one = make_rfm_summary(20_000, seed=3, min_age=10.0, max_age=50.0)
    again = make_rfm_summary(20_000, seed=np.random.default_rng(3), min_age=10.0, max_age=50.0)
    pd.testing.assert_frame_equal(one, again)
    assert not make_rfm_summary(20_000, seed=4, min_age=10.0, max_age=50.0).equals(one)
    assert one.index.name == "customer_id"
    assert ((one["T"] >= 10) & (one["T"] <= 50)).all()
    assert (one["recency"] <= one["T"]).all()
    repeat = one["frequency"] > 0
    assert (one.loc[~repeat, ["recency", "monetary_value"]] == 0).all().all()
    assert (one.loc[repeat, "monetary_value"] > 0).all()
    with pytest.raises(InvalidParameterError, match="max_age"):
        make_rfm_summary(10, seed=1, min_age=5.0, max_age=1.0)


def test_rfm_summary_follows_the_bgnbd_and_gamma_gamma_means() -> None:
    # Oracles: E[X(T)] of a new customer (eq. 9) averaged over the simulated ages, and
    # the population mean spend p v / (q - 1); within four standard errors.
    from crmscore import make_rfm_summary  # noqa: PLC0415

    params = BetaGeoParams(r=0.8, alpha=30.0, a=1.4, b=5.0)
    spend = GammaGammaParams(p=5.0, q=6.0, v=100.0)
    summary = make_rfm_summary(200_000, seed=8, purchase=params, spend=spend, max_age=500.0)
    expected = bgnbd_expected_repeats(params, summary["T"].to_numpy()).mean()
    observed = summary["frequency"].to_numpy()
    assert abs(observed.mean() - expected) < 4 * observed.std() / np.sqrt(observed.size)
    # The mean of x spends has mean p v / (q - 1) whatever x: weight customers equally.
    means = summary.loc[summary["frequency"] > 0, "monetary_value"].to_numpy()
    assert abs(means.mean() - spend.mean_spend) < 4 * means.std() / np.sqrt(means.size)


# --- the synthetic B2B book ------------------------------------------------------------------


def test_make_b2b_indicators_is_seeded_and_in_range() -> None:
    a = make_b2b_indicators(2_000, seed=8)
    pd.testing.assert_frame_equal(a, make_b2b_indicators(2_000, seed=8))
    assert not a.equals(make_b2b_indicators(2_000, seed=9))
    assert a.index.name == "customer_id"
    assert a.index.is_unique
    assert (a["annual_revenue"] > 0).all()
    assert a["strategic_fit"].between(1, 5).all()
    assert a["credit_rating"].between(1, 10).all()
    assert (a[["default_history", "legal_disputes"]] >= 0).all().all()
    assert a["payment_cycle"].between(7, 180).all()
    # Quality drives the indicators together: margin and credit rating correlate.
    assert a["profit_margin"].corr(a["credit_rating"]) > 0.3
    with pytest.raises(InvalidParameterError, match="make_b2b_indicators"):
        make_b2b_indicators(0, seed=1)
