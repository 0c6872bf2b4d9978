"""What a user coming from lifetimes is told when a CLV call is shaped the lifetimes way.

lifetimes takes the columns one by one (``BetaGeoFitter().fit(frequency, recency,
T)``, ``GammaGammaFitter().fit(frequency, monetary_value)``); crmscore takes one
table. Each message must say what to pass instead, and a transaction log passed
where the table belongs must point to ``rfm_table``, not to ``*_col`` parameters
that ``fit`` does not have.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import pandas as pd
import pytest

import crmscore as cs
from crmscore.errors import ColumnNotFoundError, InvalidParameterError

FREQUENCY = pd.Series([0.0, 2.0, 5.0, 1.0], name="frequency")
RECENCY = pd.Series([0.0, 30.0, 60.0, 10.0], name="recency")
AGE = pd.Series([70.0, 80.0, 90.0, 40.0], name="T")
SPEND = pd.Series([0.0, 20.0, 35.0, 12.0], name="monetary_value")


def test_lifetimes_positional_fit_of_bgnbd_says_what_to_pass() -> None:
    fitter: Any = cs.BetaGeoFitter()
    with pytest.raises(InvalidParameterError) as raised:
        fitter.fit(FREQUENCY, RECENCY, AGE)
    message = str(raised.value)
    assert "BetaGeoFitter.fit takes one table" in message
    assert "3 positional arguments" in message
    assert "'frequency', 'recency', 'T'" in message
    assert "crmscore.rfm_table(transactions" in message


def test_lifetimes_keyword_fit_names_the_keywords() -> None:
    fitter: Any = cs.BetaGeoFitter()
    with pytest.raises(InvalidParameterError, match=re.escape("['T', 'frequency', 'recency']")):
        fitter.fit(frequency=FREQUENCY, recency=RECENCY, T=AGE)


def test_lifetimes_positional_fit_of_gamma_gamma_says_what_to_pass() -> None:
    fitter: Any = cs.GammaGammaFitter()
    expected = re.escape("GammaGammaFitter.fit takes one table")
    with pytest.raises(InvalidParameterError, match=expected) as e:
        fitter.fit(FREQUENCY, SPEND)
    assert "'frequency', 'monetary_value'" in str(e.value)


def test_the_suggested_frame_fits() -> None:
    """The fix the message gives works: the same fit as from the table itself."""
    table = cs.make_rfm_summary(n_customers=500, seed=7)
    frequency, recency, T = table["frequency"], table["recency"], table["T"]  # noqa: N806
    suggested = pd.DataFrame({"frequency": frequency, "recency": recency, "T": T})
    assert cs.BetaGeoFitter().fit(suggested).params == cs.BetaGeoFitter().fit(table).params


def test_a_series_alone_is_told_to_make_a_table() -> None:
    fitter: Any = cs.BetaGeoFitter()
    with pytest.raises(InvalidParameterError, match="must be a pandas DataFrame") as raised:
        fitter.fit(FREQUENCY)
    assert "pandas.DataFrame({'frequency': frequency" in str(raised.value)


def test_a_transaction_log_points_to_rfm_table_not_to_col_parameters() -> None:
    transactions = pd.DataFrame(
        {"customer_id": [1, 1, 2], "timestamp": ["2024-01-01"] * 3, "amount": [5.0, 6.0, 7.0]}
    )
    for fit in (cs.BetaGeoFitter().fit, cs.GammaGammaFitter().fit):
        with pytest.raises(ColumnNotFoundError) as raised:
            fit(transactions)
        message = str(raised.value)
        assert "crmscore.rfm_table(transactions, as_of=...)" in message
        assert "*_col" not in message


def test_functions_with_col_parameters_keep_their_hint() -> None:
    with pytest.raises(ColumnNotFoundError, match=re.escape("*_col parameters")):
        cs.rfm_table(pd.DataFrame({"customer_id": [1]}), as_of="2024-01-02")


def test_the_signature_is_the_methods_own() -> None:
    """help() and mkdocstrings show the real parameters, not the checking wrapper's."""
    assert list(inspect.signature(cs.BetaGeoFitter.fit).parameters) == [
        "self",
        "table",
        "time_unit",
        "progress",
    ]
    assert list(inspect.signature(cs.GammaGammaFitter.fit).parameters) == [
        "self",
        "table",
        "progress",
    ]
