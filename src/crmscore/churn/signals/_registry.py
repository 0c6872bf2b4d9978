"""The default signals and the registry that rebuilds a signal from its ``to_dict``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from crmscore._serialise import reads
from crmscore.churn.signals._behaviour import (
    AccountAnomaly,
    InteractionStop,
    PurchaseFrequencyDrop,
    PurchaseLapse,
    ReviewDrop,
)
from crmscore.churn.signals._emotion import ComplaintRise, NegativeReviews
from crmscore.churn.signals._model import AliveModel, PAliveBelow
from crmscore.churn.signals._value import CartAbandonment, SpendDrop
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from crmscore.churn.signals._base import ChurnSignal


#: The eight signals of the policy table, with the policy's thresholds.
DEFAULT_SIGNALS: tuple[ChurnSignal, ...] = (
    PurchaseFrequencyDrop(),
    InteractionStop(),
    ReviewDrop(),
    AccountAnomaly(),
    ComplaintRise(),
    NegativeReviews(),
    SpendDrop(),
    CartAbandonment(),
)

#: The signals of :class:`~crmscore.churn.EarlyWarning` by default: the eight policy
#: signals and the purchase lapse (30 to 60 days without a purchase: early enough to
#: warn 30 days before the 90-day churn criterion is met), which the default rules
#: use to warn customers who can still be kept rather than those already gone.
WARNING_SIGNALS: tuple[ChurnSignal, ...] = (*DEFAULT_SIGNALS, PurchaseLapse())

_SIGNAL_TYPES: dict[str, type[ChurnSignal]] = {
    cls.type_name: cls
    for cls in (
        PurchaseFrequencyDrop,
        PurchaseLapse,
        InteractionStop,
        ReviewDrop,
        AccountAnomaly,
        ComplaintRise,
        NegativeReviews,
        SpendDrop,
        CartAbandonment,
        PAliveBelow,
    )
}


@reads("type", optional=None, method=False)
def signal_from_dict(data: Mapping[str, Any], *, model: AliveModel | None = None) -> ChurnSignal:
    """Rebuild a signal from :meth:`ChurnSignal.to_dict`.

    Parameters
    ----------
    data : mapping
        The dictionary, with its ``type`` tag.
    model : AliveModel, optional
        The model of a P(alive) signal (models are not serialised with it).

    Returns
    -------
    ChurnSignal

    Raises
    ------
    InvalidParameterError
        Unknown ``type``, or a P(alive) signal without ``model``.

    Examples
    --------
    >>> signal_from_dict(InteractionStop(days=45).to_dict())
    InteractionStop(name='interaction_stop', days=45, kinds=('interaction', ...))
    """
    owner = "signal_from_dict"
    if not isinstance(data, Mapping):
        raise InvalidParameterError.for_value(
            name="data", owner=owner, allowed="a mapping", got=type(data).__name__
        )
    fields = dict(data)
    kind = fields.pop("type", None)
    cls = _SIGNAL_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidParameterError.for_value(
            name="type",
            owner=owner,
            allowed=f"one of {sorted(_SIGNAL_TYPES)}",
            got=kind,
        )
    known = {a.name for a in attrs.fields(cls)} - {"model"}  # type: ignore[arg-type]
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidParameterError(
            f"{owner}: a {kind!r} signal has no parameters {unknown}; its parameters are "
            f"{sorted(known)}."
        )
    if cls is PAliveBelow:
        if model is None:
            raise InvalidParameterError(
                "A P(alive) signal is serialised without its model; pass model= to rebuild it."
            )
        fields["model"] = model
    return cls(**fields)
