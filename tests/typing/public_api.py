"""The return types of the public API, pinned for mypy with ``typing.assert_type``.

mypy checks this module with the rest of ``tests`` (``[tool.mypy] files``); pytest does
not collect it (``collect_ignore`` in tests/conftest.py) and nothing calls its functions:
an ``assert_type`` that no longer holds, after an annotation changes, fails ``mypy``,
whatever the code does at run time. The parameters stand in for real inputs, so no line
here computes anything. Add a line when a public function or method is added.
"""

from __future__ import annotations

from typing import Any, assert_type

import numpy as np
import numpy.typing as npt
import pandas as pd

import crmscore as cs


def rfm(transactions: pd.DataFrame, as_of: pd.Timestamp) -> None:
    table = cs.rfm_table(transactions, as_of=as_of, time_unit="W")
    assert_type(table, pd.DataFrame)
    fitted = cs.RFMScorer().fit(table)
    assert_type(fitted, cs.FittedRFMScorer)
    assert_type(fitted.score(table), pd.DataFrame)
    assert_type(cs.rfm_segments(table), pd.DataFrame)
    assert_type(cs.rfm_segments(table, scorer=fitted, language="zh"), pd.DataFrame)


def clv(table: pd.DataFrame, stats: pd.DataFrame) -> None:
    purchases = cs.BetaGeoFitter().fit(table)
    assert_type(purchases, cs.BetaGeoModel)
    assert_type(cs.BetaGeoFitter().fit_aggregated(stats, time_unit="W"), cs.BetaGeoModel)
    assert_type(purchases.params, cs.BetaGeoParams)
    assert_type(purchases.probability_alive(table), "pd.Series[float]")
    assert_type(purchases.expected_purchases(table, t=52.0), "pd.Series[float]")
    assert_type(purchases.expected_purchases_new_customer(52.0), float)
    assert_type(purchases.expected_purchases_new_customer([13.0, 52.0]), npt.NDArray[np.float64])
    assert_type(purchases.probability_of_purchases(2, t=52.0), float)
    assert_type(purchases.probability_of_purchases([0, 1], t=52.0), npt.NDArray[np.float64])
    assert_type(purchases.log_likelihood_of(table), "pd.Series[float]")
    assert_type(purchases.summary(), pd.DataFrame)
    assert_type(purchases.standard_errors, dict[str, float] | None)
    assert_type(purchases.to_dict(), dict[str, Any])
    assert_type(cs.BetaGeoModel.from_dict(purchases.to_dict()), cs.BetaGeoModel)

    spend = cs.GammaGammaFitter().fit(table)
    assert_type(spend, cs.GammaGammaModel)
    assert_type(cs.GammaGammaFitter().fit_aggregated(stats), cs.GammaGammaModel)
    assert_type(spend.params, cs.GammaGammaParams)
    assert_type(spend.expected_spend(table), "pd.Series[float]")
    assert_type(spend.mean_spend, float)

    value = cs.customer_lifetime_value(
        table, purchase_model=purchases, spend_model=spend, horizon=12, discount_rate=0.01
    )
    assert_type(value, "pd.Series[float]")


def other_purchase_models(table: pd.DataFrame, stats: pd.DataFrame) -> None:
    modified = cs.ModifiedBetaGeoFitter().fit(table, time_unit="W")
    assert_type(modified, cs.ModifiedBetaGeoModel)
    assert_type(
        cs.ModifiedBetaGeoFitter().fit_aggregated(stats, time_unit="W"), cs.ModifiedBetaGeoModel
    )
    assert_type(modified.params, cs.BetaGeoParams)
    assert_type(modified.probability_alive(table), "pd.Series[float]")
    assert_type(modified.expected_purchases(table, t=52.0), "pd.Series[float]")
    assert_type(modified.expected_purchases_new_customer(52.0), float)
    assert_type(modified.probability_of_purchases(2, t=52.0), float)
    assert_type(modified.log_likelihood_of(table), "pd.Series[float]")
    assert_type(cs.ModifiedBetaGeoModel.from_dict(modified.to_dict()), cs.ModifiedBetaGeoModel)

    pareto = cs.ParetoNBDFitter().fit(table, time_unit="W")
    assert_type(pareto, cs.ParetoNBDModel)
    assert_type(cs.ParetoNBDFitter().fit_aggregated(stats, time_unit="W"), cs.ParetoNBDModel)
    assert_type(pareto.params, cs.ParetoNBDParams)
    assert_type(pareto.probability_alive(table), "pd.Series[float]")
    assert_type(pareto.expected_purchases(table, t=52.0), "pd.Series[float]")
    assert_type(pareto.expected_purchases_new_customer(52.0), float)
    assert_type(pareto.log_likelihood_of(table), "pd.Series[float]")
    assert_type(cs.ParetoNBDModel.from_dict(pareto.to_dict()), cs.ParetoNBDModel)

    purchase_model: cs.PurchaseModel = pareto
    spend = cs.GammaGammaFitter().fit(table)
    value = cs.customer_lifetime_value(
        table, purchase_model=purchase_model, spend_model=spend, horizon=12, discount_rate=0.01
    )
    assert_type(value, "pd.Series[float]")


def discrete_models(transactions: pd.DataFrame, stats: pd.DataFrame) -> None:
    histories = cs.discrete_rfm_table(transactions, as_of="2025-12-31", period="Y")
    assert_type(histories, pd.DataFrame)
    bgbb = cs.BetaGeoBetaBinomFitter().fit(histories)
    assert_type(bgbb, cs.BetaGeoBetaBinomModel)
    assert_type(
        cs.BetaGeoBetaBinomFitter().fit_aggregated(stats, count_col="weights"),
        cs.BetaGeoBetaBinomModel,
    )
    assert_type(bgbb.params, cs.BetaGeoBetaBinomParams)
    assert_type(bgbb.probability_alive(histories, ahead=1), "pd.Series[float]")
    assert_type(bgbb.expected_purchases(histories, t=5), "pd.Series[float]")
    assert_type(bgbb.expected_purchases_new_customer(5), float)
    assert_type(bgbb.expected_purchases_new_customer([1, 5]), npt.NDArray[np.float64])
    assert_type(bgbb.probability_of_purchases(2, t=6), float)
    assert_type(bgbb.log_likelihood_of(histories), "pd.Series[float]")
    assert_type(cs.BetaGeoBetaBinomModel.from_dict(bgbb.to_dict()), cs.BetaGeoBetaBinomModel)
    purchase_model: cs.PurchaseModel = bgbb
    assert_type(purchase_model.time_unit, str | None)

    subscriptions = pd.DataFrame({"start": [1, 1, 2], "end": [1, None, 3]})
    cohorts = cs.cohort_survival(subscriptions, as_of=3)
    assert_type(cohorts, pd.DataFrame)
    sbg = cs.ShiftedBetaGeoFitter().fit([1000, 631, 468, 382])
    assert_type(sbg, cs.ShiftedBetaGeoModel)
    assert_type(cs.ShiftedBetaGeoFitter().fit_cohorts(cohorts), cs.ShiftedBetaGeoModel)
    assert_type(sbg.params, cs.ShiftedBetaGeoParams)
    assert_type(sbg.survival(3), float)
    assert_type(sbg.survival([1, 2]), npt.NDArray[np.float64])
    assert_type(sbg.churn_probability(3), float)
    assert_type(sbg.retention_rate(3), float)
    assert_type(sbg.discounted_residual_lifetime(0.1, renewals=2), float)
    assert_type(sbg.discounted_residual_lifetime(0.1, renewals=[0, 2]), npt.NDArray[np.float64])
    assert_type(cs.ShiftedBetaGeoModel.from_dict(sbg.to_dict()), cs.ShiftedBetaGeoModel)


def covariates(table: pd.DataFrame) -> None:
    fitter = cs.BetaGeoCovariateFitter(trans_covariates=["web"], life_covariates=("region",))
    purchases = fitter.fit(table, time_unit="W")
    assert_type(purchases, cs.BetaGeoCovariateModel)
    assert_type(purchases.params, cs.BetaGeoParams)
    assert_type(purchases.trans_gamma, tuple[float, ...])
    assert_type(purchases.probability_alive(table), "pd.Series[float]")
    assert_type(purchases.expected_purchases(table, t=52.0), "pd.Series[float]")
    assert_type(purchases.individual_params(table), pd.DataFrame)
    assert_type(purchases.summary(level=0.9), pd.DataFrame)
    assert_type(purchases.standard_errors, dict[str, float] | None)
    assert_type(purchases.coefficient_names, tuple[str, ...])
    assert_type(purchases.base_model({"web": 1.0}), cs.BetaGeoModel)
    assert_type(cs.BetaGeoCovariateModel.from_dict(purchases.to_dict()), cs.BetaGeoCovariateModel)
    assert_type(cs.BetaGeoCovariateFitter.from_dict(fitter.to_dict()), cs.BetaGeoCovariateFitter)

    pareto = cs.ParetoNBDCovariateFitter(life_covariates=["web"]).fit(table)
    assert_type(pareto, cs.ParetoNBDCovariateModel)
    assert_type(pareto.params, cs.ParetoNBDParams)
    assert_type(pareto.base_model(), cs.ParetoNBDModel)
    assert_type(pareto.probability_alive(table), "pd.Series[float]")
    assert_type(cs.ParetoNBDCovariateModel.from_dict(pareto.to_dict()), cs.ParetoNBDCovariateModel)

    spend = cs.GammaGammaCovariateFitter(spend_covariates=["web"]).fit(table)
    assert_type(spend, cs.GammaGammaCovariateModel)
    assert_type(spend.params, cs.GammaGammaParams)
    assert_type(spend.spend_gamma, tuple[float, ...])
    assert_type(spend.expected_spend(table), "pd.Series[float]")
    assert_type(spend.base_model({"web": 0.0}), cs.GammaGammaModel)

    purchase_model: cs.PurchaseModel = purchases
    value = cs.customer_lifetime_value(
        table,
        purchase_model=purchase_model,
        spend_model=cs.GammaGammaFitter().fit(table),
        horizon=12,
        discount_rate=0.01,
    )
    assert_type(value, "pd.Series[float]")


def holdout(transactions: pd.DataFrame, model: cs.BetaGeoModel) -> None:
    split = cs.calibration_holdout_split(
        transactions, calibration_end="2024-06-30", observation_end="2024-12-31"
    )
    assert_type(split, pd.DataFrame)
    assert_type(cs.holdout_comparison(split, model=model), pd.DataFrame)


def tiering(indicators: pd.DataFrame) -> None:
    card = cs.b2b_scorecard()
    assert_type(card, cs.Scorecard)
    fitted = card.fit(indicators)
    assert_type(fitted, cs.FittedScorecard)
    assert_type(fitted.score(indicators), pd.DataFrame)
    assert_type(
        fitted.score_and_tier(indicators),
        tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]],
    )
    groups = cs.KMeansTiering(seed=1).fit(indicators, scorecard=fitted)
    assert_type(groups, cs.FittedKMeansTiering)
    assert_type(groups.score(indicators), pd.DataFrame)


def churn(events: pd.DataFrame, as_of: pd.Timestamp, tiers: pd.Series[Any]) -> None:
    warning = cs.EarlyWarning()
    warnings = warning.predict(events, as_of=as_of)
    assert_type(warnings, pd.DataFrame)
    assert_type(warning.summary(), pd.DataFrame)
    assert_type(cs.DEFAULT_ACTIONS.recommend(warnings, tiers=tiers), "pd.Series[Any]")
    churned = cs.observed_churn_dates(events, as_of=as_of)
    assert_type(churned, "pd.Series[Any]")
    assert_type(cs.evaluate_warnings(warnings, churn_dates=churned), pd.DataFrame)
    assert_type(cs.backtest(events, churn_dates=churned, as_of_dates=[as_of]), pd.DataFrame)


def learned_churn(events: pd.DataFrame, as_of: pd.Timestamp) -> None:
    model = cs.LearnedWarningFitter().fit(events, as_of=as_of)
    assert_type(model, cs.LearnedWarning)
    assert_type(model.predict(events, as_of=as_of), pd.DataFrame)
    assert_type(model.predict(events, as_of=as_of, n_reasons=0), pd.DataFrame)
    assert_type(cs.LearnedWarning.from_dict(model.to_dict()), cs.LearnedWarning)
    result = cs.evaluate_backtest(events, as_of=[as_of])
    assert_type(result, cs.ChurnBacktest)
    assert_type(result.comparison, pd.DataFrame)
    assert_type(cs.PurchaseLapse().describe(41.0, float("nan")), str)


def rescoring(policy: cs.RescoringPolicy, events: pd.DataFrame, as_of: pd.Timestamp) -> None:
    opened = cs.open_book(policy, events, as_of=as_of)
    assert_type(opened, cs.RescoringResult)
    assert_type(opened.book, cs.Book)
    assert_type(opened.changes, pd.DataFrame)
    assert_type(cs.ingest(opened.book, events, as_of=as_of), cs.RescoringResult)
    assert_type(cs.review(opened.book, events, as_of=as_of), cs.RescoringResult)


def datasets() -> None:
    assert_type(cs.make_transactions(100, seed=1), cs.SyntheticBook)
    assert_type(cs.make_events(100, seed=1), cs.EventBook)
    assert_type(cs.make_rfm_summary(100, seed=1), pd.DataFrame)
    assert_type(cs.make_b2b_indicators(100, seed=1), pd.DataFrame)


def scaleout(lazy: Any, spark_frame: Any) -> None:
    assert_type(cs.fit_dask(lazy, fitter=cs.BetaGeoFitter()), cs.BetaGeoModel)
    assert_type(cs.fit_dask(lazy, fitter=cs.ModifiedBetaGeoFitter()), cs.ModifiedBetaGeoModel)
    assert_type(cs.fit_dask(lazy, fitter=cs.ParetoNBDFitter()), cs.ParetoNBDModel)
    assert_type(cs.fit_dask(lazy, fitter=cs.GammaGammaFitter()), cs.GammaGammaModel)
    assert_type(cs.fit_spark(spark_frame, fitter=cs.ParetoNBDFitter()), cs.ParetoNBDModel)
    assert_type(cs.fit_scorecard_dask(lazy, scorecard=cs.b2b_scorecard()), cs.FittedScorecard)
    assert_type(
        cs.fit_scorecard_spark(spark_frame, scorecard=cs.b2b_scorecard()), cs.FittedScorecard
    )
    policy = cs.RescoringPolicy(scorecard=cs.b2b_scorecard())
    assert_type(
        cs.review_spark(spark_frame, policy=policy, as_of="2026-03-31", state_as_of="2025-12-31"),
        cs.DistributedReview,
    )
