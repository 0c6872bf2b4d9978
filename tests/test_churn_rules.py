"""Churn rules and levels: conditions, rules, their JSON round trips."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmscore import (
    CORROBORATION_RULES,
    DEFAULT_RULES,
    DEFAULT_SIGNALS,
    AllOf,
    AnyOf,
    AtLeast,
    EarlyWarning,
    Fired,
    Group,
    InteractionStop,
    InvalidDataError,
    InvalidParameterError,
    Not,
    PAliveBelow,
    Rule,
    SpendDrop,
)
from crmscore.churn import (
    ChurnSignal,
    Condition,
    condition_from_dict,
    signal_from_dict,
)
from tests.churn_logs import NAMES, PARAMS, ClosedFormBGNBD

# --- rules and levels -----------------------------------------------------------------


def fired_frame(rows: list[list[bool]], names: list[str] = NAMES) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=names, index=pd.Index(range(len(rows)), name="customer_id"))


def test_conditions_evaluate_as_documented() -> None:
    warning = EarlyWarning(
        rules=(
            Rule(
                name="two_behaviour", level="blue", when=AtLeast(n=2, of=(Group(name="behaviour"),))
            ),
            Rule(
                name="value_and_emotion",
                level="yellow",
                when=Group(name="value") & Group(name="emotion"),
            ),
            Rule(
                name="silent_not_shopping",
                level="red",
                when=Fired(name="interaction_stop")
                & ~Fired(name="cart_abandonment")
                & AnyOf(of=(Fired(name="review_drop"), Fired(name="spend_drop"))),
            ),
        )
    )
    on = {name: i for i, name in enumerate(NAMES)}

    def row(*names: str) -> list[bool]:
        flags = [False] * len(NAMES)
        for name in names:
            flags[on[name]] = True
        return flags

    fired = fired_frame(
        [
            row(),
            row("interaction_stop"),
            row("interaction_stop", "account_anomaly"),
            row("spend_drop", "negative_reviews"),
            row("interaction_stop", "review_drop"),
            row("interaction_stop", "review_drop", "cart_abandonment"),
        ]
    )
    levels = warning.assign_levels(fired)
    assert levels["level"].tolist() == ["none", "none", "blue", "yellow", "red", "blue"]
    assert levels["rule"].isna().tolist() == [True, True, False, False, False, False]
    assert levels["rule"].astype(object).tolist()[2:] == [
        "two_behaviour",
        "value_and_emotion",
        "silent_not_shopping",
        "two_behaviour",
    ]
    assert levels["n_signals"].tolist() == [0, 1, 2, 2, 2, 3]
    assert levels["signals"].astype(str).tolist()[2] == "interaction_stop, account_anomaly"


def test_the_first_rule_of_the_highest_level_is_reported() -> None:
    fired = fired_frame([[True] * len(NAMES)])
    warning = EarlyWarning(
        rules=(
            Rule(name="low", level="blue", when=Fired(name="spend_drop")),
            Rule(name="first_red", level="red", when=Fired(name="review_drop")),
            Rule(name="second_red", level="red", when=Fired(name="spend_drop")),
        )
    )
    result = warning.assign_levels(fired)
    assert (result["level"].tolist(), result["rule"].tolist()) == (["red"], ["first_red"])


def test_corroboration_rules_hand_checked() -> None:
    """The rules before the lead-time defaults, kept as a preset with the eight signals."""
    names = [s.name for s in DEFAULT_SIGNALS]

    def row(*fired: str) -> list[bool]:
        return [name in fired for name in names]

    fired = fired_frame(
        [
            row("purchase_frequency_drop"),
            row("purchase_frequency_drop", "spend_drop"),  # one piece of evidence
            row("purchase_frequency_drop", "account_anomaly"),
            row("interaction_stop", "cart_abandonment"),
            row("negative_reviews"),
            row("review_drop", "account_anomaly", "spend_drop"),
            row("complaint_rise", "spend_drop", "account_anomaly"),
        ],
        names,
    )
    warning = EarlyWarning(signals=DEFAULT_SIGNALS, rules=CORROBORATION_RULES)
    result = warning.assign_levels(fired)
    assert result["level"].tolist() == ["none", "none", "blue", "yellow", "yellow", "yellow", "red"]
    assert result["rule"].astype(object).tolist()[2:] == [
        "two_signals",
        "disengaged_and_declining",
        "dissatisfied",
        "three_signals",
        "distress_confirmed",
    ]


def test_default_rules_hand_checked() -> None:
    """Absence-based evidence warns only with a purchase lapse (30 to 60 days)."""

    def row(*names: str) -> list[bool]:
        return [name in names for name in NAMES]

    fired = fired_frame(
        [
            # Two pieces of evidence, no lapse: silent 60+ days (already gone) or buying.
            row("purchase_frequency_drop", "interaction_stop"),
            row("interaction_stop", "cart_abandonment"),
            row("review_drop", "spend_drop", "cart_abandonment"),
            row("purchase_lapse"),
            row("account_anomaly"),
            row("interaction_stop", "cart_abandonment", "purchase_lapse"),
            row("review_drop", "spend_drop", "cart_abandonment", "purchase_lapse"),
            row("spend_drop", "review_drop", "purchase_lapse"),  # two pieces and a lapse
            row("negative_reviews"),
            row("complaint_rise", "spend_drop", "account_anomaly"),
            row("complaint_rise", "purchase_lapse"),
            row("account_anomaly", "cart_abandonment"),
            row("account_anomaly", "spend_drop", "purchase_frequency_drop"),  # one piece
        ]
    )
    result = EarlyWarning().assign_levels(fired)
    assert result["level"].tolist() == [
        "none",
        "none",
        "none",
        "blue",
        "blue",
        "yellow",
        "yellow",
        "blue",
        "yellow",
        "red",
        "yellow",
        "yellow",
        "yellow",
    ]
    assert result["rule"].astype(object).tolist()[3:] == [
        "lapsing",
        "account_anomaly",
        "disengaged_and_declining",
        "three_signals",
        "lapsing",
        "dissatisfied",
        "distress_confirmed",
        "dissatisfied",
        "account_anomaly_corroborated",
        "account_anomaly_corroborated",
    ]


@given(data=st.data())
def test_default_levels_are_monotone_in_the_fired_signals(data: st.DataObject) -> None:
    rows = data.draw(
        st.lists(
            st.lists(st.booleans(), min_size=len(NAMES), max_size=len(NAMES)),
            min_size=1,
            max_size=20,
        )
    )
    fired = fired_frame(rows)
    extra = data.draw(st.lists(st.sampled_from(NAMES), max_size=3))
    more = fired.copy()
    for name in extra:
        more[name] = True
    for warning in (
        EarlyWarning(),
        EarlyWarning(signals=DEFAULT_SIGNALS, rules=CORROBORATION_RULES),
    ):
        assert all(rule.when.is_monotone for rule in warning.rules)
        before = warning.assign_levels(fired)["level"].cat.codes.to_numpy()
        after = warning.assign_levels(more)["level"].cat.codes.to_numpy()
        assert (after >= before).all()


def test_negation_is_reported_as_non_monotone() -> None:
    assert not (Fired(name="a") & ~Fired(name="b")).is_monotone
    assert AtLeast(n=1, of=(Group(name="value"), Fired(name="a"))).is_monotone


def test_conditions_and_rules_round_trip_through_json() -> None:
    condition = AllOf(
        of=(
            AtLeast(n=2, of=(Group(name="behaviour"), Fired(name="spend_drop"))),
            Not(of=AnyOf(of=(Fired(name="a"), Group(name="model")))),
        )
    )
    assert condition_from_dict(json.loads(json.dumps(condition.to_dict()))) == condition
    for rule in (*DEFAULT_RULES, *CORROBORATION_RULES):
        assert Rule.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: EarlyWarning(rules=(Rule(name="r", level="red", when=Fired(name="nope")),)),
            r"refers to signals \['nope'\]",
        ),
        (lambda: EarlyWarning(signals=(InteractionStop(), InteractionStop())), "repeat the names"),
        (lambda: Rule(name="r", level="orange", when=Fired(name="a")), "'level'"),  # type: ignore[arg-type]
        (lambda: Group(name="mood"), "'name' parameter of Group"),
        (lambda: AtLeast(n=0, of=(Fired(name="a"),)), "'n' parameter of AtLeast"),
        (lambda: AllOf(of=()), "'of' parameter of AllOf"),
        (lambda: condition_from_dict({"op": "eval", "code": "1"}), "'op' parameter"),
        (lambda: signal_from_dict({"type": "magic"}), "'type' parameter"),
    ],
)
def test_bad_rules(make: Any, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        make()


def test_assign_levels_needs_boolean_columns() -> None:
    fired = fired_frame([[False] * len(NAMES)]).astype(int)
    with pytest.raises(InvalidDataError, match="must be boolean"):
        EarlyWarning().assign_levels(fired)


def test_signal_and_condition_from_dict_classmethods() -> None:
    for signal in DEFAULT_SIGNALS:
        data = json.loads(json.dumps(signal.to_dict()))
        assert type(signal).from_dict(data) == signal
        assert ChurnSignal.from_dict(data) == signal
    model = ClosedFormBGNBD(**PARAMS)
    p_alive = PAliveBelow(model=model, threshold=0.3)
    assert PAliveBelow.from_dict(p_alive.to_dict(), model=model) == p_alive
    with pytest.raises(InvalidParameterError, match=r"'type' parameter of SpendDrop\.from_dict"):
        SpendDrop.from_dict(InteractionStop().to_dict())
    condition = AtLeast(n=2, of=(Group(name="behaviour"), ~Fired(name="spend_drop")))
    data = json.loads(json.dumps(condition.to_dict()))
    assert AtLeast.from_dict(data) == condition
    assert Condition.from_dict(data) == condition
    assert Not.from_dict({"op": "not", "of": {"op": "group", "name": "value"}}) == ~Group(
        name="value"
    )
    with pytest.raises(InvalidParameterError, match=r"'op' parameter of Fired\.from_dict"):
        Fired.from_dict(data)
