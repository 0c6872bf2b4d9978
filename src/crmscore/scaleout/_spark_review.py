"""The rescoring engine's periodic review on Spark: state and events in, state and audit out."""

from __future__ import annotations

import functools
from numbers import Integral
from typing import TYPE_CHECKING, Any

import attrs

from crmscore._validation import Interval, Optional, check_param
from crmscore.rescoring.partitioned import (
    ReviewContext,
    review_changes_meta,
    review_indicators,
    review_indicators_meta,
    review_part,
    review_rfm_table,
    review_state_meta,
)
from crmscore.scaleout._common import ROW, check_spark, in_input_order, require_columns
from crmscore.scaleout._review import DistributedReview, _typed_ids, review_context
from crmscore.scaleout._spark import bucket_count, fit_spark, spark_schema
from crmscore.scaleout._spark_population import fit_scorecard_spark

if TYPE_CHECKING:
    import pandas as pd

    from crmscore.clv import BetaGeoModel, GammaGammaModel
    from crmscore.rescoring import RescoringPolicy
    from crmscore.tiering import FittedScorecard

__all__ = ["review_spark"]

_BUCKET = "__crmscore_bucket"


def _state_part(part: pd.DataFrame, customer_col: str, sample: pd.DataFrame) -> pd.DataFrame:
    """One bucket's state as the pandas steps take it: input order, indexed by id, typed."""
    ordered = in_input_order(part.drop(columns=_BUCKET)).set_index(customer_col)
    # Arrow hands back what Spark stores (e.g. microsecond timestamps): the sample's dtypes.
    return ordered.astype(sample.dtypes.to_dict())


def _events_part(part: pd.DataFrame) -> pd.DataFrame | None:
    return in_input_order(part.drop(columns=_BUCKET)) if len(part) else None


def _rfm_part(part: pd.DataFrame, *, context: ReviewContext, sample: pd.DataFrame) -> pd.DataFrame:
    state = part.set_index(context.customer_col).astype(sample.dtypes.to_dict())
    return review_rfm_table(state, context=context).reset_index()


def _indicators_part(
    state: pd.DataFrame, events: pd.DataFrame, *, context: ReviewContext, sample: pd.DataFrame
) -> pd.DataFrame:
    frame = review_indicators(
        _state_part(state, context.customer_col, sample), _events_part(events), context=context
    )
    return frame.reset_index()


def _reviewed_part(
    state: pd.DataFrame,
    events: pd.DataFrame,
    *,
    context: ReviewContext,
    sample: pd.DataFrame,
    which: int,
    id_dtype: Any,
) -> pd.DataFrame:
    new, changes = review_part(
        _state_part(state, context.customer_col, sample), _events_part(events), context=context
    )
    if which == 0:
        return new.reset_index()
    return _typed_ids(changes, id_dtype)


def review_spark(
    state: Any,
    events: Any = None,
    *,
    policy: RescoringPolicy,
    as_of: Any,
    state_as_of: Any,
    scorecard: FittedScorecard | None = None,
    purchase_model: BetaGeoModel | None = None,
    spend_model: GammaGammaModel | None = None,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    kind_col: str = "kind",
    value_col: str = "value",
    event_id_col: str = "event_id",
    buckets: int | None = None,
) -> DistributedReview:
    """:func:`crmscore.rescoring.review` on a Spark table of customers.

    :func:`crmscore.scaleout.review_dask` for Spark tables.

    Parameters
    ----------
    state : pyspark.sql.DataFrame
        The book's per-customer state before the review, the id in
        ``customer_col``: the columns of :meth:`~crmscore.rescoring.Book.to_frame`
        plus numeric attribute columns, as :func:`review_dask` takes them.
    events : pyspark.sql.DataFrame, optional
        The recent event log, for the policy's churn step.
    policy
        As in :func:`review_dask`.
    as_of
        As in :func:`review_dask`.
    state_as_of
        As in :func:`review_dask`.
    scorecard
        As in :func:`review_dask`.
    purchase_model
        As in :func:`review_dask`.
    spend_model
        As in :func:`review_dask`.
    customer_col : str, default "customer_id"
        The column of customer ids in ``state`` and ``events``.
    timestamp_col
        As in :func:`review_dask`.
    kind_col
        As in :func:`review_dask`.
    value_col
        As in :func:`review_dask`.
    event_id_col
        As in :func:`review_dask`.
    buckets : int, optional
        Customers are hashed into this many buckets; each bucket is one pandas
        call. Defaults to the session's ``spark.sql.shuffle.partitions``, as in
        :func:`map_customers_spark`.

    Returns
    -------
    DistributedReview
        ``state`` (the id in ``customer_col``, tiers as positions) and ``changes``
        (the audit rows) as lazy Spark DataFrames, and the models and scorecard
        the review used. On the same data, equal to
        :func:`~crmscore.rescoring.review` as :func:`review_dask` is.

    Raises
    ------
    InvalidParameterError
        At once: ``state`` or ``events`` is not a Spark DataFrame, or as
        :func:`review_dask`.
    ColumnNotFoundError, InvalidDataError
        As :func:`review_dask`.

    Notes
    -----
    The fits run first, eagerly, without gathering customers on the driver: the
    CLV refit with :func:`fit_spark` on the state's RFM table at the review, the
    scorecard with :func:`fit_scorecard_spark` on every customer's indicators.
    State and events are grouped by the same customer buckets
    (``groupBy(bucket).cogroup(...).applyInPandas``), so each customer's events
    meet its state, and each bucket runs the per-customer steps of
    :func:`~crmscore.rescoring.review` (see :mod:`crmscore.rescoring.partitioned`)
    in the input's row order. ``state`` and ``changes`` are two Spark plans over
    the same cogroup: each runs the bucket's review when computed (cache or
    checkpoint the inputs to avoid reading them twice).

    Examples
    --------
    >>> result = review_spark(state_table, event_table, policy=book.policy,
    ...                       as_of="2026-03-31", state_as_of=book.as_of,
    ...                       scorecard=book.scorecard)  # doctest: +SKIP
    >>> result.state.write.parquet("state/")  # doctest: +SKIP
    >>> result.changes.write.parquet("audit/")  # doctest: +SKIP
    """
    owner = "review_spark"
    state = check_spark(state, name="state", owner=owner)
    if events is not None:
        events = check_spark(events, name="events", owner=owner)
    check_param(
        buckets, Optional(Interval(Integral, 1, None, closed="left")), name="buckets", owner=owner
    )
    require_columns(state.columns, (customer_col,), frame="state")
    sample = state.limit(0).toPandas().set_index(customer_col)
    context = review_context(
        sample.columns,
        None if events is None else events.columns,
        dtypes=sample.dtypes.to_dict(),
        owner=owner,
        policy=policy,
        as_of=as_of,
        state_as_of=state_as_of,
        scorecard=scorecard,
        purchase_model=purchase_model,
        spend_model=spend_model,
        customer_col=customer_col,
        timestamp_col=timestamp_col,
        kind_col=kind_col,
        value_col=value_col,
        event_id_col=event_id_col,
    )
    # The book's dtypes (a Spark table stores e.g. int8 positions as wider integers).
    sample = sample.astype(review_state_meta(sample, context=context).dtypes.to_dict())
    context = _refit_clv(state, context, sample=sample)
    count = bucket_count(state) if buckets is None else int(buckets)
    from pyspark.sql import functions as sf  # noqa: PLC0415 (optional extra)

    def bucketed(frame: Any, id_column: str) -> Any:
        return frame.withColumn(ROW, sf.monotonically_increasing_id()).withColumn(
            _BUCKET, sf.pmod(sf.hash(id_column), sf.lit(count))
        )

    state_groups = bucketed(state, customer_col).groupBy(_BUCKET)
    if events is not None and policy.churn is not None:
        event_groups = bucketed(events, customer_col).groupBy(_BUCKET)
    else:  # no churn step: every bucket meets no event
        event_groups = bucketed(state.select(customer_col).limit(0), customer_col).groupBy(_BUCKET)
    grouped = state_groups.cogroup(event_groups)
    if context.scorecard is None or policy.refit_on_review:
        template = review_indicators_meta(sample, context=context)
        indicators = grouped.applyInPandas(
            functools.partial(_indicators_part, context=context, sample=sample),
            schema=spark_schema(template),
        )
        fitted = fit_scorecard_spark(
            indicators.select(customer_col, *policy.scorecard.columns),
            scorecard=policy.scorecard,
            customer_col=customer_col,
        )
        context = attrs.evolve(context, scorecard=fitted)
    assert context.scorecard is not None  # (fitted just above when missing)
    id_dtype = sample.index.dtype
    outputs = [
        grouped.applyInPandas(
            functools.partial(
                _reviewed_part, context=context, sample=sample, which=which, id_dtype=id_dtype
            ),
            schema=spark_schema(meta),
        )
        for which, meta in enumerate(
            (
                review_state_meta(sample, context=context),
                _typed_ids(review_changes_meta(), id_dtype).set_index("customer_id"),
            )
        )
    ]
    return DistributedReview(
        state=outputs[0],
        changes=outputs[1],
        scorecard=context.scorecard,
        purchase_model=context.purchase_model,
        spend_model=context.spend_model,
        as_of=context.as_of,
    )


def _refit_clv(state: Any, context: ReviewContext, *, sample: pd.DataFrame) -> ReviewContext:
    """Refit BG/NBD and Gamma-Gamma on the whole state when the review would."""
    stage = context.policy.clv
    if stage is None or (
        context.purchase_model is not None
        and context.spend_model is not None
        and not stage.refit_on_review
    ):
        return context
    schema = spark_schema(review_rfm_table(sample, context=context))
    part = functools.partial(_rfm_part, context=context, sample=sample)
    table = state.mapInPandas(lambda batches: (part(batch) for batch in batches), schema)
    unit = context.policy.time_unit
    return attrs.evolve(
        context,
        purchase_model=fit_spark(table, fitter=stage.purchase_fitter, time_unit=unit),
        spend_model=fit_spark(table, fitter=stage.spend_fitter),
    )
