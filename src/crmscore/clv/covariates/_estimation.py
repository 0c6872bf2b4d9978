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

    from crmscore._groups import IntArray
    from crmscore.clv._kernels import Derivatives, FloatArray
    from crmscore.clv.covariates._rows import RowDerivatives

__all__ = [
    "BGNBD_SPEC",
    "GG_SPEC",
    "MANY_GROUPS",
    "PARETO_SPEC",
    "ROWS_PER_GROUP",
    "ROW_CHUNK",
    "Rows",
    "Spec",
    "by_groups",
    "check_design",
    "check_finite_all",
    "check_names",
    "covariate_matrix",
    "exponents",
    "fit_coefficients",
    "fit_rows",
    "group_by_covariates",
    "group_derivatives",
    "row_derivatives",
    "rows_by_covariates",
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


#: Distinct covariate vectors above which a group-by-group fit (the Pareto/NBD's)
#: warns that it will be slow: each costs one kernel evaluation per iteration.
MANY_GROUPS = 256

#: The BG/NBD and Gamma-Gamma fits go group by group (the plain kernel per distinct
#: covariate vector, on that group's distinct statistics) while the groups average
#: at least this many distinct rows, else row by row (:func:`fit_rows`). A kernel
#: call costs about as much as the per-row derivatives on a thousand rows; few
#: large groups (dummies on a big table) compress further by statistics alone.
ROWS_PER_GROUP = 1000

#: Rows per block of the per-row derivatives: the kernels make many temporaries over
#: their rows, and blocks this size keep them in cache (a million rows in one block
#: were about three times slower than in blocks).
ROW_CHUNK = 1 << 16


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
    warn: bool = True,
) -> tuple[list[_Group], list[FloatArray], FloatArray]:
    """Compress rows to distinct (stats, z) with counts and group them by z.

    Returns the groups, then the distinct rows' statistics and counts. ``warn``:
    warn above :data:`MANY_GROUPS` groups.
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
    if warn and n_groups > MANY_GROUPS:
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
    """Maximise the likelihood over (baseline parameters, coefficients), group by group.

    Each group's kernel gives derivatives in its own parameters theta_g; with
    log theta_g = D_g phi (phi = log baseline, then gamma) the gradient in phi is
    D_g' (theta_g * grad) and the Hessian D_g' (theta_g theta_g' * hess +
    diag(theta_g * grad)) D_g, summed over the groups.
    """
    return _optimise(
        group_derivatives(spec, groups, kernel, n_coefficients=n_coefficients),
        n_params=len(spec.names),
        start=start,
        n_coefficients=n_coefficients,
        total_weight=total_weight,
        n_rows=n_rows,
        penalizer=penalizer,
        penalty_scale=penalty_scale,
        tol=tol,
        max_iterations=max_iterations,
        owner=owner,
    )


def group_derivatives(
    spec: Spec,
    groups: list[_Group],
    kernel: Callable[[tuple[float, ...], Any], Derivatives],
    *,
    n_coefficients: int,
) -> Callable[[FloatArray, FloatArray], tuple[float, FloatArray, FloatArray]]:
    """Log-likelihood with derivatives in phi, summed group by group (a kernel call each)."""
    n_params = len(spec.names)
    size = n_params + n_coefficients

    def derivatives(base: FloatArray, gamma: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        value = 0.0
        grad = np.zeros(size)
        hess = np.zeros((size, size))
        for group in groups:
            exponent = group.design[:, n_params:] @ gamma
            theta_g = base * np.exp(exponent) if n_coefficients else base
            d = kernel(tuple(float(v) for v in theta_g), group.data)
            grad_log = theta_g * d.gradient
            hess_log = np.outer(theta_g, theta_g) * d.hessian + np.diag(grad_log)
            value += d.value
            grad += group.design.T @ grad_log
            hess += group.design.T @ hess_log @ group.design
        return value, grad, hess

    return derivatives


class Rows(NamedTuple):
    """Distinct rows of (statistics, covariates), for the per-row path (:func:`fit_rows`)."""

    stats: list[FloatArray]
    """The kernel's statistics per row."""
    weight: FloatArray
    """Per row: the number of customers it stands for."""
    entries: list[IntArray]
    """Per baseline parameter j: the entries of phi its log depends on (j, then gammas)."""
    n_groups: int
    """Distinct covariate vectors among the rows."""
    designs: list[FloatArray]
    """Per baseline parameter j: d log theta_ij / d phi[entries[j]], len(entries[j]) x rows.

    Stored row-major (one covariate per row), so the products below run along memory.
    """


def rows_by_covariates(spec: Spec, stats: list[FloatArray], z: Mapping[str, FloatArray]) -> Rows:
    """Compress rows to distinct (stats, z) with counts; each parameter's design over them.

    The covariate vectors are numbered first and the rows compressed by (stats,
    number): packing the statistics with a continuous covariate's many values would
    overflow the packed key and fall back to sorting the rows themselves.
    """
    sizes = [z[p].shape[1] for p in spec.processes]
    covariates = [z[p][:, j] for p, k in zip(spec.processes, sizes, strict=True) for j in range(k)]
    if covariates:
        vectors, number = group_rows(covariates)
        distinct, counts = compress_rows([*stats, number.astype(np.float64)])
        which = distinct[-1].astype(np.intp)
        values = [vector[which] for vector in vectors]
        n_groups = len(vectors[0])
    else:
        distinct, counts = compress_rows(stats)
        values, n_groups = [], 1
    index: list[list[int]] = [[j] for j in range(len(spec.names))]
    blocks: list[list[FloatArray]] = [[np.ones(len(counts))] for _ in spec.names]
    offset = len(spec.names)
    for process, k in zip(spec.processes, sizes, strict=True):
        column = offset - len(spec.names)
        for parameter, sign in spec.scaled[process]:
            index[parameter].extend(range(offset, offset + k))
            blocks[parameter].extend(sign * values[column + j] for j in range(k))
        offset += k
    return Rows(
        stats=distinct[: len(stats)],
        weight=counts,
        n_groups=n_groups,
        entries=[np.asarray(i, dtype=np.int64) for i in index],
        designs=[np.vstack(b) for b in blocks],
    )


def by_groups(rows: Rows) -> bool:
    """Whether a group-by-group fit is the cheaper: few groups of many rows each."""
    return rows.n_groups * ROWS_PER_GROUP <= len(rows.weight)


def row_derivatives(
    rows: Rows, kernel: Callable[..., RowDerivatives], *, n_coefficients: int
) -> Callable[[FloatArray, FloatArray], tuple[float, FloatArray, FloatArray]]:
    """Log-likelihood with derivatives in phi, from per-row derivatives and the designs.

    Row i has log theta_ij = X_ij phi[entries_j] for each baseline parameter j; with
    g_ij, H_ijl the row's derivatives in log theta_i, the gradient is
    sum_j X_j' (w g_j) and the Hessian the sum of the matrix products
    X_j' diag(w H_jl) X_l over pairs of parameters: no loop over rows or groups.
    The products are einsum's own loops, not BLAS: a BLAS call starts threads, which
    on a busy machine costs more than these thin (a few columns) products.
    A parameter no covariate scales is one float for every row.
    """
    size = len(rows.designs) + n_coefficients
    n_rows = len(rows.weight)
    chunks = [slice(start, start + ROW_CHUNK) for start in range(0, n_rows, ROW_CHUNK)]

    def chunk_sums(
        phi: FloatArray, base: FloatArray, part: slice
    ) -> tuple[float, FloatArray, FloatArray]:
        w = rows.weight[part]
        designs = [design[:, part] for design in rows.designs]
        values = [
            np.exp(np.einsum("i,in->n", phi[index], design)) if len(index) > 1 else float(base[j])
            for j, (design, index) in enumerate(zip(designs, rows.entries, strict=True))
        ]
        d = kernel(tuple(values), *(stat[part] for stat in rows.stats))
        # In log theta: g_j theta_j, and H_jl theta_j theta_l (+ g_j theta_j where j = l).
        grad_log = [g * v for g, v in zip(d.gradient, values, strict=True)]
        grad = np.zeros(size)
        hess = np.zeros((size, size))
        for j, (design, index) in enumerate(zip(designs, rows.entries, strict=True)):
            grad[index] += np.einsum("in,n->i", design, w * grad_log[j])
        for (j, m), h in d.hessian.items():
            h_log = h * values[j] * values[m] + (grad_log[j] if j == m else 0.0)
            block = np.einsum("in,jn->ij", designs[j] * (w * h_log), designs[m])
            hess[np.ix_(rows.entries[j], rows.entries[m])] += block
            if j != m:
                hess[np.ix_(rows.entries[m], rows.entries[j])] += block.T
        return float(np.einsum("i,i->", w, d.value)), grad, hess

    def derivatives(base: FloatArray, gamma: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        phi = np.concatenate([np.log(base), gamma])
        value, grad, hess = 0.0, np.zeros(size), np.zeros((size, size))
        for part in chunks:  # blocks of rows that stay in cache, not a loop over rows
            v, g, h = chunk_sums(phi, base, part)
            value += v
            grad += g
            hess += h
        return value, grad, hess

    return derivatives


def fit_rows(
    spec: Spec,
    *,
    rows: Rows,
    kernel: Callable[..., RowDerivatives],
    start: Sequence[float],
    n_coefficients: int,
    penalizer: float,
    penalty_scale: Sequence[float],
    tol: float,
    max_iterations: int,
    owner: str,
) -> tuple[tuple[float, ...], tuple[float, ...], float, Matrix, ConvergenceReport]:
    """:func:`fit_coefficients` with the likelihood summed over rows by matrix products.

    The per-row kernel is evaluated once per step on every distinct row at its own
    parameters, so the cost does not grow with the number of distinct covariate
    vectors: a continuous covariate costs what a dummy does.
    """
    return _optimise(
        row_derivatives(rows, kernel, n_coefficients=n_coefficients),
        n_params=len(spec.names),
        start=start,
        n_coefficients=n_coefficients,
        total_weight=float(rows.weight.sum()),
        n_rows=len(rows.weight),
        penalizer=penalizer,
        penalty_scale=penalty_scale,
        tol=tol,
        max_iterations=max_iterations,
        owner=owner,
    )


def _optimise(
    log_derivatives: Callable[[FloatArray, FloatArray], tuple[float, FloatArray, FloatArray]],
    *,
    n_params: int,
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
    """Run :func:`~crmscore.clv._fitting.maximize` on derivatives in phi.

    maximize works on the logs of positive parameters; a coefficient enters it as
    exp(gamma), so its log is gamma itself.
    """

    def derivatives(theta: tuple[float, ...]) -> Derivatives:
        values = np.asarray(theta, dtype=np.float64)
        value, grad, hess = log_derivatives(values[:n_params], np.log(values[n_params:]))
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
