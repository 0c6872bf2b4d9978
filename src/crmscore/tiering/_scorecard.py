"""The weighted scorecard: normalised indicators → 0-100 score, contributions, tier."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._display import html_block, short_repr
from crmscore._serialise import reads
from crmscore._validation import (
    OneOf,
    check_choice,
    check_columns,
    check_frame,
    check_unique_index,
    indicator_column,
    validator,
)
from crmscore.errors import InvalidDataError, InvalidParameterError
from crmscore.tiering._ahp import PairwiseMatrix
from crmscore.tiering._hierarchy import Criterion
from crmscore.tiering._normalise import (
    FixedRange,
    Indicator,
    LearnedScale,
    MinMax,
    PercentileRank,
    ZScore,
)
from crmscore.tiering._tiers import (
    POLICY_TIERS,
    Language,
    TierRule,
    TierScheme,
    apply_rules,
    tier_reasons,
    to_rules,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["FittedScorecard", "MissingPolicy", "Scorecard"]

MissingPolicy: TypeAlias = Literal["error", "median", "zero"]
FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
_MISSING: tuple[MissingPolicy, ...] = ("error", "median", "zero")
_SCALE_KINDS = {
    MinMax: "min_max",
    ZScore: "z_score",
    PercentileRank: "percentile_rank",
    FixedRange: "fixed_range",
}


def _to_indicators(values: Sequence[Indicator]) -> tuple[Indicator, ...]:
    return tuple(values)


def _to_tiers(value: TierScheme | None) -> TierScheme:
    """``None`` is the policy's scheme: a sentinel keeps its long repr out of ``help()``."""
    return POLICY_TIERS if value is None else value


@attrs.frozen(kw_only=True)
class Scorecard:
    r"""Settings of an AHP-weighted scorecard; :meth:`fit` learns the normalisation.

    Every indicator is normalised to 0-100 points (direction applied: more points is
    always better), weighted by its global weight in ``hierarchy`` and summed, so the
    score is 0-100; the score is cut into ``tiers`` and ``rules`` adjust the tier.

    Notes
    -----
    With global weights :math:`w_k` (:math:`\sum_k w_k = 1`) and points
    :math:`p_{ik} \in [0, 100]`, customer :math:`i` scores
    :math:`s_i = \sum_k w_k p_{ik}`. Indicator :math:`k` contributes
    :math:`w_k p_{ik}` points; a criterion contributes the sum over its indicators.
    This is the policy's 数据归一化 (normalise away units) then weighted sum
    (客户分级管理办法).

    **Missing values** follow ``missing``: ``"error"`` (default) rejects them naming
    the customers; ``"median"`` scores the indicator as if the value were the fitted
    population's median; ``"zero"`` gives the indicator 0 points. The policy is kept
    on the fitted scorecard, and each scored frame counts the imputed values per
    customer (``n_imputed``) and records the policy in ``frame.attrs["missing"]``.

    Examples
    --------
    >>> import pandas as pd
    >>> card = Scorecard(
    ...     hierarchy=Criterion(name="value", weights={"revenue": 0.6, "disputes": 0.4}),
    ...     indicators=[
    ...         Indicator(name="revenue", direction="benefit", normaliser=MinMax()),
    ...         Indicator(name="disputes", direction="cost",
    ...                   normaliser=FixedRange(low=0, high=4)),
    ...     ],
    ... )
    >>> book = pd.DataFrame({"revenue": [100.0, 300.0, 500.0], "disputes": [0, 2, 1]},
    ...                     index=pd.Index(["a", "b", "c"], name="customer_id"))
    >>> card.fit(book).score(book)[["score", "tier", "revenue_points", "disputes_points"]]
                 score      tier  revenue_points  disputes_points
    customer_id
    a             40.0  Ordinary             0.0             40.0
    b             50.0  Ordinary            30.0             20.0
    c             90.0   Diamond            60.0             30.0
    """

    hierarchy: Criterion = attrs.field(validator=attrs.validators.instance_of(Criterion))
    """The criteria hierarchy; its leaves are the indicators."""

    indicators: tuple[Indicator, ...] = attrs.field(converter=_to_indicators)
    """One :class:`Indicator` per leaf of ``hierarchy`` (direction and normalisation)."""

    tiers: TierScheme = attrs.field(
        default=None, converter=_to_tiers, validator=attrs.validators.instance_of(TierScheme)
    )
    """How scores are cut into tiers. ``None`` (the default) means
    :data:`~crmscore.tiering.POLICY_TIERS`, the policy's 90 / 80 / 60; the sentinel
    keeps the scheme's long repr out of the signature ``help()`` shows."""

    rules: tuple[TierRule, ...] = attrs.field(default=(), converter=to_rules)
    """Floors and caps applied to the score's tier, in order."""

    missing: MissingPolicy = attrs.field(default="error", validator=validator(OneOf(_MISSING)))
    """Missing-value policy: ``"error"``, ``"median"`` or ``"zero"``."""

    def __attrs_post_init__(self) -> None:
        owner = "Scorecard"
        names = [indicator.name for indicator in self.indicators]
        if not all(isinstance(i, Indicator) for i in self.indicators):
            raise InvalidParameterError.for_value(
                name="indicators", owner=owner, allowed="a sequence of Indicator", got=names
            )
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InvalidParameterError(f"{owner}: indicators {repeated} are specified twice.")
        leaves = self.hierarchy.indicators
        unknown = sorted(set(names) - set(leaves))
        if unknown:
            raise InvalidParameterError(
                f"{owner}: unknown indicator(s) {unknown}: not leaves of the hierarchy "
                f"{self.hierarchy.name!r}, whose indicators are {list(leaves)}."
            )
        unspecified = [leaf for leaf in leaves if leaf not in names]
        if unspecified:
            raise InvalidParameterError(
                f"{owner}: the hierarchy's indicator(s) {unspecified} have no Indicator (say "
                "whether each is a benefit or a cost and how to normalise it)."
            )
        for rule in self.rules:
            if not isinstance(rule, TierRule):
                raise InvalidParameterError.for_value(
                    name="rules", owner=owner, allowed="a sequence of TierRule", got=rule
                )
            self.tiers.index(rule.tier)

    def __repr__(self) -> str:
        return short_repr("Scorecard", _card_fields(self))

    def _repr_html_(self) -> str:
        return _card_html(self, title="Scorecard (settings; fit to learn the normalisation)")

    def summary(self) -> pd.DataFrame:
        """Return the scorecard on one page: the weight tree and every indicator's settings.

        Returns
        -------
        pandas.DataFrame
            The hierarchy's :meth:`Criterion.weight_table` (indexed by node:
            ``parent``, ``level``, ``kind``, ``local_weight``, ``global_weight``),
            plus ``consistency_ratio`` of the AHP judgments that weighed the node
            among its siblings (NaN where the weights were given directly) and, for
            indicators, the data ``column``, the ``direction`` and the ``normaliser``.

        Examples
        --------
        >>> from crmscore import b2b_scorecard
        >>> judgments = PairwiseMatrix.from_judgments(
        ...     {("financial", "potential"): 2, ("financial", "risk"): 3, ("potential", "risk"): 2})
        >>> table = b2b_scorecard(criteria_weights=judgments).summary()
        >>> table.loc[["financial", "potential", "risk"], ["local_weight", "consistency_ratio"]]
                   local_weight  consistency_ratio
        node
        financial      0.539615           0.007933
        potential      0.296961           0.007933
        risk           0.163424           0.007933
        >>> table.loc[["annual_revenue", "payment_cycle"], "direction"].tolist()
        ['benefit', 'cost']
        """
        root = self.hierarchy
        ratios = {
            name: node.weights.consistency_ratio
            if isinstance(node.weights, PairwiseMatrix)
            else np.nan
            for name, node in [(root.name, root), *_criteria(root)]
        }
        table = root.weight_table()
        by_name = {i.name: i for i in self.indicators}
        found = [by_name.get(name) for name in table.index]
        return table.assign(
            consistency_ratio=table["parent"].map(ratios).astype(np.float64),
            column=np.array([None if i is None else i.source for i in found], dtype=object),
            direction=np.array([None if i is None else i.direction for i in found], dtype=object),
            normaliser=np.array(
                [None if i is None else repr(i.normaliser) for i in found], dtype=object
            ),
        )

    @property
    def columns(self) -> tuple[str, ...]:
        """Data columns read, one per indicator in hierarchy order."""
        by_name = {i.name: i for i in self.indicators}
        return tuple(by_name[leaf].source for leaf in self.hierarchy.indicators)

    def fit(self, indicators_frame: pd.DataFrame) -> FittedScorecard:
        """Learn each indicator's normalisation from a population.

        Parameters
        ----------
        indicators_frame : pandas.DataFrame
            One row per customer (unique index) with the indicator columns. Not
            modified. Missing values are ignored while learning unless the policy is
            ``"error"``.

        Returns
        -------
        FittedScorecard
            The frozen normalisation; score any customers with
            :meth:`FittedScorecard.score`.

        Raises
        ------
        ColumnNotFoundError
            An indicator column is missing.
        InvalidDataError
            A column is not numeric, has infinite values, has missing values under
            policy ``"error"`` or only missing values; the frame is empty or repeats ids.
        """
        name = "the indicators frame"
        check_frame(indicators_frame, name="indicators_frame", owner="Scorecard.fit")
        check_columns(indicators_frame, self.columns, frame_name=name)
        check_unique_index(indicators_frame, frame_name=name)
        if len(indicators_frame) == 0:
            raise InvalidDataError("Cannot fit a scorecard on an empty frame.")
        by_name = {i.name: i for i in self.indicators}
        scales: list[LearnedScale] = []
        medians: list[float] = []
        # Only what scoring uses is learned: a median costs a partition of the whole
        # column (several times a min/max pass), so it is kept for missing="median" only.
        wants_median = self.missing == "median"
        for leaf in self.hierarchy.indicators:
            indicator = by_name[leaf]
            values = indicator_column(
                indicators_frame,
                indicator.source,
                allow_missing=self.missing != "error",
                frame_name=name,
                keep_integers=type(indicator.normaliser) is MinMax
                and indicator.normaliser.clip is None,
            )
            present = values
            if self.missing != "error":  # (under "error" every value is known finite)
                gaps = np.isnan(values)
                if gaps.any():
                    present = values[~gaps]
            if present.size == 0:
                raise InvalidDataError(
                    f"Indicator column {indicator.source!r} has no values to learn from.",
                    column=indicator.source,
                )
            scales.append(indicator.fit(present))
            medians.append(float(np.median(present)) if wants_median else math.nan)
        return FittedScorecard(
            scorecard=self, scales=scales, medians=medians, n_customers=len(indicators_frame)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "hierarchy": self.hierarchy.to_dict(),
            "indicators": [i.to_dict() for i in self.indicators],
            "tiers": self.tiers.to_dict(),
            "rules": [r.to_dict() for r in self.rules],
            "missing": self.missing,
        }

    @classmethod
    @reads("hierarchy", "indicators", "tiers", "rules", "missing")
    def from_dict(cls, data: Mapping[str, Any]) -> Scorecard:
        """Inverse of :meth:`to_dict`."""
        return cls(
            hierarchy=Criterion.from_dict(data["hierarchy"]),
            indicators=[Indicator.from_dict(i) for i in data["indicators"]],
            tiers=TierScheme.from_dict(data["tiers"]),
            rules=[TierRule.from_dict(r) for r in data["rules"]],
            missing=data["missing"],
        )


def _to_scales(values: Sequence[LearnedScale]) -> tuple[LearnedScale, ...]:
    return tuple(values)


def _to_medians(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


@attrs.frozen(kw_only=True)
class FittedScorecard:
    """A scorecard with its normalisation learned; a value, safe to store as JSON.

    Scoring applies the frozen normalisation, so one customer's score depends only
    on that customer's indicators: adding or rescoring customers never shifts
    anybody else.
    """

    scorecard: Scorecard = attrs.field(validator=attrs.validators.instance_of(Scorecard))
    """The settings the normalisation was learned with."""

    scales: tuple[LearnedScale, ...] = attrs.field(converter=_to_scales)
    """Learned normalisation per indicator, in hierarchy order."""

    medians: tuple[float, ...] = attrs.field(converter=_to_medians)
    """Raw population median per indicator, learned for ``missing="median"`` only (the
    policy that uses it); NaN under the other policies, where a median would cost a
    partition of every column at each fit and serve nothing."""

    n_customers: int = attrs.field(validator=attrs.validators.instance_of(int))
    """Number of customers the normalisation was learned on."""

    _weights: FloatArray = attrs.field(init=False, repr=False, eq=False)
    _membership: FloatArray = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        hierarchy = self.scorecard.hierarchy
        leaves = hierarchy.indicators
        if len(self.scales) != len(leaves) or len(self.medians) != len(leaves):
            raise InvalidParameterError(
                f"FittedScorecard needs one learned scale and one median per indicator "
                f"({len(leaves)}); got {len(self.scales)} and {len(self.medians)}."
            )
        by_name = {i.name: i for i in self.scorecard.indicators}
        for leaf, scale in zip(leaves, self.scales, strict=True):
            expected = _SCALE_KINDS[type(by_name[leaf].normaliser)]
            if scale.kind != expected:
                raise InvalidParameterError(
                    f"FittedScorecard: indicator {leaf!r} uses a {expected} normaliser but its "
                    f"learned scale is {scale.kind!r}."
                )
        global_weights = hierarchy.global_weights()
        weights = np.array([global_weights[leaf] for leaf in leaves])
        criteria = self.criteria
        membership = np.zeros((len(leaves), len(criteria)))
        for column, name in enumerate(criteria):
            node = _find(hierarchy, name)
            membership[[leaves.index(leaf) for leaf in node.indicators], column] = 1.0
        # Read-only, so the fitted value cannot be changed through them.
        weights.setflags(write=False)
        membership.setflags(write=False)
        object.__setattr__(self, "_weights", weights)
        object.__setattr__(self, "_membership", membership)

    def __repr__(self) -> str:
        return short_repr(
            "FittedScorecard", [*_card_fields(self.scorecard), ("n_customers", self.n_customers)]
        )

    def _repr_html_(self) -> str:
        return _card_html(
            self.scorecard,
            title=f"FittedScorecard (learned on {self.n_customers:,} customers)",
            summary=self.summary(),
        )

    def summary(self) -> pd.DataFrame:
        """Return :meth:`Scorecard.summary` with what was learned for each indicator.

        Returns
        -------
        pandas.DataFrame
            The scorecard's summary plus, for indicators, the learned ``scale`` (in
            words, e.g. ``"min-max: 100 .. 500"``) and the population ``median``
            (NaN unless the missing-value policy is ``"median"``, see :attr:`medians`).
        """
        learned = {
            leaf: (scale.describe(), median)
            for leaf, scale, median in zip(self.indicators, self.scales, self.medians, strict=True)
        }
        table = self.scorecard.summary()
        return table.assign(
            scale=np.array([learned[n][0] if n in learned else None for n in table.index], object),
            median=[learned[n][1] if n in learned else np.nan for n in table.index],
        )

    @property
    def indicators(self) -> tuple[str, ...]:
        """Indicator names, in hierarchy order."""
        return self.scorecard.hierarchy.indicators

    @property
    def criteria(self) -> tuple[str, ...]:
        """Criterion names below the root, depth first."""
        return tuple(name for name, _ in _criteria(self.scorecard.hierarchy))

    @property
    def weights(self) -> dict[str, float]:
        """Global weight of each indicator (they sum to 1)."""
        return dict(zip(self.indicators, self._weights.tolist(), strict=True))

    def _points(
        self, frame: pd.DataFrame, *, owner: str, out: FloatArray | None = None
    ) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        """Normalised points (indicators x customers, into ``out`` if given) and imputations."""
        name = "the frame to score"
        check_frame(frame, name="frame", owner=owner)
        card = self.scorecard
        check_columns(frame, card.columns, frame_name=name)
        check_unique_index(frame, frame_name=name)
        by_name = {i.name: i for i in card.indicators}
        points = np.empty((len(self.indicators), len(frame))) if out is None else out
        imputed = np.zeros(len(frame), dtype=np.int64)
        for k, (leaf, scale) in enumerate(zip(self.indicators, self.scales, strict=True)):
            indicator = by_name[leaf]
            values = indicator_column(
                frame, indicator.source, allow_missing=card.missing != "error", frame_name=name
            )
            missing = np.isnan(values) if card.missing != "error" else None
            if missing is not None and card.missing == "median":
                values = np.where(missing, self.medians[k], values)
            points[k] = indicator.points(scale, values)
            if missing is not None:
                imputed += missing
                if card.missing == "zero":
                    points[k, missing] = 0.0
        return points, imputed

    def normalised(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Each indicator's normalised points (0-100, more is better), indexed like ``frame``."""
        points, _ = self._points(frame, owner="FittedScorecard.normalised")
        return pd.DataFrame(points.T, index=frame.index, columns=list(self.indicators), copy=False)

    def score(
        self, frame: pd.DataFrame, *, language: Language = "en", normalised: bool = False
    ) -> pd.DataFrame:
        """Score, explain and tier customers with the frozen normalisation.

        Parameters
        ----------
        frame : pandas.DataFrame
            One row per customer with the indicator columns (and any column a tier
            rule reads). Not modified.
        language : {"en", "zh"}, default "en"
            Language of the tier labels.
        normalised : bool, default False
            Also return each indicator's normalised points (``<indicator>_normalised``).

        Returns
        -------
        pandas.DataFrame
            Indexed like ``frame``:

            ``score`` (float)
                0-100.
            ``tier``, ``score_tier`` (ordered categorical, lowest tier first)
                The tier after the rules, and the tier of the score alone.
            ``tier_reason`` (categorical)
                The score range of the tier, or the rule that set it.
            ``<criterion>_points``, ``<indicator>_points`` (float)
                Contributions in score points: the indicators' add up to the score,
                the top-level criteria's (with any indicator directly under the root)
                too, and each criterion's is the sum of its children's.
            ``n_imputed`` (int)
                Indicator values imputed under the missing-value policy.

            ``attrs["missing"]`` records the missing-value policy.

        Raises
        ------
        ColumnNotFoundError, InvalidDataError
            A column is missing or invalid, or the index repeats ids.
        """
        check_choice(language, name="language", owner="FittedScorecard.score", choices=("en", "zh"))
        card = self.scorecard
        m, c = len(self.indicators), len(self.criteria)
        # One float block, one row per output column (pandas keeps it without copying);
        # the points are computed in place of the contributions.
        block = np.empty((1 + c + m + (m if normalised else 0), len(frame)))
        contributions = block[1 + c : 1 + c + m]
        _, imputed = self._points(frame, owner="FittedScorecard.score", out=contributions)
        if normalised:
            block[1 + c + m :] = contributions
        contributions *= self._weights[:, None]
        np.sum(contributions, axis=0, out=block[0])
        np.clip(block[0], 0.0, 100.0, out=block[0])
        # Each criterion's points: its indicators' contributions added one by one, in
        # a fixed order. A matrix product would block the work by the number of
        # customers, so a customer's last bit would depend on who shares the call (a
        # Dask partition against the whole frame).
        for j, criterion in enumerate(block[1 : 1 + c]):
            members = np.flatnonzero(self._membership[:, j])
            criterion[:] = contributions[members[0]]
            for k in members[1:]:
                np.add(criterion, contributions[k], out=criterion)
        names = [
            "score",
            *(f"{name}_points" for name in (*self.criteria, *self.indicators)),
            *(f"{name}_normalised" for name in self.indicators if normalised),
        ]
        result = pd.DataFrame(block.T, index=frame.index, columns=names, copy=False)
        base = card.tiers.codes(block[0])
        codes, fired = apply_rules(
            base, frame, scheme=card.tiers, rules=card.rules, frame_name="the frame to score"
        )
        reasons = tier_reasons(base, fired, scheme=card.tiers, rules=card.rules, language=language)
        for position, (column, values) in enumerate(
            (
                ("tier", card.tiers.categorical(codes, language=language)),
                ("score_tier", card.tiers.categorical(base, language=language)),
                ("tier_reason", reasons),
            ),
            start=1,
        ):
            result.insert(position, column, pd.Series(values, index=frame.index, copy=False))
        result["n_imputed"] = imputed
        result.attrs = {"missing": card.missing}
        return result

    def score_and_tier(self, frame: pd.DataFrame) -> tuple[FloatArray, IntArray]:
        """Return only the scores and the tier positions (after the rules).

        The same arithmetic as :meth:`score`, without the contribution columns,
        labels and reasons: the fast path for engines that keep tiers as
        positions (0 = lowest tier of the scheme).
        """
        card = self.scorecard
        points, _ = self._points(frame, owner="FittedScorecard.score_and_tier")
        points *= self._weights[:, None]
        score = np.clip(np.sum(points, axis=0), 0.0, 100.0)
        codes, _ = apply_rules(
            card.tiers.codes(score),
            frame,
            scheme=card.tiers,
            rules=card.rules,
            frame_name="the frame to score",
        )
        return score, codes

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "scorecard": self.scorecard.to_dict(),
            "scales": [s.to_dict() for s in self.scales],
            "medians": [None if math.isnan(m) else m for m in self.medians],
            "n_customers": self.n_customers,
        }

    @classmethod
    @reads("scorecard", "scales", "medians", "n_customers")
    def from_dict(cls, data: Mapping[str, Any]) -> FittedScorecard:
        """Inverse of :meth:`to_dict`."""
        return cls(
            scorecard=Scorecard.from_dict(data["scorecard"]),
            scales=[LearnedScale.from_dict(s) for s in data["scales"]],
            medians=[math.nan if m is None else m for m in data["medians"]],
            n_customers=int(data["n_customers"]),
        )


def _card_fields(card: Scorecard) -> list[tuple[str, object]]:
    """List what a scorecard's short repr shows: counts and names, not the whole tree."""
    return [
        ("hierarchy", card.hierarchy.name),
        ("indicators", len(card.indicators)),
        ("tiers", card.tiers),
        ("rules", tuple(rule.name for rule in card.rules)),
        ("missing", card.missing),
    ]


def _card_html(card: Scorecard, *, title: str, summary: pd.DataFrame | None = None) -> str:
    facts = [
        ("goal", card.hierarchy.name),
        ("indicators", len(card.indicators)),
        ("missing values", card.missing),
        *((f"rule {rule.name!r}", rule.describe(card.tiers)) for rule in card.rules),
    ]
    tables = [
        ("Weight tree", card.summary() if summary is None else summary),
        ("Tiers", card.tiers.summary()),
    ]
    return html_block(title, facts=facts, tables=tables)


def _criteria(node: Criterion) -> list[tuple[str, Criterion]]:
    """Every criterion below ``node``, depth first in label order."""
    out: list[tuple[str, Criterion]] = []
    children = {c.name: c for c in node.subcriteria}
    for label in node.weights.labels:
        child = children.get(label)
        if child is not None:
            out.append((label, child))
            out.extend(_criteria(child))
    return out


def _find(root: Criterion, name: str) -> Criterion:
    return next(node for label, node in _criteria(root) if label == name)
