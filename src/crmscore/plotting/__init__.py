"""Figures of the scorers' results (optional extra: ``pip install "crmscore[plot]"``).

Every function takes data (per-customer Series or frames, a fitted model, a
comparison table) and keyword-only options, draws on ``ax`` when one is given and
on a new pyplot figure otherwise, and returns the :class:`~matplotlib.axes.Axes`.
None of them calls ``show()``, writes a file or changes matplotlib's global state
(rcParams, styles): colours are passed to each artist. matplotlib is imported
when a function is called, so ``import crmscore`` never needs it.

The numbers drawn are the numbers of the data: every bar, cell and label can be
recomputed from the inputs with a ``value_counts`` or a ``crosstab`` (the tests do
exactly that).
"""

from crmscore.plotting._clv import plot_calibration, plot_p_alive_matrix
from crmscore.plotting._common import LEVEL_COLORS
from crmscore.plotting._rfm import plot_rfm_heatmap
from crmscore.plotting._tiers import (
    plot_churn_by_tier,
    plot_tier_migration,
    plot_tier_pyramid,
    plot_tier_shares,
)

__all__ = [
    "LEVEL_COLORS",
    "plot_calibration",
    "plot_churn_by_tier",
    "plot_p_alive_matrix",
    "plot_rfm_heatmap",
    "plot_tier_migration",
    "plot_tier_pyramid",
    "plot_tier_shares",
]
