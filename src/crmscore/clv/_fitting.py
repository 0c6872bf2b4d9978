"""Shared machinery of the CLV fitters: input checks, compression, the optimiser.

Private: the public classes in :mod:`crmscore.clv.bgnbd` and
:mod:`crmscore.clv.gamma_gamma` call these helpers and own the documentation.
"""

from __future__ import annotations

import contextlib
import math
from numbers import Real
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._display import html_block, short_repr
from crmscore._progress import ProgressReporter, gradient_fraction
from crmscore._serialise import reads
from crmscore._validation import (
    FINITE,
    Interval,
    Optional,
    check_number,
    integer_at_least,
    non_negative_finite,
    optional_integer_at_least,
    to_float,
    validator,
)
from crmscore.errors import ConvergenceError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from crmscore.clv._kernels import Derivatives

FloatArray: TypeAlias = npt.NDArray[np.float64]
Matrix: TypeAlias = tuple[tuple[float, ...], ...]

__all__ = ["ConvergenceReport"]

#: Default convergence tolerance: largest gradient of the mean log-likelihood per
#: customer with respect to the log parameters.
DEFAULT_TOL = 1e-9
#: Default bound on optimiser iterations.
DEFAULT_MAX_ITERATIONS = 200
#: Fractions of a fit reported when the data are checked and compressed, and when
#: the optimiser has converged (the rest is the covariance and the fitted model).
#: Checking and compressing 1M customers took about a tenth of the fit's time.
PREPARED = 0.1
OPTIMISED = 0.95
#: A fit that meets its tolerance goes on with Newton steps while one would still
#: change a parameter by more than this, relative (log parameters): it pins the
#: optimum far below the 1e-8 by which fits from different starts may differ.
STEP_FLOOR = 1e-10


# --------------------------------------------------------------------------------------
# Validators shared by the settings and result classes
# --------------------------------------------------------------------------------------


#: Validators of float fields (finite and >= 0, or > 0) and of counts (>= 1).
positive_int = integer_at_least(1)

#: The confidence level of an interval.
_LEVEL = Interval(Real, 0, 1, closed="neither")
#: Validator of the optional customer count of a fitted model: None, or >= 1.
optional_positive_int = optional_integer_at_least(1)


def to_matrix(value: Any) -> Matrix | None:
    """Convert a nested sequence (or array) to a tuple of float tuples; None stays None."""
    if value is None:
        return None
    return tuple(tuple(float(v) for v in row) for row in value)


#: How far below 0 the smallest eigenvalue of a covariance may be, relative to the
#: largest: rounding in eigvalsh is about 1e-16 of the largest, so 1e-10 accepts
#: every matrix the fitters compute (inverses of a Cholesky factor) and rejects real
#: indefiniteness.
PSD_RTOL = 1e-10


def check_covariance(size: int) -> Callable[[object, attrs.Attribute[Any], Matrix | None], None]:
    """Build the validator of a covariance field: square, finite, symmetric, PSD.

    Positive semidefinite means eigenvalues >= -:data:`PSD_RTOL` times the largest.
    """

    def validate(instance: object, attribute: attrs.Attribute[Any], value: Matrix | None) -> None:
        if value is None:
            return
        array = np.asarray(value, dtype=np.float64)
        if (
            array.shape != (size, size)
            or not np.isfinite(array).all()
            or not np.allclose(array, array.T, rtol=1e-8, atol=0.0)
            or (np.diag(array) < 0).any()
        ):
            raise InvalidParameterError.for_value(
                name=attribute.name,
                owner=type(instance).__name__,
                allowed=f"a symmetric {size}x{size} matrix of finite numbers, or None",
                got=value,
            )
        eigenvalues = np.linalg.eigvalsh((array + array.T) / 2)
        if eigenvalues[0] < -PSD_RTOL * float(np.abs(eigenvalues).max()):
            raise InvalidParameterError.for_value(
                name=attribute.name,
                owner=type(instance).__name__,
                allowed=(
                    "positive semidefinite (a covariance matrix); its smallest eigenvalue "
                    f"is {eigenvalues[0]:.6g}"
                ),
                got=value,
            )

    return validate


#: Validate an optional float field: None, or a finite number (JSON has no NaN).
optional_finite = validator(Optional(FINITE))


# --------------------------------------------------------------------------------------
# The convergence report
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConvergenceReport:
    """What the optimiser did: enough to judge a fit, and JSON-safe.

    Examples
    --------
    >>> report = ConvergenceReport(converged=True, method="trust-exact", n_iterations=12,
    ...                            n_evaluations=13, gradient_norm=1e-11, n_rows=2357,
    ...                            message="ok")
    >>> ConvergenceReport.from_dict(report.to_dict()) == report
    True
    """

    converged: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    """Whether the optimiser met its tolerance."""

    method: str = attrs.field(validator=attrs.validators.instance_of(str))
    """The scipy.optimize method."""

    n_iterations: int = attrs.field(validator=attrs.validators.instance_of(int))
    """Iterations taken."""

    n_evaluations: int = attrs.field(validator=attrs.validators.instance_of(int))
    """Evaluations of the log-likelihood (each with its gradient and Hessian)."""

    gradient_norm: float = attrs.field(converter=to_float, validator=non_negative_finite)
    """Largest absolute gradient of the objective (mean log-likelihood per customer,
    plus the penalty) with respect to the log parameters, at the optimum."""

    n_rows: int = attrs.field(validator=attrs.validators.instance_of(int))
    """Distinct rows the likelihood was evaluated on (after compression)."""

    message: str = attrs.field(validator=attrs.validators.instance_of(str))
    """The optimiser's message."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return attrs.asdict(self)

    @classmethod
    @reads(
        "converged", "method", "n_iterations", "n_evaluations", "gradient_norm", "n_rows", "message"
    )
    def from_dict(cls, data: Mapping[str, Any]) -> ConvergenceReport:
        """Inverse of :meth:`to_dict`."""
        return cls(**{field.name: data[field.name] for field in attrs.fields(cls)})


# --------------------------------------------------------------------------------------
# Pieces shared by the fitted models and the fitters
# --------------------------------------------------------------------------------------


def standard_errors(covariance: Matrix | None, names: Sequence[str]) -> dict[str, float] | None:
    """Square roots of the covariance's diagonal, by parameter name (None without one)."""
    if covariance is None:
        return None
    return {name: math.sqrt(covariance[i][i]) for i, name in enumerate(names)}


def fit_result_to_dict(model: Any) -> dict[str, Any]:
    """Serialise the fields every fitted model has (parameters, statistics, report)."""
    return {
        "params": model.params.to_dict(),
        "covariance": None if model.covariance is None else [list(r) for r in model.covariance],
        "log_likelihood": model.log_likelihood,
        "n_customers": model.n_customers,
        "convergence": None if model.convergence is None else model.convergence.to_dict(),
    }


#: Keys of :func:`fit_result_to_dict` besides ``params`` (all optional when read).
FIT_RESULT_KEYS: tuple[str, ...] = ("covariance", "log_likelihood", "n_customers", "convergence")

#: Keys of :func:`settings_to_dict` (all optional when read: defaults if absent).
SETTINGS_KEYS: tuple[str, ...] = ("initial_params", "penalizer", "tol", "max_iterations")


def fit_result_from_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for a fitted model, except ``params``, from :func:`fit_result_to_dict`."""
    convergence = data.get("convergence")
    return {
        "covariance": data.get("covariance"),
        "log_likelihood": data.get("log_likelihood"),
        "n_customers": data.get("n_customers"),
        "convergence": None if convergence is None else ConvergenceReport.from_dict(convergence),
    }


def fitted_model_repr(model: Any) -> str:
    """Short repr of a fitted model: parameters, then what is known of the fit."""
    fields: list[tuple[str, object]] = list(model.params.to_dict().items())
    for name, value in (
        ("time_unit", getattr(model, "time_unit", None)),
        ("n_customers", model.n_customers),
        ("log_likelihood", model.log_likelihood),
        ("converged", None if model.convergence is None else model.convergence.converged),
    ):
        if value is not None:
            fields.append((name, value))
    return short_repr(type(model).__name__, fields)


def fitted_model_html(model: Any, *, title: str, facts: Sequence[tuple[str, Any]] = ()) -> str:
    """HTML summary of a fitted model: facts of the fit and :meth:`summary`'s table."""
    report = model.convergence
    known = [
        ("time unit", getattr(model, "time_unit", None)),
        ("customers", model.n_customers),
        ("log-likelihood", model.log_likelihood),
        (
            "optimiser",
            None
            if report is None
            else f"{report.method}: converged={report.converged} in {report.n_iterations} "
            f"iterations over {report.n_rows:,} distinct rows (largest gradient "
            f"{report.gradient_norm:.2g})",
        ),
    ]
    caption = (
        "Parameters: estimates, standard errors and 95% confidence intervals (Wald, log scale)"
        if model.covariance is not None
        else "Parameters (built from given values: no standard errors)"
    )
    return html_block(
        title,
        facts=[*((k, v) for k, v in known if v is not None), *facts],
        tables=[(caption, model.summary())],
    )


def settings_to_dict(fitter: Any) -> dict[str, Any]:
    """Serialise the settings every fitter has."""
    initial = fitter.initial_params
    return {
        "initial_params": None if initial is None else initial.to_dict(),
        "penalizer": fitter.penalizer,
        "tol": fitter.tol,
        "max_iterations": fitter.max_iterations,
    }


def settings_from_dict(data: Mapping[str, Any], params_type: Any) -> dict[str, Any]:
    """Keyword arguments for a fitter from :func:`settings_to_dict` (defaults if absent)."""
    initial = data.get("initial_params")
    return {
        "initial_params": None if initial is None else params_type.from_dict(initial),
        "penalizer": data.get("penalizer", 0.0),
        "tol": data.get("tol", DEFAULT_TOL),
        "max_iterations": data.get("max_iterations", DEFAULT_MAX_ITERATIONS),
    }


def lifetimes_class(name: str, *, owner: str) -> Any:
    """Import a fitter class of the optional *lifetimes* package, naming the extra if absent."""
    try:
        import lifetimes  # noqa: PLC0415 (optional extra, imported on use)
    except ImportError as exc:
        raise ImportError(
            f"{owner} needs the optional package lifetimes: pip install 'crmscore[lifetimes]'."
        ) from exc
    return getattr(lifetimes, name)


def lifetimes_params(
    fitter: Any, names: Sequence[str], *, owner: str, kind: str
) -> dict[str, float]:
    """Read the ``params_`` of a fitted lifetimes model, checking it has them."""
    params = getattr(fitter, "params_", None)
    if params is None:
        raise InvalidParameterError.for_value(
            name="fitter",
            owner=owner,
            allowed=f"a fitted lifetimes.{kind} (with params_)",
            got=type(fitter).__name__,
        )
    return {name: float(params[name]) for name in names}


def parameter_summary(
    estimates: Mapping[str, float], errors: Mapping[str, float] | None, *, level: object
) -> pd.DataFrame:
    """Estimates, standard errors and log-scale Wald intervals."""
    from scipy.stats import norm  # noqa: PLC0415 (only needed here)

    level = check_number(level, _LEVEL, name="level", owner="summary")
    names = list(estimates)
    estimate = np.array([estimates[k] for k in names])
    se = np.array([math.nan if errors is None else errors[k] for k in names])
    z = float(norm.ppf(0.5 + level / 2))
    spread = np.exp(z * se / estimate)
    return pd.DataFrame(
        {
            "estimate": estimate,
            "std_error": se,
            "lower": estimate / spread,
            "upper": estimate * spread,
        },
        index=pd.Index(names, name="parameter"),
    )


# --------------------------------------------------------------------------------------
# Compression into distinct rows
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Maximum likelihood on the log scale
# --------------------------------------------------------------------------------------


class _Objective:
    """Mean negative log-likelihood (plus an L2 penalty) of the log parameters.

    Caches the last evaluation, since scipy asks for value, gradient and Hessian at
    the same point separately.
    """

    def __init__(
        self,
        derivatives: Callable[[tuple[float, ...]], Derivatives],
        *,
        total_weight: float,
        penalizer: float,
        penalty_scale: FloatArray,
    ) -> None:
        self._derivatives = derivatives
        self._n = total_weight
        self._penalizer = penalizer
        self._scale2 = penalty_scale**2
        self._last: tuple[bytes, tuple[float, FloatArray, FloatArray]] | None = None
        self.evaluations = 0
        #: Largest absolute gradient at every point evaluated (for progress reports).
        self.gradient_norms: dict[bytes, float] = {}
        #: The model's own derivatives at every point evaluated, so that the
        #: covariance at the optimum needs no second evaluation there.
        self.derivatives: dict[bytes, Derivatives] = {}

    def _evaluate(self, log_theta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        key = log_theta.tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        self.evaluations += 1
        with np.errstate(all="ignore"):
            theta = np.exp(log_theta)
            # Where anything overflows the value is +inf, so scipy rejects the step; the
            # gradient and Hessian returned there are placeholders it never uses.
            unusable = (math.inf, np.zeros_like(theta), np.eye(theta.size))
            d = None
            if np.isfinite(theta).all() and (theta != 0).all():
                with contextlib.suppress(OverflowError):  # a Python float's ** raises, not inf
                    d = self._derivatives(tuple(float(v) for v in theta))
            if d is None:
                result = unusable
            else:
                self.derivatives[key] = d
                grad_log = theta * d.gradient
                hess_log = np.outer(theta, theta) * d.hessian + np.diag(grad_log)
                pen = self._penalizer * self._scale2 * theta**2
                value = -d.value / self._n + float(pen.sum())
                gradient = -grad_log / self._n + 2 * pen
                hessian = -hess_log / self._n + np.diag(4 * pen)
                finite = np.isfinite(gradient).all() and np.isfinite(hessian).all()
                result = (value, gradient, hessian) if finite and math.isfinite(value) else unusable
        self._last = (key, result)
        self.gradient_norms[key] = float(np.max(np.abs(result[1]), initial=0.0))
        return result

    def value(self, log_theta: FloatArray) -> float:
        return self._evaluate(log_theta)[0]

    def gradient(self, log_theta: FloatArray) -> FloatArray:
        return self._evaluate(log_theta)[1]

    def hessian(self, log_theta: FloatArray) -> FloatArray:
        return self._evaluate(log_theta)[2]


def _polish(
    objective: _Objective, log_theta: FloatArray, *, tol: float, max_steps: int
) -> tuple[FloatArray, float, int]:
    """Take full Newton steps while they shrink the gradient, until the optimum is pinned.

    Near the optimum the trust-region method can stop early because the predicted
    decrease of the objective is below its rounding noise; the gradient and Hessian
    are still accurate there, and Newton's method converges quadratically. Steps
    go on while the gradient is above ``tol`` or the Newton step would still move a
    parameter by more than :data:`STEP_FLOOR` relative: a gradient below ``tol`` alone
    leaves an ill-conditioned optimum uncertain to 1e-8 or so, and two fits from
    different starts (a review's warm start, a cold fit) would then differ. That
    last step costs one evaluation, and only where it is needed.
    """
    gradient = objective.gradient(log_theta)
    norm = float(np.max(np.abs(gradient)))
    steps = 0
    while steps < min(max_steps, 8) and math.isfinite(norm):
        try:
            step = np.linalg.solve(objective.hessian(log_theta), gradient)
        except np.linalg.LinAlgError:
            break
        if norm <= tol and not float(np.max(np.abs(step))) > STEP_FLOOR:
            break
        candidate = log_theta - step
        candidate_gradient = objective.gradient(candidate)
        candidate_norm = float(np.max(np.abs(candidate_gradient)))
        if not (math.isfinite(candidate_norm) and candidate_norm < norm):
            break
        log_theta, gradient, norm = candidate, candidate_gradient, candidate_norm
        steps += 1
    return log_theta, norm, steps


class _IterationReporter:
    """scipy's per-iteration callback: report the gradient's progress within a span.

    It reads the gradient norms the objective recorded when it evaluated each point,
    so reporting costs no evaluation and cannot change the fit.
    """

    def __init__(
        self,
        objective: _Objective,
        x0: FloatArray,
        *,
        tol: float,
        progress: ProgressReporter,
        span: tuple[float, float],
    ) -> None:
        self._norms = objective.gradient_norms
        self._start = self._norms.get(x0.tobytes(), math.inf)
        self._tol = tol
        self._progress = progress
        self._span = span

    def __call__(self, xk: FloatArray) -> None:
        norm = self._norms.get(np.asarray(xk, dtype=np.float64).tobytes())
        if norm is not None:
            low, high = self._span
            done = gradient_fraction(norm, start=self._start, tol=self._tol)
            self._progress.report(low + (high - low) * done)


@attrs.frozen(kw_only=True)
class Optimum:
    """Result of :func:`maximize`: natural parameters, fit statistics, report."""

    theta: tuple[float, ...]
    log_likelihood: float
    covariance: Matrix
    report: ConvergenceReport


def maximize(
    derivatives: Callable[[tuple[float, ...]], Derivatives],
    *,
    start: Sequence[float],
    total_weight: float,
    n_rows: int,
    penalizer: float,
    penalty_scale: Sequence[float],
    tol: float,
    max_iterations: int,
    owner: str,
    progress: ProgressReporter | None = None,
    progress_span: tuple[float, float] = (0.0, 1.0),
) -> Optimum:
    """Maximise a log-likelihood over positive parameters, on the log scale.

    Newton's method in a trust region (scipy's ``trust-exact``) with the analytic
    gradient and Hessian; it converges quadratically near the optimum, so a tight
    tolerance costs a few iterations. The covariance is the inverse of the observed
    information (the negative Hessian of the penalised log-likelihood in the natural
    parameters), which must be positive definite at a maximum.

    With ``progress``, every iteration reports how far the largest gradient has come
    down from its start towards ``tol`` (on the log scale), mapped into
    ``progress_span``; the reports never change what is computed.

    Raises
    ------
    ConvergenceError
        The optimiser did not meet ``tol`` within ``max_iterations``, or stopped where
        the observed information is not positive definite (not a strict maximum).
    """
    objective = _Objective(
        derivatives,
        total_weight=total_weight,
        penalizer=penalizer,
        penalty_scale=np.asarray(penalty_scale, dtype=np.float64),
    )
    x0 = np.log(np.asarray(start, dtype=np.float64))
    if not math.isfinite(objective.value(x0)):
        raise ConvergenceError(
            f"{owner} cannot start: the log-likelihood or its derivatives are not finite at "
            f"the initial parameters {list(start)}. Pass other initial_params."
        )
    callback: _IterationReporter | None = None
    if progress is not None and progress.active:
        callback = _IterationReporter(objective, x0, tol=tol, progress=progress, span=progress_span)
    # scipy.optimize is imported by a fit, not by `import crmscore` (issue 19).
    from scipy.optimize import minimize  # noqa: PLC0415

    try:
        result = minimize(
            objective.value,
            x0,
            jac=objective.gradient,
            hess=objective.hessian,
            method="trust-exact",
            options={"gtol": tol, "maxiter": max_iterations},
            callback=callback,
        )
    except (ValueError, np.linalg.LinAlgError) as exc:  # a degenerate Hessian on the way
        raise ConvergenceError(
            f"{owner} did not converge: the optimiser failed ({exc}). The data may not "
            "identify the parameters; a small penalizer keeps them finite."
        ) from exc
    log_theta = np.asarray(result.x, dtype=np.float64)
    log_theta, gradient_norm, polished = _polish(
        objective, log_theta, tol=tol, max_steps=max(max_iterations - int(result.nit), 0)
    )
    if not (math.isfinite(gradient_norm) and gradient_norm <= tol):
        raise ConvergenceError(
            f"{owner} did not converge: {result.message} after {result.nit} iterations "
            f"(largest gradient {gradient_norm:.3g}, tolerance {tol:.3g}, parameters "
            f"{np.exp(log_theta).tolist()}). Try other initial_params, a larger "
            "max_iterations or tol, or a small penalizer."
        )
    if progress is not None:
        progress.report(progress_span[1])
    with np.errstate(all="ignore"):  # a degenerate optimum is reported below, not warned
        theta = np.exp(log_theta)
        degenerate = not (np.isfinite(theta).all() and (theta > 0).all())
        information = np.full((theta.size, theta.size), np.nan)
        if not degenerate:
            known = objective.derivatives.get(log_theta.tobytes())
            try:
                d = known if known is not None else derivatives(tuple(float(v) for v in theta))
            except OverflowError:  # as in _Objective: no information there (reported below)
                degenerate = True
        if not degenerate:
            information = -d.hessian + np.diag(
                2 * penalizer * total_weight * np.asarray(penalty_scale, dtype=np.float64) ** 2
            )
    cholesky = None
    if np.isfinite(information).all():
        try:
            cholesky = np.linalg.cholesky(information)
        except np.linalg.LinAlgError:
            cholesky = None
    if cholesky is None or not np.isfinite(cholesky).all():
        raise ConvergenceError(
            f"{owner} stopped at parameters {theta.tolist()} where the observed information "
            "is not positive definite: the data do not identify the parameters (a "
            "parameter runs to 0 or infinity). A small penalizer keeps them finite."
        )
    inverse = np.linalg.inv(cholesky)
    covariance = inverse.T @ inverse
    covariance = (covariance + covariance.T) / 2
    report = ConvergenceReport(
        converged=True,
        method="trust-exact",
        n_iterations=int(result.nit) + polished,
        n_evaluations=objective.evaluations,
        gradient_norm=gradient_norm,
        n_rows=n_rows,
        message=str(result.message) + (f" Then {polished} Newton step(s)." if polished else ""),
    )
    return Optimum(
        theta=tuple(float(v) for v in theta),
        log_likelihood=d.value,
        covariance=to_matrix(covariance) or (),
        report=report,
    )
