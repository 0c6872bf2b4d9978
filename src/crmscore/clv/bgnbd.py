"""The BG/NBD purchase model: fitter (settings) and fitted model (a value).

Fader, Hardie and Lee (2005), "Counting your customers the easy way: an
alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, overload

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._groups import compress_rows
from crmscore._params import BetaGeoParams
from crmscore.clv import _kernels
from crmscore.clv._base import PurchaseFitterBase, PurchaseModelBase
from crmscore.clv._expectation import bgnbd_expected_purchases
from crmscore.clv._inputs import check_horizon, rfm_arrays, table_time_unit

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from crmscore.clv._kernels import Derivatives, FloatArray, Params

__all__ = ["BetaGeoFitter", "BetaGeoModel"]


@attrs.frozen(kw_only=True, repr=False)  # keep the base's short repr
class BetaGeoModel(PurchaseModelBase[BetaGeoParams]):
    r"""A BG/NBD purchase model with known parameters: fitted, or built from them.

    A frozen value: compare, hash, serialise with :meth:`to_dict`. Every prediction
    takes an RFM table (columns ``frequency``, ``recency``, ``T`` in the model's time
    unit) and returns a Series indexed like it.

    Examples
    --------
    The published CDNOW estimates (weeks):

    >>> import pandas as pd
    >>> model = BetaGeoModel.from_params(
    ...     BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426), time_unit="W")
    >>> table = pd.DataFrame({"frequency": [0, 2, 2], "recency": [0.0, 30.4, 10.0],
    ...                       "T": [38.9, 38.9, 38.9]}, index=["a", "b", "c"])
    >>> model.probability_alive(table).round(3)
    a    1.000
    b    0.726
    c    0.268
    Name: p_alive, dtype: float64
    >>> model.expected_purchases(table, t=52).round(3)
    a    0.252
    b    1.556
    c    0.575
    Name: expected_purchases, dtype: float64
    """

    _params_type: ClassVar[type[BetaGeoParams]] = BetaGeoParams
    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _html_title: ClassVar[str] = "BetaGeoModel: BG/NBD purchases"
    _lifetimes_name: ClassVar[str] = "BetaGeoFitter"

    def probability_alive(self, table: pd.DataFrame) -> pd.Series[float]:
        r"""Probability that each customer is still alive (has not dropped out).

        Parameters
        ----------
        table : pandas.DataFrame
            RFM table with ``frequency``, ``recency``, ``T``.

        Returns
        -------
        pandas.Series
            ``p_alive`` in [0, 1], indexed like ``table``.

        Notes
        -----
        .. math::

            P(\text{alive} \mid x, t_x, T) = \left(1 + \delta_{x>0} \frac{a}{b + x - 1}
            \left(\frac{\alpha + T}{\alpha + t_x}\right)^{r + x}\right)^{-1}

        (Fader, Hardie and Lee 2005, note "Computing P(alive) using the BG/NBD
        model"). A customer without repeat purchases is alive with probability 1:
        in the BG/NBD model a customer can drop out only right after a purchase.
        """
        return self._per_customer(
            table, _kernels.bgnbd_probability_alive, name="p_alive", owner="probability_alive"
        )

    def expected_purchases(self, table: pd.DataFrame, *, t: float) -> pd.Series[float]:
        r"""Predict the number of purchases of each customer in the next ``t`` periods.

        Parameters
        ----------
        table : pandas.DataFrame
            RFM table with ``frequency``, ``recency``, ``T``.
        t : float
            Horizon, in the table's time unit (>= 0).

        Returns
        -------
        pandas.Series
            ``expected_purchases``, indexed like ``table``.

        Notes
        -----
        Equation (10) of Fader, Hardie and Lee (2005):

        .. math::

            E[Y(t) \mid x, t_x, T] = \frac{\frac{a + b + x - 1}{a - 1}
            \left[1 - \left(\frac{\alpha + T}{\alpha + T + t}\right)^{r + x}
            {}_2F_1\left(r + x, b + x; a + b + x - 1; \frac{t}{\alpha + T + t}\right)
            \right]}{1 + \delta_{x>0} \frac{a}{b + x - 1}
            \left(\frac{\alpha + T}{\alpha + t_x}\right)^{r + x}}

        It is 0/0 at :math:`a = 1`; there (and within 1e-3 of it) crmscore returns
        the limit, where *lifetimes* returns NaN. Where scipy's
        ``hyp2f1`` fails for large parameters, equivalent transforms of the
        hypergeometric function, or a quadrature of the same expectation, take over.
        """
        horizon = check_horizon(t, owner="BetaGeoModel.expected_purchases")
        frame, x, tx, age = rfm_arrays(table, owner="BetaGeoModel.expected_purchases")
        values = bgnbd_expected_purchases(self._theta, x, tx, age, horizon)
        return pd.Series(values, index=frame.index, name="expected_purchases")

    @overload
    def expected_purchases_new_customer(self, t: float) -> float: ...

    @overload
    def expected_purchases_new_customer(
        self, t: Sequence[float] | npt.NDArray[Any]
    ) -> npt.NDArray[np.float64]: ...

    def expected_purchases_new_customer(
        self, t: float | Sequence[float] | npt.NDArray[Any]
    ) -> float | npt.NDArray[np.float64]:
        r"""Predict the repeat purchases of a new customer in their first ``t`` periods.

        Parameters
        ----------
        t : float or array-like of float
            Horizons (>= 0), in the model's time unit.

        Returns
        -------
        float or numpy.ndarray
            One value per horizon, shaped like ``t``.

        Notes
        -----
        Equation (9) of Fader, Hardie and Lee (2005),

        .. math::

            E[X(t)] = \frac{a + b - 1}{a - 1}\left[1 - \left(\frac{\alpha}{\alpha + t}
            \right)^r {}_2F_1\left(r, b; a + b - 1; \frac{t}{\alpha + t}\right)\right],

        the conditional expectation (10) at x = t_x = T = 0 (with the limit at a = 1).

        Examples
        --------
        >>> model = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793,
        ...                                   "b": 2.426})
        >>> round(model.expected_purchases_new_customer(52.0), 4)
        1.4461
        """
        return self._per_horizon(t, _new_customer, owner="expected_purchases_new_customer")

    @overload
    def probability_of_purchases(self, n: int, *, t: float) -> float: ...

    @overload
    def probability_of_purchases(
        self, n: Sequence[int] | npt.NDArray[Any], *, t: float | Sequence[float] | npt.NDArray[Any]
    ) -> npt.NDArray[np.float64]: ...

    def probability_of_purchases(
        self,
        n: int | Sequence[int] | npt.NDArray[Any],
        *,
        t: float | Sequence[float] | npt.NDArray[Any],
    ) -> float | npt.NDArray[np.float64]:
        r"""Probability that a new customer makes exactly ``n`` repeat purchases in ``t``.

        Parameters
        ----------
        n : int or array-like of int
            Numbers of repeat purchases (>= 0).
        t : float or array-like of float
            Horizons (>= 0), broadcast against ``n``.

        Returns
        -------
        float or numpy.ndarray
            :math:`P(X(t) = n)`, shaped like ``n`` and ``t`` broadcast together.

        Notes
        -----
        Equation (8) of Fader, Hardie and Lee (2005): the unconditional distribution
        of a **new** customer's repeat purchases in their first ``t`` periods. The
        conditional version for an existing customer with history
        :math:`(x, t_x, T)`, :math:`P(Y(t) = n \mid x, t_x, T)`, is
        :func:`crmscore.predict_purchase_distribution`.

        Its finite sum is the upper tail
        of a negative binomial, evaluated as a regularised incomplete beta function,
        so that small probabilities keep their relative precision (lifetimes loses
        them to cancellation).

        Examples
        --------
        >>> model = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793,
        ...                                   "b": 2.426})
        >>> model.probability_of_purchases([0, 1, 2], t=52.0).round(4)
        array([0.5384, 0.2046, 0.0906])
        """
        return self._per_count(
            n, t, _kernels.bgnbd_probability_of_purchases, owner="probability_of_purchases"
        )

    def log_likelihood_of(self, table: pd.DataFrame) -> pd.Series[float]:
        """Log-likelihood of each customer's history under this model (equation 6).

        Parameters
        ----------
        table : pandas.DataFrame
            RFM table with ``frequency``, ``recency``, ``T``.

        Returns
        -------
        pandas.Series
            ``log_likelihood``, indexed like ``table``; the sum is the total.

        Examples
        --------
        >>> import pandas as pd
        >>> model = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793,
        ...                                   "b": 2.426})
        >>> table = pd.DataFrame({"frequency": [0, 3], "recency": [0.0, 20.0],
        ...                       "T": [30.0, 30.0]})
        >>> model.log_likelihood_of(table).round(4).tolist()
        [-0.499, -11.7243]
        """
        return self._per_customer(
            table, _kernels.bgnbd_log_likelihood, name="log_likelihood", owner="log_likelihood_of"
        )


def _new_customer(theta: Params, horizons: FloatArray) -> FloatArray:
    """E[X(t)] of a new customer: the conditional expectation at x = t_x = T = 0."""
    zeros = np.zeros(horizons.size)
    return bgnbd_expected_purchases(theta, zeros, zeros, zeros, horizons)


@attrs.frozen(kw_only=True)
class BetaGeoFitter(PurchaseFitterBase[BetaGeoParams, BetaGeoModel]):
    """Settings for fitting the BG/NBD model by maximum likelihood.

    :meth:`fit` returns a :class:`BetaGeoModel`; the fitter itself holds no data.
    Without ``initial_params`` the optimiser starts at r = a = b = 1 and alpha such
    that r / alpha is the mean observed purchase rate; the penalty divides alpha by
    the longest customer age.

    Examples
    --------
    >>> from crmscore import make_transactions, rfm_table
    >>> book = make_transactions(2_000, seed=7)
    >>> table = rfm_table(book.transactions, as_of=book.as_of)
    >>> model = BetaGeoFitter().fit(table)
    >>> model.n_customers, model.convergence.converged
    (2000, True)
    >>> model.time_unit
    'D'
    """

    _model_type: ClassVar[type[BetaGeoModel]] = BetaGeoModel
    _model_label: ClassVar[str] = "BG/NBD"
    _time_scaled: ClassVar[tuple[bool, ...]] = (False, True, False, False)

    def _objective(
        self, x: FloatArray, tx: FloatArray, age: FloatArray, counts: FloatArray
    ) -> Callable[[Params], Derivatives]:
        data = _kernels.prepare_bgnbd(x, tx, age, counts)
        return lambda theta: _kernels.bgnbd_derivatives(theta, data)

    @staticmethod
    def aggregate(table: pd.DataFrame) -> pd.DataFrame:
        """Sufficient statistics of an RFM table: distinct rows and their counts.

        Parameters
        ----------
        table : pandas.DataFrame
            RFM table with ``frequency``, ``recency``, ``T``.

        Returns
        -------
        pandas.DataFrame
            Columns ``frequency`` (int), ``recency``, ``T``, ``count`` (int), sorted by
            the first three; ``attrs`` keeps the table's ``time_unit``.

        Examples
        --------
        >>> import pandas as pd
        >>> table = pd.DataFrame({"frequency": [1, 0, 1], "recency": [3.0, 0, 3],
        ...                       "T": [9.0, 4, 9]})
        >>> BetaGeoFitter.aggregate(table)
           frequency  recency    T  count
        0          0      0.0  4.0      1
        1          1      3.0  9.0      2
        """
        frame, x, tx, age = rfm_arrays(table, owner="BetaGeoFitter.aggregate")
        (x, tx, age), counts = compress_rows([x, tx, age])
        stats = pd.DataFrame(
            {
                "frequency": x.astype(np.int64),
                "recency": tx,
                "T": age,
                "count": counts.astype(np.int64),
            }
        )
        unit = table_time_unit(frame)
        if unit is not None:
            stats.attrs = {"time_unit": unit}
        return stats
