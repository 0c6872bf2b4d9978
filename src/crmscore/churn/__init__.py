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
"""

from __future__ import annotations

from crmscore._events import EVENT_KINDS
from crmscore.churn.evaluation import backtest, evaluate_warnings, observed_churn_dates
from crmscore.churn.rules import (
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
    AccountAnomaly,
    AliveModel,
    CartAbandonment,
    ChurnSignal,
    ComplaintRise,
    InteractionStop,
    NegativeReviews,
    PAliveBelow,
    PurchaseFrequencyDrop,
    ReviewDrop,
    SignalResult,
    SpendDrop,
    signal_from_dict,
)
from crmscore.churn.warning import EarlyWarning

__all__ = [
    "ACTIVITY_KINDS",
    "DEFAULT_RULES",
    "DEFAULT_SIGNALS",
    "EVENT_KINDS",
    "LEVELS",
    "SIGNAL_GROUPS",
    "AccountAnomaly",
    "AliveModel",
    "AllOf",
    "AnyOf",
    "AtLeast",
    "CartAbandonment",
    "ChurnSignal",
    "ComplaintRise",
    "Condition",
    "EarlyWarning",
    "Fired",
    "Group",
    "InteractionStop",
    "Level",
    "NegativeReviews",
    "Not",
    "PAliveBelow",
    "PurchaseFrequencyDrop",
    "ReviewDrop",
    "Rule",
    "SignalResult",
    "SpendDrop",
    "backtest",
    "condition_from_dict",
    "evaluate_warnings",
    "observed_churn_dates",
    "signal_from_dict",
]
