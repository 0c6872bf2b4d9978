"""Input contracts shared by the scorers (private).

Every public function validates its inputs through these helpers, so that the
same mistake always produces the same message: the column, the number of
offending customers and the first offending ids.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore.errors import (
    ColumnNotFoundError,
    InvalidDataError,
    InvalidParameterError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Sequence

    import attrs

__all__ = [
    "as_float_array",
    "as_timestamp",
    "check_choice",
    "check_frame",
    "check_unique_index",
    "first_ids",
    "integer_at_least",
    "optional_integer_at_least",
    "reject_ids",
    "reject_overflow",
    "timestamp_column",
    "to_float",
]


def check_frame(obj: object, *, name: str, owner: str) -> pd.DataFrame:
    """Return ``obj`` if it is a pandas DataFrame, else raise a typed error."""
    if not isinstance(obj, pd.DataFrame):
        raise InvalidParameterError.for_value(
            name=name, owner=owner, allowed="a pandas DataFrame", got=type(obj).__name__
        )
    return obj


def check_columns(frame: pd.DataFrame, required: Iterable[str], *, frame_name: str) -> None:
    """Raise :class:`ColumnNotFoundError` listing every missing required column."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ColumnNotFoundError.from_missing_and_available(
            missing, frame.columns, frame=frame_name
        )


def check_choice(value: object, *, name: str, owner: str, choices: Collection[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise the standard message."""
    if not isinstance(value, str) or value not in choices:
        allowed = "one of {" + ", ".join(repr(c) for c in choices) + "}"
        raise InvalidParameterError.for_value(name=name, owner=owner, allowed=allowed, got=value)
    return value


def first_ids(
    ids: Sequence[Any] | pd.Index[Any] | pd.Series[Any] | npt.NDArray[Any],
    mask: npt.NDArray[np.bool_],
) -> tuple[list[Any], int]:
    """Return the first distinct ids where ``mask`` holds, and how many there are."""
    offending = pd.unique(np.asarray(ids, dtype=object)[np.asarray(mask, dtype=bool)])
    return list(offending[:5]), len(offending)


def reject_ids(
    ids: Sequence[Any] | pd.Index[Any] | pd.Series[Any] | npt.NDArray[Any],
    mask: npt.NDArray[np.bool_],
    *,
    column: str | None,
    problem: str,
    hint: str = "",
) -> None:
    """Raise :class:`InvalidDataError` naming the first ids where ``mask`` holds, if any."""
    if mask.any():
        offending, total = first_ids(ids, mask)
        raise InvalidDataError.for_ids(
            column=column, problem=problem, ids=offending, n_offending=total, hint=hint
        )


def reject_overflow(
    overflowed: npt.NDArray[np.bool_],
    ids: Sequence[Any] | pd.Index[Any] | pd.Series[Any] | npt.NDArray[Any],
    *,
    column: str,
    what: str = "a total spend",
) -> None:
    """Refuse sums of finite values that overflowed to infinity (where ``overflowed``).

    Each value was checked finite where it entered, so an infinite sum can only be
    float overflow (beyond about 1.8e308): an error naming the column and the first
    customers, never an ``inf`` passed on. ``overflowed`` is ``np.isinf(sums)``, per
    customer or per row, aligned with ``ids``.
    """
    reject_ids(
        ids,
        overflowed,
        column=column,
        problem=f"sums to {what} beyond the float range (overflows to inf)",
        hint="Check those amounts for unit or data-entry errors (sentinel values, "
        "misplaced decimal points).",
    )


def _is_text_or_object(series: pd.Series[Any]) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series.dtype)


def _not_numbers(series: pd.Series[Any]) -> npt.NDArray[np.bool_] | None:
    """Rows of an object or text column that ``pd.to_numeric`` cannot convert.

    ``None`` for other dtypes (booleans, categories, dates): there the whole column
    is of the wrong kind, and no row is singled out.
    """
    if not _is_text_or_object(series) or pd.api.types.is_bool_dtype(series.dtype):
        return None
    try:
        converted = pd.Series(pd.to_numeric(series, errors="coerce"))
    except (TypeError, ValueError):  # e.g. a list in a cell: no row-level answer
        return None
    is_bool = np.array([isinstance(v, (bool, np.bool_)) for v in series], dtype=bool)
    bad: npt.NDArray[np.bool_] = (
        converted.isna().to_numpy(dtype=bool) | is_bool
    ) & series.notna().to_numpy(dtype=bool)
    return bad


def _not_dates(series: pd.Series[Any]) -> npt.NDArray[np.bool_] | None:
    """Rows of an object or text column that are not dates (numbers count as not dates).

    Each value is parsed on its own (``format="mixed"``), so the rows named are the
    ones no format reads; ``None`` for other dtypes.
    """
    if not _is_text_or_object(series):
        return None
    try:
        converted = pd.to_datetime(series, errors="coerce", format="mixed")
    except (TypeError, ValueError, OverflowError):
        return None
    is_number = np.array([isinstance(v, (int, float, np.number)) for v in series], dtype=bool)
    bad: npt.NDArray[np.bool_] = (
        converted.isna().to_numpy(dtype=bool) | is_number
    ) & series.notna().to_numpy(dtype=bool)
    return bad


def _reject_unconvertible(
    bad: npt.NDArray[np.bool_] | None,
    *,
    ids: Sequence[Any] | pd.Index[Any] | pd.Series[Any],
    column: str,
    problem: str,
    fix: str,
) -> None:
    """Raise naming the customers whose values would not convert, if there are any."""
    if bad is not None and bad.any():
        offending, total = first_ids(np.asarray(ids), bad)
        raise InvalidDataError.for_ids(
            column=column,
            problem=problem,
            ids=offending,
            n_offending=total,
            hint=f"Fix or drop those rows, then convert the column, e.g. with {fix}.",
        )


def as_timestamp(value: object, *, name: str, owner: str) -> pd.Timestamp:
    """Convert a date-like parameter to :class:`pandas.Timestamp`, rejecting nulls."""
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError.for_value(
            name=name, owner=owner, allowed="a date or timestamp", got=value
        ) from exc
    if pd.isna(ts):
        raise InvalidParameterError.for_value(
            name=name, owner=owner, allowed="a date or timestamp, not null", got=value
        )
    return ts


def timestamp_column(
    frame: pd.DataFrame,
    column: str,
    *,
    ids: pd.Series[Any],
    as_of: pd.Timestamp,
    frame_name: str,
) -> tuple[npt.NDArray[np.datetime64], np.datetime64]:
    """Validate a timestamp column; return wall-clock values and ``as_of`` alike.

    The column must have a ``datetime64`` dtype, naive or time-zone aware, and no
    nulls. Aware timestamps are turned into wall-clock time of their own zone
    (periods such as days are calendar days where the customer bought). A naive
    ``as_of`` is read in that zone; an aware one is converted to it.

    An object or text column is never parsed silently (a day-first string or a
    mixed-zone column would be read wrongly without a word). It is rejected; when
    some of its values are not dates at all, the error names those customers so
    they can be fixed before the ``pd.to_datetime`` the message suggests.
    """
    series = frame[column]
    if not isinstance(series.dtype, pd.DatetimeTZDtype) and not pd.api.types.is_datetime64_dtype(
        series.dtype
    ):
        fix = f"pd.to_datetime(df[{column!r}])"
        _reject_unconvertible(
            _not_dates(series),
            ids=ids,
            column=column,
            problem=f"must have a datetime64 dtype (got dtype {series.dtype}) and has values "
            "that are not dates",
            fix=fix,
        )
        raise InvalidDataError(
            f"Column {column!r} of {frame_name} must have a datetime64 dtype; got "
            f"{series.dtype}. Convert it first, e.g. with {fix}.",
            column=column,
        )
    null = series.isna().to_numpy()
    reject_ids(
        ids,
        null,
        column=column,
        problem="has null timestamps",
        hint="Drop or repair those rows first.",
    )
    tz = getattr(series.dtype, "tz", None)
    if tz is not None:
        series = series.dt.tz_localize(None)
        as_of = as_of.tz_localize(tz) if as_of.tzinfo is None else as_of.tz_convert(tz)
        as_of = as_of.tz_localize(None)
    elif as_of.tzinfo is not None:
        raise InvalidParameterError(
            f"as_of ({as_of}) is time-zone aware but column {column!r} of {frame_name} is "
            "naive. Pass a naive as_of, or localise the column."
        )
    return series.to_numpy(), as_of.to_datetime64()


def as_float_array(
    frame: pd.DataFrame,
    column: str,
    *,
    ids: Sequence[Any] | pd.Index[Any] | pd.Series[Any],
    frame_name: str,
) -> npt.NDArray[np.float64]:
    """Validate a numeric column (no nulls, finite) and return it as float64.

    An object or text column is never converted silently, even when every value
    would convert: ``"1,5"`` or a stray string says the column needs cleaning. It is
    rejected; when some values are not numbers, the error names those customers
    (booleans count as not numbers).
    """
    series = frame[column]
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        fix = f"pd.to_numeric(df[{column!r}])"
        _reject_unconvertible(
            _not_numbers(series),
            ids=ids,
            column=column,
            problem=f"must be numeric (got dtype {series.dtype}) and has values that are not "
            "numbers",
            fix=fix,
        )
        raise InvalidDataError(
            f"Column {column!r} of {frame_name} must be numeric; got dtype {series.dtype}. "
            f"Convert it first, e.g. with {fix}.",
            column=column,
        )
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    reject_ids(
        np.asarray(ids),
        bad,
        column=column,
        problem="has NaN or infinite values",
        hint="Drop or impute them first.",
    )
    return values


def check_unique_index(frame: pd.DataFrame | pd.Series[Any], *, frame_name: str) -> None:
    """Per-customer frames are indexed by a unique customer id."""
    index = frame.index
    if not index.is_unique:
        dup = index.duplicated(keep=False)
        offending, total = first_ids(index, dup)
        raise InvalidDataError.for_ids(
            column=index.name if isinstance(index.name, str) else None,
            problem=f"(the index of {frame_name}) repeats ids",
            ids=offending,
            n_offending=total,
            hint="A per-customer frame needs one row per customer.",
        )
    null = (
        index.to_frame().isna().any(axis=1).to_numpy()
        if isinstance(index, pd.MultiIndex)
        else index.isna()
    )
    if null.any():
        positions = np.flatnonzero(null)
        raise InvalidDataError(
            f"The index of {frame_name} has {positions.size} null customer id(s), first at "
            f"row positions {positions[:5].tolist()}.",
            ids=positions[:5].tolist(),
            n_offending=int(positions.size),
        )


def integer_at_least(minimum: int) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """Make an attrs validator: a plain integer (not a bool) of at least ``minimum``."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InvalidParameterError.for_value(
                name=attribute.name,
                owner=type(instance).__name__,
                allowed=f"an integer of at least {minimum}",
                got=value,
            )

    return check


def optional_integer_at_least(
    minimum: int,
) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """Make an attrs validator like :func:`integer_at_least` that also accepts ``None``."""
    inner = integer_at_least(minimum)

    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            inner(instance, attribute, value)

    return check


class _NotANumber(float):
    """NaN standing in for a value that is not a number, repr'd as that value.

    Validators reject it as they reject NaN, and their message quotes what the
    caller passed (``Got 'abc' instead``) rather than ``nan``.
    """

    original: object

    def __new__(cls, original: object) -> _NotANumber:
        self = super().__new__(cls, math.nan)
        self.original = original
        return self

    def __repr__(self) -> str:
        return repr(self.original)


def to_float(value: Any) -> float:
    """Convert to float for attrs fields; a value that is not a number becomes NaN.

    That NaN fails every finite-value validator, and its repr is the value the caller
    gave, so the message quotes it.
    """
    try:
        return float(value)
    except (TypeError, ValueError):
        return _NotANumber(value)


def _finite_at_least(*, strict: bool) -> Callable[[object, attrs.Attribute[float], float], None]:
    allowed = "a positive finite number" if strict else "a finite number >= 0"

    def validate(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
        if not (math.isfinite(value) and (value > 0 if strict else value >= 0)):
            raise InvalidParameterError.for_value(
                name=attribute.name, owner=type(instance).__name__, allowed=allowed, got=value
            )

    return validate


#: attrs validators of float fields: finite and >= 0, or finite and > 0.
non_negative_finite = _finite_at_least(strict=False)
positive_finite = _finite_at_least(strict=True)
