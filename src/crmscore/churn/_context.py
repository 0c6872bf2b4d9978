"""Per-customer reductions of a validated event log (private, numpy only).

Time is measured as an event's *age*: whole calendar days before the day of
``as_of`` (0 for an event on that day). Every reduction is a ``numpy.bincount`` or
a ``ufunc.at`` over the events of the kinds asked for: no Python loop over
customers or events.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from crmscore._groups import exact_parts, sum_by_group
from crmscore._validation import reject_overflow
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from crmscore._events import ValidatedEvents

__all__ = ["EventContext", "FloatArray", "Subset"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]


class Subset:
    """The events of some kinds: customer codes, ages, ``value`` numbers and raw timestamps.

    Each array is gathered on first use by ``load`` (the subset of every activity
    kind, for instance, never copies its values or timestamps unless a signal reads
    them). ``key`` names the kinds (sorted), which keys the context's cache of
    reductions.
    """

    __slots__ = ("_arrays", "_load", "key")

    def __init__(
        self, load: Callable[[str], npt.NDArray[Any]], *, key: tuple[str, ...] = ()
    ) -> None:
        self._load = load
        self._arrays: dict[str, npt.NDArray[Any]] = {}
        self.key = key

    def _get(self, name: str) -> npt.NDArray[Any]:
        array = self._arrays.get(name)
        if array is None:
            array = self._arrays[name] = self._load(name)
        return array

    def loaded(self, name: str) -> npt.NDArray[Any] | None:
        """Return the array ``name`` if it has been gathered already, else None."""
        return self._arrays.get(name)

    @property
    def codes(self) -> IntArray:
        """Customer code of each event."""
        return self._get("codes")

    @property
    def ages(self) -> IntArray:
        """Age of each event in days (0 on the day of ``as_of``)."""
        return self._get("ages")

    @property
    def numbers(self) -> FloatArray:
        """``value`` of each event (NaN where absent)."""
        return self._get("numbers")

    @property
    def stamps(self) -> IntArray:
        """Raw timestamp of each event (nanoseconds, as int64)."""
        return self._get("stamps")


def _frozen(array: FloatArray) -> FloatArray:
    """Mark a cached reduction read-only: every signal shares it."""
    array.flags.writeable = False
    return array


class EventContext:
    """Cached per-kind views of one validated log at one ``as_of``.

    Reductions (:meth:`count`, :meth:`total` of the events' own values,
    :meth:`windows`, :meth:`last_age`, :meth:`oldest_age`, :meth:`first_age`) are
    computed once per context and shared by every signal and feature that asks for
    them; the arrays returned are read-only.
    """

    def __init__(self, events: ValidatedEvents) -> None:
        self.events = events
        self.n = events.n_customers
        self._ages: IntArray | None = None
        self._subsets: dict[tuple[str, ...], Subset] = {}
        self._first_age: FloatArray | None = None
        self._memo: dict[tuple[Any, ...], FloatArray] = {}
        self._parts: dict[tuple[str, ...], list[FloatArray]] = {}

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], FloatArray]) -> FloatArray:
        out = self._memo.get(key)
        if out is None:
            out = self._memo[key] = _frozen(compute())
        return out

    def subset(self, kinds: Sequence[str], *, owner: str) -> Subset:
        """Return the events whose kind is one of ``kinds``."""
        key = tuple(sorted(set(kinds)))
        cached = self._subsets.get(key)
        if cached is not None:
            return cached
        unknown = sorted(set(key) - set(self.events.kind_names))
        if unknown:
            raise InvalidParameterError(
                f"{owner} reads event kinds {unknown} that are neither known nor registered. "
                f"Known kinds: {list(self.events.kind_names)}; register others with extra_kinds=."
            )
        wanted = np.array([self.events.kind_code(k) for k in key], dtype=np.int8)
        codes = self.events.kinds
        mask = codes == wanted[0] if wanted.size == 1 else np.isin(codes, wanted)
        events = self.events

        def load(name: str) -> npt.NDArray[Any]:
            if name == "ages":
                if self._ages is None:
                    self._ages = events.as_of_day - events.days
                return self._ages[mask]
            if name == "stamps":
                return events.stamps[mask].view(np.int64)
            source = events.codes if name == "codes" else events.values
            return source[mask]

        subset = Subset(load, key=key)
        self._subsets[key] = subset
        return subset

    def first_age(self) -> FloatArray:
        """Age of each customer's first event of any kind."""
        if self._first_age is None:
            first = np.zeros(self.n, dtype=np.int64)
            if self._ages is None:
                self._ages = self.events.as_of_day - self.events.days
            np.maximum.at(first, self.events.codes, self._ages)
            self._first_age = _frozen(first.astype(np.float64))
        return self._first_age

    def _by_kind(
        self, subset: Subset, reduce: Callable[[Subset], FloatArray], combine: Any
    ) -> FloatArray | None:
        """Combine a reduction of each kind of a subset of several kinds (None: one kind).

        Counts add and extremes compare exactly, so a subset of several kinds (every
        activity kind, for instance) never needs its events gathered in one array:
        each kind's reduction is computed once and shared.
        """
        if len(subset.key) < 2:
            return None
        parts = [reduce(self.subset((k,), owner="EventContext")) for k in subset.key]
        return functools.reduce(combine, parts)

    def count(self, subset: Subset, low: int = 0, high: float = np.inf) -> FloatArray:
        """Events per customer with ``low <= age < high``.

        The events older than ``low`` are all of them less the younger ones (counts
        are exact), so a recent window and its complement cost one pass.
        """

        def compute() -> FloatArray:
            split = self._by_kind(subset, lambda s: self.count(s, low, high), np.add)
            if split is not None:
                return split
            if low > 0 and not np.isfinite(high):
                return self.count(subset) - self.count(subset, 0, low)
            return self._total(subset, low, high, weights=None)

        return self._cached(("count", subset.key, low, high), compute)

    def total(
        self,
        subset: Subset,
        low: int = 0,
        high: float = np.inf,
        *,
        weights: FloatArray | BoolArray | None,
    ) -> FloatArray:
        """Sum of ``weights`` (or a count) per customer over ``low <= age < high``.

        A count, or a sum of the subset's own ``numbers``, is computed once per
        context; other weights every time. Boolean ``weights`` count the events
        where they are true (exactly, as a count).
        """
        if weights is None:
            return self.count(subset, low, high)
        if weights is subset.loaded("numbers"):
            return self._cached(
                ("total", subset.key, low, high), lambda: self._sum_numbers(subset, low, high)
            )
        return self._total(subset, low, high, weights=weights)

    def _inside(self, subset: Subset, low: int, high: float) -> BoolArray | None:
        """Mask of the subset's events with ``low <= age < high`` (None: all of them).

        Ages are never negative (events after ``as_of`` are not in the context).
        """
        ages = subset.ages
        if low <= 0:
            return ages < high if np.isfinite(high) else None
        inside = ages >= low
        if np.isfinite(high):
            inside &= ages < high
        return inside

    def _sum_numbers(self, subset: Subset, low: int, high: float) -> FloatArray:
        """Sum of the subset's ``numbers`` per customer over ``low <= age < high``.

        The numbers are split once per subset into parts that sum exactly by
        customer (:func:`~crmscore._groups.exact_parts`), so that every window is
        a ``numpy.bincount`` of each part and independent of row order bit for bit.
        """
        parts = self._parts.get(subset.key)
        if parts is None:
            parts = self._parts[subset.key] = exact_parts(subset.codes, subset.numbers, self.n)
        inside = self._inside(subset, low, high)
        sums = np.zeros(self.n)
        for part in parts:
            weights = part if inside is None else np.where(inside, part, 0.0)
            sums += np.bincount(subset.codes, weights=weights, minlength=self.n)
        reject_overflow(np.isinf(sums), self.events.customers, column=self.events.value_col)
        return sums

    def _total(
        self, subset: Subset, low: int, high: float, *, weights: FloatArray | BoolArray | None
    ) -> FloatArray:
        inside = self._inside(subset, low, high)
        if weights is not None and weights.dtype == np.bool_:
            where = weights.astype(np.bool_, copy=False)
            inside = where if inside is None else inside & where
            weights = None
        if weights is None:
            codes = subset.codes if inside is None else subset.codes[inside]
            return np.bincount(codes, minlength=self.n).astype(np.float64)
        # Independent of row order bit for bit (np.bincount adds in row order).
        numbers = weights.astype(np.float64, copy=False)
        if inside is not None:
            sums = sum_by_group(subset.codes[inside], numbers[inside], self.n)
        else:
            sums = sum_by_group(subset.codes, numbers, self.n)
        reject_overflow(np.isinf(sums), self.events.customers, column=self.events.value_col)
        return sums

    def windows(self, subset: Subset, *, width: int, n_windows: int) -> FloatArray:
        """Count events per customer in windows of ``width`` days back from as_of.

        Returns an array of shape ``(n_windows, n_customers)``; window ``k`` holds
        ages ``k * width`` to ``(k + 1) * width - 1``.
        """

        def compute() -> FloatArray:
            split = self._by_kind(
                subset, lambda s: self.windows(s, width=width, n_windows=n_windows), np.add
            )
            if split is not None:
                return split
            inside = subset.ages < width * n_windows  # (a division only for those)
            flat = subset.ages[inside] // width * self.n + subset.codes[inside]
            counts = np.bincount(flat, minlength=n_windows * self.n).astype(np.float64)
            return counts.reshape(n_windows, self.n)

        return self._cached(("windows", subset.key, width, n_windows), compute)

    def last_age(self, subset: Subset) -> FloatArray:
        """Age of each customer's latest event in ``subset`` (inf if none)."""

        def compute() -> FloatArray:
            split = self._by_kind(subset, self.last_age, np.minimum)
            if split is not None:
                return split
            last = np.full(self.n, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(last, subset.codes, subset.ages)
            out = last.astype(np.float64)
            out[last == np.iinfo(np.int64).max] = np.inf
            return out

        return self._cached(("last_age", subset.key), compute)

    def oldest_age(self, subset: Subset) -> FloatArray:
        """Age of each customer's first event in ``subset`` (-1 if none)."""

        def compute() -> FloatArray:
            split = self._by_kind(subset, self.oldest_age, np.maximum)
            if split is not None:
                return split
            first = np.full(self.n, -1, dtype=np.int64)
            np.maximum.at(first, subset.codes, subset.ages)
            return first.astype(np.float64)

        return self._cached(("oldest_age", subset.key), compute)
