"""Incremental purchase aggregates: merge a batch into the book, and prefixes (private).

The engine keeps :class:`crmscore.rfm.PurchaseAggregates` per customer. A batch
of purchases, no earlier than what each customer has already applied, is
aggregated with the same code as :func:`crmscore.rfm.rfm_table` and merged here;
the merged aggregates equal those of the whole history, so the RFM table derived
from them equals ``rfm_table`` computed from scratch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmscore._purchases import PurchaseAggregates

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "AGGREGATE_COLUMNS",
    "from_frame",
    "merge",
    "prefix_at",
    "to_frame",
]

#: Columns of the per-customer state that hold the purchase aggregates.
AGGREGATE_COLUMNS: tuple[str, ...] = (
    "first_period",
    "last_period",
    "n_periods",
    "first_spend",
    "repeat_spend",
    "n_purchases",
    "first_purchase",
    "last_purchase",
)


def to_frame(aggregates: PurchaseAggregates, index: pd.Index[Any]) -> pd.DataFrame:
    """Return the aggregates as DataFrame columns, indexed by customer id."""
    return pd.DataFrame({c: getattr(aggregates, c) for c in AGGREGATE_COLUMNS}, index=index)


def from_frame(frame: pd.DataFrame) -> PurchaseAggregates:
    """Read the aggregates back from the columns of a per-customer frame."""
    return PurchaseAggregates(
        first_period=frame["first_period"].to_numpy(np.int64),
        last_period=frame["last_period"].to_numpy(np.int64),
        n_periods=frame["n_periods"].to_numpy(np.int64),
        first_spend=frame["first_spend"].to_numpy(np.float64),
        repeat_spend=frame["repeat_spend"].to_numpy(np.float64),
        n_purchases=frame["n_purchases"].to_numpy(np.int64),
        first_purchase=frame["first_purchase"].to_numpy("datetime64[ns]"),
        last_purchase=frame["last_purchase"].to_numpy("datetime64[ns]"),
    )


def merge(
    old: PurchaseAggregates, batch: PurchaseAggregates, known: npt.NDArray[np.bool_]
) -> PurchaseAggregates:
    """Merge a later batch into existing aggregates, row by row.

    Parameters
    ----------
    old : PurchaseAggregates
        The aggregates so far, aligned with ``batch``; ignored where ``known`` is
        false (new customers).
    batch : PurchaseAggregates
        The new batch's aggregates; every batch period is at or after the
        customer's ``old.last_period``.
    known : ndarray of bool
        Whether the customer had aggregates before the batch.

    Notes
    -----
    The batch's first period is a new repeat period unless it is the old last
    period. If it is, and the customer had a single period so far, its spend joins
    the first period's spend; otherwise it is repeat spend.
    """
    overlap = known & (batch.first_period == old.last_period)
    single = overlap & (old.n_periods == 1)
    zero = np.zeros_like(batch.first_spend)
    return PurchaseAggregates(
        first_period=np.where(known, old.first_period, batch.first_period),
        last_period=batch.last_period,
        n_periods=np.where(known, old.n_periods, 0) + batch.n_periods - overlap,
        first_spend=np.where(
            known, old.first_spend + np.where(single, batch.first_spend, zero), batch.first_spend
        ),
        repeat_spend=np.where(
            known,
            old.repeat_spend + batch.repeat_spend + np.where(single, zero, batch.first_spend),
            batch.repeat_spend,
        ),
        n_purchases=np.where(known, old.n_purchases, 0) + batch.n_purchases,
        first_purchase=np.where(known, old.first_purchase, batch.first_purchase),
        last_purchase=batch.last_purchase,
    )


def prefix_at(
    *,
    codes: npt.NDArray[np.int64],
    periods: npt.NDArray[np.int64],
    stamps: npt.NDArray[np.datetime64],
    amounts: npt.NDArray[np.float64],
    query_codes: npt.NDArray[np.int64],
    keys: npt.NDArray[np.int64],
    query_keys: npt.NDArray[np.int64],
) -> tuple[PurchaseAggregates, npt.NDArray[np.bool_]]:
    """Aggregate each query customer's batch purchases up to a point.

    ``codes``, ``periods``, ``stamps``, ``amounts`` and ``keys`` describe the
    batch's purchases sorted by ``(code, key)``, where the key orders a customer's
    purchases (a timestamp, or the position in the stream). For every query
    ``(code, key)`` the result holds the aggregates of that customer's purchases
    with a key at or before the query's, and a mask of the queries that have at
    least one. Everything is computed from running sums: no loop over queries.
    """
    n = codes.size
    if n == 0:  # no purchase in the batch: nothing found for anybody
        m = query_codes.size
        zeros, nat = np.zeros(m, dtype=np.int64), np.full(m, np.datetime64("NaT"), "datetime64[ns]")
        empty = PurchaseAggregates(
            first_period=zeros,
            last_period=zeros,
            n_periods=zeros,
            first_spend=np.zeros(m),
            repeat_spend=np.zeros(m),
            n_purchases=zeros,
            first_purchase=nat,
            last_purchase=nat,
        )
        return empty, np.zeros(m, dtype=bool)
    new_customer = np.r_[True, codes[1:] != codes[:-1]]
    new_period = new_customer | np.r_[True, periods[1:] != periods[:-1]]
    group_start = np.maximum.accumulate(np.where(new_customer, np.arange(n), 0))
    first_period = periods[group_start]
    in_first = periods == first_period

    def running(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Cumulative sum restarted at each customer."""
        total = np.cumsum(values)
        result: npt.NDArray[Any] = total - np.r_[0, total][group_start]
        return result

    cum_periods = running(new_period.astype(np.int64))
    cum_first = running(np.where(in_first, amounts, 0.0))
    cum_repeat = running(np.where(in_first, 0.0, amounts))
    cum_count = running(np.ones(n, dtype=np.int64))

    # Last batch purchase of the same customer at or before the query time.
    position = _last_at_or_before(codes, keys, query_codes, query_keys)
    found = position >= 0
    at = np.where(found, position, 0)
    aggregates = PurchaseAggregates(
        first_period=first_period[at],
        last_period=periods[at],
        n_periods=np.where(found, cum_periods[at], 0),
        first_spend=np.where(found, cum_first[at], 0.0),
        repeat_spend=np.where(found, cum_repeat[at], 0.0),
        n_purchases=np.where(found, cum_count[at], 0),
        first_purchase=stamps[group_start][at],
        last_purchase=stamps[at],
    )
    return aggregates, found


def _last_at_or_before(
    codes: npt.NDArray[np.int64],
    times: npt.NDArray[np.int64],
    query_codes: npt.NDArray[np.int64],
    query_times: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Row of the last ``(code, time)`` at or before each query, or -1.

    Rows are sorted by ``(code, time)``: one ``searchsorted`` finds each query's
    customer rows, and a vectorised binary search the time among them.
    """
    lo = np.searchsorted(codes, query_codes, side="left")
    hi = np.searchsorted(codes, query_codes, side="right")
    # Vectorised binary search inside each customer's rows [lo, hi), which are
    # sorted by time: find the first row later than the query time.
    left, right = lo.copy(), hi.copy()
    while True:
        active = left < right
        if not active.any():
            break
        middle = (left + right) // 2
        later = times[np.minimum(middle, times.size - 1)] > query_times
        left = np.where(active & ~later, middle + 1, left)
        right = np.where(active & later, middle, right)
    position = left - 1
    return np.where(position >= lo, position, -1).astype(np.int64)
