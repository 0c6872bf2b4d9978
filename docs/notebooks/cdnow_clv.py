# %% [markdown]
# # CDNOW: customer lifetime value, step by step
#
# The CDNOW sample (shipped with `lifetimes`): 2,357 customers who first bought at
# the online music store in the first quarter of 1997, with every purchase until the
# end of June 1998. We fit the BG/NBD purchase model on the first 39 weeks, check it
# on the next 39, then value every customer over the next 12 months.

# %%
import pandas as pd
from lifetimes.datasets import load_dataset

import crmscore as cs

raw = load_dataset("CDNOW_sample.txt", header=None, sep=r"\s+")
raw.columns = ["customer_id", "master_id", "date", "n_cds", "amount"]
transactions = pd.DataFrame(
    {
        "customer_id": raw["customer_id"].astype("int64"),
        "timestamp": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
        "amount": raw["amount"].astype("float64"),
    }
)
print(f"{len(transactions):,} purchases by {transactions['customer_id'].nunique():,} customers")

# %% [markdown]
# ## Calibration and holdout
#
# `calibration_holdout_split` gives one row per customer: the BG/NBD columns over the
# calibration period (`frequency` = repeat purchases, `recency` = first to last
# purchase, `T` = first purchase to the end of calibration, in days) and the
# purchases in the holdout.

# %%
split = cs.calibration_holdout_split(
    transactions, calibration_end="1997-09-30", observation_end="1998-06-30", time_unit="D"
)
split.head()

# %% [markdown]
# The fitted model shows its parameters with standard errors and 95 % intervals.
# Fader, Hardie and Lee (2005) fit in weeks: their `alpha` (4.414) is ours divided
# by 7.

# %%
purchases = cs.BetaGeoFitter().fit(split)
print(f"alpha in weeks: {purchases.params.alpha / 7:.3f}")
purchases

# %% [markdown]
# ## Does it predict the holdout?
#
# Customers grouped by their calibration repeat purchases: the mean number of
# holdout purchases, actual against predicted.

# %%
report = cs.holdout_comparison(split, model=purchases)
report[["customers", "actual", "predicted"]].round(3)

# %%
from crmscore.plotting import plot_calibration

plot_calibration(report)

# %% [markdown]
# ## Value every customer
#
# Refit on the whole log, add Gamma-Gamma for the spend per purchase, and discount
# 12 months of expected spend at 1 % a month.

# %%
table = cs.rfm_table(transactions, as_of="1998-06-30", time_unit="D")
purchases = cs.BetaGeoFitter().fit(table)
spend = cs.GammaGammaFitter().fit(table)
scored = table.assign(
    p_alive=purchases.probability_alive(table),
    purchases_12m=purchases.expected_purchases(table, t=365),
    expected_spend=spend.expected_spend(table),
    clv_12m=cs.customer_lifetime_value(
        table, purchase_model=purchases, spend_model=spend, horizon=12, discount_rate=0.01
    ),
)
columns = ["frequency", "recency", "T", "p_alive", "purchases_12m", "expected_spend", "clv_12m"]
scored.sort_values("clv_12m", ascending=False)[columns].head(10).round(2)

# %%
top = scored["clv_12m"].nlargest(236)  # the top 10 %
print(f"The top 10 % of customers hold {top.sum() / scored['clv_12m'].sum():.0%} of the value")
print(f"Expected 12-month value of the book: ${scored['clv_12m'].sum():,.0f}")

# %% [markdown]
# P(alive) over the frequency-recency grid, for a customer first seen 546 days
# before the end of the log: many purchases long ago is a customer probably lost.

# %%
from crmscore.plotting import plot_p_alive_matrix

plot_p_alive_matrix(purchases, T=546, max_frequency=20)
