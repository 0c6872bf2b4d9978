"""Input contracts shared by the scorers (private).

Every public function validates its inputs through these helpers, so that the
same mistake always produces the same message: the column, the number of
offending customers and the first offending ids.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs
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

T = TypeVar("T")

__all__ = [
    "DATAFRAME",
    "FINITE",
    "NON_NEGATIVE",
    "POSITIVE",
    "TIME_UNIT",
    "Constraint",
    "InstanceOf",
    "Interval",
    "OneOf",
    "Optional",
    "as_float_array",
    "as_timestamp",
    "check_choice",
    "check_frame",
    "check_integer",
    "check_number",
    "check_param",
    "check_unique_index",
    "first_ids",
    "integer_at_least",
    "is_int",
    "no_repeat_purchase",
    "optional_integer_at_least",
    "reject_ids",
    "reject_overflow",
    "timestamp_column",
    "to_float",
    "validator",
]


def check_frame(obj: object, *, name: str, owner: str) -> pd.DataFrame:
    """Return ``obj`` if it is a pandas DataFrame, else raise a typed error."""
    checked: pd.DataFrame = check_param(obj, DATAFRAME, name=name, owner=owner)  # type: ignore[assignment]
    return checked


def check_columns(
    frame: pd.DataFrame, required: Iterable[str], *, frame_name: str, hint: str | None = None
) -> None:
    """Raise :class:`ColumnNotFoundError` listing every missing required column.

    ``hint`` replaces the default fix (pass the names through the ``*_col``
    parameters) where the function has no such parameters.
    """
    missing = [c for c in required if c not in frame.columns]
    if missing:
        if hint is None:
            raise ColumnNotFoundError.from_missing_and_available(
                missing, frame.columns, frame=frame_name
            )
        raise ColumnNotFoundError.from_missing_and_available(
            missing, frame.columns, frame=frame_name, hint=hint
        )


def check_choice(value: object, *, name: str, owner: str, choices: Collection[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise the standard message."""
    check_param(value, OneOf(tuple(choices)), name=name, owner=owner)
    return str(value)


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


def _all_finite(values: npt.NDArray[np.float64], *, allow_missing: bool) -> bool:
    """Cheap sufficient test that a column has no infinite (or, if not allowed, NaN) value.

    One reduction instead of an elementwise mask: a sum is finite only when every
    term is (a NaN or an infinity propagates); ``fmin``/``fmax`` skip NaNs and meet
    any infinity. ``False`` only means the exact (masked) check must decide: a sum
    of large finite values may overflow.
    """
    if values.size == 0:
        return True
    if allow_missing:
        return not (np.isinf(np.fmax.reduce(values)) or np.isinf(np.fmin.reduce(values)))
    with np.errstate(over="ignore", invalid="ignore"):  # (inf - inf, or an overflow)
        return bool(np.isfinite(np.add.reduce(values)))


def indicator_column(
    frame: pd.DataFrame,
    column: str,
    *,
    allow_missing: bool,
    frame_name: str,
    keep_integers: bool = False,
) -> npt.NDArray[Any]:
    """Read a numeric indicator column as float64; NaN only where the policy allows it.

    Shared by :class:`crmscore.tiering.Scorecard` and its distributed twin in
    :mod:`crmscore.scaleout`, so both reject the same values with the same message.

    ``keep_integers`` returns an integer column as it is (no float copy), for a
    min/max that is exact on integers anyway.
    """
    series = frame[column]
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        raise InvalidDataError(
            f"Indicator column {column!r} of {frame_name} must be numeric; got dtype "
            f"{series.dtype}.",
            column=column,
        )
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu":
        integers = series.to_numpy()  # never missing nor infinite
        return integers if keep_integers else integers.astype(np.float64)
    if isinstance(series.dtype, np.dtype):  # numpy floats: NaN is the only gap
        values = np.asarray(series.to_numpy(), dtype=np.float64)
    else:  # nullable / Arrow: their NA becomes NaN
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if _all_finite(values, allow_missing=allow_missing):
        return values
    bad = np.isinf(values) if allow_missing else ~np.isfinite(values)
    if bad.any():
        offending, total = first_ids(frame.index, bad)
        what = "infinite" if allow_missing else "missing (NaN) or infinite"
        hint = (
            "Repair them first."
            if allow_missing
            else "Impute them, or choose missing='median' or missing='zero' on the Scorecard."
        )
        raise InvalidDataError.for_ids(
            column=column,
            problem=f"has {what} values",
            ids=offending,
            n_offending=total,
            hint=hint,
        )
    return values


def no_repeat_purchase(*, owner: str, ids: list[Any], n_rows: int) -> InvalidDataError:
    """Build the error of a Gamma-Gamma fit on rows none of which has a repeat purchase."""
    return InvalidDataError.for_ids(
        column="frequency",
        problem=f"is 0 (no repeat purchase) in every row passed to {owner}",
        ids=ids,
        n_offending=n_rows,
        unit="row(s)",
        hint="The Gamma-Gamma model is fitted on the mean spend of repeat purchases, "
        "and there is none.",
    )


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


def is_int(value: object, *, minimum: int) -> bool:
    """Whether ``value`` is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        return False
    return int(value) >= minimum


# --------------------------------------------------------------------------------------
# Declared constraints (in the manner of scikit-learn's parameter constraints)
# --------------------------------------------------------------------------------------
#
# A constraint is declared once, where the parameter or field is, and both the check
# and the message come from it: ``validator(c)`` for an attrs field, ``check_param``
# for a function argument. Every message follows the one template of
# ``InvalidParameterError.for_value``: "The 'x' parameter of owner must be
# <constraint>. Got <value> instead."


class Constraint:
    """A set of allowed values that can describe itself after "must be"."""

    def is_satisfied_by(self, value: object) -> bool:
        """Whether ``value`` is allowed."""
        raise NotImplementedError

    def shown(self, value: object) -> object:
        """Return what the message quotes as the value received."""
        return value

    def __str__(self) -> str:
        raise NotImplementedError


def _is_number(value: object) -> bool:
    return not isinstance(value, bool | np.bool_) and isinstance(value, int | float | np.number)


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@attrs.frozen
class Interval(Constraint):
    """Numbers of a kind (``Real`` or ``Integral``) within bounds; ``None`` is unbounded.

    A ``Real`` must also be finite. Booleans are never numbers here.

    Examples
    --------
    >>> from numbers import Integral, Real
    >>> str(Interval(Real, 0, 1, closed="left"))
    'a number in [0, 1)'
    >>> str(Interval(Integral, 1, None, closed="left"))
    'an integer >= 1'
    >>> Interval(Real, 0, None, closed="neither").is_satisfied_by(float("inf"))
    False
    """

    kind: type[Real] | type[Integral] | type[int]
    """``Real``; ``Integral`` (Python or numpy integers); or ``int`` (Python integers
    only, for attrs fields, which must stay JSON-safe)."""
    left: float | None
    right: float | None
    closed: Literal["left", "right", "both", "neither"] = attrs.field(kw_only=True)

    def is_satisfied_by(self, value: object) -> bool:
        if self.kind is Integral or self.kind is int:
            kinds = int if self.kind is int else (int, np.integer)
            if isinstance(value, bool | np.bool_) or not isinstance(value, kinds):
                return False
        elif not _is_number(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
            return False
        number = float(value)  # type: ignore[arg-type]
        if self.left is not None:
            left_ok = number >= self.left if self.closed in ("left", "both") else number > self.left
            if not left_ok:
                return False
        if self.right is not None:
            closed_right = self.closed in ("right", "both")
            return number <= self.right if closed_right else number < self.right
        return True

    def __str__(self) -> str:
        integral = self.kind is Integral or self.kind is int
        noun = "an integer" if integral else "a number"
        if self.left is not None and self.right is not None:
            low = "[" if self.closed in ("left", "both") else "("
            high = "]" if self.closed in ("right", "both") else ")"
            return f"{noun} in {low}{_bound(self.left)}, {_bound(self.right)}{high}"
        noun = noun if integral else "a finite number"
        if self.left is not None:
            relation = ">=" if self.closed in ("left", "both") else ">"
            return f"{noun} {relation} {_bound(self.left)}"
        if self.right is not None:
            relation = "<=" if self.closed in ("right", "both") else "<"
            return f"{noun} {relation} {_bound(self.right)}"
        return noun


def _to_options(values: Iterable[object]) -> tuple[object, ...]:
    return tuple(values)


@attrs.frozen
class OneOf(Constraint):
    """One of the given values, listed in the message in the order given.

    Examples
    --------
    >>> str(OneOf(("D", "W", "M")))
    "one of {'D', 'W', 'M'}"
    """

    options: tuple[object, ...] = attrs.field(converter=_to_options)

    def is_satisfied_by(self, value: object) -> bool:
        try:
            return any(value == option and type(value) is type(option) for option in self.options)
        except (TypeError, ValueError):  # e.g. an array compared elementwise
            return False

    def __str__(self) -> str:
        return "one of {" + ", ".join(repr(o) for o in self.options) + "}"


@attrs.frozen
class InstanceOf(Constraint):
    """An instance of a type, described in words; the message quotes the type received.

    Examples
    --------
    >>> str(InstanceOf(pd.DataFrame, "a pandas DataFrame"))
    'a pandas DataFrame'
    """

    kind: type | tuple[type, ...]
    description: str
    quote_type: bool = attrs.field(default=True, kw_only=True)
    """Quote the type of the value received (else the value itself)."""

    def is_satisfied_by(self, value: object) -> bool:
        return isinstance(value, self.kind)

    def shown(self, value: object) -> object:
        return type(value).__name__ if self.quote_type else value

    def __str__(self) -> str:
        return self.description


@attrs.frozen
class Optional(Constraint):
    """``None``, or a value the inner constraint allows.

    Examples
    --------
    >>> from numbers import Real
    >>> str(Optional(Interval(Real, 0, None, closed="left")))
    'a finite number >= 0, or None'
    """

    inner: Constraint

    def is_satisfied_by(self, value: object) -> bool:
        return value is None or self.inner.is_satisfied_by(value)

    def __str__(self) -> str:
        return f"{self.inner}, or None"


def check_param(value: T, constraint: Constraint, *, name: str, owner: str) -> T:
    """Return ``value`` if ``constraint`` allows it, else raise the one-template error.

    Examples
    --------
    >>> check_param("days", OneOf(("D", "W", "M")), name="time_unit", owner="rfm_table")
    Traceback (most recent call last):
    ...
    crmscore.errors.InvalidParameterError: The 'time_unit' parameter of rfm_table must be
    one of {'D', 'W', 'M'}. Got 'days' instead.
    """
    if not constraint.is_satisfied_by(value):
        raise InvalidParameterError.for_value(
            name=name, owner=owner, allowed=str(constraint), got=constraint.shown(value)
        )
    return value


def check_number(value: object, constraint: Interval, *, name: str, owner: str) -> float:
    """Check a number against an :class:`Interval`; return it as a float."""
    checked: Any = check_param(value, constraint, name=name, owner=owner)
    return float(checked)


def check_integer(value: object, constraint: Interval, *, name: str, owner: str) -> int:
    """Check an integer against an :class:`Interval`; return it as a Python int."""
    checked: Any = check_param(value, constraint, name=name, owner=owner)
    return int(checked)


def validator(constraint: Constraint) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """Make an attrs validator from ``constraint``: the field name and class in the message."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        check_param(value, constraint, name=attribute.name, owner=type(instance).__name__)

    return check


def integer_at_least(minimum: int) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """Make an attrs validator: a plain integer (not a bool) of at least ``minimum``."""
    return validator(Interval(int, minimum, None, closed="left"))


def optional_integer_at_least(
    minimum: int,
) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """Make an attrs validator like :func:`integer_at_least` that also accepts ``None``."""
    return validator(Optional(Interval(int, minimum, None, closed="left")))


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


#: Constraints used across the package.
FINITE = Interval(Real, None, None, closed="neither")
NON_NEGATIVE = Interval(Real, 0, None, closed="left")
POSITIVE = Interval(Real, 0, None, closed="neither")
TIME_UNIT = OneOf(("D", "W", "M"))
DATAFRAME = InstanceOf(pd.DataFrame, "a pandas DataFrame")

#: attrs validators of float fields: finite and >= 0, or finite and > 0.
non_negative_finite = validator(NON_NEGATIVE)
positive_finite = validator(POSITIVE)
