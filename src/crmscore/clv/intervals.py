"""How sure is a CLV: intervals for parameters and for every prediction.

Works for any fitted model that follows :class:`FittedModel`: parameters (an attrs
value with ``to_dict``/``from_dict``), their covariance, the log-likelihood and
public prediction methods. BG/NBD and Gamma-Gamma follow it; a new model does by
having the same fields.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtri

from crmscore._groups import group_rows
from crmscore._validation import (
    NON_NEGATIVE,
    InstanceOf,
    Interval,
    OneOf,
    Optional,
    check_integer,
    check_number,
    check_param,
)
from crmscore.clv._inputs import check_horizon, rfm_arrays, spend_arrays
from crmscore.clv.value import _step_length
from crmscore.errors import ConvergenceError, InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable

FloatArray: TypeAlias = npt.NDArray[np.float64]

__all__ = [
    "FittedModel",
    "parameter_intervals",
    "predict_intervals",
    "predict_totals",
]

_LEVEL = Interval(Real, 0, 1, closed="neither")
_QUANTITIES = ("expected_purchases", "p_alive", "expected_spend", "clv")
_METHODS = ("delta", "bootstrap")
#: Relative step of the central differences, on the log scale of each parameter:
#: truncation error ~ h^2 = 1e-8 relative, rounding ~ 1e-16 / h = 1e-12.
_STEP = 1e-4


class _Params(Protocol):
    def to_dict(self) -> dict[str, float]: ...


class FittedModel(Protocol):
    """What a fitted model supplies for intervals and comparisons.

    ``params`` (an attrs value with ``to_dict`` and a ``from_dict`` classmethod, in
    the order of ``covariance``), the ``covariance`` of the estimates (None for a
    model built from parameters), the total ``log_likelihood`` and ``n_customers``
    of the fit, and the per-customer ``log_likelihood_of(table)``. A purchase model
    also has ``expected_purchases(table, *, t)`` and ``probability_alive(table)``; a
    spend model ``expected_spend(table)``. Predictions at other parameters come from
    the same model with its ``params`` replaced (``attrs.evolve``). A customer's
    prediction may depend only on its ``frequency``, ``recency`` and ``T`` (purchase
    models) or ``frequency`` and ``monetary_value`` (spend models): intervals
    evaluate the models on the distinct rows of those columns.
    """

    @property
    def params(self) -> _Params:
        """The parameters (to_dict order = covariance order)."""
        ...

    @property
    def covariance(self) -> tuple[tuple[float, ...], ...] | None:
        """Covariance of the estimates, or None."""
        ...

    @property
    def log_likelihood(self) -> float | None:
        """Total log-likelihood of the fit, or None."""
        ...

    @property
    def n_customers(self) -> int | None:
        """Customers fitted, or None."""
        ...

    def log_likelihood_of(self, table: pd.DataFrame) -> pd.Series[float]:
        """Log-likelihood of each customer of ``table``."""
        ...


def _vector(model: Any) -> tuple[list[str], FloatArray]:
    values = model.params.to_dict()
    return list(values), np.array([float(v) for v in values.values()])


def _at(model: Any, theta: FloatArray) -> Any:
    """Return the same model with its parameters replaced by ``theta`` (natural scale)."""
    names, _ = _vector(model)
    params = type(model.params).from_dict(dict(zip(names, theta.tolist(), strict=True)))
    return attrs.evolve(model, params=params)


def _log_covariance(model: Any, *, owner: str, name: str) -> FloatArray:
    """Covariance of the log parameters: Cov(theta) / (theta theta')."""
    if model.covariance is None:
        raise InvalidParameterError.for_value(
            name=name,
            owner=owner,
            allowed="a fitted model (with a covariance); one built from parameters has none",
            got=type(model).__name__,
        )
    _, theta = _vector(model)
    cov = np.asarray(model.covariance, dtype=np.float64)
    if cov.shape != (theta.size, theta.size):  # e.g. a covariate model: params + coefficients
        raise InvalidParameterError.for_value(
            name=name,
            owner=owner,
            allowed="a model whose covariance covers exactly its params; for a covariate "
            "model, take one segment's model with model.base_model({...}) (it carries "
            "the segment's covariance)",
            got=type(model).__name__,
        )
    return np.asarray(cov / np.outer(theta, theta), dtype=np.float64)


def _check_level(level: object, owner: str) -> float:
    return check_number(level, _LEVEL, name="level", owner=owner)


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------


def _total_log_likelihood(model: Any, table: pd.DataFrame, theta: FloatArray) -> float:
    with np.errstate(all="ignore"):
        try:
            values = _at(model, theta).log_likelihood_of(table).to_numpy(dtype=np.float64)
        except (ValueError, TypeError):  # parameters outside the model's domain
            return -math.inf
    total = float(np.nansum(values))
    return total if math.isfinite(total) else -math.inf


def _profile_bound(
    model: Any,
    table: pd.DataFrame,
    *,
    index: int,
    log_cov: FloatArray,
    critical: float,
    direction: float,
    best: float,
) -> float:
    """Where the profile deviance reaches ``critical``, on one side of the estimate."""
    from scipy.optimize import brentq, minimize  # noqa: PLC0415 (profiles only)

    _, theta = _vector(model)
    log_hat = np.log(theta)
    others = [k for k in range(theta.size) if k != index]
    # Linear regression of the other log parameters on this one: a warm start.
    slope = log_cov[others, index] / log_cov[index, index]
    last = {"x": log_hat[others]}

    def deviance(psi: float) -> float:
        start = last["x"]

        def negative(free: FloatArray) -> float:
            full = np.empty(theta.size)
            full[index] = psi
            full[others] = free
            return -_total_log_likelihood(model, table, np.exp(full))

        guess = log_hat[others] + slope * (psi - log_hat[index])
        if negative(guess) < negative(start):
            start = guess
        result = minimize(negative, start, method="BFGS", options={"gtol": 1e-6})
        last["x"] = np.asarray(result.x, dtype=np.float64)
        return 2.0 * (best + float(result.fun))

    se = math.sqrt(log_cov[index, index])
    step = direction * se * math.sqrt(critical)
    inner = float(log_hat[index])
    outer = inner + step
    for _ in range(30):
        if deviance(outer) >= critical:
            break
        inner, outer = outer, outer + step
        step *= 2.0
    else:  # pragma: no cover - the likelihood is flat: no finite bound
        return math.inf if direction > 0 else 0.0
    root = brentq(lambda psi: deviance(psi) - critical, inner, outer, xtol=1e-8)
    return math.exp(float(root))


def parameter_intervals(
    model: FittedModel,
    *,
    level: float = 0.9,
    method: Literal["wald", "profile"] = "wald",
    table: pd.DataFrame | None = None,
) -> pd.DataFrame:
    r"""Confidence intervals for a fitted model's parameters.

    Parameters
    ----------
    model : FittedModel
        A fitted model (e.g. :class:`~crmscore.BetaGeoModel`,
        :class:`~crmscore.GammaGammaModel`), the only positional argument.
    level : float, default 0.9
        Confidence level, in (0, 1).
    method : {"wald", "profile"}, default "wald"
        ``"wald"``: the normal approximation on the log scale (the scale of the fit),
        ``estimate * exp(+- z se / estimate)``, positive by construction.
        ``"profile"``: profile likelihood, the set of values whose profile deviance
        is below the chi-square(1) quantile; it follows a skewed likelihood (small
        ``r``, ``a``, ``b``) where Wald's symmetric log interval does not. Needs
        ``table``.
    table : pandas.DataFrame, optional
        The table the model was fitted on (required for ``"profile"``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``parameter``: ``estimate``, ``std_error``, ``lower``, ``upper``.

    Raises
    ------
    InvalidParameterError
        ``model`` has no covariance (built from parameters), ``level`` is outside
        (0, 1), ``method`` unknown, or ``"profile"`` without ``table``.
    ConvergenceError
        The profile optimisation failed.

    Notes
    -----
    The profile interval of :math:`\theta_j` is
    :math:`\{\psi: 2[\ell(\hat\theta) - \max_{\theta: \theta_j = \psi}
    \ell(\theta)] \le \chi^2_{1, \text{level}}\}` (e.g. Pawitan 2001, *In All
    Likelihood*, section 3.4); it is invariant to reparametrisation. Each bound
    costs a root search of inner maximisations, so it takes seconds where Wald's
    takes microseconds.

    Examples
    --------
    >>> from crmscore import BetaGeoFitter, BetaGeoParams, make_rfm_summary
    >>> table = make_rfm_summary(1_000, seed=4,
    ...                          purchase=BetaGeoParams(r=0.5, alpha=20.0, a=0.8, b=3.0))
    >>> model = BetaGeoFitter().fit(table)
    >>> wald = parameter_intervals(model, level=0.9)
    >>> list(wald.columns)
    ['estimate', 'std_error', 'lower', 'upper']
    >>> profile = parameter_intervals(model, level=0.9, method="profile", table=table)
    >>> bool(((profile["lower"] < profile["estimate"])
    ...       & (profile["estimate"] < profile["upper"])).all())
    True
    """
    owner = "parameter_intervals"
    level = _check_level(level, owner)
    check_param(method, OneOf(("wald", "profile")), name="method", owner=owner)
    log_cov = _log_covariance(model, owner=owner, name="model")
    names, theta = _vector(model)
    se = np.sqrt(np.diag(log_cov)) * theta
    z = float(ndtri(0.5 + level / 2))
    if method == "wald":
        spread = np.exp(z * se / theta)
        lower, upper = theta / spread, theta * spread
    else:
        check_param(table, InstanceOf(pd.DataFrame, "the fitted table"), name="table", owner=owner)
        assert table is not None
        critical = float(ndtri(0.5 + level / 2)) ** 2  # chi-square(1) quantile
        best = _total_log_likelihood(model, table, theta)
        if not math.isfinite(best):
            raise InvalidDataError(
                f"{owner}: the model's log-likelihood of 'table' is not finite; pass the "
                "table the model was fitted on."
            )
        lower, upper = np.empty(theta.size), np.empty(theta.size)
        try:
            for k in range(theta.size):
                bounds = [
                    _profile_bound(
                        model,
                        table,
                        index=k,
                        log_cov=log_cov,
                        critical=critical,
                        direction=d,
                        best=best,
                    )
                    for d in (-1.0, 1.0)
                ]
                lower[k], upper[k] = bounds
        except ValueError as exc:  # brentq without a sign change: the fit is not a maximum
            raise ConvergenceError(
                f"{owner} could not trace the profile likelihood ({exc}); is the model fitted "
                "on this table?"
            ) from exc
    return pd.DataFrame(
        {"estimate": theta, "std_error": se, "lower": lower, "upper": upper},
        index=pd.Index(names, name="parameter"),
    )


# --------------------------------------------------------------------------------------
# Predictions
# --------------------------------------------------------------------------------------


@attrs.frozen
class _Factor:
    """A positive per-customer factor of a prediction, driven by one model's parameters."""

    model: Any
    log_cov: FloatArray = attrs.field(eq=False)
    evaluate: Callable[[Any, pd.DataFrame], FloatArray]

    def at(self, log_theta: FloatArray, frame: pd.DataFrame) -> FloatArray:
        return self.evaluate(_at(self.model, np.exp(log_theta)), frame)

    @property
    def log_theta(self) -> FloatArray:
        return np.log(_vector(self.model)[1])


@attrs.frozen
class _Target:
    """A prediction: constant times the product of its factors; its link scale."""

    factors: tuple[_Factor, ...]
    constant: float
    link: Literal["log", "logit"]


def _purchases(t: float) -> Callable[[Any, pd.DataFrame], FloatArray]:
    def evaluate(model: Any, frame: pd.DataFrame) -> FloatArray:
        return np.asarray(model.expected_purchases(frame, t=t).to_numpy(dtype=np.float64))

    return evaluate


def _alive(model: Any, frame: pd.DataFrame) -> FloatArray:
    return np.asarray(model.probability_alive(frame).to_numpy(dtype=np.float64))


def _spend(model: Any, frame: pd.DataFrame) -> FloatArray:
    return np.asarray(model.expected_spend(frame).to_numpy(dtype=np.float64))


def _discounted(
    step: float, horizon: int, rate: float
) -> Callable[[Any, pd.DataFrame], FloatArray]:
    """Discounted expected purchases: sum_k (E[Y(k step)] - E[Y((k-1) step)]) / (1+d)^k."""

    def evaluate(model: Any, frame: pd.DataFrame) -> FloatArray:
        total = np.zeros(len(frame))
        previous = np.zeros(len(frame))
        for k in range(1, horizon + 1):
            cumulative = model.expected_purchases(frame, t=k * step).to_numpy(dtype=np.float64)
            total += (cumulative - previous) / (1.0 + rate) ** k
            previous = cumulative
        return total

    return evaluate


def _target(
    table: pd.DataFrame,
    *,
    owner: str,
    quantity: str,
    purchase_model: Any,
    spend_model: Any,
    t: float | None,
    horizon: int | None,
    discount_rate: float,
    margin: float,
    periods_per_step: float | None,
    time_unit: str | None,
) -> tuple[pd.DataFrame, _Target]:
    check_param(quantity, OneOf(_QUANTITIES), name="quantity", owner=owner)
    needs_purchases = quantity != "expected_spend"
    needs_spend = quantity in ("expected_spend", "clv")
    if needs_purchases and purchase_model is None:
        raise InvalidParameterError(f"{owner} needs purchase_model= for quantity {quantity!r}.")
    if needs_spend and spend_model is None:
        raise InvalidParameterError(f"{owner} needs spend_model= for quantity {quantity!r}.")
    frame = rfm_arrays(table, owner=owner)[0] if needs_purchases else table
    if needs_spend:
        frame = spend_arrays(frame, owner=owner)[0]
    factors: list[_Factor] = []
    constant, link = 1.0, "log"
    if quantity == "expected_purchases":
        if t is None:
            raise InvalidParameterError(f"{owner} needs t= (the horizon) for expected_purchases.")
        horizon_t = check_horizon(t, owner=owner)
        evaluate: Callable[[Any, pd.DataFrame], FloatArray] = _purchases(horizon_t)
    elif quantity == "p_alive":
        evaluate, link = _alive, "logit"
    elif quantity == "clv":
        steps = check_integer(
            horizon, Interval(Integral, 1, None, closed="left"), name="horizon", owner=owner
        )
        rate = check_number(discount_rate, NON_NEGATIVE, name="discount_rate", owner=owner)
        constant = check_number(margin, NON_NEGATIVE, name="margin", owner=owner)
        step = _step_length(frame, purchase_model, periods_per_step, time_unit)
        evaluate = _discounted(step, steps, rate)
    if needs_purchases:
        cov = _log_covariance(purchase_model, owner=owner, name="purchase_model")
        factors.append(_Factor(purchase_model, cov, evaluate))
    if needs_spend:
        cov = _log_covariance(spend_model, owner=owner, name="spend_model")
        factors.append(_Factor(spend_model, cov, _spend))
    return frame, _Target(factors=tuple(factors), constant=constant, link=link)  # type: ignore[arg-type]


def _for_evaluation(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the validated table under a RangeIndex, for the repeated predictions.

    The predictions do not depend on the index, and checking that a RangeIndex is
    unique costs nothing, where hashing a million ids on every call does.
    """
    return frame.reset_index(drop=True)


#: The columns a prediction of each kind reads (the validated contract of the models).
_PURCHASE_COLUMNS = ("frequency", "recency", "T")
_SPEND_COLUMNS = ("frequency", "monetary_value")


def _distinct(
    frame: pd.DataFrame, quantity: str
) -> tuple[pd.DataFrame, npt.NDArray[np.int64] | None]:
    """Return the distinct rows of the columns ``quantity`` reads, and each customer's row.

    Every perturbed or drawn parameter vector is evaluated on the distinct rows only
    (an RFM book of a million customers has a few tens of thousands), and the
    results are expanded with the inverse. A prediction of one customer depends on
    these columns only, so the expanded values are those of the whole table. The
    inverse is None (no compression) for an empty table.
    """
    columns: list[str] = []
    if quantity != "expected_spend":
        columns += _PURCHASE_COLUMNS
    if quantity in ("expected_spend", "clv"):
        columns += [c for c in _SPEND_COLUMNS if c not in columns]
    if len(frame) == 0:
        return _for_evaluation(frame), None
    rows, inverse = group_rows([frame[c].to_numpy(dtype=np.float64) for c in columns])
    compact = pd.DataFrame(dict(zip(columns, rows, strict=True)))
    compact.attrs = dict(frame.attrs)
    return compact, inverse


def _expand(values: FloatArray, inverse: npt.NDArray[np.int64] | None) -> FloatArray:
    return values if inverse is None else np.asarray(values[inverse], dtype=np.float64)


def _log_gradients(target: _Target, frame: pd.DataFrame) -> tuple[FloatArray, list[FloatArray]]:
    """Return the prediction and, per factor, d log(factor) / d log(theta) (central differences)."""
    value = np.full(len(frame), target.constant)
    gradients = []
    for factor in target.factors:
        centre = factor.log_theta
        base = factor.at(centre, frame)
        columns = []
        for j in range(centre.size):
            shift = np.zeros(centre.size)
            shift[j] = _STEP
            up = factor.at(centre + shift, frame)
            down = factor.at(centre - shift, frame)
            with np.errstate(invalid="ignore", divide="ignore"):
                columns.append(np.where(base > 0, (up - down) / (2 * _STEP * base), 0.0))
        value = value * base
        gradients.append(np.column_stack(columns))
    return value, gradients


def _quadratic_form(gradient: FloatArray, cov: FloatArray) -> FloatArray:
    """Row-wise g' C g: a matrix product, then a row sum (einsum's loop is 10x slower)."""
    return np.asarray(((gradient @ cov) * gradient).sum(axis=1), dtype=np.float64)


def _customer_frame(
    estimate: FloatArray, se: FloatArray, lower: FloatArray, upper: FloatArray, index: pd.Index
) -> pd.DataFrame:
    return pd.DataFrame(
        {"estimate": estimate, "std_error": se, "lower": lower, "upper": upper}, index=index
    )


def _linked_interval(
    value: FloatArray, log_se: FloatArray, z: float, link: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Natural-scale standard error and the interval on the link scale."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if link == "logit":
            odds = value / (1.0 - value)
            logit_se = log_se / (1.0 - value)
            lower = np.where(value < 1.0, 1.0 / (1.0 + np.exp(z * logit_se) / odds), 1.0)
            upper = np.where(value < 1.0, 1.0 / (1.0 + np.exp(-z * logit_se) / odds), 1.0)
            lower = np.where(value > 0.0, lower, 0.0)
            upper = np.where(value > 0.0, upper, 0.0)
        else:
            spread = np.exp(z * log_se)
            lower, upper = value / spread, value * spread
    return value * log_se, lower, upper


def _segment_codes(
    frame: pd.DataFrame, segments: pd.Series[Any] | None, *, owner: str
) -> tuple[npt.NDArray[np.intp], list[Any]]:
    if segments is None:
        return np.zeros(len(frame), dtype=np.intp), []
    check_param(segments, InstanceOf(pd.Series, "a pandas Series"), name="segments", owner=owner)
    aligned = segments.reindex(frame.index)
    missing = aligned.isna().to_numpy()
    if missing.any():
        first = frame.index[missing][:5].tolist()
        raise InvalidDataError(
            f"segments passed to {owner} has no label for {int(missing.sum())} customers of "
            f"the table (first ids: {first}); give every customer a segment."
        )
    codes, labels = pd.factorize(aligned, sort=True)
    return np.asarray(codes, dtype=np.intp), list(labels)


def _totals_frame(
    codes: npt.NDArray[np.intp], labels: list[Any], rows: list[tuple[float, float, float, float]]
) -> pd.DataFrame:
    counts = np.bincount(codes, minlength=max(len(labels), 1)).tolist()
    if labels:
        counts.append(len(codes))
    index = pd.Index([*labels, "all"] if labels else ["all"], name="segment")
    estimate, se, lower, upper = (list(c) for c in zip(*rows, strict=True))
    return pd.DataFrame(
        {
            "customers": counts,
            "estimate": estimate,
            "std_error": se,
            "lower": lower,
            "upper": upper,
        },
        index=index,
    )


def _draws(target: _Target, n: int, rng: np.random.Generator) -> list[FloatArray]:
    """Replicate log parameters per factor, from their asymptotic normal distribution."""
    return [
        rng.multivariate_normal(f.log_theta, f.log_cov, size=n, method="cholesky")
        for f in target.factors
    ]


def _bootstrap(
    target: _Target,
    frame: pd.DataFrame,
    codes: npt.NDArray[np.intp],
    n_groups: int,
    *,
    n_replicates: int,
    rng: np.random.Generator,
    chunk_size: int,
    level: float,
    per_customer: bool,
    inverse: npt.NDArray[np.int64] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Stream replicates over chunks of rows: memory is chunk_size x n_replicates.

    Returns per-row (estimate, sd, lower, upper) (empty unless ``per_customer``)
    and the replicate totals per group, shaped (n_replicates, n_groups). Totals alone
    need no replicate-by-customer block: each replicate is summed as it is made, over
    the whole table at once (one prediction call per replicate). For totals,
    ``frame`` may hold distinct rows with ``inverse`` giving each customer's row
    (``codes`` stays per customer); each replicate is predicted on the distinct
    rows and expanded before it is summed. ``inverse`` is not used per customer.
    """
    draws = _draws(target, n_replicates, rng)
    n = len(frame)
    size = n if per_customer else 0
    chunk_size = chunk_size if per_customer else n
    estimate, sd, lower, upper = (np.empty(size) for _ in range(4))
    totals = np.zeros((n_replicates, n_groups))
    tails = [0.5 - level / 2, 0.5 + level / 2]
    for start in range(0, n, chunk_size):
        part = frame.iloc[start : start + chunk_size]
        group = codes[start : start + chunk_size] if per_customer else codes
        values = np.empty((n_replicates, len(part) if per_customer else 0))
        for b in range(n_replicates):
            product = np.full(len(part), target.constant)
            for factor, draw in zip(target.factors, draws, strict=True):
                product *= factor.at(draw[b], part)
            if per_customer:
                values[b] = product
            elif inverse is not None:  # totals over distinct rows: one chunk, all customers
                product = product[inverse]
            totals[b] += np.bincount(group, weights=product, minlength=n_groups)
        if per_customer:
            stop = start + len(part)
            point = np.full(len(part), target.constant)
            for factor in target.factors:
                point *= factor.at(factor.log_theta, part)
            estimate[start:stop] = point
            sd[start:stop] = values.std(axis=0, ddof=1)
            lower[start:stop], upper[start:stop] = np.quantile(values, tails, axis=0)
    return estimate, sd, lower, upper, totals


def _check_method(
    method: object, n_replicates: object, seed: object, chunk_size: object, owner: str
) -> tuple[int, np.random.Generator | None, int]:
    check_param(method, OneOf(_METHODS), name="method", owner=owner)
    replicates = check_integer(
        n_replicates, Interval(Integral, 2, None, closed="left"), name="n_replicates", owner=owner
    )
    chunk = check_integer(
        chunk_size, Interval(Integral, 1, None, closed="left"), name="chunk_size", owner=owner
    )
    check_param(
        seed,
        Optional(InstanceOf((int, np.integer, np.random.Generator), "an int or a Generator")),
        name="seed",
        owner=owner,
    )
    if method == "bootstrap" and seed is None:
        raise InvalidParameterError(
            f"{owner} draws bootstrap replicates: pass seed= (an int or a numpy Generator) so "
            "that the result can be reproduced."
        )
    rng = None if seed is None else np.random.default_rng(seed)  # type: ignore[arg-type]
    return replicates, rng, chunk


def predict_intervals(
    table: pd.DataFrame,
    *,
    quantity: Literal["expected_purchases", "p_alive", "expected_spend", "clv"],
    purchase_model: FittedModel | None = None,
    spend_model: FittedModel | None = None,
    t: float | None = None,
    horizon: int | None = None,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    periods_per_step: float | None = None,
    time_unit: str | None = None,
    level: float = 0.9,
    method: Literal["delta", "bootstrap"] = "delta",
    n_replicates: int = 200,
    seed: int | np.random.Generator | None = None,
    chunk_size: int = 50_000,
) -> pd.DataFrame:
    r"""Predict a quantity per customer with a confidence interval from parameter uncertainty.

    Parameters
    ----------
    table : pandas.DataFrame
        RFM table (``frequency``, ``recency``, ``T``; ``monetary_value`` for spend
        and CLV), indexed by unique customer ids. The only positional argument.
    quantity : {"expected_purchases", "p_alive", "expected_spend", "clv"}
        What to predict.
    purchase_model : FittedModel, optional
        A fitted purchase model (needed except for ``"expected_spend"``).
    spend_model : FittedModel, optional
        A fitted spend model (for ``"expected_spend"`` and ``"clv"``).
    t : float, optional
        Horizon of ``"expected_purchases"``, in the table's time unit.
    horizon : int, optional
        Discounting steps to sum over, for ``"clv"`` (as in
        :func:`crmscore.customer_lifetime_value`).
    discount_rate : float, default 0.0
        Discount rate per step, for ``"clv"``.
    margin : float, default 1.0
        Profit margin applied to spend, for ``"clv"``.
    periods_per_step : float, optional
        Length of a step in the table's time unit, for ``"clv"``; by default a month.
    time_unit : {"D", "W", "M"}, optional
        The table's time unit, for ``"clv"``; by default the purchase model's.
    level : float, default 0.9
        Confidence level, in (0, 1).
    method : {"delta", "bootstrap"}, default "delta"
        ``"delta"``: the delta method from the MLE covariance. ``"bootstrap"``:
        ``n_replicates`` parameter vectors drawn from the estimates' asymptotic
        normal distribution (on the log scale), percentile intervals.
    n_replicates : int, default 200
        Bootstrap replicates (>= 2).
    seed : int or numpy.random.Generator, optional
        Source of randomness; required for ``"bootstrap"``.
    chunk_size : int, default 50000
        Distinct histories (customers with the same frequency, recency, T and,
        where read, monetary value count once) per block of the per-customer
        bootstrap: memory is ``chunk_size * n_replicates`` floats, whatever the
        number of customers.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``table``: ``estimate`` (the prediction at the estimates),
        ``std_error``, ``lower``, ``upper``.

    Raises
    ------
    InvalidParameterError
        A model without covariance (built from parameters), a missing model or
        horizon for the quantity, a parameter outside its domain, or bootstrap
        without ``seed``.
    InvalidDataError, ColumnNotFoundError
        The table breaks the models' contracts.

    See Also
    --------
    predict_totals : the same, summed over segments or the whole book.
    parameter_intervals : intervals for the parameters themselves.

    Notes
    -----
    The interval reflects uncertainty in the estimated parameters only, not the
    randomness of the customer's future purchases: it is a confidence interval
    for the conditional expectation, not a prediction interval for the count.

    Delta method: with :math:`g = \partial \log f / \partial \log \theta` (central
    differences, relative step 1e-4, error ~1e-8), :math:`\mathrm{Var}(\log f)
    \approx g^\top \Sigma_{\log\theta}\, g`; the interval is symmetric on the log
    scale (``p_alive``: on the logit scale), so it stays in the quantity's range.
    A CLV is margin x expected spend x discounted purchases; the purchase and
    spend estimates are treated as independent (two separate fits), so their
    covariances add on the log scale.

    Bootstrap: each replicate draws :math:`\log\theta^{(b)} \sim
    N(\log\hat\theta, \Sigma_{\log\theta})` (a parametric bootstrap of the
    estimates' sampling distribution, Krinsky and Robb 1986) and predicts every
    customer; it does not refit. Replicates are streamed over blocks of customers,
    so no replicate-by-customer matrix is held.

    Examples
    --------
    >>> from crmscore import BetaGeoFitter, BetaGeoParams, make_rfm_summary
    >>> table = make_rfm_summary(5_000, seed=2,
    ...                          purchase=BetaGeoParams(r=0.5, alpha=20.0, a=0.8, b=3.0))
    >>> model = BetaGeoFitter().fit(table)
    >>> ci = predict_intervals(table, quantity="expected_purchases", purchase_model=model,
    ...                        t=90.0, level=0.9)
    >>> list(ci.columns)
    ['estimate', 'std_error', 'lower', 'upper']
    >>> bool(((ci["lower"] <= ci["estimate"]) & (ci["estimate"] <= ci["upper"])).all())
    True
    >>> boot = predict_intervals(table.head(100), quantity="p_alive", purchase_model=model,
    ...                          method="bootstrap", n_replicates=50, seed=1)
    >>> bool((boot["upper"] <= 1.0).all())
    True
    """
    owner = "predict_intervals"
    level = _check_level(level, owner)
    replicates, rng, chunk = _check_method(method, n_replicates, seed, chunk_size, owner)
    frame, target = _target(
        table,
        owner=owner,
        quantity=quantity,
        purchase_model=purchase_model,
        spend_model=spend_model,
        t=t,
        horizon=horizon,
        discount_rate=discount_rate,
        margin=margin,
        periods_per_step=periods_per_step,
        time_unit=time_unit,
    )
    compact, inverse = _distinct(frame, quantity)
    if method == "bootstrap":
        assert rng is not None
        codes = np.zeros(len(compact), dtype=np.intp)
        estimate, sd, lower, upper, _ = _bootstrap(
            target,
            compact,
            codes,
            1,
            n_replicates=replicates,
            rng=rng,
            chunk_size=chunk,
            level=level,
            per_customer=True,
        )
    else:
        estimate, gradients = _log_gradients(target, compact)
        variance = np.zeros(len(compact))
        for factor, gradient in zip(target.factors, gradients, strict=True):
            variance += _quadratic_form(gradient, factor.log_cov)
        z = float(ndtri(0.5 + level / 2))
        sd, lower, upper = _linked_interval(
            estimate, np.sqrt(np.maximum(variance, 0.0)), z, target.link
        )
    return _customer_frame(
        _expand(estimate, inverse),
        _expand(sd, inverse),
        _expand(lower, inverse),
        _expand(upper, inverse),
        frame.index,
    )


def predict_totals(
    table: pd.DataFrame,
    *,
    quantity: Literal["expected_purchases", "p_alive", "expected_spend", "clv"],
    purchase_model: FittedModel | None = None,
    spend_model: FittedModel | None = None,
    t: float | None = None,
    horizon: int | None = None,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    periods_per_step: float | None = None,
    time_unit: str | None = None,
    segments: pd.Series[Any] | None = None,
    level: float = 0.9,
    method: Literal["delta", "bootstrap"] = "delta",
    n_replicates: int = 200,
    seed: int | np.random.Generator | None = None,
    chunk_size: int = 50_000,
) -> pd.DataFrame:
    r"""Predict a quantity summed over segments and the book, with confidence intervals.

    Parameters
    ----------
    table : pandas.DataFrame
        RFM table (``frequency``, ``recency``, ``T``; ``monetary_value`` for spend
        and CLV), indexed by unique customer ids. The only positional argument.
    quantity : {"expected_purchases", "p_alive", "expected_spend", "clv"}
        What to predict.
    purchase_model : FittedModel, optional
        A fitted purchase model (needed except for ``"expected_spend"``).
    spend_model : FittedModel, optional
        A fitted spend model (for ``"expected_spend"`` and ``"clv"``).
    t : float, optional
        Horizon of ``"expected_purchases"``, in the table's time unit.
    horizon : int, optional
        Discounting steps to sum over, for ``"clv"`` (as in
        :func:`crmscore.customer_lifetime_value`).
    discount_rate : float, default 0.0
        Discount rate per step, for ``"clv"``.
    margin : float, default 1.0
        Profit margin applied to spend, for ``"clv"``.
    periods_per_step : float, optional
        Length of a step in the table's time unit, for ``"clv"``; by default a month.
    time_unit : {"D", "W", "M"}, optional
        The table's time unit, for ``"clv"``; by default the purchase model's.
    level : float, default 0.9
        Confidence level, in (0, 1).
    method : {"delta", "bootstrap"}, default "delta"
        ``"delta"``: the delta method from the MLE covariance. ``"bootstrap"``:
        ``n_replicates`` parameter vectors drawn from the estimates' asymptotic
        normal distribution (on the log scale), percentile intervals.
    n_replicates : int, default 200
        Bootstrap replicates (>= 2).
    seed : int or numpy.random.Generator, optional
        Source of randomness; required for ``"bootstrap"``.
    chunk_size : int, default 50000
        Distinct histories (customers with the same frequency, recency, T and,
        where read, monetary value count once) per block of the per-customer
        bootstrap: memory is ``chunk_size * n_replicates`` floats, whatever the
        number of customers.
    segments : pandas.Series, optional
        A segment label per customer (indexed by customer id, covering the table);
        without it only the book total is returned.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``segment`` (the sorted labels, then ``"all"``): ``customers``,
        ``estimate`` (sum of predictions at the estimates), ``std_error``, ``lower``,
        ``upper``.

    Raises
    ------
    InvalidParameterError
        As :func:`predict_intervals`.
    InvalidDataError
        A customer of the table has no segment.

    See Also
    --------
    predict_intervals : the same per customer.

    Notes
    -----
    A total's gradient is the sum of its customers' gradients, so the delta
    method's variance is :math:`G_s^\top \Sigma G_s` with
    :math:`G_s = \sum_{i \in s} \partial f_i / \partial \log\theta`; the interval is
    symmetric on the log scale. Customers' errors are perfectly correlated through
    the shared parameters, so a total's relative uncertainty does not shrink with
    the number of customers the way independent errors would. The bootstrap sums
    each replicate per segment as it streams (memory ``n_replicates`` x segments
    plus one block).

    Examples
    --------
    >>> import pandas as pd
    >>> from crmscore import BetaGeoFitter, make_rfm_summary
    >>> table = make_rfm_summary(5_000, seed=3)
    >>> model = BetaGeoFitter().fit(table)
    >>> band = pd.Series(["new" if age < 500 else "old" for age in table["T"]],
    ...                  index=table.index)
    >>> totals = predict_totals(table, quantity="expected_purchases", purchase_model=model,
    ...                         t=90.0, segments=band)
    >>> list(totals.index)
    ['new', 'old', 'all']
    >>> bool(totals["lower"].lt(totals["estimate"]).all())
    True
    """
    owner = "predict_totals"
    level = _check_level(level, owner)
    replicates, rng, chunk = _check_method(method, n_replicates, seed, chunk_size, owner)
    frame, target = _target(
        table,
        owner=owner,
        quantity=quantity,
        purchase_model=purchase_model,
        spend_model=spend_model,
        t=t,
        horizon=horizon,
        discount_rate=discount_rate,
        margin=margin,
        periods_per_step=periods_per_step,
        time_unit=time_unit,
    )
    codes, labels = _segment_codes(frame, segments, owner=owner)
    n_groups = max(len(labels), 1)
    z = float(ndtri(0.5 + level / 2))
    rows: list[tuple[float, float, float, float]] = []
    compact, inverse = _distinct(frame, quantity)
    if method == "bootstrap":
        assert rng is not None
        _, _, _, _, totals = _bootstrap(
            target,
            compact,
            codes,
            n_groups,
            n_replicates=replicates,
            rng=rng,
            chunk_size=chunk,
            level=level,
            per_customer=False,
            inverse=inverse,
        )
        point = np.full(len(compact), target.constant)
        for factor in target.factors:
            point *= factor.at(factor.log_theta, compact)
        point = _expand(point, inverse)
        sums = np.bincount(codes, weights=point, minlength=n_groups)
        if labels:
            totals = np.column_stack([totals, totals.sum(axis=1)])
            sums = np.append(sums, sums.sum())
        low, high = np.quantile(totals, [0.5 - level / 2, 0.5 + level / 2], axis=0)
        sd = totals.std(axis=0, ddof=1)
        rows = [
            (float(a), float(b), float(c), float(d))
            for a, b, c, d in zip(sums, sd, low, high, strict=True)
        ]
        return _totals_frame(codes, labels, rows)
    value, gradients = _log_gradients(target, compact)
    value = _expand(value, inverse)
    gradients = [g if inverse is None else g[inverse] for g in gradients]
    blocks = []
    for factor, gradient in zip(target.factors, gradients, strict=True):
        absolute = gradient * value[:, None]
        blocks.append(
            (
                np.column_stack(
                    [np.bincount(codes, weights=col, minlength=n_groups) for col in absolute.T]
                ).astype(np.float64),
                factor.log_cov,
            )
        )
    sums = np.bincount(codes, weights=value, minlength=n_groups).astype(np.float64)
    if labels:
        sums = np.append(sums, sums.sum())
        blocks = [(np.vstack([g, g.sum(axis=0)]), c) for g, c in blocks]
    variance = np.zeros(sums.size)
    for g, c in blocks:
        variance += _quadratic_form(g, c)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_se = np.asarray(
            np.where(sums > 0, np.sqrt(np.maximum(variance, 0.0)) / sums, 0.0), dtype=np.float64
        )
    se, lower, upper = _linked_interval(np.asarray(sums, dtype=np.float64), log_se, z, "log")
    rows = [
        (float(a), float(b), float(c), float(d))
        for a, b, c, d in zip(sums, se, lower, upper, strict=True)
    ]
    return _totals_frame(codes, labels, rows)
