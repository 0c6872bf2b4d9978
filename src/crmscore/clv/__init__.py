"""Customer lifetime value: purchase models, Gamma-Gamma spend, discounted value.

The purchase models are the BG/NBD, the MBG/NBD and the Pareto/NBD, and for
discrete transaction opportunities the BG/BB; for contract renewals (contractual,
discrete time) the shifted-beta-geometric. :mod:`crmscore.clv.covariates` adds
time-invariant customer covariates.

Fitters hold settings and return frozen fitted models; models predict from an RFM
table (:func:`crmscore.rfm_table`) and return Series indexed like it.
"""

from __future__ import annotations

from crmscore.clv._fitting import ConvergenceReport
from crmscore.clv.bgbb import (
    BetaGeoBetaBinomFitter,
    BetaGeoBetaBinomModel,
    BetaGeoBetaBinomParams,
    discrete_rfm_table,
)
from crmscore.clv.bgnbd import BetaGeoFitter, BetaGeoModel
from crmscore.clv.compare import (
    IndependenceTest,
    LikelihoodRatioTest,
    ModelLeaderboard,
    information_criteria,
    likelihood_ratio_test,
    model_leaderboard,
    spend_independence_test,
)
from crmscore.clv.conditional import (
    predict_dert,
    predict_p_alive_at,
    predict_purchase_distribution,
)
from crmscore.clv.covariates import (
    BetaGeoCovariateFitter,
    BetaGeoCovariateModel,
    GammaGammaCovariateFitter,
    GammaGammaCovariateModel,
    ParetoNBDCovariateFitter,
    ParetoNBDCovariateModel,
)
from crmscore.clv.diagnostics import (
    conditional_expectations,
    frequency_histogram,
    repeat_tracking,
)
from crmscore.clv.gamma_gamma import GammaGammaFitter, GammaGammaModel
from crmscore.clv.holdout import calibration_holdout_split, holdout_comparison
from crmscore.clv.intervals import (
    FittedModel,
    parameter_intervals,
    predict_intervals,
    predict_totals,
)
from crmscore.clv.mbgnbd import ModifiedBetaGeoFitter, ModifiedBetaGeoModel
from crmscore.clv.paretonbd import ParetoNBDFitter, ParetoNBDModel
from crmscore.clv.sbg import (
    ShiftedBetaGeoFitter,
    ShiftedBetaGeoModel,
    ShiftedBetaGeoParams,
    cohort_survival,
)
from crmscore.clv.value import PERIODS_PER_MONTH, PurchaseModel, customer_lifetime_value

__all__ = [
    "PERIODS_PER_MONTH",
    "BetaGeoBetaBinomFitter",
    "BetaGeoBetaBinomModel",
    "BetaGeoBetaBinomParams",
    "BetaGeoCovariateFitter",
    "BetaGeoCovariateModel",
    "BetaGeoFitter",
    "BetaGeoModel",
    "ConvergenceReport",
    "FittedModel",
    "GammaGammaCovariateFitter",
    "GammaGammaCovariateModel",
    "GammaGammaFitter",
    "GammaGammaModel",
    "IndependenceTest",
    "LikelihoodRatioTest",
    "ModelLeaderboard",
    "ModifiedBetaGeoFitter",
    "ModifiedBetaGeoModel",
    "ParetoNBDCovariateFitter",
    "ParetoNBDCovariateModel",
    "ParetoNBDFitter",
    "ParetoNBDModel",
    "PurchaseModel",
    "ShiftedBetaGeoFitter",
    "ShiftedBetaGeoModel",
    "ShiftedBetaGeoParams",
    "calibration_holdout_split",
    "cohort_survival",
    "conditional_expectations",
    "customer_lifetime_value",
    "discrete_rfm_table",
    "frequency_histogram",
    "holdout_comparison",
    "information_criteria",
    "likelihood_ratio_test",
    "model_leaderboard",
    "parameter_intervals",
    "predict_dert",
    "predict_intervals",
    "predict_p_alive_at",
    "predict_purchase_distribution",
    "predict_totals",
    "repeat_tracking",
    "spend_independence_test",
]
