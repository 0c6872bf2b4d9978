"""Customer and event ids: one canonical form, one hash, one order (private).

Ground floor: every scorer, the event log and the rescoring engine read ids
through here, so all id rules live in this module.

The rule
--------
An id is an integer or a string.

- Integers are compared by mathematical value whatever their spelling: numpy
  integers of any width and signedness, Python ints (also beyond 64 bits), pandas
  nullable ``Int*``/``UInt*``, pyarrow-backed integers, categoricals of those, and
  integral floats (``1.0`` is the id 1: float id columns arise from integer columns
  with missing values). The canonical form of an integer id is an int64 when it
  fits, else a Python int.
- Strings (object, ``str``, ``string[python]``, ``string[pyarrow]``, categoricals
  of strings) are compared as strings: ``"1"`` and ``1`` are two ids.
- Anything else is rejected: bools (``True`` is not an id), non-integral or
  non-finite floats, missing ids where ids are required, other objects.
- A column may mix integer and string ids; they are distinct ids, ordered
  integers first (by value), then strings.

The hash of an id (:func:`hash_ids`) depends on the id alone, never on which other
ids share its batch.

Stored ids
----------
Ids that enter stored state (the rescoring book's customers, applied event ids and
audit trail, its attributes' index) are canonical ids as plain Python scalars
(:func:`json_ids`): an int64 array, or Python ints and ``str``. So the canonical
form is also the JSON form and ``to_dict`` never meets a numpy scalar. A saved
book's ids are read back by this same rule, so they are the ids that were stored.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import infer_dtype
from pandas.util import hash_array

from crmscore.errors import InvalidDataError

IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

_INT64 = np.iinfo(np.int64)
#: Floats at or beyond this magnitude do not fit int64 (2**63 is exact in float64).
_FLOAT_LIMIT = 2.0**63
#: Prefix of the text hashed for an integer beyond int64 (see :func:`hash_ids`).
_BIG = "\x00int:"


class Ids(NamedTuple):
    """Ids in canonical form (private)."""

    labels: npt.NDArray[Any]
    """int64 if every id is an integer that fits int64 (and none is missing), else
    object holding Python ints and str (and None where missing)."""

    text: BoolArray | None
    """Which ids are strings; None when none is."""

    missing: BoolArray | None
    """Which ids are missing; None when none is."""

    @property
    def size(self) -> int:
        return int(self.labels.size)


def canonical_ids(
    ids: pd.Series[Any] | pd.Index[Any] | npt.NDArray[Any] | list[Any],
    *,
    column: str | None,
    allow_missing: bool = False,
    unit: str = "customer id(s)",
) -> Ids:
    """Return ``ids`` in canonical form (see the module docstring for the rule).

    Raises
    ------
    InvalidDataError
        An id that is neither an integer nor a string (naming the column and the
        first offending values), or a missing id unless ``allow_missing``.
    """
    series = _as_series(ids)
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = canonical_ids(pd.Series(series.cat.categories), column=column, unit=unit)
        codes = series.cat.codes.to_numpy().astype(np.intp)
        missing = codes < 0
        values = categories.labels[np.maximum(codes, 0)] if categories.size else codes
        text = None if categories.text is None else categories.text[np.maximum(codes, 0)]
        return _finish(values, text, missing, column=column, allow_missing=allow_missing)
    if pd.api.types.is_bool_dtype(dtype):
        _reject(series, ~series.isna().to_numpy(), column=column, unit=unit)
    if pd.api.types.is_integer_dtype(dtype):
        return _integers(series, column=column, allow_missing=allow_missing)
    if pd.api.types.is_float_dtype(dtype):
        floats = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return _floats(floats, series, column=column, allow_missing=allow_missing, unit=unit)
    if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
        raise InvalidDataError(
            f"Column {column!r} holds {unit} of dtype {dtype}; an id must be an integer "
            "or a string.",
            column=column,
        )
    values = series.to_numpy(dtype=object)
    if isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and pd.api.types.is_string_dtype(dtype)
    ):
        missing = series.isna().to_numpy()
        return _finish(
            values,
            ~missing,
            missing,
            column=column,
            allow_missing=allow_missing,
            owned=plain_id_dtype(dtype),  # (pyarrow strings are read out into a new array)
        )
    return _object_ids(values, series, column=column, allow_missing=allow_missing, unit=unit)


def _object_ids(
    values: npt.NDArray[Any],
    series: pd.Series[Any],
    *,
    column: str | None,
    allow_missing: bool,
    unit: str,
) -> Ids:
    """Read an object column (fast paths for all-string and all-integer columns)."""
    kind = infer_dtype(values, skipna=False)
    if kind == "empty":
        return Ids(np.empty(0, np.int64), None, None)
    if kind == "string":
        return Ids(values, np.ones(values.size, dtype=bool), None)
    if kind == "integer":
        try:
            return Ids(values.astype(np.int64), None, None)
        except OverflowError:  # some beyond int64: Python ints throughout
            return Ids(np.array([int(v) for v in values], dtype=object), None, None)
    return _objects(values, series, column=column, allow_missing=allow_missing, unit=unit)


def _as_series(
    ids: pd.Series[Any] | pd.Index[Any] | npt.NDArray[Any] | list[Any],
) -> pd.Series[Any]:
    if isinstance(ids, pd.Series):
        return ids
    if isinstance(ids, pd.Index):
        return pd.Series(ids, copy=False)
    # fromiter: an element that is itself a list stays one (bad) element, never a new axis.
    array = ids if isinstance(ids, np.ndarray) else np.fromiter(ids, dtype=object)
    if array.dtype.kind in "US":  # numpy text: as Python str
        array = array.astype(object)
    return pd.Series(array, copy=False, dtype=array.dtype)


def _integers(series: pd.Series[Any], *, column: str | None, allow_missing: bool) -> Ids:
    missing = None if isinstance(series.dtype, np.dtype) else series.isna().to_numpy()
    if missing is not None and not missing.any():
        missing = None
    if missing is None:
        raw = series.to_numpy()
    else:
        raw = series.to_numpy(dtype=series.dtype.numpy_dtype, na_value=0)  # type: ignore[union-attr]
    if raw.dtype.kind == "u" and raw.size and raw.max() > _INT64.max:
        return _finish(
            raw.astype(object), None, missing, column=column, allow_missing=allow_missing
        )
    return _finish(
        raw.astype(np.int64, copy=False), None, missing, column=column, allow_missing=allow_missing
    )


def _floats(
    floats: npt.NDArray[np.float64],
    series: pd.Series[Any],
    *,
    column: str | None,
    allow_missing: bool,
    unit: str,
) -> Ids:
    missing = np.isnan(floats)
    with np.errstate(invalid="ignore"):
        bad = ~missing & ~((np.floor(floats) == floats) & np.isfinite(floats))
    _reject(series, bad, column=column, unit=unit)
    if missing.any():
        floats = np.where(missing, 0.0, floats)
    if floats.size and np.abs(floats).max() >= _FLOAT_LIMIT:
        values: npt.NDArray[Any] = np.array([int(v) for v in floats], dtype=object)
    else:
        values = floats.astype(np.int64)
    return _finish(values, None, missing, column=column, allow_missing=allow_missing)


def _objects(
    values: npt.NDArray[Any],
    series: pd.Series[Any],
    *,
    column: str | None,
    allow_missing: bool,
    unit: str,
) -> Ids:
    """Element by element (mixed or unusual object columns only)."""
    out = np.empty(values.size, dtype=object)
    text = np.zeros(values.size, dtype=bool)
    missing = np.zeros(values.size, dtype=bool)
    bad = np.zeros(values.size, dtype=bool)
    for i, value in enumerate(values):
        if isinstance(value, str):
            out[i], text[i] = str(value), True
        elif isinstance(value, (bool, np.bool_)):
            bad[i] = True
        elif isinstance(value, (int, np.integer)):
            out[i] = int(value)
        elif isinstance(value, (float, np.floating)):
            if math.isnan(value):
                missing[i] = True
            elif math.isfinite(value) and float(value).is_integer():
                out[i] = int(value)
            else:
                bad[i] = True
        elif value is None or value is pd.NA or value is pd.NaT:
            missing[i] = True
        else:
            bad[i] = True
    _reject(series, bad, column=column, unit=unit)
    return _finish(out, text, missing, column=column, allow_missing=allow_missing)


def _finish(
    values: npt.NDArray[Any],
    text: BoolArray | None,
    missing: BoolArray | None,
    *,
    column: str | None,
    allow_missing: bool,
    owned: bool = False,
) -> Ids:
    """Settle the storage: int64 where every id is an integer that fits, else object.

    ``owned``: ``values`` is a new object array nobody else holds (no copy needed).
    """
    if missing is not None and not missing.any():
        missing = None
    if text is not None and not text.any():
        text = None
    if missing is not None and not allow_missing:
        positions = np.flatnonzero(missing)
        raise InvalidDataError(
            f"Column {column!r} has {positions.size} null id(s), first at row positions "
            f"{positions[:5].tolist()}. Drop those rows or fill the ids.",
            column=column,
            ids=positions[:5].tolist(),
            n_offending=int(positions.size),
        )
    if text is None and missing is None:
        if values.dtype == object:
            try:
                return Ids(values.astype(np.int64), None, None)
            except OverflowError:
                return Ids(values, None, None)
        return Ids(values.astype(np.int64, copy=False), None, None)
    out = values if owned and values.dtype == object else values.astype(object)  # (a copy)
    if missing is not None:
        out[missing] = np.array(None, dtype=object)
    return Ids(out, text, missing)


def _reject(series: pd.Series[Any], bad: BoolArray, *, column: str | None, unit: str) -> None:
    if bad.any():
        offending = pd.unique(series.to_numpy(dtype=object)[bad])
        raise InvalidDataError.for_ids(
            column=column,
            problem="has ids that are not integers or strings, so not ids (an id is an "
            "integer, an integral float or a string; not a bool, a fraction, inf or "
            "another object)",
            ids=list(offending[:5]),
            n_offending=len(offending),
            unit="value(s)",
            hint=f"Fix the {unit} upstream, e.g. cast the column to int64 or to str.",
        )


def _integer_part(ids: Ids) -> BoolArray | None:
    """Which entries are integers (None: all are)."""
    if ids.text is None and ids.missing is None:
        return None
    other = np.zeros(ids.size, dtype=bool)
    for mask in (ids.text, ids.missing):
        if mask is not None:
            other |= mask
    return ~other


def hash_ids(ids: Ids | npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """64-bit hash of each canonical id, independent of the other ids.

    An int64-sized integer hashes as an int64; an integer beyond int64 as a text
    unlike any id string; a string as itself. Missing ids hash as 0. A hash may
    collide: confirm equal hashes on the ids.
    """
    if not isinstance(ids, Ids):
        ids = canonical_ids(ids, column=None, allow_missing=True)
    values = ids.labels
    if values.dtype == np.int64:
        return hash_array(values, categorize=False)
    if ids.missing is None and ids.text is not None and ids.text.all():  # (no masked copies)
        return _hash_objects(values)
    out = np.zeros(values.size, dtype=np.uint64)
    if ids.text is not None:
        out[ids.text] = _hash_objects(values[ids.text])
    integer = _integer_part(ids)
    rows = np.flatnonzero(integer) if integer is not None else np.arange(values.size)
    if rows.size:
        ints = values[rows]
        small = np.fromiter((_INT64.min <= v <= _INT64.max for v in ints), bool, ints.size)
        if small.any():
            out[rows[small]] = hash_array(ints[small].astype(np.int64), categorize=False)
        if not small.all():
            big = np.array([_BIG + str(v) for v in ints[~small]], dtype=object)
            out[rows[~small]] = hash_array(big, categorize=False)
    return out


def _hash_objects(values: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """``hash_array`` of an object array, in blocks (the same values).

    pandas encodes each string to a bytes object and keeps them all until the end;
    in blocks they are made, hashed and freed while in cache: about 40 % less time
    on millions of ids.
    """
    if values.size <= _HASH_BLOCK:
        hashed: npt.NDArray[np.uint64] = hash_array(values, categorize=False)
        return hashed
    out = np.empty(values.size, dtype=np.uint64)
    for start in range(0, values.size, _HASH_BLOCK):
        block = values[start : start + _HASH_BLOCK]
        out[start : start + block.size] = hash_array(block, categorize=False)
    return out


#: Columns shorter than this keep their string ids as Python objects (a small
#: batch's ids are read out at once, as they always were).
TEXT_IDS_MIN = 1 << 16
#: Ids hashed at a time (:meth:`TextIds.hashes`).
_HASH_BLOCK = 1 << 14


class TextIds:
    """String ids kept in a pyarrow array, read out as Python ``str`` only where used.

    Canonical string ids of a pyarrow-backed column without nulls, as positions
    into the column's (immutable) Arrow array: selecting and reordering them moves
    integers, and :meth:`objects` makes the ``str`` objects of the ids actually
    read (audit rows, skipped events, ``to_dict``). ``objects()`` of the whole is
    what :func:`canonical_ids` gives for the column, and :meth:`hashes` what
    :func:`hash_ids` gives for it, computed from the UTF-8 bytes (the text
    :func:`hash_ids` hashes) without making a ``str`` per id.
    """

    __slots__ = ("at", "source")

    def __init__(self, source: Any, at: IntArray | None = None) -> None:
        self.source = source  # a pyarrow LargeStringArray without nulls
        self.at = at  # positions into source (None: every id, in order)

    @classmethod
    def of(cls, series: pd.Series[Any]) -> TextIds | None:
        """Return the ids of a pyarrow-backed string column, or None (other dtype, nulls, short)."""
        dtype = series.dtype
        arrow = (isinstance(dtype, pd.StringDtype) and plain_id_dtype(dtype)) or (
            isinstance(dtype, pd.ArrowDtype) and pd.api.types.is_string_dtype(dtype)
        )
        if not arrow or len(series) < TEXT_IDS_MIN:
            return None
        import pyarrow as pa  # noqa: PLC0415  (present: the column is pyarrow-backed)

        array = pa.array(series.array)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if array.null_count or not (
            pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
        ):
            return None
        if not pa.types.is_large_string(array.type):
            array = array.cast(pa.large_string())
        data = array.buffers()[2]
        if array.offset or (data is not None and data.size > 2 * array.nbytes):
            array = pa.concat_arrays([array])  # (a slice: keep its own bytes, not the whole)
        return cls(array)

    @property
    def size(self) -> int:
        return len(self.source) if self.at is None else int(self.at.size)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: npt.NDArray[Any]) -> TextIds:
        """Return the ids at ``key`` (a boolean mask or positions), still unread."""
        key = np.asarray(key)
        if self.at is not None:
            return TextIds(self.source, self.at[key])
        at = np.flatnonzero(key) if key.dtype == bool else key.astype(np.int64, copy=False)
        return TextIds(self.source, at)

    def objects(self) -> npt.NDArray[Any]:
        """Return the ids as an object array of ``str``."""
        if self.at is None:
            chosen = self.source
        else:
            if self.at.size == 0:
                return np.empty(0, dtype=object)
            chosen = self.source.take(self.at)
        values: npt.NDArray[Any] = chosen.to_numpy(zero_copy_only=False)
        return values

    def extended(self, more: npt.NDArray[Any] | TextIds) -> TextIds | None:
        """Return these ids followed by ``more``, still in Arrow; None unless all are strings.

        The Arrow bytes are copied once (no ``str`` per id): joining the chunks of an
        index costs about a copy of the column, not reading every id out.
        """
        import pyarrow as pa  # noqa: PLC0415

        if isinstance(more, TextIds):
            added = more.source if more.at is None else more.source.take(more.at)
        elif more.dtype == object and infer_dtype(more, skipna=False) in ("string", "empty"):
            added = pa.array(more, type=pa.large_string())
        else:
            return None
        count = len(self.source)
        mine = np.arange(count, dtype=np.int64) if self.at is None else self.at
        return TextIds(
            pa.concat_arrays([self.source, added]),
            np.concatenate([mine, count + np.arange(len(added), dtype=np.int64)]),
        )

    def hashes(self) -> npt.NDArray[np.uint64]:
        """:func:`hash_ids` of the ids (hashed from their UTF-8 bytes)."""
        import pyarrow as pa  # noqa: PLC0415

        encoded = self.source.cast(pa.large_binary())
        hashed = np.empty(len(encoded), dtype=np.uint64)
        # pandas hashes a bytes object as its bytes, a str as its UTF-8 encoding:
        # the same hash as the str, without encoding each id again. In blocks, so
        # that each block's bytes objects are made, hashed and freed while in
        # cache (half the time of one pass over millions).
        for start in range(0, len(encoded), _HASH_BLOCK):
            block = encoded.slice(start, _HASH_BLOCK).to_numpy(zero_copy_only=False)
            hashed[start : start + block.size] = hash_array(block, categorize=False)
        return hashed if self.at is None else hashed[self.at]


def objects_of(ids: npt.NDArray[Any] | TextIds) -> npt.NDArray[Any]:
    """Ids as an array (:meth:`TextIds.objects` of text ids kept in Arrow)."""
    return ids.objects() if isinstance(ids, TextIds) else ids


def factorize_ids(ids: pd.Series[Any] | Ids, *, column: str) -> tuple[IntArray, pd.Index[Any]]:
    """Dense codes of ids, numbered in id order (integers by value, then strings).

    Sorted numbering makes the output independent of row order. Integer ids in a
    compact range (the usual case for CRM keys) are numbered by direct addressing,
    which is several times faster than hashing. The index is int64 for integer ids
    (the caller's numpy integer dtype is kept when every id fits it), object of
    Python ints if one is beyond int64, and holds strings for string ids.
    """
    if isinstance(ids, pd.Series):
        codes, index = factorize_ids(canonical_ids(ids, column=column), column=column)
        return codes, with_id_dtype(index, ids.dtype)
    values = ids.labels
    if values.dtype == np.int64:
        codes, uniques = _factorize_ints(values)
        return codes, pd.Index(uniques, name=column)
    if ids.text is None:  # Python ints, some beyond int64
        codes, uniques = pd.factorize(values, sort=True)
        return codes.astype(np.int64), pd.Index(uniques, dtype=object, name=column)
    if ids.text.all():
        codes, uniques = pd.factorize(values, sort=True)
        return codes.astype(np.int64), pd.Index(uniques, name=column)
    # Integers first (by value), then strings.
    text = ids.text
    codes = np.empty(values.size, dtype=np.int64)
    int_part = canonical_ids(values[~text], column=column)
    int_codes, int_uniques = (
        _factorize_ints(int_part.labels)
        if int_part.labels.dtype == np.int64
        else pd.factorize(int_part.labels, sort=True)
    )
    str_codes, str_uniques = pd.factorize(values[text], sort=True)
    codes[~text] = int_codes
    codes[text] = str_codes + len(int_uniques)
    uniques = np.concatenate([np.asarray(int_uniques).astype(object), np.asarray(str_uniques)])
    return codes, pd.Index(uniques, dtype=object, name=column)


def with_id_dtype(index: pd.Index[Any], dtype: Any) -> pd.Index[Any]:
    """Give an index of canonical ids the caller's column dtype, where it holds them.

    A numpy integer dtype is kept when every id fits it (``int32`` ids give an
    ``int32`` index), and a pandas string dtype (``str``, ``string[python]``,
    ``string[pyarrow]``) when every id is a string.
    """
    if index.dtype == dtype:
        return index
    if isinstance(dtype, np.dtype) and dtype.kind in "iu" and index.dtype == np.int64:
        info = np.iinfo(dtype)
        if not len(index) or (info.min <= index.min() and index.max() <= info.max):
            return index.astype(dtype)
    elif (
        pd.api.types.is_string_dtype(dtype)
        and not pd.api.types.is_object_dtype(dtype)
        and infer_dtype(index, skipna=False) in ("string", "empty")
    ):
        text: pd.Index[Any] = index.astype(dtype)
        return text
    return index


def _factorize_ints(values: IntArray) -> tuple[IntArray, npt.NDArray[np.int64]]:
    if values.size:
        low, high = values.min(), values.max()
        span = int(high) - int(low) + 1
        if span <= max(4 * values.size, 1 << 16):
            offset = (values - low).astype(np.intp, copy=False)
            present = np.zeros(span, dtype=bool)
            present[offset] = True
            if present.all():  # every id of the range occurs: its offset is its code
                return offset.astype(np.int64, copy=False), low + np.arange(span, dtype=np.int64)
            rank = np.cumsum(present, dtype=compact_int(span)) - 1
            uniques = (np.flatnonzero(present) + low).astype(np.int64)
            return rank[offset].astype(np.int64), uniques
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=np.int64)


def repeated_ids(ids: Ids, *, hashes: npt.NDArray[np.uint64] | None = None) -> BoolArray:
    """Which non-missing ids occur more than once (missing ids never repeat).

    A sort and a neighbour compare on int64 ids; other ids sort their 64-bit hashes
    (``hashes``: :func:`hash_ids` of the ids, if already computed) and confirm the
    few candidates on the ids themselves.
    """
    present = None if ids.missing is None else ~ids.missing
    exact = ids.labels.dtype == np.int64
    if exact and ids.size:
        # Compact integer ids (the usual event numbering): count by direct
        # addressing, several times faster than a sort.
        if ids.size > 1 and bool((ids.labels[1:] > ids.labels[:-1]).all()):
            return np.zeros(ids.size, dtype=bool)  # increasing ids (a numbered log)
        low, high = int(ids.labels.min()), int(ids.labels.max())
        if high - low < max(4 * ids.size, 1 << 20):
            offset = (ids.labels - low).astype(np.intp, copy=False)
            counts = np.bincount(offset, minlength=high - low + 1)
            if counts.max() <= 1:
                return np.zeros(ids.size, dtype=bool)
            repeated_rows: BoolArray = counts[offset] > 1
            return repeated_rows
    keys = ids.labels.view(np.uint64) if exact else hash_ids(ids) if hashes is None else hashes
    candidate = _same_keys(keys, present)
    if exact or not candidate.any():
        return candidate
    return _confirmed(candidate, ids.labels)


def repeated_text_ids(ids: TextIds, *, hashes: npt.NDArray[np.uint64]) -> BoolArray:
    """:func:`repeated_ids` of text ids kept in Arrow (``hashes``: their :func:`hash_ids`).

    Only the candidates (ids sharing a hash) are read out to be compared.
    """
    candidate = _same_keys(hashes, None)
    if not candidate.any():
        return candidate
    return _confirmed(candidate, ids[np.flatnonzero(candidate)].objects(), dense=True)


def _same_keys(keys: npt.NDArray[np.uint64], present: BoolArray | None) -> BoolArray:
    """Which keys (of the ``present`` entries) occur more than once."""
    pool = keys if present is None else keys[present]
    ordered = np.sort(pool)
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return np.zeros(keys.size, dtype=bool)
    candidate = np.isin(keys, np.unique(ordered[1:][same]))
    if present is not None:
        candidate &= present
    return candidate


def _confirmed(candidate: BoolArray, labels: npt.NDArray[Any], *, dense: bool = False) -> BoolArray:
    """Which candidates' labels repeat (``dense``: ``labels`` are the candidates' only)."""
    rows = np.flatnonzero(candidate)
    chosen = labels if dense else labels[rows]
    confirmed = pd.Series(chosen, dtype=object).duplicated(keep=False).to_numpy()
    repeated = np.zeros(candidate.size, dtype=bool)
    repeated[rows[confirmed]] = True
    return repeated


def json_ids(labels: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Canonical ids (:attr:`Ids.labels`) as stored state holds them: no numpy scalars.

    The canonical form already is the JSON form, an int64 array (``tolist`` gives
    Python ints) or objects that are Python ints and strings (None where missing),
    except that the fast path for all-string columns keeps numpy's ``str_``
    subclass as it comes: those become plain ``str`` here.

    Examples
    --------
    >>> ids = canonical_ids([np.uint8(1), 2.0, np.str_("a")], column="c")
    >>> [(type(v).__name__, v) for v in json_ids(ids.labels)]
    [('int', 1), ('int', 2), ('str', 'a')]
    >>> ids = canonical_ids(pd.Series([np.str_("a"), np.str_("b")], dtype=object), column="c")
    >>> [type(v).__name__ for v in ids.labels], [type(v).__name__ for v in json_ids(ids.labels)]
    (['str_', 'str_'], ['str', 'str'])
    >>> json_ids(canonical_ids(np.array([3, 4], dtype=np.int32), column="c").labels).dtype
    dtype('int64')
    """
    if labels.dtype != object or set(map(type, labels)) <= _PLAIN:  # one C-level pass
        return labels
    return np.fromiter(map(_plain_id, labels), dtype=object, count=labels.size)


def plain_id_dtype(dtype: Any) -> bool:
    """Whether the canonical ids of a column of ``dtype`` are plain already.

    Then :func:`json_ids` of them is the identity and its pass over every id can be
    skipped: integer and float columns (int64 labels, or Python ints and None), and
    pyarrow-backed strings (read out as new Python ``str``). Object and categorical
    columns may hold numpy scalars.

    Examples
    --------
    >>> plain_id_dtype(np.dtype("int32")), plain_id_dtype(pd.Int64Dtype())
    (True, True)
    >>> plain_id_dtype(np.dtype(object)), plain_id_dtype(pd.CategoricalDtype(["a"]))
    (False, False)
    """
    if isinstance(dtype, np.dtype):
        return dtype.kind in "iuf"
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage in ("pyarrow", "pyarrow_numpy")  # (the latter: pandas 2.x)
    if isinstance(dtype, pd.ArrowDtype) and pd.api.types.is_string_dtype(dtype):
        return True
    numpy_dtype = getattr(dtype, "numpy_dtype", None)  # nullable and pyarrow numbers
    return isinstance(numpy_dtype, np.dtype) and numpy_dtype.kind in "iuf"


#: Types of canonical ids in an object array, as stored.
_PLAIN: set[type[Any]] = {int, str, type(None)}


def _plain_id(value: Any) -> Any:
    return str(value) if isinstance(value, str) else value


def compact_int(limit: int) -> type[np.signedinteger[Any]]:
    """Return the narrowest signed integer type (int32 or int64) that holds ``limit``.

    Sorting and gathering int32 values is two to three times faster than int64.
    """
    return np.int32 if limit < np.iinfo(np.int32).max else np.int64
