"""Pareto/NBD P(X(t) = n), new and conditional: mpmath, lifetimes, sums and means."""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from lifetimes.datasets import load_cdnow_summary

from crmscore import (
    InvalidParameterError,
    ParetoNBDModel,
    ParetoNBDParams,
    predict_purchase_distribution,
)

#: The BTYD walkthrough's CDNOW estimates (weeks).
BTYD = ParetoNBDModel.from_params({"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562})


def oracle(params: ParetoNBDParams, n: int, t: float) -> float:
    """P(X(t) = n) from its definition, integrated over the death time in 50 digits.

    Alive at t: a negative binomial count; dead at tau < t (density
    s beta^s / (beta + tau)^(s + 1)): a negative binomial count in tau. The
    integral is cut at t 2^(-k/2), so that mpmath's quadrature sees every scale.
    """
    with mp.workdps(50):
        r, alpha, s, beta, tt = (
            mp.mpf(v) for v in (params.r, params.alpha, params.s, params.beta, t)
        )

        def negative_binomial(time: mp.mpf) -> mp.mpf:
            return mp.exp(
                mp.loggamma(r + n)
                - mp.loggamma(r)
                - mp.loggamma(n + 1)
                + r * mp.log(alpha / (alpha + time))
                + (n * mp.log(time / (alpha + time)) if n else 0)
            )

        alive = negative_binomial(tt) * (beta / (beta + tt)) ** s
        points = [mp.mpf(0)] + [tt * mp.mpf(2) ** (-k / mp.mpf(2)) for k in range(80, -1, -1)]
        dead = mp.quad(
            lambda tau: negative_binomial(tau) * s * beta**s / (beta + tau) ** (s + 1), points
        )
        return float(alive + dead)


@pytest.mark.parametrize(
    ("params", "n", "t"),
    [
        # alpha far above beta; a sharp peak far inside (0, t) (where mpmath needs
        # the cuts); a long-lived customer's posterior with a large count.
        (ParetoNBDParams(r=0.1, alpha=100.0, s=0.1, beta=0.01), 3, 1e4),
        (ParetoNBDParams(r=50.0, alpha=2.0, s=0.5, beta=300.0), 100, 52.0),
        (ParetoNBDParams(r=300.5, alpha=1e5, s=0.6, beta=1e5), 250, 1e5),
    ],
)
def test_new_customer_matches_mpmath(params: ParetoNBDParams, n: int, t: float) -> None:
    got = ParetoNBDModel.from_params(params).probability_of_purchases(n, t=t)
    assert got == pytest.approx(oracle(params, n, t), rel=1e-10)


@pytest.mark.parametrize("t", [1.0, 39.0, 500.0])
def test_new_customer_sums_to_one_with_the_expected_mean(t: float) -> None:
    n = np.arange(4000)
    probabilities = BTYD.probability_of_purchases(n, t=t)
    assert probabilities.min() >= 0.0
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    mean = float((n * probabilities).sum())
    assert mean == pytest.approx(BTYD.expected_purchases_new_customer(t), rel=1e-10)


def test_new_customer_edges_and_errors() -> None:
    assert BTYD.probability_of_purchases(0, t=0.0) == 1.0
    assert BTYD.probability_of_purchases(3, t=0.0) == 0.0
    grid = BTYD.probability_of_purchases(np.array([[0], [1]]), t=[1.0, 2.0, 3.0])
    assert grid.shape == (2, 3)
    with pytest.raises(InvalidParameterError, match=r"ParetoNBDModel\.probability_of_purchases"):
        BTYD.probability_of_purchases(1.5, t=1.0)  # type: ignore[call-overload]
    with pytest.raises(InvalidParameterError):
        BTYD.probability_of_purchases(1, t=-1.0)


TABLE = pd.DataFrame(
    {
        "frequency": [0, 2, 26, 5, 1, 40],
        "recency": [0.0, 30.4, 30.86, 3.0, 38.0, 60.0],
        "T": [38.9, 38.9, 31.0, 38.9, 38.9, 78.0],
    },
    index=pd.Index(list("abcdef"), name="customer_id"),
)


def test_conditional_matches_lifetimes() -> None:
    """lifetimes evaluates the note's hypergeometric form (eq. 16), where it is finite."""
    dist = predict_purchase_distribution(TABLE, model=BTYD, t=39.0, max_purchases=6)
    reference = BTYD.to_lifetimes()
    x, tx, age = (TABLE[c].to_numpy(np.float64) for c in ("frequency", "recency", "T"))
    compared = 0
    for n in range(7):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = np.asarray(
                reference.conditional_probability_of_n_purchases_up_to_time(n, 39.0, x, tx, age),
                dtype=np.float64,
            )
        finite = np.isfinite(theirs)
        np.testing.assert_allclose(dist[n].to_numpy()[finite], theirs[finite], rtol=1e-8)
        compared += int(finite.sum())
    assert compared >= 30


def test_conditional_sums_to_one_with_the_expected_mean() -> None:
    dist = predict_purchase_distribution(TABLE, model=BTYD, t=52.0, max_purchases=400)
    assert list(dist.index) == list(TABLE.index)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0, atol=1e-12)
    assert (dist["more"] < 1e-12).all()
    mean = (dist.drop(columns="more") * np.arange(401)).sum(axis=1)
    np.testing.assert_allclose(mean, BTYD.expected_purchases(TABLE, t=52.0), rtol=1e-10)


def test_conditional_of_a_new_customer_is_the_unconditional() -> None:
    table = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0]})
    dist = predict_purchase_distribution(table, model=BTYD, t=20.0, max_purchases=5)
    np.testing.assert_allclose(
        dist.iloc[0, :6].to_numpy(), BTYD.probability_of_purchases(np.arange(6), t=20.0), rtol=1e-13
    )


def test_conditional_on_cdnow_is_finite_and_sums_to_one() -> None:
    """Every CDNOW customer, where lifetimes' form overflows for some."""
    cdnow = load_cdnow_summary(index_col=[0])
    dist = predict_purchase_distribution(cdnow, model=BTYD, t=39.0, max_purchases=30)
    assert np.isfinite(dist.to_numpy()).all()
    np.testing.assert_allclose(dist.sum(axis=1), 1.0, atol=1e-12)
