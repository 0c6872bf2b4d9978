"""Serialisation helpers shared by the value classes (private).

Ground floor. Two jobs:

A :class:`TypeRegistry` is the one way a field that holds one of several attrs
classes (score bins, normalisers) is written to and read from a JSON-safe dict
tagged with its ``kind``.

Every ``from_dict`` of the package (a registry's too) goes through :func:`reads`: the data must be a
JSON object with the documented keys, and whatever goes wrong while the value is
rebuilt (a missing key, a wrong type, wrong nesting, a value the constructor
rejects) becomes one :class:`~crmscore.errors.SerializationError` whose message
names the path of the bad field, e.g. ``policy.scorecard.hierarchy.weights``.

Nested ``from_dict`` calls need no bookkeeping: an inner error carries the object
it was reading, and each enclosing reader finds that object among its own data and
prefixes its key (only when an error happens, so reading stays as fast as before).

Ids are not handled here: stored ids are canonical ids, whose form is already
JSON-safe (one rule, in :mod:`crmscore._ids`; see :func:`crmscore._ids.json_ids`).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from crmscore._validation import OneOf
from crmscore.errors import (
    CrmScoreError,
    InvalidParameterError,
    SerializationError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator


__all__ = ["TypeRegistry", "at", "build", "reads"]

F = TypeVar("F", bound="Callable[..., Any]")
T = TypeVar("T")

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


_KEYWORD = re.compile(
    r"(?:missing \d+ required keyword-only argument|unexpected keyword argument):? '(\w+)'"
)


def _describe(exc: BaseException) -> tuple[tuple[str | int, ...], str]:
    """Return the field an error is about (if it says) and its message."""
    if isinstance(exc, SerializationError):
        return exc.path, exc.problem
    parameter = getattr(exc, "parameter", None)
    if isinstance(parameter, str):
        return (parameter,), str(exc)
    if (
        isinstance(exc, (TypeError, ValueError))
        and len(exc.args) > 1
        and isinstance(exc.args[1], attrs.Attribute)
    ):
        return (exc.args[1].name,), str(exc.args[0])  # attrs' instance_of / in_ validators
    if isinstance(exc, TypeError) and (match := _KEYWORD.search(str(exc))):
        unknown = "unexpected" in str(exc)
        return (match.group(1),), "unknown key" if unknown else "missing required key"
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], (str, int)):
        return (exc.args[0],), "missing required key"
    plain = isinstance(exc, (CrmScoreError, TypeError, ValueError))
    return (), str(exc) if plain else f"{type(exc).__name__}: {exc}"


def _find(container: object, target: object) -> tuple[str | int, ...] | None:
    """Path from ``container`` to the very object ``target`` (by identity), if unique.

    Values such as ``None`` or small integers are shared objects: when the target
    sits at several places, the path is unknown (``None``) rather than guessed.
    """
    found: list[tuple[str | int, ...]] = []

    def walk(node: object, path: tuple[str | int, ...], depth: int) -> None:
        if node is target:
            found.append(path)
        if depth == 0 or len(found) > 1:
            return
        children: Any
        if isinstance(node, Mapping):
            children = node.items()
        elif isinstance(node, (list, tuple)):
            children = enumerate(node)
        else:
            return
        for key, child in children:
            walk(child, (*path, key), depth - 1)

    walk(container, (), 8)
    return found[0] if len(found) == 1 else None


def _holds_objects(value: object) -> bool:
    if isinstance(value, Mapping):
        return True
    return isinstance(value, list) and any(_holds_objects(v) for v in value)


def _plain_annotation(annotation: object) -> bool:
    """Whether a field's (string) annotation names only builtins: no class of ours."""
    return isinstance(annotation, str) and not re.search(r"[A-Z]", annotation.replace("None", ""))


class _Probe:
    """Stands in for the instance when one field's validator is tried on its own."""


_MISSING = object()


def _blame(cls: Any, data: Mapping[str, Any]) -> tuple[str | int, ...]:
    """Name the first scalar field of an attrs class whose converter or validator rejects it.

    Tried only after the constructor failed without saying which field (e.g. a
    converter's ``float(None)``). A JSON object (at any depth) in a field annotated
    with builtins only (``float``, ``tuple[float, ...]``) is blamed at once; in other
    fields it is left out, as the constructor receives those rebuilt, not raw.
    """
    if not isinstance(cls, type) or not attrs.has(cls):
        return ()
    for field in attrs.fields(cls):
        name = field.alias or field.name
        raw = data.get(name, _MISSING)
        if raw is _MISSING:
            continue
        if isinstance(raw, Mapping) or _holds_objects(raw):
            if _plain_annotation(field.type):  # an object where numbers or text belong
                return (name,)
            continue
        try:
            value = field.converter(raw) if callable(field.converter) else raw
            if field.validator is not None:
                field.validator(_Probe(), field, value)
        except (CrmScoreError, TypeError, ValueError):
            return (name,)
        except Exception:
            continue
    return ()


@contextlib.contextmanager
def at(*keys: str | int) -> Iterator[None]:
    """Attribute any reading error inside the block to the field at ``keys``."""
    try:
        yield
    except _LocatedError as located:
        if located.source is not None:  # a nested reader's error: located by identity later
            raise
        raise _LocatedError((*keys, *located.path), located.problem, None) from located.__cause__
    except _READ_ERRORS as exc:
        path, problem = _describe(exc)
        raise _LocatedError((*keys, *path), problem, None) from exc


def _check_object(
    data: object, required: Collection[str], optional: Collection[str] | None, owner: str
) -> Mapping[str, Any]:
    """Return ``data`` if it is a JSON object with the required (and only known) keys."""
    if not isinstance(data, Mapping):
        raise _LocatedError(
            (),
            f"the 'data' parameter of {owner} must be a JSON object (a mapping); "
            f"got {type(data).__name__}",
            data,
        )
    for key in data:
        if not isinstance(key, str):
            raise _LocatedError((), f"keys must be strings, got {key!r}", data)
    missing = sorted(k for k in required if k not in data)
    if missing:
        raise _LocatedError(
            (missing[0],), f"missing key: the parameters {missing} are required", data
        )
    if optional is not None:
        unknown = sorted(set(data) - set(required) - set(optional))
        if unknown:
            raise _LocatedError(
                (unknown[0],),
                f"unknown key (expected {sorted(required)} and optionally {sorted(optional)})",
                data,
            )
    return data


def _reader_name(reader: object) -> str:
    """``Class.from_dict``; a registry's reader is named after what it reads."""
    if isinstance(reader, type):
        return f"{reader.__name__}.from_dict"
    return f"{getattr(reader, 'owner', type(reader).__name__)}.from_dict"


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
        Whether the function takes its owner first: a classmethod's function (the
        class), or a :class:`TypeRegistry`'s ``from_dict`` (the registry).
    """

    def decorate(function: F) -> F:
        owner_name = function.__qualname__

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            data = args[1] if method else args[0]
            owner = _reader_name(args[0]) if method else owner_name
            outermost = _depth.get() == 0
            token = _depth.set(_depth.get() + 1)
            try:
                try:
                    _check_object(data, required, optional, owner)
                    with at():
                        return function(*args, **kwargs)
                except _LocatedError as located:
                    path = located.path
                    if located.source is not None and located.source is not data:
                        prefix = _find(data, located.source)
                        path = (*(prefix or ()), *path)
                    elif not path and method and isinstance(data, Mapping):
                        path = _blame(args[0], data)
                    if not outermost:
                        raise _LocatedError(path, located.problem, data) from located.__cause__
                    raise SerializationError(
                        owner=owner, path=path, problem=located.problem
                    ) from located.__cause__
            finally:
                _depth.reset(token)

        return wrapper  # type: ignore[return-value]

    return decorate


def build(cls: type[T], data: object) -> T:
    """``cls(**data)`` for a class without ``from_dict``, inside a reader's body.

    Errors are located like a nested reader's: the enclosing ``from_dict`` finds
    ``data`` among its own and names the path.
    """
    fields = _check_object(data, (), None, cls.__name__)
    try:
        return cls(**fields)
    except _READ_ERRORS as exc:
        path, problem = _describe(exc)
        raise _LocatedError(path or _blame(cls, fields), problem, data) from exc


#: Readers active on this call stack (the outermost turns errors into the public type).
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("crmscore_readers", default=0)


def _json_safe(value: Any) -> Any:
    """Tuples become lists (JSON has no tuples); other values pass as they are."""
    return [_json_safe(v) for v in value] if isinstance(value, tuple) else value


@attrs.frozen
class TypeRegistry(Generic[T]):
    """Named attrs classes that serialise as ``{"kind": name, **fields}``.

    Examples
    --------
    >>> @attrs.frozen
    ... class Half:
    ...     edges: tuple[float, ...] = (0.5,)
    >>> registry = TypeRegistry("bins", {"half": Half})
    >>> registry.to_dict(Half())
    {'kind': 'half', 'edges': [0.5]}
    >>> registry.from_dict({"kind": "half", "edges": [0.5]}) == Half(edges=[0.5])
    True
    >>> registry.from_dict({"kind": "twice"})
    Traceback (most recent call last):
    ...
    crmscore.errors.SerializationError: bins.from_dict: malformed data at kind: The 'kind'
    parameter of bins must be one of {'half'}. Got 'twice' instead.
    >>> registry.from_dict({"kind": "half", "width": 2})
    Traceback (most recent call last):
    ...
    crmscore.errors.SerializationError: bins.from_dict: malformed data at width: unknown key
    """

    owner: str
    """What the values are called in messages (``"bins"``, ``"normaliser"``)."""

    types: Mapping[str, type[T]]
    """Each kind's name and class, in the order messages list them."""

    def kind_of(self, value: T) -> str:
        """Return the name of ``value``'s class in the registry."""
        return next(k for k, cls in self.types.items() if isinstance(value, cls))

    def to_dict(self, value: T) -> dict[str, Any]:
        """Return ``{"kind": ..., **fields}``, JSON-safe (tuples as lists)."""
        fields = attrs.asdict(value, recurse=False)  # type: ignore[arg-type]
        return {"kind": self.kind_of(value), **{k: _json_safe(v) for k, v in fields.items()}}

    @reads("kind", optional=None)
    def from_dict(self, data: Mapping[str, Any]) -> T:
        """Inverse of :meth:`to_dict`.

        Malformed data is a SerializationError, as for every ``from_dict``: an
        unknown ``kind`` is reported at ``kind``, a rejected field at that field.
        """
        fields = dict(data)
        kind = fields.pop("kind")
        if not isinstance(kind, str) or kind not in self.types:
            raise InvalidParameterError.for_value(
                name="kind", owner=self.owner, allowed=str(OneOf(tuple(self.types))), got=kind
            )
        return build(self.types[kind], fields)
