"""Learned weights (tiering/_learn.py).

Oracles: a simulated logistic outcome with known slopes, the Mann-Whitney U statistic
(scipy), and Saaty's consistency at the judgments' own weights.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import crmscore as cs
from crmscore import (
    InvalidDataError,
    InvalidParameterError,
    WeightSuggestion,
    learn_weights,
)
from crmscore.tiering._ab import _normal_quantile
from crmscore.tiering._learn import _against, _auc

Q95 = _normal_quantile(0.95)


# --- learned weights ------------------------------------------------------------------


def _simulated(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series[Any]]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({k: rng.uniform(size=n) for k in ["spend", "visits", "tenure"]})
    chance = special.expit(-4 + 6 * frame["spend"] + 2 * frame["visits"])
    return frame, pd.Series(rng.uniform(size=n) < chance, name="retained")


def _card(weights: Any) -> cs.Scorecard:
    return cs.Scorecard(
        hierarchy=cs.Criterion(name="value", weights=weights),
        indicators=[
            cs.Indicator(name=k, direction="benefit", normaliser=cs.FixedRange(low=0, high=1))
            for k in ["spend", "visits", "tenure"]
        ],
    )


def test_learned_weights_recover_the_simulated_slopes() -> None:
    frame, outcome = _simulated()
    equal = {"spend": 1 / 3, "visits": 1 / 3, "tenure": 1 / 3}
    suggestion = learn_weights(_card(equal).fit(frame), frame, outcome)
    learned = suggestion.weights
    assert learned["spend"] == pytest.approx(0.75, abs=0.05)  # slopes 6 : 2 : 0
    assert learned["visits"] == pytest.approx(0.25, abs=0.05)
    assert learned["tenure"] < 0.03
    assert sum(learned.values()) == pytest.approx(1.0)
    assert suggestion.current == pytest.approx(equal)
    assert suggestion.auc > suggestion.current_auc
    assert np.isnan(suggestion.consistency_ratio)  # no judgments given
    assert suggestion.n_customers == 3000
    assert suggestion.n_positive == int(outcome.sum())
    with pytest.raises(InvalidParameterError, match=r"\['tenure'\]"):
        suggestion.to_direct_weights()  # a zero weight: drop the indicator instead
    kept = learn_weights(_card(equal).fit(frame), frame, outcome | (frame["tenure"] > 0.9))
    assert min(kept.weights.values()) > 0
    assert kept.to_direct_weights().weights == pytest.approx(kept.weights)
    again = WeightSuggestion.from_dict(json.loads(json.dumps(suggestion.to_dict())))
    assert again.weights == pytest.approx(learned)
    assert np.isnan(again.consistency_ratio)
    assert "Suggested weights" in suggestion._repr_html_()


def test_auc_is_the_mann_whitney_statistic() -> None:
    rng = np.random.default_rng(2)
    score = rng.integers(0, 5, size=200).astype(float)  # many ties
    positive = rng.uniform(size=200) < 0.3
    u = stats.mannwhitneyu(score[positive], score[~positive]).statistic
    assert _auc(score, positive) == pytest.approx(u / (positive.sum() * (~positive).sum()))


def test_consistency_against_the_judgments_is_saatys_at_their_own_weights() -> None:
    judged = cs.PairwiseMatrix.from_judgments(
        {("a", "b"): 3, ("a", "c"): 5, ("b", "c"): 2, ("a", "d"): 7, ("b", "d"): 4, ("c", "d"): 3},
        max_consistency_ratio=None,
    )
    ratio, fit = _against(judged, judged.weights)
    assert ratio == pytest.approx(judged.consistency_ratio, rel=1e-9)
    assert len(fit) == 6
    assert fit[0][:3] == ("a", "b", 3.0)
    far, _ = _against(judged, {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4})  # reversed order
    assert far > 1.0


def test_learned_weights_compare_with_criteria_judgments() -> None:
    frame, outcome = _simulated(2000, seed=1)
    judged = cs.PairwiseMatrix.from_judgments({("engagement", "money"): 3})
    card = cs.Scorecard(
        hierarchy=cs.Criterion(
            name="value",
            weights=judged,
            subcriteria=[
                cs.Criterion(name="money", weights={"spend": 1.0}),
                cs.Criterion(name="engagement", weights={"visits": 0.5, "tenure": 0.5}),
            ],
        ),
        indicators=[
            cs.Indicator(name=k, direction="benefit", normaliser=cs.FixedRange(low=0, high=1))
            for k in ["spend", "visits", "tenure"]
        ],
    )
    suggestion = learn_weights(card.fit(frame), frame, outcome, judgments=judged)
    assert list(suggestion.weights) == ["engagement", "money"]
    assert suggestion.weights["money"] == pytest.approx(0.75, abs=0.06)
    assert suggestion.current == pytest.approx({"engagement": 0.75, "money": 0.25})
    assert [j[:3] for j in suggestion.contradicted] == [("engagement", "money", 3.0)]
    assert suggestion.judgments[0][3] < 1  # the data favour money
    other = cs.PairwiseMatrix.from_judgments({("x", "y"): 2})
    with pytest.raises(InvalidParameterError, match="neither"):
        learn_weights(card.fit(frame), frame, outcome, judgments=other)


def test_learn_weights_rejects_outcomes_it_cannot_use() -> None:
    frame, outcome = _simulated(200)
    fitted = _card({"spend": 0.5, "visits": 0.3, "tenure": 0.2}).fit(frame)
    with pytest.raises(InvalidDataError, match="one class"):
        learn_weights(fitted, frame, pd.Series(True, index=frame.index, name="all"))
    with pytest.raises(InvalidDataError, match="boolean"):
        learn_weights(fitted, frame, outcome.astype(int))
    with pytest.raises(InvalidDataError, match="no value"):
        learn_weights(fitted, frame, outcome.iloc[:-3])
    with pytest.raises(InvalidParameterError, match="penalty"):
        learn_weights(fitted, frame, outcome, penalty=-1.0)
    against = pd.Series(frame["spend"] < 0.3, name="poor")  # only a cost would separate it
    with pytest.raises(InvalidDataError, match="no indicator separates"):
        learn_weights(fitted, frame[["spend"]].assign(visits=0.5, tenure=0.5), against)
