"""RFM segments: the built-in maps, user maps, one segment per customer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given

from crmscore import (
    CLASSIC_SEGMENTS,
    VALUE_MATRIX_SEGMENTS,
    FixedBins,
    InvalidDataError,
    InvalidParameterError,
    RFMScorer,
    ScoreDimension,
    Segment,
    SegmentMap,
    make_transactions,
    rfm_segments,
    rfm_table,
)
from tests.rfm_frames import frame_from, per_customer, rfm_like

# --- segments -------------------------------------------------------------------------


@pytest.mark.parametrize("segment_map", [CLASSIC_SEGMENTS, VALUE_MATRIX_SEGMENTS])
def test_builtin_maps_partition_their_grid_and_reach_every_segment(segment_map: SegmentMap) -> None:
    cells = segment_map.cell_table()
    assert len(cells) == int(np.prod(segment_map.n_scores))
    assert set(cells["key"]) == {s.key for s in segment_map.segments}
    assert SegmentMap.from_dict(json.loads(json.dumps(segment_map.to_dict()))) == segment_map


def test_classic_map_has_the_eleven_named_segments() -> None:
    assert CLASSIC_SEGMENTS.labels() == [
        "Champions",
        "Loyal",
        "Potential Loyalist",
        "New",
        "Promising",
        "Need Attention",
        "About to Sleep",
        "At Risk",
        "Can't Lose Them",
        "Hibernating",
        "Lost",
    ]
    scores = pd.DataFrame({"r_score": [5, 1, 1, 5], "f_score": [5, 1, 5, 1]})
    assert CLASSIC_SEGMENTS.score(scores).tolist() == [
        "Champions",
        "Lost",
        "Can't Lose Them",
        "New",
    ]


def test_value_matrix_high_recency_means_recent() -> None:
    # The common swap bug: treating a large days-since-last-purchase as "high R".
    table = per_customer(
        {
            "time_since_last": [2.0, 300.0, 5.0, 280.0],
            "n_purchases": [30.0, 30.0, 1.0, 1.0],
            "total_spend": [9000.0, 9000.0, 10.0, 10.0],
        }
    )
    segments = rfm_segments(table, segment_map=VALUE_MATRIX_SEGMENTS, language="zh")
    assert segments["segment"].tolist() == [
        "重要价值客户",
        "重要保持客户",
        "一般发展客户",
        "一般挽留客户",
    ]
    english = rfm_segments(table, segment_map=VALUE_MATRIX_SEGMENTS)
    assert english.loc["c0", "segment"] == "Important value"


def test_overlapping_or_incomplete_maps_are_rejected() -> None:
    low = Segment(key="low", label_en="Low", label_zh="低", ranges=[(1, 2)])
    high = Segment(key="high", label_en="High", label_zh="高", ranges=[(2, 3)])
    with pytest.raises(
        InvalidParameterError, match=r"'low' and 'high' overlap at score cells \[\(2,\)\]"
    ):
        SegmentMap(name="bad", dimensions=["r_score"], n_scores=[3], segments=[low, high])
    with pytest.raises(InvalidParameterError, match=r"belong to no segment, first \[\(3,\)\]"):
        SegmentMap(name="bad", dimensions=["r_score"], n_scores=[3], segments=[low])
    with pytest.raises(InvalidParameterError, match="outside"):
        SegmentMap(
            name="bad",
            dimensions=["r_score"],
            n_scores=[3],
            segments=[Segment(key="x", label_en="X", label_zh="X", ranges=[(0, 3)])],
        )


def test_map_and_scorer_must_agree() -> None:
    table = frame_from([(i, i % 5 + 1, i * 7) for i in range(30)])
    with pytest.raises(InvalidParameterError, match="expects 5 scores on 'r_score'"):
        rfm_segments(table, segment_map=CLASSIC_SEGMENTS, scorer=RFMScorer.value_matrix())
    out_of_grid = pd.DataFrame({"r_score": [6], "f_score": [1]}, index=pd.Index(["z"]))
    with pytest.raises(InvalidDataError, match=r"outside 1..5, .* first \['z'\]"):
        CLASSIC_SEGMENTS.score(out_of_grid)


def test_a_user_segment_map_runs_through_rfm_segments() -> None:
    membership = SegmentMap(
        name="membership",
        dimensions=("f_score", "m_score"),
        n_scores=(3, 2),
        segments=[
            Segment(key="gold", label_en="Gold", label_zh="金卡", ranges=[(3, 3), (2, 2)]),
            Segment(key="silver", label_en="Silver", label_zh="银卡", ranges=[(2, 3), (1, 1)]),
            Segment(key="member", label_en="Member", label_zh="会员", ranges=[(1, 2), (2, 2)]),
            Segment(key="basic", label_en="Basic", label_zh="普通", ranges=[(1, 1), (1, 1)]),
        ],
    )
    table = per_customer(
        {
            "time_since_last": [5.0, 5.0, 5.0, 5.0, 5.0],
            "n_purchases": [1.0, 4.0, 12.0, 12.0, 1.0],
            "total_spend": [50.0, 80.0, 900.0, 90.0, 700.0],
        }
    )
    scorer = RFMScorer(
        recency=ScoreDimension(
            column="time_since_last", higher_is_better=False, bins=FixedBins(edges=(30,))
        ),
        frequency=ScoreDimension(
            column="n_purchases", higher_is_better=True, bins=FixedBins(edges=(2, 10))
        ),
        monetary=ScoreDimension(
            column="total_spend", higher_is_better=True, bins=FixedBins(edges=(500,))
        ),
    )
    result = rfm_segments(table, segment_map=membership, scorer=scorer)
    assert result["f_score"].tolist() == [1, 2, 3, 3, 1]
    assert result["m_score"].tolist() == [1, 1, 2, 1, 2]
    assert result["segment"].tolist() == ["Basic", "Silver", "Gold", "Silver", "Member"]
    assert result["segment"].cat.categories.tolist() == ["Gold", "Silver", "Member", "Basic"]
    chinese = rfm_segments(table, segment_map=membership, scorer=scorer.fit(table), language="zh")
    assert chinese["segment"].tolist() == ["普通", "银卡", "金卡", "银卡", "会员"]
    # A map that carries its scorer needs no scorer= argument.
    own = SegmentMap.from_dict({**membership.to_dict(), "scorer": scorer.to_dict()})
    pd.testing.assert_frame_equal(rfm_segments(table, segment_map=own), result)


def test_a_map_without_a_scorer_needs_one_passed() -> None:
    halves = SegmentMap(
        name="halves",
        dimensions=("r_score",),
        n_scores=(2,),
        segments=[
            Segment(key="low", label_en="Low", label_zh="低", ranges=[(1, 1)]),
            Segment(key="high", label_en="High", label_zh="高", ranges=[(2, 2)]),
        ],
    )
    table = frame_from([(i, i % 5 + 1, i * 7) for i in range(10)])
    with pytest.raises(
        InvalidParameterError, match=r"Segment map 'halves' has no scorer of its own; pass scorer="
    ):
        rfm_segments(table, segment_map=halves)
    result = rfm_segments(table, segment_map=halves, scorer=RFMScorer.value_matrix())
    # Mean time_since_last is 4.5: customers 0..4 are more recent, hence high R.
    assert result["segment"].tolist() == ["High"] * 5 + ["Low"] * 5


@given(rows=rfm_like)
def test_every_customer_gets_exactly_one_segment(rows: list[tuple[int, int, int]]) -> None:
    table = frame_from(rows)
    for segment_map in (CLASSIC_SEGMENTS, VALUE_MATRIX_SEGMENTS):
        result = rfm_segments(table, segment_map=segment_map)
        assert result.index.equals(table.index)
        assert result["segment"].notna().all()
        assert set(result["segment"]) <= set(segment_map.labels())


def test_segments_on_a_synthetic_book_reach_every_classic_segment() -> None:
    book = make_transactions(20_000, seed=5)
    table = rfm_table(book.transactions, as_of=book.as_of)
    counts = rfm_segments(table)["segment"].value_counts()
    assert (counts > 0).all()
    assert counts.sum() == len(table)
