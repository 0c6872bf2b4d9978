r"""The BG/BB model of discrete-time purchases: fitter (settings) and fitted model (a value).

Fader, Hardie and Shang (2010), "Customer-Base Analysis in a Discrete-Time
Noncontractual Setting", Marketing Science 29(6), 1086-1108.

A customer has ``n`` transaction opportunities after the first (one per year, per
event, per issue ...). While alive, the customer transacts at each opportunity with
probability :math:`p \sim \text{Beta}(\alpha, \beta)`; before each opportunity
the customer dies with probability :math:`\theta \sim \text{Beta}(\gamma,
\delta)`. A customer's history is ``frequency`` (x, opportunities with a
transaction), ``recency`` (t_x, the opportunity of the last one, 0 if none) and
``n_periods`` (n); :func:`discrete_rfm_table` builds it from a transaction log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, overload

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._groups import compress_rows, group_rows
from crmscore._ids import factorize_ids
from crmscore._progress import ProgressReporter
from crmscore._serialise import reads
from crmscore._validation import (
    OneOf,
    as_timestamp,
    check_columns,
    check_frame,
    check_param,
    non_negative_finite,
    positive_finite,
    timestamp_column,
    to_float,
)
from crmscore.clv import _discrete
from crmscore.clv._base import (
    FittedModelBase,
    FitterSettings,
    initial_params_field,
    max_iterations_field,
)
from crmscore.clv._fitting import (
    DEFAULT_TOL,
    OPTIMISED,
    PREPARED,
    lifetimes_class,
    lifetimes_params,
    maximize,
)
from crmscore.clv._inputs import check_counts, frame_columns, reject
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from crmscore.clv._discrete import FloatArray

__all__ = [
    "BetaGeoBetaBinomFitter",
    "BetaGeoBetaBinomModel",
    "BetaGeoBetaBinomParams",
    "discrete_rfm_table",
]

_NAMES = ("alpha", "beta", "gamma", "delta")
_COLUMNS = ("frequency", "recency", "n_periods")
#: Period aliases of pandas that :func:`discrete_rfm_table` accepts.
_PERIODS = OneOf(("Y", "Q", "M", "W", "D"))


def _param() -> Any:
    return attrs.field(converter=to_float, validator=positive_finite)


@attrs.frozen(kw_only=True)
class BetaGeoBetaBinomParams:
    r"""Parameters of the BG/BB model (Fader, Hardie and Shang 2010).

    While alive, a customer transacts at each opportunity with probability
    :math:`p \sim \text{Beta}(\alpha, \beta)`; before each opportunity the customer
    dies with probability :math:`\theta \sim \text{Beta}(\gamma, \delta)`.

    Examples
    --------
    >>> params = BetaGeoBetaBinomParams(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> round(params.mean_transaction_probability, 3), round(params.mean_dropout, 3)
    (0.616, 0.191)
    """

    alpha: float = _param()
    """First shape parameter of the transaction-probability distribution."""

    beta: float = _param()
    """Second shape parameter of the transaction-probability distribution."""

    gamma: float = _param()
    """First shape parameter of the dropout-probability distribution."""

    delta: float = _param()
    """Second shape parameter of the dropout-probability distribution."""

    @property
    def mean_transaction_probability(self) -> float:
        """Population mean of p, ``alpha / (alpha + beta)``."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def mean_dropout(self) -> float:
        """Population mean of theta, ``gamma / (gamma + delta)``."""
        return self.gamma / (self.gamma + self.delta)

    def to_dict(self) -> dict[str, float]:
        """JSON-safe representation."""
        return attrs.asdict(self)

    @classmethod
    @reads("alpha", "beta", "gamma", "delta")
    def from_dict(cls, data: Mapping[str, Any]) -> BetaGeoBetaBinomParams:
        """Inverse of :meth:`to_dict`."""
        return cls(alpha=data["alpha"], beta=data["beta"], gamma=data["gamma"], delta=data["delta"])


# --------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------


def _arrays(
    table: object, *, owner: str, per_customer: bool = True, frame_name: str = "table"
) -> tuple[pd.DataFrame, FloatArray, FloatArray, FloatArray]:
    """Validate ``frequency``, ``recency``, ``n_periods``: whole, 0 <= x <= t_x <= n."""
    frame, (x, tx, n) = frame_columns(
        table, _COLUMNS, owner=owner, frame_name=frame_name, per_customer=per_customer
    )
    hint = "Build the table with crmscore.discrete_rfm_table, or check how it was made."
    for column, values in zip(_COLUMNS, (x, tx, n), strict=True):
        reject(
            frame,
            (values < 0) | (values != np.floor(values)),
            column=column,
            problem="has values that are not whole numbers >= 0",
            hint=hint,
        )
    reject(
        frame,
        tx > n,
        column="recency",
        problem="is larger than n_periods (a transaction after the last opportunity)",
        hint=hint,
    )
    reject(
        frame,
        x > tx,
        column="frequency",
        problem="is larger than recency (more transactions than opportunities up to the last)",
        hint=hint,
    )
    reject(
        frame,
        (x == 0) & (tx != 0),
        column="recency",
        problem="is not 0 where frequency is 0 (no transaction, so no recency)",
        hint=hint,
    )
    return frame, x, tx, n


def _whole_numbers(value: object, *, name: str, owner: str) -> npt.NDArray[np.float64]:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.array(np.nan)
    if (
        isinstance(value, str)
        or not (np.isfinite(array).all() and (array >= 0).all())
        or (array != np.floor(array)).any()
    ):
        raise InvalidParameterError.for_value(
            name=name, owner=owner, allowed="whole numbers >= 0", got=value
        )
    return array


def _whole_number(value: object, *, name: str, owner: str) -> float:
    if isinstance(value, bool):
        raise InvalidParameterError.for_value(
            name=name, owner=owner, allowed="a whole number >= 0", got=value
        )
    array = _whole_numbers(value, name=name, owner=owner)
    if array.ndim != 0:
        raise InvalidParameterError.for_value(
            name=name, owner=owner, allowed="a whole number >= 0", got=value
        )
    return float(array)


def _per_distinct(
    function: Callable[[FloatArray, FloatArray, FloatArray], FloatArray],
    x: FloatArray,
    tx: FloatArray,
    n: FloatArray,
) -> FloatArray:
    """Evaluate ``function`` once per distinct (x, t_x, n) row and spread it back.

    Histories over a few opportunities repeat a lot (at most (n + 1)(n + 2)(n + 3) / 6
    distinct rows for n opportunities), so this is what makes a million customers
    cheap.
    """
    (dx, dtx, dn), inverse = group_rows([x, tx, n])
    return function(dx, dtx, dn)[inverse]


# --------------------------------------------------------------------------------------
# The fitted model
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, repr=False)  # keep the base's short repr
class BetaGeoBetaBinomModel(FittedModelBase[BetaGeoBetaBinomParams]):
    r"""A BG/BB model with known parameters: fitted, or built from them.

    A frozen value: parameters, standard errors, log-likelihood and the optimiser's
    report. Predictions take a table with ``frequency``, ``recency``, ``n_periods``
    (as made by :func:`discrete_rfm_table`) and return a Series indexed like it.

    Examples
    --------
    The donations estimates of Fader, Hardie and Shang (2010):

    >>> import pandas as pd
    >>> model = BetaGeoBetaBinomModel.from_params(
    ...     {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783})
    >>> table = pd.DataFrame({"frequency": [0, 3, 3], "recency": [0, 6, 3],
    ...                       "n_periods": [6, 6, 6]}, index=["a", "b", "c"])
    >>> model.probability_alive(table).round(3)
    a    0.108
    b    0.930
    c    0.095
    Name: p_alive, dtype: float64
    """

    _params_type: ClassVar[type[BetaGeoBetaBinomParams]] = BetaGeoBetaBinomParams
    _param_names: ClassVar[tuple[str, ...]] = _NAMES
    _html_title: ClassVar[str] = "BetaGeoBetaBinomModel: BG/BB discrete purchases"

    @property
    def time_unit(self) -> str | None:
        """Always None: the model's unit is one transaction opportunity.

        :func:`~crmscore.customer_lifetime_value` therefore needs
        ``periods_per_step`` (a whole number of opportunities per discounting step).
        """
        return None

    @property
    def _theta(self) -> tuple[float, float, float, float]:
        p = self.params
        return (p.alpha, p.beta, p.gamma, p.delta)

    def probability_alive(self, table: pd.DataFrame, *, ahead: int = 1) -> pd.Series[float]:
        r"""Probability that each customer is alive at opportunity ``n + ahead``.

        Parameters
        ----------
        table : pandas.DataFrame
            ``frequency``, ``recency``, ``n_periods`` per customer.
        ahead : int, default 1
            Opportunities after the last observed one (>= 0); 1 is the paper's
            "alive at n + 1", lifetimes' ``m_periods_in_future``.

        Returns
        -------
        pandas.Series
            ``p_alive`` in [0, 1], indexed like ``table``.

        Notes
        -----
        Fader, Hardie and Shang (2010), equation (A10):

        .. math::

            P(\text{alive at } n + m \mid x, t_x, n) =
            \frac{B(\alpha + x, \beta + n - x)}{B(\alpha, \beta)}
            \frac{B(\gamma, \delta + n + m)}{B(\gamma, \delta)}
            \Big/ L(\alpha, \beta, \gamma, \delta \mid x, t_x, n).
        """
        owner = "BetaGeoBetaBinomModel.probability_alive"
        m = _whole_number(ahead, name="ahead", owner=owner)
        frame, x, tx, n = _arrays(table, owner=owner)
        values = _per_distinct(
            lambda dx, dtx, dn: _discrete.bgbb_probability_alive(
                self._theta, dx, dtx, dn, np.full_like(dn, m)
            ),
            x,
            tx,
            n,
        )
        return pd.Series(values, index=frame.index, name="p_alive")

    def expected_purchases(self, table: pd.DataFrame, *, t: float) -> pd.Series[float]:
        r"""Predict each customer's transactions in the next ``t`` opportunities.

        Parameters
        ----------
        table : pandas.DataFrame
            ``frequency``, ``recency``, ``n_periods`` per customer.
        t : int
            Number of future opportunities :math:`n^*` (a whole number >= 0).

        Returns
        -------
        pandas.Series
            ``expected_purchases``, indexed like ``table``.

        Notes
        -----
        Fader, Hardie and Shang (2010), equation (13):

        .. math::

            E[X(n, n + n^*) \mid x, t_x, n] = \frac{1}{L}
            \frac{B(\alpha + x + 1, \beta + n - x)}{B(\alpha, \beta)}
            \frac{\delta}{\gamma - 1} \frac{\Gamma(\gamma + \delta)}{\Gamma(1 + \delta)}
            \left[\frac{\Gamma(1 + \delta + n)}{\Gamma(\gamma + \delta + n)}
            - \frac{\Gamma(1 + \delta + n + n^*)}{\Gamma(\gamma + \delta + n + n^*)}\right],

        evaluated in log space; near :math:`\gamma = 1`, where it is 0/0, by the
        bracket's Taylor series (lifetimes divides by :math:`\gamma - 1` there).

        Examples
        --------
        >>> import pandas as pd
        >>> model = BetaGeoBetaBinomModel.from_params(
        ...     {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783})
        >>> table = pd.DataFrame({"frequency": [6], "recency": [6], "n_periods": [6]})
        >>> model.expected_purchases(table, t=5).round(4).tolist()
        [3.7521]
        """
        owner = "BetaGeoBetaBinomModel.expected_purchases"
        horizon = _whole_number(t, name="t", owner=owner)
        frame, x, tx, n = _arrays(table, owner=owner)
        values = _per_distinct(
            lambda dx, dtx, dn: _discrete.bgbb_expected_transactions(
                self._theta, dx, dtx, dn, np.full_like(dn, horizon)
            ),
            x,
            tx,
            n,
        )
        return pd.Series(values, index=frame.index, name="expected_purchases")

    @overload
    def expected_purchases_new_customer(self, t: int) -> float: ...

    @overload
    def expected_purchases_new_customer(
        self, t: Sequence[int] | npt.NDArray[Any]
    ) -> npt.NDArray[np.float64]: ...

    def expected_purchases_new_customer(
        self, t: int | Sequence[int] | npt.NDArray[Any]
    ) -> float | npt.NDArray[np.float64]:
        r"""Predict the transactions of a new customer in the first ``t`` opportunities.

        Parameters
        ----------
        t : int or array-like of int
            Numbers of opportunities (whole numbers >= 0).

        Returns
        -------
        float or numpy.ndarray
            One value per horizon, shaped like ``t``.

        Notes
        -----
        Fader, Hardie and Shang (2010):

        .. math::

            E[X(n)] = \frac{\alpha}{\alpha + \beta} \frac{\delta}{\gamma - 1}
            \left[1 - \frac{\Gamma(\gamma + \delta)}{\Gamma(1 + \delta)}
            \frac{\Gamma(1 + \delta + n)}{\Gamma(\gamma + \delta + n)}\right].

        Examples
        --------
        >>> model = BetaGeoBetaBinomModel.from_params(
        ...     {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783})
        >>> model.expected_purchases_new_customer([1, 6]).round(4)
        array([0.4985, 2.2196])
        """
        horizons = _whole_numbers(
            t, name="t", owner="BetaGeoBetaBinomModel.expected_purchases_new_customer"
        )
        values = _discrete.bgbb_expected_new(self._theta, horizons.ravel()).reshape(horizons.shape)
        return float(values) if values.ndim == 0 else values

    @overload
    def probability_of_purchases(self, x: int, *, t: int) -> float: ...

    @overload
    def probability_of_purchases(
        self, x: Sequence[int] | npt.NDArray[Any], *, t: int | Sequence[int] | npt.NDArray[Any]
    ) -> npt.NDArray[np.float64]: ...

    def probability_of_purchases(
        self,
        x: int | Sequence[int] | npt.NDArray[Any],
        *,
        t: int | Sequence[int] | npt.NDArray[Any],
    ) -> float | npt.NDArray[np.float64]:
        r"""Probability that a new customer transacts at exactly ``x`` of ``t`` opportunities.

        Parameters
        ----------
        x : int or array-like of int
            Numbers of transactions (whole numbers >= 0).
        t : int or array-like of int
            Numbers of opportunities (whole numbers >= 0), broadcast against ``x``.

        Returns
        -------
        float or numpy.ndarray
            :math:`P(X(n) = x)`, 0 where ``x > t``.

        Notes
        -----
        Fader, Hardie and Shang (2010), equation (7):

        .. math::

            P(X(n) = x) = \binom{n}{x} \frac{B(\alpha + x, \beta + n - x)}{B(\alpha, \beta)}
            \frac{B(\gamma, \delta + n)}{B(\gamma, \delta)}
            + \sum_{i=x}^{n-1} \binom{i}{x}
            \frac{B(\alpha + x, \beta + i - x)}{B(\alpha, \beta)}
            \frac{B(\gamma + 1, \delta + i)}{B(\gamma, \delta)}.

        Examples
        --------
        >>> model = BetaGeoBetaBinomModel.from_params(
        ...     {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783})
        >>> model.probability_of_purchases([0, 1, 6], t=6).round(4)
        array([0.3112, 0.1701, 0.1128])
        """
        owner = "BetaGeoBetaBinomModel.probability_of_purchases"
        counts = _whole_numbers(x, name="x", owner=owner)
        horizons = _whole_numbers(t, name="t", owner=owner)
        counts, horizons = np.broadcast_arrays(counts, horizons)
        values = _discrete.bgbb_probability_of_transactions(
            self._theta, counts.ravel(), horizons.ravel()
        ).reshape(counts.shape)
        return float(values) if values.ndim == 0 else values

    def log_likelihood_of(self, table: pd.DataFrame) -> pd.Series[float]:
        """Log-likelihood of each customer's history under this model.

        Parameters
        ----------
        table : pandas.DataFrame
            ``frequency``, ``recency``, ``n_periods`` per customer.

        Returns
        -------
        pandas.Series
            ``log_likelihood``, indexed like ``table``; the sum is the total.
        """
        frame, x, tx, n = _arrays(table, owner="BetaGeoBetaBinomModel.log_likelihood_of")
        values = _per_distinct(
            lambda dx, dtx, dn: _discrete.bgbb_log_likelihood(self._theta, dx, dtx, dn), x, tx, n
        )
        return pd.Series(values, index=frame.index, name="log_likelihood")

    # --- serialisation and interop ----------------------------------------------------

    def to_lifetimes(self) -> Any:
        """Convert to a ``lifetimes.BetaGeoBetaBinomFitter`` with these parameters.

        Returns
        -------
        lifetimes.BetaGeoBetaBinomFitter

        Raises
        ------
        ImportError
            lifetimes is not installed (``pip install 'crmscore[lifetimes]'``).
        """
        fitter = lifetimes_class(
            "BetaGeoBetaBinomFitter", owner="BetaGeoBetaBinomModel.to_lifetimes"
        )()
        fitter.params_ = pd.Series(self.params.to_dict())[list(_NAMES)]
        return fitter

    @classmethod
    def from_lifetimes(cls, fitter: Any) -> BetaGeoBetaBinomModel:
        """Build a model from a fitted ``lifetimes.BetaGeoBetaBinomFitter`` (its ``params_``).

        Parameters
        ----------
        fitter : lifetimes.BetaGeoBetaBinomFitter
            A fitted lifetimes model.

        Returns
        -------
        BetaGeoBetaBinomModel
        """
        params = lifetimes_params(
            fitter,
            _NAMES,
            owner="BetaGeoBetaBinomModel.from_lifetimes",
            kind="BetaGeoBetaBinomFitter",
        )
        return cls.from_params(params)


# --------------------------------------------------------------------------------------
# The fitter
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class BetaGeoBetaBinomFitter(FitterSettings):
    """Settings for fitting the BG/BB model by maximum likelihood.

    :meth:`fit` returns a :class:`BetaGeoBetaBinomModel`; the fitter holds no data.
    Customers are compressed to distinct (x, t_x, n) rows with counts (few: at most
    (n + 1)(n + 2)(n + 3) / 6 for n opportunities), then Newton's method in a trust
    region runs on the log parameters with the analytic gradient and Hessian
    (digamma and trigamma functions, no finite differences); standard errors come
    from the observed information.

    Examples
    --------
    The donations data (Fader, Hardie and Shang 2010), aggregated with a count
    column:

    >>> from lifetimes.datasets import load_donations
    >>> model = BetaGeoBetaBinomFitter().fit_aggregated(
    ...     load_donations().rename(columns={"periods": "n_periods"}), count_col="weights")
    >>> {k: round(v, 3) for k, v in model.params.to_dict().items()}
    {'alpha': 1.204, 'beta': 0.75, 'gamma': 0.657, 'delta': 2.783}
    >>> round(model.log_likelihood, 1)
    -33225.6
    """

    _model_type: ClassVar[type[BetaGeoBetaBinomModel]] = BetaGeoBetaBinomModel

    initial_params: BetaGeoBetaBinomParams | None = initial_params_field(BetaGeoBetaBinomParams)  # noqa: RUF009
    """Where the optimiser starts; by default alpha = beta = gamma = delta = 1."""

    penalizer: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_finite)
    """Coefficient of the L2 penalty ``penalizer * (alpha^2 + beta^2 + gamma^2 + delta^2)``
    on the mean log-likelihood; 0 (the default) is maximum likelihood."""

    tol: float = attrs.field(default=DEFAULT_TOL, converter=to_float, validator=positive_finite)
    """Convergence tolerance on the largest gradient of the mean log-likelihood per
    customer with respect to the log parameters."""

    max_iterations: int = max_iterations_field()
    """Most optimiser iterations before :class:`~crmscore.errors.ConvergenceError`."""

    def fit(
        self, table: pd.DataFrame, *, progress: Callable[[float], None] | bool | None = None
    ) -> BetaGeoBetaBinomModel:
        """Fit the model to one row per customer.

        Parameters
        ----------
        table : pandas.DataFrame
            ``frequency``, ``recency``, ``n_periods`` per customer (e.g. from
            :func:`discrete_rfm_table`), indexed by unique customer ids.
        progress : callable or bool, optional
            Called with the fraction done (0 to 1, increasing), or True for a tqdm
            bar, as in :meth:`crmscore.BetaGeoFitter.fit`.

        Returns
        -------
        BetaGeoBetaBinomModel

        Raises
        ------
        ColumnNotFoundError
            A column is missing.
        InvalidDataError
            NaN, negative or fractional values, recency > n_periods, frequency >
            recency, recency without a transaction, an empty table, or no
            transaction at all.
        ConvergenceError
            The optimiser did not converge, or the optimum is not identified.
        """
        owner = "BetaGeoBetaBinomFitter.fit"
        reporter = ProgressReporter(progress, owner=owner)
        reporter.report(0.0)
        frame, x, tx, n = _arrays(table, owner=owner)
        _check_identifiable(frame, x, n, owner=owner)
        (x, tx, n), counts = compress_rows([x, tx, n])
        return self._fit(x, tx, n, counts, progress=reporter)

    def fit_aggregated(
        self,
        stats: pd.DataFrame,
        *,
        count_col: str = "count",
        progress: Callable[[float], None] | bool | None = None,
    ) -> BetaGeoBetaBinomModel:
        """Fit the model to distinct (frequency, recency, n_periods) rows with counts.

        Parameters
        ----------
        stats : pandas.DataFrame
            Columns ``frequency``, ``recency``, ``n_periods`` and ``count_col``.
        count_col : str, default "count"
            The column holding how many customers share each row (lifetimes' donations
            data calls it ``weights``).
        progress : callable or bool, optional
            Called with the fraction done, or True for a tqdm bar, as in :meth:`fit`.

        Returns
        -------
        BetaGeoBetaBinomModel
        """
        owner = "BetaGeoBetaBinomFitter.fit_aggregated"
        reporter = ProgressReporter(progress, owner=owner)
        reporter.report(0.0)
        frame, x, tx, n = _arrays(stats, owner=owner, per_customer=False, frame_name="stats")
        _, (counts,) = frame_columns(frame, [count_col], owner=owner, frame_name="stats")
        check_counts(frame, counts, column=count_col)
        _check_identifiable(frame, x, n, owner=owner)
        (x, tx, n), counts = compress_rows([x, tx, n], counts)
        return self._fit(x, tx, n, counts, progress=reporter)

    def _fit(
        self,
        x: FloatArray,
        tx: FloatArray,
        n: FloatArray,
        counts: FloatArray,
        *,
        progress: ProgressReporter,
    ) -> BetaGeoBetaBinomModel:
        progress.report(PREPARED)
        total = float(counts.sum())
        if self.initial_params is not None:
            start: tuple[float, ...] = tuple(self.initial_params.to_dict()[k] for k in _NAMES)
        else:
            start = (1.0, 1.0, 1.0, 1.0)
        terms = _discrete.bgbb_terms(x, tx, n)
        optimum = maximize(
            lambda theta: _discrete.bgbb_derivatives(theta, terms, counts),
            start=start,
            total_weight=total,
            n_rows=len(x),
            penalizer=self.penalizer,
            penalty_scale=(1.0, 1.0, 1.0, 1.0),
            tol=self.tol,
            max_iterations=self.max_iterations,
            owner="BetaGeoBetaBinomFitter",
            progress=progress,
            progress_span=(PREPARED, OPTIMISED),
        )
        model = BetaGeoBetaBinomModel(
            params=BetaGeoBetaBinomParams(**dict(zip(_NAMES, optimum.theta, strict=True))),
            covariance=optimum.covariance,
            log_likelihood=optimum.log_likelihood,
            n_customers=round(total),
            convergence=optimum.report,
        )
        progress.done()
        return model


def _check_identifiable(frame: pd.DataFrame, x: FloatArray, n: FloatArray, *, owner: str) -> None:
    """Reject data where every customer transacted at no, or at every, opportunity."""
    if (x > 0).any() and (x < n).any():
        return
    problem = "is 0 in every row" if not (x > 0).any() else "equals n_periods in every row"
    raise InvalidDataError(
        f"Column 'frequency' {problem} passed to {owner} ({len(frame)} row(s)): the BG/BB "
        "parameters are not identified. Use more opportunities or more customers."
    )


# --------------------------------------------------------------------------------------
# The table builder
# --------------------------------------------------------------------------------------


def _period_numbers(stamps: npt.NDArray[np.datetime64], freq: str) -> npt.NDArray[np.int64]:
    """Return the number of the calendar period holding each stamp (consecutive numbers).

    Uses numpy's calendar units directly (pandas' ``to_period`` is several times slower on
    millions of rows); weeks run Monday to Sunday, as pandas' ``"W"``.
    """
    if freq == "W":
        days = stamps.astype("datetime64[D]").astype(np.int64)
        return (days + 3) // 7  # 1970-01-01 was a Thursday: day 3 of its week
    unit = {"Y": "Y", "Q": "M", "M": "M", "D": "D"}[freq]
    numbers = stamps.astype(f"datetime64[{unit}]").astype(np.int64)
    return numbers // 3 if freq == "Q" else numbers


def discrete_rfm_table(
    transactions: pd.DataFrame,
    *,
    as_of: object,
    period: str = "Y",
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
) -> pd.DataFrame:
    """Summarise a transaction log into BG/BB histories: one opportunity per period.

    A customer's first transaction fixes their first period (their cohort, not an
    opportunity); every later calendar period up to and including the period that
    holds ``as_of`` is one transaction opportunity, at which the customer did or did
    not transact (several transactions in one period count once).

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per transaction with ``customer_col`` and ``timestamp_col``
        (datetime64). Rows after ``as_of`` are ignored.
    as_of : date-like
        A moment in the last period observed (keyword-only, required).
    period : {"Y", "Q", "M", "W", "D"}, default "Y"
        Length of one opportunity (a pandas period alias).
    customer_col : str, default "customer_id"
        Column of customer ids.
    timestamp_col : str, default "timestamp"
        Column of transaction timestamps.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (named ``customer_col``), sorted: ``frequency``
        (opportunities with a transaction), ``recency`` (the last of them, counted
        from the first period; 0 if none), ``n_periods`` (opportunities observed),
        all int64; ``attrs["period"]`` holds ``period``.

    Raises
    ------
    ColumnNotFoundError
        A column is missing.
    InvalidDataError
        Null or non-datetime timestamps, null customer ids, or no transaction on or
        before ``as_of``.
    InvalidParameterError
        An unknown ``period``, or an ``as_of`` that is not a date.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "c"],
    ...     "timestamp": pd.to_datetime(["2019-03-01", "2020-05-01", "2022-01-09",
    ...                                  "2019-07-01", "2021-02-02"])})
    >>> discrete_rfm_table(log, as_of="2023-12-31")
                 frequency  recency  n_periods
    customer_id
    a                    2        3          4
    b                    0        0          4
    c                    0        0          2
    """
    owner = "discrete_rfm_table"
    frame = check_frame(transactions, name="transactions", owner=owner)
    check_columns(frame, [customer_col, timestamp_col], frame_name="transactions")
    freq = str(check_param(period, _PERIODS, name="period", owner=owner))
    cutoff = as_timestamp(as_of, name="as_of", owner=owner)
    ids = frame[customer_col]
    stamps, end = timestamp_column(
        frame, timestamp_col, ids=ids, as_of=cutoff, frame_name="transactions"
    )
    keep = stamps <= end
    if not keep.any():
        raise InvalidDataError(
            f"transactions passed to {owner} have no transaction on or before as_of ({cutoff}).",
            column=timestamp_col,
        )
    codes, labels = factorize_ids(ids, column=customer_col)
    ordinals = _period_numbers(stamps[keep], freq)
    last = int(_period_numbers(np.array([end]), freq)[0])
    # Distinct (customer, period) pairs, sorted by customer then period.
    low = int(ordinals.min())
    span = last - low + 1
    # np.sort and a neighbour compare: np.unique hashes, and is many times slower here.
    keys = np.sort(codes[keep] * span + (ordinals - low))
    pairs = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    customer, offset = np.divmod(pairs, span)
    first_at = np.flatnonzero(np.concatenate([[True], customer[1:] != customer[:-1]]))
    counts = np.diff(np.append(first_at, customer.size))
    present = customer[first_at]
    first = offset[first_at]
    latest = offset[first_at + counts - 1]
    summary = pd.DataFrame(
        {
            "frequency": counts - 1,
            "recency": latest - first,
            "n_periods": (last - low) - first,
        },
        index=labels[present],
    ).astype(np.int64)
    summary.index.name = customer_col
    summary.attrs["period"] = freq
    return summary
