"""Shifted-beta-geometric (Fader and Hardie 2007, 2010): published fits, hand cases, sums.

Oracles outside our code:

- Fader and Hardie (2007), "How to Project Customer Retention": the "regular" and
  "high end" survival tables (customers alive of 1,000 at years 0-12); fitted on
  years 0-7 the paper reports regular alpha 0.704, beta 1.182 and high end alpha
  0.668, beta 3.806 (the high end values are also pinned by jdmaturen's
  shifted_beta_geometric_py test; pymc-marketing's test lists regular alpha as 0.688
  at rtol 0.1, which our maximum, 0.7041, and a Nelder-Mead fit both contradict);
- the log-likelihood as a plain sum of math.lgamma terms (hand computation);
- closed forms by hand: S(1) = beta / (alpha + beta), r(t) = S(t) / S(t - 1), and
  DERL at d = 0, the posterior mean (beta + k) / (alpha - 1);
- DERL against its defining series summed term by term (math.fsum), and the high end
  DERL(0.1) after 7 renewals, 7.530, printed in jdmaturen's README.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import crmscore as cs
from crmscore.clv import _discrete
from crmscore.errors import (
    ColumnNotFoundError,
    ConvergenceError,
    InvalidDataError,
    InvalidParameterError,
    SerializationError,
)

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]


def hand_log_likelihood(alpha: float, beta: float, alive: list[int]) -> float:
    """The sBG log-likelihood of Fader and Hardie (2007) with math.lgamma, term by term."""

    def log_beta(a: float, b: float) -> float:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    total = 0.0
    for t in range(1, len(alive)):
        lost = alive[t - 1] - alive[t]
        total += lost * (log_beta(alpha + 1, beta + t - 1) - log_beta(alpha, beta))
    periods = len(alive) - 1
    return total + alive[-1] * (log_beta(alpha, beta + periods) - log_beta(alpha, beta))


@pytest.mark.parametrize(
    ("alive", "published"),
    [
        (REGULAR[:8], {"alpha": 0.704, "beta": 1.182}),
        (HIGH_END[:8], {"alpha": 0.668, "beta": 3.806}),
    ],
)
def test_the_paper_s_segments_reproduce_its_estimates(
    alive: list[int], published: dict[str, float]
) -> None:
    model = cs.ShiftedBetaGeoFitter().fit(alive)
    assert {k: round(v, 3) for k, v in model.params.to_dict().items()} == published
    assert model.n_customers == 1000
    assert model.log_likelihood == pytest.approx(
        hand_log_likelihood(model.params.alpha, model.params.beta, alive), rel=1e-13
    )
    assert model.log_likelihood is not None
    # A maximum: the hand-computed likelihood is lower a little way off in any direction.
    for da, db in ((1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)):
        assert model.log_likelihood > hand_log_likelihood(
            model.params.alpha + da, model.params.beta + db, alive
        )
    errors = model.standard_errors
    assert errors is not None
    assert all(0 < v < 1 for v in errors.values())


def test_projection_tracks_the_held_out_years() -> None:
    """The paper's point: fitted on years 0-7, the sBG projects years 8-12 closely."""
    for data in (REGULAR, HIGH_END):
        model = cs.ShiftedBetaGeoFitter().fit(data[:8])
        projected = 1000 * model.survival(np.arange(8, 13))
        np.testing.assert_allclose(projected, data[8:], rtol=0.05)


def test_hand_computed_curves() -> None:
    alpha, beta = 0.704, 1.182
    model = cs.ShiftedBetaGeoModel.from_params({"alpha": alpha, "beta": beta})
    assert model.survival(0) == 1.0
    assert model.survival(1) == pytest.approx(beta / (alpha + beta), rel=1e-14)
    assert model.churn_probability(1) == pytest.approx(alpha / (alpha + beta), rel=1e-14)
    t = np.arange(1, 40)
    survival = model.survival(t)
    np.testing.assert_allclose(
        model.retention_rate(t), survival / model.survival(t - 1), rtol=1e-12
    )
    np.testing.assert_allclose(1 - np.cumsum(model.churn_probability(t)), survival, rtol=1e-12)
    assert (np.diff(model.retention_rate(t)) > 0).all()


def derl_series(alpha: float, beta: float, d: float, renewals: int, terms: int = 3000) -> float:
    """Sum over t >= n of S(t) / S(n - 1) (1 + d)^-(t - n), n = renewals + 1, term by term.

    S(t) / S(n - 1) is the product of the retention rates r(n) ... r(t); 3,000 terms
    leave a tail below 1e-60 of the sum at d >= 0.05.
    """
    t = np.arange(renewals + 1, renewals + 1 + terms, dtype=np.float64)
    ratios = np.cumprod((beta + t - 1) / (alpha + beta + t - 1))
    return float(math.fsum(ratios * (1 + d) ** -np.arange(terms, dtype=np.float64)))


@pytest.mark.parametrize("renewals", [0, 1, 7, 50])
@pytest.mark.parametrize("d", [0.05, 0.1, 0.5])
def test_derl_closed_form_is_its_series(renewals: int, d: float) -> None:
    for alpha, beta in ((0.704, 1.182), (0.668, 3.806), (3.0, 0.4)):
        model = cs.ShiftedBetaGeoModel.from_params({"alpha": alpha, "beta": beta})
        assert model.discounted_residual_lifetime(d, renewals=renewals) == pytest.approx(
            derl_series(alpha, beta, d, renewals), rel=1e-10
        )


def test_derl_published_and_limits() -> None:
    high_end = cs.ShiftedBetaGeoFitter().fit(HIGH_END[:8])
    assert round(high_end.discounted_residual_lifetime(0.1, renewals=7), 3) == 7.530
    model = cs.ShiftedBetaGeoModel.from_params({"alpha": 3.0, "beta": 0.4})
    renewals = np.array([0, 3, 10])
    np.testing.assert_allclose(
        model.discounted_residual_lifetime(0.0, renewals=renewals),
        (0.4 + renewals) / (3.0 - 1),
        rtol=1e-12,
    )
    heavy = cs.ShiftedBetaGeoModel.from_params({"alpha": 0.7, "beta": 1.2})
    assert heavy.discounted_residual_lifetime(0.0) == math.inf
    values = heavy.discounted_residual_lifetime(0.1, renewals=np.arange(30))
    assert (np.diff(values) > 0).all()  # survivors are the loyal ones
    with pytest.raises(InvalidParameterError, match="discount_rate"):
        heavy.discounted_residual_lifetime(-0.1)
    for bad in (1.5, -1, "2", None):
        with pytest.raises(InvalidParameterError, match="renewals"):
            heavy.discounted_residual_lifetime(0.1, renewals=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'t'"):
        heavy.survival("three")  # type: ignore[arg-type]


@pytest.mark.parametrize("theta", [(0.704, 1.182), (5.0, 0.3)])
def test_gradient_and_hessian_match_finite_differences(theta: tuple[float, float]) -> None:
    t = np.arange(1.0, 8.0)
    churned = np.array([369.0, 163, 86, 56, 37, 27, 21])
    survived = np.array([0.0, 0, 0, 0, 0, 0, 241])
    exact = _discrete.sbg_derivatives(theta, t, churned, survived)
    for i in range(2):
        e = np.zeros(2)
        e[i] = 1e-5 * theta[i]
        up = _discrete.sbg_derivatives(tuple(np.add(theta, e)), t, churned, survived)
        down = _discrete.sbg_derivatives(tuple(np.subtract(theta, e)), t, churned, survived)
        assert exact.gradient[i] == pytest.approx((up.value - down.value) / (2 * e[i]), rel=1e-6)
        np.testing.assert_allclose(
            exact.hessian[i], (up.gradient - down.gradient) / (2 * e[i]), rtol=1e-6
        )


@settings(max_examples=30, deadline=None)
@given(alpha=st.floats(0.05, 50.0), beta=st.floats(0.05, 50.0), t=st.integers(1, 500))
@example(alpha=0.0625, beta=1.0, t=398)  # S(t - 1) - S(t) loses 3e-9 relative here
def test_curves_are_probabilities(alpha: float, beta: float, t: int) -> None:
    model = cs.ShiftedBetaGeoModel.from_params({"alpha": alpha, "beta": beta})
    s = model.survival(np.arange(t + 1))
    assert ((s >= 0) & (s <= 1)).all()
    assert (np.diff(s) <= 0).all()
    assert 0 < model.retention_rate(t) < 1
    churn = model.churn_probability(t)
    # P(T = t) = S(t - 1) times the hazard alpha / (alpha + beta + t - 1); each S is
    # exact to about 1e-12 relative (log-gamma differences of numbers up to ~3,000).
    assert churn == pytest.approx(s[t - 1] * alpha / (alpha + beta + t - 1), rel=1e-11)
    # As a difference of survivals it cancels: absolute agreement, on S's scale.
    assert abs(churn - (s[t - 1] - s[t])) <= 1e-11 * s[t - 1]


# --- cohorts -------------------------------------------------------------------------------


def test_several_cohorts_add_their_likelihoods() -> None:
    cohorts = pd.DataFrame(
        [REGULAR[:8], [*HIGH_END[:5], np.nan, np.nan, np.nan]],
        index=pd.Index([2001, 2004], name="start"),
    )
    model = cs.ShiftedBetaGeoFitter().fit_cohorts(cohorts)
    a, b = model.params.alpha, model.params.beta
    by_hand = hand_log_likelihood(a, b, REGULAR[:8]) + hand_log_likelihood(a, b, HIGH_END[:5])
    assert model.log_likelihood == pytest.approx(by_hand, rel=1e-13)
    assert model.n_customers == 2000


def test_cohort_builder_and_recovery_from_simulated_subscriptions() -> None:
    rng = np.random.default_rng(2007)
    truth = {"alpha": 1.5, "beta": 4.0}
    customers = 30_000
    start = rng.integers(2010, 2016, customers)
    churn = rng.beta(truth["alpha"], truth["beta"], customers)
    duration = rng.geometric(churn)  # periods paid, >= 1
    end = start + duration - 1
    as_of = 2020
    frame = pd.DataFrame({"start": start, "end": np.where(end > as_of, np.nan, end)})
    cohorts = cs.cohort_survival(frame, as_of=as_of)
    # Hand count for one cohort and period.
    first = 2012
    paid_through = np.where(np.isnan(frame["end"]), np.inf, frame["end"])
    assert cohorts.loc[first, 3] == ((start == first) & (paid_through >= first + 3)).sum()
    assert math.isnan(float(cohorts.to_numpy()[5, 6]))
    assert list(cohorts.index) == list(range(2010, 2016))
    model = cs.ShiftedBetaGeoFitter().fit_cohorts(cohorts)
    errors = model.standard_errors
    assert errors is not None
    for name, value in truth.items():
        assert abs(getattr(model.params, name) - value) < 4 * errors[name], name


def test_cohort_builder_contract() -> None:
    subs = pd.DataFrame({"start": [1, 1, 2], "end": [1, None, 4]})
    table = cs.cohort_survival(subs, as_of=3)
    assert list(table.index) == [1, 2]
    assert [int(c) for c in table.columns] == [0, 1, 2]
    np.testing.assert_array_equal(table.to_numpy(), [[2.0, 1.0, 1.0], [1.0, 1.0, np.nan]])
    with pytest.raises(InvalidDataError, match="'end'") as info:
        cs.cohort_survival(
            pd.DataFrame({"start": [3, 1], "end": [2, 1]}, index=["x", "y"]), as_of=4
        )
    assert info.value.ids == ("x",)
    with pytest.raises(ColumnNotFoundError):
        cs.cohort_survival(subs.rename(columns={"end": "stop"}), as_of=3)
    named = subs.assign(customer=["a", "b", "c"])
    pd.testing.assert_frame_equal(
        cs.cohort_survival(named, as_of=3, customer_col="customer"), table
    )
    with pytest.raises(InvalidDataError, match="repeats") as repeated:
        cs.cohort_survival(named.assign(customer=["a", "b", "a"]), as_of=3, customer_col="customer")
    assert repeated.value.ids == ("a",)
    with pytest.raises(InvalidParameterError, match="as_of"):
        cs.cohort_survival(subs, as_of=2.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("alive", "match"),
    [
        ([1000, 700, 800], "increase"),
        ([1000, 700.5, 500], "whole numbers"),
        ([1000, 700], "three periods"),
        ([0, 0, 0], "empty cohort"),
        ([1000, -1, -2], "whole numbers"),
    ],
)
def test_bad_survival_counts_are_rejected(alive: list[float], match: str) -> None:
    with pytest.raises(InvalidDataError, match=match):
        cs.ShiftedBetaGeoFitter().fit(alive)


def test_gaps_and_degenerate_data() -> None:
    gap = pd.DataFrame([[100, np.nan, 50, 40], [100, 80, 70, 60]], index=["a", "b"])
    with pytest.raises(InvalidDataError, match="missing count") as info:
        cs.ShiftedBetaGeoFitter().fit_cohorts(gap)
    assert info.value.ids == ("a",)
    with pytest.raises(ConvergenceError):
        cs.ShiftedBetaGeoFitter().fit([1000, 1000, 1000, 1000])  # nobody churns


def test_json_round_trips() -> None:
    model = cs.ShiftedBetaGeoFitter().fit(REGULAR[:8])
    assert cs.ShiftedBetaGeoModel.from_dict(json.loads(json.dumps(model.to_dict()))) == model
    fitter = cs.ShiftedBetaGeoFitter(
        initial_params=cs.ShiftedBetaGeoParams(alpha=2, beta=3), penalizer=0.01
    )
    assert cs.ShiftedBetaGeoFitter.from_dict(json.loads(json.dumps(fitter.to_dict()))) == fitter
    with pytest.raises(SerializationError, match="beta"):
        cs.ShiftedBetaGeoModel.from_dict({"params": {"alpha": 1}})
    assert "ShiftedBetaGeoModel" in repr(model)
    assert "std_error" in model._repr_html_()
    assert list(model.summary().index) == ["alpha", "beta"]
