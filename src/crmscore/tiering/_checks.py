"""Field validators shared by the tiering values (private)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable

    import attrs

__all__ = ["integer_at_least"]


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
