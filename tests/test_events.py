"""The event-log contract (crmscore._events), shared by churn and rescoring."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from crmscore import EVENT_KINDS, ColumnNotFoundError, InvalidDataError, InvalidParameterError
from crmscore._events import VALUE_REQUIRED_KINDS, validate_events

AS_OF = pd.Timestamp("2024-06-30")


def events(rows: list[tuple[Any, str, str, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": pd.to_datetime([r[1] for r in rows], format="ISO8601"),
            "kind": [r[2] for r in rows],
            "value": [np.nan if r[3] is None else r[3] for r in rows],
        }
    )


BASIC = [
    ("b", "2024-06-01", "purchase", 10.0),
    ("a", "2024-06-02 08:00", "interaction", None),
    ("a", "2024-06-03", "review", 4.0),
]


def validate(frame: pd.DataFrame, **kwargs: Any) -> Any:
    return validate_events(frame, as_of=kwargs.pop("as_of", AS_OF), owner="test", **kwargs)


def test_arrays_of_a_valid_log() -> None:
    result = validate(events(BASIC))
    assert list(result.customers) == ["a", "b"]
    assert result.customers.name == "customer_id"
    assert result.codes.tolist() == [1, 0, 0]
    assert [result.kind_names[k] for k in result.kinds] == ["purchase", "interaction", "review"]
    np.testing.assert_array_equal(result.values, [10.0, np.nan, 4.0])
    assert result.as_of_day - result.days.tolist()[0] == 29
    assert result.kind_names == EVENT_KINDS
    assert set(VALUE_REQUIRED_KINDS) == {"purchase", "review"}


def test_categorical_kinds_give_the_same_arrays() -> None:
    frame = events(BASIC)
    as_category = frame.assign(kind=frame["kind"].astype("category"))
    left, right = validate(frame), validate(as_category)
    np.testing.assert_array_equal(left.kinds, right.kinds)


@pytest.mark.parametrize(
    "dtype", ["str", "string[pyarrow]", "large_string[pyarrow]", "string[python]"]
)
def test_string_kinds_of_every_storage_give_the_same_codes_and_errors(dtype: str) -> None:
    pytest.importorskip("pyarrow")
    target: Any = dtype  # (pandas-stubs list no string spelling of these dtypes)
    rows = [*BASIC, ("c", "2024-06-04", "strategic_signing", None)]
    frame = events(rows)
    typed = frame.assign(kind=frame["kind"].astype(object).astype(target))
    np.testing.assert_array_equal(
        validate(typed).kinds, validate(frame.astype({"kind": object})).kinds
    )
    assert validate(typed).kinds.tolist() == [EVENT_KINDS.index(r[2]) for r in rows]
    extra = validate(
        typed.assign(kind=typed["kind"].replace("review", "login")), extra_kinds=["login"]
    )
    assert extra.kinds.tolist()[2] == len(EVENT_KINDS)
    unknown = events([*rows, ("d", "2024-06-05", "zap", None)])
    with pytest.raises(InvalidDataError, match=r"unknown kinds \['zap'\].*first \['d'\]"):
        validate(unknown.assign(kind=unknown["kind"].astype(object).astype(target)))
    null = typed.assign(kind=pd.Series(["purchase", None, "review", "default"], dtype=target))
    with pytest.raises(InvalidDataError, match="null kinds"):
        validate(null)


def test_missing_columns_are_listed_sorted() -> None:
    with pytest.raises(ColumnNotFoundError, match=r"\['kind', 'timestamp'\]"):
        validate(events(BASIC).drop(columns=["kind", "timestamp"]))


def test_unknown_kinds_are_rejected_unless_registered() -> None:
    frame = events([*BASIC, ("c", "2024-06-04", "login", None), ("d", "2024-06-04", "zap", None)])
    with pytest.raises(
        InvalidDataError, match=r"unknown kinds \['login', 'zap'\].*first \['c', 'd'\]"
    ) as info:
        validate(frame)
    assert info.value.column == "kind"
    result = validate(frame, extra_kinds=("login", "zap"))
    assert result.kind_names[-2:] == ("login", "zap")
    assert result.n_customers == 4


@pytest.mark.parametrize("extra", [("purchase",), ("",), ("x", "x")])
def test_bad_extra_kinds(extra: tuple[str, ...]) -> None:
    with pytest.raises(InvalidParameterError, match="'extra_kinds'"):
        validate(events(BASIC), extra_kinds=extra)


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("customer_id", None, "null customer id"),
        ("timestamp", pd.NaT, r"null timestamps .* first \['a'\]"),
        ("kind", None, r"null kinds .* first \['a'\]"),
    ],
)
def test_nulls_name_the_column(column: str, value: object, match: str) -> None:
    frame = events(BASIC)
    frame[column] = frame[column].astype(object)
    frame.loc[1, column] = value  # type: ignore[call-overload]
    if column == "timestamp":
        frame[column] = pd.to_datetime(frame[column])
    with pytest.raises(InvalidDataError, match=match) as info:
        validate(frame)
    assert info.value.column == column


@pytest.mark.parametrize(
    ("row", "match"),
    [
        (("c", "2024-06-05", "purchase", None), r"NaN values where the kind needs one .*\['c'\]"),
        (("c", "2024-06-05", "review", None), r"NaN values where the kind needs one .*\['c'\]"),
        (("c", "2024-06-05", "purchase", -5.0), r"negative purchase amounts .*\['c'\]"),
        (("c", "2024-06-05", "interaction", np.inf), r"infinite values .*\['c'\]"),
        (("c", "2024-06-05", "review", 0.0), r"review ratings outside 1-5 .*\['c'\]"),
        (("c", "2024-06-05", "review", -7.0), r"review ratings outside 1-5 .*\['c'\]"),
        (("c", "2024-06-05", "review", 99.0), r"review ratings outside 1-5 .*\['c'\]"),
        (("c", "2024-06-05", "review", 5.5), r"review ratings outside 1-5 .*\['c'\]"),
    ],
)
def test_bad_values(row: tuple[Any, str, str, float | None], match: str) -> None:
    with pytest.raises(InvalidDataError, match=match) as info:
        validate(events([*BASIC, row]))
    assert info.value.column == "value"


def test_review_ratings_at_the_ends_of_the_scale_are_accepted() -> None:
    rows = [
        ("r1", "2024-06-05", "review", 1.0),
        ("r5", "2024-06-05", "review", 5.0),
        ("r45", "2024-06-05", "review", 4.5),
        ("x", "2024-06-05", "interaction", 99.0),  # not a rating: kept as given
    ]
    validated = validate(events([*BASIC, *rows]))
    assert list(validated.values[-4:]) == [1.0, 5.0, 4.5, 99.0]  # noqa: PD011 (a numpy field)


def test_bad_review_ratings_name_the_first_customers() -> None:
    rows = [(c, "2024-06-05", "review", r) for c, r in (("p", 0.0), ("q", 3.0), ("s", 7.0))]
    with pytest.raises(InvalidDataError, match=r"'value' .*outside 1-5.* \['p', 's'\]"):
        validate(events([*BASIC, *rows]))


def test_value_may_be_missing_where_not_required() -> None:
    only_contacts = events([("a", "2024-06-01", "interaction", None)]).drop(columns="value")
    assert np.isnan(validate(only_contacts).values).all()
    with pytest.raises(InvalidDataError, match=r"'value' is missing.*first \['b', 'a'\]"):
        validate(events(BASIC).drop(columns="value"))


def test_non_numeric_values_are_rejected() -> None:
    frame = events(BASIC).assign(value=["10", "", "4"])
    with pytest.raises(InvalidDataError, match="must be numeric"):
        validate(frame)


def test_string_timestamps_are_rejected() -> None:
    frame = events(BASIC)
    frame["timestamp"] = frame["timestamp"].astype(str)
    with pytest.raises(InvalidDataError, match="datetime64"):
        validate(frame)


def test_future_events_are_dropped_or_rejected() -> None:
    frame = events(
        [*BASIC, ("a", "2024-06-30 23:59", "complaint", None), ("c", "2024-07-01", "purchase", 1.0)]
    )
    kept = validate(frame)
    assert kept.n_customers == 2  # 'c' has only a future event
    assert kept.codes.size == 4  # the complaint late on the as_of day counts
    with pytest.raises(InvalidDataError, match=r"events after as_of \(2024-06-30\).*\['c'\]"):
        validate(frame, future="error")
    with pytest.raises(InvalidParameterError, match="'future'"):
        validate(frame, future="ignore")


def test_no_event_before_as_of_is_an_error() -> None:
    with pytest.raises(InvalidDataError, match="no event on or before as_of"):
        validate(events(BASIC), as_of="2024-05-01")


def test_repeated_deliveries_are_dropped_and_conflicts_rejected() -> None:
    frame = events([*BASIC, BASIC[0]]).assign(event_id=[1, 2, 3, 1])
    result = validate(frame)
    assert result.codes.size == 3
    conflicting = frame.assign(value=[10.0, np.nan, 4.0, 11.0])
    with pytest.raises(InvalidDataError, match=r"repeats ids .* 1 event id\(s\), first \[1\]"):
        validate(conflicting)
    no_ids = frame.assign(
        event_id=pd.array([None, None, 3, None], dtype="Int64")
    )  # null ids are never de-duplicated
    assert validate(no_ids).codes.size == 4


def test_time_zone_aware_timestamps_use_local_days() -> None:
    frame = events([("a", "2024-06-30 23:30", "interaction", None)])
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("Asia/Shanghai")
    result = validate(frame)
    assert result.as_of_day == result.days[0]


def test_input_is_not_modified() -> None:
    frame = events([*BASIC, ("c", "2024-07-01", "purchase", 1.0)])
    before = frame.copy(deep=True)
    validate(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_days_of_nanosecond_stamps_are_numpys_calendar_days() -> None:
    """The integer floor division of ns stamps agrees with numpy's cast, NaT kept."""
    from crmscore._periods import to_periods  # noqa: PLC0415 (the helper under test)

    rng = np.random.default_rng(7)
    ns = rng.integers(-(2**62), 2**62, 2_000)
    stamps = np.r_[ns, [-1, 0, 1, -86_400 * 10**9]].view("datetime64[ns]")
    stamps = np.r_[stamps, np.datetime64("NaT", "ns")]
    expected = stamps.astype("datetime64[D]").view(np.int64)
    np.testing.assert_array_equal(to_periods(stamps, "D"), expected)
    np.testing.assert_array_equal(to_periods(stamps.astype("datetime64[us]"), "D"), expected)
