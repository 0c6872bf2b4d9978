"""Does the model track the data: tracking, frequency histogram, conditional expectations.

Frames first (one column per model, next to the actuals); the figures in
:mod:`crmscore.plotting` draw these frames.
"""

from __future__ import annotations

from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmscore._periods import TimeUnit, to_periods
from crmscore._validation import (
    InstanceOf,
    Interval,
    as_timestamp,
    check_columns,
    check_frame,
    check_integer,
    check_param,
    timestamp_column,
)
from crmscore.clv._inputs import rfm_arrays
from crmscore.clv.holdout import holdout_comparison
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["conditional_expectations", "frequency_histogram", "repeat_tracking"]

_AT_LEAST_ONE = Interval(Integral, 1, None, closed="left")


def _check_models(models: object, owner: str) -> Mapping[str, Any]:
    check_param(models, InstanceOf(dict, "a dict of models by name"), name="models", owner=owner)
    assert isinstance(models, dict)
    if not models:
        raise InvalidParameterError.for_value(
            name="models", owner=owner, allowed="at least one model", got=models
        )
    clash = {"actual", "actual_cumulative", "holdout", "customers"} & set(models)
    if clash:
        raise InvalidParameterError.for_value(
            name="models", owner=owner, allowed="names other than the actuals' columns", got=clash
        )
    return models


def repeat_tracking(
    transactions: pd.DataFrame,
    *,
    models: Mapping[str, Any],
    calibration_end: Any,
    observation_end: Any,
    time_unit: TimeUnit = "D",
    step: int = 7,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
) -> pd.DataFrame:
    r"""Repeat transactions per step, actual against each model (the tracking plot).

    The cohort is every customer whose first purchase is on or before
    ``calibration_end``; their repeat purchase periods (distinct periods after the
    first, as ``frequency`` counts them) are counted per step of ``step`` periods,
    through the calibration and the holdout up to ``observation_end``.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per purchase (customer id, timestamp).
    models : mapping of str to purchase model
        Fitted on the calibration period, in ``time_unit``; each needs
        ``expected_purchases_new_customer(t)``.
    calibration_end : date-like
        End of the calibration period.
    observation_end : date-like
        End of the holdout.
    time_unit : {"D", "W", "M"}, default "D"
        The models' period.
    step : int, default 7
        Periods per row (7 days: weekly rows in daily units).
    customer_col : str, default "customer_id"
        Column of customer ids.
    timestamp_col : str, default "timestamp"
        Column of purchase timestamps.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``period`` (periods from the cohort's first purchase period to
        the end of the step; the last step may be shorter): ``holdout`` (bool, the step ends after
        ``calibration_end``), ``actual``, ``actual_cumulative``, and per model
        ``<name>`` (expected in the step) and ``<name>_cumulative``.

    Raises
    ------
    InvalidParameterError
        Bad ``models``, ``step`` or dates (``observation_end`` not after
        ``calibration_end``).
    ColumnNotFoundError, InvalidDataError
        Missing columns, no customer by ``calibration_end``.

    Notes
    -----
    A customer whose first purchase was in period :math:`s_i` is expected to have
    made :math:`E[X(\tau - s_i)]` repeat purchases by the end of period
    :math:`\tau` (equation 9 of Fader, Hardie and Lee 2005); the model's cumulative
    curve is the sum over the cohort, evaluated once per distinct first period.

    Examples
    --------
    >>> from crmscore import BetaGeoFitter, calibration_holdout_split, make_transactions
    >>> book = make_transactions(1_000, seed=3)
    >>> split = calibration_holdout_split(book.transactions, calibration_end="2025-06-30",
    ...                                   observation_end=book.as_of)
    >>> track = repeat_tracking(book.transactions, models={"bgnbd": BetaGeoFitter().fit(split)},
    ...                         calibration_end="2025-06-30", observation_end=book.as_of,
    ...                         step=28)
    >>> list(track.columns)
    ['holdout', 'actual', 'actual_cumulative', 'bgnbd', 'bgnbd_cumulative']
    >>> bool(track["actual"].sum() == track["actual_cumulative"].iloc[-1])
    True
    """
    owner = "repeat_tracking"
    chosen = _check_models(models, owner)
    width = check_integer(step, _AT_LEAST_ONE, name="step", owner=owner)
    frame = check_frame(transactions, name="transactions", owner=owner)
    check_columns(frame, [customer_col, timestamp_col], frame_name="transactions")
    calibration_ts = as_timestamp(calibration_end, name="calibration_end", owner=owner)
    observation_ts = as_timestamp(observation_end, name="observation_end", owner=owner)
    ids = frame[customer_col]
    stamps, calibration64 = timestamp_column(
        frame, timestamp_col, ids=ids, as_of=calibration_ts, frame_name="transactions"
    )
    _, observation64 = timestamp_column(
        frame, timestamp_col, ids=ids, as_of=observation_ts, frame_name="transactions"
    )
    cal = int(to_periods(np.array([calibration64]), time_unit)[0])
    end = int(to_periods(np.array([observation64]), time_unit)[0])
    if end <= cal:
        raise InvalidParameterError.for_value(
            name="observation_end",
            owner=owner,
            allowed=f"in a later period ({time_unit!r}) than calibration_end ({calibration_ts})",
            got=observation_end,
        )
    periods = to_periods(stamps, time_unit)
    codes, _ = pd.factorize(ids)
    first = np.full(int(codes.max()) + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, codes, periods)
    cohort = first <= cal
    if not cohort.any():
        raise InvalidDataError(
            f"No customer of the transactions passed to {owner} bought by calibration_end "
            f"({calibration_ts}).",
            column=timestamp_col,
        )
    keep = cohort[codes] & (periods <= end)
    span = end - int(first[cohort].min()) + 1
    base = int(first[cohort].min())
    key = np.unique(codes[keep].astype(np.int64) * span + (periods[keep] - base))
    customer, offset = key // span, key % span
    repeat = offset + base > first[customer]
    n_steps = -(-span // width)
    edges = np.minimum(np.arange(1, n_steps + 1) * width, span)  # step ends, in offsets
    actual = np.bincount(offset[repeat] // width, minlength=n_steps)[:n_steps]
    out = pd.DataFrame(
        {
            "holdout": edges - 1 + base > cal,
            "actual": actual.astype(np.int64),
            "actual_cumulative": np.cumsum(actual).astype(np.int64),
        },
        index=pd.Index(edges, name="period"),
    )
    starts, counts = np.unique(first[cohort] - base, return_counts=True)
    for name, model in chosen.items():
        ages = edges[:, None] - 1 - starts[None, :]  # age at the end of each step
        values = np.zeros(ages.shape)
        alive = ages > 0
        if alive.any():
            distinct, inverse = np.unique(ages[alive], return_inverse=True)
            curve = np.asarray(model.expected_purchases_new_customer(distinct.astype(float)))
            values[alive] = curve[inverse]
        cumulative = values @ counts
        out[name] = np.diff(cumulative, prepend=0.0)
        out[f"{name}_cumulative"] = cumulative
    return out


def frequency_histogram(
    table: pd.DataFrame, *, models: Mapping[str, Any], max_frequency: int = 7
) -> pd.DataFrame:
    r"""Count customers by number of repeat purchases, actual against each model.

    Parameters
    ----------
    table : pandas.DataFrame
        The calibration RFM table (``frequency``, ``recency``, ``T``).
    models : mapping of str to purchase model
        Each needs ``probability_of_purchases(n, t=...)`` (the new-customer
        distribution, equation 8 of Fader, Hardie and Lee 2005).
    max_frequency : int, default 7
        Frequencies at or above it are pooled (``"7+"``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``frequency`` (``"0"``, ..., ``"7+"``): ``actual`` customers and
        one column of expected customers per model; each column sums to the number
        of customers.

    Notes
    -----
    The expected count of customers with :math:`n` repeat purchases is
    :math:`\sum_i P(X(T_i) = n)`, evaluated once per distinct age :math:`T_i`.

    Examples
    --------
    >>> from crmscore import BetaGeoFitter, make_rfm_summary
    >>> table = make_rfm_summary(2_000, seed=5)
    >>> hist = frequency_histogram(table, models={"bgnbd": BetaGeoFitter().fit(table)},
    ...                            max_frequency=3)
    >>> list(hist.index)
    ['0', '1', '2', '3+']
    >>> round(float(hist["bgnbd"].sum()))
    2000
    """
    owner = "frequency_histogram"
    chosen = _check_models(models, owner)
    top = check_integer(max_frequency, _AT_LEAST_ONE, name="max_frequency", owner=owner)
    frame, x, _, age = rfm_arrays(table, owner=owner)
    labels = [str(k) for k in range(top)] + [f"{top}+"]
    out = pd.DataFrame(
        {"actual": np.bincount(np.minimum(x, top).astype(np.intp), minlength=top + 1)},
        index=pd.Index(labels, name="frequency"),
    )
    ages, weight = np.unique(age, return_counts=True)
    n = np.arange(top)
    for name, model in chosen.items():
        grid = np.asarray(
            model.probability_of_purchases(
                np.broadcast_to(n[None, :], (ages.size, top)),
                t=np.broadcast_to(ages[:, None], (ages.size, top)),
            )
        )
        head = weight @ grid
        out[name] = np.append(head, len(frame) - head.sum())
    return out


def conditional_expectations(
    split: pd.DataFrame, *, models: Mapping[str, Any], max_frequency: int = 7
) -> pd.DataFrame:
    """Mean holdout purchases by calibration frequency, actual against each model.

    :func:`crmscore.holdout_comparison` for several models on one split, one
    column per model.

    Parameters
    ----------
    split : pandas.DataFrame
        From :func:`crmscore.calibration_holdout_split`.
    models : mapping of str to purchase model
        Fitted on the calibration columns.
    max_frequency : int, default 7
        Frequencies at or above it are pooled.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``frequency`` (groups, then ``"all"``): ``customers``,
        ``actual`` and one column per model (mean holdout purchases per customer).

    Examples
    --------
    >>> from crmscore import BetaGeoFitter, calibration_holdout_split, make_transactions
    >>> book = make_transactions(1_000, seed=3)
    >>> split = calibration_holdout_split(book.transactions, calibration_end="2025-06-30",
    ...                                   observation_end=book.as_of)
    >>> table = conditional_expectations(split, models={"bgnbd": BetaGeoFitter().fit(split)},
    ...                                  max_frequency=3)
    >>> list(table.columns)
    ['customers', 'actual', 'bgnbd']
    """
    owner = "conditional_expectations"
    chosen = _check_models(models, owner)
    out: pd.DataFrame | None = None
    for name, model in chosen.items():
        report = holdout_comparison(split, model=model, max_frequency=max_frequency)
        if out is None:
            out = report[["customers", "actual"]].copy()
        out[name] = report["predicted"]
    assert out is not None
    return out
