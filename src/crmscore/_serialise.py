"""Reading serialised values back, and keeping stored labels JSON-safe (private).

Every ``from_dict`` of the package goes through :func:`reads`: the data must be a
JSON object with the documented keys, and whatever goes wrong while the value is
rebuilt (a missing key, a wrong type, wrong nesting, a value the constructor
rejects) becomes one :class:`~crmscore.errors.SerializationError` whose message
names the path of the bad field, e.g. ``policy.scorecard.hierarchy.weights``.

Nested ``from_dict`` calls need no bookkeeping: an inner error carries the object
it was reading, and each enclosing reader finds that object among its own data and
prefixes its key (only when an error happens, so reading stays as fast as before).

:func:`json_labels` is the other boundary: ids that enter stored state (customer and
event ids) are turned into plain Python scalars, so ``to_dict`` never meets a
numpy scalar, and ids JSON cannot hold are refused where they enter.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from crmscore._validation import first_ids
from crmscore.errors import CrmScoreError, InvalidDataError, SerializationError

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator

    import numpy.typing as npt

__all__ = ["at", "json_labels", "reads"]

F = TypeVar("F", bound="Callable[..., Any]")

#: What a bad input can raise while a value is rebuilt from data.
_READ_ERRORS = (
    CrmScoreError,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    IndexError,
    OverflowError,
)


class _LocatedError(Exception):
    """An error inside a reader, with the path found so far and the data it was in."""

    def __init__(self, path: tuple[str | int, ...], problem: str, source: object) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem
        self.source = source


def _describe(exc: BaseException) -> tuple[tuple[str | int, ...], str]:
    """Return the field an error is about (if it says) and its message."""
    if isinstance(exc, SerializationError):
        return exc.path, exc.problem
    parameter = getattr(exc, "parameter", None)
    if isinstance(parameter, str):
        return (parameter,), str(exc)
    if (
        isinstance(exc, TypeError)
        and len(exc.args) > 1
        and isinstance(exc.args[1], attrs.Attribute)
    ):
        return (exc.args[1].name,), str(exc.args[0])  # attrs' instance_of / in_ validators
    if isinstance(exc, KeyError) and exc.args:
        return (), f"missing key {exc.args[0]!r}"
    return (), f"{type(exc).__name__}: {exc}" if not isinstance(exc, CrmScoreError) else str(exc)


def _find(container: object, target: object, depth: int = 6) -> tuple[str | int, ...] | None:
    """Path from ``container`` to the very object ``target`` (by identity), if inside."""
    if container is target:
        return ()
    if depth == 0:
        return None
    children: Any
    if isinstance(container, Mapping):
        children = container.items()
    elif isinstance(container, (list, tuple)):
        children = enumerate(container)
    else:
        return None
    for key, child in children:
        if isinstance(child, (Mapping, list, tuple)):
            found = _find(child, target, depth - 1)
            if found is not None:
                return (key, *found)
    return None


@contextlib.contextmanager
def at(*keys: str | int) -> Iterator[None]:
    """Attribute any reading error inside the block to the field at ``keys``."""
    try:
        yield
    except _LocatedError as located:
        raise _LocatedError((*keys, *located.path), located.problem, None) from located.__cause__
    except _READ_ERRORS as exc:
        path, problem = _describe(exc)
        raise _LocatedError((*keys, *path), problem, None) from exc


def _check_object(
    data: object, required: Collection[str], optional: Collection[str] | None
) -> None:
    if not isinstance(data, Mapping):
        raise _LocatedError(
            (), f"expected a JSON object (a mapping), got {type(data).__name__}", data
        )
    for key in data:
        if not isinstance(key, str):
            raise _LocatedError((), f"keys must be strings, got {key!r}", data)
    missing = [k for k in required if k not in data]
    if missing:
        raise _LocatedError((missing[0],), "missing required key", data)
    if optional is not None:
        unknown = sorted(set(data) - set(required) - set(optional))
        if unknown:
            raise _LocatedError(
                (unknown[0],),
                f"unknown key (expected {sorted(required)} and optionally {sorted(optional)})",
                data,
            )


def reads(
    *required: str, optional: Collection[str] | None = (), method: bool = True
) -> Callable[[F], F]:
    """Decorate a ``from_dict``: check the keys, and give every error the field's path.

    Parameters
    ----------
    *required : str
        Keys the data must have.
    optional : collection of str or None
        Keys it may have; ``None`` accepts any other key (the constructor decides).
    method : bool
        Whether the function takes the class first (a classmethod's function).
    """

    def decorate(function: F) -> F:
        owner_name = function.__qualname__.split(".")[0]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            data = args[1] if method else args[0]
            owner = args[0].__name__ if method else owner_name
            outermost = not _depth
            _depth.append(None)
            try:
                try:
                    _check_object(data, required, optional)
                    with at():
                        return function(*args, **kwargs)
                except _LocatedError as located:
                    path = located.path
                    if located.source is not None and located.source is not data:
                        prefix = _find(data, located.source)
                        path = (*(prefix or ()), *path)
                    if not outermost:
                        raise _LocatedError(path, located.problem, data) from located.__cause__
                    raise SerializationError(
                        owner=owner, path=path, problem=located.problem
                    ) from located.__cause__
            finally:
                _depth.pop()

        return wrapper  # type: ignore[return-value]

    return decorate


#: Nesting of readers on the call stack (the outermost turns errors into the public type).
_depth: list[None] = []


#: Object arrays of one kind of number, converted in one numpy pass.
_HOMOGENEOUS: dict[str, type[Any]] = {"integer": np.int64, "floating": np.float64, "boolean": bool}


def _plain_label(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _json_label(value: Any) -> bool:
    if isinstance(value, (str, bool, int)):
        return True
    return isinstance(value, float) and math.isfinite(value)


def json_labels(
    values: npt.NDArray[Any] | pd.Index[Any],
    *,
    column: str,
    ids: npt.NDArray[Any] | pd.Index[Any] | None = None,
) -> npt.NDArray[Any]:
    """Labels as stored state holds them: numpy arrays of plain, JSON-safe scalars.

    Numeric arrays pass unchanged (``tolist`` gives Python numbers). In an object
    array, numpy scalars become Python scalars; a label that JSON cannot hold
    (a timestamp, a tuple, bytes, an infinite float, ...) is refused with the
    column and the first offending ids (``ids``, default the labels themselves).
    """
    array = values.to_numpy() if isinstance(values, pd.Index) else np.asarray(values)
    if array.dtype.kind in "iub":
        return array
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array)
    else:
        array = array.astype(object, copy=False)
        kind = infer_dtype(array, skipna=False)
        if kind in ("string", "empty"):
            return array
        homogeneous = _HOMOGENEOUS.get(kind)
        if homogeneous is not None:  # one vectorised pass (numpy scalars included)
            with contextlib.suppress(OverflowError, TypeError, ValueError):
                typed = array.astype(homogeneous)
                if typed.dtype.kind != "f" or np.isfinite(typed).all():
                    plain: npt.NDArray[Any] = typed.astype(object)
                    return plain
        array = np.fromiter((_plain_label(v) for v in array), dtype=object, count=array.size)
        bad = np.fromiter((not _json_label(v) for v in array), dtype=bool, count=array.size)
    if bad.any():
        offending, total = first_ids(array if ids is None else np.asarray(ids), bad)
        raise InvalidDataError.for_ids(
            column=column,
            problem="has ids that are not strings, integers or finite numbers",
            ids=offending,
            n_offending=total,
            hint="Ids are stored and serialised: convert them, e.g. to strings, first.",
        )
    return array
