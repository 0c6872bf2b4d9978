"""Tiers by rules: the first listed tier whose conditions hold (no score needed)."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np
import pandas as pd

from crmscore._display import html_block
from crmscore._serialise import reads
from crmscore._validation import (
    FINITE,
    OneOf,
    check_choice,
    check_columns,
    check_frame,
    to_float,
    validator,
)
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import numpy.typing as npt

    from crmscore.tiering._tiers import Language

__all__ = ["Condition", "RuleTier", "RuleTiering"]

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


_finite = validator(FINITE)


@attrs.frozen(kw_only=True)
class Condition:
    """One comparison of a numeric column with a threshold.

    A missing (NaN) value never meets a condition.

    Examples
    --------
    >>> Condition(column="time_since_last", op="<=", threshold=30).describe()
    'time_since_last <= 30'
    """

    column: str = attrs.field(validator=attrs.validators.instance_of(str))
    """The numeric column read."""

    op: Literal[">=", ">", "<=", "<", "=="] = attrs.field(
        validator=validator(OneOf(tuple(_OPERATORS)))
    )
    """Comparison of the column with ``threshold``."""

    threshold: float = attrs.field(converter=to_float, validator=_finite)
    """The value compared with."""

    def describe(self) -> str:
        """Describe the condition, e.g. ``"average_spend > 500"``."""
        return f"{self.column} {self.op} {self.threshold:g}"

    def holds(self, frame: pd.DataFrame, *, owner: str) -> npt.NDArray[np.bool_]:
        """Where the condition holds, per row of ``frame`` (NaN: never)."""
        series = frame[self.column]
        dtype = series.dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            raise InvalidDataError(
                f"Column {self.column!r}, read by {owner} ({self.describe()}), must be "
                f"numeric; got dtype {dtype}.",
                column=self.column,
            )
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            result: npt.NDArray[np.bool_] = _OPERATORS[self.op](values, self.threshold)
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return attrs.asdict(self)

    @classmethod
    @reads(optional=None)
    def from_dict(cls, data: Mapping[str, Any]) -> Condition:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def _to_conditions(values: Sequence[Condition]) -> tuple[Condition, ...]:
    return tuple(values)


def _conditions(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not all(isinstance(c, Condition) for c in value):  # type: ignore[attr-defined]
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=type(instance).__name__,
            allowed="a sequence of Condition",
            got=value,
        )


@attrs.frozen(kw_only=True)
class RuleTier:
    """A tier of a :class:`RuleTiering`: labels and the conditions that place a customer in it.

    A customer meets the tier when **every** condition of ``all_of`` holds and, if
    ``any_of`` is not empty, **at least one** of ``any_of`` holds. A tier with no
    condition at all takes everyone left (the fallback).

    Examples
    --------
    >>> risk = RuleTier(key="risk", label_en="Risk", label_zh="风险客户", any_of=[
    ...     Condition(column="spend_growth", op="<=", threshold=-0.1),
    ...     Condition(column="complaint_rate", op=">", threshold=0.05)])
    >>> risk.describe()
    'spend_growth <= -0.1 or complaint_rate > 0.05'
    """

    key: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Stable machine name, e.g. ``"high_value"``."""

    label_en: str = attrs.field(validator=attrs.validators.instance_of(str))
    """English label."""

    label_zh: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Chinese label."""

    all_of: tuple[Condition, ...] = attrs.field(
        default=(), converter=_to_conditions, validator=_conditions
    )
    """Conditions that must all hold."""

    any_of: tuple[Condition, ...] = attrs.field(
        default=(), converter=_to_conditions, validator=_conditions
    )
    """Conditions of which one must hold (ignored when empty)."""

    @property
    def is_fallback(self) -> bool:
        """True when the tier has no condition (it takes everyone left)."""
        return not self.all_of and not self.any_of

    def label(self, language: Language = "en") -> str:
        """Return the label in ``language``."""
        return self.label_en if language == "en" else self.label_zh

    def describe(self) -> str:
        """Describe the tier's conditions (``"otherwise"`` for the fallback)."""
        if self.is_fallback:
            return "otherwise"
        parts = [c.describe() for c in self.all_of]
        if self.any_of:
            alternatives = " or ".join(c.describe() for c in self.any_of)
            parts.append(f"({alternatives})" if parts and len(self.any_of) > 1 else alternatives)
        return " and ".join(parts)

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the conditions read, in order, without repeats."""
        return tuple(dict.fromkeys(c.column for c in (*self.all_of, *self.any_of)))

    def holds(self, frame: pd.DataFrame, *, owner: str) -> npt.NDArray[np.bool_]:
        """Where a customer meets the tier, per row of ``frame``."""
        meets = np.ones(len(frame), dtype=bool)
        for condition in self.all_of:
            meets &= condition.holds(frame, owner=owner)
        if self.any_of:
            either = np.zeros(len(frame), dtype=bool)
            for condition in self.any_of:
                either |= condition.holds(frame, owner=owner)
            meets &= either
        return meets

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "key": self.key,
            "label_en": self.label_en,
            "label_zh": self.label_zh,
            "all_of": [c.to_dict() for c in self.all_of],
            "any_of": [c.to_dict() for c in self.any_of],
        }

    @classmethod
    @reads("key", "label_en", "label_zh", optional=("all_of", "any_of"))
    def from_dict(cls, data: Mapping[str, Any]) -> RuleTier:
        """Inverse of :meth:`to_dict`."""
        return cls(
            key=data["key"],
            label_en=data["label_en"],
            label_zh=data["label_zh"],
            all_of=[Condition.from_dict(c) for c in data.get("all_of", ())],
            any_of=[Condition.from_dict(c) for c in data.get("any_of", ())],
        )


def _to_rule_tiers(values: Sequence[RuleTier]) -> tuple[RuleTier, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class RuleTiering:
    """Tiers assigned by rules, first match wins: the policy texts' layers without a score.

    The tiers are listed in **priority order**: a customer gets the first tier whose
    conditions hold. The last tier must have no condition (it takes everyone left),
    and only the last may. Labels are bilingual, as in :class:`TierScheme`.

    Examples
    --------
    >>> rule = RuleTiering(name="big spenders", tiers=[
    ...     RuleTier(key="big", label_en="Big", label_zh="大客户",
    ...              all_of=[Condition(column="spend", op=">=", threshold=100)]),
    ...     RuleTier(key="other", label_en="Other", label_zh="其他")])
    >>> frame = pd.DataFrame({"spend": [150.0, 100.0, 99.0, float("nan")]},
    ...                      index=pd.Index([1, 2, 3, 4], name="customer_id"))
    >>> rule.score(frame)
                tier   tier_key   tier_reason
    customer_id
    1            Big       big   spend >= 100
    2            Big       big   spend >= 100
    3          Other     other      otherwise
    4          Other     other      otherwise
    >>> rule.score(frame, language="zh")["tier"].tolist()
    ['大客户', '大客户', '其他', '其他']
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    """What the tiering is, shown in reprs (e.g. ``"activity levels"``)."""

    tiers: tuple[RuleTier, ...] = attrs.field(converter=_to_rule_tiers)
    """The tiers in priority order; the last one is the fallback."""

    def __attrs_post_init__(self) -> None:
        owner = "RuleTiering"
        if not self.tiers or not all(isinstance(t, RuleTier) for t in self.tiers):
            raise InvalidParameterError.for_value(
                name="tiers",
                owner=owner,
                allowed="a non-empty sequence of RuleTier",
                got=self.tiers,
            )
        for attribute in ("key", "label_en", "label_zh"):
            names = [getattr(t, attribute) for t in self.tiers]
            if len(set(names)) != len(names):
                raise InvalidParameterError(f"{owner}: tier {attribute}s repeat in {names}.")
        if not self.tiers[-1].is_fallback:
            raise InvalidParameterError(
                f"{owner} {self.name!r}: the last tier {self.tiers[-1].key!r} must have no "
                "condition, so that every customer gets a tier; add a fallback tier."
            )
        early = [t.key for t in self.tiers[:-1] if t.is_fallback]
        if early:
            raise InvalidParameterError(
                f"{owner} {self.name!r}: tier(s) {early} have no condition but are not last, "
                "so the tiers after them could never be reached."
            )

    def __repr__(self) -> str:
        tiers = "; ".join(f"{t.label_en} ({t.label_zh}): {t.describe()}" for t in self.tiers)
        return f"RuleTiering({self.name}: {tiers})"

    def _repr_html_(self) -> str:
        return html_block(f"RuleTiering: {self.name}", tables=[("", self.summary())])

    @property
    def keys(self) -> tuple[str, ...]:
        """Tier keys in priority order."""
        return tuple(t.key for t in self.tiers)

    def labels(self, language: Language = "en") -> tuple[str, ...]:
        """Tier labels in ``language``, in priority order."""
        return tuple(t.label(language) for t in self.tiers)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column a condition reads, without repeats."""
        return tuple(dict.fromkeys(c for t in self.tiers for c in t.columns))

    def tier(self, key: str) -> RuleTier:
        """Return the tier with key ``key``."""
        for candidate in self.tiers:
            if candidate.key == key:
                return candidate
        raise InvalidParameterError(f"Unknown tier key {key!r}; the keys are {list(self.keys)}.")

    def summary(self) -> pd.DataFrame:
        """Every tier with its labels and rule, in priority order.

        Returns
        -------
        pandas.DataFrame
            Indexed by tier key: ``label_en``, ``label_zh``, ``rule``.
        """
        return pd.DataFrame(
            {
                "label_en": [t.label_en for t in self.tiers],
                "label_zh": [t.label_zh for t in self.tiers],
                "rule": [t.describe() for t in self.tiers],
            },
            index=pd.Index(self.keys, name="tier"),
        )

    def codes(self, frame: pd.DataFrame) -> npt.NDArray[np.int64]:
        """Tier positions (in priority order) of the rows of ``frame``."""
        check_frame(frame, name="frame", owner="RuleTiering.score")
        check_columns(frame, self.columns, frame_name="the frame to tier")
        codes = np.full(len(frame), len(self.tiers) - 1, dtype=np.int64)
        open_ = np.ones(len(frame), dtype=bool)
        for position, tier in enumerate(self.tiers[:-1]):
            meets = open_ & tier.holds(frame, owner=f"tier {tier.key!r} of {self.name!r}")
            codes[meets] = position
            open_ &= ~meets
        return codes

    def score(self, frame: pd.DataFrame, *, language: Language = "en") -> pd.DataFrame:
        """Place every customer in the first tier whose conditions hold.

        Parameters
        ----------
        frame : pandas.DataFrame
            One row per customer with every column the conditions read
            (:attr:`columns`). Not modified.
        language : {"en", "zh"}, default "en"
            Language of the ``tier`` labels.

        Returns
        -------
        pandas.DataFrame
            Indexed like ``frame``: ``tier`` (categorical of labels, categories in
            priority order), ``tier_key`` (categorical of keys) and ``tier_reason``
            (the rule of the tier, categorical).

        Raises
        ------
        ColumnNotFoundError
            A column a condition reads is missing.
        InvalidDataError
            Such a column is not numeric.
        """
        check_choice(language, name="language", owner="RuleTiering.score", choices=("en", "zh"))
        codes = self.codes(frame)
        reasons = pd.Index([t.describe() for t in self.tiers])
        position, distinct = pd.factorize(reasons)
        return pd.DataFrame(
            {
                "tier": pd.Categorical.from_codes(
                    codes, categories=pd.Index(self.labels(language))
                ),
                "tier_key": pd.Categorical.from_codes(codes, categories=pd.Index(self.keys)),
                "tier_reason": pd.Categorical.from_codes(position[codes], categories=distinct),
            },
            index=frame.index,
        )

    def coverage(self, frame: pd.DataFrame) -> pd.DataFrame:
        """How many customers meet each condition on its own, and each tier.

        Explains a small tier: which condition rules most customers out.

        Returns
        -------
        pandas.DataFrame
            One row per condition of each tier (fallback tiers left out), indexed by
            ``tier`` key and ``condition`` text: ``customers`` meeting the condition
            alone, ``share`` of all customers, and per tier ``tier_customers`` /
            ``tier_share`` meeting the whole tier rule (before priority).

        Examples
        --------
        >>> rule = RuleTiering(name="r", tiers=[
        ...     RuleTier(key="a", label_en="A", label_zh="甲", all_of=[
        ...         Condition(column="x", op=">", threshold=1),
        ...         Condition(column="y", op=">", threshold=1)]),
        ...     RuleTier(key="b", label_en="B", label_zh="乙")])
        >>> frame = pd.DataFrame({"x": [2, 2, 0, 2], "y": [2, 0, 0, 0]})
        >>> rule.coverage(frame)[["customers", "tier_customers"]]
                      customers  tier_customers
        tier condition
        a    x > 1            3               1
             y > 1            1               1
        """
        check_frame(frame, name="frame", owner="RuleTiering.coverage")
        check_columns(frame, self.columns, frame_name="the frame to tier")
        rows: list[tuple[str, str, int, int]] = []
        for tier in self.tiers:
            if tier.is_fallback:
                continue
            owner = f"tier {tier.key!r} of {self.name!r}"
            whole = int(tier.holds(frame, owner=owner).sum())
            for condition in (*tier.all_of, *tier.any_of):
                alone = int(condition.holds(frame, owner=owner).sum())
                rows.append((tier.key, condition.describe(), alone, whole))
        n = max(len(frame), 1)
        result = pd.DataFrame(
            rows, columns=["tier", "condition", "customers", "tier_customers"]
        ).set_index(["tier", "condition"])
        result.insert(1, "share", result["customers"] / n)
        result["tier_share"] = result["tier_customers"] / n
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {"name": self.name, "tiers": [t.to_dict() for t in self.tiers]}

    @classmethod
    @reads("name", "tiers")
    def from_dict(cls, data: Mapping[str, Any]) -> RuleTiering:
        """Inverse of :meth:`to_dict`."""
        return cls(name=data["name"], tiers=[RuleTier.from_dict(t) for t in data["tiers"]])
