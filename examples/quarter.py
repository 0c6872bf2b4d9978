"""A quarter of customer management, end to end, on a synthetic book.

Run it with ``python examples/quarter.py``. A book is opened on the history to
2025-06-30; the third quarter's events are ingested week by week and the book is
reviewed at the quarter's end. Then: the quarter's reports (tier distribution,
migration, outcomes per tier, the training course's figures, tier lists per account
manager), an A/B comparison of two tier schemes run on the two halves of the book,
weights learned from the quarter's outcome beside the AHP judgments, CLV change
against the course's +20 % target, and the action plan for the next quarter.
Everything is computed in memory from a fixed seed.
"""

from __future__ import annotations

import pandas as pd

import crmscore as cs

OPENING = pd.Timestamp("2025-06-30 23:59:59")
QUARTER_END = pd.Timestamp("2025-09-30 23:59:59")
PERCENT = "{:.1%}".format


def policy() -> tuple[cs.RescoringPolicy, cs.PairwiseMatrix]:
    """Value: spend, recency and repeat purchases, weighted by AHP judgments."""
    judgments = cs.PairwiseMatrix.from_judgments(
        {
            ("total_spend", "time_since_last"): 2,
            ("total_spend", "frequency"): 3,
            ("time_since_last", "frequency"): 2,
        }
    )
    card = cs.Scorecard(
        hierarchy=cs.Criterion(name="value", weights=judgments),
        indicators=[
            cs.Indicator(name="total_spend", direction="benefit", normaliser=cs.PercentileRank()),
            cs.Indicator(name="time_since_last", direction="cost", normaliser=cs.PercentileRank()),
            cs.Indicator(name="frequency", direction="benefit", normaliser=cs.PercentileRank()),
        ],
    )
    return cs.RescoringPolicy(scorecard=card), judgments


def run_quarter(log: pd.DataFrame) -> cs.Book:
    """Open the book at the quarter's start, ingest weekly batches, review at its end."""
    rules, _ = policy()
    book = cs.open_book(rules, log[log["timestamp"] <= OPENING], as_of=OPENING).book
    weeks = [*pd.date_range(OPENING, QUARTER_END, freq="7D")[1:], QUARTER_END]
    for end in weeks:
        batch = log[(log["timestamp"] > book.as_of) & (log["timestamp"] <= end)]
        book = cs.ingest(book, batch, as_of=end).book
    if book.due_for_review(QUARTER_END):
        book = cs.review(book, as_of=QUARTER_END).book
    return book


def reports(book: cs.Book, log: pd.DataFrame) -> None:
    print("Tier distribution (customers):")
    print(cs.tier_distribution(book, at=[OPENING, QUARTER_END]).to_string())
    print("\nTier migration over the quarter (rows: start, columns: end):")
    print(cs.tier_migration(book, start=OPENING, end=QUARTER_END).to_string())
    outcomes = cs.tier_outcomes(book, log, start=OPENING, end=QUARTER_END)
    print("\nOutcomes per tier at the start of the quarter:")
    print(
        outcomes[["customers", "retention", "churn", "revenue_share"]].to_string(
            formatters={"retention": PERCENT, "churn": PERCENT, "revenue_share": PERCENT}
        )
    )
    print("\nThe training course's figures, measured:")
    print(cs.course_check(book, log, start=OPENING, end=QUARTER_END).round(3).to_string())
    managers = cs.assign_arms(book.ids.to_index(), arms=["Li", "Wang", "Zhao"], seed=11)
    lists = cs.tier_lists(book, by=managers.rename("manager"))
    top = lists[lists["tier"] == "Diamond"].groupby("manager", observed=True).size()
    print(f"\nDiamond customers per account manager: {top.to_dict()}")


def ab_comparison(book: cs.Book, log: pd.DataFrame) -> None:
    """Scheme A: the scorecard's tiers; scheme B: membership levels by rules."""
    at_start = cs.event_indicators(log, as_of=OPENING)
    at_end = cs.event_indicators(log, as_of=QUARTER_END)
    tiers = cs.tier_history(book, at=[OPENING, QUARTER_END])
    customers = at_start.index.intersection(tiers.index)
    arms = cs.assign_arms(customers, arms=["scorecard", "membership"], seed=3)
    levels = cs.membership_levels()
    result = cs.compare_schemes(
        log,
        arms=arms,
        tiers={
            "scorecard": tiers[OPENING.normalize()].astype(str),
            "membership": levels.score(at_start)["tier_key"].astype(str),
        },
        later_tiers={
            "scorecard": tiers[QUARTER_END.normalize()].astype(str),
            "membership": levels.score(at_end)["tier_key"].reindex(customers).astype(str),
        },
        high_value={"scorecard": ["Diamond", "Gold"], "membership": ["platinum", "gold"]},
        start=OPENING,
        end=QUARTER_END,
        n_resamples=1_000,
        seed=4,
    )
    print("\nA/B comparison of two tier schemes (control: the scorecard):")
    print(
        result.arms[["customers", "high_value", "retention", "revenue_per_customer", "stability"]]
        .round(3)
        .to_string()
    )
    print(result.tests[["difference", "low", "high", "p_value"]].round(3).to_string())


def learned_weights(book: cs.Book, log: pd.DataFrame) -> None:
    """Which weights would have told this quarter's buyers from the others?"""
    _, judgments = policy()
    bought = log[log["kind"] == "purchase"].rename(columns={"value": "amount"})
    history = bought[bought["timestamp"] <= OPENING]
    table = cs.rfm_table(history[["customer_id", "timestamp", "amount"]], as_of=OPENING)
    in_quarter = bought[(bought["timestamp"] > OPENING) & (bought["timestamp"] <= QUARTER_END)]
    outcome = pd.Series(table.index.isin(in_quarter["customer_id"]), index=table.index)
    fitted = book.policy.scorecard.fit(table)
    suggestion = cs.learn_weights(
        fitted, table, outcome.rename("bought again"), judgments=judgments
    )
    print("\nWeights learned from the quarter's buyers, beside the AHP weights:")
    print(suggestion.summary().round(3).to_string())
    print(
        f"AUC {suggestion.auc:.3f} learned vs {suggestion.current_auc:.3f} in use; "
        f"judgments the data reverse: {[j[:2] for j in suggestion.contradicted]}"
    )


def clv_over_the_quarter(book: cs.Book, log: pd.DataFrame) -> None:
    """Twelve-month CLV at both ends of the quarter, against the course's +20 %."""
    bought = log[log["kind"] == "purchase"].rename(columns={"value": "amount"})
    values = {}
    for when in (OPENING, QUARTER_END):
        history = bought.loc[bought["timestamp"] <= when, ["customer_id", "timestamp", "amount"]]
        table = cs.rfm_table(history, as_of=when)
        values[when] = cs.customer_lifetime_value(
            table,
            purchase_model=cs.BetaGeoFitter().fit(table),
            spend_model=cs.GammaGammaFitter().fit(table),
            horizon=12,
            discount_rate=0.01,
        )
    tiers = cs.tier_history(book, at=OPENING)[OPENING.normalize()]
    change = cs.clv_change(values[OPENING], values[QUARTER_END], tiers=tiers)
    print("\nTwelve-month CLV by tier at the start, against the +20 % target:")
    money = "{:,.0f}".format
    print(
        change.to_string(
            formatters={
                "clv_before": money,
                "clv_after": money,
                "change": PERCENT,
                "target": PERCENT,
            }
        )
    )


def next_quarter_plan(book: cs.Book) -> None:
    plan = cs.action_plan(
        book, start="2025-10-01", end="2025-12-31", max_contacts=2, cap_days=7, language="zh"
    )
    print(
        f"\nAction plan for the fourth quarter: {len(plan):,} actions for "
        f"{plan['customer_id'].nunique():,} customers ({plan.attrs['capped']:,} removed by the "
        "cap of 2 contacts a week):"
    )
    print(plan.groupby("label").size().to_string())
    print(plan.head().to_string(index=False))


def main() -> None:
    log = cs.make_events(4_000, seed=2026).events
    book = run_quarter(log)
    print(f"{book.n_customers:,} customers, reviewed {book.last_review}\n")
    reports(book, log)
    ab_comparison(book, log)
    learned_weights(book, log)
    clv_over_the_quarter(book, log)
    next_quarter_plan(book)


if __name__ == "__main__":
    main()
