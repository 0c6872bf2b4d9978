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


def _objective(x: FloatArray, y: FloatArray, beta: FloatArray, penalty: float) -> float:
    eta = beta[0] + x @ beta[1:]
    loglik = float(np.sum(y * log_expit(eta) + (1 - y) * log_expit(-eta)))
    return -loglik + 0.5 * penalty * float(beta[1:] @ beta[1:])


def fit_logistic(
    x: FloatArray, y: FloatArray, *, penalty: float, tol: float = 1e-10, max_iterations: int = 100
) -> LogisticFit:
    """Minimise ``-loglik(beta) + penalty / 2 * ||beta[1:]||^2`` (intercept not penalised).

    This is scikit-learn's ``LogisticRegression(C=1 / penalty)`` objective. Newton
    steps are halved while they fail to decrease the objective; convergence is a
    largest absolute step below ``tol``. The covariance is the inverse of the
    penalised Hessian at the optimum.
    """
    n, p = x.shape
    beta = np.zeros(p + 1)
    mean = float(np.clip(y.mean(), 1e-9, 1 - 1e-9)) if n else 0.5
    beta[0] = np.log(mean / (1 - mean))
    ridge = np.full(p + 1, penalty)
    ridge[0] = 0.0
    current = _objective(x, y, beta, penalty)
    converged = False
    iteration = 0
    hessian = np.eye(p + 1)
    for iteration in range(1, max_iterations + 1):  # noqa: B007 (reported below)
        prob = expit(beta[0] + x @ beta[1:])
        weight = prob * (1 - prob)
        residual = y - prob
        gradient = np.empty(p + 1)
        gradient[0] = residual.sum()
        gradient[1:] = x.T @ residual
        gradient -= ridge * beta
        hessian = np.empty((p + 1, p + 1))
        hessian[0, 0] = weight.sum()
        weighted = x * weight[:, None]
        hessian[0, 1:] = hessian[1:, 0] = weighted.sum(axis=0)
        hessian[1:, 1:] = x.T @ weighted
        hessian[np.diag_indices(p + 1)] += ridge
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while True:
            trial = beta + scale * step
            value = _objective(x, y, trial, penalty)
            if value <= current + 1e-12 * abs(current) or scale < 1e-8:
                break
            scale /= 2
        beta, current = trial, value
        if np.max(np.abs(scale * step)) < tol:
            converged = True
            break
    prob = expit(beta[0] + x @ beta[1:])
    weight = prob * (1 - prob)
    full = np.column_stack([np.ones(n), x])
    hessian = full.T @ (full * weight[:, None])
    hessian[np.diag_indices(p + 1)] += ridge
    covariance = np.linalg.inv(hessian)
    return LogisticFit(beta, covariance, iteration, converged, current)
