"""The fitted covariate models: BG/NBD, Pareto/NBD and Gamma-Gamma."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from crmscore._params import BetaGeoParams, GammaGammaParams, ParetoNBDParams
from crmscore._serialise import reads
from crmscore._validation import to_float
from crmscore.clv._fitting import optional_finite, to_matrix
from crmscore.clv.bgnbd import BetaGeoModel
from crmscore.clv.covariates._base import (
    MODEL_KEYS,
    CovariateModel,
    PurchaseCovariateModel,
    convergence_field,
    covariance_size,
    n_customers_field,
    time_unit_field,
)
from crmscore.clv.covariates._estimation import (
    BGNBD_SPEC,
    GG_SPEC,
    PARETO_SPEC,
    Spec,
    check_finite_all,
    check_names,
    to_floats,
    to_names,
)
from crmscore.clv.gamma_gamma import GammaGammaModel
from crmscore.clv.paretonbd import ParetoNBDModel

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

    from crmscore.clv._fitting import ConvergenceReport, Matrix


__all__ = ["BetaGeoCovariateModel", "GammaGammaCovariateModel", "ParetoNBDCovariateModel"]


@attrs.frozen(kw_only=True, repr=False)
class BetaGeoCovariateModel(PurchaseCovariateModel[BetaGeoModel]):
    r"""A BG/NBD model with time-invariant covariates (CLVTools' static covariates).

    Customer :math:`i` with transaction covariates :math:`z^t_i` and lifetime
    covariates :math:`z^l_i` follows the BG/NBD with
    :math:`\alpha_i = \alpha e^{-\gamma_t' z^t_i}`,
    :math:`a_i = a e^{\gamma_l' z^l_i}` and :math:`b_i = b e^{\gamma_l' z^l_i}`;
    ``params`` are the baseline (all covariates 0).

    Examples
    --------
    >>> import pandas as pd
    >>> model = BetaGeoCovariateModel(
    ...     params=BetaGeoParams(r=0.25, alpha=4.0, a=0.8, b=2.4),
    ...     trans_covariates=("web",), trans_gamma=(0.5,), time_unit="W")
    >>> table = pd.DataFrame({"frequency": [2, 2], "recency": [30.0, 30.0],
    ...                       "T": [38.0, 38.0], "web": [0, 1]}, index=["a", "b"])
    >>> model.individual_params(table).round(3)
          r  alpha    a    b
    a  0.25  4.000  0.8  2.4
    b  0.25  2.426  0.8  2.4
    >>> model.expected_purchases(table, t=10).round(3)
    a    0.368
    b    0.379
    Name: expected_purchases, dtype: float64
    """

    _SPEC: ClassVar[Spec] = BGNBD_SPEC
    _BASE_MODEL: ClassVar[type[BetaGeoModel]] = BetaGeoModel
    _TITLE: ClassVar[str] = "BetaGeoCovariateModel: BG/NBD purchases with covariates"

    params: BetaGeoParams = attrs.field(validator=attrs.validators.instance_of(BetaGeoParams))
    """Baseline r, alpha, a, b: the parameters of a customer whose covariates are 0."""

    trans_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=to_names, validator=check_names
    )
    """Columns that scale the purchase rate: alpha_i = alpha exp(-trans_gamma' z)."""

    trans_gamma: tuple[float, ...] = attrs.field(
        default=(), converter=to_floats, validator=check_finite_all
    )
    """Coefficients of ``trans_covariates`` (positive: more purchases)."""

    life_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=to_names, validator=check_names
    )
    """Columns that scale the dropout distribution: a_i, b_i = (a, b) exp(life_gamma' z)."""

    life_gamma: tuple[float, ...] = attrs.field(
        default=(), converter=to_floats, validator=check_finite_all
    )
    """Coefficients of ``life_covariates``."""

    covariance: Matrix | None = attrs.field(
        default=None, converter=to_matrix, validator=covariance_size
    )
    """Covariance of (r, alpha, a, b, trans_gamma..., life_gamma...): the inverse
    observed information; None when built from values."""

    log_likelihood: float | None = attrs.field(
        default=None, converter=attrs.converters.optional(to_float), validator=optional_finite
    )
    """Total log-likelihood of the fitted customers (without penalty); None if unfitted."""

    n_customers: int | None = n_customers_field()
    """Customers the model was fitted on; None if built from values."""

    convergence: ConvergenceReport | None = convergence_field()  # noqa: RUF009 (an attrs field)
    """The optimiser's report; None if built from values."""

    time_unit: str | None = time_unit_field()
    """Unit of recency, T and t ("D", "W", "M"); None if unknown."""


@attrs.frozen(kw_only=True, repr=False)
class ParetoNBDCovariateModel(PurchaseCovariateModel[ParetoNBDModel]):
    r"""A Pareto/NBD model with time-invariant covariates (CLVTools' static covariates).

    Customer :math:`i` follows the Pareto/NBD with
    :math:`\alpha_i = \alpha e^{-\gamma_t' z^t_i}` and
    :math:`\beta_i = \beta e^{-\gamma_l' z^l_i}`; ``params`` are the baseline.

    Examples
    --------
    >>> import pandas as pd
    >>> model = ParetoNBDCovariateModel(
    ...     params=ParetoNBDParams(r=0.55, alpha=10.6, s=0.61, beta=11.7),
    ...     life_covariates=("web",), life_gamma=(-0.7,), time_unit="W")
    >>> table = pd.DataFrame({"frequency": [2, 2], "recency": [20.0, 20.0],
    ...                       "T": [38.0, 38.0], "web": [0, 1]}, index=["a", "b"])
    >>> model.individual_params(table).round(3)
          r  alpha     s    beta
    a  0.55   10.6  0.61  11.700
    b  0.55   10.6  0.61  23.561
    >>> model.probability_alive(table).round(3)
    a    0.618
    b    0.688
    Name: p_alive, dtype: float64
    """

    _SPEC: ClassVar[Spec] = PARETO_SPEC
    _BASE_MODEL: ClassVar[type[ParetoNBDModel]] = ParetoNBDModel
    _TITLE: ClassVar[str] = "ParetoNBDCovariateModel: Pareto/NBD purchases with covariates"

    params: ParetoNBDParams = attrs.field(validator=attrs.validators.instance_of(ParetoNBDParams))
    """Baseline r, alpha, s, beta: the parameters of a customer whose covariates are 0."""

    trans_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=to_names, validator=check_names
    )
    """Columns that scale the purchase rate: alpha_i = alpha exp(-trans_gamma' z)."""

    trans_gamma: tuple[float, ...] = attrs.field(
        default=(), converter=to_floats, validator=check_finite_all
    )
    """Coefficients of ``trans_covariates`` (positive: more purchases)."""

    life_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=to_names, validator=check_names
    )
    """Columns that scale the dropout rate: beta_i = beta exp(-life_gamma' z)."""

    life_gamma: tuple[float, ...] = attrs.field(
        default=(), converter=to_floats, validator=check_finite_all
    )
    """Coefficients of ``life_covariates`` (positive: faster dropout)."""

    covariance: Matrix | None = attrs.field(
        default=None, converter=to_matrix, validator=covariance_size
    )
    """Covariance of (r, alpha, s, beta, trans_gamma..., life_gamma...); None when built
    from values."""

    log_likelihood: float | None = attrs.field(
        default=None, converter=attrs.converters.optional(to_float), validator=optional_finite
    )
    """Total log-likelihood of the fitted customers (without penalty); None if unfitted."""

    n_customers: int | None = n_customers_field()
    """Customers the model was fitted on; None if built from values."""

    convergence: ConvergenceReport | None = convergence_field()  # noqa: RUF009 (an attrs field)
    """The optimiser's report; None if built from values."""

    time_unit: str | None = time_unit_field()
    """Unit of recency, T and t ("D", "W", "M"); None if unknown."""


@attrs.frozen(kw_only=True, repr=False)
class GammaGammaCovariateModel(CovariateModel[GammaGammaModel]):
    r"""A Gamma-Gamma spend model with time-invariant covariates.

    Customer :math:`i` follows the Gamma-Gamma model with
    :math:`v_i = v e^{\gamma_s' z_i}`, so the population mean spend of customers
    like :math:`i`, :math:`p v_i / (q - 1)`, is the baseline's times
    :math:`e^{\gamma_s' z_i}`. CLVTools has no spend covariates; this is the same
    exponential form on the scale parameter.

    Examples
    --------
    >>> import pandas as pd
    >>> model = GammaGammaCovariateModel(
    ...     params=GammaGammaParams(p=6.25, q=3.74, v=15.44),
    ...     spend_covariates=("web",), spend_gamma=(0.2,))
    >>> table = pd.DataFrame({"frequency": [0, 0, 3], "monetary_value": [0.0, 0.0, 30.0],
    ...                       "web": [0, 1, 1]})
    >>> model.expected_spend(table).round(2)
    0    35.22
    1    43.02
    2    31.66
    Name: expected_spend, dtype: float64
    """

    _SPEC: ClassVar[Spec] = GG_SPEC
    _TITLE: ClassVar[str] = "GammaGammaCovariateModel: Gamma-Gamma spend with covariates"

    params: GammaGammaParams = attrs.field(validator=attrs.validators.instance_of(GammaGammaParams))
    """Baseline p, q, v: the parameters of a customer whose covariates are 0."""

    spend_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=to_names, validator=check_names
    )
    """Columns that scale spend: v_i = v exp(spend_gamma' z)."""

    spend_gamma: tuple[float, ...] = attrs.field(
        default=(), converter=to_floats, validator=check_finite_all
    )
    """Coefficients of ``spend_covariates`` (positive: higher spend)."""

    covariance: Matrix | None = attrs.field(
        default=None, converter=to_matrix, validator=covariance_size
    )
    """Covariance of (p, q, v, spend_gamma...); None when built from values."""

    log_likelihood: float | None = attrs.field(
        default=None, converter=attrs.converters.optional(to_float), validator=optional_finite
    )
    """Total log-likelihood of the fitted customers; None if unfitted."""

    n_customers: int | None = n_customers_field()
    """Repeat customers the model was fitted on; None if built from values."""

    convergence: ConvergenceReport | None = convergence_field()  # noqa: RUF009 (an attrs field)
    """The optimiser's report; None if built from values."""

    def _base(self, theta: tuple[float, ...]) -> GammaGammaModel:
        return GammaGammaModel.from_params(
            GammaGammaParams(**dict(zip(self._SPEC.names, theta, strict=True)))
        )

    def expected_spend(self, table: pd.DataFrame) -> pd.Series[float]:
        """Predict the expected spend per purchase of each customer, E[M | x, m, z].

        Parameters
        ----------
        table : pandas.DataFrame
            ``frequency``, ``monetary_value`` and the covariate columns.

        Returns
        -------
        pandas.Series
            ``expected_spend``, indexed like ``table``.
        """
        return self._by_group(
            table,
            owner="GammaGammaCovariateModel.expected_spend",
            predict=lambda model, frame: model.expected_spend(frame),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return self._to_dict()

    @classmethod
    @reads("params", optional=("spend_covariates", "spend_gamma", *MODEL_KEYS))
    def from_dict(cls, data: Mapping[str, Any]) -> GammaGammaCovariateModel:
        """Inverse of :meth:`to_dict`."""
        return cls(**cls._kwargs(data))
