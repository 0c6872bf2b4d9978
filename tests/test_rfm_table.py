"""rfm_table: oracles (lifetimes, hand-computed), refunds, bad input, properties."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lifetimes.utils import summary_data_from_transaction_data

from crmscore import (
    ColumnNotFoundError,
    InvalidDataError,
    InvalidParameterError,
    ValidationError,
    make_transactions,
    rfm_table,
)
from tests.strategies import as_of_within, transaction_logs, transaction_logs_with_refunds

if TYPE_CHECKING:
    from crmscore.rfm import TimeUnit


BGNBD = ["frequency", "recency", "T"]


def tx(rows: list[tuple[Any, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": pd.to_datetime([r[1] for r in rows], format="ISO8601"),
            "amount": [r[2] for r in rows],
        }
    )


def lifetimes_summary(log: pd.DataFrame, as_of: Any, freq: str) -> pd.DataFrame:
    summary: pd.DataFrame = summary_data_from_transaction_data(
        log,
        "customer_id",
        "timestamp",
        monetary_value_col="amount",
        observation_period_end=as_of,
        freq=freq,
    )
    return summary


def assert_matches_lifetimes(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert ours.index.equals(ref.index)
    for column in BGNBD:
        np.testing.assert_array_equal(ours[column].to_numpy(np.float64), ref[column].to_numpy())
    np.testing.assert_allclose(
        ours["monetary_value"].to_numpy(), ref["monetary_value"].to_numpy(), rtol=1e-9, atol=0
    )


# --- the table: oracles ---------------------------------------------------------------


@pytest.mark.parametrize("freq", ["D", "W"])
@pytest.mark.parametrize("as_of", ["1997-04-02", "1997-09-30", "1998-06-30"])
def test_cdnow_matches_lifetimes(
    cdnow_transactions: pd.DataFrame, freq: TimeUnit, as_of: str
) -> None:
    ours = rfm_table(cdnow_transactions, as_of=as_of, time_unit=freq)
    assert_matches_lifetimes(ours, lifetimes_summary(cdnow_transactions, as_of, freq))
    assert ours.attrs == {"as_of": pd.Timestamp(as_of), "time_unit": freq}


@given(data=st.data(), freq=st.sampled_from(["D", "W"]))
def test_generated_logs_match_lifetimes(data: st.DataObject, freq: TimeUnit) -> None:
    log = data.draw(transaction_logs())
    as_of = data.draw(as_of_within(log))
    ours = rfm_table(log, as_of=as_of, time_unit=freq)
    assert_matches_lifetimes(ours, lifetimes_summary(log, as_of, freq))


def test_hand_computed_daily_table() -> None:
    log = tx(
        [
            ("a", "2024-01-01 09:00", 10.0),
            ("a", "2024-01-01 18:00", 5.0),  # same day: one period, amounts summed
            ("a", "2024-01-11", 30.0),
            ("a", "2024-01-21", 50.0),
            ("b", "2024-01-05", 8.0),
            ("c", "2024-02-03", 99.0),  # after as_of: left out entirely
        ]
    )
    table = rfm_table(log, as_of="2024-01-31")
    assert list(table.index) == ["a", "b"]
    assert table.index.name == "customer_id"
    a, b = table.loc["a"], table.loc["b"]
    assert (a["frequency"], a["recency"], a["T"]) == (2, 20.0, 30.0)
    assert a["monetary_value"] == 40.0  # (30 + 50) / 2 repeat periods
    assert (a["time_since_last"], a["n_purchases"], a["total_spend"]) == (10.0, 4, 95.0)
    assert a["average_spend"] == 95.0 / 4
    assert a["first_purchase"] == pd.Timestamp("2024-01-01 09:00")
    assert a["last_purchase"] == pd.Timestamp("2024-01-21")
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0.0, 26.0, 0.0)


def test_weeks_run_monday_to_sunday() -> None:
    # 2024-01-07 is a Sunday, 2024-01-08 a Monday.
    log = tx([("a", "2024-01-01", 1.0), ("a", "2024-01-07", 2.0), ("a", "2024-01-08", 4.0)])
    table = rfm_table(log, as_of="2024-01-14", time_unit="W")
    assert (table.loc["a", "frequency"], table.loc["a", "recency"], table.loc["a", "T"]) == (
        1,
        1.0,
        1.0,
    )
    assert table.loc["a", "monetary_value"] == 4.0


def test_as_of_period_includes_the_whole_period() -> None:
    # lifetimes' convention: transactions in the period containing as_of count.
    log = tx([("a", "2024-01-01", 1.0), ("a", "2024-01-10 23:59", 2.0)])
    daily = rfm_table(log, as_of="2024-01-10")
    assert daily.loc["a", "frequency"] == 1
    weekly = rfm_table(log, as_of="2024-01-08", time_unit="W")  # Monday of that week
    assert weekly.loc["a", "frequency"] == 1
    assert weekly.loc["a", "T"] == 1.0


def test_calendar_months() -> None:
    log = tx([("a", "2024-01-31", 1.0), ("a", "2024-02-01", 2.0), ("a", "2024-04-15", 3.0)])
    table = rfm_table(log, as_of="2024-06-30", time_unit="M")
    assert (table.loc["a", "frequency"], table.loc["a", "recency"], table.loc["a", "T"]) == (
        2,
        3.0,
        5.0,
    )
    assert table.loc["a", "monetary_value"] == 2.5


def test_time_zone_aware_timestamps_use_local_days() -> None:
    log = tx([("a", "2024-01-01 23:30", 1.0), ("a", "2024-01-02 00:30", 2.0)])
    log["timestamp"] = log["timestamp"].dt.tz_localize("Asia/Shanghai")
    table = rfm_table(log, as_of="2024-01-05")
    assert (table.loc["a", "frequency"], table.loc["a", "recency"], table.loc["a", "T"]) == (
        1,
        1.0,
        4.0,
    )
    aware = rfm_table(log, as_of=pd.Timestamp("2024-01-04 17:00", tz="UTC"))  # 01:00 on the 5th
    assert aware.loc["a", "T"] == 4.0


def test_naive_column_with_aware_as_of_is_rejected() -> None:
    log = tx([("a", "2024-01-01", 1.0)])
    with pytest.raises(InvalidParameterError, match="time-zone aware"):
        rfm_table(log, as_of=pd.Timestamp("2024-01-05", tz="UTC"))


def test_custom_column_names_and_id_dtype_kept() -> None:
    log = tx([(7, "2024-01-01", 1.0), (3, "2024-01-02", 2.0)]).rename(
        columns={"customer_id": "cid", "timestamp": "at", "amount": "value"}
    )
    log["cid"] = log["cid"].astype("int32")
    table = rfm_table(
        log, as_of="2024-01-03", customer_col="cid", timestamp_col="at", amount_col="value"
    )
    assert table.index.name == "cid"
    assert table.index.dtype == np.dtype("int32")
    assert list(table.index) == [3, 7]


def test_sparse_integer_ids_take_the_hashing_path() -> None:
    log = tx([(10**15, "2024-01-01", 1.0), (1, "2024-01-02", 2.0), (10**15, "2024-01-03", 4.0)])
    table = rfm_table(log, as_of="2024-01-03")
    assert list(table.index) == [1, 10**15]
    assert table.loc[10**15, "frequency"] == 1


# --- refunds --------------------------------------------------------------------------


def test_negative_amounts_are_an_error_by_default() -> None:
    log = tx([("a", "2024-01-01", 10.0), ("b", "2024-01-02", -3.0), ("b", "2024-01-01", 5.0)])
    with pytest.raises(InvalidDataError, match=r"negative amounts .* first \['b'\]") as info:
        rfm_table(log, as_of="2024-01-05")
    assert info.value.column == "amount"
    assert info.value.ids == ("b",)


def test_refunds_are_netted_into_the_latest_purchase_period() -> None:
    log = tx(
        [
            ("a", "2024-01-01", 100.0),
            ("a", "2024-01-03", -20.0),  # no purchase that day: nets into Jan 1
            ("a", "2024-01-05", 50.0),
            ("a", "2024-01-05", -10.0),  # same day as a purchase
            ("a", "2024-01-08", -5.0),  # nets into Jan 5
        ]
    )
    table = rfm_table(log, as_of="2024-01-10", negative_amounts="net")
    row = table.loc["a"]
    assert (row["frequency"], row["recency"], row["T"]) == (
        1,
        4.0,
        9.0,
    )  # refund days add no period
    assert row["monetary_value"] == 35.0  # 50 - 10 - 5
    assert row["total_spend"] == 115.0
    assert row["n_purchases"] == 2


def test_refund_before_first_purchase_is_an_error() -> None:
    log = tx([("a", "2024-01-01", 10.0), ("b", "2024-01-02", -3.0), ("b", "2024-01-04", 5.0)])
    with pytest.raises(InvalidDataError, match=r"refunds before .* first \['b'\]"):
        rfm_table(log, as_of="2024-01-05", negative_amounts="net")
    only_refund = tx([("a", "2024-01-01", 10.0), ("z", "2024-01-02", -3.0)])
    with pytest.raises(InvalidDataError, match=r"first \['z'\]"):
        rfm_table(only_refund, as_of="2024-01-05", negative_amounts="net")


def test_refunds_that_net_a_period_below_zero_are_an_error() -> None:
    # 10 and 20 then a refund of 50: netting would give monetary_value -30, total -20.
    log = tx(
        [
            ("a", "2024-01-01", 10.0),
            ("a", "2024-01-03", 20.0),
            ("a", "2024-01-04", -50.0),
            ("b", "2024-01-01", 5.0),
            ("c", "2024-01-02", 8.0),
            ("c", "2024-01-02", -9.0),  # same day, more than bought
            ("d", "2024-01-02", 8.0),
            ("d", "2024-01-05", -8.0),  # exactly in full: fine
        ]
    )
    with pytest.raises(
        InvalidDataError,
        match=r"refunds larger than the purchases .* for 2 customer\(s\), first \['a', 'c'\]"
        r".*latest purchase period at or before it",
    ) as info:
        rfm_table(log, as_of="2024-01-10", negative_amounts="net")
    assert (info.value.column, info.value.ids, info.value.n_offending) == ("amount", ("a", "c"), 2)
    ok = rfm_table(
        log[~log["customer_id"].isin(["a", "c"])], as_of="2024-01-10", negative_amounts="net"
    )
    assert ok.loc["d", "total_spend"] == 0.0
    assert ok.loc["b", "total_spend"] == 5.0


def test_refund_in_a_later_period_is_checked_against_that_period_alone() -> None:
    # Net spend overall is positive (100 + 5 - 20), but the refund nets into the
    # Jan 5 period of 5: that period would be -15.
    log = tx([("a", "2024-01-01", 100.0), ("a", "2024-01-05", 5.0), ("a", "2024-01-06", -20.0)])
    with pytest.raises(InvalidDataError, match=r"first \['a'\]"):
        rfm_table(log, as_of="2024-01-10", negative_amounts="net")
    weekly = rfm_table(log, as_of="2024-01-10", negative_amounts="net", time_unit="W")
    assert weekly.loc["a", "total_spend"] == 85.0  # one week: 105 - 20


def test_fully_refunded_period_nets_to_zero_not_below() -> None:
    log = tx([("a", "2024-01-01", 0.3), ("a", "2024-01-02", -0.1), ("a", "2024-01-02", -0.2)])
    table = rfm_table(log, as_of="2024-01-10", negative_amounts="net")
    assert table.loc["a", "total_spend"] == 0.0  # 0.3 - 0.1 - 0.2 is -2.8e-17 in floats
    assert table.loc["a", "n_purchases"] == 1


def test_only_refunds_at_or_before_as_of_name_the_customers() -> None:
    log = tx([("a", "2024-01-20", 10.0), ("z", "2024-01-02", -3.0)])
    with pytest.raises(InvalidDataError, match=r"refunds before .* first \['z'\]"):
        rfm_table(log, as_of="2024-01-05", negative_amounts="net")


# --- bad input ------------------------------------------------------------------------


def test_missing_columns_are_listed_sorted() -> None:
    log = tx([("a", "2024-01-01", 1.0)]).drop(columns=["timestamp", "amount"])
    with pytest.raises(ColumnNotFoundError, match=r"\['amount', 'timestamp'\]"):
        rfm_table(log, as_of="2024-01-05")


@pytest.mark.parametrize(
    ("column", "value", "error", "match"),
    [
        ("customer_id", None, InvalidDataError, "null customer id"),
        ("timestamp", pd.NaT, InvalidDataError, r"null timestamps .* first \['b'\]"),
        ("amount", np.nan, InvalidDataError, r"NaN or infinite .* first \['b'\]"),
        ("amount", np.inf, InvalidDataError, r"NaN or infinite .* first \['b'\]"),
    ],
)
def test_null_and_non_finite_values_name_the_column_and_ids(
    column: str, value: object, error: type[Exception], match: str
) -> None:
    log = tx([("a", "2024-01-01", 1.0), ("b", "2024-01-02", 2.0)])
    log[column] = log[column].astype(object if column == "customer_id" else log[column].dtype)
    log.loc[1, column] = value  # type: ignore[call-overload]  # a null of any kind
    with pytest.raises(error, match=match) as info:
        rfm_table(log, as_of="2024-01-05")
    assert getattr(info.value, "column", None) == column


def test_string_timestamps_are_rejected_with_a_fix() -> None:
    log = tx([("a", "2024-01-01", 1.0)])
    log["timestamp"] = log["timestamp"].astype(str)
    with pytest.raises(InvalidDataError, match=r"datetime64 dtype.*pd.to_datetime"):
        rfm_table(log, as_of="2024-01-05")


def test_non_numeric_amounts_are_rejected() -> None:
    log = tx([("a", "2024-01-01", 1.0)])
    log["amount"] = ["12.5"]
    with pytest.raises(InvalidDataError, match="must be numeric"):
        rfm_table(log, as_of="2024-01-05")


def test_object_amounts_name_the_customers_with_non_numbers() -> None:
    log = tx([("a", "2024-01-01", 1.0), ("b", "2024-01-02", 2.0), ("c", "2024-01-02", 3.0)])
    log["amount"] = pd.Series([1.0, "n/a", True], dtype=object)
    with pytest.raises(
        InvalidDataError,
        match=r"'amount' must be numeric \(got dtype object\) and has values that are not "
        r"numbers for 2 customer\(s\), first \['b', 'c'\].*pd.to_numeric",
    ) as info:
        rfm_table(log, as_of="2024-01-05")
    assert (info.value.column, info.value.ids, info.value.n_offending) == ("amount", ("b", "c"), 2)


def test_object_amounts_that_would_convert_are_still_rejected_not_coerced() -> None:
    log = tx([("a", "2024-01-01", 1.0), ("b", "2024-01-02", 2.0)])
    log["amount"] = pd.Series([1.0, 2], dtype=object)
    with pytest.raises(
        InvalidDataError, match=r"must be numeric; got dtype object. .*pd.to_numeric"
    ) as info:
        rfm_table(log, as_of="2024-01-05")
    assert (info.value.ids, info.value.n_offending) == ((), 0)


def test_object_timestamps_name_the_customers_with_non_dates() -> None:
    log = tx([("a", "2024-01-01", 1.0), ("b", "2024-01-02", 2.0), ("c", "2024-01-03", 3.0)])
    log["timestamp"] = pd.Series([pd.Timestamp("2024-01-01"), "not a date", 20240103], dtype=object)
    with pytest.raises(
        InvalidDataError,
        match=r"'timestamp' must have a datetime64 dtype \(got dtype object\) and has values "
        r"that are not dates for 2 customer\(s\), first \['b', 'c'\].*pd.to_datetime",
    ) as info:
        rfm_table(log, as_of="2024-01-05")
    assert (info.value.column, info.value.ids, info.value.n_offending) == (
        "timestamp",
        ("b", "c"),
        2,
    )
    clean = log.assign(
        timestamp=pd.Series(["2024-01-01", "2024-01-02", "2024-01-03"], dtype=object)
    )
    with pytest.raises(InvalidDataError, match=r"datetime64 dtype; got object") as info:
        rfm_table(clean, as_of="2024-01-05")
    assert info.value.ids == ()


def test_null_customer_ids_carry_their_row_positions_and_count() -> None:
    log = tx([("a", "2024-01-01", 1.0), ("b", "2024-01-02", 2.0), ("c", "2024-01-02", 2.0)])
    log["customer_id"] = pd.Series([None, "b", None], dtype=object)
    with pytest.raises(
        InvalidDataError, match=r"2 null customer id\(s\), first at row positions \[0, 2\]"
    ) as info:
        rfm_table(log, as_of="2024-01-05")
    assert (info.value.column, info.value.ids, info.value.n_offending) == (
        "customer_id",
        (0, 2),
        2,
    )


def test_empty_log_has_its_own_message() -> None:
    empty = tx([("a", "2024-01-01", 1.0)]).iloc[:0]
    with pytest.raises(InvalidDataError, match="transactions has no rows") as info:
        rfm_table(empty, as_of="2024-01-05")
    assert "as_of" not in str(info.value)
    untyped = pd.DataFrame(columns=["customer_id", "timestamp", "amount"])
    with pytest.raises(InvalidDataError, match="transactions has no rows"):
        rfm_table(untyped, as_of="2024-01-05")


def test_as_of_before_everyone_is_an_error() -> None:
    log = tx([("a", "2024-01-10", 1.0)])
    with pytest.raises(InvalidDataError, match="before the first purchase of every customer"):
        rfm_table(log, as_of="2024-01-09")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"time_unit": "days"},
            r"'time_unit' parameter of rfm_table must be one of \{'D', 'W', 'M'\}. Got 'days'",
        ),
        ({"negative_amounts": "drop"}, "'negative_amounts' parameter"),
        ({"as_of": "not a date"}, "'as_of' parameter"),
        ({"as_of": None}, "'as_of' parameter"),
    ],
)
def test_bad_parameters(kwargs: dict[str, Any], match: str) -> None:
    log = tx([("a", "2024-01-01", 1.0)])
    arguments: dict[str, Any] = {"as_of": "2024-01-05", **kwargs}
    with pytest.raises(InvalidParameterError, match=match):
        rfm_table(log, **arguments)


def test_not_a_frame() -> None:
    with pytest.raises(InvalidParameterError, match="must be a pandas DataFrame"):
        rfm_table([1, 2, 3], as_of="2024-01-01")  # type: ignore[arg-type]


def test_a_dask_frame_is_sent_to_rfm_table_dask() -> None:
    # rfm_table is the pandas entry point; the Dask one lives a layer above (scaleout).
    import dask.dataframe as dd  # noqa: PLC0415  (optional extra, imported only here)

    log: Any = dd.from_pandas(tx([("a", "2024-01-01", 1.0)]), npartitions=1)  # type: ignore[no-untyped-call]
    with pytest.raises(InvalidParameterError, match=r"Got a Dask DataFrame.*rfm_table_dask"):
        rfm_table(log, as_of="2024-01-05")


def test_errors_are_value_errors() -> None:
    assert issubclass(InvalidDataError, ValueError)
    assert issubclass(ColumnNotFoundError, ValidationError)


# --- table properties -----------------------------------------------------------------


@given(data=st.data(), freq=st.sampled_from(["D", "W", "M"]))
def test_row_order_does_not_matter_and_input_is_untouched(
    data: st.DataObject, freq: TimeUnit
) -> None:
    log = data.draw(transaction_logs())
    as_of = data.draw(as_of_within(log))
    before = log.copy(deep=True)
    table = rfm_table(log, as_of=as_of, time_unit=freq)
    pd.testing.assert_frame_equal(log, before)
    permutation = data.draw(st.permutations(range(len(log))))
    shuffled = log.iloc[list(permutation)].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        rfm_table(shuffled, as_of=as_of, time_unit=freq), table, check_exact=False, rtol=1e-12
    )


@given(data=st.data(), freq=st.sampled_from(["D", "W", "M"]))
def test_table_invariants(data: st.DataObject, freq: TimeUnit) -> None:
    log = data.draw(transaction_logs())
    as_of = data.draw(as_of_within(log))
    table = rfm_table(log, as_of=as_of, time_unit=freq)
    assert table.index.is_unique
    assert table.index.is_monotonic_increasing
    assert (table["recency"] <= table["T"]).all()
    assert (table["recency"][table["frequency"] == 0] == 0).all()
    assert (table["frequency"] >= 0).all()
    assert (table["frequency"] < table["n_purchases"] + 1).all()
    assert (table["frequency"] <= table["recency"]).all()
    assert (table["time_since_last"] >= 0).all()
    assert (table["first_purchase"] <= table["last_purchase"]).all()
    np.testing.assert_allclose(
        table["monetary_value"] * table["frequency"] <= table["total_spend"] + 1e-9, True
    )
    kept = log[log["customer_id"].isin(table.index)]
    assert table["n_purchases"].sum() <= len(kept)
    assert not table.isna().any().any()


@given(data=st.data(), freq=st.sampled_from(["D", "W", "M"]))
def test_net_refunds_row_order_does_not_matter_and_input_is_untouched(
    data: st.DataObject, freq: TimeUnit
) -> None:
    log = data.draw(transaction_logs_with_refunds())
    as_of = data.draw(as_of_within(log))
    before = log.copy(deep=True)
    table = rfm_table(log, as_of=as_of, time_unit=freq, negative_amounts="net")
    pd.testing.assert_frame_equal(log, before)
    permutation = data.draw(st.permutations(range(len(log))))
    shuffled = log.iloc[list(permutation)].reset_index(drop=True)
    again = rfm_table(shuffled, as_of=as_of, time_unit=freq, negative_amounts="net")
    pd.testing.assert_frame_equal(again, table, check_exact=False, rtol=1e-12, atol=1e-9)


@given(data=st.data(), freq=st.sampled_from(["D", "W"]))
def test_net_refunds_match_lifetimes_on_the_netted_log(data: st.DataObject, freq: TimeUnit) -> None:
    # Same-day refunds create no period of their own, so lifetimes' per-period sums
    # of the raw log are exactly the netted periods.
    log = data.draw(transaction_logs_with_refunds())
    as_of = data.draw(as_of_within(log))
    ours = rfm_table(log, as_of=as_of, time_unit=freq, negative_amounts="net")
    ref = lifetimes_summary(log, as_of, freq)
    assert ours.index.equals(ref.index)
    for column in BGNBD:
        np.testing.assert_array_equal(ours[column].to_numpy(np.float64), ref[column].to_numpy())
    # Cents data: netted sums agree to far below a cent (a full refund is 0 vs +-1e-17).
    np.testing.assert_allclose(
        ours["monetary_value"].to_numpy(), ref["monetary_value"].to_numpy(), rtol=1e-9, atol=1e-9
    )


@given(data=st.data(), freq=st.sampled_from(["D", "W", "M"]))
def test_net_refunds_change_spend_never_periods(data: st.DataObject, freq: TimeUnit) -> None:
    log = data.draw(transaction_logs_with_refunds())
    as_of = data.draw(as_of_within(log))
    table = rfm_table(log, as_of=as_of, time_unit=freq, negative_amounts="net")
    purchases = log[log["amount"] >= 0]
    gross = rfm_table(purchases, as_of=as_of, time_unit=freq)
    assert table.index.equals(gross.index)
    for column in ("frequency", "recency", "T", "time_since_last", "n_purchases"):
        pd.testing.assert_series_equal(table[column], gross[column])
    pd.testing.assert_series_equal(table["first_purchase"], gross["first_purchase"])
    pd.testing.assert_series_equal(table["last_purchase"], gross["last_purchase"])
    assert (table["monetary_value"] >= 0).all()
    assert (table["total_spend"] >= 0).all()
    assert (table["total_spend"] <= gross["total_spend"] + 1e-9).all()
    assert (table["monetary_value"] <= gross["monetary_value"] + 1e-9).all()
    # total_spend is the customer's net of every kept row.
    period = log["timestamp"].dt.to_period(freq).dt.start_time
    kept = log[period <= pd.Timestamp(as_of).to_period(freq).start_time]
    net = kept.groupby("customer_id")["amount"].sum().loc[table.index]
    np.testing.assert_allclose(table["total_spend"].to_numpy(), net.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(
        table["average_spend"].to_numpy(),
        (table["total_spend"] / table["n_purchases"]).to_numpy(),
        rtol=1e-12,
    )


def test_synthetic_book_matches_lifetimes() -> None:
    book = make_transactions(3_000, seed=11)
    as_of = book.as_of - pd.Timedelta(days=90)
    units: tuple[TimeUnit, ...] = ("D", "W")
    for freq in units:
        ours = rfm_table(book.transactions, as_of=as_of, time_unit=freq)
        assert_matches_lifetimes(ours, lifetimes_summary(book.transactions, as_of, freq))
