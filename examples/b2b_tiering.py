"""B2B customer grading with the policy preset: AHP weights, scores, tiers, reasons.

Run it with ``python examples/b2b_tiering.py``. The customer book is generated in
memory from a fixed seed, so the output is the same on every machine.
"""

from __future__ import annotations

import pandas as pd

import crmscore as cs


def main() -> None:
    # 1. A seeded synthetic B2B book: nine indicators for 20,000 customers.
    book = cs.make_b2b_indicators(20_000, seed=2026)
    print(f"{len(book):,} B2B customers, indicators: {', '.join(book.columns)}\n")

    # 2. The policy's weights as AHP judgments: financial contribution is 5/3 times as
    #    important as cooperation potential and 5/2 times as important as risk control;
    #    potential is 3/2 times as important as risk. Consistent judgments give exactly
    #    50 / 30 / 20 with a consistency ratio of 0.
    judgments = cs.PairwiseMatrix.from_judgments(
        {
            ("financial", "potential"): "5/3",
            ("financial", "risk"): "5/2",
            ("potential", "risk"): "3/2",
        }
    )
    weights = ", ".join(f"{k} {v:.0%}" for k, v in judgments.weights.items())
    print(f"AHP weights: {weights} (consistency ratio {judgments.consistency_ratio:.3f})")

    # 3. The preset, with a VIP retention floor: annual revenue of 20 million or more
    #    is never below Gold (a manual rule on top of the score).
    card = cs.b2b_scorecard(
        criteria_weights=judgments,
        rules=[
            cs.TierRule(
                name="VIP floor", column="annual_revenue", op=">=", threshold=20e6, tier="gold"
            )
        ],
    )
    print("\nGlobal weights of the indicators:")
    table = card.hierarchy.weight_table()
    print(table[["parent", "kind", "local_weight", "global_weight"]].round(4).to_string())

    # 4. Learn the normalisation on this population (frozen from now on) and score.
    fitted = card.fit(book)
    scored = fitted.score(book, language="zh")

    # 5. The value pyramid: customers and revenue per tier, top tier first.
    revenue = book["annual_revenue"]
    pyramid = pd.DataFrame(
        {
            "customers": scored["tier"].value_counts(),
            "revenue": revenue.groupby(scored["tier"], observed=False).sum(),
        }
    ).loc[list(card.tiers.labels("zh")[::-1])]
    pyramid["customer_share"] = pyramid["customers"] / pyramid["customers"].sum()
    pyramid["revenue_share"] = pyramid["revenue"] / pyramid["revenue"].sum()
    pyramid["mean_score"] = scored.groupby("tier", observed=False)["score"].mean()
    print("\nTier pyramid (钻石级 >= 90, 黄金级 80-89, 白银级 60-79, 普通级 < 60):")
    width = 50 / pyramid["customer_share"].max()
    for tier, line in pyramid.iterrows():
        bar = "#" * max(1, round(line["customer_share"] * width))
        print(
            f"  {tier}  {bar:<50} {int(line['customers']):>6,} customers "
            f"({line['customer_share']:.1%}), {line['revenue_share']:.1%} of revenue, "
            f"mean score {line['mean_score']:.1f}"
        )
    raised = (scored["tier"] != scored["score_tier"]).sum()
    print(f"  {raised} customer(s) lifted to 黄金级 by the VIP floor")

    # 6. Share of revenue from the top customers.
    ranked = revenue.sort_values(ascending=False)
    print("\nRevenue share of the top customers:")
    for share in (0.01, 0.05, 0.10, 0.20):
        top = ranked.iloc[: round(share * len(ranked))]
        print(f"  top {share:>4.0%} of customers: {top.sum() / ranked.sum():.1%} of revenue")

    # 7. Why is the best customer where it is? Every point is accounted for.
    best = scored["score"].idxmax()
    row = scored.loc[best]
    print(f"\nCustomer {best}: score {row['score']:.1f}, tier {row['tier']} ({row['tier_reason']})")
    for criterion in fitted.criteria:
        print(f"  {criterion:<10} {row[f'{criterion}_points']:6.2f} points")
    contributions = row[[f"{name}_points" for name in fitted.indicators]].astype(float)
    print(
        "  largest contributions: "
        + ", ".join(
            f"{name.removesuffix('_points')} {points:.2f}"
            for name, points in contributions.nlargest(3).items()
        )
    )

    # 8. Natural groups by k-means over the normalised indicators, mapped to tiers by
    #    their mean score (a group is Diamond only if its members average 90 or more),
    #    with the same VIP floor. On this book no group averages 60, except the top one
    #    at about 74 (Silver); mapping="rank" would have made that group Diamond.
    groups = cs.KMeansTiering(seed=7, rules=card.rules).fit(book, scorecard=fitted)
    natural = groups.score(book)
    labels = card.tiers.labels("en")
    print("\nk-means groups (lowest mean score first), tier of the group's mean score:")
    for g, (score, size, tier) in enumerate(
        zip(
            groups.group_scores,
            natural["group"].value_counts().sort_index(),
            groups.group_tiers,
            strict=True,
        )
    ):
        print(f"  group {g}: {size:>6,} customers, mean score {score:.1f} -> {labels[tier]}")
    agree = (
        natural["tier"].astype(str)
        == scored["tier"].cat.rename_categories(list(labels)).astype(str)
    ).mean()
    print(f"  same tier as the score-based grading for {agree:.1%} of customers")
    ranked = cs.KMeansTiering(seed=7, mapping="rank").fit(book, scorecard=fitted)
    print(
        "  by rank instead (mapping='rank'): "
        + ", ".join(f"group {g} -> {labels[t]}" for g, t in enumerate(ranked.group_tiers))
    )


if __name__ == "__main__":
    main()
