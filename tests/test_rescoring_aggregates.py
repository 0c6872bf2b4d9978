"""The engine's incremental aggregates equal rfm_table's from-scratch arithmetic."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from crmscore._periods import TimeUnit, to_periods
from crmscore._purchases import PurchaseAggregates, aggregate_purchases, rfm_columns
from crmscore.rescoring import _aggregates
from crmscore.rescoring._core import add_months
from crmscore.rfm import rfm_table
from tests.strategies import transaction_logs


def aggregates_of(log: pd.DataFrame, index: pd.Index[Any], unit: TimeUnit) -> PurchaseAggregates:
    codes = index.get_indexer(pd.Index(log["customer_id"])).astype(np.int64)
    stamps = log["timestamp"].to_numpy()
    result = aggregate_purchases(
        codes=codes,
        periods=to_periods(stamps, unit),
        amounts=log["amount"].to_numpy(np.float64),
        refund=np.zeros(len(log), dtype=bool),
        stamps=stamps,
        n_customers=len(index),
    )
    assert isinstance(result, PurchaseAggregates)
    return result


def take(aggregates: PurchaseAggregates, rows: np.ndarray) -> PurchaseAggregates:
    return PurchaseAggregates(
        **{c: getattr(aggregates, c)[rows] for c in _aggregates.AGGREGATE_COLUMNS}
    )


@given(data=st.data(), unit=st.sampled_from(["D", "W", "M"]))
def test_merging_a_later_batch_equals_the_whole_history(
    data: st.DataObject, unit: TimeUnit
) -> None:
    log = data.draw(transaction_logs(string_ids=False)).sort_values("timestamp", kind="stable")
    cut = data.draw(st.integers(0, len(log) - 1))  # the batch is never empty
    before, after = log.iloc[:cut], log.iloc[cut:]
    as_of = log["timestamp"].max()
    whole = rfm_table(log, as_of=as_of, time_unit=unit)
    batch_index = pd.Index(np.unique(after["customer_id"]), name="customer_id")
    batch = aggregates_of(after, batch_index, unit)
    before_index = pd.Index(np.unique(before["customer_id"]), name="customer_id")
    rows = before_index.get_indexer(batch_index)
    known = rows >= 0
    # Rows of customers new in the batch are ignored by merge; any row will do.
    old = (
        take(aggregates_of(before, before_index, unit), np.maximum(rows, 0))
        if len(before)
        else batch
    )
    merged = _aggregates.merge(old, batch, known)
    as_of_period = int(to_periods(np.array([as_of.to_datetime64()]), unit)[0])
    expected = whole.loc[batch_index]
    got = pd.DataFrame(rfm_columns(merged, as_of_period), index=batch_index)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, atol=1e-9)


@given(data=st.data(), unit=st.sampled_from(["D", "W", "M"]))
def test_prefix_aggregates_equal_aggregating_up_to_the_query(
    data: st.DataObject, unit: TimeUnit
) -> None:
    log = data.draw(transaction_logs(string_ids=False))
    log = log.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)
    index = pd.Index(np.unique(log["customer_id"]), name="customer_id")
    codes = index.get_indexer(pd.Index(log["customer_id"])).astype(np.int64)
    stamps = log["timestamp"].to_numpy().astype("datetime64[ns]")
    n_queries = data.draw(st.integers(1, 8))
    query_rows = data.draw(
        st.lists(st.integers(0, len(log) - 1), min_size=n_queries, max_size=n_queries)
    )
    shifts = data.draw(st.lists(st.integers(-3, 3), min_size=n_queries, max_size=n_queries))
    query_codes = codes[query_rows]
    query_stamps = stamps[query_rows] + np.asarray(shifts, dtype="timedelta64[D]")
    prefix, found = _aggregates.prefix_at(
        codes=codes,
        periods=to_periods(stamps, unit),
        stamps=stamps,
        amounts=log["amount"].to_numpy(np.float64),
        query_codes=query_codes,
        keys=stamps.view(np.int64),
        query_keys=query_stamps.view(np.int64),
    )
    for q in range(n_queries):
        customer = index[query_codes[q]]
        upto = log[(log["customer_id"] == customer) & (log["timestamp"] <= query_stamps[q])]
        assert bool(found[q]) == (len(upto) > 0)
        if len(upto) == 0:
            continue
        expected = aggregates_of(upto, pd.Index([customer]), unit)
        for column in _aggregates.AGGREGATE_COLUMNS:
            got, want = getattr(prefix, column)[q], getattr(expected, column)[0]
            if column.endswith("spend"):
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
            else:
                assert got == want, column


@given(
    days=st.lists(st.integers(-30_000, 30_000), min_size=1, max_size=20),
    seconds=st.integers(0, 86_399),
    months=st.integers(-30, 30),
)
def test_add_months_matches_pandas_date_offset(days: list[int], seconds: int, months: int) -> None:
    stamps = np.asarray(days, dtype="datetime64[D]").astype("datetime64[ns]") + np.timedelta64(
        seconds, "s"
    )
    stamps = np.r_[stamps, np.datetime64("NaT", "ns")]
    expected = (pd.DatetimeIndex(stamps) + pd.DateOffset(months=months)).to_numpy()
    np.testing.assert_array_equal(add_months(stamps, months), expected)
