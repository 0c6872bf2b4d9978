"""The MBG/NBD purchase model: fitter (settings) and fitted model (a value).

Batislam, Denizel and Filiztekin (2007), "Empirical validation and comparison of
models for customer base analysis", International Journal of Research in Marketing
24(3), 201-209; with the erratum of Wagner and Hoppe (2008), IJRM 25(3), 225-226.

The BG/NBD of :mod:`crmscore.clv.bgnbd` in which a customer may also drop out at
time zero, right after the first purchase: customers without repeat purchases are
then no longer certainly alive. The parameters are the BG/NBD's (r, alpha, a, b),
held in :class:`~crmscore.BetaGeoParams`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, overload

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._params import BetaGeoParams
from crmscore.clv import _kernels
from crmscore.clv._base import PurchaseFitterBase, PurchaseModelBase
from crmscore.clv._expectation import mbgnbd_expected_purchases_at
from crmscore.clv._inputs import check_horizon, rfm_arrays

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from crmscore.clv._kernels import Derivatives, FloatArray, Params

__all__ = ["ModifiedBetaGeoFitter", "ModifiedBetaGeoModel"]


@attrs.frozen(kw_only=True, repr=False)  # keep the base's short repr
class ModifiedBetaGeoModel(PurchaseModelBase[BetaGeoParams]):
    r"""An MBG/NBD purchase model with known parameters: fitted, or built from them.

    A frozen value like :class:`~crmscore.BetaGeoModel`, with the same prediction
    methods; every prediction takes an RFM table (``frequency``, ``recency``, ``T``
    in the model's time unit) and returns a Series indexed like it.

    Examples
    --------
    The CDNOW estimates (weeks) of BTYDplus:

    >>> import pandas as pd
    >>> model = ModifiedBetaGeoModel.from_params(
    ...     BetaGeoParams(r=0.525, alpha=6.183, a=0.891, b=1.614), time_unit="W")
    >>> table = pd.DataFrame({"frequency": [0, 2, 2], "recency": [0.0, 30.4, 10.0],
    ...                       "T": [38.9, 38.9, 38.9]}, index=["a", "b", "c"])
    >>> model.probability_alive(table).round(3)
    a    0.390
    b    0.705
    c    0.234
    Name: p_alive, dtype: float64
    """

    _params_type: ClassVar[type[BetaGeoParams]] = BetaGeoParams
    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _html_title: ClassVar[str] = "ModifiedBetaGeoModel: MBG/NBD purchases"
    _lifetimes_name: ClassVar[str] = "ModifiedBetaGeoFitter"

    def probability_alive(self, table: pd.DataFrame) -> pd.Series[float]:
        r"""Probability that each customer is still alive.

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
        Batislam et al. (2007), appendix A, equation (5):

        .. math::

            P(\text{alive} \mid x, t_x, T) = \left(1 + \frac{a}{b + x}
            \left(\frac{\alpha + T}{\alpha + t_x}\right)^{r + x}\right)^{-1},

        below 1 also for customers without repeat purchases, unlike the BG/NBD.
        """
        return self._per_customer(
            table, _kernels.mbgnbd_probability_alive, name="p_alive", owner="probability_alive"
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
        Wagner and Hoppe (2008):

        .. math::

            E[Y(t) \mid x, t_x, T] = \frac{\frac{a + b + x}{a - 1}
            \left[1 - \left(\frac{\alpha + T}{\alpha + T + t}\right)^{r + x}
            {}_2F_1\left(r + x, b + x + 1; a + b + x; \frac{t}{\alpha + T + t}\right)
            \right]}{1 + \frac{a}{b + x}
            \left(\frac{\alpha + T}{\alpha + t_x}\right)^{r + x}}.

        The bracket is the BG/NBD's with ``b + 1`` for ``b``, evaluated by the same
        routes (the limit at a = 1, transforms and quadrature where ``hyp2f1``
        fails).

        Examples
        --------
        >>> import pandas as pd
        >>> model = ModifiedBetaGeoModel.from_params(
        ...     {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614})
        >>> table = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
        >>> model.expected_purchases(table, t=39).round(4).tolist()
        [1.263]
        """
        owner = "ModifiedBetaGeoModel.expected_purchases"
        horizon = check_horizon(t, owner=owner)
        frame, x, tx, age = rfm_arrays(table, owner=owner)
        (values,) = mbgnbd_expected_purchases_at(self._theta, x, tx, age, [horizon])
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
        .. math::

            E[X(t)] = \frac{b}{a - 1}\left[1 - \left(\frac{\alpha}{\alpha + t}
            \right)^r {}_2F_1\left(r, b + 1; a + b; \frac{t}{\alpha + t}\right)\right],

        the conditional expectation at x = t_x = T = 0.

        Examples
        --------
        >>> model = ModifiedBetaGeoModel.from_params(
        ...     {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614})
        >>> round(model.expected_purchases_new_customer(52.0), 4)
        1.4197
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
        .. math::

            P(X(t) = n) = \frac{B(a, b + n + 1)}{B(a, b)}
            \frac{\Gamma(r + n)}{\Gamma(r) n!}
            \left(\frac{\alpha}{\alpha + t}\right)^r
            \left(\frac{t}{\alpha + t}\right)^n
            + \frac{B(a + 1, b + n)}{B(a, b)} P(N(t) \ge n),

        with :math:`N(t)` the negative binomial count of a customer who never drops
        out; its tail is a regularised incomplete beta function (1 at n = 0).

        Examples
        --------
        >>> model = ModifiedBetaGeoModel.from_params(
        ...     {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614})
        >>> model.probability_of_purchases([0, 1, 2], t=52.0).round(4)
        array([0.5543, 0.1828, 0.09  ])
        """
        return self._per_count(
            n, t, _kernels.mbgnbd_probability_of_purchases, owner="probability_of_purchases"
        )

    def log_likelihood_of(self, table: pd.DataFrame) -> pd.Series[float]:
        """Log-likelihood of each customer's history under this model.

        Parameters
        ----------
        table : pandas.DataFrame
            RFM table with ``frequency``, ``recency``, ``T``.

        Returns
        -------
        pandas.Series
            ``log_likelihood``, indexed like ``table``; the sum is the total.
        """
        return self._per_customer(
            table, _kernels.mbgnbd_log_likelihood, name="log_likelihood", owner="log_likelihood_of"
        )


def _new_customer(theta: Params, horizons: FloatArray) -> FloatArray:
    """E[X(t)] of a new customer: the conditional expectation at x = t_x = T = 0."""
    zero = np.zeros(1)
    at = mbgnbd_expected_purchases_at(theta, zero, zero, zero, list(horizons))
    return np.array([values[0] for values in at], dtype=np.float64)


@attrs.frozen(kw_only=True)
class ModifiedBetaGeoFitter(PurchaseFitterBase[BetaGeoParams, ModifiedBetaGeoModel]):
    """Settings for fitting the MBG/NBD model by maximum likelihood.

    :meth:`fit` returns a :class:`ModifiedBetaGeoModel`; the fitter holds no data.
    The fit is the BG/NBD's (:class:`~crmscore.BetaGeoFitter`): compressed rows,
    Newton's method in a trust region on the log parameters with the analytic
    gradient and Hessian, standard errors from the observed information, the same
    default start and penalty.

    Examples
    --------
    >>> from lifetimes.datasets import load_cdnow_summary
    >>> model = ModifiedBetaGeoFitter().fit(load_cdnow_summary(index_col=[0]))
    >>> {k: round(v, 3) for k, v in model.params.to_dict().items()}
    {'r': 0.525, 'alpha': 6.183, 'a': 0.891, 'b': 1.614}
    """

    _model_type: ClassVar[type[ModifiedBetaGeoModel]] = ModifiedBetaGeoModel
    _model_label: ClassVar[str] = "MBG/NBD"
    _time_scaled: ClassVar[tuple[bool, ...]] = (False, True, False, False)

    def _objective(
        self, x: FloatArray, tx: FloatArray, age: FloatArray, counts: FloatArray
    ) -> Callable[[Params], Derivatives]:
        data = _kernels.prepare_bgnbd(x, tx, age, counts)
        return lambda theta: _kernels.bgnbd_derivatives(theta, data, modified=True)
