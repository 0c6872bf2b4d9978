"""Figures of tiers: the value pyramid, migration between reviews, churn by tier."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmscore._validation import reject_ids
from crmscore.churn.rules import LEVELS
from crmscore.errors import InvalidDataError
from crmscore.plotting._common import (
    CUSTOMERS_COLOR,
    LEVEL_COLORS,
    REVENUE_COLOR,
    aligned_values,
    annotate_grid,
    check_labels,
    integer_ticks,
    label_counts,
    label_order,
    new_axes,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.axes import Axes

__all__ = [
    "plot_churn_by_tier",
    "plot_tier_migration",
    "plot_tier_pyramid",
    "plot_tier_shares",
]


def plot_tier_pyramid(
    tiers: pd.Series[Any],
    *,
    revenue: pd.Series[Any] | None = None,
    order: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw the value pyramid: each tier's share of customers (and of revenue).

    The tiers are stacked lowest at the bottom. Bars to the left are the share of
    customers in the tier, labelled with the count; bars to the right (with
    ``revenue``) are the tier's share of revenue. A top tier with few customers and
    most of the revenue is the policy's "share of revenue from top customers".

    Parameters
    ----------
    tiers : pandas.Series
        Tier label per customer (e.g. ``FittedScorecard.score(...)["tier"]``).
    revenue : pandas.Series, optional
        Revenue per customer, indexed like ``tiers`` (extra customers are ignored).
    order : sequence of str, optional
        Tier labels from lowest to highest; by default the categories of a
        categorical ``tiers``, else the sorted labels.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        Bar containers labelled ``"customers"`` and ``"revenue"``.

    Raises
    ------
    InvalidDataError
        A customer without a tier, a label outside ``order``, or revenue missing or
        not finite for a customer.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> tiers = pd.Series(pd.Categorical(["Gold", "Silver", "Silver", "Silver"],
    ...                                  categories=["Silver", "Gold"], ordered=True))
    >>> ax = plot_tier_pyramid(tiers, revenue=pd.Series([70.0, 10.0, 10.0, 10.0]))
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['Silver', 'Gold']
    >>> [t.get_text() for t in ax.texts]
    ['3 (75%)', '30%', '1 (25%)', '70%']
    >>> plt.close(ax.figure)
    """
    owner = "plot_tier_pyramid"
    tiers = check_labels(tiers, name="tiers", owner=owner)
    labels = label_order([tiers], order, name="tiers", owner=owner)
    counts = label_counts(tiers, labels)
    customer_share = counts / max(len(tiers), 1)
    revenue_share = None
    if revenue is not None:
        amounts = aligned_values(revenue, tiers.index, name="revenue", owner=owner)
        codes = pd.Categorical(tiers.to_numpy(), categories=labels).codes
        per_tier = np.bincount(codes, weights=amounts, minlength=len(labels))
        total = float(per_tier.sum())
        revenue_share = per_tier / total if total != 0 else np.zeros(len(labels))
    ax = new_axes(ax, owner=owner, figsize=(7.0, 0.6 * len(labels) + 1.6))
    positions = np.arange(len(labels))
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    if revenue_share is None:  # a classic centred pyramid
        ax.barh(
            positions,
            customer_share,
            left=-customer_share / 2,
            color=CUSTOMERS_COLOR,
            label="customers",
        )
        limit = float(customer_share.max(initial=0.0)) / 2
    else:
        ax.barh(positions, -customer_share, color=CUSTOMERS_COLOR, label="customers")
        ax.barh(positions, revenue_share, color=REVENUE_COLOR, label="revenue")
        limit = float(max(customer_share.max(initial=0.0), revenue_share.max(initial=0.0)))
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.legend(loc="lower right", frameon=False)
    limit = limit * 1.6 or 1.0  # room for the labels
    for k in range(len(labels)):
        left = -customer_share[k] if revenue_share is not None else -customer_share[k] / 2
        ax.text(
            left - 0.01 * limit,
            k,
            f"{counts[k]:,} ({customer_share[k]:.0%})",
            ha="right",
            va="center",
            fontsize=8,
        )
        if revenue_share is not None:
            ax.text(
                revenue_share[k] + 0.01 * limit,
                k,
                f"{revenue_share[k]:.0%}",
                ha="left",
                va="center",
                fontsize=8,
            )
    ax.set_xlim(-limit, limit)
    ax.set_yticks(positions, [str(label) for label in labels])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{abs(value):.0%}"))
    ax.set_xlabel(
        "share of customers"
        if revenue_share is None
        else "share of customers (left) and of revenue (right)"
    )
    ax.set_title(f"Tier pyramid ({len(tiers):,} customers)")
    return ax


def plot_tier_migration(
    before: pd.Series[Any],
    after: pd.Series[Any],
    *,
    order: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw the transition matrix of tiers between two reviews.

    Rows are the tiers before, columns the tiers after, highest tier first; each
    cell shows how many customers moved from its row to its column and is shaded by
    that count's share of the row. Customers only in ``after`` form a row "(new)",
    customers only in ``before`` a column "(left)" (each shown when there are any).

    Parameters
    ----------
    before : pandas.Series
        Tier label per customer at the earlier review (e.g. ``book.customers["tier"]``).
    after : pandas.Series
        Tier label per customer at the later review, like ``before``.
    order : sequence of str, optional
        Tier labels from lowest to highest; by default the categories of a
        categorical ``before`` (or ``after``), else the sorted labels.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        One image; the title says which share of customers moved up, kept their
        tier or moved down.

    Raises
    ------
    InvalidDataError
        A customer without a tier, or a label outside ``order``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> before = pd.Series(["Gold", "Gold", "Silver"], index=["a", "b", "c"])
    >>> after = pd.Series(["Gold", "Silver", "Gold"], index=["a", "b", "c"])
    >>> ax = plot_tier_migration(before, after, order=["Silver", "Gold"])
    >>> [t.get_text().splitlines() for t in ax.texts]  # Gold -> Gold, Silver; Silver -> ...
    [['1', '50%'], ['1', '50%'], ['1', '100%'], ['0', '0%']]
    >>> ax.get_title()
    'Tier migration (3 customers): 33% up, 33% kept, 33% down'
    >>> plt.close(ax.figure)
    """
    owner = "plot_tier_migration"
    before = check_labels(before, name="before", owner=owner)
    after = check_labels(after, name="after", owner=owner)
    labels = label_order([before, after], order, name="tiers", owner=owner)
    k = len(labels)
    old = pd.Categorical(before.to_numpy(), categories=labels).codes.astype(np.int64)
    new = pd.Categorical(after.to_numpy(), categories=labels).codes.astype(np.int64)
    in_after = before.index.get_indexer(after.index)  # position in `before`, or -1
    stayed = in_after >= 0
    pairs = old[in_after[stayed]] * k + new[stayed]
    matrix = np.bincount(pairs, minlength=k * k).reshape(k, k)
    joined = np.bincount(new[~stayed], minlength=k)
    left_mask = np.ones(len(before), dtype=bool)
    left_mask[in_after[stayed]] = False
    departed = np.bincount(old[left_mask], minlength=k)
    # Highest tier first, then the "(new)" row and "(left)" column when they exist.
    grid = matrix[::-1, ::-1]
    row_names = [str(label) for label in labels[::-1]]
    column_names = list(row_names)
    if departed.any():
        grid = np.column_stack([grid, departed[::-1]])
        column_names.append("(left)")
    if joined.any():
        extra = np.append(joined[::-1], 0) if departed.any() else joined[::-1]
        grid = np.vstack([grid, extra])
        row_names.append("(new)")
    totals = grid.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(totals > 0, grid / np.maximum(totals, 1), 0.0)
    texts = np.array(
        [
            [f"{grid[i, j]:,}\n{shares[i, j]:.0%}" for j in range(grid.shape[1])]
            for i in range(grid.shape[0])
        ],
        dtype=object,
    )
    if joined.any() and departed.any():
        texts[-1, -1] = ""  # nobody joins and leaves between two reviews
    ax = new_axes(
        ax, owner=owner, figsize=(1.1 * len(column_names) + 2.4, 0.7 * len(row_names) + 1.4)
    )
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    annotate_grid(ax, texts, shares, threshold=0.6)
    ax.set_xticks(np.arange(len(column_names)), column_names)
    ax.set_yticks(np.arange(len(row_names)), row_names)
    ax.set_xlabel("tier after")
    ax.set_ylabel("tier before")
    ax.figure.colorbar(image, ax=ax, label="share of the row")
    n = int(matrix.sum())
    up = int(np.triu(matrix, 1).sum())
    down = int(np.tril(matrix, -1).sum())
    if n:
        moves = f"{up / n:.0%} up, {(n - up - down) / n:.0%} kept, {down / n:.0%} down"
    else:
        moves = "no customer in both"
    ax.set_title(f"Tier migration ({n:,} customers): {moves}")
    return ax


def plot_churn_by_tier(
    levels: pd.Series[Any],
    tiers: pd.Series[Any],
    *,
    normalize: bool = True,
    order: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw the churn warning levels within each tier as stacked bars.

    The policy asks for a response that depends on the customer's tier: this shows
    where the warnings fall. One bar per tier (lowest at the bottom), split by
    warning level; each bar is labelled with its number of customers.

    Parameters
    ----------
    levels : pandas.Series
        Warning level per customer (``EarlyWarning.predict(...)["level"]``).
    tiers : pandas.Series
        Tier per customer; it must have every customer of ``levels`` (customers
        without a warning row are not drawn).
    normalize : bool, default True
        Bars of shares (each tier sums to 1) rather than of counts.
    order : sequence of str, optional
        Tier labels from lowest to highest (as in :func:`plot_tier_pyramid`).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        One bar container per level, labelled with the level.

    Raises
    ------
    InvalidDataError
        A customer of ``levels`` without a tier, a missing level or tier, or a label
        outside the known levels or ``order``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> levels = pd.Series(["none", "red", "none", "blue"], index=[1, 2, 3, 4])
    >>> tiers = pd.Series(["Gold", "Gold", "Silver", "Silver"], index=[1, 2, 3, 4])
    >>> ax = plot_churn_by_tier(levels, tiers, order=["Silver", "Gold"])
    >>> [c.get_label() for c in ax.containers]
    ['none', 'blue', 'yellow', 'red']
    >>> [float(bar.get_width()) for bar in ax.containers[3]]  # red: Silver, Gold
    [0.0, 0.5]
    >>> plt.close(ax.figure)
    """
    owner = "plot_churn_by_tier"
    levels = check_labels(levels, name="levels", owner=owner)
    tiers = check_labels(tiers, name="tiers", owner=owner)
    level_order = label_order(
        [levels],
        list(levels.cat.categories) if isinstance(levels.dtype, pd.CategoricalDtype) else LEVELS,
        name="levels",
        owner=owner,
    )
    tier_order = label_order([tiers], order, name="tiers", owner=owner)
    reject_ids(
        levels.index, ~levels.index.isin(tiers.index), column="tiers", problem="has no tier for"
    )
    tier_codes = pd.Categorical(tiers.reindex(levels.index).to_numpy(), categories=tier_order)
    level_codes = pd.Categorical(levels.to_numpy(), categories=level_order).codes
    n_tiers, n_levels = len(tier_order), len(level_order)
    table = np.bincount(
        tier_codes.codes.astype(np.int64) * n_levels + level_codes,
        minlength=n_tiers * n_levels,
    ).reshape(n_tiers, n_levels)
    totals = table.sum(axis=1)
    widths = table / np.maximum(totals, 1)[:, None] if normalize else table.astype(np.float64)
    ax = new_axes(ax, owner=owner, figsize=(7.0, 0.6 * n_tiers + 1.6))
    positions = np.arange(n_tiers)
    left = np.zeros(n_tiers)
    for j, level in enumerate(level_order):
        ax.barh(
            positions,
            widths[:, j],
            left=left,
            color=LEVEL_COLORS.get(str(level), "#969696"),
            label=str(level),
            edgecolor="white",
            linewidth=0.5,
        )
        for i in range(n_tiers):
            if normalize and widths[i, j] >= 0.06 and str(level) != "none":
                ax.text(
                    left[i] + widths[i, j] / 2,
                    i,
                    f"{widths[i, j]:.0%}",
                    ha="center",
                    va="center",
                    fontsize=7,
                )
        left = left + widths[:, j]
    for i in range(n_tiers):
        ax.text(left[i], i, f"  n={totals[i]:,}", ha="left", va="center", fontsize=8)
    end = 1.0 if normalize else float(left.max(initial=0.0)) or 1.0
    ax.set_xlim(0.0, end * 1.18)
    ax.set_yticks(positions, [str(label) for label in tier_order])
    if normalize:
        from matplotlib.ticker import PercentFormatter  # noqa: PLC0415

        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    else:
        integer_ticks(ax.xaxis)
    ax.set_xlabel("share of the tier's customers" if normalize else "customers")
    ax.set_title("Churn warning levels by tier")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=n_levels, frameon=False)
    return ax


def plot_tier_shares(distribution: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Draw each tier's share of the rated customers over time, stacked.

    Parameters
    ----------
    distribution : pandas.DataFrame
        One row per date and one column per tier, lowest first, of counts (as
        ``tier_distribution(book, at=...)`` returns; a ``(unrated)`` column is left
        out) or of shares.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        One stacked band per tier (lowest at the bottom), heights the shares in
        percent of each date's rated customers; the legend lists the highest first.

    Raises
    ------
    InvalidDataError
        No row or no tier column, negative or non-numeric values, or a date with no
        customer.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> counts = pd.DataFrame({"Silver": [8, 6], "Gold": [2, 4]},
    ...                       index=pd.to_datetime(["2025-03-31", "2025-06-30"]))
    >>> ax = plot_tier_shares(counts)
    >>> [round(float(p.get_height()), 1) for p in ax.patches]  # Silver, then Gold
    [80.0, 60.0, 20.0, 40.0]
    >>> plt.close(ax.figure)
    """
    owner = "plot_tier_shares"
    if not isinstance(distribution, pd.DataFrame):
        raise InvalidDataError(f"{owner}: distribution must be a DataFrame of dates x tiers.")
    frame = distribution.drop(columns=[c for c in distribution.columns if c == "(unrated)"])
    if frame.empty or frame.shape[1] == 0:
        raise InvalidDataError(f"{owner}: distribution has no date or no tier column.")
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(values).all() or (values < 0).any():
        raise InvalidDataError(
            f"{owner}: distribution must hold finite, non-negative counts or shares."
        )
    totals = values.sum(axis=1)
    if (totals <= 0).any():
        empty = [str(d) for d in frame.index[totals <= 0][:5]]
        raise InvalidDataError(f"{owner}: no customer at date(s) {empty}.")
    shares = 100.0 * values / totals[:, None]
    ax = new_axes(ax, owner=owner, figsize=(7.0, 4.0))
    positions = np.arange(len(frame))
    bottom = np.zeros(len(frame))
    colors = _band_colors(frame.shape[1])
    for k, tier in enumerate(frame.columns):
        ax.bar(positions, shares[:, k], bottom=bottom, color=colors[k], label=str(tier), width=0.8)
        bottom += shares[:, k]
    labels = [d.date().isoformat() if isinstance(d, pd.Timestamp) else str(d) for d in frame.index]
    ax.set_xticks(positions, labels)
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of rated customers (%)")
    ax.set_title("Tier shares over time")
    handles, names = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], names[::-1], loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax


def _band_colors(n: int) -> list[tuple[float, float, float]]:
    """From a light grey (lowest tier) to a dark blue (highest)."""
    low, high = np.array([0.85, 0.85, 0.85]), np.array([0.12, 0.25, 0.55])
    steps = np.linspace(0.0, 1.0, n) if n > 1 else np.array([1.0])
    return [tuple(float(c) for c in low + (high - low) * s) for s in steps]  # type: ignore[misc]
