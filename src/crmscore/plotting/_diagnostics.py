"""Figures of the tracking diagnostics: several purchase models against the actuals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from crmscore._validation import DATAFRAME, InstanceOf, check_columns, check_param
from crmscore.errors import InvalidDataError
from crmscore.plotting._common import integer_ticks, new_axes

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["plot_conditional_expectations", "plot_frequency_histogram", "plot_tracking"]

_ACTUAL_COLOR = "black"


def _model_columns(frame: pd.DataFrame, reserved: set[str], *, owner: str) -> list[str]:
    names = [c for c in frame.columns if c not in reserved and not str(c).endswith("_cumulative")]
    if not names:
        raise InvalidDataError(
            f"The frame passed to {owner} has no model column (only {sorted(reserved)}); "
            "build it with models={...}."
        )
    return [str(c) for c in names]


def plot_tracking(
    tracking: pd.DataFrame, *, cumulative: bool = True, ax: Axes | None = None
) -> Axes:
    """Draw repeat transactions over time, actual against each model (Fader-Hardie).

    Parameters
    ----------
    tracking : pandas.DataFrame
        The output of :func:`crmscore.repeat_tracking`.
    cumulative : bool, default True
        Cumulative repeat transactions (else per step).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        One line for the actuals, then one per model; a dotted vertical line where
        the holdout begins.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"holdout": [False, True], "actual": [3, 4],
    ...                       "actual_cumulative": [3, 7], "m": [2.5, 4.0],
    ...                       "m_cumulative": [2.5, 6.5]}, index=[7, 14])
    >>> ax = plot_tracking(frame)
    >>> [line.get_label() for line in ax.lines[:2]], ax.lines[1].get_ydata().tolist()
    (['actual', 'm'], [2.5, 6.5])
    >>> plt.close(ax.figure)
    """
    owner = "plot_tracking"
    check_param(tracking, DATAFRAME, name="tracking", owner=owner)
    check_columns(tracking, ["holdout", "actual", "actual_cumulative"], frame_name="tracking")
    models = _model_columns(tracking, {"holdout", "actual", "actual_cumulative"}, owner=owner)
    check_param(cumulative, InstanceOf(bool, "True or False"), name="cumulative", owner=owner)
    suffix = "_cumulative" if cumulative else ""
    ax = new_axes(ax, owner=owner, figsize=(7.0, 4.5))
    x = tracking.index.to_numpy()
    ax.plot(
        x,
        tracking[f"actual{suffix}"].to_numpy(),
        label="actual",
        color=_ACTUAL_COLOR,
        linewidth=2.0,
    )
    for name in models:
        ax.plot(x, tracking[f"{name}{suffix}"].to_numpy(), label=name, linestyle="--")
    holdout = tracking["holdout"].to_numpy(dtype=bool)
    if holdout.any() and not holdout.all():
        ax.axvline(x[np.argmax(holdout) - 1], color="grey", linestyle=":", label="holdout starts")
    ax.set_xlabel("periods since the first purchase of the cohort")
    ax.set_ylabel(("cumulative " if cumulative else "") + "repeat transactions")
    integer_ticks(ax.yaxis)
    ax.set_title("Tracking repeat transactions: actual against models")
    ax.legend()
    return ax


def plot_frequency_histogram(histogram: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Draw customers by number of repeat purchases, actual bars against each model.

    Parameters
    ----------
    histogram : pandas.DataFrame
        The output of :func:`crmscore.frequency_histogram`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        One group of bars per frequency: the actuals first, then each model.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> hist = pd.DataFrame({"actual": [5, 3], "m": [4.5, 3.5]}, index=["0", "1+"])
    >>> ax = plot_frequency_histogram(hist)
    >>> [float(p.get_height()) for p in ax.patches]
    [5.0, 3.0, 4.5, 3.5]
    >>> plt.close(ax.figure)
    """
    owner = "plot_frequency_histogram"
    check_param(histogram, DATAFRAME, name="histogram", owner=owner)
    check_columns(histogram, ["actual"], frame_name="histogram")
    models = _model_columns(histogram, {"actual"}, owner=owner)
    ax = new_axes(ax, owner=owner, figsize=(7.0, 4.0))
    series = ["actual", *models]
    width = 0.8 / len(series)
    positions = np.arange(len(histogram))
    for k, name in enumerate(series):
        ax.bar(
            positions + (k - (len(series) - 1) / 2) * width,
            histogram[name].to_numpy(dtype=float),
            width=width,
            label=name,
            color="dimgray" if name == "actual" else None,
        )
    ax.set_xticks(positions, [str(i) for i in histogram.index])
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("customers")
    integer_ticks(ax.yaxis)
    ax.set_title("Frequency of repeat purchases: actual against models")
    ax.legend()
    return ax


def plot_conditional_expectations(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Draw mean holdout purchases by calibration frequency, actual against each model.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`crmscore.conditional_expectations` (its row ``"all"``
        is left out of the lines).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        One line for the actuals, then one per model.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> table = pd.DataFrame({"customers": [10, 5, 15], "actual": [0.2, 1.0, 0.5],
    ...                       "m": [0.25, 0.9, 0.47]}, index=["0", "1+", "all"])
    >>> ax = plot_conditional_expectations(table)
    >>> ax.lines[1].get_ydata().tolist()
    [0.25, 0.9]
    >>> plt.close(ax.figure)
    """
    owner = "plot_conditional_expectations"
    check_param(table, DATAFRAME, name="table", owner=owner)
    check_columns(table, ["customers", "actual"], frame_name="table")
    models = _model_columns(table, {"customers", "actual"}, owner=owner)
    groups = table.drop(index="all", errors="ignore")
    ax = new_axes(ax, owner=owner, figsize=(7.0, 4.5))
    x = np.arange(len(groups))
    ax.plot(
        x,
        groups["actual"].to_numpy(),
        label="actual",
        marker="o",
        color=_ACTUAL_COLOR,
        linewidth=2.0,
    )
    for name in models:
        ax.plot(x, groups[name].to_numpy(), label=name, marker="s", linestyle="--")
    ax.set_xticks(
        x, [f"{i}\n({n:,})" for i, n in zip(groups.index, groups["customers"], strict=True)]
    )
    ax.set_xlabel("repeat purchases in the calibration period (customers)")
    ax.set_ylabel("mean holdout purchases")
    ax.set_title("Conditional expectations: actual against models")
    ax.legend()
    return ax
