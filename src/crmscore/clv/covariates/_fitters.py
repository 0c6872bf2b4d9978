"""The covariate fitters: settings; ``fit`` returns a covariate model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from crmscore._params import BetaGeoParams, GammaGammaParams, ParetoNBDParams
from crmscore._serialise import reads
from crmscore._validation import non_negative_finite, positive_finite, to_float
from crmscore.clv import _kernels, _pareto
from crmscore.clv._base import (
    initial_params_field,
    max_iterations_field,
)
from crmscore.clv._fitting import DEFAULT_TOL, settings_from_dict, settings_to_dict
from crmscore.clv._inputs import (
    check_identifiable,
    check_repeaters,
    resolve_time_unit,
    rfm_arrays,
    spend_arrays,
)
from crmscore.clv.covariates._estimation import (
    BGNBD_SPEC,
    GG_SPEC,
    PARETO_SPEC,
    Spec,
    by_groups,
    check_design,
    check_names,
    covariate_matrix,
    fit_coefficients,
    fit_rows,
    group_by_covariates,
    rows_by_covariates,
    to_names,
)
from crmscore.clv.covariates._models import (
    BetaGeoCovariateModel,
    GammaGammaCovariateModel,
    ParetoNBDCovariateModel,
)
from crmscore.clv.covariates._rows import bgnbd_rows, gg_rows
from crmscore.errors import InvalidDataError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import pandas as pd

    from crmscore.clv._kernels import Derivatives, FloatArray
    from crmscore.clv.covariates._rows import RowDerivatives

__all__ = ["BetaGeoCovariateFitter", "GammaGammaCovariateFitter", "ParetoNBDCovariateFitter"]


# --------------------------------------------------------------------------------------
# The fitters
# --------------------------------------------------------------------------------------


class _CovariateFitter:
    """Shared settings handling of the covariate fitters."""

    _SPEC: ClassVar[Spec]
    initial_params: Any
    penalizer: float
    tol: float
    max_iterations: int

    def _names(self) -> dict[str, tuple[str, ...]]:
        return {p: getattr(self, f"{p}_covariates") for p in self._SPEC.processes}

    def _covariates(self, frame: pd.DataFrame, *, owner: str) -> dict[str, FloatArray]:
        z = {}
        for process, names in self._names().items():
            setting = f"{type(self).__name__}.{process}_covariates"
            z[process] = covariate_matrix(frame, names, owner=owner, setting=setting)
            check_design(z[process], names, setting=setting)
        return z

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        data: dict[str, Any] = {f"{p}_covariates": list(n) for p, n in self._names().items()}
        return {**data, **settings_to_dict(self)}

    @classmethod
    def _kwargs(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        kwargs = {f"{p}_covariates": data.get(f"{p}_covariates", ()) for p in cls._SPEC.processes}
        return {**kwargs, **settings_from_dict(data, cls._SPEC.params_type)}


def _purchase_fit(
    fitter: _CovariateFitter,
    table: pd.DataFrame,
    *,
    time_unit: str | None,
    owner: str,
    kernel: Callable[[tuple[float, ...], Any], Derivatives],
    prepare: Callable[[list[FloatArray], FloatArray], Any],
    start: Callable[[float, float], tuple[float, ...]],
    penalty_scale: Callable[[float], tuple[float, ...]],
    row_kernel: Callable[..., RowDerivatives] | None = None,
) -> dict[str, Any]:
    """Fit a purchase model: per row with ``row_kernel`` if given, else group by group."""
    spec = fitter._SPEC
    frame, x, tx, age = rfm_arrays(table, owner=owner)
    unit = resolve_time_unit(time_unit, frame, owner=owner)
    check_identifiable(frame, x, owner=owner, model=spec.model)
    z = fitter._covariates(frame, owner=owner)
    rows = rows_by_covariates(spec, [x, tx, age], z) if row_kernel is not None else None
    if rows is not None and not by_groups(rows):
        groups: list[Any] = []
        (xs, _, ages), counts = rows.stats, rows.weight
    else:
        # Few large groups (or no per-row kernel: the Pareto/NBD, which then warns
        # about many groups): the plain kernel once per distinct covariate vector.
        groups, (xs, _, ages), counts = group_by_covariates(
            spec, [x, tx, age], z, prepare, owner=owner, stacklevel=3, warn=rows is None
        )
        rows = None
    longest = float(age.max()) if age.max() > 0 else 1.0
    if fitter.initial_params is not None:
        initial = fitter.initial_params.to_dict()
        first: tuple[float, ...] = tuple(initial[k] for k in spec.names)
    else:
        # The start of the fitters without covariates, from the same compressed rows.
        rate = float(np.sum(counts * xs)) / max(float(np.sum(counts * ages)), 1e-12)
        first = start(rate, longest)
    settings: dict[str, Any] = {
        "start": first,
        "n_coefficients": sum(m.shape[1] for m in z.values()),
        "penalizer": fitter.penalizer,
        "penalty_scale": penalty_scale(longest),
        "tol": fitter.tol,
        "max_iterations": fitter.max_iterations,
        "owner": type(fitter).__name__,
    }
    if rows is not None and row_kernel is not None:
        base, gamma, log_likelihood, covariance, report = fit_rows(
            spec, rows=rows, kernel=row_kernel, **settings
        )
    else:
        base, gamma, log_likelihood, covariance, report = fit_coefficients(
            spec,
            groups=groups,
            kernel=kernel,
            total_weight=float(counts.sum()),
            n_rows=len(counts),
            **settings,
        )
    kwargs: dict[str, Any] = {
        "params": spec.params_type(**dict(zip(spec.names, base, strict=True))),
        "covariance": covariance,
        "log_likelihood": log_likelihood,
        "n_customers": round(float(counts.sum())),
        "convergence": report,
        "time_unit": unit,
    }
    offset = 0
    for process, names in fitter._names().items():
        kwargs[f"{process}_covariates"] = names
        kwargs[f"{process}_gamma"] = gamma[offset : offset + len(names)]
        offset += len(names)
    return kwargs


def _prepare_bgnbd(stats: list[FloatArray], counts: FloatArray) -> Any:
    return _kernels.prepare_bgnbd(stats[0], stats[1], stats[2], counts)


def _prepare_pareto(stats: list[FloatArray], counts: FloatArray) -> Any:
    return _pareto.prepare_pareto(stats[0], stats[1], stats[2], counts)


@attrs.frozen(kw_only=True)
class BetaGeoCovariateFitter(_CovariateFitter):
    r"""Settings of a BG/NBD fit with time-invariant covariates (maximum likelihood).

    Without covariates this is :class:`~crmscore.BetaGeoFitter`: the same start, the
    same likelihood, the same estimates.

    Examples
    --------
    Two channels simulated with purchase rates r / alpha of 1/45 and 1/30 a day, so
    the true coefficient of ``web`` is log(45 / 30) = 0.405:

    >>> import pandas as pd
    >>> import crmscore as cs
    >>> shop = cs.make_rfm_summary(2000, seed=1)
    >>> web = cs.make_rfm_summary(2000, seed=2, purchase=cs.BetaGeoParams(
    ...     r=1.0, alpha=30.0, a=1.0, b=7.0))
    >>> table = pd.concat([shop.assign(web=0), web.assign(web=1)], ignore_index=True)
    >>> model = BetaGeoCovariateFitter(trans_covariates=["web"]).fit(table, time_unit="D")
    >>> model.summary().round(3)
               estimate  std_error   lower   upper  p_value
    parameter
    r             0.962      0.025   0.914   1.013      NaN
    alpha        44.615      1.765  41.287  48.211      NaN
    a             1.002      0.081   0.855   1.173      NaN
    b             6.870      0.756   5.538   8.523      NaN
    trans.web     0.429      0.038   0.354   0.504      0.0
    """

    _SPEC: ClassVar[Spec] = BGNBD_SPEC

    trans_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=to_names, validator=check_names
    )
    """Columns of the table that scale the purchase rate (alpha)."""

    life_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=to_names, validator=check_names
    )
    """Columns of the table that scale the dropout distribution (a and b)."""

    initial_params: BetaGeoParams | None = initial_params_field(BetaGeoParams)  # noqa: RUF009
    """Starting baseline parameters (coefficients start at 0); None for the default."""

    penalizer: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_finite)
    """L2 penalty on the baseline parameters, as in :class:`~crmscore.BetaGeoFitter`
    (coefficients are not penalised)."""

    tol: float = attrs.field(default=DEFAULT_TOL, converter=to_float, validator=positive_finite)
    """Convergence tolerance on the largest gradient of the mean log-likelihood."""

    max_iterations: int = max_iterations_field()
    """Bound on optimiser iterations."""

    def fit(self, table: pd.DataFrame, *, time_unit: str | None = None) -> BetaGeoCovariateModel:
        """Fit to an RFM table holding the covariate columns.

        Parameters
        ----------
        table : pandas.DataFrame
            One row per customer: ``frequency``, ``recency``, ``T`` and every column
            of ``trans_covariates`` and ``life_covariates`` (numbers or booleans).
        time_unit : {"D", "W", "M"}, optional
            Unit of recency and T; defaults to ``table.attrs["time_unit"]``.

        Returns
        -------
        BetaGeoCovariateModel

        Raises
        ------
        ColumnNotFoundError
            A column (or covariate) is missing.
        InvalidDataError
            Bad RFM values, a covariate that is not numeric or has NaN (naming the
            customers), a constant covariate, or one that is a combination of others.
        ConvergenceError
            The optimiser did not converge, or the optimum is not identified.
        """
        kwargs = _purchase_fit(
            self,
            table,
            time_unit=time_unit,
            owner="BetaGeoCovariateFitter.fit",
            kernel=_kernels.bgnbd_derivatives,
            prepare=_prepare_bgnbd,
            row_kernel=bgnbd_rows,
            start=lambda rate, _: (1.0, 1.0 / max(rate, 1e-12), 1.0, 1.0),
            penalty_scale=lambda longest: (1.0, 1.0 / longest, 1.0, 1.0),
        )
        return BetaGeoCovariateModel(**kwargs)

    @classmethod
    @reads(
        optional=(
            "trans_covariates",
            "life_covariates",
            "initial_params",
            "penalizer",
            "tol",
            "max_iterations",
        )
    )
    def from_dict(cls, data: Mapping[str, Any]) -> BetaGeoCovariateFitter:
        """Inverse of :meth:`to_dict`."""
        return cls(**cls._kwargs(data))


@attrs.frozen(kw_only=True)
class ParetoNBDCovariateFitter(_CovariateFitter):
    r"""Settings of a Pareto/NBD fit with time-invariant covariates (maximum likelihood).

    Without covariates this is :class:`~crmscore.ParetoNBDFitter`.

    Examples
    --------
    Pareto/NBD histories whose purchase rate is exp(0.5) times higher online:

    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> web = rng.integers(0, 2, 1500)
    >>> rate = rng.gamma(0.8, 1 / (8.0 * np.exp(-0.5 * web)))
    >>> age = rng.integers(20, 61, 1500).astype(float)
    >>> alive = np.minimum(rng.exponential(1 / rng.gamma(1.0, 1 / 20.0, 1500)), age)
    >>> x = rng.poisson(rate * alive)
    >>> recency = np.where(x > 0, np.round(alive * rng.beta(np.maximum(x, 1), 1.0)), 0.0)
    >>> table = pd.DataFrame({"frequency": x, "recency": recency, "T": age, "web": web})
    >>> model = ParetoNBDCovariateFitter(trans_covariates=["web"]).fit(table)
    >>> model.summary().index.tolist()
    ['r', 'alpha', 's', 'beta', 'trans.web']
    >>> bool(abs(model.trans_gamma[0] - 0.5) < 3 * model.standard_errors["trans.web"])
    True
    """

    _SPEC: ClassVar[Spec] = PARETO_SPEC

    trans_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=to_names, validator=check_names
    )
    """Columns of the table that scale the purchase rate (alpha)."""

    life_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=to_names, validator=check_names
    )
    """Columns of the table that scale the dropout rate (beta)."""

    initial_params: ParetoNBDParams | None = initial_params_field(ParetoNBDParams)  # noqa: RUF009
    """Starting baseline parameters (coefficients start at 0); None for the default."""

    penalizer: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_finite)
    """L2 penalty on the baseline parameters, as in :class:`~crmscore.ParetoNBDFitter`."""

    tol: float = attrs.field(default=DEFAULT_TOL, converter=to_float, validator=positive_finite)
    """Convergence tolerance on the largest gradient of the mean log-likelihood."""

    max_iterations: int = max_iterations_field()
    """Bound on optimiser iterations."""

    def fit(self, table: pd.DataFrame, *, time_unit: str | None = None) -> ParetoNBDCovariateModel:
        """Fit to an RFM table holding the covariate columns.

        Parameters
        ----------
        table : pandas.DataFrame
            One row per customer: ``frequency``, ``recency``, ``T`` and every column
            of ``trans_covariates`` and ``life_covariates``.
        time_unit : {"D", "W", "M"}, optional
            Unit of recency and T; defaults to ``table.attrs["time_unit"]``.

        Returns
        -------
        ParetoNBDCovariateModel

        Raises
        ------
        ColumnNotFoundError
            A column (or covariate) is missing.
        InvalidDataError
            Bad RFM values or covariates, as for :class:`BetaGeoCovariateFitter`.
        ConvergenceError
            The optimiser did not converge, or the optimum is not identified.
        """
        kwargs = _purchase_fit(
            self,
            table,
            time_unit=time_unit,
            owner="ParetoNBDCovariateFitter.fit",
            kernel=_pareto.pareto_derivatives,
            prepare=_prepare_pareto,
            # beta starts at the longest age, as in ParetoNBDFitter.
            start=lambda rate, longest: (1.0, 1.0 / max(rate, 1e-12), 1.0, longest),
            penalty_scale=lambda longest: (1.0, 1.0 / longest, 1.0, 1.0 / longest),
        )
        return ParetoNBDCovariateModel(**kwargs)

    @classmethod
    @reads(
        optional=(
            "trans_covariates",
            "life_covariates",
            "initial_params",
            "penalizer",
            "tol",
            "max_iterations",
        )
    )
    def from_dict(cls, data: Mapping[str, Any]) -> ParetoNBDCovariateFitter:
        """Inverse of :meth:`to_dict`."""
        return cls(**cls._kwargs(data))


def _moment_start(m: FloatArray, counts: FloatArray) -> tuple[float, ...]:
    """Choose the start of GammaGammaFitter: q = 3, p and v from the mean spends' moments."""
    mean = float(np.sum(counts * m)) / float(counts.sum())
    variance = float(np.sum(counts * (m - mean) ** 2)) / float(counts.sum())
    cv2 = variance / mean**2 if mean > 0 else 1.0
    p = float(np.clip(1.0 / max(cv2, 1e-6), 0.5, 50.0))
    return (p, 3.0, 2.0 * mean / p)


@attrs.frozen(kw_only=True)
class GammaGammaCovariateFitter(_CovariateFitter):
    r"""Settings of a Gamma-Gamma spend fit with time-invariant covariates.

    Without covariates this is :class:`~crmscore.GammaGammaFitter`.

    Examples
    --------
    Online customers simulated with v = 200 instead of 150, so the true coefficient
    of ``web`` is log(200 / 150) = 0.288:

    >>> import pandas as pd
    >>> import crmscore as cs
    >>> shop = cs.make_rfm_summary(2000, seed=1)
    >>> web = cs.make_rfm_summary(2000, seed=2, spend=cs.GammaGammaParams(p=6.0, q=4.0,
    ...                                                                  v=200.0))
    >>> table = pd.concat([shop.assign(web=0), web.assign(web=1)], ignore_index=True)
    >>> model = GammaGammaCovariateFitter(spend_covariates=["web"]).fit(table)
    >>> model.summary().round(3)
               estimate  std_error    lower    upper  p_value
    parameter
    p             5.851      0.633    4.733    7.234      NaN
    q             4.078      0.133    3.825    4.348      NaN
    v           156.627     21.256  120.047  204.355      NaN
    spend.web     0.285      0.019    0.248    0.321      0.0
    """

    _SPEC: ClassVar[Spec] = GG_SPEC

    spend_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=to_names, validator=check_names
    )
    """Columns of the table that scale spend (v)."""

    initial_params: GammaGammaParams | None = initial_params_field(GammaGammaParams)  # noqa: RUF009
    """Starting baseline parameters (coefficients start at 0); None for the default."""

    penalizer: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_finite)
    """L2 penalty on the baseline parameters, as in :class:`~crmscore.GammaGammaFitter`."""

    tol: float = attrs.field(default=DEFAULT_TOL, converter=to_float, validator=positive_finite)
    """Convergence tolerance on the largest gradient of the mean log-likelihood."""

    max_iterations: int = max_iterations_field()
    """Bound on optimiser iterations."""

    def fit(self, table: pd.DataFrame) -> GammaGammaCovariateModel:
        """Fit to the repeat customers of a table holding the covariate columns.

        Parameters
        ----------
        table : pandas.DataFrame
            One row per customer: ``frequency``, ``monetary_value`` and every column
            of ``spend_covariates``; rows with ``frequency`` 0 are ignored.

        Returns
        -------
        GammaGammaCovariateModel

        Raises
        ------
        ColumnNotFoundError
            A column (or covariate) is missing.
        InvalidDataError
            Bad spend values or covariates; q <= 1 (infinite mean spend).
        ConvergenceError
            The optimiser did not converge, or the optimum is not identified.
        """
        owner = "GammaGammaCovariateFitter.fit"
        spec = self._SPEC
        frame, x, m = spend_arrays(table, owner=owner)
        check_repeaters(frame, x, owner=owner)
        keep = x > 0
        z = self._covariates(frame[keep], owner=owner)
        rows = rows_by_covariates(spec, [x[keep], m[keep]], z)
        (_, ms), counts = rows.stats, rows.weight
        n = float(counts.sum())
        groups = (
            group_by_covariates(
                spec,
                [x[keep], m[keep]],
                z,
                lambda stats, weight: (stats[0], stats[1], weight),
                owner=owner,
                stacklevel=2,
                warn=False,
            )[0]
            if by_groups(rows)
            else None
        )
        if self.initial_params is not None:
            p0 = self.initial_params
            start: tuple[float, ...] = (p0.p, p0.q, p0.v)
        else:
            start = _moment_start(ms, counts)
        settings: dict[str, Any] = {
            "start": start,
            "n_coefficients": len(self.spend_covariates),
            "penalizer": self.penalizer,
            "penalty_scale": (1.0, 1.0, 1.0),
            "tol": self.tol,
            "max_iterations": self.max_iterations,
            "owner": "GammaGammaCovariateFitter",
        }
        if groups is None:
            fitted = fit_rows(spec, rows=rows, kernel=gg_rows, **settings)
        else:
            fitted = fit_coefficients(
                spec,
                groups=groups,
                kernel=lambda theta, data: _kernels.gg_derivatives(theta, *data),
                total_weight=n,
                n_rows=len(counts),
                **settings,
            )
        base, gamma, log_likelihood, covariance, report = fitted
        params = GammaGammaParams(**dict(zip(spec.names, base, strict=True)))
        if params.q <= 1:
            raise InvalidDataError(
                f"The Gamma-Gamma fit gives q = {params.q:.4g} <= 1: the model's mean spend "
                "p v / (q - 1) is infinite. Check monetary_value for outliers or data "
                "errors, or cap extreme amounts, before fitting.",
                column="monetary_value",
                n_offending=round(n),
            )
        return GammaGammaCovariateModel(
            params=params,
            spend_covariates=self.spend_covariates,
            spend_gamma=gamma,
            covariance=covariance,
            log_likelihood=log_likelihood,
            n_customers=round(n),
            convergence=report,
        )

    @classmethod
    @reads(optional=("spend_covariates", "initial_params", "penalizer", "tol", "max_iterations"))
    def from_dict(cls, data: Mapping[str, Any]) -> GammaGammaCovariateFitter:
        """Inverse of :meth:`to_dict`."""
        return cls(**cls._kwargs(data))
