"""The engine's public calls: pure functions from a book to a new book and its changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import numpy as np
import pandas as pd

from crmscore._columns import EventColumns
from crmscore._progress import ProgressReporter
from crmscore._purchases import rfm_columns
from crmscore._validation import as_timestamp
from crmscore.churn import LEVELS, EarlyWarning, LearnedWarning
from crmscore.errors import ConvergenceError, InvalidDataError, InvalidParameterError
from crmscore.rescoring._batch import _Batch, _read_batch
from crmscore.rescoring._book import NAT, OVERRIDE_KINDS, Book, RescoringResult, empty_changes
from crmscore.rescoring._core import (
    Changes,
    Columns,
    TierState,
    aggregates_of,
    check_as_of,
    indicators,
    periods_of,
    score_frame,
)
from crmscore.rescoring._ingest import _NO_SCORECARD, _step
from crmscore.rescoring._open import _open_adjustments
from crmscore.rescoring._overrides import (
    _check_note,
    _checked_attributes,
    _finish,
    _label_of,
    _row_of,
)
from crmscore.rescoring._review import _retier
from crmscore.tiering import apply_rules

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy.typing as npt

    from crmscore._params import BetaGeoParams, GammaGammaParams
    from crmscore.clv import BetaGeoModel, GammaGammaModel
    from crmscore.rescoring._policy import RescoringPolicy
    from crmscore.tiering import FittedScorecard

_P = TypeVar("_P")
_M = TypeVar("_M")

__all__ = [
    "clear_override",
    "explain",
    "ingest",
    "open_book",
    "review",
    "set_attributes",
    "set_override",
]


def ingest(
    book: Book,
    events: pd.DataFrame,
    *,
    as_of: Any,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    kind_col: str = "kind",
    value_col: str = "value",
    event_id_col: str = "event_id",
    progress: Callable[[float], None] | bool | None = None,
) -> RescoringResult:
    """Apply a batch of events; re-tier only where a rule says so.

    Parameters
    ----------
    book : Book
        The current state. Not modified.
    events : pandas.DataFrame
        The event contract of :mod:`crmscore.churn` (customer id, timestamp, kind,
        value) **with an event id on every row**. Not modified.
    as_of : date-like
        The time of this call, a watermark: every event of the batch must be at or
        before it, new events at or after the book's ``as_of``, and ``as_of`` may
        not go back.
    customer_col : str, default "customer_id"
        Column of customer ids.
    timestamp_col : str, default "timestamp"
        Column of timestamps.
    kind_col : str, default "kind"
        Column of event kinds.
    value_col : str, default "value"
        Column of event values.
    event_id_col : str, default "event_id"
        Column of event ids.
    progress : callable or bool, optional
        Called with the fraction done (0 to 1, increasing): at the start, after
        the batch is checked and read, and with 1.0 at the end. ``True`` draws a
        tqdm bar instead (the ``progress`` extra).

    Returns
    -------
    RescoringResult
        The new book, the changes this batch made, and the events it skipped.

    Raises
    ------
    ColumnNotFoundError, InvalidDataError, InvalidParameterError
        Bad events (unknown kind, missing event id, NaN amount, an event after
        ``as_of``, or a new event before the book's ``as_of``) or an ``as_of``
        before the book's. The call is atomic: on any error nothing changes.

    Notes
    -----
    - Purchases update the running aggregates: the RFM table they give always
      equals :func:`crmscore.rfm_table` on every purchase so far.
    - An event id already applied is ignored, so at-least-once delivery never
      counts twice. Customers enter the book with their first purchase; their
      other events before it are skipped and reported.
    - Triggers act at the event's own time, so splitting a time-ordered stream
      into batches changes nothing: a purchase of at least
      ``policy.large_transaction`` re-scores the customer on the purchases up to it
      and upgrades at once if the score earns it (downgrades wait for a review); a
      ``default`` or ``strategic_signing`` sets a temporary override
      (:class:`TierAdjustment`); overrides end at their stated time.
    - Actions: ``upgrade_invitation`` when cumulative spend first reaches
      ``policy.invitation_spend``; ``follow_up`` when a customer has gone
      ``policy.follow_up_months`` without a purchase; ``win_back`` every
      ``policy.win_back_days`` days while that flag is up; each at the time it
      fell due.
    - Before the first review there is no fitted scorecard: events update the
      aggregates, but triggers cannot score and are reported as skipped
      (:func:`open_book` then applies the adjustments still running).
    - Every customer the batch touches gets a fresh cached ``score`` at ``as_of``.
    """
    columns = EventColumns(
        customer=customer_col,
        timestamp=timestamp_col,
        kind=kind_col,
        value=value_col,
        event_id=event_id_col,
    )
    return _ingest(book, events, as_of, columns, progress=progress)[0]


def _ingest(
    book: Book,
    events: pd.DataFrame,
    as_of: Any,
    columns: EventColumns,
    *,
    progress: Callable[[float], None] | bool | None,
) -> tuple[RescoringResult, _Batch | None]:
    """:func:`ingest`, and the batch as read (validated, sorted) for :func:`open_book`."""
    reporter = ProgressReporter(progress, owner="ingest")
    reporter.report(0.0)
    as_of_ts = check_as_of(book, as_of, "ingest")
    if book.n_customers == 0 and book.customer_col != columns.customer:
        book = attrs.evolve(book, customer_col=columns.customer)  # the first events name the ids
    batch = _read_batch(book, events, as_of_ts, columns)
    reporter.report(0.6)  # reading a batch takes about 60 % of an ingest
    result = _step(book, batch, as_of_ts)
    reporter.done()
    return result, batch


# --------------------------------------------------------------------------------------
# Reviews
# --------------------------------------------------------------------------------------


def review(
    book: Book,
    events: pd.DataFrame | None = None,
    *,
    as_of: Any,
    progress: Callable[[float], None] | bool | None = None,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    kind_col: str = "kind",
    value_col: str = "value",
    event_id_col: str = "event_id",
) -> RescoringResult:
    """Re-score and re-tier every customer: the periodic review (周期性复审).

    Parameters
    ----------
    book : Book
        The current state. Not modified.
    events : pandas.DataFrame, optional
        The recent event log, for the policy's churn step (required when the
        policy has one; its signals look back at most a year by default). Not
        applied to the book: ingest events with :func:`ingest`. Data, so
        positional, as in :func:`ingest`.
    as_of : date-like
        When the review happens (not before the book's ``as_of``).
    progress : callable or bool, optional
        Called with the fraction done (0 to 1) after each stage of the review.
        ``True`` draws a tqdm bar instead (the ``progress`` extra).
    customer_col : str, default "customer_id"
        Column of customer ids in ``events``.
    timestamp_col : str, default "timestamp"
        Column of timestamps in ``events``.
    kind_col : str, default "kind"
        Column of event kinds in ``events``.
    value_col : str, default "value"
        Column of event values in ``events``.
    event_id_col : str, default "event_id"
        Column of event ids in ``events``.

    Returns
    -------
    RescoringResult

    Raises
    ------
    InvalidDataError
        The book has no customers, or (with a CLV step) the models cannot be
        fitted, e.g. no customer has repeat purchases.
    InvalidParameterError
        ``as_of`` before the book's, or a churn step without ``events``.

    Notes
    -----
    1. Everything that fell due up to ``as_of`` is applied first (override
       expiries, follow-up flags), as :func:`ingest` would with no events.
    2. The chain runs on the whole book at ``as_of``: the RFM table; with a CLV
       step, BG/NBD and Gamma-Gamma refitted (``refit_on_review``, always the
       first time) and ``p_alive`` and ``clv``; with a churn step, each customer's
       warning level (with a :class:`~crmscore.churn.LearnedWarning`, also its
       probability and reasons), and an audit row ``churn_level`` for every customer
       whose level moves (``rule``: the rule that set the new level, ``"no rule
       holds"`` at none, or ``"learned warning"``; ``detail``: the rules'
       :meth:`~crmscore.churn.EarlyWarning.explain` line, or the probability and
       reasons); then the scorecard, whose normalisation is relearned when
       ``policy.refit_on_review`` (always at the first review).
    3. Tiers follow the score with the retention rule (VIP客户保级阈值): an upgrade
       takes effect at once; a customer whose score is below the current tier's
       lower bound minus ``policy.retention_margin`` for
       ``policy.retention_reviews`` consecutive reviews moves down to the score's
       tier; a review within the margin resets the count. Customers never rated
       take their score's tier.
    4. Overrides that last "until the next review" end.
    """
    reporter = ProgressReporter(progress, owner="review")
    report = reporter.report
    report(0.0)
    as_of_ts = _check_review(book, events, as_of)
    stepped = _step(book, None, as_of_ts)
    book = stepped.book
    report(0.2)
    columns = Columns(book.columns, whole=True)
    ids = book.ids.to_index()
    every = aggregates_of(columns, slice(None))
    period = int(periods_of([as_of_ts.to_datetime64()], book)[0])
    book = _refit_clv(book, every, period, ids)
    report(0.5)
    churn: _ChurnMoves | None = None
    if book.policy.churn is not None and events is not None:
        event_columns = EventColumns(
            customer=customer_col,
            timestamp=timestamp_col,
            kind=kind_col,
            value=value_col,
            event_id=event_id_col,
        )
        churn = _apply_churn(columns, _churn_levels(book, events, as_of_ts, event_columns))
    report(0.7)
    frame = _review_frame(book, columns, every, period, ids)
    scored = _score_review(book, frame, _review_scorecard(book, frame))
    report(0.9)
    changes = _review_changes(book, columns, ids=ids, scored=scored, churn=churn, as_of=as_of_ts)
    made = changes.frame()
    reviewed = attrs.evolve(
        book,
        as_of=as_of_ts,
        last_review=as_of_ts,
        first_review=as_of_ts if book.first_review is None else book.first_review,
        scorecard=scored.scorecard,
        columns=columns.freeze(),
        changes=book.changes.add(made),
    )
    reporter.done()
    return RescoringResult(
        book=reviewed,
        changes=pd.concat([stepped.changes, made], ignore_index=True)
        if len(stepped.changes)
        else made,
        skipped=stepped.skipped,
    )


def _check_review(book: Book, events: pd.DataFrame | None, as_of: Any) -> pd.Timestamp:
    """Review step 0: the date, a book with customers, events for a churn step."""
    as_of_ts = check_as_of(book, as_of, "review")
    if book.n_customers == 0:
        raise InvalidDataError("The book has no customers to review: ingest purchases first.")
    if book.policy.churn is not None and events is None:
        raise InvalidParameterError(
            "The policy has a churn step: pass the recent events to review(book, events, ...) so "
            "that warning levels can be measured."
        )
    return as_of_ts


def _refit_clv(book: Book, every: Any, period: int, ids: pd.Index[Any]) -> Book:
    """Review step 1: refit BG/NBD and Gamma-Gamma on the whole book, with the stage's fitters.

    Only with a CLV step, and only when its models are missing or ``refit_on_review``.
    A refit starts from the book's previous parameters (unless the fitter names its
    own ``initial_params``): a quarter's new data move the optimum little, so Newton
    needs about half the iterations, and it converges to the same optimum, within
    the fitter's tolerance. Should that start fail, the fitter's own start is used.
    """
    stage, unit = book.policy.clv, book.policy.time_unit
    if stage is None or (
        book.purchase_model is not None
        and book.spend_model is not None
        and not stage.refit_on_review
    ):
        return book
    table = pd.DataFrame(rfm_columns(every, period)).set_axis(ids)
    purchase, spend = stage.purchase_fitter, stage.spend_fitter

    def fit_purchases(start: BetaGeoParams | None) -> BetaGeoModel:
        fitter = purchase if start is None else attrs.evolve(purchase, initial_params=start)
        return fitter.fit(table, time_unit=unit)

    def fit_spend(start: GammaGammaParams | None) -> GammaGammaModel:
        fitter = spend if start is None else attrs.evolve(spend, initial_params=start)
        return fitter.fit(table)

    previous_purchase, previous_spend = book.purchase_model, book.spend_model
    return attrs.evolve(
        book,
        purchase_model=_warm_fit(
            None
            if previous_purchase is None or purchase.initial_params is not None
            else previous_purchase.params,
            fit_purchases,
        ),
        spend_model=_warm_fit(
            None
            if previous_spend is None or spend.initial_params is not None
            else previous_spend.params,
            fit_spend,
        ),
    )


def _warm_fit(start: _P | None, fit: Callable[[_P | None], _M]) -> _M:
    """Fit from ``start`` (None: the fitter's own start); if that fails, from the fitter's."""
    if start is None:
        return fit(None)
    try:
        return fit(start)
    except ConvergenceError:
        return fit(None)


@attrs.frozen(eq=False)  # arrays: no equality
class _Churn:
    """What review step 2 gives, one entry per customer of the book."""

    level: npt.NDArray[np.int8]
    """Warning level: 0 none, 1 blue, 2 yellow, 3 red (0 without events)."""

    probability: npt.NDArray[np.float64] | None
    """A learned warning's probability of churn (NaN: not scored); None with rules."""

    reasons: npt.NDArray[Any] | None
    """A learned warning's reasons in words ("" when not warned); None with rules."""

    warnings: pd.DataFrame
    """The warning's own ``predict`` result, for the words of the audit rows."""

    where: npt.NDArray[np.int64]
    """Each customer's row in ``warnings`` (-1: no events, so not measured)."""

    @classmethod
    def unmeasured(cls, n_customers: int, *, learned: bool) -> _Churn:
        """No events for any of ``n_customers``: level none, a learned warning's NaN and ""."""
        return cls(
            level=np.zeros(n_customers, dtype=np.int8),
            probability=np.full(n_customers, np.nan) if learned else None,
            reasons=np.full(n_customers, "", dtype=object) if learned else None,
            warnings=pd.DataFrame(),
            where=np.full(n_customers, -1, dtype=np.int64),
        )


@attrs.frozen(eq=False)  # arrays: no equality
class _ChurnMoves:
    """Review step 2 applied to the book's columns: the levels, and who moved from where."""

    churn: _Churn
    moved: npt.NDArray[np.int64]
    before: npt.NDArray[np.int8]


def _apply_churn(columns: Columns, churn: _Churn) -> _ChurnMoves:
    """Write the new warning levels (and a learned warning's columns); note who moved."""
    moved = np.flatnonzero(columns["churn_level"] != churn.level)
    before = columns["churn_level"][moved]
    columns.edit("churn_level")[:] = churn.level
    if churn.probability is not None:
        columns.edit("churn_probability")[:] = churn.probability
        columns.edit("churn_reasons")[:] = churn.reasons
    return _ChurnMoves(churn=churn, moved=moved, before=before)


def _churn_levels(
    book: Book, events: pd.DataFrame, as_of: pd.Timestamp, columns: EventColumns
) -> _Churn:
    """Review step 2: every customer's warning level (and a learned warning's probability)."""
    warning = book.policy.churn
    assert warning is not None  # the caller checked
    warnings = warning.predict(events, as_of=as_of, **columns.as_kwargs())
    rows = book.ids.positions(warnings.index)
    known = rows >= 0
    levels = pd.Categorical(warnings["level"], categories=LEVELS).codes.astype(np.int8)
    churn = np.zeros(book.n_customers, dtype=np.int8)
    churn[rows[known]] = levels[known]
    where = np.full(book.n_customers, -1, dtype=np.int64)
    where[rows[known]] = np.flatnonzero(known)
    if not isinstance(warning, LearnedWarning):
        return _Churn(level=churn, probability=None, reasons=None, warnings=warnings, where=where)
    probability = np.full(book.n_customers, np.nan)
    probability[rows[known]] = warnings["probability"].to_numpy(np.float64)[known]
    reasons = np.full(book.n_customers, "", dtype=object)
    reasons[rows[known]] = warnings["reasons"].to_numpy(object)[known]
    return _Churn(
        level=churn, probability=probability, reasons=reasons, warnings=warnings, where=where
    )


#: "P(churn) 0.00" ... "P(churn) 1.00": the probability in an audit row, to two decimals.
_PROBABILITY_TEXTS = np.asarray([f"P(churn) {k / 100:.2f}" for k in range(101)], dtype=object)

#: The ``rule`` of a rule-based level change to none, and the ``detail`` of a customer
#: the review's events do not mention (so not measured, level none).
_NO_RULE = "no rule holds"
_NO_EVENTS = "none: no events"


def _churn_changes(
    changes: Changes,
    warning: EarlyWarning | LearnedWarning,
    churn: _Churn,
    moved: npt.NDArray[np.int64],
    before: npt.NDArray[np.int8],
    *,
    ids: pd.Index[Any],
    as_of: pd.Timestamp,
) -> None:
    """Audit rows of the customers whose warning level moved at a review, one each.

    ``before`` and ``after`` are level names; ``rule`` and ``detail`` come from the
    warning (:func:`_learned_words`, :func:`_rule_words`).
    """
    if not moved.size:
        return
    if isinstance(warning, LearnedWarning):
        rule, detail = _learned_words(churn, moved)
    else:
        rule, detail = _rule_words(warning, churn, moved)
    changes.add(
        customer_id=np.asarray(ids, dtype=object)[moved],
        at=as_of.to_datetime64(),
        change="churn_level",
        rule=rule,
        before=before,
        after=churn.level[moved],
        detail=detail,
        names=LEVELS,
    )


def _learned_words(churn: _Churn, moved: npt.NDArray[np.int64]) -> tuple[Any, npt.NDArray[Any]]:
    """Word a learned warning's rows: rule ``learned warning``, the probability and reasons.

    ``detail`` reads e.g. ``"P(churn) 0.91; no purchase for 41 days: +1.20 log-odds"``
    (``"not scored"`` for a customer the warning no longer scores: churned already,
    or no events).
    """
    assert churn.probability is not None  # a learned warning
    assert churn.reasons is not None
    probability = churn.probability[moved]
    reasons = churn.reasons[moved]
    scored = ~np.isnan(probability)
    detail = np.full(moved.size, "not scored", dtype=object)
    hundredths = probability[scored] * 100
    texts = _PROBABILITY_TEXTS[np.rint(hundredths).astype(np.int64)]
    # Near a half-hundredth the product's rounding may decide: format those exactly.
    close = np.flatnonzero(np.abs(hundredths - np.floor(hundredths) - 0.5) < 1e-6)
    texts[close] = [f"P(churn) {p:.2f}" for p in probability[scored][close].tolist()]
    given = reasons[scored] != ""
    texts[given] = texts[given] + "; " + reasons[scored][given]
    detail[scored] = texts
    return "learned warning", detail


def _rule_words(
    warning: EarlyWarning, churn: _Churn, moved: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Word the rules' rows: the rule that fired and :meth:`EarlyWarning.explain`'s line.

    ``rule`` is the rule that set the new level (``_NO_RULE`` at none); ``detail``
    reads e.g. ``"red (rule 'x'): no interaction for 41 days; ..."`` (``_NO_EVENTS``
    for a customer the review's events do not mention).
    """
    rule = np.full(moved.size, _NO_RULE, dtype=object)
    detail = np.full(moved.size, _NO_EVENTS, dtype=object)
    where = churn.where[moved]
    measured = where >= 0
    if measured.any():
        chosen = churn.warnings.iloc[where[measured]]
        fired = chosen["rule"]
        named = fired.notna().to_numpy()
        rule[np.flatnonzero(measured)[named]] = fired[named].astype(str).to_numpy(object)
        detail[measured] = warning.explain(chosen, customers=chosen.index.tolist()).to_numpy(object)
    return rule, detail


@attrs.frozen(eq=False)  # arrays: no equality
class _Scored:
    """What review step 3 gives: the scorecard used, and every customer's scores."""

    scorecard: FittedScorecard
    score: npt.NDArray[np.float64]
    computed: npt.NDArray[np.int8]
    plain: npt.NDArray[np.int8]
    fired: npt.NDArray[np.int64]


def _review_frame(
    book: Book, columns: Columns, every: Any, period: int, ids: pd.Index[Any]
) -> pd.DataFrame:
    """Build the scorecard's input at a review: the chain on every customer, by id."""
    return indicators(book, every, period, ids, churn_level=columns["churn_level"]).set_axis(
        ids.rename(book.customer_col)
    )


def _review_scorecard(book: Book, frame: pd.DataFrame) -> FittedScorecard:
    """Review step 3a, over the whole population: the scorecard, relearned when due."""
    if book.scorecard is None or book.policy.refit_on_review:
        return book.policy.scorecard.fit(frame)
    return book.scorecard


def _score_review(book: Book, frame: pd.DataFrame, scorecard: FittedScorecard) -> _Scored:
    """Review step 3b, per customer: score, and note which tier rule moved whom.

    ``plain`` is the tier of the score alone, ``computed`` the tier after the
    scorecard's rules, ``fired`` the rule that moved it (-1 for none).
    """
    score, computed = score_frame(scorecard, frame)
    plain = book.tiers.codes(score).astype(np.int8)
    rules = book.policy.scorecard.rules
    fired = np.full(score.size, -1, dtype=np.int64)
    if rules:
        _, fired = apply_rules(
            plain, frame, scheme=book.tiers, rules=rules, frame_name="the review's indicators"
        )
    return _Scored(scorecard=scorecard, score=score, computed=computed, plain=plain, fired=fired)


def _review_changes(
    book: Book,
    columns: Columns,
    *,
    ids: pd.Index[Any],
    scored: _Scored,
    churn: _ChurnMoves | None,
    as_of: pd.Timestamp,
) -> Changes:
    """Review step 4, per customer: churn audit rows, re-tiering, the cached scores."""
    changes = Changes(book.tiers, as_of)
    if churn is not None and book.policy.churn is not None:
        _churn_changes(
            changes,
            book.policy.churn,
            churn.churn,
            churn.moved,
            churn.before,
            ids=ids,
            as_of=as_of,
        )
    _retier(
        book,
        columns=columns,
        changes=changes,
        ids=ids,
        score=scored.score,
        computed=scored.computed,
        plain=scored.plain,
        fired=scored.fired,
        as_of=as_of,
    )
    columns.edit("score")[:] = scored.score
    columns.edit("score_tier")[:] = scored.computed
    columns.edit("scored_at")[:] = as_of.to_datetime64()
    return changes


def open_book(
    policy: RescoringPolicy,
    events: pd.DataFrame,
    *,
    as_of: Any,
    attributes: pd.DataFrame | None = None,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    kind_col: str = "kind",
    value_col: str = "value",
    event_id_col: str = "event_id",
    progress: Callable[[float], None] | bool | None = None,
) -> RescoringResult:
    """Start a book from a history of events, and review it at ``as_of``.

    Parameters
    ----------
    policy : RescoringPolicy
        What the engine does.
    events : pandas.DataFrame
        The history (event contract, with event ids).
    as_of : date-like
        When the book opens; the first review happens then.
    attributes : pandas.DataFrame, optional
        Indicator columns the service supplies, indexed by customer id.
    customer_col : str, default "customer_id"
        Column of customer ids.
    timestamp_col : str, default "timestamp"
        Column of timestamps.
    kind_col : str, default "kind"
        Column of event kinds.
    value_col : str, default "value"
        Column of event values.
    event_id_col : str, default "event_id"
        Column of event ids.
    progress : callable or bool, optional
        Called with the fraction done (0 to 1, increasing) as the history is
        ingested (to 0.8), reviewed (to 0.95) and the running adjustments applied.
        ``True`` draws a tqdm bar instead (the ``progress`` extra).

    Returns
    -------
    RescoringResult
        The reviewed book; ``changes`` holds everyone's first rating.

    Notes
    -----
    The history is ingested before the first review, so its triggers cannot be
    evaluated when they happen. After the first rating, each customer's last
    ``default`` or ``strategic_signing`` whose adjustment is still running at
    ``as_of`` (its expiry is later) is applied at its event's time, with an audit
    row, and expires as usual; the other triggers of the history are reported in
    ``skipped`` with the reason (expired, ended at the first review, replaced by a
    later adjustment, or a large purchase the first review has rated).

    Examples
    --------
    >>> import crmscore as cs
    >>> from crmscore.rescoring import RescoringPolicy, open_book
    >>> from crmscore.tiering import Criterion, Indicator, PercentileRank, Scorecard
    >>> card = Scorecard(
    ...     hierarchy=Criterion(name="value", weights={"total_spend": 0.6, "time_since_last": 0.4}),
    ...     indicators=[
    ...         Indicator(name="total_spend", direction="benefit", normaliser=PercentileRank()),
    ...         Indicator(name="time_since_last", direction="cost", normaliser=PercentileRank()),
    ...     ],
    ... )
    >>> tx = cs.make_transactions(500, seed=1).transactions
    >>> events = tx.rename(columns={"amount": "value"}).assign(
    ...     kind="purchase", event_id=[f"e{i}" for i in range(len(tx))])
    >>> opened = open_book(RescoringPolicy(scorecard=card), events, as_of="2025-12-31")
    >>> opened.book.customers["tier"].value_counts()
    tier
    Ordinary    312
    Silver      111
    Gold         55
    Diamond      22
    Name: count, dtype: int64
    >>> opened.changes["rule"].value_counts()
    rule
    first_rating          500
    follow_up             419
    upgrade_invitation    304
    Name: count, dtype: int64
    """
    columns = EventColumns(
        customer=customer_col,
        timestamp=timestamp_col,
        kind=kind_col,
        value=value_col,
        event_id=event_id_col,
    )
    book = Book(
        policy=policy,
        attributes=_checked_attributes(attributes, customer_col=customer_col),
        customer_col=customer_col,
    )
    reporter = ProgressReporter(progress, owner="open_book")
    # Ingesting the history takes most of the time (about 80 % on a synthetic log).
    # (the history as read, validated and sorted, is reused for the adjustments below)
    first, read = _ingest(book, events, as_of, columns, progress=reporter.span(0.0, 0.8))
    history = events if policy.churn is not None else None
    second = review(
        first.book,
        history,
        as_of=as_of,
        progress=reporter.span(0.8, 0.95),
        **columns.as_kwargs(),
    )
    book, adjusted, skipped = second.book, empty_changes(), first.skipped
    if read is not None and book.as_of is not None and (skipped["reason"] == _NO_SCORECARD).any():
        book, adjusted, skipped = _open_adjustments(book, read, book.as_of, skipped)
    # Build the id and event-id hash indexes now, not inside the first batch.
    book.ids.warmed()
    book.event_ids.warmed()
    reporter.done()
    return RescoringResult(
        book=book,
        changes=pd.concat([first.changes, second.changes, adjusted], ignore_index=True),
        skipped=skipped,
    )


# --------------------------------------------------------------------------------------
# Overrides, appeals, attributes, explanations
# --------------------------------------------------------------------------------------


def set_override(
    book: Book,
    *,
    customer_id: Any,
    tier: str,
    reason: str,
    author: str,
    as_of: Any,
    expires: Any = None,
) -> RescoringResult:
    """Set a customer's tier by hand: an appeal's outcome or a manual decision.

    Parameters
    ----------
    book : Book
        The current state. Not modified.
    customer_id : hashable
        The customer.
    tier : str
        The tier (key or label).
    reason : str
        Why; kept on the override and in the audit trail.
    author : str
        Who decided; kept on the override and in the audit trail.
    as_of : date-like
        When the override takes effect.
    expires : date-like, "review" or None
        When it ends: a time, ``"review"`` for the next review, or ``None`` for
        never (until :func:`clear_override`).

    Returns
    -------
    RescoringResult

    Notes
    -----
    A manual override takes precedence over the event-triggered adjustments
    (defaults, signings), which are then recorded as not applied. The computed
    score and base tier stay visible in :attr:`Book.customers` throughout.
    """
    owner = "set_override"
    as_of_ts = check_as_of(book, as_of, owner)
    _check_note(reason, author, owner)
    target = book.tiers.index(tier)
    until_review = isinstance(expires, str) and expires == "review"
    ends: np.datetime64 = NAT
    if expires is not None and not until_review:
        ends = np.datetime64(as_timestamp(expires, name="expires", owner=owner).value, "ns")
        if ends <= as_of_ts.to_datetime64():
            raise InvalidParameterError.for_value(
                name="expires", owner=owner, allowed=f"after as_of ({as_of_ts})", got=expires
            )
    stepped = _step(book, None, as_of_ts)
    row = _row_of(stepped.book, customer_id, owner)
    columns = Columns(stepped.book.columns)
    changes = Changes(book.tiers, as_of_ts)
    state = TierState(columns, np.array([row]))
    before = state.effective()
    state.kind[:] = OVERRIDE_KINDS.index("manual")
    state.override[:] = target
    state.expires[:] = ends
    state.until_review[:] = until_review
    notes = (*stepped.book.notes, (reason, author))
    state.note[:] = len(notes) - 1
    state.write(columns)
    changes.add(
        customer_id=_label_of(stepped.book, row),
        at=as_of_ts.to_datetime64(),
        change="tier",
        before=before,
        after=np.asarray([target]),
        score=columns.take("score", [row]),
        rule="override",
        detail=f"{reason} (by {author})",
    )
    return _finish(stepped, columns, changes, notes)


def clear_override(
    book: Book, *, customer_id: Any, reason: str, author: str, as_of: Any
) -> RescoringResult:
    """End a customer's active override now; the base tier applies again.

    ``reason`` and ``author`` (non-empty strings) are kept in the audit trail, as
    for :func:`set_override`.
    """
    owner = "clear_override"
    as_of_ts = check_as_of(book, as_of, owner)
    _check_note(reason, author, owner)
    stepped = _step(book, None, as_of_ts)
    row = _row_of(stepped.book, customer_id, owner)
    columns = Columns(stepped.book.columns)
    changes = Changes(book.tiers, as_of_ts)
    state = TierState(columns, np.array([row]))
    if state.kind[0] == 0:
        raise InvalidDataError.for_ids(
            column=None, problem="has no active override", ids=[customer_id]
        )
    before = state.effective()
    state.clear(np.array([True]))
    state.write(columns)
    changes.add(
        customer_id=_label_of(stepped.book, row),
        at=as_of_ts.to_datetime64(),
        change="tier",
        before=before,
        after=state.base,
        score=columns.take("score", [row]),
        rule="override_cleared",
        detail=f"{reason} (by {author})",
    )
    return _finish(stepped, columns, changes)


def set_attributes(book: Book, *, attributes: pd.DataFrame) -> Book:
    """Supply or update indicator columns the engine cannot derive (credit rating ...).

    Values for the given customers and columns replace the book's; other values
    stay. They are used from the next scoring on (a trigger, a batch that touches
    the customer, or a review). Missing values follow the scorecard's policy.

    Parameters
    ----------
    book : Book
        The current state. Not modified.
    attributes : pandas.DataFrame
        Numeric columns with string names, indexed by customer id (unique); NaN
        for a missing value, never infinite (the book stores them as JSON).

    Returns
    -------
    Book
        A new book with the merged attributes.
    """
    new = _checked_attributes(attributes, customer_col=book.customer_col)
    merged = new if book.attributes.empty else new.combine_first(book.attributes)
    merged.index.name = book.customer_col
    return attrs.evolve(book, attributes=merged)


def explain(book: Book, *, customer_ids: Any, language: str = "en") -> pd.DataFrame:
    """Why customers have their score: every indicator's and criterion's points.

    Scores are recomputed at the book's ``as_of`` with the book's scorecard, from
    the same aggregates and attributes the engine uses; with the tiers, override
    and retention state beside them, this is what an appeal reviewer needs.

    Parameters
    ----------
    book : Book
        A reviewed book.
    customer_ids : hashable or sequence of hashable
        The customers to explain.
    language : {"en", "zh"}
        Language of the tier labels and reasons.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id: the indicators' raw values, the scorecard's output
        (``score``, contributions, ``score_tier``, ``tier_reason``) and the book's
        ``base_tier``, ``tier`` and override columns.
    """
    if book.scorecard is None or book.as_of is None:
        raise InvalidDataError("The book has no fitted scorecard yet: review it first.")
    asked = pd.Index(list(customer_ids) if not isinstance(customer_ids, str) else [customer_ids])
    rows = book.ids.positions(asked)
    absent = rows < 0
    if absent.any():
        raise InvalidDataError.for_ids(
            column=None, problem="is not in the book", ids=list(asked[absent])
        )
    wanted: pd.Index[Any] = pd.Index(book.ids.labels_at(rows))  # canonical: 1.0 is customer 1
    frame = indicators(
        book,
        aggregates_of(book.columns, rows),
        int(periods_of([book.as_of.to_datetime64()], book)[0]),
        wanted,
        churn_level=book.columns["churn_level"][rows],
    ).set_axis(wanted)
    scored = book.scorecard.score(frame, language=language)  # type: ignore[arg-type]
    state = book.customers.loc[wanted]
    keep = [
        "base_tier",
        "tier",
        "below_reviews",
        "override_tier",
        "override_kind",
        "override_expires",
        "override_reason",
        "override_author",
    ]
    values = frame[list(book.scorecard.scorecard.columns)]
    return pd.concat(
        [values, scored.rename(columns={"tier": "score_tier_after_rules"}), state[keep]], axis=1
    )
