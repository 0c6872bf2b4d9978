"""Natural groups by k-means over normalised indicators, mapped to tiers, with rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._serialise import reads
from crmscore._validation import (
    InstanceOf,
    check_choice,
    check_param,
    integer_at_least,
    non_negative_finite,
    optional_integer_at_least,
    to_float,
)
from crmscore.errors import ConvergenceError, InvalidDataError, InvalidParameterError
from crmscore.tiering._scorecard import FittedScorecard
from crmscore.tiering._tiers import Language, TierRule, apply_rules, tier_reasons, to_rules

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from crmscore.tiering._tiers import TierScheme

__all__ = ["FittedKMeansTiering", "GroupMapping", "KMeansTiering"]


FloatArray: TypeAlias = npt.NDArray[np.float64]


# scipy.cluster takes longer to import than the rest of crmscore: k-means tiering
# imports it when it runs, not `import crmscore` (issue 19).
def kmeans2(*args: Any, **kwargs: Any) -> tuple[FloatArray, npt.NDArray[np.int32]]:
    """``scipy.cluster.vq.kmeans2``, imported on first use."""
    from scipy.cluster.vq import kmeans2 as scipy_kmeans2  # noqa: PLC0415

    return scipy_kmeans2(*args, **kwargs)


def vq(*args: Any, **kwargs: Any) -> tuple[npt.NDArray[np.int32], FloatArray]:
    """``scipy.cluster.vq.vq``, imported on first use."""
    from scipy.cluster.vq import vq as scipy_vq  # noqa: PLC0415

    return scipy_vq(*args, **kwargs)


GroupMapping: TypeAlias = Literal["scheme", "rank"]
_MAPPINGS: tuple[GroupMapping, ...] = ("scheme", "rank")


def _check_mapping(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    check_choice(value, name=attribute.name, owner=type(instance).__name__, choices=_MAPPINGS)


@attrs.frozen(kw_only=True)
class KMeansTiering:
    """Settings for natural groups by k-means, mapped to tiers by their mean score.

    The customers' normalised indicator points (0-100 each, more is better, from a
    fitted scorecard) are clustered into ``n_clusters`` groups (by default as many
    as the scheme has tiers) with ``scipy.cluster.vq.kmeans2``, seeded by k-means++
    from ``seed``. Each group's mean score then gives its tier, by ``mapping``:

    ``"scheme"`` (default)
        The scheme's tier for the group's mean score: a group is Diamond only if
        its members average 90 or more. Groups can share a tier and a tier can
        have no group (a population scoring 3-22 has only Ordinary groups).
    ``"rank"``
        Groups ranked by mean score take the tiers in order, lowest group the
        lowest tier, whatever their scores (needs one group per tier). The top
        group is the highest tier even if it averages 20.

    ``rules`` then apply, as the policy combines natural groups with manual rules
    (e.g. a VIP retention floor).

    Examples
    --------
    >>> from crmscore.datasets import make_b2b_indicators
    >>> from crmscore.tiering import b2b_scorecard
    >>> book = make_b2b_indicators(2_000, seed=7)
    >>> fitted = b2b_scorecard().fit(book)
    >>> groups = KMeansTiering(seed=1).fit(book, scorecard=fitted)
    >>> tiers = groups.score(book)
    >>> list(tiers.columns)
    ['score', 'group', 'group_tier', 'tier', 'tier_reason']
    >>> bool(tiers.groupby("group_tier", observed=True)["score"].mean().is_monotonic_increasing)
    True

    Each group's tier is the scheme's tier for its mean score:

    >>> [fitted.scorecard.tiers.tier_of(m) for m in groups.group_scores] == [
    ...     fitted.scorecard.tiers.labels()[t] for t in groups.group_tiers]
    True
    """

    seed: int = attrs.field(validator=integer_at_least(0))
    """Seed of the k-means++ initialisation (same data, same seed: same groups)."""

    n_init: int = attrs.field(default=4, validator=integer_at_least(1))
    """Initialisations tried; the one with the smallest within-group sum of squares is kept."""

    max_iter: int = attrs.field(default=30, validator=integer_at_least(1))
    """k-means iterations per initialisation."""

    rules: tuple[TierRule, ...] = attrs.field(default=(), converter=to_rules)
    """Floors and caps applied to the group's tier, in order."""

    mapping: GroupMapping = attrs.field(default="scheme", validator=_check_mapping)
    """How groups get tiers: ``"scheme"`` (the tier of the group's mean score) or
    ``"rank"`` (groups ranked by mean score take the tiers in order)."""

    n_clusters: int | None = attrs.field(default=None, validator=optional_integer_at_least(1))
    """Number of groups; ``None`` for one per tier of the scorecard's scheme. With
    ``mapping="rank"`` it must equal the number of tiers."""

    def clusters(self, scheme: TierScheme) -> int:
        """Return the number of groups for ``scheme`` (``n_clusters`` or its tier count).

        Raises
        ------
        InvalidParameterError
            ``mapping="rank"`` with ``n_clusters`` other than the number of tiers.
        """
        tiers = len(scheme.tiers)
        k = tiers if self.n_clusters is None else self.n_clusters
        if self.mapping == "rank" and k != tiers:
            raise InvalidParameterError(
                f"The 'n_clusters' parameter of KMeansTiering must equal the number of tiers "
                f"({tiers}) with mapping='rank' (one group per tier). Got {k} instead; use "
                "mapping='scheme' for another number of groups."
            )
        return k

    def fit(self, frame: pd.DataFrame, *, scorecard: FittedScorecard) -> FittedKMeansTiering:
        """Find the groups in a population, order them by mean score and give them tiers.

        Parameters
        ----------
        frame : pandas.DataFrame
            One row per customer with the scorecard's indicator columns.
        scorecard : FittedScorecard
            Provides the normalisation, the weights (for the score) and the tiers.

        Returns
        -------
        FittedKMeansTiering

        Raises
        ------
        InvalidParameterError
            ``mapping="rank"`` with ``n_clusters`` other than the number of tiers.
        InvalidDataError
            Fewer distinct customers than groups.
        ConvergenceError
            Every initialisation left a group empty.
        """
        check_param(
            scorecard,
            InstanceOf(FittedScorecard, "a FittedScorecard"),
            name="scorecard",
            owner="KMeansTiering.fit",
        )
        for rule in self.rules:
            scorecard.scorecard.tiers.index(rule.tier)
        points = np.ascontiguousarray(scorecard._points(frame, owner="KMeansTiering.fit")[0].T)
        k = self.clusters(scorecard.scorecard.tiers)
        if np.unique(points, axis=0).shape[0] < k:
            raise InvalidDataError(
                f"k-means needs at least {k} distinct customers (one per group); the frame has "
                f"{np.unique(points, axis=0).shape[0]}."
            )
        from scipy.cluster.vq import ClusterError  # noqa: PLC0415  (see kmeans2)

        # scipy seeds each run by k-means++ from one generator (its `seed` keyword takes
        # a Generator on every supported scipy; newer ones also call it `rng`); it has
        # no restarts, so the best of n_init runs is kept here.
        rng = np.random.default_rng(self.seed)
        best: tuple[float, FloatArray, npt.NDArray[np.int32]] | None = None
        for _ in range(self.n_init):
            try:
                centres, groups = kmeans2(
                    points, k, iter=self.max_iter, minit="++", missing="raise", seed=rng
                )
            except ClusterError:
                continue
            inertia = float(((points - centres[groups]) ** 2).sum())
            if best is None or inertia < best[0]:
                best = (inertia, centres, groups)
        if best is None:
            raise ConvergenceError(
                f"k-means left a group empty in all {self.n_init} initialisations; try another "
                "seed or more initialisations."
            )
        inertia, centres, groups = best
        score = points @ scorecard._weights
        means = np.bincount(groups, weights=score, minlength=k) / np.bincount(groups, minlength=k)
        order = np.argsort(means, kind="stable")
        return FittedKMeansTiering(
            settings=self,
            scorecard=scorecard,
            centroids=centres[order].tolist(),
            group_scores=means[order].tolist(),
            inertia=inertia,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "seed": self.seed,
            "n_init": self.n_init,
            "max_iter": self.max_iter,
            "rules": [r.to_dict() for r in self.rules],
            "mapping": self.mapping,
            "n_clusters": self.n_clusters,
        }

    @classmethod
    @reads("seed", "n_init", "max_iter", "rules", optional=("mapping", "n_clusters"))
    def from_dict(cls, data: Mapping[str, Any]) -> KMeansTiering:
        """Inverse of :meth:`to_dict`.

        A dictionary without ``mapping`` was written before the mapping was a
        setting, when groups were always mapped by rank: it reads as
        ``mapping="rank"``, so stored settings and fitted groups keep their tiers.
        """
        return cls(
            seed=data["seed"],
            n_init=data["n_init"],
            max_iter=data["max_iter"],
            rules=[TierRule.from_dict(r) for r in data["rules"]],
            mapping=data.get("mapping", "rank"),
            n_clusters=data.get("n_clusters"),
        )


def _to_rows(rows: Sequence[Sequence[float]]) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in rows)


def _to_floats(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


@attrs.frozen(kw_only=True)
class FittedKMeansTiering:
    """Groups found by :meth:`KMeansTiering.fit`: centroids ordered by mean score.

    Group ``g`` (0 = lowest mean score) has tier ``group_tiers[g]`` of the
    scorecard's scheme, derived from ``group_scores`` by the settings' ``mapping``.
    New customers join the nearest centroid.
    """

    settings: KMeansTiering = attrs.field(validator=attrs.validators.instance_of(KMeansTiering))
    """The settings used."""

    scorecard: FittedScorecard = attrs.field(
        validator=attrs.validators.instance_of(FittedScorecard)
    )
    """The fitted scorecard giving normalised points, scores and tiers."""

    centroids: tuple[tuple[float, ...], ...] = attrs.field(converter=_to_rows)
    """Group centres in normalised points, lowest mean score first."""

    group_scores: tuple[float, ...] = attrs.field(converter=_to_floats)
    """Mean score of each group's members when fitted, increasing."""

    inertia: float = attrs.field(converter=to_float, validator=non_negative_finite)
    """Within-group sum of squared distances when fitted."""

    _group_tiers: tuple[int, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        scheme = self.scorecard.scorecard.tiers
        k = self.settings.clusters(scheme)
        m = len(self.scorecard.indicators)
        if len(self.centroids) != k or any(len(c) != m for c in self.centroids):
            raise InvalidParameterError(
                f"FittedKMeansTiering needs {k} centroids (one per group) of {m} coordinates."
            )
        if len(self.group_scores) != k:
            raise InvalidParameterError(
                f"FittedKMeansTiering needs {k} group scores, got {len(self.group_scores)}."
            )
        if self.settings.mapping == "rank":
            tiers = tuple(range(k))
        else:
            tiers = tuple(scheme.codes(np.asarray(self.group_scores, dtype=np.float64)).tolist())
        object.__setattr__(self, "_group_tiers", tiers)

    @property
    def group_tiers(self) -> tuple[int, ...]:
        """Tier position (0 = lowest tier of the scheme) of each group, lowest group first."""
        return self._group_tiers

    def score(self, frame: pd.DataFrame, *, language: Language = "en") -> pd.DataFrame:
        """Place customers in the nearest group and give them its tier, then the rules'.

        Returns
        -------
        pandas.DataFrame
            Indexed like ``frame``: ``score``, ``group`` (0 = lowest-scoring group),
            ``group_tier`` (the group's tier, see :attr:`group_tiers`) and ``tier``
            (after the rules), ordered categoricals, and ``tier_reason``.
        """
        check_choice(
            language, name="language", owner="FittedKMeansTiering.score", choices=("en", "zh")
        )
        scheme = self.scorecard.scorecard.tiers
        points = np.ascontiguousarray(
            self.scorecard._points(frame, owner="FittedKMeansTiering.score")[0].T
        )
        found, _ = vq(points, np.asarray(self.centroids))
        groups = found.astype(np.int64)
        base = np.asarray(self._group_tiers, dtype=np.int64)[groups]
        codes, fired = apply_rules(
            base, frame, scheme=scheme, rules=self.settings.rules, frame_name="the frame"
        )
        reasons = [
            f"k-means group {g} (mean score {m:.1f})" for g, m in enumerate(self.group_scores)
        ]
        return pd.DataFrame(
            {
                "score": np.clip(points @ self.scorecard._weights, 0.0, 100.0),
                "group": groups,
                "group_tier": scheme.categorical(base, language=language),
                "tier": scheme.categorical(codes, language=language),
                "tier_reason": tier_reasons(
                    groups,  # the reason names the group, so it is indexed by group
                    fired,
                    scheme=scheme,
                    rules=self.settings.rules,
                    base_reasons=reasons,
                    language=language,
                ),
            },
            index=frame.index,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "settings": self.settings.to_dict(),
            "scorecard": self.scorecard.to_dict(),
            "centroids": [list(c) for c in self.centroids],
            "group_scores": list(self.group_scores),
            "inertia": self.inertia,
        }

    @classmethod
    @reads("settings", "scorecard", "centroids", "group_scores", "inertia")
    def from_dict(cls, data: Mapping[str, Any]) -> FittedKMeansTiering:
        """Inverse of :meth:`to_dict`."""
        return cls(
            settings=KMeansTiering.from_dict(data["settings"]),
            scorecard=FittedScorecard.from_dict(data["scorecard"]),
            centroids=data["centroids"],
            group_scores=data["group_scores"],
            inertia=data["inertia"],
        )
