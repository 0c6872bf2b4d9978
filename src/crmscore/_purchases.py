"""Per-customer purchase aggregates of a transaction log (private).

Ground floor: the arithmetic behind :func:`crmscore.rfm.rfm_table`, shared by the RFM
table, the rescoring engine (which keeps :class:`PurchaseAggregates` as its state)
and the Dask and Spark entry points (which run :func:`summarise_transactions` per
partition).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._groups import sum_by_group
from crmscore._ids import compact_int, factorize_ids
from crmscore._periods import TIME_UNITS, TimeUnit, to_periods
from crmscore._validation import (
    as_float_array,
    as_timestamp,
    check_choice,
    check_columns,
    check_frame,
    first_ids,
    reject_overflow,
    timestamp_column,
)
from crmscore.errors import InvalidDataError

if TYPE_CHECKING:
    from crmscore._columns import TransactionColumns

IntArray: TypeAlias = npt.NDArray[np.int64]
FloatArray: TypeAlias = npt.NDArray[np.float64]


def empty_rfm_table(
    *, id_dtype: Any, stamp_dtype: np.dtype[Any], customer_col: str
) -> pd.DataFrame:
    """Build the table of no customers, with the dtypes :func:`rfm_table` gives."""
    integer, real = np.empty(0, np.int64), np.empty(0, np.float64)
    stamp = np.empty(0, stamp_dtype)
    columns: dict[str, Any] = {
        "frequency": integer,
        "recency": real,
        "T": real,
        "monetary_value": real,
        "time_since_last": real,
        "n_purchases": integer,
        "total_spend": real,
        "average_spend": real,
        "first_purchase": stamp,
        "last_purchase": stamp,
    }
    return pd.DataFrame(columns, index=pd.Index([], dtype=id_dtype, name=customer_col))


def summarise_transactions(
    transactions: pd.DataFrame,
    *,
    as_of: Any,
    time_unit: TimeUnit,
    columns: TransactionColumns,
    negative_amounts: Literal["error", "net"],
    allow_empty: bool,
) -> pd.DataFrame:
    """Do the work of :func:`rfm_table` on pandas; optionally allow no customers.

    A partition of a distributed log may hold no purchase at or before ``as_of``
    (``allow_empty=True`` then gives an empty table); a whole log may not.
    """
    customer_col, timestamp_col, amount_col = columns.customer, columns.timestamp, columns.amount
    owner = "rfm_table"
    check_frame(transactions, name="transactions", owner=owner)
    check_choice(time_unit, name="time_unit", owner=owner, choices=TIME_UNITS)
    check_choice(negative_amounts, name="negative_amounts", owner=owner, choices=("error", "net"))
    as_of_ts = as_timestamp(as_of, name="as_of", owner=owner)
    check_columns(
        transactions, [customer_col, timestamp_col, amount_col], frame_name="transactions"
    )

    if len(transactions) == 0 and not allow_empty:
        raise InvalidDataError(
            "transactions has no rows: there is no customer to summarise. Check the query or "
            "filter that built the log."
        )
    ids = transactions[customer_col]
    null_ids = ids.isna().to_numpy()
    if null_ids.any():
        # The ids are null, so the error carries row positions instead.
        positions = np.flatnonzero(null_ids)
        raise InvalidDataError(
            f"Column {customer_col!r} of transactions has {positions.size} null "
            f"customer id(s), first at row positions {positions[:5].tolist()}. "
            "Drop those rows or fill the ids.",
            column=customer_col,
            ids=positions[:5].tolist(),
            n_offending=int(positions.size),
        )
    stamps, as_of64 = timestamp_column(
        transactions, timestamp_col, ids=ids, as_of=as_of_ts, frame_name="transactions"
    )
    amounts = as_float_array(transactions, amount_col, ids=ids, frame_name="transactions")
    negative = amounts < 0
    if negative_amounts == "error" and negative.any():
        bad, total = first_ids(ids, negative)
        raise InvalidDataError.for_ids(
            column=amount_col,
            problem="has negative amounts (returns or refunds)",
            ids=bad,
            n_offending=total,
            hint="Pass negative_amounts='net' to net them into the purchase period, or drop them.",
        )

    periods = to_periods(stamps, time_unit)
    as_of_period = int(to_periods(np.array([as_of64]), time_unit)[0])
    keep = periods <= as_of_period
    if not keep[~negative].any():
        orphans = keep & negative
        if orphans.any():
            _reject_orphan_refunds(ids, orphans, column=amount_col)
        if allow_empty:
            empty = empty_rfm_table(
                id_dtype=ids.dtype, stamp_dtype=stamps.dtype, customer_col=customer_col
            )
            empty.attrs = {"as_of": as_of_ts, "time_unit": time_unit}
            return empty
        raise InvalidDataError(
            f"as_of ({as_of_ts}) is before the first purchase of every customer: no "
            "customer can be summarised. Pass a later as_of.",
            column=timestamp_col,
        )
    if not keep.all():
        ids, stamps, amounts, periods, negative = (
            ids[keep],
            stamps[keep],
            amounts[keep],
            periods[keep],
            negative[keep],
        )
    codes, index = factorize_ids(ids, column=customer_col)
    aggregates = aggregate_purchases(
        codes=codes,
        periods=periods,
        amounts=amounts,
        refund=negative,
        stamps=stamps,
        n_customers=len(index),
    )
    if not isinstance(aggregates, PurchaseAggregates):
        if aggregates.reason == "orphan refund":
            _reject_orphan_refunds(ids, aggregates.rows, column=amount_col)
        bad, total = first_ids(ids, aggregates.rows)
        raise InvalidDataError.for_ids(
            column=amount_col,
            problem="has refunds larger than the purchases they net into (a purchase "
            "period's net spend is below zero)",
            ids=bad,
            n_offending=total,
            hint="A refund nets into the latest purchase period at or before it: drop refunds "
            "of purchases the log does not hold (e.g. made before it starts), or date each "
            "refund no earlier than its purchase.",
        )
    with np.errstate(over="ignore"):  # finite amounts whose total overflows: refused
        overflowed = np.isinf(aggregates.first_spend + aggregates.repeat_spend)
    reject_overflow(overflowed, index, column=amount_col)
    table = pd.DataFrame(rfm_columns(aggregates, as_of_period), index=index)
    table.attrs = {"as_of": as_of_ts, "time_unit": time_unit}
    return table


def _reject_orphan_refunds(
    ids: pd.Series[Any], rows: npt.NDArray[np.bool_], *, column: str
) -> NoReturn:
    bad, total = first_ids(ids, rows)
    raise InvalidDataError.for_ids(
        column=column,
        problem="has refunds before the customer's first purchase",
        ids=bad,
        n_offending=total,
        hint="A refund is netted into an earlier purchase period; drop refunds that have none.",
    )


@attrs.frozen(kw_only=True, eq=False)
class RejectedRows:
    """Rows that make a log impossible to aggregate, and why (private)."""

    rows: npt.NDArray[np.bool_]
    reason: Literal["orphan refund", "negative net spend"]


#: A purchase period's net spend may fall this far below zero, relative to the
#: period's gross amounts, before it is an error: a fully refunded purchase nets
#: to zero up to rounding (0.3 - 0.1 - 0.2 is -2.8e-17).
_NET_TOLERANCE = 1e-9


@attrs.frozen(kw_only=True, eq=False)
class PurchaseAggregates:
    """Per-customer running aggregates from which the RFM table follows (private).

    Periods are absolute ordinals (see :func:`to_periods`), so aggregates computed
    at different times can be merged; the rescoring engine keeps them as its state.
    """

    first_period: IntArray
    last_period: IntArray
    n_periods: IntArray  # distinct purchase periods
    first_spend: FloatArray  # net spend of the first purchase period
    repeat_spend: FloatArray  # net spend of all later periods
    n_purchases: IntArray
    first_purchase: npt.NDArray[np.datetime64]
    last_purchase: npt.NDArray[np.datetime64]


def rfm_columns(aggregates: PurchaseAggregates, as_of_period: int | IntArray) -> dict[str, Any]:
    """Derive the columns of :func:`rfm_table` from purchase aggregates.

    ``as_of_period`` is one period for everybody, or one per customer.
    """
    frequency = aggregates.n_periods - 1
    recency = (aggregates.last_period - aggregates.first_period).astype(np.float64)
    age = (as_of_period - aggregates.first_period).astype(np.float64)
    total_spend = aggregates.first_spend + aggregates.repeat_spend
    return {
        "frequency": frequency.astype(np.int64),
        "recency": recency,
        "T": age,
        "monetary_value": aggregates.repeat_spend / np.maximum(frequency, 1),  # 0 if no repeat
        "time_since_last": age - recency,
        "n_purchases": aggregates.n_purchases.astype(np.int64),
        "total_spend": total_spend,
        "average_spend": total_spend / aggregates.n_purchases,
        "first_purchase": aggregates.first_purchase,
        "last_purchase": aggregates.last_purchase,
    }


def _extreme(
    ufunc: np.ufunc,
    stamps: npt.NDArray[np.datetime64],
    codes: IntArray,
    rows: npt.NDArray[np.bool_],
    n_customers: int,
) -> npt.NDArray[np.datetime64]:
    """Per-customer minimum or maximum timestamp over the selected rows."""
    raw = stamps.view(np.int64)
    info = np.iinfo(np.int64)
    out = np.full(n_customers, info.max if ufunc is np.minimum else info.min, dtype=np.int64)
    selected = np.flatnonzero(rows)
    ufunc.at(out, codes[selected], raw[selected])
    return out.view(stamps.dtype)


def _nets_below_zero(
    key_of_row: npt.NDArray[np.intp], amounts: FloatArray, n_keys: int
) -> npt.NDArray[np.bool_]:
    """Which (customer, purchase period) keys have a net spend below zero."""
    net = sum_by_group(key_of_row, amounts, n_keys)
    gross = sum_by_group(key_of_row, np.abs(amounts), n_keys)
    below: npt.NDArray[np.bool_] = net < -_NET_TOLERANCE * gross
    return below


def aggregate_purchases(
    *,
    codes: IntArray,
    periods: IntArray,
    amounts: FloatArray,
    refund: npt.NDArray[np.bool_],
    stamps: npt.NDArray[np.datetime64],
    n_customers: int,
) -> PurchaseAggregates | RejectedRows:
    """Aggregate validated transaction arrays per customer code ``0..n_customers-1``.

    Returns the aggregates, or the rows that prevent them (the caller turns them
    into an error): refunds with no purchase period at or before them, or the rows
    of customers a purchase period of whom nets below zero.
    """
    purchase = ~refund
    has_refunds = bool(refund.any())

    def purchases(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return values[purchase] if has_refunds else values

    p_codes = purchases(codes)
    origin = int(purchases(periods).min())
    width = int(periods.max()) - origin + 1
    row_period = (periods - origin).astype(compact_int(width))

    # One packed key per purchase, customer in the high part and period in the low;
    # sorted, then deduplicated: one key per (customer, purchase period).
    key_type = compact_int(n_customers * width)
    keys = np.sort(p_codes.astype(key_type) * key_type(width) + purchases(row_period))
    distinct = np.empty(keys.size, dtype=bool)
    distinct[0] = True
    np.not_equal(keys[1:], keys[:-1], out=distinct[1:])
    first_row = np.flatnonzero(distinct)  # where each distinct key starts among the rows
    keys = keys[distinct]
    owner = keys // width
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    ends = np.r_[starts[1:] - 1, keys.size - 1]
    if starts.size != n_customers:
        # Customers whose only rows are refunds.
        orphan_customers = np.ones(n_customers, dtype=bool)
        orphan_customers[owner[starts]] = False
        return RejectedRows(rows=orphan_customers[codes], reason="orphan refund")
    period_of_key = keys - owner * width
    first_period = period_of_key[starts].astype(row_period.dtype)
    last_period = period_of_key[ends].astype(row_period.dtype)

    if has_refunds:
        # A refund counts towards the latest purchase period at or before it.
        r_codes = codes[refund]
        position = np.searchsorted(keys, r_codes * width + row_period[refund], side="right") - 1
        valid = position >= 0
        valid[valid] = owner[position[valid]] == r_codes[valid]
        if not valid.all():
            orphans = np.zeros(codes.size, dtype=bool)
            orphans[np.flatnonzero(refund)[~valid]] = True
            return RejectedRows(rows=orphans, reason="orphan refund")
        row_period = row_period.copy()
        row_period[refund] = period_of_key[position]
        key_of_row = np.empty(codes.size, dtype=np.intp)
        key_of_row[refund] = position
        key_of_row[purchase] = np.searchsorted(keys, p_codes * width + row_period[purchase])
        below = _nets_below_zero(key_of_row, amounts, keys.size)
        if below.any():
            negative_customer = np.zeros(n_customers, dtype=bool)
            negative_customer[owner[below]] = True
            return RejectedRows(rows=negative_customer[codes], reason="negative net spend")

    # One pass sums both: bin 2c holds customer c's repeat spend, bin 2c + 1 the first
    # period's; summed independently of row order, bit for bit.
    in_first = row_period == first_period[codes]
    spend = sum_by_group(2 * codes + in_first, amounts, 2 * n_customers)
    if has_refunds:
        np.maximum(spend, 0.0, out=spend)  # a fully refunded period nets to -0.0 or -1e-17

    # The first purchase lies in the first period and the last in the last period,
    # so the min and max only need the (few) rows of those periods.
    in_last = row_period == last_period[codes]
    if has_refunds:
        in_first, in_last = in_first & purchase, in_last & purchase
    return PurchaseAggregates(
        first_period=first_period.astype(np.int64) + origin,
        last_period=last_period.astype(np.int64) + origin,
        n_periods=(ends - starts + 1).astype(np.int64),
        first_spend=spend[1::2],
        repeat_spend=spend[0::2],
        n_purchases=np.diff(np.r_[first_row[starts], p_codes.size]),  # rows per customer
        first_purchase=_extreme(np.minimum, stamps, codes, in_first, n_customers),
        last_purchase=_extreme(np.maximum, stamps, codes, in_last, n_customers),
    )
