"""Dynamic rescoring: keep a book's scores and tiers current as events arrive.

The engine of the grading policy's dynamic adjustment (动态调整): periodic reviews
(周期性复审), event triggers (事件触发: large transactions, major defaults,
strategic signings), the VIP retention threshold (保级阈值) as hysteresis, appeals
and manual overrides (申诉), automation actions, and an audit trail of every
change. It is pure: a :class:`Book` (the state) goes in, a new book and the changes
come out; no clock, no I/O, so a service stores the book wherever it likes.

- :func:`open_book` starts a book from history; :func:`ingest` applies a batch of
  events; :func:`review` re-scores and re-tiers everyone.
- :func:`set_override` / :func:`clear_override` for appeals and manual decisions;
  :func:`set_attributes` for indicators the service supplies; :func:`explain` for
  the reasons behind a score.
"""

from __future__ import annotations

from crmscore.rescoring._api import (
    clear_override,
    explain,
    ingest,
    open_book,
    review,
    set_attributes,
    set_override,
)
from crmscore.rescoring._book import (
    CHANGE_COLUMNS,
    CUSTOMER_COLUMNS,
    SCHEMA_VERSION,
    Book,
    RescoringResult,
)
from crmscore.rescoring._policy import CLVStage, RescoringPolicy, TierAdjustment

__all__ = [
    "CHANGE_COLUMNS",
    "CUSTOMER_COLUMNS",
    "SCHEMA_VERSION",
    "Book",
    "CLVStage",
    "RescoringPolicy",
    "RescoringResult",
    "TierAdjustment",
    "clear_override",
    "explain",
    "ingest",
    "open_book",
    "review",
    "set_attributes",
    "set_override",
]
