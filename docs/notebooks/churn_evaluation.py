# %% [markdown]
# # Churn early warning: does it warn the right customers, early enough?
#
# A seeded event log of 3,000 customers whose churners change behaviour before they
# leave; the true churn dates come with it, so the warnings can be scored against
# what really happened.

# %%
import pandas as pd

import crmscore as cs

book = cs.make_events(3_000, seed=2026)
as_of = pd.Timestamp("2025-09-30")
print(f"{len(book.events):,} events from {len(book.customers):,} customers")

# %% [markdown]
# ## The warning
#
# The eight signals of the policy table (purchase frequency drop, no interaction for
# 30 days, complaints rising, ...) and the rules that combine them into levels
# `none < blue < yellow < red`.

# %%
warning = cs.EarlyWarning()
warning

# %%
warnings = warning.predict(book.events, as_of=as_of)
warnings["level"].value_counts().reindex(list(cs.churn.LEVELS)).to_frame("customers")

# %% [markdown]
# Every warning says why, in words:

# %%
for level in ("red", "yellow", "blue"):
    customer = warnings.index[warnings["level"] == level][0]
    print(f"{customer}: {warning.explain(warnings, customers=[customer]).iloc[0]}")

# %% [markdown]
# ## Scored against the truth
#
# A warned customer who churns within the next 90 days is a hit; "at lead" counts
# only churn at least 30 days after the warning (time enough to act). Precision:
# the share of warned customers who churned; recall: the share of churners who were
# warned.

# %%
truth = book.customers["churn_date"]
scored = cs.evaluate_warnings(warnings, churn_dates=truth, horizon_days=90, min_lead_days=30)
columns = ["warned", "churned", "precision", "precision_at_lead", "recall", "recall_at_lead"]
shares = ["precision", "precision_at_lead", "recall", "recall_at_lead"]
scored[columns].style.format(dict.fromkeys(shares, "{:.1%}"))

# %% [markdown]
# ## Levels by tier
#
# With tiers (here spend quartiles), the share of each tier at each warning level:
# a red Diamond customer is the account manager's first call.

# %%
from crmscore.plotting import plot_churn_by_tier

purchases = book.events[book.events["kind"] == "purchase"].rename(columns={"value": "amount"})
spend = cs.rfm_table(purchases, as_of=as_of)["total_spend"]
tiers = pd.qcut(spend, 4, labels=list(cs.POLICY_TIERS.labels("en")))
warned = warnings["level"][warnings.index.isin(tiers.index)]
plot_churn_by_tier(warned, tiers)
