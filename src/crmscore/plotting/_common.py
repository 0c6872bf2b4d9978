"""Helpers shared by the figures: checks of per-customer inputs, axes, grid labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmscore._validation import POSITIVE, check_number, check_unique_index, reject_ids
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt
    from matplotlib.axes import Axes

#: Colours of the churn warning levels (none, blue, yellow, red).
LEVEL_COLORS: dict[str, str] = {
    "none": "#d9d9d9",
    "blue": "#3b78c2",
    "yellow": "#f2c12e",
    "red": "#d7301f",
}
CUSTOMERS_COLOR = "#4c72b0"
REVENUE_COLOR = "#dd8452"
UNIT_NAMES = {"D": "days", "W": "weeks", "M": "months"}


# --------------------------------------------------------------------------------------
# Shared checks and helpers
# --------------------------------------------------------------------------------------


def new_axes(ax: Axes | None, *, owner: str, figsize: tuple[float, float]) -> Axes:
    """Return ``ax``, or the axes of a new pyplot figure when it is None."""
    try:
        import matplotlib.pyplot as plt  # noqa: PLC0415 (optional extra, imported on use)
        from matplotlib.axes import Axes  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - the test environment has matplotlib
        raise ImportError(f"{owner} needs matplotlib: pip install 'crmscore[plot]'.") from exc
    if ax is not None:
        if not isinstance(ax, Axes):
            raise InvalidParameterError.for_value(
                name="ax", owner=owner, allowed="a matplotlib Axes or None", got=type(ax).__name__
            )
        return ax
    return plt.figure(figsize=figsize, layout="constrained").add_subplot()


def integer_ticks(*axes: Any) -> None:
    """Tick a count axis (customers, purchases) at whole numbers only.

    Matplotlib's default locator puts ticks at 0.5 steps on a short range, which
    reads as half a customer.
    """
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 (optional extra)

    for axis in axes:
        axis.set_major_locator(MaxNLocator(integer=True))


def check_labels(values: object, *, name: str, owner: str) -> pd.Series[Any]:
    """Check a per-customer Series of labels: unique index, no missing label."""
    if not isinstance(values, pd.Series):
        raise InvalidParameterError.for_value(
            name=name,
            owner=owner,
            allowed="a pandas Series indexed by customer id",
            got=type(values).__name__,
        )
    check_unique_index(values, frame_name=name)
    reject_ids(
        values.index,
        values.isna().to_numpy(),
        column=name,
        problem="has no value for",
        hint="Drop those customers or fill the gaps first.",
    )
    return values


def label_order(
    series: Sequence[pd.Series[Any]], order: Sequence[str] | None, *, name: str, owner: str
) -> list[Any]:
    """Categories from lowest to highest: ``order``, else the first categorical's, else sorted.

    Every label of every series must be among them.
    """
    if order is not None:
        labels = list(order)
        if len(set(labels)) != len(labels) or not labels:
            raise InvalidParameterError.for_value(
                name="order", owner=owner, allowed="distinct labels, lowest first", got=order
            )
    else:
        categorical = next((s for s in series if isinstance(s.dtype, pd.CategoricalDtype)), None)
        if categorical is not None:
            labels = list(categorical.cat.categories)
        else:
            labels = sorted(set().union(*(pd.unique(s.to_numpy()) for s in series)), key=str)
    for values in series:
        reject_ids(
            values.index,
            ~values.isin(labels).to_numpy(),
            column=name,
            problem=f"has labels outside {labels} for",
            hint="Pass order= with every label, lowest first.",
        )
    return labels


def aligned_values(
    values: object, index: pd.Index[Any], *, name: str, owner: str
) -> npt.NDArray[np.float64]:
    """Read a numeric per-customer Series at ``index``: every customer present, finite."""
    if not isinstance(values, pd.Series):
        raise InvalidParameterError.for_value(
            name=name, owner=owner, allowed="a pandas Series indexed by customer id", got=values
        )
    check_unique_index(values, frame_name=name)
    reject_ids(index, ~index.isin(values.index), column=name, problem="has no value for")
    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
        raise InvalidDataError(f"{name} must be numeric; got dtype {values.dtype}.", column=name)
    array = values.reindex(index).to_numpy(dtype=np.float64, na_value=np.nan)
    reject_ids(index, ~np.isfinite(array), column=name, problem="has NaN or infinite values for")
    return array


def label_counts(values: pd.Series[Any], labels: Sequence[Any]) -> npt.NDArray[np.int64]:
    """How many customers carry each label, in the order of ``labels``."""
    codes = pd.Categorical(values.to_numpy(), categories=list(labels)).codes
    return np.bincount(codes, minlength=len(labels)).astype(np.int64)


def annotate_grid(
    ax: Axes, texts: npt.NDArray[Any], shade: npt.NDArray[np.float64], *, threshold: float
) -> None:
    """Write ``texts[i, j]`` at cell (column j, row i), white on dark cells."""
    for (row, column), text in np.ndenumerate(texts):
        dark = bool(np.isfinite(shade[row, column]) and shade[row, column] > threshold)
        ax.text(
            column,
            row,
            str(text),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if dark else "black",
        )


def positive_number(value: object, *, name: str, owner: str) -> float:
    """Return ``value`` as a float if it is a positive finite number (not a bool)."""
    return check_number(value, POSITIVE, name=name, owner=owner)
