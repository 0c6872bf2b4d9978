"""What the fitted covariate models share: coefficients, summary, per-group predictions."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import attrs
import numpy as np
import pandas as pd

from crmscore._display import html_block
from crmscore._groups import group_rows
from crmscore._serialise import reads
from crmscore._validation import check_unique_index
from crmscore.clv._fitting import (
    ConvergenceReport,
    Matrix,
    check_covariance,
    optional_positive_int,
    parameter_summary,
)
from crmscore.clv._inputs import check_time_unit
from crmscore.clv.covariates._estimation import (
    Spec,
    covariate_matrix,
    exponents,
)
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Self

    from crmscore.clv._kernels import FloatArray

__all__ = [
    "MODEL_KEYS",
    "CovariateModel",
    "PurchaseCovariateModel",
    "convergence_field",
    "covariance_size",
    "n_customers_field",
    "time_unit_field",
]

#: The ``to_dict`` keys every fitted covariate model has besides ``params`` and its sets.
MODEL_KEYS = ("covariance", "log_likelihood", "n_customers", "convergence")


# --------------------------------------------------------------------------------------
# The fitted models
# --------------------------------------------------------------------------------------


def covariance_size(instance: Any, attribute: attrs.Attribute[Any], value: Matrix | None) -> None:
    size = len(instance._SPEC.names) + sum(len(names) for names, _ in instance._sets())
    check_covariance(size)(instance, attribute, value)


# Fields every covariate model declares (each class keeps its own docstrings). Only
# fields without a converter: the attrs mypy plugin types __init__ from a converter
# it sees in the class body, so those stay written out there.


def n_customers_field() -> Any:
    """Return the ``n_customers`` field: None or a positive whole number."""
    return attrs.field(default=None, validator=optional_positive_int)


def convergence_field() -> Any:
    """Return the ``convergence`` field: None or the optimiser's report."""
    return attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(ConvergenceReport)),
    )


def time_unit_field() -> Any:
    """Return the ``time_unit`` field of a purchase model: "D", "W", "M" or None."""
    return attrs.field(default=None, validator=check_time_unit)


#: The model without covariates a covariate model reduces to for one segment.
M = TypeVar("M")


class CovariateModel(Generic[M]):
    """Shared behaviour of the fitted covariate models (fields are in the subclasses)."""

    _SPEC: ClassVar[Spec]
    _TITLE: ClassVar[str]
    params: Any
    covariance: Matrix | None
    log_likelihood: float | None
    n_customers: int | None
    convergence: ConvergenceReport | None

    def __attrs_post_init__(self) -> None:
        self._check_sets()

    def _sets(self) -> list[tuple[tuple[str, ...], tuple[float, ...]]]:
        return [
            (getattr(self, f"{p}_covariates"), getattr(self, f"{p}_gamma"))
            for p in self._SPEC.processes
        ]

    def _check_sets(self) -> None:
        for process, (names, gamma) in zip(self._SPEC.processes, self._sets(), strict=True):
            if len(names) != len(gamma):
                raise InvalidParameterError.for_value(
                    name=f"{process}_gamma",
                    owner=type(self).__name__,
                    allowed=f"one coefficient per name in {process}_covariates ({len(names)})",
                    got=list(gamma),
                )

    @property
    def coefficient_names(self) -> tuple[str, ...]:
        """Labels of the coefficients: ``process.column`` (CLVTools' style), in order."""
        return tuple(
            f"{process}.{name}"
            for process, (names, _) in zip(self._SPEC.processes, self._sets(), strict=True)
            for name in names
        )

    @property
    def standard_errors(self) -> dict[str, float] | None:
        """Standard errors of the baseline parameters and coefficients; None without a fit."""
        if self.covariance is None:
            return None
        labels = [*self._SPEC.names, *self.coefficient_names]
        return {label: math.sqrt(self.covariance[i][i]) for i, label in enumerate(labels)}

    def summary(self, *, level: float = 0.95) -> pd.DataFrame:
        """Estimates, standard errors and Wald confidence intervals.

        Baseline parameters get log-scale intervals (they are positive), coefficients
        linear ones, and a two-sided ``p_value`` for a zero coefficient.

        Parameters
        ----------
        level : float, default 0.95
            Confidence level.

        Returns
        -------
        pandas.DataFrame
            Indexed by parameter (coefficients as ``process.column``): ``estimate``,
            ``std_error``, ``lower``, ``upper``, ``p_value`` (NaN without a fit).
        """
        from scipy.stats import norm  # noqa: PLC0415 (only needed here)

        errors = self.standard_errors
        base = parameter_summary(self.params.to_dict(), errors, level=level)
        base["p_value"] = math.nan
        labels = list(self.coefficient_names)
        estimate = np.array([g for _, gamma in self._sets() for g in gamma])
        se = np.array([math.nan if errors is None else errors[k] for k in labels])
        z = float(norm.ppf(0.5 + float(level) / 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            p_value = 2 * norm.sf(np.abs(estimate / se))
        coefficients = pd.DataFrame(
            {
                "estimate": estimate,
                "std_error": se,
                "lower": estimate - z * se,
                "upper": estimate + z * se,
                "p_value": p_value,
            },
            index=pd.Index(labels, name="parameter"),
        )
        return pd.concat([base, coefficients]) if labels else base

    def __repr__(self) -> str:
        fields = [*self.params.to_dict().items()]
        fields += [
            (f"{process}.{name}", g)
            for process, (names, gamma) in zip(self._SPEC.processes, self._sets(), strict=True)
            for name, g in zip(names, gamma, strict=True)
        ]
        if self.n_customers is not None:
            fields.append(("n_customers", self.n_customers))
        if self.log_likelihood is not None:
            fields.append(("log_likelihood", self.log_likelihood))
        text = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields)
        return f"{type(self).__name__}({text})"

    def _repr_html_(self) -> str:
        """Parameters and coefficients with standard errors, as an HTML table."""
        report = self.convergence
        facts = [
            ("time unit", getattr(self, "time_unit", None)),
            ("customers", self.n_customers),
            ("log-likelihood", self.log_likelihood),
            (
                "optimiser",
                None
                if report is None
                else f"{report.method}: converged={report.converged} in "
                f"{report.n_iterations} iterations over {report.n_rows:,} distinct rows",
            ),
        ]
        caption = (
            "Baseline parameters (log-scale Wald intervals) and coefficients (Wald "
            "intervals, p-value of a zero coefficient), 95%"
            if self.covariance is not None
            else "Parameters and coefficients (built from given values: no standard errors)"
        )
        return html_block(
            self._TITLE,
            facts=[(k, v) for k, v in facts if v is not None],
            tables=[(caption, self.summary())],
        )

    def _covariates(self, table: object, *, owner: str) -> tuple[pd.DataFrame, FloatArray]:
        """Validate the table's covariates; return the frame and the log multipliers."""
        if not isinstance(table, pd.DataFrame):
            raise InvalidParameterError(
                f"The 'table' parameter of {owner} must be a pandas DataFrame. Got "
                f"{type(table).__name__!r} instead."
            )
        z = {}
        gamma = {}
        for process, (names, coefficients) in zip(self._SPEC.processes, self._sets(), strict=True):
            z[process] = covariate_matrix(
                table, names, owner=owner, setting=f"the model's {process}_covariates"
            )
            gamma[process] = np.asarray(coefficients, dtype=np.float64)
        return table, exponents(self._SPEC, z, gamma)

    def individual_params(self, table: pd.DataFrame) -> pd.DataFrame:
        """Each customer's own model parameters, from its covariates.

        Parameters
        ----------
        table : pandas.DataFrame
            One row per customer with the model's covariate columns.

        Returns
        -------
        pandas.DataFrame
            One column per model parameter, indexed like ``table``.
        """
        frame, exponent = self._covariates(table, owner=f"{type(self).__name__}.individual_params")
        base = np.asarray([self.params.to_dict()[k] for k in self._SPEC.names])
        return pd.DataFrame(
            base * np.exp(exponent), index=frame.index, columns=list(self._SPEC.names)
        )

    def base_model(self, covariates: Mapping[str, float] | None = None) -> M:
        r"""Build the model without covariates for a customer with the given covariate values.

        Parameters
        ----------
        covariates : mapping of str to float, optional
            A value for every covariate column; omitted means all 0 (the baseline).

        Returns
        -------
        BetaGeoModel, ParetoNBDModel or GammaGammaModel
            Built from the customer's own parameters. For a fitted model it carries
            their covariance (below), so the intervals of :mod:`crmscore.clv`
            (``parameter_intervals``' Wald intervals, ``predict_intervals``,
            ``predict_totals``) work for the segment; it has no log-likelihood.

        Notes
        -----
        The segment's log parameters are linear in the fitted ones:
        :math:`\log\theta_z = \log\theta + S_z \gamma`, with :math:`S_z` the
        covariate values signed as in the model's form. So their covariance is
        exactly :math:`A \Sigma_{\log} A'` with :math:`A = [I \; S_z]` and
        :math:`\Sigma_{\log}` the covariance of (log baseline, coefficients), and
        the covariance of the parameters is that scaled by
        :math:`\theta_z \theta_z'` (the delta method, as for any fitted model).
        """
        values = dict(covariates or {})
        names = {n for names, _ in self._sets() for n in names}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InvalidParameterError.for_value(
                name="covariates",
                owner=f"{type(self).__name__}.base_model",
                allowed=f"values for the model's covariates {sorted(names)}",
                got=unknown,
            )
        row = pd.DataFrame({n: [float(values.get(n, 0.0))] for n in sorted(names)})
        params = self.individual_params(row).iloc[0]
        theta = np.array([float(params[k]) for k in self._SPEC.names])
        model = self._base(tuple(theta.tolist()))
        if self.covariance is None:
            return model
        size = len(theta)
        design = [np.eye(size)]
        for process, (columns, _) in zip(self._SPEC.processes, self._sets(), strict=True):
            block = np.zeros((size, len(columns)))
            z = np.array([float(values.get(c, 0.0)) for c in columns])
            for index, sign in self._SPEC.scaled[process]:
                block[index] = sign * z
            design.append(block)
        a = np.hstack(design)
        baseline = np.array([self.params.to_dict()[k] for k in self._SPEC.names])
        to_log = np.concatenate([1.0 / baseline, np.ones(a.shape[1] - size)])
        log_cov = np.asarray(self.covariance) * np.outer(to_log, to_log)
        cov = (a @ log_cov @ a.T) * np.outer(theta, theta)
        plain: Any = model  # an attrs value (BetaGeoModel, ...), which M does not say
        result: M = attrs.evolve(plain, covariance=(cov + cov.T) / 2)
        return result

    def _base(self, theta: tuple[float, ...]) -> M:
        raise NotImplementedError

    def _by_group(
        self, table: object, *, owner: str, predict: Callable[[Any, pd.DataFrame], pd.Series[float]]
    ) -> pd.Series[float]:
        """Predict per group of equal parameters with the model without covariates."""
        frame, exponent = self._covariates(table, owner=owner)
        check_unique_index(frame, frame_name=f"the table passed to {owner}")
        if exponent.shape[1] and len(frame):
            (*_,), inverse = group_rows([exponent[:, j] for j in range(exponent.shape[1])])
        else:
            inverse = np.zeros(len(frame), dtype=np.int64)
        n_groups = int(inverse.max()) + 1 if len(frame) else 0
        order = np.argsort(inverse, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=n_groups))])
        base = np.asarray([self.params.to_dict()[k] for k in self._SPEC.names])
        out = np.empty(len(frame))
        name: Any = None
        for g in range(n_groups):
            rows = order[bounds[g] : bounds[g + 1]]
            theta = base * np.exp(exponent[rows[0]])
            series = predict(self._base(tuple(float(v) for v in theta)), frame.iloc[rows])
            out[rows] = series.to_numpy(dtype=np.float64)
            name = series.name
        if n_groups == 0:
            return predict(self._base(tuple(float(v) for v in base)), frame)
        return pd.Series(out, index=frame.index, name=name)

    def _to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"params": self.params.to_dict()}
        for process, (names, gamma) in zip(self._SPEC.processes, self._sets(), strict=True):
            data[f"{process}_covariates"] = list(names)
            data[f"{process}_gamma"] = list(gamma)
        data["covariance"] = (
            None if self.covariance is None else [list(row) for row in self.covariance]
        )
        data["log_likelihood"] = self.log_likelihood
        data["n_customers"] = self.n_customers
        data["convergence"] = None if self.convergence is None else self.convergence.to_dict()
        return data

    @classmethod
    def _kwargs(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        convergence = data.get("convergence")
        kwargs: dict[str, Any] = {
            "params": cls._SPEC.params_type.from_dict(data["params"]),
            "covariance": data.get("covariance"),
            "log_likelihood": data.get("log_likelihood"),
            "n_customers": data.get("n_customers"),
            "convergence": None
            if convergence is None
            else ConvergenceReport.from_dict(convergence),
        }
        for process in cls._SPEC.processes:
            kwargs[f"{process}_covariates"] = data.get(f"{process}_covariates", ())
            kwargs[f"{process}_gamma"] = data.get(f"{process}_gamma", ())
        return kwargs


class PurchaseCovariateModel(CovariateModel[M]):
    """What the BG/NBD and Pareto/NBD covariate models share besides the fields.

    A subclass names ``_BASE_MODEL``, the model without covariates (whose
    ``from_params`` takes ``time_unit``), and declares a ``time_unit`` field.
    """

    _BASE_MODEL: ClassVar[type[Any]]
    time_unit: str | None

    def _base(self, theta: tuple[float, ...]) -> M:
        params = self._SPEC.params_type(**dict(zip(self._SPEC.names, theta, strict=True)))
        model: M = self._BASE_MODEL.from_params(params, time_unit=self.time_unit)
        return model

    def probability_alive(self, table: pd.DataFrame) -> pd.Series[float]:
        """Probability that each customer is alive, at the customer's own parameters.

        Parameters
        ----------
        table : pandas.DataFrame
            RFM table (``frequency``, ``recency``, ``T``) with the covariate columns.

        Returns
        -------
        pandas.Series
            ``p_alive``, indexed like ``table``.
        """
        return self._by_group(
            table,
            owner=f"{type(self).__name__}.probability_alive",
            predict=lambda model, frame: model.probability_alive(frame),
        )

    def expected_purchases(self, table: pd.DataFrame, *, t: float) -> pd.Series[float]:
        """Predict the expected purchases of each customer in the next ``t`` periods.

        Parameters
        ----------
        table : pandas.DataFrame
            RFM table (``frequency``, ``recency``, ``T``) with the covariate columns.
        t : float
            Horizon, in the model's time unit.

        Returns
        -------
        pandas.Series
            ``expected_purchases``, indexed like ``table``.
        """
        return self._by_group(
            table,
            owner=f"{type(self).__name__}.expected_purchases",
            predict=lambda model, frame: model.expected_purchases(frame, t=t),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {**self._to_dict(), "time_unit": self.time_unit}

    @classmethod
    @reads(
        "params",
        optional=(
            "trans_covariates",
            "trans_gamma",
            "life_covariates",
            "life_gamma",
            "time_unit",
            *MODEL_KEYS,
        ),
    )
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        build: Any = cls  # an attrs class: its fields are in the subclass
        model: Self = build(**cls._kwargs(data), time_unit=data.get("time_unit"))
        return model
