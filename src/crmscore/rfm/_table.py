"""The RFM table: transactions to one row per customer (BG/NBD and classic columns)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeAlias, overload

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

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
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    import dask.dataframe as dd

TimeUnit: TypeAlias = Literal["D", "W", "M"]
TIME_UNITS: tuple[TimeUnit, ...] = ("D", "W", "M")

#: Column order of the table returned by :func:`rfm_table`.
RFM_COLUMNS: tuple[str, ...] = (
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "time_since_last",
    "n_purchases",
    "total_spend",
    "average_spend",
    "first_purchase",
    "last_purchase",
)

IntArray: TypeAlias = npt.NDArray[np.int64]
FloatArray: TypeAlias = npt.NDArray[np.float64]


def to_periods(stamps: npt.NDArray[np.datetime64], time_unit: TimeUnit) -> IntArray:
    """Period ordinals of wall-clock timestamps: days, Monday-based weeks or months.

    Ordinals count from the Unix epoch, so differences between them are whole
    numbers of periods; a week runs Monday to Sunday, as pandas' ``"W"`` (``W-SUN``)
    periods do.
    """
    if time_unit == "M":
        return stamps.astype("datetime64[M]").view(np.int64)
    days = stamps.astype("datetime64[D]").view(np.int64)
    if time_unit == "D":
        return days
    # 1970-01-01 was a Thursday: shifting by 3 days makes weeks start on Monday.
    return (days + 3) // 7


def _factorize_sorted(ids: pd.Series[Any], *, column: str) -> tuple[IntArray, pd.Index[Any]]:
    """Dense codes of customer ids, numbered in sorted id order.

    Sorted numbering makes the output independent of row order. Integer ids in a
    compact range (the usual case for CRM keys) are numbered by direct addressing,
    which is several times faster than hashing.
    """
    values = ids.to_numpy()
    if values.dtype.kind in "iu" and values.size:
        low, high = values.min(), values.max()
        span = int(high) - int(low) + 1
        if span <= max(4 * values.size, 1 << 20):
            offset = (values - low).astype(np.intp)
            present = np.zeros(span, dtype=bool)
            present[offset] = True
            rank = np.cumsum(present, dtype=_compact(span)) - 1
            uniques = (np.flatnonzero(present) + low).astype(values.dtype)
            return rank[offset].astype(np.int64), pd.Index(uniques, name=column)
    try:
        codes, uniques = pd.factorize(ids, sort=True)
    except TypeError as exc:
        raise InvalidDataError(
            f"Column {column!r} mixes id types that cannot be ordered ({exc}). "
            "Use one type for customer ids (e.g. all str or all int).",
            column=column,
        ) from exc
    return codes.astype(np.int64, copy=False), pd.Index(uniques, name=column)


@overload
def rfm_table(
    transactions: pd.DataFrame,
    *,
    as_of: Any,
    time_unit: TimeUnit = ...,
    customer_col: str = ...,
    timestamp_col: str = ...,
    amount_col: str = ...,
    negative_amounts: Literal["error", "net"] = ...,
) -> pd.DataFrame: ...


@overload
def rfm_table(
    transactions: dd.DataFrame,
    *,
    as_of: Any,
    time_unit: TimeUnit = ...,
    customer_col: str = ...,
    timestamp_col: str = ...,
    amount_col: str = ...,
    negative_amounts: Literal["error", "net"] = ...,
) -> dd.DataFrame: ...


def rfm_table(
    transactions: pd.DataFrame | dd.DataFrame,
    *,
    as_of: Any,
    time_unit: TimeUnit = "D",
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    amount_col: str = "amount",
    negative_amounts: Literal["error", "net"] = "error",
) -> pd.DataFrame | dd.DataFrame:
    r"""Summarise a transaction log into one row per customer.

    Parameters
    ----------
    transactions : pandas.DataFrame or dask.dataframe.DataFrame
        One row per purchase, with a customer id, a ``datetime64`` timestamp (naive
        or time-zone aware) and a numeric amount. Not modified. A Dask frame gives a
        lazy Dask frame back (see :func:`crmscore.scaleout.rfm_table_dask`).
    as_of : date-like
        End of the observation period. Time is measured in whole periods of
        ``time_unit``: every transaction in the period that contains ``as_of``
        counts, later ones are left out (the ``observation_period_end`` convention
        of *lifetimes*).
    time_unit : {"D", "W", "M"}, default "D"
        The period: calendar day, week (Monday to Sunday, pandas' ``"W"``) or
        calendar month.
    customer_col, timestamp_col, amount_col : str
        Column names in ``transactions``.
    negative_amounts : {"error", "net"}, default "error"
        What to do with negative amounts (returns, refunds). ``"error"`` raises.
        ``"net"`` subtracts each refund from the customer's latest purchase period
        at or before it; a refund never creates a purchase period itself. Two cases
        raise, naming the customers: a refund before a customer's first purchase,
        and refunds that take a purchase period's net spend below zero (purchases
        of 10 and 20, then a refund of 50, would give a negative ``monetary_value``
        and ``total_spend``). A period refunded exactly in full nets to 0 and is
        kept.

    Returns
    -------
    pandas.DataFrame or dask.dataframe.DataFrame
        For a pandas log, a pandas frame indexed by customer id (sorted; index
        name ``customer_col``). For a Dask log, a lazy Dask frame with the same
        columns and dtypes, indexed by customer id and sorted *within* each
        partition only (customers are spread over partitions by a hash of the
        id); ``result.compute().sort_index()`` gives the pandas frame. Columns:

        ``frequency`` (int)
            Repeat purchase periods: distinct periods with a purchase, minus one.
        ``recency`` (float)
            Periods from the first to the last purchase period.
        ``T`` (float)
            Periods from the first purchase period to the ``as_of`` period.
        ``monetary_value`` (float)
            Mean spend per repeat purchase period (0 when ``frequency`` is 0).
        ``time_since_last`` (float)
            Classic recency: periods from the last purchase period to ``as_of``
            (``T - recency``).
        ``n_purchases`` (int)
            Purchase transactions (rows with a non-negative amount).
        ``total_spend``, ``average_spend`` (float)
            Net spend, and net spend per purchase transaction.
        ``first_purchase``, ``last_purchase`` (datetime64)
            Timestamps of the first and last purchase, in wall-clock time.

        ``attrs`` holds ``as_of`` and ``time_unit``.

    Raises
    ------
    ColumnNotFoundError
        A required column is missing.
    InvalidDataError
        An empty log; null ids (the error's ``ids`` are then row positions, as ids
        are missing); null timestamps; non-datetime timestamps or non-numeric amounts
        (object and text columns are not converted: the error names the customers
        whose values are not dates or numbers, if any, and suggests
        ``pd.to_datetime``/``pd.to_numeric``); non-finite amounts; negative amounts
        with ``negative_amounts="error"``; with ``"net"``, a refund before any
        purchase or a purchase period netting below zero; no purchase at or before
        ``as_of``. Except for the empty log and the ``as_of`` case, the error's
        ``ids`` and ``n_offending`` name the offending customers.
    InvalidParameterError
        A parameter outside its domain.

    See Also
    --------
    RFMScorer : scores 1..n from this table.
    rfm_segments : scores and named segments in one call.

    Notes
    -----
    Purchases are first grouped into periods: two purchases on the same day count
    once in daily units, and their amounts are summed. With :math:`x` repeat
    periods, first period :math:`t_0`, last period :math:`t_x` and observation
    period :math:`\tau` (that of ``as_of``), ``frequency`` is :math:`x`,
    ``recency`` is :math:`t_x - t_0` and ``T`` is :math:`\tau - t_0`, the inputs of
    the BG/NBD model (Fader, Hardie and Lee, 2005). ``monetary_value`` is the mean
    of the period sums of the :math:`x` repeat periods, the input of the
    Gamma-Gamma spend model. In days and weeks these equal
    ``lifetimes.utils.summary_data_from_transaction_data`` with
    ``observation_period_end=as_of`` and ``freq=time_unit``.

    The computation is a sort of one packed ``(customer, period)`` integer per
    transaction plus a few ``numpy.bincount`` calls: no Python loop and no pandas
    group-by.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"],
    ...     "timestamp": pd.to_datetime(
    ...         ["2024-01-01", "2024-01-01", "2024-01-11", "2024-01-05"]),
    ...     "amount": [10.0, 5.0, 30.0, 8.0],
    ... })
    >>> table = rfm_table(tx, as_of="2024-01-31")
    >>> table[["frequency", "recency", "T", "monetary_value"]]
                 frequency  recency     T  monetary_value
    customer_id
    a                    1     10.0  30.0            30.0
    b                    0      0.0  26.0             0.0
    >>> table[["time_since_last", "n_purchases", "total_spend"]]
                 time_since_last  n_purchases  total_spend
    customer_id
    a                       20.0            3         45.0
    b                       26.0            1          8.0
    """
    if isinstance(transactions, pd.DataFrame):
        return summarise_transactions(
            transactions,
            as_of=as_of,
            time_unit=time_unit,
            customer_col=customer_col,
            timestamp_col=timestamp_col,
            amount_col=amount_col,
            negative_amounts=negative_amounts,
            allow_empty=False,
        )
    if is_dask_frame(transactions):
        from crmscore.scaleout import rfm_table_dask  # noqa: PLC0415  (optional extra)

        return rfm_table_dask(
            transactions,
            as_of=as_of,
            time_unit=time_unit,
            customer_col=customer_col,
            timestamp_col=timestamp_col,
            amount_col=amount_col,
            negative_amounts=negative_amounts,
        )
    raise InvalidParameterError.for_value(
        name="transactions",
        owner="rfm_table",
        allowed="a pandas or dask DataFrame",
        got=type(transactions).__name__,
    )


def is_dask_frame(obj: object) -> bool:
    """Tell a Dask DataFrame from a pandas one without importing Dask."""
    return type(obj).__module__.startswith("dask") and hasattr(obj, "map_partitions")


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
    customer_col: str,
    timestamp_col: str,
    amount_col: str,
    negative_amounts: Literal["error", "net"],
    allow_empty: bool,
) -> pd.DataFrame:
    """Do the work of :func:`rfm_table` on pandas; optionally allow no customers.

    A partition of a distributed log may hold no purchase at or before ``as_of``
    (``allow_empty=True`` then gives an empty table); a whole log may not.
    """
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
    codes, index = _factorize_sorted(ids, column=customer_col)
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


def _compact(limit: int) -> type[np.signedinteger[Any]]:
    """Return the narrowest signed integer type (int32 or int64) that holds ``limit``.

    Sorting and gathering int32 values is two to three times faster than int64.
    """
    return np.int32 if limit < np.iinfo(np.int32).max else np.int64


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
    net = np.bincount(key_of_row, weights=amounts, minlength=n_keys)
    gross = np.bincount(key_of_row, weights=np.abs(amounts), minlength=n_keys)
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
    row_period = (periods - origin).astype(_compact(width))

    # One packed key per purchase, customer in the high part and period in the low;
    # sorted, then deduplicated: one key per (customer, purchase period).
    key_type = _compact(n_customers * width)
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

    # One pass sums both: bin 2c holds customer c's repeat spend, bin 2c + 1 the first period's.
    in_first = row_period == first_period[codes]
    bins = np.bincount(2 * codes + in_first, weights=amounts, minlength=2 * n_customers)
    spend = bins.astype(np.float64, copy=False)  # already float64; the stubs say intp
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
