"""Per-customer indicators of the policy presets, read from the event log."""

from __future__ import annotations

from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmscore._events import validate_events
from crmscore._validation import Interval, check_integer
from crmscore.churn import ACTIVITY_KINDS
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Collection

    import numpy.typing as npt

__all__ = ["event_indicators"]

OWNER = "event_indicators"


#: Whole days, at least one.
_DAYS = Interval(Integral, 1, None, closed="left")


def _days(value: object, name: str) -> int:
    return check_integer(value, _DAYS, name=name, owner=OWNER)


def _ratio(numerator: npt.NDArray[Any], denominator: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def event_indicators(
    events: pd.DataFrame,
    *,
    as_of: Any,
    window_days: int = 365,
    month_days: int = 30,
    recent_days: int = 90,
    interaction_kinds: Collection[str] | None = None,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    kind_col: str = "kind",
    value_col: str = "value",
    event_id_col: str = "event_id",
    extra_kinds: Collection[str] = (),
) -> pd.DataFrame:
    """Per-customer indicators the policy presets read, from an event log.

    One pass over the log (no loop over customers). Days are calendar days: an
    event on ``as_of``'s day is 0 days old; events after it are left out.

    Parameters
    ----------
    events : pandas.DataFrame
        The event log (customer id, timestamp, ``kind``, ``value``; see the event
        contract in the churn guide). Not modified.
    as_of : date-like
        The evaluation date.
    window_days : int, default 365
        The year over which counts, spend and rates are taken; ``previous_spend``
        is the year before it.
    month_days : int, default 30
        Days in a month for "per month" rates and the last month's interactions.
    recent_days : int, default 90
        The recent span of ``recent_purchase_ratio``.
    interaction_kinds : collection of str, optional
        Kinds that count as an interaction. ``None`` (the default) means
        :data:`~crmscore.churn.ACTIVITY_KINDS` (every customer-initiated kind, as the churn signal
        *interaction stop*); pass ``("interaction",)`` for logins and contacts only.
    customer_col : str, default "customer_id"
        Column of customer ids.
    timestamp_col : str, default "timestamp"
        Column of timestamps.
    kind_col : str, default "kind"
        Column of event kinds.
    value_col : str, default "value"
        Column of event values.
    event_id_col : str, default "event_id"
        Column of event ids.
    extra_kinds : collection of str, default ()
        Kinds registered besides the built-in ones.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (every customer with an event on or before
        ``as_of``), float columns:

        ``tenure_days``
            Days since the customer's first event, plus one (the day itself counts).
        ``first_purchase_days``, ``days_since_purchase``
            Days since the first and the last purchase (NaN without a purchase).
        ``purchases_total``
            Purchases over the whole history.
        ``purchases``, ``spend``, ``previous_spend``
            Purchases and spend in the window; spend in the window before it.
        ``spend_growth``
            ``spend / previous_spend - 1`` (NaN when ``previous_spend`` is 0).
        ``purchases_per_month``
            Purchases in the window per ``month_days`` of the customer's time in the
            window (``min(tenure_days, window_days)``).
        ``average_order``
            ``spend / purchases`` (NaN without a purchase in the window).
        ``interactions_month``
            Interactions in the last ``month_days`` days.
        ``interactions_per_month``
            Interactions in the window per ``month_days`` of time in the window.
        ``days_since_interaction``
            Days since the last interaction (since the first event when there is
            none, as the churn signal *interaction stop*).
        ``reviews``, ``complaints``
            Reviews and complaints in the window.
        ``complaint_rate``
            ``complaints / purchases`` in the window (NaN without a purchase).
        ``recent_purchase_ratio``
            Purchases per month in the last ``recent_days`` divided by purchases per
            month in the rest of the window before them (NaN when there was no
            purchase before, or the customer is newer than ``recent_days``).

    Raises
    ------
    ColumnNotFoundError, InvalidDataError
        The log breaks the event contract.
    InvalidParameterError
        A parameter outside its domain, or ``recent_days >= window_days``.

    Examples
    --------
    >>> events = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2, 2],
    ...     "timestamp": pd.to_datetime(["2026-01-10", "2026-03-01", "2026-03-20",
    ...                                  "2025-06-01", "2026-03-25"]),
    ...     "kind": ["purchase", "purchase", "interaction", "purchase", "complaint"],
    ...     "value": [600.0, 400.0, None, 50.0, None]})
    >>> table = event_indicators(events, as_of="2026-03-31")
    >>> table[["days_since_purchase", "purchases", "spend", "average_order"]]
                 days_since_purchase  purchases   spend  average_order
    customer_id
    1                           30.0        2.0  1000.0          500.0
    2                          303.0        1.0    50.0           50.0
    >>> table[["complaint_rate", "interactions_month", "days_since_interaction"]]
                 complaint_rate  interactions_month  days_since_interaction
    customer_id
    1                       0.0                 1.0                    11.0
    2                       1.0                 1.0                     6.0
    """
    window = _days(window_days, "window_days")
    month = _days(month_days, "month_days")
    recent = _days(recent_days, "recent_days")
    if recent >= window:
        raise InvalidParameterError(
            f"{OWNER}: recent_days ({recent}) must be shorter than window_days ({window})."
        )
    log = validate_events(
        events,
        as_of=as_of,
        owner=OWNER,
        customer_col=customer_col,
        timestamp_col=timestamp_col,
        kind_col=kind_col,
        value_col=value_col,
        event_id_col=event_id_col,
        extra_kinds=extra_kinds,
    )
    if interaction_kinds is None:
        interaction_kinds = ACTIVITY_KINDS
    unknown = sorted(set(interaction_kinds) - set(log.kind_names))
    if unknown:
        raise InvalidParameterError(
            f"{OWNER}: interaction_kinds names unknown kind(s) {unknown}; known kinds are "
            f"{list(log.kind_names)}."
        )
    n = log.n_customers
    age = (log.as_of_day - log.days).astype(np.int64)  # 0 on as_of's day
    codes = log.codes

    def count(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        return np.bincount(codes[mask], minlength=n).astype(np.float64)

    def total(
        mask: npt.NDArray[np.bool_], values: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        # bincount returns integers when nothing is selected
        return np.bincount(codes[mask], weights=values[mask], minlength=n).astype(np.float64)

    def youngest(mask: npt.NDArray[np.bool_], default: npt.NDArray[np.float64]) -> Any:
        out = np.full(n, np.inf)
        np.minimum.at(out, codes[mask], age[mask].astype(np.float64))
        return np.where(np.isfinite(out), out, default)

    def oldest(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        out = np.full(n, -1.0)
        np.maximum.at(out, codes[mask], age[mask].astype(np.float64))
        return np.where(out >= 0, out, np.nan)

    everything = np.ones(codes.size, dtype=bool)
    missing = np.full(n, np.nan)
    purchase = log.kinds == log.kind_code("purchase")
    interaction = np.isin(log.kinds, [log.kind_code(k) for k in interaction_kinds])
    in_window = age < window
    before_window = (age >= window) & (age < 2 * window)
    amounts = np.nan_to_num(log.values)

    tenure = oldest(everything) + 1.0
    window_months = np.minimum(tenure, window) / month
    purchases = count(purchase & in_window)
    spend = total(purchase & in_window, amounts)
    previous = total(purchase & before_window, amounts)
    complaints = count((log.kinds == log.kind_code("complaint")) & in_window)
    interactions = count(interaction & in_window)
    recent_rate = count(purchase & (age < recent)) / (recent / month)
    earlier_days = np.minimum(tenure, window) - recent
    earlier_rate = _ratio(count(purchase & in_window & (age >= recent)), earlier_days / month)
    return pd.DataFrame(
        {
            "tenure_days": tenure,
            "first_purchase_days": oldest(purchase),
            "days_since_purchase": youngest(purchase, missing),
            "purchases_total": count(purchase),
            "purchases": purchases,
            "spend": spend,
            "previous_spend": previous,
            "spend_growth": _ratio(spend, previous) - 1.0,
            "purchases_per_month": purchases / window_months,
            "average_order": _ratio(spend, purchases),
            "interactions_month": count(interaction & (age < month)),
            "interactions_per_month": interactions / window_months,
            "days_since_interaction": youngest(interaction, tenure - 1.0),
            "reviews": count((log.kinds == log.kind_code("review")) & in_window),
            "complaints": complaints,
            "complaint_rate": _ratio(complaints, purchases),
            "recent_purchase_ratio": np.where(
                earlier_days > 0, _ratio(recent_rate, earlier_rate), np.nan
            ),
        },
        index=log.customers.rename(customer_col),
    )
