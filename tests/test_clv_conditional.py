"""Conditional BG/NBD predictions (crmscore.clv.conditional): mpmath oracles of the
paper's formulas, the sum and the mean of the distribution, and a simulation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mpmath
import numpy as np
import pandas as pd
import pytest

from crmscore import (
    BetaGeoModel,
    BetaGeoParams,
    InvalidParameterError,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ParetoNBDParams,
    predict_dert,
    predict_p_alive_at,
    predict_purchase_distribution,
)

if TYPE_CHECKING:
    from collections.abc import Callable

CDNOW = BetaGeoModel.from_params(BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426))
TABLE = pd.DataFrame(
    {
        "frequency": [0, 1, 2, 7, 30],
        "recency": [0.0, 5.0, 30.4, 35.0, 38.0],
        "T": [38.9, 38.9, 38.9, 38.9, 38.9],
    }
)


def _p_alive(
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    x: int,
    tx: float,
    T: float,  # noqa: N803 (the paper's symbol)
) -> mpmath.mpf:
    if x == 0:
        return mpmath.mpf(1)
    ratio = mpmath.power((alpha + T) / (alpha + tx), r + x)
    return 1 / (1 + mpmath.mpf(a) / (b + x - 1) * ratio)


def _new_pmf(r: float, alpha: float, a: float, b: float, *, n: int, t: float) -> mpmath.mpf:
    """Equation (8) of Fader, Hardie and Lee (2005), term by term in mpmath."""
    r, alpha, a, b, t = (mpmath.mpf(v) for v in (r, alpha, a, b, t))
    share, rest = alpha / (alpha + t), t / (alpha + t)
    first = (
        mpmath.beta(a, b + n)
        / mpmath.beta(a, b)
        * mpmath.gamma(r + n)
        / (mpmath.gamma(r) * mpmath.factorial(n))
        * share**r
        * rest**n
    )
    if n == 0:
        return first
    tail = 1 - share**r * mpmath.fsum(
        mpmath.gamma(r + j) / (mpmath.gamma(r) * mpmath.factorial(j)) * rest**j for j in range(n)
    )
    return first + mpmath.beta(a + 1, b + n - 1) / mpmath.beta(a, b) * tail


def test_distribution_matches_the_mpmath_oracle() -> None:
    mpmath.mp.dps = 40
    p = CDNOW.params
    dist = predict_purchase_distribution(TABLE, model=CDNOW, t=39.0, max_purchases=12)
    for i, (x, tx, age) in enumerate(TABLE.itertuples(index=False)):
        alive = _p_alive(p.r, p.alpha, p.a, p.b, x=x, tx=tx, T=age)
        for n in range(13):
            new = _new_pmf(p.r + x, p.alpha + age, p.a, p.b + x, n=n, t=39.0)
            expected = alive * new + (1 - alive) * (n == 0)
            assert dist.iloc[i, n] == pytest.approx(float(expected), rel=1e-9, abs=1e-300)


def test_distribution_sums_to_one_and_has_the_conditional_mean() -> None:
    dist = predict_purchase_distribution(TABLE, model=CDNOW, t=20.0, max_purchases=400)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0, rtol=1e-12)
    assert (dist["more"] < 1e-12).all()
    counts = np.arange(401)
    mean = dist[list(range(401))].to_numpy() @ counts
    expected = CDNOW.expected_purchases(TABLE, t=20.0).to_numpy()
    np.testing.assert_allclose(mean, expected, rtol=1e-8)


def test_p_alive_at_matches_quadrature_and_limits() -> None:
    mpmath.mp.dps = 30
    p = CDNOW.params
    later = predict_p_alive_at(TABLE, model=CDNOW, t=52.0)
    for i, (x, tx, age) in enumerate(TABLE.itertuples(index=False)):
        alive = _p_alive(p.r, p.alpha, p.a, p.b, x=x, tx=tx, T=age)
        beta_ = p.alpha + age

        def integrand(q: mpmath.mpf, x: int = x, beta_: float = beta_) -> mpmath.mpf:
            density = q ** (p.a - 1) * (1 - q) ** (p.b + x - 1) / mpmath.beta(p.a, p.b + x)
            return density * (beta_ / (beta_ + q * 52.0)) ** (p.r + x)

        expected = alive * mpmath.quad(integrand, [0, 1])
        assert later.iloc[i] == pytest.approx(float(expected), rel=1e-9)
    now = predict_p_alive_at(TABLE, model=CDNOW, t=0.0)
    pd.testing.assert_series_equal(
        now, CDNOW.probability_alive(TABLE).rename("p_alive_at"), rtol=1e-12
    )
    assert (predict_p_alive_at(TABLE, model=CDNOW, t=500.0) < later).all()


def test_p_alive_at_for_new_customers_matches_simulation() -> None:
    """A new customer alive after t: no dropout at any of the N ~ Poisson(lambda t)
    purchases, simulated directly (400,000 customers: standard error 0.0008)."""
    rng = np.random.default_rng(12)
    params = CDNOW.params
    n = 400_000
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    purchases = rng.poisson(rate * 30.0)
    survivor = rng.geometric(dropout) > purchases
    new = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0]})
    assert predict_p_alive_at(new, model=CDNOW, t=30.0).iloc[0] == pytest.approx(
        survivor.mean(), abs=4 * 0.0008
    )


def test_bad_input_is_rejected() -> None:
    with pytest.raises(InvalidParameterError, match="'model'"):
        predict_p_alive_at(TABLE, model="bgnbd", t=1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'max_purchases'"):
        predict_purchase_distribution(TABLE, model=CDNOW, t=1.0, max_purchases=-1)


def test_dert_matches_a_two_dimensional_mpmath_quadrature() -> None:
    """DERT = P(alive) E[lambda / (delta + lambda p)] over the posterior, integrated
    over (lambda, p) directly: an oracle of the one-dimensional reduction too."""
    mpmath.mp.dps = 15
    p = CDNOW.params
    delta = 0.01
    some = TABLE.iloc[[3]]  # x = 7: P(alive) < 1 and a posterior far from the prior
    dert = predict_dert(some, model=CDNOW, discount_rate=delta)
    for i, (x, tx, age) in enumerate(some.itertuples(index=False)):
        alive = _p_alive(p.r, p.alpha, p.a, p.b, x=x, tx=tx, T=age)
        rho, beta_, b_x = p.r + x, p.alpha + age, p.b + x

        def integrand(
            lam: mpmath.mpf, q: mpmath.mpf, rho: float = rho, beta_: float = beta_, b_x: float = b_x
        ) -> mpmath.mpf:
            gamma_density = (
                beta_**rho * lam ** (rho - 1) * mpmath.exp(-beta_ * lam) / mpmath.gamma(rho)
            )
            beta_density = q ** (p.a - 1) * (1 - q) ** (b_x - 1) / mpmath.beta(p.a, b_x)
            return gamma_density * beta_density * lam / (delta + lam * q)

        expected = alive * mpmath.quad(integrand, [0, 1, mpmath.inf], [0, 1])
        assert dert.iloc[i] == pytest.approx(float(expected), rel=1e-6)
    # A lower discount rate values the same future more.
    assert (
        predict_dert(TABLE, model=CDNOW, discount_rate=0.001)
        > predict_dert(TABLE, model=CDNOW, discount_rate=0.01)
    ).all()


PARETO = ParetoNBDModel.from_params(ParetoNBDParams(r=0.553, alpha=10.58, s=0.606, beta=11.67))
PARETO_TABLE = pd.DataFrame(
    {
        "frequency": [0, 2, 7, 60, 3],
        "recency": [0.0, 30.4, 35.0, 180.0, 2.0],
        "T": [38.9, 38.9, 38.9, 200.0, 150.0],
    }
)


def _pareto_oracle(
    params: ParetoNBDParams,
    *,
    x: int,
    tx: float,
    T: float,  # noqa: N803 (the paper's symbol)
    lam_power: int,
    mu_weight: Callable[[mpmath.mpf], mpmath.mpf],
    mu_age: float,
) -> mpmath.mpf:
    """E[lambda**lam_power * mu_weight(mu); alive at mu_age | x, t_x, T] from the
    definitions. The likelihood of (x, t_x, T) is lambda**x exp(-(lambda + mu) T)
    if alive at T, or lambda**x mu exp(-(lambda + mu) tau) integrated over the death
    time tau in (t_x, T). Integrated over the Gamma(r, alpha) and Gamma(s, beta)
    priors: the lambda moments in closed form (Gamma integrals), the mu ones and tau
    by mpmath quadrature."""
    r, alpha, s, beta = (mpmath.mpf(v) for v in (params.r, params.alpha, params.s, params.beta))

    def lam_moment(k: int, tau: mpmath.mpf) -> mpmath.mpf:
        # E[lambda**(x + k) exp(-lambda tau)], divided by the common
        # alpha**r Gamma(r + x) / (Gamma(r) (alpha + T)**(r + x)): mpmath's quad
        # misjudges convergence on integrands of size 1e-60, so all stay near 1.
        return mpmath.rf(r + x, k) / (alpha + T) ** k * ((alpha + T) / (alpha + tau)) ** (r + x + k)

    def mu_moment(weight: Callable[[mpmath.mpf], mpmath.mpf], tau: mpmath.mpf) -> mpmath.mpf:
        def integrand(mu: mpmath.mpf) -> mpmath.mpf:
            density = beta**s * mu ** (s - 1) * mpmath.exp(-beta * mu) / mpmath.gamma(s)
            return density * weight(mu) * mpmath.exp(-mu * tau)

        return mpmath.quad(integrand, [0, 1 / (beta + tau), 10 / (beta + tau), mpmath.inf])

    alive = lam_moment(0, T) * beta**s / (beta + T) ** s
    dead = mpmath.quad(
        lambda tau: lam_moment(0, tau) * s * beta**s / (beta + tau) ** (s + 1),
        [tx, T],
    )
    wanted = lam_moment(lam_power, T) * mu_moment(mu_weight, mu_age)
    return wanted / (alive + dead)


def _one(mu: mpmath.mpf) -> mpmath.mpf:
    return mpmath.mpf(1)


def _discounted(delta: float) -> Callable[[mpmath.mpf], mpmath.mpf]:
    def weight(mu: mpmath.mpf) -> mpmath.mpf:
        return 1 / (delta + mu)

    return weight


def test_pareto_dert_matches_the_definition() -> None:
    """DERT = E[lambda / (delta + mu); alive] (Fader, Hardie and Lee 2005b, whose
    closed form crmscore evaluates), incl. a long history with many purchases."""
    mpmath.mp.dps = 20
    for delta in (0.0029, 0.15):
        dert = predict_dert(PARETO_TABLE, model=PARETO, discount_rate=delta)
        for i, (x, tx, age) in enumerate(PARETO_TABLE.itertuples(index=False)):
            expected = _pareto_oracle(
                PARETO.params,
                x=x,
                tx=tx,
                T=age,
                lam_power=1,
                mu_weight=_discounted(delta),
                mu_age=age,
            )
            assert dert.iloc[i] == pytest.approx(float(expected), rel=1e-8)
    assert (
        predict_dert(PARETO_TABLE, model=PARETO, discount_rate=0.001)
        > predict_dert(PARETO_TABLE, model=PARETO, discount_rate=0.01)
    ).all()


def test_pareto_p_alive_at_matches_the_definition_and_limits() -> None:
    mpmath.mp.dps = 20
    later = predict_p_alive_at(PARETO_TABLE, model=PARETO, t=52.0)
    for i, (x, tx, age) in enumerate(PARETO_TABLE.itertuples(index=False)):
        expected = _pareto_oracle(
            PARETO.params,
            x=x,
            tx=tx,
            T=age,
            lam_power=0,
            mu_weight=_one,
            mu_age=age + 52.0,
        )
        assert later.iloc[i] == pytest.approx(float(expected), rel=1e-8)
    now = predict_p_alive_at(PARETO_TABLE, model=PARETO, t=0.0)
    pd.testing.assert_series_equal(
        now, PARETO.probability_alive(PARETO_TABLE).rename("p_alive_at"), rtol=1e-12
    )
    assert (later < now).all()
    assert (predict_p_alive_at(PARETO_TABLE, model=PARETO, t=500.0) < later).all()


def test_pareto_p_alive_at_for_new_customers_matches_simulation() -> None:
    """A new customer is alive after t if the exponential lifetime exceeds t
    (400,000 customers: standard error below 0.0008)."""
    rng = np.random.default_rng(13)
    params = PARETO.params
    lifetime = rng.exponential(1 / rng.gamma(params.s, 1 / params.beta, 400_000))
    new = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0]})
    assert predict_p_alive_at(new, model=PARETO, t=30.0).iloc[0] == pytest.approx(
        (lifetime > 30.0).mean(), abs=4 * 0.0008
    )


MBG = ModifiedBetaGeoModel.from_params(BetaGeoParams(r=0.525, alpha=6.183, a=0.891, b=1.614))


def _mbg_likelihood(
    params: BetaGeoParams,
    *,
    x: int,
    tx: float,
    T: float,  # noqa: N803 (the paper's symbol)
) -> tuple[mpmath.mpf, mpmath.mpf]:
    """The MBG/NBD likelihood of (x, t_x, T) over the priors, split into alive
    ((1 - p)^(x + 1) lambda^x exp(-lambda T): x + 1 dropout chances survived) and
    dead (p (1 - p)^x lambda^x exp(-lambda t_x)), without the common
    Gamma(r + x) alpha^r / (Gamma(r) B(a, b) (alpha + T)^(r + x))."""
    r, alpha, a, b = (mpmath.mpf(v) for v in (params.r, params.alpha, params.a, params.b))
    alive = mpmath.beta(a, b + x + 1)
    dead = mpmath.beta(a + 1, b + x) * ((alpha + T) / (alpha + tx)) ** (r + x)
    return alive, dead


def test_mbg_p_alive_at_and_dert_match_the_definition() -> None:
    """Alive later: no dropout at the Poisson(lambda t) purchases, so
    E[(1 - p)^(x + 1) lambda^x exp(-lambda (T + p t))] over the priors (lambda in
    closed form, p by quadrature); DERT: E[(1 - p)^(x + 1) lambda^(x + 1)
    exp(-lambda T) / (delta + lambda p)], the lambda integral as Tricomi's U
    (DLMF 13.4.4), p by quadrature."""
    mpmath.mp.dps = 20
    params = MBG.params
    r, alpha, a, b = (mpmath.mpf(v) for v in (params.r, params.alpha, params.a, params.b))
    delta = mpmath.mpf("0.01")
    later = predict_p_alive_at(TABLE, model=MBG, t=52.0)
    dert = predict_dert(TABLE, model=MBG, discount_rate=0.01)
    now = MBG.probability_alive(TABLE)
    for i, (x, tx, age) in enumerate(TABLE.itertuples(index=False)):
        alive, dead = _mbg_likelihood(params, x=x, tx=tx, T=age)
        assert now.iloc[i] == pytest.approx(float(alive / (alive + dead)), rel=1e-10)

        def survive(q: mpmath.mpf, x: int = x, age: float = age) -> mpmath.mpf:
            return q ** (a - 1) * (1 - q) ** (b + x) * (1 + q * 52 / (alpha + age)) ** (-r - x)

        def value(q: mpmath.mpf, x: int = x, age: float = age) -> mpmath.mpf:
            k, scale = r + x + 1, alpha + age
            # int lambda^(k-1) exp(-scale lambda) / (delta + q lambda) dlambda,
            # scaled as _mbg_likelihood (integrands near 1: mpmath's quad misjudges
            # convergence on tiny ones).
            inner = (
                (r + x)
                * scale ** (r + x)
                * (delta / q) ** (k - 1)
                * mpmath.hyperu(k, k, scale * delta / q)
                / q
            )
            return q ** (a - 1) * (1 - q) ** (b + x) * inner

        expected_later = mpmath.quad(survive, [0, 1]) / (alive + dead)
        expected_dert = mpmath.quad(value, [0, mpmath.mpf("0.01"), 1]) / (alive + dead)
        assert later.iloc[i] == pytest.approx(float(expected_later), rel=1e-8)
        assert dert.iloc[i] == pytest.approx(float(expected_dert), rel=1e-8)
    pd.testing.assert_series_equal(
        predict_p_alive_at(TABLE, model=MBG, t=0.0), now.rename("p_alive_at"), rtol=1e-12
    )
    assert (later < now).all()


def test_mbg_p_alive_at_for_new_customers_matches_simulation() -> None:
    """A new MBG/NBD customer is alive after t if the first dropout chance
    (Geometric(p)) comes after the one at time 0 and the N ~ Poisson(lambda t)
    purchases (400,000 customers: standard error below 0.0008)."""
    rng = np.random.default_rng(14)
    params = MBG.params
    n = 400_000
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    survivor = rng.geometric(dropout) > 1 + rng.poisson(rate * 30.0)
    new = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0]})
    assert predict_p_alive_at(new, model=MBG, t=30.0).iloc[0] == pytest.approx(
        survivor.mean(), abs=4 * 0.0008
    )


def test_unsupported_models_are_named() -> None:
    with pytest.raises(InvalidParameterError, match="BetaGeoModel, ModifiedBetaGeoModel or"):
        predict_dert(TABLE, model="mbgnbd", discount_rate=0.01)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="BetaGeoModel, ModifiedBetaGeoModel or"):
        predict_p_alive_at(TABLE, model=CDNOW.params, t=1.0)  # type: ignore[arg-type]
