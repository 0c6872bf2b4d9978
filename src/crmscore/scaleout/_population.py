"""Population statistics of a scorecard computed on Dask: no pandas sample."""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from crmscore._validation import indicator_column
from crmscore.errors import InvalidDataError, InvalidParameterError
from crmscore.scaleout._common import check_dask, require_columns
from crmscore.tiering import (
    FittedScorecard,
    FixedRange,
    LearnedScale,
    MinMax,
    PercentileRank,
    Scorecard,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import dask.dataframe as dd

    from crmscore.tiering import Indicator

__all__ = ["fit_scorecard_dask"]

_NAME = "the indicators frame"


def _present(part: pd.DataFrame, *, column: str, allow_missing: bool) -> pd.Series:
    """Check one partition's indicator column as ``Scorecard.fit`` does; keep known values."""
    values = indicator_column(part, column, allow_missing=allow_missing, frame_name=_NAME)
    values = np.asarray(values, dtype=np.float64)
    return pd.Series(values[~np.isnan(values)], name="value", dtype=np.float64)


_FLIP = np.int64(0x7FFFFFFFFFFFFFFF)
_BIG = int(np.iinfo(np.int64).max)
#: Each round of the search splits every bracket into this many parts.
_WAYS = 16

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def _keys(values: FloatArray) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Map floats to integers in the same order (their bits; a negative's flipped)."""
    bits = (values + 0.0).view(np.int64)  # + 0.0 turns -0.0 into 0.0
    return np.where(bits < 0, bits ^ _FLIP, bits)


#: Public within the package: the Spark twin maps its values the same way.
keys_of = _keys


def _floats(keys: list[int]) -> list[float]:
    """Invert :func:`_keys`."""
    bits = np.asarray(keys, dtype=np.int64)
    values: list[float] = np.where(bits < 0, bits ^ _FLIP, bits).view(np.float64).tolist()
    return values


def _sorted_keys(part: pd.DataFrame, *, readers: list[Any]) -> list[Any]:
    """Check and sort one partition's known values of each column, as integer keys."""
    return [np.sort(_keys(read(part).to_numpy())) for read in readers]


def _summary(part: list[Any]) -> list[tuple[int, int, int]]:
    """Count, smallest and largest key of each column of one partition."""
    return [(len(k), int(k[0]), int(k[-1])) if len(k) else (0, _BIG, -_BIG) for k in part]


def _merge_summaries(parts: list[list[tuple[int, int, int]]]) -> list[tuple[int, int, int]]:
    return [
        (sum(p[0] for p in column), min(p[1] for p in column), max(p[2] for p in column))
        for column in zip(*parts, strict=True)
    ]


def _counts(part: list[Any], pivots: tuple[Any, ...]) -> list[Any]:
    """Per column, how many of one partition's keys are at or below each pivot."""
    return [
        np.searchsorted(keys, column, side="right")
        for keys, column in zip(part, pivots, strict=True)
    ]


def _add(parts: list[list[Any]]) -> list[Any]:
    return [np.sum(column, axis=0) for column in zip(*parts, strict=True)]


def _moment(part: list[Any], column: int, low: float, high: float, centre: float) -> list[Any]:
    """Sum of (clipped value - centre) ** power for power 1 and 2, over one partition."""
    values = np.clip(np.asarray(_floats(part[column].tolist())), low, high) - centre
    return [np.array([values.sum(), (values**2).sum()])]


class OrderStatistics:
    """Exact order statistics of several distributed columns, without a sort across parts.

    The engine supplies the summary (count, smallest and largest key of each
    column: see :func:`keys`) and a ``count`` callback that says, per column, how
    many of its known values are at or below each pivot key, summed over the
    partitions. The k-th smallest value of a column is then the smallest v with at
    least k + 1 values <= v: a ``ways``-way search on the values' bits (16 ways
    by default: at most 16 rounds), each round one call of ``count``. All
    requested ranks of all columns share the rounds; only counts travel.
    ``moments`` sums a clipped column's first two moments about a centre (for a
    z-score).
    """

    def __init__(
        self,
        summary: list[tuple[int, int, int]],
        *,
        count: Callable[[tuple[np.ndarray[Any, np.dtype[np.int64]], ...]], list[Any]],
        moments: Callable[[int, float, float, float], tuple[float, float]],
        ways: int = _WAYS,
    ) -> None:
        self.count = count
        self.ways = ways
        self.moments = moments
        self.n = [count_ for count_, _, _ in summary]
        self.smallest = [_floats([low])[0] if n else math.nan for n, low, _ in summary]
        self.largest = [_floats([high])[0] if n else math.nan for n, _, high in summary]
        self._low = [low for _, low, _ in summary]
        self._high = [high for _, _, high in summary]

    def take(self, ranks: list[list[int]]) -> list[list[float]]:
        """Return, per column, the values at the 0-based ``ranks`` of its sorted values."""
        low = [[self._low[c]] * len(r) for c, r in enumerate(ranks)]
        high = [[self._high[c]] * len(r) for c, r in enumerate(ranks)]
        while any(
            a < b for ls, hs in zip(low, high, strict=True) for a, b in zip(ls, hs, strict=True)
        ):
            # ways - 1 pivots per bracket: at most 64 / log2(ways) rounds.
            ways = self.ways
            pivots = [
                [
                    a + (b - a) * j // ways
                    for a, b in zip(ls, hs, strict=True)
                    for j in range(1, ways)
                ]
                for ls, hs in zip(low, high, strict=True)
            ]
            # As arrays: dask looks for collections inside lists, element by element.
            counts = self.count(tuple(np.asarray(column, dtype=np.int64) for column in pivots))
            for c, column in enumerate(ranks):
                for i, rank in enumerate(column):
                    if low[c][i] == high[c][i]:
                        continue
                    tried = pivots[c][i * (ways - 1) : (i + 1) * (ways - 1)]
                    enough = counts[c][i * (ways - 1) : (i + 1) * (ways - 1)] >= rank + 1
                    for pivot, ok in zip(tried, enough.tolist(), strict=True):
                        if ok:
                            high[c][i] = pivot
                            break
                        low[c][i] = pivot + 1
        return [_floats(ls) for ls in low]


def _dask_statistics(frame: Any, readers: list[Any], *, split_every: int = 8) -> OrderStatistics:
    """Order statistics of a Dask frame: every partition sorts its keys once, on the workers."""
    from dask.base import persist  # noqa: PLC0415 (optional extra)
    from dask.delayed import delayed  # noqa: PLC0415

    parts = [delayed(_sorted_keys)(part, readers=readers) for part in frame.to_delayed()]
    (kept,) = persist(parts)  # type: ignore[no-untyped-call]

    def reduce(chunk: Any, combine: Any, *args: Any) -> Any:
        """Apply ``chunk`` to every partition and ``combine`` the results in a tree."""
        items = [delayed(chunk)(part, *args) for part in kept]
        while len(items) > 1:
            items = [
                delayed(combine)(items[i : i + split_every])
                for i in range(0, len(items), split_every)
            ]
        return items[0].compute()

    def moments(column: int, low: float, high: float, centre: float) -> tuple[float, float]:
        total, squares = reduce(_moment, _add, column, low, high, centre)[0]
        return float(total), float(squares)

    return OrderStatistics(
        reduce(_summary, _merge_summaries),
        count=functools.partial(reduce, _counts, _add),
        moments=moments,
    )


def _quantile_ranks(n: int, levels: FloatArray) -> tuple[list[int], list[float]]:
    """Return the two ranks ``np.quantile`` (linear) reads per level, and the fractions."""
    virtual = levels * (n - 1)
    below = np.floor(virtual).astype(np.int64)
    above = np.minimum(below + 1, n - 1)
    return [*below.tolist(), *above.tolist()], (virtual - below).tolist()


def _interpolate(values: list[float], fractions: list[float]) -> list[float]:
    """``np.quantile`` from the order statistics of :func:`_quantile_ranks`."""
    k = len(fractions)
    # numpy interpolates between the two order statistics with the fractional part
    # of the virtual index; on the pair alone it does exactly that again.
    return [
        float(np.quantile(np.array([a, b]), g))
        for a, b, g in zip(values[:k], values[k:], fractions, strict=True)
    ]


def _plan(indicator: Indicator, n: int, *, median: bool) -> list[tuple[str, list[int], Any]]:
    """List the order statistics one indicator needs: (purpose, ranks, fractions)."""
    rule = indicator.normaliser
    wanted: list[tuple[str, list[int], Any]] = []
    if isinstance(rule, PercentileRank):
        if n <= rule.n_knots:
            wanted.append(("knots", list(range(n)), None))
        else:
            ranks, fractions = _quantile_ranks(n, np.linspace(0.0, 1.0, rule.n_knots))
            wanted.append(("knots", ranks, fractions))
    elif not isinstance(rule, FixedRange) and rule.clip is not None:
        ranks, fractions = _quantile_ranks(n, np.asarray(rule.clip, dtype=np.float64))
        wanted.append(("clip", ranks, fractions))
    if median:
        wanted.append(("median", [(n - 1) // 2, n // 2], None))
    return wanted


def fit_scorecard_dask(frame: dd.DataFrame, *, scorecard: Scorecard) -> FittedScorecard:
    """Learn a scorecard's normalisation from a Dask table: :meth:`Scorecard.fit` on Dask.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
        One row per customer, indexed by customer id, with the indicator columns.
    scorecard : Scorecard
        The scorecard whose population statistics are learned.

    Returns
    -------
    FittedScorecard
        Learned from every customer of ``frame``, not a sample. Minima, maxima,
        quantile knots (percentile ranks, clip levels) and medians equal those of
        ``scorecard.fit`` on the whole table in pandas, bit for bit: the order
        statistics they are made of are found exactly on the cluster, and only
        they (and counts) reach the caller. A
        z-score's mean and standard deviation are sums over partitions, equal to
        the pandas values up to rounding (about 1e-15 relative).

    Raises
    ------
    InvalidParameterError
        ``frame`` is not a Dask DataFrame, or ``scorecard`` not a Scorecard.
    ColumnNotFoundError
        At once, if an indicator column is missing.
    InvalidDataError
        As :meth:`Scorecard.fit` (naming the first offending customers of the
        partition that has them): a non-numeric column, infinite values, missing
        values under ``missing="error"``, no values, an empty frame.

    Notes
    -----
    Ids repeated across partitions are not detected (``Scorecard.fit`` rejects a
    repeated id). Every partition sorts its own values once and keeps them; the
    k-th smallest value of a column is then found by a 16-way search on the values'
    bits (at most 16 rounds for all ranks of all columns together), each round
    counting per partition the values at or below a pivot. No shuffle, no sample.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> from crmscore import b2b_scorecard, make_b2b_indicators
    >>> indicators = make_b2b_indicators(400, seed=3)
    >>> lazy = dd.from_pandas(indicators, npartitions=4)
    >>> fitted = fit_scorecard_dask(lazy, scorecard=b2b_scorecard())
    >>> here = b2b_scorecard().fit(indicators)
    >>> [s.params for s in fitted.scales][0] == [s.params for s in here.scales][0]
    True
    """
    owner = "fit_scorecard_dask"
    frame = check_dask(frame, name="frame", owner=owner)
    if not isinstance(scorecard, Scorecard):
        raise InvalidParameterError.for_value(
            name="scorecard", owner=owner, allowed="a Scorecard", got=type(scorecard).__name__
        )
    require_columns(frame.columns, scorecard.columns, frame="frame")
    leaves = scorecard_leaves(scorecard)
    allow_missing = scorecard.missing != "error"
    readers = [
        functools.partial(_present, column=leaf.source, allow_missing=allow_missing)
        for leaf in leaves
    ]
    stats = _dask_statistics(frame, readers)
    return fit_population(scorecard, stats, n_customers=len(frame))


def scorecard_leaves(scorecard: Scorecard) -> list[Indicator]:
    """Return the indicators a scorecard normalises, in the order of its hierarchy's leaves."""
    by_name = {indicator.name: indicator for indicator in scorecard.indicators}
    return [by_name[leaf] for leaf in scorecard.hierarchy.indicators]


def fit_population(
    scorecard: Scorecard, stats: OrderStatistics, *, n_customers: int
) -> FittedScorecard:
    """Build the fitted scorecard from the order statistics of its leaves' columns.

    Shared by the engines: ``stats`` has one column per :func:`scorecard_leaves`.
    """
    leaves = scorecard_leaves(scorecard)
    if n_customers == 0:
        raise InvalidDataError("Cannot fit a scorecard on an empty frame.")
    for leaf, n in zip(leaves, stats.n, strict=True):
        if n == 0:
            raise InvalidDataError(
                f"Indicator column {leaf.source!r} has no values to learn from.",
                column=leaf.source,
            )
    wants_median = scorecard.missing == "median"
    plans = [_plan(leaf, n, median=wants_median) for leaf, n in zip(leaves, stats.n, strict=True)]
    values = stats.take([[rank for _, ranks, _ in plan for rank in ranks] for plan in plans])
    scales: list[LearnedScale] = []
    medians: list[float] = []
    for c, (leaf, plan, column_values) in enumerate(zip(leaves, plans, values, strict=True)):
        learned: dict[str, list[float]] = {}
        rest = column_values
        for purpose, ranks, fractions in plan:
            taken, rest = rest[: len(ranks)], rest[len(ranks) :]
            if purpose == "median":
                learned[purpose] = [float(np.mean(np.array(taken)))]
            else:
                learned[purpose] = taken if fractions is None else _interpolate(taken, fractions)
        scales.append(_scale(leaf, learned, stats, c))
        medians.append(learned["median"][0] if wants_median else math.nan)
    return FittedScorecard(
        scorecard=scorecard, scales=scales, medians=medians, n_customers=n_customers
    )


def _scale(
    indicator: Indicator, learned: dict[str, list[float]], stats: OrderStatistics, column: int
) -> LearnedScale:
    """Build one indicator's scale as :meth:`Indicator.fit` does, from its statistics."""
    rule = indicator.normaliser
    if isinstance(rule, FixedRange):
        return LearnedScale(kind="fixed_range", params=(rule.low, rule.high))
    if isinstance(rule, PercentileRank):
        return LearnedScale(kind="percentile_rank", params=learned["knots"])
    low, high = stats.smallest[column], stats.largest[column]
    clip_low, clip_high = learned.get("clip", (None, None))
    lower = low if clip_low is None else clip_low
    upper = high if clip_high is None else clip_high
    kind: Literal["min_max", "z_score"]
    if isinstance(rule, MinMax):
        params: tuple[float, ...] = (
            float(np.clip(low, lower, upper)),
            float(np.clip(high, lower, upper)),
        )
        kind = "min_max"
    else:
        n = stats.n[column]
        total, _ = stats.moments(column, lower, upper, 0.0)
        mean = total / n
        _, squares = stats.moments(column, lower, upper, mean)
        params = (mean, math.sqrt(squares / n))
        kind = "z_score"
    if not np.isfinite(params).all():
        raise InvalidDataError(
            f"Indicator column {indicator.source!r} has values too large to normalise "
            f"({kind}: the learned parameters {params} overflow). Rescale the column.",
            column=indicator.source,
        )
    return LearnedScale(kind=kind, params=params, clip_low=clip_low, clip_high=clip_high)
