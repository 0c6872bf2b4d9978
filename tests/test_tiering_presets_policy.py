"""Rule tiering and the policy presets (tiering/_rules.py, _activity.py, _policy_presets.py).

Hand-computed cases at every threshold of SEEDS.md, a row-by-row reference for the
first-match rule, and a pandas group-by reference for the event indicators.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmscore import (
    B2B_INDICATORS,
    B2B_POLICY_INDICATORS,
    ColumnNotFoundError,
    Condition,
    Indicator,
    InvalidDataError,
    InvalidParameterError,
    MinMax,
    RuleTier,
    RuleTiering,
    activity_levels,
    b2b_policy_scorecard,
    dairy_layers,
    event_indicators,
    high_value_rule,
    lifecycle_stages,
    make_b2b_indicators,
    make_events,
    membership_levels,
    relationship_scorecard,
)
from tests.strategies import EVENTS_AS_OF, event_logs

# --- RuleTiering ----------------------------------------------------------------------


def _three_tiers() -> RuleTiering:
    return RuleTiering(
        name="test",
        tiers=[
            RuleTier(
                key="a",
                label_en="A",
                label_zh="甲",
                all_of=[Condition(column="x", op=">=", threshold=10)],
                any_of=[
                    Condition(column="y", op="<", threshold=0),
                    Condition(column="z", op="==", threshold=1),
                ],
            ),
            RuleTier(
                key="b",
                label_en="B",
                label_zh="乙",
                all_of=[Condition(column="x", op=">", threshold=5)],
            ),
            RuleTier(key="c", label_en="C", label_zh="丙"),
        ],
    )


def test_first_matching_tier_wins_with_all_of_and_any_of() -> None:
    frame = pd.DataFrame(
        {
            "x": [10.0, 10.0, 10.0, 5.0, 6.0, np.nan, 20.0],
            "y": [-1.0, 1.0, 1.0, -1.0, 0.0, -1.0, np.nan],
            "z": [0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        },
        index=pd.Index(list("pqrstuv"), name="cid"),
    )
    result = _three_tiers().score(frame)
    # p: x>=10 and y<0 -> a; q: x>=10 but neither y<0 nor z==1 -> b (x>5);
    # r: z==1 -> a; s: x=5 fails both -> c; t: x=6 -> b; u: NaN x -> c; v: NaN y, z==1 -> a
    assert result["tier_key"].tolist() == ["a", "b", "a", "c", "b", "c", "a"]
    assert result.index.equals(frame.index)
    assert result["tier"].cat.categories.tolist() == ["A", "B", "C"]
    assert result["tier_reason"].tolist()[:2] == ["x >= 10 and (y < 0 or z == 1)", "x > 5"]
    assert result["tier_reason"].iloc[3] == "otherwise"
    zh = _three_tiers().score(frame, language="zh")
    assert zh["tier"].tolist() == ["甲", "乙", "甲", "丙", "乙", "丙", "甲"]


def _reference_codes(rule: RuleTiering, frame: pd.DataFrame) -> list[int]:
    """Row by row, condition by condition: the first tier that holds (NaN never holds)."""
    compare = {
        ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        "==": lambda a, b: a == b,
    }

    def holds(condition: Condition, row: pd.Series[Any]) -> bool:
        value = row[condition.column]
        return bool(not np.isnan(value) and compare[condition.op](value, condition.threshold))

    codes = []
    for _, row in frame.iterrows():
        for position, tier in enumerate(rule.tiers):
            every = all(holds(c, row) for c in tier.all_of)
            some = not tier.any_of or any(holds(c, row) for c in tier.any_of)
            if every and some:
                codes.append(position)
                break
    return codes


values = st.one_of(st.sampled_from([np.nan, 0.0, 1.0, 5.0, 10.0, -1.0]), st.floats(-20, 20))


@given(
    st.lists(st.tuples(values, values, values), min_size=1, max_size=30),
    st.randoms(use_true_random=False),
)
def test_score_matches_a_row_by_row_reference_in_any_row_order(
    rows: list[tuple[float, float, float]], random: Any
) -> None:
    frame = pd.DataFrame(rows, columns=["x", "y", "z"])
    rule = _three_tiers()
    before = frame.copy(deep=True)
    codes = rule.score(frame)["tier_key"].cat.codes.tolist()
    assert codes == _reference_codes(rule, frame)
    pd.testing.assert_frame_equal(frame, before)  # not mutated
    order = list(range(len(frame)))
    random.shuffle(order)
    shuffled = rule.score(frame.iloc[order])
    assert shuffled["tier_key"].tolist() == [rule.keys[codes[i]] for i in order]


def test_coverage_counts_conditions_and_whole_tiers() -> None:
    frame = pd.DataFrame({"x": [10, 10, 10, 6, 0], "y": [-1, 1, 1, -1, -1], "z": [0, 0, 1, 1, 0]})
    coverage = _three_tiers().coverage(frame)
    assert coverage["customers"].tolist() == [3, 3, 2, 4]  # x>=10, y<0, z==1, x>5
    assert coverage["tier_customers"].tolist() == [2, 2, 2, 4]  # a: rows 0 and 2; b: x > 5
    assert coverage["share"].tolist() == [0.6, 0.6, 0.4, 0.8]
    assert "c" not in coverage.index.get_level_values("tier")


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        (
            [
                RuleTier(
                    key="a",
                    label_en="A",
                    label_zh="甲",
                    all_of=[Condition(column="x", op=">", threshold=0)],
                )
            ],
            "must have no condition",
        ),
        (
            [
                RuleTier(key="a", label_en="A", label_zh="甲"),
                RuleTier(key="b", label_en="B", label_zh="乙"),
            ],
            "could never be reached",
        ),
        (
            [
                RuleTier(
                    key="a",
                    label_en="A",
                    label_zh="甲",
                    all_of=[Condition(column="x", op=">", threshold=0)],
                ),
                RuleTier(key="a", label_en="B", label_zh="乙"),
            ],
            "keys repeat",
        ),
        ([], "non-empty"),
    ],
)
def test_badly_built_tierings_are_rejected(tiers: list[RuleTier], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        RuleTiering(name="bad", tiers=tiers)


def test_conditions_are_checked_where_they_are_made() -> None:
    with pytest.raises(InvalidParameterError, match="threshold"):
        Condition(column="x", op=">", threshold=float("inf"))
    with pytest.raises(ValueError, match="op"):
        Condition(column="x", op="!=", threshold=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="all_of"):
        RuleTier(key="a", label_en="A", label_zh="甲", all_of=["x > 1"])  # type: ignore[list-item]


def test_missing_and_non_numeric_columns_are_named() -> None:
    rule = _three_tiers()
    with pytest.raises(ColumnNotFoundError, match="'z'"):
        rule.score(pd.DataFrame({"x": [1.0], "y": [1.0]}))
    with pytest.raises(InvalidDataError, match=r"'y'.*numeric") as caught:
        rule.score(pd.DataFrame({"x": [11.0], "y": ["a"], "z": [1.0]}))
    assert caught.value.column == "y"
    with pytest.raises(InvalidDataError, match="'x'"):
        rule.score(pd.DataFrame({"x": [True], "y": [1.0], "z": [1.0]}))


@pytest.mark.parametrize(
    "rule",
    [
        _three_tiers(),
        high_value_rule(),
        dairy_layers(risk_first=False),
        membership_levels(require="either"),
        activity_levels(),
        lifecycle_stages(),
    ],
    ids=lambda r: r.name,
)
def test_rule_tierings_round_trip_through_json(rule: RuleTiering) -> None:
    again = RuleTiering.from_dict(json.loads(json.dumps(rule.to_dict())))
    assert again == rule
    assert rule.name in repr(rule)
    assert "<table" in rule._repr_html_()


# --- the presets at their thresholds --------------------------------------------------


def test_high_value_rule_at_its_three_thresholds() -> None:
    frame = pd.DataFrame(
        {
            "days_since_purchase": [30, 31, 0, 0, 0, 0],
            "purchases_per_month": [3, 3, 2.99, 3, 3, np.nan],
            "average_order": [500.01, 900, 900, 500, 501, 900],
        }
    )
    assert high_value_rule().score(frame)["tier_key"].tolist() == [
        "high_value",
        "other",  # 31 days
        "other",  # below 3 a month
        "other",  # 500 is not above 500
        "high_value",
        "other",  # unknown rate
    ]
    looser = high_value_rule(within_days=31, purchases_per_month=2.5, average_order=499)
    assert looser.score(frame)["tier_key"].tolist()[:4] == ["high_value"] * 4


def test_high_value_rule_reads_an_rfm_table_through_columns() -> None:
    table = pd.DataFrame(
        {"time_since_last": [5.0], "purchases_per_month": [4.0], "average_spend": [600.0]}
    )
    rule = high_value_rule(
        columns={"days_since_purchase": "time_since_last", "average_order": "average_spend"}
    )
    assert rule.columns == ("time_since_last", "purchases_per_month", "average_spend")
    assert rule.score(table)["tier"].tolist() == ["High value"]
    with pytest.raises(InvalidParameterError, match=r"unknown input\(s\) \['recency'\]"):
        high_value_rule(columns={"recency": "r"})


def test_dairy_layers_at_their_thresholds() -> None:
    frame = pd.DataFrame(
        {
            "spend": [10_000_000, 10_000_001, 1_000_000, 999_999, 5e6, 5e6, 5e6, 5e6],
            "spend_growth": [0.5, 0.0, 0.01, 0.5, 0.0, -0.1, -0.09, np.nan],
            "complaint_rate": [0, 0, 0, 0, 0.051, 0, 0.05, 0],
        }
    )
    assert dairy_layers().score(frame)["tier_key"].tolist() == [
        "growth_potential",  # exactly 10 million is not above it
        "high_value",
        "growth_potential",
        "basic",
        "risk",  # complaint rate above 5 %
        "risk",  # spend down 10 %
        "basic",  # neither, and not growing
        "basic",  # no previous year: growth unknown
    ]
    zh = dairy_layers().score(frame.iloc[[1]], language="zh")["tier"]
    assert zh.tolist() == ["高价值客户"]
    assert dairy_layers().labels("zh") == ("风险客户", "高价值客户", "潜力成长客户", "基础维护客户")


def test_membership_levels_need_both_thresholds_by_default() -> None:
    frame = pd.DataFrame(
        {"purchases": [24, 23, 12, 4, 3, 100], "spend": [2e4, 2e4, 5e3, 1e3, 1e6, 0]}
    )
    assert membership_levels().score(frame)["tier_key"].tolist() == [
        "platinum",
        "gold",
        "gold",
        "silver",
        "regular",
        "regular",
    ]
    assert membership_levels(require="either").score(frame)["tier_key"].tolist()[4:] == [
        "platinum",
        "platinum",
    ]
    custom = membership_levels(levels=[("vip", "VIP", "贵宾", 1, 1)], base=("std", "Std", "标准"))
    assert custom.score(frame)["tier"].tolist() == ["VIP"] * 5 + ["Std"]
    with pytest.raises(InvalidParameterError, match="require"):
        membership_levels(require="all")


def test_activity_levels_at_their_thresholds() -> None:
    frame = pd.DataFrame(
        {"interactions_month": [3, 2, 10, 0], "days_since_interaction": [0, 0, 180, 179]}
    )
    assert activity_levels().score(frame)["tier_key"].tolist() == [
        "highly_active",
        "active",
        "dormant",  # six months without interaction, whatever the month's count says
        "active",
    ]


def test_lifecycle_stages_at_their_thresholds() -> None:
    frame = pd.DataFrame(
        {
            "purchases_total": [0, 1, 1, 5, 5, 5, 5, 5, 5, 5],
            "first_purchase_days": [np.nan, 89, 90, 500, 500, 500, 500, 500, 500, 500],
            "days_since_purchase": [np.nan, 89, 90, 365, 364, 180, 179, 10, 10, 10],
            "p_alive": [np.nan, 0.01, 0.9, 0.9, 0.09, 0.9, 0.9, 0.49, np.nan, 0.5],
            "recent_purchase_ratio": [np.nan] * 7 + [2.0, 0.5, 0.51],
        }
    )
    assert lifecycle_stages().score(frame)["tier_key"].tolist() == [
        "acquisition",  # no purchase yet
        "acquisition",  # new: the acquisition stage comes before P(alive)
        "growth_retention",  # 90 days is no longer new
        "lost",  # a year without purchase
        "lost",  # P(alive) below 0.1
        "win_back",  # six months without purchase
        "growth_retention",
        "decline",  # P(alive) below 0.5
        "decline",  # rate halved
        "growth_retention",
    ]


def test_event_indicators_by_hand() -> None:
    as_of = pd.Timestamp("2026-06-30")
    day = as_of.normalize()
    rows = [
        # customer a: a purchase 364 days ago (in the window), 365 days ago (previous
        # year), 10 days ago; reviews and complaints in and out of the window
        ("a", day - pd.Timedelta(days=364), "purchase", 100.0),
        ("a", day - pd.Timedelta(days=365), "purchase", 40.0),
        ("a", day - pd.Timedelta(days=729), "purchase", 10.0),
        ("a", day - pd.Timedelta(days=730), "purchase", 1000.0),  # older than two windows
        ("a", day - pd.Timedelta(days=10), "purchase", 300.0),
        ("a", day - pd.Timedelta(days=29), "interaction", np.nan),
        ("a", day - pd.Timedelta(days=30), "interaction", np.nan),
        ("a", day - pd.Timedelta(days=5), "review", 4.0),
        ("a", day - pd.Timedelta(days=400), "review", 4.0),
        ("a", day - pd.Timedelta(days=2), "complaint", np.nan),
        ("a", day + pd.Timedelta(days=1), "purchase", 9999.0),  # after as_of: left out
        # customer b: one interaction 200 days ago, no purchase
        ("b", day - pd.Timedelta(days=200), "interaction", np.nan),
    ]
    events = pd.DataFrame(rows, columns=["customer_id", "timestamp", "kind", "value"])
    before = events.copy(deep=True)
    table = event_indicators(events, as_of=as_of)
    pd.testing.assert_frame_equal(events, before)
    a, b = table.loc["a"], table.loc["b"]
    assert table.index.name == "customer_id"
    assert a["tenure_days"] == 731
    assert (a["first_purchase_days"], a["days_since_purchase"]) == (730, 10)
    assert (a["purchases_total"], a["purchases"], a["spend"]) == (5, 2, 400)
    assert a["previous_spend"] == 50  # days 365 and 729
    assert a["spend_growth"] == pytest.approx(400 / 50 - 1)
    assert a["purchases_per_month"] == pytest.approx(2 / (365 / 30))
    assert a["average_order"] == 200
    # activity: every customer-initiated kind counts (purchase, interaction, review,
    # complaint); the last 30 days are ages 0-29
    assert a["interactions_month"] == 4  # purchase 10, interaction 29, review 5, complaint 2
    assert a["interactions_per_month"] == pytest.approx(6 / (365 / 30))
    assert a["days_since_interaction"] == 2
    assert (a["reviews"], a["complaints"], a["complaint_rate"]) == (1, 1, 0.5)
    # recent 90 days: 1 purchase -> 1/3 a month; before: 1 purchase in 275 days
    assert a["recent_purchase_ratio"] == pytest.approx((1 / 3) / (1 / (275 / 30)))
    assert b["tenure_days"] == 201
    assert np.isnan(b["first_purchase_days"])
    assert np.isnan(b["days_since_purchase"])
    assert (b["purchases_total"], b["spend"], b["previous_spend"]) == (0, 0, 0)
    assert np.isnan(b["spend_growth"])
    assert np.isnan(b["average_order"])
    assert b["days_since_interaction"] == 200
    assert np.isnan(b["complaint_rate"])
    assert np.isnan(b["recent_purchase_ratio"])
    only_logins = event_indicators(events, as_of=as_of, interaction_kinds=("interaction",))
    assert only_logins.loc["a", "interactions_month"] == 1
    assert only_logins.loc["a", "days_since_interaction"] == 29


def test_event_indicators_without_any_interaction_counts_from_the_first_event() -> None:
    events = pd.DataFrame(
        {
            "customer_id": [1, 1],
            "timestamp": pd.to_datetime(["2026-01-01", "2026-02-01"]),
            "kind": ["purchase", "purchase"],
            "value": [10.0, 10.0],
        }
    )
    table = event_indicators(events, as_of="2026-03-01", interaction_kinds=("interaction",))
    assert table.loc[1, "days_since_interaction"] == 59  # since 1 January


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_days": 0}, "window_days"),
        ({"month_days": 2.5}, "month_days"),
        ({"recent_days": 365}, "shorter than window_days"),
        ({"interaction_kinds": ("login",)}, r"unknown kind\(s\) \['login'\]"),
    ],
)
def test_event_indicators_parameters(kwargs: dict[str, Any], message: str) -> None:
    events = pd.DataFrame(
        {
            "customer_id": [1],
            "timestamp": pd.to_datetime(["2026-01-01"]),
            "kind": ["purchase"],
            "value": [1.0],
        }
    )
    with pytest.raises(InvalidParameterError, match=message):
        event_indicators(events, as_of="2026-03-01", **kwargs)


@given(event_logs(max_age=800))
def test_event_indicators_match_a_group_by_reference(events: pd.DataFrame) -> None:
    events = events[events["timestamp"].dt.normalize() <= EVENTS_AS_OF.normalize()]
    if events.empty:
        return
    table = event_indicators(events, as_of=EVENTS_AS_OF)
    age = (EVENTS_AS_OF.normalize() - events["timestamp"].dt.normalize()).dt.days
    purchase = events["kind"] == "purchase"
    by = events["customer_id"]
    window = purchase & (age < 365)
    expected = pd.DataFrame(
        {
            "purchases": window.groupby(by).sum(),
            "spend": events["value"].where(window, 0.0).groupby(by).sum(),
            "purchases_total": purchase.groupby(by).sum(),
            "tenure_days": age.groupby(by).max() + 1,
            "complaints": ((events["kind"] == "complaint") & (age < 365)).groupby(by).sum(),
        }
    ).astype(float)
    pd.testing.assert_frame_equal(
        table[expected.columns], expected, check_names=False, check_exact=False, rtol=1e-12
    )
    last = age.where(purchase).groupby(by).min()
    pd.testing.assert_series_equal(
        table["days_since_purchase"], last.astype(float), check_names=False
    )
    assert ((table["purchases_per_month"] >= 0) & (table["days_since_interaction"] >= 0)).all()


def test_presets_on_the_synthetic_event_book() -> None:
    book = make_events(1_000, seed=5)
    table = event_indicators(book.events, as_of=book.as_of)
    assert len(table) == book.customers.shape[0]
    activity = activity_levels().score(table)["tier_key"]
    # the simulation's churners stopped everything: dormant customers are churners
    churned = book.customers["churn_date"].notna()
    dormant = activity == "dormant"
    assert dormant.any()
    assert churned[dormant.to_numpy()].all()
    stages = lifecycle_stages().score(table.assign(p_alive=np.nan))["tier_key"]
    churn_rate = churned.groupby(stages.to_numpy(), observed=True).mean()
    # stages ordered by how far the customers have gone: measured 0.05, 0.32, 0.83, 0.93
    assert churn_rate["growth_retention"] < 0.1
    assert churn_rate["growth_retention"] < churn_rate["decline"] < churn_rate["win_back"]
    assert churn_rate["win_back"] < churn_rate["lost"]
    assert churn_rate["lost"] > 0.9


# --- the relationship scorecard and the literal B2B preset ----------------------------


def test_relationship_scorecard_by_hand() -> None:
    frame = pd.DataFrame(
        {
            "interactions_per_month": [4.0, 1.0, 2.0],
            "spend": [900.0, 100.0, 500.0],
            "product_preference": [1.0, 0.0, 0.5],
            "reviews": [3.0, 0.0, 1.0],
            "complaints": [0.0, 3.0, 1.5],
        }
    )
    scored = relationship_scorecard().fit(frame).score(frame)
    # percentile ranks of three distinct values are 100, 0, 50; preference 100, 0, 50;
    # complaints (cost, 0-3) 100, 0, 50: each dimension is worth 20 points at most
    assert scored["score"].tolist() == pytest.approx([100.0, 0.0, 50.0])
    assert scored["complaint_record_points"].tolist() == pytest.approx([20.0, 0.0, 10.0])
    weighted = relationship_scorecard(
        weights={
            "interaction_frequency": 0.4,
            "spend": 0.3,
            "product_preference": 0.1,
            "feedback_participation": 0.1,
            "complaint_record": 0.1,
        }
    )
    assert weighted.hierarchy.global_weights()["interaction_frequency"] == pytest.approx(0.4)
    four = relationship_scorecard(product_preference=False)
    assert [i.name for i in four.indicators] == [
        "interaction_frequency",
        "spend",
        "feedback_participation",
        "complaint_record",
    ]
    assert four.hierarchy.global_weights()["spend"] == pytest.approx(0.25)
    replaced = relationship_scorecard(
        indicators=[
            Indicator(name="spend", column="annual_spend", direction="benefit", normaliser=MinMax())
        ]
    )
    assert replaced.indicators[1].source == "annual_spend"
    with pytest.raises(InvalidParameterError, match="unknown dimension"):
        relationship_scorecard(indicators=[Indicator(name="nps", direction="benefit")])


def test_literal_b2b_preset_swaps_growth_and_clv_for_the_policy_indicators() -> None:
    literal = [i.name for group in B2B_POLICY_INDICATORS.values() for i in group]
    practical = [i.name for group in B2B_INDICATORS.values() for i in group]
    assert len(literal) == 9
    assert set(practical) - set(literal) == {"growth", "clv"}
    assert set(literal) - set(practical) == {"industry_position", "market_expansion"}
    card = b2b_policy_scorecard()
    weights = card.hierarchy.global_weights()
    assert weights["industry_position"] == pytest.approx(0.1)
    assert weights["annual_revenue"] == pytest.approx(0.5 / 3)
    book = make_b2b_indicators(300, seed=2).assign(industry_position=5, market_expansion=1)
    arguments = {"columns": {"market_expansion": "expansion"}}
    saved = copy.deepcopy(arguments)
    renamed = b2b_policy_scorecard(**arguments)  # type: ignore[arg-type]
    assert arguments == saved
    scored = renamed.fit(book.rename(columns={"market_expansion": "expansion"})).score(
        book.rename(columns={"market_expansion": "expansion"})
    )
    assert scored["industry_position_points"].eq(10.0).all()  # 5 of 5: the full 10 points
    assert scored["market_expansion_points"].eq(0.0).all()
    with pytest.raises(InvalidParameterError, match=r"b2b_policy_scorecard.*'growth'"):
        b2b_policy_scorecard(columns={"growth": "g"})
