"""K-means natural groups: recovery, seeding, tier mapping, errors, JSON round trips."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.cluster.vq import ClusterError

import crmscore.tiering._kmeans as kmeans_module
from crmscore import (
    POLICY_TIERS,
    ConvergenceError,
    FittedKMeansTiering,
    FixedRange,
    InvalidDataError,
    InvalidParameterError,
    KMeansTiering,
    MinMax,
    TierRule,
    b2b_scorecard,
    make_b2b_indicators,
)
from tests.strategies import indicator_frames

if TYPE_CHECKING:
    from crmscore.tiering import GroupMapping
from tests.tiering_cards import (
    COLUMNS,
    frame,
    json_round_trip,
    single,
    three_indicator_card,
    tier_rules,
)

# --- k-means natural groups -----------------------------------------------------------------


def separated_book() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Four tight groups of 50 around 10, 40, 70 and 95 points, shuffled."""
    rng = np.random.default_rng(3)
    centres = np.array([10.0, 40.0, 70.0, 95.0])
    members = np.repeat(centres, 50) + rng.normal(0, 1.0, 200)
    order = rng.permutation(200)
    return frame(x=members[order].tolist()), centres, order


def test_kmeans_recovers_separated_groups_and_ranks_them_by_score() -> None:
    book, centres, order = separated_book()
    fitted = single(FixedRange(low=0, high=100)).fit(book)
    groups = KMeansTiering(seed=0, mapping="rank").fit(book, scorecard=fitted)
    np.testing.assert_allclose([c[0] for c in groups.centroids], centres, atol=0.5)
    out = groups.score(book)
    expected = np.repeat(np.arange(4), 50)[order]
    assert out["group"].tolist() == expected.tolist()
    assert out["group_tier"].tolist() == [POLICY_TIERS.labels()[g] for g in expected]
    assert list(groups.group_scores) == sorted(groups.group_scores)
    assert out["tier_reason"].iloc[0].startswith("k-means group")


def test_kmeans_reaches_scikit_learns_optimum() -> None:
    # Oracle: scikit-learn's KMeans (10 k-means++ restarts) on the same normalised
    # points finds the same four centroids and within-group sum of squares. (On a
    # 600-customer book the two settle in different local optima, 0.004 % apart:
    # k-means promises a local optimum only.)
    from sklearn.cluster import KMeans  # noqa: PLC0415 (test-only oracle, slow import)

    book = make_b2b_indicators(2_000, seed=2)
    fitted = b2b_scorecard().fit(book)
    points = np.ascontiguousarray(fitted._points(book, owner="test")[0].T)
    ours = KMeansTiering(seed=0).fit(book, scorecard=fitted)
    oracle = KMeans(n_clusters=4, n_init=10, random_state=0).fit(points)
    assert ours.inertia == pytest.approx(oracle.inertia_, rel=1e-9)
    theirs = oracle.cluster_centers_[np.argsort(oracle.cluster_centers_ @ fitted._weights)]
    np.testing.assert_allclose(np.asarray(ours.centroids), theirs, rtol=1e-9)


def test_kmeans_is_seeded_and_round_trips() -> None:
    book = make_b2b_indicators(600, seed=2)
    fitted = b2b_scorecard().fit(book)
    settings = KMeansTiering(seed=9, n_init=2)
    a = settings.fit(book, scorecard=fitted)
    b = settings.fit(book, scorecard=fitted)
    assert a == b
    again = FittedKMeansTiering.from_dict(json.loads(json.dumps(a.to_dict())))
    assert again == a
    pd.testing.assert_frame_equal(again.score(book), a.score(book))


def test_kmeans_with_a_revenue_floor() -> None:
    book = make_b2b_indicators(1_000, seed=4)
    fitted = b2b_scorecard().fit(book)
    threshold = float(book["annual_revenue"].median())
    floor = TierRule(name="VIP", column="annual_revenue", op=">=", threshold=threshold, tier="gold")
    out = (
        KMeansTiering(seed=1, rules=[floor]).fit(book, scorecard=fitted).score(book, language="zh")
    )
    big = book["annual_revenue"] >= threshold
    assert (out.loc[big, "tier"] >= "黄金级").all()
    assert (out.loc[~big, "tier"] == out.loc[~big, "group_tier"]).all()
    raised = big & (out["group_tier"] < "黄金级")
    assert raised.any()
    assert (out.loc[raised, "tier_reason"] == floor.describe(POLICY_TIERS, language="zh")).all()


def test_kmeans_errors() -> None:
    fitted = single(MinMax()).fit(frame(x=[1.0, 2.0]))
    with pytest.raises(InvalidDataError, match="at least 4 distinct customers"):
        KMeansTiering(seed=0).fit(frame(x=[1.0, 1.0, 2.0, 2.0, 3.0]), scorecard=fitted)
    with pytest.raises(InvalidParameterError, match="FittedScorecard"):
        KMeansTiering(seed=0).fit(frame(x=[1.0]), scorecard=single(MinMax()))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="seed"):
        KMeansTiering(seed=-1)
    with pytest.raises(InvalidParameterError, match="n_init"):
        KMeansTiering(seed=0, n_init=0)


def test_kmeans_reports_groups_that_stay_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    def always_empty(*args: object, **kwargs: object) -> None:
        raise ClusterError("One of the clusters is empty.")

    monkeypatch.setattr(kmeans_module, "kmeans2", always_empty)
    fitted = single(MinMax()).fit(frame(x=[1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(ConvergenceError, match="left a group empty in all 2"):
        KMeansTiering(seed=0, n_init=2).fit(frame(x=[1.0, 2.0, 3.0, 4.0]), scorecard=fitted)


def test_kmeans_maps_groups_by_the_scheme_bounds_by_default() -> None:
    # Hand-checked: the groups' mean scores are about 10, 40, 70 and 95, so under the
    # policy bounds (60 / 80 / 90) they are Ordinary, Ordinary, Silver and Diamond;
    # no group is Gold.
    book, centres, order = separated_book()
    fitted = single(FixedRange(low=0, high=100)).fit(book)
    groups = KMeansTiering(seed=0).fit(book, scorecard=fitted)
    assert groups.settings.mapping == "scheme"
    np.testing.assert_allclose(groups.group_scores, centres, atol=0.5)
    assert groups.group_tiers == (0, 0, 1, 3)
    out = groups.score(book)
    expected_group = np.repeat(np.arange(4), 50)[order]
    assert out["group"].tolist() == expected_group.tolist()
    labels = ["Ordinary", "Ordinary", "Silver", "Diamond"]
    assert out["group_tier"].tolist() == [labels[g] for g in expected_group]
    assert out["tier"].tolist() == out["group_tier"].tolist()
    assert list(out["group_tier"].cat.categories) == list(POLICY_TIERS.labels())
    # The reason names the group (not the tier): two groups share Ordinary.
    first = out.index[expected_group == 0][0]
    second = out.index[expected_group == 1][0]
    assert (
        out.loc[first, "tier_reason"]
        == f"k-means group 0 (mean score {groups.group_scores[0]:.1f})"
    )
    assert (
        out.loc[second, "tier_reason"]
        == f"k-means group 1 (mean score {groups.group_scores[1]:.1f})"
    )


def test_kmeans_low_population_has_no_diamond_under_the_scheme_but_does_by_rank() -> None:
    # Every score between 3 and 22: no group can average 60, so every group is
    # Ordinary under the scheme; ranking hands the top group Diamond regardless.
    rng = np.random.default_rng(11)
    book = frame(x=rng.uniform(3.0, 22.0, 200).tolist())
    fitted = single(FixedRange(low=0, high=100)).fit(book)
    by_scheme = KMeansTiering(seed=0).fit(book, scorecard=fitted)
    assert max(by_scheme.group_scores) < 22
    assert by_scheme.group_tiers == (0, 0, 0, 0)
    assert set(by_scheme.score(book)["group_tier"]) == {"Ordinary"}
    by_rank = KMeansTiering(seed=0, mapping="rank").fit(book, scorecard=fitted)
    assert by_rank.group_scores == by_scheme.group_scores
    assert by_rank.group_tiers == (0, 1, 2, 3)
    ranked = by_rank.score(book)
    assert ranked["group_tier"].value_counts()["Diamond"] > 0
    assert ranked.loc[ranked["group"] == 3, "group_tier"].eq("Diamond").all()


def test_kmeans_group_tier_bound_is_inclusive() -> None:
    # Built straight from stated centroids and mean scores (as from a stored model):
    # a group averaging exactly 90 is Diamond, one averaging 89.99 is Gold.
    fitted = single(FixedRange(low=0, high=100)).fit(frame(x=[0.0, 100.0]))
    groups = FittedKMeansTiering(
        settings=KMeansTiering(seed=0, n_clusters=3),
        scorecard=fitted,
        centroids=[[50.0], [89.99], [90.0]],
        group_scores=[50.0, 89.99, 90.0],
        inertia=0.0,
    )
    assert groups.group_tiers == (0, 2, 3)
    out = groups.score(frame(x=[40.0, 89.0, 99.0]))
    assert out["group"].tolist() == [0, 1, 2]
    assert out["group_tier"].tolist() == ["Ordinary", "Gold", "Diamond"]


def test_kmeans_n_clusters() -> None:
    # Two tight groups around 20 and 92 points, found with n_clusters=2: Ordinary and
    # Diamond; the number of groups need not be the number of tiers.
    rng = np.random.default_rng(5)
    members = np.concatenate([rng.normal(20, 1, 40), rng.normal(92, 1, 60)])
    book = frame(x=members.tolist())
    fitted = single(FixedRange(low=0, high=100)).fit(book)
    groups = KMeansTiering(seed=2, n_clusters=2).fit(book, scorecard=fitted)
    np.testing.assert_allclose(groups.group_scores, [20.0, 92.0], atol=0.5)
    assert groups.group_tiers == (0, 3)
    out = groups.score(book)
    assert out["group_tier"].tolist() == ["Ordinary"] * 40 + ["Diamond"] * 60
    many = KMeansTiering(seed=2, n_clusters=6).fit(book, scorecard=fitted)
    assert len(many.centroids) == len(many.group_scores) == len(many.group_tiers) == 6
    assert list(many.group_tiers) == sorted(many.group_tiers)
    with pytest.raises(InvalidParameterError, match=r"'n_clusters' parameter.*mapping='rank'"):
        KMeansTiering(seed=2, n_clusters=2, mapping="rank").fit(book, scorecard=fitted)
    with pytest.raises(InvalidDataError, match="at least 7 distinct customers"):
        KMeansTiering(seed=2, n_clusters=7).fit(frame(x=[1.0, 2, 3, 4, 5, 6]), scorecard=fitted)
    with pytest.raises(InvalidParameterError, match="n_clusters"):
        KMeansTiering(seed=0, n_clusters=0)
    with pytest.raises(InvalidParameterError, match="mapping"):
        KMeansTiering(seed=0, mapping="score")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="needs 4 centroids"):
        FittedKMeansTiering(
            settings=KMeansTiering(seed=0),
            scorecard=fitted,
            centroids=[[1.0], [2.0]],
            group_scores=[1.0, 2.0],
            inertia=0.0,
        )


def test_kmeans_from_dict_reads_old_dicts_as_rank_mapping() -> None:
    # Dictionaries written before 'mapping' and 'n_clusters' existed were fitted by
    # rank, so they read back as rank and keep their tiers.
    book, _, _ = separated_book()
    fitted = single(FixedRange(low=0, high=100)).fit(book)
    new = KMeansTiering(seed=0, mapping="rank").fit(book, scorecard=fitted)
    old = new.to_dict()
    del old["settings"]["mapping"], old["settings"]["n_clusters"]
    again = FittedKMeansTiering.from_dict(json.loads(json.dumps(old)))
    assert again == new
    assert again.group_tiers == (0, 1, 2, 3)
    assert KMeansTiering.from_dict({"seed": 1, "n_init": 2, "max_iter": 3, "rules": []}) == (
        KMeansTiering(seed=1, n_init=2, max_iter=3, mapping="rank")
    )


@given(data=st.data(), mapping=st.sampled_from(["scheme", "rank"]))
def test_kmeans_inputs_are_not_mutated(data: st.DataObject, mapping: GroupMapping) -> None:
    book = data.draw(indicator_frames(columns=COLUMNS, min_rows=8))
    book["floor_on"] = np.arange(len(book), dtype=float)
    before = book.copy(deep=True)
    fitted = three_indicator_card().fit(book)
    fitted_before = fitted.to_dict()
    rules = [TierRule(name="floor", column="floor_on", op=">=", threshold=4, tier="gold")]
    settings = KMeansTiering(seed=0, n_init=1, rules=rules, mapping=mapping)
    rules_before = copy.deepcopy(rules)
    try:
        groups = settings.fit(book, scorecard=fitted)
    except InvalidDataError:  # fewer than four distinct customers
        pd.testing.assert_frame_equal(book, before)
        return
    groups.score(book)
    groups.score(book, language="zh")
    pd.testing.assert_frame_equal(book, before)
    assert rules == rules_before
    assert fitted.to_dict() == fitted_before


# --- JSON round trips -----------------------------------------------------------------


@st.composite
def kmeans_settings(draw: st.DrawFn, *, tiers: int = 4) -> KMeansTiering:
    mapping: GroupMapping = draw(st.sampled_from(["scheme", "rank"]))
    n_clusters = (
        draw(st.sampled_from([None, tiers]))
        if mapping == "rank"
        else draw(st.none() | st.integers(min_value=1, max_value=8))
    )
    return KMeansTiering(
        seed=draw(st.integers(min_value=0, max_value=2**32)),
        n_init=draw(st.integers(min_value=1, max_value=10)),
        max_iter=draw(st.integers(min_value=1, max_value=100)),
        rules=draw(st.lists(tier_rules(), max_size=3)),
        mapping=mapping,
        n_clusters=n_clusters,
    )


FINITE = st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def fitted_kmeans(draw: st.DrawFn) -> FittedKMeansTiering:
    """Fitted groups stated directly (as from a stored model), over the 4-indicator card."""
    fitted = three_indicator_card().fit(
        frame(gain=[1.0, 2], y=[1.0, 3], z=[0.0, 5], other=[2.0, 1])
    )
    settings = draw(kmeans_settings())
    k = settings.clusters(POLICY_TIERS)
    point = st.floats(min_value=0, max_value=100, allow_nan=False)
    centroids = draw(st.lists(st.lists(point, min_size=4, max_size=4), min_size=k, max_size=k))
    scores = sorted(draw(st.lists(point, min_size=k, max_size=k)))
    return FittedKMeansTiering(
        settings=settings,
        scorecard=fitted,
        centroids=centroids,
        group_scores=scores,
        inertia=draw(st.floats(min_value=0, max_value=1e12)),
    )


@given(settings=kmeans_settings())
def test_kmeans_settings_json_round_trip(settings: KMeansTiering) -> None:
    assert KMeansTiering.from_dict(json_round_trip(settings)) == settings


@given(groups=fitted_kmeans())
def test_fitted_kmeans_json_round_trip(groups: FittedKMeansTiering) -> None:
    again = FittedKMeansTiering.from_dict(json_round_trip(groups))
    assert again == groups
    assert again.group_tiers == groups.group_tiers
