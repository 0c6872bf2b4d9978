"""The ingest step: merge purchases, raise actions, run triggers and override expiries."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from crmscore._ids import TextIds, objects_of
from crmscore._purchases import PurchaseAggregates, aggregate_purchases
from crmscore._validation import reject_overflow
from crmscore.rescoring import _aggregates
from crmscore.rescoring._batch import _NEVER, _Batch, _drop_before_first_purchase
from crmscore.rescoring._book import NAT, Book, RescoringResult
from crmscore.rescoring._chunks import is_in, unique_ints
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
    indicators,
    periods_of,
    run_timeline,
    score_frame,
    skipped_frame,
)

if TYPE_CHECKING:
    import numpy.typing as npt

    from crmscore.rescoring._chunks import ChunkedIndex
    from crmscore.tiering import FittedScorecard

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
        churn_probability=np.full(count, np.nan),
        churn_reasons=np.full(count, "", dtype=object),
    )
    return rows


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
    found: _Found | None = None
    if batch is not None:
        event_ids = event_ids.add(batch.event_ids, batch.id_hashes, canonical=True)
        batch, early = _drop_before_first_purchase(book, batch)
        skipped.append(early)
        ids, rows, purchases = _merge_purchases(book, batch, columns, _due_rows(book, as_of))
        found, late = _triggers(
            book,
            batch=batch,
            rows=rows,
            purchases=purchases,
            ids=ids,
            churn_level=columns,
        )
        skipped.append(late)
    customer_ids = ids
    # Every customer the batch touched is scored at as_of, on aggregates that are
    # final once the purchases are merged (the steps below change no aggregate and
    # no churn level): with the triggers, from one indicator frame.
    touched = _unique_rows(rows, len(ids))
    parts = [] if found is None else [found.to_score]
    if book.scorecard is not None and touched.size:
        parts.append(
            _ToScore(
                aggregates=aggregates_of(columns, touched),
                periods=np.full(touched.size, periods_of([as_of.to_datetime64()], book)[0]),
                labels=customer_ids.labels_at(touched),
                churn_level=columns.take("churn_level", touched),
                index=pd.Index(customer_ids.labels_at(touched), name=book.customer_col),
            )
        )
    scored = _score_together(book, book.scorecard, parts) if book.scorecard is not None else []
    if found is not None:
        score, tier = scored[0]
        triggers = (
            found.rows,
            Triggers(
                owner=found.rows,  # replaced by positions in the timeline's rows
                times=found.times,
                kind=found.kind,
                score=score,
                tier=tier,
                event_id=found.event_id,
            ),
        )
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
    if book.scorecard is not None and touched.size:
        score, tier = scored[-1]
        columns.put("score", touched, score)
        columns.put("score_tier", touched, tier)
        columns.put("scored_at", touched, as_of.to_datetime64())
    made = changes.frame()
    new_book = attrs.evolve(
        book,
        as_of=as_of,
        ids=ids,
        columns=columns.freeze(consumed=as_of.to_datetime64()),
        event_ids=event_ids,
        changes=book.changes.add(made),
    )
    kept = [s for s in skipped if len(s)]
    return RescoringResult(
        book=new_book,
        changes=made,
        skipped=pd.concat(kept, ignore_index=True) if kept else skipped_frame(),
    )


@attrs.frozen(kw_only=True, eq=False)
class _Purchases:
    """The batch's purchases, sorted by (customer, time), with their book rows."""

    codes: npt.NDArray[np.int64]  # the batch's customer codes (sorted)
    order: npt.NDArray[np.int64]  # position in the batch (stream order per customer)
    rows: npt.NDArray[np.int64]
    stamps: npt.NDArray[np.datetime64]
    periods: npt.NDArray[np.int64]
    amounts: npt.NDArray[np.float64]
    event_ids: npt.NDArray[Any] | TextIds  # the whole batch's (a purchase's at its ``order``)
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


def _due_rows(book: Book, as_of: pd.Timestamp) -> npt.NDArray[np.int64]:
    """Rows the book's due indexes give up to ``as_of`` (candidates the call reads)."""
    limit = as_of.to_datetime64()
    store = book.columns
    parts = [store.due("override_expiry", limit)]
    if book.policy.follow_up_months is not None:
        parts.append(store.due("follow_up", limit))
    return np.concatenate(parts)


def _merge_purchases(
    book: Book, batch: _Batch, columns: Columns, due: npt.NDArray[np.int64]
) -> tuple[Any, npt.NDArray[np.int64], _Purchases]:
    """Merge the batch's purchases into the aggregates; add new customers' rows.

    ``due``: rows the due indexes give, gathered with the batch's (the follow-ups
    mostly write theirs: one gather of every row the call reads, not one per step).
    """
    position = batch.positions(book)
    known = position >= 0
    columns.gather(np.concatenate([position[known], due]))  # (in one pass)
    buys = batch.kind_is("purchase")
    p_codes = batch.codes[buys]
    buyers, local = _unique_inverse(p_codes)
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
        old = aggregates_of(columns, np.maximum(position[buyers], 0)) if len(ids) else fresh
        with np.errstate(over="ignore"):  # an overflow is detected, and refused, below
            before_total[existing] = (old.first_spend + old.repeat_spend)[existing]
            merged = _aggregates.merge(old, fresh, existing)
            total = merged.first_spend + merged.repeat_spend
        before_last[existing] = old.last_purchase[existing]
        before_flag[existing] = columns.take("follow_up", old_rows)
        reject_overflow(  # the book's totals plus the batch's, beyond the float range
            np.isinf(total),
            batch.customers[buyers],
            column=batch.value_col,
        )
        for name in _aggregates.AGGREGATE_COLUMNS:
            values = getattr(merged, name)[existing]
            # A repeat purchase leaves the first-purchase columns as they were: the
            # (immutable) book column is copied only when a value really changes.
            if not np.array_equal(columns.take(name, old_rows), values, equal_nan=True):
                columns.put(name, old_rows, values)
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
        event_ids=batch.event_ids,  # (no copy of every purchase's id: few are read)
        before_total=before_total[local],
        before_last=before_last[local],
        before_flag=before_flag[local],
    )
    return ids, row_of[batch.codes], purchases


def _unique_inverse(
    codes: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """``np.unique(codes, return_inverse=True)``, without its sort when already sorted."""
    if codes.size and (codes[1:] >= codes[:-1]).all():
        starts = np.r_[True, codes[1:] != codes[:-1]]
        local: npt.NDArray[np.intp] = np.cumsum(starts, dtype=np.intp) - 1
        return codes[starts], local
    return np.unique(codes, return_inverse=True)


def _unique_rows(rows: npt.NDArray[np.int64], n_rows: int) -> npt.NDArray[np.int64]:
    """``np.unique(rows)`` of rows in ``[0, n_rows)``.

    A mask over the book instead of a sort when the rows are many (opening a
    book); the sort when they are few (a batch), so a batch costs no book-sized pass.
    """
    if rows.size * 8 < n_rows:
        return unique_ints(rows)
    seen = np.zeros(n_rows, dtype=bool)
    seen[rows] = True
    return np.flatnonzero(seen).astype(np.int64, copy=False)


def _group_starts(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Where each customer's run of (contiguous) rows begins."""
    return np.r_[True, rows[1:] != rows[:-1]] if rows.size else np.zeros(0, dtype=bool)


def _running_sums(
    values: npt.NDArray[np.float64], group_first: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Cumulative sums within each run of rows (``group_first``: where each row's run starts).

    Each run is summed in its own order, exactly as ``np.cumsum`` of the run alone:
    one global cumulative sum minus the run's offset would lose a small customer's
    spend after a large one (absorbed by rounding) and overflow when the whole
    batch's spend does, though no customer's does. Runs of one length are stacked
    as the rows of a matrix and summed along them, so the loop is over the distinct
    run lengths (a few hundred at most), never over customers.
    """
    n = values.size
    out = np.empty(n, dtype=np.float64)
    if n == 0:
        return out
    starts = np.flatnonzero(group_first == np.arange(n))
    lengths = np.diff(np.r_[starts, n])
    by_length = np.argsort(lengths, kind="stable")
    ordered = lengths[by_length]
    bounds = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True]).tolist()
    for low, high in itertools.pairwise(bounds):
        rows = starts[by_length[low:high], None] + np.arange(ordered[low])
        out[rows] = np.cumsum(values[rows], axis=1)
    return out


def _invitations(
    book: Book, columns: Columns, changes: Changes, ids: ChunkedIndex, purchases: _Purchases
) -> None:
    """Invite customers to VIP once, when cumulative spend first reaches the threshold."""
    threshold = book.policy.invitation_spend
    if threshold is None or purchases.rows.size == 0:
        return
    starts = _group_starts(purchases.rows)
    group_first = np.maximum.accumulate(np.where(starts, np.arange(starts.size), 0))
    running = _running_sums(purchases.amounts, group_first)  # spend within the batch so far
    reached = purchases.before_total + running >= threshold * (1 - _SPEND_TOLERANCE)
    eligible = reached & ~columns.take("invited", purchases.rows)
    count = np.cumsum(eligible)
    first = eligible & (count - np.r_[0, count][group_first] == 1)  # first per customer
    if not first.any():
        return
    rows = purchases.rows[first]
    columns.put("invited", rows, True)
    changes.add(
        customer_id=ids.labels_at(rows),
        at=purchases.stamps[first],
        change="action",
        rule="upgrade_invitation",
        event_ids=objects_of(purchases.event_ids[purchases.order[first]]),
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
    # Win-back intervals: (row, flag raised, flag cleared by a purchase or never);
    # the flags already up are only gathered when win-backs are on (half a book may
    # be flagged: a gather of every one of them per batch otherwise serves nothing).
    win_backs = book.policy.win_back_days is not None
    flagged = (  # (sorted)
        np.flatnonzero(columns["follow_up"]) if win_backs else np.empty(0, dtype=np.int64)
    )
    flagged_at = columns.take("follow_up_due", flagged)
    ended = np.full(flagged.size, _NEVER, dtype=np.int64)
    # Customers without a purchase in this batch: raised when their due time passes.
    # The book's due index gives the candidates (NaT never compares below a time);
    # the batch's buyers are then taken out of them.
    candidates = columns.store.due("follow_up", limit)
    candidate_due = columns.peek("follow_up_due", candidates)
    idle_mask = (candidate_due < limit) & ~columns.peek("follow_up", candidates)
    idle, idle_due = candidates[idle_mask], candidate_due[idle_mask]
    if purchases.rows.size and idle.size:
        outside = ~is_in(idle, unique_ints(purchases.rows))
        idle, idle_due = idle[outside], idle_due[outside]
    raised_rows = [idle]
    raised_at = [idle_due]
    raised_end = [np.full(idle.size, _NEVER, dtype=np.int64)]
    if purchases.rows.size:
        # Gaps between consecutive purchases (the first from the previous purchase).
        starts = _group_starts(purchases.rows)
        # A flag up before the batch ends at the customer's first purchase in it
        # (one run of rows per customer: each row starts once).
        first_rows = purchases.rows[starts]
        was_up = columns.take("follow_up", first_rows) & win_backs
        ended[np.searchsorted(flagged, first_rows[was_up])] = purchases.stamps[starts][was_up].view(
            np.int64
        )
        previous = np.r_[NAT, purchases.stamps[:-1]].astype("datetime64[ns]")
        previous[starts] = purchases.before_last[starts]
        # m calendar months are never shorter than 28 m days: only the longer gaps
        # can reach their due time, so only theirs are worked out (a history opens
        # with millions of purchases, nearly all close to the previous one).
        # (the rows of those gaps only: a book opens on millions of purchases)
        long_gap = np.flatnonzero(previous <= purchases.stamps - np.timedelta64(28 * months, "D"))
        gap_due = add_months(previous[long_gap], months)
        gap_stamps = purchases.stamps[long_gap]
        already = starts[long_gap] & purchases.before_flag[long_gap]  # raised before this batch
        due = ~np.isnat(gap_due) & (gap_due < gap_stamps) & ~already
        gap = long_gap[due]
        raised_rows.append(purchases.rows[gap])
        raised_at.append(gap_due[due])
        raised_end.append(gap_stamps[due].view(np.int64))
        # After each customer's last purchase in the batch.
        ends = np.r_[starts[1:], True]
        end_rows = purchases.rows[ends]
        new_due = add_months(purchases.stamps[ends], months)
        tail = new_due < limit
        raised_rows.append(end_rows[tail])
        raised_at.append(new_due[tail])
        raised_end.append(np.full(int(tail.sum()), _NEVER, dtype=np.int64))
        columns.put("follow_up_due", end_rows, new_due)
        columns.put("follow_up", end_rows, tail)
    rows = np.concatenate(raised_rows)
    raised = np.concatenate(raised_at)
    if rows.size:
        columns.put("follow_up", idle, True)
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
    churn_level: Columns,
) -> tuple[_Found | None, pd.DataFrame]:
    """Find the batch's trigger events and what to score each customer on at its time."""
    policy = book.policy
    kind = np.full(batch.kinds.size, -1, dtype=np.int8)
    if policy.large_transaction is not None:
        kind[batch.kind_is("purchase") & (batch.value >= policy.large_transaction)] = LARGE
    if policy.default_adjustment is not None:
        kind[batch.kind_is("default")] = DEFAULT_EVENT
    if policy.signing_adjustment is not None:
        kind[batch.kind_is("strategic_signing")] = SIGNING_EVENT
    chosen = np.flatnonzero(kind >= 0)
    if chosen.size == 0:
        return None, skipped_frame()
    if book.scorecard is None:
        return None, skipped_frame(
            objects_of(batch.event_ids[chosen]),
            batch.customers[batch.codes[chosen]],
            [_NO_SCORECARD] * chosen.size,
        )
    t_rows, t_stamps = rows[chosen], batch.stamps[chosen]
    # The customer's aggregates at the trigger's time: the book's before the batch
    # merged with the batch's purchases up to the trigger.
    # Rows below the old book's size are the customers it knew (the others are new).
    was = np.where(t_rows < len(book.ids), t_rows, -1)
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
    labels = ids.labels_at(t_rows)
    customer_ids = pd.Index(labels)
    # One row per trigger, indexed uniquely for scoring: by customer when each has
    # one trigger (the usual case), else by (customer, trigger number) (a
    # MultiIndex makes the scorecard's uniqueness check far slower).
    if customer_ids.is_unique:
        index = customer_ids.rename(book.customer_col)
    else:
        index = pd.MultiIndex.from_arrays(
            [customer_ids, np.arange(len(customer_ids))], names=[book.customer_col, "trigger"]
        )
    return _Found(
        rows=t_rows,
        times=t_stamps,
        kind=kind[chosen],
        event_id=objects_of(batch.event_ids[chosen]),
        to_score=_ToScore(
            aggregates=at_trigger,
            periods=periods_of(t_stamps, book),
            labels=labels,
            churn_level=churn_level.take("churn_level", t_rows),
            index=index,
        ),
    ), skipped_frame()


@attrs.frozen(kw_only=True, eq=False)
class _ToScore:
    """Customers to score: their aggregates, the period of each score, their ids."""

    aggregates: PurchaseAggregates
    periods: npt.NDArray[np.int64]
    labels: npt.NDArray[Any]
    churn_level: npt.NDArray[np.int8]
    index: pd.Index[Any]  # the scored frame's (unique) index


@attrs.frozen(kw_only=True, eq=False)
class _Found:
    """The batch's triggers (rows, times, kinds, event ids), to be scored at their times."""

    rows: npt.NDArray[np.int64]
    times: npt.NDArray[np.datetime64]
    kind: npt.NDArray[np.int8]
    event_id: npt.NDArray[Any]
    to_score: _ToScore


def _score_together(
    book: Book, scorecard: FittedScorecard, parts: list[_ToScore]
) -> list[tuple[npt.NDArray[np.float64], npt.NDArray[np.int8]]]:
    """Score each set of customers, building one indicator frame for all of them.

    Building the frame (and the CLV models' checks of it) costs a batch's ten
    triggers about as much as its thousands of touched customers; every indicator is
    a value per row, so each set scores as it would alone.
    """
    if not parts:
        return []
    if len(parts) == 1:
        (part,) = parts
        frame = indicators(
            book, part.aggregates, part.periods, pd.Index(part.labels), churn_level=part.churn_level
        )
        return [score_frame(scorecard, frame.set_axis(part.index))]
    aggregates = PurchaseAggregates(
        **{
            name: np.concatenate([getattr(p.aggregates, name) for p in parts])
            for name in _aggregates.AGGREGATE_COLUMNS
        }
    )
    frame = indicators(
        book,
        aggregates,
        np.concatenate([p.periods for p in parts]),
        pd.Index(np.concatenate([np.asarray(p.labels, dtype=object) for p in parts])),
        churn_level=np.concatenate([p.churn_level for p in parts]),
    )
    scored = []
    start = 0
    for part in parts:
        stop = start + len(part.index)
        scored.append(score_frame(scorecard, frame.iloc[start:stop].set_axis(part.index)))
        start = stop
    return scored


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
    # The book's due index gives the candidates (NaT never compares below a time).
    expiring = columns.store.due("override_expiry", as_of.to_datetime64())
    expiring = expiring[
        (columns.peek("override_expires", expiring) <= as_of.to_datetime64())
        & (columns.peek("override_kind", expiring) > 0)
        & ~columns.peek("override_until_review", expiring)
    ]
    t_rows = triggers[0] if triggers is not None else np.empty(0, dtype=np.int64)
    involved = unique_ints(np.concatenate([t_rows, expiring]))
    if involved.size == 0:
        return
    state = TierState(columns, involved)
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
        cached_score=columns.take("score", involved),
    )
    state.write(columns)
