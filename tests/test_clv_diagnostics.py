"""Tracking diagnostics (crmscore.clv.diagnostics): hand counts, the model's own
formulas, and the true model tracking simulated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmscore import (
    BetaGeoFitter,
    BetaGeoModel,
    BetaGeoParams,
    InvalidDataError,
    InvalidParameterError,
    calibration_holdout_split,
    conditional_expectations,
    frequency_histogram,
    holdout_comparison,
    make_rfm_summary,
    make_transactions,
    repeat_tracking,
)

CDNOW = BetaGeoModel.from_params(BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426))


def _log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "b", "c"],
            "timestamp": pd.to_datetime(
                [
                    "2024-01-01",
                    "2024-01-01",  # same day: one purchase period
                    "2024-01-05",
                    "2024-01-12",
                    "2024-01-03",
                    "2024-01-09",
                    "2024-01-20",  # after calibration_end: not in the cohort
                ]
            ),
        }
    )


def test_tracking_counts_by_hand() -> None:
    track = repeat_tracking(
        _log(),
        models={"m": CDNOW},
        calibration_end="2024-01-06",
        observation_end="2024-01-14",
        step=3,
    )
    # Offsets from 2024-01-01: a repeats on days 4 and 11, b on day 8 (first on day 2).
    assert list(track.index) == [3, 6, 9, 12, 14]
    assert track["actual"].tolist() == [0, 1, 1, 1, 0]
    assert track["holdout"].tolist() == [False, False, True, True, True]
    # The model: a from day 0 and b from day 2, ages at each step end (exclusive).
    ends = np.array([3, 6, 9, 12, 14]) - 1
    expected = CDNOW.expected_purchases_new_customer(ends.astype(float))
    expected_b = CDNOW.expected_purchases_new_customer(np.maximum(ends - 2, 0).astype(float))
    np.testing.assert_allclose(track["m_cumulative"], expected + expected_b, rtol=1e-12)
    np.testing.assert_allclose(track["m"].cumsum(), track["m_cumulative"], rtol=1e-12)


def test_true_model_tracks_simulated_repeat_purchases() -> None:
    book = make_transactions(6_000, seed=17)
    truth = BetaGeoModel.from_params(book.purchase, time_unit="D")
    track = repeat_tracking(
        book.transactions,
        models={"truth": truth},
        calibration_end="2025-03-31",
        observation_end=book.as_of,
        step=30,
    )
    final = track.iloc[-1]
    # Tens of thousands of repeat purchases: the truth should be within 3 %.
    assert final["truth_cumulative"] == pytest.approx(final["actual_cumulative"], rel=0.03)
    wrong = BetaGeoModel.from_params(BetaGeoParams(r=2.0, alpha=45.0, a=1.0, b=7.0))
    worse = repeat_tracking(
        book.transactions,
        models={"wrong": wrong},
        calibration_end="2025-03-31",
        observation_end=book.as_of,
        step=30,
    ).iloc[-1]
    assert worse["wrong_cumulative"] > 1.5 * final["actual_cumulative"]


def test_frequency_histogram_against_the_model_distribution() -> None:
    table = make_rfm_summary(20_000, seed=4)
    truth = BetaGeoModel.from_params(BetaGeoParams(r=1.0, alpha=45.0, a=1.0, b=7.0))
    hist = frequency_histogram(table, models={"truth": truth}, max_frequency=5)
    assert hist["truth"].sum() == pytest.approx(len(table), rel=1e-9)
    assert hist["actual"].sum() == len(table)
    # Each bin within 4 binomial standard deviations of its expectation.
    share = hist["truth"] / len(table)
    sd = np.sqrt(len(table) * share * (1 - share))
    assert ((hist["actual"] - hist["truth"]).abs() <= 4 * sd).all()
    one = table.head(1)
    single = frequency_histogram(one, models={"m": CDNOW}, max_frequency=3)
    np.testing.assert_allclose(
        single["m"].to_numpy()[:3],
        CDNOW.probability_of_purchases([0, 1, 2], t=float(one["T"].iloc[0])),
        rtol=1e-12,
    )


def test_conditional_expectations_overlay_models() -> None:
    book = make_transactions(1_500, seed=3)
    split = calibration_holdout_split(
        book.transactions, calibration_end="2025-06-30", observation_end=book.as_of
    )
    fitted = BetaGeoFitter().fit(split)
    table = conditional_expectations(split, models={"fit": fitted, "cdnow": CDNOW})
    for name, model in (("fit", fitted), ("cdnow", CDNOW)):
        report = holdout_comparison(split, model=model)
        pd.testing.assert_series_equal(table[name], report["predicted"], check_names=False)
    pd.testing.assert_series_equal(table["actual"], report["actual"])


def test_bad_models_are_rejected() -> None:
    table = make_rfm_summary(100, seed=1)
    with pytest.raises(InvalidParameterError, match="'models'"):
        frequency_histogram(table, models={})
    with pytest.raises(InvalidParameterError, match="'models'"):
        frequency_histogram(table, models={"actual": CDNOW})
    with pytest.raises(InvalidParameterError, match="'observation_end'"):
        repeat_tracking(
            _log(), models={"m": CDNOW}, calibration_end="2024-01-06", observation_end="2024-01-06"
        )


def test_figures_draw_the_frames() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # noqa: PLC0415

    from crmscore import (  # noqa: PLC0415
        plot_conditional_expectations,
        plot_frequency_histogram,
        plot_tracking,
    )

    track = repeat_tracking(
        _log(),
        models={"m": CDNOW},
        calibration_end="2024-01-06",
        observation_end="2024-01-14",
        step=3,
    )
    ax = plot_tracking(track, cumulative=False, ax=Figure().add_subplot())
    np.testing.assert_array_equal(np.asarray(ax.lines[0].get_ydata()), track["actual"])
    np.testing.assert_allclose(np.asarray(ax.lines[1].get_ydata(), dtype=float), track["m"])
    table = make_rfm_summary(500, seed=2)
    hist = frequency_histogram(table, models={"m": CDNOW, "n": CDNOW}, max_frequency=3)
    ax = plot_frequency_histogram(hist, ax=Figure().add_subplot())
    heights = [float(bar.get_height()) for bar in ax.containers[0]]
    heights += [float(bar.get_height()) for c in ax.containers[1:] for bar in c]
    np.testing.assert_allclose(heights, np.concatenate([hist[c].to_numpy() for c in hist]))
    frame = pd.DataFrame(
        {"customers": [3, 2, 5], "actual": [0.1, 0.9, 0.4], "m": [0.2, 0.8, 0.44]},
        index=["0", "1+", "all"],
    )
    ax = plot_conditional_expectations(frame, ax=Figure().add_subplot())
    np.testing.assert_array_equal(np.asarray(ax.lines[1].get_ydata()), [0.2, 0.8])
    with pytest.raises(InvalidDataError, match="no model column"):
        plot_frequency_histogram(hist[["actual"]])
