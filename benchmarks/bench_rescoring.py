"""The rescoring engine on a large book: batch latency, a full review, and from scratch.

    python benchmarks/bench_rescoring.py                     # 1M customers
    python benchmarks/bench_rescoring.py --customers 20000   # a quick run

A synthetic book is opened on its history up to a cut-off date; the following
events are then ingested in batches of ``--batch`` events (time order, with a few
defaults and strategic signings mixed in), and the book is reviewed. The policy
chains RFM, CLV (BG/NBD and Gamma-Gamma refitted at reviews) and a scorecard. For
scale, the same scores are recomputed from scratch: ``rfm_table`` on the whole
log, both CLV fits, fitting the scorecard and scoring everyone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import book, machine, parser, peak_memory, row, timed

import crmscore as cs
from crmscore.rescoring import CLVStage, RescoringPolicy, ingest, open_book, review
from crmscore.tiering import Criterion, Indicator, PercentileRank, Scorecard


def scorecard(*, clv: bool) -> Scorecard:
    weights = {"clv": 0.4, "total_spend": 0.3, "time_since_last": 0.2, "frequency": 0.1}
    indicators = [
        Indicator(name="clv", direction="benefit", normaliser=PercentileRank()),
        Indicator(name="total_spend", direction="benefit", normaliser=PercentileRank()),
        Indicator(name="time_since_last", direction="cost", normaliser=PercentileRank()),
        Indicator(name="frequency", direction="benefit", normaliser=PercentileRank()),
    ]
    if not clv:
        weights = {"total_spend": 0.5, "time_since_last": 0.3, "frequency": 0.2}
        indicators = indicators[1:]
    return Scorecard(hierarchy=Criterion(name="value", weights=weights), indicators=indicators)


def event_log(data: cs.SyntheticBook, seed: int) -> pd.DataFrame:
    """Purchases of the synthetic book, plus 0.1 % defaults and signings, with ids."""
    tx = data.transactions
    rng = np.random.default_rng(seed)
    extra = max(len(tx) // 1000, 1)
    others = pd.DataFrame(
        {
            "customer_id": rng.choice(tx["customer_id"].to_numpy(), extra),
            "timestamp": tx["timestamp"].sample(extra, random_state=seed).to_numpy(),
            "kind": rng.choice(["default", "strategic_signing"], extra),
            "value": np.nan,
        }
    )
    purchases = tx.rename(columns={"amount": "value"}).assign(kind="purchase")
    log = pd.concat([purchases, others], ignore_index=True)
    log = log.sort_values("timestamp", kind="stable", ignore_index=True)
    return log.assign(event_id=np.arange(len(log)).astype(str))


def main() -> None:
    p = parser(__doc__ or "", customers=1_000_000)
    p.add_argument("--batch", type=int, default=10_000, help="events per ingested batch")
    p.add_argument("--batches", type=int, default=20, help="batches to time")
    p.add_argument(
        "--no-clv", action="store_true", help="a scorecard on RFM columns only, no CLV step"
    )
    args = p.parse_args()
    with_clv = not args.no_clv
    data = book(args.customers, args.seed)
    log = event_log(data, args.seed)
    cut = data.as_of - pd.Timedelta(days=120)
    history, stream = log[log["timestamp"] <= cut], log[log["timestamp"] > cut]
    policy = RescoringPolicy(
        scorecard=scorecard(clv=with_clv), clv=CLVStage() if with_clv else None
    )
    print(
        f"bench_rescoring: {args.customers:,} customers, {len(history):,} historical events, "
        f"batches of {args.batch:,}, {'with' if with_clv else 'without'} the CLV step "
        f"({machine()})"
    )

    opened, open_s = timed(lambda: open_book(policy, history, as_of=cut))
    state = opened.book
    print(row(f"open_book (ingest history + first review, {state.n_customers:,})", open_s))

    latencies = []
    for number in range(args.batches):
        batch = stream.iloc[number * args.batch : (number + 1) * args.batch]
        if batch.empty:
            break
        as_of = batch["timestamp"].max()
        result, seconds = timed(lambda s=state, b=batch, a=as_of: ingest(s, b, as_of=a))
        state = result.book
        latencies.append(seconds)
    median = float(np.median(latencies))
    print(row(f"ingest, median of {len(latencies)} batches", median))
    print(row("ingest, slowest batch", max(latencies)))
    first = stream.iloc[: args.batch]
    memory = peak_memory(lambda: ingest(opened.book, first, as_of=first["timestamp"].max()))
    print(f"  ingest, one batch: peak memory {memory:,.0f} MB")

    reviewed, review_s = timed(lambda: review(state, as_of=state.as_of), repeat=args.repeat)
    print(row(f"review of {state.n_customers:,} customers", review_s))

    def from_scratch() -> pd.DataFrame:
        seen = log[log["timestamp"] <= state.as_of]
        purchases = seen[seen["kind"] == "purchase"]
        table = cs.rfm_table(purchases.rename(columns={"value": "amount"}), as_of=state.as_of)
        if with_clv:
            purchase = cs.BetaGeoFitter().fit(table)
            spend = cs.GammaGammaFitter().fit(table)
            value = cs.customer_lifetime_value(
                table, purchase_model=purchase, spend_model=spend, horizon=12, discount_rate=0.01
            )
            table = table.assign(clv=value)
        return scorecard(clv=with_clv).fit(table).score(table)

    scratch, scratch_s = timed(from_scratch, repeat=args.repeat)
    steps = "rfm_table, CLV fits, scorecard" if with_clv else "rfm_table, scorecard"
    print(row(f"from scratch ({steps})", scratch_s))
    scores = reviewed.book.customers["score"]
    np.testing.assert_allclose(scores, scratch["score"].loc[scores.index], rtol=1e-9)
    print(
        f"  review scores equal the from-scratch scores; a batch takes {median * 1e3:.0f} ms, "
        f"a review {review_s / scratch_s:.2f}x the from-scratch time"
    )


if __name__ == "__main__":
    main()
