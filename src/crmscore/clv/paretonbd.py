"""The Pareto/NBD purchase model: fitter (settings) and fitted model (a value).

Schmittlein, Morrison and Colombo (1987), "Counting your customers: who are they
and what will they do next?", Management Science 33(1), 1-24; the likelihood and
predictions as in Fader and Hardie (2005), "A note on deriving the Pareto/NBD
model and related expressions", and Fader, Hardie and Lee (2005), "A note on
implementing the Pareto/NBD model in MATLAB".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, overload

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._groups import compress_rows
from crmscore._params import ParetoNBDParams
from crmscore.clv import _pareto
from crmscore.clv._base import PurchaseFitterBase, PurchaseModelBase
from crmscore.clv._fitting import maximize
from crmscore.clv._inputs import check_horizon, rfm_arrays
from crmscore.clv._pareto_counts import pareto_probability_of_purchases
from crmscore.errors import ConvergenceError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy.typing as npt

    from crmscore.clv._kernels import Derivatives, FloatArray, Params

__all__ = ["ParetoNBDFitter", "ParetoNBDModel"]

#: The warm start's grid: recency and T rounded to 1/_COARSE of the longest age.
_COARSE = 32
#: The warm start's tolerance (the full fit then converges to the fitter's own).
_COARSE_TOL = 1e-6


@attrs.frozen(kw_only=True, repr=False)  # keep the base's short repr
class ParetoNBDModel(PurchaseModelBase[ParetoNBDParams]):
    r"""An Pareto/NBD purchase model with known parameters: fitted, or built from them.

    A frozen value like :class:`~crmscore.BetaGeoModel`, with the same prediction
    methods; every prediction takes an RFM table (``frequency``, ``recency``, ``T``
    in the model's time unit) and returns a Series indexed like it.

    Examples
    --------
    The published CDNOW estimates (weeks; Fader, Hardie and Lee 2005):

    >>> import pandas as pd
    >>> model = ParetoNBDModel.from_params(
    ...     ParetoNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669), time_unit="W")
    >>> table = pd.DataFrame({"frequency": [0, 2, 2], "recency": [0.0, 30.4, 10.0],
    ...                       "T": [38.9, 38.9, 38.9]}, index=["a", "b", "c"])
    >>> model.probability_alive(table).round(3)
    a    0.295
    b    0.868
    c    0.268
    Name: p_alive, dtype: float64
    """

    _params_type: ClassVar[type[ParetoNBDParams]] = ParetoNBDParams
    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    _html_title: ClassVar[str] = "ParetoNBDModel: Pareto/NBD purchases"
    _lifetimes_name: ClassVar[str] = "ParetoNBDFitter"

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
        The share of the likelihood's "alive at T" term (Fader and Hardie's note,
        equation 21):

        .. math::

            P(\text{alive} \mid x, t_x, T) = \frac{(\alpha + T)^{-(r + x)}
            (\beta + T)^{-s}}{(\alpha + T)^{-(r + x)}(\beta + T)^{-s}
            + s \int_{t_x}^{T} (\alpha + \tau)^{-(r + x)}(\beta + \tau)^{-(s + 1)}
            d\tau},

        the integral being the note's hypergeometric term, evaluated by quadrature
        in log space (finite for every parameter value, where lifetimes' ``hyp2f1``
        overflows).

        Examples
        --------
        The BTYD walkthrough's customer (x = 26, t_x = 30.86, T = 31):

        >>> import pandas as pd
        >>> model = ParetoNBDModel.from_params(
        ...     {"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562})
        >>> table = pd.DataFrame({"frequency": [26], "recency": [30.86], "T": [31.0]})
        >>> model.probability_alive(table).round(4).tolist()
        [0.9979]
        """
        return self._per_customer(
            table, _pareto.pareto_probability_alive, name="p_alive", owner="probability_alive"
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
        Schmittlein et al. (1987), equation (22); Fader and Hardie's note, (27):

        .. math::

            E[Y(t) \mid x, t_x, T] = P(\text{alive}) \frac{(r + x)(\beta + T)}
            {(\alpha + T)(s - 1)}\left[1 - \left(\frac{\beta + T}{\beta + T + t}
            \right)^{s - 1}\right],

        with its limit :math:`\frac{(r + x)(\beta + T)}{\alpha + T}
        \ln\left(1 + \frac{t}{\beta + T}\right)` at s = 1.

        Examples
        --------
        The BTYD walkthrough's customer (x = 26, t_x = 30.86, T = 31), 52 weeks:

        >>> import pandas as pd
        >>> model = ParetoNBDModel.from_params(
        ...     {"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562})
        >>> table = pd.DataFrame({"frequency": [26], "recency": [30.86], "T": [31.0]})
        >>> model.expected_purchases(table, t=52).round(2).tolist()
        [25.45]
        """
        owner = "ParetoNBDModel.expected_purchases"
        horizon = check_horizon(t, owner=owner)
        frame, x, tx, age = rfm_arrays(table, owner=owner)
        values = _pareto.pareto_expected_purchases(self._theta, x, tx, age, horizon)
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
        Equation (17) of Fader and Hardie's note (with the limit at s = 1):

        .. math::

            E[X(t)] = \frac{r \beta}{\alpha (s - 1)}\left[1 - \left(\frac{\beta}
            {\beta + t}\right)^{s - 1}\right].

        Examples
        --------
        >>> model = ParetoNBDModel.from_params(
        ...     {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669})
        >>> model.expected_purchases_new_customer([1.0, 9.0]).round(4)
        array([0.051 , 0.3912])
        """
        return self._per_horizon(
            t, _pareto.pareto_expected_purchases_new, owner="expected_purchases_new_customer"
        )

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
        A customer alive at :math:`t` makes a negative binomial number of purchases;
        one who dies at :math:`\tau < t` a negative binomial number in
        :math:`\tau` (Fader and Hardie 2006, "Deriving an expression for
        P(X(t) = x) under the Pareto/NBD model"):

        .. math::

            P(X(t) = n) = \frac{\Gamma(r + n)}{\Gamma(r)\, n!}
            \left(\frac{\alpha}{\alpha + t}\right)^r
            \left(\frac{t}{\alpha + t}\right)^n
            \left(\frac{\beta}{\beta + t}\right)^s
            + \frac{s\, \alpha^r \beta^s\, \Gamma(r + n)}{\Gamma(r)\, n!}
            \int_0^t \frac{\tau^n\, d\tau}{(\alpha + \tau)^{r + n}
            (\beta + \tau)^{s + 1}}.

        The note writes the integral with Gauss hypergeometric functions and a sum
        whose terms cancel; crmscore integrates it as it is, in log space around its
        mode (known in closed form), so that it is accurate for any parameters, n
        and t. The conditional version for an existing customer,
        :math:`P(Y(t) = n \mid x, t_x, T)`, is
        :func:`crmscore.predict_purchase_distribution`.

        Examples
        --------
        >>> model = ParetoNBDModel.from_params(
        ...     {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669})
        >>> model.probability_of_purchases([0, 1, 2], t=39.0).round(4)
        array([0.5936, 0.1656, 0.0825])
        """
        return self._per_count(
            n, t, pareto_probability_of_purchases, owner="probability_of_purchases"
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
            table, _pareto.pareto_log_likelihood, name="log_likelihood", owner="log_likelihood_of"
        )


@attrs.frozen(kw_only=True)
class ParetoNBDFitter(PurchaseFitterBase[ParetoNBDParams, ParetoNBDModel]):
    """Settings for fitting the Pareto/NBD model by maximum likelihood.

    :meth:`fit` returns a :class:`ParetoNBDModel`; the fitter holds no data.
    The fit is the BG/NBD's (:class:`~crmscore.BetaGeoFitter`): Newton's method in
    a trust region on the log parameters with the analytic gradient and Hessian,
    standard errors from the observed information. The likelihood's integral term
    is evaluated once per distinct (frequency, recency) and (frequency, T) pair.
    Without ``initial_params`` the optimiser starts at r = s = 1, alpha such that
    r / alpha is the mean observed purchase rate, and beta the longest customer age;
    the penalty divides alpha and beta by the longest customer age. From there it
    first fits the rows with recency and T rounded to 1/32 of the longest age (cheap:
    few distinct pairs and rows), and the full fit starts at that optimum.

    Examples
    --------
    >>> from lifetimes.datasets import load_cdnow_summary
    >>> model = ParetoNBDFitter().fit(load_cdnow_summary(index_col=[0]))
    >>> {k: round(v, 2) for k, v in model.params.to_dict().items()}
    {'r': 0.55, 'alpha': 10.58, 's': 0.61, 'beta': 11.67}
    >>> round(model.log_likelihood, 1)
    -9595.0
    """

    _model_type: ClassVar[type[ParetoNBDModel]] = ParetoNBDModel
    _model_label: ClassVar[str] = "Pareto/NBD"
    _time_scaled: ClassVar[tuple[bool, ...]] = (False, True, False, True)

    def _start(self, rate: float, longest: float) -> Params:
        return (1.0, 1.0 / rate, 1.0, longest)

    def _objective(
        self, x: FloatArray, tx: FloatArray, age: FloatArray, counts: FloatArray
    ) -> Callable[[Params], Derivatives]:
        data = _pareto.prepare_pareto(x, tx, age, counts)
        return lambda theta: _pareto.pareto_derivatives(theta, data)

    def _warm_start(
        self,
        x: FloatArray,
        tx: FloatArray,
        age: FloatArray,
        counts: FloatArray,
        *,
        start: Params,
        longest: float,
    ) -> Params:
        """Fit the rows with recency and T rounded to 1/_COARSE of the longest age first.

        Each evaluation costs a quadrature per distinct (frequency, recency) and
        (frequency, T) pair and work per row; on the coarsened rows the optimiser's
        first, far iterations are cheap, and the full fit then needs only a few.
        Skipped where coarsening would not cut the rows by half.
        """
        coarse, weights = self._coarsen(x, tx, age, counts, longest=longest)
        if not self._coarse_pays(len(weights), len(x)):
            return start
        return self._coarse_fit(
            self._objective(coarse[0], coarse[1], coarse[2], weights),
            start=start,
            total_weight=float(weights.sum()),
            n_rows=len(weights),
            longest=longest,
        )

    @staticmethod
    def _coarsen(
        x: FloatArray, tx: FloatArray, age: FloatArray, counts: FloatArray, *, longest: float
    ) -> tuple[list[FloatArray], FloatArray]:
        """Round recency and T to 1/_COARSE of ``longest`` and compress the rows.

        A distributed fit calls this per partition (with the longest age of all).
        """
        grid = longest / _COARSE
        return compress_rows([x, np.round(tx / grid) * grid, np.round(age / grid) * grid], counts)

    @staticmethod
    def _coarse_pays(n_coarse: int, n_rows: int) -> bool:
        """Whether the warm start is worth it: coarsening halves the rows at least."""
        return n_coarse <= n_rows / 2

    def _coarse_fit(
        self,
        objective: Callable[[Params], Derivatives],
        *,
        start: Params,
        total_weight: float,
        n_rows: int,
        longest: float,
    ) -> Params:
        """Maximise the coarsened rows' likelihood from ``start`` (``start`` if it fails)."""
        try:
            optimum = maximize(
                objective,
                start=start,
                total_weight=total_weight,
                n_rows=n_rows,
                penalizer=self.penalizer,
                penalty_scale=(1.0, 1.0 / longest, 1.0, 1.0 / longest),
                tol=_COARSE_TOL,
                max_iterations=self.max_iterations,
                owner=type(self).__name__,
            )
        except ConvergenceError:
            return start
        return tuple(optimum.theta)
