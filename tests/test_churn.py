"""Churn early warning: signals at their thresholds, rules, levels, actions, evaluation."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from lifetimes import BetaGeoFitter

from crmscore import (
    DEFAULT_ACTIONS,
    DEFAULT_RULES,
    DEFAULT_SIGNALS,
    AccountAnomaly,
    ActionMap,
    AllOf,
    AnyOf,
    AtLeast,
    BetaGeoModel,
    BetaGeoParams,
    CartAbandonment,
    ComplaintRise,
    EarlyWarning,
    Fired,
    Group,
    InteractionStop,
    InvalidDataError,
    InvalidParameterError,
    NegativeReviews,
    Not,
    PAliveBelow,
    PurchaseFrequencyDrop,
    ReviewDrop,
    Rule,
    SpendDrop,
    b2b_scorecard,
    backtest,
    evaluate_warnings,
    make_b2b_indicators,
    make_events,
    observed_churn_dates,
    rfm_table,
)
from crmscore.churn import (
    ACTIVITY_KINDS,
    ChurnSignal,
    Condition,
    SignalResult,
    condition_from_dict,
    signal_from_dict,
)
from crmscore.tiering import POLICY_TIERS
from tests.strategies import event_logs

if TYPE_CHECKING:
    from collections.abc import Sequence

AS_OF = pd.Timestamp("2024-06-30")
NAMES = [s.name for s in DEFAULT_SIGNALS]
Row = tuple[Any, float, str, float | None]


def log(rows: Sequence[Row]) -> pd.DataFrame:
    """Events from (customer, days before AS_OF, kind, value); fractions are times of day."""
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": [AS_OF - pd.Timedelta(days=r[1]) for r in rows],
            "kind": [r[2] for r in rows],
            "value": [np.nan if r[3] is None else r[3] for r in rows],
        }
    )


def measure(signal: ChurnSignal, rows: Sequence[Row]) -> pd.DataFrame:
    return EarlyWarning(signals=(signal,), rules=()).evaluate(log(rows), as_of=AS_OF)


def fired_value(signal: ChurnSignal, rows: Sequence[Row]) -> tuple[bool, float]:
    row = measure(signal, rows).iloc[0]
    return bool(row[signal.name]), float(row[f"{signal.name}_value"])


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
    result = EarlyWarning(signals=(signal,), rules=()).evaluate(
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


# --- P(alive): a closed-form oracle checked against lifetimes ------------------------


class ClosedFormBGNBD:
    """P(alive) of the BG/NBD model, Fader, Hardie and Lee (2005), eq. 13."""

    def __init__(self, r: float, alpha: float, a: float, b: float) -> None:
        self.r, self.alpha, self.a, self.b = r, alpha, a, b

    def probability_alive(self, table: pd.DataFrame) -> pd.Series[float]:
        x = table["frequency"].to_numpy(float)
        t_x = table["recency"].to_numpy(float)
        big_t = table["T"].to_numpy(float)
        with np.errstate(divide="ignore"):
            odds = (
                self.a
                / (self.b + x - 1)
                * ((self.alpha + big_t) / (self.alpha + t_x)) ** (self.r + x)
            )
        p = 1 / (1 + np.where(x > 0, odds, 0.0))
        return pd.Series(p, index=table.index, name="p_alive")


PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


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
    result = EarlyWarning(signals=(signal,), rules=()).evaluate(book.events, as_of=as_of)
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


# --- rules and levels -----------------------------------------------------------------


def fired_frame(rows: list[list[bool]], names: list[str] = NAMES) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=names, index=pd.Index(range(len(rows)), name="customer_id"))


def test_conditions_evaluate_as_documented() -> None:
    warning = EarlyWarning(
        rules=(
            Rule(
                name="two_behaviour", level="blue", when=AtLeast(n=2, of=(Group(name="behaviour"),))
            ),
            Rule(
                name="value_and_emotion",
                level="yellow",
                when=Group(name="value") & Group(name="emotion"),
            ),
            Rule(
                name="silent_not_shopping",
                level="red",
                when=Fired(name="interaction_stop")
                & ~Fired(name="cart_abandonment")
                & AnyOf(of=(Fired(name="review_drop"), Fired(name="spend_drop"))),
            ),
        )
    )
    on = {name: i for i, name in enumerate(NAMES)}

    def row(*names: str) -> list[bool]:
        flags = [False] * len(NAMES)
        for name in names:
            flags[on[name]] = True
        return flags

    fired = fired_frame(
        [
            row(),
            row("interaction_stop"),
            row("interaction_stop", "account_anomaly"),
            row("spend_drop", "negative_reviews"),
            row("interaction_stop", "review_drop"),
            row("interaction_stop", "review_drop", "cart_abandonment"),
        ]
    )
    levels = warning.assign_levels(fired)
    assert levels["level"].tolist() == ["none", "none", "blue", "yellow", "red", "blue"]
    assert levels["rule"].isna().tolist() == [True, True, False, False, False, False]
    assert levels["rule"].astype(object).tolist()[2:] == [
        "two_behaviour",
        "value_and_emotion",
        "silent_not_shopping",
        "two_behaviour",
    ]
    assert levels["n_signals"].tolist() == [0, 1, 2, 2, 2, 3]
    assert levels["signals"].astype(str).tolist()[2] == "interaction_stop, account_anomaly"


def test_the_first_rule_of_the_highest_level_is_reported() -> None:
    fired = fired_frame([[True] * len(NAMES)])
    warning = EarlyWarning(
        rules=(
            Rule(name="low", level="blue", when=Fired(name="spend_drop")),
            Rule(name="first_red", level="red", when=Fired(name="review_drop")),
            Rule(name="second_red", level="red", when=Fired(name="spend_drop")),
        )
    )
    result = warning.assign_levels(fired)
    assert (result["level"].tolist(), result["rule"].tolist()) == (["red"], ["first_red"])


def test_default_rules_hand_checked() -> None:
    on = {name: i for i, name in enumerate(NAMES)}

    def row(*names: str) -> list[bool]:
        return [name in names for name in on]

    fired = fired_frame(
        [
            row("purchase_frequency_drop"),
            row("purchase_frequency_drop", "spend_drop"),  # one piece of evidence
            row("purchase_frequency_drop", "account_anomaly"),
            row("interaction_stop", "cart_abandonment"),
            row("negative_reviews"),
            row("review_drop", "account_anomaly", "spend_drop"),
            row("complaint_rise", "spend_drop", "account_anomaly"),
        ]
    )
    result = EarlyWarning().assign_levels(fired)
    assert result["level"].tolist() == ["none", "none", "blue", "yellow", "yellow", "yellow", "red"]
    assert result["rule"].astype(object).tolist()[2:] == [
        "two_signals",
        "disengaged_and_declining",
        "dissatisfied",
        "three_signals",
        "distress_confirmed",
    ]


@given(data=st.data())
def test_default_levels_are_monotone_in_the_fired_signals(data: st.DataObject) -> None:
    rows = data.draw(
        st.lists(
            st.lists(st.booleans(), min_size=len(NAMES), max_size=len(NAMES)),
            min_size=1,
            max_size=20,
        )
    )
    fired = fired_frame(rows)
    extra = data.draw(st.lists(st.sampled_from(NAMES), max_size=3))
    more = fired.copy()
    for name in extra:
        more[name] = True
    warning = EarlyWarning()
    assert all(rule.when.is_monotone for rule in warning.rules)
    before = warning.assign_levels(fired)["level"].cat.codes.to_numpy()
    after = warning.assign_levels(more)["level"].cat.codes.to_numpy()
    assert (after >= before).all()


def test_negation_is_reported_as_non_monotone() -> None:
    assert not (Fired(name="a") & ~Fired(name="b")).is_monotone
    assert AtLeast(n=1, of=(Group(name="value"), Fired(name="a"))).is_monotone


def test_conditions_and_rules_round_trip_through_json() -> None:
    condition = AllOf(
        of=(
            AtLeast(n=2, of=(Group(name="behaviour"), Fired(name="spend_drop"))),
            Not(of=AnyOf(of=(Fired(name="a"), Group(name="model")))),
        )
    )
    assert condition_from_dict(json.loads(json.dumps(condition.to_dict()))) == condition
    for rule in DEFAULT_RULES:
        assert Rule.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule


def test_warning_round_trips_through_json() -> None:
    warning = EarlyWarning(
        signals=(
            *DEFAULT_SIGNALS[:3],
            InteractionStop(name="silent_60", days=60, kinds=("interaction",)),
        ),
        rules=(Rule(name="r", level="red", when=Fired(name="silent_60")),),
    )
    assert EarlyWarning.from_dict(json.loads(json.dumps(warning.to_dict()))) == warning
    assert (
        EarlyWarning.from_dict(json.loads(json.dumps(EarlyWarning().to_dict()))) == EarlyWarning()
    )
    model = ClosedFormBGNBD(**PARAMS)
    with_model = EarlyWarning(signals=(PAliveBelow(model=model, threshold=0.3),), rules=())
    data = json.loads(json.dumps(with_model.to_dict()))
    assert EarlyWarning.from_dict(data, model=model) == with_model
    with pytest.raises(InvalidParameterError, match="pass model="):
        EarlyWarning.from_dict(data)
    for signal in DEFAULT_SIGNALS:
        assert signal_from_dict(json.loads(json.dumps(signal.to_dict()))) == signal


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: EarlyWarning(rules=(Rule(name="r", level="red", when=Fired(name="nope")),)),
            r"refers to signals \['nope'\]",
        ),
        (lambda: EarlyWarning(signals=(InteractionStop(), InteractionStop())), "repeat the names"),
        (lambda: Rule(name="r", level="orange", when=Fired(name="a")), "'level'"),  # type: ignore[arg-type]
        (lambda: Group(name="mood"), "'name' parameter of Group"),
        (lambda: AtLeast(n=0, of=(Fired(name="a"),)), "'n' parameter of AtLeast"),
        (lambda: AllOf(of=()), "'of' parameter of AllOf"),
        (lambda: condition_from_dict({"op": "eval", "code": "1"}), "'op' parameter"),
        (lambda: signal_from_dict({"type": "magic"}), "'type' parameter"),
    ],
)
def test_bad_rules(make: Any, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        make()


def test_assign_levels_needs_boolean_columns() -> None:
    fired = fired_frame([[False] * len(NAMES)]).astype(int)
    with pytest.raises(InvalidDataError, match="must be boolean"):
        EarlyWarning().assign_levels(fired)


# --- the warning on event logs: output, explanation, properties -----------------------


SAMPLE = [
    ("quiet", 200, "purchase", 300.0),
    ("quiet", 150, "purchase", 300.0),
    ("quiet", 120, "purchase", 300.0),
    ("quiet", 100, "purchase", 300.0),
    ("quiet", 41, "interaction", None),
    ("quiet", 20, "complaint", None),
    ("quiet", 8, "complaint", None),
    ("quiet", 3, "complaint", None),
    ("quiet", 5, "account_change", None),
    ("happy", 10, "purchase", 50.0),
    ("happy", 2, "interaction", None),
]


def test_output_and_explanation() -> None:
    warning = EarlyWarning()
    result = warning.evaluate(log(SAMPLE), as_of=AS_OF)
    assert list(result.index) == ["happy", "quiet"]
    assert result.attrs["as_of"] == AS_OF
    assert list(result.columns[:4]) == ["level", "rule", "signals", "n_signals"]
    quiet = result.loc["quiet"]
    assert quiet["level"] == "red"
    assert quiet["rule"] == "distress_confirmed"
    # quiet's complaints are all recent (20, 8, 3 days ago) but interactions count
    # complaints, so the last activity was 3 days ago.
    assert not quiet["interaction_stop"]
    assert quiet["signals"] == (
        "purchase_frequency_drop, account_anomaly, complaint_rise, spend_drop"
    )
    text = warning.explain(result, customers=["quiet", "happy"])
    # By hand: purchases' baseline covers ages 60..200 (141 days) with 4 purchases,
    # 4 * 30 / 141 = 0.85 a month; complaints' baseline ages 14..195 (182 days) holds
    # the one at age 20, 7 / 182 = 0.04 a week; spend's baseline ages 90..200 (111
    # days) holds 1200, 1200 * 30 / 111 = 324.32 a month, and nothing since.
    assert text.loc["quiet"] == (
        "red (rule 'distress_confirmed'): at most 0 purchase(s) in each of the last 2 months "
        "of 30 days, vs a mean of 0.85 a month; 1 login IP or device change(s) in the last "
        "30 days; at least 1 complaint(s) in each of the last "
        "2 weeks, vs a mean of 0.04 a week; spend 100 % below the historical mean of "
        "324.32 a month"
    )
    assert text.loc["happy"] == "none: no signal fired"
    assert list(warning.explain(result).index) == ["quiet"]
    with pytest.raises(InvalidDataError, match=r"not in warnings .*\['ghost'\]"):
        warning.explain(result, customers=["ghost"])


def test_level_column_is_ordered() -> None:
    result = EarlyWarning().evaluate(log(SAMPLE), as_of=AS_OF)
    assert result["level"].cat.ordered
    assert list(result["level"].cat.categories) == ["none", "blue", "yellow", "red"]
    assert (result["level"] > "none").tolist() == [False, True]


def has_past_events(logs: pd.DataFrame) -> bool:
    """Whether the log has an event on or before AS_OF's day (else nobody to evaluate)."""
    return bool((logs["timestamp"].dt.normalize() <= AS_OF).any())


#: A log whose only event is after AS_OF: evaluate rejects it (nobody to evaluate).
ONLY_FUTURE = log([("c0", -3, "interaction", None)])
#: A log with one event on AS_OF's day.
ONE_TODAY = log([("c0", 0, "interaction", None)])


def test_a_log_with_only_future_events_is_rejected() -> None:
    with pytest.raises(InvalidDataError, match="no event on or before as_of"):
        EarlyWarning().evaluate(ONLY_FUTURE, as_of=AS_OF)


@given(logs=event_logs(), data=st.data())
@example(logs=ONLY_FUTURE, data=None).via("a log with only events after as_of")
def test_row_order_and_no_mutation(logs: pd.DataFrame, data: st.DataObject) -> None:
    assume(has_past_events(logs))
    before = logs.copy(deep=True)
    result = EarlyWarning().evaluate(logs, as_of=AS_OF)
    pd.testing.assert_frame_equal(logs, before)
    order = data.draw(st.permutations(range(len(logs))))
    shuffled = logs.iloc[list(order)].reset_index(drop=True)
    pd.testing.assert_frame_equal(EarlyWarning().evaluate(shuffled, as_of=AS_OF), result)


@given(logs=event_logs(), other=event_logs())
@example(logs=ONE_TODAY, other=ONLY_FUTURE).via("the stranger's events all after as_of")
@example(logs=ONLY_FUTURE, other=ONE_TODAY).via("the log's events all after as_of")
def test_an_unrelated_customer_changes_no_one_else(logs: pd.DataFrame, other: pd.DataFrame) -> None:
    assume(has_past_events(logs))
    # The stranger has at least one event on or before as_of, else it is not evaluated.
    assume(has_past_events(other))
    stranger = other.assign(customer_id="stranger")
    alone = EarlyWarning().evaluate(logs, as_of=AS_OF)
    together = EarlyWarning().evaluate(pd.concat([logs, stranger]), as_of=AS_OF)
    pd.testing.assert_frame_equal(together.drop(index="stranger"), alone, check_categorical=False)


@given(logs=event_logs())
@example(logs=ONLY_FUTURE).via("a log with only events after as_of")
def test_values_are_consistent_with_firing(logs: pd.DataFrame) -> None:
    assume(has_past_events(logs))
    result = EarlyWarning().evaluate(logs, as_of=AS_OF)
    for signal in DEFAULT_SIGNALS:
        value = result[f"{signal.name}_value"]
        fired = result[signal.name]
        assert not fired[value.isna()].any()  # customers not judged never fire
    assert (result["interaction_stop_value"] >= 0).all()
    assert (result["interaction_stop"] == (result["interaction_stop_value"] >= 30)).all()
    assert (result["n_signals"] == result[NAMES].sum(axis=1)).all()
    assert ((result["level"] == "none") == result["rule"].isna()).all()


# --- actions ---------------------------------------------------------------------------


def test_action_map() -> None:
    warnings = pd.DataFrame(
        {"level": ["red", "blue", "none", "yellow"]}, index=pd.Index(["a", "b", "c", "d"])
    )
    tiers = pd.Series({"a": "diamond", "b": "ordinary", "c": "gold"})
    actions = DEFAULT_ACTIONS.recommend(warnings, tiers=tiers)
    assert actions.tolist() == [
        "account_manager_visit_with_retention_budget",
        "newsletter",
        None,
        "manual_review",  # no tier known
    ]
    assert ActionMap.from_dict(json.loads(json.dumps(DEFAULT_ACTIONS.to_dict()))) == DEFAULT_ACTIONS
    assert {(t, lv) for t, lv, _ in DEFAULT_ACTIONS.entries} == {
        (t, lv)
        for t in ("diamond", "gold", "silver", "ordinary")
        for lv in ("blue", "yellow", "red")
    }
    with pytest.raises(InvalidParameterError, match="'entries'"):
        ActionMap(entries={("gold", "purple"): "x"})
    with pytest.raises(InvalidParameterError, match="repeat"):
        ActionMap(entries=[("gold", "red", "x"), ("gold", "red", "y")])
    with pytest.raises(InvalidParameterError, match="repeat"):
        ActionMap(entries=[("gold", "red", "x"), ("Gold", "red", "y")])


def test_action_map_reads_the_tiers_of_a_real_scorecard() -> None:
    # The tier column of a b2b_scorecard result holds labels ("Gold", "黄金级"),
    # not the keys DEFAULT_ACTIONS is written with: both languages must match.
    indicators = make_b2b_indicators(400, seed=7)
    fitted = b2b_scorecard().fit(indicators)
    ids = indicators.index
    cycle = ["red", "yellow", "blue", "none"]
    warnings = pd.DataFrame({"level": [cycle[i % 4] for i in range(len(ids))]}, index=ids)
    for language in ("en", "zh"):
        tiers = fitted.score(indicators, language=language)["tier"]
        assert set(tiers.astype(str)) >= set(POLICY_TIERS.labels(language)[:3])
        actions = DEFAULT_ACTIONS.recommend(warnings, tiers=tiers)
        keys = tiers.astype(str).map(lambda t: POLICY_TIERS.keys[POLICY_TIERS.index(t)])
        table = {(t, lv): lb for t, lv, lb in DEFAULT_ACTIONS.entries}
        expected = [
            None if lv == "none" else table[(k, lv)]
            for k, lv in zip(keys, warnings["level"], strict=True)
        ]
        assert actions.tolist() == expected
        assert "manual_review" not in set(actions)
    # Case-insensitive on keys without a scheme; unknown tiers get the fallback.
    plain = ActionMap(entries={("gold", "red"): "call"}, fallback="review")
    upper = pd.Series({"a": "GOLD", "b": "Platinum"})
    two = pd.DataFrame({"level": ["red", "red"]}, index=["a", "b"])
    assert plain.recommend(two, tiers=upper).tolist() == ["call", "review"]
    assert plain.label("黄金级", "red") == "review"  # no scheme: Chinese labels unknown
    with_scheme = ActionMap(entries={("gold", "red"): "call"}, scheme=POLICY_TIERS)
    assert with_scheme.label("黄金级", "red") == "call"
    assert ActionMap.from_dict(json.loads(json.dumps(with_scheme.to_dict()))) == with_scheme


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ActionMap(entries={"gold": "x"}), "'entries' parameter of ActionMap"),
        (lambda: ActionMap(entries=5), "'entries' parameter of ActionMap"),
        (lambda: ActionMap(entries=[("gold", "red")]), "'entries' parameter of ActionMap"),
        (lambda: ActionMap(entries={}, scheme="policy"), "'scheme' parameter of ActionMap"),  # type: ignore[arg-type]
        (lambda: ActionMap.from_dict({"fallback": "x"}), r"\['entries'\] are required"),
        (lambda: InteractionStop(kinds=5), "'kinds' parameter of InteractionStop"),  # type: ignore[arg-type]
        (lambda: EarlyWarning(signals=None), "'signals' parameter of EarlyWarning"),  # type: ignore[arg-type]
        (lambda: EarlyWarning(rules=5), "'rules' parameter of EarlyWarning"),  # type: ignore[arg-type]
        (lambda: EarlyWarning(rules="abc"), "'rules' parameter of EarlyWarning"),  # type: ignore[arg-type]
        (lambda: EarlyWarning.from_dict({"signals": []}), r"\['rules'\] are required"),
        (lambda: condition_from_dict({"op": "fired"}), "'name' parameter of condition_from_dict"),
        (lambda: condition_from_dict({"op": "at_least", "of": []}), "'n' parameter"),
        (lambda: condition_from_dict({"op": "any_of", "of": 3}), "'of' parameter"),
        (lambda: condition_from_dict([1]), "'data' parameter of condition_from_dict"),  # type: ignore[arg-type]
        (lambda: Rule.from_dict({"name": "r"}), r"\['level', 'when'\] are required"),
        (
            lambda: signal_from_dict({"type": "interaction_stop", "dayz": 3}),
            r"no parameters \['dayz'\]",
        ),
        (
            lambda: DEFAULT_ACTIONS.recommend(
                pd.DataFrame({"level": ["red"]}, index=["a"]),
                tiers={"a": "gold"},  # type: ignore[arg-type]
            ),
            "'tiers' parameter of ActionMap.recommend",
        ),
        (
            lambda: DEFAULT_ACTIONS.recommend(
                [1],  # type: ignore[arg-type]
                tiers=pd.Series(dtype=object),
            ),
            "'warnings' parameter of ActionMap.recommend",
        ),
    ],
)
def test_bad_settings_raise_typed_errors(make: Any, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        make()


def test_signal_and_condition_from_dict_classmethods() -> None:
    for signal in DEFAULT_SIGNALS:
        data = json.loads(json.dumps(signal.to_dict()))
        assert type(signal).from_dict(data) == signal
        assert ChurnSignal.from_dict(data) == signal
    model = ClosedFormBGNBD(**PARAMS)
    p_alive = PAliveBelow(model=model, threshold=0.3)
    assert PAliveBelow.from_dict(p_alive.to_dict(), model=model) == p_alive
    with pytest.raises(InvalidParameterError, match=r"'type' parameter of SpendDrop\.from_dict"):
        SpendDrop.from_dict(InteractionStop().to_dict())
    condition = AtLeast(n=2, of=(Group(name="behaviour"), ~Fired(name="spend_drop")))
    data = json.loads(json.dumps(condition.to_dict()))
    assert AtLeast.from_dict(data) == condition
    assert Condition.from_dict(data) == condition
    assert Not.from_dict({"op": "not", "of": {"op": "group", "name": "value"}}) == ~Group(
        name="value"
    )
    with pytest.raises(InvalidParameterError, match=r"'op' parameter of Fired\.from_dict"):
        Fired.from_dict(data)


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


def test_summary_lists_signals_thresholds_and_rules() -> None:
    summary = EarlyWarning().summary()
    assert list(summary.index) == NAMES
    assert list(summary.columns) == ["group", "type", "parameters", "used_by"]
    stop = summary.loc["interaction_stop"]
    assert stop["group"] == "behaviour"
    assert stop["parameters"].startswith("days=30, kinds=['interaction',")
    assert stop["used_by"] == (
        "distress_confirmed (red), disengaged_and_declining (yellow), "
        "three_signals (yellow), two_signals (blue)"
    )
    # Emotion signals are used through their group by every rule.
    assert str(summary.loc["complaint_rise", "used_by"]).split(", ")[:2] == [
        "distress_confirmed (red)",
        "dissatisfied (yellow)",
    ]
    assert summary.loc["negative_reviews", "parameters"] == (
        "min_count=3, max_rating=2.0, window_days=90"
    )
    lonely = EarlyWarning(signals=(SpendDrop(),), rules=()).summary()
    assert lonely.loc["spend_drop", "used_by"] == ""


# --- evaluation --------------------------------------------------------------------------


def levels(values: list[str], index: list[str]) -> pd.DataFrame:
    dtype = pd.CategoricalDtype(["none", "blue", "yellow", "red"], ordered=True)
    return pd.DataFrame({"level": pd.Series(values, dtype=dtype, index=index)})


def test_evaluate_warnings_hand_computed() -> None:
    index = ["a", "b", "c", "d", "e", "f", "g"]
    warnings = levels(["red", "red", "yellow", "blue", "none", "none", "red"], index)
    as_of = pd.Timestamp("2024-01-01")
    churn = pd.Series(
        pd.to_datetime(
            [
                "2024-01-11",
                "2024-03-31",
                "2024-02-15 18:00",
                "2024-04-01",
                "2024-01-20",
                "2024-01-01",
            ],
            format="ISO8601",
        ),
        index=["a", "b", "c", "d", "e", "g"],
    )
    # Leads: a 10, b 90 (in the horizon), c 45, d 91 (outside), e 19; g churned on
    # as_of's day (left out); f never churned.
    result = evaluate_warnings(
        warnings, churn_dates=churn, as_of=as_of, horizon_days=90, min_lead_days=30
    )
    assert result.loc["any", "customers"] == 6
    assert result.loc["any", "churners"] == 4
    red = result.loc["red"]
    assert (red["warned"], red["churned"], red["precision"], red["recall"]) == (2, 2, 1.0, 0.5)
    assert (red["churned_after_lead"], red["recall_at_lead"]) == (1, 0.5)  # b of {b, c}
    assert (red["median_lead_days"], red["mean_lead_days"]) == (50.0, 50.0)
    assert result.loc["blue", "precision"] == 0.0
    anyone = result.loc["any"]
    assert (anyone["warned"], anyone["churned"], anyone["recall"]) == (4, 3, 0.75)
    assert anyone["recall_at_lead"] == 1.0
    # Precision at the 30-day lead: warned customers whose churn day is 30 to 90
    # days away. red: b (90) of {a (10), b} -> 1/2; yellow: c (45) -> 1/1; blue: d
    # (91, outside the horizon) -> 0/1; any: b and c of 4 warned -> 2/4.
    assert result["precision_at_lead"].to_dict() == {
        "blue": 0.0,
        "yellow": 1.0,
        "red": 0.5,
        "any": 0.5,
    }
    assert result.loc["red", "precision"] == 1.0  # a (10 days ahead) counts only here


def test_evaluate_warnings_rejects_repeated_ids() -> None:
    warnings = levels(["red", "red"], ["a", "a"])
    churn = pd.Series(pd.to_datetime(["2024-02-01"]), index=["a"])
    with pytest.raises(InvalidDataError, match=r"index of warnings\) repeats ids .*\['a'\]"):
        evaluate_warnings(warnings, churn_dates=churn, as_of="2024-01-01")


def test_evaluate_warnings_reads_as_of_from_the_warnings() -> None:
    result = EarlyWarning().evaluate(log(SAMPLE), as_of=AS_OF)
    churn = pd.Series([AS_OF + pd.Timedelta(days=40)], index=["quiet"])
    scored = evaluate_warnings(result, churn_dates=churn)
    assert scored.loc["red", "churned"] == 1
    assert scored.attrs["as_of"] == AS_OF


@pytest.mark.parametrize(
    ("churn", "kwargs", "error", "match"),
    [
        (pd.Series(["2024-01-01"], index=["a"]), {}, InvalidDataError, "datetime64"),
        (
            pd.Series(pd.to_datetime(["2024-01-01"] * 2), index=["a", "a"]),
            {},
            InvalidDataError,
            "repeats",
        ),
        (
            pd.Series(pd.to_datetime(["2024-01-01"]), index=["a"]),
            {"min_lead_days": 100},
            InvalidParameterError,
            "'min_lead_days'",
        ),
        (
            pd.Series(pd.to_datetime(["2024-01-01"]), index=["a"]),
            {"horizon_days": 0},
            InvalidParameterError,
            "'horizon_days'",
        ),
    ],
)
def test_evaluate_warnings_bad_input(
    churn: pd.Series[Any], kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        evaluate_warnings(levels(["red"], ["a"]), churn_dates=churn, as_of="2023-12-01", **kwargs)


def test_observed_churn_dates_boundary() -> None:
    events = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-03-02", "2024-05-01"]),
            "kind": ["purchase", "purchase", "purchase", "interaction"],
            "value": [1.0, 1.0, 1.0, np.nan],
        }
    )
    # a: 2024-03-01 + 90 days = 2024-05-30 = end: churned that day. b: 05-31 > end.
    dates = observed_churn_dates(events, end="2024-05-30", inactive_days=90)
    assert dates.loc["a"] == pd.Timestamp("2024-05-30")
    assert pd.isna(dates.loc["b"])
    assert pd.isna(dates.loc["c"])  # never purchased


def test_backtest_is_evaluate_at_each_date() -> None:
    book = make_events(1_500, seed=8)
    churn = book.customers["churn_date"]
    dates = ["2025-02-28", "2025-08-31"]
    result = backtest(
        book.events, churn_dates=churn, as_of_dates=dates, horizon_days=60, min_lead_days=20
    )
    for date in dates:
        warnings = EarlyWarning().evaluate(book.events, as_of=date)
        expected = evaluate_warnings(warnings, churn_dates=churn, horizon_days=60, min_lead_days=20)
        at_date = result.loc[pd.Timestamp(date)]
        assert isinstance(at_date, pd.DataFrame)
        pd.testing.assert_frame_equal(at_date, expected, check_names=False)
    with pytest.raises(InvalidParameterError, match="'as_of_dates'"):
        backtest(book.events, churn_dates=churn, as_of_dates=[])


def test_warnings_beat_chance_on_the_synthetic_book() -> None:
    # Not a figure to hit: the levels must carry information, ordered by severity
    # (blue is close to the base rate on this book; see docs/churn.md).
    book = make_events(20_000, seed=12)
    result = backtest(
        book.events,
        churn_dates=book.customers["churn_date"],
        as_of_dates=["2025-03-31", "2025-09-30"],
    )
    totals = result.groupby(level="level").sum()
    precision = totals["churned"].astype(float) / totals["warned"].astype(float)
    base_rate = totals["churners"].astype(float)["any"] / totals["customers"].astype(float)["any"]
    assert precision["blue"] < precision["yellow"] < precision["red"]
    assert precision["yellow"] > 1.5 * base_rate
    assert precision["red"] > 4 * base_rate
