"""Checks and the last step shared by overrides, appeals and attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._ids import canonical_ids, json_ids
from crmscore._validation import check_frame, check_unique_index, reject_ids
from crmscore.errors import InvalidDataError, InvalidParameterError
from crmscore.rescoring._book import Book, RescoringResult

if TYPE_CHECKING:
    from crmscore.rescoring._core import Changes, Columns


def _check_note(reason: Any, author: Any, owner: str) -> None:
    """Reason and author of an override decision: both non-empty strings."""
    for name, value in (("reason", reason), ("author", author)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidParameterError.for_value(
                name=name, owner=owner, allowed="a non-empty string", got=value
            )


def _row_of(book: Book, customer_id: Any, owner: str) -> int:
    row = int(book.ids.positions(pd.Index([customer_id]))[0])
    if row < 0:
        raise InvalidDataError.for_ids(
            column=None, problem=f"is not in the book ({owner})", ids=[customer_id]
        )
    return row


def _label_of(book: Book, row: int) -> npt.NDArray[Any]:
    """Return the book's own (canonical, JSON-safe) id of a row, as a one-element array.

    The audit trail records the id as the book holds it, not as the caller spelled
    it (``np.int64(7)`` or ``7.0`` for customer 7).
    """
    return np.asarray(book.ids.labels_at(np.array([row])).tolist(), dtype=object)


def _finish(
    stepped: RescoringResult,
    columns: Columns,
    changes: Changes,
    notes: tuple[tuple[str, str], ...] | None = None,
) -> RescoringResult:
    made = changes.frame()
    book = attrs.evolve(
        stepped.book,
        columns=columns.freeze(),
        changes=stepped.book.changes.add(made),
        notes=stepped.book.notes if notes is None else notes,
    )
    all_changes = pd.concat([stepped.changes, made], ignore_index=True)
    return RescoringResult(book=book, changes=all_changes, skipped=stepped.skipped)


def _checked_attributes(attributes: pd.DataFrame | None, *, customer_col: str) -> pd.DataFrame:
    if attributes is None:
        return pd.DataFrame()
    check_frame(attributes, name="attributes", owner="set_attributes")
    check_unique_index(attributes, frame_name="attributes")
    for column in attributes.columns:
        series = attributes[column]
        if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(
            series.dtype
        ):
            raise InvalidDataError(
                f"Attribute column {column!r} must be numeric; got {series.dtype}.", column=column
            )
    columns: list[Any] = list(attributes.columns)
    names = [c for c in columns if not isinstance(c, str)]
    if names:
        raise InvalidParameterError.for_value(
            name="attributes",
            owner="set_attributes",
            allowed="a frame whose column names are strings",
            got=names[:5],
        )
    values = attributes.astype(np.float64)
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        first = int(np.flatnonzero(infinite.any(axis=0))[0])
        reject_ids(
            values.index,
            infinite[:, first],
            column=str(values.columns[first]),
            problem="has infinite values",
            hint="Missing values may be NaN; an infinite indicator cannot be scored.",
        )
    # Canonical ids as plain scalars (1.0 and np.uint8(1) are customer 1), in the
    # dtype pandas infers from them (as a JSON list gives back).
    ids = canonical_ids(values.index, column="attributes index", unit="customer id(s)")
    index = pd.Index(json_ids(ids.labels).tolist(), name=customer_col)
    checked = values.set_axis(index)
    check_unique_index(checked, frame_name="attributes")  # unique by the id rule too
    return checked
