"""Input contracts of the CLV models (private): columns, values, parameters.

Every public function of :mod:`crmscore.clv` validates its table here, so the same
mistake always gives the same message: the column, how many customers, the first
offending ids.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._validation import (
    NON_NEGATIVE,
    TIME_UNIT,
    Optional,
    as_float_array,
    check_columns,
    check_frame,
    check_param,
    check_unique_index,
    first_ids,
    no_repeat_purchase,
    reject_ids,
    to_float,
    validator,
)
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

FloatArray = npt.NDArray[np.float64]
_P = ParamSpec("_P")
_R = TypeVar("_R")
_S = TypeVar("_S")

#: The units of time an RFM table can be in (see :func:`crmscore.rfm_table`).
TIME_UNITS = ("D", "W", "M")
_BGNBD_COLUMNS = ("frequency", "recency", "T")
_SPEND_COLUMNS = ("frequency", "monetary_value")


def _table_hint(columns: Sequence[str]) -> str:
    """How to make the one table the CLV functions take, from what lifetimes users have."""
    listed = ", ".join(f"{c!r}" for c in columns)
    built = ", ".join(f"{c!r}: {c}" for c in columns)
    return (
        f"Pass one DataFrame with a row per customer and the columns {listed} (an RFM"
        " table): from a transaction log, crmscore.rfm_table(transactions, as_of=...)"
        " (lifetimes' summary_data_from_transaction_data); from separate arrays, as"
        f" lifetimes takes them, pandas.DataFrame({{{built}}})."
    )


def one_table(
    *columns: str,
) -> Callable[
    [Callable[Concatenate[_S, pd.DataFrame, _P], _R]],
    Callable[Concatenate[_S, pd.DataFrame, _P], _R],
]:
    """Decorate a method taking one RFM table: a lifetimes-style call is told what to pass.

    lifetimes' fitters take the columns as separate arrays, ``fit(frequency, recency,
    T)``; Python would answer "takes 2 positional arguments but 4 were given". The
    decorated method raises :class:`InvalidParameterError` naming the table it wants
    instead, for extra positional arguments and for the columns passed by keyword.
    The signature (and so the static type check) is the method's own.
    """

    def decorate(
        method: Callable[Concatenate[_S, pd.DataFrame, _P], _R],
    ) -> Callable[Concatenate[_S, pd.DataFrame, _P], _R]:
        @functools.wraps(method)
        def checked(self: _S, /, *args: Any, **kwargs: Any) -> _R:
            # The class called (a subclass, for a method inherited from a base).
            owner = f"{type(self).__name__}.{method.__name__}"
            by_keyword = sorted(set(columns) & set(kwargs))
            if len(args) > 1 or by_keyword:
                given = f"{len(args)} positional arguments" if len(args) > 1 else ""
                if by_keyword:
                    given += (" and " if given else "") + f"the keyword(s) {by_keyword}"
                raise InvalidParameterError(
                    f"{owner} takes one table, not the columns one by one as lifetimes"
                    f" does (got {given}). {_table_hint(columns)}"
                )
            return method(self, *args, **kwargs)

        return checked

    return decorate


def frame_columns(
    table: object,
    columns: Sequence[str],
    *,
    owner: str,
    frame_name: str = "table",
    per_customer: bool = False,
    rfm_hint: bool = False,
) -> tuple[pd.DataFrame, list[FloatArray]]:
    """Check that ``table`` is a non-empty frame with finite numeric ``columns``.

    With ``per_customer`` the index must also be unique customer ids: a repeated id
    would count one customer twice in a fit, and give two answers for one customer.
    With ``rfm_hint`` (a function with no ``*_col`` parameters, that takes an RFM
    table) a missing column, or a Series or array where the table belongs, is
    answered with how to build the table.
    """
    hint = _table_hint(columns) if rfm_hint else None
    if hint is not None and isinstance(table, pd.Series | np.ndarray):
        raise InvalidParameterError(
            f"The {frame_name!r} parameter of {owner} must be a pandas DataFrame. Got"
            f" {type(table).__name__!r} instead. {hint}"
        )
    frame = check_frame(table, name=frame_name, owner=owner)
    check_columns(frame, columns, frame_name=frame_name, hint=hint)
    if len(frame) == 0:
        raise InvalidDataError(
            f"{frame_name} passed to {owner} has no rows: there is nothing to fit or score."
        )
    if per_customer:
        check_unique_index(frame, frame_name=f"the {frame_name} passed to {owner}")
    return frame, [
        as_float_array(frame, column, ids=frame.index, frame_name=frame_name) for column in columns
    ]


def reject(
    frame: pd.DataFrame, mask: npt.NDArray[np.bool_], *, column: str, problem: str, hint: str
) -> None:
    """Raise :class:`InvalidDataError` naming the first ids where ``mask`` holds."""
    reject_ids(frame.index, mask, column=column, problem=problem, hint=hint)


def check_frequency(frame: pd.DataFrame, x: FloatArray, *, column: str = "frequency") -> None:
    """Reject frequencies that are not whole numbers >= 0."""
    reject(
        frame,
        (x < 0) | (x != np.floor(x)),
        column=column,
        problem="has values that are not whole numbers >= 0",
        hint="frequency counts repeat purchase periods; build the table with rfm_table.",
    )


def check_counts(frame: pd.DataFrame, counts: FloatArray, *, column: str) -> None:
    """Reject counts of customers that are not whole numbers >= 1."""
    reject(
        frame,
        (counts < 1) | (counts != np.floor(counts)),
        column=column,
        problem="has values that are not whole numbers >= 1",
        hint="Each row of aggregated statistics counts the customers that share it.",
    )


check_time_unit = validator(Optional(TIME_UNIT))


def table_time_unit(table: pd.DataFrame) -> str | None:
    unit = table.attrs.get("time_unit")
    return unit if unit in TIME_UNITS else None


def resolve_time_unit(time_unit: object, table: pd.DataFrame, *, owner: str) -> str | None:
    """Return the ``time_unit`` argument if given (checked), else the table's attrs, or None.

    pandas drops ``attrs`` through many operations and every file format, so the
    argument is the reliable way; ``attrs`` only supplies a default.
    """
    if time_unit is None:
        return table_time_unit(table)
    return str(check_param(time_unit, Optional(TIME_UNIT), name="time_unit", owner=owner))


def rfm_arrays(
    table: object, *, owner: str, per_customer: bool = True, frame_name: str = "table"
) -> tuple[pd.DataFrame, FloatArray, FloatArray, FloatArray]:
    """Validate the BG/NBD columns of an RFM table; return the frame and x, t_x, T.

    ``per_customer=False`` is for aggregated statistics (rows with customer counts),
    whose index is not a customer id and whose equal rows legitimately add up.
    """
    frame, (x, tx, age) = frame_columns(
        table,
        _BGNBD_COLUMNS,
        owner=owner,
        frame_name=frame_name,
        per_customer=per_customer,
        rfm_hint=per_customer,
    )
    check_frequency(frame, x)
    hint = "Build the table with crmscore.rfm_table, or check how it was made."
    reject(frame, tx < 0, column="recency", problem="has negative values", hint=hint)
    reject(frame, age < 0, column="T", problem="has negative values", hint=hint)
    reject(
        frame,
        tx > age,
        column="recency",
        problem="is larger than T (last purchase after the end of observation)",
        hint=hint,
    )
    reject(
        frame,
        (x == 0) & (tx != 0),
        column="recency",
        problem="is not 0 where frequency is 0 (no repeat purchase, so no recency)",
        hint=hint,
    )
    return frame, x, tx, age


def _all_rows(frame: pd.DataFrame) -> list[Any]:
    """Return the first ids of ``frame`` (when every row offends)."""
    ids, _ = first_ids(frame.index, np.ones(len(frame), dtype=bool))
    return ids


def check_identifiable(
    frame: pd.DataFrame, x: FloatArray, *, owner: str, model: str = "BG/NBD"
) -> None:
    """Reject data without any repeat purchase: every row offends."""
    if not (x > 0).any():
        raise InvalidDataError.for_ids(
            column="frequency",
            problem=f"is 0 (no repeat purchase) in every row passed to {owner}",
            ids=_all_rows(frame),
            n_offending=len(frame),
            unit="row(s)",
            hint=f"The {model} parameters are not identified: use a longer observation "
            "period or more customers.",
        )


def check_horizon(t: object, *, owner: str) -> float:
    value = math.nan if isinstance(t, bool) else to_float(t)
    if not NON_NEGATIVE.is_satisfied_by(value):
        check_param(t, NON_NEGATIVE, name="t", owner=owner)  # raises, quoting t as given
    return value


def check_horizons(values: npt.NDArray[np.float64], *, owner: str) -> None:
    if not (np.isfinite(values).all() and (values >= 0).all()):
        raise InvalidParameterError.for_value(
            name="t", owner=owner, allowed="finite numbers >= 0", got=values.tolist()
        )


def spend_arrays(
    table: object, *, owner: str, per_customer: bool = True, frame_name: str = "table"
) -> tuple[pd.DataFrame, FloatArray, FloatArray]:
    """Validate ``frequency`` and ``monetary_value``; return the frame, x and m.

    ``monetary_value`` must be positive where ``frequency`` > 0 (a mean of repeat
    purchase amounts) and is ignored where it is 0. ``per_customer`` as in
    :func:`rfm_arrays`.
    """
    frame, (x, m) = frame_columns(
        table,
        _SPEND_COLUMNS,
        owner=owner,
        frame_name=frame_name,
        per_customer=per_customer,
        rfm_hint=per_customer,
    )
    check_frequency(frame, x)
    reject(
        frame,
        (x > 0) & (m <= 0),
        column="monetary_value",
        problem="is not positive for customers with repeat purchases",
        hint="The Gamma-Gamma model needs positive spend; drop or fix those customers.",
    )
    reject(
        frame,
        m < 0,
        column="monetary_value",
        problem="has negative values",
        hint="The Gamma-Gamma model needs positive spend; drop or fix those customers.",
    )
    return frame, x, m


def check_repeaters(frame: pd.DataFrame, x: FloatArray, *, owner: str) -> None:
    """Reject data without any repeat purchase: every row offends."""
    if not (x > 0).any():
        raise no_repeat_purchase(owner=owner, ids=_all_rows(frame), n_rows=len(frame))
