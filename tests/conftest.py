"""Shared test set-up: hypothesis profiles, the ``dask`` mark on the scale-out doctests,
and the CDNOW data that ships inside the lifetimes package."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from lifetimes.datasets import load_dataset

# Hypothesis profiles, chosen by the HYPOTHESIS_PROFILE environment variable: "dev" (the
# default, for a quick local run) draws a third of the examples of "ci", the thorough
# profile that .ci/run exports. Tests with their own @settings(max_examples=...) keep
# their number under both profiles.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", settings.get_profile("ci"), max_examples=20)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

#: tests/typing is checked by mypy, not run: its functions pin the public API's return
#: types with typing.assert_type and are never called.
collect_ignore = ["typing"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the doctests of crmscore.scaleout ``dask``: their examples run Dask.

    The test modules mark themselves (``pytestmark``); doctests cannot, so
    ``-m "not dask"`` deselects them by their place in the source tree.
    """
    scaleout = config.rootpath / "src" / "crmscore" / "scaleout"
    for item in items:
        if item.path.is_relative_to(scaleout):
            item.add_marker(pytest.mark.dask)


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
