"""The churn signals: the eight policy signals and the P(alive) model signal.

Each signal is a frozen value holding its thresholds. Given an event log at an
``as_of`` date it measures one number per customer (``value``), sometimes against
the customer's own baseline (``reference``), and fires where the number crosses
its threshold. A customer the signal cannot judge (too little history, never
reviewed, no purchase) gets ``value`` NaN and does not fire.

Time is counted in whole calendar days back from the day of ``as_of``: an event
on that day is 0 days old, one on the day before 1 day old. A "month" is a
rolling window of ``month_days`` days (30) and a "week" one of ``week_days``
days (7), counted back from ``as_of``, so that every customer is judged on
complete windows whatever the date.
"""

from crmscore.churn.signals._base import (
    ACTIVITY_KINDS,
    SIGNAL_GROUPS,
    ChurnSignal,
    SignalResult,
)
from crmscore.churn.signals._base import identifier as identifier
from crmscore.churn.signals._base import instance_of as instance_of
from crmscore.churn.signals._base import one_of as one_of
from crmscore.churn.signals._behaviour import (
    AccountAnomaly,
    InteractionStop,
    PurchaseFrequencyDrop,
    PurchaseLapse,
    ReviewDrop,
)
from crmscore.churn.signals._emotion import ComplaintRise, NegativeReviews
from crmscore.churn.signals._model import AliveModel, PAliveBelow
from crmscore.churn.signals._registry import DEFAULT_SIGNALS, WARNING_SIGNALS, signal_from_dict
from crmscore.churn.signals._value import CartAbandonment, SpendDrop

__all__ = [
    "ACTIVITY_KINDS",
    "DEFAULT_SIGNALS",
    "SIGNAL_GROUPS",
    "WARNING_SIGNALS",
    "AccountAnomaly",
    "AliveModel",
    "CartAbandonment",
    "ChurnSignal",
    "ComplaintRise",
    "InteractionStop",
    "NegativeReviews",
    "PAliveBelow",
    "PurchaseFrequencyDrop",
    "PurchaseLapse",
    "ReviewDrop",
    "SignalResult",
    "SpendDrop",
    "signal_from_dict",
]
