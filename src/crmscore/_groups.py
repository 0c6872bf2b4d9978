"""Distinct rows of several numeric columns, fast (private, pure numpy).

Customers' statistics repeat a lot (whole periods, small frequencies), and every
costly computation in :mod:`crmscore.clv` runs once per distinct row or pair; the
Dask entry points compress partitions the same way.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from collections.abc import Sequence

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]

__all__ = ["compress_rows", "count_rows", "exact_parts", "group_rows", "sum_by_group"]


class _Packed(NamedTuple):
    """Rows of several columns packed into one integer key each (see :func:`_pack`)."""

    key: IntArray
    distinct: list[FloatArray]
    sizes: list[int]

    def unpack(self, keys: IntArray) -> list[FloatArray]:
        """Decode packed ``keys`` into the column values."""
        out: list[FloatArray] = []
        for distinct, size in zip(reversed(self.distinct), reversed(self.sizes), strict=True):
            out.append(distinct[keys % size])
            keys = keys // size
        return out[::-1]


def _pack(columns: list[FloatArray]) -> _Packed | None:
    """Code each column densely and pack the codes into one int64 key per row.

    Whole numbers in a modest range (the usual case) are coded by offset, without a
    sort; other values by ``np.unique``. None if the combinations overflow int64.
    """
    codes: list[IntArray] = []
    distinct: list[FloatArray] = []
    for values in columns:
        low = float(values.min())
        span = float(values.max()) - low
        if span < 1 << 22 and np.array_equal(values, np.floor(values)):
            codes.append((values - low).astype(np.int64))
            distinct.append(low + np.arange(span + 1, dtype=np.float64))
        else:
            unique, inverse = np.unique(values, return_inverse=True)
            codes.append(inverse.astype(np.int64).ravel())
            distinct.append(unique)
    sizes = [len(d) for d in distinct]
    if math.prod(sizes) >= 1 << 62:
        return None
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for code, size in zip(codes, sizes, strict=True):
        key = key * size + code
    return _Packed(key=key, distinct=distinct, sizes=sizes)


def group_rows(columns: list[FloatArray]) -> tuple[list[FloatArray], IntArray]:
    """Distinct rows of ``columns`` (in sorted order) and each row's group.

    Keys in a range up to a few times the number of rows are numbered by direct
    addressing, which needs no sort; others by ``np.unique``.
    """
    packed = _pack(columns)
    if packed is None:  # too many combinations to pack: sort the rows themselves
        rows, inverse = np.unique(np.column_stack(columns), axis=0, return_inverse=True)
        inverse = inverse.ravel().astype(np.int64)
        return [rows[:, i].copy() for i in range(rows.shape[1])], inverse
    key = packed.key
    space = math.prod(packed.sizes)
    if space <= max(4 * len(key), 1 << 20):
        present = np.zeros(space, dtype=bool)
        present[key] = True
        keys = np.flatnonzero(present)
        inverse = (np.cumsum(present) - 1)[key]
    else:
        keys, inverse = np.unique(key, return_inverse=True)
    return packed.unpack(keys), inverse.ravel().astype(np.int64)


def count_rows(columns: list[FloatArray]) -> tuple[list[FloatArray], FloatArray]:
    """Distinct rows of ``columns`` (in sorted order) and how many times each occurs.

    Cheaper than :func:`group_rows` plus a count: one sort of the packed keys, no
    inverse permutation.
    """
    packed = _pack(columns)
    if packed is None:
        rows, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
        return [rows[:, i].copy() for i in range(rows.shape[1])], counts.astype(np.float64)
    keys, counts = np.unique(packed.key, return_counts=True)
    return packed.unpack(keys), counts.astype(np.float64)


def compress_rows(
    columns: Sequence[FloatArray], weight: FloatArray | None = None
) -> tuple[list[FloatArray], FloatArray]:
    """Distinct rows of ``columns`` (sorted) and the total weight (or count) of each."""
    if weight is None:
        return count_rows(list(columns))
    distinct, inverse = group_rows(list(columns))
    totals = np.bincount(inverse, weights=weight, minlength=len(distinct[0]))
    return distinct, totals.astype(np.float64)


def sum_by_group(groups: npt.NDArray[np.integer], weights: FloatArray, n_groups: int) -> FloatArray:
    """Sum finite ``weights`` per group ``0..n_groups-1``, independent of row order bit for bit.

    ``numpy.bincount`` adds in row order, and floating-point addition is not
    associative, so a permutation of the rows could change a sum in its last bits.
    Groups of one or two values sum alike in any order (addition is commutative).
    Otherwise the values are split into levels that add exactly: at each level every
    value is rounded to a multiple of one power of two ``q``, coarse enough that no
    partial sum of a group can need more than 53 bits, and the remainders (exact,
    and at most ``q / 2``) go to the next level. Each level's sums are therefore
    exact, whatever the order; the sum is the levels' sums added in level order.
    Money amounts need two levels, so this costs a few passes over the rows instead
    of a sort.
    """
    sizes = np.bincount(groups, minlength=n_groups)
    largest = int(sizes.max()) if sizes.size else 0
    if largest <= 2:
        return np.bincount(groups, weights=weights, minlength=n_groups).astype(np.float64)
    spare = int(largest - 1).bit_length()  # 2**spare >= the largest group
    total = np.zeros(n_groups, dtype=np.float64)
    rest = np.array(weights, dtype=np.float64)  # a copy: changed in place below
    high = np.empty_like(rest)  # scratch, reused level after level
    while rest.size:
        peak = float(np.abs(rest, out=high).max())
        if peak == 0.0:
            break
        top = math.frexp(peak)[1]  # peak < 2**top
        quantum = math.ldexp(1.0, max(top - 52 + spare, -1074))
        np.divide(rest, quantum, out=high)  # exact: scaling by a power of two
        np.rint(high, out=high)
        high *= quantum
        total += np.bincount(groups, weights=high, minlength=n_groups)
        rest -= high
        left = np.flatnonzero(rest)
        if left.size < rest.size:
            groups, rest = groups[left], rest[left]
            high = high[: rest.size]
    return total


def exact_parts(
    groups: npt.NDArray[np.integer], weights: FloatArray, n_groups: int
) -> list[FloatArray]:
    """Split finite ``weights`` into parts whose sums by group are exact in any order.

    Returns arrays of the length of ``weights`` that add up to ``weights`` exactly,
    in order. At each level every value is rounded to a multiple of one power of two
    ``q``, coarse enough that no partial sum of a group can need more than 53 bits,
    and the remainders (exact, and at most ``q / 2``) go to the next level. Any
    selection of a group's rows therefore sums exactly within each part, whatever
    the order: summing the parts of the rows of a window (one ``numpy.bincount`` of
    each part) gives the same bits as :func:`sum_by_group` of those rows whenever
    both split into at most two levels (the usual case for money amounts), and a
    result independent of row order in every case. With groups of at most two
    rows, ``weights`` itself is the one part (two values sum alike in any order).
    """
    sizes = np.bincount(groups, minlength=n_groups)
    largest = int(sizes.max()) if sizes.size else 0
    if largest <= 2:
        return [np.asarray(weights, dtype=np.float64)]
    spare = int(largest - 1).bit_length()  # 2**spare >= the largest group
    parts: list[FloatArray] = []
    rest = np.array(weights, dtype=np.float64)  # a copy: changed in place below
    while rest.size:
        high = np.abs(rest)
        peak = float(high.max())
        if peak == 0.0 or not math.isfinite(peak):  # (NaN: left to propagate)
            if not parts or peak != 0.0:
                parts.append(rest)
            break
        top = math.frexp(peak)[1]  # peak < 2**top
        quantum = math.ldexp(1.0, max(top - 52 + spare, -1074))
        np.divide(rest, quantum, out=high)  # exact: scaling by a power of two
        np.rint(high, out=high)
        high *= quantum
        rest -= high
        parts.append(high)
    return parts
