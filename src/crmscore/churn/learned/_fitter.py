"""The settings and fit of the learned warning (private)."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._events import validate_events
from crmscore._validation import NON_NEGATIVE, as_timestamp, integer_at_least, to_float, validator
from crmscore.churn._features import (
    BASE_FEATURES,
    REQUIRED_KINDS,
    Measured,
    measure,
)
from crmscore.churn._history import LogHistory
from crmscore.churn._irls import fit_logistic
from crmscore.churn._metrics import precision_recall_counts
from crmscore.churn.learned._model import LearnedWarning
from crmscore.churn.learned._values import (
    IDENTITY,
    TRANSFORMS,
    FeatureTerm,
    TrainingWindow,
    churn_probability,
    iso_date,
    point_on_curve,
    window_labels,
)
from crmscore.churn.rules import LEVELS
from crmscore.churn.signals import DEFAULT_SIGNALS, ChurnSignal, PAliveBelow
from crmscore.errors import ConvergenceError, InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from crmscore._events import ValidatedEvents

__all__ = ["LearnedWarningFitter"]

FloatArray: TypeAlias = npt.NDArray[np.float64]

_OWNER = "LearnedWarningFitter"

# --------------------------------------------------------------------------------------
# The fitter
# --------------------------------------------------------------------------------------


def _to_signals(values: Sequence[ChurnSignal] | None) -> tuple[ChurnSignal, ...]:
    # None (the default) stands for DEFAULT_SIGNALS: a sentinel keeps the eight
    # signals' long repr out of the signature help() shows.
    if values is None:
        return DEFAULT_SIGNALS
    given: object = values
    if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
        raise InvalidParameterError.for_value(
            name="signals", owner=_OWNER, allowed="a sequence of ChurnSignal", got=values
        )
    out = tuple(values)
    items: tuple[object, ...] = out
    bad = [s for s in items if not isinstance(s, ChurnSignal) or isinstance(s, PAliveBelow)]
    if bad:
        raise InvalidParameterError.for_value(
            name="signals",
            owner=_OWNER,
            allowed="policy signals (P(alive) is built in: leave PAliveBelow out)",
            got=bad[:3],
        )
    return out


def _to_targets(values: Sequence[float]) -> tuple[float, ...]:
    try:
        out = tuple(to_float(v) for v in values)
    except TypeError:
        raise InvalidParameterError.for_value(
            name="level_precision",
            owner=_OWNER,
            allowed="three precisions (blue, yellow, red)",
            got=values,
        ) from None
    return out


def _check_targets(
    instance: object, attribute: attrs.Attribute[Any], value: tuple[float, ...]
) -> None:
    del instance, attribute
    if len(value) != 3 or not all(0 < v < 1 for v in value) or list(value) != sorted(value):
        raise InvalidParameterError.for_value(
            name="level_precision",
            owner=_OWNER,
            allowed="three increasing precisions strictly between 0 and 1 (blue, yellow, red)",
            got=value,
        )


def _check_estimator(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    del instance, attribute
    if value is not None and not (
        callable(getattr(value, "fit", None)) and callable(getattr(value, "predict_proba", None))
    ):
        raise InvalidParameterError.for_value(
            name="estimator",
            owner=_OWNER,
            allowed="None or an object with fit(X, y) and predict_proba(X)",
            got=type(value).__name__,
        )


@attrs.frozen(kw_only=True)
class LearnedWarningFitter:
    """Settings of the learned early warning; :meth:`fit` returns a :class:`LearnedWarning`.

    Examples
    --------
    >>> fitter = LearnedWarningFitter(n_windows=3, penalty=2.0)
    >>> fitter.window_step_days, fitter.lead_days, fitter.horizon_days
    (30, 30, 90)
    """

    signals: tuple[ChurnSignal, ...] = attrs.field(default=None, converter=_to_signals)
    """Policy signals whose measured values are features (those whose event kinds the
    log lacks are left out, with a note). ``None`` (the default) means
    :data:`~crmscore.churn.DEFAULT_SIGNALS`."""

    lead_days: int = attrs.field(default=30, validator=integer_at_least(0))
    """A churn counts when it comes at least this many days after the cut-off (policy: 30)."""

    horizon_days: int = attrs.field(default=90, validator=integer_at_least(1))
    """... and at most this many days after it."""

    inactive_days: int = attrs.field(default=90, validator=integer_at_least(1))
    """Days without a purchase that make a customer churned (the documented criterion)."""

    recent_days: int = attrs.field(default=90, validator=integer_at_least(1))
    """Window of the recent purchase and spend features."""

    n_windows: int = attrs.field(default=4, validator=integer_at_least(1))
    """Training cut-offs."""

    window_step_days: int = attrs.field(default=30, validator=integer_at_least(1))
    """Days between training cut-offs; the latest is ``horizon_days`` before ``as_of``."""

    penalty: float = attrs.field(default=1.0, converter=to_float, validator=validator(NON_NEGATIVE))
    """L2 penalty on the standardised coefficients (scikit-learn's ``1 / C``)."""

    use_p_alive: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    """Fit BG/NBD at each cut-off for P(alive) and expected purchases."""

    level_precision: tuple[float, ...] = attrs.field(
        default=(0.5, 0.7, 0.85), converter=_to_targets, validator=_check_targets
    )
    """Target precision of blue, yellow and red at the lead (red: the policy's 85 %)."""

    min_warned: int = attrs.field(default=30, validator=integer_at_least(1))
    """Fewest training customer-dates a threshold must warn to count."""

    estimator: Any = attrs.field(default=None, validator=_check_estimator, eq=False)
    """None (L2 logistic regression by IRLS) or any object with ``fit(X, y)`` and
    ``predict_proba(X)``, e.g. scikit-learn's ``HistGradientBoostingClassifier``. It
    is copied, not changed; crmscore does not depend on scikit-learn."""

    max_iterations: int = attrs.field(default=100, validator=integer_at_least(1))
    """Most Newton iterations before :class:`~crmscore.errors.ConvergenceError`."""

    def cut_offs(self, as_of: Any) -> list[pd.Timestamp]:
        """Return the training cut-offs for data up to ``as_of``, latest first.

        Examples
        --------
        >>> [str(d.date()) for d in LearnedWarningFitter(n_windows=2).cut_offs("2024-12-31")]
        ['2024-10-02', '2024-09-02']
        """
        when = as_timestamp(as_of, name="as_of", owner=_OWNER).tz_localize(None).normalize()
        return [
            when - pd.Timedelta(days=self.horizon_days + k * self.window_step_days)
            for k in range(self.n_windows)
        ]

    def fit(
        self,
        events: pd.DataFrame,
        *,
        as_of: Any,
        customer_col: str = "customer_id",
        timestamp_col: str = "timestamp",
        kind_col: str = "kind",
        value_col: str = "value",
        event_id_col: str = "event_id",
        extra_kinds: Collection[str] = (),
    ) -> LearnedWarning:
        """Learn from the log's past: features at each cut-off, churn after it.

        Parameters
        ----------
        events : pandas.DataFrame
            The event log; only events up to the day of ``as_of`` are read.
        as_of : date-like
            The last day of data. The training cut-offs are ``horizon_days``,
            ``horizon_days + window_step_days``, ... days before it, so that every
            training label is observed by ``as_of`` (no customer is censored).
        customer_col : str, default "customer_id"
            Column of customer ids.
        timestamp_col : str, default "timestamp"
            Column of timestamps.
        kind_col : str, default "kind"
            Column of event kinds.
        value_col : str, default "value"
            Column of event values.
        event_id_col : str, default "event_id"
            Column of event ids.
        extra_kinds : collection of str, default ()
            Event kinds accepted besides the known ones.

        Returns
        -------
        LearnedWarning

        Raises
        ------
        ColumnNotFoundError, InvalidParameterError
            As :meth:`EarlyWarning.predict`.
        InvalidDataError
            The log breaks the contract, or the training windows hold no churner or
            no stayer.
        ConvergenceError
            Newton's method did not converge.
        """
        validated = validate_events(
            events,
            as_of=as_of,
            owner=f"{_OWNER}.fit",
            customer_col=customer_col,
            timestamp_col=timestamp_col,
            kind_col=kind_col,
            value_col=value_col,
            event_id_col=event_id_col,
            extra_kinds=extra_kinds,
        )
        history = LogHistory(validated, inactive_days=self.inactive_days)
        return self.fit_history(history, validated.as_of_day, cache={})

    # Internal: shared with the backtest, which caches measurements per cut-off.
    def fit_history(
        self,
        history: LogHistory,
        day: int,
        *,
        cache: dict[tuple[int, bool, tuple[str, ...]], Measured],
    ) -> LearnedWarning:
        """Fit on the cut-offs before ``day`` of an already validated log (internal)."""
        days = [day - self.horizon_days - k * self.window_step_days for k in range(self.n_windows)]
        kept, left_out = self._kept_signals(history.events, day)
        windows: list[TrainingWindow] = []
        blocks: list[Measured] = []
        labels: list[FloatArray] = []
        for d in days:
            measured = self._cached(history, d, kept, cache)
            cut = measured.cut
            y = window_labels(cut, lead_days=self.lead_days, horizon_days=self.horizon_days)
            blocks.append(measured)
            labels.append(y[cut.active])
            windows.append(
                TrainingWindow(
                    as_of=iso_date(d),
                    customers=int(cut.active.sum()),
                    churners=int(y[cut.active].sum()),
                )
            )
        y_all = np.concatenate(labels)
        if y_all.size == 0 or y_all.min() == y_all.max():
            raise InvalidDataError(
                f"{_OWNER}.fit: the training windows {[w.as_of for w in windows]} hold "
                f"{int(y_all.sum())} churners among {y_all.size} active customer-dates: both "
                "churners and stayers are needed. Use more or earlier windows, or a longer log."
            )
        notes = list(left_out)
        for m in blocks:
            notes.extend(n for n in m.notes if n not in notes)
        terms, x = self._terms(blocks, notes, kept)
        n_iterations = 0
        if self.estimator is None:
            result = fit_logistic(
                x, y_all, penalty=self.penalty, max_iterations=self.max_iterations
            )
            if not result.converged:
                raise ConvergenceError(
                    f"{_OWNER}: Newton's method did not converge in {self.max_iterations} "
                    "iterations; raise penalty (separable data) or max_iterations."
                )
            se = np.sqrt(np.diag(result.covariance))
            terms = [
                attrs.evolve(t, coefficient=float(b), standard_error=float(s))
                for t, b, s in zip(terms, result.beta[1:], se[1:], strict=True)
            ]
            intercept, intercept_se, estimator = float(result.beta[0]), float(se[0]), None
            n_iterations = result.n_iterations
            probability = churn_probability(x, intercept, result.beta[1:].tolist())
        else:
            estimator = copy.deepcopy(self.estimator)
            estimator.fit(x, y_all.astype(np.int64))
            probability = np.asarray(estimator.predict_proba(x), dtype=np.float64)[:, 1]
            intercept, intercept_se = math.nan, math.nan
        curve = precision_recall_counts(y_all, probability)
        points = [
            point_on_curve(
                curve,
                y_all,
                target=target,
                level=level,
                lead_days=self.lead_days,
                min_warned=self.min_warned,
            )
            for level, target in zip(LEVELS[1:], self.level_precision, strict=True)
        ]
        bgnbd = None
        if any(t.name in ("p_alive", "expected_purchases") for t in terms):
            bgnbd = self._cached(history, day, kept, cache).bgnbd
        return LearnedWarning(
            terms=terms,
            intercept=intercept,
            intercept_standard_error=intercept_se,
            penalty=self.penalty,
            levels=points,
            training=windows,
            signals=kept,
            left_out=notes,
            bgnbd=bgnbd,
            lead_days=self.lead_days,
            horizon_days=self.horizon_days,
            inactive_days=self.inactive_days,
            recent_days=self.recent_days,
            n_iterations=n_iterations,
            estimator=estimator,
        )

    def _cached(
        self,
        history: LogHistory,
        day: int,
        signals: tuple[ChurnSignal, ...],
        cache: dict[tuple[int, bool, tuple[str, ...]], Measured],
    ) -> Measured:
        key = (day, self.use_p_alive, tuple(s.name for s in signals))
        if key not in cache:
            cache[key] = measure(
                history,
                day,
                signals=signals,
                recent_days=self.recent_days,
                horizon_days=self.horizon_days,
                inactive_days=self.inactive_days,
                lead_days=self.lead_days,
                bgnbd="fit" if self.use_p_alive else None,
            )
        return cache[key]

    def _kept_signals(
        self, events: ValidatedEvents, day: int
    ) -> tuple[tuple[ChurnSignal, ...], list[str]]:
        present = {events.kind_names[k] for k in np.unique(events.kinds[events.days <= day])}
        kept, notes = [], []
        for signal in self.signals:
            needed = REQUIRED_KINDS.get(signal.type_name, ())
            if needed and not present & set(needed):
                notes.append(
                    f"{signal.name}: left out, the log has no {' or '.join(needed)} events"
                )
            else:
                kept.append(signal)
        return tuple(kept), notes

    def _terms(
        self, blocks: Sequence[Measured], notes: list[str], kept: Sequence[ChurnSignal]
    ) -> tuple[list[FeatureTerm], FloatArray]:
        """Build the feature terms and the standardised design (rows: active customers).

        The design is what :func:`design` computes from the terms, built in the same
        pass that measures the means and scales.
        """
        names = [n for n in BASE_FEATURES if all(n in m.features for m in blocks)]
        names += [s.name for s in kept]
        terms: list[FeatureTerm] = []
        columns: list[FloatArray] = []
        for name in names:
            transform = "identity" if name in IDENTITY else "slog"
            raw = np.concatenate([m.features[name][m.cut.active] for m in blocks])
            t = TRANSFORMS[transform](raw)
            measured = ~np.isnan(t)
            if not measured.any():
                notes.append(f"{name}: left out, never measurable on the training windows")
                continue
            fill = float(t[measured].mean())
            filled = np.where(measured, t, fill)
            scale = float(filled.std())
            if scale <= 1e-12 * max(1.0, abs(fill)):
                notes.append(f"{name}: left out, constant on the training windows")
                continue
            mean = float(filled.mean())
            terms.append(
                FeatureTerm(
                    name=name,
                    transform=transform,
                    fill=fill,
                    mean=mean,
                    scale=scale,
                    coefficient=math.nan,
                    standard_error=math.nan,
                )
            )
            columns.append((filled - mean) / scale)
            share = float(measured.mean())
            if share < 1:
                indicator = (~measured).astype(np.float64)
                mean, scale = float(indicator.mean()), float(indicator.std())
                terms.append(
                    FeatureTerm(
                        name=f"{name}_missing",
                        transform="identity",
                        fill=0.0,
                        mean=mean,
                        scale=scale,
                        coefficient=math.nan,
                        standard_error=math.nan,
                    )
                )
                columns.append((indicator - mean) / scale)
        return terms, np.vstack(columns).T
