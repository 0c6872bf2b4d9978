"""The policy's B2B grading as a ready scorecard."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

import attrs

from crmscore.errors import InvalidParameterError
from crmscore.tiering._ahp import DirectWeights, PairwiseMatrix
from crmscore.tiering._hierarchy import Criterion
from crmscore.tiering._normalise import FixedRange, Indicator, PercentileRank, ZScore
from crmscore.tiering._scorecard import MissingPolicy, Scorecard

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from crmscore.tiering._tiers import TierRule, TierScheme

__all__ = [
    "B2B_CRITERIA",
    "B2B_INDICATORS",
    "B2B_POLICY_INDICATORS",
    "b2b_policy_scorecard",
    "b2b_scorecard",
]

B2B_CRITERIA: Mapping[str, float] = MappingProxyType(
    {"financial": 0.5, "potential": 0.3, "risk": 0.2}
)
"""The policy's indicator groups and their weights (客户分级管理办法).

Financial contribution 财务贡献 50 %, cooperation potential 合作潜力 30 %, risk
control 风险控制 20 %.
"""

B2B_INDICATORS: Mapping[str, tuple[Indicator, ...]] = MappingProxyType(
    {
        "financial": (
            Indicator(name="annual_revenue", direction="benefit", normaliser=PercentileRank()),
            Indicator(
                name="profit_margin",
                direction="benefit",
                normaliser=FixedRange(low=0.0, high=0.40),
            ),
            Indicator(
                name="payment_cycle", direction="cost", normaliser=FixedRange(low=0, high=120)
            ),
        ),
        "potential": (
            Indicator(name="growth", direction="benefit", normaliser=ZScore(clip=(0.01, 0.99))),
            Indicator(name="clv", direction="benefit", normaliser=PercentileRank()),
            Indicator(
                name="strategic_fit", direction="benefit", normaliser=FixedRange(low=1, high=5)
            ),
        ),
        "risk": (
            Indicator(
                name="credit_rating", direction="benefit", normaliser=FixedRange(low=1, high=10)
            ),
            Indicator(
                name="default_history", direction="cost", normaliser=FixedRange(low=0, high=3)
            ),
            Indicator(
                name="legal_disputes", direction="cost", normaliser=FixedRange(low=0, high=3)
            ),
        ),
    }
)
"""The preset's indicators, by group, with their default direction and normalisation.

| indicator | direction | default normalisation (units) |
|---|---|---|
| `annual_revenue` | benefit | percentile rank (revenue is heavy-tailed) |
| `profit_margin` | benefit | fixed range 0-0.40 (a fraction: a 40 % margin scores 100) |
| `payment_cycle` | cost | fixed range 0-120 days |
| `growth` | benefit | z-score through the normal CDF, clipped at 1 % / 99 % |
| `clv` | benefit | percentile rank |
| `strategic_fit` | benefit | fixed range 1-5 (account manager's rating) |
| `credit_rating` | benefit | fixed range 1-10 (internal rating, 10 best) |
| `default_history` | cost | fixed range 0-3 defaults (3 or more: 0 points) |
| `legal_disputes` | cost | fixed range 0-3 disputes (3 or more: 0 points) |
"""

B2B_POLICY_INDICATORS: Mapping[str, tuple[Indicator, ...]] = MappingProxyType(
    {
        **B2B_INDICATORS,
        "potential": (
            Indicator(
                name="industry_position", direction="benefit", normaliser=FixedRange(low=1, high=5)
            ),
            Indicator(
                name="market_expansion", direction="benefit", normaliser=FixedRange(low=1, high=5)
            ),
            B2B_INDICATORS["potential"][2],
        ),
    }
)
"""The policy's own nine indicators, literally (客户分级管理办法).

As :data:`B2B_INDICATORS`, except that cooperation potential is measured as the policy
words it: industry position 行业地位 and market-expansion ability 市场拓展能力 (both
benefit, fixed range 1-5: an account manager's or analyst's rating, 5 best) with
strategic fit 战略契合度. The caller supplies the two ratings; the practical preset
:func:`b2b_scorecard` measures potential by growth and CLV instead, which the data
carries.
"""


def b2b_scorecard(
    *,
    criteria_weights: PairwiseMatrix | DirectWeights | Mapping[str, float] | None = None,
    indicator_weights: (
        Mapping[str, PairwiseMatrix | DirectWeights | Mapping[str, float]] | None
    ) = None,
    indicators: Sequence[Indicator] = (),
    columns: Mapping[str, str] | None = None,
    tiers: TierScheme | None = None,
    rules: Sequence[TierRule] = (),
    missing: MissingPolicy = "error",
) -> Scorecard:
    """Build the policy's B2B customer grading as a :class:`Scorecard`.

    Financial contribution 50 % (annual revenue, profit margin, payment cycle),
    cooperation potential 30 % (growth, CLV, strategic fit), risk control 20 %
    (credit rating, default history, legal disputes); tiers Diamond >= 90, Gold
    80-89, Silver 60-79, Ordinary < 60. The policy states only the group weights;
    within a group the preset weighs the three indicators equally unless
    ``indicator_weights`` says otherwise.

    Parameters
    ----------
    criteria_weights : PairwiseMatrix, DirectWeights or mapping, optional
        Weights of ``"financial"``, ``"potential"`` and ``"risk"``: direct, or AHP
        judgments. ``None`` (the default) means :data:`B2B_CRITERIA` (50 / 30 / 20).
    indicator_weights : mapping, optional
        Per group (``"financial"``, ...), weights of its three indicators.
    indicators : sequence of Indicator, optional
        Replacements for default indicators of the same name (:data:`B2B_INDICATORS`).
    columns : mapping, optional
        ``{indicator: column}`` when the data names them differently.
    tiers : TierScheme, optional
        As :class:`Scorecard`: ``None`` (the default) means :data:`POLICY_TIERS`.
    rules
        As :class:`Scorecard`.
    missing
        As :class:`Scorecard`.

    Returns
    -------
    Scorecard

    Examples
    --------
    >>> card = b2b_scorecard()
    >>> {k: round(v, 4) for k, v in card.hierarchy.global_weights().items()}["annual_revenue"]
    0.1667
    >>> judged = PairwiseMatrix.from_judgments(
    ...     {("financial", "potential"): "5/3", ("financial", "risk"): "5/2",
    ...      ("potential", "risk"): "3/2"})
    >>> round(b2b_scorecard(criteria_weights=judged).hierarchy.local_weights["risk"], 6)
    0.2
    """
    return _b2b(
        B2B_INDICATORS,
        owner="b2b_scorecard",
        criteria_weights=criteria_weights,
        indicator_weights=indicator_weights,
        indicators=indicators,
        columns=columns,
        tiers=tiers,
        rules=rules,
        missing=missing,
    )


def b2b_policy_scorecard(
    *,
    criteria_weights: PairwiseMatrix | DirectWeights | Mapping[str, float] | None = None,
    indicator_weights: (
        Mapping[str, PairwiseMatrix | DirectWeights | Mapping[str, float]] | None
    ) = None,
    indicators: Sequence[Indicator] = (),
    columns: Mapping[str, str] | None = None,
    tiers: TierScheme | None = None,
    rules: Sequence[TierRule] = (),
    missing: MissingPolicy = "error",
) -> Scorecard:
    """Build the policy's B2B grading with its nine indicators as written.

    The literal preset beside the practical :func:`b2b_scorecard`: cooperation
    potential is industry position, market-expansion ability and strategic fit
    (:data:`B2B_POLICY_INDICATORS`), which the caller supplies as ratings 1-5.
    Financial contribution and risk control, the weights 50 / 30 / 20 and the tiers
    are the same.

    Parameters
    ----------
    criteria_weights
        As :func:`b2b_scorecard`.
    indicator_weights
        As :func:`b2b_scorecard`.
    indicators
        As :func:`b2b_scorecard`.
    columns
        As :func:`b2b_scorecard`.
    tiers
        As :func:`b2b_scorecard`.
    rules
        As :func:`b2b_scorecard`.
    missing
        As :func:`b2b_scorecard`.

    Returns
    -------
    Scorecard

    Examples
    --------
    >>> card = b2b_policy_scorecard()
    >>> [i.name for i in card.indicators][3:6]
    ['industry_position', 'market_expansion', 'strategic_fit']
    >>> from crmscore import make_b2b_indicators
    >>> book = make_b2b_indicators(200, seed=1).assign(industry_position=3, market_expansion=4)
    >>> scored = card.fit(book).score(book)
    >>> float(scored["industry_position_points"].iloc[0])
    5.0
    """
    return _b2b(
        B2B_POLICY_INDICATORS,
        owner="b2b_policy_scorecard",
        criteria_weights=criteria_weights,
        indicator_weights=indicator_weights,
        indicators=indicators,
        columns=columns,
        tiers=tiers,
        rules=rules,
        missing=missing,
    )


def _b2b(
    defaults_by_group: Mapping[str, tuple[Indicator, ...]],
    *,
    owner: str,
    criteria_weights: PairwiseMatrix | DirectWeights | Mapping[str, float] | None,
    indicator_weights: Mapping[str, PairwiseMatrix | DirectWeights | Mapping[str, float]] | None,
    indicators: Sequence[Indicator],
    columns: Mapping[str, str] | None,
    tiers: TierScheme | None,
    rules: Sequence[TierRule],
    missing: MissingPolicy,
) -> Scorecard:
    overrides = {indicator.name: indicator for indicator in indicators}
    known = [i.name for group in defaults_by_group.values() for i in group]
    renamed = dict(columns or {})
    chosen_weights = dict(indicator_weights or {})
    _reject_unknown(overrides, known, owner=owner, what="indicators names unknown indicator(s)")
    _reject_unknown(renamed, known, owner=owner, what="columns names unknown indicator(s)")
    _reject_unknown(
        chosen_weights,
        list(defaults_by_group),
        owner=owner,
        what="indicator_weights names unknown group(s)",
    )
    groups = []
    specs = []
    for group, defaults in defaults_by_group.items():
        names = [i.name for i in defaults]
        weights = chosen_weights.get(group)
        if weights is None:
            weights = DirectWeights(labels=names, values=[1 / len(names)] * len(names))
        groups.append(Criterion(name=group, weights=weights))
        for default in defaults:
            spec = overrides.get(default.name, default)
            if default.name in renamed:
                spec = attrs.evolve(spec, column=renamed[default.name])
            specs.append(spec)
    if criteria_weights is None:  # the sentinel keeps the mapping's repr out of help()
        criteria_weights = B2B_CRITERIA
    hierarchy = Criterion(name="customer value", weights=criteria_weights, subcriteria=groups)
    return Scorecard(
        hierarchy=hierarchy, indicators=specs, tiers=tiers, rules=rules, missing=missing
    )


def _reject_unknown(
    given: Mapping[str, object], known: Sequence[str], *, owner: str, what: str
) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InvalidParameterError(f"{owner}: {what} {unknown}; expected some of {list(known)}.")
