"""crmscore on Dask: the whole chain per partition, checked against pandas.

Run it with ``python examples/dask_scale_out.py`` (needs ``pip install "crmscore[dask]"``).
A two-worker LocalCluster on 127.0.0.1 stands in for a real cluster: to use one,
pass its scheduler address to ``Client`` instead and read the log with, say,
``dd.read_parquet``. Nothing else changes.

1. The transaction log is generated on the workers, one chunk per partition
   (as a cluster would read it from storage), so no data travels in the graph.
2. RFM table per partition, after a shuffle on the customer id.
3. BG/NBD and Gamma-Gamma fitted from sufficient statistics counted on Dask.
4. CLV predictions per partition, a scorecard fitted on a sample, tiers per
   partition.
5. The same chain in pandas on the same log: every result is identical.
"""

from __future__ import annotations

import logging
import time

import dask.dataframe as dd
import pandas as pd
from dask.distributed import Client, LocalCluster

import crmscore as cs

CHUNKS = 8
CUSTOMERS_PER_CHUNK = 10_000


def chunk(number: int) -> pd.DataFrame:
    """One partition of the log: its own customers (ids offset by the chunk number)."""
    book = cs.make_transactions(CUSTOMERS_PER_CHUNK, seed=number)
    log = book.transactions
    return log.assign(customer_id=log["customer_id"] + number * CUSTOMERS_PER_CHUNK)


def scorecard() -> cs.Scorecard:
    """A B2C value scorecard over CLV columns (weights are illustrative)."""
    return cs.Scorecard(
        hierarchy=cs.Criterion(
            name="value", weights={"clv": 0.5, "p_alive": 0.2, "total_spend": 0.3}
        ),
        indicators=[
            cs.Indicator(name="clv", direction="benefit", normaliser=cs.PercentileRank()),
            cs.Indicator(
                name="p_alive", direction="benefit", normaliser=cs.FixedRange(low=0.0, high=1.0)
            ),
            cs.Indicator(
                name="total_spend", direction="benefit", normaliser=cs.MinMax(clip=(0.01, 0.99))
            ),
        ],
    )


def main() -> None:
    # distributed logs every shuffle at WARNING level; this script shows results only.
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    as_of = cs.make_transactions(1, seed=0).as_of  # every chunk has the same window
    clv_options = {"t": 13.0, "horizon": 12, "discount_rate": 0.01}
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"Cluster: {len(client.scheduler_info()['workers'])} workers on 127.0.0.1")
        start = time.perf_counter()
        transactions = dd.from_map(chunk, range(CHUNKS))
        table = cs.rfm_table_dask(transactions, as_of=as_of, time_unit="W").persist()
        purchases = cs.fit_dask(table, fitter=cs.BetaGeoFitter())
        spend = cs.fit_dask(table, fitter=cs.GammaGammaFitter())
        clv = cs.predict_clv_dask(table, purchase_model=purchases, spend_model=spend, **clv_options)
        features = table[["total_spend"]].assign(clv=clv["clv"], p_alive=clv["p_alive"])
        sample = features.sample(frac=0.1, random_state=1).compute()
        fitted = scorecard().fit(sample)
        tiers = cs.score_tiers_dask(features, scorecard=fitted)
        on_dask = tiers.compute().sort_index()
        clv_on_dask = clv.compute().sort_index()
        features_on_dask = features.compute().sort_index()
        dask_seconds = time.perf_counter() - start

    print(f"Dask: {len(on_dask):,} customers in {dask_seconds:.1f} s (cluster start excluded)")
    for name, model in (("BG/NBD", purchases), ("Gamma-Gamma", spend)):
        assert model.convergence is not None
        params = ", ".join(f"{k}={v:.3f}" for k, v in model.params.to_dict().items())
        print(f"{name} fitted on {model.convergence.n_rows:,} distinct rows: {params}")

    # The same chain in pandas, on the same log.
    start = time.perf_counter()
    log = pd.concat([chunk(number) for number in range(CHUNKS)], ignore_index=True)
    local_table = cs.rfm_table(log, as_of=as_of, time_unit="W")
    local_purchases = cs.BetaGeoFitter().fit(local_table)
    local_spend = cs.GammaGammaFitter().fit(local_table)
    local_clv = pd.DataFrame(
        {
            "p_alive": local_purchases.probability_alive(local_table),
            "expected_purchases": local_purchases.expected_purchases(local_table, t=13.0),
            "expected_spend": local_spend.expected_spend(local_table),
            "clv": cs.customer_lifetime_value(
                local_table,
                purchase_model=local_purchases,
                spend_model=local_spend,
                horizon=12,
                discount_rate=0.01,
            ),
        }
    )
    local_features = local_table[["total_spend"]].assign(
        clv=local_clv["clv"], p_alive=local_clv["p_alive"]
    )
    local_tiers = fitted.score(local_features)
    pandas_seconds = time.perf_counter() - start
    print(f"pandas: {len(local_tiers):,} customers in {pandas_seconds:.1f} s")

    # fit_dask adds the likelihood up per partition: the pandas optimum to the
    # optimiser's tolerance (1e-8 relative), not to the last bit.
    for model, local in ((purchases, local_purchases), (spend, local_spend)):
        got, expected = model.params.to_dict(), local.params.to_dict()
        assert all(abs(got[k] / expected[k] - 1) <= 1e-8 for k in expected), "fits differ"
    pd.testing.assert_frame_equal(clv_on_dask, local_clv, check_exact=False, rtol=1e-8)
    pd.testing.assert_frame_equal(on_dask, fitted.score(features_on_dask), check_exact=True)
    print("Same as pandas: both fitted models (to 1e-8), P(alive), expected purchases,")
    print("expected spend and CLV of every customer (to 1e-8); scores, contributions and")
    print("tiers of every customer with the same scorecard, exactly.")

    shares = on_dask["tier"].value_counts(normalize=True).sort_index(ascending=False)
    print("\nTier shares:")
    print(shares.to_string(float_format="{:.1%}".format))


if __name__ == "__main__":
    main()
