"""Figures of the BG/NBD model: the P(alive) matrix and the holdout calibration."""

from __future__ import annotations

from numbers import Integral
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from crmscore._validation import (
    InstanceOf,
    Interval,
    check_choice,
    check_columns,
    check_frame,
    check_param,
)
from crmscore.clv.bgnbd import BetaGeoModel
from crmscore.errors import InvalidDataError
from crmscore.plotting._common import (
    CUSTOMERS_COLOR,
    REVENUE_COLOR,
    UNIT_NAMES,
    integer_ticks,
    new_axes,
    positive_number,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_calibration", "plot_p_alive_matrix"]


def plot_p_alive_matrix(
    model: BetaGeoModel,
    *,
    T: float,  # noqa: N803 (the paper's symbol, as in the RFM table)
    max_frequency: int = 20,
    resolution: int = 100,
    kind: Literal["p_alive", "expected_purchases"] = "p_alive",
    t: float = 1.0,
    ax: Axes | None = None,
) -> Axes:
    """Draw P(alive) (or expected purchases) over frequency and recency at a given T.

    The BG/NBD model's view of a customer of age ``T``: frequency (repeat purchases)
    up the rows, recency (time of the last purchase since the first) along the
    columns. A frequent customer who has not bought for a long time is the one the
    model thinks has left.

    Parameters
    ----------
    model : BetaGeoModel
        A fitted (or published) BG/NBD model.
    T : float
        Customer age (first purchase to now), in the model's time unit.
    max_frequency : int, default 20
        Highest frequency drawn (rows 0 to ``max_frequency``).
    resolution : int, default 100
        Number of recency values, evenly from 0 to ``T``.
    kind : {"p_alive", "expected_purchases"}, default "p_alive"
        What is drawn: :meth:`BetaGeoModel.probability_alive`, or
        :meth:`BetaGeoModel.expected_purchases` over the next ``t`` periods.
    t : float, default 1.0
        Horizon of ``kind="expected_purchases"``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        One image of shape ``(max_frequency + 1, resolution)``.

    Notes
    -----
    Without a repeat purchase a BG/NBD customer has recency 0, and the model's
    predictions do not depend on recency there (P(alive) is 1), so the row of
    frequency 0 is the value at recency 0 across the whole row.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> model = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793,
    ...                                   "b": 2.426}, time_unit="W")
    >>> ax = plot_p_alive_matrix(model, T=52.0, max_frequency=10, resolution=53)
    >>> ax.images[0].get_array().shape
    (11, 53)
    >>> ax.get_title()
    'P(alive) of customers at T = 52 weeks'
    >>> plt.close(ax.figure)
    """
    owner = "plot_p_alive_matrix"
    check_param(model, InstanceOf(BetaGeoModel, "a BetaGeoModel"), name="model", owner=owner)
    check_choice(kind, name="kind", owner=owner, choices=("p_alive", "expected_purchases"))
    T = positive_number(T, name="T", owner=owner)  # noqa: N806
    t = positive_number(t, name="t", owner=owner)
    for name, value, minimum in (
        ("max_frequency", max_frequency, 1),
        ("resolution", resolution, 2),
    ):
        check_param(value, Interval(Integral, minimum, None, closed="left"), name=name, owner=owner)
    frequency = np.repeat(np.arange(max_frequency + 1, dtype=np.int64), resolution)
    recency = np.tile(np.linspace(0.0, float(T), resolution), max_frequency + 1)
    grid = pd.DataFrame(
        {"frequency": frequency, "recency": np.where(frequency > 0, recency, 0.0), "T": float(T)}
    )
    unit = UNIT_NAMES.get(model.time_unit or "", "periods")
    if kind == "p_alive":
        values = model.probability_alive(grid).to_numpy()
        label, title = "P(alive)", f"P(alive) of customers at T = {T:g} {unit}"
    else:
        values = model.expected_purchases(grid, t=float(t)).to_numpy()
        label = f"expected purchases in the next {t:g} {unit}"
        title = f"Expected purchases in the next {t:g} {unit}, at T = {T:g} {unit}"
    matrix = values.reshape(max_frequency + 1, resolution)
    step = float(T) / (resolution - 1)
    ax = new_axes(ax, owner=owner, figsize=(7.0, 5.0))
    image = ax.imshow(
        matrix,
        origin="lower",
        aspect="auto",
        cmap="viridis",
        extent=(-step / 2, float(T) + step / 2, -0.5, max_frequency + 0.5),
        vmin=0.0,
        vmax=1.0 if kind == "p_alive" else None,
    )
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set_xlabel(f"recency: first to last purchase ({unit})")
    ax.set_ylabel("frequency: repeat purchases")
    integer_ticks(ax.yaxis)
    ax.set_title(title)
    return ax


def plot_calibration(comparison: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Draw predicted against actual holdout purchases per calibration frequency.

    The standard check of a BG/NBD fit (Fader, Hardie and Lee 2005, figure 4), from
    :func:`crmscore.holdout_comparison`: a model that fits tracks the actual mean
    number of holdout purchases in every group of customers.

    Parameters
    ----------
    comparison : pandas.DataFrame
        The output of :func:`crmscore.holdout_comparison` (columns ``customers``,
        ``actual``, ``predicted``); its row ``"all"`` goes into the title.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        Two lines, ``"actual"`` and ``"predicted"``, over the groups; each tick
        label gives the group and its number of customers.

    Raises
    ------
    ColumnNotFoundError
        A column is missing.
    InvalidDataError
        No group besides ``"all"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> comparison = pd.DataFrame(
    ...     {"customers": [50, 30, 20], "actual": [0.2, 1.1, 0.58],
    ...      "predicted": [0.25, 1.0, 0.57]}, index=["0", "1+", "all"])
    >>> ax = plot_calibration(comparison)
    >>> [line.get_label() for line in ax.lines]
    ['actual', 'predicted']
    >>> ax.lines[1].get_ydata().tolist()
    [0.25, 1.0]
    >>> plt.close(ax.figure)
    """
    owner = "plot_calibration"
    check_frame(comparison, name="comparison", owner=owner)
    check_columns(comparison, ["customers", "actual", "predicted"], frame_name="comparison")
    groups = comparison.drop(index="all") if "all" in comparison.index else comparison
    if len(groups) == 0:
        raise InvalidDataError("comparison has no group of customers to draw (only 'all').")
    positions = np.arange(len(groups))
    ax = new_axes(ax, owner=owner, figsize=(7.0, 4.5))
    ax.plot(
        positions,
        groups["actual"].to_numpy(dtype=np.float64),
        marker="o",
        color=CUSTOMERS_COLOR,
        label="actual",
    )
    ax.plot(
        positions,
        groups["predicted"].to_numpy(dtype=np.float64),
        marker="s",
        linestyle="--",
        color=REVENUE_COLOR,
        label="predicted",
    )
    customers = groups["customers"].to_numpy()
    ax.set_xticks(
        positions,
        [f"{label}\n({int(n):,})" for label, n in zip(groups.index, customers, strict=True)],
    )
    ax.set_xlabel("repeat purchases in the calibration period (customers)")
    ax.set_ylabel("mean purchases per customer in the holdout")
    ax.set_ylim(bottom=0.0)
    ax.legend(frameon=False)
    title = "Holdout check"
    if "all" in comparison.index:
        actual, predicted = comparison.loc["all", ["actual", "predicted"]].to_numpy(np.float64)
        title += f": {actual:.3g} actual vs {predicted:.3g} predicted purchases per customer"
    ax.set_title(title)
    return ax
