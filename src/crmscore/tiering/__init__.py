"""Tiering: AHP-weighted scorecards, 0-100 scores and tiers with reasons.

The customer-grading method of the policy texts (客户分级管理办法), in four parts:

1. **Weights by the Analytic Hierarchy Process.** :class:`PairwiseMatrix` holds
   pairwise judgments on Saaty's 1-9 scale and derives weights (principal
   eigenvector or row geometric mean) with their consistency ratio;
   :class:`Criterion` arranges criteria, sub-criteria and indicators into a
   hierarchy with local and global weights; :class:`DirectWeights` states weights
   outright (the policy's 50 / 30 / 20).
2. **Normalisation.** Each :class:`Indicator` is a benefit or a cost and is
   normalised to 0-100 points by :class:`MinMax`, :class:`PercentileRank`,
   :class:`ZScore` (through the normal CDF) or a :class:`FixedRange`, learned on a
   population and then frozen (:class:`LearnedScale`).
3. **The scorecard.** :class:`Scorecard` (settings) is fitted to a population;
   :class:`FittedScorecard` scores any customers: the 0-100 score, every
   criterion's and indicator's contribution (they add up to the score) and the
   tier with its reason.
4. **Tiers.** :class:`TierScheme` (default :data:`POLICY_TIERS`: Diamond 钻石级 >= 90,
   Gold 黄金级 80-89, Silver 白银级 60-79, Ordinary 普通级 < 60), :class:`TierRule`
   floors and caps, and :class:`KMeansTiering` natural groups.

:func:`b2b_scorecard` is the policy's B2B grading, ready to fit
(:func:`b2b_policy_scorecard` with the policy's nine indicators as written).

5. **Rules without a score.** :class:`RuleTiering` places customers in the first
   tier whose :class:`Condition` s hold; the presets :func:`high_value_rule`,
   :func:`dairy_layers`, :func:`membership_levels`, :func:`activity_levels` and
   :func:`lifecycle_stages` are the texts' layers, levels and stages, over the
   indicators :func:`event_indicators` reads from an event log;
   :func:`relationship_scorecard` is the five-dimension relationship quality.
6. **Validation.** :func:`assign_arms` splits customers into arms by a seeded hash;
   :func:`compare_schemes` compares tier schemes run on the arms (retention of
   high-value customers, revenue, tier stability, with intervals and tests);
   :func:`learn_weights` suggests weights from data beside the AHP judgments.
"""

from __future__ import annotations

from crmscore.tiering._ab import SchemeComparison, assign_arms, compare_schemes
from crmscore.tiering._activity import event_indicators
from crmscore.tiering._ahp import (
    MAX_ELEMENTS,
    RANDOM_INDEX,
    SAATY_SCALE,
    DirectWeights,
    PairwiseMatrix,
    WeightMethod,
)
from crmscore.tiering._hierarchy import Criterion
from crmscore.tiering._kmeans import FittedKMeansTiering, GroupMapping, KMeansTiering
from crmscore.tiering._learn import WeightSuggestion, learn_weights
from crmscore.tiering._normalise import (
    Direction,
    FixedRange,
    Indicator,
    LearnedScale,
    MinMax,
    Normaliser,
    PercentileRank,
    ZScore,
)
from crmscore.tiering._policy_presets import (
    MEMBERSHIP_LEVELS,
    RELATIONSHIP_INDICATORS,
    activity_levels,
    dairy_layers,
    high_value_rule,
    lifecycle_stages,
    membership_levels,
    relationship_scorecard,
)
from crmscore.tiering._presets import (
    B2B_CRITERIA,
    B2B_INDICATORS,
    B2B_POLICY_INDICATORS,
    b2b_policy_scorecard,
    b2b_scorecard,
)
from crmscore.tiering._rules import Condition, RuleTier, RuleTiering
from crmscore.tiering._scorecard import FittedScorecard, MissingPolicy, Scorecard
from crmscore.tiering._tiers import (
    POLICY_TIERS,
    TIER_TOLERANCE,
    Language,
    Tier,
    TierRule,
    TierScheme,
)

# Not public (absent from __all__): the tier-rule step, which the rescoring engine
# re-runs on a review's indicators. Other packages import it from here, never from
# the private module.
from crmscore.tiering._tiers import apply_rules as apply_rules

__all__ = [
    "B2B_CRITERIA",
    "B2B_INDICATORS",
    "B2B_POLICY_INDICATORS",
    "MAX_ELEMENTS",
    "MEMBERSHIP_LEVELS",
    "POLICY_TIERS",
    "RANDOM_INDEX",
    "RELATIONSHIP_INDICATORS",
    "SAATY_SCALE",
    "TIER_TOLERANCE",
    "Condition",
    "Criterion",
    "DirectWeights",
    "Direction",
    "FittedKMeansTiering",
    "FittedScorecard",
    "FixedRange",
    "GroupMapping",
    "Indicator",
    "KMeansTiering",
    "Language",
    "LearnedScale",
    "MinMax",
    "MissingPolicy",
    "Normaliser",
    "PairwiseMatrix",
    "PercentileRank",
    "RuleTier",
    "RuleTiering",
    "SchemeComparison",
    "Scorecard",
    "Tier",
    "TierRule",
    "TierScheme",
    "WeightMethod",
    "WeightSuggestion",
    "ZScore",
    "activity_levels",
    "assign_arms",
    "b2b_policy_scorecard",
    "b2b_scorecard",
    "compare_schemes",
    "dairy_layers",
    "event_indicators",
    "high_value_rule",
    "learn_weights",
    "lifecycle_stages",
    "membership_levels",
    "relationship_scorecard",
]
