"""BG/BB (Fader, Hardie and Shang 2010): published estimates, lifetimes, mpmath, properties.

Oracles outside our code:

- the paper's donations estimates (its table 2 / section 4): alpha 1.204, beta 0.750,
  gamma 0.657, delta 2.783, log-likelihood -33,225.6, on 11,104 donors;
- lifetimes' BetaGeoBetaBinomFitter at identical parameters (rtol 1e-8);
- the likelihood and the conditional expectation as plain sums in 50-digit mpmath,
  where lifetimes fails (gamma = 1 divides by zero there; its likelihood adds 1e-15
  to the sum, which swamps long histories);
- parameter recovery on data simulated from known parameters.
"""

from __future__ import annotations

import json
import math
from typing import Any

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes import BetaGeoBetaBinomFitter as LifetimesBGBB
from lifetimes.datasets import load_donations

import crmscore as cs
from crmscore.clv import _discrete
from crmscore.clv import bgbb as bgbb_module
from crmscore.errors import (
    ColumnNotFoundError,
    InvalidDataError,
    InvalidParameterError,
    SerializationError,
)

PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
PUBLISHED_LOG_LIKELIHOOD = -33225.6
DONORS = 11104


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    data: pd.DataFrame = load_donations().rename(columns={"periods": "n_periods"})
    return data


@pytest.fixture(scope="module")
def fitted(donations: pd.DataFrame) -> cs.BetaGeoBetaBinomModel:
    return cs.BetaGeoBetaBinomFitter().fit_aggregated(donations, count_col="weights")


def lifetimes_at(model: cs.BetaGeoBetaBinomModel, data: pd.DataFrame) -> Any:
    fitter = model.to_lifetimes()
    fitter.data = pd.DataFrame(
        {
            "frequency": data["frequency"].to_numpy(int),
            "recency": data["recency"].to_numpy(int),
            "n_periods": data["n_periods"].to_numpy(int),
            "weights": data["weights"].to_numpy(),
        }
    )
    return fitter


def columns(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        data["frequency"].to_numpy(int),
        data["recency"].to_numpy(int),
        data["n_periods"].to_numpy(int),
    )


# --- published estimates --------------------------------------------------------------


def test_donations_reproduce_the_published_estimates(fitted: cs.BetaGeoBetaBinomModel) -> None:
    estimates = {k: round(v, 3) for k, v in fitted.params.to_dict().items()}
    assert estimates == PUBLISHED
    assert fitted.log_likelihood is not None
    assert round(fitted.log_likelihood, 1) == PUBLISHED_LOG_LIKELIHOOD
    assert fitted.n_customers == DONORS
    assert fitted.convergence is not None
    assert fitted.convergence.converged
    assert fitted.convergence.n_rows == 22


def test_one_row_per_customer_fits_the_same(
    donations: pd.DataFrame, fitted: cs.BetaGeoBetaBinomModel
) -> None:
    per_customer = donations.loc[donations.index.repeat(donations["weights"])].drop(
        columns="weights"
    )
    per_customer.index = pd.RangeIndex(len(per_customer), name="customer_id")
    again = cs.BetaGeoBetaBinomFitter().fit(per_customer)
    for name, value in fitted.params.to_dict().items():
        assert getattr(again.params, name) == pytest.approx(value, rel=1e-7)
    assert again.log_likelihood == pytest.approx(fitted.log_likelihood, rel=1e-12)
    assert again.n_customers == DONORS


def test_progress_is_reported_from_0_to_1(donations: pd.DataFrame) -> None:
    seen: list[float] = []
    cs.BetaGeoBetaBinomFitter().fit_aggregated(donations, count_col="weights", progress=seen.append)
    assert seen[0] == 0.0
    assert seen[-1] == 1.0
    assert seen == sorted(seen)


def test_fit_agrees_with_lifetimes_fit(
    donations: pd.DataFrame, fitted: cs.BetaGeoBetaBinomModel
) -> None:
    x, tx, n = columns(donations)
    theirs = LifetimesBGBB().fit(x, tx, n, weights=donations["weights"].to_numpy())
    for name, value in fitted.params.to_dict().items():
        assert value == pytest.approx(theirs.params_[name], rel=1e-4)
    # Ours is the maximum: lifetimes' (looser) optimum is not higher.
    mean = float(theirs._negative_log_likelihood_)
    assert fitted.log_likelihood is not None
    assert -fitted.log_likelihood / DONORS <= mean + 1e-12


def test_standard_errors_are_the_inverse_information(fitted: cs.BetaGeoBetaBinomModel) -> None:
    errors = fitted.standard_errors
    assert errors is not None
    theta = fitted._theta
    donations = load_donations()
    terms = _discrete.bgbb_terms(
        *(donations[c].to_numpy(float) for c in ("frequency", "recency", "periods"))
    )
    counts = donations["weights"].to_numpy(float)

    def gradient(point: np.ndarray) -> np.ndarray:
        return _discrete.bgbb_derivatives(tuple(point), terms, counts).gradient

    # The information by central differences of the analytic gradient.
    step = 1e-5 * np.asarray(theta)
    hessian = np.column_stack(
        [
            (gradient(np.asarray(theta) + e) - gradient(np.asarray(theta) - e)) / (2 * e.sum())
            for e in np.diag(step)
        ]
    )
    covariance = np.linalg.inv(-(hessian + hessian.T) / 2)
    assert list(errors.values()) == pytest.approx(np.sqrt(np.diag(covariance)), rel=1e-5)
    summary = fitted.summary()
    assert list(summary.index) == ["alpha", "beta", "gamma", "delta"]
    assert (summary["lower"] < summary["estimate"]).all()
    assert (summary["estimate"] < summary["upper"]).all()


# --- the analytic derivatives ---------------------------------------------------------


@pytest.mark.parametrize("theta", [(1.204, 0.75, 0.657, 2.783), (0.3, 4.0, 1.0, 0.2)])
def test_gradient_and_hessian_match_finite_differences(theta: tuple[float, ...]) -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(0, 12, 300).astype(float)
    tx = np.floor(rng.uniform(0, 1, 300) * (n + 1))
    x = np.where(tx > 0, np.floor(rng.uniform(0, 1, 300) * tx) + 1, 0.0)
    terms = _discrete.bgbb_terms(x, tx, n)
    counts = rng.integers(1, 5, 300).astype(float)
    exact = _discrete.bgbb_derivatives(theta, terms, counts)
    for i in range(4):
        e = np.zeros(4)
        e[i] = 1e-4 * theta[i]
        up = _discrete.bgbb_derivatives(tuple(np.add(theta, e)), terms, counts)
        down = _discrete.bgbb_derivatives(tuple(np.subtract(theta, e)), terms, counts)
        assert exact.gradient[i] == pytest.approx((up.value - down.value) / (2 * e[i]), rel=1e-6)
        assert exact.hessian[i] == pytest.approx(
            (up.gradient - down.gradient) / (2 * e[i]), rel=1e-6, abs=1e-6
        )


# --- lifetimes at identical parameters -------------------------------------------------


def test_predictions_agree_with_lifetimes(
    donations: pd.DataFrame, fitted: cs.BetaGeoBetaBinomModel
) -> None:
    theirs = lifetimes_at(fitted, donations)
    x, tx, n = columns(donations)
    table = donations.drop(columns="weights")
    ours_ll = fitted.log_likelihood_of(table).to_numpy()
    np.testing.assert_allclose(
        ours_ll, LifetimesBGBB._loglikelihood(fitted._theta, x, tx, n), rtol=1e-8
    )
    for ahead in (0, 1, 4):
        np.testing.assert_allclose(
            fitted.probability_alive(table, ahead=ahead).to_numpy(),
            theirs.conditional_probability_alive(ahead, x, tx, n),
            rtol=1e-8,
        )
    for horizon in (1, 5, 10, 30):
        np.testing.assert_allclose(
            fitted.expected_purchases(table, t=horizon).to_numpy(),
            theirs.conditional_expected_number_of_purchases_up_to_time(horizon, x, tx, n),
            rtol=1e-8,
        )
    counts = theirs.expected_number_of_transactions_in_first_n_periods(6)["model"]
    probabilities = fitted.probability_of_purchases(counts.index.to_numpy(), t=6)
    np.testing.assert_allclose(probabilities * DONORS, counts.to_numpy(), rtol=1e-8)


def test_new_customer_expectation_is_the_mean_of_the_distribution(
    fitted: cs.BetaGeoBetaBinomModel,
) -> None:
    for n in (0, 1, 6, 25):
        probabilities = fitted.probability_of_purchases(np.arange(n + 1), t=n)
        assert probabilities.sum() == pytest.approx(1.0, rel=1e-12)
        mean = float(np.dot(np.arange(n + 1), probabilities))
        assert fitted.expected_purchases_new_customer(n) == pytest.approx(mean, rel=1e-10)
    assert fitted.probability_of_purchases(3, t=2) == 0.0
    # A new customer is one with x = t_x = n = 0.
    zero = pd.DataFrame({"frequency": [0], "recency": [0], "n_periods": [0]})
    assert fitted.expected_purchases(zero, t=7).iloc[0] == pytest.approx(
        fitted.expected_purchases_new_customer(7), rel=1e-12
    )


# --- mpmath, where lifetimes fails ------------------------------------------------------


def oracle(theta: tuple[float, ...], x: int, tx: int, n: int, horizon: int) -> tuple[Any, Any]:
    """Log-likelihood and E[X(n, n + horizon)] as plain sums of beta functions, 50 digits."""
    with mp.workdps(50):
        a, b, g, d = (mp.mpf(v) for v in theta)
        bab, bgd = mp.beta(a, b), mp.beta(g, d)
        likelihood = mp.beta(a + x, b + n - x) / bab * mp.beta(g, d + n) / bgd
        for i in range(n - tx):
            likelihood += mp.beta(a + x, b + tx - x + i) / bab * mp.beta(g + 1, d + tx + i) / bgd
        head = mp.beta(a + x + 1, b + n - x) / bab
        expected = head * mp.fsum(mp.beta(g, d + n + j) / bgd for j in range(1, horizon + 1))
        return mp.log(likelihood), expected / likelihood


@pytest.mark.parametrize(
    ("theta", "row"),
    [
        ((1.204, 0.75, 1.0, 2.783), (3, 5, 6)),  # gamma = 1: lifetimes divides by 0
        ((1.204, 0.75, 1.0 + 3e-6, 2.783), (3, 5, 6)),  # near 1: lifetimes cancels
        ((0.5, 2.0, 0.7, 3.0), (400, 900, 1000)),  # long history
        ((2.0, 0.5, 0.3, 8.0), (0, 0, 200)),
        ((50.0, 0.1, 0.05, 40.0), (100, 100, 100)),
    ],
)
def test_extremes_agree_with_mpmath(theta: tuple[float, ...], row: tuple[int, int, int]) -> None:
    model = cs.BetaGeoBetaBinomModel.from_params(
        dict(zip(("alpha", "beta", "gamma", "delta"), theta, strict=True))
    )
    x, tx, n = row
    table = pd.DataFrame({"frequency": [x], "recency": [tx], "n_periods": [n]})
    for horizon in (1, 10, 300):
        log_likelihood, expected = oracle(theta, x, tx, n, horizon)
        assert model.log_likelihood_of(table).iloc[0] == pytest.approx(
            float(log_likelihood), rel=1e-11
        )
        assert model.expected_purchases(table, t=horizon).iloc[0] == pytest.approx(
            float(expected), rel=1e-9
        )


def plain_log_likelihood(theta: tuple[float, ...], x: int, tx: int, n: int) -> float:
    """The BG/BB likelihood with math.lgamma term by term, summed with math.fsum."""
    a, b, g, d = theta

    def log_beta(p: float, q: float) -> float:
        return math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)

    base = log_beta(a, b) + log_beta(g, d)
    logs = [log_beta(a + x, b + n - x) + log_beta(g, d + n) - base]
    logs += [
        log_beta(a + x, b + tx - x + i) + log_beta(g + 1, d + tx + i) - base for i in range(n - tx)
    ]
    top = max(logs)
    return top + math.log(math.fsum(math.exp(v - top) for v in logs))


@pytest.mark.parametrize("row", [(0, 0, 100_000), (50_000, 99_000, 100_000), (7, 10, 60_000)])
def test_histories_of_a_hundred_thousand_opportunities(row: tuple[int, int, int]) -> None:
    theta = (1.204, 0.75, 0.657, 2.783)
    model = cs.BetaGeoBetaBinomModel.from_params(
        dict(zip(("alpha", "beta", "gamma", "delta"), theta, strict=True))
    )
    table = pd.DataFrame([row], columns=["frequency", "recency", "n_periods"])
    assert model.log_likelihood_of(table).iloc[0] == pytest.approx(
        plain_log_likelihood(theta, *row), rel=1e-10
    )
    for value in (
        model.probability_alive(table).iloc[0],
        model.expected_purchases(table, t=100_000).iloc[0],
    ):
        assert math.isfinite(value)
        assert value >= 0


def test_long_inputs_are_done_in_chunks_with_the_same_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(3)
    n = rng.integers(0, 60, 500).astype(float)
    tx = np.floor(rng.uniform(size=500) * (n + 1))
    x = np.where(tx > 0, np.floor(rng.uniform(size=500) * tx) + 1, 0.0)
    theta = (1.204, 0.75, 0.657, 2.783)
    whole = _discrete.bgbb_log_likelihood(theta, x, tx, n)
    counts, horizons = np.arange(41.0), np.full(41, 40.0)
    distribution = _discrete.bgbb_probability_of_transactions(theta, counts, horizons)
    monkeypatch.setattr(_discrete, "_MAX_TERMS", 97)
    np.testing.assert_array_equal(_discrete.bgbb_log_likelihood(theta, x, tx, n), whole)
    np.testing.assert_array_equal(
        _discrete.bgbb_probability_of_transactions(theta, counts, horizons), distribution
    )


def test_lifetimes_fails_where_we_do_not() -> None:
    """The gamma = 1 case above is one lifetimes cannot compute (a real failure, not ours)."""
    fitter = cs.BetaGeoBetaBinomModel.from_params(
        {"alpha": 1.204, "beta": 0.75, "gamma": 1.0, "delta": 2.783}
    ).to_lifetimes()
    with np.errstate(all="ignore"):
        value = fitter.conditional_expected_number_of_purchases_up_to_time(
            5, np.array([3]), np.array([5]), np.array([6])
        )
    assert not np.isfinite(value).all()


# --- properties --------------------------------------------------------------------------

_params = st.builds(
    lambda a, b, g, d: cs.BetaGeoBetaBinomModel.from_params(
        {"alpha": a, "beta": b, "gamma": g, "delta": d}
    ),
    *(st.floats(0.05, 20.0) for _ in range(4)),
)


@settings(max_examples=25, deadline=None)
@given(model=_params, n=st.integers(1, 40), x=st.integers(1, 40), ahead=st.integers(0, 5))
def test_probability_alive_is_bounded_and_rises_with_recency(
    model: cs.BetaGeoBetaBinomModel, n: int, x: int, ahead: int
) -> None:
    x = min(x, n)
    recencies = np.arange(x, n + 1)
    table = pd.DataFrame(
        {"frequency": x, "recency": recencies, "n_periods": n}, index=recencies.astype(str)
    )
    alive = model.probability_alive(table, ahead=ahead).to_numpy()
    assert ((alive >= 0) & (alive <= 1)).all()
    assert (np.diff(alive) >= -1e-12 * alive[1:]).all()


@settings(max_examples=25, deadline=None)
@given(model=_params, n=st.integers(0, 30), x=st.integers(0, 30), tx=st.integers(0, 30))
def test_expected_purchases_are_non_negative_and_rise_with_the_horizon(
    model: cs.BetaGeoBetaBinomModel, n: int, x: int, tx: int
) -> None:
    tx = min(tx, n)
    x = min(x, tx) if tx > 0 else 0
    x = max(x, 1) if tx > 0 else 0
    table = pd.DataFrame({"frequency": [x], "recency": [tx], "n_periods": [n]})
    values = np.array([model.expected_purchases(table, t=h).iloc[0] for h in (0, 1, 2, 5, 20)])
    assert values[0] == 0.0
    assert (values >= 0).all()
    assert np.isfinite(values).all()
    assert (np.diff(values) > 0).all()
    assert (np.diff(values) <= np.diff([0, 1, 2, 5, 20]) * (1 + 1e-12)).all()


# --- parameter recovery ------------------------------------------------------------------


def simulate(
    params: dict[str, float], customers: int, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Transactions (customers x n opportunities, bool) drawn from the BG/BB's story."""
    p = rng.beta(params["alpha"], params["beta"], customers)
    theta = rng.beta(params["gamma"], params["delta"], customers)
    # Alive at opportunity t (1..n) if not dead before any of the first t.
    survived = rng.uniform(size=(customers, n)) >= theta[:, None]
    alive = np.cumprod(survived, axis=1).astype(bool)
    return alive & (rng.uniform(size=(customers, n)) < p[:, None])


def histories(buys: np.ndarray) -> pd.DataFrame:
    n = buys.shape[1]
    x = buys.sum(axis=1)
    last = np.where(x > 0, n - np.argmax(buys[:, ::-1], axis=1), 0)
    return pd.DataFrame({"frequency": x, "recency": last, "n_periods": n})


def test_parameters_are_recovered_from_simulated_data() -> None:
    truth = {"alpha": 1.2, "beta": 0.8, "gamma": 0.6, "delta": 2.5}
    buys = simulate(truth, 20_000, 10, np.random.default_rng(2010))
    model = cs.BetaGeoBetaBinomFitter().fit(histories(buys))
    errors = model.standard_errors
    assert errors is not None
    for name, value in truth.items():
        assert abs(getattr(model.params, name) - value) < 4 * errors[name], name


# --- the table builder --------------------------------------------------------------------


def test_table_builder_recovers_simulated_histories() -> None:
    rng = np.random.default_rng(7)
    buys = simulate({"alpha": 1.0, "beta": 1.0, "gamma": 0.5, "delta": 2.0}, 300, 8, rng)
    cohort = 2015 + np.arange(300) % 4  # first purchase years 2015 .. 2018
    seen = 2023 - cohort  # opportunities observed up to as_of: 8 .. 5
    buys &= np.arange(8)[None, :] < seen[:, None]  # later years are not observed
    customer, opportunity = np.nonzero(buys)
    ids = np.concatenate([np.arange(300), customer])
    years = np.concatenate([cohort, cohort[customer] + opportunity + 1])
    days = rng.integers(0, 365, ids.size)
    log = pd.DataFrame(
        {
            "customer_id": ids,
            "timestamp": pd.to_datetime(years.astype(str)) + pd.to_timedelta(days, "D"),
        }
    ).sample(frac=1.0, random_state=1)
    table = cs.discrete_rfm_table(log, as_of="2023-12-31")
    expected = histories(buys).assign(n_periods=seen).astype(np.int64)
    expected.index = pd.RangeIndex(300, name="customer_id")
    pd.testing.assert_frame_equal(table, expected, check_index_type=False)
    assert table.attrs["period"] == "Y"


def test_table_builder_counts_a_period_once_and_ignores_later_rows() -> None:
    log = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 2],
            "timestamp": pd.to_datetime(
                ["2024-01-05", "2024-01-20", "2024-03-01", "2024-07-01", "2024-02-10"]
            ),
        }
    )
    table = cs.discrete_rfm_table(log, as_of="2024-04-15", period="M")
    assert table.to_dict("index") == {
        1: {"frequency": 1, "recency": 2, "n_periods": 3},
        2: {"frequency": 0, "recency": 0, "n_periods": 2},
    }
    with pytest.raises(InvalidParameterError, match="period"):
        cs.discrete_rfm_table(log, as_of="2024-04-15", period="fortnight")
    with pytest.raises(ColumnNotFoundError):
        cs.discrete_rfm_table(log.rename(columns={"timestamp": "ts"}), as_of="2024-04-15")
    with pytest.raises(InvalidDataError, match="as_of"):
        cs.discrete_rfm_table(log, as_of="2020-01-01")
    with pytest.raises(InvalidDataError, match="customer_id"):
        cs.discrete_rfm_table(
            log.assign(customer_id=pd.array([1, None, 1, 1, 2], dtype="Int64")), as_of="2024-04-15"
        )
    # Row order does not matter, and the caller's frame is left alone.
    before = log.copy()
    shuffled = cs.discrete_rfm_table(log.iloc[::-1], as_of="2024-04-15", period="M")
    pd.testing.assert_frame_equal(shuffled, table)
    pd.testing.assert_frame_equal(log, before)


@pytest.mark.parametrize("period", ["Y", "Q", "M", "W", "D"])
def test_period_numbers_are_pandas_periods(period: str) -> None:
    """Consecutive pandas periods (to_period) get consecutive numbers: same differences."""
    rng = np.random.default_rng(11)
    days = rng.integers(-20_000, 20_000, 5_000).astype("timedelta64[D]")
    seconds = rng.integers(0, 86_400, 5_000).astype("timedelta64[s]")
    stamps = (np.datetime64("1990-01-01") + days + seconds).astype("datetime64[ns]")
    ours = bgbb_module._period_numbers(stamps, period)
    theirs = pd.DatetimeIndex(stamps).to_period(period).asi8
    assert np.unique(ours - theirs).size == 1


# --- contracts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ((2, 1, 5), "frequency"),
        ((1, 6, 5), "recency"),
        ((0, 2, 5), "recency"),
        ((1.5, 2, 5), "frequency"),
        ((1, 2, -1), "n_periods"),
    ],
)
def test_bad_histories_name_the_column_and_customer(row: tuple[float, ...], column: str) -> None:
    table = pd.DataFrame(
        [(1, 1, 5), row], columns=["frequency", "recency", "n_periods"], index=["ok", "bad"]
    )
    with pytest.raises(InvalidDataError, match=column) as info:
        cs.BetaGeoBetaBinomFitter().fit(table)
    assert info.value.ids == ("bad",)


def test_unidentified_data_and_bad_horizons_are_rejected(fitted: cs.BetaGeoBetaBinomModel) -> None:
    none = pd.DataFrame({"frequency": [0, 0], "recency": [0, 0], "n_periods": [3, 4]})
    with pytest.raises(InvalidDataError, match="not identified"):
        cs.BetaGeoBetaBinomFitter().fit(none)
    table = pd.DataFrame({"frequency": [1], "recency": [2], "n_periods": [3]})
    bads: tuple[Any, ...] = (-1, 1.5, math.nan, True, "5", "five", None)
    for bad in bads:
        with pytest.raises(InvalidParameterError, match="'t'"):
            fitted.expected_purchases(table, t=bad)
    with pytest.raises(InvalidParameterError, match="ahead"):
        fitted.probability_alive(table, ahead=-1)


def test_json_round_trips(fitted: cs.BetaGeoBetaBinomModel) -> None:
    text = json.dumps(fitted.to_dict(), allow_nan=False)
    assert cs.BetaGeoBetaBinomModel.from_dict(json.loads(text)) == fitted
    fitter = cs.BetaGeoBetaBinomFitter(
        initial_params=cs.BetaGeoBetaBinomParams(alpha=1, beta=2, gamma=3, delta=4), penalizer=0.1
    )
    assert cs.BetaGeoBetaBinomFitter.from_dict(json.loads(json.dumps(fitter.to_dict()))) == fitter
    with pytest.raises(SerializationError, match="delta"):
        cs.BetaGeoBetaBinomModel.from_dict({"params": {"alpha": 1, "beta": 1, "gamma": 1}})
    assert cs.BetaGeoBetaBinomModel.from_lifetimes(fitted.to_lifetimes()).params == fitted.params
    assert "BetaGeoBetaBinomModel" in repr(fitted)
    assert "std_error" in fitted._repr_html_()


def test_customer_lifetime_value_accepts_the_model(fitted: cs.BetaGeoBetaBinomModel) -> None:
    """One opportunity per discounting step: CLV is the discounted increments by hand."""
    spend = cs.GammaGammaModel.from_params(cs.GammaGammaParams(p=6.25, q=3.74, v=15.44))
    table = pd.DataFrame(
        {
            "frequency": [0, 3, 6],
            "recency": [0, 4, 6],
            "n_periods": [6, 6, 6],
            "monetary_value": [0.0, 30.0, 50.0],
        }
    )
    value = cs.customer_lifetime_value(
        table,
        purchase_model=fitted,
        spend_model=spend,
        horizon=5,
        discount_rate=0.1,
        periods_per_step=1,
    )
    mean_spend = spend.expected_spend(table).to_numpy()
    cumulative = np.array([fitted.expected_purchases(table, t=k).to_numpy() for k in range(6)])
    by_hand = (np.diff(cumulative, axis=0) / 1.1 ** np.arange(1, 6)[:, None]).sum(axis=0)
    np.testing.assert_allclose(value.to_numpy(), by_hand * mean_spend, rtol=1e-12)
