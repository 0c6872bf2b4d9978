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

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Literal,
    Protocol,
    Self,
    TypeAlias,
    runtime_checkable,
)

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._validation import integer_at_least, optional_integer_at_least, to_float
from crmscore.errors import InvalidDataError, InvalidParameterError
from crmscore.rfm._table import TIME_UNITS, TimeUnit, rfm_table

if TYPE_CHECKING:
    from collections.abc import Sequence

    from crmscore.churn._context import EventContext, FloatArray

__all__ = [
    "ACTIVITY_KINDS",
    "DEFAULT_SIGNALS",
    "SIGNAL_GROUPS",
    "AccountAnomaly",
    "AliveModel",
    "CartAbandonment",
    "ChurnSignal",
    "ComplaintRise",
    "InteractionStop",
    "NegativeReviews",
    "PAliveBelow",
    "PurchaseFrequencyDrop",
    "ReviewDrop",
    "SignalResult",
    "SpendDrop",
    "signal_from_dict",
]

#: The groups of the policy's signal table, plus ``model`` for model-based signals.
SIGNAL_GROUPS: tuple[str, ...] = ("behaviour", "emotion", "value", "model")

#: Customer-initiated kinds that count as "login or interaction" by default. An
#: ``account_change`` is a login from a new IP address or device: still a login.
ACTIVITY_KINDS: tuple[str, ...] = (
    "interaction",
    "purchase",
    "review",
    "complaint",
    "cart_abandoned",
    "cart_paid",
    "account_change",
)

#: Relative tolerance of threshold comparisons on ratios, so that a drop of
#: exactly 30 % fires although 0.7 * mean is not exact in floating point.
_RTOL = 1e-9


BoolArray: TypeAlias = npt.NDArray[np.bool_]


def _readonly_bool(values: npt.ArrayLike) -> BoolArray:
    out = np.asarray(values, dtype=np.bool_).view()
    out.setflags(write=False)
    return out


def _readonly_float(values: npt.ArrayLike) -> FloatArray:
    out = np.asarray(values, dtype=np.float64).view()
    out.setflags(write=False)
    return out


def _readonly_float_or_none(values: npt.ArrayLike | None) -> FloatArray | None:
    return None if values is None else _readonly_float(values)


def _arrays_equal(left: object, right: object) -> bool:
    if left is None or right is None:
        return left is right
    return bool(np.array_equal(left, right, equal_nan=True))  # type: ignore[arg-type]


def _same_length(
    instance: SignalResult, attribute: attrs.Attribute[Any], value: FloatArray | None
) -> None:
    if value is not None and value.shape != instance.fired.shape:
        raise InvalidParameterError(
            f"SignalResult: {attribute.name} has shape {value.shape}, fired has "
            f"{instance.fired.shape}; both hold one entry per customer."
        )


@attrs.frozen(kw_only=True)
class SignalResult:
    """What one signal measured for every customer (read-only arrays in customer order).

    Returned by :meth:`ChurnSignal.compute`; custom signals build one. The arrays
    are read-only views, and results compare equal when their arrays do (NaN equal
    to NaN).

    Examples
    --------
    >>> result = SignalResult(fired=[True, False], value=[31.0, float("nan")])
    >>> result.value
    array([31., nan])
    >>> result == SignalResult(fired=[True, False], value=[31.0, float("nan")])
    True
    """

    fired: BoolArray = attrs.field(converter=_readonly_bool, eq=attrs.cmp_using(eq=_arrays_equal))
    """Boolean array: the signal fired."""

    value: FloatArray = attrs.field(
        converter=_readonly_float,
        validator=_same_length,
        eq=attrs.cmp_using(eq=_arrays_equal),
    )
    """Float array: the measured value (NaN where the customer cannot be judged)."""

    reference: FloatArray | None = attrs.field(
        default=None,
        converter=_readonly_float_or_none,
        validator=_same_length,
        eq=attrs.cmp_using(eq=_arrays_equal),
    )
    """Float array of the customer's own baseline, for signals that compare with one."""


# --------------------------------------------------------------------------------------
# Validators shared by the signal classes
# --------------------------------------------------------------------------------------


_int_at_least = integer_at_least
_optional_days = optional_integer_at_least(1)


def one_of(choices: Sequence[str]) -> Any:
    """Build a validator: the value must be one of ``choices`` (InvalidParameterError)."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, str) or value not in choices:
            raise InvalidParameterError.for_value(
                name=attribute.name,
                owner=type(instance).__name__,
                allowed="one of {" + ", ".join(repr(c) for c in choices) + "}",
                got=value,
            )

    return check


def instance_of(cls: type | tuple[type, ...], allowed: str) -> Any:
    """Build a validator: the value must be a ``cls`` (InvalidParameterError)."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, cls):
            raise InvalidParameterError.for_value(
                name=attribute.name, owner=type(instance).__name__, allowed=allowed, got=value
            )

    return check


def _fraction(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 < value < 1:
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=type(instance).__name__,
            allowed="a number strictly between 0 and 1",
            got=value,
        )


def _finite(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not math.isfinite(value):
        raise InvalidParameterError.for_value(
            name=attribute.name, owner=type(instance).__name__, allowed="a finite number", got=value
        )


def _non_negative_or_none(
    instance: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=type(instance).__name__,
            allowed="None or a non-negative finite number",
            got=value,
        )


def _optional_float(value: Any) -> float | None:
    return None if value is None else to_float(value)


def _name(default: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or not value.isidentifier():
            raise InvalidParameterError.for_value(
                name=attribute.name,
                owner=type(instance).__name__,
                allowed="an identifier (letters, digits, underscores)",
                got=value,
            )

    return attrs.field(default=default, validator=check)


def _to_kinds(values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        return (values,)
    try:
        return tuple(values)
    except TypeError:  # not iterable: left for the validator to reject by name
        return values  # type: ignore[return-value]


def _kinds(instance: object, attribute: attrs.Attribute[tuple[str, ...]], value: object) -> None:
    if (
        not isinstance(value, tuple)
        or not value
        or not all(isinstance(k, str) and k for k in value)
    ):
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=type(instance).__name__,
            allowed="a non-empty sequence of event kinds",
            got=value,
        )


def _history(
    first_age: FloatArray, *, start: int, span: int, minimum: int
) -> tuple[FloatArray, Any]:
    """Days of a customer's baseline ``[start, start + span)`` after joining, and enough.

    The baseline covers ages ``start`` to ``start + span - 1`` that are not older than
    the customer's first relevant event (``first_age``, -1 if none).
    """
    days = np.minimum(first_age, start + span - 1) - start + 1
    days = np.maximum(days, 0.0)
    return days, days >= minimum


# --------------------------------------------------------------------------------------
# The base class
# --------------------------------------------------------------------------------------


class ChurnSignal:
    """Base class of the churn signals.

    Subclasses are frozen attrs classes with a ``name`` field (the column prefix in
    the output and the name rules refer to) and their thresholds.
    """

    __slots__ = ()

    #: Which group of the policy table the signal belongs to.
    group: ClassVar[str]
    #: Tag of the signal type in :meth:`to_dict`.
    type_name: ClassVar[str]
    #: Whether the signal compares with a per-customer baseline (a ``_reference`` column).
    has_reference: ClassVar[bool] = False

    name: str

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        raise NotImplementedError

    def describe(self, value: float, reference: float) -> str:
        """One human-readable line for a measured value, e.g. ``no interaction for 41 days``."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (``type`` names the class)."""
        data = attrs.asdict(self, recurse=False)  # type: ignore[arg-type]
        return {"type": self.type_name, **{k: _jsonable(v) for k, v in data.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, model: AliveModel | None = None) -> Self:
        """Inverse of :meth:`to_dict` (see :func:`signal_from_dict`), checked to be a ``cls``.

        Raises
        ------
        InvalidParameterError
            As :func:`signal_from_dict`, or ``data`` describes another signal type.

        Examples
        --------
        >>> InteractionStop.from_dict(InteractionStop(days=45).to_dict()).days
        45
        """
        signal = signal_from_dict(data, model=model)
        if not isinstance(signal, cls):
            raise InvalidParameterError.for_value(
                name="type",
                owner=f"{cls.__name__}.from_dict",
                allowed=f"a {cls.__name__} (or a subclass)",
                got=data.get("type"),
            )
        return signal


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# --------------------------------------------------------------------------------------
# Behaviour
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PurchaseFrequencyDrop(ChurnSignal):
    """Purchase frequency drop (购物频率下降): consecutive months below the customer's mean.

    Policy rule: "2 consecutive months below the customer's mean". Exact definition:
    count the customer's purchases in each of the last ``months`` rolling months
    (month ``k`` holds ages ``30k`` to ``30k + 29`` days); the baseline is the
    customer's mean number of purchases per 30 days over the ``baseline_months``
    months before those, counted from the customer's first purchase if that is
    later. The signal fires when **every** recent month has strictly fewer
    purchases than the baseline mean. ``value`` is the largest recent monthly
    count, ``reference`` the baseline mean. Customers whose baseline covers fewer
    than ``min_history_months`` months of days, or who never purchased, are not
    judged.

    Examples
    --------
    >>> PurchaseFrequencyDrop().describe(0.0, 1.5)
    'at most 0 purchase(s) in each of the last 2 months of 30 days, vs a mean of 1.50 a month'
    """

    group: ClassVar[str] = "behaviour"
    type_name: ClassVar[str] = "purchase_frequency_drop"
    has_reference: ClassVar[bool] = True

    name: str = _name("purchase_frequency_drop")
    """Name of the signal in rules and output columns."""

    months: int = attrs.field(default=2, validator=_int_at_least(1))
    """Consecutive recent months that must all be below the mean (policy: 2)."""

    month_days: int = attrs.field(default=30, validator=_int_at_least(1))
    """Length of a month in days."""

    baseline_months: int = attrs.field(default=12, validator=_int_at_least(1))
    """Months before the recent ones that make the customer's mean."""

    min_history_months: int = attrs.field(default=3, validator=_int_at_least(1))
    """Fewest baseline months (of days since the first purchase) needed to judge."""

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        purchases = context.subset(("purchase",), owner=type(self).__name__)
        m = self.month_days
        recent = context.windows(purchases, width=m, n_windows=self.months).max(axis=0)
        start = self.months * m
        days, enough = _history(
            context.oldest_age(purchases),
            start=start,
            span=self.baseline_months * m,
            minimum=self.min_history_months * m,
        )
        count = context.total(purchases, start, start + self.baseline_months * m, weights=None)
        mean = np.divide(count * m, days, out=np.full(context.n, np.nan), where=enough)
        value = np.where(enough, recent, np.nan)
        return SignalResult(fired=enough & (recent < mean), value=value, reference=mean)

    def describe(self, value: float, reference: float) -> str:
        """One human-readable line for a measured value."""
        return (
            f"at most {value:g} purchase(s) in each of the last {self.months} months of "
            f"{self.month_days} days, vs a mean of {reference:.2f} a month"
        )


@attrs.frozen(kw_only=True)
class InteractionStop(ChurnSignal):
    """Interaction stop (互动停止): no login or interaction for ``days`` days.

    Policy rule: "30 days without login or interaction". Exact definition:
    ``value`` is the number of days from the customer's latest event of one of
    ``kinds`` to the day of ``as_of`` (0 if there is one that day); it fires when
    ``value >= days``: a last interaction 30 days before ``as_of`` leaves 30 days
    without one and fires, 29 days does not. A customer with no such event is
    measured from their first event of any kind. By default every
    customer-initiated kind counts (:data:`ACTIVITY_KINDS`); pass
    ``kinds=("interaction",)`` to count logins and contacts only.

    Examples
    --------
    >>> InteractionStop().describe(41.0, float("nan"))
    'no interaction for 41 days'
    """

    group: ClassVar[str] = "behaviour"
    type_name: ClassVar[str] = "interaction_stop"

    name: str = _name("interaction_stop")
    """Name of the signal in rules and output columns."""

    days: int = attrs.field(default=30, validator=_int_at_least(1))
    """Days without interaction that fire the signal (policy: 30)."""

    kinds: tuple[str, ...] = attrs.field(
        default=ACTIVITY_KINDS, converter=_to_kinds, validator=_kinds
    )
    """Event kinds that count as an interaction."""

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        last = context.last_age(context.subset(self.kinds, owner=type(self).__name__))
        value = np.where(np.isfinite(last), last, context.first_age())
        return SignalResult(fired=value >= self.days, value=value)

    def describe(self, value: float, reference: float) -> str:  # noqa: ARG002
        """One human-readable line for a measured value."""
        return f"no interaction for {value:g} days"


@attrs.frozen(kw_only=True)
class ReviewDrop(ChurnSignal):
    """Review drop (评价减少): months without a review, for customers who used to review.

    Policy rule: "3 consecutive months without a review". Exact definition: a
    customer with at least ``min_reviews`` reviews is judged; ``value`` is the
    days since their latest review and the signal fires when
    ``value >= months * month_days`` (90 days: ages 0 to 89 hold no review).
    Customers with fewer reviews are not judged (NaN).

    Examples
    --------
    >>> ReviewDrop().describe(97.0, float("nan"))
    'no review for 97 days (after 2 or more reviews)'
    """

    group: ClassVar[str] = "behaviour"
    type_name: ClassVar[str] = "review_drop"

    name: str = _name("review_drop")
    """Name of the signal in rules and output columns."""

    months: int = attrs.field(default=3, validator=_int_at_least(1))
    """Months without a review that fire the signal (policy: 3)."""

    month_days: int = attrs.field(default=30, validator=_int_at_least(1))
    """Length of a month in days."""

    min_reviews: int = attrs.field(default=2, validator=_int_at_least(1))
    """Reviews a customer must have written to count as one who used to review."""

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        reviews = context.subset(("review",), owner=type(self).__name__)
        judged = context.count(reviews) >= self.min_reviews
        value = np.where(judged, context.last_age(reviews), np.nan)
        return SignalResult(fired=judged & (value >= self.months * self.month_days), value=value)

    def describe(self, value: float, reference: float) -> str:  # noqa: ARG002
        """One human-readable line for a measured value."""
        return f"no review for {value:g} days (after {self.min_reviews} or more reviews)"


@attrs.frozen(kw_only=True)
class AccountAnomaly(ChurnSignal):
    """Account anomaly (账户异常): login IP or device changes in a recent window.

    Policy rule: "login IP or device changed". Exact definition: ``value`` is the
    number of ``account_change`` events (one per detected change of login IP or
    device) in the last ``window_days`` days (ages 0 to ``window_days - 1``); the
    signal fires when ``value >= min_changes``. Every customer is judged.

    Examples
    --------
    >>> AccountAnomaly().describe(2.0, float("nan"))
    '2 login IP or device change(s) in the last 30 days'
    """

    group: ClassVar[str] = "behaviour"
    type_name: ClassVar[str] = "account_anomaly"

    name: str = _name("account_anomaly")
    """Name of the signal in rules and output columns."""

    window_days: int = attrs.field(default=30, validator=_int_at_least(1))
    """Recent window in days."""

    min_changes: int = attrs.field(default=1, validator=_int_at_least(1))
    """Changes in the window that fire the signal."""

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        changes = context.subset(("account_change",), owner=type(self).__name__)
        value = context.count(changes, 0, self.window_days)
        return SignalResult(fired=value >= self.min_changes, value=value)

    def describe(self, value: float, reference: float) -> str:  # noqa: ARG002
        """One human-readable line for a measured value."""
        return f"{value:g} login IP or device change(s) in the last {self.window_days} days"


# --------------------------------------------------------------------------------------
# Emotion
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ComplaintRise(ChurnSignal):
    """Complaint rise (投诉增加): consecutive weeks with complaints above the mean.

    Policy rule: "2 consecutive weeks with complaint rate above the mean" (the
    customer's or the population's mean). Exact definition: count complaints in
    each of the last ``weeks`` rolling weeks (week ``k`` holds ages ``7k`` to
    ``7k + 6``). The mean, in complaints per customer-week, is:

    - ``baseline="customer"`` (default): the customer's own mean per week over the
      ``baseline_weeks`` weeks before the recent ones, counted from the
      customer's first event of any kind if that is later (0 for a customer with
      no earlier history);
    - ``baseline="population"``: the population's rate measured on the same log
      over the same weeks: all customers' complaints in those weeks, times
      ``week_days``, over the sum of every customer's baseline days (each counted
      from the customer's first event, as above); 0 if no customer has any. This
      one number is every customer's mean, so a customer's result then depends on
      the other customers of the log;
    - ``reference_rate``, when given: that fixed number (e.g. a rate measured on
      another period); it cannot be combined with ``baseline="population"``.

    The signal fires when **every** recent week has strictly more complaints than
    the mean, so at least one each week. ``value`` is the smallest recent weekly
    count, ``reference`` the mean. Every customer is judged.

    Examples
    --------
    >>> ComplaintRise().describe(1.0, 0.04)
    'at least 1 complaint(s) in each of the last 2 weeks, vs a mean of 0.04 a week'
    >>> ComplaintRise(baseline="population").baseline
    'population'
    """

    group: ClassVar[str] = "emotion"
    type_name: ClassVar[str] = "complaint_rise"
    has_reference: ClassVar[bool] = True

    name: str = _name("complaint_rise")
    """Name of the signal in rules and output columns."""

    weeks: int = attrs.field(default=2, validator=_int_at_least(1))
    """Consecutive recent weeks that must all be above the mean (policy: 2)."""

    week_days: int = attrs.field(default=7, validator=_int_at_least(1))
    """Length of a week in days."""

    baseline_weeks: int = attrs.field(default=26, validator=_int_at_least(1))
    """Weeks before the recent ones that make the customer's own mean."""

    reference_rate: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_non_negative_or_none
    )
    """A fixed mean (complaints per week) instead of a measured one."""

    baseline: Literal["customer", "population"] = attrs.field(
        default="customer", validator=one_of(("customer", "population"))
    )
    """Whose mean is measured on the log: the customer's own, or the population's."""

    def __attrs_post_init__(self) -> None:
        if self.reference_rate is not None and self.baseline == "population":
            raise InvalidParameterError(
                "The 'reference_rate' parameter of ComplaintRise must be None when "
                "baseline='population' (the rate is then measured on the log). Got "
                f"{self.reference_rate!r} instead."
            )

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        complaints = context.subset(("complaint",), owner=type(self).__name__)
        w = self.week_days
        recent = context.windows(complaints, width=w, n_windows=self.weeks).min(axis=0)
        if self.reference_rate is not None:
            mean = np.full(context.n, self.reference_rate)
        else:
            start, span = self.weeks * w, self.baseline_weeks * w
            days, _ = _history(context.first_age(), start=start, span=span, minimum=1)
            count = context.total(complaints, start, start + span, weights=None)
            if self.baseline == "population":
                total_days = float(days.sum())
                rate = float(count.sum()) * w / total_days if total_days > 0 else 0.0
                mean = np.full(context.n, rate)
            else:
                mean = np.divide(count * w, days, out=np.zeros(context.n), where=days > 0)
        return SignalResult(fired=recent > mean, value=recent, reference=mean)

    def describe(self, value: float, reference: float) -> str:
        """One human-readable line for a measured value."""
        return (
            f"at least {value:g} complaint(s) in each of the last {self.weeks} weeks, "
            f"vs a mean of {reference:.2f} a week"
        )


@attrs.frozen(kw_only=True)
class NegativeReviews(ChurnSignal):
    """Negative reviews (负面评价): several low ratings in a recent window.

    Policy rule: "3 or more negative feedbacks". Exact definition: ``value`` is the
    number of reviews with rating ``<= max_rating`` (on the 1-5 scale of the event
    contract) in the last ``window_days`` days, or ever if ``window_days`` is
    None; the signal fires when ``value >= min_count``. The policy states no
    window; 90 days (a quarter) keeps old grievances from firing forever. Every
    customer is judged.

    Examples
    --------
    >>> NegativeReviews().describe(3.0, float("nan"))
    '3 negative review(s) (rating <= 2) in the last 90 days'
    """

    group: ClassVar[str] = "emotion"
    type_name: ClassVar[str] = "negative_reviews"

    name: str = _name("negative_reviews")
    """Name of the signal in rules and output columns."""

    min_count: int = attrs.field(default=3, validator=_int_at_least(1))
    """Negative reviews that fire the signal (policy: 3)."""

    max_rating: float = attrs.field(default=2.0, converter=to_float, validator=_finite)
    """Highest rating that counts as negative."""

    window_days: int | None = attrs.field(default=90, validator=_optional_days)
    """Recent window in days (None: the whole history)."""

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        reviews = context.subset(("review",), owner=type(self).__name__)
        negative = (reviews.numbers <= self.max_rating).astype(np.float64)
        high = np.inf if self.window_days is None else self.window_days
        value = context.total(reviews, 0, high, weights=negative)
        return SignalResult(fired=value >= self.min_count, value=value)

    def describe(self, value: float, reference: float) -> str:  # noqa: ARG002
        """One human-readable line for a measured value."""
        where = "ever" if self.window_days is None else f"in the last {self.window_days} days"
        return f"{value:g} negative review(s) (rating <= {self.max_rating:g}) {where}"


# --------------------------------------------------------------------------------------
# Value
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SpendDrop(ChurnSignal):
    """Spend drop (消费金额下降): recent spend a share below the historical mean.

    Policy rule: "spend 30 % below the customer's historical mean". Exact
    definition: recent spend per 30 days is the purchase amount of the last
    ``recent_days`` days divided by ``recent_days / month_days``; the historical
    mean is the spend per 30 days over the ``baseline_months`` months before that,
    counted from the customer's first purchase if that is later. ``value`` is the
    relative drop ``1 - recent / mean`` and the signal fires when
    ``value >= drop`` (exactly 30 % fires; ratios are compared with a relative
    tolerance of 1e-9). ``reference`` is the historical mean. Customers with less
    than ``min_history_months`` months of baseline days or no baseline spend are
    not judged. The default recent window, 90 days, is twice the mean purchase
    cycle (45 days), so that a regular customer has purchases in it.

    Examples
    --------
    >>> SpendDrop().describe(0.42, 410.0)
    'spend 42 % below the historical mean of 410.00 a month'
    """

    group: ClassVar[str] = "value"
    type_name: ClassVar[str] = "spend_drop"
    has_reference: ClassVar[bool] = True

    name: str = _name("spend_drop")
    """Name of the signal in rules and output columns."""

    drop: float = attrs.field(default=0.30, converter=to_float, validator=_fraction)
    """Relative drop that fires the signal (policy: 0.30)."""

    recent_days: int = attrs.field(default=90, validator=_int_at_least(1))
    """Recent window in days."""

    month_days: int = attrs.field(default=30, validator=_int_at_least(1))
    """Length of a month in days (spend is compared per month)."""

    baseline_months: int = attrs.field(default=12, validator=_int_at_least(1))
    """Months before the recent window that make the historical mean."""

    min_history_months: int = attrs.field(default=3, validator=_int_at_least(1))
    """Fewest baseline months (of days since the first purchase) needed to judge."""

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        purchases = context.subset(("purchase",), owner=type(self).__name__)
        m, start = self.month_days, self.recent_days
        span = self.baseline_months * m
        days, enough = _history(
            context.oldest_age(purchases),
            start=start,
            span=span,
            minimum=self.min_history_months * m,
        )
        baseline = context.total(purchases, start, start + span, weights=purchases.numbers)
        recent = context.total(purchases, 0, start, weights=purchases.numbers)
        judged = enough & (baseline > 0)
        mean = np.divide(baseline * m, days, out=np.full(context.n, np.nan), where=judged)
        ratio = np.divide(recent * m / start, mean, out=np.full(context.n, np.nan), where=judged)
        fired = judged & (ratio <= (1 - self.drop) * (1 + _RTOL))
        return SignalResult(fired=fired, value=1 - ratio, reference=mean)

    def describe(self, value: float, reference: float) -> str:
        """One human-readable line for a measured value."""
        return f"spend {100 * value:.0f} % below the historical mean of {reference:.2f} a month"


@attrs.frozen(kw_only=True)
class CartAbandonment(ChurnSignal):
    """Cart abandonment (购物车放弃): consecutive unpaid carts.

    Policy rule: "2 consecutive unpaid carts". Exact definition: ``value`` is the
    number of ``cart_abandoned`` events after the customer's latest ``cart_paid``
    event (all of them if none was paid), i.e. the run of unpaid carts at the end
    of the customer's cart history; it fires when ``value >= consecutive``. Order
    is by timestamp; an abandoned cart at the same instant as the latest paid one
    counts as before it. With ``window_days`` only carts of the last
    ``window_days`` days count. Every customer is judged.

    Examples
    --------
    >>> CartAbandonment().describe(3.0, float("nan"))
    '3 unpaid cart(s) in a row'
    """

    group: ClassVar[str] = "value"
    type_name: ClassVar[str] = "cart_abandonment"

    name: str = _name("cart_abandonment")
    """Name of the signal in rules and output columns."""

    consecutive: int = attrs.field(default=2, validator=_int_at_least(1))
    """Unpaid carts in a row that fire the signal (policy: 2)."""

    window_days: int | None = attrs.field(default=None, validator=_optional_days)
    """Only carts of the last ``window_days`` days count (None: all)."""

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        owner = type(self).__name__
        paid = context.subset(("cart_paid",), owner=owner)
        unpaid = context.subset(("cart_abandoned",), owner=owner)
        last_paid = np.full(context.n, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(last_paid, paid.codes, paid.stamps)
        after = unpaid.stamps > last_paid[unpaid.codes]
        if self.window_days is not None:
            after &= unpaid.ages < self.window_days
        value = np.bincount(unpaid.codes[after], minlength=context.n).astype(np.float64)
        return SignalResult(fired=value >= self.consecutive, value=value)

    def describe(self, value: float, reference: float) -> str:  # noqa: ARG002
        """One human-readable line for a measured value."""
        return f"{value:g} unpaid cart(s) in a row"


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------


@runtime_checkable
class AliveModel(Protocol):
    """Anything that gives P(alive) from an RFM table (e.g. a fitted BG/NBD model).

    ``table`` is a table from :func:`crmscore.rfm.rfm_table` (``frequency``,
    ``recency``, ``T`` in the model's time unit); the result is indexed like it.
    """

    def probability_alive(self, table: pd.DataFrame) -> pd.Series[float]:
        """P(the customer is still active) for every row of ``table``."""
        ...


def _alive_model(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not callable(getattr(value, "probability_alive", None)):
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=type(instance).__name__,
            allowed="an object with a probability_alive(table) method",
            got=type(value).__name__,
        )


@attrs.frozen(kw_only=True)
class PAliveBelow(ChurnSignal):
    """P(alive) from a fitted purchase model below a threshold.

    Exact definition: the purchase events up to ``as_of`` are summarised with
    :func:`crmscore.rfm.rfm_table` in ``time_unit`` (amount = ``value``), the
    model's ``probability_alive`` gives ``value``, and the signal fires when
    ``value < threshold``. Customers without a purchase are not judged. The model
    is any object with ``probability_alive(table) -> Series`` (:class:`AliveModel`),
    such as a fitted BG/NBD model; it must have been fitted in the same
    ``time_unit``.

    Examples
    --------
    >>> class Constant:
    ...     def probability_alive(self, table):
    ...         return pd.Series(0.25, index=table.index)
    >>> PAliveBelow(model=Constant()).describe(0.25, float("nan"))
    'P(alive) 0.25, below 0.5'
    """

    group: ClassVar[str] = "model"
    type_name: ClassVar[str] = "p_alive"

    model: AliveModel = attrs.field(validator=_alive_model)
    """The fitted model (not serialised by :meth:`to_dict`)."""

    name: str = _name("p_alive_low")
    """Name of the signal in rules and output columns."""

    threshold: float = attrs.field(default=0.5, converter=to_float, validator=_fraction)
    """P(alive) strictly below this fires the signal."""

    time_unit: TimeUnit = attrs.field(default="D", validator=one_of(TIME_UNITS))
    """Time unit of the RFM table the model expects."""

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        events = context.events
        value = np.full(context.n, np.nan)
        purchases = context.subset(("purchase",), owner=type(self).__name__)
        if purchases.codes.size:
            transactions = pd.DataFrame(
                {
                    "customer": purchases.codes,
                    "timestamp": purchases.stamps.view(events.stamps.dtype),
                    "amount": purchases.numbers,
                }
            )
            table = rfm_table(
                transactions, as_of=events.as_of, time_unit=self.time_unit, customer_col="customer"
            )
            codes = table.index.to_numpy()
            table.index = events.customers[codes]
            alive: object = self.model.probability_alive(table)
            if not isinstance(alive, pd.Series) or not alive.index.equals(table.index):
                raise InvalidDataError(
                    f"{type(self.model).__name__}.probability_alive must return a Series "
                    "indexed like the RFM table it is given."
                )
            p = alive.to_numpy(dtype=np.float64, na_value=np.nan)
            bad = ~((p >= 0) & (p <= 1))
            if bad.any():
                raise InvalidDataError.for_ids(
                    column=None,
                    problem=f"{type(self.model).__name__}.probability_alive gives values "
                    "outside [0, 1] or NaN",
                    ids=list(table.index[bad][:5]),
                    n_offending=int(bad.sum()),
                )
            value[codes] = p
        return SignalResult(fired=value < self.threshold, value=value)

    def describe(self, value: float, reference: float) -> str:  # noqa: ARG002
        """One human-readable line for a measured value."""
        return f"P(alive) {value:.2f}, below {self.threshold:g}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation, without the model."""
        return {
            "type": self.type_name,
            "name": self.name,
            "threshold": self.threshold,
            "time_unit": self.time_unit,
        }


#: The eight signals of the policy table, with the policy's thresholds.
DEFAULT_SIGNALS: tuple[ChurnSignal, ...] = (
    PurchaseFrequencyDrop(),
    InteractionStop(),
    ReviewDrop(),
    AccountAnomaly(),
    ComplaintRise(),
    NegativeReviews(),
    SpendDrop(),
    CartAbandonment(),
)

_SIGNAL_TYPES: dict[str, type[ChurnSignal]] = {
    cls.type_name: cls
    for cls in (
        PurchaseFrequencyDrop,
        InteractionStop,
        ReviewDrop,
        AccountAnomaly,
        ComplaintRise,
        NegativeReviews,
        SpendDrop,
        CartAbandonment,
        PAliveBelow,
    )
}


def signal_from_dict(data: Mapping[str, Any], *, model: AliveModel | None = None) -> ChurnSignal:
    """Rebuild a signal from :meth:`ChurnSignal.to_dict`.

    Parameters
    ----------
    data : mapping
        The dictionary, with its ``type`` tag.
    model : AliveModel, optional
        The model of a P(alive) signal (models are not serialised with it).

    Returns
    -------
    ChurnSignal

    Raises
    ------
    InvalidParameterError
        Unknown ``type``, or a P(alive) signal without ``model``.

    Examples
    --------
    >>> signal_from_dict(InteractionStop(days=45).to_dict())
    InteractionStop(name='interaction_stop', days=45, kinds=('interaction', ...))
    """
    owner = "signal_from_dict"
    if not isinstance(data, Mapping):
        raise InvalidParameterError.for_value(
            name="data", owner=owner, allowed="a mapping", got=type(data).__name__
        )
    fields = dict(data)
    kind = fields.pop("type", None)
    cls = _SIGNAL_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidParameterError.for_value(
            name="type",
            owner=owner,
            allowed=f"one of {sorted(_SIGNAL_TYPES)}",
            got=kind,
        )
    known = {a.name for a in attrs.fields(cls)} - {"model"}  # type: ignore[arg-type]
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidParameterError(
            f"{owner}: a {kind!r} signal has no parameters {unknown}; its parameters are "
            f"{sorted(known)}."
        )
    if cls is PAliveBelow:
        if model is None:
            raise InvalidParameterError(
                "A P(alive) signal is serialised without its model; pass model= to rebuild it."
            )
        fields["model"] = model
    return cls(**fields)
