"""The engine's array kernels agree with plain numpy on any input, sorted or not."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crmscore.rescoring._batch import _stable_order, _stable_sort
from crmscore.rescoring._ingest import _running_sums, _unique_inverse, _unique_rows

_codes = st.lists(st.integers(0, 40), max_size=200)


@settings(max_examples=60, deadline=None)
@given(values=_codes, presorted=st.booleans())
def test_unique_inverse_is_numpys(values: list[int], presorted: bool) -> None:
    codes = np.asarray(sorted(values) if presorted else values, dtype=np.int64)
    got_unique, got_inverse = _unique_inverse(codes)
    want_unique, want_inverse = np.unique(codes, return_inverse=True)
    np.testing.assert_array_equal(got_unique, want_unique)
    np.testing.assert_array_equal(got_inverse, want_inverse)
    assert got_unique.dtype == want_unique.dtype


@settings(max_examples=60, deadline=None)
@given(values=_codes, extra=st.integers(0, 400))
def test_unique_rows_is_numpys(values: list[int], extra: int) -> None:
    # Books from just larger than the rows to 10x: both the mask and the sort are used.
    rows = np.asarray(values, dtype=np.int64)
    got = _unique_rows(rows, 41 + extra)
    want = np.unique(rows)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int64


@settings(max_examples=60, deadline=None)
@given(runs=st.lists(st.lists(st.floats(0, 1e6), min_size=1, max_size=70), max_size=12))
def test_running_sums_add_each_run_from_its_start(runs: list[list[float]]) -> None:
    values = np.asarray([v for run in runs for v in run], dtype=np.float64)
    starts = np.cumsum([0] + [len(run) for run in runs[:-1]]) if runs else np.zeros(0)
    group_first = np.repeat(starts, [len(run) for run in runs]).astype(np.int64)
    got = _running_sums(values, group_first)
    want = [np.cumsum(np.asarray(run, dtype=np.float64)) for run in runs]
    # Bit for bit: each run is summed in its own order, as np.cumsum of it alone.
    np.testing.assert_array_equal(got, np.concatenate(want) if want else np.zeros(0))
    assert got.size == values.size


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.integers(0, 2**62), max_size=200), narrow=st.booleans())
def test_stable_order_is_numpys_stable_argsort(values: list[int], narrow: bool) -> None:
    # Narrow codes repeat (ties keep arrival order); wide ones also take the unpacked path.
    codes = np.asarray([v % 7 for v in values] if narrow else values, dtype=np.int64)
    got = _stable_order(codes)
    np.testing.assert_array_equal(got, np.argsort(codes, kind="stable"))
    assert got.dtype == np.intp
    order, ordered = _stable_sort(codes)
    np.testing.assert_array_equal(order, got)
    np.testing.assert_array_equal(ordered, codes[got])
    assert ordered.dtype == np.int64
