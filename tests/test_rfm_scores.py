"""RFM scores: quantile and fixed bins, ties, fitted edges, summaries, JSON."""

from __future__ import annotations

import json
from typing import Literal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmscore import (
    ColumnNotFoundError,
    FittedRFMScorer,
    FixedBins,
    InvalidDataError,
    InvalidParameterError,
    QuantileBins,
    RFMScorer,
    ScoreDimension,
)
from tests.rfm_frames import frame_from, per_customer, rfm_like

# --- scores ---------------------------------------------------------------------------


def test_quantile_scores_hand_computed() -> None:
    table = per_customer(
        {
            "time_since_last": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            "n_purchases": [10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
            "total_spend": [5, 5, 5, 5, 5, 5, 5, 5, 5, 50],
        }
    )
    scores = RFMScorer().fit(table).score(table)
    assert scores["r_score"].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert scores["f_score"].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    # Nine tied customers take the score of the worst placed; the top one scores 5.
    assert scores["m_score"].tolist() == [1] * 9 + [5]
    assert (
        scores["rfm_score"].tolist()
        == (scores["r_score"] + scores["f_score"] + scores["m_score"]).tolist()
    )


def test_heavy_ties_do_not_raise_and_identical_customers_score_alike() -> None:
    # pd.qcut raises on these ties; rank(method="first") would split them by row order.
    table = per_customer(
        {
            "time_since_last": [0.0] * 7 + [3.0] * 3,
            "n_purchases": [1] * 8 + [2, 9],
            "total_spend": [1.0] * 10,
        }
    )
    scores = RFMScorer().fit(table).score(table)
    assert scores["f_score"].tolist() == [1] * 8 + [5, 5]
    # Worst to best, R's edges sit at positions 2, 4, 6, 8 of (3, 3, 3, 0, ..., 0): the
    # block of seven zeros starts at position 4, so it beats one edge and scores 2.
    assert scores["r_score"].tolist() == [2] * 7 + [1] * 3
    assert (scores["m_score"] == 1).all()


def test_fixed_thresholds_express_the_practice_guide_rule() -> None:
    # "purchased within the last 30 days, about 3 purchases a month, average order above 500"
    table = per_customer(
        {
            "time_since_last": [30, 31, 5, 10],
            "purchases_per_month": [3.0, 4.0, 2.9, 3.5],
            "average_spend": [501.0, 900.0, 800.0, 500.0],
        }
    )
    scorer = RFMScorer(
        recency=ScoreDimension(
            column="time_since_last",
            higher_is_better=False,
            bins=FixedBins(edges=(30,), at_edge="higher"),
        ),
        frequency=ScoreDimension(
            column="purchases_per_month",
            higher_is_better=True,
            bins=FixedBins(edges=(3,), at_edge="higher"),
        ),
        monetary=ScoreDimension(
            column="average_spend",
            higher_is_better=True,
            bins=FixedBins(edges=(500,), at_edge="lower"),
        ),
    )
    scores = scorer.fit(table).score(table)
    high_value = (scores[["r_score", "f_score", "m_score"]] == 2).all(axis=1)
    assert high_value.tolist() == [True, False, False, False]


@pytest.mark.parametrize(
    ("higher", "at_edge", "expected"),
    [
        (True, "lower", [1, 1, 2, 2, 3]),
        (True, "higher", [1, 2, 2, 3, 3]),
        (False, "lower", [3, 2, 2, 1, 1]),
        (False, "higher", [3, 3, 2, 2, 1]),
    ],
)
def test_fixed_bins_edge_rule(
    higher: bool, at_edge: Literal["lower", "higher"], expected: list[int]
) -> None:
    table = per_customer({"x": [0.0, 10.0, 15.0, 20.0, 30.0]})
    dimension = ScoreDimension(
        column="x", higher_is_better=higher, bins=FixedBins(edges=(10, 20), at_edge=at_edge)
    )
    scorer = RFMScorer(recency=dimension, frequency=dimension, monetary=dimension)
    assert scorer.fit(table).score(table)["r_score"].tolist() == expected


@given(rows=rfm_like, n_bins=st.integers(2, 9))
def test_quantile_score_properties(rows: list[tuple[int, int, int]], n_bins: int) -> None:
    table = frame_from(rows)
    bins = QuantileBins(n_bins=n_bins)
    scorer = RFMScorer(
        recency=ScoreDimension(column="time_since_last", higher_is_better=False, bins=bins),
        frequency=ScoreDimension(column="n_purchases", higher_is_better=True, bins=bins),
        monetary=ScoreDimension(column="total_spend", higher_is_better=True, bins=bins),
    )
    before = table.copy(deep=True)
    scores = scorer.fit(table).score(table)
    pd.testing.assert_frame_equal(table, before)
    assert scores.index.equals(table.index)
    for column in ("r_score", "f_score", "m_score"):
        assert scores[column].between(1, n_bins).all()
    # Monotone: more recent never scores lower on R; more purchases never lower on F.
    for source, score, sign in (("time_since_last", "r_score", -1), ("n_purchases", "f_score", 1)):
        order = np.argsort(sign * table[source].to_numpy(), kind="stable")
        assert (np.diff(scores[score].to_numpy()[order]) >= 0).all()
    # Identical customers, identical scores.
    combined = pd.concat([table, scores], axis=1)
    groups = combined.groupby(["time_since_last", "n_purchases", "total_spend"])["rfm_score"]
    assert (groups.max() == groups.min()).all()


@given(rows=rfm_like, data=st.data())
def test_scores_do_not_depend_on_row_order(
    rows: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    table = frame_from(rows)
    shuffled = table.iloc[list(data.draw(st.permutations(range(len(table)))))]
    scores = RFMScorer().fit(table).score(table)
    again = RFMScorer().fit(shuffled).score(shuffled).loc[table.index]
    pd.testing.assert_frame_equal(scores, again)


def test_fitted_edges_score_new_customers_without_shifting_anyone() -> None:
    table = frame_from([(i, i % 7 + 1, i * 13) for i in range(50)])
    fitted = RFMScorer().fit(table)
    newcomer = frame_from([(3, 4, 99)]).rename(index={"c0": "new"})
    before = fitted.score(table)
    after = fitted.score(pd.concat([table, newcomer]))
    pd.testing.assert_frame_equal(after.loc[table.index], before)
    # Scored against the fitted population: R edges (10, 20, 30, 40) days, F edges
    # (2, 3, 5, 6) purchases; 3 days beats all four R edges, 4 purchases beats two.
    assert fitted.frequency.edges == (2.0, 3.0, 5.0, 6.0)
    assert list(after.loc["new", ["r_score", "f_score"]]) == [5, 3]
    # Refitting on the grown population would move someone: the edges are what is frozen.
    refit = RFMScorer().fit(pd.concat([table, newcomer])).score(table)
    assert not refit.equals(before)


def test_summary_lists_each_dimension_and_its_rounded_edges() -> None:
    table = per_customer(
        {
            "time_since_last": [0.1, 0.2, 0.4],
            "n_purchases": [1.0, 2.0, 3.0],
            "total_spend": [0.1, 0.2, 0.7],
        }
    )
    fitted = RFMScorer.value_matrix().fit(table)
    assert fitted.recency.edges == (0.23333333333333336,)  # stored exactly
    summary = fitted.summary()
    assert summary.index.tolist() == ["R", "F", "M"]
    assert summary.index.name == "dimension"
    assert summary.columns.tolist() == [
        "score",
        "column",
        "direction",
        "n_scores",
        "edges",
        "at_edge",
    ]
    assert list(summary.loc["R"]) == [
        "r_score",
        "time_since_last",
        "lower is better",
        2,
        (0.233333333333,),
        "lower",
    ]
    assert summary.loc["F", "direction"] == "higher is better"
    assert summary["edges"].tolist() == [(0.233333333333,), (2.0,), (0.333333333333,)]
    quintiles = RFMScorer().fit(frame_from([(i, i % 5 + 1, i * 7) for i in range(30)]))
    assert quintiles.summary().loc["M", "edges"] == (3.5, 7.7, 11.9, 16.1)  # spend 0.7 i, i < 30
    assert quintiles.summary()["n_scores"].tolist() == [5, 5, 5]


def test_repr_rounds_edges_for_display_only() -> None:
    table = per_customer(
        {"time_since_last": [1.0, 2.0], "n_purchases": [1.0, 2.0], "total_spend": [893.22, 893.22]}
    )
    # A mean that carries binary noise: 893.22 * 3 / 3 is not 893.22 exactly.
    noisy = pd.concat([table, table.iloc[:1].rename(index={"c0": "c2"})])
    fitted = RFMScorer.value_matrix().fit(noisy)
    assert fitted.monetary.edges != (893.22,)
    text = repr(fitted)
    assert "monetary=FixedBins(edges=(893.22,), at_edge='lower')" in text
    assert "0000000" not in text
    assert text.startswith("FittedRFMScorer(scorer=RFMScorer(")


def test_scorer_rejects_duplicated_index_and_missing_columns() -> None:
    table = frame_from([(1, 1, 1), (2, 2, 2)])
    duplicated = pd.concat([table, table.iloc[:1]])
    with pytest.raises(InvalidDataError, match=r"repeats ids .* first \['c0'\]"):
        RFMScorer().fit(duplicated)
    with pytest.raises(ColumnNotFoundError, match="total_spend"):
        RFMScorer().fit(table.drop(columns="total_spend"))
    with pytest.raises(InvalidDataError, match="empty"):
        RFMScorer().fit(table.iloc[:0])


def test_bins_validation() -> None:
    with pytest.raises(InvalidParameterError, match="'n_bins' parameter of QuantileBins"):
        QuantileBins(n_bins=1)
    with pytest.raises(InvalidParameterError, match="non-decreasing"):
        FixedBins(edges=(3, 1))
    with pytest.raises(InvalidParameterError, match="non-empty"):
        FixedBins(edges=())


def test_scorer_json_round_trip() -> None:
    table = frame_from([(i, i % 5 + 1, i * 7) for i in range(30)])
    for scorer in (RFMScorer(), RFMScorer.value_matrix(statistic="median")):
        assert RFMScorer.from_dict(json.loads(json.dumps(scorer.to_dict()))) == scorer
        fitted = scorer.fit(table)
        again = FittedRFMScorer.from_dict(json.loads(json.dumps(fitted.to_dict())))
        assert again == fitted
        pd.testing.assert_frame_equal(again.score(table), fitted.score(table))
