"""Fitted scorers per Dask partition: CLV predictions, churn warning levels, tiers."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np
import pandas as pd

from crmscore._columns import EventColumns
from crmscore._periods import to_periods
from crmscore._validation import (
    InstanceOf,
    as_timestamp,
    check_choice,
    check_param,
    timestamp_column,
)
from crmscore.churn import EarlyWarning, LearnedWarning
from crmscore.clv import BetaGeoModel, GammaGammaModel, customer_lifetime_value
from crmscore.errors import InvalidParameterError
from crmscore.scaleout._common import check_dask, meta_of, require_columns
from crmscore.scaleout._dask import map_customers_dask
from crmscore.tiering import FittedScorecard

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable

    import dask.dataframe as dd

    from crmscore._periods import TimeUnit
    from crmscore.tiering import Language

__all__ = ["early_warning_dask", "predict_clv_dask", "score_tiers_dask"]

_CLV_COLUMNS = ("frequency", "recency", "T", "monetary_value")


def _clv_columns(
    table: pd.DataFrame,
    *,
    purchase_model: BetaGeoModel,
    spend_model: GammaGammaModel,
    t: float,
    horizon: int,
    discount_rate: float,
    margin: float,
    periods_per_step: float | None,
    time_unit: str | None,
) -> pd.DataFrame:
    """Predict the CLV columns of one partition (any rows of an RFM table)."""
    return pd.DataFrame(
        {
            "p_alive": purchase_model.probability_alive(table),
            "expected_purchases": purchase_model.expected_purchases(table, t=t),
            "expected_spend": spend_model.expected_spend(table),
            "clv": customer_lifetime_value(
                table,
                purchase_model=purchase_model,
                spend_model=spend_model,
                horizon=horizon,
                discount_rate=discount_rate,
                margin=margin,
                periods_per_step=periods_per_step,
                time_unit=time_unit,
            ),
        },
        index=table.index,
    )


def predict_clv_dask(
    table: dd.DataFrame,
    *,
    purchase_model: BetaGeoModel,
    spend_model: GammaGammaModel,
    t: float,
    horizon: int,
    discount_rate: float,
    margin: float = 1.0,
    periods_per_step: float | None = None,
    time_unit: TimeUnit | None = None,
) -> dd.DataFrame:
    """P(alive), expected purchases, expected spend and CLV per customer, on Dask.

    Parameters
    ----------
    table : dask.dataframe.DataFrame
        RFM table (e.g. :func:`crmscore.scaleout.rfm_table_dask`) with
        ``frequency``, ``recency``, ``T``, ``monetary_value``, indexed by customer.
    purchase_model : BetaGeoModel
        Fitted (e.g. by :func:`crmscore.scaleout.fit_dask`) or built from parameters.
    spend_model : GammaGammaModel
        Likewise.
    t : float
        Horizon of ``expected_purchases``, in the table's time unit.
    horizon
        As in :func:`crmscore.clv.customer_lifetime_value`.
    discount_rate
        As in :func:`crmscore.clv.customer_lifetime_value`.
    margin
        As in :func:`crmscore.clv.customer_lifetime_value`.
    periods_per_step
        As in :func:`crmscore.clv.customer_lifetime_value`.
    time_unit : {"D", "W", "M"}, optional
        As in :func:`crmscore.clv.customer_lifetime_value`; defaults to the
        ``attrs["time_unit"]`` of the table's metadata, and is passed to every
        partition explicitly (a partition need not carry ``attrs``).

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy, indexed like ``table``: ``p_alive``
        (:meth:`~crmscore.clv.BetaGeoModel.probability_alive`),
        ``expected_purchases`` (:meth:`~crmscore.clv.BetaGeoModel.expected_purchases`),
        ``expected_spend`` (:meth:`~crmscore.clv.GammaGammaModel.expected_spend`) and
        ``clv`` (:func:`~crmscore.clv.customer_lifetime_value`), the same values as
        those functions give on the whole table in pandas.

    Raises
    ------
    InvalidParameterError
        At once: ``table`` is not a Dask DataFrame, a model or parameter is invalid,
        or the time unit is unknown (set it on the model or pass
        ``periods_per_step``).
    ColumnNotFoundError
        At once, if a column is missing.
    InvalidDataError
        When computed, for rows the models reject.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> from crmscore import BetaGeoFitter, GammaGammaFitter, make_transactions, rfm_table
    >>> book = make_transactions(2_000, seed=7)
    >>> table = rfm_table(book.transactions, as_of=book.as_of)
    >>> purchases, spend = BetaGeoFitter().fit(table), GammaGammaFitter().fit(table)
    >>> lazy = predict_clv_dask(dd.from_pandas(table, npartitions=3),
    ...                         purchase_model=purchases, spend_model=spend,
    ...                         t=90, horizon=12, discount_rate=0.01)
    >>> list(lazy.columns)
    ['p_alive', 'expected_purchases', 'expected_spend', 'clv']
    >>> clv = lazy.compute().sort_index()["clv"]
    >>> clv.equals(customer_lifetime_value(table, purchase_model=purchases,
    ...                                    spend_model=spend, horizon=12,
    ...                                    discount_rate=0.01))
    True
    """
    table = check_dask(table, name="table", owner="predict_clv_dask")
    require_columns(table.columns, _CLV_COLUMNS, frame="table")
    function = functools.partial(
        _clv_columns,
        purchase_model=purchase_model,
        spend_model=spend_model,
        t=t,
        horizon=horizon,
        discount_rate=discount_rate,
        margin=margin,
        periods_per_step=periods_per_step,
        time_unit=time_unit if time_unit is not None else table._meta.attrs.get("time_unit"),
    )
    # One valid customer, so that every parameter is checked now, not when computed.
    template = pd.DataFrame(
        {"frequency": [1], "recency": [1.0], "T": [2.0], "monetary_value": [1.0]}
    )
    template.attrs = dict(table._meta.attrs)
    meta = meta_of(function, template, index=table._meta.index)
    return map_customers_dask(table, function=function, meta=meta)


def _predict_partition(
    events: pd.DataFrame,
    *,
    warning: EarlyWarning | LearnedWarning,
    as_of: pd.Timestamp,
    empty: pd.DataFrame,
    columns: EventColumns,
    options: dict[str, Any],
) -> pd.DataFrame:
    """``warning.predict`` on one partition of co-located events.

    A partition whose events all fall after ``as_of``'s day (left out with
    ``future="drop"``) has nobody to evaluate: it gives no rows, where the pandas
    call on such a log alone would raise.
    """
    stamps = events[columns.timestamp]
    if (
        options["future"] == "drop"
        and pd.api.types.is_datetime64_any_dtype(stamps.dtype)
        and not stamps.isna().any()
    ):
        values, as_of64 = timestamp_column(
            events,
            columns.timestamp,
            ids=events[columns.customer],
            as_of=as_of,
            frame_name="events",
        )
        as_of_day = to_periods(np.array([as_of64]), "D")[0]
        if (to_periods(values, "D") > as_of_day).all():
            return empty.copy()
    if isinstance(warning, LearnedWarning):
        return warning.predict(events, as_of=as_of, **_predict_options(options))
    return warning.predict(events, as_of=as_of, **options)


def _predict_options(options: dict[str, Any]) -> dict[str, Any]:
    """Keep the options :meth:`LearnedWarning.predict` takes (it drops future events)."""
    return {k: v for k, v in options.items() if k != "future"}


@attrs.frozen(kw_only=True)
class WarningPlan:
    """A checked warning call, ready to run on any engine's parts of the event log."""

    #: ``warning.predict`` with every option bound (takes the events only).
    predict: Callable[[pd.DataFrame], pd.DataFrame]
    #: :func:`_predict_partition` with every option bound but ``empty``.
    partition: Callable[..., pd.DataFrame]
    #: One valid event (a purchase on the day of ``as_of``): the metadata's input.
    template: pd.DataFrame


def warning_plan(
    available: Iterable[Any],
    *,
    owner: str,
    as_of: Any,
    warning: EarlyWarning | LearnedWarning | None,
    columns: EventColumns,
    extra_kinds: Collection[str],
    future: Literal["drop", "error"],
) -> WarningPlan:
    """Check a warning call on a lazy event log (column names ``available``) at once."""
    if warning is None:
        warning = EarlyWarning()
    else:
        check_param(
            warning,
            InstanceOf((EarlyWarning, LearnedWarning), "an EarlyWarning or a LearnedWarning"),
            name="warning",
            owner=owner,
        )
    check_choice(future, name="future", owner=owner, choices=("drop", "error"))
    as_of_ts = as_timestamp(as_of, name="as_of", owner=owner)
    require_columns(available, (columns.customer, columns.timestamp, columns.kind), frame="events")
    options: dict[str, Any] = {
        **columns.as_kwargs(),
        "extra_kinds": extra_kinds,
        "future": future,
    }
    bound = _predict_options(options) if isinstance(warning, LearnedWarning) else options
    template = pd.DataFrame(
        {
            columns.customer: [0],
            columns.timestamp: [as_of_ts],
            columns.kind: ["purchase"],
            columns.value: [1.0],
        }
    )
    return WarningPlan(
        predict=functools.partial(warning.predict, as_of=as_of_ts, **bound),
        partition=functools.partial(
            _predict_partition, warning=warning, as_of=as_of_ts, columns=columns, options=options
        ),
        template=template,
    )


def early_warning_dask(
    events: dd.DataFrame,
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
) -> dd.DataFrame:
    """Churn warning levels per customer from a Dask event log.

    Parameters
    ----------
    events : dask.dataframe.DataFrame
        The event log, partitioned any way (see :meth:`crmscore.churn.EarlyWarning.predict`).
    as_of : date-like
        Evaluation date.
    warning : EarlyWarning or LearnedWarning, optional
        Signals and rules; by default ``EarlyWarning()`` (the policy's). A fitted
        :class:`~crmscore.churn.LearnedWarning` scores with
        :meth:`~crmscore.churn.LearnedWarning.predict` instead (its BG/NBD
        parameters are fixed in the model, so every feature is the customer's own).
    customer_col
        As in :meth:`crmscore.churn.EarlyWarning.predict` (``future`` is not used
        by a learned warning, which leaves later events out).
    timestamp_col
        As in :meth:`crmscore.churn.EarlyWarning.predict` (``future`` is not used
        by a learned warning, which leaves later events out).
    kind_col
        As in :meth:`crmscore.churn.EarlyWarning.predict` (``future`` is not used
        by a learned warning, which leaves later events out).
    value_col
        As in :meth:`crmscore.churn.EarlyWarning.predict` (``future`` is not used
        by a learned warning, which leaves later events out).
    event_id_col
        As in :meth:`crmscore.churn.EarlyWarning.predict` (``future`` is not used
        by a learned warning, which leaves later events out).
    extra_kinds
        As in :meth:`crmscore.churn.EarlyWarning.predict` (``future`` is not used
        by a learned warning, which leaves later events out).
    future
        As in :meth:`crmscore.churn.EarlyWarning.predict` (``future`` is not used
        by a learned warning, which leaves later events out).

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy; the columns of :meth:`~crmscore.churn.EarlyWarning.predict` (or of
        :meth:`~crmscore.churn.LearnedWarning.predict`), one row
        per customer with an event on or before ``as_of``, indexed by customer id
        (sorted within each partition). The values equal those of the pandas call on
        the whole log. ``signals`` is a categorical whose categories are the
        combinations that occur in each partition (unknown in the metadata, their
        union after ``compute``): compare it by value, or set the categories.

    Raises
    ------
    InvalidParameterError, ColumnNotFoundError
        At once, for an invalid parameter or a missing column.
    InvalidDataError
        When computed, for the events the pandas call rejects.

    Notes
    -----
    The events are shuffled on ``customer_col`` so that each customer's events
    share a partition, then ``predict`` runs per partition
    (:func:`map_customers_dask`): a customer's level depends on that customer's events
    only. Event ids are de-duplicated, and checked for conflicts, within a
    customer's events: an id shared by two customers is not detected.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> from crmscore import EarlyWarning, make_events
    >>> log = make_events(300, seed=2)
    >>> lazy = early_warning_dask(dd.from_pandas(log.events, npartitions=3),
    ...                           as_of=log.as_of)
    >>> levels = lazy.compute().sort_index()["level"]
    >>> levels.equals(EarlyWarning().predict(log.events, as_of=log.as_of)["level"])
    True
    """
    events = check_dask(events, name="events", owner="early_warning_dask")
    plan = warning_plan(
        events.columns,
        owner="early_warning_dask",
        as_of=as_of,
        warning=warning,
        columns=EventColumns(
            customer=customer_col,
            timestamp=timestamp_col,
            kind=kind_col,
            value=value_col,
            event_id=event_id_col,
        ),
        extra_kinds=extra_kinds,
        future=future,
    )
    index = pd.Index([], dtype=events._meta[customer_col].dtype, name=customer_col)
    meta = meta_of(plan.predict, plan.template, index=index)
    if "signals" in meta.columns:  # a rule-based warning's fired combinations
        # The combinations depend on the data: unknown categories (dask's marker).
        from dask.dataframe.utils import clear_known_categories  # noqa: PLC0415  (optional extra)

        meta = clear_known_categories(meta, cols=["signals"])  # type: ignore[no-untyped-call]
    function = functools.partial(plan.partition, empty=meta)
    return map_customers_dask(events, function=function, meta=meta, customer_col=customer_col)


def score_tiers_dask(
    frame: dd.DataFrame,
    *,
    scorecard: FittedScorecard,
    language: Language = "en",
    normalised: bool = False,
) -> dd.DataFrame:
    """Scores, contributions and tiers per customer with a fitted scorecard, on Dask.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
        One row per customer, indexed by customer id, with the indicator columns
        (and any column a tier rule reads).
    scorecard : FittedScorecard
        The frozen normalisation, fitted on a population (in pandas: the whole book
        if it fits in memory, or a sample of it).
    language
        As in :meth:`crmscore.tiering.FittedScorecard.score`.
    normalised
        As in :meth:`crmscore.tiering.FittedScorecard.score`.

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy, indexed like ``frame``, with the columns and dtypes of
        :meth:`~crmscore.tiering.FittedScorecard.score` (tiers as ordered
        categoricals), and its values.

    Raises
    ------
    InvalidParameterError
        At once: ``frame`` is not a Dask DataFrame or ``scorecard`` not fitted.
    ColumnNotFoundError
        At once, if a column is missing.
    InvalidDataError
        When computed, for rows the scorecard rejects.

    Notes
    -----
    A fitted scorecard scores each customer from that customer's indicators alone,
    so partitions are scored independently, without a shuffle. Ids repeated across
    partitions are not detected.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> from crmscore import b2b_scorecard, make_b2b_indicators
    >>> indicators = make_b2b_indicators(500, seed=3)
    >>> fitted = b2b_scorecard().fit(indicators)
    >>> lazy = score_tiers_dask(dd.from_pandas(indicators, npartitions=4), scorecard=fitted)
    >>> lazy.compute().sort_index().equals(fitted.score(indicators).sort_index())
    True
    """
    owner = "score_tiers_dask"
    frame = check_dask(frame, name="frame", owner=owner)
    if not isinstance(scorecard, FittedScorecard):
        raise InvalidParameterError.for_value(
            name="scorecard", owner=owner, allowed="a FittedScorecard", got=type(scorecard).__name__
        )
    check_choice(language, name="language", owner=owner, choices=("en", "zh"))
    card = scorecard.scorecard
    rule_columns = [rule.column for rule in card.rules]
    require_columns(frame.columns, [*card.columns, *rule_columns], frame="frame")
    # One customer at the population medians (or, where no median was learned, at a
    # value the learned scale names: a minimum, mean, first knot or range start), no
    # rule met: valid for any scorecard.
    values: dict[str, list[float]] = {column: [np.nan] for column in rule_columns}
    typical = [
        scale.params[0] if np.isnan(m) else m
        for m, scale in zip(scorecard.medians, scorecard.scales, strict=True)
    ]
    values.update({c: [v] for c, v in zip(card.columns, typical, strict=True)})
    function = functools.partial(scorecard.score, language=language, normalised=normalised)
    meta = meta_of(function, pd.DataFrame(values), index=frame._meta.index)
    return map_customers_dask(frame, function=function, meta=meta)
