"""Scoring warnings against observed churn: evaluate_warnings, observed_churn_dates, backtest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from crmscore import (
    PRECISION_TARGET,
    EarlyWarning,
    InvalidDataError,
    InvalidParameterError,
    backtest,
    evaluate_warnings,
    make_events,
    observed_churn_dates,
)
from tests.churn_logs import AS_OF, SAMPLE, log

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
    result = EarlyWarning().predict(log(SAMPLE), as_of=AS_OF)
    churn = pd.Series([AS_OF + pd.Timedelta(days=40)], index=["quiet"])
    scored = evaluate_warnings(result, churn_dates=churn)
    assert scored.loc["red", "churned"] == 1
    assert scored.attrs["as_of"] == AS_OF


def test_evaluate_warnings_without_attrs_needs_as_of() -> None:
    result = EarlyWarning().predict(log(SAMPLE), as_of=AS_OF)
    churn = pd.Series([AS_OF + pd.Timedelta(days=40)], index=["quiet"])
    bare = result.copy()
    bare.attrs = {}  # as after a CSV round trip
    with pytest.raises(InvalidParameterError, match=r"pass as_of="):
        evaluate_warnings(bare, churn_dates=churn)
    pd.testing.assert_frame_equal(
        evaluate_warnings(bare, churn_dates=churn, as_of=AS_OF),
        evaluate_warnings(result, churn_dates=churn),
    )


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
    dates = observed_churn_dates(events, as_of="2024-05-30", inactive_days=90)
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
        warnings = EarlyWarning().predict(book.events, as_of=date)
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


# --- the training course's target (85 % right, 30 days ahead) ----------------------

TARGET_WARNINGS = pd.DataFrame(
    {
        "level": pd.Categorical(
            ["red", "blue", "blue", "none"],
            categories=["none", "blue", "yellow", "red"],
            ordered=True,
        )
    },
    index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
)
# a leaves 45 days after the warning (right, 30 days ahead), b 10 days after (right,
# too late), c stays
TARGET_CHURN = pd.Series(pd.to_datetime(["2024-02-15", "2024-01-11"]), index=["a", "b"])


def test_meets_target_compares_precision_at_lead_with_the_target() -> None:
    scored = evaluate_warnings(TARGET_WARNINGS, churn_dates=TARGET_CHURN, as_of="2024-01-01")
    assert PRECISION_TARGET == 0.85
    assert scored.attrs["target_precision"] == 0.85
    assert scored["precision_at_lead"].tolist()[:1] == [0.0]  # blue: b left too soon
    assert scored["precision_at_lead"]["red"] == 1.0
    assert scored["precision_at_lead"]["any"] == pytest.approx(1 / 3)
    assert scored["meets_target"].to_dict() == {
        "blue": False,
        "yellow": False,  # nobody warned
        "red": True,
        "any": False,
    }
    lower = evaluate_warnings(
        TARGET_WARNINGS, churn_dates=TARGET_CHURN, as_of="2024-01-01", target_precision=1 / 3
    )
    assert lower["meets_target"]["any"]


@pytest.mark.parametrize("bad", [1.5, -0.1, "high"])
def test_target_precision_is_a_share(bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="target_precision"):
        evaluate_warnings(
            TARGET_WARNINGS,
            churn_dates=TARGET_CHURN,
            as_of="2024-01-01",
            target_precision=bad,  # type: ignore[arg-type]
        )
