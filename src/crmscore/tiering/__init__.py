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

:func:`b2b_scorecard` is the policy's B2B grading, ready to fit.
"""

from __future__ import annotations

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
from crmscore.tiering._presets import B2B_CRITERIA, B2B_INDICATORS, b2b_scorecard
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
    "MAX_ELEMENTS",
    "POLICY_TIERS",
    "RANDOM_INDEX",
    "SAATY_SCALE",
    "TIER_TOLERANCE",
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
    "Scorecard",
    "Tier",
    "TierRule",
    "TierScheme",
    "WeightMethod",
    "ZScore",
    "b2b_scorecard",
]
