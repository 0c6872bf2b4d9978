"""The figures draw the numbers of the data: bars, cells, lines and labels.

Every figure is rendered with the Agg backend and read back: bar widths, image
arrays, line data and annotation texts are compared with counts and means that
pandas computes independently (``value_counts``, ``crosstab``, ``groupby``), and
the P(alive) matrix with lifetimes at the same parameters.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.image import AxesImage

import crmscore as cs
from crmscore import (
    BetaGeoFitter,
    BetaGeoModel,
    ColumnNotFoundError,
    InvalidDataError,
    InvalidParameterError,
    plot_calibration,
    plot_churn_by_tier,
    plot_p_alive_matrix,
    plot_rfm_heatmap,
    plot_tier_migration,
    plot_tier_pyramid,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from matplotlib.axes import Axes

TIERS = ["Ordinary", "Silver", "Gold", "Diamond"]


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    """Close every figure a test opened, and check the test left rcParams alone."""
    before = copy.deepcopy(dict(mpl.rcParams))
    yield
    plt.close("all")
    assert dict(mpl.rcParams) == before


@pytest.fixture(autouse=True)
def _no_show(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a plotting function called show()")

    monkeypatch.setattr(plt, "show", refuse)


def random_tiers(n: int, seed: int, *, start: int = 0) -> pd.Series[Any]:
    rng = np.random.default_rng(seed)
    labels = rng.choice(TIERS, size=n, p=[0.55, 0.3, 0.1, 0.05])
    return pd.Series(labels, index=pd.RangeIndex(start, start + n, name="customer_id"))


def texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def bars(ax: Axes, label: str) -> BarContainer:
    matches = [c for c in ax.containers if c.get_label() == label]
    assert len(matches) == 1, [c.get_label() for c in ax.containers]
    container = matches[0]
    assert isinstance(container, BarContainer)
    return container


def widths(container: BarContainer) -> np.ndarray[Any, Any]:
    return np.array([bar.get_width() for bar in container.patches])


def image(ax: Axes) -> np.ma.MaskedArray[Any, Any]:
    (drawn,) = ax.images
    assert isinstance(drawn, AxesImage)
    return np.ma.asarray(drawn.get_array())


def ticks(labels: list[Any]) -> list[str]:
    return [t.get_text() for t in labels]


# --------------------------------------------------------------------------------------
# Tier pyramid
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def b2b() -> tuple[pd.DataFrame, pd.DataFrame]:
    book = cs.make_b2b_indicators(3_000, seed=11)
    return book, cs.b2b_scorecard().fit(book).score(book)


def test_pyramid_bars_and_labels_are_the_tier_counts_and_revenue_shares(
    b2b: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    book, scored = b2b
    ax = plot_tier_pyramid(scored["tier"], revenue=book["annual_revenue"])
    counts = scored["tier"].value_counts().reindex(TIERS)  # categorical: lowest first
    revenue = book["annual_revenue"].groupby(scored["tier"], observed=False).sum().reindex(TIERS)
    assert ticks(ax.get_yticklabels()) == TIERS
    np.testing.assert_allclose(widths(bars(ax, "customers")), -counts / len(book), rtol=1e-12)
    np.testing.assert_allclose(widths(bars(ax, "revenue")), revenue / revenue.sum(), rtol=1e-12)
    expected = []
    for tier in TIERS:
        expected += [
            f"{counts[tier]:,} ({counts[tier] / len(book):.0%})",
            f"{revenue[tier] / revenue.sum():.0%}",
        ]
    assert texts(ax) == expected
    assert ax.get_title() == f"Tier pyramid ({len(book):,} customers)"


def test_pyramid_without_revenue_centres_the_customer_bars() -> None:
    tiers = random_tiers(500, seed=1)
    ax = plot_tier_pyramid(tiers, order=TIERS)
    container = bars(ax, "customers")
    share = tiers.value_counts().reindex(TIERS).to_numpy() / 500
    np.testing.assert_allclose(widths(container), share, rtol=1e-12)
    np.testing.assert_allclose([b.get_x() for b in container.patches], -share / 2, rtol=1e-12)
    assert len(ax.containers) == 1
    assert [int(t.split(" ")[0].replace(",", "")) for t in texts(ax)] == [
        int((tiers == tier).sum()) for tier in TIERS
    ]


def test_pyramid_default_order_of_plain_labels_is_sorted_and_order_overrides() -> None:
    tiers = random_tiers(200, seed=2)
    assert ticks(plot_tier_pyramid(tiers).get_yticklabels()) == sorted(TIERS)
    assert ticks(plot_tier_pyramid(tiers, order=TIERS).get_yticklabels()) == TIERS


def test_pyramid_ignores_row_order_and_extra_revenue_rows_and_keeps_inputs() -> None:
    tiers = random_tiers(300, seed=3)
    revenue = pd.Series(np.random.default_rng(3).gamma(2.0, 100.0, 400), name="revenue")
    kept = (tiers.copy(), revenue.copy())
    first = texts(plot_tier_pyramid(tiers, revenue=revenue, order=TIERS))
    shuffled = tiers.sample(frac=1.0, random_state=1)
    assert texts(plot_tier_pyramid(shuffled, revenue=revenue[::-1], order=TIERS)) == first
    pd.testing.assert_series_equal(tiers, kept[0])
    pd.testing.assert_series_equal(revenue, kept[1])


def test_pyramid_draws_on_the_given_axes_without_a_new_figure() -> None:
    figure, given = plt.subplots()
    before = plt.get_fignums()
    assert plot_tier_pyramid(random_tiers(50, seed=4), ax=given) is given
    assert plt.get_fignums() == before
    assert len(given.containers) == 1
    plt.close(figure)


def test_pyramid_rejects_bad_input_naming_the_customers() -> None:
    tiers = random_tiers(20, seed=5)
    with pytest.raises(InvalidDataError, match="outside") as outside:
        plot_tier_pyramid(tiers, order=["Ordinary", "Silver", "Gold"])
    assert set(outside.value.ids) <= set(tiers.index[tiers == "Diamond"])
    with pytest.raises(InvalidDataError, match="no value") as missing:
        plot_tier_pyramid(tiers.where(tiers.index != 7))
    assert missing.value.ids == (7,)
    with pytest.raises(InvalidDataError, match="no value") as no_revenue:
        plot_tier_pyramid(tiers, revenue=pd.Series(1.0, index=range(1, 20)))
    assert no_revenue.value.ids == (0,)
    with pytest.raises(InvalidDataError, match="NaN"):
        plot_tier_pyramid(tiers, revenue=pd.Series(np.nan, index=range(20)))
    with pytest.raises(InvalidDataError, match="repeats ids") as repeated:
        plot_tier_pyramid(pd.Series(["Gold", "Gold", "Silver"], index=[4, 4, 5]))
    assert repeated.value.ids == (4,)
    with pytest.raises(InvalidParameterError, match="pandas Series"):
        plot_tier_pyramid(list(tiers))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'ax'"):
        plot_tier_pyramid(tiers, ax="left")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'order'"):
        plot_tier_pyramid(tiers, order=["Gold", "Gold"])
    assert plt.get_fignums() == []  # nothing drawn when the input is rejected


# --------------------------------------------------------------------------------------
# Tier migration
# --------------------------------------------------------------------------------------


def test_migration_cells_are_the_crosstab_with_new_and_departed_customers() -> None:
    before = random_tiers(1_000, seed=6)  # customers 0..999
    after = random_tiers(1_100, seed=7, start=50)  # 50..1149: 50 left, 150 new
    ax = plot_tier_migration(before, after, order=TIERS)
    highest_first = TIERS[::-1]
    assert ticks(ax.get_yticklabels()) == [*highest_first, "(new)"]
    assert ticks(ax.get_xticklabels()) == [*highest_first, "(left)"]

    common = before.index.intersection(after.index)
    table = pd.crosstab(before[common], after[common]).reindex(
        index=highest_first, columns=highest_first, fill_value=0
    )
    table["(left)"] = before.drop(common).value_counts().reindex(highest_first, fill_value=0)
    table.loc["(new)"] = [*after.drop(common).value_counts().reindex(highest_first), 0]
    cells = np.array(texts(ax), dtype=object).reshape(table.shape)
    counts = [[int(c.split("\n")[0].replace(",", "")) if c else 0 for c in row] for row in cells]
    np.testing.assert_array_equal(counts, table.to_numpy())
    assert cells[-1, -1] == ""
    shares = table.div(table.sum(axis=1), axis=0).to_numpy()
    np.testing.assert_allclose(image(ax), shares, rtol=1e-12)

    rank = {tier: k for k, tier in enumerate(TIERS)}
    moves = after[common].map(rank) - before[common].map(rank)
    n = len(common)
    assert ax.get_title() == (
        f"Tier migration ({n:,} customers): {(moves > 0).sum() / n:.0%} up, "
        f"{(moves == 0).sum() / n:.0%} kept, {(moves < 0).sum() / n:.0%} down"
    )


def test_migration_between_two_books_of_the_rescoring_engine() -> None:
    events = cs.make_events(600, seed=8).events
    policy = cs.RescoringPolicy(
        scorecard=cs.Scorecard(
            hierarchy=cs.Criterion(
                name="value", weights={"total_spend": 0.6, "time_since_last": 0.4}
            ),
            indicators=[
                cs.Indicator(
                    name="total_spend", direction="benefit", normaliser=cs.PercentileRank()
                ),
                cs.Indicator(
                    name="time_since_last", direction="cost", normaliser=cs.PercentileRank()
                ),
            ],
        )
    )
    june, december = pd.Timestamp("2025-06-30"), pd.Timestamp("2025-12-30")
    first = cs.open_book(policy, events[events["timestamp"] <= june], as_of=june).book
    later = events[(events["timestamp"] > june) & (events["timestamp"] <= december)]
    second = cs.review(cs.ingest(first, later, as_of=december).book, as_of=december).book
    before, after = first.customers["tier"], second.customers["tier"]
    ax = plot_tier_migration(before, after, order=first.tiers.labels())
    total = sum(int(c.split("\n")[0].replace(",", "")) for c in texts(ax) if c)
    assert total == len(before.index.union(after.index))


def test_migration_title_without_common_customers() -> None:
    ax = plot_tier_migration(random_tiers(10, seed=9), random_tiers(10, seed=9, start=10))
    assert ax.get_title().endswith("no customer in both")


# --------------------------------------------------------------------------------------
# Churn levels by tier
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def warnings() -> pd.DataFrame:
    events = cs.make_events(2_000, seed=12).events
    return cs.EarlyWarning().predict(events, as_of="2025-09-30")


def test_churn_bars_are_the_level_shares_within_each_tier(warnings: pd.DataFrame) -> None:
    tiers = random_tiers(2_100, seed=13, start=1)  # every customer id 1..2000, and more
    levels = warnings["level"]
    ax = plot_churn_by_tier(levels, tiers, order=TIERS)
    table = pd.crosstab(tiers.reindex(levels.index), levels).reindex(
        index=TIERS, columns=list(cs.churn.LEVELS), fill_value=0
    )
    assert [c.get_label() for c in ax.containers] == list(cs.churn.LEVELS)
    shares = table.div(table.sum(axis=1), axis=0)
    for level in cs.churn.LEVELS:
        np.testing.assert_allclose(widths(bars(ax, level)), shares[level], rtol=1e-12)
    totals = [t.strip() for t in texts(ax) if t.strip().startswith("n=")]
    assert totals == [f"n={n:,}" for n in table.sum(axis=1)]
    assert ticks(ax.get_yticklabels()) == TIERS

    counts = plot_churn_by_tier(levels, tiers, order=TIERS, normalize=False)
    for level in cs.churn.LEVELS:
        np.testing.assert_array_equal(widths(bars(counts, level)), table[level])


def test_churn_by_tier_needs_a_tier_for_every_warned_customer(warnings: pd.DataFrame) -> None:
    tiers = random_tiers(len(warnings), seed=14, start=1).drop(index=[5, 9])
    with pytest.raises(InvalidDataError, match="no tier") as missing:
        plot_churn_by_tier(warnings["level"], tiers)
    assert missing.value.ids == (5, 9)
    with pytest.raises(InvalidDataError, match="outside"):
        plot_churn_by_tier(pd.Series(["none", "purple"]), pd.Series(["Gold", "Gold"]))


# --------------------------------------------------------------------------------------
# RFM heat map
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rfm() -> tuple[pd.DataFrame, pd.DataFrame]:
    book = cs.make_transactions(3_000, seed=15)
    table = cs.rfm_table(book.transactions, as_of=book.as_of)
    return table, cs.rfm_segments(table)


def amount(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def test_heatmap_cells_are_the_crosstab_of_counts_and_mean_spend(
    rfm: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    table, segments = rfm
    ax = plot_rfm_heatmap(segments, monetary=table["total_spend"])
    grid = range(1, 6)
    counts = pd.crosstab(segments["f_score"], segments["r_score"]).reindex(
        index=grid, columns=grid, fill_value=0
    )
    means = pd.pivot_table(
        segments.join(table["total_spend"]),
        values="total_spend",
        index="f_score",
        columns="r_score",
        aggfunc="mean",
    ).reindex(index=grid, columns=grid)
    n, mean = counts.to_numpy(), means.to_numpy(dtype=np.float64)
    expected = [
        f"{n[f, r]:,}\n{amount(float(mean[f, r]))}" if n[f, r] else "0"
        for f in range(5)
        for r in range(5)
    ]
    assert texts(ax) == expected  # row by row from F = 1 (bottom), R = 1 (left)
    np.testing.assert_array_equal(image(ax).filled(0), counts.to_numpy())
    assert ticks(ax.get_xticklabels()) == ticks(ax.get_yticklabels()) == ["1", "2", "3", "4", "5"]

    by_spend = plot_rfm_heatmap(segments, monetary=table["total_spend"], color_by="monetary")
    np.testing.assert_allclose(image(by_spend), means.to_numpy(), rtol=1e-12)


def test_heatmap_leaves_empty_cells_blank_and_counts_only_without_monetary() -> None:
    scores = pd.DataFrame({"r_score": [1, 1, 3], "f_score": [2, 2, 1]}, index=["a", "b", "c"])
    ax = plot_rfm_heatmap(scores)
    assert texts(ax) == ["0", "0", "1", "2", "0", "0"]
    assert image(ax).mask.tolist() == [[True, True, False], [False, True, True]]


def test_heatmap_rejects_scores_that_are_not_whole_numbers_from_1() -> None:
    scores = pd.DataFrame({"r_score": [1, 0, 2.5], "f_score": [1, 1, 1]}, index=["a", "b", "c"])
    with pytest.raises(InvalidDataError, match="r_score") as bad:
        plot_rfm_heatmap(scores)
    assert bad.value.ids == ("b", "c")
    with pytest.raises(ColumnNotFoundError, match="f_score"):
        plot_rfm_heatmap(scores.drop(columns="f_score"))
    with pytest.raises(InvalidParameterError, match="monetary"):
        plot_rfm_heatmap(scores.assign(r_score=1), color_by="monetary")


# --------------------------------------------------------------------------------------
# CLV: P(alive) matrix and calibration
# --------------------------------------------------------------------------------------

CDNOW = BetaGeoModel.from_params(
    {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, time_unit="W"
)


def test_p_alive_matrix_is_lifetimes_p_alive_over_the_grid() -> None:
    ax = plot_p_alive_matrix(CDNOW, T=39.0, max_frequency=12, resolution=40)
    drawn = image(ax)
    assert drawn.shape == (13, 40)
    frequency, recency = np.meshgrid(np.arange(13), np.linspace(0, 39, 40), indexing="ij")
    recency = np.where(frequency > 0, recency, 0.0)
    reference = CDNOW.to_lifetimes().conditional_probability_alive(
        frequency.ravel(), recency.ravel(), np.full(frequency.size, 39.0)
    )
    np.testing.assert_allclose(drawn, np.reshape(reference, drawn.shape), rtol=1e-10)
    assert (drawn[0] == 1.0).all()
    step = 39.0 / 39
    assert ax.images[0].get_extent() == pytest.approx([-step / 2, 39 + step / 2, -0.5, 12.5])
    assert ax.get_title() == "P(alive) of customers at T = 39 weeks"


def test_expected_purchases_matrix_is_lifetimes_conditional_expectation() -> None:
    ax = plot_p_alive_matrix(
        CDNOW, T=52.0, max_frequency=8, resolution=14, kind="expected_purchases", t=13.0
    )
    frequency, recency = np.meshgrid(np.arange(9), np.linspace(0, 52, 14), indexing="ij")
    recency = np.where(frequency > 0, recency, 0.0)
    reference = CDNOW.to_lifetimes().conditional_expected_number_of_purchases_up_to_time(
        13.0, frequency.ravel(), recency.ravel(), np.full(frequency.size, 52.0)
    )
    np.testing.assert_allclose(image(ax), np.reshape(reference, (9, 14)), rtol=1e-8)
    assert "next 13 weeks" in ax.get_title()


def test_p_alive_matrix_rejects_bad_settings() -> None:
    with pytest.raises(InvalidParameterError, match="'T'"):
        plot_p_alive_matrix(CDNOW, T=0.0)
    with pytest.raises(InvalidParameterError, match="'resolution'"):
        plot_p_alive_matrix(CDNOW, T=10.0, resolution=1)
    with pytest.raises(InvalidParameterError, match="'max_frequency'"):
        plot_p_alive_matrix(CDNOW, T=10.0, max_frequency=True)
    with pytest.raises(InvalidParameterError, match="'kind'"):
        plot_p_alive_matrix(CDNOW, T=10.0, kind="alive")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="BetaGeoModel"):
        plot_p_alive_matrix(CDNOW.params, T=10.0)  # type: ignore[arg-type]


def test_calibration_lines_are_the_comparison_columns() -> None:
    book = cs.make_transactions(3_000, seed=16)
    split = cs.calibration_holdout_split(
        book.transactions, calibration_end="2025-06-30", observation_end=book.as_of
    )
    comparison = cs.holdout_comparison(split, model=BetaGeoFitter().fit(split), max_frequency=5)
    ax = plot_calibration(comparison)
    groups = comparison.drop(index="all")
    actual, predicted = ax.lines
    assert (actual.get_label(), predicted.get_label()) == ("actual", "predicted")
    np.testing.assert_array_equal(actual.get_ydata(), groups["actual"])
    np.testing.assert_array_equal(predicted.get_ydata(), groups["predicted"])
    assert ticks(ax.get_xticklabels()) == [
        f"{label}\n({n:,})" for label, n in zip(groups.index, groups["customers"], strict=True)
    ]
    everyone = comparison.loc["all"]
    assert ax.get_title() == (
        f"Holdout check: {everyone['actual']:.3g} actual vs {everyone['predicted']:.3g} "
        "predicted purchases per customer"
    )


def test_calibration_rejects_a_frame_without_groups() -> None:
    frame = pd.DataFrame({"customers": [3], "actual": [1.0], "predicted": [1.1]}, index=["all"])
    with pytest.raises(InvalidDataError, match="no group"):
        plot_calibration(frame)
    with pytest.raises(ColumnNotFoundError, match="predicted"):
        plot_calibration(frame.drop(columns="predicted"))


# --------------------------------------------------------------------------------------
# The optional dependency
# --------------------------------------------------------------------------------------


def test_importing_crmscore_does_not_import_matplotlib() -> None:
    code = (
        "import sys, crmscore, crmscore.plotting; "
        "sys.exit(any(m.split('.')[0] == 'matplotlib' for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def whole(ticks: Any) -> bool:
    values = np.asarray(ticks, dtype=float)
    return bool(np.array_equal(values, np.round(values)))


def test_count_axes_tick_whole_numbers_only() -> None:
    # Counts up to 3: matplotlib's default locator ticks at 0, 0.5, 1, ... (checked on
    # a plain bar chart first, so the figures below are tested where it matters).
    plain = plt.figure().add_subplot()
    plain.bar([0, 1, 2], [1.0, 3.0, 2.0])
    assert not whole(plain.get_yticks())

    histogram = pd.DataFrame({"actual": [1, 3, 2], "bgnbd": [1.4, 2.6, 2.0]}, index=[0, 1, 2])
    ax = cs.plotting.plot_frequency_histogram(histogram)
    assert whole(ax.get_yticks())
    assert len(ax.get_yticks()) >= 3
    tracking = pd.DataFrame(
        {
            "holdout": [False, False, True],
            "actual": [1, 1, 1],
            "actual_cumulative": [1, 2, 3],
            "m": [0.8, 1.1, 1.0],
            "m_cumulative": [0.8, 1.9, 2.9],
        },
        index=[1, 2, 3],
    )
    assert whole(cs.plotting.plot_tracking(tracking).get_yticks())
    model = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    assert whole(plot_p_alive_matrix(model, T=20, max_frequency=3, resolution=5).get_yticks())
    levels = pd.Series(["none", "red", "blue"], index=[1, 2, 3])
    tiers = pd.Series(["Gold", "Gold", "Silver"], index=[1, 2, 3])
    counts = plot_churn_by_tier(levels, tiers, normalize=False)
    assert whole(counts.get_xticks())
    shares = plot_churn_by_tier(levels, tiers)  # shares, not counts: fractions stay
    assert not whole(shares.get_xticks())
    plt.close("all")
