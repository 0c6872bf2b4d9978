"""crmscore: composable, explainable customer scorers.

RFM tables, scores and segments; BG/NBD and Gamma-Gamma customer lifetime value;
AHP-weighted tiering; churn early-warning rules; and a dynamic-rescoring engine.
Pure functions and frozen values over pandas frames: no I/O, no clock, no hidden
state.
"""

from __future__ import annotations

from crmscore._events import EVENT_KINDS
from crmscore._params import BetaGeoParams, GammaGammaParams
from crmscore.churn import (
    DEFAULT_ACTIONS,
    DEFAULT_RULES,
    DEFAULT_SIGNALS,
    AccountAnomaly,
    ActionMap,
    AliveModel,
    AllOf,
    AnyOf,
    AtLeast,
    CartAbandonment,
    ComplaintRise,
    EarlyWarning,
    Fired,
    Group,
    InteractionStop,
    NegativeReviews,
    Not,
    PAliveBelow,
    PurchaseFrequencyDrop,
    ReviewDrop,
    Rule,
    SpendDrop,
    backtest,
    evaluate_warnings,
    observed_churn_dates,
)
from crmscore.datasets import EventBook, SyntheticBook, make_events, make_transactions
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
    "DEFAULT_ACTIONS",
    "DEFAULT_RULES",
    "DEFAULT_SIGNALS",
    "EVENT_KINDS",
    "VALUE_MATRIX_SEGMENTS",
    "AccountAnomaly",
    "ActionMap",
    "AliveModel",
    "AllOf",
    "AnyOf",
    "AtLeast",
    "BetaGeoParams",
    "CartAbandonment",
    "ColumnNotFoundError",
    "ComplaintRise",
    "ConvergenceError",
    "CrmScoreError",
    "EarlyWarning",
    "EventBook",
    "Fired",
    "FittedRFMScorer",
    "FixedBins",
    "GammaGammaParams",
    "Group",
    "InteractionStop",
    "InvalidDataError",
    "InvalidParameterError",
    "NegativeReviews",
    "Not",
    "NotFittedError",
    "PAliveBelow",
    "PurchaseFrequencyDrop",
    "QuantileBins",
    "RFMScorer",
    "ReferenceBins",
    "ReviewDrop",
    "Rule",
    "ScoreDimension",
    "Segment",
    "SegmentMap",
    "SpendDrop",
    "SyntheticBook",
    "ValidationError",
    "__version__",
    "backtest",
    "evaluate_warnings",
    "make_events",
    "make_transactions",
    "observed_churn_dates",
    "rfm_segments",
    "rfm_table",
]
