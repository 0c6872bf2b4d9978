"""Value signals: spend drop, cart abandonment."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import attrs
import numpy as np

from crmscore._validation import to_float
from crmscore.churn.signals._base import (
    _RTOL,
    ChurnSignal,
    SignalResult,
    _fraction,
    _history,
    _int_at_least,
    _name,
    _optional_days,
)

if TYPE_CHECKING:
    from crmscore.churn._context import EventContext


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
