"""The engine's column store: derived stores share, never change, the old one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmscore._ids import TextIds
from crmscore.rescoring._chunks import (
    ChunkedIndex,
    ColumnStore,
    DueIndex,
    _SortedHashes,
    is_in,
    label_hashes,
    unique_ints,
)


def _pending(get):  # type: ignore[no-untyped-def]
    return ~get("done")


_SPEC = DueIndex(name="due", key="at", live=_pending)


def _columns(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    at = rng.integers(0, 1000, n).astype("datetime64[ns]")
    at[rng.random(n) < 0.2] = np.datetime64("NaT")
    return {"value": rng.random(n), "at": at, "done": rng.random(n) < 0.3}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60), steps=st.integers(1, 12))
def test_derived_stores_equal_plain_arrays_and_leave_the_old_ones_alone(
    seed: int, n: int, steps: int
) -> None:
    rng = np.random.default_rng(seed)
    plain = _columns(n, rng)
    store = ColumnStore.of(plain, (_SPEC,))
    history = [(store, {k: v.copy() for k, v in plain.items()})]
    for _ in range(steps):
        rows = np.unique(rng.integers(0, len(plain["value"]), rng.integers(0, 8)))
        extra = int(rng.integers(0, 3))
        new = _columns(rows.size + extra, rng)
        total = len(plain["value"]) + extra
        all_rows = np.r_[rows, np.arange(len(plain["value"]), total)].astype(np.int64)
        for name in plain:
            grown = np.concatenate([plain[name], new[name][rows.size :]])
            grown[rows] = new[name][: rows.size]
            plain[name] = grown
        store = store.derive(all_rows, new, total)
        history.append((store, {k: v.copy() for k, v in plain.items()}))
    for kept, expected in history:  # every store, old or new, holds its own values
        for name, values in expected.items():
            np.testing.assert_array_equal(kept[name], values)
            some = rng.integers(0, len(values), 5)
            np.testing.assert_array_equal(kept.take(name, some), values[some])
        # The due index finds every pending row at or before any time.
        limit = np.datetime64(int(rng.integers(0, 1000)), "ns")
        pending = np.flatnonzero(~expected["done"] & (expected["at"] <= limit))
        found = kept.due("due", limit)
        assert np.isin(pending, found).all()


def test_a_derived_store_copies_only_the_changed_rows() -> None:
    rng = np.random.default_rng(0)
    n = 100_000
    store = ColumnStore.of(_columns(n, rng), (_SPEC,))
    rows = np.arange(0, n, 1000, dtype=np.int64)
    new = store.derive(rows, _columns(rows.size, rng), n)
    assert new.base is store.base  # shared, not copied
    assert sum(r.rows.size for r in new.runs) == rows.size


@settings(max_examples=60)
@given(
    values=st.lists(st.integers(0, 50), max_size=40),
    others=st.lists(st.integers(0, 50), max_size=40),
)
def test_set_helpers_agree_with_numpy(values: list[int], others: list[int]) -> None:
    a = np.asarray(values, dtype=np.int64)
    b = np.asarray(others, dtype=np.int64)
    assert np.array_equal(unique_ints(a), np.unique(a))
    assert unique_ints(a).dtype == np.int64
    assert np.array_equal(is_in(a, unique_ints(b)), np.isin(a, b))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3000), top_bits=st.integers(1, 64))
def test_sorted_hashes_find_what_a_hash_table_finds(seed: int, n: int, top_bits: int) -> None:
    # Hashes crowded into their ``top_bits`` high bits share directory slots and
    # high bits: the search must still find each one, and only it.
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, 2**64 - 1, 2 * n, dtype=np.uint64, endpoint=True)
    crowded = drawn >> np.uint64(64 - top_bits) << np.uint64(64 - top_bits)
    hashes = rng.permutation(pd.unique(crowded))[:n]
    lookup = _SortedHashes.of(hashes)
    assert lookup is not None
    absent = rng.integers(0, 2**64 - 1, 50, dtype=np.uint64, endpoint=True)
    edges = np.array([0, 2**63, 2**64 - 1], dtype=np.uint64)
    queries = np.concatenate([hashes, hashes ^ np.uint64(1), absent, edges])
    expected = pd.Index(hashes).get_indexer(queries)
    np.testing.assert_array_equal(lookup.find(queries, hashes), expected)
    targets = np.concatenate([queries, lookup.keys, lookup.keys + np.uint64(1)])
    np.testing.assert_array_equal(
        lookup.first_at_least(targets), np.searchsorted(lookup.keys, targets)
    )


def test_labels_sharing_a_hash_are_still_told_apart() -> None:
    labels = np.array(["a", "b", "c", "d"], dtype=object)
    shared = np.array([7, 9, 7, 2**64 - 1], dtype=np.uint64)  # "a" and "c" collide
    assert _SortedHashes.of(shared) is None
    index = ChunkedIndex().add(labels, shared, canonical=True)
    found = index.positions(
        np.array(["c", "a", "x", "d"], dtype=object),
        np.array([7, 7, 7, 2**64 - 1], dtype=np.uint64),
    )
    np.testing.assert_array_equal(found, [2, 0, -1, 3])
    # A label whose hash matches another label's is not taken for it.
    unique = ChunkedIndex().add(labels[:2], shared[:2], canonical=True)
    found = unique.positions(np.array(["z", "b"], dtype=object), np.array([7, 9], dtype=np.uint64))
    np.testing.assert_array_equal(found, [-1, 1])


@pytest.mark.parametrize("shared_hash", [False, True])
def test_an_index_of_arrow_string_ids_answers_as_one_of_objects(shared_hash: bool) -> None:
    """Event ids kept in Arrow (TextIds): lookups, labels, joins as with str objects."""
    pa = pytest.importorskip("pyarrow")
    first = np.array(["e3", "é1", "e2", "x", "e0", "e5"], dtype=object)
    at = np.array([4, 1, 5, 0], dtype=np.int64)  # a selection, reordered
    arrow = TextIds(pa.array(first, type=pa.large_string()))[at]
    plain_first = first[at]
    hashes = label_hashes(plain_first)
    if shared_hash:  # (the lookup falls back to an index of the labels)
        hashes = hashes.copy()
        hashes[1] = hashes[0]
    later = [np.array(["n1", "n2"], dtype=object), np.array(["n3", "n4"], dtype=object)]
    later.append(np.array([7, 8, 9], dtype=np.int64))  # (an integer id ends the Arrow run)
    kept = ChunkedIndex().add(arrow, hashes)
    plain = ChunkedIndex().add(plain_first, hashes, canonical=True)
    kinds = []
    for labels in later:
        kept, plain = kept.add(labels), plain.add(labels)
        assert [len(c) for c in kept.chunks] == [len(c) for c in plain.chunks]
        queries = np.array(["e3", "x", "é1", "n2", "e2", "zz", "n3", 8], dtype=object)
        query_hashes = label_hashes(queries)
        if shared_hash:
            query_hashes[queries == "é1"] = hashes[0]
        np.testing.assert_array_equal(
            kept.positions(queries, query_hashes), plain.positions(queries, query_hashes)
        )
        everywhere = np.arange(len(plain))[::-1]
        assert kept.labels_at(everywhere).tolist() == plain.labels_at(everywhere).tolist()
        pd.testing.assert_index_equal(kept.to_index("e"), plain.to_index("e"))
        kinds.append([type(c.labels).__name__ for c in kept.chunks])
    # String chunks join in Arrow; an integer id makes the joined chunk objects.
    assert kinds == [["TextIds"], ["TextIds", "ndarray"], ["ndarray"]]
