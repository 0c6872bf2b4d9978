"""docs/migration.md runs: its crmscore and lifetimes snippets, and the claims it makes.

The page's fenced blocks titled ``data`` run first in both namespaces; then every
``crmscore`` block runs in order in one namespace and every ``lifetimes`` block in
another; the ``bridge`` blocks run last in the crmscore one, given lifetimes' fitters.
The two are compared: the tables agree, and at lifetimes' fitted parameters
crmscore's predictions equal lifetimes' (the outside reference) to 1e-8 relative.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest

import crmscore as cs
from crmscore.errors import InvalidDataError

if TYPE_CHECKING:
    from lifetimes import BetaGeoFitter as LifetimesBetaGeo

PAGE = Path(__file__).resolve().parents[1] / "docs" / "migration.md"
BLOCK = re.compile(r'^```python title="(?P<title>[a-z]+)"\n(?P<code>.*?)^```$', re.S | re.M)


def _blocks(title: str) -> list[str]:
    return [
        m["code"] for m in BLOCK.finditer(PAGE.read_text(encoding="utf-8")) if m["title"] == title
    ]


def _run(title: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    for code in _blocks("data") + _blocks(title):
        exec(compile(code, f"{PAGE.name}:{title}", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def pages() -> tuple[dict[str, Any], dict[str, Any]]:
    mpl.use("Agg")
    ours, theirs = _run("crmscore"), _run("lifetimes")
    ours.update(bgf=theirs["bgf"], ggf=theirs["ggf"])
    for code in _blocks("bridge"):
        exec(compile(code, f"{PAGE.name}:bridge", "exec"), ours)
    return ours, theirs


def test_the_page_has_both_sides() -> None:
    titles = [m["title"] for m in BLOCK.finditer(PAGE.read_text(encoding="utf-8"))]
    assert set(titles) == {"data", "crmscore", "lifetimes", "bridge"}
    assert titles.count("crmscore") >= 7
    assert titles.count("lifetimes") >= 5


def test_the_tables_agree(pages: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ours, theirs = pages
    table, summary = ours["table"], theirs["summary"]
    assert len(table) == len(summary) == 2357
    columns = ["frequency", "recency", "T", "monetary_value"]
    pd.testing.assert_frame_equal(
        table[columns].astype(float), summary.loc[table.index, columns].astype(float)
    )
    split, calibration = ours["split"], theirs["calibration"]
    for name in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(
            split[name].to_numpy(float), calibration.loc[split.index, f"{name}_cal"].to_numpy(float)
        )


def test_both_fits_land_on_the_same_estimates(
    pages: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    ours, theirs = pages
    fitted = ours["purchases"].params
    np.testing.assert_allclose(
        [fitted.r, fitted.alpha, fitted.a, fitted.b],
        theirs["bgf_params"][["r", "alpha", "a", "b"]].to_numpy(),
        rtol=1e-3,  # two optimisers, each to its own tolerance, on the same likelihood
    )


def test_at_lifetimes_parameters_the_predictions_are_lifetimes(
    pages: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    ours, theirs = pages
    table = ours["table"]
    order = theirs["summary"].index.get_indexer(table.index)
    model, spend = ours["from_lifetimes"], ours["spend_from_lifetimes"]
    pairs = [
        (model.probability_alive(table), np.asarray(theirs["p_alive"])[order]),
        (model.expected_purchases(table, t=365), np.asarray(theirs["next_year"])[order]),
        (spend.expected_spend(table), np.asarray(theirs["expected_spend"])[order]),
        (
            cs.customer_lifetime_value(
                table, purchase_model=model, spend_model=spend, horizon=12, discount_rate=0.01
            ),
            np.asarray(theirs["clv"])[order],
        ),
    ]
    for ours_values, theirs_values in pairs:
        np.testing.assert_allclose(ours_values.to_numpy(), theirs_values, rtol=1e-8)
    assert model.expected_purchases_new_customer(365) == pytest.approx(
        theirs["new_customer"], rel=1e-8
    )


def test_lifetimes_arrays_and_unchecked_predictions(
    pages: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """The page's claims: bare arrays from lifetimes, and no check outside fit."""
    ours, theirs = pages
    assert isinstance(theirs["p_alive"], np.ndarray)
    assert isinstance(ours["p_alive"], pd.Series)
    assert ours["p_alive"].index.equals(ours["table"].index)
    bgf: LifetimesBetaGeo = theirs["bgf"]
    impossible = pd.DataFrame({"frequency": [2.0], "recency": [50.0], "T": [10.0]}, index=[7])
    answer = bgf.conditional_probability_alive(
        impossible["frequency"], impossible["recency"], impossible["T"]
    )
    assert np.isfinite(np.asarray(answer, dtype=float)).all()
    with pytest.raises(InvalidDataError, match="recency"):
        ours["purchases"].probability_alive(impossible)


def test_lifetimes_holdout_split_needs_a_monetary_column_under_pandas_3(
    pages: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """The page's claim: without monetary_value_col, lifetimes 0.11.3 fails on pandas 3."""
    from lifetimes.utils import calibration_and_holdout_data  # noqa: PLC0415

    _, theirs = pages
    if int(pd.__version__.split(".")[0]) < 3:
        pytest.skip("the failure is pandas 3's (the lowest-versions CI stage has pandas 2)")
    with pytest.raises(ValueError, match="No objects to concatenate"):
        calibration_and_holdout_data(
            theirs["transactions"],
            "customer_id",
            "timestamp",
            calibration_period_end="1997-09-30",
            observation_period_end="1998-06-30",
            freq="D",
        )
