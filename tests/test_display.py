"""The notebook experience: short reprs, HTML tables and one-call summaries.

The HTML is parsed back into its tables (with the standard library's parser), and
every number is compared with the value it shows; a book and an engine result are
checked never to show a customer id or an override note.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import pandas as pd
import pytest
from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

import crmscore as cs
from crmscore import (
    POLICY_TIERS,
    BetaGeoFitter,
    BetaGeoModel,
    GammaGammaFitter,
    PairwiseMatrix,
    TierScheme,
)
from crmscore._display import html_block
from crmscore.tiering import LearnedScale
from tests.html_tables import Tables, number


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    summary: pd.DataFrame = load_cdnow_summary_data_with_monetary_value()
    return summary


# --------------------------------------------------------------------------------------
# Fitted models
# --------------------------------------------------------------------------------------


def test_fitted_bgnbd_repr_names_parameters_and_fit(cdnow: pd.DataFrame) -> None:
    model = BetaGeoFitter().fit(cdnow)
    p = model.params
    assert repr(model) == (
        f"BetaGeoModel(r={p.r:.6g}, alpha={p.alpha:.6g}, a={p.a:.6g}, b={p.b:.6g}, "
        f"n_customers=2357, log_likelihood={model.log_likelihood:.6g}, converged=True)"
    )
    assert repr(BetaGeoModel.from_params(p, time_unit="W")).endswith("time_unit='W')")


def test_fitted_bgnbd_html_is_the_summary_table(cdnow: pd.DataFrame) -> None:
    model = BetaGeoFitter().fit(cdnow)
    parsed = Tables(model._repr_html_())
    assert parsed.facts()["customers"] == "2,357"
    assert parsed.facts()["optimiser"].startswith("trust-exact: converged=True")
    caption = next(c for c in parsed.captions if c and c.startswith("Parameters"))
    rows = parsed.rows(caption)
    summary = model.summary()
    assert parsed.tables[1][0][1:] == ["estimate", "std_error", "lower", "upper"]
    assert set(rows) >= {"r", "alpha", "a", "b"}
    for name in ("r", "alpha", "a", "b"):
        shown = [number(v) for v in rows[name]]
        np.testing.assert_allclose(shown, summary.loc[name], rtol=1e-5)
    assert model.standard_errors is not None
    np.testing.assert_allclose(number(rows["alpha"][1]), model.standard_errors["alpha"], rtol=1e-5)


def test_model_from_parameters_shows_no_standard_errors() -> None:
    model = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    parsed = Tables(model._repr_html_())
    caption = parsed.captions[-1]
    assert caption is not None
    assert "no standard errors" in caption
    rows = parsed.rows(caption)
    assert rows["alpha"] == ["4.414", "-", "-", "-"]


def test_gamma_gamma_repr_and_html(cdnow: pd.DataFrame) -> None:
    model = GammaGammaFitter().fit(cdnow)
    p = model.params
    assert repr(model).startswith(f"GammaGammaModel(p={p.p:.6g}, q={p.q:.6g}, v={p.v:.6g}, ")
    assert "n_customers=946" in repr(model)
    parsed = Tables(model._repr_html_())
    assert number(parsed.facts()["population mean spend"]) == pytest.approx(
        model.mean_spend, rel=1e-5
    )
    caption = parsed.captions[-1]
    assert caption is not None
    rows = parsed.rows(caption)
    np.testing.assert_allclose([number(v) for v in rows["q"]], model.summary().loc["q"], rtol=1e-5)


# --------------------------------------------------------------------------------------
# Tier schemes, AHP, scorecards
# --------------------------------------------------------------------------------------


def test_tier_scheme_repr_and_summary_show_the_bounds() -> None:
    assert repr(POLICY_TIERS) == (
        "TierScheme(Ordinary (普通级) >= 0, Silver (白银级) >= 60, Gold (黄金级) >= 80, "
        "Diamond (钻石级) >= 90)"
    )
    assert repr(TierScheme.from_bounds({"C": 0, "B": 50, "A": 75.5})) == (
        "TierScheme(C >= 0, B >= 50, A >= 75.5)"
    )
    summary = POLICY_TIERS.summary()
    assert list(summary.index) == list(POLICY_TIERS.keys)
    assert summary["lower_bound"].tolist() == [0.0, 60.0, 80.0, 90.0]
    assert summary["upper_bound"].tolist() == [60.0, 80.0, 90.0, math.inf]
    rows = Tables(POLICY_TIERS._repr_html_()).rows("")
    assert rows["gold"] == ["Gold", "黄金级", "80", "90", "80 <= score < 90"]


def test_learned_scale_repr_does_not_dump_its_knots() -> None:
    knots = tuple(np.linspace(0.0, 1000.0, 1001))
    assert repr(LearnedScale(kind="percentile_rank", params=knots)) == (
        "LearnedScale(kind='percentile_rank', params=<1001 values>, clip_low=None, clip_high=None)"
    )
    assert "params=(0.0, 4.0)" in repr(LearnedScale(kind="fixed_range", params=(0.0, 4.0)))


def test_pairwise_matrix_html_shows_weights_and_consistency() -> None:
    matrix = PairwiseMatrix.from_judgments(
        {("a", "b"): 3, ("a", "c"): 5, ("b", "c"): 2}, max_consistency_ratio=None
    )
    parsed = Tables(matrix._repr_html_())
    assert number(parsed.facts()["consistency ratio"]) == pytest.approx(
        matrix.consistency_ratio, rel=1e-5
    )
    rows = parsed.rows("")
    for label, weight in matrix.weights.items():
        assert number(rows[label][-1]) == pytest.approx(weight, rel=1e-5)
    assert number(rows["a"][1]) == 3.0


@pytest.fixture(scope="module")
def b2b() -> tuple[pd.DataFrame, cs.FittedScorecard]:
    book = cs.make_b2b_indicators(2_000, seed=21)
    judgments = PairwiseMatrix.from_judgments(
        {("financial", "potential"): "5/3", ("financial", "risk"): 3, ("potential", "risk"): 2},
        max_consistency_ratio=None,
    )
    card = cs.b2b_scorecard(
        criteria_weights=judgments,
        rules=[
            cs.TierRule(name="VIP", column="annual_revenue", op=">=", threshold=2e7, tier="gold")
        ],
    )
    return book, card.fit(book)


def test_scorecard_summary_is_the_weight_tree_with_settings(
    b2b: tuple[pd.DataFrame, cs.FittedScorecard],
) -> None:
    book, fitted = b2b
    card = fitted.scorecard
    summary = card.summary()
    pd.testing.assert_frame_equal(
        summary[["parent", "level", "kind", "local_weight", "global_weight"]],
        card.hierarchy.weight_table(),
    )
    indicators = summary[summary["kind"] == "indicator"]
    assert indicators["global_weight"].sum() == pytest.approx(1.0, abs=1e-12)
    weights = card.hierarchy.weights
    assert isinstance(weights, PairwiseMatrix)
    top = summary[summary["parent"] == card.hierarchy.name]
    assert (top["consistency_ratio"] == weights.consistency_ratio).all()
    assert weights.consistency_ratio > 0
    by_name = {i.name: i for i in card.indicators}
    assert indicators["direction"].to_dict() == {n: by_name[n].direction for n in indicators.index}
    assert indicators["normaliser"].to_dict() == {
        n: repr(by_name[n].normaliser) for n in indicators.index
    }

    learned = fitted.summary()
    for name, scale, median in zip(fitted.indicators, fitted.scales, fitted.medians, strict=True):
        assert learned.loc[name, "scale"] == scale.describe()
        # The median is learned only for the policy that uses it (missing="median").
        assert card.missing != "median"
        assert np.isnan(learned["median"].to_numpy(dtype=float)).all()
        assert np.isnan(median)
    with_median = attrs.evolve(card, missing="median").fit(book)
    for name, median in zip(with_median.indicators, with_median.medians, strict=True):
        assert with_median.summary().loc[name, "median"] == median
        assert median == np.median(book[by_name[name].source])


def test_scorecard_reprs_are_short_and_html_has_weights_and_tiers(
    b2b: tuple[pd.DataFrame, cs.FittedScorecard],
) -> None:
    _, fitted = b2b
    text = repr(fitted)
    assert len(text) < 300  # it was 36,000 characters of percentile knots
    assert text.startswith("FittedScorecard(hierarchy='customer value', indicators=9, tiers=")
    assert text.endswith("rules=('VIP',), missing='error', n_customers=2000)")
    assert repr(fitted.scorecard).startswith("Scorecard(hierarchy='customer value'")
    parsed = Tables(fitted._repr_html_())
    assert parsed.facts()["rule 'VIP'"] == fitted.scorecard.rules[0].describe(POLICY_TIERS)
    weights = parsed.rows("Weight tree")
    for name, weight in fitted.weights.items():
        assert number(weights[name][4]) == pytest.approx(weight, rel=1e-5)
    assert list(parsed.rows("Tiers")) == [*POLICY_TIERS.keys]
    tree = Tables(fitted.scorecard.hierarchy._repr_html_()).rows("")
    assert set(tree) == set(fitted.scorecard.hierarchy.weight_table().index)


def test_early_warning_repr_names_its_signals_and_rules() -> None:
    warning = cs.EarlyWarning()
    text = repr(warning)
    assert len(text) < 400  # the thresholds of every signal took 2,350 characters
    assert all(signal.name in text for signal in warning.signals)
    assert all(rule.name in text for rule in warning.rules)
    assert text == (
        f"EarlyWarning(signals={', '.join(s.name for s in warning.signals)!r}, "
        f"rules={', '.join(r.name for r in warning.rules)!r})"
    )


def test_early_warning_html_lists_signals_and_rules() -> None:
    warning = cs.EarlyWarning()
    parsed = Tables(warning._repr_html_())
    assert parsed.facts() == {
        "signals": str(len(warning.signals)),
        "rules": str(len(warning.rules)),
        "levels": "none < blue < yellow < red",
    }
    summary = warning.summary()
    signals = parsed.rows("Signals")
    assert list(signals) == [s.name for s in warning.signals]
    # The built-in signals' type is their name, so the column is left out.
    assert parsed.tables[parsed.captions.index("Signals")][0][1:] == [
        "group",
        "parameters",
        "used_by",
    ]
    for name, cells in signals.items():
        assert cells == [str(summary.loc[name, c]) for c in ("group", "parameters", "used_by")]
    rules = parsed.rows("Rules (highest level wins)")
    assert rules == {r.name: [r.level, r.description] for r in warning.rules}


def test_early_warning_html_shows_the_type_of_a_renamed_signal() -> None:
    warning = cs.EarlyWarning(
        signals=(cs.churn.InteractionStop(name="silent_45", days=45),),
        rules=(cs.churn.Rule(name="silent", level="blue", when=cs.churn.Fired(name="silent_45")),),
    )
    signals = Tables(warning._repr_html_()).rows("Signals")
    group, kind, parameters, used_by = signals["silent_45"]
    assert (group, kind, used_by) == ("behaviour", "interaction_stop", "silent (blue)")
    assert parameters.startswith("days=45, ")


def test_html_tables_scroll_inside_the_notebook_width() -> None:
    wide = pd.DataFrame(np.arange(60.0).reshape(2, 30), columns=[f"column_{i}" for i in range(30)])
    document = html_block("wide", tables=[("wide", wide)])
    before, table, _ = document.partition("<table class=")
    assert table
    assert before.endswith('<div style="max-width:100%;overflow-x:auto">')
    parsed = Tables(document)
    assert parsed.rows("wide")["1"][-1] == "59"
    assert "<td>" not in document  # every text cell may wrap
