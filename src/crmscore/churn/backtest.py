"""Backtests without leakage: rules vs learned model vs 1 - P(alive) vs warning everyone.

At each cut-off ``c`` every method sees only the events on days up to ``c``; the
learned model is trained on cut-offs whose outcome windows close by ``c``; the
outcome (churn ``lead_days`` to ``horizon_days`` days after ``c``) is read from the
purchases after ``c``. See :func:`evaluate_backtest`.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._display import html_block
from crmscore._events import validate_events
from crmscore._progress import ProgressReporter
from crmscore._validation import InstanceOf, Interval, as_timestamp, check_param
from crmscore.churn._backtest_tables import Scores, pooled_tables, rule_table, summary_row
from crmscore.churn._history import LogHistory
from crmscore.churn.evaluation import churn_day_numbers
from crmscore.churn.learned import (
    LearnedWarning,
    LearnedWarningFitter,
    probability_levels,
)
from crmscore.churn.rules import LEVELS
from crmscore.churn.warning import EarlyWarning
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

__all__ = ["ChurnBacktest", "evaluate_backtest"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
Int8Array: TypeAlias = npt.NDArray[np.int8]

_OWNER = "evaluate_backtest"

#: The methods compared, in table order.
METHODS: tuple[str, ...] = ("rules", "learned", "1 - P(alive)", "warn everyone")


_FRAME = attrs.validators.instance_of(pd.DataFrame)


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _models(values: Iterable[LearnedWarning]) -> tuple[LearnedWarning, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class ChurnBacktest:
    """The result of :func:`evaluate_backtest`: every table of one backtest.

    A frozen value; its tables are DataFrames (compared by identity, not content).
    ``to_frame()`` gives the comparison table; in a notebook the HTML repr shows
    the settings and the main tables.
    """

    cut_offs: tuple[str, ...] = attrs.field(converter=_strings)
    """The cut-offs scored (ISO dates)."""

    lead_days: int
    """A churn counts when it comes at least this many days after the cut-off."""

    horizon_days: int
    """... and at most this many days after it."""

    inactive_days: int
    """Days without a purchase that make a customer churned."""

    comparison: pd.DataFrame = attrs.field(eq=False, validator=_FRAME)
    """Per method, pooled over the cut-offs: ``customers`` (active customer-dates),
    ``churners`` (churn ``lead_days`` to ``horizon_days`` days later), ``base_rate``,
    ``auc``, ``average_precision``, ``brier`` (NaN for the rules, which give no
    probability), ``precision_at_recall_10`` / ``_25`` / ``_50`` (best precision
    of a threshold reaching that recall), and for the method's own warning
    (rules: any level; learned: any level; P(alive) below 0.5; everyone)
    ``warned``, ``precision`` and ``recall``."""

    by_cut_off: pd.DataFrame = attrs.field(eq=False, validator=_FRAME)
    """The same per (cut-off, method)."""

    levels: pd.DataFrame = attrs.field(eq=False, validator=_FRAME)
    """Per (method, level) for the rules and the learned model: ``warned``,
    ``precision``, ``recall``, ``too_soon`` (warned customers who churned within
    ``lead_days``: right about churn, too late to act), ``median_lead_days``."""

    deciles: pd.DataFrame = attrs.field(eq=False, validator=_FRAME)
    """Per (method, decile of the score; 1 = highest): ``customers``, ``churners``,
    ``precision``, ``cumulative_recall``, ``lift`` (precision over the base rate)
    and ``cumulative_lift``. Ties are broken by customer order, so deciles of the
    rules (four distinct scores) are arbitrary within a level."""

    calibration: pd.DataFrame = attrs.field(eq=False, validator=_FRAME)
    """Per (method, probability bin) for the methods giving a probability:
    ``customers``, ``mean_predicted``, ``observed`` (share churning in the window)."""

    lead_times: pd.DataFrame = attrs.field(eq=False, validator=_FRAME)
    """Per method: days from the cut-off to the churn of the warned customers who
    churned within ``horizon_days`` (quantiles ``q10`` ... ``q90``), and
    ``share_too_soon`` (before ``lead_days``)."""

    by_rule: pd.DataFrame = attrs.field(eq=False, validator=_FRAME)
    """Per rule of the rule set (its condition alone, whatever higher rules say) and
    per signal: ``level`` (the rule's; "" for a signal), ``warned``,
    ``share_warned`` (of the active customer-dates), ``precision``, ``recall``,
    ``auc`` (its firing alone as the score), ``auc_contribution`` (rules only: the
    AUC of the rules' levels minus their AUC with this rule left out; NaN for a
    signal), ``share_too_soon`` (of the warned churners, those who churned within
    ``lead_days``) and ``median_lead_days`` (days to churn of warned churners)."""

    models: tuple[LearnedWarning, ...] = attrs.field(converter=_models, eq=False)
    """The learned model fitted for each cut-off (same order as ``cut_offs``)."""

    def to_frame(self) -> pd.DataFrame:
        """Return the comparison table (a copy)."""
        return self.comparison.copy()

    def __repr__(self) -> str:
        head = (
            f"ChurnBacktest(cut_offs={list(self.cut_offs)}, churn {self.lead_days}-"
            f"{self.horizon_days} days ahead)\n"
        )
        columns = [
            "customers",
            "churners",
            "auc",
            "average_precision",
            "brier",
            "precision",
            "recall",
        ]
        return head + self.comparison[columns].round(3).to_string()

    def _repr_html_(self) -> str:
        return html_block(
            "ChurnBacktest",
            facts=[
                ("cut-offs", ", ".join(self.cut_offs)),
                (
                    "churn counted",
                    f"{self.lead_days} to {self.horizon_days} days after the cut-off",
                ),
                ("churn criterion", f"no purchase for {self.inactive_days} days"),
            ],
            tables=[
                ("comparison", self.comparison),
                ("levels", self.levels),
                ("lead times of warned churners (days)", self.lead_times),
            ],
        )


def _check_settings(
    fitter: LearnedWarningFitter | None, rules: EarlyWarning | None, as_of: object, n_bins: object
) -> tuple[LearnedWarningFitter, EarlyWarning, list[pd.Timestamp]]:
    chosen = LearnedWarningFitter() if fitter is None else fitter
    warning = EarlyWarning() if rules is None else rules
    check_param(
        chosen,
        InstanceOf(LearnedWarningFitter, "a LearnedWarningFitter"),
        name="fitter",
        owner=_OWNER,
    )
    check_param(warning, InstanceOf(EarlyWarning, "an EarlyWarning"), name="rules", owner=_OWNER)
    if isinstance(as_of, (str, bytes, pd.Timestamp)) or not isinstance(as_of, Iterable):
        raise InvalidParameterError.for_value(
            name="as_of", owner=_OWNER, allowed="a sequence of dates", got=as_of
        )
    dates = [as_timestamp(d, name="as_of", owner=_OWNER) for d in as_of]
    if not dates:
        raise InvalidParameterError.for_value(
            name="as_of", owner=_OWNER, allowed="a non-empty sequence of dates", got=[]
        )
    check_param(n_bins, Interval(Integral, 1, None, closed="left"), name="n_bins", owner=_OWNER)
    return chosen, warning, dates


def _cut_off_days(
    dates: Sequence[pd.Timestamp], history: LogHistory, first_day: int, fitter: LearnedWarningFitter
) -> list[int]:
    """Day numbers of the cut-offs; those censored or without training history raise."""
    days = []
    horizon = fitter.horizon_days
    for d in dates:
        day = int(np.datetime64(d.tz_localize(None).normalize(), "D").astype(np.int64))
        if day + horizon > history.end_day:
            latest = np.datetime64(history.end_day - horizon, "D")
            raise InvalidParameterError(
                f"{_OWNER}: the outcome window of cut-off {d.date()} runs {horizon} days, past "
                f"the end of the data ({np.datetime64(history.end_day, 'D')}): every customer "
                f"would be censored. The latest usable cut-off is {latest}."
            )
        oldest = day - horizon - (fitter.n_windows - 1) * fitter.window_step_days
        if oldest < first_day:
            raise InvalidParameterError(
                f"{_OWNER}: cut-off {d.date()} needs training windows back to "
                f"{np.datetime64(oldest, 'D')}, before the first event "
                f"({np.datetime64(first_day, 'D')}). Use a later cut-off or fewer windows."
            )
        days.append(day)
    return days


def _score_cut_off(
    fitter: LearnedWarningFitter,
    warning: EarlyWarning,
    history: LogHistory,
    day: int,
    *,
    cache: dict[tuple[int, bool, tuple[str, ...]], Any],
    truth: FloatArray | None,
) -> tuple[
    LearnedWarning,
    FloatArray,
    FloatArray,
    dict[str, Scores],
    dict[tuple[str, str], BoolArray],
    dict[str, Int8Array],
]:
    """Fit on the past of ``day``, score every method, read the outcomes after it.

    With ``truth`` (a churn day per customer, NaN for none), customers who truly
    churned on or before ``day`` leave the population and the outcome is the true
    churn day; otherwise it is the documented criterion read from later purchases.
    """
    model = fitter.fit_history(history, day, cache=cache)
    measured = fitter._cached(history, day, model.signals, cache)
    cut = measured.cut
    active = cut.active
    if truth is not None:
        active = active & ~(truth <= day)
        churn_day = truth
    else:
        churn_day = cut.churn_day
    ahead = (churn_day - day)[active]
    with np.errstate(invalid="ignore"):
        y = ((ahead >= fitter.lead_days) & (ahead <= fitter.horizon_days)).astype(np.float64)
        ahead = np.where(ahead <= fitter.horizon_days, ahead, np.inf)

    context = history.context(day, as_of=pd.Timestamp(np.datetime64(day, "D")))
    fired = {s.name: np.asarray(s.compute(context).fired, dtype=bool) for s in warning.signals}
    levels = warning.assign_levels(pd.DataFrame(fired))["level"].cat.codes.to_numpy()
    rule_levels = levels[active].astype(np.int8)
    groups = warning.groups
    n = active.size
    holds = [r.when.holds(fired, groups, n)[active] for r in warning.rules]
    parts: dict[tuple[str, str], BoolArray] = {
        (f"rule {r.name}", r.level): h for r, h in zip(warning.rules, holds, strict=True)
    }
    parts.update({(f"signal {name}", ""): f[active] for name, f in fired.items()})
    codes = [
        np.where(h, LEVELS.index(r.level), 0).astype(np.int8)
        for r, h in zip(warning.rules, holds, strict=True)
    ]
    without: dict[str, Int8Array] = {}
    for i, rule in enumerate(warning.rules):
        rest = np.zeros(y.size, dtype=np.int8)
        for j, c in enumerate(codes):
            if j != i:
                np.maximum(rest, c, out=rest)
        without[f"rule {rule.name}"] = rest
    scores = {
        "rules": Scores(
            score=rule_levels.astype(np.float64),
            probability=None,
            warned=rule_levels > 0,
            levels=rule_levels,
        )
    }
    proba, _ = model._score(measured, active)
    learned_levels = probability_levels(proba, model.levels)
    scores["learned"] = Scores(
        score=proba, probability=proba, warned=learned_levels > 0, levels=learned_levels
    )
    if "p_alive" in measured.features:
        dead = 1 - measured.features["p_alive"][active]
        scores["1 - P(alive)"] = Scores(score=dead, probability=dead, warned=dead > 0.5)
    everyone = np.ones(y.size)
    scores["warn everyone"] = Scores(score=everyone, probability=everyone, warned=everyone > 0)
    return model, y, ahead, scores, parts, without


def evaluate_backtest(
    events: pd.DataFrame,
    *,
    as_of: Sequence[Any],
    fitter: LearnedWarningFitter | None = None,
    rules: EarlyWarning | None = None,
    churn_dates: pd.Series[Any] | None = None,
    end: Any = None,
    n_bins: int = 10,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    kind_col: str = "kind",
    value_col: str = "value",
    event_id_col: str = "event_id",
    extra_kinds: Collection[str] = (),
    progress: Callable[[float], None] | bool | None = None,
) -> ChurnBacktest:
    """Compare rules, the learned model, 1 - P(alive) and "warn everyone" on past cut-offs.

    At each cut-off ``c`` of ``as_of``:

    - the population is the customers *active* at ``c`` (a purchase less than
      ``inactive_days`` days before ``c``'s day): the others have churned already;
    - a customer is a churner when, by the documented criterion (no purchase for
      ``inactive_days`` days, see :func:`observed_churn_dates`), they churn
      ``lead_days`` to ``horizon_days`` days after ``c``, read from the purchases
      after ``c``; churning sooner is *not* counted as a hit (a warning must give
      ``lead_days`` of notice);
    - the rules and the learned model see only events up to ``c``'s day (the
      learned model is trained by ``fitter`` on cut-offs ``horizon_days``,
      ``horizon_days + window_step_days``, ... before ``c``, whose outcomes are
      known by ``c``); P(alive) comes from BG/NBD fitted on purchases up to ``c``.

    Parameters
    ----------
    events : pandas.DataFrame
        The whole event log. Not modified.
    as_of : sequence of date-like
        The cut-offs. Each needs ``horizon_days`` of data after it: a cut-off whose
        outcome window runs past ``end`` would censor every customer and is
        rejected.
    fitter : LearnedWarningFitter, optional
        Settings of the learned model; its ``lead_days``, ``horizon_days`` and
        ``inactive_days`` define the outcome for every method. Defaults to
        ``LearnedWarningFitter()``.
    rules : EarlyWarning, optional
        The rule-based warning; defaults to ``EarlyWarning()``.
    churn_dates : pandas.Series, optional
        Known churn dates per customer (NaT or absent: did not churn), e.g. a
        synthetic book's truth. When given, they replace the documented criterion
        as the outcome, and customers who churned on or before a cut-off leave its
        population. The learned model still learns from the criterion (a real book
        has nothing else), so this measures how well it predicts *true* churn.
    end : date-like, optional
        Last day the log covers; defaults to the day of its latest event.
    n_bins : int, default 10
        Bins of the calibration table.
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
    progress : callable or bool, optional
        Called with the fraction of cut-offs done (0.0 first, 1.0 last).
        ``True`` draws a tqdm bar instead (the ``progress`` extra).

    Returns
    -------
    ChurnBacktest

    Raises
    ------
    InvalidParameterError
        No cut-off, or one whose outcome window runs past ``end``, or a cut-off
        without ``n_windows`` training windows inside the log.
    ColumnNotFoundError, InvalidDataError
        The log breaks the contract (see :meth:`EarlyWarning.predict`).

    Notes
    -----
    Plain accuracy is never reported: warning nobody scores ``1 - base rate``. The
    AUC and average precision rank customers without any threshold; the rules'
    score is the level (0 none to 3 red), so their AUC counts ties as halves.

    Examples
    --------
    >>> from crmscore.datasets import make_events
    >>> book = make_events(3_000, seed=21)
    >>> result = evaluate_backtest(book.events, as_of=["2025-06-30", "2025-08-31"],
    ...                            fitter=LearnedWarningFitter(n_windows=2))
    >>> list(result.to_frame().index)
    ['rules', 'learned', '1 - P(alive)', 'warn everyone']
    >>> float(result.to_frame().loc["warn everyone", "auc"])
    0.5
    """
    chosen, warning, dates = _check_settings(fitter, rules, as_of, n_bins)
    if end is None:
        if timestamp_col not in events.columns:
            end = dates[-1]  # validate_events names the missing column
        else:
            end = pd.to_datetime(events[timestamp_col]).max()
    validated = validate_events(
        events,
        as_of=end,
        owner=_OWNER,
        customer_col=customer_col,
        timestamp_col=timestamp_col,
        kind_col=kind_col,
        value_col=value_col,
        event_id_col=event_id_col,
        extra_kinds=extra_kinds,
    )
    history = LogHistory(validated, inactive_days=chosen.inactive_days)
    days = _cut_off_days(dates, history, int(validated.days.min()), chosen)
    truth = None if churn_dates is None else churn_day_numbers(churn_dates, history.customers)

    reporter = ProgressReporter(progress, owner=_OWNER)
    reporter.report(0.0)
    cache: dict[tuple[int, bool, tuple[str, ...]], Any] = {}
    pooled: dict[str, list[tuple[FloatArray, FloatArray, Scores]]] = {m: [] for m in METHODS}
    per_cut: list[dict[str, Any]] = []
    models = []
    outcomes: list[tuple[FloatArray, FloatArray]] = []
    rule_parts: dict[tuple[str, str], list[BoolArray]] = {}
    rule_without: dict[str, list[npt.NDArray[np.int8]]] = {}
    rule_levels: list[npt.NDArray[np.int8]] = []
    for done, (stamp, day) in enumerate(zip(dates, days, strict=True), start=1):
        model, y, ahead, scores, parts, without = _score_cut_off(
            chosen, warning, history, day, cache=cache, truth=truth
        )
        models.append(model)
        outcomes.append((y, ahead))
        for key, hit in parts.items():
            rule_parts.setdefault(key, []).append(hit)
        for rule_name, rest in without.items():
            rule_without.setdefault(rule_name, []).append(rest)
        if scores["rules"].levels is not None:
            rule_levels.append(scores["rules"].levels)
        for method, scored in scores.items():
            pooled[method].append((y, ahead, scored))
            per_cut.append({"as_of": str(stamp.date()), "method": method, **summary_row(y, scored)})
        reporter.report(done / len(dates))
    tables = pooled_tables(pooled, lead=chosen.lead_days, n_bins=n_bins)
    tables["by_rule"] = rule_table(
        rule_parts, outcomes, lead=chosen.lead_days, levels=rule_levels, without=rule_without
    )
    return ChurnBacktest(
        cut_offs=[str(d.date()) for d in dates],
        lead_days=chosen.lead_days,
        horizon_days=chosen.horizon_days,
        inactive_days=chosen.inactive_days,
        by_cut_off=pd.DataFrame(per_cut).set_index(["as_of", "method"]),
        **tables,
        models=models,
    )
