# %% [markdown]
# # Tiering and a quarterly review
#
# A synthetic book of 2,000 customers (seeded, so every build shows the same
# figures): AHP weights from pairwise judgments, a 0-100 value score cut into the
# policy's Diamond / Gold / Silver / Ordinary tiers, then one quarter of the
# rescoring engine (weekly event batches, a review at the quarter's end) and its
# reports.

# %%
import pandas as pd

import crmscore as cs

log = cs.make_events(2_000, seed=2026).events
opening = pd.Timestamp("2025-06-30 23:59:59")
quarter_end = pd.Timestamp("2025-09-30 23:59:59")
print(f"{len(log):,} events; kinds: {', '.join(sorted(log['kind'].unique()))}")

# %% [markdown]
# ## Weights from judgments
#
# The analytic hierarchy process (AHP) turns "spend matters twice as much as
# recency" into weights; the consistency ratio (under 0.10) says the judgments agree
# with each other.

# %%
judgments = cs.PairwiseMatrix.from_judgments(
    {
        ("total_spend", "time_since_last"): 2,
        ("total_spend", "frequency"): 3,
        ("time_since_last", "frequency"): 2,
    }
)
judgments

# %% [markdown]
# ## The scorecard and the policy
#
# Each indicator is ranked against the book (0-100, recency reversed: recent is
# better), weighted, and the score is cut at 90 / 80 / 60.

# %%
card = cs.Scorecard(
    hierarchy=cs.Criterion(name="value", weights=judgments),
    indicators=[
        cs.Indicator(name="total_spend", direction="benefit", normaliser=cs.PercentileRank()),
        cs.Indicator(name="time_since_last", direction="cost", normaliser=cs.PercentileRank()),
        cs.Indicator(name="frequency", direction="benefit", normaliser=cs.PercentileRank()),
    ],
)
policy = cs.RescoringPolicy(scorecard=card)

# %% [markdown]
# ## One quarter
#
# Open the book on the history to the quarter's start, ingest each week's events,
# review at the quarter's end.

# %%
book = cs.open_book(policy, log[log["timestamp"] <= opening], as_of=opening).book
weeks = [*pd.date_range(opening, quarter_end, freq="7D")[1:], quarter_end]
for end in weeks:
    batch = log[(log["timestamp"] > book.as_of) & (log["timestamp"] <= end)]
    book = cs.ingest(book, batch, as_of=end).book
if book.due_for_review(quarter_end):
    book = cs.review(book, as_of=quarter_end).book
book

# %% [markdown]
# ## The quarter's reports
#
# Tier sizes at both ends, and where each customer went.

# %%
cs.tier_distribution(book, at=[opening, quarter_end])

# %%
from crmscore.plotting import plot_tier_migration

tiers = cs.tier_history(book, at=[opening, quarter_end]).astype(str)
rated = tiers[(tiers != "(unrated)").all(axis=1)]  # rated at both ends
plot_tier_migration(
    rated[opening.normalize()],
    rated[quarter_end.normalize()],
    order=list(cs.POLICY_TIERS.labels()),
)

# %% [markdown]
# Outcomes per tier at the quarter's start: did the customers stay, and what share
# of the quarter's revenue did each tier bring?

# %%
outcomes = cs.tier_outcomes(book, log, start=opening, end=quarter_end)
outcomes[["customers", "retention", "churn", "revenue_share"]].style.format(
    {"retention": "{:.1%}", "churn": "{:.1%}", "revenue_share": "{:.1%}"}
)
