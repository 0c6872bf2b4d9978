"""Values of the learned warning: operating points, feature terms, windows (private)."""

from __future__ import annotations

import math
from numbers import Real
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._serialise import reads
from crmscore._validation import Interval, integer_at_least, to_float, validator
from crmscore.churn._features import (
    Measured,
    jsonable,
)
from crmscore.churn._metrics import precision_recall_counts
from crmscore.churn.rules import LEVELS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from crmscore.churn._history import CutOff


__all__ = [
    "IDENTITY",
    "TRANSFORMS",
    "FeatureTerm",
    "OperatingPoint",
    "TrainingWindow",
    "choose_threshold",
    "design",
    "float_field",
    "iso_date",
    "level_dtype",
    "point_on_curve",
    "probability_levels",
    "to_tuple",
    "window_labels",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]


def _slog(values: FloatArray) -> FloatArray:
    """Signed log: ``sign(v) * log(1 + |v|)`` (tames long tails, keeps order)."""
    return np.sign(values) * np.log1p(np.abs(values))


#: Features used as they are (probabilities, indicators, signed day counts).
IDENTITY = frozenset({"p_alive", "days_to_lapse", "lapse_within_lead"})


def _identity(values: FloatArray) -> FloatArray:
    return values


TRANSFORMS: dict[str, Callable[[FloatArray], FloatArray]] = {"slog": _slog, "identity": _identity}


def _optional_float(value: Any) -> float | None:
    return None if value is None else to_float(value)


_PROBABILITY = Interval(Real, 0, 1, closed="neither")


def _nan_equal(left: object, right: object) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return left == right or (math.isnan(left) and math.isnan(right))
    return left == right


def float_field() -> Any:
    """Build a float field that compares NaN equal to NaN."""
    return attrs.field(converter=to_float, eq=attrs.cmp_using(eq=_nan_equal))


def iso_date(day: int) -> str:
    """ISO date of a day number (days since 1970-01-01)."""
    return str(np.datetime64(day, "D"))


# --------------------------------------------------------------------------------------
# Values held by the fitted warning
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class OperatingPoint:
    """A probability threshold chosen on the training windows for a target precision.

    Precision and recall are those of warning every training customer-date whose
    probability is at least ``threshold``, for churn ``lead_days`` to the horizon
    after the cut-off. When no threshold reaches ``target_precision`` (with at
    least ``min_warned`` customer-dates warned), ``reachable`` is False,
    ``threshold`` is None (nobody is warned at this level) and
    ``best_precision`` says how far the target is.

    Examples
    --------
    >>> point = OperatingPoint(level="red", target_precision=0.85, lead_days=30,
    ...                        threshold=None, precision=float("nan"), recall=0.0,
    ...                        reachable=False, best_precision=0.62, best_threshold=0.71)
    >>> print(point.describe())
    red: 85 % precision at a 30-day lead is out of reach on the training windows (best 62 %)
    """

    level: str = attrs.field(validator=attrs.validators.in_(LEVELS[1:]))
    """The warning level this threshold opens (``blue``, ``yellow`` or ``red``)."""

    target_precision: float = attrs.field(converter=to_float, validator=validator(_PROBABILITY))
    """The precision asked for."""

    lead_days: int = attrs.field(validator=integer_at_least(0))
    """Churn must come at least this many days after the cut-off to count."""

    threshold: float | None = attrs.field(converter=_optional_float)
    """Lowest probability warned at this level (None: target out of reach)."""

    precision: float = float_field()
    """Precision reached on the training windows (NaN when out of reach)."""

    recall: float = float_field()
    """Share of the training churners warned at this threshold (0 when out of reach)."""

    reachable: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    """Whether the target precision was reached."""

    best_precision: float = float_field()
    """Best precision of any threshold warning at least ``min_warned`` customer-dates."""

    best_threshold: float | None = attrs.field(default=None, converter=_optional_float)
    """The threshold giving ``best_precision``."""

    base_rate: float = attrs.field(
        default=math.nan, converter=to_float, eq=attrs.cmp_using(eq=_nan_equal)
    )
    """Share of churners among the training customer-dates: a target at or below it
    is met by warning (almost) everyone."""

    def describe(self) -> str:
        """One line: what the threshold reaches, or that the target is out of reach."""
        target = 100 * self.target_precision
        head = f"{self.level}: {target:.0f} % precision at a {self.lead_days}-day lead"
        if not self.reachable:
            best = 100 * self.best_precision
            return f"{head} is out of reach on the training windows (best {best:.0f} %)"
        text = (
            f"{head} from probability {self.threshold:.3f}: precision "
            f"{100 * self.precision:.1f} %, recall {100 * self.recall:.1f} %"
        )
        if self.target_precision <= self.base_rate:
            text += (
                f" (the target is not above the base rate, {100 * self.base_rate:.1f} %: "
                "this level warns almost everyone; raise its target)"
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (NaN as None)."""
        return {k: jsonable(v) for k, v in attrs.asdict(self).items()}

    @classmethod
    @reads(optional=None)
    def from_dict(cls, data: Mapping[str, Any]) -> OperatingPoint:
        """Inverse of :meth:`to_dict`."""
        fields: dict[str, Any] = {
            k: (
                math.nan
                if v is None and k in ("precision", "recall", "best_precision", "base_rate")
                else v
            )
            for k, v in data.items()
        }
        return cls(**fields)


@attrs.frozen(kw_only=True)
class FeatureTerm:
    """One input of the fitted model: how it is measured, scaled and weighted.

    The model's log-odds are ``intercept + sum(coefficient * (t(x) - mean) / scale)``
    where ``t`` is the transform and a missing ``x`` is read as ``fill``.
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Feature name: a purchase feature, a signal name, or ``<name>_missing``."""

    transform: str = attrs.field(validator=attrs.validators.in_(tuple(TRANSFORMS)))
    """``slog`` (signed log, ``sign(x) log(1 + |x|)``) or ``identity``."""

    fill: float = float_field()
    """Transformed value used where the raw value is missing (training mean)."""

    mean: float = float_field()
    """Mean of the transformed feature on the training windows."""

    scale: float = float_field()
    """Standard deviation of the transformed feature on the training windows."""

    coefficient: float = float_field()
    """Log-odds per standard deviation (NaN for a plugged-in estimator)."""

    standard_error: float = float_field()
    """Standard error of the coefficient (inverse penalised Hessian; NaN if plugged in)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (NaN as None)."""
        return {k: jsonable(v) for k, v in attrs.asdict(self).items()}

    @classmethod
    @reads(optional=None)
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureTerm:
        """Inverse of :meth:`to_dict`."""
        fields: dict[str, Any] = {k: (math.nan if v is None else v) for k, v in data.items()}
        return cls(**fields)


@attrs.frozen(kw_only=True)
class TrainingWindow:
    """One cut-off the model learned from."""

    as_of: str = attrs.field(validator=attrs.validators.instance_of(str))
    """The cut-off (ISO date): features from events up to it, labels from after it."""

    customers: int = attrs.field(validator=integer_at_least(0))
    """Active customers at the cut-off (rows of the training data)."""

    churners: int = attrs.field(validator=integer_at_least(0))
    """Of those, how many churned ``lead_days`` to ``horizon_days`` days later."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return attrs.asdict(self)

    @classmethod
    @reads(optional=None)
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingWindow:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


# --------------------------------------------------------------------------------------
# Design matrix and thresholds
# --------------------------------------------------------------------------------------


def raw_feature(measured: Measured, name: str) -> FloatArray:
    if name.endswith("_missing") and name not in measured.features:
        return np.isnan(measured.features[name.removesuffix("_missing")]).astype(np.float64)
    return measured.features[name]


def design(
    terms: Sequence[FeatureTerm], measured: Measured, rows: npt.NDArray[np.bool_]
) -> FloatArray:
    """Build the standardised design of the ``rows`` customers (Fortran order).

    Each column is written in place: gathered, transformed (``slog`` as in
    :func:`_slog`, bit for bit), filled, centred and scaled.
    """
    index = np.flatnonzero(rows)
    out = np.empty((len(terms), index.size))
    for j, term in enumerate(terms):
        column = out[j]
        np.take(raw_feature(measured, term.name), index, out=column)
        if term.transform == "slog":
            negative = np.signbit(column)
            np.abs(column, out=column)
            np.log1p(column, out=column)
            np.negative(column, out=column, where=negative)
        else:
            column[:] = TRANSFORMS[term.transform](column)
        np.copyto(column, term.fill, where=np.isnan(column))
        column -= term.mean
        column /= term.scale
    return out.T


def churn_probability(x: FloatArray, intercept: float, coefficients: Iterable[float]) -> FloatArray:
    """Return the logistic probability of each row of the design ``x``.

    Column by column rather than ``x @ coefficients``: BLAS rounds a matrix product
    differently with the number of rows, so a customer's probability would change in
    the last bit with the batch it is scored in (Dask and Spark score per partition).
    This elementwise sum gives every row the same value in any batch.
    """
    eta = np.full(x.shape[0], intercept)
    for column, coefficient in zip(x.T, coefficients, strict=True):
        eta += column * coefficient
    probability: FloatArray = 1 / (1 + np.exp(-eta))
    return probability


def choose_threshold(
    y: FloatArray,
    probability: FloatArray,
    *,
    target: float,
    level: str,
    lead_days: int,
    min_warned: int,
) -> OperatingPoint:
    """Find the lowest threshold whose precision reaches ``target`` (most recall), if any."""
    curve = precision_recall_counts(y, probability)
    return point_on_curve(
        curve, y, target=target, level=level, lead_days=lead_days, min_warned=min_warned
    )


def point_on_curve(
    curve: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    y: FloatArray,
    *,
    target: float,
    level: str,
    lead_days: int,
    min_warned: int,
) -> OperatingPoint:
    """:func:`choose_threshold` on a precomputed :func:`precision_recall_counts`."""
    precision, recall, thresholds, warned = curve
    valid = warned >= min_warned
    if not valid.any():
        valid = warned >= warned.max(initial=0)
    best = int(np.argmax(np.where(valid, precision, -1.0))) if valid.any() else -1
    best_precision = float(precision[best]) if best >= 0 else math.nan
    best_threshold = float(thresholds[best]) if best >= 0 else None
    base_rate = float(y.mean()) if y.size else math.nan
    ok = valid & (precision >= target)
    common: dict[str, Any] = {
        "level": level,
        "target_precision": target,
        "lead_days": lead_days,
        "best_precision": best_precision,
        "best_threshold": best_threshold,
        "base_rate": base_rate,
    }
    if not ok.any():
        return OperatingPoint(
            threshold=None, precision=math.nan, recall=0.0, reachable=False, **common
        )
    k = int(np.flatnonzero(ok)[-1])
    return OperatingPoint(
        threshold=float(thresholds[k]),
        precision=float(precision[k]),
        recall=float(recall[k]),
        reachable=True,
        **common,
    )


def probability_levels(
    probability: FloatArray, points: Sequence[OperatingPoint]
) -> npt.NDArray[np.int8]:
    code = np.zeros(probability.size, dtype=np.int8)
    for point in points:
        if point.threshold is not None:
            hit = probability >= point.threshold
            code[hit] = np.maximum(code[hit], LEVELS.index(point.level))
    return code


def level_dtype() -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(LEVELS), ordered=True)


# --------------------------------------------------------------------------------------
# The fitted warning
# --------------------------------------------------------------------------------------


def to_tuple(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(values)


def window_labels(cut: CutOff, *, lead_days: int, horizon_days: int) -> FloatArray:
    """1 where the churn day is ``lead_days`` to ``horizon_days`` days after the cut-off."""
    ahead = cut.churn_day - cut.day
    with np.errstate(invalid="ignore"):
        hit = (ahead >= lead_days) & (ahead <= horizon_days)
    return hit.astype(np.float64)
