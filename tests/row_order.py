"""What a per-customer function sees of row order: shared by the Dask and Spark tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def positions(part: pd.DataFrame) -> pd.DataFrame:
    """Each customer's row positions, in the order the partition or bucket holds them."""
    grouped = part.groupby("customer_id", sort=True)["position"]
    return pd.DataFrame(
        {
            "first": grouped.first(),
            "n_rows": grouped.size(),
            "in_order": grouped.apply(lambda s: bool(np.all(np.diff(s.to_numpy()) > 0))),
        }
    )
