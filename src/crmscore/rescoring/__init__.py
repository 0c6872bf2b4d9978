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
- Reports over time, replayed from the audit trail: :func:`tier_history`,
  :func:`tier_distribution` (per quarter), :func:`tier_migration` (between two
  dates), :func:`tier_outcomes` (revenue share, retention and churn per tier),
  :func:`course_check` (the training course's figures), :func:`clv_change` (the
  +20 % CLV target) and :func:`tier_lists` (per department or owner).
- :func:`action_plan`: the dated actions per customer for a period (VIP invitations,
  follow-ups, weekly win-back offers, quarterly wake-ups; :class:`ActionSchedule`),
  with contact-frequency caps, for a service to execute.
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
from crmscore.rescoring._plan import (
    DEFAULT_SCHEDULES,
    WEEKDAYS,
    ActionSchedule,
    Audience,
    Cadence,
    action_plan,
)
from crmscore.rescoring._policy import CLVStage, RescoringPolicy, TierAdjustment
from crmscore.rescoring._reports import (
    CLV_TARGET,
    COURSE_FIGURES,
    UNRATED,
    clv_change,
    course_check,
    tier_distribution,
    tier_history,
    tier_lists,
    tier_migration,
    tier_outcomes,
)

__all__ = [
    "CHANGE_COLUMNS",
    "CLV_TARGET",
    "COURSE_FIGURES",
    "CUSTOMER_COLUMNS",
    "DEFAULT_SCHEDULES",
    "SCHEMA_VERSION",
    "UNRATED",
    "WEEKDAYS",
    "ActionSchedule",
    "Audience",
    "Book",
    "CLVStage",
    "Cadence",
    "RescoringPolicy",
    "RescoringResult",
    "TierAdjustment",
    "action_plan",
    "clear_override",
    "clv_change",
    "course_check",
    "explain",
    "ingest",
    "open_book",
    "review",
    "set_attributes",
    "set_override",
    "tier_distribution",
    "tier_history",
    "tier_lists",
    "tier_migration",
    "tier_outcomes",
]
