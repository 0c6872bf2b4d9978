"""The Gamma-Gamma spend model: fitter (settings) and fitted model (a value).

Fader, Hardie and Lee (2005), "RFM and CLV: using iso-value curves for customer
base analysis", Journal of Marketing Research 42(4), 415-430; and Fader and Hardie
(2013), "The Gamma-Gamma model of monetary value" (the equations cited here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np
import pandas as pd

from crmscore._groups import compress_rows
from crmscore._params import GammaGammaParams
from crmscore._progress import ProgressReporter
from crmscore._serialise import build, reads
from crmscore._validation import non_negative_finite, positive_finite, reject_ids, to_float
from crmscore.clv import _kernels
from crmscore.clv._base import FitterSettings, initial_params_field, max_iterations_field
from crmscore.clv._fitting import (
    DEFAULT_TOL,
    FIT_RESULT_KEYS,
    OPTIMISED,
    PREPARED,
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
    standard_errors,
    to_matrix,
)
from crmscore.clv._inputs import (
    check_counts,
    check_repeaters,
    frame_columns,
    one_table,
    spend_arrays,
)
from crmscore.clv.compare import IndependenceTest, spend_independence_test
from crmscore.errors import InvalidDataError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from crmscore.clv._kernels import FloatArray

__all__ = ["GammaGammaFitter", "GammaGammaModel"]

_NAMES = ("p", "q", "v")


def check_finite_spend(params: GammaGammaParams, ids: pd.Index[Any], x: FloatArray) -> None:
    """Refuse customers whose expected spend is infinite: p x + q <= 1 (needs q <= 1).

    The posterior mean spend p (v + x m) / (p x + q - 1) exists only where
    p x + q > 1; with q > 1 that holds for everyone.
    """
    if params.q > 1:
        return
    reject_ids(
        ids,
        params.p * x + params.q <= 1,
        column="frequency",
        problem=f"is too low for a finite expected spend under this Gamma-Gamma model "
        f"(q = {params.q:.4g} <= 1, so p * frequency + q must exceed 1)",
        hint="Its population mean spend p v / (q - 1) is infinite: use a model with "
        "q > 1, or predict only for customers with enough repeat purchases.",
    )


@attrs.frozen(kw_only=True)
class GammaGammaModel:
    r"""A Gamma-Gamma spend model with known parameters: fitted, or built from them.

    Examples
    --------
    The published CDNOW estimates:

    >>> import pandas as pd
    >>> model = GammaGammaModel.from_params(GammaGammaParams(p=6.25, q=3.74, v=15.44))
    >>> round(model.mean_spend, 2)
    35.22
    >>> table = pd.DataFrame({"frequency": [0, 1, 6], "monetary_value": [0.0, 20.0, 20.0]})
    >>> model.expected_spend(table).round(2)
    0    35.22
    1    24.64
    2    21.04
    Name: expected_spend, dtype: float64
    """

    #: Read by GammaGammaFitter.from_dict (FitterSettings) for ``initial_params``.
    _params_type: ClassVar[type[GammaGammaParams]] = GammaGammaParams

    params: GammaGammaParams = attrs.field(validator=attrs.validators.instance_of(GammaGammaParams))
    """The parameters p, q, v."""

    covariance: Matrix | None = attrs.field(
        default=None, converter=to_matrix, validator=check_covariance(3)
    )
    """Covariance of (p, q, v) from the observed information; None if unfitted."""

    log_likelihood: float | None = attrs.field(
        default=None, converter=attrs.converters.optional(to_float), validator=optional_finite
    )
    """Total log-likelihood of the fitted customers' mean spend (without penalty)."""

    n_customers: int | None = attrs.field(default=None, validator=optional_positive_int)
    """Customers with repeat purchases the model was fitted on; None if unfitted."""

    convergence: ConvergenceReport | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(ConvergenceReport)),
    )
    """The optimiser's report; None if built from parameters."""

    independence: IndependenceTest | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(IndependenceTest)),
        eq=False,  # a check of the data, not part of the model (fit_aggregated has none)
    )
    """The check of the model's assumption that spend does not depend on frequency:
    :func:`~crmscore.spend_independence_test` on the customers
    :meth:`GammaGammaFitter.fit` was given (shown with the fit's summary). None if
    built from parameters, fitted to aggregated rows, or with fewer than 3 repeat
    customers or one frequency or spend shared by all of them."""

    @classmethod
    def from_params(cls, params: GammaGammaParams | Mapping[str, float]) -> GammaGammaModel:
        """Build a model from known (e.g. published) parameters.

        Parameters
        ----------
        params : GammaGammaParams or mapping
            ``p``, ``q``, ``v``.

        Returns
        -------
        GammaGammaModel
        """
        if not isinstance(params, GammaGammaParams):
            params = GammaGammaParams.from_dict(params)
        return cls(params=params)

    def __repr__(self) -> str:
        return fitted_model_repr(self)

    def _repr_html_(self) -> str:
        """Parameters with standard errors and confidence intervals, as an HTML table."""
        return fitted_model_html(
            self,
            title="GammaGammaModel: Gamma-Gamma spend",
            facts=[
                ("population mean spend", self.mean_spend),
                *self._independence_facts(),
            ],
        )

    def _independence_facts(self) -> list[tuple[str, str]]:
        test = self.independence
        if test is None:
            return []
        return [
            (
                "frequency vs spend (independence assumed)",
                (
                    f"Pearson {test.pearson:.3f} (p = {test.pearson_p_value:.2g}), Spearman "
                    f"{test.spearman:.3f} (p = {test.spearman_p_value:.2g}) over "
                    f"{test.n_customers:,} repeat customers"
                ),
            )
        ]

    @property
    def mean_spend(self) -> float:
        """Population mean spend per transaction, ``p v / (q - 1)`` (inf if q <= 1)."""
        return self.params.mean_spend

    @property
    def standard_errors(self) -> dict[str, float] | None:
        """Standard errors of p, q, v (None if built from parameters)."""
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
            Indexed by parameter: ``estimate``, ``std_error``, ``lower``, ``upper``.
        """
        return parameter_summary(self.params.to_dict(), self.standard_errors, level=level)

    def expected_spend(self, table: pd.DataFrame) -> pd.Series[float]:
        r"""Predict the mean spend per future transaction of each customer.

        Parameters
        ----------
        table : pandas.DataFrame
            With ``frequency`` and ``monetary_value`` (the mean of repeat purchase
            amounts, as in :func:`crmscore.rfm_table`).

        Returns
        -------
        pandas.Series
            ``expected_spend``, indexed like ``table``. Customers without repeat
            purchases get the population mean.

        Notes
        -----
        Equation (5) of Fader and Hardie's note, a weighted average of the population
        mean and the customer's own mean :math:`m_x`:

        .. math::

            E[M \mid p, q, \gamma, m_x, x] = \frac{q - 1}{p x + q - 1}
            \frac{p \gamma}{q - 1} + \frac{p x}{p x + q - 1} m_x
            = \frac{p (\gamma + x m_x)}{p x + q - 1}.

        The right-hand form is computed; it stays finite for q <= 1 when
        p x + q > 1. Where p x + q <= 1 (with q <= 1, every customer without
        repeat purchases) the mean is infinite and the call raises
        :class:`~crmscore.errors.InvalidDataError` naming those customers, rather
        than returning ``inf``.
        """
        frame, x, m = spend_arrays(table, owner="GammaGammaModel.expected_spend")
        check_finite_spend(self.params, frame.index, x)
        p = self.params
        values = _kernels.gg_expected_spend((p.p, p.q, p.v), x, np.where(x > 0, m, 0.0))
        return pd.Series(values, index=frame.index, name="expected_spend")

    def log_likelihood_of(self, table: pd.DataFrame) -> pd.Series[float]:
        """Log-likelihood of each repeat customer's mean spend (equation 1a of the note).

        Parameters
        ----------
        table : pandas.DataFrame
            With ``frequency`` and ``monetary_value``.

        Returns
        -------
        pandas.Series
            ``log_likelihood`` for the rows with ``frequency`` > 0.
        """
        frame, x, m = spend_arrays(table, owner="GammaGammaModel.log_likelihood_of")
        keep = x > 0
        p = self.params
        values = _kernels.gg_log_likelihood((p.p, p.q, p.v), x[keep], m[keep])
        return pd.Series(values, index=frame.index[keep], name="log_likelihood")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (``independence`` only when there is one)."""
        data = fit_result_to_dict(self)
        if self.independence is not None:
            data["independence"] = self.independence.to_dict()
        return data

    @classmethod
    @reads("params", optional=(*FIT_RESULT_KEYS, "independence"))
    def from_dict(cls, data: Mapping[str, Any]) -> GammaGammaModel:
        """Inverse of :meth:`to_dict`."""
        independence = data.get("independence")
        return cls(
            params=GammaGammaParams.from_dict(data["params"]),
            **fit_result_from_dict(data),
            independence=None if independence is None else build(IndependenceTest, independence),
        )

    def to_lifetimes(self) -> Any:
        """Convert to a ``lifetimes.GammaGammaFitter`` with these parameters (needs lifetimes).

        Returns
        -------
        lifetimes.GammaGammaFitter

        Raises
        ------
        ImportError
            lifetimes is not installed (``pip install 'crmscore[lifetimes]'``).
        """
        fitter = lifetimes_class("GammaGammaFitter", owner="GammaGammaModel.to_lifetimes")()
        fitter.params_ = pd.Series(self.params.to_dict())[list(_NAMES)]
        return fitter

    @classmethod
    def from_lifetimes(cls, fitter: Any) -> GammaGammaModel:
        """Build a model from a fitted ``lifetimes.GammaGammaFitter`` (its ``params_``).

        Parameters
        ----------
        fitter : lifetimes.GammaGammaFitter
            A fitted lifetimes model.

        Returns
        -------
        GammaGammaModel
        """
        params = lifetimes_params(
            fitter, _NAMES, owner="GammaGammaModel.from_lifetimes", kind="GammaGammaFitter"
        )
        return cls.from_params(params)


@attrs.frozen(kw_only=True)
class GammaGammaFitter(FitterSettings):
    """Settings for fitting the Gamma-Gamma spend model by maximum likelihood.

    The model describes the mean spend of customers with at least one repeat
    purchase; :meth:`fit` uses exactly those rows of the table. It assumes spend is
    independent of purchase frequency: check that the correlation between
    ``frequency`` and ``monetary_value`` is weak before relying on it.

    Examples
    --------
    >>> from crmscore import make_transactions, rfm_table
    >>> book = make_transactions(2_000, seed=7)
    >>> table = rfm_table(book.transactions, as_of=book.as_of)
    >>> model = GammaGammaFitter().fit(table)
    >>> model.n_customers == int((table["frequency"] > 0).sum())
    True
    """

    _model_type: ClassVar[type[GammaGammaModel]] = GammaGammaModel

    initial_params: GammaGammaParams | None = initial_params_field(GammaGammaParams)  # noqa: RUF009
    """Where the optimiser starts; by default by the method of moments (q = 3, and p,
    v matching the mean and variance of the observed mean spends)."""

    penalizer: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_finite)
    """Coefficient of the L2 penalty ``penalizer * (p^2 + q^2 + v^2)`` on the mean
    log-likelihood, as ``penalizer_coef`` in lifetimes. 0 is maximum likelihood."""

    tol: float = attrs.field(default=DEFAULT_TOL, converter=to_float, validator=positive_finite)
    """Convergence tolerance on the largest gradient of the mean log-likelihood per
    customer with respect to the log parameters."""

    max_iterations: int = max_iterations_field()
    """Most optimiser iterations before :class:`~crmscore.errors.ConvergenceError`."""

    @one_table("frequency", "monetary_value")
    def fit(
        self, table: pd.DataFrame, *, progress: Callable[[float], None] | bool | None = None
    ) -> GammaGammaModel:
        """Fit the model to the customers of ``table`` with repeat purchases.

        Parameters
        ----------
        table : pandas.DataFrame
            With ``frequency`` and ``monetary_value`` (e.g. :func:`crmscore.rfm_table`).
        progress : callable or bool, optional
            Called with the fraction done (0 to 1, increasing): after the data are
            checked and compressed, at every optimiser iteration, and with 1.0 at the
            end. An exception it raises stops the fit. Nothing is reported without it.
            ``True`` draws a tqdm bar instead (the ``progress`` extra).

        Returns
        -------
        GammaGammaModel

        Raises
        ------
        ColumnNotFoundError
            A column is missing.
        InvalidDataError
            NaN, negative or non-integer frequency, non-positive spend of a repeat
            customer, an empty table, or no repeat customer at all.
        ConvergenceError
            The optimiser did not converge, or the optimum is not identified.
        """
        owner = "GammaGammaFitter.fit"
        reporter = ProgressReporter(progress, owner=owner)
        reporter.report(0.0)
        frame, x, m = spend_arrays(table, owner=owner)
        check_repeaters(frame, x, owner=owner)
        keep = x > 0
        independence = (
            spend_independence_test(frame)
            if int(keep.sum()) >= 3 and np.ptp(x[keep]) > 0 and np.ptp(m[keep]) > 0
            else None
        )
        (x, m), counts = compress_rows([x[keep], m[keep]])
        model = self._fit(x, m, counts, progress=reporter)
        return attrs.evolve(model, independence=independence)

    def fit_aggregated(
        self,
        stats: pd.DataFrame,
        *,
        count_col: str = "count",
        progress: Callable[[float], None] | bool | None = None,
    ) -> GammaGammaModel:
        """Fit the model to sufficient statistics: rows with customer counts.

        Parameters
        ----------
        stats : pandas.DataFrame
            Columns ``frequency``, ``monetary_value`` and ``count_col``; rows with
            ``frequency`` 0 are ignored.
        count_col : str, default "count"
            How many customers share each row.
        progress : callable or bool, optional
            Called with the fraction done, as in :meth:`fit`.
            ``True`` draws a tqdm bar instead (the ``progress`` extra).

        Returns
        -------
        GammaGammaModel
        """
        owner = "GammaGammaFitter.fit_aggregated"
        reporter = ProgressReporter(progress, owner=owner)
        reporter.report(0.0)
        frame, x, m = spend_arrays(stats, owner=owner, per_customer=False, frame_name="stats")
        _, (counts,) = frame_columns(frame, [count_col], owner=owner, frame_name="stats")
        check_counts(frame, counts, column=count_col)
        check_repeaters(frame, x, owner=owner)
        keep = x > 0
        return self._fit(x[keep], m[keep], counts[keep], progress=reporter)

    @staticmethod
    def aggregate(table: pd.DataFrame) -> pd.DataFrame:
        """Sufficient statistics: distinct (frequency, monetary_value) of repeat customers.

        Parameters
        ----------
        table : pandas.DataFrame
            With ``frequency`` and ``monetary_value``.

        Returns
        -------
        pandas.DataFrame
            Columns ``frequency`` (int), ``monetary_value``, ``count`` (int).
        """
        _, x, m = spend_arrays(table, owner="GammaGammaFitter.aggregate")
        keep = x > 0
        if keep.any():
            (x, m), counts = compress_rows([x[keep], m[keep]])
        else:
            x, m, counts = x[keep], m[keep], x[keep]
        return pd.DataFrame(
            {"frequency": x.astype(np.int64), "monetary_value": m, "count": counts.astype(np.int64)}
        )

    def _fit(
        self, x: FloatArray, m: FloatArray, counts: FloatArray, *, progress: ProgressReporter
    ) -> GammaGammaModel:
        progress.report(PREPARED)
        n = float(counts.sum())
        if self.initial_params is not None:
            p0 = self.initial_params
            start: tuple[float, ...] = (p0.p, p0.q, p0.v)
        else:
            start = _moment_start(m, counts)
        data = _kernels.prepare_gg(x, m, counts)
        optimum = maximize(
            lambda theta: _kernels.gg_derivatives_of(theta, data),
            start=start,
            total_weight=n,
            n_rows=len(x),
            penalizer=self.penalizer,
            penalty_scale=(1.0, 1.0, 1.0),
            tol=self.tol,
            max_iterations=self.max_iterations,
            owner="GammaGammaFitter",
            progress=progress,
            progress_span=(PREPARED, OPTIMISED),
        )
        params = GammaGammaParams(**dict(zip(_NAMES, optimum.theta, strict=True)))
        check_mean_spend(params, n_customers=round(n))
        model = GammaGammaModel(
            params=params,
            covariance=optimum.covariance,
            log_likelihood=optimum.log_likelihood,
            n_customers=round(n),
            convergence=optimum.report,
        )
        progress.done()
        return model


def _moment_start(m: FloatArray, counts: FloatArray) -> tuple[float, float, float]:
    """Choose starting values from the mean and spread of the mean spends (see below)."""
    total = float(counts.sum())
    mean = float(np.sum(counts * m)) / total
    variance = float(np.sum(counts * (m - mean) ** 2)) / total
    return moment_start(mean, variance)


def moment_start(mean: float, variance: float) -> tuple[float, float, float]:
    """Choose starting values: q = 3, and p, v from the mean and spread of mean spends.

    With q = 3 the population mean spend is p v / 2; p is taken from the squared
    coefficient of variation of the observed means (about 1/p for a Gamma), clipped
    to a sensible range. A distributed fit sums the mean and spread over partitions.
    """
    cv2 = variance / mean**2 if mean > 0 else 1.0
    p = float(np.clip(1.0 / max(cv2, 1e-6), 0.5, 50.0))
    q = 3.0
    return (p, q, 2.0 * mean / p)


def check_mean_spend(params: GammaGammaParams, *, n_customers: int) -> None:
    """Refuse a fit with q <= 1: the population's mean spend would be infinite."""
    if params.q <= 1:
        raise InvalidDataError(
            f"The Gamma-Gamma fit gives q = {params.q:.4g} <= 1: the spend of these "
            f"{n_customers} repeat customers is so heavy-tailed that the model's mean spend "
            "p v / (q - 1) is infinite, and so would be the expected spend of every "
            "customer without enough repeat purchases. Check monetary_value for "
            "outliers or data errors, or cap extreme amounts, before fitting.",
            column="monetary_value",
            n_offending=n_customers,
        )
