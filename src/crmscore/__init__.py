"""crmscore: composable, explainable customer scorers.

RFM tables, scores and segments; BG/NBD and Gamma-Gamma customer lifetime value;
AHP-weighted tiering; churn early-warning rules; and a dynamic-rescoring engine.
Pure functions and frozen values over pandas frames: no I/O, no clock, no hidden
state.
"""

from __future__ import annotations

from crmscore._params import BetaGeoParams, GammaGammaParams
from crmscore.clv import (
    BetaGeoFitter,
    BetaGeoModel,
    ConvergenceReport,
    GammaGammaFitter,
    GammaGammaModel,
    calibration_holdout_split,
    customer_lifetime_value,
    holdout_comparison,
)
from crmscore.datasets import SyntheticBook, make_rfm_summary, make_transactions
from crmscore.errors import (
    ColumnNotFoundError,
    ConvergenceError,
    CrmScoreError,
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

__version__ = "0.1.0"

__all__ = [
    "CLASSIC_SEGMENTS",
    "VALUE_MATRIX_SEGMENTS",
    "BetaGeoFitter",
    "BetaGeoModel",
    "BetaGeoParams",
    "ColumnNotFoundError",
    "ConvergenceError",
    "ConvergenceReport",
    "CrmScoreError",
    "FittedRFMScorer",
    "FixedBins",
    "GammaGammaFitter",
    "GammaGammaModel",
    "GammaGammaParams",
    "InvalidDataError",
    "InvalidParameterError",
    "NotFittedError",
    "QuantileBins",
    "RFMScorer",
    "ReferenceBins",
    "ScoreDimension",
    "Segment",
    "SegmentMap",
    "SyntheticBook",
    "ValidationError",
    "__version__",
    "calibration_holdout_split",
    "customer_lifetime_value",
    "holdout_comparison",
    "make_rfm_summary",
    "make_transactions",
    "rfm_segments",
    "rfm_table",
]
