"""Reports over time (rescoring/_reports.py) and the tier-share plot.

Oracles: the books kept at each review (snapshots) for everything replayed from the
audit trail, a pandas group-by over the trail for any date, and a four-customer book
computed by hand for revenue, retention and the course figures.
"""

from __future__ import annotations

import functools
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import crmscore as cs
from crmscore import (
    COURSE_FIGURES,
    Book,
    InvalidDataError,
    InvalidParameterError,
    clv_change,
    course_check,
    plot_tier_shares,
    tier_distribution,
    tier_history,
    tier_lists,
    tier_migration,
    tier_outcomes,
)
from crmscore.rescoring import UNRATED

mpl.use("Agg")

QUARTERS = pd.date_range("2024-12-31", "2025-12-31", freq="QE")


def _card() -> cs.Scorecard:
    return cs.Scorecard(
        hierarchy=cs.Criterion(name="value", weights={"total_spend": 0.6, "time_since_last": 0.4}),
        indicators=[
            cs.Indicator(name="total_spend", direction="benefit", normaliser=cs.PercentileRank()),
            cs.Indicator(name="time_since_last", direction="cost", normaliser=cs.PercentileRank()),
        ],
    )


@functools.cache
def _quarterly() -> tuple[Book, dict[pd.Timestamp, pd.Series[Any]], pd.DataFrame]:
    """A book opened at the end of 2024 and reviewed each quarter, with its snapshots."""
    log = cs.make_events(600, seed=11, acquisition_days=540).events
    end_of = {q: q + pd.Timedelta(hours=23, minutes=59) for q in QUARTERS}
    opening = end_of[QUARTERS[0]]
    book = cs.open_book(
        cs.RescoringPolicy(scorecard=_card()), log[log["timestamp"] <= opening], as_of=opening
    ).book
    snapshots = {QUARTERS[0]: book.customers["tier"]}
    for quarter in QUARTERS[1:]:
        end = end_of[quarter]
        batch = log[(log["timestamp"] > book.as_of) & (log["timestamp"] <= end)]
        book = cs.ingest(book, batch, as_of=end).book
        if quarter == QUARTERS[2]:  # an appeal: a manual tier in the middle of the year
            book = cs.set_override(
                book,
                customer_id=book.ids.to_index()[0],
                tier="Diamond",
                as_of=end,
                reason="appeal upheld",
                author="reviewer",
            ).book
        book = cs.review(book, as_of=end).book
        snapshots[quarter] = book.customers["tier"]
    return book, snapshots, log


def test_tier_history_replays_the_snapshots_kept_at_each_review() -> None:
    book, snapshots, _ = _quarterly()
    history = tier_history(book, at=QUARTERS)
    assert list(history.columns) == list(QUARTERS)
    for quarter, snapshot in snapshots.items():
        replayed = history[quarter].astype(str)
        expected = snapshot.reindex(history.index).fillna(UNRATED).astype(str)
        pd.testing.assert_series_equal(replayed, expected, check_names=False)
    # customers who joined during 2025 are unrated at the start of the year
    joined_late = ~history.index.isin(snapshots[QUARTERS[0]].index)
    assert joined_late.any()
    assert (history.loc[joined_late, QUARTERS[0]] == UNRATED).all()


def _reference_tiers(book: Book, day: pd.Timestamp) -> pd.Series[Any]:
    trail = book.history
    rows = trail[(trail["change"] == "tier") & (trail["at"].dt.normalize() <= day)]
    rows = rows.sort_values("at", kind="stable")
    last = rows.groupby("customer_id", sort=False)["after"].last()
    result: pd.Series[Any] = last.reindex(book.ids.to_index()).fillna(UNRATED)
    return result


@given(
    st.dates(
        min_value=pd.Timestamp("2024-06-01").date(), max_value=pd.Timestamp("2026-02-01").date()
    )
)
def test_tier_history_matches_a_group_by_over_the_trail_on_any_day(day: Any) -> None:
    book, _, _ = _quarterly()
    stamp = pd.Timestamp(day)
    replayed = tier_history(book, at=stamp)[stamp].astype(str)
    expected = _reference_tiers(book, stamp).astype(str)
    assert replayed.tolist() == expected.tolist()


def test_distribution_and_migration_agree_with_the_snapshots() -> None:
    book, snapshots, _ = _quarterly()
    counts = tier_distribution(book, at=QUARTERS)
    labels = list(book.tiers.labels())
    assert list(counts.columns) == [*labels, UNRATED]
    assert (counts.sum(axis=1) == book.n_customers).all()
    for quarter, snapshot in snapshots.items():
        expected = snapshot.value_counts().reindex(labels, fill_value=0)
        assert counts.loc[quarter, labels].to_numpy().tolist() == expected.tolist()
    shares = tier_distribution(book, at=QUARTERS, normalize=True)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    zh = tier_distribution(book, at=QUARTERS[:1], language="zh")
    assert list(zh.columns[:4]) == ["普通级", "白银级", "黄金级", "钻石级"]

    start, end = QUARTERS[1], QUARTERS[3]
    matrix = tier_migration(book, start=start, end=end)
    before = snapshots[start]
    after = snapshots[end].loc[before.index]
    order = labels[::-1]
    migrated = pd.crosstab(
        pd.Categorical(before, categories=order), pd.Categorical(after, categories=order),
        dropna=False,
    )  # fmt: skip
    np.testing.assert_array_equal(matrix.loc[order, order].to_numpy(), migrated.to_numpy())
    assert matrix.sum(axis=1).loc[order].tolist() == counts.loc[start, order].to_numpy().tolist()
    rows = tier_migration(book, start=start, end=end, normalize=True).loc[order]
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)


# --- a book small enough to compute by hand -------------------------------------------


def _small(customer_col: str = "customer_id") -> tuple[Book, pd.DataFrame]:
    """Four customers graded on total spend, 0-1000 -> 0-100 points.

    At 2025-01-01 (opening): a 950 (Diamond), b 850 (Gold), c 700 (Silver), d 100
    (Ordinary). In the period to 2025-03-31: a buys 100 and 50, c buys 200, d logs
    in once; nobody joins.
    """
    card = cs.Scorecard(
        hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
        indicators=[
            cs.Indicator(
                name="total_spend",
                direction="benefit",
                normaliser=cs.FixedRange(low=0, high=1000),
            )
        ],
    )
    rows = [
        ("a", "2024-03-01", "purchase", 450.0),
        ("a", "2024-09-01", "purchase", 500.0),
        ("b", "2024-05-01", "purchase", 850.0),
        ("c", "2024-06-01", "purchase", 700.0),
        ("d", "2024-07-01", "purchase", 100.0),
        ("a", "2025-02-01", "purchase", 100.0),
        ("a", "2025-03-01", "purchase", 50.0),
        ("c", "2025-03-15", "purchase", 200.0),
        ("d", "2025-03-20", "interaction", np.nan),
    ]
    log = pd.DataFrame(rows, columns=[customer_col, "timestamp", "kind", "value"])
    log["timestamp"] = pd.to_datetime(log["timestamp"])
    log["event_id"] = np.arange(len(log))
    opening = pd.Timestamp("2025-01-01 12:00")
    policy = cs.RescoringPolicy(scorecard=card)
    before = log[log["timestamp"] <= opening]
    book = cs.open_book(policy, before, as_of=opening, customer_col=customer_col).book
    end = pd.Timestamp("2025-03-31 12:00")
    after = log[log["timestamp"] > opening]
    book = cs.ingest(book, after, as_of=end, customer_col=customer_col).book
    book = cs.review(book, as_of=end).book
    return book, log


def test_tier_outcomes_by_hand() -> None:
    book, log = _small()
    outcomes = tier_outcomes(book, log, start="2025-01-01", end="2025-03-31")
    assert outcomes.index.tolist() == ["Diamond", "Gold", "Silver", "Ordinary", UNRATED, "all"]
    assert outcomes["customers"].tolist() == [1, 1, 1, 1, 0, 4]
    assert outcomes["retained"].tolist() == [1, 0, 1, 0, 0, 2]  # a and c bought
    assert outcomes["revenue"].tolist() == [150.0, 0.0, 200.0, 0.0, 0.0, 350.0]
    np.testing.assert_allclose(outcomes["revenue_share"], [3 / 7, 0, 4 / 7, 0, 0, 1])
    np.testing.assert_allclose(outcomes["churn"].drop(UNRATED), [0, 1, 0, 1, 0.5])
    assert outcomes["retention"].isna().tolist() == [False] * 4 + [True, False]
    # any event keeps a customer: d's login now counts
    anything = tier_outcomes(
        book, log, start="2025-01-01", end="2025-03-31", active_kinds=("purchase", "interaction")
    )
    assert anything.loc["Ordinary", "retained"] == 1
    # the period is (start, end]: on 2025-03-01 a's 50 is out, c's 200 in
    late = tier_outcomes(book, log, start="2025-03-01", end="2025-03-31")
    assert late.loc["all", "revenue"] == 200.0


def test_course_check_by_hand() -> None:
    book, log = _small()
    # after the review at 2025-03-31: a 1100 -> Diamond, c 900 -> Diamond, b Gold, d Ordinary
    assert book.customers["tier"].to_dict() == {
        "a": "Diamond",
        "b": "Gold",
        "c": "Diamond",
        "d": "Ordinary",
    }
    check = course_check(book, log, start="2025-01-01", end="2025-03-31")
    assert check.index.tolist() == list(COURSE_FIGURES)
    measured = check["measured"]
    assert measured["vip_customer_share"] == 0.5  # a and c of four
    assert measured["vip_revenue_share"] == 1.0  # all 350 from a and c
    assert measured["new_customer_share"] == 0.0
    # gaps ending in the period: a 2024-09-01 -> 2025-02-01 (153 days), -> 2025-03-01
    # (28 days); c 2024-06-01 -> 2025-03-15 (287 days)
    assert measured["purchase_cycle_days"] == pytest.approx((153 + 28 + 287) / 3)
    assert measured["vip_churn"] == 0.0  # the Diamond at the start (a) bought
    assert check["reference"].tolist() == [0.12, 0.55, 0.28, 45.0, 0.15]
    np.testing.assert_allclose(check["difference"], check["measured"] - check["reference"])
    gold_too = course_check(
        book, log, start="2025-01-01", end="2025-03-31", vip_tiers=["gold", "Diamond"],
        figures={"vip_churn": 0.10},
    )  # fmt: skip
    assert gold_too.loc["vip_customer_share", "measured"] == 0.75
    assert gold_too.loc["vip_churn", "measured"] == 0.5  # b did not buy
    assert gold_too.loc["vip_churn", "reference"] == 0.10
    with pytest.raises(InvalidParameterError, match="unknown metric"):
        course_check(book, log, start="2025-01-01", end="2025-03-31", figures={"nps": 1.0})


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda b, log: tier_outcomes(b, log, start="2025-03-31", end="2025-03-31"), "after"),
        (lambda b, log: course_check(b, log, start="2025-04-01", end="2025-03-31"), "after"),
        (
            lambda b, log: tier_outcomes(b, log, start="2025-01-01", end="2025-03-31", kind="k"),
            r"unexpected keyword argument\(s\) \['kind'\]",
        ),
        (
            lambda b, log: tier_outcomes(
                b, log, start="2025-01-01", end="2025-03-31", active_kinds=("login",)
            ),
            r"unknown kind\(s\) \['login'\]",
        ),
        (lambda b, _: tier_history(b, at=[]), "no date"),
        (lambda b, _: tier_distribution(b, at="2025-01-01", language="fr"), "language"),
    ],
)
def test_report_parameters_are_checked(call: Any, match: str) -> None:
    book, log = _small()
    with pytest.raises(InvalidParameterError, match=match):
        call(book, log)


def test_clv_change_by_hand() -> None:
    before = pd.Series([100.0, 200.0, 50.0, 10.0], index=["a", "b", "c", "x"])
    after = pd.Series([130.0, 230.0, 40.0, 99.0], index=["a", "b", "c", "y"])
    tiers = pd.Series(["Gold", "Gold", "Silver"], index=["a", "b", "c"])
    result = clv_change(before, after, tiers=tiers)
    assert result.index.tolist() == ["Gold", "Silver", "all"]
    assert result["customers"].tolist() == [2, 1, 3]  # x and y are in one date only
    assert result["clv_before"].tolist() == [300.0, 50.0, 350.0]
    assert result["change"].tolist() == [0.2, -0.2, 0.1429]
    assert result["target_met"].tolist() == [True, False, False]  # +20 % met exactly
    assert clv_change(before, after, target=0.1)["target_met"].tolist() == [True]
    with pytest.raises(InvalidParameterError, match="target"):
        clv_change(before, after, target=float("nan"))


def test_tier_lists_sort_by_group_then_tier_then_score() -> None:
    book, _ = _small()
    owners = pd.Series({"a": "east", "b": "west", "c": "east"}, name="owner")
    lists = tier_lists(book, by=owners)
    assert lists.index.tolist() == ["a", "c", "b", "d"]  # east: a (100 points) before c (90)
    assert lists["owner"].iloc[:3].tolist() == ["east", "east", "west"]
    assert lists["owner"].isna().tolist() == [False, False, False, True]
    assert lists["tier"].tolist() == ["Diamond", "Diamond", "Gold", "Ordinary"]
    assert lists["score"].tolist()[:2] == [100.0, 90.0]
    zh = tier_lists(book, by=owners.rename(None), language="zh")
    assert zh.columns[0] == "group"
    assert zh["tier"].iloc[0] == "钻石级"
    with pytest.raises(InvalidParameterError, match="'by'"):
        tier_lists(book, by=["east"])  # type: ignore[arg-type]


def test_reports_name_customers_after_the_books_customer_col() -> None:
    book, log = _small()
    renamed, renamed_log = _small("member_no")
    history = tier_history(renamed, at=["2025-01-01", "2025-03-31"])
    assert history.index.name == "member_no"
    pd.testing.assert_frame_equal(
        history.rename_axis("customer_id"), tier_history(book, at=["2025-01-01", "2025-03-31"])
    )
    owners = pd.Series({"a": "east", "b": "west", "c": "east"}, name="owner")
    lists = tier_lists(renamed, by=owners)
    assert lists.index.name == "member_no"
    pd.testing.assert_frame_equal(lists.rename_axis("customer_id"), tier_lists(book, by=owners))
    # the events keep the caller's column too: the same outcomes
    pd.testing.assert_frame_equal(
        tier_outcomes(
            renamed, renamed_log, start="2025-01-01", end="2025-03-31", customer_col="member_no"
        ),
        tier_outcomes(book, log, start="2025-01-01", end="2025-03-31"),
    )


def test_a_trail_from_another_scheme_is_rejected() -> None:
    book, _ = _small()
    history = book.history
    trail = history.assign(after=history["after"].where(history["change"] != "tier", "Platinum"))
    other = Book(
        policy=book.policy,
        ids=book.ids,
        columns=book.columns,
        changes=type(book.changes)().add(trail),
    )
    with pytest.raises(InvalidDataError, match=r"\['Platinum'\]"):
        tier_history(other, at="2025-01-01")


# --- the plot --------------------------------------------------------------------------


def test_plot_tier_shares_draws_the_distribution() -> None:
    book, _, _ = _quarterly()
    counts = tier_distribution(book, at=QUARTERS)
    ax = plot_tier_shares(counts)
    try:
        labels = list(book.tiers.labels())
        heights = np.array([bar.get_height() for c in ax.containers for bar in c]).reshape(
            len(labels), -1
        )
        expected = counts[labels].to_numpy(dtype=float).T
        np.testing.assert_allclose(heights, 100 * expected / expected.sum(axis=0))
        legend = ax.get_legend()
        assert legend is not None
        assert [t.get_text() for t in legend.get_texts()] == labels[::-1]
        assert ax.get_xticklabels()[0].get_text() == "2024-12-31"
    finally:
        plt.close("all")
    with pytest.raises(InvalidDataError, match="no customer"):
        plot_tier_shares(pd.DataFrame({"A": [0, 1]}))
    with pytest.raises(InvalidDataError, match="non-negative"):
        plot_tier_shares(pd.DataFrame({"A": [-1, 1]}))
