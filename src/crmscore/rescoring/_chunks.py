"""Append-friendly immutable collections for the engine's state (private).

A new state must not change the old one, yet copying a million ids or the whole
audit trail on every small batch would dominate ingestion. These collections keep
their data in immutable chunks shared between states; appending adds a chunk and
merges neighbours of similar size (as a log-structured merge tree does), so a
collection of n items holds O(log n) chunks and each item is copied O(log n)
times over its life. pandas caches each chunk's hash table, so look-ups only hash
the query.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["ChunkedFrame", "ChunkedIndex"]


def _merge_tail(chunks: list[Any], size: Any, join: Any) -> tuple[Any, ...]:
    while len(chunks) > 1 and size(chunks[-2]) <= 2 * size(chunks[-1]):
        chunks[-2:] = [join(chunks[-2], chunks[-1])]
    return tuple(chunks)


@attrs.frozen(eq=False)
class ChunkedIndex:
    """Unique labels in insertion order, split into immutable chunks."""

    chunks: tuple[pd.Index[Any], ...] = ()

    def __len__(self) -> int:
        return sum(len(c) for c in self.chunks)

    def add(self, labels: pd.Index[Any]) -> ChunkedIndex:
        """Return a new collection with ``labels`` (not already present) appended."""
        if len(labels) == 0:
            return self
        return ChunkedIndex(_merge_tail([*self.chunks, labels], len, lambda a, b: a.append(b)))

    def positions(self, labels: pd.Index[Any] | npt.NDArray[Any]) -> npt.NDArray[np.int64]:
        """Position of each label in insertion order, -1 where absent."""
        query = labels if isinstance(labels, pd.Index) else pd.Index(labels)
        result = np.full(len(query), -1, dtype=np.int64)
        offset = 0
        for chunk in self.chunks:
            found = chunk.get_indexer(query)
            hit = found >= 0
            result[hit] = found[hit] + offset
            offset += len(chunk)
        return result

    def to_index(self, name: Any = None) -> pd.Index[Any]:
        """All labels as one index."""
        if not self.chunks:
            return pd.Index([], name=name)
        joined = (
            self.chunks[0].append(list(self.chunks[1:])) if len(self.chunks) > 1 else self.chunks[0]
        )
        return joined.rename(name)

    def compact(self) -> ChunkedIndex:
        """One chunk holding everything (done at reviews)."""
        return ChunkedIndex((self.to_index(),)) if len(self.chunks) > 1 else self


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
