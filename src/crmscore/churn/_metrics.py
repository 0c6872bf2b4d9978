"""Ranking and probability metrics in numpy (private; checked against scikit-learn in tests).

Every function takes ``y`` (0/1 labels) and ``score`` (higher means more likely
positive) as float arrays of one length, without NaN, and breaks no ties by row
order: tied scores are one threshold, as in scikit-learn.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

__all__ = [
    "average_precision",
    "brier_score",
    "calibration_bins",
    "precision_at_recall",
    "precision_recall_counts",
    "precision_recall_curve",
    "roc_auc",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]


def roc_auc(y: FloatArray, score: FloatArray) -> float:
    """Area under the ROC curve (Mann-Whitney U over average ranks); NaN with one class."""
    positives = float(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def precision_recall_counts(
    y: FloatArray, score: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """:func:`precision_recall_curve` and the number warned at each threshold."""
    # Ties are one threshold and only the last position of each tie group is read,
    # so the order within ties (an unstable sort) does not matter.
    order = np.argsort(-score)
    s = score[order]
    hits = np.cumsum(y[order])
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1] if s.size else np.empty(0, int)
    tp = hits[last]
    warned = (last + 1).astype(np.float64)
    total = float(y.sum())
    recall = tp / total if total > 0 else np.full(tp.size, np.nan)
    return tp / warned, recall, s[last], warned


def precision_recall_curve(
    y: FloatArray, score: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Precision, recall and threshold at every distinct score, highest threshold first.

    Warning everyone with ``score >= threshold[k]`` gives ``precision[k]`` and
    ``recall[k]``. Recall is NaN when there is no positive.
    """
    precision, recall, thresholds, _ = precision_recall_counts(y, score)
    return precision, recall, thresholds


def average_precision(y: FloatArray, score: FloatArray) -> float:
    """Average precision: sum over thresholds of (recall gain) x precision (as scikit-learn)."""
    if y.sum() == 0:
        return float("nan")
    precision, recall, _ = precision_recall_curve(y, score)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def precision_at_recall(y: FloatArray, score: FloatArray, recall: float) -> float:
    """Best precision among thresholds whose recall is at least ``recall`` (NaN if none)."""
    precision, reached, _ = precision_recall_curve(y, score)
    ok = reached >= recall - 1e-12
    return float(precision[ok].max()) if ok.any() else float("nan")


def brier_score(y: FloatArray, probability: FloatArray) -> float:
    """Mean squared difference between the probability and the 0/1 outcome."""
    return float(np.mean((probability - y) ** 2)) if y.size else float("nan")


def calibration_bins(
    y: FloatArray, probability: FloatArray, *, n_bins: int = 10
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Equal-width probability bins: lower edge, count, mean predicted, observed rate.

    Bins are ``[k / n_bins, (k + 1) / n_bins)`` (the last one closed), assigned as
    scikit-learn's ``calibration_curve(strategy="uniform")`` does; empty bins
    have NaN means.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], probability)
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    predicted = np.bincount(bins, weights=probability, minlength=n_bins)
    observed = np.bincount(bins, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return edges[:-1], count, predicted / count, observed / count
