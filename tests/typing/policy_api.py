"""Return types of issue 16's public API (presets, reports, plan, A/B), pinned for mypy.

As tests/typing/public_api.py: mypy checks it, pytest does not collect it, and nothing
calls its functions.
"""

from __future__ import annotations

from typing import Any, assert_type

import pandas as pd
from matplotlib.axes import Axes

import crmscore as cs


def presets(events: pd.DataFrame, frame: pd.DataFrame, as_of: pd.Timestamp) -> None:
    assert_type(cs.event_indicators(events, as_of=as_of), pd.DataFrame)
    for rule in (
        cs.high_value_rule(),
        cs.dairy_layers(),
        cs.membership_levels(),
        cs.activity_levels(),
        cs.lifecycle_stages(),
    ):
        assert_type(rule, cs.RuleTiering)
        assert_type(rule.score(frame, language="zh"), pd.DataFrame)
        assert_type(rule.coverage(frame), pd.DataFrame)
    assert_type(cs.relationship_scorecard(), cs.Scorecard)
    assert_type(cs.b2b_policy_scorecard(), cs.Scorecard)


def reports(book: cs.Book, events: pd.DataFrame, clv: pd.Series[Any]) -> None:
    assert_type(cs.tier_history(book, at=["2025-03-31"]), pd.DataFrame)
    assert_type(cs.tier_distribution(book, at=["2025-03-31"]), pd.DataFrame)
    assert_type(cs.tier_migration(book, start="2025-03-31", end="2025-06-30"), pd.DataFrame)
    assert_type(cs.tier_outcomes(book, events, start="2025-03-31", end="2025-06-30"), pd.DataFrame)
    assert_type(cs.course_check(book, events, start="2025-03-31", end="2025-06-30"), pd.DataFrame)
    assert_type(cs.clv_change(clv, clv), pd.DataFrame)
    assert_type(cs.tier_lists(book, by=clv), pd.DataFrame)
    assert_type(cs.plot_tier_shares(cs.tier_distribution(book, at=["2025-03-31"])), Axes)
    assert_type(cs.action_plan(book, start="2025-07-01", end="2025-09-30"), pd.DataFrame)


def validation(
    events: pd.DataFrame, tiers: pd.Series[Any], fitted: cs.FittedScorecard, frame: pd.DataFrame
) -> None:
    arms = cs.assign_arms(tiers.index, seed=1)
    assert_type(arms, "pd.Series[Any]")
    result = cs.compare_schemes(
        events, arms=arms, tiers={"A": tiers, "B": tiers}, high_value=["gold"],
        start="2025-06-30", end="2025-09-30",
    )  # fmt: skip
    assert_type(result, cs.SchemeComparison)
    outcome = tiers == "gold"
    assert_type(cs.learn_weights(fitted, frame, outcome), cs.WeightSuggestion)
