"""Indicator weights learned from data, as a suggestion beside the AHP judgments."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd
from scipy import optimize, special

from crmscore._display import html_block
from crmscore._serialise import reads
from crmscore._validation import NON_NEGATIVE, check_frame, check_number, reject_ids
from crmscore.errors import ConvergenceError, InvalidDataError, InvalidParameterError
from crmscore.tiering._ahp import RANDOM_INDEX, DirectWeights, PairwiseMatrix

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy.typing as npt

    from crmscore.tiering._scorecard import FittedScorecard

__all__ = ["WeightSuggestion", "learn_weights"]


def _to_judgments(values: Any) -> tuple[tuple[str, str, float, float], ...]:
    return tuple((str(i), str(j), float(a), float(b)) for i, j, a, b in values)


def _floats(values: Mapping[str, float]) -> Mapping[str, float]:
    return {str(k): float(v) for k, v in values.items()}


@attrs.frozen(kw_only=True)
class WeightSuggestion:
    """Weights that separate an outcome best, beside the weights in use (a suggestion).

    Built by :func:`learn_weights`; adopt it with :meth:`to_direct_weights` if the
    people who made the judgments agree.
    """

    outcome: str
    """Name of the outcome separated (the ``outcome`` Series' name)."""

    weights: Mapping[str, float] = attrs.field(converter=_floats)
    """Learned weights by label (indicators, or the judgments' criteria), summing to 1."""

    current: Mapping[str, float] = attrs.field(converter=_floats)
    """The weights in use at the same level (the scorecard's), summing to 1."""

    auc: float
    """How well the learned score separates the outcome (area under the ROC curve)."""

    current_auc: float
    """The same for the score in use."""

    consistency_ratio: float
    """Consistency ratio of the judgments measured against the learned weights
    (NaN without judgments or with fewer than three labels); above 0.1, the data
    and the judgments disagree more than Saaty tolerates within one matrix."""

    judgments: tuple[tuple[str, str, float, float], ...] = attrs.field(converter=_to_judgments)
    """``(i, j, judged, implied)`` for every judgment: how many times more important
    the judges said ``i`` is than ``j``, and the ratio of the learned weights."""

    n_customers: int
    """Customers the weights were learned on."""

    n_positive: int
    """Of them, customers with the outcome."""

    @property
    def contradicted(self) -> list[tuple[str, str, float, float]]:
        """Judgments the data reverses: the judges favour ``i``, the learned weights ``j``."""
        return [j for j in self.judgments if (j[2] > 1 and j[3] < 1) or (j[2] < 1 and j[3] > 1)]

    def summary(self) -> pd.DataFrame:
        """Learned and current weights side by side, with their difference."""
        labels = list(self.weights)
        return pd.DataFrame(
            {
                "learned": [self.weights[k] for k in labels],
                "current": [self.current[k] for k in labels],
                "difference": [self.weights[k] - self.current[k] for k in labels],
            },
            index=pd.Index(labels, name="label"),
        )

    def to_direct_weights(self) -> DirectWeights:
        """Return the learned weights as :class:`DirectWeights`, to adopt them.

        Raises
        ------
        InvalidParameterError
            A learned weight is 0: the data give that element no part in separating
            the outcome; drop it from the scorecard rather than weighting it 0.
        """
        zero = [label for label, weight in self.weights.items() if weight <= 0]
        if zero:
            raise InvalidParameterError(
                f"WeightSuggestion.to_direct_weights: the learned weights of {zero} are 0; "
                "drop those elements from the scorecard rather than weighting them 0."
            )
        return DirectWeights(labels=list(self.weights), values=list(self.weights.values()))

    def __repr__(self) -> str:
        learned = ", ".join(f"{k} {v:.2f}" for k, v in self.weights.items())
        return (
            f"WeightSuggestion({self.outcome}: {learned}; AUC {self.auc:.3f} vs "
            f"{self.current_auc:.3f} in use; CR against the judgments "
            f"{self.consistency_ratio:.3f})"
        )

    def _repr_html_(self) -> str:
        facts = [
            ("outcome", self.outcome),
            ("customers (with the outcome)", f"{self.n_customers} ({self.n_positive})"),
            ("AUC learned / in use", f"{self.auc:.3f} / {self.current_auc:.3f}"),
            ("CR of the judgments against the learned weights", self.consistency_ratio),
            ("judgments the data reverses", len(self.contradicted)),
        ]
        return html_block("Suggested weights", facts=facts, tables=[("", self.summary())])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (NaN as ``None``)."""
        data = attrs.asdict(self)
        data["judgments"] = [list(j) for j in self.judgments]
        data["consistency_ratio"] = (
            None if math.isnan(self.consistency_ratio) else self.consistency_ratio
        )
        return data

    @classmethod
    @reads(optional=None)
    def from_dict(cls, data: Mapping[str, Any]) -> WeightSuggestion:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        if values.get("consistency_ratio") is None:
            values["consistency_ratio"] = math.nan
        return cls(**values)


def _auc(score: npt.NDArray[np.float64], positive: npt.NDArray[np.bool_]) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties halved."""
    n1 = int(positive.sum())
    n0 = positive.size - n1
    ranks = pd.Series(score).rank(method="average").to_numpy(dtype=np.float64)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _fit_logistic(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], penalty: float
) -> npt.NDArray[np.float64]:
    """Logistic regression with non-negative slopes (L-BFGS-B), a small ridge on them."""
    n, m = x.shape

    def loss(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        eta = theta[0] + x @ theta[1:]
        # log(1 + e^eta) - y eta, stable for large |eta|
        value = float(np.sum(np.logaddexp(0.0, eta) - y * eta)) / n
        value += 0.5 * penalty * float(theta[1:] @ theta[1:])
        residual = (special.expit(eta) - y) / n
        grad = np.concatenate([[residual.sum()], x.T @ residual + penalty * theta[1:]])
        return value, grad

    bounds = [(None, None)] + [(0.0, None)] * m
    start = np.zeros(m + 1)
    result = optimize.minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    if not result.success:
        raise ConvergenceError(f"learn_weights: the fit did not converge ({result.message}).")
    slopes: npt.NDArray[np.float64] = np.asarray(result.x[1:], dtype=np.float64)
    return slopes


def learn_weights(
    fitted: FittedScorecard,
    frame: pd.DataFrame,
    outcome: pd.Series[Any],
    *,
    judgments: PairwiseMatrix | None = None,
    penalty: float = 1e-3,
) -> WeightSuggestion:
    r"""Learn indicator weights that best separate an outcome; compare them with AHP's.

    The scorecard's normalised points (0-100, as it scores) are the inputs of a
    logistic regression of the outcome with non-negative slopes; the slopes, scaled
    to sum to 1, are weights whose weighted score ranks customers as the model does.
    They are reported beside the weights in use, with the area under the ROC curve
    of both scores and the consistency of the AHP judgments with the learned
    weights: a suggestion for the people who made the judgments, never applied.

    Parameters
    ----------
    fitted : FittedScorecard
        The scorecard in use (its normalisation and weights).
    frame : pandas.DataFrame
        The indicators of the customers to learn from (e.g. at the start of a period).
    outcome : pandas.Series
        A boolean per customer of ``frame`` (e.g. "high-value and still buying a year
        later"); its name names the outcome.
    judgments : PairwiseMatrix, optional
        The AHP judgments behind the weights, over indicators or over the top-level
        criteria; the learned weights are then summed to the same level and checked
        against them. Without it, weights compare at the indicator level.
    penalty : float, default 1e-3
        Ridge penalty on the slopes (per customer), which keeps them finite when an
        indicator separates the outcome perfectly.

    Returns
    -------
    WeightSuggestion

    Raises
    ------
    InvalidDataError
        The outcome is missing for customers, not boolean, or of one class only.
    InvalidParameterError
        Judgment labels that are neither indicators nor top-level criteria, or a bad
        penalty.
    ConvergenceError
        The fit failed.

    Notes
    -----
    With judgments :math:`a_{ij}` and learned weights :math:`w`, the consistency ratio
    is Saaty's with :math:`\lambda = \frac{1}{n}\sum_i (A w)_i / w_i` in place of
    :math:`\lambda_{max}`: it is the usual ratio when :math:`w` is the judgments' own
    eigenvector, and grows as the data's weights move away from the judgments.

    Examples
    --------
    Retention driven by spend (slope 6) and visits (2), not tenure, while the
    judges rank visits first:

    >>> import crmscore as cs
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({k: rng.uniform(size=1000) for k in ["spend", "visits", "tenure"]})
    >>> chance = special.expit(-4 + 6 * frame["spend"] + 2 * frame["visits"])
    >>> outcome = pd.Series(rng.uniform(size=1000) < chance, name="retained")
    >>> judged = cs.PairwiseMatrix.from_judgments(
    ...     {("visits", "spend"): 2, ("visits", "tenure"): 4, ("spend", "tenure"): 2})
    >>> card = cs.Scorecard(hierarchy=cs.Criterion(name="value", weights=judged), indicators=[
    ...     cs.Indicator(name=k, direction="benefit", normaliser=cs.MinMax())
    ...     for k in ["spend", "visits", "tenure"]])
    >>> suggestion = learn_weights(card.fit(frame), frame, outcome, judgments=judged)
    >>> suggestion.summary().round(3)
            learned  current  difference
    label
    visits    0.239    0.571      -0.332
    spend     0.730    0.286       0.444
    tenure    0.031    0.143      -0.112
    >>> round(suggestion.auc, 3), round(suggestion.current_auc, 3)
    (0.847, 0.724)
    >>> round(suggestion.consistency_ratio, 2), suggestion.contradicted[0][:3]
    (4.24, ('visits', 'spend', 2.0))
    """
    owner = "learn_weights"
    check_frame(frame, name="frame", owner=owner)
    penalty = check_number(penalty, NON_NEGATIVE, name="penalty", owner=owner)
    y = _outcome(outcome, frame, owner=owner)
    indicators = list(fitted.indicators)
    points = fitted.normalised(frame).to_numpy(dtype=np.float64) / 100.0
    slopes = _fit_logistic(points, y.astype(np.float64), float(penalty))
    if slopes.sum() <= 0:
        raise InvalidDataError(
            f"{owner}: no indicator separates {outcome.name!r} in the direction the scorecard "
            "scores it (every learned weight is 0)."
        )
    learned = slopes / slopes.sum()
    in_use = np.array([fitted.scorecard.hierarchy.global_weights()[k] for k in indicators])
    auc = _auc(points @ learned, y)
    current_auc = _auc(points @ in_use, y)
    labels, groups = _level(fitted, judgments, owner=owner)
    learned_at = {label: float(learned[groups == g].sum()) for g, label in enumerate(labels)}
    current_at = {label: float(in_use[groups == g].sum()) for g, label in enumerate(labels)}
    ratio: float = math.nan
    fit: tuple[tuple[str, str, float, float], ...] = ()
    if judgments is not None:
        ratio, fit = _against(judgments, learned_at)
    return WeightSuggestion(
        outcome=str(outcome.name),
        weights=learned_at,
        current=current_at,
        auc=auc,
        current_auc=current_auc,
        consistency_ratio=ratio,
        judgments=fit,
        n_customers=int(y.size),
        n_positive=int(y.sum()),
    )


def _outcome(outcome: pd.Series[Any], frame: pd.DataFrame, *, owner: str) -> npt.NDArray[np.bool_]:
    if not pd.api.types.is_bool_dtype(getattr(outcome, "dtype", None) or object):
        raise InvalidDataError(
            f"{owner}: outcome must be a boolean Series indexed like frame.", column="outcome"
        )
    missing = ~frame.index.isin(outcome.index)
    reject_ids(frame.index, missing, column="outcome", problem="has no value for these customers")
    y = outcome.reindex(frame.index).to_numpy(dtype=bool)
    if y.all() or not y.any():
        raise InvalidDataError(
            f"{owner}: outcome {outcome.name!r} has one class only ({int(y.sum())} of "
            f"{y.size} true); there is nothing to separate.",
            column="outcome",
        )
    return y


def _level(
    fitted: FittedScorecard, judgments: PairwiseMatrix | None, *, owner: str
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Return the labels weights compare at, and each indicator's position among them."""
    indicators = list(fitted.indicators)
    if judgments is None or set(judgments.labels) == set(indicators):
        labels = list(judgments.labels) if judgments is not None else indicators
        return labels, np.array([labels.index(k) for k in indicators], dtype=np.int64)
    top = fitted.scorecard.hierarchy.top_level()
    if set(judgments.labels) != set(top.values()):
        raise InvalidParameterError(
            f"{owner}: the judgments compare {list(judgments.labels)}, which are neither the "
            f"scorecard's indicators {indicators} nor its top-level criteria "
            f"{sorted(set(top.values()))}."
        )
    labels = list(judgments.labels)
    return labels, np.array([labels.index(top[k]) for k in indicators], dtype=np.int64)


def _against(
    judgments: PairwiseMatrix, weights: Mapping[str, float]
) -> tuple[float, tuple[tuple[str, str, float, float], ...]]:
    labels = list(judgments.labels)
    w = np.array([max(weights[k], 1e-12) for k in labels])
    matrix = np.array(judgments.values, dtype=np.float64)
    n = len(labels)
    ratio = math.nan
    if n >= 3:
        lam = float(np.mean((matrix @ w) / w))
        ratio = max((lam - n) / (n - 1), 0.0) / RANDOM_INDEX[n]
    upper_i, upper_j = np.triu_indices(n, 1)
    fit = tuple(
        (labels[i], labels[j], float(matrix[i, j]), float(w[i] / w[j]))
        for i, j in zip(upper_i, upper_j, strict=True)
    )
    return ratio, fit
