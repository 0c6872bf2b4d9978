"""The scorecard: hand-computed scores, missing values, frozen normalisation, properties, errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmscore import (
    POLICY_TIERS,
    ColumnNotFoundError,
    Criterion,
    FittedScorecard,
    FixedRange,
    Indicator,
    InvalidDataError,
    InvalidParameterError,
    LearnedScale,
    MinMax,
    PercentileRank,
    Scorecard,
    TierRule,
    b2b_scorecard,
    make_b2b_indicators,
)
from tests.strategies import indicator_frames

if TYPE_CHECKING:
    from crmscore.tiering import Normaliser
from tests.tiering_cards import COLUMNS, NORMALISERS, frame, single, three_indicator_card

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


def test_fit_learns_a_median_only_for_the_policy_that_uses_it() -> None:
    population = frame(x=[1.0, 2.0, 4.0, np.nan, 9.0])
    for policy in ("error", "zero"):
        data = population.dropna() if policy == "error" else population
        fitted = single(MinMax(), missing=policy).fit(data)
        assert np.isnan(fitted.medians[0])
        assert fitted.scales[0].params == (1.0, 9.0)
        # Strict JSON (no NaN token): an unlearned median is written as null.
        text = json.dumps(fitted.to_dict(), allow_nan=False)
        back = FittedScorecard.from_dict(json.loads(text))
        assert np.isnan(back.medians[0])
        assert back.scales == fitted.scales
    # An integer column is read without a float copy; the fit is the same.
    as_ints = single(MinMax()).fit(frame(x=[3, -2, 7]))
    assert as_ints.scales == single(MinMax()).fit(frame(x=[3.0, -2.0, 7.0])).scales
    assert as_ints.scales[0].params == (-2.0, 7.0)
    fitted = single(MinMax(), missing="median").fit(population)
    back = FittedScorecard.from_dict(json.loads(json.dumps(fitted.to_dict(), allow_nan=False)))
    assert back.medians == (3.0,)  # np.median of 1, 2, 4, 9


def test_fit_rejects_infinities_whatever_the_policy() -> None:
    for policy in ("error", "median", "zero"):
        for bad in (np.inf, -np.inf):
            with pytest.raises(InvalidDataError, match="infinite"):
                single(MinMax(), missing=policy).fit(
                    frame(x=[1.0, bad, np.nan][: 2 + (policy != "error")])
                )
    with pytest.raises(InvalidDataError, match="missing"):
        single(MinMax()).fit(frame(x=[1.0, np.nan]))
    # Finite values whose sum overflows are valid (the quick check must not reject them).
    fitted = single(MinMax()).fit(frame(x=[1e308, 1e308, -1.0]))
    assert fitted.scales[0].params == (-1.0, 1e308)


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


# --- properties -----------------------------------------------------------------------


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


# --- values are values: read-only state -----------------------------------------------------


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


def test_score_and_tier_is_score_without_the_explanations() -> None:
    book = make_b2b_indicators(500, seed=4)
    fitted = b2b_scorecard().fit(book)
    full = fitted.score(book)
    score, codes = fitted.score_and_tier(book)
    np.testing.assert_array_equal(score, full["score"].to_numpy())
    np.testing.assert_array_equal(codes, full["tier"].cat.codes.to_numpy())


def test_percentile_rank_knots_are_numpys_quantiles_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    for values in (rng.gamma(2.0, 3.0, 20_000), rng.integers(0, 50, 20_000).astype(float)):
        rule = PercentileRank(n_knots=1001)
        scale = Indicator(name="x", direction="benefit", normaliser=rule).fit(values)
        expected = np.quantile(values, np.linspace(0.0, 1.0, rule.n_knots))  # unsorted input
        assert scale.params == tuple(expected.tolist())
