"""Tier schemes (ordered labels with inclusive lower bounds) and tier rules."""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._display import html_block
from crmscore._serialise import build, reads
from crmscore._validation import (
    FINITE,
    Interval,
    OneOf,
    check_choice,
    check_columns,
    check_param,
    to_float,
    validator,
)
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["POLICY_TIERS", "TIER_TOLERANCE", "Language", "Tier", "TierRule", "TierScheme"]

Language: TypeAlias = Literal["en", "zh"]
FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]

TIER_TOLERANCE = 1e-9
"""A score this close below a bound counts as reaching it.

Floating-point noise in a weighted sum (89.99999999999999 for 90) must never move a
customer down a tier.
"""

_LANGUAGES: tuple[Language, ...] = ("en", "zh")


_finite = validator(FINITE)


@attrs.frozen(kw_only=True)
class Tier:
    """One tier: a stable key, English and Chinese labels and an inclusive lower bound."""

    key: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Stable machine name, e.g. ``"gold"``."""

    label_en: str = attrs.field(validator=attrs.validators.instance_of(str))
    """English label, e.g. ``"Gold"``."""

    label_zh: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Chinese label, e.g. ``"黄金级"``."""

    lower_bound: float = attrs.field(converter=to_float)
    """Smallest score (inclusive) in the tier (a value that is not a number reads as NaN,
    which :class:`TierScheme` rejects)."""

    def label(self, language: Language = "en") -> str:
        """Return the label in ``language``."""
        return self.label_en if language == "en" else self.label_zh


def _to_tiers(values: Sequence[Tier]) -> tuple[Tier, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class TierScheme:
    """Ordered tiers, lowest first, each from its lower bound (inclusive) to the next.

    A score gets the highest tier whose lower bound it reaches. The lowest tier
    starts at 0, bounds increase strictly and stay within 0-100. Tiers can be named
    by key or by either label wherever a method takes a tier.

    Examples
    --------
    >>> POLICY_TIERS.labels()
    ('Ordinary', 'Silver', 'Gold', 'Diamond')
    >>> POLICY_TIERS.tier_of(90.0), POLICY_TIERS.tier_of(89.99), POLICY_TIERS.tier_of(80.0)
    ('Diamond', 'Gold', 'Gold')
    >>> POLICY_TIERS.tier_of(59.5, language="zh")
    '普通级'
    >>> POLICY_TIERS.shift("Gold", -1), POLICY_TIERS.shift("gold", 5)
    ('Silver', 'diamond')
    >>> POLICY_TIERS.lower_bound("黄金级")
    80.0
    """

    tiers: tuple[Tier, ...] = attrs.field(converter=_to_tiers)
    """The tiers from lowest to highest."""

    def __attrs_post_init__(self) -> None:
        owner = "TierScheme"
        if not self.tiers or not all(isinstance(t, Tier) for t in self.tiers):
            raise InvalidParameterError.for_value(
                name="tiers", owner=owner, allowed="a non-empty sequence of Tier", got=self.tiers
            )
        for attribute in ("key", "label_en", "label_zh"):
            names = [getattr(t, attribute) for t in self.tiers]
            if len(set(names)) != len(names):
                raise InvalidParameterError(f"{owner}: tier {attribute}s repeat in {names}.")
        bounds = [t.lower_bound for t in self.tiers]
        if bounds[0] != 0.0:
            raise InvalidParameterError(
                f"{owner}: the lowest tier {self.tiers[0].key!r} must start at 0 (every score "
                f"needs a tier); got lower bound {bounds[0]}. List tiers from lowest to highest."
            )
        for lower, upper in zip(self.tiers, self.tiers[1:], strict=False):
            if not (math.isfinite(upper.lower_bound) and upper.lower_bound > lower.lower_bound):
                raise InvalidParameterError(
                    f"{owner}: tier {upper.key!r} starts at {upper.lower_bound}, not above "
                    f"{lower.key!r} at {lower.lower_bound}. Tiers must be listed from lowest "
                    "to highest with strictly increasing lower bounds (equal bounds overlap)."
                )
        if bounds[-1] > 100.0:
            raise InvalidParameterError(
                f"{owner}: tier {self.tiers[-1].key!r} starts at {bounds[-1]}, above the "
                "highest possible score 100."
            )

    def __repr__(self) -> str:
        tiers = ", ".join(
            (t.label_en if t.label_zh == t.label_en else f"{t.label_en} ({t.label_zh})")
            + f" >= {t.lower_bound:g}"
            for t in self.tiers
        )
        return f"TierScheme({tiers})"

    def _repr_html_(self) -> str:
        return html_block("TierScheme: tiers, lowest first", tables=[("", self.summary())])

    def summary(self) -> pd.DataFrame:
        """Every tier with its labels, bounds and score range, lowest first.

        Returns
        -------
        pandas.DataFrame
            Indexed by tier key: ``label_en``, ``label_zh``, ``lower_bound``
            (inclusive), ``upper_bound`` (exclusive; ``inf`` for the highest tier) and
            ``range`` (e.g. ``"80 <= score < 90"``).

        Examples
        --------
        >>> POLICY_TIERS.summary()[["label_en", "lower_bound", "range"]]
                 label_en  lower_bound              range
        tier
        ordinary Ordinary          0.0         score < 60
        silver     Silver         60.0  60 <= score < 80
        gold         Gold         80.0  80 <= score < 90
        diamond   Diamond         90.0        score >= 90
        """
        return pd.DataFrame(
            {
                "label_en": [t.label_en for t in self.tiers],
                "label_zh": [t.label_zh for t in self.tiers],
                "lower_bound": list(self.bounds),
                "upper_bound": [self.upper_bound(t.key) for t in self.tiers],
                "range": [self.describe(k) for k in range(len(self.tiers))],
            },
            index=pd.Index(self.keys, name="tier"),
        )

    @classmethod
    def from_bounds(cls, bounds: Mapping[str, float]) -> TierScheme:
        """Build a scheme from ``{label: lower_bound}``, lowest first (labels as keys too).

        Examples
        --------
        >>> TierScheme.from_bounds({"C": 0, "B": 50, "A": 75}).tier_of(50)
        'B'
        """
        return cls(
            tiers=[
                Tier(key=label, label_en=label, label_zh=label, lower_bound=bound)
                for label, bound in bounds.items()
            ]
        )

    @property
    def keys(self) -> tuple[str, ...]:
        """Tier keys, lowest first."""
        return tuple(t.key for t in self.tiers)

    @property
    def bounds(self) -> tuple[float, ...]:
        """Inclusive lower bounds, lowest first."""
        return tuple(t.lower_bound for t in self.tiers)

    def labels(self, language: Language = "en") -> tuple[str, ...]:
        """Tier labels in ``language``, lowest first."""
        return tuple(t.label(language) for t in self.tiers)

    def _find(self, tier: str) -> tuple[int, Callable[[Tier], str]]:
        for getter in (_key, _label_en, _label_zh):
            for position, candidate in enumerate(self.tiers):
                if getter(candidate) == tier:
                    return position, getter
        raise InvalidParameterError(
            f"Unknown tier {tier!r}; the scheme has keys {list(self.keys)} and labels "
            f"{list(self.labels('en'))} / {list(self.labels('zh'))}."
        )

    def index(self, tier: str) -> int:
        """Position of a tier (key or label), 0 for the lowest."""
        return self._find(tier)[0]

    def lower_bound(self, tier: str) -> float:
        """Inclusive lower bound of a tier (key or label)."""
        return self.tiers[self.index(tier)].lower_bound

    def upper_bound(self, tier: str) -> float:
        """Lower bound of the next tier up (exclusive), or ``inf`` for the highest tier."""
        position = self.index(tier)
        return math.inf if position == len(self.tiers) - 1 else self.tiers[position + 1].lower_bound

    def shift(self, tier: str, steps: int) -> str:
        """Return the tier ``steps`` up (positive) or down (negative), stopping at the ends.

        The result is named the way ``tier`` was (key, English or Chinese label).
        """
        check_param(
            steps,
            Interval(int, None, None, closed="neither"),
            name="steps",
            owner="TierScheme.shift",
        )
        position, getter = self._find(tier)
        return getter(self.tiers[min(max(position + steps, 0), len(self.tiers) - 1)])

    def codes(self, scores: FloatArray) -> IntArray:
        """Tier positions (0 = lowest) of scores; bounds are inclusive."""
        shifted = np.asarray(scores, dtype=np.float64) + TIER_TOLERANCE
        codes = np.zeros(shifted.shape, dtype=np.int64)
        for bound in self.bounds[1:]:  # a handful of tiers: one pass each beats a search
            codes += shifted >= bound
        return codes

    def tier_of(self, score: float, *, language: Language = "en") -> str:
        """Return the tier label of one score."""
        check_choice(language, name="language", owner="TierScheme.tier_of", choices=_LANGUAGES)
        check_param(score, FINITE, name="score", owner="TierScheme.tier_of")
        return self.tiers[int(self.codes(np.array([score], dtype=np.float64))[0])].label(language)

    def categorical(self, codes: IntArray, *, language: Language = "en") -> pd.Categorical[str]:
        """Ordered categorical of tier labels (lowest first) from tier positions."""
        return pd.Categorical.from_codes(
            codes, categories=pd.Index(self.labels(language)), ordered=True
        )

    def describe(self, position: int) -> str:
        """Describe the score range of a tier, e.g. ``"80 <= score < 90"``."""
        low = self.tiers[position].lower_bound
        if len(self.tiers) == 1:
            return "any score"
        if position == 0:
            return f"score < {self.tiers[1].lower_bound:g}"
        if position == len(self.tiers) - 1:
            return f"score >= {low:g}"
        return f"{low:g} <= score < {self.tiers[position + 1].lower_bound:g}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {"tiers": [attrs.asdict(t) for t in self.tiers]}

    @classmethod
    @reads("tiers")
    def from_dict(cls, data: Mapping[str, Any]) -> TierScheme:
        """Inverse of :meth:`to_dict`."""
        return cls(tiers=[build(Tier, t) for t in data["tiers"]])


def _key(tier: Tier) -> str:
    return tier.key


def _label_en(tier: Tier) -> str:
    return tier.label_en


def _label_zh(tier: Tier) -> str:
    return tier.label_zh


POLICY_TIERS = TierScheme(
    tiers=[
        Tier(key="ordinary", label_en="Ordinary", label_zh="普通级", lower_bound=0),
        Tier(key="silver", label_en="Silver", label_zh="白银级", lower_bound=60),
        Tier(key="gold", label_en="Gold", label_zh="黄金级", lower_bound=80),
        Tier(key="diamond", label_en="Diamond", label_zh="钻石级", lower_bound=90),
    ]
)
"""The customer-grading policy's tiers (客户分级管理办法), bounds inclusive.

Diamond 钻石级 >= 90, Gold 黄金级 80-89, Silver 白银级 60-79, Ordinary 普通级 < 60.
"""

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


@attrs.frozen(kw_only=True)
class TierRule:
    """A manual rule over the computed tier: a floor or a cap for customers meeting a condition.

    A **floor** lifts a customer meeting the condition to at least ``tier`` (a VIP
    retention threshold: annual revenue of 5 million or more is never below Gold);
    a **cap** holds one down to at most ``tier`` (two or more legal disputes are never
    above Silver). Rules apply in order, so a later rule can undo an earlier one; a
    missing (NaN) value never meets a condition.

    Examples
    --------
    >>> rule = TierRule(name="revenue floor", column="annual_revenue", op=">=",
    ...                 threshold=5e6, tier="gold")
    >>> rule.describe(POLICY_TIERS)
    'revenue floor: annual_revenue >= 5e+06 -> at least Gold'
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Name shown in the tier reason."""

    column: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Numeric column the condition reads (an indicator or any other column)."""

    op: Literal[">=", ">", "<=", "<"] = attrs.field(validator=validator(OneOf(_OPERATORS)))
    """Comparison of ``column`` with ``threshold``."""

    threshold: float = attrs.field(converter=to_float, validator=_finite)
    """The value compared with."""

    tier: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Tier key or label: the floor or cap."""

    kind: Literal["floor", "cap"] = attrs.field(
        default="floor", validator=validator(OneOf(("floor", "cap")))
    )
    """``"floor"`` (at least ``tier``) or ``"cap"`` (at most ``tier``)."""

    def describe(self, scheme: TierScheme, *, language: Language = "en") -> str:
        """One line saying what the rule does, used as the tier reason."""
        bound = "at least" if self.kind == "floor" else "at most"
        label = scheme.tiers[scheme.index(self.tier)].label(language)
        return f"{self.name}: {self.column} {self.op} {self.threshold:g} -> {bound} {label}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return attrs.asdict(self)

    @classmethod
    @reads("name", "column", "op", "threshold", "tier", optional=("kind",))
    def from_dict(cls, data: Mapping[str, Any]) -> TierRule:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def to_rules(values: Sequence[TierRule]) -> tuple[TierRule, ...]:
    """Convert a sequence of rules to a tuple (the ``rules`` fields' converter)."""
    return tuple(values)


def rule_values(frame: pd.DataFrame, rule: TierRule, *, frame_name: str) -> FloatArray:
    """Read the numeric values a rule reads (NaN allowed: it never meets a condition)."""
    series = frame[rule.column]
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        raise InvalidDataError(
            f"Column {rule.column!r} of {frame_name}, read by tier rule {rule.name!r}, must be "
            f"numeric; got dtype {series.dtype}.",
            column=rule.column,
        )
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def apply_rules(
    codes: IntArray,
    frame: pd.DataFrame,
    *,
    scheme: TierScheme,
    rules: Sequence[TierRule],
    frame_name: str,
) -> tuple[IntArray, IntArray]:
    """Apply rules in order to tier positions.

    Returns
    -------
    (codes, fired)
        The new tier positions, and per customer the position in ``rules`` of the
        last rule that changed the tier (-1 when none did).
    """
    check_columns(frame, [rule.column for rule in rules], frame_name=frame_name)
    codes = codes.copy()
    fired = np.full(codes.size, -1, dtype=np.int64)
    for number, rule in enumerate(rules):
        target = scheme.index(rule.tier)
        with np.errstate(invalid="ignore"):
            meets = _OPERATORS[rule.op](
                rule_values(frame, rule, frame_name=frame_name), rule.threshold
            )
        change = meets & ((codes < target) if rule.kind == "floor" else (codes > target))
        codes[change] = target
        fired[change] = number
    return codes, fired


def tier_reasons(
    base: IntArray,
    fired: IntArray,
    *,
    scheme: TierScheme,
    rules: Sequence[TierRule],
    base_reasons: Sequence[str] | None = None,
    language: Language = "en",
) -> pd.Categorical:
    """Categorical reason per customer: the base tier's reason, or the rule that fired."""
    if base_reasons is None:
        base_reasons = [scheme.describe(k) for k in range(len(scheme.tiers))]
    reasons = [*base_reasons, *(rule.describe(scheme, language=language) for rule in rules)]
    position, distinct = pd.factorize(pd.Index(reasons))
    codes = position[np.where(fired >= 0, len(base_reasons) + fired, base)]
    return pd.Categorical.from_codes(codes, categories=distinct)
