"""Reports over time from a book's audit trail: tiers per date, migration, outcomes.

Every report is a pure function of a :class:`Book` (its audit trail holds every tier
a customer ever had, with the time it was set) and, for revenue and retention, the
event log the engine ingested. Dates are calendar days, as everywhere in the engine:
a tier set at any time on a day counts at that day.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmscore._events import ValidatedEvents, validate_events
from crmscore._periods import to_periods
from crmscore._validation import FINITE, as_timestamp, check_choice, check_number
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    import numpy.typing as npt

    from crmscore.rescoring._book import Book

__all__ = [
    "CLV_TARGET",
    "COURSE_FIGURES",
    "UNRATED",
    "clv_change",
    "course_check",
    "tier_distribution",
    "tier_history",
    "tier_lists",
    "tier_migration",
    "tier_outcomes",
]

UNRATED = "(unrated)"
"""Label of customers without a tier at a date (not yet customers, or never rated)."""

CLV_TARGET = 0.20
"""The training course's target: customer lifetime value up 20 %."""

COURSE_FIGURES: Mapping[str, float] = MappingProxyType(
    {
        "vip_customer_share": 0.12,
        "vip_revenue_share": 0.55,
        "new_customer_share": 0.28,
        "purchase_cycle_days": 45.0,
        "vip_churn": 0.15,
    }
)
"""The training course's reference figures (2026 客户关系培训).

VIP customers are 12 % of customers and bring 55 % of revenue; new customers are
28 %; the mean purchase cycle is 45 days; VIP churn is 15 %.
"""


def _day(value: object, *, name: str, owner: str) -> int:
    stamp = as_timestamp(value, name=name, owner=owner)
    return int(to_periods(np.array([stamp.to_datetime64()], dtype="datetime64[ns]"), "D")[0])


def _tier_codes(book: Book, days: Sequence[int]) -> npt.NDArray[np.int64]:
    """Tier position per customer (rows, book order) and day (columns); -1 unrated."""
    history = book.history
    rows = history[history["change"].to_numpy() == "tier"]
    scheme = book.tiers
    lookup = {label: k for k, label in enumerate(scheme.labels("en"))}
    lookup.update({label: k for k, label in enumerate(scheme.labels("zh"))})
    lookup.update({key: k for k, key in enumerate(scheme.keys)})
    after = rows["after"].map(lookup)
    if after.isna().any():
        bad = sorted({str(v) for v in rows["after"][after.isna()]})[:5]
        raise InvalidDataError(
            f"The book's audit trail has tier(s) {bad} outside its tier scheme "
            f"{list(scheme.labels())}; was it built under another policy?",
            column="after",
        )
    codes = book.ids.to_index().get_indexer(pd.Index(rows["customer_id"]))
    stamps = rows["at"].to_numpy(dtype="datetime64[ns]")
    change_days = to_periods(stamps, "D")
    order = np.lexsort((np.arange(len(rows)), change_days, codes))
    codes, change_days = codes[order], change_days[order]
    tiers = after.to_numpy(dtype=np.int64)[order]
    n = book.n_customers
    starts = np.searchsorted(codes, np.arange(n), side="left")
    out = np.full((n, len(days)), -1, dtype=np.int64)
    for column, day in enumerate(days):  # a handful of dates, each vectorised
        known = np.bincount(codes[change_days <= day], minlength=n)
        rated = known > 0
        out[rated, column] = tiers[starts[rated] + known[rated] - 1]
    return out


def _labels(book: Book, language: str, owner: str) -> list[str]:
    check_choice(language, name="language", owner=owner, choices=("en", "zh"))
    return list(book.tiers.labels(language))


def _as_days(at: Any, *, owner: str) -> tuple[pd.DatetimeIndex, list[int]]:
    values = [at] if isinstance(at, (str, pd.Timestamp)) or not hasattr(at, "__iter__") else at
    stamps = [as_timestamp(v, name="at", owner=owner) for v in values]
    if not stamps:
        raise InvalidParameterError(f"{owner}: 'at' names no date.")
    index = pd.DatetimeIndex([s.normalize() for s in stamps], name="date")
    days = [_day(s, name="at", owner=owner) for s in stamps]
    return index, days


def tier_history(book: Book, *, at: Any, language: str = "en") -> pd.DataFrame:
    """Every customer's effective tier at each date, replayed from the audit trail.

    Parameters
    ----------
    book : Book
        The book; its audit trail records every tier change with its time.
    at : date-like or sequence of date-like
        The dates (calendar days: a change at any time of a day counts at that day),
        e.g. ``pd.date_range("2025-03-31", "2025-12-31", freq="QE")``.
    language : {"en", "zh"}, default "en"
        Language of the labels.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (every customer of the book), one column per date:
        the tier label (ordered categorical, lowest first), or :data:`UNRATED`
        before the customer's first rating.

    See Also
    --------
    tier_distribution, tier_migration

    Examples
    --------
    >>> import crmscore as cs
    >>> card = cs.Scorecard(
    ...     hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
    ...     indicators=[cs.Indicator(name="total_spend", direction="benefit",
    ...                              normaliser=cs.PercentileRank())])
    >>> log = cs.make_events(500, seed=1).events
    >>> book = cs.open_book(cs.RescoringPolicy(scorecard=card),
    ...                     log[log["timestamp"] < "2025-01-01"], as_of="2024-12-31 23:59").book
    >>> later = log[(log["timestamp"] >= "2025-01-01") & (log["timestamp"] < "2025-07-01")]
    >>> book = cs.ingest(book, later, as_of="2025-06-30 23:59").book
    >>> book = cs.review(book, as_of="2025-06-30 23:59").book
    >>> tier_history(book, at=["2024-12-31", "2025-06-30"]).head(3)
                 2024-12-31 2025-06-30
    customer_id
    1              Ordinary   Ordinary
    2              Ordinary   Ordinary
    3              Ordinary   Ordinary
    """
    owner = "tier_history"
    labels = _labels(book, language, owner)
    index, days = _as_days(at, owner=owner)
    codes = _tier_codes(book, days)
    categories = pd.Index([UNRATED, *labels])
    return pd.DataFrame(
        {
            stamp: pd.Categorical.from_codes(codes[:, k] + 1, categories=categories, ordered=True)
            for k, stamp in enumerate(index)
        },
        index=book.ids.to_index(name=book.customer_col),
    )


def tier_distribution(
    book: Book, *, at: Any, normalize: bool = False, language: str = "en"
) -> pd.DataFrame:
    """How many customers each tier had at each date (the tier distribution per quarter).

    Parameters
    ----------
    book : Book
        The book.
    at : date-like or sequence of date-like
        The dates, e.g. quarter ends.
    normalize : bool, default False
        Shares of the rated customers instead of counts.
    language : {"en", "zh"}, default "en"
        Language of the column labels.

    Returns
    -------
    pandas.DataFrame
        One row per date, one column per tier (lowest first) and, with counts,
        ``(unrated)``: customers not rated yet.

    Examples
    --------
    >>> import crmscore as cs
    >>> card = cs.Scorecard(
    ...     hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
    ...     indicators=[cs.Indicator(name="total_spend", direction="benefit",
    ...                              normaliser=cs.PercentileRank())])
    >>> log = cs.make_events(500, seed=1).events
    >>> book = cs.open_book(cs.RescoringPolicy(scorecard=card),
    ...                     log[log["timestamp"] < "2025-01-01"], as_of="2024-12-31 23:59").book
    >>> later = log[(log["timestamp"] >= "2025-01-01") & (log["timestamp"] < "2025-07-01")]
    >>> book = cs.ingest(book, later, as_of="2025-06-30 23:59").book
    >>> book = cs.review(book, as_of="2025-06-30 23:59").book
    >>> tier_distribution(book, at=["2024-12-31", "2025-06-30"])
    tier        Ordinary  Silver  Gold  Diamond  (unrated)
    date
    2024-12-31       300     100    50       50          0
    2025-06-30       261     123    52       64          0
    """
    history = tier_history(book, at=at, language=language)
    labels = _labels(book, language, "tier_distribution")
    counts = pd.DataFrame(
        {stamp: history[stamp].value_counts(sort=False) for stamp in history.columns}
    ).T
    counts = counts[[*labels, UNRATED]].astype(np.int64)
    counts.index.name = "date"
    counts.columns.name = "tier"
    if not normalize:
        return counts
    rated = counts[labels]
    return rated.div(rated.sum(axis=1).replace(0, np.nan), axis=0)


def tier_migration(
    book: Book, *, start: Any, end: Any, normalize: bool = False, language: str = "en"
) -> pd.DataFrame:
    """Count the customers moving between tiers from one date to another (audit trail).

    Parameters
    ----------
    book : Book
        The book.
    start : date-like
        The two dates (calendar days).
    end : date-like
        The two dates (calendar days).
    normalize : bool, default False
        Each row as shares of its customers (rows of no customer are NaN).
    language : {"en", "zh"}, default "en"
        Language of the labels.

    Returns
    -------
    pandas.DataFrame
        Rows: the tier at ``start`` (with ``(unrated)`` for customers rated later),
        columns: the tier at ``end``; highest tier first in both.

    Examples
    --------
    >>> import crmscore as cs
    >>> card = cs.Scorecard(
    ...     hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
    ...     indicators=[cs.Indicator(name="total_spend", direction="benefit",
    ...                              normaliser=cs.PercentileRank())])
    >>> log = cs.make_events(500, seed=1).events
    >>> book = cs.open_book(cs.RescoringPolicy(scorecard=card),
    ...                     log[log["timestamp"] < "2025-01-01"], as_of="2024-12-31 23:59").book
    >>> later = log[(log["timestamp"] >= "2025-01-01") & (log["timestamp"] < "2025-07-01")]
    >>> book = cs.ingest(book, later, as_of="2025-06-30 23:59").book
    >>> book = cs.review(book, as_of="2025-06-30 23:59").book
    >>> tier_migration(book, start="2024-12-31", end="2025-06-30")
    tier at end    Diamond  Gold  Silver  Ordinary  (unrated)
    tier at start
    Diamond             50     0       0         0          0
    Gold                 8    42       0         0          0
    Silver               4     6      90         0          0
    Ordinary             2     4      33       261          0
    (unrated)            0     0       0         0          0
    """
    history = tier_history(book, at=[start, end], language=language)
    before, after = history.iloc[:, 0], history.iloc[:, 1]
    labels = _labels(book, language, "tier_migration")[::-1]
    matrix = pd.crosstab(
        before, after, dropna=False, rownames=["tier at start"], colnames=["tier at end"]
    )
    matrix = matrix.reindex(index=[*labels, UNRATED], columns=[*labels, UNRATED], fill_value=0)
    if normalize:
        return matrix.div(matrix.sum(axis=1).replace(0, np.nan), axis=0)
    return matrix.astype(np.int64)


_EVENT_COLUMNS = frozenset(
    {"customer_col", "timestamp_col", "kind_col", "value_col", "event_id_col", "extra_kinds"}
)


def _validated(
    events: pd.DataFrame, *, end: Any, owner: str, event_columns: Mapping[str, Any]
) -> ValidatedEvents:
    unknown = sorted(set(event_columns) - _EVENT_COLUMNS)
    if unknown:
        raise InvalidParameterError(
            f"{owner} got unexpected keyword argument(s) {unknown}; the event log's "
            f"columns are named by {sorted(_EVENT_COLUMNS)}."
        )
    return validate_events(events, as_of=end, owner=owner, **event_columns)


def _period_activity(
    log: ValidatedEvents,
    customers: pd.Index[Any],
    *,
    start_day: int,
    active_kinds: Collection[str],
    owner: str,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Per customer of ``customers``: revenue in (start, end], active in it, first day."""
    unknown = sorted(set(active_kinds) - set(log.kind_names))
    if unknown:
        raise InvalidParameterError(
            f"{owner}: active_kinds names unknown kind(s) {unknown}; known kinds are "
            f"{list(log.kind_names)}."
        )
    position = customers.get_indexer(log.customers)[log.codes]
    inside = (log.days > start_day) & (position >= 0)
    purchase = log.kinds == log.kind_code("purchase")
    n = len(customers)
    take = inside & purchase
    amounts = np.nan_to_num(log.values[take])  # noqa: PD011 (an array field, not pandas)
    revenue = np.bincount(position[take], weights=amounts, minlength=n)
    active_mask = inside & np.isin(log.kinds, [log.kind_code(k) for k in active_kinds])
    active = np.bincount(position[active_mask], minlength=n) > 0
    first = np.full(n, np.inf)
    known = position >= 0
    np.minimum.at(first, position[known], log.days[known].astype(np.float64))
    return revenue.astype(np.float64), active, first


def tier_outcomes(
    book: Book,
    events: pd.DataFrame,
    *,
    start: Any,
    end: Any,
    active_kinds: Collection[str] = ("purchase",),
    language: str = "en",
    **event_columns: Any,
) -> pd.DataFrame:
    """Revenue, retention and churn per tier over a period, tiers taken at its start.

    Parameters
    ----------
    book : Book
        The book (its audit trail gives the tiers at ``start``).
    events : pandas.DataFrame
        The event log (as :func:`ingest` takes it); purchases give the revenue.
    start : date-like
        The period is the days after ``start`` up to and including ``end``.
    end : date-like
        The period is the days after ``start`` up to and including ``end``.
    active_kinds : collection of str, default ("purchase",)
        Event kinds that make a customer retained in the period.
    language : {"en", "zh"}, default "en"
        Language of the tier labels.
    **event_columns : str
        ``customer_col``, ``timestamp_col``, ``kind_col``, ``value_col`` or
        ``event_id_col`` when the log names its columns differently.

    Returns
    -------
    pandas.DataFrame
        One row per tier at ``start`` (highest first), then ``(unrated)`` (customers
        rated later: new customers) and ``all``: ``customers``, ``retained``
        (active in the period), ``retention`` and ``churn`` (``1 - retention``),
        ``revenue`` in the period, ``revenue_share`` of the period's revenue (the
        top row is the share of revenue from top customers) and
        ``revenue_per_customer``.

    Examples
    --------
    >>> import crmscore as cs
    >>> card = cs.Scorecard(
    ...     hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
    ...     indicators=[cs.Indicator(name="total_spend", direction="benefit",
    ...                              normaliser=cs.PercentileRank())])
    >>> log = cs.make_events(500, seed=1).events
    >>> book = cs.open_book(cs.RescoringPolicy(scorecard=card),
    ...                     log[log["timestamp"] < "2025-01-01"], as_of="2024-12-31 23:59").book
    >>> later = log[(log["timestamp"] >= "2025-01-01") & (log["timestamp"] < "2025-07-01")]
    >>> book = cs.ingest(book, later, as_of="2025-06-30 23:59").book
    >>> book = cs.review(book, as_of="2025-06-30 23:59").book
    >>> outcomes = tier_outcomes(book, log, start="2024-12-31", end="2025-06-30")
    >>> outcomes[["customers", "retention", "revenue_share"]].round(3)
                   customers  retention  revenue_share
    tier at start
    Diamond               50      0.840          0.342
    Gold                  50      0.900          0.172
    Silver               100      0.600          0.171
    Ordinary             300      0.543          0.315
    (unrated)              0        NaN          0.000
    all                  500      0.620          1.000
    """
    owner = "tier_outcomes"
    labels = _labels(book, language, owner)
    start_day = _day(start, name="start", owner=owner)
    end_day = _day(end, name="end", owner=owner)
    if end_day <= start_day:
        raise InvalidParameterError(f"{owner}: end must be after start; got {start} and {end}.")
    codes = _tier_codes(book, [start_day])[:, 0]
    customers = book.ids.to_index(name=book.customer_col)
    log = _validated(events, end=end, owner=owner, event_columns=event_columns)
    revenue, active, _ = _period_activity(
        log, customers, start_day=start_day, active_kinds=active_kinds, owner=owner
    )
    group = codes + 1  # 0 = unrated
    k = len(labels) + 1
    customers_n = np.bincount(group, minlength=k).astype(np.float64)
    retained = np.bincount(group, weights=active, minlength=k)
    money = np.bincount(group, weights=revenue, minlength=k)
    order = [*range(k - 1, 0, -1), 0]  # highest tier first, unrated last
    frame = pd.DataFrame(
        {
            "customers": np.append(customers_n[order], customers_n.sum()),
            "retained": np.append(retained[order], retained.sum()),
            "revenue": np.append(money[order], money.sum()),
        },
        index=pd.Index([*labels[::-1], UNRATED, "all"], name="tier at start"),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["retention"] = frame["retained"] / frame["customers"]
        frame["churn"] = 1.0 - frame["retention"]
        total = float(money.sum())
        frame["revenue_share"] = frame["revenue"] / total if total > 0 else np.nan
        frame["revenue_per_customer"] = frame["revenue"] / frame["customers"]
    frame[["customers", "retained"]] = frame[["customers", "retained"]].astype(np.int64)
    return frame[
        ["customers", "retained", "retention", "churn", "revenue", "revenue_share",
         "revenue_per_customer"]
    ]  # fmt: skip


def clv_change(
    before: pd.Series[Any],
    after: pd.Series[Any],
    *,
    tiers: pd.Series[Any] | None = None,
    target: float = CLV_TARGET,
) -> pd.DataFrame:
    """CLV change between two dates against the course's +20 % target.

    Parameters
    ----------
    before : pandas.Series
        CLV per customer at the two dates (e.g. ``customer_lifetime_value`` of the
        book's model at each review), indexed by customer id; customers in both are
        compared.
    after : pandas.Series
        CLV per customer at the two dates (e.g. ``customer_lifetime_value`` of the
        book's model at each review), indexed by customer id; customers in both are
        compared.
    tiers : pandas.Series, optional
        A tier (or any group) per customer, for one row per group besides ``all``.
    target : float, default CLV_TARGET (0.20)
        The relative change aimed at.

    Returns
    -------
    pandas.DataFrame
        Per group and ``all``: ``customers``, ``clv_before`` and ``clv_after``
        (totals), ``change`` (relative change of the total), ``target`` and
        ``target_met``.

    Examples
    --------
    >>> before = pd.Series([100.0, 200.0, 50.0], index=["a", "b", "c"])
    >>> after = pd.Series([130.0, 230.0, 40.0], index=["a", "b", "c"])
    >>> clv_change(before, after)[["clv_before", "clv_after", "change", "target_met"]]
         clv_before  clv_after  change  target_met
    all       350.0      400.0  0.1429       False
    """
    owner = "clv_change"
    check_number(target, FINITE, name="target", owner=owner)
    common = before.index.intersection(after.index)
    a = pd.to_numeric(before.loc[common], errors="raise").astype(np.float64)
    b = pd.to_numeric(after.loc[common], errors="raise").astype(np.float64)
    frame = pd.DataFrame({"clv_before": a, "clv_after": b})
    groups: list[tuple[Any, pd.DataFrame]] = []
    if tiers is not None:
        labelled = tiers.reindex(common)
        groups = [(g, part) for g, part in frame.groupby(labelled, observed=True, sort=True)]
    groups.append(("all", frame))
    result = pd.DataFrame(
        [
            {
                "group": name,
                "customers": len(part),
                "clv_before": part["clv_before"].sum(),
                "clv_after": part["clv_after"].sum(),
            }
            for name, part in groups
        ]
    ).set_index("group")
    result.index.name = None
    with np.errstate(invalid="ignore", divide="ignore"):
        result["change"] = (result["clv_after"] / result["clv_before"] - 1.0).round(4)
    result["target"] = float(target)
    result["target_met"] = result["change"] >= target
    return result


def course_check(
    book: Book,
    events: pd.DataFrame,
    *,
    start: Any,
    end: Any,
    vip_tiers: Sequence[str] | None = None,
    figures: Mapping[str, float] | None = None,
    **event_columns: Any,
) -> pd.DataFrame:
    """Measure the training course's figures on a book over a period.

    Parameters
    ----------
    book : Book
        The book (tiers from its audit trail).
    events : pandas.DataFrame
        The event log.
    start : date-like
        The period: the days after ``start`` up to and including ``end``.
    end : date-like
        The period: the days after ``start`` up to and including ``end``.
    vip_tiers : sequence of str, optional
        The tiers (labels or keys) that count as VIP; the highest tier by default.
    figures : mapping, optional
        Reference values by metric name, replacing those of :data:`COURSE_FIGURES`.
        ``None`` (the default) means :data:`COURSE_FIGURES` as they are.
    **event_columns : str
        Column names of the log, as :func:`tier_outcomes`.

    Returns
    -------
    pandas.DataFrame
        One row per metric: ``measured``, ``reference`` and ``difference``:

        ``vip_customer_share``
            VIP customers at ``end`` over rated customers at ``end``.
        ``vip_revenue_share``
            Revenue in the period of VIP customers (tiers at ``end``) over all.
        ``new_customer_share``
            Customers whose first event falls in the period, over customers active
            in it (any purchase).
        ``purchase_cycle_days``
            Mean days between a purchase in the period and the customer's previous
            purchase.
        ``vip_churn``
            Share of the VIP customers at ``start`` without a purchase in the period.

    Examples
    --------
    >>> import crmscore as cs
    >>> card = cs.Scorecard(
    ...     hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
    ...     indicators=[cs.Indicator(name="total_spend", direction="benefit",
    ...                              normaliser=cs.PercentileRank())])
    >>> log = cs.make_events(500, seed=1).events
    >>> book = cs.open_book(cs.RescoringPolicy(scorecard=card),
    ...                     log[log["timestamp"] < "2025-01-01"], as_of="2024-12-31 23:59").book
    >>> later = log[(log["timestamp"] >= "2025-01-01") & (log["timestamp"] < "2025-07-01")]
    >>> book = cs.ingest(book, later, as_of="2025-06-30 23:59").book
    >>> book = cs.review(book, as_of="2025-06-30 23:59").book
    >>> course_check(book, log, start="2024-12-31", end="2025-06-30").round(3)
                         measured  reference  difference
    metric
    vip_customer_share      0.128       0.12       0.008
    vip_revenue_share       0.513       0.55      -0.037
    new_customer_share      0.000       0.28      -0.280
    purchase_cycle_days    39.004      45.00      -5.996
    vip_churn               0.160       0.15       0.010

    No customer joined in the first half of 2025 in this simulation (everyone
    joins in 2024), hence no new customers.
    """
    owner = "course_check"
    if figures is None:
        figures = COURSE_FIGURES
    unknown = sorted(set(figures) - set(COURSE_FIGURES))
    if unknown:
        raise InvalidParameterError(
            f"{owner}: figures names unknown metric(s) {unknown}; expected some of "
            f"{list(COURSE_FIGURES)}."
        )
    scheme = book.tiers
    vip = {scheme.index(t) for t in (vip_tiers or [scheme.keys[-1]])}
    start_day = _day(start, name="start", owner=owner)
    end_day = _day(end, name="end", owner=owner)
    if end_day <= start_day:
        raise InvalidParameterError(f"{owner}: end must be after start; got {start} and {end}.")
    codes = _tier_codes(book, [start_day, end_day])
    customers = book.ids.to_index(name=book.customer_col)
    log = _validated(events, end=end, owner=owner, event_columns=event_columns)
    revenue, active, first = _period_activity(
        log, customers, start_day=start_day, active_kinds=("purchase",), owner=owner
    )
    vip_start = np.isin(codes[:, 0], list(vip))
    vip_end = np.isin(codes[:, 1], list(vip))
    rated_end = codes[:, 1] >= 0
    purchase = log.kinds == log.kind_code("purchase")
    cycle = _mean_cycle(log.codes[purchase], log.days[purchase], start_day=start_day)
    with np.errstate(invalid="ignore", divide="ignore"):
        measured = {
            "vip_customer_share": vip_end.sum() / rated_end.sum(),
            "vip_revenue_share": revenue[vip_end].sum() / revenue.sum(),
            "new_customer_share": (active & (first > start_day)).sum() / active.sum(),
            "purchase_cycle_days": cycle,
            "vip_churn": 1.0 - active[vip_start].sum() / vip_start.sum(),
        }
    reference = {**COURSE_FIGURES, **figures}
    frame = pd.DataFrame(
        {
            "measured": [float(measured[m]) for m in COURSE_FIGURES],
            "reference": [float(reference[m]) for m in COURSE_FIGURES],
        },
        index=pd.Index(list(COURSE_FIGURES), name="metric"),
    )
    frame["difference"] = frame["measured"] - frame["reference"]
    return frame


def _mean_cycle(
    codes: npt.NDArray[np.int64], days: npt.NDArray[np.int64], *, start_day: int
) -> float:
    order = np.lexsort((days, codes))
    codes, days = codes[order], days[order]
    same = codes[1:] == codes[:-1]
    gaps = (days[1:] - days[:-1])[same & (days[1:] > start_day)]
    return float(gaps.mean()) if gaps.size else float("nan")


def tier_lists(book: Book, *, by: pd.Series[Any], language: str = "en") -> pd.DataFrame:
    """Tier lists per department or owner, ready for the caller to export.

    Parameters
    ----------
    book : Book
        The book (current tiers and scores).
    by : pandas.Series
        The department, owner or any group per customer id (the caller's column);
        customers absent from it are listed under a missing group (NaN), last.
    language : {"en", "zh"}, default "en"
        Language of the tier labels.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id: the group (named like ``by``, or ``group``),
        ``tier`` (ordered categorical), ``score`` and ``churn_level``; sorted by
        group, then highest tier and score first. ``frame.groupby(group)`` gives one
        list per department.

    Examples
    --------
    >>> import crmscore as cs
    >>> card = cs.Scorecard(
    ...     hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
    ...     indicators=[cs.Indicator(name="total_spend", direction="benefit",
    ...                              normaliser=cs.PercentileRank())])
    >>> log = cs.make_events(500, seed=1).events
    >>> book = cs.open_book(cs.RescoringPolicy(scorecard=card),
    ...                     log[log["timestamp"] < "2025-01-01"], as_of="2024-12-31 23:59").book
    >>> later = log[(log["timestamp"] >= "2025-01-01") & (log["timestamp"] < "2025-07-01")]
    >>> book = cs.ingest(book, later, as_of="2025-06-30 23:59").book
    >>> book = cs.review(book, as_of="2025-06-30 23:59").book
    >>> import pandas as pd
    >>> by = pd.Series(["north", "south"], index=[1, 2], name="department")
    >>> tier_lists(book, by=by).head(3)
                department      tier       score  churn_level
    customer_id
    1                north  Ordinary   14.028056            0
    2                south  Ordinary    0.801603            0
    285                NaN   Diamond  100.000000            0
    """
    owner = "tier_lists"
    labels = _labels(book, language, owner)
    if not isinstance(by, pd.Series):
        raise InvalidParameterError.for_value(
            name="by", owner=owner, allowed="a pandas Series indexed by customer id", got=by
        )
    name = str(by.name) if by.name is not None else "group"
    frame = book.to_frame()
    tiers = frame["tier"].to_numpy(np.int64)
    result = pd.DataFrame(
        {
            name: by.reindex(frame.index).to_numpy(),
            "tier": pd.Categorical.from_codes(
                tiers + 1, categories=pd.Index([UNRATED, *labels]), ordered=True
            ),
            "score": frame["score"].to_numpy(np.float64),
            "churn_level": frame["churn_level"].to_numpy(np.int64),
        },
        index=frame.index,
    )
    result["_tier_code"] = tiers
    result = result.sort_values(
        [name, "_tier_code", "score"], ascending=[True, False, False], na_position="last",
        kind="stable",
    )  # fmt: skip
    return result.drop(columns="_tier_code")
