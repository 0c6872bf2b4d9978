"""A review over partitioned customers: the per-customer steps of :func:`review`, per part.

The building blocks that :func:`crmscore.scaleout.review_dask` runs on every
partition, and that any other engine can run the same way. A review has two
population-wide steps (the CLV refit and the scorecard's normalisation) and
otherwise treats customers independently; here the per-customer part runs on one
partition of the book's per-customer state (:meth:`Book.to_frame` columns, plus
attribute columns) with that partition's customers' events, through the very
functions :func:`review` calls on the whole book:

1. :func:`review_rfm_table` gives the RFM table the CLV models are refitted on
   (sum its likelihood over partitions, e.g. with :mod:`crmscore.clv.partitioned`);
2. :func:`review_indicators` gives the scorecard's input, to learn the
   scorecard's normalisation from (e.g. :func:`crmscore.scaleout.fit_scorecard_dask`);
3. :func:`review_part` gives the partition's new state and audit rows, from the
   fitted models and scorecard in a :class:`ReviewContext`.

Every customer's events must be in the partition that holds the customer (the
events of customers the partition does not hold are ignored, as :func:`review`
ignores events of customers not in the book). The module holds no engine code:
pandas and numpy only. It is *provisional*, as :mod:`crmscore.clv.partitioned`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from crmscore._columns import EventColumns
from crmscore._periods import to_periods
from crmscore._purchases import rfm_columns
from crmscore._validation import timestamp_column
from crmscore.churn import LearnedWarning
from crmscore.clv import BetaGeoModel, GammaGammaModel
from crmscore.errors import InvalidParameterError
from crmscore.rescoring import _aggregates
from crmscore.rescoring._api import (
    _apply_churn,
    _Churn,
    _churn_levels,
    _ChurnMoves,
    _review_changes,
    _review_frame,
    _score_review,
)
from crmscore.rescoring._book import CUSTOMER_COLUMNS, Book, as_store, empty_changes
from crmscore.rescoring._chunks import ChunkedIndex
from crmscore.rescoring._core import Columns, aggregates_of, periods_of
from crmscore.rescoring._ingest import _step
from crmscore.rescoring._policy import RescoringPolicy
from crmscore.tiering import FittedScorecard

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy.typing as npt

    from crmscore._purchases import PurchaseAggregates
    from crmscore.rescoring._book import RescoringResult

__all__ = [
    "ReviewContext",
    "review_changes_meta",
    "review_indicators",
    "review_indicators_meta",
    "review_part",
    "review_rfm_table",
    "review_state_meta",
]

#: The dtype pandas gives a column of strings (``str`` from pandas 3, ``object`` before).
_TEXT = pd.Series(["text"]).dtype


def _optional(kind: type) -> Any:
    return attrs.validators.optional(attrs.validators.instance_of(kind))


@attrs.frozen(kw_only=True)
class ReviewContext:
    """What every partition of one review shares: the book-level state and settings."""

    policy: RescoringPolicy = attrs.field(validator=attrs.validators.instance_of(RescoringPolicy))
    """The book's policy."""

    as_of: pd.Timestamp = attrs.field(validator=attrs.validators.instance_of(pd.Timestamp))
    """When the review happens."""

    state_as_of: pd.Timestamp = attrs.field(validator=attrs.validators.instance_of(pd.Timestamp))
    """The ``as_of`` of the book the state comes from (:attr:`Book.as_of`)."""

    scorecard: FittedScorecard | None = attrs.field(
        default=None, validator=_optional(FittedScorecard)
    )
    """The fitted scorecard: the book's before the review, the relearned one after."""

    purchase_model: BetaGeoModel | None = attrs.field(
        default=None, validator=_optional(BetaGeoModel)
    )
    """The CLV step's BG/NBD model (the refitted one, when the review refits)."""

    spend_model: GammaGammaModel | None = attrs.field(
        default=None, validator=_optional(GammaGammaModel)
    )
    """The CLV step's Gamma-Gamma model (the refitted one, when the review refits)."""

    customer_col: str = "customer_id"
    """Name of the state's index and of the events' customer column."""

    event_columns: EventColumns = attrs.field(factory=EventColumns)
    """The events' column names."""

    attribute_columns: tuple[str, ...] = ()
    """Columns of the state that are attributes (:attr:`Book.attributes`)."""


def _column(state: pd.DataFrame, name: str, dtype: str) -> Any:
    """One state column as the book stores it (a Parquet round trip may change units)."""
    if dtype == "object":
        return np.asarray(state[name].to_numpy(dtype=object, na_value=""), dtype=object)
    return state[name].to_numpy(dtype=dtype)


def _book_of(state: pd.DataFrame, context: ReviewContext) -> Book:
    """Build a book of one partition's customers, with the review's book-level state."""
    ids = ChunkedIndex().add(state.index)
    attributes = pd.DataFrame(
        {c: state[c].to_numpy(dtype=np.float64) for c in context.attribute_columns},
        index=ids.to_index(name=context.customer_col),
    )
    return Book(
        policy=context.policy,
        as_of=context.state_as_of,
        scorecard=context.scorecard,
        purchase_model=context.purchase_model,
        spend_model=context.spend_model,
        ids=ids,
        columns=as_store(
            {name: _column(state, name, dtype) for name, dtype in CUSTOMER_COLUMNS.items()}
        ),
        attributes=attributes,
        customer_col=context.customer_col,
    )


@attrs.frozen(eq=False)
class _Prepared:
    """A partition up to its indicators: review steps 0 to 2 done."""

    stepped: RescoringResult
    book: Book
    columns: Columns
    ids: pd.Index[Any]
    frame: pd.DataFrame
    churn: _ChurnMoves | None


def _measured(book: Book, events: pd.DataFrame | None, context: ReviewContext) -> _Churn:
    """Measure the churn levels as :func:`review` does (none for a part without events)."""
    warning = book.policy.churn
    if events is None or len(events) == 0 or _all_later(events, context):
        return _Churn.unmeasured(book.n_customers, learned=isinstance(warning, LearnedWarning))
    return _churn_levels(book, events, context.as_of, context.event_columns)


def _all_later(events: pd.DataFrame, context: ReviewContext) -> bool:
    """Whether every event falls after ``as_of``'s day: the warning measures nobody then.

    On the whole log such events are left out; a partition holding only them would
    make the warning raise (no event on or before ``as_of``), so it measures nobody.
    """
    columns = context.event_columns
    stamps = events[columns.timestamp]
    if not pd.api.types.is_datetime64_any_dtype(stamps.dtype) or stamps.isna().any():
        return False  # (the warning rejects them, naming the customers)
    values, as_of = timestamp_column(
        events,
        columns.timestamp,
        ids=events[columns.customer],
        as_of=context.as_of,
        frame_name="events",
    )
    return bool((to_periods(values, "D") > to_periods(np.array([as_of]), "D")[0]).all())


def _prepare(state: pd.DataFrame, events: pd.DataFrame | None, context: ReviewContext) -> _Prepared:
    """Apply what fell due, the churn levels and the chain, as :func:`review` does."""
    stepped = _step(_book_of(state, context), None, context.as_of)
    book = stepped.book
    columns = Columns(book.columns, whole=True)
    ids = book.ids.to_index()
    every = aggregates_of(columns, slice(None))
    period = int(periods_of([context.as_of.to_datetime64()], book)[0])
    churn = None
    if book.policy.churn is not None:
        churn = _apply_churn(columns, _measured(book, events, context))
    frame = _review_frame(book, columns, every, period, ids)
    return _Prepared(stepped=stepped, book=book, columns=columns, ids=ids, frame=frame, churn=churn)


def review_rfm_table(state: pd.DataFrame, *, context: ReviewContext) -> pd.DataFrame:
    """Return the RFM table of a partition's customers at the review, for the CLV refit.

    Parameters
    ----------
    state : pandas.DataFrame
        Per-customer state (:meth:`Book.to_frame` columns), indexed by customer id.
    context : ReviewContext
        The review.

    Returns
    -------
    pandas.DataFrame
        The RFM table :func:`review` fits BG/NBD and Gamma-Gamma on, for these
        customers (a review applies no purchase: the state's aggregates at
        ``as_of``), indexed like ``state``.
    """
    aggregates: PurchaseAggregates = _aggregates.from_frame(state)
    period = int(
        to_periods(np.asarray([context.as_of.to_datetime64()]), context.policy.time_unit)[0]
    )
    return pd.DataFrame(rfm_columns(aggregates, period), index=state.index)


def review_indicators(
    state: pd.DataFrame, events: pd.DataFrame | None, *, context: ReviewContext
) -> pd.DataFrame:
    """Return the scorecard's input for a partition's customers at the review.

    Parameters
    ----------
    state : pandas.DataFrame
        Per-customer state (:meth:`Book.to_frame` columns and the attribute
        columns), indexed by customer id.
    events : pandas.DataFrame or None
        The review's events of these customers (for a churn step).
    context : ReviewContext
        The review, with the CLV models the review uses.

    Returns
    -------
    pandas.DataFrame
        The indicators :func:`review` scores, indexed by customer id: learn the
        scorecard's normalisation on all partitions' indicators together.
    """
    if len(state) == 0:
        return review_indicators_meta(state, context=context)
    return _prepare(state, events, context).frame


def _state_frame(
    values: Mapping[str, npt.NDArray[Any]], state: pd.DataFrame, context: ReviewContext
) -> pd.DataFrame:
    """Build the new state as :meth:`Book.to_frame` does, indexed like ``state``."""
    new = pd.DataFrame({name: np.array(values[name]) for name in CUSTOMER_COLUMNS}).set_axis(
        state.index
    )
    new["churn_reasons"] = new["churn_reasons"].astype(_TEXT)
    for name in context.attribute_columns:
        new[name] = state[name]
    return new


def review_state_meta(state: pd.DataFrame, *, context: ReviewContext) -> pd.DataFrame:
    """Return the (empty) new state :func:`review_part` gives for a state like ``state``."""
    empty = {name: np.empty(0, dtype=dtype) for name, dtype in CUSTOMER_COLUMNS.items()}
    return _state_frame(empty, state.iloc[:0], context)


def review_changes_meta() -> pd.DataFrame:
    """Return the (empty) audit rows :func:`review_part` gives: :data:`CHANGE_COLUMNS`."""
    return empty_changes()


def review_indicators_meta(state: pd.DataFrame, *, context: ReviewContext) -> pd.DataFrame:
    """Return the (empty) indicators :func:`review_indicators` gives for a state like ``state``.

    The columns of :func:`crmscore.rescoring._core.indicators`: the RFM columns, the
    CLV step's ``p_alive`` and ``clv``, the churn step's ``churn_level``, then the
    attributes not already there.
    """
    empty = _aggregates.from_frame(review_state_meta(state, context=context))
    frame = pd.DataFrame(rfm_columns(empty, 0))
    policy = context.policy
    if policy.clv is not None and context.purchase_model is not None:
        frame["p_alive"] = np.empty(0, dtype=np.float64)
        frame["clv"] = np.empty(0, dtype=np.float64)
    if policy.churn is not None:
        frame["churn_level"] = np.empty(0, dtype=np.int8)
    for name in context.attribute_columns:
        if name not in frame.columns:
            frame[name] = np.empty(0, dtype=np.float64)
    return frame.set_axis(state.index[:0].rename(context.customer_col))


def review_part(
    state: pd.DataFrame, events: pd.DataFrame | None, *, context: ReviewContext
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Review a partition's customers: their new state and audit rows.

    Parameters
    ----------
    state : pandas.DataFrame
        Per-customer state (:meth:`Book.to_frame` columns and the attribute
        columns), indexed by customer id.
    events : pandas.DataFrame or None
        The review's events of these customers (for a churn step).
    context : ReviewContext
        The review, with the models and the (relearned) scorecard it uses.

    Returns
    -------
    state : pandas.DataFrame
        The new state, indexed like ``state``, with the same columns.
    changes : pandas.DataFrame
        The audit rows (:data:`CHANGE_COLUMNS`): what fell due up to ``as_of``, then
        the review's rows, each part in time order, as in :func:`review`.
    """
    if context.scorecard is None:
        raise InvalidParameterError.for_value(
            name="context.scorecard", owner="review_part", allowed="a FittedScorecard", got=None
        )
    if len(state) == 0:
        return review_state_meta(state, context=context), empty_changes()
    prepared = _prepare(state, events, context)
    book, columns = prepared.book, prepared.columns
    scored = _score_review(book, prepared.frame, context.scorecard)
    made = _review_changes(
        book, columns, ids=prepared.ids, scored=scored, churn=prepared.churn, as_of=context.as_of
    ).frame()
    new = _state_frame(columns.freeze(), state, context)
    stepped = prepared.stepped.changes
    changes = pd.concat([stepped, made], ignore_index=True) if len(stepped) else made
    return new, changes if len(changes) else empty_changes()
