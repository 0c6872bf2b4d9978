"""The CLV chain on Dask (a 2-worker LocalCluster) against pandas, on the same log.

    python benchmarks/bench_dask.py                      # 1M customers, ~10M transactions
    python benchmarks/bench_dask.py --customers 20000    # a quick run

The chain: RFM table, BG/NBD and Gamma-Gamma fits (log-likelihood and derivatives
summed per partition on Dask), and P(alive), expected purchases, expected spend and
12-month CLV for every customer. The log is written to Parquet files in a temporary
directory, which both sides read (Dask's workers each read their share, as on a
cluster), and is in memory before the clock starts. Dask's time includes bringing
the per-customer result back to this process as one pandas frame.

Memory, per process (this one for pandas, each worker for Dask):

- peak RSS: the most resident memory the process held while the chain ran (the
  kernel's peak counter, reset just before via /proc/self/clear_refs); it includes
  the interpreter, the libraries and the process's share of the log. This is what
  a worker must be sized for.
- allocated: the peak of memory allocated during one more run of the chain beyond
  what was allocated before it (tracemalloc, which sees numpy's and pandas'
  buffers), as the other benchmarks report.

The results are checked: the fits to 1e-8 relative (the optimiser's tolerance: the
sums are added in another order), every customer's columns to 1e-8.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from _common import book, machine, parser, peak_memory, row, timed

import crmscore as cs

if TYPE_CHECKING:
    from collections.abc import Callable

CLV = {"t": 30.0, "horizon": 12, "discount_rate": 0.01}


def reset_peak() -> int:
    """Reset this process's peak RSS to its current RSS; return the RSS (bytes)."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def peak() -> int:
    """Peak RSS (bytes) since the last :func:`reset_peak`."""
    return _status("VmHWM")


def _status(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(rf"{field}:\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1)) * 1024


def start_tracing() -> None:
    tracemalloc.start()


def stop_tracing() -> int:
    """Peak traced allocation (bytes) since :func:`start_tracing`; stops tracing."""
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return traced_peak


class Stages:
    """Wall time of each stage of the last run of a chain, and the memory high-water mark.

    ``probe`` returns the peak RSS so far (of the largest worker, for Dask): read at
    the end of each stage, it shows which stage raised the peak.
    """

    def __init__(self, probe: Callable[[], int] | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self.memory: dict[str, int] = {}
        self._probe = probe
        self._last = time.perf_counter()

    def start(self) -> Stages:
        self._last = time.perf_counter()
        return self

    def done(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = now - self._last
        if self._probe is not None:
            self.memory[stage] = self._probe()
        self._last = time.perf_counter()


def pandas_chain(
    log: pd.DataFrame, as_of: pd.Timestamp, unit: cs.rfm.TimeUnit, stages: Stages | None = None
) -> tuple[Any, Any, pd.DataFrame]:
    stages = (stages or Stages()).start()
    table = cs.rfm_table(log, as_of=as_of, time_unit=unit)
    stages.done("RFM table")
    purchases = cs.BetaGeoFitter().fit(table)
    spend = cs.GammaGammaFitter().fit(table)
    stages.done("BG/NBD + Gamma-Gamma fits")
    clv = pd.DataFrame(
        {
            "p_alive": purchases.probability_alive(table),
            "expected_purchases": purchases.expected_purchases(table, t=CLV["t"]),
            "expected_spend": spend.expected_spend(table),
            "clv": cs.customer_lifetime_value(
                table,
                purchase_model=purchases,
                spend_model=spend,
                horizon=int(CLV["horizon"]),
                discount_rate=CLV["discount_rate"],
            ),
        }
    )
    stages.done("CLV columns (as one pandas frame)")
    return purchases, spend, clv


def dask_chain(
    log: Any, as_of: pd.Timestamp, unit: cs.rfm.TimeUnit, stages: Stages | None = None
) -> tuple[Any, Any, pd.DataFrame]:
    from dask.distributed import wait  # noqa: PLC0415

    stages = (stages or Stages()).start()
    table = cs.rfm_table_dask(log, as_of=as_of, time_unit=unit).persist()
    wait(table)
    stages.done("RFM table")
    purchases = cs.fit_dask(table, fitter=cs.BetaGeoFitter())
    spend = cs.fit_dask(table, fitter=cs.GammaGammaFitter())
    stages.done("BG/NBD + Gamma-Gamma fits")
    clv = cs.predict_clv_dask(
        table,
        purchase_model=purchases,
        spend_model=spend,
        t=CLV["t"],
        horizon=int(CLV["horizon"]),
        discount_rate=CLV["discount_rate"],
    )
    result = clv.compute().sort_index()
    stages.done("CLV columns (as one pandas frame)")
    return purchases, spend, result


def same_optimum(got: Any, expected: Any) -> float:
    """Largest relative difference of two fits' parameters and log-likelihoods."""
    params, reference = got.params.to_dict(), expected.params.to_dict()
    pairs = [(params[k], reference[k]) for k in reference]
    pairs.append((got.log_likelihood, expected.log_likelihood))
    return max(abs(float(a) / float(b) - 1) for a, b in pairs)


def megabytes(value: float) -> float:
    return value / 2**20


def run_pandas(
    folder: str, as_of: pd.Timestamp, unit: cs.rfm.TimeUnit, repeat: int
) -> tuple[Any, ...]:
    """The chain in this process: results, stage times, best time, peak RSS, allocated."""
    log = pd.read_parquet(folder)
    before = reset_peak()
    stages = Stages(peak)
    results, seconds = timed(lambda: pandas_chain(log, as_of, unit, stages), repeat=repeat)
    rss = peak()
    allocated = peak_memory(lambda: pandas_chain(log, as_of, unit)) * 2**20
    print(
        row("pandas (one process)", seconds)
        + f"   peak RSS {megabytes(rss):,.0f} MB"
        + f" (+{megabytes(rss - before):,.0f} MB during the chain), "
        + f"allocated {megabytes(allocated):,.0f} MB"
    )
    return results, stages, seconds, rss


def run_dask(
    folder: str, as_of: pd.Timestamp, unit: cs.rfm.TimeUnit, repeat: int, workers: int
) -> tuple[Any, ...]:
    """The chain on a LocalCluster: results, stage times, best time, peak RSS per worker."""
    import dask.dataframe as dd  # noqa: PLC0415
    from dask.distributed import Client, LocalCluster, wait  # noqa: PLC0415

    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        Client(cluster) as client,
    ):
        log = dd.read_parquet(folder).persist()
        wait(log)
        before = client.run(reset_peak)
        stages = Stages(lambda: max(client.run(peak).values()))
        results, seconds = timed(lambda: dask_chain(log, as_of, unit, stages), repeat=repeat)
        peaks = client.run(peak)
        client.run(start_tracing)
        dask_chain(log, as_of, unit)
        allocated = client.run(stop_tracing)
    print(row(f"Dask LocalCluster ({workers} processes)", seconds))
    for worker, rss in sorted(peaks.items()):
        print(
            f"    worker {worker.rsplit(':', 1)[-1]:>5}: peak RSS {megabytes(rss):,.0f} MB "
            f"(+{megabytes(rss - before[worker]):,.0f} MB during the chain), "
            f"allocated {megabytes(allocated[worker]):,.0f} MB"
        )
    return results, stages, seconds, peaks


def main() -> None:
    p = parser(__doc__ or "", customers=1_000_000)
    p.add_argument("--workers", type=int, default=2, help="Dask workers (one thread each)")
    p.add_argument("--partitions", type=int, default=0, help="Parquet files (default: by size)")
    p.add_argument("--time-unit", choices=["D", "W", "M"], default="D", help="RFM time unit")
    args = p.parse_args()
    data, generation = timed(lambda: book(args.customers, args.seed))
    n_rows = len(data.transactions)
    partitions = args.partitions or max(4, n_rows // 500_000)
    print(
        f"bench_dask: {n_rows:,} transactions, {args.customers:,} customers, "
        f"{partitions} partitions, {args.workers} workers, time unit {args.time_unit} "
        f"({machine()})"
    )
    print(row("make_transactions", generation))
    with tempfile.TemporaryDirectory(prefix="crmscore-bench-") as folder:
        for number, rows in enumerate(np.array_split(np.arange(n_rows), partitions)):
            part = data.transactions.iloc[rows[0] : rows[-1] + 1]
            part.to_parquet(Path(folder) / f"part-{number:04d}.parquet", index=False)
        as_of = data.as_of
        del data, part  # each side reads the files
        expected, pandas_stages, pandas_s, pandas_peak = run_pandas(
            folder, as_of, args.time_unit, args.repeat
        )
        result, dask_stages, dask_s, peaks = run_dask(
            folder, as_of, args.time_unit, args.repeat, args.workers
        )

    print("  stages of the last run, pandas | Dask (time; peak RSS so far, largest worker):")
    for stage, seconds in pandas_stages.seconds.items():
        print(
            f"    {stage:<36} {seconds:7.3f} s {megabytes(pandas_stages.memory[stage]):6,.0f} MB"
            f" | {dask_stages.seconds[stage]:7.3f} s "
            f"{megabytes(dask_stages.memory[stage]):6,.0f} MB"
        )
    # fit_dask sums the likelihood per partition: the same optimum as the pandas fit
    # to the optimiser's tolerance, not bit for bit, and so the CLV columns.
    differences = [same_optimum(result[k], expected[k]) for k in (0, 1)]
    assert max(differences) <= 1e-8, f"fits differ: {differences}"
    pd.testing.assert_frame_equal(result[2], expected[2], check_exact=False, rtol=1e-8)
    largest = max(peaks.values())
    print(
        f"  same results (both models to {max(differences):.1e} relative, every "
        f"customer's 4 columns to 1e-8); Dask took "
        f"{dask_s / pandas_s:.2f}x the time of pandas; its largest worker peaked at "
        f"{largest / pandas_peak:.2f}x the pandas process"
    )


if __name__ == "__main__":
    main()
