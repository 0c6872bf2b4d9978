"""Churn signals at and around their thresholds, and P(alive) against a closed-form oracle."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter

from crmscore import (
    AccountAnomaly,
    BetaGeoModel,
    BetaGeoParams,
    CartAbandonment,
    ComplaintRise,
    EarlyWarning,
    InteractionStop,
    InvalidDataError,
    InvalidParameterError,
    NegativeReviews,
    PAliveBelow,
    PurchaseFrequencyDrop,
    ReviewDrop,
    SpendDrop,
    make_events,
    rfm_table,
)
from crmscore.churn import (
    ACTIVITY_KINDS,
    SignalResult,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
from tests.churn_logs import AS_OF, PARAMS, ClosedFormBGNBD, Row, fired_value, log, measure

# --- signals at and around their thresholds ------------------------------------------


@pytest.mark.parametrize(("days", "fires"), [(29, False), (30, True), (41, True)])
def test_interaction_stop_boundary(days: int, fires: bool) -> None:
    rows = [("a", 200, "purchase", 10.0), ("a", days, "interaction", None)]
    assert fired_value(InteractionStop(), rows) == (fires, days)


def test_interaction_stop_counts_a_login_from_a_new_device() -> None:
    # An account_change is a login from a new IP or device (the event contract): a
    # login, so it counts as activity by default; the last one was 3 days ago.
    rows = [("a", 45, "account_change", None), ("a", 3, "account_change", None)]
    assert "account_change" in ACTIVITY_KINDS
    assert fired_value(InteractionStop(), rows) == (False, 3.0)


def test_interaction_stop_counts_from_the_first_event_when_never_interacting() -> None:
    # With kinds that exclude account changes: measured from the first event.
    rows = [("a", 45, "account_change", None), ("a", 3, "account_change", None)]
    assert fired_value(InteractionStop(kinds=("interaction",)), rows) == (True, 45.0)


def test_interaction_stop_kinds_are_a_parameter() -> None:
    rows = [("a", 40, "interaction", None), ("a", 2, "purchase", 5.0)]
    assert fired_value(InteractionStop(), rows) == (False, 2.0)
    assert fired_value(InteractionStop(kinds=("interaction",)), rows) == (True, 40.0)


def frequency_rows(first_age: int, recent: list[int]) -> Sequence[Row]:
    # Baseline (ages 60..): 3 purchases, the first at first_age.
    baseline = [first_age, 120, 90]
    return [("a", age, "purchase", 10.0) for age in baseline + recent]


def test_purchase_frequency_drop_hand_computed() -> None:
    # Baseline covers ages 60..149 = 90 days = 3 months with 3 purchases: mean 1.0 a month.
    result = measure(PurchaseFrequencyDrop(), frequency_rows(149, []))
    row = result.iloc[0]
    assert row["purchase_frequency_drop"]
    assert row["purchase_frequency_drop_value"] == 0.0
    assert row["purchase_frequency_drop_reference"] == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize(
    ("recent", "fires"),
    [
        ([], True),  # 0 and 0 < 1.0
        ([45], False),  # month 2 has 1 = the mean: not strictly below
        ([10], False),  # month 1 has 1
        ([59], False),  # age 59 is still in month 2
        ([60], True),  # age 60 is baseline: 4 purchases in 90 days, mean 1.33; 0 and 0
    ],
)
def test_purchase_frequency_drop_boundaries(recent: list[int], fires: bool) -> None:
    assert fired_value(PurchaseFrequencyDrop(), frequency_rows(149, recent))[0] == fires


def test_purchase_frequency_drop_needs_history() -> None:
    # First purchase at age 148: 89 baseline days < 3 months of 30 days: not judged.
    fired, value = fired_value(PurchaseFrequencyDrop(), frequency_rows(148, []))
    assert not fired
    assert np.isnan(value)
    assert fired_value(PurchaseFrequencyDrop(min_history_months=2), frequency_rows(148, []))[0]


def test_purchase_frequency_drop_baseline_is_capped() -> None:
    # With 1 baseline month (ages 60..89) only the purchase at 90 falls outside it.
    rows = frequency_rows(149, [])
    signal = PurchaseFrequencyDrop(baseline_months=1, min_history_months=1)
    result = measure(signal, rows).iloc[0]
    assert result["purchase_frequency_drop_reference"] == 0.0
    assert not result["purchase_frequency_drop"]


@pytest.mark.parametrize(("age", "fires"), [(89, False), (90, True)])
def test_review_drop_boundary(age: int, fires: bool) -> None:
    rows = [("a", 300, "review", 5.0), ("a", age, "review", 4.0)]
    assert fired_value(ReviewDrop(), rows) == (fires, age)


def test_review_drop_only_for_customers_who_used_to_review() -> None:
    fired, value = fired_value(ReviewDrop(), [("a", 300, "review", 5.0)])
    assert (fired, np.isnan(value)) == (False, True)
    assert fired_value(ReviewDrop(min_reviews=1), [("a", 300, "review", 5.0)]) == (True, 300.0)


@pytest.mark.parametrize(("age", "fires"), [(29, True), (30, False)])
def test_account_anomaly_window(age: int, fires: bool) -> None:
    rows = [("a", 100, "purchase", 1.0), ("a", age, "account_change", None)]
    assert fired_value(AccountAnomaly(), rows) == (fires, float(fires))
    assert not fired_value(AccountAnomaly(min_changes=2), rows)[0]


def complaint_rows(ages: list[int], first_age: int = 100) -> Sequence[Row]:
    return [("a", first_age, "purchase", 1.0)] + [("a", age, "complaint", None) for age in ages]


@pytest.mark.parametrize(
    ("ages", "fires"),
    [
        ([3, 10], True),  # one complaint in each of the two weeks, none before: mean 0
        ([6, 7], True),  # ages 6 and 7 are the ends of weeks 1 and 2
        ([3, 5], False),  # both in week 1
        ([3, 13], True),  # age 13 is the last day of week 2
        ([3, 14], False),  # age 14 is already baseline
    ],
)
def test_complaint_rise_weeks(ages: list[int], fires: bool) -> None:
    assert fired_value(ComplaintRise(), complaint_rows(ages))[0] == fires


def test_complaint_rise_against_the_customer_mean() -> None:
    # Baseline: ages 14..100 (87 days) with 13 complaints: 13 * 7 / 87 = 1.046 a week.
    baseline = [*range(20, 99, 7), 15]
    assert len(baseline) == 13
    row = measure(ComplaintRise(), complaint_rows([3, 10, *baseline])).iloc[0]
    assert row["complaint_rise_reference"] == pytest.approx(13 * 7 / 87, rel=1e-12)
    assert not row["complaint_rise"]
    row = measure(ComplaintRise(), complaint_rows([2, 3, 9, 10, *baseline])).iloc[0]
    assert row["complaint_rise"]
    assert row["complaint_rise_value"] == 2.0


@pytest.mark.parametrize(("rate", "fires"), [(0.99, True), (1.0, False)])
def test_complaint_rise_against_a_fixed_rate(rate: float, fires: bool) -> None:
    rows = complaint_rows([3, 10, 20, 30, 40])
    assert fired_value(ComplaintRise(reference_rate=rate), rows)[0] == fires


def test_complaint_rise_against_the_population_mean() -> None:
    # Weeks 1-2 are ages 0-13, the baseline ages 14-195. By hand:
    # a: first event at age 100, baseline days 14..100 = 87, complaints at 20, 30: 2.
    # b: first event at age 50, baseline days 14..50 = 37, complaints at 40: 1.
    # c: first event at age 10, no baseline days, complaints at 3 and 10.
    # d: first event at age 500, baseline days 14..195 = 182, no complaint.
    # Population rate: (2 + 1) * 7 / (87 + 37 + 182) = 21 / 306 = 0.0686 a week.
    rows: list[Row] = [
        ("a", 100, "purchase", 1.0),
        ("a", 30, "complaint", None),
        ("a", 20, "complaint", None),
        ("a", 9, "complaint", None),
        ("a", 2, "complaint", None),
        ("b", 50, "purchase", 1.0),
        ("b", 40, "complaint", None),
        ("b", 2, "complaint", None),
        ("c", 10, "complaint", None),
        ("c", 3, "complaint", None),
        ("d", 500, "purchase", 1.0),
    ]
    rate = 3 * 7 / (87 + 37 + 182)
    result = measure(ComplaintRise(baseline="population"), rows)
    np.testing.assert_allclose(result["complaint_rise_reference"], rate, rtol=1e-12)
    assert result["complaint_rise"].to_dict() == {"a": True, "b": False, "c": True, "d": False}
    # Against a's own mean, 2 * 7 / 87 = 0.161 a week, a fires too; against the
    # same rate given as a constant the result is identical.
    fixed = measure(ComplaintRise(reference_rate=rate), rows)
    pd.testing.assert_frame_equal(fixed, result)
    own = measure(ComplaintRise(), rows)
    assert own.loc["a", "complaint_rise_reference"] == pytest.approx(14 / 87, rel=1e-12)
    with pytest.raises(InvalidParameterError, match="'reference_rate' parameter of ComplaintRise"):
        ComplaintRise(baseline="population", reference_rate=0.1)
    with pytest.raises(InvalidParameterError, match="'baseline' parameter of ComplaintRise"):
        ComplaintRise(baseline="everyone")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ratings", "ages", "fires"),
    [
        ([2, 1, 2], [1, 40, 89], True),
        ([2, 1, 2], [1, 40, 90], False),  # the third is outside 90 days
        ([2, 1, 3], [1, 2, 3], False),  # a 3 is not negative
    ],
)
def test_negative_reviews(ratings: list[float], ages: list[int], fires: bool) -> None:
    rows = [("a", age, "review", float(r)) for r, age in zip(ratings, ages, strict=True)]
    assert fired_value(NegativeReviews(), rows)[0] == fires
    assert fired_value(NegativeReviews(window_days=None), rows)[0] == (ratings != [2, 1, 3])
    assert fired_value(NegativeReviews(max_rating=3), rows)[0] == (max(ages) < 90)


def test_negative_reviews_policy_rule_without_a_window() -> None:
    # The policy's literal rule, "3 or more negative feedbacks", has no window:
    # window_days=None counts every negative review, however old.
    rows = [("a", age, "review", 1.0) for age in (700, 400, 95)]
    assert fired_value(NegativeReviews(), rows) == (False, 0.0)
    assert fired_value(NegativeReviews(window_days=None), rows) == (True, 3.0)
    signal = NegativeReviews(window_days=None)
    assert NegativeReviews.from_dict(json.loads(json.dumps(signal.to_dict()))) == signal


@pytest.mark.parametrize(("recent", "fires", "drop"), [(210.0, True, 0.30), (211.0, False, 0.2967)])
def test_spend_drop_boundary(recent: float, fires: bool, drop: float) -> None:
    # Baseline: ages 90..179 = 3 months, spend 300: 100 a month. Recent 90 days: 210
    # is 70 a month, exactly 30 % below.
    rows = [
        ("a", 179, "purchase", 100.0),
        ("a", 150, "purchase", 100.0),
        ("a", 90, "purchase", 100.0),
        ("a", 89, "purchase", recent),
    ]
    result = measure(SpendDrop(), rows).iloc[0]
    assert bool(result["spend_drop"]) == fires
    assert result["spend_drop_value"] == pytest.approx(drop, abs=1e-4)
    assert result["spend_drop_reference"] == pytest.approx(100.0, rel=1e-12)


def test_spend_drop_needs_history_and_baseline_spend() -> None:
    young = [("a", 178, "purchase", 100.0), ("a", 10, "purchase", 1.0)]
    assert np.isnan(fired_value(SpendDrop(), young)[1])
    free = [("a", 300, "purchase", 0.0), ("a", 10, "purchase", 0.0)]
    fired, value = fired_value(SpendDrop(), free)
    assert not fired
    assert np.isnan(value)


@pytest.mark.parametrize(
    ("carts", "value"),
    [
        (["cart_paid", "cart_abandoned", "cart_abandoned"], 2),
        (["cart_abandoned", "cart_abandoned", "cart_paid"], 0),
        (["cart_abandoned", "cart_paid", "cart_abandoned"], 1),
        (["cart_abandoned", "cart_abandoned", "cart_abandoned"], 3),
    ],
)
def test_cart_abandonment_counts_the_final_run(carts: list[str], value: int) -> None:
    rows: Sequence[Row] = [("a", 30 - i, kind, None) for i, kind in enumerate(carts)]
    assert fired_value(CartAbandonment(), rows) == (value >= 2, value)


def test_cart_abandonment_ties_and_window() -> None:
    same_instant = [("a", 5, "cart_abandoned", None), ("a", 5, "cart_paid", None)]
    same_instant.append(("a", 3, "cart_abandoned", None))
    assert fired_value(CartAbandonment(), same_instant) == (False, 1.0)
    old = [("a", 40, "cart_abandoned", None), ("a", 3, "cart_abandoned", None)]
    assert fired_value(CartAbandonment(), old)[0]
    assert fired_value(CartAbandonment(window_days=30), old) == (False, 1.0)


@pytest.mark.parametrize(("age", "counted"), [(29, True), (30, False)])
def test_cart_abandonment_window_boundary(age: int, counted: bool) -> None:
    # window_days=30 covers ages 0 to 29: a cart 29 days old counts, 30 does not.
    rows: list[Row] = [("a", age, "cart_abandoned", None), ("a", 3, "cart_abandoned", None)]
    assert fired_value(CartAbandonment(window_days=30), rows) == (counted, 2.0 if counted else 1.0)


def test_signal_kinds_must_be_known_at_evaluation() -> None:
    signal = InteractionStop(kinds=("login",))
    with pytest.raises(
        InvalidParameterError, match=r"InteractionStop reads event kinds \['login'\]"
    ):
        measure(signal, [("a", 1, "interaction", None)])
    rows = log([("a", 40, "login", None)])
    result = EarlyWarning(signals=(signal,), rules=()).predict(
        rows, as_of=AS_OF, extra_kinds=("login",)
    )
    assert result["interaction_stop_value"].tolist() == [40.0]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: InteractionStop(days=0), "'days' parameter of InteractionStop"),
        (lambda: PurchaseFrequencyDrop(months=1.5), "'months'"),  # type: ignore[arg-type]
        (lambda: SpendDrop(drop=1.0), "'drop' parameter of SpendDrop"),
        (lambda: NegativeReviews(max_rating="bad"), "'max_rating'"),
        (lambda: ComplaintRise(reference_rate=-1), "'reference_rate'"),
        (lambda: CartAbandonment(window_days=0), "'window_days'"),
        (lambda: InteractionStop(kinds=()), "'kinds'"),
        (lambda: InteractionStop(name="not valid"), "'name'"),
        (lambda: PAliveBelow(model=object()), "'model' parameter of PAliveBelow"),  # type: ignore[arg-type]
    ],
)
def test_bad_signal_parameters(make: Any, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        make()


# --- P(alive): the closed-form oracle checked against lifetimes ----------------------


def test_closed_form_oracle_matches_lifetimes() -> None:
    table = pd.DataFrame(
        {
            "frequency": [0, 1, 2, 5, 30, 2],
            "recency": [0.0, 3.0, 10.0, 30.0, 38.0, 0.5],
            "T": [5.0, 20.0, 38.0, 38.0, 39.0, 38.0],
        }
    )
    fitter = BetaGeoFitter()
    fitter.params_ = pd.Series(PARAMS)
    expected = fitter.conditional_probability_alive(
        table["frequency"], table["recency"], table["T"]
    )
    ours = ClosedFormBGNBD(**PARAMS).probability_alive(table)
    np.testing.assert_allclose(ours.to_numpy(), np.asarray(expected, dtype=float), rtol=1e-10)


def test_p_alive_signal_uses_the_rfm_table_of_purchases() -> None:
    book = make_events(600, seed=4)
    as_of = pd.Timestamp("2025-03-31")
    model = ClosedFormBGNBD(**PARAMS)
    signal = PAliveBelow(model=model, threshold=0.4, time_unit="W")
    result = EarlyWarning(signals=(signal,), rules=()).predict(book.events, as_of=as_of)
    events = book.events
    purchases = events[(events["kind"] == "purchase") & (events["timestamp"] < "2025-04-01")]
    table = rfm_table(purchases.rename(columns={"value": "amount"}), as_of=as_of, time_unit="W")
    expected = model.probability_alive(table)
    got = result["p_alive_low_value"]
    pd.testing.assert_series_equal(got.loc[table.index], expected, check_names=False, rtol=1e-12)
    assert got.drop(table.index).isna().all()  # customers without a purchase
    np.testing.assert_array_equal(result["p_alive_low"], got.to_numpy() < 0.4)
    assert 0 < result["p_alive_low"].mean() < 1


def test_p_alive_signal_at_its_threshold() -> None:
    # Purchases 100, 60 and 10 days before AS_OF, in days: frequency 2, recency 90,
    # T 100. BG/NBD eq. 13 by hand:
    # 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)).
    params = BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    model = BetaGeoModel.from_params(params, time_unit="D")
    x, t_x, big_t = 2, 90.0, 100.0
    odds = 0.793 / (2.426 + x - 1) * ((4.414 + big_t) / (4.414 + t_x)) ** (0.243 + x)
    p = 1 / (1 + odds)
    rows: list[Row] = [("a", age, "purchase", 10.0) for age in (100, 60, 10)]
    measured = fired_value(PAliveBelow(model=model, threshold=0.5), rows)[1]
    assert measured == pytest.approx(p, rel=1e-12)
    # Exactly at the threshold: not below it, does not fire; one step above: fires.
    assert fired_value(PAliveBelow(model=model, threshold=measured), rows) == (False, measured)
    above = float(np.nextafter(measured, 1.0))
    assert fired_value(PAliveBelow(model=model, threshold=above), rows) == (True, measured)


def test_p_alive_signal_rejects_bad_model_output() -> None:
    class Shuffled:
        def probability_alive(self, table: pd.DataFrame) -> pd.Series[float]:
            return pd.Series(0.5, index=table.index[::-1])

    class TooLarge:
        def probability_alive(self, table: pd.DataFrame) -> pd.Series[float]:
            return pd.Series(1.5, index=table.index)

    rows = [("a", 10, "purchase", 1.0), ("b", 20, "purchase", 2.0)]
    with pytest.raises(InvalidDataError, match="indexed like the RFM table"):
        measure(PAliveBelow(model=Shuffled()), rows)
    with pytest.raises(InvalidDataError, match=r"outside \[0, 1\].*first \['a', 'b'\]"):
        measure(PAliveBelow(model=TooLarge()), rows)


def test_signal_result_is_a_read_only_value() -> None:
    result = SignalResult(fired=[True, False], value=[31.0, np.nan], reference=[1.0, 2.0])
    assert result.fired.dtype == np.bool_
    assert result.value.dtype == np.float64
    assert result == SignalResult(fired=[True, False], value=[31.0, np.nan], reference=[1.0, 2.0])
    assert result != SignalResult(fired=[True, False], value=[31.0, np.nan])
    assert result != SignalResult(fired=[True, True], value=[31.0, np.nan], reference=[1.0, 2.0])
    with pytest.raises(ValueError, match="read-only"):
        result.value[0] = 1.0
    source = np.array([1.0, 2.0])
    SignalResult(fired=[False, False], value=source)
    assert source.flags.writeable  # the caller's array is not frozen
    with pytest.raises(InvalidParameterError, match="value has shape"):
        SignalResult(fired=[True], value=[1.0, 2.0])
