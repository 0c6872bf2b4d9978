"""Shared fixtures: the CDNOW data that ships inside the lifetimes package."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from lifetimes.datasets import load_dataset

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    """The 2,357-customer CDNOW sample as a transaction log (6,919 rows).

    Columns of the raw file: customer id, id in the master file, date (yyyymmdd),
    number of CDs, dollar value.
    """
    raw = load_dataset("CDNOW_sample.txt", header=None, sep=r"\s+")
    raw.columns = ["customer_id", "master_id", "date", "n_cds", "amount"]
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype("int64"),
            "timestamp": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
            "amount": raw["amount"].astype("float64"),
        }
    )
