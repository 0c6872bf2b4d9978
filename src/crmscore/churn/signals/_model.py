"""The model signal: P(alive) from any fitted purchase model (:class:`AliveModel`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import attrs
import numpy as np
import pandas as pd

from crmscore._periods import TIME_UNITS, TimeUnit
from crmscore._validation import to_float
from crmscore.churn.signals._base import ChurnSignal, SignalResult, _fraction, _name, one_of
from crmscore.errors import InvalidDataError, InvalidParameterError
from crmscore.rfm import rfm_table

if TYPE_CHECKING:
    from crmscore.churn._context import EventContext


@runtime_checkable
class AliveModel(Protocol):
    """Anything that gives P(alive) from an RFM table (e.g. a fitted BG/NBD model).

    ``table`` is a table from :func:`crmscore.rfm.rfm_table` (``frequency``,
    ``recency``, ``T`` in the model's time unit); the result is indexed like it.
    """

    def probability_alive(self, table: pd.DataFrame) -> pd.Series[float]:
        """P(the customer is still active) for every row of ``table``."""
        ...


def _alive_model(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not callable(getattr(value, "probability_alive", None)):
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=type(instance).__name__,
            allowed="an object with a probability_alive(table) method",
            got=type(value).__name__,
        )


@attrs.frozen(kw_only=True)
class PAliveBelow(ChurnSignal):
    """P(alive) from a fitted purchase model below a threshold.

    Exact definition: the purchase events up to ``as_of`` are summarised with
    :func:`crmscore.rfm.rfm_table` in ``time_unit`` (amount = ``value``), the
    model's ``probability_alive`` gives ``value``, and the signal fires when
    ``value < threshold``. Customers without a purchase are not judged. The model
    is any object with ``probability_alive(table) -> Series`` (:class:`AliveModel`),
    such as a fitted BG/NBD model; it must have been fitted in the same
    ``time_unit``.

    Examples
    --------
    >>> class Constant:
    ...     def probability_alive(self, table):
    ...         return pd.Series(0.25, index=table.index)
    >>> PAliveBelow(model=Constant()).describe(0.25, float("nan"))
    'P(alive) 0.25, below 0.5'
    """

    group: ClassVar[str] = "model"
    type_name: ClassVar[str] = "p_alive"

    model: AliveModel = attrs.field(validator=_alive_model)
    """The fitted model (not serialised by :meth:`to_dict`)."""

    name: str = _name("p_alive_low")
    """Name of the signal in rules and output columns."""

    threshold: float = attrs.field(default=0.5, converter=to_float, validator=_fraction)
    """P(alive) strictly below this fires the signal."""

    time_unit: TimeUnit = attrs.field(default="D", validator=one_of(TIME_UNITS))
    """Time unit of the RFM table the model expects."""

    def compute(self, context: EventContext) -> SignalResult:
        """Measure the signal for every customer of the log."""
        events = context.events
        value = np.full(context.n, np.nan)
        purchases = context.subset(("purchase",), owner=type(self).__name__)
        if purchases.codes.size:
            transactions = pd.DataFrame(
                {
                    "customer": purchases.codes,
                    "timestamp": purchases.stamps.view(events.stamps.dtype),
                    "amount": purchases.numbers,
                }
            )
            table = rfm_table(
                transactions, as_of=events.as_of, time_unit=self.time_unit, customer_col="customer"
            )
            codes = table.index.to_numpy()
            table.index = events.customers[codes]
            alive: object = self.model.probability_alive(table)
            if not isinstance(alive, pd.Series) or not alive.index.equals(table.index):
                raise InvalidDataError(
                    f"{type(self.model).__name__}.probability_alive must return a Series "
                    "indexed like the RFM table it is given."
                )
            p = alive.to_numpy(dtype=np.float64, na_value=np.nan)
            bad = ~((p >= 0) & (p <= 1))
            if bad.any():
                raise InvalidDataError.for_ids(
                    column=None,
                    problem=f"{type(self.model).__name__}.probability_alive gives values "
                    "outside [0, 1] or NaN",
                    ids=list(table.index[bad][:5]),
                    n_offending=int(bad.sum()),
                )
            value[codes] = p
        return SignalResult(fired=value < self.threshold, value=value)

    def describe(self, value: float, reference: float) -> str:  # noqa: ARG002
        """One human-readable line for a measured value."""
        return f"P(alive) {value:.2f}, below {self.threshold:g}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation, without the model."""
        return {
            "type": self.type_name,
            "name": self.name,
            "threshold": self.threshold,
            "time_unit": self.time_unit,
        }
