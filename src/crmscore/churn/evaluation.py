"""Scoring warnings against what happened after ``as_of``."""

from __future__ import annotations

from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmscore._columns import EventColumns
from crmscore._events import validate_events
from crmscore._periods import to_periods
from crmscore._progress import ProgressReporter
from crmscore._validation import (
    InstanceOf,
    Interval,
    as_timestamp,
    check_columns,
    check_frame,
    check_number,
    check_param,
    check_unique_index,
)
from crmscore.churn.rules import LEVELS
from crmscore.churn.warning import EarlyWarning
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

__all__ = ["PRECISION_TARGET", "backtest", "evaluate_warnings", "observed_churn_dates"]

PRECISION_TARGET = 0.85
"""The training course's target: warnings right 85 % of the time, 30 days ahead.

Read as ``precision_at_lead`` with ``min_lead_days=30`` (see :func:`evaluate_warnings`).
"""

_OWNER = "evaluate_warnings"


#: Whole days: at least one (a horizon), or at least none (a lead time).
_DAYS = Interval(Integral, 1, None, closed="left")
_DAYS_OR_NONE = Interval(Integral, 0, None, closed="left")
_SHARE = Interval(Real, 0, 1, closed="both")


def observed_churn_dates(
    events: pd.DataFrame,
    *,
    as_of: Any,
    inactive_days: int = 90,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    kind_col: str = "kind",
    value_col: str = "value",
    event_id_col: str = "event_id",
    extra_kinds: Collection[str] = (),
) -> pd.Series[Any]:
    """Churn dates by the criterion "no purchase in ``inactive_days`` days".

    Parameters
    ----------
    events : pandas.DataFrame
        The event log, covering the time after the evaluation dates (up to ``as_of``).
    as_of : date-like
        Last day the log covers; events after it are left out.
    inactive_days : int, default 90
        Days without a purchase that make a customer churned.
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
        Event kinds accepted besides the known ones.

    Returns
    -------
    pandas.Series
        ``churn_date`` per customer with an event up to ``as_of``: the day on which
        ``inactive_days`` days have passed since the customer's last purchase
        (last purchase day + ``inactive_days``), if that day is not after ``as_of``;
        NaT for customers still buying, and for customers who never purchased.

    Notes
    -----
    The churn date is the day the criterion is met, not the last purchase: a
    warning's lead time is then how long before that day it came. At an ``as_of``
    date, customers whose churn date is on or before ``as_of`` had already churned
    and are not scored by :func:`evaluate_warnings`; those whose churn date falls
    in the following ``horizon_days`` are exactly the customers who bought within
    ``inactive_days`` before ``as_of`` and do not buy again in the next
    ``horizon_days`` (when ``horizon_days == inactive_days``).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-02-10", "2024-06-01"]),
    ...     "kind": "purchase", "value": [10.0, 20.0, 5.0]})
    >>> observed_churn_dates(events, as_of="2024-06-30")
    customer_id
    a   2024-05-10
    b          NaT
    Name: churn_date, dtype: datetime64[ns]
    """
    owner = "observed_churn_dates"
    days_inactive = int(check_param(inactive_days, _DAYS, name="inactive_days", owner=owner))
    validated = validate_events(
        events,
        as_of=as_of,
        owner=owner,
        customer_col=customer_col,
        timestamp_col=timestamp_col,
        kind_col=kind_col,
        value_col=value_col,
        event_id_col=event_id_col,
        extra_kinds=extra_kinds,
    )
    purchase = validated.kinds == validated.kind_code("purchase")
    last = np.full(validated.n_customers, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, validated.codes[purchase], validated.days[purchase])
    churn_day = last + days_inactive
    churned = (last > np.iinfo(np.int64).min) & (churn_day <= validated.as_of_day)
    dates = np.where(churned, churn_day, np.iinfo(np.int64).min).astype("datetime64[D]")
    return pd.Series(dates.astype("datetime64[ns]"), index=validated.customers, name="churn_date")


def churn_day_numbers(churn_dates: pd.Series[Any], index: pd.Index[Any]) -> np.ndarray[Any, Any]:
    """Churn day (days since 1970-01-01, NaN if none) of each customer of ``index``."""
    if not isinstance(churn_dates, pd.Series):
        raise InvalidParameterError.for_value(
            name="churn_dates",
            owner=_OWNER,
            allowed="a pandas Series",
            got=type(churn_dates).__name__,
        )
    dtype = churn_dates.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        churn_dates = churn_dates.dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(dtype):
        raise InvalidDataError(
            f"churn_dates must have a datetime64 dtype; got {dtype}. Convert it first, e.g. "
            "with pd.to_datetime.",
        )
    check_unique_index(churn_dates, frame_name="churn_dates")
    aligned = churn_dates.reindex(index)
    stamps = aligned.to_numpy(dtype="datetime64[ns]")
    days = to_periods(stamps, "D").astype(np.float64)
    days[np.isnat(stamps)] = np.nan
    return days


def evaluate_warnings(
    warnings: pd.DataFrame,
    *,
    churn_dates: pd.Series[Any],
    as_of: Any = None,
    horizon_days: int = 90,
    min_lead_days: int = 30,
    target_precision: float = PRECISION_TARGET,
) -> pd.DataFrame:
    """Precision, recall and lead time of warnings, per level.

    Parameters
    ----------
    warnings : pandas.DataFrame
        The result of :meth:`EarlyWarning.predict` (a ``level`` column, indexed by
        customer id).
    churn_dates : pandas.Series
        The churn date of each customer who churned (NaT or absent: did not
        churn), e.g. :func:`observed_churn_dates` or a synthetic book's truth.
    as_of : date-like, optional
        The date the warnings were made; defaults to ``warnings.attrs["as_of"]``
        (pass it when the frame was filtered, joined or read from a file).
    horizon_days : int, default 90
        A warned customer counts as a churner when the churn day is 1 to
        ``horizon_days`` days after ``as_of``'s day.
    min_lead_days : int, default 30
        Lead time of the policy target ("flag churn 30 days before it happens").
    target_precision : float, default PRECISION_TARGET (0.85)
        The policy's "85 % warning accuracy", compared with ``precision_at_lead``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``level`` (``blue``, ``yellow``, ``red``, and ``any`` for all
        warnings); columns:

        ``warned``
            Customers at that level.
        ``churned``
            Of those, how many churned within the horizon (true positives).
        ``precision``
            ``churned / warned``: the share of warnings that proved right.
        ``recall``
            ``churned`` over all churners within the horizon.
        ``churned_after_lead``, ``recall_at_lead``
            The same for churners whose churn day is at least ``min_lead_days``
            after ``as_of``: how many were warned that far ahead, and which share.
        ``precision_at_lead``
            ``churned_after_lead / warned``: the share of warnings that proved
            right with at least ``min_lead_days`` to spare (the churn day
            ``min_lead_days`` to ``horizon_days`` days after ``as_of``). This is
            the policy's target measured exactly: a warning for a customer who
            leaves sooner is not counted as right.
        ``median_lead_days``, ``mean_lead_days``
            Days from ``as_of`` to the churn day, over the true positives.
        ``customers``, ``churners``, ``churners_after_lead``
            The scored population, its churners within the horizon, and those of
            them whose churn day is at least ``min_lead_days`` away.
        ``meets_target``
            ``precision_at_lead >= target_precision`` (False when nobody is warned).

    Raises
    ------
    InvalidDataError
        ``churn_dates`` is not datetime64 or repeats ids, or the index of
        ``warnings`` repeats ids (they would be counted twice).
    InvalidParameterError
        A parameter outside its domain, or no ``as_of``.

    Notes
    -----
    Customers who had churned on or before ``as_of``'s day are left out: an
    early warning can only be right or wrong about customers still there. The
    policy's "85 % accuracy" is read as precision, the share of warnings that
    prove right, because plain accuracy is met by warning nobody when churn is
    rare; "30 days before it happens" makes it ``precision_at_lead`` with
    ``min_lead_days=30``.

    Examples
    --------
    >>> import pandas as pd
    >>> warnings = pd.DataFrame(
    ...     {"level": pd.Categorical(["red", "blue", "none", "none"],
    ...                              categories=["none", "blue", "yellow", "red"], ordered=True)},
    ...     index=pd.Index(["a", "b", "c", "d"], name="customer_id"))
    >>> churn = pd.Series(pd.to_datetime(["2024-02-15", "2024-01-10"]), index=["a", "c"])
    >>> scored = evaluate_warnings(warnings, churn_dates=churn, as_of="2024-01-01")
    >>> scored[["warned", "churned", "precision", "precision_at_lead", "median_lead_days"]]
            warned  churned  precision  precision_at_lead  median_lead_days
    level
    blue         1        0        0.0                0.0               NaN
    yellow       0        0        NaN                NaN               NaN
    red          1        1        1.0                1.0              45.0
    any          2        1        0.5                0.5              45.0
    """
    check_frame(warnings, name="warnings", owner=_OWNER)
    check_columns(warnings, ["level"], frame_name="warnings")
    check_unique_index(warnings, frame_name="warnings")
    horizon = int(check_param(horizon_days, _DAYS, name="horizon_days", owner=_OWNER))
    lead_min = int(check_param(min_lead_days, _DAYS_OR_NONE, name="min_lead_days", owner=_OWNER))
    target = check_number(target_precision, _SHARE, name="target_precision", owner=_OWNER)
    if lead_min > horizon:
        raise InvalidParameterError.for_value(
            name="min_lead_days",
            owner=_OWNER,
            allowed=f"at most horizon_days ({horizon})",
            got=lead_min,
        )
    if as_of is None:
        as_of = warnings.attrs.get("as_of")
        if as_of is None:
            raise InvalidParameterError(
                f"{_OWNER} needs the date the warnings were made: pass as_of= (warnings.attrs "
                "has no 'as_of'; pandas drops attrs through many operations and every file "
                "format)."
            )
    when = as_timestamp(as_of, name="as_of", owner=_OWNER)
    as_of_day = int(to_periods(np.array([when.tz_localize(None).to_datetime64()]), "D")[0])

    lead = churn_day_numbers(churn_dates, warnings.index) - as_of_day
    level = warnings["level"].astype(str).to_numpy()
    unknown = ~np.isin(level, LEVELS)
    if unknown.any():
        raise InvalidDataError(
            f"Column 'level' of warnings has values {sorted(set(level[unknown]))[:5]} outside "
            f"{list(LEVELS)}.",
            column="level",
        )
    still_there = ~(lead <= 0)  # NaN (never churned) is still there
    level, lead = level[still_there], lead[still_there]
    churner = (lead >= 1) & (lead <= horizon)
    late = churner & (lead >= lead_min)
    rows = {}
    for name in (*LEVELS[1:], "any"):
        warned = level != "none" if name == "any" else level == name
        hit = warned & churner
        hit_late = warned & late
        leads = lead[hit]
        rows[name] = {
            "warned": int(warned.sum()),
            "churned": int(hit.sum()),
            "precision": hit.sum() / warned.sum() if warned.any() else np.nan,
            "recall": hit.sum() / churner.sum() if churner.any() else np.nan,
            "churned_after_lead": int(hit_late.sum()),
            "recall_at_lead": hit_late.sum() / late.sum() if late.any() else np.nan,
            "precision_at_lead": hit_late.sum() / warned.sum() if warned.any() else np.nan,
            "median_lead_days": float(np.median(leads)) if leads.size else np.nan,
            "mean_lead_days": float(np.mean(leads)) if leads.size else np.nan,
            "customers": int(level.size),
            "churners": int(churner.sum()),
            "churners_after_lead": int(late.sum()),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "level"
    frame["meets_target"] = frame["precision_at_lead"].fillna(-1.0) >= target
    frame.attrs = {
        "as_of": when,
        "horizon_days": horizon,
        "min_lead_days": lead_min,
        "target_precision": target,
    }
    return frame


def backtest(
    events: pd.DataFrame,
    *,
    churn_dates: pd.Series[Any],
    as_of_dates: Sequence[Any],
    warning: EarlyWarning | None = None,
    horizon_days: int = 90,
    min_lead_days: int = 30,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    kind_col: str = "kind",
    value_col: str = "value",
    event_id_col: str = "event_id",
    extra_kinds: Collection[str] = (),
    progress: Callable[[float], None] | bool | None = None,
) -> pd.DataFrame:
    """Evaluate warnings at several past dates on one event log.

    At each date only the events up to it are used (later events are left out),
    and the warnings are scored with :func:`evaluate_warnings`.

    Parameters
    ----------
    events : pandas.DataFrame
        The full event log.
    churn_dates : pandas.Series
        Churn date per customer (see :func:`evaluate_warnings`).
    as_of_dates : sequence of date-like
        The evaluation dates.
    warning : EarlyWarning, optional
        Signals and rules; the defaults when omitted.
    horizon_days : int, default 90
        As in :func:`evaluate_warnings`.
    min_lead_days : int, default 30
        As in :func:`evaluate_warnings`.
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
        Event kinds accepted besides the known ones.
    progress : callable or bool, optional
        Called with the fraction done: 0.0 before the first date, then
        ``k / len(as_of_dates)`` after the k-th date (1.0 after the last). An
        exception it raises stops the backtest. Nothing is reported without it.
        ``True`` draws a tqdm bar instead (the ``progress`` extra).

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`evaluate_warnings` for every date, indexed by
        ``(as_of, level)``.

    Examples
    --------
    >>> from crmscore.datasets import make_events
    >>> book = make_events(2_000, seed=3)
    >>> result = backtest(book.events, churn_dates=book.customers["churn_date"],
    ...                   as_of_dates=["2025-03-31", "2025-06-30"])
    >>> result.index.names
    FrozenList(['as_of', 'level'])
    >>> bool(result.xs("any", level="level")["warned"].gt(0).all())
    True
    """
    chosen = EarlyWarning() if warning is None else warning
    check_param(
        chosen, InstanceOf(EarlyWarning, "an EarlyWarning"), name="warning", owner="backtest"
    )
    dates = [as_timestamp(d, name="as_of_dates", owner="backtest") for d in as_of_dates]
    if not dates:
        raise InvalidParameterError.for_value(
            name="as_of_dates", owner="backtest", allowed="a non-empty sequence of dates", got=[]
        )
    columns = EventColumns(
        customer=customer_col,
        timestamp=timestamp_col,
        kind=kind_col,
        value=value_col,
        event_id=event_id_col,
    )
    reporter = ProgressReporter(progress, owner="backtest")
    reporter.report(0.0)
    frames = []
    for done, date in enumerate(dates, start=1):
        warnings = chosen.predict(
            events, as_of=date, extra_kinds=extra_kinds, **columns.as_kwargs()
        )
        frames.append(
            evaluate_warnings(
                warnings,
                churn_dates=churn_dates,
                as_of=date,
                horizon_days=horizon_days,
                min_lead_days=min_lead_days,
            )
        )
        reporter.report(done / len(dates))
    return pd.concat(frames, keys=dates, names=["as_of", "level"])
