"""Every figure of crmscore.plotting, drawn from seeded synthetic books.

Run it with ``python examples/plots_gallery.py`` to draw the figures and print what
each shows, or with ``python examples/plots_gallery.py OUTPUT_DIR`` to also save
them there as PNG files (the directory is created if needed; nothing else is
written). The documentation build draws the figures of ``docs/plots.md`` with this
script (``docs/hooks/figures.py``), and the code shown there is cut from it.

The figures are drawn on ``matplotlib.figure.Figure`` objects passed in as ``ax``,
so no pyplot backend or window is involved. In a notebook, leave ``ax`` out: each
function then draws on a new pyplot figure and the notebook shows it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

import crmscore as cs
from crmscore.tiering import Criterion, Indicator, PercentileRank, Scorecard

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SEED = 2026


def _axes(width: float, height: float) -> Axes:
    return Figure(figsize=(width, height), layout="constrained").add_subplot()


def tier_pyramid() -> Axes:
    # --8<-- [start:tier_pyramid]
    book = cs.make_b2b_indicators(20_000, seed=SEED)
    scored = cs.b2b_scorecard().fit(book).score(book)
    ax = cs.plot_tier_pyramid(scored["tier"], revenue=book["annual_revenue"], ax=_axes(7, 3.2))
    # --8<-- [end:tier_pyramid]
    return ax


def rfm_heatmap() -> Axes:
    # --8<-- [start:rfm_heatmap]
    book = cs.make_transactions(20_000, seed=SEED)
    table = cs.rfm_table(book.transactions, as_of=book.as_of)
    segments = cs.rfm_segments(table)  # quintile scores r_score, f_score, m_score
    ax = cs.plot_rfm_heatmap(segments, monetary=table["total_spend"], ax=_axes(7, 5))
    # --8<-- [end:rfm_heatmap]
    return ax


def clv_figures() -> tuple[Axes, Axes]:
    # --8<-- [start:clv]
    book = cs.make_transactions(20_000, seed=SEED)
    split = cs.calibration_holdout_split(
        book.transactions, calibration_end="2025-06-30", observation_end=book.as_of, time_unit="W"
    )
    model = cs.BetaGeoFitter().fit(split)  # weekly units, fitted on the calibration period
    comparison = cs.holdout_comparison(model, split)
    calibration = cs.plot_calibration(comparison, ax=_axes(7, 4.5))
    p_alive = cs.plot_p_alive_matrix(model, T=52.0, max_frequency=25, ax=_axes(7, 5))
    # --8<-- [end:clv]
    return calibration, p_alive


def _policy() -> cs.RescoringPolicy:
    card = Scorecard(
        hierarchy=Criterion(
            name="value", weights={"total_spend": 0.5, "time_since_last": 0.3, "frequency": 0.2}
        ),
        indicators=[
            Indicator(name="total_spend", direction="benefit", normaliser=PercentileRank()),
            Indicator(name="time_since_last", direction="cost", normaliser=PercentileRank()),
            Indicator(name="frequency", direction="benefit", normaliser=PercentileRank()),
        ],
    )
    return cs.RescoringPolicy(scorecard=card)


def rescoring_figures() -> tuple[Axes, Axes]:
    # --8<-- [start:rescoring]
    data = cs.make_events(8_000, seed=SEED)
    events = data.events
    june, september = pd.Timestamp("2025-06-30 23:59"), pd.Timestamp("2025-09-30 23:59")
    first = cs.open_book(_policy(), events[events["timestamp"] <= june], as_of=june).book
    later = events[(events["timestamp"] > june) & (events["timestamp"] <= september)]
    second = cs.review(cs.ingest(first, later, as_of=september).book, as_of=september).book
    tiers = second.customers["tier"]
    order = second.tiers.labels()  # lowest tier first
    migration = cs.plot_tier_migration(
        first.customers["tier"], tiers, order=order, ax=_axes(6.5, 4.5)
    )

    warnings = cs.EarlyWarning().evaluate(events, as_of=september)
    churn = cs.plot_churn_by_tier(warnings["level"], tiers, order=order, ax=_axes(7, 3.4))
    # --8<-- [end:rescoring]
    return migration, churn


def figures() -> dict[str, Figure]:
    """Draw every figure; keys are the file names (without ``.png``) docs/plots.md uses."""
    calibration, p_alive = clv_figures()
    migration, churn = rescoring_figures()
    drawn = {
        "tier_pyramid": tier_pyramid(),
        "rfm_heatmap": rfm_heatmap(),
        "p_alive_matrix": p_alive,
        "calibration": calibration,
        "churn_by_tier": churn,
        "tier_migration": migration,
    }
    out: dict[str, Figure] = {}
    for name, ax in drawn.items():
        figure = ax.get_figure()
        assert isinstance(figure, Figure)
        out[name] = figure
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", nargs="?", type=Path, help="where to save the PNG files")
    args = parser.parse_args()
    start = time.perf_counter()
    drawn = figures()
    if args.output_dir is not None:
        args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, figure in drawn.items():
        title = figure.axes[0].get_title()
        if args.output_dir is not None:
            path = args.output_dir / f"{name}.png"
            figure.savefig(path, dpi=100)
            print(f"{path}: {title}")
        else:
            print(f"{name}: {title}")
    print(f"{len(drawn)} figures in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
