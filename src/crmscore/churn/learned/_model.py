"""The fitted learned warning (private; public via :mod:`crmscore.churn.learned`)."""

from __future__ import annotations

import math
from numbers import Integral
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._display import html_block, short_repr
from crmscore._events import validate_events
from crmscore._params import BetaGeoParams
from crmscore._serialise import reads
from crmscore._validation import Interval, check_param, integer_at_least, to_float
from crmscore.churn._features import (
    Measured,
    jsonable,
    measure,
    phrase,
)
from crmscore.churn._history import LogHistory
from crmscore.churn.learned._values import (
    FeatureTerm,
    OperatingPoint,
    TrainingWindow,
    churn_probability,
    design,
    float_field,
    level_dtype,
    probability_levels,
    to_tuple,
)
from crmscore.churn.signals import ChurnSignal, signal_from_dict
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping


__all__ = ["LearnedWarning"]

FloatArray: TypeAlias = npt.NDArray[np.float64]


@attrs.frozen(kw_only=True)
class LearnedWarning:
    """A fitted learned early warning: features, coefficients, thresholds, provenance.

    Built by :meth:`LearnedWarningFitter.fit`; a frozen value. With the default
    estimator it round-trips through JSON (:meth:`to_dict` / :meth:`from_dict`);
    with a plugged-in estimator it does not (:meth:`to_dict` raises), because the
    estimator is an arbitrary Python object.

    Examples
    --------
    >>> from crmscore.churn import LearnedWarningFitter
    >>> from crmscore.datasets import make_events
    >>> book = make_events(1_500, seed=11)
    >>> model = LearnedWarningFitter(n_windows=2).fit(book.events, as_of=book.as_of)
    >>> [w.as_of for w in model.training]
    ['2025-10-01', '2025-09-01']
    >>> scored = model.predict(book.events, as_of=book.as_of)
    >>> sorted(scored.columns)
    ['active', 'level', 'probability', 'reasons']
    >>> bool(scored["probability"].dropna().between(0, 1).all())
    True
    >>> LearnedWarning.from_dict(model.to_dict()) == model
    True
    """

    terms: tuple[FeatureTerm, ...] = attrs.field(converter=to_tuple)
    """The model's inputs in order, each with its scaling and coefficient."""

    intercept: float = float_field()
    """Log-odds of churn for a customer at the training mean of every feature."""

    intercept_standard_error: float = float_field()
    """Standard error of the intercept (NaN for a plugged-in estimator)."""

    penalty: float = attrs.field(converter=to_float)
    """L2 penalty on the standardised coefficients (scikit-learn's ``1 / C``)."""

    levels: tuple[OperatingPoint, ...] = attrs.field(converter=to_tuple)
    """The thresholds of blue, yellow and red, chosen on the training windows."""

    training: tuple[TrainingWindow, ...] = attrs.field(converter=to_tuple)
    """The cut-offs learned from, latest first."""

    signals: tuple[ChurnSignal, ...] = attrs.field(converter=to_tuple)
    """The policy signals whose measured values are features (those kept)."""

    left_out: tuple[str, ...] = attrs.field(converter=to_tuple)
    """Features left out, each with the reason (e.g. the log has no reviews)."""

    bgnbd: BetaGeoParams | None = attrs.field(default=None)
    """BG/NBD parameters (days) for P(alive) and expected purchases at prediction,
    fitted on every purchase up to the fit's ``as_of``; None if left out."""

    lead_days: int = attrs.field(default=30, validator=integer_at_least(0))
    """Churn must come at least this many days after the cut-off to count."""

    horizon_days: int = attrs.field(default=90, validator=integer_at_least(1))
    """... and at most this many days."""

    inactive_days: int = attrs.field(default=90, validator=integer_at_least(1))
    """Days without a purchase that make a customer churned."""

    recent_days: int = attrs.field(default=90, validator=integer_at_least(1))
    """Window of the recent purchase and spend features."""

    n_iterations: int = attrs.field(default=0, validator=integer_at_least(0))
    """Newton iterations of the fit (0 for a plugged-in estimator)."""

    estimator: Any = attrs.field(default=None, eq=False, repr=False)
    """A plugged-in fitted estimator (``predict_proba``), or None for the built-in model."""

    def __repr__(self) -> str:
        return short_repr(
            "LearnedWarning",
            [
                ("features", len(self.terms)),
                ("training", ", ".join(w.as_of for w in self.training)),
                ("lead_days", self.lead_days),
                ("horizon_days", self.horizon_days),
                (
                    "estimator",
                    "logistic (IRLS)" if self.estimator is None else type(self.estimator).__name__,
                ),
            ],
        )

    def _repr_html_(self) -> str:
        return html_block(
            "LearnedWarning",
            facts=[
                ("training windows", ", ".join(w.as_of for w in self.training)),
                (
                    "churn counted",
                    f"{self.lead_days} to {self.horizon_days} days after the cut-off",
                ),
                *[("level", p.describe()) for p in self.levels],
                *[("left out", note) for note in self.left_out],
            ],
            tables=[("coefficients", self.summary())],
        )

    @property
    def operating_point(self) -> OperatingPoint:
        """The red level's threshold: the policy's target precision at the lead."""
        return self.levels[-1]

    def summary(self) -> pd.DataFrame:
        """Coefficients, standard errors and scaling per feature, largest effect first.

        Returns
        -------
        pandas.DataFrame
            Indexed by feature: ``coefficient`` (log-odds per standard deviation),
            ``standard_error``, ``z``, ``transform``, ``mean``, ``scale``.
        """
        frame = pd.DataFrame(
            {
                "coefficient": [t.coefficient for t in self.terms],
                "standard_error": [t.standard_error for t in self.terms],
                "transform": [t.transform for t in self.terms],
                "mean": [t.mean for t in self.terms],
                "scale": [t.scale for t in self.terms],
            },
            index=pd.Index([t.name for t in self.terms], name="feature"),
        )
        frame.insert(2, "z", frame["coefficient"] / frame["standard_error"])
        return frame.iloc[np.argsort(-frame["coefficient"].abs().to_numpy(), kind="stable")]

    # ---------------------------------------------------------------- scoring

    def _uses_bgnbd(self) -> bool:
        return any(t.name in ("p_alive", "expected_purchases") for t in self.terms)

    def _score(
        self, measured: Measured, rows: npt.NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray]:
        """Probability and standardised design of the ``rows`` customers."""
        x = design(self.terms, measured, rows)
        if self.estimator is not None:
            proba = np.asarray(self.estimator.predict_proba(x), dtype=np.float64)[:, 1]
            return proba, x
        coefficients = [t.coefficient for t in self.terms]
        return churn_probability(x, self.intercept, coefficients), x

    def _measure(self, history: LogHistory, day: int) -> Measured:
        return measure(
            history,
            day,
            signals=self.signals,
            recent_days=self.recent_days,
            horizon_days=self.horizon_days,
            inactive_days=self.inactive_days,
            lead_days=self.lead_days,
            bgnbd=self.bgnbd if self._uses_bgnbd() else None,
        )

    def predict(
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
        n_reasons: int = 3,
    ) -> pd.DataFrame:
        """Warn every customer: churn probability, level and the reasons in words.

        Parameters
        ----------
        events : pandas.DataFrame
            The event log (see :meth:`EarlyWarning.predict`); events after the day
            of ``as_of`` are left out. Not modified.
        as_of : date-like
            The date of the warning.
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
        n_reasons : int, default 3
            Most contributions listed per warned customer.

        Returns
        -------
        pandas.DataFrame
            One row per customer with an event on or before ``as_of``, indexed by
            customer id (sorted):

            ``active``
                The customer bought within ``inactive_days`` days before ``as_of``
                (the others have churned already, or never bought: not scored).
            ``probability``
                Probability of churning ``lead_days`` to ``horizon_days`` days after
                ``as_of`` (NaN when not active).
            ``level``
                Ordered categorical ``none < blue < yellow < red`` from the
                thresholds in :attr:`levels`.
            ``reasons``
                For warned customers with the built-in model, the features that
                raise the log-odds most against the average training customer,
                e.g. ``"no purchase for 41 days: +1.20 log-odds"``; "" otherwise
                (a plugged-in estimator gives no contributions).

        Raises
        ------
        ColumnNotFoundError, InvalidDataError, InvalidParameterError
            As :meth:`EarlyWarning.predict`.
        """
        owner = "LearnedWarning.predict"
        check_param(
            n_reasons, Interval(Integral, 0, None, closed="left"), name="n_reasons", owner=owner
        )
        validated = validate_events(
            events,
            as_of=as_of,
            owner=owner,
            customer_col=customer_col,
            timestamp_col=timestamp_col,
            kind_col=kind_col,
            value_col=value_col,
            event_id_col=event_id_col,
            extra_kinds=extra_kinds,
        )
        history = LogHistory(validated, inactive_days=self.inactive_days)
        measured = self._measure(history, validated.as_of_day)
        frame = self._frame(measured, validated.customers, n_reasons=n_reasons)
        frame.index.name = customer_col
        frame.attrs = {"as_of": validated.as_of}
        return frame

    def _frame(
        self, measured: Measured, customers: pd.Index[Any], *, n_reasons: int
    ) -> pd.DataFrame:
        active = measured.cut.active
        probability = np.full(active.size, np.nan)
        proba, x = self._score(measured, active)
        probability[active] = proba
        code = np.zeros(active.size, dtype=np.int8)
        code[active] = probability_levels(proba, self.levels)
        table: npt.NDArray[Any] = np.full(1, "", dtype=object)  # code 0: no reasons
        which = np.zeros(active.size, dtype=np.intp)
        if self.estimator is None and n_reasons > 0:
            warned = code[active] > 0
            texts, codes = self._reasons(measured, active, x[warned], warned, n_reasons)
            table = np.concatenate([table, texts])
            which[np.flatnonzero(active)[warned]] = codes + 1
        # pandas infers the text dtype (str with pandas 3, object before) from the few
        # distinct texts, and the gather runs in C: no per-customer string conversion.
        reasons = pd.Series(table).array.take(which)
        return pd.DataFrame(
            {
                "active": active,
                "probability": probability,
                "level": pd.Categorical.from_codes(code, dtype=level_dtype()),
                "reasons": reasons,
            },
            index=customers,
        )

    def _reasons(
        self,
        measured: Measured,
        active: npt.NDArray[np.bool_],
        x: FloatArray,
        warned: npt.NDArray[np.bool_],
        n_reasons: int,
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp]]:
        """Put the reasons of the ``x`` rows (warned active customers) in words.

        Each customer's ``n_reasons`` largest contributions (ties in term order), the
        positive ones joined by "; ". Vectorised over customers: every (customer, rank)
        gets the integer code of its phrase, phrases are formatted once per distinct
        (feature, value, reference), and the joined text is built once per distinct
        tuple of codes. Returns the distinct texts and each row's index into them.
        """
        n = x.shape[0]
        if not n:
            return np.full(0, "", dtype=object), np.zeros(0, dtype=np.intp)
        coefficients = np.array([t.coefficient for t in self.terms])
        k = min(n_reasons, len(self.terms))
        contribution = x * coefficients
        ranked = np.argsort(-contribution, axis=1, kind="stable")[:, :k]
        values = np.take_along_axis(contribution, ranked, axis=1).ravel()
        top = ranked.ravel()  # entry e is customer e // k at rank e % k
        listed = values > 0
        positions = np.flatnonzero(active)[warned]
        signals = {s.name: s for s in self.signals}
        phrases: list[str] = []
        codes = np.full(n * k, -1, dtype=np.int64)  # -1: nothing at this rank
        for j in np.unique(top[listed]).tolist():
            entries = np.flatnonzero((top == j) & listed)
            customer = positions[entries // k]
            raw, refs = self._raw_and_reference(measured, self.terms[j].name, customer)
            pair, first = _distinct_pairs(raw, refs)
            words = phrase(
                self.terms[j].name,
                signals=signals,
                recent_days=self.recent_days,
                horizon_days=self.horizon_days,
                inactive_days=self.inactive_days,
                lead_days=self.lead_days,
            )
            # The contribution is a function of the value (the same arithmetic on the
            # same bits), so one row stands for every row of its (value, reference).
            texts = [
                f"{words(v, r)}: {c:+.2f} log-odds"
                for v, r, c in zip(
                    raw[first].tolist(),
                    refs[first].tolist(),
                    values[entries[first]].tolist(),
                    strict=True,
                )
            ]
            # Values that differ beyond the printed digits give the same text: one
            # code per distinct text keeps the distinct tuples of codes few.
            text_codes, distinct = pd.factorize(np.asarray(texts, dtype=object))
            codes[entries] = len(phrases) + text_codes[pair]
            phrases.extend(distinct.tolist())
        return _join_ranks(codes.reshape(n, k), np.asarray(phrases, dtype=object))

    @staticmethod
    def _raw_and_reference(
        measured: Measured, name: str, customer: npt.NDArray[np.intp]
    ) -> tuple[FloatArray, FloatArray]:
        base = name.removesuffix("_missing")
        raw = measured.features.get(base)
        ref = measured.references.get(base)
        nan = np.full(customer.size, np.nan)
        return (
            raw[customer] if raw is not None else nan,
            ref[customer] if ref is not None else nan,
        )

    # ---------------------------------------------------------------- JSON

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (NaN as None).

        Raises
        ------
        InvalidParameterError
            The model holds a plugged-in estimator, which is not serialisable.
        """
        if self.estimator is not None:
            raise InvalidParameterError(
                f"LearnedWarning with a plugged-in {type(self.estimator).__name__} cannot be "
                "serialised to JSON: only the built-in logistic model can. Keep the estimator "
                "with its own persistence (e.g. skops), or refit."
            )
        return {
            "terms": [t.to_dict() for t in self.terms],
            "intercept": self.intercept,
            "intercept_standard_error": jsonable(self.intercept_standard_error),
            "penalty": self.penalty,
            "levels": [p.to_dict() for p in self.levels],
            "training": [w.to_dict() for w in self.training],
            "signals": [s.to_dict() for s in self.signals],
            "left_out": list(self.left_out),
            "bgnbd": None if self.bgnbd is None else attrs.asdict(self.bgnbd),
            "lead_days": self.lead_days,
            "horizon_days": self.horizon_days,
            "inactive_days": self.inactive_days,
            "recent_days": self.recent_days,
            "n_iterations": self.n_iterations,
        }

    @classmethod
    @reads(
        "terms", "intercept", "penalty", "levels", "training", "signals", "left_out", optional=None
    )
    def from_dict(cls, data: Mapping[str, Any]) -> LearnedWarning:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        SerializationError
            ``data`` is not a mapping, lacks a field, or holds a bad value (the
            message names the path of the field).
        """
        fields = dict(data)
        bgnbd = fields.pop("bgnbd", None)
        se = fields.pop("intercept_standard_error", None)
        return cls(
            **{
                k: v
                for k, v in fields.items()
                if k not in ("terms", "levels", "training", "signals")
            },
            terms=[FeatureTerm.from_dict(t) for t in data["terms"]],
            levels=[OperatingPoint.from_dict(p) for p in data["levels"]],
            training=[TrainingWindow.from_dict(w) for w in data["training"]],
            signals=[signal_from_dict(s) for s in data["signals"]],
            bgnbd=None if bgnbd is None else BetaGeoParams(**bgnbd),
            intercept_standard_error=math.nan if se is None else se,
        )


def _first_rows(codes: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Row of the first occurrence of each code of :func:`pandas.factorize`.

    Codes appear in order of first occurrence, so a row is a first one exactly
    where its code exceeds every code before it.
    """
    running = np.maximum.accumulate(codes)
    new = np.empty(codes.size, dtype=bool)
    new[:1] = True
    np.greater(running[1:], running[:-1], out=new[1:])
    return np.flatnonzero(new)


def _distinct_pairs(
    raw: FloatArray, refs: FloatArray
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Code of each distinct (value, reference) pair and the first row of each.

    Compared bit for bit (0.0 and -0.0 print differently), so one row can stand for
    its whole group.
    """
    value_codes, _ = pd.factorize(raw.view(np.int64))
    ref_codes, _ = pd.factorize(refs.view(np.int64))
    pair, _ = pd.factorize(value_codes.astype(np.int64) * (int(ref_codes.max()) + 1) + ref_codes)
    return pair, _first_rows(pair)


def _join_ranks(
    by_rank: npt.NDArray[np.int64], phrases: npt.NDArray[Any]
) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp]]:
    """Join each row's phrases (codes into ``phrases``, -1 for none) with "; ".

    Rank by rank, the rows are grouped by their codes so far (pairs of the previous
    group and this rank's code), and each new group's text is its previous group's
    text plus one phrase: one concatenation per distinct prefix, not per row.
    Returns the texts of the last groups and each row's group.
    """
    with_none = np.append(phrases, "")  # code -1 reads the appended ""
    group = np.zeros(by_rank.shape[0], dtype=np.int64)
    texts: npt.NDArray[Any] = np.full(1, "", dtype=object)
    for column in by_rank.T:
        # group < rows and column + 1 <= phrases.size: the key fits in int64.
        key = group * (phrases.size + 1) + (column + 1)
        codes, _ = pd.factorize(key)
        first = _first_rows(codes)
        before, word = texts[group[first]], with_none[column[first]]
        texts = np.where(
            column[first] < 0, before, np.where(before == "", word, before + "; " + word)
        )
        group = codes.astype(np.int64, copy=False)
    return texts, group.astype(np.intp, copy=False)
