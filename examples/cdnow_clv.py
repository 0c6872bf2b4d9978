"""Customer lifetime value on the real CDNOW transaction log.

Run it with ``python examples/cdnow_clv.py`` (needs ``lifetimes``, which ships the
data: ``pip install "crmscore[lifetimes]"``). The CDNOW sample is 2,357 customers
who made their first purchase at the online music store CDNOW in the first quarter
of 1997, with all their purchases until the end of June 1998 (6,919 rows).

1. Split the log: 39 weeks of calibration (to 1997-09-30), 39 weeks of holdout.
2. Fit BG/NBD and Gamma-Gamma on the calibration period.
3. Check the fit on the holdout, by calibration frequency.
4. Refit on everything and rank customers by 12-month CLV.
"""

from __future__ import annotations

import pandas as pd
from lifetimes.datasets import load_dataset

import crmscore as cs


def load_cdnow() -> pd.DataFrame:
    """The raw file: customer id, id in the master file, yyyymmdd, number of CDs, dollars."""
    raw = load_dataset("CDNOW_sample.txt", header=None, sep=r"\s+")
    raw.columns = ["customer_id", "master_id", "date", "n_cds", "amount"]
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype("int64"),
            "timestamp": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
            "amount": raw["amount"].astype("float64"),
        }
    )


def main() -> None:
    transactions = load_cdnow()
    print(
        f"CDNOW: {len(transactions):,} transactions, "
        f"{transactions['customer_id'].nunique():,} customers, "
        f"{transactions['timestamp'].min().date()} to {transactions['timestamp'].max().date()}\n"
    )

    # 1-2. Calibration / holdout in days (Fader, Hardie and Lee (2005) use weeks:
    #      their alpha is ours divided by 7).
    split = cs.calibration_holdout_split(
        transactions, calibration_end="1997-09-30", observation_end="1998-06-30", time_unit="D"
    )
    purchases = cs.BetaGeoFitter().fit(split)
    print("BG/NBD on the calibration period (days):")
    print(purchases.summary().round(4).to_string())
    assert purchases.convergence is not None
    print(
        f"log-likelihood {purchases.log_likelihood:.1f}, "
        f"{purchases.convergence.n_iterations} Newton iterations"
    )
    print(f"in weeks: alpha = {purchases.params.alpha / 7:.3f} (published: 4.414)\n")

    # 3. The holdout check.
    report = cs.holdout_comparison(split, model=purchases)
    print(f"Holdout ({split.attrs['duration_holdout']:.0f} days), mean purchases per customer:")
    print(report[["customers", "actual", "predicted"]].round(3).to_string())
    print()

    # 4. Refit on the whole log and value every customer over the next 12 months.
    table = cs.rfm_table(transactions, as_of="1998-06-30", time_unit="D")
    purchases = cs.BetaGeoFitter().fit(table)
    spend = cs.GammaGammaFitter().fit(table)
    repeaters = table[table["frequency"] > 0]
    correlation = repeaters["frequency"].corr(repeaters["monetary_value"])
    print(
        f"Gamma-Gamma: p={spend.params.p:.2f} q={spend.params.q:.2f} v={spend.params.v:.2f}, "
        f"mean spend per purchase ${spend.mean_spend:.2f} "
        f"(frequency-spend correlation {correlation:.2f}: independence is plausible)\n"
    )
    scored = table.assign(
        p_alive=purchases.probability_alive(table),
        purchases_12m=purchases.expected_purchases(table, t=365),
        expected_spend=spend.expected_spend(table),
        clv_12m=cs.customer_lifetime_value(
            table, purchase_model=purchases, spend_model=spend, horizon=12, discount_rate=0.01
        ),
    )
    top = scored.sort_values("clv_12m", ascending=False).head(10)
    print("Top 10 customers by 12-month CLV (1 % a month discount):")
    print(
        top[
            [
                "frequency",
                "recency",
                "T",
                "monetary_value",
                "p_alive",
                "purchases_12m",
                "expected_spend",
                "clv_12m",
            ]
        ]
        .round(2)
        .to_string()
    )
    share = top["clv_12m"].sum() / scored["clv_12m"].sum()
    print(f"\nThese 10 customers ({10 / len(scored):.1%}) hold {share:.1%} of the expected value.")
    print(f"Total expected 12-month value of the book: ${scored['clv_12m'].sum():,.0f}")


if __name__ == "__main__":
    main()
