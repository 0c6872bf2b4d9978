"""Population statistics of a scorecard computed on Spark: no rows on the driver."""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from crmscore.errors import InvalidDataError, InvalidParameterError
from crmscore.scaleout._common import check_spark, require_columns
from crmscore.scaleout._population import (
    OrderStatistics,
    fit_population,
    keys_of,
    scorecard_leaves,
)
from crmscore.scaleout._spark import _whole
from crmscore.tiering import FittedScorecard, Scorecard

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import pandas as pd

    FloatArray = np.ndarray[Any, np.dtype[np.float64]]

__all__ = ["fit_scorecard_spark"]

_NAME = "the indicators frame"

#: Pivots per bracket of the order-statistics search: a Spark job costs far more than
#: the counts it returns, so fewer, wider rounds (64 / log2(64) = at most 11).
_WAYS = 64


def _check_types(frame: Any, columns: list[str]) -> None:
    """Reject a non-numeric indicator column from the schema, as ``Scorecard.fit`` does."""
    from pyspark.sql.types import BooleanType, NumericType  # noqa: PLC0415 (optional extra)

    types = {field.name: field.dataType for field in frame.schema.fields}
    for column in columns:
        kind = types[column]
        if isinstance(kind, BooleanType) or not isinstance(kind, NumericType):
            raise InvalidDataError(
                f"Indicator column {column!r} of {_NAME} must be numeric; got Spark type "
                f"{kind.simpleString()}.",
                column=column,
            )


def _known(part: pd.DataFrame, column: str) -> FloatArray:
    values: FloatArray = part[column].to_numpy(dtype=np.float64, na_value=np.nan)
    return values[~np.isnan(values)]


def _added(frame: Any, function: Callable[[pd.DataFrame], FloatArray]) -> FloatArray:
    """Apply ``function`` to every partition of ``frame``; add up the vectors it returns.

    Each partition sends one row (its vector, as an array) to the driver, which adds
    them in partition order: a few thousand counts per round would make a Spark
    aggregation of as many columns, which is slow to plan.
    """
    import pandas as pd  # noqa: PLC0415

    def apply(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        rows = _whole(batches)
        if rows is not None:  # an empty partition adds nothing
            yield pd.DataFrame({"v": [np.asarray(function(rows), dtype=np.float64)]})

    vectors = [row[0] for row in frame.mapInPandas(apply, "v array<double>").collect()]
    total: FloatArray = np.sum(np.array(vectors, dtype=np.float64), axis=0)
    return total


def fit_scorecard_spark(
    frame: Any, *, scorecard: Scorecard, customer_col: str = "customer_id"
) -> FittedScorecard:
    """Learn a scorecard's normalisation from a Spark table: :meth:`Scorecard.fit` on Spark.

    :func:`crmscore.scaleout.fit_scorecard_dask` for a Spark table.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        One row per customer, the id in ``customer_col``, with the indicator
        columns (numeric; null and NaN both count as missing).
    scorecard : Scorecard
        The scorecard whose population statistics are learned.
    customer_col : str, default "customer_id"
        The customer id column (named in errors).

    Returns
    -------
    FittedScorecard
        Learned from every customer of ``frame``, not a sample: minima, maxima,
        quantile knots (percentile ranks, clip levels) and medians equal those of
        ``scorecard.fit`` on the whole table in pandas, bit for bit; a z-score's
        mean and standard deviation up to rounding (sums over partitions).

    Raises
    ------
    InvalidParameterError
        ``frame`` is not a Spark DataFrame, or ``scorecard`` not a Scorecard.
    ColumnNotFoundError
        At once, if ``customer_col`` or an indicator column is missing.
    InvalidDataError
        As :meth:`Scorecard.fit`, naming the first offending customers: a
        non-numeric column (from the schema, at once), infinite values, missing
        values under ``missing="error"``, a column without values, an empty frame.

    Notes
    -----
    One aggregation counts each column's known and bad values and finds its
    minimum and maximum. The k-th smallest value of a column is then found by the
    search :func:`~crmscore.scaleout.fit_scorecard_dask` uses, with 64 pivots per
    bracket instead of 16 (at most 11 rounds for all ranks of all columns
    together): each round is one Spark job in which every partition sorts its
    values and counts those at or below each pivot; only the counts reach the
    driver. The indicator columns are cached on the
    executors for the length of the fit. Ids repeated in ``frame`` are not
    detected (``Scorecard.fit`` rejects a repeated id).

    Examples
    --------
    >>> from crmscore import b2b_scorecard, make_b2b_indicators
    >>> indicators = make_b2b_indicators(400, seed=3)
    >>> table = spark.createDataFrame(indicators.reset_index())  # doctest: +SKIP
    >>> fitted = fit_scorecard_spark(table, scorecard=b2b_scorecard())  # doctest: +SKIP
    >>> fitted == b2b_scorecard().fit(indicators)  # doctest: +SKIP
    True
    """
    owner = "fit_scorecard_spark"
    frame = check_spark(frame, name="frame", owner=owner)
    if not isinstance(scorecard, Scorecard):
        raise InvalidParameterError.for_value(
            name="scorecard", owner=owner, allowed="a Scorecard", got=type(scorecard).__name__
        )
    require_columns(frame.columns, [customer_col, *scorecard.columns], frame="frame")
    leaves = scorecard_leaves(scorecard)
    sources = [leaf.source for leaf in leaves]
    _check_types(frame, list(dict.fromkeys(sources)))
    from pyspark.sql import functions as sf  # noqa: PLC0415 (optional extra)

    names = [f"c{i}" for i in range(len(sources))]
    narrow = frame.select(
        *[
            sf.col(source).cast("double").alias(name)
            for source, name in zip(sources, names, strict=True)
        ]
    )
    allow_missing = scorecard.missing != "error"

    def known(name: str) -> Any:
        value = sf.col(name)
        return value.isNotNull() & ~sf.isnan(value) & (sf.abs(value) != float("inf"))

    def bad(name: str) -> Any:
        value = sf.col(name)
        return (sf.abs(value) == float("inf")) if allow_missing else ~known(name)

    aggregates = [sf.count(sf.lit(1)).alias("rows")]
    for name in names:
        aggregates += [
            sf.count(sf.when(known(name), 1)).alias(f"{name}_n"),
            sf.count(sf.when(bad(name), 1)).alias(f"{name}_bad"),
            sf.min(sf.when(known(name), sf.col(name))).alias(f"{name}_min"),
            sf.max(sf.when(known(name), sf.col(name))).alias(f"{name}_max"),
        ]
    cached = narrow.cache()
    try:
        totals = cached.agg(*aggregates).collect()[0]
        for source, name in zip(sources, names, strict=True):
            if totals[f"{name}_bad"]:
                _raise_bad(
                    frame,
                    column=source,
                    customer_col=customer_col,
                    n_bad=int(totals[f"{name}_bad"]),
                    allow_missing=allow_missing,
                )
        summary = [
            (
                int(totals[f"{name}_n"]),
                int(keys_of(np.array([totals[f"{name}_min"]]))[0]),
                int(keys_of(np.array([totals[f"{name}_max"]]))[0]),
            )
            if totals[f"{name}_n"]
            else (0, 0, 0)
            for name in names
        ]
        stats = OrderStatistics(
            summary,
            count=functools.partial(_count, cached, names),
            moments=functools.partial(_moments, cached, names),
            ways=_WAYS,
        )
        return fit_population(scorecard, stats, n_customers=int(totals["rows"]))
    finally:
        cached.unpersist()


def _count(
    cached: Any, names: list[str], pivots: tuple[np.ndarray[Any, np.dtype[np.int64]], ...]
) -> list[Any]:
    """Per column, how many known values of the whole frame are at or below each pivot."""

    def counts(part: pd.DataFrame) -> FloatArray:
        return np.concatenate(
            [
                np.searchsorted(np.sort(keys_of(_known(part, name))), column, side="right")
                for name, column in zip(names, pivots, strict=True)
            ]
        ).astype(np.float64)  # exact: counts are far below 2**53

    flat = _added(cached, counts)
    bounds = np.cumsum([0, *(len(column) for column in pivots)])
    return [flat[a:b].astype(np.int64) for a, b in itertools.pairwise(bounds)]


def _moments(
    cached: Any, names: list[str], column: int, *bounds_and_centre: float
) -> tuple[float, float]:
    """Sum of (clipped value - centre) ** 1 and ** 2 over one column's known values."""
    low, high, centre = bounds_and_centre

    def sums(part: pd.DataFrame) -> FloatArray:
        values = np.clip(_known(part, names[column]), low, high) - centre
        return np.array([values.sum(), (values**2).sum()])

    total, squares = _added(cached, sums)
    return float(total), float(squares)


def _raise_bad(
    frame: Any, *, column: str, customer_col: str, n_bad: int, allow_missing: bool
) -> None:
    """Raise ``Scorecard.fit``'s error for a column's bad values, naming the first ids."""
    from pyspark.sql import functions as sf  # noqa: PLC0415 (optional extra)

    value = sf.col(column).cast("double")
    infinite = sf.abs(value) == float("inf")
    where = infinite if allow_missing else (value.isNull() | sf.isnan(value) | infinite)
    ids = [row[0] for row in frame.where(where).select(customer_col).limit(5).collect()]
    what = "infinite" if allow_missing else "missing (NaN) or infinite"
    hint = (
        "Repair them first."
        if allow_missing
        else "Impute them, or choose missing='median' or missing='zero' on the Scorecard."
    )
    raise InvalidDataError.for_ids(
        column=column, problem=f"has {what} values", ids=ids, n_offending=n_bad, hint=hint
    )
