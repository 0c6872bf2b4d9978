"""A/B comparison of tier schemes (tiering/_ab.py).

Oracles: scipy (Wilson intervals, the chi-square test of a 2 x 2 table, a percentile
bootstrap), Newcombe's published intervals, and hand-computed outcomes on a
six-customer log.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from crmscore import (
    InvalidDataError,
    InvalidParameterError,
    SchemeComparison,
    assign_arms,
    compare_schemes,
)
from crmscore.tiering._ab import _normal_quantile, _proportion, _two_proportions

Q95 = _normal_quantile(0.95)


# --- arms -----------------------------------------------------------------------------


@given(
    st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=60, unique=True),
    st.lists(st.integers(-(10**12), 10**12), max_size=60, unique=True),
    st.integers(0, 2**32),
)
def test_an_arm_never_changes_when_customers_are_added(
    book: list[int], newcomers: list[int], seed: int
) -> None:
    before = assign_arms(book, arms=["A", "B", "C"], seed=seed)
    grown = list(dict.fromkeys([*reversed(newcomers), *book]))  # others added, order changed
    after = assign_arms(grown, arms=["A", "B", "C"], seed=seed)
    assert after.loc[book].tolist() == before.tolist()
    text = assign_arms([str(i) for i in book], seed=seed)  # any hashable id type
    assert len(text) == len(book)


def test_arms_follow_the_shares_and_the_seed() -> None:
    ids = pd.RangeIndex(1, 100_001)
    equal = assign_arms(ids, seed=3).value_counts()
    assert abs(equal["A"] - 50_000) < 4 * np.sqrt(100_000 * 0.25)  # binomial, 4 sigma
    skewed = assign_arms(ids, arms=["t", "c"], shares=[0.2, 0.8], seed=3).value_counts()
    assert abs(skewed["t"] - 20_000) < 4 * np.sqrt(100_000 * 0.16)
    again = assign_arms(ids[:1000], seed=3)
    other = assign_arms(ids[:1000], seed=4)
    assert again.equals(assign_arms(ids[:1000], seed=3))
    assert 400 < int((again != other).sum()) < 600  # a new seed reshuffles about half
    crossed = pd.crosstab(again, other)  # and independently of the old arms
    assert (crossed.to_numpy() > 200).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"arms": ["A"]}, "arms"),
        ({"arms": ["A", "A"]}, "arms"),
        ({"shares": [0.5, 0.6]}, "shares"),
        ({"shares": [1.0, 0.0]}, "shares"),
        ({"shares": [1.0]}, "shares"),
        ({"seed": -1}, "seed"),
    ],
)
def test_assign_arms_parameters(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        assign_arms([1, 2, 3], **kwargs)
    with pytest.raises(InvalidParameterError, match="repeat"):
        assign_arms([1, 1, 2])
    with pytest.raises(InvalidParameterError, match="repeat"):
        assign_arms(pd.Index([1, 1.0, 2], dtype=object))  # one id, spelt twice
    with pytest.raises(InvalidDataError, match="id"):
        assign_arms([True, False])


def test_an_id_keeps_its_arm_whatever_its_spelling() -> None:
    as_ints = assign_arms(np.arange(1, 201), seed=5)
    for spelt in (np.arange(1.0, 201.0), np.arange(1, 201, dtype=np.uint16), list(range(1, 201))):
        assert assign_arms(spelt, seed=5).tolist() == as_ints.tolist()
    # strings are other ids: "1" is not 1, so the arms are drawn afresh
    as_text = assign_arms([str(i) for i in range(1, 201)], seed=5)
    assert as_text.tolist() != as_ints.tolist()


# --- the statistics against outside references ----------------------------------------


@given(st.integers(0, 300), st.integers(1, 300))
def test_wilson_interval_matches_scipy(successes: int, extra: int) -> None:
    n = successes + extra
    share, low, high = _proportion(successes, n, Q95)
    reference = stats.binomtest(successes, n).proportion_ci(method="wilson")
    assert share == successes / n
    np.testing.assert_allclose([low, high], [reference.low, reference.high], atol=1e-12)


@given(st.integers(0, 200), st.integers(1, 200), st.integers(0, 200), st.integers(1, 200))
def test_two_proportion_z_test_matches_the_chi_square_test(
    x1: int, miss1: int, x0: int, miss0: int
) -> None:
    n1, n0 = x1 + miss1, x0 + miss0
    diff, low, high, z, p = _two_proportions(x1, n1, x0, n0, Q95)
    assert diff == pytest.approx(x1 / n1 - x0 / n0)
    assert low <= diff <= high
    table = np.array([[x1, n1 - x1], [x0, n0 - x0]])
    if (table.sum(axis=0) == 0).any():  # one outcome only: no test possible
        assert (z, p) == (0.0, 1.0)
        return
    chi2, reference, _, _ = stats.chi2_contingency(table, correction=False)
    assert z * z == pytest.approx(chi2, rel=1e-9, abs=1e-12)
    assert p == pytest.approx(reference, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(
    ("counts", "published"),
    [
        ((56, 70, 48, 80), (0.0524, 0.3339)),  # Newcombe (1998), table II, example (a)
        ((9, 10, 3, 10), (0.1705, 0.8090)),  # example (b)
        ((5, 56, 0, 29), (-0.0381, 0.1926)),  # example (d)
        ((0, 10, 0, 20), (-0.1611, 0.2775)),  # example (e)
        ((0, 10, 0, 10), (-0.2775, 0.2775)),  # example (f)
        ((10, 10, 0, 20), (0.6791, 1.0)),  # example (g)
        ((10, 10, 0, 10), (0.6075, 1.0)),  # example (h)
    ],
)
def test_newcombe_interval_matches_the_published_values(
    counts: tuple[int, int, int, int], published: tuple[float, float]
) -> None:
    _, low, high, _, _ = _two_proportions(*counts, Q95)
    assert (round(low, 4), round(high, 4)) == published


# --- compare_schemes on a log computed by hand ----------------------------------------


def _log() -> pd.DataFrame:
    rows = [
        # period: after 2025-06-30 up to 2025-12-31
        ("a1", "2025-07-10", "purchase", 100.0),
        ("a2", "2025-08-01", "purchase", 50.0),
        ("a2", "2025-09-01", "purchase", 50.0),
        ("a3", "2025-01-01", "purchase", 999.0),  # before the period
        ("b1", "2025-10-01", "purchase", 300.0),
        ("b2", "2025-11-01", "interaction", np.nan),
        ("b3", "2026-01-02", "purchase", 70.0),  # after the period
    ]
    log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "kind", "value"])
    log["timestamp"] = pd.to_datetime(log["timestamp"])
    return log


ARMS = pd.Series(["A", "A", "A", "B", "B", "B"], index=["a1", "a2", "a3", "b1", "b2", "b3"])
SCHEME_A = pd.Series(["gold", "gold", "silver", "gold", "silver", "silver"], index=ARMS.index)
SCHEME_B = pd.Series(["top", "low", "low", "top", "top", "low"], index=ARMS.index)


def _row(frame: pd.DataFrame, *key: str) -> dict[Any, Any]:
    return frame.loc[[key]].iloc[0].to_dict()


def _compare(**kwargs: Any) -> SchemeComparison:
    arguments: dict[str, Any] = {
        "arms": ARMS,
        "tiers": {"A": SCHEME_A, "B": SCHEME_B},
        "high_value": {"A": ["gold"], "B": ["top"]},
        "start": "2025-06-30",
        "end": "2025-12-31",
        "n_resamples": 400,
        "seed": 5,
        **kwargs,
    }
    return compare_schemes(_log(), **arguments)


def test_compare_schemes_by_hand() -> None:
    later = {
        "A": SCHEME_A.replace({"silver": "gold"}),  # a3 moves up: 2 of 3 stable
        "B": SCHEME_B,  # all 3 stable
    }
    result = _compare(later_tiers=later)
    arms = result.arms
    assert arms.index.tolist() == ["A", "B"]
    assert arms["customers"].tolist() == [3, 3]
    assert arms["high_value"].tolist() == [2, 2]  # A: a1, a2 (gold); B: b1, b2 (top)
    assert arms["high_value_retained"].tolist() == [2, 1]  # b2 only logged in
    assert arms["retention"].tolist() == [1.0, 0.5]
    assert arms["revenue"].tolist() == [200.0, 300.0]  # a3's and b3's purchases are outside
    assert arms["revenue_per_customer"].tolist() == pytest.approx([200 / 3, 100.0])
    assert arms["stable"].tolist() == [2, 3]
    assert arms["stability"].tolist() == pytest.approx([2 / 3, 1.0])
    tests = result.tests
    assert tests.index.tolist() == [
        ("B", "retention"),
        ("B", "stability"),
        ("B", "revenue_per_customer"),
    ]
    retention = _row(tests, "B", "retention")
    diff, low, high, _, p = _two_proportions(1, 2, 2, 2, Q95)
    assert retention["difference"] == diff == -0.5
    assert (retention["low"], retention["high"], retention["p_value"]) == (low, high, p)
    revenue = _row(tests, "B", "revenue_per_customer")
    assert revenue["difference"] == pytest.approx(100 - 200 / 3)
    assert revenue["method"] == "bootstrap"
    # any event keeps a customer: b2's login now counts
    logins = _compare(active_kinds=("purchase", "interaction"))
    assert logins.arms["retention"].tolist() == [1.0, 1.0]
    # one list of high-value tiers for both arms
    shared = _compare(high_value=["gold", "top"])
    assert shared.arms["high_value"].tolist() == [2, 2]


def test_the_bootstrap_is_seeded_and_agrees_with_scipy() -> None:
    rng = np.random.default_rng(1)
    n = 400
    ids = pd.RangeIndex(n)
    arms = pd.Series(np.where(np.arange(n) % 2 == 0, "A", "B"), index=ids)
    amounts = rng.gamma(2.0, 100.0, size=n)
    log = pd.DataFrame(
        {
            "customer_id": ids,
            "timestamp": pd.Timestamp("2025-08-01"),
            "kind": "purchase",
            "value": amounts,
        }
    )
    tiers = pd.Series("gold", index=ids)
    arguments: dict[str, Any] = {
        "arms": arms,
        "tiers": {"A": tiers, "B": tiers},
        "high_value": ["gold"],
        "start": "2025-06-30",
        "end": "2025-12-31",
        "n_resamples": 4000,
        "seed": 9,
    }
    first = compare_schemes(log, **arguments)
    assert first.arms.equals(compare_schemes(log, **arguments).arms)  # same seed, same CIs
    reseeded = compare_schemes(log, **{**arguments, "seed": 10})
    assert not first.arms["revenue_low"].equals(reseeded.arms["revenue_low"])
    a_values = amounts[::2]
    reference = stats.bootstrap(
        (a_values,), np.mean, n_resamples=4000, method="percentile", random_state=3
    ).confidence_interval
    row = first.arms.loc["A"].to_dict()
    assert row["revenue_low"] < a_values.mean() < row["revenue_high"]
    width = reference.high - reference.low
    assert abs(row["revenue_low"] - reference.low) < 0.1 * width  # Monte Carlo error only
    assert abs(row["revenue_high"] - reference.high) < 0.1 * width
    revenue = _row(first.tests, "B", "revenue_per_customer")
    assert revenue["low"] < revenue["difference"] < revenue["high"]
    welch = stats.ttest_ind(amounts[1::2], a_values, equal_var=False).pvalue
    assert abs(revenue["p_value"] - welch) < 0.1  # two roads to the same answer


def test_scheme_comparison_is_a_value_with_an_html_repr() -> None:
    result = _compare(later_tiers={"A": SCHEME_A, "B": SCHEME_B})
    again = SchemeComparison.from_dict(json.loads(json.dumps(result.to_dict())))
    pd.testing.assert_frame_equal(again.arms, result.arms, check_dtype=False)
    pd.testing.assert_frame_equal(again.tests, result.tests, check_dtype=False)
    assert (again.control, again.seed, again.n_resamples) == ("A", 5, 400)
    html = result._repr_html_()
    assert "A/B comparison of tier schemes" in html
    assert html.count("<table") >= 3
    assert repr(result).startswith("SchemeComparison(control='A'; A: retention 1.000")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tiers": {"A": SCHEME_A}}, InvalidParameterError, "two or more arms"),
        ({"control": "C"}, InvalidParameterError, "control 'C'"),
        ({"high_value": {"A": ["gold"]}}, InvalidParameterError, r"arm\(s\) \['B'\]"),
        ({"end": "2025-06-30"}, InvalidParameterError, "after start"),
        ({"confidence": 1.0}, InvalidParameterError, "confidence"),
        ({"n_resamples": 10}, InvalidParameterError, "n_resamples"),
        ({"colour": "x"}, InvalidParameterError, "colour"),
        ({"active_kinds": ("login",)}, InvalidParameterError, "login"),
        (
            {"tiers": {"A": SCHEME_A, "B": SCHEME_B.drop("b3")}},
            InvalidDataError,
            "b3",
        ),
        (
            {"arms": pd.concat([ARMS, pd.Series(["C"], index=["c1"])])},
            InvalidParameterError,
            "without tiers",
        ),
    ],
)
def test_compare_schemes_parameters(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        _compare(**kwargs)
