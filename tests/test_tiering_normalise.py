"""Tiering normalisers: hand-computed and distribution oracles, learned scales."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm

from crmscore import (
    FixedRange,
    InvalidParameterError,
    LearnedScale,
    MinMax,
    PercentileRank,
    ZScore,
)
from crmscore.tiering._normalise import _SORT_FIRST, interp_in_order

if TYPE_CHECKING:
    from crmscore.tiering import Normaliser
from tests.tiering_cards import frame, single


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


def test_interp_in_order_is_np_interp_to_the_last_bit() -> None:
    # The sorted pass must give np.interp's own array exactly: values in no order,
    # repeated values, values on the knots, outside them, NaN and signed zeros.
    rng = np.random.default_rng(17)
    knots = np.unique(np.r_[rng.gamma(2.0, size=1001), 0.0])
    levels = np.linspace(0.0, 1.0, knots.size) ** 1.7
    x = np.r_[
        rng.gamma(2.0, size=5000),
        rng.choice(knots, 500),
        [-1.0, -0.0, 0.0, 1e300, -np.inf, np.inf, np.nan, np.nan],
        np.round(rng.gamma(2.0, size=500), 1),
    ]
    rng.shuffle(x)
    assert x.size >= _SORT_FIRST
    for values in (x, x[: _SORT_FIRST - 1], x[:1], x[:0]):
        expected = np.interp(values, knots, levels)
        got = interp_in_order(values, knots, levels)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got.view(np.int64), expected.view(np.int64))
