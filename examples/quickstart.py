"""crmscore quickstart: a synthetic customer book, scored and segmented.

Run it with ``python examples/quickstart.py``. Everything is generated in memory
from a fixed seed, so the output is the same on every machine.
"""

from __future__ import annotations

import pandas as pd

import crmscore as cs


def print_value_matrix(table: pd.DataFrame) -> None:
    """The eight-class value matrix of the policy texts, Chinese and English labels."""
    # pandas counts a Chinese character as one column unless told that it is
    # two wide: set locally, for this table only.
    matrix = cs.rfm_segments(table, segment_map=cs.VALUE_MATRIX_SEGMENTS, language="zh")
    revenue = table["total_spend"].groupby(matrix["segment"], observed=True).sum()
    labels = cs.VALUE_MATRIX_SEGMENTS.labels("zh")
    shares = pd.DataFrame(
        {
            "english": cs.VALUE_MATRIX_SEGMENTS.labels("en"),
            "customers": matrix["segment"].value_counts(normalize=True).loc[labels].to_numpy(),
            "revenue": (revenue / revenue.sum()).loc[labels].to_numpy(),
        },
        index=pd.Index(labels, name="segment"),
    )
    print(
        "\nRFM value matrix of the policy texts (share of customers and of revenue)."
        "\nEach customer is above or below the book's mean on each of R, F and M;"
        "\nimportant = spends more than the mean; value = recent and frequent;"
        "\ndevelopment = recent, infrequent; retention = not recent, frequent;"
        "\nwin-back = neither recent nor frequent:"
    )
    with pd.option_context("display.unicode.east_asian_width", True):
        print(
            shares.to_string(formatters={"customers": "{:.1%}".format, "revenue": "{:.1%}".format})
        )


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
    print("RFM table, one row per customer (first rows; times in days):")
    days = "{:,.0f}".format
    money = "{:,.2f}".format
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
        .to_string(
            formatters={
                "recency": days,
                "T": days,
                "time_since_last": days,
                "monetary_value": money,
                "total_spend": money,
            }
        )
    )
    print(
        "  frequency: repeat purchases (all but the first); recency: days from the first\n"
        "  purchase to the last; T: days from the first purchase to today;\n"
        "  monetary_value: mean spend of the repeat purchases; time_since_last: days\n"
        "  since the last purchase; n_purchases, total_spend: all purchases."
    )

    # 3. Quintile scores and the classic eleven segments.
    classic = cs.rfm_segments(table)
    summary = (
        table.assign(segment=classic["segment"])
        .groupby("segment", observed=True)
        .agg(
            customers=("total_spend", "size"),
            revenue=("total_spend", "sum"),
            days_since_last=("time_since_last", "mean"),
        )
        .sort_values("revenue", ascending=False)
    )
    summary = summary.assign(
        customer_share=summary["customers"] / summary["customers"].sum(),
        revenue_share=summary["revenue"] / summary["revenue"].sum(),
    )[["customers", "customer_share", "revenue_share", "days_since_last"]]
    print(
        "\nClassic RFM segments (each customer scored 1-5 on recency, frequency and"
        "\nspend against the others, then named by the scores):"
    )
    print(
        summary.to_string(
            formatters={
                "customer_share": "{:.1%}".format,
                "revenue_share": "{:.1%}".format,
                "days_since_last": "{:.0f}".format,
            }
        )
    )
    print("  days_since_last: mean days since the last purchase.")

    # 4. The eight-class value matrix of the policy texts, with Chinese labels.
    print_value_matrix(table)

    # 5. The practice guide's high-value rule: bought within 30 days, about
    #    3 purchases a month, average order above 500 (a preset RuleTiering).
    months = (table["T"] + 1) / 30
    table = table.assign(purchases_per_month=table["n_purchases"] / months)
    rule = cs.high_value_rule(
        columns={"days_since_purchase": "time_since_last", "average_order": "average_spend"}
    )
    high_value = rule.score(table)["tier_key"] == "high_value"
    print(
        "\nPractice-guide high-value customers (bought within 30 days, 3+ purchases a"
        f"\nmonth, average order above 500): {int(high_value.sum()):,} of {len(table):,}"
        f" ({high_value.mean():.2%} of the book)."
    )
    # Why so few: each condition on its own.
    coverage = rule.coverage(table)[["customers", "share"]]
    print("Customers meeting each condition alone:")
    print(coverage.droplevel("tier").to_string(formatters={"share": "{:.1%}".format}))
    print(
        "  purchases_per_month: all purchases over the months since the first one."
        "\n  These simulated customers buy about every 45 days while active (under 1"
        "\n  purchase a month), so 3 purchases a month rules out almost everyone."
        "\n  The rule is meant for a book of frequent buyers."
    )

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
    print(
        "\nBG/NBD purchase model (each customer buys at a steady rate while active and"
        "\nmay drop out after any purchase), per day:"
        f"\n  fitted {fitted}\n  simulated from {truth}"
        f"\n  r/alpha = {purchases.params.r / purchases.params.alpha:.3f} purchases a day"
        " on average while active;\n  a and b set the chance of dropping out after a purchase."
    )
    print("Customers with the highest 12-month customer lifetime value (CLV):")
    columns = ["frequency", "time_since_last", "p_alive", "purchases_90d", "expected_spend"]
    print(
        clv.sort_values("clv_12m", ascending=False)[[*columns, "clv_12m"]]
        .head()
        .to_string(
            formatters={
                "time_since_last": "{:,.0f}".format,
                "p_alive": "{:.0%}".format,
                "purchases_90d": "{:.1f}".format,
                "expected_spend": "{:,.2f}".format,
                "clv_12m": "{:,.0f}".format,
            }
        )
    )
    print(
        "  p_alive: probability that the customer is still active; purchases_90d:"
        "\n  expected purchases in the next 90 days; expected_spend: expected spend per"
        "\n  purchase; clv_12m: expected spend over the next 12 months, discounted at"
        "\n  1 % a month."
    )
    dormant = clv["time_since_last"] >= 180  # the policy's six months without a purchase
    print(
        f"Dormant customers (no purchase for 180+ days): {int(dormant.sum()):,} "
        f"({dormant.mean():.1%}),\nmean P(alive) {clv.loc[dormant, 'p_alive'].mean():.0%} vs "
        f"{clv.loc[~dormant, 'p_alive'].mean():.0%} for the others."
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
    print(
        "\nTiers from a 0-100 value score: indicators ranked against the book, weighted"
        "\nby the analytic hierarchy process (AHP, weights derived from pairwise"
        f"\njudgments): {weights}.\nConsistency ratio"
        f" {judgments.consistency_ratio:.3f} (under 0.10: the judgments agree)."
        "\nCut at 90 / 80 / 60 points:"
    )
    pyramid = pd.DataFrame(
        {
            "customers": scored["tier"].value_counts(sort=False),
            "customer_share": scored["tier"].value_counts(sort=False, normalize=True),
            "revenue_share": table["total_spend"].groupby(scored["tier"], observed=True).sum()
            / table["total_spend"].sum(),
        }
    ).iloc[::-1]
    print(
        pyramid.to_string(
            formatters={"customer_share": "{:.1%}".format, "revenue_share": "{:.1%}".format}
        )
    )


if __name__ == "__main__":
    main()
