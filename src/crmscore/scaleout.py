"""Beyond one machine: the same pure functions on Dask (and Spark) partitions.

crmscore has no cluster code of its own. Per-customer work is co-located by a
shuffle on the customer id and then done by the unchanged pandas functions, one
partition at a time; model fits need only small sufficient statistics, which the
distributed engine aggregates.

Dask and Spark are optional extras (``pip install "crmscore[dask]"``,
``"crmscore[spark]"``) imported only when these functions are called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from crmscore._validation import check_choice
from crmscore.errors import ColumnNotFoundError, InvalidParameterError
from crmscore.rfm import (
    TIME_UNITS,
    TimeUnit,
    empty_rfm_table,
    is_dask_frame,
    summarise_transactions,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    import dask.dataframe as dd
    import pandas as pd

__all__ = ["rfm_table_dask", "rfm_table_spark", "spark_schema"]


def _require_columns(available: Iterable[Any], required: Iterable[str]) -> None:
    """Check a lazy frame's column names before any work is scheduled."""
    names = set(available)
    missing = [c for c in required if c not in names]
    if missing:
        raise ColumnNotFoundError.from_missing_and_available(missing, names, frame="transactions")


def _wall_clock(dtype: Any) -> np.dtype[Any]:
    """Return the numpy dtype of a timestamp column once read as wall-clock time."""
    unit = getattr(dtype, "unit", None) or np.datetime_data(np.dtype(dtype))[0]
    return np.dtype(f"datetime64[{unit}]")


def rfm_table_dask(
    transactions: dd.DataFrame,
    *,
    as_of: Any,
    time_unit: TimeUnit = "D",
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    amount_col: str = "amount",
    negative_amounts: Literal["error", "net"] = "error",
) -> dd.DataFrame:
    """:func:`crmscore.rfm.rfm_table` on a Dask DataFrame of transactions.

    Parameters
    ----------
    transactions : dask.dataframe.DataFrame
        The transaction log, partitioned any way.
    as_of, time_unit, customer_col, timestamp_col, amount_col, negative_amounts
        As in :func:`crmscore.rfm.rfm_table`.

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy; one row per customer, indexed by customer id. Each output partition
        is sorted by id, the whole is not: ``result.compute().sort_index()`` equals
        ``rfm_table`` on the same data computed with pandas.

    Raises
    ------
    ColumnNotFoundError
        At once, if a required column is missing.
    InvalidDataError
        When computed, for the same bad data ``rfm_table`` rejects.

    Notes
    -----
    Rows are shuffled so that each customer's transactions share a partition
    (``DataFrame.shuffle(customer_col)``), then ``rfm_table`` runs on every
    partition through ``map_partitions``. On two local workers this handles ten
    million rows in a few seconds; a Dask group-by with ``nunique`` over the same
    data was an order of magnitude slower.
    """
    owner = "rfm_table_dask"
    if not is_dask_frame(transactions):
        raise InvalidParameterError.for_value(
            name="transactions",
            owner=owner,
            allowed="a dask DataFrame",
            got=type(transactions).__name__,
        )
    check_choice(time_unit, name="time_unit", owner=owner, choices=TIME_UNITS)
    check_choice(negative_amounts, name="negative_amounts", owner=owner, choices=("error", "net"))
    _require_columns(transactions.columns, (customer_col, timestamp_col, amount_col))
    meta_frame = transactions._meta
    meta = empty_rfm_table(
        id_dtype=meta_frame[customer_col].dtype,
        stamp_dtype=_wall_clock(meta_frame[timestamp_col].dtype),
        customer_col=customer_col,
    )
    result: dd.DataFrame = transactions.shuffle(customer_col).map_partitions(
        summarise_transactions,
        as_of=as_of,
        time_unit=time_unit,
        customer_col=customer_col,
        timestamp_col=timestamp_col,
        amount_col=amount_col,
        negative_amounts=negative_amounts,
        allow_empty=True,
        meta=meta,
    )
    return result


def spark_schema(frame: pd.DataFrame) -> Any:
    """Translate a pandas frame's columns (index included) into a Spark schema."""
    import pyarrow as pa  # noqa: PLC0415  (optional extra)
    from pyspark.sql.pandas.types import from_arrow_schema  # noqa: PLC0415

    return from_arrow_schema(pa.Schema.from_pandas(frame.reset_index(), preserve_index=False))


def rfm_table_spark(
    transactions: Any,
    *,
    as_of: Any,
    time_unit: TimeUnit = "D",
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    amount_col: str = "amount",
    negative_amounts: Literal["error", "net"] = "error",
    buckets: int = 16,
) -> Any:
    """:func:`crmscore.rfm.rfm_table` on a Spark DataFrame of transactions.

    Parameters
    ----------
    transactions : pyspark.sql.DataFrame
        The transaction log with a timestamp column (Spark ``TimestampType`` or
        ``TimestampNTZType``).
    as_of, time_unit, customer_col, timestamp_col, amount_col, negative_amounts
        As in :func:`crmscore.rfm.rfm_table`.
    buckets : int, default 16
        Customers are hashed into this many buckets; each bucket is one pandas
        call.

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy; one row per customer with the customer id as a column.
        ``.toPandas().set_index(customer_col).sort_index()`` equals ``rfm_table``
        on the same data.

    Notes
    -----
    ``groupBy(bucket).applyInPandas`` runs the unchanged pandas function on every
    bucket (hash of the id modulo ``buckets``). Grouping by the customer id itself
    would make one Python call per customer: on 100,000 customers that took 390 s
    here against 2.5 s with 16 buckets. Set the session time zone (for example
    ``spark.sql.session.timeZone=UTC``) so that Spark hands pandas the wall-clock
    timestamps you mean.
    """
    owner = "rfm_table_spark"
    check_choice(time_unit, name="time_unit", owner=owner, choices=TIME_UNITS)
    check_choice(negative_amounts, name="negative_amounts", owner=owner, choices=("error", "net"))
    if buckets < 1:
        raise InvalidParameterError.for_value(
            name="buckets", owner=owner, allowed="a positive integer", got=buckets
        )
    _require_columns(transactions.columns, (customer_col, timestamp_col, amount_col))
    from pyspark.sql import functions as sf  # noqa: PLC0415  (optional extra)

    sample = transactions.select(customer_col, timestamp_col, amount_col).limit(0).toPandas()
    meta = empty_rfm_table(
        id_dtype=sample[customer_col].dtype,
        stamp_dtype=_wall_clock(sample[timestamp_col].dtype),
        customer_col=customer_col,
    )
    bucket = "__crmscore_bucket"

    def summarise(part: pd.DataFrame) -> pd.DataFrame:
        table = summarise_transactions(
            part.drop(columns=bucket),
            as_of=as_of,
            time_unit=time_unit,
            customer_col=customer_col,
            timestamp_col=timestamp_col,
            amount_col=amount_col,
            negative_amounts=negative_amounts,
            allow_empty=True,
        )
        return table.reset_index()

    return (
        transactions.select(customer_col, timestamp_col, amount_col)
        .withColumn(bucket, sf.pmod(sf.hash(customer_col), sf.lit(buckets)))
        .groupBy(bucket)
        .applyInPandas(summarise, schema=spark_schema(meta))
    )
