"""The plumbing every purchase model and its fitter share, written once.

Private: :class:`PurchaseModelBase` holds a fitted model's fields (parameters,
covariance, log-likelihood, customer count, optimiser report, time unit) and what
needs nothing but them (``from_params``, the reprs, standard errors, ``summary``,
the JSON round trip, the *lifetimes* interop); :class:`PurchaseFitterBase` holds a
fitter's settings and the whole fit (checks, compression, the optimiser, the model).
A model class adds its predictions; a fitter class names its likelihood, starting
point and penalty scale. The public classes (:class:`~crmscore.BetaGeoModel`, ...)
subclass these, and the API reference shows the inherited members on their pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, cast

import attrs
import numpy as np
import pandas as pd

from crmscore._groups import compress_rows
from crmscore._progress import ProgressReporter
from crmscore._serialise import reads
from crmscore._validation import non_negative_finite, positive_finite, to_float
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
    check_horizons,
    check_identifiable,
    check_time_unit,
    frame_columns,
    one_table,
    resolve_time_unit,
    rfm_arrays,
)
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Self

    import numpy.typing as npt

    from crmscore.clv._kernels import Derivatives, FloatArray, Params

__all__ = [
    "FittedModelBase",
    "FitterSettings",
    "PurchaseFitterBase",
    "PurchaseModelBase",
    "initial_params_field",
    "max_iterations_field",
]


class ParamsLike(Protocol):
    """What the models need of a parameter class (BetaGeoParams, ParetoNBDParams, ...)."""

    def to_dict(self) -> dict[str, float]:
        """Return the parameters by name, in the model's order."""
        ...


P = TypeVar("P", bound=ParamsLike)


def _check_params(instance: FittedModelBase[Any], attribute: Any, value: Any) -> None:
    """``params`` must be an instance of the model's parameter class."""
    attrs.validators.instance_of(type(instance)._params_type)(instance, attribute, value)


def _check_covariance(instance: FittedModelBase[Any], attribute: Any, value: Any) -> None:
    """``covariance`` is None or a covariance of the model's parameters."""
    check_covariance(len(type(instance)._param_names))(instance, attribute, value)


@attrs.frozen(kw_only=True)
class FittedModelBase(Generic[P]):
    """Fields and non-predictive methods of any fitted model (private base).

    The purchase models (through :class:`PurchaseModelBase`, which adds the time
    unit), BG/BB and sBG subclass it.
    """

    #: The parameter class (e.g. BetaGeoParams); its ``from_dict`` reads mappings.
    _params_type: ClassVar[type[Any]]
    #: The parameter names in the order of ``covariance`` and the kernels' theta.
    _param_names: ClassVar[tuple[str, ...]]
    #: The title of the HTML repr.
    _html_title: ClassVar[str]

    params: P = attrs.field(validator=_check_params)
    """The model's parameters (rates in the model's time unit)."""

    covariance: Matrix | None = attrs.field(
        default=None, converter=to_matrix, validator=_check_covariance
    )
    """Covariance of the parameters (in the order of ``params``): the inverse observed
    information at the optimum; None when the model was built from parameters."""

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

    @classmethod
    def from_params(cls, params: P | Mapping[str, float]) -> Self:
        """Build a model from known (e.g. published) parameters.

        Parameters
        ----------
        params : parameter class or mapping
            The model's parameters, as its parameter class or a mapping by name.

        Returns
        -------
        model
            A model of this class, without fit statistics.
        """
        return cls(params=cls._as_params(params))

    @classmethod
    def _as_params(cls, params: P | Mapping[str, float]) -> P:
        """Return ``params`` as the parameter class (read from a mapping if need be)."""
        if not isinstance(params, cls._params_type):
            params = cls._params_type.from_dict(params)
        return cast("P", params)

    def __repr__(self) -> str:
        return fitted_model_repr(self)

    def _repr_html_(self) -> str:
        """Parameters with standard errors and confidence intervals, as an HTML table."""
        return fitted_model_html(self, title=self._html_title)

    @property
    def standard_errors(self) -> dict[str, float] | None:
        """Standard errors of the parameters by name (None if built from parameters)."""
        return standard_errors(self.covariance, self._param_names)

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
        >>> from crmscore import BetaGeoFitter, BetaGeoParams, make_rfm_summary
        >>> truth = BetaGeoParams(r=0.5, alpha=20.0, a=0.8, b=3.0)
        >>> model = BetaGeoFitter().fit(make_rfm_summary(50_000, seed=1, purchase=truth))
        >>> ci = model.summary(level=0.99)
        >>> list(ci.columns)
        ['estimate', 'std_error', 'lower', 'upper']
        >>> bool(((ci["lower"] < ci["estimate"]) & (ci["estimate"] < ci["upper"])).all())
        True
        """
        return parameter_summary(self.params.to_dict(), self.standard_errors, level=level)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return fit_result_to_dict(self)

    @classmethod
    @reads("params", optional=FIT_RESULT_KEYS)
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        return cls(params=cls._params_type.from_dict(data["params"]), **fit_result_from_dict(data))


@attrs.frozen(kw_only=True, repr=False)  # keep the base's short repr
class PurchaseModelBase(FittedModelBase[P]):
    """Fields and non-predictive methods of a fitted purchase model (private base)."""

    #: The class of the optional *lifetimes* package with the same model.
    _lifetimes_name: ClassVar[str]

    time_unit: str | None = attrs.field(default=None, validator=check_time_unit)
    """Unit of recency, T and t ("D", "W", "M"), taken from the fitted table's
    ``attrs``; None if unknown."""

    @classmethod
    def from_params(cls, params: P | Mapping[str, float], *, time_unit: str | None = None) -> Self:
        """Build a model from known (e.g. published) parameters.

        Parameters
        ----------
        params : parameter class or mapping
            The model's parameters, as its parameter class or a mapping by name.
        time_unit : {"D", "W", "M"}, optional
            The unit the rate parameters are expressed in.

        Returns
        -------
        model
            A model of this class, without fit statistics.
        """
        return cls(params=cls._as_params(params), time_unit=time_unit)

    @property
    def _theta(self) -> Params:
        """The parameters as the kernels take them, in ``_param_names`` order."""
        values = self.params.to_dict()
        return tuple(values[name] for name in self._param_names)

    def _per_customer(
        self,
        table: pd.DataFrame,
        kernel: Callable[[Params, FloatArray, FloatArray, FloatArray], FloatArray],
        *,
        name: str,
        owner: str,
    ) -> pd.Series[float]:
        """Evaluate a kernel of (theta, x, t_x, T) on an RFM table: a Series indexed like it."""
        frame, x, tx, age = rfm_arrays(table, owner=f"{type(self).__name__}.{owner}")
        return pd.Series(kernel(self._theta, x, tx, age), index=frame.index, name=name)

    def _per_horizon(
        self,
        t: float | Sequence[float] | npt.NDArray[Any],
        kernel: Callable[[Params, FloatArray], FloatArray],
        *,
        owner: str,
    ) -> float | npt.NDArray[np.float64]:
        """Evaluate a kernel of (theta, horizons) at ``t``: a float, or shaped like ``t``."""
        horizons = np.asarray(t, dtype=np.float64)
        check_horizons(horizons, owner=f"{type(self).__name__}.{owner}")
        values = kernel(self._theta, horizons.ravel()).reshape(horizons.shape)
        return float(values) if values.ndim == 0 else values

    def _per_count(
        self,
        n: int | Sequence[int] | npt.NDArray[Any],
        t: float | Sequence[float] | npt.NDArray[Any],
        kernel: Callable[[Params, FloatArray, FloatArray], FloatArray],
        *,
        owner: str,
    ) -> float | npt.NDArray[np.float64]:
        """Evaluate a kernel of (theta, n, t) at ``n`` and ``t`` broadcast together.

        ``n`` must hold whole numbers >= 0 and ``t`` horizons >= 0.
        """
        owner = f"{type(self).__name__}.{owner}"
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
        values = kernel(self._theta, counts.ravel(), horizons.ravel()).reshape(counts.shape)
        return float(values) if values.ndim == 0 else values

    # --- serialisation and interop ----------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {**fit_result_to_dict(self), "time_unit": self.time_unit}

    @classmethod
    @reads("params", optional=(*FIT_RESULT_KEYS, "time_unit"))
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        return cls(
            params=cls._params_type.from_dict(data["params"]),
            **fit_result_from_dict(data),
            time_unit=data.get("time_unit"),
        )

    def to_lifetimes(self) -> Any:
        """Convert to the *lifetimes* fitter of the same model, with these parameters.

        Only the parameters are transferred; lifetimes' prediction methods then give
        the same values as this model's (up to lifetimes' own rounding).

        Returns
        -------
        lifetimes fitter
            A ``lifetimes.BetaGeoFitter``, ``ModifiedBetaGeoFitter`` or
            ``ParetoNBDFitter`` (the one named like this model).

        Raises
        ------
        ImportError
            lifetimes is not installed (``pip install 'crmscore[lifetimes]'``).
        """
        owner = f"{type(self).__name__}.to_lifetimes"
        fitter = lifetimes_class(self._lifetimes_name, owner=owner)()
        fitter.params_ = pd.Series(self.params.to_dict())[list(self._param_names)]
        # lifetimes' own fit sets `predict` this way; its CLV helpers call it.
        fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
        return fitter

    @classmethod
    def from_lifetimes(cls, fitter: Any, *, time_unit: str | None = None) -> Self:
        """Build a model from a fitted *lifetimes* fitter of the same model (its ``params_``).

        Parameters
        ----------
        fitter : lifetimes fitter
            A fitted ``lifetimes.BetaGeoFitter``, ``ModifiedBetaGeoFitter`` or
            ``ParetoNBDFitter`` (the one named like this model).
        time_unit : {"D", "W", "M"}, optional
            The unit of the data it was fitted on.

        Returns
        -------
        model
            A model of this class, without fit statistics.
        """
        params = lifetimes_params(
            fitter,
            cls._param_names,
            owner=f"{cls.__name__}.from_lifetimes",
            kind=cls._lifetimes_name,
        )
        return cls.from_params(params, time_unit=time_unit)


# --- what every fitter has: the optimiser's settings --------------------------------------
# (penalizer and tol stay written out: the attrs mypy plugin types __init__ from a
# converter only when it sees it in the class body)


def initial_params_field(params_type: type[Any]) -> Any:
    """Return an ``initial_params`` field: None or an instance of ``params_type``."""
    return attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(params_type))
    )


def max_iterations_field() -> Any:
    """Return a ``max_iterations`` field: a positive int, by default the shared cap."""
    return attrs.field(default=DEFAULT_MAX_ITERATIONS, validator=positive_int)


class FitterSettings:
    """The JSON round trip of a fitter's settings (a mixin of the attrs fitters).

    A subclass names ``_model_type``, whose ``_params_type`` reads ``initial_params``.
    """

    _model_type: ClassVar[type[Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return settings_to_dict(self)

    @classmethod
    @reads(optional=SETTINGS_KEYS)
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        build: Any = cls  # an attrs class: its fields are in the subclass
        fitter: Self = build(**settings_from_dict(data, cls._model_type._params_type))
        return fitter


M = TypeVar("M", bound=PurchaseModelBase[Any])


@attrs.frozen(kw_only=True)
class PurchaseFitterBase(FitterSettings, Generic[P, M]):
    """Settings and the maximum-likelihood fit of a purchase model (private base)."""

    #: The model's name in error messages ("BG/NBD", ...).
    _model_label: ClassVar[str]
    #: Which parameters are rates in the time unit: their penalty is divided by the
    #: longest customer age, as lifetimes does.
    _time_scaled: ClassVar[tuple[bool, ...]]

    initial_params: P | None = attrs.field(default=None)
    """Where the optimiser starts; by default a guess from the mean observed purchase
    rate (see the class's description)."""

    penalizer: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_finite)
    """Coefficient of the L2 penalty on the mean log-likelihood: ``penalizer`` times
    the sum of the squared parameters, each rate parameter divided by the longest
    customer age, as ``penalizer_coef`` in lifetimes. 0 (the default) is maximum
    likelihood."""

    tol: float = attrs.field(default=DEFAULT_TOL, converter=to_float, validator=positive_finite)
    """Convergence tolerance on the largest gradient of the mean log-likelihood per
    customer with respect to the log parameters."""

    max_iterations: int = max_iterations_field()
    """Most optimiser iterations before :class:`~crmscore.errors.ConvergenceError`."""

    @initial_params.validator
    def _check_initial_params(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            params_type = self._model_type._params_type
            attrs.validators.instance_of(params_type)(self, attribute, value)

    # --- what a model's fitter names ----------------------------------------------------

    def _start(self, rate: float, longest: float) -> Params:  # noqa: ARG002 (for overrides)
        """Return the default start from the mean purchase rate and the longest age.

        ``r`` = 1 and ``alpha`` = 1 / rate (the first two parameters), the rest 1.
        """
        return (1.0, 1.0 / rate) + (1.0,) * (len(self._model_type._param_names) - 2)

    def _objective(
        self, x: FloatArray, tx: FloatArray, age: FloatArray, counts: FloatArray
    ) -> Callable[[Params], Derivatives]:
        """Return the weighted log-likelihood's derivatives in theta on the compressed rows."""
        raise NotImplementedError

    def _warm_start(
        self,
        x: FloatArray,  # noqa: ARG002
        tx: FloatArray,  # noqa: ARG002
        age: FloatArray,  # noqa: ARG002
        counts: FloatArray,  # noqa: ARG002
        *,
        start: Params,
        longest: float,  # noqa: ARG002
    ) -> Params:
        """Return a better start for the full fit (by default ``start`` itself).

        A model whose likelihood is costly per row may first fit cheaper data (its
        rows coarsened) and start the full fit from there: the optimum is still the
        full data's, reached in fewer costly iterations.
        """
        return start

    # --- the fit ------------------------------------------------------------------------

    @one_table("frequency", "recency", "T")
    def fit(
        self,
        table: pd.DataFrame,
        *,
        time_unit: str | None = None,
        progress: Callable[[float], None] | bool | None = None,
    ) -> M:
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
        model
            The fitted model (a :class:`~crmscore.BetaGeoModel` from a
            :class:`~crmscore.BetaGeoFitter`, and so on).

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
        owner = f"{type(self).__name__}.fit"
        reporter = ProgressReporter(progress, owner=owner)
        reporter.report(0.0)
        frame, x, tx, age = rfm_arrays(table, owner=owner)
        unit = resolve_time_unit(time_unit, frame, owner=owner)
        check_identifiable(frame, x, owner=owner, model=self._model_label)
        (x, tx, age), counts = compress_rows([x, tx, age])
        return self._fit(x, tx, age, counts, time_unit=unit, progress=reporter)

    def fit_aggregated(
        self,
        stats: pd.DataFrame,
        *,
        count_col: str = "count",
        time_unit: str | None = None,
        progress: Callable[[float], None] | bool | None = None,
    ) -> M:
        """Fit the model to sufficient statistics: distinct rows with customer counts.

        This is how a fit scales past one machine: each partition of the customers
        is reduced with :meth:`crmscore.BetaGeoFitter.aggregate`, the partial results
        are concatenated and summed by (frequency, recency, T), and the (small)
        result is fitted here. Rows need not be distinct; equal rows simply add up.

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
        model
            The fitted model.

        Examples
        --------
        >>> import pandas as pd
        >>> from crmscore import BetaGeoFitter
        >>> stats = pd.DataFrame({"frequency": [0, 1, 2, 5], "recency": [0.0, 10, 20, 35],
        ...                       "T": [40.0, 40, 38, 39], "count": [60, 20, 12, 8]})
        >>> model = BetaGeoFitter().fit_aggregated(stats)
        >>> model.n_customers
        100
        """
        owner = f"{type(self).__name__}.fit_aggregated"
        reporter = ProgressReporter(progress, owner=owner)
        reporter.report(0.0)
        frame, x, tx, age = rfm_arrays(stats, owner=owner, per_customer=False, frame_name="stats")
        _, (counts,) = frame_columns(frame, [count_col], owner=owner, frame_name="stats")
        check_counts(frame, counts, column=count_col)
        unit = resolve_time_unit(time_unit, frame, owner=owner)
        check_identifiable(frame, x, owner=owner, model=self._model_label)
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
    ) -> M:
        progress.report(PREPARED)
        n = float(counts.sum())
        longest = float(age.max()) if age.max() > 0 else 1.0
        names = self._model_type._param_names
        if self.initial_params is not None:
            values = self.initial_params.to_dict()
            start: Params = tuple(values[name] for name in names)
        else:
            rate = float(np.sum(counts * x)) / max(float(np.sum(counts * age)), 1e-12)
            start = self._start(max(rate, 1e-12), longest)
            start = self._warm_start(x, tx, age, counts, start=start, longest=longest)
        optimum = maximize(
            self._objective(x, tx, age, counts),
            start=start,
            total_weight=n,
            n_rows=len(x),
            penalizer=self.penalizer,
            penalty_scale=tuple(1.0 / longest if scaled else 1.0 for scaled in self._time_scaled),
            tol=self.tol,
            max_iterations=self.max_iterations,
            owner=type(self).__name__,
            progress=progress,
            progress_span=(PREPARED, OPTIMISED),
        )
        params_type = self._model_type._params_type
        model: M = self._model_type(
            params=params_type(**dict(zip(names, optimum.theta, strict=True))),
            covariance=optimum.covariance,
            log_likelihood=optimum.log_likelihood,
            n_customers=round(n),
            convergence=optimum.report,
            time_unit=time_unit,
        )
        progress.done()
        return model
