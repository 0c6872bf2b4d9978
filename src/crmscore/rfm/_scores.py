"""RFM scores: columns of the RFM table binned into scores 1..n."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs
import numpy as np
import pandas as pd

from crmscore._serialise import TypeRegistry, reads
from crmscore._validation import (
    OneOf,
    as_float_array,
    check_columns,
    check_frame,
    check_unique_index,
    integer_at_least,
    validator,
)
from crmscore.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from crmscore._purchases import FloatArray, IntArray

_positive_int = integer_at_least(2)


def _to_float_tuple(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _check_edges(
    instance: object, attribute: attrs.Attribute[tuple[float, ...]], value: tuple[float, ...]
) -> None:
    owner = type(instance).__name__
    if not value:
        raise InvalidParameterError.for_value(
            name=attribute.name, owner=owner, allowed="a non-empty sequence of numbers", got=value
        )
    array = np.asarray(value)
    if not np.isfinite(array).all() or (np.diff(array) < 0).any():
        raise InvalidParameterError.for_value(
            name=attribute.name, owner=owner, allowed="finite and non-decreasing", got=value
        )


@attrs.frozen(kw_only=True)
class QuantileBins:
    r"""Scores 1..``n_bins`` by quantiles of the fitted population.

    The tie rule: a value's score is one plus the number of quantile edges it is
    strictly better than, where the k-th edge is the value of the customer at
    position :math:`\lceil k n / n_{bins} \rceil` in the order from worst to best.
    Identical values therefore always get identical scores, and the result does not
    depend on row order. Under heavy ties (e.g. most customers with one purchase) a
    tied block takes the score of its worst-placed member and some scores stay
    empty, rather than splitting identical customers.

    Examples
    --------
    Seven of ten customers bought today (``time_since_last`` 0), three bought three
    days ago. Worst to best the values are ``3, 3, 3, 0, 0, 0, 0, 0, 0, 0``; the
    quintile edges sit at positions 2, 4, 6 and 8, i.e. ``3, 0, 0, 0``. A zero is
    strictly better than one edge only, so the seven most recent customers score
    R = 2 and R = 3, 4, 5 stay empty:

    >>> import pandas as pd
    >>> table = pd.DataFrame({"time_since_last": [0.0] * 7 + [3.0] * 3,
    ...                       "n_purchases": 1, "total_spend": 1.0})
    >>> RFMScorer().fit(table).score(table)["r_score"].value_counts().sort_index()
    r_score
    1    3
    2    7
    Name: count, dtype: int64

    If the best customers should reach the top score, use :class:`FixedBins`
    thresholds (e.g. ``edges=(0, 7, 30, 90)`` on ``time_since_last``) or fewer bins.
    """

    n_bins: int = attrs.field(default=5, validator=_positive_int)
    """How many scores (at least 2)."""

    @property
    def n_scores(self) -> int:
        """Number of distinct scores."""
        return self.n_bins


@attrs.frozen(kw_only=True)
class FixedBins:
    """Scores from fixed business thresholds.

    With ``k`` edges the scores run 1..k+1: a value scores one plus the number of
    edges it is strictly better than. A value exactly at an edge gets the lower
    score (``at_edge="lower"``) or the higher one (``at_edge="higher"``).

    Examples
    --------
    "Purchased within the last 30 days" as a 2-level recency score:

    >>> rule = ScoreDimension(column="time_since_last", higher_is_better=False,
    ...                       bins=FixedBins(edges=(30,), at_edge="higher"))
    """

    edges: tuple[float, ...] = attrs.field(converter=_to_float_tuple, validator=_check_edges)
    """Thresholds in increasing order (equal neighbours leave a score empty)."""

    at_edge: Literal["lower", "higher"] = attrs.field(
        default="lower", validator=validator(OneOf(("lower", "higher")))
    )
    """Which of the two scores a value exactly at an edge gets."""

    @property
    def n_scores(self) -> int:
        """Number of distinct scores."""
        return len(self.edges) + 1


@attrs.frozen(kw_only=True)
class ReferenceBins:
    """Two scores: 2 if strictly better than a population statistic, else 1.

    This is the high/low split of the RFM value matrix (e.g. above or below the
    mean). Fitting freezes the statistic, so later customers are compared with the
    same reference.
    """

    statistic: Literal["mean", "median"] = attrs.field(
        default="mean", validator=validator(OneOf(("mean", "median")))
    )
    """The population statistic used as the reference."""

    @property
    def n_scores(self) -> int:
        """Number of distinct scores."""
        return 2


Bins: TypeAlias = QuantileBins | FixedBins | ReferenceBins
_BINS: TypeRegistry[Bins] = TypeRegistry(
    "bins", {"quantile": QuantileBins, "fixed": FixedBins, "reference": ReferenceBins}
)
_bins_to_dict = _BINS.to_dict
_bins_from_dict = _BINS.from_dict


@attrs.frozen(kw_only=True)
class ScoreDimension:
    """How one of R, F, M is scored: which column, which direction, which bins.

    With :class:`QuantileBins`, tied values score alike: a tied block takes the
    score of its worst-placed member, so when 70 % of customers share
    ``time_since_last == 0`` they all score R = 2 and R = 5 stays empty (see
    :class:`QuantileBins` for the worked example).
    """

    column: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Column of the RFM table (any numeric column works)."""

    higher_is_better: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    """True for benefits (frequency, spend); False for costs (time since last purchase)."""

    bins: Bins = attrs.field(
        factory=QuantileBins,
        validator=attrs.validators.instance_of((QuantileBins, FixedBins, ReferenceBins)),
    )
    """The binning rule."""

    def fit(self, values: FloatArray) -> FixedBins:
        """Learn the edges of this dimension from a population's values."""
        bins = self.bins
        if isinstance(bins, FixedBins):
            return bins
        if isinstance(bins, ReferenceBins):
            reference = float(np.mean(values) if bins.statistic == "mean" else np.median(values))
            return FixedBins(edges=(reference,), at_edge="lower")
        ordered = np.sort(values)
        if not self.higher_is_better:
            ordered = ordered[::-1]
        n = ordered.size
        k = np.arange(1, bins.n_bins)
        positions = -(-k * n // bins.n_bins) - 1  # ceil(k n / n_bins) - 1
        edges = np.sort(ordered[positions])
        return FixedBins(edges=tuple(edges.tolist()), at_edge="lower")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "column": self.column,
            "higher_is_better": self.higher_is_better,
            "bins": _bins_to_dict(self.bins),
        }

    @classmethod
    @reads("column", "higher_is_better", "bins")
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreDimension:
        """Inverse of :meth:`to_dict`."""
        return cls(
            column=data["column"],
            higher_is_better=data["higher_is_better"],
            bins=_bins_from_dict(data["bins"]),
        )


def _score(values: FloatArray, edges: FixedBins, *, higher_is_better: bool) -> IntArray:
    """Score 1 + the number of edges each value is strictly better than."""
    grid = np.asarray(edges.edges)
    if higher_is_better:
        side: Literal["left", "right"] = "right" if edges.at_edge == "higher" else "left"
        beaten = np.searchsorted(grid, values, side=side)
    else:
        side = "left" if edges.at_edge == "higher" else "right"
        beaten = grid.size - np.searchsorted(grid, values, side=side)
    return (beaten + 1).astype(np.int64)


SCORE_COLUMNS: tuple[str, str, str] = ("r_score", "f_score", "m_score")


def _dimension_values(table: pd.DataFrame, dimension: ScoreDimension, *, owner: str) -> FloatArray:
    return as_float_array(table, dimension.column, ids=table.index, frame_name=owner)


@attrs.frozen(kw_only=True)
class RFMScorer:
    """Settings for R, F and M scores; :meth:`fit` learns their edges.

    The defaults are classic quintiles: R on ``time_since_last`` (fewer periods
    since the last purchase is better), F on ``n_purchases``, M on ``total_spend``.

    Quantile scores never split identical customers: a tied block takes the score
    of its worst-placed member. When most customers tie (70 % bought in the last
    period, ``time_since_last == 0``), they all score R = 2 and the top scores stay
    empty; see :class:`QuantileBins` for the worked example and the alternatives.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame(
    ...     {"time_since_last": [1.0, 5, 9, 40, 90], "n_purchases": [9, 4, 4, 2, 1],
    ...      "total_spend": [900.0, 300, 250, 80, 20]},
    ...     index=pd.Index(["a", "b", "c", "d", "e"], name="customer_id"))
    >>> RFMScorer().fit(table).score(table)
                 r_score  f_score  m_score  rfm_score
    customer_id
    a                  5        5        5         15
    b                  4        3        4         11
    c                  3        3        3          9
    d                  2        2        2          6
    e                  1        1        1          3
    """

    recency: ScoreDimension = attrs.field(
        factory=lambda: ScoreDimension(column="time_since_last", higher_is_better=False),
        validator=attrs.validators.instance_of(ScoreDimension),
    )
    """R: how recently the customer bought."""

    frequency: ScoreDimension = attrs.field(
        factory=lambda: ScoreDimension(column="n_purchases", higher_is_better=True),
        validator=attrs.validators.instance_of(ScoreDimension),
    )
    """F: how often the customer buys."""

    monetary: ScoreDimension = attrs.field(
        factory=lambda: ScoreDimension(column="total_spend", higher_is_better=True),
        validator=attrs.validators.instance_of(ScoreDimension),
    )
    """M: how much the customer spends."""

    @classmethod
    def value_matrix(
        cls,
        *,
        statistic: Literal["mean", "median"] = "mean",
        recency: str = "time_since_last",
        frequency: str = "n_purchases",
        monetary: str = "total_spend",
    ) -> RFMScorer:
        """High/low scores for the eight-class RFM value matrix.

        Each dimension scores 2 ("high") if the customer is strictly better than the
        population ``statistic`` and 1 otherwise; for R, better means fewer periods
        since the last purchase, so a recent customer has high R.

        Parameters
        ----------
        statistic : {"mean", "median"}, default "mean"
            The reference each customer is compared with.
        recency, frequency, monetary : str
            Columns used for R, F and M.

        Returns
        -------
        RFMScorer
        """
        bins = ReferenceBins(statistic=statistic)
        return cls(
            recency=ScoreDimension(column=recency, higher_is_better=False, bins=bins),
            frequency=ScoreDimension(column=frequency, higher_is_better=True, bins=bins),
            monetary=ScoreDimension(column=monetary, higher_is_better=True, bins=bins),
        )

    @property
    def dimensions(self) -> tuple[ScoreDimension, ScoreDimension, ScoreDimension]:
        """R, F and M, in that order."""
        return (self.recency, self.frequency, self.monetary)

    @property
    def n_scores(self) -> tuple[int, int, int]:
        """Number of scores of R, F and M."""
        return (
            self.recency.bins.n_scores,
            self.frequency.bins.n_scores,
            self.monetary.bins.n_scores,
        )

    def fit(self, table: pd.DataFrame) -> FittedRFMScorer:
        """Learn the score edges from a population of customers.

        Parameters
        ----------
        table : pandas.DataFrame
            Per-customer table (e.g. from :func:`rfm_table`) with the three columns.

        Returns
        -------
        FittedRFMScorer
            The frozen edges; apply them with :meth:`FittedRFMScorer.score`.

        Raises
        ------
        ColumnNotFoundError, InvalidDataError
            A column is missing, non-numeric or not finite; the table is empty or its
            index repeats ids.
        """
        owner = "the RFM table"
        check_frame(table, name="table", owner="RFMScorer.fit")
        check_columns(table, [d.column for d in self.dimensions], frame_name=owner)
        check_unique_index(table, frame_name=owner)
        if len(table) == 0:
            raise InvalidDataError("Cannot fit RFM scores on an empty table.")
        edges = tuple(d.fit(_dimension_values(table, d, owner=owner)) for d in self.dimensions)
        return FittedRFMScorer(scorer=self, recency=edges[0], frequency=edges[1], monetary=edges[2])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "recency": self.recency.to_dict(),
            "frequency": self.frequency.to_dict(),
            "monetary": self.monetary.to_dict(),
        }

    @classmethod
    @reads("recency", "frequency", "monetary")
    def from_dict(cls, data: Mapping[str, Any]) -> RFMScorer:
        """Inverse of :meth:`to_dict`."""
        return cls(
            recency=ScoreDimension.from_dict(data["recency"]),
            frequency=ScoreDimension.from_dict(data["frequency"]),
            monetary=ScoreDimension.from_dict(data["monetary"]),
        )


def _display_edge(value: float) -> float:
    """Round an edge to 12 significant digits: hide binary noise, keep real digits."""
    return float(f"{value:.12g}")


def _display_edges(bins: FixedBins) -> tuple[float, ...]:
    return tuple(_display_edge(e) for e in bins.edges)


@attrs.frozen(kw_only=True, repr=False)
class FittedRFMScorer:
    """Score edges learned by :meth:`RFMScorer.fit`; a value, safe to store.

    Applying the same fitted edges to new customers scores them against the
    population the edges were learned on, so adding one customer never shifts
    anybody else's score.
    """

    scorer: RFMScorer = attrs.field(validator=attrs.validators.instance_of(RFMScorer))
    """The settings the edges were learned with."""

    recency: FixedBins = attrs.field(validator=attrs.validators.instance_of(FixedBins))
    """Learned R edges, in the units of the R column."""

    frequency: FixedBins = attrs.field(validator=attrs.validators.instance_of(FixedBins))
    """Learned F edges."""

    monetary: FixedBins = attrs.field(validator=attrs.validators.instance_of(FixedBins))
    """Learned M edges."""

    def score(self, table: pd.DataFrame) -> pd.DataFrame:
        """Score customers with the learned edges.

        Parameters
        ----------
        table : pandas.DataFrame
            Per-customer table with the scorer's columns.

        Returns
        -------
        pandas.DataFrame
            Same index as ``table``; integer columns ``r_score``, ``f_score``,
            ``m_score`` and their sum ``rfm_score``.
        """
        owner = "the RFM table"
        check_frame(table, name="table", owner="FittedRFMScorer.score")
        check_columns(table, [d.column for d in self.scorer.dimensions], frame_name=owner)
        check_unique_index(table, frame_name=owner)
        scores = {
            name: _score(
                _dimension_values(table, dimension, owner=owner),
                edges,
                higher_is_better=dimension.higher_is_better,
            )
            for name, dimension, edges in zip(
                SCORE_COLUMNS,
                self.scorer.dimensions,
                (self.recency, self.frequency, self.monetary),
                strict=True,
            )
        }
        frame = pd.DataFrame(scores, index=table.index)
        frame["rfm_score"] = frame.sum(axis=1)
        return frame

    def summary(self) -> pd.DataFrame:
        """Tabulate the learned edges of R, F and M, for reading.

        Returns
        -------
        pandas.DataFrame
            One row per dimension (index ``"R"``, ``"F"``, ``"M"``, name
            ``dimension``) with the ``score`` column it produces, the source
            ``column``, the ``direction`` (``"higher is better"`` or ``"lower is
            better"``), ``n_scores``, the ``edges`` (a tuple, rounded to 12
            significant digits for display; the stored edges are exact) and
            ``at_edge``.

        Examples
        --------
        >>> import pandas as pd
        >>> table = pd.DataFrame(
        ...     {"time_since_last": [1.0, 5, 9, 40, 90], "n_purchases": [9, 4, 4, 2, 1],
        ...      "total_spend": [893.22, 300, 250.1, 80, 20]})
        >>> RFMScorer().fit(table).summary()[["column", "direction", "edges"]]
                            column         direction                        edges
        dimension
        R          time_since_last   lower is better     (5.0, 9.0, 40.0, 90.0)
        F              n_purchases  higher is better       (1.0, 2.0, 4.0, 4.0)
        M              total_spend  higher is better  (20.0, 80.0, 250.1, 300.0)
        """
        rows = [
            {
                "score": name,
                "column": dimension.column,
                "direction": "higher is better"
                if dimension.higher_is_better
                else "lower is better",
                "n_scores": dimension.bins.n_scores,
                "edges": _display_edges(edges),
                "at_edge": edges.at_edge,
            }
            for name, dimension, edges in zip(
                SCORE_COLUMNS,
                self.scorer.dimensions,
                (self.recency, self.frequency, self.monetary),
                strict=True,
            )
        ]
        return pd.DataFrame(rows, index=pd.Index(["R", "F", "M"], name="dimension"))

    def __repr__(self) -> str:
        """Show the settings and the edges, rounded for display (the values are exact)."""
        edges = ", ".join(
            f"{name}=FixedBins(edges={_display_edges(bins)!r}, at_edge={bins.at_edge!r})"
            for name, bins in (
                ("recency", self.recency),
                ("frequency", self.frequency),
                ("monetary", self.monetary),
            )
        )
        return f"FittedRFMScorer(scorer={self.scorer!r}, {edges})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "scorer": self.scorer.to_dict(),
            "recency": _bins_to_dict(self.recency),
            "frequency": _bins_to_dict(self.frequency),
            "monetary": _bins_to_dict(self.monetary),
        }

    @classmethod
    @reads("scorer", "recency", "frequency", "monetary")
    def from_dict(cls, data: Mapping[str, Any]) -> FittedRFMScorer:
        """Inverse of :meth:`to_dict`."""
        edges = {k: _bins_from_dict(data[k]) for k in ("recency", "frequency", "monetary")}
        return cls(scorer=RFMScorer.from_dict(data["scorer"]), **edges)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
