"""Hypothesis strategies shared by the test modules."""

from __future__ import annotations

from typing import Any

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


EVENTS_AS_OF = pd.Timestamp("2024-06-30")
SIMULATED_KINDS = (
    "purchase",
    "interaction",
    "review",
    "complaint",
    "cart_abandoned",
    "cart_paid",
    "account_change",
)


@st.composite
def event_logs(
    draw: st.DrawFn, *, max_customers: int = 6, max_rows: int = 60, max_age: int = 400
) -> pd.DataFrame:
    """Small event logs around EVENTS_AS_OF (some events after it), any row order.

    Purchases carry an amount and reviews a rating 1-5; other kinds have no value.
    """
    n_rows = draw(st.integers(min_value=1, max_value=max_rows))
    n_customers = draw(st.integers(min_value=1, max_value=max_customers))
    customer = draw(st.lists(st.integers(0, n_customers - 1), min_size=n_rows, max_size=n_rows))
    # Mostly in the past; a few after as_of, which are left out.
    age = draw(st.lists(st.integers(-5, max_age), min_size=n_rows, max_size=n_rows))
    second = draw(st.lists(st.integers(0, 86_399), min_size=n_rows, max_size=n_rows))
    kind = draw(st.lists(st.sampled_from(SIMULATED_KINDS), min_size=n_rows, max_size=n_rows))
    number = draw(st.lists(st.integers(1, 50_000), min_size=n_rows, max_size=n_rows))
    value = [
        n / 100 if k == "purchase" else float(n % 5 + 1) if k == "review" else np.nan
        for k, n in zip(kind, number, strict=True)
    ]
    stamps = EVENTS_AS_OF - pd.to_timedelta(np.asarray(age) * 86_400 - np.asarray(second), unit="s")
    return pd.DataFrame(
        {
            "customer_id": [f"c{c}" for c in customer],
            "timestamp": stamps,
            "kind": kind,
            "value": value,
        }
    )


# --- tiering ----------------------------------------------------------------------------

#: Saaty's 1-9 scale with reciprocals, the judgments a decision maker can give.
SAATY_VALUES: tuple[float, ...] = tuple(
    sorted({float(v) for v in range(1, 10)} | {1.0 / v for v in range(2, 10)})
)


@st.composite
def reciprocal_judgments(
    draw: st.DrawFn, *, min_size: int = 1, max_size: int = 9
) -> tuple[list[str], list[list[float]]]:
    """Labels and a full reciprocal matrix of judgments from Saaty's scale (any consistency)."""
    n = draw(st.integers(min_value=min_size, max_value=max_size))
    labels = [f"c{k}" for k in range(n)]
    rows = [[1.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            value = draw(st.sampled_from(SAATY_VALUES))
            rows[i][j], rows[j][i] = value, 1.0 / value
    return labels, rows


@st.composite
def consistent_weights(draw: st.DrawFn, *, min_size: int = 1, max_size: int = 12) -> list[float]:
    """Positive weights whose ratios stay on Saaty's scale (1/3 to 3)."""
    n = draw(st.integers(min_value=min_size, max_value=max_size))
    return draw(
        st.lists(
            st.floats(min_value=1.0, max_value=3.0, allow_nan=False),
            min_size=n,
            max_size=n,
        )
    )


@st.composite
def indicator_frames(
    draw: st.DrawFn, *, columns: tuple[str, ...], min_rows: int = 2, max_rows: int = 30
) -> pd.DataFrame:
    """Per-customer indicator frames with ties, negatives and a unique string index."""
    n = draw(st.integers(min_value=min_rows, max_value=max_rows))
    values = st.one_of(
        st.integers(min_value=-5, max_value=5).map(float),
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_subnormal=False),
    )
    data = {c: draw(st.lists(values, min_size=n, max_size=n)) for c in columns}
    return pd.DataFrame(data, index=pd.Index([f"k{i:03d}" for i in range(n)], name="customer_id"))


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


@st.composite
def transaction_logs_with_refunds(
    draw: st.DrawFn, *, max_customers: int = 12, max_rows: int = 60, max_days: int = 200
) -> pd.DataFrame:
    """Logs of :func:`transaction_logs` plus refunds that ``negative_amounts="net"`` accepts.

    Each refund returns part or all (in whole cents) of one purchase, on the same
    day and no earlier in it, so it nets into that purchase's period in any time
    unit and no purchase period's net spend goes below zero. A purchase gets at
    most one refund; refund rows are shuffled in among the purchases.
    """
    log = draw(transaction_logs(max_customers=max_customers, max_rows=max_rows, max_days=max_days))
    cents = np.round(log["amount"].to_numpy() * 100).astype(np.int64)
    refundable = np.flatnonzero(cents > 0)
    if refundable.size == 0:
        return log
    chosen = draw(
        st.lists(st.sampled_from(refundable.tolist()), max_size=refundable.size, unique=True)
    )
    refunds = []
    for row in chosen:
        stamp = log["timestamp"].iloc[row]
        seconds_left = 86_399 - (stamp - stamp.normalize()).seconds
        # About one refund in four returns the whole purchase (net exactly zero).
        whole = draw(st.booleans()) and draw(st.booleans())
        amount = cents[row] if whole else draw(st.integers(1, int(cents[row])))
        refunds.append(
            {
                "customer_id": log["customer_id"].iloc[row],
                "timestamp": stamp + pd.Timedelta(seconds=draw(st.integers(0, seconds_left))),
                "amount": -amount / 100,
            }
        )
    combined = pd.concat(
        [log, pd.DataFrame(refunds, columns=log.columns).astype(log.dtypes.to_dict())],
        ignore_index=True,
    )
    order = draw(st.permutations(range(len(combined))))
    return combined.iloc[list(order)].reset_index(drop=True)


# --- ids in mixed spellings (tests/test_ids.py, the engine) --------------------------

BIG = 2**70

#: The integers drawn: small, at the int64 edges, and beyond 64 bits.
INTEGERS = st.one_of(
    st.integers(0, 40),
    st.sampled_from([2**31, 2**53, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, BIG]),
)


def spelled(value: int, how: str) -> Any:
    """One spelling of the integer ``value`` inside an object column."""
    if how == "float" and abs(value) <= 2**53:
        return float(value)
    if how == "numpy":
        for dtype in (np.uint8, np.int16, np.int64, np.uint64):
            info = np.iinfo(dtype)
            if info.min <= value <= info.max:
                return dtype(value)
    return value


@st.composite
def id_columns(draw: st.DrawFn, *, min_size: int = 1, max_size: int = 12) -> list[Any]:
    """Object columns of ids: integers in mixed spellings, and some strings."""
    values = draw(
        st.lists(
            st.one_of(INTEGERS, st.sampled_from(["1", "a", "b", "2**70"])),
            min_size=min_size,
            max_size=max_size,
        )
    )
    hows = draw(
        st.lists(
            st.sampled_from(["int", "float", "numpy"]), min_size=len(values), max_size=len(values)
        )
    )
    return [v if isinstance(v, str) else spelled(v, h) for v, h in zip(values, hows, strict=True)]


def plain(value: Any) -> int | str:
    return value if isinstance(value, str) else int(value)
