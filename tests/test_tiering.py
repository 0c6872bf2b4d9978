"""Tiering: normalisers, the scorecard, tier schemes and rules, k-means groups, the preset."""

from __future__ import annotations

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
    from crmscore.tiering import Direction, Normaliser

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


def test_kmeans_recovers_separated_groups_and_ranks_them_by_score() -> None:
    rng = np.random.default_rng(3)
    centres = np.array([10.0, 40.0, 70.0, 95.0])
    members = np.repeat(centres, 50) + rng.normal(0, 1.0, 200)
    order = rng.permutation(200)
    book = frame(x=members[order].tolist())
    fitted = single(FixedRange(low=0, high=100)).fit(book)
    groups = KMeansTiering(seed=0).fit(book, scorecard=fitted)
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
