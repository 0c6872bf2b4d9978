"""Covariate BG/NBD, Pareto/NBD, Gamma-Gamma: reduction, recovery, derivatives, checks."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crmscore import (
    BetaGeoCovariateFitter,
    BetaGeoCovariateModel,
    BetaGeoFitter,
    BetaGeoModel,
    BetaGeoParams,
    ColumnNotFoundError,
    ConvergenceError,
    GammaGammaCovariateFitter,
    GammaGammaCovariateModel,
    GammaGammaFitter,
    GammaGammaModel,
    GammaGammaParams,
    InvalidDataError,
    InvalidParameterError,
    ParetoNBDCovariateFitter,
    ParetoNBDCovariateModel,
    ParetoNBDFitter,
    ParetoNBDParams,
    customer_lifetime_value,
    make_rfm_summary,
    predict_intervals,
)
from crmscore.clv.covariates import _estimation as estimation

# --- simulation from known parameters ---------------------------------------------------


def dummies(rng: np.random.Generator, n: int) -> tuple[Any, Any]:
    return rng.integers(0, 2, n).astype(np.float64), rng.integers(0, 2, n).astype(np.float64)


def simulate_bgnbd(
    params: BetaGeoParams, n: int, *, trans: float, life: float, seed: int
) -> pd.DataFrame:
    """BG/NBD histories with alpha_i = alpha e^{-trans web}, (a_i, b_i) = (a, b) e^{life north}.

    x = min(N, J), N ~ Poisson(lambda T) purchase opportunities, J ~ Geometric(p) the
    purchase after which the customer drops out; t_x = T Beta(x, N - x + 1) (the x-th
    of N uniform times), rounded to whole periods so that rows repeat.
    """
    rng = np.random.default_rng(seed)
    web, north = dummies(rng, n)
    lam = rng.gamma(params.r, 1.0 / (params.alpha * np.exp(-trans * web)))
    scale = np.exp(life * north)
    p = rng.beta(params.a * scale, params.b * scale)
    age = rng.integers(20, 61, n).astype(np.float64)
    count = rng.poisson(lam * age)
    x = np.minimum(count, rng.geometric(p))
    safe = np.maximum(x, 1)
    last = age * rng.beta(safe, np.maximum(count - safe + 1, 1))
    recency = np.where(x > 0, np.round(last), 0.0)
    return pd.DataFrame({"frequency": x, "recency": recency, "T": age, "web": web, "north": north})


def simulate_pareto(
    params: ParetoNBDParams, n: int, *, trans: float, life: float, seed: int
) -> pd.DataFrame:
    """Pareto/NBD histories with alpha_i = alpha e^{-trans web}, beta_i = beta e^{-life north}.

    Poisson purchases until an exponential lifetime ends; whole-week ages and
    recencies, so the likelihood's pairs repeat and the fit stays quick.
    """
    rng = np.random.default_rng(seed)
    web, north = dummies(rng, n)
    lam = rng.gamma(params.r, 1.0 / (params.alpha * np.exp(-trans * web)))
    mu = rng.gamma(params.s, 1.0 / (params.beta * np.exp(-life * north)))
    age = rng.integers(20, 61, n).astype(np.float64)
    active = np.minimum(rng.exponential(1.0 / mu), age)
    x = rng.poisson(lam * active)
    recency = np.where(x > 0, np.round(active * rng.beta(np.maximum(x, 1), 1.0)), 0.0)
    return pd.DataFrame({"frequency": x, "recency": recency, "T": age, "web": web, "north": north})


def simulate_spend(params: GammaGammaParams, n: int, *, spend: float, seed: int) -> pd.DataFrame:
    """Mean spends of x purchases: nu ~ Gamma(q, v e^{spend web}), z ~ Gamma(p x, nu) / x."""
    rng = np.random.default_rng(seed)
    web, _ = dummies(rng, n)
    x = rng.integers(1, 8, n).astype(np.float64)
    nu = rng.gamma(params.q, 1.0 / (params.v * np.exp(spend * web)))
    m = rng.gamma(params.p * x, 1.0 / nu) / x
    return pd.DataFrame({"frequency": x, "monetary_value": m, "web": web})


def assert_recovered(model: Any, truth: dict[str, float]) -> None:
    """Every estimate within 4 standard errors of the truth; the coefficients' errors small."""
    errors = model.standard_errors
    estimates = {**model.params.to_dict()}
    estimates.update(zip(model.coefficient_names, coefficients(model), strict=True))
    for name, value in truth.items():
        assert abs(estimates[name] - value) < 4 * errors[name], (name, estimates[name], value)
        if "." in name:  # a coefficient: its error well below its size
            assert errors[name] < 0.3 * abs(value), name


def coefficients(model: Any) -> list[float]:
    if isinstance(model, GammaGammaCovariateModel):
        return list(model.spend_gamma)
    return [*model.trans_gamma, *model.life_gamma]


BG_TRUTH = BetaGeoParams(r=0.8, alpha=6.0, a=0.9, b=3.0)
PARETO_TRUTH = ParetoNBDParams(r=0.8, alpha=8.0, s=0.9, beta=15.0)
GG_TRUTH = GammaGammaParams(p=6.0, q=4.0, v=15.0)


@pytest.fixture(scope="module")
def bg_table() -> pd.DataFrame:
    return simulate_bgnbd(BG_TRUTH, 8000, trans=0.6, life=-0.5, seed=11)


@pytest.fixture(scope="module")
def bg_model(bg_table: pd.DataFrame) -> BetaGeoCovariateModel:
    fitter = BetaGeoCovariateFitter(trans_covariates=["web"], life_covariates=["north"])
    return fitter.fit(bg_table, time_unit="W")


# --- the special case z = 0: the fitters without covariates ----------------------------


def assert_same_fit(ours: Any, theirs: Any) -> None:
    for name, value in theirs.params.to_dict().items():
        assert ours.params.to_dict()[name] == pytest.approx(value, rel=1e-8)
    np.testing.assert_allclose(
        np.asarray(ours.covariance), np.asarray(theirs.covariance), rtol=1e-8
    )
    assert ours.log_likelihood == pytest.approx(theirs.log_likelihood, rel=1e-12)
    assert ours.n_customers == theirs.n_customers


def test_without_covariates_bgnbd_is_beta_geo_fitter(bg_table: pd.DataFrame) -> None:
    ours = BetaGeoCovariateFitter().fit(bg_table)
    assert_same_fit(ours, BetaGeoFitter().fit(bg_table))
    assert ours.coefficient_names == ()


def test_without_covariates_pareto_is_pareto_fitter() -> None:
    table = simulate_pareto(PARETO_TRUTH, 1000, trans=0.0, life=0.0, seed=3)
    assert_same_fit(ParetoNBDCovariateFitter().fit(table), ParetoNBDFitter().fit(table))


def test_without_covariates_spend_is_gamma_gamma_fitter() -> None:
    table = simulate_spend(GG_TRUTH, 3000, spend=0.0, seed=4)
    assert_same_fit(GammaGammaCovariateFitter().fit(table), GammaGammaFitter().fit(table))


def test_zero_coefficients_predict_as_the_model_without_covariates(
    bg_table: pd.DataFrame,
) -> None:
    params = BetaGeoParams(r=0.24, alpha=4.4, a=0.79, b=2.4)
    ours = BetaGeoCovariateModel(
        params=params, trans_covariates=["web"], trans_gamma=[0.0], time_unit="W"
    )
    theirs = BetaGeoModel.from_params(params, time_unit="W")
    pd.testing.assert_series_equal(
        ours.expected_purchases(bg_table, t=10), theirs.expected_purchases(bg_table, t=10)
    )
    pd.testing.assert_series_equal(
        ours.probability_alive(bg_table), theirs.probability_alive(bg_table)
    )


# --- parameter recovery on simulated data -----------------------------------------------


def test_bgnbd_recovers_simulated_coefficients(bg_model: BetaGeoCovariateModel) -> None:
    truth = {**BG_TRUTH.to_dict(), "trans.web": 0.6, "life.north": -0.5}
    assert_recovered(bg_model, truth)
    assert bg_model.convergence is not None
    assert bg_model.convergence.converged


def test_pareto_recovers_simulated_coefficients() -> None:
    table = simulate_pareto(PARETO_TRUTH, 4000, trans=0.5, life=-0.6, seed=7)
    fitter = ParetoNBDCovariateFitter(trans_covariates=["web"], life_covariates=["north"])
    model = fitter.fit(table)
    assert_recovered(model, {**PARETO_TRUTH.to_dict(), "trans.web": 0.5, "life.north": -0.6})


def test_spend_recovers_simulated_coefficient() -> None:
    table = simulate_spend(GG_TRUTH, 6000, spend=0.4, seed=8)
    model = GammaGammaCovariateFitter(spend_covariates=["web"]).fit(table)
    assert_recovered(model, {**GG_TRUTH.to_dict(), "spend.web": 0.4})


def test_row_order_and_a_column_in_both_processes(bg_table: pd.DataFrame) -> None:
    """Shuffled rows give the same fit; one column may move both processes."""
    fitter = BetaGeoCovariateFitter(trans_covariates=["web"], life_covariates=["web", "north"])
    table = bg_table.iloc[:3000]
    model = fitter.fit(table)
    again = fitter.fit(table.sample(frac=1.0, random_state=np.random.default_rng(1)))
    assert model.coefficient_names == ("trans.web", "life.web", "life.north")
    for name, value in model.params.to_dict().items():
        assert again.params.to_dict()[name] == pytest.approx(value, rel=1e-9)
    np.testing.assert_allclose(again.life_gamma, model.life_gamma, rtol=1e-8, atol=1e-10)


# --- the likelihood and its derivatives, from the models without covariates -------------


def total_log_likelihood(model: BetaGeoCovariateModel, groups: list[pd.DataFrame]) -> float:
    """Sum over customers of the BG/NBD log-likelihood at each one's own parameters.

    ``groups`` split the customers by covariate values (one set of parameters each).
    """
    total = 0.0
    for rows in groups:
        own = model.individual_params(rows.iloc[:1]).iloc[0]
        params = {str(name): float(value) for name, value in own.items()}
        total += float(BetaGeoModel.from_params(params).log_likelihood_of(rows).sum())
    return total


def by_covariates(table: pd.DataFrame) -> list[pd.DataFrame]:
    return [rows for _, rows in table.groupby(["web", "north"])]


def test_log_likelihood_is_the_sum_at_individual_parameters(
    bg_model: BetaGeoCovariateModel, bg_table: pd.DataFrame
) -> None:
    assert bg_model.log_likelihood == pytest.approx(
        total_log_likelihood(bg_model, by_covariates(bg_table)), rel=1e-12
    )


def test_standard_errors_match_a_finite_difference_hessian() -> None:
    """Invert a central-difference Hessian of the independent total log-likelihood.

    In (log r, log alpha, log a, log b, gammas): at the optimum the gradient is 0, so
    the covariance of the natural parameters is D H^-1 D with D = diag(theta, 1, 1).
    """
    table = simulate_bgnbd(BG_TRUTH, 2000, trans=0.6, life=-0.5, seed=12)
    fitter = BetaGeoCovariateFitter(trans_covariates=["web"], life_covariates=["north"])
    fitted = fitter.fit(table)
    groups = by_covariates(table)
    base = np.log(list(fitted.params.to_dict().values()))
    phi = np.concatenate([base, coefficients(fitted)])
    names = list(fitted.params.to_dict())

    def loglik(point: Any) -> float:
        model = BetaGeoCovariateModel(
            params=BetaGeoParams(**dict(zip(names, np.exp(point[:4]), strict=True))),
            trans_covariates=["web"],
            trans_gamma=[point[4]],
            life_covariates=["north"],
            life_gamma=[point[5]],
        )
        return total_log_likelihood(model, groups)

    h = 1e-3
    size = len(phi)
    hessian = np.empty((size, size))
    steps = np.eye(size) * h
    for i in range(size):
        for j in range(i, size):
            hessian[i, j] = hessian[j, i] = (
                loglik(phi + steps[i] + steps[j])
                - loglik(phi + steps[i] - steps[j])
                - loglik(phi - steps[i] + steps[j])
                + loglik(phi - steps[i] - steps[j])
            ) / (4 * h * h)
    scale = np.concatenate([np.exp(base), np.ones(2)])
    numeric = np.linalg.inv(-hessian) * np.outer(scale, scale)
    assert fitted.covariance is not None
    np.testing.assert_allclose(np.asarray(fitted.covariance), numeric, rtol=2e-4)


# --- predictions per customer -------------------------------------------------------------


def test_predictions_are_the_model_at_each_customers_parameters(
    bg_model: BetaGeoCovariateModel, bg_table: pd.DataFrame
) -> None:
    sample = bg_table.iloc[[0, 1, 2, 3, 10, 50]]
    expected = bg_model.expected_purchases(sample, t=12)
    alive = bg_model.probability_alive(sample)
    for position in range(len(sample)):
        row = sample.iloc[position]
        params = BetaGeoParams(
            r=bg_model.params.r,
            alpha=bg_model.params.alpha * np.exp(-bg_model.trans_gamma[0] * row["web"]),
            a=bg_model.params.a * np.exp(bg_model.life_gamma[0] * row["north"]),
            b=bg_model.params.b * np.exp(bg_model.life_gamma[0] * row["north"]),
        )
        own = BetaGeoModel.from_params(params, time_unit="W")
        one = sample.iloc[[position]]
        assert expected.iloc[position] == pytest.approx(
            own.expected_purchases(one, t=12).iloc[0], rel=1e-12
        )
        assert alive.iloc[position] == pytest.approx(own.probability_alive(one).iloc[0], rel=1e-12)
    assert expected.index.equals(sample.index)
    assert expected.name == "expected_purchases"


def test_base_model_reads_the_covariate_values(bg_model: BetaGeoCovariateModel) -> None:
    online = bg_model.base_model({"web": 1.0})
    assert online.params.alpha == pytest.approx(
        bg_model.params.alpha * np.exp(-bg_model.trans_gamma[0])
    )
    assert online.params.a == pytest.approx(bg_model.params.a)
    with pytest.raises(InvalidParameterError, match="colour"):
        bg_model.base_model({"colour": 1.0})


def test_base_model_carries_the_segment_covariance(
    bg_model: BetaGeoCovariateModel, bg_table: pd.DataFrame
) -> None:
    """log alpha_web = log alpha - gamma_web: its variance, by hand, from the fit's."""
    assert bg_model.covariance is not None
    cov = np.asarray(bg_model.covariance)
    baseline = bg_model.base_model()
    assert baseline.covariance is not None
    np.testing.assert_allclose(np.asarray(baseline.covariance), cov[:4, :4], rtol=1e-12)
    online = bg_model.base_model({"web": 1.0})
    assert online.covariance is not None
    alpha = bg_model.params.alpha
    var_log = cov[1, 1] / alpha**2 + cov[4, 4] - 2 * cov[1, 4] / alpha
    assert online.covariance[1][1] == pytest.approx(var_log * online.params.alpha**2, rel=1e-10)
    assert online.covariance[0][0] == pytest.approx(cov[0, 0], rel=1e-12)  # r is shared
    web = bg_table[bg_table["web"] == 1].iloc[:20]
    ci = predict_intervals(web, quantity="p_alive", purchase_model=online)
    repeaters = web["frequency"] > 0  # P(alive) = 1 exactly without a repeat purchase
    assert bool((ci["std_error"][repeaters] > 0).all())
    assert bool(((ci["lower"] <= ci["estimate"]) & (ci["estimate"] <= ci["upper"])).all())
    whole: Any = bg_model  # not a FittedModel: its covariance also covers the coefficients
    with pytest.raises(InvalidParameterError, match="base_model"):
        predict_intervals(web, quantity="p_alive", purchase_model=whole)


def test_pareto_predictions_per_customer() -> None:
    model = ParetoNBDCovariateModel(
        params=PARETO_TRUTH, life_covariates=["north"], life_gamma=[0.4], time_unit="W"
    )
    table = simulate_pareto(PARETO_TRUTH, 50, trans=0.0, life=0.0, seed=1)
    alive = model.probability_alive(table)
    north = table[table["north"] == 1]
    params = {**PARETO_TRUTH.to_dict(), "beta": PARETO_TRUTH.beta * np.exp(-0.4)}
    from crmscore import ParetoNBDModel  # noqa: PLC0415

    own = ParetoNBDModel.from_params(params, time_unit="W").probability_alive(north)
    pd.testing.assert_series_equal(alive[north.index], own)


def test_spend_prediction_and_clv() -> None:
    table = make_rfm_summary(200, seed=2).assign(web=lambda f: (f.index % 2).astype(float))
    spend = GammaGammaCovariateModel(params=GG_TRUTH, spend_covariates=["web"], spend_gamma=[0.3])
    got = spend.expected_spend(table)
    web = table[table["web"] == 1]
    scaled = GammaGammaModel.from_params({**GG_TRUTH.to_dict(), "v": GG_TRUTH.v * np.exp(0.3)})
    pd.testing.assert_series_equal(got[web.index], scaled.expected_spend(web))
    # customer_lifetime_value takes the covariate purchase model as it is.
    purchases = BetaGeoCovariateModel(
        params=BetaGeoParams(r=1.0, alpha=45.0, a=1.0, b=7.0),
        trans_covariates=["web"],
        trans_gamma=[0.4],
        time_unit="D",
    )
    plain = GammaGammaModel.from_params(GG_TRUTH)
    clv = customer_lifetime_value(
        table, purchase_model=purchases, spend_model=plain, horizon=6, discount_rate=0.01
    )
    online = purchases.base_model({"web": 1.0})
    expected = customer_lifetime_value(
        web, purchase_model=online, spend_model=plain, horizon=6, discount_rate=0.01
    )
    pd.testing.assert_series_equal(clv[web.index], expected, rtol=1e-12)


# --- input checks -------------------------------------------------------------------------


def small_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "frequency": [0, 1, 2, 3],
            "recency": [0.0, 5, 9, 20],
            "T": [30.0, 30, 30, 30],
            "web": [0.0, 1, 0, 1],
            "shop": [1.0, 0, 1, 0],
            "flat": [2.0, 2, 2, 2],
            "text": ["a", "b", "c", "d"],
            "gap": [0.0, np.nan, 1, 1],
        },
        index=pd.Index(["c1", "c2", "c3", "c4"], name="customer_id"),
    )


def test_missing_covariate_lists_what_is_there() -> None:
    with pytest.raises(ColumnNotFoundError, match=r"\['region'\].*Available") as info:
        BetaGeoCovariateFitter(life_covariates=["region"]).fit(small_table())
    assert "life_covariates" in str(info.value)


@pytest.mark.parametrize(
    ("column", "match"),
    [("text", "must be numeric"), ("gap", "c2"), ("flat", "constant"), ("shop", "combination")],
)
def test_bad_covariates_name_the_column(column: str, match: str) -> None:
    names = ["web", column] if column == "shop" else [column]
    with pytest.raises(InvalidDataError, match=match) as info:
        BetaGeoCovariateFitter(trans_covariates=names).fit(small_table())
    assert info.value.column == column


def test_boolean_dummies_count_as_zero_one(bg_table: pd.DataFrame) -> None:
    as_bool = bg_table.assign(web=bg_table["web"] > 0)
    model = GammaGammaCovariateModel(params=GG_TRUTH, spend_covariates=["web"], spend_gamma=[0.2])
    table = as_bool.assign(monetary_value=10.0)
    pd.testing.assert_series_equal(
        model.expected_spend(table),
        model.expected_spend(table.assign(web=bg_table["web"])),
    )


def test_model_rejects_a_coefficient_per_name_mismatch() -> None:
    with pytest.raises(InvalidParameterError, match="trans_gamma"):
        BetaGeoCovariateModel(params=BG_TRUTH, trans_covariates=["web"], trans_gamma=[0.1, 0.2])
    with pytest.raises(InvalidParameterError, match="distinct"):
        BetaGeoCovariateFitter(trans_covariates=["web", "web"])


def test_many_distinct_covariate_values_warn_at_the_callers_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only the Pareto/NBD still evaluates its likelihood group by group (and warns);
    # the BG/NBD and Gamma-Gamma fits are per row (tests/test_clv_covariate_rows.py).
    # A lower threshold keeps the test cheap: a Pareto/NBD group costs a quadrature.
    monkeypatch.setattr(estimation, "MANY_GROUPS", 20)
    table = simulate_pareto(PARETO_TRUTH, 30, trans=0.0, life=0.0, seed=5)
    table["score"] = np.arange(30.0)
    fitter = ParetoNBDCovariateFitter(trans_covariates=["score"], max_iterations=1)
    with (
        pytest.warns(UserWarning, match="30 distinct values") as record,
        pytest.raises(ConvergenceError),  # one iteration: only the warning is wanted
    ):
        fitter.fit(table)
    assert record[0].filename == __file__


def test_predictions_need_the_covariates() -> None:
    model = BetaGeoCovariateModel(params=BG_TRUTH, trans_covariates=["web"], trans_gamma=[0.1])
    with pytest.raises(ColumnNotFoundError, match="web"):
        model.probability_alive(small_table().drop(columns="web"))


# --- values -------------------------------------------------------------------------------


def test_models_and_fitters_round_trip_through_json(bg_model: BetaGeoCovariateModel) -> None:
    values: list[Any] = [
        bg_model,
        ParetoNBDCovariateModel(params=PARETO_TRUTH, life_covariates=["x"], life_gamma=[0.2]),
        GammaGammaCovariateModel(params=GG_TRUTH, spend_covariates=["x"], spend_gamma=[0.1]),
        BetaGeoCovariateFitter(trans_covariates=["a"], life_covariates=["b"], penalizer=0.1),
        ParetoNBDCovariateFitter(initial_params=PARETO_TRUTH, life_covariates=["b"]),
        GammaGammaCovariateFitter(spend_covariates=["a"], tol=1e-8),
    ]
    for value in values:
        again = type(value).from_dict(json.loads(json.dumps(value.to_dict())))
        assert again == value


def test_summary_and_display(bg_model: BetaGeoCovariateModel) -> None:
    summary = bg_model.summary(level=0.9)
    assert summary.index.tolist() == ["r", "alpha", "a", "b", "trans.web", "life.north"]
    row = summary.loc["trans.web"]
    assert row["lower"] == pytest.approx(row["estimate"] - 1.6448536 * row["std_error"])
    assert row["p_value"] < 1e-6
    html = bg_model._repr_html_()
    assert "trans.web" in html
    assert "life.north" in html
    assert "trans.web=" in repr(bg_model)


# --- the docs page's example ----------------------------------------------------------------

PAGE = Path(__file__).resolve().parents[1] / "docs" / "clv.md"


def test_docs_example_runs_and_recovers_the_channels(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/clv.md's ``covariates`` block runs, and what its comments claim holds."""
    block = re.search(
        r'^```python title="covariates"\n(?P<code>.*?)^```$',
        PAGE.read_text(encoding="utf-8"),
        re.S | re.M,
    )
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(compile(block["code"], "clv.md:covariates", "exec"), namespace)
    capsys.readouterr()
    purchases, spend, table = namespace["purchases"], namespace["spend"], namespace["table"]
    errors = purchases.standard_errors
    assert abs(purchases.trans_gamma[0] - math.log(45 / 30)) < 4 * errors["trans.web"]
    errors = spend.standard_errors
    assert abs(spend.spend_gamma[0] - math.log(200 / 150)) < 4 * errors["spend.web"]
    clv = namespace["clv"]
    assert clv.index.equals(table.index)
    assert bool((clv >= 0).all())
    online = table.index[table["web"] == 1][:5]
    expected = customer_lifetime_value(
        table.loc[online],
        purchase_model=purchases.base_model({"web": 1}),
        spend_model=spend.base_model({"web": 1}),
        horizon=12,
        discount_rate=0.01,
    )
    np.testing.assert_allclose(clv[online], expected, rtol=1e-10)
