"""The BG/NBD purchase model: fitter (settings) and fitted model (a value).

Fader, Hardie and Lee (2005), "Counting your customers the easy way: an
alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._groups import compress_rows
from crmscore._params import BetaGeoParams
from crmscore._progress import ProgressReporter
from crmscore._serialise import reads
from crmscore._validation import non_negative_finite, positive_finite, to_float
from crmscore.clv import _kernels
from crmscore.clv._expectation import bgnbd_expected_purchases
from crmscore.clv._fitting import (
    DEFAULT_MAX_ITERATIONS,
    DEFAULT_TOL,
    FIT_RESULT_KEYS,
    OPTIMISED,
    PREPARED,
    SETTINGS_KEYS,
    ConvergenceReport,
    Matrix,
    check_covariance,
    fit_result_from_dict,
    fit_result_to_dict,
    fitted_model_html,
    fitted_model_repr,
    lifetimes_class,
    lifetimes_params,
    maximize,
    optional_finite,
    optional_positive_int,
    parameter_summary,
    positive_int,
    settings_from_dict,
    settings_to_dict,
    standard_errors,
    to_matrix,
)
from crmscore.clv._inputs import (
    check_counts,
    check_horizon,
    check_horizons,
    check_identifiable,
    check_time_unit,
    frame_columns,
    one_table,
    resolve_time_unit,
    rfm_arrays,
    table_time_unit,
)
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from crmscore.clv._kernels import FloatArray

__all__ = ["BetaGeoFitter", "BetaGeoModel"]

_NAMES = ("r", "alpha", "a", "b")


@attrs.frozen(kw_only=True)
class BetaGeoModel:
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

    params: BetaGeoParams = attrs.field(validator=attrs.validators.instance_of(BetaGeoParams))
    """The parameters r, alpha, a, b (alpha in the model's time unit)."""

    covariance: Matrix | None = attrs.field(
        default=None, converter=to_matrix, validator=check_covariance(4)
    )
    """Covariance of (r, alpha, a, b): the inverse observed information at the optimum;
    None when the model was built from parameters."""

    log_likelihood: float | None = attrs.field(
        default=None, converter=attrs.converters.optional(to_float), validator=optional_finite
    )
    """Total log-likelihood of the fitted customers (without penalty); None if unfitted."""

    n_customers: int | None = attrs.field(default=None, validator=optional_positive_int)
    """Customers the model was fitted on; None if built from parameters."""

    convergence: ConvergenceReport | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(ConvergenceReport)),
    )
    """The optimiser's report; None if built from parameters."""

    time_unit: str | None = attrs.field(default=None, validator=check_time_unit)
    """Unit of recency, T and t ("D", "W", "M"), taken from the fitted table's
    ``attrs``; None if unknown."""

    @classmethod
    def from_params(
        cls, params: BetaGeoParams | Mapping[str, float], *, time_unit: str | None = None
    ) -> BetaGeoModel:
        """Build a model from known (e.g. published) parameters.

        Parameters
        ----------
        params : BetaGeoParams or mapping
            ``r``, ``alpha``, ``a``, ``b``.
        time_unit : {"D", "W", "M"}, optional
            The unit ``alpha`` is expressed in.

        Returns
        -------
        BetaGeoModel
        """
        if not isinstance(params, BetaGeoParams):
            params = BetaGeoParams.from_dict(params)
        return cls(params=params, time_unit=time_unit)

    def __repr__(self) -> str:
        return fitted_model_repr(self)

    def _repr_html_(self) -> str:
        """Parameters with standard errors and confidence intervals, as an HTML table."""
        return fitted_model_html(self, title="BetaGeoModel: BG/NBD purchases")

    # --- statistics ---------------------------------------------------------------

    @property
    def standard_errors(self) -> dict[str, float] | None:
        """Standard errors of r, alpha, a, b (None if built from parameters)."""
        return standard_errors(self.covariance, _NAMES)

    def summary(self, *, level: float = 0.95) -> pd.DataFrame:
        """Estimates, standard errors and confidence intervals.

        The intervals are Wald intervals on the log scale (the scale of the fit), so
        they stay positive: ``estimate * exp(+- z * se / estimate)``.

        Parameters
        ----------
        level : float, default 0.95
            Confidence level.

        Returns
        -------
        pandas.DataFrame
            Indexed by parameter name: ``estimate``, ``std_error``, ``lower``, ``upper``
            (NaN for the last three when the model was built from parameters).

        Examples
        --------
        >>> from crmscore import make_rfm_summary
        >>> truth = BetaGeoParams(r=0.5, alpha=20.0, a=0.8, b=3.0)
        >>> model = BetaGeoFitter().fit(make_rfm_summary(50_000, seed=1, purchase=truth))
        >>> ci = model.summary(level=0.99)
        >>> list(ci.columns)
        ['estimate', 'std_error', 'lower', 'upper']
        >>> bool(((ci["lower"] < ci["estimate"]) & (ci["estimate"] < ci["upper"])).all())
        True
        """
        return parameter_summary(self.params.to_dict(), self.standard_errors, level=level)

    # --- predictions ----------------------------------------------------------------

    @property
    def _theta(self) -> tuple[float, float, float, float]:
        p = self.params
        return (p.r, p.alpha, p.a, p.b)

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
        frame, x, tx, age = rfm_arrays(table, owner="BetaGeoModel.probability_alive")
        values = _kernels.bgnbd_probability_alive(self._theta, x, tx, age)
        return pd.Series(values, index=frame.index, name="p_alive")

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
        horizons = np.asarray(t, dtype=np.float64)
        check_horizons(horizons, owner="BetaGeoModel.expected_purchases_new_customer")
        flat = horizons.ravel()
        zeros = np.zeros(flat.size)
        values = bgnbd_expected_purchases(self._theta, zeros, zeros, zeros, flat)
        values = values.reshape(horizons.shape)
        return float(values) if values.ndim == 0 else values

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
        owner = "BetaGeoModel.probability_of_purchases"
        counts = np.asarray(n, dtype=np.float64)
        horizons = np.asarray(t, dtype=np.float64)
        if (
            not (np.isfinite(counts).all() and (counts >= 0).all())
            or (counts != np.floor(counts)).any()
        ):
            raise InvalidParameterError.for_value(
                name="n", owner=owner, allowed="whole numbers >= 0", got=n
            )
        check_horizons(horizons, owner=owner)
        counts, horizons = np.broadcast_arrays(counts, horizons)
        values = _kernels.bgnbd_probability_of_purchases(
            self._theta, counts.ravel(), horizons.ravel()
        ).reshape(counts.shape)
        return float(values) if values.ndim == 0 else values

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
        frame, x, tx, age = rfm_arrays(table, owner="BetaGeoModel.log_likelihood_of")
        values = _kernels.bgnbd_log_likelihood(self._theta, x, tx, age)
        return pd.Series(values, index=frame.index, name="log_likelihood")

    # --- serialisation and interop ----------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {**fit_result_to_dict(self), "time_unit": self.time_unit}

    @classmethod
    @reads("params", optional=(*FIT_RESULT_KEYS, "time_unit"))
    def from_dict(cls, data: Mapping[str, Any]) -> BetaGeoModel:
        """Inverse of :meth:`to_dict`."""
        return cls(
            params=BetaGeoParams.from_dict(data["params"]),
            **fit_result_from_dict(data),
            time_unit=data.get("time_unit"),
        )

    def to_lifetimes(self) -> Any:
        """Convert to a ``lifetimes.BetaGeoFitter`` with these parameters (needs lifetimes).

        Only the parameters are transferred; lifetimes' prediction methods then give
        the same values as this model's (up to lifetimes' own rounding).

        Returns
        -------
        lifetimes.BetaGeoFitter

        Raises
        ------
        ImportError
            lifetimes is not installed (``pip install 'crmscore[lifetimes]'``).
        """
        fitter = lifetimes_class("BetaGeoFitter", owner="BetaGeoModel.to_lifetimes")()
        fitter.params_ = pd.Series(self.params.to_dict())[list(_NAMES)]
        # lifetimes' own fit sets `predict` this way; its CLV helpers call it.
        fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
        return fitter

    @classmethod
    def from_lifetimes(cls, fitter: Any, *, time_unit: str | None = None) -> BetaGeoModel:
        """Build a model from a fitted ``lifetimes.BetaGeoFitter`` (its ``params_``).

        Parameters
        ----------
        fitter : lifetimes.BetaGeoFitter
            A fitted lifetimes model.
        time_unit : {"D", "W", "M"}, optional
            The unit of the data it was fitted on.

        Returns
        -------
        BetaGeoModel
        """
        params = lifetimes_params(
            fitter, _NAMES, owner="BetaGeoModel.from_lifetimes", kind="BetaGeoFitter"
        )
        return cls.from_params(params, time_unit=time_unit)


@attrs.frozen(kw_only=True)
class BetaGeoFitter:
    """Settings for fitting the BG/NBD model by maximum likelihood.

    :meth:`fit` returns a :class:`BetaGeoModel`; the fitter itself holds no data.

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

    initial_params: BetaGeoParams | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(BetaGeoParams)),
    )
    """Where the optimiser starts; by default r = a = b = 1 and alpha such that
    r / alpha is the mean observed purchase rate."""

    penalizer: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_finite)
    """Coefficient of the L2 penalty ``penalizer * (r^2 + (alpha / max T)^2 + a^2 + b^2)``
    on the mean log-likelihood, as ``penalizer_coef`` in lifetimes (which measures
    alpha in units of the longest customer age). 0 (the default) is maximum likelihood."""

    tol: float = attrs.field(default=DEFAULT_TOL, converter=to_float, validator=positive_finite)
    """Convergence tolerance on the largest gradient of the mean log-likelihood per
    customer with respect to the log parameters."""

    max_iterations: int = attrs.field(default=DEFAULT_MAX_ITERATIONS, validator=positive_int)
    """Most optimiser iterations before :class:`~crmscore.errors.ConvergenceError`."""

    @one_table("frequency", "recency", "T")
    def fit(
        self,
        table: pd.DataFrame,
        *,
        time_unit: str | None = None,
        progress: Callable[[float], None] | bool | None = None,
    ) -> BetaGeoModel:
        """Fit the model to an RFM table.

        Customers with identical (frequency, recency, T) are compressed into one
        weighted row first, so the cost grows with the number of distinct rows, not
        of customers.

        Parameters
        ----------
        table : pandas.DataFrame
            One row per customer with ``frequency``, ``recency``, ``T`` (e.g. from
            :func:`crmscore.rfm_table`).
        time_unit : {"D", "W", "M"}, optional
            Unit of recency and T, recorded on the model; defaults to
            ``table.attrs["time_unit"]`` if set (pandas drops ``attrs`` through many
            operations and any file, so pass it when the table was not made just now).
        progress : callable or bool, optional
            Called with the fraction done (0 to 1, increasing): after the data are
            checked and compressed, at every optimiser iteration (how far the
            gradient has come towards ``tol``), and with 1.0 at the end. An
            exception it raises stops the fit. Nothing is reported without it.
            ``True`` draws a tqdm bar instead (the ``progress`` extra).

        Returns
        -------
        BetaGeoModel

        Raises
        ------
        ColumnNotFoundError
            A column is missing.
        InvalidDataError
            NaN, negative or non-integer frequency, recency > T, recency without a
            repeat purchase, an empty table, or no repeat purchase at all.
        ConvergenceError
            The optimiser did not converge, or the optimum is not identified.
        """
        owner = "BetaGeoFitter.fit"
        reporter = ProgressReporter(progress, owner=owner)
        reporter.report(0.0)
        frame, x, tx, age = rfm_arrays(table, owner=owner)
        unit = resolve_time_unit(time_unit, frame, owner=owner)
        check_identifiable(frame, x, owner=owner)
        (x, tx, age), counts = compress_rows([x, tx, age])
        return self._fit(x, tx, age, counts, time_unit=unit, progress=reporter)

    def fit_aggregated(
        self,
        stats: pd.DataFrame,
        *,
        count_col: str = "count",
        time_unit: str | None = None,
        progress: Callable[[float], None] | bool | None = None,
    ) -> BetaGeoModel:
        """Fit the model to sufficient statistics: distinct rows with customer counts.

        This is how a fit scales past one machine: each partition of the customers
        is reduced with :meth:`aggregate`, the partial results are concatenated and
        summed by (frequency, recency, T), and the (small) result is fitted here.
        Rows need not be distinct; equal rows simply add up.

        Parameters
        ----------
        stats : pandas.DataFrame
            Columns ``frequency``, ``recency``, ``T`` and ``count_col``.
        count_col : str, default "count"
            The column holding how many customers share each row.
        time_unit : {"D", "W", "M"}, optional
            Unit of recency and T; defaults to ``stats.attrs["time_unit"]`` if set.
        progress : callable or bool, optional
            Called with the fraction done, as in :meth:`fit`.
            ``True`` draws a tqdm bar instead (the ``progress`` extra).

        Returns
        -------
        BetaGeoModel

        Examples
        --------
        >>> import pandas as pd
        >>> stats = pd.DataFrame({"frequency": [0, 1, 2, 5], "recency": [0.0, 10, 20, 35],
        ...                       "T": [40.0, 40, 38, 39], "count": [60, 20, 12, 8]})
        >>> model = BetaGeoFitter().fit_aggregated(stats)
        >>> model.n_customers
        100
        """
        owner = "BetaGeoFitter.fit_aggregated"
        reporter = ProgressReporter(progress, owner=owner)
        reporter.report(0.0)
        frame, x, tx, age = rfm_arrays(stats, owner=owner, per_customer=False, frame_name="stats")
        _, (counts,) = frame_columns(frame, [count_col], owner=owner, frame_name="stats")
        check_counts(frame, counts, column=count_col)
        unit = resolve_time_unit(time_unit, frame, owner=owner)
        check_identifiable(frame, x, owner=owner)
        return self._fit(x, tx, age, counts, time_unit=unit, progress=reporter)

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

    def _fit(
        self,
        x: FloatArray,
        tx: FloatArray,
        age: FloatArray,
        counts: FloatArray,
        *,
        time_unit: str | None,
        progress: ProgressReporter,
    ) -> BetaGeoModel:
        progress.report(PREPARED)
        n = float(counts.sum())
        longest = float(age.max()) if age.max() > 0 else 1.0
        if self.initial_params is not None:
            p = self.initial_params
            start: tuple[float, ...] = (p.r, p.alpha, p.a, p.b)
        else:
            rate = float(np.sum(counts * x)) / max(float(np.sum(counts * age)), 1e-12)
            start = (1.0, 1.0 / max(rate, 1e-12), 1.0, 1.0)
        data = _kernels.prepare_bgnbd(x, tx, age, counts)
        optimum = maximize(
            lambda theta: _kernels.bgnbd_derivatives(theta, data),
            start=start,
            total_weight=n,
            n_rows=len(x),
            penalizer=self.penalizer,
            penalty_scale=(1.0, 1.0 / longest, 1.0, 1.0),
            tol=self.tol,
            max_iterations=self.max_iterations,
            owner="BetaGeoFitter",
            progress=progress,
            progress_span=(PREPARED, OPTIMISED),
        )
        model = BetaGeoModel(
            params=BetaGeoParams(**dict(zip(_NAMES, optimum.theta, strict=True))),
            covariance=optimum.covariance,
            log_likelihood=optimum.log_likelihood,
            n_customers=round(n),
            convergence=optimum.report,
            time_unit=time_unit,
        )
        progress.done()
        return model

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return settings_to_dict(self)

    @classmethod
    @reads(optional=SETTINGS_KEYS)
    def from_dict(cls, data: Mapping[str, Any]) -> BetaGeoFitter:
        """Inverse of :meth:`to_dict`."""
        return cls(**settings_from_dict(data, BetaGeoParams))
