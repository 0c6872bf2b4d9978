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
parameters, so the fit reuses the kernels of the models without covariates: rows
are compressed to distinct (x, t_x, T, z), grouped by distinct covariate vector,
and each group's kernel derivatives are mapped to (log baseline parameters,
coefficients) by the chain rule. Cost grows with the number of distinct covariate
vectors: made for categorical covariates (dummy columns); a continuous covariate
makes each customer its own group.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import attrs
import numpy as np
import pandas as pd

from crmscore._groups import compress_rows, group_rows
from crmscore._params import BetaGeoParams, GammaGammaParams, ParetoNBDParams
from crmscore._serialise import reads
from crmscore._validation import (
    as_float_array,
    check_unique_index,
    non_negative_finite,
    positive_finite,
    to_float,
)
from crmscore.clv import _kernels, _pareto
from crmscore.clv._fitting import (
    DEFAULT_MAX_ITERATIONS,
    DEFAULT_TOL,
    ConvergenceReport,
    Matrix,
    check_covariance,
    fitted_model_html,
    maximize,
    optional_finite,
    optional_positive_int,
    parameter_summary,
    positive_int,
    to_matrix,
)
from crmscore.clv._inputs import (
    check_identifiable,
    check_repeaters,
    check_time_unit,
    resolve_time_unit,
    rfm_arrays,
    spend_arrays,
)
from crmscore.clv.bgnbd import BetaGeoModel
from crmscore.clv.gamma_gamma import GammaGammaModel
from crmscore.clv.paretonbd import ParetoNBDModel
from crmscore.errors import ColumnNotFoundError, InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from crmscore.clv._kernels import Derivatives, FloatArray

__all__ = [
    "BetaGeoCovariateFitter",
    "BetaGeoCovariateModel",
    "GammaGammaCovariateFitter",
    "GammaGammaCovariateModel",
    "ParetoNBDCovariateFitter",
    "ParetoNBDCovariateModel",
]


# --------------------------------------------------------------------------------------
# What differs between the three models
# --------------------------------------------------------------------------------------


class _Spec(NamedTuple):
    """How covariates enter one model, and which kernels fit it."""

    model: str
    """The model's name in messages ("BG/NBD")."""
    names: tuple[str, ...]
    """Baseline parameters, in the kernels' order."""
    params_type: Any
    processes: tuple[str, ...]
    """Covariate sets ("trans", "life") or ("spend",)."""
    scaled: Mapping[str, tuple[tuple[int, float], ...]]
    """Per process: (index of a scaled parameter, sign of its exponent)."""


_BGNBD = _Spec(
    model="BG/NBD",
    names=("r", "alpha", "a", "b"),
    params_type=BetaGeoParams,
    processes=("trans", "life"),
    scaled={"trans": ((1, -1.0),), "life": ((2, 1.0), (3, 1.0))},
)
_PARETO = _Spec(
    model="Pareto/NBD",
    names=("r", "alpha", "s", "beta"),
    params_type=ParetoNBDParams,
    processes=("trans", "life"),
    scaled={"trans": ((1, -1.0),), "life": ((3, -1.0),)},
)
_GG = _Spec(
    model="Gamma-Gamma",
    names=("p", "q", "v"),
    params_type=GammaGammaParams,
    processes=("spend",),
    scaled={"spend": ((2, 1.0),)},
)


def _exponents(spec: _Spec, z: Mapping[str, FloatArray], gamma: Mapping[str, FloatArray]) -> Any:
    """Per row and baseline parameter: the log multiplier (rows x parameters)."""
    n = len(next(iter(z.values())))
    out = np.zeros((n, len(spec.names)))
    for process in spec.processes:
        effect = z[process] @ gamma[process] if gamma[process].size else np.zeros(n)
        for index, sign in spec.scaled[process]:
            out[:, index] += sign * effect
    return out


# --------------------------------------------------------------------------------------
# Validation of names and covariate columns
# --------------------------------------------------------------------------------------


def _to_names(value: str | Iterable[str]) -> tuple[str, ...]:
    """Convert a column name or a sequence of names to a tuple of names."""
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _check_names(instance: object, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    if not all(isinstance(v, str) and v for v in value) or len(set(value)) != len(value):
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=type(instance).__name__,
            allowed="distinct non-empty column names",
            got=list(value),
        )


def _to_floats(value: Iterable[float]) -> tuple[float, ...]:
    """Convert a sequence of numbers to a tuple of floats."""
    return tuple(to_float(v) for v in value)


def _check_finite_all(
    instance: object, attribute: attrs.Attribute[Any], value: tuple[float, ...]
) -> None:
    if not all(math.isfinite(v) for v in value):
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=type(instance).__name__,
            allowed="finite numbers",
            got=list(value),
        )


def covariate_matrix(
    frame: pd.DataFrame, names: Sequence[str], *, owner: str, setting: str
) -> FloatArray:
    """Validate the covariate columns of ``frame``; return them as a rows x k matrix.

    Boolean columns (``pandas.get_dummies``) count as 0/1.
    """
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ColumnNotFoundError.from_missing_and_available(
            missing,
            frame.columns,
            frame=f"The table passed to {owner}",
            hint=f"Covariates are columns of the table, one value per customer: join them "
            f"to the table (e.g. table.join(covariates)) or fix the names in {setting}.",
        )
    if not names:
        return np.zeros((len(frame), 0))
    booleans = {
        name: frame[name].astype(np.float64)
        for name in names
        if pd.api.types.is_bool_dtype(frame[name].dtype)
    }
    view = frame.assign(**booleans) if booleans else frame
    return np.column_stack(
        [as_float_array(view, name, ids=frame.index, frame_name="table") for name in names]
    )


def check_design(z: FloatArray, names: Sequence[str], *, setting: str) -> None:
    """Reject a constant covariate or one that is a combination of others.

    Either leaves a coefficient unidentified: a constant is confounded with the
    baseline parameter, a combination (e.g. every dummy of one category) with the
    other coefficients.
    """
    if not names:
        return
    rows = np.unique(z, axis=0)
    for j, name in enumerate(names):
        if np.ptp(rows[:, j]) == 0:
            raise InvalidDataError(
                f"Covariate {name!r} (in {setting}) is constant ({rows[0, j]:g} for every "
                "customer fitted): its effect cannot be told apart from the baseline "
                "parameter. Drop it.",
                column=name,
            )
    design = np.column_stack([np.ones(len(rows)), rows])
    for j, name in enumerate(names):
        previous = design[:, : j + 1]
        column = design[:, j + 1]
        coef, *_ = np.linalg.lstsq(previous, column, rcond=None)
        residual = column - previous @ coef
        scale = max(float(np.abs(column).max()), 1.0)
        if float(np.abs(residual).max()) <= 1e-9 * scale:
            others = [names[i] for i in range(j) if abs(coef[i + 1]) > 1e-9]
            raise InvalidDataError(
                f"Covariate {name!r} (in {setting}) is a linear combination of the baseline "
                f"(a constant) and {others}: the coefficients are not identified. This "
                "happens when every dummy column of a category is given; drop one of them "
                "as the reference level.",
                column=name,
            )


# --------------------------------------------------------------------------------------
# Fitting: groups of equal covariates, the chain rule, the optimiser
# --------------------------------------------------------------------------------------


#: Distinct covariate vectors above which a fit warns that it will be slow: each
#: costs one kernel evaluation per iteration (a few ms on 2,000 rows).
MANY_GROUPS = 256


class _Group(NamedTuple):
    data: Any
    """The kernel's prepared data for the group's rows."""
    design: FloatArray
    """d log theta_g / d (log baseline, gamma): parameters x (parameters + coefficients)."""


def _groups(
    spec: _Spec,
    stats: list[FloatArray],
    z: Mapping[str, FloatArray],
    prepare: Callable[[list[FloatArray], FloatArray], Any],
    *,
    owner: str,
    stacklevel: int,
) -> tuple[list[_Group], list[FloatArray], FloatArray]:
    """Compress rows to distinct (stats, z) with counts and group them by z.

    Returns the groups, then the distinct rows' statistics and counts.
    """
    sizes = [z[p].shape[1] for p in spec.processes]
    columns = [
        *stats,
        *(z[p][:, j] for p, k in zip(spec.processes, sizes, strict=True) for j in range(k)),
    ]
    distinct, counts = compress_rows(columns)
    n_stats = len(stats)
    covariates = distinct[n_stats:]
    if covariates:
        zrows, inverse = group_rows(covariates)
        n_groups = len(zrows[0])
    else:
        inverse = np.zeros(len(counts), dtype=np.int64)
        n_groups = 1
    if n_groups > MANY_GROUPS:
        warnings.warn(
            f"{owner}: the covariates take {n_groups:,} distinct values; the likelihood is "
            "evaluated once per distinct covariate vector, so this fit will be slow (a "
            "continuous covariate makes every customer its own group). Bin continuous "
            "covariates into a few categories (e.g. pandas.qcut) and pass their dummies.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=n_groups))])
    n_params = len(spec.names)
    groups = []
    for g in range(n_groups):
        rows = order[bounds[g] : bounds[g + 1]]
        design = np.zeros((n_params, n_params + sum(sizes)))
        design[:, :n_params] = np.eye(n_params)
        offset = n_params
        column = n_stats
        for process, k in zip(spec.processes, sizes, strict=True):
            zg = np.array([distinct[column + j][rows[0]] for j in range(k)])
            for index, sign in spec.scaled[process]:
                design[index, offset : offset + k] = sign * zg
            offset += k
            column += k
        groups.append(
            _Group(data=prepare([s[rows] for s in distinct[:n_stats]], counts[rows]), design=design)
        )
    return groups, distinct[:n_stats], counts


def _fit(
    spec: _Spec,
    *,
    groups: list[_Group],
    kernel: Callable[[tuple[float, ...], Any], Derivatives],
    start: Sequence[float],
    n_coefficients: int,
    total_weight: float,
    n_rows: int,
    penalizer: float,
    penalty_scale: Sequence[float],
    tol: float,
    max_iterations: int,
    owner: str,
) -> tuple[tuple[float, ...], tuple[float, ...], float, Matrix, ConvergenceReport]:
    """Maximise the likelihood over (baseline parameters, coefficients).

    :func:`~crmscore.clv._fitting.maximize` works on the logs of positive
    parameters; a coefficient enters it as exp(gamma), so its log is gamma itself.
    Each group's kernel gives derivatives in its own parameters theta_g; with
    log theta_g = D_g phi (phi = log baseline, then gamma) the gradient in phi is
    D_g' (theta_g * grad) and the Hessian D_g' (theta_g theta_g' * hess +
    diag(theta_g * grad)) D_g, summed over the groups.
    """
    n_params = len(spec.names)

    def derivatives(theta: tuple[float, ...]) -> Derivatives:
        values = np.asarray(theta, dtype=np.float64)
        base, gamma = values[:n_params], np.log(values[n_params:])
        value = 0.0
        grad = np.zeros(values.size)
        hess = np.zeros((values.size, values.size))
        for group in groups:
            exponent = group.design[:, n_params:] @ gamma
            theta_g = base * np.exp(exponent) if n_coefficients else base
            d = kernel(tuple(float(v) for v in theta_g), group.data)
            grad_log = theta_g * d.gradient
            hess_log = np.outer(theta_g, theta_g) * d.hessian + np.diag(grad_log)
            value += d.value
            grad += group.design.T @ grad_log
            hess += group.design.T @ hess_log @ group.design
        # Back to the parameters maximize sees (baseline, exp(gamma)): it takes logs.
        natural_grad = grad / values
        natural_hess = (hess - np.diag(grad)) / np.outer(values, values)
        return _kernels.Derivatives(value=value, gradient=natural_grad, hessian=natural_hess)

    optimum = maximize(
        derivatives,
        start=[*start, *([1.0] * n_coefficients)],
        total_weight=total_weight,
        n_rows=n_rows,
        penalizer=penalizer,
        penalty_scale=[*penalty_scale, *([0.0] * n_coefficients)],
        tol=tol,
        max_iterations=max_iterations,
        owner=owner,
    )
    theta = np.asarray(optimum.theta)
    # Covariance of (baseline, gamma): d gamma = d exp(gamma) / exp(gamma).
    scale = np.concatenate([np.ones(n_params), 1.0 / theta[n_params:]])
    covariance = np.asarray(optimum.covariance) * np.outer(scale, scale)
    return (
        tuple(float(v) for v in theta[:n_params]),
        tuple(float(v) for v in np.log(theta[n_params:])),
        optimum.log_likelihood,
        to_matrix((covariance + covariance.T) / 2) or (),
        optimum.report,
    )


# --------------------------------------------------------------------------------------
# The fitted models
# --------------------------------------------------------------------------------------


def _covariance_size(instance: Any, attribute: attrs.Attribute[Any], value: Matrix | None) -> None:
    size = len(instance._SPEC.names) + sum(len(names) for names, _ in instance._sets())
    check_covariance(size)(instance, attribute, value)


class _CovariateModel:
    """Shared behaviour of the fitted covariate models (fields are in the subclasses)."""

    _SPEC: ClassVar[_Spec]
    _TITLE: ClassVar[str]
    params: Any
    covariance: Matrix | None
    log_likelihood: float | None
    n_customers: int | None
    convergence: ConvergenceReport | None

    def _sets(self) -> list[tuple[tuple[str, ...], tuple[float, ...]]]:
        return [
            (getattr(self, f"{p}_covariates"), getattr(self, f"{p}_gamma"))
            for p in self._SPEC.processes
        ]

    def _check_sets(self) -> None:
        for process, (names, gamma) in zip(self._SPEC.processes, self._sets(), strict=True):
            if len(names) != len(gamma):
                raise InvalidParameterError.for_value(
                    name=f"{process}_gamma",
                    owner=type(self).__name__,
                    allowed=f"one coefficient per name in {process}_covariates ({len(names)})",
                    got=list(gamma),
                )

    @property
    def coefficient_names(self) -> tuple[str, ...]:
        """Labels of the coefficients: ``process.column`` (CLVTools' style), in order."""
        return tuple(
            f"{process}.{name}"
            for process, (names, _) in zip(self._SPEC.processes, self._sets(), strict=True)
            for name in names
        )

    @property
    def standard_errors(self) -> dict[str, float] | None:
        """Standard errors of the baseline parameters and coefficients; None without a fit."""
        if self.covariance is None:
            return None
        labels = [*self._SPEC.names, *self.coefficient_names]
        return {label: math.sqrt(self.covariance[i][i]) for i, label in enumerate(labels)}

    def summary(self, *, level: float = 0.95) -> pd.DataFrame:
        """Estimates, standard errors and Wald confidence intervals.

        Baseline parameters get log-scale intervals (they are positive), coefficients
        linear ones, and a two-sided ``p_value`` for a zero coefficient.

        Parameters
        ----------
        level : float, default 0.95
            Confidence level.

        Returns
        -------
        pandas.DataFrame
            Indexed by parameter (coefficients as ``process.column``): ``estimate``,
            ``std_error``, ``lower``, ``upper``, ``p_value`` (NaN without a fit).
        """
        from scipy.stats import norm  # noqa: PLC0415 (only needed here)

        errors = self.standard_errors
        base = parameter_summary(self.params.to_dict(), errors, level=level)
        base["p_value"] = math.nan
        labels = list(self.coefficient_names)
        estimate = np.array([g for _, gamma in self._sets() for g in gamma])
        se = np.array([math.nan if errors is None else errors[k] for k in labels])
        z = float(norm.ppf(0.5 + float(level) / 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            p_value = 2 * norm.sf(np.abs(estimate / se))
        coefficients = pd.DataFrame(
            {
                "estimate": estimate,
                "std_error": se,
                "lower": estimate - z * se,
                "upper": estimate + z * se,
                "p_value": p_value,
            },
            index=pd.Index(labels, name="parameter"),
        )
        return pd.concat([base, coefficients]) if labels else base

    def __repr__(self) -> str:
        fields = [*self.params.to_dict().items()]
        fields += [
            (f"{process}.{name}", g)
            for process, (names, gamma) in zip(self._SPEC.processes, self._sets(), strict=True)
            for name, g in zip(names, gamma, strict=True)
        ]
        if self.n_customers is not None:
            fields.append(("n_customers", self.n_customers))
        if self.log_likelihood is not None:
            fields.append(("log_likelihood", self.log_likelihood))
        text = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields)
        return f"{type(self).__name__}({text})"

    def _repr_html_(self) -> str:
        """Parameters and coefficients with standard errors, as an HTML table."""
        return fitted_model_html(self, title=self._TITLE)

    def _covariates(self, table: object, *, owner: str) -> tuple[pd.DataFrame, FloatArray]:
        """Validate the table's covariates; return the frame and the log multipliers."""
        if not isinstance(table, pd.DataFrame):
            raise InvalidParameterError(
                f"The 'table' parameter of {owner} must be a pandas DataFrame. Got "
                f"{type(table).__name__!r} instead."
            )
        z = {}
        gamma = {}
        for process, (names, coefficients) in zip(self._SPEC.processes, self._sets(), strict=True):
            z[process] = covariate_matrix(
                table, names, owner=owner, setting=f"the model's {process}_covariates"
            )
            gamma[process] = np.asarray(coefficients, dtype=np.float64)
        return table, _exponents(self._SPEC, z, gamma)

    def individual_params(self, table: pd.DataFrame) -> pd.DataFrame:
        """Each customer's own model parameters, from its covariates.

        Parameters
        ----------
        table : pandas.DataFrame
            One row per customer with the model's covariate columns.

        Returns
        -------
        pandas.DataFrame
            One column per model parameter, indexed like ``table``.
        """
        frame, exponent = self._covariates(table, owner=f"{type(self).__name__}.individual_params")
        base = np.asarray([self.params.to_dict()[k] for k in self._SPEC.names])
        return pd.DataFrame(
            base * np.exp(exponent), index=frame.index, columns=list(self._SPEC.names)
        )

    def base_model(self, covariates: Mapping[str, float] | None = None) -> Any:
        """Build the model without covariates for a customer with the given covariate values.

        Parameters
        ----------
        covariates : mapping of str to float, optional
            A value for every covariate column; omitted means all 0 (the baseline).

        Returns
        -------
        BetaGeoModel, ParetoNBDModel or GammaGammaModel
            Built from the customer's own parameters (no standard errors).
        """
        values = dict(covariates or {})
        names = {n for names, _ in self._sets() for n in names}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InvalidParameterError.for_value(
                name="covariates",
                owner=f"{type(self).__name__}.base_model",
                allowed=f"values for the model's covariates {sorted(names)}",
                got=unknown,
            )
        row = pd.DataFrame({n: [float(values.get(n, 0.0))] for n in sorted(names)})
        params = self.individual_params(row).iloc[0]
        return self._base(tuple(float(params[k]) for k in self._SPEC.names))

    def _base(self, theta: tuple[float, ...]) -> Any:
        raise NotImplementedError

    def _by_group(
        self, table: object, *, owner: str, predict: Callable[[Any, pd.DataFrame], pd.Series[float]]
    ) -> pd.Series[float]:
        """Predict per group of equal parameters with the model without covariates."""
        frame, exponent = self._covariates(table, owner=owner)
        check_unique_index(frame, frame_name=f"the table passed to {owner}")
        if exponent.shape[1] and len(frame):
            (*_,), inverse = group_rows([exponent[:, j] for j in range(exponent.shape[1])])
        else:
            inverse = np.zeros(len(frame), dtype=np.int64)
        n_groups = int(inverse.max()) + 1 if len(frame) else 0
        order = np.argsort(inverse, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=n_groups))])
        base = np.asarray([self.params.to_dict()[k] for k in self._SPEC.names])
        out = np.empty(len(frame))
        name: Any = None
        for g in range(n_groups):
            rows = order[bounds[g] : bounds[g + 1]]
            theta = base * np.exp(exponent[rows[0]])
            series = predict(self._base(tuple(float(v) for v in theta)), frame.iloc[rows])
            out[rows] = series.to_numpy(dtype=np.float64)
            name = series.name
        if n_groups == 0:
            return predict(self._base(tuple(float(v) for v in base)), frame)
        return pd.Series(out, index=frame.index, name=name)

    def _to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"params": self.params.to_dict()}
        for process, (names, gamma) in zip(self._SPEC.processes, self._sets(), strict=True):
            data[f"{process}_covariates"] = list(names)
            data[f"{process}_gamma"] = list(gamma)
        data["covariance"] = (
            None if self.covariance is None else [list(row) for row in self.covariance]
        )
        data["log_likelihood"] = self.log_likelihood
        data["n_customers"] = self.n_customers
        data["convergence"] = None if self.convergence is None else self.convergence.to_dict()
        return data

    @classmethod
    def _kwargs(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        convergence = data.get("convergence")
        kwargs: dict[str, Any] = {
            "params": cls._SPEC.params_type.from_dict(data["params"]),
            "covariance": data.get("covariance"),
            "log_likelihood": data.get("log_likelihood"),
            "n_customers": data.get("n_customers"),
            "convergence": None
            if convergence is None
            else ConvergenceReport.from_dict(convergence),
        }
        for process in cls._SPEC.processes:
            kwargs[f"{process}_covariates"] = data.get(f"{process}_covariates", ())
            kwargs[f"{process}_gamma"] = data.get(f"{process}_gamma", ())
        return kwargs


_MODEL_KEYS = ("covariance", "log_likelihood", "n_customers", "convergence")
_PURCHASE_KEYS = (
    "trans_covariates",
    "trans_gamma",
    "life_covariates",
    "life_gamma",
    "time_unit",
    *_MODEL_KEYS,
)


@attrs.frozen(kw_only=True, repr=False)
class BetaGeoCovariateModel(_CovariateModel):
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

    _SPEC: ClassVar[_Spec] = _BGNBD
    _TITLE: ClassVar[str] = "BetaGeoCovariateModel: BG/NBD purchases with covariates"

    params: BetaGeoParams = attrs.field(validator=attrs.validators.instance_of(BetaGeoParams))
    """Baseline r, alpha, a, b: the parameters of a customer whose covariates are 0."""

    trans_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=_to_names, validator=_check_names
    )
    """Columns that scale the purchase rate: alpha_i = alpha exp(-trans_gamma' z)."""

    trans_gamma: tuple[float, ...] = attrs.field(
        default=(), converter=_to_floats, validator=_check_finite_all
    )
    """Coefficients of ``trans_covariates`` (positive: more purchases)."""

    life_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=_to_names, validator=_check_names
    )
    """Columns that scale the dropout distribution: a_i, b_i = (a, b) exp(life_gamma' z)."""

    life_gamma: tuple[float, ...] = attrs.field(
        default=(), converter=_to_floats, validator=_check_finite_all
    )
    """Coefficients of ``life_covariates``."""

    covariance: Matrix | None = attrs.field(
        default=None, converter=to_matrix, validator=_covariance_size
    )
    """Covariance of (r, alpha, a, b, trans_gamma..., life_gamma...): the inverse
    observed information; None when built from values."""

    log_likelihood: float | None = attrs.field(
        default=None, converter=attrs.converters.optional(to_float), validator=optional_finite
    )
    """Total log-likelihood of the fitted customers (without penalty); None if unfitted."""

    n_customers: int | None = attrs.field(default=None, validator=optional_positive_int)
    """Customers the model was fitted on; None if built from values."""

    convergence: ConvergenceReport | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(ConvergenceReport)),
    )
    """The optimiser's report; None if built from values."""

    time_unit: str | None = attrs.field(default=None, validator=check_time_unit)
    """Unit of recency, T and t ("D", "W", "M"); None if unknown."""

    def __attrs_post_init__(self) -> None:
        self._check_sets()

    def _base(self, theta: tuple[float, ...]) -> BetaGeoModel:
        return BetaGeoModel.from_params(
            BetaGeoParams(**dict(zip(self._SPEC.names, theta, strict=True))),
            time_unit=self.time_unit,
        )

    def probability_alive(self, table: pd.DataFrame) -> pd.Series[float]:
        """Probability that each customer is alive, at the customer's own parameters.

        Parameters
        ----------
        table : pandas.DataFrame
            RFM table (``frequency``, ``recency``, ``T``) with the covariate columns.

        Returns
        -------
        pandas.Series
            ``p_alive``, indexed like ``table``.
        """
        return self._by_group(
            table,
            owner="BetaGeoCovariateModel.probability_alive",
            predict=lambda model, frame: model.probability_alive(frame),
        )

    def expected_purchases(self, table: pd.DataFrame, *, t: float) -> pd.Series[float]:
        """Predict the expected purchases of each customer in the next ``t`` periods.

        Parameters
        ----------
        table : pandas.DataFrame
            RFM table (``frequency``, ``recency``, ``T``) with the covariate columns.
        t : float
            Horizon, in the model's time unit.

        Returns
        -------
        pandas.Series
            ``expected_purchases``, indexed like ``table``.
        """
        return self._by_group(
            table,
            owner="BetaGeoCovariateModel.expected_purchases",
            predict=lambda model, frame: model.expected_purchases(frame, t=t),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {**self._to_dict(), "time_unit": self.time_unit}

    @classmethod
    @reads("params", optional=_PURCHASE_KEYS)
    def from_dict(cls, data: Mapping[str, Any]) -> BetaGeoCovariateModel:
        """Inverse of :meth:`to_dict`."""
        return cls(**cls._kwargs(data), time_unit=data.get("time_unit"))


@attrs.frozen(kw_only=True, repr=False)
class ParetoNBDCovariateModel(_CovariateModel):
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

    _SPEC: ClassVar[_Spec] = _PARETO
    _TITLE: ClassVar[str] = "ParetoNBDCovariateModel: Pareto/NBD purchases with covariates"

    params: ParetoNBDParams = attrs.field(validator=attrs.validators.instance_of(ParetoNBDParams))
    """Baseline r, alpha, s, beta: the parameters of a customer whose covariates are 0."""

    trans_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=_to_names, validator=_check_names
    )
    """Columns that scale the purchase rate: alpha_i = alpha exp(-trans_gamma' z)."""

    trans_gamma: tuple[float, ...] = attrs.field(
        default=(), converter=_to_floats, validator=_check_finite_all
    )
    """Coefficients of ``trans_covariates`` (positive: more purchases)."""

    life_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=_to_names, validator=_check_names
    )
    """Columns that scale the dropout rate: beta_i = beta exp(-life_gamma' z)."""

    life_gamma: tuple[float, ...] = attrs.field(
        default=(), converter=_to_floats, validator=_check_finite_all
    )
    """Coefficients of ``life_covariates`` (positive: faster dropout)."""

    covariance: Matrix | None = attrs.field(
        default=None, converter=to_matrix, validator=_covariance_size
    )
    """Covariance of (r, alpha, s, beta, trans_gamma..., life_gamma...); None when built
    from values."""

    log_likelihood: float | None = attrs.field(
        default=None, converter=attrs.converters.optional(to_float), validator=optional_finite
    )
    """Total log-likelihood of the fitted customers (without penalty); None if unfitted."""

    n_customers: int | None = attrs.field(default=None, validator=optional_positive_int)
    """Customers the model was fitted on; None if built from values."""

    convergence: ConvergenceReport | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(ConvergenceReport)),
    )
    """The optimiser's report; None if built from values."""

    time_unit: str | None = attrs.field(default=None, validator=check_time_unit)
    """Unit of recency, T and t ("D", "W", "M"); None if unknown."""

    def __attrs_post_init__(self) -> None:
        self._check_sets()

    def _base(self, theta: tuple[float, ...]) -> ParetoNBDModel:
        return ParetoNBDModel.from_params(
            ParetoNBDParams(**dict(zip(self._SPEC.names, theta, strict=True))),
            time_unit=self.time_unit,
        )

    def probability_alive(self, table: pd.DataFrame) -> pd.Series[float]:
        """Probability that each customer is alive, at the customer's own parameters.

        Parameters
        ----------
        table : pandas.DataFrame
            RFM table (``frequency``, ``recency``, ``T``) with the covariate columns.

        Returns
        -------
        pandas.Series
            ``p_alive``, indexed like ``table``.
        """
        return self._by_group(
            table,
            owner="ParetoNBDCovariateModel.probability_alive",
            predict=lambda model, frame: model.probability_alive(frame),
        )

    def expected_purchases(self, table: pd.DataFrame, *, t: float) -> pd.Series[float]:
        """Predict the expected purchases of each customer in the next ``t`` periods.

        Parameters
        ----------
        table : pandas.DataFrame
            RFM table (``frequency``, ``recency``, ``T``) with the covariate columns.
        t : float
            Horizon, in the model's time unit.

        Returns
        -------
        pandas.Series
            ``expected_purchases``, indexed like ``table``.
        """
        return self._by_group(
            table,
            owner="ParetoNBDCovariateModel.expected_purchases",
            predict=lambda model, frame: model.expected_purchases(frame, t=t),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {**self._to_dict(), "time_unit": self.time_unit}

    @classmethod
    @reads("params", optional=_PURCHASE_KEYS)
    def from_dict(cls, data: Mapping[str, Any]) -> ParetoNBDCovariateModel:
        """Inverse of :meth:`to_dict`."""
        return cls(**cls._kwargs(data), time_unit=data.get("time_unit"))


@attrs.frozen(kw_only=True, repr=False)
class GammaGammaCovariateModel(_CovariateModel):
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

    _SPEC: ClassVar[_Spec] = _GG
    _TITLE: ClassVar[str] = "GammaGammaCovariateModel: Gamma-Gamma spend with covariates"

    params: GammaGammaParams = attrs.field(validator=attrs.validators.instance_of(GammaGammaParams))
    """Baseline p, q, v: the parameters of a customer whose covariates are 0."""

    spend_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=_to_names, validator=_check_names
    )
    """Columns that scale spend: v_i = v exp(spend_gamma' z)."""

    spend_gamma: tuple[float, ...] = attrs.field(
        default=(), converter=_to_floats, validator=_check_finite_all
    )
    """Coefficients of ``spend_covariates`` (positive: higher spend)."""

    covariance: Matrix | None = attrs.field(
        default=None, converter=to_matrix, validator=_covariance_size
    )
    """Covariance of (p, q, v, spend_gamma...); None when built from values."""

    log_likelihood: float | None = attrs.field(
        default=None, converter=attrs.converters.optional(to_float), validator=optional_finite
    )
    """Total log-likelihood of the fitted customers; None if unfitted."""

    n_customers: int | None = attrs.field(default=None, validator=optional_positive_int)
    """Repeat customers the model was fitted on; None if built from values."""

    convergence: ConvergenceReport | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(ConvergenceReport)),
    )
    """The optimiser's report; None if built from values."""

    def __attrs_post_init__(self) -> None:
        self._check_sets()

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
    @reads("params", optional=("spend_covariates", "spend_gamma", *_MODEL_KEYS))
    def from_dict(cls, data: Mapping[str, Any]) -> GammaGammaCovariateModel:
        """Inverse of :meth:`to_dict`."""
        return cls(**cls._kwargs(data))


# --------------------------------------------------------------------------------------
# The fitters
# --------------------------------------------------------------------------------------


class _CovariateFitter:
    """Shared settings handling of the covariate fitters."""

    _SPEC: ClassVar[_Spec]
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
        initial = self.initial_params
        data: dict[str, Any] = {f"{p}_covariates": list(n) for p, n in self._names().items()}
        data.update(
            {
                "initial_params": None if initial is None else initial.to_dict(),
                "penalizer": self.penalizer,
                "tol": self.tol,
                "max_iterations": self.max_iterations,
            }
        )
        return data

    @classmethod
    def _kwargs(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        initial = data.get("initial_params")
        kwargs = {f"{p}_covariates": data.get(f"{p}_covariates", ()) for p in cls._SPEC.processes}
        kwargs.update(
            {
                "initial_params": None
                if initial is None
                else cls._SPEC.params_type.from_dict(initial),
                "penalizer": data.get("penalizer", 0.0),
                "tol": data.get("tol", DEFAULT_TOL),
                "max_iterations": data.get("max_iterations", DEFAULT_MAX_ITERATIONS),
            }
        )
        return kwargs


def _settings() -> dict[str, Any]:
    return {
        "penalizer": attrs.field(default=0.0, converter=to_float, validator=non_negative_finite),
        "tol": attrs.field(default=DEFAULT_TOL, converter=to_float, validator=positive_finite),
        "max_iterations": attrs.field(default=DEFAULT_MAX_ITERATIONS, validator=positive_int),
    }


def _purchase_fit(
    fitter: _CovariateFitter,
    table: pd.DataFrame,
    *,
    time_unit: str | None,
    owner: str,
    kernel: Callable[[tuple[float, ...], Any], Derivatives],
    prepare: Callable[[list[FloatArray], FloatArray], Any],
    start: Callable[[float], tuple[float, ...]],
    penalty_scale: Callable[[float], tuple[float, ...]],
) -> dict[str, Any]:
    spec = fitter._SPEC
    frame, x, tx, age = rfm_arrays(table, owner=owner)
    unit = resolve_time_unit(time_unit, frame, owner=owner)
    check_identifiable(frame, x, owner=owner, model=spec.model)
    z = fitter._covariates(frame, owner=owner)
    groups, (xs, _, ages), counts = _groups(
        spec, [x, tx, age], z, prepare, owner=owner, stacklevel=3
    )
    longest = float(age.max()) if age.max() > 0 else 1.0
    if fitter.initial_params is not None:
        initial = fitter.initial_params.to_dict()
        first: tuple[float, ...] = tuple(initial[k] for k in spec.names)
    else:
        # The start of the fitters without covariates, from the same compressed rows.
        rate = float(np.sum(counts * xs)) / max(float(np.sum(counts * ages)), 1e-12)
        first = tuple(longest if v == -1.0 else v for v in start(rate))
    base, gamma, log_likelihood, covariance, report = _fit(
        spec,
        groups=groups,
        kernel=kernel,
        start=first,
        n_coefficients=sum(m.shape[1] for m in z.values()),
        total_weight=float(counts.sum()),
        n_rows=len(counts),
        penalizer=fitter.penalizer,
        penalty_scale=penalty_scale(longest),
        tol=fitter.tol,
        max_iterations=fitter.max_iterations,
        owner=type(fitter).__name__,
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

    _SPEC: ClassVar[_Spec] = _BGNBD

    trans_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=_to_names, validator=_check_names
    )
    """Columns of the table that scale the purchase rate (alpha)."""

    life_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=_to_names, validator=_check_names
    )
    """Columns of the table that scale the dropout distribution (a and b)."""

    initial_params: BetaGeoParams | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(BetaGeoParams)),
    )
    """Starting baseline parameters (coefficients start at 0); None for the default."""

    penalizer: float = _settings()["penalizer"]
    """L2 penalty on the baseline parameters, as in :class:`~crmscore.BetaGeoFitter`
    (coefficients are not penalised)."""

    tol: float = _settings()["tol"]
    """Convergence tolerance on the largest gradient of the mean log-likelihood."""

    max_iterations: int = _settings()["max_iterations"]
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
            start=lambda rate: (1.0, 1.0 / max(rate, 1e-12), 1.0, 1.0),
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

    _SPEC: ClassVar[_Spec] = _PARETO

    trans_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=_to_names, validator=_check_names
    )
    """Columns of the table that scale the purchase rate (alpha)."""

    life_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=_to_names, validator=_check_names
    )
    """Columns of the table that scale the dropout rate (beta)."""

    initial_params: ParetoNBDParams | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(ParetoNBDParams)),
    )
    """Starting baseline parameters (coefficients start at 0); None for the default."""

    penalizer: float = _settings()["penalizer"]
    """L2 penalty on the baseline parameters, as in :class:`~crmscore.ParetoNBDFitter`."""

    tol: float = _settings()["tol"]
    """Convergence tolerance on the largest gradient of the mean log-likelihood."""

    max_iterations: int = _settings()["max_iterations"]
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
            # -1.0 stands for the longest age (beta starts there, as in ParetoNBDFitter).
            start=lambda rate: (1.0, 1.0 / max(rate, 1e-12), 1.0, -1.0),
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

    _SPEC: ClassVar[_Spec] = _GG

    spend_covariates: tuple[str, ...] = attrs.field(
        default=(), converter=_to_names, validator=_check_names
    )
    """Columns of the table that scale spend (v)."""

    initial_params: GammaGammaParams | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(GammaGammaParams)),
    )
    """Starting baseline parameters (coefficients start at 0); None for the default."""

    penalizer: float = _settings()["penalizer"]
    """L2 penalty on the baseline parameters, as in :class:`~crmscore.GammaGammaFitter`."""

    tol: float = _settings()["tol"]
    """Convergence tolerance on the largest gradient of the mean log-likelihood."""

    max_iterations: int = _settings()["max_iterations"]
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
        groups, (_, ms), counts = _groups(
            spec,
            [x[keep], m[keep]],
            z,
            lambda stats, weight: (stats[0], stats[1], weight),
            owner=owner,
            stacklevel=2,
        )
        n, n_rows = float(counts.sum()), len(counts)
        if self.initial_params is not None:
            p0 = self.initial_params
            start: tuple[float, ...] = (p0.p, p0.q, p0.v)
        else:
            start = _moment_start(ms, counts)
        base, gamma, log_likelihood, covariance, report = _fit(
            spec,
            groups=groups,
            kernel=lambda theta, data: _kernels.gg_derivatives(theta, *data),
            start=start,
            n_coefficients=len(self.spend_covariates),
            total_weight=n,
            n_rows=n_rows,
            penalizer=self.penalizer,
            penalty_scale=(1.0, 1.0, 1.0),
            tol=self.tol,
            max_iterations=self.max_iterations,
            owner="GammaGammaCovariateFitter",
        )
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
