"""Audit rows of the rule-based churn step: every level a review moves, in words."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from crmscore.churn import LEVELS, AllOf, EarlyWarning, Fired, InteractionStop, PurchaseLapse, Rule
from crmscore.rescoring import Book, RescoringPolicy, ingest, open_book, review
from crmscore.tiering import Criterion, FixedRange, Indicator, PercentileRank, Scorecard

# Blue after 30 to 60 days without a purchase; red if there is no interaction for 20
# days too; none otherwise.
WARNING = EarlyWarning(
    signals=(PurchaseLapse(), InteractionStop(days=20, kinds=("interaction",))),
    rules=(
        Rule(name="lapsing", level="blue", when=Fired(name="purchase_lapse")),
        Rule(
            name="lapsed_and_silent",
            level="red",
            when=AllOf(of=(Fired(name="purchase_lapse"), Fired(name="interaction_stop"))),
        ),
    ),
)
CARD = Scorecard(
    hierarchy=Criterion(name="value", weights={"total_spend": 0.6, "churn_level": 0.4}),
    indicators=[
        Indicator(name="total_spend", direction="benefit", normaliser=PercentileRank()),
        Indicator(name="churn_level", direction="cost", normaliser=FixedRange(low=0, high=3)),
    ],
)
POLICY = RescoringPolicy(scorecard=CARD, churn=WARNING)
START = pd.Timestamp("2024-01-01")


def day(n: int) -> pd.Timestamp:
    return START + pd.Timedelta(days=n)


def log(rows: list[tuple[str, int, str, float]]) -> pd.DataFrame:
    """Events (customer, day, kind, value), event ids in order, sorted by time."""
    frame = pd.DataFrame(rows, columns=["customer_id", "day", "kind", "value"])
    frame = frame.sort_values("day", kind="stable").reset_index(drop=True)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "timestamp": START + pd.to_timedelta(frame["day"], unit="D"),
            "kind": frame["kind"],
            "value": frame["value"],
            "event_id": [f"e{k}" for k in range(len(frame))],
        }
    )


def churn_rows(changes: pd.DataFrame) -> list[list[object]]:
    """The churn_level rows (customer, before, after, rule, detail) by customer."""
    rows = changes[changes["change"] == "churn_level"]
    columns = rows[["customer_id", "before", "after", "rule", "detail"]]
    table: list[list[object]] = columns.sort_values("customer_id").to_numpy().tolist()
    return table


EVENTS = log(
    [
        ("a", 0, "purchase", 50.0),
        ("a", 30, "interaction", np.nan),
        ("b", 0, "purchase", 80.0),
        ("b", 34, "interaction", np.nan),
        ("b", 50, "purchase", 20.0),
        ("c", 30, "purchase", 40.0),
        ("c", 54, "interaction", np.nan),
    ]
)


def test_levels_up_and_down_at_three_reviews_write_these_rows() -> None:
    """Hand-computed: a none -> blue -> red -> none, b none -> blue -> none, c none -> blue."""
    first = open_book(POLICY, EVENTS[EVENTS["timestamp"] <= day(35)], as_of=day(35)).book
    rows = churn_rows(first.history)
    assert rows == [
        [
            "a",
            "none",
            "blue",
            "lapsing",
            (
                "blue (rule 'lapsing'): no purchase for 35 days (the 90-day churn criterion "
                "is met in 55 days)"
            ),
        ],
        [
            "b",
            "none",
            "blue",
            "lapsing",
            (
                "blue (rule 'lapsing'): no purchase for 35 days (the 90-day churn criterion "
                "is met in 55 days)"
            ),
        ],
    ]
    later = EVENTS[EVENTS["timestamp"] > day(35)]
    fed = ingest(first, later, as_of=day(55)).book
    second = review(fed, EVENTS, as_of=day(55))
    assert churn_rows(second.changes) == [
        [
            "a",
            "blue",
            "red",
            "lapsed_and_silent",
            (
                "red (rule 'lapsed_and_silent'): no purchase for 55 days (the 90-day churn "
                "criterion is met in 35 days); no interaction for 25 days"
            ),
        ],
        ["b", "blue", "none", "no rule holds", "none: no interaction for 21 days"],
    ]
    third = review(second.book, EVENTS, as_of=day(70))
    assert churn_rows(third.changes) == [
        ["a", "red", "none", "no rule holds", "none: no interaction for 40 days"],
        [
            "c",
            "none",
            "blue",
            "lapsing",
            (
                "blue (rule 'lapsing'): no purchase for 40 days (the 90-day churn criterion "
                "is met in 50 days)"
            ),
        ],
    ]
    levels = third.book.customers["churn_level"].to_dict()
    assert levels == {"a": 0, "b": 0, "c": 1}
    # Replay: the same review again moves no level, so writes no row.
    assert churn_rows(review(third.book, EVENTS, as_of=day(70)).changes) == []
    # A customer the review's events no longer mention falls to none, in words.
    fourth = review(third.book, EVENTS[EVENTS["customer_id"] != "a"], as_of=day(70))
    assert churn_rows(fourth.changes) == []  # a is at none already
    back = review(second.book, EVENTS[EVENTS["customer_id"] != "a"], as_of=day(56))
    assert churn_rows(back.changes) == [
        ["a", "red", "none", "no rule holds", "none: no events"],
    ]
    # The rows survive the book's JSON round trip.
    restored = Book.from_dict(json.loads(json.dumps(third.book.to_dict())))
    pd.testing.assert_frame_equal(restored.history, third.book.history)


def test_the_rows_do_not_depend_on_how_the_events_were_batched() -> None:
    first = open_book(POLICY, EVENTS[EVENTS["timestamp"] <= day(35)], as_of=day(35)).book
    later = EVENTS[EVENTS["timestamp"] > day(35)]
    whole = ingest(first, later, as_of=day(55)).book
    parts = ingest(first, later.iloc[:1], as_of=day(50)).book
    parts = ingest(parts, later.iloc[1:], as_of=day(55)).book
    one = review(whole, EVENTS, as_of=day(55)).book
    two = review(parts, EVENTS, as_of=day(55)).book
    pd.testing.assert_frame_equal(one.history, two.history)
    assert len(churn_rows(one.history)) == 4


KINDS = ("purchase", "interaction")


@settings(max_examples=10, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["p", "q", "r", "s"]),
            st.integers(0, 120),
            st.sampled_from(KINDS),
            st.integers(1, 9),
        ),
        min_size=1,
        max_size=25,
    ),
    gaps=st.lists(st.integers(1, 40), min_size=2, max_size=4),
)
def test_every_level_a_review_moves_has_exactly_one_row(
    events: list[tuple[str, int, str, int]], gaps: list[int]
) -> None:
    """Between consecutive books, each churn_level difference is one audit row, no more."""
    events = list(events)  # not the drawn list itself
    first = min(range(len(events)), key=lambda k: events[k][1])
    events[first] = (events[first][0], events[first][1], "purchase", 1)  # a book opens on one
    history = log([(c, d, k, float(v) if k == "purchase" else np.nan) for c, d, k, v in events])
    opening = 30 + events[first][1]
    dates = [day(opening + int(g)) for g in np.cumsum([0, *gaps])]
    book = open_book(POLICY, history[history["timestamp"] <= dates[0]], as_of=dates[0]).book
    previous = pd.Series(0, index=book.customers.index, dtype=np.int8)  # all start at none
    changes = book.history
    for at, following in zip(dates, [*dates[1:], None], strict=True):
        levels = book.customers["churn_level"]
        moved = levels.index[levels != previous.reindex(levels.index, fill_value=0)]
        rows = changes[changes["change"] == "churn_level"].set_index("customer_id")
        assert sorted(rows.index) == sorted(moved)  # one row each, no other
        assert rows["before"].tolist() == [LEVELS[previous.get(c, 0)] for c in rows.index]
        assert rows["after"].tolist() == [LEVELS[levels[c]] for c in rows.index]
        expected = WARNING.predict(history, as_of=at)
        measured = rows.index.isin(expected.index)
        named = expected.reindex(rows.index[measured])["rule"].astype(object)
        assert rows["rule"][measured].tolist() == named.fillna("no rule holds").tolist()
        words = WARNING.explain(expected, customers=list(rows.index[measured]))
        assert rows["detail"][measured].tolist() == words.tolist()
        assert (rows["detail"][~measured] == "none: no events").all()
        if following is None:
            break
        previous = levels
        fresh = history[(history["timestamp"] > at) & (history["timestamp"] <= following)]
        if len(fresh):
            book = ingest(book, fresh, as_of=following).book
        result = review(book, history, as_of=following)
        book, changes = result.book, result.changes
    # Replay idempotence: the last review again writes no row.
    assert not (review(book, history, as_of=dates[-1]).changes["change"] == "churn_level").any()
