"""Serialisation helpers shared by the value classes (private).

Ground floor. A :class:`TypeRegistry` is the one way a field that holds one of
several attrs classes (score bins, normalisers) is written to and read from a
JSON-safe dict tagged with its ``kind``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from crmscore._validation import OneOf
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["TypeRegistry"]

T = TypeVar("T")


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
    crmscore.errors.InvalidParameterError: The 'kind' parameter of bins must be one of
    {'half'}. Got 'twice' instead.
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

    def from_dict(self, data: Mapping[str, Any]) -> T:
        """Inverse of :meth:`to_dict`; an unknown ``kind`` is an InvalidParameterError."""
        fields = dict(data)
        kind = fields.pop("kind", None)
        if not isinstance(kind, str) or kind not in self.types:
            raise InvalidParameterError.for_value(
                name="kind", owner=self.owner, allowed=str(OneOf(tuple(self.types))), got=kind
            )
        return self.types[kind](**fields)
