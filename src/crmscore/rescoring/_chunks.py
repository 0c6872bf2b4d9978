"""Append-friendly immutable collections for the engine's state (private).

A new state must not change the old one, yet copying a million ids or the whole
audit trail on every small batch would dominate ingestion. These collections keep
their data in immutable chunks shared between states; appending adds a chunk and
merges neighbours of similar size (as a log-structured merge tree does), so a
collection of n items holds O(log n) chunks and each item is copied O(log n)
times over its life.

Labels are looked up through their 64-bit hashes, sorted once per chunk (a plain
sort of integers, cached: faster to build than a hash table over millions of
labels, and a batch's few thousand lookups are binary searches); every hit is then
checked against the label itself, so a hash collision can never make two
different labels look alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._ids import TextIds, canonical_ids, hash_ids, objects_of

__all__ = [
    "ChunkedFrame",
    "ChunkedIndex",
    "ColumnStore",
    "DueIndex",
    "is_in",
    "label_hashes",
    "unique_ints",
]


def unique_ints(values: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.int64]:
    """``np.unique`` of integers (sorted), by one sort and a neighbour compare.

    numpy 2.3+ answers a plain ``np.unique`` with a hash table, measured 10 to 20
    times slower than a sort on the engine's arrays of some thousand rows.
    """
    ordered = np.sort(np.asarray(values, dtype=np.int64))
    if ordered.size < 2:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def is_in(
    values: npt.NDArray[np.int64], sorted_set: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """``np.isin(values, sorted_set)`` for a sorted ``sorted_set``, by binary search.

    (``np.isin`` sorts both arrays, or fills a table as long as the book.)
    """
    if sorted_set.size == 0:
        return np.zeros(values.shape, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), sorted_set.size - 1)
    found: npt.NDArray[np.bool_] = sorted_set[at] == values
    return found


def _merge_tail(chunks: list[Any], size: Any, join: Any) -> tuple[Any, ...]:
    while len(chunks) > 1 and size(chunks[-2]) <= 2 * size(chunks[-1]):
        chunks[-2:] = [join(chunks[-2], chunks[-1])]
    return tuple(chunks)


def _array(labels: pd.Index[Any] | npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Labels in their canonical form (:func:`crmscore._ids.canonical_ids`).

    One form whatever the labels came from (an int64 column, a float column, an
    object column of Python ints, a JSON list), so that the same label always gets
    the same hash.
    """
    return canonical_ids(labels, column=None, unit="ids").labels


def label_hashes(labels: pd.Index[Any] | npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """Hash labels as the collections do (compute once, pass to add and positions)."""
    return _hashes(_array(labels))


def _hashes(labels: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """Hash canonical labels; a label hashes alike alone or among other labels."""
    if labels.size == 0:
        return np.empty(0, dtype=np.uint64)
    return hash_ids(labels)


@attrs.frozen(eq=False)
class _SortedHashes:
    """A chunk's hashes sorted, each packed with its position (the chunk's lookup).

    Each key keeps a hash's high bits above the ``shift`` low bits that hold the
    position, so one plain sort of integers orders the hashes and carries the
    positions along (several times faster than building a hash table or an
    argsort of millions of hashes). A directory of where each value of the top
    ``top`` bits starts (about eight keys apart, hashes being uniform) narrows a
    search to a few neighbouring keys, so a lookup touches about two cache lines
    of the keys instead of the ~23 of a plain binary search over millions. The
    full hash at each candidate's position decides.
    """

    keys: npt.NDArray[np.uint64]
    shift: int
    top: int
    starts: npt.NDArray[np.int64]
    steps: int

    @classmethod
    def of(cls, hashes: npt.NDArray[np.uint64]) -> _SortedHashes | None:
        """Sorted keys, or ``None`` if two labels share a full hash (rare)."""
        shift = max(hashes.size - 1, 1).bit_length()
        low = np.uint64((1 << shift) - 1)
        keys = np.sort((hashes & ~low) | np.arange(hashes.size, dtype=np.uint64))
        high = keys >> np.uint64(shift)
        same = high[1:] == high[:-1]
        if same.any():  # (equal high bits: compare the full hashes of those runs)
            runs = np.zeros(keys.size, dtype=bool)
            runs[:-1] |= same
            runs[1:] |= same
            shared = hashes[(keys[runs] & low).astype(np.intp)]
            if np.unique(shared).size < shared.size:
                return None
        top = max(shift - 3, 1)
        counts = np.bincount((keys >> np.uint64(64 - top)).astype(np.intp), minlength=1 << top)
        starts = np.zeros(counts.size + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        return cls(
            keys=keys, shift=shift, top=top, starts=starts, steps=int(counts.max()).bit_length()
        )

    def first_at_least(self, targets: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """``np.searchsorted(keys, targets)``, searching only the targets' directory slot."""
        slot = (targets >> np.uint64(64 - self.top)).astype(np.intp)
        lo, hi = self.starts[slot], self.starts[slot + 1]
        # A binary search within each slot, all at once. Once a search has closed
        # (lo == hi) it stays closed without a mask: the key at hi opens a later
        # slot (greater top bits), so it is never below the target; past the last
        # key, the clipped read may push lo one beyond hi, which the final minimum
        # takes back.
        for _ in range(self.steps):
            mid = (lo + hi) >> 1
            less = self.keys.take(mid, mode="clip") < targets
            lo = np.where(less, mid + 1, lo)
            hi = np.where(less, hi, mid)
        found: npt.NDArray[np.int64] = np.minimum(lo, hi)
        return found

    def find(
        self, hashes: npt.NDArray[np.uint64], chunk_hashes: npt.NDArray[np.uint64]
    ) -> npt.NDArray[np.intp]:
        """Position of each hash among ``chunk_hashes`` (-1 where absent)."""
        shift = np.uint64(self.shift)
        low = np.uint64((1 << self.shift) - 1)
        high = hashes >> shift
        start = self.first_at_least(high << shift)
        found = np.full(hashes.size, -1, dtype=np.intp)
        active = np.arange(hashes.size)
        step = 0
        while active.size:  # (a step per key sharing the high bits: one or two)
            at = start[active] + step
            inside = at < self.keys.size
            active, at = active[inside], at[inside]
            keys = self.keys[at]
            same = (keys >> shift) == high[active]
            active, keys = active[same], keys[same]
            position = (keys & low).astype(np.intp)
            hit = chunk_hashes[position] == hashes[active]
            found[active[hit]] = position[hit]
            active = active[~hit]
            step += 1
        return found


@attrs.frozen(eq=False)
class _Chunk:
    """Labels and their hashes; the hash lookup is built (and cached) on first use.

    A long pyarrow column's string labels stay in Arrow (:class:`TextIds`); only
    the labels read (a hit's check, ``labels_at``) are made Python objects.
    """

    labels: npt.NDArray[Any] | TextIds
    hashes: npt.NDArray[np.uint64]
    _lookup: _SortedHashes | pd.Index[Any] | None = attrs.field(
        default=None, init=False, repr=False
    )

    def __len__(self) -> int:
        return self.labels.size

    @property
    def lookup(self) -> _SortedHashes | pd.Index[Any]:
        """Sorted hashes, or an index of the labels if two labels share a hash (rare)."""
        cached = self._lookup
        if cached is None:
            by_hash = _SortedHashes.of(self.hashes)
            cached = (
                by_hash if by_hash is not None else pd.Index(objects_of(self.labels), dtype=object)
            )
            object.__setattr__(self, "_lookup", cached)
        return cached

    def at(self, positions: npt.NDArray[np.integer[Any]]) -> npt.NDArray[Any]:
        """Return the labels at ``positions``, as an array."""
        return objects_of(self.labels[positions])

    def find(
        self, labels: npt.NDArray[Any], hashes: npt.NDArray[np.uint64]
    ) -> npt.NDArray[np.intp]:
        lookup = self.lookup
        if isinstance(lookup, pd.Index):
            found: npt.NDArray[np.intp] = lookup.get_indexer(pd.Index(labels, dtype=object))
            return found
        found = lookup.find(hashes, self.hashes)
        hit = found >= 0
        same = self.at(found[hit]) == labels[hit]
        found[np.flatnonzero(hit)[~np.asarray(same, dtype=bool)]] = -1
        return found


def _join(a: _Chunk, b: _Chunk) -> _Chunk:
    hashes = np.concatenate([a.hashes, b.hashes])
    kept = a.labels.extended(b.labels) if isinstance(a.labels, TextIds) else None
    if kept is not None:  # (string ids in Arrow stay there)
        return _Chunk(kept, hashes)
    return _Chunk(np.concatenate([objects_of(a.labels), objects_of(b.labels)]), hashes)


@attrs.frozen(eq=False)
class ChunkedIndex:
    """Unique labels in insertion order, split into immutable chunks."""

    chunks: tuple[_Chunk, ...] = ()

    def __len__(self) -> int:
        return sum(len(c) for c in self.chunks)

    def add(
        self,
        labels: pd.Index[Any] | npt.NDArray[Any] | TextIds,
        hashes: npt.NDArray[np.uint64] | None = None,
        *,
        canonical: bool = False,
    ) -> ChunkedIndex:
        """Return a new collection with ``labels`` (not already present) appended.

        ``hashes`` are :func:`label_hashes` of the labels, when already computed;
        ``canonical``: the labels are canonical ids already (a pass saved).
        """
        if isinstance(labels, TextIds):  # (canonical strings, kept in Arrow)
            if labels.size == 0:
                return self
            chunk = _Chunk(labels, labels.hashes() if hashes is None else hashes)
            return ChunkedIndex(_merge_tail([*self.chunks, chunk], len, _join))
        values = labels if canonical and isinstance(labels, np.ndarray) else _array(labels)
        if values.size == 0:
            return self
        chunk = _Chunk(values, _hashes(values) if hashes is None else hashes)
        return ChunkedIndex(_merge_tail([*self.chunks, chunk], len, _join))

    def warmed(self) -> ChunkedIndex:
        """Return this collection with every chunk's lookup (sorted hash keys) built (and cached).

        Lookups build a chunk's index on first use; a freshly built book would
        otherwise pay for its whole id and event-id indexes inside its first batch.
        """
        for chunk in self.chunks:
            _ = chunk.lookup
        return self

    def positions(
        self,
        labels: pd.Index[Any] | npt.NDArray[Any],
        hashes: npt.NDArray[np.uint64] | None = None,
    ) -> npt.NDArray[np.int64]:
        """Position of each label in insertion order, -1 where absent."""
        values = _array(labels)
        if not self.chunks:
            return np.full(values.size, -1, dtype=np.int64)
        hashes = _hashes(values) if hashes is None else hashes
        result = np.full(values.size, -1, dtype=np.int64)
        offset = 0
        for chunk in self.chunks:
            found = chunk.find(values, hashes)
            hit = found >= 0
            result[hit] = found[hit] + offset
            offset += len(chunk)
        return result

    def labels_at(self, positions: npt.NDArray[np.integer[Any]]) -> npt.NDArray[Any]:
        """Labels at insertion positions, without joining the chunks."""
        positions = np.asarray(positions, dtype=np.int64)
        if len(self.chunks) == 1:
            return self.chunks[0].at(positions)
        out = np.empty(positions.size, dtype=object)
        start = 0
        for chunk in self.chunks:
            inside = (positions >= start) & (positions < start + len(chunk))
            out[inside] = chunk.at(positions[inside] - start)
            start += len(chunk)
        return out

    def to_index(self, name: Any = None) -> pd.Index[Any]:
        """All labels as one index (the labels' own dtype where pandas infers one)."""
        if not self.chunks:
            return pd.Index([], name=name)
        joined: pd.Index[Any] = pd.Index(
            np.concatenate([objects_of(c.labels) for c in self.chunks]), name=name
        )
        return joined


@attrs.frozen(eq=False)
class ChunkedFrame:
    """Rows of one schema appended over time, split into immutable chunks."""

    chunks: tuple[pd.DataFrame, ...] = ()

    def add(self, rows: pd.DataFrame) -> ChunkedFrame:
        """Return a new collection with ``rows`` appended."""
        if len(rows) == 0:
            return self
        return ChunkedFrame(
            _merge_tail(
                [*self.chunks, rows],
                len,
                lambda a, b: pd.concat([a, b], ignore_index=True),
            )
        )

    def to_frame(self, empty: pd.DataFrame) -> pd.DataFrame:
        """All rows as one frame (``empty`` gives the schema when there are none)."""
        if not self.chunks:
            return empty
        if len(self.chunks) == 1:
            return self.chunks[0]
        return pd.concat(self.chunks, ignore_index=True)


# --------------------------------------------------------------------------------------
# Per-customer columns: a shared base plus small runs of changed rows
# --------------------------------------------------------------------------------------

#: Delta rows (over all runs) beyond this fraction of the book fold into a new base.
_COMPACT_FRACTION = 4

Getter = Callable[[str], npt.NDArray[Any]]


@attrs.frozen(kw_only=True)
class DueIndex:
    """Rows whose ``key`` time is pending, found by time instead of by a scan.

    ``live`` tells, from a getter of column values at some rows, which of them are
    pending (a NaT key never is). Entries are only ever added: a lookup returns a
    superset (every live row with a key at or before the limit, and stale entries),
    and the caller applies its exact condition to the rows it gets.
    """

    name: str
    key: str
    live: Callable[[Getter], npt.NDArray[np.bool_]]


@attrs.frozen(eq=False)
class _Run:
    """Changed rows (sorted, unique) and every column's value at them."""

    rows: npt.NDArray[np.int64]
    cells: Mapping[str, npt.NDArray[Any]]

    def __len__(self) -> int:
        return self.rows.size


def _join_runs(old: _Run, new: _Run) -> _Run:
    rows = np.concatenate([old.rows, new.rows])
    # (two sorted runs: the stable sort merges them in one pass)
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    keep = order[np.r_[ordered[1:] != ordered[:-1], True]]  # the newer of equal rows
    return _Run(
        rows[keep],
        {
            name: _readonly(np.concatenate([old.cells[name], new.cells[name]])[keep])
            for name in old.cells
        },
    )


@attrs.frozen(eq=False)
class _Entries:
    """Due-index entries: times (int64 ns, sorted) and rows."""

    keys: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return self.keys.size

    @classmethod
    def of(cls, keys: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]) -> _Entries:
        # The order among equal times is immaterial (lookups cut by time and return
        # the rows sorted), and for keys in no order numpy's default sort of int64 is
        # about 4x faster than its stable one.
        order = np.argsort(keys)
        return cls(keys[order], rows[order])


def _join_entries(a: _Entries, b: _Entries) -> _Entries:
    keys = np.concatenate([a.keys, b.keys])
    order = np.argsort(keys, kind="stable")  # (two sorted runs: merged in one pass)
    return _Entries(keys[order], np.concatenate([a.rows, b.rows])[order])


def _readonly(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.setflags(write=False)
    return array


_NAT = np.iinfo(np.int64).min


def _ns(stamp: Any) -> int:
    return int(np.asarray(stamp, dtype="datetime64[ns]").view(np.int64))


def _entries(spec: DueIndex, rows: npt.NDArray[np.int64], get: Getter) -> _Entries:
    keys = get(spec.key).view(np.int64)
    live = np.asarray(spec.live(get), dtype=bool) & (keys != _NAT)
    return _Entries.of(keys[live], rows[live])


def _same_pending(
    spec: DueIndex, old: Mapping[str, npt.NDArray[Any]], new: Mapping[str, npt.NDArray[Any]]
) -> bool:
    """Whether two sets of full columns have the same pending rows and times."""
    keys = [np.asarray(c[spec.key]).view(np.int64) for c in (old, new)]
    live = [
        np.asarray(spec.live(c.__getitem__), dtype=bool) & (k != _NAT)
        for c, k in zip((old, new), keys, strict=True)
    ]
    return bool(
        np.array_equal(live[0], live[1]) and np.array_equal(keys[0][live[0]], keys[1][live[1]])
    )


@attrs.frozen(eq=False)
class ColumnStore(Mapping[str, npt.NDArray[Any]]):
    """Per-customer columns as one immutable value that later values share.

    A base of full read-only arrays, and runs of the rows changed since (every
    column's value at those rows, newer runs winning). Deriving a new store from a
    batch adds a run of the rows it changed and merges runs of similar size, so
    the old store stays intact and the new one costs memory in proportion to what
    changed; when the runs hold a quarter of the book they fold into a new base.
    Reading a column whole (``store[name]``) assembles it once and caches it.

    Due indexes (:class:`DueIndex`) keep pending times sorted, so a batch finds
    what falls due before it without scanning the book.
    """

    base: Mapping[str, npt.NDArray[Any]]
    n_rows: int
    runs: tuple[_Run, ...] = ()
    specs: tuple[DueIndex, ...] = ()
    indexes: Mapping[str, tuple[_Entries, ...]] = attrs.field(factory=dict)
    _whole: dict[str, npt.NDArray[Any]] = attrs.field(factory=dict, init=False, repr=False)

    @classmethod
    def of(
        cls,
        columns: Mapping[str, npt.NDArray[Any]],
        specs: tuple[DueIndex, ...] = (),
        *,
        like: ColumnStore | None = None,
    ) -> ColumnStore:
        """Make a store of full columns (all of one length), with its due indexes built.

        ``like``: a store whose due indexes are reused where their pending rows and
        times are the same in ``columns`` (a check in one pass instead of a sort).
        """
        base = {name: _readonly(np.asarray(values)) for name, values in columns.items()}
        n = len(next(iter(base.values()))) if base else 0
        indexes = {}
        for spec in specs:
            if like is not None and like.n_rows == n and _same_pending(spec, like, base):
                indexes[spec.name] = like.indexes[spec.name]
                continue
            built = _entries(spec, np.arange(n, dtype=np.int64), base.__getitem__)
            indexes[spec.name] = (built,) if len(built) else ()
        return cls(base, n, (), specs, indexes)

    # --- Mapping ------------------------------------------------------------------

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        cached = self._whole.get(name)
        if cached is not None:
            return cached
        base = self.base[name]
        if not self.runs and base.size == self.n_rows:
            return base
        whole = np.empty(self.n_rows, dtype=base.dtype)
        whole[: base.size] = base
        for run in self.runs:
            whole[run.rows] = run.cells[name]
        self._whole[name] = _readonly(whole)
        return whole

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)

    # --- rows ---------------------------------------------------------------------

    def take(self, name: str, rows: Any) -> npt.NDArray[Any]:
        """Values of one column at some rows (a copy)."""
        return self.take_all(rows, (name,))[name]

    def take_all(self, rows: Any, names: Any = None) -> dict[str, npt.NDArray[Any]]:
        """Values of some columns (default: all) at some rows, with one search per run."""
        names = tuple(self.base) if names is None else tuple(names)
        if isinstance(rows, slice):
            return {n: self[n][rows] for n in names}
        if not self.runs:  # (then the base holds every row)
            return {n: self.base[n][rows] for n in names}
        rows = np.asarray(rows, dtype=np.int64)
        n_base = self.base[names[0]].size if names else 0
        inside = np.minimum(rows, max(n_base - 1, 0))
        out = {
            n: self.base[n][inside] if n_base else np.empty(rows.size, self.base[n].dtype)
            for n in names
        }
        for run in self.runs:
            found = np.searchsorted(run.rows, rows)
            found[found == run.rows.size] = 0
            hit = np.flatnonzero(run.rows[found] == rows) if run.rows.size else found[:0]
            if hit.size:
                at = found[hit]
                for n in names:
                    out[n][hit] = run.cells[n][at]
        return out

    def due(self, index: str, limit: np.datetime64) -> npt.NDArray[np.int64]:
        """Sorted rows with an entry of ``index`` at or before ``limit`` (a superset)."""
        bound = _ns(limit)
        parts = [
            e.rows[: np.searchsorted(e.keys, bound, side="right")] for e in self.indexes[index]
        ]
        if not parts:
            return np.empty(0, dtype=np.int64)
        return unique_ints(np.concatenate(parts))

    # --- deriving -----------------------------------------------------------------

    def derive(
        self,
        rows: npt.NDArray[np.int64],
        values: Mapping[str, npt.NDArray[Any]],
        n_rows: int,
        *,
        consumed: np.datetime64 | None = None,
    ) -> ColumnStore:
        """Return a new store with ``values`` at ``rows``, leaving this one intact.

        ``rows`` are sorted and unique; rows past the end are appended.

        ``consumed``: every entry of the due indexes before it has been dealt with
        (the rows changed accordingly), so those entries are dropped.
        """
        indexes: dict[str, tuple[_Entries, ...]] = {}
        bound = None if consumed is None else _ns(consumed)
        run = _Run(rows, {n: _readonly(np.asarray(values[n])) for n in self.base})
        for spec in self.specs:
            kept = list(self.indexes[spec.name])
            if bound is not None:
                kept = [
                    _Entries(e.keys[start:], e.rows[start:])
                    for e in kept
                    if (start := int(np.searchsorted(e.keys, bound, side="left"))) < len(e)
                ]
            added = _entries(spec, rows, run.cells.__getitem__)
            if len(added):
                kept.append(added)
            indexes[spec.name] = _merge_tail(kept, len, _join_entries) if kept else ()
        if rows.size == 0:  # (rows past the end come with values)
            return ColumnStore(self.base, self.n_rows, self.runs, self.specs, indexes)
        runs = _merge_tail([*self.runs, run], len, _join_runs)
        store = ColumnStore(self.base, n_rows, runs, self.specs, indexes)
        if _COMPACT_FRACTION * sum(len(r) for r in runs) > n_rows:
            store = ColumnStore({n: store[n] for n in self.base}, n_rows, (), self.specs, indexes)
        return store
