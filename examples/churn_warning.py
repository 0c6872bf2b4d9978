"""Churn early warning on a synthetic event log: levels, explanations, actions, evaluation.

Run it with ``python examples/churn_warning.py``. Everything is generated in memory
from a fixed seed, so the output is the same on every machine.
"""

from __future__ import annotations

import pandas as pd

import crmscore as cs


def main() -> None:
    # 1. A seeded event log of 20,000 customers whose churners change behaviour
    #    before they leave; the true churn dates come with it.
    book = cs.make_events(20_000, seed=2026)
    as_of = pd.Timestamp("2025-09-30")
    print(f"{len(book.events):,} events from {len(book.customers):,} customers\n")

    # 2. The eight policy signals, the purchase lapse and the default rules, as of one date.
    warning = cs.EarlyWarning()
    warnings = warning.predict(book.events, as_of=as_of)
    counts = warnings["level"].value_counts().reindex(list(cs.churn.LEVELS))
    print(f"Warnings as of {as_of.date()} (customers with any event so far):")
    print(counts.to_string())

    # 3. Why: one explained customer per level.
    print("\nExplained customers:")
    for level in ("red", "yellow", "blue"):
        customer = warnings.index[warnings["level"] == level][0]
        print(f"  {customer}: {warning.explain(warnings, customers=[customer]).iloc[0]}")

    # 4. What to do: the response depends on the tier. Here the tiers come from
    #    spend quartiles, labelled like the tier column of a scorecard's result
    #    ("Ordinary" .. "Diamond"; the Chinese labels "普通级" .. "钻石级" work too).
    spend = cs.rfm_table(
        book.events[book.events["kind"] == "purchase"].rename(columns={"value": "amount"}),
        as_of=as_of,
    )["total_spend"]
    tiers = pd.qcut(spend, 4, labels=list(cs.POLICY_TIERS.labels("en")))
    actions = cs.DEFAULT_ACTIONS.recommend(warnings, tiers=tiers)
    print("\nMost frequent recommended actions:")
    print(actions.value_counts().head(5).to_string())

    # 5. How good: scored against the true churn dates of the next 90 days.
    truth = book.customers["churn_date"]
    scored = cs.evaluate_warnings(warnings, churn_dates=truth, horizon_days=90, min_lead_days=30)
    columns = [
        "warned",
        "churned",
        "precision",
        "precision_at_lead",
        "recall",
        "recall_at_lead",
        "median_lead_days",
    ]
    print(f"\nEvaluation (churn within 90 days; {scored['churners'].iloc[0]:,} churners among")
    print(f"{scored['customers'].iloc[0]:,} customers still there):")
    print(scored[columns].round(3).to_string())

    # 6. A backtest over four quarter ends, against the policy target.
    dates = ["2024-12-31", "2025-03-31", "2025-06-30", "2025-09-30"]
    result = cs.backtest(book.events, churn_dates=truth, as_of_dates=dates)
    totals = result.groupby(level="level").sum()
    precision = totals["churned"] / totals["warned"]
    at_lead = totals["churned_after_lead"] / totals["warned"]
    recall_at_lead = totals["churned_after_lead"] / totals["churners_after_lead"]
    levels = ["blue", "yellow", "red", "any"]
    print("\nBacktest over four quarter ends: precision by level (any lead / 30 days' lead)")
    print(pd.DataFrame({"precision": precision, "at_30_days": at_lead}).reindex(levels).round(3))
    print(
        f"Policy target: flag churn 30 days ahead with 85 % accuracy. Red warnings are right "
        f"with 30 days to spare {at_lead['red']:.0%} of the time; all warnings together flag "
        f"{recall_at_lead['any']:.0%} of the churners at least 30 days ahead, at "
        f"{at_lead['any']:.0%} precision at that lead."
    )


if __name__ == "__main__":
    main()
