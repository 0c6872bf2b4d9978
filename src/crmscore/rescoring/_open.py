"""Opening a book: the history's adjustments still running after the first review."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np
import pandas as pd

from crmscore._ids import objects_of
from crmscore.rescoring._batch import _Batch, _drop_before_first_purchase
from crmscore.rescoring._book import Book
from crmscore.rescoring._core import (
    DEFAULT_EVENT,
    SIGNING_EVENT,
    Changes,
    Columns,
    Triggers,
    skipped_frame,
)
from crmscore.rescoring._ingest import _NO_SCORECARD, _timeline

if TYPE_CHECKING:
    from crmscore.rescoring._policy import RescoringPolicy


def _adjustment_rows(batch: _Batch, policy: RescoringPolicy) -> _Batch:
    """Select the events of the history that :func:`_open_adjustments` reads, in order.

    Defaults and signings; every purchase of the customers who have one (their
    first purchase in stream order decides whether a trigger came too early); and
    the large purchases, which are reported as rated. The history was validated
    and sorted once, when it was ingested: this is a mask over that batch.
    """
    trigger = batch.kind_is("default") | batch.kind_is("strategic_signing")
    purchase = batch.kind_is("purchase")
    with_trigger = np.zeros(len(batch.customers), dtype=bool)
    with_trigger[batch.codes[trigger]] = True
    keep = trigger | (purchase & with_trigger[batch.codes])
    if policy.large_transaction is not None:
        keep |= purchase & (batch.value >= policy.large_transaction)
    return batch.take(keep)


def _open_adjustments(
    book: Book,
    history: _Batch,
    as_of: pd.Timestamp,
    skipped: pd.DataFrame,
) -> tuple[Book, pd.DataFrame, pd.DataFrame]:
    """Apply the history's defaults and signings whose adjustment is still running.

    The history is ingested before the first review, when nothing can be scored,
    so its triggers were skipped. Each adjustment replaces the one before it, so
    only a customer's last default or signing can still run: if its expiry is
    after ``as_of`` it is applied, after the first rating, at its event's time
    (and expires as usual). The others are reported with why they do not apply.
    ``history`` is the history as ingest read it (validated, sorted).
    """
    policy = book.policy
    batch, _ = _drop_before_first_purchase(Book(policy=policy), _adjustment_rows(history, policy))
    kind = np.full(batch.kinds.size, -1, dtype=np.int8)
    reason = np.full(batch.kinds.size, "", dtype=object)
    limit = as_of.to_datetime64()
    adjusting = np.zeros(batch.kinds.size, dtype=bool)
    for name, adjustment in (
        ("default", policy.default_adjustment),
        ("strategic_signing", policy.signing_adjustment),
    ):
        if adjustment is not None:
            adjusting |= batch.kind_is(name)
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
        mine = batch.kind_is(name) & last
        if adjustment is None or not mine.any():
            continue
        if adjustment.expires_after_days is None:
            reason[mine] = "before the book opened: the adjustment ended at the first review"
            continue
        ends = batch.stamps + np.timedelta64(adjustment.expires_after_days, "D")
        kind[mine & (ends > limit)] = code
        reason[mine & (ends <= limit)] = "before the book opened: the adjustment had expired"
    if policy.large_transaction is not None:
        large = batch.kind_is("purchase") & (batch.value >= policy.large_transaction)
        reason[large] = "before the book opened: the first review rated the customer"
    chosen = np.flatnonzero(kind >= 0)
    working = Columns(book.columns)
    changes = Changes(book.tiers, as_of)
    if chosen.size:
        rows = book.ids.positions(batch.customers[batch.codes[chosen]])
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
                    score=working.take("score", rows),
                    tier=working.take("score_tier", rows),
                    event_id=objects_of(batch.event_ids[chosen]),
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
                objects_of(batch.event_ids[report]),
                batch.customers[batch.codes[report]],
                reason[report],
            ),
        ],
        ignore_index=True,
    )
    opened = attrs.evolve(book, columns=working.freeze(), changes=book.changes.add(made))
    return opened, made, skipped
