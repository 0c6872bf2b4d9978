"""One validated event log seen at several cut-offs (private, numpy only).

:class:`LogHistory` validates nothing itself: it takes a log validated once up to
its last day and gives, for any cut-off day ``c``,

- :meth:`context`: an :class:`~crmscore.churn._context.EventContext` over the events
  on days ``<= c`` only (every customer of the log keeps its code, so arrays of
  different cut-offs line up), and
- :meth:`outcomes`: who is still a customer at ``c`` and the day each of them
  churns after ``c``, read from purchases on days ``> c``.

Churn is the documented criterion of :func:`crmscore.churn.observed_churn_dates`:
a customer churns on the day ``inactive_days`` days have passed since a purchase
without another purchase. At a cut-off ``c`` a customer is *active* when their
latest purchase on or before ``c`` is less than ``inactive_days`` days old; their
churn day is the first day after ``c`` on which the criterion is met (``inf``
when it is not met by the end of the log).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from crmscore._events import ValidatedEvents
from crmscore.churn._context import EventContext, Subset
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import pandas as pd

__all__ = ["CutOff", "LogHistory"]

#: Bits an int64 sort key may use (the sign bit stays clear); logs whose kind,
#: customer code, day and row need more are sorted by a lexsort instead.
PACKED_BITS = 63

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]


class CutOff:
    """The purchase summary of every customer at one cut-off day (days since 1970-01-01).

    ``churn_day`` (the outcome, read from purchases after the cut-off) is computed
    on first use: scoring never needs it.
    """

    __slots__ = ("_churn", "_churn_day", "active", "day", "first_day", "last_day", "n_days")

    def __init__(
        self,
        *,
        day: int,
        active: BoolArray,
        first_day: FloatArray,
        last_day: FloatArray,
        n_days: FloatArray,
        churn_day: FloatArray | Callable[[], FloatArray],
    ) -> None:
        self.day = day
        self.active = active
        self.first_day = first_day
        self.last_day = last_day
        self.n_days = n_days
        self._churn_day: FloatArray | None = None if callable(churn_day) else churn_day
        self._churn = churn_day if callable(churn_day) else None

    @property
    def churn_day(self) -> FloatArray:
        """Day each active customer churns after the cut-off (inf: not by the log's end)."""
        if self._churn_day is None:
            assert self._churn is not None  # set whenever _churn_day is not
            self._churn_day = self._churn()
        return self._churn_day


class LogHistory:
    """A log validated up to ``events.as_of_day``, cut at earlier days on demand."""

    def __init__(self, events: ValidatedEvents, *, inactive_days: int) -> None:
        self.events = events
        self.inactive_days = inactive_days
        self.end_day = events.as_of_day
        # Events grouped by kind and sorted by (customer, day) within a kind, built on
        # first use: kind k's events are positions _bounds[k]:_bounds[k + 1] of the
        # packed sort keys (or of _order, when the keys do not fit 63 bits).
        self._keys_by_kind: IntArray | None = None
        self._order: IntArray | None = None
        self._bounds = np.empty(0, np.int64)
        self._layout = (0, 0, 0, 0)  # day offset; bits of rows, days and customer codes
        self._by_kind: dict[tuple[int, str], npt.NDArray[Any]] = {}
        purchase = events.kind_code("purchase")
        codes = self.kind_array(purchase, "codes")
        days = self.kind_array(purchase, "days")
        self._low = int(days.min()) if days.size else 0
        self._span = int(days.max()) - self._low + 2 if days.size else 2
        # Already sorted by (customer, day): distinct purchase days by a neighbour compare.
        keys = codes * self._span + (days - self._low)
        if keys.size:
            keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
        self._keys = keys
        self._codes = keys // self._span
        self._days = keys % self._span + self._low
        # Position of each customer's first distinct purchase day (the keys are sorted
        # by customer): the number of keys of the customers before it.
        per_customer = np.bincount(self._codes, minlength=events.n_customers)
        self._first_index = np.r_[0, np.cumsum(per_customer)[:-1]].astype(np.int64)
        self._next_index = self._first_index + per_customer
        self._churn_after_days: FloatArray | None = None
        self._cuts: dict[int, CutOff] = {}

    @property
    def _churn_after(self) -> FloatArray:
        """Churn day after each distinct purchase day (inf when after the log's end)."""
        if self._churn_after_days is None:
            n = self._keys.size
            nxt = np.r_[self._days[1:], 0]
            same = np.r_[self._codes[1:] == self._codes[:-1], False]
            breaks = np.flatnonzero(~same | (nxt - self._days > self.inactive_days))
            after = (
                np.empty(0, np.int64) if n == 0 else breaks[np.searchsorted(breaks, np.arange(n))]
            )
            churn = (
                (self._days[after] + self.inactive_days).astype(np.float64) if n else np.empty(0)
            )
            churn[churn > self.end_day] = np.inf
            self._churn_after_days = churn
        return self._churn_after_days

    @property
    def customers(self) -> pd.Index[Any]:
        """Every customer id of the log (sorted)."""
        return self.events.customers

    def context(self, day: int, *, as_of: pd.Timestamp) -> EventContext:
        """Event context over the events on days ``<= day`` (all customers keep their codes).

        Every reduction of the context (counts, sums that are exact whatever the order
        of the rows, minima, maxima) depends only on the set of events on or before
        the cut-off, not on their order: a feature at a cut-off is identical to the
        last bit with or without later events. Reductions are cached per context, so
        each signal's inputs are computed once per cut-off.
        """
        return _CutContext(self, day, as_of=as_of)

    def kind_array(self, kind: int, name: str) -> npt.NDArray[Any]:
        """Array ``name`` (codes, days, values, stamps) of the events of ``kind``.

        The events of a kind are sorted by customer code, then day, then row of the
        log, so that per-customer reductions read contiguous runs (a customer's
        first and last event are the ends of its run). The log is sorted once: its
        kind, customer code, day and row packed into one int64 key each (a plain
        sort, no argsort), or, for logs too large to pack, a stable lexsort that
        gives the same order. Every reduction over the events (counts, sums that
        are exact whatever the order, minima and maxima) is independent of it.
        """
        cached = self._by_kind.get((kind, name))
        if cached is not None:
            return cached
        if self._keys_by_kind is None and self._order is None:
            self._group()
        lo, hi = int(self._bounds[kind]), int(self._bounds[kind + 1])
        if self._keys_by_kind is not None:
            keys = self._keys_by_kind[lo:hi]
            low, row_bits, day_bits, code_bits = self._layout
            if name == "codes":
                out = (keys >> (row_bits + day_bits)) & ((1 << code_bits) - 1)
            elif name == "days":
                out = ((keys >> row_bits) & ((1 << day_bits) - 1)) + low
            else:
                out = self._source(name)[keys & ((1 << row_bits) - 1)]
        else:
            assert self._order is not None  # set by _group when the keys are not
            out = self._source(name)[self._order[lo:hi]]
        if name == "stamps":
            out = out.view(np.int64)
        self._by_kind[(kind, name)] = out
        return out

    def kind_days_at(self, kind: int, positions: IntArray) -> IntArray:
        """Days of the events of ``kind`` at ``positions`` (of :meth:`kind_array`)."""
        cached = self._by_kind.get((kind, "days"))
        if cached is not None:
            return cached[positions]
        if self._keys_by_kind is None and self._order is None:
            self._group()
        first = int(self._bounds[kind])
        if self._keys_by_kind is not None:
            low, row_bits, day_bits, _ = self._layout
            keys = self._keys_by_kind[first + positions]
            return ((keys >> row_bits) & ((1 << day_bits) - 1)) + low
        assert self._order is not None  # set by _group when the keys are not
        days: IntArray = self.events.days[self._order[first + positions]]
        return days

    def _source(self, name: str) -> npt.NDArray[Any]:
        events = self.events
        source: npt.NDArray[Any] = {
            "codes": events.codes,
            "days": events.days,
            "values": events.values,  # noqa: PD011 (a numpy field)
            "stamps": events.stamps,
        }[name]
        return source

    def _group(self) -> None:
        """Sort the log by (kind, customer code, day, row) once."""
        events = self.events
        size = events.codes.size
        low = int(events.days.min()) if size else 0
        row_bits = max(size - 1, 1).bit_length()
        day_bits = max(int(events.days.max()) - low, 1).bit_length() if size else 1
        code_bits = max(events.n_customers - 1, 1).bit_length()
        kind_bits = max(len(events.kind_names) - 1, 1).bit_length()
        n_kinds = len(events.kind_names)
        if row_bits + day_bits + code_bits + kind_bits <= PACKED_BITS:
            kind_shift = code_bits + day_bits + row_bits
            keys = np.empty(size, dtype=np.int64)  # built in place: a few passes, no copies
            np.copyto(keys, events.kinds, casting="unsafe")
            keys <<= code_bits
            keys |= events.codes
            keys <<= day_bits
            keys += events.days
            keys -= low
            keys <<= row_bits
            keys |= np.arange(size, dtype=np.int64)
            keys.sort()
            starts = np.arange(n_kinds, dtype=np.int64) << kind_shift
            self._bounds = np.r_[np.searchsorted(keys, starts), size].astype(np.int64)
            self._keys_by_kind = keys
            self._layout = (low, row_bits, day_bits, code_bits)
        else:
            counts = np.bincount(events.kinds, minlength=n_kinds)
            self._bounds = np.r_[0, np.cumsum(counts)]
            self._order = np.lexsort((events.days, events.codes, events.kinds))

    def until(self, kind: int, day: int) -> npt.NDArray[np.bool_] | None:
        """Mask of the events of ``kind`` on days <= ``day`` (None: all of them)."""
        key = (kind, f"until {day}")
        cached = self._by_kind.get(key)
        if cached is not None:
            return cached if cached.size else None
        days = self.kind_array(kind, "days")
        mask = days <= day
        self._by_kind[key] = np.empty(0, np.bool_) if mask.all() else mask
        return None if mask.all() else mask

    def cut(self, day: int) -> CutOff:
        """Purchase summary and churn day of every customer at cut-off ``day`` (cached)."""
        cached = self._cuts.get(day)
        if cached is None:
            cached = self._cuts[day] = self._cut(day)
        return cached

    def _cut(self, day: int) -> CutOff:
        n = self.events.n_customers
        ids = np.arange(n, dtype=np.int64)
        offset = day - self._low
        if offset >= self._span - 2:  # on or after the last purchase day: whole runs
            last = self._next_index - 1
        else:
            last = np.searchsorted(self._keys, ids * self._span + offset, "right") - 1
        first = self._first_index
        bought = (last >= first) & (last >= 0) & (offset >= 0)
        safe_last = np.where(bought, last, 0)
        safe_first = np.where(bought, first, 0)
        nan = np.full(n, np.nan)
        first_day = np.where(bought, self._days[safe_first] if self._days.size else nan, np.nan)
        last_day = np.where(bought, self._days[safe_last] if self._days.size else nan, np.nan)
        n_days = np.where(bought, last - first + 1, 0).astype(np.float64)
        active = bought & (day - last_day < self.inactive_days)

        def churn() -> FloatArray:
            after = self._churn_after[safe_last] if self._days.size else nan
            return np.where(active, after, np.nan)

        return CutOff(
            day=day,
            active=active,
            first_day=first_day,
            last_day=last_day,
            n_days=n_days,
            churn_day=churn,
        )


class _CutContext(EventContext):
    """:class:`EventContext` of a :class:`LogHistory` at a cut-off, without copying the log.

    ``events`` is a view of the log whose ``as_of`` is the cut-off but whose arrays
    are the whole log's: only :meth:`subset` and :meth:`first_age` read events, and
    both stop at the cut-off.
    """

    def __init__(self, history: LogHistory, day: int, *, as_of: pd.Timestamp) -> None:
        ev = history.events
        self.events = ValidatedEvents(
            codes=ev.codes,
            customers=ev.customers,
            stamps=ev.stamps,
            days=ev.days,
            kinds=ev.kinds,
            kind_names=ev.kind_names,
            values=ev.values,
            as_of=as_of,
            as_of_day=day,
            rows=ev.rows,
        )
        self.n = ev.n_customers
        self._history = history
        self._day = day
        self._subsets: dict[tuple[str, ...], Subset] = {}
        self._first_age: FloatArray | None = None
        self._memo: dict[tuple[Any, ...], FloatArray] = {}
        self._ages = None
        self._runs_of: dict[tuple[str, ...], tuple[IntArray, IntArray]] = {}
        self._parts: dict[tuple[str, ...], list[FloatArray]] = {}

    def subset(self, kinds: Sequence[str], *, owner: str) -> Subset:
        """Return the events on or before the cut-off whose kind is one of ``kinds``."""
        key = tuple(sorted(set(kinds)))
        cached = self._subsets.get(key)
        if cached is not None:
            return cached
        names = self.events.kind_names
        unknown = sorted(set(key) - set(names))
        if unknown:
            raise InvalidParameterError(
                f"{owner} reads event kinds {unknown} that are neither known nor registered. "
                f"Known kinds: {list(names)}; register others with extra_kinds=."
            )
        history, day = self._history, self._day
        codes = [names.index(k) for k in key]

        def load(name: str) -> npt.NDArray[Any]:
            source = "days" if name == "ages" else "values" if name == "numbers" else name
            pieces = []
            for kind in codes:
                piece = history.kind_array(kind, source)
                mask = history.until(kind, day)
                pieces.append(piece if mask is None else piece[mask])
            out = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
            return day - out if name == "ages" else out

        subset = Subset(load, key=key)
        self._subsets[key] = subset
        return subset

    def first_age(self) -> FloatArray:
        """Age of each customer's first event of any kind (0 without one by the cut-off).

        The oldest age over the kinds, each computed once per cut-off (purchases from
        the purchase summary).
        """
        if self._first_age is None:
            names = self.events.kind_names
            oldest = [self.oldest_age(self.subset((k,), owner="EventContext")) for k in names]
            self._first_age = np.maximum(functools.reduce(np.maximum, oldest), 0.0)
            self._first_age.flags.writeable = False
        return self._first_age

    def _runs(self, subset: Subset) -> tuple[IntArray, IntArray]:
        """First and last position of each customer's run in a one-kind ``subset``.

        The events of one kind are sorted by customer, then day (see
        :meth:`LogHistory.kind_array`), and the cut-off keeps a prefix of each run.
        """
        found = self._runs_of.get(subset.key)
        if found is None:
            codes = subset.codes
            change = np.flatnonzero(codes[1:] != codes[:-1])
            starts = np.r_[0, change + 1] if codes.size else change
            ends = np.r_[change, codes.size - 1] if codes.size else change
            found = self._runs_of[subset.key] = (starts, ends)
        return found

    def _ages_at(self, subset: Subset, positions: IntArray) -> IntArray:
        """Ages of a one-kind ``subset``'s events at ``positions``.

        Read from the log's sorted keys when the subset holds every event of its
        kind and its ages were not needed yet (only the ends of the runs are).
        """
        ages = subset.loaded("ages")
        if ages is not None:
            return ages[positions]
        kind = self.events.kind_code(subset.key[0])
        if self._history.until(kind, self._day) is not None:
            return subset.ages[positions]
        return self._day - self._history.kind_days_at(kind, positions)

    def last_age(self, subset: Subset) -> FloatArray:
        """Age of each customer's latest event in ``subset`` (inf if none).

        For purchases, read from the purchase summary of the cut-off; for another
        kind, from the last event of each customer's run (no pass over the events).
        """
        if subset.key == ("purchase",):

            def compute() -> FloatArray:
                last = self._history.cut(self._day).last_day
                return np.where(np.isnan(last), np.inf, self._day - last)

        elif len(subset.key) == 1:

            def compute() -> FloatArray:
                ends = self._runs(subset)[1]
                out = np.full(self.n, np.inf)
                out[subset.codes[ends]] = self._ages_at(subset, ends)
                return out

        else:
            return super().last_age(subset)
        return self._cached(("last_age", subset.key), compute)

    def oldest_age(self, subset: Subset) -> FloatArray:
        """Age of each customer's first event in ``subset`` (-1 if none).

        For purchases, read from the purchase summary of the cut-off; for another
        kind, from the first event of each customer's run.
        """
        if subset.key == ("purchase",):

            def compute() -> FloatArray:
                first = self._history.cut(self._day).first_day
                return np.where(np.isnan(first), -1.0, self._day - first)

        elif len(subset.key) == 1:

            def compute() -> FloatArray:
                starts = self._runs(subset)[0]
                out = np.full(self.n, -1.0)
                out[subset.codes[starts]] = self._ages_at(subset, starts)
                return out

        else:
            return super().oldest_age(subset)
        return self._cached(("oldest_age", subset.key), compute)
