"""The base of the churn signals: :class:`ChurnSignal`, :class:`SignalResult`, shared validators."""

from __future__ import annotations

from numbers import Real
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Self,
    TypeAlias,
)

import attrs
import numpy as np
import numpy.typing as npt

from crmscore._serialise import reads
from crmscore._validation import (
    FINITE,
    NON_NEGATIVE,
    InstanceOf,
    Interval,
    OneOf,
    Optional,
    integer_at_least,
    optional_integer_at_least,
    to_float,
    validator,
)
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from crmscore.churn._context import EventContext, FloatArray
    from crmscore.churn.signals._model import AliveModel

#: The groups of the policy's signal table, plus ``model`` for model-based signals.
SIGNAL_GROUPS: tuple[str, ...] = ("behaviour", "emotion", "value", "model")

#: Customer-initiated kinds that count as "login or interaction" by default. An
#: ``account_change`` is a login from a new IP address or device: still a login.
ACTIVITY_KINDS: tuple[str, ...] = (
    "interaction",
    "purchase",
    "review",
    "complaint",
    "cart_abandoned",
    "cart_paid",
    "account_change",
)

#: Relative tolerance of threshold comparisons on ratios, so that a drop of
#: exactly 30 % fires although 0.7 * mean is not exact in floating point.
_RTOL = 1e-9


BoolArray: TypeAlias = npt.NDArray[np.bool_]


def _readonly_bool(values: npt.ArrayLike) -> BoolArray:
    out = np.asarray(values, dtype=np.bool_).view()
    out.setflags(write=False)
    return out


def _readonly_float(values: npt.ArrayLike) -> FloatArray:
    out = np.asarray(values, dtype=np.float64).view()
    out.setflags(write=False)
    return out


def _readonly_float_or_none(values: npt.ArrayLike | None) -> FloatArray | None:
    return None if values is None else _readonly_float(values)


def _arrays_equal(left: object, right: object) -> bool:
    if left is None or right is None:
        return left is right
    return bool(np.array_equal(left, right, equal_nan=True))  # type: ignore[arg-type]


def _same_length(
    instance: SignalResult, attribute: attrs.Attribute[Any], value: FloatArray | None
) -> None:
    if value is not None and value.shape != instance.fired.shape:
        raise InvalidParameterError(
            f"SignalResult: {attribute.name} has shape {value.shape}, fired has "
            f"{instance.fired.shape}; both hold one entry per customer."
        )


@attrs.frozen(kw_only=True)
class SignalResult:
    """What one signal measured for every customer (read-only arrays in customer order).

    Returned by :meth:`ChurnSignal.compute`; custom signals build one. The arrays
    are read-only views, and results compare equal when their arrays do (NaN equal
    to NaN).

    Examples
    --------
    >>> result = SignalResult(fired=[True, False], value=[31.0, float("nan")])
    >>> result.value
    array([31., nan])
    >>> result == SignalResult(fired=[True, False], value=[31.0, float("nan")])
    True
    """

    fired: BoolArray = attrs.field(converter=_readonly_bool, eq=attrs.cmp_using(eq=_arrays_equal))
    """Boolean array: the signal fired."""

    value: FloatArray = attrs.field(
        converter=_readonly_float,
        validator=_same_length,
        eq=attrs.cmp_using(eq=_arrays_equal),
    )
    """Float array: the measured value (NaN where the customer cannot be judged)."""

    reference: FloatArray | None = attrs.field(
        default=None,
        converter=_readonly_float_or_none,
        validator=_same_length,
        eq=attrs.cmp_using(eq=_arrays_equal),
    )
    """Float array of the customer's own baseline, for signals that compare with one."""


# --------------------------------------------------------------------------------------
# Validators shared by the signal classes
# --------------------------------------------------------------------------------------


_int_at_least = integer_at_least
_optional_days = optional_integer_at_least(1)


def one_of(choices: Sequence[str]) -> Any:
    """Build a validator: the value must be one of ``choices`` (InvalidParameterError)."""
    return validator(OneOf(tuple(choices)))


def instance_of(cls: type | tuple[type, ...], allowed: str) -> Any:
    """Build a validator: the value must be a ``cls`` (InvalidParameterError)."""
    return validator(InstanceOf(cls, allowed, quote_type=False))


_fraction = validator(Interval(Real, 0, 1, closed="neither"))
_finite = validator(FINITE)
_non_negative_or_none = validator(Optional(NON_NEGATIVE))


def _optional_float(value: Any) -> float | None:
    return None if value is None else to_float(value)


def identifier(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    """Validate a name field: a Python identifier (signals and rules are named so)."""
    if not isinstance(value, str) or not value.isidentifier():
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=type(instance).__name__,
            allowed="an identifier (letters, digits, underscores)",
            got=value,
        )


def _name(default: str) -> Any:
    return attrs.field(default=default, validator=identifier)


def _to_kinds(values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        return (values,)
    try:
        return tuple(values)
    except TypeError:  # not iterable: left for the validator to reject by name
        return values  # type: ignore[return-value]


def _kinds(instance: object, attribute: attrs.Attribute[tuple[str, ...]], value: object) -> None:
    if (
        not isinstance(value, tuple)
        or not value
        or not all(isinstance(k, str) and k for k in value)
    ):
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=type(instance).__name__,
            allowed="a non-empty sequence of event kinds",
            got=value,
        )


def _history(
    first_age: FloatArray, *, start: int, span: int, minimum: int
) -> tuple[FloatArray, Any]:
    """Days of a customer's baseline ``[start, start + span)`` after joining, and enough.

    The baseline covers ages ``start`` to ``start + span - 1`` that are not older than
    the customer's first relevant event (``first_age``, -1 if none).
    """
    days = np.minimum(first_age, start + span - 1) - start + 1
    days = np.maximum(days, 0.0)
    return days, days >= minimum


# --------------------------------------------------------------------------------------
# The base class
# --------------------------------------------------------------------------------------


class ChurnSignal:
    """Base class of the churn signals.

    Subclasses are frozen attrs classes with a ``name`` field (the column prefix in
    the output and the name rules refer to) and their thresholds.
    """

    __slots__ = ()

    #: Which group of the policy table the signal belongs to.
    group: ClassVar[str]
    #: Tag of the signal type in :meth:`to_dict`.
    type_name: ClassVar[str]
    #: Whether the signal compares with a per-customer baseline (a ``_reference`` column).
    has_reference: ClassVar[bool] = False

    name: str

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        raise NotImplementedError

    def describe(self, value: float, reference: float) -> str:
        """One human-readable line for a measured value, e.g. ``no interaction for 41 days``."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (``type`` names the class)."""
        data = attrs.asdict(self, recurse=False)  # type: ignore[arg-type]
        return {"type": self.type_name, **{k: _jsonable(v) for k, v in data.items()}}

    @classmethod
    @reads("type", optional=None)
    def from_dict(cls, data: Mapping[str, Any], *, model: AliveModel | None = None) -> Self:
        """Inverse of :meth:`to_dict` (see :func:`signal_from_dict`), checked to be a ``cls``.

        Raises
        ------
        InvalidParameterError
            As :func:`signal_from_dict`, or ``data`` describes another signal type.

        Examples
        --------
        >>> from crmscore.churn.signals import InteractionStop
        >>> InteractionStop.from_dict(InteractionStop(days=45).to_dict()).days
        45
        """
        from crmscore.churn.signals._registry import signal_from_dict  # noqa: PLC0415 (cycle)

        signal = signal_from_dict(data, model=model)
        if not isinstance(signal, cls):
            raise InvalidParameterError.for_value(
                name="type",
                owner=f"{cls.__name__}.from_dict",
                allowed=f"a {cls.__name__} (or a subclass)",
                got=data.get("type"),
            )
        return signal


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
