r"""Time-invariant customer covariates for the BG/NBD, Pareto/NBD and Gamma-Gamma models.

The form of R's CLVTools ("static covariates"): a model parameter of customer
:math:`i` is the baseline parameter scaled by :math:`\exp(\gamma' z_i)`, with
:math:`z_i` the customer's covariates for that process and :math:`\gamma` their
coefficients:

=============  =========================================================================
BG/NBD         :math:`\alpha_i = \alpha e^{-\gamma_t' z_i}`,
               :math:`a_i = a e^{\gamma_l' z_i}`, :math:`b_i = b e^{\gamma_l' z_i}`
Pareto/NBD     :math:`\alpha_i = \alpha e^{-\gamma_t' z_i}`,
               :math:`\beta_i = \beta e^{-\gamma_l' z_i}`
Gamma-Gamma    :math:`v_i = v e^{\gamma_s' z_i}` (CLVTools has no spend covariates;
               this scales each customer's expected spend by :math:`e^{\gamma_s' z_i}`)
=============  =========================================================================

``t`` is the transaction (purchase) process, ``l`` the lifetime (dropout) process,
``s`` spend. A positive transaction coefficient raises the purchase rate; a positive
Pareto/NBD lifetime coefficient lowers the dropout rate (longer lifetimes). In the
BG/NBD both ``a`` and ``b`` are scaled alike (CLVTools constrains them so), which
keeps the mean dropout probability and changes its spread.

The likelihood of a customer is the model's likelihood at the customer's own
parameters: rows are compressed to distinct (x, t_x, T, z) and derivatives in each
row's parameters are mapped to (log baseline parameters, coefficients) by the chain
rule. With few distinct covariate vectors (dummy columns on a large table) the
kernels of the models without covariates run once per vector; otherwise the
BG/NBD and Gamma-Gamma derivatives are evaluated per row at row-specific parameters
and summed by design matrix products, so a continuous covariate costs in
proportion to the customers. The Pareto/NBD always goes vector by vector (its cost
grows with the number of distinct covariate vectors).
"""

from __future__ import annotations

from crmscore.clv.covariates._fitters import (
    BetaGeoCovariateFitter,
    GammaGammaCovariateFitter,
    ParetoNBDCovariateFitter,
)
from crmscore.clv.covariates._models import (
    BetaGeoCovariateModel,
    GammaGammaCovariateModel,
    ParetoNBDCovariateModel,
)

__all__ = [
    "BetaGeoCovariateFitter",
    "BetaGeoCovariateModel",
    "GammaGammaCovariateFitter",
    "GammaGammaCovariateModel",
    "ParetoNBDCovariateFitter",
    "ParetoNBDCovariateModel",
]
