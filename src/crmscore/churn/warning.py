"""The early-warning scorer and the level-dependent response map."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np
import pandas as pd

from crmscore._display import html_block, short_repr
from crmscore._events import validate_events
from crmscore._progress import ProgressReporter
from crmscore._serialise import reads
from crmscore._validation import check_columns, check_frame
from crmscore.churn._context import EventContext
from crmscore.churn.rules import DEFAULT_RULES, LEVELS, Rule
from crmscore.churn.signals import (
    SIGNAL_GROUPS,
    WARNING_SIGNALS,
    AliveModel,
    ChurnSignal,
    signal_from_dict,
)
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    import numpy.typing as npt

__all__ = ["EarlyWarning"]


def _sequence(values: object, *, name: str, allowed: str) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise InvalidParameterError.for_value(
            name=name, owner="EarlyWarning", allowed=allowed, got=values
        )
    return tuple(values)


def _to_signals(values: Sequence[ChurnSignal] | None) -> tuple[ChurnSignal, ...]:
    # None (the default) stands for WARNING_SIGNALS: a sentinel keeps the nine
    # signals' long repr out of the signature help() shows.
    if values is None:
        return WARNING_SIGNALS
    return _sequence(values, name="signals", allowed="a sequence of ChurnSignal")


def _to_rules(values: Sequence[Rule] | None) -> tuple[Rule, ...]:
    if values is None:  # DEFAULT_RULES, as for the signals
        return DEFAULT_RULES
    return _sequence(values, name="rules", allowed="a sequence of Rule")


def _level_dtype() -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(LEVELS), ordered=True)


@attrs.frozen(kw_only=True)
class EarlyWarning:
    """Churn early warning: signals measured on an event log, rules that set levels.

    The defaults are the eight signals of the policy table with the policy's
    thresholds and the purchase lapse (:data:`~crmscore.churn.WARNING_SIGNALS`) and
    the default rules
    (:data:`~crmscore.churn.DEFAULT_RULES`). Nothing is fitted: a customer's
    level depends on that customer's events only.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b"],
    ...     "timestamp": pd.to_datetime(
    ...         ["2024-02-10", "2024-02-20", "2024-02-25", "2024-03-20", "2024-03-25"]),
    ...     "kind": ["purchase", "cart_abandoned", "cart_abandoned", "purchase", "interaction"],
    ...     "value": [120.0, None, None, 80.0, None],
    ... })
    >>> warnings = EarlyWarning().predict(events, as_of="2024-03-31")
    >>> warnings[["level", "rule", "n_signals"]]
                  level                      rule  n_signals
    customer_id
    a            yellow  disengaged_and_declining          3
    b              none                       NaN          0
    >>> print(EarlyWarning().explain(warnings).loc["a"])  # doctest: +NORMALIZE_WHITESPACE
    yellow (rule 'disengaged_and_declining'): no interaction for 35 days; 2 unpaid cart(s)
    in a row; no purchase for 50 days (the 90-day churn criterion is met in 40 days)
    """

    signals: tuple[ChurnSignal, ...] = attrs.field(default=None, converter=_to_signals)
    """The signals measured, each with its thresholds. ``None`` (the default) means
    :data:`~crmscore.churn.WARNING_SIGNALS` (the eight policy signals and the purchase
    lapse)."""

    rules: tuple[Rule, ...] = attrs.field(default=None, converter=_to_rules)
    """The rules; the highest level among those that hold is the customer's level.
    ``None`` (the default) means :data:`~crmscore.churn.DEFAULT_RULES`."""

    def __attrs_post_init__(self) -> None:
        owner = "EarlyWarning"
        if not all(isinstance(s, ChurnSignal) for s in self.signals):
            raise InvalidParameterError.for_value(
                name="signals", owner=owner, allowed="a sequence of ChurnSignal", got=self.signals
            )
        if not all(isinstance(r, Rule) for r in self.rules):
            raise InvalidParameterError.for_value(
                name="rules", owner=owner, allowed="a sequence of Rule", got=self.rules
            )
        for field, names in (
            ("signals", [s.name for s in self.signals]),
            ("rules", [r.name for r in self.rules]),
        ):
            repeated = sorted(k for k, v in Counter(names).items() if v > 1)
            if repeated:
                raise InvalidParameterError(f"{owner}: {field} repeat the names {repeated}.")
        known = {s.name for s in self.signals}
        for rule in self.rules:
            missing = sorted(rule.when.signal_names() - known)
            if missing:
                raise InvalidParameterError(
                    f"{owner}: rule {rule.name!r} refers to signals {missing} that are not "
                    f"among the signals {sorted(known)}."
                )

    def __repr__(self) -> str:
        # The names only: every signal's thresholds would take a page (to_dict has them).
        return short_repr(
            "EarlyWarning",
            [
                ("signals", ", ".join(s.name for s in self.signals)),
                ("rules", ", ".join(r.name for r in self.rules)),
            ],
        )

    def _repr_html_(self) -> str:
        signals = self.summary()
        if (signals["type"] == signals.index).all():
            signals = signals.drop(columns="type")  # the built-in signals: type == name
        rules = pd.DataFrame(
            {
                "level": [r.level for r in self.rules],
                "description": [r.description for r in self.rules],
            },
            index=pd.Index([r.name for r in self.rules], name="rule"),
        )
        return html_block(
            "EarlyWarning",
            facts=[
                ("signals", len(self.signals)),
                ("rules", len(self.rules)),
                ("levels", " < ".join(LEVELS)),
            ],
            tables=[("Signals", signals), ("Rules (highest level wins)", rules)],
        )

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        """Signal names per group (every group of ``SIGNAL_GROUPS``, maybe empty)."""
        return {g: tuple(s.name for s in self.signals if s.group == g) for g in SIGNAL_GROUPS}

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
        future: Literal["drop", "error"] = "drop",
        progress: Callable[[float], None] | bool | None = None,
    ) -> pd.DataFrame:
        """Measure every signal and set every customer's warning level.

        Parameters
        ----------
        events : pandas.DataFrame
            The event log (see the event contract in the churn guide): customer id,
            ``datetime64`` timestamp, ``kind``, optional numeric ``value`` (purchase
            amount, review rating 1-5) and optional ``event_id``. Not modified.
        as_of : date-like
            Evaluation date; every event on its calendar day counts.
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
        future : {"drop", "error"}, default "drop"
            Events after the day of ``as_of`` are left out, or rejected.
        progress : callable or bool, optional
            Called with the fraction done (0 to 1, increasing): after the log is
            checked and indexed, after each signal, and with 1.0 at the end.
            ``True`` draws a tqdm bar instead (the ``progress`` extra).

        Returns
        -------
        pandas.DataFrame
            One row per customer with an event on or before ``as_of``, indexed by
            customer id (sorted, index name ``customer_col``):

            ``level``
                Ordered categorical ``none < blue < yellow < red``.
            ``rule``
                Categorical: the rule that set the level (NaN when ``none``).
            ``signals``
                Categorical: the fired signals, comma-separated ("" when none).
            ``n_signals``
                Number of fired signals.
            ``<signal>``, ``<signal>_value``, ``<signal>_reference``
                Per signal: whether it fired, the measured value (NaN where the
                customer cannot be judged) and, for signals that compare with the
                customer's own baseline, that baseline.

            ``attrs`` holds ``as_of``.

        Raises
        ------
        ColumnNotFoundError, InvalidDataError, InvalidParameterError
            The event log breaks the contract (unknown kinds, null ids or
            timestamps, missing values where required, conflicting event ids,
            future events with ``future="error"``), or a parameter is invalid.
        """
        reporter = ProgressReporter(progress, owner="EarlyWarning.predict")
        reporter.report(0.0)
        validated = validate_events(
            events,
            as_of=as_of,
            owner="EarlyWarning.predict",
            customer_col=customer_col,
            timestamp_col=timestamp_col,
            kind_col=kind_col,
            value_col=value_col,
            event_id_col=event_id_col,
            extra_kinds=extra_kinds,
            future=future,
        )
        context = EventContext(validated)
        columns: dict[str, Any] = {}
        fired: dict[str, npt.NDArray[np.bool_]] = {}
        # The check and index of the log take about as long as two signals.
        steps = len(self.signals) + 3
        reporter.report(2 / steps)
        for done, signal in enumerate(self.signals, start=3):
            result = signal.compute(context)
            fired[signal.name] = np.asarray(result.fired, dtype=bool)
            columns[signal.name] = fired[signal.name]
            columns[f"{signal.name}_value"] = np.asarray(result.value, dtype=np.float64)
            if signal.has_reference:
                columns[f"{signal.name}_reference"] = np.asarray(result.reference, dtype=float)
            reporter.report(done / steps)
        head = self._levels(fired, validated.n_customers)
        frame = pd.DataFrame({**head, **columns}, index=validated.customers)
        frame.attrs = {"as_of": validated.as_of}
        reporter.done()
        return frame

    def assign_levels(self, fired: pd.DataFrame) -> pd.DataFrame:
        """Apply the rules to given fired signals (one boolean column per signal).

        Parameters
        ----------
        fired : pandas.DataFrame
            A boolean column named after each signal; other columns are ignored.

        Returns
        -------
        pandas.DataFrame
            ``level``, ``rule``, ``signals`` and ``n_signals``, indexed like ``fired``.

        Examples
        --------
        >>> import pandas as pd
        >>> names = [s.name for s in EarlyWarning().signals]
        >>> fired = pd.DataFrame(False, index=["x", "y"], columns=names)
        >>> fired.loc["y", ["complaint_rise", "interaction_stop", "spend_drop"]] = True
        >>> EarlyWarning().assign_levels(fired)["level"].tolist()
        ['none', 'red']
        """
        check_frame(fired, name="fired", owner="EarlyWarning.assign_levels")
        names = [s.name for s in self.signals]
        check_columns(fired, names, frame_name="fired")
        arrays = {}
        for name in names:
            column = fired[name]
            if not pd.api.types.is_bool_dtype(column.dtype):
                raise InvalidDataError(
                    f"Column {name!r} of fired must be boolean; got dtype {column.dtype}.",
                    column=name,
                )
            arrays[name] = column.to_numpy(dtype=bool)
        return pd.DataFrame(self._levels(arrays, len(fired)), index=fired.index)

    def _levels(self, fired: Mapping[str, npt.NDArray[np.bool_]], n: int) -> dict[str, Any]:
        groups = self.groups
        level = np.zeros(n, dtype=np.int8)
        rule = np.full(n, -1, dtype=np.int64)
        for number, r in enumerate(self.rules):
            code = LEVELS.index(r.level)
            better = r.when.holds(fired, groups, n) & (code > level)
            level[better] = code
            rule[better] = number
        names = list(fired)
        mask = np.zeros(n, dtype=np.int64)
        for bit, name in enumerate(names):
            mask |= fired[name].astype(np.int64) << bit
        combos, codes = np.unique(mask, return_inverse=True)
        labels = [", ".join(nm for b, nm in enumerate(names) if int(c) >> b & 1) for c in combos]
        signals = pd.Categorical.from_codes(codes.reshape(-1), categories=pd.Index(labels))
        counts = np.zeros(n, dtype=np.int64)
        for name in names:
            counts += fired[name]
        return {
            "level": pd.Categorical.from_codes(level, dtype=_level_dtype()),
            "rule": pd.Categorical.from_codes(
                rule, categories=pd.Index([r.name for r in self.rules])
            ),
            "signals": signals,
            "n_signals": counts,
        }

    def explain(
        self, warnings: pd.DataFrame, *, customers: Sequence[Any] | None = None
    ) -> pd.Series[str]:
        """One line per customer: the level, the rule that set it and each fired signal.

        Parameters
        ----------
        warnings : pandas.DataFrame
            The result of :meth:`predict` with these signals and rules.
        customers : sequence, optional
            Customer ids to explain; by default every customer with a warning.
            Meant for a handful of customers (an appeal, a report): it builds one
            string per customer.

        Returns
        -------
        pandas.Series
            Strings such as ``"red (rule 'x'): no interaction for 41 days; ..."``,
            indexed by customer id.

        Raises
        ------
        ColumnNotFoundError
            ``warnings`` lacks a column of these signals.
        InvalidDataError
            An id in ``customers`` is not in ``warnings``.
        """
        check_frame(warnings, name="warnings", owner="EarlyWarning.explain")
        needed = ["level", "rule"]
        for s in self.signals:
            needed += [s.name, f"{s.name}_value"] + ([f"{s.name}_reference"] * s.has_reference)
        check_columns(warnings, needed, frame_name="warnings")
        if customers is None:
            chosen = warnings[warnings["level"] != "none"]
        else:
            wanted = pd.Index(list(customers))
            absent = ~wanted.isin(warnings.index)
            if absent.any():
                raise InvalidDataError.for_ids(
                    column=None,
                    problem="is not in warnings",
                    ids=list(wanted[absent][:5]),
                    n_offending=int(absent.sum()),
                )
            chosen = warnings.loc[wanted]
        # One pass per signal over the customers it fired for (text is built per
        # fired value; no row-by-row walk over the frame).
        parts = np.full(len(chosen), "", dtype=object)
        for signal in self.signals:
            fired = chosen[signal.name].to_numpy(dtype=bool)
            if not fired.any():
                continue
            values = chosen[f"{signal.name}_value"].to_numpy(np.float64)[fired]
            references = (
                chosen[f"{signal.name}_reference"].to_numpy(np.float64)[fired]
                if signal.has_reference
                else np.full(values.size, np.nan)
            )
            texts = np.asarray(
                [signal.describe(v, r) for v, r in zip(values, references, strict=True)],
                dtype=object,
            )
            joined = parts[fired]
            parts[fired] = np.where(joined == "", texts, joined + "; " + texts)
        parts[parts == ""] = "no signal fired"
        rules = chosen["rule"]
        heads = chosen["level"].astype(str).to_numpy(dtype=object)
        named = rules.notna().to_numpy()
        heads[named] = (
            heads[named] + " (rule " + rules[named].map(repr).to_numpy(dtype=object) + ")"
        )
        return pd.Series(
            heads + ": " + parts,
            index=pd.Index(chosen.index, name=warnings.index.name),
            name="explanation",
            dtype=object,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (a P(alive) signal's model is left out)."""
        return {
            "signals": [s.to_dict() for s in self.signals],
            "rules": [r.to_dict() for r in self.rules],
        }

    @classmethod
    @reads("signals", "rules")
    def from_dict(cls, data: Mapping[str, Any], *, model: AliveModel | None = None) -> EarlyWarning:
        """Inverse of :meth:`to_dict`; ``model`` restores a P(alive) signal's model.

        Raises
        ------
        InvalidParameterError
            ``data`` is not a mapping, lacks ``signals`` or ``rules``, or holds an
            invalid signal or rule.
        """
        signals: tuple[Mapping[str, Any], ...] = _sequence(
            data["signals"], name="signals", allowed="a sequence of ChurnSignal"
        )
        rules: tuple[Mapping[str, Any], ...] = _sequence(
            data["rules"], name="rules", allowed="a sequence of Rule"
        )
        return cls(
            signals=[signal_from_dict(s, model=model) for s in signals],
            rules=[Rule.from_dict(r) for r in rules],
        )

    def summary(self) -> pd.DataFrame:
        """Tabulate the signals, their thresholds and the rules that use them (for notebooks).

        Returns
        -------
        pandas.DataFrame
            Indexed by signal name (in signal order): ``group``, ``type``,
            ``parameters`` (the thresholds as text, e.g. ``days=30, ...``) and
            ``used_by``: the rules that refer to the signal by name or through its
            group, each with its level, e.g. ``dissatisfied (yellow)`` ("" if none).

        Examples
        --------
        >>> from crmscore.churn import InteractionStop, Fired, Rule
        >>> warning = EarlyWarning(
        ...     signals=(InteractionStop(days=45),),
        ...     rules=(Rule(name="silent", level="blue", when=Fired(name="interaction_stop")),),
        ... )
        >>> warning.summary().loc["interaction_stop", ["group", "used_by"]].tolist()
        ['behaviour', 'silent (blue)']
        """
        rows = []
        for signal in self.signals:
            settings = {
                k: v for k, v in signal.to_dict().items() if k not in ("type", "name", "model")
            }
            used = [
                f"{r.name} ({r.level})"
                for r in self.rules
                if signal.name in r.when.signal_names() or signal.group in r.when.group_names()
            ]
            rows.append(
                {
                    "group": signal.group,
                    "type": signal.type_name,
                    "parameters": ", ".join(f"{k}={v!r}" for k, v in settings.items()),
                    "used_by": ", ".join(used),
                }
            )
        columns = ["group", "type", "parameters", "used_by"]
        return pd.DataFrame(
            rows, index=pd.Index([s.name for s in self.signals], name="signal"), columns=columns
        )
