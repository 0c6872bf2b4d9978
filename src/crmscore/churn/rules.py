"""Rules: conditions over fired signals that set a warning level.

A condition is a small tree of frozen values, built in Python, never parsed from a
string: :class:`Fired` (one signal), :class:`Group` (any signal of a group),
:class:`AllOf`, :class:`AnyOf`, :class:`Not` and :class:`AtLeast` (a count). The
operators ``&``, ``|`` and ``~`` build :class:`AllOf`, :class:`AnyOf` and
:class:`Not`. A :class:`Rule` names a condition and the level it sets; a
customer's level is the highest level among the rules that hold, and the first
such rule (in rule order) is reported as the one that set it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from crmscore._serialise import reads
from crmscore._validation import integer_at_least
from crmscore.churn.signals import SIGNAL_GROUPS, identifier, instance_of, one_of
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "CORROBORATION_RULES",
    "DEFAULT_RULES",
    "LEVELS",
    "AllOf",
    "AnyOf",
    "AtLeast",
    "Condition",
    "Fired",
    "Group",
    "Level",
    "Not",
    "Rule",
    "condition_from_dict",
]

Level: TypeAlias = Literal["blue", "yellow", "red"]

#: Warning levels from lowest to highest; "none" is the absence of a warning.
LEVELS: tuple[str, ...] = ("none", "blue", "yellow", "red")

BoolArray: TypeAlias = npt.NDArray[np.bool_]


class Condition:
    """Base class of the rule conditions."""

    __slots__ = ()

    op: ClassVar[str]

    def __and__(self, other: Condition) -> AllOf:
        return AllOf(of=(self, other))

    def __or__(self, other: Condition) -> AnyOf:
        return AnyOf(of=(self, other))

    def __invert__(self) -> Not:
        return Not(of=self)

    def holds(
        self, fired: Mapping[str, BoolArray], groups: Mapping[str, Sequence[str]], n: int
    ) -> BoolArray:
        """Where the condition holds, given each signal's fired array."""
        raise NotImplementedError

    def count(
        self, fired: Mapping[str, BoolArray], groups: Mapping[str, Sequence[str]], n: int
    ) -> npt.NDArray[np.int64]:
        """How many items this term contributes to an :class:`AtLeast` count."""
        return self.holds(fired, groups, n).astype(np.int64)

    def signal_names(self) -> set[str]:
        """Return the signals the condition refers to by name."""
        return set()

    def group_names(self) -> set[str]:
        """Return the groups the condition refers to."""
        return set()

    @property
    def is_monotone(self) -> bool:
        """True when firing one more signal can never make the condition fail."""
        return True

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (``op`` names the class)."""
        raise NotImplementedError

    @classmethod
    @reads(optional=None)
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`to_dict` (see :func:`condition_from_dict`), checked to be a ``cls``.

        Raises
        ------
        InvalidParameterError
            As :func:`condition_from_dict`, or ``data`` describes another condition.

        Examples
        --------
        >>> Fired.from_dict({"op": "fired", "name": "spend_drop"})
        Fired(name='spend_drop')
        """
        condition = condition_from_dict(data)
        if not isinstance(condition, cls):
            raise InvalidParameterError.for_value(
                name="op",
                owner=f"{cls.__name__}.from_dict",
                allowed=f"a {cls.__name__} (or a subclass)",
                got=data.get("op"),
            )
        return condition


def _to_conditions(values: Sequence[Condition]) -> tuple[Condition, ...]:
    return tuple(values)


def _conditions(
    instance: object, attribute: attrs.Attribute[tuple[Condition, ...]], value: object
) -> None:
    items = value if isinstance(value, tuple) else ()
    if not items or not all(isinstance(c, Condition) for c in items):
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=type(instance).__name__,
            allowed="a non-empty sequence of conditions",
            got=value,
        )


@attrs.frozen(kw_only=True)
class Fired(Condition):
    """The named signal fired.

    Examples
    --------
    >>> Fired(name="interaction_stop") & ~Fired(name="cart_abandonment")
    AllOf(of=(Fired(name='interaction_stop'), Not(of=Fired(name='cart_abandonment'))))
    """

    op: ClassVar[str] = "fired"

    name: str = attrs.field(validator=identifier)
    """Name of the signal."""

    def holds(
        self,
        fired: Mapping[str, BoolArray],
        groups: Mapping[str, Sequence[str]],  # noqa: ARG002
        n: int,  # noqa: ARG002
    ) -> BoolArray:
        """Where the signal fired."""
        return fired[self.name]

    def signal_names(self) -> set[str]:
        """Return the signals the condition refers to by name."""
        return {self.name}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {"op": self.op, "name": self.name}


@attrs.frozen(kw_only=True)
class Group(Condition):
    """Any signal of a group fired; inside :class:`AtLeast`, each fired member counts.

    Examples
    --------
    "Any two behaviour signals":

    >>> AtLeast(n=2, of=(Group(name="behaviour"),))
    AtLeast(of=(Group(name='behaviour'),), n=2)
    """

    op: ClassVar[str] = "group"

    name: str = attrs.field(validator=one_of(SIGNAL_GROUPS))
    """The group: ``behaviour``, ``emotion``, ``value`` or ``model``."""

    def count(
        self, fired: Mapping[str, BoolArray], groups: Mapping[str, Sequence[str]], n: int
    ) -> npt.NDArray[np.int64]:
        """Count the group's signals that fired."""
        total = np.zeros(n, dtype=np.int64)
        for member in groups.get(self.name, ()):
            total += fired[member]
        return total

    def holds(
        self, fired: Mapping[str, BoolArray], groups: Mapping[str, Sequence[str]], n: int
    ) -> BoolArray:
        """Where any signal of the group fired."""
        return self.count(fired, groups, n) > 0

    def group_names(self) -> set[str]:
        """Return the groups the condition refers to."""
        return {self.name}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {"op": self.op, "name": self.name}


@attrs.frozen(kw_only=True)
class _Compound(Condition):
    of: tuple[Condition, ...] = attrs.field(converter=_to_conditions, validator=_conditions)
    """The conditions combined."""

    def signal_names(self) -> set[str]:
        """Return the signals the condition refers to by name."""
        return set().union(*(c.signal_names() for c in self.of))

    def group_names(self) -> set[str]:
        """Return the groups the condition refers to."""
        return set().union(*(c.group_names() for c in self.of))

    @property
    def is_monotone(self) -> bool:
        """True when firing one more signal can never make the condition fail."""
        return all(c.is_monotone for c in self.of)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {"op": self.op, "of": [c.to_dict() for c in self.of]}


@attrs.frozen(kw_only=True)
class AllOf(_Compound):
    """Every condition holds (``a & b``)."""

    op: ClassVar[str] = "all_of"

    def holds(
        self, fired: Mapping[str, BoolArray], groups: Mapping[str, Sequence[str]], n: int
    ) -> BoolArray:
        """Where every condition holds."""
        result = np.ones(n, dtype=bool)
        for condition in self.of:
            result &= condition.holds(fired, groups, n)
        return result


@attrs.frozen(kw_only=True)
class AnyOf(_Compound):
    """At least one condition holds (``a | b``)."""

    op: ClassVar[str] = "any_of"

    def holds(
        self, fired: Mapping[str, BoolArray], groups: Mapping[str, Sequence[str]], n: int
    ) -> BoolArray:
        """Where any condition holds."""
        result = np.zeros(n, dtype=bool)
        for condition in self.of:
            result |= condition.holds(fired, groups, n)
        return result


_positive = integer_at_least(1)


@attrs.frozen(kw_only=True)
class AtLeast(_Compound):
    """At least ``n`` of the terms hold; a :class:`Group` term counts each fired member.

    Examples
    --------
    >>> AtLeast(n=2, of=(Fired(name="spend_drop"), Group(name="emotion"))).n
    2
    """

    op: ClassVar[str] = "at_least"

    n: int = attrs.field(validator=_positive)
    """How many terms must hold."""

    def holds(
        self, fired: Mapping[str, BoolArray], groups: Mapping[str, Sequence[str]], n: int
    ) -> BoolArray:
        """Where at least ``n`` terms hold."""
        total = np.zeros(n, dtype=np.int64)
        for condition in self.of:
            total += condition.count(fired, groups, n)
        return total >= self.n

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {**super().to_dict(), "n": self.n}


@attrs.frozen(kw_only=True)
class Not(Condition):
    """The condition does not hold (``~a``); rules using it may not be monotone."""

    op: ClassVar[str] = "not"

    of: Condition = attrs.field(validator=instance_of(Condition, "a condition"))
    """The negated condition."""

    def holds(
        self, fired: Mapping[str, BoolArray], groups: Mapping[str, Sequence[str]], n: int
    ) -> BoolArray:
        """Where the condition does not hold."""
        return ~self.of.holds(fired, groups, n)

    def signal_names(self) -> set[str]:
        """Return the signals the condition refers to by name."""
        return self.of.signal_names()

    def group_names(self) -> set[str]:
        """Return the groups the condition refers to."""
        return self.of.group_names()

    @property
    def is_monotone(self) -> bool:
        """A negation is never guaranteed monotone."""
        return False

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {"op": self.op, "of": self.of.to_dict()}


@reads("op", optional=None, method=False)
def condition_from_dict(data: Mapping[str, Any]) -> Condition:
    """Rebuild a condition from its :meth:`Condition.to_dict`.

    Raises
    ------
    InvalidParameterError
        ``data`` is not a mapping, has an unknown ``op``, or lacks a key its ``op``
        needs (``name``; ``of``; ``n``) or has one of the wrong type.

    Examples
    --------
    >>> rule = AtLeast(n=2, of=(Group(name="behaviour"), Fired(name="spend_drop")))
    >>> condition_from_dict(rule.to_dict()) == rule
    True
    """
    owner = "condition_from_dict"
    if not isinstance(data, Mapping):
        raise InvalidParameterError.for_value(
            name="data", owner=owner, allowed="a mapping", got=type(data).__name__
        )
    op = data.get("op")
    if op in ("fired", "group"):
        return (Fired if op == "fired" else Group)(name=_key(data, "name", op))
    if op in ("all_of", "any_of", "at_least"):
        terms = _key(data, "of", op)
        if isinstance(terms, (str, Mapping)) or not isinstance(terms, (list, tuple)):
            raise InvalidParameterError.for_value(
                name="of", owner=owner, allowed="a list of conditions", got=terms
            )
        of = [condition_from_dict(c) for c in terms]
        if op == "at_least":
            return AtLeast(n=_key(data, "n", op), of=of)
        return (AllOf if op == "all_of" else AnyOf)(of=of)
    if op == "not":
        return Not(of=condition_from_dict(_key(data, "of", op)))
    raise InvalidParameterError.for_value(
        name="op",
        owner="condition_from_dict",
        allowed="one of {'fired', 'group', 'all_of', 'any_of', 'at_least', 'not'}",
        got=op,
    )


def _key(data: Mapping[str, Any], key: str, op: object) -> Any:
    if key not in data:
        raise InvalidParameterError(
            f"The {key!r} parameter of condition_from_dict is required for op {op!r}; "
            f"got only {sorted(map(str, data))}."
        )
    return data[key]


@attrs.frozen(kw_only=True)
class Rule:
    """A named condition and the warning level it sets.

    Examples
    --------
    >>> Rule(name="silent", level="yellow",
    ...      when=Fired(name="interaction_stop") & Fired(name="review_drop")).level
    'yellow'
    """

    name: str = attrs.field(validator=identifier)
    """Name reported as the rule that set a customer's level."""

    level: Level = attrs.field(validator=one_of(LEVELS[1:]))
    """The level set when the condition holds: ``blue``, ``yellow`` or ``red``."""

    when: Condition = attrs.field(validator=instance_of(Condition, "a condition"))
    """The condition."""

    description: str = attrs.field(default="", validator=instance_of(str, "a string"))
    """Why the rule exists, in words."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "name": self.name,
            "level": self.level,
            "when": self.when.to_dict(),
            "description": self.description,
        }

    @classmethod
    @reads("name", "level", "when", optional=("description",))
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        InvalidParameterError
            ``data`` is not a mapping, lacks ``name``, ``level`` or ``when``, or
            holds an invalid value.
        """
        if not isinstance(data, Mapping):
            raise InvalidParameterError.for_value(
                name="data", owner="Rule.from_dict", allowed="a mapping", got=type(data).__name__
            )
        missing = sorted({"name", "level", "when"} - set(data))
        if missing:
            raise InvalidParameterError(
                f"Rule.from_dict: the parameters {missing} are required; got only "
                f"{sorted(map(str, data))}."
            )
        return cls(
            name=data["name"],
            level=data["level"],
            when=condition_from_dict(data["when"]),
            description=data.get("description", ""),
        )


_BEHAVIOUR = Group(name="behaviour")
_EMOTION = Group(name="emotion")
_VALUE = Group(name="value")

#: Independent pieces of evidence: purchase frequency and spend are measured on the
#: same purchases and count once together; the emotion group counts each signal.
_EVIDENCE = (
    Fired(name="purchase_frequency_drop") | Fired(name="spend_drop"),
    Fired(name="interaction_stop"),
    Fired(name="review_drop"),
    Fired(name="account_anomaly"),
    Fired(name="cart_abandonment"),
    _EMOTION,
)

#: The previous default rules (kept as a preset): warnings need independent corroboration,
#: because single policy signals fire for many loyal customers. They ignore lead
#: time: on a purchase log they fire mostly on customers who stopped buying two or
#: more months ago and churn within days (see the churn guide). Use them with
#: :data:`~crmscore.churn.DEFAULT_SIGNALS`.
CORROBORATION_RULES: tuple[Rule, ...] = (
    Rule(
        name="distress_confirmed",
        level="red",
        when=_EMOTION & AtLeast(n=3, of=_EVIDENCE),
        description=(
            "Urgent: the customer voices dissatisfaction (complaints or negative reviews) "
            "and at least two further independent signals agree."
        ),
    ),
    Rule(
        name="dissatisfied",
        level="yellow",
        when=_EMOTION,
        description="Watch closely: rising complaints or repeated negative reviews.",
    ),
    Rule(
        name="disengaged_and_declining",
        level="yellow",
        when=Fired(name="interaction_stop") & _VALUE,
        description="Watch closely: no interaction for a month, and spend or carts falter.",
    ),
    Rule(
        name="three_signals",
        level="yellow",
        when=AtLeast(n=3, of=_EVIDENCE),
        description="Watch closely: three independent signals fired together.",
    ),
    Rule(
        name="two_signals",
        level="blue",
        when=AtLeast(n=2, of=_EVIDENCE),
        description="Potential risk: two independent signals fired.",
    ),
)

_LAPSE = Fired(name="purchase_lapse")

#: The default rules (see the churn guide for the measurements behind them). The
#: emotion rules of :data:`CORROBORATION_RULES` are unchanged; the absence-based
#: rules need a purchase lapse (30 to 60 days without a purchase, the signal
#: ``purchase_lapse`` of :data:`~crmscore.churn.WARNING_SIGNALS`), so that they warn
#: customers who can still churn 30 days or more ahead, not those already gone; an
#: account anomaly with one more piece of evidence warns yellow; a lapse alone and
#: an account anomaly alone warn blue.
DEFAULT_RULES: tuple[Rule, ...] = (
    CORROBORATION_RULES[0],
    CORROBORATION_RULES[1],
    Rule(
        name="disengaged_and_declining",
        level="yellow",
        when=Fired(name="interaction_stop") & _VALUE & _LAPSE,
        description=(
            "Watch closely: no interaction for a month, spend or carts falter, and no "
            "purchase for 30 to 60 days."
        ),
    ),
    Rule(
        name="three_signals",
        level="yellow",
        when=AtLeast(n=3, of=_EVIDENCE) & _LAPSE,
        description=(
            "Watch closely: three independent signals fired together, and no purchase for "
            "30 to 60 days."
        ),
    ),
    Rule(
        name="account_anomaly_corroborated",
        level="yellow",
        when=Fired(name="account_anomaly") & AtLeast(n=2, of=_EVIDENCE),
        description=(
            "Watch closely: a login from a new IP address or device, and a further "
            "independent signal."
        ),
    ),
    Rule(
        name="lapsing",
        level="blue",
        when=_LAPSE,
        description=(
            "Potential risk: no purchase for 30 to 60 days, early enough to act 30 days "
            "before the 90-day churn criterion is met."
        ),
    ),
    Rule(
        name="account_anomaly",
        level="blue",
        when=Fired(name="account_anomaly"),
        description="Potential risk: a login from a new IP address or device.",
    ),
)
