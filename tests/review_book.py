"""A rescoring book on which a review fires every rule, and how to compare two reviews.

Shared by the distributed reviews' tests (Dask and Spark): the book is built so that
every rule of a review fires: what fell due (override expiry, follow-ups, win-back
offers), churn levels moving both ways, the CLV refit, the scorecard's
re-normalisation, upgrades, the retention rule (holds and downgrades), a cap rule
moving a tier down at once, overrides ending at the review, a base tier changing
under an override, and customers rated for the first time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import crmscore as cs
from crmscore.churn import EarlyWarning
from crmscore.rescoring import (
    Book,
    CLVStage,
    RescoringPolicy,
    TierAdjustment,
    ingest,
    open_book,
    review,
    set_override,
)
from crmscore.tiering import Criterion, FixedRange, Indicator, PercentileRank, Scorecard, TierRule

T1 = pd.Timestamp("2025-06-30 23:59:59")  # the book opens
T2 = pd.Timestamp("2025-09-30 23:59:59")  # first quarterly review
LAST = pd.Timestamp("2025-12-10 23:59:59")  # the last batch before the review
T3 = pd.Timestamp("2025-12-30 23:59:59")  # the review under test

#: Rules whose audit rows the review under test must give (each one fires).
EVERY_RULE = {
    "override_expired",  # a manual override with a time limit, due before T3
    "follow_up",
    "win_back",
    "no rule holds",  # churn levels back to none
    "lapsing",  # ... and up
    "review_upgrade",
    "review_downgrade",
    "retention_hold",
    "disputes cap",  # the cap rule moves a tier down at once
    "override_ended_at_review",
    "first_rating",
}


def _policy() -> RescoringPolicy:
    card = Scorecard(
        hierarchy=Criterion(
            name="value",
            weights={"clv": 0.4, "p_alive": 0.2, "total_spend": 0.2, "churn_level": 0.2},
        ),
        indicators=[
            Indicator(name="clv", direction="benefit", normaliser=PercentileRank()),
            Indicator(name="p_alive", direction="benefit", normaliser=FixedRange(low=0, high=1)),
            Indicator(name="total_spend", direction="benefit", normaliser=PercentileRank()),
            Indicator(name="churn_level", direction="cost", normaliser=FixedRange(low=0, high=3)),
        ],
        rules=[
            TierRule(
                name="disputes cap", column="disputes", op=">=", threshold=2, tier="silver",
                kind="cap",
            )
        ],
    )  # fmt: skip
    return RescoringPolicy(
        scorecard=card,
        clv=CLVStage(horizon=12),
        churn=EarlyWarning(),
        large_transaction=1500.0,
        signing_adjustment=TierAdjustment(steps=1, expires_after_days=30),
        win_back_days=7,
    )


def _log(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A synthetic log with defaults, signings and three late newcomers; attributes."""
    data = cs.make_events(n, seed=seed)
    rng = np.random.default_rng(seed)
    ids = data.events["customer_id"].unique()
    extra = [
        pd.DataFrame(
            {"customer_id": rng.choice(ids, 12, replace=False), "timestamp": when, "kind": kind}
        )
        for kind, when in (
            ("default", T2 - pd.Timedelta(days=30)),
            ("strategic_signing", T2 - pd.Timedelta(days=20)),
            ("default", LAST - pd.Timedelta(days=10)),
            ("strategic_signing", LAST - pd.Timedelta(days=25)),
            ("strategic_signing", LAST - pd.Timedelta(days=5)),
        )
    ]
    newcomers = pd.DataFrame(
        {
            "customer_id": [10_001, 10_002, 10_003],
            "timestamp": T2 + pd.Timedelta(days=50),
            "kind": "purchase",
            "value": [20.0, 300.0, 2000.0],
        }
    )
    log = pd.concat([data.events.drop(columns="event_id"), *extra, newcomers], ignore_index=True)
    log = log.assign(kind=log["kind"].astype(str)).sort_values(
        "timestamp", kind="stable", ignore_index=True
    )
    log["event_id"] = [f"e{i}" for i in range(len(log))]
    disputes = rng.integers(0, 4, ids.size).astype(float)
    attributes = pd.DataFrame({"disputes": disputes}, index=pd.Index(ids, name="customer_id"))
    return log[log["timestamp"] <= T3].reset_index(drop=True), attributes


def _between(log: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return log[(log["timestamp"] > start) & (log["timestamp"] <= end)]


def _every_rule_book() -> tuple[Book, pd.DataFrame]:
    """A reviewed book, two months of batches and overrides later; and its log."""
    log, attributes = _log(300, seed=5)
    book = open_book(_policy(), log[log["timestamp"] <= T1], as_of=T1, attributes=attributes).book
    book = ingest(book, _between(log, T1, T2), as_of=T2).book
    book = review(book, log[log["timestamp"] <= T2], as_of=T2).book
    mid = T2 + pd.Timedelta(days=40)
    book = ingest(book, _between(log, T2, mid), as_of=mid).book
    customers = book.customers
    free = customers["tier"].notna() & (customers["override_kind"] == "")
    high = customers.index[free & customers["base_tier"].isin(["Gold", "Diamond"])]
    rated = customers.index[free & ~customers.index.isin(high[-8:])]
    # Disputes cap eight high customers at silver; the last also has a manual override.
    capped = pd.DataFrame({"disputes": 3.0}, index=pd.Index(high[-8:], name="customer_id"))
    book = cs.set_attributes(book, attributes=capped)
    overrides: list[tuple[Any, str, Any]] = [
        (high[-1], "ordinary", None),
        (rated[0], "diamond", "review"),
        (rated[1], "ordinary", T3 - pd.Timedelta(days=3)),
        (rated[2], "gold", None),
    ]
    for who, tier, expires in overrides:
        book = set_override(
            book, customer_id=who, tier=tier, reason="appeal", author="ana", as_of=mid,
            expires=expires,
        ).book  # fmt: skip
    return ingest(book, _between(log, mid, LAST), as_of=LAST).book, log


def _state(book: Book) -> pd.DataFrame:
    """What a service stores per customer: the book's columns and its attributes."""
    return book.to_frame().join(book.attributes)


def _plain(values: pd.Series[Any]) -> list[Any]:
    """Values as Python objects, every missing value as None (strings or objects alike)."""
    return [None if pd.isna(v) else v for v in values.astype(object)]


def _text(values: pd.Series[Any]) -> bool:
    """A column of text: pandas strings, or objects that are all strings or missing."""
    if isinstance(values.dtype, pd.StringDtype):
        return True
    return values.dtype == object and all(isinstance(v, str) for v in values.dropna())


def _sorted_rows(changes: pd.DataFrame) -> pd.DataFrame:
    """Audit rows in one order: partitions give each customer's rows, not the book's order."""
    keyed = changes.assign(_id=changes["customer_id"].astype(str))
    return keyed.sort_values(
        ["_id", "at", "change", "rule", "detail"], kind="stable", ignore_index=True
    ).drop(columns="_id")


def _assert_same_review(
    state: pd.DataFrame, changes: pd.DataFrame, expected: cs.RescoringResult, *, rtol: float
) -> None:
    want = _state(expected.book).sort_index()
    got = state.sort_index()
    assert got.index.equals(want.index)
    assert list(got.columns) == list(want.columns)
    for column in want.columns:
        if _text(want[column]):
            # Dask holds text as strings where pandas 2 holds objects (its
            # "dataframe.convert-string"): the same text, Dask's dtype.
            assert _text(got[column]), column
            assert _plain(got[column]) == _plain(want[column]), column
            continue
        assert got[column].dtype == want[column].dtype, column
        if want[column].dtype.kind == "f":
            np.testing.assert_allclose(got[column], want[column], rtol=rtol, err_msg=column)
        else:
            assert got[column].equals(want[column]), column
    rows, wanted = _sorted_rows(changes), _sorted_rows(expected.changes)
    assert len(rows) == len(wanted)
    for column in wanted.columns:
        if column == "score":
            np.testing.assert_allclose(rows[column], wanted[column], rtol=rtol)
        else:
            assert _plain(rows[column]) == _plain(wanted[column]), column
