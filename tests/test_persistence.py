"""Persistence that loses nothing: JSON-safe state after every call, exact round trips."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import crmscore as cs
from crmscore.rescoring import (
    Book,
    RescoringPolicy,
    TierAdjustment,
    clear_override,
    ingest,
    open_book,
    review,
    set_attributes,
    set_override,
)
from crmscore.tiering import Criterion, FixedRange, Indicator, Scorecard
from tests.value_samples import samples

if TYPE_CHECKING:
    from collections.abc import Callable

T0 = pd.Timestamp("2024-01-01")

#: Customers as the engine may receive them: integers of several numpy widths and
#: Python ints (all one id per value), and strings.
INT_TYPES: tuple[Any, ...] = (int, np.int64, np.int32, np.int16, np.uint8, np.uint32)
STR_TYPES: tuple[Any, ...] = (str, np.str_)
CUSTOMERS: tuple[Any, ...] = (1, 2, 3, "a", "b")


def spelled(draw: Callable[..., Any], customer: Any) -> Any:
    """The customer id in a randomly drawn scalar type."""
    kind = draw(st.sampled_from(STR_TYPES if isinstance(customer, str) else INT_TYPES))
    return kind(customer)


def policy() -> RescoringPolicy:
    card = Scorecard(
        hierarchy=Criterion(name="value", weights={"total_spend": 0.5, "level": 0.5}),
        indicators=[
            Indicator(
                name="total_spend", direction="benefit", normaliser=FixedRange(low=0, high=2000)
            ),
            Indicator(name="level", direction="benefit", normaliser=FixedRange(low=0, high=100)),
        ],
        missing="median",
    )
    return RescoringPolicy(
        scorecard=card,
        large_transaction=500.0,
        default_adjustment=TierAdjustment(steps=-1),
        signing_adjustment=TierAdjustment(to_tier="gold", expires_after_days=30),
    )


def dumped(book: Book) -> str:
    """Strict JSON: no NaN, no numpy scalars, no timestamps."""
    return json.dumps(book.to_dict(), allow_nan=False)


def assert_same_book(again: Book, book: Book) -> None:
    assert dumped(again) == dumped(book)
    pd.testing.assert_frame_equal(again.customers, book.customers)
    pd.testing.assert_frame_equal(again.history, book.history)
    pd.testing.assert_frame_equal(again.attributes, book.attributes)
    assert again.notes == book.notes


event_rows = st.lists(
    st.tuples(
        st.sampled_from(CUSTOMERS),
        st.integers(0, 10 * 1440),
        st.sampled_from(["purchase", "purchase", "purchase", "default", "strategic_signing"]),
        st.integers(1, 900),
    ),
    max_size=6,
)


class EngineMachine(RuleBasedStateMachine):
    """Every public call, ids in mixed scalar types, a strict JSON round trip after each.

    The round-tripped book replaces the live one, so every later call also runs on
    restored state.
    """

    def __init__(self) -> None:
        super().__init__()
        self.book: Book | None = None
        self.now = T0
        self.serial = 0
        self.last: pd.DataFrame | None = None

    def _batch(
        self, draw: Callable[..., Any], rows: list[tuple[Any, int, str, int]]
    ) -> pd.DataFrame:
        ordered = sorted(rows, key=lambda r: r[1])
        ids: list[Any] = []
        for _ in ordered:
            self.serial += 1
            ids.append(draw(st.sampled_from([int, np.int64, np.int32, str]))(self.serial))
        return pd.DataFrame(
            {
                "event_id": pd.Series(ids, dtype=object),
                "customer_id": pd.Series([spelled(draw, r[0]) for r in ordered], dtype=object),
                "timestamp": pd.to_datetime(
                    [self.now + pd.Timedelta(minutes=r[1]) for r in ordered]
                ).as_unit("ns"),
                "kind": [r[2] for r in ordered],
                "value": [float(r[3]) if r[2] == "purchase" else np.nan for r in ordered],
            }
        )

    @precondition(lambda self: self.book is None)
    @rule(data=st.data())
    def open(self, data: st.DataObject) -> None:
        rows = [(c, 0, "purchase", 100 * (i + 1)) for i, c in enumerate(CUSTOMERS)]
        batch = self._batch(data.draw, rows)
        self.now = T0 + pd.Timedelta(days=1)
        attributes = pd.DataFrame(
            {"level": [50.0]}, index=pd.Index([np.int64(1)], dtype=object, name="customer_id")
        )
        self.book = open_book(policy(), batch, as_of=self.now, attributes=attributes).book

    @precondition(lambda self: self.book is not None)
    @rule(rows=event_rows, data=st.data())
    def ingest_batch(self, rows: list[tuple[Any, int, str, int]], data: st.DataObject) -> None:
        assert self.book is not None
        batch = self._batch(data.draw, rows)
        as_of = max(self.now, batch["timestamp"].max()) if len(batch) else self.now
        self.book = ingest(self.book, batch, as_of=as_of).book
        self.now, self.last = as_of, batch

    @precondition(lambda self: self.book is not None and self.last is not None)
    @rule()
    def replay(self) -> None:
        assert self.book is not None
        assert self.last is not None
        again = ingest(self.book, self.last, as_of=self.now)
        assert again.changes.empty
        assert_same_book(again.book, self.book)

    @precondition(lambda self: self.book is not None)
    @rule(days=st.integers(0, 100))
    def review_later(self, days: int) -> None:
        assert self.book is not None
        self.now += pd.Timedelta(days=days)
        self.book = review(self.book, as_of=self.now).book

    @precondition(lambda self: self.book is not None)
    @rule(
        customer=st.sampled_from(CUSTOMERS),
        tier=st.sampled_from(["Ordinary", "gold", "钻石级"]),
        expires=st.sampled_from([None, "review", 5]),
        reason=st.text(min_size=1, max_size=8).filter(str.strip),
        data=st.data(),
    )
    def appeal(
        self, customer: Any, tier: str, expires: Any, reason: str, data: st.DataObject
    ) -> None:
        assert self.book is not None
        ends = self.now + pd.Timedelta(days=expires) if isinstance(expires, int) else expires
        self.book = set_override(
            self.book,
            customer_id=spelled(data.draw, customer),
            tier=tier,
            reason=reason,
            author=np.str_("reviewer"),
            as_of=self.now,
            expires=ends,
        ).book
        assert self.book.customers.loc[customer, "override_reason"] == reason

    @precondition(lambda self: self.book is not None)
    @rule(customer=st.sampled_from(CUSTOMERS), data=st.data())
    def clear(self, customer: Any, data: st.DataObject) -> None:
        assert self.book is not None
        if not self.book.customers.loc[customer, "override_kind"]:
            return
        self.book = clear_override(
            self.book,
            customer_id=spelled(data.draw, customer),
            reason="appeal withdrawn",
            author="desk",
            as_of=self.now,
        ).book

    @precondition(lambda self: self.book is not None)
    @rule(
        customers=st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=3, unique=True),
        level=st.floats(0, 100) | st.just(np.nan),
        data=st.data(),
    )
    def attributes(self, customers: list[Any], level: float, data: st.DataObject) -> None:
        assert self.book is not None
        index = pd.Index([spelled(data.draw, c) for c in customers], dtype="object")
        frame = pd.DataFrame({"level": np.float32(level)}, index=index)
        self.book = set_attributes(self.book, attributes=frame)

    @invariant()
    def round_trips_through_strict_json(self) -> None:
        if self.book is None:
            return
        again = Book.from_dict(json.loads(dumped(self.book)))
        assert_same_book(again, self.book)
        # One row per customer, whatever scalar types their ids arrived in.
        assert self.book.customers.index.is_unique
        self.book = again


EngineMachine.TestCase.settings = settings(max_examples=12, stateful_step_count=8, deadline=None)
TestEngineStateMachine = EngineMachine.TestCase


def opened(rows: dict[str, Any]) -> Book:
    """A book opened on these purchases, every customer's level attribute at 50."""
    frame = pd.DataFrame(rows)
    level = pd.DataFrame({"level": 50.0}, index=pd.Index(frame["customer_id"].unique()))
    return open_book(policy(), frame, as_of=T0 + pd.Timedelta(days=1), attributes=level).book


def two_overrides_book() -> Book:
    rows = {
        "event_id": ["e1", "e2", "e3"],
        "customer_id": ["a", "b", "c"],
        "timestamp": [T0, T0, T0],
        "kind": "purchase",
        "value": [100.0, 800.0, 1900.0],
    }
    book = opened(rows)
    for customer, tier, reason, author in (
        ("a", "Gold", "won the appeal", "alice"),
        ("c", "Silver", "account under review", "bob"),
    ):
        book = set_override(
            book,
            customer_id=customer,
            tier=tier,
            reason=reason,
            author=author,
            as_of=T0 + pd.Timedelta(days=2),
        ).book
    return book


def test_a_numpy_customer_id_in_an_override_is_stored_as_the_books_own_id() -> None:
    rows = {
        "event_id": np.arange(2),
        "customer_id": np.array([10, 11]),
        "timestamp": [T0, T0],
        "kind": "purchase",
        "value": [100.0, 200.0],
    }
    book = opened(rows)
    book = set_override(
        book,
        customer_id=np.int64(10),
        tier="Gold",
        reason="appeal",
        author="a",
        as_of=T0 + pd.Timedelta(days=1),
    ).book
    data = json.loads(dumped(book))
    assert data["history"]["customer_id"][-1] == 10
    assert type(book.history["customer_id"].iloc[-1]) is int


def test_a_book_with_overrides_notes_authors_and_history_round_trips() -> None:
    book = two_overrides_book()
    again = Book.from_dict(json.loads(dumped(book)))
    assert_same_book(again, book)
    customers = again.customers
    assert customers.loc["a", "override_reason"] == "won the appeal"
    assert customers.loc["c", "override_author"] == "bob"
    assert (again.history["rule"] == "override").sum() == 2
    assert "from_frame" not in dir(Book)  # no half-way restore beside from_dict


@pytest.mark.parametrize(
    "bad_id",
    [pd.Timestamp("2024-01-01"), (1, 2), b"raw", float("inf")],
    ids=["timestamp", "tuple", "bytes", "inf"],
)
@pytest.mark.parametrize("column", ["customer_id", "event_id"])
def test_ids_json_cannot_hold_are_refused_where_they_enter(bad_id: Any, column: str) -> None:
    rows = pd.DataFrame(
        {
            "event_id": pd.Series(["e1", "e2"], dtype=object),
            "customer_id": pd.Series(["a", "b"], dtype=object),
            "timestamp": [T0, T0],
            "kind": "purchase",
            "value": [100.0, 200.0],
        }
    )
    rows[column] = pd.Series([rows[column][0], bad_id], dtype="object")
    with pytest.raises(cs.InvalidDataError, match=f"Column '{column}' has ids that are not"):
        open_book(policy(), rows, as_of=T0 + pd.Timedelta(days=1))


def test_attributes_must_be_finite_or_missing_with_string_names() -> None:
    book = two_overrides_book()
    with pytest.raises(cs.InvalidDataError, match=r"'level' has infinite values .* \['b'\]"):
        set_attributes(book, attributes=pd.DataFrame({"level": [1.0, np.inf]}, index=["a", "b"]))
    with pytest.raises(cs.InvalidParameterError, match="column names are strings"):
        set_attributes(book, attributes=pd.DataFrame({7: [1.0]}, index=["a"]))


@given(level=st.sampled_from([np.float16(3.5), np.float32(2.25), np.int8(7)]))
@settings(max_examples=5)
def test_attribute_values_are_stored_as_plain_floats(level: Any) -> None:
    frame = pd.DataFrame({"level": [level]}, index=pd.Index([np.str_("a")], dtype=object))
    book = set_attributes(two_overrides_book(), attributes=frame)
    data = json.loads(dumped(book))
    position = data["attributes"]["index"].index("a")
    stored = data["attributes"]["columns"]["level"][position]
    assert type(stored) is float
    assert stored == float(level)


# --- from_dict on malformed data: a typed error naming the path --------------------------


@functools.cache
def valid_values() -> tuple[Any, ...]:
    """One value of every class with from_dict, a whole book included."""
    return (*samples(), two_overrides_book())


WRONG_VALUES: tuple[Any, ...] = (None, True, -1, 2.5, "x", [], {}, [[1, 2]], {"k": [None]})


def node_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in a JSON tree (keys and list indices), the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += node_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += node_paths(child, (*prefix, i))
    return found


def replaced(value: Any, path: tuple[Any, ...], change: Callable[[Any], Any]) -> Any:
    if not path:
        return change(value)
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], change)
    return copy


def dropped(value: Any, path: tuple[Any, ...]) -> Any:
    parent = replaced(value, path[:-1], lambda node: node)
    node = parent
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return parent


@st.composite
def malformed(draw: st.DrawFn, data: dict[str, Any]) -> tuple[Any, tuple[Any, ...], str]:
    """A valid dict with one thing wrong: a key dropped or added, a type or nesting changed."""
    path = draw(st.sampled_from(node_paths(data)))
    node: Any = data
    for key in path:
        node = node[key]
    parent_is_object = bool(path) and isinstance(path[-1], str)
    ops = ["retype", "nest"] + (["drop"] if parent_is_object else [])
    ops += ["unknown"] if isinstance(node, dict) else []
    op = draw(st.sampled_from(ops))
    if op == "drop":
        return dropped(json.loads(json.dumps(data)), path), path, op
    if op == "unknown":
        return replaced(data, path, lambda n: {**n, "zz_unknown": 1}), path, op
    if op == "nest":
        return replaced(data, path, lambda n: [n]), path, op
    wrong = draw(
        st.sampled_from([w for w in WRONG_VALUES if w != node or type(w) is not type(node)])
    )
    return replaced(data, path, lambda _: wrong), path, op


@pytest.mark.parametrize(
    "position", range(len(valid_values())), ids=lambda i: type(valid_values()[i]).__name__
)
@given(data=st.data())
@settings(max_examples=25, deadline=None)
def test_malformed_dicts_raise_a_serialization_error_naming_the_path(
    position: int, data: st.DataObject
) -> None:
    value = valid_values()[position]
    valid = json.loads(json.dumps(value.to_dict(), allow_nan=False))
    bad, path, op = data.draw(malformed(valid), label="mutation")
    try:
        again = type(value).from_dict(bad)
    except cs.SerializationError as error:
        caught: cs.SerializationError | None = error
    else:
        caught = None
    if caught is None:  # accepted (a value the class converts): still JSON-safe
        json.dumps(again.to_dict(), allow_nan=False)
        return
    # The error is located on the way to the change (or at a sibling field of the
    # same object, for rules across fields), and the message says where.
    assert caught.path[:-1] == path[: max(len(caught.path) - 1, 0)], (caught.path, path, op)
    where = f"at {caught.path_text}" if caught.path else "at the top level"
    assert where in str(caught)
    if op == "unknown":  # an unknown key is refused: at the key, or at its object naming it
        assert caught.path in ((*path, "zz_unknown"), path), (caught.path, path)
        assert caught.path[-1:] == ("zz_unknown",) or "'zz_unknown'" in str(caught)
    assert isinstance(caught, ValueError)
    assert isinstance(caught, cs.InvalidDataError)


def test_the_path_names_the_bad_field_deep_inside_a_book() -> None:
    data = json.loads(dumped(two_overrides_book()))
    data["policy"]["scorecard"]["hierarchy"]["weights"] = "heavy"
    with pytest.raises(cs.SerializationError, match=r"at policy\.scorecard\.hierarchy") as info:
        Book.from_dict(data)
    assert info.value.path[:3] == ("policy", "scorecard", "hierarchy")
    data = json.loads(dumped(two_overrides_book()))
    data["customers"]["tier"][1] = "Gold"
    with pytest.raises(cs.SerializationError, match=r"at customers\.tier\[1\]: expected a value"):
        Book.from_dict(data)
    data = json.loads(dumped(two_overrides_book()))
    del data["history"]["detail"][0]
    with pytest.raises(cs.SerializationError, match=r"at history\.detail: expected \d+ items"):
        Book.from_dict(data)
    with pytest.raises(cs.SerializationError, match=r"at the top level: the .data. parameter"):
        Book.from_dict([data])  # type: ignore[arg-type]


#: Python scalar type -> the numpy scalar type user code often holds instead.
NUMPY_SCALARS: tuple[tuple[type[Any], Any], ...] = (
    (bool, np.bool_),  # (before int: a bool is an int)
    (int, np.int64),
    (float, np.float64),
    (str, np.str_),
)


def numpy_spelled(value: Any) -> Any:
    """The same JSON tree with numpy scalars and tuples, as user code often builds it."""
    if isinstance(value, list):
        return tuple(numpy_spelled(v) for v in value)
    if isinstance(value, dict):
        return {k: numpy_spelled(v) for k, v in value.items()}
    kind = next((np_type for py_type, np_type in NUMPY_SCALARS if isinstance(value, py_type)), None)
    return value if kind is None else kind(value)


@pytest.mark.parametrize(
    "position", range(len(valid_values())), ids=lambda i: type(valid_values()[i]).__name__
)
def test_numpy_scalars_never_reach_to_dict(position: int) -> None:
    # Values built from numpy scalars are either refused with a typed error or
    # stored as plain Python values: to_dict is strict JSON and equals the original.
    value = valid_values()[position]
    valid = json.loads(json.dumps(value.to_dict(), allow_nan=False))
    try:
        again = type(value).from_dict(numpy_spelled(valid))
    except cs.CrmScoreError:
        return
    assert json.loads(json.dumps(again.to_dict(), allow_nan=False)) == valid


def test_a_registry_reads_like_every_other_from_dict() -> None:
    # Normalisers and score bins are read by one TypeRegistry: a bad kind or field is
    # a SerializationError at its path inside the enclosing value, as for any field.
    indicator = Indicator(name="spend", direction="benefit", normaliser=FixedRange(low=0, high=9))
    data = indicator.to_dict()
    with pytest.raises(cs.SerializationError, match=r"at normaliser\.kind: The 'kind' parameter"):
        Indicator.from_dict({**data, "normaliser": {**data["normaliser"], "kind": "log"}})
    with pytest.raises(cs.SerializationError, match=r"at normaliser\.width: unknown key") as info:
        Indicator.from_dict({**data, "normaliser": {**data["normaliser"], "width": 2}})
    assert info.value.path == ("normaliser", "width")
    table = cs.rfm_table(cs.make_transactions(50, seed=1).transactions, as_of="2025-12-31")
    scores = cs.RFMScorer().fit(table).to_dict()
    with pytest.raises(cs.SerializationError, match=r"at recency\.kind: .* of bins") as info:
        cs.FittedRFMScorer.from_dict({**scores, "recency": {**scores["recency"], "kind": 3}})
    assert info.value.owner == "FittedRFMScorer.from_dict"


def test_from_dict_and_set_attributes_read_ids_by_the_one_id_rule() -> None:
    """Stored ids follow crmscore._ids: 1.0 is customer 1; bools, fractions, repeats refused."""
    rows = {
        "event_id": [1, 2],
        "customer_id": [10, 11],
        "timestamp": [T0, T0],
        "kind": "purchase",
        "value": [100.0, 200.0],
    }
    data = json.loads(dumped(opened(rows)))
    spelled_as_floats = {**data, "customer_ids": [10.0, 11.0], "event_ids": [1.0, 2.0]}
    again = Book.from_dict(spelled_as_floats)
    assert json.loads(dumped(again)) == data  # stored exactly as the original
    for key, bad, where in (
        ("customer_ids", [10, True], r"customer_ids\[1\]: expected an id"),
        ("event_ids", [1, 2.5], r"event_ids\[1\]: expected an id"),
        ("customer_ids", [10, 10.0], r"customer_ids\[1\]: the id 10 is listed twice"),
    ):
        with pytest.raises(cs.SerializationError, match=where):
            Book.from_dict({**data, key: bad})
    book = set_attributes(
        again, attributes=pd.DataFrame({"level": [1.0, 2.0]}, index=[10.0, np.uint8(11)])
    )
    assert book.attributes.index.tolist() == [10, 11]
    assert [type(v) for v in book.attributes.index.tolist()] == [int, int]
    with pytest.raises(cs.InvalidDataError, match="not ids"):
        set_attributes(again, attributes=pd.DataFrame({"level": [1.0]}, index=[1.5]))
