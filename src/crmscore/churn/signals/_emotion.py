"""Emotion signals: complaint rise, negative reviews."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import attrs
import numpy as np

from crmscore._validation import to_float
from crmscore.churn.signals._base import (
    ChurnSignal,
    SignalResult,
    _finite,
    _history,
    _int_at_least,
    _name,
    _non_negative_or_none,
    _optional_days,
    _optional_float,
    one_of,
)
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from crmscore.churn._context import EventContext


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
        negative = reviews.numbers <= self.max_rating  # counted exactly
        high = np.inf if self.window_days is None else self.window_days
        value = context.total(reviews, 0, high, weights=negative)
        return SignalResult(fired=value >= self.min_count, value=value)

    def describe(self, value: float, reference: float) -> str:  # noqa: ARG002
        """One human-readable line for a measured value."""
        where = "ever" if self.window_days is None else f"in the last {self.window_days} days"
        return f"{value:g} negative review(s) (rating <= {self.max_rating:g}) {where}"
