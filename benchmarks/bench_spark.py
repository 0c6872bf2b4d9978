"""The quarterly chain on Spark (local mode) against pandas, on the same Parquet log.

    python benchmarks/bench_spark.py                      # 1M customers, ~10M transactions
    python benchmarks/bench_spark.py --customers 20000    # a quick run (CI)
    python benchmarks/bench_spark.py --customers 4000000 --driver-memory 512 \
        --python-memory 768 --buckets 64 --split-mb 8
                                    # ~43M transactions (~1 GB in memory), the JVM's
                                    # heap at 512 MB and each Python worker at 768 MB
                                    # (address space, imports included): each smaller
                                    # than the data; 64 buckets of ~680k transactions,
                                    # tables read back in partitions of <= 8 MB

The Spark twin of bench_dask.py (see there): RFM table (``rfm_table_spark``), both
fits (``fit_spark``: derivatives summed per partition), CLV values
(``predict_clv_spark``), churn warnings (``early_warning_spark`` on the purchases as
events), tiers (``score_tiers_spark``) and the review (``review_spark``: state and
events cogrouped by customer bucket) of a book opened in pandas a quarter before (not
timed: the set-up, bench_dask.py's ``last_quarter``).
Each result is written to Parquet and read back by the next step, as a real run
would. The scorecard is fitted on Spark (``fit_scorecard_spark``: exact population
statistics, only counts on the driver), then applied per bucket by
``score_tiers_spark``.

The log is written once, with microsecond timestamps (Spark cannot read pandas'
nanosecond Parquet timestamps); pandas reads the same files. Spark runs in local mode
with ``--cores`` task slots; its JVM heap is ``--driver-memory`` (in local mode the
driver is the executor; Spark refuses less than 450 MB) and ``--python-memory`` caps
the address space of each Python worker (``spark.executor.pyspark.memory``: a worker
that outgrows it fails its task with ``MemoryError``, and the job with an error).
Memory per step is the peak RSS of the JVM and the largest Python worker, sampled
every 50 ms. Skipped (exit 0, with a message) where no Java runtime is installed, as
the Spark tests are.

The check is bench_dask.py's: both fits to 1e-8 relative, and every per-customer
column of at most ``--check-customers`` customers equal to the pandas functions' (given
the Spark fits and scorecard), categoricals compared as text; the review's new state
(floats to 1e-8: it refits) and audit rows (exactly) equal to ``review``'s on the same
customers.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from _common import book as standard_book
from _common import machine, parser, row, timed
from bench_dask import (
    CARD,
    CLV,
    FEATURES,
    Stages,
    check,
    last_quarter,
    megabytes,
    run_pandas,
)

import crmscore as cs

if TYPE_CHECKING:
    from crmscore.rescoring import Book


class Sampler:
    """Peak RSS of this process's children (the JVM and its Python workers)."""

    def __init__(self) -> None:
        import psutil  # noqa: PLC0415  (a dependency of distributed and of the dev extra)

        self._me = psutil.Process()
        self._jvm = 0
        self._python = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil  # noqa: PLC0415

        while not self._stop.wait(0.05):
            for child in self._me.children(recursive=True):
                try:
                    rss, name = child.memory_info().rss, child.name()
                except psutil.Error:
                    continue
                if "java" in name:
                    self._jvm = max(self._jvm, rss)
                else:
                    self._python = max(self._python, rss)

    def reset(self) -> None:
        self._jvm = self._python = 0

    def probe(self) -> int:
        """Return the peak RSS of the JVM plus that of the largest Python worker."""
        return self._jvm + self._python

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def spark_chain(
    spark: Any,
    folder: str,
    out: Path,
    as_of: pd.Timestamp,
    unit: cs.rfm.TimeUnit,
    *,
    stages: Stages,
    book: Book,
) -> dict[str, Any]:
    """The chain on Spark; per-customer results are written to ``out``."""
    from pyspark.sql import functions as sf  # noqa: PLC0415

    stages.start()
    log = spark.read.parquet(folder)
    cs.rfm_table_spark(log, as_of=as_of, time_unit=unit).write.parquet(str(out / "rfm"))
    table = spark.read.parquet(str(out / "rfm"))
    stages.done("RFM table")
    purchases = cs.fit_spark(table, fitter=cs.BetaGeoFitter(), time_unit=unit)
    spend = cs.fit_spark(table, fitter=cs.GammaGammaFitter())
    stages.done("BG/NBD + Gamma-Gamma fits")
    cs.predict_clv_spark(
        table,
        purchase_model=purchases,
        spend_model=spend,
        t=CLV["t"],
        horizon=int(CLV["horizon"]),
        discount_rate=CLV["discount_rate"],
        time_unit=unit,
    ).write.parquet(str(out / "clv"))
    stages.done("CLV values")
    events = log.withColumnRenamed("amount", "value").withColumn("kind", sf.lit("purchase"))
    cs.early_warning_spark(events, as_of=as_of).write.parquet(str(out / "warnings"))
    stages.done("churn warnings")
    clv = spark.read.parquet(str(out / "clv"))
    features = table.select("customer_id", *FEATURES).join(
        clv.select("customer_id", "clv", "p_alive"), on="customer_id"
    )
    scorecard = cs.fit_scorecard_spark(features, scorecard=CARD)  # every customer, on Spark
    cs.score_tiers_spark(features, scorecard=scorecard).write.parquet(str(out / "tiers"))
    stages.done("tiers (scorecard fit + scores)")
    assert book.as_of is not None
    quarter = sf.col("timestamp") > sf.lit(str(book.as_of)).cast("timestamp")  # UTC session
    reviewed = cs.review_spark(
        spark.read.parquet(str(out.parent / "state")),
        events.filter(quarter),
        policy=book.policy,
        as_of=as_of,
        state_as_of=book.as_of,
        scorecard=book.scorecard,
        purchase_model=book.purchase_model,
        spend_model=book.spend_model,
    )
    # Two plans over the same cogroup: each write runs the buckets' review.
    reviewed.state.write.parquet(str(out / "review_state"))
    reviewed.changes.write.parquet(str(out / "review_changes"))
    stages.done("review (rescoring engine)")
    return {"purchases": purchases, "spend": spend, "scorecard": scorecard}


def session(
    cores: int,
    driver_memory: int,
    shuffle_partitions: int,
    *,
    python_memory: int = 0,
    split_mb: int = 0,
) -> Any:
    """A local-mode session; memory in MB (``python_memory`` 0: no limit).

    ``split_mb`` caps the Parquet bytes read into one partition (Spark's default 128
    MB when 0): a Python worker holds one partition of a table read from files, e.g.
    in ``fit_spark``.
    """
    from pyspark.sql import SparkSession  # noqa: PLC0415

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ["PYTHONPATH"] = os.pathsep.join(sys.path)
    builder = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("crmscore-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.memory", f"{driver_memory}m")
        .config("spark.sql.session.timeZone", "UTC")
        # The customer buckets (crmscore's default): Spark's 200 would make 200 small
        # pandas calls per step on a small book.
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    )
    if python_memory:
        builder = builder.config("spark.executor.pyspark.memory", f"{python_memory}m")
    if split_mb:
        builder = builder.config("spark.sql.files.maxPartitionBytes", f"{split_mb}m")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def write_log(transactions: pd.DataFrame, folder: Path, partitions: int) -> None:
    """Write the log in time order as Parquet files, timestamps in microseconds."""
    for number, rows in enumerate(np.array_split(np.arange(len(transactions)), partitions)):
        transactions.iloc[rows[0] : rows[-1] + 1].to_parquet(
            folder / f"part-{number:04d}.parquet",
            index=False,
            coerce_timestamps="us",
            allow_truncated_timestamps=True,
        )


def main() -> None:
    p = parser(__doc__ or "", customers=1_000_000)
    p.add_argument("--cores", type=int, default=2, help="Spark task slots (local[n])")
    p.add_argument("--partitions", type=int, default=0, help="Parquet files (default: by size)")
    p.add_argument("--time-unit", choices=["D", "W", "M"], default="D", help="RFM time unit")
    p.add_argument(
        "--driver-memory", type=int, default=1024, help="JVM heap, MB (Spark's minimum: 450)"
    )
    p.add_argument(
        "--python-memory", type=int, default=0, help="memory limit per Python worker, MB (0: none)"
    )
    p.add_argument(
        "--buckets",
        type=int,
        default=0,
        help="customer buckets, one pandas call each (default: ~250,000 customers per bucket)",
    )
    p.add_argument(
        "--split-mb",
        type=int,
        default=0,
        help="Parquet MB read into one partition (default: Spark's 128)",
    )
    p.add_argument(
        "--check-customers", type=int, default=1_000_000, help="customers compared with pandas"
    )
    args = p.parse_args()
    if shutil.which("java") is None:
        print("bench_spark: skipped, Spark needs a Java runtime and none is on PATH")
        return
    data, generation = timed(lambda: standard_book(args.customers, args.seed))
    n_rows = len(data.transactions)
    partitions = args.partitions or max(4, n_rows // 500_000)
    data_mb = megabytes(data.transactions.memory_usage(deep=True).sum())
    python_limit = f"{args.python_memory} MB each" if args.python_memory else "unlimited"
    print(
        f"bench_spark: {n_rows:,} transactions ({data_mb:,.0f} MB in memory), "
        f"{args.customers:,} customers, {partitions} Parquet files, local[{args.cores}] "
        f"(JVM heap {args.driver_memory} MB, Python workers {python_limit}), "
        f"time unit {args.time_unit} ({machine()})"
    )
    print(row("make_transactions", generation))
    with tempfile.TemporaryDirectory(prefix="crmscore-bench-") as directory:
        folder, out = Path(directory) / "log", Path(directory) / "out"
        folder.mkdir()
        write_log(data.transactions, folder, partitions)
        as_of = data.as_of
        ids = data.transactions["customer_id"].unique()
        stride = max(1, -(-len(ids) // args.check_customers))
        sample = pd.Index(np.sort(ids)[::stride], name="customer_id")
        # The set-up (not timed): last quarter's book, its state as Parquet for Spark.
        book = last_quarter(
            data.transactions,
            as_of,
            Path(directory) / "state",
            parts=partitions,
            coerce_timestamps="us",
            allow_truncated_timestamps=True,
        )
        del data
        # About 250,000 customers per bucket (one pandas call each), at least 2 per core;
        # Python workers capped below a bucket's share of the log need more buckets.
        buckets = args.buckets or max(2 * args.cores, -(-len(ids) // 250_000))
        spark = session(
            args.cores,
            args.driver_memory,
            buckets,
            python_memory=args.python_memory,
            split_mb=args.split_mb,
        )
        sampler = Sampler()
        try:
            stages = Stages(sampler.reset, sampler.probe)
            start = time.perf_counter()
            got = spark_chain(
                spark, str(folder), out, as_of, args.time_unit, stages=stages, book=book
            )
            spark_s = time.perf_counter() - start
        finally:
            sampler.stop()
            spark.stop()
        print(row(f"Spark local[{args.cores}]", spark_s))
        expected, pandas_stages, pandas_s = run_pandas(
            str(folder), as_of, args.time_unit, book=book
        )
        print("  steps, pandas | Spark (time; peak RSS during the step: JVM + largest worker):")
        for stage, seconds in pandas_stages.seconds.items():
            pandas_mb = megabytes(pandas_stages.memory[stage])
            spark_mb = megabytes(stages.memory[stage])
            print(
                f"    {stage:<32} {seconds:7.3f} s {pandas_mb:6,.0f} MB"
                f" | {stages.seconds[stage]:7.3f} s {spark_mb:6,.0f} MB"
            )
        print(check(expected, got, out, sample).replace("Dask", "Spark"))
    print(f"  Spark took {spark_s / pandas_s:.2f}x the time of pandas")


if __name__ == "__main__":
    main()
