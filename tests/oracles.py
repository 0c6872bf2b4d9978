"""Oracles shared by several test modules: the published CDNOW estimates, and E[Y(t)]
of the BG/NBD model in 50-digit arithmetic (mpmath).

The in-memory fitters (test_clv) and the Dask fits from sufficient statistics
(test_scaleout_dask) fit the CDNOW summaries that ship inside lifetimes and must land on
the estimates the papers publish:

- BG/NBD: Fader, Hardie and Lee (2005), "Counting your customers" the easy way, table 1:
  r=0.243, alpha=4.414, a=0.793, b=2.426, log-likelihood -9582.4, on 2,357 customers.
- Gamma-Gamma: Fader, Hardie and Lee (2005b), "RFM and CLV", p=6.25, q=3.74 (gamma, the
  scale, is published as 15.44: truncated, see test_clv).

``oracle_expected_purchases`` is independent of our code paths; test_clv_numerics and
test_clv hold the conditional expectation to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mpmath as mp

from crmscore import BetaGeoParams, GammaGammaParams

if TYPE_CHECKING:
    from crmscore import BetaGeoModel, GammaGammaModel

#: lifetimes' fit of CDNOW (weekly summary), and the published estimates.
LIFETIMES_CDNOW = BetaGeoParams(r=0.242593, alpha=4.413532, a=0.792886, b=2.425752)
LIFETIMES_CDNOW_SPEND = GammaGammaParams(p=6.248802, q=3.744588, v=15.447748)

#: FHL (2005), table 1: (r, alpha, a, b) to the 3 published decimals.
CDNOW_BGNBD_PUBLISHED = (0.243, 4.414, 0.793, 2.426)
#: FHL (2005), table 1: the log-likelihood at the maximum, to the published decimal.
CDNOW_BGNBD_LOG_LIKELIHOOD = -9582.4
#: Customers in the CDNOW sample.
CDNOW_CUSTOMERS = 2357
#: FHL (2005b): (p, q) to the 2 published decimals.
CDNOW_GAMMA_GAMMA_PUBLISHED = (6.25, 3.74)


def assert_published_cdnow_bgnbd(model: BetaGeoModel) -> None:
    """The fitted BG/NBD model is FHL (2005)'s: parameters, log-likelihood, customers."""
    p = model.params
    assert (round(p.r, 3), round(p.alpha, 3), round(p.a, 3), round(p.b, 3)) == (
        CDNOW_BGNBD_PUBLISHED
    )
    assert model.log_likelihood is not None
    assert round(model.log_likelihood, 1) == CDNOW_BGNBD_LOG_LIKELIHOOD
    assert model.n_customers == CDNOW_CUSTOMERS


def assert_published_cdnow_gamma_gamma(model: GammaGammaModel) -> None:
    """The fitted Gamma-Gamma model has FHL (2005b)'s p and q."""
    p = model.params
    assert (round(p.p, 2), round(p.q, 2)) == CDNOW_GAMMA_GAMMA_PUBLISHED


def oracle_expected_purchases(
    params: BetaGeoParams, x: float, tx: float, age: float, t: float
) -> float:
    """E[Y(t) | x, tx, T] in 50-digit arithmetic, independent of our code paths.

    P(alive) times (c / (a - 1)) (1 - 2F1(r + x, a - 1; c; -t / (alpha + T))), with
    mpmath's hypergeometric function; where that does not converge, the expectation
    E[(1 - (1 + p u)^-(r + x)) / p], p ~ Beta(a, b + x), by adaptive quadrature with
    substitutions that remove the endpoint singularities.
    """
    with mp.workdps(50):
        r, alpha, a, b = (mp.mpf(v) for v in (params.r, params.alpha, params.a, params.b))
        x_, tx_, age_, t_ = (mp.mpf(v) for v in (x, tx, age, t))
        rho, beta, u = r + x_, b + x_, t_ / (alpha + age_)
        if x > 0:
            ratio = a / (b + x_ - 1) * ((alpha + age_) / (alpha + tx_)) ** rho
            alive = 1 / (1 + ratio)
        else:
            alive = mp.mpf(1)
        a_eff = a + mp.mpf("1e-30") if a == 1 else a  # at a = 1: the limit, to 30 digits
        try:
            c = a_eff + beta - 1
            value = c / (a_eff - 1) * (1 - mp.hyp2f1(rho, a_eff - 1, c, -u, maxterms=10**6))
        except (mp.libmp.NoConvergence, ValueError, ZeroDivisionError):

            def g(p: Any) -> Any:
                return rho * u if p == 0 else -mp.expm1(-rho * mp.log1p(p * u)) / p

            value = _beta_expectation(g, rho, beta, a, u)
        return float(alive * value)


def oracle_power_mean(rho: float, beta: float, a: float, u: float) -> float:
    """E[(1 + p u)^-rho] for p ~ Beta(a, beta), i.e. 2F1(rho, a; a + beta; -u), in
    50-digit arithmetic: mpmath's hypergeometric function, or where that does not
    converge, adaptive quadrature of the expectation (as above)."""
    with mp.workdps(50):
        rho_, beta_, a_, u_ = (mp.mpf(v) for v in (rho, beta, a, u))
        try:
            value = mp.hyp2f1(rho_, a_, a_ + beta_, -u_, maxterms=10**6)
        except (mp.libmp.NoConvergence, ValueError, ZeroDivisionError):

            def h(p: Any) -> Any:
                return mp.exp(-rho_ * mp.log1p(p * u_))

            value = _beta_expectation(h, rho_, beta_, a_, u_)
        return float(value)


def _beta_expectation(g: Any, rho: Any, beta: Any, a: Any, u: Any) -> Any:
    """E[g(p)] for p ~ Beta(a, beta), g having its knee near p = 1 / (rho u)."""
    log_norm = mp.log(mp.beta(a, beta))

    def left(s: Any) -> Any:  # p = s^(1/a) on [0, 1/2]
        p = s ** (1 / a)
        return g(p) * mp.exp((beta - 1) * mp.log1p(-p) - log_norm) / a

    def right(w: Any) -> Any:  # 1 - p = w^(1/beta) on [1/2, 1]
        p = 1 - w ** (1 / beta)
        return g(p) * mp.exp((a - 1) * mp.log(p) - log_norm) / beta

    marks = [mp.mpf(10) ** -k for k in (300, 100, 30, 12, 6, 3, 2, 1)] + [
        1 / (rho * u + 1),
        1 / (u + 1),
        1 / beta,
        10 / beta,
    ]
    half = mp.mpf(1) / 2
    left_points = sorted({mp.mpf(0), half**a, *(m**a for m in marks if 0 < m < half)})
    right_points = sorted({mp.mpf(0), half**beta, *(m**beta for m in marks if 0 < m < half)})
    return mp.quad(left, left_points) + mp.quad(right, right_points)
