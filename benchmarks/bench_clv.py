"""BG/NBD, MBG/NBD, Pareto/NBD and BG/BB fits and predictions against lifetimes.

    python benchmarks/bench_clv.py                     # 1M customers, ~10M transactions
    python benchmarks/bench_clv.py --customers 20000   # a quick run
    python benchmarks/bench_clv.py --lifetimes-sample 100000   # lifetimes on a subsample

On the standard synthetic book in daily units: crmscore's BetaGeoFitter.fit against
lifetimes.BetaGeoFitter.fit (times, ratio, both log-likelihoods), then P(alive) and
expected purchases for every customer at identical parameters (times, ratios, and a
check that the values agree). pymc-marketing's BetaGeoModel MAP fit is timed too
when the package is importable (it is not a dependency). Then intervals for every
customer's expected purchases and the book total: delta method, and a bootstrap of
``--replicates`` (default 200) replicates.

Each further model (MBG/NBD, Pareto/NBD) is timed the same way on the same table.
Last, the covariate BG/NBD and Gamma-Gamma fits (three categorical covariates) and
their predictions, and both fits with a continuous covariate and two dummies on
(at most) 100,000 customers; CLVTools, the R reference for that form, cannot run here, so
those times have no ratio. With
``--lifetimes-sample n`` (smaller than the book), lifetimes' fits run on the first n
customers only: both fits are then timed on that sample (a measured ratio at equal
data, with both log-likelihoods), and the full-book ratio is stated as an
extrapolation, lifetimes' time scaled by (customers / n) -- its cost per optimiser
iteration is linear in the rows, and it does not compress them. The Pareto/NBD's
lifetimes fit always runs on a sample (50,000 customers unless
``--lifetimes-sample`` says otherwise): on a million it takes many minutes.

The BG/BB (discrete opportunities) has its own table: as many customers, simulated
from known parameters with 10 yearly opportunities each, fitted by both libraries
from one row per customer (lifetimes' documented use; crmscore compresses the rows
itself), then P(alive) and expected transactions at identical parameters.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from _common import book, machine, parser, row, timed
from lifetimes import BetaGeoBetaBinomFitter as LifetimesBetaGeoBetaBinomFitter
from lifetimes import BetaGeoFitter as LifetimesBetaGeoFitter
from lifetimes import ModifiedBetaGeoFitter as LifetimesModifiedBetaGeoFitter
from lifetimes import ParetoNBDFitter as LifetimesParetoNBDFitter

import crmscore as cs

HORIZON = 30.0  # days


def lifetimes_fit(table: Any) -> Any:
    return LifetimesBetaGeoFitter().fit(table["frequency"], table["recency"], table["T"])


def lifetimes_log_likelihood(params: cs.BetaGeoParams, table: Any) -> float:
    """Total log-likelihood by lifetimes' own formula (its fit reports it on rescaled time)."""
    x, tx, age = (table[c].to_numpy(np.float64) for c in ("frequency", "recency", "T"))
    log_params = np.log([params.r, params.alpha, params.a, params.b])
    mean = LifetimesBetaGeoFitter._negative_log_likelihood(
        log_params, x, tx, age, np.ones_like(x), 0.0
    )
    return -float(mean) * len(x)


def pymc_marketing_fit(table: Any) -> tuple[float, float] | None:
    """MAP fit with pymc-marketing; returns (seconds, log-likelihood) or None."""
    try:
        from pymc_marketing.clv import BetaGeoModel as PymcBetaGeoModel  # noqa: PLC0415
    except ImportError:
        return None
    data = table[["frequency", "recency", "T"]].reset_index(names="customer_id")
    with warnings.catch_warnings():  # pymc's own chatter; never our code's warnings
        warnings.simplefilter("ignore")
        fitted, seconds = timed(lambda: PymcBetaGeoModel(data=data).fit(method="map"))
    posterior = fitted.posterior if hasattr(fitted, "posterior") else fitted
    params = cs.BetaGeoParams(
        **{name: float(posterior[name].to_numpy().ravel()[0]) for name in ("r", "alpha", "a", "b")}
    )
    return seconds, lifetimes_log_likelihood(params, table)


def lifetimes_sample(table: Any, size: int | None) -> Any:
    """The customers lifetimes' fits are timed on: all, or the first ``size``."""
    return table if size is None or size >= len(table) else table.iloc[:size]


def compare_fit(
    label: str,
    *,
    table: Any,
    sample: Any,
    ours: Any,
    theirs: Any,
    ours_ll: Any,
    theirs_ll: Any,
    repeat: int,
) -> Any:
    """Time our fit and lifetimes' (on ``sample``), check our optimum is not worse.

    ``ours(frame)`` returns a fitted model; ``theirs(frame)`` a fitted lifetimes model;
    ``ours_ll``/``theirs_ll`` give a model's total log-likelihood on a frame.
    """
    model, ours_fit = timed(lambda: ours(table), repeat=repeat)
    print(row(f"crmscore {label}.fit ({len(table):,})", ours_fit))
    reference, ref_fit = timed(lambda: theirs(sample))
    print(row(f"lifetimes {label}.fit ({len(sample):,})", ref_fit))
    if len(sample) == len(table):
        print(f"  fit: crmscore is {ref_fit / ours_fit:.1f}x faster (same data)")
        ll, ref_ll = ours_ll(model, table), theirs_ll(reference, table)
    else:
        model_s, ours_s = timed(lambda: ours(sample), repeat=repeat)
        print(row(f"crmscore {label}.fit ({len(sample):,})", ours_s))
        scaled = ref_fit * len(table) / len(sample)
        print(
            f"  fit: crmscore is {ref_fit / ours_s:.1f}x faster on the same {len(sample):,} "
            f"customers; on {len(table):,}, {scaled / ours_fit:.1f}x against lifetimes' time "
            f"scaled linearly ({scaled:.1f} s, extrapolated, not measured)"
        )
        ll, ref_ll = ours_ll(model_s, sample), theirs_ll(reference, sample)
    print(f"  log-likelihood: crmscore {ll:.6f}, lifetimes {ref_ll:.6f} (each by its own formula)")
    if not math.isfinite(ref_ll):
        # lifetimes' formula fails on some rows at its own optimum: judge its
        # parameters by ours (exact where lifetimes is finite, see the tests).
        frame = table if len(sample) == len(table) else sample
        ref_ll = ours_ll(type(model).from_lifetimes(reference), frame)
        print(f"  lifetimes' parameters by crmscore's likelihood: {ref_ll:.6f}")
    assert ll >= ref_ll - 1e-3, f"crmscore's {label} optimum is worse than lifetimes'"
    return model


def bench_mbgnbd(table: Any, args: Any) -> None:
    """MBG/NBD: fit, P(alive) and expected purchases against lifetimes."""
    print("MBG/NBD (ModifiedBetaGeoFitter)")
    columns = ("frequency", "recency", "T")

    def theirs(frame: Any) -> Any:
        return LifetimesModifiedBetaGeoFitter().fit(*(frame[c] for c in columns))

    def theirs_ll(fitted: Any, frame: Any) -> float:
        x, tx, age = (frame[c].to_numpy(np.float64) for c in columns)
        log_params = np.log(fitted.params_[["r", "alpha", "a", "b"]].to_numpy(np.float64))
        mean = LifetimesModifiedBetaGeoFitter._negative_log_likelihood(
            log_params, x, tx, age, np.ones_like(x), 0.0
        )
        return -float(mean) * len(x)

    model = compare_fit(
        "ModifiedBetaGeoFitter",
        table=table,
        sample=lifetimes_sample(table, args.lifetimes_sample),
        ours=lambda frame: cs.ModifiedBetaGeoFitter().fit(frame),
        theirs=theirs,
        ours_ll=lambda fitted, frame: float(fitted.log_likelihood_of(frame).sum()),
        theirs_ll=theirs_ll,
        repeat=args.repeat,
    )
    reference = model.to_lifetimes()
    x, tx, age = (table[c] for c in columns)
    alive, ours_alive = timed(lambda: model.probability_alive(table), repeat=args.repeat)
    ref_alive, theirs_alive = timed(lambda: reference.conditional_probability_alive(x, tx, age))
    np.testing.assert_allclose(alive.to_numpy(), np.asarray(ref_alive), rtol=1e-10)
    print(row("crmscore probability_alive", ours_alive))
    print(row("lifetimes conditional_probability_alive", theirs_alive))
    print(f"  P(alive): crmscore is {theirs_alive / ours_alive:.1f}x faster, same values (1e-10)")
    expected, ours_exp = timed(
        lambda: model.expected_purchases(table, t=HORIZON), repeat=args.repeat
    )
    ref_exp, theirs_exp = timed(
        lambda: reference.conditional_expected_number_of_purchases_up_to_time(HORIZON, x, tx, age)
    )
    np.testing.assert_allclose(expected.to_numpy(), np.asarray(ref_exp), rtol=1e-8)
    print(row(f"crmscore expected_purchases (t={HORIZON:g})", ours_exp))
    print(row("lifetimes conditional_expected_number_of_...", theirs_exp))
    print(
        f"  expected purchases: crmscore is {theirs_exp / ours_exp:.1f}x faster, same values (1e-8)"
    )


#: lifetimes' Pareto/NBD fit (Nelder-Mead, hyp2f1 on every row) took 10 s for 20,000
#: customers here: on 1M it would take many minutes, so it is timed on a sample.
PARETO_LIFETIMES_SAMPLE = 50_000


def bench_pareto(table: Any, args: Any) -> None:
    """Pareto/NBD: fit, P(alive) and expected purchases against lifetimes."""
    print("Pareto/NBD (ParetoNBDFitter)")
    columns = ("frequency", "recency", "T")

    def theirs(frame: Any) -> Any:
        with warnings.catch_warnings():  # lifetimes' hyp2f1 overflow chatter
            warnings.simplefilter("ignore")
            return LifetimesParetoNBDFitter().fit(*(frame[c] for c in columns))

    def theirs_ll(fitted: Any, frame: Any) -> float:
        x, tx, age = (frame[c].to_numpy(np.float64) for c in columns)
        theta = tuple(fitted.params_[["r", "alpha", "s", "beta"]].to_numpy(np.float64))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = LifetimesParetoNBDFitter._conditional_log_likelihood(theta, x, tx, age)
        return float(np.sum(values))

    size = args.lifetimes_sample or PARETO_LIFETIMES_SAMPLE
    model = compare_fit(
        "ParetoNBDFitter",
        table=table,
        sample=lifetimes_sample(table, size),
        ours=lambda frame: cs.ParetoNBDFitter().fit(frame),
        theirs=theirs,
        ours_ll=lambda fitted, frame: float(fitted.log_likelihood_of(frame).sum()),
        theirs_ll=theirs_ll,
        repeat=1,
    )
    reference = model.to_lifetimes()
    x, tx, age = (table[c] for c in columns)
    alive, ours_alive = timed(lambda: model.probability_alive(table), repeat=args.repeat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_alive, theirs_alive = timed(lambda: reference.conditional_probability_alive(x, tx, age))
    finite = np.isfinite(np.asarray(ref_alive, dtype=np.float64))
    np.testing.assert_allclose(alive.to_numpy()[finite], np.asarray(ref_alive)[finite], rtol=1e-9)
    print(row("crmscore probability_alive", ours_alive))
    print(row("lifetimes conditional_probability_alive", theirs_alive))
    print(
        f"  P(alive): crmscore is {theirs_alive / ours_alive:.1f}x faster, same values (1e-9) "
        f"where lifetimes is finite ({int((~finite).sum())} rows not)"
    )
    expected, ours_exp = timed(
        lambda: model.expected_purchases(table, t=HORIZON), repeat=args.repeat
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_exp, theirs_exp = timed(
            lambda: reference.conditional_expected_number_of_purchases_up_to_time(
                HORIZON, x, tx, age
            )
        )
    finite = np.isfinite(np.asarray(ref_exp, dtype=np.float64))
    np.testing.assert_allclose(expected.to_numpy()[finite], np.asarray(ref_exp)[finite], rtol=1e-8)
    print(row(f"crmscore expected_purchases (t={HORIZON:g})", ours_exp))
    print(row("lifetimes conditional_expected_number_of_...", theirs_exp))
    print(
        f"  expected purchases: crmscore is {theirs_exp / ours_exp:.1f}x faster, same values "
        f"(1e-8) where lifetimes is finite ({int((~finite).sum())} rows not)"
    )


def main() -> None:
    cli = parser(__doc__ or "", customers=1_000_000)
    cli.add_argument("--replicates", type=int, default=200, help="bootstrap replicates")
    cli.add_argument(
        "--lifetimes-sample",
        type=int,
        default=None,
        help="time lifetimes' fits of the further models on this many customers only",
    )
    args = cli.parse_args()
    data, generation = timed(lambda: book(args.customers, args.seed))
    table, summarising = timed(lambda: cs.rfm_table(data.transactions, as_of=data.as_of))
    stats = cs.BetaGeoFitter.aggregate(table)
    print(
        f"bench_clv: {args.customers:,} customers, {len(stats):,} distinct "
        f"(frequency, recency, T) rows, daily units ({machine()})"
    )
    print(row("make_transactions", generation))
    print(row("rfm_table", summarising))

    # --- fit ---------------------------------------------------------------------
    fitter = cs.BetaGeoFitter()
    model, ours_fit = timed(lambda: fitter.fit(table), repeat=args.repeat)
    reference, ref_fit = timed(lambda: lifetimes_fit(table))
    ref_params = cs.BetaGeoParams(
        **{k: float(reference.params_[k]) for k in ("r", "alpha", "a", "b")}
    )
    ours_ll = model.log_likelihood
    ref_ll = lifetimes_log_likelihood(ref_params, table)
    assert ours_ll is not None
    print(row("crmscore BetaGeoFitter.fit", ours_fit))
    print(row("lifetimes BetaGeoFitter.fit", ref_fit))
    print(f"  fit: crmscore is {ref_fit / ours_fit:.1f}x faster")
    print(f"  log-likelihood: crmscore {ours_ll:.6f}, lifetimes {ref_ll:.6f}")
    print(f"  crmscore {model.params}")
    print(f"  lifetimes {ref_params}")
    # An absolute slack: a relative one (1e-6 of |LL|) would forgive 43 units at 1M
    # customers. 1e-3 absorbs rounding in the two sums (about 1e-7 at 1M customers).
    assert ours_ll >= ref_ll - 1e-3, "crmscore's optimum is worse than lifetimes'"

    pymc = pymc_marketing_fit(table)
    if pymc is None:
        print("  pymc-marketing: not installed (optional comparison skipped)")
    else:
        seconds, ll = pymc
        print(row("pymc-marketing BetaGeoModel.fit(method='map')", seconds))
        print(f"  fit: crmscore is {seconds / ours_fit:.1f}x faster; pymc-marketing LL {ll:.6f}")

    # --- predictions at identical parameters -------------------------------------------
    lifetimes_model = model.to_lifetimes()
    x, tx, age = (table[c] for c in ("frequency", "recency", "T"))

    alive, ours_alive = timed(lambda: model.probability_alive(table), repeat=args.repeat)
    ref_alive, theirs_alive = timed(
        lambda: lifetimes_model.conditional_probability_alive(x, tx, age)
    )
    np.testing.assert_allclose(alive.to_numpy(), np.asarray(ref_alive), rtol=1e-10)
    print(row("crmscore probability_alive", ours_alive))
    print(row("lifetimes conditional_probability_alive", theirs_alive))
    print(f"  P(alive): crmscore is {theirs_alive / ours_alive:.1f}x faster, same values (1e-10)")

    expected, ours_exp = timed(
        lambda: model.expected_purchases(table, t=HORIZON), repeat=args.repeat
    )
    ref_exp, theirs_exp = timed(
        lambda: lifetimes_model.conditional_expected_number_of_purchases_up_to_time(
            HORIZON, x, tx, age
        )
    )
    np.testing.assert_allclose(expected.to_numpy(), np.asarray(ref_exp), rtol=1e-8)
    print(row(f"crmscore expected_purchases (t={HORIZON:g})", ours_exp))
    print(row("lifetimes conditional_expected_number_of_...", theirs_exp))
    print(
        f"  expected purchases: crmscore is {theirs_exp / ours_exp:.1f}x faster, same values (1e-8)"
    )
    if not math.isfinite(ours_ll):
        raise SystemExit("non-finite log-likelihood")
    intervals(table, model, repeat=args.repeat, replicates=args.replicates)
    bench_dert(table, model, args)
    further_models(table, args, plain_fit=ours_fit)


def further_models(table: Any, args: Any, *, plain_fit: float) -> None:
    """The MBG/NBD, the Pareto/NBD, the covariate models and the BG/BB."""
    bench_mbgnbd(table, args)
    bench_pareto(table, args)
    bench_covariates(table, args, plain_fit=plain_fit)
    bench_bgbb(args)


def bench_covariates(table: Any, args: Any, *, plain_fit: float) -> None:
    """Covariate BG/NBD and Gamma-Gamma fits, and predictions, on the same table.

    Categorical covariates drawn per customer (a channel of three levels as two
    dummies, a region of two as one): 6 distinct covariate vectors, the case the
    grouped fit is made for. CLVTools (R) is the reference implementation of the form
    but cannot run here, so there is no ratio.
    """
    print()
    print("Covariates (BetaGeoCovariateFitter, GammaGammaCovariateFitter)")
    rng = np.random.default_rng(args.seed)
    channel = rng.integers(0, 3, len(table))
    covariates = table.assign(
        web=(channel == 1).astype(float),
        app=(channel == 2).astype(float),
        north=rng.integers(0, 2, len(table)).astype(float),
    )
    fitter = cs.BetaGeoCovariateFitter(trans_covariates=["web", "app"], life_covariates=["north"])
    model, seconds = timed(lambda: fitter.fit(covariates), repeat=args.repeat)
    print(row("BetaGeoCovariateFitter.fit (3 covariates)", seconds))
    print(f"  {seconds / plain_fit:.1f}x the plain BetaGeoFitter.fit on the same table")
    print(f"  {model.convergence}")
    _, alive = timed(lambda: model.probability_alive(covariates), repeat=args.repeat)
    print(row("probability_alive (covariates)", alive))
    _, expected = timed(lambda: model.expected_purchases(covariates, t=HORIZON), repeat=args.repeat)
    print(row(f"expected_purchases (covariates, t={HORIZON:g})", expected))
    spend_fitter = cs.GammaGammaCovariateFitter(spend_covariates=["web", "app", "north"])
    spend, spend_seconds = timed(lambda: spend_fitter.fit(covariates), repeat=args.repeat)
    print(row("GammaGammaCovariateFitter.fit (3 covariates)", spend_seconds))
    print(f"  spend coefficients {spend.spend_gamma} (covariates unrelated to spend: near 0)")
    continuous_covariates(covariates, args, rng)
    print("  CLVTools (R) cannot run here: no ratio against it")


def continuous_covariates(covariates: Any, args: Any, rng: np.random.Generator) -> None:
    """One continuous covariate (every customer its own value) and two dummies.

    On the first 100,000 customers (or the whole table if smaller): the per-row
    likelihood makes the cost grow with the rows, not with the distinct covariate
    vectors, which here are as many as the customers.
    """
    sample = covariates.iloc[: min(len(covariates), 100_000)]
    sample = sample.assign(score=rng.standard_normal(len(sample)))
    n = f"{len(sample):,} customers"
    _, plain = timed(lambda: cs.BetaGeoFitter().fit(sample), repeat=args.repeat)
    print(row(f"BetaGeoFitter.fit ({n}, no covariates)", plain))
    fitter = cs.BetaGeoCovariateFitter(
        trans_covariates=["score", "web"], life_covariates=["score", "north"]
    )
    model, seconds = timed(lambda: fitter.fit(sample), repeat=args.repeat)
    print(row(f"BetaGeoCovariateFitter.fit ({n}, continuous + 2 dummies)", seconds))
    print(f"  {seconds / plain:.1f}x the plain fit; {model.convergence}")
    spend_fitter = cs.GammaGammaCovariateFitter(spend_covariates=["score", "web", "north"])
    _, spend = timed(lambda: spend_fitter.fit(sample), repeat=args.repeat)
    print(row(f"GammaGammaCovariateFitter.fit ({n}, continuous + 2 dummies)", spend))


#: The BG/BB book: the donations estimates of Fader, Hardie and Shang (2010), and 10
#: opportunities per customer.
BGBB_TRUTH = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
BGBB_OPPORTUNITIES = 10
#: lifetimes' BG/BB fit from one row per customer took 35 s for 20,000 customers
#: here (a loop over opportunities at every Nelder-Mead step), so it is timed on a
#: sample; its condensed fit (distinct rows with weights) runs on the whole book.
BGBB_LIFETIMES_SAMPLE = 2_000


def bgbb_book(customers: int, seed: int) -> pd.DataFrame:
    """Histories (frequency, recency, n_periods) drawn from the BG/BB's story."""
    rng = np.random.default_rng(seed)
    n = BGBB_OPPORTUNITIES
    p = rng.beta(BGBB_TRUTH["alpha"], BGBB_TRUTH["beta"], customers)
    theta = rng.beta(BGBB_TRUTH["gamma"], BGBB_TRUTH["delta"], customers)
    alive = np.cumprod(rng.uniform(size=(customers, n)) >= theta[:, None], axis=1).astype(bool)
    buys = alive & (rng.uniform(size=(customers, n)) < p[:, None])
    x = buys.sum(axis=1)
    recency = np.where(x > 0, n - np.argmax(buys[:, ::-1], axis=1), 0)
    return pd.DataFrame(
        {"frequency": x, "recency": recency, "n_periods": n},
        index=pd.RangeIndex(customers, name="customer_id"),
    )


def bench_bgbb(args: Any) -> None:
    """BG/BB: fit, P(alive) and expected transactions against lifetimes."""
    print("BG/BB (BetaGeoBetaBinomFitter)")
    table, seconds = timed(lambda: bgbb_book(args.customers, args.seed))
    print(row(f"simulate {len(table):,} BG/BB histories", seconds))
    columns = ("frequency", "recency", "n_periods")

    def arrays(frame: Any) -> tuple[np.ndarray, ...]:
        return tuple(frame[c].to_numpy(np.int64) for c in columns)

    def theirs(frame: Any) -> Any:
        return LifetimesBetaGeoBetaBinomFitter().fit(*arrays(frame))

    def theirs_ll(fitted: Any, frame: Any) -> float:
        theta = fitted.params_[["alpha", "beta", "gamma", "delta"]].to_numpy(np.float64)
        return float(LifetimesBetaGeoBetaBinomFitter._loglikelihood(theta, *arrays(frame)).sum())

    sample = lifetimes_sample(table, args.lifetimes_sample or BGBB_LIFETIMES_SAMPLE)
    model = compare_fit(
        "BetaGeoBetaBinomFitter",
        table=table,
        sample=sample,
        ours=lambda frame: cs.BetaGeoBetaBinomFitter().fit(frame),
        theirs=theirs,
        ours_ll=lambda fitted, frame: float(fitted.log_likelihood_of(frame).sum()),
        theirs_ll=theirs_ll,
        repeat=args.repeat,
    )
    print(f"  crmscore {model.params} (simulated from {BGBB_TRUTH})")
    # lifetimes can also fit the whole book in the paper's condensed form (distinct
    # rows with a weights column): the same data, measured, not extrapolated.
    stats = table.value_counts().rename("weights").reset_index()
    condensed, ref_condensed = timed(
        lambda: LifetimesBetaGeoBetaBinomFitter().fit(
            *arrays(stats), weights=stats["weights"].to_numpy()
        )
    )
    ours_condensed = timed(
        lambda: cs.BetaGeoBetaBinomFitter().fit_aggregated(stats, count_col="weights"),
        repeat=args.repeat,
    )[1]
    print(row(f"crmscore fit_aggregated ({len(stats)} rows)", ours_condensed))
    print(row(f"lifetimes fit(weights=) ({len(stats)} rows)", ref_condensed))
    print(
        f"  condensed fit of all {len(table):,}: crmscore is "
        f"{ref_condensed / ours_condensed:.1f}x faster; log-likelihood crmscore "
        f"{model.log_likelihood:.6f}, lifetimes {theirs_ll(condensed, table):.6f}"
    )
    assert model.log_likelihood is not None
    assert model.log_likelihood >= theirs_ll(condensed, table) - 1e-3
    reference = model.to_lifetimes()
    x, tx, n = arrays(table)
    alive, ours_alive = timed(lambda: model.probability_alive(table), repeat=args.repeat)
    ref_alive, theirs_alive = timed(lambda: reference.conditional_probability_alive(1, x, tx, n))
    np.testing.assert_allclose(alive.to_numpy(), np.asarray(ref_alive), rtol=1e-8)
    print(row("crmscore probability_alive", ours_alive))
    print(row("lifetimes conditional_probability_alive", theirs_alive))
    print(f"  P(alive): crmscore is {theirs_alive / ours_alive:.1f}x faster, same values (1e-8)")
    expected, ours_exp = timed(lambda: model.expected_purchases(table, t=5), repeat=args.repeat)
    ref_exp, theirs_exp = timed(
        lambda: reference.conditional_expected_number_of_purchases_up_to_time(5, x, tx, n)
    )
    np.testing.assert_allclose(expected.to_numpy(), np.asarray(ref_exp), rtol=1e-8)
    print(row("crmscore expected_purchases (5 opportunities)", ours_exp))
    print(row("lifetimes conditional_expected_number_of_...", theirs_exp))
    print(
        f"  expected transactions: crmscore is {theirs_exp / ours_exp:.1f}x faster, "
        "same values (1e-8)"
    )


#: DERT's discount rate: 10% a year, continuously compounded per day.
DAILY_DISCOUNT = math.log(1.1) / 365.0
#: Customers of the DERT benchmark (at most), and of its run of the old quad_vec code.
DERT_CUSTOMERS = 100_000
DERT_OLD_CUSTOMERS = 500


def continuous_ages(table: Any, customers: int, seed: int) -> pd.DataFrame:
    """The first ``customers`` rows with T (and recency) moved by up to a day at random.

    Ages measured to the second rather than the day: almost every (frequency, T)
    pair is distinct, the worst case of DERT, which integrates once per pair.
    """
    rng = np.random.default_rng(seed)
    head = table.iloc[:customers]
    shift = rng.uniform(0.0, 1.0, len(head))
    recency = np.where(head["frequency"] > 0, head["recency"] + shift, 0.0)
    moved: pd.DataFrame = head.assign(recency=recency, T=head["T"] + shift)
    return moved


def old_dert(table: Any, model: cs.BetaGeoModel, delta: float) -> np.ndarray:
    """The DERT of crmscore before the Gauss-Kronrod panels: one quad_vec over all pairs.

    The same integrand (crmscore's guarded closed form of the survival factor, a
    private helper: this reference is the old code itself, not an oracle); the error
    control was on the norm of the whole vector of integrals.
    """
    from scipy.integrate import quad_vec  # noqa: PLC0415 (this reference only)

    from crmscore.clv._mixtures import power_mean  # noqa: PLC0415

    p = model.params
    x, age = table["frequency"].to_numpy(float), table["T"].to_numpy(float)
    rho, scale = p.r + x, p.alpha + age

    def integrand(w: float) -> np.ndarray:
        survive: np.ndarray = power_mean(rho + 1.0, p.b + x, p.a, w / scale)
        survive *= np.exp(-delta * w)
        return survive

    integral, _ = quad_vec(integrand, 0.0, np.inf, epsrel=1e-10, epsabs=0.0)
    alive = model.probability_alive(table).to_numpy()
    return np.asarray(alive * rho / scale * integral)


def bench_dert(table: Any, model: cs.BetaGeoModel, args: Any) -> None:
    """predict_dert where T is continuous: one integral per customer (lifetimes has none).

    Wall and CPU time of ours on (at most) ``DERT_CUSTOMERS`` customers; the old
    quad_vec on the first ``DERT_OLD_CUSTOMERS`` of them, values compared at 1e-8.
    """
    customers = min(args.customers, DERT_CUSTOMERS)
    ages = continuous_ages(table, customers, args.seed)
    pairs = len(ages[["frequency", "T"]].drop_duplicates())
    start = time.process_time()
    dert, seconds = timed(lambda: cs.predict_dert(ages, model=model, discount_rate=DAILY_DISCOUNT))
    cpu = time.process_time() - start
    print(row(f"crmscore predict_dert, {customers:,} customers", seconds))
    print(f"  {pairs:,} distinct (x, T) pairs; CPU {cpu:.3f} s (lifetimes has no DERT)")
    small = ages.iloc[:DERT_OLD_CUSTOMERS]
    old, old_seconds = timed(lambda: old_dert(small, model, DAILY_DISCOUNT))
    _, new_seconds = timed(
        lambda: cs.predict_dert(small, model=model, discount_rate=DAILY_DISCOUNT),
        repeat=args.repeat,
    )
    np.testing.assert_allclose(dert.to_numpy()[: len(small)], old, rtol=1e-8)
    print(row(f"old quad_vec DERT, {len(small):,} customers", old_seconds))
    print(row(f"crmscore predict_dert, {len(small):,} customers", new_seconds))
    print(f"  DERT: {old_seconds / new_seconds:.1f}x faster than the old code, same values (1e-8)")


def intervals(table: Any, model: cs.BetaGeoModel, *, repeat: int, replicates: int) -> None:
    """Delta-method and bootstrap intervals for every customer and the book total."""
    kwargs: dict[str, Any] = {
        "quantity": "expected_purchases",
        "purchase_model": model,
        "t": HORIZON,
    }
    each, delta = timed(lambda: cs.predict_intervals(table, **kwargs), repeat=repeat)
    _, delta_total = timed(lambda: cs.predict_totals(table, **kwargs), repeat=repeat)
    _, delta_alive = timed(
        lambda: cs.predict_intervals(table, quantity="p_alive", purchase_model=model),
        repeat=repeat,
    )
    print(row("predict_intervals expected_purchases (delta)", delta))
    print(row("predict_totals expected_purchases (delta)", delta_total))
    print(row("predict_intervals p_alive (delta)", delta_alive))
    boot, seconds = timed(
        lambda: cs.predict_intervals(
            table, **kwargs, method="bootstrap", n_replicates=replicates, seed=1
        )
    )
    print(row(f"predict_intervals bootstrap, {replicates} replicates", seconds))
    _, seconds_total = timed(
        lambda: cs.predict_totals(
            table, **kwargs, method="bootstrap", n_replicates=replicates, seed=1
        )
    )
    print(row(f"predict_totals bootstrap, {replicates} replicates", seconds_total))
    ratio = (boot["std_error"] / each["std_error"]).median()
    print(f"  bootstrap / delta standard error, median over customers: {ratio:.3f}")


if __name__ == "__main__":
    main()
