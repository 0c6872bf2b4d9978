"""Fitted scorers on Spark: the Dask wrappers' names and arguments, per customer bucket."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from crmscore._columns import EventColumns
from crmscore.errors import InvalidParameterError
from crmscore.scaleout._common import check_spark, meta_of, require_columns
from crmscore.scaleout._scorers import _CLV_COLUMNS, _clv_columns, warning_plan
from crmscore.scaleout._spark import map_customers_spark
from crmscore.tiering import FittedScorecard

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from crmscore._periods import TimeUnit
    from crmscore.churn import EarlyWarning, LearnedWarning
    from crmscore.clv import BetaGeoModel, GammaGammaModel
    from crmscore.tiering import Language

__all__ = ["early_warning_spark", "predict_clv_spark", "score_tiers_spark"]


def _by_customer(
    part: pd.DataFrame, *, function: Callable[[pd.DataFrame], pd.DataFrame], customer_col: str
) -> pd.DataFrame:
    """Index a bucket's rows by customer id, as the pandas functions expect."""
    return function(part.set_index(customer_col))


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn categorical columns into text: Spark has no categoricals."""
    categorical = frame.select_dtypes("category").columns
    return frame.astype(dict.fromkeys(categorical, str))


def _plain_warnings(
    part: pd.DataFrame, *, function: Callable[[pd.DataFrame], pd.DataFrame]
) -> pd.DataFrame:
    """Warn one bucket's customers (ids a column, as the pandas call takes them)."""
    return _plain(function(part))


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
        return _plain(score(part))

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


def early_warning_spark(
    events: Any,
    *,
    as_of: Any,
    warning: EarlyWarning | LearnedWarning | None = None,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    kind_col: str = "kind",
    value_col: str = "value",
    event_id_col: str = "event_id",
    extra_kinds: Collection[str] = (),
    future: Literal["drop", "error"] = "drop",
    buckets: int | None = None,
) -> Any:
    """Churn warning levels per customer from a Spark event log.

    :func:`crmscore.scaleout.early_warning_dask` for a Spark DataFrame.

    Parameters
    ----------
    events : pyspark.sql.DataFrame
        The event log (see :meth:`crmscore.churn.EarlyWarning.predict`), partitioned
        any way, with a timestamp column (Spark ``TimestampType`` or
        ``TimestampNTZType``) and the kinds as text.
    as_of
        As in :func:`crmscore.scaleout.early_warning_dask`.
    warning
        As in :func:`crmscore.scaleout.early_warning_dask`: ``EarlyWarning()`` by
        default, or a fitted :class:`~crmscore.churn.LearnedWarning` (scored with
        its :meth:`~crmscore.churn.LearnedWarning.predict`).
    customer_col
        As in :func:`crmscore.scaleout.early_warning_dask`.
    timestamp_col
        As in :func:`crmscore.scaleout.early_warning_dask`.
    kind_col
        As in :func:`crmscore.scaleout.early_warning_dask`.
    value_col
        As in :func:`crmscore.scaleout.early_warning_dask`.
    event_id_col
        As in :func:`crmscore.scaleout.early_warning_dask`.
    extra_kinds
        As in :func:`crmscore.scaleout.early_warning_dask`.
    future
        As in :func:`crmscore.scaleout.early_warning_dask`.
    buckets : int, optional
        As in :func:`map_customers_spark` (the session's shuffle partitions).

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy: ``customer_col`` and the columns of
        :meth:`~crmscore.churn.EarlyWarning.predict` (or of
        :meth:`~crmscore.churn.LearnedWarning.predict`), one row per customer with
        an event on or before ``as_of``; categorical columns (``level``, ``rule``,
        ``signals``) as text, Spark having no categoricals. The values equal those
        of the pandas call on the whole log.

    Raises
    ------
    InvalidParameterError
        At once: ``events`` is not a Spark DataFrame, or a parameter is invalid.
    ColumnNotFoundError
        At once, if a column is missing.

    Notes
    -----
    As :func:`crmscore.scaleout.early_warning_dask`: the events are hashed on
    ``customer_col`` into buckets (:func:`map_customers_spark`, which puts each
    bucket's rows back in the log's order) and ``predict`` runs once per bucket. A
    bucket whose events all fall after ``as_of``'s day gives no rows. Event ids are
    de-duplicated within a customer's events. The data errors of the pandas call
    (an unknown kind, an event after ``as_of`` with ``future="error"``) surface
    when the result is computed, wrapped in Spark's Python exception.

    Examples
    --------
    >>> from pyspark.sql import SparkSession  # doctest: +SKIP
    >>> from crmscore import EarlyWarning, make_events
    >>> spark = SparkSession.builder.master("local[2]").getOrCreate()  # doctest: +SKIP
    >>> log = make_events(300, seed=2)
    >>> frame = spark.createDataFrame(log.events.astype({"kind": str}))  # doctest: +SKIP
    >>> lazy = early_warning_spark(frame, as_of=log.as_of)  # doctest: +SKIP
    >>> levels = lazy.toPandas().set_index("customer_id").sort_index()["level"]  # doctest: +SKIP
    >>> expected = EarlyWarning().predict(log.events, as_of=log.as_of)["level"]
    >>> levels.tolist() == expected.astype(str).tolist()  # doctest: +SKIP
    True
    """
    owner = "early_warning_spark"
    events = check_spark(events, name="events", owner=owner)
    columns = EventColumns(
        customer=customer_col,
        timestamp=timestamp_col,
        kind=kind_col,
        value=value_col,
        event_id=event_id_col,
    )
    plan = warning_plan(
        events.columns,
        owner=owner,
        as_of=as_of,
        warning=warning,
        columns=columns,
        extra_kinds=extra_kinds,
        future=future,
    )
    meta = meta_of(plan.predict, plan.template, index=_id_index(events, customer_col))
    function = functools.partial(plan.partition, empty=meta)
    # Only the columns the warning reads travel through the shuffle.
    wanted = (customer_col, timestamp_col, kind_col, value_col, event_id_col)
    present = set(events.columns)
    return map_customers_spark(
        events.select(*dict.fromkeys(c for c in wanted if c in present)),
        function=functools.partial(_plain_warnings, function=function),
        meta=_plain(meta),
        customer_col=customer_col,
        buckets=buckets,
    )
