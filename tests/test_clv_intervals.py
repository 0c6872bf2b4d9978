"""Intervals for CLV parameters and predictions (crmscore.clv.intervals).

Coverage on data simulated from known parameters; the numerical gradients against
analytic ones; bootstrap against delta method; streaming invariance; bad input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from crmscore import (
    BetaGeoFitter,
    BetaGeoModel,
    BetaGeoParams,
    GammaGammaFitter,
    InvalidDataError,
    InvalidParameterError,
    make_rfm_summary,
    parameter_intervals,
    predict_intervals,
    predict_totals,
)

TRUTH = BetaGeoParams(r=0.5, alpha=20.0, a=0.8, b=3.0)


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, BetaGeoModel]:
    table = make_rfm_summary(4_000, seed=11, purchase=TRUTH, min_age=100, max_age=300)
    return table, BetaGeoFitter().fit(table)


def test_holdout_total_coverage_is_nominal() -> None:
    """The 90 % delta interval of the holdout total covers the truth ~90 % of the time.

    The truth is the expected holdout total at the true parameters, given each
    simulated calibration history: the interval is a confidence interval for that
    conditional expectation (parameter uncertainty), not for the realised count.
    200 replications of 1,000 customers each take about 12 s. Under correct coverage
    the hit count is Binomial(200, 0.9): sd = sqrt(0.9 * 0.1 / 200) = 0.021, and we
    accept 0.9 +- 3 sd = [0.836, 0.964] (a false alarm has probability 0.3 %; the
    seeds are fixed, so the test is deterministic). An 80 % interval passed off as a
    90 % one would cover ~0.80 and fail; so would ignoring the parameter covariances.
    """
    truth_model = BetaGeoModel.from_params(TRUTH)
    replications, hits = 200, 0
    for i in range(replications):
        table = make_rfm_summary(1_000, seed=1_000 + i, purchase=TRUTH, min_age=100, max_age=300)
        model = BetaGeoFitter().fit(table)
        total = predict_totals(
            table, quantity="expected_purchases", purchase_model=model, t=100.0, level=0.9
        )
        true_total = truth_model.expected_purchases(table, t=100.0).sum()
        hits += bool(total["lower"].iloc[0] <= true_total <= total["upper"].iloc[0])
    coverage = hits / replications
    assert 0.836 <= coverage <= 0.964, coverage


def _p_alive_gradient(params: BetaGeoParams, table: pd.DataFrame) -> np.ndarray:
    """Analytic d P(alive) / d (r, alpha, a, b), from the log odds of the note."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, tx, age = (table[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    log_odds = np.log(a) - np.log(b + x - 1) + (r + x) * np.log((alpha + age) / (alpha + tx))
    p = 1 / (1 + np.exp(log_odds))
    d_log_odds = np.column_stack(
        [
            np.log((alpha + age) / (alpha + tx)),
            (r + x) * (1 / (alpha + age) - 1 / (alpha + tx)),
            np.full_like(x, 1 / a),
            -1 / (b + x - 1),
        ]
    )
    gradient: np.ndarray = -(p * (1 - p))[:, None] * d_log_odds
    return gradient


def test_delta_standard_errors_match_analytic_gradients(
    fitted: tuple[pd.DataFrame, BetaGeoModel],
) -> None:
    table, model = fitted
    repeaters = table[table["frequency"] > 0].head(300)
    gradient = _p_alive_gradient(model.params, repeaters)
    cov = np.asarray(model.covariance)
    analytic = np.sqrt(np.einsum("ij,jk,ik->i", gradient, cov, gradient))
    ci = predict_intervals(repeaters, quantity="p_alive", purchase_model=model)
    np.testing.assert_allclose(ci["std_error"].to_numpy(), analytic, rtol=1e-6)


def test_spend_standard_errors_match_analytic_gradients() -> None:
    table = make_rfm_summary(3_000, seed=5)
    spend = GammaGammaFitter().fit(table)
    p, q, v = spend.params.p, spend.params.q, spend.params.v
    x = table["frequency"].to_numpy(dtype=float)
    m = np.where(x > 0, table["monetary_value"].to_numpy(dtype=float), 0.0)
    d = p * x + q - 1
    gradient = np.column_stack(
        [(v + x * m) / d - p * (v + x * m) * x / d**2, -p * (v + x * m) / d**2, p / d]
    )
    cov = np.asarray(spend.covariance)
    analytic = np.sqrt(np.einsum("ij,jk,ik->i", gradient, cov, gradient))
    ci = predict_intervals(table, quantity="expected_spend", spend_model=spend)
    np.testing.assert_allclose(ci["std_error"].to_numpy(), analytic, rtol=1e-6)
    z = norm.ppf(0.95)
    estimate = ci["estimate"].to_numpy()
    np.testing.assert_allclose(
        ci["upper"].to_numpy(), estimate * np.exp(z * analytic / estimate), rtol=1e-6
    )


def test_total_of_one_customer_is_that_customer(fitted: tuple[pd.DataFrame, BetaGeoModel]) -> None:
    table, model = fitted
    one = table.head(1)
    each = predict_intervals(one, quantity="expected_purchases", purchase_model=model, t=50.0)
    total = predict_totals(one, quantity="expected_purchases", purchase_model=model, t=50.0)
    np.testing.assert_allclose(
        total[["estimate", "std_error", "lower", "upper"]].to_numpy()[0],
        each.to_numpy()[0],
        rtol=1e-12,
    )


def test_segment_totals_add_up(fitted: tuple[pd.DataFrame, BetaGeoModel]) -> None:
    table, model = fitted
    segments = pd.Series(np.where(table["frequency"] > 2, "frequent", "rare"), index=table.index)
    totals = predict_totals(
        table, quantity="expected_purchases", purchase_model=model, t=50.0, segments=segments
    )
    each = predict_intervals(table, quantity="expected_purchases", purchase_model=model, t=50.0)
    assert list(totals.index) == ["frequent", "rare", "all"]
    assert totals.loc["all", "customers"] == len(table)
    assert totals.loc["all", "estimate"] == pytest.approx(each["estimate"].sum(), rel=1e-12)
    assert totals.loc["all", "estimate"] == pytest.approx(
        totals.loc[["frequent", "rare"], "estimate"].sum(), rel=1e-12
    )
    # Perfectly correlated errors: the total's se is at most the sum of the parts'.
    total_se = float(totals.loc["all", "std_error"])  # type: ignore[arg-type]
    assert total_se <= float(each["std_error"].sum()) * (1 + 1e-9)


def test_bootstrap_agrees_with_delta_method(fitted: tuple[pd.DataFrame, BetaGeoModel]) -> None:
    table, model = fitted
    table = table.head(1_500)
    spend = GammaGammaFitter().fit(make_rfm_summary(4_000, seed=11, purchase=TRUTH))
    kwargs = {
        "quantity": "clv",
        "purchase_model": model,
        "spend_model": spend,
        "horizon": 3,
        "discount_rate": 0.01,
        "time_unit": "D",
    }
    delta = predict_totals(table, **kwargs)  # type: ignore[arg-type]
    boot = predict_totals(
        table,
        **kwargs,  # type: ignore[arg-type]
        method="bootstrap",
        n_replicates=300,
        seed=7,
    )
    assert boot["estimate"].iloc[0] == pytest.approx(delta["estimate"].iloc[0], rel=1e-12)
    # 300 replicates estimate an sd to about 1/sqrt(600) = 4.1 %; allow 4 of those.
    assert boot["std_error"].iloc[0] == pytest.approx(delta["std_error"].iloc[0], rel=0.17)
    assert boot["lower"].iloc[0] == pytest.approx(delta["lower"].iloc[0], rel=0.01)
    assert boot["upper"].iloc[0] == pytest.approx(delta["upper"].iloc[0], rel=0.01)


def test_bootstrap_streaming_does_not_change_the_result(
    fitted: tuple[pd.DataFrame, BetaGeoModel],
) -> None:
    table, model = fitted
    part = table.head(500)
    kwargs = {"quantity": "expected_purchases", "purchase_model": model, "t": 30.0}
    whole = predict_intervals(part, **kwargs, method="bootstrap", seed=3, n_replicates=50)  # type: ignore[arg-type]
    blocks = predict_intervals(
        part,
        **kwargs,  # type: ignore[arg-type]
        method="bootstrap",
        seed=3,
        n_replicates=50,
        chunk_size=37,
    )
    pd.testing.assert_frame_equal(whole, blocks)
    totals_whole = predict_totals(part, **kwargs, method="bootstrap", seed=3, n_replicates=50)  # type: ignore[arg-type]
    totals_blocks = predict_totals(
        part,
        **kwargs,  # type: ignore[arg-type]
        method="bootstrap",
        seed=3,
        n_replicates=50,
        chunk_size=37,
    )
    pd.testing.assert_frame_equal(totals_whole, totals_blocks, rtol=1e-12)
    delta = predict_intervals(part, **kwargs)  # type: ignore[arg-type]
    np.testing.assert_allclose(whole["estimate"], delta["estimate"], rtol=1e-12)
    assert (
        (whole["lower"] <= whole["estimate"]) & (whole["estimate"] <= whole["upper"])
    ).mean() > 0.95


def test_p_alive_interval_stays_in_unit_interval(
    fitted: tuple[pd.DataFrame, BetaGeoModel],
) -> None:
    table, model = fitted
    ci = predict_intervals(table, quantity="p_alive", purchase_model=model, level=0.999)
    assert ((ci["lower"] >= 0) & (ci["upper"] <= 1) & (ci["lower"] <= ci["upper"])).all()
    never = table["frequency"].to_numpy() == 0
    assert (ci["lower"].to_numpy()[never] == 1.0).all()


def test_wald_parameter_intervals_match_the_model_summary(
    fitted: tuple[pd.DataFrame, BetaGeoModel],
) -> None:
    _, model = fitted
    ours = parameter_intervals(model, level=0.9)
    pd.testing.assert_frame_equal(ours, model.summary(level=0.9), rtol=1e-12)


def test_profile_intervals_reach_the_chi_square_quantile() -> None:
    """At each profile bound the re-maximised deviance equals chi2(1) at the level.

    The deviance is recomputed here with an independent optimiser (Nelder-Mead
    from the estimates), not the one inside parameter_intervals.
    """
    from scipy.optimize import minimize  # noqa: PLC0415
    from scipy.stats import chi2  # noqa: PLC0415

    table = make_rfm_summary(800, seed=9, purchase=TRUTH, min_age=100, max_age=300)
    model = BetaGeoFitter().fit(table)
    profile = parameter_intervals(model, level=0.9, method="profile", table=table)
    wald = parameter_intervals(model, level=0.9)
    best = model.log_likelihood
    assert best is not None
    names = list(model.params.to_dict())
    estimates = np.log(list(model.params.to_dict().values()))
    for k in (0, 2):  # r and a
        for bound in profile.iloc[k][["lower", "upper"]]:
            others = [j for j in range(4) if j != k]

            def negative(free: np.ndarray, k: int = k, bound: float = bound) -> float:
                full = np.empty(4)
                full[k] = np.log(bound)
                full[[j for j in range(4) if j != k]] = free
                params = BetaGeoParams(**dict(zip(names, np.exp(full), strict=True)))
                return -float(BetaGeoModel.from_params(params).log_likelihood_of(table).sum())

            result = minimize(
                negative,
                estimates[others],
                method="Nelder-Mead",
                options={"xatol": 1e-9, "fatol": 1e-9, "maxiter": 4000},
            )
            assert 2 * (best + result.fun) == pytest.approx(chi2.ppf(0.9, 1), abs=2e-3)
    # Near-normal at this size: profile and Wald bounds close, but not equal.
    np.testing.assert_allclose(profile["lower"], wald["lower"], rtol=0.05)
    np.testing.assert_allclose(profile["upper"], wald["upper"], rtol=0.05)
    assert not np.allclose(profile["lower"], wald["lower"], rtol=1e-6)


def test_inputs_are_not_mutated(fitted: tuple[pd.DataFrame, BetaGeoModel]) -> None:
    table, model = fitted
    before = table.copy(deep=True)
    predict_totals(table, quantity="p_alive", purchase_model=model)
    pd.testing.assert_frame_equal(table, before)


def test_bad_input_is_rejected(fitted: tuple[pd.DataFrame, BetaGeoModel]) -> None:
    table, model = fitted
    unfitted = BetaGeoModel.from_params(TRUTH)
    with pytest.raises(InvalidParameterError, match="purchase_model"):
        predict_intervals(table, quantity="p_alive", purchase_model=unfitted)
    with pytest.raises(InvalidParameterError, match="seed"):
        predict_intervals(table, quantity="p_alive", purchase_model=model, method="bootstrap")
    with pytest.raises(InvalidParameterError, match="t="):
        predict_intervals(table, quantity="expected_purchases", purchase_model=model)
    with pytest.raises(InvalidParameterError, match="spend_model"):
        predict_intervals(table, quantity="clv", purchase_model=model, horizon=3)
    with pytest.raises(InvalidParameterError, match="'quantity'"):
        predict_intervals(table, quantity="revenue", purchase_model=model)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'level'"):
        predict_totals(table, quantity="p_alive", purchase_model=model, level=1.0)
    with pytest.raises(InvalidDataError, match="no label"):
        predict_totals(
            table, quantity="p_alive", purchase_model=model, segments=pd.Series(["x"], index=[1])
        )
    with pytest.raises(InvalidParameterError, match="'table'"):
        parameter_intervals(model, method="profile")
    with pytest.raises(InvalidParameterError, match="'model'"):
        parameter_intervals(unfitted)


def test_distinct_rows_give_the_straightforward_result(
    fitted: tuple[pd.DataFrame, BetaGeoModel], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evaluating on distinct rows and expanding equals evaluating every customer.

    A small book with many repeated (frequency, recency, T, monetary_value) rows, in
    shuffled order, under string ids. The reference is the same function with the
    compression switched off (every customer evaluated), and each customer alone
    (a one-row table, where there is nothing to compress).
    """
    from crmscore.clv import intervals  # noqa: PLC0415 (the private switch)

    table, model = fitted
    rng = np.random.default_rng(7)
    book = table.iloc[rng.integers(0, 60, size=400)].copy()
    book.index = pd.Index([f"c{i}" for i in range(len(book))], name="customer")
    spend = GammaGammaFitter().fit(table)
    segments = pd.Series(rng.choice(["a", "b", "c"], size=len(book)), index=book.index)
    calls: dict[str, dict[str, Any]] = {
        "purchases": {"quantity": "expected_purchases", "purchase_model": model, "t": 30.0},
        "alive": {"quantity": "p_alive", "purchase_model": model},
        "clv": {
            "quantity": "clv",
            "purchase_model": model,
            "spend_model": spend,
            "horizon": 3,
            "discount_rate": 0.01,
            "time_unit": "D",
        },
    }
    compressed = {
        name: (
            predict_intervals(book, **kw),
            predict_totals(book, **kw, segments=segments),
            predict_intervals(book, **kw, method="bootstrap", seed=5, n_replicates=30),
            predict_totals(book, **kw, method="bootstrap", seed=5, n_replicates=30),
        )
        for name, kw in calls.items()
    }
    assert len(intervals._distinct(book, "clv")[0]) <= 60
    monkeypatch.setattr(
        intervals, "_distinct", lambda frame, *_: (frame.reset_index(drop=True), None)
    )
    for name, kw in calls.items():
        straightforward = (
            predict_intervals(book, **kw),
            predict_totals(book, **kw, segments=segments),
            predict_intervals(book, **kw, method="bootstrap", seed=5, n_replicates=30),
            predict_totals(book, **kw, method="bootstrap", seed=5, n_replicates=30),
        )
        for got, want in zip(compressed[name], straightforward, strict=True):
            pd.testing.assert_frame_equal(got, want, rtol=1e-12, atol=0)
        alone = pd.concat([predict_intervals(book.iloc[[i]], **kw) for i in (0, 17, 399)])
        pd.testing.assert_frame_equal(compressed[name][0].iloc[[0, 17, 399]], alone, rtol=1e-12)
