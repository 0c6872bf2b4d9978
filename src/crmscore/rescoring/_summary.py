"""Short reprs and HTML summaries of the engine's values: counts, never customer data.

A book holds customer ids, purchase aggregates, scores and override notes; the
policy texts require that the library never echo customer data it was given beyond
what a caller asks for. What a book or a result shows of itself is therefore made
of counts (customers per tier, changes per rule, skipped events per reason), dates
and settings only. The caller asks for the data explicitly: ``book.customers``,
``book.history``, ``result.changes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmscore._display import html_block, short_repr

if TYPE_CHECKING:
    from crmscore.rescoring._book import Book, RescoringResult
    from crmscore.rescoring._policy import RescoringPolicy

__all__ = ["book_html", "book_repr", "policy_html", "result_html", "result_repr"]

_UNRATED = "(not rated)"


def _date(value: pd.Timestamp | None) -> str | None:
    return None if value is None else str(value)


def tier_counts(book: Book) -> pd.Series[int]:
    """Count customers per tier, lowest first, then those not rated yet (if any)."""
    labels = list(book.tiers.labels())
    positions = np.asarray(book.columns["tier"], dtype=np.int64)
    counts = np.bincount(positions + 1, minlength=len(labels) + 1)  # -1 (unrated) -> 0
    series = pd.Series(counts[1:], index=pd.Index(labels, name="tier"), name="customers")
    if counts[0]:
        series[_UNRATED] = int(counts[0])
    return series


def _book_counts(book: Book) -> list[tuple[str, Any]]:
    columns = book.columns
    return [
        ("customers", book.n_customers),
        ("as_of", _date(book.as_of)),
        ("last_review", _date(book.last_review)),
        ("overrides", int(np.count_nonzero(np.asarray(columns["override_tier"]) >= 0))),
        ("invited", int(np.count_nonzero(columns["invited"]))),
        ("follow_up", int(np.count_nonzero(columns["follow_up"]))),
        ("changes", sum(len(chunk) for chunk in book.changes.chunks)),
        ("events_seen", len(book.event_ids)),
    ]


def book_repr(book: Book) -> str:
    """``Book(customers=..., as_of=..., tiers={...}, ...)``: counts and dates only."""
    counts = _book_counts(book)
    tiers = {str(k): int(v) for k, v in tier_counts(book).items()}
    return short_repr("Book", [*counts[:3], ("tiers", tiers), *counts[3:]])


def book_html(book: Book) -> str:
    """HTML summary of a book: dates, counts, the policy's review cycle, tier counts."""
    facts = [(name.replace("_", " "), value) for name, value in _book_counts(book)]
    if book.next_review is not None:
        facts.insert(3, ("next review due", str(book.next_review)))
    learned = None if book.scorecard is None else book.scorecard.n_customers
    facts.append(("scorecard learned on", "not yet" if learned is None else f"{learned:,}"))
    if len(book.attributes.columns):
        facts.append(("attributes", ", ".join(map(str, book.attributes.columns))))
    counts = tier_counts(book)
    table = counts.to_frame().assign(share=counts / max(book.n_customers, 1))
    return html_block("Book (customer data: book.customers)", facts=facts, tables=[("", table)])


def _result_counts(result: RescoringResult) -> tuple[pd.Series[int], pd.Series[int]]:
    changes = result.changes
    by_rule = changes.groupby(["change", "rule"], dropna=False, observed=True).size()
    by_reason = result.skipped.groupby("reason", dropna=False, observed=True).size()
    return by_rule.rename("changes"), by_reason.rename("events")


def result_repr(result: RescoringResult) -> str:
    """``RescoringResult(customers=..., changes={...}, skipped=...)``: counts only."""
    kinds = result.changes["change"].value_counts(sort=False)
    return short_repr(
        "RescoringResult",
        [
            ("customers", result.book.n_customers),
            ("as_of", _date(result.book.as_of)),
            ("changes", {str(k): int(v) for k, v in kinds.items()}),
            ("skipped", len(result.skipped)),
        ],
    )


def result_html(result: RescoringResult) -> str:
    """HTML summary of one engine call: changes per kind and rule, skipped per reason."""
    by_rule, by_reason = _result_counts(result)
    tables = [("Changes by kind and rule", by_rule.to_frame())]
    if len(by_reason):
        tables.append(("Skipped events by reason", by_reason.to_frame()))
    facts = [
        ("customers in the new book", result.book.n_customers),
        ("as_of", _date(result.book.as_of)),
        ("changes", len(result.changes)),
        ("skipped events", len(result.skipped)),
    ]
    return html_block(
        "RescoringResult (details: result.changes, result.skipped)", facts=facts, tables=tables
    )


def policy_html(policy: RescoringPolicy) -> str:
    """HTML summary of a policy: the engine's settings, the scorecard's weights and tiers."""
    settings = [
        ("time unit", policy.time_unit),
        ("review every (months)", policy.review_months),
        ("relearn normalisation at reviews", policy.refit_on_review),
        ("large transaction re-scores at", policy.large_transaction),
        ("major default", policy.default_adjustment),
        ("strategic signing", policy.signing_adjustment),
        ("VIP invitation at cumulative spend", policy.invitation_spend),
        ("follow-up after months without purchase", policy.follow_up_months),
        ("win-back offer while flagged, every (days)", policy.win_back_days),
        ("retention margin (points)", policy.retention_margin),
        ("reviews below the margin before a downgrade", policy.retention_reviews),
        ("CLV step", policy.clv),
        ("churn step", policy.churn),
    ]
    facts = [(name, "off" if value is None else value) for name, value in settings]
    card = policy.scorecard
    return html_block(
        "RescoringPolicy",
        facts=[(name, v if isinstance(v, str | int | float) else repr(v)) for name, v in facts],
        tables=[("Scorecard weights", card.summary()), ("Tiers", card.tiers.summary())],
    )
