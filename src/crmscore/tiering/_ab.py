"""A/B comparison of tier schemes: seeded-hash arms, outcomes, intervals and tests.

The grading policy validates a tiering "by A/B comparison (e.g. retention of
high-value customers under two schemes)". Customers are split into arms by a seeded
hash of their id (an arm never changes when customers are added); each arm is graded
and managed under its own scheme for a period; then the arms' outcomes are compared:
retention of the customers each scheme calls high-value (two-proportion z-test),
revenue per customer (seeded bootstrap) and tier stability (two-proportion z-test).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd
from scipy import special

from crmscore._display import html_block
from crmscore._events import validate_events
from crmscore._ids import canonical_ids, hash_ids, repeated_ids
from crmscore._periods import to_periods
from crmscore._serialise import reads
from crmscore._validation import (
    Interval,
    as_timestamp,
    check_integer,
    check_number,
    reject_ids,
)
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    import numpy.typing as npt

__all__ = ["SchemeComparison", "assign_arms", "compare_schemes"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SEED = Interval(Integral, 0, None, closed="left")
_RESAMPLES = Interval(Integral, 100, None, closed="left")
_CONFIDENCE = Interval(Real, 0.5, 1, closed="left")
_EVENT_COLUMNS = frozenset(
    {"customer_col", "timestamp_col", "kind_col", "value_col", "event_id_col", "extra_kinds"}
)


def _mix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser: every input bit reaches every output bit."""
    z = values.copy()
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def assign_arms(
    ids: Any,
    *,
    arms: Sequence[str] = ("A", "B"),
    shares: Sequence[float] | None = None,
    seed: int = 0,
) -> pd.Series[Any]:
    """Assign customers to arms by a seeded hash of their id.

    A customer's arm depends only on its id and ``seed``: adding, removing or
    reordering other customers never moves it, so an experiment can run on a growing
    book. Ids are read as everywhere else in the package: an integer is one id
    whatever its spelling (``7``, ``np.int64(7)``, ``7.0``), a string is another
    (``"7"`` is not ``7``).

    Parameters
    ----------
    ids : array-like or pandas.Index
        Customer ids (unique).
    arms : sequence of str, default ("A", "B")
        Arm names, at least two, unique.
    shares : sequence of float, optional
        Share of customers per arm (positive, summing to 1); equal by default.
    seed : int, default 0
        Changes every assignment; the same seed gives the same arms.

    Returns
    -------
    pandas.Series
        The arm of each customer (categorical over ``arms``), indexed by the ids.

    Notes
    -----
    The canonical id is hashed with :func:`pandas.util.hash_array` (an integer as an
    int64, a string as itself; stable across platforms), offset by ``seed`` times the
    golden-ratio constant and mixed with SplitMix64's finaliser; the top 53 bits give
    a uniform number in [0, 1), cut at the cumulative shares.

    Examples
    --------
    >>> arms = assign_arms(range(1, 9), seed=7)
    >>> arms.tolist()
    ['A', 'B', 'B', 'A', 'B', 'B', 'A', 'B']
    >>> bool((assign_arms(range(1, 1001), seed=7).iloc[:8] == arms).all())
    True
    """
    owner = "assign_arms"
    index = ids if isinstance(ids, pd.Index) else pd.Index(ids)
    names = list(arms)
    if len(names) < 2 or len(set(names)) != len(names):
        raise InvalidParameterError.for_value(
            name="arms", owner=owner, allowed="two or more distinct names", got=arms
        )
    weights = np.full(len(names), 1.0 / len(names)) if shares is None else np.asarray(shares, float)
    if (
        weights.shape != (len(names),)
        or not np.isfinite(weights).all()
        or (weights <= 0).any()
        or not math.isclose(float(weights.sum()), 1.0, rel_tol=1e-9)
    ):
        raise InvalidParameterError.for_value(
            name="shares",
            owner=owner,
            allowed=f"{len(names)} positive numbers summing to 1",
            got=shares,
        )
    check_integer(seed, _SEED, name="seed", owner=owner)
    canonical = canonical_ids(index, column=None)
    repeated = repeated_ids(canonical)
    if repeated.any():
        raise InvalidParameterError(f"{owner}: ids repeat, first {index[repeated][:5].tolist()}.")
    with np.errstate(over="ignore"):
        hashed = hash_ids(canonical)
        offset = np.uint64(int(seed) % 2**64) * _GOLDEN
        uniform = (_mix(hashed + offset) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    cuts = np.cumsum(weights)[:-1]
    codes = np.searchsorted(cuts, uniform, side="right")
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=pd.Index(names)), index=index, name="arm"
    )


def _normal_quantile(confidence: float) -> float:
    return float(-special.ndtri((1.0 - confidence) / 2.0))


def _two_sided_p(z: float) -> float:
    return float(2.0 * special.ndtr(-abs(z))) if math.isfinite(z) else float("nan")


def _proportion(successes: int, n: int, q: float) -> tuple[float, float, float]:
    """Share and its Wilson score interval (NaN without observations)."""
    if n == 0:
        return (math.nan, math.nan, math.nan)
    p = successes / n
    centre = (p + q * q / (2 * n)) / (1 + q * q / n)
    half = q * math.sqrt(p * (1 - p) / n + q * q / (4 * n * n)) / (1 + q * q / n)
    return (p, centre - half, centre + half)


def _two_proportions(
    x1: int, n1: int, x0: int, n0: int, q: float
) -> tuple[float, float, float, float, float]:
    """Difference p1 - p0, Newcombe's interval, the pooled z statistic and its p-value."""
    if n1 == 0 or n0 == 0:
        return (math.nan,) * 5
    p1, low1, high1 = _proportion(x1, n1, q)
    p0, low0, high0 = _proportion(x0, n0, q)
    diff = p1 - p0
    low = diff - math.sqrt((p1 - low1) ** 2 + (high0 - p0) ** 2)
    high = diff + math.sqrt((high1 - p1) ** 2 + (p0 - low0) ** 2)
    pooled = (x1 + x0) / (n1 + n0)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    if se_pooled == 0:  # every customer of both arms in the same state
        return (diff, low, high, 0.0, 1.0)
    z = diff / se_pooled
    return (diff, low, high, z, _two_sided_p(z))


def _bootstrap_means(
    values: npt.NDArray[np.float64], n_resamples: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Means of ``n_resamples`` resamples with replacement, in chunks of bounded memory."""
    n = values.size
    out = np.empty(n_resamples)
    if n == 0:
        out.fill(np.nan)
        return out
    chunk = max(1, min(n_resamples, 2_000_000 // n))
    for begin in range(0, n_resamples, chunk):  # over resamples, never over customers
        stop = min(begin + chunk, n_resamples)
        picks = rng.integers(0, n, size=(stop - begin, n))
        out[begin:stop] = values[picks].mean(axis=1)
    return out


@attrs.frozen(kw_only=True, eq=False)
class SchemeComparison:
    """The outcome of an A/B comparison of tier schemes (one value, with an HTML repr).

    ``arms`` has one row per arm; ``tests`` one row per (arm, outcome) against the
    control arm. Built by :func:`compare_schemes`.
    """

    arms: pd.DataFrame
    """Per arm: ``customers``, ``high_value`` and ``high_value_retained`` (customers
    the arm's scheme calls high-value at the start, and those active in the period),
    ``retention`` with its Wilson interval (``retention_low``, ``retention_high``),
    ``revenue`` (total), ``revenue_per_customer`` with its bootstrap interval, and
    ``stable`` / ``stability`` with its interval (customers whose tier at the end is
    the tier at the start; NaN without end tiers)."""

    tests: pd.DataFrame
    """Per arm other than the control and per outcome (``retention``,
    ``revenue_per_customer``, ``stability``): ``difference`` (arm minus control),
    ``low``, ``high`` (its interval: Newcombe's for proportions, the bootstrap's
    for revenue), ``statistic`` (z; NaN for the bootstrap),
    ``p_value`` and ``method``."""

    control: str
    """The arm the others are compared with."""

    confidence: float
    """Level of every interval."""

    n_resamples: int
    """Bootstrap resamples for revenue."""

    seed: int
    """Seed of the bootstrap."""

    def __repr__(self) -> str:
        arms = ", ".join(
            f"{arm}: retention {row.retention:.3f}, revenue/customer {row.revenue_per_customer:.1f}"
            for arm, row in self.arms.iterrows()
        )
        return f"SchemeComparison(control={self.control!r}; {arms})"

    def _repr_html_(self) -> str:
        facts = [
            ("control arm", self.control),
            ("confidence", f"{self.confidence:.0%}"),
            ("bootstrap resamples", self.n_resamples),
            ("seed", self.seed),
        ]
        return html_block(
            "A/B comparison of tier schemes",
            facts=facts,
            tables=[("Arms", self.arms), ("Against the control", self.tests)],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "control": self.control,
            "confidence": self.confidence,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "arms": _frame_out(self.arms),
            "tests": _frame_out(self.tests.reset_index()),
        }

    @classmethod
    @reads("arms", "tests", "control", "confidence", "n_resamples", "seed")
    def from_dict(cls, data: Mapping[str, Any]) -> SchemeComparison:
        """Inverse of :meth:`to_dict`."""
        arms = _frame_in(data["arms"]).set_index("arm")
        tests = _frame_in(data["tests"]).set_index(["arm", "outcome"])
        return cls(
            arms=arms,
            tests=tests,
            control=str(data["control"]),
            confidence=float(data["confidence"]),
            n_resamples=int(data["n_resamples"]),
            seed=int(data["seed"]),
        )


def _frame_out(frame: pd.DataFrame) -> dict[str, list[Any]]:
    flat = frame.reset_index() if frame.index.name is not None else frame
    return {
        str(c): [None if isinstance(v, float) and math.isnan(v) else v for v in flat[c].tolist()]
        for c in flat.columns
    }


def _frame_in(data: Mapping[str, list[Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        {c: [math.nan if v is None else v for v in values] for c, values in data.items()}
    )


def compare_schemes(
    events: pd.DataFrame,
    *,
    arms: pd.Series[Any],
    tiers: Mapping[str, pd.Series[Any]],
    high_value: Mapping[str, Collection[str]] | Collection[str],
    start: Any,
    end: Any,
    later_tiers: Mapping[str, pd.Series[Any]] | None = None,
    control: str | None = None,
    active_kinds: Collection[str] = ("purchase",),
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    **event_columns: Any,
) -> SchemeComparison:
    """Compare tier schemes run on the arms of one book over a period.

    Parameters
    ----------
    events : pandas.DataFrame
        The event log (purchases give revenue; ``active_kinds`` retention).
    arms : pandas.Series
        The arm of each customer in the experiment (:func:`assign_arms`).
    tiers : mapping of arm to pandas.Series
        Each arm's scheme's tier per customer at ``start`` (score the whole book with
        every scheme; each arm reads its own customers).
    high_value : collection of str, or mapping of arm to collection of str
        The tiers that count as high-value (the same for every arm, or per arm).
    start, end : date-like
        The period: the days after ``start`` up to and including ``end``.
    later_tiers : mapping of arm to pandas.Series, optional
        Each arm's tiers at ``end``, for tier stability.
    control : str, optional
        The arm the others are compared with; the first of ``tiers`` by default.
    active_kinds : collection of str, default ("purchase",)
        Event kinds that make a customer retained.
    confidence : float, default 0.95
        Level of the intervals.
    n_resamples : int, default 2000
        Bootstrap resamples for revenue per customer.
    seed : int, default 0
        Seed of the bootstrap (same seed, same intervals).
    **event_columns
        ``customer_col``, ``timestamp_col``, ``kind_col``, ``value_col``,
        ``event_id_col`` or ``extra_kinds`` of the log.

    Returns
    -------
    SchemeComparison

    Notes
    -----
    Retention and stability: Wilson score intervals per arm; the difference with
    Newcombe's hybrid score interval (his method 10, built from the two Wilson
    intervals) and the pooled two-proportion z-test (the same p-value as a
    chi-square test of the 2 x 2 table without continuity correction). Revenue per
    customer: percentile bootstrap of each arm's mean and of the difference, arms
    resampled independently; the p-value is twice the smaller share of bootstrap
    differences on either side of 0 (at least ``1 / n_resamples``).

    References
    ----------
    R. G. Newcombe (1998), Interval estimation for the difference between independent
    proportions: comparison of eleven methods, *Statistics in Medicine* 17, 873-890.
    E. B. Wilson (1927), Probable inference, the law of succession, and statistical
    inference, *JASA* 22, 209-212.

    Examples
    --------
    >>> import crmscore as cs
    >>> book = cs.make_events(2_000, seed=3)
    >>> start = pd.Timestamp("2025-06-30")
    >>> indicators = cs.event_indicators(book.events, as_of=start)
    >>> arms = assign_arms(indicators.index, arms=["A", "B"], seed=1)
    >>> by_spend = cs.membership_levels().score(indicators)["tier_key"]
    >>> by_activity = cs.activity_levels().score(indicators)["tier_key"]
    >>> result = compare_schemes(
    ...     book.events, arms=arms, tiers={"A": by_spend, "B": by_activity},
    ...     high_value={"A": ["platinum", "gold"], "B": ["highly_active"]},
    ...     start=start, end="2025-12-31", n_resamples=500, seed=2)
    >>> result.arms[["customers", "high_value", "retention"]].round(3)
         customers  high_value  retention
    arm
    A          993          50      0.920
    B         1007         433      0.827
    >>> retention = result.tests.loc[("B", "retention")]
    >>> retention[["difference", "low", "high", "p_value"]].astype(float).round(3).tolist()
    [-0.093, -0.155, 0.02, 0.092]
    """
    owner = "compare_schemes"
    q = _check_confidence(confidence, owner)
    check_integer(n_resamples, _RESAMPLES, name="n_resamples", owner=owner)
    check_integer(seed, _SEED, name="seed", owner=owner)
    arm_names = list(tiers)
    if len(arm_names) < 2:
        raise InvalidParameterError(f"{owner}: tiers needs two or more arms; got {arm_names}.")
    chosen = arm_names[0] if control is None else control
    if chosen not in arm_names:
        raise InvalidParameterError(f"{owner}: control {chosen!r} is not an arm of {arm_names}.")
    unknown = sorted(set(arms.astype(object).dropna().unique()) - set(arm_names), key=str)
    if unknown:
        raise InvalidParameterError(
            f"{owner}: arms holds arm(s) {unknown} without tiers; tiers has {arm_names}."
        )
    top = _high_value_tiers(high_value, arm_names, owner=owner)
    unknown_columns = sorted(set(event_columns) - _EVENT_COLUMNS)
    if unknown_columns:
        raise InvalidParameterError(
            f"{owner} got unexpected keyword argument(s) {unknown_columns}."
        )
    start_day, end_day = _day(start, "start", owner), _day(end, "end", owner)
    if end_day <= start_day:
        raise InvalidParameterError(f"{owner}: end must be after start; got {start} and {end}.")
    customers = arms.index
    revenue, active = _outcomes(
        events, customers, start_day=start_day, end=end, kinds=active_kinds,
        owner=owner, columns=event_columns,
    )  # fmt: skip
    rng = np.random.default_rng(int(seed))
    rows: list[dict[str, Any]] = []
    boot: dict[str, npt.NDArray[np.float64]] = {}
    for arm in arm_names:
        inside = (arms == arm).to_numpy()
        members = customers[inside]
        start_tiers = _aligned(tiers[arm], members, name=f"tiers[{arm!r}]", owner=owner)
        high = start_tiers.isin(list(top[arm])).to_numpy()
        kept = int((high & active[inside]).sum())
        retention = _proportion(kept, int(high.sum()), q)
        money = revenue[inside]
        boot[arm] = _bootstrap_means(money, int(n_resamples), rng)
        low, upper = np.nanquantile(boot[arm], [(1 - confidence) / 2, (1 + confidence) / 2])
        stable_n, stability = 0, (math.nan, math.nan, math.nan)
        if later_tiers is not None and arm in later_tiers:
            after = _aligned(later_tiers[arm], members, name=f"later_tiers[{arm!r}]", owner=owner)
            same = after.astype(object).to_numpy() == start_tiers.astype(object).to_numpy()
            stable_n = int(same.sum())
            stability = _proportion(stable_n, int(inside.sum()), q)
        rows.append(
            {
                "arm": arm,
                "customers": int(inside.sum()),
                "high_value": int(high.sum()),
                "high_value_retained": kept,
                "retention": retention[0],
                "retention_low": retention[1],
                "retention_high": retention[2],
                "revenue": float(money.sum()),
                "revenue_per_customer": float(money.mean()) if money.size else math.nan,
                "revenue_low": float(low),
                "revenue_high": float(upper),
                "stable": stable_n,
                "stability": stability[0],
                "stability_low": stability[1],
                "stability_high": stability[2],
            }
        )
    summary = pd.DataFrame(rows).set_index("arm")
    tests = _tests(summary, boot, control=chosen, q=q, confidence=confidence)
    return SchemeComparison(
        arms=summary,
        tests=tests,
        control=chosen,
        confidence=float(confidence),
        n_resamples=int(n_resamples),
        seed=int(seed),
    )


def _high_value_tiers(
    high_value: Mapping[str, Collection[str]] | Collection[str],
    arm_names: Sequence[str],
    *,
    owner: str,
) -> dict[str, set[str]]:
    if isinstance(high_value, str):
        return {arm: {high_value} for arm in arm_names}
    if isinstance(high_value, Mapping):
        missing = [a for a in arm_names if a not in high_value]
        if missing:
            raise InvalidParameterError(
                f"{owner}: high_value names no high-value tiers for arm(s) {missing}."
            )
        return {a: set(high_value[a]) for a in arm_names}
    return {arm: set(high_value) for arm in arm_names}


def _check_confidence(confidence: float, owner: str) -> float:
    return _normal_quantile(check_number(confidence, _CONFIDENCE, name="confidence", owner=owner))


def _day(value: object, name: str, owner: str) -> int:
    stamp = as_timestamp(value, name=name, owner=owner)
    return int(to_periods(np.array([stamp.to_datetime64()], dtype="datetime64[ns]"), "D")[0])


def _aligned(
    values: pd.Series[Any], members: pd.Index[Any], *, name: str, owner: str
) -> pd.Series[Any]:
    if not isinstance(values, pd.Series):
        raise InvalidParameterError.for_value(
            name=name, owner=owner, allowed="a pandas Series indexed by customer id", got=values
        )
    missing = ~members.isin(values.index)
    if missing.any():
        reject_ids(
            members,
            missing,
            column=name,
            problem="has no tier for these customers of the arm",
            hint="Score every customer of the arm with the arm's scheme.",
        )
    return values.reindex(members)


def _outcomes(
    events: pd.DataFrame,
    customers: pd.Index[Any],
    *,
    start_day: int,
    end: Any,
    kinds: Collection[str],
    owner: str,
    columns: Mapping[str, Any],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    log = validate_events(events, as_of=end, owner=owner, **columns)
    unknown = sorted(set(kinds) - set(log.kind_names))
    if unknown:
        raise InvalidParameterError(f"{owner}: active_kinds names unknown kind(s) {unknown}.")
    position = customers.get_indexer(log.customers)[log.codes]
    inside = (log.days > start_day) & (position >= 0)
    n = len(customers)
    take = inside & (log.kinds == log.kind_code("purchase"))
    amounts = np.nan_to_num(log.values[take])  # noqa: PD011 (an array field, not pandas)
    revenue = np.bincount(position[take], weights=amounts, minlength=n).astype(np.float64)
    active_mask = inside & np.isin(log.kinds, [log.kind_code(k) for k in kinds])
    return revenue, np.bincount(position[active_mask], minlength=n) > 0


def _tests(
    summary: pd.DataFrame,
    boot: Mapping[str, npt.NDArray[np.float64]],
    *,
    control: str,
    q: float,
    confidence: float,
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    base = summary.loc[control]
    counts: dict[Any, dict[Any, Any]] = summary[
        ["high_value_retained", "high_value", "stable", "customers"]
    ].to_dict("index")
    for arm, row in summary.iterrows():
        if arm == control:
            continue
        for outcome, x, n in (
            ("retention", "high_value_retained", "high_value"),
            ("stability", "stable", "customers"),
        ):
            if outcome == "stability" and math.isnan(float(row["stability"])):
                continue
            diff, low, high, z, p = _two_proportions(
                int(counts[arm][x]),
                int(counts[arm][n]),
                int(counts[control][x]),
                int(counts[control][n]),
                q,
            )
            rows.append(
                {"arm": arm, "outcome": outcome, "difference": diff, "low": low, "high": high,
                 "statistic": z, "p_value": p, "method": "two-proportion z-test"}
            )  # fmt: skip
        deltas = boot[str(arm)] - boot[control]
        below, above = float(np.mean(deltas <= 0)), float(np.mean(deltas >= 0))
        low, high = np.nanquantile(deltas, [(1 - confidence) / 2, (1 + confidence) / 2])
        rows.append(
            {
                "arm": arm,
                "outcome": "revenue_per_customer",
                "difference": float(row["revenue_per_customer"] - base["revenue_per_customer"]),
                "low": float(low),
                "high": float(high),
                "statistic": math.nan,
                "p_value": min(1.0, max(2 * min(below, above), 1 / deltas.size)),
                "method": "bootstrap",
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=["arm", "outcome", "difference", "low", "high", "statistic", "p_value", "method"],
    )
    return frame.set_index(["arm", "outcome"])
