"""The policy texts' layers, levels and stages as ready presets (SEEDS.md sections 2 and 5).

Every number of the texts is a default parameter here; numbers the texts leave open
(what "mid-size" or "high complaint rate" means) are parameters with a documented
default. The column names default to those of :func:`event_indicators`; pass
``columns={name: column}`` when the data names them differently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmscore._validation import OneOf, check_param
from crmscore.errors import InvalidParameterError
from crmscore.tiering._ahp import DirectWeights, PairwiseMatrix
from crmscore.tiering._hierarchy import Criterion
from crmscore.tiering._normalise import FixedRange, Indicator, PercentileRank
from crmscore.tiering._rules import Condition, RuleTier, RuleTiering
from crmscore.tiering._scorecard import MissingPolicy, Scorecard

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from crmscore.tiering._tiers import TierScheme

__all__ = [
    "MEMBERSHIP_LEVELS",
    "RELATIONSHIP_INDICATORS",
    "activity_levels",
    "dairy_layers",
    "high_value_rule",
    "lifecycle_stages",
    "membership_levels",
    "relationship_scorecard",
]


def _columns(
    defaults: Sequence[str], given: Mapping[str, str] | None, *, owner: str
) -> dict[str, str]:
    chosen = dict(given or {})
    unknown = sorted(set(chosen) - set(defaults))
    if unknown:
        raise InvalidParameterError(
            f"{owner}: columns names unknown input(s) {unknown}; expected some of {list(defaults)}."
        )
    return {name: chosen.get(name, name) for name in defaults}


def high_value_rule(
    *,
    within_days: float = 30,
    purchases_per_month: float = 3,
    average_order: float = 500,
    columns: Mapping[str, str] | None = None,
) -> RuleTiering:
    """Build the practice guide's high-value customer rule (高价值客户).

    "Purchased within the last 30 days, about 3 purchases a month, average order
    value above 500": ``days_since_purchase <= 30``, ``purchases_per_month >= 3``
    and ``average_order > 500``, all three. Everyone else is *other* (其他客户).

    Parameters
    ----------
    within_days : float, default 30
        Largest number of days since the last purchase (inclusive).
    purchases_per_month : float, default 3
        Smallest purchase rate per month (inclusive).
    average_order : float, default 500
        The average order value must be strictly above this (CNY).
    columns : mapping, optional
        ``{input: column}`` for the inputs ``days_since_purchase``,
        ``purchases_per_month`` and ``average_order`` (:func:`event_indicators`
        names). From an :func:`rfm_table` in days: ``{"days_since_purchase":
        "time_since_last", "average_order": "average_spend"}`` and a
        ``purchases_per_month`` column you add.

    Returns
    -------
    RuleTiering
        Tiers ``high_value`` (High value, 高价值客户) and ``other`` (Other, 其他客户).

    Notes
    -----
    The rule is strict: a customer who buys three times a month at an average
    above 500 spends over 18,000 a year. :meth:`RuleTiering.coverage` shows which
    condition keeps a book's customers out (on retail-like books it is the rate).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"days_since_purchase": [3, 3, 31, 3],
    ...                       "purchases_per_month": [3.0, 2.9, 4.0, 5.0],
    ...                       "average_order": [600, 600, 600, 500]})
    >>> high_value_rule().score(frame)["tier_key"].tolist()
    ['high_value', 'other', 'other', 'other']
    """
    name = _columns(
        ("days_since_purchase", "purchases_per_month", "average_order"),
        columns,
        owner="high_value_rule",
    )
    return RuleTiering(
        name="practice-guide high-value customers",
        tiers=[
            RuleTier(
                key="high_value",
                label_en="High value",
                label_zh="高价值客户",
                all_of=[
                    Condition(column=name["days_since_purchase"], op="<=", threshold=within_days),
                    Condition(
                        column=name["purchases_per_month"], op=">=", threshold=purchases_per_month
                    ),
                    Condition(column=name["average_order"], op=">", threshold=average_order),
                ],
            ),
            RuleTier(key="other", label_en="Other", label_zh="其他客户"),
        ],
    )


def dairy_layers(
    *,
    high_value: float = 10_000_000,
    mid_size: float = 1_000_000,
    falling: float = -0.10,
    complaint_rate: float = 0.05,
    risk_first: bool = True,
    columns: Mapping[str, str] | None = None,
) -> RuleTiering:
    """Build the dairy company's four customer layers (乳品企业客户分层).

    ============================ ====================================================
    layer                        rule (defaults)
    ============================ ====================================================
    risk 风险客户                falling purchases (``spend_growth <= -0.10``) or a
                                 high complaint rate (``complaint_rate > 0.05``)
    high value 高价值客户        annual purchases above 10 million (``spend >
                                 10,000,000``)
    growth potential 潜力成长客户 mid-size (``spend >= 1,000,000``) and growing
                                 (``spend_growth > 0``)
    basic maintenance 基础维护客户 everyone else (small or infrequent)
    ============================ ====================================================

    The plan states only the 10 million; "mid-size", "falling" and "high complaint
    rate" are parameters.

    Parameters
    ----------
    high_value : float, default 10,000,000
        Annual purchases strictly above which a customer is high-value.
    mid_size : float, default 1,000,000
        Smallest annual purchases of a growth-potential customer.
    falling : float, default -0.10
        Year-on-year spend change at or below which purchases are falling.
    complaint_rate : float, default 0.05
        Complaints per purchase strictly above which the rate is high.
    risk_first : bool, default True
        Risk takes precedence over high value (a falling 10-million customer is at
        risk); ``False`` keeps high-value customers high-value.
    columns : mapping, optional
        ``{input: column}`` for ``spend`` (annual purchases), ``spend_growth`` and
        ``complaint_rate``.

    Returns
    -------
    RuleTiering

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"spend": [2e7, 2e7, 3e6, 3e6, 1e5],
    ...                       "spend_growth": [0.0, -0.2, 0.1, -0.05, 0.5],
    ...                       "complaint_rate": [0.0, 0.0, 0.0, 0.0, 0.0]})
    >>> dairy_layers().score(frame)["tier_key"].tolist()
    ['high_value', 'risk', 'growth_potential', 'basic', 'basic']
    >>> dairy_layers(risk_first=False).score(frame)["tier_key"].tolist()[1]
    'high_value'
    """
    name = _columns(("spend", "spend_growth", "complaint_rate"), columns, owner="dairy_layers")
    check_param(risk_first, OneOf((True, False)), name="risk_first", owner="dairy_layers")
    risk = RuleTier(
        key="risk",
        label_en="Risk",
        label_zh="风险客户",
        any_of=[
            Condition(column=name["spend_growth"], op="<=", threshold=falling),
            Condition(column=name["complaint_rate"], op=">", threshold=complaint_rate),
        ],
    )
    top = RuleTier(
        key="high_value",
        label_en="High value",
        label_zh="高价值客户",
        all_of=[Condition(column=name["spend"], op=">", threshold=high_value)],
    )
    growth = RuleTier(
        key="growth_potential",
        label_en="Growth potential",
        label_zh="潜力成长客户",
        all_of=[
            Condition(column=name["spend"], op=">=", threshold=mid_size),
            Condition(column=name["spend_growth"], op=">", threshold=0),
        ],
    )
    basic = RuleTier(key="basic", label_en="Basic maintenance", label_zh="基础维护客户")
    ordered = [risk, top] if risk_first else [top, risk]
    return RuleTiering(name="dairy customer layers", tiers=[*ordered, growth, basic])


MEMBERSHIP_LEVELS: tuple[tuple[str, str, str, float, float], ...] = (
    ("platinum", "Platinum", "铂金会员", 24, 20_000),
    ("gold", "Gold", "黄金会员", 12, 5_000),
    ("silver", "Silver", "白银会员", 4, 1_000),
)
"""Default membership levels: ``(key, English, Chinese, purchases a year, spend a year)``.

Highest first; below silver a member is Regular (普通会员). The dairy plan names the
levels (platinum, gold, ...) and says they go by purchase frequency and amount,
without figures: these are illustrative defaults (twice a month and 20,000; monthly
and 5,000; quarterly and 1,000).
"""


def membership_levels(
    *,
    levels: Sequence[tuple[str, str, str, float, float]] | None = None,
    base: tuple[str, str, str] = ("regular", "Regular", "普通会员"),
    require: str = "both",
    columns: Mapping[str, str] | None = None,
) -> RuleTiering:
    """Membership levels (会员等级) by purchase frequency and amount.

    Parameters
    ----------
    levels : sequence of (key, label_en, label_zh, min_purchases, min_spend), optional
        Highest level first; a member reaches a level with at least
        ``min_purchases`` purchases and at least ``min_spend`` spend in the year.
        ``None`` (the default) means :data:`MEMBERSHIP_LEVELS`.
    base : (key, label_en, label_zh), default ("regular", "Regular", "普通会员")
        The level of everyone else.
    require : {"both", "either"}, default "both"
        Whether a level needs both thresholds or one of them.
    columns : mapping, optional
        ``{input: column}`` for ``purchases`` and ``spend`` (in the year).

    Returns
    -------
    RuleTiering

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"purchases": [30, 30, 12, 1], "spend": [25e3, 6e3, 6e3, 9e4]})
    >>> membership_levels().score(frame, language="zh")["tier"].tolist()
    ['铂金会员', '黄金会员', '黄金会员', '普通会员']
    >>> membership_levels(require="either").score(frame)["tier_key"].tolist()[3]
    'platinum'
    """
    check_param(require, OneOf(("both", "either")), name="require", owner="membership_levels")
    name = _columns(("purchases", "spend"), columns, owner="membership_levels")
    tiers = []
    for key, label_en, label_zh, min_purchases, min_spend in (
        MEMBERSHIP_LEVELS if levels is None else levels
    ):
        conditions = [
            Condition(column=name["purchases"], op=">=", threshold=min_purchases),
            Condition(column=name["spend"], op=">=", threshold=min_spend),
        ]
        if require == "both":
            tiers.append(RuleTier(key=key, label_en=label_en, label_zh=label_zh, all_of=conditions))
        else:
            tiers.append(RuleTier(key=key, label_en=label_en, label_zh=label_zh, any_of=conditions))
    key, label_en, label_zh = base
    tiers.append(RuleTier(key=key, label_en=label_en, label_zh=label_zh))
    return RuleTiering(name="membership levels", tiers=tiers)


def activity_levels(
    *,
    active_per_month: float = 3,
    dormant_days: float = 180,
    columns: Mapping[str, str] | None = None,
) -> RuleTiering:
    """Activity levels: highly active (高活跃) and dormant (沉睡) customers.

    Dormant: no interaction for 6 months (``days_since_interaction >= 180``);
    highly active: at least 3 interactions a month (``interactions_month >= 3``,
    the last 30 days); everyone else is *active* (一般活跃). Dormant is checked
    first. Dormant customers get the quarterly wake-up of the action plan.

    Parameters
    ----------
    active_per_month : float, default 3
        Smallest number of interactions in the last month of a highly active customer.
    dormant_days : float, default 180
        Days without interaction from which a customer is dormant (inclusive).
    columns : mapping, optional
        ``{input: column}`` for ``interactions_month`` and ``days_since_interaction``.

    Returns
    -------
    RuleTiering

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"interactions_month": [5, 2, 0],
    ...                       "days_since_interaction": [1, 10, 180]})
    >>> activity_levels().score(frame)["tier"].tolist()
    ['Highly active', 'Active', 'Dormant']
    """
    name = _columns(
        ("interactions_month", "days_since_interaction"), columns, owner="activity_levels"
    )
    return RuleTiering(
        name="activity levels",
        tiers=[
            RuleTier(
                key="dormant",
                label_en="Dormant",
                label_zh="沉睡客户",
                all_of=[
                    Condition(
                        column=name["days_since_interaction"], op=">=", threshold=dormant_days
                    )
                ],
            ),
            RuleTier(
                key="highly_active",
                label_en="Highly active",
                label_zh="高活跃客户",
                all_of=[
                    Condition(
                        column=name["interactions_month"], op=">=", threshold=active_per_month
                    )
                ],
            ),
            RuleTier(key="active", label_en="Active", label_zh="一般活跃客户"),
        ],
    )


def lifecycle_stages(
    *,
    new_days: float = 90,
    dormant_days: float = 180,
    lost_days: float = 365,
    lost_p_alive: float = 0.1,
    decline_p_alive: float = 0.5,
    decline_ratio: float = 0.5,
    columns: Mapping[str, str] | None = None,
) -> RuleTiering:
    """Lifecycle stages (客户生命周期) from the event log and P(alive).

    First match wins, in this order:

    1. **acquisition** 获客期: no purchase yet (``purchases_total < 1``) or a first
       purchase less than ``new_days`` ago;
    2. **lost** 流失期: ``p_alive < lost_p_alive`` (BG/NBD) or no purchase for
       ``lost_days``;
    3. **win-back** 挽回期: no purchase for ``dormant_days`` (the practice guide's
       six months: follow-up and weekly win-back offers);
    4. **decline** 衰退期: ``p_alive < decline_p_alive`` or a recent purchase rate at
       most ``decline_ratio`` of the earlier rate (``recent_purchase_ratio``);
    5. **growth / retention** 成长/保持期: everyone else.

    A missing value (no P(alive) for a customer, no earlier rate) never meets a
    condition, so without a ``p_alive`` column value the day rules decide.

    Parameters
    ----------
    new_days : float, default 90
        Day threshold (the new stage), as above.
    dormant_days : float, default 180
        Day threshold (the dormant stage), as above.
    lost_days : float, default 365
        Day threshold (the lost stage), as above.
    lost_p_alive : float, default 0.1
        P(alive) threshold, as above.
    decline_p_alive : float, default 0.5
        P(alive) threshold, as above.
    decline_ratio : float, default 0.5
        Largest recent-to-earlier purchase rate ratio of a declining customer.
    columns : mapping, optional
        ``{input: column}`` for ``purchases_total``, ``first_purchase_days``,
        ``days_since_purchase``, ``p_alive`` and ``recent_purchase_ratio``.

    Returns
    -------
    RuleTiering

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"purchases_total": [0, 3, 9, 9, 9, 9],
    ...                       "first_purchase_days": [None, 40, 700, 700, 700, 700],
    ...                       "days_since_purchase": [None, 5, 400, 200, 20, 20],
    ...                       "p_alive": [None, 0.9, 0.3, 0.6, 0.9, 0.9],
    ...                       "recent_purchase_ratio": [None, None, 0.0, 0.0, 0.4, 1.2]})
    >>> lifecycle_stages().score(frame)["tier_key"].tolist()
    ['acquisition', 'acquisition', 'lost', 'win_back', 'decline', 'growth_retention']
    """
    name = _columns(
        (
            "purchases_total",
            "first_purchase_days",
            "days_since_purchase",
            "p_alive",
            "recent_purchase_ratio",
        ),
        columns,
        owner="lifecycle_stages",
    )
    return RuleTiering(
        name="lifecycle stages",
        tiers=[
            RuleTier(
                key="acquisition",
                label_en="Acquisition",
                label_zh="获客期",
                any_of=[
                    Condition(column=name["purchases_total"], op="<", threshold=1),
                    Condition(column=name["first_purchase_days"], op="<", threshold=new_days),
                ],
            ),
            RuleTier(
                key="lost",
                label_en="Lost",
                label_zh="流失期",
                any_of=[
                    Condition(column=name["p_alive"], op="<", threshold=lost_p_alive),
                    Condition(column=name["days_since_purchase"], op=">=", threshold=lost_days),
                ],
            ),
            RuleTier(
                key="win_back",
                label_en="Win-back",
                label_zh="挽回期",
                all_of=[
                    Condition(column=name["days_since_purchase"], op=">=", threshold=dormant_days)
                ],
            ),
            RuleTier(
                key="decline",
                label_en="Decline",
                label_zh="衰退期",
                any_of=[
                    Condition(column=name["p_alive"], op="<", threshold=decline_p_alive),
                    Condition(
                        column=name["recent_purchase_ratio"], op="<=", threshold=decline_ratio
                    ),
                ],
            ),
            RuleTier(key="growth_retention", label_en="Growth / retention", label_zh="成长/保持期"),
        ],
    )


RELATIONSHIP_INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        name="interaction_frequency",
        column="interactions_per_month",
        direction="benefit",
        normaliser=PercentileRank(),
    ),
    Indicator(name="spend", column="spend", direction="benefit", normaliser=PercentileRank()),
    Indicator(
        name="product_preference",
        column="product_preference",
        direction="benefit",
        normaliser=FixedRange(low=0.0, high=1.0),
    ),
    Indicator(
        name="feedback_participation",
        column="reviews",
        direction="benefit",
        normaliser=PercentileRank(),
    ),
    Indicator(
        name="complaint_record",
        column="complaints",
        direction="cost",
        normaliser=FixedRange(low=0, high=3),
    ),
)
"""The five dimensions of relationship quality (客户关系质量), read from
:func:`event_indicators` columns.

| dimension | column | direction | normalisation |
|---|---|---|---|
| interaction frequency 互动频率 | `interactions_per_month` | benefit | percentile rank |
| spend amount 消费金额 | `spend` (the year) | benefit | percentile rank |
| product preference 产品偏好 | `product_preference` (caller, 0-1) | benefit | fixed range 0-1 |
| feedback participation 反馈参与 | `reviews` (the year) | benefit | percentile rank |
| complaint record 投诉记录 | `complaints` (the year) | cost | fixed range 0-3 |

The event log has no product: ``product_preference`` is the caller's measure in 0-1
(e.g. the share of purchases in the customer's preferred category, or a match with
the product lines the company promotes).
"""


def relationship_scorecard(
    *,
    weights: PairwiseMatrix | DirectWeights | Mapping[str, float] | None = None,
    indicators: Sequence[Indicator] = (),
    product_preference: bool = True,
    tiers: TierScheme | None = None,
    missing: MissingPolicy = "error",
) -> Scorecard:
    """Build the five-dimension relationship-quality scorecard (客户关系质量评分).

    Interaction frequency, spend amount, product preference, feedback participation
    and complaint record (:data:`RELATIONSHIP_INDICATORS`), equally weighted unless
    ``weights`` says otherwise (the texts give no weights), over the columns of
    :func:`event_indicators` plus the caller's ``product_preference``.

    Parameters
    ----------
    weights : PairwiseMatrix, DirectWeights or mapping, optional
        Weights of the dimensions, by dimension name; equal by default.
    indicators : sequence of Indicator, optional
        Replacements for dimensions of the same name (another column or
        normalisation).
    product_preference : bool, default True
        ``False`` leaves that dimension out (four dimensions, equal weights).
    tiers : TierScheme, optional
        Tiers of the 0-100 relationship score. ``None`` (the default) means
        :data:`POLICY_TIERS`.
    missing : {"error", "median", "zero"}, default "error"
        As :class:`Scorecard`.

    Returns
    -------
    Scorecard

    Examples
    --------
    >>> import pandas as pd
    >>> card = relationship_scorecard()
    >>> [i.name for i in card.indicators][:2]
    ['interaction_frequency', 'spend']
    >>> card.hierarchy.global_weights()["complaint_record"]
    0.2
    >>> frame = pd.DataFrame({"interactions_per_month": [4.0, 1.0], "spend": [900.0, 100.0],
    ...                       "reviews": [3.0, 0.0], "complaints": [0.0, 3.0]})
    >>> relationship_scorecard(product_preference=False).fit(frame).score(frame)["score"].tolist()
    [100.0, 0.0]
    """
    overrides = {indicator.name: indicator for indicator in indicators}
    defaults = [
        i for i in RELATIONSHIP_INDICATORS if product_preference or i.name != "product_preference"
    ]
    names = [i.name for i in defaults]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise InvalidParameterError(
            f"relationship_scorecard: indicators names unknown dimension(s) {unknown}; "
            f"expected some of {names}."
        )
    specs = [overrides.get(i.name, i) for i in defaults]
    chosen = (
        DirectWeights(labels=names, values=[1 / len(names)] * len(names))
        if weights is None
        else weights
    )
    return Scorecard(
        hierarchy=Criterion(name="relationship quality", weights=chosen),
        indicators=specs,
        tiers=tiers,
        missing=missing,
    )
