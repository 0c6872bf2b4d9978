"""The learned early warning scored per Dask partition (synchronous scheduler: fast)."""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

import crmscore as cs
from crmscore.scaleout import early_warning_dask


def test_learned_warning_on_dask_equals_pandas() -> None:
    book = cs.make_events(1_200, seed=6060)
    model = cs.LearnedWarningFitter(n_windows=2).fit(book.events, as_of=book.as_of)
    lazy_events: dd.DataFrame = dd.from_pandas(book.events, npartitions=5)  # type: ignore[no-untyped-call]
    lazy = early_warning_dask(lazy_events, as_of=book.as_of, warning=model)
    with dask.config.set(scheduler="synchronous"):
        result: pd.DataFrame = lazy.compute().sort_index()  # type: ignore[no-untyped-call]
    expected = model.predict(book.events, as_of=book.as_of)
    assert list(lazy._meta.columns) == list(expected.columns)
    assert result.index.equals(expected.index)
    pd.testing.assert_series_equal(result["active"], expected["active"])
    # A customer's events may reach a partition in another order: sums of several
    # amounts can differ in the last bits, nothing more.
    np.testing.assert_allclose(
        result["probability"].to_numpy(), expected["probability"].to_numpy(), rtol=1e-9
    )
    pd.testing.assert_series_equal(result["level"], expected["level"])
    assert result.loc[result["level"] != "none", "reasons"].ne("").all()
