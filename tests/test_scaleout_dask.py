"""Dask results equal the pandas results, on a real LocalCluster bound to 127.0.0.1."""

from __future__ import annotations

import concurrent.futures
import re
from typing import TYPE_CHECKING, Any, cast

import attrs
import dask
import dask.dataframe as dd
import dask.threaded
import numpy as np
import pandas as pd
import pytest
from dask import distributed
from lifetimes.datasets import (
    load_cdnow_summary,
    load_cdnow_summary_data_with_monetary_value,
)

import crmscore as cs
from crmscore.scaleout import (
    early_warning_dask,
    fit_dask,
    map_customers,
    map_customers_dask,
    predict_clv_dask,
    rfm_table_dask,
    score_tiers_dask,
    sufficient_statistics_dask,
)
from tests.oracles import assert_published_cdnow_bgnbd, assert_published_cdnow_gamma_gamma
from tests.row_order import positions

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Deselect with ``-m "not dask"`` (see docs/development.md, "Tests").
pytestmark = pytest.mark.dask


def _lazy(frame: pd.DataFrame, *, npartitions: int) -> dd.DataFrame:
    """``dd.from_pandas``, typed: dask does not annotate it."""
    lazy: dd.DataFrame = dd.from_pandas(frame, npartitions=npartitions)  # type: ignore[no-untyped-call]
    return lazy


def _computed(lazy: dd.DataFrame) -> pd.DataFrame:
    """``lazy.compute()``, typed: dask does not annotate it."""
    result: pd.DataFrame = lazy.compute()  # type: ignore[no-untyped-call]
    return result


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    # distributed does not annotate LocalCluster and Client (nor compute, from_pandas:
    # see _lazy and _computed above).
    cluster = distributed.LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # No dashboard, but the scheduler still serves HTTP: on a free loopback port,
        # not the default 8787 (another cluster on the machine may hold it).
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    with cluster, distributed.Client(cluster) as dask_client:  # type: ignore[no-untyped-call]
        yield dask_client


@pytest.fixture(scope="module")
def book() -> cs.SyntheticBook:
    return cs.make_transactions(20_000, seed=17)


@pytest.mark.parametrize("time_unit", ["D", "W", "M"])
def test_rfm_table_on_dask_equals_pandas(
    client: object, book: cs.SyntheticBook, time_unit: cs.rfm.TimeUnit
) -> None:
    as_of = book.as_of - pd.Timedelta(days=200)
    ddf = _lazy(book.transactions, npartitions=7)
    lazy = cs.rfm_table_dask(ddf, as_of=as_of, time_unit=time_unit)
    assert type(lazy).__module__.startswith("dask")
    result = _computed(lazy).sort_index()
    expected = cs.rfm_table(book.transactions, as_of=as_of, time_unit=time_unit)
    pd.testing.assert_frame_equal(result, expected, check_exact=True)


def test_float_ids_are_the_integer_customers(client: object) -> None:
    """Ids are canonical (issue 11): a float column of integral ids (an integer column
    that had missing values) gives the integer customers, as in pandas."""
    tx = cs.make_transactions(300, seed=5).transactions
    floats = tx.assign(customer_id=tx["customer_id"].astype(np.float64))
    as_of = tx["timestamp"].max()
    result = _computed(rfm_table_dask(_lazy(floats, npartitions=6), as_of=as_of)).sort_index()
    assert result.index.is_unique
    pd.testing.assert_frame_equal(result, cs.rfm_table(tx, as_of=as_of), check_exact=True)


def test_partitions_without_customers_give_empty_parts(client: object) -> None:
    # Most partitions hold only transactions after as_of: they contribute nothing.
    tx = cs.make_transactions(500, seed=3).transactions
    as_of = tx["timestamp"].iloc[20]
    ddf = _lazy(tx, npartitions=10)
    result = _computed(rfm_table_dask(ddf, as_of=as_of)).sort_index()
    pd.testing.assert_frame_equal(result, cs.rfm_table(tx, as_of=as_of))


def test_dask_errors_are_the_pandas_errors(client: object) -> None:
    tx = cs.make_transactions(300, seed=4).transactions
    with pytest.raises(cs.ColumnNotFoundError, match=r"\['amount'\]"):
        rfm_table_dask(_lazy(tx.drop(columns="amount"), npartitions=2), as_of="2025-01-01")
    broken = tx.assign(amount=tx["amount"].where(tx.index != 5, -1.0))
    lazy = rfm_table_dask(_lazy(broken, npartitions=3), as_of="2026-01-01")
    with pytest.raises(cs.InvalidDataError, match="negative amounts"):
        _computed(lazy)
    with pytest.raises(cs.InvalidParameterError, match="a dask DataFrame"):
        rfm_table_dask(tx, as_of="2025-01-01")  # type: ignore[arg-type]


def _stamps_in_shanghai(log: pd.DataFrame) -> pd.DataFrame:
    return log.assign(
        timestamp=log["timestamp"].dt.tz_localize("UTC").dt.tz_convert("Asia/Shanghai")
    )


@pytest.mark.parametrize("ids", ["int", "str", "tz-aware stamps"])
def test_rfm_table_metadata_has_the_computed_dtypes(client: object, ids: str) -> None:
    book = cs.make_transactions(400, seed=21)
    log, as_of = book.transactions, book.as_of
    if ids == "str":
        log = log.assign(customer_id="c" + log["customer_id"].astype(str))
    elif ids == "tz-aware stamps":
        log, as_of = _stamps_in_shanghai(log), as_of.tz_localize("Asia/Shanghai")
    lazy = rfm_table_dask(_lazy(log, npartitions=3), as_of=as_of)
    result = _computed(lazy)
    assert len(result) > 0
    assert lazy._meta.dtypes.equals(result.dtypes)
    assert lazy._meta.index.dtype == result.index.dtype
    assert lazy._meta.index.name == result.index.name == "customer_id"
    expected = cs.rfm_table(_computed(_lazy(log, npartitions=1)), as_of=as_of)
    assert result.dtypes.equals(expected.dtypes)


def test_a_log_with_no_purchase_by_as_of_is_rejected_where_it_is_fitted(client: object) -> None:
    tx = cs.make_transactions(200, seed=1).transactions
    early = tx["timestamp"].min() - pd.Timedelta(days=30)
    with pytest.raises(cs.InvalidDataError, match="before the first purchase of every customer"):
        cs.rfm_table(tx, as_of=early)
    # Each partition alone may have no customer: the lazy table is empty, not an error...
    lazy = rfm_table_dask(_lazy(tx, npartitions=3), as_of=early)
    assert len(_computed(lazy)) == 0
    # ... and what is computed from it raises the pandas error type, naming as_of.
    for fitter in (cs.BetaGeoFitter(), cs.GammaGammaFitter()):
        with pytest.raises(
            cs.InvalidDataError, match=rf"has no rows.*as_of \({re.escape(str(early))}\)"
        ):
            sufficient_statistics_dask(lazy, fitter=fitter)
        with pytest.raises(cs.InvalidDataError, match="fit_dask has no rows"):
            fit_dask(lazy, fitter=fitter)
        with pytest.raises(cs.InvalidDataError, match="has no rows"):
            fitter.aggregate(cs.rfm_table(tx, as_of=tx["timestamp"].max()).iloc[:0])


def test_a_gamma_gamma_fit_without_repeat_customers_fails_as_in_pandas(client: object) -> None:
    summary = cs.make_rfm_summary(300, seed=5)
    once = summary[summary["frequency"] == 0]
    lazy = _lazy(once, npartitions=3)
    # The statistics are empty, as GammaGammaFitter.aggregate's are ...
    stats = sufficient_statistics_dask(lazy, fitter=cs.GammaGammaFitter())
    pd.testing.assert_frame_equal(stats, cs.GammaGammaFitter.aggregate(once))
    assert len(stats) == 0
    # ... and the fit fails with the pandas fit's message.
    with pytest.raises(cs.InvalidDataError) as expected:
        cs.GammaGammaFitter().fit(once)
    with pytest.raises(cs.InvalidDataError) as caught:
        fit_dask(lazy, fitter=cs.GammaGammaFitter())
    assert str(caught.value) == str(expected.value).replace("GammaGammaFitter.fit", "fit_dask")
    assert f"for {len(once)} row(s)" in str(caught.value)
    assert caught.value.column == "frequency"


# --- map_customers_dask -------------------------------------------------------------


POSITIONS_META = pd.DataFrame(
    {
        "first": np.empty(0, np.int64),
        "n_rows": np.empty(0, np.int64),
        "in_order": np.empty(0, bool),
    },
    index=pd.Index([], dtype=np.int64, name="customer_id"),
)


SHUFFLES = [
    {},  # the cluster's default: peer to peer
    {"dataframe.shuffle.method": "tasks"},
    # On one machine without the cluster: rows come back in any order.
    # (The scheduler is given as a function: by name, dask 2024.12 warns that a
    # distributed client is active.)
    {"dataframe.shuffle.method": "disk", "scheduler": dask.threaded.get},
]


@pytest.mark.parametrize("shuffle", SHUFFLES, ids=["p2p", "tasks", "disk"])
@pytest.mark.parametrize("npartitions", [1, 4, 13])
def test_map_customers_colocates_each_customer_in_log_order(
    client: object, npartitions: int, shuffle: dict[str, object]
) -> None:
    rng = np.random.default_rng(5)
    log = pd.DataFrame(
        {"customer_id": rng.integers(0, 300, size=4_000), "position": np.arange(4_000)}
    )
    with dask.config.set(shuffle):
        lazy = map_customers_dask(
            _lazy(log, npartitions=npartitions),
            function=positions,
            meta=POSITIONS_META,
            customer_col="customer_id",
        )
        result = _computed(lazy).sort_index()
    expected = positions(log)
    # Every customer once (all its rows in one partition), rows in the log's order.
    pd.testing.assert_frame_equal(result, expected, check_exact=True)
    assert result["in_order"].all()


def test_map_customers_per_customer_table_without_shuffle(
    client: object, book: cs.SyntheticBook
) -> None:
    table = cs.rfm_table(book.transactions, as_of=book.as_of)
    ddf = _lazy(table, npartitions=6)

    def spend_per_period(part: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"spend_per_period": part["total_spend"] / (part["frequency"] + 1)})

    meta = spend_per_period(table.iloc[:1]).iloc[:0]
    result = _computed(map_customers_dask(ddf, function=spend_per_period, meta=meta))
    # No shuffle: partitions keep their rows and order, so the whole keeps the order.
    pd.testing.assert_frame_equal(result, spend_per_period(table), check_exact=True)


def test_empty_partitions_skip_the_function(client: object) -> None:
    frame = pd.DataFrame({"x": np.arange(6.0)}, index=pd.Index(np.arange(6), name="id"))
    ddf = _lazy(frame, npartitions=3)
    ddf = ddf[ddf["x"] > 3.5]  # two partitions are now empty

    def must_not_see_empty(part: pd.DataFrame) -> pd.DataFrame:
        assert len(part) > 0
        return part * 10

    result = _computed(map_customers_dask(ddf, function=must_not_see_empty, meta=frame))
    pd.testing.assert_frame_equal(result, frame.iloc[4:] * 10)


def test_map_customers_is_a_deprecated_alias(client: object) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.Index([3, 5], name="customer_id"))
    lazy = _lazy(frame, npartitions=2)
    with pytest.warns(DeprecationWarning, match="call map_customers_dask"):
        old = map_customers(lazy, function=lambda part: part * 2, meta=frame)
    new = map_customers_dask(lazy, function=lambda part: part * 2, meta=frame)
    pd.testing.assert_frame_equal(_computed(old), _computed(new))
    pd.testing.assert_frame_equal(_computed(new), frame * 2)


def test_map_customers_rejects_bad_arguments() -> None:
    frame = pd.DataFrame({"customer_id": [1, 2], "x": [1.0, 2.0]})
    ddf = _lazy(frame, npartitions=1)
    with pytest.raises(cs.InvalidParameterError, match="a dask DataFrame"):
        map_customers_dask(frame, function=lambda p: p, meta=frame)  # type: ignore[arg-type]
    with pytest.raises(cs.InvalidParameterError, match="'meta' parameter"):
        map_customers_dask(ddf, function=lambda p: p, meta=frame["x"])  # type: ignore[arg-type]
    with pytest.raises(cs.ColumnNotFoundError, match=r"\['client'\]"):
        map_customers_dask(ddf, function=lambda p: p, meta=frame, customer_col="client")
    reserved = _lazy(frame.assign(__crmscore_row=0), npartitions=1)
    with pytest.raises(cs.InvalidParameterError, match="__crmscore_row"):
        map_customers_dask(reserved, function=lambda p: p, meta=frame, customer_col="customer_id")


# --- model fits from sufficient statistics --------------------------------------------


@pytest.mark.parametrize("time_unit", ["D", "W"])
def test_fits_from_dask_statistics_equal_the_in_memory_fits(
    client: object, book: cs.SyntheticBook, time_unit: cs.rfm.TimeUnit
) -> None:
    lazy = cs.rfm_table_dask(
        _lazy(book.transactions, npartitions=5), time_unit=time_unit, as_of=book.as_of
    )
    table = cs.rfm_table(book.transactions, as_of=book.as_of, time_unit=time_unit)
    for fitter in (cs.BetaGeoFitter(), cs.GammaGammaFitter()):
        stats = sufficient_statistics_dask(lazy, fitter=fitter)
        pd.testing.assert_frame_equal(stats, fitter.aggregate(table), check_exact=True)
        assert int(stats["count"].sum()) == (
            len(table)
            if isinstance(fitter, cs.BetaGeoFitter)
            else int((table["frequency"] > 0).sum())
        )
    purchases = fit_dask(lazy, fitter=cs.BetaGeoFitter(), method="statistics")
    spend = fit_dask(lazy, fitter=cs.GammaGammaFitter(), method="statistics")
    # Whole fitted values: parameters, covariance, log-likelihood, convergence report.
    assert purchases == cs.BetaGeoFitter().fit(table)
    assert spend == cs.GammaGammaFitter().fit(table)
    assert purchases.time_unit == time_unit


def assert_same_optimum(got: object, expected: object) -> None:
    """Assert two fits found the same optimum: parameters and likelihood to 1e-8 relative."""
    got_fit, expected_fit = cast("Any", got), cast("Any", expected)
    assert type(got_fit) is type(expected_fit)
    params, reference = got_fit.params.to_dict(), expected_fit.params.to_dict()
    assert params.keys() == reference.keys()
    for name, value in reference.items():
        assert params[name] == pytest.approx(value, rel=1e-8, abs=0), name
    assert got_fit.log_likelihood == pytest.approx(expected_fit.log_likelihood, rel=1e-8, abs=0)
    np.testing.assert_allclose(got_fit.covariance, expected_fit.covariance, rtol=1e-6, atol=0)
    assert got_fit.n_customers == expected_fit.n_customers
    assert getattr(got_fit, "time_unit", None) == getattr(expected_fit, "time_unit", None)
    assert got_fit.convergence.converged


@pytest.mark.parametrize(
    "fitter",
    [cs.BetaGeoFitter, cs.ModifiedBetaGeoFitter, cs.ParetoNBDFitter, cs.GammaGammaFitter],
    ids=lambda fitter: fitter.__name__,
)
def test_every_model_is_fitted_from_per_partition_derivatives(
    client: object, fitter: type[Any]
) -> None:
    # 5 partitions, one of them empty: the log-likelihood, gradient and Hessian are
    # summed per partition in a tree of 3 levels (split_every=2). A tolerance tighter
    # than the default pins the optimum down along the flat ridges of the likelihoods
    # (Gamma-Gamma's p and v), so both fits must agree to 1e-8 on every parameter.
    summary = cs.make_rfm_summary(600, seed=31)  # Pareto/NBD is identified on this one
    lazy = _lazy(summary, npartitions=4)
    lazy = dd.concat([lazy, lazy.partitions[0].head(0, compute=False)])  # type: ignore[no-untyped-call]
    assert lazy.npartitions == 5
    settings: Any = fitter(tol=1e-11)
    got = fit_dask(lazy, fitter=settings, time_unit="W", split_every=2)
    if isinstance(settings, cs.GammaGammaFitter):
        expected: object = settings.fit(summary)
    else:
        expected = settings.fit(summary, time_unit="W")
    assert_same_optimum(got, expected)
    # n_rows counts the distinct rows of every partition: at least the whole table's.
    assert got.convergence is not None
    assert got.convergence.n_rows >= cast("Any", expected).convergence.n_rows


def test_the_pareto_fit_on_dask_starts_where_the_pandas_fit_does(client: object) -> None:
    # On 8,000 customers coarsening recency and T halves the rows, so ParetoNBDFitter.fit
    # first fits the coarse rows (3 full iterations instead of 8 from the rate guess).
    # fit_dask calls the same hooks on the partitions' coarsened rows: on one partition
    # it takes the same steps and lands on the same optimum. Not to the last bit: the
    # partition's distinct rows come in another order than the in-memory fit's, so
    # the sums round differently (1e-13 apart under numpy 1.26, equal under 2.x); the
    # rate-guess start this replaced took 8 iterations and differed by 4.8e-9.
    summary = cs.make_rfm_summary(8_000, seed=31)
    expected = cs.ParetoNBDFitter().fit(summary, time_unit="W")
    got = fit_dask(_lazy(summary, npartitions=1), fitter=cs.ParetoNBDFitter(), time_unit="W")
    assert expected.convergence is not None
    assert got.convergence is not None
    assert got.convergence.n_iterations == expected.convergence.n_iterations == 3
    np.testing.assert_allclose(
        attrs.astuple(got.params), attrs.astuple(expected.params), rtol=1e-11, atol=0
    )
    assert got.log_likelihood == pytest.approx(expected.log_likelihood, rel=1e-14, abs=0)
    assert got.n_customers == expected.n_customers
    assert got.time_unit == expected.time_unit


def test_dask_fits_reproduce_the_published_cdnow_estimates(client: object) -> None:
    # Fader, Hardie and Lee (2005): r=0.243, alpha=4.414, a=0.793, b=2.426, LL -9582.4;
    # Gamma-Gamma p=6.25, q=3.74 (FHL 2005b). lifetimes ships both summaries.
    summary = load_cdnow_summary(index_col=[0])
    lazy = _lazy(summary, npartitions=6)
    model = fit_dask(lazy, fitter=cs.BetaGeoFitter())
    assert_published_cdnow_bgnbd(model)
    spend_summary = load_cdnow_summary_data_with_monetary_value()
    spend = fit_dask(_lazy(spend_summary, npartitions=4), fitter=cs.GammaGammaFitter())
    assert_published_cdnow_gamma_gamma(spend)
    assert_same_optimum(spend, cs.GammaGammaFitter().fit(spend_summary))


@pytest.mark.parametrize("npartitions", [1, 3, 17])
def test_statistics_do_not_depend_on_the_partitioning(client: object, npartitions: int) -> None:
    summary = cs.make_rfm_summary(3_000, seed=8)
    stats = sufficient_statistics_dask(
        _lazy(summary, npartitions=npartitions), fitter=cs.BetaGeoFitter()
    )
    pd.testing.assert_frame_equal(stats, cs.BetaGeoFitter.aggregate(summary), check_exact=True)


def test_dask_time_unit_is_an_argument_as_in_pandas(client: object) -> None:
    summary = cs.make_rfm_summary(1_000, seed=12)  # no attrs, as after a file
    lazy = _lazy(summary, npartitions=3)
    stats = sufficient_statistics_dask(lazy, fitter=cs.BetaGeoFitter(), time_unit="W")
    assert stats.attrs == {"time_unit": "W"}
    model = fit_dask(lazy, fitter=cs.BetaGeoFitter(), time_unit="W", method="statistics")
    assert model == cs.BetaGeoFitter().fit(summary, time_unit="W")
    assert fit_dask(lazy, fitter=cs.BetaGeoFitter(), time_unit="W").time_unit == "W"
    assert fit_dask(lazy, fitter=cs.BetaGeoFitter()).time_unit is None
    with pytest.raises(cs.InvalidParameterError, match="'time_unit' parameter of fit_dask"):
        fit_dask(lazy, fitter=cs.BetaGeoFitter(), time_unit="days")  # type: ignore[call-overload]


def test_dask_fit_errors_are_the_pandas_errors(client: object) -> None:
    summary = cs.make_rfm_summary(400, seed=9)
    lazy = _lazy(summary, npartitions=3)
    with pytest.raises(cs.ColumnNotFoundError, match=r"\['T'\]"):
        fit_dask(lazy.drop(columns="T"), fitter=cs.BetaGeoFitter())
    with pytest.raises(cs.InvalidParameterError, match="BetaGeoFitter or a GammaGammaFitter"):
        fit_dask(lazy, fitter=cs.Scorecard)  # type: ignore[call-overload]
    with pytest.raises(cs.InvalidParameterError, match="a dask DataFrame"):
        fit_dask(summary, fitter=cs.BetaGeoFitter())  # type: ignore[call-overload]
    bad_customer = summary.index[summary["frequency"] > 0][-1]
    broken = summary.copy()
    broken.loc[bad_customer, "recency"] = broken.loc[bad_customer, "T"] + 1.0
    with pytest.raises(cs.InvalidDataError, match="larger than T") as expected:
        cs.BetaGeoFitter().fit(broken)
    with pytest.raises(cs.InvalidDataError, match="larger than T") as caught:
        fit_dask(_lazy(broken, npartitions=3), fitter=cs.BetaGeoFitter())
    # The same message, naming the same customer, as the pandas fit.
    assert str(caught.value) == str(expected.value)
    assert f"{bad_customer}" in str(caught.value)


def test_dask_fits_report_progress_as_the_pandas_fits(
    client: object, book: cs.SyntheticBook
) -> None:
    table = cs.rfm_table(book.transactions, as_of=book.as_of, time_unit="W")
    lazy = _lazy(table, npartitions=4)
    for fitter in (cs.BetaGeoFitter(), cs.GammaGammaFitter()):
        expected: list[float] = []
        fitter.fit(table, progress=expected.append)
        done: list[float] = []
        fit_dask(lazy, fitter=fitter, method="statistics", progress=done.append)
        assert done == expected
        assert done[0] == 0.0
        assert done[-1] == 1.0
        assert len(done) > 3
        summed: list[float] = []
        fit_dask(lazy, fitter=fitter, progress=summed.append)
        assert summed[0] == 0.0
        assert summed[-1] == 1.0
        assert summed == sorted(summed)
        assert len(summed) > 3
    with pytest.raises(cs.InvalidParameterError, match="'progress' parameter of fit_dask"):
        fit_dask(lazy, fitter=cs.BetaGeoFitter(), progress="bar")  # type: ignore[call-overload]


# --- fitted scorers per partition ------------------------------------------------------


def test_clv_per_partition_equals_pandas(client: object, book: cs.SyntheticBook) -> None:
    lazy = rfm_table_dask(_lazy(book.transactions, npartitions=6), as_of=book.as_of)
    purchases = fit_dask(lazy, fitter=cs.BetaGeoFitter())
    spend = fit_dask(lazy, fitter=cs.GammaGammaFitter())
    predictions = predict_clv_dask(
        lazy,
        purchase_model=purchases,
        spend_model=spend,
        t=90,
        horizon=6,
        discount_rate=0.01,
        margin=0.3,
    )
    result = _computed(predictions).sort_index()
    table = cs.rfm_table(book.transactions, as_of=book.as_of)
    expected = pd.DataFrame(
        {
            "p_alive": purchases.probability_alive(table),
            "expected_purchases": purchases.expected_purchases(table, t=90),
            "expected_spend": spend.expected_spend(table),
            "clv": cs.customer_lifetime_value(
                table,
                purchase_model=purchases,
                spend_model=spend,
                horizon=6,
                discount_rate=0.01,
                margin=0.3,
            ),
        }
    )
    pd.testing.assert_frame_equal(result, expected, check_exact=True)
    assert predictions._meta.dtypes.equals(expected.dtypes)


def test_clv_parameters_are_checked_before_any_work(book: cs.SyntheticBook) -> None:
    model = cs.BetaGeoModel.from_params(cs.BetaGeoParams(r=0.2, alpha=4.0, a=0.8, b=2.4))
    spend = cs.GammaGammaModel.from_params(cs.GammaGammaParams(p=6.0, q=3.7, v=15.0))
    table = cs.make_rfm_summary(100, seed=2)  # no time unit anywhere
    lazy = _lazy(table, npartitions=2)
    arguments = {"purchase_model": model, "spend_model": spend, "t": 10.0}
    with pytest.raises(cs.InvalidParameterError, match="'horizon' parameter"):
        predict_clv_dask(lazy, horizon=0, discount_rate=0.01, **arguments)  # type: ignore[arg-type]
    with pytest.raises(cs.InvalidParameterError, match="periods_per_step"):
        predict_clv_dask(lazy, horizon=3, discount_rate=0.01, **arguments)  # type: ignore[arg-type]
    with pytest.raises(cs.ColumnNotFoundError, match=r"\['monetary_value'\]"):
        predict_clv_dask(
            lazy.drop(columns="monetary_value"),
            horizon=3,
            discount_rate=0.01,
            periods_per_step=30.0,
            **arguments,  # type: ignore[arg-type]
        )


def _same_signals(result: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Give ``signals`` the pandas result's categories (each partition has its own)."""
    categories = expected["signals"].cat.categories
    assert set(result["signals"].cat.categories) <= set(categories)
    return result.assign(signals=result["signals"].cat.set_categories(categories))


@pytest.mark.parametrize("days_before_end", [0, 250])
def test_early_warning_per_partition_equals_pandas(client: object, days_before_end: int) -> None:
    log = cs.make_events(1_500, seed=31)
    as_of = log.as_of - pd.Timedelta(days=days_before_end)
    warning = cs.EarlyWarning()
    lazy = early_warning_dask(_lazy(log.events, npartitions=9), as_of=as_of)
    result = _computed(lazy).sort_index()
    expected = warning.predict(log.events, as_of=as_of)
    assert lazy._meta.columns.equals(expected.columns)
    _assert_warning_meta(lazy, result)
    pd.testing.assert_frame_equal(_same_signals(result, expected), expected, check_exact=True)


def _assert_warning_meta(lazy: dd.DataFrame, result: pd.DataFrame) -> None:
    """The metadata has the computed dtypes; ``signals`` has categories unknown to Dask."""
    meta = lazy._meta
    assert meta.dtypes.drop("signals").equals(result.dtypes.drop("signals"))
    assert isinstance(meta["signals"].dtype, pd.CategoricalDtype)
    assert isinstance(result["signals"].dtype, pd.CategoricalDtype)
    assert not lazy["signals"].cat.known
    assert meta.index.dtype == result.index.dtype
    assert meta.index.name == result.index.name


def test_early_warning_partitions_with_only_future_customers(client: object) -> None:
    # 40 customers over 30 partitions, evaluated when 7 of them had joined: most
    # partitions hold only later events, which pandas would reject as "nobody to
    # evaluate" if they were the whole log.
    log = cs.make_events(40, seed=4)
    events = log.events.assign(customer_id="c" + log.events["customer_id"].astype(str))
    joined = events.groupby("customer_id")["timestamp"].min().sort_values()
    as_of = joined.iloc[6].normalize()
    distributed_log = _lazy(events, npartitions=30)
    lazy = early_warning_dask(distributed_log, as_of=as_of)
    result = _computed(lazy).sort_index()
    # Dask stores the string ids as Arrow strings: compare on the log as Dask holds it.
    expected = cs.EarlyWarning().predict(_computed(distributed_log), as_of=as_of)
    assert len(expected) == 7
    assert lazy._meta.index.dtype == expected.index.dtype
    _assert_warning_meta(lazy, result)
    pd.testing.assert_frame_equal(_same_signals(result, expected), expected, check_exact=True)


def test_early_warning_errors(client: object) -> None:
    log = cs.make_events(200, seed=6)
    lazy = _lazy(log.events, npartitions=4)
    early = log.as_of - pd.Timedelta(days=30)
    with pytest.raises(cs.InvalidDataError, match="has events after as_of"):
        _computed(early_warning_dask(lazy, as_of=early, future="error"))
    with pytest.raises(cs.ColumnNotFoundError, match=r"\['kind'\]"):
        early_warning_dask(lazy.drop(columns="kind"), as_of=log.as_of)
    with pytest.raises(cs.InvalidParameterError, match="an EarlyWarning"):
        early_warning_dask(lazy, as_of=log.as_of, warning=cs.Scorecard)  # type: ignore[arg-type]
    unknown = log.events.assign(kind=log.events["kind"].astype(str).replace("review", "survey"))
    with pytest.raises(cs.InvalidDataError, match="survey"):
        _computed(early_warning_dask(_lazy(unknown, npartitions=3), as_of=log.as_of))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_tiers_per_partition_equal_pandas(client: object, language: str) -> None:
    indicators = cs.make_b2b_indicators(3_000, seed=12)
    rule = cs.TierRule(
        name="VIP floor", column="annual_revenue", op=">=", threshold=5e6, tier="gold"
    )
    card = cs.b2b_scorecard(rules=[rule])
    # Fitted on a sample (as on a cluster), applied to every customer.
    fitted = card.fit(indicators.sample(n=500, random_state=1))
    lazy = score_tiers_dask(
        _lazy(indicators, npartitions=7),
        scorecard=fitted,
        language=language,  # type: ignore[arg-type]
        normalised=True,
    )
    result = _computed(lazy)
    expected = fitted.score(indicators, language=language, normalised=True)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(result, expected, check_exact=True)
    assert lazy._meta.dtypes.equals(expected.dtypes)
    assert (expected["tier_reason"].astype(str).str.startswith("VIP floor")).any()


def test_tiers_reject_bad_arguments() -> None:
    indicators = cs.make_b2b_indicators(50, seed=1)
    card = cs.b2b_scorecard()
    lazy = _lazy(indicators, npartitions=2)
    with pytest.raises(cs.InvalidParameterError, match="a FittedScorecard"):
        score_tiers_dask(lazy, scorecard=card)  # type: ignore[arg-type]
    with pytest.raises(cs.ColumnNotFoundError, match=r"\['credit_rating'\]"):
        score_tiers_dask(lazy.drop(columns="credit_rating"), scorecard=card.fit(indicators))


# --- population statistics ----------------------------------------------------------


@pytest.mark.parametrize("missing", ["zero", "median"])
def test_scorecard_population_statistics_are_learned_on_the_cluster(
    client: object, missing: str
) -> None:
    # Min/max, clip levels, percentile knots and medians of every customer: the same
    # numbers as Scorecard.fit on the whole table (a z-score's moments up to rounding).
    indicators = cs.make_b2b_indicators(3_000, seed=41)
    indicators.loc[indicators.index[::7], "clv"] = np.nan  # gaps, ignored while learning
    card = cs.b2b_scorecard(
        indicators=[
            cs.tiering.Indicator(
                name="annual_revenue",
                direction="benefit",
                normaliser=cs.tiering.MinMax(clip=(0.01, 0.99)),
            ),
            cs.tiering.Indicator(
                name="profit_margin", direction="benefit", normaliser=cs.tiering.MinMax()
            ),
        ],
        missing=missing,  # type: ignore[arg-type]
    )
    expected = card.fit(indicators)
    got = cs.fit_scorecard_dask(_lazy(indicators, npartitions=6), scorecard=card)
    kinds = set()
    for learned, reference in zip(got.scales, expected.scales, strict=True):
        kinds.add(reference.kind)
        if reference.kind == "z_score":
            np.testing.assert_allclose(learned.params, reference.params, rtol=1e-12, atol=0)
            assert (learned.clip_low, learned.clip_high) == (
                reference.clip_low,
                reference.clip_high,
            )
        else:
            assert learned == reference
    assert kinds == {"min_max", "percentile_rank", "z_score", "fixed_range"}
    np.testing.assert_array_equal(got.medians, expected.medians)
    assert got.n_customers == expected.n_customers
    with pytest.raises(cs.InvalidParameterError, match="a dask DataFrame"):
        cs.fit_scorecard_dask(indicators, scorecard=card)  # type: ignore[arg-type]
    with pytest.raises(cs.ColumnNotFoundError, match="clv"):
        cs.fit_scorecard_dask(_lazy(indicators.drop(columns="clv"), npartitions=2), scorecard=card)


# --- memory ------------------------------------------------------------------------


def _allocate_past_the_limit(part: pd.DataFrame) -> pd.DataFrame:
    """Hold 640 MB in a task: more than the test worker's memory limit."""
    held = np.ones(80_000_000)
    return part.assign(held=held[: len(part)])


def test_a_worker_over_its_memory_limit_fails_with_an_error_never_a_stall() -> None:
    # One worker limited to 500 MB (an idle worker holds about 220 MB) and no retry
    # of a task whose worker died: the quarterly steps finish within the limit, and
    # a step that outgrows it raises KilledWorker at once. Every step has a timeout,
    # so a paused or restarting worker fails the test instead of hanging it.
    settings = {
        "distributed.scheduler.allowed-failures": 0,
        "distributed.worker.memory.terminate": 0.95,
    }
    book = cs.make_transactions(5_000, seed=3)
    with (
        dask.config.set(settings),
        distributed.LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=1,
            threads_per_worker=1,
            memory_limit="500MB",
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        distributed.Client(cluster) as limited,  # type: ignore[no-untyped-call]
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        assert limited.status == "running"

        def chain() -> tuple[cs.BetaGeoModel, pd.DataFrame]:
            table = cs.rfm_table_dask(
                _lazy(book.transactions, npartitions=4), as_of=book.as_of, time_unit="W"
            )
            return fit_dask(table, fitter=cs.BetaGeoFitter()), _computed(table)

        model, table = pool.submit(chain).result(timeout=120)
        expected = cs.rfm_table(book.transactions, as_of=book.as_of, time_unit="W")
        pd.testing.assert_frame_equal(table.sort_index(), expected, check_exact=True)
        assert_same_optimum(model, cs.BetaGeoFitter().fit(expected))
        hog = _lazy(book.transactions, npartitions=2).map_partitions(  # type: ignore[no-untyped-call]
            _allocate_past_the_limit
        )
        with pytest.raises(distributed.KilledWorker):
            pool.submit(_computed, hog).result(timeout=120)
