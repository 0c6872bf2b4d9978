"""Tier schemes and tier rules: bounds, labels, floors and caps, typed conversion, JSON."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmscore import (
    POLICY_TIERS,
    ColumnNotFoundError,
    FixedRange,
    InvalidDataError,
    InvalidParameterError,
    Tier,
    TierRule,
    TierScheme,
)
from tests.tiering_cards import frame, json_round_trip, single, tier_rules, tier_schemes

# --- tier schemes and rules -------------------------------------------------------------------


def test_policy_tier_scheme_api() -> None:
    assert POLICY_TIERS.keys == ("ordinary", "silver", "gold", "diamond")
    assert POLICY_TIERS.labels("zh") == ("普通级", "白银级", "黄金级", "钻石级")
    assert POLICY_TIERS.bounds == (0.0, 60.0, 80.0, 90.0)
    assert POLICY_TIERS.lower_bound("gold") == 80.0
    assert POLICY_TIERS.upper_bound("Gold") == 90.0
    assert POLICY_TIERS.upper_bound("钻石级") == float("inf")
    assert POLICY_TIERS.index("Silver") == 1
    assert POLICY_TIERS.shift("Silver", 1) == "Gold"
    assert POLICY_TIERS.shift("白银级", 2) == "钻石级"
    assert POLICY_TIERS.shift("silver", -5) == "ordinary"
    assert POLICY_TIERS.shift("Diamond", 0) == "Diamond"
    assert POLICY_TIERS.describe(3) == "score >= 90"
    assert TierScheme.from_dict(json.loads(json.dumps(POLICY_TIERS.to_dict()))) == POLICY_TIERS
    with pytest.raises(InvalidParameterError, match="Unknown tier 'Platinum'"):
        POLICY_TIERS.index("Platinum")
    with pytest.raises(InvalidParameterError, match="steps"):
        POLICY_TIERS.shift("Gold", 1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="finite"):
        POLICY_TIERS.tier_of(float("nan"))


def test_custom_scheme_with_any_labels_and_bounds() -> None:
    scheme = TierScheme.from_bounds({"C": 0, "B": 40, "A": 70})
    fitted = single(FixedRange(low=0, high=100), tiers=scheme).fit(frame(x=[1.0]))
    assert fitted.score(frame(x=[39.0, 40.0, 70.0]))["tier"].tolist() == ["C", "B", "A"]
    assert TierScheme.from_bounds({"all": 0}).tier_of(55) == "all"


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"low": 0, "high": 60, "mid": 50}, "not above 'high' at 60"),
        ({"low": 0, "a": 60, "b": 60}, "equal bounds overlap"),
        ({"low": 10, "high": 60}, "must start at 0"),
        ({"low": 0, "high": 120}, "above the highest possible score"),
        ({"low": 0, "high": float("nan")}, "strictly increasing"),
    ],
)
def test_bad_tier_bounds_raise(bounds: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        TierScheme.from_bounds(bounds)


def test_tier_labels_must_be_unique() -> None:
    with pytest.raises(InvalidParameterError, match="label_zh"):
        TierScheme(
            tiers=[
                Tier(key="a", label_en="A", label_zh="同", lower_bound=0),
                Tier(key="b", label_en="B", label_zh="同", lower_bound=50),
            ]
        )


def test_rules_floor_and_cap_with_reasons() -> None:
    rules = [
        TierRule(name="VIP floor", column="revenue", op=">=", threshold=5e6, tier="gold"),
        TierRule(
            name="dispute cap", column="disputes", op=">=", threshold=2, tier="silver", kind="cap"
        ),
    ]
    fitted = single(FixedRange(low=0, high=100), rules=rules).fit(frame(x=[1.0]))
    book = frame(
        x=[30.0, 30.0, 95.0, 95.0, 85.0, 30.0],
        revenue=[5e6, 1e6, 1e6, 9e6, 1e7, np.nan],
        disputes=[0, 0, 3, 3, 0, 0],
    )
    out = fitted.score(book)
    assert out["score_tier"].tolist() == [
        "Ordinary",
        "Ordinary",
        "Diamond",
        "Diamond",
        "Gold",
        "Ordinary",
    ]
    # The cap comes after the floor, so it wins for customer c3.
    assert out["tier"].tolist() == ["Gold", "Ordinary", "Silver", "Silver", "Gold", "Ordinary"]
    assert out["tier_reason"].tolist() == [
        "VIP floor: revenue >= 5e+06 -> at least Gold",
        "score < 60",
        "dispute cap: disputes >= 2 -> at most Silver",
        "dispute cap: disputes >= 2 -> at most Silver",
        "80 <= score < 90",
        "score < 60",
    ]
    with pytest.raises(ColumnNotFoundError, match="revenue"):
        fitted.score(book.drop(columns="revenue"))
    with pytest.raises(InvalidDataError, match="read by tier rule 'VIP floor'"):
        fitted.score(book.assign(revenue="big"))
    assert TierRule.from_dict(json.loads(json.dumps(rules[1].to_dict()))) == rules[1]


# --- typed conversion (with a normaliser's range) -------------------------------------


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: FixedRange(low="abc", high=1), "low"),
        (lambda: FixedRange(low=0, high=None), "high"),
        (
            lambda: TierRule(name="r", column="x", op=">=", threshold="many", tier="gold"),
            "threshold",
        ),
        (
            lambda: TierScheme.from_bounds({"low": 0, "high": "sixty"}),  # type: ignore[dict-item]
            "strictly increasing",
        ),
    ],
)
def test_numbers_that_are_not_numbers_raise_typed_errors(build: Any, name: str) -> None:
    with pytest.raises(InvalidParameterError, match=name):
        build()


def test_numeric_strings_convert() -> None:
    assert FixedRange(low="0", high="2.5") == FixedRange(low=0.0, high=2.5)
    rule = TierRule(name="r", column="x", op=">=", threshold="5e6", tier="gold")
    assert rule.threshold == 5e6
    assert Tier(key="k", label_en="K", label_zh="K", lower_bound="60").lower_bound == 60.0


# --- JSON round trips -----------------------------------------------------------------


@given(scheme=tier_schemes())
def test_tier_scheme_json_round_trip(scheme: TierScheme) -> None:
    again = TierScheme.from_dict(json_round_trip(scheme))
    assert again == scheme
    assert again.bounds == scheme.bounds
    assert again.labels("zh") == scheme.labels("zh")


@given(data=st.data(), scheme=tier_schemes())
def test_tier_rule_json_round_trip(data: st.DataObject, scheme: TierScheme) -> None:
    rule = data.draw(tier_rules(scheme=scheme))
    again = TierRule.from_dict(json_round_trip(rule))
    assert again == rule
    assert again.describe(scheme) == rule.describe(scheme)
