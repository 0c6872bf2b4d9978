"""Reading a batch of events: validation, de-duplication by event id, stream order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from crmscore._events import validate_events
from crmscore._ids import TextIds, canonical_ids, json_ids, objects_of, plain_id_dtype
from crmscore._validation import check_frame, first_ids
from crmscore.errors import ColumnNotFoundError, InvalidDataError
from crmscore.rescoring._chunks import label_hashes
from crmscore.rescoring._core import skipped_frame

if TYPE_CHECKING:
    import numpy.typing as npt

    from crmscore._columns import EventColumns
    from crmscore.rescoring._book import Book

_NEVER = np.iinfo(np.int64).max
_OLDEST = np.iinfo(np.int64).min


@attrs.define
class _Batch:
    """A validated, de-duplicated batch sorted by (customer, time, arrival)."""

    customers: pd.Index[Any]
    codes: npt.NDArray[np.int64]
    stamps: npt.NDArray[np.datetime64]
    kinds: npt.NDArray[np.int8]  # positions in kind_names (compared as small ints)
    value: npt.NDArray[np.float64]
    event_ids: npt.NDArray[Any] | TextIds  # (a long pyarrow column's stay in Arrow)
    id_hashes: npt.NDArray[np.uint64]
    kind_names: tuple[str, ...]
    value_col: str = "value"  # the amount column's name, for error messages
    rows: tuple[Any, npt.NDArray[np.int64]] | None = None  # (ids, the customers' rows in them)

    def positions(self, book: Book) -> npt.NDArray[np.int64]:
        """Row of each of the batch's customers in ``book`` (-1 if new), looked up once."""
        if self.rows is None or self.rows[0] is not book.ids:
            self.rows = (book.ids, book.ids.positions(self.customers))
        return self.rows[1]

    def kind_is(self, name: str) -> npt.NDArray[np.bool_]:
        """Which events are of kind ``name``."""
        code = self.kind_names.index(name) if name in self.kind_names else -1
        mask: npt.NDArray[np.bool_] = self.kinds == code
        return mask

    def take(self, mask: npt.NDArray[np.bool_]) -> _Batch:
        return _Batch(
            value_col=self.value_col,
            customers=self.customers,
            codes=self.codes[mask],
            stamps=self.stamps[mask],
            kinds=self.kinds[mask],
            kind_names=self.kind_names,
            value=self.value[mask],
            event_ids=self.event_ids[mask],
            id_hashes=self.id_hashes[mask],
            rows=self.rows,
        )


def _read_batch(
    book: Book, events: pd.DataFrame, as_of: pd.Timestamp, columns: EventColumns
) -> _Batch | None:
    """Validate a batch; drop events already applied; sort it. ``None`` if nothing is new."""
    owner = "ingest"
    event_id_col = columns.event_id
    check_frame(events, name="events", owner=owner)
    if event_id_col not in events.columns:
        raise ColumnNotFoundError.from_missing_and_available(
            [event_id_col], events.columns, frame="events"
        )
    if len(events) == 0:
        return None
    null_ids = events[event_id_col].isna().to_numpy()
    if null_ids.any():
        raise InvalidDataError(
            f"Column {event_id_col!r} of events has {int(null_ids.sum())} null event id(s), "
            f"first at row positions {np.flatnonzero(null_ids)[:5].tolist()}. The engine "
            "needs an id on every event to apply it exactly once.",
            column=event_id_col,
        )
    valid = validate_events(events, as_of=as_of, owner=owner, future="error", **columns.as_kwargs())
    if valid.customers.dtype == object:  # stored: canonical ids as plain Python int and str
        plain = json_ids(canonical_ids(valid.customers, column=columns.customer).labels)
        valid = attrs.evolve(valid, customers=pd.Index(plain, dtype=object, name=columns.customer))
    stamps = valid.stamps.astype("datetime64[ns]", copy=False)  # (only read: gathered below)
    event_ids = np.empty(0, object) if valid.event_ids is None else valid.event_ids
    if not isinstance(event_ids, TextIds) and not plain_id_dtype(events[event_id_col].dtype):
        event_ids = json_ids(event_ids)  # (a pass over every id otherwise)
    # (validation hashed them already, unless they are int64)
    id_hashes = (
        valid.event_id_hashes
        if valid.event_id_hashes is not None
        else label_hashes(objects_of(event_ids))
    )
    if len(book.event_ids):
        fresh = book.event_ids.positions(objects_of(event_ids), id_hashes) < 0
    else:  # (opening a book: every event is new)
        fresh = np.ones(event_ids.size, dtype=bool)
    if not fresh.any():
        return None
    for bad_rows, problem, hint in (
        (
            stamps > as_of.to_datetime64(),
            f"has events after as_of ({as_of})",
            "Ingest them with a later as_of.",
        ),
        (
            fresh & (stamps < np.datetime64(book.as_of.value if book.as_of else _OLDEST, "ns")),
            f"has new events before the book's as_of ({book.as_of})",
            "The book has moved past them; ingest each batch before moving as_of beyond it.",
        ),
    ):
        if bad_rows.any():  # (each event's customer id, built only to name them)
            bad, total = first_ids(valid.customers[valid.codes], bad_rows)
            raise InvalidDataError.for_ids(
                column=columns.timestamp,
                problem=problem,
                ids=bad,
                n_offending=total,
                hint=hint,
            )
    # Every event is new when a book opens: then no masked copy of each array.
    fresh_at = None if fresh.all() else np.flatnonzero(fresh)
    codes = valid.codes if fresh_at is None else valid.codes[fresh_at]
    times = (stamps if fresh_at is None else stamps[fresh_at]).view(np.int64)
    # (customer, time, arrival): logs usually arrive in time order, and then one
    # stable sort by customer is enough.
    if times.size and (np.diff(times) >= 0).all():
        order, codes = _stable_sort(codes)
    else:
        order = np.lexsort((np.arange(codes.size), times, codes))
        codes = codes[order]
    pick = order if fresh_at is None else fresh_at[order]  # (one gather per array)
    return _Batch(
        customers=valid.customers,
        codes=codes,
        stamps=stamps[pick],
        kinds=valid.kinds[pick],
        kind_names=valid.kind_names,
        value=valid.values[pick],  # noqa: PD011  (a numpy array field)
        event_ids=event_ids[pick],
        id_hashes=id_hashes[pick],
        value_col=columns.value,
    )


def _stable_order(codes: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Stable argsort of non-negative codes: one sort of unique (code, arrival) keys.

    Each key packs the code in its high bits and the arrival position in its low
    bits, so the keys are unique (any sort of them is stable) and the sorted keys'
    low bits are the order itself: a plain sort of int64 values, several times
    faster than an argsort of millions of events (stable or not).
    """
    return _stable_sort(codes)[0]


def _stable_sort(
    codes: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """:func:`_stable_order` of ``codes``, and the codes in that order.

    The sorted codes are the sorted keys' high bits: no gather of the codes.
    """
    n = codes.size
    if n == 0:
        return np.empty(0, dtype=np.intp), codes[:0]
    shift = max(n - 1, 1).bit_length()
    if int(codes.max()) >= 1 << (62 - shift):  # (codes too large to pack: never in practice)
        order = np.argsort(codes, kind="stable")
        return order, codes[order]
    keys = np.sort((codes << shift) | np.arange(n, dtype=np.int64))
    sorted_order: npt.NDArray[np.intp] = (keys & ((1 << shift) - 1)).astype(np.intp, copy=False)
    keys >>= shift
    return sorted_order, keys


def _drop_before_first_purchase(book: Book, batch: _Batch) -> tuple[_Batch, pd.DataFrame]:
    """Skip new customers' events before their first purchase in stream order.

    Stream order, not time: an event at the same time as the first purchase but
    delivered before it has no customer to act on yet (the batch is sorted by
    customer, time and arrival, so positions give that order).
    """
    customers = batch.customers
    known = batch.positions(book) >= 0
    position = np.arange(batch.codes.size, dtype=np.int64)
    buys = batch.kind_is("purchase")
    first_buy = np.full(len(customers), _NEVER, dtype=np.int64)
    buy_codes, buy_at = batch.codes[buys], position[buys]
    if buy_codes.size and (buy_codes[1:] >= buy_codes[:-1]).all():
        # Sorted by customer (as _read_batch leaves it): each run's first is its minimum.
        starts = np.r_[True, buy_codes[1:] != buy_codes[:-1]]
        first_buy[buy_codes[starts]] = buy_at[starts]
    else:
        np.minimum.at(first_buy, buy_codes, buy_at)
    early = ~known[batch.codes] & (position < first_buy[batch.codes])
    if not early.any():
        return batch, skipped_frame()
    report = skipped_frame(
        objects_of(batch.event_ids[early]),
        customers[batch.codes[early]],
        ["the customer has no purchase yet"] * int(early.sum()),
    )
    return batch.take(~early), report
