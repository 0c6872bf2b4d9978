"""Spark results equal the pandas results, in local mode (local[2], UI off, loopback)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

import crmscore as cs
from crmscore.scaleout import (
    fit_spark,
    map_customers_spark,
    rfm_table_spark,
    sufficient_statistics_spark,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None, reason="Spark needs a Java runtime and none is on PATH"
)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession  # noqa: PLC0415  (needs Java, checked above)

    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["PYTHONPATH"] = os.pathsep.join(sys.path)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("crmscore-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
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
    frame = spark.createDataFrame(book.transactions)
    result = rfm_table_spark(frame, as_of=as_of, time_unit="W", buckets=8)
    local = result.toPandas().set_index("customer_id").sort_index()
    expected = cs.rfm_table(book.transactions, as_of=as_of, time_unit="W")
    # Spark carries timestamps in microseconds: compare at that resolution.
    for column in ("first_purchase", "last_purchase"):
        expected[column] = expected[column].astype("datetime64[us]")
        local[column] = local[column].astype("datetime64[us]")
    pd.testing.assert_frame_equal(local, expected, check_exact=True)


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
    purchases = fit_spark(frame, fitter=cs.BetaGeoFitter(), time_unit=time_unit)
    assert purchases == cs.BetaGeoFitter().fit(table)
    assert purchases.time_unit == time_unit
    assert fit_spark(frame, fitter=cs.GammaGammaFitter()) == cs.GammaGammaFitter().fit(table)


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
        spark.createDataFrame(columns.reset_index()), clv, meta=expected.iloc[:0], buckets=4
    )
    local = result.toPandas().set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(local, expected.sort_index(), check_exact=True)
