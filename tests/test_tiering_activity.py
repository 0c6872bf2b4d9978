"""event_indicators (tiering/_activity.py): by hand and against a pandas group-by reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given

from crmscore import (
    InvalidParameterError,
    event_indicators,
)
from tests.strategies import EVENTS_AS_OF, event_logs

# --- event indicators -----------------------------------------------------------------


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
