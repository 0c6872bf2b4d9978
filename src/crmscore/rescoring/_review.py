"""The review's re-tiering: the retention rule (hysteresis), review-long overrides, audit rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from crmscore.rescoring._book import OVERRIDE_KINDS, Book
from crmscore.rescoring._core import Changes, Columns, TierState

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd


def _retier(
    book: Book,
    *,
    columns: Columns,
    changes: Changes,
    ids: pd.Index[Any],
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
    everyone = np.arange(ids.size)
    state = TierState(columns, everyone)
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

    moved = after != before
    held = below & ~moved_down & ~moved
    # The computed tier changed while an override still decides the shown tier:
    # recorded all the same (an override never hides the computed score).
    hidden = (new_base != base) & ~moved & ~ending & (state.kind > 0)
    who = np.flatnonzero(moved | ending | held | hidden)
    # Words only for the rows recorded (a review records a fraction of the book).
    rule, detail = _words(
        book,
        who=who,
        masks=(unrated, up, moved_down, by_rule, moved, ending, held, hidden),
        fired=fired,
        base=base,
        new_base=new_base,
        kind_before=kind_before,
    )
    changes.add(
        customer_id=np.asarray(ids[who], dtype=object),
        at=as_of.to_datetime64(),
        change=np.where(moved[who], "tier", "review").astype(object),
        before=before[who],
        after=after[who],
        score=score[who],
        rule=rule,
        detail=detail,
    )


def _words(
    book: Book,
    *,
    who: npt.NDArray[np.intp],
    masks: tuple[npt.NDArray[np.bool_], ...],
    fired: npt.NDArray[np.int64],
    base: npt.NDArray[np.int64],
    new_base: npt.NDArray[np.int8],
    kind_before: npt.NDArray[Any],
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Word the ``rule`` and ``detail`` of the audit rows ``who`` (positions in the book)."""
    rules = book.policy.scorecard.rules
    unrated, up, moved_down, by_rule, moved, ending, held, hidden = (m[who] for m in masks)
    fired, base, new_base, kind_before = fired[who], base[who], new_base[who], kind_before[who]
    rule = np.full(who.size, "", dtype=object)
    rule[unrated] = "first_rating"
    rule[up] = "review_upgrade"
    rule[moved_down] = "review_downgrade"
    rule_names = np.asarray([r.name for r in rules] + [""], dtype=object)
    rule[by_rule] = rule_names[fired[by_rule]]
    rule[ending & (rule == "")] = "override_ended_at_review"
    rule[ending & moved & (rule != "override_ended_at_review")] += "+override_ended_at_review"
    detail = np.full(who.size, "", dtype=object)
    detail[held] = "kept by the retention rule"
    rule[held & (rule == "")] = "retention_hold"
    detail[by_rule] = np.asarray(
        [rules[k].describe(book.tiers) if k >= 0 else "" for k in fired[by_rule]], dtype=object
    )
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
    return rule, detail
