"""Checks and small pieces shared by the Dask and Spark entry points (private)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from crmscore._frames import is_dask_frame, is_spark_frame
from crmscore._periods import TIME_UNITS, TimeUnit
from crmscore._purchases import empty_rfm_table, summarise_transactions
from crmscore._validation import as_timestamp, check_choice, no_repeat_purchase
from crmscore.clv import GammaGammaFitter
from crmscore.clv.partitioned import statistics_keys_of
from crmscore.errors import ColumnNotFoundError, InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import dask.dataframe as dd

    from crmscore._columns import TransactionColumns

#: Column carrying each row's place in the input through a shuffle (dropped after).
ROW = "__crmscore_row"


def require_columns(available: Iterable[Any], required: Iterable[str], *, frame: str) -> None:
    """Check a lazy frame's column names before any work is scheduled."""
    names = set(available)
    missing = [c for c in required if c not in names]
    if missing:
        raise ColumnNotFoundError.from_missing_and_available(missing, names, frame=frame)


def check_row_column(columns: Iterable[Any], *, owner: str) -> None:
    """Reject a frame that already has the column the row order is kept in."""
    if ROW in set(columns):
        raise InvalidParameterError(
            f"{owner}: the frame has a column {ROW!r}, the name it uses to keep the row "
            "order through the shuffle. Rename that column."
        )


def in_input_order(part: pd.DataFrame) -> pd.DataFrame:
    """Put the rows of a shuffled part back in the input's order and drop :data:`ROW`.

    A shuffle delivers each customer's rows in whatever order the blocks arrive
    (and Spark's sort by bucket is not stable once it spills), so the function would
    otherwise see them in an order of the engine's choosing: sums of floats and
    "first of duplicates" would then differ from a pandas call on the whole input.
    """
    rows = part[ROW].to_numpy()
    if (rows[1:] < rows[:-1]).any():  # a shuffle often keeps the order: skip the sort
        part = part.iloc[np.argsort(rows, kind="stable")]
    return part.drop(columns=ROW)


def check_dask(obj: object, *, name: str, owner: str) -> dd.DataFrame:
    """Reject anything but a Dask DataFrame, with the library's parameter message."""
    if not is_dask_frame(obj):
        hint = ""
        if isinstance(obj, pd.DataFrame):
            hint = " (for a pandas DataFrame call the pandas function)"
        elif is_spark_frame(obj):
            hint = " (for a Spark DataFrame call the _spark function)"
        raise InvalidParameterError.for_value(
            name=name, owner=owner, allowed=f"a dask DataFrame{hint}", got=type(obj).__name__
        )
    return obj  # type: ignore[return-value]


def check_spark(obj: object, *, name: str, owner: str) -> Any:
    """Reject anything but a Spark DataFrame (a pandas or Dask one names its function)."""
    if not is_spark_frame(obj):
        hint = ""
        if isinstance(obj, pd.DataFrame):
            hint = " (for a pandas DataFrame call the pandas function)"
        elif is_dask_frame(obj):
            hint = " (for a Dask DataFrame call the _dask function)"
        raise InvalidParameterError.for_value(
            name=name,
            owner=owner,
            allowed=f"a Spark DataFrame{hint}",
            got=type(obj).__name__,
        )
    return obj


def wall_clock(dtype: Any) -> np.dtype[Any]:
    """Return the numpy dtype of a timestamp column once read as wall-clock time."""
    unit = getattr(dtype, "unit", None) or np.datetime_data(np.dtype(dtype))[0]
    return np.dtype(f"datetime64[{unit}]")


def statistics_keys(fitter: object, *, owner: str) -> tuple[str, ...]:
    """Return the columns a fitter's sufficient statistics are distinct over."""
    keys = statistics_keys_of(fitter)
    if keys is None:
        raise InvalidParameterError.for_value(
            name="fitter",
            owner=owner,
            allowed="a ModifiedBetaGeoFitter, a ParetoNBDFitter, a BetaGeoFitter or a "
            "GammaGammaFitter",
            got=type(fitter).__name__,
        )
    return keys


def statistics_frame(
    counted: pd.DataFrame, keys: tuple[str, ...], *, time_unit: str | None, sort: bool = True
) -> pd.DataFrame:
    """Put counted distinct rows in the form the fitters' ``aggregate`` gives.

    Columns ``keys`` then ``count``; ``frequency`` and ``count`` as int64, the other
    keys as float64; rows sorted by the keys (so a fit on them sees the same arrays,
    in the same order, as a fit on the whole table); ``attrs["time_unit"]`` if known.
    """
    dtypes = {key: np.int64 if key == "frequency" else np.float64 for key in keys}
    stats = counted[[*keys, "count"]].astype({**dtypes, "count": np.int64})
    if sort:
        stats = stats.sort_values(list(keys), kind="stable")
    stats = stats.reset_index(drop=True)
    stats.attrs = {} if time_unit is None else {"time_unit": time_unit}
    return stats


def check_counted(
    stats: pd.DataFrame,
    *,
    fitter: object,
    owner: str,
    rows: Callable[[], tuple[int, list[Any]]],
    fitting: bool,
    as_of: Any = None,
) -> None:
    """Raise what pandas raises when the counted table has no rows (or no repeat buyer).

    ``fitter.aggregate`` rejects a table without rows, and ``GammaGammaFitter.fit``
    one without repeat customers; the distributed counts are simply empty then.
    ``rows`` counts the table's rows and lists its first ids, another pass over it, so
    it runs only when the statistics are empty (for BG/NBD that already means no rows). ``as_of`` is
    the table's, if known: an RFM table is empty when no purchase is at or before it,
    which ``rfm_table`` rejects at once but the distributed tables cannot (see
    ``rfm_plan``).
    """
    if len(stats) > 0:
        return
    n, ids = rows() if isinstance(fitter, GammaGammaFitter) else (0, [])
    if n == 0:
        cause = (
            ""
            if as_of is None
            else f" An RFM table has no rows when no purchase is at or before its as_of "
            f"({as_of}), which rfm_table rejects; pass a later as_of."
        )
        raise InvalidDataError(
            f"table passed to {owner} has no rows: there is nothing to fit.{cause}"
        )
    if fitting:
        raise no_repeat_purchase(owner=owner, ids=ids, n_rows=n)


def empty_statistics(keys: tuple[str, ...]) -> pd.DataFrame:
    """Build the statistics of no customers."""
    return statistics_frame(
        pd.DataFrame({key: [] for key in (*keys, "count")}), keys, time_unit=None
    )


def meta_of(
    function: Callable[[pd.DataFrame], pd.DataFrame], template: pd.DataFrame, *, index: pd.Index
) -> pd.DataFrame:
    """Build the empty frame ``function`` returns: columns, dtypes and ``attrs``.

    ``function`` runs on a one-row ``template`` (valid input made up by the caller),
    so the metadata always matches what the function really returns; the index is
    then replaced by ``index`` emptied (the real id dtype and name).
    """
    return function(template).iloc[:0].set_axis(index[:0], axis=0)


def rfm_plan(
    available: Iterable[Any],
    sample: pd.DataFrame,
    *,
    owner: str,
    as_of: Any,
    time_unit: TimeUnit,
    columns: TransactionColumns,
    negative_amounts: Literal["error", "net"],
) -> tuple[pd.DataFrame, Callable[[pd.DataFrame], pd.DataFrame]]:
    """Check an RFM call on a lazy log; return the output schema and the per-part work.

    ``available`` are the lazy frame's column names and ``sample`` an empty pandas
    frame with its dtypes. The work is :func:`crmscore._purchases.summarise_transactions`
    with every setting bound, accepting parts with no customer.
    """
    check_choice(time_unit, name="time_unit", owner=owner, choices=TIME_UNITS)
    check_choice(negative_amounts, name="negative_amounts", owner=owner, choices=("error", "net"))
    as_of_ts = as_timestamp(as_of, name="as_of", owner=owner)
    customer_col, timestamp_col = columns.customer, columns.timestamp
    require_columns(available, (customer_col, timestamp_col, columns.amount), frame="transactions")
    meta = empty_rfm_table(
        id_dtype=sample[customer_col].dtype,
        stamp_dtype=wall_clock(sample[timestamp_col].dtype),
        customer_col=customer_col,
    )
    meta.attrs = {"as_of": as_of_ts, "time_unit": time_unit}
    summarise = functools.partial(
        summarise_transactions,
        as_of=as_of,
        time_unit=time_unit,
        columns=columns,
        negative_amounts=negative_amounts,
        allow_empty=True,
    )
    return meta, summarise
