"""crmscore: composable, explainable customer scorers.

RFM tables, scores and segments; BG/NBD and Gamma-Gamma customer lifetime value;
AHP-weighted tiering; churn early-warning rules; and a dynamic-rescoring engine.
Pure functions and frozen values over pandas frames: no I/O, no clock, no hidden
state.
"""

from __future__ import annotations

from crmscore._params import BetaGeoParams, GammaGammaParams
from crmscore.datasets import SyntheticBook, make_b2b_indicators, make_transactions
from crmscore.errors import (
    ColumnNotFoundError,
    ConvergenceError,
    CrmScoreError,
    InconsistentJudgmentsError,
    InvalidDataError,
    InvalidParameterError,
    NotFittedError,
    ValidationError,
)
from crmscore.rfm import (
    CLASSIC_SEGMENTS,
    VALUE_MATRIX_SEGMENTS,
    FittedRFMScorer,
    FixedBins,
    QuantileBins,
    ReferenceBins,
    RFMScorer,
    ScoreDimension,
    Segment,
    SegmentMap,
    rfm_segments,
    rfm_table,
)
from crmscore.tiering import (
    B2B_CRITERIA,
    B2B_INDICATORS,
    POLICY_TIERS,
    RANDOM_INDEX,
    Criterion,
    DirectWeights,
    FittedKMeansTiering,
    FittedScorecard,
    FixedRange,
    Indicator,
    KMeansTiering,
    LearnedScale,
    MinMax,
    PairwiseMatrix,
    PercentileRank,
    Scorecard,
    Tier,
    TierRule,
    TierScheme,
    ZScore,
    b2b_scorecard,
)

__version__ = "0.1.0"

__all__ = [
    "B2B_CRITERIA",
    "B2B_INDICATORS",
    "CLASSIC_SEGMENTS",
    "POLICY_TIERS",
    "RANDOM_INDEX",
    "VALUE_MATRIX_SEGMENTS",
    "BetaGeoParams",
    "ColumnNotFoundError",
    "ConvergenceError",
    "Criterion",
    "CrmScoreError",
    "DirectWeights",
    "FittedKMeansTiering",
    "FittedRFMScorer",
    "FittedScorecard",
    "FixedBins",
    "FixedRange",
    "GammaGammaParams",
    "InconsistentJudgmentsError",
    "Indicator",
    "InvalidDataError",
    "InvalidParameterError",
    "KMeansTiering",
    "LearnedScale",
    "MinMax",
    "NotFittedError",
    "PairwiseMatrix",
    "PercentileRank",
    "QuantileBins",
    "RFMScorer",
    "ReferenceBins",
    "ScoreDimension",
    "Scorecard",
    "Segment",
    "SegmentMap",
    "SyntheticBook",
    "Tier",
    "TierRule",
    "TierScheme",
    "ValidationError",
    "ZScore",
    "__version__",
    "b2b_scorecard",
    "make_b2b_indicators",
    "make_transactions",
    "rfm_segments",
    "rfm_table",
]
