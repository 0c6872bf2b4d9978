"""Shared tiering test helpers: small scorecards, frames and hypothesis strategies."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd
from hypothesis import strategies as st

from crmscore import (
    POLICY_TIERS,
    Criterion,
    FixedRange,
    Indicator,
    MinMax,
    PercentileRank,
    Scorecard,
    Tier,
    TierRule,
    TierScheme,
    ZScore,
)

if TYPE_CHECKING:
    from crmscore.tiering import Direction, Normaliser


NORMALISERS: list[Normaliser] = [
    MinMax(),
    MinMax(clip=(0.1, 0.9)),
    ZScore(),
    ZScore(clip=(0.05, 0.95)),
    PercentileRank(),
    PercentileRank(n_knots=5),
    FixedRange(low=-10, high=10),
]


def frame(**columns: list[float]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))


def single(normaliser: Normaliser, direction: Direction = "benefit", **kwargs: Any) -> Scorecard:
    """A scorecard of one indicator ``x`` (weight 1): the score is the indicator's points."""
    return Scorecard(
        hierarchy=Criterion(name="goal", weights={"x": 1.0}),
        indicators=[Indicator(name="x", direction=direction, normaliser=normaliser)],
        **kwargs,
    )


def three_indicator_card(normaliser: Normaliser | None = None, **kwargs: Any) -> Scorecard:
    normaliser = MinMax() if normaliser is None else normaliser
    return Scorecard(
        hierarchy=Criterion(
            name="goal",
            weights={"gain": 0.5, "loss": 0.3, "other": 0.2},
            subcriteria=[Criterion(name="loss", weights={"y": 0.5, "z": 0.5})],
        ),
        indicators=[
            Indicator(name="gain", direction="benefit", normaliser=normaliser),
            Indicator(name="y", direction="cost", normaliser=normaliser),
            Indicator(name="z", direction="cost", normaliser=FixedRange(low=0, high=10)),
            Indicator(name="other", direction="benefit", normaliser=normaliser),
        ],
        **kwargs,
    )


# --- for the property tests ------------------------------------------------------------

COLUMNS = ("gain", "y", "z", "other")


# --- strategies for the JSON round trips of every configuration ---------------------------

LABEL_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8
)


@st.composite
def tier_schemes(draw: st.DrawFn) -> TierScheme:
    """Schemes with arbitrary (unicode) keys and labels and fractional bounds in 0-100."""
    n = draw(st.integers(min_value=1, max_value=6))
    keys = draw(st.lists(LABEL_TEXT, min_size=n, max_size=n, unique=True))
    en = draw(st.lists(LABEL_TEXT, min_size=n, max_size=n, unique=True))
    zh = draw(st.lists(LABEL_TEXT, min_size=n, max_size=n, unique=True))
    upper = draw(
        st.lists(
            st.floats(min_value=1e-3, max_value=100.0, allow_nan=False, allow_subnormal=False),
            min_size=n - 1,
            max_size=n - 1,
            unique=True,
        )
    )
    bounds = [0.0, *sorted(upper)]
    return TierScheme(
        tiers=[
            Tier(key=k, label_en=e, label_zh=z, lower_bound=b)
            for k, e, z, b in zip(keys, en, zh, bounds, strict=True)
        ]
    )


@st.composite
def tier_rules(draw: st.DrawFn, *, scheme: TierScheme = POLICY_TIERS) -> TierRule:
    tier = draw(st.sampled_from(scheme.tiers))
    return TierRule(
        name=draw(LABEL_TEXT),
        column=draw(LABEL_TEXT),
        op=draw(st.sampled_from([">=", ">", "<=", "<"])),
        threshold=draw(st.floats(allow_nan=False, allow_infinity=False)),
        tier=draw(st.sampled_from([tier.key, tier.label_en, tier.label_zh])),
        kind=draw(st.sampled_from(["floor", "cap"])),
    )


def json_round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value.to_dict()))
