"""L2-penalised logistic regression by Newton's method (IRLS), numpy only (private)."""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy.special import expit, log_expit

__all__ = ["LogisticFit", "fit_logistic"]

FloatArray: TypeAlias = npt.NDArray[np.float64]


class LogisticFit(NamedTuple):
    """Intercept first, then one coefficient per column; covariance of the same order."""

    beta: FloatArray
    covariance: FloatArray
    n_iterations: int
    converged: bool
    objective: float


#: Above this many rows, Newton's method starts from the optimum on a systematic
#: subsample (every k-th row, penalty scaled by the sampling fraction): the full-data
#: iterations that follow, usually one or two, are what converges.
WARM_START_ROWS = 200_000


def _objective_t(xt: FloatArray, y: FloatArray, beta: FloatArray, penalty: float) -> float:
    eta = beta[0] + beta[1:] @ xt
    # y log(p) + (1 - y) log(1 - p) = log expit(+-eta), the sign by the 0/1 label.
    loglik = float(np.sum(log_expit(np.where(y > 0, eta, -eta))))
    return -loglik + 0.5 * penalty * float(beta[1:] @ beta[1:])


def _hessian(
    xt: FloatArray, weight: FloatArray, ridge: FloatArray, *, single: npt.NDArray[np.float32] | None
) -> FloatArray:
    """Penalised Hessian ``[1 X]' W [1 X] + diag(ridge)`` from the transposed design.

    With ``single`` (the design in float32) the cross-products are computed in single
    precision: the Newton direction is then approximate to about 1e-6, which costs at
    most an iteration, while the gradient (and so the optimum) stays in double.
    """
    p = xt.shape[0]
    hessian = np.empty((p + 1, p + 1))
    hessian[0, 0] = weight.sum()
    hessian[0, 1:] = hessian[1:, 0] = xt @ weight
    if single is None:
        z = xt * np.sqrt(weight)
        hessian[1:, 1:] = z @ z.T
    else:
        z32 = single * np.sqrt(weight).astype(np.float32)
        hessian[1:, 1:] = (z32 @ z32.T).astype(np.float64)
    hessian[np.diag_indices(p + 1)] += ridge
    return hessian


def fit_logistic(
    x: FloatArray,
    y: FloatArray,
    *,
    penalty: float,
    tol: float = 1e-10,
    max_iterations: int = 100,
    start: FloatArray | None = None,
) -> LogisticFit:
    """Minimise ``-loglik(beta) + penalty / 2 * ||beta[1:]||^2`` (intercept not penalised).

    This is scikit-learn's ``LogisticRegression(C=1 / penalty)`` objective. Newton
    steps are halved while they fail to decrease the objective; convergence is a
    largest absolute step below ``tol``. The covariance is the inverse of the
    penalised Hessian at the optimum. Large problems start from the optimum of a
    systematic subsample (:data:`WARM_START_ROWS`); the result is the full-data
    optimum either way.
    """
    n, p = x.shape
    if start is None and n > 2 * WARM_START_ROWS:
        step = n // WARM_START_ROWS
        warm = fit_logistic(x[::step], y[::step], penalty=penalty * len(y[::step]) / n, tol=1e-6)
        start = warm.beta
    xt = np.ascontiguousarray(x.T)
    single = xt.astype(np.float32) if n > 2 * WARM_START_ROWS else None
    beta = np.zeros(p + 1)
    if start is not None:
        beta[:] = start
    else:
        mean = float(np.clip(y.mean(), 1e-9, 1 - 1e-9)) if n else 0.5
        beta[0] = np.log(mean / (1 - mean))
    ridge = np.full(p + 1, penalty)
    ridge[0] = 0.0
    current = _objective_t(xt, y, beta, penalty)
    converged = False
    iteration = 0
    hessian = np.eye(p + 1)
    for iteration in range(1, max_iterations + 1):  # noqa: B007 (reported below)
        prob = expit(beta[0] + beta[1:] @ xt)
        residual = y - prob
        gradient = np.empty(p + 1)
        gradient[0] = residual.sum()
        gradient[1:] = xt @ residual
        gradient -= ridge * beta
        hessian = _hessian(xt, prob * (1 - prob), ridge, single=single)
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while True:
            trial = beta + scale * step
            value = _objective_t(xt, y, trial, penalty)
            if value <= current + 1e-12 * abs(current) or scale < 1e-8:
                break
            scale /= 2
        beta, current = trial, value
        if np.max(np.abs(scale * step)) < tol:
            converged = True
            break
    if not converged or single is not None:
        prob = expit(beta[0] + beta[1:] @ xt)
        hessian = _hessian(xt, prob * (1 - prob), ridge, single=None)
    # At convergence the last step was below tol: the Hessian it was solved with is
    # the Hessian at the optimum to within that step.
    covariance: FloatArray = np.linalg.inv(hessian).astype(np.float64)
    return LogisticFit(beta, covariance, iteration, converged, current)
