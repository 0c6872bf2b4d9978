"""Spark results equal the pandas results, in local mode (local[2], UI off, loopback)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

import crmscore as cs
from crmscore.rescoring import review
from crmscore.rescoring.partitioned import ReviewContext, review_rfm_table
from crmscore.scaleout import (
    fit_spark,
    map_customers_spark,
    rfm_table_spark,
    sufficient_statistics_spark,
)
from tests.review_book import EVERY_RULE, T3, _assert_same_review, _every_rule_book, _state
from tests.row_order import positions

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Deselect with ``-m "not spark"`` (see docs/development.md, "Tests").
pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        shutil.which("java") is None, reason="Spark needs a Java runtime and none is on PATH"
    ),
]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession  # noqa: PLC0415  (needs Java, checked above)

    with pytest.MonkeyPatch.context() as env:  # restored when the module's tests end
        env.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        env.setenv("PYSPARK_PYTHON", sys.executable)
        env.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
        env.setenv("PYTHONPATH", os.pathsep.join(sys.path))
        session = (
            SparkSession.builder.master("local[2]")
            .appName("crmscore-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            # Spill every sort to disk after a few thousand rows: merging the spills
            # is not stable, so each bucket's rows reach pandas out of the log's order
            # (as remote fetches on a cluster do), unless crmscore restores it.
            .config("spark.shuffle.spill.numElementsForceSpillThreshold", "2000")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        try:
            yield session
        finally:
            session.stop()


def test_rfm_table_on_spark_equals_pandas(spark: Any) -> None:
    book = cs.make_transactions(5_000, seed=23)
    as_of = book.as_of - pd.Timedelta(days=100)
    # Rows in a random order, over several partitions: each customer's rows are spread
    # out, and their sums agree with pandas only if added up in the log's order.
    log = book.transactions.sample(frac=1.0, random_state=np.random.default_rng(3))
    frame = spark.createDataFrame(log).repartition(5)  # round robin: the order changes
    ordered = frame.toPandas()  # the log in the order Spark holds it
    assert not ordered["amount"].equals(log["amount"].reset_index(drop=True))
    result = rfm_table_spark(frame, as_of=as_of, time_unit="W", buckets=8)
    local = result.toPandas().set_index("customer_id").sort_index()
    expected = cs.rfm_table(ordered, as_of=as_of, time_unit="W")
    # Spark carries timestamps in microseconds: compare at that resolution.
    for column in ("first_purchase", "last_purchase"):
        expected[column] = expected[column].astype("datetime64[us]")
        local[column] = local[column].astype("datetime64[us]")
    pd.testing.assert_frame_equal(local, expected, check_exact=True)


def test_map_customers_spark_keeps_each_customers_rows_in_order(spark: Any) -> None:
    from pyspark.sql import functions as sf  # noqa: PLC0415  (needs Java, checked above)

    rng = np.random.default_rng(5)
    log = pd.DataFrame(
        {"customer_id": rng.integers(0, 300, size=20_000), "position": np.arange(20_000)}
    )
    frame = spark.createDataFrame(log, schema="customer_id long, position long")
    meta = positions(log).iloc[:0]

    # This session does reorder: Spark's own group-by hands pandas the rows out of
    # order (so the assertion below can fail) ...
    def inversions(part: pd.DataFrame) -> pd.DataFrame:
        position = part["position"].to_numpy()
        return pd.DataFrame({"inversions": [int((position[1:] < position[:-1]).sum())]})

    bucket = frame.withColumn("bucket", sf.pmod(sf.hash("customer_id"), sf.lit(2)))
    raw = bucket.groupBy("bucket").applyInPandas(inversions, schema="inversions long")
    assert raw.toPandas()["inversions"].sum() > 0
    # ... and map_customers_spark restores the order of the frame.
    result = map_customers_spark(frame, function=positions, meta=meta, buckets=2)
    local = result.toPandas().set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(local, positions(log), check_exact=True)
    assert local["in_order"].all()
    with pytest.raises(cs.InvalidParameterError, match="__crmscore_row"):
        map_customers_spark(
            spark.createDataFrame(log.assign(__crmscore_row=0)), function=positions, meta=meta
        )


def test_buckets_default_to_the_sessions_shuffle_partitions(spark: Any) -> None:
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4"
    log = pd.DataFrame({"customer_id": np.arange(400) % 200, "position": np.arange(400)})
    frame = spark.createDataFrame(log, schema="customer_id long, position long")
    meta = pd.DataFrame(
        {"bucket": np.empty(0, np.int64)}, index=pd.Index([], dtype=np.int64, name="customer_id")
    )

    def smallest_id(part: pd.DataFrame) -> pd.DataFrame:
        # Every customer of one call gets the same label: the smallest id among them.
        ids = np.unique(part["customer_id"].to_numpy())
        return pd.DataFrame(
            {"bucket": np.full(len(ids), ids.min())}, index=pd.Index(ids, name="customer_id")
        )

    calls = map_customers_spark(frame, function=smallest_id, meta=meta)
    by_default = calls.toPandas()
    assert sorted(by_default["customer_id"]) == list(range(200))
    assert by_default["bucket"].nunique() == 4  # 200 customers hashed into 4 buckets
    chosen = map_customers_spark(frame, function=smallest_id, meta=meta, buckets=7).toPandas()
    assert chosen["bucket"].nunique() == 7


def test_spark_functions_reject_other_frames(spark: Any) -> None:
    summary = cs.make_rfm_summary(50, seed=1)
    log = cs.make_transactions(50, seed=1).transactions
    meta = summary.iloc[:0]
    pandas_given = r"'frame' parameter of map_customers_spark.*a Spark DataFrame.*pandas"
    with pytest.raises(cs.InvalidParameterError, match=pandas_given):
        map_customers_spark(log, function=lambda part: part, meta=meta)
    with pytest.raises(cs.InvalidParameterError, match=r"rfm_table_spark.*a Spark DataFrame"):
        rfm_table_spark(log, as_of="2025-01-01")
    with pytest.raises(cs.InvalidParameterError, match=r"fit_spark.*a Spark DataFrame"):
        fit_spark(summary, fitter=cs.BetaGeoFitter())
    with pytest.raises(cs.InvalidParameterError, match="sufficient_statistics_spark"):
        sufficient_statistics_spark(summary, fitter=cs.GammaGammaFitter())
    # ... and the Dask functions name the Spark twin for a Spark frame.
    frame = spark.createDataFrame(summary.reset_index())
    with pytest.raises(cs.InvalidParameterError, match=r"a dask DataFrame.*_spark function"):
        cs.fit_dask(frame, fitter=cs.BetaGeoFitter())


def test_spark_validates_before_scheduling(spark: Any) -> None:
    frame = spark.createDataFrame(cs.make_transactions(50, seed=1).transactions)
    with pytest.raises(cs.ColumnNotFoundError, match=r"\['amount'\]"):
        rfm_table_spark(frame.drop("amount"), as_of="2025-01-01")
    with pytest.raises(cs.InvalidParameterError, match="'buckets' parameter"):
        rfm_table_spark(frame, as_of="2025-01-01", buckets=0)


@pytest.mark.parametrize("time_unit", ["D", "W"])
def test_fits_from_spark_statistics_equal_the_in_memory_fits(
    spark: Any, time_unit: cs.rfm.TimeUnit
) -> None:
    book = cs.make_transactions(4_000, seed=29)
    table = cs.rfm_table(book.transactions, as_of=book.as_of, time_unit=time_unit)
    columns = table.drop(columns=["first_purchase", "last_purchase"]).reset_index()
    columns.attrs = {}  # Arrow cannot store the as_of timestamp among a frame's attrs
    frame = spark.createDataFrame(columns)
    for fitter in (cs.BetaGeoFitter(), cs.GammaGammaFitter()):
        stats = sufficient_statistics_spark(frame, fitter=fitter, time_unit=time_unit)
        pd.testing.assert_frame_equal(stats, fitter.aggregate(table), check_exact=True)
    purchases = fit_spark(
        frame, fitter=cs.BetaGeoFitter(), time_unit=time_unit, method="statistics"
    )
    assert purchases == cs.BetaGeoFitter().fit(table)
    assert purchases.time_unit == time_unit
    spend = fit_spark(frame, fitter=cs.GammaGammaFitter(), method="statistics")
    assert spend == cs.GammaGammaFitter().fit(table)


@pytest.mark.parametrize(
    "fitter", [cs.BetaGeoFitter, cs.GammaGammaFitter], ids=lambda fitter: fitter.__name__
)
def test_spark_fits_sum_per_partition_derivatives_to_the_pandas_optimum(
    spark: Any, fitter: type[Any]
) -> None:
    # 3 partitions: each is compressed on the executors and cached there, and every
    # optimiser step sums their log-likelihood, gradient and Hessian; the optimum is
    # the pandas fit's to 1e-8 (a tight tol pins down Gamma-Gamma's flat ridge).
    summary = cs.make_rfm_summary(600, seed=31)
    frame = spark.createDataFrame(summary.reset_index()).repartition(3)
    settings: Any = fitter(tol=1e-11)
    done: list[float] = []
    got = fit_spark(frame, fitter=settings, time_unit="W", progress=done.append)
    if isinstance(settings, cs.GammaGammaFitter):
        expected: Any = settings.fit(summary)
    else:
        expected = settings.fit(summary, time_unit="W")
    for name, value in expected.params.to_dict().items():
        assert got.params.to_dict()[name] == pytest.approx(value, rel=1e-8, abs=0), name
    assert got.log_likelihood == pytest.approx(expected.log_likelihood, rel=1e-8, abs=0)
    np.testing.assert_allclose(got.covariance, expected.covariance, rtol=1e-6, atol=0)
    assert (got.n_customers, getattr(got, "time_unit", "W")) == (expected.n_customers, "W")
    assert (done[0], done[-1]) == (0.0, 1.0)
    assert done == sorted(done)


def test_a_bad_row_in_a_spark_partition_fit_raises_the_statistics_error(spark: Any) -> None:
    # The executors refuse the row; the driver then raises the typed error of
    # method="statistics" on the same table (not Spark's wrapped exception).
    summary = cs.make_rfm_summary(200, seed=5)
    summary.loc[summary.index[7], "recency"] = summary["T"].iloc[7] + 1.0  # after T
    frame = spark.createDataFrame(summary.reset_index()).repartition(2)
    with pytest.raises(cs.InvalidDataError, match="recency") as expected:
        fit_spark(frame, fitter=cs.BetaGeoFitter(), method="statistics")
    with pytest.raises(cs.InvalidDataError) as caught:
        fit_spark(frame, fitter=cs.BetaGeoFitter())
    assert str(caught.value) == str(expected.value)


def test_spark_statistics_reject_bad_arguments(spark: Any) -> None:
    frame = spark.createDataFrame(cs.make_rfm_summary(50, seed=1).reset_index())
    with pytest.raises(cs.ColumnNotFoundError, match=r"\['T'\]"):
        fit_spark(frame.drop("T"), fitter=cs.BetaGeoFitter())
    with pytest.raises(cs.InvalidParameterError, match="'time_unit' parameter"):
        sufficient_statistics_spark(frame, fitter=cs.BetaGeoFitter(), time_unit="days")  # type: ignore[arg-type]
    with pytest.raises(cs.InvalidParameterError, match="BetaGeoFitter or a GammaGammaFitter"):
        sufficient_statistics_spark(frame, fitter=cs.Scorecard)  # type: ignore[arg-type]


def test_fitted_scorers_per_bucket_equal_pandas(spark: Any) -> None:
    book = cs.make_transactions(3_000, seed=31)
    table = cs.rfm_table(book.transactions, as_of=book.as_of)
    purchases = cs.BetaGeoFitter().fit(table)
    spend = cs.GammaGammaFitter().fit(table)
    columns = table.drop(columns=["first_purchase", "last_purchase"])
    columns.attrs = {}

    def clv(part: pd.DataFrame) -> pd.DataFrame:
        rfm = part.set_index("customer_id")
        rfm.attrs["time_unit"] = "D"
        value = cs.customer_lifetime_value(
            rfm, purchase_model=purchases, spend_model=spend, horizon=12, discount_rate=0.01
        )
        return pd.DataFrame({"p_alive": purchases.probability_alive(rfm), "clv": value})

    expected = clv(columns.reset_index())
    result = map_customers_spark(
        spark.createDataFrame(columns.reset_index()),
        function=clv,
        meta=expected.iloc[:0],
        buckets=4,
    )
    local = result.toPandas().set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(local, expected.sort_index(), check_exact=True)


def test_spark_statistics_of_an_empty_table_raise_as_pandas(spark: Any) -> None:
    tx = cs.make_transactions(100, seed=2).transactions
    early = tx["timestamp"].min() - pd.Timedelta(days=30)
    table = rfm_table_spark(spark.createDataFrame(tx), as_of=early, buckets=2)
    assert table.count() == 0  # rfm_table raises here; each bucket alone cannot tell
    for fitter in (cs.BetaGeoFitter(), cs.GammaGammaFitter()):
        with pytest.raises(cs.InvalidDataError, match="sufficient_statistics_spark has no rows"):
            sufficient_statistics_spark(table, fitter=fitter)
        with pytest.raises(cs.InvalidDataError, match="fit_spark has no rows"):
            fit_spark(table, fitter=fitter)
    summary = cs.make_rfm_summary(200, seed=5)
    once = summary[summary["frequency"] == 0]
    with pytest.raises(cs.InvalidDataError) as expected:
        cs.GammaGammaFitter().fit(once)
    with pytest.raises(cs.InvalidDataError) as caught:
        fit_spark(spark.createDataFrame(once.reset_index()), fitter=cs.GammaGammaFitter())
    assert str(caught.value) == str(expected.value).replace("GammaGammaFitter.fit", "fit_spark")


def test_spark_fits_report_progress_as_the_pandas_fits(spark: Any) -> None:
    table = cs.make_rfm_summary(1_000, seed=11)
    frame = spark.createDataFrame(table.reset_index())
    for fitter in (cs.BetaGeoFitter(), cs.GammaGammaFitter()):
        expected: list[float] = []
        fitter.fit(table, progress=expected.append)
        done: list[float] = []
        fit_spark(frame, fitter=fitter, method="statistics", progress=done.append)
        assert done == expected
        assert (done[0], done[-1]) == (0.0, 1.0)
    with pytest.raises(cs.InvalidParameterError, match="'progress' parameter of fit_spark"):
        fit_spark(frame, fitter=cs.BetaGeoFitter(), progress=1)  # type: ignore[call-overload]


def test_clv_and_tiers_on_spark_have_the_dask_names_and_equal_pandas(spark: Any) -> None:
    book = cs.make_transactions(2_000, seed=37)
    table = cs.rfm_table(book.transactions, as_of=book.as_of)
    purchases = cs.BetaGeoFitter().fit(table)
    spend = cs.GammaGammaFitter().fit(table)
    columns = table.drop(columns=["first_purchase", "last_purchase"])
    columns.attrs = {}
    frame = spark.createDataFrame(columns.reset_index())
    lazy = cs.predict_clv_spark(
        frame,
        purchase_model=purchases,
        spend_model=spend,
        time_unit="D",
        t=30.0,
        horizon=12,
        discount_rate=0.01,
    )
    expected = pd.DataFrame(
        {
            "p_alive": purchases.probability_alive(table),
            "expected_purchases": purchases.expected_purchases(table, t=30.0),
            "expected_spend": spend.expected_spend(table),
            "clv": cs.customer_lifetime_value(
                table, purchase_model=purchases, spend_model=spend, horizon=12, discount_rate=0.01
            ),
        }
    )
    local = lazy.toPandas().set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(local, expected, check_exact=True)

    indicators = cs.make_b2b_indicators(500, seed=3)
    fitted = cs.b2b_scorecard().fit(indicators)
    scored = cs.score_tiers_spark(
        spark.createDataFrame(indicators.reset_index()), scorecard=fitted, buckets=3
    )
    tiers = scored.toPandas().set_index("customer_id").sort_index()
    reference = fitted.score(indicators).sort_index()
    pd.testing.assert_series_equal(tiers["score"], reference["score"], check_exact=True)
    assert tiers["tier"].tolist() == reference["tier"].astype(str).tolist()
    with pytest.raises(cs.InvalidParameterError, match=r"predict_clv_spark.*a Spark DataFrame"):
        cs.predict_clv_spark(
            table,
            purchase_model=purchases,
            spend_model=spend,
            t=30.0,
            horizon=12,
            discount_rate=0.01,
        )
    with pytest.raises(cs.InvalidParameterError, match="a FittedScorecard"):
        cs.score_tiers_spark(frame, scorecard=cs.b2b_scorecard())  # type: ignore[arg-type]


def _warnings_in_pandas(frame: Any) -> pd.DataFrame:
    """Spark's result as a pandas frame indexed by customer id, in id order."""
    local: pd.DataFrame = frame.toPandas().set_index("customer_id").sort_index()
    return local


def test_early_warning_on_spark_has_the_dask_name_and_equals_pandas(spark: Any) -> None:
    log = cs.make_events(400, seed=41)
    # Kinds as text, timestamps whole seconds: the log as Spark holds it.
    events = log.events.astype({"kind": str})
    frame = spark.createDataFrame(events).repartition(3)
    ordered = frame.toPandas()  # the log in the order Spark holds it (sums follow it)
    # At the end of the log, and when 7 customers had joined: then the other 393
    # customers' events all fall after as_of, and most of 12 buckets hold only such
    # events (which pandas would reject as "nobody to evaluate" if they were the log).
    joined = events.groupby("customer_id")["timestamp"].min().sort_values()
    levels = []
    for as_of, buckets, n_rows in ((log.as_of, 5, 400), (joined.iloc[6].normalize(), 12, 7)):
        expected = cs.EarlyWarning().predict(ordered, as_of=as_of)
        result = _warnings_in_pandas(cs.early_warning_spark(frame, as_of=as_of, buckets=buckets))
        assert len(expected) == n_rows
        levels.append(expected["level"])
        categorical = expected.select_dtypes("category").columns
        assert list(categorical) == ["level", "rule", "signals"]
        plain = expected.astype(dict.fromkeys(categorical, str))
        pd.testing.assert_frame_equal(result, plain, check_exact=True, check_dtype=False)
        assert result.dtypes.drop(categorical).equals(expected.dtypes.drop(categorical))
    assert (levels[0] != "none").any()

    model = cs.LearnedWarningFitter(n_windows=2).fit(events, as_of=log.as_of)
    scored = cs.early_warning_spark(
        frame.withColumnRenamed("customer_id", "client"),
        as_of=log.as_of,
        warning=model,
        customer_col="client",
    )
    learned = scored.toPandas().set_index("client").sort_index().rename_axis("customer_id")
    reference = model.predict(ordered, as_of=log.as_of)
    assert (reference["level"] != "none").any()
    reference = reference.astype({"level": str})
    pd.testing.assert_frame_equal(learned, reference, check_exact=True, check_dtype=False)
    assert learned.dtypes.drop("level").equals(reference.dtypes.drop("level"))


def test_early_warning_on_spark_rejects_bad_input_at_once(spark: Any) -> None:
    log = cs.make_events(50, seed=6)
    events = log.events.astype({"kind": str})
    with pytest.raises(
        cs.InvalidParameterError, match=r"early_warning_spark.*a Spark DataFrame.*pandas"
    ):
        cs.early_warning_spark(events, as_of=log.as_of)
    frame = spark.createDataFrame(events)
    with pytest.raises(cs.ColumnNotFoundError, match=r"\['kind'\]"):
        cs.early_warning_spark(frame.drop("kind"), as_of=log.as_of)
    with pytest.raises(cs.InvalidParameterError, match="an EarlyWarning"):
        cs.early_warning_spark(frame, as_of=log.as_of, warning=cs.Scorecard)  # type: ignore[arg-type]
    with pytest.raises(cs.InvalidParameterError, match="'future' parameter"):
        cs.early_warning_spark(frame, as_of=log.as_of, future="keep")  # type: ignore[arg-type]


def _population_card(missing: str) -> cs.Scorecard:
    """Every kind of scale: min-max (clipped and not), percentile rank, z-score, fixed."""
    return cs.b2b_scorecard(
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


def test_scorecard_population_statistics_are_learned_on_spark(spark: Any) -> None:
    # The same numbers as Scorecard.fit on the whole table (a z-score's moments up to
    # rounding), from counts per partition: no customer row reaches the driver.
    indicators = cs.make_b2b_indicators(600, seed=41)
    indicators.loc[indicators.index[::7], "clv"] = np.nan  # gaps, ignored while learning
    card = _population_card("median")
    expected = card.fit(indicators)
    frame = spark.createDataFrame(indicators.reset_index()).repartition(3)
    got = cs.fit_scorecard_spark(frame, scorecard=card)
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


def test_spark_scorecard_fit_rejects_what_pandas_rejects(spark: Any) -> None:
    indicators = cs.make_b2b_indicators(40, seed=2)
    card = _population_card("zero")
    frame = spark.createDataFrame(indicators.reset_index())
    with pytest.raises(cs.InvalidParameterError, match="a Spark DataFrame"):
        cs.fit_scorecard_spark(indicators, scorecard=card)
    with pytest.raises(cs.InvalidParameterError, match="a Scorecard"):
        cs.fit_scorecard_spark(frame, scorecard=card.fit(indicators))  # type: ignore[arg-type]
    with pytest.raises(cs.ColumnNotFoundError, match="clv"):
        cs.fit_scorecard_spark(frame.drop("clv"), scorecard=card)
    with pytest.raises(cs.InvalidDataError, match="'clv' of the indicators frame must be numeric"):
        cs.fit_scorecard_spark(frame.withColumn("clv", frame["clv"].cast("string")), scorecard=card)
    bad = indicators.copy()
    bad.loc[bad.index[[3, 5]], "clv"] = [np.inf, np.nan]
    # Under missing="zero" NaN is a gap, the infinity an error; under "error" both are.
    for missing, offending in (("zero", [bad.index[3]]), ("error", list(bad.index[[3, 5]]))):
        with pytest.raises(cs.InvalidDataError, match="clv") as caught:
            _population_card(missing).fit(bad)
        with pytest.raises(cs.InvalidDataError, match="clv") as raised:
            cs.fit_scorecard_spark(
                spark.createDataFrame(bad.reset_index()), scorecard=_population_card(missing)
            )
        assert str(raised.value) == str(caught.value)
        assert all(str(who) in str(raised.value) for who in offending)
    with pytest.raises(cs.InvalidDataError, match="empty frame"):
        cs.fit_scorecard_spark(frame.limit(0), scorecard=card)


def test_review_spark_equals_review_where_every_rule_fires(spark: Any) -> None:
    """The book of the Dask review's test, where every rule fires, on customer buckets.

    The scorecard is relearned on Spark (fit_scorecard_spark on every customer's
    indicators, exact), so the review equals the in-process one to the last bit.
    The CLV refit's Spark fits (tens of jobs, the optimum tested in
    test_spark_fits_sum_per_partition_derivatives_to_the_pandas_optimum) are
    replaced here by a check of what they are given.
    """
    book, log = _every_rule_book()
    assert book.as_of is not None
    assert book.policy.clv is not None
    assert book.purchase_model is not None
    assert book.spend_model is not None
    expected = review(book, log, as_of=T3)
    assert expected.book.purchase_model is not None
    assert expected.book.spend_model is not None
    state = spark.createDataFrame(_state(book).reset_index()).repartition(3)
    events = spark.createDataFrame(log).repartition(2)
    tables: list[tuple[pd.DataFrame, Any]] = []

    def fit(table: Any, *, fitter: Any, time_unit: Any = None) -> Any:
        """Record the RFM table the refit sees; return the in-process review's model."""
        tables.append((table.toPandas().set_index("customer_id").sort_index(), time_unit))
        if isinstance(fitter, cs.BetaGeoFitter):
            return expected.book.purchase_model
        return expected.book.spend_model

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("crmscore.scaleout._spark_review.fit_spark", fit)
        result = cs.review_spark(
            state,
            events,
            policy=book.policy,
            as_of=T3,
            state_as_of=book.as_of,
            scorecard=book.scorecard,
            purchase_model=book.purchase_model,
            spend_model=book.spend_model,
            buckets=3,
        )
    # Both fits saw every customer's RFM table at the review, as review fits it.
    context = ReviewContext(
        policy=book.policy, as_of=T3, state_as_of=book.as_of, attribute_columns=("disputes",)
    )
    want = review_rfm_table(_state(book), context=context).sort_index()
    assert [unit for _, unit in tables] == [book.policy.time_unit, None]
    for table, _ in tables:  # (Spark carries microseconds)
        pd.testing.assert_frame_equal(table.astype(want.dtypes.to_dict()), want, check_exact=True)
    assert result.purchase_model is expected.book.purchase_model
    assert expected.book.scorecard is not None
    assert result.scorecard.scales == expected.book.scorecard.scales
    new = result.state.toPandas().set_index("customer_id")
    changes = result.changes.toPandas()
    # Spark has no int8 nor nanoseconds: the values, in the book's dtypes.
    new = new[list(_state(book).columns)].astype(_state(book).dtypes.to_dict())
    changes = changes[list(expected.changes.columns)].astype(expected.changes.dtypes.to_dict())
    assert set(changes["rule"]) >= EVERY_RULE
    _assert_same_review(new, changes, expected, rtol=0.0)
    common: dict[str, Any] = {"policy": book.policy, "as_of": T3, "state_as_of": book.as_of}
    with pytest.raises(cs.InvalidParameterError, match=r"state.*pandas function"):
        cs.review_spark(_state(book), events, **common)
    with pytest.raises(cs.InvalidParameterError, match=r"events.*pandas function"):
        cs.review_spark(state, log, **common)
    with pytest.raises(cs.InvalidParameterError, match="churn step"):
        cs.review_spark(state, **common)
    with pytest.raises(cs.ColumnNotFoundError, match="base_tier"):
        cs.review_spark(state.drop("base_tier"), events, **common)
