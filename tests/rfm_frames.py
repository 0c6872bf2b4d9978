"""Shared RFM test helpers: small per-customer tables for the scores and the segments."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from hypothesis import strategies as st

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def per_customer(values: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    return pd.DataFrame(values, index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))


rfm_like = st.lists(
    st.tuples(st.integers(0, 40), st.integers(1, 12), st.integers(0, 10_000)),
    min_size=1,
    max_size=60,
)


def frame_from(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    return per_customer(
        {
            "time_since_last": [float(r[0]) for r in rows],
            "n_purchases": [float(r[1]) for r in rows],
            "total_spend": [r[2] / 10 for r in rows],
        }
    )
