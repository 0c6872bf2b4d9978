"""A year of a rescoring service: daily event batches, quarterly reviews, an audit trail.

Run it with ``python examples/rescoring_service.py``. A synthetic book is opened on
its 2024 history; then every day of 2025 the day's events are ingested, as a
service consuming a queue would, and the book is reviewed each quarter. The
output shows tier migrations between reviews, what moved tiers, and a few audit
records an appeal would start from.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

import crmscore as cs
from crmscore.tiering import Criterion, Indicator, PercentileRank, Scorecard


def policy() -> cs.RescoringPolicy:
    """Value = 50 % spend, 30 % recency, 20 % repeat purchases, percentile-normalised."""
    card = Scorecard(
        hierarchy=Criterion(
            name="value", weights={"total_spend": 0.5, "time_since_last": 0.3, "frequency": 0.2}
        ),
        indicators=[
            Indicator(name="total_spend", direction="benefit", normaliser=PercentileRank()),
            Indicator(name="time_since_last", direction="cost", normaliser=PercentileRank()),
            Indicator(name="frequency", direction="benefit", normaliser=PercentileRank()),
        ],
    )
    # Policy defaults: quarterly reviews, Gold for 180 days on a strategic signing,
    # one tier down on a major default until the review, retention margin 5 points
    # over 2 reviews, VIP invitation at 1,000 spent, follow-up after 6 months.
    return cs.RescoringPolicy(scorecard=card, large_transaction=2_000.0)


def with_defaults_and_signings(events: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Add a few major defaults and strategic signings to the synthetic log."""
    rng = np.random.default_rng(seed)
    buyers = events.loc[events["kind"] == "purchase"]
    picked = buyers.sample(60, random_state=seed)
    extra = pd.DataFrame(
        {
            "customer_id": picked["customer_id"].to_numpy(),
            "timestamp": picked["timestamp"].to_numpy() + pd.Timedelta(hours=1),
            "kind": rng.choice(["default", "strategic_signing"], len(picked)),
            "value": np.nan,
            "event_id": [f"x{i}" for i in range(len(picked))],
        }
    )
    log = pd.concat([events.assign(event_id=events["event_id"].astype(str)), extra])
    return log.sort_values("timestamp", kind="stable", ignore_index=True)


def main() -> None:
    data = cs.make_events(8_000, seed=2026)
    log = with_defaults_and_signings(data.events, seed=2026)
    opening = pd.Timestamp("2024-12-31 23:59:59")
    opened = cs.open_book(policy(), log[log["timestamp"] <= opening], as_of=opening)
    book = opened.book
    print(f"Opened a book of {book.n_customers:,} customers on {opening.date()}; tiers:")
    print(book.customers["tier"].value_counts().reindex(book.tiers.labels()).to_string())

    snapshots = {opening.date(): book.customers["tier"]}
    changes = [opened.changes]
    for day in pd.date_range("2025-01-01", "2025-12-31", freq="D"):
        end = day + pd.Timedelta(hours=23, minutes=59, seconds=59)
        todays = log[(log["timestamp"] > end - pd.Timedelta(days=1)) & (log["timestamp"] <= end)]
        result = cs.ingest(book, todays, as_of=end)  # the day's batch from the queue
        book = result.book
        changes.append(result.changes)
        if book.due_for_review(end):  # quarterly (周期性复审)
            reviewed = cs.review(book, as_of=end)
            book = reviewed.book
            changes.append(reviewed.changes)
            snapshots[end.date()] = book.customers["tier"]

    trail = pd.concat(changes, ignore_index=True)
    print(f"\n{len(trail):,} audit records since the book opened. Tier changes by rule:")
    moved = trail[(trail["change"] == "tier") & (trail["before"] != trail["after"])]
    print(moved["rule"].value_counts().to_string())
    print("\nActions raised:")
    print(trail.loc[trail["change"] == "action", "rule"].value_counts().to_string())

    dates = list(snapshots)
    labels = list(book.tiers.labels())
    for before, after in itertools.pairwise(dates):
        common = snapshots[before].index.intersection(snapshots[after].index)
        matrix = pd.crosstab(
            pd.Categorical(snapshots[before].loc[common], categories=labels),
            pd.Categorical(snapshots[after].loc[common], categories=labels),
            rownames=[str(before)],
            colnames=[str(after)],
            dropna=False,
        )
        print(f"\nTier migration {before} -> {after} (rows: before, columns: after):")
        print(matrix.to_string())

    print("\nA few audit records (what an appeal starts from):")
    sample = pd.concat(
        [
            trail[trail["rule"] == rule].head(1)
            for rule in ("default", "strategic_signing", "large_transaction", "review_downgrade")
        ]
    )
    print(
        sample[["customer_id", "at", "rule", "before", "after", "score", "event_ids"]].to_string(
            index=False, float_format="{:.1f}".format
        )
    )
    who = sample["customer_id"].iloc[0]
    print(f"\nWhy customer {who} scores what it does now:")
    print(cs.explain(book, customer_ids=[who]).T.to_string())


if __name__ == "__main__":
    main()
