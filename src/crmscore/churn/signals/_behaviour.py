"""Behaviour signals: purchase frequency drop, interaction stop, review drop, account anomaly."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import attrs
import numpy as np

from crmscore.churn.signals._base import (
    ACTIVITY_KINDS,
    ChurnSignal,
    SignalResult,
    _history,
    _int_at_least,
    _kinds,
    _name,
    _to_kinds,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from crmscore.churn._context import EventContext


def _to_activity_kinds(values: Sequence[str] | None) -> tuple[str, ...]:
    """``None`` is :data:`ACTIVITY_KINDS`, as the signature's short default."""
    return ACTIVITY_KINDS if values is None else _to_kinds(values)


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
        default=None, converter=_to_activity_kinds, validator=_kinds
    )
    """Event kinds that count as an interaction. ``None`` (the default) means
    :data:`ACTIVITY_KINDS`; the sentinel keeps the long tuple out of ``help()``."""

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        last = context.last_age(context.subset(self.kinds, owner=type(self).__name__))
        seen = np.isfinite(last)
        # The first event's age is needed only for customers without such an event.
        value = last if seen.all() else np.where(seen, last, context.first_age())
        return SignalResult(fired=value >= self.days, value=value)

    def describe(self, value: float, reference: float) -> str:  # noqa: ARG002
        """One human-readable line for a measured value."""
        return f"no interaction for {value:g} days"


def _lapse_window(instance: PurchaseLapse, attribute: attrs.Attribute[int], value: int) -> None:
    del attribute
    if instance.days + instance.lead_days > value:
        from crmscore.errors import InvalidParameterError  # noqa: PLC0415 (rare path)

        raise InvalidParameterError.for_value(
            name="churn_days",
            owner="PurchaseLapse",
            allowed=f"at least days + lead_days ({instance.days + instance.lead_days})",
            got=value,
        )


@attrs.frozen(kw_only=True)
class PurchaseLapse(ChurnSignal):
    """Purchase lapse (购买间隔拉长): silent long enough to worry, early enough to act.

    The dairy plan's "purchase interval lengthening", with lead time. Exact
    definition: ``value`` is the number of days from the customer's latest
    purchase to the day of ``as_of``; the signal fires when
    ``days <= value <= churn_days - lead_days``. A customer silent for
    ``churn_days`` days has churned by the documented criterion
    (:func:`~crmscore.churn.observed_churn_dates`), so one silent for more than
    ``churn_days - lead_days`` days can only churn within ``lead_days``: too late for
    a warning ``lead_days`` ahead, and the signal no longer fires (other signals,
    such as :class:`InteractionStop`, still do). Customers who never purchased are
    not judged (NaN).

    Measured (see the churn guide): at the default 30 to 60 days of silence, 73 % of
    the customers it fires for on CDNOW churn 30 to 90 days later, at 50 % recall.

    Examples
    --------
    >>> PurchaseLapse().describe(41.0, float("nan"))
    'no purchase for 41 days (the 90-day churn criterion is met in 49 days)'
    """

    group: ClassVar[str] = "behaviour"
    type_name: ClassVar[str] = "purchase_lapse"

    name: str = _name("purchase_lapse")
    """Name of the signal in rules and output columns."""

    days: int = attrs.field(default=30, validator=_int_at_least(1))
    """Days without a purchase that fire the signal (the policy's 30-day silence)."""

    lead_days: int = attrs.field(default=30, validator=_int_at_least(0))
    """Notice a warning must give (policy: 30 days)."""

    churn_days: int = attrs.field(default=90, validator=[_int_at_least(1), _lapse_window])
    """Days without a purchase after which a customer has churned (the documented
    criterion, ``inactive_days`` elsewhere)."""

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        value = context.last_age(context.subset(("purchase",), owner=type(self).__name__))
        value = np.where(np.isfinite(value), value, np.nan)
        with np.errstate(invalid="ignore"):
            fired = (value >= self.days) & (value <= self.churn_days - self.lead_days)
        return SignalResult(fired=fired, value=value)

    def describe(self, value: float, reference: float) -> str:  # noqa: ARG002
        """One human-readable line for a measured value."""
        return (
            f"no purchase for {value:g} days (the {self.churn_days}-day churn criterion is "
            f"met in {self.churn_days - value:g} days)"
        )


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
