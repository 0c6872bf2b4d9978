"""The event-log contract shared by churn warning and rescoring (private).

An event log has one row per event: a customer id, a ``datetime64`` timestamp, a
``kind`` from :data:`EVENT_KINDS` (or one registered by the caller), an optional
numeric ``value`` and an optional ``event_id``. :func:`validate_events` checks a
log against that contract once and returns plain arrays, so that every consumer
sees the same rules and the same error messages.

What the kinds mean, and what ``value`` carries for each:

================== ================================================ ==================
kind               one row is                                       ``value``
================== ================================================ ==================
purchase           a completed purchase                             amount (required,
                                                                    finite, >= 0)
interaction        a login, visit, message or call by the customer  not used
review             a product or service review                      rating 1 (worst)
                                                                    to 5 (required)
complaint          a complaint lodged by the customer               not used
cart_abandoned     a cart left unpaid                               not used
cart_paid          a cart checked out                               not used
account_change     a login from a new IP address or a new device,   not used
                   as detected by the upstream system
default            a default on an obligation (重大违约)            not used
strategic_signing  a strategic cooperation agreement (战略合作签约) not used
================== ================================================ ==================

"Not used" values may be given (they are kept) but may also be missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._ids import (
    Ids,
    TextIds,
    canonical_ids,
    factorize_ids,
    hash_ids,
    repeated_ids,
    repeated_text_ids,
    with_id_dtype,
)
from crmscore._periods import to_periods
from crmscore._validation import (
    as_timestamp,
    check_choice,
    check_columns,
    check_frame,
    first_ids,
    reject_ids,
    timestamp_column,
)
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Collection

__all__ = [
    "EVENT_KINDS",
    "VALUE_REQUIRED_KINDS",
    "ValidatedEvents",
    "validate_events",
]

#: The event kinds crmscore knows, in a fixed order (their codes are positions here).
EVENT_KINDS: tuple[str, ...] = (
    "purchase",
    "interaction",
    "review",
    "complaint",
    "cart_abandoned",
    "cart_paid",
    "account_change",
    "default",
    "strategic_signing",
)

#: Kinds whose ``value`` is required: a purchase's amount and a review's rating.
VALUE_REQUIRED_KINDS: tuple[str, ...] = ("purchase", "review")

IntArray: TypeAlias = npt.NDArray[np.int64]


@attrs.frozen(kw_only=True, eq=False)
class ValidatedEvents:
    """A validated event log as arrays, one entry per kept event (private).

    Row order is the input's, less dropped rows (events after ``as_of`` and
    repeated deliveries of one ``event_id``).
    """

    codes: IntArray
    """Customer code of each event: position of its id in :attr:`customers`."""

    customers: pd.Index[Any]
    """Distinct customer ids with an event at or before ``as_of``, sorted."""

    stamps: npt.NDArray[np.datetime64]
    """Wall-clock timestamps (time-zone aware input read in its own zone)."""

    days: IntArray
    """Calendar day of each event, as days since 1970-01-01."""

    kinds: npt.NDArray[np.int8]
    """Kind of each event, as a position in :attr:`kind_names`."""

    kind_names: tuple[str, ...]
    """:data:`EVENT_KINDS` followed by the registered extra kinds."""

    values: npt.NDArray[np.float64]
    """``value`` of each event (NaN where absent)."""

    as_of: pd.Timestamp
    """The ``as_of`` the log was validated for (wall-clock, naive)."""

    as_of_day: int
    """Calendar day of ``as_of``, as days since 1970-01-01."""

    rows: IntArray
    """Position in the input frame of each kept event (to read other columns)."""

    value_col: str = "value"
    """Name of the ``value`` column (for error messages)."""

    event_ids: npt.NDArray[Any] | TextIds | None = None
    """Canonical ``event_id`` of each kept event (None where missing), if the log
    has the column (see :func:`crmscore._ids.canonical_ids`); a long column of
    pyarrow strings without nulls stays in Arrow (:class:`crmscore._ids.TextIds`)."""

    event_id_hashes: npt.NDArray[np.uint64] | None = None
    """:func:`crmscore._ids.hash_ids` of ``event_ids``, when validation computed them
    (ids that are not all int64), so that callers need not hash them again."""

    @property
    def n_customers(self) -> int:
        """Number of distinct customers."""
        return len(self.customers)

    def kind_code(self, kind: str) -> int:
        """Code of ``kind`` in :attr:`kinds`."""
        return self.kind_names.index(kind)


def validate_events(
    events: pd.DataFrame,
    *,
    as_of: Any,
    owner: str,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    kind_col: str = "kind",
    value_col: str = "value",
    event_id_col: str = "event_id",
    extra_kinds: Collection[str] = (),
    future: Literal["drop", "error"] = "drop",
) -> ValidatedEvents:
    """Check an event log against the contract and return it as arrays.

    Parameters
    ----------
    events : pandas.DataFrame
        The log. ``customer_col``, ``timestamp_col`` and ``kind_col`` are required;
        ``value_col`` and ``event_id_col`` are optional. Not modified.
    as_of : date-like
        The evaluation date. Time is counted in calendar days: every event on the
        day of ``as_of`` counts, whatever its time of day.
    owner : str
        Name of the public function calling, for error messages.
    customer_col : str, default "customer_id"
        Column of customer ids.
    timestamp_col : str, default "timestamp"
        Column of timestamps.
    kind_col : str, default "kind"
        Column of event kinds.
    value_col : str, default "value"
        Column of event values.
    event_id_col : str, default "event_id"
        Column of event ids.
    extra_kinds : collection of str, default ()
        Kinds accepted besides :data:`EVENT_KINDS` (their value is optional).
    future : {"drop", "error"}, default "drop"
        Events on days after ``as_of``'s day are left out (``"drop"``), so one
        full log can be evaluated at several past dates, or rejected (``"error"``).

    Returns
    -------
    ValidatedEvents

    Raises
    ------
    ColumnNotFoundError
        A required column is missing.
    InvalidDataError
        Null customer ids, kinds or timestamps; timestamps that are not
        ``datetime64``; unknown kinds; a non-numeric value column; a missing or
        non-finite value where the kind requires one (purchase amount, review
        rating), a negative purchase amount or an infinite value anywhere; one
        ``event_id`` used for different events; events after ``as_of`` with
        ``future="error"``; or no event at all at or before ``as_of``.
    InvalidParameterError
        A parameter outside its domain.

    Notes
    -----
    Rows that repeat an ``event_id`` with identical customer, timestamp, kind
    and value are the same event delivered twice: all but the first are dropped.
    Rows sharing an ``event_id`` but differing in anything else are an error.
    A null ``event_id`` means the event has no id and is never de-duplicated.
    """
    check_frame(events, name="events", owner=owner)
    check_choice(future, name="future", owner=owner, choices=("drop", "error"))
    as_of_ts = as_timestamp(as_of, name="as_of", owner=owner)
    kind_names = _kind_names(extra_kinds, owner=owner)
    check_columns(events, [customer_col, timestamp_col, kind_col], frame_name="events")

    ids = events[customer_col]
    null_ids = ids.isna().to_numpy()
    if null_ids.any():
        raise InvalidDataError(
            f"Column {customer_col!r} of events has {int(null_ids.sum())} null customer "
            f"id(s), first at row positions {np.flatnonzero(null_ids)[:5].tolist()}. "
            "Drop those rows or fill the ids.",
            column=customer_col,
        )
    customer_ids = canonical_ids(ids, column=customer_col)
    stamps, as_of64 = timestamp_column(
        events, timestamp_col, ids=ids, as_of=as_of_ts, frame_name="events"
    )
    kinds = _kind_codes(events[kind_col], ids=ids, column=kind_col, kind_names=kind_names)
    values = _values(events, value_col, ids=ids, kinds=kinds, kind_names=kind_names)

    days = to_periods(stamps, "D")
    as_of_day = int(to_periods(np.array([as_of64]), "D")[0])
    keep = days <= as_of_day
    if future == "error" and not keep.all():
        bad, total = first_ids(ids, ~keep)
        raise InvalidDataError.for_ids(
            column=timestamp_col,
            problem=f"has events after as_of ({as_of_ts.date()})",
            ids=bad,
            n_offending=total,
            hint="Drop them, or pass future='drop' to leave them out.",
        )
    event_ids: npt.NDArray[Any] | TextIds | None = None
    hashes: npt.NDArray[np.uint64] | None = None
    if event_id_col in events.columns:
        text = TextIds.of(events[event_id_col])  # (a long pyarrow column: kept in Arrow)
        canonical = (
            canonical_ids(
                events[event_id_col], column=event_id_col, allow_missing=True, unit="event id(s)"
            )
            if text is None
            else text
        )
        if isinstance(canonical, TextIds):
            event_ids, hashes = canonical, canonical.hashes()
        else:
            event_ids = canonical.labels
            if event_ids.dtype != np.int64:  # (int64 ids are compared without hashing)
                hashes = hash_ids(canonical)
        keep &= _first_deliveries(
            canonical,
            hashes,
            event_id_col,
            customers=customer_ids.labels,
            stamps=stamps,
            kinds=kinds,
            values=values,
        )
    if not keep.any():
        raise InvalidDataError(
            f"events has no event on or before as_of ({as_of_ts}): there is nobody to "
            "evaluate. Pass a later as_of.",
            column=timestamp_col,
        )
    rows = np.arange(len(events), dtype=np.int64)
    if not keep.all():
        customer_ids = Ids(customer_ids.labels[keep], _part(customer_ids.text, keep), None)
        stamps, days = stamps[keep], days[keep]
        kinds, values, rows = kinds[keep], values[keep], rows[keep]
        event_ids = None if event_ids is None else event_ids[keep]
        hashes = None if hashes is None else hashes[keep]
    codes, customers = factorize_ids(customer_ids, column=customer_col)
    customers = with_id_dtype(customers, ids.dtype)  # as rfm_table
    return ValidatedEvents(
        codes=codes,
        customers=customers,
        stamps=stamps,
        days=days,
        kinds=kinds,
        kind_names=kind_names,
        values=values,
        as_of=pd.Timestamp(as_of64),
        as_of_day=as_of_day,
        rows=rows,
        value_col=value_col,
        event_ids=event_ids,
        event_id_hashes=hashes,
    )


def _part(mask: npt.NDArray[np.bool_] | None, keep: npt.NDArray[np.bool_]) -> Any:
    return None if mask is None or not mask[keep].any() else mask[keep]


def _kind_names(extra_kinds: Collection[str], *, owner: str) -> tuple[str, ...]:
    given: object = extra_kinds
    extra: tuple[object, ...] = (given,) if isinstance(given, str) else tuple(extra_kinds)
    if not all(isinstance(k, str) and k for k in extra) or len(set(extra)) != len(extra):
        raise InvalidParameterError.for_value(
            name="extra_kinds", owner=owner, allowed="distinct non-empty strings", got=extra_kinds
        )
    clash = sorted(str(k) for k in set(extra) & set(EVENT_KINDS))
    if clash:
        raise InvalidParameterError.for_value(
            name="extra_kinds",
            owner=owner,
            allowed=f"kinds not already known (known: {list(EVENT_KINDS)})",
            got=clash,
        )
    names = EVENT_KINDS + tuple(str(k) for k in extra)
    if len(names) > np.iinfo(np.int8).max:
        raise InvalidParameterError.for_value(
            name="extra_kinds", owner=owner, allowed="fewer than 118 kinds", got=len(extra)
        )
    return names


def _kind_codes(
    series: pd.Series[Any], *, ids: pd.Series[Any], column: str, kind_names: tuple[str, ...]
) -> npt.NDArray[np.int8]:
    """Codes of the kinds (positions in ``kind_names``); unknown or null kinds raise."""
    known = _arrow_kind_codes(series, kind_names)
    if known is not None:
        return known
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        uniques = np.asarray(series.cat.categories, dtype=object)
    else:
        codes, uniques_index = pd.factorize(series, use_na_sentinel=True)
        uniques = np.asarray(uniques_index, dtype=object)
    null = codes < 0
    reject_ids(
        ids,
        null,
        column=column,
        problem="has null kinds",
        hint="Every event needs a kind.",
    )
    position = {name: i for i, name in enumerate(kind_names)}
    lookup = np.array(
        [position.get(u, -1) if isinstance(u, str) else -1 for u in uniques], dtype=np.int8
    )
    mapped: npt.NDArray[np.int8]
    if np.array_equal(lookup, np.arange(lookup.size)) and codes.dtype == np.int8:
        mapped = codes.astype(np.int8)  # (a copy) the categories are the known kinds, in order
    else:
        mapped = lookup[codes] if lookup.size else np.empty(0, np.int8)
    unknown = mapped < 0
    if unknown.any():
        names = sorted({str(u) for u, code in zip(uniques, lookup, strict=True) if code < 0})
        bad, total = first_ids(ids, unknown)
        raise InvalidDataError.for_ids(
            column=column,
            problem=f"has unknown kinds {names}",
            ids=bad,
            n_offending=total,
            hint=f"Known kinds are {list(kind_names)}; register others with extra_kinds=.",
        )
    return mapped


def _arrow_kind_codes(
    series: pd.Series[Any], kind_names: tuple[str, ...]
) -> npt.NDArray[np.int8] | None:
    """Codes of a pyarrow string column of known kinds, looked up in Arrow; else None.

    (Null or unknown kinds: None, and the general path names them in its error.)
    """
    dtype = series.dtype
    arrow = (isinstance(dtype, pd.StringDtype) and dtype.storage != "python") or (
        isinstance(dtype, pd.ArrowDtype) and pd.api.types.is_string_dtype(dtype)
    )
    if not arrow:
        return None
    import pyarrow as pa  # noqa: PLC0415  (present: the column is pyarrow-backed)
    import pyarrow.compute as pc  # noqa: PLC0415

    values = pa.array(series.array)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    codes = pc.index_in(values, value_set=pa.array(kind_names, type=values.type))
    if codes.null_count:
        return None
    found: npt.NDArray[np.int8] = codes.to_numpy().astype(np.int8)
    return found


def _values(
    events: pd.DataFrame,
    column: str,
    *,
    ids: pd.Series[Any],
    kinds: npt.NDArray[np.int8],
    kind_names: tuple[str, ...],
) -> npt.NDArray[np.float64]:
    """Return the value column as float64 (NaN where absent), required values checked."""
    required = np.zeros(len(kind_names), dtype=bool)
    required[[kind_names.index(k) for k in VALUE_REQUIRED_KINDS]] = True
    needed = required[kinds]
    if column not in events.columns:
        reject_ids(
            ids,
            needed,
            column=column,
            problem="is missing, but purchases and reviews need a value,",
            hint="Add the column (purchase amount, review rating 1-5).",
        )
        return np.full(kinds.size, np.nan)
    series = events[column]
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        raise InvalidDataError(
            f"Column {column!r} of events must be numeric; got dtype {series.dtype}.",
            column=column,
        )
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    purchase, review = kind_names.index("purchase"), kind_names.index("review")
    negative = values < 0  # rare: looked up by kind only when there is any
    if negative.any():
        negative &= kinds == purchase
    reviews = np.flatnonzero(kinds == review)
    ratings = values[reviews]
    out_of_range = np.zeros(values.size, dtype=bool)
    out_of_range[reviews[(ratings < 1) | (ratings > 5)]] = True
    checks = (
        (np.isinf(values), "has infinite values"),
        (needed & np.isnan(values), "has NaN values where the kind needs one (purchase, review)"),
        (negative, "has negative purchase amounts"),
        (out_of_range, "has review ratings outside 1-5"),
    )
    for bad_rows, problem in checks:
        reject_ids(
            ids,
            bad_rows,
            column=column,
            problem=problem,
            hint="A purchase carries its amount (>= 0), a review its rating (1-5).",
        )
    return values


def _first_deliveries(
    event_ids: Ids | TextIds,
    hashes: npt.NDArray[np.uint64] | None,
    column: str,
    *,
    customers: npt.NDArray[Any],
    stamps: npt.NDArray[np.datetime64],
    kinds: npt.NDArray[np.int8],
    values: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    """Mask keeping the first row of each ``event_id``; conflicting repeats raise.

    Ids are canonical (``1``, ``1.0`` and ``np.uint8(1)`` are one id), and so are
    the customer ids compared between repeats.
    """
    if isinstance(event_ids, TextIds):
        known = event_ids.hashes() if hashes is None else hashes
        repeated = repeated_text_ids(event_ids, hashes=known)
    else:
        repeated = repeated_ids(event_ids, hashes=hashes)
    keep = np.ones(event_ids.size, dtype=bool)
    if not repeated.any():
        return keep
    rows = np.flatnonzero(repeated)
    labels = event_ids[rows].objects() if isinstance(event_ids, TextIds) else event_ids.labels[rows]
    content = pd.DataFrame(
        {
            "event_id": labels.astype(object),
            "customer": customers[rows].astype(object),
            "stamp": stamps[rows],
            "kind": kinds[rows],
            "value": values[rows],
        }
    )
    distinct = content.drop_duplicates()
    conflicting = distinct["event_id"].duplicated(keep=False).to_numpy()
    if conflicting.any():
        bad = pd.unique(distinct["event_id"].to_numpy()[conflicting])
        raise InvalidDataError.for_ids(
            column=column,
            problem="repeats ids for events that differ (customer, timestamp, kind or value)",
            ids=list(bad[:5]),
            n_offending=len(bad),
            unit="event id(s)",
            hint="An event id must identify one event; fix the ids upstream.",
        )
    keep[rows[content.duplicated().to_numpy()]] = False
    return keep
