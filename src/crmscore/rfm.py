"""Recency, frequency, monetary value: the per-customer table, scores and segments.

Three steps, each a pure function or a frozen value:

1. :func:`rfm_table` turns a transaction log into one row per customer, with the
   BG/NBD columns (``frequency``, ``recency``, ``T``, ``monetary_value``, as in
   *lifetimes* and *pymc-marketing*) and the classic RFM columns.
2. :class:`RFMScorer` turns columns of that table into scores 1..n, by quantiles,
   by fixed business thresholds, or above/below a reference such as the mean. It
   is fitted (:meth:`RFMScorer.fit`) to a population, and the fitted edges
   (:class:`FittedRFMScorer`) can be applied to new customers unchanged.
3. :class:`SegmentMap` names cells of the score grid. Two maps are built in: the
   classic eleven-segment map (:data:`CLASSIC_SEGMENTS`) and the eight-class value
   matrix of the policy texts (:data:`VALUE_MATRIX_SEGMENTS`).

:func:`rfm_segments` chains steps 2 and 3.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

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
    check_unique_index,
    first_ids,
    integer_at_least,
    timestamp_column,
)
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import dask.dataframe as dd

__all__ = [
    "CLASSIC_SEGMENTS",
    "TIME_UNITS",
    "VALUE_MATRIX_SEGMENTS",
    "FittedRFMScorer",
    "FixedBins",
    "QuantileBins",
    "RFMScorer",
    "ReferenceBins",
    "ScoreDimension",
    "Segment",
    "SegmentMap",
    "TimeUnit",
    "rfm_segments",
    "rfm_table",
]

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


# --------------------------------------------------------------------------------------
# The RFM table
# --------------------------------------------------------------------------------------


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
        at or before it; a refund never creates a purchase period itself, and a
        refund before a customer's first purchase raises.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (sorted; index name ``customer_col``), columns:

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
        Null ids or timestamps, non-datetime timestamps, non-numeric or non-finite
        amounts, negative amounts with ``negative_amounts="error"``, a refund before
        any purchase, or no purchase at or before ``as_of``.
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

    ids = transactions[customer_col]
    null_ids = ids.isna().to_numpy()
    if null_ids.any():
        raise InvalidDataError(
            f"Column {customer_col!r} of transactions has {int(null_ids.sum())} null "
            f"customer id(s), first at row positions {np.flatnonzero(null_ids)[:5].tolist()}. "
            "Drop those rows or fill the ids.",
            column=customer_col,
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
        bad, total = first_ids(ids, aggregates)
        raise InvalidDataError.for_ids(
            column=amount_col,
            problem="has refunds before the customer's first purchase",
            ids=bad,
            n_offending=total,
            hint="A refund is netted into an earlier purchase period; drop refunds that have none.",
        )
    table = pd.DataFrame(rfm_columns(aggregates, as_of_period), index=index)
    table.attrs = {"as_of": as_of_ts, "time_unit": time_unit}
    return table


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


def aggregate_purchases(
    *,
    codes: IntArray,
    periods: IntArray,
    amounts: FloatArray,
    refund: npt.NDArray[np.bool_],
    stamps: npt.NDArray[np.datetime64],
    n_customers: int,
) -> PurchaseAggregates | npt.NDArray[np.bool_]:
    """Aggregate validated transaction arrays per customer code ``0..n_customers-1``.

    Returns the aggregates, or a boolean mask of the refund rows that have no
    purchase period at or before them (the caller turns it into an error).
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
        return orphan_customers[codes]
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
            return orphans
        row_period = row_period.copy()
        row_period[refund] = period_of_key[position]

    # One pass sums both: bin 2c holds customer c's repeat spend, bin 2c + 1 the first period's.
    in_first = row_period == first_period[codes]
    bins = np.bincount(2 * codes + in_first, weights=amounts, minlength=2 * n_customers)
    spend = bins.astype(np.float64, copy=False)  # already float64; the stubs say intp

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


# --------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------


_positive_int = integer_at_least(2)


def _to_float_tuple(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _check_edges(
    instance: object, attribute: attrs.Attribute[tuple[float, ...]], value: tuple[float, ...]
) -> None:
    owner = type(instance).__name__
    if not value:
        raise InvalidParameterError.for_value(
            name=attribute.name, owner=owner, allowed="a non-empty sequence of numbers", got=value
        )
    array = np.asarray(value)
    if not np.isfinite(array).all() or (np.diff(array) < 0).any():
        raise InvalidParameterError.for_value(
            name=attribute.name, owner=owner, allowed="finite and non-decreasing", got=value
        )


@attrs.frozen(kw_only=True)
class QuantileBins:
    r"""Scores 1..``n_bins`` by quantiles of the fitted population.

    The tie rule: a value's score is one plus the number of quantile edges it is
    strictly better than, where the k-th edge is the value of the customer at
    position :math:`\lceil k n / n_{bins} \rceil` in the order from worst to best.
    Identical values therefore always get identical scores, and the result does not
    depend on row order. Under heavy ties (e.g. most customers with one purchase) a
    tied block takes the score of its worst-placed member and some scores stay
    empty, rather than splitting identical customers.
    """

    n_bins: int = attrs.field(default=5, validator=_positive_int)
    """How many scores (at least 2)."""

    @property
    def n_scores(self) -> int:
        """Number of distinct scores."""
        return self.n_bins


@attrs.frozen(kw_only=True)
class FixedBins:
    """Scores from fixed business thresholds.

    With ``k`` edges the scores run 1..k+1: a value scores one plus the number of
    edges it is strictly better than. A value exactly at an edge gets the lower
    score (``at_edge="lower"``) or the higher one (``at_edge="higher"``).

    Examples
    --------
    "Purchased within the last 30 days" as a 2-level recency score:

    >>> rule = ScoreDimension(column="time_since_last", higher_is_better=False,
    ...                       bins=FixedBins(edges=(30,), at_edge="higher"))
    """

    edges: tuple[float, ...] = attrs.field(converter=_to_float_tuple, validator=_check_edges)
    """Thresholds in increasing order (equal neighbours leave a score empty)."""

    at_edge: Literal["lower", "higher"] = attrs.field(
        default="lower", validator=attrs.validators.in_(("lower", "higher"))
    )
    """Which of the two scores a value exactly at an edge gets."""

    @property
    def n_scores(self) -> int:
        """Number of distinct scores."""
        return len(self.edges) + 1


@attrs.frozen(kw_only=True)
class ReferenceBins:
    """Two scores: 2 if strictly better than a population statistic, else 1.

    This is the high/low split of the RFM value matrix (e.g. above or below the
    mean). Fitting freezes the statistic, so later customers are compared with the
    same reference.
    """

    statistic: Literal["mean", "median"] = attrs.field(
        default="mean", validator=attrs.validators.in_(("mean", "median"))
    )
    """The population statistic used as the reference."""

    @property
    def n_scores(self) -> int:
        """Number of distinct scores."""
        return 2


Bins: TypeAlias = QuantileBins | FixedBins | ReferenceBins
_BIN_TYPES: dict[str, type[Bins]] = {
    "quantile": QuantileBins,
    "fixed": FixedBins,
    "reference": ReferenceBins,
}


def _bins_to_dict(bins: Bins) -> dict[str, Any]:
    kind = next(k for k, v in _BIN_TYPES.items() if isinstance(bins, v))
    out: dict[str, Any] = {"kind": kind, **attrs.asdict(bins)}
    if "edges" in out:
        out["edges"] = list(out["edges"])
    return out


def _bins_from_dict(data: Mapping[str, Any]) -> Bins:
    fields = dict(data)
    kind = fields.pop("kind", None)
    if kind not in _BIN_TYPES:
        raise InvalidParameterError.for_value(
            name="kind", owner="bins", allowed="one of {'quantile', 'fixed', 'reference'}", got=kind
        )
    return _BIN_TYPES[kind](**fields)


@attrs.frozen(kw_only=True)
class ScoreDimension:
    """How one of R, F, M is scored: which column, which direction, which bins."""

    column: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Column of the RFM table (any numeric column works)."""

    higher_is_better: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    """True for benefits (frequency, spend); False for costs (time since last purchase)."""

    bins: Bins = attrs.field(
        factory=QuantileBins,
        validator=attrs.validators.instance_of((QuantileBins, FixedBins, ReferenceBins)),
    )
    """The binning rule."""

    def fit(self, values: FloatArray) -> FixedBins:
        """Learn the edges of this dimension from a population's values."""
        bins = self.bins
        if isinstance(bins, FixedBins):
            return bins
        if isinstance(bins, ReferenceBins):
            reference = float(np.mean(values) if bins.statistic == "mean" else np.median(values))
            return FixedBins(edges=(reference,), at_edge="lower")
        ordered = np.sort(values)
        if not self.higher_is_better:
            ordered = ordered[::-1]
        n = ordered.size
        k = np.arange(1, bins.n_bins)
        positions = -(-k * n // bins.n_bins) - 1  # ceil(k n / n_bins) - 1
        edges = np.sort(ordered[positions])
        return FixedBins(edges=tuple(edges.tolist()), at_edge="lower")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "column": self.column,
            "higher_is_better": self.higher_is_better,
            "bins": _bins_to_dict(self.bins),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreDimension:
        """Inverse of :meth:`to_dict`."""
        return cls(
            column=data["column"],
            higher_is_better=data["higher_is_better"],
            bins=_bins_from_dict(data["bins"]),
        )


def _score(values: FloatArray, edges: FixedBins, *, higher_is_better: bool) -> IntArray:
    """Score 1 + the number of edges each value is strictly better than."""
    grid = np.asarray(edges.edges)
    if higher_is_better:
        side: Literal["left", "right"] = "right" if edges.at_edge == "higher" else "left"
        beaten = np.searchsorted(grid, values, side=side)
    else:
        side = "left" if edges.at_edge == "higher" else "right"
        beaten = grid.size - np.searchsorted(grid, values, side=side)
    return (beaten + 1).astype(np.int64)


SCORE_COLUMNS: tuple[str, str, str] = ("r_score", "f_score", "m_score")


def _dimension_values(table: pd.DataFrame, dimension: ScoreDimension, *, owner: str) -> FloatArray:
    return as_float_array(table, dimension.column, ids=table.index, frame_name=owner)


@attrs.frozen(kw_only=True)
class RFMScorer:
    """Settings for R, F and M scores; :meth:`fit` learns their edges.

    The defaults are classic quintiles: R on ``time_since_last`` (fewer periods
    since the last purchase is better), F on ``n_purchases``, M on ``total_spend``.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame(
    ...     {"time_since_last": [1.0, 5, 9, 40, 90], "n_purchases": [9, 4, 4, 2, 1],
    ...      "total_spend": [900.0, 300, 250, 80, 20]},
    ...     index=pd.Index(["a", "b", "c", "d", "e"], name="customer_id"))
    >>> RFMScorer().fit(table).score(table)
                 r_score  f_score  m_score  rfm_score
    customer_id
    a                  5        5        5         15
    b                  4        3        4         11
    c                  3        3        3          9
    d                  2        2        2          6
    e                  1        1        1          3
    """

    recency: ScoreDimension = attrs.field(
        factory=lambda: ScoreDimension(column="time_since_last", higher_is_better=False),
        validator=attrs.validators.instance_of(ScoreDimension),
    )
    """R: how recently the customer bought."""

    frequency: ScoreDimension = attrs.field(
        factory=lambda: ScoreDimension(column="n_purchases", higher_is_better=True),
        validator=attrs.validators.instance_of(ScoreDimension),
    )
    """F: how often the customer buys."""

    monetary: ScoreDimension = attrs.field(
        factory=lambda: ScoreDimension(column="total_spend", higher_is_better=True),
        validator=attrs.validators.instance_of(ScoreDimension),
    )
    """M: how much the customer spends."""

    @classmethod
    def value_matrix(
        cls,
        *,
        statistic: Literal["mean", "median"] = "mean",
        recency: str = "time_since_last",
        frequency: str = "n_purchases",
        monetary: str = "total_spend",
    ) -> RFMScorer:
        """High/low scores for the eight-class RFM value matrix.

        Each dimension scores 2 ("high") if the customer is strictly better than the
        population ``statistic`` and 1 otherwise; for R, better means fewer periods
        since the last purchase, so a recent customer has high R.

        Parameters
        ----------
        statistic : {"mean", "median"}, default "mean"
            The reference each customer is compared with.
        recency, frequency, monetary : str
            Columns used for R, F and M.

        Returns
        -------
        RFMScorer
        """
        bins = ReferenceBins(statistic=statistic)
        return cls(
            recency=ScoreDimension(column=recency, higher_is_better=False, bins=bins),
            frequency=ScoreDimension(column=frequency, higher_is_better=True, bins=bins),
            monetary=ScoreDimension(column=monetary, higher_is_better=True, bins=bins),
        )

    @property
    def dimensions(self) -> tuple[ScoreDimension, ScoreDimension, ScoreDimension]:
        """R, F and M, in that order."""
        return (self.recency, self.frequency, self.monetary)

    @property
    def n_scores(self) -> tuple[int, int, int]:
        """Number of scores of R, F and M."""
        return (
            self.recency.bins.n_scores,
            self.frequency.bins.n_scores,
            self.monetary.bins.n_scores,
        )

    def fit(self, table: pd.DataFrame) -> FittedRFMScorer:
        """Learn the score edges from a population of customers.

        Parameters
        ----------
        table : pandas.DataFrame
            Per-customer table (e.g. from :func:`rfm_table`) with the three columns.

        Returns
        -------
        FittedRFMScorer
            The frozen edges; apply them with :meth:`FittedRFMScorer.score`.

        Raises
        ------
        ColumnNotFoundError, InvalidDataError
            A column is missing, non-numeric or not finite; the table is empty or its
            index repeats ids.
        """
        owner = "the RFM table"
        check_frame(table, name="table", owner="RFMScorer.fit")
        check_columns(table, [d.column for d in self.dimensions], frame_name=owner)
        check_unique_index(table, frame_name=owner)
        if len(table) == 0:
            raise InvalidDataError("Cannot fit RFM scores on an empty table.")
        edges = tuple(d.fit(_dimension_values(table, d, owner=owner)) for d in self.dimensions)
        return FittedRFMScorer(scorer=self, recency=edges[0], frequency=edges[1], monetary=edges[2])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "recency": self.recency.to_dict(),
            "frequency": self.frequency.to_dict(),
            "monetary": self.monetary.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RFMScorer:
        """Inverse of :meth:`to_dict`."""
        return cls(
            recency=ScoreDimension.from_dict(data["recency"]),
            frequency=ScoreDimension.from_dict(data["frequency"]),
            monetary=ScoreDimension.from_dict(data["monetary"]),
        )


@attrs.frozen(kw_only=True)
class FittedRFMScorer:
    """Score edges learned by :meth:`RFMScorer.fit`; a value, safe to store.

    Applying the same fitted edges to new customers scores them against the
    population the edges were learned on, so adding one customer never shifts
    anybody else's score.
    """

    scorer: RFMScorer = attrs.field(validator=attrs.validators.instance_of(RFMScorer))
    """The settings the edges were learned with."""

    recency: FixedBins = attrs.field(validator=attrs.validators.instance_of(FixedBins))
    """Learned R edges, in the units of the R column."""

    frequency: FixedBins = attrs.field(validator=attrs.validators.instance_of(FixedBins))
    """Learned F edges."""

    monetary: FixedBins = attrs.field(validator=attrs.validators.instance_of(FixedBins))
    """Learned M edges."""

    def score(self, table: pd.DataFrame) -> pd.DataFrame:
        """Score customers with the learned edges.

        Parameters
        ----------
        table : pandas.DataFrame
            Per-customer table with the scorer's columns.

        Returns
        -------
        pandas.DataFrame
            Same index as ``table``; integer columns ``r_score``, ``f_score``,
            ``m_score`` and their sum ``rfm_score``.
        """
        owner = "the RFM table"
        check_frame(table, name="table", owner="FittedRFMScorer.score")
        check_columns(table, [d.column for d in self.scorer.dimensions], frame_name=owner)
        check_unique_index(table, frame_name=owner)
        scores = {
            name: _score(
                _dimension_values(table, dimension, owner=owner),
                edges,
                higher_is_better=dimension.higher_is_better,
            )
            for name, dimension, edges in zip(
                SCORE_COLUMNS,
                self.scorer.dimensions,
                (self.recency, self.frequency, self.monetary),
                strict=True,
            )
        }
        frame = pd.DataFrame(scores, index=table.index)
        frame["rfm_score"] = frame.sum(axis=1)
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "scorer": self.scorer.to_dict(),
            "recency": _bins_to_dict(self.recency),
            "frequency": _bins_to_dict(self.frequency),
            "monetary": _bins_to_dict(self.monetary),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FittedRFMScorer:
        """Inverse of :meth:`to_dict`."""
        edges = {k: _bins_from_dict(data[k]) for k in ("recency", "frequency", "monetary")}
        return cls(scorer=RFMScorer.from_dict(data["scorer"]), **edges)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------


def _to_ranges(values: Sequence[Sequence[int]]) -> tuple[tuple[int, int], ...]:
    return tuple((int(lo), int(hi)) for lo, hi in values)


@attrs.frozen(kw_only=True)
class Segment:
    """A named box of the score grid: one inclusive score range per dimension."""

    key: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Stable machine name, e.g. ``"champions"``."""

    label_en: str = attrs.field(validator=attrs.validators.instance_of(str))
    """English label."""

    label_zh: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Chinese label."""

    ranges: tuple[tuple[int, int], ...] = attrs.field(converter=_to_ranges)
    """Inclusive ``(low, high)`` score range per dimension of the map."""

    def label(self, language: Literal["en", "zh"]) -> str:
        """Return the label in ``language``."""
        return self.label_en if language == "en" else self.label_zh


def _to_str_tuple(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _to_int_tuple(values: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _to_segments(values: Sequence[Segment]) -> tuple[Segment, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class SegmentMap:
    """Named segments that partition a grid of scores.

    A map is checked when it is made: every cell of the grid belongs to exactly one
    segment and every segment owns at least one cell. Published segment tables
    often overlap and are applied first-match, which silently makes some segments
    unreachable; such a table is rejected here with the overlapping cells named.

    Examples
    --------
    >>> SegmentMap(
    ...     name="halves", dimensions=("r_score",), n_scores=(2,),
    ...     segments=[Segment(key="low", label_en="Low", label_zh="低", ranges=[(1, 1)]),
    ...               Segment(key="high", label_en="High", label_zh="高", ranges=[(2, 2)])],
    ... ).cell_table()
      r_score   key label_en label_zh
    0       1   low      Low        低
    1       2  high     High        高
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Name of the map."""

    dimensions: tuple[str, ...] = attrs.field(converter=_to_str_tuple)
    """Score columns the map reads, e.g. ``("r_score", "f_score")``."""

    n_scores: tuple[int, ...] = attrs.field(converter=_to_int_tuple)
    """Number of scores per dimension (scores run 1..n)."""

    segments: tuple[Segment, ...] = attrs.field(converter=_to_segments)
    """The segments, in display order."""

    scorer: RFMScorer | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(RFMScorer)),
    )
    """The scorer the map is designed for; used by :func:`rfm_segments` by default."""

    _grid: npt.NDArray[np.int64] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_grid", self._build_grid())

    def _build_grid(self) -> npt.NDArray[np.int64]:
        owner = f"SegmentMap {self.name!r}"
        if len(self.dimensions) != len(self.n_scores) or not self.dimensions:
            raise InvalidParameterError(
                f"{owner}: dimensions {self.dimensions} and n_scores {self.n_scores} must be "
                "non-empty and of equal length."
            )
        if any(n < 1 for n in self.n_scores):
            raise InvalidParameterError(f"{owner}: n_scores must be positive, got {self.n_scores}.")
        keys = [s.key for s in self.segments]
        if not keys or len(set(keys)) != len(keys):
            raise InvalidParameterError(
                f"{owner}: segment keys must be unique and non-empty, got {keys}."
            )
        grid = np.full(self.n_scores, -1, dtype=np.int64)
        for number, segment in enumerate(self.segments):
            if len(segment.ranges) != len(self.dimensions):
                raise InvalidParameterError(
                    f"{owner}: segment {segment.key!r} gives {len(segment.ranges)} ranges for "
                    f"{len(self.dimensions)} dimensions {self.dimensions}."
                )
            box = []
            for (low, high), n in zip(segment.ranges, self.n_scores, strict=True):
                if not 1 <= low <= high <= n:
                    raise InvalidParameterError(
                        f"{owner}: segment {segment.key!r} has range ({low}, {high}), outside "
                        f"1..{n} or reversed."
                    )
                box.append(slice(low - 1, high))
            cells = grid[tuple(box)]
            taken = cells >= 0
            if taken.any():
                other = self.segments[int(cells[taken].flat[0])].key
                where = [
                    tuple(int(i) + 1 + b.start for i, b in zip(c, box, strict=True))
                    for c in np.argwhere(taken)[:5]
                ]
                raise InvalidParameterError(
                    f"{owner}: segments {other!r} and {segment.key!r} overlap at score cells "
                    f"{where}; every cell must belong to exactly one segment."
                )
            grid[tuple(box)] = number
        if (grid < 0).any():
            missing = [tuple(int(i) + 1 for i in c) for c in np.argwhere(grid < 0)[:5]]
            raise InvalidParameterError(
                f"{owner}: {int((grid < 0).sum())} score cell(s) belong to no segment, first "
                f"{missing} (in {self.dimensions} order)."
            )
        grid.setflags(write=False)
        return grid

    def labels(self, language: Literal["en", "zh"] = "en") -> list[str]:
        """Segment labels in display order."""
        return [s.label(language) for s in self.segments]

    def cell_table(self) -> pd.DataFrame:
        """Every cell of the grid with the segment that owns it."""
        cells = list(itertools.product(*(range(1, n + 1) for n in self.n_scores)))
        owners = [self.segments[int(self._grid[tuple(c - 1 for c in cell)])] for cell in cells]
        frame = pd.DataFrame(cells, columns=list(self.dimensions))
        frame["key"] = [s.key for s in owners]
        frame["label_en"] = [s.label_en for s in owners]
        frame["label_zh"] = [s.label_zh for s in owners]
        return frame

    def assign(
        self, scores: pd.DataFrame, *, language: Literal["en", "zh"] = "en"
    ) -> pd.Series[Any]:
        """Name the segment of every customer.

        Parameters
        ----------
        scores : pandas.DataFrame
            Per-customer scores with the map's dimension columns.
        language : {"en", "zh"}, default "en"
            Label language.

        Returns
        -------
        pandas.Series
            Categorical ``segment``, categories in the map's display order, same
            index as ``scores``.

        Raises
        ------
        InvalidDataError
            A score is outside the map's grid.
        """
        check_choice(language, name="language", owner="SegmentMap.assign", choices=("en", "zh"))
        check_columns(scores, self.dimensions, frame_name="scores")
        coords = []
        for column, n in zip(self.dimensions, self.n_scores, strict=True):
            values = as_float_array(scores, column, ids=scores.index, frame_name="scores")
            bad = (values != np.round(values)) | (values < 1) | (values > n)
            if bad.any():
                offending, total = first_ids(scores.index, bad)
                raise InvalidDataError.for_ids(
                    column=column,
                    problem=f"has scores outside 1..{n}, the grid of segment map {self.name!r},",
                    ids=offending,
                    n_offending=total,
                    hint="Score with the scorer the map is designed for.",
                )
            coords.append(values.astype(np.intp) - 1)
        codes = self._grid.ravel()[np.ravel_multi_index(tuple(coords), self.n_scores)]
        categorical = pd.Categorical.from_codes(codes, categories=pd.Index(self.labels(language)))
        return pd.Series(categorical, index=scores.index, name="segment")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "name": self.name,
            "dimensions": list(self.dimensions),
            "n_scores": list(self.n_scores),
            "segments": [
                {
                    "key": s.key,
                    "label_en": s.label_en,
                    "label_zh": s.label_zh,
                    "ranges": [list(r) for r in s.ranges],
                }
                for s in self.segments
            ],
            "scorer": None if self.scorer is None else self.scorer.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentMap:
        """Inverse of :meth:`to_dict`."""
        scorer = data.get("scorer")
        return cls(
            name=data["name"],
            dimensions=data["dimensions"],
            n_scores=data["n_scores"],
            segments=[Segment(**s) for s in data["segments"]],
            scorer=None if scorer is None else RFMScorer.from_dict(scorer),
        )


#: The classic eleven-segment map on quintile R and F scores.
#:
#: R runs down (5 = bought most recently), F across (5 = most purchases):
#:
#: ===  ============  ============  ==============  ==============  ==============
#: R    F 1           F 2           F 3             F 4             F 5
#: ===  ============  ============  ==============  ==============  ==============
#: 5    New           Potential L.  Potential L.    Champions       Champions
#: 4    Promising     Potential L.  Potential L.    Loyal           Loyal
#: 3    About to      About to      Need Attention  Loyal           Loyal
#:      Sleep         Sleep
#: 2    Hibernating   Hibernating   At Risk         At Risk         Can't Lose Them
#: 1    Lost          Lost          At Risk         At Risk         Can't Lose Them
#: ===  ============  ============  ==============  ==============  ==============
CLASSIC_SEGMENTS = SegmentMap(
    name="classic",
    dimensions=("r_score", "f_score"),
    n_scores=(5, 5),
    scorer=RFMScorer(),
    segments=[
        Segment(
            key="champions", label_en="Champions", label_zh="冠军客户", ranges=[(5, 5), (4, 5)]
        ),
        Segment(key="loyal", label_en="Loyal", label_zh="忠诚客户", ranges=[(3, 4), (4, 5)]),
        Segment(
            key="potential_loyalist",
            label_en="Potential Loyalist",
            label_zh="潜在忠诚客户",
            ranges=[(4, 5), (2, 3)],
        ),
        Segment(key="new", label_en="New", label_zh="新客户", ranges=[(5, 5), (1, 1)]),
        Segment(
            key="promising", label_en="Promising", label_zh="有潜力客户", ranges=[(4, 4), (1, 1)]
        ),
        Segment(
            key="need_attention",
            label_en="Need Attention",
            label_zh="需要关注客户",
            ranges=[(3, 3), (3, 3)],
        ),
        Segment(
            key="about_to_sleep",
            label_en="About to Sleep",
            label_zh="即将沉睡客户",
            ranges=[(3, 3), (1, 2)],
        ),
        Segment(
            key="at_risk", label_en="At Risk", label_zh="流失风险客户", ranges=[(1, 2), (3, 4)]
        ),
        Segment(
            key="cant_lose_them",
            label_en="Can't Lose Them",
            label_zh="不能失去的客户",
            ranges=[(1, 2), (5, 5)],
        ),
        Segment(
            key="hibernating", label_en="Hibernating", label_zh="休眠客户", ranges=[(2, 2), (1, 2)]
        ),
        Segment(key="lost", label_en="Lost", label_zh="已流失客户", ranges=[(1, 1), (1, 2)]),
    ],
)

#: The eight-class RFM value matrix of the policy texts (重要价值客户 ...).
#:
#: Each of R, F, M is high (2) or low (1) against the population mean; high R means
#: a recent purchase. Important (重要) classes have high M, general (一般) low M.
VALUE_MATRIX_SEGMENTS = SegmentMap(
    name="value_matrix",
    dimensions=("r_score", "f_score", "m_score"),
    n_scores=(2, 2, 2),
    scorer=RFMScorer.value_matrix(),
    segments=[
        Segment(
            key="important_value",
            label_en="Important value",
            label_zh="重要价值客户",
            ranges=[(2, 2), (2, 2), (2, 2)],
        ),
        Segment(
            key="important_development",
            label_en="Important development",
            label_zh="重要发展客户",
            ranges=[(2, 2), (1, 1), (2, 2)],
        ),
        Segment(
            key="important_retention",
            label_en="Important retention",
            label_zh="重要保持客户",
            ranges=[(1, 1), (2, 2), (2, 2)],
        ),
        Segment(
            key="important_winback",
            label_en="Important win-back",
            label_zh="重要挽留客户",
            ranges=[(1, 1), (1, 1), (2, 2)],
        ),
        Segment(
            key="general_value",
            label_en="General value",
            label_zh="一般价值客户",
            ranges=[(2, 2), (2, 2), (1, 1)],
        ),
        Segment(
            key="general_development",
            label_en="General development",
            label_zh="一般发展客户",
            ranges=[(2, 2), (1, 1), (1, 1)],
        ),
        Segment(
            key="general_retention",
            label_en="General retention",
            label_zh="一般保持客户",
            ranges=[(1, 1), (2, 2), (1, 1)],
        ),
        Segment(
            key="general_winback",
            label_en="General win-back",
            label_zh="一般挽留客户",
            ranges=[(1, 1), (1, 1), (1, 1)],
        ),
    ],
)


def rfm_segments(
    table: pd.DataFrame,
    *,
    segment_map: SegmentMap = CLASSIC_SEGMENTS,
    scorer: RFMScorer | FittedRFMScorer | None = None,
    language: Literal["en", "zh"] = "en",
) -> pd.DataFrame:
    """Score a per-customer table and name every customer's segment.

    Parameters
    ----------
    table : pandas.DataFrame
        Per-customer table, e.g. from :func:`rfm_table`.
    segment_map : SegmentMap, default CLASSIC_SEGMENTS
        The named segments (:data:`CLASSIC_SEGMENTS`, :data:`VALUE_MATRIX_SEGMENTS`
        or your own).
    scorer : RFMScorer or FittedRFMScorer, optional
        How to score. An unfitted scorer is fitted on ``table``; a fitted one is
        applied as it is. Defaults to the map's own scorer.
    language : {"en", "zh"}, default "en"
        Label language.

    Returns
    -------
    pandas.DataFrame
        Same index as ``table``: the score columns and a categorical ``segment``.

    Raises
    ------
    InvalidParameterError
        The scorer's number of scores does not match the map's grid, or no scorer
        is given for a map without one.

    Examples
    --------
    >>> from crmscore.datasets import make_transactions
    >>> book = make_transactions(2_000, seed=1)
    >>> table = rfm_table(book.transactions, as_of=book.as_of)
    >>> segments = rfm_segments(table, segment_map=VALUE_MATRIX_SEGMENTS, language="zh")
    >>> segments["segment"].cat.categories[0]
    '重要价值客户'
    >>> bool(segments["segment"].notna().all())
    True
    """
    chosen = segment_map.scorer if scorer is None else scorer
    if chosen is None:
        raise InvalidParameterError(
            f"Segment map {segment_map.name!r} has no scorer of its own; pass scorer=."
        )
    fitted = chosen.fit(table) if isinstance(chosen, RFMScorer) else chosen
    by_column = dict(zip(SCORE_COLUMNS, fitted.scorer.n_scores, strict=True))
    for dimension, n in zip(segment_map.dimensions, segment_map.n_scores, strict=True):
        if by_column.get(dimension, n) != n:
            raise InvalidParameterError(
                f"Segment map {segment_map.name!r} expects {n} scores on {dimension!r}, but the "
                f"scorer gives {by_column[dimension]}."
            )
    scores = fitted.score(table)
    return scores.assign(segment=segment_map.assign(scores, language=language))
