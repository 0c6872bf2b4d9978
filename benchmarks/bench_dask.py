"""The quarterly chain on Dask (a LocalCluster) against pandas, on the same Parquet log.

    python benchmarks/bench_dask.py                      # 1M customers, ~10M transactions
    python benchmarks/bench_dask.py --customers 20000    # a quick run (CI)
    python benchmarks/bench_dask.py --customers 2000000 --worker-memory 450
                                   # ~21M transactions (~500 MB in memory), workers
                                   # limited to 450 MB each: smaller than the data

The chain, as a quarterly review runs it:

1. RFM table (``rfm_table_dask``: a shuffle on the customer id), kept on the workers;
2. BG/NBD and Gamma-Gamma fits (``fit_dask``: log-likelihood and derivatives summed
   per partition; only parameters reach this process);
3. CLV values (``predict_clv_dask``: P(alive), expected purchases and spend, CLV);
4. churn warnings (``early_warning_dask`` on the purchases as events: a shuffle of
   the whole log on the customer id, then ``EarlyWarning.predict`` per partition);
5. tiers (``fit_scorecard_dask``, the normalisation learned from every customer,
   then ``score_tiers_dask``) on the RFM and CLV columns;
6. the review (``review_dask``: the rescoring engine's rules per customer, last
   quarter's book state and this quarter's events in, the new state and the audit
   rows out) of a book opened in pandas a quarter before (not timed: the set-up).

The log is written as Parquet files (in time order, as a shop's log grows) to a
temporary directory; the workers read it lazily at each step and never hold all of
it: the RFM table is persisted on the workers, every other result is written to
Parquet, as a real run would. ``--worker-memory`` limits each worker's memory (Dask
spills to disk first); a worker that outgrows it is killed, and the step then fails
with ``KilledWorker`` (``allowed-failures`` 1) instead of retrying for long. Pausing
is off (a worker paused on memory it cannot spill would wait forever: a silent
stall), the P2P shuffle's buffers are capped and Arrow uses the system allocator
(see ``run_dask`` and docs/performance.md).

The pandas path runs the same chain in this process on the whole log (time and
peak RSS per step). The check: both fits to 1e-8 relative (the sums are added in
another order), the fitted scorecard equal, and every per-customer column of a
sample of at most ``--check-customers`` customers (1M by default; read back from
Dask's Parquet output) equal to the pandas result: RFM, warnings and tiers exactly,
CLV columns to 1e-8 (they follow the fits).

Memory per step: the peak RSS of this process (pandas) and of the largest worker
(Dask), each reset before the step (/proc/self/clear_refs); it includes the
interpreter and the libraries (a worker starts at about 150-200 MB).
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from _common import book as standard_book
from _common import machine, parser, row, timed

import crmscore as cs
from crmscore.rescoring import Book, CLVStage, RescoringPolicy, open_book, review

if TYPE_CHECKING:
    from collections.abc import Callable

CLV = {"t": 30.0, "horizon": 12, "discount_rate": 0.01}
#: The tier indicators: RFM and CLV columns (points from every customer's rank or range).
CARD = cs.Scorecard(
    hierarchy=cs.Criterion(
        name="value", weights={"clv": 0.4, "p_alive": 0.2, "frequency": 0.2, "total_spend": 0.2}
    ),
    indicators=[
        cs.Indicator(name="clv", direction="benefit", normaliser=cs.PercentileRank()),
        cs.Indicator(name="p_alive", direction="benefit", normaliser=cs.MinMax()),
        cs.Indicator(name="frequency", direction="benefit", normaliser=cs.PercentileRank()),
        cs.Indicator(name="total_spend", direction="benefit", normaliser=cs.MinMax()),
    ],
)
FEATURES = ["frequency", "total_spend"]
#: The book's policy for the review step (its scorecard reads the steps' columns).
POLICY = RescoringPolicy(
    scorecard=cs.Scorecard(
        hierarchy=cs.Criterion(
            name="value",
            weights={"clv": 0.4, "p_alive": 0.2, "total_spend": 0.2, "churn_level": 0.2},
        ),
        indicators=[
            cs.Indicator(name="clv", direction="benefit", normaliser=cs.PercentileRank()),
            cs.Indicator(name="p_alive", direction="benefit", normaliser=cs.MinMax()),
            cs.Indicator(name="total_spend", direction="benefit", normaliser=cs.PercentileRank()),
            cs.Indicator(
                name="churn_level", direction="cost", normaliser=cs.FixedRange(low=0, high=3)
            ),
        ],
    ),
    clv=CLVStage(horizon=12),
    churn=cs.EarlyWarning(),
)
#: The review's quarter: the book is opened this long before ``as_of``.
QUARTER = pd.Timedelta(days=91)
#: Shuffle buffers per worker (Dask's default for sending is 1 GiB).
P2P_BUFFER = "32 MiB"


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


class Stages:
    """Wall time and peak RSS of each step of a chain.

    ``reset`` runs before each step (it resets the peak RSS of this process or of
    every worker) and ``probe`` after it (the peak since: of the largest worker, for
    Dask), so each step's memory is its own.
    """

    def __init__(self, reset: Callable[[], Any], probe: Callable[[], int]) -> None:
        self.seconds: dict[str, float] = {}
        self.memory: dict[str, int] = {}
        self._reset, self._probe = reset, probe
        self._last = time.perf_counter()

    def start(self) -> None:
        self._reset()
        self._last = time.perf_counter()

    def done(self, stage: str) -> None:
        self.seconds[stage] = time.perf_counter() - self._last
        self.memory[stage] = self._probe()
        self.start()


def as_events(log: Any) -> Any:
    """The purchases as an event log (pandas or Dask): kind "purchase", value the amount."""
    return log.rename(columns={"amount": "value"}).assign(kind="purchase")


def clv_values(table: pd.DataFrame, purchases: Any, spend: Any) -> pd.DataFrame:
    """The CLV columns of ``predict_clv_dask``, in pandas."""
    return pd.DataFrame(
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


def pandas_chain(
    log: pd.DataFrame,
    as_of: pd.Timestamp,
    unit: cs.rfm.TimeUnit,
    stages: Stages,
    *,
    book: Book | None = None,
) -> dict[str, Any]:
    stages.start()
    table = cs.rfm_table(log, as_of=as_of, time_unit=unit)
    stages.done("RFM table")
    purchases = cs.BetaGeoFitter().fit(table)
    spend = cs.GammaGammaFitter().fit(table)
    stages.done("BG/NBD + Gamma-Gamma fits")
    clv = clv_values(table, purchases, spend)
    stages.done("CLV values")
    levels = cs.EarlyWarning().predict(as_events(log), as_of=as_of)
    stages.done("churn warnings")
    features = table[FEATURES].assign(clv=clv["clv"], p_alive=clv["p_alive"])
    scorecard = CARD.fit(features)
    tiers = scorecard.score(features)
    stages.done("tiers (scorecard fit + scores)")
    results = {}
    if book is not None:
        events = as_events(log)
        reviewed = review(book, events[events["timestamp"] > book.as_of], as_of=as_of)
        stages.done("review (rescoring engine)")
        results = {"review_state": reviewed.book.to_frame(), "review_changes": reviewed.changes}
    return {
        **results,
        "purchases": purchases,
        "spend": spend,
        "scorecard": scorecard,
        "rfm": table,
        "clv": clv,
        "warnings": levels,
        "tiers": tiers,
    }


def dask_chain(
    folder: str,
    out: Path,
    as_of: pd.Timestamp,
    unit: cs.rfm.TimeUnit,
    stages: Stages,
    *,
    book: Book,
) -> dict[str, Any]:
    """The chain on the cluster; per-customer results are written to ``out``."""
    import dask.dataframe as dd  # noqa: PLC0415
    from dask.base import compute  # noqa: PLC0415
    from dask.distributed import wait  # noqa: PLC0415

    stages.start()
    log = dd.read_parquet(folder)  # read on the workers at each step, never held
    table = cs.rfm_table_dask(log, as_of=as_of, time_unit=unit).persist()
    wait(table)
    table.to_parquet(out / "rfm")
    stages.done("RFM table")
    purchases = cs.fit_dask(table, fitter=cs.BetaGeoFitter(), time_unit=unit)
    spend = cs.fit_dask(table, fitter=cs.GammaGammaFitter())
    stages.done("BG/NBD + Gamma-Gamma fits")
    clv = cs.predict_clv_dask(
        table,
        purchase_model=purchases,
        spend_model=spend,
        t=CLV["t"],
        horizon=int(CLV["horizon"]),
        discount_rate=CLV["discount_rate"],
        time_unit=unit,
    )
    clv = clv.persist()  # 4 floats per customer: small next to the log
    wait(clv)
    clv.to_parquet(out / "clv")
    stages.done("CLV values")
    levels = cs.early_warning_dask(as_events(log), as_of=as_of)
    levels.to_parquet(out / "warnings")
    stages.done("churn warnings")
    # The same partitions (the CLV columns are computed per partition of the table).
    features = table[FEATURES].assign(clv=clv["clv"], p_alive=clv["p_alive"])
    scorecard = cs.fit_scorecard_dask(features, scorecard=CARD)
    cs.score_tiers_dask(features, scorecard=scorecard).to_parquet(out / "tiers")
    stages.done("tiers (scorecard fit + scores)")
    events = as_events(log)
    reviewed = cs.review_dask(
        dd.read_parquet(out.parent / "state"),
        events[events["timestamp"] > book.as_of],
        policy=book.policy,
        as_of=as_of,
        state_as_of=book.as_of,
        scorecard=book.scorecard,
        purchase_model=book.purchase_model,
        spend_model=book.spend_model,
    )
    # State and audit rows come from the same tasks: write both in one compute.
    compute(
        reviewed.state.to_parquet(out / "review_state", compute=False),
        reviewed.changes.to_parquet(out / "review_changes", compute=False),
    )
    stages.done("review (rescoring engine)")
    return {"purchases": purchases, "spend": spend, "scorecard": scorecard}


def same_optimum(got: Any, expected: Any) -> float:
    """Largest relative difference of two fits' parameters and log-likelihoods."""
    params, reference = got.params.to_dict(), expected.params.to_dict()
    pairs = [(params[k], reference[k]) for k in reference]
    pairs.append((got.log_likelihood, expected.log_likelihood))
    return max(abs(float(a) / float(b) - 1) for a, b in pairs)


def quiet_parquet_attrs() -> None:
    """Silence (in this process) the warning that Parquet cannot keep ``attrs["as_of"]``.

    The RFM table and the warnings carry ``as_of`` (a Timestamp) in ``attrs``, which
    Parquet's JSON metadata cannot store: a real run passes ``as_of`` and
    ``time_unit`` explicitly after reading them back (see docs/scaling.md), as this
    one does. Run on every worker (the workers write the files).
    """
    warnings.filterwarnings("ignore", "Could not serialize pd.DataFrame.attrs")


def megabytes(value: float) -> float:
    return value / 2**20


def run_pandas(
    folder: str, as_of: pd.Timestamp, unit: cs.rfm.TimeUnit, *, book: Book
) -> tuple[Any, ...]:
    """The chain in this process: results, stages, total time."""
    log = pd.read_parquet(folder)
    stages = Stages(reset_peak, peak)
    start = time.perf_counter()
    results = pandas_chain(log, as_of, unit, stages, book=book)
    seconds = time.perf_counter() - start
    print(row("pandas (one process)", seconds))
    return results, stages, seconds


def run_dask(
    folder: str,
    out: Path,
    as_of: pd.Timestamp,
    unit: cs.rfm.TimeUnit,
    *,
    workers: int,
    memory_limit: str,
    book: Book,
) -> tuple[Any, ...]:
    """The chain on a LocalCluster: results, stages, total time."""
    import dask  # noqa: PLC0415
    from dask.distributed import Client, LocalCluster  # noqa: PLC0415

    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    with (
        dask.config.set(
            {
                "distributed.scheduler.allowed-failures": 1,
                # The P2P shuffle buffers up to 1 GiB per worker before sending by
                # default: more than a small worker has. Send (and write) sooner.
                "distributed.p2p.comm.buffer": P2P_BUFFER,
                "distributed.p2p.storage.buffer": P2P_BUFFER,
                # A worker at its pause threshold waits for memory it can spill; when
                # the rest is unmanaged (libraries, freed but unreturned memory) that
                # is forever: a silent stall. Without pausing it runs on, spills, and
                # is killed (an error: KilledWorker) only if it truly outgrows the limit.
                "distributed.worker.memory.pause": False,
                # Arrow's own allocator keeps freed memory; the system one returns it
                # (the nanny sets MALLOC_TRIM_THRESHOLD_), so it is not held as unmanaged.
                "distributed.nanny.pre-spawn-environ": {
                    **dask.config.get("distributed.nanny.pre-spawn-environ"),
                    "ARROW_DEFAULT_MEMORY_POOL": "system",
                },
            }
        ),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            memory_limit=memory_limit,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            local_directory=str(out / "dask-worker-space"),
        ) as cluster,
        Client(cluster) as client,
    ):
        quiet_parquet_attrs()
        client.run(quiet_parquet_attrs)
        stages = Stages(lambda: client.run(reset_peak), lambda: max(client.run(peak).values()))
        start = time.perf_counter()
        results = dask_chain(folder, out, as_of, unit, stages, book=book)
        seconds = time.perf_counter() - start
    print(row(f"Dask LocalCluster ({workers} processes, {memory_limit} each)", seconds))
    return results, stages, seconds


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as text (each side has its own categories), index sorted."""
    categorical = frame.select_dtypes("category").columns
    return naive(frame.astype(dict.fromkeys(categorical, str))).sort_index()


def naive(frame: pd.DataFrame) -> pd.DataFrame:
    """Spark's UTC timestamps as pandas' naive ones (the same instants)."""
    frame = frame.copy()
    for column in frame.select_dtypes("datetimetz").columns:
        frame[column] = frame[column].dt.tz_convert(None)
    return frame


def check(expected: dict[str, Any], got: dict[str, Any], out: Path, sample: pd.Index) -> str:
    """Compare the Dask results with pandas; return a line saying what was compared.

    The fits are compared with the pandas fits. The per-customer columns downstream
    of them (CLV values, the scorecard learned from them, tiers) are compared with
    the pandas functions given the Dask fits, so that every column must be equal.
    """
    differences = [same_optimum(got[k], expected[k]) for k in ("purchases", "spend")]
    assert max(differences) <= 1e-8, f"fits differ: {differences}"
    table = expected["rfm"]
    clv = clv_values(table, got["purchases"], got["spend"])
    features = table[FEATURES].assign(clv=clv["clv"], p_alive=clv["p_alive"])
    scorecard = CARD.fit(features)
    for learned, scale in zip(got["scorecard"].scales, scorecard.scales, strict=True):
        assert learned == scale, (learned, scale)
    np.testing.assert_array_equal(got["scorecard"].medians, scorecard.medians)
    references = {
        "rfm": table,
        "clv": clv,
        "warnings": expected["warnings"],
        "tiers": scorecard.score(features),
    }
    for name, frame in references.items():
        result = pd.read_parquet(out / name)
        if sample.name in result.columns:  # Spark writes the id as a column
            result = result.set_index(sample.name)
        result = plain(result.loc[result.index.intersection(sample)])
        reference = plain(frame.loc[frame.index.intersection(sample)])
        assert len(result) == len(reference) > 0, (name, len(result), len(reference))
        pd.testing.assert_frame_equal(result, reference, check_exact=True)
    reviewed = ""
    if "review_state" in expected:
        same_review(expected, out, sample)
        reviewed = (
            "; the review's state (floats to 1e-8: it refits) and audit rows equal on "
            "the same customers"
        )
    return (
        f"  same results: both fits to {max(differences):.1e} relative; the scorecard's "
        f"normalisation equal; every column of the RFM table, CLV values, warnings and "
        f"tiers equal on {len(sample):,} customers{reviewed}"
    )


def same_review(expected: dict[str, Any], out: Path, sample: pd.Index) -> None:
    """Compare review_dask's state and audit rows on ``sample`` with review's.

    The review refits the CLV models and relearns the scorecard on the whole state
    (fit_dask: the pandas optimum to 1e-8), so floats agree to 1e-8 and the rest
    exactly; audit rows are compared as a set (partitions give each customer's rows).
    """
    got = pd.read_parquet(out / "review_state")
    want = expected["review_state"]
    if sample.name in got.columns:  # Spark writes the id as a column, in its own order
        got = got.set_index(sample.name)[list(want.columns)]
    got = naive(got.loc[got.index.intersection(sample)]).sort_index()
    want = naive(want.loc[want.index.intersection(sample)]).sort_index()
    assert got.index.equals(want.index)
    assert len(got) > 0
    assert list(got.columns) == list(want.columns)
    for column in want.columns:
        if want[column].dtype.kind == "f":
            np.testing.assert_allclose(got[column], want[column], rtol=1e-8, err_msg=column)
        else:
            assert _objects(got[column]) == _objects(want[column]), column
    rows = pd.read_parquet(out / "review_changes")
    wanted = expected["review_changes"]
    rows, wanted = (
        _in_order(naive(frame[frame["customer_id"].isin(sample)])[list(wanted.columns)])
        for frame in (rows, wanted)
    )
    assert len(rows) == len(wanted) > 0, (len(rows), len(wanted))
    for column in wanted.columns:
        if column == "score":
            np.testing.assert_allclose(rows[column], wanted[column], rtol=1e-8)
        else:
            assert _objects(rows[column]) == _objects(wanted[column]), column


def _objects(values: pd.Series) -> list[Any]:
    """Values as Python objects, every missing value as None."""
    return [None if pd.isna(v) else v for v in values.astype(object)]


def _in_order(changes: pd.DataFrame) -> pd.DataFrame:
    """Audit rows in one order (each customer's rows, as the partitions give them)."""
    keyed = changes.assign(_id=changes["customer_id"].astype(str))
    return keyed.sort_values(
        ["_id", "at", "change", "rule", "detail"], kind="stable", ignore_index=True
    ).drop(columns="_id")


def last_quarter(
    log: pd.DataFrame, as_of: pd.Timestamp, folder: Path, *, parts: int, **parquet: Any
) -> Book:
    """Open the book a quarter before ``as_of`` (pandas) and store its state as Parquet.

    In ``parts`` files, as many as the log's: a state partition of 500k customers
    (4 files at 2M customers) does not fit a 450 MiB worker once reviewed.
    ``parquet`` goes to ``to_parquet`` (Spark needs microsecond timestamps).
    """
    events = as_events(log).assign(event_id=np.arange(len(log)))  # ingest de-duplicates
    opened = open_book(
        POLICY, events[events["timestamp"] <= as_of - QUARTER], as_of=as_of - QUARTER
    )
    # What a service stores per customer (the book's columns), partitioned as files are.
    state = opened.book.to_frame()
    folder.mkdir()
    for number, rows in enumerate(np.array_split(np.arange(len(state)), parts)):
        state.iloc[rows[0] : rows[-1] + 1].to_parquet(
            folder / f"part-{number:04d}.parquet", **parquet
        )
    return opened.book


def main() -> None:
    p = parser(__doc__ or "", customers=1_000_000)
    p.add_argument("--workers", type=int, default=2, help="Dask workers (one thread each)")
    p.add_argument("--partitions", type=int, default=0, help="Parquet files (default: by size)")
    p.add_argument("--time-unit", choices=["D", "W", "M"], default="D", help="RFM time unit")
    p.add_argument(
        "--worker-memory", type=int, default=0, help="memory limit per worker, MB (0: Dask's)"
    )
    p.add_argument(
        "--check-customers", type=int, default=1_000_000, help="customers compared with pandas"
    )
    args = p.parse_args()
    data, generation = timed(lambda: standard_book(args.customers, args.seed))
    n_rows = len(data.transactions)
    partitions = args.partitions or max(4, n_rows // 500_000)
    data_mb = megabytes(data.transactions.memory_usage(deep=True).sum())
    memory_limit = f"{args.worker_memory}MiB" if args.worker_memory else "auto"
    print(
        f"bench_dask: {n_rows:,} transactions ({data_mb:,.0f} MB in memory), "
        f"{args.customers:,} customers, {partitions} Parquet files, {args.workers} workers "
        f"(memory limit {memory_limit}), time unit {args.time_unit} ({machine()})"
    )
    print(row("make_transactions", generation))
    # --repeat is accepted (CI passes it) but the chain runs once: it writes its results.
    with tempfile.TemporaryDirectory(prefix="crmscore-bench-") as directory:
        folder, out = Path(directory) / "log", Path(directory) / "out"
        folder.mkdir()
        for number, rows in enumerate(np.array_split(np.arange(n_rows), partitions)):
            part = data.transactions.iloc[rows[0] : rows[-1] + 1]
            part.to_parquet(folder / f"part-{number:04d}.parquet", index=False)
        as_of = data.as_of
        ids = data.transactions["customer_id"].unique()
        stride = max(1, -(-len(ids) // args.check_customers))
        sample = pd.Index(np.sort(ids)[::stride], name="customer_id")
        book = last_quarter(data.transactions, as_of, Path(directory) / "state", parts=partitions)
        del data, part  # each side reads the files
        got, dask_stages, dask_s = run_dask(
            str(folder),
            out,
            as_of,
            args.time_unit,
            workers=args.workers,
            memory_limit=memory_limit,
            book=book,
        )
        expected, pandas_stages, pandas_s = run_pandas(
            str(folder), as_of, args.time_unit, book=book
        )
        print("  steps, pandas | Dask (time; peak RSS during the step, largest worker):")
        for stage, seconds in pandas_stages.seconds.items():
            pandas_mb = megabytes(pandas_stages.memory[stage])
            dask_mb = megabytes(dask_stages.memory[stage])
            print(
                f"    {stage:<32} {seconds:7.3f} s {pandas_mb:6,.0f} MB"
                f" | {dask_stages.seconds[stage]:7.3f} s {dask_mb:6,.0f} MB"
            )
        print(check(expected, got, out, sample))
    largest = max(dask_stages.memory.values())
    print(
        f"  Dask took {dask_s / pandas_s:.2f}x the time of pandas; its largest worker "
        f"peaked at {megabytes(largest):,.0f} MB ({largest / 2**20 / data_mb:.2f}x the log "
        f"in memory), the pandas process at {megabytes(max(pandas_stages.memory.values())):,.0f} MB"
    )


if __name__ == "__main__":
    main()
