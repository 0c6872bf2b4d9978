"""Backtest the churn early warnings on two books no one tuned for.

    python examples/churn_backtest.py            # CDNOW and make_events(100_000, seed=90417)
    python examples/churn_backtest.py --quick    # make_events with 20,000 customers

1. CDNOW (the full master file that ``lifetimes`` ships: 23,570 customers who first
   bought in the first quarter of 1997, 69,659 purchases to 1998-06-30). It is
   purchase-only, so the signals that need other event kinds are left out of the
   learned model (each with a note) and never fire in the rules.
2. ``make_events(100_000, seed=90417)``: a seed no test uses, scored twice: against
   the documented criterion, as CDNOW, and against the simulation's true churn dates
   (``churn_dates=``), which a real book does not have.

At each cut-off, every method sees only the events up to it; the outcome is churn
by the documented criterion (no purchase for 90 days) 30 to 90 days after the
cut-off. Printed per book: the comparison table (rules, the learned model,
1 - P(alive), warning everyone), the levels, and the lead times of the warned
churners. Needs ``lifetimes`` for CDNOW.
"""

from __future__ import annotations

import argparse

import pandas as pd

import crmscore as cs

COLUMNS = [
    "customers",
    "churners",
    "base_rate",
    "auc",
    "average_precision",
    "brier",
    "precision_at_recall_10",
    "precision_at_recall_25",
    "precision_at_recall_50",
    "warned",
    "precision",
    "recall",
]


def load_cdnow() -> pd.DataFrame:
    """The CDNOW master file as a purchase-only event log."""
    from lifetimes.datasets import load_dataset  # noqa: PLC0415 (optional dependency)

    raw = load_dataset("CDNOW_master.txt", sep=r"\s+")
    raw.columns = ["customer_id", "date", "n_cds", "amount"]
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype("int64"),
            "timestamp": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
            "kind": "purchase",
            "value": raw["amount"].astype("float64"),
        }
    )


def report(name: str, result: cs.ChurnBacktest) -> None:
    """Print the tables of one backtest."""
    print(f"\n=== {name}: cut-offs {', '.join(result.cut_offs)} ===")
    print(result.to_frame()[COLUMNS].round(3).to_string())
    print("\nLevels (precision and recall of churn 30-90 days ahead; too_soon = churned sooner):")
    print(result.levels.round(3).to_string())
    print("\nEach rule's condition alone, and each signal:")
    print(result.by_rule.round(3).to_string())
    print("\nLead time of warned churners (days from the cut-off to the churn day):")
    print(result.lead_times.round(1).to_string())
    model = result.models[-1]
    print("\nLearned model at the last cut-off:")
    for point in model.levels:
        print("  " + point.describe())
    for note in model.left_out:
        print("  left out: " + note)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="skip CDNOW; 20,000 synthetic customers")
    args = p.parse_args()
    pd.set_option("display.width", 200)

    if not args.quick:
        cdnow = load_cdnow()
        result = cs.evaluate_backtest(cdnow, as_of=["1997-09-30", "1997-12-31", "1998-03-31"])
        report("CDNOW (purchase-only)", result)

    book = cs.make_events(20_000 if args.quick else 100_000, seed=90417)
    quarters = ["2024-12-31", "2025-03-31", "2025-06-30", "2025-09-30"]
    name = f"make_events({len(book.customers):,}, seed=90417)"
    report(name, cs.evaluate_backtest(book.events, as_of=quarters))
    truth = cs.evaluate_backtest(
        book.events, as_of=quarters, churn_dates=book.customers["churn_date"]
    )
    report(f"{name}, against the true churn dates", truth)


if __name__ == "__main__":
    main()
