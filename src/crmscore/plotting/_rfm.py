"""The RFM figure: customers and mean monetary value over the R x F score grid."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from crmscore._validation import check_choice, check_columns, check_frame, reject_ids
from crmscore.errors import InvalidParameterError
from crmscore.plotting._common import aligned_values, annotate_grid, new_axes

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["plot_rfm_heatmap"]


def _score_column(frame: pd.DataFrame, column: str) -> npt.NDArray[np.int64]:
    """Read an integer score column (whole numbers >= 1)."""
    values = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 1) | (values != np.floor(values))
    reject_ids(frame.index, bad, column=column, problem="is not a whole score >= 1 for")
    return values.astype(np.int64)


def _amount(value: float) -> str:
    """Format a mean amount compactly: no decimals from 100 up, 3 digits below."""
    if not math.isfinite(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def plot_rfm_heatmap(
    scores: pd.DataFrame,
    *,
    monetary: pd.Series[Any] | None = None,
    r_col: str = "r_score",
    f_col: str = "f_score",
    color_by: Literal["customers", "monetary"] = "customers",
    ax: Axes | None = None,
) -> Axes:
    """Draw the R x F grid: customers per cell and their mean monetary value.

    Columns are the R scores and rows the F scores (1 at the bottom left, so the
    best customers are at the top right). Each cell shows its number of customers
    and, with ``monetary``, their mean monetary value; it is shaded by either.

    Parameters
    ----------
    scores : pandas.DataFrame
        Per-customer scores, e.g. from :meth:`crmscore.FittedRFMScorer.score` or
        :func:`crmscore.rfm_segments`.
    monetary : pandas.Series, optional
        Monetary value per customer (e.g. ``table["total_spend"]``), indexed like
        ``scores`` (extra customers are ignored).
    r_col : str, default "r_score"
        The R score column (whole numbers from 1).
    f_col : str, default "f_score"
        The F score column (whole numbers from 1).
    color_by : {"customers", "monetary"}, default "customers"
        What the shading shows (``"monetary"`` needs ``monetary``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        One image, one text per cell (row by row from F = 1, R = 1), a colour bar.

    Raises
    ------
    ColumnNotFoundError
        A score column is missing.
    InvalidDataError
        A score that is not a whole number >= 1, or monetary values missing or not
        finite for a customer.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"r_score": [1, 2, 2], "f_score": [1, 1, 2]})
    >>> ax = plot_rfm_heatmap(scores, monetary=pd.Series([10.0, 20.0, 40.0]))
    >>> [t.get_text().splitlines() for t in ax.texts]  # F=1: R=1, R=2; F=2: R=1, R=2
    [['1', '10'], ['1', '20'], ['0'], ['1', '40']]
    >>> plt.close(ax.figure)
    """
    owner = "plot_rfm_heatmap"
    check_frame(scores, name="scores", owner=owner)
    check_columns(scores, [r_col, f_col], frame_name="scores")
    check_choice(color_by, name="color_by", owner=owner, choices=("customers", "monetary"))
    if color_by == "monetary" and monetary is None:
        raise InvalidParameterError(f"{owner}: color_by='monetary' needs monetary= values.")
    r = _score_column(scores, r_col)
    f = _score_column(scores, f_col)
    n_r, n_f = int(r.max(initial=1)), int(f.max(initial=1))
    cells = (f - 1) * n_r + (r - 1)
    counts = np.bincount(cells, minlength=n_r * n_f).reshape(n_f, n_r)
    means = None
    if monetary is not None:
        amounts = aligned_values(monetary, scores.index, name="monetary", owner=owner)
        sums = np.bincount(cells, weights=amounts, minlength=n_r * n_f).reshape(n_f, n_r)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    shade = counts.astype(np.float64) if color_by == "customers" or means is None else means
    shade = np.where(counts > 0, shade, np.nan)
    texts = np.empty((n_f, n_r), dtype=object)
    for (i, j), count in np.ndenumerate(counts):
        texts[i, j] = (
            f"{count:,}"
            if means is None or count == 0
            else (f"{count:,}\n{_amount(float(means[i, j]))}")
        )
    ax = new_axes(ax, owner=owner, figsize=(0.9 * n_r + 2.6, 0.7 * n_f + 1.4))
    image = ax.imshow(np.ma.masked_invalid(shade), origin="lower", cmap="YlGnBu", aspect="auto")
    low, high = np.nanmin(shade, initial=np.inf), np.nanmax(shade, initial=-np.inf)
    annotate_grid(ax, texts, shade, threshold=low + 0.6 * (high - low))
    ax.set_xticks(np.arange(n_r), [str(k) for k in range(1, n_r + 1)])
    ax.set_yticks(np.arange(n_f), [str(k) for k in range(1, n_f + 1)])
    ax.set_xlabel(f"R score ({r_col})")
    ax.set_ylabel(f"F score ({f_col})")
    label = "customers" if color_by == "customers" else "mean monetary value"
    ax.figure.colorbar(image, ax=ax, label=label)
    detail = "customers and mean monetary value" if means is not None else "customers"
    ax.set_title(f"{detail.capitalize()} per R x F cell ({len(scores):,} customers)")
    return ax
