"""Model comparison: information criteria, likelihood-ratio test, holdout leaderboard,
and the Gamma-Gamma independence test (crmscore.clv.compare)."""

from __future__ import annotations

import json
import math

import attrs
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy.stats import t as student_t

from crmscore import (
    BetaGeoFitter,
    BetaGeoModel,
    BetaGeoParams,
    InvalidDataError,
    InvalidParameterError,
    LikelihoodRatioTest,
    ModelLeaderboard,
    calibration_holdout_split,
    information_criteria,
    likelihood_ratio_test,
    make_rfm_summary,
    make_transactions,
    model_leaderboard,
    spend_independence_test,
)


@pytest.fixture(scope="module")
def model() -> BetaGeoModel:
    return BetaGeoFitter().fit(make_rfm_summary(2_000, seed=21))


def test_information_criteria_by_hand(model: BetaGeoModel) -> None:
    ic = information_criteria(model)
    ll = model.log_likelihood
    assert ll is not None
    assert ic["aic"] == pytest.approx(8 - 2 * ll, rel=1e-14)
    assert ic["bic"] == pytest.approx(4 * math.log(2_000) - 2 * ll, rel=1e-14)
    with pytest.raises(InvalidParameterError, match="'model'"):
        information_criteria(BetaGeoModel.from_params(model.params))


def test_likelihood_ratio_test_textbook_quantiles(model: BetaGeoModel) -> None:
    """chi2(1) has its 95 % quantile at 3.841459 and chi2(2) at 5.991465 (tables)."""
    ll = model.log_likelihood
    assert ll is not None
    restricted = attrs.evolve(model, log_likelihood=ll - 3.841459 / 2)
    test = likelihood_ratio_test(restricted, full=model, n_restricted=1)
    assert test.statistic == pytest.approx(3.841459, rel=1e-9)
    assert test.p_value == pytest.approx(0.05, abs=1e-6)
    on_boundary = likelihood_ratio_test(restricted, full=model, n_restricted=1, boundary=True)
    assert on_boundary.p_value == pytest.approx(0.025, abs=1e-6)
    two = attrs.evolve(model, log_likelihood=ll - 5.991465 / 2)
    assert likelihood_ratio_test(two, full=model, n_restricted=2).p_value == pytest.approx(
        0.05, abs=1e-6
    )
    assert LikelihoodRatioTest.from_dict(json.loads(json.dumps(test.to_dict()))) == test


def test_likelihood_ratio_test_rejects_mismatched_models(model: BetaGeoModel) -> None:
    other = BetaGeoFitter().fit(make_rfm_summary(1_000, seed=2))
    with pytest.raises(InvalidParameterError, match="same customers"):
        likelihood_ratio_test(other, full=model, n_restricted=1)
    with pytest.raises(InvalidParameterError, match="'n_restricted'"):
        likelihood_ratio_test(model, full=model, n_restricted=0)


def test_likelihood_ratio_test_holds_its_size() -> None:
    """A true restriction is rejected at 5 % in about 5 % of simulated books.

    Restriction: b fixed at its true value (3.0), fitted by profiling b out with the
    full fitter's optimum as the unrestricted model. 60 books of 800 customers;
    rejections ~ Binomial(60, 0.05): we accept up to 9 (P(X >= 10) < 0.2 %).
    """
    truth = BetaGeoParams(r=0.5, alpha=20.0, a=0.8, b=3.0)
    from scipy.optimize import minimize  # noqa: PLC0415

    rejections = 0
    for i in range(60):
        table = make_rfm_summary(800, seed=500 + i, purchase=truth, min_age=100, max_age=300)
        full = BetaGeoFitter().fit(table)

        def negative(free: np.ndarray, table: pd.DataFrame = table) -> float:
            r, alpha, a = np.exp(free)
            params = BetaGeoParams(r=r, alpha=alpha, a=a, b=3.0)
            return -float(BetaGeoModel.from_params(params).log_likelihood_of(table).sum())

        start = np.log([full.params.r, full.params.alpha, full.params.a])
        best = minimize(negative, start, method="Nelder-Mead", options={"fatol": 1e-8})
        restricted = attrs.evolve(full, log_likelihood=-float(best.fun))
        rejections += likelihood_ratio_test(restricted, full=full, n_restricted=1).p_value < 0.05
    assert rejections <= 9


def test_leaderboard_metrics_by_hand() -> None:
    book = make_transactions(2_000, seed=3)
    split = calibration_holdout_split(
        book.transactions, calibration_end="2025-06-30", observation_end=book.as_of
    )
    fitted = BetaGeoFitter().fit(split)
    wrong = BetaGeoModel.from_params(BetaGeoParams(r=2.0, alpha=10.0, a=0.5, b=5.0))
    board = model_leaderboard(split, models={"wrong": wrong, "bgnbd": fitted})
    frame = board.to_frame()
    assert list(frame.index) == ["bgnbd", "wrong"]  # sorted by RMSE
    duration = float(split["duration_holdout"].iloc[0])
    actual = split["frequency_holdout"].to_numpy(dtype=float)
    for name, model in (("bgnbd", fitted), ("wrong", wrong)):
        predicted = model.expected_purchases(split, t=duration).to_numpy()
        row = frame.loc[name]
        assert row["mae"] == pytest.approx(np.mean(np.abs(predicted - actual)), rel=1e-12)
        assert row["rmse"] == pytest.approx(np.sqrt(np.mean((predicted - actual) ** 2)), rel=1e-12)
        assert row["bias"] == pytest.approx(np.mean(predicted - actual), rel=1e-12)
        assert row["actual_total"] == actual.sum()
        assert row["total_error"] == pytest.approx(predicted.sum() / actual.sum() - 1, rel=1e-12)
    assert np.isnan(frame["aic"].to_numpy()[list(frame.index).index("wrong")])
    assert frame.loc["bgnbd", "aic"] == pytest.approx(information_criteria(fitted)["aic"])
    again = ModelLeaderboard.from_dict(json.loads(json.dumps(board.to_dict())))
    pd.testing.assert_frame_equal(again.to_frame(), frame)
    html = board._repr_html_()
    assert "bgnbd" in html
    assert "rmse" in html
    with pytest.raises(InvalidParameterError, match="'models'"):
        model_leaderboard(split, models={})


def test_independence_test_detects_dependence() -> None:
    table = make_rfm_summary(5_000, seed=8)
    independent = spend_independence_test(table)
    repeat = table[table["frequency"] > 0]
    r = np.corrcoef(repeat["frequency"], repeat["monetary_value"])[0, 1]
    n = len(repeat)
    t_stat = r * math.sqrt((n - 2) / (1 - r**2))
    assert independent.pearson == pytest.approx(r, rel=1e-10)
    assert independent.pearson_p_value == pytest.approx(
        2 * student_t.sf(abs(t_stat), n - 2), rel=1e-8
    )
    assert independent.n_customers == n
    assert independent.pearson_p_value > 0.01
    dependent = table.assign(
        monetary_value=table["monetary_value"] * (1 + table["frequency"]) ** 0.5
    )
    result = spend_independence_test(dependent)
    assert result.pearson > 0
    assert result.spearman > 0
    assert result.spearman_p_value < 1e-6
    with pytest.raises(InvalidDataError, match="at least 3"):
        spend_independence_test(table[table["frequency"] == 0])


def test_gamma_gamma_fit_reports_the_independence_test() -> None:
    """The fitted spend model carries the check of its assumption: scipy's correlations
    of frequency and mean spend among CDNOW's repeat customers (0.11 in Fader and
    Hardie's note on the Gamma-Gamma model)."""
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value  # noqa: PLC0415
    from scipy.stats import pearsonr, spearmanr  # noqa: PLC0415

    from crmscore import GammaGammaFitter, GammaGammaModel  # noqa: PLC0415

    table = load_cdnow_summary_data_with_monetary_value()
    model = GammaGammaFitter().fit(table)
    test = model.independence
    assert test is not None
    repeat = table[table["frequency"] > 0]
    pearson = pearsonr(repeat["frequency"], repeat["monetary_value"])
    spearman = spearmanr(repeat["frequency"], repeat["monetary_value"])
    assert test.n_customers == len(repeat) == 946
    assert round(test.pearson, 2) == 0.11
    assert test.pearson == pytest.approx(pearson.statistic, rel=1e-10)
    assert test.pearson_p_value == pytest.approx(pearson.pvalue, rel=1e-8)
    assert test.spearman == pytest.approx(spearman.statistic, rel=1e-10)
    assert test.spearman_p_value == pytest.approx(spearman.pvalue, rel=1e-8)
    assert "Pearson 0.114" in model._repr_html_()
    again = GammaGammaModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again == model
    assert again.independence == test
    assert GammaGammaModel.from_params(model.params).independence is None
    assert "independence" not in GammaGammaModel.from_params(model.params).to_dict()


@settings(max_examples=25, deadline=None)
@example(frequency=[1, 4, 1], spend=[1.0, 1e6, 2.5] + [1.0] * 57, wide=False)  # r = 1 - 8.4e-13
@given(
    frequency=st.lists(st.integers(1, 12), min_size=3, max_size=60),
    spend=st.lists(st.sampled_from([1.0, 2.5, 7.0, 7.25, 40.0, 1e6]), min_size=60, max_size=60),
    wide=st.booleans(),
)
def test_spearman_with_ties_equals_scipy(
    frequency: list[int], spend: list[float], wide: bool
) -> None:
    """Heavy ties in both columns; whole numbers counted (narrow) or sorted (wide)."""
    from scipy.stats import pearsonr, spearmanr  # noqa: PLC0415

    x = np.asarray(frequency, dtype=np.float64) * (1e9 if wide else 1.0)
    m = np.asarray(spend[: len(frequency)])
    assume(np.ptp(x) > 0 and np.ptp(m) > 0)
    test = spend_independence_test(pd.DataFrame({"frequency": x, "monetary_value": m}))
    expected = spearmanr(x, m)
    assert test.spearman == pytest.approx(expected.statistic, rel=1e-12, abs=1e-15)
    assert test.pearson == pytest.approx(pearsonr(x, m).statistic, rel=1e-12, abs=1e-15)
    assert 0.0 <= test.pearson_p_value <= 1.0
    # The p-value's condition in r: d ln p / dr is about (n - 2) r / (1 - r^2), so a
    # few ulps of r (each side rounds r its own way) move it by this much relative
    # (5.7e-5 for r = 1 - 8.4e-13, n = 3, where scipy's own is 1e-5 off mpmath's).
    pearson = pearsonr(x, m)
    ulps = (x.size - 2) * 4 * 2.0**-52 / (1.0 - pearson.statistic**2 + 2.0**-52)
    assert test.pearson_p_value == pytest.approx(pearson.pvalue, rel=1e-9 + ulps, abs=1e-300)
    if abs(expected.statistic) < 1 - 1e-12:
        assert test.spearman_p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    else:  # a perfect rank correlation: t is infinite, or huge by a rounding of rho
        assert test.spearman_p_value < 1e-7
        assert expected.pvalue < 1e-7


def test_uncorrelated_columns_have_p_value_one() -> None:
    """r = 0 up to rounding: scipy 1.12's pearsonr says 1 + 2**-52; a probability is at most 1."""
    table = pd.DataFrame({"frequency": [10, 11, 12], "monetary_value": [1.0, 2.5, 1.0]})
    test = spend_independence_test(table)
    assert test.pearson == pytest.approx(0.0, abs=1e-15)
    assert test.pearson_p_value == 1.0


def test_independence_is_undefined_for_a_constant_column() -> None:
    table = pd.DataFrame(
        {"frequency": [1, 1, 1, 1, 0], "monetary_value": [10.0, 12.0, 30.0, 8.0, 0.0]}
    )
    with pytest.raises(InvalidDataError, match="same for every repeat customer"):
        spend_independence_test(table)
    with pytest.raises(InvalidDataError, match="monetary_value"):
        spend_independence_test(table.assign(frequency=[1, 2, 3, 4, 0], monetary_value=5.0))
