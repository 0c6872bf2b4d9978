"""Features of the learned early warning, measured at one cut-off (private).

Every feature of a customer at cut-off day ``c`` reads only the events on days
``<= c`` (the :class:`~crmscore.churn._history.LogHistory` context and purchase
summary at ``c``), so adding later events never changes it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore.clv import BetaGeoFitter, BetaGeoModel
from crmscore.errors import ConvergenceError, InvalidDataError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from crmscore._params import BetaGeoParams
    from crmscore.churn._context import EventContext
    from crmscore.churn._history import CutOff, LogHistory
    from crmscore.churn.signals import ChurnSignal

__all__ = ["BASE_FEATURES", "REQUIRED_KINDS", "Measured", "measure", "phrase"]

FloatArray: TypeAlias = npt.NDArray[np.float64]

#: Event kinds a policy signal needs to measure anything beyond purchases: without
#: any of them in the log the signal is left out of the learned warning.
REQUIRED_KINDS: dict[str, tuple[str, ...]] = {
    "purchase_frequency_drop": ("purchase",),
    "interaction_stop": ("interaction",),
    "review_drop": ("review",),
    "account_anomaly": ("account_change",),
    "complaint_rise": ("complaint",),
    "negative_reviews": ("review",),
    "spend_drop": ("purchase",),
    "cart_abandonment": ("cart_abandoned",),
}

#: Purchase features: name -> what it measures (``{v}`` is the raw value).
BASE_FEATURES: dict[str, str] = {
    "days_since_purchase": "no purchase for {v:.0f} days",
    "days_to_lapse": "{v:.0f} days left before {inactive} days without a purchase",
    "lapse_within_lead": "{v}",
    "purchase_days": "purchases on {v:.0f} day(s) in total",
    "tenure_days": "customer for {v:.0f} days",
    "recent_purchases": "{v:.0f} purchase(s) in the last {recent} days",
    "purchase_trend": "{v:+.1f} purchase(s) in the last {recent} days vs the earlier pace",
    "gap_ratio": "{v:.1f} times the usual gap since the last purchase",
    "mean_spend": "average purchase {v:,.2f}",
    "recent_spend": "spend {v:,.2f} in the last {recent} days",
    "p_alive": "P(alive) {v:.2f}",
    "expected_purchases": "{v:.2f} purchase(s) expected in the next {horizon} days",
}


class Measured:
    """Raw feature values of every customer at one cut-off, and what was left out."""

    __slots__ = ("bgnbd", "cut", "features", "notes", "references")

    def __init__(
        self,
        *,
        cut: CutOff,
        features: dict[str, FloatArray],
        references: dict[str, FloatArray],
        bgnbd: BetaGeoParams | None,
        notes: list[str],
    ) -> None:
        self.cut = cut
        self.features = features
        self.references = references
        self.bgnbd = bgnbd
        self.notes = notes


def _bgnbd_inputs(cut: CutOff) -> tuple[npt.NDArray[np.bool_], FloatArray, FloatArray, FloatArray]:
    bought = np.isfinite(cut.first_day)
    x = np.where(bought, cut.n_days - 1, 0.0)
    tx = np.where(bought, cut.last_day - cut.first_day, 0.0)
    age = np.where(bought, cut.day - cut.first_day, 0.0)
    return bought, x, tx, age


#: L2 penalty of the fallback BG/NBD fit when maximum likelihood fails (early cut-offs
#: with short histories can push a and b towards infinity: no dropout identified).
FALLBACK_PENALIZER = 0.001


def _fit_bgnbd(cut: CutOff, notes: list[str]) -> BetaGeoParams | None:
    bought, x, tx, age = _bgnbd_inputs(cut)
    table = pd.DataFrame({"frequency": x[bought], "recency": tx[bought], "T": age[bought]})
    table.attrs = {"time_unit": "D"}
    when = np.datetime64(cut.day, "D")
    try:
        return BetaGeoFitter().fit(table).params
    except ConvergenceError:
        pass
    except InvalidDataError as error:
        notes.append(f"P(alive) and expected purchases left out at {when}: {error}")
        return None
    try:
        params = BetaGeoFitter(penalizer=FALLBACK_PENALIZER).fit(table).params
    except (ConvergenceError, InvalidDataError) as error:
        notes.append(f"P(alive) and expected purchases left out at {when}: {error}")
        return None
    notes.append(
        f"BG/NBD at {when} fitted with penalizer {FALLBACK_PENALIZER}: maximum likelihood "
        "did not converge"
    )
    return params


def _purchase_features(
    cut: CutOff,
    context: EventContext,
    *,
    day: int,
    recent_days: int,
    inactive_days: int,
    lead_days: int,
) -> dict[str, FloatArray]:
    """Recency, frequency, tenure, trends and spend of every customer at ``day``."""
    values: dict[str, FloatArray] = {}
    last_age = day - cut.last_day
    tenure = day - cut.first_day
    values["days_since_purchase"] = last_age
    # The churn criterion is met on the day inactive_days have passed without a
    # purchase: a customer silent that long minus less than lead_days can churn
    # only too soon (or buy again), never lead_days ahead.
    left = inactive_days - last_age
    values["days_to_lapse"] = left
    with np.errstate(invalid="ignore"):
        values["lapse_within_lead"] = np.where(np.isfinite(left), left < lead_days, np.nan)
    values["purchase_days"] = np.where(np.isfinite(cut.first_day), cut.n_days, np.nan)
    values["tenure_days"] = tenure
    purchases = context.subset(("purchase",), owner="LearnedWarning")
    recent = context.count(purchases, 0, recent_days)
    earlier = context.count(purchases, recent_days)
    earlier_days = tenure - recent_days + 1
    with np.errstate(invalid="ignore", divide="ignore"):
        pace = earlier * recent_days / earlier_days
        values["recent_purchases"] = np.where(np.isfinite(tenure), recent, np.nan)
        values["purchase_trend"] = np.where(earlier_days >= recent_days, recent - pace, np.nan)
        gap = tenure / (cut.n_days - 1)
        values["gap_ratio"] = np.where(cut.n_days >= 2, last_age / gap, np.nan)
        spend = context.total(purchases, weights=purchases.numbers)
        count = context.count(purchases)
        values["mean_spend"] = np.where(count > 0, spend / count, np.nan)
    values["recent_spend"] = np.where(
        np.isfinite(tenure),
        context.total(purchases, 0, recent_days, weights=purchases.numbers),
        np.nan,
    )
    return values


def measure(
    history: LogHistory,
    day: int,
    *,
    signals: Sequence[ChurnSignal],
    recent_days: int,
    horizon_days: int,
    inactive_days: int,
    lead_days: int,
    bgnbd: BetaGeoParams | str | None,
) -> Measured:
    """Measure every feature at cut-off ``day``.

    ``bgnbd`` is ``"fit"`` (fit BG/NBD on the purchases up to ``day``), fixed
    parameters, or None (leave P(alive) and expected purchases out).
    """
    cut = history.cut(day)
    when = pd.Timestamp(np.datetime64(day, "D"))
    context = history.context(day, as_of=when)
    values = _purchase_features(
        cut,
        context,
        day=day,
        recent_days=recent_days,
        inactive_days=inactive_days,
        lead_days=lead_days,
    )
    notes: list[str] = []
    params: BetaGeoParams | None = None
    params = _fit_bgnbd(cut, notes) if isinstance(bgnbd, str) else bgnbd
    if params is not None:
        bought, x, tx, age = _bgnbd_inputs(cut)
        model = BetaGeoModel.from_params(params, time_unit="D")
        table = pd.DataFrame({"frequency": x[bought], "recency": tx[bought], "T": age[bought]})
        alive = np.full(x.size, np.nan)
        alive[bought] = model.probability_alive(table).to_numpy()
        values["p_alive"] = alive
        expected = np.full(x.size, np.nan)
        expected[bought] = model.expected_purchases(table, t=horizon_days).to_numpy()
        values["expected_purchases"] = expected
    references: dict[str, FloatArray] = {}
    for signal in signals:
        result = signal.compute(context)
        values[signal.name] = np.asarray(result.value, dtype=np.float64)
        if result.reference is not None:
            references[signal.name] = np.asarray(result.reference, dtype=np.float64)
    return Measured(cut=cut, features=values, references=references, bgnbd=params, notes=notes)


def phrase(
    name: str,
    *,
    signals: dict[str, ChurnSignal],
    recent_days: int,
    horizon_days: int,
    inactive_days: int,
    lead_days: int,
) -> Callable[[float, float], str]:
    """Return a function putting a raw value of feature ``name`` in words."""
    if name.endswith("_missing"):
        base = name.removesuffix("_missing")

        def missing(value: float, reference: float) -> str:  # noqa: ARG001
            return f"{base} not measurable" if math.isnan(value) else f"{base} measurable"

        return missing
    if name == "lapse_within_lead":

        def lapse(value: float, reference: float) -> str:  # noqa: ARG001
            within = "within" if value else "more than"
            return f"{within} {lead_days} days from {inactive_days} days without a purchase"

        return lapse
    if name in signals:
        signal = signals[name]
        return signal.describe
    template = BASE_FEATURES[name]

    def words(value: float, reference: float) -> str:  # noqa: ARG001
        if not math.isfinite(value):
            return f"{name} unknown"
        return template.format(
            v=value,
            recent=recent_days,
            horizon=horizon_days,
            inactive=inactive_days,
            lead=lead_days,
        )

    return words


def jsonable(value: Any) -> Any:
    """Float NaN and infinities as None (JSON has no NaN)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
