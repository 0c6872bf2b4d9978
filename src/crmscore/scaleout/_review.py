"""The rescoring engine's periodic review on Dask: state and events in, state and audit out."""

from __future__ import annotations

import functools
import operator
from numbers import Integral
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from crmscore._columns import EventColumns
from crmscore._ids import canonical_ids, hash_ids
from crmscore._validation import Interval, Optional, as_timestamp, check_param
from crmscore.clv import BetaGeoModel, GammaGammaModel
from crmscore.errors import InvalidDataError, InvalidParameterError
from crmscore.rescoring import CUSTOMER_COLUMNS, RescoringPolicy
from crmscore.rescoring.partitioned import (
    ReviewContext,
    review_changes_meta,
    review_indicators,
    review_indicators_meta,
    review_part,
    review_rfm_table,
    review_state_meta,
)
from crmscore.scaleout._common import (
    ROW,
    check_dask,
    check_row_column,
    in_input_order,
    require_columns,
)
from crmscore.scaleout._dask import fit_dask
from crmscore.scaleout._population import fit_scorecard_dask
from crmscore.tiering import FittedScorecard

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["DistributedReview", "review_dask"]

#: Column holding the hash of each row's canonical customer id, to shuffle on.
_ID_HASH = "__crmscore_review_hash__"

#: Rows of one partition are numbered below 2**40; the partition number goes above.
_ROW_BITS = 40


@attrs.frozen(kw_only=True, eq=False)
class DistributedReview:
    """What :func:`review_dask` returns: the new state and audit rows (lazy), the models."""

    state: Any
    """The new per-customer state, lazy, indexed by customer id: the columns of
    :meth:`~crmscore.rescoring.Book.to_frame` (tiers as positions), then the
    attribute columns, as given."""

    changes: Any
    """The audit rows of the review, lazy, in the audit-trail schema
    (:data:`~crmscore.rescoring.CHANGE_COLUMNS`): per partition, what fell due up to
    ``as_of`` and then the review's rows, as :func:`~crmscore.rescoring.review` orders
    them."""

    scorecard: FittedScorecard
    """The scorecard the review scored with (relearned when the policy says so)."""

    purchase_model: BetaGeoModel | None
    """The CLV step's BG/NBD model (refitted when due); ``None`` without a CLV step."""

    spend_model: GammaGammaModel | None
    """The CLV step's Gamma-Gamma model (refitted when due); ``None`` without one."""

    as_of: pd.Timestamp
    """When the review happened: the book's new ``as_of`` and ``last_review``."""


def _number(part: pd.DataFrame, ids: Any, partition_info: dict[str, Any] | None) -> pd.DataFrame:
    """Add each row's place in the frame and the hash of its canonical customer id."""
    number = 0 if partition_info is None else int(partition_info["number"])
    return part.assign(
        **{
            ROW: (number << _ROW_BITS) + np.arange(len(part), dtype=np.int64),
            _ID_HASH: hash_ids(canonical_ids(ids, column=None, allow_missing=True)),
        }
    )


def _number_state(part: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
    return _number(part, part.index, partition_info)


def _number_events(
    part: pd.DataFrame, customer_col: str, partition_info: dict[str, Any] | None = None
) -> pd.DataFrame:
    return _number(part, part[customer_col], partition_info)


def _co_located(frame: dd.DataFrame, npartitions: int) -> dd.DataFrame:
    """Shuffle on the id hash: equal ids land in the same-numbered partition of any frame."""
    shuffled: dd.DataFrame = frame.shuffle(_ID_HASH, npartitions=npartitions)
    return shuffled


def _restored(part: pd.DataFrame | None) -> pd.DataFrame | None:
    """Put a shuffled part back in the input's row order, without the helper columns."""
    if part is None:
        return None
    return in_input_order(part.drop(columns=_ID_HASH))


def _indicators_part(
    state: pd.DataFrame, events: pd.DataFrame | None, *, context: ReviewContext
) -> pd.DataFrame:
    return review_indicators(_restored(state), _restored(events), context=context)  # type: ignore[arg-type]


def _review_part(
    state: pd.DataFrame, events: pd.DataFrame | None, *, context: ReviewContext, id_dtype: Any
) -> tuple[pd.DataFrame, pd.DataFrame]:
    new, changes = review_part(_restored(state), _restored(events), context=context)  # type: ignore[arg-type]
    return new, _typed_ids(changes, id_dtype)


def _typed_ids(changes: pd.DataFrame, id_dtype: Any) -> pd.DataFrame:
    """Give the audit rows' ``customer_id`` the state index's dtype, when it is numeric.

    (The engine keeps ids as Python objects; a Parquet column of integer ids is
    better typed, and object columns would become strings under Dask's defaults.)
    """
    if pd.api.types.is_numeric_dtype(id_dtype):
        return changes.astype({"customer_id": id_dtype})
    return changes


def _check_models(
    purchase_model: object, spend_model: object, scorecard: object, owner: str
) -> None:
    for name, value, kind in (
        ("purchase_model", purchase_model, BetaGeoModel),
        ("spend_model", spend_model, GammaGammaModel),
        ("scorecard", scorecard, FittedScorecard),
    ):
        if value is not None and not isinstance(value, kind):
            raise InvalidParameterError.for_value(
                name=name,
                owner=owner,
                allowed=f"a {kind.__name__} or None",
                got=type(value).__name__,
            )


def review_context(
    state_columns: Any,
    events_columns: Any,
    *,
    dtypes: dict[Any, Any],
    owner: str,
    policy: RescoringPolicy,
    as_of: Any,
    state_as_of: Any,
    scorecard: FittedScorecard | None,
    purchase_model: BetaGeoModel | None,
    spend_model: GammaGammaModel | None,
    customer_col: str,
    timestamp_col: str,
    kind_col: str,
    value_col: str,
    event_id_col: str,
) -> ReviewContext:
    """Check a distributed review's arguments (any engine) and build its context.

    ``state_columns`` and ``events_columns`` (None: no events) are the frames'
    column names, ``dtypes`` the state columns' pandas dtypes.
    """
    if not isinstance(policy, RescoringPolicy):
        raise InvalidParameterError.for_value(
            name="policy", owner=owner, allowed="a RescoringPolicy", got=type(policy).__name__
        )
    _check_models(purchase_model, spend_model, scorecard, owner)
    as_of_ts = as_timestamp(as_of, name="as_of", owner=owner)
    since = as_timestamp(state_as_of, name="state_as_of", owner=owner)
    for name, stamp in (("as_of", as_of_ts), ("state_as_of", since)):
        if stamp.tzinfo is not None:
            raise InvalidParameterError.for_value(
                name=name, owner=owner, allowed="a naive (wall-clock) timestamp", got=stamp
            )
    if as_of_ts < since:
        raise InvalidParameterError(
            f"as_of ({as_of_ts}) is before state_as_of ({since}): a book only moves forward "
            "in time. Pass an as_of at or after it."
        )
    if policy.churn is not None and events_columns is None:
        raise InvalidParameterError(
            f"The policy has a churn step: pass the recent events to {owner}(state, events, "
            "...) so that warning levels can be measured."
        )
    require_columns(state_columns, list(CUSTOMER_COLUMNS), frame="state")
    check_row_column(state_columns, owner=owner)
    attribute_columns = tuple(str(c) for c in state_columns if c not in CUSTOMER_COLUMNS)
    for name in attribute_columns:
        dtype = dtypes[name]
        if not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)):
            raise InvalidDataError(
                f"Column {name!r} of state is not a book column (Book.to_frame), so it is taken "
                f"for an attribute, but its dtype {dtype} is not numeric. Drop it, or convert "
                "it to numbers (NaN for missing).",
                column=name,
            )
    event_columns = EventColumns(
        customer=customer_col,
        timestamp=timestamp_col,
        kind=kind_col,
        value=value_col,
        event_id=event_id_col,
    )
    if events_columns is not None:
        require_columns(events_columns, (customer_col, timestamp_col, kind_col), frame="events")
        check_row_column(events_columns, owner=owner)
    return ReviewContext(
        policy=policy,
        as_of=as_of_ts,
        state_as_of=since,
        scorecard=scorecard,
        purchase_model=purchase_model,
        spend_model=spend_model,
        customer_col=customer_col,
        event_columns=event_columns,
        attribute_columns=attribute_columns,
    )


def review_dask(
    state: dd.DataFrame,
    events: dd.DataFrame | None = None,
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
    npartitions: int | None = None,
    split_every: int = 8,
) -> DistributedReview:
    """:func:`crmscore.rescoring.review` on a Dask table of customers.

    Parameters
    ----------
    state : dask.dataframe.DataFrame
        The book's per-customer state before the review, indexed by customer id
        (named ``customer_col``): the columns of
        :meth:`~crmscore.rescoring.Book.to_frame` (a Parquet round trip is fine),
        plus numeric attribute columns (:attr:`~crmscore.rescoring.Book.attributes`,
        NaN for missing); any other column is taken for an attribute. Partitioned
        any way.
    events : dask.dataframe.DataFrame, optional
        The recent event log, for the policy's churn step (required when the policy
        has one), as :func:`~crmscore.rescoring.review` takes it. Not applied to the
        state: ingest events with :func:`~crmscore.rescoring.ingest`.
    policy : RescoringPolicy
        The book's policy (:attr:`Book.policy <crmscore.rescoring.Book.policy>`).
    as_of : date-like
        When the review happens (not before ``state_as_of``).
    state_as_of : date-like
        The ``as_of`` of the book the state comes from
        (:attr:`Book.as_of <crmscore.rescoring.Book.as_of>`): win-back offers due
        between it and ``as_of`` are raised by the review.
    scorecard : FittedScorecard, optional
        The book's fitted scorecard (:attr:`Book.scorecard
        <crmscore.rescoring.Book.scorecard>`); relearned on the whole state when
        missing or ``policy.refit_on_review``.
    purchase_model : BetaGeoModel, optional
        The book's BG/NBD model; refitted on the whole state when missing or the
        CLV step's ``refit_on_review``.
    spend_model : GammaGammaModel, optional
        The book's Gamma-Gamma model; refitted like ``purchase_model``.
    customer_col : str, default "customer_id"
        Name of the state's index, and column of customer ids in ``events``.
    timestamp_col : str, default "timestamp"
        Column of timestamps in ``events``.
    kind_col : str, default "kind"
        Column of event kinds in ``events``.
    value_col : str, default "value"
        Column of event values in ``events``.
    event_id_col : str, default "event_id"
        Column of event ids in ``events``.
    npartitions : int, optional
        Partitions of the shuffled state (and events); the state's by default.
    split_every : int, default 8
        How many partial sums each step of the fits' tree reductions adds.

    Returns
    -------
    DistributedReview
        ``state`` and ``changes`` lazy (write them with ``to_parquet``; both come
        from the same tasks, so write them in one ``dask.compute`` to run the
        review once), and the models and scorecard the review used. The book's
        ``as_of`` and ``last_review`` are now ``as_of``; its notes (override
        reasons) are unchanged. On the same data, the same as
        :func:`~crmscore.rescoring.review` on the whole book: the state column by
        column and the audit rows as a set, with the models equal to the optimiser's
        tolerance (see :func:`fit_dask`), hence scores, CLV and P(alive) equal to
        about 1e-9 relative, tiers and levels equal.

    Raises
    ------
    InvalidParameterError
        At once: ``state`` or ``events`` is not a Dask DataFrame, a model of the
        wrong type, ``as_of`` before ``state_as_of``, or a churn step without
        ``events``.
    ColumnNotFoundError
        At once, if a state or event column is missing.
    InvalidDataError
        At once, for an attribute column (any column that is not a book column)
        that is not numeric; later, as :func:`~crmscore.rescoring.review` and the
        fits (:func:`fit_dask`, :func:`fit_scorecard_dask`), while they run or when
        the results are computed.

    Notes
    -----
    A review is per-customer work around two population-wide fits. The fits run
    first, eagerly, without gathering customers on the caller: with a CLV step
    due for a refit, BG/NBD and Gamma-Gamma on the state's RFM table with
    :func:`fit_dask` (log-likelihood, gradient and Hessian summed per partition);
    with a scorecard to relearn, its normalisation with :func:`fit_scorecard_dask`
    on every customer's indicators (exact order statistics, no sample). Then each
    partition runs the per-customer steps of :func:`~crmscore.rescoring.review`
    (the same functions, see :mod:`crmscore.rescoring.partitioned`): overrides and
    follow-ups that fell due, churn levels and their audit rows, the indicators,
    scores, the retention rule, the end of review-long overrides.

    State and events are shuffled on the hash of the canonical customer id into
    the same number of partitions, so each customer's events meet its state. The
    shuffle runs once for the scorecard's statistics (whose columns, and only
    those, are held on the workers during its fit) and again when the results are
    computed (persist ``state`` and ``events`` first to avoid reading them twice).
    Ids repeated across partitions are not detected.

    Examples
    --------
    >>> import dask
    >>> import dask.dataframe as dd
    >>> import crmscore as cs
    >>> from crmscore.rescoring import RescoringPolicy, open_book, review
    >>> from crmscore.tiering import Criterion, Indicator, PercentileRank, Scorecard
    >>> card = Scorecard(
    ...     hierarchy=Criterion(name="value", weights={"total_spend": 1.0}),
    ...     indicators=[Indicator(name="total_spend", direction="benefit",
    ...                           normaliser=PercentileRank())])
    >>> tx = cs.make_transactions(300, seed=1).transactions
    >>> events = tx.rename(columns={"amount": "value"}).assign(
    ...     kind="purchase", event_id=range(len(tx)))
    >>> book = open_book(RescoringPolicy(scorecard=card), events, as_of="2025-12-31").book
    >>> result = review_dask(dd.from_pandas(book.to_frame(), npartitions=3),
    ...                      policy=book.policy, as_of="2026-03-31", state_as_of=book.as_of,
    ...                      scorecard=book.scorecard)
    >>> state, changes = dask.compute(result.state, result.changes)
    >>> here = review(book, as_of="2026-03-31")
    >>> import pandas as pd
    >>> # The same values; under pandas 2, Dask holds the text column as Arrow strings.
    >>> pd.testing.assert_frame_equal(state.sort_index(), here.book.to_frame().sort_index(),
    ...                               check_dtype=False, check_exact=True)
    >>> changes["rule"].value_counts().to_dict() == here.changes["rule"].value_counts().to_dict()
    True
    """
    owner = "review_dask"
    state = check_dask(state, name="state", owner=owner)
    if events is not None:
        events = check_dask(events, name="events", owner=owner)
    context = review_context(
        state.columns,
        None if events is None else events.columns,
        dtypes=state._meta.dtypes.to_dict(),
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
    check_param(npartitions, Optional(Interval(Integral, 1, None, closed="left")),
                name="npartitions", owner=owner)  # fmt: skip
    check_param(
        split_every, Interval(Integral, 2, None, closed="left"), name="split_every", owner=owner
    )
    as_of_ts = context.as_of
    context = _refit_clv(state, context, split_every=split_every)

    n = state.npartitions if npartitions is None else int(npartitions)
    extra = {ROW: np.empty(0, dtype=np.int64), _ID_HASH: np.empty(0, dtype=np.uint64)}
    numbered = state.map_partitions(  # type: ignore[no-untyped-call]
        _number_state, meta=state._meta.assign(**extra)
    )
    state_parts = _co_located(numbered, n).to_delayed()  # type: ignore[no-untyped-call]
    event_parts: list[Any] = [None] * len(state_parts)
    if events is not None and policy.churn is not None:
        numbered_events = events.map_partitions(  # type: ignore[no-untyped-call]
            _number_events, customer_col, meta=events._meta.assign(**extra)
        )
        event_parts = _co_located(numbered_events, n).to_delayed()  # type: ignore[no-untyped-call]

    from dask.dataframe import from_delayed  # noqa: PLC0415 (optional extra)
    from dask.delayed import delayed  # noqa: PLC0415

    if context.scorecard is None or policy.refit_on_review:
        context = attrs.evolve(
            context, scorecard=_fit_scorecard(state_parts, event_parts, state._meta, context)
        )
    assert context.scorecard is not None  # (fitted just above when missing)
    id_dtype = state._meta.index.dtype
    reviewed = [
        delayed(_review_part, nout=2)(s, e, context=context, id_dtype=id_dtype)
        for s, e in zip(state_parts, event_parts, strict=True)
    ]
    new_state = from_delayed(
        [delayed(operator.getitem)(r, 0) for r in reviewed],
        meta=review_state_meta(state._meta, context=context),
    )
    changes = from_delayed(
        [delayed(operator.getitem)(r, 1) for r in reviewed],
        meta=_typed_ids(review_changes_meta(), id_dtype),
    )
    return DistributedReview(
        state=new_state,
        changes=changes,
        scorecard=context.scorecard,
        purchase_model=context.purchase_model,
        spend_model=context.spend_model,
        as_of=as_of_ts,
    )


def _fit_scorecard(
    state_parts: list[Any], event_parts: list[Any], sample: pd.DataFrame, context: ReviewContext
) -> FittedScorecard:
    """Learn the scorecard's normalisation from every customer's indicators at the review.

    Only the columns the scorecard normalises are kept, on the workers, for the
    length of the fit: its statistics read them several times, and each reading of
    the lazy indicators would run the shuffle and the partitions' first steps again.
    """
    from dask.base import persist  # noqa: PLC0415 (optional extra)
    from dask.dataframe import from_delayed  # noqa: PLC0415
    from dask.delayed import delayed  # noqa: PLC0415

    scorecard = context.policy.scorecard
    frame = from_delayed(
        [
            delayed(_indicators_part)(s, e, context=context)
            for s, e in zip(state_parts, event_parts, strict=True)
        ],
        meta=review_indicators_meta(sample, context=context),
        verify_meta=False,
    )
    (narrow,) = persist(frame[list(scorecard.columns)])  # type: ignore[no-untyped-call]
    return fit_scorecard_dask(narrow, scorecard=scorecard)


def _refit_clv(state: dd.DataFrame, context: ReviewContext, *, split_every: int) -> ReviewContext:
    """Refit BG/NBD and Gamma-Gamma on the whole state when the review would."""
    stage = context.policy.clv
    if stage is None or (
        context.purchase_model is not None
        and context.spend_model is not None
        and not stage.refit_on_review
    ):
        return context
    template = review_rfm_table(state._meta, context=context)
    table = state.map_partitions(  # type: ignore[no-untyped-call]
        functools.partial(review_rfm_table, context=context), meta=template
    )
    unit = context.policy.time_unit
    return attrs.evolve(
        context,
        purchase_model=fit_dask(
            table, fitter=stage.purchase_fitter, time_unit=unit, split_every=split_every
        ),
        spend_model=fit_dask(table, fitter=stage.spend_fitter, split_every=split_every),
    )
