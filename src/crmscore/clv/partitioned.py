"""Maximum likelihood over partitioned data: per-partition derivatives, summed.

The building blocks that :mod:`crmscore.scaleout` uses to fit the BG/NBD, MBG/NBD,
Pareto/NBD and Gamma-Gamma models on Dask and Spark without gathering one row per
customer, and that any other engine (Ray, a database, a hand-made process pool) can
use the same way: compress each partition with :func:`prepare_part`, evaluate
:func:`part_derivatives` on every partition at the parameters the optimiser asks
for, add them with :func:`add_derivatives`, and let :func:`fit_from_parts` drive the
optimiser and build the fitted model. The module holds no engine code: pandas and
numpy only.

Every CLV likelihood is a sum over customers, so its value, gradient and Hessian are
sums over partitions. Each partition is compressed once into its own distinct rows
(``fitter.aggregate``) and arranged for the model's kernel; then every step of the
optimiser (:func:`crmscore.clv._fitting.maximize`, run where the fit is called) asks
the engine for the per-partition derivatives at the current parameters and adds them
up. The caller only ever holds parameters, a few moments and a 4x4 Hessian.

The kernels are called through the small functions below (their names are stable
across the model modules); the starting values, penalty scales and the model built
from the optimum are those of each fitter's ``fit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import attrs
import numpy as np
import pandas as pd

from crmscore._params import BetaGeoParams, GammaGammaParams, ParetoNBDParams
from crmscore.clv import _kernels, _pareto
from crmscore.clv._fitting import OPTIMISED, PREPARED, maximize
from crmscore.clv._kernels import Derivatives, FloatArray
from crmscore.clv.bgnbd import BetaGeoFitter, BetaGeoModel
from crmscore.clv.gamma_gamma import (
    GammaGammaFitter,
    GammaGammaModel,
    check_mean_spend,
    moment_start,
)
from crmscore.clv.mbgnbd import ModifiedBetaGeoFitter, ModifiedBetaGeoModel
from crmscore.clv.paretonbd import ParetoNBDFitter, ParetoNBDModel

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from crmscore._progress import ProgressReporter

__all__ = [
    "FITTERS",
    "N_MOMENTS",
    "Coarse",
    "Derivatives",
    "Fitter",
    "FloatArray",
    "Model",
    "Moments",
    "Prepared",
    "add_derivatives",
    "aggregate_of",
    "coarse_part",
    "fit_from_parts",
    "model_key",
    "moments_from",
    "part_derivatives",
    "part_moments",
    "part_spread",
    "prepare_part",
    "statistics_keys_of",
    "warm_starts",
]

_P = TypeVar("_P", BetaGeoParams, ParetoNBDParams, GammaGammaParams)

Fitter = BetaGeoFitter | ModifiedBetaGeoFitter | ParetoNBDFitter | GammaGammaFitter
Model = BetaGeoModel | ModifiedBetaGeoModel | ParetoNBDModel | GammaGammaModel

#: The fitters a distributed fit accepts, by the name used in messages.
FITTERS: tuple[type, ...] = (
    BetaGeoFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
    GammaGammaFitter,
)

#: Columns of each fitter's sufficient statistics (besides ``count``).
PURCHASE_KEYS = ("frequency", "recency", "T")
SPEND_KEYS = ("frequency", "monetary_value")


def statistics_keys_of(fitter: object) -> tuple[str, ...] | None:
    """Return the statistics columns of a supported fitter, None for anything else."""
    if isinstance(fitter, GammaGammaFitter):
        return SPEND_KEYS
    if isinstance(fitter, BetaGeoFitter | ModifiedBetaGeoFitter | ParetoNBDFitter):
        return PURCHASE_KEYS
    return None


def aggregate_of(fitter: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Return the routine that compresses (and checks) one partition of customers.

    MBG/NBD and Pareto/NBD read the same three columns, with the same checks, as
    BG/NBD, so they share :meth:`BetaGeoFitter.aggregate`.
    """
    if isinstance(fitter, GammaGammaFitter):
        return GammaGammaFitter.aggregate
    return BetaGeoFitter.aggregate


# --------------------------------------------------------------------------------------
# Per partition (these run on the workers)
# --------------------------------------------------------------------------------------


#: Per-partition moments: customers, largest age, sum of x, sum of T, repeat customers,
#: distinct rows, sum of spend means (Gamma-Gamma), in this order.
N_MOMENTS = 7


def part_moments(stats: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Sum what a fit needs before it starts, over one partition's statistics."""
    moments = np.zeros(N_MOMENTS)
    if len(stats) == 0:
        return moments
    counts = stats["count"].to_numpy(dtype=np.float64)
    x = stats["frequency"].to_numpy(dtype=np.float64)
    moments[0] = counts.sum()
    if "T" in stats.columns:
        age = stats["T"].to_numpy(dtype=np.float64)
        moments[1] = age.max()
        moments[2] = float(np.sum(counts * x))
        moments[3] = float(np.sum(counts * age))
    moments[4] = counts[x > 0].sum()
    moments[5] = len(stats)
    if "monetary_value" in stats.columns:
        moments[6] = float(np.sum(counts * stats["monetary_value"].to_numpy(dtype=np.float64)))
    return moments


def part_spread(stats: pd.DataFrame, mean: float) -> float:
    """Sum count * (m - mean)^2 over one partition's Gamma-Gamma statistics."""
    if len(stats) == 0:
        return 0.0
    counts = stats["count"].to_numpy(dtype=np.float64)
    m = stats["monetary_value"].to_numpy(dtype=np.float64)
    return float(np.sum(counts * (m - mean) ** 2))


class Prepared(NamedTuple):
    """One partition's statistics arranged for its model's kernel (None: no rows)."""

    model: str
    data: Any


def prepare_part(stats: pd.DataFrame, *, model: str) -> Prepared:
    """Arrange one partition's distinct rows for the kernel of ``model``."""
    if len(stats) == 0:
        return Prepared(model=model, data=None)
    x = stats["frequency"].to_numpy(dtype=np.float64)
    weight = stats["count"].to_numpy(dtype=np.float64)
    if model == "gg":
        return Prepared(
            model=model, data=(x, stats["monetary_value"].to_numpy(dtype=np.float64), weight)
        )
    tx = stats["recency"].to_numpy(dtype=np.float64)
    age = stats["T"].to_numpy(dtype=np.float64)
    if model == "pareto":
        return Prepared(model=model, data=_pareto.prepare_pareto(x, tx, age, weight))
    return Prepared(model=model, data=_kernels.prepare_bgnbd(x, tx, age, weight))


def part_derivatives(theta: tuple[float, ...], part: Prepared) -> Derivatives:
    """Evaluate one partition's log-likelihood, gradient and Hessian at ``theta``."""
    if part.data is None:
        size = len(theta)
        return Derivatives(value=0.0, gradient=np.zeros(size), hessian=np.zeros((size, size)))
    if part.model == "gg":
        x, m, weight = part.data
        return _kernels.gg_derivatives(theta, x, m, weight)
    if part.model == "pareto":
        return _pareto.pareto_derivatives(theta, part.data)
    return _kernels.bgnbd_derivatives(theta, part.data, modified=part.model == "mbgnbd")


def add_derivatives(parts: Sequence[Derivatives]) -> Derivatives:
    """Add up partial derivatives (one step of the tree reduction)."""
    first, *rest = parts
    value, gradient, hessian = first.value, first.gradient.copy(), first.hessian.copy()
    for part in rest:
        value += part.value
        gradient += part.gradient
        hessian += part.hessian
    return Derivatives(value=value, gradient=gradient, hessian=hessian)


def model_key(fitter: Fitter) -> str:
    """Name the kernel a fitter's likelihood is evaluated with."""
    if isinstance(fitter, GammaGammaFitter):
        return "gg"
    if isinstance(fitter, ParetoNBDFitter):
        return "pareto"
    if isinstance(fitter, ModifiedBetaGeoFitter):
        return "mbgnbd"
    return "bgnbd"


# --------------------------------------------------------------------------------------
# On the caller: starting values, the optimiser, the model
# --------------------------------------------------------------------------------------


class Moments(NamedTuple):
    """The totals a fit starts from (see :func:`part_moments`)."""

    n: float
    longest: float
    sum_x: float
    sum_age: float
    repeaters: float
    n_rows: int
    sum_spend: float
    spread: float


def moments_from(totals: np.ndarray[Any, np.dtype[np.float64]], spread: float = 0.0) -> Moments:
    """Read the summed :func:`part_moments` (the largest age is a maximum, not a sum)."""
    return Moments(
        n=float(totals[0]),
        longest=float(totals[1]),
        sum_x=float(totals[2]),
        sum_age=float(totals[3]),
        repeaters=float(totals[4]),
        n_rows=round(float(totals[5])),
        sum_spend=float(totals[6]),
        spread=spread,
    )


class Coarse(NamedTuple):
    """The Pareto/NBD warm start's coarsened rows, prepared on the engine.

    ``derivatives`` evaluates their summed likelihood; ``n_rows`` counts their rows
    over all partitions (compressed per partition).
    """

    derivatives: Callable[[tuple[float, ...]], Derivatives]
    n_rows: int


def warm_starts(fitter: Fitter) -> bool:
    """Whether the fit of ``fitter`` first fits coarsened rows (Pareto/NBD, no start given)."""
    return isinstance(fitter, ParetoNBDFitter) and fitter.initial_params is None


def coarse_part(stats: pd.DataFrame, *, longest: float) -> pd.DataFrame:
    """Coarsen one partition's purchase statistics as the Pareto/NBD warm start does."""
    if len(stats) == 0:
        return stats
    (x, tx, age), counts = ParetoNBDFitter._coarsen(
        *(stats[key].to_numpy(dtype=np.float64) for key in (*PURCHASE_KEYS, "count")),
        longest=longest,
    )
    return pd.DataFrame({"frequency": x, "recency": tx, "T": age, "count": counts})


def _start(
    fitter: Fitter, moments: Moments, coarse: Callable[[], Coarse] | None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Choose the starting values and penalty scales with the fitter's own hooks."""
    # The parameter classes list their fields in the kernels' order.
    initial = None if fitter.initial_params is None else attrs.astuple(fitter.initial_params)
    if isinstance(fitter, GammaGammaFitter):
        if initial is None:
            initial = moment_start(moments.sum_spend / moments.n, moments.spread / moments.n)
        return initial, (1.0, 1.0, 1.0)
    longest = moments.longest if moments.longest > 0 else 1.0
    scale = tuple(1.0 / longest if scaled else 1.0 for scaled in fitter._time_scaled)
    if initial is not None:
        return initial, scale
    rate = moments.sum_x / max(moments.sum_age, 1e-12)
    start = fitter._start(max(rate, 1e-12), longest)
    if isinstance(fitter, ParetoNBDFitter) and coarse is not None:
        rows = coarse()
        if fitter._coarse_pays(rows.n_rows, moments.n_rows):
            start = fitter._coarse_fit(
                rows.derivatives,
                start=start,
                total_weight=moments.n,
                n_rows=rows.n_rows,
                longest=longest,
            )
    return start, scale


def fit_from_parts(
    fitter: Fitter,
    derivatives: Callable[[tuple[float, ...]], Derivatives],
    moments: Moments,
    *,
    time_unit: str | None,
    progress: ProgressReporter,
    coarse: Callable[[], Coarse] | None = None,
) -> Model:
    """Maximise the summed likelihood and build the fitted model, as ``fitter.fit``.

    ``derivatives`` evaluates the whole likelihood at a parameter vector (on the
    engine); ``moments`` are the summed :func:`part_moments` (with the Gamma-Gamma
    spread when fitting that model); ``coarse`` prepares the Pareto/NBD warm start's
    rows on the engine when called (see :func:`warm_starts`). The caller has already
    rejected empty data. Starting values, penalty scales, the warm start and the
    Gamma-Gamma check are the fitters' own.
    """
    progress.report(PREPARED)
    start, scale = _start(fitter, moments, coarse)
    optimum = maximize(
        derivatives,
        start=start,
        total_weight=moments.n,
        n_rows=moments.n_rows,
        penalizer=fitter.penalizer,
        penalty_scale=scale,
        tol=fitter.tol,
        max_iterations=fitter.max_iterations,
        owner=type(fitter).__name__,
        progress=progress,
        progress_span=(PREPARED, OPTIMISED),
    )
    covariance, log_likelihood = optimum.covariance, optimum.log_likelihood
    n_customers, report = round(moments.n), optimum.report
    model: Model
    if isinstance(fitter, GammaGammaFitter):
        params = _params(GammaGammaParams, optimum.theta)
        check_mean_spend(params, n_customers=n_customers)
        model = GammaGammaModel(
            params=params,
            covariance=covariance,
            log_likelihood=log_likelihood,
            n_customers=n_customers,
            convergence=report,
        )
    else:
        model_type, names = fitter._model_type, fitter._model_type._param_names
        fitted: Any = model_type._params_type(**dict(zip(names, optimum.theta, strict=True)))
        model = model_type(
            params=fitted,
            covariance=covariance,
            log_likelihood=log_likelihood,
            n_customers=n_customers,
            convergence=report,
            time_unit=time_unit,
        )
    progress.done()
    return model


def _params(params_type: type[_P], theta: tuple[float, ...]) -> _P:
    """Build a parameter object from the optimum, given in the kernel's order."""
    names = [field.name for field in attrs.fields(params_type)]
    return params_type(**dict(zip(names, theta, strict=True)))
