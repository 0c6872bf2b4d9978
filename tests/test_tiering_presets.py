"""The B2B preset scorecards: structure, options, the synthetic book, the literal preset."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from crmscore import (
    B2B_CRITERIA,
    B2B_INDICATORS,
    B2B_POLICY_INDICATORS,
    POLICY_TIERS,
    DirectWeights,
    Indicator,
    InvalidParameterError,
    MinMax,
    PairwiseMatrix,
    TierRule,
    TierScheme,
    b2b_policy_scorecard,
    b2b_scorecard,
    make_b2b_indicators,
)


def test_b2b_scorecard_arguments_are_not_mutated() -> None:
    judged = PairwiseMatrix.from_judgments(
        {("financial", "potential"): 2, ("financial", "risk"): 3, ("potential", "risk"): 2}
    )
    arguments: dict[str, Any] = {
        "criteria_weights": judged,
        "indicator_weights": {
            "financial": {"annual_revenue": 0.6, "profit_margin": 0.3, "payment_cycle": 0.1},
            "risk": DirectWeights.from_mapping(
                {"credit_rating": 0.5, "default_history": 0.25, "legal_disputes": 0.25}
            ),
        },
        "indicators": [Indicator(name="growth", direction="benefit", normaliser=MinMax())],
        "columns": {"annual_revenue": "revenue"},
        "tiers": TierScheme.from_bounds({"C": 0, "B": 50, "A": 75}),
        "rules": [TierRule(name="floor", column="revenue", op=">=", threshold=1e7, tier="A")],
    }
    before = copy.deepcopy(arguments)
    b2b_scorecard(**arguments)
    b2b_scorecard(
        **{**arguments, "criteria_weights": {"financial": 0.4, "potential": 0.4, "risk": 0.2}}
    )
    assert arguments == before
    mapping = {"financial": 0.4, "potential": 0.4, "risk": 0.2}
    mapping_before = copy.deepcopy(mapping)
    b2b_scorecard(criteria_weights=mapping)
    assert mapping == mapping_before


# --- the B2B preset --------------------------------------------------------------------------


def test_b2b_preset_structure() -> None:
    card = b2b_scorecard()
    assert card.hierarchy.local_weights == dict(B2B_CRITERIA)
    weights = card.hierarchy.global_weights()
    assert list(weights) == [
        "annual_revenue",
        "profit_margin",
        "payment_cycle",
        "growth",
        "clv",
        "strategic_fit",
        "credit_rating",
        "default_history",
        "legal_disputes",
    ]
    for name, group_weight in (("annual_revenue", 0.5), ("clv", 0.3), ("legal_disputes", 0.2)):
        assert weights[name] == pytest.approx(group_weight / 3, rel=1e-12)
    costs = {i.name for i in card.indicators if i.direction == "cost"}
    assert costs == {"payment_cycle", "default_history", "legal_disputes"}
    assert card.tiers == POLICY_TIERS


def test_b2b_preset_options() -> None:
    judged = PairwiseMatrix.from_judgments(
        {
            ("financial", "potential"): "5/3",
            ("financial", "risk"): "5/2",
            ("potential", "risk"): "3/2",
        }
    )
    card = b2b_scorecard(
        criteria_weights=judged,
        indicator_weights={
            "risk": {"credit_rating": 0.5, "default_history": 0.3, "legal_disputes": 0.2}
        },
        indicators=[
            Indicator(
                name="annual_revenue", direction="benefit", normaliser=MinMax(clip=(0.01, 0.99))
            )
        ],
        columns={"clv": "clv_3y"},
        missing="median",
    )
    weights = card.hierarchy.global_weights()
    assert weights["default_history"] == pytest.approx(0.2 * 0.3, rel=1e-9)
    by_name = {i.name: i for i in card.indicators}
    assert by_name["annual_revenue"].normaliser == MinMax(clip=(0.01, 0.99))
    assert by_name["clv"].source == "clv_3y"
    book = make_b2b_indicators(300, seed=1).rename(columns={"clv": "clv_3y"})
    out = card.fit(book).score(book)
    assert out["score"].between(0, 100).all()
    with pytest.raises(InvalidParameterError, match="unknown indicator"):
        b2b_scorecard(indicators=[Indicator(name="turnover", direction="benefit")])
    with pytest.raises(InvalidParameterError, match="columns names unknown"):
        b2b_scorecard(columns={"turnover": "x"})
    with pytest.raises(InvalidParameterError, match="unknown group"):
        b2b_scorecard(indicator_weights={"loyalty": DirectWeights.from_mapping({"a": 1.0})})


def test_b2b_preset_on_the_synthetic_book_forms_a_pyramid() -> None:
    book = make_b2b_indicators(5_000, seed=2026)
    out = b2b_scorecard().fit(book).score(book)
    counts = out["tier"].value_counts().reindex(list(POLICY_TIERS.labels()))
    assert (counts > 0).all()
    assert counts["Diamond"] < counts["Gold"] < counts["Silver"] < counts["Ordinary"]
    np.testing.assert_allclose(
        out[["financial_points", "potential_points", "risk_points"]].sum(axis=1),
        out["score"],
        atol=1e-9,
    )


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
