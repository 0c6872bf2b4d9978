"""One canonical identity for customer and event ids, in every entry point (issue 11).

The rule (``crmscore._ids``): an id is an integer or a string. Integers are one id
whatever their spelling (width, signedness, nullable, pyarrow, categorical, integral
float, Python int beyond 64 bits); strings are compared as strings (``"1"`` is not
``1``); bools, fractions, inf, missing ids and other objects are typed errors. A
column may mix integers and strings: distinct ids, integers first.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.util import hash_array

import crmscore as cs
from crmscore import _ids as ids_module
from crmscore._groups import exact_parts, sum_by_group
from crmscore._ids import (
    TextIds,
    canonical_ids,
    factorize_ids,
    hash_ids,
    json_ids,
    objects_of,
    plain_id_dtype,
    repeated_ids,
    repeated_text_ids,
)
from crmscore.rescoring import Book, RescoringPolicy, ingest, open_book
from tests.rescoring_cards import rfm_card
from tests.strategies import BIG, id_columns, plain

T0 = pd.Timestamp("2024-01-01")

# --- one id, many spellings -------------------------------------------------------------

#: Columns that each hold the ids 1, 2, 3, spelled differently.
SPELLINGS: dict[str, Any] = {
    "int64": np.array([1, 2, 3], dtype=np.int64),
    "int8": np.array([1, 2, 3], dtype=np.int8),
    "uint8": np.array([1, 2, 3], dtype=np.uint8),
    "uint64": np.array([1, 2, 3], dtype=np.uint64),
    "float": np.array([1.0, 2.0, 3.0]),
    "float32": np.array([1.0, 2.0, 3.0], dtype=np.float32),
    "Int64": pd.array([1, 2, 3], dtype="Int64"),
    "UInt16": pd.array([1, 2, 3], dtype="UInt16"),
    "Float64": pd.array([1.0, 2.0, 3.0], dtype="Float64"),
    "pyarrow": pd.array([1, 2, 3], dtype="int64[pyarrow]"),
    "categorical": pd.Categorical([1, 2, 3]),
    "object": np.array([1, np.uint8(2), 3.0], dtype=object),
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_every_integer_spelling_is_one_canonical_id_with_one_hash(spelling: str) -> None:
    ids = canonical_ids(pd.Series(SPELLINGS[spelling]), column="customer_id")
    assert ids.labels.dtype == np.int64
    np.testing.assert_array_equal(ids.labels, [1, 2, 3])
    np.testing.assert_array_equal(hash_ids(ids), hash_ids(np.array([1, 2, 3])))


#: Columns with text ids, missing ids and integers beyond int64, as each dtype holds them.
TEXT_AND_BIG: dict[str, Any] = {
    "uint64 beyond int64": np.array([1, 2**64 - 1], dtype=np.uint64),
    "float with NaN": np.array([1.0, np.nan]),
    "Int64 with NA": pd.array([1, None], dtype="Int64"),
    "string[pyarrow]": pd.array(["a", "b", None], dtype="string[pyarrow]"),
    "string[python]": pd.array(["a", np.str_("b")], dtype="string[python]"),
    "object str_": np.array([np.str_("a"), "b"], dtype=object),
    "categorical str_": pd.Categorical([np.str_("a"), "b"]),
}


@pytest.mark.parametrize("spelling", sorted({**SPELLINGS, **TEXT_AND_BIG}))
def test_ids_of_a_plain_dtype_are_stored_as_they_are_read(spelling: str) -> None:
    # plain_id_dtype lets the engine skip json_ids: only where json_ids would change nothing.
    column = pd.Series({**SPELLINGS, **TEXT_AND_BIG}[spelling])
    labels = canonical_ids(column, column="c", allow_missing=True).labels
    stored = json_ids(labels)
    kinds = {type(v) for v in labels} if labels.dtype == object else {np.int64}
    if plain_id_dtype(column.dtype):
        assert stored is labels
        assert kinds <= {int, str, type(None), np.int64}
    assert {type(v) for v in stored} <= {int, str, type(None)} or stored.dtype == np.int64
    if spelling in ("pyarrow", "string[pyarrow]", "int64", "Int64"):  # (the common columns)
        assert plain_id_dtype(column.dtype)


def test_integers_beyond_int64_are_python_ints_and_strings_stay_strings() -> None:
    ids = canonical_ids([1, BIG, "1", np.uint64(2**64 - 1)], column="c")
    assert ids.labels.dtype == object
    assert [type(v) for v in ids.labels] == [int, int, str, int]
    hashes = hash_ids(ids)
    assert len(set(hashes.tolist())) == 4  # "1" is not 1
    assert hashes[0] == hash_ids(np.array([1]))[0]


@pytest.mark.parametrize(
    ("values", "offending"),
    [
        ([1, True], [True]),
        (np.array([True, False]), [True, False]),
        ([1.5, 2.0], [1.5]),
        ([1.0, np.inf], [np.inf]),
        ([1, b"x"], [b"x"]),
        ([1, pd.Timestamp("2024-01-01")], [pd.Timestamp("2024-01-01")]),
    ],
)
def test_values_that_are_not_ids_are_a_typed_error_naming_them(
    values: Any, offending: list[Any]
) -> None:
    with pytest.raises(cs.InvalidDataError, match="not ids") as info:
        canonical_ids(values, column="customer_id")
    assert info.value.column == "customer_id"
    assert list(info.value.ids) == offending


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA])
def test_missing_ids_are_an_error_unless_allowed(missing: Any) -> None:
    with pytest.raises(cs.InvalidDataError, match="null id"):
        canonical_ids([1, missing], column="event_id")
    ids = canonical_ids([1, missing, 1.0], column="event_id", allow_missing=True)
    assert ids.missing is not None
    assert ids.missing.tolist() == [False, True, False]
    assert repeated_ids(ids).tolist() == [True, False, True]


def test_mixed_ids_are_distinct_and_ordered_integers_first() -> None:
    codes, index = factorize_ids(pd.Series(["b", 3, 1, "a", BIG, "1", 1.0]), column="cid")
    assert index.tolist() == [1, 3, BIG, "1", "a", "b"]
    assert index.name == "cid"
    assert codes.tolist() == [5, 1, 0, 4, 2, 3, 0]


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=60)
@given(column=id_columns(), companions=id_columns(min_size=0))
def test_an_id_hashes_and_codes_alike_whatever_shares_its_batch(
    column: list[Any], companions: list[Any]
) -> None:
    alone = hash_ids(canonical_ids(column, column="c"))
    together = hash_ids(canonical_ids(column + companions, column="c"))
    np.testing.assert_array_equal(together[: len(column)], alone)
    # One id per mathematical value: codes agree exactly where the plain values agree.
    codes, index = factorize_ids(pd.Series(column + companions, dtype=object), column="c")
    labels = [plain(v) for v in column + companions]
    assert [index[c] for c in codes] == labels
    assert len(index) == len({(type(v), v) for v in labels})
    ints = [v for v in index if not isinstance(v, str)]
    strings = [v for v in index if isinstance(v, str)]
    assert index.tolist() == sorted(ints) + sorted(strings)


def purchases(customers: list[Any], spelling: str = "object") -> pd.DataFrame:
    """One purchase a day per listed customer (amount = position + 1)."""
    n = len(customers)
    column: Any = pd.Series(customers, dtype=object)
    if spelling != "object":
        column = pd.Series(SPELLINGS[spelling]).iloc[np.asarray(customers, dtype=np.int64) - 1]
        column = column.reset_index(drop=True)
    return pd.DataFrame(
        {
            "customer_id": column,
            "timestamp": [T0 + pd.Timedelta(days=i) for i in range(n)],
            "amount": np.arange(1.0, n + 1.0),
        }
    )


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_rfm_table_and_churn_read_every_spelling_as_the_same_ids(spelling: str) -> None:
    customers = [1, 2, 3, 1, 2, 1]
    reference = cs.rfm_table(purchases(customers), as_of=T0 + pd.Timedelta(days=10))
    table = cs.rfm_table(purchases(customers, spelling), as_of=T0 + pd.Timedelta(days=10))
    assert table.index.tolist() == [1, 2, 3]
    assert table.index.dtype.kind in "iu"
    pd.testing.assert_frame_equal(table, reference, check_index_type=False)


@settings(max_examples=40, deadline=None)
@given(companions=id_columns(min_size=0, max_size=6))
def test_the_answer_for_a_customer_does_not_depend_on_the_other_ids(
    companions: list[Any],
) -> None:
    """rfm_table and the churn warning: customer 7's row is the same in any company."""
    companions = [c for c in companions if plain(c) != 7]
    mine = [7, np.uint8(7), 7.0]
    as_of = T0 + pd.Timedelta(days=12)
    alone = purchases(mine)
    together = pd.concat(
        [alone, purchases(companions).assign(timestamp=T0 + pd.Timedelta(days=1))],
        ignore_index=True,
    )
    rfm_alone = cs.rfm_table(alone, as_of=as_of)
    rfm_together = cs.rfm_table(together, as_of=as_of)
    pd.testing.assert_frame_equal(rfm_together.loc[[7]], rfm_alone.loc[[7]], check_index_type=False)

    def log(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.rename(columns={"amount": "value"}).assign(
            kind="purchase", event_id=list(range(len(frame)))
        )

    warning = cs.EarlyWarning()
    alone_w = warning.predict(log(alone), as_of=as_of)
    together_w = warning.predict(log(together), as_of=as_of)
    pd.testing.assert_frame_equal(together_w.loc[[7]], alone_w.loc[[7]], check_index_type=False)


def test_churn_event_ids_are_canonical_too() -> None:
    """``1.0`` re-delivers event ``1``: dropped, not counted twice."""
    log = pd.DataFrame(
        {
            "customer_id": [5, 5, 5.0],
            "timestamp": [T0, T0 + pd.Timedelta(days=1), T0 + pd.Timedelta(days=1)],
            "kind": "purchase",
            "value": [10.0, 20.0, 20.0],
            "event_id": pd.Series([0, 1, 1.0], dtype=object),
        }
    )
    clean = log.iloc[:2].assign(event_id=[0, 1], customer_id=[5, 5])
    as_of = T0 + pd.Timedelta(days=3)
    pd.testing.assert_frame_equal(
        cs.EarlyWarning().predict(log, as_of=as_of),
        cs.EarlyWarning().predict(clean, as_of=as_of),
    )
    with pytest.raises(cs.InvalidDataError, match="not ids") as info:
        cs.EarlyWarning().predict(log.assign(event_id=[0, 1, True]), as_of=as_of)
    assert info.value.column == "event_id"


# --- the engine ---------------------------------------------------------------------------


def engine_events(event_ids: list[Any], customers: list[Any], days: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": pd.Series(event_ids, dtype=object),
            "customer_id": pd.Series(customers, dtype=object),
            "timestamp": [T0 + pd.Timedelta(days=d) for d in days],
            "kind": "purchase",
            "value": [10.0 * (i + 1) for i in range(len(days))],
        }
    )


def test_an_int64_id_among_big_integers_is_still_the_same_id() -> None:
    """The defect of issue 11: re-delivery applied twice, a second book row."""
    policy = RescoringPolicy(scorecard=rfm_card())
    history = engine_events([1, 2], [10, 11], [0, 0])
    book = open_book(policy, history, as_of=T0 + pd.Timedelta(days=1)).book
    # Event 1 again (spelled 1.0) with a customer beyond int64, and customer 10 as uint8.
    batch = engine_events([1.0, BIG, 3], [10, BIG, np.uint8(10)], [0, 2, 2]).assign(
        value=[10.0, 5.0, 7.0]
    )
    book = ingest(book, batch, as_of=T0 + pd.Timedelta(days=2)).book
    customers = book.customers
    assert customers.index.is_unique
    assert customers["n_purchases"].to_dict() == {10: 2, 11: 1, BIG: 1}
    again = Book.from_dict(json.loads(json.dumps(book.to_dict())))
    replay = ingest(again, pd.concat([history, batch]), as_of=T0 + pd.Timedelta(days=2))
    assert replay.changes.empty
    pd.testing.assert_frame_equal(replay.book.to_frame(), again.to_frame())


def test_the_engine_and_rfm_table_agree_on_which_spellings_are_one_id() -> None:
    customers = [1, np.uint8(1), 1.0, "1", BIG, 2**63 - 1]
    log = engine_events(list(range(len(customers))), customers, [0, 1, 2, 3, 4, 5])
    as_of = T0 + pd.Timedelta(days=6)
    book = open_book(RescoringPolicy(scorecard=rfm_card()), log, as_of=as_of).book
    table = cs.rfm_table(log.rename(columns={"value": "amount"}), as_of=as_of)
    assert sorted(book.customers.index.tolist(), key=str) == sorted(table.index.tolist(), key=str)
    assert table.index.tolist() == [1, 2**63 - 1, BIG, "1"]
    for customer in table.index:
        assert book.customers.loc[customer, "n_purchases"] == table.loc[customer, "n_purchases"]
    with pytest.raises(cs.InvalidDataError, match="not ids"):
        open_book(RescoringPolicy(scorecard=rfm_card()), log.assign(customer_id=True), as_of=as_of)


# --- order-independent sums, bit for bit ----------------------------------------------

AWKWARD = st.sampled_from([0.1, 0.2, 0.3, 0.7, 1.1, 1e16, 3.3, 1e-3, 12345.67, 2.0**-30])


@settings(max_examples=80)
@given(
    values=st.lists(AWKWARD, min_size=1, max_size=20),
    groups=st.lists(st.integers(0, 2), min_size=20, max_size=20),
    seed=st.integers(0, 2**32 - 1),
)
def test_group_sums_are_independent_of_row_order_bit_for_bit(
    values: list[float], groups: list[int], seed: int
) -> None:
    weights = np.asarray(values)
    codes = np.asarray(groups[: len(values)], dtype=np.int64)
    permutation = np.random.default_rng(seed).permutation(len(values))
    sums = sum_by_group(codes, weights, 3)
    shuffled = sum_by_group(codes[permutation], weights[permutation], 3)
    assert sums.tobytes() == shuffled.tobytes()
    for g in range(3):  # and close to the exact sum (an oracle outside our code)
        exact = float(sum((Fraction(v) for v in weights[codes == g]), Fraction(0)))
        assert math.isclose(sums[g], exact, rel_tol=2**-52, abs_tol=0.0) or sums[g] == exact


@settings(max_examples=40, deadline=None)
@given(
    amounts=st.lists(AWKWARD, min_size=3, max_size=24),
    days=st.lists(st.integers(0, 3), min_size=24, max_size=24),
    seed=st.integers(0, 2**32 - 1),
)
def test_rfm_table_and_spend_drop_are_bitwise_independent_of_row_order(
    amounts: list[float], days: list[int], seed: int
) -> None:
    n = len(amounts)
    log = pd.DataFrame(
        {
            "customer_id": [i % 2 for i in range(n)],
            "timestamp": [T0 + pd.Timedelta(days=100 + d) for d in days[:n]],
            "amount": amounts,
        }
    )
    shuffled = log.sample(frac=1.0, random_state=np.random.default_rng(seed))
    as_of = T0 + pd.Timedelta(days=200)
    table = cs.rfm_table(log, as_of=as_of)
    again = cs.rfm_table(shuffled, as_of=as_of)
    for column in ("monetary_value", "total_spend", "average_spend"):
        assert table[column].to_numpy().tobytes() == again[column].to_numpy().tobytes()

    def events(frame: pd.DataFrame) -> pd.DataFrame:
        early = frame.assign(timestamp=frame["timestamp"] - pd.Timedelta(days=100))
        both = pd.concat([early, frame], ignore_index=True)
        return both.rename(columns={"amount": "value"}).assign(kind="purchase")

    drop = cs.EarlyWarning(signals=(cs.SpendDrop(),), rules=())
    first = drop.predict(events(log), as_of=as_of)
    second = drop.predict(events(shuffled), as_of=as_of)
    value = "spend_drop_value"
    assert first[value].to_numpy().tobytes() == second[value].to_numpy().tobytes()


def test_overrides_and_explain_take_any_spelling_and_record_the_books_id() -> None:
    policy = RescoringPolicy(scorecard=rfm_card())
    log = engine_events([1, 2, 3], [10, 11, 12], [0, 0, 1])
    book = open_book(policy, log, as_of=T0 + pd.Timedelta(days=2)).book
    tier = book.tiers.labels()[0]
    at = T0 + pd.Timedelta(days=3)
    for spelling in (np.int64(10), 10.0, np.uint8(10)):
        result = cs.rescoring.set_override(
            book, customer_id=spelling, tier=tier, as_of=at, reason="appeal", author="ops"
        )
        recorded = result.book.history["customer_id"].iloc[-1]
        assert type(recorded) is int
        assert recorded == 10
        json.dumps(result.book.to_dict())  # JSON-safe after the override
    why = cs.rescoring.explain(book, customer_ids=[np.uint8(11), 12.0])
    assert why.index.tolist() == [11, 12]
    with pytest.raises(cs.InvalidDataError, match="not ids"):
        cs.rescoring.explain(book, customer_ids=[True])


@settings(max_examples=60)
@given(
    values=st.lists(AWKWARD, min_size=1, max_size=20),
    groups=st.lists(st.integers(0, 2), min_size=20, max_size=20),
    chosen=st.lists(st.booleans(), min_size=20, max_size=20),
    seed=st.integers(0, 2**32 - 1),
)
def test_exact_parts_sum_any_selection_of_rows_exactly(
    values: list[float], groups: list[int], chosen: list[bool], seed: int
) -> None:
    weights = np.asarray(values)
    codes = np.asarray(groups[: len(values)], dtype=np.int64)
    inside = np.asarray(chosen[: len(values)])
    parts = exact_parts(codes, weights, 3)
    total = np.zeros_like(weights)
    for part in parts:
        total += part
    assert total.tobytes() == weights.tobytes()  # the parts add up to the weights
    permutation = np.random.default_rng(seed).permutation(len(values))
    sums, shuffled = np.zeros(3), np.zeros(3)
    for part in parts:
        sums += np.bincount(codes[inside], weights=part[inside], minlength=3)
        p, c, i = part[permutation], codes[permutation], inside[permutation]
        shuffled += np.bincount(c[i], weights=p[i], minlength=3)
    assert sums.tobytes() == shuffled.tobytes()
    for g in range(3):  # the selection's sum, rounded once (an oracle outside our code)
        exact = float(sum((Fraction(v) for v in weights[(codes == g) & inside]), Fraction(0)))
        assert sums[g] == exact or math.isclose(sums[g], exact, rel_tol=2**-52, abs_tol=0.0)
    if len(parts) <= 2:  # as sum_by_group of the selected rows, bit for bit
        alone = sum_by_group(codes[inside], weights[inside], 3)
        assert sums.tobytes() == alone.tobytes()


@pytest.mark.parametrize("low", [0, -5, 10**12])
def test_dense_and_increasing_integer_ids(low: int) -> None:
    """Fast paths: a full range of ids codes by offset, an increasing column never repeats."""
    ids = low + np.random.default_rng(3).permutation(np.repeat(np.arange(50), 3))
    codes, index = factorize_ids(pd.Series(ids), column="c")
    expected_codes, expected_index = pd.factorize(ids, sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    np.testing.assert_array_equal(index.to_numpy(), expected_index)
    increasing = canonical_ids(np.arange(low, low + 20), column="e")
    assert not repeated_ids(increasing).any()
    twice = canonical_ids(np.r_[np.arange(low, low + 20), low + 7], column="e")
    np.testing.assert_array_equal(np.flatnonzero(repeated_ids(twice)), [7, 20])


# --- string ids kept in Arrow (TextIds) ----------------------------------------------------

TEXTS = st.lists(
    st.one_of(st.text(max_size=20), st.sampled_from(["", "a", "é", "日本", "x" * 17])),
    max_size=30,
)


@settings(max_examples=60)
@given(texts=TEXTS, data=st.data())
def test_text_ids_in_arrow_read_and_hash_as_the_object_ids(texts: list[str], data: Any) -> None:
    pa = pytest.importorskip("pyarrow")
    plain = canonical_ids(pd.Series(texts, dtype=object), column="e")
    kept = TextIds(pa.array(texts, type=pa.large_string()))
    assert kept.size == len(texts)
    assert objects_of(kept).tolist() == plain.labels.tolist()
    assert all(type(v) is str for v in objects_of(kept))
    np.testing.assert_array_equal(kept.hashes(), hash_ids(plain))
    whole = hash_array(np.asarray(texts, dtype=object), categorize=False)  # pandas, at once
    with pytest.MonkeyPatch.context() as patch:  # (hashed in blocks of a few ids)
        patch.setattr(ids_module, "_HASH_BLOCK", data.draw(st.integers(1, 7)))
        np.testing.assert_array_equal(kept.hashes(), whole)
        np.testing.assert_array_equal(hash_ids(plain), whole)
    np.testing.assert_array_equal(
        repeated_text_ids(kept, hashes=kept.hashes()), repeated_ids(plain)
    )
    # Selections compose as numpy indexing does (a mask, then positions).
    flags = data.draw(st.lists(st.booleans(), min_size=len(texts), max_size=len(texts)))
    mask = np.array(flags, dtype=bool)
    chosen = plain.labels[mask]
    order = np.array(
        data.draw(st.lists(st.integers(0, max(chosen.size - 1, 0)), max_size=10))
        if chosen.size
        else [],
        dtype=np.int64,
    )
    part = kept[mask][order]
    assert part.objects().tolist() == chosen[order].tolist()
    np.testing.assert_array_equal(part.hashes(), hash_ids(chosen[order]))


def test_only_long_pyarrow_string_columns_without_nulls_stay_in_arrow() -> None:
    pa = pytest.importorskip("pyarrow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ids_module, "TEXT_IDS_MIN", 3)
        texts = ["a", "bb", "é", "d"]
        for dtype in ("string[pyarrow]", pd.ArrowDtype(pa.string())):
            kept = TextIds.of(pd.Series(texts, dtype=dtype))
            assert kept is not None
            assert kept.objects().tolist() == texts
        assert TextIds.of(pd.Series(texts, dtype=object)) is None
        assert TextIds.of(pd.Series(texts, dtype="string[python]")) is None
        assert TextIds.of(pd.Series([*texts, None], dtype="string[pyarrow]")) is None
        assert TextIds.of(pd.Series(texts[:2], dtype="string[pyarrow]")) is None  # short
        sliced = TextIds.of(pd.Series(texts * 100, dtype="string[pyarrow]").iloc[1:5])
        assert sliced is not None
        assert sliced.objects().tolist() == ["bb", "é", "d", "a"]
        assert sliced.source.offset == 0  # (its own bytes, not the whole column's)
        assert sliced.source.nbytes < 100


def test_the_engine_reads_arrow_string_event_ids_as_object_ones() -> None:
    """Event ids kept in Arrow (long pyarrow columns): the same book, audit and JSON."""
    pytest.importorskip("pyarrow")
    policy = RescoringPolicy(scorecard=rfm_card())
    ids = [f"e{i}" for i in range(8)]
    history = engine_events(ids, [10, 11, 10, 12, 11, 10, 12, 13], [0, 0, 1, 1, 2, 3, 3, 4])
    early = engine_events(["e9"], [14], [0]).assign(kind="complaint", value=np.nan)
    # A re-delivery, and an event of a customer before any purchase (skipped).
    history = pd.concat([history, history.iloc[[2]], early], ignore_index=True)
    batch = engine_events(["e1", "n1", "é2"], [11, 10, 15], [5, 5, 6])  # e1 again
    as_of = T0 + pd.Timedelta(days=6)

    def run(dtype: str) -> tuple[Any, ...]:
        opened = open_book(
            policy, history.astype({"event_id": dtype}), as_of=T0 + pd.Timedelta(days=4)
        )
        after = ingest(opened.book, batch.astype({"event_id": dtype}), as_of=as_of)
        again = Book.from_dict(json.loads(json.dumps(after.book.to_dict())))
        return opened, after, json.dumps(again.to_dict())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ids_module, "TEXT_IDS_MIN", 1)
        arrow = run("string[pyarrow]")
    plain = run("object")
    assert isinstance(arrow[0].book.event_ids.chunks[0].labels, TextIds)
    for kept, expected in zip(arrow[:2], plain[:2], strict=True):
        for name in ("changes", "skipped"):
            pd.testing.assert_frame_equal(getattr(kept, name), getattr(expected, name))
        pd.testing.assert_frame_equal(kept.book.to_frame(), expected.book.to_frame())
        assert kept.book.to_dict() == expected.book.to_dict()
    assert arrow[0].skipped["event_id"].tolist() == ["e9"]
    assert len(arrow[1].book.event_ids) == 11
    assert arrow[2] == plain[2]
