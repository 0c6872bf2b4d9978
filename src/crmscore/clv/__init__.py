"""Customer lifetime value: purchase models, Gamma-Gamma spend, discounted value.

The purchase models are the BG/NBD, the MBG/NBD and the Pareto/NBD.

Fitters hold settings and return frozen fitted models; models predict from an RFM
table (:func:`crmscore.rfm_table`) and return Series indexed like it.
"""

from __future__ import annotations

from crmscore.clv._fitting import ConvergenceReport
from crmscore.clv.bgnbd import BetaGeoFitter, BetaGeoModel
from crmscore.clv.gamma_gamma import GammaGammaFitter, GammaGammaModel
from crmscore.clv.holdout import calibration_holdout_split, holdout_comparison
from crmscore.clv.mbgnbd import ModifiedBetaGeoFitter, ModifiedBetaGeoModel
from crmscore.clv.paretonbd import ParetoNBDFitter, ParetoNBDModel
from crmscore.clv.value import PERIODS_PER_MONTH, PurchaseModel, customer_lifetime_value

__all__ = [
    "PERIODS_PER_MONTH",
    "BetaGeoFitter",
    "BetaGeoModel",
    "ConvergenceReport",
    "GammaGammaFitter",
    "GammaGammaModel",
    "ModifiedBetaGeoFitter",
    "ModifiedBetaGeoModel",
    "ParetoNBDFitter",
    "ParetoNBDModel",
    "PurchaseModel",
    "calibration_holdout_split",
    "customer_lifetime_value",
    "holdout_comparison",
]
