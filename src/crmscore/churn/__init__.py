"""Churn early warning (客户流失预警): signals, rules, levels, evaluation.

The mechanism of the policy texts as composable, explainable, vectorised parts:

1. **Signals** (:mod:`crmscore.churn.signals`): the eight signals of the policy
   table, each a frozen value with the policy's thresholds as named parameters,
   plus a P(alive) signal from any fitted purchase model.
2. **Rules** (:mod:`crmscore.churn.rules`): conditions over fired signals
   (:class:`Fired`, :class:`Group`, ``&``, ``|``, ``~``, :class:`AtLeast`) that set
   the levels blue (potential risk, 蓝色), yellow (watch closely, 黄色) and red
   (urgent, 红色).
3. :class:`EarlyWarning` measures the signals on an event log at an ``as_of``
   date and returns, per customer, the level, the rule that set it and every
   signal's measured value; :meth:`EarlyWarning.explain` puts that in words.
4. :func:`evaluate_warnings` and :func:`backtest` score warnings against what
   happened afterwards: precision, recall and lead time per level.
6. :class:`LearnedWarningFitter` learns a warning from the book's own past
   (features at past cut-offs, churn after them) and returns a
   :class:`LearnedWarning` that predicts a probability, a level and the reasons.
7. :func:`evaluate_backtest` compares the rules, the learned model, 1 - P(alive)
   and warning everyone on past cut-offs without leakage (:class:`ChurnBacktest`).
"""

from __future__ import annotations

from crmscore._events import EVENT_KINDS
from crmscore.churn.backtest import ChurnBacktest, evaluate_backtest
from crmscore.churn.evaluation import (
    PRECISION_TARGET,
    backtest,
    evaluate_warnings,
    observed_churn_dates,
)
from crmscore.churn.learned import (
    FeatureTerm,
    LearnedWarning,
    LearnedWarningFitter,
    OperatingPoint,
    TrainingWindow,
)
from crmscore.churn.rules import (
    CORROBORATION_RULES,
    DEFAULT_RULES,
    LEVELS,
    AllOf,
    AnyOf,
    AtLeast,
    Condition,
    Fired,
    Group,
    Level,
    Not,
    Rule,
    condition_from_dict,
)
from crmscore.churn.signals import (
    ACTIVITY_KINDS,
    DEFAULT_SIGNALS,
    SIGNAL_GROUPS,
    WARNING_SIGNALS,
    AccountAnomaly,
    AliveModel,
    CartAbandonment,
    ChurnSignal,
    ComplaintRise,
    InteractionStop,
    NegativeReviews,
    PAliveBelow,
    PurchaseFrequencyDrop,
    PurchaseLapse,
    ReviewDrop,
    SignalResult,
    SpendDrop,
    signal_from_dict,
)
from crmscore.churn.warning import EarlyWarning

__all__ = [
    "ACTIVITY_KINDS",
    "CORROBORATION_RULES",
    "DEFAULT_RULES",
    "DEFAULT_SIGNALS",
    "EVENT_KINDS",
    "LEVELS",
    "PRECISION_TARGET",
    "SIGNAL_GROUPS",
    "WARNING_SIGNALS",
    "AccountAnomaly",
    "AliveModel",
    "AllOf",
    "AnyOf",
    "AtLeast",
    "CartAbandonment",
    "ChurnBacktest",
    "ChurnSignal",
    "ComplaintRise",
    "Condition",
    "EarlyWarning",
    "FeatureTerm",
    "Fired",
    "Group",
    "InteractionStop",
    "LearnedWarning",
    "LearnedWarningFitter",
    "Level",
    "NegativeReviews",
    "Not",
    "OperatingPoint",
    "PAliveBelow",
    "PurchaseFrequencyDrop",
    "PurchaseLapse",
    "ReviewDrop",
    "Rule",
    "SignalResult",
    "SpendDrop",
    "TrainingWindow",
    "backtest",
    "condition_from_dict",
    "evaluate_backtest",
    "evaluate_warnings",
    "observed_churn_dates",
    "signal_from_dict",
]
