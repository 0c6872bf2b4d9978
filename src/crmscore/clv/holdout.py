"""Calibration/holdout split of a transaction log, and the holdout check of a fit."""

from __future__ import annotations

from numbers import Integral
from typing import Any, Literal

import numpy as np
import pandas as pd

from crmscore._periods import TimeUnit, to_periods
from crmscore._validation import (
    InstanceOf,
    Interval,
    as_timestamp,
    check_frame,
    check_param,
    timestamp_column,
)
from crmscore.clv._inputs import check_frequency, frame_columns, reject
from crmscore.clv.bgnbd import BetaGeoModel
from crmscore.errors import InvalidDataError, InvalidParameterError
from crmscore.rfm import rfm_table

__all__ = ["calibration_holdout_split", "holdout_comparison"]

_OWNER = "calibration_holdout_split"


_AT_LEAST_ONE = Interval(Integral, 1, None, closed="left")


def calibration_holdout_split(
    transactions: pd.DataFrame,
    *,
    calibration_end: Any,
    observation_end: Any,
    time_unit: TimeUnit = "D",
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    amount_col: str = "amount",
    negative_amounts: Literal["error", "net"] = "error",
) -> pd.DataFrame:
    """Split a transaction log into a calibration RFM table and holdout actuals.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per purchase (the contract of :func:`crmscore.rfm_table`).
    calibration_end : date-like
        End of the calibration period: the table describes customers as of this
        date, counting the whole period (day, week, month) that contains it.
    observation_end : date-like
        End of the holdout period, in a later period than ``calibration_end``.
    time_unit : {"D", "W", "M"}, default "D"
        The period, as in :func:`crmscore.rfm_table`.
    customer_col : str, default "customer_id"
        Column of customer ids in ``transactions``.
    timestamp_col : str, default "timestamp"
        Column of timestamps in ``transactions``.
    amount_col : str, default "amount"
        Column of amounts in ``transactions``.
    negative_amounts : {"error", "net"}, default "error"
        Returns and refunds, as in :func:`crmscore.rfm_table`; with ``"net"`` a
        holdout refund reduces holdout spend but never counts as a purchase.

    Returns
    -------
    pandas.DataFrame
        The calibration table (every column of :func:`crmscore.rfm_table` at
        ``calibration_end``: customers who bought by then), plus:

        ``frequency_holdout`` (int)
            Purchase periods in the holdout (after the calibration period, up to the
            period of ``observation_end``).
        ``monetary_value_holdout`` (float)
            Holdout spend per holdout purchase period (0 without one).
        ``duration_holdout`` (float)
            Length of the holdout in periods, the same for every customer.

        ``attrs`` holds ``as_of`` (= ``calibration_end``), ``time_unit``,
        ``observation_end`` and ``duration_holdout``.

    See Also
    --------
    holdout_comparison : predicted against actual holdout purchases.

    Notes
    -----
    The holdout counts purchase periods the way ``frequency`` does, so that a
    customer with two orders on one day (in daily units) has one holdout purchase.
    ``frequency_holdout`` equals lifetimes' ``calibration_and_holdout_data`` when
    ``calibration_end`` is the last instant of its period (e.g. a date in daily
    units, a Sunday in weekly units); lifetimes' ``monetary_value_holdout`` is a
    mean per transaction rather than per period.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "c"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-20", "2024-02-10",
    ...                                  "2024-01-05", "2024-02-03"]),
    ...     "amount": [10.0, 20.0, 30.0, 5.0, 7.0],
    ... })
    >>> split = calibration_holdout_split(tx, calibration_end="2024-01-31",
    ...                                   observation_end="2024-02-29")
    >>> split[["frequency", "recency", "T", "frequency_holdout", "duration_holdout"]]
                 frequency  recency     T  frequency_holdout  duration_holdout
    customer_id
    a                    1     19.0  30.0                  1              29.0
    b                    0      0.0  26.0                  0              29.0
    """
    check_frame(transactions, name="transactions", owner=_OWNER)
    calibration_ts = as_timestamp(calibration_end, name="calibration_end", owner=_OWNER)
    observation_ts = as_timestamp(observation_end, name="observation_end", owner=_OWNER)
    calibration = rfm_table(
        transactions,
        as_of=calibration_ts,
        time_unit=time_unit,
        customer_col=customer_col,
        timestamp_col=timestamp_col,
        amount_col=amount_col,
        negative_amounts=negative_amounts,
    )
    ids = transactions[customer_col]
    stamps, calibration64 = timestamp_column(
        transactions, timestamp_col, ids=ids, as_of=calibration_ts, frame_name="transactions"
    )
    _, observation64 = timestamp_column(
        transactions, timestamp_col, ids=ids, as_of=observation_ts, frame_name="transactions"
    )
    calibration_period = int(to_periods(np.array([calibration64]), time_unit)[0])
    observation_period = int(to_periods(np.array([observation64]), time_unit)[0])
    if observation_period <= calibration_period:
        raise InvalidParameterError.for_value(
            name="observation_end",
            owner=_OWNER,
            allowed=f"in a later period ({time_unit!r}) than calibration_end ({calibration_ts})",
            got=observation_end,
        )
    periods = to_periods(stamps, time_unit)
    code = calibration.index.get_indexer(pd.Index(ids))
    inside = (periods > calibration_period) & (periods <= observation_period) & (code >= 0)
    amounts = transactions[amount_col].to_numpy(dtype=np.float64)[inside]
    code, periods = code[inside], periods[inside]
    purchase = amounts >= 0

    width = observation_period - calibration_period
    keys = np.unique(code[purchase] * width + (periods[purchase] - calibration_period - 1))
    n_customers = len(calibration)
    frequency = np.bincount(keys // width, minlength=n_customers)
    spend = np.bincount(code, weights=amounts, minlength=n_customers)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, spend / np.maximum(frequency, 1), 0.0)
    duration = float(width)
    split = calibration.assign(
        frequency_holdout=frequency.astype(np.int64),
        monetary_value_holdout=monetary,
        duration_holdout=duration,
    )
    split.attrs = {
        **calibration.attrs,
        "observation_end": observation_ts,
        "duration_holdout": duration,
    }
    return split


def holdout_comparison(
    split: pd.DataFrame, *, model: BetaGeoModel, max_frequency: int = 7
) -> pd.DataFrame:
    """Compare predicted and actual holdout purchases, by calibration frequency.

    The standard check of a BG/NBD fit (Fader, Hardie and Lee 2005, figure 4):
    customers are grouped by their calibration ``frequency``; in each group the mean
    number of holdout purchases is set against the mean the model predicts for the
    holdout's duration. A model that fits tracks the actuals across the groups.

    Parameters
    ----------
    split : pandas.DataFrame
        From :func:`calibration_holdout_split` (``frequency``, ``recency``, ``T``,
        ``frequency_holdout``, ``duration_holdout``), indexed by unique customer ids.
    model : BetaGeoModel
        Fitted on the calibration columns of ``split`` (keyword-only: the data are
        the only positional argument).
    max_frequency : int, default 7
        Frequencies at or above this are pooled into one group (``"7+"``).

    Returns
    -------
    pandas.DataFrame
        One row per group (``"0"``, ``"1"``, ..., ``"7+"``) and a last row ``"all"``;
        columns ``customers``, ``actual`` and ``predicted`` (mean holdout purchases
        per customer), ``actual_total`` and ``predicted_total``.

    Raises
    ------
    ColumnNotFoundError
        ``split`` lacks ``frequency_holdout`` or ``duration_holdout`` (or a column
        of the RFM table).
    InvalidDataError
        ``frequency_holdout`` is NaN, negative or not a whole number;
        ``duration_holdout`` is NaN, negative or differs between customers; or the
        calibration columns break the contract of :class:`BetaGeoModel`.
    InvalidParameterError
        ``model`` is not a :class:`BetaGeoModel`, or ``max_frequency`` < 1.

    Examples
    --------
    >>> from crmscore import BetaGeoFitter, make_transactions
    >>> book = make_transactions(3_000, seed=3)
    >>> split = calibration_holdout_split(book.transactions, calibration_end="2025-06-30",
    ...                                   observation_end=book.as_of)
    >>> report = holdout_comparison(split, model=BetaGeoFitter().fit(split), max_frequency=3)
    >>> list(report.index)
    ['0', '1', '2', '3+', 'all']
    """
    owner = "holdout_comparison"
    check_param(model, InstanceOf(BetaGeoModel, "a BetaGeoModel"), name="model", owner=owner)
    check_param(max_frequency, _AT_LEAST_ONE, name="max_frequency", owner=owner)
    frame, (actual, durations) = frame_columns(
        split,
        ("frequency_holdout", "duration_holdout"),
        owner=owner,
        frame_name="split",
        per_customer=True,
    )
    check_frequency(frame, actual, column="frequency_holdout")
    reject(
        frame,
        durations < 0,
        column="duration_holdout",
        problem="has negative values",
        hint="Build split with calibration_holdout_split.",
    )
    if not (durations == durations[0]).all():
        raise InvalidDataError(
            "split's 'duration_holdout' differs between customers; it must be one holdout.",
            column="duration_holdout",
        )
    predicted = model.expected_purchases(split, t=float(durations[0]))
    frequency = split["frequency"].to_numpy(dtype=np.int64)
    group = np.minimum(frequency, max_frequency)
    labels = [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]
    customers = np.bincount(group, minlength=max_frequency + 1)
    actual_total = np.bincount(group, weights=actual, minlength=max_frequency + 1)
    predicted_total = np.bincount(group, weights=predicted.to_numpy(), minlength=max_frequency + 1)
    customers = np.append(customers, customers.sum())
    actual_total = np.append(actual_total, actual_total.sum())
    predicted_total = np.append(predicted_total, predicted_total.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "customers": customers,
                "actual": actual_total / customers,
                "predicted": predicted_total / customers,
                "actual_total": actual_total,
                "predicted_total": predicted_total,
            },
            index=pd.Index([*labels, "all"], name="frequency"),
        )
