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

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: The figures, by file name (without ``.png``) as docs/plots.md uses them, and size.
SIZES: dict[str, tuple[float, float]] = {
    "tier_pyramid": (7.0, 3.2),
    "rfm_heatmap": (7.0, 5.0),
    "calibration": (7.0, 4.5),
    "p_alive_matrix": (7.0, 5.0),
    "tracking": (7.0, 4.5),
    "frequency_histogram": (7.0, 4.0),
    "conditional_expectations": (7.0, 4.5),
    "tier_migration": (6.5, 4.5),
    "churn_by_tier": (7.0, 3.4),
}


def tier_pyramid(ax: Axes) -> None:
    # --8<-- [start:tier_pyramid]
    book = cs.make_b2b_indicators(20_000, seed=2026)
    scored = cs.b2b_scorecard().fit(book).score(book)
    cs.plot_tier_pyramid(scored["tier"], revenue=book["annual_revenue"], ax=ax)
    # --8<-- [end:tier_pyramid]


def rfm_heatmap(ax: Axes) -> None:
    # --8<-- [start:rfm_heatmap]
    book = cs.make_transactions(20_000, seed=2026)
    table = cs.rfm_table(book.transactions, as_of=book.as_of)
    segments = cs.rfm_segments(table)  # quintile scores r_score, f_score, m_score
    cs.plot_rfm_heatmap(segments, monetary=table["total_spend"], ax=ax)
    # --8<-- [end:rfm_heatmap]


def clv(calibration_ax: Axes, p_alive_ax: Axes) -> None:
    # --8<-- [start:clv]
    book = cs.make_transactions(20_000, seed=2026)
    split = cs.calibration_holdout_split(
        book.transactions, calibration_end="2025-06-30", observation_end=book.as_of, time_unit="W"
    )
    model = cs.BetaGeoFitter().fit(split)  # weekly units, fitted on the calibration period
    comparison = cs.holdout_comparison(split, model=model)
    cs.plot_calibration(comparison, ax=calibration_ax)
    cs.plot_p_alive_matrix(model, T=52.0, max_frequency=25, ax=p_alive_ax)
    # --8<-- [end:clv]


def diagnostics(tracking_ax: Axes, histogram_ax: Axes, conditional_ax: Axes) -> None:
    # --8<-- [start:diagnostics]
    book = cs.make_transactions(20_000, seed=2026)
    split = cs.calibration_holdout_split(
        book.transactions, calibration_end="2025-06-30", observation_end=book.as_of
    )
    models = {  # daily units; the fit against the parameters that drew the book
        "fitted BG/NBD": cs.BetaGeoFitter().fit(split),
        "true parameters": cs.BetaGeoModel.from_params(book.purchase, time_unit="D"),
    }
    tracking = cs.repeat_tracking(
        book.transactions,
        models=models,
        calibration_end="2025-06-30",
        observation_end=book.as_of,
        step=7,  # weekly rows
    )
    cs.plot_tracking(tracking, cumulative=False, ax=tracking_ax)
    cs.plot_frequency_histogram(cs.frequency_histogram(split, models=models), ax=histogram_ax)
    expectations = cs.conditional_expectations(split, models=models)
    cs.plot_conditional_expectations(expectations, ax=conditional_ax)
    # --8<-- [end:diagnostics]


def rescoring(migration_ax: Axes, churn_ax: Axes) -> None:
    # --8<-- [start:rescoring]
    value = cs.Scorecard(  # 60 % spend, 40 % recency, as percentile ranks
        hierarchy=cs.Criterion(name="value", weights={"total_spend": 0.6, "time_since_last": 0.4}),
        indicators=[
            cs.Indicator(name="total_spend", direction="benefit", normaliser=cs.PercentileRank()),
            cs.Indicator(name="time_since_last", direction="cost", normaliser=cs.PercentileRank()),
        ],
    )
    events = cs.make_events(8_000, seed=2026).events
    june, september = pd.Timestamp("2025-06-30 23:59"), pd.Timestamp("2025-09-30 23:59")
    policy = cs.RescoringPolicy(scorecard=value)  # quarterly reviews, the policy's defaults
    first = cs.open_book(policy, events[events["timestamp"] <= june], as_of=june).book
    later = events[(events["timestamp"] > june) & (events["timestamp"] <= september)]
    second = cs.review(cs.ingest(first, later, as_of=september).book, as_of=september).book
    tiers, order = second.customers["tier"], second.tiers.labels()  # order: lowest first
    cs.plot_tier_migration(first.customers["tier"], tiers, order=order, ax=migration_ax)

    warnings = cs.EarlyWarning().predict(events, as_of=september)
    cs.plot_churn_by_tier(warnings["level"], tiers, order=order, ax=churn_ax)
    # --8<-- [end:rescoring]


def figures() -> dict[str, Figure]:
    """Draw every figure of :data:`SIZES` on its own ``Figure``."""
    drawn = {name: Figure(figsize=size, layout="constrained") for name, size in SIZES.items()}
    ax = {name: figure.add_subplot() for name, figure in drawn.items()}
    tier_pyramid(ax["tier_pyramid"])
    rfm_heatmap(ax["rfm_heatmap"])
    clv(ax["calibration"], ax["p_alive_matrix"])
    diagnostics(ax["tracking"], ax["frequency_histogram"], ax["conditional_expectations"])
    rescoring(ax["tier_migration"], ax["churn_by_tier"])
    return drawn


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
