"""The learned early warning: a model trained on the book's own past.

:class:`LearnedWarningFitter` holds the settings; :meth:`LearnedWarningFitter.fit`
measures features at several past cut-offs (only events up to each cut-off),
labels each active customer by what happened after it (churn ``lead_days`` to
``horizon_days`` days later), fits an L2-penalised logistic regression by Newton's
method, chooses the probability thresholds of the levels on those training
windows, and returns a frozen :class:`LearnedWarning` whose
:meth:`~LearnedWarning.predict` warns per customer, with the reasons in words.
"""

from crmscore.churn.learned._fitter import LearnedWarningFitter
from crmscore.churn.learned._model import LearnedWarning
from crmscore.churn.learned._values import (
    FeatureTerm,
    OperatingPoint,
    TrainingWindow,
    choose_threshold,
    probability_levels,
    window_labels,
)

__all__ = [
    "FeatureTerm",
    "LearnedWarning",
    "LearnedWarningFitter",
    "OperatingPoint",
    "TrainingWindow",
    "choose_threshold",
    "probability_levels",
    "window_labels",
]
