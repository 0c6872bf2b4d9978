"""Tiering: normalisers, the scorecard, tier schemes and rules, k-means groups, the preset."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.cluster.vq import ClusterError
from scipy.stats import norm

import crmscore.tiering._kmeans as kmeans_module
from crmscore import (
    B2B_CRITERIA,
    POLICY_TIERS,
    ColumnNotFoundError,
    ConvergenceError,
    Criterion,
    DirectWeights,
    FittedKMeansTiering,
    FittedScorecard,
    FixedRange,
    Indicator,
    InvalidDataError,
    InvalidParameterError,
    KMeansTiering,
    LearnedScale,
    MinMax,
    PairwiseMatrix,
    PercentileRank,
    Scorecard,
    Tier,
    TierRule,
    TierScheme,
    ZScore,
    b2b_scorecard,
    make_b2b_indicators,
)
from tests.strategies import indicator_frames

if TYPE_CHECKING:
    from crmscore.tiering import Direction, GroupMapping, Normaliser

NORMALISERS: list[Normaliser] = [
    MinMax(),
    MinMax(clip=(0.1, 0.9)),
    ZScore(),
    ZScore(clip=(0.05, 0.95)),
    PercentileRank(),
    PercentileRank(n_knots=5),
    FixedRange(low=-10, high=10),
]


def frame(**columns: list[float]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))


def single(normaliser: Normaliser, direction: Direction = "benefit", **kwargs: Any) -> Scorecard:
    """A scorecard of one indicator ``x`` (weight 1): the score is the indicator's points."""
    return Scorecard(
        hierarchy=Criterion(name="goal", weights={"x": 1.0}),
        indicators=[Indicator(name="x", direction=direction, normaliser=normaliser)],
        **kwargs,
    )


def three_indicator_card(normaliser: Normaliser | None = None, **kwargs: Any) -> Scorecard:
    normaliser = MinMax() if normaliser is None else normaliser
    return Scorecard(
        hierarchy=Criterion(
            name="goal",
            weights={"gain": 0.5, "loss": 0.3, "other": 0.2},
            subcriteria=[Criterion(name="loss", weights={"y": 0.5, "z": 0.5})],
        ),
        indicators=[
            Indicator(name="gain", direction="benefit", normaliser=normaliser),
            Indicator(name="y", direction="cost", normaliser=normaliser),
            Indicator(name="z", direction="cost", normaliser=FixedRange(low=0, high=10)),
            Indicator(name="other", direction="benefit", normaliser=normaliser),
        ],
        **kwargs,
    )


def points_of(normaliser: Normaliser, fit_on: list[float], values: list[float]) -> np.ndarray:
    fitted = single(normaliser).fit(frame(x=fit_on))
    return fitted.score(frame(x=values))["score"].to_numpy()


# --- normalisers: oracles ------------------------------------------------------------------


def test_min_max_hand_computed() -> None:
    assert points_of(MinMax(), [10, 20, 30], [10, 15, 30, 40, 0]).tolist() == [0, 25, 100, 100, 0]


def test_min_max_clip_at_quantiles() -> None:
    population = [float(v) for v in range(101)]  # 10 % and 90 % quantiles are 10 and 90
    got = points_of(MinMax(clip=(0.1, 0.9)), population, [0, 10, 50, 90, 100])
    np.testing.assert_allclose(got, [0, 0, 50, 100, 100])


def test_fixed_range_hand_computed_and_cost_direction() -> None:
    card = single(FixedRange(low=0.0, high=0.40))
    got = card.fit(frame(x=[0.1])).score(frame(x=[-0.05, 0.0, 0.1, 0.4, 0.9]))["score"]
    np.testing.assert_allclose(got, [0, 0, 25, 100, 100])
    cost = single(FixedRange(low=0, high=120), direction="cost")
    got = cost.fit(frame(x=[30.0])).score(frame(x=[0.0, 30.0, 120.0, 200.0]))["score"]
    np.testing.assert_allclose(got, [100, 75, 0, 0])


def test_z_score_matches_the_normal_cdf() -> None:
    population = np.array([3.0, 7.0, 8.0, 12.0, 20.0])
    new = [0.0, 3.0, 10.0, 25.0]
    expected = 100 * norm.cdf(new, loc=population.mean(), scale=population.std(ddof=0))
    np.testing.assert_allclose(points_of(ZScore(), population.tolist(), new), expected, rtol=1e-12)


def test_z_score_clip_winsorises_before_standardising() -> None:
    population = np.arange(101.0)
    clipped = np.clip(population, 5.0, 95.0)
    # New values are clipped to the learned quantiles (5 and 95) too.
    expected = 100 * norm.cdf([5.0, 50.0, 95.0], loc=clipped.mean(), scale=clipped.std())
    got = points_of(ZScore(clip=(0.05, 0.95)), population.tolist(), [0.0, 50.0, 99.0])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@given(data=st.data())
def test_percentile_rank_is_the_average_rank_on_small_populations(data: st.DataObject) -> None:
    values = data.draw(st.lists(st.integers(-20, 20).map(float), min_size=2, max_size=60))
    population = frame(x=values)
    got = single(PercentileRank()).fit(population).score(population)["score"]
    n = len(values)
    expected = (population["x"].rank(method="average") - 1) / (n - 1) * 100
    if population["x"].min() == population["x"].max():
        expected = pd.Series(50.0, index=population.index)
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_percentile_rank_on_large_populations_is_within_the_knot_resolution() -> None:
    rng = np.random.default_rng(5)
    values = np.round(rng.lognormal(10, 1, 20_000), 0)  # ties too
    population = frame(x=values.tolist())
    knots = 101
    got = single(PercentileRank(n_knots=knots)).fit(population).score(population)["score"]
    exact = (population["x"].rank(method="average") - 1) / (len(values) - 1) * 100
    assert np.abs(got - exact).max() <= 100 / (knots - 1) + 1e-9


def test_percentile_rank_of_new_customers_beyond_the_population() -> None:
    got = points_of(PercentileRank(), [1, 2, 3, 4, 5], [0, 1, 2.5, 5, 6])
    np.testing.assert_allclose(got, [0, 0, 37.5, 100, 100])


@pytest.mark.parametrize("normaliser", [MinMax(), ZScore(), PercentileRank()])
def test_constant_population_scores_fifty_and_steps_around_it(normaliser: Normaliser) -> None:
    got = points_of(normaliser, [4.0, 4.0, 4.0], [4.0, 3.0, 5.0])
    np.testing.assert_allclose(got, [50, 0, 100])


def test_learned_scale_validation_and_round_trip() -> None:
    scale = LearnedScale(kind="min_max", params=(1.0, 3.0), clip_low=0.5, clip_high=None)
    assert LearnedScale.from_dict(json.loads(json.dumps(scale.to_dict()))) == scale
    with pytest.raises(InvalidParameterError, match="needs 2 parameter"):
        LearnedScale(kind="z_score", params=(1.0,))
    with pytest.raises(InvalidParameterError, match="unsorted"):
        LearnedScale(kind="percentile_rank", params=(3.0, 1.0))
    with pytest.raises(InvalidParameterError, match="clip"):
        MinMax(clip=(0.9, 0.1))
    with pytest.raises(InvalidParameterError, match="n_knots"):
        PercentileRank(n_knots=1)
    with pytest.raises(InvalidParameterError, match="greater than low"):
        FixedRange(low=5, high=5)


# --- the scorecard: hand-computed ---------------------------------------------------------


def test_hand_computed_scorecard_with_criterion_points() -> None:
    card = three_indicator_card()
    book = frame(
        gain=[0.0, 10.0, 20.0], y=[5.0, 0.0, 10.0], z=[0.0, 5.0, 10.0], other=[1.0, 2.0, 3.0]
    )
    out = card.fit(book).score(book, normalised=True)
    # gain (min-max, benefit): 0, 50, 100; y (min-max, cost): 50, 100, 0;
    # z (fixed 0-10, cost): 100, 50, 0; other (min-max, benefit): 0, 50, 100.
    # Global weights: gain .5, y .15, z .15, other .2.
    np.testing.assert_allclose(out["gain_points"], [0, 25, 50])
    np.testing.assert_allclose(out["y_points"], [7.5, 15, 0])
    np.testing.assert_allclose(out["z_points"], [15, 7.5, 0])
    np.testing.assert_allclose(out["other_points"], [0, 10, 20])
    np.testing.assert_allclose(out["loss_points"], [22.5, 22.5, 0])
    np.testing.assert_allclose(out["score"], [22.5, 57.5, 70])
    np.testing.assert_allclose(out["y_normalised"], [50, 100, 0])
    assert out["tier"].tolist() == ["Ordinary", "Ordinary", "Silver"]
    assert out["tier_reason"].tolist() == ["score < 60", "score < 60", "60 <= score < 80"]
    assert list(out.columns) == [
        "score",
        "tier",
        "score_tier",
        "tier_reason",
        "loss_points",
        "gain_points",
        "y_points",
        "z_points",
        "other_points",
        "gain_normalised",
        "y_normalised",
        "z_normalised",
        "other_normalised",
        "n_imputed",
    ]
    assert out.index.equals(book.index)
    assert out.index.name == "customer_id"


@pytest.mark.parametrize(
    ("value", "tier", "zh"),
    [
        (90.0, "Diamond", "钻石级"),
        (89.99, "Gold", "黄金级"),
        (80.0, "Gold", "黄金级"),
        (79.999, "Silver", "白银级"),
        (60.0, "Silver", "白银级"),
        (59.9, "Ordinary", "普通级"),
        (0.0, "Ordinary", "普通级"),
        (100.0, "Diamond", "钻石级"),
    ],
)
def test_policy_bounds_are_inclusive(value: float, tier: str, zh: str) -> None:
    fitted = single(FixedRange(low=0, high=100)).fit(frame(x=[50.0]))
    assert fitted.score(frame(x=[value]))["tier"].iloc[0] == tier
    assert fitted.score(frame(x=[value]), language="zh")["tier"].iloc[0] == zh
    assert POLICY_TIERS.tier_of(value) == tier


def test_floating_point_noise_at_a_bound_does_not_drop_a_tier() -> None:
    # 0.5 * 90 + 0.3 * 90 + 0.2 * 90 is 89.99999999999999 in floating point.
    card = Scorecard(
        hierarchy=Criterion(name="g", weights={"a": 0.5, "b": 0.3, "c": 0.2}),
        indicators=[
            Indicator(name=n, direction="benefit", normaliser=FixedRange(low=0, high=100))
            for n in "abc"
        ],
    )
    book = frame(a=[90.0], b=[90.0], c=[90.0])
    out = card.fit(book).score(book)
    assert out["score"].iloc[0] == pytest.approx(90.0, abs=1e-12)
    assert out["tier"].iloc[0] == "Diamond"


def test_tier_columns_are_ordered_categoricals_lowest_first() -> None:
    fitted = single(FixedRange(low=0, high=100)).fit(frame(x=[50.0]))
    tiers = fitted.score(frame(x=[10.0, 95.0]), language="zh")["tier"]
    assert tiers.cat.ordered
    assert list(tiers.cat.categories) == ["普通级", "白银级", "黄金级", "钻石级"]
    assert tiers.iloc[1] > tiers.iloc[0]


def test_empty_frame_scores_to_an_empty_frame() -> None:
    fitted = single(MinMax()).fit(frame(x=[1.0, 2.0]))
    out = fitted.score(frame(x=[1.0]).iloc[:0])
    assert len(out) == 0
    assert "score" in out.columns


# --- missing values -------------------------------------------------------------------------


def test_missing_values_are_an_error_by_default_naming_the_customers() -> None:
    book = frame(x=[1.0, np.nan, 3.0, np.nan])
    with pytest.raises(
        InvalidDataError, match=r"Column 'x' has missing \(NaN\).*first \['c1', 'c3'\]"
    ) as info:
        single(MinMax()).fit(book)
    assert info.value.ids == ("c1", "c3")
    fitted = single(MinMax()).fit(frame(x=[1.0, 2.0]))
    with pytest.raises(InvalidDataError, match="missing='median'"):
        fitted.score(book)


def test_missing_median_policy_scores_at_the_fitted_median() -> None:
    population = frame(x=[1.0, 2.0, 4.0, np.nan, 9.0])
    fitted = single(MinMax(), missing="median").fit(population)
    assert fitted.medians == (3.0,)
    out = fitted.score(frame(x=[np.nan, 3.0, 9.0]))
    np.testing.assert_allclose(out["score"], [25.0, 25.0, 100.0])
    assert out["n_imputed"].tolist() == [1, 0, 0]
    assert out.attrs["missing"] == "median"


def test_missing_zero_policy_gives_zero_points_for_costs_too() -> None:
    card = single(FixedRange(low=0, high=10), direction="cost", missing="zero")
    out = card.fit(frame(x=[1.0])).score(frame(x=[np.nan, 0.0]))
    np.testing.assert_allclose(out["score"], [0.0, 100.0])
    assert out["n_imputed"].tolist() == [1, 0]
    assert out.attrs["missing"] == "zero"


def test_infinite_values_are_rejected_under_every_policy() -> None:
    for policy in ("error", "median", "zero"):
        with pytest.raises(InvalidDataError, match="infinite"):
            single(MinMax(), missing=policy).fit(frame(x=[1.0, np.inf]))


def test_all_missing_column_cannot_be_learned() -> None:
    with pytest.raises(InvalidDataError, match="no values to learn from"):
        single(MinMax(), missing="zero").fit(frame(x=[np.nan, np.nan]))


# --- frozen normalisation -------------------------------------------------------------------


@pytest.mark.parametrize("normaliser", NORMALISERS)
def test_scoring_new_customers_does_not_shift_anybody(normaliser: Normaliser) -> None:
    rng = np.random.default_rng(11)
    population = frame(x=rng.normal(50, 20, 200).tolist())
    fitted = single(normaliser).fit(population)
    before = fitted.score(population)["score"]
    newcomer = pd.DataFrame({"x": [1e9]}, index=pd.Index(["new"], name="customer_id"))
    together = fitted.score(pd.concat([population, newcomer]))["score"]
    pd.testing.assert_series_equal(together.loc[population.index], before)
    # The newcomer scores at least as well as anybody (exactly 100 unless the
    # normaliser clips at a quantile, as the clipped z-score does).
    assert fitted.score(newcomer)["score"].iloc[0] >= before.max()
    # One customer at a time gives the same scores as the whole batch.
    one = fitted.score(population.iloc[[7]])["score"].iloc[0]
    assert one == before.iloc[7]


# --- properties ------------------------------------------------------------------------------

COLUMNS = ("gain", "y", "z", "other")


@given(data=st.data(), normaliser=st.sampled_from(NORMALISERS))
def test_scores_are_bounded_and_contributions_add_up(
    data: st.DataObject, normaliser: Normaliser
) -> None:
    book = data.draw(indicator_frames(columns=COLUMNS))
    out = three_indicator_card(normaliser).fit(book).score(book)
    assert out["score"].between(0, 100).all()
    indicators = out[[f"{c}_points" for c in COLUMNS]].sum(axis=1)
    np.testing.assert_allclose(indicators, out["score"], atol=1e-9)
    top_level = out[["gain_points", "loss_points", "other_points"]].sum(axis=1)
    np.testing.assert_allclose(top_level, out["score"], atol=1e-9)
    np.testing.assert_allclose(out["loss_points"], out["y_points"] + out["z_points"], atol=1e-12)


@given(
    data=st.data(),
    normaliser=st.sampled_from(NORMALISERS),
    bump=st.floats(min_value=1e-3, max_value=1e6),
)
def test_benefit_up_never_lowers_and_cost_up_never_raises_the_score(
    data: st.DataObject, normaliser: Normaliser, bump: float
) -> None:
    book = data.draw(indicator_frames(columns=COLUMNS))
    fitted = three_indicator_card(normaliser).fit(book)
    who = data.draw(st.sampled_from(list(book.index)))
    base = fitted.score(book.loc[[who]])["score"].iloc[0]
    for column, sign in (("gain", 1), ("other", 1), ("y", -1), ("z", -1)):
        moved = book.loc[[who]].copy()
        moved[column] += bump
        after = fitted.score(moved)["score"].iloc[0]
        assert sign * (after - base) >= -1e-9, (column, base, after)


@given(data=st.data(), normaliser=st.sampled_from(NORMALISERS))
def test_row_order_and_batches_do_not_change_scores(
    data: st.DataObject, normaliser: Normaliser
) -> None:
    book = data.draw(indicator_frames(columns=COLUMNS))
    card = three_indicator_card(normaliser)
    fitted = card.fit(book)
    order = data.draw(st.permutations(range(len(book))))
    shuffled = book.iloc[list(order)]
    assert card.fit(shuffled).to_dict() == fitted.to_dict()
    whole = fitted.score(book)
    split = data.draw(st.integers(0, len(book)))
    parts = pd.concat([fitted.score(shuffled.iloc[:split]), fitted.score(shuffled.iloc[split:])])
    pd.testing.assert_frame_equal(parts.loc[book.index], whole)


@given(data=st.data(), normaliser=st.sampled_from(NORMALISERS))
def test_criteria_order_does_not_change_results(
    data: st.DataObject, normaliser: Normaliser
) -> None:
    book = data.draw(indicator_frames(columns=COLUMNS))
    card = three_indicator_card(normaliser)
    reordered = Scorecard(
        hierarchy=Criterion(
            name="goal",
            weights={"other": 0.2, "loss": 0.3, "gain": 0.5},
            subcriteria=[Criterion(name="loss", weights={"z": 0.5, "y": 0.5})],
        ),
        indicators=list(reversed(card.indicators)),
    )
    a = card.fit(book).score(book)
    b = reordered.fit(book).score(book)
    np.testing.assert_allclose(b["score"], a["score"], rtol=1e-12, atol=1e-12)
    for column in (*COLUMNS, "loss"):
        np.testing.assert_allclose(b[f"{column}_points"], a[f"{column}_points"], atol=1e-12)
    assert b["tier"].tolist() == a["tier"].tolist()


@given(data=st.data())
def test_inputs_are_not_mutated(data: st.DataObject) -> None:
    book = data.draw(indicator_frames(columns=COLUMNS))
    book.loc[book.index[0], "gain"] = np.nan
    before = book.copy(deep=True)
    fitted = three_indicator_card(PercentileRank(), missing="median").fit(book)
    fitted.score(book, normalised=True)
    fitted.normalised(book)
    pd.testing.assert_frame_equal(book, before)


@given(data=st.data(), normaliser=st.sampled_from(NORMALISERS))
def test_fitted_scorecard_json_round_trip(data: st.DataObject, normaliser: Normaliser) -> None:
    book = data.draw(indicator_frames(columns=COLUMNS))
    rules = [TierRule(name="floor", column="gain", op=">", threshold=0, tier="silver")]
    card = three_indicator_card(normaliser, missing="zero", rules=rules)
    fitted = card.fit(book)
    again = FittedScorecard.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert again == fitted
    assert Scorecard.from_dict(json.loads(json.dumps(card.to_dict()))) == card
    pd.testing.assert_frame_equal(again.score(book), fitted.score(book))


# --- scorecard errors -----------------------------------------------------------------------


def test_unknown_and_unspecified_indicators_raise() -> None:
    tree = Criterion(name="goal", weights={"a": 0.5, "b": 0.5})
    benefit = Indicator(name="a", direction="benefit")
    with pytest.raises(InvalidParameterError, match=r"unknown indicator\(s\) \['zz'\]"):
        Scorecard(
            hierarchy=tree,
            indicators=[
                benefit,
                Indicator(name="b", direction="cost"),
                Indicator(name="zz", direction="cost"),
            ],
        )
    with pytest.raises(InvalidParameterError, match=r"\['b'\] have no Indicator"):
        Scorecard(hierarchy=tree, indicators=[benefit])
    with pytest.raises(InvalidParameterError, match="specified twice"):
        Scorecard(
            hierarchy=tree, indicators=[benefit, benefit, Indicator(name="b", direction="cost")]
        )
    with pytest.raises(InvalidParameterError, match="Unknown tier 'platinum'"):
        Scorecard(
            hierarchy=Criterion(name="goal", weights={"a": 1.0}),
            indicators=[benefit],
            rules=[TierRule(name="r", column="a", op=">", threshold=1, tier="platinum")],
        )
    with pytest.raises((InvalidParameterError, ValueError), match="direction"):
        Indicator(name="a", direction="up")  # type: ignore[arg-type]


def test_bad_frames_raise_typed_errors() -> None:
    card = three_indicator_card()
    book = frame(gain=[1.0, 2.0], y=[1.0, 2.0], z=[1.0, 2.0], other=[1.0, 2.0])
    with pytest.raises(ColumnNotFoundError, match=r"\['other'\]"):
        card.fit(book.drop(columns="other"))
    with pytest.raises(InvalidDataError, match="must be numeric"):
        card.fit(book.assign(y=["a", "b"]))
    with pytest.raises(InvalidDataError, match="repeats ids"):
        card.fit(book.set_axis(pd.Index(["a", "a"], name="customer_id")))
    with pytest.raises(InvalidDataError, match="empty"):
        card.fit(book.iloc[:0])
    with pytest.raises(InvalidParameterError, match="DataFrame"):
        card.fit(book.to_numpy())  # type: ignore[arg-type]
    fitted = card.fit(book)
    with pytest.raises(InvalidParameterError, match="language"):
        fitted.score(book, language="fr")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="learned scale"):
        FittedScorecard(
            scorecard=card,
            scales=[LearnedScale(kind="z_score", params=(0, 1))] * 4,
            medians=[0.0] * 4,
            n_customers=2,
        )


def test_indicator_column_can_differ_from_its_name() -> None:
    card = Scorecard(
        hierarchy=Criterion(name="goal", weights={"revenue": 1.0}),
        indicators=[Indicator(name="revenue", direction="benefit", column="rev_2025")],
    )
    book = frame(rev_2025=[1.0, 3.0])
    assert card.columns == ("rev_2025",)
    np.testing.assert_allclose(card.fit(book).score(book)["revenue_points"], [0, 100])


# --- tier schemes and rules -------------------------------------------------------------------


def test_policy_tier_scheme_api() -> None:
    assert POLICY_TIERS.keys == ("ordinary", "silver", "gold", "diamond")
    assert POLICY_TIERS.labels("zh") == ("普通级", "白银级", "黄金级", "钻石级")
    assert POLICY_TIERS.bounds == (0.0, 60.0, 80.0, 90.0)
    assert POLICY_TIERS.lower_bound("gold") == 80.0
    assert POLICY_TIERS.upper_bound("Gold") == 90.0
    assert POLICY_TIERS.upper_bound("钻石级") == float("inf")
    assert POLICY_TIERS.index("Silver") == 1
    assert POLICY_TIERS.shift("Silver", 1) == "Gold"
    assert POLICY_TIERS.shift("白银级", 2) == "钻石级"
    assert POLICY_TIERS.shift("silver", -5) == "ordinary"
    assert POLICY_TIERS.shift("Diamond", 0) == "Diamond"
    assert POLICY_TIERS.describe(3) == "score >= 90"
    assert TierScheme.from_dict(json.loads(json.dumps(POLICY_TIERS.to_dict()))) == POLICY_TIERS
    with pytest.raises(InvalidParameterError, match="Unknown tier 'Platinum'"):
        POLICY_TIERS.index("Platinum")
    with pytest.raises(InvalidParameterError, match="steps"):
        POLICY_TIERS.shift("Gold", 1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="finite"):
        POLICY_TIERS.tier_of(float("nan"))


def test_custom_scheme_with_any_labels_and_bounds() -> None:
    scheme = TierScheme.from_bounds({"C": 0, "B": 40, "A": 70})
    fitted = single(FixedRange(low=0, high=100), tiers=scheme).fit(frame(x=[1.0]))
    assert fitted.score(frame(x=[39.0, 40.0, 70.0]))["tier"].tolist() == ["C", "B", "A"]
    assert TierScheme.from_bounds({"all": 0}).tier_of(55) == "all"


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"low": 0, "high": 60, "mid": 50}, "not above 'high' at 60"),
        ({"low": 0, "a": 60, "b": 60}, "equal bounds overlap"),
        ({"low": 10, "high": 60}, "must start at 0"),
        ({"low": 0, "high": 120}, "above the highest possible score"),
        ({"low": 0, "high": float("nan")}, "strictly increasing"),
    ],
)
def test_bad_tier_bounds_raise(bounds: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        TierScheme.from_bounds(bounds)


def test_tier_labels_must_be_unique() -> None:
    with pytest.raises(InvalidParameterError, match="label_zh"):
        TierScheme(
            tiers=[
                Tier(key="a", label_en="A", label_zh="同", lower_bound=0),
                Tier(key="b", label_en="B", label_zh="同", lower_bound=50),
            ]
        )


def test_rules_floor_and_cap_with_reasons() -> None:
    rules = [
        TierRule(name="VIP floor", column="revenue", op=">=", threshold=5e6, tier="gold"),
        TierRule(
            name="dispute cap", column="disputes", op=">=", threshold=2, tier="silver", kind="cap"
        ),
    ]
    fitted = single(FixedRange(low=0, high=100), rules=rules).fit(frame(x=[1.0]))
    book = frame(
        x=[30.0, 30.0, 95.0, 95.0, 85.0, 30.0],
        revenue=[5e6, 1e6, 1e6, 9e6, 1e7, np.nan],
        disputes=[0, 0, 3, 3, 0, 0],
    )
    out = fitted.score(book)
    assert out["score_tier"].tolist() == [
        "Ordinary",
        "Ordinary",
        "Diamond",
        "Diamond",
        "Gold",
        "Ordinary",
    ]
    # The cap comes after the floor, so it wins for customer c3.
    assert out["tier"].tolist() == ["Gold", "Ordinary", "Silver", "Silver", "Gold", "Ordinary"]
    assert out["tier_reason"].tolist() == [
        "VIP floor: revenue >= 5e+06 -> at least Gold",
        "score < 60",
        "dispute cap: disputes >= 2 -> at most Silver",
        "dispute cap: disputes >= 2 -> at most Silver",
        "80 <= score < 90",
        "score < 60",
    ]
    with pytest.raises(ColumnNotFoundError, match="revenue"):
        fitted.score(book.drop(columns="revenue"))
    with pytest.raises(InvalidDataError, match="read by tier rule 'VIP floor'"):
        fitted.score(book.assign(revenue="big"))
    assert TierRule.from_dict(json.loads(json.dumps(rules[1].to_dict()))) == rules[1]


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
    out = groups.assign(book)
    expected = np.repeat(np.arange(4), 50)[order]
    assert out["group"].tolist() == expected.tolist()
    assert out["group_tier"].tolist() == [POLICY_TIERS.labels()[g] for g in expected]
    assert list(groups.group_scores) == sorted(groups.group_scores)
    assert out["tier_reason"].iloc[0].startswith("k-means group")


def test_kmeans_is_seeded_and_round_trips() -> None:
    book = make_b2b_indicators(600, seed=2)
    fitted = b2b_scorecard().fit(book)
    settings = KMeansTiering(seed=9, n_init=2)
    a = settings.fit(book, scorecard=fitted)
    b = settings.fit(book, scorecard=fitted)
    assert a == b
    again = FittedKMeansTiering.from_dict(json.loads(json.dumps(a.to_dict())))
    assert again == a
    pd.testing.assert_frame_equal(again.assign(book), a.assign(book))


def test_kmeans_with_a_revenue_floor() -> None:
    book = make_b2b_indicators(1_000, seed=4)
    fitted = b2b_scorecard().fit(book)
    threshold = float(book["annual_revenue"].median())
    floor = TierRule(name="VIP", column="annual_revenue", op=">=", threshold=threshold, tier="gold")
    out = (
        KMeansTiering(seed=1, rules=[floor]).fit(book, scorecard=fitted).assign(book, language="zh")
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
    out = groups.assign(book)
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
    assert set(by_scheme.assign(book)["group_tier"]) == {"Ordinary"}
    by_rank = KMeansTiering(seed=0, mapping="rank").fit(book, scorecard=fitted)
    assert by_rank.group_scores == by_scheme.group_scores
    assert by_rank.group_tiers == (0, 1, 2, 3)
    ranked = by_rank.assign(book)
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
    out = groups.assign(frame(x=[40.0, 89.0, 99.0]))
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
    out = groups.assign(book)
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
    groups.assign(book)
    groups.assign(book, language="zh")
    pd.testing.assert_frame_equal(book, before)
    assert rules == rules_before
    assert fitted.to_dict() == fitted_before


def test_b2b_scorecard_arguments_are_not_mutated() -> None:
    judged = PairwiseMatrix.from_judgments(
        {("financial", "potential"): 2, ("financial", "risk"): 3, ("potential", "risk"): 2}
    )
    arguments: dict[str, Any] = {
        "criteria_weights": judged,
        "indicator_weights": {
            "financial": {"annual_revenue": 0.6, "profit_margin": 0.3, "payment_cycle": 0.1},
            "risk": DirectWeights.from_mapping(
                {"credit_rating": 0.5, "default_history": 0.25, "legal_disputes": 0.25}
            ),
        },
        "indicators": [Indicator(name="growth", direction="benefit", normaliser=MinMax())],
        "columns": {"annual_revenue": "revenue"},
        "tiers": TierScheme.from_bounds({"C": 0, "B": 50, "A": 75}),
        "rules": [TierRule(name="floor", column="revenue", op=">=", threshold=1e7, tier="A")],
    }
    before = copy.deepcopy(arguments)
    b2b_scorecard(**arguments)
    b2b_scorecard(
        **{**arguments, "criteria_weights": {"financial": 0.4, "potential": 0.4, "risk": 0.2}}
    )
    assert arguments == before
    mapping = {"financial": 0.4, "potential": 0.4, "risk": 0.2}
    mapping_before = copy.deepcopy(mapping)
    b2b_scorecard(criteria_weights=mapping)
    assert mapping == mapping_before


# --- values are values: read-only state, typed conversion -------------------------------------


def test_fitted_scorecard_arrays_are_read_only() -> None:
    fitted = three_indicator_card().fit(
        frame(gain=[1.0, 2], y=[1.0, 3], z=[0.0, 5], other=[2.0, 1])
    )
    weights = fitted.weights
    with pytest.raises(ValueError, match="read-only"):
        fitted._weights[0] = 7
    with pytest.raises(ValueError, match="read-only"):
        fitted._membership[0, 0] = 7
    assert fitted.weights == weights
    assert weights == pytest.approx({"gain": 0.5, "y": 0.15, "z": 0.15, "other": 0.2})


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: FixedRange(low="abc", high=1), "low"),
        (lambda: FixedRange(low=0, high=None), "high"),
        (
            lambda: TierRule(name="r", column="x", op=">=", threshold="many", tier="gold"),
            "threshold",
        ),
        (
            lambda: TierScheme.from_bounds({"low": 0, "high": "sixty"}),  # type: ignore[dict-item]
            "strictly increasing",
        ),
    ],
)
def test_numbers_that_are_not_numbers_raise_typed_errors(build: Any, name: str) -> None:
    with pytest.raises(InvalidParameterError, match=name):
        build()


def test_numeric_strings_convert() -> None:
    assert FixedRange(low="0", high="2.5") == FixedRange(low=0.0, high=2.5)
    rule = TierRule(name="r", column="x", op=">=", threshold="5e6", tier="gold")
    assert rule.threshold == 5e6
    assert Tier(key="k", label_en="K", label_zh="K", lower_bound="60").lower_bound == 60.0


# --- contributions add up to the score ----------------------------------------------------------


@given(
    data=st.data(),
    raw=st.lists(st.floats(min_value=0.05, max_value=1.0), min_size=2, max_size=4),
    offset=st.floats(min_value=-9e-7, max_value=9e-7),
)
def test_contributions_add_up_to_the_score_with_weights_summing_near_one(
    data: st.DataObject, raw: list[float], offset: float
) -> None:
    # Weights stated to sum to 1 only within DirectWeights' tolerance (1e-6): they are
    # rescaled, so the score is never clipped away from the sum of its contributions.
    names = [f"i{k}" for k in range(len(raw))]
    stated = [v / sum(raw) for v in raw]
    stated[0] += offset
    card = Scorecard(
        hierarchy=Criterion(name="goal", weights=dict(zip(names, stated, strict=True))),
        indicators=[
            Indicator(name=n, direction="benefit", normaliser=FixedRange(low=0, high=1))
            for n in names
        ],
    )
    values = st.floats(min_value=-0.5, max_value=1.5, allow_nan=False)
    rows = data.draw(st.integers(min_value=1, max_value=12))
    book = pd.DataFrame(
        {n: data.draw(st.lists(values, min_size=rows, max_size=rows)) for n in names},
        index=pd.Index([f"k{i}" for i in range(rows)], name="customer_id"),
    )
    book.iloc[0] = 1.0  # full points everywhere: the sum of the stated weights times 100
    out = card.fit(book).score(book)
    assert out["score"].between(0.0, 100.0).all()
    contributions = out[[f"{n}_points" for n in names]].sum(axis=1)
    np.testing.assert_allclose(contributions, out["score"], rtol=0, atol=1e-9)
    assert out["score"].iloc[0] == pytest.approx(100.0, abs=1e-9)


def test_published_probe_weights_off_by_9e_7_add_up() -> None:
    # The audit's probe: weights 0.5000009 and 0.5 (sum 1.0000009, within tolerance),
    # both indicators at full points. Before the fix: score 100, contributions 100.00009.
    card = Scorecard(
        hierarchy=Criterion(name="goal", weights={"a": 0.5000009, "b": 0.5}),
        indicators=[
            Indicator(name=n, direction="benefit", normaliser=FixedRange(low=0, high=1))
            for n in "ab"
        ],
    )
    book = frame(a=[1.0], b=[1.0])
    out = card.fit(book).score(book)
    assert out["score"].iloc[0] == pytest.approx(100.0, abs=1e-12)
    assert out["a_points"].iloc[0] + out["b_points"].iloc[0] == pytest.approx(100.0, abs=1e-12)
    assert out["a_points"].iloc[0] == pytest.approx(100 * 0.5000009 / 1.0000009, rel=1e-12)


# --- JSON round trips of every configuration ---------------------------------------------------

LABEL_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8
)


@st.composite
def tier_schemes(draw: st.DrawFn) -> TierScheme:
    """Schemes with arbitrary (unicode) keys and labels and fractional bounds in 0-100."""
    n = draw(st.integers(min_value=1, max_value=6))
    keys = draw(st.lists(LABEL_TEXT, min_size=n, max_size=n, unique=True))
    en = draw(st.lists(LABEL_TEXT, min_size=n, max_size=n, unique=True))
    zh = draw(st.lists(LABEL_TEXT, min_size=n, max_size=n, unique=True))
    upper = draw(
        st.lists(
            st.floats(min_value=1e-3, max_value=100.0, allow_nan=False, allow_subnormal=False),
            min_size=n - 1,
            max_size=n - 1,
            unique=True,
        )
    )
    bounds = [0.0, *sorted(upper)]
    return TierScheme(
        tiers=[
            Tier(key=k, label_en=e, label_zh=z, lower_bound=b)
            for k, e, z, b in zip(keys, en, zh, bounds, strict=True)
        ]
    )


@st.composite
def tier_rules(draw: st.DrawFn, *, scheme: TierScheme = POLICY_TIERS) -> TierRule:
    tier = draw(st.sampled_from(scheme.tiers))
    return TierRule(
        name=draw(LABEL_TEXT),
        column=draw(LABEL_TEXT),
        op=draw(st.sampled_from([">=", ">", "<=", "<"])),
        threshold=draw(st.floats(allow_nan=False, allow_infinity=False)),
        tier=draw(st.sampled_from([tier.key, tier.label_en, tier.label_zh])),
        kind=draw(st.sampled_from(["floor", "cap"])),
    )


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


def json_round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value.to_dict()))


@given(scheme=tier_schemes())
def test_tier_scheme_json_round_trip(scheme: TierScheme) -> None:
    again = TierScheme.from_dict(json_round_trip(scheme))
    assert again == scheme
    assert again.bounds == scheme.bounds
    assert again.labels("zh") == scheme.labels("zh")


@given(data=st.data(), scheme=tier_schemes())
def test_tier_rule_json_round_trip(data: st.DataObject, scheme: TierScheme) -> None:
    rule = data.draw(tier_rules(scheme=scheme))
    again = TierRule.from_dict(json_round_trip(rule))
    assert again == rule
    assert again.describe(scheme) == rule.describe(scheme)


@given(settings=kmeans_settings())
def test_kmeans_settings_json_round_trip(settings: KMeansTiering) -> None:
    assert KMeansTiering.from_dict(json_round_trip(settings)) == settings


@given(groups=fitted_kmeans())
def test_fitted_kmeans_json_round_trip(groups: FittedKMeansTiering) -> None:
    again = FittedKMeansTiering.from_dict(json_round_trip(groups))
    assert again == groups
    assert again.group_tiers == groups.group_tiers


# --- the B2B preset --------------------------------------------------------------------------


def test_b2b_preset_structure() -> None:
    card = b2b_scorecard()
    assert card.hierarchy.local_weights == dict(B2B_CRITERIA)
    weights = card.hierarchy.global_weights()
    assert list(weights) == [
        "annual_revenue",
        "profit_margin",
        "payment_cycle",
        "growth",
        "clv",
        "strategic_fit",
        "credit_rating",
        "default_history",
        "legal_disputes",
    ]
    for name, group_weight in (("annual_revenue", 0.5), ("clv", 0.3), ("legal_disputes", 0.2)):
        assert weights[name] == pytest.approx(group_weight / 3, rel=1e-12)
    costs = {i.name for i in card.indicators if i.direction == "cost"}
    assert costs == {"payment_cycle", "default_history", "legal_disputes"}
    assert card.tiers == POLICY_TIERS


def test_b2b_preset_options() -> None:
    judged = PairwiseMatrix.from_judgments(
        {
            ("financial", "potential"): "5/3",
            ("financial", "risk"): "5/2",
            ("potential", "risk"): "3/2",
        }
    )
    card = b2b_scorecard(
        criteria_weights=judged,
        indicator_weights={
            "risk": {"credit_rating": 0.5, "default_history": 0.3, "legal_disputes": 0.2}
        },
        indicators=[
            Indicator(
                name="annual_revenue", direction="benefit", normaliser=MinMax(clip=(0.01, 0.99))
            )
        ],
        columns={"clv": "clv_3y"},
        missing="median",
    )
    weights = card.hierarchy.global_weights()
    assert weights["default_history"] == pytest.approx(0.2 * 0.3, rel=1e-9)
    by_name = {i.name: i for i in card.indicators}
    assert by_name["annual_revenue"].normaliser == MinMax(clip=(0.01, 0.99))
    assert by_name["clv"].source == "clv_3y"
    book = make_b2b_indicators(300, seed=1).rename(columns={"clv": "clv_3y"})
    out = card.fit(book).score(book)
    assert out["score"].between(0, 100).all()
    with pytest.raises(InvalidParameterError, match="unknown indicator"):
        b2b_scorecard(indicators=[Indicator(name="turnover", direction="benefit")])
    with pytest.raises(InvalidParameterError, match="columns names unknown"):
        b2b_scorecard(columns={"turnover": "x"})
    with pytest.raises(InvalidParameterError, match="unknown group"):
        b2b_scorecard(indicator_weights={"loyalty": DirectWeights.from_mapping({"a": 1.0})})


def test_b2b_preset_on_the_synthetic_book_forms_a_pyramid() -> None:
    book = make_b2b_indicators(5_000, seed=2026)
    out = b2b_scorecard().fit(book).score(book)
    counts = out["tier"].value_counts().reindex(list(POLICY_TIERS.labels()))
    assert (counts > 0).all()
    assert counts["Diamond"] < counts["Gold"] < counts["Silver"] < counts["Ordinary"]
    np.testing.assert_allclose(
        out[["financial_points", "potential_points", "risk_points"]].sum(axis=1),
        out["score"],
        atol=1e-9,
    )


# --- the synthetic B2B book ------------------------------------------------------------------


def test_make_b2b_indicators_is_seeded_and_in_range() -> None:
    a = make_b2b_indicators(2_000, seed=8)
    pd.testing.assert_frame_equal(a, make_b2b_indicators(2_000, seed=8))
    assert not a.equals(make_b2b_indicators(2_000, seed=9))
    assert a.index.name == "customer_id"
    assert a.index.is_unique
    assert (a["annual_revenue"] > 0).all()
    assert a["strategic_fit"].between(1, 5).all()
    assert a["credit_rating"].between(1, 10).all()
    assert (a[["default_history", "legal_disputes"]] >= 0).all().all()
    assert a["payment_cycle"].between(7, 180).all()
    # Quality drives the indicators together: margin and credit rating correlate.
    assert a["profit_margin"].corr(a["credit_rating"]) > 0.3
    with pytest.raises(InvalidParameterError, match="make_b2b_indicators"):
        make_b2b_indicators(0, seed=1)


def test_score_and_tier_is_score_without_the_explanations() -> None:
    book = make_b2b_indicators(500, seed=4)
    fitted = b2b_scorecard().fit(book)
    full = fitted.score(book)
    score, codes = fitted.score_and_tier(book)
    np.testing.assert_array_equal(score, full["score"].to_numpy())
    np.testing.assert_array_equal(codes, full["tier"].cat.codes.to_numpy())
