"""The per-row path of the covariate BG/NBD and Gamma-Gamma fits.

Per-row derivatives against finite differences and against the plain models'
per-customer likelihoods; the row path against the group path (one plain kernel
call per distinct covariate vector) at the same parameters and at the optimum;
recovery of a continuous covariate's coefficients from simulated data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import polygamma

from crmscore import (
    BetaGeoCovariateFitter,
    BetaGeoParams,
    GammaGammaCovariateFitter,
    GammaGammaParams,
)
from crmscore.clv import _kernels
from crmscore.clv.covariates import _estimation as est
from crmscore.clv.covariates._rows import RowDerivatives, bgnbd_rows, gg_rows, trigamma

BG_TRUTH = BetaGeoParams(r=0.8, alpha=6.0, a=0.9, b=3.0)
GG_TRUTH = GammaGammaParams(p=6.0, q=4.0, v=15.0)


def simulate_bgnbd(n: int, *, trans: float, life: float, seed: int) -> pd.DataFrame:
    """BG/NBD histories with alpha_i = alpha e^{-trans score}, (a_i, b_i) = (a, b) e^{life score}.

    ``score`` is standard normal (every customer its own covariate value); the
    simulation is that of tests/test_clv_covariates.py (x = min(N, J), N Poisson
    opportunities, J geometric), with whole-period recencies.
    """
    rng = np.random.default_rng(seed)
    score = rng.standard_normal(n)
    web = rng.integers(0, 2, n).astype(np.float64)
    p0 = BG_TRUTH
    lam = rng.gamma(p0.r, 1.0 / (p0.alpha * np.exp(-trans * score - 0.4 * web)))
    scale = np.exp(life * score)
    p = rng.beta(p0.a * scale, p0.b * scale)
    age = rng.integers(20, 61, n).astype(np.float64)
    count = rng.poisson(lam * age)
    x = np.minimum(count, rng.geometric(p))
    safe = np.maximum(x, 1)
    last = age * rng.beta(safe, np.maximum(count - safe + 1, 1))
    recency = np.where(x > 0, np.round(last), 0.0)
    return pd.DataFrame({"frequency": x, "recency": recency, "T": age, "score": score, "web": web})


def simulate_spend(n: int, *, spend: float, seed: int) -> pd.DataFrame:
    """Mean spends with nu ~ Gamma(q, v e^{spend score}), score standard normal."""
    rng = np.random.default_rng(seed)
    score = rng.standard_normal(n)
    x = rng.integers(1, 8, n).astype(np.float64)
    nu = rng.gamma(GG_TRUTH.q, 1.0 / (GG_TRUTH.v * np.exp(spend * score)))
    m = rng.gamma(GG_TRUTH.p * x, 1.0 / nu) / x
    return pd.DataFrame({"frequency": x, "monetary_value": m, "score": score})


# --- the fast trigamma ----------------------------------------------------------------


def test_trigamma_matches_scipy() -> None:
    values = np.concatenate([np.geomspace(1e-8, 1e8, 2000), np.linspace(0.01, 40.0, 2000)])
    np.testing.assert_allclose(trigamma(values), polygamma(1, values), rtol=5e-15)
    assert float(trigamma(1.0)) == pytest.approx(np.pi**2 / 6, rel=1e-15)


# --- per-row derivatives ----------------------------------------------------------------


def bg_rows_data(n: int, seed: int) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, n).astype(np.float64)
    age = rng.integers(5, 40, n).astype(np.float64)
    tx = np.where(x > 0, np.floor(age * rng.uniform(0.1, 1.0, n)), 0.0)
    theta = (
        0.7,
        rng.uniform(2.0, 9.0, n),
        rng.uniform(0.4, 1.5, n),
        rng.uniform(1.0, 5.0, n),
    )
    return theta, (x, tx, age)


def gg_rows_data(n: int, seed: int) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 8, n).astype(np.float64)
    m = rng.gamma(4.0, 10.0, n)
    return (5.0, 3.5, rng.uniform(5.0, 30.0, n)), (x, m)


CASES = [
    pytest.param(bgnbd_rows, *bg_rows_data(40, 1), id="bgnbd"),
    pytest.param(gg_rows, *gg_rows_data(40, 2), id="gamma-gamma"),
]


def full(d: RowDerivatives, size: int) -> tuple[Any, Any]:
    grad = np.column_stack(d.gradient)
    hess = np.zeros((len(d.value), size, size))
    for (i, j), h in d.hessian.items():
        hess[:, i, j] = hess[:, j, i] = h
    return grad, hess


@pytest.mark.parametrize(("kernel", "theta", "stats"), CASES)
def test_row_derivatives_match_finite_differences(
    kernel: Any, theta: tuple[Any, ...], stats: tuple[Any, ...]
) -> None:
    """Central differences of each row's value and gradient, one parameter at a time."""
    size = len(theta)
    n = len(stats[0])
    rows = [np.broadcast_to(np.asarray(t, dtype=np.float64), (n,)).copy() for t in theta]
    grad, hess = full(kernel(tuple(rows), *stats), size)
    for j in range(size):
        step = 1e-6 * rows[j]
        up = [r + step if i == j else r for i, r in enumerate(rows)]
        down = [r - step if i == j else r for i, r in enumerate(rows)]
        d_up, d_down = kernel(tuple(up), *stats), kernel(tuple(down), *stats)
        numeric = (d_up.value - d_down.value) / (2 * step)
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-6, atol=1e-8)
        numeric_hess = (full(d_up, size)[0] - full(d_down, size)[0]) / (2 * step)[:, None]
        np.testing.assert_allclose(hess[:, :, j], numeric_hess, rtol=1e-5, atol=1e-7)


def test_row_values_are_the_plain_models_per_customer_likelihoods() -> None:
    theta, (x, tx, age) = bg_rows_data(60, 3)
    for i in (0, 7, 31):
        point = (theta[0], theta[1][i], theta[2][i], theta[3][i])
        rows = bgnbd_rows(point, x, tx, age)
        plain = _kernels.bgnbd_log_likelihood(point, x, tx, age)
        np.testing.assert_allclose(rows.value, plain, rtol=1e-13)
        # ... and the sums are the plain kernel's (weights 1).
        d = _kernels.bgnbd_derivatives(point, _kernels.prepare_bgnbd(x, tx, age, np.ones(60)))
        grad, hess = full(rows, 4)
        np.testing.assert_allclose(grad.sum(axis=0), d.gradient, rtol=1e-11)
        np.testing.assert_allclose(hess.sum(axis=0), d.hessian, rtol=1e-11)
    gg_theta, (xs, m) = gg_rows_data(60, 4)
    spend_point = (gg_theta[0], gg_theta[1], float(gg_theta[2][5]))
    rows = gg_rows(spend_point, xs, m)
    plain_spend = _kernels.gg_log_likelihood(spend_point, xs, m)
    np.testing.assert_allclose(rows.value, plain_spend, rtol=1e-13)
    d = _kernels.gg_derivatives(spend_point, xs, m, np.ones(60))
    grad, hess = full(rows, 3)
    np.testing.assert_allclose(grad.sum(axis=0), d.gradient, rtol=1e-11)
    np.testing.assert_allclose(hess.sum(axis=0), d.hessian, rtol=1e-11)


# --- the row path is the group path ---------------------------------------------------


def bg_inputs(n: int, seed: int) -> tuple[list[Any], dict[str, Any]]:
    table = simulate_bgnbd(n, trans=0.5, life=-0.4, seed=seed)
    # Few distinct values (so that the group path stays quick), some rows repeated.
    table["score"] = np.round(table["score"], 1)
    stats = [table[c].to_numpy(np.float64) for c in ("frequency", "recency", "T")]
    z = {
        "trans": table[["score", "web"]].to_numpy(),
        "life": table[["score"]].to_numpy(),
    }
    return stats, z


def gg_inputs(n: int, seed: int) -> tuple[list[Any], dict[str, Any]]:
    table = simulate_spend(n, spend=0.3, seed=seed)
    table["score"] = np.round(table["score"], 1)
    table["web"] = (table.index % 3 == 0).astype(np.float64)
    stats = [table[c].to_numpy(np.float64) for c in ("frequency", "monetary_value")]
    return stats, {"spend": table[["score", "web"]].to_numpy()}


def both_paths(spec: est.Spec, stats: list[Any], z: dict[str, Any]) -> tuple[Any, Any]:
    n_coefficients = sum(v.shape[1] for v in z.values())
    if spec is est.BGNBD_SPEC:
        groups, *_ = est.group_by_covariates(
            spec,
            stats,
            z,
            lambda s, w: _kernels.prepare_bgnbd(s[0], s[1], s[2], w),
            owner="test",
            stacklevel=1,
        )
        grouped = est.group_derivatives(
            spec, groups, _kernels.bgnbd_derivatives, n_coefficients=n_coefficients
        )
        kernel: Any = bgnbd_rows
    else:
        groups, *_ = est.group_by_covariates(
            spec, stats, z, lambda s, w: (s[0], s[1], w), owner="test", stacklevel=1
        )
        grouped = est.group_derivatives(
            spec,
            groups,
            lambda theta, data: _kernels.gg_derivatives(theta, *data),
            n_coefficients=n_coefficients,
        )
        kernel = gg_rows
    rows = est.rows_by_covariates(spec, stats, z)
    return grouped, est.row_derivatives(rows, kernel, n_coefficients=n_coefficients)


@pytest.mark.parametrize(
    ("spec", "inputs", "base"),
    [
        pytest.param(est.BGNBD_SPEC, bg_inputs(1500, 5), [0.8, 6.0, 0.9, 3.0], id="bgnbd"),
        pytest.param(est.GG_SPEC, gg_inputs(1500, 6), [6.0, 4.0, 15.0], id="gamma-gamma"),
    ],
)
def test_row_path_equals_group_path(spec: est.Spec, inputs: Any, base: list[float]) -> None:
    stats, z = inputs
    grouped, by_rows = both_paths(spec, stats, z)
    rng = np.random.default_rng(7)
    n_coefficients = sum(v.shape[1] for v in z.values())
    for gamma in (np.zeros(n_coefficients), rng.normal(0.0, 0.5, n_coefficients)):
        point = np.asarray(base) * rng.uniform(0.7, 1.3, len(base))
        value_g, grad_g, hess_g = grouped(point, gamma)
        value_r, grad_r, hess_r = by_rows(point, gamma)
        assert value_r == pytest.approx(value_g, rel=1e-12)
        scale = float(np.abs(hess_g).max())
        np.testing.assert_allclose(grad_r, grad_g, rtol=1e-10, atol=1e-10 * scale)
        np.testing.assert_allclose(hess_r, hess_g, rtol=1e-10, atol=1e-10 * scale)


def test_row_fit_equals_group_fit() -> None:
    """At the optimum too: the same estimates and covariance from either path."""
    stats, z = bg_inputs(1500, 8)
    grouped, by_rows = both_paths(est.BGNBD_SPEC, stats, z)
    rows = est.rows_by_covariates(est.BGNBD_SPEC, stats, z)
    settings: dict[str, Any] = {
        "n_params": 4,
        "start": [1.0, 5.0, 1.0, 1.0],
        "n_coefficients": 3,
        "total_weight": float(rows.weight.sum()),
        "n_rows": len(rows.weight),
        "penalizer": 0.0,
        "penalty_scale": [1.0] * 4,
        "tol": 1e-9,
        "max_iterations": 200,
        "owner": "test",
    }
    fit_g = est._optimise(grouped, **settings)
    fit_r = est._optimise(by_rows, **settings)
    np.testing.assert_allclose(fit_r[0], fit_g[0], rtol=1e-10)
    np.testing.assert_allclose(fit_r[1], fit_g[1], rtol=1e-10, atol=1e-12)
    assert fit_r[2] == pytest.approx(fit_g[2], rel=1e-12)
    np.testing.assert_allclose(np.asarray(fit_r[3]), np.asarray(fit_g[3]), rtol=1e-8)


# --- recovery with a continuous covariate ---------------------------------------------


def within(model: Any, truth: dict[str, float]) -> None:
    errors = model.standard_errors
    estimates = {**model.params.to_dict()}
    values = (
        list(model.spend_gamma)
        if hasattr(model, "spend_gamma")
        else [*model.trans_gamma, *model.life_gamma]
    )
    estimates.update(zip(model.coefficient_names, values, strict=True))
    for name, value in truth.items():
        assert abs(estimates[name] - value) < 4 * errors[name], (name, estimates[name], value)


def test_bgnbd_recovers_a_continuous_covariate_without_warning() -> None:
    table = simulate_bgnbd(6000, trans=0.5, life=-0.4, seed=9)
    fitter = BetaGeoCovariateFitter(trans_covariates=["score", "web"], life_covariates=["score"])
    model = fitter.fit(table)  # 6,000 distinct covariate vectors: no warning (-W error)
    assert model.convergence is not None
    assert model.convergence.converged
    within(
        model,
        {**BG_TRUTH.to_dict(), "trans.score": 0.5, "trans.web": 0.4, "life.score": -0.4},
    )
    assert model.standard_errors is not None
    assert model.standard_errors["trans.score"] < 0.1


def test_spend_recovers_a_continuous_covariate() -> None:
    table = simulate_spend(4000, spend=0.3, seed=10)
    model = GammaGammaCovariateFitter(spend_covariates=["score"]).fit(table)
    within(model, {**GG_TRUTH.to_dict(), "spend.score": 0.3})
    assert model.standard_errors is not None
    assert model.standard_errors["spend.score"] < 0.05
