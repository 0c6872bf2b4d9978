"""Exception types raised by crmscore.

Every error crmscore raises on purpose derives from :class:`CrmScoreError`, so a
service can catch the library's errors in one clause. Errors caused by the
caller's input also derive from :class:`ValueError`, so code written against the
standard library's conventions keeps working.

The hierarchy::

    CrmScoreError
    ├── ValidationError (ValueError)
    │   ├── ColumnNotFoundError
    │   ├── InvalidDataError
    │   │   └── SerializationError (also an InvalidParameterError)
    │   └── InvalidParameterError
    │       └── InconsistentJudgmentsError
    └── ConvergenceError (RuntimeError)

Messages say what was wrong, where (column, number of customers, the first
offending ids) and how to fix it. They never contain more customer data than the
first few offending ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "ColumnNotFoundError",
    "ConvergenceError",
    "CrmScoreError",
    "InconsistentJudgmentsError",
    "InvalidDataError",
    "InvalidParameterError",
    "SerializationError",
    "ValidationError",
]

#: How many offending ids an error message lists before it says "and N more".
MAX_IDS_SHOWN = 5


def _format_ids(ids: Sequence[Any], total: int | None = None) -> str:
    """Render the first offending ids, and how many more there are."""
    total = len(ids) if total is None else total
    shown = ", ".join(repr(_plain(i)) for i in ids[:MAX_IDS_SHOWN])
    if total > MAX_IDS_SHOWN:
        shown += f" and {total - MAX_IDS_SHOWN} more"
    return f"[{shown}]"


def _plain(value: Any) -> Any:
    """Turn numpy scalars into Python scalars so reprs read naturally."""
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


class CrmScoreError(Exception):
    """Base class of every error raised by crmscore."""


class ValidationError(CrmScoreError, ValueError):
    """The caller's input (data or parameters) breaks a documented contract."""


class ColumnNotFoundError(ValidationError):
    """A required column is absent from a data frame."""

    @classmethod
    def from_missing_and_available(
        cls,
        missing: Iterable[str],
        available: Iterable[Any],
        *,
        frame: str = "data",
    ) -> ColumnNotFoundError:
        """Build the error listing what is missing and what is available.

        Parameters
        ----------
        missing : iterable of str
            The required columns that were not found.
        available : iterable
            The columns the frame does have.
        frame : str, default "data"
            What the frame is called in the message (e.g. ``"transactions"``).

        Returns
        -------
        ColumnNotFoundError

        Examples
        --------
        >>> err = ColumnNotFoundError.from_missing_and_available(
        ...     ["timestamp"], ["customer_id", "amount"], frame="transactions"
        ... )
        >>> print(err)
        transactions is missing the required column(s) ['timestamp'].
        Available columns: ['amount', 'customer_id'].
        Pass the actual column names through the *_col parameters.
        """
        missing_sorted = sorted(str(m) for m in missing)
        available_sorted = sorted(str(a) for a in available)
        return cls(
            f"{frame} is missing the required column(s) {missing_sorted}. "
            f"Available columns: {available_sorted}. "
            "Pass the actual column names through the *_col parameters."
        )


class InvalidDataError(ValidationError):
    """Values in the data break the contract (nulls, wrong types, impossible values).

    Attributes
    ----------
    column : str or None
        The column holding the offending values, when there is one.
    ids : tuple
        The first offending customer ids (at most :data:`MAX_IDS_SHOWN`), or an
        empty tuple when the problem is not tied to customers.
    n_offending : int
        How many rows or customers offend in total.
    """

    column: str | None
    ids: tuple[Any, ...]
    n_offending: int

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        ids: Sequence[Any] = (),
        n_offending: int = 0,
    ) -> None:
        super().__init__(message)
        self.column = column
        self.ids = tuple(_plain(i) for i in ids[:MAX_IDS_SHOWN])
        self.n_offending = n_offending

    @classmethod
    def for_ids(
        cls,
        *,
        column: str | None,
        problem: str,
        ids: Sequence[Any],
        n_offending: int | None = None,
        unit: str = "customer(s)",
        hint: str = "",
    ) -> InvalidDataError:
        """Build an error naming the column, the problem and the first offending ids.

        Parameters
        ----------
        column : str or None
            The offending column.
        problem : str
            What is wrong, as a predicate (``"has null values"``).
        ids : sequence
            Offending customer ids (or row labels), first ones first.
        n_offending : int, optional
            Total number of offenders; defaults to ``len(ids)``.
        unit : str, default "customer(s)"
            What the ids identify.
        hint : str, optional
            How to fix it.

        Returns
        -------
        InvalidDataError

        Examples
        --------
        >>> err = InvalidDataError.for_ids(
        ...     column="amount", problem="has NaN or infinite values",
        ...     ids=["c1", "c7"], hint="Drop or impute them first.",
        ... )
        >>> print(err)
        Column 'amount' has NaN or infinite values for 2 customer(s), first ['c1', 'c7'].
        Drop or impute them first.
        >>> err.ids
        ('c1', 'c7')
        """
        total = len(ids) if n_offending is None else n_offending
        where = f"Column {column!r}" if column is not None else "The data"
        message = f"{where} {problem} for {total} {unit}, first {_format_ids(ids, total)}."
        if hint:
            message += f" {hint}"
        return cls(message, column=column, ids=ids, n_offending=total)


class InvalidParameterError(ValidationError):
    """A parameter has a value outside its documented domain."""

    @classmethod
    def for_value(cls, *, name: str, owner: str, allowed: str, got: Any) -> InvalidParameterError:
        """Build the library's standard parameter message.

        Parameters
        ----------
        name : str
            Parameter name.
        owner : str
            The function or class the parameter belongs to.
        allowed : str
            The allowed values, phrased to follow "must be".
        got : object
            The value received.

        Returns
        -------
        InvalidParameterError

        Examples
        --------
        >>> print(InvalidParameterError.for_value(
        ...     name="time_unit", owner="rfm_table",
        ...     allowed="one of {'D', 'W', 'M'}", got="days"))
        The 'time_unit' parameter of rfm_table must be one of {'D', 'W', 'M'}.
        Got 'days' instead.
        """
        error = cls(f"The {name!r} parameter of {owner} must be {allowed}. Got {got!r} instead.")
        error.parameter = name
        return error

    #: The parameter the message is about, when the error was built by :meth:`for_value`.
    parameter: str | None = None


class SerializationError(InvalidDataError, InvalidParameterError):
    """A serialised value (``from_dict`` input) is malformed.

    Raised for wrong types, missing or unknown keys, wrong nesting and values a
    constructor rejects. The message names the path of the bad field, such as
    ``policy.scorecard.hierarchy.weights``; the error that revealed the problem,
    if any, is its ``__cause__``. It is also an :class:`InvalidParameterError`, as a
    serialised configuration is a set of parameters.

    Attributes
    ----------
    owner : str
        The function called, e.g. ``"Book.from_dict"``.
    path : tuple of (str or int)
        Keys and list positions from the top of the data to the bad field (empty
        when the data as a whole is wrong).
    problem : str
        What is wrong there.

    Examples
    --------
    >>> err = SerializationError(owner="Scorecard.from_dict", path=("indicators", 2, "name"),
    ...                          problem="expected a string, got int")
    >>> print(err)
    Scorecard.from_dict: malformed data at indicators[2].name: expected a string, got int
    >>> err.path_text
    'indicators[2].name'
    """

    owner: str
    path: tuple[str | int, ...]
    problem: str

    def __init__(self, *, owner: str, path: Sequence[str | int], problem: str) -> None:
        self.owner = owner
        self.path = tuple(path)
        self.problem = problem
        where = f"at {self.path_text}" if self.path else "at the top level"
        super().__init__(f"{owner}: malformed data {where}: {problem}")

    @property
    def path_text(self) -> str:
        """The path as text: keys joined by dots, list positions in brackets."""
        text = ""
        for part in self.path:
            if isinstance(part, int):
                text += f"[{part}]"
            else:
                text += f".{part}" if text else str(part)
        return text


class InconsistentJudgmentsError(InvalidParameterError):
    """Pairwise judgments are too inconsistent (AHP consistency ratio above the limit).

    Attributes
    ----------
    consistency_ratio : float
        The consistency ratio of the judgments.
    judgments : tuple of (str, str, float, float)
        The most inconsistent judgments, worst first: ``(i, j, given, implied)``,
        where ``given`` is how much more important ``i`` was judged than ``j`` and
        ``implied`` is the ratio of their derived weights.
    """

    consistency_ratio: float
    judgments: tuple[tuple[str, str, float, float], ...]

    def __init__(
        self,
        message: str,
        *,
        consistency_ratio: float,
        judgments: Sequence[tuple[str, str, float, float]] = (),
    ) -> None:
        super().__init__(message)
        self.consistency_ratio = consistency_ratio
        self.judgments = tuple(judgments)


class ConvergenceError(CrmScoreError, RuntimeError):
    """A numerical optimisation did not converge; no result is returned."""
