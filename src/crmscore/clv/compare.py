"""Which model fits better: information criteria, tests and a holdout leaderboard.

Also the check of the Gamma-Gamma independence assumption.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd
from scipy.special import chdtrc

from crmscore._display import html_block, short_repr
from crmscore._validation import (
    InstanceOf,
    Interval,
    check_integer,
    check_param,
    to_float,
    validator,
)
from crmscore.clv._inputs import check_frequency, frame_columns, spend_arrays
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy.typing as npt

    from crmscore.clv.intervals import FittedModel

__all__ = [
    "IndependenceTest",
    "LikelihoodRatioTest",
    "ModelLeaderboard",
    "information_criteria",
    "likelihood_ratio_test",
    "model_leaderboard",
    "spend_independence_test",
]


def _fit_statistics(model: Any, *, owner: str, name: str) -> tuple[float, int, int]:
    """Log-likelihood, number of parameters and customers of a fitted model."""
    if model.log_likelihood is None or model.n_customers is None:
        raise InvalidParameterError.for_value(
            name=name,
            owner=owner,
            allowed="a fitted model (with log_likelihood and n_customers)",
            got=type(model).__name__,
        )
    return float(model.log_likelihood), len(model.params.to_dict()), int(model.n_customers)


def information_criteria(model: FittedModel) -> dict[str, float]:
    r"""Log-likelihood, AIC and BIC of a fitted model.

    Parameters
    ----------
    model : FittedModel
        A fitted model (with ``log_likelihood`` and ``n_customers``).

    Returns
    -------
    dict
        ``log_likelihood``, ``n_params``, ``n_customers``, ``aic``, ``bic``.

    Raises
    ------
    InvalidParameterError
        The model was built from parameters (no log-likelihood).

    Notes
    -----
    :math:`\mathrm{AIC} = 2k - 2\ell`, :math:`\mathrm{BIC} = k \ln n - 2\ell`
    with :math:`k` parameters and :math:`n` customers. Lower is better; compare
    only models fitted to the same customers.

    Examples
    --------
    >>> from crmscore import BetaGeoFitter, make_rfm_summary
    >>> model = BetaGeoFitter().fit(make_rfm_summary(2_000, seed=1))
    >>> ic = information_criteria(model)
    >>> round(ic["aic"] - (2 * 4 - 2 * ic["log_likelihood"]), 9)
    0.0
    """
    ll, k, n = _fit_statistics(model, owner="information_criteria", name="model")
    return {
        "log_likelihood": ll,
        "n_params": float(k),
        "n_customers": float(n),
        "aic": 2 * k - 2 * ll,
        "bic": k * math.log(n) - 2 * ll,
    }


@attrs.frozen(kw_only=True)
class LikelihoodRatioTest:
    """Result of :func:`likelihood_ratio_test`."""

    statistic: float = attrs.field(converter=to_float)
    """``2 (ll_full - ll_restricted)``, floored at 0."""
    df: int
    """Number of restricted parameters."""
    p_value: float = attrs.field(converter=to_float)
    """Upper tail of chi-square(df) (halved for a boundary restriction with df = 1)."""
    boundary: bool
    """Whether the restriction puts a parameter on the boundary of its space."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LikelihoodRatioTest:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def likelihood_ratio_test(
    restricted: FittedModel, *, full: FittedModel, n_restricted: int, boundary: bool = False
) -> LikelihoodRatioTest:
    r"""Test a model against a richer one it is nested in.

    Parameters
    ----------
    restricted : FittedModel
        The nested model (e.g. BG/NBD inside MBG/NBD, or Pareto/NBD's limits).
    full : FittedModel
        The richer model, fitted to the same customers.
    n_restricted : int
        Number of parameters the restriction fixes (degrees of freedom), >= 1.
    boundary : bool, default False
        Whether the restricted value lies on the boundary of the full model's
        parameter space (a variance or a rate fixed at 0 or infinity).

    Returns
    -------
    LikelihoodRatioTest

    Raises
    ------
    InvalidParameterError
        A model without a log-likelihood, different customer counts, or
        ``n_restricted`` < 1.

    Notes
    -----
    :math:`D = 2(\ell_{full} - \ell_{restricted}) \sim \chi^2_{df}` under the
    restriction (Wilks' theorem). Wilks needs the restricted value inside the
    parameter space; on its boundary (e.g. Pareto/NBD's dropout rate at 0, or a
    parameter at infinity) the null distribution is a mixture,
    :math:`\tfrac12\chi^2_0 + \tfrac12\chi^2_1` for one parameter (Self and Liang
    1987), whose p-value is half the chi-square one: ``boundary=True`` applies that
    for ``n_restricted = 1``; for more parameters it keeps the chi-square p-value,
    which is then conservative. The estimates of both models should be at their
    maxima; a full model whose log-likelihood is below the restricted one's did
    not converge to its maximum (the statistic is floored at 0).

    Examples
    --------
    >>> from crmscore import BetaGeoFitter, make_rfm_summary
    >>> table = make_rfm_summary(2_000, seed=1)
    >>> model = BetaGeoFitter().fit(table)
    >>> test = likelihood_ratio_test(model, full=model, n_restricted=1)
    >>> test.statistic, test.p_value
    (0.0, 1.0)
    """
    owner = "likelihood_ratio_test"
    ll0, _, n0 = _fit_statistics(restricted, owner=owner, name="restricted")
    ll1, _, n1 = _fit_statistics(full, owner=owner, name="full")
    df = check_integer(
        n_restricted, Interval(Integral, 1, None, closed="left"), name="n_restricted", owner=owner
    )
    check_param(boundary, InstanceOf(bool, "True or False"), name="boundary", owner=owner)
    if n0 != n1:
        raise InvalidParameterError(
            f"{owner} compares models fitted to the same customers; restricted has "
            f"{n0} and full {n1}."
        )
    statistic = max(2.0 * (ll1 - ll0), 0.0)
    p_value = float(chdtrc(df, statistic))  # chi-square survival function
    if boundary and df == 1:
        p_value = p_value / 2 if statistic > 0 else 1.0
    return LikelihoodRatioTest(statistic=statistic, df=df, p_value=p_value, boundary=boundary)


_COLUMNS = (
    "n_params",
    "log_likelihood",
    "aic",
    "bic",
    "actual_total",
    "predicted_total",
    "total_error",
    "mae",
    "rmse",
    "bias",
)


def _to_rows(rows: Any) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in rows)


def _to_names(names: Any) -> tuple[str, ...]:
    return tuple(str(name) for name in names)


@attrs.frozen(kw_only=True)
class ModelLeaderboard:
    """Fit statistics and holdout errors of several models on one split, as one table.

    Made by :func:`model_leaderboard`; :meth:`to_frame` gives the table (one row per
    model, sorted by the holdout RMSE).
    """

    names: tuple[str, ...] = attrs.field(converter=_to_names)
    """Model names, in table order."""
    rows: tuple[tuple[float, ...], ...] = attrs.field(converter=_to_rows)
    """One tuple per model, in the order of the table's columns."""
    duration: float = attrs.field(converter=to_float)
    """Length of the holdout, in the split's time unit."""

    def to_frame(self) -> pd.DataFrame:
        """Return the table, indexed by ``model``.

        Columns ``n_params``, ``log_likelihood``, ``aic``, ``bic`` (of the
        calibration fit), ``actual_total``,
        ``predicted_total``, ``total_error`` (relative), ``mae``, ``rmse``, ``bias``
        (per customer, holdout purchases).
        """
        return pd.DataFrame(
            list(self.rows), index=pd.Index(list(self.names), name="model"), columns=_COLUMNS
        )

    def __repr__(self) -> str:
        return short_repr(
            "ModelLeaderboard", [("models", list(self.names)), ("duration", self.duration)]
        )

    def _repr_html_(self) -> str:
        return html_block(
            "Model leaderboard",
            facts=[("holdout duration", self.duration)],
            tables=[("Calibration fit and holdout purchases per customer", self.to_frame())],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (NaN becomes None)."""
        return {
            "names": list(self.names),
            "rows": [[None if math.isnan(v) else v for v in row] for row in self.rows],
            "duration": self.duration,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelLeaderboard:
        """Inverse of :meth:`to_dict`."""
        return cls(
            names=data["names"],
            rows=[[math.nan if v is None else v for v in row] for row in data["rows"]],
            duration=data["duration"],
        )


def model_leaderboard(split: pd.DataFrame, *, models: Mapping[str, Any]) -> ModelLeaderboard:
    r"""Rank purchase models by how well they predict one holdout.

    Parameters
    ----------
    split : pandas.DataFrame
        From :func:`crmscore.calibration_holdout_split`: the calibration RFM columns,
        ``frequency_holdout`` and ``duration_holdout``.
    models : mapping of str to FittedModel
        Purchase models fitted on the calibration columns, by name (with
        ``expected_purchases(table, *, t)``).

    Returns
    -------
    ModelLeaderboard

    Raises
    ------
    InvalidParameterError
        ``models`` is empty or not a mapping.
    InvalidDataError, ColumnNotFoundError
        The split lacks the holdout columns, or they are invalid.

    Notes
    -----
    With :math:`\hat y_i` the expected holdout purchases and :math:`y_i` the actual:
    MAE :math:`= \frac1n\sum|\hat y_i - y_i|`, RMSE
    :math:`= \sqrt{\frac1n\sum(\hat y_i - y_i)^2}`, bias
    :math:`= \frac1n\sum(\hat y_i - y_i)`; ``total_error`` is
    :math:`\sum\hat y_i / \sum y_i - 1`. Fit statistics are NaN for a model built
    from parameters.

    Examples
    --------
    >>> from crmscore import BetaGeoFitter, BetaGeoModel, calibration_holdout_split
    >>> from crmscore import make_transactions
    >>> book = make_transactions(2_000, seed=3)
    >>> split = calibration_holdout_split(book.transactions, calibration_end="2025-06-30",
    ...                                   observation_end=book.as_of)
    >>> fitted = BetaGeoFitter().fit(split)
    >>> board = model_leaderboard(split, models={
    ...     "bgnbd": fitted,
    ...     "truth": BetaGeoModel.from_params(book.purchase)})
    >>> list(board.to_frame().columns[:4])
    ['n_params', 'log_likelihood', 'aic', 'bic']
    >>> sorted(board.names)
    ['bgnbd', 'truth']
    """
    owner = "model_leaderboard"
    check_param(
        models, InstanceOf(dict, "a dict of fitted models by name"), name="models", owner=owner
    )
    if not models:
        raise InvalidParameterError.for_value(
            name="models", owner=owner, allowed="at least one model", got=models
        )
    frame, (actual, durations) = frame_columns(
        split,
        ("frequency_holdout", "duration_holdout"),
        owner=owner,
        frame_name="split",
        per_customer=True,
    )
    check_frequency(frame, actual, column="frequency_holdout")
    if not (durations == durations[0]).all() or durations[0] <= 0:
        raise InvalidDataError(
            "split's 'duration_holdout' must be one positive holdout length for every "
            "customer; build split with calibration_holdout_split.",
            column="duration_holdout",
        )
    duration = float(durations[0])
    rows: list[tuple[float, ...]] = []
    for model in models.values():
        if model.log_likelihood is None or model.n_customers is None:
            fit = [float(len(model.params.to_dict())), math.nan, math.nan, math.nan]
        else:
            ic = information_criteria(model)
            fit = [ic["n_params"], ic["log_likelihood"], ic["aic"], ic["bic"]]
        predicted = model.expected_purchases(frame, t=duration).to_numpy(dtype=np.float64)
        error = predicted - actual
        total = float(actual.sum())
        rows.append(
            (
                *fit,
                total,
                float(predicted.sum()),
                float(predicted.sum()) / total - 1 if total > 0 else math.nan,
                float(np.abs(error).mean()),
                float(np.sqrt((error**2).mean())),
                float(error.mean()),
            )
        )
    order = sorted(range(len(rows)), key=lambda i: rows[i][8])
    return ModelLeaderboard(
        names=[list(models)[i] for i in order], rows=[rows[i] for i in order], duration=duration
    )


#: Validators of the independence test's fields: a correlation and a p-value.
_correlation = validator(Interval(Real, -1, 1, closed="both"))
_probability = validator(Interval(Real, 0, 1, closed="both"))


@attrs.frozen(kw_only=True)
class IndependenceTest:
    """Result of :func:`spend_independence_test`."""

    n_customers: int
    """Customers with repeat purchases used."""
    pearson: float = attrs.field(converter=to_float, validator=_correlation)
    """Pearson correlation of frequency and mean spend."""
    pearson_p_value: float = attrs.field(converter=to_float, validator=_probability)
    """Two-sided p-value of Pearson's t test (H0: no correlation)."""
    spearman: float = attrs.field(converter=to_float, validator=_correlation)
    """Spearman rank correlation (robust to the skew of spend)."""
    spearman_p_value: float = attrs.field(converter=to_float, validator=_probability)
    """Two-sided p-value of the rank correlation."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IndependenceTest:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def spend_independence_test(table: pd.DataFrame) -> IndependenceTest:
    r"""Test the Gamma-Gamma assumption that spend is independent of frequency.

    Parameters
    ----------
    table : pandas.DataFrame
        With ``frequency`` and ``monetary_value`` (as fitted by
        :class:`~crmscore.GammaGammaFitter`).

    Returns
    -------
    IndependenceTest

    Raises
    ------
    InvalidDataError
        Fewer than 3 customers with repeat purchases.

    Notes
    -----
    Among customers with repeat purchases: Pearson's correlation of ``frequency``
    and ``monetary_value`` with :math:`t = r\sqrt{(n-2)/(1-r^2)}` on
    :math:`n - 2` degrees of freedom, and Spearman's rank correlation. Fader and
    Hardie (2013) check this correlation before using the model (0.11 on CDNOW); a
    clear correlation means CLV = purchases x spend misstates value, and the spend
    model should not be used as is.

    Examples
    --------
    >>> from crmscore import make_rfm_summary
    >>> test = spend_independence_test(make_rfm_summary(5_000, seed=1))
    >>> test.pearson_p_value > 0.01  # simulated independent
    True
    """
    owner = "spend_independence_test"
    _, x, m = spend_arrays(table, owner=owner)
    repeat = x > 0
    if int(repeat.sum()) < 3:
        raise InvalidDataError(
            f"{owner} needs at least 3 customers with repeat purchases; got {int(repeat.sum())}.",
            column="frequency",
        )
    for column, values in (("frequency", x[repeat]), ("monetary_value", m[repeat])):
        if np.ptp(values) == 0:
            raise InvalidDataError(
                f"{owner}: {column} is the same for every repeat customer, so its "
                "correlation with the other column is undefined.",
                column=column,
            )
    pearson, pearson_p_value = _pearson(x[repeat], m[repeat])
    spearman, spearman_p_value = _pearson(_average_ranks(x[repeat]), _average_ranks(m[repeat]))
    return IndependenceTest(
        n_customers=int(repeat.sum()),
        pearson=pearson,
        pearson_p_value=pearson_p_value,
        spearman=spearman,
        spearman_p_value=spearman_p_value,
    )


def _average_ranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Ranks 1..n of ``values``, ties sharing their average rank (``rankdata``'s default).

    One quicksort and a pass over the sorted values: the order among tied values
    does not matter, since they all get the same rank. Whole numbers in a range
    not much wider than their count (purchase frequencies) are counted instead.
    """
    low = float(values.min())
    span = float(values.max()) - low
    if span <= 4 * values.size and np.array_equal(values, np.floor(values)):
        codes = (values - low).astype(np.intp)
        counts = np.bincount(codes)
        ends = np.cumsum(counts)
        average = ends - (counts - 1) / 2.0  # ranks ends - counts + 1 .. ends
        return average[codes]
    order = np.argsort(values)
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    average = (starts + ends + 1) / 2.0  # ranks starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(average, ends - starts)
    return ranks


def _pearson(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Pearson's correlation of ``a`` and ``b`` and its two-sided p-value.

    As ``scipy.stats.pearsonr`` (and ``spearmanr``, given average ranks), without
    importing ``scipy.stats`` (about 0.4 s in a fresh process, paid by the first
    Gamma-Gamma fit of a service) and with the p-value kept in [0, 1] (scipy 1.12's
    is 1 + 2**-52 when the correlation is 0).
    """
    a = a - a.mean()
    b = b - b.mean()
    # Divided by each norm in turn, as numpy's corrcoef (scipy's route).
    rho = float(np.dot(a, b)) / math.sqrt(float(np.dot(a, a))) / math.sqrt(float(np.dot(b, b)))
    rho = min(max(rho, -1.0), 1.0)
    return rho, _correlation_p_value(rho, a.size)


def _correlation_p_value(rho: float, n: int) -> float:
    r"""Two-sided p-value of a correlation ``rho`` of ``n`` pairs (H0: none).

    Student's t with n - 2 degrees of freedom, :math:`t = \rho\sqrt{(n-2)/(1-\rho^2)}`,
    as scipy's ``pearsonr`` and ``spearmanr``; clipped to [0, 1], which rounding
    can leave by an ulp when ``rho`` is 0.
    """
    from scipy.special import stdtr  # noqa: PLC0415 (this test only)

    if abs(rho) >= 1.0:  # t is infinite
        return 0.0
    dof = n - 2
    t = rho * math.sqrt(dof / ((rho + 1.0) * (1.0 - rho)))
    return min(max(float(2 * stdtr(dof, -abs(t))), 0.0), 1.0)
