"""crmscore quickstart: a synthetic customer book, scored and segmented.

Run it with ``python examples/quickstart.py``. Everything is generated in memory
from a fixed seed, so the output is the same on every machine.
"""

from __future__ import annotations

import pandas as pd

import crmscore as cs


def main() -> None:
    # 1. A seeded synthetic book: 20,000 customers over two years.
    book = cs.make_transactions(20_000, seed=2026)
    transactions = book.transactions
    print(
        f"{len(transactions):,} transactions from {transactions['customer_id'].nunique():,} "
        f"customers, as of {book.as_of.date()}\n"
    )

    # 2. One row per customer: BG/NBD columns and classic RFM columns, in days.
    table = cs.rfm_table(transactions, as_of=book.as_of, time_unit="D")
    print("RFM table (first rows):")
    print(
        table[
            [
                "frequency",
                "recency",
                "T",
                "monetary_value",
                "time_since_last",
                "n_purchases",
                "total_spend",
            ]
        ]
        .head()
        .round(1)
        .to_string()
    )

    # 3. Quintile scores and the classic eleven segments.
    classic = cs.rfm_segments(table)
    summary = (
        table.assign(segment=classic["segment"])
        .groupby("segment", observed=True)
        .agg(
            customers=("total_spend", "size"),
            revenue=("total_spend", "sum"),
            mean_days_since_last=("time_since_last", "mean"),
        )
    )
    summary["customer_share"] = summary["customers"] / summary["customers"].sum()
    summary["revenue_share"] = summary["revenue"] / summary["revenue"].sum()
    print("\nClassic segments:")
    print(
        summary.sort_values("revenue", ascending=False)
        .drop(columns="revenue")
        .to_string(
            formatters={
                "customer_share": "{:.1%}".format,
                "revenue_share": "{:.1%}".format,
                "mean_days_since_last": "{:.0f}".format,
            }
        )
    )

    # 4. The eight-class value matrix of the policy texts, with Chinese labels.
    matrix = cs.rfm_segments(table, segment_map=cs.VALUE_MATRIX_SEGMENTS, language="zh")
    revenue = table["total_spend"].groupby(matrix["segment"], observed=True).sum()
    shares = pd.DataFrame(
        {
            "customers": matrix["segment"].value_counts(normalize=True),
            "revenue": revenue / revenue.sum(),
        }
    ).loc[cs.VALUE_MATRIX_SEGMENTS.labels("zh")]
    print("\nRFM value matrix (share of customers and of revenue):")
    print(shares.to_string(float_format="{:.1%}".format))

    # 5. The practice guide's high-value rule: bought within 30 days, about
    #    3 purchases a month, average order above 500 (a preset RuleTiering).
    months = (table["T"] + 1) / 30
    table = table.assign(purchases_per_month=table["n_purchases"] / months)
    rule = cs.high_value_rule(
        columns={"days_since_purchase": "time_since_last", "average_order": "average_spend"}
    )
    high_value = rule.score(table)["tier_key"] == "high_value"
    print(
        f"\nPractice-guide high-value customers: {int(high_value.sum()):,} "
        f"({high_value.mean():.1%} of the book)"
    )
    # Why so few: each condition on its own. The simulated customers buy every 45
    # days on average while active (under 1 purchase a month) and spend 300 a
    # purchase, so "3 purchases a month" rules out almost everyone.
    coverage = rule.coverage(table)[["customers", "share"]]
    print("Customers meeting each condition alone:")
    print(coverage.droplevel("tier").to_string(formatters={"share": "{:.1%}".format}))

    # 6. Customer lifetime value: BG/NBD purchases and Gamma-Gamma spend, fitted by
    #    maximum likelihood, then 12 months of value discounted at 1 % a month.
    purchases = cs.BetaGeoFitter().fit(table)
    spend = cs.GammaGammaFitter().fit(table)
    clv = table.assign(
        p_alive=purchases.probability_alive(table),
        purchases_90d=purchases.expected_purchases(table, t=90),
        expected_spend=spend.expected_spend(table),
        clv_12m=cs.customer_lifetime_value(
            table, purchase_model=purchases, spend_model=spend, horizon=12, discount_rate=0.01
        ),
    )
    fitted = ", ".join(f"{k}={v:.3g}" for k, v in purchases.params.to_dict().items())
    truth = ", ".join(f"{k}={v:.3g}" for k, v in book.purchase.to_dict().items())
    print(f"\nBG/NBD per day: {fitted} (simulated from {truth})")
    print("Customers with the highest 12-month CLV:")
    columns = ["frequency", "time_since_last", "p_alive", "purchases_90d", "expected_spend"]
    print(
        clv.sort_values("clv_12m", ascending=False)[[*columns, "clv_12m"]]
        .head()
        .round(2)
        .to_string()
    )
    dormant = clv["time_since_last"] >= 180  # the policy's six months without a purchase
    print(
        f"Dormant customers (no purchase for 180+ days): {int(dormant.sum()):,}, "
        f"mean P(alive) {clv.loc[dormant, 'p_alive'].mean():.2f} vs "
        f"{clv.loc[~dormant, 'p_alive'].mean():.2f} for the others"
    )

    # 7. Tiers: an AHP-weighted scorecard over value indicators, cut at the policy's
    #    90 / 80 / 60 into Diamond / Gold / Silver / Ordinary, with contributions.
    judgments = cs.PairwiseMatrix.from_judgments(
        {
            ("clv", "total_spend"): 2,
            ("clv", "time_since_last"): 3,
            ("total_spend", "time_since_last"): 2,
        }
    )
    card = cs.Scorecard(
        hierarchy=cs.Criterion(name="value", weights=judgments),
        indicators=[
            cs.Indicator(name="clv", direction="benefit", normaliser=cs.PercentileRank()),
            cs.Indicator(name="total_spend", direction="benefit", normaliser=cs.PercentileRank()),
            cs.Indicator(name="time_since_last", direction="cost", normaliser=cs.PercentileRank()),
        ],
    )
    indicators = clv.rename(columns={"clv_12m": "clv"})
    scored = card.fit(indicators).score(indicators)
    weights = ", ".join(f"{k} {v:.0%}" for k, v in judgments.weights.items())
    print(f"\nAHP weights: {weights} (consistency ratio {judgments.consistency_ratio:.3f})")
    pyramid = pd.DataFrame(
        {
            "customers": scored["tier"].value_counts(sort=False),
            "revenue_share": table["total_spend"].groupby(scored["tier"], observed=True).sum()
            / table["total_spend"].sum(),
        }
    ).iloc[::-1]
    print(pyramid.to_string(formatters={"revenue_share": "{:.1%}".format}))


if __name__ == "__main__":
    main()
