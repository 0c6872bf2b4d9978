"""RuleTiering, RuleTier and Condition (tiering/_rules.py).

A row-by-row reference for the first-match rule, hand-computed cases, and JSON
round trips.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmscore import (
    ColumnNotFoundError,
    Condition,
    InvalidDataError,
    InvalidParameterError,
    RuleTier,
    RuleTiering,
    activity_levels,
    dairy_layers,
    high_value_rule,
    lifecycle_stages,
    membership_levels,
)

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
