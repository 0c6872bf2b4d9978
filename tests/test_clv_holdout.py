"""Calibration and holdout: the split against lifetimes, holdout_comparison on CDNOW."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifetimes.utils import calibration_and_holdout_data

from crmscore import (
    BetaGeoFitter,
    ColumnNotFoundError,
    InvalidDataError,
    InvalidParameterError,
    calibration_holdout_split,
    holdout_comparison,
)

# --- calibration and holdout -----------------------------------------------------------


@pytest.mark.parametrize(
    ("freq", "calibration_end"),
    [("D", "1997-09-30"), ("W", "1997-09-28")],  # a Sunday
)
def test_calibration_holdout_matches_lifetimes(
    cdnow_transactions: pd.DataFrame, freq: str, calibration_end: str
) -> None:
    split = calibration_holdout_split(
        cdnow_transactions,
        calibration_end=calibration_end,
        observation_end="1998-06-30",
        time_unit=freq,  # type: ignore[arg-type]
    )
    ref = calibration_and_holdout_data(
        cdnow_transactions,
        "customer_id",
        "timestamp",
        calibration_period_end=calibration_end,
        observation_period_end="1998-06-30",
        freq=freq,
        monetary_value_col="amount",  # without it lifetimes fails under pandas 3
    )
    assert split.index.equals(ref.index)
    for ours, theirs in [
        ("frequency", "frequency_cal"),
        ("recency", "recency_cal"),
        ("T", "T_cal"),
        ("frequency_holdout", "frequency_holdout"),
        ("duration_holdout", "duration_holdout"),
    ]:
        np.testing.assert_array_equal(split[ours].to_numpy(np.float64), ref[theirs].to_numpy())
    assert split.attrs["time_unit"] == freq
    assert split.attrs["duration_holdout"] == split["duration_holdout"].iloc[0]


def test_holdout_spend_is_per_purchase_period() -> None:
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b"],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-02-05", "2024-02-05", "2024-02-20", "2024-01-03"]
            ),
            "amount": [10.0, 20.0, 10.0, 60.0, 5.0],
        }
    )
    split = calibration_holdout_split(
        tx, calibration_end="2024-01-31", observation_end="2024-02-29"
    )
    assert split.loc["a", "frequency_holdout"] == 2  # two days with purchases
    assert split.loc["a", "monetary_value_holdout"] == 45.0  # (30 + 60) / 2
    assert (split.loc["b", "frequency_holdout"], split.loc["b", "monetary_value_holdout"]) == (0, 0)
    with pytest.raises(InvalidParameterError, match="observation_end"):
        calibration_holdout_split(tx, calibration_end="2024-01-31", observation_end="2024-01-31")


def test_holdout_comparison_on_cdnow(cdnow_transactions: pd.DataFrame) -> None:
    split = calibration_holdout_split(
        cdnow_transactions, calibration_end="1997-09-30", observation_end="1998-06-30"
    )
    model = BetaGeoFitter().fit(split)
    report = holdout_comparison(split, model=model)
    assert list(report.index) == ["0", "1", "2", "3", "4", "5", "6", "7+", "all"]
    assert report.loc["all", "customers"] == len(split)
    assert report.loc["all", "actual_total"] == split["frequency_holdout"].sum()
    predicted = model.expected_purchases(split, t=split.attrs["duration_holdout"])
    assert report.loc["all", "predicted_total"] == pytest.approx(predicted.sum(), rel=1e-12)
    groups = split["frequency"].clip(upper=7)
    assert report.loc["2", "actual"] == pytest.approx(
        split.loc[groups == 2, "frequency_holdout"].mean(), rel=1e-12
    )
    # Calibration to 1997-09-30 is the published 39-week fit (alpha in days = 7 x 4.414).
    assert model.params.alpha / 7 == pytest.approx(4.414, abs=5e-3)
    reference = model.to_lifetimes().conditional_expected_number_of_purchases_up_to_time(
        split.attrs["duration_holdout"], split["frequency"], split["recency"], split["T"]
    )
    assert report.loc["all", "predicted_total"] == pytest.approx(reference.sum(), rel=1e-10)


def test_holdout_comparison_checks_its_columns(cdnow_transactions: pd.DataFrame) -> None:
    split = calibration_holdout_split(
        cdnow_transactions.iloc[:3000], calibration_end="1997-03-31", observation_end="1997-06-30"
    )
    model = BetaGeoFitter().fit(split)
    for column in ("frequency_holdout", "duration_holdout"):
        with pytest.raises(ColumnNotFoundError, match=f"missing the required column.*{column}"):
            holdout_comparison(split.drop(columns=column), model=model)
    first = split.index[1]
    for bad, message in ((math.nan, "NaN"), (-1, "whole numbers >= 0"), (1.5, "whole numbers")):
        broken = split.assign(
            frequency_holdout=split["frequency_holdout"]
            .astype(float)
            .mask(split.index == first, bad)
        )
        with pytest.raises(InvalidDataError, match=message) as info:
            holdout_comparison(broken, model=model)
        assert info.value.column == "frequency_holdout"
        assert info.value.ids == (first,)
    negative = split.assign(duration_holdout=-1.0)
    with pytest.raises(InvalidDataError, match="negative") as info:
        holdout_comparison(negative, model=model)
    assert info.value.column == "duration_holdout"
    with pytest.raises(InvalidDataError, match="repeats ids"):
        holdout_comparison(pd.concat([split, split.iloc[:1]]), model=model)
