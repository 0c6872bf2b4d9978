"""Backtests without leakage: metrics against scikit-learn, outcomes, censoring, leakage."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
)

import crmscore as cs
from crmscore._events import validate_events
from crmscore.churn import _metrics
from crmscore.churn._history import LogHistory
from crmscore.churn.learned import window_labels
from crmscore.errors import InvalidParameterError


def cell(frame: pd.DataFrame | pd.Series[Any], row: object, column: str) -> float:
    """One number of a frame, as a float (for typed comparisons)."""
    assert isinstance(frame, pd.DataFrame)
    return float(frame[column].to_numpy(dtype=np.float64)[frame.index.get_loc(row)])


# --- metrics: numpy implementations against scikit-learn --------------------------------


@st.composite
def labelled_scores(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 60))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=float)
    # Few distinct values: many ties, the case where implementations differ.
    levels = draw(st.integers(1, 8))
    codes = draw(st.lists(st.integers(0, levels - 1), min_size=n, max_size=n))
    score = np.array(codes, dtype=float) / levels
    return y, score


@given(labelled_scores())
def test_roc_auc_matches_sklearn(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, score = data
    ours = _metrics.roc_auc(y, score)
    if 0 < y.sum() < y.size:
        assert ours == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    else:
        assert np.isnan(ours)


@given(labelled_scores())
def test_average_precision_matches_sklearn(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, score = data
    ours = _metrics.average_precision(y, score)
    if y.sum() > 0:
        assert ours == pytest.approx(average_precision_score(y, score), abs=1e-12)
    else:
        assert np.isnan(ours)


@given(labelled_scores())
def test_precision_recall_curve_matches_sklearn(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, score = data
    if y.sum() == 0:
        return
    precision, recall, thresholds = _metrics.precision_recall_curve(y, score)
    sk_precision, sk_recall, sk_thresholds = precision_recall_curve(y, score)
    # scikit-learn lists thresholds in increasing order, ends with (1, 0), and may
    # drop thresholds after full recall is reached; compare on its thresholds.
    ours = dict(zip(thresholds, zip(precision, recall, strict=True), strict=True))
    for p, r, t in zip(sk_precision[:-1], sk_recall[:-1], sk_thresholds, strict=True):
        assert ours[t] == pytest.approx((p, r), abs=1e-12)


@given(labelled_scores())
def test_brier_and_calibration_match_sklearn(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, score = data
    assert _metrics.brier_score(y, score) == pytest.approx(brier_score_loss(y, score), abs=1e-12)
    _, count, predicted, observed = _metrics.calibration_bins(y, score, n_bins=5)
    sk_observed, sk_predicted = calibration_curve(y, score, n_bins=5, strategy="uniform")
    filled = count > 0
    np.testing.assert_allclose(observed[filled], sk_observed, atol=1e-12)
    np.testing.assert_allclose(predicted[filled], sk_predicted, atol=1e-12)


def test_precision_at_recall_hand_computed() -> None:
    y = np.array([1, 0, 1, 0, 0, 1.0])
    score = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    # Thresholds: 0.9 -> (1/1, 1/3); 0.7 -> (2/3, 2/3); 0.1 -> (3/6, 1).
    assert _metrics.precision_at_recall(y, score, 0.3) == pytest.approx(1.0)
    assert _metrics.precision_at_recall(y, score, 0.5) == pytest.approx(2 / 3)
    assert _metrics.precision_at_recall(y, score, 0.9) == pytest.approx(0.5)


# --- outcomes: the churn day after a cut-off, by the documented criterion ---------------


def _purchases(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [c for c, _ in rows],
            "timestamp": pd.to_datetime([d for _, d in rows]),
            "kind": "purchase",
            "value": 10.0,
        }
    )


def _history(events: pd.DataFrame, end: str, inactive: int = 90) -> LogHistory:
    return LogHistory(validate_events(events, as_of=end, owner="test"), inactive_days=inactive)


def _day(date: str) -> int:
    return int(np.datetime64(date, "D").astype(np.int64))


def test_churn_day_after_cut_off_hand_computed() -> None:
    events = _purchases(
        [
            ("a", "2024-01-01"),
            ("a", "2024-02-15"),  # last purchase before the cut-off
            ("a", "2024-04-01"),  # gap 46 days: still a customer
            ("b", "2024-01-10"),  # never again: churns 90 days later
            ("c", "2023-10-01"),  # already churned at the cut-off (2023-12-30)
            ("c", "2024-05-01"),  # comes back later
            ("d", "2024-04-01"),  # first purchase after the cut-off: not yet a customer
        ]
    )
    history = _history(events, "2024-12-31")
    cut = history.cut(_day("2024-03-01"))
    customers = list(history.customers)
    active = dict(zip(customers, cut.active, strict=True))
    churn = dict(zip(customers, cut.churn_day, strict=True))
    assert active == {"a": True, "b": True, "c": False, "d": False}
    assert churn["a"] == _day("2024-04-01") + 90
    assert churn["b"] == _day("2024-01-10") + 90
    labels = dict(zip(customers, window_labels(cut, lead_days=30, horizon_days=90), strict=True))
    # b churns 2024-04-09: 39 days after the cut-off -> in the 30-90 day window.
    assert labels["b"] == 1.0
    # a churns 2024-06-30: 121 days after -> not in the window.
    assert labels["a"] == 0.0


def test_churn_too_soon_is_not_a_hit() -> None:
    events = _purchases([("a", "2024-01-01"), ("b", "2024-02-25")])
    history = _history(events, "2024-12-31")
    cut = history.cut(_day("2024-03-01"))
    ahead = cut.churn_day - cut.day
    # a churns 2024-03-31 (30 days later): counted; a lead of 29 days would not be.
    assert ahead.tolist() == [30.0, 85.0]
    assert window_labels(cut, lead_days=30, horizon_days=90).tolist() == [1.0, 1.0]
    assert window_labels(cut, lead_days=31, horizon_days=90).tolist() == [0.0, 1.0]


def test_churn_after_the_end_is_not_seen() -> None:
    events = _purchases([("a", "2024-01-01")])
    cut = _history(events, "2024-03-01").cut(_day("2024-02-01"))
    assert cut.active.tolist() == [True]
    assert np.isinf(cut.churn_day).all()


def test_final_churn_day_agrees_with_observed_churn_dates() -> None:
    book = cs.make_events(400, seed=77)
    end = book.as_of
    observed = cs.observed_churn_dates(book.events, as_of=end)
    history = _history(book.events, str(end.date()))
    # The cut-off right after each customer's last purchase: the next churn day is
    # the final one when the customer never buys again.
    cut = history.cut(history.end_day)
    last = pd.Series(cut.last_day, index=history.customers)
    expected = observed.dropna().map(lambda d: _day(str(d.date())))
    got = (last + 90).reindex(expected.index)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy(dtype=float))


# --- evaluate_backtest -------------------------------------------------------------------

SMALL = cs.LearnedWarningFitter(n_windows=2)


@pytest.fixture(scope="module")
def book() -> cs.EventBook:
    return cs.make_events(1_500, seed=4401)


@pytest.fixture(scope="module")
def result(book: cs.EventBook) -> cs.ChurnBacktest:
    return cs.evaluate_backtest(book.events, as_of=["2025-06-30", "2025-09-30"], fitter=SMALL)


def test_comparison_table(result: cs.ChurnBacktest) -> None:
    table = result.to_frame()
    assert list(table.index) == ["rules", "learned", "1 - P(alive)", "warn everyone"]
    everyone = table.loc["warn everyone"]
    assert everyone["auc"] == 0.5
    assert everyone["precision"] == pytest.approx(everyone["base_rate"])
    assert everyone["average_precision"] == pytest.approx(everyone["base_rate"])
    assert everyone["recall"] == 1.0
    assert np.isnan(cell(table, "rules", "brier"))
    assert (table["customers"] == table["customers"].iloc[0]).all()
    assert "accuracy" not in table.columns
    assert "ChurnBacktest" in repr(result)
    assert "<table" in result._repr_html_()


def test_tables_are_consistent(result: cs.ChurnBacktest) -> None:
    by_cut = result.by_cut_off
    customers = cell(result.comparison, "learned", "customers")
    assert by_cut.xs("learned", level="method")["customers"].sum() == customers
    deciles = result.deciles.loc["learned"]
    assert deciles["customers"].sum() == customers
    assert deciles["cumulative_recall"].iloc[-1] == pytest.approx(1.0)
    levels = result.levels.xs("rules", level="method")
    assert cell(levels, "any", "warned") == cell(result.comparison, "rules", "warned")
    assert levels.loc[["blue", "yellow", "red"], "warned"].sum() == levels.loc["any", "warned"]


def test_rules_match_early_warning(book: cs.EventBook, result: cs.ChurnBacktest) -> None:
    """The rules in the backtest are EarlyWarning().predict at the cut-off."""
    as_of = "2025-06-30"
    warnings = cs.EarlyWarning().predict(book.events, as_of=as_of)
    history = _history(book.events, str(book.as_of.date()))
    cut = history.cut(_day(as_of))
    active = pd.Series(cut.active, index=history.customers)
    active_ids = active[active].index
    warned = int((warnings.loc[active_ids, "level"] != "none").sum())
    assert result.by_cut_off.loc[(as_of, "rules"), "warned"] == warned


def test_deterministic(book: cs.EventBook, result: cs.ChurnBacktest) -> None:
    again = cs.evaluate_backtest(book.events, as_of=["2025-06-30", "2025-09-30"], fitter=SMALL)
    pd.testing.assert_frame_equal(again.comparison, result.comparison)
    pd.testing.assert_frame_equal(again.calibration, result.calibration)


def test_no_peeking_past_the_outcome_window(book: cs.EventBook) -> None:
    """Events after cut-off + horizon cannot change anything about that cut-off."""
    as_of = "2025-06-30"
    closed = pd.Timestamp(as_of) + pd.Timedelta(days=90)
    cut_short = book.events[book.events["timestamp"] < closed + pd.Timedelta(days=1)]
    end = str(book.as_of.date())
    full = cs.evaluate_backtest(book.events, as_of=[as_of], fitter=SMALL, end=end)
    short = cs.evaluate_backtest(cut_short, as_of=[as_of], fitter=SMALL, end=end)
    pd.testing.assert_frame_equal(full.comparison, short.comparison)
    assert full.models[0] == short.models[0]


def test_censored_cut_off_is_rejected(book: cs.EventBook) -> None:
    with pytest.raises(
        InvalidParameterError, match=r"censored\. The latest usable cut-off is 2025-10-01"
    ):
        cs.evaluate_backtest(book.events, as_of=["2025-10-02"], fitter=SMALL)


def test_cut_off_without_training_history_is_rejected(book: cs.EventBook) -> None:
    with pytest.raises(InvalidParameterError, match="training windows back to"):
        cs.evaluate_backtest(book.events, as_of=["2024-03-31"], fitter=SMALL)


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"as_of": "2025-06-30"}, "as_of"),
        ({"as_of": []}, "non-empty"),
        ({"as_of": ["2025-06-30"], "n_bins": 0}, "n_bins"),
        ({"as_of": ["2025-06-30"], "fitter": "x"}, "fitter"),
        ({"as_of": ["2025-06-30"], "rules": "x"}, "rules"),
    ],
)
def test_bad_parameters(book: cs.EventBook, arguments: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        cs.evaluate_backtest(book.events, **arguments)  # type: ignore[arg-type]


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.integers(1, 200))
def test_history_context_never_sees_later_events(seed: int, shift: int) -> None:
    """A cut-off of a log validated to its end equals the log truncated at the cut-off."""
    book = cs.make_events(150, seed=seed, observation_days=400)
    day = _day("2024-09-30")
    later = book.events.assign(timestamp=book.events["timestamp"] + pd.Timedelta(days=shift))
    later = later[later["timestamp"] > pd.Timestamp("2024-09-30 23:59:59")]
    grown = pd.concat([book.events, later.assign(event_id=later["event_id"] + 10**9)])
    truncated = book.events[book.events["timestamp"] < pd.Timestamp("2024-10-01")]
    full = _history(grown, "2026-12-31").cut(day)
    short = _history(truncated, "2024-09-30").cut(day)
    ids_full = _history(grown, "2026-12-31").customers
    ids_short = _history(truncated, "2024-09-30").customers
    for name in ("active", "first_day", "last_day", "n_days"):
        a = pd.Series(getattr(full, name), index=ids_full).reindex(ids_short)
        b = pd.Series(getattr(short, name), index=ids_short)
        pd.testing.assert_series_equal(a, b, check_dtype=False)


def test_by_rule_table(result: cs.ChurnBacktest) -> None:
    table = result.by_rule
    warning = cs.EarlyWarning()
    expected = [f"rule {r.name}" for r in warning.rules] + [
        f"signal {s.name}" for s in warning.signals
    ]
    assert list(table.index) == expected
    # A rule that is one signal warns exactly where the signal fired; every customer
    # at a level is warned by one of its rules.
    for rule, signal in (("lapsing", "purchase_lapse"), ("account_anomaly", "account_anomaly")):
        assert cell(table, f"rule {rule}", "warned") == cell(table, f"signal {signal}", "warned")
    levels = result.levels.xs("rules", level="method")
    for level in ("blue", "yellow", "red"):
        alone = table.loc[table["level"] == level, "warned"].sum()
        assert alone >= cell(levels, level, "warned")
    assert table["precision"].dropna().between(0, 1).all()
    assert table["share_too_soon"].dropna().between(0, 1).all()
    customers = cell(result.to_frame(), "rules", "customers")
    assert np.allclose(table["share_warned"], table["warned"] / customers)
    # A one-signal rule ranks exactly as its signal; signals contribute no level.
    assert cell(table, "rule lapsing", "auc") == cell(table, "signal purchase_lapse", "auc")
    assert table.loc[table["level"] == "", "auc_contribution"].isna().all()
    assert table.loc[table["level"] != "", "auc_contribution"].notna().all()


def test_true_churn_dates_replace_the_criterion(book: cs.EventBook) -> None:
    truth = book.customers["churn_date"]
    result = cs.evaluate_backtest(
        book.events, as_of=["2025-06-30"], fitter=SMALL, churn_dates=truth
    )
    day = pd.Timestamp("2025-06-30")
    history = _history(book.events, str(book.as_of.date()))
    cut = history.cut(_day("2025-06-30"))
    active = pd.Series(cut.active, index=history.customers)
    churn = truth.reindex(history.customers)
    population = active & ~(churn <= day)
    ahead = (churn - day).dt.days
    positives = population & ahead.between(30, 90)
    table = result.to_frame()
    assert cell(table, "warn everyone", "customers") == population.sum()
    assert cell(table, "warn everyone", "churners") == positives.sum()
