"""Fitted scorers on Spark: the Dask wrappers' names and arguments, per customer bucket."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import pandas as pd

from crmscore.errors import InvalidParameterError
from crmscore.scaleout._common import check_spark, meta_of, require_columns
from crmscore.scaleout._scorers import _CLV_COLUMNS, _clv_columns
from crmscore.scaleout._spark import map_customers_spark
from crmscore.tiering import FittedScorecard

if TYPE_CHECKING:
    from collections.abc import Callable

    from crmscore._periods import TimeUnit
    from crmscore.clv import BetaGeoModel, GammaGammaModel
    from crmscore.tiering import Language

__all__ = ["predict_clv_spark", "score_tiers_spark"]


def _by_customer(
    part: pd.DataFrame, *, function: Callable[[pd.DataFrame], pd.DataFrame], customer_col: str
) -> pd.DataFrame:
    """Index a bucket's rows by customer id, as the pandas functions expect."""
    return function(part.set_index(customer_col))


def _id_index(table: Any, customer_col: str) -> pd.Index:
    """Build an empty index with the table's id column's dtype and name."""
    empty: pd.DataFrame = table.select(customer_col).limit(0).toPandas()
    index: pd.Index = pd.Index(empty[customer_col].to_numpy(), name=customer_col)
    return index


def predict_clv_spark(
    table: Any,
    *,
    purchase_model: BetaGeoModel,
    spend_model: GammaGammaModel,
    t: float,
    horizon: int,
    discount_rate: float,
    margin: float = 1.0,
    periods_per_step: float | None = None,
    time_unit: TimeUnit | None = None,
    customer_col: str = "customer_id",
    buckets: int | None = None,
) -> Any:
    """P(alive), expected purchases, expected spend and CLV per customer, on Spark.

    :func:`crmscore.scaleout.predict_clv_dask` for a Spark table.

    Parameters
    ----------
    table : pyspark.sql.DataFrame
        RFM table (e.g. :func:`rfm_table_spark`) with the customer id in
        ``customer_col`` and ``frequency``, ``recency``, ``T``, ``monetary_value``.
    purchase_model
        As in :func:`crmscore.scaleout.predict_clv_dask`.
    spend_model
        As in :func:`crmscore.scaleout.predict_clv_dask`.
    t
        As in :func:`crmscore.scaleout.predict_clv_dask`.
    horizon
        As in :func:`crmscore.scaleout.predict_clv_dask`.
    discount_rate
        As in :func:`crmscore.scaleout.predict_clv_dask`.
    margin
        As in :func:`crmscore.scaleout.predict_clv_dask`.
    periods_per_step
        As in :func:`crmscore.scaleout.predict_clv_dask`.
    time_unit : {"D", "W", "M"}, optional
        Unit of the table's ``recency`` and ``T`` (a Spark table carries none).
    customer_col : str, default "customer_id"
        The customer id column.
    buckets : int, optional
        As in :func:`map_customers_spark` (the session's shuffle partitions).

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy: ``customer_col``, ``p_alive``, ``expected_purchases``,
        ``expected_spend``, ``clv``; the values of the pandas functions.

    Raises
    ------
    InvalidParameterError
        At once: ``table`` is not a Spark DataFrame, or a parameter is invalid.
    ColumnNotFoundError
        At once, if a column is missing.
    """
    owner = "predict_clv_spark"
    table = check_spark(table, name="table", owner=owner)
    require_columns(table.columns, (customer_col, *_CLV_COLUMNS), frame="table")
    function = functools.partial(
        _clv_columns,
        purchase_model=purchase_model,
        spend_model=spend_model,
        t=t,
        horizon=horizon,
        discount_rate=discount_rate,
        margin=margin,
        periods_per_step=periods_per_step,
        time_unit=time_unit,
    )
    template = pd.DataFrame(
        {"frequency": [1], "recency": [1.0], "T": [2.0], "monetary_value": [1.0]}
    )
    meta = meta_of(function, template, index=_id_index(table, customer_col))
    return map_customers_spark(
        table.select(customer_col, *_CLV_COLUMNS),
        function=functools.partial(_by_customer, function=function, customer_col=customer_col),
        meta=meta,
        customer_col=customer_col,
        buckets=buckets,
    )


def score_tiers_spark(
    frame: Any,
    *,
    scorecard: FittedScorecard,
    language: Language = "en",
    normalised: bool = False,
    customer_col: str = "customer_id",
    buckets: int | None = None,
) -> Any:
    """Scores, contributions and tiers per customer with a fitted scorecard, on Spark.

    :func:`crmscore.scaleout.score_tiers_dask` for a Spark table.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        One row per customer with the id in ``customer_col`` and the indicator
        columns (and any column a tier rule reads).
    scorecard
        As in :func:`crmscore.scaleout.score_tiers_dask`.
    language
        As in :func:`crmscore.scaleout.score_tiers_dask`.
    normalised
        As in :func:`crmscore.scaleout.score_tiers_dask`.
    customer_col : str, default "customer_id"
        The customer id column.
    buckets : int, optional
        As in :func:`map_customers_spark`.

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy: ``customer_col`` and the columns of
        :meth:`~crmscore.tiering.FittedScorecard.score` (tiers as strings: Spark has
        no ordered categoricals).

    Raises
    ------
    InvalidParameterError
        At once: ``frame`` is not a Spark DataFrame or ``scorecard`` not fitted.
    ColumnNotFoundError
        At once, if a column is missing.
    """
    owner = "score_tiers_spark"
    frame = check_spark(frame, name="frame", owner=owner)
    if not isinstance(scorecard, FittedScorecard):
        raise InvalidParameterError.for_value(
            name="scorecard", owner=owner, allowed="a FittedScorecard", got=type(scorecard).__name__
        )
    card = scorecard.scorecard
    rule_columns = [rule.column for rule in card.rules]
    require_columns(frame.columns, [customer_col, *card.columns, *rule_columns], frame="frame")
    score = functools.partial(scorecard.score, language=language, normalised=normalised)

    def plain(part: pd.DataFrame) -> pd.DataFrame:
        scored = score(part)
        categorical = scored.select_dtypes("category").columns
        return scored.astype(dict.fromkeys(categorical, str))

    values: dict[str, list[float]] = {column: [float("nan")] for column in rule_columns}
    typical = [
        scale.params[0] if m != m else m  # noqa: PLR0124 (NaN test)
        for m, scale in zip(scorecard.medians, scorecard.scales, strict=True)
    ]
    values.update({c: [v] for c, v in zip(card.columns, typical, strict=True)})
    meta = meta_of(plain, pd.DataFrame(values), index=_id_index(frame, customer_col))
    columns = list(dict.fromkeys([customer_col, *card.columns, *rule_columns]))
    return map_customers_spark(
        frame.select(*columns),
        function=functools.partial(_by_customer, function=plain, customer_col=customer_col),
        meta=meta,
        customer_col=customer_col,
        buckets=buckets,
    )
