"""The rescoring policy: a frozen, JSON-safe description of what the engine does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from crmscore._periods import TIME_UNITS, TimeUnit
from crmscore._serialise import reads
from crmscore._validation import (
    NON_NEGATIVE,
    InstanceOf,
    OneOf,
    Optional,
    check_param,
    integer_at_least,
    non_negative_finite,
    optional_integer_at_least,
    validator,
)
from crmscore.churn import EarlyWarning, LearnedWarning, PAliveBelow
from crmscore.clv import BetaGeoFitter, GammaGammaFitter
from crmscore.errors import InvalidParameterError
from crmscore.rescoring._summary import policy_html
from crmscore.tiering import Scorecard

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["CLVStage", "RescoringPolicy", "TierAdjustment"]


def _amount(name: str, *, optional: bool) -> Callable[[Any], Any]:
    """Make the converter of a float field: a finite number >= 0 (or ``None``).

    It raises :class:`InvalidParameterError` naming the field for anything else
    (a string, a bool, NaN, a negative number, or ``None`` where not allowed).
    """
    constraint = Optional(NON_NEGATIVE) if optional else NON_NEGATIVE

    def convert(value: Any) -> float | None:
        check_param(value, constraint, name=name, owner="RescoringPolicy")
        return None if value is None else float(value)

    return convert


def _to_margin(value: Any) -> float:
    converted: float = _amount("retention_margin", optional=False)(value)
    return converted


def _to_large_transaction(value: Any) -> float | None:
    converted: float | None = _amount("large_transaction", optional=True)(value)
    return converted


def _to_invitation_spend(value: Any) -> float | None:
    converted: float | None = _amount("invitation_spend", optional=True)(value)
    return converted


_count = integer_at_least
_optional_count = optional_integer_at_least(1)


@attrs.frozen(kw_only=True)
class TierAdjustment:
    """An immediate, temporary tier change set off by an event.

    Either ``to_tier`` (a tier key or label) or ``steps`` (tiers up, positive, or
    down, negative) says where the customer goes. A downgrade never raises the
    tier and an upgrade never lowers it. The adjustment is an override that lasts
    ``expires_after_days`` days, or until the next review when that is ``None``.

    Examples
    --------
    >>> TierAdjustment(steps=-1)  # a major default: one tier down until the review
    TierAdjustment(to_tier=None, steps=-1, expires_after_days=None)
    >>> TierAdjustment(to_tier="gold", expires_after_days=180)  # a strategic signing
    TierAdjustment(to_tier='gold', steps=0, expires_after_days=180)
    """

    to_tier: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    """Target tier (key or label), or ``None`` to move by ``steps``."""

    steps: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))
    """Tiers to move when ``to_tier`` is ``None``: negative is down."""

    expires_after_days: int | None = attrs.field(default=None, validator=_optional_count)
    """Days the adjustment lasts; ``None`` lasts until the next review."""

    def __attrs_post_init__(self) -> None:
        if (self.to_tier is None) == (self.steps == 0):
            raise InvalidParameterError(
                "TierAdjustment needs exactly one of to_tier (a tier) or steps (non-zero); got "
                f"to_tier={self.to_tier!r}, steps={self.steps}."
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return attrs.asdict(self)

    @classmethod
    @reads(optional=("to_tier", "steps", "expires_after_days"))
    def from_dict(cls, data: Mapping[str, Any]) -> TierAdjustment:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


@attrs.frozen(kw_only=True)
class CLVStage:
    """The CLV step of the chain: BG/NBD and Gamma-Gamma, refitted at reviews.

    It adds the columns ``p_alive`` and ``clv`` (see
    :func:`crmscore.customer_lifetime_value`) that the scorecard can use as
    indicators, e.g. ``Indicator(name="clv", direction="benefit", ...)``.
    """

    horizon: int = attrs.field(default=12, validator=integer_at_least(1))
    """Months of future purchases the CLV sums."""

    discount_rate: float = attrs.field(default=0.01, converter=float, validator=non_negative_finite)
    """Discount rate per month."""

    margin: float = attrs.field(default=1.0, converter=float, validator=non_negative_finite)
    """Share of spend that is profit (1.0 values revenue)."""

    refit_on_review: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    """Refit both models on the whole book at every review (always at the first)."""

    purchase_fitter: BetaGeoFitter = attrs.field(
        factory=BetaGeoFitter,
        validator=validator(InstanceOf(BetaGeoFitter, "a BetaGeoFitter")),
    )
    """Settings of the BG/NBD fit at reviews (penalizer, tolerance, iterations)."""

    spend_fitter: GammaGammaFitter = attrs.field(
        factory=GammaGammaFitter,
        validator=validator(InstanceOf(GammaGammaFitter, "a GammaGammaFitter")),
    )
    """Settings of the Gamma-Gamma fit at reviews."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            **attrs.asdict(self, recurse=False),
            "purchase_fitter": self.purchase_fitter.to_dict(),
            "spend_fitter": self.spend_fitter.to_dict(),
        }

    @classmethod
    @reads(
        optional=(
            "horizon",
            "discount_rate",
            "margin",
            "refit_on_review",
            "purchase_fitter",
            "spend_fitter",
        )
    )
    def from_dict(cls, data: Mapping[str, Any]) -> CLVStage:
        """Inverse of :meth:`to_dict` (a dict without fitters gets the default ones)."""
        fields = dict(data)
        if "purchase_fitter" in fields:
            fields["purchase_fitter"] = BetaGeoFitter.from_dict(fields["purchase_fitter"])
        if "spend_fitter" in fields:
            fields["spend_fitter"] = GammaGammaFitter.from_dict(fields["spend_fitter"])
        return cls(**fields)


def _optional_adjustment(value: TierAdjustment | Mapping[str, Any] | None) -> TierAdjustment | None:
    if value is None or isinstance(value, TierAdjustment):
        return value
    return TierAdjustment.from_dict(value)


@attrs.frozen(kw_only=True)
class RescoringPolicy:
    """What the engine computes and which rules move tiers (defaults from the policy texts).

    The scoring chain is RFM → CLV → churn → the tiering ``scorecard``: the
    scorecard's indicators may name any column of :func:`crmscore.rfm_table`
    (``total_spend``, ``time_since_last``, ``frequency`` ...), ``p_alive`` and
    ``clv`` when the ``clv`` step is on, ``churn_level`` (0 none, 1 blue, 2 yellow,
    3 red) when the ``churn`` step is on, or an attribute the service supplies with
    :func:`set_attributes`. Its tier scheme and rules are the book's tiers.

    Examples
    --------
    >>> from crmscore.tiering import Criterion, Indicator, MinMax, Scorecard
    >>> card = Scorecard(
    ...     hierarchy=Criterion(name="value", weights={"total_spend": 0.7, "time_since_last": 0.3}),
    ...     indicators=[Indicator(name="total_spend", direction="benefit", normaliser=MinMax()),
    ...                 Indicator(name="time_since_last", direction="cost", normaliser=MinMax())],
    ... )
    >>> policy = RescoringPolicy(scorecard=card)
    >>> policy.review_months, policy.retention_reviews, policy.large_transaction
    (3, 2, 10000.0)
    """

    scorecard: Scorecard = attrs.field(validator=attrs.validators.instance_of(Scorecard))
    """The tiering scorecard (settings; its normalisation is learned at reviews)."""

    time_unit: TimeUnit = attrs.field(default="D", validator=validator(OneOf(TIME_UNITS)))
    """Period of the RFM columns the scorecard reads."""

    review_months: int = attrs.field(default=3, validator=_count(1))
    """Months between periodic reviews (周期性复审): 3 is quarterly, 1 monthly."""

    refit_on_review: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    """Relearn the scorecard's normalisation on the whole book at every review."""

    large_transaction: float | None = attrs.field(default=10_000.0, converter=_to_large_transaction)
    """A purchase of at least this amount re-scores and re-tiers its customer at once."""

    default_adjustment: TierAdjustment | None = attrs.field(
        default=TierAdjustment(steps=-1), converter=_optional_adjustment
    )
    """What a ``default`` event (重大违约) does: one tier down until the next review."""

    signing_adjustment: TierAdjustment | None = attrs.field(
        default=TierAdjustment(to_tier="gold", expires_after_days=180),
        converter=_optional_adjustment,
    )
    """What a ``strategic_signing`` event (战略合作签约) does: Gold for 180 days.

    The default names the ``gold`` tier: with a tier scheme without one, pass an
    adjustment to one of its tiers (or ``None``)."""

    invitation_spend: float | None = attrs.field(default=1000.0, converter=_to_invitation_spend)
    """Cumulative spend that triggers the one-off VIP upgrade invitation action."""

    follow_up_months: int | None = attrs.field(default=6, validator=_optional_count)
    """Months without a purchase after which a customer is flagged for follow-up."""

    win_back_days: int | None = attrs.field(default=None, validator=_optional_count)
    """Days between ``win_back`` offers while the follow-up flag is up; ``None`` (the
    default) raises none. The practice guide's weekly offer is ``7``: off by default
    because it writes one audit row per idle customer per week, which a service that
    schedules its own offers from the follow-up flag does not need."""

    retention_margin: float = attrs.field(default=5.0, converter=_to_margin)
    """Points below a tier's lower bound a score may fall and still keep the tier."""

    retention_reviews: int = attrs.field(default=2, validator=_count(1))
    """Consecutive reviews below the margin before a customer is moved down."""

    clv: CLVStage | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(CLVStage))
    )
    """The CLV step (``p_alive``, ``clv`` columns), or ``None`` to leave it out."""

    churn: EarlyWarning | LearnedWarning | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(
            attrs.validators.instance_of((EarlyWarning, LearnedWarning))
        ),
    )
    """The churn step: levels measured at reviews (``churn_level`` 0 none .. 3 red), by
    rules (:class:`~crmscore.churn.EarlyWarning`) or by a fitted
    :class:`~crmscore.churn.LearnedWarning` (its levels; only the built-in logistic
    model, which serialises with the policy)."""

    def __attrs_post_init__(self) -> None:
        if isinstance(self.churn, LearnedWarning) and self.churn.estimator is not None:
            raise InvalidParameterError(
                "RescoringPolicy: the churn step cannot hold a LearnedWarning with a plugged-in "
                f"{type(self.churn.estimator).__name__} (it is not serialisable with the "
                "policy). Fit it with the built-in logistic model."
            )
        if isinstance(self.churn, EarlyWarning) and any(
            isinstance(s, PAliveBelow) for s in self.churn.signals
        ):
            raise InvalidParameterError(
                "RescoringPolicy: the churn step cannot hold a PAliveBelow signal (its model "
                "is not serialisable with the policy). Turn on the clv step and use its "
                "p_alive column as a scorecard indicator instead."
            )
        tiers = self.scorecard.tiers
        for name, adjustment in (
            ("default_adjustment", self.default_adjustment),
            ("signing_adjustment", self.signing_adjustment),
        ):
            if adjustment is not None and adjustment.to_tier is not None:
                try:
                    tiers.index(adjustment.to_tier)
                except InvalidParameterError as error:
                    raise InvalidParameterError(
                        f"The '{name}' parameter of RescoringPolicy moves customers to tier "
                        f"{adjustment.to_tier!r}, which the scorecard's tier scheme lacks: "
                        f"{error} Pass {name}=TierAdjustment(to_tier=...) with one of its "
                        f"tiers, or {name}=None to switch the rule off."
                    ) from error

    def _repr_html_(self) -> str:
        return policy_html(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "scorecard": self.scorecard.to_dict(),
            "time_unit": self.time_unit,
            "review_months": self.review_months,
            "refit_on_review": self.refit_on_review,
            "large_transaction": self.large_transaction,
            "default_adjustment": None
            if self.default_adjustment is None
            else self.default_adjustment.to_dict(),
            "signing_adjustment": None
            if self.signing_adjustment is None
            else self.signing_adjustment.to_dict(),
            "invitation_spend": self.invitation_spend,
            "follow_up_months": self.follow_up_months,
            "win_back_days": self.win_back_days,
            "retention_margin": self.retention_margin,
            "retention_reviews": self.retention_reviews,
            "clv": None if self.clv is None else self.clv.to_dict(),
            "churn": None if self.churn is None else self.churn.to_dict(),
        }

    @classmethod
    @reads(
        "scorecard",
        optional=(
            "time_unit",
            "review_months",
            "refit_on_review",
            "large_transaction",
            "default_adjustment",
            "signing_adjustment",
            "invitation_spend",
            "follow_up_months",
            "win_back_days",
            "retention_margin",
            "retention_reviews",
            "clv",
            "churn",
        ),
    )
    def from_dict(cls, data: Mapping[str, Any]) -> RescoringPolicy:
        """Inverse of :meth:`to_dict`."""
        fields = dict(data)
        fields["scorecard"] = Scorecard.from_dict(fields["scorecard"])
        clv, churn = fields.pop("clv", None), fields.pop("churn", None)
        return cls(
            **fields,
            clv=None if clv is None else CLVStage.from_dict(clv),
            churn=_churn_from_dict(churn),
        )


def _churn_from_dict(data: Mapping[str, Any] | None) -> EarlyWarning | LearnedWarning | None:
    """Rebuild the churn step: a learned warning's dictionary has ``terms``."""
    if data is None:
        return None
    if "terms" in data:
        return LearnedWarning.from_dict(data)
    return EarlyWarning.from_dict(data)
