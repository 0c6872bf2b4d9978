"""Per-customer reductions of a validated event log (private, numpy only).

Time is measured as an event's *age*: whole calendar days before the day of
``as_of`` (0 for an event on that day). Every reduction is a ``numpy.bincount`` or
a ``ufunc.at`` over the events of the kinds asked for: no Python loop over
customers or events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt

from crmscore._groups import sum_by_group
from crmscore._validation import reject_overflow
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from crmscore._events import ValidatedEvents

__all__ = ["EventContext", "FloatArray", "Subset"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]


class Subset:
    """The events of some kinds: customer codes, ages, ``value`` numbers and raw timestamps."""

    __slots__ = ("ages", "codes", "numbers", "stamps")

    def __init__(
        self, codes: IntArray, ages: IntArray, numbers: FloatArray, stamps: IntArray
    ) -> None:
        self.codes = codes
        self.ages = ages
        self.numbers = numbers
        self.stamps = stamps


class EventContext:
    """Cached per-kind views of one validated log at one ``as_of``."""

    def __init__(self, events: ValidatedEvents) -> None:
        self.events = events
        self.n = events.n_customers
        self._ages = events.as_of_day - events.days
        self._subsets: dict[tuple[str, ...], Subset] = {}
        self._first_age: FloatArray | None = None

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
        subset = Subset(
            self.events.codes[mask],
            self._ages[mask],
            self.events.values[mask],
            self.events.stamps[mask].view(np.int64),
        )
        self._subsets[key] = subset
        return subset

    def first_age(self) -> FloatArray:
        """Age of each customer's first event of any kind."""
        if self._first_age is None:
            first = np.zeros(self.n, dtype=np.int64)
            np.maximum.at(first, self.events.codes, self._ages)
            self._first_age = first.astype(np.float64)
        return self._first_age

    def count(self, subset: Subset, low: int = 0, high: float = np.inf) -> FloatArray:
        """Events per customer with ``low <= age < high``."""
        return self.total(subset, low, high, weights=None)

    def total(
        self, subset: Subset, low: int = 0, high: float = np.inf, *, weights: FloatArray | None
    ) -> FloatArray:
        """Sum of ``weights`` (or a count) per customer over ``low <= age < high``."""
        ages = subset.ages
        inside = ages >= low
        if np.isfinite(high):
            inside &= ages < high
        if weights is None:
            return np.bincount(subset.codes[inside], minlength=self.n).astype(np.float64)
        # Independent of row order bit for bit (np.bincount adds in row order).
        sums = sum_by_group(subset.codes[inside], weights[inside], self.n)
        reject_overflow(np.isinf(sums), self.events.customers, column=self.events.value_col)
        return sums

    def windows(self, subset: Subset, *, width: int, n_windows: int) -> FloatArray:
        """Count events per customer in windows of ``width`` days back from as_of.

        Returns an array of shape ``(n_windows, n_customers)``; window ``k`` holds
        ages ``k * width`` to ``(k + 1) * width - 1``.
        """
        window = subset.ages // width
        inside = window < n_windows
        flat = window[inside] * self.n + subset.codes[inside]
        counts = np.bincount(flat, minlength=n_windows * self.n).astype(np.float64)
        return counts.reshape(n_windows, self.n)

    def last_age(self, subset: Subset) -> FloatArray:
        """Age of each customer's latest event in ``subset`` (inf if none)."""
        last = np.full(self.n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(last, subset.codes, subset.ages)
        out = last.astype(np.float64)
        out[last == np.iinfo(np.int64).max] = np.inf
        return out

    def oldest_age(self, subset: Subset) -> FloatArray:
        """Age of each customer's first event in ``subset`` (-1 if none)."""
        first = np.full(self.n, -1, dtype=np.int64)
        np.maximum.at(first, subset.codes, subset.ages)
        return first.astype(np.float64)
