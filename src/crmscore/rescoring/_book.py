"""The book: the engine's whole state as one immutable, JSON-safe value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from crmscore._ids import canonical_ids, json_ids
from crmscore._serialise import at, reads
from crmscore.clv import BetaGeoModel, GammaGammaModel
from crmscore.errors import InvalidDataError, InvalidParameterError
from crmscore.rescoring._chunks import ChunkedFrame, ChunkedIndex, ColumnStore, DueIndex
from crmscore.rescoring._policy import RescoringPolicy
from crmscore.rescoring._summary import book_html, book_repr, result_html, result_repr
from crmscore.tiering import FittedScorecard

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "CHANGE_COLUMNS",
    "CUSTOMER_COLUMNS",
    "OVERRIDE_KINDS",
    "SCHEMA_VERSION",
    "Book",
    "RescoringResult",
]

#: Version of the serialised book (``Book.to_dict``) and of its frame export.
SCHEMA_VERSION = 1

#: Per-customer columns of the book and their numpy dtypes.
CUSTOMER_COLUMNS: dict[str, str] = {
    # Purchase aggregates (see crmscore.rfm.PurchaseAggregates).
    "first_period": "int64",
    "last_period": "int64",
    "n_periods": "int64",
    "first_spend": "float64",
    "repeat_spend": "float64",
    "n_purchases": "int64",
    "first_purchase": "datetime64[ns]",
    "last_purchase": "datetime64[ns]",
    # The computed score, when it was computed, and the scorecard's tier for it.
    "score": "float64",
    "scored_at": "datetime64[ns]",
    "score_tier": "int8",
    # Tiers as positions in the scheme (-1 = not rated yet): base follows the score
    # with hysteresis; tier is the effective one (an active override, else base).
    "base_tier": "int8",
    "tier": "int8",
    "below_reviews": "int64",
    # The active override, if any.
    "override_tier": "int8",
    "override_kind": "int8",
    "override_expires": "datetime64[ns]",
    "override_until_review": "bool",
    "override_note": "int32",  # position in Book.notes: (reason, author); -1 none
    # The churn warning level at the latest review (0 none, 1 blue, 2 yellow, 3 red).
    "churn_level": "int8",
    # With a learned churn step (LearnedWarning), the probability of churn and the top
    # reasons in words at the latest review (NaN and "" otherwise, or when not scored).
    "churn_probability": "float64",
    "churn_reasons": "object",
    # Automation flags, and when the follow-up flag falls due without a purchase.
    "invited": "bool",
    "follow_up": "bool",
    "follow_up_due": "datetime64[ns]",
}

#: Override kinds stored in ``override_kind`` (0 = none).
OVERRIDE_KINDS: tuple[str, ...] = ("", "default", "strategic_signing", "manual")

#: The first notes of every book: the engine's own adjustments (note 0 and 1).
ENGINE_NOTES: tuple[tuple[str, str], ...] = (
    ("default", "engine"),
    ("strategic_signing", "engine"),
)

#: Columns of the audit trail (``Book.history``) and of every call's ``changes``.
CHANGE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "at",
    "as_of",
    "change",
    "before",
    "after",
    "score",
    "rule",
    "event_ids",
    "detail",
)

#: Keys every serialised book has (``Book.to_dict``).
_BOOK_KEYS: tuple[str, ...] = (
    "schema_version",
    "policy",
    "as_of",
    "last_review",
    "customer_ids",
    "customers",
    "attributes",
    "event_ids",
    "notes",
    "history",
)

NAT = np.datetime64("NaT", "ns")


def empty_changes() -> pd.DataFrame:
    """Return the audit-trail schema with no rows."""
    return pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype=object),
            "at": pd.Series([], dtype="datetime64[ns]"),
            "as_of": pd.Series([], dtype="datetime64[ns]"),
            "change": pd.Series([], dtype=object),
            "before": pd.Series([], dtype=object),
            "after": pd.Series([], dtype=object),
            "score": pd.Series([], dtype=np.float64),
            "rule": pd.Series([], dtype=object),
            "event_ids": pd.Series([], dtype=object),
            "detail": pd.Series([], dtype=object),
        }
    )


#: Pending times a batch must act on when they pass, indexed instead of scanned:
#: follow-up flags that fall due, and overrides that expire.
def _follow_up_pending(get: Any) -> npt.NDArray[np.bool_]:
    pending: npt.NDArray[np.bool_] = ~get("follow_up")
    return pending


def _override_timed(get: Any) -> npt.NDArray[np.bool_]:
    timed: npt.NDArray[np.bool_] = (get("override_kind") > 0) & ~get("override_until_review")
    return timed


DUE_INDEXES: tuple[DueIndex, ...] = (
    DueIndex(name="follow_up", key="follow_up_due", live=_follow_up_pending),
    DueIndex(name="override_expiry", key="override_expires", live=_override_timed),
)


def empty_columns() -> ColumnStore:
    """Return the customer columns of a book without customers."""
    return ColumnStore.of(
        {name: np.empty(0, dtype=dtype) for name, dtype in CUSTOMER_COLUMNS.items()},
        DUE_INDEXES,
    )


def as_store(columns: Mapping[str, npt.NDArray[Any]]) -> ColumnStore:
    """Return the book's columns as a :class:`ColumnStore` (full arrays are wrapped)."""
    if isinstance(columns, ColumnStore):
        return columns
    return ColumnStore.of(columns, DUE_INDEXES)


def _frozen(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.setflags(write=False)
    return array


def _to_notes(notes: tuple[tuple[str, str], ...] | None) -> tuple[tuple[str, str], ...]:
    """``None`` is ``ENGINE_NOTES``: a short default in the signature ``help()`` shows."""
    return ENGINE_NOTES if notes is None else notes


@attrs.frozen(kw_only=True, eq=False)
class Book:
    """The customer book: everything the engine knows, as one immutable value.

    Never modify a book: :func:`ingest`, :func:`review` and the override calls
    return a new one and leave the old one intact, so a service can keep the
    previous state until the new one is safely stored. ``to_dict()`` gives a
    JSON-safe form with a schema version that :meth:`from_dict` restores whole;
    :meth:`to_frame` exports the per-customer part as one DataFrame for analysis.
    """

    policy: RescoringPolicy
    """The configuration the book runs under."""

    as_of: pd.Timestamp | None = None
    """The ``as_of`` of the latest call (calls must not go back in time)."""

    last_review: pd.Timestamp | None = None
    """When the book was last reviewed (``None`` before the first review)."""

    first_review: pd.Timestamp | None = None
    """When the book was first reviewed (opened): the anchor of the review schedule."""

    scorecard: FittedScorecard | None = None
    """The scorecard with the normalisation learned at the latest review."""

    purchase_model: BetaGeoModel | None = None
    """The BG/NBD model of the CLV step, fitted at the latest review."""

    spend_model: GammaGammaModel | None = None
    """The Gamma-Gamma model of the CLV step, fitted at the latest review."""

    ids: ChunkedIndex = attrs.field(factory=ChunkedIndex)
    """Customer ids, in the order of the columns."""

    columns: ColumnStore = attrs.field(factory=empty_columns, converter=as_store)
    """Per-customer read-only arrays, one per :data:`CUSTOMER_COLUMNS`.

    Held in a store that later books share: a batch adds only the rows it changed."""

    attributes: pd.DataFrame = attrs.field(factory=pd.DataFrame)
    """Indicator columns supplied by the service, indexed by customer id."""

    event_ids: ChunkedIndex = attrs.field(factory=ChunkedIndex)
    """Ids of every event applied (or skipped), so a redelivery changes nothing."""

    changes: ChunkedFrame = attrs.field(factory=ChunkedFrame)
    """The audit trail, in order."""

    notes: tuple[tuple[str, str], ...] = attrs.field(default=None, converter=_to_notes)
    """(reason, author) of overrides; customers point at them with ``override_note``.
    ``None`` (the default) means ``ENGINE_NOTES``, the engine's own two notes.

    Overrides are rare, so their texts live here rather than in two string columns
    that every batch would have to copy."""

    schema_version: int = SCHEMA_VERSION
    """Version of the serialised form."""

    customer_col: str = "customer_id"
    """Name of the customer-id index of every per-customer frame the book gives: the
    ``customer_col`` of the events that opened it."""

    def __repr__(self) -> str:
        return book_repr(self)  # counts and dates only: never customer data

    def _repr_html_(self) -> str:
        return book_html(self)

    @property
    def n_customers(self) -> int:
        """Number of customers in the book."""
        return len(self.ids)

    @property
    def tiers(self) -> Any:
        """The tier scheme (the scorecard's)."""
        return self.policy.scorecard.tiers

    @property
    def history(self) -> pd.DataFrame:
        """Every change so far (the audit trail an appeal needs), oldest first."""
        return self.changes.to_frame(empty_changes())

    @property
    def customers(self) -> pd.DataFrame:
        """The per-customer state with tiers as labels, indexed by customer id.

        Columns: the purchase aggregates, ``score``, ``scored_at``, ``score_tier``,
        ``base_tier``, ``tier`` (the effective tier), ``below_reviews`` (consecutive
        reviews below the retention threshold), the active override (``override_tier``,
        ``override_kind``, ``override_expires``, ``override_until_review``,
        ``override_reason``, ``override_author``), and the automation flags
        (``invited``, ``follow_up``, ``follow_up_due``), and the churn step's
        ``churn_level`` (0 none .. 3 red), ``churn_probability`` and ``churn_reasons``
        (the last two only with a :class:`~crmscore.churn.LearnedWarning`).
        """
        frame = self.to_frame()
        labels = np.asarray((*self.tiers.labels(), None), dtype=object)  # -1 -> None
        for column in ("score_tier", "base_tier", "tier", "override_tier"):
            frame[column] = labels[frame[column].to_numpy(np.int64)]
        kinds = np.asarray(OVERRIDE_KINDS, dtype=object)
        frame["override_kind"] = kinds[frame["override_kind"].to_numpy(np.int64)]
        note = frame.pop("override_note").to_numpy(np.int64)
        texts = np.asarray([*self.notes, ("", "")], dtype=object)  # -1 -> no text
        frame["override_reason"] = texts[note, 0]
        frame["override_author"] = texts[note, 1]
        return frame

    def to_frame(self) -> pd.DataFrame:
        """Return the per-customer arrays as one DataFrame (tiers as positions, -1 unrated).

        An export for analysis (Arrow/Parquet friendly), not a saved book: override
        reasons and authors, the audit trail, the models and the applied event ids
        live elsewhere in the book. Persist :meth:`to_dict` to keep everything.
        ``attrs["schema_version"]`` holds :data:`SCHEMA_VERSION`.
        """
        frame = pd.DataFrame(
            {name: np.array(values) for name, values in self.columns.items()},
            index=self.ids.to_index(name=self.customer_col),
        )
        frame.attrs["schema_version"] = self.schema_version
        return frame

    @property
    def next_review(self) -> pd.Timestamp | None:
        """When the next periodic review falls due (``None`` before the first review).

        Reviews are anchored to the first one: its date plus whole multiples of
        ``policy.review_months``, the first of them after :attr:`last_review`. The
        day of the month is kept, or clipped in a shorter month; a first review on
        the last day of a month is followed by reviews on the last day of a month
        (Sep 30 -> Dec 31 -> Mar 31), so the schedule never drifts.

        Examples
        --------
        >>> from crmscore.tiering import Criterion, Indicator, MinMax, Scorecard
        >>> from crmscore.rescoring import RescoringPolicy
        >>> spend = Indicator(name="total_spend", direction="benefit", normaliser=MinMax())
        >>> card = Scorecard(
        ...     hierarchy=Criterion(name="value", weights={"total_spend": 1.0}), indicators=[spend]
        ... )
        >>> opened = pd.Timestamp("2024-09-30 23:59:59")
        >>> book = Book(policy=RescoringPolicy(scorecard=card), first_review=opened,
        ...             last_review=opened)
        >>> book.next_review
        Timestamp('2024-12-31 23:59:59')
        >>> attrs.evolve(book, last_review=book.next_review).next_review
        Timestamp('2025-03-31 23:59:59')
        """
        if self.last_review is None:
            return None
        anchor = self.last_review if self.first_review is None else self.first_review
        step = self.policy.review_months
        month_end = bool(anchor.is_month_end)
        elapsed = (self.last_review.year - anchor.year) * 12 + (
            self.last_review.month - anchor.month
        )
        k = max(elapsed // step, 1)
        while True:
            due = anchor + pd.DateOffset(months=k * step)
            if month_end:
                due = due + pd.offsets.MonthEnd(0)
            if due > self.last_review:
                return pd.Timestamp(due)
            k += 1

    def due_for_review(self, as_of: Any) -> bool:
        """Whether a periodic review is due at ``as_of`` (always, before the first).

        See :attr:`next_review` for the schedule.
        """
        due = self.next_review
        return due is None or bool(pd.Timestamp(as_of) >= due)

    # --- serialisation -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (timestamps as integer nanoseconds)."""
        frame = self.to_frame()
        columns: dict[str, list[Any]] = {}
        for name, dtype in CUSTOMER_COLUMNS.items():
            values = frame[name].to_numpy()
            if dtype.startswith("datetime64"):
                columns[name] = [None if v == _NAT_INT else int(v) for v in values.view(np.int64)]
            elif dtype == "float64":  # NaN as null: strict JSON has no NaN
                columns[name] = _floats_out(frame[name])
            else:
                columns[name] = values.tolist()
        history = self.history
        return {
            "schema_version": self.schema_version,
            "policy": self.policy.to_dict(),
            "as_of": _stamp_out(self.as_of),
            "last_review": _stamp_out(self.last_review),
            "first_review": _stamp_out(self.first_review),
            "scorecard": None if self.scorecard is None else self.scorecard.to_dict(),
            "purchase_model": None
            if self.purchase_model is None
            else self.purchase_model.to_dict(),
            "spend_model": None if self.spend_model is None else self.spend_model.to_dict(),
            "customer_col": self.customer_col,
            "customer_ids": frame.index.tolist(),
            "customers": columns,
            "attributes": {
                "index": self.attributes.index.tolist(),
                "columns": {c: _floats_out(self.attributes[c]) for c in self.attributes.columns},
            },
            "event_ids": self.event_ids.to_index().tolist(),
            "notes": [list(note) for note in self.notes],
            "history": {
                "customer_id": history["customer_id"].tolist(),
                "at": [_stamp_out(t) for t in history["at"]],
                "as_of": [_stamp_out(t) for t in history["as_of"]],
                "change": history["change"].tolist(),
                "before": history["before"].tolist(),
                "after": history["after"].tolist(),
                "score": _floats_out(history["score"]),
                "rule": history["rule"].tolist(),
                "event_ids": history["event_ids"].tolist(),
                "detail": history["detail"].tolist(),
            },
        }

    @classmethod
    @reads(
        *_BOOK_KEYS,
        optional=("first_review", "scorecard", "purchase_model", "spend_model", "customer_col"),
    )
    def from_dict(cls, data: Mapping[str, Any]) -> Book:
        """Inverse of :meth:`to_dict`."""
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            with at("schema_version"):
                raise InvalidParameterError(
                    f"This book was saved with schema version {version!r}; this crmscore "
                    f"reads version {SCHEMA_VERSION}."
                )
        with at("customer_ids"):
            ids = _labels_in(data["customer_ids"], None)
        columns = _columns_in(data, len(ids))
        with at("customer_col"):  # (books saved before it: customer_id)
            customer_col = data.get("customer_col", "customer_id")
            if not isinstance(customer_col, str):
                raise TypeError(f"expected a string, got {type(customer_col).__name__}")
        attributes = _attributes_in(data, customer_col)
        with at("event_ids"):
            event_ids = _labels_in(data["event_ids"], None)
        with at("notes"):
            notes = _notes_in(data["notes"])
        history = _history_in(data)
        policy = RescoringPolicy.from_dict(data["policy"])
        _check_codes(columns, n_tiers=len(policy.scorecard.tiers.labels()), n_notes=len(notes))
        stamps: dict[str, pd.Timestamp | None] = {}
        for name in ("as_of", "last_review", "first_review"):
            with at(name):
                # (books saved before first_review existed: the schedule starts at the last review)
                stamps[name] = _stamp_in(data.get(name, data["last_review"]))
        scorecard = data.get("scorecard")
        purchase, spend = data.get("purchase_model"), data.get("spend_model")
        return cls(
            policy=policy,
            as_of=stamps["as_of"],
            last_review=stamps["last_review"],
            first_review=stamps["first_review"],
            scorecard=None if scorecard is None else FittedScorecard.from_dict(scorecard),
            purchase_model=None if purchase is None else BetaGeoModel.from_dict(purchase),
            spend_model=None if spend is None else GammaGammaModel.from_dict(spend),
            ids=ChunkedIndex().add(ids).warmed(),  # (hash indexes now, not in the first batch)
            columns=columns,
            attributes=attributes,
            event_ids=ChunkedIndex().add(event_ids).warmed(),
            changes=ChunkedFrame().add(history),
            notes=notes,
            customer_col=customer_col,
        )


_NAT_INT = np.iinfo(np.int64).min


#: Columns added after schema version 1 was first written, and their value in older books.
_ADDED_COLUMNS: dict[str, Any] = {"churn_probability": None, "churn_reasons": ""}


def _columns_in(data: Mapping[str, Any], n_customers: int) -> dict[str, npt.NDArray[Any]]:
    """Read the per-customer columns (``customers``) of a serialised book."""
    columns: dict[str, npt.NDArray[Any]] = {}
    stored = data["customers"]
    if isinstance(stored, Mapping):  # (books saved before the learned warning's columns)
        fills = {name: fill for name, fill in _ADDED_COLUMNS.items() if name not in stored}
        stored = {**stored, **{name: [fill] * n_customers for name, fill in fills.items()}}
    with at("customers"):
        _keys_in(stored, CUSTOMER_COLUMNS)
    for name, dtype in CUSTOMER_COLUMNS.items():
        with at("customers", name):
            values = _list_in(stored[name], n_customers)
            if dtype.startswith("datetime64"):
                raw = np.array([_NAT_INT if v is None else v for v in values], dtype=np.int64)
                columns[name] = _frozen(raw.view("datetime64[ns]"))
            else:
                columns[name] = _frozen(_array_in(values, dtype))
    return columns


def _attributes_in(data: Mapping[str, Any], customer_col: str) -> pd.DataFrame:
    """Read the attributes (index and float columns) of a serialised book."""
    with at("attributes"):
        _keys_in(data["attributes"], ("index", "columns"))
        index = _labels_in(data["attributes"]["index"], None)
    with at("attributes", "columns"):
        attribute_columns = data["attributes"]["columns"]
        if not isinstance(attribute_columns, Mapping):
            raise TypeError(f"expected a JSON object, got {type(attribute_columns).__name__}")
    # The dtype pandas infers from the plain ids, as set_attributes gives it.
    attributes = pd.DataFrame(index=pd.Index(index.tolist(), name=customer_col))
    for column, values in attribute_columns.items():
        with at("attributes", "columns", column):
            attributes[column] = _floats_in(_list_in(values, len(index)))
    return attributes


def _history_in(data: Mapping[str, Any]) -> pd.DataFrame:
    """Read the audit trail of a serialised book (columns of equal length)."""
    with at("history"):
        h = data["history"]
        _keys_in(h, CHANGE_COLUMNS)
        n_changes = len(_list_in(h["customer_id"], None))
        with at("customer_id"):
            customer_ids = _labels_in(h["customer_id"], None, unique=False)
        for name in CHANGE_COLUMNS:
            with at(name):
                _list_in(h[name], n_changes)
    history = empty_changes()
    if n_changes:
        with at("history"):
            history = pd.DataFrame(
                {
                    "customer_id": pd.Series(customer_ids, dtype=object),
                    "at": _stamps_in(h["at"]),
                    "as_of": _stamps_in(h["as_of"]),
                    "change": pd.Series(h["change"], dtype=object),
                    "before": pd.Series(h["before"], dtype=object),
                    "after": pd.Series(h["after"], dtype=object),
                    "score": _floats_in(h["score"]),
                    "rule": pd.Series(h["rule"], dtype=object),
                    "event_ids": pd.Series(h["event_ids"], dtype=object),
                    "detail": pd.Series(h["detail"], dtype=object),
                }
            )
    return history


def _list_in(values: Any, length: int | None) -> list[Any]:
    """Check a JSON array (of ``length`` items, if given) and return it."""
    if not isinstance(values, list):
        raise TypeError(f"expected a JSON array, got {type(values).__name__}")
    if length is not None and len(values) != length:
        raise ValueError(f"expected {length} items (one per row), got {len(values)}")
    return values


def _keys_in(data: Any, keys: Any) -> None:
    """Check a JSON object with exactly these keys."""
    if not isinstance(data, Mapping):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    for key in keys:
        if key not in data:
            raise KeyError(key)
    unknown = sorted(set(data) - set(keys), key=str)
    if unknown:
        with at(unknown[0]):
            raise ValueError("unknown key")


def _labels_in(values: Any, length: int | None, *, unique: bool = True) -> npt.NDArray[Any]:
    """Read stored ids by the one id rule (:mod:`crmscore._ids`), in their stored form.

    So a saved book can hold no id the engine would have refused (a bool, a
    fraction), ``1.0`` written by another tool is customer 1, and (if ``unique``)
    no id twice.
    """
    labels = _list_in(values, length)
    try:
        stored = json_ids(canonical_ids(labels, column=None, unit="ids").labels)
    except InvalidDataError:
        for i, label in enumerate(labels):  # only on the error path: the first bad item
            try:
                canonical_ids([label], column=None, unit="ids")
            except InvalidDataError:
                with at(i):
                    raise TypeError(
                        f"expected an id (an integer, an integral float or a string), got {label!r}"
                    ) from None
        raise
    if unique:
        again = np.flatnonzero(pd.Index(stored, dtype=object).duplicated())
        if again.size:
            first = int(again[0])
            with at(first):
                raise ValueError(
                    f"the id {stored[first : first + 1].tolist()[0]!r} is listed twice"
                )
    return stored


def _array_in(values: list[Any], dtype: str) -> npt.NDArray[Any]:
    """Read one column: numbers (or null for float NaN) of the kind its dtype needs."""
    kind = np.dtype(dtype).kind
    if kind == "O":  # text
        for i, v in enumerate(values):
            if not isinstance(v, str):
                with at(i):
                    raise TypeError(f"expected a string, got {v!r}")
        return np.array(values, dtype=object).reshape(len(values))
    for i, v in enumerate(values):
        ok = (
            isinstance(v, bool)
            if kind == "b"
            else (v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)))
            if kind == "f"
            else isinstance(v, int) and not isinstance(v, bool)
        )
        if not ok:
            with at(i):
                raise TypeError(f"expected a value of dtype {dtype}, got {v!r}")
    array = np.array([np.nan if v is None else v for v in values], dtype=dtype)
    if kind == "i" and len(values) and (array != np.array(values, dtype=object)).any():
        raise ValueError(f"values beyond the range of {dtype}")
    return array


def _notes_in(values: Any) -> tuple[tuple[str, str], ...]:
    notes = []
    for i, note in enumerate(_list_in(values, None)):
        if not (
            isinstance(note, list) and len(note) == 2 and all(isinstance(t, str) for t in note)
        ):
            with at(i):
                raise TypeError(f"expected [reason, author] (two strings), got {note!r}")
        notes.append((note[0], note[1]))
    return tuple(notes)


def _check_codes(columns: Mapping[str, npt.NDArray[Any]], *, n_tiers: int, n_notes: int) -> None:
    """Check that codes which index something point inside it (tiers, kinds, notes)."""
    for name, limit in (
        ("score_tier", n_tiers),
        ("base_tier", n_tiers),
        ("tier", n_tiers),
        ("override_tier", n_tiers),
        ("override_kind", len(OVERRIDE_KINDS)),
        ("override_note", n_notes),
        ("churn_level", 4),
    ):
        values = columns[name].astype(np.int64)
        low = 0 if name in ("override_kind", "churn_level") else -1
        bad = np.flatnonzero((values < low) | (values >= limit))
        if bad.size:
            with at("customers", name, int(bad[0])):
                raise ValueError(f"code {values[bad[0]]} outside [{low}, {limit})")


def _stamp_out(value: Any) -> int | None:
    if value is None or pd.isna(value):
        return None
    return int(pd.Timestamp(value).value)


def _stamp_in(value: Any) -> pd.Timestamp | None:
    if value is None or isinstance(value, pd.Timestamp):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected integer nanoseconds or null, got {value!r}")
    return pd.Timestamp(value)


def _stamps_in(values: list[int | None]) -> pd.Series[Any]:
    raw = np.array([_NAT_INT if v is None else v for v in values], dtype=np.int64)
    return pd.Series(raw.view("datetime64[ns]"))


def _floats_out(values: pd.Series[Any]) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values.to_numpy(np.float64)]


def _floats_in(values: list[float | None]) -> npt.NDArray[np.float64]:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


@attrs.frozen(kw_only=True, eq=False)
class RescoringResult:
    """What one engine call returns: the new book and what changed."""

    book: Book
    """The new state (the old one is untouched)."""

    changes: pd.DataFrame
    """The changes this call made, in the audit-trail schema (:data:`CHANGE_COLUMNS`)."""

    skipped: pd.DataFrame
    """Events not applied, with the reason (``event_id``, ``customer_id``, ``reason``)."""

    def __repr__(self) -> str:
        return result_repr(self)  # counts only: never customer data

    def _repr_html_(self) -> str:
        return result_html(self)
