"""The engine's public calls: pure functions from a book to a new book and its changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from crmscore._events import validate_events
from crmscore._progress import ProgressReporter
from crmscore._validation import as_timestamp, check_frame, check_unique_index, first_ids
from crmscore.churn import LEVELS
from crmscore.clv import BetaGeoFitter, GammaGammaFitter
from crmscore.errors import ColumnNotFoundError, InvalidDataError, InvalidParameterError
from crmscore.rescoring import _aggregates
from crmscore.rescoring._book import NAT, OVERRIDE_KINDS, Book, RescoringResult, empty_changes
from crmscore.rescoring._chunks import label_hashes
from crmscore.rescoring._core import (
    DEFAULT_EVENT,
    LARGE,
    SIGNING_EVENT,
    Changes,
    Columns,
    TierState,
    Triggers,
    add_months,
    aggregates_of,
    check_as_of,
    indicators,
    periods_of,
    run_timeline,
    score_frame,
    skipped_frame,
)
from crmscore.rfm._table import PurchaseAggregates, aggregate_purchases, rfm_columns
from crmscore.tiering._tiers import apply_rules

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy.typing as npt

    from crmscore.rescoring._chunks import ChunkedIndex
    from crmscore.rescoring._policy import RescoringPolicy
    from crmscore.tiering import FittedScorecard

__all__ = [
    "clear_override",
    "explain",
    "ingest",
    "open_book",
    "review",
    "set_attributes",
    "set_override",
]

_NEVER = np.iinfo(np.int64).max
_OLDEST = np.iinfo(np.int64).min
_SPEND_TOLERANCE = 1e-9  # relative: sums in a different order must cross alike
_NO_SCORECARD = "no fitted scorecard before the first review: trigger not evaluated"


def _new_rows(merged: PurchaseAggregates, count: int) -> dict[str, npt.NDArray[Any]]:
    """Columns of customers entering the book (not rated until scored)."""
    rows: dict[str, npt.NDArray[Any]] = {
        name: np.asarray(getattr(merged, name)) for name in _aggregates.AGGREGATE_COLUMNS
    }
    rows.update(
        score=np.full(count, np.nan),
        scored_at=np.full(count, NAT),
        score_tier=np.full(count, -1, dtype=np.int8),
        base_tier=np.full(count, -1, dtype=np.int8),
        tier=np.full(count, -1, dtype=np.int8),
        below_reviews=np.zeros(count, dtype=np.int64),
        override_tier=np.full(count, -1, dtype=np.int8),
        override_kind=np.zeros(count, dtype=np.int8),
        override_expires=np.full(count, NAT),
        override_until_review=np.zeros(count, dtype=bool),
        override_note=np.full(count, -1, dtype=np.int32),
        invited=np.zeros(count, dtype=bool),
        follow_up=np.zeros(count, dtype=bool),
        follow_up_due=np.full(count, NAT),
        churn_level=np.zeros(count, dtype=np.int8),
    )
    return rows


@attrs.define
class _Batch:
    """A validated, de-duplicated batch sorted by (customer, time, arrival)."""

    customers: pd.Index[Any]
    codes: npt.NDArray[np.int64]
    stamps: npt.NDArray[np.datetime64]
    kinds: npt.NDArray[Any]
    value: npt.NDArray[np.float64]
    event_ids: npt.NDArray[Any]
    id_hashes: npt.NDArray[np.uint64]

    def take(self, mask: npt.NDArray[np.bool_]) -> _Batch:
        return _Batch(
            customers=self.customers,
            codes=self.codes[mask],
            stamps=self.stamps[mask],
            kinds=self.kinds[mask],
            value=self.value[mask],
            event_ids=self.event_ids[mask],
            id_hashes=self.id_hashes[mask],
        )


def _read_batch(
    book: Book, events: pd.DataFrame, as_of: pd.Timestamp, columns: dict[str, str]
) -> _Batch | None:
    """Validate a batch; drop events already applied; sort it. ``None`` if nothing is new."""
    owner = "ingest"
    event_id_col = columns["event_id_col"]
    check_frame(events, name="events", owner=owner)
    if event_id_col not in events.columns:
        raise ColumnNotFoundError.from_missing_and_available(
            [event_id_col], events.columns, frame="events"
        )
    if len(events) == 0:
        return None
    null_ids = events[event_id_col].isna().to_numpy()
    if null_ids.any():
        raise InvalidDataError(
            f"Column {event_id_col!r} of events has {int(null_ids.sum())} null event id(s), "
            f"first at row positions {np.flatnonzero(null_ids)[:5].tolist()}. The engine "
            "needs an id on every event to apply it exactly once.",
            column=event_id_col,
        )
    valid = validate_events(events, as_of=as_of, owner=owner, future="error", **columns)
    stamps = valid.stamps.astype("datetime64[ns]")
    event_ids = events[event_id_col].to_numpy(dtype=object)[valid.rows]
    id_hashes = label_hashes(event_ids)
    fresh = book.event_ids.positions(event_ids, id_hashes) < 0
    if not fresh.any():
        return None
    customers = valid.customers[valid.codes]
    for bad_rows, problem, hint in (
        (
            stamps > as_of.to_datetime64(),
            f"has events after as_of ({as_of})",
            "Ingest them with a later as_of.",
        ),
        (
            fresh & (stamps < np.datetime64(book.as_of.value if book.as_of else _OLDEST, "ns")),
            f"has new events before the book's as_of ({book.as_of})",
            "The book has moved past them; ingest each batch before moving as_of beyond it.",
        ),
    ):
        if bad_rows.any():
            bad, total = first_ids(customers, bad_rows)
            raise InvalidDataError.for_ids(
                column=columns["timestamp_col"],
                problem=problem,
                ids=bad,
                n_offending=total,
                hint=hint,
            )
    codes = valid.codes[fresh]
    times = stamps[fresh].view(np.int64)
    # (customer, time, arrival): logs usually arrive in time order, and then one
    # stable sort by customer is enough.
    if times.size and (np.diff(times) >= 0).all():
        order = np.argsort(codes, kind="stable")
    else:
        order = np.lexsort((np.arange(codes.size), times, codes))
    kinds = np.asarray(valid.kind_names, dtype=object)[valid.kinds[fresh]]
    return _Batch(
        customers=valid.customers,
        codes=codes[order],
        stamps=stamps[fresh][order],
        kinds=kinds[order],
        value=valid.values[fresh][order],  # noqa: PD011  (a numpy array field)
        event_ids=event_ids[fresh][order],
        id_hashes=id_hashes[fresh][order],
    )


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
    customer_col, timestamp_col, kind_col, value_col, event_id_col : str
        Column names.

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
    as_of_ts = check_as_of(book, as_of, "ingest")
    batch = _read_batch(
        book,
        events,
        as_of_ts,
        {
            "customer_col": customer_col,
            "timestamp_col": timestamp_col,
            "kind_col": kind_col,
            "value_col": value_col,
            "event_id_col": event_id_col,
        },
    )
    return _step(book, batch, as_of_ts)


def _step(book: Book, batch: _Batch | None, as_of: pd.Timestamp) -> RescoringResult:
    """Apply a batch (or none) and everything that falls due up to ``as_of``."""
    columns = Columns(book.columns)
    changes = Changes(book.tiers, as_of)
    skipped: list[pd.DataFrame] = []
    ids = book.ids
    event_ids = book.event_ids
    rows = np.empty(0, dtype=np.int64)
    purchases = _Purchases.none()
    triggers: tuple[npt.NDArray[np.int64], Triggers] | None = None
    if batch is not None:
        event_ids = event_ids.add(batch.event_ids, batch.id_hashes)
        batch, early = _drop_before_first_purchase(book, batch)
        skipped.append(early)
        ids, rows, purchases = _merge_purchases(book, batch, columns)
        triggers, late = _triggers(
            book,
            batch=batch,
            rows=rows,
            purchases=purchases,
            ids=ids,
            churn_level=columns["churn_level"],
        )
        skipped.append(late)
    customer_ids = ids
    _invitations(book, columns, changes, customer_ids, purchases)
    _follow_ups(
        book,
        columns=columns,
        changes=changes,
        ids=customer_ids,
        purchases=purchases,
        as_of=as_of,
    )
    _timeline(
        book,
        columns=columns,
        changes=changes,
        ids=customer_ids,
        triggers=triggers,
        as_of=as_of,
    )
    touched = np.unique(rows)
    if book.scorecard is not None and touched.size:
        touched_ids = pd.Index(customer_ids.labels_at(touched), name="customer_id")
        frame = indicators(
            book,
            aggregates_of(columns.data, touched),
            int(periods_of([as_of.to_datetime64()], book)[0]),
            touched_ids,
            churn_level=columns["churn_level"][touched],
        ).set_axis(touched_ids)
        score, tier = score_frame(book.scorecard, frame)
        columns.edit("score")[touched] = score
        columns.edit("score_tier")[touched] = tier
        columns.edit("scored_at")[touched] = as_of.to_datetime64()
    made = changes.frame()
    new_book = attrs.evolve(
        book,
        as_of=as_of,
        ids=ids,
        columns=columns.freeze(),
        event_ids=event_ids,
        changes=book.changes.add(made),
    )
    kept = [s for s in skipped if len(s)]
    return RescoringResult(
        book=new_book,
        changes=made,
        skipped=pd.concat(kept, ignore_index=True) if kept else skipped_frame(),
    )


def _drop_before_first_purchase(book: Book, batch: _Batch) -> tuple[_Batch, pd.DataFrame]:
    """Skip new customers' events before their first purchase in stream order.

    Stream order, not time: an event at the same time as the first purchase but
    delivered before it has no customer to act on yet (the batch is sorted by
    customer, time and arrival, so positions give that order).
    """
    customers = batch.customers
    known = book.ids.positions(customers) >= 0
    position = np.arange(batch.codes.size, dtype=np.int64)
    buys = batch.kinds == "purchase"
    first_buy = np.full(len(customers), _NEVER, dtype=np.int64)
    np.minimum.at(first_buy, batch.codes[buys], position[buys])
    early = ~known[batch.codes] & (position < first_buy[batch.codes])
    if not early.any():
        return batch, skipped_frame()
    report = skipped_frame(
        batch.event_ids[early],
        customers[batch.codes[early]],
        ["the customer has no purchase yet"] * int(early.sum()),
    )
    return batch.take(~early), report


@attrs.frozen(kw_only=True, eq=False)
class _Purchases:
    """The batch's purchases, sorted by (customer, time), with their book rows."""

    codes: npt.NDArray[np.int64]  # the batch's customer codes (sorted)
    order: npt.NDArray[np.int64]  # position in the batch (stream order per customer)
    rows: npt.NDArray[np.int64]
    stamps: npt.NDArray[np.datetime64]
    periods: npt.NDArray[np.int64]
    amounts: npt.NDArray[np.float64]
    event_ids: npt.NDArray[Any]
    before_total: npt.NDArray[np.float64]  # customer's spend before the batch
    before_last: npt.NDArray[np.datetime64]  # customer's last purchase before (NaT if new)
    before_flag: npt.NDArray[np.bool_]  # follow-up flag before the batch

    @classmethod
    def none(cls) -> _Purchases:
        empty = np.empty(0)
        return cls(
            codes=np.empty(0, np.int64),
            order=np.empty(0, np.int64),
            rows=np.empty(0, np.int64),
            stamps=np.empty(0, "datetime64[ns]"),
            periods=np.empty(0, np.int64),
            amounts=empty,
            event_ids=np.empty(0, object),
            before_total=empty,
            before_last=np.empty(0, "datetime64[ns]"),
            before_flag=np.empty(0, bool),
        )


def _merge_purchases(
    book: Book, batch: _Batch, columns: Columns
) -> tuple[Any, npt.NDArray[np.int64], _Purchases]:
    """Merge the batch's purchases into the aggregates; add new customers' rows."""
    position = book.ids.positions(batch.customers)
    known = position >= 0
    buys = batch.kinds == "purchase"
    p_codes = batch.codes[buys]
    buyers, local = np.unique(p_codes, return_inverse=True)
    stamps, amounts = batch.stamps[buys], batch.value[buys]
    periods = periods_of(stamps, book)
    ids = book.ids
    row_of = position.copy()
    before_total = np.zeros(buyers.size)
    before_last = np.full(buyers.size, NAT)
    before_flag = np.zeros(buyers.size, dtype=bool)
    if buyers.size:
        fresh = aggregate_purchases(
            codes=local.astype(np.int64),
            periods=periods,
            amounts=amounts,
            refund=np.zeros(p_codes.size, dtype=bool),
            stamps=stamps,
            n_customers=buyers.size,
        )
        if not isinstance(fresh, PurchaseAggregates):  # pragma: no cover - no refunds here
            raise AssertionError("purchase aggregation without refunds cannot fail")
        existing = known[buyers]
        old_rows = position[buyers[existing]]
        # Rows of new customers are placeholders: merge ignores them.
        old = aggregates_of(columns.data, np.maximum(position[buyers], 0)) if len(ids) else fresh
        before_total[existing] = (old.first_spend + old.repeat_spend)[existing]
        before_last[existing] = old.last_purchase[existing]
        before_flag[existing] = columns["follow_up"][old_rows]
        merged = _aggregates.merge(old, fresh, existing)
        for name in _aggregates.AGGREGATE_COLUMNS:
            columns.edit(name)[old_rows] = getattr(merged, name)[existing]
        if (~existing).any():
            count = int((~existing).sum())
            start = len(ids)
            row_of[buyers[~existing]] = np.arange(start, start + count)
            entering = PurchaseAggregates(
                **{n: getattr(merged, n)[~existing] for n in _aggregates.AGGREGATE_COLUMNS}
            )
            columns.append(_new_rows(entering, count))
            ids = ids.add(pd.Index(batch.customers[buyers[~existing]]))
    purchases = _Purchases(
        codes=p_codes,
        order=np.flatnonzero(buys),
        rows=row_of[p_codes],
        stamps=stamps,
        periods=periods,
        amounts=amounts,
        event_ids=batch.event_ids[buys],
        before_total=before_total[local],
        before_last=before_last[local],
        before_flag=before_flag[local],
    )
    return ids, row_of[batch.codes], purchases


def _group_starts(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Where each customer's run of (contiguous) rows begins."""
    return np.r_[True, rows[1:] != rows[:-1]] if rows.size else np.zeros(0, dtype=bool)


def _invitations(
    book: Book, columns: Columns, changes: Changes, ids: ChunkedIndex, purchases: _Purchases
) -> None:
    """Invite customers to VIP once, when cumulative spend first reaches the threshold."""
    threshold = book.policy.invitation_spend
    if threshold is None or purchases.rows.size == 0:
        return
    starts = _group_starts(purchases.rows)
    group_first = np.maximum.accumulate(np.where(starts, np.arange(starts.size), 0))
    total = np.cumsum(purchases.amounts)
    running = total - np.r_[0.0, total][group_first]  # spend within the batch so far
    reached = purchases.before_total + running >= threshold * (1 - _SPEND_TOLERANCE)
    eligible = reached & ~columns["invited"][purchases.rows]
    count = np.cumsum(eligible)
    first = eligible & (count - np.r_[0, count][group_first] == 1)  # first per customer
    if not first.any():
        return
    rows = purchases.rows[first]
    columns.edit("invited")[rows] = True
    changes.add(
        customer_id=ids.labels_at(rows),
        at=purchases.stamps[first],
        change="action",
        rule="upgrade_invitation",
        event_ids=purchases.event_ids[first],
        detail=f"cumulative spend reached {threshold:g}",
    )


def _follow_ups(
    book: Book,
    *,
    columns: Columns,
    changes: Changes,
    ids: ChunkedIndex,
    purchases: _Purchases,
    as_of: pd.Timestamp,
) -> None:
    """Flag customers without a purchase for ``follow_up_months``, when it fell due."""
    months = book.policy.follow_up_months
    if months is None:
        return
    limit = as_of.to_datetime64()
    due = columns["follow_up_due"]
    flag = columns["follow_up"]
    # Win-back intervals: (row, flag raised, flag cleared by a purchase or never).
    flagged = np.flatnonzero(flag)
    flagged_at = due[flagged]  # (a copy: the columns may be edited in place below)
    ended = np.full(flagged.size, _NEVER, dtype=np.int64)
    bought = np.zeros(due.size, dtype=bool)
    bought[purchases.rows] = True
    # Customers without a purchase in this batch: raised when their due time passes.
    idle = ~bought & ~flag & ~np.isnat(due) & (due < limit)
    raised_rows = [np.flatnonzero(idle)]
    raised_at = [due[idle]]
    raised_end = [np.full(raised_rows[0].size, _NEVER, dtype=np.int64)]
    if purchases.rows.size:
        # Gaps between consecutive purchases (the first from the previous purchase).
        starts = _group_starts(purchases.rows)
        first_buy = np.full(due.size, _NEVER, dtype=np.int64)
        first_buy[purchases.rows[starts]] = purchases.stamps[starts].view(np.int64)
        ended = first_buy[flagged]
        previous = np.r_[NAT, purchases.stamps[:-1]].astype("datetime64[ns]")
        previous[starts] = purchases.before_last[starts]
        gap_due = add_months(previous, months)
        already = starts & purchases.before_flag  # raised before this batch
        gap = ~np.isnat(gap_due) & (gap_due < purchases.stamps) & ~already
        raised_rows.append(purchases.rows[gap])
        raised_at.append(gap_due[gap])
        raised_end.append(purchases.stamps[gap].view(np.int64))
        # After each customer's last purchase in the batch.
        ends = np.r_[starts[1:], True]
        end_rows = purchases.rows[ends]
        new_due = add_months(purchases.stamps[ends], months)
        tail = new_due < limit
        raised_rows.append(end_rows[tail])
        raised_at.append(new_due[tail])
        raised_end.append(np.full(int(tail.sum()), _NEVER, dtype=np.int64))
        columns.edit("follow_up_due")[end_rows] = new_due
        columns.edit("follow_up")[end_rows] = tail
    rows = np.concatenate(raised_rows)
    raised = np.concatenate(raised_at)
    if rows.size:
        columns.edit("follow_up")[np.flatnonzero(idle)] = True
        changes.add(
            customer_id=ids.labels_at(rows),
            at=raised,
            change="action",
            rule="follow_up",
            detail=f"no purchase for {months} months",
        )
    _win_backs(
        book,
        changes=changes,
        ids=ids,
        rows=np.concatenate([flagged, rows]),
        raised=np.concatenate([flagged_at, raised]),
        ended=np.concatenate([ended, *raised_end]),
        as_of=as_of,
    )


def _win_backs(
    book: Book,
    *,
    changes: Changes,
    ids: ChunkedIndex,
    rows: npt.NDArray[np.int64],
    raised: npt.NDArray[np.datetime64],
    ended: npt.NDArray[np.int64],
    as_of: pd.Timestamp,
) -> None:
    """Weekly win-back offers while a follow-up flag is up: at raised + k * period.

    Each flag interval ``[raised, ended)`` (ended: the purchase that clears it, in
    ns, or never) gives offers before ``as_of`` and at or after the previous call's
    ``as_of``, so every offer is raised exactly once whatever the batches. The
    history before the book's first call gives none.
    """
    days = book.policy.win_back_days
    if days is None or rows.size == 0:
        return
    period = np.int64(days) * np.int64(86_400 * 10**9)
    start_ns = (book.as_of if book.as_of is not None else as_of).value
    r = raised.view(np.int64)
    low = np.maximum(r, start_ns)
    high = np.minimum(ended, as_of.value)
    first = -((r - low) // period)  # ceil((low - r) / period), low >= r
    stop = np.where(high > r, -((r - high) // period), 0)  # offers with r + k p < high
    count = np.maximum(stop - first, 0)
    if not count.any():
        return
    owner = np.repeat(np.arange(rows.size), count)
    offsets = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    k = first[owner] + offsets
    changes.add(
        customer_id=ids.labels_at(rows[owner]),
        at=(r[owner] + k * period).view("datetime64[ns]"),
        change="action",
        rule="win_back",
        detail=f"win-back offer (every {days} days while flagged for follow-up)",
    )


def _triggers(
    book: Book,
    *,
    batch: _Batch,
    rows: npt.NDArray[np.int64],
    purchases: _Purchases,
    ids: ChunkedIndex,
    churn_level: npt.NDArray[np.int8],
) -> tuple[tuple[npt.NDArray[np.int64], Triggers] | None, pd.DataFrame]:
    """Find the batch's trigger events and score each customer at its time."""
    policy = book.policy
    kind = np.full(batch.kinds.size, -1, dtype=np.int8)
    if policy.large_transaction is not None:
        kind[(batch.kinds == "purchase") & (batch.value >= policy.large_transaction)] = LARGE
    if policy.default_adjustment is not None:
        kind[batch.kinds == "default"] = DEFAULT_EVENT
    if policy.signing_adjustment is not None:
        kind[batch.kinds == "strategic_signing"] = SIGNING_EVENT
    chosen = np.flatnonzero(kind >= 0)
    if chosen.size == 0:
        return None, skipped_frame()
    if book.scorecard is None:
        return None, skipped_frame(
            batch.event_ids[chosen],
            batch.customers[batch.codes[chosen]],
            [_NO_SCORECARD] * chosen.size,
        )
    t_rows, t_stamps = rows[chosen], batch.stamps[chosen]
    # The customer's aggregates at the trigger's time: the book's before the batch
    # merged with the batch's purchases up to the trigger.
    was = book.ids.positions(batch.customers)[batch.codes[chosen]]
    known = was >= 0
    # Up to the trigger in stream order (ties in time resolved as they arrived).
    prefix, found = _aggregates.prefix_at(
        codes=purchases.codes,
        periods=purchases.periods,
        stamps=purchases.stamps,
        amounts=purchases.amounts,
        query_codes=batch.codes[chosen],
        keys=purchases.order,
        query_keys=chosen.astype(np.int64),
    )
    old = aggregates_of(book.columns, np.maximum(was, 0))
    merged = _aggregates.merge(old, prefix, known)
    at_trigger = PurchaseAggregates(
        **{
            name: np.where(found, getattr(merged, name), getattr(old, name))
            for name in _aggregates.AGGREGATE_COLUMNS
        }
    )
    customer_ids = pd.Index(ids.labels_at(t_rows))
    frame = indicators(
        book,
        at_trigger,
        periods_of(t_stamps, book),
        customer_ids,
        churn_level=churn_level[t_rows],
    )
    # One row per trigger, indexed uniquely for scoring: by customer when each has
    # one trigger (the usual case), else by (customer, trigger number) (a
    # MultiIndex makes the scorecard's uniqueness check far slower).
    if customer_ids.is_unique:
        frame.index = customer_ids.rename("customer_id")
    else:
        frame.index = pd.MultiIndex.from_arrays(
            [customer_ids, np.arange(len(customer_ids))], names=["customer_id", "trigger"]
        )
    score, tier = score_frame(book.scorecard, frame)
    return (
        t_rows,
        Triggers(
            owner=t_rows,  # replaced by positions in the timeline's rows
            times=t_stamps,
            kind=kind[chosen],
            score=score,
            tier=tier,
            event_id=batch.event_ids[chosen],
        ),
    ), skipped_frame()


def _timeline(
    book: Book,
    *,
    columns: Columns,
    changes: Changes,
    ids: ChunkedIndex,
    triggers: tuple[npt.NDArray[np.int64], Triggers] | None,
    as_of: pd.Timestamp,
) -> None:
    """Run triggers and override expiries in time order for the customers concerned."""
    kinds, expires = columns["override_kind"], columns["override_expires"]
    expiring = np.flatnonzero(
        (kinds > 0)
        & ~columns["override_until_review"]
        & ~np.isnat(expires)
        & (expires <= as_of.to_datetime64())
    )
    t_rows = triggers[0] if triggers is not None else np.empty(0, dtype=np.int64)
    involved = np.unique(np.concatenate([t_rows, expiring]))
    if involved.size == 0:
        return
    state = TierState(columns.data, involved)
    if triggers is None:
        timed = Triggers.none()
    else:
        t = triggers[1]
        owner = np.searchsorted(involved, t_rows)
        order = np.lexsort((np.arange(owner.size), t.times.view(np.int64), owner))
        timed = Triggers(
            owner=owner[order],
            times=t.times[order],
            kind=t.kind[order],
            score=t.score[order],
            tier=t.tier[order],
            event_id=t.event_id[order],
        )
    run_timeline(
        book,
        state,
        ids.labels_at(involved),
        changes,
        timed,
        as_of=as_of,
        cached_score=columns["score"][involved],
    )
    state.write(columns)


# --------------------------------------------------------------------------------------
# Reviews
# --------------------------------------------------------------------------------------


def review(
    book: Book,
    *,
    as_of: Any,
    events: pd.DataFrame | None = None,
    progress: Callable[[float], None] | None = None,
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
    as_of : date-like
        When the review happens (not before the book's ``as_of``).
    events : pandas.DataFrame, optional
        The recent event log, for the policy's churn step (required when the
        policy has one; its signals look back at most a year by default). Not
        applied to the book: ingest events with :func:`ingest`.
    progress : callable, optional
        Called with the fraction done (0 to 1) after each stage of the review.
    customer_col, timestamp_col, kind_col, value_col, event_id_col : str
        Column names of ``events``.

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
       warning level; then the scorecard, whose normalisation is relearned when
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
    as_of_ts = check_as_of(book, as_of, "review")
    if book.n_customers == 0:
        raise InvalidDataError("The book has no customers to review: ingest purchases first.")
    policy = book.policy
    if policy.churn is not None and events is None:
        raise InvalidParameterError(
            "The policy has a churn step: pass the recent events to review(events=...) so "
            "that warning levels can be measured."
        )
    stepped = _step(book, None, as_of_ts)
    book = stepped.book
    report(0.2)
    columns = Columns(book.columns)
    changes = Changes(book.tiers, as_of_ts)
    ids = book.ids.to_index()
    every = aggregates_of(columns.data, slice(None))
    period = int(periods_of([as_of_ts.to_datetime64()], book)[0])
    if policy.clv is not None and (
        book.purchase_model is None or book.spend_model is None or policy.clv.refit_on_review
    ):
        table = pd.DataFrame(rfm_columns(every, period)).set_axis(ids)
        table.attrs["time_unit"] = policy.time_unit
        book = attrs.evolve(
            book,
            purchase_model=BetaGeoFitter().fit(table),
            spend_model=GammaGammaFitter().fit(table),
        )
    report(0.5)
    if policy.churn is not None and events is not None:
        warnings = policy.churn.evaluate(
            events,
            as_of=as_of_ts,
            customer_col=customer_col,
            timestamp_col=timestamp_col,
            kind_col=kind_col,
            value_col=value_col,
            event_id_col=event_id_col,
        )
        rows = book.ids.positions(warnings.index)
        levels = pd.Categorical(warnings["level"], categories=LEVELS).codes.astype(np.int8)
        churn = np.zeros(book.n_customers, dtype=np.int8)
        churn[rows[rows >= 0]] = levels[rows >= 0]
        columns.edit("churn_level")[:] = churn
    report(0.7)
    frame = indicators(book, every, period, ids, churn_level=columns["churn_level"]).set_axis(
        ids.rename("customer_id")
    )
    scorecard: FittedScorecard | None = book.scorecard
    if scorecard is None or policy.refit_on_review:
        scorecard = policy.scorecard.fit(frame)
    score, computed = score_frame(scorecard, frame)
    # The tier of the score alone, and the rule (if any) that moved it to `computed`.
    plain = book.tiers.codes(score).astype(np.int8)
    rules = policy.scorecard.rules
    fired = np.full(score.size, -1, dtype=np.int64)
    if rules:
        _, fired = apply_rules(
            plain, frame, scheme=book.tiers, rules=rules, frame_name="the review's indicators"
        )
    report(0.9)
    _retier(
        book,
        columns=columns,
        changes=changes,
        ids=np.asarray(ids, dtype=object),
        score=score,
        computed=computed,
        plain=plain,
        fired=fired,
        as_of=as_of_ts,
    )
    columns.edit("score")[:] = score
    columns.edit("score_tier")[:] = computed
    columns.edit("scored_at")[:] = as_of_ts.to_datetime64()
    made = changes.frame()
    reviewed = attrs.evolve(
        book,
        as_of=as_of_ts,
        last_review=as_of_ts,
        first_review=as_of_ts if book.first_review is None else book.first_review,
        scorecard=scorecard,
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


def _retier(
    book: Book,
    *,
    columns: Columns,
    changes: Changes,
    ids: npt.NDArray[Any],
    score: npt.NDArray[np.float64],
    computed: npt.NDArray[np.int8],
    plain: npt.NDArray[np.int8],
    fired: npt.NDArray[np.int64],
    as_of: pd.Timestamp,
) -> None:
    """Hysteresis on the base tier, end of review-long overrides, audit rows.

    ``computed`` is the scorecard's tier after its rules, ``plain`` the tier of the
    score alone and ``fired`` the position of the rule that moved one to the other
    (-1 none). The retention rule buffers only what the score does: when a rule
    (a cap) puts the computed tier below the score's own tier and below the base
    tier, the customer moves down at once, and the row names the rule.
    """
    policy = book.policy
    rules = policy.scorecard.rules
    everyone = np.arange(ids.size)
    state = TierState(columns.data, everyone)
    before = state.effective()
    base = state.base.astype(np.int64)
    streak = columns["below_reviews"].copy()
    unrated = base < 0
    up = ~unrated & (computed > base)
    down = ~unrated & (computed < base)
    by_rule = down & (computed < plain)
    bounds = np.asarray(book.tiers.bounds)
    below = down & ~by_rule & (score < bounds[np.maximum(base, 0)] - policy.retention_margin)
    streak = np.where(below, streak + 1, 0)
    moved_down = below & (streak >= policy.retention_reviews)
    new_base = np.where(unrated | up | moved_down | by_rule, computed, base).astype(np.int8)
    streak[moved_down] = 0
    state.base[:] = new_base
    kind_before = state.kind.copy()
    ending = (state.kind > 0) & state.until_review
    state.clear(ending)
    after = state.effective()
    columns.edit("below_reviews")[:] = streak
    state.write(columns)

    rule = np.full(ids.size, "", dtype=object)
    rule[unrated] = "first_rating"
    rule[up] = "review_upgrade"
    rule[moved_down] = "review_downgrade"
    rule_names = np.asarray([r.name for r in rules] + [""], dtype=object)
    rule[by_rule] = rule_names[fired[by_rule]]
    moved = after != before
    rule[ending & (rule == "")] = "override_ended_at_review"
    rule[ending & moved & (rule != "override_ended_at_review")] += "+override_ended_at_review"
    detail = np.full(ids.size, "", dtype=object)
    held = below & ~moved_down & ~moved
    detail[held] = "kept by the retention rule"
    rule[held & (rule == "")] = "retention_hold"
    detail[by_rule] = np.asarray(
        [rules[k].describe(book.tiers) if k >= 0 else "" for k in fired[by_rule]], dtype=object
    )
    # The computed tier changed while an override still decides the shown tier:
    # recorded all the same (an override never hides the computed score).
    hidden = (new_base != base) & ~moved & ~ending & (state.kind > 0)
    labels = np.asarray((*book.tiers.labels(), "none"), dtype=object)
    detail[hidden] = np.asarray(
        [
            f"base tier {labels[b]} -> {labels[n]}; the {OVERRIDE_KINDS[k]} override still applies"
            for b, n, k in zip(base[hidden], new_base[hidden], kind_before[hidden], strict=True)
        ],
        dtype=object,
    )
    ended = np.flatnonzero(ending)
    detail[ended] = np.asarray(
        [
            f"{detail[i]}; " * bool(detail[i]) + f"{OVERRIDE_KINDS[k]} override ended"
            for i, k in zip(ended, kind_before[ended], strict=True)
        ],
        dtype=object,
    )
    record = moved | ending | held | hidden
    who = np.flatnonzero(record)
    changes.add(
        customer_id=ids[who],
        at=as_of.to_datetime64(),
        change=np.where(moved[who], "tier", "review").astype(object),
        before=before[who],
        after=after[who],
        score=score[who],
        rule=rule[who],
        detail=detail[who],
    )


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
    customer_col, timestamp_col, kind_col, value_col, event_id_col : str
        Column names, as in :func:`ingest`.

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
    columns = {
        "customer_col": customer_col,
        "timestamp_col": timestamp_col,
        "kind_col": kind_col,
        "value_col": value_col,
        "event_id_col": event_id_col,
    }
    book = Book(policy=policy, attributes=_checked_attributes(attributes))
    first = ingest(book, events, as_of=as_of, **columns)
    history = events if policy.churn is not None else None
    second = review(
        first.book,
        as_of=as_of,
        events=history,
        customer_col=customer_col,
        timestamp_col=timestamp_col,
        kind_col=kind_col,
        value_col=value_col,
        event_id_col=event_id_col,
    )
    book, adjusted, skipped = second.book, empty_changes(), first.skipped
    if book.as_of is not None and (skipped["reason"] == _NO_SCORECARD).any():
        book, adjusted, skipped = _open_adjustments(book, events, book.as_of, columns, skipped)
    return RescoringResult(
        book=book,
        changes=pd.concat([first.changes, second.changes, adjusted], ignore_index=True),
        skipped=skipped,
    )


def _adjustment_rows(
    events: pd.DataFrame, policy: RescoringPolicy, columns: dict[str, str]
) -> pd.DataFrame:
    """Select the rows of a history that :func:`_open_adjustments` reads, in order.

    Defaults and signings; every purchase of the customers who have one (their
    first purchase in stream order decides whether a trigger came too early); and
    the large purchases, which are reported as rated. Reading only these keeps
    opening a book from validating its whole history twice.
    """
    kinds = events[columns["kind_col"]]
    trigger = kinds.isin(["default", "strategic_signing"]).to_numpy()
    purchase = (kinds == "purchase").to_numpy()
    customers = events[columns["customer_col"]]
    keep = trigger | (purchase & customers.isin(customers[trigger]).to_numpy())
    value_col = columns["value_col"]
    if policy.large_transaction is not None and value_col in events.columns:
        large = (events[value_col] >= policy.large_transaction).to_numpy(dtype=bool)
        keep |= purchase & large
    return events[keep]


def _open_adjustments(
    book: Book,
    events: pd.DataFrame,
    as_of: pd.Timestamp,
    columns: dict[str, str],
    skipped: pd.DataFrame,
) -> tuple[Book, pd.DataFrame, pd.DataFrame]:
    """Apply the history's defaults and signings whose adjustment is still running.

    The history is ingested before the first review, when nothing can be scored,
    so its triggers were skipped. Each adjustment replaces the one before it, so
    only a customer's last default or signing can still run: if its expiry is
    after ``as_of`` it is applied, after the first rating, at its event's time
    (and expires as usual). The others are reported with why they do not apply.
    """
    policy = book.policy
    fresh = Book(policy=policy)
    batch = _read_batch(fresh, _adjustment_rows(events, policy, columns), as_of, columns)
    if batch is None:  # pragma: no cover - the history had these triggers
        return book, empty_changes(), skipped
    batch, _ = _drop_before_first_purchase(fresh, batch)
    kind = np.full(batch.kinds.size, -1, dtype=np.int8)
    reason = np.full(batch.kinds.size, "", dtype=object)
    limit = as_of.to_datetime64()
    adjusting = np.zeros(batch.kinds.size, dtype=bool)
    for name, adjustment in (
        ("default", policy.default_adjustment),
        ("strategic_signing", policy.signing_adjustment),
    ):
        if adjustment is not None:
            adjusting |= batch.kinds == name
    # The batch is sorted by (customer, time, arrival): a customer's last one is
    # the one not followed by another of the same customer.
    position = np.flatnonzero(adjusting)
    codes = batch.codes[position]
    last = np.zeros(batch.kinds.size, dtype=bool)
    last[position] = np.r_[codes[1:] != codes[:-1], True]
    reason[adjusting & ~last] = "before the book opened: replaced by a later adjustment"
    for code, name, adjustment in (
        (DEFAULT_EVENT, "default", policy.default_adjustment),
        (SIGNING_EVENT, "strategic_signing", policy.signing_adjustment),
    ):
        mine = (batch.kinds == name) & last
        if adjustment is None or not mine.any():
            continue
        if adjustment.expires_after_days is None:
            reason[mine] = "before the book opened: the adjustment ended at the first review"
            continue
        ends = batch.stamps + np.timedelta64(adjustment.expires_after_days, "D")
        kind[mine & (ends > limit)] = code
        reason[mine & (ends <= limit)] = "before the book opened: the adjustment had expired"
    if policy.large_transaction is not None:
        large = (batch.kinds == "purchase") & (batch.value >= policy.large_transaction)
        reason[large] = "before the book opened: the first review rated the customer"
    chosen = np.flatnonzero(kind >= 0)
    working = Columns(book.columns)
    changes = Changes(book.tiers, as_of)
    if chosen.size:
        rows = book.ids.positions(batch.customers)[batch.codes[chosen]]
        _timeline(
            book,
            columns=working,
            changes=changes,
            ids=book.ids,
            triggers=(
                rows,
                Triggers(
                    owner=rows,
                    times=batch.stamps[chosen],
                    kind=kind[chosen],
                    score=working["score"][rows],
                    tier=working["score_tier"][rows],
                    event_id=batch.event_ids[chosen],
                ),
            ),
            as_of=as_of,
        )
    made = changes.frame()
    made["detail"] = made["detail"].where(
        made["rule"] == "override_expired", "temporary adjustment, still running when opened"
    )
    report = np.flatnonzero(reason != "")
    skipped = pd.concat(
        [
            skipped[skipped["reason"] != _NO_SCORECARD],
            skipped_frame(
                batch.event_ids[report],
                batch.customers[batch.codes[report]],
                reason[report],
            ),
        ],
        ignore_index=True,
    )
    opened = attrs.evolve(book, columns=working.freeze(), changes=book.changes.add(made))
    return opened, made, skipped


# --------------------------------------------------------------------------------------
# Overrides, appeals, attributes, explanations
# --------------------------------------------------------------------------------------


def _check_note(reason: Any, author: Any, owner: str) -> None:
    """Reason and author of an override decision: both non-empty strings."""
    for name, value in (("reason", reason), ("author", author)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidParameterError.for_value(
                name=name, owner=owner, allowed="a non-empty string", got=value
            )


def _row_of(book: Book, customer_id: Any, owner: str) -> int:
    row = int(book.ids.positions(pd.Index([customer_id]))[0])
    if row < 0:
        raise InvalidDataError.for_ids(
            column=None, problem=f"is not in the book ({owner})", ids=[customer_id]
        )
    return row


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
    reason, author : str
        Why, and who decided; both are kept on the override and in the audit trail.
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
    state = TierState(columns.data, np.array([row]))
    before = state.effective()
    state.kind[:] = OVERRIDE_KINDS.index("manual")
    state.override[:] = target
    state.expires[:] = ends
    state.until_review[:] = until_review
    notes = (*stepped.book.notes, (reason, author))
    state.note[:] = len(notes) - 1
    state.write(columns)
    changes.add(
        customer_id=np.asarray([customer_id], dtype=object),
        at=as_of_ts.to_datetime64(),
        change="tier",
        before=before,
        after=np.asarray([target]),
        score=columns["score"][[row]],
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
    state = TierState(columns.data, np.array([row]))
    if state.kind[0] == 0:
        raise InvalidDataError.for_ids(
            column=None, problem="has no active override", ids=[customer_id]
        )
    before = state.effective()
    state.clear(np.array([True]))
    state.write(columns)
    changes.add(
        customer_id=np.asarray([customer_id], dtype=object),
        at=as_of_ts.to_datetime64(),
        change="tier",
        before=before,
        after=state.base,
        score=columns["score"][[row]],
        rule="override_cleared",
        detail=f"{reason} (by {author})",
    )
    return _finish(stepped, columns, changes)


def _finish(
    stepped: RescoringResult,
    columns: Columns,
    changes: Changes,
    notes: tuple[tuple[str, str], ...] | None = None,
) -> RescoringResult:
    made = changes.frame()
    book = attrs.evolve(
        stepped.book,
        columns=columns.freeze(),
        changes=stepped.book.changes.add(made),
        notes=stepped.book.notes if notes is None else notes,
    )
    all_changes = pd.concat([stepped.changes, made], ignore_index=True)
    return RescoringResult(book=book, changes=all_changes, skipped=stepped.skipped)


def _checked_attributes(attributes: pd.DataFrame | None) -> pd.DataFrame:
    if attributes is None:
        return pd.DataFrame()
    check_frame(attributes, name="attributes", owner="set_attributes")
    check_unique_index(attributes, frame_name="attributes")
    for column in attributes.columns:
        series = attributes[column]
        if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(
            series.dtype
        ):
            raise InvalidDataError(
                f"Attribute column {column!r} must be numeric; got {series.dtype}.", column=column
            )
    return attributes.astype(np.float64).copy()


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
        Numeric columns indexed by customer id (unique).

    Returns
    -------
    Book
        A new book with the merged attributes.
    """
    new = _checked_attributes(attributes)
    merged = new if book.attributes.empty else new.combine_first(book.attributes)
    merged.index.name = "customer_id"
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
    wanted = pd.Index(list(customer_ids) if not isinstance(customer_ids, str) else [customer_ids])
    rows = book.ids.positions(wanted)
    absent = rows < 0
    if absent.any():
        raise InvalidDataError.for_ids(
            column=None, problem="is not in the book", ids=list(wanted[absent])
        )
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
