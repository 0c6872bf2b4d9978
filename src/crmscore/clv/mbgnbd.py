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
from crmscore.clv._expectation import mbgnbd_expected_purchases_at
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
    resolve_time_unit,
    rfm_arrays,
)
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from crmscore.clv._kernels import FloatArray

__all__ = ["ModifiedBetaGeoFitter", "ModifiedBetaGeoModel"]

_NAMES = ("r", "alpha", "a", "b")


@attrs.frozen(kw_only=True)
class ModifiedBetaGeoModel:
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
    """Unit of recency, T and t ("D", "W", "M"); None if unknown."""

    @classmethod
    def from_params(
        cls, params: BetaGeoParams | Mapping[str, float], *, time_unit: str | None = None
    ) -> ModifiedBetaGeoModel:
        """Build a model from known (e.g. published) parameters.

        Parameters
        ----------
        params : BetaGeoParams or mapping
            ``r``, ``alpha``, ``a``, ``b``.
        time_unit : {"D", "W", "M"}, optional
            The unit ``alpha`` is expressed in.

        Returns
        -------
        ModifiedBetaGeoModel
        """
        if not isinstance(params, BetaGeoParams):
            params = BetaGeoParams.from_dict(params)
        return cls(params=params, time_unit=time_unit)

    def __repr__(self) -> str:
        return fitted_model_repr(self)

    def _repr_html_(self) -> str:
        """Parameters with standard errors and confidence intervals, as an HTML table."""
        return fitted_model_html(self, title="ModifiedBetaGeoModel: MBG/NBD purchases")

    @property
    def standard_errors(self) -> dict[str, float] | None:
        """Standard errors of r, alpha, a, b (None if built from parameters)."""
        return standard_errors(self.covariance, _NAMES)

    def summary(self, *, level: float = 0.95) -> pd.DataFrame:
        """Estimates, standard errors and log-scale Wald confidence intervals.

        Parameters
        ----------
        level : float, default 0.95
            Confidence level.

        Returns
        -------
        pandas.DataFrame
            Indexed by parameter: ``estimate``, ``std_error``, ``lower``, ``upper``
            (NaN for the last three when the model was built from parameters).
        """
        return parameter_summary(self.params.to_dict(), self.standard_errors, level=level)

    @property
    def _theta(self) -> tuple[float, float, float, float]:
        p = self.params
        return (p.r, p.alpha, p.a, p.b)

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
        frame, x, tx, age = rfm_arrays(table, owner="ModifiedBetaGeoModel.probability_alive")
        values = _kernels.mbgnbd_probability_alive(self._theta, x, tx, age)
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
        horizons = np.asarray(t, dtype=np.float64)
        check_horizons(horizons, owner="ModifiedBetaGeoModel.expected_purchases_new_customer")
        flat = horizons.ravel()
        zero = np.zeros(1)
        values = np.array(
            [v[0] for v in mbgnbd_expected_purchases_at(self._theta, zero, zero, zero, list(flat))]
        ).reshape(horizons.shape)
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
        owner = "ModifiedBetaGeoModel.probability_of_purchases"
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
        values = _kernels.mbgnbd_probability_of_purchases(
            self._theta, counts.ravel(), horizons.ravel()
        ).reshape(counts.shape)
        return float(values) if values.ndim == 0 else values

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
        frame, x, tx, age = rfm_arrays(table, owner="ModifiedBetaGeoModel.log_likelihood_of")
        values = _kernels.mbgnbd_log_likelihood(self._theta, x, tx, age)
        return pd.Series(values, index=frame.index, name="log_likelihood")

    # --- serialisation and interop ----------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {**fit_result_to_dict(self), "time_unit": self.time_unit}

    @classmethod
    @reads("params", optional=(*FIT_RESULT_KEYS, "time_unit"))
    def from_dict(cls, data: Mapping[str, Any]) -> ModifiedBetaGeoModel:
        """Inverse of :meth:`to_dict`."""
        return cls(
            params=BetaGeoParams.from_dict(data["params"]),
            **fit_result_from_dict(data),
            time_unit=data.get("time_unit"),
        )

    def to_lifetimes(self) -> Any:
        """Convert to a ``lifetimes.ModifiedBetaGeoFitter`` with these parameters.

        Returns
        -------
        lifetimes.ModifiedBetaGeoFitter

        Raises
        ------
        ImportError
            lifetimes is not installed (``pip install 'crmscore[lifetimes]'``).
        """
        fitter = lifetimes_class(
            "ModifiedBetaGeoFitter", owner="ModifiedBetaGeoModel.to_lifetimes"
        )()
        fitter.params_ = pd.Series(self.params.to_dict())[list(_NAMES)]
        fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
        return fitter

    @classmethod
    def from_lifetimes(cls, fitter: Any, *, time_unit: str | None = None) -> ModifiedBetaGeoModel:
        """Build a model from a fitted ``lifetimes.ModifiedBetaGeoFitter`` (its ``params_``).

        Parameters
        ----------
        fitter : lifetimes.ModifiedBetaGeoFitter
            A fitted lifetimes model.
        time_unit : {"D", "W", "M"}, optional
            The unit of the data it was fitted on.

        Returns
        -------
        ModifiedBetaGeoModel
        """
        params = lifetimes_params(
            fitter,
            _NAMES,
            owner="ModifiedBetaGeoModel.from_lifetimes",
            kind="ModifiedBetaGeoFitter",
        )
        return cls.from_params(params, time_unit=time_unit)


@attrs.frozen(kw_only=True)
class ModifiedBetaGeoFitter:
    """Settings for fitting the MBG/NBD model by maximum likelihood.

    :meth:`fit` returns a :class:`ModifiedBetaGeoModel`; the fitter holds no data.
    The fit is the BG/NBD's (:class:`~crmscore.BetaGeoFitter`): compressed rows,
    Newton's method in a trust region on the log parameters with the analytic
    gradient and Hessian, standard errors from the observed information.

    Examples
    --------
    >>> from lifetimes.datasets import load_cdnow_summary
    >>> model = ModifiedBetaGeoFitter().fit(load_cdnow_summary(index_col=[0]))
    >>> {k: round(v, 3) for k, v in model.params.to_dict().items()}
    {'r': 0.525, 'alpha': 6.183, 'a': 0.891, 'b': 1.614}
    """

    initial_params: BetaGeoParams | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(BetaGeoParams)),
    )
    """Where the optimiser starts; by default r = a = b = 1 and alpha such that
    r / alpha is the mean observed purchase rate."""

    penalizer: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_finite)
    """Coefficient of the L2 penalty ``penalizer * (r^2 + (alpha / max T)^2 + a^2 + b^2)``
    on the mean log-likelihood; 0 (the default) is maximum likelihood."""

    tol: float = attrs.field(default=DEFAULT_TOL, converter=to_float, validator=positive_finite)
    """Convergence tolerance on the largest gradient of the mean log-likelihood per
    customer with respect to the log parameters."""

    max_iterations: int = attrs.field(default=DEFAULT_MAX_ITERATIONS, validator=positive_int)
    """Most optimiser iterations before :class:`~crmscore.errors.ConvergenceError`."""

    def fit(
        self,
        table: pd.DataFrame,
        *,
        time_unit: str | None = None,
        progress: Callable[[float], None] | bool | None = None,
    ) -> ModifiedBetaGeoModel:
        """Fit the model to an RFM table.

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
            Called with the fraction done (0 to 1, increasing), as in
            :meth:`crmscore.BetaGeoFitter.fit`.
            ``True`` draws a tqdm bar instead (the ``progress`` extra).

        Returns
        -------
        ModifiedBetaGeoModel

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
        owner = "ModifiedBetaGeoFitter.fit"
        reporter = ProgressReporter(progress, owner=owner)
        reporter.report(0.0)
        frame, x, tx, age = rfm_arrays(table, owner=owner)
        unit = resolve_time_unit(time_unit, frame, owner=owner)
        check_identifiable(frame, x, owner=owner, model="MBG/NBD")
        (x, tx, age), counts = compress_rows([x, tx, age])
        return self._fit(x, tx, age, counts, time_unit=unit, progress=reporter)

    def fit_aggregated(
        self,
        stats: pd.DataFrame,
        *,
        count_col: str = "count",
        time_unit: str | None = None,
        progress: Callable[[float], None] | bool | None = None,
    ) -> ModifiedBetaGeoModel:
        """Fit the model to sufficient statistics: distinct rows with customer counts.

        Parameters
        ----------
        stats : pandas.DataFrame
            Columns ``frequency``, ``recency``, ``T`` and ``count_col`` (as made by
            :meth:`crmscore.BetaGeoFitter.aggregate`).
        count_col : str, default "count"
            The column holding how many customers share each row.
        time_unit : {"D", "W", "M"}, optional
            Unit of recency and T; defaults to ``stats.attrs["time_unit"]`` if set.
        progress : callable or bool, optional
            Called with the fraction done, as in :meth:`fit`.
            ``True`` draws a tqdm bar instead (the ``progress`` extra).

        Returns
        -------
        ModifiedBetaGeoModel
        """
        owner = "ModifiedBetaGeoFitter.fit_aggregated"
        reporter = ProgressReporter(progress, owner=owner)
        reporter.report(0.0)
        frame, x, tx, age = rfm_arrays(stats, owner=owner, per_customer=False, frame_name="stats")
        _, (counts,) = frame_columns(frame, [count_col], owner=owner, frame_name="stats")
        check_counts(frame, counts, column=count_col)
        unit = resolve_time_unit(time_unit, frame, owner=owner)
        check_identifiable(frame, x, owner=owner, model="MBG/NBD")
        return self._fit(x, tx, age, counts, time_unit=unit, progress=reporter)

    def _fit(
        self,
        x: FloatArray,
        tx: FloatArray,
        age: FloatArray,
        counts: FloatArray,
        *,
        time_unit: str | None,
        progress: ProgressReporter,
    ) -> ModifiedBetaGeoModel:
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
            lambda theta: _kernels.bgnbd_derivatives(theta, data, modified=True),
            start=start,
            total_weight=n,
            n_rows=len(x),
            penalizer=self.penalizer,
            penalty_scale=(1.0, 1.0 / longest, 1.0, 1.0),
            tol=self.tol,
            max_iterations=self.max_iterations,
            owner="ModifiedBetaGeoFitter",
            progress=progress,
            progress_span=(PREPARED, OPTIMISED),
        )
        model = ModifiedBetaGeoModel(
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
    def from_dict(cls, data: Mapping[str, Any]) -> ModifiedBetaGeoFitter:
        """Inverse of :meth:`to_dict`."""
        return cls(**settings_from_dict(data, BetaGeoParams))
