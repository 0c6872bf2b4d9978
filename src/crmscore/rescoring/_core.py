"""Building blocks of the engine: audit rows, scoring, tier transitions (private)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from crmscore._periods import to_periods
from crmscore._purchases import PurchaseAggregates, rfm_columns
from crmscore._validation import as_timestamp
from crmscore.clv import customer_lifetime_value
from crmscore.errors import InvalidParameterError
from crmscore.rescoring import _aggregates
from crmscore.rescoring._book import (
    CHANGE_COLUMNS,
    ENGINE_NOTES,
    NAT,
    OVERRIDE_KINDS,
    Book,
    empty_changes,
)
from crmscore.rescoring._chunks import ColumnStore, unique_ints

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy.typing as npt

    from crmscore.rescoring._policy import TierAdjustment
    from crmscore.tiering import FittedScorecard

__all__ = [
    "Changes",
    "Columns",
    "TierState",
    "Triggers",
    "add_months",
    "aggregates_of",
    "check_as_of",
    "indicators",
    "periods_of",
    "run_timeline",
    "score_frame",
    "skipped_frame",
]

_NEVER = np.iinfo(np.int64).max  # "no time" for minimum searches, in ns
_MANUAL = OVERRIDE_KINDS.index("manual")


def skipped_frame(event_ids: Any = (), customers: Any = (), reasons: Any = ()) -> pd.DataFrame:
    """Events not applied: ``event_id``, ``customer_id`` and ``reason``."""
    if len(event_ids) == 0 and len(customers) == 0 and len(reasons) == 0:
        return _NO_SKIPPED.copy()  # (a batch asks for several: a copy is much cheaper)
    return _skipped(event_ids, customers, reasons)


def _skipped(event_ids: Any, customers: Any, reasons: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": pd.Series(list(event_ids), dtype=object),
            "customer_id": pd.Series(list(customers), dtype=object),
            "reason": pd.Series(list(reasons), dtype=object),
        }
    )


_NO_SKIPPED = _skipped((), (), ())


def check_as_of(book: Book, as_of: Any, owner: str) -> pd.Timestamp:
    stamp = as_timestamp(as_of, name="as_of", owner=owner)
    if stamp.tzinfo is not None:
        raise InvalidParameterError.for_value(
            name="as_of", owner=owner, allowed="a naive (wall-clock) timestamp", got=as_of
        )
    if book.as_of is not None and stamp < book.as_of:
        raise InvalidParameterError(
            f"as_of ({stamp}) is before the book's as_of ({book.as_of}): a book only moves "
            "forward in time. Pass an as_of at or after it."
        )
    return stamp


def add_months(stamps: npt.NDArray[np.datetime64], months: int) -> npt.NDArray[np.datetime64]:
    """Add calendar months as ``pd.DateOffset(months=...)`` does, in pure numpy.

    The day of month is kept, or clipped to the end of a shorter month; the time of
    day is kept; NaT stays NaT. (pandas' offset arithmetic is ten times slower.)
    """
    stamps = np.asarray(stamps, dtype="datetime64[ns]")
    month = stamps.astype("datetime64[M]")
    day = stamps.astype("datetime64[D]")
    day_of_month = day - month.astype("datetime64[D]")
    time_of_day = stamps - day.astype("datetime64[ns]")
    target = month + np.timedelta64(months, "M")
    month_length = (target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype(
        "datetime64[D]"
    )
    clipped = np.minimum(day_of_month, month_length - np.timedelta64(1, "D"))
    result: npt.NDArray[np.datetime64] = (target.astype("datetime64[D]") + clipped).astype(
        "datetime64[ns]"
    ) + time_of_day
    return result


class Changes:
    """Collects audit rows column by column, then makes one frame.

    Rows are kept as the calls gave them until :meth:`frame`: int64 customer ids
    as integers, a value given once for every row of a call as that one value,
    tiers and levels as codes into their names. The frame orders integers and
    codes (opening a book records a million rows), and makes each column's
    objects once, in the frame's order.
    """

    def __init__(self, tiers: Any, as_of: pd.Timestamp) -> None:
        self.labels = np.asarray((*tiers.labels(), None), dtype=object)  # -1 -> None
        self.as_of = as_of
        self.sizes: list[int] = []
        # Per column, one entry per call: an array of its rows, or a 0-d array
        # holding the value of all of them. Tiers: (names, codes) instead.
        self.columns: dict[str, list[Any]] = {c: [] for c in CHANGE_COLUMNS}

    def add(
        self,
        *,
        customer_id: Any,
        at: Any,
        change: str | npt.NDArray[Any],
        rule: str | npt.NDArray[Any],
        before: Any = None,
        after: Any = None,
        score: Any = np.nan,
        event_ids: Any = "",
        detail: Any = "",
        names: Sequence[str] | None = None,
    ) -> None:
        """Add one row per customer; scalars apply to every row, tiers are positions.

        With ``names``, ``before`` and ``after`` are positions in ``names`` instead
        (the churn levels, for instance).
        """
        exact = isinstance(customer_id, np.ndarray) and customer_id.dtype == np.int64
        ids = customer_id if exact else np.asarray(customer_id, dtype=object)
        n = ids.size
        if n == 0:
            return
        table = self.labels if names is None else np.asarray(names, dtype=object)

        def one(value: Any, dtype: Any = object) -> npt.NDArray[Any]:
            return np.asarray(value, dtype=dtype)

        def tiers(codes: Any) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
            if codes is None:
                return np.array([None], dtype=object), np.zeros((), dtype=np.int64)
            return table, one(codes, np.int64)

        self.sizes.append(n)
        for name, values in (
            ("customer_id", ids),
            ("at", one(at, "datetime64[ns]")),
            ("as_of", one(self.as_of.to_datetime64(), "datetime64[ns]")),
            ("change", one(change)),
            ("before", tiers(before)),
            ("after", tiers(after)),
            ("score", one(score, np.float64)),
            ("rule", one(rule)),
            ("event_ids", one(event_ids)),
            ("detail", one(detail)),
        ):
            self.columns[name].append(values)

    def frame(self) -> pd.DataFrame:
        """All rows so far, in time order (ties in the order they were added)."""
        if not self.sizes:
            return empty_changes()
        at = self._values("at")
        stamps = at.view(np.int64)
        order = None
        if stamps.size > 1 and not (stamps[1:] >= stamps[:-1]).all():  # (a review's are)
            order = np.lexsort((np.arange(stamps.size), stamps))
        data: dict[str, npt.NDArray[Any]] = {}
        for name in CHANGE_COLUMNS:
            if name in ("before", "after"):
                data[name] = self._tiers(name, order)
                continue
            values = at if name == "at" else self._values(name)
            if order is not None:
                values = values[order]
            data[name] = values if values.dtype != np.int64 else values.astype(object)
        numeric = ("at", "as_of", "score")
        return pd.DataFrame(
            {
                name: values if name in numeric else pd.Series(values, dtype=object)
                for name, values in data.items()
            }
        )

    def _values(self, name: str) -> npt.NDArray[Any]:
        """Return a column's rows in the order added (a call's one value fills its rows)."""
        parts = self.columns[name]
        if all(p.ndim == 0 for p in parts) and parts[0].dtype == object:
            # One value per call: the rows pick from the calls' values (no object
            # array per call to join, and the objects placed in one pass).
            table = np.empty(len(parts), dtype=object)
            table[:] = [p[()] for p in parts]
            return table[np.repeat(np.arange(len(parts)), self.sizes)]
        filled = [
            np.broadcast_to(p, (size,)) if p.ndim == 0 else p
            for p, size in zip(parts, self.sizes, strict=True)
        ]
        return np.concatenate(filled)

    def _tiers(self, name: str, order: npt.NDArray[np.intp] | None) -> npt.NDArray[Any]:
        """Return tier (or level) names from the calls' codes, via one table of all names."""
        tables, codes, offset = [], [], 0
        for (table, code), size in zip(self.columns[name], self.sizes, strict=True):
            # -1 (no tier) is the table's last entry (None).
            codes.append(np.where(code < 0, code + table.size, code) + offset)
            if codes[-1].ndim == 0:
                codes[-1] = np.broadcast_to(codes[-1], (size,))
            tables.append(table)
            offset += table.size
        joined = np.concatenate(codes)
        if order is not None:
            joined = joined[order]
        names: npt.NDArray[Any] = np.concatenate(tables)[joined]
        return names


# --------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------


def aggregates_of(columns: Columns | ColumnStore, rows: Any) -> PurchaseAggregates:
    if isinstance(columns, ColumnStore):
        return PurchaseAggregates(**columns.take_all(rows, _aggregates.AGGREGATE_COLUMNS))
    return PurchaseAggregates(**columns.take_all(rows, _aggregates.AGGREGATE_COLUMNS))


def indicators(
    book: Book,
    aggregates: PurchaseAggregates,
    periods: Any,
    ids: pd.Index[Any],
    *,
    churn_level: npt.NDArray[np.int8],
) -> pd.DataFrame:
    """Build the scorecard's input along the chain RFM -> CLV -> churn -> attributes.

    The columns are gathered as arrays and the frame is made once (inserting columns
    one by one costs more than the scoring of a small batch); the models read a
    frame of their four columns only, with the frequency as floats (the values they
    convert it to anyway, without pandas' slow path for integers).
    """
    columns = rfm_columns(aggregates, periods)
    stage = book.policy.clv
    if stage is not None and book.purchase_model is not None and book.spend_model is not None:
        table = pd.DataFrame(
            {
                "frequency": columns["frequency"].astype(np.float64),
                "recency": columns["recency"],
                "T": columns["T"],
                "monetary_value": columns["monetary_value"],
            }
        )
        columns["p_alive"] = book.purchase_model.probability_alive(table).to_numpy()
        columns["clv"] = customer_lifetime_value(
            table,
            purchase_model=book.purchase_model,
            spend_model=book.spend_model,
            horizon=stage.horizon,
            discount_rate=stage.discount_rate,
            margin=stage.margin,
            time_unit=book.policy.time_unit,
        ).to_numpy()
    if book.policy.churn is not None:
        columns["churn_level"] = churn_level
    if len(book.attributes.columns):
        extra = book.attributes.reindex(ids)
        for column in extra.columns:
            if column not in columns:
                columns[column] = extra[column].to_numpy()
    return pd.DataFrame(columns)


def score_frame(
    scorecard: FittedScorecard, frame: pd.DataFrame
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int8]]:
    """Scores and tier positions (after the scorecard's rules) of a frame."""
    score, codes = scorecard.score_and_tier(frame)
    return score, codes.astype(np.int8)


def periods_of(stamps: Any, book: Book) -> npt.NDArray[np.int64]:
    return to_periods(np.asarray(stamps, dtype="datetime64[ns]"), book.policy.time_unit)


# --------------------------------------------------------------------------------------
# Tier state transitions (vectorised over the customers that move)
# --------------------------------------------------------------------------------------


class TierState:
    """Mutable working copies of the tier columns of some customers (private)."""

    def __init__(self, columns: Columns, rows: npt.NDArray[np.int64]) -> None:
        self.rows = rows
        self.base = columns.take("base_tier", rows).copy()
        self.kind = columns.take("override_kind", rows).copy()
        self.override = columns.take("override_tier", rows).copy()
        self.expires = columns.take("override_expires", rows).copy()
        self.until_review = columns.take("override_until_review", rows).copy()
        self.note = columns.take("override_note", rows).copy()

    def effective(self) -> npt.NDArray[np.int8]:
        return np.where(self.kind > 0, self.override, self.base).astype(np.int8)

    def clear(self, where: npt.NDArray[np.bool_]) -> None:
        self.kind[where] = 0
        self.override[where] = -1
        self.expires[where] = NAT
        self.until_review[where] = False
        self.note[where] = -1

    def write(self, columns: Columns) -> None:
        """Store the working copies back into the (copy-on-write) columns."""
        for name, values in (
            ("base_tier", self.base),
            ("override_kind", self.kind),
            ("override_tier", self.override),
            ("override_expires", self.expires),
            ("override_until_review", self.until_review),
            ("override_note", self.note),
            ("tier", self.effective()),
        ):
            if not np.array_equal(columns.take(name, self.rows), values):  # write only if needed
                columns.put(name, self.rows, values)


def _adjust(
    adjustment: TierAdjustment, reference: npt.NDArray[np.int8], book: Book, *, up: bool
) -> npt.NDArray[np.int8]:
    """Return the target tier: a downgrade never raises it, an upgrade never lowers it."""
    top = len(book.tiers.tiers) - 1
    if adjustment.to_tier is not None:
        target = np.full(reference.shape, book.tiers.index(adjustment.to_tier), dtype=np.int64)
    else:
        target = np.clip(reference.astype(np.int64) + adjustment.steps, 0, top)
    bound = np.maximum if up else np.minimum
    return bound(target, reference).astype(np.int8)


@attrs.frozen(kw_only=True, eq=False)
class Triggers:
    """Trigger events, sorted by (owner, time): who, when, what, and the score then."""

    owner: npt.NDArray[np.int64]
    """Index into the :class:`TierState` rows."""

    times: npt.NDArray[np.datetime64]
    kind: npt.NDArray[np.int8]
    score: npt.NDArray[np.float64]
    tier: npt.NDArray[np.int8]
    event_id: npt.NDArray[Any]

    @classmethod
    def none(cls) -> Triggers:
        """No triggers."""
        return cls(
            owner=np.empty(0, np.int64),
            times=np.empty(0, "datetime64[ns]"),
            kind=np.empty(0, np.int8),
            score=np.empty(0, np.float64),
            tier=np.empty(0, np.int8),
            event_id=np.empty(0, object),
        )


LARGE, DEFAULT_EVENT, SIGNING_EVENT = 0, 1, 2


def run_timeline(
    book: Book,
    state: TierState,
    ids: npt.NDArray[Any],
    changes: Changes,
    triggers: Triggers,
    *,
    as_of: pd.Timestamp,
    cached_score: npt.NDArray[np.float64],
) -> None:
    """Apply triggers and override expiries in time order, customer by customer.

    ``cached_score`` is each customer's cached score (as of its last scoring),
    which the ``override_expired`` rows carry.

    Each round handles, for every customer at once, its earliest pending item: an
    override that expires (at or before ``as_of``), or the next trigger. There are
    as many rounds as the most items any one customer has, not one per customer.
    """
    n = state.rows.size
    stop = np.searchsorted(triggers.owner, np.arange(n), side="right")
    pointer = np.searchsorted(triggers.owner, np.arange(n), side="left")
    limit = int(np.datetime64(as_of.value, "ns").view(np.int64))
    at = triggers.times.view(np.int64)
    while True:
        pending = pointer < stop
        next_time = np.full(n, _NEVER, dtype=np.int64)
        next_time[pending] = at[pointer[pending]]
        timed = (state.kind > 0) & ~state.until_review & ~np.isnat(state.expires)
        expiry = np.where(timed, state.expires.view(np.int64), _NEVER)
        expire = timed & (expiry <= np.minimum(next_time, limit))
        fire = ~expire & pending
        if not (expire.any() or fire.any()):
            return
        if expire.any():
            who = np.flatnonzero(expire)
            before, kinds = state.effective()[who], state.kind[who]
            state.clear(expire)
            changes.add(
                customer_id=ids[who],
                at=expiry[who].view("datetime64[ns]"),
                change="tier",
                before=before,
                after=state.base[who],
                score=cached_score[who],
                rule="override_expired",
                detail=np.asarray([f"{OVERRIDE_KINDS[k]} override ended" for k in kinds], object),
            )
        if fire.any():
            who = np.flatnonzero(fire)
            item = pointer[who]
            pointer[who] += 1
            _fire(
                book,
                state=state,
                ids=ids,
                changes=changes,
                triggers=triggers,
                who=who,
                item=item,
            )


def _fire(
    book: Book,
    *,
    state: TierState,
    ids: npt.NDArray[Any],
    changes: Changes,
    triggers: Triggers,
    who: npt.NDArray[np.int64],
    item: npt.NDArray[np.int64],
) -> None:
    """Apply one trigger to each customer in ``who`` (one item each)."""
    policy = book.policy
    kind = triggers.kind[item]
    before = state.effective()[who]
    # Large transaction: re-score and re-tier now; upgrades only (downgrades wait
    # for a review and its retention rule).
    large = kind == LARGE
    if large.any():
        rows, items = who[large], item[large]
        base = state.base[rows]
        new = triggers.tier[items]
        state.base[rows] = np.where(base < 0, new, np.maximum(base, new))
        after = state.effective()[rows]
        changes.add(
            customer_id=ids[rows],
            at=triggers.times[items],
            change=np.where(after != before[large], "tier", "rescore").astype(object),
            before=before[large],
            after=after,
            score=triggers.score[items],
            rule="large_transaction",
            event_ids=triggers.event_id[items],
            detail="re-scored at the purchase",
        )
    for code, adjustment, name, up in (
        (DEFAULT_EVENT, policy.default_adjustment, "default", False),
        (SIGNING_EVENT, policy.signing_adjustment, "strategic_signing", True),
    ):
        mask = kind == code
        if adjustment is None or not mask.any():
            continue
        rows, items = who[mask], item[mask]
        reference = np.where(before[mask] < 0, triggers.tier[items], before[mask]).astype(np.int8)
        target = _adjust(adjustment, reference, book, up=up)
        apply = state.kind[rows] != _MANUAL
        applied, when = rows[apply], triggers.times[items][apply]
        state.kind[applied] = OVERRIDE_KINDS.index(name)
        state.override[applied] = target[apply]
        if adjustment.expires_after_days is None:
            state.expires[applied] = NAT
            state.until_review[applied] = True
        else:
            state.expires[applied] = when + np.timedelta64(adjustment.expires_after_days, "D")
            state.until_review[applied] = False
        state.note[applied] = ENGINE_NOTES.index((name, "engine"))
        changes.add(
            customer_id=ids[rows],
            at=triggers.times[items],
            change=np.where(apply, "tier", "action").astype(object),
            before=before[mask],
            after=np.where(apply, target, before[mask]),
            score=triggers.score[items],
            rule=name,
            event_ids=triggers.event_id[items],
            detail=np.where(
                apply, "temporary adjustment", "not applied: a manual override is active"
            ).astype(object),
        )


class Columns:
    """A working copy of the book's columns for one call (private).

    Rows are read and written through :meth:`take` and :meth:`put`: only the rows a
    call reads are gathered from the book's :class:`ColumnStore`, and only those it
    writes go into the new store (a run that the old store does not see). A call
    that works on every customer (a review) asks for :meth:`edit`, which turns the
    copy into whole owned arrays. Positions of a rows array are remembered while
    the array lives: never modify a rows array in place between calls.
    """

    def __init__(self, store: Mapping[str, npt.NDArray[Any]], *, whole: bool = False) -> None:
        self.store = store if isinstance(store, ColumnStore) else ColumnStore.of(store)
        self.n_rows = self.store.n_rows
        self.whole: dict[str, npt.NDArray[Any]] | None = None
        self.rows = np.empty(0, dtype=np.int64)  # gathered rows, sorted
        self._cache: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
        self.dirty = np.empty(0, dtype=bool)
        self.local: dict[str, npt.NDArray[Any]] = {
            name: np.empty(0, dtype=values.dtype) for name, values in self.store.base.items()
        }
        if whole:
            self.whole = {name: np.array(self.store[name]) for name in self.local}

    def gather(self, rows: npt.NDArray[np.int64]) -> None:
        """Gather these rows of every column now, in one pass (calls then reuse them)."""
        self._slots(unique_ints(rows))

    def _slots(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Positions of ``rows`` among the gathered rows (gathering the missing ones)."""
        cached = self._cache.get(id(rows))
        if cached is not None and cached[0] is rows:  # (the same array asked again)
            return cached[1]
        at = self._find(rows)
        self._cache[id(rows)] = (rows, at)  # (holding rows keeps its id unique)
        return at

    def _find(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        count = self.rows.size
        if count and self.rows[-1] == count - 1 and rows.size and rows.max() < count:
            # Every row up to the last is gathered (a book opening): a row is its own slot.
            return rows
        at = np.searchsorted(self.rows, rows)
        if self.rows.size:
            missing = self.rows[np.minimum(at, self.rows.size - 1)] != rows
        else:
            missing = np.ones(rows.size, dtype=bool)
        if missing.any():
            new = rows[missing]
            if new.size > 1 and not (new[1:] > new[:-1]).all():  # (often sorted already)
                new = unique_ints(new)
            gathered = self.store.take_all(new)
            self._cache.clear()  # (positions move)
            if self.rows.size == 0:  # (a batch's first gather: nothing to merge with)
                self.rows, self.local = new, gathered
                self.dirty = np.zeros(new.size, dtype=bool)
                return np.searchsorted(self.rows, rows)
            merged = np.concatenate([self.rows, new])
            order = np.argsort(merged, kind="stable")  # (two sorted runs: merged in one pass)
            self.rows = merged[order]
            self.dirty = np.concatenate([self.dirty, np.zeros(new.size, dtype=bool)])[order]
            for name in self.local:
                self.local[name] = np.concatenate([self.local[name], gathered[name]])[order]
            at = np.searchsorted(self.rows, rows)
        return at

    def take(self, name: str, rows: Any) -> npt.NDArray[Any]:
        """Return the current values of one column at ``rows`` (a copy; a view for a slice)."""
        if self.whole is not None:
            picked: npt.NDArray[Any] = self.whole[name][rows]
            return picked
        if isinstance(rows, slice):
            return self[name][rows]
        slots = self._slots(np.asarray(rows, dtype=np.int64))  # (may replace the arrays)
        return self.local[name][slots]

    def peek(self, name: str, rows: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        """Return the current values of one column at ``rows`` without gathering them.

        For candidates (from a due index) that a call mostly only reads: their other
        columns are not copied; rows the call then writes are gathered by :meth:`put`.
        Rows all gathered already (a batch gathers its due rows with its own) are
        read from the working copy alone.
        """
        if self.whole is not None:
            picked: npt.NDArray[Any] = self.whole[name][rows]
            return picked
        rows = np.asarray(rows, dtype=np.int64)
        at = hit = None
        if self.rows.size:  # (rows past the store's end are always gathered)
            at = np.minimum(np.searchsorted(self.rows, rows), self.rows.size - 1)
            hit = self.rows[at] == rows
            if hit.all():  # (gathered already: no read of the store)
                gathered: npt.NDArray[Any] = self.local[name][at]
                return gathered
        if self.store.n_rows:
            out = self.store.take(name, np.minimum(rows, self.store.n_rows - 1))
        else:
            out = np.empty(rows.size, dtype=self.local[name].dtype)
        if at is not None and hit is not None:
            out[hit] = self.local[name][at[hit]]
        return out

    def take_all(self, rows: Any, names: Any) -> dict[str, npt.NDArray[Any]]:
        """Return the current values of several columns at ``rows``, gathered once."""
        if self.whole is not None or isinstance(rows, slice):
            return {name: self.take(name, rows) for name in names}
        slots = self._slots(np.asarray(rows, dtype=np.int64))
        return {name: self.local[name][slots] for name in names}

    def put(self, name: str, rows: Any, values: Any) -> None:
        """Write values of one column at ``rows``."""
        if self.whole is not None:
            self.whole[name][rows] = values
            return
        slots = self._slots(np.asarray(rows, dtype=np.int64))
        self.local[name][slots] = values
        self.dirty[slots] = True

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        """Return the whole current column (assembled: for calls on every customer)."""
        if self.whole is not None:
            return self.whole[name]
        return np.array(self.store[name]) if self.rows.size == 0 else self._assemble(name)

    def _assemble(self, name: str) -> npt.NDArray[Any]:
        whole = np.empty(self.n_rows, dtype=self.local[name].dtype)
        known = self.store[name]
        whole[: known.size] = known
        whole[self.rows] = self.local[name]
        return whole

    def edit(self, name: str) -> npt.NDArray[Any]:
        """Return the whole writable column (every column becomes an owned array)."""
        if self.whole is None:
            self.whole = {n: self._assemble(n) for n in self.local}
        return self.whole[name]

    def append(self, rows: Mapping[str, npt.NDArray[Any]]) -> None:
        """Add rows at the end of every column."""
        count = len(next(iter(rows.values())))
        new = np.arange(self.n_rows, self.n_rows + count, dtype=np.int64)
        self.n_rows += count
        if self.whole is not None:
            for name, values in rows.items():
                self.whole[name] = np.concatenate(
                    [self.whole[name], values.astype(self.whole[name].dtype)]
                )
            return
        self.rows = np.concatenate([self.rows, new])
        self.dirty = np.concatenate([self.dirty, np.ones(count, dtype=bool)])
        self._cache.clear()
        for name, values in rows.items():
            self.local[name] = np.concatenate(
                [self.local[name], values.astype(self.local[name].dtype)]
            )

    def freeze(self, *, consumed: np.datetime64 | None = None) -> ColumnStore:
        """Return the new store (the old one is untouched).

        ``consumed``: the call dealt with everything its due indexes held before it.
        """
        if self.whole is not None:
            return ColumnStore.of(self.whole, self.store.specs, like=self.store)
        keep = np.flatnonzero(self.dirty)
        return self.store.derive(
            self.rows[keep],
            {name: values[keep] for name, values in self.local.items()},
            self.n_rows,
            consumed=consumed,
        )
