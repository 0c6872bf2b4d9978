"""Spark results equal the pandas results, in local mode (local[2], UI off, loopback)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

import crmscore as cs
from crmscore.scaleout import rfm_table_spark

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
