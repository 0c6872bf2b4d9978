r"""The shifted-beta-geometric model of contract renewals: fitter and fitted model.

Fader and Hardie (2007), "How to Project Customer Retention", Journal of
Interactive Marketing 21(1), 76-90; the discounted expected residual lifetime from
Fader and Hardie (2010), "Customer-Base Valuation in a Contractual Setting: The
Perils of Ignoring Heterogeneity", Marketing Science 29(1), 85-93.

A contractual setting in discrete time: at the end of every period a customer
cancels with probability :math:`\theta`, constant for the customer, and
:math:`\theta \sim \text{Beta}(\alpha, \beta)` across customers. The data are cohort
survival counts: the customers of a cohort still alive at the start of each period
(:func:`cohort_survival` builds them from a subscriptions frame).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, overload

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._serialise import reads
from crmscore._validation import (
    NON_NEGATIVE,
    as_float_array,
    check_columns,
    check_frame,
    check_number,
    non_negative_finite,
    positive_finite,
    reject_ids,
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
    maximize,
)
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from crmscore.clv._discrete import FloatArray

__all__ = [
    "ShiftedBetaGeoFitter",
    "ShiftedBetaGeoModel",
    "ShiftedBetaGeoParams",
    "cohort_survival",
]

_NAMES = ("alpha", "beta")


def _param() -> Any:
    return attrs.field(converter=to_float, validator=positive_finite)


@attrs.frozen(kw_only=True)
class ShiftedBetaGeoParams:
    r"""Parameters of the shifted-beta-geometric model (Fader and Hardie 2007).

    A customer cancels at the end of each period with probability
    :math:`\theta \sim \text{Beta}(\alpha, \beta)`.

    Examples
    --------
    >>> round(ShiftedBetaGeoParams(alpha=0.704, beta=1.182).mean_churn, 3)
    0.373
    """

    alpha: float = _param()
    """First shape parameter of the churn-probability distribution."""

    beta: float = _param()
    """Second shape parameter of the churn-probability distribution."""

    @property
    def mean_churn(self) -> float:
        """Population mean of the churn probability, ``alpha / (alpha + beta)``."""
        return self.alpha / (self.alpha + self.beta)

    def to_dict(self) -> dict[str, float]:
        """JSON-safe representation."""
        return attrs.asdict(self)

    @classmethod
    @reads("alpha", "beta")
    def from_dict(cls, data: Mapping[str, Any]) -> ShiftedBetaGeoParams:
        """Inverse of :meth:`to_dict`."""
        return cls(alpha=data["alpha"], beta=data["beta"])


def _periods(value: object, *, name: str, owner: str, minimum: int = 0) -> npt.NDArray[np.float64]:
    if isinstance(value, bool):
        raise InvalidParameterError.for_value(
            name=name, owner=owner, allowed=f"whole numbers >= {minimum}", got=value
        )
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.array(np.nan)
    if (
        isinstance(value, str)
        or not (np.isfinite(array).all() and (array >= minimum).all())
        or (array != np.floor(array)).any()
    ):
        raise InvalidParameterError.for_value(
            name=name, owner=owner, allowed=f"whole numbers >= {minimum}", got=value
        )
    return array


def _shaped(values: FloatArray, like: npt.NDArray[np.float64]) -> float | FloatArray:
    out = values.reshape(like.shape)
    return float(out) if out.ndim == 0 else out


@attrs.frozen(kw_only=True, repr=False)  # keep the base's short repr
class ShiftedBetaGeoModel(FittedModelBase[ShiftedBetaGeoParams]):
    r"""A shifted-beta-geometric model with known parameters: fitted, or built from them.

    Predicts survival, churn and retention curves of a cohort, and the discounted
    expected residual lifetime of a customer.

    Examples
    --------
    The "regular" segment of Fader and Hardie (2007):

    >>> model = ShiftedBetaGeoModel.from_params({"alpha": 0.704, "beta": 1.182})
    >>> (1000 * model.survival([1, 2, 12])).round(0)
    array([627., 474., 170.])
    >>> model.retention_rate([1, 2, 12]).round(3)
    array([0.627, 0.756, 0.945])
    """

    _params_type: ClassVar[type[ShiftedBetaGeoParams]] = ShiftedBetaGeoParams
    _param_names: ClassVar[tuple[str, ...]] = _NAMES
    _html_title: ClassVar[str] = "ShiftedBetaGeoModel: sBG contract renewals"

    @overload
    def survival(self, t: int) -> float: ...

    @overload
    def survival(self, t: Sequence[int] | npt.NDArray[Any]) -> FloatArray: ...

    def survival(self, t: int | Sequence[int] | npt.NDArray[Any]) -> float | FloatArray:
        r"""Share of a cohort still alive after ``t`` periods, :math:`S(t) = P(T > t)`.

        Parameters
        ----------
        t : int or array-like of int
            Periods (whole numbers >= 0); S(0) = 1.

        Returns
        -------
        float or numpy.ndarray
            Shaped like ``t``.

        Notes
        -----
        Fader and Hardie (2007):
        :math:`S(t) = B(\alpha, \beta + t) / B(\alpha, \beta)`.
        """
        periods = _periods(t, name="t", owner="ShiftedBetaGeoModel.survival")
        p = self.params
        values = np.exp(_discrete.sbg_log_survival(p.alpha, p.beta, periods.ravel()))
        return _shaped(values, periods)

    @overload
    def churn_probability(self, t: int) -> float: ...

    @overload
    def churn_probability(self, t: Sequence[int] | npt.NDArray[Any]) -> FloatArray: ...

    def churn_probability(self, t: int | Sequence[int] | npt.NDArray[Any]) -> float | FloatArray:
        r"""Probability that a new customer cancels at the end of period ``t``, :math:`P(T = t)`.

        Parameters
        ----------
        t : int or array-like of int
            Periods (whole numbers >= 1).

        Returns
        -------
        float or numpy.ndarray
            Shaped like ``t``.

        Notes
        -----
        Fader and Hardie (2007):
        :math:`P(T = t) = B(\alpha + 1, \beta + t - 1) / B(\alpha, \beta)`.

        Examples
        --------
        >>> model = ShiftedBetaGeoModel.from_params({"alpha": 0.704, "beta": 1.182})
        >>> model.churn_probability([1, 2]).round(4)
        array([0.3733, 0.1529])
        """
        periods = _periods(t, name="t", owner="ShiftedBetaGeoModel.churn_probability", minimum=1)
        p = self.params
        values = np.exp(_discrete.sbg_log_churn(p.alpha, p.beta, periods.ravel()))
        return _shaped(values, periods)

    @overload
    def retention_rate(self, t: int) -> float: ...

    @overload
    def retention_rate(self, t: Sequence[int] | npt.NDArray[Any]) -> FloatArray: ...

    def retention_rate(self, t: int | Sequence[int] | npt.NDArray[Any]) -> float | FloatArray:
        r"""Share of the customers alive in period ``t - 1`` who renew for period ``t``.

        Parameters
        ----------
        t : int or array-like of int
            Periods (whole numbers >= 1).

        Returns
        -------
        float or numpy.ndarray
            :math:`r(t) = S(t) / S(t - 1)`, shaped like ``t``; it rises with ``t``
            (the sorting effect of heterogeneity).

        Notes
        -----
        Fader and Hardie (2007):
        :math:`r(t) = (\beta + t - 1) / (\alpha + \beta + t - 1)`.
        """
        periods = _periods(t, name="t", owner="ShiftedBetaGeoModel.retention_rate", minimum=1)
        p = self.params
        values = (p.beta + periods.ravel() - 1) / (p.alpha + p.beta + periods.ravel() - 1)
        return _shaped(values, periods)

    @overload
    def discounted_residual_lifetime(self, discount_rate: float, *, renewals: int = 0) -> float: ...

    @overload
    def discounted_residual_lifetime(
        self, discount_rate: float, *, renewals: Sequence[int] | npt.NDArray[Any]
    ) -> FloatArray: ...

    def discounted_residual_lifetime(
        self,
        discount_rate: float,
        *,
        renewals: int | Sequence[int] | npt.NDArray[Any] = 0,
    ) -> float | FloatArray:
        r"""Compute the discounted expected residual lifetime (DERL) after ``renewals`` renewals.

        The customer is at the end of period ``renewals + 1``, about to decide on the
        next renewal; DERL is the expected number of further periods paid for, each
        discounted to then: multiplied by the (constant) payment per period it is the
        customer's expected residual lifetime value.

        Parameters
        ----------
        discount_rate : float
            Discount rate per period, ``d >= 0`` (at 0, finite only if alpha > 1).
        renewals : int or array-like of int, default 0
            Renewals made so far (whole numbers >= 0); Fader and Hardie's ``n - 1``.

        Returns
        -------
        float or numpy.ndarray
            Shaped like ``renewals``.

        Notes
        -----
        Fader and Hardie (2010), with :math:`n = k + 1` for :math:`k`
        renewals:

        .. math::

            \text{DERL}(d \mid \alpha, \beta, n - 1 \text{ renewals}) =
            \frac{\beta + n - 1}{\alpha + \beta + n - 1}\,
            {}_2F_1\left(1, \beta + n; \alpha + \beta + n; \frac{1}{1 + d}\right)
            = \sum_{t=n}^{\infty} \frac{S(t)}{S(n - 1)} (1 + d)^{-(t - n)}.

        Where scipy's ``hyp2f1`` fails (NaN for large :math:`\beta + k` with a small
        :math:`d`), leaves the bounds DERL must respect (between the geometric series
        at the next renewal's rate and :math:`(1 + d) / d`), or loses digits (its
        argument :math:`1 / (1 + d)` above 0.89, i.e. :math:`d < 0.124`), DERL is
        integrated over the churn probability :math:`\theta \sim \text{Beta}(\alpha, \beta + k)` as
        :math:`E[(1 + d)(1 - \theta) / (d + \theta)]`. At :math:`d = 0` it is
        :math:`(\beta + k) / (\alpha - 1)`.

        Examples
        --------
        >>> model = ShiftedBetaGeoModel.from_params({"alpha": 0.668, "beta": 3.806})
        >>> model.discounted_residual_lifetime(0.1, renewals=[0, 7]).round(3)
        array([5.415, 7.53 ])
        """
        from scipy.special import hyp2f1  # noqa: PLC0415 (imported on use, issue 19)

        from crmscore.clv._mixtures import NEAR_ONE, by_parts, outside  # noqa: PLC0415 (as scipy)

        owner = "ShiftedBetaGeoModel.discounted_residual_lifetime"
        d = check_number(discount_rate, NON_NEGATIVE, name="discount_rate", owner=owner)
        k = _periods(renewals, name="renewals", owner=owner)
        p = self.params
        flat = k.ravel()
        rate = (p.beta + flat) / (p.alpha + p.beta + flat)
        if d == 0:
            # Gauss's sum at z = 1: (beta + k) / (alpha - 1), infinite for alpha <= 1.
            values = (p.beta + flat) / (p.alpha - 1) if p.alpha > 1 else np.full_like(rate, np.inf)
            return _shaped(np.asarray(values, dtype=np.float64), k)
        with np.errstate(all="ignore"):
            values = rate * hyp2f1(1.0, p.beta + flat + 1, p.alpha + p.beta + flat + 1, 1 / (1 + d))
        # Retention rises with tenure, so DERL lies between the geometric series at
        # the next renewal's rate and the undiscounted-by-churn (1 + d) / d; scipy's
        # hyp2f1 fails (NaN) for large beta + k with a small d, and near its argument
        # 1 / (1 + d) = 1 it loses digits inside those bounds (3.8e-7 relative at
        # d = 1e-4, 3.6e-8 at d = 1e-9 against mpmath, scipy 1.11 to 1.17), so there
        # the quadrature (within 5e-15 of mpmath on the same draws) takes every row.
        lower, upper = rate / (1.0 - rate / (1.0 + d)), np.full_like(rate, (1.0 + d) / d)
        bad = outside(values, lower, upper) | (1 / (1 + d) > NEAR_ONE)
        values = np.clip(values, lower, upper)
        if bad.any():
            values[bad] = by_parts(
                _derl_slope,
                np.ones(bad.sum()),
                p.beta + flat[bad],
                p.alpha,
                np.full(bad.sum(), 1 / d),
            )
        return _shaped(np.asarray(values, dtype=np.float64), k)


def _derl_slope(p: FloatArray, u: FloatArray, rho: FloatArray) -> FloatArray:  # noqa: ARG001
    """-g'(theta) for DERL's g(theta) = (1 + d)(1 - theta) / (d + theta), with u = 1 / d.

    DERL = E[g(theta)] over the churn probability theta ~ Beta(alpha, beta + k) (the
    expected discounted number of further periods, sum_j (1 - theta)^(j + 1)
    (1 + d)^-j); -g'(theta) = (1 + d)^2 / (d + theta)^2 = (1 + u)^2 (1 + theta u)^-2.
    """
    result: FloatArray = np.exp(2.0 * (np.log1p(u) - np.log1p(p * u)))
    return result


# --------------------------------------------------------------------------------------
# The fitter
# --------------------------------------------------------------------------------------


def _reject_cohorts(
    frame: pd.DataFrame, mask: npt.NDArray[np.bool_], *, problem: str, column: str | None = None
) -> None:
    if mask.any():
        offending = frame.index[mask]
        raise InvalidDataError.for_ids(
            column=column,
            problem=problem,
            ids=list(offending[:5]),
            n_offending=len(offending),
            unit="cohort(s)",
            hint="Each row is a cohort: customers alive at the start of periods 0, 1, ... "
            "(whole numbers, not increasing), NaN only after the last period observed.",
        )


def _survival_counts(
    cohorts: object, *, owner: str, frame_name: str
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """Check cohort survival rows; return (t, churned, survived) totals and customers.

    ``churned[t - 1]`` customers were lost at the end of period ``t``;
    ``survived[t - 1]`` were alive after period ``t`` when their cohort's observation
    ended there.
    """
    frame = check_frame(cohorts, name=frame_name, owner=owner)
    if frame.shape[0] == 0 or frame.shape[1] < 3:
        raise InvalidDataError(
            f"{frame_name} passed to {owner} needs at least one cohort and three periods "
            f"(the start and two renewals) to identify alpha and beta; got shape {frame.shape}."
        )
    for column in frame.columns:
        dtype = frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            raise InvalidDataError(
                f"Column {column!r} of {frame_name} must be numeric; got dtype {dtype}.",
                column=str(column),
            )
    alive = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    observed = ~np.isnan(alive)
    first = str(frame.columns[0])
    _reject_cohorts(frame, ~observed[:, 0], problem="has no cohort size", column=first)
    gaps = (~observed[:, :-1] & observed[:, 1:]).any(axis=1)
    _reject_cohorts(frame, gaps, problem="has a missing count before an observed one")
    values = np.where(observed, alive, 0.0)
    bad = np.asarray(
        ((values < 0) | ~np.isfinite(values) | (values != np.floor(values))).any(axis=1)
    )
    _reject_cohorts(frame, bad, problem="has counts that are not whole numbers >= 0")
    drops = np.where(observed[:, 1:], values[:, :-1] - values[:, 1:], 0.0)
    increasing = np.asarray((drops < 0).any(axis=1))
    _reject_cohorts(frame, increasing, problem="has alive counts that increase")
    _reject_cohorts(frame, values[:, 0] <= 0, problem="is 0 (an empty cohort)", column=first)
    last = observed.sum(axis=1) - 1  # each cohort's last observed period
    _reject_cohorts(frame, last == 0, problem="is observed at period 0 only (no renewal decision)")
    periods = alive.shape[1] - 1
    t = np.arange(1, periods + 1, dtype=np.float64)
    churned = drops.sum(axis=0)
    at_end = values[np.arange(len(values)), last]
    survived = np.bincount(last, weights=at_end, minlength=periods + 1)[1:]
    return t, churned, survived.astype(np.float64), float(values[:, 0].sum())


@attrs.frozen(kw_only=True)
class ShiftedBetaGeoFitter(FitterSettings):
    """Settings for fitting the shifted-beta-geometric model by maximum likelihood.

    :meth:`fit` (one cohort) and :meth:`fit_cohorts` (several, each observed for as
    long as it has existed) return a :class:`ShiftedBetaGeoModel`. The likelihood
    (Fader and Hardie 2007, appendix) counts the customers lost in each period
    with :math:`P(T = t)` and the survivors, right-censored at the last period
    observed, with :math:`S(t)`; it is maximised by Newton's method in a trust
    region on the log parameters with the analytic gradient and Hessian.

    Examples
    --------
    The "regular" and "high end" segments of Fader and Hardie (2007), years 0-7:

    >>> regular = ShiftedBetaGeoFitter().fit([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> {k: round(v, 3) for k, v in regular.params.to_dict().items()}
    {'alpha': 0.704, 'beta': 1.182}
    >>> high_end = ShiftedBetaGeoFitter().fit([1000, 869, 743, 653, 593, 551, 517, 491])
    >>> {k: round(v, 3) for k, v in high_end.params.to_dict().items()}
    {'alpha': 0.668, 'beta': 3.806}
    """

    _model_type: ClassVar[type[ShiftedBetaGeoModel]] = ShiftedBetaGeoModel

    initial_params: ShiftedBetaGeoParams | None = initial_params_field(ShiftedBetaGeoParams)  # noqa: RUF009
    """Where the optimiser starts; by default alpha = beta = 1."""

    penalizer: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_finite)
    """Coefficient of the L2 penalty ``penalizer * (alpha^2 + beta^2)`` on the mean
    log-likelihood; 0 (the default) is maximum likelihood."""

    tol: float = attrs.field(default=DEFAULT_TOL, converter=to_float, validator=positive_finite)
    """Convergence tolerance on the largest gradient of the mean log-likelihood per
    customer with respect to the log parameters."""

    max_iterations: int = max_iterations_field()
    """Most optimiser iterations before :class:`~crmscore.errors.ConvergenceError`."""

    def fit(
        self, alive: Sequence[float] | npt.NDArray[Any] | pd.Series[Any]
    ) -> ShiftedBetaGeoModel:
        """Fit the model to one cohort's survival counts.

        Parameters
        ----------
        alive : array-like of int
            Customers alive at the start of periods 0, 1, ..., T (the cohort size
            first, then after each renewal decision); not increasing, T >= 2.

        Returns
        -------
        ShiftedBetaGeoModel

        Raises
        ------
        InvalidDataError
            Counts that are negative, fractional or increasing, or fewer than three.
        ConvergenceError
            The optimiser did not converge, or the optimum is not identified.
        """
        counts = np.asarray(alive, dtype=np.float64).reshape(1, -1)
        frame = pd.DataFrame(counts, index=pd.Index(["cohort"], name="cohort"))
        return self._fit(frame, owner="ShiftedBetaGeoFitter.fit", frame_name="alive")

    def fit_cohorts(self, cohorts: pd.DataFrame) -> ShiftedBetaGeoModel:
        """Fit the model to several cohorts' survival counts.

        Parameters
        ----------
        cohorts : pandas.DataFrame
            One row per cohort, one column per period since the cohort started
            (0, 1, ...): customers alive at its start, NaN after the cohort's last
            observed period (as made by :func:`cohort_survival`).

        Returns
        -------
        ShiftedBetaGeoModel
        """
        return self._fit(cohorts, owner="ShiftedBetaGeoFitter.fit_cohorts", frame_name="cohorts")

    def _fit(self, frame: pd.DataFrame, *, owner: str, frame_name: str) -> ShiftedBetaGeoModel:
        t, churned, survived, customers = _survival_counts(
            frame, owner=owner, frame_name=frame_name
        )
        start = (
            (self.initial_params.alpha, self.initial_params.beta)
            if self.initial_params is not None
            else (1.0, 1.0)
        )
        optimum = maximize(
            lambda theta: _discrete.sbg_derivatives(theta, t, churned, survived),
            start=start,
            total_weight=customers,
            n_rows=int(np.count_nonzero(churned) + np.count_nonzero(survived)),
            penalizer=self.penalizer,
            penalty_scale=(1.0, 1.0),
            tol=self.tol,
            max_iterations=self.max_iterations,
            owner="ShiftedBetaGeoFitter",
        )
        return ShiftedBetaGeoModel(
            params=ShiftedBetaGeoParams(**dict(zip(_NAMES, optimum.theta, strict=True))),
            covariance=optimum.covariance,
            log_likelihood=optimum.log_likelihood,
            n_customers=round(customers),
            convergence=optimum.report,
        )


# --------------------------------------------------------------------------------------
# The cohort builder
# --------------------------------------------------------------------------------------


def cohort_survival(
    subscriptions: pd.DataFrame,
    *,
    as_of: int,
    start_col: str = "start",
    end_col: str = "end",
    customer_col: str | None = None,
) -> pd.DataFrame:
    """Count each cohort's customers alive at the start of every period since it began.

    Periods are whole numbers (years, months, billing cycles ... numbered by the
    caller). A customer of cohort ``start`` paid for the periods ``start`` through
    ``end`` and is alive at the start of period ``start + k`` if ``end >= start + k``
    or ``end`` is missing (still subscribed); the counts run up to period ``as_of``.

    Parameters
    ----------
    subscriptions : pandas.DataFrame
        One row per customer (the index is not used) with ``start_col`` (first
        period paid) and ``end_col`` (last period paid; NaN or None if still active).
    as_of : int
        The last period observed; customers starting after it are left out, and an
        ``end`` after it counts as still active.
    start_col : str, default "start"
        Column of first periods paid.
    end_col : str, default "end"
        Column of last periods paid (missing while active).
    customer_col : str, optional
        Column of customer ids; when given, a customer on two rows is an error (a
        renewal is not a new subscription: one row per customer and contract).

    Returns
    -------
    pandas.DataFrame
        Indexed by cohort (``start_col`` values, sorted), one column per period since
        the start (0, 1, ...): customers alive, float, NaN where the period is after
        ``as_of``. The input of :meth:`ShiftedBetaGeoFitter.fit_cohorts`.

    Raises
    ------
    ColumnNotFoundError
        A column is missing.
    InvalidDataError
        Starts that are not whole numbers, ends before starts, or a repeated
        customer id.

    Examples
    --------
    >>> import pandas as pd
    >>> subs = pd.DataFrame({"start": [2020, 2020, 2020, 2021, 2021],
    ...                      "end": [2020, 2022, None, 2021, None]})
    >>> cohort_survival(subs, as_of=2023)
             0    1    2    3
    start
    2020   3.0  2.0  2.0  1.0
    2021   2.0  1.0  1.0  NaN
    """
    owner = "cohort_survival"
    frame = check_frame(subscriptions, name="subscriptions", owner=owner)
    check_columns(
        frame,
        [start_col, end_col, *([] if customer_col is None else [customer_col])],
        frame_name="subscriptions",
    )
    if customer_col is not None:
        customers = frame[customer_col]
        reject_ids(
            customers.to_numpy(),
            customers.duplicated(keep=False).to_numpy(),
            column=customer_col,
            problem="repeats a customer id",
            hint="Pass one row per customer (first and last period paid).",
        )
    if isinstance(as_of, bool) or not isinstance(as_of, int | np.integer):
        raise InvalidParameterError.for_value(
            name="as_of", owner=owner, allowed="a whole number (a period)", got=as_of
        )
    last_period = int(as_of)
    start = as_float_array(frame, start_col, ids=frame.index, frame_name="subscriptions")
    end = frame[end_col].to_numpy(dtype=np.float64, na_value=np.nan)
    hint = "Periods are whole numbers; end is the last period paid (NaN while active)."
    reject_ids(
        frame.index,
        start != np.floor(start),
        column=start_col,
        problem="has values that are not whole numbers",
        hint=hint,
    )
    active = np.isnan(end)
    reject_ids(
        frame.index,
        ~active & ((end != np.floor(end)) | (end < start) | ~np.isfinite(end)),
        column=end_col,
        problem="is not a whole number >= start",
        hint=hint,
    )
    keep = start <= last_period
    start, end, active = start[keep], end[keep], active[keep]
    if start.size == 0:
        raise InvalidDataError(
            f"subscriptions passed to {owner} have no customer starting on or before as_of "
            f"({as_of}).",
            column=start_col,
        )
    cohorts, cohort = np.unique(start, return_inverse=True)
    width = int(last_period - cohorts.min()) + 1
    through = np.where(active, last_period, np.minimum(end, last_period)) - start
    diff = np.zeros((cohorts.size, width + 1))
    np.add.at(diff, (cohort, np.zeros_like(cohort)), 1.0)
    np.add.at(diff, (cohort, through.astype(np.int64) + 1), -1.0)
    counts = np.cumsum(diff, axis=1)[:, :width]
    seen = np.arange(width)[None, :] <= (last_period - cohorts)[:, None]
    return pd.DataFrame(
        np.where(seen, counts, np.nan),
        index=pd.Index(cohorts.astype(np.int64), name=start_col),
        columns=list(range(width)),
    )
