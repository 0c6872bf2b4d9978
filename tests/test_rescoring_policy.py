"""The rescoring policy value: defaults from the policy texts, validation, JSON round trip."""

from __future__ import annotations

import json
from typing import Any

import attrs
import numpy as np
import pytest

import crmscore as cs
from crmscore.rescoring import (
    RescoringPolicy,
    TierAdjustment,
)
from crmscore.tiering import (
    TierScheme,
)
from tests.rescoring_cards import rfm_card

# --- the policy value ------------------------------------------------------------------


def test_policy_defaults_follow_the_texts_and_round_trip() -> None:
    policy = RescoringPolicy(scorecard=rfm_card())
    assert policy.review_months == 3  # quarterly review
    assert policy.invitation_spend == 1000.0  # cumulative spend >= 1000 -> invitation
    assert policy.follow_up_months == 6  # 6 months without a purchase -> follow-up
    assert policy.win_back_days is None  # the weekly offer (7) is opt-in
    assert policy.default_adjustment == TierAdjustment(steps=-1)
    assert RescoringPolicy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"review_months": 0}, "'review_months' parameter"),
        ({"retention_reviews": 0}, "'retention_reviews' parameter"),
        ({"large_transaction": -1.0}, "'large_transaction' parameter"),
        ({"large_transaction": "big"}, r"'large_transaction' parameter .* Got 'big'"),
        ({"large_transaction": True}, "'large_transaction' parameter"),
        ({"invitation_spend": "abc"}, r"'invitation_spend' parameter .* Got 'abc'"),
        ({"invitation_spend": float("nan")}, "'invitation_spend' parameter"),
        ({"retention_margin": None}, r"'retention_margin' parameter .* >= 0. Got None"),
        ({"retention_margin": "x"}, r"'retention_margin' parameter .* Got 'x'"),
        ({"retention_margin": -0.5}, "'retention_margin' parameter"),
        (
            {"signing_adjustment": TierAdjustment(to_tier="platinum")},
            r"'signing_adjustment' parameter .* Unknown tier 'platinum'",
        ),
        (
            {"default_adjustment": TierAdjustment(to_tier="vip")},
            r"'default_adjustment' parameter .* Unknown tier 'vip'",
        ),
    ],
)
def test_policy_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(cs.InvalidParameterError, match=match):
        RescoringPolicy(scorecard=rfm_card(), **kwargs)


def test_policy_numbers_are_converted_to_float() -> None:
    policy = RescoringPolicy(
        scorecard=rfm_card(),
        large_transaction=np.int64(500),
        invitation_spend=0,
        retention_margin=2,
    )
    assert (policy.large_transaction, policy.invitation_spend, policy.retention_margin) == (
        500.0,
        0.0,
        2.0,
    )
    assert all(
        type(v) is float
        for v in (policy.large_transaction, policy.invitation_spend, policy.retention_margin)
    )
    assert RescoringPolicy(scorecard=rfm_card(), large_transaction=None).large_transaction is None


def test_the_default_signing_adjustment_needs_a_gold_tier() -> None:
    card = attrs.evolve(rfm_card(), tiers=TierScheme.from_bounds({"Low": 0.0, "High": 50.0}))
    with pytest.raises(cs.InvalidParameterError, match="'signing_adjustment' parameter") as info:
        RescoringPolicy(scorecard=card)
    assert isinstance(info.value, ValueError)
    assert "signing_adjustment=None" in str(info.value)
    policy = RescoringPolicy(
        scorecard=card, signing_adjustment=TierAdjustment(to_tier="High", expires_after_days=180)
    )
    assert policy.signing_adjustment is not None


def test_adjustment_needs_one_target() -> None:
    with pytest.raises(cs.InvalidParameterError, match="exactly one of to_tier"):
        TierAdjustment()
    with pytest.raises(cs.InvalidParameterError, match="exactly one of to_tier"):
        TierAdjustment(to_tier="gold", steps=1)
