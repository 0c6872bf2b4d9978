"""RFM segments: named cells of the score grid, and the built-in maps."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._serialise import build, reads
from crmscore._validation import (
    as_float_array,
    check_choice,
    check_columns,
    reject_ids,
)
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
from crmscore.rfm._scores import SCORE_COLUMNS, FittedRFMScorer, RFMScorer


def _to_ranges(values: Sequence[Sequence[int]]) -> tuple[tuple[int, int], ...]:
    return tuple((int(lo), int(hi)) for lo, hi in values)


@attrs.frozen(kw_only=True)
class Segment:
    """A named box of the score grid: one inclusive score range per dimension."""

    key: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Stable machine name, e.g. ``"champions"``."""

    label_en: str = attrs.field(validator=attrs.validators.instance_of(str))
    """English label."""

    label_zh: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Chinese label."""

    ranges: tuple[tuple[int, int], ...] = attrs.field(converter=_to_ranges)
    """Inclusive ``(low, high)`` score range per dimension of the map."""

    def label(self, language: Literal["en", "zh"]) -> str:
        """Return the label in ``language``."""
        return self.label_en if language == "en" else self.label_zh


def _to_str_tuple(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _to_int_tuple(values: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _to_segments(values: Sequence[Segment]) -> tuple[Segment, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class SegmentMap:
    """Named segments that partition a grid of scores.

    A map is checked when it is made: every cell of the grid belongs to exactly one
    segment and every segment owns at least one cell. Published segment tables
    often overlap and are applied first-match, which silently makes some segments
    unreachable; such a table is rejected here with the overlapping cells named.

    Examples
    --------
    >>> SegmentMap(
    ...     name="halves", dimensions=("r_score",), n_scores=(2,),
    ...     segments=[Segment(key="low", label_en="Low", label_zh="低", ranges=[(1, 1)]),
    ...               Segment(key="high", label_en="High", label_zh="高", ranges=[(2, 2)])],
    ... ).cell_table()
      r_score   key label_en label_zh
    0       1   low      Low        低
    1       2  high     High        高
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Name of the map."""

    dimensions: tuple[str, ...] = attrs.field(converter=_to_str_tuple)
    """Score columns the map reads, e.g. ``("r_score", "f_score")``."""

    n_scores: tuple[int, ...] = attrs.field(converter=_to_int_tuple)
    """Number of scores per dimension (scores run 1..n)."""

    segments: tuple[Segment, ...] = attrs.field(converter=_to_segments)
    """The segments, in display order."""

    scorer: RFMScorer | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(RFMScorer)),
    )
    """The scorer the map is designed for; used by :func:`rfm_segments` by default."""

    _grid: npt.NDArray[np.int64] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_grid", self._build_grid())

    def _build_grid(self) -> npt.NDArray[np.int64]:
        owner = f"SegmentMap {self.name!r}"
        if len(self.dimensions) != len(self.n_scores) or not self.dimensions:
            raise InvalidParameterError(
                f"{owner}: dimensions {self.dimensions} and n_scores {self.n_scores} must be "
                "non-empty and of equal length."
            )
        if any(n < 1 for n in self.n_scores):
            raise InvalidParameterError(f"{owner}: n_scores must be positive, got {self.n_scores}.")
        keys = [s.key for s in self.segments]
        if not keys or len(set(keys)) != len(keys):
            raise InvalidParameterError(
                f"{owner}: segment keys must be unique and non-empty, got {keys}."
            )
        grid = np.full(self.n_scores, -1, dtype=np.int64)
        for number, segment in enumerate(self.segments):
            if len(segment.ranges) != len(self.dimensions):
                raise InvalidParameterError(
                    f"{owner}: segment {segment.key!r} gives {len(segment.ranges)} ranges for "
                    f"{len(self.dimensions)} dimensions {self.dimensions}."
                )
            box = []
            for (low, high), n in zip(segment.ranges, self.n_scores, strict=True):
                if not 1 <= low <= high <= n:
                    raise InvalidParameterError(
                        f"{owner}: segment {segment.key!r} has range ({low}, {high}), outside "
                        f"1..{n} or reversed."
                    )
                box.append(slice(low - 1, high))
            cells = grid[tuple(box)]
            taken = cells >= 0
            if taken.any():
                other = self.segments[int(cells[taken].flat[0])].key
                where = [
                    tuple(int(i) + 1 + b.start for i, b in zip(c, box, strict=True))
                    for c in np.argwhere(taken)[:5]
                ]
                raise InvalidParameterError(
                    f"{owner}: segments {other!r} and {segment.key!r} overlap at score cells "
                    f"{where}; every cell must belong to exactly one segment."
                )
            grid[tuple(box)] = number
        if (grid < 0).any():
            missing = [tuple(int(i) + 1 for i in c) for c in np.argwhere(grid < 0)[:5]]
            raise InvalidParameterError(
                f"{owner}: {int((grid < 0).sum())} score cell(s) belong to no segment, first "
                f"{missing} (in {self.dimensions} order)."
            )
        grid.setflags(write=False)
        return grid

    def labels(self, language: Literal["en", "zh"] = "en") -> list[str]:
        """Segment labels in display order."""
        return [s.label(language) for s in self.segments]

    def cell_table(self) -> pd.DataFrame:
        """Every cell of the grid with the segment that owns it."""
        cells = list(itertools.product(*(range(1, n + 1) for n in self.n_scores)))
        owners = [self.segments[int(self._grid[tuple(c - 1 for c in cell)])] for cell in cells]
        frame = pd.DataFrame(cells, columns=list(self.dimensions))
        frame["key"] = [s.key for s in owners]
        frame["label_en"] = [s.label_en for s in owners]
        frame["label_zh"] = [s.label_zh for s in owners]
        return frame

    def score(
        self, scores: pd.DataFrame, *, language: Literal["en", "zh"] = "en"
    ) -> pd.Series[Any]:
        """Name the segment of every customer.

        Parameters
        ----------
        scores : pandas.DataFrame
            Per-customer scores with the map's dimension columns.
        language : {"en", "zh"}, default "en"
            Label language.

        Returns
        -------
        pandas.Series
            Categorical ``segment``, categories in the map's display order, same
            index as ``scores``.

        Raises
        ------
        InvalidDataError
            A score is outside the map's grid.
        """
        check_choice(language, name="language", owner="SegmentMap.score", choices=("en", "zh"))
        check_columns(scores, self.dimensions, frame_name="scores")
        coords = []
        for column, n in zip(self.dimensions, self.n_scores, strict=True):
            values = as_float_array(scores, column, ids=scores.index, frame_name="scores")
            bad = (values != np.round(values)) | (values < 1) | (values > n)
            reject_ids(
                scores.index,
                bad,
                column=column,
                problem=f"has scores outside 1..{n}, the grid of segment map {self.name!r},",
                hint="Score with the scorer the map is designed for.",
            )
            coords.append(values.astype(np.intp) - 1)
        codes = self._grid.ravel()[np.ravel_multi_index(tuple(coords), self.n_scores)]
        categorical = pd.Categorical.from_codes(codes, categories=pd.Index(self.labels(language)))
        return pd.Series(categorical, index=scores.index, name="segment")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "name": self.name,
            "dimensions": list(self.dimensions),
            "n_scores": list(self.n_scores),
            "segments": [
                {
                    "key": s.key,
                    "label_en": s.label_en,
                    "label_zh": s.label_zh,
                    "ranges": [list(r) for r in s.ranges],
                }
                for s in self.segments
            ],
            "scorer": None if self.scorer is None else self.scorer.to_dict(),
        }

    @classmethod
    @reads("name", "dimensions", "n_scores", "segments", optional=("scorer",))
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentMap:
        """Inverse of :meth:`to_dict`."""
        scorer = data.get("scorer")
        return cls(
            name=data["name"],
            dimensions=data["dimensions"],
            n_scores=data["n_scores"],
            segments=[build(Segment, s) for s in data["segments"]],
            scorer=None if scorer is None else RFMScorer.from_dict(scorer),
        )


#: The classic eleven-segment map on quintile R and F scores.
#:
#: R runs down (5 = bought most recently), F across (5 = most purchases):
#:
#: ===  ============  ============  ==============  ==============  ==============
#: R    F 1           F 2           F 3             F 4             F 5
#: ===  ============  ============  ==============  ==============  ==============
#: 5    New           Potential L.  Potential L.    Champions       Champions
#: 4    Promising     Potential L.  Potential L.    Loyal           Loyal
#: 3    About to      About to      Need Attention  Loyal           Loyal
#:      Sleep         Sleep
#: 2    Hibernating   Hibernating   At Risk         At Risk         Can't Lose Them
#: 1    Lost          Lost          At Risk         At Risk         Can't Lose Them
#: ===  ============  ============  ==============  ==============  ==============
CLASSIC_SEGMENTS = SegmentMap(
    name="classic",
    dimensions=("r_score", "f_score"),
    n_scores=(5, 5),
    scorer=RFMScorer(),
    segments=[
        Segment(
            key="champions", label_en="Champions", label_zh="冠军客户", ranges=[(5, 5), (4, 5)]
        ),
        Segment(key="loyal", label_en="Loyal", label_zh="忠诚客户", ranges=[(3, 4), (4, 5)]),
        Segment(
            key="potential_loyalist",
            label_en="Potential Loyalist",
            label_zh="潜在忠诚客户",
            ranges=[(4, 5), (2, 3)],
        ),
        Segment(key="new", label_en="New", label_zh="新客户", ranges=[(5, 5), (1, 1)]),
        Segment(
            key="promising", label_en="Promising", label_zh="有潜力客户", ranges=[(4, 4), (1, 1)]
        ),
        Segment(
            key="need_attention",
            label_en="Need Attention",
            label_zh="需要关注客户",
            ranges=[(3, 3), (3, 3)],
        ),
        Segment(
            key="about_to_sleep",
            label_en="About to Sleep",
            label_zh="即将沉睡客户",
            ranges=[(3, 3), (1, 2)],
        ),
        Segment(
            key="at_risk", label_en="At Risk", label_zh="流失风险客户", ranges=[(1, 2), (3, 4)]
        ),
        Segment(
            key="cant_lose_them",
            label_en="Can't Lose Them",
            label_zh="不能失去的客户",
            ranges=[(1, 2), (5, 5)],
        ),
        Segment(
            key="hibernating", label_en="Hibernating", label_zh="休眠客户", ranges=[(2, 2), (1, 2)]
        ),
        Segment(key="lost", label_en="Lost", label_zh="已流失客户", ranges=[(1, 1), (1, 2)]),
    ],
)

#: The eight-class RFM value matrix of the policy texts (重要价值客户 ...).
#:
#: Each of R, F, M is high (2) or low (1) against the population mean; high R means
#: a recent purchase. Important (重要) classes have high M, general (一般) low M.
VALUE_MATRIX_SEGMENTS = SegmentMap(
    name="value_matrix",
    dimensions=("r_score", "f_score", "m_score"),
    n_scores=(2, 2, 2),
    scorer=RFMScorer.value_matrix(),
    segments=[
        Segment(
            key="important_value",
            label_en="Important value",
            label_zh="重要价值客户",
            ranges=[(2, 2), (2, 2), (2, 2)],
        ),
        Segment(
            key="important_development",
            label_en="Important development",
            label_zh="重要发展客户",
            ranges=[(2, 2), (1, 1), (2, 2)],
        ),
        Segment(
            key="important_retention",
            label_en="Important retention",
            label_zh="重要保持客户",
            ranges=[(1, 1), (2, 2), (2, 2)],
        ),
        Segment(
            key="important_winback",
            label_en="Important win-back",
            label_zh="重要挽留客户",
            ranges=[(1, 1), (1, 1), (2, 2)],
        ),
        Segment(
            key="general_value",
            label_en="General value",
            label_zh="一般价值客户",
            ranges=[(2, 2), (2, 2), (1, 1)],
        ),
        Segment(
            key="general_development",
            label_en="General development",
            label_zh="一般发展客户",
            ranges=[(2, 2), (1, 1), (1, 1)],
        ),
        Segment(
            key="general_retention",
            label_en="General retention",
            label_zh="一般保持客户",
            ranges=[(1, 1), (2, 2), (1, 1)],
        ),
        Segment(
            key="general_winback",
            label_en="General win-back",
            label_zh="一般挽留客户",
            ranges=[(1, 1), (1, 1), (1, 1)],
        ),
    ],
)


def rfm_segments(
    table: pd.DataFrame,
    *,
    segment_map: SegmentMap = CLASSIC_SEGMENTS,
    scorer: RFMScorer | FittedRFMScorer | None = None,
    language: Literal["en", "zh"] = "en",
) -> pd.DataFrame:
    """Score a per-customer table and name every customer's segment.

    Parameters
    ----------
    table : pandas.DataFrame
        Per-customer table, e.g. from :func:`rfm_table`.
    segment_map : SegmentMap, default CLASSIC_SEGMENTS
        The named segments (:data:`CLASSIC_SEGMENTS`, :data:`VALUE_MATRIX_SEGMENTS`
        or your own).
    scorer : RFMScorer or FittedRFMScorer, optional
        How to score. An unfitted scorer is fitted on ``table``; a fitted one is
        applied as it is. Defaults to the map's own scorer.
    language : {"en", "zh"}, default "en"
        Label language.

    Returns
    -------
    pandas.DataFrame
        Same index as ``table``: the score columns and a categorical ``segment``.

    Raises
    ------
    InvalidParameterError
        The scorer's number of scores does not match the map's grid, or no scorer
        is given for a map without one.

    Examples
    --------
    >>> from crmscore import make_transactions, rfm_table
    >>> book = make_transactions(2_000, seed=1)
    >>> table = rfm_table(book.transactions, as_of=book.as_of)
    >>> segments = rfm_segments(table, segment_map=VALUE_MATRIX_SEGMENTS, language="zh")
    >>> segments["segment"].cat.categories[0]
    '重要价值客户'
    >>> bool(segments["segment"].notna().all())
    True
    """
    chosen = segment_map.scorer if scorer is None else scorer
    if chosen is None:
        raise InvalidParameterError(
            f"Segment map {segment_map.name!r} has no scorer of its own; pass scorer=."
        )
    fitted = chosen.fit(table) if isinstance(chosen, RFMScorer) else chosen
    by_column = dict(zip(SCORE_COLUMNS, fitted.scorer.n_scores, strict=True))
    for dimension, n in zip(segment_map.dimensions, segment_map.n_scores, strict=True):
        if by_column.get(dimension, n) != n:
            raise InvalidParameterError(
                f"Segment map {segment_map.name!r} expects {n} scores on {dimension!r}, but the "
                f"scorer gives {by_column[dimension]}."
            )
    scores = fitted.score(table)
    return scores.assign(segment=segment_map.score(scores, language=language))
