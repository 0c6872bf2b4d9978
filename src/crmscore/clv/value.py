"""Discounted customer lifetime value from a purchase model and a spend model."""

from __future__ import annotations

import math
from numbers import Integral
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from crmscore._validation import NON_NEGATIVE, POSITIVE, InstanceOf, Interval, check_param
from crmscore.clv import _kernels
from crmscore.clv._expectation import discounted_purchases
from crmscore.clv._inputs import resolve_time_unit, rfm_arrays, spend_arrays
from crmscore.clv.bgnbd import BetaGeoModel
from crmscore.clv.gamma_gamma import GammaGammaModel, check_finite_spend
from crmscore.clv.mbgnbd import ModifiedBetaGeoModel
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from crmscore.clv._kernels import FloatArray

__all__ = ["PERIODS_PER_MONTH", "PurchaseModel", "customer_lifetime_value"]


@runtime_checkable
class PurchaseModel(Protocol):
    """What :func:`customer_lifetime_value` needs of a purchase model.

    Every purchase model of :mod:`crmscore.clv` has it (:class:`~crmscore.BetaGeoModel`,
    :class:`~crmscore.ModifiedBetaGeoModel`, ...); so can a model of your own.
    """

    @property
    def time_unit(self) -> str | None:
        """Unit of the model's time ("D", "W", "M"), or None if unknown."""
        ...

    def expected_purchases(self, table: pd.DataFrame, *, t: float) -> pd.Series[float]:
        """Predict each customer's purchases in the next ``t`` periods."""
        ...


#: Length of a month in each time unit: lifetimes' factors (30 days, 4.345 weeks).
PERIODS_PER_MONTH: dict[str, float] = {"D": 30.0, "W": 4.345, "M": 1.0}

_OWNER = "customer_lifetime_value"
_PURCHASE_MODEL = InstanceOf(
    PurchaseModel, "a purchase model (time_unit and expected_purchases(table, *, t))"
)
_SPEND_MODEL = InstanceOf(GammaGammaModel, "a GammaGammaModel")


def _check_number(value: object, *, name: str, constraint: Interval) -> float:
    number = math.nan if isinstance(value, bool) else _as_float(value)
    if not constraint.is_satisfied_by(number):
        check_param(value, constraint, name=name, owner=_OWNER)  # raises, quoting value
    return number


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _step_length(
    table: pd.DataFrame,
    purchase_model: PurchaseModel,
    periods_per_step: float | None,
    time_unit: str | None,
) -> float:
    if periods_per_step is not None:
        return _check_number(periods_per_step, name="periods_per_step", constraint=POSITIVE)
    table_unit = resolve_time_unit(time_unit, table, owner=_OWNER)
    model_unit = purchase_model.time_unit
    if table_unit is not None and model_unit is not None and table_unit != model_unit:
        raise InvalidParameterError(
            f"The table is in time unit {table_unit!r} but the purchase model was fitted in "
            f"{model_unit!r}; {_OWNER} needs both in the same unit."
        )
    unit = table_unit if table_unit is not None else model_unit
    if unit not in PERIODS_PER_MONTH:
        raise InvalidParameterError(
            f"{_OWNER} cannot tell the time unit of the table (no time_unit argument, "
            "attrs['time_unit'] is unset and the purchase model has no time_unit). Pass "
            "time_unit= (the unit of recency and T: 'D', 'W' or 'M'), or periods_per_step=, "
            "the number of periods in one discounting step (e.g. 30.0 for months in a daily "
            "table)."
        )
    return PERIODS_PER_MONTH[unit]


def customer_lifetime_value(
    table: pd.DataFrame,
    *,
    purchase_model: PurchaseModel,
    spend_model: GammaGammaModel,
    horizon: int,
    discount_rate: float,
    margin: float = 1.0,
    periods_per_step: float | None = None,
    time_unit: str | None = None,
) -> pd.Series[float]:
    r"""Compute the expected discounted value of each customer's purchases over a horizon.

    Parameters
    ----------
    table : pandas.DataFrame
        RFM table with ``frequency``, ``recency``, ``T``, ``monetary_value``, indexed
        by unique customer ids. The only positional argument.
    purchase_model : PurchaseModel
        Predicts how many purchases each customer makes: a
        :class:`~crmscore.BetaGeoModel`, :class:`~crmscore.ModifiedBetaGeoModel`, or
        any object with ``time_unit`` and ``expected_purchases(table, *, t)``
        (:class:`PurchaseModel`).
    spend_model : GammaGammaModel
        Predicts how much each purchase is worth.
    horizon : int
        Number of discounting steps (months by default) to sum over, >= 1.
    discount_rate : float
        Discount rate per step (e.g. 0.01 a month), >= 0.
    margin : float, default 1.0
        Share of spend that is profit (1.0 values revenue), >= 0.
    periods_per_step : float, optional
        Length of a step in the table's time unit. By default one month: 30 days,
        4.345 weeks or 1 month, from ``time_unit`` (as lifetimes' ``freq``).
    time_unit : {"D", "W", "M"}, optional
        Unit of the table's ``recency`` and ``T``. Defaults to
        ``table.attrs["time_unit"]``, then to the purchase model's ``time_unit``;
        pass it when the table did not come straight from :func:`crmscore.rfm_table`
        (pandas drops ``attrs`` through many operations and every file format).

    Returns
    -------
    pandas.Series
        ``clv``, indexed like ``table``, in the currency of ``monetary_value``.

    Raises
    ------
    InvalidParameterError
        A parameter outside its domain, or an unknown time unit (pass
        ``time_unit`` or ``periods_per_step``).
    InvalidDataError, ColumnNotFoundError
        The table breaks the contract of either model, or repeats a customer id.

    Notes
    -----
    With step length :math:`\Delta`, horizon :math:`H`, discount rate :math:`d` and
    margin :math:`\mu`,

    .. math::

        \text{CLV}_i = \mu \, E[M_i] \sum_{k=1}^{H}
        \frac{E[Y_i(k\Delta)] - E[Y_i((k - 1)\Delta)]}{(1 + d)^k},

    where :math:`E[Y_i(t)]` is the purchase model's conditional expectation (for the
    BG/NBD, equation 10 of Fader, Hardie and Lee 2005) and :math:`E[M_i]` the
    Gamma-Gamma expected spend (equation 5 of Fader and Hardie's note): purchases
    expected in step :math:`k` are valued at the customer's expected spend and
    discounted to today. This is the discounting scheme of lifetimes'
    ``customer_lifetime_value`` (which has no margin, i.e. :math:`\mu = 1`), and
    gives the same values at the same inputs. Spend is assumed independent of the
    purchase process, as the Gamma-Gamma model requires.

    Examples
    --------
    >>> import pandas as pd
    >>> from crmscore import BetaGeoParams, GammaGammaParams
    >>> purchases = BetaGeoModel.from_params(
    ...     BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426), time_unit="W")
    >>> spend = GammaGammaModel.from_params(GammaGammaParams(p=6.25, q=3.74, v=15.44))
    >>> table = pd.DataFrame({"frequency": [0, 2, 7], "recency": [0.0, 30.4, 35.0],
    ...                       "T": [38.9, 38.9, 38.9], "monetary_value": [0.0, 40.0, 25.0]})
    >>> customer_lifetime_value(table, purchase_model=purchases, spend_model=spend,
    ...                         horizon=12, discount_rate=0.01).round(2)
    0      8.36
    1     57.48
    2    133.30
    Name: clv, dtype: float64
    """
    check_param(purchase_model, _PURCHASE_MODEL, name="purchase_model", owner=_OWNER)
    check_param(spend_model, _SPEND_MODEL, name="spend_model", owner=_OWNER)
    check_param(horizon, Interval(Integral, 1, None, closed="left"), name="horizon", owner=_OWNER)
    rate = _check_number(discount_rate, name="discount_rate", constraint=NON_NEGATIVE)
    share = _check_number(margin, name="margin", constraint=NON_NEGATIVE)
    frame, sx, m = spend_arrays(table, owner=_OWNER)
    step = _step_length(frame, purchase_model, periods_per_step, time_unit)
    times = [k * step for k in range(1, int(horizon) + 1)]
    value = _discounted_purchases(frame, purchase_model, times, rate)

    g = spend_model.params
    check_finite_spend(g, frame.index, sx)  # never an infinite CLV
    spend = _kernels.gg_expected_spend((g.p, g.q, g.v), sx, np.where(sx > 0, m, 0.0))
    return pd.Series(share * spend * value, index=frame.index, name="clv")


def _discounted_purchases(
    frame: pd.DataFrame, model: PurchaseModel, times: list[float], rate: float
) -> FloatArray:
    """Sum every customer's purchases expected in each step, discounted to today.

    The BG/NBD and MBG/NBD sum the steps on the distinct (x, T) pairs and apply
    P(alive) once; any other model is asked once per step.
    """
    if isinstance(model, BetaGeoModel | ModifiedBetaGeoModel):
        _, x, tx, age = rfm_arrays(frame, owner=_OWNER)
        p = model.params
        return discounted_purchases(
            (p.r, p.alpha, p.a, p.b),
            x,
            tx,
            age,
            times,
            rate=rate,
            modified=isinstance(model, ModifiedBetaGeoModel),
        )
    value = np.zeros(len(frame))
    previous = np.zeros(len(frame))
    for k, t in enumerate(times, start=1):
        cumulative = np.asarray(model.expected_purchases(frame, t=t), dtype=np.float64)
        cumulative = cumulative.reshape(len(frame))
        value += (cumulative - previous) / (1.0 + rate) ** k
        previous = cumulative
    return value
