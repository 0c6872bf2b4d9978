"""Progress callbacks of the long operations: fractions, bounds, no effect on results."""

from __future__ import annotations

import itertools
import math
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

from crmscore import (
    BetaGeoFitter,
    EarlyWarning,
    GammaGammaFitter,
    InvalidParameterError,
    backtest,
    make_events,
    make_transactions,
)
from crmscore._progress import ProgressReporter, gradient_fraction
from crmscore.rescoring import RescoringPolicy, ingest, open_book
from crmscore.tiering import Criterion, Indicator, PercentileRank, Scorecard


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    summary: pd.DataFrame = load_cdnow_summary_data_with_monetary_value()
    return summary


def check_fractions(calls: list[float], *, most: int) -> None:
    """Start at 0, strictly increase within [0, 1], end at exactly 1, at most ``most`` calls."""
    assert calls[0] == 0.0
    assert calls[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in calls)
    assert all(a < b for a, b in itertools.pairwise(calls))
    assert len(calls) <= most


def test_bgnbd_fit_reports_each_iteration_and_fits_the_same_model(cdnow: pd.DataFrame) -> None:
    calls: list[float] = []
    fitter = BetaGeoFitter()
    model = fitter.fit(cdnow, progress=calls.append)
    assert model == fitter.fit(cdnow)  # parameters, covariance, report: all identical
    report = model.convergence
    assert report is not None
    check_fractions(calls, most=report.n_iterations + 4)
    assert any(0.1 < f < 0.95 for f in calls)  # the optimiser's own iterations
    assert calls[:2] == [0.0, 0.1]
    assert 0.95 in calls


def test_bgnbd_fit_aggregated_reports_progress(cdnow: pd.DataFrame) -> None:
    stats = BetaGeoFitter.aggregate(cdnow)
    calls: list[float] = []
    model = BetaGeoFitter().fit_aggregated(stats, progress=calls.append)
    assert model == BetaGeoFitter().fit_aggregated(stats)
    assert model.convergence is not None
    check_fractions(calls, most=model.convergence.n_iterations + 4)


def test_gamma_gamma_fits_report_progress(cdnow: pd.DataFrame) -> None:
    for fit in (GammaGammaFitter().fit, GammaGammaFitter().fit_aggregated):
        data = cdnow if fit.__name__ == "fit" else GammaGammaFitter.aggregate(cdnow)
        calls: list[float] = []
        model = fit(data, progress=calls.append)
        assert model == fit(data)
        assert model.convergence is not None
        check_fractions(calls, most=model.convergence.n_iterations + 4)


def test_an_exception_in_the_callback_stops_the_fit(cdnow: pd.DataFrame) -> None:
    class CancelledError(Exception):
        pass

    def cancel_halfway(fraction: float) -> None:
        if fraction > 0.5:
            raise CancelledError

    with pytest.raises(CancelledError):
        BetaGeoFitter().fit(cdnow, progress=cancel_halfway)


def test_backtest_reports_once_per_date_and_gives_the_same_result() -> None:
    book = make_events(800, seed=5)
    dates = ["2025-03-31", "2025-06-30", "2025-09-30"]
    calls: list[float] = []
    truth = book.customers["churn_date"]
    result = backtest(book.events, churn_dates=truth, as_of_dates=dates, progress=calls.append)
    pd.testing.assert_frame_equal(
        result, backtest(book.events, churn_dates=truth, as_of_dates=dates)
    )
    assert calls == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0], rel=1e-15)
    assert calls[-1] == 1.0


@pytest.mark.parametrize("progress", [0.5, "tqdm", [1]])
def test_progress_must_be_callable(cdnow: pd.DataFrame, progress: Any) -> None:
    with pytest.raises(InvalidParameterError, match=r"'progress' parameter of BetaGeoFitter\.fit"):
        BetaGeoFitter().fit(cdnow, progress=progress)
    with pytest.raises(InvalidParameterError, match="'progress' parameter of backtest"):
        backtest(
            pd.DataFrame(),
            churn_dates=pd.Series(dtype=float),
            as_of_dates=["2025-01-01"],
            progress=progress,
        )


def test_reporter_clips_and_never_goes_back() -> None:
    calls: list[float] = []
    reporter = ProgressReporter(calls.append, owner="test")
    for fraction in (-0.5, 0.2, 0.1, math.nan, 0.2, 3.0, 1.0):
        reporter.report(fraction)
    reporter.done()
    assert calls == [0.0, 0.2, 1.0]
    silent = ProgressReporter(None, owner="test")
    silent.report(0.5)  # nothing to call, nothing raised
    assert not silent.active


def test_gradient_fraction_runs_from_start_to_tolerance_on_the_log_scale() -> None:
    assert gradient_fraction(1.0, start=1.0, tol=1e-8) == 0.0
    assert gradient_fraction(1e-4, start=1.0, tol=1e-8) == pytest.approx(0.5, rel=1e-12)
    assert gradient_fraction(1e-9, start=1.0, tol=1e-8) == 1.0
    assert gradient_fraction(10.0, start=1.0, tol=1e-8) == 0.0  # got worse: no progress
    assert gradient_fraction(np.inf, start=1.0, tol=1e-8) == 0.0


# --------------------------------------------------------------------------------------
# progress=True: a tqdm bar when tqdm is installed (the `progress` extra)
# --------------------------------------------------------------------------------------


def test_progress_true_draws_a_tqdm_bar_and_fits_the_same_model(
    cdnow: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")  # CI installs the dev extra, which has it
    model = BetaGeoFitter().fit(cdnow, progress=True)
    err = capsys.readouterr().err  # tqdm.auto outside a notebook: text on stderr
    assert "BetaGeoFitter.fit: 100%" in err
    assert model == BetaGeoFitter().fit(cdnow)
    assert BetaGeoFitter().fit(cdnow, progress=False) == model
    assert capsys.readouterr().err == ""  # False (and None): nothing drawn


def test_progress_true_without_tqdm_says_what_to_install(
    cdnow: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import tqdm.auto now fails
    with pytest.raises(ImportError, match=r"pip install 'crmscore\[progress\]'"):
        BetaGeoFitter().fit(cdnow, progress=True)
    calls: list[float] = []
    BetaGeoFitter().fit(cdnow, progress=calls.append)  # the callback form needs no tqdm
    check_fractions(calls, most=200)


def test_a_span_maps_a_step_into_its_share_of_the_operation() -> None:
    calls: list[float] = []
    reporter = ProgressReporter(calls.append, owner="test")
    step = reporter.span(0.2, 0.6)
    assert step is not None
    for fraction in (0.0, 0.5, 1.0):
        step(fraction)
    reporter.done()
    assert calls == pytest.approx([0.2, 0.4, 0.6, 1.0], rel=1e-15)
    assert ProgressReporter(None, owner="test").span(0.0, 1.0) is None


def test_early_warning_predict_reports_each_signal_and_predicts_the_same() -> None:
    book = make_events(600, seed=8)
    warning = EarlyWarning()
    calls: list[float] = []
    result = warning.predict(book.events, as_of=book.as_of, progress=calls.append)
    pd.testing.assert_frame_equal(result, warning.predict(book.events, as_of=book.as_of))
    check_fractions(calls, most=len(warning.signals) + 3)
    assert len(calls) == len(warning.signals) + 3  # start, log read, each signal, end


def rescoring_inputs() -> tuple[RescoringPolicy, pd.DataFrame, pd.Timestamp]:
    card = Scorecard(
        hierarchy=Criterion(name="value", weights={"total_spend": 0.6, "time_since_last": 0.4}),
        indicators=[
            Indicator(name="total_spend", direction="benefit", normaliser=PercentileRank()),
            Indicator(name="time_since_last", direction="cost", normaliser=PercentileRank()),
        ],
    )
    tx = make_transactions(400, seed=4).transactions
    events = tx.rename(columns={"amount": "value"}).assign(
        kind="purchase", event_id=[f"e{i}" for i in range(len(tx))]
    )
    return RescoringPolicy(scorecard=card), events, pd.Timestamp("2025-12-31")


def test_open_book_and_ingest_report_progress_and_give_the_same_book() -> None:
    policy, events, as_of = rescoring_inputs()
    early, late = (
        events[events["timestamp"] < "2025-06-30"],
        events[events["timestamp"] >= "2025-06-30"],
    )
    calls: list[float] = []
    opened = open_book(policy, early, as_of="2025-06-30", progress=calls.append)
    quiet = open_book(policy, early, as_of="2025-06-30")
    assert opened.book.to_dict() == quiet.book.to_dict()
    pd.testing.assert_frame_equal(opened.changes, quiet.changes)
    check_fractions(calls, most=20)
    assert any(0.8 < f < 1.0 for f in calls)  # the review's share is reported
    calls = []
    step = ingest(opened.book, late, as_of=as_of, progress=calls.append)
    assert step.book.to_dict() == ingest(quiet.book, late, as_of=as_of).book.to_dict()
    assert calls == [0.0, 0.6, 1.0]
