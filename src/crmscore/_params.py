"""Parameter values of the purchase and spend models (shared by clv and datasets)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import attrs

from crmscore._serialise import reads
from crmscore._validation import positive_finite, to_float

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["BetaGeoParams", "GammaGammaParams", "ParetoNBDParams"]


def _param() -> Any:
    return attrs.field(converter=to_float, validator=positive_finite)


@attrs.frozen(kw_only=True)
class BetaGeoParams:
    r"""Parameters of the BG/NBD purchase model (Fader, Hardie and Lee, 2005).

    While alive, a customer buys at rate :math:`\lambda \sim \text{Gamma}(r, \alpha)`
    (shape ``r``, rate ``alpha``, per period); after each repeat purchase the
    customer drops out with probability :math:`p \sim \text{Beta}(a, b)`.

    Examples
    --------
    >>> BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426).mean_purchase_rate
    0.05505210693248754
    """

    r: float = _param()
    """Shape of the purchase-rate distribution."""

    alpha: float = _param()
    """Rate (inverse scale, in periods) of the purchase-rate distribution."""

    a: float = _param()
    """First shape parameter of the dropout-probability distribution."""

    b: float = _param()
    """Second shape parameter of the dropout-probability distribution."""

    @property
    def mean_purchase_rate(self) -> float:
        """Population mean of the purchase rate per period, ``r / alpha``."""
        return self.r / self.alpha

    @property
    def mean_dropout(self) -> float:
        """Population mean of the dropout probability, ``a / (a + b)``."""
        return self.a / (self.a + self.b)

    def to_dict(self) -> dict[str, float]:
        """JSON-safe representation."""
        return attrs.asdict(self)

    @classmethod
    @reads("r", "alpha", "a", "b")
    def from_dict(cls, data: Mapping[str, Any]) -> BetaGeoParams:
        """Inverse of :meth:`to_dict`."""
        return cls(r=data["r"], alpha=data["alpha"], a=data["a"], b=data["b"])


@attrs.frozen(kw_only=True)
class GammaGammaParams:
    r"""Parameters of the Gamma-Gamma spend model (Fader, Hardie and Lee, 2005).

    A transaction's value is :math:`z \sim \text{Gamma}(p, \nu)` with a customer's
    :math:`\nu \sim \text{Gamma}(q, \gamma)` (``v`` here); the customer's mean
    spend is :math:`p / \nu`.

    Examples
    --------
    >>> round(GammaGammaParams(p=6.25, q=3.74, v=15.44).mean_spend, 2)
    35.22
    """

    p: float = _param()
    """Shape of a transaction's value given the customer."""

    q: float = _param()
    """Shape of the customer's scale distribution."""

    v: float = _param()
    """Rate of the customer's scale distribution (gamma in the paper)."""

    @property
    def mean_spend(self) -> float:
        """Population mean spend per transaction, ``p v / (q - 1)`` (infinite if q <= 1)."""
        return math.inf if self.q <= 1 else self.p * self.v / (self.q - 1)

    def to_dict(self) -> dict[str, float]:
        """JSON-safe representation."""
        return attrs.asdict(self)

    @classmethod
    @reads("p", "q", "v")
    def from_dict(cls, data: Mapping[str, Any]) -> GammaGammaParams:
        """Inverse of :meth:`to_dict`."""
        return cls(p=data["p"], q=data["q"], v=data["v"])


@attrs.frozen(kw_only=True)
class ParetoNBDParams:
    r"""Parameters of the Pareto/NBD purchase model (Schmittlein et al., 1987).

    While alive, a customer buys at rate :math:`\lambda \sim \text{Gamma}(r, \alpha)`;
    the customer's lifetime is exponential with rate
    :math:`\mu \sim \text{Gamma}(s, \beta)` (shapes ``r``, ``s``; rates ``alpha``,
    ``beta``, per period).

    Examples
    --------
    >>> ParetoNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669).mean_purchase_rate
    0.05227831348080923
    """

    r: float = _param()
    """Shape of the purchase-rate distribution."""

    alpha: float = _param()
    """Rate (inverse scale, in periods) of the purchase-rate distribution."""

    s: float = _param()
    """Shape of the dropout-rate distribution."""

    beta: float = _param()
    """Rate (inverse scale, in periods) of the dropout-rate distribution."""

    @property
    def mean_purchase_rate(self) -> float:
        """Population mean of the purchase rate per period, ``r / alpha``."""
        return self.r / self.alpha

    @property
    def mean_dropout_rate(self) -> float:
        """Population mean of the dropout rate per period, ``s / beta``."""
        return self.s / self.beta

    def to_dict(self) -> dict[str, float]:
        """JSON-safe representation."""
        return attrs.asdict(self)

    @classmethod
    @reads("r", "alpha", "s", "beta")
    def from_dict(cls, data: Mapping[str, Any]) -> ParetoNBDParams:
        """Inverse of :meth:`to_dict`."""
        return cls(r=data["r"], alpha=data["alpha"], s=data["s"], beta=data["beta"])
