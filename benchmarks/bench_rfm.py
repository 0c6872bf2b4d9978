"""rfm_table against lifetimes' summary_data_from_transaction_data on the same log.

    python benchmarks/bench_rfm.py                     # 1M customers, ~10M transactions
    python benchmarks/bench_rfm.py --customers 20000   # a quick run

Prints both times, the ratio, and the peak memory of each call beyond the input.
"""

from __future__ import annotations

import numpy as np
from _common import book, machine, parser, peak_memory, row, timed
from lifetimes.utils import summary_data_from_transaction_data

import crmscore as cs


def main() -> None:
    args = parser(__doc__ or "", customers=1_000_000).parse_args()
    data, generation = timed(lambda: book(args.customers, args.seed))
    tx = data.transactions
    print(f"bench_rfm: {len(tx):,} transactions, {args.customers:,} customers ({machine()})")
    print(row("make_transactions", generation))

    def ours() -> object:
        return cs.rfm_table(tx, as_of=data.as_of)

    def reference() -> object:
        return summary_data_from_transaction_data(
            tx,
            "customer_id",
            "timestamp",
            monetary_value_col="amount",
            observation_period_end=data.as_of,
            freq="D",
        )

    table, ours_s = timed(ours, repeat=args.repeat)
    ours_mb = peak_memory(ours)
    print(row("crmscore.rfm_table", ours_s, ours_mb))
    ref, ref_s = timed(reference)
    ref_mb = peak_memory(reference)
    print(row("lifetimes summary_data_from_transaction_data", ref_s, ref_mb))

    assert isinstance(table, type(ref))
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(table[column].to_numpy(float), ref[column].to_numpy())  # type: ignore[index]
    np.testing.assert_allclose(table["monetary_value"], ref["monetary_value"], rtol=1e-9)  # type: ignore[index]
    print(
        f"  identical results; crmscore is {ref_s / ours_s:.1f}x faster, "
        f"using {ours_mb / ref_mb:.2f}x the peak memory"
    )


if __name__ == "__main__":
    main()
