"""A scorecard shared by the rescoring tests: three RFM indicators, percentile-ranked."""

from __future__ import annotations

from crmscore.tiering import (
    Criterion,
    Indicator,
    PercentileRank,
    Scorecard,
)


def rfm_card() -> Scorecard:
    return Scorecard(
        hierarchy=Criterion(
            name="value",
            weights={"total_spend": 0.5, "time_since_last": 0.3, "frequency": 0.2},
        ),
        indicators=[
            Indicator(name="total_spend", direction="benefit", normaliser=PercentileRank()),
            Indicator(name="time_since_last", direction="cost", normaliser=PercentileRank()),
            Indicator(name="frequency", direction="benefit", normaliser=PercentileRank()),
        ],
    )
