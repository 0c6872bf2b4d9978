"""What a rescoring book, result and policy show of themselves: counts, never customers.

The customer ids, an override's reason and its author are distinctive strings, and
none of them may appear in any repr or HTML summary; every count shown is compared
with the count pandas takes of the data the caller can ask for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crmscore as cs
from tests.html_tables import Tables, number

# --------------------------------------------------------------------------------------
# Rescoring: counts only
# --------------------------------------------------------------------------------------


def _policy() -> cs.RescoringPolicy:
    return cs.RescoringPolicy(
        scorecard=cs.Scorecard(
            hierarchy=cs.Criterion(
                name="value", weights={"total_spend": 0.6, "time_since_last": 0.4}
            ),
            indicators=[
                cs.Indicator(name="total_spend", direction="benefit", normaliser=cs.MinMax()),
                cs.Indicator(name="time_since_last", direction="cost", normaliser=cs.MinMax()),
            ],
        ),
        large_transaction=500.0,
    )


@pytest.fixture(scope="module")
def engine() -> tuple[cs.RescoringResult, cs.RescoringResult, pd.DataFrame]:
    events = cs.make_events(400, seed=22).events
    events = events.assign(customer_id="secret-" + events["customer_id"].astype(str))
    june, july = pd.Timestamp("2025-06-30"), pd.Timestamp("2025-07-31")
    opened = cs.open_book(_policy(), events[events["timestamp"] <= june], as_of=june)
    who = opened.book.customers.index[0]
    appealed = cs.set_override(
        opened.book,
        customer_id=who,
        tier="gold",
        reason="confidential appeal note",
        author="reviewer-anna",
        as_of=june,
    ).book
    later = events[(events["timestamp"] > june) & (events["timestamp"] <= july)]
    newcomer = pd.DataFrame(  # events before a first purchase are skipped and reported
        {
            "customer_id": "secret-newcomer",
            "timestamp": pd.to_datetime(["2025-07-01", "2025-07-02", "2025-07-03"]),
            "kind": ["interaction", "complaint", "purchase"],
            "value": [np.nan, np.nan, 120.0],
            "event_id": [10**9, 10**9 + 1, 10**9 + 2],
        }
    )
    ingested = cs.ingest(appealed, pd.concat([later, newcomer]), as_of=july)
    return opened, ingested, events


def test_book_repr_and_html_show_counts_never_customers(
    engine: tuple[cs.RescoringResult, cs.RescoringResult, pd.DataFrame],
) -> None:
    _, ingested, events = engine
    book = ingested.book
    for shown in (repr(book), book._repr_html_(), repr(ingested), ingested._repr_html_()):
        assert "secret-" not in shown
        assert "confidential" not in shown
        assert "reviewer-anna" not in shown
    tier = book.customers["tier"]
    tiers = tier.value_counts()
    expected = {label: int(tiers.get(label, 0)) for label in book.tiers.labels()}
    expected["(not rated)"] = int(tier.isna().sum())  # the newcomer, until a review
    assert expected["(not rated)"] == 1
    assert f"tiers={expected!r}" in repr(book)
    assert repr(book).startswith(f"Book(customers={events['customer_id'].nunique() + 1}, ")
    assert "overrides=1," in repr(book)
    assert f"changes={len(book.history)}," in repr(book)
    parsed = Tables(book._repr_html_())
    rows = parsed.rows("")
    assert {k: int(number(v[0])) for k, v in rows.items() if k != "tier"} == expected
    assert parsed.facts()["customers"] == f"{book.n_customers:,}"


def test_result_repr_and_html_count_changes_and_skipped_events(
    engine: tuple[cs.RescoringResult, cs.RescoringResult, pd.DataFrame],
) -> None:
    _, ingested, _ = engine
    kinds = ingested.changes["change"].value_counts(sort=False)
    assert len(ingested.skipped) > 0
    assert repr(ingested) == (
        f"RescoringResult(customers={ingested.book.n_customers}, as_of='2025-07-31 00:00:00', "
        f"changes={ {str(k): int(v) for k, v in kinds.items()}!r}, "
        f"skipped={len(ingested.skipped)})"
    )
    parsed = Tables(ingested._repr_html_())
    skipped = parsed.rows("Skipped events by reason")
    reasons = ingested.skipped["reason"].value_counts()
    assert {k: int(v[0]) for k, v in skipped.items() if k != "reason"} == reasons.to_dict()
    by_rule = ingested.changes.groupby(["change", "rule"]).size()
    shown = parsed.tables[parsed.captions.index("Changes by kind and rule")]
    assert sum(int(number(row[-1])) for row in shown[2:]) == by_rule.sum() == len(ingested.changes)


def test_policy_html_lists_the_settings_and_the_weights() -> None:
    policy = _policy()
    parsed = Tables(policy._repr_html_())
    facts = parsed.facts()
    assert facts["review every (months)"] == "3"
    assert facts["large transaction re-scores at"] == "500"
    assert facts["major default"] == repr(policy.default_adjustment)
    weights = parsed.rows("Scorecard weights")
    assert number(weights["total_spend"][4]) == 0.6
    assert "Scorecard(hierarchy='value', indicators=2" in repr(policy)


def test_policy_html_shows_the_clv_and_churn_steps() -> None:
    policy = cs.RescoringPolicy(
        scorecard=_policy().scorecard, clv=cs.rescoring.CLVStage(), churn=cs.EarlyWarning()
    )
    facts = Tables(policy._repr_html_()).facts()
    assert facts["CLV step"] == repr(cs.rescoring.CLVStage())
    assert facts["churn step"] == repr(cs.EarlyWarning())
    assert len(repr(policy)) < 1_200
    assert facts["CLV step"] != "off"
    assert Tables(_policy()._repr_html_()).facts()["churn step"] == "off"
