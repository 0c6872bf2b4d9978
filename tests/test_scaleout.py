"""Dask results equal the pandas results, on a real LocalCluster bound to 127.0.0.1."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dask.dataframe as dd
import pandas as pd
import pytest
from dask import distributed

import crmscore as cs
from crmscore.scaleout import rfm_table_dask

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    with cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


@pytest.fixture(scope="module")
def book() -> cs.SyntheticBook:
    return cs.make_transactions(20_000, seed=17)


@pytest.mark.parametrize("time_unit", ["D", "W", "M"])
def test_rfm_table_on_dask_equals_pandas(
    client: object, book: cs.SyntheticBook, time_unit: cs.rfm.TimeUnit
) -> None:
    as_of = book.as_of - pd.Timedelta(days=200)
    ddf = dd.from_pandas(book.transactions, npartitions=7)
    lazy = cs.rfm_table(ddf, as_of=as_of, time_unit=time_unit)
    assert type(lazy).__module__.startswith("dask")
    result = lazy.compute().sort_index()
    expected = cs.rfm_table(book.transactions, as_of=as_of, time_unit=time_unit)
    pd.testing.assert_frame_equal(result, expected, check_exact=True)


def test_partitions_without_customers_give_empty_parts(client: object) -> None:
    # Most partitions hold only transactions after as_of: they contribute nothing.
    tx = cs.make_transactions(500, seed=3).transactions
    as_of = tx["timestamp"].iloc[20]
    ddf = dd.from_pandas(tx, npartitions=10)
    result = rfm_table_dask(ddf, as_of=as_of).compute().sort_index()
    pd.testing.assert_frame_equal(result, cs.rfm_table(tx, as_of=as_of))


def test_dask_errors_are_the_pandas_errors(client: object) -> None:
    tx = cs.make_transactions(300, seed=4).transactions
    with pytest.raises(cs.ColumnNotFoundError, match=r"\['amount'\]"):
        rfm_table_dask(dd.from_pandas(tx.drop(columns="amount"), npartitions=2), as_of="2025-01-01")
    broken = tx.assign(amount=tx["amount"].where(tx.index != 5, -1.0))
    lazy = rfm_table_dask(dd.from_pandas(broken, npartitions=3), as_of="2026-01-01")
    with pytest.raises(cs.InvalidDataError, match="negative amounts"):
        lazy.compute()
    with pytest.raises(cs.InvalidParameterError, match="a dask DataFrame"):
        rfm_table_dask(tx, as_of="2025-01-01")  # type: ignore[arg-type]
