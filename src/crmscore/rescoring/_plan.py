"""The practice guide's automation schedules as data, and the dated action plan they give.

No I/O and no clock: :func:`action_plan` reads a book and returns the dated actions
per customer for a period, so a service can execute them (send the offer, book the
call) and record the outcome as events.
"""

from __future__ import annotations

from numbers import Integral
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, cast

import attrs
import numpy as np
import pandas as pd

from crmscore._serialise import reads
from crmscore._validation import (
    Interval,
    OneOf,
    as_timestamp,
    check_choice,
    check_integer,
    is_int,
    validator,
)
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy.typing as npt

    from crmscore.rescoring._book import Book

__all__ = [
    "DEFAULT_SCHEDULES",
    "WEEKDAYS",
    "ActionSchedule",
    "Audience",
    "Cadence",
    "action_plan",
]

Audience: TypeAlias = Literal["vip_candidate", "follow_up", "dormant", "everyone"]
Cadence: TypeAlias = Literal["once", "weekly", "quarterly"]

WEEKDAYS: Mapping[str, int] = MappingProxyType(
    {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
     "sunday": 6}
)  # fmt: skip
"""Weekday names and their numbers (Monday 0), as :attr:`ActionSchedule.weekday` takes."""

_AUDIENCES: tuple[Audience, ...] = ("vip_candidate", "follow_up", "dormant", "everyone")
_CADENCES: tuple[Cadence, ...] = ("once", "weekly", "quarterly")
_DAY = np.timedelta64(1, "D")


def _weekday(value: object) -> int:
    if isinstance(value, str) and value.lower() in WEEKDAYS:
        return WEEKDAYS[value.lower()]
    if is_int(value, minimum=0) and int(cast("int", value)) <= 6:
        return int(cast("int", value))
    raise InvalidParameterError.for_value(
        name="weekday",
        owner="ActionSchedule",
        allowed=f"0 (Monday) to 6 (Sunday) or one of {list(WEEKDAYS)}",
        got=value,
    )


def _to_tiers(values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        return (values,)
    return tuple(values)


def _name(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidParameterError.for_value(
            name=attribute.name, owner="ActionSchedule", allowed="a non-empty string", got=value
        )


@attrs.frozen(kw_only=True)
class ActionSchedule:
    """One automated action of the practice guide: who gets it, and when.

    Audiences (read from the book at the plan's dates):

    ``vip_candidate``
        Cumulative spend at least ``invitation_spend`` (1000) and no invitation
        recorded before the period (the VIP upgrade invitation).
    ``follow_up``
        No purchase for ``follow_up_months`` (6): from the day that falls due
        (flagged for follow-up, 重点跟进).
    ``dormant``
        No activity for ``dormant_days`` (180, six months) at the date (沉睡).
    ``everyone``
        Every customer of the chosen tiers.

    Cadences: ``once`` (on the day the customer enters the audience, when that day
    falls in the period; a VIP candidate who reached the threshold earlier without a
    recorded invitation enters on the period's first day), ``weekly`` (every week on
    ``weekday`` from that day) and ``quarterly`` (on the first day of each calendar
    quarter, to the customers then in the audience).

    Examples
    --------
    >>> offer = ActionSchedule(action="win_back_offer", label_en="Win-back offer",
    ...                        label_zh="挽回优惠", audience="follow_up", cadence="weekly",
    ...                        weekday="monday")
    >>> offer.weekday, offer.describe()
    (0, 'win_back_offer: follow_up, weekly on Monday')
    """

    action: str = attrs.field(validator=_name)
    """Machine name of the action, e.g. ``"win_back_offer"``."""

    label_en: str = attrs.field(validator=_name)
    """English label."""

    label_zh: str = attrs.field(validator=_name)
    """Chinese label."""

    audience: Audience = attrs.field(validator=validator(OneOf(_AUDIENCES)))
    """Who gets it (see above)."""

    cadence: Cadence = attrs.field(validator=validator(OneOf(_CADENCES)))
    """How often."""

    weekday: int = attrs.field(default=0, converter=_weekday)
    """Day of the week of a weekly action: 0 (Monday, the text's) to 6, or a name."""

    tiers: tuple[str, ...] = attrs.field(default=(), converter=_to_tiers)
    """Only customers in these tiers (keys or labels); every tier when empty."""

    priority: int = attrs.field(
        default=0, validator=validator(Interval(int, None, None, closed="neither"))
    )
    """Lower goes first when a contact cap leaves room for only some actions."""

    def describe(self) -> str:
        """Describe the schedule in one line."""
        when: str = self.cadence
        if self.cadence == "weekly":
            when = f"weekly on {list(WEEKDAYS)[self.weekday].capitalize()}"
        tiers = f" ({', '.join(self.tiers)})" if self.tiers else ""
        return f"{self.action}: {self.audience}{tiers}, {when}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        data = attrs.asdict(self)
        data["tiers"] = list(self.tiers)
        return data

    @classmethod
    @reads("action", "label_en", "label_zh", "audience", "cadence", optional=None)
    def from_dict(cls, data: Mapping[str, Any]) -> ActionSchedule:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


DEFAULT_SCHEDULES: tuple[ActionSchedule, ...] = (
    ActionSchedule(
        action="vip_invitation",
        label_en="VIP upgrade invitation",
        label_zh="VIP升级邀请",
        audience="vip_candidate",
        cadence="once",
        priority=0,
    ),
    ActionSchedule(
        action="follow_up",
        label_en="Follow-up",
        label_zh="重点跟进",
        audience="follow_up",
        cadence="once",
        priority=1,
    ),
    ActionSchedule(
        action="win_back_offer",
        label_en="Win-back offer",
        label_zh="挽回优惠",
        audience="follow_up",
        cadence="weekly",
        weekday=0,
        priority=2,
    ),
    ActionSchedule(
        action="wake_up",
        label_en="Wake-up campaign",
        label_zh="沉睡唤醒",
        audience="dormant",
        cadence="quarterly",
        priority=3,
    ),
)
"""The practice guide's automation, as schedules.

Cumulative spend >= 1000 → a VIP upgrade invitation; 6 months without a purchase →
a follow-up (重点跟进) and a win-back offer every week on Monday; dormant customers
(no activity for 6 months) → a wake-up campaign every quarter.
"""


def _triggers(
    book: Book,
    audiences: set[Audience],
    invitation_spend: float | None,
    follow_up_months: int | None,
) -> tuple[float | None, int | None]:
    """Return the invitation threshold and the follow-up period, checked where needed."""
    owner = "action_plan"
    threshold = book.policy.invitation_spend if invitation_spend is None else invitation_spend
    months = book.policy.follow_up_months if follow_up_months is None else follow_up_months
    if "vip_candidate" in audiences and threshold is None:
        raise InvalidParameterError(
            f"{owner}: a schedule invites VIP candidates but neither invitation_spend nor the "
            "book's policy gives a threshold."
        )
    if "follow_up" not in audiences:
        return threshold, months
    if months is None:
        raise InvalidParameterError(
            f"{owner}: a schedule follows up customers but neither follow_up_months nor the "
            "book's policy gives a period."
        )
    return threshold, _whole(months, name="follow_up_months", minimum=1)


def _day_value(value: object, *, name: str) -> np.datetime64:
    stamp = as_timestamp(value, name=name, owner="action_plan")
    day: np.datetime64 = np.array([stamp.to_datetime64()]).astype("datetime64[D]")[0]
    return day


def _whole(value: object, *, name: str, minimum: int) -> int:
    constraint = Interval(Integral, minimum, None, closed="left")
    return check_integer(value, constraint, name=name, owner="action_plan")


def action_plan(
    book: Book,
    *,
    start: Any,
    end: Any,
    schedules: Sequence[ActionSchedule] | None = None,
    invitation_spend: float | None = None,
    follow_up_months: int | None = None,
    dormant_days: int = 180,
    last_activity: pd.Series[Any] | None = None,
    max_contacts: int | None = None,
    cap_days: int = 7,
    language: str = "en",
) -> pd.DataFrame:
    """Return the dated actions per customer for a period, with contact-frequency caps.

    The plan is what the book knows at its ``as_of``: a customer flagged for
    follow-up keeps getting weekly offers through ``end`` unless a purchase clears
    the flag, so a service re-plans after ingesting new events.

    Parameters
    ----------
    book : Book
        The book (state, tiers and audit trail).
    start : date-like
        The period, first and last day included.
    end : date-like
        The period, first and last day included.
    schedules : sequence of ActionSchedule, optional
        What to plan. ``None`` (the default) means :data:`DEFAULT_SCHEDULES`; the
        sentinel keeps their long repr out of the signature ``help()`` shows.
    invitation_spend : float, optional
        Cumulative spend of a VIP candidate; the book's policy's (1000) by default.
    follow_up_months : int, optional
        Months without a purchase before a follow-up; the policy's (6) by default.
    dormant_days : int, default 180
        Days without activity from which a customer is dormant.
    last_activity : pandas.Series, optional
        Time of each customer's latest activity (e.g. ``as_of - days_since_interaction``
        from :func:`~crmscore.tiering.event_indicators`), indexed by customer id; the
        book's last purchase by default (the book does not keep interactions).
    max_contacts : int, optional
        At most this many actions per customer in any ``cap_days`` consecutive days;
        the schedules' priority (then date) decides which stay. No cap by default.
    cap_days : int, default 7
        The window of the cap.
    language : {"en", "zh"}, default "en"
        Language of the ``label`` and ``tier`` columns.

    Returns
    -------
    pandas.DataFrame
        One row per action: the customer (a column named after the book's
        ``customer_col``, ``customer_id`` by default), ``date`` (a day), ``action``,
        ``label``, ``tier`` (current), ``priority``; sorted by date, customer and
        priority. ``attrs["capped"]`` counts the actions the cap removed.

    Raises
    ------
    InvalidParameterError
        A bad parameter, ``end`` before ``start``, or no invitation threshold or
        follow-up period where a schedule needs one.

    Examples
    --------
    >>> import crmscore as cs
    >>> card = cs.Scorecard(
    ...     hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
    ...     indicators=[cs.Indicator(name="total_spend", direction="benefit",
    ...                              normaliser=cs.FixedRange(low=0, high=2000))])
    >>> events = pd.DataFrame({
    ...     "customer_id": ["a", "b"], "kind": ["purchase", "purchase"],
    ...     "timestamp": pd.to_datetime(["2025-01-10", "2025-06-01"]),
    ...     "value": [300.0, 1500.0], "event_id": [1, 2]})
    >>> book = cs.open_book(cs.RescoringPolicy(scorecard=card, invitation_spend=None),
    ...                     events, as_of="2025-07-01").book
    >>> plan = action_plan(book, start="2025-07-01", end="2025-07-31", invitation_spend=1000)
    >>> plan[["customer_id", "date", "action"]]
      customer_id       date          action
    0           b 2025-07-01  vip_invitation
    1           a 2025-07-10       follow_up
    2           a 2025-07-14  win_back_offer
    3           a 2025-07-21  win_back_offer
    4           a 2025-07-28  win_back_offer
    >>> capped = action_plan(book, start="2025-07-01", end="2025-07-31",
    ...                      invitation_spend=1000, max_contacts=1, cap_days=14)
    >>> capped["date"].dt.day.tolist(), capped.attrs["capped"]
    ([1, 10, 28], 2)
    """
    owner = "action_plan"
    check_choice(language, name="language", owner=owner, choices=("en", "zh"))
    first, last = _day_value(start, name="start"), _day_value(end, name="end")
    if last < first:
        raise InvalidParameterError(f"{owner}: end ({end}) is before start ({start}).")
    if schedules is None:
        schedules = DEFAULT_SCHEDULES
    if not all(isinstance(s, ActionSchedule) for s in schedules):
        raise InvalidParameterError.for_value(
            name="schedules", owner=owner, allowed="a sequence of ActionSchedule", got=schedules
        )
    dormant = _whole(dormant_days, name="dormant_days", minimum=1)
    window = _whole(cap_days, name="cap_days", minimum=1)
    cap = None if max_contacts is None else _whole(max_contacts, name="max_contacts", minimum=1)
    audiences = {s.audience for s in schedules}
    threshold, months = _triggers(book, audiences, invitation_spend, follow_up_months)
    frame = book.to_frame()
    ids = frame.index
    scheme = book.tiers
    tier_codes = frame["tier"].to_numpy(np.int64)
    activity = _activity(frame, last_activity, owner=owner)
    enters = _entries(
        book,
        frame,
        audiences,
        first=first,
        threshold=threshold,
        months=months,
        activity=activity,
        dormant=dormant,
    )

    who, when, which = _candidates(
        schedules, enters, tier_codes=tier_codes, scheme=scheme, first=first, last=last
    )
    priority = np.array([s.priority for s in schedules], dtype=np.int64)[which]
    keep = np.ones(who.size, dtype=bool)
    if cap is not None and who.size:
        keep = _cap(who, when, priority, limit=cap, window=window)
    who, when, which, priority = who[keep], when[keep], which[keep], priority[keep]
    order = np.lexsort((which, priority, who, when))
    who, when, which, priority = who[order], when[order], which[order], priority[order]
    labels = np.asarray([s.label_en if language == "en" else s.label_zh for s in schedules])
    tier_labels = np.asarray([*scheme.labels(language), None], dtype=object)
    plan = pd.DataFrame(
        {
            book.customer_col: ids[who],
            "date": pd.DatetimeIndex(when.astype("datetime64[ns]")),
            "action": np.asarray([s.action for s in schedules], dtype=object)[which],
            "label": labels[which] if which.size else np.empty(0, dtype=object),
            "tier": tier_labels[tier_codes[who]],
            "priority": priority,
        }
    )
    plan.attrs["capped"] = int((~keep).sum())
    return plan


def _entries(
    book: Book,
    frame: pd.DataFrame,
    audiences: set[Audience],
    *,
    first: np.datetime64,
    threshold: float | None,
    months: int | None,
    activity: npt.NDArray[np.datetime64],
    dormant: int,
) -> dict[str, npt.NDArray[np.datetime64]]:
    """Day each customer enters each audience (NaT: not in it)."""
    n = len(frame)
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    enters: dict[str, npt.NDArray[np.datetime64]] = {
        "everyone": np.full(n, first),
        "dormant": activity + np.timedelta64(dormant, "D"),
    }
    if "vip_candidate" in audiences and threshold is not None:
        spend = frame["first_spend"].to_numpy(np.float64) + frame["repeat_spend"].to_numpy(
            np.float64
        )
        history = book.history
        invited = history[history["rule"].to_numpy() == "upgrade_invitation"]
        invited_days = invited["at"].to_numpy(dtype="datetime64[D]")
        before = frame.index.isin(pd.Index(invited["customer_id"][invited_days < first]))
        during = pd.Series(invited_days, index=pd.Index(invited["customer_id"]))
        during = during[during >= first].groupby(level=0).min()
        day = nat.copy()
        day[(spend >= threshold) & ~before] = first  # reached earlier, never invited
        recorded = frame.index.get_indexer(during.index)
        day[recorded[recorded >= 0]] = during.to_numpy(dtype="datetime64[D]")[recorded >= 0]
        enters["vip_candidate"] = day
    if "follow_up" in audiences and months is not None:
        last_purchase = pd.DatetimeIndex(frame["last_purchase"])
        due = (last_purchase + pd.DateOffset(months=months)).normalize()
        enters["follow_up"] = due.to_numpy(dtype="datetime64[D]")
    return enters


def _activity(
    frame: pd.DataFrame, last_activity: pd.Series[Any] | None, *, owner: str
) -> npt.NDArray[np.datetime64]:
    if last_activity is None:
        return pd.DatetimeIndex(frame["last_purchase"]).to_numpy(dtype="datetime64[D]")
    dtype = getattr(last_activity, "dtype", None)
    if dtype is None or not pd.api.types.is_datetime64_any_dtype(dtype):
        raise InvalidDataError(
            f"{owner}: last_activity must be a Series of datetime64 timestamps indexed by "
            "customer id.",
            column="last_activity",
        )
    aligned = last_activity.reindex(frame.index)
    stamps = pd.DatetimeIndex(aligned)
    if stamps.tz is not None:
        stamps = stamps.tz_localize(None)
    return stamps.to_numpy(dtype="datetime64[D]")


def _candidates(
    schedules: Sequence[ActionSchedule],
    enters: Mapping[str, npt.NDArray[np.datetime64]],
    *,
    tier_codes: npt.NDArray[np.int64],
    scheme: Any,
    first: np.datetime64,
    last: np.datetime64,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.datetime64], npt.NDArray[np.int64]]:
    """Every scheduled action before the cap: customer, day and schedule number."""
    customers = [np.empty(0, np.int64)]
    dates = [np.empty(0, "datetime64[D]")]
    numbers = [np.empty(0, np.int64)]
    quarters = pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq="QS")
    quarter_days = quarters.to_numpy(dtype="datetime64[D]")
    for number, schedule in enumerate(schedules):
        allowed = np.ones(tier_codes.size, dtype=bool)
        if schedule.tiers:
            allowed = np.isin(tier_codes, [scheme.index(t) for t in schedule.tiers])
        entry = enters[schedule.audience]
        if schedule.cadence == "quarterly":
            who, when = _quarterly(entry, allowed, quarter_days)
        else:
            who, when = _dated(schedule, entry, allowed, first=first, last=last)
        customers.append(who)
        dates.append(when)
        numbers.append(np.full(who.size, number, dtype=np.int64))
    return np.concatenate(customers), np.concatenate(dates), np.concatenate(numbers)


def _dated(
    schedule: ActionSchedule,
    entry: npt.NDArray[np.datetime64],
    allowed: npt.NDArray[np.bool_],
    *,
    first: np.datetime64,
    last: np.datetime64,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.datetime64]]:
    """Once, or weekly from the day a customer enters the audience, within the period."""
    known = ~np.isnat(entry) & allowed
    if schedule.cadence == "once":
        who = np.flatnonzero(known & (entry >= first) & (entry <= last)).astype(np.int64)
        return who, entry[who]
    # weekly: the first chosen weekday on or after max(entry, first), then every 7 days
    begin = np.where(known, np.maximum(entry, first), last + _DAY)
    weekday = (begin.view(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (3)
    first_offer = begin + ((schedule.weekday - weekday) % 7).astype("timedelta64[D]")
    span = (last - first_offer).astype(np.int64)
    count = np.where(known & (span >= 0), span // 7 + 1, 0)
    who = np.repeat(np.arange(entry.size, dtype=np.int64), count)
    starts = np.cumsum(count) - count
    step = np.arange(who.size, dtype=np.int64) - np.repeat(starts, count)
    return who, first_offer[who] + (7 * step).astype("timedelta64[D]")


def _quarterly(
    entry: npt.NDArray[np.datetime64],
    allowed: npt.NDArray[np.bool_],
    quarter_days: npt.NDArray[np.datetime64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.datetime64]]:
    """On each quarter's first day, to the customers then in the audience."""
    known = ~np.isnat(entry) & allowed
    who_parts = [np.empty(0, np.int64)]
    day_parts = [np.empty(0, "datetime64[D]")]
    for day in quarter_days:  # a few quarters, each vectorised over customers
        who = np.flatnonzero(known & (entry <= day)).astype(np.int64)
        who_parts.append(who)
        day_parts.append(np.full(who.size, day, dtype="datetime64[D]"))
    return np.concatenate(who_parts), np.concatenate(day_parts)


def _cap(
    who: npt.NDArray[np.int64],
    when: npt.NDArray[np.datetime64],
    priority: npt.NDArray[np.int64],
    *,
    limit: int,
    window: int,
) -> npt.NDArray[np.bool_]:
    """Keep at most ``limit`` actions per customer in any ``window`` consecutive days.

    Actions are taken in priority order, then date; an action stays when the
    customer's kept actions in the window around it leave room. Rounds run over
    action ranks within a customer (a few dozen), never over customers.
    """
    days = when.astype("datetime64[D]").view(np.int64)
    order = np.lexsort((days, priority, who))
    who_s, days_s = who[order], days[order]
    starts = np.flatnonzero(np.r_[True, who_s[1:] != who_s[:-1]])
    sizes = np.diff(np.r_[starts, who_s.size])
    rank = np.arange(who_s.size) - np.repeat(starts, sizes)
    kept_sorted = np.zeros(who_s.size, dtype=bool)
    group = np.repeat(np.arange(starts.size), sizes)
    for r in range(int(sizes.max())):
        current = np.flatnonzero(rank == r)
        # kept actions so far of the same customers, within window days either side
        kept_idx = np.flatnonzero(kept_sorted)
        if kept_idx.size == 0:
            kept_sorted[current] = True
            continue
        room = np.ones(current.size, dtype=bool)
        k_group, k_day = group[kept_idx], days_s[kept_idx]
        c_group, c_day = group[current], days_s[current]
        # the windows of `window` days containing the candidate: [d - window + 1, d] ...
        # [d, d + window - 1]; the candidate fits when every one of them holds fewer
        # than `limit` kept actions
        key_k = k_group * (1 << 32) + k_day
        sort_k = np.sort(key_k)
        for shift in range(window):
            low = c_group * (1 << 32) + c_day - window + 1 + shift
            high = low + window - 1
            inside = np.searchsorted(sort_k, high, side="right") - np.searchsorted(
                sort_k, low, side="left"
            )
            room &= inside < limit
        kept_sorted[current[room]] = True
    keep = np.zeros(who.size, dtype=bool)
    keep[order] = kept_sorted
    return keep
