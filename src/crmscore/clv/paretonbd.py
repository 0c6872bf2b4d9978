"""The Pareto/NBD purchase model: fitter (settings) and fitted model (a value).

Schmittlein, Morrison and Colombo (1987), "Counting your customers: who are they
and what will they do next?", Management Science 33(1), 1-24; the likelihood and
predictions as in Fader and Hardie (2005), "A note on deriving the Pareto/NBD
model and related expressions", and Fader, Hardie and Lee (2005), "A note on
implementing the Pareto/NBD model in MATLAB".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._groups import compress_rows
from crmscore._params import ParetoNBDParams
from crmscore._progress import ProgressReporter
from crmscore._serialise import reads
from crmscore._validation import non_negative_finite, positive_finite, to_float
from crmscore.clv import _pareto
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

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from crmscore.clv._kernels import FloatArray

__all__ = ["ParetoNBDFitter", "ParetoNBDModel"]

_NAMES = ("r", "alpha", "s", "beta")


@attrs.frozen(kw_only=True)
class ParetoNBDModel:
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

    params: ParetoNBDParams = attrs.field(validator=attrs.validators.instance_of(ParetoNBDParams))
    """The parameters r, alpha, s, beta (alpha and beta in the model's time unit)."""

    covariance: Matrix | None = attrs.field(
        default=None, converter=to_matrix, validator=check_covariance(4)
    )
    """Covariance of (r, alpha, s, beta): the inverse observed information at the optimum;
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
        cls, params: ParetoNBDParams | Mapping[str, float], *, time_unit: str | None = None
    ) -> ParetoNBDModel:
        """Build a model from known (e.g. published) parameters.

        Parameters
        ----------
        params : ParetoNBDParams or mapping
            ``r``, ``alpha``, ``s``, ``beta``.
        time_unit : {"D", "W", "M"}, optional
            The unit ``alpha`` is expressed in.

        Returns
        -------
        ParetoNBDModel
        """
        if not isinstance(params, ParetoNBDParams):
            params = ParetoNBDParams.from_dict(params)
        return cls(params=params, time_unit=time_unit)

    def __repr__(self) -> str:
        return fitted_model_repr(self)

    def _repr_html_(self) -> str:
        """Parameters with standard errors and confidence intervals, as an HTML table."""
        return fitted_model_html(self, title="ParetoNBDModel: Pareto/NBD purchases")

    @property
    def standard_errors(self) -> dict[str, float] | None:
        """Standard errors of r, alpha, s, beta (None if built from parameters)."""
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
        return (p.r, p.alpha, p.s, p.beta)

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
        frame, x, tx, age = rfm_arrays(table, owner="ParetoNBDModel.probability_alive")
        values = _pareto.pareto_probability_alive(self._theta, x, tx, age)
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
        horizons = np.asarray(t, dtype=np.float64)
        check_horizons(horizons, owner="ParetoNBDModel.expected_purchases_new_customer")
        values = _pareto.pareto_expected_purchases_new(self._theta, horizons.ravel()).reshape(
            horizons.shape
        )
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
        frame, x, tx, age = rfm_arrays(table, owner="ParetoNBDModel.log_likelihood_of")
        values = _pareto.pareto_log_likelihood(self._theta, x, tx, age)
        return pd.Series(values, index=frame.index, name="log_likelihood")

    # --- serialisation and interop ----------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {**fit_result_to_dict(self), "time_unit": self.time_unit}

    @classmethod
    @reads("params", optional=(*FIT_RESULT_KEYS, "time_unit"))
    def from_dict(cls, data: Mapping[str, Any]) -> ParetoNBDModel:
        """Inverse of :meth:`to_dict`."""
        return cls(
            params=ParetoNBDParams.from_dict(data["params"]),
            **fit_result_from_dict(data),
            time_unit=data.get("time_unit"),
        )

    def to_lifetimes(self) -> Any:
        """Convert to a ``lifetimes.ParetoNBDFitter`` with these parameters.

        Returns
        -------
        lifetimes.ParetoNBDFitter

        Raises
        ------
        ImportError
            lifetimes is not installed (``pip install 'crmscore[lifetimes]'``).
        """
        fitter = lifetimes_class("ParetoNBDFitter", owner="ParetoNBDModel.to_lifetimes")()
        fitter.params_ = pd.Series(self.params.to_dict())[list(_NAMES)]
        fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
        return fitter

    @classmethod
    def from_lifetimes(cls, fitter: Any, *, time_unit: str | None = None) -> ParetoNBDModel:
        """Build a model from a fitted ``lifetimes.ParetoNBDFitter`` (its ``params_``).

        Parameters
        ----------
        fitter : lifetimes.ParetoNBDFitter
            A fitted lifetimes model.
        time_unit : {"D", "W", "M"}, optional
            The unit of the data it was fitted on.

        Returns
        -------
        ParetoNBDModel
        """
        params = lifetimes_params(
            fitter,
            _NAMES,
            owner="ParetoNBDModel.from_lifetimes",
            kind="ParetoNBDFitter",
        )
        return cls.from_params(params, time_unit=time_unit)


@attrs.frozen(kw_only=True)
class ParetoNBDFitter:
    """Settings for fitting the Pareto/NBD model by maximum likelihood.

    :meth:`fit` returns a :class:`ParetoNBDModel`; the fitter holds no data.
    The fit is the BG/NBD's (:class:`~crmscore.BetaGeoFitter`): Newton's method in
    a trust region on the log parameters with the analytic gradient and Hessian,
    standard errors from the observed information. The likelihood's integral term
    is evaluated once per distinct (frequency, recency) and (frequency, T) pair.

    Examples
    --------
    >>> from lifetimes.datasets import load_cdnow_summary
    >>> model = ParetoNBDFitter().fit(load_cdnow_summary(index_col=[0]))
    >>> {k: round(v, 2) for k, v in model.params.to_dict().items()}
    {'r': 0.55, 'alpha': 10.58, 's': 0.61, 'beta': 11.67}
    >>> round(model.log_likelihood, 1)
    -9595.0
    """

    initial_params: ParetoNBDParams | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(ParetoNBDParams)),
    )
    """Where the optimiser starts; by default r = s = 1, alpha such that r / alpha is
    the mean observed purchase rate, and beta the longest customer age."""

    penalizer: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_finite)
    """Coefficient of the L2 penalty
    ``penalizer * (r^2 + (alpha / max T)^2 + s^2 + (beta / max T)^2)`` on the mean
    log-likelihood; 0 (the default) is maximum likelihood."""

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
    ) -> ParetoNBDModel:
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
        ParetoNBDModel

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
        owner = "ParetoNBDFitter.fit"
        reporter = ProgressReporter(progress, owner=owner)
        reporter.report(0.0)
        frame, x, tx, age = rfm_arrays(table, owner=owner)
        unit = resolve_time_unit(time_unit, frame, owner=owner)
        check_identifiable(frame, x, owner=owner, model="Pareto/NBD")
        (x, tx, age), counts = compress_rows([x, tx, age])
        return self._fit(x, tx, age, counts, time_unit=unit, progress=reporter)

    def fit_aggregated(
        self,
        stats: pd.DataFrame,
        *,
        count_col: str = "count",
        time_unit: str | None = None,
        progress: Callable[[float], None] | bool | None = None,
    ) -> ParetoNBDModel:
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
        ParetoNBDModel
        """
        owner = "ParetoNBDFitter.fit_aggregated"
        reporter = ProgressReporter(progress, owner=owner)
        reporter.report(0.0)
        frame, x, tx, age = rfm_arrays(stats, owner=owner, per_customer=False, frame_name="stats")
        _, (counts,) = frame_columns(frame, [count_col], owner=owner, frame_name="stats")
        check_counts(frame, counts, column=count_col)
        unit = resolve_time_unit(time_unit, frame, owner=owner)
        check_identifiable(frame, x, owner=owner, model="Pareto/NBD")
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
    ) -> ParetoNBDModel:
        progress.report(PREPARED)
        n = float(counts.sum())
        longest = float(age.max()) if age.max() > 0 else 1.0
        if self.initial_params is not None:
            p = self.initial_params
            start: tuple[float, ...] = (p.r, p.alpha, p.s, p.beta)
        else:
            rate = float(np.sum(counts * x)) / max(float(np.sum(counts * age)), 1e-12)
            start = (1.0, 1.0 / max(rate, 1e-12), 1.0, longest)
        data = _pareto.prepare_pareto(x, tx, age, counts)
        optimum = maximize(
            lambda theta: _pareto.pareto_derivatives(theta, data),
            start=start,
            total_weight=n,
            n_rows=len(x),
            penalizer=self.penalizer,
            penalty_scale=(1.0, 1.0 / longest, 1.0, 1.0 / longest),
            tol=self.tol,
            max_iterations=self.max_iterations,
            owner="ParetoNBDFitter",
            progress=progress,
            progress_span=(PREPARED, OPTIMISED),
        )
        model = ParetoNBDModel(
            params=ParetoNBDParams(**dict(zip(_NAMES, optimum.theta, strict=True))),
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
    def from_dict(cls, data: Mapping[str, Any]) -> ParetoNBDFitter:
        """Inverse of :meth:`to_dict`."""
        return cls(**settings_from_dict(data, ParetoNBDParams))
