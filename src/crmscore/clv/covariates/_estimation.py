"""Covariate likelihoods: the models' forms, input checks, grouping, the optimiser."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from crmscore._groups import compress_rows, group_rows
from crmscore._params import BetaGeoParams, GammaGammaParams, ParetoNBDParams
from crmscore._validation import (
    as_float_array,
    to_float,
)
from crmscore.clv import _kernels
from crmscore.clv._fitting import (
    ConvergenceReport,
    Matrix,
    maximize,
    to_matrix,
)
from crmscore.errors import ColumnNotFoundError, InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    import attrs

    from crmscore.clv._kernels import Derivatives, FloatArray

__all__ = [
    "BGNBD_SPEC",
    "GG_SPEC",
    "MANY_GROUPS",
    "PARETO_SPEC",
    "Spec",
    "check_design",
    "check_finite_all",
    "check_names",
    "covariate_matrix",
    "exponents",
    "fit_coefficients",
    "group_by_covariates",
    "to_floats",
    "to_names",
]


# --------------------------------------------------------------------------------------
# What differs between the three models
# --------------------------------------------------------------------------------------


class Spec(NamedTuple):
    """How covariates enter one model: its parameters and which of them each process scales."""

    model: str
    """The model's name in messages ("BG/NBD")."""
    names: tuple[str, ...]
    """Baseline parameters, in the kernels' order."""
    params_type: Any
    processes: tuple[str, ...]
    """Covariate sets ("trans", "life") or ("spend",)."""
    scaled: Mapping[str, tuple[tuple[int, float], ...]]
    """Per process: (index of a scaled parameter, sign of its exponent)."""


BGNBD_SPEC = Spec(
    model="BG/NBD",
    names=("r", "alpha", "a", "b"),
    params_type=BetaGeoParams,
    processes=("trans", "life"),
    scaled={"trans": ((1, -1.0),), "life": ((2, 1.0), (3, 1.0))},
)
PARETO_SPEC = Spec(
    model="Pareto/NBD",
    names=("r", "alpha", "s", "beta"),
    params_type=ParetoNBDParams,
    processes=("trans", "life"),
    scaled={"trans": ((1, -1.0),), "life": ((3, -1.0),)},
)
GG_SPEC = Spec(
    model="Gamma-Gamma",
    names=("p", "q", "v"),
    params_type=GammaGammaParams,
    processes=("spend",),
    scaled={"spend": ((2, 1.0),)},
)


def exponents(spec: Spec, z: Mapping[str, FloatArray], gamma: Mapping[str, FloatArray]) -> Any:
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


def to_names(value: str | Iterable[str]) -> tuple[str, ...]:
    """Convert a column name or a sequence of names to a tuple of names."""
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def check_names(instance: object, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    if not all(isinstance(v, str) and v for v in value) or len(set(value)) != len(value):
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=type(instance).__name__,
            allowed="distinct non-empty column names",
            got=list(value),
        )


def to_floats(value: Iterable[float]) -> tuple[float, ...]:
    """Convert a sequence of numbers to a tuple of floats."""
    return tuple(to_float(v) for v in value)


def check_finite_all(
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
    # Distinct covariate vectors (packed keys: no sort of the rows themselves).
    rows = np.column_stack(group_rows([z[:, j] for j in range(z.shape[1])])[0])
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


def group_by_covariates(
    spec: Spec,
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


def fit_coefficients(
    spec: Spec,
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
