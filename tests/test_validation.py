"""Declared constraints (crmscore._validation): one declaration, one check, one message."""

from __future__ import annotations

import math
from numbers import Integral, Real

import attrs
import numpy as np
import pytest

from crmscore._validation import (
    NON_NEGATIVE,
    TIME_UNIT,
    InstanceOf,
    Interval,
    OneOf,
    Optional,
    check_param,
    validator,
)
from crmscore.errors import InvalidParameterError


@pytest.mark.parametrize(
    ("closed", "inside"),
    [
        ("both", [0.0, 0.5, 1.0]),
        ("left", [0.0, 0.5]),
        ("right", [0.5, 1.0]),
        ("neither", [0.5]),
    ],
)
def test_interval_bounds_follow_closed(closed: str, inside: list[float]) -> None:
    interval = Interval(Real, 0, 1, closed=closed)  # type: ignore[arg-type]
    for value in (0.0, 0.5, 1.0):
        assert interval.is_satisfied_by(value) is (value in inside)
    for outside in (-0.1, 1.1, math.nan, math.inf, True, "0.5", None):
        assert not interval.is_satisfied_by(outside)


def test_integer_kinds() -> None:
    numpy_too = Interval(Integral, 1, None, closed="left")
    python_only = Interval(int, 1, None, closed="left")
    assert numpy_too.is_satisfied_by(np.int64(3))
    assert not python_only.is_satisfied_by(np.int64(3))  # attrs fields stay JSON-safe
    for interval in (numpy_too, python_only):
        assert interval.is_satisfied_by(1)
        assert not interval.is_satisfied_by(0)
        assert not interval.is_satisfied_by(1.0)
        assert not interval.is_satisfied_by(True)


@pytest.mark.parametrize(
    ("constraint", "text"),
    [
        (Interval(Real, 0, 1, closed="left"), "a number in [0, 1)"),
        (Interval(Real, 0, 1, closed="neither"), "a number in (0, 1)"),
        (Interval(Integral, 1, 10, closed="both"), "an integer in [1, 10]"),
        (Interval(Integral, 2, None, closed="left"), "an integer >= 2"),
        (Interval(Real, 0, None, closed="neither"), "a finite number > 0"),
        (Interval(Real, None, 1.5, closed="right"), "a finite number <= 1.5"),
        (Interval(Real, None, None, closed="neither"), "a finite number"),
        (Optional(NON_NEGATIVE), "a finite number >= 0, or None"),
        (TIME_UNIT, "one of {'D', 'W', 'M'}"),
    ],
)
def test_constraints_describe_themselves(constraint: object, text: str) -> None:
    assert str(constraint) == text


def test_one_message_template_for_arguments_and_fields() -> None:
    with pytest.raises(InvalidParameterError) as argument:
        check_param("days", TIME_UNIT, name="time_unit", owner="Example")

    @attrs.frozen(kw_only=True)
    class Example:
        time_unit: str = attrs.field(validator=validator(TIME_UNIT))

    with pytest.raises(InvalidParameterError) as field:
        Example(time_unit="days")
    expected = (
        "The 'time_unit' parameter of Example must be one of {'D', 'W', 'M'}. Got 'days' instead."
    )
    assert str(argument.value) == str(field.value) == expected


def test_one_of_is_exact_and_instance_of_quotes_the_type() -> None:
    assert OneOf((1, 2)).is_satisfied_by(2)
    assert not OneOf((1, 2)).is_satisfied_by(True)  # True == 1, but not one of them
    assert not OneOf(("a",)).is_satisfied_by(np.array(["a", "a"]))
    with pytest.raises(InvalidParameterError, match=r"must be a list\. Got 'tuple' instead"):
        check_param((1,), InstanceOf(list, "a list"), name="x", owner="f")
    assert check_param(None, Optional(TIME_UNIT), name="x", owner="f") is None
