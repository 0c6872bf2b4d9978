"""Churn early warning: all default signals and rules, and a pandas group-by reference.

    python benchmarks/bench_churn.py                     # 1M customers, ~10M events
    python benchmarks/bench_churn.py --customers 20000   # a quick run

Prints the time and peak memory of ``EarlyWarning().predict`` (the eight policy
signals and the default rules), with and without the ``event_id`` column (target:
de-duplication costs at most 15 %), then times two signals (interaction stop, spend
drop) against a straightforward pandas group-by implementation on the same log,
checks that both give the same values, and prints the ratio (target: at least 1x).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import machine, parser, peak_memory, row, timed

import crmscore as cs

#: About ten events per customer (10.0 at 1M customers): six months, one interaction
#: a month. The target is stated for 1M customers over 10M events.
EVENT_BOOK = {"acquisition_days": 184, "observation_days": 184, "interactions_per_month": 1.0}


def reference(events: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Interaction stop and spend drop with pandas group-bys (the obvious way)."""
    age = (as_of.normalize() - events["timestamp"].dt.normalize()).dt.days
    log = events.assign(age=age)[age >= 0]
    first_event = log.groupby("customer_id")["age"].max()
    activity = log[log["kind"].isin(cs.churn.ACTIVITY_KINDS)]
    last_activity = activity.groupby("customer_id")["age"].min()
    silent = last_activity.reindex(first_event.index).fillna(first_event)

    purchases = log[log["kind"] == "purchase"]
    by_customer = purchases.groupby("customer_id")
    first_purchase = by_customer["age"].max().reindex(first_event.index)
    recent = purchases[purchases["age"] < 90].groupby("customer_id")["value"].sum()
    old = purchases[(purchases["age"] >= 90) & (purchases["age"] < 450)]
    baseline = old.groupby("customer_id")["value"].sum()
    recent = recent.reindex(first_event.index, fill_value=0.0)
    baseline = baseline.reindex(first_event.index, fill_value=0.0)
    days = (first_purchase.clip(upper=449) - 90 + 1).clip(lower=0)
    judged = (days >= 90) & (baseline > 0)
    mean = (baseline * 30 / days).where(judged)
    drop = (1 - (recent / 3) / mean).where(judged)
    return pd.DataFrame({"interaction_stop_value": silent.astype(float), "spend_drop_value": drop})


def main() -> None:
    args = parser(__doc__ or "", customers=1_000_000).parse_args()
    book, generation = timed(lambda: cs.make_events(args.customers, seed=args.seed, **EVENT_BOOK))
    events, as_of = book.events, book.as_of
    print(f"bench_churn: {len(events):,} events, {args.customers:,} customers ({machine()})")
    print(row("make_events", generation))

    warning = cs.EarlyWarning()
    result, full_s = timed(lambda: warning.predict(events, as_of=as_of), repeat=args.repeat)
    full_mb = peak_memory(lambda: warning.predict(events, as_of=as_of))
    print(row("EarlyWarning().predict (8 signals, rules)", full_s, full_mb))
    counts = result["level"].value_counts().reindex(list(cs.churn.LEVELS))
    print("  levels: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    target = "met" if full_s < 10 else "NOT met"
    print(f"  target under 10 s for 1M customers / 10M events: {target} at this size")

    # De-duplication by event id must cost little: the same log without the column.
    no_ids = events.drop(columns="event_id")
    _, plain_s = timed(lambda: warning.predict(no_ids, as_of=as_of), repeat=args.repeat)
    print(row("EarlyWarning().predict without event_id", plain_s))
    ratio = full_s / plain_s
    verdict = "met" if ratio <= 1.15 else "NOT met"
    print(f"  with event ids {ratio:.2f}x the time without (target <= 1.15x: {verdict})")

    two = cs.EarlyWarning(signals=(cs.InteractionStop(), cs.SpendDrop()), rules=())
    ours, ours_s = timed(lambda: two.predict(events, as_of=as_of), repeat=args.repeat)
    print(
        row(
            "crmscore: interaction stop + spend drop",
            ours_s,
            peak_memory(lambda: two.predict(events, as_of=as_of)),
        )
    )
    ref, ref_s = timed(lambda: reference(events, as_of))
    print(
        row(
            "pandas group-by: the same two signals",
            ref_s,
            peak_memory(lambda: reference(events, as_of)),
        )
    )
    for column in ("interaction_stop_value", "spend_drop_value"):
        np.testing.assert_allclose(
            ours[column].to_numpy(), ref[column].to_numpy(), rtol=1e-9, equal_nan=True
        )
    verdict = "met" if ours_s <= ref_s else "NOT met"
    print(
        f"  identical values; crmscore is {ref_s / ours_s:.2f}x as fast on these two signals "
        f"(target >= 1x: {verdict})"
    )


if __name__ == "__main__":
    main()
