"""Hypothesis strategies shared by the test modules."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

ORIGIN = pd.Timestamp("2023-01-02")  # a Monday


@st.composite
def transaction_logs(
    draw: st.DrawFn,
    *,
    max_customers: int = 12,
    max_rows: int = 60,
    max_days: int = 200,
    string_ids: bool | None = None,
) -> pd.DataFrame:
    """Small transaction logs with repeated days, ties and arbitrary row order."""
    n_rows = draw(st.integers(min_value=1, max_value=max_rows))
    n_customers = draw(st.integers(min_value=1, max_value=max_customers))
    use_strings = draw(st.booleans()) if string_ids is None else string_ids
    customer = draw(st.lists(st.integers(0, n_customers - 1), min_size=n_rows, max_size=n_rows))
    day = draw(st.lists(st.integers(0, max_days), min_size=n_rows, max_size=n_rows))
    second = draw(st.lists(st.integers(0, 86_399), min_size=n_rows, max_size=n_rows))
    cents = draw(st.lists(st.integers(0, 500_000), min_size=n_rows, max_size=n_rows))
    ids: list[object] = (
        [f"c{c:03d}" for c in customer] if use_strings else [c * 7 + 100 for c in customer]
    )
    stamps = ORIGIN + pd.to_timedelta(np.asarray(day) * 86_400 + np.asarray(second), unit="s")
    return pd.DataFrame(
        {
            "customer_id": ids,
            "timestamp": stamps,
            "amount": np.asarray(cents, dtype=np.float64) / 100,
        }
    )


def as_of_within(log: pd.DataFrame) -> st.SearchStrategy[pd.Timestamp]:
    """An as_of between the first transaction and 30 days after the last."""
    first = log["timestamp"].min().normalize()
    span = (log["timestamp"].max().normalize() - first).days + 30
    return st.integers(0, span).map(lambda d: first + pd.Timedelta(days=d))


def log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    """Floats spread evenly over orders of magnitude between ``low`` and ``high``."""
    return st.floats(np.log10(low), np.log10(high)).map(lambda e: float(10.0**e))


@st.composite
def rfm_rows(
    draw: st.DrawFn,
    *,
    max_customers: int = 20,
    max_frequency: int = 60,
    max_age: float = 400.0,
    whole_periods: bool | None = None,
) -> pd.DataFrame:
    """Small BG/NBD tables (frequency, recency, T, monetary_value) that keep the contract."""
    n = draw(st.integers(1, max_customers))
    whole = draw(st.booleans()) if whole_periods is None else whole_periods
    ages = draw(st.lists(st.floats(0.0, max_age), min_size=n, max_size=n))
    shares = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
    frequency = draw(st.lists(st.integers(0, max_frequency), min_size=n, max_size=n))
    spend = draw(st.lists(st.floats(0.5, 500.0), min_size=n, max_size=n))
    age = np.floor(ages) if whole else np.asarray(ages)
    x = np.asarray(frequency)
    recency = np.where(x > 0, age * np.asarray(shares), 0.0)
    if whole:
        recency = np.floor(recency)
    return pd.DataFrame(
        {
            "frequency": x,
            "recency": recency,
            "T": age,
            "monetary_value": np.where(x > 0, spend, 0.0),
        },
        index=pd.Index([f"c{i:03d}" for i in range(n)], name="customer_id"),
    )
