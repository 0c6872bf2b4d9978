"""The six policy presets (tiering/_policy_presets.py).

Hand-computed cases at every threshold of SEEDS.md, on their own and on the synthetic
event book.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmscore import (
    Indicator,
    InvalidParameterError,
    MinMax,
    activity_levels,
    dairy_layers,
    event_indicators,
    high_value_rule,
    lifecycle_stages,
    make_events,
    membership_levels,
    relationship_scorecard,
)

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
