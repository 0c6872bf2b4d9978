"""Responses to churn warnings by tier: which action a (tier, level) calls for.

A response joins the outputs of two scorers: the tier of :mod:`crmscore.tiering`
and the warning level of :mod:`crmscore.churn`. It sits above both, so neither
depends on the other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import pandas as pd

from crmscore._serialise import reads
from crmscore._validation import check_columns, check_frame
from crmscore.churn import LEVELS
from crmscore.churn.signals import instance_of
from crmscore.errors import InvalidParameterError
from crmscore.tiering import POLICY_TIERS, TierScheme

__all__ = ["DEFAULT_ACTIONS", "ActionMap"]


def _entries_error(value: object) -> InvalidParameterError:
    return InvalidParameterError.for_value(
        name="entries",
        owner="ActionMap",
        allowed="a mapping {(tier, level): label} or a sequence of (tier, level, label)",
        got=value,
    )


def _to_entries(values: Any) -> tuple[tuple[str, str, str], ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise _entries_error(values)
    out = []
    try:
        if isinstance(values, Mapping):
            for (tier, level), label in values.items():
                out.append((tier, level, label))
        else:
            for tier, level, label in values:
                out.append((tier, level, label))
    except (TypeError, ValueError):
        raise _entries_error(values) from None
    return tuple(out)


def _check_entries(
    instance: object, attribute: attrs.Attribute[tuple[tuple[str, str, str], ...]], value: Any
) -> None:
    for tier, level, label in value:
        if (
            not all(isinstance(x, str) and x for x in (tier, level, label))
            or level not in LEVELS[1:]
        ):
            raise InvalidParameterError.for_value(
                name=attribute.name,
                owner=type(instance).__name__,
                allowed="(tier, level, label) strings with level in {'blue', 'yellow', 'red'}",
                got=(tier, level, label),
            )
    keys = [(t.casefold(), lv) for t, lv, _ in value]
    repeated = sorted(k for k, c in Counter(keys).items() if c > 1)
    if repeated:
        raise InvalidParameterError(
            f"{type(instance).__name__}: entries repeat {repeated} (tiers match ignoring case)."
        )


@attrs.frozen(kw_only=True)
class ActionMap:
    """Recommended action labels by (tier, warning level): data for a service to act on.

    Tiers match ignoring case (``"Gold"`` finds an entry for ``"gold"``). With a
    ``scheme``, a tier may also be given by any of the scheme's labels, English or
    Chinese, which are read as the tier's key: with :data:`DEFAULT_ACTIONS` (keyed
    on the keys of :data:`~crmscore.tiering.POLICY_TIERS`), ``"Gold"``, ``"gold"``
    and ``"黄金级"`` are the same tier, so the ``tier`` column of a scorecard's
    result works in either language.

    Examples
    --------
    >>> actions = ActionMap(entries={("gold", "red"): "retention_call"}, fallback="review")
    >>> actions.label("Gold", "red"), actions.label("silver", "red")
    ('retention_call', 'review')
    >>> DEFAULT_ACTIONS.label("黄金级", "red")
    'retention_call_with_offer'
    """

    entries: tuple[tuple[str, str, str], ...] = attrs.field(
        converter=_to_entries, validator=_check_entries
    )
    """``(tier, level, label)`` triples; a mapping ``{(tier, level): label}`` is accepted."""

    fallback: str | None = attrs.field(
        default=None, validator=instance_of((str, type(None)), "None or a string")
    )
    """Label for a warned customer whose (tier, level) is not listed (None: no label)."""

    scheme: TierScheme | None = attrs.field(
        default=None, validator=instance_of((TierScheme, type(None)), "None or a TierScheme")
    )
    """Tier scheme whose labels (English or Chinese) are read as its keys (None: none)."""

    def _tier_key(self, tier: object) -> object:
        """Return the key a tier is looked up by: scheme labels to keys, then case-folded."""
        if not isinstance(tier, str):
            return tier
        if self.scheme is not None:
            for t in self.scheme.tiers:
                if tier in (t.key, t.label_en, t.label_zh):
                    tier = t.key
                    break
        return tier.casefold()

    def label(self, tier: str, level: str) -> str | None:
        """Return the label of one (tier, level); None for level ``none``."""
        if level == "none":
            return None
        key = self._tier_key(tier)
        return next(
            (lb for t, lv, lb in self.entries if (t.casefold(), lv) == (key, level)),
            self.fallback,
        )

    def recommend(self, warnings: pd.DataFrame, *, tiers: pd.Series[Any]) -> pd.Series[Any]:
        """Recommended action per customer from the warning level and the tier.

        Parameters
        ----------
        warnings : pandas.DataFrame
            With a ``level`` column (from :meth:`crmscore.churn.EarlyWarning.predict`).
        tiers : pandas.Series
            Tier per customer id: e.g. the ``tier`` column of a scorecard's result
            (English or Chinese labels), or tier keys; matched ignoring case.
            Customers missing from it get ``fallback``.

        Returns
        -------
        pandas.Series
            ``action`` labels (None where the level is ``none`` or nothing applies),
            indexed like ``warnings``.

        Raises
        ------
        InvalidParameterError
            ``warnings`` is not a DataFrame or ``tiers`` not a Series.
        ColumnNotFoundError
            ``warnings`` has no ``level`` column.

        Examples
        --------
        >>> warnings = pd.DataFrame({"level": ["red", "none", "blue"]}, index=["a", "b", "c"])
        >>> tiers = pd.Series({"a": "Diamond", "b": "Gold", "c": "普通级"})
        >>> DEFAULT_ACTIONS.recommend(warnings, tiers=tiers).tolist()
        ['account_manager_visit_with_retention_budget', None, 'newsletter']
        """
        check_frame(warnings, name="warnings", owner="ActionMap.recommend")
        if not isinstance(tiers, pd.Series):
            raise InvalidParameterError.for_value(
                name="tiers",
                owner="ActionMap.recommend",
                allowed="a pandas Series of tiers indexed by customer id",
                got=type(tiers).__name__,
            )
        check_columns(warnings, ["level"], frame_name="warnings")
        level = warnings["level"].astype(str).to_numpy()
        tier = tiers.reindex(warnings.index).astype(object)
        keys_of = {v: self._tier_key(v) for v in pd.unique(tier.dropna().to_numpy())}
        tier_keys = tier.map(keys_of).to_numpy(dtype=object)
        table = {(t.casefold(), lv): lb for t, lv, lb in self.entries}
        keys = pd.MultiIndex.from_arrays([tier_keys, level])
        lookup = pd.Series(list(table.values()), index=pd.MultiIndex.from_tuples(list(table)))
        labels = lookup.reindex(keys).to_numpy(dtype=object)
        missing = pd.isna(labels) & (level != "none")
        labels[missing] = self.fallback
        labels[level == "none"] = None
        return pd.Series(labels, index=warnings.index, name="action", dtype=object)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "entries": [list(e) for e in self.entries],
            "fallback": self.fallback,
            "scheme": None if self.scheme is None else self.scheme.to_dict(),
        }

    @classmethod
    @reads("entries", optional=("fallback", "scheme"))
    def from_dict(cls, data: Mapping[str, Any]) -> ActionMap:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        InvalidParameterError
            ``data`` is not a mapping, lacks ``entries``, or holds invalid entries.
        """
        scheme = data.get("scheme")
        entries = data["entries"]
        if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, Iterable):
            raise _entries_error(entries)
        return cls(
            entries=[tuple(e) if isinstance(e, list) else e for e in entries],
            fallback=data.get("fallback"),
            scheme=None if scheme is None else TierScheme.from_dict(scheme),
        )


#: Default responses for the four tiers of the grading policy (keyed on the keys of
#: POLICY_TIERS; the scorecard's English and Chinese tier labels match too): the
#: closer and more valuable the relationship, the more personal and earlier the response.
DEFAULT_ACTIONS = ActionMap(
    entries={
        ("diamond", "red"): "account_manager_visit_with_retention_budget",
        ("diamond", "yellow"): "account_manager_call",
        ("diamond", "blue"): "account_manager_check_in",
        ("gold", "red"): "retention_call_with_offer",
        ("gold", "yellow"): "personalised_offer",
        ("gold", "blue"): "loyalty_privilege_reminder",
        ("silver", "red"): "win_back_offer",
        ("silver", "yellow"): "targeted_coupon",
        ("silver", "blue"): "engagement_message",
        ("ordinary", "red"): "automated_win_back_offer",
        ("ordinary", "yellow"): "automated_coupon",
        ("ordinary", "blue"): "newsletter",
    },
    fallback="manual_review",
    scheme=POLICY_TIERS,
)
