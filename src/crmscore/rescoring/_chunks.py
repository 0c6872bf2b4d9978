"""Append-friendly immutable collections for the engine's state (private).

A new state must not change the old one, yet copying a million ids or the whole
audit trail on every small batch would dominate ingestion. These collections keep
their data in immutable chunks shared between states; appending adds a chunk and
merges neighbours of similar size (as a log-structured merge tree does), so a
collection of n items holds O(log n) chunks and each item is copied O(log n)
times over its life.

Labels are looked up through 64-bit hashes held in an integer index per chunk
(pandas caches its hash table, and integer tables build an order of magnitude
faster than string ones); every hit is then checked against the label itself, so
a hash collision can never make two different labels look alike.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._ids import canonical_ids, hash_ids

__all__ = ["ChunkedFrame", "ChunkedIndex", "label_hashes"]


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
class _Chunk:
    """Labels and their hashes; the hash index is built (and cached) on first use."""

    labels: npt.NDArray[Any]
    hashes: npt.NDArray[np.uint64]
    _lookup: pd.Index[Any] | None = attrs.field(default=None, init=False, repr=False)

    def __len__(self) -> int:
        return self.labels.size

    @property
    def lookup(self) -> pd.Index[Any]:
        """Hash index, or the labels themselves if two labels share a hash (rare)."""
        cached = self._lookup
        if cached is None:
            by_hash = pd.Index(self.hashes)
            cached = by_hash if by_hash.is_unique else pd.Index(self.labels, dtype=object)
            object.__setattr__(self, "_lookup", cached)
        return cached

    def find(
        self, labels: npt.NDArray[Any], hashes: npt.NDArray[np.uint64]
    ) -> npt.NDArray[np.intp]:
        lookup = self.lookup
        if lookup.dtype == object:
            return lookup.get_indexer(pd.Index(labels, dtype=object))
        found = lookup.get_indexer(pd.Index(hashes))
        hit = found >= 0
        same = self.labels[found[hit]] == labels[hit]
        found[np.flatnonzero(hit)[~np.asarray(same, dtype=bool)]] = -1
        return found


def _join(a: _Chunk, b: _Chunk) -> _Chunk:
    return _Chunk(np.concatenate([a.labels, b.labels]), np.concatenate([a.hashes, b.hashes]))


@attrs.frozen(eq=False)
class ChunkedIndex:
    """Unique labels in insertion order, split into immutable chunks."""

    chunks: tuple[_Chunk, ...] = ()

    def __len__(self) -> int:
        return sum(len(c) for c in self.chunks)

    def add(
        self,
        labels: pd.Index[Any] | npt.NDArray[Any],
        hashes: npt.NDArray[np.uint64] | None = None,
    ) -> ChunkedIndex:
        """Return a new collection with ``labels`` (not already present) appended.

        ``hashes`` are :func:`label_hashes` of the labels, when already computed.
        """
        values = _array(labels)
        if values.size == 0:
            return self
        chunk = _Chunk(values, _hashes(values) if hashes is None else hashes)
        return ChunkedIndex(_merge_tail([*self.chunks, chunk], len, _join))

    def warmed(self) -> ChunkedIndex:
        """Return this collection with every chunk's hash index built (and cached).

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
            only: npt.NDArray[Any] = self.chunks[0].labels[positions]
            return only
        out = np.empty(positions.size, dtype=object)
        start = 0
        for chunk in self.chunks:
            inside = (positions >= start) & (positions < start + len(chunk))
            out[inside] = chunk.labels[positions[inside] - start]
            start += len(chunk)
        return out

    def to_index(self, name: Any = None) -> pd.Index[Any]:
        """All labels as one index (the labels' own dtype where pandas infers one)."""
        if not self.chunks:
            return pd.Index([], name=name)
        joined: pd.Index[Any] = pd.Index(np.concatenate([c.labels for c in self.chunks]), name=name)
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
